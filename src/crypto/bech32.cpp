// Bech32 (BIP-173, checksum constant 1), written from the BIP text. Sui encodes private keys
// as Bech32 with HRP "suiprivkey" over flag || 32-byte seed.
#include <sodium.h>

#include <cctype>

#include "k3s_daas/crypto.hpp"

namespace k3s_daas::crypto {
namespace {

constexpr std::string_view kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr std::size_t kMaxLength = 90;
constexpr std::size_t kChecksumLength = 6;

std::uint32_t polymod(const std::vector<std::uint8_t>& values) {
  constexpr std::uint32_t kGenerator[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  std::uint32_t chk = 1;
  for (std::uint8_t v : values) {
    std::uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; ++i) {
      if ((top >> i) & 1) chk ^= kGenerator[i];
    }
  }
  return chk;
}

void append_hrp_expanded(std::vector<std::uint8_t>& out, std::string_view hrp) {
  for (char c : hrp) out.push_back(static_cast<std::uint8_t>(static_cast<unsigned char>(c) >> 5));
  out.push_back(0);
  for (char c : hrp) out.push_back(static_cast<std::uint8_t>(static_cast<unsigned char>(c) & 31));
}

// Wipes a vector's contents (which may hold secret bits) before it is freed.
template <typename T>
void wipe(std::vector<T>& v) {
  if (!v.empty()) sodium_memzero(v.data(), v.size() * sizeof(T));
}

// Converts between bit groups; `pad` adds zero bits at the end (encode), otherwise leftover
// bits must be fewer than `from` and zero (decode).
bool convert_bits(const std::uint8_t* in, std::size_t in_len, int from, int to, bool pad,
                  std::vector<std::uint8_t>& out) {
  std::uint32_t acc = 0;
  int bits = 0;
  const std::uint32_t max_value = (1u << to) - 1;
  for (std::size_t i = 0; i < in_len; ++i) {
    acc = ((acc << from) | in[i]) & 0xffffff;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & max_value));
    }
  }
  bool ok = true;
  if (pad) {
    if (bits > 0) out.push_back(static_cast<std::uint8_t>((acc << (to - bits)) & max_value));
  } else if (bits >= from || ((acc << (to - bits)) & max_value) != 0) {
    ok = false;
  }
  acc = 0;
  return ok;
}

// Decodes into `hrp` and 8-bit `data`. Used by the public decoder and by the secret path
// (which wipes `data` itself).
Status decode_into(std::string_view text, std::string& hrp, std::vector<std::uint8_t>& data) {
  if (text.size() > kMaxLength) {
    return make_error(ErrorKind::kUsage, "Bech32: string is " + std::to_string(text.size()) +
                                             " characters long, at most 90 are allowed");
  }
  bool has_lower = false, has_upper = false;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126) return make_error(ErrorKind::kUsage, "Bech32: contains a character outside printable ASCII");
    if (std::islower(u)) has_lower = true;
    if (std::isupper(u)) has_upper = true;
  }
  if (has_lower && has_upper) return make_error(ErrorKind::kUsage, "Bech32: mixes upper and lower case");
  auto separator = text.rfind('1');
  if (separator == std::string_view::npos || separator == 0) {
    return make_error(ErrorKind::kUsage, "Bech32: missing the '1' separator after the human-readable part");
  }
  if (text.size() - separator - 1 < kChecksumLength) {
    return make_error(ErrorKind::kUsage, "Bech32: too short to hold a checksum");
  }
  hrp.clear();
  for (char c : text.substr(0, separator)) hrp.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  std::vector<std::uint8_t> values;
  append_hrp_expanded(values, hrp);
  std::size_t data_start = values.size();
  for (char c : text.substr(separator + 1)) {
    auto pos = kCharset.find(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (pos == std::string_view::npos) {
      wipe(values);
      return make_error(ErrorKind::kUsage, "Bech32: invalid character in the data part");
    }
    values.push_back(static_cast<std::uint8_t>(pos));
  }
  bool checksum_ok = polymod(values) == 1;
  if (!checksum_ok) {
    wipe(values);
    return make_error(ErrorKind::kUsage, "Bech32: checksum mismatch (a character is mistyped, missing or swapped)");
  }
  data.clear();
  bool bits_ok = convert_bits(values.data() + data_start, values.size() - data_start - kChecksumLength, 5, 8,
                              false, data);
  wipe(values);
  if (!bits_ok) {
    wipe(data);
    return make_error(ErrorKind::kUsage, "Bech32: invalid padding bits in the data part");
  }
  return {};
}

}  // namespace

std::string bech32_encode(std::string_view hrp, ByteView data) {
  std::vector<std::uint8_t> values;
  append_hrp_expanded(values, hrp);
  std::size_t data_start = values.size();
  convert_bits(data.data(), data.size(), 8, 5, true, values);
  values.insert(values.end(), kChecksumLength, 0);
  std::uint32_t mod = polymod(values) ^ 1;
  std::string out(hrp);
  out.push_back('1');
  for (std::size_t i = data_start; i < values.size() - kChecksumLength; ++i) out.push_back(kCharset[values[i]]);
  for (std::size_t i = 0; i < kChecksumLength; ++i) out.push_back(kCharset[(mod >> (5 * (5 - i))) & 31]);
  wipe(values);
  return out;
}

Result<Bech32Data> bech32_decode(std::string_view text) {
  Bech32Data out;
  K3S_TRY(decode_into(text, out.hrp, out.data));
  return out;
}

Result<SecretBytes> decode_suiprivkey(std::string_view text) {
  K3S_TRY(init());
  auto fail = [](const std::string& what) {
    return make_error(ErrorKind::kUsage, "not a valid Sui private key: " + what);
  };
  std::string hrp;
  std::vector<std::uint8_t> data;
  auto status = decode_into(text, hrp, data);
  if (!status.ok()) return fail(status.error().message);
  struct Wipe {
    std::vector<std::uint8_t>& d;
    ~Wipe() { wipe(d); }
  } wiper{data};
  if (hrp != kSuiPrivateKeyHrp) {
    return fail("the prefix (Bech32 human-readable part) is '" + hrp.substr(0, 20) +
                "', expected 'suiprivkey'");
  }
  if (data.size() != 1 + kSeedSize) {
    return fail("the payload is " + std::to_string(data.size()) + " bytes, expected 33 (a scheme flag and a 32-byte secret key)");
  }
  if (data[0] != kEd25519Flag) {
    static constexpr const char* kSchemes[] = {"Ed25519", "Secp256k1", "Secp256r1", "MultiSig", "ZkLogin", "Passkey"};
    std::string name = data[0] < 6 ? kSchemes[data[0]] : "unknown";
    return fail("the key scheme flag is 0x" + hex_encode(ByteView(&data[0], 1)) + " (" + name +
                "); only Ed25519 keys (flag 0x00) are supported");
  }
  SecretBytes seed(kSeedSize);
  {
    SecretBytes::Writer writer(seed);
    std::copy(data.begin() + 1, data.end(), writer.data());
  }
  return seed;
}

}  // namespace k3s_daas::crypto
