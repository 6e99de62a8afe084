// seal-token issue / verify (protocol.md section 2).
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "context.hpp"
#include "k3s_daas/clock.hpp"
#include "k3s_daas/crypto.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/seal.hpp"
#include "k3s_daas/staking.hpp"

namespace k3s_daas::cli {
namespace {

struct SealOptions {
  std::string token;
  bool no_chain = false;
  std::string stake_id;
  std::string audience;
  std::uint64_t ttl_s = 0;
};

std::string iso_ms(std::uint64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) return std::to_string(ms);
  char buffer[64];
  std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buffer, n);
}

nlohmann::json payload_json(const seal::SealTokenV1& p) {
  return {{"version", p.version},
          {"node_id", p.node_id},
          {"staker", p.staker.to_hex()},
          {"stake_id", p.stake_id.to_hex()},
          {"audience", p.audience.empty() ? nlohmann::json(nullptr) : nlohmann::json(hex_encode(p.audience))},
          {"issued_at_ms", p.issued_at_ms},
          {"expires_at_ms", p.expires_at_ms},
          {"renew_at_ms", p.renew_at_ms()},
          {"nonce", hex_encode(p.nonce)}};
}

std::string payload_text(const seal::SealTokenV1& p) {
  std::ostringstream out;
  out << "  node_id:    " << p.node_id << "\n"
      << "  staker:     " << p.staker.to_hex() << "\n"
      << "  stake_id:   " << p.stake_id.to_hex() << "\n"
      << "  audience:   " << (p.audience.empty() ? std::string("(any master)") : hex_encode(p.audience)) << "\n"
      << "  issued at:  " << iso_ms(p.issued_at_ms) << " (" << p.issued_at_ms << ")\n"
      << "  expires at: " << iso_ms(p.expires_at_ms) << " (" << p.expires_at_ms << ")\n"
      << "  renew at:   " << iso_ms(static_cast<std::uint64_t>(p.renew_at_ms())) << "\n";
  return out.str();
}

// The StakeRecord id of this node: --stake-id, else the state file, else the chain.
Result<crypto::Address> stake_record_id(const config::Config& config, const crypto::Ed25519Keypair& key,
                                        const std::string& flag) {
  if (!flag.empty()) {
    auto id = crypto::Address::parse(flag);
    if (!id.ok()) return make_error(ErrorKind::kUsage, "--stake-id: " + id.error().message);
    return id.value();
  }
  K3S_ASSIGN(auto state, sui::read_stake_state(config.state_dir));
  if (state && state->node_id == config.node_id && state->stake_record_id) return *state->stake_record_id;
  K3S_ASSIGN(auto chain, sui::make_chain_client(config.sui));
  K3S_ASSIGN(auto settings, sui::StakingSettings::from_config(config));
  sui::StakingClient staking(*chain, key, std::move(settings));
  K3S_ASSIGN(auto record, staking.find_record());
  if (!record) {
    return make_error(ErrorKind::kNotStaked, "node " + config.node_id + " has no StakeRecord: stake first (k3s-daas stake)");
  }
  return record->id;
}

int run_issue(Context& ctx, const SealOptions& o) {
  auto config = ctx.load_config();
  if (!config.ok()) return ctx.fail(config.error());
  auto key = crypto::load_signing_key(config::key_source(config->sui));
  if (!key.ok()) return ctx.fail(key.error());
  auto stake_id = stake_record_id(config.value(), key.value(), o.stake_id);
  if (!stake_id.ok()) return ctx.fail(stake_id.error());
  seal::IssueOptions options;
  options.node_id = config->node_id;
  options.stake_id = stake_id.value();
  options.ttl = std::chrono::seconds(o.ttl_s != 0 ? o.ttl_s : config->master.seal_token_ttl_s);
  if (!o.audience.empty()) {
    auto audience = hex_decode(o.audience);
    if (!audience || audience->size() != crypto::kPublicKeySize) {
      return ctx.fail(make_error(ErrorKind::kUsage, "--audience: expected the enclave's Ed25519 key as 64 hex digits"));
    }
    options.audience = *audience;
  }
  auto token = seal::issue(key.value(), options);
  if (!token.ok()) return ctx.fail(token.error());
  // The token goes to stdout only: never to a log line or stderr.
  nlohmann::json doc = payload_json(token->payload);
  doc["token"] = token->text;
  ctx.print(doc, token->text);
  return exit_code::kOk;
}

int run_verify(Context& ctx, const SealOptions& o) {
  std::string text = o.token;
  if (text == "-") {  // read from stdin, so that the token need not sit in the process list
    std::getline(std::cin, text);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  log::register_secret(text, "seal-token");

  std::optional<config::Config> config;
  if (!o.no_chain) {
    auto loaded = ctx.load_config();
    if (!loaded.ok()) return ctx.fail(loaded.error().context("the chain check needs the config (or pass --no-chain)"));
    config = loaded.value();
  }
  seal::VerifyOptions options;
  if (!o.audience.empty()) {
    auto audience = hex_decode(o.audience);
    if (!audience || audience->size() != crypto::kPublicKeySize) {
      return ctx.fail(make_error(ErrorKind::kUsage, "--audience: expected an Ed25519 key as 64 hex digits"));
    }
    options.own_key = *audience;
  }
  seal::Reason why{};
  auto token = seal::verify(text, options, &why);
  if (!token.ok()) {
    if (ctx.global.json) {
      std::cout << nlohmann::json{{"valid", false}, {"reason", seal::reason_name(why)}}.dump(2) << std::endl;
    }
    return ctx.fail(token.error());
  }
  nlohmann::json doc = payload_json(token->payload);
  doc["valid"] = true;
  doc["signer"] = token->payload.staker.to_hex();
  std::string chain_text = "  chain:      not checked (--no-chain)\n";
  doc["chain"] = {{"checked", false}};
  if (config) {
    auto chain = sui::make_chain_client(config->sui);
    if (!chain.ok()) return ctx.fail(chain.error());
    seal::ChainCheckOptions chain_options;
    chain_options.package_id = config->sui.package_id;
    chain_options.module = config->sui.module;
    chain_options.min_stake_mist = config->sui.min_stake_mist;
    auto record = seal::check_stake(*chain.value(), token->payload, chain_options, &why);
    if (!record.ok()) {
      if (ctx.global.json && record.error().kind == ErrorKind::kVerify) {
        std::cout << nlohmann::json{{"valid", false}, {"reason", seal::reason_name(why)}}.dump(2) << std::endl;
      }
      return ctx.fail(record.error());
    }
    doc["chain"] = {{"checked", true},
                    {"stake_record", record->id.to_hex()},
                    {"amount_mist", record->amount},
                    {"status", sui::stake_status_name(record->status)},
                    {"version", record->version}};
    chain_text = "  chain:      StakeRecord ACTIVE, " + std::to_string(record->amount) + " MIST (version " +
                 std::to_string(record->version) + ")\n";
  }
  ctx.print(doc, "seal token: valid\n" + payload_text(token->payload) + chain_text);
  return exit_code::kOk;
}

}  // namespace

void register_seal_commands(CLI::App& app, Context& ctx) {
  static SealOptions o;
  auto* seal = app.add_subcommand("seal-token", "issue or verify seal tokens");
  seal->require_subcommand(1);
  auto* issue = seal->add_subcommand("issue", "issue a fresh seal token for this node (printed on stdout only)");
  issue->add_option("--stake-id", o.stake_id, "the StakeRecord id (default: the state file, else the chain)");
  issue->add_option("--audience", o.audience, "the master enclave's Ed25519 key (hex) the token is meant for");
  issue->add_option("--ttl", o.ttl_s, "lifetime in seconds (default: master.seal_token_ttl_s)")->check(CLI::Range(1, 86400));
  auto* verify = seal->add_subcommand("verify", "decode and check a seal token");
  verify->add_option("TOKEN", o.token, "the sealv1. token, or - to read it from stdin")->required();
  verify->add_flag("--no-chain", o.no_chain, "skip the on-chain StakeRecord check");
  verify->add_option("--audience", o.audience, "also require the audience to be empty or this key (hex)");
  issue->callback([&ctx] { ctx.action = [&ctx] { return run_issue(ctx, o); }; });
  verify->callback([&ctx] { ctx.action = [&ctx] { return run_verify(ctx, o); }; });
}

}  // namespace k3s_daas::cli
