// The real containerd (Debian's /usr/bin/containerd), started by our runtime under the
// supervisor with its own config, root, state and socket in a temp dir; talked to through the
// gRPC stubs generated at build time.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "k3s_daas/runtime.hpp"
#include "runtime_test_support.hpp"
#include "supervisor_test_support.hpp"
#include "support/support.hpp"

using namespace std::chrono_literals;
namespace rt = k3s_daas::runtime;
namespace sv = k3s_daas::supervisor;
namespace t = k3s_daas::test;

TEST_CASE("runtime_containerd: Version over our stubs, no tasks, kill -9 restarts it healthy, stop leaves nothing") {
  K3S_REQUIRE_CONTAINERD(false);
  t::TempDir dir;
  t::NodeLeftoverGuard guard{dir.path()};
  auto options = t::test_node_options(dir.path(), {}, /*enable_cri=*/true);  // the production config shape
  sv::Supervisor s(t::runtime_test_limits());
  t::EventLog log;
  log.attach(s);
  auto made = rt::make_runtime(options.runtime, s.limits());
  REQUIRE(made.ok());
  auto& runtime = **made;
  CHECK(runtime.child_name() == "containerd");
  REQUIRE(runtime.start(s).ok());
  MESSAGE("waiting for containerd to answer Version");
  REQUIRE(s.run_until([&] { return runtime.ready_for_k3s(s); }, 30s));

  auto config_file = options.runtime.work_dir / "containerd.toml";
  struct stat st {};
  REQUIRE(::stat(config_file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(t::read_file(config_file).find(options.runtime.socket.string()) != std::string::npos);
  CHECK(t::containerd_processes(config_file).size() == 1);

  auto version = runtime.version();
  REQUIRE_MESSAGE(version.ok(), (version.ok() ? "" : version.error().message));
  MESSAGE("containerd version " << *version);
  CHECK(version->find("1.") == 0);
  auto running = runtime.running_containers();
  REQUIRE_MESSAGE(running.ok(), (running.ok() ? "" : running.error().message));
  CHECK(*running == 0);
  CHECK(runtime.k3s_flags() ==
        std::vector<std::string>{"--container-runtime-endpoint", "unix://" + options.runtime.socket.string()});

  auto first = *s.status("containerd");
  CHECK(sv::proc::live_pid_from_file(options.runtime.work_dir / "containerd.pid") == first.pid);
  MESSAGE("kill -9 containerd (pid " << first.pid << ")");
  ::kill(first.pid, SIGKILL);
  REQUIRE(s.run_until(
      [&] {
        auto now = s.status("containerd");
        return now->pid > 0 && now->pid != first.pid && s.is_up("containerd");
      },
      30s));
  auto second = *s.status("containerd");
  CHECK(second.restarts == 1);
  REQUIRE(second.last_exit);
  CHECK(second.last_exit->signaled);
  CHECK(second.last_exit->code == SIGKILL);
  CHECK(log.of(sv::EventKind::kRestartScheduled, "containerd")[0].delay == s.limits().restart_initial_delay);
  auto again = runtime.version();
  REQUIRE_MESSAGE(again.ok(), (again.ok() ? "" : again.error().message));
  CHECK(runtime.running_containers().value_or(99) == 0);

  REQUIRE(s.stop_and_wait("containerd", 30s));
  CHECK(!t::process_alive(second.pid));
  CHECK(t::containerd_processes(config_file).empty());
  CHECK(!std::filesystem::exists(options.runtime.work_dir / "containerd.pid"));
  CHECK(sv::proc::zombie_children(::getpid()).empty());
  CHECK(!runtime.version().ok());
}

TEST_CASE("runtime_containerd: a containerd that stops answering fails its health checks and is restarted") {
  K3S_REQUIRE_CONTAINERD(false);
  t::TempDir dir;
  t::NodeLeftoverGuard guard{dir.path()};
  auto options = t::test_node_options(dir.path());
  auto limits = t::runtime_test_limits();
  limits.rpc_timeout = 300ms;
  limits.stop_timeout = 500ms;
  sv::Supervisor s(limits);
  t::EventLog log;
  log.attach(s);
  auto made = rt::make_runtime(options.runtime, s.limits());
  REQUIRE(made.ok());
  REQUIRE((*made)->start(s).ok());
  REQUIRE(s.run_until([&] { return s.is_up("containerd"); }, 30s));
  pid_t frozen = s.status("containerd")->pid;
  MESSAGE("SIGSTOP to containerd (pid " << frozen << "): it stops answering Version");
  ::kill(frozen, SIGSTOP);
  REQUIRE(s.run_until([&] { return !log.of(sv::EventKind::kKilled, "containerd").empty(); }, 30s));
  CHECK(log.of(sv::EventKind::kUnhealthy, "containerd").size() >= limits.health_failures_before_restart);
  REQUIRE(s.run_until(
      [&] {
        auto st = s.status("containerd");
        return st->pid != frozen && s.is_up("containerd");
      },
      30s));
  CHECK(!t::process_alive(frozen));
  CHECK((*made)->version().ok());
  REQUIRE(s.stop_and_wait("", 30s));
  CHECK(t::containerd_processes(options.runtime.work_dir / "containerd.toml").empty());
}
