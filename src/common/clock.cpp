#include "k3s_daas/clock.hpp"

#include <algorithm>
#include <cmath>

namespace k3s_daas {

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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
