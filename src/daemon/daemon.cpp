// `k3s-daas run`: the start-up stages, called in order from run_stages(), each with a one-line
// banner, and the two-phase stop. The main loop lives in main_loop.cpp.
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <prometheus/gauge.h>

#include "daemon_context.hpp"
#include "k3s_daas/build_info.hpp"
#include "k3s_daas/fs.hpp"
#include "k3s_daas/log.hpp"

namespace k3s_daas::daemon {
namespace {

constexpr int kStages = 9;

void banner(Daemon& d, int number, const char* what) {
  d.stage = what;
  K3S_LOG(kDaemon, info, "stage {}/{}: {}", number, kStages, what);
}

int fail(Daemon& d, const Error& error) {
  K3S_LOG(kDaemon, critical, "{}", error.message);
  d.exit_status = error.exit_code();
  if (d.exit_status == exit_code::kOk) d.exit_status = exit_code::kFailure;
  return d.exit_status;
}

// Retries `attempt` with backoff until it succeeds, a non-retryable error comes back, or the
// daemon is interrupted (then nullopt with exit_status 0). Waiting keeps the supervisor's loop
// (and so signals) serviced.
template <typename T, typename F, typename Retryable>
std::optional<Result<T>> with_startup_retry(Daemon& d, const char* what, F attempt, Retryable retryable) {
  Backoff backoff(d.limits.startup_retry_initial, d.limits.retry_cap);
  for (;;) {
    Result<T> result = attempt();
    if (result.ok() || !retryable(result.error())) return result;
    auto delay = backoff.next();
    K3S_LOG(kDaemon, warn, "{} failed (attempt {}): {}; retrying in {} ms", what, backoff.attempt(),
            result.error().message, delay.count());
    d.last_error = result.error().message;
    d.notify("STATUS=" + std::string(what) + ": retrying (" + error_kind_name(result.error().kind) + ")");
    d.write_status("starting");
    const auto until = monotonic_ms() + delay.count();
    while (monotonic_ms() < until) {
      if (!d.pump(std::chrono::milliseconds(std::min<std::int64_t>(200, until - monotonic_ms() + 1)))) {
        return std::nullopt;
      }
    }
  }
}

bool not_config_error(const Error& e) { return e.kind != ErrorKind::kConfig; }

supervisor::Limits supervisor_limits(const Daemon& d) {
  auto limits = supervisor::Limits::production();
  limits.stop_timeout = std::chrono::seconds(d.config->k3s.stop_timeout_s);
  if (d.test_mode) {
    limits.kill_timeout = std::chrono::seconds(2);
    limits.restart_initial_delay = std::chrono::milliseconds(200);
    limits.teardown_task_exit_timeout = std::chrono::seconds(5);
    limits.teardown_process_exit_timeout = std::chrono::seconds(5);
    limits.runtime_ready_timeout = std::chrono::seconds(30);
  }
  return limits;
}

std::string read_cursor(const std::filesystem::path& state_dir) {
  auto text = fs::read_file(state_dir / kSlashCursorFile, 64 * 1024);
  if (!text.ok()) return {};
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  if (!doc.is_object() || !doc.contains("cursor") || !doc["cursor"].is_string()) return {};
  return doc["cursor"].get<std::string>();
}

// ---------------------------------------------------------------- stages

// Stage 1. Preconditions: none. Loads and checks the config, sets up logging, the supervisor
// (which owns our signal flags) and the state folder.
int stage_config(Daemon& d) {
  banner(d, 1, "load config");
  auto loaded = config::load(d.run_options.config_path);
  if (!loaded.ok()) return fail(d, loaded.error());
  d.config = std::move(loaded).value();
  log::Options log_options;
  log_options.level = d.run_options.log_level.empty() ? d.config->log.level : d.run_options.log_level;
  log_options.format = d.config->log.format == "json" ? log::Format::kJson : log::Format::kText;
  log_options.node_id = d.config->node_id;
  if (auto ok = log::init(log_options); !ok.ok()) return fail(d, ok.error());
  const auto& att = d.config->master.attestation;
  if (!att.allow_debug && (att.pcr0.empty() || att.pcr1.empty() || att.pcr2.empty())) {
    return fail(d,
                make_error(ErrorKind::kConfig,
                           d.config->source_path.string() +
                               ": master.attestation.pcr0/pcr1/pcr2: the daemon refuses to trust a master while "
                               "they are unset; set the enclave's PCR values (allow_debug only for debug enclaves)"));
  }
  if (auto made = fs::ensure_dir(d.state_dir(), 0700); !made.ok()) return fail(d, made.error());
  d.supervisor = std::make_unique<supervisor::Supervisor>(supervisor_limits(d));
  if (auto handled = d.supervisor->handle_signals({SIGTERM, SIGINT}); !handled.ok()) return fail(d, handled.error());
  d.started_at_ms = now_unix_ms();
  d.write_status("starting");
  K3S_LOG(kDaemon, info, "k3s-daas {} ({}) node {} state {}{}", build_info::kVersion, build_info::kGitRevision,
          d.config->node_id, d.state_dir(), d.test_mode ? " [TEST MODE]" : "");
  return exit_code::kOk;
}

// Stage 2. Preconditions: config. A slashed marker (even a damaged one) blocks start-up.
int stage_marker(Daemon& d) {
  banner(d, 2, "check slashed marker");
  auto marker = read_slash_marker(d.state_dir());
  const std::string clear = "; after investigating, an operator clears it with `k3s-daas slashing clear --yes`";
  if (!marker.ok()) return fail(d, make_error(ErrorKind::kSlashed, marker.error().message + clear));
  if (*marker) {
    return fail(
        d, make_error(ErrorKind::kSlashed, "refusing to start: this node was slashed (" + (*marker)->evidence +
                                               ", marker " + slash_marker_path(d.state_dir()).string() + ")" + clear));
  }
  return exit_code::kOk;
}

// Stage 3. Preconditions: config. The staker's key (0600 file or keystore).
int stage_key(Daemon& d) {
  banner(d, 3, "load key");
  auto key = crypto::load_signing_key(config::key_source(d.config->sui));
  if (!key.ok()) return fail(d, key.error());
  d.key.emplace(std::move(key).value());
  K3S_LOG(kDaemon, info, "staker address {}", d.key->address().to_hex());
  return exit_code::kOk;
}

// Stage 4. Preconditions: config, key. Finds this node's StakeRecord; an unreachable chain is
// retried (never taken for a slash).
int stage_chain(Daemon& d) {
  banner(d, 4, "read stake on chain");
  auto options = sui::ChainClientOptions::from_config(d.config->sui);
  options.max_rounds = 2;
  auto chain = sui::make_chain_client(options);
  if (!chain.ok()) return fail(d, chain.error());
  d.chain = std::move(chain).value();
  auto settings = sui::StakingSettings::from_config(*d.config);
  if (!settings.ok()) return fail(d, settings.error());
  d.staking = std::make_unique<sui::StakingClient>(*d.chain, *d.key, std::move(settings).value());
  d.slash_cursor = read_cursor(d.state_dir());

  auto found = with_startup_retry<std::optional<sui::StakeRecord>>(
      d, "reading the StakeRecord", [&] { return d.staking->find_record(); }, not_config_error);
  if (!found) return d.exit_status;
  if (!found->ok()) return fail(d, found->error());
  auto& record = found->value();
  const std::string stake_hint = "; run `k3s-daas stake` (then start the service again)";
  if (!record) {
    return fail(d, make_error(ErrorKind::kNotStaked, "node " + d.config->node_id + " is not staked (address " +
                                                         d.key->address().to_hex() + ")" + stake_hint));
  }
  d.record = *record;
  if (record->staker != d.key->address()) {
    return fail(d, make_error(ErrorKind::kNotStaked, "StakeRecord " + record->id.to_hex() + " belongs to " +
                                                         record->staker.to_hex() + ", not to this key" + stake_hint));
  }
  if (record->status == static_cast<std::uint8_t>(sui::StakeStatus::kSlashed)) {
    slashed(d, *record, "");
    return d.exit_status;
  }
  if (!record->active()) {
    return fail(d, make_error(ErrorKind::kNotStaked, "the stake of node " + d.config->node_id + " is " +
                                                         sui::stake_status_name(record->status) + stake_hint));
  }
  if (record->amount < d.config->sui.min_stake_mist) {
    return fail(
        d, make_error(ErrorKind::kNotStaked, "the stake of node " + d.config->node_id + " (" +
                                                 std::to_string(record->amount) + " MIST) is below the minimum " +
                                                 std::to_string(d.config->sui.min_stake_mist) + " MIST" + stake_hint));
  }
  K3S_LOG(kDaemon, info, "StakeRecord {} version {}: {} MIST, ACTIVE", record->id.to_hex(), record->version,
          record->amount);
  return exit_code::kOk;
}

// Stage 5. Preconditions: config. /metrics on metrics.listen (empty: off).
int stage_metrics(Daemon& d) {
  banner(d, 5, "serve metrics");
  d.metrics = std::make_unique<metrics::Metrics>();
  if (auto served = d.metrics->serve(d.config->metrics.listen); !served.ok()) return fail(d, served.error());
  if (!d.config->metrics.listen.empty()) {
    K3S_LOG(kDaemon, info, "metrics on {} (port {})", d.config->metrics.listen, d.metrics->bound_port());
  }
  d.metrics->handles().stake_amount_mist->Set(static_cast<double>(d.record->amount));
  d.metrics->handles().stake_status->Set(d.record->status);
  return exit_code::kOk;
}

// Stage 6. Preconditions: config, PCRs set (stage 1). Trusts the master only after its
// attestation verified; retried with backoff.
int stage_attest(Daemon& d) {
  banner(d, 6, "attest master");
  auto options = master::MasterClientOptions::from_config(*d.config, build_info::kVersion);
  if (!options.ok()) return fail(d, options.error());
  options->retry.max_attempts = 1;  // the daemon paces retries itself, keeping its loop alive
  options->request_timeout = std::chrono::milliseconds(d.config->sui.request_timeout_ms);
  auto client = master::MasterClient::create(std::move(options).value());
  if (!client.ok()) return fail(d, client.error());
  d.master = std::make_unique<master::MasterClient>(std::move(client).value());
  auto trusted = with_startup_retry<master::TrustedMaster>(
      d, "attesting the master", [&] { return d.master->attest(); }, not_config_error);
  if (!trusted) return d.exit_status;
  if (!trusted->ok()) return fail(d, trusted->error());
  K3S_LOG(kDaemon, info, "master attested: enclave key {}", hex_encode(trusted->value().enclave_key));
  return exit_code::kOk;
}

Status issue_seal_token(Daemon& d) {
  seal::IssueOptions options;
  options.node_id = d.config->node_id;
  options.stake_id = d.record->id;
  options.audience = d.master->trusted()->enclave_key;
  options.ttl = std::chrono::seconds(d.config->master.seal_token_ttl_s);
  K3S_ASSIGN(auto token, seal::issue(*d.key, options));
  d.seal_token = std::move(token);
  d.metrics->handles().seal_token_expires_at_seconds->Set(static_cast<double>(d.seal_token->payload.expires_at_ms) /
                                                          1000.0);
  return {};
}

// Stage 7. Preconditions: an attested master, an ACTIVE record. Registers with a fresh seal
// token; MasterClient writes the join token 0600 into the state folder.
int stage_register(Daemon& d) {
  banner(d, 7, "issue seal token and register");
  if (auto issued = issue_seal_token(d); !issued.ok()) return fail(d, issued.error());
  auto info = master::collect_node_info();
  if (!info.ok()) return fail(d, info.error());
  d.node_info = *info;
  auto ack = with_startup_retry<master::RegisterAck>(
      d, "registering with the master", [&] { return d.master->register_worker(d.seal_token->text, d.node_info); },
      not_config_error);
  if (!ack) return d.exit_status;
  if (!ack->ok()) return fail(d, ack->error());
  d.registration = ack->value();
  if (d.registration->heartbeat_interval_ms > 0) d.heartbeat_interval_ms = d.registration->heartbeat_interval_ms;
  K3S_LOG(kDaemon, info, "registered: k3s server {}, join token in {}, heartbeat every {} ms",
          d.registration->k3s_server_url, d.registration->join_token_file.string(), d.heartbeat_interval_ms);
  return exit_code::kOk;
}

runtime::NodeOptions node_options(const Daemon& d, const std::string& server_url,
                                  const std::filesystem::path& token_file) {
  auto options = runtime::node_options_from_config(*d.config, server_url, token_file);
  if (d.test_mode) {
    options.runtime.enable_cri = false;
    options.teardown.unmount_prefixes = {d.config->k3s.data_dir};
    if (options.runtime.type == "containerd") {
      options.teardown.unmount_prefixes.push_back(options.runtime.root_dir);
      options.teardown.unmount_prefixes.push_back(options.runtime.state_dir);
    }
    options.teardown.cgroup_names.clear();
  }
  return options;
}

// Stage 8. Preconditions: registration (server URL, token file). Runtime and k3s under the
// supervisor; non-blocking: the loop brings them up.
int stage_node(Daemon& d) {
  banner(d, 8, "start runtime and k3s agent");
  auto node = runtime::WorkerNode::create(
      *d.supervisor, node_options(d, d.registration->k3s_server_url, d.registration->join_token_file));
  if (!node.ok()) return fail(d, node.error());
  d.node = std::move(node).value();
  d.node_started = true;  // from here shutdown() stops what may run
  if (auto started = d.node->start_runtime(); !started.ok()) return fail(d, started.error());
  if (auto started = d.node->start_k3s(); !started.ok()) return fail(d, started.error());
  return exit_code::kOk;
}

// Stage 9. Preconditions: everything above. READY=1, then the loop until a stop.
int stage_loop(Daemon& d) {
  banner(d, 9, "ready; main loop");
  d.notify("READY=1\nSTATUS=running");
  return main_loop(d);
}

}  // namespace

bool Daemon::pump(std::chrono::milliseconds wait) {
  if (supervisor) {
    supervisor->poll_once(wait);
    while (auto signal_number = supervisor->take_signal()) {
      K3S_LOG(kDaemon, info, "signal {} ({}): orderly stop", *signal_number, ::strsignal(*signal_number));
      interrupt();
    }
  } else {
    std::this_thread::sleep_for(wait);
  }
  return !interrupted;
}

void Daemon::notify(const std::string& state) { ::sd_notify(0, state.c_str()); }

void Daemon::shutdown() {
  if (shut_down) return;
  shut_down = true;
  if (node_started && node) {
    K3S_LOG(kDaemon, info, "stopping the k3s agent, then the runtime (pods' data stays)");
    const auto budget = std::chrono::seconds(config->k3s.stop_timeout_s) + limits.stop_budget_extra;
    if (!node->stop(budget)) K3S_LOG(kDaemon, error, "the node did not stop within {} s", budget.count() / 1000);
  }
  node.reset();
  if (master) master.reset();
  if (metrics) metrics.reset();
  if (config) {
    std::string final_state = exit_status == exit_code::kSlashed ? "slashed" : "stopped";
    write_status(final_state);
  }
}

int run_stages(Daemon& d) {
  using Stage = int (*)(Daemon&);
  const Stage stages[] = {stage_config, stage_marker,   stage_key,  stage_chain, stage_metrics,
                          stage_attest, stage_register, stage_node, stage_loop};
  for (Stage stage : stages) {
    int code = stage(d);
    if (code != exit_code::kOk) return code;
    if (d.interrupted || d.loop_end != LoopEnd::kNone) return d.exit_status;
  }
  return d.exit_status;
}

int run(const RunOptions& options) {
  ::signal(SIGPIPE, SIG_IGN);
  Daemon d;
  d.run_options = options;
  const char* test_mode = std::getenv(kTestModeEnv);
  d.test_mode = test_mode != nullptr && std::string(test_mode) == "1";
  int code = exit_code::kFailure;
  try {
    code = run_stages(d);
  } catch (const std::exception& e) {
    K3S_LOG(kDaemon, critical, "unexpected error: {}", e.what());
    d.exit_status = code = exit_code::kFailure;
  }
  d.exit_status = code;
  if (d.config) d.notify("STOPPING=1");
  d.shutdown();
  K3S_LOG(kDaemon, info, "exit {}", code);
  return code;
}

}  // namespace k3s_daas::daemon
