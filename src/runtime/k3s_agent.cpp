// The `k3s agent` command line and environment.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string_view>

#include "k3s_daas/runtime.hpp"

namespace k3s_daas::runtime {
namespace {

// Flags the agent sets itself (from the config and the registration) or that would put a secret
// on the command line. `extra_args` may not carry them, in any spelling.
struct Reserved {
  std::string_view flag;
  std::string_view why;
};
constexpr std::array<Reserved, 13> kReservedFlags = {{
    {"--token", "the join token goes to k3s through --token-file only, never on a command line"},
    {"-t", "the join token goes to k3s through --token-file only, never on a command line"},
    {"--agent-token", "tokens go to k3s through --token-file only, never on a command line"},
    {"--agent-token-file", "the agent sets the token file itself"},
    {"--token-file", "the agent sets the token file itself (from the master's registration)"},
    {"--server", "the agent sets the server URL itself (from the master's registration)"},
    {"-s", "the agent sets the server URL itself (from the master's registration)"},
    {"--node-name", "the node name is node_id and never changes"},
    {"--with-node-id", "it would change the node name; the node name is node_id"},
    {"--data-dir", "set k3s.data_dir instead"},
    {"-d", "set k3s.data_dir instead"},
    {"--container-runtime-endpoint", "set runtime.type / runtime.socket instead"},
    {"--docker", "set runtime.type = \"docker\" instead"},
}};

std::string flag_of(const std::string& arg) {
  if (arg.rfind("-", 0) != 0) return {};
  return arg.substr(0, arg.find('='));
}

}  // namespace

std::filesystem::path k3s_notify_socket_path(const std::filesystem::path& work_dir) {
  return work_dir / "k3s-agent.notify";
}

K3sAgentOptions k3s_options_from_config(const config::Config& config, std::string server_url,
                                        std::filesystem::path token_file) {
  K3sAgentOptions out;
  out.binary = config.k3s.binary;
  out.server_url = std::move(server_url);
  out.token_file = std::move(token_file);
  out.node_name = config.node_id;
  out.data_dir = config.k3s.data_dir;
  out.node_labels = config.k3s.node_labels;
  out.node_taints = config.k3s.node_taints;
  out.kubelet_args = config.k3s.kubelet_args;
  out.extra_args = config.k3s.extra_args;
  out.stop_timeout = std::chrono::seconds(config.k3s.stop_timeout_s);
  out.work_dir = std::filesystem::path(config.state_dir) / "runtime";
  return out;
}

Result<std::vector<std::string>> k3s_agent_argv(const K3sAgentOptions& options,
                                                const std::vector<std::string>& runtime_flags) {
  if (!options.binary.is_absolute()) {
    return make_error(ErrorKind::kConfig,
                      "k3s.binary: expected an absolute path, found \"" + options.binary.string() + "\"");
  }
  if (options.server_url.rfind("https://", 0) != 0 && options.server_url.rfind("http://", 0) != 0) {
    return make_error(ErrorKind::kProtocol, "k3s server URL from the master is not an http(s) URL");
  }
  if (options.token_file.empty() || !options.token_file.is_absolute()) {
    return make_error(ErrorKind::kInternal, "k3s token file must be an absolute path");
  }
  if (options.node_name.empty()) return make_error(ErrorKind::kConfig, "node_id: empty");
  for (std::size_t i = 0; i < options.extra_args.size(); ++i) {
    std::string flag = flag_of(options.extra_args[i]);
    for (const auto& reserved : kReservedFlags) {
      if (flag == reserved.flag) {
        return make_error(ErrorKind::kConfig, "k3s.extra_args[" + std::to_string(i) +
                                                  "]: " + std::string(reserved.flag) +
                                                  " is not allowed: " + std::string(reserved.why));
      }
    }
  }
  std::vector<std::string> argv = {
      options.binary.string(),     "agent",       "--server",        options.server_url, "--token-file",
      options.token_file.string(), "--node-name", options.node_name, "--data-dir",       options.data_dir.string()};
  argv.insert(argv.end(), runtime_flags.begin(), runtime_flags.end());
  for (const auto& label : options.node_labels) argv.insert(argv.end(), {"--node-label", label});
  for (const auto& taint : options.node_taints) argv.insert(argv.end(), {"--node-taint", taint});
  for (const auto& arg : options.kubelet_args) argv.insert(argv.end(), {"--kubelet-arg", arg});
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  return argv;
}

Result<std::vector<std::string>> k3s_agent_env(const K3sAgentOptions& options) {
  const char* home = std::getenv("HOME");
  std::vector<std::string> env = {std::string("PATH=") + kDefaultPath,
                                  std::string("HOME=") + ((home && *home == '/') ? home : "/root")};
  for (std::size_t i = 0; i < options.extra_env.size(); ++i) {
    const auto& entry = options.extra_env[i];
    auto eq = entry.find('=');
    std::string name = entry.substr(0, eq);
    if (eq == std::string::npos || name.empty()) {
      return make_error(ErrorKind::kConfig, "k3s extra environment [" + std::to_string(i) + "]: expected NAME=value");
    }
    // k3s reads K3S_TOKEN, K3S_URL, K3S_NODE_NAME... from its environment: they would bypass the
    // token file and override the agent's own flags.
    if (name.rfind("K3S_", 0) == 0 || name == "NOTIFY_SOCKET" || name.rfind("WATCHDOG_", 0) == 0 || name == "PATH") {
      return make_error(ErrorKind::kConfig, "k3s extra environment: " + name + " is set by the agent (or not at all)");
    }
    env.push_back(entry);
  }
  return env;
}

}  // namespace k3s_daas::runtime
