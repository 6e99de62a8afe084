#pragma once
// AWS Nitro Enclaves attestation documents (protocol.md section 3): parsing a COSE_Sign1 document
// (libcbor) and judging it (OpenSSL 3): structure and size limits, the certificate chain from the
// document's cabundle up to a pinned root, the ES384 signature over the COSE Sig_structure, the
// verification time, PCRs, freshness, nonce and the enclave's Ed25519 public key.
// Owns: the document format and every rule of section 3.2. Must never: accept a document without
// naming the root it chained to, crash or allocate without bound on hostile bytes (documents are
// refused above kMaxDocumentBytes before any parsing), or fetch anything from the network.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "k3s_daas/encoding.hpp"
#include "k3s_daas/result.hpp"

namespace k3s_daas::config {
struct AttestationConfig;
}

namespace k3s_daas::attestation {

// Largest document accepted (real NSM documents are about 4.5 KiB).
inline constexpr std::size_t kMaxDocumentBytes = 16 * 1024;
// Limits of the optional byte fields and of every certificate.
inline constexpr std::size_t kMaxFieldBytes = 1024;
inline constexpr std::size_t kMaxCabundle = 8;
inline constexpr std::size_t kMaxPcrs = 32;
// How far a document's timestamp may lie ahead of the verification time (clock skew).
inline constexpr std::int64_t kMaxFutureSkewMs = 60'000;
// SHA-256 of the DER of the AWS Nitro Enclaves root G1, pinned.
inline constexpr std::string_view kAwsNitroRootG1Sha256 =
    "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b";

// The checks, in the order they run. Every rejection names one.
enum class Check {
  kSize,             // document larger than kMaxDocumentBytes, or empty
  kCbor,             // not well-formed CBOR, or trailing bytes
  kCoseStructure,    // not a COSE_Sign1 [protected bstr, unprotected map, payload bstr, signature bstr]
  kProtectedHeader,  // protected header is not exactly {1: -35} (ES384)
  kSignatureLength,  // signature is not 96 bytes (P-384 r || s)
  kPayload,          // a payload field is missing, of the wrong type or too large
  kRootPin,          // cabundle[0] is not the pinned root
  kChain,            // certificate chain does not verify at the document's timestamp
  kCoseSignature,    // ES384 signature over the Sig_structure does not verify
  kExpired,          // a certificate is expired (or not yet valid) at the verification time
  kTimestamp,        // document timestamp lies in the future of the verification time
  kFreshness,        // document older than max_age
  kDebugMode,        // PCR0, PCR1 and PCR2 all zero while debug enclaves are not allowed
  kPcrs,             // a configured PCR differs
  kNonce,            // the document's nonce differs from the one sent
  kPublicKey,        // no 32-byte Ed25519 public_key (trusting a master)
};
const char* check_name(Check check);

// The fields of a parsed document. Byte fields are exactly as in the document.
struct Document {
  bool tagged = false;  // wrapped in CBOR tag 18
  std::string module_id;
  std::string digest;
  std::uint64_t timestamp_ms = 0;
  std::map<std::uint32_t, Bytes> pcrs;
  Bytes certificate;            // DER of the signing (leaf) certificate
  std::vector<Bytes> cabundle;  // DER, root first
  std::optional<Bytes> public_key;
  std::optional<Bytes> user_data;
  std::optional<Bytes> nonce;
  // The COSE pieces the signature covers.
  Bytes protected_header;
  Bytes payload;
  Bytes signature;

  // PCR0, PCR1 and PCR2 present and all zero (an enclave started in debug mode).
  bool debug_mode() const;
};

// What a document must satisfy besides its signature and chain.
struct Policy {
  std::int64_t now_ms = 0;                  // verification time (Unix ms); 0 = the real clock
  std::optional<std::uint64_t> max_age_ms;  // refuse documents older than this
  std::map<std::uint32_t, Bytes> expected_pcrs;
  bool allow_debug = false;                 // accept all-zero PCR0/1/2
  std::optional<Bytes> expected_nonce;      // when the document carries a nonce, it must equal this
  bool require_nonce = false;               // with expected_nonce: a document without a nonce is refused
  bool require_enclave_key = false;         // public_key must be a 32-byte Ed25519 key
};

// Structural parse only (checks kSize .. kPayload). Nothing is verified.
Result<Document> parse(ByteView cose);

// A document given as raw CBOR, hex, base64 (standard or URL-safe) or the master's JSON answer
// {"attestation": "<hex>"}: detected from its content.
Result<Bytes> decode_document_text(std::string_view content);

// Parses "N=HEX" (PCR index 0..31, 32/48/64 bytes) as given to `attest --pcr`.
Result<std::pair<std::uint32_t, Bytes>> parse_pcr_arg(std::string_view arg);

// The PCRs, max_age, debug permission and nonce rule of an `attestation` config section.
Result<Policy> policy_from_config(const config::AttestationConfig& config);

// Verifies documents against one trusted root (the pinned AWS root or a configured one).
class Verifier {
 public:
  // The AWS Nitro Enclaves root G1 embedded in the binary; fails (kInternal) if its SHA-256
  // does not match kAwsNitroRootG1Sha256.
  static Result<Verifier> aws_root();
  // A root given as PEM (tests: a test CA; `master.attestation.root_ca_file`).
  static Result<Verifier> from_root_pem(std::string_view pem, const std::string& source_name = "root certificate");
  static Result<Verifier> from_root_file(const std::filesystem::path& path);
  // `root_ca_file` when set, else the AWS root.
  static Result<Verifier> from_config(const config::AttestationConfig& config);

  Verifier(Verifier&&) noexcept;
  Verifier& operator=(Verifier&&) noexcept;
  ~Verifier();

  // Runs every check; the error message names the failed check
  // ("attestation check 'chain' failed: ..."), also stored in *failed when given.
  Result<Document> verify(ByteView cose, const Policy& policy, Check* failed = nullptr) const;

  // Hex SHA-256 of the trusted root's DER, and its subject.
  const std::string& root_sha256() const;
  const std::string& root_subject() const;
  bool is_aws_root() const;

 private:
  struct Impl;
  explicit Verifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The PEM of the AWS Nitro Enclaves root G1 (public certificate).
std::string_view aws_root_pem();

// A short text of a certificate for reports: subject and validity.
struct CertificateInfo {
  std::string subject;
  std::string not_before;  // ISO 8601 UTC
  std::string not_after;
};
Result<CertificateInfo> describe_certificate(ByteView der);

}  // namespace k3s_daas::attestation
