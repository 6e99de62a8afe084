#include "k3s_daas/encoding.hpp"

#include <sodium.h>

#include <array>

namespace k3s_daas {
namespace {

std::optional<Bytes> sodium_base64_decode(std::string_view text, int variant) {
  if (sodium_init() < 0) return std::nullopt;
  if (text.empty()) return Bytes{};
  Bytes out(text.size() / 4 * 3 + 3);
  size_t out_len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &out_len, &end,
                        variant) != 0) {
    return std::nullopt;
  }
  if (end != text.data() + text.size()) return std::nullopt;  // trailing garbage
  out.resize(out_len);
  return out;
}

std::string sodium_base64_encode(ByteView bytes, int variant) {
  if (bytes.empty()) return {};
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), variant);
  out.resize(out.size() - 1);  // drop the terminating NUL
  return out;
}

constexpr std::string_view kBase58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

}  // namespace

std::string hex_encode(ByteView bytes) {
  if (bytes.empty()) return {};
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.resize(bytes.size() * 2);
  return out;
}

std::optional<Bytes> hex_decode(std::string_view text) {
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text.remove_prefix(2);
  if (text.size() % 2 != 0) return std::nullopt;
  if (text.empty()) return Bytes{};
  Bytes out(text.size() / 2);
  size_t out_len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out.data(), out.size(), text.data(), text.size(), nullptr, &out_len, &end) != 0 ||
      end != text.data() + text.size() || out_len != out.size()) {
    return std::nullopt;
  }
  return out;
}

std::string base64_encode(ByteView bytes) { return sodium_base64_encode(bytes, sodium_base64_VARIANT_ORIGINAL); }
std::optional<Bytes> base64_decode(std::string_view text) {
  return sodium_base64_decode(text, sodium_base64_VARIANT_ORIGINAL);
}
std::string base64url_encode(ByteView bytes) {
  return sodium_base64_encode(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
std::optional<Bytes> base64url_decode(std::string_view text) {
  return sodium_base64_decode(text, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

// No Debian library in our stack offers base58; Sui digests need it. Plain big-number
// division over the byte string (inputs are 32-byte digests, so quadratic cost is fine).
std::string base58_encode(ByteView bytes) {
  size_t leading_zeros = 0;
  while (leading_zeros < bytes.size() && bytes[leading_zeros] == 0) ++leading_zeros;
  std::vector<std::uint8_t> digits;  // base58 digits, least significant first
  for (size_t i = leading_zeros; i < bytes.size(); ++i) {
    unsigned carry = bytes[i];
    for (auto& digit : digits) {
      carry += static_cast<unsigned>(digit) << 8;
      digit = static_cast<std::uint8_t>(carry % 58);
      carry /= 58;
    }
    while (carry > 0) {
      digits.push_back(static_cast<std::uint8_t>(carry % 58));
      carry /= 58;
    }
  }
  std::string out(leading_zeros, '1');
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) out.push_back(kBase58Alphabet[*it]);
  return out;
}

std::optional<Bytes> base58_decode(std::string_view text) {
  if (text.size() > 256) return std::nullopt;
  size_t leading_ones = 0;
  while (leading_ones < text.size() && text[leading_ones] == '1') ++leading_ones;
  std::vector<std::uint8_t> bytes;  // least significant first
  for (size_t i = leading_ones; i < text.size(); ++i) {
    auto pos = kBase58Alphabet.find(text[i]);
    if (pos == std::string_view::npos) return std::nullopt;
    unsigned carry = static_cast<unsigned>(pos);
    for (auto& byte : bytes) {
      carry += static_cast<unsigned>(byte) * 58;
      byte = static_cast<std::uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push_back(static_cast<std::uint8_t>(carry & 0xff));
      carry >>= 8;
    }
  }
  Bytes out(leading_ones, 0);
  out.insert(out.end(), bytes.rbegin(), bytes.rend());
  return out;
}

bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  while (i < text.size()) {
    unsigned char c = s[i];
    size_t len;
    std::uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > text.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static constexpr std::array<std::uint32_t, 5> kMin = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace k3s_daas
