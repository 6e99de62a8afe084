// master-bench: what trusting and talking to the master costs.
//
//   master-bench attest [--runs N] [--shared DIR]
//     median time to verify each real AWS Nitro document of shared/testdata/attestation
//     (signature, chain, PCRs; at the document's own time), one JSON line per document in the
//     format of bench/master/evervault_verify.mjs, so that attest_compare.sh can set them side by side.
//   master-bench heartbeat [--count N]
//     CPU time per heartbeat against the Nautilus-master stand-in: MasterClient on one kept-alive
//     mutual-TLS connection (getrusage of this process, envelope verification included) versus one
//     `curl --cert` process per heartbeat (getrusage of the children), and bytes on the wire per
//     heartbeat both ways (TCP bytes of the master port, TLS included: the stand-in's /admin/counters).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k3s_daas/attestation.hpp"
#include "k3s_daas/clock.hpp"
#include "k3s_daas/master.hpp"
#include "k3s_daas/seal.hpp"
#include "support/support.hpp"

using namespace k3s_daas;
namespace fsys = std::filesystem;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double cpu_us(int who) {
  rusage usage{};
  ::getrusage(who, &usage);
  auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

std::string arg_value(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 2; i + 1 < argc; ++i) {
    if (argv[i] == name) return argv[i + 1];
  }
  return fallback;
}

int bench_attest(int runs, const fsys::path& shared) {
  const fsys::path dir = shared / "testdata" / "attestation";
  auto manifest = nlohmann::json::parse(test::read_file(dir / "MANIFEST.json"), nullptr, false);
  if (manifest.is_discarded()) {
    std::cerr << "master-bench: no MANIFEST.json under " << dir << " (use --shared DIR)\n";
    return 2;
  }
  auto verifier = attestation::Verifier::aws_root();
  if (!verifier.ok()) {
    std::cerr << verifier.error().message << "\n";
    return 1;
  }
  int failures = 0;
  for (const auto& entry : manifest["documents"]) {
    if (!entry["cose_signature_valid"].get<bool>() || !entry["chain_signatures_valid"].get<bool>() ||
        !entry["all_certs_valid_at_doc_timestamp"].get<bool>()) {
      continue;
    }
    const std::string file = entry["file"];
    auto bytes = attestation::decode_document_text(test::read_file(dir / file));
    if (!bytes.ok()) {
      std::cerr << file << ": " << bytes.error().message << "\n";
      ++failures;
      continue;
    }
    attestation::Policy policy;
    policy.now_ms = entry["timestamp_ms"].get<std::int64_t>();
    for (const char* index : {"0", "1", "2"}) {
      policy.expected_pcrs[static_cast<std::uint32_t>(std::stoul(index))] = *hex_decode(entry["pcrs"][index].get<std::string>());
    }
    policy.allow_debug = true;
    (void)verifier->verify(bytes.value(), policy);  // warm-up
    std::vector<double> times;
    bool ok = true;
    for (int i = 0; i < runs; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      ok = verifier->verify(bytes.value(), policy).ok() && ok;
      auto t1 = std::chrono::steady_clock::now();
      times.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    if (!ok) ++failures;
    char median_text[32];
    std::snprintf(median_text, sizeof median_text, "%.1f", median(times));
    std::cout << nlohmann::json{{"tool", "k3s-daas (OpenSSL 3 + libcbor)"},
                                {"file", file},
                                {"ok", ok},
                                {"us_per_verify_median", std::stod(median_text)}}
                     .dump()
              << std::endl;
  }
  return failures ? 1 : 0;
}

int bench_heartbeat(int count) {
  const fsys::path source = K3S_DAAS_SOURCE_DIR;
  test::TempDir pki;
  auto made = test::run({"bash", (source / "tests/peers/nautilus-master/make-pki.sh").string(), pki.path().string()});
  if (made.exit_code != 0) {
    std::cerr << "make-pki.sh failed: " << made.err << "\n";
    return 1;
  }
  test::Peer peer({"node", (source / "tests/peers/nautilus-master/server.mjs").string(), "--pki", pki.path().string(),
                   "--port", "0", "--admin-port", "0", "--no-chain-check"});
  const auto& ready = peer.ready();
  test::TempDir state;
  master::MasterClientOptions options;
  options.url = ready["url"];
  options.tls.ca_file = (pki / "tls-ca.pem").string();
  options.tls.cert_file = (pki / "client.pem").string();
  options.tls.key_file = (pki / "client.key").string();
  options.node_id = "worker-1";
  options.state_dir = state / "state";
  options.attestation_root_file = (pki / "nitro-root.pem").string();
  for (int i = 0; i < 3; ++i) {
    options.attestation.expected_pcrs[static_cast<std::uint32_t>(i)] =
        *hex_decode(ready["pcr" + std::to_string(i)].get<std::string>());
  }
  options.retry.max_attempts = 1;
  auto client = master::MasterClient::create(options);
  if (!client.ok()) {
    std::cerr << client.error().message << "\n";
    return 1;
  }
  auto key = crypto::Ed25519Keypair::generate();
  if (!key.ok() || !client->attest().ok()) {
    std::cerr << "attestation against the stand-in failed\n";
    return 1;
  }
  seal::IssueOptions issue;
  issue.node_id = "worker-1";
  issue.stake_id = crypto::Address::parse("0x5e").value();
  issue.audience = client->trusted()->enclave_key;
  auto token = seal::issue(key.value(), issue);
  if (!token.ok() || !client->register_worker(token->text, {"bench", "i-bench", "amd64", 1, 1 << 30}).ok()) {
    std::cerr << "register against the stand-in failed\n";
    return 1;
  }
  master::ResourceSampler sampler;
  master::HeartbeatReport report;
  report.stake.stake_id = issue.stake_id.to_hex();
  if (auto r = sampler.sample(); r.ok()) report.resources = r.value();

  const std::string admin = ready["admin"].get<std::string>();
  auto wire = [&]() { return test::admin_get(admin + "/admin/counters")["wire"]; };
  // 1. MasterClient: one kept-alive mutual-TLS connection, every answer verified.
  const auto wire0 = wire();
  const auto connections_before = client->connections_opened();
  double cpu0 = cpu_us(RUSAGE_SELF);
  auto wall0 = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    auto ack = client->heartbeat(token->text, report);
    if (!ack.ok()) {
      std::cerr << "heartbeat failed: " << ack.error().message << "\n";
      return 1;
    }
  }
  double client_cpu = (cpu_us(RUSAGE_SELF) - cpu0) / count;
  double client_wall = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - wall0).count() / count;
  const auto new_connections = client->connections_opened() - connections_before;
  const auto wire1 = wire();

  // 2. One curl process per heartbeat (its own TCP + TLS handshake with the client certificate).
  std::uint64_t seq = client->last_sequence();
  double children0 = cpu_us(RUSAGE_CHILDREN);
  auto curl0 = std::chrono::steady_clock::now();
  int curl_failures = 0;
  for (int i = 0; i < count; ++i) {
    std::string body = master::heartbeat_body("worker-1", ++seq, now_unix_ms(), report).dump();
    auto r = test::run({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cert", (pki / "client.pem").string(),
                        "--key", (pki / "client.key").string(), "--cacert", (pki / "tls-ca.pem").string(), "-X", "POST",
                        "-H", "Content-Type: application/json", "-H", "X-Seal-Token: " + token->text, "--data-binary",
                        body, ready["url"].get<std::string>() + "/api/v1/nodes/heartbeat"});
    if (r.exit_code != 0 || r.out != "200") ++curl_failures;
  }
  double curl_cpu = (cpu_us(RUSAGE_CHILDREN) - children0) / count;
  double curl_wall = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - curl0).count() / count;
  auto server = test::admin_get(ready["admin"].get<std::string>() + "/admin/state");
  const auto wire2 = wire();
  auto per_call = [&](const nlohmann::json& a, const nlohmann::json& b, const char* field) {
    return (b[field].get<double>() - a[field].get<double>()) / count;
  };
  const double client_up = per_call(wire0, wire1, "bytes_in"), client_down = per_call(wire0, wire1, "bytes_out");
  const double curl_up = per_call(wire1, wire2, "bytes_in"), curl_down = per_call(wire1, wire2, "bytes_out");

  std::printf("heartbeats: %d each way against the Nautilus-master stand-in (mutual TLS, P-256)\n", count);
  std::printf("%-44s %14s %14s %12s %10s %10s\n", "", "CPU us/call", "wall us/call", "new conns", "B up/call",
              "B down/call");
  std::printf("%-44s %14.0f %14.0f %12llu %10.0f %10.0f\n", "k3s-daas MasterClient (kept-alive, verified)", client_cpu,
              client_wall, static_cast<unsigned long long>(new_connections), client_up, client_down);
  std::printf("%-44s %14.0f %14.0f %12d %10.0f %10.0f\n", "curl --cert, one process per heartbeat", curl_cpu, curl_wall,
              count, curl_up, curl_down);
  std::printf("ratio (curl / MasterClient) CPU: %.1fx; server TLS handshakes in total: %s; curl failures: %d\n",
              client_cpu > 0 ? curl_cpu / client_cpu : 0.0, server["counters"]["tls_handshakes"].dump().c_str(),
              curl_failures);
  std::cout << nlohmann::json{{"heartbeats", count},
                              {"master_client_cpu_us_per_call", client_cpu},
                              {"master_client_wall_us_per_call", client_wall},
                              {"master_client_new_connections", new_connections},
                              {"curl_cpu_us_per_call", curl_cpu},
                              {"curl_wall_us_per_call", curl_wall},
                              {"curl_failures", curl_failures},
                              {"master_client_bytes_up_per_call", client_up},
                              {"master_client_bytes_down_per_call", client_down},
                              {"curl_bytes_up_per_call", curl_up},
                              {"curl_bytes_down_per_call", curl_down}}
                   .dump()
            << std::endl;
  return curl_failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "attest") {
    int runs = std::stoi(arg_value(argc, argv, "--runs", "50"));
    fsys::path shared = arg_value(argc, argv, "--shared", (fsys::path(K3S_DAAS_SOURCE_DIR) / ".." / "shared").string());
    return bench_attest(std::max(1, runs), shared);
  }
  if (mode == "heartbeat") {
    int count = std::stoi(arg_value(argc, argv, "--count", "200"));
    return bench_heartbeat(std::max(1, count));
  }
  std::cerr << "usage: master-bench attest [--runs N] [--shared DIR]\n"
               "       master-bench heartbeat [--count N]\n";
  return 2;
}
