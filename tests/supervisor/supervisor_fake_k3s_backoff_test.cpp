// With fake-k3s (a STAND-IN for k3s): 50 crashes in a row follow the backoff schedule of a
// shrunk limits table, enter the crash-loop state, and a good run resets the schedule.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/supervisor.hpp"
#include "supervisor_test_support.hpp"
#include "support/support.hpp"

using namespace std::chrono_literals;
namespace sv = k3s_daas::supervisor;
namespace t = k3s_daas::test;

TEST_CASE("supervisor_fake_k3s_backoff: 50 crashes of the fake-k3s stand-in follow the backoff schedule") {
  t::TempDir dir;
  auto limits = t::fast_limits();
  limits.restart_reset_after = 400ms;  // far longer than a crashing run, so no reset during the 50
  sv::Supervisor s(limits);
  t::EventLog log;
  log.attach(s);
  auto control = dir / "control";
  { std::ofstream(control) << "crash\n"; }
  auto spec = t::fake_k3s_spec(dir.path(), {"FAKE_K3S_CONTROL=" + control.string()});
  spec.notify_socket = dir / "k3s.notify";
  spec.ready_on_notify = true;
  REQUIRE(s.add(spec).ok());
  REQUIRE(s.start("k3s-agent").ok());

  MESSAGE("letting the fake-k3s stand-in crash 50 times in a row");
  bool saw_crash_loop_state = false;
  bool saw_backoff_state = false;
  std::vector<pid_t> crashed_groups;
  REQUIRE(s.run_until(
      [&] {
        auto st = *s.status("k3s-agent");
        if (st.state == sv::State::kCrashLoop) {
          saw_crash_loop_state = true;
          CHECK(st.crash_loop);
          CHECK(st.restarts_in_window >= limits.crash_loop_restarts);
          CHECK(st.next_restart_unix_ms > 0);
        }
        if (st.state == sv::State::kBackoff) saw_backoff_state = true;
        return log.of(sv::EventKind::kExited).size() >= 50;
      },
      60s));
  // Stop the crashing right after the 50th exit.
  { std::ofstream(control) << "normal\n"; }

  auto scheduled = log.of(sv::EventKind::kRestartScheduled);
  REQUIRE(scheduled.size() >= 50);
  auto expected = sv::backoff_schedule(limits, 50);
  for (std::size_t i = 0; i < 50; ++i) {
    CAPTURE(i);
    CHECK(scheduled[i].delay == expected[i]);
  }
  CHECK(expected[0] == 10ms);
  CHECK(expected[3] == 80ms);
  CHECK(expected[49] == 80ms);

  MESSAGE("each restart came no sooner than its delay after the exit");
  auto exits = log.of(sv::EventKind::kExited);
  auto starts = log.of(sv::EventKind::kStarted);
  REQUIRE(starts.size() >= 50);
  for (std::size_t i = 0; i + 1 < 50; ++i) {
    CAPTURE(i);
    std::int64_t waited = starts[i + 1].at_monotonic_ms - exits[i].at_monotonic_ms;
    CHECK(waited >= expected[i].count());
    CHECK(waited < expected[i].count() + 500);
    crashed_groups.push_back(exits[i].pid);
  }
  CHECK(saw_backoff_state);
  CHECK(saw_crash_loop_state);
  CHECK(log.of(sv::EventKind::kCrashLoop).size() == 1);  // reported once, not 46 times

  MESSAGE("the kubelet stand-in each crash left behind was killed with its group");
  for (pid_t group : crashed_groups) CHECK(t::kubelet_standins_in_group(group).empty());

  MESSAGE("switched to a healthy run: ready through READY=1 on the private notify socket");
  REQUIRE(s.run_until([&] { return s.status("k3s-agent")->state == sv::State::kReady; }, 10s));
  auto st = *s.status("k3s-agent");
  CHECK(st.restarts >= 50);
  CHECK(st.crash_loop);  // still 50 restarts within the window
  CHECK(st.notify_status.find("stand-in") != std::string::npos);

  MESSAGE("after restart_reset_after of good running, the next failure starts again at the first delay");
  s.run_until([] { return false; }, limits.restart_reset_after + 100ms);
  std::size_t before = scheduled.size();
  s.kill_now("k3s-agent", SIGKILL);
  REQUIRE(s.run_until([&] { return log.of(sv::EventKind::kRestartScheduled).size() > before; }, 10s));
  CHECK(log.of(sv::EventKind::kRestartScheduled).back().delay == limits.restart_initial_delay);
  REQUIRE(s.run_until([&] { return s.is_up("k3s-agent"); }, 10s));

  REQUIRE(s.stop_and_wait("", 10s));
  CHECK(sv::proc::zombie_children(::getpid()).empty());
  auto records = t::read_records(dir / "fake-k3s.jsonl");
  CHECK(t::records_of(records, "start").size() >= 52);
}
