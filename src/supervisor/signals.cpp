#include "signals.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

namespace k3s_daas::supervisor::detail {
namespace {

// The write end of the pipe that owns the process's signals (one per process).
std::atomic<int> g_signal_write_fd{-1};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free int");

extern "C" void on_signal(int signal_number) {
  int saved_errno = errno;
  int fd = g_signal_write_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    unsigned char byte = static_cast<unsigned char>(signal_number);
    ssize_t ignored = ::write(fd, &byte, 1);
    (void)ignored;
  }
  errno = saved_errno;
}

}  // namespace

SignalPipe::SignalPipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    read_fd_ = fds[0];
    write_fd_ = fds[1];
  }
}

SignalPipe::~SignalPipe() {
  uninstall();
  if (read_fd_ >= 0) ::close(read_fd_);
  if (write_fd_ >= 0) ::close(write_fd_);
}

void SignalPipe::wake() const {
  if (write_fd_ < 0) return;
  unsigned char byte = 0;
  ssize_t ignored = ::write(write_fd_, &byte, 1);
  (void)ignored;
}

Status SignalPipe::install(const std::vector<int>& signals) {
  if (write_fd_ < 0) return make_error(ErrorKind::kIo, "supervisor: could not create the signal pipe");
  int expected = -1;
  if (!g_signal_write_fd.compare_exchange_strong(expected, write_fd_) && expected != write_fd_) {
    return make_error(ErrorKind::kInternal, "supervisor: another supervisor already handles this process's signals");
  }
  for (int signal_number : signals) {
    bool already = false;
    for (const auto& saved : installed_) already = already || saved.signal == signal_number;
    if (already) continue;
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART | (signal_number == SIGCHLD ? SA_NOCLDSTOP : 0);
    Saved saved{signal_number, {}};
    if (::sigaction(signal_number, &action, &saved.action) != 0) {
      return make_error(ErrorKind::kInternal,
                        "supervisor: sigaction(" + std::to_string(signal_number) + "): " + std::strerror(errno));
    }
    installed_.push_back(saved);
  }
  return {};
}

void SignalPipe::uninstall() {
  for (auto it = installed_.rbegin(); it != installed_.rend(); ++it) ::sigaction(it->signal, &it->action, nullptr);
  installed_.clear();
  int expected = write_fd_;
  g_signal_write_fd.compare_exchange_strong(expected, -1);
}

std::vector<int> SignalPipe::drain() {
  std::vector<int> out;
  if (read_fd_ < 0) return out;
  unsigned char buffer[256];
  for (;;) {
    ssize_t n = ::read(read_fd_, buffer, sizeof(buffer));
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) out.push_back(buffer[i]);
  }
  return out;
}

}  // namespace k3s_daas::supervisor::detail
