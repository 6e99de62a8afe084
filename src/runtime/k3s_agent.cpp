// The `k3s agent` command line and environment.
#include <unistd.h>

#include <cstdlib>
#include <string_view>

#include "k3s_daas/k3s_flags.hpp"
#include "k3s_daas/runtime.hpp"

namespace k3s_daas::runtime {

std::filesystem::path k3s_notify_socket_path(const std::filesystem::path& work_dir) {
  return work_dir / "k3s-agent.notify";
}

std::filesystem::path k3s_config_file_path(const std::filesystem::path& work_dir) {
  return work_dir / "k3s-config.yaml";
}

std::string k3s_config_file_content() {
  return "# Written by k3s-daas for `k3s agent --config` (docs/supervisor.md, \"k3s flags\").\n"
         "# Intentionally empty: every setting is on the command line, and passing this file keeps k3s\n"
         "# from reading /etc/rancher/k3s/config.yaml and config.yaml.d/ on the host.\n";
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
  if (options.work_dir.empty() || !options.work_dir.is_absolute()) {
    return make_error(ErrorKind::kInternal, "k3s work folder (state_dir/runtime) must be an absolute path");
  }
  if (auto problem = k3s_flags::check_extra_args(options.extra_args)) {
    return make_error(ErrorKind::kConfig,
                      std::string("k3s.extra_args") + (problem->front() == '[' ? "" : ": ") + *problem);
  }
  if (auto problem = k3s_flags::check_kubelet_args(options.kubelet_args)) {
    return make_error(ErrorKind::kConfig, "k3s.kubelet_args" + *problem);
  }
  // --config first: k3s looks for it before parsing flags, and reads that file (and its .d/)
  // instead of /etc/rancher/k3s/config.yaml.
  std::vector<std::string> argv = {options.binary.string(),
                                   "agent",
                                   "--config",
                                   k3s_config_file_path(options.work_dir).string(),
                                   "--server",
                                   options.server_url,
                                   "--token-file",
                                   options.token_file.string(),
                                   "--node-name",
                                   options.node_name,
                                   "--data-dir",
                                   options.data_dir.string()};
  argv.insert(argv.end(), runtime_flags.begin(), runtime_flags.end());
  // One entry each, value attached: a value starting with "-" can never be read as a flag.
  for (const auto& label : options.node_labels) argv.push_back("--node-label=" + label);
  for (const auto& taint : options.node_taints) argv.push_back("--node-taint=" + taint);
  for (const auto& arg : options.kubelet_args) argv.push_back("--kubelet-arg=" + arg);
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
