// The GraphQL schema check (src/sui/graphql_capabilities.*): its table of (type, field, args)
// covers every field and argument of every document the agent sends, and nothing else; the
// introspection document stays within Sui's limits; answers and errors are read right.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "graphql_capabilities.hpp"
#include "k3s_daas/sui_client.hpp"

using namespace k3s_daas;
using namespace k3s_daas::sui::detail;
using nlohmann::json;

TEST_CASE("graphql schema check: the table covers every field and argument of every document") {
  std::set<std::string> used;
  auto documents = sui::wire::graphql::all_queries();
  REQUIRE(documents.size() >= 9);
  for (const auto& document : documents) {  // not a structured binding: clang 14 cannot capture one
    const auto& name = document.first;
    const auto& text = document.second;
    CAPTURE(name);
    auto uses = gqlcaps::fields_used(text);
    REQUIRE_MESSAGE(uses.ok(), uses.error().message);
    CHECK(uses->size() >= 2);
    for (const auto& use : *uses) {
      CHECK_MESSAGE(gqlcaps::table_has(use), name << " selects " << use << ", missing from gqlcaps::field_table()");
      used.insert(use);
    }
  }
  // And the table holds nothing the documents do not use (it would be checked for nothing).
  for (const auto& f : gqlcaps::field_table()) {
    std::string use = std::string(f.type) + "." + f.field;
    CHECK_MESSAGE(used.count(use) == 1, use << " is in the table but no document selects it");
    for (const char* arg : f.args) CHECK_MESSAGE(used.count(use + "(" + arg + ")") == 1, use << "(" << arg << ") unused");
  }
}

TEST_CASE("graphql schema check: the reader follows types through fragments, aliases and arguments") {
  auto uses = gqlcaps::fields_used(
      "query Q($id: SuiAddress!) {\n"
      "  o: object(address: $id) { version owner { __typename ... on Shared { initialSharedVersion } } ...F }\n"
      "  events(first: 5, filter: {type: \"0x2::a::B\", sender: $id}) { edges { cursor } }\n"
      "}\n"
      "fragment F on Object { asMoveObject { contents { type { repr } } } }");
  REQUIRE(uses.ok());
  std::set<std::string> got(uses->begin(), uses->end());
  for (const char* want : {"Query.object", "Query.object(address)", "Object.version", "Object.owner",
                           "Shared.initialSharedVersion", "Object.asMoveObject", "MoveObject.contents", "MoveValue.type",
                           "MoveType.repr", "Query.events", "Query.events(first)", "Query.events(filter)",
                           "EventConnection.edges", "EventEdge.cursor"}) {
    CHECK_MESSAGE(got.count(want) == 1, want);
  }
  CHECK(got.count("Query.o") == 0);
  CHECK(got.size() == 14);
  // A field the table does not know is reported (so the coverage test above would fail on it).
  auto unknown = gqlcaps::fields_used("{ epoch { epochId protocolConfigs { x } } }");
  REQUIRE(unknown.ok());
  CHECK_FALSE(gqlcaps::table_has("Epoch.protocolConfigs"));
  CHECK(std::find(unknown->begin(), unknown->end(), "Epoch.protocolConfigs") != unknown->end());
  CHECK_FALSE(gqlcaps::fields_used("query { epoch { ").ok());
}

TEST_CASE("graphql schema check: the introspection document stays within Sui's limits") {
  std::string q = gqlcaps::introspection_query();
  json body = {{"query", q}, {"variables", json::object()}};
  CHECK(body.dump().size() < 5000);  // max_query_payload_size
  auto types = std::count(q.begin(), q.end(), '{') - 1;  // one `{` per __type, fields, args
  CHECK(types > 0);
  // Nodes: __type, fields, name, args, name per type (Sui's default max_query_nodes is 300).
  CHECK((types / 3) * 5 < 300);
  CHECK(q.find("t0: __type(name: \"Query\")") != std::string::npos);
}

TEST_CASE("graphql schema check: what an introspection answer lacks") {
  // Build an answer that has the whole table, then remove one field and one argument.
  std::vector<std::string> types;
  for (const auto& f : gqlcaps::field_table()) {
    if (std::find(types.begin(), types.end(), f.type) == types.end()) types.emplace_back(f.type);
  }
  json data = json::object();
  for (std::size_t i = 0; i < types.size(); ++i) {
    json fields = json::array();
    for (const auto& f : gqlcaps::field_table()) {
      if (types[i] != f.type) continue;
      json args = json::array();
      for (const char* a : f.args) args.push_back({{"name", a}});
      fields.push_back({{"name", f.field}, {"args", args}});
    }
    data["t" + std::to_string(i)] = {{"fields", fields}};
  }
  std::vector<std::string> uses = {"Object.version", "Query.events(filter)", "Query.epoch", "Transaction.digest"};
  CHECK(gqlcaps::missing_uses(data, uses).empty());
  for (std::size_t i = 0; i < types.size(); ++i) {
    auto& fields = data["t" + std::to_string(i)]["fields"];
    for (auto it = fields.begin(); it != fields.end();) {
      if (types[i] == "Object" && (*it)["name"] == "version") {
        it = fields.erase(it);
        continue;
      }
      if (types[i] == "Query" && (*it)["name"] == "events") (*it)["args"] = json::array({{{"name", "first"}}});
      ++it;
    }
    if (types[i] == "Transaction") data["t" + std::to_string(i)] = nullptr;  // no such type at all
  }
  CHECK(gqlcaps::missing_uses(data, uses) ==
        std::vector<std::string>{"Object.version", "Query.events(filter)", "Transaction.digest"});
}

TEST_CASE("graphql schema check: unknown-field errors of graphql-js and of Sui (async-graphql)") {
  CHECK(gqlcaps::schema_error_use("graphql object: Cannot query field \"version\" on type \"Object\".") ==
        std::optional<std::string>("Object.version"));
  CHECK(gqlcaps::schema_error_use("Unknown field \"version\" on type \"Object\".") ==
        std::optional<std::string>("Object.version"));
  CHECK(gqlcaps::schema_error_use("Unknown argument \"filter\" on field \"Query.events\".") ==
        std::optional<std::string>("Query.events(filter)"));
  CHECK(gqlcaps::schema_error_use("Unknown argument \"filter\" on field \"events\" of type \"Query\".") ==
        std::optional<std::string>("Query.events(filter)"));
  CHECK_FALSE(gqlcaps::schema_error_use("Internal error occurred while processing request").has_value());
  auto e = gqlcaps::explain(make_error(ErrorKind::kRejected, "graphql object: Cannot query field \"version\" on type \"Object\"."),
                            "1.2.3");
  CHECK(e.kind == ErrorKind::kProtocol);
  CHECK(e.message.find("Object.version") != std::string::npos);
  CHECK(e.message.find("version 1.2.3") != std::string::npos);
  auto other = gqlcaps::explain(make_error(ErrorKind::kNetwork, "connection refused"), "");
  CHECK(other.kind == ErrorKind::kNetwork);
  CHECK(other.message == "connection refused");
}
