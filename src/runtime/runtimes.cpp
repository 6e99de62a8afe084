// The three runtimes behind one interface: our containerd, k3s's embedded containerd, Docker.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "containerd_client.hpp"
#include "k3s_daas/clock.hpp"
#include "k3s_daas/fs.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/net.hpp"
#include "k3s_daas/runtime.hpp"

namespace k3s_daas::runtime {

namespace {

std::string toml_string(const std::string& value) {
  std::string out = "\"";
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
      out += buffer;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::filesystem::path default_state_dir(const RuntimeOptions& options) {
  if (!options.state_dir.empty()) return options.state_dir;
  return options.socket.parent_path() / "state";
}

// Kills and removes every task and container of the namespaces through containerd's API.
WorkloadCleanup kill_containerd_workloads(ContainerdClient& client, const std::vector<std::string>& namespaces,
                                          const supervisor::Limits& limits, const std::function<void()>& pump) {
  WorkloadCleanup out;
  for (const auto& ns : namespaces) {
    auto tasks = client.list_tasks(ns);
    if (!tasks.ok()) {
      out.errors.push_back(tasks.error().message);
      continue;
    }
    for (const auto& task : *tasks) {
      if (task.status == kTaskStatusStopped) continue;
      auto killed = client.kill_task(ns, task.id, SIGKILL, true);
      if (killed.ok()) {
        ++out.tasks_killed;
        K3S_LOG(kRuntime, info, "teardown: SIGKILL to task {}/{} (pid {})", ns, task.id, task.pid);
      } else if (killed.error().kind != ErrorKind::kNotFound) {
        out.errors.push_back(killed.error().message);
      }
    }
    // Wait until every task has stopped, then delete them.
    std::int64_t deadline = monotonic_ms() + limits.teardown_task_exit_timeout.count();
    for (;;) {
      auto now_tasks = client.list_tasks(ns);
      bool all_stopped = now_tasks.ok() && std::all_of(now_tasks->begin(), now_tasks->end(), [](const auto& t) {
                           return t.status == kTaskStatusStopped || t.status == 1;  // created: never started
                         });
      if (all_stopped || monotonic_ms() >= deadline) break;
      if (pump) {
        pump();  // drives the supervisor's loop for a short while (reads containerd's output)
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    if (auto remaining = client.list_tasks(ns); remaining.ok()) {
      for (const auto& task : *remaining) {
        auto deleted = client.delete_task(ns, task.id);
        if (!deleted.ok() && deleted.error().kind != ErrorKind::kNotFound) {
          out.errors.push_back(deleted.error().message);
        }
      }
    }
    auto containers = client.list_containers(ns);
    if (!containers.ok()) {
      out.errors.push_back(containers.error().message);
      continue;
    }
    for (const auto& id : *containers) {
      auto deleted = client.delete_container(ns, id);
      if (deleted.ok()) {
        ++out.containers_deleted;
      } else if (deleted.error().kind != ErrorKind::kNotFound) {
        out.errors.push_back(deleted.error().message);
      }
    }
  }
  return out;
}

Result<std::size_t> count_running_tasks(ContainerdClient& client, const std::vector<std::string>& namespaces) {
  std::size_t running = 0;
  for (const auto& ns : namespaces) {
    K3S_ASSIGN(auto tasks, client.list_tasks(ns));
    running += static_cast<std::size_t>(std::count_if(
        tasks.begin(), tasks.end(), [](const ContainerdTask& t) { return t.status == kTaskStatusRunning; }));
  }
  return running;
}

std::string describe(const ContainerdVersion& v) { return v.version; }

// --- containerd, started and supervised by us -----------------------------------------------------

class ContainerdRuntime final : public Runtime {
 public:
  ContainerdRuntime(RuntimeOptions options, const supervisor::Limits& limits)
      : Runtime(std::move(options)), client_(options_.socket.string(), limits.rpc_timeout), limits_(limits) {}

  std::string type() const override { return "containerd"; }
  std::string child_name() const override { return kContainerdChild; }

  Status start(supervisor::Supervisor& supervisor) override {
    if (!supervisor.has(kContainerdChild)) {
      K3S_ASSIGN(auto spec, child_spec());
      K3S_TRY(supervisor.add(std::move(spec)));
      // A new containerd means a new socket: reconnect instead of waiting out gRPC's backoff.
      supervisor.add_observer([this](const supervisor::Event& event) {
        if (event.child == kContainerdChild && event.kind == supervisor::EventKind::kStarted) client_.reset();
      });
    } else {
      K3S_TRY(write_config());
    }
    return supervisor.start(kContainerdChild);
  }

  bool ready_for_k3s(supervisor::Supervisor& supervisor) override { return supervisor.is_up(kContainerdChild); }

  Result<std::string> version() override {
    K3S_ASSIGN(auto v, client_.version());
    return describe(v);
  }

  Result<std::size_t> running_containers() override { return count_running_tasks(client_, options_.namespaces); }

  std::vector<std::string> k3s_flags() const override {
    return {"--container-runtime-endpoint", "unix://" + options_.socket.string()};
  }

  WorkloadCleanup kill_workloads(const supervisor::Limits& limits, const std::function<void()>& pump) override {
    return kill_containerd_workloads(client_, options_.namespaces, limits, pump);
  }

  std::vector<std::string> shim_addresses() const override { return {options_.socket.string()}; }

 private:
  std::filesystem::path config_path() const {
    return options_.config_file.empty() ? options_.work_dir / "containerd.toml" : options_.config_file;
  }

  Status write_config() {
    if (!options_.config_file.empty()) return {};  // the operator's own file, used as is
    K3S_TRY(fs::ensure_private_dir(options_.work_dir, 0700));
    fs::WriteOptions write;
    write.mode = 0600;
    write.preserve_mode = false;
    return fs::atomic_write_file(config_path(), containerd_config_toml(options_), write);
  }

  Result<supervisor::ChildSpec> child_spec() {
    K3S_TRY(write_config());
    K3S_TRY(fs::ensure_dir(options_.root_dir, 0711));
    K3S_TRY(fs::ensure_dir(default_state_dir(options_), 0711));
    K3S_TRY(fs::ensure_dir(options_.socket.parent_path(), 0711));
    supervisor::ChildSpec spec;
    spec.name = kContainerdChild;
    spec.argv = {options_.containerd_binary.string(), "--config", config_path().string()};
    spec.env = {std::string("PATH=") + kDefaultPath};
    for (const auto& e : options_.extra_env) spec.env.push_back(e);
    spec.log_category = log::Category::kRuntime;
    spec.ready_check = [this] { return client_.version().ok(); };
    spec.health_check = spec.ready_check;
    spec.ready_timeout = limits_.runtime_ready_timeout;
    spec.pid_file = options_.work_dir / "containerd.pid";
    // containerd's shims live in their own sessions: killing its group never touches containers.
    spec.kill_group_on_exit = true;
    return spec;
  }

  ContainerdClient client_;
  supervisor::Limits limits_;
};

// --- k3s's own containerd ---------------------------------------------------------------------

class K3sEmbeddedRuntime final : public Runtime {
 public:
  K3sEmbeddedRuntime(RuntimeOptions options, const supervisor::Limits& limits)
      : Runtime(std::move(options)), client_(options_.socket.string(), limits.rpc_timeout) {}

  std::string type() const override { return "k3s-embedded"; }
  Status start(supervisor::Supervisor&) override { return {}; }
  // k3s starts its containerd itself, after it is started.
  bool ready_for_k3s(supervisor::Supervisor&) override { return true; }
  Result<std::string> version() override {
    K3S_ASSIGN(auto v, client_.version());
    return describe(v);
  }
  Result<std::size_t> running_containers() override { return count_running_tasks(client_, options_.namespaces); }
  std::vector<std::string> k3s_flags() const override { return {}; }
  WorkloadCleanup kill_workloads(const supervisor::Limits& limits, const std::function<void()>& pump) override {
    if (!std::filesystem::exists(options_.socket)) return {};  // k3s took its containerd down with it
    return kill_containerd_workloads(client_, options_.namespaces, limits, pump);
  }
  std::vector<std::string> shim_addresses() const override { return {options_.socket.string()}; }

 private:
  ContainerdClient client_;
};

// --- Docker Engine (cri-dockerd in k3s) -------------------------------------------------------

// Containers the kubelet created through cri-dockerd carry this label.
constexpr const char* kPodLabelFilter = "%7B%22label%22%3A%5B%22io.kubernetes.pod.namespace%22%5D%7D";
constexpr const char* kRunningPodFilter =
    "%7B%22label%22%3A%5B%22io.kubernetes.pod.namespace%22%5D%2C%22status%22%3A%5B%22running%22%5D%7D";

class DockerRuntime final : public Runtime {
 public:
  DockerRuntime(RuntimeOptions options, const supervisor::Limits& limits)
      : Runtime(std::move(options)), client_(client_options(options_, limits)) {}

  std::string type() const override { return "docker"; }
  Status start(supervisor::Supervisor&) override { return {}; }
  bool ready_for_k3s(supervisor::Supervisor&) override { return version().ok(); }

  Result<std::string> version() override {
    K3S_ASSIGN(auto body, get_json("/version"));
    if (!body.is_object() || !body.contains("Version") || !body["Version"].is_string()) {
      return make_error(ErrorKind::kProtocol, where() + ": GET /version: no \"Version\" in the answer");
    }
    return body["Version"].get<std::string>();
  }

  Result<std::size_t> running_containers() override {
    K3S_ASSIGN(auto body, get_json(std::string("/containers/json?filters=") + kRunningPodFilter));
    if (!body.is_array()) return make_error(ErrorKind::kProtocol, where() + ": GET /containers/json: not a list");
    return body.size();
  }

  std::vector<std::string> k3s_flags() const override { return {"--docker"}; }

  WorkloadCleanup kill_workloads(const supervisor::Limits&, const std::function<void()>&) override {
    WorkloadCleanup out;
    auto body = get_json(std::string("/containers/json?all=1&filters=") + kPodLabelFilter);
    if (!body.ok()) {
      out.errors.push_back(body.error().message);
      return out;
    }
    if (!body->is_array()) {
      out.errors.push_back(where() + ": GET /containers/json: not a list");
      return out;
    }
    for (const auto& container : *body) {
      if (!container.contains("Id") || !container["Id"].is_string()) continue;
      std::string id = container["Id"].get<std::string>();
      bool running = container.value("State", std::string()) == "running";
      if (running) {
        auto killed = request("POST", "/containers/" + id + "/kill?signal=SIGKILL");
        // 409: not running any more.
        if (killed.ok() && (*killed == 204 || *killed == 409)) {
          ++out.tasks_killed;
        } else {
          out.errors.push_back(where() + ": kill " + id + ": " +
                               (killed.ok() ? "HTTP " + std::to_string(*killed) : killed.error().message));
        }
      }
      auto removed = request("DELETE", "/containers/" + id + "?force=1");
      if (removed.ok() && (*removed == 204 || *removed == 404)) {
        if (*removed == 204) ++out.containers_deleted;
      } else {
        out.errors.push_back(where() + ": remove " + id + ": " +
                             (removed.ok() ? "HTTP " + std::to_string(*removed) : removed.error().message));
      }
    }
    return out;
  }

 private:
  static net::ClientOptions client_options(const RuntimeOptions& options, const supervisor::Limits& limits) {
    net::ClientOptions out;
    out.unix_socket = options.socket.string();
    out.timeout = limits.rpc_timeout;
    out.connect_timeout = limits.rpc_timeout;
    return out;
  }

  std::string where() const { return "Docker at unix://" + options_.socket.string(); }

  Result<long> request(const std::string& method, const std::string& path) {
    net::Request r;
    r.method = method;
    r.url = "http://docker" + path;
    auto response = client_.perform(r);
    if (!response.ok()) return response.error().context(where());
    return response->status;
  }

  Result<nlohmann::json> get_json(const std::string& path) {
    net::Request r;
    r.url = "http://docker" + path;
    auto performed = client_.perform(r);
    if (!performed.ok()) return performed.error().context(where());
    auto& response = *performed;
    if (response.status != 200) {
      return make_error(ErrorKind::kRejected, where() + ": GET " + path.substr(0, path.find('?')) + ": HTTP " +
                                                  std::to_string(response.status));
    }
    auto parsed = nlohmann::json::parse(response.body, nullptr, false);
    if (parsed.is_discarded()) {
      return make_error(ErrorKind::kProtocol, where() + ": GET " + path.substr(0, path.find('?')) + ": not JSON");
    }
    return parsed;
  }

  net::HttpClient client_;
};

}  // namespace

std::filesystem::path containerd_runc_root(const RuntimeOptions& options) {
  return default_state_dir(options) / "runc";
}

std::string containerd_config_toml(const RuntimeOptions& options) {
  const std::string socket = options.socket.string();
  std::string out;
  out += "# containerd configuration written by k3s-daas at every start: edits here are lost.\n";
  out += "# To use a file of your own, set runtime.config_file in the k3s-daas config.\n";
  out += "version = 2\n";
  out += "root = " + toml_string(options.root_dir.string()) + "\n";
  out += "state = " + toml_string(default_state_dir(options).string()) + "\n";
  if (!options.enable_cri) out += "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n";
  out += "\n[grpc]\n  address = " + toml_string(socket) + "\n";
  out += "\n[ttrpc]\n  address = " + toml_string(socket + ".ttrpc") + "\n";
  out += "\n[debug]\n  address = \"\"\n  level = \"info\"\n";
  out += "\n[metrics]\n  address = \"\"\n";
  // Keep containerd's optional-binaries folder under our root rather than /opt/containerd.
  out += "\n[plugins.\"io.containerd.internal.v1.opt\"]\n  path = " + toml_string((options.root_dir / "opt").string()) +
         "\n";
  if (options.enable_cri) {
    const auto& data = options.k3s_data_dir;
    out +=
        "\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  snapshotter = \"overlayfs\"\n"
        "  default_runtime_name = \"runc\"\n";
    out +=
        "\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
        "  runtime_type = \"io.containerd.runc.v2\"\n";
    // runc's state of the node's containers under our state dir, not the host's /run/containerd/runc.
    out += "\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  Root = " +
           toml_string(containerd_runc_root(options).string()) + "\n";
    // k3s's flannel writes its CNI config and binaries under the k3s data dir.
    out += "\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = " +
           toml_string((data / "data" / "current" / "bin").string()) +
           "\n  conf_dir = " + toml_string((data / "agent" / "etc" / "cni" / "net.d").string()) + "\n";
  }
  return out;
}

RuntimeOptions runtime_options_from_config(const config::Config& config) {
  RuntimeOptions out;
  const auto& rc = config.runtime;
  const std::string default_socket = config::RuntimeConfig{}.socket;
  out.type = rc.type;
  out.containerd_binary = rc.containerd_binary;
  out.socket = rc.socket;
  if (rc.type == "docker" && rc.socket == default_socket) out.socket = kDockerSocket;
  if (rc.type == "k3s-embedded" && rc.socket == default_socket) out.socket = kK3sEmbeddedSocket;
  out.root_dir = rc.root_dir;
  out.state_dir = out.socket.parent_path() / "state";
  out.config_file = rc.config_file;
  out.work_dir = std::filesystem::path(config.state_dir) / "runtime";
  out.k3s_data_dir = config.k3s.data_dir;
  return out;
}

Result<std::unique_ptr<Runtime>> make_runtime(const RuntimeOptions& options, const supervisor::Limits& limits) {
  if (options.socket.empty() || !options.socket.is_absolute()) {
    return make_error(ErrorKind::kConfig,
                      "runtime.socket: expected an absolute path, found \"" + options.socket.string() + "\"");
  }
  if (options.type == "containerd") {
    if (options.work_dir.empty() || options.root_dir.empty()) {
      return make_error(ErrorKind::kConfig, "runtime: containerd needs a root_dir and the agent's state_dir");
    }
    if (!options.containerd_binary.is_absolute()) {
      return make_error(ErrorKind::kConfig, "runtime.containerd_binary: expected an absolute path, found \"" +
                                                options.containerd_binary.string() + "\"");
    }
    return std::unique_ptr<Runtime>(std::make_unique<ContainerdRuntime>(options, limits));
  }
  if (options.type == "k3s-embedded")
    return std::unique_ptr<Runtime>(std::make_unique<K3sEmbeddedRuntime>(options, limits));
  if (options.type == "docker") return std::unique_ptr<Runtime>(std::make_unique<DockerRuntime>(options, limits));
  return make_error(
      ErrorKind::kConfig,
      "runtime.type: expected \"containerd\", \"k3s-embedded\" or \"docker\", found \"" + options.type + "\"");
}

}  // namespace k3s_daas::runtime
