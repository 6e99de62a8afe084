#pragma once
// Sui keys and signatures (libsodium): Ed25519 key pairs, Sui addresses, the `suiprivkey1...`
// Bech32 form, sui.keystore entries, intent-prefixed signing (transactions, personal messages)
// and their verification.
// Owns: every byte of secret key material, held only in sodium-allocated, mlock'd, guarded
// memory that is wiped on release. Must never: put secret bytes into an Error, a log line or a
// std::string that outlives its use; load a key file that others can read.

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "k3s_daas/encoding.hpp"
#include "k3s_daas/result.hpp"

namespace k3s_daas::crypto {

inline constexpr std::size_t kSeedSize = 32;
inline constexpr std::size_t kPublicKeySize = 32;
inline constexpr std::size_t kSignatureSize = 64;
inline constexpr std::size_t kDigestSize = 32;
// Sui signature scheme flag of Ed25519 (the first byte of serialized signatures, keystore
// entries and suiprivkey payloads).
inline constexpr std::uint8_t kEd25519Flag = 0x00;
// flag || signature || public key
inline constexpr std::size_t kSerializedSignatureSize = 1 + kSignatureSize + kPublicKeySize;
inline constexpr std::string_view kSuiPrivateKeyHrp = "suiprivkey";

using Digest = std::array<std::uint8_t, kDigestSize>;
using PublicKey = std::array<std::uint8_t, kPublicKeySize>;
using Signature = std::array<std::uint8_t, kSignatureSize>;

// Initializes libsodium (idempotent, thread-safe). Every entry point of this component calls it;
// it is public so that a process can fail early when the library cannot start.
Status init();

// A 32-byte Sui address or object id.
struct Address {
  std::array<std::uint8_t, 32> bytes{};

  // Accepts 0x-prefixed hex of 1..64 digits (short forms such as 0x2 are left-padded with
  // zeros, as Sui does); upper or lower case.
  static Result<Address> parse(std::string_view text);
  static Address from_bytes(ByteView bytes);  // bytes.size() must be 32
  std::string to_hex() const;                 // "0x" + 64 lower-case hex digits
  ByteView view() const { return {bytes.data(), bytes.size()}; }
  bool operator==(const Address&) const = default;
  auto operator<=>(const Address&) const = default;
};

// BLAKE2b with a 32-byte output over the concatenation of the parts.
Digest blake2b256(std::initializer_list<ByteView> parts);
inline Digest blake2b256(ByteView data) { return blake2b256({data}); }

// The Sui address of an Ed25519 public key: BLAKE2b-256(0x00 || public key).
Address address_of(const PublicKey& public_key);

// Plain Ed25519 (RFC 8032) verification; false on any size mismatch.
bool ed25519_verify(ByteView public_key, ByteView message, ByteView signature);

// Intent scopes used by this project (Sui's IntentScope; version 0, app id 0 (Sui)).
enum class IntentScope : std::uint8_t { kTransactionData = 0, kPersonalMessage = 3 };

// BLAKE2b-256(intent || payload): what Sui signs. For personal messages `payload` must already
// be BCS(vector<u8> message) (see personal_message_digest).
Digest intent_digest(IntentScope scope, ByteView payload);
Digest personal_message_digest(ByteView message);

// Secret bytes in sodium_malloc'd memory: guard pages, mlock'd, no access except while a
// Reader is alive, wiped by sodium_free. Not copyable; movable.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size);  // throws std::bad_alloc when sodium_malloc fails
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Read access for the Reader's lifetime (nested and concurrent readers are fine).
  class Reader {
   public:
    explicit Reader(const SecretBytes& secret);
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    const std::uint8_t* data() const { return secret_.data_; }
    std::size_t size() const { return secret_.size_; }
    ByteView view() const { return {data(), size()}; }

   private:
    const SecretBytes& secret_;
  };
  // Write access for the Writer's lifetime (exclusive; for filling a fresh buffer).
  class Writer {
   public:
    explicit Writer(SecretBytes& secret);
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    std::uint8_t* data() const { return secret_.data_; }
    std::size_t size() const { return secret_.size_; }

   private:
    SecretBytes& secret_;
  };

 private:
  void release();
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::unique_ptr<std::mutex> mutex_;  // on the heap so that the object stays movable
  mutable int readers_ = 0;
};

// A serialized Sui signature: flag || signature || public key.
struct SerializedSignature {
  std::uint8_t flag = kEd25519Flag;
  Signature signature{};
  PublicKey public_key{};

  // Only Ed25519 (flag 0x00) is supported; other schemes are refused with their name.
  static Result<SerializedSignature> parse(ByteView bytes);
  static Result<SerializedSignature> parse_base64(std::string_view text);
  Bytes bytes() const;
  std::string base64() const { return base64_encode(bytes()); }
  Address signer() const { return address_of(public_key); }
};

// Verifies a personal-message signature as Sui's verifyPersonalMessageSignature does and
// returns the signer's address; kVerify when it does not verify.
Result<Address> verify_personal_message(ByteView message, ByteView serialized_signature);
Result<Address> verify_personal_message(ByteView message, std::string_view serialized_signature_b64);
// Verifies a transaction signature over BCS TransactionData bytes; returns the signer.
Result<Address> verify_transaction_signature(ByteView tx_bytes, ByteView serialized_signature);

class Ed25519Keypair {
 public:
  // From a 32-byte seed (Sui's "secret key" in suiprivkey and keystore entries).
  static Result<Ed25519Keypair> from_seed(ByteView seed);
  static Result<Ed25519Keypair> generate();
  // From "suiprivkey1..." (Bech32, HRP "suiprivkey", payload 0x00 || 32-byte seed).
  static Result<Ed25519Keypair> from_suiprivkey(std::string_view text);
  // From one sui.keystore entry: base64(flag || 32-byte seed).
  static Result<Ed25519Keypair> from_keystore_entry(std::string_view base64_entry);

  const PublicKey& public_key() const { return public_key_; }
  const Address& address() const { return address_; }

  // Raw Ed25519 signature over `message`.
  Signature sign(ByteView message) const;
  // Sui intent signatures, serialized (flag || sig || pk), 97 bytes.
  Bytes sign_personal_message(ByteView message) const;
  Bytes sign_transaction(ByteView tx_bytes) const;
  SerializedSignature sign_digest(const Digest& digest) const;

  // The secret in its exportable forms, inside secret memory (for writing key files only).
  SecretBytes suiprivkey() const;        // "suiprivkey1..." characters
  SecretBytes keystore_entry() const;    // base64(0x00 || seed) characters

 private:
  Ed25519Keypair() = default;
  SecretBytes secret_key_;  // libsodium's 64-byte secret key: seed || public key
  PublicKey public_key_{};
  Address address_{};
};

// ---- Bech32 (BIP-173), used for suiprivkey strings ----
struct Bech32Data {
  std::string hrp;
  std::vector<std::uint8_t> data;  // 8-bit bytes (already converted from 5-bit groups)
};
std::string bech32_encode(std::string_view hrp, ByteView data);
// Errors name what is wrong: mixed case, bad character, missing separator, bad checksum,
// bad padding, over-long string.
Result<Bech32Data> bech32_decode(std::string_view text);
// Decodes a suiprivkey string to its 32-byte seed, held in secret memory; errors name the
// problem (checksum, HRP, scheme flag, length) and never echo the input.
Result<SecretBytes> decode_suiprivkey(std::string_view text);

// ---- Key files ----
// Reads a key file (one "suiprivkey1..." line); refuses it unless fs::check_secret_file passes.
// Registers the suiprivkey string with the logger's redaction list. `what` names the setting.
Result<Ed25519Keypair> load_key_file(const std::filesystem::path& path, const std::string& what = "sui.key_file");
// Reads a sui.keystore (JSON array of base64(flag || seed)), also a secret file, and returns the
// Ed25519 key whose address is `address`.
Result<Ed25519Keypair> load_keystore(const std::filesystem::path& path, const Address& address,
                                     const std::string& what = "sui.keystore");
// Where the staker's signing key comes from (config::key_source builds it from the config).
struct KeySource {
  std::filesystem::path key_file;       // a key file (sui.key_file), or empty
  std::filesystem::path keystore_path;  // else a sui.keystore (sui.keystore.path) ...
  std::string keystore_address;         // ... and the address of the key in it (0x + hex)
  // systemd's credentials folder ($CREDENTIALS_DIRECTORY), or empty. When it holds a file
  // "sui.key" (LoadCredential=sui.key:...), that key file is used instead of the above.
  std::filesystem::path credentials_dir;
};
inline constexpr const char* kKeyCredentialName = "sui.key";
// The signing key of a source: the systemd credential "sui.key" when there is one, else the
// key file, else the keystore. The credential must be a secret file (fs::check_secret_file)
// and, when it is a symlink, point inside the credentials folder. Logs which file it used,
// never what it holds.
Result<Ed25519Keypair> load_signing_key(const KeySource& source);
// Writes a new key file (one suiprivkey line, mode 0600, fsync'd); refuses to overwrite.
Status write_key_file(const std::filesystem::path& path, const Ed25519Keypair& keypair);

}  // namespace k3s_daas::crypto
