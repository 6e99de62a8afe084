// BCS primitives: ULEB128 edge values and canonical form, little-endian integers, options,
// vectors, strings; and base58 (Sui digests).
#include <doctest/doctest.h>

#include "k3s_daas/sui_bcs.hpp"
#include "k3s_daas/sui_tx.hpp"

using namespace k3s_daas;
using namespace k3s_daas::sui;

namespace {
Bytes uleb(std::uint64_t v) { return bcs::Writer().uleb128(v).data(); }
}  // namespace

TEST_CASE("bcs: ULEB128 edge values") {
  struct Case {
    std::uint64_t value;
    Bytes bytes;
  };
  for (const auto& c : {Case{0, {0x00}}, Case{1, {0x01}}, Case{127, {0x7f}}, Case{128, {0x80, 0x01}},
                        Case{255, {0xff, 0x01}}, Case{300, {0xac, 0x02}}, Case{16383, {0xff, 0x7f}},
                        Case{16384, {0x80, 0x80, 0x01}}, Case{2097151, {0xff, 0xff, 0x7f}},
                        Case{2097152, {0x80, 0x80, 0x80, 0x01}}, Case{(1ull << 31) - 1, {0xff, 0xff, 0xff, 0xff, 0x07}},
                        Case{0xffffffffull, {0xff, 0xff, 0xff, 0xff, 0x0f}}}) {
    CAPTURE(c.value);
    CHECK(uleb(c.value) == c.bytes);
    bcs::Reader r(c.bytes);
    CHECK(r.uleb128() == c.value);
    CHECK(r.finish("uleb").ok());
  }
  SUBCASE("non-canonical forms are refused") {
    for (const Bytes& bad : {Bytes{0x80, 0x00}, Bytes{0x81, 0x00}, Bytes{0xff, 0x80, 0x00}}) {
      bcs::Reader r(bad);
      r.uleb128();
      CHECK_FALSE(r.ok());
      CHECK(r.error().find("non-canonical") != std::string::npos);
    }
  }
  SUBCASE("values beyond the limit are refused") {
    Bytes big = uleb(0x100000000ull);
    bcs::Reader r(big);
    r.uleb128();
    CHECK_FALSE(r.ok());
    bcs::Reader r64(big);
    CHECK(r64.uleb128(UINT64_MAX) == 0x100000000ull);
    Bytes max64 = uleb(UINT64_MAX);
    CHECK(max64.size() == 10);
    bcs::Reader rmax(max64);
    CHECK(rmax.uleb128(UINT64_MAX) == UINT64_MAX);
    Bytes overflow = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    bcs::Reader ro(overflow);
    ro.uleb128(UINT64_MAX);
    CHECK_FALSE(ro.ok());
    Bytes endless(12, 0x80);
    bcs::Reader re(endless);
    re.uleb128(UINT64_MAX);
    CHECK_FALSE(re.ok());
  }
  SUBCASE("truncated") {
    Bytes cut = {0x80};
    bcs::Reader r(cut);
    r.uleb128();
    CHECK_FALSE(r.ok());
    CHECK(r.error().find("end of input") != std::string::npos);
  }
}

TEST_CASE("bcs: integers, bools, strings, options and vectors") {
  bcs::Writer w;
  w.u8(0xab).u16(0x1234).u32(0xdeadbeef).u64(0x0102030405060708ull).u128(1, 2).boolean(true).string("héllo");
  w.option(std::optional<std::uint64_t>(7), [](bcs::Writer& o, std::uint64_t v) { o.u64(v); });
  w.option(std::optional<std::uint64_t>(), [](bcs::Writer& o, std::uint64_t v) { o.u64(v); });
  std::vector<std::uint16_t> items = {1, 2, 3};
  w.vector(items, [](bcs::Writer& o, std::uint16_t v) { o.u16(v); });
  auto addr = crypto::Address::parse("0x2").value();
  w.address(addr);
  Bytes bytes = w.data();
  CHECK(hex_encode(ByteView(bytes).first(15)) == "ab3412efbeadde0807060504030201");

  bcs::Reader r(bytes);
  CHECK(r.u8() == 0xab);
  CHECK(r.u16() == 0x1234);
  CHECK(r.u32() == 0xdeadbeef);
  CHECK(r.u64() == 0x0102030405060708ull);
  auto u128 = r.u128();
  CHECK(u128[0] == 1);
  CHECK(u128[1] == 2);
  CHECK(r.boolean());
  CHECK(r.string() == "héllo");
  CHECK(r.option_tag());
  CHECK(r.u64() == 7);
  CHECK_FALSE(r.option_tag());
  CHECK(r.length() == 3);
  CHECK(r.u16() == 1);
  CHECK(r.u16() == 2);
  CHECK(r.u16() == 3);
  CHECK(r.address() == addr);
  CHECK(r.finish("all").ok());

  CHECK(bcs::encode_u64(1000000000) == Bytes{0x00, 0xca, 0x9a, 0x3b, 0, 0, 0, 0});
  CHECK(bcs::encode_string("node") == Bytes{4, 'n', 'o', 'd', 'e'});
  CHECK(bcs::encode_bool(false) == Bytes{0});

  Bytes bad_bool = {2};
  bcs::Reader rb(bad_bool);
  rb.boolean();
  CHECK_FALSE(rb.ok());
  Bytes bad_utf8 = {2, 0xc3, 0x28};
  bcs::Reader ru(bad_utf8);
  ru.string();
  CHECK_FALSE(ru.ok());
  Bytes long_len = {5, 1, 2};
  bcs::Reader rl(long_len);
  rl.bytes();
  CHECK_FALSE(rl.ok());
  // A sticky error: later reads return zeros and the first message stays.
  CHECK(rl.u64() == 0);
  CHECK(rl.error().find("end of input") != std::string::npos);
  CHECK_FALSE(rl.finish("x").ok());
}

TEST_CASE("base58: Sui digests round trip") {
  auto digest = base58_decode("9GmddQFhsGEHVkip64DqhWxKUuGmUEjb9VVxjWD4tk63");
  REQUIRE(digest.has_value());
  CHECK(digest->size() == 32);
  CHECK(base58_encode(*digest) == "9GmddQFhsGEHVkip64DqhWxKUuGmUEjb9VVxjWD4tk63");
  CHECK(base58_encode(Bytes{0, 0, 1}) == "112");
  CHECK(base58_decode("112") == Bytes{0, 0, 1});
  CHECK_FALSE(base58_decode("0OIl").has_value());
  auto ref = ObjectRef::parse("0x5", 9, "AU6fjZEqvWtYVSAurBeY4WMaxmPYX2F4RsPDziKSJSH");
  REQUIRE(ref.ok());  // a 43-character base58 digest (leading byte small)
  CHECK(ref->digest_base58() == "AU6fjZEqvWtYVSAurBeY4WMaxmPYX2F4RsPDziKSJSH");
  CHECK_FALSE(ObjectRef::parse("0x5", 9, "abc").ok());
  CHECK_FALSE(ObjectRef::parse("0x5", 9, "").ok());
}
