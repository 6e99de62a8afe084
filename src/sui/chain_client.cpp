#include <thread>

#include "clients.hpp"
#include "k3s_daas/clock.hpp"
#include "k3s_daas/config.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/url.hpp"

namespace k3s_daas::sui {

std::string Owner::describe() const {
  switch (kind) {
    case Kind::kAddress: return "address " + address.to_hex();
    case Kind::kObject: return "object " + address.to_hex();
    case Kind::kShared: return "shared (initial version " + std::to_string(initial_shared_version) + ")";
    case Kind::kImmutable: return "immutable";
    case Kind::kConsensusAddress: return "consensus address " + address.to_hex();
    case Kind::kUnknown: break;
  }
  return "unknown owner";
}

ChainClientOptions ChainClientOptions::from_config(const config::SuiConfig& sui) {
  ChainClientOptions options;
  options.transport = sui.transport;
  options.urls = sui.rpc_urls;
  options.request_timeout = std::chrono::milliseconds(std::max<std::uint64_t>(sui.request_timeout_ms, 100));
  return options;
}

Result<ObjectPage> ChainClient::objects_of_type(const std::string& type, const std::optional<std::string>&) {
  return make_error(ErrorKind::kConfig, "listing objects of type " + type + " needs the graphql transport (sui.transport is " +
                                            transport() + "); name the object by id instead");
}

const ObjectInfo* TransactionResult::written_object(const Address& id) const {
  for (const auto& object : written) {
    if (object.ref.object_id == id) return &object;
  }
  return nullptr;
}

Result<TxInputs> ChainClient::transaction_inputs(const TxInputsQuery& query) {
  TxInputs in;
  if (!query.event_type.empty()) {
    K3S_ASSIGN(EventPage events, query_events(query.event_type, query.sender, std::nullopt));
    in.events = std::move(events);
  }
  if (query.record) {
    K3S_ASSIGN(in.record, get_object(*query.record));
  }
  if (query.need_epoch) {
    K3S_ASSIGN(std::uint64_t epoch, current_epoch());
    in.epoch = epoch;
  }
  K3S_ASSIGN(in.reference_gas_price, reference_gas_price());
  K3S_ASSIGN(in.pool, get_object(query.pool));
  K3S_ASSIGN(in.coins, sui_coins(query.sender));
  return in;
}

Result<TransactionResult> ChainClient::wait_for_transaction(const std::string& digest, std::chrono::milliseconds timeout,
                                                            std::chrono::milliseconds interval) {
  const std::int64_t deadline = monotonic_ms() + timeout.count();
  std::optional<Error> last_error;
  while (true) {
    auto found = get_transaction(digest);
    if (found.ok() && found->has_value()) return std::move(**found);
    if (!found.ok()) last_error = found.error();
    if (monotonic_ms() >= deadline) {
      std::string why = last_error ? " (last error: " + last_error->message + ")" : "";
      return make_error(ErrorKind::kTimeout, "transaction " + digest + " is not visible on the chain after " +
                                                 std::to_string(timeout.count()) + " ms" + why);
    }
    std::this_thread::sleep_for(interval);
  }
}

Result<std::unique_ptr<ChainClient>> make_chain_client(const ChainClientOptions& options) {
  if (options.urls.empty()) return make_error(ErrorKind::kConfig, "sui.rpc_urls: at least one endpoint is required");
  for (std::size_t i = 0; i < options.urls.size(); ++i) {
    const auto& url = options.urls[i];
    bool https = url.rfind("https://", 0) == 0;
    bool http = url.rfind("http://", 0) == 0;
    if (!https && !(http && is_loopback_url(url))) {
      return make_error(ErrorKind::kConfig, "sui.rpc_urls[" + std::to_string(i) + "]: expected an https:// URL (http:// only for loopback), found \"" +
                                                display_url(url) + "\"");
    }
  }
  if (options.transport == "graphql") return detail::make_graphql_client(options);
  if (options.transport == "jsonrpc") return detail::make_jsonrpc_client(options);
  return make_error(ErrorKind::kConfig, "sui.transport: expected \"graphql\" or \"jsonrpc\", found \"" + options.transport + "\"");
}

Result<std::unique_ptr<ChainClient>> make_chain_client(const config::SuiConfig& sui) {
  return make_chain_client(ChainClientOptions::from_config(sui));
}

}  // namespace k3s_daas::sui
