#include "child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "k3s_daas/fs.hpp"

namespace k3s_daas::supervisor::detail {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {

// A pipe whose ends are >= 3 (so dup2 onto 0..2 never collides), close-on-exec.
Status make_pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return make_error(ErrorKind::kIo, std::string("pipe: ") + std::strerror(errno));
  for (int& fd : fds) {
    if (fd < 3) {
      int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
      ::close(fd);
      fd = moved;
    }
  }
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  if (!read_end.valid() || !write_end.valid()) return make_error(ErrorKind::kIo, "pipe: could not move descriptors");
  int flags = ::fcntl(read_end.get(), F_GETFL);
  ::fcntl(read_end.get(), F_SETFL, flags | O_NONBLOCK);
  return {};
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
  return static_cast<int>(fd);
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

Result<SpawnedProcess> spawn_process(const std::string& name, const std::vector<std::string>& argv,
                                     const std::vector<std::string>& env, const std::filesystem::path& cwd,
                                     bool want_pidfd) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
    return make_error(ErrorKind::kInternal, "supervisor: child " + name + " needs an absolute program path");
  }
  SpawnedProcess out;
  Fd out_write, err_write;
  K3S_TRY(make_pipe(out.stdout_read, out_write));
  K3S_TRY(make_pipe(out.stderr_read, err_write));

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  ::posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  std::string cwd_string = cwd.empty() ? std::string("/") : cwd.string();
  ::posix_spawn_file_actions_addchdir_np(&actions, cwd_string.c_str());
  // Nothing of ours beyond 0..2 reaches the child, close-on-exec or not.
  ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  ::posix_spawnattr_setpgroup(&attr, 0);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  ::posix_spawnattr_setsigmask(&attr, &empty);
  ::posix_spawnattr_setsigdefault(&attr, &all);

  auto args = c_strings(argv);
  auto envp = c_strings(env);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  out_write.reset();
  err_write.reset();
  if (rc != 0) {
    return make_error(ErrorKind::kIo, "could not start " + name + " (" + argv[0] + "): " + std::strerror(rc));
  }
  out.pid = pid;
  if (want_pidfd) out.pidfd.reset(open_pidfd(pid));
  return out;
}

Result<Fd> open_notify_socket(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string text = path.string();
  if (text.empty() || text.size() >= sizeof(addr.sun_path)) {
    return make_error(ErrorKind::kConfig, "notify socket path " + text + " is empty or longer than " +
                                              std::to_string(sizeof(addr.sun_path) - 1) +
                                              " bytes; choose a shorter state_dir");
  }
  K3S_TRY(fs::ensure_dir(path.parent_path(), 0700));
  std::memcpy(addr.sun_path, text.c_str(), text.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return make_error(ErrorKind::kIo, "notify socket: " + std::string(std::strerror(errno)));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
  if (::unlink(text.c_str()) != 0 && errno != ENOENT) {
    return make_error(ErrorKind::kIo, "could not remove the old notify socket " + text + ": " + std::strerror(errno));
  }
  // The socket file is created with the umask: make it 0600 from the first moment.
  mode_t old_mask = ::umask(0177);
  int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  int bind_errno = errno;
  ::umask(old_mask);
  if (rc != 0) {
    return make_error(ErrorKind::kIo, "could not bind the notify socket " + text + ": " + std::strerror(bind_errno));
  }
  ::chmod(text.c_str(), 0600);
  return fd;
}

std::vector<NotifyMessage> read_notify_messages(int fd) {
  std::vector<NotifyMessage> out;
  for (int i = 0; i < 64; ++i) {
    char buffer[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * 16)];
    iovec iov{buffer, sizeof(buffer)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) break;
    NotifyMessage message;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET) continue;
      if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
        ucred cred;
        std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
        message.sender = cred.pid;
      } else if (c->cmsg_type == SCM_RIGHTS) {
        // We accept no file descriptors (FDSTORE): close whatever came along.
        std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t k = 0; k < count; ++k) {
          int passed;
          std::memcpy(&passed, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
          ::close(passed);
        }
      }
    }
    message.text.assign(buffer, static_cast<std::size_t>(n));
    out.push_back(std::move(message));
  }
  return out;
}

}  // namespace k3s_daas::supervisor::detail
