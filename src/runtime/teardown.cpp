// Teardown pieces: mounts, cgroups, shims, leftovers of a crashed agent.
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/fs.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/runtime.hpp"

namespace k3s_daas::runtime::teardown {
namespace {

namespace proc = supervisor::proc;

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto octal = [&](std::size_t k) { return k < text.size() && text[k] >= '0' && text[k] <= '7'; };
    if (text[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>(((text[i + 1] - '0') << 6) | ((text[i + 2] - '0') << 3) | (text[i + 3] - '0'));
      i += 3;
      continue;
    }
    out += text[i];
  }
  return out;
}

bool strictly_under(const std::filesystem::path& path, const std::filesystem::path& prefix) {
  std::string p = path.lexically_normal().string();
  std::string q = prefix.lexically_normal().string();
  while (q.size() > 1 && q.back() == '/') q.pop_back();
  if (q.empty()) return false;
  if (q == "/") return p.size() > 1 && p[0] == '/';
  return p.size() > q.size() + 1 && p.compare(0, q.size(), q) == 0 && p[q.size()] == '/';
}

std::size_t depth(const std::filesystem::path& path) {
  std::size_t n = 0;
  for (const auto& part : path.lexically_normal()) {
    if (part != "/" && !part.empty()) ++n;
  }
  return n;
}

bool gone(pid_t pid) {
  auto info = proc::read_process(pid);
  return !info || info->state == 'Z';
}

bool wait_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds timeout) {
  std::int64_t deadline = monotonic_ms() + timeout.count();
  for (;;) {
    bool all_gone = std::all_of(pids.begin(), pids.end(), gone);
    if (all_gone) return true;
    if (monotonic_ms() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool is_shim(const proc::ProcessInfo& p) {
  if (p.comm.rfind("containerd-shim", 0) == 0) return true;
  if (p.cmdline.empty()) return false;
  return std::filesystem::path(p.cmdline[0]).filename().string().rfind("containerd-shim", 0) == 0;
}

}  // namespace

std::vector<MountEntry> parse_mountinfo(const std::string& text) {
  std::vector<MountEntry> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    std::string field;
    while (fields >> field) f.push_back(field);
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    if (f.size() < 7) continue;
    auto dash = std::find(f.begin() + 6, f.end(), "-");
    MountEntry entry;
    try {
      entry.id = std::stoi(f[0]);
      entry.parent_id = std::stoi(f[1]);
    } catch (...) {
      continue;
    }
    entry.mount_point = unescape_octal(f[4]);
    if (dash != f.end() && dash + 1 != f.end()) entry.fs_type = *(dash + 1);
    out.push_back(std::move(entry));
  }
  return out;
}

std::vector<MountEntry> mounts_under(const std::vector<MountEntry>& mounts,
                                     const std::vector<std::filesystem::path>& prefixes) {
  std::vector<std::pair<std::size_t, MountEntry>> picked;  // (position in mountinfo, entry)
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    for (const auto& prefix : prefixes) {
      if (strictly_under(mounts[i].mount_point, prefix)) {
        picked.emplace_back(i, mounts[i]);
        break;
      }
    }
  }
  // Deepest first; at equal depth the later mount (stacked on top) first.
  std::stable_sort(picked.begin(), picked.end(), [](const auto& a, const auto& b) {
    std::size_t da = depth(a.second.mount_point), db = depth(b.second.mount_point);
    if (da != db) return da > db;
    return a.first > b.first;
  });
  std::vector<MountEntry> out;
  for (auto& [index, entry] : picked) out.push_back(std::move(entry));
  return out;
}

unsigned unmount_under(const std::vector<std::filesystem::path>& prefixes, const std::filesystem::path& mountinfo,
                       std::vector<std::string>& errors) {
  unsigned count = 0;
  // Stacked mounts need one pass per layer; a handful of passes is plenty.
  for (int pass = 0; pass < 8; ++pass) {
    auto text = fs::read_file(mountinfo, 64u << 20);
    if (!text.ok()) {
      errors.push_back("could not read " + mountinfo.string() + ": " + text.error().message);
      return count;
    }
    auto targets = mounts_under(parse_mountinfo(*text), prefixes);
    if (targets.empty()) return count;
    unsigned this_pass = 0;
    for (const auto& mount : targets) {
      if (::umount2(mount.mount_point.c_str(), MNT_DETACH) == 0) {
        ++count;
        ++this_pass;
        K3S_LOG(kRuntime, info, "teardown: unmounted {} ({})", mount.mount_point.string(), mount.fs_type);
      } else if (errno != EINVAL && errno != ENOENT) {
        errors.push_back("umount " + mount.mount_point.string() + ": " + std::strerror(errno));
      }
    }
    if (this_pass == 0) return count;
  }
  return count;
}

unsigned kill_cgroup_processes(const std::filesystem::path& cgroup_root, const std::vector<std::string>& names,
                               std::chrono::milliseconds timeout, std::vector<std::string>& errors) {
  namespace sfs = std::filesystem;
  std::error_code ec;
  if (names.empty() || !sfs::is_directory(cgroup_root, ec)) return 0;
  // Candidate tops: ROOT/NAME (cgroup v2) and ROOT/HIERARCHY/NAME (v1 controllers, v2 in hybrid).
  std::vector<sfs::path> tops;
  for (const auto& name : names) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") continue;
    if (sfs::is_directory(cgroup_root / name, ec)) tops.push_back(cgroup_root / name);
    for (const auto& hierarchy : sfs::directory_iterator(cgroup_root, ec)) {
      if (hierarchy.is_directory(ec) && sfs::is_directory(hierarchy.path() / name, ec)) {
        tops.push_back(hierarchy.path() / name);
      }
    }
  }
  if (tops.empty()) return 0;
  const pid_t self = ::getpid();
  std::set<pid_t> signalled;
  std::int64_t deadline = monotonic_ms() + timeout.count();
  for (;;) {
    std::set<pid_t> found;
    for (const auto& top : tops) {
      std::vector<sfs::path> dirs = {top};
      for (auto it = sfs::recursive_directory_iterator(top, sfs::directory_options::skip_permission_denied, ec);
           !ec && it != sfs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec)) dirs.push_back(it->path());
      }
      ec.clear();
      for (const auto& dir : dirs) {
        std::ifstream procs(dir / "cgroup.procs");
        pid_t pid;
        while (procs >> pid) {
          if (pid > 1 && pid != self && !gone(pid)) found.insert(pid);
        }
      }
    }
    if (found.empty()) break;
    if (monotonic_ms() >= deadline) {
      errors.push_back(std::to_string(found.size()) + " processes remain in the pod cgroups after SIGKILL");
      break;
    }
    for (pid_t pid : found) {
      if (::kill(pid, SIGKILL) == 0 && signalled.insert(pid).second) {
        K3S_LOG(kRuntime, info, "teardown: SIGKILL to pid {} (pod cgroup)", pid);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return static_cast<unsigned>(signalled.size());
}

std::vector<pid_t> find_shims(const std::vector<std::string>& addresses, pid_t containerd_pid) {
  std::vector<pid_t> out;
  for (const auto& p : proc::list_processes()) {
    if (p.state == 'Z' || !is_shim(p)) continue;
    bool ours = containerd_pid > 0 && p.ppid == containerd_pid;
    for (std::size_t i = 0; !ours && i + 1 < p.cmdline.size(); ++i) {
      if (p.cmdline[i] != "-address" && p.cmdline[i] != "--address") continue;
      const std::string& value = p.cmdline[i + 1];
      for (const auto& address : addresses) {
        if (value == address || value == "unix://" + address) ours = true;
      }
    }
    if (ours) out.push_back(p.pid);
  }
  return out;
}

unsigned kill_shims(const std::vector<std::string>& addresses, pid_t containerd_pid, std::chrono::milliseconds timeout,
                    std::vector<std::string>& errors, const std::vector<std::filesystem::path>& runc_roots) {
  auto shims = find_shims(addresses, containerd_pid);
  if (shims.empty()) return 0;
  auto processes = proc::list_processes();
  struct Leftovers {
    std::string ns, id;
    std::filesystem::path shim_socket;
  };
  std::vector<Leftovers> leftovers;
  std::vector<pid_t> victims;
  const pid_t self = ::getpid();
  for (pid_t shim : shims) {
    // What the shim leaves behind, read while it still runs: `-namespace NS -id ID` on its
    // command line; its working directory is the task's bundle, whose `address` file names the
    // shim's own socket.
    Leftovers left;
    if (auto info = proc::read_process(shim)) {
      for (std::size_t i = 0; i + 1 < info->cmdline.size(); ++i) {
        if (info->cmdline[i] == "-namespace") left.ns = info->cmdline[i + 1];
        if (info->cmdline[i] == "-id") left.id = info->cmdline[i + 1];
      }
    }
    std::error_code ec;
    auto bundle = std::filesystem::read_symlink("/proc/" + std::to_string(shim) + "/cwd", ec);
    if (!ec) {
      auto address = fs::read_file(bundle / "address", 4096);
      if (address.ok()) {
        std::string text = *address;
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        if (text.rfind("unix://", 0) == 0) text.erase(0, 7);
        // Only a shim socket (containerd keeps them in an `s` folder), never containerd's own.
        std::filesystem::path socket = text;
        bool containerd_socket = std::find(addresses.begin(), addresses.end(), text) != addresses.end();
        if (socket.is_absolute() && socket.parent_path().filename() == "s" && !containerd_socket) {
          left.shim_socket = socket;
        }
      }
    }
    leftovers.push_back(std::move(left));
    // The shim and everything below it: the containers' processes are its children.
    for (pid_t pid : proc::process_tree(shim, processes)) {
      if (pid > 1 && pid != self) victims.push_back(pid);
    }
  }
  // Children first, so that nothing is reparented half-way through.
  for (auto it = victims.rbegin(); it != victims.rend(); ++it) ::kill(*it, SIGKILL);
  for (pid_t shim : shims)
    K3S_LOG(kRuntime, info, "teardown: SIGKILL to containerd-shim pid {} and its processes", shim);
  if (!wait_gone(victims, timeout)) {
    errors.push_back("some containerd-shim processes survive SIGKILL");
    return static_cast<unsigned>(shims.size());
  }
  for (const auto& left : leftovers) {
    std::error_code ec;
    if (!left.shim_socket.empty()) std::filesystem::remove(left.shim_socket, ec);
    if (left.ns.empty() || left.id.empty() || left.ns.find('/') != std::string::npos ||
        left.id.find('/') != std::string::npos || left.ns[0] == '.' || left.id[0] == '.') {
      continue;
    }
    for (const auto& root : runc_roots) {
      auto state = root / left.ns / left.id;
      if (std::filesystem::exists(state / "state.json", ec)) {
        std::filesystem::remove_all(state, ec);
        K3S_LOG(kRuntime, info, "teardown: removed the runc state {}", state.string());
      }
    }
  }
  return static_cast<unsigned>(shims.size());
}

bool stop_leftover(const std::filesystem::path& pid_file, std::chrono::milliseconds grace,
                   std::vector<std::string>& errors) {
  std::error_code ec;
  // Our pid files are regular files the supervisor wrote; a link in their place names nothing we
  // started: remove the link itself (never its target) and signal nobody.
  if (std::filesystem::is_symlink(std::filesystem::symlink_status(pid_file, ec))) {
    K3S_LOG(kRuntime, warn, "teardown: {} is a symbolic link, not a pid file the agent wrote: removing the link, "
            "signalling nobody", pid_file.string());
    ::unlink(pid_file.c_str());
    return false;
  }
  auto pid = proc::live_pid_from_file(pid_file);
  if (!pid) {
    std::filesystem::remove(pid_file, ec);
    return false;
  }
  // The supervisor made it the leader of its own group.
  bool leader = ::getpgid(*pid) == *pid;
  auto signal_it = [&](int signal_number) { leader ? ::kill(-*pid, signal_number) : ::kill(*pid, signal_number); };
  K3S_LOG(kRuntime, warn, "teardown: a leftover of an earlier run is still running (pid {} from {}): stopping it", *pid,
          pid_file.string());
  signal_it(SIGTERM);
  if (!wait_gone({*pid}, grace)) {
    signal_it(SIGKILL);
    if (!wait_gone({*pid}, std::chrono::seconds(5))) {
      errors.push_back("leftover pid " + std::to_string(*pid) + " survives SIGKILL");
      return true;
    }
  }
  if (leader) ::kill(-*pid, SIGKILL);  // what is left of its group
  std::filesystem::remove(pid_file, ec);
  return true;
}

unsigned stop_unrecorded_leftovers(const std::string& name, const std::vector<std::string>& signature,
                                   std::chrono::milliseconds grace, std::vector<std::string>& errors) {
  if (signature.empty()) return 0;
  const pid_t self = ::getpid();
  std::vector<pid_t> victims;
  for (const auto& p : proc::list_processes()) {
    // The supervisor makes each child the leader of its own group; ours (this run's) are skipped.
    if (p.state == 'Z' || p.pid == self || p.ppid == self || p.pgid != p.pid) continue;
    const auto& argv = p.cmdline;
    if (argv.size() < signature.size()) continue;
    bool match = false;
    for (std::size_t i = 0; !match && i + signature.size() <= argv.size(); ++i) {
      match = std::equal(signature.begin(), signature.end(), argv.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (match) victims.push_back(p.pid);
  }
  for (pid_t pid : victims) {
    K3S_LOG(kRuntime, warn,
            "teardown: a leftover {} of an earlier run is running without a pid file (pid {}, its command line "
            "names this node's own files; the run died before recording it): stopping it",
            name, pid);
    ::kill(-pid, SIGTERM);
  }
  if (!victims.empty() && !wait_gone(victims, grace)) {
    for (pid_t pid : victims) ::kill(-pid, SIGKILL);
    if (!wait_gone(victims, std::chrono::seconds(5))) errors.push_back("a leftover " + name + " survives SIGKILL");
  }
  for (pid_t pid : victims) ::kill(-pid, SIGKILL);  // what is left of its group
  return static_cast<unsigned>(victims.size());
}

}  // namespace k3s_daas::runtime::teardown
