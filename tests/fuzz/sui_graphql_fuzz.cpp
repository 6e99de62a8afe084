// libFuzzer target: any Sui GraphQL answer body goes through the envelope and every answer
// parser of the chain client; none may crash, hang or throw.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "k3s_daas/sui_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  k3s_daas::sui::wire::exercise_graphql_parsers(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
