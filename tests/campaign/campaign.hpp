#pragma once
// Helpers of the fault campaign (tests/campaign): an in-process client for the Sui stand-in's
// admin API (no curl per call: the campaign makes thousands), the agent as a child process the
// harness can SIGKILL at a moment it chooses, and the checks made after every run: the state
// files parse, the journal, the stake transactions on chain, no secret printed.
//
// Nothing here asserts: the campaign's worker threads only collect facts, and the test's main
// thread turns every fact into a doctest CHECK (doctest's assertions are made from one thread).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "sui/devnet_fixture.hpp"
#include "support/support.hpp"

extern char** environ;

namespace k3s_daas::test::campaign {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A count from the environment (a larger campaign), or the default.
inline long env_long(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || n < 0) throw std::runtime_error(std::string(name) + " must be a non-negative integer");
  return n;
}

inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// ---- HTTP/1.1 over loopback, one request per connection ----------------------------------------

struct HttpAnswer {
  int status = 0;
  std::string body;
};

inline HttpAnswer http_request(const std::string& method, const std::string& url, const std::string& body = "") {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) throw std::runtime_error("not an http:// URL: " + url);
  auto slash = url.find('/', scheme.size());
  std::string authority = url.substr(scheme.size(), slash == std::string::npos ? std::string::npos : slash - scheme.size());
  std::string path = slash == std::string::npos ? "/" : url.substr(slash);
  auto colon = authority.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("no port in " + url);
  std::string host = authority.substr(0, colon);
  int port = std::stoi(authority.substr(colon + 1));
  if (host != "127.0.0.1") throw std::runtime_error("loopback only: " + url);

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("cannot connect to " + url);
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + authority +
                        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\nConnection: close\r\n\r\n" + body;
  for (std::size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send failed to " + url);
    sent += static_cast<std::size_t>(n);
  }
  std::string raw;
  auto deadline = Clock::now() + std::chrono::seconds(30);
  char buffer[65536];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0) throw std::runtime_error("no answer in 30 s from " + url);
    if (::poll(&p, 1, left) < 0) continue;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    raw.append(buffer, static_cast<std::size_t>(n));
  }
  auto end_of_head = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end_of_head == std::string::npos) throw std::runtime_error("bad answer from " + url);
  HttpAnswer answer;
  answer.status = std::stoi(raw.substr(9, 3));
  answer.body = raw.substr(end_of_head + 4);
  return answer;
}

// The stand-in's admin API.
class Admin {
 public:
  explicit Admin(std::string base) : base_(std::move(base)) {}
  json post(const std::string& route, const json& body) { return parse("POST", route, body.dump()); }
  json get(const std::string& route) { return parse("GET", route, ""); }
  // Arms a fault; returns its id.
  int arm(const json& spec) { return post("/fault", spec).at("fault").at("id").get<int>(); }
  void disarm(int id) { post("/clear-faults", {{"id", id}}); }
  // True when fault `id` has fired its one use: gone from the armed list and in the fired list.
  bool fired(int id) {
    auto faults = get("/faults?id=" + std::to_string(id));
    for (const auto& f : faults.at("faults")) {
      if (f.at("id").get<int>() == id) return false;
    }
    for (const auto& f : faults.at("fired")) {
      if (f.at("id").get<int>() == id) return true;
    }
    return false;
  }
  json executions(const std::string& sender) { return get("/executions?sender=" + sender).at("executions"); }

 private:
  json parse(const std::string& method, const std::string& route, const std::string& body) {
    auto answer = http_request(method, base_ + route, body);
    if (answer.status != 200) {
      throw std::runtime_error("admin " + method + " " + route + ": HTTP " + std::to_string(answer.status) + " " + answer.body);
    }
    return json::parse(answer.body);
  }
  std::string base_;
};

// ---- the agent as a child process --------------------------------------------------------------

struct Run {
  int code = -1;  // exit code, or 128 + signal
  bool killed_by_harness = false;  // died of the SIGKILL the campaign sent on purpose (kill points)
  bool timed_out = false;          // still running at the harness's deadline (then SIGKILLed)
  std::string out;
  std::string err;
  double ms = 0;
};

// One k3s-daas process; its stdout and stderr go to files in `scratch`.
class Agent {
 public:
  Agent(const std::vector<std::string>& args, const std::filesystem::path& scratch)
      : out_path_(scratch / "agent.out"), err_path_(scratch / "agent.err"), started_(Clock::now()) {
    std::vector<std::string> argv = {agent_binary().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = ::posix_spawn(&pid_, cargv[0], &actions, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("posix_spawn of the agent failed");
  }
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;
  ~Agent() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  // True while the process runs (reaps it when it has ended).
  bool running() {
    if (reaped_) return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reap(status);
      return false;
    }
    return true;
  }

  // SIGKILL now (a kill point); no effect once it has ended.
  void kill() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      kill_sent_ = true;
    }
  }

  // Waits for the end (SIGKILL at `timeout`, marked as timed out) and collects the output.
  Run wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto deadline = started_ + timeout;
    while (running()) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        result_.timed_out = true;
        int status = 0;
        ::waitpid(pid_, &status, 0);
        reap(status);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    result_.out = read_file(out_path_);
    result_.err = read_file(err_path_);
    return result_;
  }

  double elapsed_ms() const { return ms_since(started_); }

 private:
  void reap(int status) {
    reaped_ = true;
    result_.ms = ms_since(started_);
    if (WIFEXITED(status)) result_.code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result_.code = 128 + WTERMSIG(status);
    // (A process that exited on its own just before the signal came was not killed.)
    result_.killed_by_harness = kill_sent_ && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }

  std::filesystem::path out_path_, err_path_;
  Clock::time_point started_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  bool kill_sent_ = false;
  Run result_;
};

inline Run run_agent_command(const sui_e2e::Node& node, const std::vector<std::string>& command,
                             std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  std::vector<std::string> args = {"--config", node.config_path().string()};
  args.insert(args.end(), command.begin(), command.end());
  Agent agent(args, node.dir());
  return agent.wait(timeout);
}

// ---- checks ------------------------------------------------------------------------------------

// What the state folder holds: problems (a state file that does not parse as a JSON object, or
// a file the agent has no reason to leave there) and temporaries (<file>.tmp.<pid>.<n> of a
// writer that was killed before its rename; the next writer of that file removes them).
struct StateFiles {
  std::vector<std::string> problems;
  std::vector<std::string> temporaries;
};

inline StateFiles inspect_state_dir(const std::filesystem::path& dir) {
  StateFiles out;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find(".tmp.") != std::string::npos) {
      out.temporaries.push_back(name);
      continue;
    }
    if (name.ends_with(".lock")) continue;  // flock(2) targets; empty by design
    if (!entry.is_regular_file() || entry.is_symlink()) {
      out.problems.push_back(name + " is not a regular file");
      continue;
    }
    if (!name.ends_with(".json")) {
      out.problems.push_back("unexpected file " + name);
      continue;
    }
    auto doc = json::parse(read_file(entry.path()), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) out.problems.push_back(name + " does not parse as a JSON object");
  }
  return out;
}

// The pending journal entry's digest, or "" when the journal is settled (or absent).
inline std::string pending_digest(const sui_e2e::Node& node) {
  std::error_code ec;
  if (!std::filesystem::exists(node.journal(), ec)) return "";
  auto doc = json::parse(read_file(node.journal()), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return "<unreadable journal>";
  const auto& pending = doc.value("pending", json());
  if (pending.is_null()) return "";
  return pending.value("digest", std::string("<pending without digest>"));
}

// The node's transactions on chain, in order: they must alternate stake, withdraw, stake, ...
// (never two stakes for one node between unstakes), and every one of them must have succeeded.
struct ChainHistory {
  int stakes = 0;
  int unstakes = 0;
  std::string last_stake_digest;
  std::string last_unstake_digest;
  std::string last_record_id;  // the StakeRecord the last stake created
  std::vector<std::string> problems;
};

inline ChainHistory chain_history(Admin& admin, const std::string& sender) {
  ChainHistory h;
  for (const auto& e : admin.executions(sender)) {
    const std::string digest = e.at("digest").get<std::string>();
    bool stake = false, withdraw = false;
    for (const auto& call : e.at("move_calls")) {
      const auto name = call.get<std::string>();
      stake = stake || name.ends_with("::stake_for_node");
      withdraw = withdraw || name.ends_with("::withdraw_stake");
    }
    if (e.at("status") != "success") h.problems.push_back("transaction " + digest + " failed on chain: " + e.value("error", json()).dump());
    if (stake) {
      if (h.stakes != h.unstakes) h.problems.push_back("a second stake transaction " + digest + " before an unstake");
      ++h.stakes;
      h.last_stake_digest = digest;
      for (const auto& created : e.at("created")) {
        if (created.value("type", std::string()).ends_with("::staking::StakeRecord")) h.last_record_id = created.at("id");
      }
    } else if (withdraw) {
      if (h.stakes != h.unstakes + 1) h.problems.push_back("an unstake transaction " + digest + " without a stake");
      ++h.unstakes;
      h.last_unstake_digest = digest;
    } else {
      h.problems.push_back("an unexpected transaction " + digest + " (" + e.value("kind", std::string()) + ")");
    }
  }
  return h;
}

// The node's secret key as written by `keys generate` (suiprivkey1...), to look for in output.
inline std::string secret_of(const sui_e2e::Node& node) {
  std::string key = read_file(node.key_file());
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
  return key;
}

inline bool leaks_secret(const Run& run, const std::string& secret) {
  for (const std::string* s : {&run.out, &run.err}) {
    if (s->find("suiprivkey") != std::string::npos) return true;
    if (!secret.empty() && s->find(secret) != std::string::npos) return true;
  }
  return false;
}

// The last non-empty line of an output (the error a failed command ends with).
inline std::string last_line(const std::string& text) {
  std::size_t end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return "";
  std::size_t begin = text.rfind('\n', end);
  return text.substr(begin == std::string::npos ? 0 : begin + 1, end + 1 - (begin == std::string::npos ? 0 : begin + 1));
}

}  // namespace k3s_daas::test::campaign
