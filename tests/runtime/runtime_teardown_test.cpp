// Slash/unstake teardown with the real containerd, real containers (created with `ctr`, as
// the kubelet would through CRI), a pod-cgroup leftover, kubelet-like mounts and the fake-k3s
// stand-in for k3s; then again, idempotently; then after a crash of the agent itself.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <fstream>

#include "k3s_daas/runtime.hpp"
#include "runtime_test_support.hpp"
#include "supervisor_test_support.hpp"
#include "support/support.hpp"

using namespace std::chrono_literals;
namespace rt = k3s_daas::runtime;
namespace sv = k3s_daas::supervisor;
namespace t = k3s_daas::test;

namespace {

// A cgroup of our own (in every v1 hierarchy that allows it, and v2) standing in for kubepods.
struct TestCgroup {
  std::string name = "k3s-daas-test-" + std::to_string(::getpid());
  std::filesystem::path procs_file;
  TestCgroup() {
    for (const char* hierarchy : {"pids", "memory", "unified"}) {
      auto dir = std::filesystem::path("/sys/fs/cgroup") / hierarchy / name / "leftover";
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (!ec && procs_file.empty() && std::filesystem::exists(dir / "cgroup.procs")) procs_file = dir / "cgroup.procs";
    }
  }
  ~TestCgroup() { t::remove_cgroup_tree(name); }  // ours, and what runc created under the name
};

}  // namespace

TEST_CASE("runtime_teardown: containers, shims, pod cgroup, kubelet mounts, k3s and containerd go; twice is safe") {
  K3S_REQUIRE_CONTAINERD(true);
  t::TempDir dir;
  TestCgroup cgroup;
  t::NodeLeftoverGuard guard{dir.path()};
  auto options = t::test_node_options(dir.path());
  options.teardown.cgroup_names = {cgroup.name};
  sv::Supervisor s(t::runtime_test_limits());
  auto node = t::start_node(s, options);
  pid_t k3s_pid = s.status("k3s-agent")->pid;
  pid_t containerd_pid = s.status("containerd")->pid;

  MESSAGE("two containers in k8s.io (ctr standing in for the kubelet)");
  REQUIRE(t::ctr_run_sleep(options.runtime.socket, dir.path(), t::unique_id("pod-one"), "424242") == "");
  REQUIRE(t::ctr_run_sleep(options.runtime.socket, dir.path(), t::unique_id("pod-two"), "424243",
                           cgroup.name + "/pod-two") == "");
  // The loop keeps reading containerd's output while the test waits.
  REQUIRE(s.run_until([&] { return node->runtime().running_containers().value_or(0) == 2; }, 20s));
  CHECK(t::processes_with_cmdline({"/bin/sleep", "424242"}).size() == 1);
  auto shims = rt::teardown::find_shims({options.runtime.socket.string()}, 0);
  CHECK(shims.size() == 2);

  pid_t orphan = 0;
  if (!cgroup.procs_file.empty()) {
    orphan = t::spawn_orphan_sleep("434343");
    std::ofstream(cgroup.procs_file) << orphan << "\n";
  } else {
    MESSAGE("no writable cgroup hierarchy: the cgroup step is not exercised");
  }

  MESSAGE("kubelet-like mounts under the kubelet folder");
  auto volume = dir / "kubelet" / "pods" / "p1" / "volumes" / "kubernetes.io~empty-dir" / "cache";
  std::filesystem::create_directories(volume);
  REQUIRE(::mount("tmpfs", volume.c_str(), "tmpfs", 0, "size=1m") == 0);
  std::filesystem::create_directories(volume / "inner");
  REQUIRE(::mount("tmpfs", (volume / "inner").c_str(), "tmpfs", 0, "size=1m") == 0);
  REQUIRE(t::mounts_under(dir / "kubelet").size() == 2);

  auto report = node->teardown();
  t::check_report_clean(report);
  CHECK(report.tasks_killed == 2);
  CHECK(report.containers_deleted == 2);
  CHECK(report.unmounted >= 2);
  if (orphan > 0) CHECK(report.cgroup_processes_killed >= 1);

  MESSAGE("nothing of the node is left");
  CHECK(t::processes_with_cmdline({"/bin/sleep", "424242"}).empty());
  CHECK(t::processes_with_cmdline({"/bin/sleep", "424243"}).empty());
  if (orphan > 0) CHECK(!t::process_alive(orphan));
  CHECK(rt::teardown::find_shims({options.runtime.socket.string()}, 0).empty());
  for (pid_t shim : shims) CHECK(!t::process_alive(shim));
  CHECK(t::mounts_under(dir / "kubelet").empty());
  t::check_node_gone(containerd_pid, k3s_pid, dir.path());
  CHECK(sv::proc::zombie_children(::getpid()).empty());

  MESSAGE("a second teardown finds nothing and fails nothing");
  auto again = node->teardown();
  t::check_report_clean(again);
  CHECK(again.tasks_killed == 0);
  CHECK(again.shims_killed == 0);
  CHECK(again.unmounted == 0);
  CHECK(again.cgroup_processes_killed == 0);
}

TEST_CASE("runtime_teardown: after the agent itself crashed, leftovers are found through its pid files") {
  K3S_REQUIRE_CONTAINERD(true);
  t::TempDir dir;
  auto state = dir / "state";
  t::NodeLeftoverGuard guard{state};
  t::ChildProgram driver(t::driver_argv(state, {"--fake-env", "FAKE_K3S_RECORD=" + (dir / "fake-k3s.jsonl").string()}));
  const auto ready = t::read_driver_ready(driver);
  const pid_t containerd_pid = ready.containerd_pid;
  const pid_t k3s_pid = ready.k3s_pid;
  const auto& socket = ready.socket;
  REQUIRE(t::ctr_run_sleep(socket, dir.path(), t::unique_id("pod-crash"), "525252") == "");

  MESSAGE("kill -9 the agent: containerd, the fake-k3s stand-in and the container keep running");
  driver.signal(SIGKILL);
  CHECK(driver.wait(10s) == 128 + SIGKILL);
  CHECK(t::process_alive(containerd_pid));
  CHECK(t::process_alive(k3s_pid));
  CHECK(t::processes_with_cmdline({"/bin/sleep", "525252"}).size() == 1);

  MESSAGE("a new agent run tears the node down from the pid files in its state dir");
  auto report = t::teardown_from_state(state);
  CHECK(report.tasks_killed == 1);
  CHECK(t::wait_until([&] { return !t::process_alive(k3s_pid) && !t::process_alive(containerd_pid); }, 10s));
  CHECK(t::processes_with_cmdline({"/bin/sleep", "525252"}).empty());
  CHECK(rt::teardown::find_shims({socket.string()}, 0).empty());
  t::check_node_gone(containerd_pid, k3s_pid, state);
}

TEST_CASE("runtime_teardown: with our containerd dead as well, shims are found by their socket address and killed") {
  K3S_REQUIRE_CONTAINERD(true);
  t::TempDir dir;
  auto state = dir / "state";
  t::NodeLeftoverGuard guard{state};
  t::ChildProgram driver(t::driver_argv(state));
  const auto ready = t::read_driver_ready(driver);
  const pid_t containerd_pid = ready.containerd_pid;
  const pid_t k3s_pid = ready.k3s_pid;
  const auto& socket = ready.socket;
  REQUIRE(t::ctr_run_sleep(socket, dir.path(), t::unique_id("pod-orphan"), "727272") == "");
  auto shims = rt::teardown::find_shims({socket.string()}, 0);
  REQUIRE(shims.size() == 1);

  MESSAGE("kill -9 the agent and its containerd: only the shim and the container are left (and the stand-in)");
  driver.signal(SIGKILL);
  CHECK(driver.wait(10s) == 128 + SIGKILL);
  ::kill(containerd_pid, SIGKILL);
  CHECK(t::wait_until([&] { return !t::process_alive(containerd_pid); }, 5s));
  CHECK(t::process_alive(shims[0]));
  CHECK(t::processes_with_cmdline({"/bin/sleep", "727272"}).size() == 1);

  auto report = t::teardown_from_state(state);
  CHECK(report.tasks_killed == 0);  // no API to ask
  CHECK(report.shims_killed == 1);
  CHECK(!t::process_alive(shims[0]));
  CHECK(t::processes_with_cmdline({"/bin/sleep", "727272"}).empty());
  CHECK(t::wait_until([&] { return !t::process_alive(k3s_pid); }, 10s));
}

TEST_CASE("runtime_teardown: an ordinary stop leaves pods' containers and data in place; teardown later removes them") {
  K3S_REQUIRE_CONTAINERD(true);
  t::TempDir dir;
  t::NodeLeftoverGuard guard{dir.path()};
  auto options = t::test_node_options(dir.path());
  sv::Supervisor s(t::runtime_test_limits());
  auto node = t::start_node(s, options);
  pid_t containerd_pid = s.status("containerd")->pid;
  REQUIRE(t::ctr_run_sleep(options.runtime.socket, dir.path(), t::unique_id("pod-kept"), "454545") == "");
  REQUIRE(s.run_until([&] { return node->runtime().running_containers().value_or(0) == 1; }, 20s));
  auto volume = dir / "kubelet" / "pods" / "p1" / "volumes" / "kubernetes.io~empty-dir" / "data";
  std::filesystem::create_directories(volume);
  REQUIRE(::mount("tmpfs", volume.c_str(), "tmpfs", 0, "size=1m") == 0);
  std::ofstream(volume / "state") << "pod data";

  MESSAGE("ordinary stop (what SIGTERM to the agent does): k3s and containerd stop, pods stay");
  REQUIRE(node->stop(30s));
  CHECK(!t::process_alive(containerd_pid));
  CHECK(t::processes_with_cmdline({"/bin/sleep", "454545"}).size() == 1);  // the workload still runs
  CHECK(rt::teardown::find_shims({options.runtime.socket.string()}, 0).size() == 1);
  CHECK(t::mounts_under(dir / "kubelet").size() == 1);
  CHECK(t::read_file(volume / "state") == "pod data");

  MESSAGE("a teardown (slash or unstake) afterwards still removes them, from the pid files");
  auto report = node->teardown();
  CHECK(report.errors.empty());
  CHECK(t::processes_with_cmdline({"/bin/sleep", "454545"}).empty());
  CHECK(rt::teardown::find_shims({options.runtime.socket.string()}, 0).empty());
  CHECK(t::mounts_under(dir / "kubelet").empty());
  CHECK(sv::proc::zombie_children(::getpid()).empty());
}
