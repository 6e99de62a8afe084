// Owned by the daemon work. Placeholder until it lands.
#include "context.hpp"

namespace k3s_daas::cli {

void register_slashing_commands(CLI::App& app, Context& ctx) {
  static bool yes = false;
  auto* slashing = app.add_subcommand("slashing", "show or clear the slashed marker");
  slashing->require_subcommand(1);
  auto* status = slashing->add_subcommand("status", "show the slashed marker and its evidence");
  auto* clear = slashing->add_subcommand("clear", "remove the slashed marker so that run may start again");
  clear->add_flag("--yes", yes, "confirm")->required();
  for (auto* cmd : {status, clear}) {
    cmd->callback([&ctx, cmd] { ctx.action = [&ctx, cmd] { return ctx.not_yet("slashing " + cmd->get_name(), "slash handling"); }; });
  }
}

}  // namespace k3s_daas::cli
