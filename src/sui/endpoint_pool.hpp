#pragma once
// Endpoint failover, health and retries shared by both transports (private to src/sui).
//
// Rules (docs/sui.md "Retries"):
// - Endpoints are tried in configured order, healthy ones first: an endpoint that failed is
//   put behind the others for a cool-down that doubles per consecutive failure.
// - A failure of the transport (connection, timeout, HTTP 5xx/429) or a malformed answer moves
//   on to the next endpoint; after a full pass the call waits (exponential backoff with jitter)
//   and makes another pass, up to max_rounds, but only when the call is retryable.
// - A refusal (HTTP 4xx, GraphQL `errors`, JSON-RPC `error`) also moves on to the next
//   endpoint, but no further pass is made for it: it is the answer.
// - Callers mark as retryable only reads and the re-sending of the same signed bytes.

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k3s_daas/net.hpp"
#include "k3s_daas/sui_client.hpp"

namespace k3s_daas::sui::detail {

class EndpointPool {
 public:
  EndpointPool(const ChainClientOptions& options, std::string transport_name);

  // Accepts one endpoint's answer body: parses it and stores the result, or returns an Error:
  // kRejected (a refusal, final) or anything else (malformed: try another endpoint).
  using Accept = std::function<Status(std::string_view body)>;

  // POSTs `body` (JSON) and hands each answer to `accept` until one is accepted.
  // `what` names the operation in messages ("executeTransaction"). `observe`, when given, sees
  // every HTTP answer (any status) before it is judged: its headers (x-sui-rpc-version).
  using Observe = std::function<void(const net::Response& response)>;
  Status call(const std::string& what, const std::string& body, const Accept& accept, bool retryable,
              const Observe& observe = {});

  std::vector<EndpointHealth> health() const;
  const std::string& transport() const { return transport_; }

 private:
  struct Endpoint {
    std::string url;
    std::string display;
    std::unique_ptr<net::HttpClient> client;
    EndpointHealth health;
    std::int64_t cooldown_until_ms = 0;  // monotonic
  };

  std::vector<std::size_t> order() const;
  void record_success(Endpoint& endpoint);
  void record_failure(Endpoint& endpoint, const Error& error);

  ChainClientOptions options_;
  std::string transport_;
  std::vector<Endpoint> endpoints_;
};

}  // namespace k3s_daas::sui::detail
