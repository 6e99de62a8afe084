// daemon_run_e2e: stake with the CLI, run the real daemon against the Sui and master stand-ins,
// Debian's containerd and the fake-k3s STAND-IN for k3s; register, heartbeats, the token file,
// `status`, and SIGTERM -> exit 0 with nothing left behind.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "daemon_world.hpp"

using namespace std::chrono_literals;
using namespace k3s_daas;
using namespace k3s_daas::test;

namespace {
std::string flag_value(const std::vector<std::string>& argv, const std::string& flag) {
  for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return {};
}
}  // namespace

TEST_CASE(
    "daemon_run_e2e: run registers, heartbeats, starts the fake-k3s stand-in with a 0600 token file, stops on "
    "SIGTERM") {
  K3S_REQUIRE_DAEMON_WORLD();
  DaemonWorld world;
  MESSAGE("staking through the CLI");
  world.stake();
  const std::string metrics_url = "127.0.0.1:" + std::to_string(free_port());
  REQUIRE(world.agent({"config", "set", "metrics.listen", metrics_url}).exit_code == 0);

  auto daemon = world.start_daemon();
  MESSAGE("waiting for register, the fake-k3s stand-in running and 3 heartbeats at the master stand-in");
  REQUIRE(world.wait_running(3));
  auto node = world.node_state();
  CHECK(node["register_count"] == 1);
  CHECK(node["client_cert_cn"] == "worker-1");
  auto beat = node["last_heartbeat"];
  INFO("last heartbeat: " << beat.dump());
  CHECK(beat["stake"]["status"] == 1);
  CHECK(beat["k3s"]["state"] != "unknown");
  CHECK(beat["runtime"]["type"] == "containerd");
  CHECK(beat["runtime"]["version"].is_string());
  CHECK(beat["resources"]["memory_percent"].get<double>() > 0);

  MESSAGE("the fake-k3s stand-in got --token-file (mode 0600), never the token itself");
  auto starts = records_of(read_records(world.dir / "fake-k3s.jsonl"), "start");
  REQUIRE(starts.size() >= 1);
  std::vector<std::string> argv = starts[0]["argv"];
  CHECK(argv[1] == "agent");
  auto token_file = flag_value(argv, "--token-file");
  CHECK(token_file == (world.state / master::kJoinTokenFileName).string());
  CHECK(flag_value(argv, "--node-name") == "worker-1");
  CHECK(flag_value(argv, "--server") == "https://127.0.0.1:6443");  // the master stand-in's default k3s_server_url
  CHECK(starts[0]["token_on_command_line"] == false);
  CHECK(starts[0]["token_file_mode"] == 0600);
  struct stat st {};
  REQUIRE(::stat(token_file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string join_token = node["join_token"];
  for (const auto& a : argv) CHECK(a.find(join_token) == std::string::npos);

  MESSAGE("`k3s-daas status` shows the daemon running");
  auto status = world.agent({"status", "--json"});
  INFO("status: " << status.out << status.err);
  CHECK(status.exit_code == 0);
  auto status_doc = nlohmann::json::parse(status.out);
  CHECK(status_doc["daemon"]["state"] == "running");
  CHECK(status_doc["daemon"]["pid"] == daemon->pid());
  const pid_t k3s_pid = status_doc["daemon"]["k3s"]["pid"];
  CHECK(k3s_pid > 0);

  MESSAGE("heartbeat seq strictly increases");
  auto seq1 = world.node_state()["last_seq"].get<std::uint64_t>();
  REQUIRE(wait_until([&] { return world.node_state()["last_seq"].get<std::uint64_t>() > seq1; }, 10s));

  MESSAGE("/metrics counts the heartbeats and shows the stake");
  auto scrape = run({"curl", "-sS", "--max-time", "10", "http://" + metrics_url + "/metrics"});
  REQUIRE(scrape.exit_code == 0);
  CHECK(scrape.out.find("k3s_daas_heartbeats_sent_total") != std::string::npos);
  CHECK(scrape.out.find("k3s_daas_heartbeats_sent_total 0\n") == std::string::npos);
  CHECK(scrape.out.find("k3s_daas_stake_amount_mist 1000000000") != std::string::npos);
  CHECK(scrape.out.find("k3s_daas_k3s_up 1") != std::string::npos);

  MESSAGE("SIGTERM: orderly stop, exit 0, no children left");
  daemon->signal(SIGTERM);
  auto code = daemon->wait(30s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(world.leftovers(k3s_pid).empty());
  CHECK(world.runtime_status()["state"] == "stopped");
  CHECK_FALSE(std::filesystem::exists(daemon::slash_marker_path(world.state)));
}
