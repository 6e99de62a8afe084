// Owned by the seal/master component work. Placeholder until it lands.
#include "context.hpp"

namespace k3s_daas::cli {

void register_seal_commands(CLI::App& app, Context& ctx) {
  auto* seal = app.add_subcommand("seal-token", "issue or verify seal tokens");
  seal->require_subcommand(1);
  static std::string token;
  static bool no_chain = false;
  auto* issue = seal->add_subcommand("issue", "issue a fresh seal token for this node");
  auto* verify = seal->add_subcommand("verify", "decode and check a seal token");
  verify->add_option("TOKEN", token, "the sealv1. token")->required();
  verify->add_flag("--no-chain", no_chain, "skip the on-chain StakeRecord check");
  for (auto* cmd : {issue, verify}) {
    cmd->callback([&ctx, cmd] { ctx.action = [&ctx, cmd] { return ctx.not_yet("seal-token " + cmd->get_name(), "the seal token"); }; });
  }
}

}  // namespace k3s_daas::cli
