#pragma once
// The one libcurl wrapper that the Sui client, the master client and the runtime share.
// Owns: connections (kept alive and reused), TLS settings (CA bundle, client certificate), and
// turning transport failures into typed errors that name the URL. Must never: log request or
// response bodies at info level, or put header values (which may carry tokens) into errors.
// A client is not thread-safe: use one per thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "k3s_daas/result.hpp"
#include "k3s_daas/url.hpp"

namespace k3s_daas::net {

struct TlsOptions {
  std::string ca_file;    // PEM bundle to verify the server; empty = system store
  std::string cert_file;  // client certificate (PEM) for mutual TLS; empty = none
  std::string key_file;   // client key (PEM)
  bool verify_peer = true;
  // Refuse a server that does not ask for our client certificate (a master must require mutual
  // TLS). Forces TLS 1.3, where the server's CertificateRequest precedes its Certificate, so the
  // handshake fails before any request (and its seal token) is sent.
  bool require_client_auth = false;
};

struct ClientOptions {
  std::chrono::milliseconds timeout{10000};         // whole request
  std::chrono::milliseconds connect_timeout{5000};
  TlsOptions tls;
  std::string unix_socket;  // talk HTTP over this unix socket (Docker API)
  std::string user_agent = "k3s-daas";
  std::uint64_t max_response_bytes = 8u << 20;  // larger answers are cut off with an error
  // When set and true, a request in progress ends within about a second with a kCancelled error
  // (the daemon sets it on stop, so that a hung peer does not hold the stop up).
  std::shared_ptr<const std::atomic<bool>> abort;
};

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{0};  // 0 = the client's default
};

struct Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

class HttpClient {
 public:
  explicit HttpClient(ClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  // Performs one request on the kept-alive connection. Transport failures come back as
  // kNetwork or kTimeout errors naming the URL; any HTTP status is a successful Response.
  Result<Response> perform(const Request& request);

  // Convenience: POST a JSON body.
  Result<Response> post_json(const std::string& url, const std::string& json,
                             std::vector<std::pair<std::string, std::string>> headers = {});

  // Number of new connections (TCP, and TLS handshakes for https) this client has opened.
  std::uint64_t connections_opened() const;

  const ClientOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace k3s_daas::net
