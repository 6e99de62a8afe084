#pragma once
// End-to-end helpers: the Sui stand-in (tests/peers/sui-devnet) and a worker node driven
// through the real k3s-daas binary (its own key, state folder and config).

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/support.hpp"

namespace k3s_daas::test::sui_e2e {

using nlohmann::json;

// Fails the test with what to do when the Node.js peers are not installed.
inline bool require_peers() {
  auto sdk = source_dir() / "tests/peers/node_modules/@mysten/sui";
  if (!std::filesystem::exists(sdk)) {
    FAIL("tests/peers/node_modules/@mysten/sui is missing: the Sui stand-in needs it; run scripts/npm-peers.sh "
         "(or build the test_peers_npm target) first");
  }
  return true;
}

// The Sui stand-in (fails the test first when its packages are not installed).
class Devnet {
 public:
  explicit Devnet(const std::vector<std::string>& args = {}) : peers_(require_peers()), peer_(start_sui_devnet(args)) {
    admin_ = peer_.ready().at("admin").get<std::string>();
  }
  const json& ready() const { return peer_.ready(); }
  const std::string& admin() const { return admin_; }
  std::vector<std::string> urls(const std::string& transport) const {
    return ready().at(transport + "_urls").get<std::vector<std::string>>();
  }
  int port(std::size_t i = 0) const { return ready().at("ports").at(i).get<int>(); }

  void fund(const std::string& address, std::uint64_t amount_mist, int coins = 1) {
    admin_post(admin_ + "/fund", {{"address", address}, {"amount_mist", std::to_string(amount_mist)}, {"coins", coins}});
  }
  json fault(const json& spec) { return admin_post(admin_ + "/fault", spec); }
  void clear_faults() { admin_post(admin_ + "/clear-faults", json::object()); }
  void advance_epoch(int epochs) { admin_post(admin_ + "/advance-epoch", {{"epochs", epochs}}); }
  json executions(const std::string& sender) { return admin_get(admin_ + "/executions?sender=" + sender).at("executions"); }
  // Executed transactions of `sender` that call `function` (e.g. "stake_for_node").
  int count_calls(const std::string& sender, const std::string& function) {
    int n = 0;
    for (const auto& e : executions(sender)) {
      for (const auto& call : e.at("move_calls")) {
        if (call.get<std::string>().ends_with("::" + function)) ++n;
      }
    }
    return n;
  }

 private:
  bool peers_;
  Peer peer_;
  std::string admin_;
};

struct NodeOptions {
  std::string transport = "graphql";
  std::vector<std::string> urls;  // default: the devnet's first endpoint of the transport
  std::uint64_t fund_mist = 5'000'000'000;
  int coins = 1;
  std::uint64_t request_timeout_ms = 2000;
};

// Runs `body(transport, options)` once over each chain transport (GraphQL, then JSON-RPC), with
// default NodeOptions for that transport; failures name the transport.
template <typename Body>
void for_each_transport(Body&& body) {
  for (const char* transport : {"graphql", "jsonrpc"}) {
    CAPTURE(transport);
    NodeOptions options;
    options.transport = transport;
    body(std::string(transport), options);
  }
}

// One worker: a fresh key (made by `keys generate`), funded, and a config file.
class Node {
 public:
  Node(Devnet& devnet, std::string node_id, NodeOptions options = {}) : node_id_(std::move(node_id)) {
    std::replace(node_id_.begin(), node_id_.end(), '_', '-');  // a Kubernetes node name
    auto generated = run_agent({"keys", "generate", "--out", (dir_ / "sui.key").string(), "--json"});
    REQUIRE_MESSAGE(generated.exit_code == 0, generated.err);
    address_ = json::parse(generated.out).at("address").get<std::string>();
    if (options.fund_mist > 0) devnet.fund(address_, options.fund_mist, options.coins);
    if (options.urls.empty()) options.urls = {devnet.urls(options.transport).at(0)};
    json config = {
        {"node_id", node_id_},
        {"state_dir", (dir_ / "state").string()},
        {"sui",
         {{"transport", options.transport},
          {"rpc_urls", options.urls},
          {"key_file", (dir_ / "sui.key").string()},
          {"package_id", devnet.ready().at("package_id")},
          {"staking_pool_id", devnet.ready().at("staking_pool_id")},
          {"request_timeout_ms", options.request_timeout_ms}}},
        {"master", {{"url", "http://127.0.0.1:9"}, {"allow_insecure_http", true}}},
    };
    write_file(dir_ / "config.json", config.dump(2));
  }

  RunResult run(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    args.insert(args.begin(), {"--config", (dir_ / "config.json").string()});
    RunOptions options;
    options.timeout = timeout;
    auto result = run_agent(args, options);
    MESSAGE("k3s-daas " << args[2] << " -> exit " << result.exit_code << "\n" << result.out << result.err);
    return result;
  }

  const std::string& address() const { return address_; }
  const std::string& node_id() const { return node_id_; }
  std::filesystem::path state_dir() const { return dir_ / "state"; }
  std::filesystem::path config_path() const { return dir_ / "config.json"; }
  std::filesystem::path key_file() const { return dir_ / "sui.key"; }
  std::filesystem::path dir() const { return dir_.path(); }
  std::filesystem::path journal() const { return state_dir() / "sui-journal.json"; }
  bool journal_pending() const {
    if (!std::filesystem::exists(journal())) return false;
    return !json::parse(read_file(journal())).at("pending").is_null();
  }

 private:
  TempDir dir_;
  std::string node_id_;
  std::string address_;
};

}  // namespace k3s_daas::test::sui_e2e
