// libFuzzer target: any Sui GraphQL answer body goes through the envelope and every answer
// parser of the chain client; none may crash, hang or throw. An object that parses is also read
// as a StakeRecord (what the slash watch and `status` do with it), and a transaction result is
// described as the staking commands describe failures.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "k3s_daas/staking.hpp"
#include "k3s_daas/sui_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace k3s_daas::sui;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  wire::exercise_graphql_parsers(body);
  auto doc = wire::graphql_envelope(body);
  if (!doc.ok()) return 0;
  if (auto object = wire::graphql::parse_object(*doc); object.ok() && object->has_value()) {
    for (const char* type : {"", "0x2::staking::StakeRecord"}) {
      if (auto record = StakeRecord::from_object(**object, type); record.ok()) (void)record->to_json().dump();
    }
  }
  for (auto parse : {wire::graphql::parse_simulation, wire::graphql::parse_execution}) {
    if (auto result = parse(*doc); result.ok()) (void)describe_failure(*result, "staking");
  }
  return 0;
}
