#include "k3s_daas/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "k3s_daas/log.hpp"

namespace k3s_daas::metrics {

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<prometheus::Exposer> exposer;
};

namespace {

// One metric family with a single unlabelled series, and the handle that points at it.
template <typename Metric>
struct Family {
  Metric* Handles::*handle;
  const char* name;
  const char* help;
};

// Every metric the agent exports: each name and help text is written here and nowhere else.
constexpr Family<prometheus::Gauge> kGauges[] = {
    {&Handles::stake_amount_mist, "k3s_daas_stake_amount_mist", "Amount of the node's StakeRecord, in MIST"},
    {&Handles::stake_status, "k3s_daas_stake_status", "StakeRecord status: 1 active, 2 slashed, 3 withdrawn, 0 unknown"},
    {&Handles::slashed, "k3s_daas_slashed", "1 once a slash of this node's stake is confirmed on chain"},
    {&Handles::chain_last_ok_seconds, "k3s_daas_chain_last_ok_timestamp_seconds",
     "Unix time of the last check of the StakeRecord on chain that succeeded (the slash watch is alive)"},
    {&Handles::master_reachable, "k3s_daas_master_reachable", "1 when the last master call succeeded"},
    {&Handles::seal_token_expires_at_seconds, "k3s_daas_seal_token_expires_at_seconds",
     "Expiry of the current seal token (Unix seconds)"},
    {&Handles::k3s_up, "k3s_daas_k3s_up", "1 while the k3s agent is running and ready"},
    {&Handles::runtime_up, "k3s_daas_runtime_up", "1 while the container runtime answers"},
    {&Handles::running_containers, "k3s_daas_running_containers", "Running containers (k8s.io namespace)"},
    {&Handles::crash_loop, "k3s_daas_crash_loop", "1 while a supervised child is in crash-loop"},
};
constexpr Family<prometheus::Counter> kCounters[] = {
    {&Handles::chain_requests_failed, "k3s_daas_chain_requests_failed_total", "Chain requests that failed (any endpoint)"},
    {&Handles::chain_endpoint_failovers, "k3s_daas_chain_endpoint_failovers_total",
     "Times the chain client moved to another endpoint"},
    {&Handles::partial_slashes, "k3s_daas_partial_slashes_total", "Slashes that left the stake at or above the minimum"},
    {&Handles::heartbeats_sent, "k3s_daas_heartbeats_sent_total", "Heartbeats acknowledged by the master"},
    {&Handles::heartbeats_failed, "k3s_daas_heartbeats_failed_total", "Heartbeats that failed (network, 5xx, rejected answers)"},
    {&Handles::master_answers_rejected, "k3s_daas_master_answers_rejected_total",
     "Master answers rejected: bad signature, wrong intent, stale, replayed, wrong echo"},
    {&Handles::k3s_restarts, "k3s_daas_k3s_restarts_total", "Restarts of the k3s agent"},
    {&Handles::runtime_restarts, "k3s_daas_runtime_restarts_total", "Restarts of the container runtime"},
    {&Handles::state_write_failures, "k3s_daas_state_write_failures_total",
     "Writes into state_dir that failed (read-only or full file system); the node keeps running"},
    {&Handles::clock_steps, "k3s_daas_clock_steps_total",
     "Steps of the wall clock of more than 2 s, seen against the monotonic clock"},
    {&Handles::config_reload_failures, "k3s_daas_config_reload_failures_total",
     "Config reloads (SIGHUP) refused because the file on disk is not valid; the running config stays"},
};

template <typename Metric, typename Builder, std::size_t N>
void register_all(prometheus::Registry& registry, Handles& handles, const Family<Metric> (&families)[N], Builder build) {
  for (const auto& family : families) {
    handles.*family.handle = &build().Name(family.name).Help(family.help).Register(registry).Add({});
  }
}

// Adds to `counter` the restarts seen since the last snapshot (`seen` remembers the last count).
void count_restarts(prometheus::Counter* counter, unsigned& seen, unsigned restarts) {
  if (restarts > seen) counter->Increment(restarts - seen);
  seen = restarts;
}

}  // namespace

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {
  register_all(*impl_->registry, handles_, kGauges, prometheus::BuildGauge);
  register_all(*impl_->registry, handles_, kCounters, prometheus::BuildCounter);
}

Metrics::~Metrics() = default;

Status Metrics::serve(const std::string& listen) {
  if (listen.empty()) return {};
  try {
    impl_->exposer = std::make_unique<prometheus::Exposer>(listen, 2);
    impl_->exposer->RegisterCollectable(impl_->registry);
  } catch (const std::exception& e) {
    return make_error(ErrorKind::kConfig, "metrics.listen: cannot serve metrics on \"" + listen + "\": " + e.what());
  }
  K3S_LOG(kMetrics, info, "serving Prometheus metrics on http://{}/metrics", listen);
  return {};
}

int Metrics::bound_port() const {
  if (!impl_->exposer) return 0;
  auto ports = impl_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void Metrics::record_children(const std::vector<supervisor::ChildStatus>& children) {
  bool any_crash_loop = false;
  for (const auto& child : children) {
    any_crash_loop = any_crash_loop || child.crash_loop;
    bool up = child.state == supervisor::State::kReady;
    if (child.name == "k3s-agent") {
      handles_.k3s_up->Set(up ? 1 : 0);
      count_restarts(handles_.k3s_restarts, seen_k3s_restarts_, child.restarts);
    } else {
      handles_.runtime_up->Set(up ? 1 : 0);
      count_restarts(handles_.runtime_restarts, seen_runtime_restarts_, child.restarts);
    }
  }
  handles_.crash_loop->Set(any_crash_loop ? 1 : 0);
}

std::string Metrics::render() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(impl_->registry->Collect());
}

}  // namespace k3s_daas::metrics
