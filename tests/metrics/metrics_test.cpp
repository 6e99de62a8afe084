#include <doctest/doctest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "k3s_daas/metrics.hpp"
#include "k3s_daas/net.hpp"

using namespace k3s_daas;

TEST_CASE("metrics are served over HTTP and reflect updates") {
  metrics::Metrics m;
  REQUIRE(m.serve("127.0.0.1:0").ok());
  int port = m.bound_port();
  REQUIRE(port > 0);
  m.handles().heartbeats_sent->Increment(3);
  m.handles().stake_amount_mist->Set(1e9);
  m.handles().slashed->Set(1);
  net::HttpClient client;
  net::Request request;
  request.url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  auto response = client.perform(request);
  REQUIRE(response.ok());
  CHECK(response->status == 200);
  CHECK(response->body.find("k3s_daas_heartbeats_sent_total 3") != std::string::npos);
  CHECK(response->body.find("k3s_daas_stake_amount_mist 1000000000") != std::string::npos);
  CHECK(response->body.find("k3s_daas_slashed 1") != std::string::npos);
  CHECK(m.render().find("# HELP k3s_daas_master_answers_rejected_total") != std::string::npos);
}

TEST_CASE("an address that cannot be bound is a config error naming it") {
  metrics::Metrics first;
  REQUIRE(first.serve("127.0.0.1:0").ok());
  metrics::Metrics second;
  auto st = second.serve("127.0.0.1:" + std::to_string(first.bound_port()));
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().kind == ErrorKind::kConfig);
  CHECK(st.error().message.find("metrics.listen") != std::string::npos);
  metrics::Metrics none;
  CHECK(none.serve("").ok());
  CHECK(none.bound_port() == 0);
}

TEST_CASE("supervisor snapshots feed the node metrics, crash-loop included") {
  metrics::Metrics m;
  supervisor::ChildStatus k3s;
  k3s.name = "k3s-agent";
  k3s.state = supervisor::State::kCrashLoop;
  k3s.restarts = 6;
  k3s.crash_loop = true;
  supervisor::ChildStatus containerd;
  containerd.name = "containerd";
  containerd.state = supervisor::State::kReady;
  m.record_children({k3s, containerd});
  auto text = m.render();
  CHECK(text.find("k3s_daas_crash_loop 1") != std::string::npos);
  CHECK(text.find("k3s_daas_k3s_up 0") != std::string::npos);
  CHECK(text.find("k3s_daas_runtime_up 1") != std::string::npos);
  CHECK(text.find("k3s_daas_k3s_restarts_total 6") != std::string::npos);
  k3s.state = supervisor::State::kReady;
  k3s.crash_loop = false;
  k3s.restarts = 7;
  m.record_children({k3s, containerd});
  text = m.render();
  CHECK(text.find("k3s_daas_crash_loop 0") != std::string::npos);
  CHECK(text.find("k3s_daas_k3s_up 1") != std::string::npos);
  CHECK(text.find("k3s_daas_k3s_restarts_total 7") != std::string::npos);
}
