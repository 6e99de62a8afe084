#pragma once
// Private to the seal component: the one way a seal-token rule refuses a token.

#include <string>

#include "k3s_daas/result.hpp"
#include "k3s_daas/seal.hpp"

namespace k3s_daas::seal::detail {

// Sets *why (when given) and returns the kVerify error "seal token rejected (<reason>)",
// followed by ": <detail>" when there is one.
Error rejected(Reason* why, Reason reason, const std::string& detail);

}  // namespace k3s_daas::seal::detail
