// Trust rooted on chain (protocol.md 3.1, issue 9), end to end: the Sui stand-in serves Mysten
// Nautilus's EnclaveConfig<T> and Enclave<T> objects, created by executing the same calls a
// Nautilus deployment makes (publish, create config, register_enclave with an attestation
// document); the master stand-in registers its key there and can rotate to a new key (and new
// PCRs). The agent's MasterClient (options from a config without local PCRs) and `k3s-daas attest`
// must trust exactly the enclave the chain vouches for.
#include <doctest/doctest.h>

#include "k3s_daas/config.hpp"
#include "k3s_daas/crypto.hpp"
#include "k3s_daas/master.hpp"
#include "peer_fixture.hpp"

using namespace k3s_daas;
using namespace k3s_daas::master;
using namespace k3s_daas::test;

namespace {

std::string random_pcr(char c) { return std::string(96, c); }

struct EnclaveWorld {
  Peer sui = start_sui_devnet();
  std::string sui_admin = sui.ready()["admin"];
  std::unique_ptr<MasterPeer> master;
  nlohmann::json registered;  // the master's register-on-sui answer
  TempDir dir;
  std::filesystem::path config_path = dir / "config.json";

  EnclaveWorld() {
    master = std::make_unique<MasterPeer>(std::vector<std::string>{
        "--no-chain-check", "--sui-admin", sui_admin, "--register-on-start"});
    registered = master->peer->ready().at("sui");
    REQUIRE_MESSAGE(registered.contains("enclave_id"), registered.dump());
    write_config({});
  }

  // The config: PCRs from chain (none local) unless `attestation` overrides keys.
  void write_config(const nlohmann::json& attestation) {
    if (!std::filesystem::exists(dir / "sui.key")) {
      auto key = crypto::Ed25519Keypair::generate();
      REQUIRE(crypto::write_key_file(dir / "sui.key", key.value()).ok());
    }
    nlohmann::json att = {{"root_ca_file", (test_pki() / "nitro-root.pem").string()},
                          {"enclave_config_object_id", registered["enclave_config_id"]},
                          {"enclave_package_id", registered["package_id"]},
                          {"enclave_app_type", registered["app_type"]}};
    for (const auto& [k, v] : attestation.items()) att[k] = v;
    nlohmann::json doc = {
        {"node_id", "worker-1"},
        {"state_dir", (dir / "state").string()},
        {"sui",
         {{"rpc_urls", {sui.ready()["graphql"]}},
          {"key_file", (dir / "sui.key").string()},
          {"package_id", sui.ready()["package_id"]},
          {"staking_pool_id", sui.ready()["staking_pool_id"]},
          {"request_timeout_ms", 2000}}},
        {"master",
         {{"url", master->url},
          {"ca_file", (test_pki() / "tls-ca.pem").string()},
          {"cert_file", (test_pki() / "client.pem").string()},
          {"key_file", (test_pki() / "client.key").string()},
          {"attestation", att}}}};
    write_file(config_path, doc.dump(2), 0600);
  }

  Result<TrustedMaster> attest() {
    auto config = config::load(config_path);
    REQUIRE_MESSAGE(config.ok(), config.error().message);
    auto options = MasterClientOptions::from_config(*config, "0.1.0-test");
    REQUIRE_MESSAGE(options.ok(), options.error().message);
    REQUIRE(options->cross_check);
    options->retry.max_attempts = 1;
    auto client = MasterClient::create(std::move(options).value());
    REQUIRE_MESSAGE(client.ok(), client.error().message);
    return client->attest();
  }

  RunResult attest_cli() { return run_agent({"--config", config_path.string(), "--json", "attest", "--url", master->url}); }
};

void check_refused(const Result<TrustedMaster>& trusted, const std::string& expected) {
  REQUIRE_FALSE(trusted.ok());
  INFO(trusted.error().message);
  CHECK(trusted.error().message.find(expected) != std::string::npos);
  CHECK_FALSE(trusted.error().transient());
}

}  // namespace

TEST_CASE("enclave on chain: trusted, followed through a PCR update, and every look-alike refused") {
  K3S_REQUIRE_MASTER_PEER();
  EnclaveWorld w;
  const std::string first_enclave = w.registered["enclave_id"];

  MESSAGE("happy path: PCRs and key from chain, no PCRs in the config");
  auto trusted = w.attest();
  REQUIRE_MESSAGE(trusted.ok(), trusted.error().message);
  REQUIRE(trusted->on_chain.has_value());
  CHECK(trusted->on_chain->enclave_id == first_enclave);
  CHECK(trusted->on_chain->enclave_config_id == w.registered["enclave_config_id"]);
  auto cli = w.attest_cli();
  INFO("attest: " << cli.out << cli.err);
  REQUIRE(cli.exit_code == 0);
  auto shown = nlohmann::json::parse(cli.out);
  CHECK(shown["on_chain"]["trusted"] == true);
  CHECK(shown["on_chain"]["enclave_id"] == first_enclave);

  MESSAGE("over JSON-RPC: the objects read with showBcs; the Enclave must be named (no listing by type)");
  w.write_config({{"enclave_object_id", first_enclave}});
  auto doc = nlohmann::json::parse(read_file(w.config_path));
  doc["sui"]["transport"] = "jsonrpc";
  doc["sui"]["rpc_urls"] = {w.sui.ready()["jsonrpc"]};
  write_file(w.config_path, doc.dump(2), 0600);
  trusted = w.attest();
  REQUIRE_MESSAGE(trusted.ok(), trusted.error().message);
  CHECK(trusted->on_chain->enclave_id == first_enclave);
  doc["master"]["attestation"].erase("enclave_object_id");
  write_file(w.config_path, doc.dump(2), 0600);
  auto refused = config::load(w.config_path);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("enclave_object_id: required with sui.transport \"jsonrpc\"") != std::string::npos);

  MESSAGE("the configured PCRs must agree with the chain's too");
  w.write_config({{"pcr0", random_pcr('a')}, {"pcr1", w.master->pcr1}, {"pcr2", w.master->pcr2}});
  check_refused(w.attest(), "PCR0 is");  // the document check names the configured PCR first

  MESSAGE("wrong type argument: the objects are EnclaveConfig<T> of another T");
  const std::string pkg = w.registered["package_id"];
  w.write_config({{"enclave_app_type", pkg + "::other_app::OTHER_APP"}});
  check_refused(w.attest(), "expected " + pkg + "::enclave::EnclaveConfig<" + pkg + "::other_app::OTHER_APP>");

  MESSAGE("look-alike package: same module and struct names, another package");
  auto lookalike = admin_post(w.sui_admin + "/enclave/publish", nlohmann::json::object());
  const std::string fake_pkg = lookalike["package_id"];
  REQUIRE(fake_pkg != pkg);
  auto fake_config = admin_post(w.sui_admin + "/enclave/config",
                                {{"package_id", fake_pkg}, {"app_type", w.registered["app_type"]},
                                 {"pcr0", w.master->pcr0}, {"pcr1", w.master->pcr1}, {"pcr2", w.master->pcr2}});
  auto fake_enclave = admin_post(w.sui_admin + "/enclave/register",
                                 {{"config_id", fake_config["config_id"]}, {"pk_hex", w.master->enclave_key}});
  w.write_config({{"enclave_config_object_id", fake_config["config_id"]}});
  check_refused(w.attest(), "has type " + fake_pkg + "::enclave::EnclaveConfig<");
  w.write_config({{"enclave_object_id", fake_enclave["enclave_id"]}});
  check_refused(w.attest(), "has type " + fake_pkg + "::enclave::Enclave<");

  MESSAGE("an old Enclave: update_pcrs moved the config on (same PCRs), the Enclave stays behind");
  auto updated = admin_post(w.sui_admin + "/enclave/update-pcrs",
                            {{"config_id", w.registered["enclave_config_id"]}, {"pcr0", w.master->pcr0},
                             {"pcr1", w.master->pcr1}, {"pcr2", w.master->pcr2}});
  w.write_config({});
  check_refused(w.attest(), "config_version differs");
  w.write_config({{"enclave_object_id", first_enclave}});
  check_refused(w.attest(), "config_version differs");
  cli = w.attest_cli();
  CHECK(cli.exit_code != 0);
  shown = nlohmann::json::parse(cli.out);
  CHECK(shown["on_chain"]["trusted"] == false);
  CHECK(shown["on_chain"]["reason"].get<std::string>().find("config_version differs") != std::string::npos);

  MESSAGE("new PCRs on chain and a new Enclave for a new key: followed without a config edit");
  auto rotated = admin_post(w.master->admin + "/admin/rotate-key",
                            {{"new_pcrs", {{"pcr0", random_pcr('1')}, {"pcr1", random_pcr('2')}, {"pcr2", random_pcr('3')}}}});
  REQUIRE_MESSAGE(rotated.contains("enclave_id"), rotated.dump());
  w.write_config({});
  trusted = w.attest();
  REQUIRE_MESSAGE(trusted.ok(), trusted.error().message);
  CHECK(trusted->on_chain->enclave_id == rotated["enclave_id"]);
  CHECK(trusted->on_chain->config_version > updated["version"].get<std::uint64_t>());
  CHECK(hex_encode(trusted->enclave_key) == rotated["enclave_public_key"]);

  MESSAGE("a key that matches no Enclave: the master rotates without registering");
  admin_post(w.master->admin + "/admin/rotate-key", {{"register", false}});
  check_refused(w.attest(), "is held by no ");

  MESSAGE("the chain unreachable during (re-)attestation: a transient error, never trusted blind");
  admin_post(w.master->admin + "/admin/rotate-key", nlohmann::json::object());  // registered again
  admin_post(w.sui_admin + "/fault", {{"kind", "http500"}, {"count", -1}});
  auto blind = w.attest();
  REQUIRE_FALSE(blind.ok());
  CHECK(blind.error().transient());
  CHECK(blind.error().message.find("cannot read EnclaveConfig") != std::string::npos);
  admin_post(w.sui_admin + "/clear-faults", nlohmann::json::object());
  trusted = w.attest();  // retried once the chain answers
  REQUIRE_MESSAGE(trusted.ok(), trusted.error().message);
}

TEST_CASE("enclave on chain: config keys are checked together") {
  TempDir dir;
  auto path = dir / "config.json";
  nlohmann::json doc = {{"node_id", "worker-1"},
                        {"sui", {{"key_file", "/x/sui.key"}, {"package_id", "0x2"}, {"staking_pool_id", "0x3"}}},
                        {"master", {{"url", "https://127.0.0.1:1"}, {"ca_file", "/a"}, {"cert_file", "/b"}, {"key_file", "/c"},
                                    {"attestation", {{"enclave_config_object_id", "0x5"}}}}}};
  write_file(path, doc.dump(), 0600);
  auto loaded = config::load(path);
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().message.find("master.attestation.enclave_package_id: required with") != std::string::npos);
  CHECK(loaded.error().message.find("master.attestation.enclave_app_type: required with") != std::string::npos);
  doc["master"]["attestation"] = {{"enclave_object_id", "0x6"}};
  write_file(path, doc.dump(), 0600);
  loaded = config::load(path);
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().message.find("enclave_config_object_id: required with") != std::string::npos);
  doc["master"]["attestation"] = {{"enclave_config_object_id", "0x5"}, {"enclave_package_id", "0x7"},
                                  {"enclave_app_type", "not a type"}};
  write_file(path, doc.dump(), 0600);
  loaded = config::load(path);
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().message.find("master.attestation.enclave_app_type") != std::string::npos);
}
