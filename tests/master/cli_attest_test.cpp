// `k3s-daas attest` (interface.md): the real binary on the real documents and on the master
// stand-in.
#include <doctest/doctest.h>

#include "peer_fixture.hpp"
#include "testdata.hpp"

using namespace k3s_daas;
using namespace k3s_daas::test;

namespace {

RunOptions no_config() {
  RunOptions options;
  options.unset_env = {"K3S_DAAS_CONFIG"};
  return options;
}

std::vector<std::string> pcr_args(const SampleDocument& sample) {
  std::vector<std::string> args;
  for (const char* index : {"0", "1", "2"}) {
    args.push_back("--pcr");
    args.push_back(std::string(index) + "=" + sample.manifest["pcrs"][index].get<std::string>());
  }
  return args;
}

}  // namespace

TEST_CASE("attest --file: every valid sample at its own time, with its PCRs; exit codes and reasons") {
  K3S_REQUIRE_SHARED();
  for (const auto& sample : sample_documents()) {
    CAPTURE(sample.file);
    const std::string path = (attestation_testdata() / sample.file).string();
    std::vector<std::string> args = {"attest", "--file", path, "--at", std::to_string(sample.timestamp_ms), "--json"};
    auto pcrs = pcr_args(sample);
    args.insert(args.end(), pcrs.begin(), pcrs.end());
    if (sample.debug) args.push_back("--allow-debug");
    auto result = run_agent(args, no_config());
    if (!sample.cose_valid) {
      CHECK(result.exit_code == 1);
      CHECK(result.err.find("'cose_signature'") != std::string::npos);
      continue;
    }
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    auto doc = nlohmann::json::parse(result.out);
    CHECK(doc["valid"] == true);
    CHECK(doc["module_id"] == sample.manifest["module_id"]);
    CHECK(doc["timestamp_ms"] == sample.timestamp_ms);
    CHECK(doc["pcrs"]["0"] == sample.manifest["pcrs"]["0"]);
    CHECK(doc["public_key"] == sample.manifest["public_key_hex"]);
    CHECK(doc["user_data"] == sample.manifest["user_data_hex"]);
    CHECK(doc["nonce"] == sample.manifest["nonce_hex"]);
    CHECK(doc["root"]["aws"] == true);
    CHECK(doc["pcrs_checked"] == 3);

    // The real clock: expired.
    auto now = run_agent({"attest", "--file", path}, no_config());
    CHECK(now.exit_code == 1);
    CHECK(now.err.find("'expired'") != std::string::npos);
    // A wrong PCR.
    std::string wrong = sample.manifest["pcrs"]["2"].get<std::string>();
    wrong[0] = wrong[0] == 'f' ? 'e' : 'f';
    std::vector<std::string> wrong_args = {"attest", "--file", path, "--at", std::to_string(sample.timestamp_ms),
                                           "--pcr", "2=" + wrong, "--allow-debug", "--json"};
    auto mismatch = run_agent(wrong_args, no_config());
    CHECK(mismatch.exit_code == 1);
    auto failure = nlohmann::json::parse(mismatch.out);
    CHECK(failure["valid"] == false);
    CHECK(failure["check"] == "pcrs");
    // Debug-mode documents need --allow-debug.
    if (sample.debug) {
      auto refused = run_agent({"attest", "--file", path, "--at", std::to_string(sample.timestamp_ms)}, no_config());
      CHECK(refused.exit_code == 1);
      CHECK(refused.err.find("'debug_mode'") != std::string::npos);
    }
  }
  // Text form, and --max-age.
  auto samples = sample_documents();
  const auto& weather = samples.front();
  const std::string path = (attestation_testdata() / weather.file).string();
  auto text = run_agent({"attest", "--file", path, "--at", std::to_string(weather.timestamp_ms)}, no_config());
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find("attestation document: valid") != std::string::npos);
  CHECK(text.out.find("module_id:   " + weather.manifest["module_id"].get<std::string>()) != std::string::npos);
  CHECK(text.out.find("public_key:  " + weather.manifest["public_key_hex"].get<std::string>()) != std::string::npos);
  CHECK(text.out.find("no PCRs were checked") != std::string::npos);
  auto old = run_agent({"attest", "--file", path, "--at", std::to_string(weather.timestamp_ms + 600'000), "--max-age", "300"},
                       no_config());
  CHECK(old.exit_code == 1);
  CHECK(old.err.find("'freshness'") != std::string::npos);
  // Usage errors.
  CHECK(run_agent({"attest"}, no_config()).exit_code == 2);
  CHECK(run_agent({"attest", "--file", path, "--pcr", "0=xyz"}, no_config()).exit_code == 2);
  CHECK(run_agent({"attest", "--file", path, "--url", "https://x"}, no_config()).exit_code == 2);
}

TEST_CASE("attest --url: the master stand-in, with the config's TLS settings and test root") {
  K3S_REQUIRE_MASTER_PEER();
  MasterPeer peer;
  TempDir dir;
  nlohmann::json config = {
      {"node_id", "worker-1"},
      {"state_dir", (dir / "state").string()},
      {"sui",
       {{"rpc_urls", {"http://127.0.0.1:9/graphql"}},
        {"key_file", (dir / "sui.key").string()},
        {"package_id", "0x7"},
        {"staking_pool_id", "0x8"}}},
      {"master",
       {{"url", peer.url},
        {"ca_file", (test_pki() / "tls-ca.pem").string()},
        {"cert_file", (test_pki() / "client.pem").string()},
        {"key_file", (test_pki() / "client.key").string()},
        {"attestation",
         {{"pcr0", peer.pcr0}, {"pcr1", peer.pcr1}, {"pcr2", peer.pcr2}, {"root_ca_file", (test_pki() / "nitro-root.pem").string()}}}}}};
  write_file(dir / "config.json", config.dump(2), 0600);
  auto result = run_agent({"--config", (dir / "config.json").string(), "attest", "--url", peer.url, "--json"});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  auto doc = nlohmann::json::parse(result.out);
  CHECK(doc["public_key"] == peer.enclave_key);
  CHECK(doc["nonce"].get<std::string>().size() == 64);
  CHECK(doc["pcrs_checked"] == 3);
  CHECK(doc["root"]["aws"] == false);

  peer.fault("attestation_wrong_nonce", "attestation");
  auto replayed = run_agent({"--config", (dir / "config.json").string(), "attest", "--url", peer.url});
  CHECK(replayed.exit_code == 1);
  CHECK(replayed.err.find("'nonce'") != std::string::npos);
  // Without the config's CA the server is not trusted.
  auto untrusted = run_agent({"attest", "--url", peer.url}, no_config());
  CHECK(untrusted.exit_code == 1);

  // The client key goes by the rules `run` applies: a copy readable by others is refused, naming
  // the setting and the file, before anything is sent (it used to go to curl unchecked).
  const auto loose = dir / "client-loose.key";
  write_file(loose, read_file(test_pki() / "client.key"), 0644);
  config["master"]["key_file"] = loose.string();
  write_file(dir / "config.json", config.dump(2), 0600);
  auto refused = run_agent({"--config", (dir / "config.json").string(), "attest", "--url", peer.url});
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("master.key_file") != std::string::npos);
  CHECK(refused.err.find("mode 0644") != std::string::npos);
}
