// Keys, addresses, suiprivkey/keystore forms and personal-message signatures against the
// vectors made with the official @mysten/sui SDK (../shared/testdata/sui/vectors.json).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "k3s_daas/crypto.hpp"
#include "support/support.hpp"

using namespace k3s_daas;
using namespace k3s_daas::crypto;

namespace {

nlohmann::json load_vectors() {
  auto dir = test::shared_dir();
  return nlohmann::json::parse(test::read_file(*dir / "testdata/sui/vectors.json"));
}

std::string secret_text(const SecretBytes& secret) {
  SecretBytes::Reader reader(secret);
  return std::string(reinterpret_cast<const char*>(reader.data()), reader.size());
}

Bytes unhex(const std::string& text) { return hex_decode(text).value(); }

}  // namespace

TEST_CASE("crypto: every SDK key vector is reproduced") {
  K3S_REQUIRE_SHARED();
  auto vectors = load_vectors();
  REQUIRE(vectors["keys"].size() >= 1);
  for (const auto& key : vectors["keys"]) {
    CAPTURE(key["address"].get<std::string>());
    auto keypair = Ed25519Keypair::from_seed(unhex(key["seed_hex"]));
    REQUIRE(keypair.ok());
    CHECK(hex_encode(keypair->public_key()) == key["public_key_hex"].get<std::string>());
    CHECK(keypair->address().to_hex() == key["address"].get<std::string>());
    CHECK(secret_text(keypair->suiprivkey()) == key["suiprivkey"].get<std::string>());
    CHECK(secret_text(keypair->keystore_entry()) == key["keystore_entry"].get<std::string>());

    auto from_bech = Ed25519Keypair::from_suiprivkey(key["suiprivkey"].get<std::string>());
    REQUIRE(from_bech.ok());
    CHECK(from_bech->address() == keypair->address());
    auto from_store = Ed25519Keypair::from_keystore_entry(key["keystore_entry"].get<std::string>());
    REQUIRE(from_store.ok());
    CHECK(from_store->public_key() == keypair->public_key());

    for (const auto& pm : key["personal_messages"]) {
      Bytes message = unhex(pm["message_hex"]);
      CHECK(to_string(message) == pm["message_utf8"].get<std::string>());
      Bytes signature = keypair->sign_personal_message(message);
      CHECK(base64_encode(signature) == pm["signature_b64"].get<std::string>());
      auto signer = verify_personal_message(message, pm["signature_b64"].get<std::string>());
      REQUIRE(signer.ok());
      CHECK(*signer == keypair->address());
      // The same signature must not verify for another message.
      Bytes other = message;
      other.push_back('!');
      auto wrong = verify_personal_message(other, signature);
      REQUIRE_FALSE(wrong.ok());
      CHECK(wrong.error().kind == ErrorKind::kVerify);
    }
  }
}

TEST_CASE("crypto: address parsing and formatting") {
  auto a = Address::parse("0x2");
  REQUIRE(a.ok());
  CHECK(a->to_hex() == "0x0000000000000000000000000000000000000000000000000000000000000002");
  auto b = Address::parse("0xA9960FA0347DA2F694C3413718CABCDD8576AD174EDE6E6812CFDBC1BC5F2D70");
  REQUIRE(b.ok());
  CHECK(b->to_hex() == "0xa9960fa0347da2f694c3413718cabcdd8576ad174ede6e6812cfdbc1bc5f2d70");
  CHECK_FALSE(Address::parse("0x").ok());
  CHECK_FALSE(Address::parse("0xzz").ok());
  CHECK_FALSE(Address::parse("0x" + std::string(65, '1')).ok());
}

TEST_CASE("crypto: generic Ed25519 verify and serialized signatures") {
  auto keypair = Ed25519Keypair::generate();
  REQUIRE(keypair.ok());
  Bytes message = {1, 2, 3};
  Signature sig = keypair->sign(message);
  CHECK(ed25519_verify(keypair->public_key(), message, sig));
  Bytes tampered = message;
  tampered[0] ^= 1;
  CHECK_FALSE(ed25519_verify(keypair->public_key(), tampered, sig));
  CHECK_FALSE(ed25519_verify(ByteView(keypair->public_key()).first(31), message, sig));
  CHECK_FALSE(ed25519_verify(keypair->public_key(), message, ByteView(sig).first(63)));

  Bytes tx = {0, 1, 2, 3, 4};
  Bytes serialized = keypair->sign_transaction(tx);
  REQUIRE(serialized.size() == kSerializedSignatureSize);
  auto signer = verify_transaction_signature(tx, serialized);
  REQUIRE(signer.ok());
  CHECK(*signer == keypair->address());
  // A transaction signature is not a personal-message signature (different intent).
  CHECK_FALSE(verify_personal_message(tx, serialized).ok());

  Bytes wrong_flag = serialized;
  wrong_flag[0] = 0x01;
  auto parsed = SerializedSignature::parse(wrong_flag);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().message.find("Secp256k1") != std::string::npos);
  CHECK_FALSE(SerializedSignature::parse(ByteView(serialized).first(96)).ok());
  CHECK_FALSE(SerializedSignature::parse(Bytes{}).ok());
  CHECK_FALSE(SerializedSignature::parse_base64("not base64!").ok());
}

TEST_CASE("crypto: BLAKE2b-256 known answer") {
  // BLAKE2b-256 of the empty string.
  CHECK(hex_encode(blake2b256(ByteView())) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  Bytes abc = {'a', 'b', 'c'};
  CHECK(blake2b256({ByteView(abc).first(1), ByteView(abc).subspan(1)}) == blake2b256(abc));
}

TEST_CASE("crypto: bech32 BIP-173 vectors") {
  for (const char* valid : {"A12UEL5L", "a12uel5l",
                            "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
                            "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w"}) {
    CAPTURE(valid);
    auto decoded = bech32_decode(valid);
    // Some of these carry 5-bit data whose bits do not pad to whole bytes; the checksum is what
    // BIP-173 validates, so only assert that the failure is not a checksum failure.
    if (!decoded.ok()) {
      CHECK(decoded.error().message.find("padding") != std::string::npos);
    }
  }
  struct Invalid {
    const char* text;
    const char* reason;
  };
  for (const auto& invalid : {Invalid{"pzry9x0s0muk", "separator"}, Invalid{"1pzry9x0s0muk", "separator"},
                              Invalid{"x1b4n0q5v", "invalid character"}, Invalid{"li1dgmt3", "too short"},
                              Invalid{"A1G7SGD8", "checksum"}, Invalid{"10a06t8", "separator"},
                              Invalid{"1qzzfhee", "separator"}}) {
    CAPTURE(invalid.text);
    auto decoded = bech32_decode(invalid.text);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().message.find(invalid.reason) != std::string::npos);
  }
  Bytes data = {0x00, 0x01, 0xfe, 0xff};
  std::string encoded = bech32_encode("test", data);
  auto back = bech32_decode(encoded);
  REQUIRE(back.ok());
  CHECK(back->hrp == "test");
  CHECK(back->data == data);
}

TEST_CASE("crypto: suiprivkey errors are named and never echo the key") {
  auto keypair = Ed25519Keypair::generate();
  REQUIRE(keypair.ok());
  std::string good = secret_text(keypair->suiprivkey());
  REQUIRE(Ed25519Keypair::from_suiprivkey(good).ok());

  auto expect_error = [&](const std::string& text, const std::string& needle) {
    CAPTURE(needle);
    auto result = Ed25519Keypair::from_suiprivkey(text);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message.find(needle) != std::string::npos);
    CHECK(result.error().message.find(text.size() > 20 ? text.substr(11) : "\x01") == std::string::npos);
  };

  SUBCASE("bad checksum") {
    std::string bad = good;
    bad[20] = bad[20] == 'q' ? 'p' : 'q';
    expect_error(bad, "checksum");
  }
  SUBCASE("wrong HRP") {
    Bytes payload(33, 7);
    payload[0] = 0;
    expect_error(bech32_encode("suipubkey", payload), "expected 'suiprivkey'");
  }
  SUBCASE("wrong flag") {
    Bytes payload(33, 7);
    payload[0] = 0x01;
    expect_error(bech32_encode("suiprivkey", payload), "Secp256k1");
  }
  SUBCASE("wrong length") {
    Bytes payload(32, 7);
    payload[0] = 0;
    expect_error(bech32_encode("suiprivkey", payload), "32 bytes, expected 33");
    Bytes longer(34, 7);
    longer[0] = 0;
    expect_error(bech32_encode("suiprivkey", longer), "34 bytes, expected 33");
  }
  SUBCASE("mixed case") {
    // The key is random: upper-case the first letter of the data part (a digit has no case).
    std::string mixed = good;
    for (std::size_t i = good.find('1') + 1; i < mixed.size(); ++i) {
      if (std::isalpha(static_cast<unsigned char>(mixed[i]))) {
        mixed[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(mixed[i])));
        break;
      }
    }
    REQUIRE(mixed != good);
    expect_error(mixed, "mixes upper and lower case");
  }
  SUBCASE("all upper case is valid Bech32") {
    std::string upper = good;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto result = Ed25519Keypair::from_suiprivkey(upper);
    REQUIRE(result.ok());
    CHECK(result->address() == keypair->address());
  }
  SUBCASE("empty and garbage") {
    expect_error("", "separator");
    expect_error(std::string(120, 'q'), "at most 90");
  }
}

TEST_CASE("crypto: secret bytes move and read") {
  SecretBytes a(16);
  {
    SecretBytes::Writer w(a);
    for (std::size_t i = 0; i < w.size(); ++i) w.data()[i] = static_cast<std::uint8_t>(i);
  }
  SecretBytes b = std::move(a);
  CHECK(a.empty());
  CHECK(b.size() == 16);
  {
    SecretBytes::Reader r1(b);
    SecretBytes::Reader r2(b);  // nested readers
    CHECK(r1.data()[5] == 5);
    CHECK(r2.data()[15] == 15);
  }
  SecretBytes::Reader r3(b);
  CHECK(r3.data()[0] == 0);
}
