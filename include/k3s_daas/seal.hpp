#pragma once
// The seal token (protocol.md section 2): the worker's signed statement that binds its node to
// its stake, presented to the master instead of a k3s join token.
// `sealv1.` + base64url(BCS SealTokenV1) + `.` + base64url(Sui personal-message signature).
// Owns: the token's bytes, issuing (with the staker's key), every verification rule, and the
// on-chain StakeRecord check through the Sui chain client. Must never: log a token, put one into
// an error message, or accept a token on a rule it could not check (a chain error is an error,
// never a pass).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "k3s_daas/crypto.hpp"
#include "k3s_daas/encoding.hpp"
#include "k3s_daas/result.hpp"

namespace k3s_daas::sui {
class ChainClient;
struct StakeRecord;
}

namespace k3s_daas::seal {

inline constexpr std::string_view kPrefix = "sealv1.";
inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kNonceBytes = 16;
inline constexpr std::int64_t kMaxFutureIssueMs = 60'000;
inline constexpr std::int64_t kMaxLifetimeMs = 24ll * 3600 * 1000;
inline constexpr std::size_t kMaxTokenChars = 4096;

// The BCS payload, fields in wire order.
struct SealTokenV1 {
  std::uint8_t version = kVersion;
  std::string node_id;
  crypto::Address staker;
  crypto::Address stake_id;
  Bytes audience;  // the master enclave's Ed25519 key, or empty
  std::uint64_t issued_at_ms = 0;
  std::uint64_t expires_at_ms = 0;
  Bytes nonce;     // 16 random bytes

  Bytes encode() const;
  // Strict BCS decode: canonical lengths, UTF-8 node_id, nothing left over.
  static Result<SealTokenV1> decode(ByteView bytes);

  // The agent renews at two thirds of the lifetime.
  std::int64_t renew_at_ms() const;
  bool needs_renewal(std::int64_t now_ms) const { return now_ms >= renew_at_ms(); }
};

struct IssueOptions {
  std::string node_id;
  crypto::Address stake_id;
  Bytes audience;                       // empty before the enclave key is known
  std::chrono::seconds ttl{3600};       // master.seal_token_ttl_s; at most 24 h
  std::int64_t now_ms = 0;              // 0 = the real clock
};

struct Token {
  std::string text;  // sealv1....; a secret once issued
  SealTokenV1 payload;
  Bytes signature;   // 0x00 || sig || pk
};

// Signs a fresh token with the staker's key (its address becomes `staker`). The text is
// registered with the logger as a secret.
Result<Token> issue(const crypto::Ed25519Keypair& key, const IssueOptions& options);
// Splits and decodes a token (prefix, parts, BCS); nothing is verified.
Result<Token> decode(std::string_view text);

// Why a token was refused; the names match the master stand-in's reasons.
enum class Reason {
  kPrefix, kEncoding, kPayload, kVersion, kSignatureEncoding, kSignature, kStakerMismatch,
  kIssuedInFuture, kExpired, kWindow, kLifetime, kAudience, kNodeId, kNonce,
  kStakeNotFound, kStakeWrongType, kStakeStaker, kStakeNodeId, kStakeNotActive, kStakeBelowMinimum,
};
const char* reason_name(Reason reason);

struct VerifyOptions {
  std::int64_t now_ms = 0;                  // 0 = the real clock
  std::optional<Bytes> own_key;             // when set, a non-empty audience must equal it
  std::optional<std::string> expect_node_id;
};

// Every off-chain rule of section 2. The error (kVerify, or kUsage for a malformed string)
// names the rule: "seal token rejected (expired): ...".
Result<Token> verify(std::string_view text, const VerifyOptions& options, Reason* why = nullptr);

// The on-chain part: the StakeRecord `stake_id` exists, has the package's StakeRecord type,
// that staker and node_id, status ACTIVE and amount >= min_stake.
struct ChainCheckOptions {
  std::string package_id;  // 0x... staking package
  std::string module = "staking";
  std::uint64_t min_stake_mist = 0;
};
// The record as read (sui::StakeRecord, the staking client's type). Chain or transport failures
// come back as their own errors (never as a rejection).
Result<sui::StakeRecord> check_stake(sui::ChainClient& chain, const SealTokenV1& token, const ChainCheckOptions& options,
                                     Reason* why = nullptr);

}  // namespace k3s_daas::seal
