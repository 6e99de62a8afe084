// With fake-k3s (a STAND-IN for k3s): readiness through our private notify socket, a clean
// environment, SIGTERM/SIGKILL stops, exit-now restarts, and the stand-in's own flag checks.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/supervisor.hpp"
#include "supervisor_test_support.hpp"
#include "support/support.hpp"

using namespace std::chrono_literals;
namespace sv = k3s_daas::supervisor;
namespace t = k3s_daas::test;
using k3s_daas::monotonic_ms;

TEST_CASE("supervisor_fake_k3s_stop: ready through READY=1 on our private notify socket, clean environment") {
  ::setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);  // ours, from systemd: must not leak
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  t::TempDir dir;
  sv::Supervisor s(t::fast_limits());
  auto spec = t::fake_k3s_spec(dir.path(), {"FAKE_K3S_READY_DELAY_MS=300"});
  spec.notify_socket = dir / "k3s-agent.notify";
  spec.ready_on_notify = true;
  REQUIRE(s.add(spec).ok());
  REQUIRE(s.start("k3s-agent").ok());
  REQUIRE(s.run_until([&] { return s.status("k3s-agent")->pid > 0; }, 5s));
  s.run_until([] { return false; }, 100ms);
  CHECK(s.status("k3s-agent")->state == sv::State::kStarting);  // no READY=1 yet
  REQUIRE(s.run_until([&] { return s.is_up("k3s-agent"); }, 10s));
  auto st = *s.status("k3s-agent");
  CHECK(st.state == sv::State::kReady);
  CHECK(st.ready_at_unix_ms - st.started_at_unix_ms >= 250);

  struct stat sock {};
  REQUIRE(::stat(spec.notify_socket.c_str(), &sock) == 0);
  CHECK(S_ISSOCK(sock.st_mode));
  CHECK((sock.st_mode & 0777) == 0600);

  auto starts = t::records_of(t::read_records(dir / "fake-k3s.jsonl"), "start");
  REQUIRE(starts.size() == 1);
  MESSAGE("what the fake-k3s stand-in saw: " << starts[0].dump());
  CHECK(starts[0]["notify_socket"] == spec.notify_socket.string());
  std::vector<std::string> env_names = starts[0]["env_names"];
  CHECK(env_names == std::vector<std::string>{"FAKE_K3S_READY_DELAY_MS", "FAKE_K3S_RECORD", "NOTIFY_SOCKET", "PATH"});
  CHECK(starts[0]["pgid"] == starts[0]["pid"]);
  CHECK(starts[0]["token_on_command_line"] == false);
  REQUIRE(s.stop_and_wait("", 10s));
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
}

TEST_CASE("supervisor_fake_k3s_stop: a stand-in that never sends READY=1 stays starting") {
  t::TempDir dir;
  sv::Supervisor s(t::fast_limits());
  auto spec = t::fake_k3s_spec(dir.path(), {"FAKE_K3S_MODE=no-ready"});
  spec.notify_socket = dir / "k3s-agent.notify";
  spec.ready_on_notify = true;
  REQUIRE(s.add(spec).ok());
  REQUIRE(s.start("k3s-agent").ok());
  s.run_until([] { return false; }, 500ms);
  CHECK(s.status("k3s-agent")->state == sv::State::kStarting);
  CHECK(s.status("k3s-agent")->pid > 0);
  REQUIRE(s.stop_and_wait("", 10s));
}

TEST_CASE("supervisor_fake_k3s_stop: SIGTERM with a slow exit stays within the timeout; hang-on-term is SIGKILLed") {
  t::TempDir dir;
  auto limits = t::fast_limits();
  sv::Supervisor s(limits);
  t::EventLog log;
  log.attach(s);

  auto slow = t::fake_k3s_spec(dir.path(), {"FAKE_K3S_TERM_DELAY_MS=200"}, "slow");
  slow.stop_timeout = 2s;
  auto hung = t::fake_k3s_spec(dir.path(), {"FAKE_K3S_MODE=hang-on-term"}, "hung");
  hung.stop_timeout = 400ms;
  REQUIRE(s.add(slow).ok());
  REQUIRE(s.add(hung).ok());
  REQUIRE(s.start("slow").ok());
  REQUIRE(s.start("hung").ok());
  pid_t slow_group = 0, hung_group = 0;
  REQUIRE(s.run_until(
      [&] {
        slow_group = s.status("slow")->pid;
        hung_group = s.status("hung")->pid;
        return slow_group > 0 && hung_group > 0 && t::kubelet_standins_in_group(slow_group).size() == 1 &&
               t::kubelet_standins_in_group(hung_group).size() == 1;
      },
      10s));

  std::int64_t t0 = monotonic_ms();
  REQUIRE(s.stop_and_wait("slow", 10s));
  std::int64_t slow_took = monotonic_ms() - t0;
  CHECK(slow_took >= 190);
  CHECK(slow_took < 1500);
  CHECK(log.of(sv::EventKind::kKilled, "slow").empty());
  CHECK(s.status("slow")->last_exit->code == 0);
  CHECK(!s.status("slow")->last_exit->signaled);

  t0 = monotonic_ms();
  REQUIRE(s.stop_and_wait("hung", 10s));
  std::int64_t hung_took = monotonic_ms() - t0;
  MESSAGE("hang-on-term stand-in stopped in " << hung_took << " ms (stop_timeout 400 ms)");
  CHECK(hung_took >= 390);
  CHECK(hung_took < 3000);
  CHECK(log.of(sv::EventKind::kKilled, "hung").size() == 1);
  CHECK(s.status("hung")->last_exit->signaled);
  CHECK(s.status("hung")->last_exit->code == SIGKILL);

  MESSAGE("nothing of either process group is left");
  CHECK(sv::proc::group_members(slow_group).empty());
  CHECK(sv::proc::group_members(hung_group).empty());
  CHECK(sv::proc::zombie_children(::getpid()).empty());
  auto terms = t::records_of(t::read_records(dir / "fake-k3s.jsonl"), "term");
  CHECK(terms.size() >= 2);
}

TEST_CASE("supervisor_fake_k3s_stop: an exit with code 0 we did not ask for is restarted") {
  t::TempDir dir;
  sv::Supervisor s(t::fast_limits());
  t::EventLog log;
  log.attach(s);
  REQUIRE(s.add(t::fake_k3s_spec(dir.path(), {"FAKE_K3S_MODE=exit-now"})).ok());
  REQUIRE(s.start("k3s-agent").ok());
  REQUIRE(s.run_until([&] { return log.of(sv::EventKind::kStarted).size() >= 3; }, 10s));
  CHECK(log.of(sv::EventKind::kExited)[0].exit->code == 0);
  REQUIRE(s.stop_and_wait("", 10s));
  CHECK(sv::proc::zombie_children(::getpid()).empty());
}

TEST_CASE("supervisor_fake_k3s_stop: the fake-k3s stand-in checks flags and the token file like k3s") {
  t::TempDir dir;
  auto token = t::write_token_file(dir.path());
  std::string fake = t::fake_k3s_binary().string();
  t::RunOptions quiet;
  quiet.env["FAKE_K3S_MODE"] = "exit-now";
  quiet.env["FAKE_K3S_NO_CHILD"] = "1";
  auto ok =
      t::run({fake, "agent", "--server", "https://10.0.0.1:6443", "--token-file", token.string(), "--node-name", "w1",
              "--with-node-id", "--node-ip=10.0.0.2", "--kubelet-arg", "max-pods=50", "--docker", "--debug", "-v", "2"},
             quiet);
  CHECK(ok.exit_code == 0);
  auto unknown =
      t::run({fake, "agent", "--server", "https://x:6443", "--token-file", token.string(), "--bogus"}, quiet);
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("flag provided but not defined") != std::string::npos);
  CHECK(unknown.err.find("stand-in for k3s") != std::string::npos);
  auto loose = t::write_token_file(dir.path(), 0644);
  auto bad_mode = t::run({fake, "agent", "--server", "https://x:6443", "--token-file", loose.string()}, quiet);
  CHECK(bad_mode.exit_code == 1);
  auto missing = t::run({fake, "agent", "--server", "https://x:6443", "--token-file", (dir / "none").string()}, quiet);
  CHECK(missing.exit_code == 1);
  auto server = t::run({fake, "server"}, quiet);
  CHECK(server.exit_code == 1);
}
