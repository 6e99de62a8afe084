// AWS Nitro attestation documents: parsing (libcbor) and verification (OpenSSL 3).
#include "k3s_daas/attestation.hpp"

#include <cbor.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <set>

#include <nlohmann/json.hpp>

#include "cbor_util.hpp"
#include "k3s_daas/clock.hpp"
#include "k3s_daas/config.hpp"
#include "k3s_daas/fs.hpp"
#include "openssl_util.hpp"

namespace k3s_daas::attestation {

using namespace master_detail;

namespace {

// The AWS Nitro Enclaves root G1 (public), as published by AWS at
// https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip. Its DER hash is pinned
// in kAwsNitroRootG1Sha256 and checked whenever the verifier is created.
constexpr std::string_view kAwsRootPem =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL\n"
    "MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD\n"
    "VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4\n"
    "MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL\n"
    "DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG\n"
    "BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb\n"
    "48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE\n"
    "h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF\n"
    "R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC\n"
    "MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW\n"
    "rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N\n"
    "IwLz3/Y=\n"
    "-----END CERTIFICATE-----\n";

constexpr std::size_t kP384CoordinateBytes = 48;
constexpr unsigned kMaxCborDepth = 8;
constexpr std::size_t kMaxPayloadEntries = 32;
constexpr std::size_t kMaxModuleIdBytes = 256;

Error reject(Check* failed, Check check, const std::string& why) {
  if (failed != nullptr) *failed = check;
  return make_error(ErrorKind::kVerify, std::string("attestation check '") + check_name(check) + "' failed: " + why);
}


Bytes bstr_bytes(const cbor_item_t* item) {
  const unsigned char* data = cbor_bytestring_handle(item);
  return Bytes(data, data + cbor_bytestring_length(item));
}

bool is_definite_bstr(const cbor_item_t* item) {
  return cbor_isa_bytestring(item) && cbor_bytestring_is_definite(item);
}

bool is_null(const cbor_item_t* item) { return cbor_is_null(item); }

// Optional byte field: absent, null, or a bstr of at most kMaxFieldBytes (min_len bytes or more).
Status optional_bytes(const cbor_item_t* value, const char* name, std::size_t min_len, std::optional<Bytes>& out,
                      Check* failed) {
  if (is_null(value)) return {};
  if (!is_definite_bstr(value)) return reject(failed, Check::kPayload, std::string(name) + " is not a byte string or null");
  std::size_t len = cbor_bytestring_length(value);
  if (len < min_len || len > kMaxFieldBytes) {
    return reject(failed, Check::kPayload,
                  std::string(name) + " is " + std::to_string(len) + " bytes (allowed " + std::to_string(min_len) + ".." +
                      std::to_string(kMaxFieldBytes) + ")");
  }
  out = bstr_bytes(value);
  return {};
}

Status certificate_bytes(const cbor_item_t* value, const std::string& name, Bytes& out, Check* failed) {
  if (!is_definite_bstr(value)) return reject(failed, Check::kPayload, name + " is not a byte string");
  std::size_t len = cbor_bytestring_length(value);
  if (len == 0 || len > kMaxFieldBytes) {
    return reject(failed, Check::kPayload,
                  name + " is " + std::to_string(len) + " bytes (allowed 1.." + std::to_string(kMaxFieldBytes) + ")");
  }
  out = bstr_bytes(value);
  return {};
}

Status parse_pcrs(const cbor_item_t* value, Document& doc, Check* failed) {
  if (!cbor_isa_map(value)) return reject(failed, Check::kPayload, "pcrs is not a map");
  std::size_t count = cbor_map_size(value);
  if (count == 0 || count > kMaxPcrs) {
    return reject(failed, Check::kPayload, "pcrs has " + std::to_string(count) + " entries (allowed 1..32)");
  }
  const cbor_pair* pairs = cbor_map_handle(value);
  for (std::size_t i = 0; i < count; ++i) {
    if (!cbor_isa_uint(pairs[i].key) || cbor_get_int(pairs[i].key) >= kMaxPcrs) {
      return reject(failed, Check::kPayload, "pcrs has a key that is not an index 0..31");
    }
    auto index = static_cast<std::uint32_t>(cbor_get_int(pairs[i].key));
    if (!is_definite_bstr(pairs[i].value)) {
      return reject(failed, Check::kPayload, "PCR" + std::to_string(index) + " is not a byte string");
    }
    std::size_t len = cbor_bytestring_length(pairs[i].value);
    if (len != 32 && len != 48 && len != 64) {
      return reject(failed, Check::kPayload,
                    "PCR" + std::to_string(index) + " is " + std::to_string(len) + " bytes (allowed 32, 48 or 64)");
    }
    if (!doc.pcrs.emplace(index, bstr_bytes(pairs[i].value)).second) {
      return reject(failed, Check::kPayload, "PCR" + std::to_string(index) + " appears twice");
    }
  }
  return {};
}

Status parse_payload(Document& doc, Check* failed) {
  auto loaded = load_bounded(doc.payload, kMaxCborDepth);
  if (!loaded.ok()) return reject(failed, Check::kPayload, "payload is not CBOR: " + loaded.error().message);
  const cbor_item_t* map = loaded.value().get();
  if (!cbor_isa_map(map)) return reject(failed, Check::kPayload, "payload is not a map");
  std::size_t count = cbor_map_size(map);
  if (count > kMaxPayloadEntries) return reject(failed, Check::kPayload, "payload has too many entries");
  const cbor_pair* pairs = cbor_map_handle(map);
  std::set<std::string> seen;
  for (std::size_t i = 0; i < count; ++i) {
    const cbor_item_t* key = pairs[i].key;
    const cbor_item_t* value = pairs[i].value;
    if (!cbor_isa_string(key) || !cbor_string_is_definite(key)) {
      return reject(failed, Check::kPayload, "payload has a key that is not a text string");
    }
    std::string name(reinterpret_cast<const char*>(cbor_string_handle(key)), cbor_string_length(key));
    if (!seen.insert(name).second) return reject(failed, Check::kPayload, "payload field " + name + " appears twice");
    if (name == "module_id") {
      if (!cbor_isa_string(value) || !cbor_string_is_definite(value)) {
        return reject(failed, Check::kPayload, "module_id is not a text string");
      }
      std::size_t len = cbor_string_length(value);
      if (len == 0 || len > kMaxModuleIdBytes) return reject(failed, Check::kPayload, "module_id is empty or too long");
      doc.module_id.assign(reinterpret_cast<const char*>(cbor_string_handle(value)), len);
      if (!is_valid_utf8(doc.module_id)) return reject(failed, Check::kPayload, "module_id is not UTF-8");
    } else if (name == "digest") {
      if (!cbor_isa_string(value) || !cbor_string_is_definite(value)) {
        return reject(failed, Check::kPayload, "digest is not a text string");
      }
      doc.digest.assign(reinterpret_cast<const char*>(cbor_string_handle(value)), cbor_string_length(value));
      if (doc.digest != "SHA384") return reject(failed, Check::kPayload, "digest is not \"SHA384\"");
    } else if (name == "timestamp") {
      if (!cbor_isa_uint(value)) return reject(failed, Check::kPayload, "timestamp is not an unsigned integer");
      doc.timestamp_ms = cbor_get_int(value);
      if (doc.timestamp_ms == 0 || doc.timestamp_ms > static_cast<std::uint64_t>(INT64_MAX / 2)) {
        return reject(failed, Check::kPayload, "timestamp is out of range");
      }
    } else if (name == "pcrs") {
      K3S_TRY(parse_pcrs(value, doc, failed));
    } else if (name == "certificate") {
      K3S_TRY(certificate_bytes(value, "certificate", doc.certificate, failed));
    } else if (name == "cabundle") {
      if (!cbor_isa_array(value)) return reject(failed, Check::kPayload, "cabundle is not an array");
      std::size_t n = cbor_array_size(value);
      if (n == 0 || n > kMaxCabundle) {
        return reject(failed, Check::kPayload, "cabundle has " + std::to_string(n) + " certificates (allowed 1..8)");
      }
      cbor_item_t** items = cbor_array_handle(value);
      for (std::size_t j = 0; j < n; ++j) {
        Bytes der;
        K3S_TRY(certificate_bytes(items[j], "cabundle[" + std::to_string(j) + "]", der, failed));
        doc.cabundle.push_back(std::move(der));
      }
    } else if (name == "public_key") {
      K3S_TRY(optional_bytes(value, "public_key", 1, doc.public_key, failed));
    } else if (name == "user_data") {
      K3S_TRY(optional_bytes(value, "user_data", 0, doc.user_data, failed));
    } else if (name == "nonce") {
      K3S_TRY(optional_bytes(value, "nonce", 0, doc.nonce, failed));
    }
    // Other fields are covered by the signature and ignored.
  }
  for (const char* required : {"module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle"}) {
    if (seen.count(required) == 0) return reject(failed, Check::kPayload, std::string("payload has no ") + required);
  }
  return {};
}

Result<Document> parse_impl(ByteView cose, Check* failed) {
  if (cose.empty()) return reject(failed, Check::kSize, "the document is empty");
  if (cose.size() > kMaxDocumentBytes) {
    return reject(failed, Check::kSize,
                  "the document is " + std::to_string(cose.size()) + " bytes, more than the limit of " +
                      std::to_string(kMaxDocumentBytes));
  }
  Document doc;
  // COSE_Sign1 tag 18 in its one-byte form (0xd2): libcbor 0.8 refuses the tag numbers 6..20 in
  // that form as "unassigned", so the tag byte is taken off here and the rest parsed as usual.
  if (cose.front() == 0xd2) {
    doc.tagged = true;
    cose = cose.subspan(1);
    if (cose.empty()) return reject(failed, Check::kCbor, "truncated CBOR: nothing after tag 18");
  }
  auto loaded = load_bounded(cose, kMaxCborDepth);
  if (!loaded.ok()) return reject(failed, Check::kCbor, loaded.error().message);
  const cbor_item_t* top = loaded.value().get();
  CborPtr tag_content;
  if (cbor_isa_tag(top)) {
    if (doc.tagged) return reject(failed, Check::kCoseStructure, "a tag inside tag 18");
    if (cbor_tag_value(top) != 18) {
      return reject(failed, Check::kCoseStructure, "tag " + std::to_string(cbor_tag_value(top)) + " is not COSE_Sign1 (18)");
    }
    tag_content.reset(cbor_tag_item(top));  // a new reference
    top = tag_content.get();
    doc.tagged = true;
  }
  if (!cbor_isa_array(top) || cbor_array_size(top) != 4) {
    return reject(failed, Check::kCoseStructure, "not a COSE_Sign1 array of 4 items");
  }
  cbor_item_t** items = cbor_array_handle(top);
  if (!is_definite_bstr(items[0])) return reject(failed, Check::kCoseStructure, "protected header is not a byte string");
  if (!cbor_isa_map(items[1])) return reject(failed, Check::kCoseStructure, "unprotected header is not a map");
  if (!is_definite_bstr(items[2])) return reject(failed, Check::kCoseStructure, "payload is not a byte string");
  if (!is_definite_bstr(items[3])) return reject(failed, Check::kCoseStructure, "signature is not a byte string");
  doc.protected_header = bstr_bytes(items[0]);
  doc.payload = bstr_bytes(items[2]);
  doc.signature = bstr_bytes(items[3]);

  {
    auto header = load_bounded(doc.protected_header, 2);
    bool es384 = false;
    if (header.ok() && cbor_isa_map(header.value().get()) && cbor_map_size(header.value().get()) == 1) {
      const cbor_pair* pair = cbor_map_handle(header.value().get());
      es384 = cbor_isa_uint(pair->key) && cbor_get_int(pair->key) == 1 && cbor_isa_negint(pair->value) &&
              cbor_get_int(pair->value) == 34;  // -1 - 34 = -35 (ES384)
    }
    if (!es384) return reject(failed, Check::kProtectedHeader, "protected header is not exactly {1: -35} (ES384)");
  }
  if (doc.signature.size() != 2 * kP384CoordinateBytes) {
    return reject(failed, Check::kSignatureLength,
                  "signature is " + std::to_string(doc.signature.size()) + " bytes, expected 96 (P-384 r || s)");
  }
  K3S_TRY(parse_payload(doc, failed));
  return doc;
}

// COSE Sig_structure for COSE_Sign1: ["Signature1", protected, external_aad = b"", payload].
Result<Bytes> sig_structure(const Document& doc) {
  CborPtr array(cbor_new_definite_array(4));
  if (!array) return make_error(ErrorKind::kInternal, "out of memory");
  bool ok = cbor_array_push(array.get(), cbor_move(cbor_build_string("Signature1"))) &&
            cbor_array_push(array.get(), cbor_move(cbor_build_bytestring(doc.protected_header.data(),
                                                                          doc.protected_header.size()))) &&
            cbor_array_push(array.get(), cbor_move(cbor_build_bytestring(nullptr, 0))) &&
            cbor_array_push(array.get(), cbor_move(cbor_build_bytestring(doc.payload.data(), doc.payload.size())));
  if (!ok) return make_error(ErrorKind::kInternal, "out of memory");
  return serialize(array.get());
}

Status verify_cose_signature(const Document& doc, X509* leaf, Check* failed) {
  EVP_PKEY* key = X509_get0_pubkey(leaf);
  char group[64] = {0};
  std::size_t group_len = 0;
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_group_name(key, group, sizeof group, &group_len) != 1 || std::string(group) != "secp384r1") {
    ERR_clear_error();
    return reject(failed, Check::kCoseSignature, "the signing certificate's key is not an EC P-384 key");
  }
  auto to_be_signed = sig_structure(doc);
  if (!to_be_signed.ok()) return to_be_signed.error();

  EcdsaSigPtr sig(ECDSA_SIG_new());
  BignumPtr r(BN_bin2bn(doc.signature.data(), kP384CoordinateBytes, nullptr));
  BignumPtr s(BN_bin2bn(doc.signature.data() + kP384CoordinateBytes, kP384CoordinateBytes, nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    ERR_clear_error();
    return make_error(ErrorKind::kInternal, "out of memory");
  }
  r.release();  // owned by sig now
  s.release();
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) {
    ERR_clear_error();
    return reject(failed, Check::kCoseSignature, "the signature cannot be encoded");
  }
  EvpMdCtxPtr md(EVP_MD_CTX_new());
  int verified = 0;
  if (md && EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha384(), nullptr, key) == 1) {
    verified = EVP_DigestVerify(md.get(), der, static_cast<std::size_t>(der_len), to_be_signed.value().data(),
                                to_be_signed.value().size());
  }
  OPENSSL_free(der);
  ERR_clear_error();
  if (verified != 1) {
    return reject(failed, Check::kCoseSignature,
                  "the ES384 signature over the COSE Sig_structure does not verify with the key of the signing "
                  "certificate");
  }
  return {};
}

bool all_zero(const Bytes& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

std::string trim(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

}  // namespace

const char* check_name(Check check) {
  switch (check) {
    case Check::kSize: return "size";
    case Check::kCbor: return "cbor";
    case Check::kCoseStructure: return "cose_structure";
    case Check::kProtectedHeader: return "protected_header";
    case Check::kSignatureLength: return "signature_length";
    case Check::kPayload: return "payload";
    case Check::kRootPin: return "root";
    case Check::kChain: return "chain";
    case Check::kCoseSignature: return "cose_signature";
    case Check::kExpired: return "expired";
    case Check::kTimestamp: return "timestamp";
    case Check::kFreshness: return "freshness";
    case Check::kDebugMode: return "debug_mode";
    case Check::kPcrs: return "pcrs";
    case Check::kNonce: return "nonce";
    case Check::kPublicKey: return "public_key";
  }
  return "unknown";
}

bool Document::debug_mode() const {
  for (std::uint32_t index : {0u, 1u, 2u}) {
    auto it = pcrs.find(index);
    if (it == pcrs.end() || !all_zero(it->second)) return false;
  }
  return true;
}

std::string_view aws_root_pem() { return kAwsRootPem; }

Result<Document> parse(ByteView cose) { return parse_impl(cose, nullptr); }

Result<Bytes> decode_document_text(std::string_view content) {
  if (content.empty()) return make_error(ErrorKind::kVerify, "the attestation document is empty");
  auto first = static_cast<std::uint8_t>(content.front());
  if (first == 0x84 || first == 0xd2) return Bytes(content.begin(), content.end());  // raw COSE_Sign1 (tagged or not)
  if (content.size() > 4 * kMaxDocumentBytes) {
    return make_error(ErrorKind::kVerify, "the attestation document text is larger than " +
                                              std::to_string(4 * kMaxDocumentBytes) + " bytes");
  }
  std::string text = trim(content);
  if (!text.empty() && text.front() == '{') {
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("attestation") || !doc["attestation"].is_string()) {
      return make_error(ErrorKind::kVerify, "a JSON attestation answer must be {\"attestation\": \"<hex>\"}");
    }
    std::string inner = doc["attestation"].get<std::string>();
    if (inner.empty() || inner.front() == '{') return make_error(ErrorKind::kVerify, "the attestation field is empty");
    return decode_document_text(inner);
  }
  std::string compact;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) compact.push_back(c);
  }
  std::string_view hex_view = compact;
  if (hex_view.rfind("0x", 0) == 0) hex_view.remove_prefix(2);
  bool all_hex = !hex_view.empty() && std::all_of(hex_view.begin(), hex_view.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  });
  if (all_hex) {
    if (auto bytes = hex_decode(hex_view)) return *bytes;
    return make_error(ErrorKind::kVerify, "the attestation document looks like hex but does not decode (odd length?)");
  }
  if (auto bytes = base64_decode(compact)) return *bytes;
  if (auto bytes = base64url_decode(compact)) return *bytes;
  std::string unpadded = compact;
  while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
  if (auto bytes = base64url_decode(unpadded)) return *bytes;
  return make_error(ErrorKind::kVerify, "the attestation document is neither raw CBOR, hex nor base64");
}

Result<std::pair<std::uint32_t, Bytes>> parse_pcr_arg(std::string_view arg) {
  auto eq = arg.find('=');
  auto usage = [&](const std::string& why) {
    return make_error(ErrorKind::kUsage, "--pcr " + std::string(arg) + ": " + why + " (expected N=HEX, e.g. 0=abcd...)");
  };
  if (eq == std::string_view::npos || eq == 0 || eq > 2) return usage("missing index");
  std::uint32_t index = 0;
  for (char c : arg.substr(0, eq)) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return usage("the index is not a number");
    index = index * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (index >= kMaxPcrs) return usage("the index must be 0..31");
  auto bytes = hex_decode(arg.substr(eq + 1));
  if (!bytes || (bytes->size() != 32 && bytes->size() != 48 && bytes->size() != 64)) {
    return usage("the value must be 64, 96 or 128 hex digits");
  }
  return std::make_pair(index, *bytes);
}

Result<Policy> policy_from_config(const config::AttestationConfig& config) {
  Policy policy;
  const std::string* values[] = {&config.pcr0, &config.pcr1, &config.pcr2};
  for (std::uint32_t i = 0; i < 3; ++i) {
    if (values[i]->empty()) continue;
    auto bytes = hex_decode(*values[i]);
    if (!bytes || bytes->size() != 48) {
      return make_error(ErrorKind::kConfig, "master.attestation.pcr" + std::to_string(i) + ": expected 96 hex digits");
    }
    policy.expected_pcrs[i] = *bytes;
  }
  policy.max_age_ms = config.max_age_s * 1000;
  policy.allow_debug = config.allow_debug;
  policy.require_nonce = config.require_nonce;
  return policy;
}

// ---------------------------------------------------------------- Verifier

struct Verifier::Impl {
  X509Ptr root;
  Bytes root_der;
  std::string root_sha256;
  std::string root_subject;
  bool aws = false;
  X509StorePtr store;
};

Verifier::Verifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Verifier::Verifier(Verifier&&) noexcept = default;
Verifier& Verifier::operator=(Verifier&&) noexcept = default;
Verifier::~Verifier() = default;

const std::string& Verifier::root_sha256() const { return impl_->root_sha256; }
const std::string& Verifier::root_subject() const { return impl_->root_subject; }
bool Verifier::is_aws_root() const { return impl_->aws; }

Result<Verifier> Verifier::from_root_pem(std::string_view pem, const std::string& source_name) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr root(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!root) {
    std::string detail = take_openssl_error();
    return make_error(ErrorKind::kConfig, source_name + ": not a PEM certificate" + (detail.empty() ? "" : " (" + detail + ")"));
  }
  if (X509_get0_pubkey(root.get()) == nullptr) {
    ERR_clear_error();
    return make_error(ErrorKind::kConfig, source_name + ": the certificate's public key does not parse");
  }
  auto impl = std::make_unique<Impl>();
  impl->root_der = certificate_der(root.get());
  impl->root_sha256 = hex_encode(sha256(impl->root_der));
  impl->root_subject = certificate_subject(root.get());
  impl->aws = impl->root_sha256 == kAwsNitroRootG1Sha256;
  impl->store.reset(X509_STORE_new());
  if (!impl->store || X509_STORE_add_cert(impl->store.get(), root.get()) != 1) {
    ERR_clear_error();
    return make_error(ErrorKind::kInternal, "cannot build the trust store");
  }
  impl->root = std::move(root);
  return Verifier(std::move(impl));
}

Result<Verifier> Verifier::aws_root() {
  K3S_ASSIGN(Verifier verifier, from_root_pem(kAwsRootPem, "the embedded AWS Nitro root G1"));
  if (verifier.root_sha256() != kAwsNitroRootG1Sha256) {
    return make_error(ErrorKind::kInternal, "the embedded AWS Nitro root G1 has SHA-256 " + verifier.root_sha256() +
                                                ", not the pinned " + std::string(kAwsNitroRootG1Sha256) +
                                                "; this binary is damaged");
  }
  return verifier;
}

Result<Verifier> Verifier::from_root_file(const std::filesystem::path& path) {
  auto text = fs::read_file(path, 1u << 20);
  if (!text.ok()) return make_error(ErrorKind::kConfig, "attestation root " + path.string() + ": " + text.error().message);
  return from_root_pem(text.value(), path.string());
}

Result<Verifier> Verifier::from_config(const config::AttestationConfig& config) {
  if (config.root_ca_file.empty()) return aws_root();
  return from_root_file(config.root_ca_file);
}

Result<Document> Verifier::verify(ByteView cose, const Policy& policy, Check* failed) const {
  K3S_ASSIGN(Document doc, parse_impl(cose, failed));
  const std::int64_t now_ms = policy.now_ms != 0 ? policy.now_ms : now_unix_ms();

  // The root the document names must be ours.
  if (doc.cabundle.front() != impl_->root_der) {
    auto given = parse_der_certificate(doc.cabundle.front());
    return reject(failed, Check::kRootPin,
                  "cabundle[0] (" + (given ? certificate_subject(given.get()) : std::string("unparsable")) + ", sha256 " +
                      hex_encode(sha256(doc.cabundle.front())) + ") is not the trusted root (" + impl_->root_subject +
                      ", sha256 " + impl_->root_sha256 + ")");
  }

  // The chain leaf -> cabundle[n-1] -> ... -> root, each valid at the document's timestamp.
  X509Ptr leaf = parse_der_certificate(doc.certificate);
  if (!leaf) return reject(failed, Check::kChain, "the signing certificate is not DER X.509");
  X509StackPtr untrusted(sk_X509_new_null());
  std::vector<X509Ptr> bundle;
  for (std::size_t i = 1; i < doc.cabundle.size(); ++i) {
    X509Ptr cert = parse_der_certificate(doc.cabundle[i]);
    if (!cert) return reject(failed, Check::kChain, "cabundle[" + std::to_string(i) + "] is not DER X.509");
    if (!untrusted || sk_X509_push(untrusted.get(), cert.get()) == 0) return make_error(ErrorKind::kInternal, "out of memory");
    X509_up_ref(cert.get());
    bundle.push_back(std::move(cert));
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), impl_->store.get(), leaf.get(), untrusted.get()) != 1) {
    ERR_clear_error();
    return make_error(ErrorKind::kInternal, "cannot set up certificate verification");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(doc.timestamp_ms / 1000));  // sets USE_CHECK_TIME
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_USE_CHECK_TIME);
  X509_VERIFY_PARAM_set_depth(param, static_cast<int>(kMaxCabundle));
  int chain_ok = X509_verify_cert(ctx.get());
  if (chain_ok != 1) {
    int code = X509_STORE_CTX_get_error(ctx.get());
    int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    X509* at = X509_STORE_CTX_get_current_cert(ctx.get());
    std::string where = at != nullptr ? certificate_subject(at) : "depth " + std::to_string(depth);
    ERR_clear_error();
    return reject(failed, Check::kChain,
                  std::string(X509_verify_cert_error_string(code)) + " (certificate " + where + ", at the document time " +
                      format_utc_ms(static_cast<std::int64_t>(doc.timestamp_ms)) + ")");
  }
  // X509_verify_cert takes the cabundle as a pool: it would accept certificates out of order or
  // unused. The chain it built must be exactly leaf, cabundle[n-1], ..., cabundle[0], as AWS
  // documents it, and the signing certificate an end entity (NSM leaves are CA:FALSE), never a CA.
  {
    STACK_OF(X509)* built = X509_STORE_CTX_get0_chain(ctx.get());
    const std::size_t n = doc.cabundle.size();
    bool in_order = built != nullptr && static_cast<std::size_t>(sk_X509_num(built)) == n + 1;
    for (std::size_t k = 1; in_order && k <= n; ++k) {
      in_order = certificate_der(sk_X509_value(built, static_cast<int>(k))) == doc.cabundle[n - k];
    }
    if (!in_order) {
      ERR_clear_error();
      return reject(failed, Check::kChain,
                    "the cabundle is not the chain in order (root first, each certificate the issuer of the next, "
                    "the last one the issuer of the signing certificate, none unused)");
    }
    if (X509_check_ca(leaf.get()) != 0) {
      ERR_clear_error();
      return reject(failed, Check::kChain,
                    "the signing certificate " + certificate_subject(leaf.get()) +
                        " is a CA certificate; documents are signed by an end-entity certificate");
    }
  }

  K3S_TRY(verify_cose_signature(doc, leaf.get(), failed));

  // Every certificate must still be valid at the verification time: an expired signing
  // certificate makes the document stale evidence even without a max_age.
  {
    auto now_t = static_cast<time_t>(now_ms / 1000);
    std::vector<X509*> all = {leaf.get()};
    for (auto& cert : bundle) all.push_back(cert.get());
    all.push_back(impl_->root.get());
    for (X509* cert : all) {
      if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(cert), now_t) < 0) {
        return reject(failed, Check::kExpired,
                      "certificate " + certificate_subject(cert) + " expired at " +
                          asn1_time_iso(X509_get0_notAfter(cert)) + ", before the verification time " +
                          format_utc_ms(now_ms) + " (the document is from " +
                          format_utc_ms(static_cast<std::int64_t>(doc.timestamp_ms)) + ")");
      }
      if (ASN1_TIME_cmp_time_t(X509_get0_notBefore(cert), now_t) > 0) {
        return reject(failed, Check::kExpired,
                      "certificate " + certificate_subject(cert) + " is not valid before " +
                          asn1_time_iso(X509_get0_notBefore(cert)) + ", after the verification time " + format_utc_ms(now_ms));
      }
    }
  }
  auto timestamp = static_cast<std::int64_t>(doc.timestamp_ms);
  if (timestamp > now_ms + kMaxFutureSkewMs) {
    return reject(failed, Check::kTimestamp,
                  "the document timestamp " + format_utc_ms(timestamp) + " lies after the verification time " +
                      format_utc_ms(now_ms));
  }
  if (policy.max_age_ms && now_ms - timestamp > static_cast<std::int64_t>(*policy.max_age_ms)) {
    return reject(failed, Check::kFreshness,
                  "the document is " + std::to_string((now_ms - timestamp) / 1000) + " s old (from " +
                      format_utc_ms(timestamp) + "), more than max_age " + std::to_string(*policy.max_age_ms / 1000) + " s");
  }
  if (doc.debug_mode() && !policy.allow_debug) {
    return reject(failed, Check::kDebugMode,
                  "PCR0, PCR1 and PCR2 are all zero: the enclave runs in debug mode (its memory is readable by the "
                  "host); set master.attestation.allow_debug (or --allow-debug) only for tests");
  }
  for (const auto& [index, expected] : policy.expected_pcrs) {
    auto it = doc.pcrs.find(index);
    if (it == doc.pcrs.end()) return reject(failed, Check::kPcrs, "the document has no PCR" + std::to_string(index));
    if (it->second != expected) {
      return reject(failed, Check::kPcrs,
                    "PCR" + std::to_string(index) + " is " + hex_encode(it->second) + ", expected " + hex_encode(expected));
    }
  }
  if (policy.expected_nonce && policy.require_nonce && !doc.nonce) {
    return reject(failed, Check::kNonce,
                  "the document carries no nonce and master.attestation.require_nonce is set: it may be a replayed "
                  "document. The master must put the nonce of /get_attestation?nonce= into the document; for a "
                  "master that does not (Nautilus's own server), set master.attestation.require_nonce to false");
  }
  if (policy.expected_nonce && doc.nonce && *doc.nonce != *policy.expected_nonce) {
    return reject(failed, Check::kNonce,
                  "the document's nonce " + hex_encode(*doc.nonce) + " is not the one sent (" +
                      hex_encode(*policy.expected_nonce) + "): a replayed or foreign document");
  }
  if (policy.require_enclave_key && (!doc.public_key || doc.public_key->size() != 32)) {
    return reject(failed, Check::kPublicKey,
                  doc.public_key ? "public_key is " + std::to_string(doc.public_key->size()) +
                                       " bytes, not a 32-byte Ed25519 key"
                                 : std::string("the document carries no public_key (the enclave's Ed25519 key)"));
  }
  return doc;
}

Result<CertificateInfo> describe_certificate(ByteView der) {
  X509Ptr cert = parse_der_certificate(der);
  if (!cert) return make_error(ErrorKind::kVerify, "not a DER certificate");
  return CertificateInfo{certificate_subject(cert.get()), asn1_time_iso(X509_get0_notBefore(cert.get())),
                         asn1_time_iso(X509_get0_notAfter(cert.get()))};
}

}  // namespace k3s_daas::attestation
