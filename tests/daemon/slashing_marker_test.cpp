// The slashed marker: written by the daemon after a slash, shown and cleared by operators.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "k3s_daas/config.hpp"
#include "k3s_daas/daemon.hpp"
#include "support/support.hpp"

using namespace k3s_daas;
using json = nlohmann::json;

TEST_CASE("slashing status shows the evidence (exit 79) and clear needs --yes") {
  test::TempDir dir;
  auto cfg = dir / "config.json";
  auto doc = config::starter_document("worker-1");
  doc["state_dir"] = (dir / "state").string();
  REQUIRE(config::write_new_file(cfg, doc, false).ok());
  auto agent = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", cfg.string()});
    return test::run_agent(args);
  };
  auto none = agent({"slashing", "status", "--json"});
  CHECK(none.exit_code == 0);
  CHECK(json::parse(none.out)["slashed"] == false);

  daemon::SlashMarker marker;
  marker.detected_at_ms = 1795426282606;
  marker.node_id = "worker-1";
  marker.stake_id = "0x" + std::string(64, 'a');
  marker.evidence = "SlashEvent in tx 9zDhqzV28ffVXH7RKNyxkAaC4tKE1h5AA8hdNoKGv2Wk";
  marker.tx_digest = "9zDhqzV28ffVXH7RKNyxkAaC4tKE1h5AA8hdNoKGv2Wk";
  REQUIRE(daemon::write_slash_marker(dir / "state", marker).ok());
  struct stat st {};
  REQUIRE(::stat((dir / "state" / "slashed").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto shown = agent({"slashing", "status"});
  CHECK(shown.exit_code == 79);
  CHECK(shown.out.find("SlashEvent in tx 9zDhqzV28ffVXH7RKNyxkAaC4tKE1h5AA8hdNoKGv2Wk") != std::string::npos);
  auto shown_json = agent({"slashing", "status", "--json"});
  CHECK(json::parse(shown_json.out)["marker"]["tx_digest"] == marker.tx_digest);

  CHECK(agent({"slashing", "clear"}).exit_code == 2);
  CHECK(std::filesystem::exists(dir / "state" / "slashed"));
  auto cleared = agent({"slashing", "clear", "--yes"});
  CHECK(cleared.exit_code == 0);
  CHECK_FALSE(std::filesystem::exists(dir / "state" / "slashed"));
  CHECK(agent({"slashing", "status"}).exit_code == 0);

  test::write_file(dir / "state" / "slashed", "{broken");
  auto damaged = agent({"slashing", "status"});
  CHECK(damaged.exit_code == 79);
  CHECK(damaged.err.find("does not parse") != std::string::npos);
}
