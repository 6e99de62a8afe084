#pragma once
// Defensive JSON access for parsing untrusted answers: nothing here throws, everything that is
// absent, null or of the wrong type comes back as nullptr / nullopt.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "k3s_daas/result.hpp"
#include "k3s_daas/sui_client.hpp"

namespace k3s_daas::sui::wire::detail {

using nlohmann::json;

// Answers nested deeper than this are refused before parsing.
inline constexpr int kMaxJsonDepth = 64;

// Parses a JSON document; kProtocol when it is not JSON or is nested too deeply.
Result<json> parse_json(std::string_view body);

// The member `key` of `j` when j is an object that has it and it is not null; else nullptr.
const json* get(const json* j, std::string_view key);
inline const json* get(const json& j, std::string_view key) { return get(&j, key); }

std::optional<std::uint64_t> to_u64(const json* j);  // unsigned number or decimal string
std::optional<std::string> to_string(const json* j);
std::optional<bool> to_bool(const json* j);
std::optional<Address> to_address(const json* j);
// ISO 8601 (2024-05-01T12:00:00.123Z) or a number/decimal string of milliseconds.
std::optional<std::int64_t> to_time_ms(const json* j);

Error malformed(const std::string& what);

// Feeds one parsed answer to every parser in turn, ignoring what they return: the fuzz targets
// and the replay test read each answer as every kind of answer a transport may get.
template <typename... Parse>
void feed(const Result<json>& doc, const Parse&... parse) {
  if (!doc.ok()) return;
  (static_cast<void>(parse(*doc)), ...);
}

// Shortens outside text for an error message and redacts secret-shaped parts.
std::string snippet(std::string_view text, std::size_t max = 200);

}  // namespace k3s_daas::sui::wire::detail
