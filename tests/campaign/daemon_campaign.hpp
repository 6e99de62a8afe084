#pragma once
// Helpers shared by the daemon campaign tests (tests/campaign/daemon_*_test.cpp): counts taken
// from the environment, /metrics scraping, log counting, state-file checks. The world itself is
// tests/daemon/daemon_world.hpp: the Sui stand-in, the Nautilus-master stand-in, Debian's real
// containerd and tests/fake-k3s, a STAND-IN for k3s (k3s itself is not installed here).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "daemon_world.hpp"

namespace k3s_daas::test::campaign {

// A count from the environment (a larger campaign on demand), else the default.
inline int env_count(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  const int n = std::atoi(value);
  return n > 0 ? n : fallback;
}

// The seed of a randomised campaign: K3S_DAAS_CAMPAIGN_SEED, else a fresh one (printed by the
// test, so a failing run can be replayed).
inline std::uint64_t seed() {
  const char* value = std::getenv("K3S_DAAS_CAMPAIGN_SEED");
  if (value != nullptr && *value != '\0') return std::strtoull(value, nullptr, 10);
  return std::random_device{}();
}

// The value of one unlabelled series in a Prometheus text page; -1 when absent.
inline double metric_value(const std::string& page, const std::string& name) {
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

inline std::string scrape(const std::string& listen) {
  auto page = run({"curl", "-sS", "--max-time", "10", "http://" + listen + "/metrics"});
  return page.exit_code == 0 ? page.out : std::string();
}

// Lines of a log file containing every one of `needles`.
inline int count_lines(const std::filesystem::path& log, const std::vector<std::string>& needles) {
  std::ifstream in(log);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    bool all = true;
    for (const auto& needle : needles) {
      if (line.find(needle) == std::string::npos) {
        all = false;
        break;
      }
    }
    if (all) ++n;
  }
  return n;
}

// The last line of a log file containing `needle` (empty when none).
inline std::string last_line(const std::filesystem::path& log, const std::string& needle) {
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) last = line;
  }
  return last;
}

// Every file the agent keeps in state_dir parses: JSON files as JSON objects, pid files as
// "<pid> <start time>". Returns the files that do not (with why); empty when all parse.
inline std::vector<std::string> unparsable_state_files(const std::filesystem::path& state) {
  std::vector<std::string> bad;
  std::error_code ec;
  if (!std::filesystem::exists(state, ec)) return bad;
  const std::vector<std::filesystem::path> json_files = {
      state / "runtime-status.json", state / "stake.json", state / "heartbeat-seq.json", state / "drained",
      state / "slashed", state / "sui-journal.json"};
  for (const auto& path : json_files) {
    if (!std::filesystem::exists(path, ec)) continue;
    const auto text = read_file(path);
    auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) bad.push_back(path.filename().string() + ": not a JSON object: " + text);
  }
  for (const auto* name : {"k3s-agent.pid", "containerd.pid"}) {
    const auto path = state / "runtime" / name;
    if (!std::filesystem::exists(path, ec)) continue;
    std::istringstream in(read_file(path));
    long long pid = 0;
    unsigned long long start = 0;
    if (!(in >> pid >> start) || pid <= 1) bad.push_back(std::string(name) + ": not '<pid> <start time>'");
  }
  // Leftovers of the atomic writer (a temp file beside its target) are fine to find, but they
  // must not be mistaken for state: the agent reads only the names above.
  return bad;
}

// A process identity that survives pid reuse: pid and start time.
struct ProcId {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
  std::string name;
  bool alive() const {
    auto info = supervisor::proc::read_process(pid);
    return info && info->state != 'Z' && info->start_time == start_time;
  }
};

// Processes whose command line names `needle` (containerd, its shims, fake-k3s through the
// wrapper), zombies left out.
inline std::vector<ProcId> processes_naming(const std::string& needle) {
  std::vector<ProcId> out;
  for (const auto& p : supervisor::proc::list_processes()) {
    if (p.state == 'Z' || p.pid == ::getpid()) continue;
    for (const auto& a : p.cmdline) {
      if (a.find(needle) != std::string::npos) {
        out.push_back({p.pid, p.start_time, p.cmdline.empty() ? std::string() : p.cmdline[0]});
        break;
      }
    }
  }
  return out;
}

}  // namespace k3s_daas::test::campaign
