// daemon_not_staked: `run` without a stake exits 80 and says to run `k3s-daas stake`, before it
// talks to the master or starts anything.
#include "daemon_world.hpp"

using namespace std::chrono_literals;
using namespace k3s_daas;
using namespace k3s_daas::test;

TEST_CASE("daemon_not_staked: run without a stake exits 80 naming `k3s-daas stake`") {
  K3S_REQUIRE_DAEMON_WORLD();
  DaemonWorld world;
  auto result = world.agent({"run"}, 30s);
  INFO("stderr: " << result.err);
  CHECK(result.exit_code == 80);
  CHECK(result.err.find("k3s-daas stake") != std::string::npos);
  CHECK(world.master->state()["nodes"].empty());
  CHECK_FALSE(std::filesystem::exists(world.dir / "fake-k3s.jsonl"));
}
