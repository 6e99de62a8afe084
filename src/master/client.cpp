// The mutual-TLS client of the Nautilus master (protocol.md sections 3 and 4).
#include <openssl/rand.h>

#include <algorithm>
#include <thread>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/config.hpp"
#include "k3s_daas/fs.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/master.hpp"
#include "k3s_daas/url.hpp"

namespace k3s_daas::master {
namespace {

using nlohmann::json;

constexpr std::uint64_t kMaxSafeJsonInteger = (1ull << 53) - 1;
constexpr std::size_t kNonceBytes = 32;
constexpr std::size_t kMaxErrorTextBytes = 300;

// u64 in JSON: a number while JavaScript can hold it exactly, else a decimal string.
json json_u64(std::uint64_t value) {
  if (value <= kMaxSafeJsonInteger) return value;
  return std::to_string(value);
}

Result<Bytes> random_bytes(std::size_t n) {
  Bytes out(n);
  if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    return make_error(ErrorKind::kInternal, "the random number generator failed");
  }
  return out;
}

// One attempt's outcome: retry it or not.
template <typename T>
struct Attempt {
  Result<T> result;
  bool retryable = false;
};

}  // namespace

Result<Bytes> parse_attestation_answer(std::string_view body) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("attestation") || !doc["attestation"].is_string() ||
      doc["attestation"].get_ref<const std::string&>().size() > 2 * attestation::kMaxDocumentBytes) {
    return make_error(ErrorKind::kProtocol, "master attestation: the answer is not {\"attestation\": \"<hex>\"}");
  }
  auto bytes = hex_decode(doc["attestation"].get_ref<const std::string&>());
  if (!bytes) return make_error(ErrorKind::kProtocol, "master attestation: the document is not hex");
  return std::move(*bytes);
}

std::string error_answer_text(std::string_view body) {
  std::string text(body);
  json doc = json::parse(body, nullptr, false);
  if (!doc.is_discarded() && doc.is_object() && doc.contains("error") && doc["error"].is_string()) {
    text = doc["error"].get<std::string>();
  }
  // Redacted before it is cut: a secret that straddles the cut is hidden whole (cut first, a
  // registered secret's tail was no longer found); and what redaction adds cannot lengthen it.
  text = log::redact(text);
  if (text.size() > kMaxErrorTextBytes) text = text.substr(0, kMaxErrorTextBytes) + "...";
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return text;
}

std::string error_answer_reason(std::string_view body) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return "";
  std::string candidate;
  if (auto it = doc.find("reason"); it != doc.end()) {  // present: it alone decides
    if (it->is_string()) candidate = it->get<std::string>();
  } else if (auto error = doc.find("error"); error != doc.end() && error->is_string()) {
    const auto& text = error->get_ref<const std::string&>();
    if (auto colon = text.find(':'); colon != std::string::npos) candidate = text.substr(0, colon);
  }
  constexpr std::size_t kMaxReason = 64;
  const bool word = !candidate.empty() && candidate.size() <= kMaxReason &&
                    std::all_of(candidate.begin(), candidate.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                    });
  return word ? candidate : "";
}

nlohmann::json register_body(const std::string& node_id, const std::string& seal_token, const Bytes& nonce,
                             const std::string& agent_version, const NodeInfo& node) {
  return json{{"node_id", node_id},
              {"seal_token", seal_token},
              {"nonce", hex_encode(nonce)},
              {"agent_version", agent_version},
              {"node",
               {{"hostname", node.hostname},
                {"instance_id", node.instance_id},
                {"arch", node.arch},
                {"cpus", node.cpus},
                {"memory_bytes", json_u64(node.memory_bytes)}}}};
}

nlohmann::json heartbeat_body(const std::string& node_id, std::uint64_t seq, std::int64_t timestamp_ms,
                              const HeartbeatReport& report) {
  auto round2 = [](double v) { return static_cast<double>(static_cast<std::int64_t>(v * 100.0 + 0.5)) / 100.0; };
  return json{{"node_id", node_id},
              {"seq", json_u64(seq)},
              {"timestamp_ms", timestamp_ms},
              {"stake",
               {{"stake_id", report.stake.stake_id},
                {"amount", json_u64(report.stake.amount)},
                {"status", report.stake.status}}},
              {"k3s",
               {{"state", report.k3s.state},
                {"restarts", report.k3s.restarts},
                {"pid", report.k3s.pid ? json(*report.k3s.pid) : json(nullptr)}}},
              {"runtime",
               {{"type", report.runtime.type},
                {"state", report.runtime.state},
                {"version", report.runtime.version ? json(*report.runtime.version) : json(nullptr)}}},
              {"resources",
               {{"cpu_percent", round2(report.resources.cpu_percent)},
                {"memory_percent", round2(report.resources.memory_percent)},
                {"disk_percent", round2(report.resources.disk_percent)},
                {"load1", round2(report.resources.load1)}}},
              {"running_containers", report.running_containers}};
}

nlohmann::json deregister_body(const std::string& node_id, const std::string& seal_token, const std::string& reason) {
  return json{{"node_id", node_id}, {"seal_token", seal_token}, {"reason", reason}};
}

// ---------------------------------------------------------------- options

Result<MasterClientOptions> MasterClientOptions::from_config(const config::Config& config,
                                                             const std::string& agent_version) {
  MasterClientOptions options;
  options.url = config.master.url;
  options.tls.ca_file = config.master.ca_file;
  options.tls.cert_file = config.master.cert_file;
  options.tls.key_file = config.master.key_file;
  options.allow_insecure_http = config.master.allow_insecure_http;
  options.node_id = config.node_id;
  options.agent_version = agent_version;
  options.state_dir = config.state_dir;
  options.attestation_root_file = config.master.attestation.root_ca_file;
  options.request_timeout = std::chrono::milliseconds(config.master.request_timeout_ms);
  K3S_ASSIGN(options.attestation, attestation::policy_from_config(config.master.attestation));
  if (config.master.attestation.on_chain()) {
    K3S_ASSIGN(options.cross_check, on_chain_cross_check(config));
    options.pcrs_from_chain = true;
  }
  return options;
}

// ---------------------------------------------------------------- client

struct MasterClient::Impl {
  MasterClientOptions options;
  std::string base_url;
  net::HttpClient http;
  attestation::Verifier verifier;
  std::optional<TrustedMaster> trusted;
  Counters counters;
  ReplayGuard replay;
  std::uint64_t last_seq = 0;

  Impl(MasterClientOptions opts, std::string url, net::HttpClient client, attestation::Verifier root)
      : options(std::move(opts)), base_url(std::move(url)), http(std::move(client)), verifier(std::move(root)) {}

  bool wait(std::chrono::milliseconds delay) {
    if (options.wait) return options.wait(delay);
    std::this_thread::sleep_for(delay);
    return true;
  }

  template <typename T, typename F>
  Result<T> with_retry(const char* what, F attempt_once) {
    Backoff backoff(options.retry.initial, options.retry.cap);
    const unsigned attempts = std::max(1u, options.retry.max_attempts);
    for (unsigned n = 1;; ++n) {
      Attempt<T> attempt = attempt_once();
      if (attempt.result.ok() || !attempt.retryable || n >= attempts) return std::move(attempt.result);
      auto delay = backoff.next();
      K3S_LOG(kMaster, warn, "{} failed (attempt {}/{}): {}; retrying in {} ms", what, n, attempts,
              attempt.result.error().message, delay.count());
      ++counters.retries;
      if (!wait(delay)) return std::move(attempt.result);
    }
  }

  // One HTTP exchange. A 200 answer is returned as the body; anything else as an error with
  // whether it is worth retrying.
  Attempt<std::string> exchange(const char* what, net::Request request) {
    ++counters.requests;
    request.timeout = options.request_timeout;
    auto response = http.perform(request);
    if (!response.ok()) {
      ++counters.transport_errors;
      bool retryable = response.error().transient();
      return {response.error().context("master " + std::string(what)), retryable};
    }
    const auto& r = response.value();
    if (r.status == 200) return {r.body, false};
    ++counters.http_errors;
    std::string text = "master " + std::string(what) + ": HTTP " + std::to_string(r.status) + ": " + error_answer_text(r.body);
    if (r.status >= 500 || r.status == 429 || r.status == 408) {
      return {make_error(ErrorKind::kNetwork, text), true};
    }
    auto refused = make_error(ErrorKind::kRejected, text);
    refused.reason = error_answer_reason(r.body);
    return {refused, false};
  }

  void count_rejection(Rejection why) {
    ++counters.answers_rejected;
    switch (why) {
      case Rejection::kMalformed: ++counters.rejected_malformed; break;
      case Rejection::kSignature: ++counters.rejected_signature; break;
      case Rejection::kIntent: ++counters.rejected_intent; break;
      case Rejection::kTimestamp: ++counters.rejected_timestamp; break;
      case Rejection::kEcho: ++counters.rejected_echo; break;
      case Rejection::kReplay: ++counters.rejected_replay; break;
    }
  }

  net::Request post(const std::string& path, const json& body, const std::string& seal_token) {
    net::Request request;
    request.method = "POST";
    request.url = base_url + path;
    request.body = body.dump();
    request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    if (!seal_token.empty()) request.headers.emplace_back("X-Seal-Token", seal_token);
    return request;
  }

  Status require_trust(const char* what) const {
    if (!trusted) {
      return make_error(ErrorKind::kInternal,
                        std::string("master ") + what + ": the master is not attested yet (call attest() first)");
    }
    return {};
  }

  std::uint64_t next_seq() {
    last_seq = std::max(last_seq + 1, static_cast<std::uint64_t>(std::max<std::int64_t>(now_unix_ms(), 0)));
    if (options.on_sequence) options.on_sequence(last_seq);
    return last_seq;
  }
};

MasterClient::MasterClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MasterClient::MasterClient(MasterClient&&) noexcept = default;
MasterClient& MasterClient::operator=(MasterClient&&) noexcept = default;
MasterClient::~MasterClient() = default;

Result<MasterClient> MasterClient::create(MasterClientOptions options) {
  std::string url = options.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.rfind("https://", 0) != 0) {
    if (url.rfind("http://", 0) == 0) {
      if (!options.allow_insecure_http) {
        return make_error(ErrorKind::kConfig,
                          "master.url: plain http:// is refused (the seal token and join token would travel in "
                          "clear); use https://, or set master.allow_insecure_http for tests");
      }
      K3S_LOG(kMaster, warn, "master.url {} is plain HTTP (allow_insecure_http): tests only", display_url(url));
    } else {
      return make_error(ErrorKind::kConfig, "master.url: expected an https:// URL, found \"" + display_url(url) + "\"");
    }
  }
  if (url.find('?') != std::string::npos || url.find('#') != std::string::npos) {
    return make_error(ErrorKind::kConfig, "master.url: must not carry a query or fragment");
  }
  // Trusting "any enclave AWS signed" is not trust: the image must be pinned by its PCRs.
  // With trust rooted on chain the PCRs come from the EnclaveConfig object (the cross_check).
  if (!options.attestation.allow_debug && !(options.pcrs_from_chain && options.cross_check)) {
    for (std::uint32_t index : {0u, 1u, 2u}) {
      if (options.attestation.expected_pcrs.count(index) == 0) {
        return make_error(ErrorKind::kConfig,
                          "master.attestation.pcr" + std::to_string(index) +
                              ": not set; the agent trusts a master only when PCR0, PCR1 and PCR2 of its enclave "
                              "image are configured (take them from the enclave build, or inspect a document "
                              "with `k3s-daas attest --url URL`)");
      }
    }
  }
  const auto& tls = options.tls;
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return make_error(ErrorKind::kConfig, "master.cert_file and master.key_file must be set together");
  }
  for (const auto& [file, key] : {std::pair{tls.ca_file, "master.ca_file"}, std::pair{tls.cert_file, "master.cert_file"}}) {
    if (file.empty()) continue;
    auto text = fs::read_file(file, 1u << 20);
    if (!text.ok()) return make_error(ErrorKind::kConfig, std::string(key) + ": " + text.error().message);
  }
  if (!tls.key_file.empty()) {
    auto secret = fs::check_secret_file(tls.key_file, "master.key_file");
    if (!secret.ok()) return make_error(ErrorKind::kConfig, secret.error().message);
  }
  auto verifier = options.attestation_root_file.empty() ? attestation::Verifier::aws_root()
                                                        : attestation::Verifier::from_root_file(options.attestation_root_file);
  if (!verifier.ok()) return verifier.error().context("master.attestation.root_ca_file");

  net::ClientOptions http_options;
  http_options.tls = options.tls;
  http_options.tls.verify_peer = true;
  http_options.tls.require_client_auth = url.rfind("https://", 0) == 0;
  http_options.timeout = options.request_timeout;
  http_options.abort = options.abort;
  http_options.max_response_bytes = 2 * attestation::kMaxDocumentBytes + kMaxAnswerBytes;
  http_options.user_agent = "k3s-daas/" + (options.agent_version.empty() ? std::string("dev") : options.agent_version);
  auto impl = std::make_unique<Impl>(std::move(options), url, net::HttpClient(http_options), std::move(verifier).value());
  return MasterClient(std::move(impl));
}

const std::optional<TrustedMaster>& MasterClient::trusted() const { return impl_->trusted; }
Counters MasterClient::counters() const { return impl_->counters; }
std::uint64_t MasterClient::connections_opened() const { return impl_->http.connections_opened(); }
void MasterClient::set_sequence_floor(std::uint64_t floor) { impl_->last_seq = std::max(impl_->last_seq, floor); }
std::uint64_t MasterClient::last_sequence() const { return impl_->last_seq; }
const MasterClientOptions& MasterClient::options() const { return impl_->options; }

Result<TrustedMaster> MasterClient::attest() {
  Impl& s = *impl_;
  return s.with_retry<TrustedMaster>("attestation", [&]() -> Attempt<TrustedMaster> {
    auto nonce = random_bytes(kNonceBytes);
    if (!nonce.ok()) return {nonce.error(), false};
    net::Request request;
    request.url = s.base_url + "/get_attestation?nonce=" + hex_encode(nonce.value());
    request.headers = {{"Accept", "application/json"}};
    auto answer = s.exchange("attestation", request);
    if (!answer.result.ok()) return {answer.result.error(), answer.retryable};
    auto bytes = parse_attestation_answer(answer.result.value());
    if (!bytes.ok()) {
      ++s.counters.attestations_rejected;
      return {bytes.error(), true};
    }
    attestation::Policy policy = s.options.attestation;
    policy.now_ms = 0;  // the real clock
    policy.expected_nonce = nonce.value();
    policy.require_enclave_key = true;
    auto verified = s.verifier.verify(bytes.value(), policy);
    if (!verified.ok()) {
      ++s.counters.attestations_rejected;
      return {verified.error().context("master " + display_url(s.base_url)), true};
    }
    TrustedMaster trusted;
    trusted.enclave_key = *verified.value().public_key;
    trusted.document = std::move(verified).value();
    trusted.verified_at_ms = now_unix_ms();
    if (s.options.cross_check) {
      auto checked = s.options.cross_check(trusted);
      if (!checked.ok()) {
        ++s.counters.attestations_rejected;
        return {checked.error().context("master attestation cross-check"), checked.error().transient()};
      }
    }
    ++s.counters.attestations_verified;
    K3S_LOG(kMaster, info, "master {} attested: module {}, enclave key {}, PCR0 {}", display_url(s.base_url),
            trusted.document.module_id, hex_encode(trusted.enclave_key),
            trusted.document.pcrs.count(0) ? hex_encode(trusted.document.pcrs.at(0)).substr(0, 16) + "..." : "-");
    s.trusted = trusted;
    return {std::move(trusted), false};
  });
}

Result<RegisterAck> MasterClient::register_worker(const std::string& seal_token, const NodeInfo& node) {
  Impl& s = *impl_;
  K3S_TRY(s.require_trust("register"));
  log::register_secret(seal_token, "seal-token");
  auto ack = s.with_retry<RegisterAck>("register", [&]() -> Attempt<RegisterAck> {
    auto nonce = random_bytes(kNonceBytes);
    if (!nonce.ok()) return {nonce.error(), false};
    auto answer = s.exchange("register", s.post("/api/v1/register-worker",
                                                 register_body(s.options.node_id, seal_token, nonce.value(),
                                                               s.options.agent_version, node),
                                                 seal_token));
    if (!answer.result.ok()) return {answer.result.error(), answer.retryable};
    Expectation expect;
    expect.intent = Intent::kRegister;
    expect.node_id = s.options.node_id;
    expect.nonce = nonce.value();
    Rejection why = Rejection::kMalformed;
    auto verified = verify_register_answer(answer.result.value(), s.trusted->enclave_key, expect, s.replay, &why);
    if (!verified.ok()) {
      s.count_rejection(why);
      return {verified.error(), true};
    }
    ++s.counters.answers_accepted;
    return {std::move(verified).value(), false};
  });
  if (!ack.ok()) return ack.error();
  RegisterAck& value = ack.value();
  log::register_secret(value.join_token, "join-token");
  if (!s.options.state_dir.empty()) {
    K3S_TRY(fs::ensure_dir(s.options.state_dir, 0700));
    value.join_token_file = s.options.state_dir / kJoinTokenFileName;
    fs::WriteOptions write;
    write.mode = 0600;
    write.preserve_mode = false;
    auto written = fs::atomic_write_file(value.join_token_file, value.join_token, write);
    if (!written.ok()) return written.error().context("writing the k3s join token");
  }
  K3S_LOG(kMaster, info, "registered with the master as {}: k3s server {}, heartbeat every {} ms{}",
          value.node_id, value.k3s_server_url, value.heartbeat_interval_ms,
          value.join_token_file.empty() ? "" : ", join token in " + value.join_token_file.string());
  return ack;
}

Result<HeartbeatAck> MasterClient::heartbeat(const std::string& seal_token, const HeartbeatReport& report) {
  Impl& s = *impl_;
  K3S_TRY(s.require_trust("heartbeat"));
  log::register_secret(seal_token, "seal-token");
  return s.with_retry<HeartbeatAck>("heartbeat", [&]() -> Attempt<HeartbeatAck> {
    const std::uint64_t seq = s.next_seq();  // a fresh one per attempt: the master may have seen the last
    auto answer = s.exchange("heartbeat", s.post("/api/v1/nodes/heartbeat",
                                                   heartbeat_body(s.options.node_id, seq, now_unix_ms(), report),
                                                   seal_token));
    if (!answer.result.ok()) return {answer.result.error(), answer.retryable};
    Expectation expect;
    expect.intent = Intent::kHeartbeat;
    expect.node_id = s.options.node_id;
    expect.seq = seq;
    Rejection why = Rejection::kMalformed;
    auto verified = verify_heartbeat_answer(answer.result.value(), s.trusted->enclave_key, expect, s.replay, &why);
    if (!verified.ok()) {
      s.count_rejection(why);
      return {verified.error(), true};
    }
    ++s.counters.answers_accepted;
    K3S_LOG(kMaster, debug, "heartbeat {} acknowledged, command {}", seq, command_name(verified.value().command));
    return {std::move(verified).value(), false};
  });
}

Result<DeregisterAck> MasterClient::deregister(const std::string& seal_token, const std::string& reason) {
  Impl& s = *impl_;
  K3S_TRY(s.require_trust("deregister"));
  log::register_secret(seal_token, "seal-token");
  return s.with_retry<DeregisterAck>("deregister", [&]() -> Attempt<DeregisterAck> {
    auto answer = s.exchange("deregister", s.post("/api/v1/deregister",
                                                    deregister_body(s.options.node_id, seal_token, reason), ""));
    if (!answer.result.ok()) return {answer.result.error(), answer.retryable};
    Expectation expect;
    expect.intent = Intent::kDeregister;
    expect.node_id = s.options.node_id;
    Rejection why = Rejection::kMalformed;
    auto verified = verify_deregister_answer(answer.result.value(), s.trusted->enclave_key, expect, s.replay, &why);
    if (!verified.ok()) {
      s.count_rejection(why);
      return {verified.error(), true};
    }
    ++s.counters.answers_accepted;
    K3S_LOG(kMaster, info, "deregistered from the master ({})", reason);
    return {std::move(verified).value(), false};
  });
}

}  // namespace k3s_daas::master
