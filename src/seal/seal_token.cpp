// Seal tokens: BCS payload, Sui personal-message signature, the sealv1. string, every rule.
#include <sodium.h>

#include <algorithm>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/seal.hpp"
#include "k3s_daas/sui_bcs.hpp"
#include "rejected.hpp"

namespace k3s_daas::seal {

Error detail::rejected(Reason* why, Reason reason, const std::string& detail) {
  if (why != nullptr) *why = reason;
  return make_error(ErrorKind::kVerify, std::string("seal token rejected (") + reason_name(reason) + ")" +
                                            (detail.empty() ? "" : ": " + detail));
}

namespace {

using detail::rejected;

// base64url without padding, canonical (re-encodes to the same text).
std::optional<Bytes> strict_base64url(std::string_view part) {
  if (part.empty()) return std::nullopt;
  for (char c : part) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return std::nullopt;
  }
  auto bytes = base64url_decode(part);
  if (!bytes || base64url_encode(*bytes) != part) return std::nullopt;
  return bytes;
}

std::string format_ms(std::int64_t ms) { return std::to_string(ms) + " ms"; }

// Prefix, the two parts, and the BCS payload; nothing verified.
Result<Token> decode_parts(std::string_view text, Reason* why) {
  if (text.size() > kMaxTokenChars) {
    return rejected(why, Reason::kEncoding, "longer than " + std::to_string(kMaxTokenChars) + " characters");
  }
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    return rejected(why, Reason::kPrefix, "a seal token starts with \"sealv1.\"");
  }
  std::string_view rest = text.substr(kPrefix.size());
  auto dot = rest.find('.');
  if (dot == std::string_view::npos || rest.find('.', dot + 1) != std::string_view::npos) {
    return rejected(why, Reason::kEncoding, "expected sealv1.<payload>.<signature>");
  }
  auto payload = strict_base64url(rest.substr(0, dot));
  auto signature = strict_base64url(rest.substr(dot + 1));
  if (!payload || !signature) return rejected(why, Reason::kEncoding, "the parts must be base64url without padding");
  auto decoded = SealTokenV1::decode(*payload);
  if (!decoded.ok()) {
    return rejected(why, Reason::kPayload, "the payload is not BCS SealTokenV1 (" + decoded.error().message + ")");
  }
  Token token;
  token.text = std::string(text);
  token.payload = std::move(decoded).value();
  token.signature = std::move(*signature);
  return token;
}

}  // namespace

const char* reason_name(Reason reason) {
  switch (reason) {
    case Reason::kPrefix: return "bad_prefix";
    case Reason::kEncoding: return "bad_encoding";
    case Reason::kPayload: return "bad_payload";
    case Reason::kVersion: return "bad_version";
    case Reason::kSignatureEncoding: return "bad_signature_encoding";
    case Reason::kSignature: return "bad_signature";
    case Reason::kStakerMismatch: return "staker_mismatch";
    case Reason::kIssuedInFuture: return "issued_in_future";
    case Reason::kExpired: return "expired";
    case Reason::kWindow: return "expires_before_issued";
    case Reason::kLifetime: return "lifetime_too_long";
    case Reason::kAudience: return "wrong_audience";
    case Reason::kNodeId: return "node_id_mismatch";
    case Reason::kNonce: return "bad_nonce_length";
    case Reason::kStakeNotFound: return "stake_not_found";
    case Reason::kStakeWrongType: return "stake_wrong_type";
    case Reason::kStakeStaker: return "stake_staker_mismatch";
    case Reason::kStakeNodeId: return "stake_node_id_mismatch";
    case Reason::kStakeNotActive: return "stake_not_active";
    case Reason::kStakeBelowMinimum: return "stake_below_minimum";
  }
  return "unknown";
}

Bytes SealTokenV1::encode() const {
  sui::bcs::Writer writer;
  writer.u8(version)
      .string(node_id)
      .address(staker)
      .address(stake_id)
      .bytes(audience)
      .u64(issued_at_ms)
      .u64(expires_at_ms)
      .bytes(nonce);
  return std::move(writer).data();
}

Result<SealTokenV1> SealTokenV1::decode(ByteView bytes) {
  sui::bcs::Reader reader(bytes);
  SealTokenV1 token;
  token.version = reader.u8();
  token.node_id = reader.string();
  token.staker = reader.address();
  token.stake_id = reader.address();
  token.audience = reader.bytes();
  token.issued_at_ms = reader.u64();
  token.expires_at_ms = reader.u64();
  token.nonce = reader.bytes();
  auto done = reader.finish("SealTokenV1");
  if (!done.ok()) return make_error(ErrorKind::kVerify, done.error().message);
  return token;
}

std::int64_t SealTokenV1::renew_at_ms() const {
  const auto issued = static_cast<std::int64_t>(std::min<std::uint64_t>(issued_at_ms, INT64_MAX / 4));
  const auto expires = static_cast<std::int64_t>(std::min<std::uint64_t>(expires_at_ms, INT64_MAX / 4));
  if (expires <= issued) return issued;
  return issued + (expires - issued) * 2 / 3;
}

Result<Token> issue(const crypto::Ed25519Keypair& key, const IssueOptions& options) {
  if (options.node_id.empty()) return make_error(ErrorKind::kConfig, "seal token: node_id is empty");
  if (options.ttl.count() <= 0 || options.ttl.count() * 1000 > kMaxLifetimeMs) {
    return make_error(ErrorKind::kConfig, "master.seal_token_ttl_s: the lifetime must be 1 s .. 24 h, found " +
                                              std::to_string(options.ttl.count()) + " s");
  }
  if (!options.audience.empty() && options.audience.size() != crypto::kPublicKeySize) {
    return make_error(ErrorKind::kUsage, "seal token: the audience must be the enclave's 32-byte Ed25519 key");
  }
  K3S_TRY(crypto::init());
  Token token;
  SealTokenV1& p = token.payload;
  p.node_id = options.node_id;
  p.staker = key.address();
  p.stake_id = options.stake_id;
  p.audience = options.audience;
  const std::int64_t now = options.now_ms != 0 ? options.now_ms : now_unix_ms();
  p.issued_at_ms = static_cast<std::uint64_t>(now);
  p.expires_at_ms = p.issued_at_ms + static_cast<std::uint64_t>(options.ttl.count()) * 1000;
  p.nonce.resize(kNonceBytes);
  randombytes_buf(p.nonce.data(), p.nonce.size());
  Bytes payload = p.encode();
  token.signature = key.sign_personal_message(payload);
  token.text = std::string(kPrefix) + base64url_encode(payload) + "." + base64url_encode(token.signature);
  log::register_secret(token.text, "seal-token");
  return token;
}

Result<Token> decode(std::string_view text) { return decode_parts(text, nullptr); }

Result<Token> verify(std::string_view text, const VerifyOptions& options, Reason* why) {
  K3S_ASSIGN(Token token, decode_parts(text, why));
  const SealTokenV1& p = token.payload;
  if (p.version != kVersion) return rejected(why, Reason::kVersion, "version " + std::to_string(p.version) + ", expected 1");
  if (token.signature.size() != crypto::kSerializedSignatureSize || token.signature[0] != crypto::kEd25519Flag) {
    return rejected(why, Reason::kSignatureEncoding,
                    "expected 97 bytes 0x00 || signature || public key (Ed25519), found " +
                        std::to_string(token.signature.size()) + " bytes");
  }
  auto signer = crypto::verify_personal_message(token.payload.encode(), token.signature);
  if (!signer.ok()) return rejected(why, Reason::kSignature, "the personal-message signature does not verify");
  if (signer.value() != p.staker) {
    return rejected(why, Reason::kStakerMismatch,
                    "signed by " + signer.value().to_hex() + ", but the staker is " + p.staker.to_hex());
  }
  const std::int64_t now = options.now_ms != 0 ? options.now_ms : now_unix_ms();
  const auto issued = static_cast<std::int64_t>(std::min<std::uint64_t>(p.issued_at_ms, INT64_MAX / 4));
  const auto expires = static_cast<std::int64_t>(std::min<std::uint64_t>(p.expires_at_ms, INT64_MAX / 4));
  if (issued > now + kMaxFutureIssueMs) {
    return rejected(why, Reason::kIssuedInFuture, "issued " + format_ms(issued - now) + " in the future (at most 60 s)");
  }
  if (expires <= now) return rejected(why, Reason::kExpired, "expired " + format_ms(now - expires) + " ago");
  if (expires <= issued) return rejected(why, Reason::kWindow, "expires before it was issued");
  if (expires - issued > kMaxLifetimeMs) return rejected(why, Reason::kLifetime, "expires more than 24 h after issue");
  if (options.own_key && !p.audience.empty() && p.audience != *options.own_key) {
    return rejected(why, Reason::kAudience, "the token is meant for another master (audience " + hex_encode(p.audience) + ")");
  }
  if (options.expect_node_id && p.node_id != *options.expect_node_id) {
    return rejected(why, Reason::kNodeId, "the token is for node \"" + p.node_id + "\"");
  }
  if (p.nonce.size() != kNonceBytes) {
    return rejected(why, Reason::kNonce, "nonce of " + std::to_string(p.nonce.size()) + " bytes, expected 16");
  }
  return token;
}

}  // namespace k3s_daas::seal
