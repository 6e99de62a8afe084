// MasterClient against the Nautilus-master stand-in: attest, register with a real seal token,
// heartbeats on one kept-alive mutual-TLS connection, deregister; forged, replayed and broken
// answers of every fault kind are rejected, counted and never acted on; TLS and attestation
// refusals.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/crypto.hpp"
#include "k3s_daas/fs.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/master.hpp"
#include "k3s_daas/seal.hpp"
#include "peer_fixture.hpp"

using namespace k3s_daas;
using namespace k3s_daas::master;
using namespace k3s_daas::test;

namespace {

struct Worker {
  crypto::Ed25519Keypair key = std::move(crypto::Ed25519Keypair::generate()).value();
  crypto::Address stake_id = crypto::Address::parse("0x" + std::string(62, '0') + "5e").value();

  std::string token(const MasterClient& client) const {
    seal::IssueOptions options;
    options.node_id = client.options().node_id;
    options.stake_id = stake_id;
    if (client.trusted()) options.audience = client.trusted()->enclave_key;
    auto issued = seal::issue(key, options);
    REQUIRE_MESSAGE(issued.ok(), issued.error().message);
    return issued.value().text;
  }
};

MasterClient make_client(const MasterClientOptions& options) {
  auto client = MasterClient::create(options);
  REQUIRE_MESSAGE(client.ok(), client.error().message);
  return std::move(client).value();
}

HeartbeatReport report_from(ResourceSampler& sampler) {
  HeartbeatReport report;
  report.stake.stake_id = "0x" + std::string(62, '0') + "5e";
  report.stake.amount = 1'000'000'000;
  report.k3s.state = "running";
  report.k3s.pid = 4242;
  report.runtime.version = "1.7.0";
  auto resources = sampler.sample();
  REQUIRE_MESSAGE(resources.ok(), resources.error().message);
  report.resources = resources.value();
  report.running_containers = 3;
  return report;
}

const nlohmann::json* node_of(const nlohmann::json& state, const std::string& node_id) {
  for (const auto& node : state["nodes"]) {
    if (node["node_id"] == node_id) return &node;
  }
  return nullptr;
}

std::string expect_rejected(const Result<HeartbeatAck>& r) { REQUIRE_FALSE(r.ok()); return r.error().message; }
std::string expect_rejected(const Result<RegisterAck>& r) { REQUIRE_FALSE(r.ok()); return r.error().message; }
std::string expect_rejected(const Result<DeregisterAck>& r) { REQUIRE_FALSE(r.ok()); return r.error().message; }
std::string expect_rejected(const Result<TrustedMaster>& r) { REQUIRE_FALSE(r.ok()); return r.error().message; }

}  // namespace

TEST_CASE("attest, register, 100 heartbeats on one mutual-TLS connection, deregister") {
  K3S_REQUIRE_MASTER_PEER();
  MasterPeer peer;
  TempDir state_dir;
  Worker worker;
  auto client = make_client(peer.options(state_dir / "state"));

  auto trusted = client.attest();
  REQUIRE_MESSAGE(trusted.ok(), trusted.error().message);
  CHECK(hex_encode(trusted.value().enclave_key) == peer.enclave_key);
  CHECK(hex_encode(trusted.value().document.pcrs.at(0)) == peer.pcr0);
  CHECK(trusted.value().document.nonce.has_value());

  const std::string token = worker.token(client);
  auto node = collect_node_info();
  REQUIRE(node.ok());
  // Everything the client logs while registering, at trace level, goes to a file we read back.
  k3s_daas::log::Options trace;
  trace.level = "trace";
  trace.sink = k3s_daas::log::Sink::kStderr;
  REQUIRE(k3s_daas::log::init(trace).ok());
  std::fflush(stderr);
  TempDir log_dir;
  int saved_stderr = ::dup(2);
  int log_fd = ::open((log_dir / "stderr.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ::dup2(log_fd, 2);
  auto registered = client.register_worker(token, node.value());
  std::fflush(stderr);
  ::dup2(saved_stderr, 2);
  ::close(saved_stderr);
  ::close(log_fd);
  trace.level = "info";
  REQUIRE(k3s_daas::log::init(trace).ok());
  auto logged = read_file(log_dir / "stderr.log");
  REQUIRE_MESSAGE(registered.ok(), registered.error().message);
  const RegisterAck& ack = registered.value();
  CHECK(ack.node_id == "worker-1");
  CHECK(ack.join_token.rfind("K10", 0) == 0);
  CHECK(ack.heartbeat_interval_ms == 30000);
  // The join token: a 0600 file in the state folder, and nowhere in the logs.
  REQUIRE(ack.join_token_file == state_dir / "state" / "k3s-join-token");
  struct stat st {};
  REQUIRE(::stat(ack.join_token_file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(read_file(ack.join_token_file) == ack.join_token);
  CHECK(k3s_daas::log::redact("token=" + ack.join_token).find(ack.join_token) == std::string::npos);
  MESSAGE("trace log of the registration: " << logged.size() << " bytes");
  CHECK(logged.find(ack.join_token.substr(ack.join_token.find("::"))) == std::string::npos);
  CHECK(logged.find(token.substr(7, 40)) == std::string::npos);  // no part of the seal token
  CHECK(k3s_daas::log::redact(token).find(token) == std::string::npos);

  auto state = peer.state();
  const auto* registered_node = node_of(state, "worker-1");
  REQUIRE(registered_node != nullptr);
  CHECK((*registered_node)["staker"] == worker.key.address().to_hex());
  CHECK((*registered_node)["client_cert_cn"] == "worker-1");
  CHECK((*registered_node)["node"]["cpus"] == node.value().cpus);

  ResourceSampler sampler;
  std::uint64_t last_seq = 0;
  for (int i = 0; i < 100; ++i) {
    auto beat = client.heartbeat(token, report_from(sampler));
    REQUIRE_MESSAGE(beat.ok(), beat.error().message);
    CHECK(beat.value().seq > last_seq);
    CHECK(beat.value().command == Command::kNone);
    last_seq = beat.value().seq;
  }
  CHECK(client.last_sequence() == last_seq);

  auto deregistered = client.deregister(token, "orderly shutdown");
  REQUIRE_MESSAGE(deregistered.ok(), deregistered.error().message);

  state = peer.state();
  const auto* node_state = node_of(state, "worker-1");
  REQUIRE(node_state != nullptr);
  CHECK((*node_state)["heartbeat_count"] == 100);
  CHECK((*node_state)["deregistered"] == true);
  CHECK((*node_state)["deregister_reason"] == "orderly shutdown");
  const auto& last = (*node_state)["last_heartbeat"];
  CHECK(last["resources"]["memory_percent"].get<double>() > 0.0);
  CHECK(last["k3s"]["pid"] == 4242);
  // One TLS handshake for everything: attestation, register, 100 heartbeats, deregister.
  CHECK(client.connections_opened() == 1);
  CHECK(state["counters"]["tls_handshakes"] == 1);
  CHECK(state["counters"]["requests"]["heartbeat"] == 100);
  auto counters = client.counters();
  CHECK(counters.requests == 103);
  CHECK(counters.answers_accepted == 102);
  CHECK(counters.answers_rejected == 0);
  CHECK(counters.attestations_verified == 1);
}

TEST_CASE("every forged, replayed or broken answer is rejected, counted and never acted on") {
  K3S_REQUIRE_MASTER_PEER();
  MasterPeer peer;
  TempDir state_dir;
  Worker worker;
  auto client = make_client(peer.options(state_dir / "state"));
  REQUIRE(client.attest().ok());
  const std::string token = worker.token(client);
  NodeInfo node{"host", "i-test", "amd64", 2, 1 << 30};
  auto first = client.register_worker(token, node);
  REQUIRE_MESSAGE(first.ok(), first.error().message);
  const std::string join_token = first.value().join_token;
  const auto join_file = first.value().join_token_file;
  REQUIRE(client.heartbeat(token, {}).ok());
  Counters before = client.counters();

  struct Case {
    const char* kind;
    const char* endpoint;
    const char* reason;  // the rejection named in the error
    std::uint64_t Counters::*counter;
  };
  const Case cases[] = {
      // The stand-in replays the last answer it sent on the endpoint: first each genuine one.
      {"replay", "register", "(replay)", &Counters::rejected_replay},
      {"bad_signature", "register", "(signature)", &Counters::rejected_signature},
      {"wrong_key", "register", "(signature)", &Counters::rejected_signature},
      {"stale_timestamp", "register", "(timestamp)", &Counters::rejected_timestamp},
      {"future_timestamp", "register", "(timestamp)", &Counters::rejected_timestamp},
      {"wrong_intent", "register", "(intent)", &Counters::rejected_intent},
      {"wrong_nonce", "register", "(echo)", &Counters::rejected_echo},
      {"malformed", "register", "(malformed)", &Counters::rejected_malformed},
      {"replay", "heartbeat", "(replay)", &Counters::rejected_replay},
      {"bad_signature", "heartbeat", "(signature)", &Counters::rejected_signature},
      {"wrong_key", "heartbeat", "(signature)", &Counters::rejected_signature},
      {"stale_timestamp", "heartbeat", "(timestamp)", &Counters::rejected_timestamp},
      {"future_timestamp", "heartbeat", "(timestamp)", &Counters::rejected_timestamp},
      {"wrong_intent", "heartbeat", "(intent)", &Counters::rejected_intent},
      {"wrong_seq", "heartbeat", "(echo)", &Counters::rejected_echo},
      {"malformed", "heartbeat", "(malformed)", &Counters::rejected_malformed},
  };
  for (const auto& c : cases) {
    const std::string what = std::string(c.kind) + " on " + c.endpoint;
    CAPTURE(what);
    peer.fault(c.kind, c.endpoint);
    Counters was = client.counters();
    std::string message;
    if (std::string(c.endpoint) == "register") {
      message = expect_rejected(client.register_worker(token, node));
      // Not acted on: the join token file still holds the token of the accepted answer.
      CHECK(read_file(join_file) == join_token);
    } else {
      message = expect_rejected(client.heartbeat(token, {}));
    }
    CAPTURE(message);
    CHECK(message.find(c.reason) != std::string::npos);
    CHECK(message.find(join_token) == std::string::npos);
    CHECK(message.find(token) == std::string::npos);
    Counters now = client.counters();
    CHECK(now.*(c.counter) == was.*(c.counter) + 1);
    CHECK(now.answers_rejected == was.answers_rejected + 1);
    CHECK(now.answers_accepted == was.answers_accepted);
  }
  CHECK(client.counters().answers_rejected == before.answers_rejected + std::size(cases));

  // Deregister: a forged answer, then a replay of the genuine one.
  peer.fault("bad_signature", "deregister");
  CHECK(expect_rejected(client.deregister(token, "test")).find("(signature)") != std::string::npos);
  REQUIRE(client.deregister(token, "test").ok());
  peer.fault("replay", "deregister");
  CHECK(expect_rejected(client.deregister(token, "test")).find("(replay)") != std::string::npos);

  // With retries, a forged answer is followed by a genuine one: the call succeeds, the forgery
  // stays counted.
  auto options = peer.options(state_dir / "state");
  std::vector<std::chrono::milliseconds> waits;
  options.retry.max_attempts = 3;
  options.wait = [&](std::chrono::milliseconds d) { waits.push_back(d); return true; };
  auto retrying = make_client(options);
  REQUIRE(retrying.attest().ok());
  REQUIRE(retrying.register_worker(worker.token(retrying), node).ok());
  peer.fault("wrong_key", "heartbeat");
  auto recovered = retrying.heartbeat(token, {});
  REQUIRE_MESSAGE(recovered.ok(), recovered.error().message);
  CHECK(retrying.counters().rejected_signature == 1);
  CHECK(retrying.counters().retries == 1);
  CHECK(waits.size() == 1);
  // The master recorded the forged-answer heartbeat's seq: the retry used a new one.
  CHECK(recovered.value().seq == retrying.last_sequence());
}

TEST_CASE("transport faults: 5xx and resets are retried with backoff, slow answers time out") {
  K3S_REQUIRE_MASTER_PEER();
  MasterPeer peer;
  TempDir state_dir;
  Worker worker;
  auto options = peer.options(state_dir / "state");
  std::vector<std::chrono::milliseconds> waits;
  options.retry.max_attempts = 4;
  options.retry.initial = std::chrono::milliseconds(100);
  options.retry.cap = std::chrono::milliseconds(60000);
  options.wait = [&](std::chrono::milliseconds d) { waits.push_back(d); return true; };
  auto client = make_client(options);
  REQUIRE(client.attest().ok());
  const std::string token = worker.token(client);
  REQUIRE(client.register_worker(token, NodeInfo{"h", "i", "amd64", 1, 1}).ok());

  peer.fault("http503", "heartbeat", 2);
  REQUIRE(client.heartbeat(token, {}).ok());
  CHECK(client.counters().http_errors == 2);
  REQUIRE(waits.size() == 2);
  CHECK(waits[0].count() >= 50);
  CHECK(waits[0].count() <= 100);
  CHECK(waits[1].count() >= 100);
  CHECK(waits[1].count() <= 200);

  peer.fault("http500", "heartbeat", 5);
  auto gave_up = client.heartbeat(token, {});
  REQUIRE_FALSE(gave_up.ok());
  CHECK(gave_up.error().message.find("HTTP 500") != std::string::npos);
  CHECK(gave_up.error().kind == ErrorKind::kNetwork);
  peer.clear_faults();

  const auto connections = client.connections_opened();
  peer.fault("reset", "heartbeat");
  REQUIRE(client.heartbeat(token, {}).ok());
  // (libcurl itself may resend on a fresh connection when a reused one dies before answering)
  CHECK(client.counters().transport_errors <= 1);
  CHECK(client.connections_opened() == connections + 1);  // a new connection after the reset

  peer.fault("reset", "attestation");
  REQUIRE(client.attest().ok());

  // A slow answer runs into the request timeout (and is not acted on).
  auto slow_options = peer.options(state_dir / "state");
  slow_options.request_timeout = std::chrono::milliseconds(500);
  auto slow = make_client(slow_options);
  REQUIRE(slow.attest().ok());
  peer.fault("slow", "heartbeat", 1, 2000);
  auto timed_out = slow.heartbeat(token, {});
  REQUIRE_FALSE(timed_out.ok());
  CHECK(timed_out.error().kind == ErrorKind::kTimeout);

  // A 4xx (a refused seal token) is not retried.
  waits.clear();
  auto refused = client.heartbeat("sealv1.AAAA.AAAA", {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::kRejected);
  CHECK(refused.error().message.find("HTTP 401") != std::string::npos);
  CHECK(waits.empty());

  // Backoff alone: exponential with jitter, capped at 60 s.
  Backoff backoff(std::chrono::milliseconds(500), std::chrono::milliseconds(60000));
  std::chrono::milliseconds last{0};
  for (int i = 0; i < 20; ++i) last = backoff.next();
  CHECK(last.count() <= 60000);
  CHECK(last.count() >= 30000);
}

TEST_CASE("attestation refusals: forged documents, replays, debug mode, PCRs, roots") {
  K3S_REQUIRE_MASTER_PEER();
  MasterPeer peer;
  TempDir state_dir;
  auto client = make_client(peer.options(state_dir / "state"));
  const std::pair<const char*, const char*> faults[] = {
      {"bad_attestation_sig", "'cose_signature'"},
      {"attestation_wrong_nonce", "'nonce'"},
      {"attestation_no_pubkey", "'public_key'"},
  };
  for (const auto& [kind, check] : faults) {
    const std::string fault_kind = kind;
    CAPTURE(fault_kind);
    peer.fault(kind, "attestation");
    std::string message = expect_rejected(client.attest());
    CHECK(message.find(check) != std::string::npos);
    CHECK_FALSE(client.trusted().has_value());
  }
  REQUIRE(client.attest().ok());
  peer.fault("replay", "attestation");
  CHECK(expect_rejected(client.attest()).find("'nonce'") != std::string::npos);
  CHECK(client.counters().attestations_rejected == 4);

  // COSE tag 18 is accepted.
  peer.settings({{"tag18", true}});
  REQUIRE(client.attest().ok());
  peer.settings({{"tag18", false}});

  // A master that puts no nonce into the document (as Nautilus's own server): accepted by
  // default (protocol 3), refused with master.attestation.require_nonce.
  peer.fault("attestation_no_nonce", "attestation");
  auto no_nonce = client.attest();
  REQUIRE_MESSAGE(no_nonce.ok(), no_nonce.error().message);
  CHECK_FALSE(no_nonce.value().document.nonce.has_value());
  auto strict_options = peer.options(state_dir / "state");
  strict_options.attestation.require_nonce = true;
  auto strict_client = make_client(strict_options);
  peer.fault("attestation_no_nonce", "attestation");
  CHECK(expect_rejected(strict_client.attest()).find("require_nonce") != std::string::npos);
  CHECK_FALSE(strict_client.trusted().has_value());
  REQUIRE(strict_client.attest().ok());  // the stand-in echoes the nonce

  // A debug-mode enclave is refused by default, accepted only when allowed.
  peer.settings({{"debug_mode", true}});
  CHECK(expect_rejected(client.attest()).find("'debug_mode'") != std::string::npos);
  auto debug_options = peer.options(state_dir / "state");
  debug_options.attestation.allow_debug = true;
  debug_options.attestation.expected_pcrs.clear();
  auto debug_client = make_client(debug_options);
  auto debug_trusted = debug_client.attest();
  REQUIRE_MESSAGE(debug_trusted.ok(), debug_trusted.error().message);
  CHECK(debug_trusted.value().document.debug_mode());
  peer.settings({{"debug_mode", false}});

  // Other PCRs than configured.
  auto pcr_options = peer.options(state_dir / "state");
  pcr_options.attestation.expected_pcrs[1][0] ^= 1;
  CHECK(expect_rejected(make_client(pcr_options).attest()).find("'pcrs'") != std::string::npos);
  // No PCRs configured: refused before any traffic, naming the key to set.
  auto unpinned = peer.options(state_dir / "state");
  unpinned.attestation.expected_pcrs.erase(2);
  auto unpinned_client = MasterClient::create(unpinned);
  REQUIRE_FALSE(unpinned_client.ok());
  CHECK(unpinned_client.error().kind == ErrorKind::kConfig);
  CHECK(unpinned_client.error().message.find("master.attestation.pcr2: not set") != std::string::npos);
  // The default root (AWS) does not accept the test chain.
  auto aws_options = peer.options(state_dir / "state");
  aws_options.attestation_root_file.clear();
  CHECK(expect_rejected(make_client(aws_options).attest()).find("'root'") != std::string::npos);
  // Without attestation nothing is sent.
  auto untrusted = make_client(peer.options(state_dir / "state"));
  CHECK_FALSE(untrusted.heartbeat("sealv1.x.y", {}).ok());
  CHECK(untrusted.counters().requests == 0);
}

TEST_CASE("TLS: an unknown server CA, a missing or foreign client certificate, plain http") {
  K3S_REQUIRE_MASTER_PEER();
  MasterPeer peer;
  TempDir state_dir;

  auto unknown_ca = peer.options(state_dir / "state");
  unknown_ca.tls.ca_file = (test_pki() / "other-ca.pem").string();
  auto refused = make_client(unknown_ca).attest();
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::kVerify);
  MESSAGE("unknown server CA: " << refused.error().message);

  auto handshakes_before = peer.state()["counters"]["tls_handshakes"].get<int>();
  auto no_cert = peer.options(state_dir / "state");
  no_cert.tls.cert_file.clear();
  no_cert.tls.key_file.clear();
  auto without = make_client(no_cert).attest();
  REQUIRE_FALSE(without.ok());
  MESSAGE("no client certificate: " << without.error().message);

  auto foreign = peer.options(state_dir / "state");
  foreign.tls.cert_file = (test_pki() / "other-client.pem").string();
  foreign.tls.key_file = (test_pki() / "other-client.key").string();
  auto foreign_result = make_client(foreign).attest();
  REQUIRE_FALSE(foreign_result.ok());
  MESSAGE("client certificate of an unknown CA: " << foreign_result.error().message);
  auto state = peer.state();
  CHECK(state["counters"]["tls_handshakes"].get<int>() == handshakes_before);  // the server completed none
  CHECK(state["counters"]["requests"]["get_attestation"] == 0);

  // A server that does not ask for a client certificate is not a master: refused during the
  // handshake, so no request (no seal token) ever reaches it.
  MasterPeer lax({"--no-chain-check", "--require-client-cert", "false"});
  auto lax_result = make_client(lax.options(state_dir / "state")).attest();
  REQUIRE_FALSE(lax_result.ok());
  CHECK(lax_result.error().kind == ErrorKind::kVerify);
  CHECK(lax_result.error().message.find("did not ask for a client certificate") != std::string::npos);
  CHECK(lax.state()["counters"]["requests"]["get_attestation"] == 0);

  auto plain = peer.options(state_dir / "state");
  plain.url = "http://127.0.0.1:1";
  auto insecure = MasterClient::create(plain);
  REQUIRE_FALSE(insecure.ok());
  CHECK(insecure.error().kind == ErrorKind::kConfig);
  CHECK(insecure.error().message.find("allow_insecure_http") != std::string::npos);
  plain.allow_insecure_http = true;
  CHECK(MasterClient::create(plain).ok());
  plain.url = "ftp://127.0.0.1:1";
  CHECK_FALSE(MasterClient::create(plain).ok());

  // The client key must be a secret file (0600).
  TempDir keys;
  auto loose = peer.options(state_dir / "state");
  write_file(keys / "client.key", read_file(test_pki() / "client.key"), 0644);
  loose.tls.key_file = (keys / "client.key").string();
  auto loose_result = MasterClient::create(loose);
  REQUIRE_FALSE(loose_result.ok());
  CHECK(loose_result.error().kind == ErrorKind::kConfig);
}
