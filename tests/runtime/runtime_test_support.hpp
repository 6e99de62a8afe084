#pragma once
// Helpers for the runtime tests: the real containerd under a temp dir, the driver program,
// containers created with `ctr` (standing in for what the kubelet runs), process and mount checks.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
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

}  // namespace k3s_daas::test

#define K3S_REQUIRE_CONTAINERD(need_ctr)                                                                       \
  if (auto k3s_skip_reason_ = ::k3s_daas::test::containerd_skip_reason(need_ctr); !k3s_skip_reason_.empty()) { \
    MESSAGE("SKIPPED: " << k3s_skip_reason_);                                                                  \
    return;                                                                                                    \
  }
