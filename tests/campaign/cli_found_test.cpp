// Regression tests for what the fault campaign (cli_faults_test.cpp) found in the agent.
#include "campaign/campaign.hpp"

using namespace k3s_daas::test;
using namespace k3s_daas::test::campaign;
using namespace k3s_daas::test::sui_e2e;

// Found by campaign_cli_faults (indexer_lag): a node that had lost stake.json finds its record
// through its StakeEvents, newest first. When the chain served the newest event but not (yet) its
// transaction, the agent took the older, withdrawn record for the node's stake and wrote it into
// stake.json: `status` said "withdrawn" (exit 80) and `unstake` refused ("already withdrawn") for
// good, while the stake was active. Now an older record never stands in for the newest: the
// command waits for the indexer, or fails as a transient error that changes nothing.
TEST_CASE("campaign found: an indexer lag never makes an older record stand in for the node's stake") {
  Devnet devnet;
  Admin admin(devnet.admin());
  for_each_transport([&](const std::string& transport, NodeOptions options) {
    Node node(devnet, "found-lag-" + transport, options);
    for (const char* step : {"stake", "unstake", "stake"}) {
      auto r = run_agent_command(node, {step, "--yes"});
      REQUIRE_MESSAGE(r.code == 0, r.err);
    }
    const std::string active = chain_history(admin, node.address()).last_record_id;
    const auto stake_json = node.state_dir() / "stake.json";
    for (const char* command : {"status", "unstake"}) {
      CAPTURE(command);
      std::filesystem::remove(stake_json);
      const int id = admin.arm({{"kind", "indexer_lag"}, {"count", 1}, {"target", transport}});
      std::vector<std::string> args = {command};
      if (std::string(command) == "unstake") args.push_back("--yes");
      auto lagged = run_agent_command(node, args);
      CHECK(admin.fired(id));
      // Never "withdrawn" (exit 80): it found the active record after the lag, or failed as a
      // transient error naming the transaction it could not read and remembering nothing.
      CHECK((lagged.code == 0 || lagged.code == 1));
      CHECK(lagged.err.find("already withdrawn") == std::string::npos);
      CHECK(lagged.err.find("was withdrawn") == std::string::npos);
      if (lagged.code == 0) {
        CHECK(json::parse(read_file(stake_json)).at("stake_record_id") == active);
        if (std::string(command) == "status") CHECK(lagged.out.find("status:       ACTIVE") != std::string::npos);
        continue;
      }
      CHECK(last_line(lagged.err).find(chain_history(admin, node.address()).last_stake_digest) != std::string::npos);
      CHECK_FALSE(std::filesystem::exists(stake_json));  // nothing remembered from the lag
      // Once the indexer has caught up, the same command finds the active record.
      auto again = run_agent_command(node, args);
      CHECK(again.code == 0);
      CHECK(json::parse(read_file(stake_json)).at("stake_record_id") == active);
    }
    auto history = chain_history(admin, node.address());
    CHECK(history.problems.empty());
    CHECK(history.stakes == 2);
    CHECK(history.unstakes == 2);
  });
}
