// The supervisor with plain programs (/bin/sh, /usr/bin/env): environment, process groups,
// output capture, readiness, health, stop/SIGKILL, restarts, signals, zombies.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/supervisor.hpp"
#include "supervisor_test_support.hpp"
#include "support/support.hpp"

using namespace std::chrono_literals;
namespace sv = k3s_daas::supervisor;
using k3s_daas::monotonic_ms;
using k3s_daas::test::EventLog;
using k3s_daas::test::TempDir;

namespace {

sv::ChildSpec shell(const std::string& name, const std::string& script) {
  sv::ChildSpec spec;
  spec.name = name;
  spec.argv = {"/bin/sh", "-c", script};
  spec.env = {"PATH=/usr/bin:/bin"};
  return spec;
}

void check_no_zombies() {
  auto zombies = sv::proc::zombie_children(::getpid());
  CHECK_MESSAGE(zombies.empty(), "zombie children of the test process: ", zombies.size());
}

}  // namespace

TEST_CASE("supervisor_process: the child gets exactly the environment we give, nothing inherited") {
  ::setenv("NOTIFY_SOCKET", "/run/systemd/notify-of-our-own", 1);
  ::setenv("WATCHDOG_USEC", "1000000", 1);
  ::setenv("K3S_DAAS_TEST_SECRET", "inherited", 1);
  sv::Supervisor s(k3s_daas::test::fast_limits());
  sv::ChildSpec spec;
  spec.name = "env-printer";
  spec.argv = {"/usr/bin/env"};
  spec.env = {"PATH=/usr/bin:/bin", "FOO=bar", "WATCHDOG_PID=1"};  // the WATCHDOG_ entry is dropped too
  spec.restart_on_exit = false;
  REQUIRE(s.add(spec).ok());
  REQUIRE(s.start("env-printer").ok());
  REQUIRE(s.run_until([&] { return s.is_stopped("env-printer") && s.status("env-printer")->last_exit; }, 10s));
  auto status = *s.status("env-printer");
  std::vector<std::string> lines = status.output_tail;
  std::sort(lines.begin(), lines.end());
  MESSAGE("the child's environment: captured from its stdout through our log");
  CHECK(lines == std::vector<std::string>{"FOO=bar", "PATH=/usr/bin:/bin"});
  CHECK(status.last_exit->code == 0);
  CHECK(status.state == sv::State::kStopped);
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("K3S_DAAS_TEST_SECRET");
  check_no_zombies();
}

TEST_CASE("supervisor_process: own process group, output line by line, long lines cut") {
  TempDir dir;
  auto limits = k3s_daas::test::fast_limits();
  limits.max_log_line_bytes = 100;
  sv::Supervisor s(limits);
  auto spec = shell("talker",
                    "printf 'first\\nsecond\\n'; printf 'partial-'; printf 'line\\n' 1>&2; "
                    "head -c 250 /dev/zero | tr '\\0' x; echo; printf 'no-newline-at-end'; touch " +
                        (dir / "printed").string() + "; exec sleep 1000");
  spec.pid_file = dir / "talker.pid";
  REQUIRE(s.add(spec).ok());
  REQUIRE(s.start("talker").ok());
  REQUIRE(s.run_until(
      [&] { return s.status("talker")->output_tail.size() >= 6 && std::filesystem::exists(dir / "printed"); }, 10s));
  s.poll_once(50ms);  // the unfinished line is read (and held back) before we stop the child
  auto status = *s.status("talker");
  REQUIRE(status.pid > 0);
  CHECK(status.state == sv::State::kRunning);  // no readiness check: running
  MESSAGE("its own process group, not ours");
  CHECK(::getpgid(status.pid) == status.pid);
  CHECK(::getpgid(status.pid) != ::getpgrp());
  MESSAGE("pid file holds its pid");
  CHECK(sv::proc::live_pid_from_file(dir / "talker.pid") == status.pid);
  const auto& tail = status.output_tail;
  CHECK(tail[0] == "first");
  CHECK(tail[1] == "second");
  // stdout and stderr are separate pipes: "partial-" stays pending on stdout until its line ends.
  CHECK(std::find(tail.begin(), tail.end(), "line") != tail.end());
  CHECK(std::count_if(tail.begin(), tail.end(),
                      [](const std::string& l) { return l.find("[line cut]") != std::string::npos; }) == 2);
  s.stop("talker");
  REQUIRE(s.run_until([&] { return s.is_stopped("talker"); }, 10s));
  status = *s.status("talker");
  MESSAGE("the last partial line is flushed when the child exits");
  CHECK(std::find(status.output_tail.begin(), status.output_tail.end(), "no-newline-at-end") !=
        status.output_tail.end());
  CHECK(!std::filesystem::exists(dir / "talker.pid"));
  CHECK(status.last_exit->requested);
  check_no_zombies();
}

TEST_CASE("supervisor_process: stop sends SIGTERM to the whole group") {
  sv::Supervisor s(k3s_daas::test::fast_limits());
  EventLog log;
  log.attach(s);
  REQUIRE(s.add(shell("family", "sleep 1000 & sleep 1000 & wait")).ok());
  REQUIRE(s.start("family").ok());
  pid_t pgid = 0;
  REQUIRE(s.run_until(
      [&] {
        auto st = s.status("family");
        if (st->pid > 0) pgid = st->pid;
        return pgid > 0 && sv::proc::group_members(pgid).size() == 3;
      },
      10s));
  std::int64_t t0 = monotonic_ms();
  REQUIRE(s.stop_and_wait("family", 10s));
  CHECK(monotonic_ms() - t0 < 1500);  // SIGTERM was enough
  CHECK(log.of(sv::EventKind::kKilled).empty());
  CHECK(sv::proc::group_members(pgid).empty());
  CHECK(s.status("family")->last_exit->signaled);
  check_no_zombies();
}

TEST_CASE("supervisor_process: a child that ignores SIGTERM is SIGKILLed after stop_timeout") {
  sv::Supervisor s(k3s_daas::test::fast_limits());
  EventLog log;
  log.attach(s);
  auto spec = shell("stubborn", "trap '' TERM; sleep 1000 & while :; do sleep 0.05; done");
  spec.stop_timeout = 300ms;
  REQUIRE(s.add(spec).ok());
  REQUIRE(s.start("stubborn").ok());
  REQUIRE(s.run_until([&] { return s.status("stubborn")->pid > 0; }, 5s));
  pid_t pgid = s.status("stubborn")->pid;
  s.poll_once(200ms);
  std::int64_t t0 = monotonic_ms();
  REQUIRE(s.stop_and_wait("stubborn", 10s));
  std::int64_t took = monotonic_ms() - t0;
  MESSAGE("stop took " << took << " ms");
  CHECK(took >= 290);
  CHECK(took < 3000);
  REQUIRE(log.of(sv::EventKind::kKilled, "stubborn").size() == 1);
  auto exit = s.status("stubborn")->last_exit;
  CHECK(exit->signaled);
  CHECK(exit->code == SIGKILL);
  CHECK(sv::proc::group_members(pgid).empty());
  check_no_zombies();
}

TEST_CASE("supervisor_process: unexpected exits restart with backoff, through pidfd and through waitpid") {
  for (bool fallback : {false, true}) {
    CAPTURE(fallback);
    sv::Supervisor s(k3s_daas::test::fast_limits());
    s.force_waitpid_fallback(fallback);
    EventLog log;
    log.attach(s);
    REQUIRE(s.add(shell("quitter", "sleep 1000 & exit 3")).ok());
    REQUIRE(s.start("quitter").ok());
    REQUIRE(s.run_until([&] { return log.of(sv::EventKind::kStarted).size() >= 4; }, 10s));
    CHECK(s.uses_pidfd() == !fallback);
    auto delays = log.of(sv::EventKind::kRestartScheduled);
    REQUIRE(delays.size() >= 3);
    CHECK(delays[0].delay == 10ms);
    CHECK(delays[1].delay == 20ms);
    CHECK(delays[2].delay == 40ms);
    auto exits = log.of(sv::EventKind::kExited);
    REQUIRE(!exits.empty());
    CHECK(exits[0].exit->code == 3);
    CHECK(!exits[0].exit->requested);
    MESSAGE("the `sleep` its group left behind was killed with it");
    for (const auto& e : exits) CHECK(sv::proc::group_members(e.pid).empty());
    REQUIRE(s.stop_and_wait("", 10s));
    check_no_zombies();
  }
}

TEST_CASE("supervisor_process: readiness callback, start_after ordering, and stop_all in reverse") {
  TempDir dir;
  sv::Supervisor s(k3s_daas::test::fast_limits());
  EventLog log;
  log.attach(s);
  auto flag = dir / "runtime-ready";
  auto runtime = shell("runtime", "sleep 0.3; touch " + flag.string() + "; exec sleep 1000");
  runtime.ready_check = [flag] { return std::filesystem::exists(flag); };
  REQUIRE(s.add(runtime).ok());
  auto agent = shell("agent", "exec sleep 1000");
  agent.start_after = {"runtime"};
  REQUIRE(s.add(agent).ok());
  REQUIRE(s.start("agent").ok());  // asked first, but it waits for the runtime
  REQUIRE(s.start("runtime").ok());
  s.poll_once(50ms);
  CHECK(s.status("agent")->pid == 0);
  CHECK(s.status("agent")->waiting_for == "runtime");
  CHECK(s.status("runtime")->state == sv::State::kStarting);
  REQUIRE(s.run_until([&] { return s.is_up("agent"); }, 10s));
  int runtime_ready = log.index_of(sv::EventKind::kReady, "runtime");
  int agent_started = log.index_of(sv::EventKind::kStarted, "agent");
  REQUIRE(runtime_ready >= 0);
  CHECK(agent_started > runtime_ready);
  auto rs = *s.status("runtime");
  CHECK(rs.ready_at_unix_ms - rs.started_at_unix_ms >= 250);

  s.stop_all();
  REQUIRE(s.run_until([&] { return s.all_stopped(); }, 10s));
  int agent_stopped = log.index_of(sv::EventKind::kStopped, "agent");
  int runtime_stopping = log.index_of(sv::EventKind::kStopping, "runtime");
  REQUIRE(agent_stopped >= 0);
  REQUIRE(runtime_stopping >= 0);
  MESSAGE("the agent is stopped before the runtime it starts after is asked to stop");
  CHECK(agent_stopped < runtime_stopping);
  check_no_zombies();
}

TEST_CASE("supervisor_process: not ready in time, or unhealthy, means a restart") {
  sv::Supervisor s(k3s_daas::test::fast_limits());
  EventLog log;
  log.attach(s);
  auto never = shell("never-ready", "exec sleep 1000");
  never.ready_check = [] { return false; };
  never.ready_timeout = 200ms;
  REQUIRE(s.add(never).ok());
  bool healthy = true;
  auto sick = shell("sick", "exec sleep 1000");
  sick.ready_check = [] { return true; };
  sick.health_check = [&healthy] { return healthy; };
  REQUIRE(s.add(sick).ok());
  REQUIRE(s.start("never-ready").ok());
  REQUIRE(s.start("sick").ok());
  REQUIRE(s.run_until([&] { return log.of(sv::EventKind::kRestartScheduled, "never-ready").size() >= 1; }, 10s));
  REQUIRE(s.run_until([&] { return s.status("sick")->state == sv::State::kReady; }, 10s));
  healthy = false;
  REQUIRE(s.run_until([&] { return log.of(sv::EventKind::kRestartScheduled, "sick").size() >= 1; }, 10s));
  CHECK(log.of(sv::EventKind::kUnhealthy, "sick").size() >= 2);
  healthy = true;
  REQUIRE(s.run_until([&] { return s.status("sick")->state == sv::State::kReady; }, 10s));
  REQUIRE(s.stop_and_wait("", 10s));
  check_no_zombies();
}

TEST_CASE("supervisor_process: a program that cannot start is retried with backoff") {
  sv::Supervisor s(k3s_daas::test::fast_limits());
  EventLog log;
  log.attach(s);
  sv::ChildSpec spec;
  spec.name = "missing";
  spec.argv = {"/nonexistent/k3s"};
  REQUIRE(s.add(spec).ok());
  REQUIRE(s.start("missing").ok());
  REQUIRE(s.run_until([&] { return log.of(sv::EventKind::kSpawnFailed).size() >= 3; }, 10s));
  auto st = *s.status("missing");
  CHECK((st.state == sv::State::kBackoff || st.state == sv::State::kStarting));
  CHECK(st.last_exit->code == 127);
  s.stop("missing");
  s.poll_once(0ms);
  CHECK(s.is_stopped("missing"));
  CHECK(!s.add(spec).ok());  // unique names
}

TEST_CASE("supervisor_process: our own signals only set flags the loop hands out") {
  sv::Supervisor s(k3s_daas::test::fast_limits());
  REQUIRE(s.handle_signals({SIGTERM, SIGUSR1, SIGHUP}).ok());
  sv::Supervisor other(k3s_daas::test::fast_limits());
  CHECK(!other.handle_signals({SIGTERM}).ok());  // one owner per process
  ::kill(::getpid(), SIGUSR1);
  ::kill(::getpid(), SIGTERM);
  std::int64_t t0 = monotonic_ms();
  s.poll_once(5s);  // woken at once by the self-pipe
  CHECK(monotonic_ms() - t0 < 1000);
  CHECK(s.take_signal() == SIGUSR1);
  CHECK(s.take_signal() == SIGTERM);
  CHECK(!s.take_signal());
  t0 = monotonic_ms();
  s.wake();
  s.poll_once(5s);
  CHECK(monotonic_ms() - t0 < 1000);
}

TEST_CASE("supervisor_process: notify messages from outside the child's group are ignored") {
  TempDir dir;
  sv::Supervisor s(k3s_daas::test::fast_limits());
  auto spec = shell("notified", "exec sleep 1000");
  spec.notify_socket = dir / "n.sock";
  spec.ready_on_notify = true;
  REQUIRE(s.add(spec).ok());
  REQUIRE(s.start("notified").ok());
  REQUIRE(s.run_until([&] { return s.status("notified")->pid > 0; }, 5s));
  struct stat st {};
  REQUIRE(::stat((dir / "n.sock").c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
  // The test process (not in the child's group) claims readiness: ignored.
  int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, (dir / "n.sock").c_str());
  const char msg[] = "READY=1";
  CHECK(::sendto(fd, msg, sizeof(msg) - 1, 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) > 0);
  ::close(fd);
  s.run_until([] { return false; }, 200ms);
  CHECK(s.status("notified")->state == sv::State::kStarting);
  REQUIRE(s.stop_and_wait("", 10s));
}

TEST_CASE("supervisor_process: destroying the supervisor stops its children and reaps them") {
  pid_t pid = 0;
  {
    sv::Supervisor s(k3s_daas::test::fast_limits());
    REQUIRE(s.add(shell("leftover", "exec sleep 1000")).ok());
    REQUIRE(s.start("leftover").ok());
    REQUIRE(s.run_until([&] { return s.status("leftover")->pid > 0; }, 5s));
    pid = s.status("leftover")->pid;
  }
  CHECK(!k3s_daas::test::process_alive(pid));
  check_no_zombies();
}
