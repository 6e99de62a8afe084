// libFuzzer target: attestation documents (COSE_Sign1 / CBOR / X.509 / ECDSA) must never crash
// the parser or the verifier. Seed corpus: ../shared/testdata/attestation (the real documents).
#include <cstddef>
#include <cstdint>

#include "k3s_daas/attestation.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace k3s_daas::attestation;
  static const Verifier verifier = std::move(Verifier::aws_root()).value();
  Policy policy;
  policy.now_ms = 1744683923696;  // the Nautilus weather document's own time
  policy.allow_debug = true;
  k3s_daas::ByteView bytes(data, size);
  (void)parse(bytes);
  (void)verifier.verify(bytes, policy);
  (void)decode_document_text(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
