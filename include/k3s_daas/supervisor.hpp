#pragma once
// Process supervisor: starts the node's long-running children (containerd, the k3s agent) with
// an environment we choose, captures their output into our log, watches readiness and health,
// restarts them with exponential backoff, and stops them group by group.
// Owns: the child processes it spawned (their process groups, pipes, pidfds, pid files and
// private notify sockets) and the signal flags of our own process. Everything runs in one
// thread: the caller drives poll_once()/run_until() from its main loop.
// Must never: pass our own environment through (NOTIFY_SOCKET, WATCHDOG_*, secrets), do work in
// a signal handler, leave a zombie behind, or signal a process it did not start (the helpers in
// `proc` used by teardown are explicit, separate calls).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k3s_daas/log.hpp"
#include "k3s_daas/result.hpp"

namespace k3s_daas::supervisor {

using std::chrono::milliseconds;

// The watcher's limits table: every delay, threshold and timeout of the supervisor, the runtime
// and the teardown, by name, in one place. Defaults are the production values; tests shrink them.
struct Limits {
  // Restart pacing after an unexpected exit: the first restart waits restart_initial_delay,
  // each further one twice as long, up to restart_max_delay. After restart_reset_after of
  // running without an exit, the next failure starts again at restart_initial_delay.
  milliseconds restart_initial_delay{std::chrono::seconds(1)};
  milliseconds restart_max_delay{std::chrono::minutes(5)};
  milliseconds restart_reset_after{std::chrono::minutes(10)};
  double restart_jitter = 0.0;  // 0: exact doubling; 0.5: each delay uniform in [d/2, d]

  // Crash loop: this many restarts within the window put the child in the crash-loop state
  // (it keeps being restarted on the backoff schedule; the state is for status and metrics).
  unsigned crash_loop_restarts = 5;
  milliseconds crash_loop_window{std::chrono::minutes(10)};

  // Stopping: SIGTERM to the group, stop_timeout (a child's own value wins), then SIGKILL to the
  // group and at most kill_timeout for it to vanish.
  milliseconds stop_timeout{std::chrono::seconds(30)};
  milliseconds kill_timeout{std::chrono::seconds(5)};

  // Readiness and health of running children.
  milliseconds readiness_poll_interval{std::chrono::milliseconds(250)};
  milliseconds health_interval{std::chrono::seconds(5)};
  unsigned health_failures_before_restart = 3;

  // Output capture.
  std::size_t max_log_line_bytes = 8192;  // longer lines are cut (and marked) in the log
  std::size_t output_tail_lines = 20;     // last lines kept per child for status and exit reports

  // The container runtime (runtime.hpp).
  milliseconds rpc_timeout{std::chrono::seconds(2)};            // one containerd/Docker call
  milliseconds runtime_ready_timeout{std::chrono::minutes(2)};  // containerd not answering: restart it

  // Teardown (runtime.hpp): waiting for killed tasks, cgroup members and shims to disappear.
  milliseconds teardown_task_exit_timeout{std::chrono::seconds(10)};
  milliseconds teardown_process_exit_timeout{std::chrono::seconds(10)};

  static Limits production() { return Limits{}; }
};

// The restart delays after `count` failures in a row (no good run of restart_reset_after in
// between), as the supervisor computes them (exact when restart_jitter is 0).
std::vector<milliseconds> backoff_schedule(const Limits& limits, std::size_t count);

enum class State {
  kStarting,   // spawned (or waiting for what it starts after); readiness not yet confirmed
  kReady,      // readiness confirmed and health checks passing
  kRunning,    // alive, but has no readiness check, or its health check is failing
  kBackoff,    // exited unexpectedly; waiting for the restart delay
  kCrashLoop,  // like backoff, with crash_loop_restarts or more restarts inside the window
  kStopping,   // SIGTERM (then SIGKILL) sent to its group; waiting for the group to vanish
  kStopped,    // not running, no restart pending
};
const char* state_name(State state);

// A readiness, health or start-gate check. Called from the supervisor's thread; it may block for
// a bounded time (a short RPC), never indefinitely.
using Check = std::function<bool()>;

struct ChildSpec {
  std::string name;               // "containerd", "k3s-agent"; prefixes every captured line
  std::vector<std::string> argv;  // argv[0] is an absolute path
  std::vector<std::string> env;   // the complete environment ("NAME=value"); nothing is inherited
  std::filesystem::path cwd = "/";
  log::Category log_category = log::Category::kSupervisor;

  // A private datagram socket (mode 0600) the child finds in NOTIFY_SOCKET (sd_notify protocol).
  std::filesystem::path notify_socket;
  bool ready_on_notify = false;   // readiness needs READY=1 on notify_socket
  Check ready_check;              // polled while starting; ready once it returns true
  milliseconds ready_timeout{0};  // 0: wait forever; else not ready in time = a failed start
  Check health_check;             // polled every health_interval once ready

  std::vector<std::string> start_after;  // children that must be up (ready) before each start
  Check start_gate;                      // also polled before each start (e.g. "Docker answers")

  std::optional<milliseconds> stop_timeout;  // SIGTERM -> SIGKILL grace; default Limits::stop_timeout
  std::filesystem::path pid_file;            // "<pid> <start time>" while it runs (teardown after a crash)
  bool restart_on_exit = true;               // false: any exit leaves it stopped
  bool kill_group_on_exit = true;            // SIGKILL what is left of its group after it exits
};

struct ExitInfo {
  pid_t pid = 0;
  bool signaled = false;
  int code = 0;  // exit code, or the signal number when signaled
  std::int64_t at_unix_ms = 0;
  std::chrono::milliseconds ran_for{0};
  bool requested = false;        // we asked it to stop
  std::string describe() const;  // "exit code 1", "killed by signal 9 (Killed)"
};

struct ChildStatus {
  std::string name;
  State state = State::kStopped;
  pid_t pid = 0;                    // 0 when not running
  unsigned restarts = 0;            // restarts performed since it was added
  unsigned restarts_in_window = 0;  // restarts inside crash_loop_window
  bool crash_loop = false;
  std::optional<ExitInfo> last_exit;
  std::int64_t started_at_unix_ms = 0;
  std::int64_t ready_at_unix_ms = 0;
  std::int64_t next_restart_unix_ms = 0;  // 0 when none is scheduled
  milliseconds next_restart_delay{0};     // the delay of the pending (or last) restart
  std::string waiting_for;                // what a start waits for ("containerd", "start gate")
  std::string notify_status;              // the last STATUS= the child sent
  std::vector<std::string> output_tail;   // its last lines of output
};
nlohmann::json to_json(const ChildStatus& status);

enum class EventKind {
  kStarted,
  kSpawnFailed,
  kReady,
  kUnhealthy,
  kExited,
  kRestartScheduled,
  kCrashLoop,
  kStopping,
  kKilled,
  kStopped
};
const char* event_name(EventKind kind);

struct Event {
  EventKind kind;
  std::string child;
  pid_t pid = 0;
  std::int64_t at_monotonic_ms = 0;
  milliseconds delay{0};         // kRestartScheduled: the backoff delay
  std::optional<ExitInfo> exit;  // kExited
};
using Observer = std::function<void(const Event&)>;

class Supervisor {
 public:
  explicit Supervisor(Limits limits = Limits::production());
  // Stops every child still running (bounded by their stop timeouts) and restores signal handlers.
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  const Limits& limits() const { return limits_; }

  // Registers a child (not started). Names are unique.
  Status add(ChildSpec spec);
  bool has(const std::string& name) const;
  // Replaces the spec of a registered child (same name); a running child keeps running and the
  // new command line and environment apply from its next start.
  Status update(ChildSpec spec);
  // Wants the child running: it is spawned by the loop once what it starts after is up.
  Status start(const std::string& name);
  // Asks the child to stop (SIGTERM to its group now, SIGKILL after its stop timeout). Async.
  void stop(const std::string& name);
  // Asks every child to stop, dependents first (k3s before the containerd it starts after).
  void stop_all();
  // Kills (SIGKILL to the group) a running child now, as an outside crash would; test and bench aid.
  void kill_now(const std::string& name, int signal = 9);

  bool is_up(const std::string& name) const;       // ready, or running without a readiness check
  bool is_stopped(const std::string& name) const;  // stopped and no restart pending
  bool all_stopped() const;

  // One turn of the loop: waits at most `max_wait` for a child exit, output, a notify message, a
  // signal or a due timer, and handles all of them. Never blocks longer than max_wait plus the
  // time of the checks it runs.
  void poll_once(milliseconds max_wait);
  // Runs the loop until done() is true (checked after every turn) or the timeout passes.
  // Returns done().
  bool run_until(const std::function<bool()>& done, milliseconds timeout);
  // Stops `name` (or everything when empty) and runs the loop until stopped or `budget` passes.
  bool stop_and_wait(const std::string& name, milliseconds budget);

  std::optional<ChildStatus> status(const std::string& name) const;
  std::vector<ChildStatus> status() const;

  void add_observer(Observer observer);

  // Our own process's signals: the handlers only note the signal (self-pipe); the loop wakes up
  // and take_signal() hands them out in order. Only one Supervisor may handle signals at a time.
  Status handle_signals(const std::vector<int>& signals);
  std::optional<int> take_signal();
  // Wakes a poll_once() in progress (safe from any thread).
  void wake();

  // Extra file descriptors of the caller's own (e.g. a metrics listener) serviced by the loop.
  void watch_fd(int fd, short events, std::function<void(short revents)> on_ready);
  void unwatch_fd(int fd);

  // Tests only: reap through SIGCHLD + waitpid as on kernels without pidfd_open.
  void force_waitpid_fallback(bool on);
  bool uses_pidfd() const;

 private:
  struct Child;
  struct Impl;
  Limits limits_;
  std::unique_ptr<Impl> impl_;
};

// Process helpers over /proc for teardown and tests. They act on processes by explicit id.
namespace proc {

struct ProcessInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgid = 0;
  pid_t sid = 0;
  char state = '?';              // R, S, D, Z, ...
  std::uint64_t start_time = 0;  // clock ticks after boot (field 22 of /proc/PID/stat)
  std::string comm;
  std::vector<std::string> cmdline;
};

std::optional<ProcessInfo> read_process(pid_t pid);
std::vector<ProcessInfo> list_processes();
// Direct children of `parent` that are zombies (never reaped).
std::vector<pid_t> zombie_children(pid_t parent);
// Every live process in process group `pgid`.
std::vector<pid_t> group_members(pid_t pgid);
// `root` and all its live descendants (by parent links), root first, breadth-first.
std::vector<pid_t> process_tree(pid_t root, const std::vector<ProcessInfo>& processes);

// Pid files written by the supervisor: "<pid> <start time>\n".
Status write_pid_file(const std::filesystem::path& path, pid_t pid);
// The pid in the file when that very process (same start time) is still alive; nullopt when the
// file is missing, stale or unreadable.
std::optional<pid_t> live_pid_from_file(const std::filesystem::path& path);

}  // namespace proc

}  // namespace k3s_daas::supervisor
