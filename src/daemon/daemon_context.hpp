#pragma once
// The daemon's one context object (private to the daemon component): every component it owns,
// what start-up actually started (so that shutdown() undoes only that), the timers of the main
// loop and the exit status. No globals: the signal flags live in the Supervisor (self-pipe).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/config.hpp"
#include "k3s_daas/crypto.hpp"
#include "k3s_daas/daemon.hpp"
#include "k3s_daas/master.hpp"
#include "k3s_daas/metrics.hpp"
#include "k3s_daas/runtime.hpp"
#include "k3s_daas/seal.hpp"
#include "k3s_daas/staking.hpp"
#include "k3s_daas/sui_client.hpp"
#include "k3s_daas/supervisor.hpp"
#include "io_lane.hpp"

namespace k3s_daas::daemon {

// Timings of the daemon itself (the supervisor's live in supervisor::Limits), by name.
struct DaemonLimits {
  std::chrono::milliseconds startup_retry_initial{1000};  // chain/master unreachable at start
  std::chrono::milliseconds retry_cap{60000};             // protocol.md section 4: cap 60 s
  std::chrono::milliseconds heartbeat_retry_initial{1000};
  std::chrono::milliseconds record_read_max{60000};  // the StakeRecord is read at least this often
  std::chrono::milliseconds status_write_interval{1000};
  std::chrono::milliseconds stop_budget_extra{10000};  // on top of k3s.stop_timeout for an orderly stop
  // The heartbeat sequence floor is persisted this far ahead of the number in use, so the file is
  // written about once an hour, not per heartbeat.
  std::uint64_t sequence_reserve_ms = 3'600'000;
};

// The next master exchange: heartbeats, unless trust or registration must be re-established.
enum class MasterStep { kHeartbeat, kAttest, kRegister };

// Why the main loop ended.
enum class LoopEnd { kNone, kSignal, kSlashed, kWithdrawn, kFatal };

struct Daemon {
  RunOptions run_options;
  bool test_mode = false;
  DaemonLimits limits;
  int exit_status = exit_code::kOk;
  std::string stage;  // the stage in progress, for the status file

  // Stage 1.
  std::optional<config::Config> config;
  std::unique_ptr<supervisor::Supervisor> supervisor;
  int lock_fd = -1;  // flock on <state_dir>/run.lock for the life of the run
  // I/O lanes: every chain request runs on chain_lane, every master request on master_lane; the
  // loop only submits and reads completions. abort_io cuts requests in progress short on stop.
  std::shared_ptr<std::atomic<bool>> abort_io = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<IoLane> chain_lane;
  std::unique_ptr<IoLane> master_lane;
  // systemd: WATCHDOG=1 every watchdog_interval_ms (half of WATCHDOG_USEC; 0 = off), sent by pump().
  std::int64_t watchdog_interval_ms = 0;
  std::int64_t next_watchdog_ms = 0;
  std::uint64_t watchdog_pings = 0;
  std::string last_status_line;  // the last STATUS= sent  // Stage 3.
  std::optional<crypto::Ed25519Keypair> key;
  // Stage 4.
  std::unique_ptr<sui::ChainClient> chain;
  std::unique_ptr<sui::StakingClient> staking;
  std::optional<sui::StakeRecord> record;
  // Stage 5.
  std::unique_ptr<metrics::Metrics> metrics;
  // Stage 6/7.
  std::unique_ptr<master::MasterClient> master;
  std::optional<seal::Token> seal_token;
  std::optional<master::RegisterAck> registration;
  master::NodeInfo node_info;
  Bytes enclave_key;  // the attested key (a copy the loop may read while the master lane works)
  std::optional<master::OnChainTrust> on_chain;  // what the on-chain check found (protocol.md 3.1)
  std::shared_ptr<std::atomic<std::uint64_t>> sequence_reserved = std::make_shared<std::atomic<std::uint64_t>>(0);
  // Stage 8.
  std::unique_ptr<runtime::WorkerNode> node;
  bool node_started = false;
  bool drained = false;

  // Main loop state.
  bool interrupted = false;  // interrupt() was called (a signal, or a stage asked to stop)
  LoopEnd loop_end = LoopEnd::kNone;
  std::int64_t started_at_ms = 0;
  std::int64_t next_master_ms = 0;  // monotonic: the next master exchange (heartbeat, attest, register)
  MasterStep master_next = MasterStep::kHeartbeat;
  std::optional<Backoff> master_backoff;  // set while master exchanges fail
  std::int64_t master_failing_since_ms = 0;  // wall clock, 0 = the master answers
  std::uint64_t last_seq = 0;
  std::uint64_t reattestations = 0;
  std::uint64_t master_rejected_signature = 0;  // the client's counter as last seen
  std::int64_t next_watch_ms = 0;  // monotonic: the next StakeRecord check
  bool watch_forced = false;       // a check with a full read is wanted as soon as the lane is free
  std::string watch_reason;        // why (e.g. "master command 3")
  master::Command master_claim = master::Command::kNone;  // a master claim the next check answers
  std::uint64_t watch_checks = 0;
  std::uint64_t record_reads = 0;
  std::int64_t last_watch_ok_ms = 0;  // wall clock
  std::int64_t next_status_write_ms = 0;
  std::uint64_t heartbeat_interval_ms = 30000;
  std::optional<Backoff> heartbeat_backoff;
  std::int64_t last_heartbeat_ok_ms = 0;  // wall clock
  std::uint64_t heartbeats_ok = 0;
  std::uint64_t heartbeat_failures = 0;
  std::uint64_t chain_failures = 0;          // StakeRecord checks that failed (after retries)
  std::uint64_t chain_request_failures = 0;  // failed chain requests (endpoint health), as last synced
  std::optional<Backoff> chain_backoff;  // set while the chain fails: polls are spaced out
  std::uint64_t partial_slashes = 0;
  std::string last_command;
  std::string last_error;
  std::optional<master::ResourceSampler> sampler;
  // The host: writes into state_dir that fail (read-only or full file system) and wall-clock
  // steps. Neither stops the node; both are logged (rate-limited) and counted.
  std::uint64_t state_write_failures = 0;
  std::int64_t state_write_failing_since_ms = 0;  // monotonic, 0 = the last write succeeded
  std::int64_t state_write_logged_ms = 0;         // monotonic: the last warning about it
  std::optional<std::int64_t> clock_offset_ms;    // wall minus monotonic, as last seen
  std::uint64_t clock_steps = 0;
  std::int64_t last_clock_step_ms = 0;            // the last step's size (signed)
  std::uint64_t config_reload_failures = 0;
  std::uint32_t last_k3s_restarts = 0;
  std::uint32_t last_runtime_restarts = 0;
  bool shut_down = false;

  // Two-phase stop: interrupt() only asks; shutdown() is idempotent and undoes only what
  // start-up actually started.
  void interrupt() { interrupted = true; }
  void shutdown();

  // Runs the supervisor's loop for up to `wait` (children's output, exits, signals), sends the
  // watchdog ping when due; SIGTERM/SIGINT become interrupt(), SIGHUP a reload. Returns false
  // once interrupted.
  bool pump(std::chrono::milliseconds wait);
  void reload();  // SIGHUP: re-read the config and apply what can change at run time
  void notify(const std::string& state);  // sd_notify; a no-op outside systemd
  // What an orderly stop or a teardown may take: k3s.stop_timeout_s + stop_budget_extra.
  std::chrono::milliseconds stop_budget() const {
    return std::chrono::seconds(config ? config->k3s.stop_timeout_s : 0) + limits.stop_budget_extra;
  }
  void write_status(const std::string& state);
  // Takes the heartbeat interval a master answer asks for (0: keep the current one), held to what
  // the config itself accepts (1 s .. 1 h): a master asking for 1 ms would have the agent flood
  // it, one asking for a day would leave the node silent. A value held back is logged.
  void take_master_interval(std::uint64_t asked_ms);
  std::uint64_t last_interval_held_back_ms = 0;  // the last out-of-range interval a master asked for
  // Counts and reports (rate-limited) the outcome of a write into state_dir.
  void state_write_done(const char* what, const Status& written);
  // Compares the wall clock with the monotonic one; a step of more than 2 s is logged and counted
  // (true).
  bool check_clock();
  const std::string& state_dir() const { return config->state_dir; }
};

// Stages (daemon.cpp) and the loop (main_loop.cpp).
int run_stages(Daemon& d);
int main_loop(Daemon& d);
// The slash path of protocol.md section 5 (sets loop_end and exit_status). The evidence is the
// transaction that wrote the slashed record version (record.last_tx).
void slashed(Daemon& d, const sui::StakeRecord& record, const std::string& why);
// <state_dir> files of the loop (atomic writes).
inline constexpr const char* kDrainedFile = "drained";
inline constexpr const char* kLockFile = "run.lock";
void persist_drained(Daemon& d, bool drained);
// "EXTEND_TIMEOUT_USEC=<budget in microseconds>" for sd_notify: the loop will not turn (or the
// start will not finish) for up to `budget`, and systemd should wait that long.
inline std::string extend_timeout(std::chrono::milliseconds budget) {
  return "EXTEND_TIMEOUT_USEC=" + std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(budget).count());
}
// A fresh seal token (audience: the attested enclave key; lifetime master.seal_token_ttl_s).
Status issue_seal_token(Daemon& d);

}  // namespace k3s_daas::daemon
