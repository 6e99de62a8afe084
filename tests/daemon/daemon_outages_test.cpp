// daemon_outages: each outside source broken for a long time (compressed by short intervals)
// never starves the others (issue 8), end to end with the real binary, the Sui and master
// stand-ins, Debian's containerd and the fake-k3s STAND-IN for k3s:
// - the chain accepting requests and never answering: the loop keeps its cadence (status file
//   every second), heartbeats keep theirs, k3s is untouched; when the chain answers again the
//   watch resumes and a slash is acted on within poll_interval + 1 s;
// - the master process gone (connection refused) for a long while: k3s keeps running; a new
//   master process on the same address (a new enclave key, no memory of the node) is attested
//   and the node registers again by itself; `master.deregister_on_stop` tells it on SIGTERM.
#include <signal.h>

#include "daemon_world.hpp"

using namespace std::chrono_literals;
using namespace k3s_daas;
using namespace k3s_daas::test;

namespace {

std::string port_of(const std::string& url) { return url.substr(url.rfind(':') + 1); }

}  // namespace

TEST_CASE("daemon_outages: a hung chain stalls neither the loop nor the heartbeats; the watch resumes after it") {
  K3S_REQUIRE_DAEMON_WORLD();
  const unsigned poll_ms = 500;
  DaemonWorld world(poll_ms);
  world.stake();
  auto daemon = world.start_daemon();
  REQUIRE(world.wait_running(1));
  const pid_t k3s_pid = world.runtime_status()["k3s"]["pid"];

  // Only the agent's own reads hang ("query Object" and "query ObjectVersion"); the master
  // stand-in reads stakes with its own query and keeps accepting heartbeats.
  MESSAGE("Sui stand-in: every StakeRecord read by the agent is accepted and never answered");
  admin_post(world.sui_admin + "/fault", {{"kind", "hang"}, {"count", -1}, {"method", "query Object"}});
  const int beats_before = world.heartbeats();
  CHECK(world.status_rewrites(8) == 8);  // 8.8 s: two 3 s request timeouts and more
  const int beats_during = world.heartbeats() - beats_before;
  MESSAGE(beats_during << " heartbeats (interval 1 s) in 8.8 s of a hung chain");
  CHECK(beats_during >= 6);
  auto status = world.runtime_status();
  CHECK(status["chain"]["failing"] == true);
  CHECK(status.value("state", "") == "running");
  CHECK(status["k3s"]["pid"] == k3s_pid);
  CHECK_FALSE(daemon->wait(0ms).has_value());

  MESSAGE("the chain answers again: the watch resumes, then a slash is acted on in time");
  admin_post(world.sui_admin + "/clear-faults", nlohmann::json::object());
  REQUIRE(wait_until([&] { return world.runtime_status()["chain"].value("failing", true) == false; }, 70s));
  const auto detection_ms = world.slash_and_wait_exit(*daemon);
  MESSAGE("slash detected " << detection_ms << " ms after it landed (poll " << poll_ms << " ms)");
  CHECK(detection_ms <= poll_ms + 1000);
}

TEST_CASE("daemon_outages: master gone for long, then back as a new process; deregister_on_stop") {
  K3S_REQUIRE_DAEMON_WORLD();
  DaemonWorld world;
  auto config = nlohmann::json::parse(read_file(world.config_path));
  config["master"]["deregister_on_stop"] = true;
  write_file(world.config_path, config.dump(2), 0600);
  world.stake();
  auto daemon = world.start_daemon();
  REQUIRE(world.wait_running(2));
  const pid_t k3s_pid = world.runtime_status()["k3s"]["pid"];
  const std::string old_key = world.runtime_status()["master"]["enclave_key"];

  MESSAGE("the master process is stopped: connections are refused for 15 s");
  const std::string port = port_of(world.master->url), admin_port = port_of(world.master->admin);
  const std::string old_pcrs[3] = {world.master->pcr0, world.master->pcr1, world.master->pcr2};
  world.master.reset();
  CHECK(world.status_rewrites(14) >= 13);
  auto away = world.runtime_status();
  CHECK(away.value("state", "") == "running");
  CHECK(away["k3s"]["pid"] == k3s_pid);
  CHECK(away["master"].value("failing_since_ms", std::int64_t{0}) > 0);
  CHECK(::kill(k3s_pid, 0) == 0);
  CHECK_FALSE(daemon->wait(0ms).has_value());

  MESSAGE("a new master process on the same address: new enclave key, no memory of the node");
  const auto& chain = world.sui.ready();
  world.master = std::make_unique<MasterPeer>(std::vector<std::string>{
      "--sui-graphql", chain["graphql"].get<std::string>(), "--package-id", chain["package_id"].get<std::string>(),
      "--min-stake", chain["min_stake_mist"].get<std::string>(), "--heartbeat-interval-ms", "1000", "--port", port,
      "--admin-port", admin_port,
      // The same enclave image (the PCRs the worker pins); a new process means a new key.
      "--pcr0", old_pcrs[0], "--pcr1", old_pcrs[1], "--pcr2", old_pcrs[2]});
  REQUIRE(world.master->enclave_key != old_key);
  // Backoff after 15 s away: at most 16 s to the next try (1 s doubling, cap 60 s).
  REQUIRE(world.wait_running(2, 60s));
  auto back = world.runtime_status();
  CHECK(back["master"]["enclave_key"] == world.master->enclave_key);  // attested again, never trusted blind
  CHECK(back["master"].value("reattestations", 0) >= 1);
  CHECK(back["k3s"]["pid"] == k3s_pid);  // k3s was never touched
  CHECK(world.node_state().value("deregistered", true) == false);

  MESSAGE("the master forgets the node (same key): 404 not_registered -> registered again, k3s untouched");
  const int registers = world.master->state()["counters"]["requests"].value("register", 0);
  const int reattestations = back["master"].value("reattestations", 0);
  admin_post(world.master->admin + "/admin/forget-nodes", nlohmann::json::object());
  REQUIRE(wait_until([&] { return world.master->state()["counters"]["requests"].value("register", 0) > registers; }, 20s));
  REQUIRE(wait_until([&] { return world.heartbeats() > 0; }, 10s));  // heartbeats resume on the new record
  auto again = world.runtime_status();
  CHECK(again["master"].value("reattestations", 0) == reattestations);  // the reason, not a new key: no attestation
  CHECK(again["k3s"]["pid"] == k3s_pid);

  MESSAGE("SIGTERM with master.deregister_on_stop: the master is told before the agent exits");
  daemon->signal(SIGTERM);
  REQUIRE(daemon->wait(30s) == std::optional<int>(0));
  auto node = world.node_state();
  CHECK(node.value("deregistered", false) == true);
  CHECK(world.master->state()["counters"]["requests"].value("deregister", 0) == 1);
}

TEST_CASE("daemon_outages: trust rooted on chain; the master moves to new PCRs and a new key, the node follows") {
  K3S_REQUIRE_DAEMON_WORLD();
  DaemonWorld world(300, /*on_chain_trust=*/true);
  world.stake();
  auto daemon = world.start_daemon();
  REQUIRE(world.wait_running(2));
  auto status = world.runtime_status();
  const pid_t k3s_pid = status["k3s"]["pid"];
  const std::string first_enclave = world.master->peer->ready()["sui"]["enclave_id"];
  CHECK(status["master"]["on_chain"]["enclave_id"] == first_enclave);
  auto shown = world.agent({"status"});
  CHECK(shown.out.find("on chain: Enclave " + first_enclave) != std::string::npos);

  MESSAGE("a new enclave build: update_pcrs on chain, a new Enclave for a new key; no config edit");
  auto rotated = admin_post(world.master->admin + "/admin/rotate-key",
                            {{"new_pcrs", {{"pcr0", std::string(96, '4')}, {"pcr1", std::string(96, '5')},
                                           {"pcr2", std::string(96, '6')}}}});
  const std::string new_enclave = rotated["enclave_id"];
  REQUIRE(wait_until([&] {
    auto s = world.runtime_status();
    return s.contains("master") && s["master"].value("on_chain", nlohmann::json()).is_object() &&
           s["master"]["on_chain"].value("enclave_id", "") == new_enclave;
  }, 40s));
  const int beats = world.heartbeats();
  REQUIRE(wait_until([&] { return world.heartbeats() >= beats + 2; }, 20s));  // under the new key
  status = world.runtime_status();
  CHECK(status["master"]["enclave_key"] == rotated["enclave_public_key"]);
  CHECK(status["k3s"]["pid"] == k3s_pid);

  MESSAGE("a key the chain does not vouch for is never trusted: heartbeats stop, k3s stays");
  admin_post(world.master->admin + "/admin/rotate-key", {{"register", false}});
  std::this_thread::sleep_for(6s);
  status = world.runtime_status();
  CHECK(status["master"]["on_chain"]["enclave_id"] == new_enclave);  // still the last vouched-for one
  CHECK(status["master"]["enclave_key"] == rotated["enclave_public_key"]);
  CHECK(status["k3s"]["pid"] == k3s_pid);
  CHECK_FALSE(daemon->wait(0ms).has_value());
  daemon->signal(SIGTERM);
  CHECK(daemon->wait(30s) == std::optional<int>(0));
}
