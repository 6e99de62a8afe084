// daemon_production: what an operator who leaves the daemon alone needs (issue 8), end to end
// with the real binary, the Sui and master stand-ins, Debian's containerd and the fake-k3s
// STAND-IN for k3s:
// - a master that accepts the connection and never answers does not stall the loop (status file
//   every second), and a slash landed on chain meanwhile is acted on within poll_interval + 1 s;
// - one `run` per state folder; the heartbeat sequence floor persisted in state_dir is honoured;
// - master commands 2 (drain) and 5 (resume), the drain surviving a restart; SIGHUP with a broken
//   config keeps the daemon running on what it loaded.
#include <signal.h>

#include "daemon_world.hpp"

using namespace std::chrono_literals;
using namespace k3s_daas;
using namespace k3s_daas::test;

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("daemon_production: a hung master never stalls the loop; a slash is still acted on within poll + 1 s") {
  K3S_REQUIRE_DAEMON_WORLD();
  const unsigned poll_ms = 500;
  DaemonWorld world(poll_ms);
  world.stake();
  auto daemon = world.start_daemon();
  REQUIRE(world.wait_running(1));

  MESSAGE("master stand-in: every heartbeat is accepted (TLS done) and never answered");
  world.master->fault("hang", "heartbeat", -1);
  std::this_thread::sleep_for(3s);  // a heartbeat is now stuck on the master lane (10 s timeout)
  const int beats_during_hang = world.heartbeats();
  // The loop keeps its cadence: the status file is rewritten every second.
  CHECK(world.status_rewrites(4) == 4);
  CHECK(world.heartbeats() == beats_during_hang);  // the master really answers nothing
  CHECK_FALSE(daemon->wait(0ms).has_value());

  MESSAGE("a full slash on chain while the master hangs");
  const auto detection_ms = world.slash_and_wait_exit(*daemon);
  MESSAGE("slash detected " << detection_ms << " ms after it landed (poll " << poll_ms << " ms)");
  CHECK(detection_ms <= poll_ms + 1000);
  world.master->clear_faults();
}

TEST_CASE("daemon_production: state lock, sequence floor, drain and resume, SIGHUP") {
  K3S_REQUIRE_DAEMON_WORLD();
  DaemonWorld world;
  world.stake();
  // A floor far ahead of the clock (as after a clock stepped back): numbers must stay above it.
  const std::uint64_t floor = static_cast<std::uint64_t>(wall_ms()) + 10ull * 3600 * 1000;
  std::filesystem::create_directories(world.state);
  write_file(world.state / "heartbeat-seq.json", nlohmann::json({{"floor", floor}}).dump(), 0600);
  auto daemon = world.start_daemon();
  REQUIRE(world.wait_running(2));
  CHECK(world.runtime_status()["master"]["last_seq"].get<std::uint64_t>() > floor);

  MESSAGE("a second run on the same state folder refuses");
  auto second = world.agent({"run"}, 20s);
  INFO("second run: " << second.err);
  CHECK(second.exit_code != 0);
  CHECK(second.err.find("another `k3s-daas run`") != std::string::npos);
  CHECK_FALSE(daemon->wait(0ms).has_value());

  MESSAGE("command 2: drain stops k3s and keeps staking");
  const pid_t k3s_pid = world.runtime_status()["k3s"]["pid"];
  admin_post(world.master->admin + "/admin/command", {{"node_id", "worker-1"}, {"command", 2}, {"count", 1}});
  REQUIRE(wait_until([&] { return world.runtime_status().value("state", "") == "drained"; }, 20s));
  REQUIRE(wait_until([&] { return ::kill(k3s_pid, 0) != 0; }, 20s));
  CHECK(std::filesystem::exists(world.state / "drained"));
  const int beats = world.heartbeats();
  REQUIRE(wait_until([&] { return world.heartbeats() >= beats + 2; }, 20s));  // heartbeats go on

  MESSAGE("SIGHUP with a broken config: refused, the daemon keeps running on what it loaded");
  const auto good = read_file(world.config_path);
  write_file(world.config_path, "{ not json", 0600);
  daemon->signal(SIGHUP);
  std::this_thread::sleep_for(2s);
  CHECK_FALSE(daemon->wait(0ms).has_value());
  write_file(world.config_path, good, 0600);

  MESSAGE("restart while drained: k3s stays stopped");
  daemon->signal(SIGTERM);
  REQUIRE(daemon->wait(30s) == std::optional<int>(0));
  daemon = world.start_daemon();
  REQUIRE(wait_until([&] { return world.runtime_status().value("state", "") == "drained" &&
                                  world.runtime_status()["master"].value("heartbeats_ok", 0) >= 1; },
                     45s));
  const auto drained_status = world.runtime_status();
  const bool k3s_running = drained_status.contains("k3s") && drained_status["k3s"].value("state", "") == "running";
  CHECK_FALSE(k3s_running);

  MESSAGE("command 5: resume starts k3s again");
  admin_post(world.master->admin + "/admin/command", {{"node_id", "worker-1"}, {"command", 5}, {"count", 1}});
  REQUIRE(wait_until([&] { return world.runtime_status().value("state", "") == "running"; }, 30s));
  CHECK_FALSE(std::filesystem::exists(world.state / "drained"));
  const pid_t resumed = world.runtime_status()["k3s"]["pid"];
  CHECK(resumed > 0);
  CHECK(::kill(resumed, 0) == 0);

  daemon->signal(SIGTERM);
  auto code = daemon->wait(30s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(world.leftovers(resumed).empty());
}

TEST_CASE("daemon_production: a master restarted with a new enclave key is attested again before it is trusted") {
  K3S_REQUIRE_DAEMON_WORLD();
  DaemonWorld world;
  world.stake();
  auto daemon = world.start_daemon();
  REQUIRE(world.wait_running(2));
  const pid_t k3s_pid = world.runtime_status()["k3s"]["pid"];
  const std::string old_key = world.runtime_status()["master"]["enclave_key"];

  MESSAGE("command 1 (renew): a new seal token");
  const auto expires = world.runtime_status()["seal_token_expires_at_ms"].get<std::int64_t>();
  std::this_thread::sleep_for(50ms);
  admin_post(world.master->admin + "/admin/command", {{"node_id", "worker-1"}, {"command", 1}, {"count", 1}});
  REQUIRE(wait_until([&] { return world.runtime_status()["seal_token_expires_at_ms"].get<std::int64_t>() > expires; },
                     20s));

  MESSAGE("command 4 (deregistered) while the stake is ACTIVE on chain: ignored");
  admin_post(world.master->admin + "/admin/command", {{"node_id", "worker-1"}, {"command", 4}, {"count", 1}});
  const int beats = world.heartbeats();
  REQUIRE(wait_until([&] { return world.heartbeats() >= beats + 2; }, 20s));
  CHECK(world.runtime_status()["master"]["last_command"] == "deregistered");
  CHECK_FALSE(daemon->wait(0ms).has_value());

  MESSAGE("the master stand-in rotates its enclave key: its answers are signed by a key we never attested");
  auto rotated = admin_post(world.master->admin + "/admin/rotate-key", {{"register", false}});
  const std::string new_key = rotated["enclave_public_key"];
  REQUIRE(new_key != old_key);
  REQUIRE(wait_until([&] {
    auto status = world.runtime_status();
    return status["master"].value("reattestations", 0) >= 1 && status["master"].value("enclave_key", "") == new_key;
  }, 30s));
  // Heartbeat answers verified under the new key (the agent's own count of accepted answers).
  const int after = world.runtime_status()["master"].value("heartbeats_ok", 0);
  REQUIRE(wait_until([&] { return world.runtime_status()["master"].value("heartbeats_ok", 0) >= after + 2; }, 30s));
  CHECK(world.runtime_status()["k3s"]["pid"] == k3s_pid);                      // k3s never stopped
  CHECK(world.runtime_status()["state"] == "running");

  daemon->signal(SIGTERM);
  auto code = daemon->wait(30s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}
