#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "k3s_daas/log.hpp"
#include "k3s_daas/net.hpp"

namespace k3s_daas::net {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Collected {
  std::string body;
  std::map<std::string, std::string> headers;
  std::uint64_t limit = 0;
  bool overflow = false;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* collected = static_cast<Collected*>(user);
  size_t n = size * count;
  if (collected->body.size() + n > collected->limit) {
    collected->overflow = true;
    return 0;  // makes curl fail with CURLE_WRITE_ERROR
  }
  collected->body.append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* collected = static_cast<Collected*>(user);
  size_t n = size * count;
  std::string line(data, n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    auto first = value.find_first_not_of(" \t");
    auto last = value.find_last_not_of(" \t\r\n");
    value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    collected->headers[name] = value;
  } else if (line.rfind("HTTP/", 0) == 0) {
    collected->headers.clear();  // a new response (after 100-continue or a redirect)
  }
  return n;
}

// Mutual-TLS enforcement (TlsOptions::require_client_auth), hooked into curl's SSL_CTX.
int certificate_request_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void on_tls_message(int write_p, int, int content_type, const void* buf, size_t len, SSL* ssl, void*) {
  if (write_p == 0 && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
      static_cast<const unsigned char*>(buf)[0] == SSL3_MT_CERTIFICATE_REQUEST) {
    SSL_set_ex_data(ssl, certificate_request_index(), reinterpret_cast<void*>(1));
  }
}

// Replaces the chain verification step (curl keeps its own verify mode and callback): in TLS 1.3
// the server's CertificateRequest has arrived before its Certificate is checked here.
int verify_with_client_auth_check(X509_STORE_CTX* store, void* missing_client_auth_flag) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl != nullptr && SSL_get_ex_data(ssl, certificate_request_index()) == nullptr) {
    *static_cast<bool*>(missing_client_auth_flag) = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  return X509_verify_cert(store);
}

CURLcode install_client_auth_check(CURL*, void* ssl_ctx, void* missing_client_auth_flag) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  SSL_CTX_set_msg_callback(ctx, on_tls_message);
  SSL_CTX_set_cert_verify_callback(ctx, verify_with_client_auth_check, missing_client_auth_flag);
  return CURLE_OK;
}

int on_progress(void* abort_flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* flag = static_cast<const std::atomic<bool>*>(abort_flag);
  return flag->load(std::memory_order_relaxed) ? 1 : 0;  // non-zero aborts the transfer
}

}  // namespace

struct HttpClient::Impl {
  ClientOptions options;
  CURL* easy = nullptr;
  std::uint64_t connections = 0;
  bool missing_client_auth = false;  // set by the TLS verify hook
};

HttpClient::HttpClient(ClientOptions options) : impl_(std::make_unique<Impl>()) {
  global_init();
  impl_->options = std::move(options);
  impl_->easy = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (impl_ && impl_->easy) curl_easy_cleanup(impl_->easy);
}

HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

const ClientOptions& HttpClient::options() const { return impl_->options; }
std::uint64_t HttpClient::connections_opened() const { return impl_->connections; }

Result<Response> HttpClient::perform(const Request& request) {
  CURL* easy = impl_->easy;
  if (easy == nullptr) return make_error(ErrorKind::kInternal, "libcurl could not create a handle");
  const auto& opt = impl_->options;
  curl_easy_reset(easy);  // keeps the connection cache; clears per-request options

  Collected collected;
  collected.limit = opt.max_response_bytes;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, opt.user_agent.c_str());
  auto timeout = request.timeout.count() > 0 ? request.timeout : opt.timeout;
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opt.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &collected);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &collected);
  if (opt.abort) {
    if (opt.abort->load()) return make_error(ErrorKind::kCancelled, request.method + " " + display_url(request.url) + ": cancelled (stopping)");
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(opt.abort.get()));
  }
  if (!opt.unix_socket.empty()) curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, opt.unix_socket.c_str());

  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, opt.tls.verify_peer ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, opt.tls.verify_peer ? 2L : 0L);
  if (!opt.tls.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, opt.tls.ca_file.c_str());
  if (!opt.tls.cert_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLCERT, opt.tls.cert_file.c_str());
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (!opt.tls.key_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLKEY, opt.tls.key_file.c_str());
    curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
  }
  curl_easy_setopt(easy, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  impl_->missing_client_auth = false;
  if (opt.tls.require_client_auth) {
    curl_easy_setopt(easy, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_3);
    curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, install_client_auth_check);
    curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, &impl_->missing_client_auth);
  }

  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);

  if (request.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (!request.body.empty()) {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
  }

  CURLcode code = curl_easy_perform(easy);
  curl_slist_free_all(headers);
  long new_connections = 0;
  curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &new_connections);
  impl_->connections += static_cast<std::uint64_t>(std::max(0L, new_connections));

  std::string where = request.method + " " + display_url(request.url);
  if (collected.overflow) {
    return make_error(ErrorKind::kProtocol, where + ": answer larger than " +
                                                std::to_string(opt.max_response_bytes) + " bytes");
  }
  if (code == CURLE_ABORTED_BY_CALLBACK) return make_error(ErrorKind::kCancelled, where + ": cancelled (stopping)");
  if (code != CURLE_OK && impl_->missing_client_auth) {
    return make_error(ErrorKind::kVerify, where + ": the server did not ask for a client certificate; refusing it, "
                                                  "because this peer must require mutual TLS (is the URL right?)");
  }
  if (code != CURLE_OK) {
    std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    ErrorKind kind = ErrorKind::kNetwork;
    if (code == CURLE_OPERATION_TIMEDOUT) kind = ErrorKind::kTimeout;
    if (code == CURLE_SSL_CACERT_BADFILE || code == CURLE_SSL_CERTPROBLEM || code == CURLE_UNSUPPORTED_PROTOCOL ||
        code == CURLE_URL_MALFORMAT) {
      kind = ErrorKind::kConfig;
    }
    if (code == CURLE_PEER_FAILED_VERIFICATION) kind = ErrorKind::kVerify;
    return make_error(kind, where + ": " + log::redact(detail));
  }
  Response response;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.status);
  response.body = std::move(collected.body);
  response.headers = std::move(collected.headers);
  return response;
}

Result<Response> HttpClient::post_json(const std::string& url, const std::string& json,
                                       std::vector<std::pair<std::string, std::string>> headers) {
  Request request;
  request.method = "POST";
  request.url = url;
  request.body = json;
  request.headers = std::move(headers);
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back("Accept", "application/json");
  return perform(request);
}

}  // namespace k3s_daas::net
