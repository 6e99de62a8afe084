// The supervisor-test-driver (one Supervisor running our containerd and the fake-k3s
// STAND-IN for k3s, like the daemon will): SIGTERM stops everything in order and exits 0 with
// nothing left behind; SIGUSR1 (a slash) tears the node down and exits 79.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "k3s_daas/runtime.hpp"
#include "runtime_test_support.hpp"
#include "supervisor_test_support.hpp"
#include "support/support.hpp"

using namespace std::chrono_literals;
namespace rt = k3s_daas::runtime;
namespace sv = k3s_daas::supervisor;
namespace t = k3s_daas::test;

namespace {

long position(const nlohmann::json& order, const std::string& entry) {
  std::vector<std::string> v = order;
  auto it = std::find(v.begin(), v.end(), entry);
  return it == v.end() ? -1 : static_cast<long>(it - v.begin());
}

}  // namespace

TEST_CASE("runtime_driver_sigterm: SIGTERM stops the fake-k3s stand-in, then containerd, and exits 0") {
  K3S_REQUIRE_CONTAINERD(false);
  t::TempDir dir;
  auto state = dir / "state";
  t::NodeLeftoverGuard guard{state};
  t::ChildProgram driver(t::driver_argv(state, {"--fake-env", "FAKE_K3S_TERM_DELAY_MS=300"}));
  auto ready = t::read_driver_ready(driver);
  CHECK(position(ready.line["order"], "containerd:ready") < position(ready.line["order"], "k3s-agent:started"));
  REQUIRE(t::kubelet_standins_in_group(ready.k3s_pid).size() == 1);

  driver.signal(SIGTERM);
  auto stopped = driver.read_json(60s);
  REQUIRE(stopped);
  MESSAGE("driver stopped: " << stopped->dump());
  CHECK((*stopped)["event"] == "stopped");
  CHECK((*stopped)["ok"] == true);
  CHECK((*stopped)["zombies"] == 0);  // the driver reaped every child before exiting
  const auto& order = (*stopped)["order"];
  CHECK(position(order, "k3s-agent:stopping") >= 0);
  CHECK(position(order, "k3s-agent:stopped") < position(order, "containerd:stopping"));
  CHECK(position(order, "containerd:stopped") > position(order, "containerd:stopping"));
  CHECK(driver.wait(30s) == 0);
  t::check_node_gone(ready.containerd_pid, ready.k3s_pid, state);
}

TEST_CASE("runtime_driver_sigterm: SIGUSR1 (a slash) tears the node down and exits 79") {
  K3S_REQUIRE_CONTAINERD(true);
  t::TempDir dir;
  auto state = dir / "state";
  t::NodeLeftoverGuard guard{state};
  t::ChildProgram driver(t::driver_argv(state));
  auto ready = t::read_driver_ready(driver);
  REQUIRE(t::ctr_run_sleep(ready.socket, dir.path(), t::unique_id("pod-slash"), "626262") == "");
  driver.signal(SIGUSR1);
  auto done = driver.read_json(90s);
  REQUIRE(done);
  MESSAGE("teardown: " << done->dump());
  CHECK((*done)["event"] == "teardown");
  CHECK((*done)["report"]["tasks_killed"] == 1);
  CHECK((*done)["report"]["errors"].empty());
  CHECK((*done)["zombies"] == 0);
  CHECK(driver.wait(30s) == 79);
  CHECK(t::processes_with_cmdline({"/bin/sleep", "626262"}).empty());
  t::check_node_gone(ready.containerd_pid, ready.k3s_pid, state);
}
