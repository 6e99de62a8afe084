#pragma once
// Low-level pieces of the supervisor: spawning one child into its own process group with pipes
// for its output, the pidfd that tells us it exited, and the sd_notify datagram socket.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "k3s_daas/result.hpp"

namespace k3s_daas::supervisor::detail {

// Closes a file descriptor once.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct SpawnedProcess {
  pid_t pid = 0;
  Fd pidfd;  // invalid when the kernel has no pidfd_open (or the fallback is forced)
  Fd stdout_read;
  Fd stderr_read;
};

// Starts argv with exactly `env`, stdin from /dev/null, stdout/stderr into non-blocking pipes,
// its own process group, default signal dispositions, an empty signal mask, and no other of our
// file descriptors.
Result<SpawnedProcess> spawn_process(const std::string& name, const std::vector<std::string>& argv,
                                     const std::vector<std::string>& env, const std::filesystem::path& cwd,
                                     bool want_pidfd);

// pidfd_open(2) through syscall(2); -1 with errno set when unavailable.
int open_pidfd(pid_t pid);

// A datagram socket bound at `path` with mode 0600 (SO_PASSCRED on), non-blocking.
Result<Fd> open_notify_socket(const std::filesystem::path& path);

struct NotifyMessage {
  pid_t sender = 0;  // from SCM_CREDENTIALS; 0 when unknown
  std::string text;  // "READY=1\nSTATUS=..."
};
// Reads every queued datagram (closes any file descriptors passed along with them).
std::vector<NotifyMessage> read_notify_messages(int fd);

}  // namespace k3s_daas::supervisor::detail
