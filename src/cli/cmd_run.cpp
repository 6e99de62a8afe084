// run: the daemon (protocol.md; docs/daemon.md). The work lives in the daemon component.
#include "context.hpp"
#include "k3s_daas/daemon.hpp"

namespace k3s_daas::cli {

void register_run_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("run", "run the worker daemon (systemd service)");
  cmd->callback([&ctx] {
    ctx.action = [&ctx] {
      daemon::RunOptions options;
      options.config_path = ctx.config_path();
      options.log_level = ctx.global.log_level;
      return daemon::run(options);
    };
  });
}

}  // namespace k3s_daas::cli
