#include "k3s_daas/result.hpp"

namespace k3s_daas {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUsage: return "usage";
    case ErrorKind::kConfig: return "config";
    case ErrorKind::kIo: return "io";
    case ErrorKind::kNetwork: return "network";
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kProtocol: return "protocol";
    case ErrorKind::kRejected: return "rejected";
    case ErrorKind::kVerify: return "verify";
    case ErrorKind::kNotFound: return "not-found";
    case ErrorKind::kSlashed: return "slashed";
    case ErrorKind::kNotStaked: return "not-staked";
    case ErrorKind::kUnsupported: return "unsupported";
    case ErrorKind::kInternal: return "internal";
    case ErrorKind::kCancelled: return "cancelled";
  }
  return "internal";
}

int Error::exit_code() const {
  switch (kind) {
    case ErrorKind::kUsage: return exit_code::kUsage;
    case ErrorKind::kConfig: return exit_code::kConfig;
    case ErrorKind::kSlashed: return exit_code::kSlashed;
    case ErrorKind::kNotStaked: return exit_code::kNotStaked;
    default: return exit_code::kFailure;
  }
}

}  // namespace k3s_daas
