// libFuzzer target: certificates as the master component reads them: a PEM root
// (master.attestation.root_ca_file, Verifier::from_root_pem), a DER certificate described for
// reports (describe_certificate) and `attest --pcr N=HEX` arguments. None may crash; a root that
// loads has a SHA-256 and a subject, and a PCR argument that parses prints back to itself.
// (The mTLS ca/cert/key files go to libcurl/OpenSSL unparsed by this project.)
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "k3s_daas/attestation.hpp"

namespace {
void require(bool condition) {
  if (!condition) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace k3s_daas;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto verifier = attestation::Verifier::from_root_pem(text, "fuzz.pem"); verifier.ok()) {
    require(verifier->root_sha256().size() == 64);
    // Only the pinned certificate counts as the AWS root, whatever its subject says.
    require(verifier->is_aws_root() == (verifier->root_sha256() == attestation::kAwsNitroRootG1Sha256));
    // A document we did not make cannot chain to a root read from fuzz input: must not crash.
    attestation::Policy policy;
    policy.now_ms = 1744683923696;
    (void)verifier->verify(ByteView(data, size), policy);
  }

  if (auto info = attestation::describe_certificate(ByteView(data, size)); info.ok()) {
    (void)info->subject.size();
  }

  if (auto pcr = attestation::parse_pcr_arg(text); pcr.ok()) {
    require(pcr->first < 32);
    require(pcr->second.size() == 32 || pcr->second.size() == 48 || pcr->second.size() == 64);
    auto again = attestation::parse_pcr_arg(std::to_string(pcr->first) + "=" + hex_encode(pcr->second));
    require(again.ok() && again->first == pcr->first && again->second == pcr->second);
  }
  return 0;
}
