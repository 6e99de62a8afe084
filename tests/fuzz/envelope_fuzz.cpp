// libFuzzer target: master answers (Nautilus signed envelopes) must never crash the verifier,
// and nothing but a correctly signed answer may pass.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "k3s_daas/master.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace k3s_daas::master;
  static const k3s_daas::Bytes key(32, 0x42);  // no one holds its secret: nothing may verify
  std::string_view body(reinterpret_cast<const char*>(data), size);
  Expectation expect;
  expect.node_id = "worker-1";
  expect.nonce = k3s_daas::Bytes(32, 0);
  expect.seq = 1;
  ReplayGuard replay;
  bool accepted = false;
  expect.intent = Intent::kRegister;
  accepted |= verify_register_answer(body, key, expect, replay).ok();
  expect.intent = Intent::kHeartbeat;
  accepted |= verify_heartbeat_answer(body, key, expect, replay).ok();
  expect.intent = Intent::kDeregister;
  accepted |= verify_deregister_answer(body, key, expect, replay).ok();
  if (accepted) std::abort();
  return 0;
}
