// fake-k3s: a STAND-IN FOR k3s, for tests and benchmarks only. It is not k3s and runs no
// kubelet. It parses the `k3s agent` command line as k3s v1.34 does (its whole flag table, one or
// two dashes, aliases, "Cannot use two forms of the same flag", unknown flags refused with exit
// 1), finds a --config file as k3s does, checks the token file, sends READY=1 on
// NOTIFY_SOCKET as k3s does under systemd Type=notify, runs a `sleep` child in its process group
// the way the kubelet runs beside k3s, and behaves as FAKE_K3S_MODE (or the control file) says.
// See README.md beside this file.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace {

constexpr const char* kTag = "fake-k3s (stand-in for k3s)";

// The flags of `k3s agent` v1.34 (pkg/cli/cmds/agent.go, log.go, config.go, and urfave/cli's
// help), with their aliases and kinds. This copy is the stand-in's own: the agent's table
// (src/config/k3s_flags.cpp) is checked against it, not shared with it.
enum class Kind { kString, kInt, kBool, kList };
struct FlagDef {
  const char* name;
  const char* alias;  // "" when none
  Kind kind;
};
const FlagDef kFlags[] = {
    {"config", "c", Kind::kString},
    {"debug", "", Kind::kBool},
    {"v", "", Kind::kInt},
    {"vmodule", "", Kind::kString},
    {"log", "l", Kind::kString},
    {"alsologtostderr", "", Kind::kBool},
    {"token", "t", Kind::kString},
    {"token-file", "", Kind::kString},
    {"server", "s", Kind::kString},
    {"data-dir", "d", Kind::kString},
    {"node-name", "", Kind::kString},
    {"with-node-id", "", Kind::kBool},
    {"node-label", "", Kind::kList},
    {"node-taint", "", Kind::kList},
    {"image-credential-provider-bin-dir", "", Kind::kString},
    {"image-credential-provider-config", "", Kind::kString},
    {"selinux", "", Kind::kBool},
    {"lb-server-port", "", Kind::kInt},
    {"protect-kernel-defaults", "", Kind::kBool},
    {"container-runtime-endpoint", "", Kind::kString},
    {"default-runtime", "", Kind::kString},
    {"image-service-endpoint", "", Kind::kString},
    {"pause-image", "", Kind::kString},
    {"snapshotter", "", Kind::kString},
    {"private-registry", "", Kind::kString},
    {"disable-default-registry-endpoint", "", Kind::kBool},
    {"nonroot-devices", "", Kind::kBool},
    {"airgap-extra-registry", "", Kind::kList},
    {"node-ip", "i", Kind::kList},
    {"bind-address", "", Kind::kString},
    {"node-external-ip", "", Kind::kList},
    {"node-internal-dns", "", Kind::kList},
    {"node-external-dns", "", Kind::kList},
    {"resolv-conf", "", Kind::kString},
    {"flannel-iface", "", Kind::kString},
    {"flannel-conf", "", Kind::kString},
    {"flannel-cni-conf", "", Kind::kString},
    {"vpn-auth", "", Kind::kString},
    {"vpn-auth-file", "", Kind::kString},
    {"disable-apiserver-lb", "", Kind::kBool},
    {"kubelet-arg", "", Kind::kList},
    {"kube-proxy-arg", "", Kind::kList},
    {"enable-pprof", "", Kind::kBool},
    {"rootless", "", Kind::kBool},
    {"prefer-bundled-bin", "", Kind::kBool},
    {"docker", "", Kind::kBool},
    {"help", "h", Kind::kBool},
};

const FlagDef* find_flag(const std::string& name) {
  for (const auto& flag : kFlags) {
    if (name == flag.name || (*flag.alias != '\0' && name == flag.alias)) return &flag;
  }
  return nullptr;
}

// Go's strconv.ParseBool.
bool parse_go_bool(const std::string& text, bool& out) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (text == t) return out = true, true;
  }
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (text == f) return out = false, true;
  }
  return false;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void say(const std::string& text) { std::cerr << kTag << ": " << text << std::endl; }

void record(const nlohmann::json& entry) {
  const char* path = std::getenv("FAKE_K3S_RECORD");
  if (path == nullptr || *path == '\0') return;
  std::ofstream out(path, std::ios::app);
  out << entry.dump() << "\n";
}

std::int64_t env_ms(const char* name, std::int64_t fallback) {
  const char* value = std::getenv(name);
  return (value != nullptr && *value != '\0') ? std::strtoll(value, nullptr, 10) : fallback;
}

// The mode: the control file's first line when it exists, else FAKE_K3S_MODE, else "normal".
std::string read_mode() {
  if (const char* control = std::getenv("FAKE_K3S_CONTROL"); control != nullptr && *control != '\0') {
    std::ifstream in(control);
    std::string line;
    if (in && std::getline(in, line) && !line.empty()) return line;
  }
  const char* mode = std::getenv("FAKE_K3S_MODE");
  return (mode != nullptr && *mode != '\0') ? mode : "normal";
}

[[noreturn]] void fail(const std::string& why, nlohmann::json& start) {
  say(why);
  start["event"] = "refused";
  start["error"] = why;
  record(start);
  std::exit(1);
}

pid_t start_kubelet_child() {
  if (std::getenv("FAKE_K3S_NO_CHILD") != nullptr) return 0;
  pid_t pid = ::fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execl("/bin/sleep", "sleep", "100000", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

}  // namespace

int main(int argc, char** argv) {
  nlohmann::json start = {
      {"event", "start"}, {"stand_in", "fake-k3s"}, {"pid", ::getpid()}, {"pgid", ::getpgrp()}, {"at_ms", now_ms()}};
  std::vector<std::string> args(argv, argv + argc);
  start["argv"] = args;
  std::vector<std::string> env_names;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    env_names.push_back(entry.substr(0, entry.find('=')));
  }
  std::sort(env_names.begin(), env_names.end());
  start["env_names"] = env_names;
  const char* notify = std::getenv("NOTIFY_SOCKET");
  start["notify_socket"] = notify != nullptr ? notify : "";

  if (argc < 2 || args[1] != "agent") fail("only `k3s agent` is supported by this stand-in", start);

  // 1. The config file, found the way k3s's configfilearg finds it before urfave/cli runs:
  //    $K3S_CONFIG_FILE, else the first "--config X", "-c X", "--config=X" or "-c=X", else the
  //    default /etc/rancher/k3s/config.yaml (which this stand-in never reads). A file named on the
  //    command line must exist. This stand-in reads no YAML: it records whether the file holds
  //    anything besides comments and blank lines.
  std::string config_file;
  bool config_given = false;
  if (const char* env = std::getenv("K3S_CONFIG_FILE"); env != nullptr && *env != '\0') {
    config_file = env;
    config_given = true;
  }
  for (int i = 2; i < argc && !config_given; ++i) {
    const std::string& a = args[static_cast<std::size_t>(i)];
    for (std::string flag : {"--config", "-c"}) {
      if (a == flag && i + 1 < argc) {
        config_file = args[static_cast<std::size_t>(i) + 1];
        config_given = true;
      } else if (a.rfind(flag + "=", 0) == 0) {
        config_file = a.substr(flag.size() + 1);
        config_given = true;
      }
      if (config_given) break;
    }
  }
  start["config_file"] = config_given ? config_file : std::string("/etc/rancher/k3s/config.yaml");
  start["config_file_given"] = config_given;
  if (config_given) {
    std::ifstream in(config_file);
    if (!in) fail("open " + config_file + ": " + std::strerror(errno), start);
    std::string line;
    bool settings = false;
    while (std::getline(in, line)) {
      auto first = line.find_first_not_of(" \t\r");
      if (first != std::string::npos && line[first] != '#') settings = true;
    }
    start["config_file_has_settings"] = settings;
    struct stat drop_ins {};
    start["config_dropins_present"] = ::stat((config_file + ".d").c_str(), &drop_ins) == 0;
  }

  // 2. The flags, as urfave/cli v1 over Go's `flag` parses them: positional arguments are moved
  //    behind the flags, "--" ends the flags, "-name" and "--name" are the same, "-name=value" or
  //    "-name value" (bool flags only "-name" or "-name=true|false"), the last value of a scalar
  //    flag wins, list flags collect every value, and a flag set under two of its names is refused.
  std::map<std::string, std::vector<std::string>> flags;  // "--name" -> values
  std::set<std::string> visited;                          // names as spelled (name or alias)
  std::vector<std::string> positional;
  auto usage_error = [&](const std::string& why) { fail("Incorrect Usage: " + why, start); };
  for (int i = 2; i < argc; ++i) {
    std::string arg = args[static_cast<std::size_t>(i)];
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    std::size_t dashes = arg[1] == '-' ? 2 : 1;
    std::string name = arg.substr(dashes);
    if (name.empty() || name[0] == '-' || name[0] == '=') usage_error("bad flag syntax: " + arg);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const FlagDef* flag = find_flag(name);
    if (flag == nullptr) usage_error("flag provided but not defined: -" + name);
    if (flag->kind == Kind::kBool) {
      bool b = true;
      if (has_value && !parse_go_bool(value, b)) {
        usage_error("invalid boolean value \"" + value + "\" for -" + name + ": parse error");
      }
      value = b ? "true" : "false";
    } else if (!has_value) {
      if (i + 1 >= argc) usage_error("flag needs an argument: -" + name);
      value = args[static_cast<std::size_t>(++i)];
    }
    if (flag->kind == Kind::kInt) {
      char* end = nullptr;
      errno = 0;
      std::strtoll(value.c_str(), &end, 0);
      if (value.empty() || *end != '\0' || errno != 0) {
        usage_error("invalid value \"" + value + "\" for flag -" + name + ": parse error");
      }
    }
    visited.insert(name);
    auto& values = flags[std::string("--") + flag->name];
    if (flag->kind == Kind::kList) {
      values.push_back(value);
    } else {
      values = {value};  // the last one wins
    }
  }
  for (const auto& flag : kFlags) {
    if (*flag.alias != '\0' && visited.count(flag.name) && visited.count(flag.alias)) {
      usage_error(std::string("Cannot use two forms of the same flag: ") + flag.alias + " " + flag.name);
    }
  }
  if (flags.count("--help")) {
    say("NAME: k3s agent - Run node agent (help of the stand-in; exit 0 like k3s)");
    start["event"] = "help";
    record(start);
    return 0;
  }
  nlohmann::json flag_json = nlohmann::json::object();
  for (const auto& [name, values] : flags) flag_json[name] = values;
  start["flags"] = flag_json;
  start["positional"] = positional;
  start["token_on_command_line"] = flags.count("--token") > 0;
  if (start["token_on_command_line"].get<bool>()) say("WARNING: a token was given on the command line");

  if (!flags.count("--server") || flags["--server"].back().empty()) fail("--server is required", start);
  std::string token_file = flags.count("--token-file") ? flags["--token-file"].back() : "";
  if (token_file.empty()) fail("--token-file is required by this stand-in", start);
  start["token_file"] = token_file;
  struct stat st {};
  if (::stat(token_file.c_str(), &st) != 0) fail("token file " + token_file + ": " + std::strerror(errno), start);
  start["token_file_mode"] = st.st_mode & 07777;
  if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) fail("token file " + token_file + " must be a 0600 file", start);
  {
    std::ifstream in(token_file);
    std::string token;
    std::getline(in, token);
    if (token.rfind("K10", 0) != 0) fail("token file " + token_file + " does not hold a K10 token", start);
  }

  std::string mode = read_mode();
  start["mode"] = mode;
  record(start);
  say("starting agent (mode " + mode + ", node " +
      (flags.count("--node-name") ? flags["--node-name"].back() : std::string("?")) + ")");

  if (mode == "exit-now") {
    say("exiting now (mode exit-now)");
    record({{"event", "exit"}, {"pid", ::getpid()}, {"code", 0}, {"at_ms", now_ms()}});
    return 0;
  }

  sigset_t waited;
  sigemptyset(&waited);
  sigaddset(&waited, SIGTERM);
  sigaddset(&waited, SIGINT);
  ::sigprocmask(SIG_BLOCK, &waited, nullptr);

  pid_t kubelet = start_kubelet_child();
  if (kubelet > 0) say("started the kubelet stand-in (sleep, pid " + std::to_string(kubelet) + ")");

  if (mode == "crash") {
    say("crashing (mode crash)");
    record({{"event", "exit"}, {"pid", ::getpid()}, {"code", 1}, {"at_ms", now_ms()}});
    return 1;  // the kubelet stand-in is left behind, as after a real crash
  }

  std::int64_t ready_delay = env_ms("FAKE_K3S_READY_DELAY_MS", 0);
  std::int64_t crash_after = -1;
  if (mode.rfind("crash-after-ms=", 0) == 0) crash_after = std::strtoll(mode.c_str() + 15, nullptr, 10);
  bool ignore_term = mode == "hang-on-term";
  bool send_ready = mode != "no-ready";

  std::int64_t started = now_ms();
  bool ready_sent = false;
  for (;;) {
    std::int64_t now = now_ms();
    if (send_ready && !ready_sent && now - started >= ready_delay) {
      int rc = ::sd_notify(0, "READY=1\nSTATUS=fake-k3s (stand-in for k3s) agent running");
      ready_sent = true;
      say(rc > 0 ? "sent READY=1" : "no NOTIFY_SOCKET: READY=1 not sent");
      record({{"event", "ready"}, {"pid", ::getpid()}, {"sent", rc > 0}, {"at_ms", now_ms()}});
    }
    if (crash_after >= 0 && now - started >= crash_after) {
      say("crashing after " + std::to_string(crash_after) + " ms (mode crash-after-ms)");
      record({{"event", "exit"}, {"pid", ::getpid()}, {"code", 2}, {"at_ms", now_ms()}});
      return 2;
    }
    std::int64_t wait = 1000;
    if (send_ready && !ready_sent) wait = std::min(wait, std::max<std::int64_t>(0, started + ready_delay - now));
    if (crash_after >= 0) wait = std::min(wait, std::max<std::int64_t>(0, started + crash_after - now));
    timespec timeout{static_cast<time_t>(wait / 1000), static_cast<long>((wait % 1000) * 1000000)};
    int sig = ::sigtimedwait(&waited, nullptr, &timeout);
    if (sig == SIGTERM || sig == SIGINT) {
      record({{"event", "term"}, {"pid", ::getpid()}, {"signal", sig}, {"ignored", ignore_term}, {"at_ms", now_ms()}});
      if (ignore_term) {
        say("ignoring SIGTERM (mode hang-on-term)");
        continue;
      }
      std::int64_t term_delay = env_ms("FAKE_K3S_TERM_DELAY_MS", 0);
      say("stopping on signal " + std::to_string(sig) + " after " + std::to_string(term_delay) + " ms");
      if (term_delay > 0) ::usleep(static_cast<useconds_t>(term_delay * 1000));
      if (kubelet > 0) {
        ::kill(kubelet, SIGTERM);
        ::waitpid(kubelet, nullptr, 0);
      }
      record({{"event", "exit"}, {"pid", ::getpid()}, {"code", 0}, {"at_ms", now_ms()}});
      return 0;
    }
    if (kubelet > 0) ::waitpid(kubelet, nullptr, WNOHANG);
  }
}
