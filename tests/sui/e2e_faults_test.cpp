// Each fault the stand-in can inject, on the only endpoint, gives a clear error that names the
// endpoint, and never a second stake: after the fault clears, one stake lands.
#include "devnet_fixture.hpp"

using namespace k3s_daas::test;
using namespace k3s_daas::test::sui_e2e;

TEST_CASE("sui e2e: persistent faults on every request") {
  Devnet devnet;
  struct Case {
    const char* kind;
    const char* says;  // what the error must say
    int ms;
  };
  for (const auto& c : {Case{"http500", "HTTP 500", 0}, Case{"http429", "HTTP 429", 0},
                        Case{"malformed", "malformed answer", 0}, Case{"truncated", "malformed answer", 0},
                        Case{"reset", "", 0}, Case{"graphql_error", "GraphQL error", 0},
                        Case{"hang", "", 0}, Case{"latency", "", 4000}}) {
    CAPTURE(c.kind);
    NodeOptions options;
    options.request_timeout_ms = 1000;
    Node node(devnet, std::string("fault-") + c.kind, options);
    json spec = {{"kind", c.kind}, {"count", -1}, {"target", "graphql"}};
    if (c.ms) spec["ms"] = c.ms;
    devnet.fault(spec);
    auto failed = node.run({"stake", "--yes"});
    CHECK(failed.exit_code == 1);
    CHECK(failed.err.find(std::string(c.says)) != std::string::npos);
    CHECK(failed.err.find("127.0.0.1:" + std::to_string(devnet.port())) != std::string::npos);
    devnet.clear_faults();
    CHECK(devnet.count_calls(node.address(), "stake_for_node") == 0);
    auto staked = node.run({"stake", "--yes"});
    CHECK(staked.exit_code == 0);
    CHECK(devnet.count_calls(node.address(), "stake_for_node") == 1);
  }
}

TEST_CASE("sui e2e: faults on the submission only: the same signed bytes settle it later") {
  Devnet devnet;
  for (const char* kind : {"http500", "reset", "graphql_error", "execute_then_reset"}) {
    CAPTURE(kind);
    NodeOptions options;
    options.request_timeout_ms = 1000;
    Node node(devnet, std::string("exec-fault-") + kind, options);
    devnet.fault({{"kind", kind}, {"count", -1}, {"target", "graphql"}, {"method", "executeTransaction"}});
    auto failed = node.run({"stake", "--yes"});
    CHECK(failed.exit_code == 1);
    CHECK(failed.err.find("outcome is unknown") != std::string::npos);
    CHECK(node.journal_pending());
    // execute_then_reset executed it; the others did not. Either way at most one stake exists.
    CHECK(devnet.count_calls(node.address(), "stake_for_node") == (std::string(kind) == "execute_then_reset" ? 1 : 0));
    devnet.clear_faults();
    auto settled = node.run({"stake", "--yes"});
    CHECK(settled.exit_code == 0);
    CHECK(settled.out.find("earlier stake transaction") != std::string::npos);
    CHECK_FALSE(node.journal_pending());
    CHECK(devnet.count_calls(node.address(), "stake_for_node") == 1);
  }
}

TEST_CASE("sui e2e: an indexer that lags behind execution") {
  Devnet devnet;
  Node node(devnet, "indexer-lag");
  devnet.fault({{"kind", "indexer_lag"}, {"count", 5}});
  CHECK(node.run({"stake", "--yes"}).exit_code == 0);
  CHECK(node.run({"status"}).exit_code == 0);
  CHECK(devnet.count_calls(node.address(), "stake_for_node") == 1);
}
