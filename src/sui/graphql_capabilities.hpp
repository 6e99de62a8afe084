#pragma once
// What the agent's GraphQL documents need from the server's schema, and the check of it
// (private to src/sui; docs/sui.md "GraphQL schema check").
//
// kFieldTable lists every (type, field, arguments) the documents in wire::graphql::all_queries()
// select; tests/sui/graphql_caps_test.cpp derives the same list from the document texts, so the
// table cannot drift from them. On a client's first request in a process (per endpoint set),
// one introspection request (`__type` per type of the table) finds what the server lacks; a
// query that uses a missing field or argument then fails with kProtocol naming
// `Type.field(arg)` and the server's version (the `x-sui-rpc-version` answer header).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "endpoint_pool.hpp"
#include "k3s_daas/result.hpp"

namespace k3s_daas::sui::detail::gqlcaps {

struct FieldUse {
  const char* type;                // the object type the field is selected on ("Object")
  const char* field;               // "version"
  std::vector<const char*> args;   // arguments the documents pass ("first", "after")
  const char* returns;             // named type of the field ("UInt53"); selections continue there
};

const std::vector<FieldUse>& field_table();

// "Type.field" and "Type.field(arg)" for every field and argument a document selects, with the
// types followed through the table (fragments, inline fragments, aliases). A field the table
// does not know is reported as "Type.field" and its sub-selection is not followed.
Result<std::vector<std::string>> fields_used(std::string_view document);

// Whether the table has the use "Type.field" / "Type.field(arg)".
bool table_has(std::string_view use);

// The introspection document: one aliased `__type(name: ...)` per type of the table.
std::string introspection_query();

// Against an introspection answer's `data`: the uses ("Type.field" / "Type.field(arg)") of
// `uses` that the server lacks.
std::vector<std::string> missing_uses(const nlohmann::json& data, const std::vector<std::string>& uses);

// The server's version as its answer says it (header x-sui-rpc-version), "" when not said.
std::string server_version(const net::Response& response);

// "Cannot query field "x" on type "Y"", "Unknown field ...", "Unknown argument "a" on field
// "Y.x"": the missing "Y.x" / "Y.x(a)", or nullopt when `message` is no such error.
std::optional<std::string> schema_error_use(std::string_view message);

// The check, once per process and endpoint set (thread-safe): ok, or kProtocol naming what the
// document `document` (one of all_queries()) uses and the server lacks. A transient failure of
// the introspection is not remembered (tried again at the next request) and lets the request go.
Status check_document(EndpointPool& pool, const char* document);

// A failed request whose GraphQL error says a field or argument is unknown: kProtocol with the
// same message as check_document's (server_version may be ""); other errors unchanged.
Error explain(const Error& error, const std::string& server_version);

}  // namespace k3s_daas::sui::detail::gqlcaps
