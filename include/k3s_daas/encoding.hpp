#pragma once
// Byte encodings used across components: hex, base64 (standard and URL-safe without padding,
// both through libsodium), base58 (Bitcoin alphabet, Sui digests). Decoders reject malformed
// input instead of guessing.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace k3s_daas {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

std::string hex_encode(ByteView bytes);
// Accepts lower or upper case and an optional 0x prefix; nullopt on odd length or bad digit.
std::optional<Bytes> hex_decode(std::string_view text);

std::string base64_encode(ByteView bytes);
std::optional<Bytes> base64_decode(std::string_view text);
std::string base64url_encode(ByteView bytes);  // no padding
std::optional<Bytes> base64url_decode(std::string_view text);

std::string base58_encode(ByteView bytes);
std::optional<Bytes> base58_decode(std::string_view text);

inline ByteView as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}
inline std::string to_string(ByteView bytes) { return {bytes.begin(), bytes.end()}; }

// True when `text` is well-formed UTF-8.
bool is_valid_utf8(std::string_view text);

}  // namespace k3s_daas
