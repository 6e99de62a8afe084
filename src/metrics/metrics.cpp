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

prometheus::Gauge* gauge(prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Counter* counter(prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return &prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {
  auto& r = *impl_->registry;
  auto& h = handles_;
  h.stake_amount_mist = gauge(r, "k3s_daas_stake_amount_mist", "Amount of the node's StakeRecord, in MIST");
  h.stake_status = gauge(r, "k3s_daas_stake_status", "StakeRecord status: 1 active, 2 slashed, 3 withdrawn, 0 unknown");
  h.chain_requests_failed = counter(r, "k3s_daas_chain_requests_failed_total", "Chain requests that failed (any endpoint)");
  h.chain_endpoint_failovers = counter(r, "k3s_daas_chain_endpoint_failovers_total", "Times the chain client moved to another endpoint");
  h.partial_slashes = counter(r, "k3s_daas_partial_slashes_total", "Slashes that left the stake at or above the minimum");
  h.slashed = gauge(r, "k3s_daas_slashed", "1 once a slash of this node's stake is confirmed on chain");
  h.heartbeats_sent = counter(r, "k3s_daas_heartbeats_sent_total", "Heartbeats acknowledged by the master");
  h.heartbeats_failed = counter(r, "k3s_daas_heartbeats_failed_total", "Heartbeats that failed (network, 5xx, rejected answers)");
  h.master_answers_rejected = counter(r, "k3s_daas_master_answers_rejected_total",
                                      "Master answers rejected: bad signature, wrong intent, stale, replayed, wrong echo");
  h.master_reachable = gauge(r, "k3s_daas_master_reachable", "1 when the last master call succeeded");
  h.seal_token_expires_at_seconds = gauge(r, "k3s_daas_seal_token_expires_at_seconds", "Expiry of the current seal token (Unix seconds)");
  h.k3s_up = gauge(r, "k3s_daas_k3s_up", "1 while the k3s agent is running and ready");
  h.k3s_restarts = counter(r, "k3s_daas_k3s_restarts_total", "Restarts of the k3s agent");
  h.runtime_up = gauge(r, "k3s_daas_runtime_up", "1 while the container runtime answers");
  h.runtime_restarts = counter(r, "k3s_daas_runtime_restarts_total", "Restarts of the container runtime");
  h.running_containers = gauge(r, "k3s_daas_running_containers", "Running containers (k8s.io namespace)");
  h.crash_loop = gauge(r, "k3s_daas_crash_loop", "1 while a supervised child is in crash-loop");
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
      if (child.restarts > seen_k3s_restarts_) handles_.k3s_restarts->Increment(child.restarts - seen_k3s_restarts_);
      seen_k3s_restarts_ = child.restarts;
    } else {
      handles_.runtime_up->Set(up ? 1 : 0);
      if (child.restarts > seen_runtime_restarts_) {
        handles_.runtime_restarts->Increment(child.restarts - seen_runtime_restarts_);
      }
      seen_runtime_restarts_ = child.restarts;
    }
  }
  handles_.crash_loop->Set(any_crash_loop ? 1 : 0);
}

std::string Metrics::render() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(impl_->registry->Collect());
}

}  // namespace k3s_daas::metrics
