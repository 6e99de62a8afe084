// The GraphQL schema check end to end: a Sui GraphQL server that lacks a field the agent's
// queries use (the stand-in hides it from introspection and from execution) makes the real
// `k3s-daas status` fail with a message naming `Type.field` and the server's version; with the
// whole schema the same node's status succeeds.
#include "devnet_fixture.hpp"

using namespace k3s_daas::test;
using namespace k3s_daas::test::sui_e2e;

TEST_CASE("sui e2e: a GraphQL server without a field the agent uses") {
  Devnet devnet;
  Node node(devnet, "schema-check");
  REQUIRE(node.run({"stake", "--yes"}).exit_code == 0);
  auto normal = node.run({"status"});
  CHECK(normal.exit_code == 0);
  CHECK(normal.err.find("does not serve") == std::string::npos);

  auto hidden = admin_post(devnet.admin() + "/graphql-hide", {{"type", "Object"}, {"field", "version"}});
  CHECK(hidden.at("hidden") == json::array({"Object.version"}));
  auto failed = node.run({"status"});
  CHECK(failed.exit_code != 0);
  CHECK(failed.err.find("does not serve Object.version") != std::string::npos);
  CHECK(failed.err.find("version 1.60.0-k3s-daas-standin") != std::string::npos);
  // Named before any query that needs the field was sent: the server saw no such query.
  CHECK(failed.err.find("Cannot query field") == std::string::npos);

  // An argument hidden the same way is named as Type.field(arg).
  admin_post(devnet.admin() + "/graphql-hide", {{"reset", true}});
  admin_post(devnet.admin() + "/graphql-hide", {{"type", "Address"}, {"field", "balance"}, {"arg", "coinType"}});
  auto no_arg = node.run({"status"});
  CHECK(no_arg.exit_code != 0);
  CHECK(no_arg.err.find("does not serve Address.balance(coinType), which this agent's Balance query uses") != std::string::npos);

  admin_post(devnet.admin() + "/graphql-hide", {{"reset", true}});
  auto again = node.run({"status"});
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("stake:") != std::string::npos);
}

TEST_CASE("sui e2e: the schema check once per process; a transient failure of it is tried again, not fatal") {
  Devnet devnet;
  Node node(devnet, "schema-transient");
  REQUIRE(node.run({"stake", "--yes"}).exit_code == 0);
  auto introspected = [&] {
    // Each introspection request counts one `__type` root field per type it asks about.
    return admin_get(devnet.admin() + "/counters").at("requests").at("perMethod").value("graphql:__type", 0);
  };
  int before = introspected();
  CHECK(node.run({"status"}).exit_code == 0);
  const int per_request = introspected() - before;
  CHECK(per_request > 0);  // one request for the whole run of several queries

  // The first GraphQL request of the run (the introspection) answers HTTP 500: the real request
  // goes ahead, and the next request checks again (and finds what is missing).
  admin_post(devnet.admin() + "/graphql-hide", {{"type", "Object"}, {"field", "version"}});
  devnet.fault({{"kind", "http500"}, {"count", 1}, {"target", "graphql"}});
  before = introspected();
  auto failed = node.run({"status"});
  CHECK(introspected() - before == 2 * per_request);
  CHECK(failed.exit_code != 0);
  CHECK(failed.out.find("balance:") != std::string::npos);  // the first query ran unchecked
  CHECK(failed.err.find("does not serve Object.version") != std::string::npos);

  // Whole schema, one transient failure: status succeeds.
  admin_post(devnet.admin() + "/graphql-hide", {{"reset", true}});
  devnet.fault({{"kind", "http500"}, {"count", 1}, {"target", "graphql"}});
  CHECK(node.run({"status"}).exit_code == 0);
}
