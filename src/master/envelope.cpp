// Nautilus signed envelopes (protocol.md section 4): shape, BCS of the acks, verification.
#include <algorithm>
#include <limits>
#include <set>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/crypto.hpp"
#include "k3s_daas/master.hpp"
#include "k3s_daas/sui_bcs.hpp"

namespace k3s_daas::master {
namespace {

using nlohmann::json;

// Byte fields travel as lower-case hex (section 4); one spelling per value.
bool is_lower_hex(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Error malformed(const std::string& what) { return make_error(ErrorKind::kProtocol, "malformed master answer: " + what); }

Status exact_keys(const json& object, std::initializer_list<const char*> keys, const std::string& where) {
  std::set<std::string> wanted(keys.begin(), keys.end());
  for (const auto& [key, value] : object.items()) {
    if (wanted.count(key) == 0) return malformed(where + " has an unexpected field \"" + key.substr(0, 40) + "\"");
  }
  for (const char* key : keys) {
    if (!object.contains(key)) return malformed(where + " has no field \"" + key + "\"");
  }
  return {};
}

// u64 as a JSON number or a decimal string (values beyond 2^53 travel as strings).
Result<std::uint64_t> get_u64(const json& object, const char* key) {
  const json& value = object.at(key);
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(value.get<std::int64_t>());
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (!text.empty() && text.size() <= 20 && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      unsigned __int128 parsed = 0;
      for (char c : text) parsed = parsed * 10 + static_cast<unsigned>(c - '0');
      if (parsed <= std::numeric_limits<std::uint64_t>::max()) return static_cast<std::uint64_t>(parsed);
    }
  }
  return malformed(std::string("field ") + key + ": expected an unsigned 64-bit integer");
}

Result<std::string> get_string(const json& object, const char* key, std::size_t max_len = 4096) {
  const json& value = object.at(key);
  if (!value.is_string()) return malformed(std::string("field ") + key + ": expected a string");
  const auto& text = value.get_ref<const std::string&>();
  if (text.size() > max_len || !is_valid_utf8(text)) {
    return malformed(std::string("field ") + key + ": too long or not UTF-8");
  }
  return text;
}

Result<Bytes> get_hex(const json& object, const char* key, std::size_t max_bytes = 1024) {
  const json& value = object.at(key);
  if (!value.is_string() || value.get_ref<const std::string&>().size() > 2 * max_bytes ||
      !is_lower_hex(value.get_ref<const std::string&>())) {
    return malformed(std::string("field ") + key + ": expected lower-case hex bytes");
  }
  auto bytes = hex_decode(value.get_ref<const std::string&>());
  if (!bytes) return malformed(std::string("field ") + key + ": expected hex bytes");
  return *bytes;
}

Error rejected(Rejection* why, Rejection rejection, const char* endpoint, const std::string& detail) {
  if (why != nullptr) *why = rejection;
  ErrorKind kind = rejection == Rejection::kMalformed ? ErrorKind::kProtocol : ErrorKind::kVerify;
  return make_error(kind, std::string("master answer to ") + endpoint + " rejected (" + rejection_name(rejection) +
                              "): " + detail);
}

std::string describe_ms(std::int64_t delta_ms) {
  return std::to_string(delta_ms / 1000) + " s";
}

// The rules every answer shares; `decode` gives the typed ack, `echo` checks its echoes.
template <typename Ack, typename Decode, typename Echo>
Result<Ack> verify_answer(const char* endpoint, std::string_view body, ByteView enclave_key, const Expectation& expect,
                          ReplayGuard& replay, Rejection* why, Decode decode, Echo echo) {
  auto envelope = parse_envelope(body);
  if (!envelope.ok()) return rejected(why, Rejection::kMalformed, endpoint, envelope.error().message);
  auto ack = decode(envelope.value().data);
  if (!ack.ok()) return rejected(why, Rejection::kMalformed, endpoint, ack.error().message);
  auto signature = verify_envelope_signature(envelope.value(), bcs_of(ack.value()), enclave_key);
  if (!signature.ok()) return rejected(why, Rejection::kSignature, endpoint, signature.error().message);
  if (envelope.value().intent != static_cast<std::uint8_t>(expect.intent)) {
    return rejected(why, Rejection::kIntent, endpoint,
                    "intent " + std::to_string(envelope.value().intent) + ", expected " +
                        std::to_string(static_cast<int>(expect.intent)));
  }
  const std::int64_t now_ms = expect.now_ms != 0 ? expect.now_ms : now_unix_ms();
  const auto timestamp = static_cast<std::int64_t>(std::min<std::uint64_t>(envelope.value().timestamp_ms, INT64_MAX / 2));
  if (timestamp > now_ms + kMaxAnswerSkewMs || timestamp < now_ms - kMaxAnswerSkewMs) {
    return rejected(why, Rejection::kTimestamp, endpoint,
                    "its timestamp is " + describe_ms(timestamp - now_ms) +
                        " away from our clock (at most 300 s allowed)");
  }
  if (replay.seen(envelope.value().signature, envelope.value().timestamp_ms)) {
    return rejected(why, Rejection::kReplay, endpoint, "the same signed answer was accepted before, or it is older "
                                                       "than answers already accepted");
  }
  if (ack.value().node_id != expect.node_id) {
    return rejected(why, Rejection::kEcho, endpoint, "it is for node \"" + ack.value().node_id.substr(0, 63) + "\"");
  }
  if (auto problem = echo(ack.value()); !problem.empty()) return rejected(why, Rejection::kEcho, endpoint, problem);
  replay.accept(envelope.value().signature, envelope.value().timestamp_ms);
  return std::move(ack).value();
}

}  // namespace

const char* command_name(Command command) {
  switch (command) {
    case Command::kNone: return "none";
    case Command::kRenewSealToken: return "renew-seal-token";
    case Command::kDrain: return "drain";
    case Command::kSlashed: return "slashed";
    case Command::kDeregistered: return "deregistered";
    case Command::kResume: return "resume";
  }
  return "unknown";
}

const char* rejection_name(Rejection rejection) {
  switch (rejection) {
    case Rejection::kMalformed: return "malformed";
    case Rejection::kSignature: return "signature";
    case Rejection::kIntent: return "intent";
    case Rejection::kTimestamp: return "timestamp";
    case Rejection::kEcho: return "echo";
    case Rejection::kReplay: return "replay";
  }
  return "unknown";
}

Result<Envelope> parse_envelope(std::string_view body) {
  if (body.size() > kMaxAnswerBytes) return malformed("larger than " + std::to_string(kMaxAnswerBytes) + " bytes");
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) return malformed("not JSON");
  if (!doc.is_object()) return malformed("not a JSON object");
  K3S_TRY(exact_keys(doc, {"response", "signature"}, "the envelope"));
  const json& response = doc["response"];
  if (!response.is_object()) return malformed("response is not an object");
  K3S_TRY(exact_keys(response, {"intent", "timestamp_ms", "data"}, "response"));
  Envelope envelope;
  K3S_ASSIGN(std::uint64_t intent, get_u64(response, "intent"));
  if (intent > 255) return malformed("intent is not a u8");
  envelope.intent = static_cast<std::uint8_t>(intent);
  K3S_ASSIGN(envelope.timestamp_ms, get_u64(response, "timestamp_ms"));
  if (!response["data"].is_object()) return malformed("data is not an object");
  envelope.data = response["data"];
  const json& signature = doc["signature"];
  if (!signature.is_string() || signature.get_ref<const std::string&>().size() != 2 * crypto::kSignatureSize ||
      !is_lower_hex(signature.get_ref<const std::string&>())) {
    return malformed("signature is not 64 bytes of lower-case hex");
  }
  auto bytes = hex_decode(signature.get_ref<const std::string&>());
  if (!bytes) return malformed("signature is not hex");
  envelope.signature = *bytes;
  return envelope;
}

Bytes intent_message(std::uint8_t intent, std::uint64_t timestamp_ms, ByteView bcs_data) {
  sui::bcs::Writer writer;
  writer.u8(intent).u64(timestamp_ms).fixed(bcs_data);
  return std::move(writer).data();
}

Status verify_envelope_signature(const Envelope& envelope, ByteView bcs_data, ByteView enclave_key) {
  if (enclave_key.size() != crypto::kPublicKeySize) {
    return make_error(ErrorKind::kVerify, "no 32-byte enclave key to verify the answer with");
  }
  Bytes message = intent_message(envelope.intent, envelope.timestamp_ms, bcs_data);
  if (!crypto::ed25519_verify(enclave_key, message, envelope.signature)) {
    return make_error(ErrorKind::kVerify, "the Ed25519 signature does not verify with the attested enclave key");
  }
  return {};
}

Result<RegisterAck> decode_register_ack(const json& data) {
  K3S_TRY(exact_keys(data, {"node_id", "nonce", "k3s_server_url", "join_token", "heartbeat_interval_ms",
                            "token_expires_at_ms"},
                     "RegisterAck"));
  RegisterAck ack;
  K3S_ASSIGN(ack.node_id, get_string(data, "node_id", 253));
  K3S_ASSIGN(ack.nonce, get_hex(data, "nonce", 64));
  K3S_ASSIGN(ack.k3s_server_url, get_string(data, "k3s_server_url", 2048));
  K3S_ASSIGN(ack.join_token, get_string(data, "join_token", 4096));
  K3S_ASSIGN(ack.heartbeat_interval_ms, get_u64(data, "heartbeat_interval_ms"));
  K3S_ASSIGN(ack.token_expires_at_ms, get_u64(data, "token_expires_at_ms"));
  return ack;
}

Result<HeartbeatAck> decode_heartbeat_ack(const json& data) {
  K3S_TRY(exact_keys(data, {"node_id", "seq", "command", "heartbeat_interval_ms"}, "HeartbeatAck"));
  HeartbeatAck ack;
  K3S_ASSIGN(ack.node_id, get_string(data, "node_id", 253));
  K3S_ASSIGN(ack.seq, get_u64(data, "seq"));
  K3S_ASSIGN(std::uint64_t command, get_u64(data, "command"));
  if (command > 255) return malformed("field command: expected a u8");
  ack.command = static_cast<Command>(command);
  K3S_ASSIGN(ack.heartbeat_interval_ms, get_u64(data, "heartbeat_interval_ms"));
  return ack;
}

Result<DeregisterAck> decode_deregister_ack(const json& data) {
  K3S_TRY(exact_keys(data, {"node_id"}, "DeregisterAck"));
  DeregisterAck ack;
  K3S_ASSIGN(ack.node_id, get_string(data, "node_id", 253));
  return ack;
}

Bytes bcs_of(const RegisterAck& ack) {
  sui::bcs::Writer writer;
  writer.string(ack.node_id)
      .bytes(ack.nonce)
      .string(ack.k3s_server_url)
      .string(ack.join_token)
      .u64(ack.heartbeat_interval_ms)
      .u64(ack.token_expires_at_ms);
  return std::move(writer).data();
}

Bytes bcs_of(const HeartbeatAck& ack) {
  sui::bcs::Writer writer;
  writer.string(ack.node_id).u64(ack.seq).u8(static_cast<std::uint8_t>(ack.command)).u64(ack.heartbeat_interval_ms);
  return std::move(writer).data();
}

Bytes bcs_of(const DeregisterAck& ack) {
  sui::bcs::Writer writer;
  writer.string(ack.node_id);
  return std::move(writer).data();
}

bool ReplayGuard::seen(const Bytes& signature, std::uint64_t timestamp_ms) const {
  if (newest_ms_ > static_cast<std::uint64_t>(kReorderToleranceMs) &&
      timestamp_ms < newest_ms_ - static_cast<std::uint64_t>(kReorderToleranceMs)) {
    return true;
  }
  return std::find(recent_.begin(), recent_.end(), signature) != recent_.end();
}

void ReplayGuard::accept(const Bytes& signature, std::uint64_t timestamp_ms) {
  recent_.push_back(signature);
  if (recent_.size() > kRemembered) recent_.pop_front();
  newest_ms_ = std::max(newest_ms_, timestamp_ms);
}

Result<RegisterAck> verify_register_answer(std::string_view body, ByteView enclave_key, const Expectation& expect,
                                           ReplayGuard& replay, Rejection* why) {
  return verify_answer<RegisterAck>("register", body, enclave_key, expect, replay, why, decode_register_ack,
                                    [&](const RegisterAck& ack) -> std::string {
                                      if (!expect.nonce || ack.nonce != *expect.nonce) {
                                        return "its nonce " + hex_encode(ack.nonce) + " is not the one sent";
                                      }
                                      if (ack.join_token.empty()) return "it carries an empty join token";
                                      return {};
                                    });
}

Result<HeartbeatAck> verify_heartbeat_answer(std::string_view body, ByteView enclave_key, const Expectation& expect,
                                             ReplayGuard& replay, Rejection* why) {
  return verify_answer<HeartbeatAck>("heartbeat", body, enclave_key, expect, replay, why, decode_heartbeat_ack,
                                     [&](const HeartbeatAck& ack) -> std::string {
                                       if (!expect.seq || ack.seq != *expect.seq) {
                                         return "its seq " + std::to_string(ack.seq) + " is not the one sent (" +
                                                (expect.seq ? std::to_string(*expect.seq) : std::string("none")) + ")";
                                       }
                                       return {};
                                     });
}

Result<DeregisterAck> verify_deregister_answer(std::string_view body, ByteView enclave_key, const Expectation& expect,
                                               ReplayGuard& replay, Rejection* why) {
  return verify_answer<DeregisterAck>("deregister", body, enclave_key, expect, replay, why, decode_deregister_ack,
                                      [](const DeregisterAck&) { return std::string(); });
}

}  // namespace k3s_daas::master
