// The supervisor's single-threaded loop: spawn, capture, readiness, health, backoff, stop.
#include "k3s_daas/supervisor.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>

#include "child_process.hpp"
#include "k3s_daas/clock.hpp"
#include "k3s_daas/fs.hpp"
#include "signals.hpp"

namespace k3s_daas::supervisor {

using detail::Fd;

const char* state_name(State state) {
  switch (state) {
    case State::kStarting:
      return "starting";
    case State::kReady:
      return "ready";
    case State::kRunning:
      return "running";
    case State::kBackoff:
      return "backoff";
    case State::kCrashLoop:
      return "crash-loop";
    case State::kStopping:
      return "stopping";
    case State::kStopped:
      return "stopped";
  }
  return "unknown";
}

const char* event_name(EventKind kind) {
  switch (kind) {
    case EventKind::kStarted:
      return "started";
    case EventKind::kSpawnFailed:
      return "spawn-failed";
    case EventKind::kReady:
      return "ready";
    case EventKind::kUnhealthy:
      return "unhealthy";
    case EventKind::kExited:
      return "exited";
    case EventKind::kRestartScheduled:
      return "restart-scheduled";
    case EventKind::kCrashLoop:
      return "crash-loop";
    case EventKind::kStopping:
      return "stopping";
    case EventKind::kKilled:
      return "killed";
    case EventKind::kStopped:
      return "stopped";
  }
  return "unknown";
}

std::vector<milliseconds> backoff_schedule(const Limits& limits, std::size_t count) {
  Backoff backoff(limits.restart_initial_delay, limits.restart_max_delay, limits.restart_jitter);
  std::vector<milliseconds> out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(backoff.next());
  return out;
}

std::string ExitInfo::describe() const {
  if (signaled) {
    const char* name = ::strsignal(code);
    return "killed by signal " + std::to_string(code) + (name ? std::string(" (") + name + ")" : std::string());
  }
  return "exit code " + std::to_string(code);
}

nlohmann::json to_json(const ChildStatus& s) {
  nlohmann::json j = {
      {"name", s.name},
      {"state", state_name(s.state)},
      {"pid", s.pid},
      {"restarts", s.restarts},
      {"restarts_in_window", s.restarts_in_window},
      {"crash_loop", s.crash_loop},
      {"started_at_ms", s.started_at_unix_ms},
      {"ready_at_ms", s.ready_at_unix_ms},
      {"next_restart_at_ms", s.next_restart_unix_ms},
      {"next_restart_delay_ms", s.next_restart_delay.count()},
      {"waiting_for", s.waiting_for},
      {"notify_status", log::redact(s.notify_status)},
  };
  if (s.last_exit) {
    j["last_exit"] = {{"pid", s.last_exit->pid},
                      {"signaled", s.last_exit->signaled},
                      {"code", s.last_exit->code},
                      {"description", s.last_exit->describe()},
                      {"at_ms", s.last_exit->at_unix_ms},
                      {"ran_for_ms", s.last_exit->ran_for.count()},
                      {"requested", s.last_exit->requested}};
  } else {
    j["last_exit"] = nullptr;
  }
  nlohmann::json tail = nlohmann::json::array();
  for (const auto& line : s.output_tail) tail.push_back(log::redact(line));
  j["output_tail"] = std::move(tail);
  return j;
}

namespace {

constexpr std::int64_t kGroupPollMs = 20;          // while a stopped leader's group drains
constexpr std::int64_t kFallbackReapPollMs = 100;  // waitpid fallback without a SIGCHLD wake-up
constexpr std::size_t kMaxReadPerTurn = 256 * 1024;

std::string env_name(const std::string& entry) { return entry.substr(0, entry.find('=')); }

}  // namespace

struct Supervisor::Child {
  explicit Child(ChildSpec s, const Limits& limits)
      : spec(std::move(s)), backoff(limits.restart_initial_delay, limits.restart_max_delay, limits.restart_jitter) {}

  ChildSpec spec;
  State state = State::kStopped;
  bool wanted = false;              // start() called and not stopped since
  bool stop_requested = false;      // stop()/stop_all(): bring it down
  bool restart_after_stop = false;  // our own stop of a failing child (ready timeout, health)
  pid_t pid = 0;                    // leader, while not reaped
  pid_t pgid = 0;                   // its group, until the group is gone
  Fd pidfd, out_fd, err_fd, notify_fd;
  std::string out_partial, err_partial;
  std::deque<std::string> tail;
  Backoff backoff;
  std::deque<std::int64_t> restart_times;  // monotonic ms of scheduled restarts
  unsigned restarts = 0;
  std::optional<ExitInfo> last_exit;
  std::int64_t started_mono = 0, started_unix = 0, ready_unix = 0;
  std::int64_t restart_due = 0;
  milliseconds restart_delay{0};
  std::int64_t stop_deadline = 0, kill_deadline = 0;
  bool kill_sent = false;
  bool leader_gone = false;  // stopping: leader reaped, group may still have members
  std::int64_t next_ready_poll = 0, next_health = 0, next_gate_poll = 0;
  unsigned health_failures = 0;
  bool notified_ready = false;
  std::string notify_status;
  std::string waiting_for;
  bool crash_loop_reported = false;

  bool has_readiness() const { return spec.ready_on_notify || static_cast<bool>(spec.ready_check); }
  bool leader_alive() const { return pid > 0; }
  log::Category category() const { return spec.log_category; }
};

struct Supervisor::Impl {
  Supervisor* self = nullptr;
  std::vector<std::unique_ptr<Child>> children;
  std::vector<Observer> observers;
  detail::SignalPipe signal_pipe;
  std::deque<int> pending_signals;
  std::vector<int> user_signals;
  bool force_fallback = false;
  bool pidfd_supported = true;
  bool sigchld_installed = false;
  bool in_poll = false;
  struct Watch {
    int fd;
    short events;
    std::function<void(short)> on_ready;
  };
  std::vector<Watch> watches;

  const Limits& limits() const { return self->limits_; }

  Child* find(const std::string& name) const {
    for (const auto& c : children) {
      if (c->spec.name == name) return c.get();
    }
    return nullptr;
  }

  void emit(Event event) {
    event.at_monotonic_ms = monotonic_ms();
    for (const auto& observer : observers) observer(event);
  }

  bool use_pidfd() const { return pidfd_supported && !force_fallback; }

  // --- output capture -------------------------------------------------------------------------

  std::size_t max_line() const { return std::max<std::size_t>(limits().max_log_line_bytes, 64); }

  void emit_one(Child& c, std::string line) {
    log::get(c.category()).info("[{}] {}", c.spec.name, line);
    c.tail.push_back(std::move(line));
    while (c.tail.size() > limits().output_tail_lines) c.tail.pop_front();
  }

  // One line of the child's output into our log, cut into pieces when it is too long.
  void emit_line(Child& c, std::string line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    if (line.empty()) return;
    std::size_t pos = 0;
    while (line.size() - pos > max_line()) {
      emit_one(c, line.substr(pos, max_line()) + " [line cut]");
      pos += max_line();
    }
    emit_one(c, line.substr(pos));
  }

  void consume(Child& c, std::string& partial, const char* data, std::size_t size) {
    partial.append(data, size);
    std::size_t start = 0;
    for (;;) {
      auto newline = partial.find('\n', start);
      if (newline == std::string::npos) break;
      emit_line(c, partial.substr(start, newline - start));
      start = newline + 1;
    }
    partial.erase(0, start);
    // A line without an end must not grow without bound.
    while (partial.size() > max_line()) {
      emit_one(c, partial.substr(0, max_line()) + " [line cut]");
      partial.erase(0, max_line());
    }
  }

  // Reads what is available; closes the pipe at end of file.
  void read_output(Child& c, Fd& fd, std::string& partial) {
    std::size_t total = 0;
    char buffer[16384];
    while (fd.valid() && total < kMaxReadPerTurn) {
      ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
      if (n > 0) {
        consume(c, partial, buffer, static_cast<std::size_t>(n));
        total += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      fd.reset();  // EOF or error
    }
  }

  void flush_and_close_output(Child& c) {
    read_output(c, c.out_fd, c.out_partial);
    read_output(c, c.err_fd, c.err_partial);
    if (!c.out_partial.empty()) emit_line(c, std::exchange(c.out_partial, {}));
    if (!c.err_partial.empty()) emit_line(c, std::exchange(c.err_partial, {}));
    c.out_fd.reset();
    c.err_fd.reset();
  }

  // --- notify socket --------------------------------------------------------------------------

  void handle_notify(Child& c) {
    for (auto& message : detail::read_notify_messages(c.notify_fd.get())) {
      // Only the child's own process group may speak for it.
      bool from_child =
          c.leader_alive() && message.sender > 0 && (message.sender == c.pid || ::getpgid(message.sender) == c.pgid);
      if (!from_child) {
        log::get(c.category())
            .warn("{}: ignored a notify message from pid {} (not in its process group)", c.spec.name, message.sender);
        continue;
      }
      std::size_t start = 0;
      while (start < message.text.size()) {
        auto end = message.text.find('\n', start);
        if (end == std::string::npos) end = message.text.size();
        std::string line = message.text.substr(start, end - start);
        start = end + 1;
        if (line == "READY=1") {
          if (!c.notified_ready) log::get(c.category()).info("{}: sent READY=1", c.spec.name);
          c.notified_ready = true;
          c.next_ready_poll = 0;  // evaluate readiness on this turn
        } else if (line.rfind("STATUS=", 0) == 0) {
          c.notify_status = line.substr(7);
          log::get(c.category()).debug("{}: status: {}", c.spec.name, c.notify_status);
        } else if (line == "STOPPING=1") {
          log::get(c.category()).info("{}: sent STOPPING=1", c.spec.name);
        }
      }
    }
  }

  // --- spawning -------------------------------------------------------------------------------

  std::vector<std::string> child_env(const Child& c) const {
    std::vector<std::string> env;
    for (const auto& entry : c.spec.env) {
      std::string name = env_name(entry);
      // Never let the caller's list smuggle in systemd's channels to us.
      if (name == "NOTIFY_SOCKET" || name.rfind("WATCHDOG_", 0) == 0 || name == "LISTEN_FDS" || name == "LISTEN_PID" ||
          name == "LISTEN_FDNAMES") {
        continue;
      }
      env.push_back(entry);
    }
    if (!c.spec.notify_socket.empty()) env.push_back("NOTIFY_SOCKET=" + c.spec.notify_socket.string());
    return env;
  }

  bool dependencies_up(Child& c) {
    for (const auto& dep : c.spec.start_after) {
      if (!self->is_up(dep)) {
        c.waiting_for = dep;
        return false;
      }
    }
    if (c.spec.start_gate) {
      std::int64_t now = monotonic_ms();
      if (now < c.next_gate_poll) return false;
      c.next_gate_poll = now + limits().readiness_poll_interval.count();
      if (!c.spec.start_gate()) {
        c.waiting_for = "start gate";
        return false;
      }
    }
    c.waiting_for.clear();
    return true;
  }

  void spawn(Child& c) {
    if (!c.spec.notify_socket.empty()) {
      if (!c.notify_fd.valid()) {
        auto fd = detail::open_notify_socket(c.spec.notify_socket);
        if (!fd.ok()) {
          spawn_failed(c, fd.error().message);
          return;
        }
        c.notify_fd = std::move(fd).value();
      } else {
        (void)detail::read_notify_messages(c.notify_fd.get());  // stale messages of an earlier run
      }
    }
    // Without pidfds, SIGCHLD (through the self-pipe) wakes the loop to reap.
    if (!use_pidfd() && !sigchld_installed) sigchld_installed = signal_pipe.install({SIGCHLD}).ok();
    auto spawned = detail::spawn_process(c.spec.name, c.spec.argv, child_env(c), c.spec.cwd, use_pidfd());
    if (!spawned.ok()) {
      spawn_failed(c, spawned.error().message);
      return;
    }
    auto& p = spawned.value();
    if (use_pidfd() && !p.pidfd.valid()) {
      pidfd_supported = false;  // old kernel: SIGCHLD + waitpid from now on
      log::get(log::Category::kSupervisor)
          .info("supervisor: pidfd_open unavailable ({}); reaping with waitpid", std::strerror(errno));
      if (!sigchld_installed) sigchld_installed = signal_pipe.install({SIGCHLD}).ok();
    }
    c.pid = p.pid;
    c.pgid = p.pid;
    c.pidfd = std::move(p.pidfd);
    c.out_fd = std::move(p.stdout_read);
    c.err_fd = std::move(p.stderr_read);
    c.out_partial.clear();
    c.err_partial.clear();
    c.started_mono = monotonic_ms();
    c.started_unix = now_unix_ms();
    c.ready_unix = 0;
    c.notified_ready = false;
    c.notify_status.clear();
    c.health_failures = 0;
    c.leader_gone = false;
    c.kill_sent = false;
    c.restart_after_stop = false;
    c.next_ready_poll = c.started_mono + limits().readiness_poll_interval.count();
    c.state = c.has_readiness() ? State::kStarting : State::kRunning;
    c.waiting_for.clear();
    if (!c.spec.pid_file.empty()) {
      auto dir = fs::ensure_dir(c.spec.pid_file.parent_path(), 0700);
      auto written = dir.ok() ? proc::write_pid_file(c.spec.pid_file, c.pid) : dir;
      if (!written.ok()) {
        log::get(c.category()).warn("{}: could not write its pid file: {}", c.spec.name, written.error().message);
      }
    }
    log::get(c.category()).info("started {} (pid {}{})", c.spec.name, c.pid, c.pidfd.valid() ? ", pidfd" : ", waitpid");
    emit({EventKind::kStarted, c.spec.name, c.pid});
    if (c.state == State::kRunning) c.next_health = c.started_mono + limits().health_interval.count();
  }

  void spawn_failed(Child& c, const std::string& why) {
    log::get(c.category()).error("{}: {}", c.spec.name, why);
    ExitInfo info;
    info.code = 127;
    info.at_unix_ms = now_unix_ms();
    c.last_exit = info;
    emit({EventKind::kSpawnFailed, c.spec.name, 0});
    c.started_mono = 0;
    after_exit(c);
  }

  // --- exits ----------------------------------------------------------------------------------

  // Reaps the leader if it has exited. Returns true when it was reaped now.
  bool try_reap(Child& c) {
    if (!c.leader_alive()) return false;
    int status = 0;
    pid_t r = ::waitpid(c.pid, &status, WNOHANG);
    if (r == 0) return false;
    ExitInfo info;
    info.pid = c.pid;
    if (r == c.pid) {
      if (WIFSIGNALED(status)) {
        info.signaled = true;
        info.code = WTERMSIG(status);
      } else {
        info.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
    } else {
      // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN?). The status is lost.
      if (errno == EINTR) return false;
      info.code = -1;
    }
    info.at_unix_ms = now_unix_ms();
    info.ran_for = milliseconds(monotonic_ms() - c.started_mono);
    info.requested = c.state == State::kStopping;
    on_leader_exit(c, info);
    return true;
  }

  void on_leader_exit(Child& c, const ExitInfo& info) {
    pid_t old_pid = c.pid;
    c.pid = 0;
    c.pidfd.reset();
    c.last_exit = info;
    flush_and_close_output(c);
    if (!c.spec.pid_file.empty()) {
      std::error_code ec;
      std::filesystem::remove(c.spec.pid_file, ec);
    }
    auto& logger = log::get(c.category());
    if (info.requested) {
      logger.info("{} (pid {}) stopped: {}", c.spec.name, old_pid, info.describe());
    } else {
      logger.warn("{} (pid {}) exited unexpectedly after {} ms: {}", c.spec.name, old_pid, info.ran_for.count(),
                  info.describe());
    }
    Event event{EventKind::kExited, c.spec.name, old_pid};
    event.exit = info;
    emit(event);

    if (c.state == State::kStopping) {
      c.leader_gone = true;
      continue_stop(c);
      return;
    }
    // Unexpected exit: what is left of its group must not outlive it (nor run twice after a restart).
    if (c.spec.kill_group_on_exit && group_has_live_members(c.pgid)) {
      logger.info("{}: killing what is left of process group {}", c.spec.name, c.pgid);
      ::kill(-c.pgid, SIGKILL);
    }
    c.pgid = 0;
    after_exit(c);
  }

  // Decides what follows an unexpected exit (or a failed start): restart with backoff, or stopped.
  void after_exit(Child& c) {
    if (!c.wanted || c.stop_requested || !c.spec.restart_on_exit) {
      c.wanted = false;
      set_stopped(c);
      return;
    }
    std::int64_t now = monotonic_ms();
    if (c.started_mono > 0 && now - c.started_mono >= limits().restart_reset_after.count()) c.backoff.reset();
    c.restart_delay = c.backoff.next();
    c.restart_due = now + c.restart_delay.count();
    c.restart_times.push_back(now);
    prune_window(c, now);
    bool crash_loop = c.restart_times.size() >= limits().crash_loop_restarts;
    c.state = crash_loop ? State::kCrashLoop : State::kBackoff;
    log::get(c.category())
        .info("{}: restart in {} ms ({} restarts in the last {} s)", c.spec.name, c.restart_delay.count(),
              c.restart_times.size(), limits().crash_loop_window.count() / 1000);
    Event event{EventKind::kRestartScheduled, c.spec.name, 0};
    event.delay = c.restart_delay;
    emit(event);
    if (crash_loop && !c.crash_loop_reported) {
      c.crash_loop_reported = true;
      log::get(c.category())
          .error("{} is crash-looping: {} restarts within {} s; last: {}; restarting every {} ms at most", c.spec.name,
                 c.restart_times.size(), limits().crash_loop_window.count() / 1000,
                 c.last_exit ? c.last_exit->describe() : std::string("?"), limits().restart_max_delay.count());
      emit({EventKind::kCrashLoop, c.spec.name, 0});
    } else if (!crash_loop) {
      c.crash_loop_reported = false;
    }
  }

  void prune_window(Child& c, std::int64_t now) const {
    while (!c.restart_times.empty() && now - c.restart_times.front() > limits().crash_loop_window.count()) {
      c.restart_times.pop_front();
    }
  }

  void set_stopped(Child& c) {
    bool was_stopped = c.state == State::kStopped;
    c.state = State::kStopped;
    c.pgid = 0;
    c.stop_requested = false;
    c.waiting_for.clear();
    if (!was_stopped) emit({EventKind::kStopped, c.spec.name, 0});
    if (c.wanted && !c.restart_after_stop) {
      // start() came while it was stopping: go again.
      c.state = State::kStarting;
    }
  }

  // --- stopping -------------------------------------------------------------------------------

  milliseconds stop_timeout(const Child& c) const { return c.spec.stop_timeout.value_or(limits().stop_timeout); }

  void begin_stop(Child& c) {
    std::int64_t now = monotonic_ms();
    c.state = State::kStopping;
    c.kill_sent = false;
    c.leader_gone = false;
    c.stop_deadline = now + stop_timeout(c).count();
    log::get(c.category())
        .info("stopping {} (pid {}): SIGTERM to its group, SIGKILL after {} ms", c.spec.name, c.pid,
              stop_timeout(c).count());
    ::kill(-c.pgid, SIGTERM);
    emit({EventKind::kStopping, c.spec.name, c.pid});
  }

  void send_kill(Child& c) {
    log::get(c.category())
        .warn("{} did not stop within {} ms: SIGKILL to process group {}", c.spec.name, stop_timeout(c).count(),
              c.pgid);
    ::kill(-c.pgid, SIGKILL);
    c.kill_sent = true;
    c.kill_deadline = monotonic_ms() + limits().kill_timeout.count();
    emit({EventKind::kKilled, c.spec.name, c.pid});
  }

  // Zombies do not count: the members' new parent (init) reaps them in its own time.
  static bool group_has_live_members(pid_t pgid) {
    if (pgid <= 0 || ::kill(-pgid, 0) != 0) return false;
    return !proc::group_members(pgid).empty();
  }

  // A stopping child whose leader has been reaped: done once its group is empty.
  void continue_stop(Child& c) {
    std::int64_t now = monotonic_ms();
    bool group_left = group_has_live_members(c.pgid);
    if (group_left) {
      if (!c.kill_sent && now >= c.stop_deadline) send_kill(c);
      if (c.kill_sent && now >= c.kill_deadline) {
        log::get(c.category())
            .error("{}: processes of group {} survive SIGKILL (uninterruptible?); giving up on them", c.spec.name,
                   c.pgid);
        group_left = false;
      }
      if (group_left) return;
    }
    finish_stop(c);
  }

  void finish_stop(Child& c) {
    c.pgid = 0;
    c.leader_gone = false;
    if (c.restart_after_stop && c.wanted) {
      c.restart_after_stop = false;
      c.stop_requested = false;
      after_exit(c);
      return;
    }
    c.restart_after_stop = false;
    set_stopped(c);
  }

  // Stops a failing child of our own accord; it is restarted with backoff afterwards.
  void stop_for_restart(Child& c, const std::string& why) {
    log::get(c.category()).warn("{}: {}; restarting it", c.spec.name, why);
    begin_stop(c);
    c.restart_after_stop = true;
  }

  bool dependents_alive(const Child& c) const {
    for (const auto& other : children) {
      if (other.get() == &c || !other->stop_requested) continue;
      if (std::find(other->spec.start_after.begin(), other->spec.start_after.end(), c.spec.name) ==
          other->spec.start_after.end()) {
        continue;
      }
      if (other->leader_alive() || other->state == State::kStopping) return true;
    }
    return false;
  }

  // --- timers ---------------------------------------------------------------------------------

  void tick() {
    for (auto& owned : children) {
      Child& c = *owned;
      std::int64_t now = monotonic_ms();
      if (!use_pidfd() || !c.pidfd.valid()) try_reap(c);

      if (c.stop_requested) {
        if (c.state == State::kStopping) {
          if (c.leader_alive() && !c.kill_sent && now >= c.stop_deadline) send_kill(c);
          if (c.leader_alive() && c.kill_sent && now >= c.kill_deadline) {
            log::get(c.category())
                .error("{} (pid {}) survives SIGKILL (uninterruptible?); still waiting", c.spec.name, c.pid);
            c.kill_deadline = now + limits().kill_timeout.count();
          }
          if (c.leader_gone) continue_stop(c);
        } else if (c.leader_alive()) {
          if (dependents_alive(c)) {
            c.waiting_for = "dependents to stop";
          } else {
            begin_stop(c);
          }
        } else {
          set_stopped(c);
        }
        continue;
      }

      switch (c.state) {
        case State::kStopping:
          if (c.leader_alive() && !c.kill_sent && now >= c.stop_deadline) send_kill(c);
          if (c.leader_gone) continue_stop(c);
          break;
        case State::kBackoff:
        case State::kCrashLoop:
          if (now >= c.restart_due && dependencies_up(c)) {
            ++c.restarts;
            log::get(c.category()).info("restarting {} (restart {})", c.spec.name, c.restarts);
            spawn(c);
          }
          break;
        case State::kStarting:
          if (!c.leader_alive()) {
            if (c.wanted && dependencies_up(c)) spawn(c);
            break;
          }
          if (now >= c.next_ready_poll) {
            c.next_ready_poll = now + limits().readiness_poll_interval.count();
            bool ready = (!c.spec.ready_on_notify || c.notified_ready) && (!c.spec.ready_check || c.spec.ready_check());
            if (ready) {
              c.state = State::kReady;
              c.ready_unix = now_unix_ms();
              c.next_health = now + limits().health_interval.count();
              log::get(c.category())
                  .info("{} is ready (pid {}, {} ms after start)", c.spec.name, c.pid, now - c.started_mono);
              emit({EventKind::kReady, c.spec.name, c.pid});
              break;
            }
          }
          if (c.spec.ready_timeout.count() > 0 && now - c.started_mono >= c.spec.ready_timeout.count()) {
            stop_for_restart(c, "not ready after " + std::to_string(c.spec.ready_timeout.count()) + " ms");
          }
          break;
        case State::kReady:
        case State::kRunning:
          if (c.spec.health_check && now >= c.next_health) {
            c.next_health = now + limits().health_interval.count();
            if (c.spec.health_check()) {
              if (c.health_failures > 0) log::get(c.category()).info("{} is healthy again", c.spec.name);
              c.health_failures = 0;
              if (c.has_readiness()) c.state = State::kReady;
            } else {
              ++c.health_failures;
              log::get(c.category())
                  .warn("{}: health check failed ({} of {})", c.spec.name, c.health_failures,
                        limits().health_failures_before_restart);
              if (c.has_readiness()) c.state = State::kRunning;
              emit({EventKind::kUnhealthy, c.spec.name, c.pid});
              if (c.health_failures >= limits().health_failures_before_restart) {
                stop_for_restart(c, "health check failed " + std::to_string(c.health_failures) + " times");
              }
            }
          }
          break;
        case State::kStopped:
          break;
      }
    }
  }

  // Milliseconds until the next timer of any child (capped by max_wait).
  std::int64_t next_timeout(std::int64_t max_wait) const {
    std::int64_t now = monotonic_ms();
    std::int64_t wait = max_wait;
    auto until = [&](std::int64_t at) { wait = std::min(wait, std::max<std::int64_t>(0, at - now)); };
    for (const auto& owned : children) {
      const Child& c = *owned;
      if (c.leader_alive() && !c.pidfd.valid() && !sigchld_installed) until(now + kFallbackReapPollMs);
      if (c.stop_requested && c.state != State::kStopping && c.leader_alive()) until(now + kGroupPollMs);
      switch (c.state) {
        case State::kStopping:
          if (c.leader_gone) until(now + kGroupPollMs);
          until(c.kill_sent ? c.kill_deadline : c.stop_deadline);
          break;
        case State::kBackoff:
        case State::kCrashLoop:
          until(std::max(c.restart_due, c.next_gate_poll));
          if (!c.waiting_for.empty()) until(now + limits().readiness_poll_interval.count());
          break;
        case State::kStarting:
          if (c.leader_alive()) {
            until(c.next_ready_poll);
            if (c.spec.ready_timeout.count() > 0) until(c.started_mono + c.spec.ready_timeout.count());
          } else if (c.wanted) {
            until(std::max(now + 1, std::min(c.next_gate_poll, now + limits().readiness_poll_interval.count())));
          }
          break;
        case State::kReady:
        case State::kRunning:
          if (c.spec.health_check) until(c.next_health);
          break;
        case State::kStopped:
          break;
      }
    }
    return wait;
  }

  void handle_wake() {
    for (int signal_number : signal_pipe.drain()) {
      if (signal_number == 0 || signal_number == SIGCHLD) continue;
      if (std::find(user_signals.begin(), user_signals.end(), signal_number) == user_signals.end()) continue;
      if (std::find(pending_signals.begin(), pending_signals.end(), signal_number) == pending_signals.end()) {
        pending_signals.push_back(signal_number);
      }
    }
  }

  void poll_once(std::int64_t max_wait_ms) {
    in_poll = true;
    tick();
    std::int64_t timeout = pending_signals.empty() ? next_timeout(max_wait_ms) : 0;

    std::vector<pollfd> fds;
    enum class Kind { kWake, kPidfd, kStdout, kStderr, kNotify, kWatch };
    struct Slot {
      Kind kind;
      Child* child;
      std::size_t watch_index;
    };
    std::vector<Slot> slots;
    fds.push_back({signal_pipe.read_fd(), POLLIN, 0});
    slots.push_back({Kind::kWake, nullptr, 0});
    for (auto& owned : children) {
      Child& c = *owned;
      if (c.pidfd.valid()) {
        fds.push_back({c.pidfd.get(), POLLIN, 0});
        slots.push_back({Kind::kPidfd, &c, 0});
      }
      if (c.out_fd.valid()) {
        fds.push_back({c.out_fd.get(), POLLIN, 0});
        slots.push_back({Kind::kStdout, &c, 0});
      }
      if (c.err_fd.valid()) {
        fds.push_back({c.err_fd.get(), POLLIN, 0});
        slots.push_back({Kind::kStderr, &c, 0});
      }
      if (c.notify_fd.valid()) {
        fds.push_back({c.notify_fd.get(), POLLIN, 0});
        slots.push_back({Kind::kNotify, &c, 0});
      }
    }
    for (std::size_t i = 0; i < watches.size(); ++i) {
      fds.push_back({watches[i].fd, watches[i].events, 0});
      slots.push_back({Kind::kWatch, nullptr, i});
    }
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<std::int64_t>(timeout, INT_MAX)));
    if (n > 0) {
      // Output and notify messages first, so a child's last words come before its exit.
      for (int pass = 0; pass < 2; ++pass) {
        for (std::size_t i = 0; i < fds.size(); ++i) {
          if (fds[i].revents == 0) continue;
          Slot& slot = slots[i];
          bool exit_pass = slot.kind == Kind::kPidfd;
          if ((pass == 1) != exit_pass) continue;
          switch (slot.kind) {
            case Kind::kWake:
              handle_wake();
              break;
            case Kind::kPidfd:
              try_reap(*slot.child);
              break;
            case Kind::kStdout:
              read_output(*slot.child, slot.child->out_fd, slot.child->out_partial);
              break;
            case Kind::kStderr:
              read_output(*slot.child, slot.child->err_fd, slot.child->err_partial);
              break;
            case Kind::kNotify:
              handle_notify(*slot.child);
              break;
            case Kind::kWatch:
              if (slot.watch_index < watches.size() && watches[slot.watch_index].fd == fds[i].fd) {
                auto callback = watches[slot.watch_index].on_ready;
                callback(fds[i].revents);
              }
              break;
          }
        }
      }
    }
    tick();
    in_poll = false;
  }
};

Supervisor::Supervisor(Limits limits) : limits_(limits), impl_(std::make_unique<Impl>()) { impl_->self = this; }

Supervisor::~Supervisor() {
  bool any_alive = false;
  for (const auto& c : impl_->children) any_alive = any_alive || c->leader_alive() || c->state == State::kStopping;
  if (any_alive) {
    milliseconds budget{0};
    for (const auto& c : impl_->children) budget = std::max(budget, impl_->stop_timeout(*c));
    budget += limits_.kill_timeout + std::chrono::seconds(1);
    log::get(log::Category::kSupervisor).info("supervisor shutting down: stopping every child");
    stop_and_wait("", budget * 2);
  }
  for (auto& c : impl_->children) {
    if (c->notify_fd.valid() && !c->spec.notify_socket.empty()) {
      std::error_code ec;
      std::filesystem::remove(c->spec.notify_socket, ec);
    }
  }
  impl_->signal_pipe.uninstall();
}

Status Supervisor::add(ChildSpec spec) {
  if (impl_->in_poll) return make_error(ErrorKind::kInternal, "supervisor: add() called from inside the loop");
  if (spec.name.empty()) return make_error(ErrorKind::kInternal, "supervisor: a child needs a name");
  if (impl_->find(spec.name) != nullptr) {
    return make_error(ErrorKind::kInternal, "supervisor: a child named " + spec.name + " already exists");
  }
  if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0][0] != '/') {
    return make_error(ErrorKind::kConfig, "supervisor: " + spec.name + ": the program must be an absolute path");
  }
  // start_after may name a child added later: until it exists and is up, this one waits.
  impl_->children.push_back(std::make_unique<Child>(std::move(spec), limits_));
  return {};
}

bool Supervisor::has(const std::string& name) const { return impl_->find(name) != nullptr; }

Status Supervisor::update(ChildSpec spec) {
  if (impl_->in_poll) return make_error(ErrorKind::kInternal, "supervisor: update() called from inside the loop");
  Child* c = impl_->find(spec.name);
  if (c == nullptr) return make_error(ErrorKind::kNotFound, "supervisor: no child named " + spec.name);
  if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0][0] != '/') {
    return make_error(ErrorKind::kConfig, "supervisor: " + spec.name + ": the program must be an absolute path");
  }
  if (spec.notify_socket != c->spec.notify_socket) {
    if (!c->spec.notify_socket.empty()) {
      std::error_code ec;
      std::filesystem::remove(c->spec.notify_socket, ec);
    }
    c->notify_fd.reset();
  }
  c->spec = std::move(spec);
  return {};
}

Status Supervisor::start(const std::string& name) {
  Child* c = impl_->find(name);
  if (c == nullptr) return make_error(ErrorKind::kNotFound, "supervisor: no child named " + name);
  c->wanted = true;
  c->stop_requested = false;
  if (c->state == State::kStopped) {
    c->state = State::kStarting;
    c->next_gate_poll = 0;
    c->backoff.reset();
  }
  impl_->signal_pipe.wake();
  return {};
}

void Supervisor::stop(const std::string& name) {
  Child* c = impl_->find(name);
  if (c == nullptr) return;
  c->wanted = false;
  if (c->state != State::kStopped) c->stop_requested = true;
  impl_->signal_pipe.wake();
}

void Supervisor::stop_all() {
  for (auto& c : impl_->children) {
    c->wanted = false;
    if (c->state != State::kStopped) c->stop_requested = true;
  }
  impl_->signal_pipe.wake();
}

void Supervisor::kill_now(const std::string& name, int signal_number) {
  Child* c = impl_->find(name);
  if (c != nullptr && c->leader_alive()) ::kill(c->pid, signal_number);
}

bool Supervisor::is_up(const std::string& name) const {
  Child* c = impl_->find(name);
  if (c == nullptr || !c->leader_alive()) return false;
  return c->state == State::kReady || (c->state == State::kRunning && !c->has_readiness());
}

bool Supervisor::is_stopped(const std::string& name) const {
  Child* c = impl_->find(name);
  return c == nullptr || (c->state == State::kStopped && !c->leader_alive());
}

bool Supervisor::all_stopped() const {
  for (const auto& c : impl_->children) {
    if (c->state != State::kStopped || c->leader_alive()) return false;
  }
  return true;
}

void Supervisor::poll_once(milliseconds max_wait) { impl_->poll_once(std::max<std::int64_t>(0, max_wait.count())); }

bool Supervisor::run_until(const std::function<bool()>& done, milliseconds timeout) {
  std::int64_t deadline = monotonic_ms() + timeout.count();
  while (!done()) {
    std::int64_t left = deadline - monotonic_ms();
    if (left <= 0) return done();
    impl_->poll_once(std::min<std::int64_t>(left, 1000));
  }
  return true;
}

bool Supervisor::stop_and_wait(const std::string& name, milliseconds budget) {
  if (name.empty()) {
    stop_all();
    return run_until([this] { return all_stopped(); }, budget);
  }
  stop(name);
  return run_until([this, &name] { return is_stopped(name); }, budget);
}

std::optional<ChildStatus> Supervisor::status(const std::string& name) const {
  Child* c = impl_->find(name);
  if (c == nullptr) return std::nullopt;
  ChildStatus s;
  s.name = c->spec.name;
  s.state = c->state;
  s.pid = c->pid;
  s.restarts = c->restarts;
  std::int64_t now = monotonic_ms();
  for (auto at : c->restart_times) {
    if (now - at <= limits_.crash_loop_window.count()) ++s.restarts_in_window;
  }
  s.crash_loop = s.restarts_in_window >= limits_.crash_loop_restarts;
  s.last_exit = c->last_exit;
  s.started_at_unix_ms = c->leader_alive() ? c->started_unix : 0;
  s.ready_at_unix_ms = c->leader_alive() ? c->ready_unix : 0;
  if (c->state == State::kBackoff || c->state == State::kCrashLoop) {
    s.next_restart_unix_ms = now_unix_ms() + std::max<std::int64_t>(0, c->restart_due - now);
  }
  s.next_restart_delay = c->restart_delay;
  s.waiting_for = c->waiting_for;
  s.notify_status = c->notify_status;
  s.output_tail.assign(c->tail.begin(), c->tail.end());
  return s;
}

std::vector<ChildStatus> Supervisor::status() const {
  std::vector<ChildStatus> out;
  for (const auto& c : impl_->children) out.push_back(*status(c->spec.name));
  return out;
}

void Supervisor::add_observer(Observer observer) { impl_->observers.push_back(std::move(observer)); }

Status Supervisor::handle_signals(const std::vector<int>& signals) {
  K3S_TRY(impl_->signal_pipe.install(signals));
  for (int s : signals) {
    if (std::find(impl_->user_signals.begin(), impl_->user_signals.end(), s) == impl_->user_signals.end()) {
      impl_->user_signals.push_back(s);
    }
  }
  return {};
}

std::optional<int> Supervisor::take_signal() {
  impl_->handle_wake();
  if (impl_->pending_signals.empty()) return std::nullopt;
  int s = impl_->pending_signals.front();
  impl_->pending_signals.pop_front();
  return s;
}

void Supervisor::wake() { impl_->signal_pipe.wake(); }

void Supervisor::watch_fd(int fd, short events, std::function<void(short)> on_ready) {
  unwatch_fd(fd);
  impl_->watches.push_back({fd, events, std::move(on_ready)});
}

void Supervisor::unwatch_fd(int fd) {
  auto& w = impl_->watches;
  w.erase(std::remove_if(w.begin(), w.end(), [fd](const Impl::Watch& x) { return x.fd == fd; }), w.end());
}

void Supervisor::force_waitpid_fallback(bool on) { impl_->force_fallback = on; }

bool Supervisor::uses_pidfd() const { return impl_->use_pidfd(); }

}  // namespace k3s_daas::supervisor
