#include "io_lane.hpp"

#include <pthread.h>

#include <exception>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/log.hpp"

namespace k3s_daas::daemon {

IoLane::IoLane(std::string name, std::function<void()> wake) : name_(std::move(name)), wake_(std::move(wake)) {
  thread_ = std::thread([this] { run(); });
  ::pthread_setname_np(thread_.native_handle(), ("io-" + name_).substr(0, 15).c_str());
}

IoLane::~IoLane() {
  stop();
  join();
}

void IoLane::submit(Job job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
    ++outstanding_;
  }
  cv_.notify_one();
}

unsigned IoLane::drain() {
  std::deque<Completion> ready;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ready.swap(done_);
  }
  unsigned ran = 0;
  for (auto& completion : ready) {
    // outstanding_ drops only after the completion ran, so busy() stays true until the loop
    // has seen the result (no second job of the same kind slips in between).
    if (completion) completion();
    std::lock_guard<std::mutex> lock(mutex_);
    --outstanding_;
    ++ran;
  }
  return ran;
}

bool IoLane::busy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return outstanding_ > 0;
}

std::int64_t IoLane::running_since_ms() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_since_ms_;
}

void IoLane::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
}

void IoLane::join() {
  if (thread_.joinable()) thread_.join();
}

void IoLane::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;  // queued jobs are dropped: the daemon is stopping
      job = std::move(jobs_.front());
      jobs_.pop_front();
      running_since_ms_ = monotonic_ms();
    }
    Completion completion;
    try {
      completion = job();
    } catch (const std::exception& e) {
      K3S_LOG(kDaemon, error, "I/O lane {}: a job threw: {}", name_, e.what());
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      running_since_ms_ = 0;
      done_.push_back(std::move(completion));
    }
    if (wake_) wake_();
  }
}

}  // namespace k3s_daas::daemon
