// Owned by the daemon work. Placeholder until it lands.
#include "context.hpp"

namespace k3s_daas::cli {

void register_run_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("run", "run the worker daemon (systemd service)");
  cmd->callback([&ctx] { ctx.action = [&ctx] { return ctx.not_yet("run", "the daemon"); }; });
}

}  // namespace k3s_daas::cli
