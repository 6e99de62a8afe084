#pragma once
// Helpers for tests: temp folders, running the real binary, starting the local peers.

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace k3s_daas::test {

// A fresh folder under /tmp, removed (recursively) when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int exit_code = -1;  // 128+signal when killed by a signal
  std::string out;
  std::string err;
};

struct RunOptions {
  std::map<std::string, std::string> env;  // added to (or replacing in) the inherited environment
  std::vector<std::string> unset_env;
  std::string stdin_data;
  std::chrono::milliseconds timeout{60000};
  std::filesystem::path cwd;
};

// Runs a program (argv[0] is a path) and collects its output.
RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {});
// Runs the k3s-daas binary under test with these arguments.
RunResult run_agent(const std::vector<std::string>& args, const RunOptions& options = {});

std::filesystem::path agent_binary();   // $K3S_DAAS_BINARY
std::filesystem::path source_dir();     // $K3S_DAAS_SOURCE_DIR
// ../shared beside the project, when present.
std::optional<std::filesystem::path> shared_dir();

// A long-running child (a peer server) that prints one JSON line when ready.
class Peer {
 public:
  // Starts argv and waits up to `timeout` for its first stdout line, parsed as JSON.
  Peer(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(30),
       const std::map<std::string, std::string>& env = {});
  ~Peer();  // SIGTERM, then SIGKILL after 5 s
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;
  const nlohmann::json& ready() const { return ready_; }
  int pid() const { return pid_; }
  void stop();

 private:
  int pid_ = -1;
  nlohmann::json ready_;
};

// Starts the Sui stand-in (tests/peers/sui-devnet, Node.js on @mysten/sui) with extra args.
Peer start_sui_devnet(const std::vector<std::string>& args = {});

// Minimal HTTP POST/GET to a peer's plain-HTTP admin API (curl CLI). Returns the parsed body.
nlohmann::json admin_post(const std::string& url, const nlohmann::json& body);
nlohmann::json admin_get(const std::string& url);
// A loopback TCP port that was free a moment ago (for metrics.listen).
int free_port();

// Writes a file with the given mode.
void write_file(const std::filesystem::path& path, const std::string& content, unsigned mode = 0600);
std::string read_file(const std::filesystem::path& path);

}  // namespace k3s_daas::test

// Skips the rest of a test case (with a message) when ../shared is absent.
#define K3S_REQUIRE_SHARED()                                                                 \
  if (!::k3s_daas::test::shared_dir()) {                                                     \
    MESSAGE("SKIPPED: ../shared (shared test data) is absent beside the project");           \
    return;                                                                                  \
  }
