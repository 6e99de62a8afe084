#pragma once
// The Nautilus master (protocol.md sections 3 and 4): trusting it by attestation, and talking to
// it over mutual TLS with every answer verified as a Nautilus signed envelope.
// Owns: the master's wire format (request bodies, envelopes, BCS of the acks), the one kept-alive
// connection, retries with backoff, the join-token file, and counters of rejected answers.
// Must never: act on an answer before its envelope verified (signature by the attested key,
// intent, clock, nonce/seq/node_id echoes, replay); log or put into an error a seal token or a
// join token; keep process-global state (several clients may live in one process).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "k3s_daas/attestation.hpp"
#include "k3s_daas/encoding.hpp"
#include "k3s_daas/net.hpp"
#include "k3s_daas/result.hpp"

namespace k3s_daas::config {
struct Config;
}

namespace k3s_daas::master {

// ---------------------------------------------------------------- signed envelopes

enum class Intent : std::uint8_t { kRegister = 1, kHeartbeat = 2, kDeregister = 3 };
// An answer whose timestamp is further than this from our clock is rejected.
inline constexpr std::int64_t kMaxAnswerSkewMs = 5 * 60 * 1000;
inline constexpr std::size_t kMaxAnswerBytes = 64 * 1024;
inline constexpr const char* kJoinTokenFileName = "k3s-join-token";

// {"response": {"intent", "timestamp_ms", "data"}, "signature": "<hex 64 bytes>"}, shape only.
struct Envelope {
  std::uint8_t intent = 0;
  std::uint64_t timestamp_ms = 0;
  nlohmann::json data;  // an object
  Bytes signature;      // 64 bytes
};
// Parses the JSON shape (exact keys, types); kProtocol naming the problem.
Result<Envelope> parse_envelope(std::string_view body);
// BCS(IntentMessage { intent: u8, timestamp_ms: u64, data: T }) given BCS(data).
Bytes intent_message(std::uint8_t intent, std::uint64_t timestamp_ms, ByteView bcs_data);
// Ed25519 by `enclave_key` (32 bytes) over intent_message(...); kVerify when it does not verify.
Status verify_envelope_signature(const Envelope& envelope, ByteView bcs_data, ByteView enclave_key);

// The acks of section 4, fields in BCS order.
struct RegisterAck {
  std::string node_id;
  Bytes nonce;
  std::string k3s_server_url;
  std::string join_token;  // a secret: registered with the logger, never printed
  std::uint64_t heartbeat_interval_ms = 0;
  std::uint64_t token_expires_at_ms = 0;
  // Set by MasterClient::register_worker: where the join token was written (0600).
  std::filesystem::path join_token_file;
};
enum class Command : std::uint8_t {
  kNone = 0,
  kRenewSealToken = 1,
  kDrain = 2,
  kSlashed = 3,
  kDeregistered = 4,
  kResume = 5,  // start k3s again after a drain; ignored when not drained
};
const char* command_name(Command command);
struct HeartbeatAck {
  std::string node_id;
  std::uint64_t seq = 0;
  Command command = Command::kNone;
  std::uint64_t heartbeat_interval_ms = 0;
};
struct DeregisterAck {
  std::string node_id;
};

// JSON data object -> typed ack (exact field set; u64 as number or decimal string; byte fields
// as hex) and typed ack -> BCS bytes.
Result<RegisterAck> decode_register_ack(const nlohmann::json& data);
Result<HeartbeatAck> decode_heartbeat_ack(const nlohmann::json& data);
Result<DeregisterAck> decode_deregister_ack(const nlohmann::json& data);
Bytes bcs_of(const RegisterAck& ack);
Bytes bcs_of(const HeartbeatAck& ack);
Bytes bcs_of(const DeregisterAck& ack);

// Why an answer was rejected (each one is counted).
enum class Rejection { kMalformed, kSignature, kIntent, kTimestamp, kEcho, kReplay };
const char* rejection_name(Rejection rejection);

// What an answer must match.
struct Expectation {
  Intent intent = Intent::kRegister;
  std::string node_id;
  std::optional<Bytes> nonce;         // register
  std::optional<std::uint64_t> seq;   // heartbeat
  std::int64_t now_ms = 0;            // 0 = the real clock
};

// Remembers recently accepted answers so that a replayed one is refused (by its signature, or by
// a timestamp well before the newest accepted answer).
class ReplayGuard {
 public:
  static constexpr std::size_t kRemembered = 256;
  static constexpr std::int64_t kReorderToleranceMs = 1000;
  bool seen(const Bytes& signature, std::uint64_t timestamp_ms) const;
  void accept(const Bytes& signature, std::uint64_t timestamp_ms);

 private:
  std::deque<Bytes> recent_;
  std::uint64_t newest_ms_ = 0;
};

// Full verification of one answer body. On failure *why says which rule failed.
Result<RegisterAck> verify_register_answer(std::string_view body, ByteView enclave_key, const Expectation& expect,
                                           ReplayGuard& replay, Rejection* why = nullptr);
Result<HeartbeatAck> verify_heartbeat_answer(std::string_view body, ByteView enclave_key, const Expectation& expect,
                                             ReplayGuard& replay, Rejection* why = nullptr);
Result<DeregisterAck> verify_deregister_answer(std::string_view body, ByteView enclave_key, const Expectation& expect,
                                               ReplayGuard& replay, Rejection* why = nullptr);

// ---------------------------------------------------------------- requests

struct NodeInfo {
  std::string hostname;
  std::string instance_id;  // EC2 instance id when on EC2, else the machine id
  std::string arch;         // Kubernetes form: amd64, arm64, ...
  std::uint32_t cpus = 0;
  std::uint64_t memory_bytes = 0;
};
// This machine's facts, read from `proc_root` (default /proc) and the system.
Result<NodeInfo> collect_node_info(const std::filesystem::path& proc_root = "/proc");

struct Resources {
  double cpu_percent = 0;     // busy share of all CPUs between two samples
  double memory_percent = 0;  // (MemTotal - MemAvailable) / MemTotal
  double disk_percent = 0;    // used share of the file system holding `disk_path`
  double load1 = 0;
};

// Reads /proc/stat, /proc/meminfo, /proc/loadavg and statvfs(disk_path). cpu_percent is the busy
// share between this sample and the previous one (the first sample: since boot).
class ResourceSampler {
 public:
  explicit ResourceSampler(std::filesystem::path proc_root = "/proc", std::filesystem::path disk_path = "/");
  Result<Resources> sample();

 private:
  std::filesystem::path proc_root_;
  std::filesystem::path disk_path_;
  std::uint64_t last_total_ = 0;
  std::uint64_t last_idle_ = 0;
};

struct HeartbeatReport {
  struct Stake {
    std::string stake_id;  // 0x... StakeRecord id
    std::uint64_t amount = 0;
    std::uint8_t status = 1;  // 1 ACTIVE, 2 SLASHED, 3 WITHDRAWN
  } stake;
  struct K3s {
    std::string state = "unknown";  // e.g. "running", "starting", "stopped"
    std::uint32_t restarts = 0;
    std::optional<std::int64_t> pid;
  } k3s;
  struct Runtime {
    std::string type = "containerd";
    std::string state = "unknown";
    std::optional<std::string> version;
  } runtime;
  Resources resources;
  std::uint32_t running_containers = 0;
};

// The master's answer to GET /get_attestation: {"attestation": "<hex>"} -> the document's bytes
// (at most 2 * attestation::kMaxDocumentBytes hex digits). An error names what was wrong.
Result<Bytes> parse_attestation_answer(std::string_view body);
// A master's error answer ({"error": "..."} or any text) as one short line for logs and error
// messages: at most 300 bytes (then "..."), control characters blanked, secrets redacted.
std::string error_answer_text(std::string_view body);
// The machine-readable reason of a master's error answer: its "reason" field (when present it
// alone decides), else the snake_case word that opens its "error" text ("expired: ..."); 1..64
// of [a-z0-9_], else "".
std::string error_answer_reason(std::string_view body);

// Request bodies of section 4 (exposed for tests).
nlohmann::json register_body(const std::string& node_id, const std::string& seal_token, const Bytes& nonce,
                             const std::string& agent_version, const NodeInfo& node);
nlohmann::json heartbeat_body(const std::string& node_id, std::uint64_t seq, std::int64_t timestamp_ms,
                              const HeartbeatReport& report);
nlohmann::json deregister_body(const std::string& node_id, const std::string& seal_token, const std::string& reason);

// ---------------------------------------------------------------- the client

// Counters of one client, for logs and metrics. Plain values: copy them out with counters().
struct Counters {
  std::uint64_t requests = 0;          // HTTP requests sent (every attempt)
  std::uint64_t transport_errors = 0;  // no answer: connection, TLS, timeout
  std::uint64_t http_errors = 0;       // answers with a non-200 status
  std::uint64_t retries = 0;           // attempts after the first one of a call
  std::uint64_t answers_accepted = 0;
  std::uint64_t answers_rejected = 0;  // the sum of the rejected_* below
  std::uint64_t rejected_malformed = 0;
  std::uint64_t rejected_signature = 0;
  std::uint64_t rejected_intent = 0;
  std::uint64_t rejected_timestamp = 0;
  std::uint64_t rejected_echo = 0;     // nonce, seq or node_id not echoed
  std::uint64_t rejected_replay = 0;
  std::uint64_t attestations_verified = 0;
  std::uint64_t attestations_rejected = 0;
};

struct RetryPolicy {
  unsigned max_attempts = 5;  // per call; 1 = no retry
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds cap{60000};
};

// The master after a successful attestation.
// ---------------------------------------------------------------- trust rooted on chain

// Mysten's Nautilus enclave objects (protocol.md 3.1), decoded from their BCS contents.
struct EnclaveConfigObject {
  std::string id;  // 0x + 64 hex
  std::string name;
  std::array<Bytes, 3> pcrs;
  std::string capability_id;
  std::uint64_t version = 0;
};
struct EnclaveObject {
  std::string id;
  Bytes pk;
  std::uint64_t config_version = 0;
  std::string owner;
};
Result<EnclaveConfigObject> decode_enclave_config(ByteView bcs);
Result<EnclaveObject> decode_enclave(ByteView bcs);

// What the on-chain check found (shown by `attest` and `status`).
struct OnChainTrust {
  std::string enclave_config_id;
  std::uint64_t config_version = 0;
  std::string enclave_id;
  std::string enclave_type;
};

struct TrustedMaster {
  Bytes enclave_key;  // 32-byte Ed25519 public key
  attestation::Document document;
  std::int64_t verified_at_ms = 0;
  std::optional<OnChainTrust> on_chain;  // set when the trust is rooted on chain
};

struct MasterClientOptions {
  std::string url;  // https://host:port (no path)
  net::TlsOptions tls;  // ca_file verifies the server; cert_file/key_file: our client certificate
  bool allow_insecure_http = false;
  std::string node_id;
  std::string agent_version;
  std::filesystem::path state_dir;  // the join token goes to <state_dir>/k3s-join-token
  std::string attestation_root_file;  // empty = the pinned AWS Nitro root
  attestation::Policy attestation;    // PCRs, max_age, allow_debug (now_ms and nonce are set per call)
  std::chrono::milliseconds request_timeout{10000};
  RetryPolicy retry;
  // Waits between attempts; returns false when the caller wants to stop (then the call ends with
  // the last error). Default: sleeps.
  std::function<bool(std::chrono::milliseconds)> wait;
  // Optional extra trust check of the attested key: from_config sets the on-chain one
  // (protocol.md 3.1) when master.attestation.enclave_config_object_id is set. It may fill in
  // TrustedMaster::on_chain. A transient error (chain unreachable) is retried, never trusted.
  std::function<Status(TrustedMaster&)> cross_check;
  bool pcrs_from_chain = false;  // the cross_check checks PCR0-2 (local ones become optional)
  // Called with each new heartbeat sequence number before it is sent (the daemon persists a
  // floor so that numbers keep increasing across restarts, even with a clock stepped back).
  std::function<void(std::uint64_t)> on_sequence;
  // Set to true to cut a request in progress short (net::ClientOptions::abort).
  std::shared_ptr<const std::atomic<bool>> abort;

  // From a loaded config (`master.*`, `node_id`, `state_dir`).
  static Result<MasterClientOptions> from_config(const config::Config& config, const std::string& agent_version);
};

// The on-chain check of protocol.md 3.1 as a cross_check, reading through its own chain client
// (config.sui): EnclaveConfig<T> and the Enclave<T> holding the attested key (the pinned
// enclave_object_id, or found by type over GraphQL), their exact types and shared ownership,
// Enclave.config_version == EnclaveConfig.version, attested PCR0-2 == EnclaveConfig.pcrs (and the
// configured ones, when set), attested key == Enclave.pk. A mismatch names the field and both
// values in hex (kRejected); an unreachable chain is a transient error.
Result<std::function<Status(TrustedMaster&)>> on_chain_cross_check(const config::Config& config);

class MasterClient {
 public:
  // Validates the options (https unless allow_insecure_http; readable TLS files, the key file
  // 0600; the attestation root) without any network traffic.
  static Result<MasterClient> create(MasterClientOptions options);
  MasterClient(MasterClient&&) noexcept;
  MasterClient& operator=(MasterClient&&) noexcept;
  ~MasterClient();

  // GET /get_attestation?nonce=<fresh 32 bytes>; verifies the document (section 3) and, when it
  // passes, trusts its Ed25519 key for every later answer.
  Result<TrustedMaster> attest();
  // POST /api/v1/register-worker; writes the join token 0600 to the state folder.
  Result<RegisterAck> register_worker(const std::string& seal_token, const NodeInfo& node);
  // POST /api/v1/nodes/heartbeat with the next sequence number.
  Result<HeartbeatAck> heartbeat(const std::string& seal_token, const HeartbeatReport& report);
  // POST /api/v1/deregister.
  Result<DeregisterAck> deregister(const std::string& seal_token, const std::string& reason);

  const std::optional<TrustedMaster>& trusted() const;
  Counters counters() const;
  // New connections (TCP + TLS handshakes) opened so far.
  std::uint64_t connections_opened() const;
  // Heartbeat sequence numbers: strictly increasing, at least the wall clock in ms, and above
  // `floor` (e.g. the last one sent before a restart).
  void set_sequence_floor(std::uint64_t floor);
  std::uint64_t last_sequence() const;
  const MasterClientOptions& options() const;

 private:
  struct Impl;
  explicit MasterClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace k3s_daas::master
