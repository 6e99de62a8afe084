#include "k3s_daas/fs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <csignal>

namespace k3s_daas::fs {
namespace {

Error io_error(const std::filesystem::path& path, const std::string& what, int err) {
  return make_error(ErrorKind::kIo, path.string() + ": " + what + ": " + std::strerror(err));
}

Status fsync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error(dir, "cannot open folder to sync it", errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return io_error(dir, "cannot sync folder", err);
  return {};
}

Status write_all(int fd, std::string_view content, const std::filesystem::path& path) {
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(path, "write failed", errno);
    }
    written += static_cast<size_t>(n);
  }
  return {};
}

Error symlink_error(const std::filesystem::path& path, const std::string& what) {
  return make_error(ErrorKind::kIo, path.string() + " is a symbolic link; " + what);
}

// Reads an open descriptor to the end, refusing more than max_bytes.
Result<std::string> read_open_file(int fd, const std::filesystem::path& path, std::uint64_t max_bytes) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error(path, "cannot stat", errno);
  if (S_ISDIR(st.st_mode)) return make_error(ErrorKind::kIo, path.string() + ": is a folder, expected a file");
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return make_error(ErrorKind::kIo, path.string() + ": file is " + std::to_string(st.st_size) +
                                          " bytes, more than the " + std::to_string(max_bytes) + " allowed");
  }
  std::string content;
  content.reserve(static_cast<size_t>(st.st_size));
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(path, "read failed", errno);
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > max_bytes) {
      return make_error(ErrorKind::kIo, path.string() + ": file grew past the " + std::to_string(max_bytes) +
                                            " bytes allowed");
    }
  }
  return content;
}

// Opens path without following a link at its last component and without blocking on a FIFO;
// refuses anything but a regular file. -1 and ENOENT in *missing when it does not exist.
Result<int> open_regular_nofollow(const std::filesystem::path& path, bool* missing) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT && missing != nullptr) {
      *missing = true;
      return -1;
    }
    if (err == ELOOP) {
      return symlink_error(path, "state files are never read through a link (remove it; the agent writes a regular "
                                 "file there)");
    }
    return io_error(path, "cannot open", err);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return io_error(path, "cannot stat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(ErrorKind::kIo, path.string() + ": not a regular file (a folder, FIFO, socket or device); "
                                                      "refusing to read it");
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

// The previous content as <path>.bak. `existing` is the lstat of path: a link or anything but
// a regular file is refused (the caller writes nothing then), and the content is read through an
// O_NOFOLLOW descriptor so that a link swapped in meanwhile is refused too.
Status copy_to_backup(const std::filesystem::path& path, const struct stat& existing) {
  if (S_ISLNK(existing.st_mode)) {
    return symlink_error(path, "refusing to keep a backup of what it points to, and to replace it: nothing was "
                               "written (replace the link by the file itself, or write to the link's target)");
  }
  if (!S_ISREG(existing.st_mode)) {
    return make_error(ErrorKind::kIo, path.string() + ": not a regular file; refusing to back it up and replace it");
  }
  K3S_ASSIGN(int fd, open_regular_nofollow(path, nullptr));
  auto old = read_open_file(fd, path, 64u << 20);
  ::close(fd);
  if (!old) return old.error();
  std::filesystem::path backup = path;
  backup += ".bak";
  WriteOptions options;
  options.mode = existing.st_mode & 0777;
  options.preserve_mode = false;
  return atomic_write_file(backup, *old, options);
}

// A writer killed between creating its temporary file and renaming it leaves
// <name>.tmp.<pid>.<n> behind; the next writer removes those of dead processes.
void remove_stale_temporaries(const std::filesystem::path& path) {
  std::error_code ec;
  auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string prefix = path.filename().string() + ".tmp.";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    std::string rest = name.substr(prefix.size());
    auto dot = rest.find('.');
    if (dot == std::string::npos || dot == 0 || rest.find_first_not_of("0123456789") != dot) continue;
    pid_t pid = static_cast<pid_t>(std::stol(rest.substr(0, dot)));
    // unlink: removes a link itself, never what it points to, and never a folder.
    if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) ::unlink(entry.path().c_str());
  }
}

}  // namespace

Status atomic_write_file(const std::filesystem::path& path, std::string_view content,
                         const WriteOptions& options) {
  std::filesystem::path dir = path.parent_path();
  mode_t mode = options.mode & 0777;
  // lstat, never stat: a symbolic link here is replaced by the rename below, and its target's
  // mode (a setuid file, say) must never become the new file's mode.
  struct stat existing {};
  bool exists = ::lstat(path.c_str(), &existing) == 0;
  if (exists && S_ISDIR(existing.st_mode)) {
    return make_error(ErrorKind::kIo, path.string() + ": is a folder; refusing to replace it by a file");
  }
  if (exists && options.preserve_mode && S_ISREG(existing.st_mode)) mode = existing.st_mode & 0777;
  remove_stale_temporaries(path);
  if (exists && options.keep_backup) K3S_TRY(copy_to_backup(path, existing));

  std::random_device rd;
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd() & 0xffffff);
  // O_EXCL|O_NOFOLLOW: a name planted meanwhile (a link included) makes this fail; it is never
  // opened through.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return io_error(tmp, "cannot create temporary file", errno);
  auto fail = [&](Error error) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return error;
  };
  if (::fchmod(fd, mode) != 0) return fail(io_error(tmp, "cannot set mode", errno));
  if (auto st = write_all(fd, content, tmp); !st) return fail(st.error());
  if (options.durable && ::fsync(fd) != 0) return fail(io_error(tmp, "fsync failed", errno));
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return io_error(tmp, "close failed", err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return io_error(path, "cannot replace file", err);
  }
  return options.durable ? fsync_dir(dir) : Status{};
}

Result<std::string> read_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(path, "cannot open", errno);
  auto content = read_open_file(fd, path, max_bytes);
  ::close(fd);
  return content;
}

Result<std::optional<std::string>> read_state_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  bool missing = false;
  K3S_ASSIGN(int fd, open_regular_nofollow(path, &missing));
  if (missing) return std::optional<std::string>();
  auto content = read_open_file(fd, path, max_bytes);
  ::close(fd);
  if (!content) return content.error();
  return std::optional<std::string>(std::move(*content));
}

Status ensure_dir(const std::filesystem::path& path, mode_t mode) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return {};
  if (path.has_parent_path() && path.parent_path() != path) K3S_TRY(ensure_dir(path.parent_path(), 0755));
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return io_error(path, "cannot create folder", errno);
  ::chmod(path.c_str(), mode);
  return {};
}

Status ensure_private_dir(const std::filesystem::path& path, mode_t mode) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return io_error(path, "cannot inspect folder", errno);
    if (path.has_parent_path() && path.parent_path() != path) K3S_TRY(ensure_dir(path.parent_path(), 0755));
    if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return io_error(path, "cannot create folder", errno);
    if (::lstat(path.c_str(), &st) != 0) return io_error(path, "cannot inspect folder", errno);
  }
  if (S_ISLNK(st.st_mode)) {
    return symlink_error(path, "the agent keeps its own files there and never follows a link out of its state "
                               "folder: remove the link (the agent creates the folder itself)");
  }
  if (!S_ISDIR(st.st_mode)) {
    return make_error(ErrorKind::kIo, path.string() + ": exists and is not a folder; remove it (the agent creates "
                                                      "the folder itself)");
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP || errno == ENOTDIR) return symlink_error(path, "refusing to use it (it was replaced meanwhile)");
    return io_error(path, "cannot open folder", errno);
  }
  int rc = ::fchmod(fd, mode);
  int err = errno;
  ::close(fd);
  if (rc != 0) return io_error(path, "cannot set folder mode", err);
  return {};
}

namespace {

// The rules of a secret file, on what stat/fstat found (the target, when `path` is a link).
Status check_secret_stat(const struct stat& st, const std::filesystem::path& path, const std::string& what) {
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorKind::kIo, what + ": " + path.string() + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(ErrorKind::kIo, what + ": " + path.string() + " has mode " + mode +
                                          "; a secret file must be 0600 or stricter (run: chmod 600 " +
                                          path.string() + ")");
  }
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    return make_error(ErrorKind::kIo, what + ": " + path.string() + " is owned by uid " +
                                          std::to_string(st.st_uid) +
                                          "; a secret file must be owned by the running user or root");
  }
  return {};
}

}  // namespace

Status check_secret_file(const std::filesystem::path& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return make_error(ErrorKind::kIo, what + ": " + path.string() + ": " + std::strerror(errno));
  }
  return check_secret_stat(st, path, what);
}

Result<std::string> read_secret_file(const std::filesystem::path& path, const std::string& what,
                                     std::uint64_t max_bytes) {
  // O_NONBLOCK: a FIFO put in the key's place must not hang the agent before it is refused.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return make_error(ErrorKind::kIo, what + ": " + path.string() + ": " + std::strerror(errno));
  struct stat st {};
  Status checked = ::fstat(fd, &st) != 0
                       ? make_error(ErrorKind::kIo, what + ": " + path.string() + ": " + std::strerror(errno))
                       : check_secret_stat(st, path, what);
  if (!checked.ok()) {
    ::close(fd);
    return checked.error();
  }
  auto content = read_open_file(fd, path, max_bytes);  // the very file that was checked
  ::close(fd);
  return content;
}

Result<FileLock> FileLock::acquire(const std::filesystem::path& path, bool wait) {
  std::filesystem::path lock_path = path;
  lock_path += ".lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return io_error(lock_path, "cannot open lock file", errno);
  while (::flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return make_error(ErrorKind::kIo, lock_path.string() + ": held by another process");
    }
    return io_error(lock_path, "cannot lock", err);
  }
  return FileLock(fd);
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}
FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace k3s_daas::fs
