#include "runtime_test_support.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "k3s_daas/clock.hpp"
#include "supervisor_test_support.hpp"
#include "support/support.hpp"

namespace k3s_daas::test {

std::string containerd_skip_reason(bool need_ctr) {
  if (::geteuid() != 0) return "the real-containerd tests need root";
  if (::access("/usr/bin/containerd", X_OK) != 0) return "/usr/bin/containerd is missing (Debian package containerd)";
  if (need_ctr && ::access("/usr/bin/ctr", X_OK) != 0) return "/usr/bin/ctr is missing (Debian package containerd)";
  return {};
}

supervisor::Limits runtime_test_limits() {
  auto l = fast_limits();
  l.rpc_timeout = std::chrono::seconds(2);
  l.runtime_ready_timeout = std::chrono::seconds(20);
  l.health_interval = std::chrono::milliseconds(200);
  l.health_failures_before_restart = 3;
  l.teardown_task_exit_timeout = std::chrono::seconds(10);
  l.teardown_process_exit_timeout = std::chrono::seconds(5);
  return l;
}

runtime::NodeOptions test_node_options(const std::filesystem::path& dir, const std::vector<std::string>& fake_env,
                                       bool enable_cri) {
  runtime::NodeOptions o;
  o.runtime.type = "containerd";
  o.runtime.containerd_binary = "/usr/bin/containerd";
  o.runtime.socket = dir / "run" / "containerd.sock";
  o.runtime.root_dir = dir / "containerd-root";
  o.runtime.state_dir = dir / "run" / "state";
  o.runtime.work_dir = dir / "runtime";
  o.runtime.k3s_data_dir = dir / "k3s";
  o.runtime.enable_cri = enable_cri;
  o.k3s.binary = fake_k3s_binary();
  o.k3s.server_url = "https://127.0.0.1:6443";
  o.k3s.token_file = write_token_file(dir);
  o.k3s.node_name = "worker-test";
  o.k3s.data_dir = dir / "k3s";
  o.k3s.stop_timeout = std::chrono::seconds(5);
  o.k3s.work_dir = dir / "runtime";
  o.k3s.extra_env = {"FAKE_K3S_RECORD=" + (dir / "fake-k3s.jsonl").string()};
  for (const auto& e : fake_env) o.k3s.extra_env.push_back(e);
  o.teardown.unmount_prefixes = {dir / "k3s", dir / "kubelet", o.runtime.root_dir, o.runtime.state_dir};
  o.teardown.cgroup_names = {};
  return o;
}

ChildProgram::ChildProgram(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return;
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(fds[1], 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  out_fd_ = fds[0];
}

ChildProgram::~ChildProgram() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

std::optional<nlohmann::json> ChildProgram::read_json(std::chrono::milliseconds timeout) {
  std::int64_t deadline = monotonic_ms() + timeout.count();
  for (;;) {
    auto newline = buffer_.find('\n');
    while (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      auto parsed = nlohmann::json::parse(line, nullptr, false);
      if (!parsed.is_discarded() && parsed.is_object()) return parsed;
      newline = buffer_.find('\n');
    }
    std::int64_t left = deadline - monotonic_ms();
    if (left <= 0 || out_fd_ < 0) return std::nullopt;
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char chunk[4096];
    ssize_t n = ::read(out_fd_, chunk, sizeof(chunk));
    if (n <= 0) {
      ::close(out_fd_);
      out_fd_ = -1;
      continue;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

void ChildProgram::signal(int signal_number) {
  if (pid_ > 0) ::kill(pid_, signal_number);
}

std::optional<int> ChildProgram::wait(std::chrono::milliseconds timeout) {
  std::int64_t deadline = monotonic_ms() + timeout.count();
  while (pid_ > 0) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (monotonic_ms() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

std::filesystem::path driver_binary() { return K3S_DAAS_TEST_DRIVER; }

namespace {

// Containers started with ctr get a cgroup under this name (not containerd's default /k8s.io),
// removed when the test program ends.
const std::string kCtrCgroupParent = "k3s-daas-test-ctr-" + std::to_string(::getpid());

struct CtrCgroupCleanup {
  ~CtrCgroupCleanup() { remove_cgroup_tree(kCtrCgroupParent); }
} ctr_cgroup_cleanup;

}  // namespace

std::string ctr_run_sleep(const std::filesystem::path& socket, const std::filesystem::path& dir, const std::string& id,
                          const std::string& seconds, const std::string& cgroup_in) {
  std::string cgroup = cgroup_in.empty() ? kCtrCgroupParent + "/" + id : cgroup_in;
  auto rootfs = dir / ("rootfs-" + id);
  std::filesystem::create_directories(rootfs);
  for (const char* sub : {"usr", "proc", "dev", "sys", "tmp", "etc", "run"})
    std::filesystem::create_directories(rootfs / sub);
  for (const char* link : {"bin", "lib", "lib64", "sbin"}) {
    std::error_code ec;
    std::filesystem::create_symlink(std::string("usr/") + link, rootfs / link, ec);
  }
  std::vector<std::string> argv = {"/usr/bin/ctr", "--address", socket.string(),
                                   "--namespace",  "k8s.io",    "run",
                                   "-d",           "--mount",   "type=bind,src=/usr,dst=/usr,options=rbind:ro"};
  argv.insert(argv.end(), {"--cgroup", cgroup});
  argv.insert(argv.end(), {"--rootfs", rootfs.string(), id, "/bin/sleep", seconds});
  auto result = run(argv);
  if (result.exit_code != 0) return "ctr run failed (" + std::to_string(result.exit_code) + "): " + result.err;
  return {};
}

std::vector<pid_t> processes_with_cmdline(const std::vector<std::string>& cmdline) {
  std::vector<pid_t> out;
  for (const auto& p : supervisor::proc::list_processes()) {
    if (p.state != 'Z' && p.cmdline == cmdline) out.push_back(p.pid);
  }
  return out;
}

std::vector<pid_t> containerd_processes(const std::filesystem::path& config_file) {
  return processes_with_cmdline({"/usr/bin/containerd", "--config", config_file.string()});
}

std::vector<std::string> mounts_under(const std::filesystem::path& prefix) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  for (const auto& m : runtime::teardown::mounts_under(runtime::teardown::parse_mountinfo(text.str()), {prefix})) {
    out.push_back(m.mount_point.string());
  }
  return out;
}

pid_t spawn_orphan_sleep(const std::string& seconds) {
  auto result = run({"/bin/sh", "-c", "sleep " + seconds + " >/dev/null 2>&1 & echo $!"});
  return static_cast<pid_t>(std::stol(result.out));
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  std::int64_t deadline = monotonic_ms() + timeout.count();
  while (!done()) {
    if (monotonic_ms() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

NodeLeftoverGuard::~NodeLeftoverGuard() {
  std::vector<std::string> errors;
  runtime::teardown::stop_leftover(state / "runtime" / "k3s-agent.pid", std::chrono::seconds(2), errors);
  runtime::teardown::kill_shims({(state / "run" / "containerd.sock").string()}, 0, std::chrono::seconds(5), errors,
                                {"/run/containerd/runc"});
  runtime::teardown::stop_leftover(state / "runtime" / "containerd.pid", std::chrono::seconds(2), errors);
}

std::string unique_id(const std::string& base) { return base + "-" + std::to_string(::getpid()); }

std::unique_ptr<runtime::WorkerNode> start_node(supervisor::Supervisor& supervisor, const runtime::NodeOptions& options) {
  auto node = runtime::WorkerNode::create(supervisor, options);
  REQUIRE(node.ok());
  REQUIRE((*node)->start_runtime().ok());
  REQUIRE((*node)->start_k3s().ok());
  REQUIRE(supervisor.run_until([&] { return supervisor.is_up("k3s-agent"); }, std::chrono::seconds(30)));
  return std::move(node).value();
}

std::vector<std::string> driver_argv(const std::filesystem::path& state, const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {driver_binary().string(), "--state-dir", state.string(), "--fake-k3s",
                                   fake_k3s_binary().string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

DriverReady read_driver_ready(ChildProgram& driver) {
  auto line = driver.read_json(std::chrono::seconds(60));
  REQUIRE(line);
  REQUIRE((*line)["event"] == "ready");
  MESSAGE("driver ready: " << line->dump());
  DriverReady ready;
  ready.line = *line;
  ready.containerd_pid = (*line)["containerd_pid"];
  ready.k3s_pid = (*line)["k3s_pid"];
  ready.socket = (*line)["socket"].get<std::string>();
  return ready;
}

void check_node_gone(pid_t containerd_pid, pid_t k3s_pid, const std::filesystem::path& state) {
  CHECK(!process_alive(containerd_pid));
  CHECK(!process_alive(k3s_pid));
  CHECK(kubelet_standins_in_group(k3s_pid).empty());
  CHECK(containerd_processes(state / "runtime" / "containerd.toml").empty());
  CHECK(!std::filesystem::exists(state / "runtime" / "containerd.pid"));
  CHECK(!std::filesystem::exists(state / "runtime" / "k3s-agent.pid"));
}

void check_report_clean(const runtime::TeardownReport& report) {
  MESSAGE("teardown report: " << report.to_json().dump());
  CHECK(report.errors.empty());
  CHECK(report.k3s_stopped);
  CHECK(report.runtime_stopped);
}

runtime::TeardownReport teardown_from_state(const std::filesystem::path& state) {
  supervisor::Supervisor supervisor(runtime_test_limits());
  auto node = runtime::WorkerNode::create(supervisor, test_node_options(state));
  REQUIRE(node.ok());
  auto report = (*node)->teardown();
  check_report_clean(report);
  return report;
}

void remove_cgroup_tree(const std::string& name) {
  std::error_code ec;
  for (const auto& hierarchy : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    auto top = hierarchy.path() / name;
    if (!std::filesystem::is_directory(top, ec)) continue;
    std::vector<std::filesystem::path> dirs = {top};
    for (auto it = std::filesystem::recursive_directory_iterator(top, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec)) dirs.push_back(it->path());
    }
    for (auto d = dirs.rbegin(); d != dirs.rend(); ++d) ::rmdir(d->c_str());
  }
}

}  // namespace k3s_daas::test
