#include <doctest/doctest.h>

#include <random>
#include <regex>
#include <string>
#include <vector>

#include "k3s_daas/config.hpp"
#include "support/support.hpp"

using namespace k3s_daas;
using json = nlohmann::json;

namespace {

json valid_doc() {
  auto doc = config::starter_document("worker-1");
  doc["sui"]["rpc_urls"] = {"http://127.0.0.1:9000/graphql"};
  return doc;
}

// All problems of a document, joined.
std::string problems_of(const json& doc) {
  std::string out;
  for (const auto& p : config::validate_document(doc, "config.json")) out += p + "\n";
  return out;
}

std::string load_error(const std::string& text) {
  auto r = config::parse(text, "config.json");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::kConfig);
  return r.error().message;
}

}  // namespace

TEST_CASE("the starter document is valid and loads with defaults") {
  auto loaded = config::parse(config::starter_document("worker-1").dump(), "/etc/k3s-daas/config.json");
  REQUIRE(loaded.ok());
  CHECK(loaded->node_id == "worker-1");
  CHECK(loaded->sui.transport == "graphql");
  CHECK(loaded->sui.min_stake_mist == 1000000000ULL);
  CHECK(loaded->master.seal_token_ttl_s == 3600);
  CHECK(loaded->runtime.type == "containerd");
  CHECK(loaded->metrics.listen == "127.0.0.1:9464");
}

TEST_CASE("a minimal document gets every default") {
  json doc = {{"node_id", "n1"},
              {"sui", {{"rpc_urls", {"https://rpc.example/graphql"}}, {"key_file", "sui.key"}, {"package_id", "0x2"}, {"staking_pool_id", "0xABC"}}},
              {"master", {{"url", "https://m:8443"}, {"ca_file", "ca.pem"}, {"cert_file", "c.pem"}, {"key_file", "c.key"}}}};
  auto loaded = config::parse(doc.dump(), "/opt/agent/config.json");
  REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
  CHECK(loaded->state_dir == "/var/lib/k3s-daas");
  CHECK(loaded->sui.key_file == "/opt/agent/sui.key");  // relative to the config's folder
  CHECK(loaded->master.ca_file == "/opt/agent/ca.pem");
  CHECK(loaded->sui.package_id == "0x0000000000000000000000000000000000000000000000000000000000000002");
  CHECK(loaded->sui.staking_pool_id == "0x0000000000000000000000000000000000000000000000000000000000000abc");
  CHECK(loaded->sui.gas_budget_mist == 50000000);
  CHECK(loaded->k3s.stop_timeout_s == 30);
  CHECK(loaded->log.format == "text");
  CHECK_FALSE(loaded->master.attestation.require_nonce);  // Nautilus's own server puts no nonce
}

TEST_CASE("every key type reports the dotted path, what was expected and what was found") {
  struct Case {
    std::string pointer;
    json value;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"/node_id", "Worker_1", "node_id: expected a Kubernetes node name"},
      {"/node_id", 5, "node_id: expected a string, found a number"},
      {"/node_id", std::string(64, 'a'), "at most 63"},
      {"/state_dir", "", "state_dir: expected a folder"},
      {"/sui/transport", "grpc", "sui.transport: expected \"graphql\" or \"jsonrpc\", found \"grpc\""},
      {"/sui/rpc_urls", json::array(), "sui.rpc_urls: expected at least one endpoint URL"},
      {"/sui/rpc_urls", {"https://ok", "ftp://x"}, "sui.rpc_urls[1]: expected an https:// URL"},
      {"/sui/rpc_urls", {"http://10.0.0.1/graphql"}, "http:// only for loopback"},
      {"/sui/rpc_urls", "https://x", "sui.rpc_urls: expected a list of strings, found a string"},
      {"/sui/rpc_urls", {1}, "sui.rpc_urls[0]: expected a string, found a number"},
      {"/sui/package_id", "0xZZ", "sui.package_id: expected a Sui object id"},
      {"/sui/package_id", "0x" + std::string(65, 'a'), "sui.package_id: expected a Sui object id"},
      {"/sui/module", "9bad", "sui.module: expected a Move identifier"},
      {"/sui/stake_amount_mist", -5, "sui.stake_amount_mist: expected a whole number of 0 or more, found -5"},
      {"/sui/stake_amount_mist", 1.5, "expected a whole number"},
      {"/sui/stake_amount_mist", 1e30, "(too large)"},
      {"/sui/stake_amount_mist", "1000", "expected a whole number, found a string"},
      {"/sui/min_stake_mist", 0, "sui.min_stake_mist: expected an amount in MIST from 1"},
      {"/sui/poll_interval_ms", -1, "sui.poll_interval_ms: expected a whole number of 0 or more, found -1"},
      {"/sui/poll_interval_ms", 5, "sui.poll_interval_ms: expected milliseconds from 100 to 3600000, found 5"},
      {"/sui/request_timeout_ms", 0, "sui.request_timeout_ms: expected milliseconds from 100"},
      {"/master/url", "ftp://m", "master.url: expected an https:// URL"},
      {"/master/url", "http://m:80", "plain http is refused unless master.allow_insecure_http"},
      {"/master/allow_insecure_http", "yes", "master.allow_insecure_http: expected true or false, found a string"},
      {"/master/attestation/pcr0", "abcd", "master.attestation.pcr0: expected 96 hex digits"},
      {"/master/attestation/max_age_s", 0, "master.attestation.max_age_s: expected seconds from 1 to 86400, found 0"},
      {"/master/attestation/allow_debug", 1, "master.attestation.allow_debug: expected true or false"},
      {"/master/attestation/require_nonce", "no", "master.attestation.require_nonce: expected true or false"},
      {"/master/attestation/root_ca_file", 3, "master.attestation.root_ca_file: expected a string or null"},
      {"/master/attestation/enclave_object_id", "nope", "master.attestation.enclave_object_id: expected a Sui object id"},
      {"/master/heartbeat_interval_ms", 10, "master.heartbeat_interval_ms: expected milliseconds from 1000"},
      {"/master/seal_token_ttl_s", 90000, "master.seal_token_ttl_s: expected seconds (at most 24 h)"},
      {"/master/ca_file", nullptr, "master.ca_file: required for mutual TLS"},
      {"/k3s/node_labels", {"no-equals"}, "k3s.node_labels: expected KEY=VALUE labels"},
      {"/k3s/node_taints", {"k=v:Sometimes"}, "k3s.node_taints: expected KEY[=VALUE]:NoSchedule"},
      {"/k3s/extra_args", {"--token=abc"}, "k3s.extra_args: \"--token=abc\" is set by the agent itself"},
      {"/k3s/stop_timeout_s", 0, "k3s.stop_timeout_s: expected seconds from 1 to 3600"},
      {"/runtime/type", "podman", "runtime.type: expected \"containerd\", \"k3s-embedded\" or \"docker\""},
      {"/runtime/socket", "", "runtime.socket: expected a socket path"},
      {"/metrics/listen", "9464", "metrics.listen: expected HOST:PORT"},
      {"/metrics/listen", "127.0.0.1:70000", "expected a port from 1 to 65535"},
      {"/log/level", "loud", "log.level: expected trace, debug"},
      {"/log/format", "xml", "log.format: expected \"text\" or \"json\""},
      {"/sui", "x", "sui: expected an object, found a string"},
  };
  for (const auto& c : cases) {
    auto doc = valid_doc();
    doc[json::json_pointer(c.pointer)] = c.value;
    auto problems = problems_of(doc);
    INFO("pointer: " << c.pointer << " value: " << c.value.dump() << "\nproblems:\n" << problems);
    CHECK(problems.find("config.json: ") != std::string::npos);
    CHECK(problems.find(c.expected) != std::string::npos);
  }
}

TEST_CASE("valid edge values are accepted") {
  auto doc = valid_doc();
  doc["master"]["attestation"]["pcr0"] = std::string(96, 'A');
  doc["sui"]["rpc_urls"] = {"https://a.example/graphql", "http://localhost:9000", "http://[::1]:9000/x"};
  doc["metrics"]["listen"] = "";
  doc["log"]["level"] = "info,sui=debug";
  doc["k3s"]["node_taints"] = {"dedicated=gpu:NoSchedule", "spot:PreferNoSchedule"};
  doc["k3s"]["node_labels"] = {"topology.kubernetes.io/zone=eu-west-1a"};
  doc["master"]["url"] = "http://127.0.0.1:8080";
  doc["master"]["allow_insecure_http"] = true;
  doc["master"]["attestation"]["require_nonce"] = true;
  CHECK(problems_of(doc).empty());
  auto loaded = config::parse(doc.dump(), "/x/config.json");
  REQUIRE(loaded.ok());
  CHECK(loaded->master.attestation.pcr0 == std::string(96, 'a'));
  CHECK(loaded->master.attestation.require_nonce);
  CHECK(config::to_json(*loaded)["master"]["attestation"]["require_nonce"] == true);
}

TEST_CASE("name checks agree with their patterns on random values, and take 1 MB values without a crash") {
  // The patterns the checks used to hand to std::regex_match, which recursed once per character
  // (a 200 kB sui.module, metrics.listen, node label or taint crashed `config validate`).
  const std::regex kNodeName("[a-z0-9]([a-z0-9.-]*[a-z0-9])?");
  const std::regex kIdent("[A-Za-z][A-Za-z0-9_]*");
  const std::regex kListen("(\\[[0-9a-fA-F:]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}");
  const std::regex kLabel("[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?=[A-Za-z0-9._-]*");
  const std::regex kTaint("[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?(=[A-Za-z0-9._-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)");
  const std::vector<std::string> pieces = {"a", "Z", "0", "9", "f", "_", ".", "-", "/", "=", ":", "[", "]", "::1",
                                           "NoSchedule", "PreferNoSchedule", "NoExecute", " ", "9464", "\xc3\xa9"};
  std::mt19937 random(1201);
  auto value = [&] {
    std::string v;
    for (int n = static_cast<int>(random() % 7); n > 0; --n) v += pieces[random() % pieces.size()];
    return v;
  };
  for (int i = 0; i < 1500; ++i) {
    auto doc = valid_doc();
    const std::string name = value(), ident = value(), listen = value(), label = value(), taint = value();
    if (!name.empty()) doc["node_id"] = name;
    doc["sui"]["module"] = ident;
    doc["metrics"]["listen"] = listen;
    doc["k3s"]["node_labels"] = {label};
    doc["k3s"]["node_taints"] = {taint};
    const std::string problems = problems_of(doc);  // one validation for the five values
    auto has = [&problems](const std::string& key) { return problems.find("config.json: " + key + ":") != std::string::npos; };
    INFO("node_id '" << name << "', module '" << ident << "', listen '" << listen << "', label '" << label
                     << "', taint '" << taint << "'");
    if (!name.empty()) CHECK(has("node_id") == !std::regex_match(name, kNodeName));
    CHECK(has("sui.module") == !std::regex_match(ident, kIdent));
    if (!listen.empty() && std::regex_match(listen, kListen)) {
      const auto port = std::stoul(listen.substr(listen.rfind(':') + 1));
      CHECK(has("metrics.listen") == (port == 0 || port > 65535));
    } else {
      CHECK(has("metrics.listen") == !listen.empty());
    }
    CHECK(has("k3s.node_labels") == !std::regex_match(label, kLabel));
    CHECK(has("k3s.node_taints") == !std::regex_match(taint, kTaint));
  }

  const std::string run(1 << 20, 'a');
  auto doc = valid_doc();
  doc["sui"]["module"] = run;
  doc["metrics"]["listen"] = run + ":1";
  doc["k3s"]["node_labels"] = {run + "=b"};
  doc["k3s"]["node_taints"] = {run + "=b:NoSchedule"};
  const auto problems = problems_of(doc);
  CHECK(problems.find("sui.module: expected a Move identifier (a letter, then letters, digits and '_', at most 128") !=
        std::string::npos);
  CHECK(problems.find("metrics.listen") == std::string::npos);  // a long host name is well formed
  CHECK(problems.find("k3s.node_labels") == std::string::npos);
  CHECK(problems.find("k3s.node_taints") == std::string::npos);
  doc["k3s"]["node_labels"] = {run + "=b c"};
  CHECK(problems_of(doc).find("found \"" + std::string(77, 'a') + "...\"") != std::string::npos);  // not 1 MB
  doc["sui"]["module"] = std::string(128, 'm');
  CHECK(problems_of(doc).find("sui.module") == std::string::npos);
}

TEST_CASE("required keys and key sources") {
  auto doc = valid_doc();
  doc.erase("node_id");
  CHECK(problems_of(doc).find("node_id: required") != std::string::npos);
  doc = valid_doc();
  doc["sui"].erase("key_file");
  CHECK(problems_of(doc).find("sui.key_file: required") != std::string::npos);
  doc["sui"]["keystore"] = {{"path", "/root/.sui/sui_config/sui.keystore"}, {"address", "0x12"}};
  CHECK(problems_of(doc).find("sui.keystore.address: expected a Sui address") != std::string::npos);
  doc["sui"]["keystore"]["address"] = "0x" + std::string(64, 'b');
  CHECK(problems_of(doc).empty());
  doc["sui"]["key_file"] = "/k";
  CHECK(problems_of(doc).find("either sui.key_file or sui.keystore") != std::string::npos);
  doc = valid_doc();
  doc["sui"]["stake_amount_mist"] = 5;
  CHECK(problems_of(doc).find("sui.stake_amount_mist: expected at least sui.min_stake_mist") != std::string::npos);
}

TEST_CASE("unknown keys are rejected with a suggestion") {
  auto doc = valid_doc();
  doc["sui"]["rpc_url"] = {"https://x"};
  doc["master"]["attestation"]["pcr_0"] = "";
  doc["wholly_unrelated"] = 1;
  auto problems = problems_of(doc);
  CHECK(problems.find("sui.rpc_url: unknown key (did you mean \"sui.rpc_urls\"?)") != std::string::npos);
  CHECK(problems.find("master.attestation.pcr_0: unknown key (did you mean \"master.attestation.pcr0\"?)") != std::string::npos);
  CHECK(problems.find("wholly_unrelated: unknown key\n") != std::string::npos);
}

TEST_CASE("inline private keys are refused and never echoed") {
  auto doc = valid_doc();
  doc["sui"]["private_key"] = "abcdef";
  auto problems = problems_of(doc);
  CHECK(problems.find("sui.private_key: a private key must not be written in the config") != std::string::npos);
  CHECK(problems.find("abcdef") == std::string::npos);
  doc = valid_doc();
  doc["sui"]["key_file"] = "suiprivkey1qrjq9sg6kj87d7dnkrfkay3g9mjury8aj2vh93zuuugaua6l5cp226c3wf8";
  problems = problems_of(doc);
  CHECK(problems.find("sui.key_file: holds a private key") != std::string::npos);
  CHECK(problems.find("qrjq9sg6") == std::string::npos);
  doc = valid_doc();
  doc["k3s"]["extra_args"] = {"-----BEGIN PRIVATE KEY-----abc"};
  CHECK(problems_of(doc).find("k3s.extra_args[0]: holds a private key") != std::string::npos);
}

TEST_CASE("every problem is listed, not only the first") {
  auto doc = valid_doc();
  doc["node_id"] = "BAD";
  doc["sui"]["transport"] = "x";
  doc["log"]["format"] = "y";
  auto problems = config::validate_document(doc, "config.json");
  CHECK(problems.size() == 3);
}

TEST_CASE("malformed files give a clear error and never crash") {
  CHECK(load_error("").find("config.json: not valid JSON") != std::string::npos);
  CHECK(load_error("{\"node_id\": \"a\"").find("not valid JSON") != std::string::npos);   // truncated
  CHECK(load_error("[1,2]").find("expected a JSON object at the top level, found a list") != std::string::npos);
  CHECK(load_error("{\"node_id\": \"a\", \"node_id\": \"b\"}").find("key \"node_id\" appears twice") != std::string::npos);
  CHECK(load_error("{\"a\": \"\xff\xfe\"}").find("not valid UTF-8") != std::string::npos);
  std::string deep(100000, '[');
  CHECK(load_error("{\"x\":" + deep).find("nested more than 32 levels") != std::string::npos);
  std::string deep_objects;
  for (int i = 0; i < 5000; ++i) deep_objects += "{\"a\":";
  CHECK(load_error(deep_objects).find("nested more than") != std::string::npos);
  CHECK(load_error("{\"sui\": {\"stake_amount_mist\": 123456789012345678901234567890}}").find("too large") != std::string::npos);
  CHECK(load_error("null").find("top level") != std::string::npos);
  CHECK(load_error("{} trailing").find("not valid JSON") != std::string::npos);
}

TEST_CASE("a 10 MB file is refused before parsing") {
  test::TempDir dir;
  std::string big = "{\"node_id\": \"" + std::string(10 << 20, 'a') + "\"}";
  test::write_file(dir / "config.json", big);
  auto r = config::load(dir / "config.json");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::kConfig);
  CHECK(r.error().message.find("more than the 1048576 allowed") != std::string::npos);
}

TEST_CASE("a missing file says how to create one") {
  auto r = config::load("/nonexistent/k3s-daas/config.json");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("config init") != std::string::npos);
}

TEST_CASE("dotted keys: get, set, unset") {
  auto doc = valid_doc();
  CHECK(config::get_key(doc, "sui.rpc_urls[0]").value() == "http://127.0.0.1:9000/graphql");
  CHECK(config::get_key(doc, "master.attestation.max_age_s").value() == 300);
  CHECK_FALSE(config::get_key(doc, "sui.rpc_urls[5]").ok());
  CHECK_FALSE(config::get_key(doc, "nothing.here").ok());
  auto set = config::set_key(doc, "sui.rpc_urls[1]", "https://b");
  REQUIRE(set.ok());
  CHECK((*set)["sui"]["rpc_urls"].size() == 2);
  CHECK_FALSE(config::set_key(doc, "sui.rpc_urls[3]", "https://b").ok());
  CHECK_FALSE(config::set_key(doc, "node_id.x", 1).ok());
  auto unset = config::unset_key(*set, "sui.rpc_urls[0]");
  REQUIRE(unset.ok());
  CHECK((*unset)["sui"]["rpc_urls"][0] == "https://b");
  CHECK_FALSE(config::unset_key(doc, "sui.nothing").ok());
  for (const char* bad : {"", ".", "a..b", "a[", "a[]", "a[x]", "a."}) {
    CHECK_FALSE(config::get_key(doc, bad).ok());
  }
  CHECK(config::parse_cli_value("42") == 42);
  CHECK(config::parse_cli_value("[\"a\"]") == json::array({"a"}));
  CHECK(config::parse_cli_value("hello") == "hello");
  CHECK(config::parse_cli_value("true") == true);
}

TEST_CASE("resolve_path: flag, then environment, then default") {
  ::setenv(config::kPathEnv, "/from/env.json", 1);
  CHECK(config::resolve_path("/from/flag.json") == "/from/flag.json");
  CHECK(config::resolve_path("") == "/from/env.json");
  ::unsetenv(config::kPathEnv);
  CHECK(config::resolve_path("") == config::kDefaultPath);
}

TEST_CASE("edit_file validates before writing; a rejected edit changes nothing") {
  test::TempDir dir;
  auto path = dir / "config.json";
  REQUIRE(config::write_new_file(path, valid_doc(), false).ok());
  auto before = test::read_file(path);
  auto rejected = config::edit_file(path, [](json doc) { return config::set_key(std::move(doc), "sui.transport", "grpc"); });
  REQUIRE_FALSE(rejected.ok());
  CHECK(rejected.error().message.find("not changed") != std::string::npos);
  CHECK(test::read_file(path) == before);
  CHECK_FALSE(std::filesystem::exists(dir / "config.json.bak"));
  REQUIRE(config::edit_file(path, [](json doc) { return config::set_key(std::move(doc), "sui.transport", "jsonrpc"); }).ok());
  CHECK(test::read_file(dir / "config.json.bak") == before);
  CHECK(json::parse(test::read_file(path))["sui"]["transport"] == "jsonrpc");
  CHECK_FALSE(config::write_new_file(path, valid_doc(), false).ok());
  CHECK(config::write_new_file(path, valid_doc(), true).ok());
}

TEST_CASE("docs/config.md documents every key") {
  auto doc = test::read_file(test::source_dir() / "docs/config.md");
  for (const auto& key : config::key_paths()) {
    INFO("key: " << key);
    CHECK(doc.find("`" + key + "`") != std::string::npos);
  }
}
