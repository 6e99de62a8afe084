// Key files owned by another user, and key files behind symbolic links (issue 13, attack tests),
// through the real binary (`k3s-daas keys show`, with --key-file and through the config's
// sui.key_file) and through MasterClient::create for the master's mTLS key (what `run` calls with
// master.key_file). Needs root (chown to uid 65534); skipped with a message otherwise.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "k3s_daas/master.hpp"
#include "support/support.hpp"

using namespace k3s_daas;
using namespace k3s_daas::test;
using nlohmann::json;

namespace {

constexpr uid_t kNobody = 65534;

#define K3S_REQUIRE_ROOT()                                                                     \
  if (::geteuid() != 0) {                                                                      \
    MESSAGE("SKIPPED: needs root to give a key file to uid 65534 (chown); run the suite as root"); \
    return;                                                                                    \
  }

std::string new_key(const std::filesystem::path& path) {
  auto made = run_agent({"keys", "generate", "--out", path.string(), "--json"});
  REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  return json::parse(made.out).at("address").get<std::string>();
}

// A config in `dir` whose sui.key_file is `key_file` (relative: resolved against the config's folder).
std::filesystem::path write_config(const std::filesystem::path& dir, const std::string& key_file) {
  const std::string zeros(64, '0');
  json config = {
      {"node_id", "worker-owner"},
      {"state_dir", (dir / "state").string()},
      {"sui",
       {{"rpc_urls", {"http://127.0.0.1:9/graphql"}},
        {"key_file", key_file},
        {"package_id", "0x" + zeros.substr(1) + "1"},
        {"staking_pool_id", "0x" + zeros.substr(1) + "2"}}},
      {"master", {{"url", "http://127.0.0.1:9"}, {"allow_insecure_http", true}}},
  };
  write_file(dir / "config.json", config.dump(2));
  return dir / "config.json";
}

RunResult show_with_config(const std::filesystem::path& config) {
  return run_agent({"--config", config.string(), "keys", "show", "--json"}, RunOptions{.unset_env = {"CREDENTIALS_DIRECTORY"}});
}

}  // namespace

TEST_CASE("a Sui key file owned by another user is refused, naming the file and the owner") {
  K3S_REQUIRE_ROOT();
  TempDir dir;
  auto key = dir / "sui.key";
  const std::string address = new_key(key);
  auto config = write_config(dir.path(), "sui.key");

  auto owned = show_with_config(config);  // control: root's own 0600 key is used
  REQUIRE_MESSAGE(owned.exit_code == 0, owned.err);
  CHECK(json::parse(owned.out).at("address") == address);

  REQUIRE(::chown(key.c_str(), kNobody, kNobody) == 0);
  struct stat st {};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  REQUIRE((st.st_mode & 07777) == 0600);  // the mode alone would pass

  for (const auto& result : {show_with_config(config), run_agent({"keys", "show", "--key-file", key.string()})}) {
    CAPTURE(result.err);
    CHECK(result.exit_code != 0);
    CHECK(result.err.find(key.string()) != std::string::npos);
    CHECK(result.err.find("owned by uid 65534") != std::string::npos);
    CHECK(result.out.find(address) == std::string::npos);
  }
  CHECK(show_with_config(config).err.find("sui.key_file") != std::string::npos);

  // Group-owned by another group only (owner root): accepted, the mode rules the rest.
  REQUIRE(::chown(key.c_str(), 0, kNobody) == 0);
  CHECK(show_with_config(config).exit_code == 0);
}

TEST_CASE("the master mTLS key file owned by another user is refused by MasterClient::create") {
  K3S_REQUIRE_ROOT();
  TempDir dir;
  auto made = run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                   "-keyout", (dir / "client.key").string(), "-out", (dir / "client.pem").string(), "-subj",
                   "/CN=worker-1", "-days", "1"});
  REQUIRE(made.exit_code == 0);
  REQUIRE(::chmod((dir / "client.key").c_str(), 0600) == 0);
  master::MasterClientOptions options;
  options.url = "https://127.0.0.1:9";
  options.tls.ca_file = (dir / "client.pem").string();
  options.tls.cert_file = (dir / "client.pem").string();
  options.tls.key_file = (dir / "client.key").string();
  options.node_id = "worker-1";
  options.state_dir = dir / "state";
  for (std::uint32_t i : {0u, 1u, 2u}) options.attestation.expected_pcrs[i] = Bytes(48, static_cast<std::uint8_t>(i + 1));

  {
    auto control = master::MasterClient::create(options);  // root's own 0600 key: accepted
    REQUIRE_MESSAGE(control.ok(), control.error().message);
  }
  REQUIRE(::chown((dir / "client.key").c_str(), kNobody, kNobody) == 0);
  auto refused = master::MasterClient::create(options);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::kConfig);
  CHECK(refused.error().message.find("master.key_file") != std::string::npos);
  CHECK(refused.error().message.find((dir / "client.key").string()) != std::string::npos);
  CHECK(refused.error().message.find("owned by uid 65534") != std::string::npos);

  // Behind a link: the target is judged (owner, then mode).
  std::filesystem::create_symlink(dir / "client.key", dir / "link.key");
  options.tls.key_file = (dir / "link.key").string();
  auto linked = master::MasterClient::create(options);
  REQUIRE_FALSE(linked.ok());
  CHECK(linked.error().message.find("owned by uid 65534") != std::string::npos);
}

TEST_CASE("a Sui key file behind a symbolic link in the config's key_file") {
  K3S_REQUIRE_ROOT();
  TempDir dir;
  std::filesystem::create_directories(dir / "keys");
  const std::string address = new_key(dir / "keys" / "real.key");
  auto config = write_config(dir.path(), "link.key");
  auto link = dir / "link.key";

  // A link (root's) to root's 0600 key is followed: operators point key_file at a mounted secret
  // (Kubernetes secret volumes are links, systemd credentials may be).
  std::filesystem::create_symlink(dir / "keys" / "real.key", link);
  auto followed = show_with_config(config);
  REQUIRE_MESSAGE(followed.exit_code == 0, followed.err);
  CHECK(json::parse(followed.out).at("address") == address);

  // The target decides: its owner and its mode are checked, not the link's.
  REQUIRE(::chown((dir / "keys" / "real.key").c_str(), kNobody, kNobody) == 0);
  auto foreign_target = show_with_config(config);
  CHECK(foreign_target.exit_code != 0);
  CHECK(foreign_target.err.find(link.string()) != std::string::npos);
  CHECK(foreign_target.err.find("owned by uid 65534") != std::string::npos);
  REQUIRE(::chown((dir / "keys" / "real.key").c_str(), 0, 0) == 0);
  REQUIRE(::chmod((dir / "keys" / "real.key").c_str(), 0644) == 0);
  auto loose_target = show_with_config(config);
  CHECK(loose_target.exit_code != 0);
  CHECK(loose_target.err.find("0644") != std::string::npos);
  REQUIRE(::chmod((dir / "keys" / "real.key").c_str(), 0600) == 0);

  // A link owned by another user, in root's 0700 folder, to root's key: followed. Owning a link
  // gives no power over it (re-pointing it needs write access to its folder, which is root's);
  // in a sticky world-writable folder the kernel's fs.protected_symlinks refuses root to follow it.
  REQUIRE(::lchown(link.c_str(), kNobody, kNobody) == 0);
  auto foreign_link = show_with_config(config);
  CHECK_MESSAGE(foreign_link.exit_code == 0, foreign_link.err);

  // A dangling link and a link to a folder: refused, naming the path.
  std::filesystem::remove(link);
  std::filesystem::create_symlink(dir / "keys" / "gone.key", link);
  auto dangling = show_with_config(config);
  CHECK(dangling.exit_code != 0);
  CHECK(dangling.err.find(link.string()) != std::string::npos);
  std::filesystem::remove(link);
  std::filesystem::create_symlink(dir / "keys", link);
  auto folder = show_with_config(config);
  CHECK(folder.exit_code != 0);
  CHECK(folder.err.find("not a regular file") != std::string::npos);
}
