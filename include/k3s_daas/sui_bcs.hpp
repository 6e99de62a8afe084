#pragma once
// BCS (Binary Canonical Serialization), the encoding of Sui transactions and of the seal token.
// Owns: the byte layout of integers (little endian), ULEB128 lengths, vectors, options,
// strings and 32-byte addresses. Must never: accept non-canonical input when decoding
// (over-long ULEB128, lengths beyond the input, bool bytes other than 0/1).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "k3s_daas/crypto.hpp"
#include "k3s_daas/encoding.hpp"
#include "k3s_daas/result.hpp"

namespace k3s_daas::sui::bcs {

// BCS sequence lengths and enum variant indices are ULEB128 of at most 2^31 - 1 per the spec
// (Sui's Rust implementation caps sequence lengths at 2^31 - 1 as well).
inline constexpr std::uint64_t kMaxSequenceLength = (1ull << 31) - 1;

class Writer {
 public:
  Writer& u8(std::uint8_t v);
  Writer& u16(std::uint16_t v);
  Writer& u32(std::uint32_t v);
  Writer& u64(std::uint64_t v);
  Writer& u128(std::uint64_t low, std::uint64_t high = 0);
  Writer& boolean(bool v) { return u8(v ? 1 : 0); }
  Writer& uleb128(std::uint64_t v);
  Writer& variant(std::uint32_t index) { return uleb128(index); }
  Writer& length(std::size_t n) { return uleb128(n); }
  // Length-prefixed byte vector (vector<u8>).
  Writer& bytes(ByteView v);
  // Bytes without a length (fixed-size arrays such as addresses).
  Writer& fixed(ByteView v);
  Writer& string(std::string_view s) { return bytes(as_bytes(s)); }
  Writer& address(const crypto::Address& a) { return fixed(a.view()); }
  template <typename T, typename F>
  Writer& option(const std::optional<T>& v, F&& write_value) {
    if (!v) return u8(0);
    u8(1);
    write_value(*this, *v);
    return *this;
  }
  template <typename Range, typename F>
  Writer& vector(const Range& items, F&& write_item) {
    length(std::size(items));
    for (const auto& item : items) write_item(*this, item);
    return *this;
  }

  const Bytes& data() const& { return out_; }
  Bytes data() && { return std::move(out_); }
  std::size_t size() const { return out_.size(); }

 private:
  Bytes out_;
};

// A decoder with a sticky error: after the first failure every read returns zero values and
// ok() is false; error() says what failed and at which offset.
class Reader {
 public:
  explicit Reader(ByteView input) : input_(input) {}

  std::uint8_t u8();
  std::uint16_t u16();
  std::uint32_t u32();
  std::uint64_t u64();
  std::array<std::uint64_t, 2> u128();  // {low, high}
  bool boolean();
  // Canonical ULEB128 up to `max` (default: u32 range).
  std::uint64_t uleb128(std::uint64_t max = 0xffffffffull);
  std::uint32_t variant() { return static_cast<std::uint32_t>(uleb128(kMaxSequenceLength)); }
  std::size_t length() { return static_cast<std::size_t>(uleb128(kMaxSequenceLength)); }
  Bytes bytes();
  Bytes fixed(std::size_t n);
  std::string string();  // must be valid UTF-8
  crypto::Address address();
  bool option_tag() { return boolean(); }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  std::size_t offset() const { return pos_; }
  std::size_t remaining() const { return ok() ? input_.size() - pos_ : 0; }
  bool at_end() const { return ok() && pos_ == input_.size(); }
  // Sets the sticky error (first one wins).
  void fail(const std::string& what);
  // Ok and nothing left over, else an error naming `what`.
  Status finish(const std::string& what) const;

 private:
  bool need(std::size_t n);
  ByteView input_;
  std::size_t pos_ = 0;
  std::string error_;
};

// Encodes one value to bytes, for Pure inputs.
Bytes encode_u64(std::uint64_t v);
Bytes encode_string(std::string_view s);
Bytes encode_address(const crypto::Address& a);
Bytes encode_bool(bool v);

}  // namespace k3s_daas::sui::bcs
