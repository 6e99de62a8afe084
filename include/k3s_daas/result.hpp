#pragma once
// Errors as values. Anything that can fail for outside reasons (files, network, chain, peers,
// user input) returns Result<T>; assertions are kept for our own invariants.
// An Error's message is user-facing: it says what failed, where, and what to do. It must never
// contain a secret (keys, join tokens, seal tokens).

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace k3s_daas {

enum class ErrorKind {
  kUsage,      // bad command line (exit 2)
  kConfig,     // configuration error (exit 78)
  kIo,         // local files, permissions
  kNetwork,    // could not reach a peer (transient)
  kTimeout,    // a peer did not answer in time (transient)
  kProtocol,   // a peer answered something malformed or unexpected
  kRejected,   // a peer refused the request (HTTP 4xx, GraphQL/JSON-RPC error, Move abort)
  kVerify,     // a signature, attestation or token failed verification
  kNotFound,   // the thing asked for does not exist
  kSlashed,    // the stake is slashed (exit 79)
  kNotStaked,  // not staked or below the minimum (exit 80)
  kUnsupported,
  kInternal,
  kCancelled,  // the caller asked to stop (a request cut short during shutdown)
};

const char* error_kind_name(ErrorKind kind);

// Exit codes of the command line and of `run` (interface.md, protocol.md section 6).
namespace exit_code {
inline constexpr int kOk = 0;
inline constexpr int kFailure = 1;
inline constexpr int kUsage = 2;
inline constexpr int kConfig = 78;
inline constexpr int kSlashed = 79;
inline constexpr int kNotStaked = 80;
}  // namespace exit_code

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
  // A peer's machine-readable reason for a refusal (the master's "expired", "not_registered",
  // ...), for code to act on instead of matching the message; empty when the peer gave none.
  std::string reason;

  // The process exit code this error maps to when it ends a command.
  int exit_code() const;
  // True for failures worth retrying later (network, timeouts, 5xx).
  bool transient() const { return kind == ErrorKind::kNetwork || kind == ErrorKind::kTimeout; }
  // Prefixes context: Error{..."connection refused"}.context("sui") -> "sui: connection refused".
  Error context(const std::string& what) const { return Error{kind, what + ": " + message, reason}; }
};

inline Error make_error(ErrorKind kind, std::string message) { return Error{kind, std::move(message), {}}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(state_); }
  const T& value() const& { assert(ok()); return std::get<0>(state_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(state_)); }
  T value_or(T fallback) const { return ok() ? std::get<0>(state_) : std::move(fallback); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

  // On a success this is a placeholder, so that CHECK_MESSAGE(r.ok(), r.error().message) is safe.
  const Error& error() const {
    static const Error kNoError{ErrorKind::kInternal, "(no error)", {}};
    return ok() ? kNoError : std::get<1>(state_);
  }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() : error_{ErrorKind::kInternal, "(no error)"} {}
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace k3s_daas

// Propagates an error from an expression returning Result<...>.
#define K3S_TRY(expr)                                              \
  do {                                                             \
    auto k3s_try_result_ = (expr);                                 \
    if (!k3s_try_result_.ok()) return k3s_try_result_.error();     \
  } while (0)

#define K3S_CONCAT_INNER_(a, b) a##b
#define K3S_CONCAT_(a, b) K3S_CONCAT_INNER_(a, b)
// Binds the value of a Result<T> expression or returns its error: K3S_ASSIGN(auto x, f());
#define K3S_ASSIGN(decl, expr) K3S_ASSIGN_IMPL_(K3S_CONCAT_(k3s_assign_, __LINE__), decl, expr)
#define K3S_ASSIGN_IMPL_(tmp, decl, expr)      \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.error();           \
  decl = std::move(tmp).value()
