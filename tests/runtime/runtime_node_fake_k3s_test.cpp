// The node with the real containerd and fake-k3s (a STAND-IN for k3s): k3s waits for the
// runtime, gets our command line (never the token), reports READY=1 on our private socket,
// keeps its node name across restarts, and an ordinary stop takes k3s down before containerd.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "k3s_daas/runtime.hpp"
#include "runtime_test_support.hpp"
#include "supervisor_test_support.hpp"
#include "support/support.hpp"

using namespace std::chrono_literals;
namespace rt = k3s_daas::runtime;
namespace sv = k3s_daas::supervisor;
namespace t = k3s_daas::test;

namespace {

std::string flag_value(const std::vector<std::string>& argv, const std::string& flag) {
  for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return {};
}

}  // namespace

TEST_CASE(
    "runtime_node_fake_k3s: the fake-k3s stand-in starts after containerd is ready, with our flags, never the token") {
  K3S_REQUIRE_CONTAINERD(false);
  ::setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  t::TempDir dir;
  t::NodeLeftoverGuard guard{dir.path()};
  auto options = t::test_node_options(dir.path());
  sv::Supervisor s(t::runtime_test_limits());
  t::EventLog log;
  log.attach(s);
  auto node = rt::WorkerNode::create(s, options);
  REQUIRE(node.ok());

  MESSAGE("k3s asked for before the runtime: it must wait");
  REQUIRE((*node)->start_k3s().ok());
  s.run_until([] { return false; }, 200ms);
  CHECK(s.status("k3s-agent")->pid == 0);
  CHECK(s.status("k3s-agent")->waiting_for == "containerd");
  REQUIRE((*node)->start_runtime().ok());
  REQUIRE(s.run_until([&] { return s.is_up("k3s-agent"); }, 30s));
  int containerd_ready = log.index_of(sv::EventKind::kReady, "containerd");
  int k3s_started = log.index_of(sv::EventKind::kStarted, "k3s-agent");
  REQUIRE(containerd_ready >= 0);
  CHECK(k3s_started > containerd_ready);

  auto records = t::read_records(dir / "fake-k3s.jsonl");
  auto starts = t::records_of(records, "start");
  REQUIRE(starts.size() == 1);
  std::vector<std::string> argv = starts[0]["argv"];
  MESSAGE("the fake-k3s stand-in was started as: " << starts[0]["argv"].dump());
  CHECK(argv[1] == "agent");
  CHECK(flag_value(argv, "--server") == "https://127.0.0.1:6443");
  CHECK(flag_value(argv, "--token-file") == options.k3s.token_file.string());
  CHECK(flag_value(argv, "--node-name") == "worker-test");
  CHECK(flag_value(argv, "--data-dir") == (dir / "k3s").string());
  CHECK(flag_value(argv, "--container-runtime-endpoint") == "unix://" + options.runtime.socket.string());
  CHECK(starts[0]["token_on_command_line"] == false);
  for (const auto& a : argv) CHECK(a.find("K10") == std::string::npos);
  std::vector<std::string> env_names = starts[0]["env_names"];
  CHECK(env_names == std::vector<std::string>{"FAKE_K3S_RECORD", "HOME", "NOTIFY_SOCKET", "PATH"});
  auto notify = rt::k3s_notify_socket_path(options.k3s.work_dir);
  CHECK(starts[0]["notify_socket"] == notify.string());
  struct stat st {};
  REQUIRE(::stat(notify.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(starts[0]["token_file_mode"] == 0600);

  auto status = (*node)->status();
  auto j = status.to_json();
  MESSAGE("node status: " << j.dump());
  CHECK(j["runtime"]["type"] == "containerd");
  CHECK(j["runtime"]["state"] == "ready");
  CHECK(!j["runtime"]["version"].get<std::string>().empty());
  CHECK(j["k3s"]["state"] == "ready");
  CHECK(j["running_containers"] == 0);

  MESSAGE("the stand-in crashes: restarted with the same node name and command line");
  pid_t first = s.status("k3s-agent")->pid;
  s.kill_now("k3s-agent", SIGKILL);
  REQUIRE(s.run_until([&] { return s.is_up("k3s-agent") && s.status("k3s-agent")->pid != first; }, 30s));
  starts = t::records_of(t::read_records(dir / "fake-k3s.jsonl"), "start");
  REQUIRE(starts.size() == 2);
  CHECK(starts[1]["argv"] == starts[0]["argv"]);
  CHECK(t::kubelet_standins_in_group(first).empty());

  MESSAGE("ordinary stop: k3s first, then containerd; nothing left");
  pid_t k3s_pid = s.status("k3s-agent")->pid;
  pid_t containerd_pid = s.status("containerd")->pid;
  REQUIRE((*node)->stop(30s));
  int k3s_stopped = log.index_of(sv::EventKind::kStopped, "k3s-agent");
  int containerd_stopping = log.index_of(sv::EventKind::kStopping, "containerd");
  REQUIRE(k3s_stopped >= 0);
  CHECK(containerd_stopping > k3s_stopped);
  CHECK(!t::process_alive(k3s_pid));
  CHECK(!t::process_alive(containerd_pid));
  CHECK(t::kubelet_standins_in_group(k3s_pid).empty());
  CHECK(t::containerd_processes(options.runtime.work_dir / "containerd.toml").empty());
  CHECK(sv::proc::zombie_children(::getpid()).empty());
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
}

TEST_CASE("runtime_node_fake_k3s: a token file that is not 0600 is refused before k3s starts") {
  t::TempDir dir;
  t::NodeLeftoverGuard guard{dir.path()};
  auto options = t::test_node_options(dir.path());
  ::chmod(options.k3s.token_file.c_str(), 0644);
  sv::Supervisor s(t::runtime_test_limits());
  auto node = rt::WorkerNode::create(s, options);
  REQUIRE(node.ok());
  auto started = (*node)->start_k3s();
  REQUIRE(!started.ok());
  CHECK(started.error().message.find("k3s token file") != std::string::npos);
  CHECK(!s.has("k3s-agent"));
  t::write_file(options.k3s.token_file, "", 0600);
  auto empty = (*node)->start_k3s();
  REQUIRE(!empty.ok());
  CHECK(empty.error().message.find("empty") != std::string::npos);
}
