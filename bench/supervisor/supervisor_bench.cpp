// supervisor-bench: how fast the supervisor brings a crashed k3s back (fake-k3s, a STAND-IN for
// k3s), against the backoff delay it is meant to wait, and what the supervisor itself costs
// while idle with two children (our containerd + fake-k3s).
//
//   supervisor-bench [--iterations N] [--idle-seconds S] [--work-dir DIR]
//
// Part 2 needs root and /usr/bin/containerd; it is skipped (with a note) otherwise.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/fs.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/runtime.hpp"
#include "k3s_daas/supervisor.hpp"

namespace sv = k3s_daas::supervisor;
namespace rt = k3s_daas::runtime;
using namespace std::chrono_literals;

namespace {

std::filesystem::path make_work_dir(const std::string& given) {
  if (!given.empty()) {
    std::filesystem::create_directories(given);
    return given;
  }
  std::string tmpl = "/tmp/k3s-daas-bench-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::exit(1);
  return tmpl;
}

std::filesystem::path write_token(const std::filesystem::path& dir) {
  auto path = dir / "k3s-token";
  k3s_daas::fs::WriteOptions options;
  options.mode = 0600;
  (void)k3s_daas::fs::atomic_write_file(path, "K10" + std::string(64, 'b') + "::node:bench-not-a-secret\n", options);
  return path;
}

std::vector<nlohmann::json> read_records(const std::filesystem::path& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line, nullptr, false));
  }
  return out;
}

struct Stats {
  double min = 0, median = 0, p90 = 0, max = 0;
};

Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.median = v[v.size() / 2];
  s.p90 = v[std::min(v.size() - 1, v.size() * 9 / 10)];
  return s;
}

// Crash -> restart of the fake-k3s stand-in with a given first backoff delay. Returns the
// restart times (from the stand-in's last record before it exits to the first record of its
// successor: both are written by the stand-in itself, in wall-clock ms).
std::vector<double> crash_to_restart(const std::filesystem::path& dir, std::chrono::milliseconds first_delay,
                                     int iterations) {
  sv::Limits limits = sv::Limits::production();
  limits.restart_initial_delay = first_delay;
  limits.restart_reset_after = 0ms;  // every run counts as good: every restart waits the first delay
  limits.crash_loop_restarts = 1000;
  sv::Supervisor supervisor(limits);
  auto record = dir / ("fake-k3s-" + std::to_string(first_delay.count()) + ".jsonl");
  std::filesystem::remove(record);
  sv::ChildSpec spec;
  spec.name = rt::kK3sChild;
  spec.argv = {
      K3S_DAAS_FAKE_K3S, "agent", "--server",   "https://127.0.0.1:6443", "--token-file", write_token(dir).string(),
      "--node-name",     "bench", "--data-dir", (dir / "k3s").string()};
  spec.env = {"PATH=/usr/bin:/bin", "FAKE_K3S_MODE=crash-after-ms=50", "FAKE_K3S_NO_CHILD=1",
              "FAKE_K3S_RECORD=" + record.string()};
  spec.notify_socket = dir / "bench.notify";
  spec.ready_on_notify = true;
  if (!supervisor.add(spec).ok() || !supervisor.start(spec.name).ok()) std::exit(1);
  int exits = 0;
  supervisor.add_observer([&exits](const sv::Event& e) {
    if (e.kind == sv::EventKind::kExited) ++exits;
  });
  supervisor.run_until([&] { return exits >= iterations; },
                       std::chrono::milliseconds((first_delay.count() + 500) * (iterations + 2)));
  // Let the last restart happen.
  supervisor.run_until([&] { return supervisor.is_up(spec.name); }, first_delay + 5s);
  supervisor.stop_and_wait("", 10s);

  std::vector<double> out;
  std::int64_t last_exit = -1;
  for (const auto& r : read_records(record)) {
    if (!r.is_object()) continue;
    std::string event = r.value("event", "");
    if (event == "exit") last_exit = r.value("at_ms", std::int64_t{-1});
    if (event == "start" && last_exit >= 0) {
      out.push_back(static_cast<double>(r.value("at_ms", std::int64_t{0}) - last_exit));
      last_exit = -1;
    }
  }
  return out;
}

double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

long status_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return -1;
}

void idle_cost(const std::filesystem::path& dir, int seconds) {
  if (::geteuid() != 0 || ::access("/usr/bin/containerd", X_OK) != 0) {
    std::cout << "\nidle cost: SKIPPED (needs root and /usr/bin/containerd)\n";
    return;
  }
  sv::Supervisor supervisor(sv::Limits::production());
  rt::NodeOptions options;
  options.runtime.socket = dir / "run" / "containerd.sock";
  options.runtime.root_dir = dir / "containerd-root";
  options.runtime.state_dir = dir / "run" / "state";
  options.runtime.work_dir = dir / "runtime";
  options.runtime.enable_cri = false;
  options.k3s.binary = K3S_DAAS_FAKE_K3S;
  options.k3s.server_url = "https://127.0.0.1:6443";
  options.k3s.token_file = write_token(dir);
  options.k3s.node_name = "bench";
  options.k3s.data_dir = dir / "k3s";
  options.k3s.work_dir = dir / "runtime";
  options.k3s.stop_timeout = 5s;
  auto node = rt::WorkerNode::create(supervisor, options);
  if (!node.ok() || !(*node)->start_runtime().ok() || !(*node)->start_k3s().ok()) {
    std::cout << "idle cost: could not start the node\n";
    return;
  }
  if (!supervisor.run_until([&] { return supervisor.is_up(rt::kK3sChild); }, 30s)) {
    std::cout << "idle cost: the node did not become ready\n";
    return;
  }
  // Settle: containerd's start-up output is read before measuring.
  supervisor.run_until([] { return false; }, 1s);
  double cpu_before = cpu_seconds();
  std::int64_t t0 = k3s_daas::monotonic_ms();
  supervisor.run_until([] { return false; }, std::chrono::seconds(seconds));
  double wall = static_cast<double>(k3s_daas::monotonic_ms() - t0) / 1000.0;
  double cpu = cpu_seconds() - cpu_before;
  pid_t containerd_pid = supervisor.status(rt::kContainerdChild)->pid;
  std::printf("\nidle cost over %.1f s with 2 children (containerd, fake-k3s), production limits table\n", wall);
  std::printf("  supervisor CPU (user+sys)      %8.1f ms  (%.3f %% of one core)\n", cpu * 1000.0, 100.0 * cpu / wall);
  std::printf("  supervisor RSS                 %8ld KiB (peak %ld KiB)\n", status_kib(::getpid(), "VmRSS"),
              status_kib(::getpid(), "VmHWM"));
  std::printf("  supervisor threads             %8ld     (gRPC's own included)\n", status_kib(::getpid(), "Threads"));
  std::printf("  for reference: containerd RSS  %8ld KiB\n", status_kib(containerd_pid, "VmRSS"));
  (*node)->stop(30s);
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 20;
  int idle_seconds = 10;
  std::string work_dir;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--iterations" && i + 1 < argc)
      iterations = std::atoi(argv[++i]);
    else if (arg == "--idle-seconds" && i + 1 < argc)
      idle_seconds = std::atoi(argv[++i]);
    else if (arg == "--work-dir" && i + 1 < argc)
      work_dir = argv[++i];
    else {
      std::cerr << "usage: supervisor-bench [--iterations N] [--idle-seconds S] [--work-dir DIR]\n";
      return 2;
    }
  }
  (void)k3s_daas::log::init({.level = "warn"});
  auto dir = make_work_dir(work_dir);
  std::cout << "supervisor-bench (fake-k3s is a stand-in for k3s), work dir " << dir << "\n\n";
  std::cout << "crash -> restart of fake-k3s (its last line before exit -> first line of its successor)\n";
  std::printf("  %-22s %6s %9s %9s %9s %9s %12s\n", "first backoff delay", "runs", "min ms", "median", "p90", "max",
              "median-delay");
  for (auto delay : {0ms, 1000ms}) {
    int runs = delay.count() == 0 ? iterations : std::max(3, iterations / 4);
    auto samples = crash_to_restart(dir, delay, runs);
    auto s = stats(samples);
    std::printf(
        "  %-22s %6zu %9.1f %9.1f %9.1f %9.1f %12.1f\n",
        (std::to_string(delay.count()) + " ms" + (delay.count() == 1000 ? " (production)" : " (floor)")).c_str(),
        samples.size(), s.min, s.median, s.p90, s.max, s.median - static_cast<double>(delay.count()));
  }
  idle_cost(dir, idle_seconds);
  if (work_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}
