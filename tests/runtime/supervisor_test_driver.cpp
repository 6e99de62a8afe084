// supervisor-test-driver: runs a node the way the daemon will (one Supervisor, our containerd,
// and the fake-k3s STAND-IN for k3s), in one main loop, for tests and benchmarks.
//
//   supervisor-test-driver --state-dir DIR --fake-k3s PATH [--containerd PATH] [--cri]
//                          [--fake-env NAME=VALUE]... [--cgroup-name NAME]...
//
// stdout: one JSON line per milestone: {"event":"ready",...} once k3s is ready, and on SIGTERM
// or SIGINT {"event":"stopped",...} (exit 0 when everything stopped in order), on SIGUSR1 a
// teardown (as after a slash) {"event":"teardown","report":...} (exit 79). Logs go to stderr.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "k3s_daas/fs.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/result.hpp"
#include "k3s_daas/runtime.hpp"
#include "k3s_daas/supervisor.hpp"

namespace sv = k3s_daas::supervisor;
namespace rt = k3s_daas::runtime;

namespace {

void emit(const nlohmann::json& j) { std::cout << j.dump() << std::endl; }

int usage(const char* why) {
  std::cerr << "supervisor-test-driver: " << why << "\n"
            << "usage: supervisor-test-driver --state-dir DIR --fake-k3s PATH [--containerd PATH] [--cri]"
               " [--fake-env NAME=VALUE]... [--cgroup-name NAME]...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path state_dir, fake_k3s, containerd = "/usr/bin/containerd";
  bool cri = false;
  std::vector<std::string> fake_env, cgroup_names;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--state-dir")
      state_dir = value();
    else if (arg == "--fake-k3s")
      fake_k3s = value();
    else if (arg == "--containerd")
      containerd = value();
    else if (arg == "--cri")
      cri = true;
    else if (arg == "--fake-env")
      fake_env.push_back(value());
    else if (arg == "--cgroup-name")
      cgroup_names.push_back(value());
    else
      return usage(("unknown argument " + arg).c_str());
  }
  if (state_dir.empty() || fake_k3s.empty()) return usage("--state-dir and --fake-k3s are required");
  ::signal(SIGPIPE, SIG_IGN);

  sv::Limits limits = sv::Limits::production();
  limits.stop_timeout = std::chrono::seconds(10);
  sv::Supervisor supervisor(limits);
  if (auto handled = supervisor.handle_signals({SIGTERM, SIGINT, SIGUSR1}); !handled.ok()) {
    std::cerr << handled.error().message << "\n";
    return 1;
  }
  std::vector<std::string> order;
  supervisor.add_observer([&order](const sv::Event& e) {
    if (e.kind == sv::EventKind::kStarted || e.kind == sv::EventKind::kReady || e.kind == sv::EventKind::kStopping ||
        e.kind == sv::EventKind::kStopped) {
      order.push_back(e.child + ":" + sv::event_name(e.kind));
    }
  });

  if (auto made = k3s_daas::fs::ensure_dir(state_dir, 0700); !made.ok()) {
    std::cerr << made.error().message << "\n";
    return 1;
  }
  rt::NodeOptions options;
  options.runtime.type = "containerd";
  options.runtime.containerd_binary = containerd;
  options.runtime.socket = state_dir / "run" / "containerd.sock";
  options.runtime.root_dir = state_dir / "containerd-root";
  options.runtime.state_dir = state_dir / "run" / "state";
  options.runtime.work_dir = state_dir / "runtime";
  options.runtime.k3s_data_dir = state_dir / "k3s";
  options.runtime.enable_cri = cri;
  options.k3s.binary = fake_k3s;
  options.k3s.server_url = "https://127.0.0.1:6443";
  options.k3s.token_file = state_dir / "k3s-token";
  options.k3s.node_name = "driver-node";
  options.k3s.data_dir = state_dir / "k3s";
  options.k3s.stop_timeout = std::chrono::seconds(5);
  options.k3s.work_dir = state_dir / "runtime";
  options.k3s.extra_env = fake_env;
  options.teardown.unmount_prefixes = {state_dir / "k3s", state_dir / "kubelet", options.runtime.root_dir,
                                       options.runtime.state_dir};
  options.teardown.cgroup_names = cgroup_names;

  k3s_daas::fs::WriteOptions secret;
  secret.mode = 0600;
  if (auto written = k3s_daas::fs::atomic_write_file(
          options.k3s.token_file, "K10" + std::string(64, 'd') + "::node:driver-not-a-secret\n", secret);
      !written.ok()) {
    std::cerr << written.error().message << "\n";
    return 1;
  }

  auto node = rt::WorkerNode::create(supervisor, options);
  if (!node.ok()) {
    std::cerr << node.error().message << "\n";
    return node.error().exit_code();
  }
  if (auto started = (*node)->start_runtime(); !started.ok()) {
    std::cerr << started.error().message << "\n";
    return 1;
  }
  if (auto started = (*node)->start_k3s(); !started.ok()) {
    std::cerr << started.error().message << "\n";
    return 1;
  }

  bool announced = false;
  for (;;) {
    supervisor.poll_once(std::chrono::seconds(1));
    if (!announced && supervisor.is_up(rt::kK3sChild)) {
      announced = true;
      emit({{"event", "ready"},
            {"driver_pid", ::getpid()},
            {"containerd_pid", supervisor.status(rt::kContainerdChild)->pid},
            {"k3s_pid", supervisor.status(rt::kK3sChild)->pid},
            {"socket", options.runtime.socket.string()},
            {"order", order}});
    }
    auto signal_number = supervisor.take_signal();
    if (!signal_number) continue;
    if (*signal_number == SIGUSR1) {
      auto report = (*node)->teardown();
      emit({{"event", "teardown"},
            {"report", report.to_json()},
            {"order", order},
            {"zombies", sv::proc::zombie_children(::getpid()).size()}});
      return k3s_daas::exit_code::kSlashed;
    }
    K3S_LOG(kDaemon, info, "signal {}: stopping the node", *signal_number);
    bool stopped = (*node)->stop(std::chrono::seconds(60));
    emit({{"event", "stopped"},
          {"ok", stopped},
          {"order", order},
          {"zombies", sv::proc::zombie_children(::getpid()).size()}});
    return stopped ? k3s_daas::exit_code::kOk : k3s_daas::exit_code::kFailure;
  }
}
