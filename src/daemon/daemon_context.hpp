#pragma once
// The daemon's one context object (private to the daemon component): every component it owns,
// what start-up actually started (so that shutdown() undoes only that), the timers of the main
// loop and the exit status. No globals: the signal flags live in the Supervisor (self-pipe).

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

namespace k3s_daas::daemon {

// Timings of the daemon itself (the supervisor's live in supervisor::Limits), by name.
struct DaemonLimits {
  std::chrono::milliseconds startup_retry_initial{1000};  // chain/master unreachable at start
  std::chrono::milliseconds retry_cap{60000};             // protocol.md section 4: cap 60 s
  std::chrono::milliseconds heartbeat_retry_initial{1000};
  std::chrono::milliseconds record_read_max{60000};  // the StakeRecord is read at least this often
  std::chrono::milliseconds status_write_interval{1000};
  std::chrono::milliseconds stop_budget_extra{10000};  // on top of k3s.stop_timeout for an orderly stop
  unsigned event_pages_per_poll = 10;
};

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
  // Stage 3.
  std::optional<crypto::Ed25519Keypair> key;
  // Stage 4.
  std::unique_ptr<sui::ChainClient> chain;
  std::unique_ptr<sui::StakingClient> staking;
  std::optional<sui::StakeRecord> record;
  std::string slash_cursor;  // opaque SlashEvent cursor (persisted)
  // Stage 5.
  std::unique_ptr<metrics::Metrics> metrics;
  // Stage 6/7.
  std::unique_ptr<master::MasterClient> master;
  std::optional<seal::Token> seal_token;
  std::optional<master::RegisterAck> registration;
  master::NodeInfo node_info;
  // Stage 8.
  std::unique_ptr<runtime::WorkerNode> node;
  bool node_started = false;
  bool drained = false;

  // Main loop state.
  bool interrupted = false;  // interrupt() was called (a signal, or a stage asked to stop)
  LoopEnd loop_end = LoopEnd::kNone;
  std::int64_t started_at_ms = 0;
  std::int64_t next_heartbeat_ms = 0;  // monotonic
  std::int64_t next_event_poll_ms = 0;
  std::int64_t next_record_read_ms = 0;
  std::int64_t next_status_write_ms = 0;
  std::uint64_t heartbeat_interval_ms = 30000;
  std::optional<Backoff> heartbeat_backoff;
  std::int64_t last_heartbeat_ok_ms = 0;  // wall clock
  std::uint64_t heartbeats_ok = 0;
  std::uint64_t heartbeat_failures = 0;
  std::uint64_t chain_failures = 0;
  std::optional<Backoff> chain_backoff;  // set while the chain fails: polls are spaced out
  std::uint64_t partial_slashes = 0;
  std::string last_command;
  std::string last_error;
  std::optional<master::ResourceSampler> sampler;
  std::uint32_t last_k3s_restarts = 0;
  std::uint32_t last_runtime_restarts = 0;
  bool shut_down = false;

  // Two-phase stop: interrupt() only asks; shutdown() is idempotent and undoes only what
  // start-up actually started.
  void interrupt() { interrupted = true; }
  void shutdown();

  // Runs the supervisor's loop for up to `wait` (children's output, exits, signals); a
  // SIGTERM/SIGINT becomes interrupt(). Returns false once interrupted.
  bool pump(std::chrono::milliseconds wait);
  void notify(const std::string& state);  // sd_notify; a no-op outside systemd
  void write_status(const std::string& state);
  const std::string& state_dir() const { return config->state_dir; }
};

// Stages (daemon.cpp) and the loop (main_loop.cpp).
int run_stages(Daemon& d);
int main_loop(Daemon& d);
// Reads the StakeRecord and acts on it: SLASHED or below the minimum -> teardown, marker, 79.
// Chain errors only count. `evidence_digest` names a SlashEvent that prompted the read.
void check_record(Daemon& d, const std::string& why, const std::string& evidence_digest);
// The slash path of protocol.md section 5 (sets loop_end and exit_status).
void slashed(Daemon& d, const sui::StakeRecord& record, const std::string& evidence_digest);

}  // namespace k3s_daas::daemon
