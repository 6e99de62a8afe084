#pragma once
// Our own process's signals, the self-pipe way: a handler writes the signal number into a
// non-blocking pipe (and nothing else); the supervisor's loop polls the read end.
// sigaction handlers rather than signalfd: gRPC and libcurl start threads of their own, and a
// signalfd only sees signals blocked in every thread.

#include <csignal>
#include <vector>

#include "k3s_daas/result.hpp"

namespace k3s_daas::supervisor::detail {

class SignalPipe {
 public:
  SignalPipe();
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  int read_fd() const { return read_fd_; }
  // Writes a wake-up byte (0); safe from any thread and from signal handlers.
  void wake() const;
  // Routes these signals into this pipe. Only one SignalPipe in the process may own signals.
  Status install(const std::vector<int>& signals);
  // Restores the previous dispositions of every signal installed here.
  void uninstall();
  bool owns_signals() const { return !installed_.empty(); }
  // Drains the pipe; returns the signal numbers read (0 = a plain wake-up), in order.
  std::vector<int> drain();

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
  struct Saved {
    int signal;
    struct sigaction action;
  };
  std::vector<Saved> installed_;
};

}  // namespace k3s_daas::supervisor::detail
