// The k3s agent command line and environment, the containerd config, options from the config
// file, and the mountinfo parsing teardown relies on. No processes, no root.
#include <doctest/doctest.h>

#include <algorithm>

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
                                       "--node-label",
                                       "k3s-daas/staked=true",
                                       "--node-label",
                                       "zone=a",
                                       "--node-taint",
                                       "dedicated=daas:NoSchedule",
                                       "--kubelet-arg",
                                       "max-pods=50",
                                       "--node-ip",
                                       "10.0.0.2",
                                       "--debug"};
  CHECK(*argv == expected);
  auto docker = rt::k3s_agent_argv(base_options(), {"--docker"});
  REQUIRE(docker.ok());
  CHECK(std::find(docker->begin(), docker->end(), "--docker") != docker->end());
}

TEST_CASE("runtime_k3s_command_line: extra args may not carry a token or override our flags") {
  for (std::string bad :
       {"--token", "--token=K10abc", "-t", "--agent-token", "--token-file", "--server=https://x", "-s", "--node-name",
        "--with-node-id", "--data-dir", "-d", "--container-runtime-endpoint", "--docker"}) {
    CAPTURE(bad);
    auto o = base_options();
    o.extra_args = {"--debug", bad, "value"};
    auto argv = rt::k3s_agent_argv(o, {});
    REQUIRE(!argv.ok());
    CHECK(argv.error().kind == k3s_daas::ErrorKind::kConfig);
    CHECK(argv.error().message.find("k3s.extra_args[1]") != std::string::npos);
  }
  auto relative = base_options();
  relative.binary = "k3s";
  CHECK(!rt::k3s_agent_argv(relative, {}).ok());
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
