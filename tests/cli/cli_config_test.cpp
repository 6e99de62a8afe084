// The real binary: config commands, --help everywhere, exit codes.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "support/support.hpp"

using namespace k3s_daas;
using json = nlohmann::json;

namespace {

test::RunResult agent(const std::filesystem::path& config, std::vector<std::string> args) {
  args.insert(args.begin(), {"--config", config.string()});
  return test::run_agent(args);
}

}  // namespace

TEST_CASE("config init writes a valid 0600 file and refuses to overwrite") {
  test::TempDir dir;
  auto cfg = dir / "etc" / "config.json";
  auto r = agent(cfg, {"config", "init", "--node-id", "worker-9"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  struct stat st {};
  REQUIRE(::stat(cfg.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(json::parse(test::read_file(cfg))["node_id"] == "worker-9");
  auto again = agent(cfg, {"config", "init"});
  CHECK(again.exit_code == 2);
  CHECK(again.err.find("already exists; pass --force") != std::string::npos);
  CHECK(agent(cfg, {"config", "init", "--force", "--node-id", "w2"}).exit_code == 0);
  CHECK(json::parse(test::read_file(cfg))["node_id"] == "w2");
  CHECK(json::parse(test::read_file(dir / "etc" / "config.json.bak"))["node_id"] == "worker-9");
  auto bad = agent(dir / "c2.json", {"config", "init", "--node-id", "Bad_Name"});
  CHECK(bad.exit_code == 78);
  CHECK(bad.err.find("node_id: expected a Kubernetes node name") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "c2.json"));
}

TEST_CASE("config validate: 0, or 78 with every problem listed; --json form") {
  test::TempDir dir;
  auto cfg = dir / "config.json";
  REQUIRE(agent(cfg, {"config", "init"}).exit_code == 0);
  auto ok = agent(cfg, {"config", "validate"});
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("valid") != std::string::npos);
  auto doc = json::parse(test::read_file(cfg));
  doc["sui"]["transport"] = "carrier-pigeon";
  doc["log"]["level"] = "loud";
  doc["sui"]["rcp_urls"] = json::array();
  test::write_file(cfg, doc.dump());
  auto bad = agent(cfg, {"config", "validate"});
  CHECK(bad.exit_code == 78);
  CHECK(bad.err.find("sui.transport: expected \"graphql\" or \"jsonrpc\", found \"carrier-pigeon\"") != std::string::npos);
  CHECK(bad.err.find("log.level") != std::string::npos);
  CHECK(bad.err.find("did you mean \"sui.rpc_urls\"") != std::string::npos);
  auto bad_json = agent(cfg, {"config", "validate", "--json"});
  CHECK(bad_json.exit_code == 78);
  auto parsed = json::parse(bad_json.out);
  CHECK(parsed["valid"] == false);
  CHECK(parsed["problems"].size() == 3);
  auto missing = agent(dir / "nope.json", {"config", "validate"});
  CHECK(missing.exit_code == 78);
  CHECK(missing.err.find("config init") != std::string::npos);
}

TEST_CASE("K3S_DAAS_CONFIG chooses the file when --config is absent") {
  test::TempDir dir;
  auto cfg = dir / "env.json";
  test::RunOptions options;
  options.env["K3S_DAAS_CONFIG"] = cfg.string();
  REQUIRE(test::run_agent({"config", "init", "--node-id", "envnode"}, options).exit_code == 0);
  auto got = test::run_agent({"config", "get", "node_id"}, options);
  CHECK(got.exit_code == 0);
  CHECK(got.out == "envnode\n");
}

TEST_CASE("config get/set/unset with dotted keys, atomic, .bak kept, mode kept") {
  test::TempDir dir;
  auto cfg = dir / "config.json";
  REQUIRE(agent(cfg, {"config", "init"}).exit_code == 0);
  ::chmod(cfg.c_str(), 0640);
  auto set = agent(cfg, {"config", "set", "sui.rpc_urls[1]", "http://127.0.0.1:9000/graphql"});
  REQUIRE_MESSAGE(set.exit_code == 0, set.err);
  CHECK(agent(cfg, {"config", "get", "sui.rpc_urls[1]"}).out == "http://127.0.0.1:9000/graphql\n");
  CHECK(agent(cfg, {"config", "set", "sui.poll_interval_ms", "2500"}).exit_code == 0);
  CHECK(json::parse(test::read_file(cfg))["sui"]["poll_interval_ms"] == 2500);  // parsed as JSON
  CHECK(agent(cfg, {"config", "set", "k3s.node_labels", "[\"a=b\"]"}).exit_code == 0);
  auto got = agent(cfg, {"config", "get", "k3s.node_labels", "--json"});
  CHECK(json::parse(got.out) == json::array({"a=b"}));
  struct stat st {};
  REQUIRE(::stat(cfg.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  CHECK(std::filesystem::exists(dir / "config.json.bak"));

  auto before = test::read_file(cfg);
  auto rejected = agent(cfg, {"config", "set", "sui.rpc_urls[0]", "ftp://nope"});
  CHECK(rejected.exit_code == 78);
  CHECK(rejected.err.find("sui.rpc_urls[0]: expected an https:// URL") != std::string::npos);
  CHECK(test::read_file(cfg) == before);  // byte for byte
  auto secret = agent(cfg, {"config", "set", "sui.private_key", "suiprivkey1qrjq9sg6kj87d7dnkrfkay3g9mjury8aj2vh93zuuugaua6l5cp226c3wf8"});
  CHECK(secret.exit_code == 78);
  CHECK(secret.err.find("qrjq9sg6") == std::string::npos);
  CHECK(test::read_file(cfg) == before);

  CHECK(agent(cfg, {"config", "unset", "sui.rpc_urls[1]"}).exit_code == 0);
  CHECK(json::parse(test::read_file(cfg))["sui"]["rpc_urls"].size() == 1);
  auto unset_required = agent(cfg, {"config", "unset", "node_id"});
  CHECK(unset_required.exit_code == 78);
  CHECK(unset_required.err.find("node_id: required") != std::string::npos);
  CHECK(agent(cfg, {"config", "unset", "no.such"}).exit_code == 1);
  CHECK(agent(cfg, {"config", "get", "bad[key"}).exit_code == 2);
}

TEST_CASE("config show prints the effective config with defaults and without secrets") {
  test::TempDir dir;
  auto cfg = dir / "config.json";
  REQUIRE(agent(cfg, {"config", "init"}).exit_code == 0);
  REQUIRE(agent(cfg, {"config", "set", "sui.rpc_urls[0]", "https://user:hunter2pass@rpc.example/graphql?key=abc"}).exit_code == 0);
  REQUIRE(agent(cfg, {"config", "unset", "k3s"}).exit_code == 0);
  auto show = agent(cfg, {"config", "show"});
  REQUIRE_MESSAGE(show.exit_code == 0, show.err);
  auto doc = json::parse(show.out);
  CHECK(doc["k3s"]["stop_timeout_s"] == 30);  // default filled in
  CHECK(show.out.find("hunter2pass") == std::string::npos);
  CHECK(show.out.find("key=abc") == std::string::npos);
  CHECK(doc["sui"]["rpc_urls"][0] == "https://rpc.example/graphql");
}

TEST_CASE("--help on every command, usage errors exit 2") {
  std::vector<std::vector<std::string>> commands = {
      {},          {"run"},     {"stake"},  {"unstake"},  {"status"},   {"config"},  {"config", "init"},
      {"config", "show"}, {"config", "get"}, {"config", "set"}, {"config", "unset"}, {"config", "validate"},
      {"keys"},    {"keys", "generate"}, {"keys", "import"}, {"keys", "show"}, {"seal-token"},
      {"seal-token", "issue"}, {"seal-token", "verify"}, {"attest"}, {"slashing"}, {"slashing", "status"},
      {"slashing", "clear"}, {"version"}};
  for (auto args : commands) {
    args.push_back("--help");
    auto r = test::run_agent(args);
    INFO("args: " << args.size() << " " << (args.size() > 1 ? args[0] : ""));
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("Usage") != std::string::npos);
  }
  CHECK(test::run_agent({}).exit_code == 2);
  CHECK(test::run_agent({"no-such-command"}).exit_code == 2);
  CHECK(test::run_agent({"config", "set", "only-key"}).exit_code == 2);
  auto level = test::run_agent({"--log-level", "loud", "version"});
  CHECK(level.exit_code == 2);
  CHECK(level.err.find("unknown level 'loud'") != std::string::npos);
}

TEST_CASE("version prints version, revision and libraries; --json too") {
  auto r = test::run_agent({"version", "--json"});
  REQUIRE(r.exit_code == 0);
  auto doc = json::parse(r.out);
  CHECK(doc["version"] == "0.1.0");
  CHECK(doc["libraries"].contains("openssl"));
  CHECK(doc["libraries"].contains("libsodium"));
}

TEST_CASE("the shipped example config validates") {
  auto r = test::run_agent({"--config", (test::source_dir() / "config/config.example.json").string(), "config", "validate"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
}
