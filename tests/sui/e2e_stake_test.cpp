// stake -> status -> unstake through the real binary, over each transport, against the Sui
// stand-in; the lock rule; confirmation without a terminal; insufficient funds.
#include "devnet_fixture.hpp"

using namespace k3s_daas::test;
using namespace k3s_daas::test::sui_e2e;

TEST_CASE("sui e2e: stake, status, unstake over GraphQL and JSON-RPC") {
  Devnet devnet;
  for_each_transport([&](const std::string& transport, NodeOptions options) {
    Node node(devnet, std::string("worker-") + transport, options);

    auto before = node.run({"status"});
    CHECK(before.exit_code == 80);
    CHECK(before.out.find("stake: none") != std::string::npos);
    CHECK(before.out.find("daemon: not running") != std::string::npos);

    auto unconfirmed = node.run({"stake"});
    CHECK(unconfirmed.exit_code == 2);
    CHECK(unconfirmed.err.find("--yes") != std::string::npos);
    CHECK(devnet.count_calls(node.address(), "stake_for_node") == 0);

    auto staked = node.run({"stake", "--yes"});
    REQUIRE(staked.exit_code == 0);
    CHECK(staked.out.find("staked 1000000000 MIST") != std::string::npos);
    CHECK(staked.out.find("digest:") != std::string::npos);
    CHECK(staked.out.find("stake record: 0x") != std::string::npos);
    CHECK_FALSE(node.journal_pending());

    // Idempotent: an ACTIVE record means nothing to do (no confirmation needed either).
    auto again = node.run({"--json", "stake"});
    REQUIRE(again.exit_code == 0);
    auto again_doc = json::parse(again.out);
    CHECK(again_doc.at("result") == "already_staked");
    CHECK(again_doc.at("record").at("status") == "ACTIVE");
    CHECK(devnet.count_calls(node.address(), "stake_for_node") == 1);

    auto status = node.run({"--json", "status"});
    REQUIRE(status.exit_code == 0);
    auto doc = json::parse(status.out);
    CHECK(doc.at("stake").at("status") == "ACTIVE");
    CHECK(doc.at("stake").at("amount_mist") == 1'000'000'000);
    CHECK(doc.at("stake").at("node_id") == node.node_id());
    CHECK(doc.at("balance_mist").get<std::uint64_t>() < 4'000'000'000ull);
    CHECK(doc.at("daemon").at("running") == false);

    // The daemon's runtime status file is shown when present.
    write_file(node.state_dir() / "runtime-status.json", R"({"state":"running","pid":4242})");
    auto with_daemon = node.run({"status"});
    CHECK(with_daemon.out.find("pid: 4242") != std::string::npos);

    // A lost state file: the record is found again through the StakeEvent.
    std::filesystem::remove(node.state_dir() / "stake.json");
    auto found = node.run({"--json", "status"});
    REQUIRE(found.exit_code == 0);
    CHECK(json::parse(found.out).at("stake").at("id") == doc.at("stake").at("id"));
    CHECK(std::filesystem::exists(node.state_dir() / "stake.json"));

    auto unstaked = node.run({"unstake", "--yes"});
    REQUIRE(unstaked.exit_code == 0);
    CHECK(unstaked.out.find("withdrew 1000000000 MIST") != std::string::npos);
    CHECK(unstaked.out.find("WITHDRAWN") != std::string::npos);

    CHECK(node.run({"status"}).exit_code == 80);
    auto twice = node.run({"unstake", "--yes"});
    CHECK(twice.exit_code == 80);
    CHECK(twice.err.find("already withdrawn") != std::string::npos);
    CHECK(devnet.count_calls(node.address(), "stake_for_node") == 1);
    CHECK(devnet.count_calls(node.address(), "withdraw_stake") == 1);

    // After a withdrawal the node may stake again: a new record.
    auto restaked = node.run({"--json", "stake", "--yes"});
    REQUIRE(restaked.exit_code == 0);
    auto restaked_doc = json::parse(restaked.out);
    CHECK(restaked_doc.at("result") == "staked");
    CHECK(restaked_doc.at("stake_record_id") != doc.at("stake").at("id"));
    CHECK(node.run({"status"}).exit_code == 0);
    CHECK(devnet.count_calls(node.address(), "stake_for_node") == 2);
  });
}

TEST_CASE("sui e2e: unstake is refused while locked, naming the unlock epoch") {
  Devnet devnet({"--lock-epochs", "2"});
  Node node(devnet, "worker-locked");
  REQUIRE(node.run({"stake", "--yes"}).exit_code == 0);
  auto locked = node.run({"unstake", "--yes"});
  CHECK(locked.exit_code == 1);
  CHECK(locked.err.find("locked until epoch 12 (the current epoch is 10)") != std::string::npos);
  CHECK(devnet.count_calls(node.address(), "withdraw_stake") == 0);
  devnet.advance_epoch(2);
  CHECK(node.run({"unstake", "--yes"}).exit_code == 0);
}

TEST_CASE("sui e2e: insufficient funds and a stake below the minimum are refused before submission") {
  Devnet devnet;
  NodeOptions poor;
  poor.fund_mist = 500'000'000;
  Node node(devnet, "worker-poor", poor);
  auto result = node.run({"stake", "--yes"});
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("insufficient SUI") != std::string::npos);

  Node small(devnet, "worker-small");
  auto below = small.run({"stake", "--yes", "--amount", "1000"});
  CHECK(below.exit_code == 1);
  CHECK(below.err.find("E_INSUFFICIENT_STAKE") != std::string::npos);
  CHECK(below.err.find("nothing was submitted") != std::string::npos);
  CHECK(devnet.executions(node.address()).empty());
  CHECK(devnet.executions(small.address()).empty());
  CHECK_FALSE(small.journal_pending());
}

// Funds spread over 600 small coins, under the real GraphQL service limits (pages of at most 50,
// a 5,000-byte query payload) that the stand-in enforces: the coins are listed page by page, 256
// of them pay for gas (Sui's max_gas_payment_objects) and the rest are merged into the gas coin by
// the transaction itself. One transaction, one stake.
TEST_CASE("sui e2e: stake from 600 small coins (more than a gas payment may hold)") {
  Devnet devnet;
  for_each_transport([&](const std::string& transport, NodeOptions options) {
    options.fund_mist = 0;
    Node node(devnet, std::string("worker-dust-") + transport, options);
    for (int i = 0; i < 3; ++i) devnet.fund(node.address(), 5'000'000, 200);  // 3 SUI in 600 coins

    auto staked = node.run({"--json", "stake", "--yes", "--amount", "2000000000"});
    REQUIRE(staked.exit_code == 0);
    CHECK(json::parse(staked.out).at("result") == "staked");
    CHECK(devnet.count_calls(node.address(), "stake_for_node") == 1);
    auto executions = devnet.executions(node.address());
    REQUIRE(executions.size() == 1);
    // About 410 coins were needed: 256 paid for gas and the rest were merged (and so deleted).
    CHECK(executions.at(0).at("status") == "success");
    CHECK(executions.at(0).at("deleted_count").get<int>() > 100);

    auto status = node.run({"--json", "status"});
    REQUIRE(status.exit_code == 0);
    auto doc = json::parse(status.out);
    CHECK(doc.at("stake").at("amount_mist") == 2'000'000'000);
    // What is left (about 1 SUI less the gas) is now one coin: the merged gas coin.
    CHECK(doc.at("balance_mist").get<std::uint64_t>() > 900'000'000ull);

    // More than the transaction may carry: a clear refusal that says what to do, nothing signed.
    Node poor(devnet, std::string("worker-dust2-") + transport, options);
    for (int i = 0; i < 7; ++i) devnet.fund(poor.address(), 1'000'000, 200);  // 1.4 SUI in 1,400 coins
    auto refused = poor.run({"stake", "--yes", "--amount", "1300000000"});
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("only the largest 956 coins fit in one transaction") != std::string::npos);
    CHECK(refused.err.find("merge") != std::string::npos);
    CHECK(devnet.executions(poor.address()).empty());
    CHECK_FALSE(poor.journal_pending());
  });
}
