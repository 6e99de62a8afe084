// The whole path with the chain: stake on the Sui stand-in with `k3s-daas stake`, a seal token
// from `k3s-daas seal-token issue`, a master stand-in that checks the StakeRecord on chain;
// register, heartbeat, a slash seen through the master (command 3), and `seal-token verify`.
#include <doctest/doctest.h>

#include "k3s_daas/config.hpp"
#include "k3s_daas/crypto.hpp"
#include "k3s_daas/master.hpp"
#include "peer_fixture.hpp"

using namespace k3s_daas;
using namespace k3s_daas::master;
using namespace k3s_daas::test;

TEST_CASE("stake on chain, seal token, register with the master's chain check, slash -> command 3") {
  K3S_REQUIRE_MASTER_PEER();
  if (!std::filesystem::exists(source_dir() / "tests/peers/sui-devnet/server.mjs")) {
    MESSAGE("SKIPPED: tests/peers/sui-devnet is missing");
    return;
  }
  Peer sui = start_sui_devnet();
  const auto& chain = sui.ready();
  const std::string admin = chain["admin"];
  TempDir dir;
  auto key = crypto::Ed25519Keypair::generate();
  REQUIRE(key.ok());
  REQUIRE(crypto::write_key_file(dir / "sui.key", key.value()).ok());
  admin_post(admin + "/fund", {{"address", key.value().address().to_hex()}, {"amount_mist", "5000000000"}, {"coins", 2}});

  MasterPeer master({"--sui-graphql", chain["graphql"].get<std::string>(), "--package-id",
                     chain["package_id"].get<std::string>(), "--min-stake", chain["min_stake_mist"].get<std::string>()});
  nlohmann::json doc = {
      {"node_id", "worker-1"},
      {"state_dir", (dir / "state").string()},
      {"sui",
       {{"rpc_urls", {chain["graphql"]}},
        {"key_file", (dir / "sui.key").string()},
        {"package_id", chain["package_id"]},
        {"staking_pool_id", chain["staking_pool_id"]},
        {"min_stake_mist", std::stoull(chain["min_stake_mist"].get<std::string>())}}},
      {"master",
       {{"url", master.url},
        {"ca_file", (test_pki() / "tls-ca.pem").string()},
        {"cert_file", (test_pki() / "client.pem").string()},
        {"key_file", (test_pki() / "client.key").string()},
        {"seal_token_ttl_s", 600},
        {"attestation",
         {{"pcr0", master.pcr0},
          {"pcr1", master.pcr1},
          {"pcr2", master.pcr2},
          {"root_ca_file", (test_pki() / "nitro-root.pem").string()}}}}}};
  const auto config_path = dir / "config.json";
  write_file(config_path, doc.dump(2), 0600);
  const std::string cfg = config_path.string();

  auto staked = run_agent({"--config", cfg, "stake", "--yes"});
  INFO("stake: " << staked.out << staked.err);
  REQUIRE(staked.exit_code == 0);

  auto config = config::load(config_path);
  REQUIRE_MESSAGE(config.ok(), config.error().message);
  auto options = MasterClientOptions::from_config(config.value(), "0.1.0-test");
  REQUIRE(options.ok());
  options.value().retry.max_attempts = 1;
  auto created = MasterClient::create(options.value());
  REQUIRE_MESSAGE(created.ok(), created.error().message);
  MasterClient& client = created.value();
  auto trusted = client.attest();
  REQUIRE_MESSAGE(trusted.ok(), trusted.error().message);

  // The token comes from the CLI, on stdout only.
  auto issued = run_agent({"--config", cfg, "seal-token", "issue", "--audience", master.enclave_key});
  REQUIRE_MESSAGE(issued.exit_code == 0, issued.err);
  std::string token = issued.out;
  while (!token.empty() && token.back() == '\n') token.pop_back();
  REQUIRE(token.rfind("sealv1.", 0) == 0);
  CHECK(issued.err.find(token) == std::string::npos);
  CHECK(issued.err.find("sealv1.") == std::string::npos);

  auto registered = client.register_worker(token, NodeInfo{"host", "i-chain", "amd64", 2, 1 << 30});
  REQUIRE_MESSAGE(registered.ok(), registered.error().message);
  auto beat = client.heartbeat(token, {});
  REQUIRE_MESSAGE(beat.ok(), beat.error().message);
  CHECK(beat.value().command == Command::kNone);
  auto state = master.state();
  CHECK(state["chain_check"] == true);
  CHECK(state["counters"]["chain"]["queries"].get<int>() >= 2);
  CHECK(state["counters"]["chain"]["errors"] == 0);

  // seal-token verify, with the chain: valid.
  RunOptions stdin_token;
  stdin_token.stdin_data = token + "\n";
  auto verified = run_agent({"--config", cfg, "seal-token", "verify", "-", "--audience", master.enclave_key, "--json"},
                            stdin_token);
  REQUIRE_MESSAGE(verified.exit_code == 0, verified.err);
  auto verdict = nlohmann::json::parse(verified.out);
  CHECK(verdict["chain"]["checked"] == true);
  CHECK(verdict["chain"]["status"] == "ACTIVE");

  // A token naming a StakeRecord that does not exist: the master refuses it (401), so does verify.
  auto wrong = run_agent({"--config", cfg, "seal-token", "issue", "--stake-id", "0x1234"});
  REQUIRE(wrong.exit_code == 0);
  std::string wrong_token = wrong.out.substr(0, wrong.out.find('\n'));
  auto refused = client.register_worker(wrong_token, NodeInfo{"host", "i-chain", "amd64", 2, 1 << 30});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::kRejected);
  CHECK(refused.error().message.find("stake_not_found") != std::string::npos);
  CHECK(refused.error().message.find(wrong_token) == std::string::npos);
  auto not_found = run_agent({"--config", cfg, "seal-token", "verify", wrong_token});
  CHECK(not_found.exit_code == 1);
  CHECK(not_found.err.find("stake_not_found") != std::string::npos);

  // Slash the whole stake on chain: the master says so in its next heartbeat answer.
  auto slash = admin_post(admin + "/slash", {{"node_id", "worker-1"}, {"all", true}, {"reason", "test"}});
  REQUIRE_MESSAGE(slash["status"] == "success", slash.dump());
  auto slashed = client.heartbeat(token, {});
  REQUIRE_MESSAGE(slashed.ok(), slashed.error().message);
  CHECK(slashed.value().command == Command::kSlashed);
  auto after = run_agent({"--config", cfg, "seal-token", "verify", token});
  CHECK(after.exit_code == 1);
  CHECK(after.err.find("stake_not_active") != std::string::npos);
  CHECK(client.counters().answers_rejected == 0);
}
