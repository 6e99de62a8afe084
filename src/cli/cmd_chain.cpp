// Owned by the Sui component work (stake, unstake, status). Placeholder until it lands.
#include "context.hpp"

namespace k3s_daas::cli {

void register_chain_commands(CLI::App& app, Context& ctx) {
  static std::uint64_t amount = 0;
  static bool yes = false;
  auto* stake = app.add_subcommand("stake", "stake SUI for this node (idempotent)");
  stake->add_option("--amount", amount, "amount in MIST (default: sui.stake_amount_mist)");
  stake->add_flag("--yes", yes, "do not ask for confirmation");
  auto* unstake = app.add_subcommand("unstake", "withdraw this node's stake");
  unstake->add_flag("--yes", yes, "do not ask for confirmation");
  auto* status = app.add_subcommand("status", "local daemon state, the stake on chain, master reachability");
  for (auto* cmd : {stake, unstake, status}) {
    cmd->callback([&ctx, cmd] { ctx.action = [&ctx, cmd] { return ctx.not_yet(cmd->get_name(), "the Sui chain client"); }; });
  }
}

}  // namespace k3s_daas::cli
