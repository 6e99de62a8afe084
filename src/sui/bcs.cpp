#include "k3s_daas/sui_bcs.hpp"

namespace k3s_daas::sui::bcs {

Writer& Writer::u8(std::uint8_t v) {
  out_.push_back(v);
  return *this;
}

Writer& Writer::u16(std::uint16_t v) {
  for (int i = 0; i < 2; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  return *this;
}

Writer& Writer::u32(std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  return *this;
}

Writer& Writer::u64(std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  return *this;
}

Writer& Writer::u128(std::uint64_t low, std::uint64_t high) { return u64(low).u64(high); }

Writer& Writer::uleb128(std::uint64_t v) {
  do {
    std::uint8_t byte = v & 0x7f;
    v >>= 7;
    if (v != 0) byte |= 0x80;
    out_.push_back(byte);
  } while (v != 0);
  return *this;
}

Writer& Writer::bytes(ByteView v) {
  length(v.size());
  return fixed(v);
}

Writer& Writer::fixed(ByteView v) {
  out_.insert(out_.end(), v.begin(), v.end());
  return *this;
}

void Reader::fail(const std::string& what) {
  if (error_.empty()) error_ = what + " at byte " + std::to_string(pos_);
}

bool Reader::need(std::size_t n) {
  if (!ok()) return false;
  if (input_.size() - pos_ < n) {
    fail("unexpected end of input (" + std::to_string(n) + " more bytes needed)");
    return false;
  }
  return true;
}

std::uint8_t Reader::u8() {
  if (!need(1)) return 0;
  return input_[pos_++];
}

std::uint16_t Reader::u16() {
  if (!need(2)) return 0;
  std::uint16_t v = static_cast<std::uint16_t>(input_[pos_] | (input_[pos_ + 1] << 8));
  pos_ += 2;
  return v;
}

std::uint32_t Reader::u32() {
  if (!need(4)) return 0;
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(input_[pos_ + i]) << (8 * i);
  pos_ += 4;
  return v;
}

std::uint64_t Reader::u64() {
  if (!need(8)) return 0;
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(input_[pos_ + i]) << (8 * i);
  pos_ += 8;
  return v;
}

std::array<std::uint64_t, 2> Reader::u128() {
  std::uint64_t low = u64();
  std::uint64_t high = u64();
  return {low, high};
}

bool Reader::boolean() {
  std::uint8_t v = u8();
  if (v > 1) {
    fail("invalid bool byte " + std::to_string(v));
    return false;
  }
  return v == 1;
}

std::uint64_t Reader::uleb128(std::uint64_t max) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (!need(1)) return 0;
    std::uint8_t byte = input_[pos_++];
    std::uint64_t digit = byte & 0x7f;
    if (shift == 63 && digit > 1) {
      fail("ULEB128 value overflows 64 bits");
      return 0;
    }
    value |= digit << shift;
    if ((byte & 0x80) == 0) {
      if (byte == 0 && shift != 0) {
        fail("non-canonical ULEB128 (trailing zero byte)");
        return 0;
      }
      if (value > max) {
        fail("ULEB128 value " + std::to_string(value) + " exceeds " + std::to_string(max));
        return 0;
      }
      return value;
    }
  }
  fail("ULEB128 value longer than 10 bytes");
  return 0;
}

Bytes Reader::fixed(std::size_t n) {
  if (!need(n)) return {};
  Bytes out(input_.begin() + static_cast<std::ptrdiff_t>(pos_), input_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
  pos_ += n;
  return out;
}

Bytes Reader::bytes() {
  std::size_t n = length();
  if (!ok()) return {};
  return fixed(n);
}

std::string Reader::string() {
  Bytes raw = bytes();
  std::string out(raw.begin(), raw.end());
  if (ok() && !is_valid_utf8(out)) {
    fail("string is not valid UTF-8");
    return {};
  }
  return out;
}

crypto::Address Reader::address() {
  Bytes raw = fixed(32);
  if (!ok()) return {};
  return crypto::Address::from_bytes(raw);
}

Status Reader::finish(const std::string& what) const {
  if (!ok()) return make_error(ErrorKind::kProtocol, what + ": malformed BCS: " + error_);
  if (pos_ != input_.size()) {
    return make_error(ErrorKind::kProtocol, what + ": malformed BCS: " + std::to_string(input_.size() - pos_) +
                                                " unexpected trailing bytes at byte " + std::to_string(pos_));
  }
  return {};
}

Bytes encode_u64(std::uint64_t v) { return Writer().u64(v).data(); }
Bytes encode_string(std::string_view s) { return Writer().string(s).data(); }
Bytes encode_address(const crypto::Address& a) { return Writer().address(a).data(); }
Bytes encode_bool(bool v) { return Writer().boolean(v).data(); }

}  // namespace k3s_daas::sui::bcs
