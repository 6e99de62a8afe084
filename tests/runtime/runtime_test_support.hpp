#pragma once
// Helpers for the runtime tests: the real containerd under a temp dir, the driver program,
// containers created with `ctr` (standing in for what the kubelet runs), process and mount checks.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k3s_daas/runtime.hpp"

namespace k3s_daas::test {

// Empty when the real-containerd tests can run; else why not (not root, no /usr/bin/containerd,
// no ctr when `need_ctr`).
std::string containerd_skip_reason(bool need_ctr);

// Options for a node living entirely under `dir`: our containerd (CRI off unless asked), the
// fake-k3s stand-in as k3s with a 0600 K10 token file, kubelet-like folders for the teardown.
runtime::NodeOptions test_node_options(const std::filesystem::path& dir, const std::vector<std::string>& fake_env = {},
                                       bool enable_cri = false);
supervisor::Limits runtime_test_limits();

// A program whose stdout we read line by line (the supervisor-test-driver).
class ChildProgram {
 public:
  explicit ChildProgram(const std::vector<std::string>& argv);
  ~ChildProgram();  // SIGKILL and reap when still running
  ChildProgram(const ChildProgram&) = delete;
  ChildProgram& operator=(const ChildProgram&) = delete;
  pid_t pid() const { return pid_; }
  // The next stdout line parsed as JSON (non-JSON lines are skipped); nullopt on timeout/EOF.
  std::optional<nlohmann::json> read_json(std::chrono::milliseconds timeout);
  void signal(int signal_number);
  // The exit code (128 + signal when killed); nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
};

std::filesystem::path driver_binary();

// Runs /bin/sleep SECONDS in a container `id` in namespace k8s.io of the containerd at `socket`
// (rootfs: a folder with /usr bind-mounted read-only), as `ctr run -d`. Empty string on success.
std::string ctr_run_sleep(const std::filesystem::path& socket, const std::filesystem::path& dir, const std::string& id,
                          const std::string& seconds, const std::string& cgroup = "");

std::vector<pid_t> processes_with_cmdline(const std::vector<std::string>& cmdline);
// containerd processes started with `--config FILE`.
std::vector<pid_t> containerd_processes(const std::filesystem::path& config_file);
// Mount points under `prefix` (strictly) in /proc/self/mountinfo.
std::vector<std::string> mounts_under(const std::filesystem::path& prefix);
// A process that is not our child (double fork through sh): its pid.
pid_t spawn_orphan_sleep(const std::string& seconds);

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// Kills what a node laid out under `state` (test_node_options / the driver) may have left when
// a test stops half-way: the processes of its pid files and the shims of its socket. Declare it
// after the TempDir and before the Supervisor.
struct NodeLeftoverGuard {
  std::filesystem::path state;
  ~NodeLeftoverGuard();
};

// A container id unique to this test process (runc keeps state per id on the host).
std::string unique_id(const std::string& base);

// Creates the node under the supervisor and starts containerd, then k3s (the fake-k3s
// stand-in); REQUIREs both to come up within 30 s.
std::unique_ptr<runtime::WorkerNode> start_node(supervisor::Supervisor& supervisor, const runtime::NodeOptions& options);

// The supervisor-test-driver's command line for a node under `state`, with the fake-k3s
// stand-in as k3s and `extra` arguments (e.g. {"--fake-env", "FAKE_K3S_TERM_DELAY_MS=300"}).
std::vector<std::string> driver_argv(const std::filesystem::path& state, const std::vector<std::string>& extra = {});

// The driver's first JSON line, which says its node is up.
struct DriverReady {
  nlohmann::json line;
  pid_t containerd_pid = -1;
  pid_t k3s_pid = -1;
  std::filesystem::path socket;  // its containerd's
};
// Reads that line (REQUIREs it within 60 s, with "event": "ready").
DriverReady read_driver_ready(ChildProgram& driver);

// CHECKs that the node under `state` is gone: containerd and k3s (and the kubelet stand-ins
// in k3s's process group) dead, no containerd of its config left, no pid files left.
void check_node_gone(pid_t containerd_pid, pid_t k3s_pid, const std::filesystem::path& state);
// CHECKs that a teardown reported no error and stopped both k3s and the runtime.
void check_report_clean(const runtime::TeardownReport& report);
// What a new agent run does for a slash or an unstake after an earlier run died: a node over the
// state folder `state` (test_node_options) tears down from the pid files it finds there;
// CHECKs that the report is clean.
runtime::TeardownReport teardown_from_state(const std::filesystem::path& state);

// Removes the cgroup `name` and everything below it, leaves first, in every hierarchy.
void remove_cgroup_tree(const std::string& name);

}  // namespace k3s_daas::test

#define K3S_REQUIRE_CONTAINERD(need_ctr)                                                                       \
  if (auto k3s_skip_reason_ = ::k3s_daas::test::containerd_skip_reason(need_ctr); !k3s_skip_reason_.empty()) { \
    MESSAGE("SKIPPED: " << k3s_skip_reason_);                                                                  \
    return;                                                                                                    \
  }
