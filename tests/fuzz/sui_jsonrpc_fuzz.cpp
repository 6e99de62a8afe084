// libFuzzer target: any Sui JSON-RPC answer body goes through the envelope and every answer
// parser of the chain client (including the Move abort text parser); none may crash or throw.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "k3s_daas/sui_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  k3s_daas::sui::wire::exercise_jsonrpc_parsers(body);
  (void)k3s_daas::sui::wire::jsonrpc::parse_move_abort(body);
  return 0;
}
