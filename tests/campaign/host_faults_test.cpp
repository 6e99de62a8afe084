// daemon_host_faults (issue 13 item 2, `run`): what the host does to a running daemon, against the
// real `k3s-daas run` with the Sui and Nautilus-master stand-ins, Debian's real containerd and
// tests/fake-k3s, a STAND-IN for k3s (k3s itself is not installed here).
//
// 1. state_dir read-only, then full: state_dir is a small tmpfs of its own (as a separate /var
//    partition would be), remounted read-only for a while, then filled to the last byte. The node
//    keeps serving (same k3s pid, heartbeats counted by the master, no exit, no slashed marker),
//    every failed write is counted in k3s_daas_state_write_failures_total and logged once (then
//    once a minute), and once the folder takes writes again the status file is fresh again and
//    the log says so.
// 2. The wall clock stepped forward by 3 hours, back to now, back by 3 hours and back to now,
//    with libfaketime (Debian's faketime package) preloaded into the daemon only, the monotonic
//    clock left alone, as a real clock step does. Each step is logged and counted in
//    k3s_daas_clock_steps_total and makes a new seal token; the node is never torn down; once the
//    clock is right again the master accepts heartbeats again within seconds. Skipped with a
//    message when libfaketime is not installed.
// 3. config.json edited badly while the daemon runs (broken JSON, then a field of the wrong type),
//    each followed by SIGHUP: the reload is refused naming the file or the field, counted in
//    k3s_daas_config_reload_failures_total, and the daemon runs on what it loaded; a bad edit
//    without SIGHUP changes nothing; the good file back plus SIGHUP is applied. Then a master
//    asking for a 10 ms heartbeat gets one a second (the config's own lower bound), logged.
#include <signal.h>
#include <sys/mount.h>

#include <fstream>
#include <map>

#include "daemon_campaign.hpp"

using namespace std::chrono_literals;
using namespace k3s_daas;
using namespace k3s_daas::test;
using namespace k3s_daas::test::campaign;

namespace {

const std::filesystem::path kFaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

// A tmpfs of `size` mounted on `where` for the test's life.
struct TmpfsMount {
  std::filesystem::path where;
  bool mounted = false;
  TmpfsMount(const std::filesystem::path& path, const std::string& size) : where(path) {
    std::filesystem::create_directories(where);
    mounted = ::mount("tmpfs", where.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0700").c_str()) == 0;
  }
  // Read-only: a read-only bind mount of the folder over itself (the tmpfs itself cannot be
  // remounted read-only while containerd holds files open for writing: EBUSY). New opens and
  // renames through the path fail with EROFS, as on a file system the kernel made read-only.
  bool read_only = false;
  bool set_read_only(bool on) {
    if (on == read_only) return true;
    if (on) {
      if (::mount(where.c_str(), where.c_str(), nullptr, MS_BIND, nullptr) != 0) return false;
      if (::mount(nullptr, where.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
        ::umount2(where.c_str(), MNT_DETACH);
        return false;
      }
    } else if (::umount2(where.c_str(), MNT_DETACH) != 0) {
      return false;
    }
    read_only = on;
    return true;
  }
  ~TmpfsMount() {
    if (read_only) ::umount2(where.c_str(), MNT_DETACH);
    if (mounted) ::umount2(where.c_str(), MNT_DETACH);
  }
};

// Fills the file system holding `file` until it refuses (ENOSPC).
void fill(const std::filesystem::path& file) {
  std::ofstream out(file, std::ios::binary);
  const std::string block(1 << 16, '\0');
  while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) {
  }
}

std::int64_t updated_at(const DaemonWorld& world) { return world.runtime_status().value("updated_at_ms", std::int64_t{0}); }

// The world's config with metrics on a free port; returns the listen address.
std::string enable_metrics(DaemonWorld& world) {
  const std::string listen = "127.0.0.1:" + std::to_string(free_port());
  auto config = nlohmann::json::parse(read_file(world.config_path));
  config["metrics"]["listen"] = listen;
  write_file(world.config_path, config.dump(2), 0600);
  return listen;
}

std::string log_tail(const std::filesystem::path& log, std::size_t lines) {
  std::ifstream in(log);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += all[i] + "\n";
  return out;
}

// SIGTERM: an orderly stop, exit 0.
void stop_cleanly(ChildProgram& daemon) {
  daemon.signal(SIGTERM);
  auto code = daemon.wait(30s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

double metric(const std::string& listen, const std::string& name) { return metric_value(scrape(listen), name); }

}  // namespace

TEST_CASE("daemon_host_faults: state_dir read-only, then full, while the node runs") {
  K3S_REQUIRE_DAEMON_WORLD();
  DaemonWorld world;
  TmpfsMount state(world.state, "64m");
  if (!state.mounted) {
    MESSAGE("SKIPPED: cannot mount a tmpfs on " << world.state << " (needs root with CAP_SYS_ADMIN)");
    return;
  }
  // Stops what a failed run leaves (by the pid files on the tmpfs) before the tmpfs goes away.
  NodeLeftoverGuard leftovers{world.state};
  const std::string listen = enable_metrics(world);
  world.stake();
  const auto log = world.dir / "daemon.log";
  auto daemon = world.start_daemon_logged(log);
  REQUIRE(world.wait_running(2));
  const pid_t k3s_pid = world.runtime_status()["k3s"]["pid"];
  CHECK(metric(listen, "k3s_daas_state_write_failures_total") == 0);

  // Read-only for 4 s.
  REQUIRE(state.set_read_only(true));
  int beats = world.heartbeats();
  std::this_thread::sleep_for(4s);
  CHECK(world.heartbeats() >= beats + 2);  // heartbeats every second go on
  const double failed_read_only = metric(listen, "k3s_daas_state_write_failures_total");
  CHECK(failed_read_only >= 3);            // the status file, once a second
  CHECK(count_lines(log, {"cannot write the status file into state_dir", "Read-only file system"}) == 1);
  REQUIRE(state.set_read_only(false));
  const auto back = updated_at(world);
  REQUIRE(wait_until([&] { return updated_at(world) > back; }, 5s));
  CHECK(wait_until([&] { return count_lines(log, {"is writable again"}) == 1; }, 3s));

  // Full for 4 s: the filler takes every free byte of the tmpfs.
  fill(world.state / "filler");
  beats = world.heartbeats();
  std::this_thread::sleep_for(4s);
  CHECK(world.heartbeats() >= beats + 2);
  CHECK(metric(listen, "k3s_daas_state_write_failures_total") >= failed_read_only + 3);
  CHECK(count_lines(log, {"cannot write the status file into state_dir", "No space left on device"}) == 1);
  std::filesystem::remove(world.state / "filler");
  const auto freed = updated_at(world);
  REQUIRE(wait_until([&] { return updated_at(world) > freed; }, 5s));
  CHECK(wait_until([&] { return count_lines(log, {"is writable again"}) == 2; }, 3s));

  // Never torn down: same k3s, no marker, still running, status counts the failures.
  auto status = world.runtime_status();
  CHECK(status["k3s"]["pid"] == k3s_pid);
  CHECK(status["state"] == "running");
  CHECK(status.value("state_write_failures", 0) >= 6);
  CHECK_FALSE(std::filesystem::exists(world.state / "slashed"));
  CHECK_FALSE(daemon->wait(10ms).has_value());
  stop_cleanly(*daemon);
}

TEST_CASE("daemon_host_faults: the wall clock stepped by hours, forward and back") {
  K3S_REQUIRE_DAEMON_WORLD();
  if (!std::filesystem::exists(kFaketime)) {
    MESSAGE("SKIPPED: " << kFaketime << " is missing (Debian package faketime; scripts/install-deps.sh installs it)");
    return;
  }
  DaemonWorld world;
  const std::string listen = enable_metrics(world);
  world.stake();
  const auto offset_file = world.dir / "faketime";
  write_file(offset_file, "+0\n", 0644);
  const auto log = world.dir / "daemon.log";
  // libfaketime in the daemon only (the supervisor gives containerd and k3s an environment of
  // its own, so they keep the real clock); the offset file is read again at every call.
  ::setenv("K3S_DAAS_TEST_MODE", "1", 1);
  ChildProgram daemon({"/bin/sh", "-c",
                       "LD_PRELOAD=\"$3\" FAKETIME_TIMESTAMP_FILE=\"$4\" FAKETIME_NO_CACHE=1 "
                       "FAKETIME_DONT_FAKE_MONOTONIC=1 exec \"$0\" --config \"$1\" run >>\"$2\" 2>&1",
                       agent_binary().string(), world.config_path.string(), log.string(), kFaketime.string(),
                       offset_file.string()});
  REQUIRE(world.wait_running(2));
  const pid_t k3s_pid = world.runtime_status()["k3s"]["pid"];
  {
    INFO("daemon log, last lines:\n" << log_tail(log, 30));
    CHECK(metric(listen, "k3s_daas_clock_steps_total") == 0);
  }

  struct Step {
    const char* offset;
    const char* direction;
  };
  int steps = 0;
  std::map<std::string, int> seen;  // steps per direction
  for (const Step& step : {Step{"+3h", "forward"}, Step{"+0", "back"}, Step{"-3h", "back"}, Step{"+0", "forward"}}) {
    CAPTURE(step.offset);
    write_file(offset_file, std::string(step.offset) + "\n", 0644);
    ++steps;
    const int expected = ++seen[step.direction];
    const std::string words = std::string("the wall clock stepped ") + step.direction + " by 10800 s";
    CHECK(wait_until([&] { return count_lines(log, {words}) == expected; }, 5s));
    CHECK(wait_until([&] { return metric(listen, "k3s_daas_clock_steps_total") == steps; }, 5s));
    std::this_thread::sleep_for(2s);  // the node under the wrong clock
    CHECK_FALSE(daemon.wait(10ms).has_value());
    CHECK(world.runtime_status()["k3s"]["pid"] == k3s_pid);
  }
  // Each step made a new seal token (one made under the old clock is issued in the future or
  // expired for the new one: before this test found it, the master refused every heartbeat with
  // issued_in_future for the token's whole life once the clock stepped back).
  CHECK(count_lines(log, {"seal token renewed (the wall clock stepped)"}) == 4);
  // The clock is right again: the master accepts heartbeats again, within a few intervals.
  const int beats = world.heartbeats();
  INFO("daemon log, last lines:\n" << log_tail(log, 40));
  CHECK(wait_until([&] { return world.heartbeats() >= beats + 3; }, 15s));
  auto status = world.runtime_status();
  CHECK(status["k3s"]["pid"] == k3s_pid);
  CHECK(status["clock"]["steps"] == 4);
  CHECK_FALSE(std::filesystem::exists(world.state / "slashed"));
  stop_cleanly(daemon);
}

TEST_CASE("daemon_host_faults: config.json edited badly while the daemon runs") {
  K3S_REQUIRE_DAEMON_WORLD();
  DaemonWorld world;
  const std::string listen = enable_metrics(world);
  world.stake();
  const auto log = world.dir / "daemon.log";
  auto daemon = world.start_daemon_logged(log);
  REQUIRE(world.wait_running(2));
  const pid_t k3s_pid = world.runtime_status()["k3s"]["pid"];
  const std::string good = read_file(world.config_path);
  const auto config_name = world.config_path.string();

  // A bad edit alone changes nothing: the daemon reads the file only at start and on SIGHUP.
  write_file(world.config_path, "{ \"node_id\": \"worker-1\", ", 0600);
  int beats = world.heartbeats();
  std::this_thread::sleep_for(2s);
  CHECK(world.heartbeats() > beats);
  CHECK(count_lines(log, {"reload"}) == 0);

  // Broken JSON, then SIGHUP: refused naming the file.
  daemon->signal(SIGHUP);
  CHECK(wait_until([&] { return count_lines(log, {"reload refused, the running config stays", config_name}) == 1; }, 5s));
  CHECK(wait_until([&] { return metric(listen, "k3s_daas_config_reload_failures_total") == 1; }, 5s));

  // Valid JSON with a field of the wrong type: refused naming the field.
  auto wrong = nlohmann::json::parse(good);
  wrong["sui"]["poll_interval_ms"] = "fast";
  write_file(world.config_path, wrong.dump(2), 0600);
  daemon->signal(SIGHUP);
  CHECK(wait_until([&] { return count_lines(log, {"reload refused", "sui.poll_interval_ms"}) == 1; }, 5s));
  CHECK(wait_until([&] { return metric(listen, "k3s_daas_config_reload_failures_total") == 2; }, 5s));

  // Still serving on what it loaded.
  beats = world.heartbeats();
  CHECK(wait_until([&] { return world.heartbeats() >= beats + 2; }, 10s));
  CHECK(world.runtime_status()["k3s"]["pid"] == k3s_pid);
  CHECK(world.runtime_status().value("config_reload_failures", 0) == 2);

  // The good file back: applied.
  auto changed = nlohmann::json::parse(good);
  changed["log"]["level"] = "debug";
  write_file(world.config_path, changed.dump(2), 0600);
  daemon->signal(SIGHUP);
  CHECK(wait_until([&] { return count_lines(log, {"reload: applied"}) == 1; }, 5s));
  CHECK(metric(listen, "k3s_daas_config_reload_failures_total") == 2);
  CHECK_FALSE(daemon->wait(10ms).has_value());
  CHECK(world.runtime_status()["k3s"]["pid"] == k3s_pid);

  // Beside the config: the master's answers set the heartbeat interval too, held to the config's
  // own range (1 s .. 1 h). A master asking for 10 ms gets one a second, not a flood.
  world.master->settings({{"heartbeat_interval_ms", 10}});
  CHECK(wait_until([&] { return count_lines(log, {"the master asks for a heartbeat every 10 ms; using 1000 ms"}) == 1; }, 5s));
  beats = world.heartbeats();
  std::this_thread::sleep_for(3s);
  CHECK(world.heartbeats() - beats <= 5);
  CHECK(world.runtime_status()["master"].value("heartbeat_interval_ms", 0) == 1000);
  stop_cleanly(*daemon);
}
