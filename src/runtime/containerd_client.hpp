#pragma once
// A small client of containerd's gRPC API (Version, Tasks, Containers) over its unix socket,
// through the stubs generated at build time. Every call has a deadline; namespaced calls carry
// the `containerd-namespace` metadata. Not thread-safe: one per thread (the supervisor's).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "k3s_daas/result.hpp"

namespace k3s_daas::runtime {

struct ContainerdTask {
  std::string id;  // the container id
  std::uint32_t pid = 0;
  int status = 0;  // containerd.v1.types.Status: 1 created, 2 running, 3 stopped, 4 paused, 5 pausing
  std::string status_name;
};

struct ContainerdVersion {
  std::string version;
  std::string revision;
};

class ContainerdClient {
 public:
  ContainerdClient(std::string socket_path, std::chrono::milliseconds timeout);
  ~ContainerdClient();
  ContainerdClient(const ContainerdClient&) = delete;
  ContainerdClient& operator=(const ContainerdClient&) = delete;

  // Drops the channel; the next call connects afresh (after containerd restarted).
  void reset();
  const std::string& socket_path() const { return socket_path_; }

  Result<ContainerdVersion> version();
  Result<std::vector<ContainerdTask>> list_tasks(const std::string& ns);
  Status kill_task(const std::string& ns, const std::string& id, std::uint32_t signal_number, bool all);
  Status delete_task(const std::string& ns, const std::string& id);
  Result<std::vector<std::string>> list_containers(const std::string& ns);
  Status delete_container(const std::string& ns, const std::string& id);

 private:
  struct Impl;
  std::string socket_path_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Impl> impl_;
  Impl& connect();
  Status check_socket() const;
};

inline constexpr int kTaskStatusRunning = 2;
inline constexpr int kTaskStatusStopped = 3;

}  // namespace k3s_daas::runtime
