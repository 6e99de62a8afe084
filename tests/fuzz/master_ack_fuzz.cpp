// libFuzzer target: the master's answers after the envelope (master): the `data` object of a
// register, heartbeat or deregister answer. The input is that object; each ack decoder must not
// crash, and an ack that decodes is then signed by a fixed "enclave" key inside a well-formed
// envelope: the full verification (verify_*_answer) must then accept it with the same fields,
// since only the fields the envelope signs may decide what the agent does.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "k3s_daas/crypto.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/master.hpp"

namespace {

using namespace k3s_daas;
using namespace k3s_daas::master;
using nlohmann::json;

void require(bool condition) {
  if (!condition) std::abort();
}

constexpr std::uint64_t kTimestampMs = 1767225600000;

const crypto::Ed25519Keypair& enclave() {
  static const crypto::Ed25519Keypair& key = *new crypto::Ed25519Keypair([] {
    require(crypto::init().ok());
    auto made = crypto::Ed25519Keypair::from_seed(Bytes(crypto::kSeedSize, 0x03));
    require(made.ok());
    return std::move(made).value();
  }());
  return key;
}

// The answer body a master holding `enclave()` sends for `data`, or "" when it would be too big.
std::string signed_answer(Intent intent, const json& data, const Bytes& bcs) {
  const Bytes message = intent_message(static_cast<std::uint8_t>(intent), kTimestampMs, bcs);
  const auto signature = enclave().sign(message);
  json envelope = {{"response", {{"intent", static_cast<int>(intent)}, {"timestamp_ms", kTimestampMs}, {"data", data}}},
                   {"signature", hex_encode(ByteView(signature.data(), signature.size()))}};
  std::string body = envelope.dump();
  return body.size() <= kMaxAnswerBytes ? body : std::string();
}

Expectation expectation(Intent intent, const std::string& node_id) {
  Expectation expect;
  expect.intent = intent;
  expect.node_id = node_id;
  expect.now_ms = static_cast<std::int64_t>(kTimestampMs);
  return expect;
}

ByteView key_view() { return ByteView(enclave().public_key().data(), enclave().public_key().size()); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return 0;

  if (auto ack = decode_register_ack(doc); ack.ok()) {
    const Bytes bcs = bcs_of(*ack);
    if (auto body = signed_answer(Intent::kRegister, doc, bcs); !body.empty()) {
      Expectation expect = expectation(Intent::kRegister, ack->node_id);
      expect.nonce = ack->nonce;
      ReplayGuard replay;
      Rejection why{};
      auto verified = verify_register_answer(body, key_view(), expect, replay, &why);
      if (ack->join_token.empty()) {
        require(!verified.ok() && why == Rejection::kEcho);
      } else {
        require(verified.ok() && bcs_of(*verified) == bcs);
        // The same answer twice is a replay.
        require(!verify_register_answer(body, key_view(), expect, replay, &why).ok() && why == Rejection::kReplay);
      }
    }
  }

  if (auto ack = decode_heartbeat_ack(doc); ack.ok()) {
    const Bytes bcs = bcs_of(*ack);
    (void)command_name(ack->command);
    if (auto body = signed_answer(Intent::kHeartbeat, doc, bcs); !body.empty()) {
      Expectation expect = expectation(Intent::kHeartbeat, ack->node_id);
      expect.seq = ack->seq;
      ReplayGuard replay;
      auto verified = verify_heartbeat_answer(body, key_view(), expect, replay);
      require(verified.ok() && bcs_of(*verified) == bcs);
      // Signed for a heartbeat, it is no deregister answer.
      Rejection why{};
      ReplayGuard other;
      require(!verify_deregister_answer(body, key_view(), expectation(Intent::kDeregister, ack->node_id), other, &why)
                   .ok());
    }
  }

  if (auto ack = decode_deregister_ack(doc); ack.ok()) {
    const Bytes bcs = bcs_of(*ack);
    if (auto body = signed_answer(Intent::kDeregister, doc, bcs); !body.empty()) {
      ReplayGuard replay;
      auto verified = verify_deregister_answer(body, key_view(), expectation(Intent::kDeregister, ack->node_id), replay);
      require(verified.ok() && verified->node_id == ack->node_id);
    }
  }
  log::clear_registered_secrets();
  return 0;
}
