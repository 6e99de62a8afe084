// Attestation documents with every field altered one at a time and RE-SIGNED with a valid key of
// the test Nitro chain (attestation_variants.mjs builds them), so that each field's own check, not
// the COSE signature, must refuse it (issue 13, attack tests). The unaltered control document and
// the alterations protocol.md section 3.2 leaves free (module_id, user_data, unpinned PCRs, another
// leaf of the same chain, no nonce within max_age, ...) must be accepted, so the test can fail
// both ways.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "k3s_daas/attestation.hpp"
#include "support/support.hpp"

using namespace k3s_daas;
using namespace k3s_daas::test;

namespace {

bool node_available() { return run({"node", "--version"}, {.timeout = std::chrono::seconds(10)}).exit_code == 0; }

}  // namespace

TEST_CASE("every attestation field altered and re-signed is refused by its own check") {
  if (!node_available()) {
    MESSAGE("SKIPPED: node (Node.js 20) is not on PATH; attestation_variants.mjs cannot run");
    return;
  }
  TempDir pki;
  auto made = run({"bash", (source_dir() / "tests/peers/nautilus-master/make-pki.sh").string(), pki.path().string()});
  REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  auto generated = run({"node", (source_dir() / "tests/master/attestation_variants.mjs").string(), "--pki",
                        pki.path().string()},
                       {.timeout = std::chrono::seconds(60)});
  REQUIRE_MESSAGE(generated.exit_code == 0, generated.err);
  nlohmann::json out = nlohmann::json::parse(generated.out);

  auto verifier = attestation::Verifier::from_root_file(pki / "nitro-root.pem");
  REQUIRE_MESSAGE(verifier.ok(), verifier.error().message);
  CHECK_FALSE(verifier.value().is_aws_root());

  // The agent's trust step (MasterClient::attest): configured PCRs, the nonce sent, max_age, a
  // 32-byte Ed25519 key required, debug enclaves refused.
  attestation::Policy policy;
  policy.now_ms = out["now_ms"].get<std::int64_t>();
  policy.max_age_ms = out["max_age_ms"].get<std::uint64_t>();
  for (const auto& [index, value] : out["pcrs"].items()) {
    policy.expected_pcrs[static_cast<std::uint32_t>(std::stoul(index))] = *hex_decode(value.get<std::string>());
  }
  policy.expected_nonce = *hex_decode(out["nonce"].get<std::string>());
  policy.require_enclave_key = true;

  std::map<std::string, int> by_outcome;
  int variants = 0;
  bool control_seen = false;
  for (const auto& variant : out["variants"]) {
    const std::string name = variant["name"];
    const std::string expect = variant["expect"];
    const std::string mention = variant["mention"];
    CAPTURE(name);
    CAPTURE(variant["why"].get<std::string>());
    auto bytes = hex_decode(variant["hex"].get<std::string>());
    REQUIRE(bytes.has_value());
    attestation::Check failed = attestation::Check::kSize;
    auto result = verifier.value().verify(*bytes, policy, &failed);
    ++variants;
    if (expect == "accept") {
      if (name == "control") control_seen = true;
      if (!result.ok()) {
        FAIL_CHECK("wrongly refused: " << result.error().message);
        continue;
      }
      ++by_outcome["accept"];
      const auto& doc = result.value();
      // The altered value is what the accepted document reports.
      std::string shown = doc.module_id + " " + std::to_string(doc.timestamp_ms) + " " +
                          (doc.public_key ? hex_encode(*doc.public_key) : "-") + " " +
                          (doc.user_data ? hex_encode(*doc.user_data) : "-");
      if (!mention.empty()) CHECK_MESSAGE(shown.find(mention) != std::string::npos, shown);
      continue;
    }
    if (result.ok()) {
      FAIL_CHECK("WRONGLY ACCEPTED, expected a refusal by the '" << expect << "' check");
      continue;
    }
    const std::string& message = result.error().message;
    CAPTURE(message);
    CHECK(result.error().kind == ErrorKind::kVerify);
    CHECK(std::string(attestation::check_name(failed)) == expect);
    CHECK(message.find("attestation check '" + expect + "' failed") != std::string::npos);
    CHECK_MESSAGE(message.find(mention) != std::string::npos, "the refusal does not name '" << mention << "'");
    ++by_outcome[attestation::check_name(failed)];
  }
  CHECK(control_seen);
  CHECK(variants >= 80);
  std::string summary;
  for (const auto& [outcome, count] : by_outcome) summary += outcome + "=" + std::to_string(count) + " ";
  MESSAGE(variants << " re-signed variants: " << summary);

  // The same control document fails once the policy moves: the test can tell accept from refuse.
  auto control = hex_decode(out["variants"][0]["hex"].get<std::string>());
  REQUIRE(out["variants"][0]["name"] == "control");
  auto moved = policy;
  moved.expected_nonce = Bytes(32, 0x5a);
  attestation::Check failed = attestation::Check::kSize;
  CHECK_FALSE(verifier.value().verify(*control, moved, &failed).ok());
  CHECK(failed == attestation::Check::kNonce);
  moved = policy;
  moved.now_ms += static_cast<std::int64_t>(*policy.max_age_ms) + 60'000;
  CHECK_FALSE(verifier.value().verify(*control, moved, &failed).ok());
  CHECK(failed == attestation::Check::kFreshness);

  // master.attestation.require_nonce: the document without a nonce, accepted above, is refused;
  // the control (the nonce sent) still passes.
  moved = policy;
  moved.require_nonce = true;
  CHECK(verifier.value().verify(*control, moved).ok());
  bool no_nonce_seen = false;
  for (const auto& variant : out["variants"]) {
    if (variant["name"] != "nonce_null_fresh") continue;
    no_nonce_seen = true;
    auto bytes = hex_decode(variant["hex"].get<std::string>());
    REQUIRE(bytes.has_value());
    CHECK(verifier.value().verify(*bytes, policy).ok());
    auto refused = verifier.value().verify(*bytes, moved, &failed);
    REQUIRE_FALSE(refused.ok());
    CHECK(failed == attestation::Check::kNonce);
    CHECK(refused.error().message.find("require_nonce") != std::string::npos);
  }
  CHECK(no_nonce_seen);
}
