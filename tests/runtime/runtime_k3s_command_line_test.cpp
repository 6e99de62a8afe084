// The k3s agent command line and environment, the containerd config, options from the config
// file, and the mountinfo parsing teardown relies on. No processes, no root.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

#include "k3s_daas/config.hpp"
#include "k3s_daas/runtime.hpp"
#include "supervisor_test_support.hpp"
#include "support/support.hpp"

namespace rt = k3s_daas::runtime;
namespace t = k3s_daas::test;

namespace {

rt::K3sAgentOptions base_options() {
  rt::K3sAgentOptions o;
  o.binary = "/usr/local/bin/k3s";
  o.server_url = "https://10.0.0.1:6443";
  o.token_file = "/var/lib/k3s-daas/k3s-token";
  o.node_name = "worker-1";
  o.data_dir = "/var/lib/rancher/k3s";
  o.work_dir = "/var/lib/k3s-daas/runtime";
  return o;
}

}  // namespace

TEST_CASE("runtime_k3s_command_line: the agent command line in order, runtime flags included") {
  auto o = base_options();
  o.node_labels = {"k3s-daas/staked=true", "zone=a"};
  o.node_taints = {"dedicated=daas:NoSchedule"};
  o.kubelet_args = {"max-pods=50"};
  o.extra_args = {"--node-ip", "10.0.0.2", "--debug"};
  auto argv =
      rt::k3s_agent_argv(o, {"--container-runtime-endpoint", "unix:///run/k3s-daas/containerd/containerd.sock"});
  REQUIRE(argv.ok());
  std::vector<std::string> expected = {"/usr/local/bin/k3s",
                                       "agent",
                                       "--config",
                                       "/var/lib/k3s-daas/runtime/k3s-config.yaml",
                                       "--server",
                                       "https://10.0.0.1:6443",
                                       "--token-file",
                                       "/var/lib/k3s-daas/k3s-token",
                                       "--node-name",
                                       "worker-1",
                                       "--data-dir",
                                       "/var/lib/rancher/k3s",
                                       "--container-runtime-endpoint",
                                       "unix:///run/k3s-daas/containerd/containerd.sock",
                                       "--node-label=k3s-daas/staked=true",
                                       "--node-label=zone=a",
                                       "--node-taint=dedicated=daas:NoSchedule",
                                       "--kubelet-arg=max-pods=50",
                                       "--node-ip",
                                       "10.0.0.2",
                                       "--debug"};
  CHECK(*argv == expected);
  auto docker = rt::k3s_agent_argv(base_options(), {"--docker"});
  REQUIRE(docker.ok());
  CHECK(std::find(docker->begin(), docker->end(), "--docker") != docker->end());
}

namespace {

// Every spelling k3s v1.34 accepts for a flag the agent sets (issue 13): one or two dashes, the
// value attached or in the next entry, aliases; and the other entries the agent refuses. `entries`
// go into k3s.extra_args as they are; `reason` must appear in the refusal.
struct Smuggle {
  std::vector<std::string> entries;
  std::string names;   // the flag the refusal must name
  std::string reason;  // a piece of the refusal's reason
};

const std::vector<Smuggle>& smuggles() {
  static const std::vector<Smuggle> table = {
      {{"-server=https://evil.example:6443"}, "--server", "from the master's registration"},
      {{"--server=https://evil.example:6443"}, "--server", "from the master's registration"},
      {{"-server", "https://evil.example:6443"}, "--server", "from the master's registration"},
      {{"--s=https://evil.example:6443"}, "--server", "from the master's registration"},
      {{"-s", "https://evil.example:6443"}, "--server", "from the master's registration"},
      {{"--s", "https://evil.example:6443"}, "--server", "from the master's registration"},
      {{"-token-file=/tmp/other"}, "--token-file", "sets the token file itself"},
      {{"--token-file", "/tmp/other"}, "--token-file", "sets the token file itself"},
      {{"--t=K10abc::server:x"}, "--token", "never on a command line"},
      {{"-t", "K10abc"}, "--token", "never on a command line"},
      {{"-token=K10abc"}, "--token", "never on a command line"},
      {{"--token=K10abc"}, "--token", "never on a command line"},
      {{"-node-name=other"}, "--node-name", "node_id"},
      {{"--node-name", "other"}, "--node-name", "node_id"},
      {{"-with-node-id"}, "--with-node-id", "node name"},
      {{"--with-node-id=true"}, "--with-node-id", "node name"},
      {{"--with-node-id=false"}, "--with-node-id", "node name"},
      {{"-docker"}, "--docker", "runtime.type"},
      {{"--docker=1"}, "--docker", "runtime.type"},
      {{"--d", "/srv/other"}, "--data-dir", "k3s.data_dir"},
      {{"-d=/srv/other"}, "--data-dir", "k3s.data_dir"},
      {{"-data-dir=/srv/other"}, "--data-dir", "k3s.data_dir"},
      {{"--container-runtime-endpoint=unix:///run/other.sock"}, "--container-runtime-endpoint", "runtime.socket"},
      {{"-container-runtime-endpoint", "unix:///run/other.sock"}, "--container-runtime-endpoint", "runtime.socket"},
      {{"--image-service-endpoint=unix:///run/other.sock"}, "--image-service-endpoint", "runtime.socket"},
      {{"-c", "/tmp/evil.yaml"}, "--config", "no other k3s config file"},
      {{"--c=/tmp/evil.yaml"}, "--config", "no other k3s config file"},
      {{"-config=/tmp/evil.yaml"}, "--config", "no other k3s config file"},
      {{"--config", "/etc/rancher/k3s/config.yaml"}, "--config", "no other k3s config file"},
      {{"-node-label=k3s-daas/staked=true"}, "--node-label", "k3s.node_labels"},
      {{"--node-taint", "x=y:NoSchedule"}, "--node-taint", "k3s.node_taints"},
      {{"-kubelet-arg=hostname-override=other"}, "--kubelet-arg", "k3s.kubelet_args"},
      {{"--vpn-auth=name=tailscale,joinKey=secret"}, "--vpn-auth", "credential"},
      {{"-h"}, "--help", "print its help"},
      // Where Go would take the entry as the value of the flag before it: refused all the same.
      {{"--node-ip", "-server=https://evil.example:6443"}, "--server", "from the master's registration"},
  };
  return table;
}

}  // namespace

TEST_CASE("runtime_k3s_command_line: every spelling of a reserved flag in extra_args is refused, naming it") {
  for (const auto& smuggle : smuggles()) {
    std::string shown;
    for (const auto& e : smuggle.entries) shown += e + " ";
    CAPTURE(shown);
    auto o = base_options();
    o.extra_args = {"--debug"};
    o.extra_args.insert(o.extra_args.end(), smuggle.entries.begin(), smuggle.entries.end());
    auto argv = rt::k3s_agent_argv(o, {});
    REQUIRE(!argv.ok());
    CHECK(argv.error().kind == k3s_daas::ErrorKind::kConfig);
    const auto& message = argv.error().message;
    CAPTURE(message);
    CHECK(message.rfind("k3s.extra_args: ", 0) == 0);
    std::string refused = smuggle.entries.front() == "--node-ip" ? smuggle.entries.back() : smuggle.entries.front();
    CHECK(message.find("\"" + refused + "\" is set by the agent itself") != std::string::npos);
    CHECK(message.find("names " + smuggle.names) != std::string::npos);
    CHECK(message.find(smuggle.reason) != std::string::npos);
    // The config validator refuses the same entries, so `config set` never stores them.
    auto doc = k3s_daas::config::starter_document("worker-1");
    doc["sui"]["rpc_urls"] = {"http://127.0.0.1:9000/graphql"};
    doc["k3s"]["extra_args"] = o.extra_args;
    std::string problems;
    for (const auto& p : k3s_daas::config::validate_document(doc, "config.json")) problems += p + "\n";
    CHECK(problems.find("k3s.extra_args: ") != std::string::npos);
    CHECK(problems.find("names " + smuggle.names) != std::string::npos);
  }
}

TEST_CASE("runtime_k3s_command_line: other extra_args k3s would misread or refuse are refused with the reason") {
  struct Case {
    std::vector<std::string> args;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {{"--debug", "--", "--node-ip=10.0.0.2"}, "[1] \"--\": ends k3s's flags"},
      {{"--debug", "true"}, "[1] \"true\": is neither a flag nor the value"},
      {{"---server=https://x"}, "[0] \"---server=https://x\": bad flag syntax"},
      {{"-i", "10.0.0.2", "--node-ip", "10.0.0.3"}, "-i and -node-ip are two forms of --node-ip (-i)"},
      {{"--log=/var/log/k3s.log", "-l", "/tmp/x"}, "Cannot use two forms of the same flag"},
      {{"--debug=maybe"}, "--debug takes true or false"},
      {{"--node-ip"}, "[0] \"--node-ip\": needs a value after it"},
      {{"--node-ip=10.0.0.2\n--server=https://x"}, "control character"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.reason);
    auto o = base_options();
    o.extra_args = c.args;
    auto argv = rt::k3s_agent_argv(o, {});
    REQUIRE(!argv.ok());
    CHECK(argv.error().message.rfind("k3s.extra_args[", 0) == 0);
    CHECK(argv.error().message.find(c.reason) != std::string::npos);
  }
  // kubelet_args: passed as --kubelet-arg=<entry>; what would undo the agent's settings is refused.
  for (std::string bad : {"hostname-override=other", "--hostname-override=other", "node-labels=a=b",
                          "register-with-taints=x:NoSchedule", "container-runtime-endpoint=unix:///x",
                          "kubeconfig=/tmp/k", "bootstrap-kubeconfig=/tmp/k", "cert-dir=/tmp", "", "=x", "-v=2",
                          "node-labels+=k3s-daas/staked=false", "--hostname-override-=x", "+=x",
                          "max-pods=50\nhostname-override=x"}) {
    CAPTURE(bad);
    auto o = base_options();
    o.kubelet_args = {"max-pods=50", bad};
    auto argv = rt::k3s_agent_argv(o, {});
    REQUIRE(!argv.ok());
    CHECK(argv.error().message.rfind("k3s.kubelet_args[1] ", 0) == 0);
  }
  auto relative = base_options();
  relative.binary = "k3s";
  CHECK(!rt::k3s_agent_argv(relative, {}).ok());
}

TEST_CASE("runtime_k3s_command_line: legitimate extra_args and kubelet_args pass through unchanged") {
  auto o = base_options();
  o.extra_args = {"--node-ip", "10.0.0.2", "-node-external-ip=203.0.113.7", "--debug", "-v", "2",
                  "--vmodule=agent=4", "--flannel-iface", "eth1", "--resolv-conf=/etc/resolv.conf",
                  "--private-registry", "/etc/rancher/k3s/registries.yaml", "--pause-image=registry.local/pause:3.9",
                  "--kube-proxy-arg", "metrics-bind-address=0.0.0.0", "--lb-server-port=6445",
                  "--image-credential-provider-config=/etc/cp.yaml", "--vpn-auth-file=/etc/vpn-auth",
                  "--enable-pprof", "--protect-kernel-defaults=false", "--selinux", "--snapshotter=native",
                  "--default-runtime=runc", "--node-internal-dns=n.internal", "--bind-address=0.0.0.0"};
  o.kubelet_args = {"max-pods=110", "--eviction-hard=memory.available<100Mi", "kube-reserved=cpu=200m"};
  auto argv = rt::k3s_agent_argv(o, {"--container-runtime-endpoint", "unix:///run/k3s-daas/containerd/containerd.sock"});
  REQUIRE(argv.ok());
  std::vector<std::string> tail(argv->end() - static_cast<std::ptrdiff_t>(o.extra_args.size()), argv->end());
  CHECK(tail == o.extra_args);
  CHECK(std::find(argv->begin(), argv->end(), "--kubelet-arg=--eviction-hard=memory.available<100Mi") != argv->end());
}

namespace {

// Runs fake-k3s (the stand-in that parses as k3s v1.34 does) on argv[1..] and returns its exit
// code and its last record.
struct FakeRun {
  int exit_code = -1;
  std::string err;
  nlohmann::json record;
};

FakeRun run_fake(const std::filesystem::path& dir, std::vector<std::string> argv) {
  static int n = 0;
  auto record_file = dir / ("fake-" + std::to_string(++n) + ".jsonl");
  argv[0] = t::fake_k3s_binary().string();
  t::RunOptions options;
  options.env["FAKE_K3S_MODE"] = "exit-now";
  options.env["FAKE_K3S_NO_CHILD"] = "1";
  options.env["FAKE_K3S_RECORD"] = record_file.string();
  options.unset_env = {"K3S_CONFIG_FILE"};
  auto result = t::run(argv, options);
  FakeRun out;
  out.exit_code = result.exit_code;
  out.err = result.err;
  auto records = t::read_records(record_file);
  if (!records.empty()) out.record = records.front();
  return out;
}

// The agent's own command line for fake-k3s, in `dir`, with the --config file written as
// WorkerNode::start_k3s writes it.
rt::K3sAgentOptions fake_options(const std::filesystem::path& dir) {
  auto o = base_options();
  o.token_file = t::write_token_file(dir);
  o.work_dir = dir / "runtime";
  std::filesystem::create_directories(o.work_dir);
  std::ofstream(rt::k3s_config_file_path(o.work_dir)) << rt::k3s_config_file_content();
  return o;
}

const std::vector<std::string> kContainerdFlags = {"--container-runtime-endpoint",
                                                   "unix:///run/k3s-daas/containerd/containerd.sock"};

}  // namespace

TEST_CASE("runtime_k3s_command_line: the command line the agent builds parses in fake-k3s as in k3s") {
  t::TempDir dir;
  auto o = fake_options(dir.path());
  o.node_labels = {"k3s-daas/staked=true", "zone=a"};
  o.node_taints = {"dedicated=daas:NoSchedule"};
  o.kubelet_args = {"max-pods=50", "--eviction-hard=memory.available<100Mi"};
  o.extra_args = {"--node-ip", "10.0.0.2", "-node-ip=10.0.0.3", "--debug", "-v", "2", "--enable-pprof=false",
                  "--image-credential-provider-config=/etc/cp.yaml", "--vpn-auth-file", "/etc/vpn-auth",
                  "-lb-server-port=6445", "--nonroot-devices"};
  auto argv = rt::k3s_agent_argv(o, kContainerdFlags);
  REQUIRE(argv.ok());
  auto run = run_fake(dir.path(), *argv);
  CAPTURE(run.err);
  REQUIRE(run.exit_code == 0);
  const auto& flags = run.record["flags"];
  CHECK(flags["--server"] == nlohmann::json::array({"https://10.0.0.1:6443"}));
  CHECK(flags["--token-file"] == nlohmann::json::array({o.token_file.string()}));
  CHECK(flags["--node-name"] == nlohmann::json::array({"worker-1"}));
  CHECK(flags["--data-dir"] == nlohmann::json::array({"/var/lib/rancher/k3s"}));
  CHECK(flags["--container-runtime-endpoint"] ==
        nlohmann::json::array({"unix:///run/k3s-daas/containerd/containerd.sock"}));
  CHECK(flags["--node-label"] == nlohmann::json::array({"k3s-daas/staked=true", "zone=a"}));
  CHECK(flags["--node-taint"] == nlohmann::json::array({"dedicated=daas:NoSchedule"}));
  CHECK(flags["--kubelet-arg"] == nlohmann::json::array({"max-pods=50", "--eviction-hard=memory.available<100Mi"}));
  CHECK(flags["--node-ip"] == nlohmann::json::array({"10.0.0.2", "10.0.0.3"}));
  CHECK(flags["--v"] == nlohmann::json::array({"2"}));
  CHECK(flags["--enable-pprof"] == nlohmann::json::array({"false"}));
  CHECK(flags["--nonroot-devices"] == nlohmann::json::array({"true"}));
  CHECK(!flags.contains("--with-node-id"));
  CHECK(!flags.contains("--token"));
  CHECK(run.record["positional"].empty());
  CHECK(run.record["config_file"] == rt::k3s_config_file_path(o.work_dir).string());
  CHECK(run.record["config_file_given"] == true);
  CHECK(run.record["config_file_has_settings"] == false);
  CHECK(run.record["config_dropins_present"] == false);
  CHECK(run.record["token_on_command_line"] == false);
}

TEST_CASE("runtime_k3s_command_line: each refused spelling would have reached k3s (checked with fake-k3s)") {
  // What the agent refuses is not hypothetical: appended to the agent's own command line (as
  // extra_args were before), each one changes what k3s runs with, or makes k3s exit (and the
  // supervisor restart it forever).
  t::TempDir dir;
  auto o = fake_options(dir.path());
  auto own = rt::k3s_agent_argv(o, kContainerdFlags);
  REQUIRE(own.ok());
  auto baseline = run_fake(dir.path(), *own);
  REQUIRE(baseline.exit_code == 0);
  int changed = 0, exited = 0;
  for (const auto& smuggle : smuggles()) {
    auto argv = *own;
    argv.insert(argv.end(), smuggle.entries.begin(), smuggle.entries.end());
    auto run = run_fake(dir.path(), argv);
    std::string shown;
    for (const auto& e : smuggle.entries) shown += e + " ";
    CAPTURE(shown);
    CAPTURE(run.err);
    if (run.exit_code != 0 || run.record.value("event", "") == "help") {
      ++exited;
    } else {
      CHECK(run.record["flags"] != baseline.record["flags"]);
      ++changed;
    }
  }
  CHECK(changed > 20);
  // The two-forms crash loop of the issue, word for word.
  for (const std::string form : {"--s", "--d"}) {
    auto argv = *own;
    argv.insert(argv.end(), {form, "x"});
    auto run = run_fake(dir.path(), argv);
    CHECK(run.exit_code == 1);
    CHECK(run.err.find("Cannot use two forms of the same flag: " + form.substr(2)) != std::string::npos);
  }
  // -server= after ours: the last value wins, k3s would join another server.
  auto argv = *own;
  argv.push_back("-server=https://evil.example:6443");
  auto hijack = run_fake(dir.path(), argv);
  CHECK(hijack.exit_code == 0);
  CHECK(hijack.record["flags"]["--server"] == nlohmann::json::array({"https://evil.example:6443"}));
  MESSAGE("refused spellings: " << changed << " would change k3s's settings, " << exited << " would stop k3s");
}

TEST_CASE("runtime_k3s_command_line: fake-k3s parses like k3s v1.34 (Go flag + urfave/cli v1)") {
  t::TempDir dir;
  auto o = fake_options(dir.path());
  auto own = rt::k3s_agent_argv(o, {});
  REQUIRE(own.ok());
  auto with = [&](std::vector<std::string> more) {
    auto argv = *own;
    argv.insert(argv.end(), more.begin(), more.end());
    return run_fake(dir.path(), argv);
  };
  // Real flags the old stand-in refused, and one it accepted that k3s lacks.
  for (std::string real : {"--image-service-endpoint=unix:///x", "--vpn-auth-file=/etc/v", "--enable-pprof",
                           "-nonroot-devices", "--default-runtime=runc", "--node-external-dns=a.example",
                           "--disable-default-registry-endpoint", "--bind-address=127.0.0.1", "--flannel-cni-conf=/x",
                           "-airgap-extra-registry=r.local", "--prefer-bundled-bin", "--rootless=false",
                           "--alsologtostderr", "-l=/tmp/k3s.log", "--selinux=F"}) {
    CAPTURE(real);
    CHECK(with({real}).exit_code == 0);
  }
  auto from = with({"--node-name-from=hostname"});
  CHECK(from.exit_code == 1);
  CHECK(from.err.find("flag provided but not defined: -node-name-from") != std::string::npos);
  // One or two dashes, value attached or not; lists collect, scalars: last wins.
  auto lists = with({"-node-ip=10.0.0.2", "--node-ip", "10.0.0.3", "-pause-image", "a", "--pause-image=b"});
  REQUIRE(lists.exit_code == 0);
  CHECK(lists.record["flags"]["--node-ip"] == nlohmann::json::array({"10.0.0.2", "10.0.0.3"}));
  CHECK(lists.record["flags"]["--pause-image"] == nlohmann::json::array({"b"}));
  auto bools = with({"-debug=false", "--rootless=0"});
  REQUIRE(bools.exit_code == 0);
  CHECK(bools.record["flags"]["--debug"] == nlohmann::json::array({"false"}));
  CHECK(bools.record["flags"]["--rootless"] == nlohmann::json::array({"false"}));
  auto bad_bool = with({"--debug=maybe"});
  CHECK(bad_bool.exit_code == 1);
  CHECK(bad_bool.err.find("invalid boolean value \"maybe\" for -debug") != std::string::npos);
  auto bad_int = with({"--lb-server-port=many"});
  CHECK(bad_int.exit_code == 1);
  auto syntax = with({"---debug"});
  CHECK(syntax.exit_code == 1);
  CHECK(syntax.err.find("bad flag syntax") != std::string::npos);
  auto missing_value = with({"--node-ip"});
  CHECK(missing_value.exit_code == 1);
  CHECK(missing_value.err.find("flag needs an argument: -node-ip") != std::string::npos);
  // A bool flag does not take the next entry: it stays a positional argument; "--" ends flags.
  auto positional = with({"--debug", "true", "--", "--bogus"});
  REQUIRE(positional.exit_code == 0);
  CHECK(positional.record["positional"] == nlohmann::json::array({"true", "--bogus"}));
  auto two_forms = with({"-i", "10.0.0.2", "--node-ip=10.0.0.3"});
  CHECK(two_forms.exit_code == 1);
  CHECK(two_forms.err.find("Cannot use two forms of the same flag: i node-ip") != std::string::npos);
  auto help = with({"-h"});
  CHECK(help.exit_code == 0);
  CHECK(help.record["event"] == "help");
  // A --config that does not exist stops k3s; without --config the host's file would be used.
  auto no_file = run_fake(dir.path(), {"k3s", "agent", "-c", (dir / "none.yaml").string(), "--server",
                                       "https://10.0.0.1:6443", "--token-file", o.token_file.string()});
  CHECK(no_file.exit_code == 1);
  auto default_config = run_fake(dir.path(), {"k3s", "agent", "--server", "https://10.0.0.1:6443", "--token-file",
                                              o.token_file.string()});
  REQUIRE(default_config.exit_code == 0);
  CHECK(default_config.record["config_file"] == "/etc/rancher/k3s/config.yaml");
  CHECK(default_config.record["config_file_given"] == false);
}

TEST_CASE("runtime_k3s_command_line: the environment is PATH, HOME and what we allow, never a K3S_ variable") {
  auto o = base_options();
  o.extra_env = {"HTTP_PROXY=http://proxy:3128", "NO_PROXY=10.0.0.0/8"};
  auto env = rt::k3s_agent_env(o);
  REQUIRE(env.ok());
  REQUIRE(env->size() == 4);
  CHECK((*env)[0].rfind("PATH=", 0) == 0);
  CHECK((*env)[1].rfind("HOME=", 0) == 0);
  CHECK((*env)[2] == "HTTP_PROXY=http://proxy:3128");
  for (std::string bad : {"K3S_TOKEN=K10x", "K3S_URL=https://x", "NOTIFY_SOCKET=/x", "WATCHDOG_USEC=1", "NOEQUALS"}) {
    CAPTURE(bad);
    auto with_bad = base_options();
    with_bad.extra_env = {bad};
    CHECK(!rt::k3s_agent_env(with_bad).ok());
  }
  CHECK(rt::k3s_notify_socket_path("/var/lib/k3s-daas/runtime") == "/var/lib/k3s-daas/runtime/k3s-agent.notify");
}

TEST_CASE("runtime_k3s_command_line: the containerd config has our root, state and socket; CRI as asked") {
  rt::RuntimeOptions o;
  o.socket = "/run/k3s-daas/containerd/containerd.sock";
  o.root_dir = "/var/lib/k3s-daas/containerd";
  o.k3s_data_dir = "/var/lib/rancher/k3s";
  auto with_cri = rt::containerd_config_toml(o);
  CHECK(with_cri.find("version = 2\n") != std::string::npos);
  CHECK(with_cri.find("root = \"/var/lib/k3s-daas/containerd\"") != std::string::npos);
  CHECK(with_cri.find("state = \"/run/k3s-daas/containerd/state\"") != std::string::npos);
  CHECK(with_cri.find("[grpc]\n  address = \"/run/k3s-daas/containerd/containerd.sock\"") != std::string::npos);
  CHECK(with_cri.find("disabled_plugins") == std::string::npos);
  CHECK(with_cri.find("bin_dir = \"/var/lib/rancher/k3s/data/current/bin\"") != std::string::npos);
  CHECK(with_cri.find("conf_dir = \"/var/lib/rancher/k3s/agent/etc/cni/net.d\"") != std::string::npos);
  o.enable_cri = false;
  o.root_dir = "/tmp/odd \"dir\"";
  auto without = rt::containerd_config_toml(o);
  CHECK(without.find("disabled_plugins = [\"io.containerd.grpc.v1.cri\"]") != std::string::npos);
  CHECK(without.find("grpc.v1.cri\".cni") == std::string::npos);
  CHECK(without.find("root = \"/tmp/odd \\\"dir\\\"\"") != std::string::npos);
}

TEST_CASE("runtime_k3s_command_line: options from the config file") {
  k3s_daas::config::Config c;
  c.node_id = "worker-7";
  c.state_dir = "/var/lib/k3s-daas";
  c.k3s.stop_timeout_s = 12;
  c.k3s.node_labels = {"a=b"};
  auto n = rt::node_options_from_config(c, "https://10.1.1.1:6443", "/var/lib/k3s-daas/k3s-token");
  CHECK(n.runtime.type == "containerd");
  CHECK(n.runtime.socket == "/run/k3s-daas/containerd/containerd.sock");
  CHECK(n.runtime.work_dir == "/var/lib/k3s-daas/runtime");
  CHECK(n.runtime.enable_cri);
  CHECK(n.k3s.node_name == "worker-7");
  CHECK(n.k3s.stop_timeout == std::chrono::seconds(12));
  CHECK(n.k3s.node_labels == std::vector<std::string>{"a=b"});
  CHECK(std::find(n.teardown.unmount_prefixes.begin(), n.teardown.unmount_prefixes.end(), "/var/lib/kubelet") !=
        n.teardown.unmount_prefixes.end());
  c.runtime.type = "docker";
  CHECK(rt::runtime_options_from_config(c).socket == rt::kDockerSocket);
  c.runtime.type = "k3s-embedded";
  CHECK(rt::runtime_options_from_config(c).socket == rt::kK3sEmbeddedSocket);
  c.runtime.type = "podman";
  auto bad = rt::make_runtime(rt::runtime_options_from_config(c), k3s_daas::supervisor::Limits{});
  REQUIRE(!bad.ok());
  CHECK(bad.error().message.find("runtime.type") != std::string::npos);
  c.runtime.type = "k3s-embedded";
  auto embedded = rt::make_runtime(rt::runtime_options_from_config(c), k3s_daas::supervisor::Limits{});
  REQUIRE(embedded.ok());
  CHECK((*embedded)->k3s_flags().empty());
  CHECK((*embedded)->child_name().empty());
}

TEST_CASE("runtime_k3s_command_line: mountinfo parsing and unmount order (deepest first, never the prefix)") {
  const std::string text =
      "22 1 0:21 / /var/lib/kubelet rw,relatime shared:5 - ext4 /dev/vdb rw\n"
      "30 22 0:40 / /var/lib/kubelet/pods/p1/volumes/kubernetes.io~secret/tok rw - tmpfs tmpfs rw\n"
      "31 22 0:41 / /var/lib/kubelet/pods/p1/volumes/kubernetes.io~empty-dir/with\\040space rw - tmpfs tmpfs rw\n"
      "32 22 0:42 / /var/lib/kubelet/pods/p1 rw - tmpfs tmpfs rw\n"
      "33 1 0:43 / /var/lib/kubeletX/other rw - tmpfs tmpfs rw\n"
      "34 32 0:44 / /var/lib/kubelet/pods/p1 rw - tmpfs tmpfs rw\n"
      "40 1 0:45 / /run/k3s/containerd/io.containerd.grpc.v1.cri/sandboxes/abc/shm rw - tmpfs shm rw\n";
  auto mounts = rt::teardown::parse_mountinfo(text);
  REQUIRE(mounts.size() == 7);
  CHECK(mounts[2].mount_point == "/var/lib/kubelet/pods/p1/volumes/kubernetes.io~empty-dir/with space");
  CHECK(mounts[1].fs_type == "tmpfs");
  auto order = rt::teardown::mounts_under(mounts, {"/var/lib/kubelet/", "/run/k3s"});
  std::vector<std::string> points;
  for (const auto& m : order) points.push_back(m.mount_point.string());
  std::vector<std::string> expected = {
      "/var/lib/kubelet/pods/p1/volumes/kubernetes.io~empty-dir/with space",  // depth 8, later line first
      "/var/lib/kubelet/pods/p1/volumes/kubernetes.io~secret/tok",
      "/run/k3s/containerd/io.containerd.grpc.v1.cri/sandboxes/abc/shm",  // depth 7
      "/var/lib/kubelet/pods/p1",                                         // the one stacked on top (id 34) first
      "/var/lib/kubelet/pods/p1",
  };
  CHECK(points == expected);
  CHECK(order[3].id == 34);
}
