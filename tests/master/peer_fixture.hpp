#pragma once
// The Nautilus-master stand-in (tests/peers/nautilus-master) for the master tests: one test PKI
// per process, one server per fixture, and client options pointing at it.

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "k3s_daas/master.hpp"
#include "support/support.hpp"

namespace k3s_daas::test {

inline bool master_peer_available() {
  return std::filesystem::exists(source_dir() / "tests/peers/node_modules/@mysten/sui/package.json") &&
         std::filesystem::exists(source_dir() / "tests/peers/nautilus-master/server.mjs");
}

#define K3S_REQUIRE_MASTER_PEER()                                                                     \
  if (!::k3s_daas::test::master_peer_available()) {                                                   \
    MESSAGE("SKIPPED: the Nautilus-master stand-in or its packages are missing (scripts/npm-peers.sh)"); \
    return;                                                                                           \
  }

// One PKI (make-pki.sh) for the whole test process.
inline const std::filesystem::path& test_pki() {
  static TempDir dir;
  static bool made = false;
  if (!made) {
    auto result = run({"bash", (source_dir() / "tests/peers/nautilus-master/make-pki.sh").string(), dir.path().string()});
    if (result.exit_code != 0) throw std::runtime_error("make-pki.sh failed: " + result.err);
    made = true;
  }
  return dir.path();
}

struct MasterPeer {
  std::unique_ptr<Peer> peer;
  std::string url, admin, enclave_key, pcr0, pcr1, pcr2;

  explicit MasterPeer(std::vector<std::string> extra = {"--no-chain-check"}) {
    std::vector<std::string> argv = {"node", (source_dir() / "tests/peers/nautilus-master/server.mjs").string(),
                                     "--pki", test_pki().string(), "--port", "0", "--admin-port", "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    peer = std::make_unique<Peer>(argv);
    const auto& ready = peer->ready();
    url = ready["url"];
    admin = ready["admin"];
    enclave_key = ready["enclave_public_key"];
    pcr0 = ready["pcr0"];
    pcr1 = ready["pcr1"];
    pcr2 = ready["pcr2"];
  }

  nlohmann::json state() const { return admin_get(admin + "/admin/state"); }
  void fault(const std::string& kind, const std::string& endpoint, int count = 1, int ms = -1) const {
    nlohmann::json body = {{"kind", kind}, {"count", count}, {"endpoint", endpoint}};
    if (ms >= 0) body["ms"] = ms;
    auto answer = admin_post(admin + "/admin/fault", body);
    REQUIRE_MESSAGE(answer.contains("queued"), answer.dump());
  }
  void clear_faults() const { admin_post(admin + "/admin/clear-faults", nlohmann::json::object()); }
  void settings(const nlohmann::json& values) const { admin_post(admin + "/admin/settings", values); }

  // Client options for this peer: mutual TLS with the test client certificate, the test Nitro
  // root, the peer's PCRs, no retries and no waiting unless a test asks for them.
  master::MasterClientOptions options(const std::filesystem::path& state_dir) const {
    master::MasterClientOptions o;
    o.url = url;
    o.tls.ca_file = (test_pki() / "tls-ca.pem").string();
    o.tls.cert_file = (test_pki() / "client.pem").string();
    o.tls.key_file = (test_pki() / "client.key").string();
    o.node_id = "worker-1";
    o.agent_version = "0.1.0-test";
    o.state_dir = state_dir;
    o.attestation_root_file = (test_pki() / "nitro-root.pem").string();
    o.attestation.expected_pcrs[0] = *hex_decode(pcr0);
    o.attestation.expected_pcrs[1] = *hex_decode(pcr1);
    o.attestation.expected_pcrs[2] = *hex_decode(pcr2);
    o.attestation.max_age_ms = 300'000;
    o.retry.max_attempts = 1;
    o.retry.initial = std::chrono::milliseconds(20);
    o.wait = [](std::chrono::milliseconds) { return true; };
    o.request_timeout = std::chrono::milliseconds(10000);
    return o;
  }
};

}  // namespace k3s_daas::test
