#include "support/support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace k3s_daas::test {
namespace {

std::vector<std::string> build_env(const std::map<std::string, std::string>& add, const std::vector<std::string>& unset) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& name : unset) env.erase(name);
  for (const auto& [k, v] : add) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int wait_status_to_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "k3s-daas-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  // K3S_DAAS_KEEP_TEST_DIRS=1 keeps a test's folder (logs, state) for a look after a failure.
  if (const char* keep = std::getenv("K3S_DAAS_KEEP_TEST_DIRS"); keep != nullptr && *keep != '\0' && *keep != '0') {
    std::fprintf(stderr, "kept test folder %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

RunResult run(const std::vector<std::string>& argv_in, const RunOptions& options) {
  int out_pipe[2], err_pipe[2], in_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 || ::pipe2(in_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) _exit(127);
    std::vector<std::string> args = argv_in;
    std::vector<std::string> env = build_env(options.env, options.unset_env);
    auto argv = c_array(args);
    auto envp = c_array(env);
    ::execve(argv[0], argv.data(), envp.data());
    ::execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  std::thread writer([fd = in_pipe[1], data = options.stdin_data] {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fd);
  });
  RunResult result;
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool out_open = true, err_open = true, killed = false;
  char buffer[65536];
  while (out_open || err_open) {
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int rc = ::poll(fds, 2, 100);
    if (rc < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
        if (n <= 0) {
          (i == 0 ? out_open : err_open) = false;
        } else {
          (i == 0 ? result.out : result.err).append(buffer, static_cast<size_t>(n));
        }
      }
    }
    if (!killed && std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  writer.join();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = wait_status_to_code(status);
  if (killed) result.err += "\n[test harness: killed after timeout]";
  return result;
}

std::filesystem::path agent_binary() {
  const char* env = std::getenv("K3S_DAAS_BINARY");
  if (env == nullptr) throw std::runtime_error("K3S_DAAS_BINARY is not set (run the tests through ctest)");
  return env;
}

std::filesystem::path source_dir() {
  const char* env = std::getenv("K3S_DAAS_SOURCE_DIR");
  if (env == nullptr) throw std::runtime_error("K3S_DAAS_SOURCE_DIR is not set (run the tests through ctest)");
  return env;
}

std::optional<std::filesystem::path> shared_dir() {
  const char* env = std::getenv("K3S_DAAS_SHARED_DIR");
  std::filesystem::path dir = env != nullptr ? std::filesystem::path(env) : source_dir() / ".." / "shared";
  std::error_code ec;
  if (std::filesystem::is_directory(dir / "testdata", ec)) return std::filesystem::canonical(dir, ec);
  return std::nullopt;
}

RunResult run_agent(const std::vector<std::string>& args, const RunOptions& options) {
  std::vector<std::string> argv = {agent_binary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions opts = options;
  opts.unset_env.push_back("JOURNAL_STREAM");
  opts.unset_env.push_back("NOTIFY_SOCKET");
  return run(argv, opts);
}

Peer::Peer(const std::vector<std::string>& argv_in, std::chrono::milliseconds timeout,
           const std::map<std::string, std::string>& env_add) {
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(out_pipe[1], 1);
    std::vector<std::string> args = argv_in;
    std::vector<std::string> env = build_env(env_add, {});
    auto argv = c_array(args);
    auto envp = c_array(env);
    ::execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  pid_ = pid;
  ::close(out_pipe[1]);
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char c;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd fd = {out_pipe[0], POLLIN, 0};
    int rc = ::poll(&fd, 1, 100);
    if (rc <= 0) continue;
    ssize_t n = ::read(out_pipe[0], &c, 1);
    if (n <= 0) break;
    if (c == '\n') break;
    line.push_back(c);
  }
  // Keep draining stdout in the background so the peer never blocks on a full pipe.
  std::thread([fd = out_pipe[0]] {
    char buf[4096];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
    ::close(fd);
  }).detach();
  try {
    ready_ = nlohmann::json::parse(line);
  } catch (const std::exception&) {
    stop();
    throw std::runtime_error("peer " + argv_in.back() + " did not print its ready line; got: '" + line + "'");
  }
}

void Peer::stop() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGTERM);
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 50; ++i) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      ::kill(-pid_, SIGKILL);
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(-pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

Peer::~Peer() { stop(); }

Peer start_sui_devnet(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"node", (source_dir() / "tests/peers/sui-devnet/server.mjs").string(), "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  return Peer(argv);
}

nlohmann::json admin_post(const std::string& url, const nlohmann::json& body) {
  // --fail-with-body: an admin route that refuses (HTTP 4xx/5xx) fails the test with its answer,
  // instead of a set-up step silently not happening.
  auto result = run({"curl", "-sS", "--fail-with-body", "--max-time", "30", "-X", "POST", "-H",
                     "Content-Type: application/json", "--data-binary", body.dump(), url});
  if (result.exit_code != 0) throw std::runtime_error("admin POST " + url + " failed: " + result.err + " " + result.out);
  return result.out.empty() ? nlohmann::json() : nlohmann::json::parse(result.out);
}

nlohmann::json admin_get(const std::string& url) {
  auto result = run({"curl", "-sS", "--max-time", "30", url});
  if (result.exit_code != 0) throw std::runtime_error("admin GET " + url + " failed: " + result.err);
  return nlohmann::json::parse(result.out);
}

void write_file(const std::filesystem::path& path, const std::string& content, unsigned mode) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  ::chmod(path.c_str(), mode);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("free_port: socket failed: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  const int err = errno;
  ::close(fd);
  if (!bound) throw std::runtime_error(std::string("free_port: no loopback port: ") + std::strerror(err));
  return ntohs(addr.sin_port);
}

}  // namespace k3s_daas::test
