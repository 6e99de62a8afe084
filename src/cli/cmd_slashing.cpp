#include <ctime>

#include "context.hpp"
#include "k3s_daas/daemon.hpp"

namespace k3s_daas::cli {

void register_slashing_commands(CLI::App& app, Context& ctx) {
  static bool yes = false;
  auto* slashing = app.add_subcommand("slashing", "show or clear the slashed marker");
  slashing->require_subcommand(1);

  auto* status = slashing->add_subcommand("status", "show the slashed marker and its evidence");
  status->callback([&ctx] {
    ctx.action = [&ctx] {
      auto cfg = ctx.load_config();
      if (!cfg) return ctx.fail(cfg.error());
      auto marker = daemon::read_slash_marker(cfg->state_dir);
      if (!marker) return ctx.fail(marker.error());
      if (!marker->has_value()) {
        ctx.print({{"slashed", false}, {"marker", nullptr}}, "not slashed: no marker in " + cfg->state_dir);
        return 0;
      }
      const auto& m = **marker;
      std::string text = "SLASHED (marker " + daemon::slash_marker_path(cfg->state_dir).string() + ")\n" +
                         "  node: " + m.node_id + "\n  stake record: " + m.stake_id + "\n  evidence: " + m.evidence +
                         "\n  amount left: " + std::to_string(m.amount_left_mist) + " MIST\n  detected at (unix ms): " +
                         std::to_string(m.detected_at_ms) +
                         "\n`k3s-daas run` refuses to start (exit 79) until `k3s-daas slashing clear --yes`.";
      ctx.print({{"slashed", true}, {"marker", m.to_json()}}, text);
      return exit_code::kSlashed;
    };
  });

  auto* clear = slashing->add_subcommand("clear", "remove the slashed marker so that run may start again");
  clear->add_flag("--yes", yes, "confirm that an operator has looked at the slash")->required();
  clear->callback([&ctx] {
    ctx.action = [&ctx] {
      auto cfg = ctx.load_config();
      if (!cfg) return ctx.fail(cfg.error());
      auto existing = daemon::read_slash_marker(cfg->state_dir);
      bool had = !existing.ok() || existing->has_value();
      auto st = daemon::clear_slash_marker(cfg->state_dir);
      if (!st) return ctx.fail(st.error());
      ctx.print({{"cleared", had}}, had ? "slashed marker removed; the node needs a new stake before `run` can serve"
                                        : "no slashed marker to remove");
      return 0;
    };
  });
}

}  // namespace k3s_daas::cli
