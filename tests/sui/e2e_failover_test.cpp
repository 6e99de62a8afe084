// Endpoint failover: a closed port first, or an endpoint that answers garbage, and the stake
// still goes through the next endpoint, exactly once.
#include "devnet_fixture.hpp"

using namespace k3s_daas::test;
using namespace k3s_daas::test::sui_e2e;

TEST_CASE("sui e2e: the first endpoint is a closed port") {
  Devnet devnet;
  for_each_transport([&](const std::string& transport, NodeOptions options) {
    options.urls = {std::string("http://127.0.0.1:1/") + transport, devnet.urls(transport).at(0)};
    Node node(devnet, std::string("failover-closed-") + transport, options);
    auto staked = node.run({"stake", "--yes"});
    CHECK(staked.exit_code == 0);
    CHECK(node.run({"status"}).exit_code == 0);
    CHECK(devnet.count_calls(node.address(), "stake_for_node") == 1);
  });
}

TEST_CASE("sui e2e: the first endpoint answers garbage") {
  Devnet devnet({"--extra-ports", "1"});
  struct Case {
    const char* transport;
    const char* fault;
  };
  for (const auto& c : {Case{"graphql", "malformed"}, Case{"jsonrpc", "http500"}, Case{"graphql", "graphql_error"},
                        Case{"jsonrpc", "truncated"}}) {
    CAPTURE(c.transport);
    CAPTURE(c.fault);
    devnet.fault({{"kind", c.fault}, {"count", -1}, {"port", devnet.port(0)}, {"target", c.transport}});
    NodeOptions options;
    options.transport = c.transport;
    options.urls = devnet.urls(c.transport);  // port 0 (faulty) first, then port 1
    Node node(devnet, std::string("failover-") + c.fault, options);
    auto staked = node.run({"stake", "--yes"});
    CHECK(staked.exit_code == 0);
    auto status = node.run({"--json", "status"});
    CHECK(status.exit_code == 0);
    CHECK(devnet.count_calls(node.address(), "stake_for_node") == 1);
    devnet.clear_faults();
  }
}

TEST_CASE("sui e2e: every endpoint down is one clear error naming each") {
  Devnet devnet;
  NodeOptions options;
  options.urls = {"http://127.0.0.1:1/graphql", "http://127.0.0.1:2/graphql"};
  Node node(devnet, "all-down", options);
  auto result = node.run({"status"});
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("all 2 endpoints failed") != std::string::npos);
  CHECK(result.err.find("127.0.0.1:1") != std::string::npos);
  CHECK(result.err.find("127.0.0.1:2") != std::string::npos);
}
