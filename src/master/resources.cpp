// Facts about this machine for register and heartbeat bodies: /proc and statvfs, no constants.
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "k3s_daas/fs.hpp"
#include "k3s_daas/master.hpp"

namespace k3s_daas::master {
namespace {

Result<std::string> read_small(const std::filesystem::path& path) {
  auto text = fs::read_file(path, 1u << 20);
  if (!text.ok()) return make_error(ErrorKind::kIo, "cannot read " + path.string() + ": " + text.error().message);
  return text.value();
}

std::string trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  std::size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  return text.substr(start);
}

// A "Key:   value kB" line of /proc/meminfo, in bytes.
std::optional<std::uint64_t> meminfo_bytes(const std::string& meminfo, const std::string& key) {
  std::istringstream lines(meminfo);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(key.size() + 1));
    std::uint64_t value = 0;
    std::string unit;
    if (!(fields >> value)) return std::nullopt;
    fields >> unit;
    return unit == "kB" ? value * 1024 : value;
  }
  return std::nullopt;
}

std::string kubernetes_arch(const std::string& machine) {
  if (machine == "x86_64" || machine == "amd64") return "amd64";
  if (machine == "aarch64" || machine == "arm64") return "arm64";
  if (machine.rfind("armv7", 0) == 0 || machine == "armhf") return "arm";
  if (machine == "s390x" || machine == "ppc64le" || machine == "riscv64") return machine;
  return machine;
}

}  // namespace

Result<NodeInfo> collect_node_info(const std::filesystem::path& proc_root) {
  NodeInfo info;
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) return make_error(ErrorKind::kIo, "gethostname failed");
  info.hostname = host;
  utsname names{};
  if (::uname(&names) == 0) info.arch = kubernetes_arch(names.machine);
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  info.cpus = cpus > 0 ? static_cast<std::uint32_t>(cpus) : 1;
  K3S_ASSIGN(std::string meminfo, read_small(proc_root / "meminfo"));
  info.memory_bytes = meminfo_bytes(meminfo, "MemTotal").value_or(0);
  // An EC2 instance carries its id in the DMI board asset tag; elsewhere the machine id.
  auto asset = fs::read_file("/sys/devices/virtual/dmi/id/board_asset_tag", 4096);
  if (asset.ok() && trimmed(asset.value()).rfind("i-", 0) == 0) {
    info.instance_id = trimmed(asset.value());
  } else if (auto machine_id = fs::read_file("/etc/machine-id", 4096); machine_id.ok()) {
    info.instance_id = trimmed(machine_id.value());
  }
  if (info.instance_id.empty()) info.instance_id = info.hostname;
  return info;
}

ResourceSampler::ResourceSampler(std::filesystem::path proc_root, std::filesystem::path disk_path)
    : proc_root_(std::move(proc_root)), disk_path_(std::move(disk_path)) {}

Result<Resources> ResourceSampler::sample() {
  Resources out;
  // CPU: the aggregate "cpu" line of /proc/stat: user nice system idle iowait irq softirq steal ...
  K3S_ASSIGN(std::string stat, read_small(proc_root_ / "stat"));
  {
    std::istringstream lines(stat);
    std::string line;
    bool found = false;
    while (std::getline(lines, line)) {
      if (line.rfind("cpu ", 0) != 0) continue;
      std::istringstream fields(line.substr(4));
      std::uint64_t value = 0, total = 0, idle = 0;
      for (int column = 0; column < 8 && fields >> value; ++column) {
        total += value;
        if (column == 3 || column == 4) idle += value;  // idle + iowait
      }
      std::uint64_t d_total = total - std::min(total, last_total_);
      std::uint64_t d_idle = idle - std::min(idle, last_idle_);
      out.cpu_percent = d_total == 0 ? 0.0 : 100.0 * static_cast<double>(d_total - std::min(d_total, d_idle)) /
                                                  static_cast<double>(d_total);
      last_total_ = total;
      last_idle_ = idle;
      found = true;
      break;
    }
    if (!found) return make_error(ErrorKind::kIo, (proc_root_ / "stat").string() + " has no aggregate cpu line");
  }
  K3S_ASSIGN(std::string meminfo, read_small(proc_root_ / "meminfo"));
  auto total = meminfo_bytes(meminfo, "MemTotal");
  auto available = meminfo_bytes(meminfo, "MemAvailable");
  if (!total || *total == 0) return make_error(ErrorKind::kIo, (proc_root_ / "meminfo").string() + " has no MemTotal");
  if (!available) available = meminfo_bytes(meminfo, "MemFree");
  out.memory_percent = 100.0 * static_cast<double>(*total - std::min(*total, available.value_or(0))) /
                       static_cast<double>(*total);
  K3S_ASSIGN(std::string loadavg, read_small(proc_root_ / "loadavg"));
  {
    std::istringstream fields(loadavg);
    if (!(fields >> out.load1)) return make_error(ErrorKind::kIo, (proc_root_ / "loadavg").string() + " is malformed");
  }
  struct statvfs disk {};
  if (::statvfs(disk_path_.c_str(), &disk) != 0) {
    return make_error(ErrorKind::kIo, "statvfs " + disk_path_.string() + " failed");
  }
  // Used share as df shows it: used / (used + available to unprivileged users).
  double used = static_cast<double>(disk.f_blocks - disk.f_bfree);
  double usable = used + static_cast<double>(disk.f_bavail);
  out.disk_percent = usable > 0 ? 100.0 * used / usable : 0.0;
  return out;
}

}  // namespace k3s_daas::master
