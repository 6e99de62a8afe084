// runtime.type = docker: the Docker Engine API over its unix socket through net::HttpClient,
// against a small local stand-in for the Engine (no Docker needed).
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "k3s_daas/runtime.hpp"
#include "supervisor_test_support.hpp"
#include "support/support.hpp"

namespace rt = k3s_daas::runtime;
namespace t = k3s_daas::test;

namespace {

// A stand-in for the Docker Engine API: /version, /containers/json, kill, delete.
class FakeDockerEngine {
 public:
  explicit FakeDockerEngine(const std::filesystem::path& socket) : socket_(socket) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, socket.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    containers_ = {{"pod-a", "running"}, {"pod-b", "running"}, {"pod-c", "exited"}};
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeDockerEngine() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  std::map<std::string, std::string> containers() {
    std::lock_guard<std::mutex> lock(mutex_);
    return containers_;
  }

 private:
  void serve() {
    while (!stop_) {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      std::string buffer;
      char chunk[4096];
      for (;;) {
        auto end = buffer.find("\r\n\r\n");
        if (end == std::string::npos) {
          ssize_t n = ::read(client, chunk, sizeof(chunk));
          if (n <= 0) break;
          buffer.append(chunk, static_cast<std::size_t>(n));
          continue;
        }
        std::string head = buffer.substr(0, end);
        buffer.erase(0, end + 4);
        std::string line = head.substr(0, head.find("\r\n"));
        auto [status, body] = answer(line);
        std::string response = "HTTP/1.1 " + std::to_string(status) +
                               " X\r\nContent-Type: application/json\r\n"
                               "Content-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n" + body;
        if (::write(client, response.data(), response.size()) < 0) break;
      }
      ::close(client);
    }
  }

  std::pair<int, std::string> answer(const std::string& request_line) {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(request_line);
    std::string method = request_line.substr(0, request_line.find(' '));
    std::string target = request_line.substr(method.size() + 1);
    target = target.substr(0, target.find(' '));
    std::string path = target.substr(0, target.find('?'));
    if (method == "GET" && path == "/version") return {200, R"({"Version":"24.0.7","ApiVersion":"1.43"})"};
    if (method == "GET" && path == "/containers/json") {
      bool all = target.find("all=1") != std::string::npos;
      nlohmann::json list = nlohmann::json::array();
      for (const auto& [id, state] : containers_) {
        if (all || state == "running") list.push_back({{"Id", id}, {"State", state}});
      }
      return {200, list.dump()};
    }
    if (method == "POST" && path.rfind("/containers/", 0) == 0 && path.size() > 17 &&
        path.substr(path.size() - 5) == "/kill") {
      std::string id = path.substr(12, path.size() - 17);
      if (!containers_.count(id)) return {404, "{}"};
      if (containers_[id] != "running") return {409, "{}"};
      containers_[id] = "exited";
      return {204, ""};
    }
    if (method == "DELETE" && path.rfind("/containers/", 0) == 0) {
      std::string id = path.substr(12);
      if (!containers_.erase(id)) return {404, "{}"};
      return {204, ""};
    }
    return {404, "{}"};
  }

  std::filesystem::path socket_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::map<std::string, std::string> containers_;
};

}  // namespace

TEST_CASE("runtime_docker_api: version, running pod containers, --docker, teardown through the Engine API") {
  t::TempDir dir;
  auto socket = dir / "docker.sock";
  FakeDockerEngine engine(socket);
  rt::RuntimeOptions options;
  options.type = "docker";
  options.socket = socket;
  auto runtime = rt::make_runtime(options, k3s_daas::supervisor::Limits{});
  REQUIRE(runtime.ok());
  auto& docker = **runtime;
  CHECK(docker.type() == "docker");
  CHECK(docker.child_name().empty());
  CHECK(docker.k3s_flags() == std::vector<std::string>{"--docker"});

  auto version = docker.version();
  REQUIRE_MESSAGE(version.ok(), (version.ok() ? "" : version.error().message));
  CHECK(*version == "24.0.7");
  auto running = docker.running_containers();
  REQUIRE(running.ok());
  CHECK(*running == 2);
  k3s_daas::supervisor::Supervisor s;
  CHECK(docker.ready_for_k3s(s));

  auto requests = engine.requests();
  REQUIRE(requests.size() >= 2);
  CHECK(requests[1].find("GET /containers/json?filters=") == 0);
  CHECK(requests[1].find("io.kubernetes.pod.namespace") != std::string::npos);
  CHECK(requests[1].find("running") != std::string::npos);

  auto cleanup = docker.kill_workloads(k3s_daas::supervisor::Limits{});
  CHECK(cleanup.errors.empty());
  CHECK(cleanup.tasks_killed == 2);
  CHECK(cleanup.containers_deleted == 3);
  CHECK(engine.containers().empty());
  MESSAGE("a second teardown finds nothing to do");
  auto again = docker.kill_workloads(k3s_daas::supervisor::Limits{});
  CHECK(again.errors.empty());
  CHECK(again.tasks_killed == 0);
  CHECK(again.containers_deleted == 0);
}

TEST_CASE("runtime_docker_api: an absent Engine is an error naming the socket, not a crash") {
  t::TempDir dir;
  rt::RuntimeOptions options;
  options.type = "docker";
  options.socket = dir / "no-docker.sock";
  auto runtime = rt::make_runtime(options, k3s_daas::supervisor::Limits{});
  REQUIRE(runtime.ok());
  auto version = (*runtime)->version();
  REQUIRE(!version.ok());
  CHECK(version.error().message.find("no-docker.sock") != std::string::npos);
  k3s_daas::supervisor::Supervisor s;
  CHECK(!(*runtime)->ready_for_k3s(s));
  auto cleanup = (*runtime)->kill_workloads(k3s_daas::supervisor::Limits{});
  CHECK(cleanup.errors.size() == 1);
}
