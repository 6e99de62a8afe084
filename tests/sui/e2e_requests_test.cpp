// How many requests one `stake` and one `unstake` send to the chain, counted by the Sui stand-in
// itself (GET /admin/counters, per root field or method): a round trip added anywhere on these
// paths fails here. GraphQL: 3 each (the independent reads in one document, the simulation, the
// execution, whose own effects carry the new record), as the official SDK's stake; JSON-RPC: 7
// (full nodes serve no batches). Also: a server lacking a field `stake` uses is named without
// the schema check's introspection before the first request.
#include <map>

#include "devnet_fixture.hpp"

using namespace k3s_daas::test;
using namespace k3s_daas::test::sui_e2e;

namespace {

// Requests per method ("graphql:events", "jsonrpc:suix_getCoins", "total") since `before`.
class Requests {
 public:
  explicit Requests(const Devnet& devnet) : admin_(devnet.admin()) { before_ = read(); }
  std::map<std::string, int> since() {
    auto now = read();
    std::map<std::string, int> delta;
    for (const auto& [method, n] : now) {
      auto it = before_.find(method);
      int d = n - (it == before_.end() ? 0 : it->second);
      if (d != 0) delta[method] = d;
    }
    before_ = now;
    return delta;
  }

 private:
  std::map<std::string, int> read() {
    auto requests = admin_get(admin_ + "/counters").at("requests");
    std::map<std::string, int> out = requests.at("perMethod").get<std::map<std::string, int>>();
    out["total"] = requests.at("total").get<int>();
    return out;
  }
  std::string admin_;
  std::map<std::string, int> before_;
};

std::string show(const std::map<std::string, int>& m) {
  std::string s;
  for (const auto& [k, v] : m) s += k + "=" + std::to_string(v) + " ";
  return s;
}

}  // namespace

TEST_CASE("sui e2e: one stake and one unstake are 3 GraphQL requests each") {
  Devnet devnet;
  Node node(devnet, "requests-graphql");
  Requests requests(devnet);

  auto staked = node.run({"--json", "stake", "--yes"});
  auto stake_requests = requests.since();
  REQUIRE(staked.exit_code == 0);
  CAPTURE(show(stake_requests));
  CHECK(stake_requests == std::map<std::string, int>{{"graphql:events", 1},
                                                     {"graphql:epoch", 1},
                                                     {"graphql:object", 1},
                                                     {"graphql:address", 1},
                                                     {"graphql:simulateTransaction", 1},
                                                     {"graphql:executeTransaction", 1},
                                                     {"total", 3}});
  // The record printed comes from the execution's own effects: it is the one on chain.
  auto doc = json::parse(staked.out);
  CHECK(doc.at("result") == "staked");
  const auto& record = doc.at("record");
  CHECK(record.at("status") == "ACTIVE");
  CHECK(record.at("amount_mist") == 1'000'000'000);
  CHECK(record.at("staker") == node.address());
  CHECK(record.at("node_id") == node.node_id());
  CHECK(record.at("staked_at_epoch") == devnet.ready().at("epoch"));
  auto status = node.run({"--json", "status"});
  REQUIRE(status.exit_code == 0);
  auto on_chain = json::parse(status.out).at("stake");
  CHECK(on_chain.at("id") == record.at("id"));
  CHECK(on_chain.at("version") == record.at("version"));
  CHECK(on_chain.at("initial_shared_version") == record.at("initial_shared_version"));
  CHECK(on_chain.at("locked_until_epoch") == record.at("locked_until_epoch"));
  requests.since();

  auto unstaked = node.run({"--json", "unstake", "--yes"});
  auto unstake_requests = requests.since();
  REQUIRE(unstaked.exit_code == 0);
  CAPTURE(show(unstake_requests));
  // One document: the record and the pool (two `object` fields), epoch and gas price, gas coins.
  CHECK(unstake_requests == std::map<std::string, int>{{"graphql:object", 2},
                                                       {"graphql:epoch", 1},
                                                       {"graphql:address", 1},
                                                       {"graphql:simulateTransaction", 1},
                                                       {"graphql:executeTransaction", 1},
                                                       {"total", 3}});
  auto withdrawn = json::parse(unstaked.out).at("record");
  CHECK(withdrawn.at("status") == "WITHDRAWN");
  CHECK(withdrawn.at("version").get<std::uint64_t>() > record.at("version").get<std::uint64_t>());
  CHECK(devnet.count_calls(node.address(), "stake_for_node") == 1);
  CHECK(devnet.count_calls(node.address(), "withdraw_stake") == 1);
}

TEST_CASE("sui e2e: one stake and one unstake over JSON-RPC are 7 requests each") {
  Devnet devnet;
  NodeOptions options;
  options.transport = "jsonrpc";
  Node node(devnet, "requests-jsonrpc", options);
  Requests requests(devnet);

  auto staked = node.run({"--json", "stake", "--yes"});
  auto stake_requests = requests.since();
  REQUIRE(staked.exit_code == 0);
  CAPTURE(show(stake_requests));
  // The execution's answer carries no object contents: the record is read back (one
  // sui_getObject besides the pool's).
  CHECK(stake_requests == std::map<std::string, int>{{"jsonrpc:suix_queryEvents", 1},
                                                     {"jsonrpc:suix_getReferenceGasPrice", 1},
                                                     {"jsonrpc:sui_getObject", 2},
                                                     {"jsonrpc:suix_getCoins", 1},
                                                     {"jsonrpc:sui_dryRunTransactionBlock", 1},
                                                     {"jsonrpc:sui_executeTransactionBlock", 1},
                                                     {"total", 7}});
  CHECK(json::parse(staked.out).at("record").at("status") == "ACTIVE");

  auto unstaked = node.run({"--json", "unstake", "--yes"});
  auto unstake_requests = requests.since();
  REQUIRE(unstaked.exit_code == 0);
  CAPTURE(show(unstake_requests));
  // The system state gives the epoch and the gas price in one request.
  CHECK(unstake_requests == std::map<std::string, int>{{"jsonrpc:sui_getObject", 3},
                                                       {"jsonrpc:suix_getLatestSuiSystemState", 1},
                                                       {"jsonrpc:suix_getCoins", 1},
                                                       {"jsonrpc:sui_dryRunTransactionBlock", 1},
                                                       {"jsonrpc:sui_executeTransactionBlock", 1},
                                                       {"total", 7}});
  CHECK(json::parse(unstaked.out).at("record").at("status") == "WITHDRAWN");
}

TEST_CASE("sui e2e: stake names a field the server lacks without introspecting first") {
  Devnet devnet;
  Node node(devnet, "requests-schema");
  admin_post(devnet.admin() + "/graphql-hide", {{"type", "Object"}, {"field", "version"}});
  Requests requests(devnet);
  auto failed = node.run({"stake", "--yes"});
  auto sent = requests.since();
  CAPTURE(show(sent));
  CHECK(failed.exit_code != 0);
  CHECK(failed.err.find("does not serve Object.version, which this agent's StakeInputs query uses") != std::string::npos);
  // The refused inputs document, then the introspection that names what is missing; nothing else.
  CHECK(sent.at("graphql:events") == 1);
  CHECK(sent.count("graphql:__type") == 1);
  CHECK(sent.count("graphql:simulateTransaction") == 0);
  CHECK(sent.count("graphql:executeTransaction") == 0);
  CHECK(sent.at("total") == 2);
  CHECK_FALSE(node.journal_pending());

  admin_post(devnet.admin() + "/graphql-hide", {{"reset", true}});
  CHECK(node.run({"stake", "--yes"}).exit_code == 0);
  CHECK(devnet.count_calls(node.address(), "stake_for_node") == 1);
}
