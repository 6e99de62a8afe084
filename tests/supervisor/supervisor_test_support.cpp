#include "supervisor_test_support.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "support/support.hpp"

namespace k3s_daas::test {

std::filesystem::path fake_k3s_binary() { return K3S_DAAS_FAKE_K3S; }

std::filesystem::path write_token_file(const std::filesystem::path& dir, unsigned mode) {
  auto path = dir / "k3s-token";
  write_file(path, "K10" + std::string(64, 'a') + "::node:not-a-real-secret\n", mode);
  ::chmod(path.c_str(), mode);
  return path;
}

supervisor::ChildSpec fake_k3s_spec(const std::filesystem::path& dir, const std::vector<std::string>& fake_env,
                                    const std::string& name) {
  supervisor::ChildSpec spec;
  spec.name = name;
  spec.argv = {fake_k3s_binary().string(),
               "agent",
               "--server",
               "https://127.0.0.1:6443",
               "--token-file",
               write_token_file(dir).string(),
               "--node-name",
               "worker-test",
               "--data-dir",
               (dir / "k3s").string()};
  spec.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FAKE_K3S_RECORD=" + (dir / "fake-k3s.jsonl").string()};
  for (const auto& e : fake_env) spec.env.push_back(e);
  return spec;
}

std::vector<nlohmann::json> read_records(const std::filesystem::path& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

std::vector<nlohmann::json> records_of(const std::vector<nlohmann::json>& records, const std::string& event) {
  std::vector<nlohmann::json> out;
  for (const auto& r : records) {
    if (r.value("event", "") == event) out.push_back(r);
  }
  return out;
}

supervisor::Limits fast_limits() {
  supervisor::Limits l;
  l.restart_initial_delay = std::chrono::milliseconds(10);
  l.restart_max_delay = std::chrono::milliseconds(80);
  l.restart_reset_after = std::chrono::seconds(10);
  l.crash_loop_restarts = 5;
  l.crash_loop_window = std::chrono::seconds(60);
  l.stop_timeout = std::chrono::milliseconds(2000);
  l.kill_timeout = std::chrono::milliseconds(2000);
  l.readiness_poll_interval = std::chrono::milliseconds(20);
  l.health_interval = std::chrono::milliseconds(50);
  l.health_failures_before_restart = 2;
  return l;
}

std::vector<supervisor::Event> EventLog::of(supervisor::EventKind kind, const std::string& child) const {
  std::vector<supervisor::Event> out;
  for (const auto& e : events) {
    if (e.kind == kind && (child.empty() || e.child == child)) out.push_back(e);
  }
  return out;
}

int EventLog::index_of(supervisor::EventKind kind, const std::string& child) const {
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].kind == kind && events[i].child == child) return static_cast<int>(i);
  }
  return -1;
}

bool process_alive(pid_t pid) {
  auto info = supervisor::proc::read_process(pid);
  return info && info->state != 'Z';
}

std::vector<pid_t> kubelet_standins_in_group(pid_t pgid) {
  std::vector<pid_t> out;
  for (const auto& p : supervisor::proc::list_processes()) {
    if (p.pgid == pgid && p.state != 'Z' && p.cmdline == std::vector<std::string>{"sleep", "100000"})
      out.push_back(p.pid);
  }
  return out;
}

}  // namespace k3s_daas::test
