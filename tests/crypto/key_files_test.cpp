// Key files and sui.keystore files: permissions, refusal to overwrite, selection by address,
// and redaction of the loaded secret.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "k3s_daas/config.hpp"
#include "k3s_daas/crypto.hpp"
#include "k3s_daas/log.hpp"
#include "support/support.hpp"

using namespace k3s_daas;
using namespace k3s_daas::crypto;

namespace {
std::string secret_text(const SecretBytes& secret) {
  SecretBytes::Reader reader(secret);
  return std::string(reinterpret_cast<const char*>(reader.data()), reader.size());
}
}  // namespace

TEST_CASE("key file: write, load, refuse overwrite, mode and redaction") {
  test::TempDir dir;
  auto keypair = Ed25519Keypair::generate();
  REQUIRE(keypair.ok());
  auto path = dir / "sui.key";
  REQUIRE(write_key_file(path, *keypair).ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::string content = test::read_file(path);
  std::string bech = secret_text(keypair->suiprivkey());
  CHECK(content == bech + "\n");

  auto again = write_key_file(path, *keypair);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().message.find("refusing to overwrite") != std::string::npos);

  log::clear_registered_secrets();
  auto loaded = load_key_file(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->address() == keypair->address());
  // The loaded key is registered for redaction.
  std::string redacted = log::redact("key=" + bech);
  CHECK(redacted.find(bech) == std::string::npos);

  ::chmod(path.c_str(), 0644);
  auto open_mode = load_key_file(path, "sui.key_file");
  REQUIRE_FALSE(open_mode.ok());
  CHECK(open_mode.error().message.find("0644") != std::string::npos);
  CHECK(open_mode.error().message.find("sui.key_file") != std::string::npos);
}

TEST_CASE("key file: malformed content is refused without echoing it") {
  test::TempDir dir;
  auto path = dir / "bad.key";
  test::write_file(path, "suiprivkey1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq\n", 0600);
  auto loaded = load_key_file(path);
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().message.find("checksum") != std::string::npos);
  CHECK(loaded.error().message.find("qqqqqqqqqqqq") == std::string::npos);

  test::write_file(path, "", 0600);
  CHECK_FALSE(load_key_file(path).ok());
  test::write_file(path, "a\nb\n", 0600);
  auto two = load_key_file(path);
  REQUIRE_FALSE(two.ok());
  CHECK(two.error().message.find("several lines") != std::string::npos);
  CHECK_FALSE(load_key_file(dir / "missing.key").ok());
}

TEST_CASE("keystore: the entry whose address matches is selected") {
  test::TempDir dir;
  auto k1 = Ed25519Keypair::generate();
  auto k2 = Ed25519Keypair::generate();
  REQUIRE(k1.ok());
  REQUIRE(k2.ok());
  // A Secp256k1 entry (flag 0x01) is skipped, not an error.
  Bytes secp(33, 9);
  secp[0] = 0x01;
  nlohmann::json doc = nlohmann::json::array({base64_encode(secp), secret_text(k1->keystore_entry()),
                                              secret_text(k2->keystore_entry()), 42});
  auto path = dir / "sui.keystore";
  test::write_file(path, doc.dump(), 0600);

  auto found = load_keystore(path, k2->address());
  REQUIRE(found.ok());
  CHECK(found->public_key() == k2->public_key());

  auto other = Ed25519Keypair::generate();
  REQUIRE(other.ok());
  auto missing = load_keystore(path, other->address());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find(other->address().to_hex()) != std::string::npos);
  CHECK(missing.error().message.find("2 Ed25519") != std::string::npos);

  config::SuiConfig sui;
  sui.keystore = config::KeystoreRef{path.string(), k1->address().to_hex()};
  auto via_config = load_signing_key(sui);
  REQUIRE(via_config.ok());
  CHECK(via_config->address() == k1->address());

  ::chmod(path.c_str(), 0640);
  CHECK_FALSE(load_keystore(path, k2->address()).ok());
  test::write_file(path, "{}", 0600);
  CHECK_FALSE(load_keystore(path, k2->address()).ok());
}
