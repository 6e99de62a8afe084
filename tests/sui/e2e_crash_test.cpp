// `stake` killed with SIGKILL right after it submitted: the next `stake` settles the first
// transaction (same signed bytes) instead of staking twice.
#include "devnet_fixture.hpp"

using namespace k3s_daas::test;
using namespace k3s_daas::test::sui_e2e;

TEST_CASE("sui e2e: SIGKILL while the submission hangs, then stake again") {
  Devnet devnet;
  for_each_transport([&](const std::string& transport, NodeOptions options) {
    options.request_timeout_ms = 30000;  // the agent waits; the harness kills it
    Node node(devnet, std::string("crash-") + transport, options);
    const char* method = std::string(transport) == "graphql" ? "executeTransaction" : "sui_executeTransactionBlock";
    devnet.fault({{"kind", "hang"}, {"count", -1}, {"target", transport}, {"method", method}});
    auto killed = node.run({"stake", "--yes"}, std::chrono::seconds(4));
    CHECK(killed.exit_code == 128 + 9);
    REQUIRE(node.journal_pending());
    auto journal = json::parse(read_file(node.journal()));
    const std::string digest = journal.at("pending").at("digest");
    devnet.clear_faults();
    CHECK(devnet.count_calls(node.address(), "stake_for_node") == 0);

    auto again = node.run({"--json", "stake", "--yes"});
    REQUIRE(again.exit_code == 0);
    auto doc = json::parse(again.out);
    CHECK(doc.at("note").get<std::string>().find(digest) != std::string::npos);
    CHECK(devnet.count_calls(node.address(), "stake_for_node") == 1);
    auto executions = devnet.executions(node.address());
    REQUIRE(executions.size() == 1);
    CHECK(executions.at(0).at("digest") == digest);  // the first signed transaction, not a new one
    CHECK_FALSE(node.journal_pending());
  });
}

TEST_CASE("sui e2e: SIGKILL after the chain executed it, then stake again") {
  Devnet devnet({"--extra-ports", "1"});
  NodeOptions options;
  options.request_timeout_ms = 30000;
  options.urls = devnet.urls("graphql");
  Node node(devnet, "crash-after-exec", options);
  // The first endpoint executes the transaction, then its connection resets (every time: libcurl
  // itself re-sends once on a reused connection); the re-send of the same bytes to the second
  // endpoint hangs, and the process is killed there.
  devnet.fault({{"kind", "execute_then_reset"}, {"count", -1}, {"port", devnet.port(0)}, {"method", "executeTransaction"}});
  devnet.fault({{"kind", "hang"}, {"count", -1}, {"port", devnet.port(1)}, {"method", "executeTransaction"}});
  auto killed = node.run({"stake", "--yes"}, std::chrono::seconds(4));
  CHECK(killed.exit_code == 128 + 9);
  REQUIRE(node.journal_pending());
  CHECK(devnet.count_calls(node.address(), "stake_for_node") == 1);
  devnet.clear_faults();
  auto again = node.run({"stake", "--yes"});
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("had landed") != std::string::npos);
  CHECK(devnet.count_calls(node.address(), "stake_for_node") == 1);
  CHECK_FALSE(node.journal_pending());
}
