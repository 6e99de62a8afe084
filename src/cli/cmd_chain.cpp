// stake, unstake, status: the node's stake on the Sui chain (protocol.md section 1).
#include <unistd.h>

#include <iostream>

#include "context.hpp"
#include "k3s_daas/crypto.hpp"
#include "k3s_daas/daemon.hpp"
#include "k3s_daas/staking.hpp"

namespace k3s_daas::cli {
namespace {

using sui::format_mist;

struct ChainOptions {
  std::uint64_t amount = 0;
  bool yes = false;
};


// Everything a chain command needs, loaded in order; the first failure ends the command.
struct ChainSession {
  config::Config config;
  std::optional<crypto::Ed25519Keypair> key;
  std::unique_ptr<sui::ChainClient> chain;
  std::optional<sui::StakingClient> staking;
};

// `writes`: stake and unstake. They check the GraphQL schema only if the server refuses one of
// their documents (a refused document never runs), saving the introspection request: one stake
// is then 3 requests (inputs, simulation, execution), as the official SDK's.
Result<std::unique_ptr<ChainSession>> open_session(Context& ctx, bool writes = false) {
  auto session = std::make_unique<ChainSession>();
  K3S_ASSIGN(session->config, ctx.load_config());
  K3S_ASSIGN(auto key, crypto::load_signing_key(config::key_source(session->config.sui)));
  session->key.emplace(std::move(key));
  auto options = sui::ChainClientOptions::from_config(session->config.sui);
  options.schema_check_first = !writes;
  K3S_ASSIGN(session->chain, sui::make_chain_client(options));
  K3S_ASSIGN(auto settings, sui::StakingSettings::from_config(session->config));
  session->staking.emplace(*session->chain, *session->key, std::move(settings));
  return session;
}

sui::Progress progress_printer(const Context& ctx) {
  if (!ctx.interactive()) return {};
  return [](std::string_view step, const std::string& detail) {
    std::cerr << "  " << step << ": " << detail << std::endl;
  };
}

// --yes, or a yes on a terminal. Without a terminal the command refuses (scripts pass --yes).
sui::Confirm confirmer(const Context& ctx, bool yes) {
  return [&ctx, yes](const std::string& question) -> Status {
    if (yes) return {};
    if (::isatty(STDIN_FILENO) != 1) {
      return make_error(ErrorKind::kUsage, "stdin is not a terminal, so there is no one to confirm: pass --yes to proceed");
    }
    if (!ctx.confirm(question)) return make_error(ErrorKind::kRejected, "cancelled; nothing was signed");
    return {};
  };
}

std::string record_text(const sui::StakeRecord& r, std::optional<std::uint64_t> epoch) {
  std::string lock = "locked until epoch " + std::to_string(r.locked_until);
  if (epoch) lock += *epoch >= r.locked_until ? " (unlocked; current epoch " + std::to_string(*epoch) + ")"
                                              : " (locked; current epoch " + std::to_string(*epoch) + ")";
  return "  stake record: " + r.id.to_hex() + "\n  amount:       " + format_mist(r.amount) + "\n  status:       " +
         sui::stake_status_name(r.status) + "\n  staked at:    epoch " + std::to_string(r.staked_at) + ", " + lock +
         "\n  staker:       " + r.staker.to_hex() + "\n";
}

int run_stake(Context& ctx, const ChainOptions& o) {
  auto session = open_session(ctx, /*writes=*/true);
  if (!session.ok()) return ctx.fail(session.error());
  auto& s = **session;
  const std::uint64_t amount = o.amount != 0 ? o.amount : s.config.sui.stake_amount_mist;
  auto outcome = s.staking->stake(amount, progress_printer(ctx), confirmer(ctx, o.yes));
  if (!outcome.ok()) return ctx.fail(outcome.error());
  const auto& out = *outcome;
  const char* kind = out.kind == sui::StakeOutcome::Kind::kStaked          ? "staked"
                     : out.kind == sui::StakeOutcome::Kind::kAlreadyStaked ? "already_staked"
                                                                           : "settled";
  nlohmann::json doc = {{"result", kind},
                        {"node_id", s.config.node_id},
                        {"digest", out.digest.empty() ? nlohmann::json(nullptr) : nlohmann::json(out.digest)},
                        {"stake_record_id", out.record.id.to_hex()},
                        {"amount_mist", out.record.amount},
                        {"record", out.record.to_json()}};
  if (!out.note.empty()) doc["note"] = out.note;
  std::string text;
  if (!out.note.empty()) text += out.note + "\n";
  if (out.kind == sui::StakeOutcome::Kind::kStaked) {
    text += "staked " + format_mist(out.record.amount) + " for node " + s.config.node_id + "\n  digest:       " + out.digest + "\n";
  } else {
    text += "node " + s.config.node_id + " is already staked; nothing to do\n";
    if (!out.digest.empty()) text += "  digest:       " + out.digest + "\n";
  }
  text += record_text(out.record, std::nullopt);
  ctx.print(doc, text);
  return exit_code::kOk;
}

int run_unstake(Context& ctx, const ChainOptions& o) {
  auto session = open_session(ctx, /*writes=*/true);
  if (!session.ok()) return ctx.fail(session.error());
  auto& s = **session;
  auto outcome = s.staking->unstake(progress_printer(ctx), confirmer(ctx, o.yes));
  if (!outcome.ok()) return ctx.fail(outcome.error());
  const auto& out = *outcome;
  nlohmann::json doc = {{"result", "unstaked"},
                        {"node_id", s.config.node_id},
                        {"digest", out.digest},
                        {"stake_record_id", out.record.id.to_hex()},
                        {"withdrawn_mist", out.withdrawn_amount},
                        {"record", out.record.to_json()}};
  if (!out.note.empty()) doc["note"] = out.note;
  std::string text = (out.note.empty() ? "" : out.note + "\n") + "withdrew " + format_mist(out.withdrawn_amount) +
                     " for node " + s.config.node_id + " to " + s.key->address().to_hex() + "\n  digest:       " +
                     out.digest + "\n" + record_text(out.record, std::nullopt);
  ctx.print(doc, text);
  return exit_code::kOk;
}

int run_status(Context& ctx) {
  auto config = ctx.load_config();
  if (!config.ok()) return ctx.fail(config.error());
  const auto daemon = daemon::read_runtime_status(config->state_dir);  // the running daemon's view
  const std::string& daemon_text = daemon.text;
  nlohmann::json doc = {{"node_id", config->node_id}, {"daemon", daemon.doc}};
  std::string text = "node: " + config->node_id + "\n";
  auto finish_with_error = [&](const Error& error) {
    doc["error"] = error.message;
    ctx.print(doc, text + daemon_text);
    return ctx.fail(error);
  };
  auto session = open_session(ctx);
  if (!session.ok()) return finish_with_error(session.error());
  auto& s = **session;
  doc["address"] = s.key->address().to_hex();
  text += "address: " + s.key->address().to_hex() + "\n";
  auto balance = s.chain->sui_balance(s.key->address());
  if (!balance.ok()) return finish_with_error(balance.error());
  doc["balance_mist"] = *balance;
  text += "balance: " + format_mist(*balance) + "\n";
  auto pending = sui::read_journal(config->state_dir);
  if (pending.ok() && *pending) {
    doc["pending_transaction"] = {{"kind", (*pending)->kind}, {"digest", (*pending)->tx.digest}};
    text += "pending " + (*pending)->kind + " transaction: " + (*pending)->tx.digest +
            " (run `k3s-daas " + (*pending)->kind + "` to settle it)\n";
  }
  auto epoch = s.chain->current_epoch();
  if (epoch.ok()) doc["epoch"] = *epoch;
  auto record = s.staking->find_record();
  if (!record.ok()) return finish_with_error(record.error());
  int code = exit_code::kOk;
  std::optional<Error> problem;
  if (!*record) {
    doc["stake"] = nullptr;
    text += "stake: none\n";
    problem = make_error(ErrorKind::kNotStaked, "node " + config->node_id + " is not staked (address " +
                                                    s.key->address().to_hex() + "); run `k3s-daas stake`");
  } else {
    const auto& r = **record;
    doc["stake"] = r.to_json();
    text += "stake:\n" + record_text(r, epoch.ok() ? std::optional<std::uint64_t>(*epoch) : std::nullopt);
    if (r.status == static_cast<std::uint8_t>(sui::StakeStatus::kSlashed)) {
      problem = make_error(ErrorKind::kSlashed, "the stake of node " + config->node_id + " was slashed");
    } else if (r.status == static_cast<std::uint8_t>(sui::StakeStatus::kWithdrawn)) {
      problem = make_error(ErrorKind::kNotStaked, "the stake of node " + config->node_id + " was withdrawn");
    } else if (r.amount < config->sui.min_stake_mist) {
      problem = make_error(ErrorKind::kNotStaked, "the stake of node " + config->node_id + " (" + format_mist(r.amount) +
                                                      ") is below the minimum " + format_mist(config->sui.min_stake_mist));
    }
  }
  // Endpoint health as this run saw it (failover happened when an endpoint failed).
  nlohmann::json endpoints = nlohmann::json::array();
  for (const auto& h : s.chain->health()) {
    endpoints.push_back({{"url", h.url},
                         {"requests", h.requests},
                         {"failures", h.failures},
                         {"consecutive_failures", h.consecutive_failures},
                         {"last_error", h.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(h.last_error)}});
    if (h.failures > 0) {
      text += "endpoint " + h.url + ": " + std::to_string(h.failures) + " of " + std::to_string(h.requests) +
              " requests failed (last: " + h.last_error + ")\n";
    }
  }
  doc["endpoints"] = endpoints;
  ctx.print(doc, text + daemon_text);
  if (problem) code = ctx.fail(*problem);
  return code;
}

}  // namespace

void register_chain_commands(CLI::App& app, Context& ctx) {
  static ChainOptions o;
  auto* stake = app.add_subcommand("stake", "stake SUI for this node (idempotent)");
  stake->add_option("--amount", o.amount, "amount in MIST (default: sui.stake_amount_mist)");
  stake->add_flag("--yes", o.yes, "do not ask for confirmation (required without a terminal)");
  auto* unstake = app.add_subcommand("unstake", "withdraw this node's stake (refused while locked)");
  unstake->add_flag("--yes", o.yes, "do not ask for confirmation (required without a terminal)");
  auto* status = app.add_subcommand("status", "local daemon state, the stake on chain and the SUI balance");
  stake->callback([&ctx] { ctx.action = [&ctx] { return run_stake(ctx, o); }; });
  unstake->callback([&ctx] { ctx.action = [&ctx] { return run_unstake(ctx, o); }; });
  status->callback([&ctx] { ctx.action = [&ctx] { return run_status(ctx); }; });
}

}  // namespace k3s_daas::cli
