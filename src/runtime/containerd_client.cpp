#include "containerd_client.hpp"

#include <github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h>
#include <github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h>
#include <github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h>
#include <grpcpp/grpcpp.h>

#include <filesystem>

namespace k3s_daas::runtime {

namespace containers_v1 = containerd::services::containers::v1;
namespace tasks_v1 = containerd::services::tasks::v1;
namespace version_v1 = containerd::services::version::v1;

struct ContainerdClient::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<version_v1::Version::Stub> version;
  std::unique_ptr<tasks_v1::Tasks::Stub> tasks;
  std::unique_ptr<containers_v1::Containers::Stub> containers;
};

namespace {

const char* status_name(int status) {
  switch (status) {
    case 0:
      return "unknown";
    case 1:
      return "created";
    case 2:
      return "running";
    case 3:
      return "stopped";
    case 4:
      return "paused";
    case 5:
      return "pausing";
  }
  return "unknown";
}

}  // namespace

ContainerdClient::ContainerdClient(std::string socket_path, std::chrono::milliseconds timeout)
    : socket_path_(std::move(socket_path)), timeout_(timeout) {}

ContainerdClient::~ContainerdClient() = default;

void ContainerdClient::reset() { impl_.reset(); }

Status ContainerdClient::check_socket() const {
  std::error_code ec;
  if (!std::filesystem::exists(socket_path_, ec)) {
    return make_error(ErrorKind::kNetwork,
                      "containerd at unix://" + socket_path_ + ": the socket does not exist (is containerd running?)");
  }
  return {};
}

ContainerdClient::Impl& ContainerdClient::connect() {
  if (!impl_) {
    impl_ = std::make_unique<Impl>();
    grpc::ChannelArguments args;
    // containerd restarts under the supervisor: reconnect within a second, not gRPC's default minutes.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
    args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 16 << 20);
    impl_->channel = grpc::CreateCustomChannel("unix://" + socket_path_, grpc::InsecureChannelCredentials(), args);
    impl_->version = version_v1::Version::NewStub(impl_->channel);
    impl_->tasks = tasks_v1::Tasks::NewStub(impl_->channel);
    impl_->containers = containers_v1::Containers::NewStub(impl_->channel);
  }
  return *impl_;
}

namespace {

void prepare(grpc::ClientContext& context, std::chrono::milliseconds timeout, const std::string& ns) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  // Wait (within the deadline) for the connection instead of failing fast: a fail-fast call
  // does not drive the connection attempt, which then completes only on gRPC's backup poller
  // (every 5 s), so a freshly started containerd would look dead for seconds.
  context.set_wait_for_ready(true);
  if (!ns.empty()) context.AddMetadata("containerd-namespace", ns);
}

Error to_error(const grpc::Status& status, const std::string& socket, const std::string& what) {
  ErrorKind kind = ErrorKind::kProtocol;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      kind = ErrorKind::kNetwork;
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      kind = ErrorKind::kTimeout;
      break;
    case grpc::StatusCode::NOT_FOUND:
      kind = ErrorKind::kNotFound;
      break;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::PERMISSION_DENIED:
      kind = ErrorKind::kRejected;
      break;
    default:
      break;
  }
  return make_error(kind, "containerd at unix://" + socket + ": " + what + ": " + status.error_message());
}

}  // namespace

Result<ContainerdVersion> ContainerdClient::version() {
  K3S_TRY(check_socket());
  auto& impl = connect();
  grpc::ClientContext context;
  prepare(context, timeout_, "");
  google::protobuf::Empty request;
  version_v1::VersionResponse response;
  grpc::Status status = impl.version->Version(&context, request, &response);
  if (!status.ok()) return to_error(status, socket_path_, "Version");
  return ContainerdVersion{response.version(), response.revision()};
}

Result<std::vector<ContainerdTask>> ContainerdClient::list_tasks(const std::string& ns) {
  K3S_TRY(check_socket());
  auto& impl = connect();
  grpc::ClientContext context;
  prepare(context, timeout_, ns);
  tasks_v1::ListTasksRequest request;
  tasks_v1::ListTasksResponse response;
  grpc::Status status = impl.tasks->List(&context, request, &response);
  if (!status.ok()) return to_error(status, socket_path_, "Tasks.List in namespace " + ns);
  std::vector<ContainerdTask> out;
  for (const auto& process : response.tasks()) {
    ContainerdTask task;
    task.id = process.container_id().empty() ? process.id() : process.container_id();
    task.pid = process.pid();
    task.status = static_cast<int>(process.status());
    task.status_name = status_name(task.status);
    out.push_back(std::move(task));
  }
  return out;
}

Status ContainerdClient::kill_task(const std::string& ns, const std::string& id, std::uint32_t signal_number,
                                   bool all) {
  K3S_TRY(check_socket());
  auto& impl = connect();
  grpc::ClientContext context;
  prepare(context, timeout_, ns);
  tasks_v1::KillRequest request;
  request.set_container_id(id);
  request.set_signal(signal_number);
  request.set_all(all);
  google::protobuf::Empty response;
  grpc::Status status = impl.tasks->Kill(&context, request, &response);
  if (!status.ok()) return to_error(status, socket_path_, "Tasks.Kill " + ns + "/" + id);
  return {};
}

Status ContainerdClient::delete_task(const std::string& ns, const std::string& id) {
  K3S_TRY(check_socket());
  auto& impl = connect();
  grpc::ClientContext context;
  prepare(context, timeout_, ns);
  tasks_v1::DeleteTaskRequest request;
  request.set_container_id(id);
  tasks_v1::DeleteResponse response;
  grpc::Status status = impl.tasks->Delete(&context, request, &response);
  if (!status.ok()) return to_error(status, socket_path_, "Tasks.Delete " + ns + "/" + id);
  return {};
}

Result<std::vector<std::string>> ContainerdClient::list_containers(const std::string& ns) {
  K3S_TRY(check_socket());
  auto& impl = connect();
  grpc::ClientContext context;
  prepare(context, timeout_, ns);
  containers_v1::ListContainersRequest request;
  containers_v1::ListContainersResponse response;
  grpc::Status status = impl.containers->List(&context, request, &response);
  if (!status.ok()) return to_error(status, socket_path_, "Containers.List in namespace " + ns);
  std::vector<std::string> out;
  for (const auto& container : response.containers()) out.push_back(container.id());
  return out;
}

Status ContainerdClient::delete_container(const std::string& ns, const std::string& id) {
  K3S_TRY(check_socket());
  auto& impl = connect();
  grpc::ClientContext context;
  prepare(context, timeout_, ns);
  containers_v1::DeleteContainerRequest request;
  request.set_id(id);
  google::protobuf::Empty response;
  grpc::Status status = impl.containers->Delete(&context, request, &response);
  if (!status.ok()) return to_error(status, socket_path_, "Containers.Delete " + ns + "/" + id);
  return {};
}

}  // namespace k3s_daas::runtime
