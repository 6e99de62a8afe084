// libFuzzer target: the text forms of Sui keys and signatures (crypto): Bech32 and suiprivkey
// strings, sui.keystore entries, addresses and serialized signatures. None may crash; whatever
// decodes must encode back to what was read (round trips are exact for the canonical forms).
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "k3s_daas/crypto.hpp"
#include "k3s_daas/log.hpp"

namespace {

using namespace k3s_daas;

void require(bool condition) {
  if (!condition) std::abort();
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string secret_text(const crypto::SecretBytes& secret) {
  crypto::SecretBytes::Reader reader(secret);
  return std::string(reinterpret_cast<const char*>(reader.data()), reader.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool ready = crypto::init().ok();
  require(ready);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ByteView bytes(data, size);

  // Bech32: strict (one case, zero padding, checksum), so a decoded string is canonical.
  if (auto decoded = crypto::bech32_decode(text); decoded.ok()) {
    const std::string again = crypto::bech32_encode(decoded->hrp, decoded->data);
    require(again == lower(text));
    auto second = crypto::bech32_decode(again);
    require(second.ok() && second->hrp == decoded->hrp && second->data == decoded->data);
  }

  // suiprivkey: the seed and the key pair agree, and the key exports the same string.
  auto seed = crypto::decode_suiprivkey(text);
  auto key = crypto::Ed25519Keypair::from_suiprivkey(text);
  require(seed.ok() == key.ok());
  if (key.ok()) {
    require(seed->size() == crypto::kSeedSize);
    const std::string exported = secret_text(key->suiprivkey());
    require(exported == lower(text));
    auto again = crypto::Ed25519Keypair::from_suiprivkey(exported);
    require(again.ok() && again->address() == key->address());
  }

  // One sui.keystore entry: base64(flag || seed).
  if (auto entry = crypto::Ed25519Keypair::from_keystore_entry(text); entry.ok()) {
    auto again = crypto::Ed25519Keypair::from_keystore_entry(secret_text(entry->keystore_entry()));
    require(again.ok() && again->address() == entry->address() && again->public_key() == entry->public_key());
  }

  if (auto address = crypto::Address::parse(text); address.ok()) {
    auto again = crypto::Address::parse(address->to_hex());
    require(again.ok() && *again == *address);
  }

  if (auto signature = crypto::SerializedSignature::parse(bytes); signature.ok()) {
    require(signature->bytes() == Bytes(bytes.begin(), bytes.end()));
  }
  if (auto signature = crypto::SerializedSignature::parse_base64(text); signature.ok()) {
    auto again = crypto::SerializedSignature::parse_base64(signature->base64());
    require(again.ok() && again->bytes() == signature->bytes());
    // Nothing signed with it: a signature over an unrelated message never verifies.
    require(!crypto::verify_personal_message(as_bytes(std::string_view("k3s-daas fuzz")), signature->bytes()).ok());
  }
  log::clear_registered_secrets();
  return 0;
}
