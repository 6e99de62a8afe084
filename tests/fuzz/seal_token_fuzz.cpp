// libFuzzer target: seal tokens (seal). The input is read twice:
//  - as token text: decode() and verify() must not crash, and a text that decodes is canonical
//    (re-encoding its payload and signature gives the same text);
//  - as BCS SealTokenV1 bytes: a payload that decodes re-encodes to the same bytes; it is then
//    signed with a fixed key and verify() must accept it or name a rule other than the
//    signature (the signature it carries is a real one).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "k3s_daas/crypto.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/seal.hpp"

namespace {

using namespace k3s_daas;

void require(bool condition) {
  if (!condition) std::abort();
}

// The verification time of every input (the seed tokens were issued at 1767225600000).
constexpr std::int64_t kNowMs = 1767225600000 + 60'000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool ready = crypto::init().ok();
  require(ready);
  // Seed 02 02 .. 02: the seed tokens' staker.
  static const crypto::Ed25519Keypair& key = *new crypto::Ed25519Keypair([] {
    auto made = crypto::Ed25519Keypair::from_seed(Bytes(crypto::kSeedSize, 0x02));
    require(made.ok());
    return std::move(made).value();
  }());
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ByteView bytes(data, size);

  seal::VerifyOptions options;
  options.now_ms = kNowMs;
  if (auto token = seal::decode(text); token.ok()) {
    const std::string again = std::string(seal::kPrefix) + base64url_encode(token->payload.encode()) + "." +
                              base64url_encode(token->signature);
    require(again == text);
    seal::Reason why{};
    (void)seal::verify(text, options, &why);
  } else {
    seal::Reason why{};
    require(!seal::verify(text, options, &why).ok());
  }

  if (auto payload = seal::SealTokenV1::decode(bytes); payload.ok()) {
    require(payload->encode() == Bytes(bytes.begin(), bytes.end()));
    const std::string token = std::string(seal::kPrefix) + base64url_encode(bytes) + "." +
                              base64url_encode(key.sign_personal_message(bytes));
    seal::Reason why{};
    auto verified = seal::verify(token, options, &why);
    if (token.size() <= seal::kMaxTokenChars) {
      if (verified.ok()) {
        require(payload->staker == key.address() && verified->payload.encode() == payload->encode());
      } else {
        require(why != seal::Reason::kSignature && why != seal::Reason::kSignatureEncoding &&
                why != seal::Reason::kEncoding && why != seal::Reason::kPayload && why != seal::Reason::kPrefix);
        if (payload->staker == key.address()) require(why != seal::Reason::kStakerMismatch);
      }
    }
  }
  log::clear_registered_secrets();
  return 0;
}
