#include "k3s_daas/config.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "k3s_daas/crypto.hpp"
#include "k3s_daas/encoding.hpp"
#include "k3s_daas/fs.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/url.hpp"
#include "schema.hpp"

namespace k3s_daas::config {
namespace {

using json = nlohmann::json;
constexpr std::uint64_t kMaxConfigBytes = 1u << 20;
constexpr int kMaxDepth = 32;

std::string shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  text = log::redact(text);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

std::string type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
      return value.get<std::int64_t>() < 0 ? "a negative number" : "a number";
    case json::value_t::number_unsigned: return "a number";
    case json::value_t::number_float: return "a fractional number";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "a list";
    case json::value_t::object: return "an object";
    default: return "an unsupported value";
  }
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

bool looks_like_private_key_name(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* bad : {"private_key", "privatekey", "private-key", "privkey", "secret_key", "secretkey", "mnemonic", "seed_phrase"}) {
    if (lower.find(bad) != std::string::npos) return true;
  }
  return false;
}

std::string join_path(const std::string& parent, const std::string& child) {
  return parent.empty() ? child : parent + "." + child;
}

// Inline secrets anywhere in the document, whatever the key.
void find_inline_secrets(const json& node, const std::string& path, std::vector<std::string>& problems,
                         const std::string& file) {
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string child = join_path(path, it.key());
      if (looks_like_private_key_name(it.key())) {
        problems.push_back(file + ": " + child +
                           ": a private key must not be written in the config; put it in a 0600 file and point "
                           "sui.key_file at it (see `k3s-daas keys import --suiprivkey - --out FILE`)");
        continue;
      }
      find_inline_secrets(it.value(), child, problems, file);
    }
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) find_inline_secrets(node[i], path + "[" + std::to_string(i) + "]", problems, file);
  } else if (node.is_string()) {
    const auto& s = node.get_ref<const std::string&>();
    if (s.rfind("suiprivkey", 0) == 0 || s.find("PRIVATE KEY-----") != std::string::npos) {
      problems.push_back(file + ": " + path +
                         ": holds a private key; keys never belong in the config: put it in a 0600 file and point "
                         "sui.key_file at it (see `k3s-daas keys import --suiprivkey - --out FILE`)");
    }
  }
}

void check_unknown_keys(const json& node, const std::string& path, std::vector<std::string>& problems,
                        const std::string& file) {
  if (!node.is_object()) return;
  auto known = schema::children_of(path);
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string child = join_path(path, it.key());
    if (looks_like_private_key_name(it.key())) continue;  // reported by find_inline_secrets
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      std::string suggestion;
      size_t best = 4;
      for (const auto& candidate : known) {
        size_t d = edit_distance(it.key(), candidate);
        if (d < best) {
          best = d;
          suggestion = candidate;
        }
      }
      problems.push_back(file + ": " + child + ": unknown key" +
                         (suggestion.empty() ? "" : " (did you mean \"" + join_path(path, suggestion) + "\"?)"));
      continue;
    }
    const auto* key = schema::find(child);
    if (key != nullptr && key->type == schema::Type::kObject) check_unknown_keys(it.value(), child, problems, file);
    if (key != nullptr && key->type == schema::Type::kKeystore) check_unknown_keys(it.value(), child, problems, file);
  }
}

const json* lookup(const json& doc, const std::string& dotted) {
  const json* node = &doc;
  size_t start = 0;
  while (true) {
    size_t dot = dotted.find('.', start);
    std::string part = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object()) return nullptr;
    auto it = node->find(part);
    if (it == node->end()) return nullptr;
    node = &*it;
    if (dot == std::string::npos) return node;
    start = dot + 1;
  }
}

std::optional<std::string> check_type(const schema::Key& key, const json& value) {
  switch (key.type) {
    case schema::Type::kString:
      if (!value.is_string()) return "expected a string, found " + type_name(value);
      break;
    case schema::Type::kNullableString:
      if (!value.is_string() && !value.is_null()) return "expected a string or null, found " + type_name(value);
      break;
    case schema::Type::kBool:
      if (!value.is_boolean()) return "expected true or false, found " + type_name(value);
      break;
    case schema::Type::kUInt:
      if (value.is_number_float()) {
        return "expected a whole number from 0 to 18446744073709551615, found " + shown(value) +
               (value.get<double>() > 1.8e19 ? " (too large)" : "");
      }
      if (value.is_number_integer() && !value.is_number_unsigned() && value.get<std::int64_t>() < 0) {
        return "expected a whole number of 0 or more, found " + shown(value);
      }
      if (!value.is_number_integer()) return "expected a whole number, found " + type_name(value);
      break;
    case schema::Type::kStringList:
      if (!value.is_array()) return "expected a list of strings, found " + type_name(value);
      for (size_t i = 0; i < value.size(); ++i) {
        if (!value[i].is_string()) return "[" + std::to_string(i) + "]: expected a string, found " + type_name(value[i]);
      }
      break;
    case schema::Type::kObject:
      if (!value.is_object()) return "expected an object, found " + type_name(value);
      break;
    case schema::Type::kKeystore:
      if (value.is_null()) break;
      if (!value.is_object()) return "expected an object {\"path\": ..., \"address\": \"0x...\"}, found " + type_name(value);
      break;
  }
  return std::nullopt;
}

void check_keystore(const json& value, const std::string& file, std::vector<std::string>& problems) {
  if (!value.is_object()) return;
  auto path = value.find("path");
  if (path == value.end() || !path->is_string() || path->get<std::string>().empty()) {
    problems.push_back(file + ": sui.keystore.path: expected the path of a sui.keystore file");
  }
  auto address = value.find("address");
  bool good = address != value.end() && address->is_string();
  if (good) {
    auto s = address->get<std::string>();
    good = s.size() == 66 && s.rfind("0x", 0) == 0 && s.find_first_not_of("0123456789abcdefABCDEF", 2) == std::string::npos;
  }
  if (!good) {
    problems.push_back(file + ": sui.keystore.address: expected a Sui address (0x followed by 64 hex digits)" +
                       (address != value.end() ? ", found " + shown(*address) : std::string()));
  }
}

void cross_checks(const json& doc, const std::string& file, std::vector<std::string>& problems) {
  const json* key_file = lookup(doc, "sui.key_file");
  const json* keystore = lookup(doc, "sui.keystore");
  bool has_key_file = key_file != nullptr && key_file->is_string() && !key_file->get<std::string>().empty();
  bool has_keystore = keystore != nullptr && keystore->is_object();
  if (has_key_file && has_keystore) {
    problems.push_back(file + ": sui.keystore: set either sui.key_file or sui.keystore, not both");
  } else if (!has_key_file && !has_keystore && lookup(doc, "sui") != nullptr) {
    problems.push_back(file + ": sui.key_file: required (the file holding this node's suiprivkey1... key), "
                              "or set sui.keystore instead");
  }
  if (has_keystore) check_keystore(*keystore, file, problems);

  const json* stake = lookup(doc, "sui.stake_amount_mist");
  const json* min = lookup(doc, "sui.min_stake_mist");
  auto amount = [](const json* v) {
    bool usable = v != nullptr && v->is_number_integer() && (v->is_number_unsigned() || v->get<std::int64_t>() >= 0);
    return usable ? v->get<std::uint64_t>() : 1000000000ULL;
  };
  std::uint64_t stake_v = amount(stake);
  std::uint64_t min_v = amount(min);
  if ((stake || min) && stake_v < min_v) {
    problems.push_back(file + ": sui.stake_amount_mist: expected at least sui.min_stake_mist (" +
                       std::to_string(min_v) + "), found " + std::to_string(stake_v));
  }

  // Trust rooted on chain: the EnclaveConfig id turns it on and needs the package and T.
  auto set = [&](const char* key) {
    const json* v = lookup(doc, key);
    return v != nullptr && v->is_string() && !v->get<std::string>().empty();
  };
  if (set("master.attestation.enclave_config_object_id")) {
    const json* transport = lookup(doc, "sui.transport");
    if (transport != nullptr && transport->is_string() && transport->get<std::string>() == "jsonrpc" &&
        !set("master.attestation.enclave_object_id")) {
      problems.push_back(file + ": master.attestation.enclave_object_id: required with sui.transport \"jsonrpc\" "
                                "(JSON-RPC cannot list the Enclave<T> objects by type; name the one to trust, or use "
                                "the graphql transport to follow new registrations)");
    }
    for (const char* key : {"master.attestation.enclave_package_id", "master.attestation.enclave_app_type"}) {
      if (!set(key)) {
        problems.push_back(file + ": " + key +
                           ": required with master.attestation.enclave_config_object_id (the exact Move type of the "
                           "Nautilus objects is <enclave_package_id>::enclave::EnclaveConfig<enclave_app_type>)");
      }
    }
  } else if (set("master.attestation.enclave_object_id") || set("master.attestation.enclave_package_id") ||
             set("master.attestation.enclave_app_type")) {
    problems.push_back(file + ": master.attestation.enclave_config_object_id: required with enclave_object_id, "
                              "enclave_package_id or enclave_app_type (trust rooted on chain reads the EnclaveConfig<T> "
                              "object, protocol.md 3.1)");
  }

  const json* url = lookup(doc, "master.url");
  const json* insecure = lookup(doc, "master.allow_insecure_http");
  bool allow_http = insecure != nullptr && insecure->is_boolean() && insecure->get<bool>();
  if (url != nullptr && url->is_string()) {
    auto s = url->get<std::string>();
    if (s.rfind("http://", 0) == 0 && !allow_http) {
      problems.push_back(file + ": master.url: expected an https:// URL, found \"" + s +
                         "\" (plain http is refused unless master.allow_insecure_http is true, for tests only)");
    }
    if (s.rfind("https://", 0) == 0) {
      for (const char* tls_key : {"master.ca_file", "master.cert_file", "master.key_file"}) {
        const json* v = lookup(doc, tls_key);
        if (v == nullptr || !v->is_string() || v->get<std::string>().empty()) {
          problems.push_back(file + ": " + tls_key + ": required for mutual TLS with an https:// master (a PEM file)");
        }
      }
    }
  }
}

std::string resolve(const std::filesystem::path& base, const std::string& value) {
  if (value.empty()) return value;
  std::filesystem::path p(value);
  if (p.is_absolute()) return p.lexically_normal().string();
  return (base / p).lexically_normal().string();
}

std::string normalize_id(const std::string& id) {
  std::string hex = id.substr(2);
  std::transform(hex.begin(), hex.end(), hex.begin(), [](unsigned char c) { return std::tolower(c); });
  return "0x" + std::string(64 - hex.size(), '0') + hex;
}

json with_defaults(const json& doc) {
  json out = doc;
  for (const auto& key : schema::keys()) {
    if (key.default_value.is_null() && key.type != schema::Type::kObject) continue;
    json::json_pointer ptr("/" + [&] {
      std::string p = key.path;
      std::replace(p.begin(), p.end(), '.', '/');
      return p;
    }());
    if (!out.contains(ptr)) out[ptr] = key.default_value;
  }
  return out;
}

std::vector<std::string> string_list(const json& value) {
  std::vector<std::string> out;
  for (const auto& item : value) out.push_back(item.get<std::string>());
  return out;
}

struct ParseFailure {
  std::string message;
};

// Parses with our extra rules: no duplicate keys, bounded depth, valid UTF-8.
Result<json> parse_document(const std::string& text, const std::string& file) {
  if (!is_valid_utf8(text)) return make_error(ErrorKind::kConfig, file + ": not valid UTF-8 text; a config file is JSON in UTF-8");
  std::vector<std::set<std::string>> seen;
  std::vector<std::string> path_stack;
  std::string duplicate;
  try {
    json doc = json::parse(
        text,
        [&](int depth, json::parse_event_t event, json& parsed) {
          if (depth > kMaxDepth) throw ParseFailure{"nested more than " + std::to_string(kMaxDepth) + " levels deep"};
          if (event == json::parse_event_t::object_start) seen.emplace_back();
          if (event == json::parse_event_t::object_end && !seen.empty()) seen.pop_back();
          if (event == json::parse_event_t::key && !seen.empty()) {
            auto name = parsed.get<std::string>();
            if (!seen.back().insert(name).second) throw ParseFailure{"key \"" + name + "\" appears twice in the same object"};
          }
          return true;
        },
        true, false);
    if (!doc.is_object()) return make_error(ErrorKind::kConfig, file + ": expected a JSON object at the top level, found " + type_name(doc));
    return doc;
  } catch (const ParseFailure& failure) {
    return make_error(ErrorKind::kConfig, file + ": " + failure.message);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    auto pos = what.find("parse error");
    return make_error(ErrorKind::kConfig, file + ": not valid JSON: " + (pos == std::string::npos ? what : what.substr(pos)));
  } catch (const json::exception& e) {
    // e.g. a number too large even for a double ("1e400")
    std::string what = e.what();
    auto pos = what.find(']');
    return make_error(ErrorKind::kConfig, file + ": not usable JSON: " + (pos == std::string::npos ? what : what.substr(pos + 2)));
  }
}

}  // namespace

std::filesystem::path resolve_path(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  const char* env = std::getenv(kPathEnv);
  if (env != nullptr && *env != '\0') return env;
  return kDefaultPath;
}

crypto::KeySource key_source(const SuiConfig& sui) {
  crypto::KeySource source;
  source.key_file = sui.key_file;
  if (sui.keystore) {
    source.keystore_path = sui.keystore->path;
    source.keystore_address = sui.keystore->address;
  }
  const char* credentials = std::getenv(kCredentialsEnv);
  if (credentials != nullptr && *credentials != '\0') source.credentials_dir = credentials;
  return source;
}

std::vector<std::string> validate_document(const json& doc, const std::filesystem::path& path) {
  std::string file = path.string();
  std::vector<std::string> problems;
  if (!doc.is_object()) return {file + ": expected a JSON object at the top level, found " + type_name(doc)};
  find_inline_secrets(doc, "", problems, file);
  check_unknown_keys(doc, "", problems, file);
  for (const auto& key : schema::keys()) {
    const json* value = lookup(doc, key.path);
    if (value == nullptr) {
      auto dot = key.path.rfind('.');
      bool parent_present = dot == std::string::npos || lookup(doc, key.path.substr(0, dot)) != nullptr;
      if (key.required && parent_present) problems.push_back(file + ": " + key.path + ": required (" + key.help + ")");
      continue;
    }
    if (auto problem = check_type(key, *value)) {
      problems.push_back(file + ": " + key.path + (problem->front() == '[' ? "" : ": ") + *problem);
      continue;
    }
    if (key.check && !value->is_null()) {
      if (auto problem = key.check(*value)) {
        std::string found = value->is_array() ? "" : ", found " + shown(*value);
        if (problem->find("found") != std::string::npos) found.clear();
        problems.push_back(file + ": " + key.path + (problem->front() == '[' ? "" : ": ") + *problem + found);
      }
    }
  }
  cross_checks(doc, file, problems);
  return problems;
}

Result<Config> parse(const std::string& text, const std::filesystem::path& path) {
  K3S_ASSIGN(json doc, parse_document(text, path.string()));
  auto problems = validate_document(doc, path);
  if (!problems.empty()) {
    std::string message;
    for (const auto& p : problems) message += (message.empty() ? "" : "\n") + p;
    return make_error(ErrorKind::kConfig, message);
  }
  json d = with_defaults(doc);
  std::filesystem::path base = path.has_parent_path() ? std::filesystem::absolute(path).parent_path()
                                                      : std::filesystem::current_path();
  auto str = [&](const char* p) { return d.at(json::json_pointer(p)).get<std::string>(); };
  auto opt_str = [&](const char* p) {
    const auto& v = d.at(json::json_pointer(p));
    return v.is_null() ? std::string() : v.get<std::string>();
  };
  auto u64 = [&](const char* p) { return d.at(json::json_pointer(p)).get<std::uint64_t>(); };

  Config c;
  c.source_path = std::filesystem::absolute(path);
  c.node_id = str("/node_id");
  c.state_dir = resolve(base, str("/state_dir"));
  c.sui.transport = str("/sui/transport");
  c.sui.rpc_urls = string_list(d["sui"]["rpc_urls"]);
  if (d["sui"].contains("key_file")) c.sui.key_file = resolve(base, opt_str("/sui/key_file"));
  if (d["sui"].contains("keystore") && d["sui"]["keystore"].is_object()) {
    c.sui.keystore = KeystoreRef{resolve(base, d["sui"]["keystore"]["path"].get<std::string>()),
                                 normalize_id(d["sui"]["keystore"]["address"].get<std::string>())};
  }
  c.sui.package_id = normalize_id(str("/sui/package_id"));
  c.sui.staking_pool_id = normalize_id(str("/sui/staking_pool_id"));
  c.sui.module = str("/sui/module");
  c.sui.stake_amount_mist = u64("/sui/stake_amount_mist");
  c.sui.min_stake_mist = u64("/sui/min_stake_mist");
  c.sui.gas_budget_mist = u64("/sui/gas_budget_mist");
  c.sui.poll_interval_ms = u64("/sui/poll_interval_ms");
  c.sui.request_timeout_ms = u64("/sui/request_timeout_ms");
  c.master.url = str("/master/url");
  c.master.ca_file = resolve(base, d["master"].contains("ca_file") ? opt_str("/master/ca_file") : "");
  c.master.cert_file = resolve(base, d["master"].contains("cert_file") ? opt_str("/master/cert_file") : "");
  c.master.key_file = resolve(base, d["master"].contains("key_file") ? opt_str("/master/key_file") : "");
  c.master.allow_insecure_http = d["master"]["allow_insecure_http"].get<bool>();
  auto& a = c.master.attestation;
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
    return s;
  };
  a.pcr0 = lower(str("/master/attestation/pcr0"));
  a.pcr1 = lower(str("/master/attestation/pcr1"));
  a.pcr2 = lower(str("/master/attestation/pcr2"));
  a.max_age_s = u64("/master/attestation/max_age_s");
  a.allow_debug = d["master"]["attestation"]["allow_debug"].get<bool>();
  a.require_nonce = d["master"]["attestation"]["require_nonce"].get<bool>();
  a.root_ca_file = resolve(base, d["master"]["attestation"].contains("root_ca_file") ? opt_str("/master/attestation/root_ca_file") : "");
  for (auto [key, field] : {std::pair{"enclave_object_id", &a.enclave_object_id},
                            std::pair{"enclave_config_object_id", &a.enclave_config_object_id},
                            std::pair{"enclave_package_id", &a.enclave_package_id}}) {
    if (d["master"]["attestation"].contains(key) && d["master"]["attestation"][key].is_string()) {
      *field = normalize_id(opt_str((std::string("/master/attestation/") + key).c_str()));
    }
  }
  if (d["master"]["attestation"].contains("enclave_app_type") && d["master"]["attestation"]["enclave_app_type"].is_string()) {
    a.enclave_app_type = opt_str("/master/attestation/enclave_app_type");
  }
  c.master.heartbeat_interval_ms = u64("/master/heartbeat_interval_ms");
  c.master.seal_token_ttl_s = u64("/master/seal_token_ttl_s");
  c.master.request_timeout_ms = u64("/master/request_timeout_ms");
  c.master.deregister_on_stop = d["master"]["deregister_on_stop"].get<bool>();
  c.k3s.binary = resolve(base, str("/k3s/binary"));
  c.k3s.data_dir = resolve(base, str("/k3s/data_dir"));
  c.k3s.node_labels = string_list(d["k3s"]["node_labels"]);
  c.k3s.node_taints = string_list(d["k3s"]["node_taints"]);
  c.k3s.kubelet_args = string_list(d["k3s"]["kubelet_args"]);
  c.k3s.extra_args = string_list(d["k3s"]["extra_args"]);
  c.k3s.stop_timeout_s = u64("/k3s/stop_timeout_s");
  c.runtime.type = str("/runtime/type");
  c.runtime.containerd_binary = resolve(base, str("/runtime/containerd_binary"));
  c.runtime.socket = resolve(base, str("/runtime/socket"));
  c.runtime.root_dir = resolve(base, str("/runtime/root_dir"));
  c.runtime.config_file = resolve(base, d["runtime"].contains("config_file") ? opt_str("/runtime/config_file") : "");
  c.metrics.listen = str("/metrics/listen");
  c.log.level = str("/log/level");
  c.log.format = str("/log/format");
  return c;
}

Result<Config> load(const std::filesystem::path& path) {
  auto text = fs::read_file(path, kMaxConfigBytes);
  if (!text) {
    std::string hint = std::filesystem::exists(path) ? "" : " (create one with `k3s-daas config init`, or pass --config PATH)";
    return make_error(ErrorKind::kConfig, text.error().message + hint);
  }
  return parse(*text, path);
}

json to_json(const Config& c, bool redact_secrets) {
  auto url = [&](const std::string& u) { return redact_secrets ? display_url(u) : u; };
  json urls = json::array();
  for (const auto& u : c.sui.rpc_urls) urls.push_back(url(u));
  auto null_if_empty = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  json doc = {
      {"node_id", c.node_id},
      {"state_dir", c.state_dir},
      {"sui",
       {{"transport", c.sui.transport},
        {"rpc_urls", urls},
        {"key_file", null_if_empty(c.sui.key_file)},
        {"keystore", c.sui.keystore ? json{{"path", c.sui.keystore->path}, {"address", c.sui.keystore->address}} : json(nullptr)},
        {"package_id", c.sui.package_id},
        {"staking_pool_id", c.sui.staking_pool_id},
        {"module", c.sui.module},
        {"stake_amount_mist", c.sui.stake_amount_mist},
        {"min_stake_mist", c.sui.min_stake_mist},
        {"gas_budget_mist", c.sui.gas_budget_mist},
        {"poll_interval_ms", c.sui.poll_interval_ms},
        {"request_timeout_ms", c.sui.request_timeout_ms}}},
      {"master",
       {{"url", url(c.master.url)},
        {"ca_file", null_if_empty(c.master.ca_file)},
        {"cert_file", null_if_empty(c.master.cert_file)},
        {"key_file", null_if_empty(c.master.key_file)},
        {"allow_insecure_http", c.master.allow_insecure_http},
        {"attestation",
         {{"pcr0", c.master.attestation.pcr0},
          {"pcr1", c.master.attestation.pcr1},
          {"pcr2", c.master.attestation.pcr2},
          {"max_age_s", c.master.attestation.max_age_s},
          {"allow_debug", c.master.attestation.allow_debug},
          {"require_nonce", c.master.attestation.require_nonce},
          {"root_ca_file", null_if_empty(c.master.attestation.root_ca_file)},
          {"enclave_object_id", null_if_empty(c.master.attestation.enclave_object_id)},
          {"enclave_config_object_id", null_if_empty(c.master.attestation.enclave_config_object_id)},
          {"enclave_package_id", null_if_empty(c.master.attestation.enclave_package_id)},
          {"enclave_app_type", null_if_empty(c.master.attestation.enclave_app_type)}}},
        {"heartbeat_interval_ms", c.master.heartbeat_interval_ms},
        {"seal_token_ttl_s", c.master.seal_token_ttl_s},
        {"request_timeout_ms", c.master.request_timeout_ms},
        {"deregister_on_stop", c.master.deregister_on_stop}}},
      {"k3s",
       {{"binary", c.k3s.binary},
        {"data_dir", c.k3s.data_dir},
        {"node_labels", c.k3s.node_labels},
        {"node_taints", c.k3s.node_taints},
        {"kubelet_args", c.k3s.kubelet_args},
        {"extra_args", c.k3s.extra_args},
        {"stop_timeout_s", c.k3s.stop_timeout_s}}},
      {"runtime",
       {{"type", c.runtime.type},
        {"containerd_binary", c.runtime.containerd_binary},
        {"socket", c.runtime.socket},
        {"root_dir", c.runtime.root_dir},
        {"config_file", null_if_empty(c.runtime.config_file)}}},
      {"metrics", {{"listen", c.metrics.listen}}},
      {"log", {{"level", c.log.level}, {"format", c.log.format}}},
  };
  if (redact_secrets) {
    // Nothing secret is allowed in the file, but outside text (URLs, args) may still carry one.
    doc = json::parse(log::redact(doc.dump()));
  }
  return doc;
}

std::vector<std::string> key_paths() {
  std::vector<std::string> out;
  for (const auto& key : schema::keys()) out.push_back(key.path);
  out.push_back("sui.keystore.path");
  out.push_back("sui.keystore.address");
  return out;
}

json starter_document(const std::string& node_id) {
  return {
      {"node_id", node_id},
      {"state_dir", "/var/lib/k3s-daas"},
      {"sui",
       {{"transport", "graphql"},
        {"rpc_urls", {"https://graphql.testnet.sui.io/graphql"}},
        {"key_file", "/etc/k3s-daas/sui.key"},
        {"package_id", "0x0000000000000000000000000000000000000000000000000000000000000000"},
        {"staking_pool_id", "0x0000000000000000000000000000000000000000000000000000000000000000"},
        {"module", "staking"},
        {"stake_amount_mist", 1000000000},
        {"min_stake_mist", 1000000000},
        {"gas_budget_mist", 50000000},
        {"poll_interval_ms", 5000},
        {"request_timeout_ms", 10000}}},
      {"master",
       {{"url", "https://master.example:8443"},
        {"ca_file", "/etc/k3s-daas/master-ca.pem"},
        {"cert_file", "/etc/k3s-daas/client.pem"},
        {"key_file", "/etc/k3s-daas/client.key"},
        {"allow_insecure_http", false},
        {"attestation",
         {{"pcr0", ""}, {"pcr1", ""}, {"pcr2", ""}, {"max_age_s", 300}, {"allow_debug", false},
          {"require_nonce", false},
          {"root_ca_file", nullptr}, {"enclave_object_id", nullptr}, {"enclave_config_object_id", nullptr},
          {"enclave_package_id", nullptr}, {"enclave_app_type", nullptr}}},
        {"heartbeat_interval_ms", 30000},
        {"seal_token_ttl_s", 3600},
        {"request_timeout_ms", 10000},
        {"deregister_on_stop", false}}},
      {"k3s",
       {{"binary", "/usr/local/bin/k3s"},
        {"data_dir", "/var/lib/rancher/k3s"},
        {"node_labels", json::array()},
        {"node_taints", json::array()},
        {"kubelet_args", json::array()},
        {"extra_args", json::array()},
        {"stop_timeout_s", 30}}},
      {"runtime",
       {{"type", "containerd"},
        {"containerd_binary", "/usr/bin/containerd"},
        {"socket", "/run/k3s-daas/containerd/containerd.sock"},
        {"root_dir", "/var/lib/k3s-daas/containerd"},
        {"config_file", nullptr}}},
      {"metrics", {{"listen", "127.0.0.1:9464"}}},
      {"log", {{"level", "info"}, {"format", "text"}}},
  };
}

namespace {

struct Segment {
  std::string name;  // object key, or empty for an index
  std::optional<size_t> index;
};

Result<std::vector<Segment>> parse_key(const std::string& key) {
  std::vector<Segment> out;
  size_t i = 0;
  auto bad = [&](const std::string& why) {
    return make_error(ErrorKind::kUsage, "key \"" + key + "\": " + why + " (expected a dotted key such as sui.rpc_urls[0])");
  };
  if (key.empty()) return bad("empty");
  while (i < key.size()) {
    if (key[i] == '[') {
      size_t close = key.find(']', i);
      if (close == std::string::npos || close == i + 1) return bad("unclosed or empty [index]");
      std::string digits = key.substr(i + 1, close - i - 1);
      if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) return bad("index must be a number");
      out.push_back({"", static_cast<size_t>(std::stoul(digits))});
      i = close + 1;
      if (i < key.size() && key[i] == '.') ++i;
      continue;
    }
    size_t end = key.find_first_of(".[", i);
    std::string name = key.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (name.empty()) return bad("empty part");
    out.push_back({name, std::nullopt});
    if (end == std::string::npos) break;
    i = key[end] == '.' ? end + 1 : end;
    if (key[end] == '.' && i >= key.size()) return bad("ends with '.'");
  }
  return out;
}

}  // namespace

Result<json> get_key(const json& doc, const std::string& key) {
  K3S_ASSIGN(auto segments, parse_key(key));
  const json* node = &doc;
  for (const auto& s : segments) {
    if (s.index) {
      if (!node->is_array() || *s.index >= node->size()) return make_error(ErrorKind::kNotFound, key + ": not set");
      node = &(*node)[*s.index];
    } else {
      if (!node->is_object() || !node->contains(s.name)) return make_error(ErrorKind::kNotFound, key + ": not set");
      node = &(*node)[s.name];
    }
  }
  return *node;
}

Result<json> set_key(json doc, const std::string& key, const json& value) {
  K3S_ASSIGN(auto segments, parse_key(key));
  json* node = &doc;
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto& s = segments[i];
    bool last = i + 1 == segments.size();
    if (s.index) {
      if (node->is_null()) *node = json::array();
      if (!node->is_array()) return make_error(ErrorKind::kUsage, key + ": [" + std::to_string(*s.index) + "] used on something that is not a list");
      if (*s.index > node->size()) {
        return make_error(ErrorKind::kUsage, key + ": index " + std::to_string(*s.index) + " is past the end of the list (size " +
                                                 std::to_string(node->size()) + "; use index " + std::to_string(node->size()) + " to append)");
      }
      if (*s.index == node->size()) node->push_back(nullptr);
      node = &(*node)[*s.index];
    } else {
      if (node->is_null()) *node = json::object();
      if (!node->is_object()) return make_error(ErrorKind::kUsage, key + ": \"" + s.name + "\" used inside something that is not an object");
      node = &(*node)[s.name];
    }
    if (last) *node = value;
  }
  return doc;
}

Result<json> unset_key(json doc, const std::string& key) {
  K3S_ASSIGN(auto segments, parse_key(key));
  json* node = &doc;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    const auto& s = segments[i];
    if (s.index) {
      if (!node->is_array() || *s.index >= node->size()) return make_error(ErrorKind::kNotFound, key + ": not set");
      node = &(*node)[*s.index];
    } else {
      if (!node->is_object() || !node->contains(s.name)) return make_error(ErrorKind::kNotFound, key + ": not set");
      node = &(*node)[s.name];
    }
  }
  const auto& lastseg = segments.back();
  if (lastseg.index) {
    if (!node->is_array() || *lastseg.index >= node->size()) return make_error(ErrorKind::kNotFound, key + ": not set");
    node->erase(*lastseg.index);
  } else {
    if (!node->is_object() || !node->contains(lastseg.name)) return make_error(ErrorKind::kNotFound, key + ": not set");
    node->erase(lastseg.name);
  }
  return doc;
}

json parse_cli_value(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    return text;
  }
}

namespace {

// The one place a config file is written: validated first, then atomically (0600 when new).
Status write_validated(const std::filesystem::path& path, const json& doc, const std::string& refusal,
                       bool keep_backup, bool preserve_mode) {
  auto problems = validate_document(doc, path);
  if (!problems.empty()) {
    std::string message = refusal;
    for (const auto& p : problems) message += "\n" + p;
    return make_error(ErrorKind::kConfig, message);
  }
  fs::WriteOptions options;
  options.keep_backup = keep_backup;
  options.preserve_mode = preserve_mode;
  options.mode = 0600;
  return fs::atomic_write_file(path, doc.dump(2) + "\n", options);
}

}  // namespace

Status edit_file(const std::filesystem::path& path, const std::function<Result<json>(json)>& edit) {
  K3S_ASSIGN(auto lock, fs::FileLock::acquire(path));
  auto text = fs::read_file(path, kMaxConfigBytes);
  if (!text) return make_error(ErrorKind::kConfig, text.error().message);
  K3S_ASSIGN(json doc, parse_document(*text, path.string()));
  K3S_ASSIGN(json edited, edit(std::move(doc)));
  return write_validated(path, edited, "not changed; the result would be invalid:", true, true);
}

Status write_new_file(const std::filesystem::path& path, const json& doc, bool force) {
  if (path.has_parent_path()) K3S_TRY(fs::ensure_dir(path.parent_path(), 0755));
  K3S_ASSIGN(auto lock, fs::FileLock::acquire(path));
  std::error_code ec;
  bool exists = std::filesystem::exists(path, ec);
  if (exists && !force) {
    return make_error(ErrorKind::kUsage, path.string() + ": already exists; pass --force to replace it (the old file is kept as " +
                                             path.string() + ".bak)");
  }
  return write_validated(path, doc, "refusing to write an invalid config:", exists, false);
}

}  // namespace k3s_daas::config
