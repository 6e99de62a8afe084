#pragma once
// Helpers for the supervisor tests: the fake-k3s stand-in, event recording, process checks.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k3s_daas/supervisor.hpp"

namespace k3s_daas::test {

// The fake-k3s executable (a stand-in for k3s, tests/fake-k3s).
std::filesystem::path fake_k3s_binary();

// A 0600 token file holding a K10 token (never a real one).
std::filesystem::path write_token_file(const std::filesystem::path& dir, unsigned mode = 0600);

// A ChildSpec running fake-k3s as `k3s agent` with the given FAKE_K3S_* environment.
supervisor::ChildSpec fake_k3s_spec(const std::filesystem::path& dir, const std::vector<std::string>& fake_env,
                                    const std::string& name = "k3s-agent");

// JSON lines written by fake-k3s (FAKE_K3S_RECORD).
std::vector<nlohmann::json> read_records(const std::filesystem::path& path);
std::vector<nlohmann::json> records_of(const std::vector<nlohmann::json>& records, const std::string& event);

// Limits shrunk for tests: 10 ms first restart, 80 ms cap, short stop timeouts and polls.
supervisor::Limits fast_limits();

// Collects the supervisor's events.
struct EventLog {
  std::vector<supervisor::Event> events;
  void attach(supervisor::Supervisor& s) {
    s.add_observer([this](const supervisor::Event& e) { events.push_back(e); });
  }
  std::vector<supervisor::Event> of(supervisor::EventKind kind, const std::string& child = "") const;
  // Index of the first event of this kind (and child), or -1.
  int index_of(supervisor::EventKind kind, const std::string& child) const;
};

bool process_alive(pid_t pid);  // alive and not a zombie
// Live processes whose command line is exactly `sleep 100000` (fake-k3s's kubelet stand-in) in group pgid.
std::vector<pid_t> kubelet_standins_in_group(pid_t pgid);

}  // namespace k3s_daas::test
