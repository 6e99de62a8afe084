#pragma once
// A whole world for `k3s-daas run` tests: the Sui stand-in (tests/peers/sui-devnet), the
// Nautilus-master stand-in checking stakes on that chain (tests/master/peer_fixture.hpp), Debian's
// real containerd under a temp folder, and tests/fake-k3s as the STAND-IN for k3s (through a
// small wrapper script that sets its FAKE_K3S_RECORD, since the agent passes k3s no environment
// of its own). The daemon runs as the real binary with K3S_DAAS_TEST_MODE=1 (docs/daemon.md).

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "k3s_daas/crypto.hpp"
#include "k3s_daas/daemon.hpp"
#include "peer_fixture.hpp"
#include "runtime_test_support.hpp"
#include "supervisor_test_support.hpp"
#include "support/support.hpp"

namespace k3s_daas::test {

#define K3S_REQUIRE_DAEMON_WORLD()                                                    \
  K3S_REQUIRE_MASTER_PEER();                                                          \
  K3S_REQUIRE_CONTAINERD(false);                                                      \
  if (!std::filesystem::exists(source_dir() / "tests/peers/sui-devnet/server.mjs")) { \
    MESSAGE("SKIPPED: tests/peers/sui-devnet is missing");                            \
    return;                                                                           \
  }

struct DaemonWorld {
  TempDir dir;
  std::filesystem::path state = dir / "state";
  NodeLeftoverGuard guard{dir / "state"};
  Peer sui = start_sui_devnet();
  std::string sui_admin = sui.ready()["admin"];
  std::unique_ptr<MasterPeer> master;
  std::filesystem::path config_path = dir / "config.json";
  std::string address;

  // on_chain_trust: the master registers its key in Nautilus objects on the Sui stand-in and the
  // worker's config roots its trust there (protocol.md 3.1) instead of pinning PCRs.
  explicit DaemonWorld(unsigned poll_interval_ms = 300, bool on_chain_trust = false) {
    set_up(poll_interval_ms, on_chain_trust);
  }
  // The Sui stand-in started with extra arguments (e.g. {"--extra-ports", "1"}: more than one
  // endpoint of the same chain, for sui.rpc_urls fail-over).
  DaemonWorld(const std::vector<std::string>& sui_args, unsigned poll_interval_ms)
      : sui(start_sui_devnet(sui_args)) {
    set_up(poll_interval_ms, false);
  }

  void set_up(unsigned poll_interval_ms, bool on_chain_trust) {
    const auto& chain = sui.ready();
    std::vector<std::string> master_args = {
        "--sui-graphql", chain["graphql"].get<std::string>(), "--package-id", chain["package_id"].get<std::string>(),
        "--min-stake", chain["min_stake_mist"].get<std::string>(), "--heartbeat-interval-ms", "1000"};
    if (on_chain_trust) master_args.insert(master_args.end(), {"--sui-admin", sui_admin, "--register-on-start"});
    master = std::make_unique<MasterPeer>(master_args);
    auto key = crypto::Ed25519Keypair::generate();
    REQUIRE(key.ok());
    REQUIRE(crypto::write_key_file(dir / "sui.key", key.value()).ok());
    address = key.value().address().to_hex();
    admin_post(sui_admin + "/fund", {{"address", address}, {"amount_mist", "5000000000"}, {"coins", 2}});

    // fake-k3s (the k3s stand-in) records what it was given; the wrapper only adds that variable.
    write_file(dir / "k3s-wrapper.sh",
               "#!/bin/sh\nFAKE_K3S_RECORD='" + (dir / "fake-k3s.jsonl").string() +
                   "'\nexport FAKE_K3S_RECORD\nexec '" + fake_k3s_binary().string() + "' \"$@\"\n",
               0755);
    nlohmann::json doc = {{"node_id", "worker-1"},
                          {"state_dir", state.string()},
                          {"sui",
                           {{"rpc_urls", {chain["graphql"]}},
                            {"key_file", (dir / "sui.key").string()},
                            {"package_id", chain["package_id"]},
                            {"staking_pool_id", chain["staking_pool_id"]},
                            {"min_stake_mist", std::stoull(chain["min_stake_mist"].get<std::string>())},
                            {"poll_interval_ms", poll_interval_ms},
                            {"request_timeout_ms", 3000}}},
                          {"master",
                           {{"url", master->url},
                            {"ca_file", (test_pki() / "tls-ca.pem").string()},
                            {"cert_file", (test_pki() / "client.pem").string()},
                            {"key_file", (test_pki() / "client.key").string()},
                            {"heartbeat_interval_ms", 1000},
                            {"seal_token_ttl_s", 600},
                            {"attestation",
                             {{"pcr0", master->pcr0},
                              {"pcr1", master->pcr1},
                              {"pcr2", master->pcr2},
                              {"root_ca_file", (test_pki() / "nitro-root.pem").string()}}}}},
                          {"k3s",
                           {{"binary", (dir / "k3s-wrapper.sh").string()},
                            {"data_dir", (state / "k3s").string()},
                            {"stop_timeout_s", 5}}},
                          {"runtime",
                           {{"type", "containerd"},
                            {"socket", (state / "run" / "containerd.sock").string()},
                            {"root_dir", (state / "containerd-root").string()}}},
                          {"metrics", {{"listen", ""}}},
                          {"log", {{"level", "info"}}}};
    if (on_chain_trust) {
      const auto& registered = master->peer->ready().at("sui");
      auto& att = doc["master"]["attestation"];
      att.erase("pcr0");
      att.erase("pcr1");
      att.erase("pcr2");
      att["enclave_config_object_id"] = registered["enclave_config_id"];
      att["enclave_package_id"] = registered["package_id"];
      att["enclave_app_type"] = registered["app_type"];
    }
    write_file(config_path, doc.dump(2), 0600);
  }

  RunResult agent(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    args.insert(args.begin(), {"--config", config_path.string()});
    RunOptions options;
    options.timeout = timeout;
    options.env["K3S_DAAS_TEST_MODE"] = "1";
    return run_agent(args, options);
  }

  void stake(const std::string& amount_mist = "") {
    std::vector<std::string> args = {"stake", "--yes"};
    if (!amount_mist.empty()) args.insert(args.end(), {"--amount", amount_mist});
    auto staked = agent(args);
    INFO("stake: " << staked.out << staked.err);
    REQUIRE(staked.exit_code == 0);
  }

  // The daemon as a child of the test (stderr: the test's output).
  std::unique_ptr<ChildProgram> start_daemon() {
    ::setenv("K3S_DAAS_TEST_MODE", "1", 1);
    return std::make_unique<ChildProgram>(
        std::vector<std::string>{agent_binary().string(), "--config", config_path.string(), "run"});
  }

  // The daemon as a child of the test with its stdout and stderr appended to `log` (the shell
  // execs the agent: the child's pid is the daemon's).
  std::unique_ptr<ChildProgram> start_daemon_logged(const std::filesystem::path& log) {
    ::setenv("K3S_DAAS_TEST_MODE", "1", 1);
    return std::make_unique<ChildProgram>(std::vector<std::string>{
        "/bin/sh", "-c", "exec \"$0\" --config \"$1\" run >>\"$2\" 2>&1", agent_binary().string(),
        config_path.string(), log.string()});
  }

  nlohmann::json node_state() const {
    auto s = master->state();
    for (const auto& n : s["nodes"]) {
      if (n.value("node_id", "") == "worker-1") return n;
    }
    if (s["nodes"].is_object() && s["nodes"].contains("worker-1")) return s["nodes"]["worker-1"];
    return nlohmann::json();
  }
  int heartbeats() const {
    auto n = node_state();
    return n.is_object() ? n.value("heartbeat_count", 0) : 0;
  }

  nlohmann::json runtime_status() const {
    auto path = state / daemon::kRuntimeStatusFile;
    if (!std::filesystem::exists(path)) return nlohmann::json::object();
    auto doc = nlohmann::json::parse(read_file(path), nullptr, false);
    return doc.is_object() ? doc : nlohmann::json::object();
  }

  // How many times the status file was rewritten over `rounds` periods of 1.1 s (the loop
  // rewrites it every second while it turns).
  int status_rewrites(int rounds) const {
    std::int64_t previous = runtime_status().value("updated_at_ms", std::int64_t{0});
    int fresh = 0;
    for (int i = 0; i < rounds; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1100));
      const auto now = runtime_status().value("updated_at_ms", std::int64_t{0});
      if (now > previous) ++fresh;
      previous = now;
    }
    return fresh;
  }

  // Slashes worker-1's whole stake on chain, waits for the daemon to exit 79 and returns how long
  // after the slash landed the agent detected it (from the slashed marker it wrote).
  std::int64_t slash_and_wait_exit(ChildProgram& daemon) const {
    const auto slashed_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
    admin_post(sui_admin + "/slash", {{"node_id", "worker-1"}, {"all", true}, {"reason", "test"}});
    auto code = daemon.wait(std::chrono::seconds(40));
    REQUIRE(code.has_value());
    CHECK(*code == 79);
    auto marker = daemon::read_slash_marker(state);
    REQUIRE(marker.ok());
    REQUIRE(marker->has_value());
    CHECK_FALSE((*marker)->tx_digest.empty());  // the transaction that wrote the slashed version
    return (*marker)->detected_at_ms - slashed_at;
  }

  // Waits until the daemon reports k3s (the fake-k3s stand-in) running and the master counted
  // at least `beats` heartbeats.
  bool wait_running(int beats, std::chrono::milliseconds timeout = std::chrono::seconds(45)) {
    return wait_until([&] { return runtime_status().value("state", "") == "running" && heartbeats() >= beats; },
                      timeout);
  }

  // Processes whose command line names our temp folder (containerd, shims) or that are in the
  // fake-k3s stand-in's process group.
  std::vector<pid_t> leftovers(pid_t k3s_pid) const {
    std::vector<pid_t> out;
    const auto needle = dir.path().string();
    for (const auto& p : supervisor::proc::list_processes()) {
      if (p.state == 'Z') continue;
      bool ours = false;
      for (const auto& a : p.cmdline) {
        if (a.find(needle) != std::string::npos) ours = true;
      }
      if (k3s_pid > 0 && p.pgid == k3s_pid) ours = true;
      if (ours && p.pid != ::getpid()) out.push_back(p.pid);
    }
    return out;
  }
};

}  // namespace k3s_daas::test
