// libFuzzer target: the BCS decoders of Nautilus's EnclaveConfig<T> and Enclave<T> objects
// (master::decode_enclave_config / decode_enclave, protocol.md 3.1), whose bytes come from a chain
// endpoint. Invariant: whatever decodes re-encodes to exactly the input (BCS is canonical).
#include <cstddef>
#include <cstdint>

#include "k3s_daas/crypto.hpp"
#include "k3s_daas/master.hpp"
#include "k3s_daas/sui_bcs.hpp"

using namespace k3s_daas;

namespace {

crypto::Address address_of(const std::string& hex) {
  auto a = crypto::Address::parse(hex);
  if (!a.ok()) __builtin_trap();
  return *a;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  if (auto config = master::decode_enclave_config(input); config.ok()) {
    sui::bcs::Writer w;
    w.address(address_of(config->id)).string(config->name);
    for (const auto& pcr : config->pcrs) w.bytes(pcr);
    w.address(address_of(config->capability_id)).u64(config->version);
    if (w.data() != Bytes(data, data + size)) __builtin_trap();
  }
  if (auto enclave = master::decode_enclave(input); enclave.ok()) {
    sui::bcs::Writer w;
    w.address(address_of(enclave->id)).bytes(enclave->pk).u64(enclave->config_version).address(address_of(enclave->owner));
    if (w.data() != Bytes(data, data + size)) __builtin_trap();
  }
  return 0;
}
