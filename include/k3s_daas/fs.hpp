#pragma once
// Files that must never be lost or half-written: every write of a config, state or token file
// goes through atomic_write_file (temp file in the same folder, fsync, rename, fsync the folder).
//
// The agent runs as root, so none of these ever follows a symbolic link at the file it writes:
// a link found where the file belongs is replaced by the new file (rename replaces the link, the
// link's target is never opened, written, chmod-ed or read for its mode). State files the agent
// reads back go through read_state_file, which refuses a link instead of following it.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>

#include "k3s_daas/result.hpp"

namespace k3s_daas::fs {

struct WriteOptions {
  mode_t mode = 0600;           // mode of a new file (and of one that replaces a symbolic link)
  bool preserve_mode = true;    // keep the permission bits (0777, never setuid/setgid/sticky) of
                                // the regular file it replaces; never taken from a link's target
  bool keep_backup = false;     // keep the previous content as <path>.bak; refused (nothing
                                // written) when <path> is a symbolic link or not a regular file
  bool durable = true;          // fsync the file and its folder; false for advisory files
                                // rewritten every second (still atomic: readers see old or new)
};

Status atomic_write_file(const std::filesystem::path& path, std::string_view content,
                         const WriteOptions& options = {});

// Reads a whole file, refusing files larger than max_bytes (before reading them). Follows
// symbolic links: for files the operator names (config, key files, /sys, /etc/machine-id).
Result<std::string> read_file(const std::filesystem::path& path, std::uint64_t max_bytes = 16u << 20);

// Like read_file, for files under state_dir that the agent wrote itself: refuses a symbolic link
// (O_NOFOLLOW; the message names the file), a FIFO or device (never blocks on one) and anything
// but a regular file. A missing file is no error: std::nullopt.
Result<std::optional<std::string>> read_state_file(const std::filesystem::path& path,
                                                   std::uint64_t max_bytes = 16u << 20);

// Creates the folder (and parents) with the given mode when missing; fixes nothing else.
Status ensure_dir(const std::filesystem::path& path, mode_t mode = 0700);

// A folder the agent keeps its own files in (state_dir/runtime): created with `mode` when
// missing (parents through ensure_dir); refused with a message naming it when it is a symbolic
// link (never followed, never replaced: the operator removes it) or not a folder; its mode is
// set to `mode` (through an O_NOFOLLOW descriptor).
Status ensure_private_dir(const std::filesystem::path& path, mode_t mode = 0700);

// Refuses a secret file unless it is a regular file, mode 0600 or stricter (no group/other
// bits), owned by the running user or root. `what` names the setting for the message.
Status check_secret_file(const std::filesystem::path& path, const std::string& what);
// Opens a secret file once, checks that open file by the same rules (fstat: a file swapped in
// after the check can never be the one read) and reads it (at most `max_bytes`).
Result<std::string> read_secret_file(const std::filesystem::path& path, const std::string& what,
                                     std::uint64_t max_bytes);

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
