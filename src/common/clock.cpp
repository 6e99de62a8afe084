#include "k3s_daas/clock.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>

namespace k3s_daas {

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_utc_ms(std::int64_t unix_ms) {
  std::int64_t millis = ((unix_ms % 1000) + 1000) % 1000;
  std::time_t seconds = static_cast<std::time_t>((unix_ms - millis) / 1000);
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) return std::to_string(unix_ms) + " ms";
  char buffer[64];
  std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(buffer, n) + "." + std::to_string(1000 + millis).substr(1) + "Z";
}

std::int64_t monotonic_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, double jitter)
    : initial_(initial), cap_(cap), jitter_(std::clamp(jitter, 0.0, 1.0)), rng_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::next() {
  double ceiling = static_cast<double>(initial_.count()) * std::pow(2.0, std::min(attempt_, 40u));
  ceiling = std::min(ceiling, static_cast<double>(cap_.count()));
  ++attempt_;
  std::uniform_real_distribution<double> spread(ceiling * (1.0 - jitter_), ceiling);
  return std::chrono::milliseconds(static_cast<std::int64_t>(jitter_ > 0 ? spread(rng_) : ceiling));
}

}  // namespace k3s_daas
