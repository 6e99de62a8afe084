// /proc readers for the supervisor, teardown and tests.
#include <dirent.h>
#include <signal.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "k3s_daas/fs.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/supervisor.hpp"

namespace k3s_daas::supervisor::proc {
namespace {

// /proc files of a process that exits while we read fail with ESRCH: a read error is "gone",
// never an exception (std::istreambuf_iterator throws there).
std::optional<std::string> slurp(const std::string& path) {
  auto content = fs::read_file(path, 1u << 20);
  if (!content.ok()) return std::nullopt;
  return std::move(content).value();
}

}  // namespace

std::optional<ProcessInfo> read_process(pid_t pid) {
  auto stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return std::nullopt;
  // "pid (comm) state ppid pgrp session ..."; comm may hold spaces and ')', so split at the last ')'.
  auto open = stat->find('(');
  auto close = stat->rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  ProcessInfo info;
  info.pid = pid;
  info.comm = stat->substr(open + 1, close - open - 1);
  std::istringstream rest(stat->substr(close + 1));
  std::vector<std::string> fields((std::istream_iterator<std::string>(rest)), std::istream_iterator<std::string>());
  // fields[0] is field 3 (state); field N is fields[N - 3].
  if (fields.size() < 20) return std::nullopt;
  info.state = fields[0].empty() ? '?' : fields[0][0];
  info.ppid = static_cast<pid_t>(std::strtol(fields[1].c_str(), nullptr, 10));
  info.pgid = static_cast<pid_t>(std::strtol(fields[2].c_str(), nullptr, 10));
  info.sid = static_cast<pid_t>(std::strtol(fields[3].c_str(), nullptr, 10));
  info.start_time = std::strtoull(fields[19].c_str(), nullptr, 10);
  if (auto cmdline = slurp("/proc/" + std::to_string(pid) + "/cmdline")) {
    std::string arg;
    for (char c : *cmdline) {
      if (c == '\0') {
        info.cmdline.push_back(arg);
        arg.clear();
      } else {
        arg.push_back(c);
      }
    }
    if (!arg.empty()) info.cmdline.push_back(arg);
  }
  return info;
}

std::vector<ProcessInfo> list_processes() {
  std::vector<ProcessInfo> out;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* entry = ::readdir(dir)) {
    pid_t pid = 0;
    const char* name = entry->d_name;
    auto [end, ec] = std::from_chars(name, name + std::char_traits<char>::length(name), pid);
    if (ec != std::errc() || *end != '\0' || pid <= 0) continue;
    if (auto info = read_process(pid)) out.push_back(std::move(*info));
  }
  ::closedir(dir);
  return out;
}

std::vector<pid_t> zombie_children(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& p : list_processes()) {
    if (p.ppid == parent && p.state == 'Z') out.push_back(p.pid);
  }
  return out;
}

std::vector<pid_t> group_members(pid_t pgid) {
  std::vector<pid_t> out;
  if (pgid <= 0) return out;
  for (const auto& p : list_processes()) {
    if (p.pgid == pgid && p.state != 'Z') out.push_back(p.pid);
  }
  return out;
}

std::vector<pid_t> process_tree(pid_t root, const std::vector<ProcessInfo>& processes) {
  std::vector<pid_t> out;
  std::set<pid_t> seen;
  bool root_alive = false;
  for (const auto& p : processes) {
    if (p.pid == root && p.state != 'Z') root_alive = true;
  }
  if (!root_alive) return out;
  out.push_back(root);
  seen.insert(root);
  for (std::size_t i = 0; i < out.size(); ++i) {
    for (const auto& p : processes) {
      if (p.ppid == out[i] && p.state != 'Z' && seen.insert(p.pid).second) out.push_back(p.pid);
    }
  }
  return out;
}

Status write_pid_file(const std::filesystem::path& path, pid_t pid) {
  auto info = read_process(pid);
  std::string content = std::to_string(pid) + " " + std::to_string(info ? info->start_time : 0) + "\n";
  fs::WriteOptions options;
  options.mode = 0600;
  return fs::atomic_write_file(path, content, options);
}

std::optional<pid_t> live_pid_from_file(const std::filesystem::path& path) {
  // Never through a symbolic link: the pid file is the agent's own (a link is refused, named).
  auto content = fs::read_state_file(path, 4096);
  if (!content.ok()) {
    K3S_LOG(kSupervisor, warn, "pid file not used: {}", content.error().message);
    return std::nullopt;
  }
  if (!*content) return std::nullopt;
  std::istringstream in(**content);
  long long pid = 0;
  unsigned long long start_time = 0;
  if (!(in >> pid >> start_time) || pid <= 1) return std::nullopt;
  auto info = read_process(static_cast<pid_t>(pid));
  if (!info || info->state == 'Z') return std::nullopt;
  // A pid reused by another process has another start time.
  if (start_time != 0 && info->start_time != start_time) return std::nullopt;
  return static_cast<pid_t>(pid);
}

}  // namespace k3s_daas::supervisor::proc
