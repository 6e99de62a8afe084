#pragma once
// Time and retry pacing.

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

namespace k3s_daas {

// Wall-clock milliseconds since the Unix epoch.
std::int64_t now_unix_ms();
// "2026-11-23T10:32:26.871Z" for a Unix time in milliseconds (UTC).
std::string format_utc_ms(std::int64_t unix_ms);
// Monotonic milliseconds (for timeouts and intervals; never for timestamps sent to peers).
std::int64_t monotonic_ms();

// Exponential backoff with full jitter: delay n is uniform in [base*2^n/2, base*2^n], capped.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, double jitter = 0.5);
  // The delay before the next attempt; grows each call.
  std::chrono::milliseconds next();
  void reset() { attempt_ = 0; }
  unsigned attempt() const { return attempt_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  double jitter_;
  unsigned attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace k3s_daas
