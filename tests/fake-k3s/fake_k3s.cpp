// fake-k3s: a STAND-IN FOR k3s, for tests and benchmarks only. It is not k3s and runs no
// kubelet. It accepts the `k3s agent` command line the worker agent builds (and common real
// flags), refuses unknown flags like k3s does (exit 1), checks the token file, sends READY=1 on
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

// Flags taking a value (long and short forms), as `k3s agent --help` lists them.
const std::set<std::string> kValueFlags = {"--server",
                                           "-s",
                                           "--token",
                                           "-t",
                                           "--token-file",
                                           "--node-name",
                                           "--data-dir",
                                           "-d",
                                           "--container-runtime-endpoint",
                                           "--node-label",
                                           "--node-taint",
                                           "--kubelet-arg",
                                           "--kube-proxy-arg",
                                           "--node-ip",
                                           "-i",
                                           "--node-external-ip",
                                           "--flannel-iface",
                                           "--flannel-conf",
                                           "--resolv-conf",
                                           "--private-registry",
                                           "--pause-image",
                                           "--lb-server-port",
                                           "-v",
                                           "--vmodule",
                                           "--log",
                                           "-l",
                                           "--config",
                                           "-c",
                                           "--image-credential-provider-bin-dir",
                                           "--image-credential-provider-config",
                                           "--snapshotter",
                                           "--default-runtime",
                                           "--bind-address",
                                           "--node-name-from",
                                           "--airgap-extra-registry"};
// Boolean flags.
const std::set<std::string> kBoolFlags = {"--with-node-id",
                                          "--docker",
                                          "--debug",
                                          "--protect-kernel-defaults",
                                          "--selinux",
                                          "--rootless",
                                          "--prefer-bundled-bin",
                                          "--disable-apiserver-lb",
                                          "--alsologtostderr",
                                          "--disable-default-registry-endpoint"};

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

  std::map<std::string, std::vector<std::string>> flags;
  for (int i = 2; i < argc; ++i) {
    std::string arg = args[static_cast<std::size_t>(i)];
    std::string value;
    bool has_inline = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_inline = true;
    }
    if (kBoolFlags.count(arg)) {
      flags[arg].push_back(has_inline ? value : "true");
    } else if (kValueFlags.count(arg)) {
      if (!has_inline) {
        if (i + 1 >= argc) fail("flag needs an argument: " + arg, start);
        value = args[static_cast<std::size_t>(++i)];
      }
      flags[arg].push_back(value);
    } else {
      fail("Incorrect Usage: flag provided but not defined: -" + arg.substr(arg.find_first_not_of('-')), start);
    }
  }
  nlohmann::json flag_json = nlohmann::json::object();
  for (const auto& [name, values] : flags) flag_json[name] = values;
  start["flags"] = flag_json;
  start["token_on_command_line"] = flags.count("--token") > 0 || flags.count("-t") > 0;
  if (start["token_on_command_line"].get<bool>()) say("WARNING: a token was given on the command line");

  if (!flags.count("--server") && !flags.count("-s")) fail("--server is required", start);
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
