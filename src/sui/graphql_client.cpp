// ChainClient over Sui GraphQL.
#include "clients.hpp"
#include "endpoint_pool.hpp"
#include "graphql_capabilities.hpp"
#include "wire_util.hpp"

namespace k3s_daas::sui::detail {
namespace {

using nlohmann::json;
namespace gql = wire::graphql;

class GraphQLClient final : public ChainClient {
 public:
  explicit GraphQLClient(const ChainClientOptions& options)
      : pool_(options, "graphql"), schema_check_first_(options.schema_check_first) {}

  Result<TxInputs> transaction_inputs(const TxInputsQuery& request) override {
    // One document for every independent read; more requests only for further pages.
    const bool unstake = request.record.has_value();
    if (unstake ? !request.event_type.empty() : request.event_type.empty()) return ChainClient::transaction_inputs(request);
    json variables = {{"sender", request.sender.to_hex()}, {"pool", request.pool.to_hex()}};
    if (unstake) {
      variables["record"] = request.record->to_hex();
    } else {
      variables["events"] = request.event_type;
    }
    std::optional<std::string> next;
    K3S_ASSIGN(TxInputs in, query<TxInputs>(unstake ? "unstake inputs" : "stake inputs",
                                            unstake ? gql::kUnstakeInputsQuery : gql::kStakeInputsQuery, variables,
                                            [&](const json& data) { return gql::parse_tx_inputs(data, unstake, next); }));
    for (int page = 1; next && page < 100; ++page) {
      json more = {{"owner", request.sender.to_hex()}, {"after", *next}};
      std::optional<std::string> after;
      K3S_ASSIGN(auto coins, query<std::vector<Coin>>("coins", gql::kCoinsQuery, more,
                                                            [&](const json& data) { return gql::parse_coins(data, after); }));
      in.coins.insert(in.coins.end(), coins.begin(), coins.end());
      next = after;
    }
    return in;
  }

  Result<std::uint64_t> reference_gas_price() override {
    return query<std::uint64_t>("referenceGasPrice", gql::kEpochQuery, json::object(), gql::parse_reference_gas_price);
  }

  Result<std::uint64_t> current_epoch() override {
    return query<std::uint64_t>("epoch", gql::kEpochQuery, json::object(), gql::parse_epoch);
  }

  Result<std::vector<Coin>> sui_coins(const Address& owner) override {
    std::vector<Coin> all;
    std::optional<std::string> cursor;
    for (int page = 0; page < 100; ++page) {
      json variables = {{"owner", owner.to_hex()}, {"after", cursor ? json(*cursor) : json(nullptr)}};
      std::optional<std::string> next;
      K3S_ASSIGN(auto coins, query<std::vector<Coin>>("coins", gql::kCoinsQuery, variables,
                                                      [&](const json& data) { return gql::parse_coins(data, next); }));
      all.insert(all.end(), coins.begin(), coins.end());
      if (!next) return all;
      cursor = next;
    }
    return all;
  }

  Result<std::uint64_t> sui_balance(const Address& owner) override {
    return query<std::uint64_t>("balance", gql::kBalanceQuery, {{"owner", owner.to_hex()}}, gql::parse_balance);
  }

  Result<std::optional<ObjectInfo>> get_object(const Address& id) override {
    return query<std::optional<ObjectInfo>>("object", gql::kObjectQuery, {{"id", id.to_hex()}}, gql::parse_object);
  }

  Result<std::optional<ObjectInfo>> get_object_version(const Address& id) override {
    return query<std::optional<ObjectInfo>>("object version", gql::kObjectVersionQuery, {{"id", id.to_hex()}},
                                            gql::parse_object);
  }

  Result<TransactionResult> simulate(ByteView tx_bytes) override {
    json variables = {{"tx", {{"bcs", {{"value", base64_encode(tx_bytes)}}}}}};
    return query<TransactionResult>("simulateTransaction", gql::kSimulateQuery, variables, gql::parse_simulation);
  }

  Result<TransactionResult> execute(const SignedTransaction& tx) override {
    // The body is built once: every retry re-sends these exact signed bytes.
    json variables = {{"tx", tx.tx_bytes_b64()}, {"signatures", json::array({tx.signature_b64})}};
    return query<TransactionResult>("executeTransaction", gql::kExecuteMutation, variables, gql::parse_execution);
  }

  Result<std::optional<TransactionResult>> get_transaction(const std::string& digest) override {
    return query<std::optional<TransactionResult>>("transaction", gql::kTransactionQuery, {{"digest", digest}},
                                                   gql::parse_transaction);
  }

  Result<EventPage> query_events(const std::string& event_type, const std::optional<Address>& sender,
                                 const std::optional<std::string>& cursor, unsigned limit) override {
    json variables = {{"type", event_type},
                      {"sender", sender ? json(sender->to_hex()) : json(nullptr)},
                      {"after", cursor ? json(*cursor) : json(nullptr)},
                      {"first", std::clamp(limit, 1u, 50u)}};
    return query<EventPage>("events", gql::kEventsQuery, variables, gql::parse_events);
  }

  Result<ObjectPage> objects_of_type(const std::string& type, const std::optional<std::string>& cursor) override {
    json variables = {{"type", type}, {"after", cursor ? json(*cursor) : json(nullptr)}};
    return query<ObjectPage>("objects", gql::kObjectsByTypeQuery, variables, gql::parse_objects_page);
  }

  std::string transport() const override { return "graphql"; }
  std::vector<EndpointHealth> health() const override { return pool_.health(); }

 private:
  template <typename T, typename Parse>
  Result<T> query(const std::string& what, const char* text, const json& variables, Parse&& parse) {
    // Once per process and endpoint set: does the server's schema have what `text` selects?
    // (Without schema_check_first: only once the server refused a document, below.)
    if (schema_check_first_) K3S_TRY(gqlcaps::check_document(pool_, text));
    json body = {{"query", text}, {"variables", variables}};
    std::optional<T> out;
    std::string version;
    auto status = pool_.call(
        what, body.dump(),
        [&](std::string_view answer) -> Status {
          K3S_ASSIGN(json data, wire::graphql_envelope(answer));
          K3S_ASSIGN(T value, parse(data));
          out.emplace(std::move(value));
          return {};
        },
        /*retryable=*/true, [&](const net::Response& response) { version = gqlcaps::server_version(response); });
    if (!status.ok()) {
      if (!schema_check_first_ && gqlcaps::schema_error_use(status.error().message)) {
        // The server refused the document for a field it lacks: say everything this document
        // needs and the server lacks, as the check before the first request would have.
        K3S_TRY(gqlcaps::check_document(pool_, text));
      }
      return gqlcaps::explain(status.error(), version);
    }
    return std::move(*out);
  }

  EndpointPool pool_;
  bool schema_check_first_ = true;
};

}  // namespace

std::unique_ptr<ChainClient> make_graphql_client(const ChainClientOptions& options) {
  return std::make_unique<GraphQLClient>(options);
}

}  // namespace k3s_daas::sui::detail
