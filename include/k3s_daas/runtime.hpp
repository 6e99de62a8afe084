#pragma once
// The node's container runtime and k3s agent, on top of the supervisor.
// Owns: the containerd we start (its TOML config, its gRPC API through stubs generated at build
// time from containerd's own .proto files), the Docker Engine API client (over net::HttpClient),
// the `k3s agent` command line and environment, the node's ordinary stop, and the teardown after
// a slash or unstake (containers, shims, cgroup leftovers, kubelet mounts, our containerd).
// Must never: put the join token on a command line, in an environment or in a log; change the
// node name between restarts; start k3s before the runtime answers; touch a process, container
// or mount that is not the node's (teardown acts only on the k8s.io namespace of the runtime,
// shims addressed to its socket, the configured kubepods cgroups and mounts under the
// configured directories).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k3s_daas/config.hpp"
#include "k3s_daas/result.hpp"
#include "k3s_daas/supervisor.hpp"

namespace k3s_daas::runtime {

inline constexpr const char* kContainerdChild = "containerd";
inline constexpr const char* kK3sChild = "k3s-agent";
inline constexpr const char* kK3sEmbeddedSocket = "/run/k3s/containerd/containerd.sock";
inline constexpr const char* kDockerSocket = "/var/run/docker.sock";
inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct RuntimeOptions {
  std::string type = "containerd";  // "containerd", "k3s-embedded" or "docker"
  std::filesystem::path containerd_binary = "/usr/bin/containerd";
  std::filesystem::path socket;       // containerd: ours; docker: the Engine's; k3s-embedded: k3s's
  std::filesystem::path root_dir;     // containerd root (images, snapshots)
  std::filesystem::path state_dir;    // containerd state (tasks, shim sockets); default: beside the socket
  std::filesystem::path config_file;  // an operator's containerd config; empty = we write one
  std::filesystem::path work_dir;     // our files: generated config, pid files, notify socket (0700)
  std::filesystem::path k3s_data_dir = "/var/lib/rancher/k3s";  // CNI paths for the CRI plugin
  // k3s needs containerd's CRI plugin; tests without Kubernetes may turn it off.
  bool enable_cri = true;
  std::vector<std::string> namespaces = {"k8s.io"};  // what counts and what teardown removes
  std::vector<std::string> extra_env;                // added to containerd's environment
};

// From the config file (interface.md `runtime.*`, `state_dir`, `k3s.data_dir`).
RuntimeOptions runtime_options_from_config(const config::Config& config);

// The containerd config we write: root, state and our socket; CRI on or off.
std::string containerd_config_toml(const RuntimeOptions& options);
// Where runc keeps the state of the node's (CRI) containers: <containerd state>/runc.
std::filesystem::path containerd_runc_root(const RuntimeOptions& options);

struct WorkloadCleanup {
  unsigned tasks_killed = 0;
  unsigned containers_deleted = 0;
  std::vector<std::string> errors;
};

// One interface for the three runtimes. Calls are blocking with Limits::rpc_timeout each.
class Runtime {
 public:
  virtual ~Runtime() = default;
  virtual std::string type() const = 0;
  const RuntimeOptions& options() const { return options_; }

  // The supervisor child of this runtime ("containerd"), or empty when we do not run it.
  virtual std::string child_name() const { return {}; }
  // Registers its child with the supervisor (when it has one) and asks for it to start.
  virtual Status start(supervisor::Supervisor& supervisor) = 0;
  // True when k3s may start: our runtime is up, or the outside runtime answers.
  virtual bool ready_for_k3s(supervisor::Supervisor& supervisor) = 0;
  // The runtime's version (one call: containerd Version, Docker GET /version).
  virtual Result<std::string> version() = 0;
  // Running containers of the node (tasks RUNNING in its namespaces / labelled Docker containers).
  virtual Result<std::size_t> running_containers() = 0;
  // Flags for `k3s agent`.
  virtual std::vector<std::string> k3s_flags() const = 0;
  // Teardown: SIGKILL every task, delete it, delete the containers (idempotent). `pump` is
  // called while waiting (the caller's loop keeps reading containerd's output meanwhile).
  virtual WorkloadCleanup kill_workloads(const supervisor::Limits& limits, const std::function<void()>& pump = {}) = 0;
  // The sockets whose containerd-shim processes belong to this node (teardown kills them).
  virtual std::vector<std::string> shim_addresses() const { return {}; }

 protected:
  explicit Runtime(RuntimeOptions options) : options_(std::move(options)) {}
  RuntimeOptions options_;
};

Result<std::unique_ptr<Runtime>> make_runtime(const RuntimeOptions& options, const supervisor::Limits& limits);

// --- k3s agent -------------------------------------------------------------------------------

struct K3sAgentOptions {
  std::filesystem::path binary = "/usr/local/bin/k3s";
  std::string server_url;            // from the master's registration
  std::filesystem::path token_file;  // 0600 file holding the join token (never the token itself)
  std::string node_name;             // = node_id; never changes between restarts
  std::filesystem::path data_dir = "/var/lib/rancher/k3s";
  std::vector<std::string> node_labels, node_taints, kubelet_args, extra_args;
  std::chrono::milliseconds stop_timeout{std::chrono::seconds(30)};
  std::filesystem::path work_dir;      // notify socket and pid file (the state dir's runtime folder)
  std::vector<std::string> extra_env;  // e.g. HTTP_PROXY/NO_PROXY; never a token
};

// k3s options from the config; server URL and token file come from the registration.
K3sAgentOptions k3s_options_from_config(const config::Config& config, std::string server_url,
                                        std::filesystem::path token_file);

// `k3s agent --config WORK_DIR/k3s-config.yaml --server URL --token-file FILE --node-name NODE
//  --data-dir DIR [runtime flags] [--node-label=L]... [--node-taint=T]... [--kubelet-arg=A]...
//  [extra args]`. Refuses extra args / kubelet args that name a flag the agent sets, in any
// spelling k3s accepts (k3s_flags.hpp), and an environment that carries a token.
Result<std::vector<std::string>> k3s_agent_argv(const K3sAgentOptions& options,
                                                const std::vector<std::string>& runtime_flags);
Result<std::vector<std::string>> k3s_agent_env(const K3sAgentOptions& options);
std::filesystem::path k3s_notify_socket_path(const std::filesystem::path& work_dir);
// The file passed as `k3s agent --config`: written by start_k3s with k3s_config_file_content()
// (comments only), so that k3s reads no config file of the host's (docs/supervisor.md).
std::filesystem::path k3s_config_file_path(const std::filesystem::path& work_dir);
std::string k3s_config_file_content();

// --- the node: runtime + k3s under one supervisor ----------------------------------------------

struct TeardownOptions {
  // Mounts under these folders are unmounted (deepest first, MNT_DETACH).
  std::vector<std::filesystem::path> unmount_prefixes;
  // Cgroups (directory names directly under each hierarchy of /sys/fs/cgroup) whose processes
  // are the node's pods.
  std::vector<std::string> cgroup_names = {"kubepods", "kubepods.slice"};
  std::filesystem::path cgroup_root = "/sys/fs/cgroup";
  // runc state of killed shims' containers: containerd's default root and ours (containerd_config_toml).
  std::vector<std::filesystem::path> runc_roots = {"/run/containerd/runc"};
  std::filesystem::path mountinfo = "/proc/self/mountinfo";
};

struct TeardownReport {
  bool k3s_stopped = false;
  unsigned tasks_killed = 0;
  unsigned containers_deleted = 0;
  unsigned cgroup_processes_killed = 0;
  unsigned shims_killed = 0;
  unsigned unmounted = 0;
  bool runtime_stopped = false;
  std::vector<std::string> errors;  // problems met on the way (teardown carries on past them)
  nlohmann::json to_json() const;
};

struct NodeOptions {
  RuntimeOptions runtime;
  K3sAgentOptions k3s;
  TeardownOptions teardown;
};

// From the config (defaults for the teardown: k3s data dir, /var/lib/kubelet, /run/k3s and our
// containerd's root and state).
NodeOptions node_options_from_config(const config::Config& config, std::string server_url,
                                     std::filesystem::path token_file);

struct NodeStatus {
  std::string runtime_type;
  std::string runtime_state;  // "ready", "starting", "down", ...
  std::string runtime_version;
  std::optional<supervisor::ChildStatus> k3s;
  std::optional<supervisor::ChildStatus> containerd;
  std::optional<std::size_t> running_containers;
  nlohmann::json to_json() const;
};

class WorkerNode {
 public:
  // The supervisor outlives the node.
  static Result<std::unique_ptr<WorkerNode>> create(supervisor::Supervisor& supervisor, NodeOptions options);
  ~WorkerNode();

  // Starts the runtime (when it is ours). Non-blocking: drive the supervisor's loop.
  Status start_runtime();
  // Registers the k3s agent; the supervisor starts it once the runtime is ready. Checks the
  // token file (0600, not empty) first. Calling it again (new server URL or token file after a
  // re-registration) replaces the command line for the next start; the node name stays.
  Status start_k3s();
  Status start_k3s(std::string server_url, std::filesystem::path token_file);

  // Ordinary stop: k3s, then our containerd. Pods' containers and data are left in place.
  void request_stop();
  bool stopped() const;
  // request_stop() and drive the loop until stopped or `budget` passes.
  bool stop(std::chrono::milliseconds budget);

  // Slash/unstake teardown (blocking): stop k3s; SIGKILL and delete every task and container of
  // the node; kill what is left in the kubepods cgroups and the shims of our runtime; unmount
  // kubelet's mounts; stop our containerd. Idempotent; also finds leftovers of a crashed agent
  // through the pid files in work_dir.
  TeardownReport teardown();

  NodeStatus status(bool query_runtime = true);
  Runtime& runtime() { return *runtime_; }
  const NodeOptions& options() const { return options_; }

 private:
  WorkerNode(supervisor::Supervisor& supervisor, NodeOptions options, std::unique_ptr<Runtime> runtime);
  supervisor::Supervisor& supervisor_;
  NodeOptions options_;
  std::unique_ptr<Runtime> runtime_;
  bool k3s_added_ = false;
};

// Teardown pieces, usable alone (and tested alone).
namespace teardown {

struct MountEntry {
  int id = 0;
  int parent_id = 0;
  std::filesystem::path mount_point;  // unescaped (\040 -> ' ')
  std::string fs_type;
};
std::vector<MountEntry> parse_mountinfo(const std::string& text);
// The mounts under any of the prefixes, in the order to unmount them (deepest first).
std::vector<MountEntry> mounts_under(const std::vector<MountEntry>& mounts,
                                     const std::vector<std::filesystem::path>& prefixes);
// Unmounts (MNT_DETACH) every mount under the prefixes; returns how many.
unsigned unmount_under(const std::vector<std::filesystem::path>& prefixes, const std::filesystem::path& mountinfo,
                       std::vector<std::string>& errors);

// SIGKILLs every process in the named cgroups (all hierarchies, recursively) until they are
// empty or the timeout passes; returns how many processes were signalled.
unsigned kill_cgroup_processes(const std::filesystem::path& cgroup_root, const std::vector<std::string>& names,
                               std::chrono::milliseconds timeout, std::vector<std::string>& errors);

// containerd-shim processes started for one of these sockets (`-address SOCKET`), or whose
// parent is `containerd_pid`.
std::vector<pid_t> find_shims(const std::vector<std::string>& addresses, pid_t containerd_pid);
// SIGKILLs the shims and everything below them; waits up to `timeout` for them to vanish; then
// removes what a dead shim leaves behind and containerd would otherwise only clean at its next
// start: the shim's socket (from its bundle's `address` file) and the runc state
// <runc root>/<namespace>/<id> under any of `runc_roots`.
unsigned kill_shims(const std::vector<std::string>& addresses, pid_t containerd_pid, std::chrono::milliseconds timeout,
                    std::vector<std::string>& errors, const std::vector<std::filesystem::path>& runc_roots = {});

// SIGTERM to a leftover process group (from a pid file), SIGKILL after `grace`.
bool stop_leftover(const std::filesystem::path& pid_file, std::chrono::milliseconds grace,
                   std::vector<std::string>& errors);
// An earlier run killed between starting a child and writing its pid file leaves that child
// unrecorded. Finds process-group leaders that are not this process's children and whose command
// line contains `signature` (consecutive arguments naming a file only this node's children are
// given, e.g. {"--config", "<state_dir>/runtime/containerd.toml"}), SIGTERMs their groups, SIGKILL
// after `grace`. Returns how many it found.
unsigned stop_unrecorded_leftovers(const std::string& name, const std::vector<std::string>& signature,
                                   std::chrono::milliseconds grace, std::vector<std::string>& errors);

}  // namespace teardown

}  // namespace k3s_daas::runtime
