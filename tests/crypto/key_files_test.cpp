// Key files and sui.keystore files: permissions, refusal to overwrite, selection by address,
// and redaction of the loaded secret.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

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

  KeySource source;
  source.keystore_path = path;
  source.keystore_address = k1->address().to_hex();
  auto via_source = load_signing_key(source);
  REQUIRE(via_source.ok());
  CHECK(via_source->address() == k1->address());

  ::chmod(path.c_str(), 0640);
  CHECK_FALSE(load_keystore(path, k2->address()).ok());
  test::write_file(path, "{}", 0600);
  CHECK_FALSE(load_keystore(path, k2->address()).ok());
}

TEST_CASE("signing key: a systemd credential sui.key is used instead of the key file, under the same rules") {
  test::TempDir dir;
  auto configured = Ed25519Keypair::generate();
  auto credential = Ed25519Keypair::generate();
  REQUIRE(configured.ok());
  REQUIRE(credential.ok());
  REQUIRE(write_key_file(dir / "sui.key", *configured).ok());
  auto credentials = dir / "credentials";
  std::filesystem::create_directories(credentials);
  KeySource source;
  source.key_file = dir / "sui.key";
  source.credentials_dir = credentials;

  MESSAGE("$CREDENTIALS_DIRECTORY without sui.key: the key file");
  auto from_file = load_signing_key(source);
  REQUIRE(from_file.ok());
  CHECK(from_file->address() == configured->address());

  MESSAGE("with sui.key: the credential, even when the key file is missing");
  REQUIRE(write_key_file(credentials / kKeyCredentialName, *credential).ok());
  std::filesystem::remove(dir / "sui.key");
  auto from_credential = load_signing_key(source);
  REQUIRE(from_credential.ok());
  CHECK(from_credential->address() == credential->address());
  source.key_file.clear();  // and with a keystore-only config
  source.keystore_path = dir / "no.keystore";
  source.keystore_address = configured->address().to_hex();
  REQUIRE(load_signing_key(source).ok());
  CHECK(load_signing_key(source)->address() == credential->address());

  MESSAGE("readable by others: refused, never a silent fall back to the key file");
  ::chmod((credentials / kKeyCredentialName).c_str(), 0640);
  auto loose = load_signing_key(source);
  REQUIRE_FALSE(loose.ok());
  CHECK(loose.error().message.find("0640") != std::string::npos);
  CHECK(loose.error().message.find("CREDENTIALS_DIRECTORY") != std::string::npos);
  ::chmod((credentials / kKeyCredentialName).c_str(), 0400);  // what systemd gives it
  CHECK(load_signing_key(source).ok());

  MESSAGE("a symlink out of the credentials folder: refused; one inside it: followed");
  auto outside = dir / "outside.key";
  REQUIRE(write_key_file(outside, *configured).ok());
  std::filesystem::rename(credentials / kKeyCredentialName, credentials / "real.key");
  std::filesystem::create_symlink(outside, credentials / kKeyCredentialName);
  auto linked_out = load_signing_key(source);
  REQUIRE_FALSE(linked_out.ok());
  CHECK(linked_out.error().message.find("symbolic link out of the credentials folder") != std::string::npos);
  std::filesystem::remove(credentials / kKeyCredentialName);
  std::filesystem::create_symlink("real.key", credentials / kKeyCredentialName);
  auto linked_in = load_signing_key(source);
  REQUIRE(linked_in.ok());
  CHECK(linked_in->address() == credential->address());

  MESSAGE("no credentials folder: the keystore / key file rules as before");
  source.credentials_dir.clear();
  auto no_keystore = load_signing_key(source);
  REQUIRE_FALSE(no_keystore.ok());
  CHECK(no_keystore.error().message.find("sui.keystore.path") != std::string::npos);
  CHECK(load_signing_key(KeySource{}).error().message.find("no signing key configured") != std::string::npos);
}
