#pragma once
// An I/O lane: one worker thread that runs blocking network calls for the daemon's loop, one at a
// time, in order. The loop never waits on the network: it submits a job, goes on supervising,
// and runs the job's completion on its own thread once the job has finished (the lane wakes the
// supervisor's poll). Why a thread and not libcurl's multi interface: docs/daemon.md.
//
// Ownership rule: whatever a job touches (the chain client, the master client) is used by that
// lane's thread only while jobs may run; the loop reads results only through completions.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace k3s_daas::daemon {

class IoLane {
 public:
  // The work runs on the lane; the closure it returns runs on the loop thread, in drain().
  using Completion = std::function<void()>;
  using Job = std::function<Completion()>;

  // `wake` is called from the lane's thread after each job (it must be thread-safe, e.g.
  // Supervisor::wake).
  IoLane(std::string name, std::function<void()> wake);
  ~IoLane();  // stop() then join
  IoLane(const IoLane&) = delete;
  IoLane& operator=(const IoLane&) = delete;

  void submit(Job job);
  // Runs the completions of finished jobs on the calling thread. Returns how many ran.
  unsigned drain();
  // True while a job is queued or running, or its completion has not been drained yet.
  bool busy() const;
  // Monotonic ms at which the running job started (0 when idle): for "stuck" diagnostics.
  std::int64_t running_since_ms() const;
  // No new jobs start; the running one finishes (callers cut it short with their abort flag).
  void stop();
  void join();
  const std::string& name() const { return name_; }

 private:
  void run();

  std::string name_;
  std::function<void()> wake_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::deque<Completion> done_;
  unsigned outstanding_ = 0;  // submitted and not yet drained
  std::int64_t running_since_ms_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace k3s_daas::daemon
