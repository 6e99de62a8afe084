// libFuzzer target: any Sui JSON-RPC answer body goes through the envelope and every answer
// parser of the chain client (including the Move abort text parser); none may crash or throw.
// An object that parses is also read as a StakeRecord, and a transaction result is described
// as the staking commands describe failures.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "k3s_daas/staking.hpp"
#include "k3s_daas/sui_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace k3s_daas::sui;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  wire::exercise_jsonrpc_parsers(body);
  (void)wire::jsonrpc::parse_move_abort(body);
  auto doc = wire::jsonrpc_envelope(body);
  if (!doc.ok()) return 0;
  if (auto object = wire::jsonrpc::parse_object(*doc); object.ok() && object->has_value()) {
    for (const char* type : {"", "0x2::staking::StakeRecord"}) {
      if (auto record = StakeRecord::from_object(**object, type); record.ok()) (void)record->to_json().dump();
    }
  }
  if (auto result = wire::jsonrpc::parse_transaction_block(*doc); result.ok()) (void)describe_failure(*result, "staking");
  return 0;
}
