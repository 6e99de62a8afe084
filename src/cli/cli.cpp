#include "k3s_daas/cli.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "context.hpp"
#include "k3s_daas/log.hpp"

namespace k3s_daas::cli {

std::filesystem::path Context::config_path() const { return config::resolve_path(global.config_path); }

Result<config::Config> Context::load_config() {
  if (config_) return *config_;
  K3S_ASSIGN(config::Config loaded, config::load(config_path()));
  log::Options options;
  options.level = global.log_level.empty() ? loaded.log.level : global.log_level;
  options.format = loaded.log.format == "json" ? log::Format::kJson : log::Format::kText;
  options.node_id = loaded.node_id;
  K3S_TRY(log::init(options));
  config_ = loaded;
  return loaded;
}

void Context::print(const nlohmann::json& json_result, const std::string& text) const {
  if (global.json) {
    std::cout << json_result.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  } else if (!text.empty()) {
    std::cout << text << (text.back() == '\n' ? "" : "\n") << std::flush;
  }
}

int Context::fail(const Error& error) const {
  std::string message = log::redact(error.message);
  if (global.json) {
    nlohmann::json doc = {{"error", message}, {"kind", error_kind_name(error.kind)}, {"exit_code", error.exit_code()}};
    std::cerr << doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  } else {
    std::cerr << "k3s-daas: error: " << message << std::endl;
  }
  return error.exit_code();
}

int Context::not_yet(const std::string& command, const std::string& capability) const {
  return fail(make_error(ErrorKind::kUnsupported,
                         "'" + command + "' is not available yet: " + capability +
                             " is not built into this version (see README.md, \"Status\")"));
}

bool Context::interactive() const { return ::isatty(STDOUT_FILENO) == 1 && !global.json; }

bool Context::confirm(const std::string& question) const {
  if (::isatty(STDIN_FILENO) != 1) return false;
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

int main(int argc, char** argv) {
  CLI::App app{"k3s-daas: the worker agent of a decentralized k3s cluster staked on Sui", "k3s-daas"};
  app.require_subcommand(1);
  app.fallthrough();
  Context ctx;
  app.add_option("--config", ctx.global.config_path,
                 "config file (default: $K3S_DAAS_CONFIG, else /etc/k3s-daas/config.json)");
  app.add_option("--log-level", ctx.global.log_level,
                 "log level: trace|debug|info|warn|error, optionally per category (info,sui=debug)")
      ->check([](const std::string& value) {
        auto status = log::validate_level_spec(value);
        return status.ok() ? std::string() : status.error().message;
      });
  app.add_flag("--json", ctx.global.json, "print results as JSON");

  register_run_command(app, ctx);
  register_config_commands(app, ctx);
  register_keys_commands(app, ctx);
  register_chain_commands(app, ctx);
  register_seal_commands(app, ctx);
  register_attest_command(app, ctx);
  register_slashing_commands(app, ctx);
  register_version_command(app, ctx);
  register_docgen_command(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return exit_code::kUsage;
  }
  if (!ctx.global.log_level.empty()) {
    log::Options options;
    options.level = ctx.global.log_level;
    (void)log::init(options);
  }
  if (!ctx.action) return exit_code::kUsage;
  try {
    return ctx.action();
  } catch (const std::exception& e) {
    return ctx.fail(make_error(ErrorKind::kInternal, std::string("unexpected error: ") + e.what()));
  }
}

}  // namespace k3s_daas::cli
