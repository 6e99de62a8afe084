// keys generate / import / show through the real binary: 0600 files, no overwrite, keys from
// stdin and from a sui.keystore, and the secret never printed.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "support/support.hpp"

using namespace k3s_daas::test;
using nlohmann::json;

TEST_CASE("keys: generate, show, refuse to overwrite") {
  TempDir dir;
  auto key = (dir / "sui.key").string();
  auto generated = run_agent({"keys", "generate", "--out", key});
  REQUIRE(generated.exit_code == 0);
  CHECK(generated.out.find("address:") != std::string::npos);
  struct stat st {};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::string secret = read_file(key);
  CHECK(secret.rfind("suiprivkey1", 0) == 0);
  secret.pop_back();  // newline
  CHECK(generated.out.find(secret) == std::string::npos);
  CHECK(generated.err.find(secret) == std::string::npos);

  auto shown = run_agent({"keys", "show", "--key-file", key, "--json"});
  REQUIRE(shown.exit_code == 0);
  auto doc = json::parse(shown.out);
  CHECK(doc.at("scheme") == "ed25519");
  CHECK(doc.at("address").get<std::string>().size() == 66);
  CHECK(doc.at("public_key").get<std::string>().size() == 64);
  CHECK(doc.size() == 3);
  CHECK(shown.out.find(secret) == std::string::npos);

  auto again = run_agent({"keys", "generate", "--out", key});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("refusing to overwrite") != std::string::npos);
  CHECK(read_file(key) == secret + "\n");

  ::chmod(key.c_str(), 0644);
  auto loose = run_agent({"keys", "show", "--key-file", key});
  CHECK(loose.exit_code != 0);
  CHECK(loose.err.find("0644") != std::string::npos);
}

TEST_CASE("keys: import from stdin and from a keystore reproduces the SDK's addresses") {
  K3S_REQUIRE_SHARED();
  auto vectors = json::parse(read_file(*shared_dir() / "testdata/sui/vectors.json"));
  TempDir dir;
  const auto& k0 = vectors.at("keys").at(0);
  const auto& k1 = vectors.at("keys").at(1);

  RunOptions with_stdin;
  with_stdin.stdin_data = k0.at("suiprivkey").get<std::string>() + "\n";
  auto imported = run_agent({"keys", "import", "--suiprivkey", "-", "--out", (dir / "a.key").string(), "--json"}, with_stdin);
  REQUIRE(imported.exit_code == 0);
  CHECK(json::parse(imported.out).at("address") == k0.at("address"));
  CHECK(imported.out.find(k0.at("suiprivkey").get<std::string>()) == std::string::npos);
  CHECK(read_file(dir / "a.key") == k0.at("suiprivkey").get<std::string>() + "\n");

  json keystore = json::array({k0.at("keystore_entry"), k1.at("keystore_entry")});
  write_file(dir / "sui.keystore", keystore.dump(), 0600);
  auto from_store = run_agent({"keys", "import", "--keystore", (dir / "sui.keystore").string(), "--address",
                               k1.at("address").get<std::string>(), "--out", (dir / "b.key").string(), "--json"});
  REQUIRE(from_store.exit_code == 0);
  CHECK(json::parse(from_store.out).at("address") == k1.at("address"));
  auto shown = run_agent({"keys", "show", "--key-file", (dir / "b.key").string(), "--json"});
  CHECK(json::parse(shown.out).at("public_key") == k1.at("public_key_hex"));

  auto bad = run_agent({"keys", "import", "--suiprivkey", "suiprivkey1qqqq", "--out", (dir / "c.key").string()});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("not a valid Sui private key") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "c.key"));
  auto both = run_agent({"keys", "import", "--out", (dir / "d.key").string()});
  CHECK(both.exit_code == 2);
}

TEST_CASE("keys show: under systemd, $CREDENTIALS_DIRECTORY/sui.key is the key, and the log names the file only") {
  TempDir dir;
  auto configured = run_agent({"keys", "generate", "--out", (dir / "sui.key").string(), "--json"});
  REQUIRE(configured.exit_code == 0);
  std::filesystem::create_directories(dir / "credentials");
  auto credential_file = dir / "credentials" / "sui.key";
  auto credential = run_agent({"keys", "generate", "--out", credential_file.string(), "--json"});
  REQUIRE(credential.exit_code == 0);
  const std::string zeros(64, '0');
  json config = {
      {"node_id", "worker-credentials"},
      {"state_dir", (dir / "state").string()},
      {"sui",
       {{"rpc_urls", {"http://127.0.0.1:9/graphql"}},
        {"key_file", (dir / "sui.key").string()},
        {"package_id", "0x" + zeros.substr(1) + "1"},
        {"staking_pool_id", "0x" + zeros.substr(1) + "2"}}},
      {"master", {{"url", "http://127.0.0.1:9"}, {"allow_insecure_http", true}}},
  };
  write_file(dir / "config.json", config.dump(2));
  const std::vector<std::string> show = {"--config", (dir / "config.json").string(), "keys", "show", "--json"};

  auto plain = run_agent(show, RunOptions{.unset_env = {"CREDENTIALS_DIRECTORY"}});
  REQUIRE(plain.exit_code == 0);
  CHECK(json::parse(plain.out).at("address") == json::parse(configured.out).at("address"));

  RunOptions under_systemd;
  under_systemd.env["CREDENTIALS_DIRECTORY"] = (dir / "credentials").string();
  auto shown = run_agent(show, under_systemd);
  REQUIRE(shown.exit_code == 0);
  CHECK(json::parse(shown.out).at("address") == json::parse(credential.out).at("address"));
  CHECK(shown.err.find("systemd credential " + credential_file.string()) != std::string::npos);
  std::string secret = read_file(credential_file);
  secret.pop_back();  // newline
  CHECK(shown.err.find(secret) == std::string::npos);
  CHECK(shown.out.find(secret) == std::string::npos);

  ::chmod(credential_file.c_str(), 0644);
  auto loose = run_agent(show, under_systemd);
  CHECK(loose.exit_code != 0);
  CHECK(loose.err.find("0644") != std::string::npos);
}
