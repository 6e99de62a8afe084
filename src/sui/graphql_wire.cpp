// Sui GraphQL: the queries this agent sends and the parsers of their answers. The queries use
// only fields of the schema that @mysten/sui ships (src/graphql/generated/schema.graphql);
// tests/sui validates them against it.
#include "wire_util.hpp"

namespace k3s_daas::sui::wire {

using detail::get;
using detail::json;
using detail::malformed;
using detail::to_address;
using detail::to_bool;
using detail::to_string;
using detail::to_u64;

namespace graphql {

#define K3S_GQL_OWNER_FRAGMENT                                   \
  "fragment OwnerFields on Owner {\n"                            \
  "  __typename\n"                                               \
  "  ... on AddressOwner { address { address } }\n"              \
  "  ... on ObjectOwner { address { address } }\n"               \
  "  ... on Shared { initialSharedVersion }\n"                   \
  "  ... on ConsensusAddressOwner { address { address } startVersion }\n" \
  "}\n"

// The effects of a transaction. CONTENTS is selected on each changed object's Move value besides
// its type: "json " where the output state's contents are wanted (an executed or looked-up
// transaction: the created StakeRecord, the withdrawn one), "" for a simulation.
#define K3S_GQL_EFFECTS_FRAGMENT_WITH(CONTENTS)                                                    \
  "fragment EffectsFields on TransactionEffects {\n"                                               \
  "  digest\n"                                                                                     \
  "  status\n"                                                                                     \
  "  executionError { message abortCode module { name package { address } } function { name } }\n" \
  "  epoch { epochId }\n"                                                                          \
  "  checkpoint { sequenceNumber }\n"                                                              \
  "  gasEffects { gasObject { address version digest } }\n"                                        \
  "  objectChanges(first: 1024) {\n"                                                               \
  "    nodes {\n"                                                                                  \
  "      address\n"                                                                                \
  "      idCreated\n"                                                                              \
  "      outputState { version digest owner { ...OwnerFields } asMoveObject { contents { type { repr } " CONTENTS "} } }\n" \
  "    }\n"                                                                                        \
  "  }\n"                                                                                          \
  "  events(first: 50) {\n"                                                                        \
  "    nodes { sequenceNumber timestamp sender { address } contents { type { repr } json } }\n"     \
  "  }\n"                                                                                          \
  "}\n"

const char* const kEpochQuery = "query Epoch { epoch { epochId referenceGasPrice } }";

const char* const kCoinsQuery =
    "query Coins($owner: SuiAddress!, $after: String) {\n"
    "  address(address: $owner) {\n"
    "    objects(first: 50, after: $after, filter: {type: \"0x2::coin::Coin<0x2::sui::SUI>\"}) {\n"
    "      pageInfo { hasNextPage endCursor }\n"
    "      nodes { address version digest contents { json } }\n"
    "    }\n"
    "  }\n"
    "}";

const char* const kBalanceQuery =
    "query Balance($owner: SuiAddress!) {\n"
    "  address(address: $owner) { balance(coinType: \"0x2::sui::SUI\") { totalBalance } }\n"
    "}";

const char* const kObjectQuery =
    "query Object($id: SuiAddress!) {\n"
    "  object(address: $id) {\n"
    "    address version digest previousTransaction { digest }\n"
    "    owner { ...OwnerFields }\n"
    "    asMoveObject { contents { type { repr } json bcs } }\n"
    "  }\n"
    "}\n" K3S_GQL_OWNER_FRAGMENT;

const char* const kObjectsByTypeQuery =
    "query ObjectsByType($type: String!, $after: String) {\n"
    "  objects(filter: { type: $type }, first: 50, after: $after) {\n"
    "    pageInfo { hasNextPage endCursor }\n"
    "    nodes {\n"
    "      address version digest\n"
    "      owner { ...OwnerFields }\n"
    "      asMoveObject { contents { type { repr } bcs } }\n"
    "    }\n"
    "  }\n"
    "}\n" K3S_GQL_OWNER_FRAGMENT;

const char* const kObjectVersionQuery =
    "query ObjectVersion($id: SuiAddress!) {\n"
    "  object(address: $id) { address version digest previousTransaction { digest } }\n"
    "}";

const char* const kSimulateQuery =
    "query Simulate($tx: JSON!) {\n"
    "  simulateTransaction(transaction: $tx, checksEnabled: true) { effects { ...EffectsFields } }\n"
    "}\n" K3S_GQL_EFFECTS_FRAGMENT_WITH("") K3S_GQL_OWNER_FRAGMENT;

const char* const kExecuteMutation =
    "mutation Execute($tx: Base64!, $signatures: [Base64!]!) {\n"
    "  executeTransaction(transactionDataBcs: $tx, signatures: $signatures) { effects { ...EffectsFields } }\n"
    "}\n" K3S_GQL_EFFECTS_FRAGMENT_WITH("json ") K3S_GQL_OWNER_FRAGMENT;

const char* const kTransactionQuery =
    "query Transaction($digest: String!) {\n"
    "  transaction(digest: $digest) { digest effects { ...EffectsFields } }\n"
    "}\n" K3S_GQL_EFFECTS_FRAGMENT_WITH("json ") K3S_GQL_OWNER_FRAGMENT;

const char* const kEventsQuery =
    "query Events($type: String, $sender: SuiAddress, $after: String, $first: Int) {\n"
    "  events(first: $first, after: $after, filter: {type: $type, sender: $sender}) {\n"
    "    pageInfo { hasNextPage endCursor }\n"
    "    edges {\n"
    "      cursor\n"
    "      node { sequenceNumber timestamp sender { address } transaction { digest } contents { type { repr } json } }\n"
    "    }\n"
    "  }\n"
    "}";

#define K3S_GQL_EVENT_EDGES                                                                         \
  "    pageInfo { hasNextPage endCursor }\n"                                                        \
  "    edges {\n"                                                                                   \
  "      cursor\n"                                                                                  \
  "      node { sequenceNumber timestamp sender { address } transaction { digest } contents { type { repr } json } }\n" \
  "    }\n"

#define K3S_GQL_GAS_COINS                                                                           \
  "  address(address: $sender) {\n"                                                                \
  "    objects(first: 50, filter: {type: \"0x2::coin::Coin<0x2::sui::SUI>\"}) {\n"                  \
  "      pageInfo { hasNextPage endCursor }\n"                                                      \
  "      nodes { address version digest contents { json } }\n"                                      \
  "    }\n"                                                                                         \
  "  }\n"

// One request for what `stake` reads before it builds the transaction: this address's
// StakeEvents (never a second stake), the reference gas price, the pool's initial shared version
// and the first page of gas coins. Further pages use kEventsQuery and kCoinsQuery.
const char* const kStakeInputsQuery =
    "query StakeInputs($sender: SuiAddress!, $events: String!, $pool: SuiAddress!) {\n"
    "  events(first: 50, filter: {type: $events, sender: $sender}) {\n" K3S_GQL_EVENT_EDGES
    "  }\n"
    "  epoch { epochId referenceGasPrice }\n"
    "  object(address: $pool) { address version digest owner { ...OwnerFields } }\n" K3S_GQL_GAS_COINS
    "}\n" K3S_GQL_OWNER_FRAGMENT;

// The same for `unstake`: the StakeRecord (its status, staker, lock and initial shared version),
// the epoch and reference gas price, the pool and the first page of gas coins.
const char* const kUnstakeInputsQuery =
    "query UnstakeInputs($sender: SuiAddress!, $pool: SuiAddress!, $record: SuiAddress!) {\n"
    "  record: object(address: $record) {\n"
    "    address version digest previousTransaction { digest }\n"
    "    owner { ...OwnerFields }\n"
    "    asMoveObject { contents { type { repr } json } }\n"
    "  }\n"
    "  pool: object(address: $pool) { address version digest owner { ...OwnerFields } }\n"
    "  epoch { epochId referenceGasPrice }\n" K3S_GQL_GAS_COINS
    "}\n" K3S_GQL_OWNER_FRAGMENT;

#undef K3S_GQL_OWNER_FRAGMENT
#undef K3S_GQL_EFFECTS_FRAGMENT_WITH
#undef K3S_GQL_EVENT_EDGES
#undef K3S_GQL_GAS_COINS

std::vector<std::pair<std::string, const char*>> all_queries() {
  return {{"Epoch", kEpochQuery},     {"Coins", kCoinsQuery},       {"Balance", kBalanceQuery},
          {"Object", kObjectQuery}, {"ObjectVersion", kObjectVersionQuery},   {"Simulate", kSimulateQuery}, {"Execute", kExecuteMutation},
          {"Transaction", kTransactionQuery}, {"Events", kEventsQuery}, {"ObjectsByType", kObjectsByTypeQuery},
          {"StakeInputs", kStakeInputsQuery}, {"UnstakeInputs", kUnstakeInputsQuery}};
}

namespace {

Result<Owner> parse_owner(const json* j) {
  Owner owner;
  auto type = to_string(get(j, "__typename"));
  if (!type) return malformed("object owner without __typename");
  if (*type == "AddressOwner" || *type == "ObjectOwner") {
    auto a = to_address(get(get(j, "address"), "address"));
    if (!a) return malformed(*type + " without an address");
    owner.kind = *type == "AddressOwner" ? Owner::Kind::kAddress : Owner::Kind::kObject;
    owner.address = *a;
  } else if (*type == "Shared") {
    auto v = to_u64(get(j, "initialSharedVersion"));
    if (!v) return malformed("Shared owner without initialSharedVersion");
    owner.kind = Owner::Kind::kShared;
    owner.initial_shared_version = *v;
  } else if (*type == "Immutable") {
    owner.kind = Owner::Kind::kImmutable;
  } else if (*type == "ConsensusAddressOwner") {
    auto a = to_address(get(get(j, "address"), "address"));
    if (!a) return malformed("ConsensusAddressOwner without an address");
    owner.kind = Owner::Kind::kConsensusAddress;
    owner.address = *a;
    owner.initial_shared_version = to_u64(get(j, "startVersion")).value_or(0);
  } else {
    owner.kind = Owner::Kind::kUnknown;
  }
  return owner;
}

Result<ChainEvent> parse_event(const json* node, const std::string& tx_digest) {
  ChainEvent ev;
  const json* contents = get(node, "contents");
  auto type = to_string(get(get(contents, "type"), "repr"));
  if (!type) return malformed("event without contents.type.repr");
  ev.type = *type;
  auto sender = to_address(get(get(node, "sender"), "address"));
  if (sender) ev.sender = *sender;
  const json* fields = get(contents, "json");
  ev.fields = fields != nullptr ? *fields : json::object();
  ev.tx_digest = to_string(get(get(node, "transaction"), "digest")).value_or(tx_digest);
  ev.timestamp_ms = detail::to_time_ms(get(node, "timestamp")).value_or(0);
  return ev;
}

Result<TransactionResult> parse_effects(const json* effects, const std::string& what) {
  if (effects == nullptr || !effects->is_object()) return malformed(what + ": no effects");
  TransactionResult out;
  auto digest = to_string(get(effects, "digest"));
  if (!digest) return malformed(what + ": effects without a digest");
  out.digest = *digest;
  auto status = to_string(get(effects, "status"));
  if (!status || (*status != "SUCCESS" && *status != "FAILURE")) {
    return malformed(what + ": effects status is neither SUCCESS nor FAILURE");
  }
  out.success = *status == "SUCCESS";
  if (const json* err = get(effects, "executionError")) {
    out.error = to_string(get(err, "message")).value_or("unknown execution error");
    if (auto code = to_u64(get(err, "abortCode"))) {
      MoveAbort abort;
      abort.code = *code;
      abort.module = to_string(get(get(err, "module"), "name")).value_or("");
      abort.package = to_string(get(get(get(err, "module"), "package"), "address")).value_or("");
      abort.function = to_string(get(get(err, "function"), "name")).value_or("");
      out.abort = abort;
    }
  }
  if (!out.success && out.error.empty()) out.error = "transaction failed (no error message from the chain)";
  out.epoch = to_u64(get(get(effects, "epoch"), "epochId"));
  out.checkpoint = to_u64(get(get(effects, "checkpoint"), "sequenceNumber"));
  if (const json* gas = get(get(effects, "gasEffects"), "gasObject")) {
    auto id = to_string(get(gas, "address"));
    auto version = to_u64(get(gas, "version"));
    auto gas_digest = to_string(get(gas, "digest"));
    if (id && version && gas_digest) {
      auto ref = ObjectRef::parse(*id, *version, *gas_digest);
      if (ref.ok()) out.gas_object = *ref;
    }
  }
  if (const json* nodes = get(get(effects, "objectChanges"), "nodes")) {
    if (!nodes->is_array()) return malformed(what + ": objectChanges.nodes is not a list");
    for (const auto& change : *nodes) {
      const json* output = get(change, "outputState");
      if (output == nullptr) continue;
      const json* contents = get(get(output, "asMoveObject"), "contents");
      if (const json* fields = get(contents, "json")) {
        // The object as the transaction left it (documents that ask for contents).
        auto id = to_string(get(change, "address"));
        auto version = to_u64(get(output, "version"));
        auto object_digest = to_string(get(output, "digest"));
        if (!id || !version || !object_digest) return malformed(what + ": changed object without address, version or digest");
        auto ref = ObjectRef::parse(*id, *version, *object_digest);
        if (!ref.ok()) return malformed(what + ": " + ref.error().message);
        ObjectInfo info;
        info.ref = *ref;
        info.type = to_string(get(get(contents, "type"), "repr")).value_or("");
        info.fields = *fields;
        info.previous_tx = out.digest;
        if (const json* owner = get(output, "owner")) {
          K3S_ASSIGN(info.owner, parse_owner(owner));
        }
        out.written.push_back(std::move(info));
      }
      if (!to_bool(get(change, "idCreated")).value_or(false)) continue;
      CreatedObject created;
      auto id = to_address(get(change, "address"));
      if (!id) return malformed(what + ": created object without an address");
      created.id = *id;
      created.version = to_u64(get(output, "version")).value_or(0);
      created.type = to_string(get(get(get(get(output, "asMoveObject"), "contents"), "type"), "repr")).value_or("");
      if (const json* owner = get(output, "owner")) {
        K3S_ASSIGN(created.owner, parse_owner(owner));
      }
      out.created.push_back(std::move(created));
    }
  }
  if (const json* nodes = get(get(effects, "events"), "nodes")) {
    if (!nodes->is_array()) return malformed(what + ": events.nodes is not a list");
    for (const auto& node : *nodes) {
      K3S_ASSIGN(ChainEvent ev, parse_event(&node, out.digest));
      out.events.push_back(std::move(ev));
    }
  }
  return out;
}

// A connection's pageInfo: the cursor of the next page, or none on the last page.
Result<std::optional<std::string>> next_page(const json* page_info, const char* what) {
  if (!to_bool(get(page_info, "hasNextPage")).value_or(false)) return std::optional<std::string>();
  auto cursor = to_string(get(page_info, "endCursor"));
  if (!cursor) return malformed(std::string(what) + ": hasNextPage without an endCursor");
  return cursor;
}

}  // namespace

Result<std::uint64_t> parse_reference_gas_price(const json& data) {
  auto price = to_u64(get(get(data, "epoch"), "referenceGasPrice"));
  if (!price) return malformed("epoch.referenceGasPrice missing or not a number");
  return *price;
}

Result<std::uint64_t> parse_epoch(const json& data) {
  auto epoch = to_u64(get(get(data, "epoch"), "epochId"));
  if (!epoch) return malformed("epoch.epochId missing or not a number");
  return *epoch;
}

Result<std::vector<Coin>> parse_coins(const json& data, std::optional<std::string>& next) {
  next.reset();
  std::vector<Coin> coins;
  const json* address = get(data, "address");
  if (address == nullptr) return coins;  // an address never seen on chain owns nothing
  const json* objects = get(address, "objects");
  const json* nodes = get(objects, "nodes");
  if (nodes == nullptr || !nodes->is_array()) return malformed("address.objects.nodes missing");
  for (const auto& node : *nodes) {
    auto id = to_string(get(node, "address"));
    auto version = to_u64(get(node, "version"));
    auto digest = to_string(get(node, "digest"));
    if (!id || !version || !digest) return malformed("coin without address, version or digest");
    const json* balance = get(get(get(node, "contents"), "json"), "balance");
    auto value = to_u64(balance);
    if (!value) value = to_u64(get(balance, "value"));
    if (!value) return malformed("coin " + *id + " without a balance");
    auto ref = ObjectRef::parse(*id, *version, *digest);
    if (!ref.ok()) return malformed(ref.error().message);
    coins.push_back({*ref, *value});
  }
  K3S_ASSIGN(next, next_page(get(objects, "pageInfo"), "coins"));
  return coins;
}

Result<std::uint64_t> parse_balance(const json& data) {
  const json* address = get(data, "address");
  if (address == nullptr) return std::uint64_t{0};
  const json* balance = get(address, "balance");
  if (balance == nullptr) return std::uint64_t{0};
  auto total = to_u64(get(balance, "totalBalance"));
  if (!total) return malformed("balance.totalBalance missing or not a number");
  return *total;
}

namespace {

Result<ObjectInfo> parse_object_node(const json* object) {
  auto id = to_string(get(object, "address"));
  auto version = to_u64(get(object, "version"));
  auto digest = to_string(get(object, "digest"));
  if (!id || !version || !digest) return malformed("object without address, version or digest");
  ObjectInfo info;
  auto ref = ObjectRef::parse(*id, *version, *digest);
  if (!ref.ok()) return malformed(ref.error().message);
  info.ref = *ref;
  info.previous_tx = to_string(get(get(object, "previousTransaction"), "digest")).value_or("");
  if (const json* owner = get(object, "owner")) {
    K3S_ASSIGN(info.owner, parse_owner(owner));
  }
  const json* contents = get(get(object, "asMoveObject"), "contents");
  if (contents != nullptr) {
    info.type = to_string(get(get(contents, "type"), "repr")).value_or("");
    const json* fields = get(contents, "json");
    info.fields = fields != nullptr ? *fields : json::object();
    if (auto b64 = to_string(get(contents, "bcs"))) {
      auto bytes = base64_decode(*b64);
      if (!bytes) return malformed("object contents.bcs is not base64");
      info.bcs = std::move(*bytes);
    }
  } else {
    info.type = "package";
    info.fields = json::object();
  }
  return info;
}

}  // namespace

Result<std::optional<ObjectInfo>> parse_object(const json& data) {
  const json* object = get(data, "object");
  if (object == nullptr) return std::optional<ObjectInfo>();
  K3S_ASSIGN(ObjectInfo info, parse_object_node(object));
  return std::optional<ObjectInfo>(std::move(info));
}

Result<ObjectPage> parse_objects_page(const json& data) {
  const json* connection = get(data, "objects");
  if (connection == nullptr) return malformed("objects: no connection");
  const json* nodes = get(connection, "nodes");
  if (nodes == nullptr || !nodes->is_array()) return malformed("objects: nodes is not a list");
  ObjectPage page;
  for (const auto& node : *nodes) {
    K3S_ASSIGN(ObjectInfo info, parse_object_node(&node));
    page.objects.push_back(std::move(info));
  }
  K3S_ASSIGN(page.next_cursor, next_page(get(connection, "pageInfo"), "objects"));
  return page;
}

Result<TransactionResult> parse_simulation(const json& data) {
  return parse_effects(get(get(data, "simulateTransaction"), "effects"), "simulateTransaction");
}

Result<TransactionResult> parse_execution(const json& data) {
  return parse_effects(get(get(data, "executeTransaction"), "effects"), "executeTransaction");
}

Result<std::optional<TransactionResult>> parse_transaction(const json& data) {
  const json* tx = get(data, "transaction");
  if (tx == nullptr) return std::optional<TransactionResult>();
  const json* effects = get(tx, "effects");
  if (effects == nullptr) return std::optional<TransactionResult>();  // known but not yet executed/indexed
  K3S_ASSIGN(TransactionResult result, parse_effects(effects, "transaction"));
  return std::optional<TransactionResult>(std::move(result));
}

Result<EventPage> parse_events(const json& data) {
  const json* events = get(data, "events");
  const json* edges = get(events, "edges");
  if (edges == nullptr || !edges->is_array()) return malformed("events.edges missing");
  EventPage page;
  for (const auto& edge : *edges) {
    K3S_ASSIGN(ChainEvent ev, parse_event(get(edge, "node"), ""));
    auto cursor = to_string(get(edge, "cursor"));
    if (!cursor) return malformed("event edge without a cursor");
    ev.cursor = *cursor;
    page.events.push_back(std::move(ev));
  }
  K3S_ASSIGN(page.next_cursor, next_page(get(events, "pageInfo"), "events"));
  return page;
}

Result<TxInputs> parse_tx_inputs(const json& data, bool unstake, std::optional<std::string>& coins_next) {
  TxInputs in;
  K3S_ASSIGN(in.reference_gas_price, parse_reference_gas_price(data));
  K3S_ASSIGN(std::uint64_t epoch, parse_epoch(data));
  in.epoch = epoch;
  if (const json* pool = get(data, unstake ? "pool" : "object")) {
    K3S_ASSIGN(ObjectInfo info, parse_object_node(pool));
    in.pool = std::move(info);
  }
  if (unstake) {
    if (const json* record = get(data, "record")) {
      K3S_ASSIGN(ObjectInfo info, parse_object_node(record));
      in.record = std::move(info);
    }
  } else {
    K3S_ASSIGN(EventPage events, parse_events(data));
    in.events = std::move(events);
  }
  K3S_ASSIGN(in.coins, parse_coins(data, coins_next));
  return in;
}

}  // namespace graphql

Result<json> graphql_envelope(std::string_view body) {
  K3S_ASSIGN(json doc, detail::parse_json(body));
  if (!doc.is_object()) return malformed("a GraphQL answer must be a JSON object");
  if (const json* errors = get(doc, "errors")) {
    if (!errors->is_array()) return malformed("GraphQL 'errors' is not a list");
    if (!errors->empty()) {
      std::string messages;
      std::size_t shown = 0;
      for (const auto& e : *errors) {
        if (shown == 3) {
          messages += "; ...";
          break;
        }
        if (!messages.empty()) messages += "; ";
        messages += detail::snippet(to_string(get(e, "message")).value_or("(no message)"));
        ++shown;
      }
      // The server's own failures (Sui GraphQL's extensions.code INTERNAL_SERVER_ERROR or
      // REQUEST_TIMEOUT on every error) are transient like an HTTP 5xx: worth another pass.
      // Anything else (BAD_USER_INPUT, validation) is a refusal.
      bool internal = true, timeout = true;
      for (const auto& e : *errors) {
        const json* ext = get(e, "extensions");
        const auto code = ext ? to_string(get(*ext, "code")) : std::nullopt;
        internal = internal && code == std::optional<std::string>("INTERNAL_SERVER_ERROR");
        timeout = timeout && code == std::optional<std::string>("REQUEST_TIMEOUT");
      }
      if (internal) return make_error(ErrorKind::kNetwork, "GraphQL error: " + messages + " (a server error: transient)");
      if (timeout) return make_error(ErrorKind::kTimeout, "GraphQL error: " + messages + " (a server timeout: transient)");
      return make_error(ErrorKind::kRejected, "GraphQL error: " + messages);
    }
  }
  const json* data = get(doc, "data");
  if (data == nullptr || !data->is_object()) return malformed("GraphQL answer without 'data'");
  return *data;
}

void exercise_graphql_parsers(std::string_view body) {
  using namespace graphql;
  std::optional<std::string> next;
  detail::feed(graphql_envelope(body), parse_reference_gas_price, parse_epoch,
               [&](const json& d) { return parse_coins(d, next); }, parse_balance, parse_object, parse_simulation,
               parse_execution, parse_transaction, parse_events, parse_objects_page,
               [&](const json& d) { return parse_tx_inputs(d, false, next); },
               [&](const json& d) { return parse_tx_inputs(d, true, next); });
}

}  // namespace k3s_daas::sui::wire
