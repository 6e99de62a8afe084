#pragma once
// The Sui chain client: one interface (ChainClient) over two transports, Sui GraphQL (default)
// and JSON-RPC, chosen by `sui.transport`. Each endpoint has its own kept-alive HttpClient.
// Owns: endpoint failover and health, request timeouts, retries, and turning every answer
// (good, malformed, or an error of any layer) into typed values or typed Errors that name the
// endpoint. Must never: retry anything but reads and the re-sending of the exact same signed
// bytes; crash or throw on any answer; log response bodies above debug level.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "k3s_daas/result.hpp"
#include "k3s_daas/sui_tx.hpp"

namespace k3s_daas::config {
struct SuiConfig;
}

namespace k3s_daas::sui {

inline constexpr const char* kSuiCoinType = "0x2::sui::SUI";
inline constexpr const char* kGasCoinType = "0x2::coin::Coin<0x2::sui::SUI>";

struct Owner {
  enum class Kind { kAddress, kObject, kShared, kImmutable, kConsensusAddress, kUnknown };
  Kind kind = Kind::kUnknown;
  Address address;                          // kAddress, kObject, kConsensusAddress
  std::uint64_t initial_shared_version = 0; // kShared (kConsensusAddress: start version)
  std::string describe() const;
};

struct ObjectInfo {
  ObjectRef ref;            // id, version, digest
  std::string type;         // Move type, as the API prints it
  Owner owner;
  nlohmann::json fields;    // the Move struct's fields as JSON (u64 may be strings)
  std::string previous_tx;  // digest of the transaction that wrote this version (empty when not said)
  Bytes bcs;                // the Move struct's contents in BCS (get_object; empty when not served)
};

// One page of objects (objects_of_type).
struct ObjectPage {
  std::vector<ObjectInfo> objects;
  std::optional<std::string> next_cursor;  // nullopt on the last page
};

struct Coin {
  ObjectRef ref;
  std::uint64_t balance = 0;
};

// Where and why a Move function aborted.
struct MoveAbort {
  std::uint64_t code = 0;
  std::string package;   // 0x...
  std::string module;
  std::string function;
};

struct CreatedObject {
  Address id;
  std::string type;
  Owner owner;
  std::uint64_t version = 0;
};

struct ChainEvent {
  std::string type;
  Address sender;
  std::string tx_digest;    // empty when the API did not say
  nlohmann::json fields;    // parsed Move event fields
  std::string cursor;       // opaque, for continuing an event query after this event
  std::int64_t timestamp_ms = 0;
};

// Effects of an executed, simulated or looked-up transaction.
struct TransactionResult {
  std::string digest;
  bool success = false;
  std::string error;                 // the chain's failure message (empty on success)
  std::optional<MoveAbort> abort;    // set when the failure is a Move abort
  std::vector<CreatedObject> created;
  std::vector<ChainEvent> events;
  std::optional<ObjectRef> gas_object;  // the gas coin after the transaction
  std::optional<std::uint64_t> checkpoint;  // set once indexed in a checkpoint
  std::optional<std::uint64_t> epoch;
  // Objects the transaction created or changed, as they are after it, with their contents, when
  // the answer carried them (GraphQL executeTransaction and transaction look-ups serve them from
  // the execution's own output; JSON-RPC answers carry no contents: empty). previous_tx = digest.
  std::vector<ObjectInfo> written;
  const ObjectInfo* written_object(const Address& id) const;
};

struct EventPage {
  std::vector<ChainEvent> events;
  std::optional<std::string> next_cursor;  // set when more events follow
};

// What a stake or unstake transaction needs from the chain before it is built, read at one point
// in time: over GraphQL one request (one document, several root fields; more only for further
// pages of coins or events), over JSON-RPC one request each.
struct TxInputsQuery {
  Address sender;
  Address pool;
  std::optional<Address> record;  // also read this object (unstake: the StakeRecord)
  std::string event_type;         // non-empty: also the first page of these events sent by `sender`
  bool need_epoch = false;        // the current epoch is needed (unstake's lock check)
};

struct TxInputs {
  std::uint64_t reference_gas_price = 0;
  std::optional<std::uint64_t> epoch;   // set when asked (GraphQL: always)
  std::optional<ObjectInfo> pool;       // nullopt: no such object
  std::optional<ObjectInfo> record;     // nullopt: not asked, or no such object
  std::vector<Coin> coins;              // every SUI coin of `sender` (all pages)
  std::optional<EventPage> events;      // the first page, when asked
};

struct EndpointHealth {
  std::string url;  // display form (display_url, k3s_daas/url.hpp)
  unsigned consecutive_failures = 0;
  std::uint64_t requests = 0;
  std::uint64_t failures = 0;
  std::string last_error;
  std::int64_t last_success_ms = 0;  // wall clock, 0 = never
  std::int64_t last_failure_ms = 0;
};

struct ChainClientOptions {
  std::string transport = "graphql";  // "graphql" or "jsonrpc"
  std::vector<std::string> urls;
  std::chrono::milliseconds request_timeout{10000};
  // Whole passes over the endpoint list for a retryable call (1 = no retry).
  unsigned max_rounds = 3;
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_cap{4000};
  // An endpoint that failed is tried after healthy ones for this long (doubling per failure).
  std::chrono::milliseconds cooldown_initial{1000};
  // GraphQL: check the server's schema (one introspection request) before the first document of
  // the process (true), or only once the server refuses a document for an unknown field or
  // argument (false: one request fewer for a one-shot command; a refused document never runs,
  // since GraphQL validates the whole document before executing any of it).
  bool schema_check_first = true;
  std::chrono::milliseconds cooldown_cap{60000};
  // Set to true to cut requests in progress short (net::ClientOptions::abort).
  std::shared_ptr<const std::atomic<bool>> abort;

  static ChainClientOptions from_config(const config::SuiConfig& sui);
};

class ChainClient {
 public:
  virtual ~ChainClient() = default;

  virtual Result<std::uint64_t> reference_gas_price() = 0;
  virtual Result<std::uint64_t> current_epoch() = 0;
  // Every SUI coin object of `owner` (all pages).
  virtual Result<std::vector<Coin>> sui_coins(const Address& owner) = 0;
  virtual Result<std::uint64_t> sui_balance(const Address& owner) = 0;
  // nullopt when the object does not exist (or was deleted).
  virtual Result<std::optional<ObjectInfo>> get_object(const Address& id) = 0;
  // The object's id, version, digest and the transaction that wrote that version, and nothing
  // else (no type, owner or contents): one small request for a watcher that only needs to know
  // whether an object changed. nullopt when the object does not exist. The default asks for the
  // whole object.
  virtual Result<std::optional<ObjectInfo>> get_object_version(const Address& id) { return get_object(id); }
  // Objects of one exact Move type (type, owner, BCS contents), a page at a time. Only GraphQL
  // can list objects by type; the default refuses with kConfig naming the transport.
  virtual Result<ObjectPage> objects_of_type(const std::string& type, const std::optional<std::string>& cursor);
  // The inputs of a stake or unstake transaction (TxInputsQuery). The default makes one request
  // per part; the GraphQL client asks for them all in one document.
  virtual Result<TxInputs> transaction_inputs(const TxInputsQuery& query);
  // Dry run of unsigned transaction bytes. A Move failure is a successful call with
  // success == false.
  virtual Result<TransactionResult> simulate(ByteView tx_bytes) = 0;
  // Submits signed bytes (retried, on failure of the transport, with the same bytes only).
  virtual Result<TransactionResult> execute(const SignedTransaction& tx) = 0;
  // nullopt when no endpoint knows the digest (yet).
  virtual Result<std::optional<TransactionResult>> get_transaction(const std::string& digest) = 0;
  // Events of a Move event type, optionally sent by `sender`, oldest first.
  virtual Result<EventPage> query_events(const std::string& event_type, const std::optional<Address>& sender,
                                         const std::optional<std::string>& cursor, unsigned limit = 50) = 0;

  // Polls get_transaction until the transaction is indexed (known, with a checkpoint when the
  // transport reports one) or the timeout passes; kTimeout then.
  Result<TransactionResult> wait_for_transaction(const std::string& digest, std::chrono::milliseconds timeout,
                                                 std::chrono::milliseconds interval = std::chrono::milliseconds(200));

  virtual std::string transport() const = 0;
  virtual std::vector<EndpointHealth> health() const = 0;
};

// The client for `sui.transport` over `sui.rpc_urls`.
Result<std::unique_ptr<ChainClient>> make_chain_client(const ChainClientOptions& options);
Result<std::unique_ptr<ChainClient>> make_chain_client(const config::SuiConfig& sui);

// ---- wire parsers (pure functions: the clients and the fuzz targets use them) ----
// Every parser takes untrusted input and returns a value or a kProtocol/kRejected Error;
// none of them throws.
namespace wire {

// Sui GraphQL: {"data": ..., "errors": [...]} -> data, or kRejected naming the errors.
Result<nlohmann::json> graphql_envelope(std::string_view body);
// JSON-RPC 2.0: {"result": ...} | {"error": {"code", "message"}}.
Result<nlohmann::json> jsonrpc_envelope(std::string_view body);

namespace graphql {
// The queries (validated against the SDK's schema.graphql in tests/sui).
extern const char* const kEpochQuery;
extern const char* const kCoinsQuery;
extern const char* const kBalanceQuery;
extern const char* const kObjectQuery;
extern const char* const kObjectVersionQuery;
extern const char* const kSimulateQuery;
extern const char* const kExecuteMutation;
extern const char* const kTransactionQuery;
extern const char* const kEventsQuery;
extern const char* const kObjectsByTypeQuery;
// The independent reads of a stake (StakeEvents of the sender, gas price, pool, gas coins) and
// of an unstake (the record, epoch and gas price, pool, gas coins), each one document.
extern const char* const kStakeInputsQuery;
extern const char* const kUnstakeInputsQuery;
std::vector<std::pair<std::string, const char*>> all_queries();

Result<std::uint64_t> parse_reference_gas_price(const nlohmann::json& data);
Result<std::uint64_t> parse_epoch(const nlohmann::json& data);
// Coins of one page; `next` receives the cursor of the next page (nullopt at the end).
Result<std::vector<Coin>> parse_coins(const nlohmann::json& data, std::optional<std::string>& next);
Result<std::uint64_t> parse_balance(const nlohmann::json& data);
Result<std::optional<ObjectInfo>> parse_object(const nlohmann::json& data);
Result<TransactionResult> parse_simulation(const nlohmann::json& data);
Result<TransactionResult> parse_execution(const nlohmann::json& data);
Result<std::optional<TransactionResult>> parse_transaction(const nlohmann::json& data);
Result<EventPage> parse_events(const nlohmann::json& data);
Result<ObjectPage> parse_objects_page(const nlohmann::json& data);
// An answer to kStakeInputsQuery or kUnstakeInputsQuery (the record: alias `record`, the pool:
// alias `pool` in the unstake document, `object` in the stake one). `coins_next` and the events'
// next_cursor say whether more pages follow.
Result<TxInputs> parse_tx_inputs(const nlohmann::json& data, bool unstake, std::optional<std::string>& coins_next);
}  // namespace graphql

namespace jsonrpc {
Result<std::uint64_t> parse_reference_gas_price(const nlohmann::json& result);
Result<std::uint64_t> parse_epoch(const nlohmann::json& result);  // suix_getLatestSuiSystemState
Result<std::vector<Coin>> parse_coins(const nlohmann::json& result, std::optional<std::string>& next);
Result<std::uint64_t> parse_balance(const nlohmann::json& result);
Result<std::optional<ObjectInfo>> parse_object(const nlohmann::json& result);
// sui_dryRunTransactionBlock, sui_executeTransactionBlock and sui_getTransactionBlock answers.
Result<TransactionResult> parse_transaction_block(const nlohmann::json& result);
Result<EventPage> parse_events(const nlohmann::json& result);
// Reads a Move abort out of Sui's Debug rendering of an execution failure.
std::optional<MoveAbort> parse_move_abort(std::string_view status_error);
}  // namespace jsonrpc

// Feeds one untrusted answer body through the envelope and every parser of a transport
// (the fuzz targets and the replay test use it). Never throws.
void exercise_graphql_parsers(std::string_view body);
void exercise_jsonrpc_parsers(std::string_view body);

}  // namespace wire

}  // namespace k3s_daas::sui
