#include "endpoint_pool.hpp"

#include <algorithm>
#include <thread>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/url.hpp"
#include "k3s_daas/log.hpp"
#include "wire_util.hpp"

namespace k3s_daas::sui::detail {

EndpointPool::EndpointPool(const ChainClientOptions& options, std::string transport_name)
    : options_(options), transport_(std::move(transport_name)) {
  net::ClientOptions client_options;
  client_options.timeout = options.request_timeout;
  client_options.connect_timeout = std::min(options.request_timeout, std::chrono::milliseconds(5000));
  client_options.abort = options.abort;
  for (const auto& url : options.urls) {
    Endpoint endpoint;
    endpoint.url = url;
    endpoint.display = display_url(url);
    endpoint.client = std::make_unique<net::HttpClient>(client_options);
    endpoint.health.url = endpoint.display;
    endpoints_.push_back(std::move(endpoint));
  }
}

std::vector<std::size_t> EndpointPool::order() const {
  std::vector<std::size_t> healthy, cooling;
  std::int64_t now = monotonic_ms();
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    (endpoints_[i].cooldown_until_ms > now ? cooling : healthy).push_back(i);
  }
  // Among cooling endpoints, the one whose cool-down ends first goes first.
  std::stable_sort(cooling.begin(), cooling.end(), [&](std::size_t a, std::size_t b) {
    return endpoints_[a].cooldown_until_ms < endpoints_[b].cooldown_until_ms;
  });
  healthy.insert(healthy.end(), cooling.begin(), cooling.end());
  return healthy;
}

void EndpointPool::record_success(Endpoint& endpoint) {
  endpoint.health.consecutive_failures = 0;
  endpoint.health.last_success_ms = now_unix_ms();
  endpoint.cooldown_until_ms = 0;
}

void EndpointPool::record_failure(Endpoint& endpoint, const Error& error) {
  auto& h = endpoint.health;
  ++h.consecutive_failures;
  ++h.failures;
  h.last_error = error.message;
  h.last_failure_ms = now_unix_ms();
  unsigned shift = std::min(h.consecutive_failures - 1, 16u);
  auto cooldown = std::min<std::int64_t>(options_.cooldown_cap.count(), options_.cooldown_initial.count() << shift);
  endpoint.cooldown_until_ms = monotonic_ms() + cooldown;
}

Status EndpointPool::call(const std::string& what, const std::string& body, const Accept& accept, bool retryable,
                          const Observe& observe) {
  if (endpoints_.empty()) {
    return make_error(ErrorKind::kConfig, "sui.rpc_urls: no " + transport_ + " endpoint configured");
  }
  Backoff backoff(options_.backoff_initial, options_.backoff_cap);
  const unsigned rounds = retryable ? std::max(1u, options_.max_rounds) : 1u;
  std::vector<std::string> failures;  // of the last pass, one per endpoint
  std::optional<Error> refusal;
  bool any_transient = false, any_malformed = false;
  for (unsigned round = 0; round < rounds; ++round) {
    if (round > 0) {
      auto delay = backoff.next();
      K3S_LOG(kSui, info, "{} {}: every endpoint failed; retrying in {} ms (pass {}/{})", transport_, what,
              delay.count(), round + 1, rounds);
      std::this_thread::sleep_for(delay);
      if (options_.abort && options_.abort->load()) {
        return make_error(ErrorKind::kCancelled, transport_ + " " + what + ": cancelled (stopping)");
      }
    }
    failures.clear();
    refusal.reset();
    any_transient = any_malformed = false;
    for (std::size_t index : order()) {
      Endpoint& endpoint = endpoints_[index];
      ++endpoint.health.requests;
      net::Request request;
      request.method = "POST";
      request.url = endpoint.url;
      request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
      request.body = body;
      K3S_LOG(kSui, debug, "{} {} -> {}", transport_, what, endpoint.display);
      auto response = endpoint.client->perform(request);
      Error error;
      if (!response.ok() && response.error().kind == ErrorKind::kCancelled) return response.error();
      if (response.ok() && observe) observe(*response);
      if (!response.ok()) {
        error = response.error();
        any_transient = any_transient || error.transient();
        any_malformed = any_malformed || !error.transient();
      } else if (response->status >= 500 || response->status == 429) {
        error = make_error(ErrorKind::kNetwork, "HTTP " + std::to_string(response->status) + " from " +
                                                    endpoint.display + ": " + wire::detail::snippet(response->body, 120));
        any_transient = true;
      } else if (response->status >= 400) {
        error = make_error(ErrorKind::kRejected, "HTTP " + std::to_string(response->status) + " from " +
                                                     endpoint.display + ": " + wire::detail::snippet(response->body, 200));
      } else {
        Status accepted = [&]() -> Status {
          try {
            return accept(response->body);
          } catch (const std::exception& e) {
            return wire::detail::malformed(std::string("unexpected answer (") + e.what() + ")");
          }
        }();
        if (accepted.ok()) {
          record_success(endpoint);
          return {};
        }
        error = accepted.error().context(endpoint.display);
        if (error.kind != ErrorKind::kRejected) any_malformed = true;
      }
      K3S_LOG(kSui, warn, "{} {} via {} failed: {}", transport_, what, endpoint.display, error.message);
      record_failure(endpoint, error);
      if (error.kind == ErrorKind::kRejected) {
        if (!refusal) refusal = error;
      }
      failures.push_back(error.message);
    }
    // Only failures of the transport or of the answer's shape are worth another pass.
    if (!any_transient && !any_malformed) break;
  }
  std::string summary = transport_ + " " + what + ": ";
  if (endpoints_.size() == 1) {
    summary += failures.empty() ? "failed" : failures.front();
  } else {
    summary += "all " + std::to_string(endpoints_.size()) + " endpoints failed: ";
    for (std::size_t i = 0; i < failures.size(); ++i) summary += (i ? "; " : "") + failures[i];
  }
  ErrorKind kind = refusal && !any_transient && !any_malformed ? ErrorKind::kRejected
                   : any_transient                               ? ErrorKind::kNetwork
                   : any_malformed                               ? ErrorKind::kProtocol
                                                                 : ErrorKind::kRejected;
  // A refusal is the chain's answer: report it first and plainly.
  if (refusal && kind == ErrorKind::kRejected && endpoints_.size() == 1) summary = transport_ + " " + what + ": " + refusal->message;
  return make_error(kind, summary);
}

std::vector<EndpointHealth> EndpointPool::health() const {
  std::vector<EndpointHealth> out;
  for (const auto& endpoint : endpoints_) out.push_back(endpoint.health);
  return out;
}

}  // namespace k3s_daas::sui::detail
