#pragma once
// The Sui component: BCS, transactions, the chain client and the staking client.
// See sui_bcs.hpp, sui_tx.hpp, sui_client.hpp and staking.hpp for what each part owns.

#include "k3s_daas/staking.hpp"
#include "k3s_daas/sui_bcs.hpp"
#include "k3s_daas/sui_client.hpp"
#include "k3s_daas/sui_tx.hpp"
