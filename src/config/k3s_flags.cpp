// The `k3s agent` flag table and the checks of k3s.extra_args / k3s.kubelet_args
// (include/k3s_daas/k3s_flags.hpp).
#include "k3s_daas/k3s_flags.hpp"

#include <map>

namespace k3s_daas::k3s_flags {
namespace {

constexpr std::string_view kServer = "the agent sets the server URL itself, from the master's registration";
constexpr std::string_view kToken =
    "the join token goes to k3s through the agent's --token-file only, never on a command line";
constexpr std::string_view kDataDir = "set k3s.data_dir instead";
constexpr std::string_view kConfig =
    "the agent passes its own --config so that no other k3s config file (/etc/rancher/k3s/config.yaml and its "
    "config.yaml.d/) is read";

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

bool has_control(const std::string& text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

std::string spelled(const Flag& flag) {
  std::string out = "--" + std::string(flag.name);
  if (!flag.alias.empty()) out += " (-" + std::string(flag.alias) + ")";
  return out;
}

// Go's strconv.ParseBool, which the flag package uses for `-flag=value`.
bool go_bool(std::string_view v) {
  for (std::string_view ok : {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}) {
    if (v == ok) return true;
  }
  return false;
}

struct Parsed {
  bool flag = false;       // looks like a flag to Go (one or two dashes, then a name)
  bool bad_syntax = false;  // "---x", "-=x": Go's "bad flag syntax"
  std::string name;
  bool has_value = false;
  std::string value;
};

Parsed parse(const std::string& arg) {
  Parsed p;
  if (arg.size() < 2 || arg[0] != '-') return p;
  std::size_t dashes = arg[1] == '-' ? 2 : 1;
  if (dashes == 2 && arg.size() == 2) return p;  // "--": the caller handles it
  p.flag = true;
  std::string rest = arg.substr(dashes);
  if (rest.empty() || rest[0] == '-' || rest[0] == '=') {
    p.bad_syntax = true;
    return p;
  }
  auto eq = rest.find('=');
  p.name = rest.substr(0, eq);
  if (eq != std::string::npos) {
    p.has_value = true;
    p.value = rest.substr(eq + 1);
  }
  return p;
}

std::string at(std::size_t i, const std::string& entry) { return "[" + std::to_string(i) + "] " + quoted(entry) + ": "; }

}  // namespace

const std::vector<Flag>& agent_flags() {
  static const std::vector<Flag> table = {
      // config.go, log.go
      {"config", "c", Kind::kString, kConfig},
      {"debug", "", Kind::kBool, ""},
      {"v", "", Kind::kInt, ""},
      {"vmodule", "", Kind::kString, ""},
      {"log", "l", Kind::kString, ""},
      {"alsologtostderr", "", Kind::kBool, ""},
      // cluster
      {"token", "t", Kind::kString, kToken},
      {"token-file", "", Kind::kString, "the agent sets the token file itself (from the master's registration)"},
      {"server", "s", Kind::kString, kServer},
      {"data-dir", "d", Kind::kString, kDataDir},
      // node
      {"node-name", "", Kind::kString, "the node name is node_id and never changes"},
      {"with-node-id", "", Kind::kBool, "it would change the node name; the node name is node_id"},
      {"node-label", "", Kind::kList, "set k3s.node_labels instead (checked there)"},
      {"node-taint", "", Kind::kList, "set k3s.node_taints instead (checked there)"},
      {"image-credential-provider-bin-dir", "", Kind::kString, ""},
      {"image-credential-provider-config", "", Kind::kString, ""},
      {"selinux", "", Kind::kBool, ""},
      {"lb-server-port", "", Kind::kInt, ""},
      {"protect-kernel-defaults", "", Kind::kBool, ""},
      // runtime
      {"container-runtime-endpoint", "", Kind::kString, "set runtime.type / runtime.socket instead"},
      {"default-runtime", "", Kind::kString, ""},
      {"image-service-endpoint", "", Kind::kString,
       "images go through the runtime the agent configures: set runtime.type / runtime.socket instead"},
      {"pause-image", "", Kind::kString, ""},
      {"snapshotter", "", Kind::kString, ""},
      {"private-registry", "", Kind::kString, ""},
      {"disable-default-registry-endpoint", "", Kind::kBool, ""},
      {"nonroot-devices", "", Kind::kBool, ""},
      {"airgap-extra-registry", "", Kind::kList, ""},
      // networking
      {"node-ip", "i", Kind::kList, ""},
      {"bind-address", "", Kind::kString, ""},
      {"node-external-ip", "", Kind::kList, ""},
      {"node-internal-dns", "", Kind::kList, ""},
      {"node-external-dns", "", Kind::kList, ""},
      {"resolv-conf", "", Kind::kString, ""},
      {"flannel-iface", "", Kind::kString, ""},
      {"flannel-conf", "", Kind::kString, ""},
      {"flannel-cni-conf", "", Kind::kString, ""},
      {"vpn-auth", "", Kind::kString, "it puts a VPN credential on the command line (use --vpn-auth-file)"},
      {"vpn-auth-file", "", Kind::kString, ""},
      {"disable-apiserver-lb", "", Kind::kBool, ""},
      // flags for the components
      {"kubelet-arg", "", Kind::kList, "set k3s.kubelet_args instead (checked there)"},
      {"kube-proxy-arg", "", Kind::kList, ""},
      // experimental, deprecated
      {"enable-pprof", "", Kind::kBool, ""},
      {"rootless", "", Kind::kBool, ""},
      {"prefer-bundled-bin", "", Kind::kBool, ""},
      {"docker", "", Kind::kBool, "set runtime.type = \"docker\" instead"},
      // urfave/cli's own
      {"help", "h", Kind::kBool, "k3s would print its help and exit instead of running"},
  };
  return table;
}

const Flag* find(std::string_view name) {
  if (name.empty()) return nullptr;
  for (const auto& flag : agent_flags()) {
    if (flag.name == name || flag.alias == name) return &flag;
  }
  return nullptr;
}

std::optional<std::string> check_extra_args(const std::vector<std::string>& args) {
  std::map<std::string_view, std::string> forms;  // flag -> the first spelling used (name or alias)
  bool value_next = false;                          // Go takes the next entry as a value, whatever it is
  bool maybe_value_next = false;                    // after an unknown flag: k3s refuses it anyway
  std::string pending;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& entry = args[i];
    if (has_control(entry)) {
      return at(i, entry) + "contains a control character (newline, NUL, ...); k3s flags never do";
    }
    Parsed p = parse(entry);
    if (p.flag && !p.bad_syntax) {
      if (const Flag* flag = find(p.name); flag != nullptr && !flag->reserved_because.empty()) {
        // Refused even where Go would take the entry as the value of the flag before it.
        return quoted(entry) + " is set by the agent itself: entry [" + std::to_string(i) + "] names " +
               spelled(*flag) + "; " + std::string(flag->reserved_because);
      }
    }
    if (value_next) {
      value_next = false;
      continue;
    }
    if (entry == "--") {
      return at(i, entry) + "ends k3s's flags (whatever follows would be taken as positional arguments)";
    }
    if (!p.flag) {
      if (maybe_value_next) {
        maybe_value_next = false;
        continue;
      }
      return at(i, entry) +
             "is neither a flag nor the value of the flag before it (k3s would take it as a positional argument; a "
             "bool flag takes its value as --flag=true|false)";
    }
    maybe_value_next = false;
    if (p.bad_syntax) return at(i, entry) + "bad flag syntax (k3s refuses it: one or two dashes, then the name)";
    const Flag* flag = find(p.name);
    if (flag == nullptr) {
      // Not a k3s v1.34 agent flag: k3s itself refuses it ("flag provided but not defined").
      maybe_value_next = !p.has_value;
      continue;
    }
    auto [it, fresh] = forms.emplace(flag->name, p.name);
    if (!fresh && it->second != p.name) {
      return at(i, entry) + "-" + it->second + " and -" + p.name + " are two forms of " + spelled(*flag) +
             ": k3s refuses that (\"Cannot use two forms of the same flag\")";
    }
    if (flag->kind == Kind::kBool) {
      if (p.has_value && !go_bool(p.value)) {
        return at(i, entry) + "--" + std::string(flag->name) + " takes true or false, found " + quoted(p.value);
      }
    } else if (!p.has_value) {
      value_next = true;
      pending = entry;
    }
  }
  if (value_next) return "[" + std::to_string(args.size() - 1) + "] " + quoted(pending) + ": needs a value after it";
  return std::nullopt;
}

std::optional<std::string> check_kubelet_args(const std::vector<std::string>& args) {
  static const std::map<std::string_view, std::string_view> kReservedKubelet = {
      {"hostname-override", "the node name is node_id; the agent passes it to k3s, which passes it to the kubelet"},
      {"node-labels", "set k3s.node_labels instead (k3s builds this kubelet flag from them)"},
      {"register-with-taints", "set k3s.node_taints instead (k3s builds this kubelet flag from them)"},
      {"container-runtime-endpoint", "the runtime is the agent's: set runtime.type / runtime.socket instead"},
      {"image-service-endpoint", "the runtime is the agent's: set runtime.type / runtime.socket instead"},
      {"kubeconfig", "k3s writes the kubelet's credentials itself"},
      {"bootstrap-kubeconfig", "k3s writes the kubelet's credentials itself"},
      {"cert-dir", "k3s writes the kubelet's credentials itself"},
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& entry = args[i];
    if (has_control(entry)) {
      return at(i, entry) + "contains a control character (newline, NUL, ...); kubelet flags never do";
    }
    // As k3s's GetArgs: strip one "--", split at the first "=", and a trailing "+" (append to
    // k3s's value) or "-" (prepend) still names the same kubelet flag.
    std::string key = entry.rfind("--", 0) == 0 ? entry.substr(2) : entry;
    key = key.substr(0, key.find('='));
    while (!key.empty() && (key.back() == '+' || key.back() == '-')) key.pop_back();
    if (key.empty() || key[0] == '-') {
      return at(i, entry) + "expected NAME=VALUE (a kubelet flag without its dashes, e.g. max-pods=110)";
    }
    if (auto it = kReservedKubelet.find(key); it != kReservedKubelet.end()) {
      return at(i, entry) + "the kubelet flag --" + key + " is not allowed: " + std::string(it->second);
    }
  }
  return std::nullopt;
}

}  // namespace k3s_daas::k3s_flags
