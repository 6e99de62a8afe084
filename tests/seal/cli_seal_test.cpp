// `k3s-daas seal-token issue|verify` (interface.md) without a chain: the token goes to stdout
// only, verify prints the fields and exits 0/1.
#include <doctest/doctest.h>

#include "k3s_daas/crypto.hpp"
#include "support/support.hpp"

using namespace k3s_daas;
using namespace k3s_daas::test;

TEST_CASE("seal-token issue prints the token on stdout only; verify --no-chain checks it") {
  TempDir dir;
  auto key = crypto::Ed25519Keypair::generate();
  REQUIRE(key.ok());
  REQUIRE(crypto::write_key_file(dir / "sui.key", key.value()).ok());
  nlohmann::json config = {
      {"node_id", "worker-7"},
      {"state_dir", (dir / "state").string()},
      {"sui",
       {{"rpc_urls", {"http://127.0.0.1:9/graphql"}},
        {"key_file", (dir / "sui.key").string()},
        {"package_id", "0x7"},
        {"staking_pool_id", "0x8"}}},
      {"master",
       {{"url", "https://master.test:8443"},
        {"ca_file", (dir / "ca.pem").string()},
        {"cert_file", (dir / "client.pem").string()},
        {"key_file", (dir / "client.key").string()},
        {"seal_token_ttl_s", 900}}}};
  // (never used here: the config only has to be valid)
  write_file(dir / "ca.pem", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", 0644);
  write_file(dir / "client.pem", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", 0644);
  write_file(dir / "client.key", "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n", 0600);
  write_file(dir / "config.json", config.dump(2), 0600);
  const std::string cfg = (dir / "config.json").string();
  const std::string stake_id = "0x" + std::string(64, 'd');

  auto issued = run_agent({"--config", cfg, "--log-level", "trace", "seal-token", "issue", "--stake-id", stake_id});
  REQUIRE_MESSAGE(issued.exit_code == 0, issued.err);
  std::string token = issued.out.substr(0, issued.out.find('\n'));
  CHECK(issued.out == token + "\n");
  REQUIRE(token.rfind("sealv1.", 0) == 0);
  CHECK(issued.err.find("sealv1.") == std::string::npos);

  auto json_issue = run_agent({"--config", cfg, "seal-token", "issue", "--stake-id", stake_id, "--json"});
  REQUIRE(json_issue.exit_code == 0);
  auto issued_doc = nlohmann::json::parse(json_issue.out);
  CHECK(issued_doc["token"].get<std::string>().rfind("sealv1.", 0) == 0);
  CHECK(issued_doc["node_id"] == "worker-7");
  CHECK(issued_doc["staker"] == key.value().address().to_hex());
  CHECK(issued_doc["expires_at_ms"].get<std::uint64_t>() - issued_doc["issued_at_ms"].get<std::uint64_t>() == 900'000);
  CHECK(issued_doc["renew_at_ms"].get<std::uint64_t>() - issued_doc["issued_at_ms"].get<std::uint64_t>() == 600'000);

  // Verify needs no config with --no-chain.
  RunOptions no_config;
  no_config.unset_env = {"K3S_DAAS_CONFIG"};
  auto verified = run_agent({"seal-token", "verify", token, "--no-chain"}, no_config);
  REQUIRE_MESSAGE(verified.exit_code == 0, verified.err);
  CHECK(verified.out.find("seal token: valid") != std::string::npos);
  CHECK(verified.out.find("node_id:    worker-7") != std::string::npos);
  CHECK(verified.out.find("stake_id:   " + stake_id) != std::string::npos);
  CHECK(verified.out.find("not checked (--no-chain)") != std::string::npos);
  CHECK(verified.out.find(token) == std::string::npos);

  // Tampered: the payload's last character, the prefix.
  std::string tampered = token;
  auto dot = tampered.rfind('.');
  tampered[dot - 1] = tampered[dot - 1] == 'A' ? 'B' : 'A';
  auto bad = run_agent({"seal-token", "verify", tampered, "--no-chain", "--json"}, no_config);
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find(tampered) == std::string::npos);
  auto bad_doc = nlohmann::json::parse(bad.out);
  CHECK(bad_doc["valid"] == false);
  auto prefix = run_agent({"seal-token", "verify", "sealv2." + token.substr(7), "--no-chain"}, no_config);
  CHECK(prefix.exit_code == 1);
  CHECK(prefix.err.find("bad_prefix") != std::string::npos);
  // The audience rule when asked for.
  auto audience = run_agent({"--config", cfg, "seal-token", "issue", "--stake-id", stake_id, "--audience", std::string(64, 'a')});
  REQUIRE(audience.exit_code == 0);
  std::string for_a = audience.out.substr(0, audience.out.find('\n'));
  CHECK(run_agent({"seal-token", "verify", for_a, "--no-chain", "--audience", std::string(64, 'a')}, no_config).exit_code == 0);
  auto other = run_agent({"seal-token", "verify", for_a, "--no-chain", "--audience", std::string(64, 'b')}, no_config);
  CHECK(other.exit_code == 1);
  CHECK(other.err.find("wrong_audience") != std::string::npos);
  // Usage: a bad --audience, a lifetime beyond 24 h.
  CHECK(run_agent({"--config", cfg, "seal-token", "issue", "--stake-id", stake_id, "--audience", "xyz"}).exit_code == 2);
  CHECK(run_agent({"--config", cfg, "seal-token", "issue", "--stake-id", stake_id, "--ttl", "90000"}).exit_code == 2);
}
