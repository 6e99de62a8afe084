#pragma once
// The two ChainClient implementations (private to src/sui; chosen by make_chain_client).

#include <memory>

#include "k3s_daas/sui_client.hpp"

namespace k3s_daas::sui::detail {

std::unique_ptr<ChainClient> make_graphql_client(const ChainClientOptions& options);
std::unique_ptr<ChainClient> make_jsonrpc_client(const ChainClientOptions& options);

}  // namespace k3s_daas::sui::detail
