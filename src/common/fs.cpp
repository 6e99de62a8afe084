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

Status copy_to_backup(const std::filesystem::path& path, mode_t mode) {
  auto old = read_file(path, 64u << 20);
  if (!old) return old.error();
  std::filesystem::path backup = path;
  backup += ".bak";
  WriteOptions options;
  options.mode = mode;
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
    if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove(entry.path(), ec);
  }
}

}  // namespace

Status atomic_write_file(const std::filesystem::path& path, std::string_view content,
                         const WriteOptions& options) {
  std::filesystem::path dir = path.parent_path();
  mode_t mode = options.mode;
  struct stat existing {};
  bool exists = ::stat(path.c_str(), &existing) == 0;
  if (exists && options.preserve_mode) mode = existing.st_mode & 07777;
  remove_stale_temporaries(path);
  if (exists && options.keep_backup) K3S_TRY(copy_to_backup(path, existing.st_mode & 07777));

  std::random_device rd;
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd() & 0xffffff);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return io_error(tmp, "cannot create temporary file", errno);
  auto fail = [&](Error error) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return error;
  };
  if (::fchmod(fd, mode) != 0) return fail(io_error(tmp, "cannot set mode", errno));
  if (auto st = write_all(fd, content, tmp); !st) return fail(st.error());
  if (::fsync(fd) != 0) return fail(io_error(tmp, "fsync failed", errno));
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
  return fsync_dir(dir);
}

Result<std::string> read_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(path, "cannot open", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return io_error(path, "cannot stat", err);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return make_error(ErrorKind::kIo, path.string() + ": is a folder, expected a file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return make_error(ErrorKind::kIo, path.string() + ": file is " + std::to_string(st.st_size) +
                                          " bytes, more than the " + std::to_string(max_bytes) +
                                          " allowed");
  }
  std::string content;
  content.reserve(static_cast<size_t>(st.st_size));
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return io_error(path, "read failed", err);
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > max_bytes) {
      ::close(fd);
      return make_error(ErrorKind::kIo, path.string() + ": file grew past the " +
                                            std::to_string(max_bytes) + " bytes allowed");
    }
  }
  ::close(fd);
  return content;
}

Status ensure_dir(const std::filesystem::path& path, mode_t mode) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return {};
  if (path.has_parent_path() && path.parent_path() != path) K3S_TRY(ensure_dir(path.parent_path(), 0755));
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return io_error(path, "cannot create folder", errno);
  ::chmod(path.c_str(), mode);
  return {};
}

Status check_secret_file(const std::filesystem::path& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return make_error(ErrorKind::kIo, what + ": " + path.string() + ": " + std::strerror(errno));
  }
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
