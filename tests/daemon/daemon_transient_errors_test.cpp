// daemon_transient_errors: Sui stand-in faults and master stand-in 5xx answers for a while, and a
// master command 3 without a slash on chain: the daemon keeps the fake-k3s stand-in (k3s)
// running, does not exit, and heartbeats resume.
#include <signal.h>

#include "daemon_world.hpp"

using namespace std::chrono_literals;
using namespace k3s_daas;
using namespace k3s_daas::test;

TEST_CASE(
    "daemon_transient_errors: chain and master errors never stop k3s; command 3 without a chain slash is ignored") {
  K3S_REQUIRE_DAEMON_WORLD();
  DaemonWorld world;
  world.stake();
  auto daemon = world.start_daemon();
  REQUIRE(world.wait_running(1));
  const pid_t k3s_pid = world.runtime_status()["k3s"]["pid"];
  REQUIRE(k3s_pid > 0);

  MESSAGE("Sui stand-in: every request fails with 500 or resets; master stand-in: heartbeats answer 503");
  admin_post(world.sui_admin + "/fault", {{"kind", "http500"}, {"count", -1}});
  world.master->fault("http503", "heartbeat", 4);
  std::this_thread::sleep_for(4s);
  CHECK_FALSE(daemon->wait(0ms).has_value());
  auto during = world.runtime_status();
  INFO("status during faults: " << during.dump());
  CHECK(during["k3s"]["pid"] == k3s_pid);
  CHECK(during["chain_failures"].get<int>() >= 1);
  CHECK(::kill(k3s_pid, 0) == 0);
  admin_post(world.sui_admin + "/clear-faults", nlohmann::json::object());
  world.master->clear_faults();

  MESSAGE("master command 3 (slashed) while the chain says ACTIVE: ignored");
  admin_post(world.master->admin + "/admin/command", {{"node_id", "worker-1"}, {"command", 3}, {"count", 1}});
  const int beats = world.heartbeats();
  REQUIRE(wait_until([&] { return world.heartbeats() >= beats + 3; }, 20s));
  CHECK_FALSE(daemon->wait(0ms).has_value());
  CHECK(world.runtime_status()["state"] == "running");
  CHECK(world.runtime_status()["k3s"]["pid"] == k3s_pid);
  CHECK(world.runtime_status()["master"]["last_command"] == "slashed");
  CHECK_FALSE(std::filesystem::exists(daemon::slash_marker_path(world.state)));

  daemon->signal(SIGTERM);
  auto code = daemon->wait(30s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(world.leftovers(k3s_pid).empty());
}
