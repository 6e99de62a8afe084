// Ed25519 key pairs, addresses, intent digests and Sui signatures.
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "k3s_daas/crypto.hpp"

namespace k3s_daas::crypto {
namespace {

const char* scheme_name(std::uint8_t flag) {
  switch (flag) {
    case 0x00: return "Ed25519";
    case 0x01: return "Secp256k1";
    case 0x02: return "Secp256r1";
    case 0x03: return "MultiSig";
    case 0x05: return "ZkLogin";
    case 0x06: return "Passkey";
    default: return "unknown";
  }
}

}  // namespace

Status init() {
  static std::once_flag once;
  static int rc = -1;
  std::call_once(once, [] { rc = sodium_init(); });
  if (rc < 0) return make_error(ErrorKind::kInternal, "libsodium failed to initialize");
  return {};
}

Result<Address> Address::parse(std::string_view text) {
  std::string_view digits = text;
  if (digits.size() >= 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) digits.remove_prefix(2);
  auto bad = [&](const std::string& why) {
    return make_error(ErrorKind::kUsage, "'" + std::string(text.substr(0, 80)) + "' is not a Sui address: " + why);
  };
  if (digits.empty()) return bad("no hex digits");
  if (digits.size() > 64) return bad("more than 64 hex digits");
  for (char c : digits) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return bad("it contains a non-hex character");
  }
  std::string padded(64 - digits.size(), '0');
  padded.append(digits);
  auto bytes = hex_decode(padded);
  if (!bytes || bytes->size() != 32) return bad("invalid hex");
  return from_bytes(*bytes);
}

Address Address::from_bytes(ByteView bytes) {
  assert(bytes.size() == 32);
  Address out;
  std::copy_n(bytes.begin(), 32, out.bytes.begin());
  return out;
}

std::string Address::to_hex() const { return "0x" + hex_encode(view()); }

Digest blake2b256(std::initializer_list<ByteView> parts) {
  (void)init();
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, kDigestSize);
  for (const auto& part : parts) crypto_generichash_update(&state, part.data(), part.size());
  Digest out{};
  crypto_generichash_final(&state, out.data(), out.size());
  return out;
}

Address address_of(const PublicKey& public_key) {
  const std::uint8_t flag = kEd25519Flag;
  Digest digest = blake2b256({ByteView(&flag, 1), ByteView(public_key.data(), public_key.size())});
  return Address::from_bytes(digest);
}

bool ed25519_verify(ByteView public_key, ByteView message, ByteView signature) {
  if (!init().ok()) return false;
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), public_key.data()) == 0;
}

Digest intent_digest(IntentScope scope, ByteView payload) {
  const std::uint8_t intent[3] = {static_cast<std::uint8_t>(scope), 0, 0};
  return blake2b256({ByteView(intent, 3), payload});
}

Digest personal_message_digest(ByteView message) {
  // BCS(vector<u8>): ULEB128 length, then the bytes.
  std::uint8_t prefix[10];
  std::size_t n = 0;
  std::uint64_t len = message.size();
  do {
    std::uint8_t byte = len & 0x7f;
    len >>= 7;
    if (len != 0) byte |= 0x80;
    prefix[n++] = byte;
  } while (len != 0);
  const std::uint8_t intent[3] = {static_cast<std::uint8_t>(IntentScope::kPersonalMessage), 0, 0};
  return blake2b256({ByteView(intent, 3), ByteView(prefix, n), message});
}

Result<SerializedSignature> SerializedSignature::parse(ByteView bytes) {
  if (bytes.empty()) return make_error(ErrorKind::kVerify, "signature: empty");
  if (bytes[0] != kEd25519Flag) {
    return make_error(ErrorKind::kVerify, std::string("signature: scheme ") + scheme_name(bytes[0]) + " (flag 0x" +
                                              hex_encode(bytes.first(1)) + ") is not supported; expected Ed25519");
  }
  if (bytes.size() != kSerializedSignatureSize) {
    return make_error(ErrorKind::kVerify, "signature: " + std::to_string(bytes.size()) +
                                              " bytes, an Ed25519 signature is 97 (flag, signature, public key)");
  }
  SerializedSignature out;
  out.flag = bytes[0];
  std::copy_n(bytes.begin() + 1, kSignatureSize, out.signature.begin());
  std::copy_n(bytes.begin() + 1 + kSignatureSize, kPublicKeySize, out.public_key.begin());
  return out;
}

Result<SerializedSignature> SerializedSignature::parse_base64(std::string_view text) {
  auto bytes = base64_decode(text);
  if (!bytes) return make_error(ErrorKind::kVerify, "signature: not valid base64");
  return parse(*bytes);
}

Bytes SerializedSignature::bytes() const {
  Bytes out;
  out.reserve(kSerializedSignatureSize);
  out.push_back(flag);
  out.insert(out.end(), signature.begin(), signature.end());
  out.insert(out.end(), public_key.begin(), public_key.end());
  return out;
}

namespace {
Result<Address> verify_digest(const Digest& digest, ByteView serialized, const char* what) {
  K3S_ASSIGN(SerializedSignature sig, SerializedSignature::parse(serialized));
  if (!ed25519_verify(sig.public_key, digest, sig.signature)) {
    return make_error(ErrorKind::kVerify, std::string(what) + ": the signature does not verify");
  }
  return sig.signer();
}
}  // namespace

Result<Address> verify_personal_message(ByteView message, ByteView serialized_signature) {
  return verify_digest(personal_message_digest(message), serialized_signature, "personal message");
}

Result<Address> verify_personal_message(ByteView message, std::string_view serialized_signature_b64) {
  auto bytes = base64_decode(serialized_signature_b64);
  if (!bytes) return make_error(ErrorKind::kVerify, "personal message: the signature is not valid base64");
  return verify_personal_message(message, *bytes);
}

Result<Address> verify_transaction_signature(ByteView tx_bytes, ByteView serialized_signature) {
  return verify_digest(intent_digest(IntentScope::kTransactionData, tx_bytes), serialized_signature, "transaction");
}

// ---- Ed25519Keypair ----

Result<Ed25519Keypair> Ed25519Keypair::from_seed(ByteView seed) {
  K3S_TRY(init());
  if (seed.size() != kSeedSize) {
    return make_error(ErrorKind::kUsage, "Ed25519 secret key: " + std::to_string(seed.size()) + " bytes, expected 32");
  }
  Ed25519Keypair out;
  out.secret_key_ = SecretBytes(crypto_sign_SECRETKEYBYTES);
  {
    SecretBytes::Writer writer(out.secret_key_);
    crypto_sign_seed_keypair(out.public_key_.data(), writer.data(), seed.data());
  }
  out.address_ = address_of(out.public_key_);
  return out;
}

Result<Ed25519Keypair> Ed25519Keypair::generate() {
  K3S_TRY(init());
  SecretBytes seed(kSeedSize);
  {
    SecretBytes::Writer writer(seed);
    randombytes_buf(writer.data(), writer.size());
  }
  SecretBytes::Reader reader(seed);
  return from_seed(reader.view());
}

Result<Ed25519Keypair> Ed25519Keypair::from_suiprivkey(std::string_view text) {
  K3S_ASSIGN(SecretBytes seed, decode_suiprivkey(text));
  SecretBytes::Reader reader(seed);
  return from_seed(reader.view());
}

Result<Ed25519Keypair> Ed25519Keypair::from_keystore_entry(std::string_view base64_entry) {
  K3S_TRY(init());
  // Decode straight into secret memory (sodium's decoder writes into our buffer).
  SecretBytes raw(64);
  std::size_t len = 0;
  int rc;
  {
    SecretBytes::Writer writer(raw);
    rc = sodium_base642bin(writer.data(), writer.size(), base64_entry.data(), base64_entry.size(), " \t\r\n", &len,
                           nullptr, sodium_base64_VARIANT_ORIGINAL);
  }
  if (rc != 0) return make_error(ErrorKind::kUsage, "keystore entry: not valid base64");
  SecretBytes::Reader reader(raw);
  if (len != 1 + kSeedSize) {
    return make_error(ErrorKind::kUsage, "keystore entry: " + std::to_string(len) + " bytes, expected 33 (flag and secret key)");
  }
  if (reader.data()[0] != kEd25519Flag) {
    return make_error(ErrorKind::kUnsupported, std::string("keystore entry: scheme ") + scheme_name(reader.data()[0]) +
                                                   " is not supported; only Ed25519 keys can be used");
  }
  return from_seed(reader.view().subspan(1, kSeedSize));
}

Signature Ed25519Keypair::sign(ByteView message) const {
  Signature out{};
  SecretBytes::Reader reader(secret_key_);
  crypto_sign_detached(out.data(), nullptr, message.data(), message.size(), reader.data());
  return out;
}

SerializedSignature Ed25519Keypair::sign_digest(const Digest& digest) const {
  SerializedSignature out;
  out.flag = kEd25519Flag;
  out.signature = sign(digest);
  out.public_key = public_key_;
  return out;
}

Bytes Ed25519Keypair::sign_personal_message(ByteView message) const {
  return sign_digest(personal_message_digest(message)).bytes();
}

Bytes Ed25519Keypair::sign_transaction(ByteView tx_bytes) const {
  return sign_digest(intent_digest(IntentScope::kTransactionData, tx_bytes)).bytes();
}

namespace {
SecretBytes to_secret(std::string& text) {
  SecretBytes out(text.size());
  {
    SecretBytes::Writer writer(out);
    std::copy(text.begin(), text.end(), writer.data());
  }
  sodium_memzero(text.data(), text.size());
  return out;
}
}  // namespace

SecretBytes Ed25519Keypair::suiprivkey() const {
  std::uint8_t payload[1 + kSeedSize];
  payload[0] = kEd25519Flag;
  {
    SecretBytes::Reader reader(secret_key_);
    std::copy_n(reader.data(), kSeedSize, payload + 1);  // libsodium's secret key starts with the seed
  }
  std::string text = bech32_encode(kSuiPrivateKeyHrp, ByteView(payload, sizeof payload));
  sodium_memzero(payload, sizeof payload);
  return to_secret(text);
}

SecretBytes Ed25519Keypair::keystore_entry() const {
  std::uint8_t payload[1 + kSeedSize];
  payload[0] = kEd25519Flag;
  {
    SecretBytes::Reader reader(secret_key_);
    std::copy_n(reader.data(), kSeedSize, payload + 1);
  }
  char encoded[sodium_base64_ENCODED_LEN(1 + kSeedSize, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(encoded, sizeof encoded, payload, sizeof payload, sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(payload, sizeof payload);
  std::string text(encoded);
  sodium_memzero(encoded, sizeof encoded);
  return to_secret(text);
}

}  // namespace k3s_daas::crypto
