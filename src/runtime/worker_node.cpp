// The node: the runtime and the k3s agent under one supervisor; ordinary stop and teardown.
#include <algorithm>

#include "k3s_daas/fs.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/runtime.hpp"

namespace k3s_daas::runtime {

nlohmann::json TeardownReport::to_json() const {
  return {{"k3s_stopped", k3s_stopped},
          {"tasks_killed", tasks_killed},
          {"containers_deleted", containers_deleted},
          {"cgroup_processes_killed", cgroup_processes_killed},
          {"shims_killed", shims_killed},
          {"unmounted", unmounted},
          {"runtime_stopped", runtime_stopped},
          {"errors", errors}};
}

nlohmann::json NodeStatus::to_json() const {
  nlohmann::json j = {{"runtime", {{"type", runtime_type}, {"state", runtime_state}, {"version", runtime_version}}}};
  j["k3s"] = k3s ? supervisor::to_json(*k3s) : nlohmann::json(nullptr);
  j["containerd"] = containerd ? supervisor::to_json(*containerd) : nlohmann::json(nullptr);
  j["running_containers"] = running_containers ? nlohmann::json(*running_containers) : nlohmann::json(nullptr);
  return j;
}

NodeOptions node_options_from_config(const config::Config& config, std::string server_url,
                                     std::filesystem::path token_file) {
  NodeOptions out;
  out.runtime = runtime_options_from_config(config);
  out.k3s = k3s_options_from_config(config, std::move(server_url), std::move(token_file));
  out.teardown.unmount_prefixes = {config.k3s.data_dir, "/var/lib/kubelet", "/run/k3s"};
  if (out.runtime.type == "containerd") {
    out.teardown.unmount_prefixes.push_back(out.runtime.root_dir);
    out.teardown.unmount_prefixes.push_back(out.runtime.state_dir);
    out.teardown.runc_roots.push_back(containerd_runc_root(out.runtime));
  } else if (out.runtime.type == "k3s-embedded") {
    out.teardown.runc_roots.push_back("/run/k3s/containerd/runc");
  }
  return out;
}

WorkerNode::WorkerNode(supervisor::Supervisor& supervisor, NodeOptions options, std::unique_ptr<Runtime> runtime)
    : supervisor_(supervisor), options_(std::move(options)), runtime_(std::move(runtime)) {}

WorkerNode::~WorkerNode() = default;

Result<std::unique_ptr<WorkerNode>> WorkerNode::create(supervisor::Supervisor& supervisor, NodeOptions options) {
  if (options.k3s.work_dir.empty()) options.k3s.work_dir = options.runtime.work_dir;
  if (options.runtime.work_dir.empty()) options.runtime.work_dir = options.k3s.work_dir;
  if (options.k3s.work_dir.empty()) {
    return make_error(ErrorKind::kConfig, "runtime: no folder for pid files and the notify socket (state_dir)");
  }
  // state_dir/runtime holds pid files, the notify socket and the files handed to containerd and
  // k3s: a symbolic link there is refused, never followed.
  K3S_TRY(fs::ensure_private_dir(options.k3s.work_dir, 0700));
  if (options.runtime.work_dir != options.k3s.work_dir) K3S_TRY(fs::ensure_private_dir(options.runtime.work_dir, 0700));
  K3S_ASSIGN(auto runtime, make_runtime(options.runtime, supervisor.limits()));
  return std::unique_ptr<WorkerNode>(new WorkerNode(supervisor, std::move(options), std::move(runtime)));
}

Status WorkerNode::start_runtime() {
  // Take over from an earlier run of the agent that died without stopping its children (a crash,
  // the watchdog's SIGABRT, SIGKILL: the unit's KillMode=process leaves them running). Its pid
  // files name them; a pid whose start time differs is someone else and is left alone. Stopping
  // the old k3s agent and containerd with SIGTERM leaves the containerd-shims, and with them the
  // pods' containers, running: the containerd started next reconnects to them. Never two pairs.
  const auto& work_dir = options_.k3s.work_dir;
  std::vector<std::string> errors;
  bool took_over = false;
  if (!supervisor_.has(kK3sChild) || supervisor_.is_stopped(kK3sChild)) {
    took_over |= teardown::stop_leftover(work_dir / "k3s-agent.pid", options_.k3s.stop_timeout, errors);
  }
  const auto& runtime_child = runtime_->child_name();
  if (!runtime_child.empty() && (!supervisor_.has(runtime_child) || supervisor_.is_stopped(runtime_child))) {
    took_over |= teardown::stop_leftover(work_dir / "containerd.pid", supervisor_.limits().stop_timeout, errors);
  }
  // A run killed between a child's start and its pid file leaves that child unrecorded: found by
  // its command line, which names this node's own config files (the k3s config is always ours;
  // containerd's only when the agent wrote it, never an operator's shared runtime.config_file).
  if (!supervisor_.has(kK3sChild) || supervisor_.is_stopped(kK3sChild)) {
    took_over |= teardown::stop_unrecorded_leftovers(
                     kK3sChild, {"--config", k3s_config_file_path(work_dir).string()}, options_.k3s.stop_timeout,
                     errors) > 0;
  }
  if (runtime_child == kContainerdChild && options_.runtime.config_file.empty() &&
      (!supervisor_.has(runtime_child) || supervisor_.is_stopped(runtime_child))) {
    took_over |= teardown::stop_unrecorded_leftovers(
                     runtime_child, {"--config", (options_.runtime.work_dir / "containerd.toml").string()},
                     supervisor_.limits().stop_timeout, errors) > 0;
  }
  if (!errors.empty()) {
    return make_error(ErrorKind::kInternal, "an earlier run's processes could not be stopped: " + errors.front());
  }
  if (took_over) K3S_LOG(kRuntime, warn, "stopped what an earlier run of the agent left running; pods' containers kept");
  K3S_LOG(kRuntime, info, "starting the container runtime ({})", runtime_->type());
  return runtime_->start(supervisor_);
}

Status WorkerNode::start_k3s(std::string server_url, std::filesystem::path token_file) {
  options_.k3s.server_url = std::move(server_url);
  options_.k3s.token_file = std::move(token_file);
  return start_k3s();
}

Status WorkerNode::start_k3s() {
  const auto& k3s = options_.k3s;
  // The token file is the agent's own (written under state_dir): a symbolic link there is refused
  // (naming the file) before check_secret_file, which follows links, looks at its target; the
  // read itself never follows one either (O_NOFOLLOW).
  std::error_code link_ec;
  if (std::filesystem::symlink_status(k3s.token_file, link_ec).type() == std::filesystem::file_type::symlink) {
    return make_error(ErrorKind::kIo, "k3s token file " + k3s.token_file.string() +
                                          " is a symbolic link: refused (the agent never reads its state files "
                                          "through a link); remove the link");
  }
  K3S_TRY(fs::check_secret_file(k3s.token_file, "k3s token file"));
  K3S_ASSIGN(auto token_content, fs::read_state_file(k3s.token_file, 64 * 1024));
  if (!token_content) return make_error(ErrorKind::kIo, "k3s token file " + k3s.token_file.string() + " is missing");
  std::string token = std::move(*token_content);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) {
    return make_error(ErrorKind::kIo, "k3s token file " + k3s.token_file.string() + " is empty");
  }
  log::register_secret(token, "join-token");
  K3S_ASSIGN(auto argv, k3s_agent_argv(k3s, runtime_->k3s_flags()));
  K3S_ASSIGN(auto env, k3s_agent_env(k3s));
  // The file given as --config (comments only): k3s reads it and <it>.d/ instead of the host's
  // /etc/rancher/k3s/config.yaml and config.yaml.d/.
  K3S_TRY(fs::ensure_private_dir(k3s.work_dir, 0700));
  const auto k3s_config = k3s_config_file_path(k3s.work_dir);
  std::filesystem::path drop_ins = k3s_config;
  drop_ins += ".d";
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(drop_ins, ec))) {
    return make_error(ErrorKind::kConfig, drop_ins.string() + " exists: k3s would read the YAML files in it as its "
                                                              "config; the agent did not put it there: remove it");
  }
  fs::WriteOptions config_write;
  config_write.mode = 0600;
  config_write.preserve_mode = false;
  K3S_TRY(fs::atomic_write_file(k3s_config, k3s_config_file_content(), config_write));
  // Belt and braces: the token itself must appear nowhere in what k3s is given.
  for (const auto& part : argv) {
    if (part.find(token) != std::string::npos) {
      return make_error(ErrorKind::kConfig, "the k3s command line would contain the join token; refusing to start");
    }
  }
  for (const auto& part : env) {
    if (part.find(token) != std::string::npos) {
      return make_error(ErrorKind::kConfig, "the k3s environment would contain the join token; refusing to start");
    }
  }

  supervisor::ChildSpec spec;
  spec.name = kK3sChild;
  spec.argv = std::move(argv);
  spec.env = std::move(env);
  spec.log_category = log::Category::kRuntime;
  spec.notify_socket = k3s_notify_socket_path(k3s.work_dir);
  spec.ready_on_notify = true;
  spec.stop_timeout = k3s.stop_timeout;
  spec.pid_file = k3s.work_dir / "k3s-agent.pid";
  if (!runtime_->child_name().empty()) {
    spec.start_after = {runtime_->child_name()};
  } else {
    Runtime* runtime = runtime_.get();
    supervisor::Supervisor* supervisor = &supervisor_;
    spec.start_gate = [runtime, supervisor] { return runtime->ready_for_k3s(*supervisor); };
  }
  if (!k3s_added_) {
    K3S_TRY(supervisor_.add(std::move(spec)));
    k3s_added_ = true;
  } else {
    K3S_TRY(supervisor_.update(std::move(spec)));
  }
  K3S_LOG(kRuntime, info, "k3s agent for node {} registered; it starts once the runtime is ready", k3s.node_name);
  return supervisor_.start(kK3sChild);
}

void WorkerNode::request_stop() {
  // The supervisor stops k3s before the containerd it starts after.
  if (supervisor_.has(kK3sChild)) supervisor_.stop(kK3sChild);
  if (!runtime_->child_name().empty()) supervisor_.stop(runtime_->child_name());
}

bool WorkerNode::stopped() const {
  bool k3s_down = supervisor_.is_stopped(kK3sChild);
  bool runtime_down = runtime_->child_name().empty() || supervisor_.is_stopped(runtime_->child_name());
  return k3s_down && runtime_down;
}

bool WorkerNode::stop(std::chrono::milliseconds budget) {
  request_stop();
  return supervisor_.run_until([this] { return stopped(); }, budget);
}

TeardownReport WorkerNode::teardown() {
  TeardownReport report;
  const auto& limits = supervisor_.limits();
  const auto& work_dir = options_.k3s.work_dir;
  const std::chrono::milliseconds grace = options_.k3s.stop_timeout + limits.kill_timeout + std::chrono::seconds(2);
  K3S_LOG(kRuntime, warn, "teardown 1/6: stopping the k3s agent");
  if (supervisor_.has(kK3sChild)) supervisor_.stop_and_wait(kK3sChild, grace);
  teardown::stop_leftover(work_dir / "k3s-agent.pid", options_.k3s.stop_timeout, report.errors);
  report.k3s_stopped =
      supervisor_.is_stopped(kK3sChild) && !supervisor::proc::live_pid_from_file(work_dir / "k3s-agent.pid");

  K3S_LOG(kRuntime, warn, "teardown 2/6: killing and removing the node's containers ({})", runtime_->type());
  // Our containerd answers only while it runs (under us, or left over from a crashed run); when
  // it is down its tasks are found through their shims below.
  bool api_available = true;
  if (!runtime_->child_name().empty()) {
    auto child = supervisor_.status(runtime_->child_name());
    api_available =
        (child && child->pid > 0) || supervisor::proc::live_pid_from_file(work_dir / "containerd.pid").has_value();
  }
  if (api_available) {
    auto pump = [this] { supervisor_.poll_once(std::chrono::milliseconds(50)); };
    auto cleanup = runtime_->kill_workloads(limits, pump);
    report.tasks_killed = cleanup.tasks_killed;
    report.containers_deleted = cleanup.containers_deleted;
    for (auto& e : cleanup.errors) report.errors.push_back(std::move(e));
  } else {
    K3S_LOG(kRuntime, info, "teardown: our containerd is not running; its tasks are handled through their shims");
  }

  K3S_LOG(kRuntime, warn, "teardown 3/6: killing what is left in the pod cgroups");
  report.cgroup_processes_killed =
      teardown::kill_cgroup_processes(options_.teardown.cgroup_root, options_.teardown.cgroup_names,
                                      limits.teardown_process_exit_timeout, report.errors);

  K3S_LOG(kRuntime, warn, "teardown 4/6: killing the runtime's containerd-shim processes");
  pid_t containerd_pid = 0;
  if (!runtime_->child_name().empty()) {
    if (auto s = supervisor_.status(runtime_->child_name())) containerd_pid = s->pid;
    if (containerd_pid == 0)
      containerd_pid = supervisor::proc::live_pid_from_file(work_dir / "containerd.pid").value_or(0);
  }
  report.shims_killed =
      teardown::kill_shims(runtime_->shim_addresses(), containerd_pid, limits.teardown_process_exit_timeout,
                           report.errors, options_.teardown.runc_roots);

  K3S_LOG(kRuntime, warn, "teardown 5/6: unmounting what the kubelet mounted");
  report.unmounted =
      teardown::unmount_under(options_.teardown.unmount_prefixes, options_.teardown.mountinfo, report.errors);

  K3S_LOG(kRuntime, warn, "teardown 6/6: stopping the runtime");
  if (!runtime_->child_name().empty()) {
    if (supervisor_.has(runtime_->child_name())) supervisor_.stop_and_wait(runtime_->child_name(), grace);
    teardown::stop_leftover(work_dir / "containerd.pid", limits.stop_timeout, report.errors);
    report.runtime_stopped = supervisor_.is_stopped(runtime_->child_name()) &&
                             !supervisor::proc::live_pid_from_file(work_dir / "containerd.pid");
  } else {
    report.runtime_stopped = true;  // not ours to stop
  }
  K3S_LOG(kRuntime, warn, "teardown done: {}", report.to_json().dump());
  return report;
}

NodeStatus WorkerNode::status(bool query_runtime) {
  NodeStatus out;
  out.runtime_type = runtime_->type();
  out.k3s = supervisor_.status(kK3sChild);
  if (!runtime_->child_name().empty()) out.containerd = supervisor_.status(runtime_->child_name());
  if (out.containerd) out.runtime_state = supervisor::state_name(out.containerd->state);
  if (query_runtime) {
    auto version = runtime_->version();
    if (version.ok()) {
      out.runtime_version = *version;
      if (out.runtime_state.empty()) out.runtime_state = "ready";
      auto running = runtime_->running_containers();
      if (running.ok()) out.running_containers = *running;
    } else if (out.runtime_state.empty()) {
      out.runtime_state = "down";
    }
  }
  if (out.runtime_state.empty()) out.runtime_state = "unknown";
  return out;
}

}  // namespace k3s_daas::runtime
