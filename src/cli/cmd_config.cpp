#include <iostream>

#include "context.hpp"
#include "k3s_daas/fs.hpp"

namespace k3s_daas::cli {
namespace {

using json = nlohmann::json;

Result<json> read_document(const std::filesystem::path& path) {
  auto text = fs::read_file(path, 1u << 20);
  if (!text) return make_error(ErrorKind::kConfig, text.error().message);
  try {
    return json::parse(*text);
  } catch (const json::exception& e) {
    return make_error(ErrorKind::kConfig, path.string() + ": not valid JSON: " + e.what());
  }
}

std::string value_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump(2);
}

}  // namespace

void register_config_commands(CLI::App& app, Context& ctx) {
  auto* config = app.add_subcommand("config", "create, inspect and edit the config file");
  config->require_subcommand(1);

  static std::string node_id = "worker-1";
  static bool force = false;
  auto* init = config->add_subcommand("init", "write a valid starting config (refuses to overwrite without --force)");
  init->add_option("--node-id", node_id, "the Kubernetes node name of this worker");
  init->add_flag("--force", force, "replace an existing file (the old one is kept as .bak)");
  init->callback([&ctx] {
    ctx.action = [&ctx] {
      auto path = ctx.config_path();
      auto status = config::write_new_file(path, config::starter_document(node_id), force);
      if (!status) return ctx.fail(status.error());
      ctx.print({{"path", path.string()}, {"node_id", node_id}},
                "wrote " + path.string() + "\nnext: set sui.rpc_urls, sui.package_id, sui.staking_pool_id, master.url and the "
                "attestation PCRs with `k3s-daas config set KEY VALUE`, then `k3s-daas config validate`");
      return 0;
    };
  });

  auto* show = config->add_subcommand("show", "print the effective config (defaults filled in, secrets redacted)");
  show->callback([&ctx] {
    ctx.action = [&ctx] {
      auto loaded = ctx.load_config();
      if (!loaded) return ctx.fail(loaded.error());
      auto doc = config::to_json(*loaded, true);
      std::cout << doc.dump(2) << std::endl;
      return 0;
    };
  });

  static std::string key, value;
  auto* get = config->add_subcommand("get", "print one value by dotted key (e.g. sui.rpc_urls[0])");
  get->add_option("KEY", key, "dotted key")->required();
  get->callback([&ctx] {
    ctx.action = [&ctx] {
      auto doc = read_document(ctx.config_path());
      if (!doc) return ctx.fail(doc.error());
      auto got = config::get_key(*doc, key);
      if (!got) return ctx.fail(got.error());
      ctx.print(*got, value_text(*got));
      return 0;
    };
  });

  auto* set = config->add_subcommand("set", "set one value (validated, atomic, previous file kept as .bak)");
  set->add_option("KEY", key, "dotted key")->required();
  set->add_option("VALUE", value, "JSON when it parses as JSON, else a string")->required();
  set->callback([&ctx] {
    ctx.action = [&ctx] {
      auto parsed = config::parse_cli_value(value);
      auto status = config::edit_file(ctx.config_path(), [&](json doc) { return config::set_key(std::move(doc), key, parsed); });
      if (!status) return ctx.fail(status.error());
      ctx.print({{"key", key}, {"value", parsed}}, key + " = " + parsed.dump());
      return 0;
    };
  });

  auto* unset = config->add_subcommand("unset", "remove one key (validated, atomic, previous file kept as .bak)");
  unset->add_option("KEY", key, "dotted key")->required();
  unset->callback([&ctx] {
    ctx.action = [&ctx] {
      auto status = config::edit_file(ctx.config_path(), [&](json doc) { return config::unset_key(std::move(doc), key); });
      if (!status) return ctx.fail(status.error());
      ctx.print({{"key", key}, {"removed", true}}, "removed " + key);
      return 0;
    };
  });

  auto* validate = config->add_subcommand("validate", "check the config; exit 0, or 78 with every problem listed");
  validate->callback([&ctx] {
    ctx.action = [&ctx] {
      auto path = ctx.config_path();
      auto loaded = config::load(path);
      if (!loaded) {
        if (ctx.global.json) {
          json problems = json::array();
          std::string msg = loaded.error().message;
          size_t start = 0;
          while (start <= msg.size()) {
            size_t nl = msg.find('\n', start);
            problems.push_back(msg.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
            if (nl == std::string::npos) break;
            start = nl + 1;
          }
          std::cout << json{{"valid", false}, {"path", path.string()}, {"problems", problems}}.dump(2) << std::endl;
          return exit_code::kConfig;
        }
        std::cerr << loaded.error().message << std::endl;
        return exit_code::kConfig;
      }
      ctx.print({{"valid", true}, {"path", path.string()}, {"problems", json::array()}}, path.string() + ": valid");
      return 0;
    };
  });
}

}  // namespace k3s_daas::cli
