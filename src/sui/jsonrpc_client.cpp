// ChainClient over Sui JSON-RPC (for networks that still serve it).
#include "clients.hpp"
#include "endpoint_pool.hpp"
#include "wire_util.hpp"

namespace k3s_daas::sui::detail {
namespace {

using nlohmann::json;
namespace rpc = wire::jsonrpc;

const json kTxOptions = {{"showEffects", true}, {"showEvents", true}, {"showObjectChanges", true}};

class JsonRpcClient final : public ChainClient {
 public:
  explicit JsonRpcClient(const ChainClientOptions& options) : pool_(options, "jsonrpc") {}

  Result<std::uint64_t> reference_gas_price() override {
    return call<std::uint64_t>("suix_getReferenceGasPrice", json::array(), rpc::parse_reference_gas_price);
  }

  Result<std::uint64_t> current_epoch() override {
    return call<std::uint64_t>("suix_getLatestSuiSystemState", json::array(), rpc::parse_epoch);
  }

  Result<std::vector<Coin>> sui_coins(const Address& owner) override {
    std::vector<Coin> all;
    std::optional<std::string> cursor;
    for (int page = 0; page < 100; ++page) {
      json params = {owner.to_hex(), kSuiCoinType, cursor ? json(*cursor) : json(nullptr), 50};
      std::optional<std::string> next;
      K3S_ASSIGN(auto coins, call<std::vector<Coin>>("suix_getCoins", params,
                                                     [&](const json& result) { return rpc::parse_coins(result, next); }));
      all.insert(all.end(), coins.begin(), coins.end());
      if (!next) return all;
      cursor = next;
    }
    return all;
  }

  Result<TxInputs> transaction_inputs(const TxInputsQuery& query) override {
    if (!query.need_epoch) return ChainClient::transaction_inputs(query);
    // Full nodes serve no batches: one request per part. The system state carries the reference
    // gas price beside the epoch, so an unstake asks for it once.
    TxInputs in;
    if (!query.event_type.empty()) {
      K3S_ASSIGN(EventPage events, query_events(query.event_type, query.sender, std::nullopt, 50));
      in.events = std::move(events);
    }
    if (query.record) {
      K3S_ASSIGN(in.record, get_object(*query.record));
    }
    std::uint64_t price = 0;
    K3S_ASSIGN(std::uint64_t epoch,
               call<std::uint64_t>("suix_getLatestSuiSystemState", json::array(), [&](const json& result) -> Result<std::uint64_t> {
                 auto rgp = wire::detail::to_u64(wire::detail::get(result, "referenceGasPrice"));
                 if (!rgp) return make_error(ErrorKind::kProtocol, "system state without a referenceGasPrice");
                 price = *rgp;
                 return rpc::parse_epoch(result);
               }));
    in.epoch = epoch;
    in.reference_gas_price = price;
    K3S_ASSIGN(in.pool, get_object(query.pool));
    K3S_ASSIGN(in.coins, sui_coins(query.sender));
    return in;
  }

  Result<std::uint64_t> sui_balance(const Address& owner) override {
    return call<std::uint64_t>("suix_getBalance", json::array({owner.to_hex(), kSuiCoinType}), rpc::parse_balance);
  }

  Result<std::optional<ObjectInfo>> get_object(const Address& id) override {
    json options = {{"showType", true}, {"showOwner", true}, {"showContent", true}, {"showBcs", true},
                    {"showPreviousTransaction", true}};
    return call<std::optional<ObjectInfo>>("sui_getObject", json::array({id.to_hex(), options}), rpc::parse_object);
  }

  Result<std::optional<ObjectInfo>> get_object_version(const Address& id) override {
    json options = {{"showPreviousTransaction", true}};
    return call<std::optional<ObjectInfo>>("sui_getObject", json::array({id.to_hex(), options}), rpc::parse_object);
  }

  Result<TransactionResult> simulate(ByteView tx_bytes) override {
    return call<TransactionResult>("sui_dryRunTransactionBlock", json::array({base64_encode(tx_bytes)}),
                                   rpc::parse_transaction_block);
  }

  Result<TransactionResult> execute(const SignedTransaction& tx) override {
    json params = {tx.tx_bytes_b64(), json::array({tx.signature_b64}), kTxOptions};
    return call<TransactionResult>("sui_executeTransactionBlock", params, rpc::parse_transaction_block);
  }

  Result<std::optional<TransactionResult>> get_transaction(const std::string& digest) override {
    json body = request("sui_getTransactionBlock", json::array({digest, kTxOptions}));
    std::optional<TransactionResult> out;
    auto status = pool_.call(
        "sui_getTransactionBlock", body.dump(),
        [&](std::string_view answer) -> Status {
          auto result = wire::jsonrpc_envelope(answer);
          if (!result.ok()) {
            // An unknown digest is an answer ("not known yet"), not a failure.
            if (result.error().kind == ErrorKind::kRejected &&
                result.error().message.find("Could not find the referenced transaction") != std::string::npos) {
              out.reset();
              return {};
            }
            return result.error();
          }
          K3S_ASSIGN(TransactionResult tx, rpc::parse_transaction_block(*result));
          out = std::move(tx);
          return {};
        },
        /*retryable=*/true);
    if (!status.ok()) return status.error();
    return out;
  }

  Result<EventPage> query_events(const std::string& event_type, const std::optional<Address>& sender,
                                 const std::optional<std::string>& cursor, unsigned limit) override {
    // A sender sends few events, so filter by sender on the node and by type here (full nodes
    // do not all combine filters).
    json filter = sender ? json{{"Sender", sender->to_hex()}} : json{{"MoveEventType", event_type}};
    json cursor_json = nullptr;
    if (cursor) {
      cursor_json = json::parse(*cursor, nullptr, false);
      if (cursor_json.is_discarded() || !cursor_json.is_object()) {
        return make_error(ErrorKind::kUsage, "jsonrpc suix_queryEvents: invalid event cursor");
      }
    }
    json params = {filter, cursor_json, std::clamp(limit, 1u, 50u), false};
    K3S_ASSIGN(EventPage page, call<EventPage>("suix_queryEvents", params, rpc::parse_events));
    if (sender) {
      std::string wanted = TypeTag::canonical(event_type);
      std::erase_if(page.events, [&](const ChainEvent& ev) { return TypeTag::canonical(ev.type) != wanted; });
    }
    return page;
  }

  std::string transport() const override { return "jsonrpc"; }
  std::vector<EndpointHealth> health() const override { return pool_.health(); }

 private:
  json request(const std::string& method, json params) {
    return {{"jsonrpc", "2.0"}, {"id", ++next_id_}, {"method", method}, {"params", std::move(params)}};
  }

  template <typename T, typename Parse>
  Result<T> call(const std::string& method, json params, Parse&& parse) {
    json body = request(method, std::move(params));
    std::optional<T> out;
    auto status = pool_.call(
        method, body.dump(),
        [&](std::string_view answer) -> Status {
          K3S_ASSIGN(json result, wire::jsonrpc_envelope(answer));
          K3S_ASSIGN(T value, parse(result));
          out.emplace(std::move(value));
          return {};
        },
        /*retryable=*/true);
    if (!status.ok()) return status.error();
    return std::move(*out);
  }

  EndpointPool pool_;
  std::uint64_t next_id_ = 0;
};

}  // namespace

std::unique_ptr<ChainClient> make_jsonrpc_client(const ChainClientOptions& options) {
  return std::make_unique<JsonRpcClient>(options);
}

}  // namespace k3s_daas::sui::detail
