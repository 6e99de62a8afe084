// The limits table: production values and the backoff schedule they give.
#include <doctest/doctest.h>

#include "k3s_daas/supervisor.hpp"
#include "supervisor_test_support.hpp"

using namespace std::chrono_literals;
namespace sv = k3s_daas::supervisor;

TEST_CASE("supervisor_limits: the production table is 1 s doubling to 5 min, reset after 10 min") {
  const sv::Limits limits = sv::Limits::production();
  MESSAGE("checking the production limits table");
  CHECK(limits.restart_initial_delay == 1s);
  CHECK(limits.restart_max_delay == 5min);
  CHECK(limits.restart_reset_after == 10min);
  CHECK(limits.restart_jitter == 0.0);
  CHECK(limits.crash_loop_restarts == 5);
  CHECK(limits.crash_loop_window == 10min);
  CHECK(limits.stop_timeout == 30s);
  CHECK(limits.kill_timeout == 5s);
  CHECK(limits.health_interval == 5s);
  CHECK(limits.health_failures_before_restart == 3);

  auto schedule = sv::backoff_schedule(limits, 12);
  std::vector<std::chrono::milliseconds> expected = {1s, 2s, 4s, 8s, 16s, 32s, 64s, 128s, 256s, 5min, 5min, 5min};
  CHECK(schedule == expected);
}

TEST_CASE("supervisor_limits: a shrunk table gives the same doubling") {
  auto limits = k3s_daas::test::fast_limits();
  auto schedule = sv::backoff_schedule(limits, 6);
  std::vector<std::chrono::milliseconds> expected = {10ms, 20ms, 40ms, 80ms, 80ms, 80ms};
  CHECK(schedule == expected);
}

TEST_CASE("supervisor_limits: jitter keeps each delay within [d/2, d]") {
  auto limits = sv::Limits::production();
  limits.restart_jitter = 0.5;
  auto schedule = sv::backoff_schedule(limits, 10);
  auto exact = sv::backoff_schedule(sv::Limits::production(), 10);
  for (std::size_t i = 0; i < schedule.size(); ++i) {
    CHECK(schedule[i] <= exact[i]);
    CHECK(schedule[i] >= exact[i] / 2);
  }
}

TEST_CASE("supervisor_limits: state names and status JSON") {
  CHECK(std::string(sv::state_name(sv::State::kStarting)) == "starting");
  CHECK(std::string(sv::state_name(sv::State::kReady)) == "ready");
  CHECK(std::string(sv::state_name(sv::State::kRunning)) == "running");
  CHECK(std::string(sv::state_name(sv::State::kBackoff)) == "backoff");
  CHECK(std::string(sv::state_name(sv::State::kCrashLoop)) == "crash-loop");
  CHECK(std::string(sv::state_name(sv::State::kStopping)) == "stopping");
  CHECK(std::string(sv::state_name(sv::State::kStopped)) == "stopped");

  sv::ChildStatus s;
  s.name = "k3s-agent";
  s.state = sv::State::kCrashLoop;
  s.restarts = 7;
  s.restarts_in_window = 6;
  s.crash_loop = true;
  sv::ExitInfo exit;
  exit.pid = 42;
  exit.signaled = true;
  exit.code = 9;
  s.last_exit = exit;
  auto j = sv::to_json(s);
  CHECK(j["state"] == "crash-loop");
  CHECK(j["restarts"] == 7);
  CHECK(j["crash_loop"] == true);
  CHECK(j["last_exit"]["signaled"] == true);
  CHECK(j["last_exit"]["description"].get<std::string>().find("signal 9") != std::string::npos);
}
