// The chain client's wire layer: GraphQL documents valid against the SDK's schema, the answer
// parsers on real answers of the stand-in (seed corpus in tests/fuzz/sui_corpus), on errors, and
// on many malformed mutations of those answers (the replay side of the fuzz targets).
#include <doctest/doctest.h>

#include <filesystem>
#include <random>

#include <nlohmann/json.hpp>

#include "k3s_daas/log.hpp"
#include "k3s_daas/sui_client.hpp"
#include "support/support.hpp"

using namespace k3s_daas;
using namespace k3s_daas::sui;
using nlohmann::json;
namespace gql = k3s_daas::sui::wire::graphql;
namespace rpc = k3s_daas::sui::wire::jsonrpc;

namespace {

std::filesystem::path corpus_dir(const std::string& transport) {
  return test::source_dir() / "tests/fuzz/sui_corpus" / transport;
}

std::vector<std::pair<std::string, std::string>> corpus(const std::string& transport) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& entry : std::filesystem::directory_iterator(corpus_dir(transport))) {
    out.emplace_back(entry.path().filename().string(), test::read_file(entry.path()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Mutations as a fuzzer makes them: bit flips, byte changes, truncation, duplication, splicing
// of interesting tokens.
std::string mutate(const std::string& input, std::mt19937_64& rng) {
  static const char* kTokens[] = {"null", "[]", "{}", "\"\"", "-1", "1e400", "18446744073709551616", "\"0x\"",
                                  "true", "[[[[[[[[", "\"\\u0000\"", "\"SUCCESS\"", "\"FAILURE\"", "{\"a\":"};
  std::string s = input;
  int steps = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < steps; ++i) {
    if (s.empty()) s = "{}";
    std::size_t pos = rng() % s.size();
    switch (rng() % 6) {
      case 0: s[pos] = static_cast<char>(s[pos] ^ (1u << (rng() % 8))); break;
      case 1: s[pos] = static_cast<char>(rng() % 256); break;
      case 2: s.resize(pos); break;
      case 3: s.insert(pos, s.substr(pos, rng() % 64)); break;
      case 4: s.insert(pos, kTokens[rng() % (sizeof kTokens / sizeof *kTokens)]); break;
      case 5: s.erase(pos, rng() % 32); break;
    }
  }
  return s;
}

}  // namespace

TEST_CASE("graphql: every document is valid against the schema shipped with @mysten/sui") {
  auto peers = test::source_dir() / "tests/peers/node_modules/@mysten/sui";
  if (!std::filesystem::exists(peers)) {
    FAIL("tests/peers/node_modules/@mysten/sui is missing: run scripts/npm-peers.sh first (it installs the test peers' "
         "packages, including the schema this test validates against)");
  }
  test::TempDir dir;
  json docs = json::object();
  for (const auto& [name, text] : gql::all_queries()) docs[name] = text;
  test::write_file(dir / "queries.json", docs.dump());
  auto result = test::run({"node", (test::source_dir() / "tests/sui/validate_graphql.mjs").string(), (dir / "queries.json").string()});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.find(std::to_string(docs.size()) + " documents checked") != std::string::npos);
}

TEST_CASE("graphql: real answers of the stand-in parse") {
  auto files = corpus("graphql");
  REQUIRE(files.size() >= 8);
  for (const auto& file : files) {  // not a structured binding: clang 14 cannot capture one
    const auto& name = file.first;
    const auto& body = file.second;
    CAPTURE(name);
    auto data = wire::graphql_envelope(body);
    if (starts_with(name, "errors")) {
      REQUIRE_FALSE(data.ok());
      CHECK(data.error().kind == ErrorKind::kNetwork);  // INTERNAL_SERVER_ERROR: transient
      CHECK(data.error().message.find("Internal error") != std::string::npos);
      continue;
    }
    REQUIRE(data.ok());
    std::optional<std::string> next;
    if (starts_with(name, "query_Epoch")) {
      CHECK(gql::parse_reference_gas_price(*data).ok());
      CHECK(gql::parse_epoch(*data).ok());
    } else if (starts_with(name, "query_Coins")) {
      CHECK(gql::parse_coins(*data, next).ok());
    } else if (starts_with(name, "query_Balance")) {
      CHECK(gql::parse_balance(*data).ok());
    } else if (starts_with(name, "query_Object")) {
      auto object = gql::parse_object(*data);
      REQUIRE(object.ok());
      REQUIRE(object->has_value());
      CHECK((*object)->owner.kind != Owner::Kind::kUnknown);
    } else if (starts_with(name, "query_Simulate")) {
      auto sim = gql::parse_simulation(*data);
      REQUIRE(sim.ok());
      CHECK(sim->success);
    } else if (starts_with(name, "mutation_Execute")) {
      auto exec = gql::parse_execution(*data);
      REQUIRE(exec.ok());
      CHECK(exec->success);
      CHECK(exec->gas_object.has_value());
    } else if (starts_with(name, "query_Transaction")) {
      auto tx = gql::parse_transaction(*data);
      REQUIRE(tx.ok());
      CHECK(tx->has_value());
    } else if (starts_with(name, "query_Events")) {
      auto events = gql::parse_events(*data);
      REQUIRE(events.ok());
      for (const auto& ev : events->events) CHECK_FALSE(ev.cursor.empty());
    }
  }
}

TEST_CASE("graphql: shapes, errors and Move aborts") {
  auto exec = wire::graphql_envelope(R"({"data":{"executeTransaction":{"effects":{
      "digest":"9GmddQFhsGEHVkip64DqhWxKUuGmUEjb9VVxjWD4tk63","status":"FAILURE",
      "executionError":{"message":"Error in 2nd command, from '0x1::staking::stake_for_node' (instruction 10), abort code: 3",
        "abortCode":"3","module":{"name":"staking","package":{"address":"0x1"}},"function":{"name":"stake_for_node"}},
      "objectChanges":{"nodes":[]},"events":{"nodes":[]}}}}})");
  REQUIRE(exec.ok());
  auto result = gql::parse_execution(*exec);
  REQUIRE(result.ok());
  CHECK_FALSE(result->success);
  REQUIRE(result->abort.has_value());
  CHECK(result->abort->code == 3);
  CHECK(result->abort->module == "staking");
  CHECK(result->abort->function == "stake_for_node");

  // null object: it does not exist
  auto none = gql::parse_object(json::parse(R"({"object":null})"));
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  // an address without any objects owns no coins; a balance of an unknown address is 0
  std::optional<std::string> next;
  auto coins = gql::parse_coins(json::parse(R"({"address":null})"), next);
  REQUIRE(coins.ok());
  CHECK(coins->empty());
  CHECK(gql::parse_balance(json::parse(R"({"address":{"balance":{"totalBalance":"12"}}})")).value() == 12);
  // u64 as strings or numbers; negative numbers and fractions are malformed
  CHECK(gql::parse_epoch(json::parse(R"({"epoch":{"epochId":"7"}})")).value() == 7);
  CHECK(gql::parse_epoch(json::parse(R"({"epoch":{"epochId":7}})")).value() == 7);
  CHECK(gql::parse_epoch(json::parse(R"({"epoch":{"epochId":-7}})")).error().kind == ErrorKind::kProtocol);
  CHECK_FALSE(gql::parse_epoch(json::parse(R"({"epoch":{"epochId":"7.5"}})")).ok());
  CHECK_FALSE(gql::parse_epoch(json::parse(R"({"epoch":{"epochId":"18446744073709551616"}})")).ok());

  auto errors = wire::graphql_envelope(R"({"errors":[{"message":"a"},{"message":"b"}]})");
  REQUIRE_FALSE(errors.ok());
  CHECK(errors.error().kind == ErrorKind::kRejected);
  CHECK(errors.error().message == "GraphQL error: a; b");
  // The server's own failures are transient (retried like an HTTP 5xx); a refusal is not, nor a
  // mix of both.
  auto internal = wire::graphql_envelope(
      R"({"data":null,"errors":[{"message":"Internal error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]})");
  REQUIRE_FALSE(internal.ok());
  CHECK(internal.error().kind == ErrorKind::kNetwork);
  CHECK(internal.error().message == "GraphQL error: Internal error (a server error: transient)");
  auto timeout = wire::graphql_envelope(R"({"errors":[{"message":"t","extensions":{"code":"REQUEST_TIMEOUT"}}]})");
  CHECK(timeout.error().kind == ErrorKind::kTimeout);
  auto refused = wire::graphql_envelope(R"({"errors":[{"message":"x","extensions":{"code":"BAD_USER_INPUT"}}]})");
  CHECK(refused.error().kind == ErrorKind::kRejected);
  auto mixed = wire::graphql_envelope(
      R"({"errors":[{"message":"x","extensions":{"code":"INTERNAL_SERVER_ERROR"}},{"message":"y","extensions":{"code":"BAD_USER_INPUT"}}]})");
  CHECK(mixed.error().kind == ErrorKind::kRejected);
  auto html = wire::graphql_envelope("<html><body>502 Bad Gateway</body></html>");
  REQUIRE_FALSE(html.ok());
  CHECK(html.error().kind == ErrorKind::kProtocol);
  CHECK(html.error().message.find("not JSON") != std::string::npos);
  CHECK(wire::graphql_envelope("").error().kind == ErrorKind::kProtocol);
  CHECK(wire::graphql_envelope("[1]").error().kind == ErrorKind::kProtocol);
  CHECK(wire::graphql_envelope(R"({"data":null})").error().kind == ErrorKind::kProtocol);
  std::string deep(100000, '[');
  CHECK(wire::graphql_envelope(deep).error().message.find("nested deeper") != std::string::npos);
  // A secret-shaped string in an error is redacted.
  auto secret = wire::graphql_envelope(
      R"({"errors":[{"message":"bad suiprivkey1qrjq9sg6kj87d7dnkrfkay3g9mjury8aj2vh93zuuugaua6l5cp226c3wf8"}]})");
  CHECK(secret.error().message.find("qrjq9sg6kj87") == std::string::npos);
  // A registered secret across the 80-byte cut of a non-JSON body is hidden whole (cut first,
  // its head was shown), and a 1 MB seal-token-shaped body is redacted, not a crash.
  log::register_secret("registered-secret-0123456789");
  auto straddling = wire::graphql_envelope("<html>" + std::string(60, 'x') + "registered-secret-0123456789</html>");
  CHECK(straddling.error().message.find("regist") == std::string::npos);
  CHECK(straddling.error().message.find("[REDACTED]") != std::string::npos);
  log::clear_registered_secrets();
  auto huge = wire::graphql_envelope("<html>sealv1." + std::string(1 << 20, 'A'));
  CHECK(huge.error().message == "malformed answer: not JSON: '<html>sealv1.[REDACTED]'");
}

TEST_CASE("jsonrpc: real answers of the stand-in parse") {
  auto files = corpus("jsonrpc");
  REQUIRE(files.size() >= 8);
  for (const auto& file : files) {  // not a structured binding: clang 14 cannot capture one
    const auto& name = file.first;
    const auto& body = file.second;
    CAPTURE(name);
    auto result = wire::jsonrpc_envelope(body);
    if (starts_with(name, "error")) {
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().message.find("JSON-RPC error -32602") != std::string::npos);
      continue;
    }
    REQUIRE(result.ok());
    std::optional<std::string> next;
    if (starts_with(name, "suix_getReferenceGasPrice")) CHECK(rpc::parse_reference_gas_price(*result).ok());
    if (starts_with(name, "suix_getLatestSuiSystemState")) CHECK(rpc::parse_epoch(*result).ok());
    if (starts_with(name, "suix_getCoins")) CHECK(rpc::parse_coins(*result, next).ok());
    if (starts_with(name, "suix_getBalance")) CHECK(rpc::parse_balance(*result).ok());
    if (starts_with(name, "sui_getObject")) {
      auto object = rpc::parse_object(*result);
      REQUIRE(object.ok());
      REQUIRE(object->has_value());
      CHECK((*object)->fields.contains("id"));
      CHECK((*object)->fields["id"].is_string());  // {"id":{"id":..}} flattened
    }
    if (starts_with(name, "sui_dryRun") || starts_with(name, "sui_execute") || starts_with(name, "sui_getTransactionBlock")) {
      auto tx = rpc::parse_transaction_block(*result);
      REQUIRE(tx.ok());
      CHECK(tx->success);
    }
    if (starts_with(name, "suix_queryEvents")) CHECK(rpc::parse_events(*result).ok());
  }
}

TEST_CASE("jsonrpc: shapes, errors and Move aborts") {
  const char* debug =
      "MoveAbort(MoveLocation { module: ModuleId { address: 1a90d6d99c951017b6a4eecf6ed5ec0bbd6988fefc839c9701187da54bc86f8c, "
      "name: Identifier(\"staking\") }, function: 2, instruction: 10, function_name: Some(\"withdraw_stake\") }, 4) in command 0";
  auto abort = rpc::parse_move_abort(debug);
  REQUIRE(abort.has_value());
  CHECK(abort->code == 4);
  CHECK(abort->module == "staking");
  CHECK(abort->function == "withdraw_stake");
  CHECK(abort->package == "0x1a90d6d99c951017b6a4eecf6ed5ec0bbd6988fefc839c9701187da54bc86f8c");
  CHECK_FALSE(rpc::parse_move_abort("InsufficientGas").has_value());
  CHECK_FALSE(rpc::parse_move_abort("MoveAbort(garbage").has_value());
  CHECK_FALSE(rpc::parse_move_abort(std::string(10000, 'M')).has_value());

  auto failed = rpc::parse_transaction_block(json::parse(std::string(R"({"digest":"abc","effects":{"status":{"status":"failure","error":")") +
                                                         "MoveAbort(MoveLocation { module: ModuleId { address: 1, name: Identifier(\\\"staking\\\") }, function: 0, instruction: 1, function_name: Some(\\\"stake_for_node\\\") }, 1) in command 1" +
                                                         R"("}}})"));
  REQUIRE(failed.ok());
  CHECK_FALSE(failed->success);
  REQUIRE(failed->abort.has_value());
  CHECK(failed->abort->code == 1);

  auto missing = rpc::parse_object(json::parse(R"({"error":{"code":"notExists","object_id":"0x5"}})"));
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());

  std::optional<std::string> next;
  auto coins = rpc::parse_coins(json::parse(R"({"data":[
      {"coinObjectId":"0x1","version":"0","digest":"11111111111111111111111111111111","balance":"5"},
      {"coinObjectId":"0x2","version":"3","digest":"9GmddQFhsGEHVkip64DqhWxKUuGmUEjb9VVxjWD4tk63","balance":"7"}],
      "nextCursor":"abc","hasNextPage":true})"),
                                next);
  REQUIRE(coins.ok());
  REQUIRE(coins->size() == 1);  // the version-0 entry is skipped
  CHECK(coins->front().balance == 7);
  CHECK(next == "abc");

  auto err = wire::jsonrpc_envelope(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error"}})");
  REQUIRE_FALSE(err.ok());
  CHECK(err.error().kind == ErrorKind::kRejected);
  CHECK(err.error().message == "JSON-RPC error -32603: Internal error");
  CHECK(wire::jsonrpc_envelope(R"({"jsonrpc":"2.0","id":1})").error().kind == ErrorKind::kProtocol);
  CHECK(wire::jsonrpc_envelope(R"({"jsonrpc":"2.0","id":1,"result":null})").ok());
}

TEST_CASE("replay: the seed corpus and thousands of mutations never crash the parsers") {
  std::mt19937_64 rng(20240501);
  for (const char* transport : {"graphql", "jsonrpc"}) {
    auto files = corpus(transport);
    REQUIRE_FALSE(files.empty());
    auto feed = [&](const std::string& body) {
      if (std::string(transport) == "graphql") {
        wire::exercise_graphql_parsers(body);
      } else {
        wire::exercise_jsonrpc_parsers(body);
      }
    };
    for (const auto& [name, body] : files) feed(body);
    for (int i = 0; i < 3000; ++i) {
      const auto& seed = files[rng() % files.size()].second;
      feed(mutate(seed, rng));
    }
  }
  CHECK(true);
}
