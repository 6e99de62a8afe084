// daemon_slash_teardown: a slash on the Sui stand-in (admin slash_stake) -> the daemon tears the
// node down (the fake-k3s stand-in for k3s, Debian's containerd), writes the marker with the
// evidence and exits 79; a second run exits 79 at once.
#include "daemon_world.hpp"

using namespace std::chrono_literals;
using namespace k3s_daas;
using namespace k3s_daas::test;

TEST_CASE("daemon_slash_teardown: a full slash tears the node down, writes the marker, exits 79 and stays down") {
  K3S_REQUIRE_DAEMON_WORLD();
  DaemonWorld world;
  MESSAGE("staking twice the minimum, so that a first partial slash leaves it at the minimum");
  world.stake("2000000000");
  auto daemon = world.start_daemon();
  REQUIRE(world.wait_running(1));
  const pid_t k3s_pid = world.runtime_status()["k3s"]["pid"];
  REQUIRE(k3s_pid > 0);

  MESSAGE("a partial slash that leaves the stake above the minimum: logged, the node keeps serving");
  auto partial = admin_post(world.sui_admin + "/slash",
                            {{"node_id", "worker-1"}, {"amount_mist", "1000000000"}, {"reason", "warning"}});
  REQUIRE_MESSAGE(partial["status"] == "success", partial.dump());
  REQUIRE(wait_until([&] { return world.runtime_status().value("partial_slashes", 0) >= 1; }, 10s));
  CHECK(world.runtime_status()["stake"]["amount_mist"] == 1'000'000'000ull);
  std::this_thread::sleep_for(1s);
  CHECK_FALSE(daemon->wait(0ms).has_value());
  CHECK(world.runtime_status()["k3s"]["pid"] == k3s_pid);

  MESSAGE("slashing everything on chain");
  const auto slashed_at = std::chrono::steady_clock::now();
  auto slash = admin_post(world.sui_admin + "/slash", {{"node_id", "worker-1"}, {"all", true}, {"reason", "test"}});
  REQUIRE_MESSAGE(slash["status"] == "success", slash.dump());
  const std::string digest = slash["digest"];
  auto code = daemon->wait(30s);
  REQUIRE(code.has_value());
  CHECK(*code == 79);
  MESSAGE(
      "exit 79 after "
      << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - slashed_at).count()
      << " ms");

  auto marker = daemon::read_slash_marker(world.state);
  REQUIRE(marker.ok());
  REQUIRE(marker->has_value());
  INFO("marker evidence: " << (*marker)->evidence);
  CHECK((*marker)->tx_digest == digest);
  CHECK((*marker)->evidence.find("SLASHED") != std::string::npos);
  CHECK((*marker)->node_id == "worker-1");
  CHECK((*marker)->amount_left_mist == 0);
  CHECK(world.leftovers(k3s_pid).empty());
  CHECK(world.runtime_status()["state"] == "slashed");

  MESSAGE("running again: exit 79 at once, naming the command that clears the marker");
  auto again = world.agent({"run"}, 20s);
  CHECK(again.exit_code == 79);
  CHECK(again.err.find("k3s-daas slashing clear --yes") != std::string::npos);

  MESSAGE("an operator clears the marker, but the chain still shows SLASHED: exit 79 and a new marker");
  auto cleared = world.agent({"slashing", "clear", "--yes"});
  REQUIRE(cleared.exit_code == 0);
  auto from_chain = world.agent({"run"}, 30s);
  CHECK(from_chain.exit_code == 79);
  auto marker_again = daemon::read_slash_marker(world.state);
  REQUIRE(marker_again.ok());
  REQUIRE(marker_again->has_value());
  CHECK((*marker_again)->evidence.find("SLASHED") != std::string::npos);
  CHECK(world.master->state()["nodes"][0]["register_count"] == 1);
}
