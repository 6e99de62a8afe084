#pragma once
// Prometheus metrics of the agent (prometheus-cpp). Owns: the registry, the /metrics endpoint
// on `metrics.listen`, and the names of every metric. Must never: put a secret or an unbounded
// value (token, digest, error text) into a label.

#include <memory>
#include <string>

#include "k3s_daas/result.hpp"
#include "k3s_daas/supervisor.hpp"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace k3s_daas::metrics {

// Every metric the agent exports, created once. Handles are plain pointers into the registry,
// valid while the Metrics object lives; updating them is thread-safe.
struct Handles {
  // chain
  prometheus::Gauge* stake_amount_mist = nullptr;
  prometheus::Gauge* stake_status = nullptr;            // 1 ACTIVE, 2 SLASHED, 3 WITHDRAWN, 0 unknown
  prometheus::Counter* chain_requests_failed = nullptr;
  prometheus::Counter* chain_endpoint_failovers = nullptr;
  prometheus::Counter* partial_slashes = nullptr;
  prometheus::Gauge* slashed = nullptr;                 // 1 once a slash is confirmed
  prometheus::Gauge* chain_last_ok_seconds = nullptr;   // Unix time of the last StakeRecord check that succeeded
  // master
  prometheus::Counter* heartbeats_sent = nullptr;
  prometheus::Counter* heartbeats_failed = nullptr;
  prometheus::Counter* master_answers_rejected = nullptr;  // forged, replayed, stale
  prometheus::Gauge* master_reachable = nullptr;
  prometheus::Gauge* seal_token_expires_at_seconds = nullptr;
  // node
  prometheus::Gauge* k3s_up = nullptr;
  prometheus::Counter* k3s_restarts = nullptr;
  prometheus::Gauge* runtime_up = nullptr;
  prometheus::Counter* runtime_restarts = nullptr;
  prometheus::Gauge* running_containers = nullptr;
  prometheus::Gauge* crash_loop = nullptr;              // 1 while a child is in crash-loop
  // the host
  prometheus::Counter* state_write_failures = nullptr;   // writes into state_dir that failed
  prometheus::Counter* clock_steps = nullptr;            // wall-clock steps seen against the monotonic clock
  prometheus::Counter* config_reload_failures = nullptr; // SIGHUP reloads refused (the running config stays)
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Starts serving /metrics on HOST:PORT (config metrics.listen); an empty address serves
  // nothing. The error names the address when it cannot be bound.
  Status serve(const std::string& listen);
  // The port actually bound (useful with port 0 in tests); 0 when not serving.
  int bound_port() const;

  Handles& handles() { return handles_; }
  // Feeds the node gauges and counters from the supervisor's snapshot: k3s_up / runtime_up
  // (ready), restarts (increments since the last call), crash_loop (any child in crash-loop).
  void record_children(const std::vector<supervisor::ChildStatus>& children);

  // The text exposition of every metric (what a scrape returns).
  std::string render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Handles handles_;
  unsigned seen_k3s_restarts_ = 0;
  unsigned seen_runtime_restarts_ = 0;
};

}  // namespace k3s_daas::metrics
