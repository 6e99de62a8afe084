#pragma once
// Files that must never be lost or half-written: every write of a config, state or token file
// goes through atomic_write_file (temp file in the same folder, fsync, rename, fsync the folder).

#include <cstdint>
#include <filesystem>
#include <string>
#include <sys/types.h>

#include "k3s_daas/result.hpp"

namespace k3s_daas::fs {

struct WriteOptions {
  mode_t mode = 0600;           // mode of a new file
  bool preserve_mode = true;    // keep the mode of the file it replaces
  bool keep_backup = false;     // keep the previous content as <path>.bak
};

Status atomic_write_file(const std::filesystem::path& path, std::string_view content,
                         const WriteOptions& options = {});

// Reads a whole file, refusing files larger than max_bytes (before reading them).
Result<std::string> read_file(const std::filesystem::path& path, std::uint64_t max_bytes = 16u << 20);

// Creates the folder (and parents) with the given mode when missing; fixes nothing else.
Status ensure_dir(const std::filesystem::path& path, mode_t mode = 0700);

// Refuses a secret file unless it is a regular file, mode 0600 or stricter (no group/other
// bits), owned by the running user or root. `what` names the setting for the message.
Status check_secret_file(const std::filesystem::path& path, const std::string& what);

// An exclusive advisory lock (flock) on <path>.lock, held while the object lives.
class FileLock {
 public:
  static Result<FileLock> acquire(const std::filesystem::path& path, bool wait = true);
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace k3s_daas::fs
