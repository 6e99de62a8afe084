#include "schema.hpp"

#include <algorithm>
#include <string_view>

#include "k3s_daas/k3s_flags.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/url.hpp"

namespace k3s_daas::config::schema {
namespace {

using json = nlohmann::json;
using Check = std::function<std::optional<std::string>(const json&)>;

std::optional<std::string> ok() { return std::nullopt; }

// Character classes for the name checks below: plain loops, linear in the value. (std::regex
// recursed once per character: a 200 kB sui.module, metrics.listen or node label crashed
// `config validate` and the daemon with a stack overflow.)
bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return (c >= 'A' && c <= 'Z') || is_lower_alnum(c); }
bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool all_of(std::string_view s, bool (*in)(char)) { return std::all_of(s.begin(), s.end(), in); }

// [A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?(=[A-Za-z0-9._-]*)?: a label, or a taint's KEY[=VALUE].
bool key_value(std::string_view s) {
  const auto equals = s.find('=');
  const std::string_view key = s.substr(0, equals);
  const std::string_view value = equals == std::string_view::npos ? std::string_view() : s.substr(equals + 1);
  return !key.empty() && is_alnum(key.front()) && is_alnum(key.back()) &&
         all_of(key, [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '/' || c == '-'; }) &&
         all_of(value, [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

// The value shown in a message: at most 80 characters of it.
std::string quoted_start(const std::string& s) {
  return "\"" + (s.size() > 80 ? s.substr(0, 77) + "..." : s) + "\"";
}

Check one_of(std::vector<std::string> allowed) {
  return [allowed](const json& v) -> std::optional<std::string> {
    for (const auto& a : allowed) {
      if (v.get<std::string>() == a) return ok();
    }
    std::string list;
    for (size_t i = 0; i < allowed.size(); ++i) list += (i ? (i + 1 == allowed.size() ? " or " : ", ") : "") + ("\"" + allowed[i] + "\"");
    return "expected " + list;
  };
}

Check range(std::uint64_t lo, std::uint64_t hi, std::string unit) {
  return [=](const json& v) -> std::optional<std::string> {
    auto n = v.get<std::uint64_t>();
    if (n < lo || n > hi) {
      return "expected " + unit + " from " + std::to_string(lo) + " to " + std::to_string(hi);
    }
    return ok();
  };
}

Check non_empty(std::string what) {
  return [what](const json& v) -> std::optional<std::string> {
    if (v.get<std::string>().empty()) return "expected " + what + ", found an empty string";
    return ok();
  };
}

bool is_hex(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
}

Check sui_id(std::string what) {
  return [what](const json& v) -> std::optional<std::string> {
    auto s = v.get<std::string>();
    if (s.size() < 3 || s.rfind("0x", 0) != 0 || s.size() > 66 || !is_hex(s.substr(2))) {
      return "expected " + what + " (0x followed by 1 to 64 hex digits)";
    }
    return ok();
  };
}

Check pcr() {
  return [](const json& v) -> std::optional<std::string> {
    auto s = v.get<std::string>();
    if (s.empty()) return ok();
    if (s.size() != 96 || !is_hex(s)) return "expected 96 hex digits (a SHA-384 PCR value) or \"\" (not set)";
    return ok();
  };
}

Check node_name() {
  return [](const json& v) -> std::optional<std::string> {
    // [a-z0-9]([a-z0-9.-]*[a-z0-9])?
    auto s = v.get<std::string>();
    if (s.empty() || s.size() > 63 || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back()) ||
        !all_of(s, [](char c) { return is_lower_alnum(c) || c == '.' || c == '-'; })) {
      return "expected a Kubernetes node name (lower-case letters, digits, '.' and '-', starting and ending "
             "with a letter or digit, at most 63 characters)";
    }
    return ok();
  };
}

Check sui_url() {
  return [](const json& v) -> std::optional<std::string> {
    auto s = v.get<std::string>();
    if (s.rfind("https://", 0) == 0 && s.size() > 8) return ok();
    if (s.rfind("http://", 0) == 0 && is_loopback_url(s)) return ok();
    return std::string("expected an https:// URL (http:// only for loopback addresses)");
  };
}

Check master_url() {
  return [](const json& v) -> std::optional<std::string> {
    auto s = v.get<std::string>();
    if ((s.rfind("https://", 0) == 0 && s.size() > 8) || (s.rfind("http://", 0) == 0 && s.size() > 7)) return ok();
    return std::string("expected an https:// URL");
  };
}

Check move_identifier() {
  return [](const json& v) -> std::optional<std::string> {
    // [A-Za-z][A-Za-z0-9_]*, at most 128 characters (Sui's limit for an identifier)
    auto s = v.get<std::string>();
    if (s.empty() || s.size() > 128 || !is_alnum(s.front()) || (s.front() >= '0' && s.front() <= '9') ||
        !all_of(s, [](char c) { return is_alnum(c) || c == '_'; })) {
      return std::string("expected a Move identifier (a letter, then letters, digits and '_', at most 128 characters)");
    }
    return ok();
  };
}

Check listen_address() {
  return [](const json& v) -> std::optional<std::string> {
    // (\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}; a port has no ':', so it follows the last one
    auto s = v.get<std::string>();
    if (s.empty()) return ok();
    const auto colon = s.rfind(':');
    const std::string_view host = colon == std::string::npos ? std::string_view() : std::string_view(s).substr(0, colon);
    const std::string_view digits = colon == std::string::npos ? std::string_view() : std::string_view(s).substr(colon + 1);
    const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']' &&
                           all_of(host.substr(1, host.size() - 2),
                                  [](char c) { return is_hex_digit(c) || c == ':'; });
    const bool named = !host.empty() && all_of(host, [](char c) { return is_alnum(c) || c == '.' || c == '-'; });
    if ((!bracketed && !named) || digits.empty() || digits.size() > 5 ||
        !all_of(digits, [](char c) { return c >= '0' && c <= '9'; })) {
      return std::string("expected HOST:PORT (e.g. 127.0.0.1:9464) or \"\" to disable");
    }
    auto port = std::stoul(s.substr(s.rfind(':') + 1));
    if (port == 0 || port > 65535) return std::string("expected a port from 1 to 65535");
    return ok();
  };
}

Check log_level() {
  return [](const json& v) -> std::optional<std::string> {
    auto status = log::validate_level_spec(v.get<std::string>());
    if (!status) return "expected trace, debug, info, warn, error, critical or off (optionally per category, e.g. info,sui=debug)";
    return ok();
  };
}

Check each_label() {
  return [](const json& v) -> std::optional<std::string> {
    for (const auto& item : v) {
      const auto s = item.get<std::string>();
      if (s.find('=') == std::string::npos || !key_value(s)) return "expected KEY=VALUE labels, found " + quoted_start(s);
    }
    return ok();
  };
}

Check each_taint() {
  return [](const json& v) -> std::optional<std::string> {
    // KEY[=VALUE]:(NoSchedule|PreferNoSchedule|NoExecute); neither KEY nor VALUE holds a ':'
    for (const auto& item : v) {
      const auto s = item.get<std::string>();
      const auto colon = s.rfind(':');
      const std::string effect = colon == std::string::npos ? "" : s.substr(colon + 1);
      if (colon == std::string::npos || !key_value(std::string_view(s).substr(0, colon)) ||
          (effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute")) {
        return "expected KEY[=VALUE]:NoSchedule|PreferNoSchedule|NoExecute taints, found " + quoted_start(s);
      }
    }
    return ok();
  };
}

// k3s.extra_args and k3s.kubelet_args: the same check the runtime makes before starting k3s
// (include/k3s_daas/k3s_flags.hpp): no flag the agent sets itself, in any spelling k3s accepts.
Check k3s_args(std::optional<std::string> (*check)(const std::vector<std::string>&)) {
  return [check](const json& v) -> std::optional<std::string> {
    std::vector<std::string> args;
    for (const auto& item : v) args.push_back(item.get<std::string>());
    return check(args);
  };
}

std::vector<Key> build() {
  std::vector<Key> k;
  auto add = [&](Key key) { k.push_back(std::move(key)); };
  add({"node_id", Type::kString, nullptr, true, false, node_name(), "Kubernetes node name of this worker"});
  add({"state_dir", Type::kString, "/var/lib/k3s-daas", false, true, non_empty("a folder"), "state, journal, markers, token files"});
  add({"sui", Type::kObject, json::object(), true, false, nullptr, "the Sui chain"});
  add({"sui.transport", Type::kString, "graphql", false, false, one_of({"graphql", "jsonrpc"}), "chain API"});
  add({"sui.rpc_urls", Type::kStringList, nullptr, true, false,
       [](const json& v) -> std::optional<std::string> {
         if (v.empty()) return std::string("expected at least one endpoint URL");
         for (size_t i = 0; i < v.size(); ++i) {
           if (auto problem = sui_url()(v[i])) {
             return "[" + std::to_string(i) + "]: " + *problem + ", found " + v[i].dump();
           }
         }
         return ok();
       },
       "endpoints, tried in order"});
  add({"sui.key_file", Type::kNullableString, nullptr, false, true, nullptr, "file holding one suiprivkey1... line (0600)"});
  add({"sui.keystore", Type::kKeystore, nullptr, false, false, nullptr, "a sui.keystore and the address to use"});
  add({"sui.package_id", Type::kString, nullptr, true, false, sui_id("a Sui object id"), "the staking package"});
  add({"sui.staking_pool_id", Type::kString, nullptr, true, false, sui_id("a Sui object id"), "the shared StakingPool"});
  add({"sui.module", Type::kString, "staking", false, false, move_identifier(), "Move module name"});
  add({"sui.stake_amount_mist", Type::kUInt, 1000000000, false, false, range(1, UINT64_MAX, "an amount in MIST"), "stake amount"});
  add({"sui.min_stake_mist", Type::kUInt, 1000000000, false, false, range(1, UINT64_MAX, "an amount in MIST"), "minimum stake"});
  add({"sui.gas_budget_mist", Type::kUInt, 50000000, false, false, range(1000, 50000000000ULL, "a gas budget in MIST"), "gas budget"});
  add({"sui.poll_interval_ms", Type::kUInt, 5000, false, false, range(100, 3600000, "milliseconds"), "slash event polling"});
  add({"sui.request_timeout_ms", Type::kUInt, 10000, false, false, range(100, 600000, "milliseconds"), "per request"});
  add({"master", Type::kObject, json::object(), true, false, nullptr, "the Nautilus master"});
  add({"master.url", Type::kString, nullptr, true, false, master_url(), "gateway URL"});
  add({"master.ca_file", Type::kNullableString, nullptr, false, true, nullptr, "CA bundle (PEM) for the server"});
  add({"master.cert_file", Type::kNullableString, nullptr, false, true, nullptr, "client certificate (PEM)"});
  add({"master.key_file", Type::kNullableString, nullptr, false, true, nullptr, "client key (PEM, 0600)"});
  add({"master.allow_insecure_http", Type::kBool, false, false, false, nullptr, "tests only"});
  add({"master.attestation", Type::kObject, json::object(), false, false, nullptr, "what the enclave must prove"});
  add({"master.attestation.pcr0", Type::kString, "", false, false, pcr(), "expected PCR0"});
  add({"master.attestation.pcr1", Type::kString, "", false, false, pcr(), "expected PCR1"});
  add({"master.attestation.pcr2", Type::kString, "", false, false, pcr(), "expected PCR2"});
  add({"master.attestation.max_age_s", Type::kUInt, 300, false, false, range(1, 86400, "seconds"), "document freshness"});
  add({"master.attestation.allow_debug", Type::kBool, false, false, false, nullptr, "accept all-zero PCRs"});
  add({"master.attestation.require_nonce", Type::kBool, false, false, false, nullptr,
       "refuse a document without the nonce sent"});
  add({"master.attestation.root_ca_file", Type::kNullableString, nullptr, false, true, nullptr, "null = AWS Nitro root G1"});
  add({"master.attestation.enclave_object_id", Type::kNullableString, nullptr, false, false,
       [](const json& v) -> std::optional<std::string> { return sui_id("a Sui object id")(v); }, "Nautilus Enclave<T> object"});
  add({"master.attestation.enclave_config_object_id", Type::kNullableString, nullptr, false, false,
       [](const json& v) -> std::optional<std::string> { return sui_id("a Sui object id")(v); },
       "Nautilus EnclaveConfig<T> object: PCRs from chain"});
  add({"master.attestation.enclave_package_id", Type::kNullableString, nullptr, false, false,
       [](const json& v) -> std::optional<std::string> { return sui_id("a Sui package id")(v); },
       "package of the enclave module"});
  add({"master.attestation.enclave_app_type", Type::kNullableString, nullptr, false, false,
       [](const json& v) -> std::optional<std::string> {
         auto s = v.get<std::string>();
         auto first = s.find("::");
         auto second = first == std::string::npos ? std::string::npos : s.find("::", first + 2);
         if (s.rfind("0x", 0) != 0 || second == std::string::npos || s.find_first_of(" \t\n") != std::string::npos) {
           return std::optional<std::string>("expected a Move type such as 0x<package>::<module>::<STRUCT>");
         }
         return std::nullopt;
       },
       "the app type T of EnclaveConfig<T>"});
  add({"master.heartbeat_interval_ms", Type::kUInt, 30000, false, false, range(1000, 3600000, "milliseconds"), "heartbeat period"});
  add({"master.seal_token_ttl_s", Type::kUInt, 3600, false, false, range(60, 86400, "seconds (at most 24 h)"), "seal token lifetime"});
  add({"master.request_timeout_ms", Type::kUInt, 10000, false, false, range(100, 600000, "milliseconds"), "per master request"});
  add({"master.deregister_on_stop", Type::kBool, false, false, false, nullptr, "deregister on an orderly stop"});
  add({"k3s", Type::kObject, json::object(), false, false, nullptr, "the k3s agent"});
  add({"k3s.binary", Type::kString, "/usr/local/bin/k3s", false, true, non_empty("a file path"), "k3s executable"});
  add({"k3s.data_dir", Type::kString, "/var/lib/rancher/k3s", false, true, non_empty("a folder"), "k3s data dir"});
  add({"k3s.node_labels", Type::kStringList, json::array(), false, false, each_label(), "--node-label"});
  add({"k3s.node_taints", Type::kStringList, json::array(), false, false, each_taint(), "--node-taint"});
  add({"k3s.kubelet_args", Type::kStringList, json::array(), false, false, k3s_args(k3s_flags::check_kubelet_args),
       "--kubelet-arg"});
  add({"k3s.extra_args", Type::kStringList, json::array(), false, false, k3s_args(k3s_flags::check_extra_args),
       "more k3s agent flags"});
  add({"k3s.stop_timeout_s", Type::kUInt, 30, false, false, range(1, 3600, "seconds"), "SIGTERM grace"});
  add({"runtime", Type::kObject, json::object(), false, false, nullptr, "the container runtime"});
  add({"runtime.type", Type::kString, "containerd", false, false, one_of({"containerd", "k3s-embedded", "docker"}), "runtime"});
  add({"runtime.containerd_binary", Type::kString, "/usr/bin/containerd", false, true, non_empty("a file path"), "containerd"});
  add({"runtime.socket", Type::kString, "/run/k3s-daas/containerd/containerd.sock", false, true, non_empty("a socket path"), "socket"});
  add({"runtime.root_dir", Type::kString, "/var/lib/k3s-daas/containerd", false, true, non_empty("a folder"), "root"});
  add({"runtime.config_file", Type::kNullableString, nullptr, false, true, nullptr, "null = the agent writes one"});
  add({"metrics", Type::kObject, json::object(), false, false, nullptr, "Prometheus metrics"});
  add({"metrics.listen", Type::kString, "127.0.0.1:9464", false, false, listen_address(), "HOST:PORT or \"\""});
  add({"log", Type::kObject, json::object(), false, false, nullptr, "logging"});
  add({"log.level", Type::kString, "info", false, false, log_level(), "level"});
  add({"log.format", Type::kString, "text", false, false, one_of({"text", "json"}), "format"});
  return k;
}

}  // namespace

const std::vector<Key>& keys() {
  static const std::vector<Key> table = build();
  return table;
}

std::vector<std::string> children_of(const std::string& object_path) {
  std::vector<std::string> out;
  for (const auto& key : keys()) {
    auto dot = key.path.rfind('.');
    std::string parent = dot == std::string::npos ? "" : key.path.substr(0, dot);
    if (parent == object_path) out.push_back(dot == std::string::npos ? key.path : key.path.substr(dot + 1));
  }
  if (object_path == "sui.keystore") out = {"path", "address"};
  return out;
}

const Key* find(const std::string& path) {
  for (const auto& key : keys()) {
    if (key.path == path) return &key;
  }
  return nullptr;
}

}  // namespace k3s_daas::config::schema
