// Attestation documents: the real AWS Nitro samples of ../shared/testdata/attestation.
#include <doctest/doctest.h>

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <random>

#include "k3s_daas/attestation.hpp"
#include "testdata.hpp"

using namespace k3s_daas;
using namespace k3s_daas::test;
using attestation::Check;

namespace {

attestation::Verifier aws() {
  auto verifier = attestation::Verifier::aws_root();
  REQUIRE_MESSAGE(verifier.ok(), verifier.error().message);
  return std::move(verifier).value();
}

Check failed_check(const attestation::Verifier& verifier, const Bytes& doc, const attestation::Policy& policy,
                   std::string* message = nullptr) {
  Check failed = Check::kSize;
  auto result = verifier.verify(doc, policy, &failed);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind == ErrorKind::kVerify);
  CHECK(result.error().message.find(std::string("'") + attestation::check_name(failed) + "'") != std::string::npos);
  if (message != nullptr) *message = result.error().message;
  return failed;
}

std::optional<std::string> hex_or_null(const nlohmann::json& value) {
  if (value.is_null()) return std::nullopt;
  return value.get<std::string>();
}

}  // namespace

TEST_CASE("the embedded AWS root is the pinned one and equals the published PEM") {
  auto verifier = aws();
  CHECK(verifier.root_sha256() == attestation::kAwsNitroRootG1Sha256);
  CHECK(verifier.is_aws_root());
  CHECK(verifier.root_subject().find("aws.nitro-enclaves") != std::string::npos);
  K3S_REQUIRE_SHARED();
  std::string published = read_file(attestation_testdata() / "aws-nitro-enclaves-root-G1.pem");
  while (!published.empty() && (published.back() == '\n' || published.back() == '\r')) published.pop_back();
  CHECK(published + "\n" == std::string(attestation::aws_root_pem()));
}

TEST_CASE("every sample with a valid COSE signature verifies at its own timestamp, fields as in the MANIFEST") {
  K3S_REQUIRE_SHARED();
  auto verifier = aws();
  int verified = 0;
  for (const auto& sample : sample_documents()) {
    if (!sample.cose_valid) continue;
    CAPTURE(sample.file);
    auto result = verifier.verify(sample.bytes, policy_for(sample));
    REQUIRE_MESSAGE(result.ok(), result.error().message);
    const auto& doc = result.value();
    CHECK(doc.module_id == sample.manifest["module_id"].get<std::string>());
    CHECK(static_cast<std::int64_t>(doc.timestamp_ms) == sample.timestamp_ms);
    CHECK(doc.digest == "SHA384");
    CHECK(doc.cabundle.size() == sample.manifest["cabundle_len"].get<std::size_t>());
    for (const auto& [index, value] : sample.manifest["pcrs"].items()) {
      auto it = doc.pcrs.find(static_cast<std::uint32_t>(std::stoul(index)));
      REQUIRE(it != doc.pcrs.end());
      CHECK(hex_encode(it->second) == value.get<std::string>());
    }
    CHECK(doc.debug_mode() == sample.debug);
    auto expect = [](const std::optional<Bytes>& got, const nlohmann::json& want) {
      auto want_hex = hex_or_null(want);
      CHECK(got.has_value() == want_hex.has_value());
      if (got && want_hex) CHECK(hex_encode(*got) == *want_hex);
    };
    expect(doc.public_key, sample.manifest["public_key_hex"]);
    expect(doc.user_data, sample.manifest["user_data_hex"]);
    expect(doc.nonce, sample.manifest["nonce_hex"]);
    ++verified;
  }
  CHECK(verified == 6);
}

TEST_CASE("every sample fails with an expiry error at the real clock") {
  K3S_REQUIRE_SHARED();
  auto verifier = aws();
  for (const auto& sample : sample_documents()) {
    if (!sample.cose_valid) continue;
    CAPTURE(sample.file);
    auto policy = policy_for(sample);
    policy.now_ms = 0;  // the real clock
    std::string message;
    CHECK(failed_check(verifier, sample.bytes, policy, &message) == Check::kExpired);
    CHECK(message.find("expired") != std::string::npos);
    // With a max_age, shortly after the document: freshness (the certificates are still valid).
    policy.now_ms = sample.timestamp_ms + 10 * 60 * 1000;
    policy.max_age_ms = 300 * 1000;
    CHECK(failed_check(verifier, sample.bytes, policy) == Check::kFreshness);
    policy.max_age_ms = 3600 * 1000;
    CHECK(verifier.verify(sample.bytes, policy).ok());
    // A document from the future of the verifier's clock.
    policy.now_ms = sample.timestamp_ms - 2 * 60 * 1000;
    policy.max_age_ms.reset();
    // (the evervault samples' certificates start 3 s before the document: not yet valid then)
    Check early = failed_check(verifier, sample.bytes, policy);
    CHECK((early == Check::kTimestamp || early == Check::kExpired));
    if (sample.file.find("nautilus/") == 0) CHECK(early == Check::kTimestamp);
  }
}

TEST_CASE("wrong PCRs are refused, naming the PCR") {
  K3S_REQUIRE_SHARED();
  auto verifier = aws();
  for (const auto& sample : sample_documents()) {
    if (!sample.cose_valid) continue;
    CAPTURE(sample.file);
    for (std::uint32_t index : {0u, 1u, 2u}) {
      auto policy = policy_for(sample);
      policy.expected_pcrs[index][7] ^= 0x40;
      std::string message;
      CHECK(failed_check(verifier, sample.bytes, policy, &message) == Check::kPcrs);
      CHECK(message.find("PCR" + std::to_string(index)) != std::string::npos);
    }
    auto policy = policy_for(sample);
    policy.expected_pcrs[15] = Bytes(48, 1);  // a PCR the document does not have
    CHECK(failed_check(verifier, sample.bytes, policy) == Check::kPcrs);
  }
}

TEST_CASE("debug-mode documents are refused unless debug enclaves are allowed") {
  K3S_REQUIRE_SHARED();
  auto verifier = aws();
  int debug_samples = 0;
  for (const auto& sample : sample_documents()) {
    if (!sample.cose_valid || !sample.debug) continue;
    CAPTURE(sample.file);
    auto policy = policy_for(sample);
    CHECK(verifier.verify(sample.bytes, policy).ok());
    policy.allow_debug = false;
    CHECK(failed_check(verifier, sample.bytes, policy) == Check::kDebugMode);
    policy.expected_pcrs.clear();
    CHECK(failed_check(verifier, sample.bytes, policy) == Check::kDebugMode);
    ++debug_samples;
  }
  CHECK(debug_samples == 3);
}

TEST_CASE("the eternisai negative sample fails on its COSE signature") {
  K3S_REQUIRE_SHARED();
  auto verifier = aws();
  for (const auto& sample : sample_documents()) {
    if (sample.cose_valid) continue;
    CAPTURE(sample.file);
    CHECK(failed_check(verifier, sample.bytes, policy_for(sample)) == Check::kCoseSignature);
  }
}

TEST_CASE("a root that does not match is refused") {
  K3S_REQUIRE_SHARED();
  auto samples = sample_documents();
  auto invalid_root = attestation::Verifier::from_root_file(attestation_testdata() /
                                                            "eternisai-remote-attestation-verifier/src_aws_root_invalid.pem");
  if (!invalid_root.ok()) {
    // OpenSSL may already refuse the damaged key when loading it: refused all the same.
    CHECK(invalid_root.error().kind == ErrorKind::kConfig);
    MESSAGE("the invalid root is refused when loading: " << invalid_root.error().message);
  } else {
    CHECK_FALSE(invalid_root.value().is_aws_root());
    for (const auto& sample : samples) {
      if (!sample.cose_valid) continue;
      CHECK(failed_check(invalid_root.value(), sample.bytes, policy_for(sample)) == Check::kRootPin);
    }
  }
  // A valid but unrelated root (a fresh self-signed P-384 CA) is refused by the pin as well.
  TempDir dir;
  auto made = run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1", "-nodes",
                   "-keyout", (dir / "k.pem").string(), "-out", (dir / "root.pem").string(), "-subj",
                   "/CN=aws.nitro-enclaves", "-days", "1"});
  REQUIRE(made.exit_code == 0);
  auto other = attestation::Verifier::from_root_file(dir / "root.pem");
  REQUIRE(other.ok());
  for (const auto& sample : samples) {
    if (!sample.cose_valid) continue;
    CHECK(failed_check(other.value(), sample.bytes, policy_for(sample)) == Check::kRootPin);
  }
}

TEST_CASE("nonce and enclave-key rules of the trust step") {
  K3S_REQUIRE_SHARED();
  auto verifier = aws();
  for (const auto& sample : sample_documents()) {
    if (!sample.cose_valid) continue;
    CAPTURE(sample.file);
    auto policy = policy_for(sample);
    auto nonce = hex_or_null(sample.manifest["nonce_hex"]);
    policy.expected_nonce = Bytes(32, 7);
    if (nonce) {
      CHECK(failed_check(verifier, sample.bytes, policy) == Check::kNonce);
      policy.expected_nonce = *hex_decode(*nonce);
    }
    CHECK(verifier.verify(sample.bytes, policy).ok());  // no nonce in the document: nothing to compare
    policy.require_nonce = true;  // master.attestation.require_nonce: a document must carry it
    if (nonce) {
      CHECK(verifier.verify(sample.bytes, policy).ok());
    } else {
      CHECK(failed_check(verifier, sample.bytes, policy) == Check::kNonce);
    }
    policy.require_nonce = false;
    policy.require_enclave_key = true;
    auto key = hex_or_null(sample.manifest["public_key_hex"]);
    if (key && key->size() == 64) {
      auto doc = verifier.verify(sample.bytes, policy);
      REQUIRE(doc.ok());
      CHECK(hex_encode(*doc.value().public_key) == *key);
    } else {
      CHECK(failed_check(verifier, sample.bytes, policy) == Check::kPublicKey);
    }
  }
}

TEST_CASE("COSE tag 18, size limit, and text forms of a document") {
  K3S_REQUIRE_SHARED();
  auto verifier = aws();
  auto samples = sample_documents();
  const auto& sample = samples.front();
  Bytes tagged = {0xd2};
  tagged.insert(tagged.end(), sample.bytes.begin(), sample.bytes.end());
  auto doc = verifier.verify(tagged, policy_for(sample));
  REQUIRE_MESSAGE(doc.ok(), doc.error().message);
  CHECK(doc.value().tagged);
  Bytes long_tag = {0xd8, 0x12};  // tag 18 with a one-byte argument
  long_tag.insert(long_tag.end(), sample.bytes.begin(), sample.bytes.end());
  CHECK(verifier.verify(long_tag, policy_for(sample)).ok());
  Bytes other_tag = {0xd8, 0x13};  // tag 19
  other_tag.insert(other_tag.end(), sample.bytes.begin(), sample.bytes.end());
  CHECK(failed_check(verifier, other_tag, policy_for(sample)) == Check::kCoseStructure);
  Bytes double_tag = {0xd2, 0xd2};
  double_tag.insert(double_tag.end(), sample.bytes.begin(), sample.bytes.end());
  CHECK_FALSE(verifier.verify(double_tag, policy_for(sample)).ok());

  Bytes big = sample.bytes;
  big.resize(attestation::kMaxDocumentBytes + 1);
  CHECK(failed_check(verifier, big, policy_for(sample)) == Check::kSize);
  Bytes trailing = sample.bytes;
  trailing.push_back(0);
  CHECK(failed_check(verifier, trailing, policy_for(sample)) == Check::kCbor);

  for (const std::string& text : {hex_encode(sample.bytes), "0x" + hex_encode(sample.bytes) + "\n",
                                  base64_encode(sample.bytes) + "\n", base64url_encode(sample.bytes),
                                  "{\"attestation\": \"" + hex_encode(sample.bytes) + "\"}",
                                  std::string(sample.bytes.begin(), sample.bytes.end())}) {
    auto decoded = attestation::decode_document_text(text);
    REQUIRE_MESSAGE(decoded.ok(), decoded.error().message);
    CHECK(decoded.value() == sample.bytes);
  }
  CHECK_FALSE(attestation::decode_document_text("not a document!").ok());
  CHECK_FALSE(attestation::decode_document_text("").ok());
}

TEST_CASE("--pcr arguments") {
  auto ok = attestation::parse_pcr_arg("0=" + std::string(96, 'a'));
  REQUIRE(ok.ok());
  CHECK(ok.value().first == 0);
  CHECK(ok.value().second == Bytes(48, 0xaa));
  CHECK(attestation::parse_pcr_arg("31=" + std::string(64, '0')).ok());
  for (const char* bad : {"0", "=aa", "x=aa", "32=" "00", "1=zz", "123=00", "0=abc"}) {
    auto result = attestation::parse_pcr_arg(bad);
    CHECK_FALSE(result.ok());
    if (!result.ok()) CHECK(result.error().kind == ErrorKind::kUsage);
  }
}

TEST_CASE("single-bit flips anywhere in a good document are all rejected") {
  K3S_REQUIRE_SHARED();
  auto verifier = aws();
  for (const auto& sample : sample_documents()) {
    if (!sample.cose_valid) continue;
    CAPTURE(sample.file);
    auto policy = policy_for(sample);
    REQUIRE(verifier.verify(sample.bytes, policy).ok());
    std::map<Check, int> by_check;
    // Nautilus weather document: every byte, a different bit each time, and all 8 bits of the
    // COSE header bytes; the other samples: every 13th byte.
    const bool every_byte = sample.file.find("nautilus/weather") != std::string::npos;
    for (std::size_t pos = 0; pos < sample.bytes.size(); ++pos) {
      if (!every_byte && pos % 13 != 0) continue;
      for (unsigned bit = 0; bit < 8; ++bit) {
        if ((pos >= 64 || !every_byte) && bit != pos % 8) continue;
        Bytes flipped = sample.bytes;
        flipped[pos] ^= static_cast<std::uint8_t>(1u << bit);
        Check failed = Check::kSize;
        auto result = verifier.verify(flipped, policy, &failed);
        if (result.ok()) FAIL("a flip of bit " << bit << " at byte " << pos << " was accepted");
        ++by_check[failed];
      }
    }
    std::string summary;
    for (const auto& [check, count] : by_check) summary += std::string(attestation::check_name(check)) + "=" + std::to_string(count) + " ";
    MESSAGE(sample.file << ": " << summary);
    if (every_byte) CHECK(by_check[Check::kCoseSignature] > 1000);
  }
}

TEST_CASE("random mutations and truncations of real documents never crash the parser") {
  K3S_REQUIRE_SHARED();
  auto verifier = aws();
  auto samples = sample_documents();
  std::mt19937_64 rng(20250415);
  std::size_t accepted = 0, runs = 0;
  for (const auto& sample : samples) {
    auto policy = policy_for(sample);
    // Every truncation.
    for (std::size_t len = 0; len < sample.bytes.size(); ++len) {
      auto parsed = attestation::parse(ByteView(sample.bytes.data(), len));
      CHECK_FALSE(parsed.ok());
    }
    // Random byte edits, insertions, deletions and splices.
    for (int i = 0; i < 800; ++i) {
      Bytes m = sample.bytes;
      int edits = 1 + static_cast<int>(rng() % 8);
      for (int e = 0; e < edits && !m.empty(); ++e) {
        std::size_t pos = rng() % m.size();
        switch (rng() % 6) {
          case 0: m[pos] = static_cast<std::uint8_t>(rng()); break;
          case 1: m[pos] ^= static_cast<std::uint8_t>(1u << (rng() % 8)); break;
          case 2: m.insert(m.begin() + static_cast<long>(pos), static_cast<std::uint8_t>(rng())); break;
          case 3: m.erase(m.begin() + static_cast<long>(pos)); break;
          case 4: m[pos] = std::array<std::uint8_t, 6>{0x1b, 0x5b, 0x7b, 0x9b, 0xbb, 0xff}[rng() % 6]; break;
          case 5: {
            const auto& other = samples[rng() % samples.size()].bytes;
            std::size_t from = rng() % other.size();
            std::size_t n = std::min<std::size_t>(rng() % 64, other.size() - from);
            for (std::size_t k = 0; k < n && pos + k < m.size(); ++k) m[pos + k] = other[from + k];
            break;
          }
        }
      }
      ++runs;
      if (verifier.verify(m, policy).ok() && m != sample.bytes) ++accepted;
    }
  }
  MESSAGE(runs << " mutated documents, " << accepted << " accepted");
  CHECK(accepted == 0);
}
