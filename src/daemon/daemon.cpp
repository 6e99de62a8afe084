// `k3s-daas run`: the start-up stages, called in order from run_stages(), each with a one-line
// banner, and the two-phase stop. The main loop lives in main_loop.cpp.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <prometheus/counter.h>
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
  d.notify("STATUS=stage " + std::to_string(number) + "/" + std::to_string(kStages) + ": " + what);
}


// Runs `work` on `lane` and keeps the loop turning (signals, children, watchdog) until it is
// done. nullopt when the daemon was interrupted first (the job is cut short at shutdown).
template <typename T>
std::optional<Result<T>> await_on(Daemon& d, IoLane& lane, std::function<Result<T>()> work) {
  auto out = std::make_shared<std::optional<Result<T>>>();
  lane.submit([out, work = std::move(work)]() -> IoLane::Completion {
    auto result = work();
    return [out, result = std::move(result)]() { *out = result; };
  });
  while (!*out) {
    if (!d.pump(std::chrono::milliseconds(200))) return std::nullopt;
    lane.drain();
  }
  return std::move(*out);
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
// The attempt runs on `lane` (never on the loop). While it fails, systemd's start timeout is
// extended by each wait (EXTEND_TIMEOUT_USEC): a chain or master that is away at boot delays the
// start, it does not get the unit killed.
template <typename T, typename Retryable>
std::optional<Result<T>> with_startup_retry(Daemon& d, const char* what, IoLane& lane, std::function<Result<T>()> attempt,
                                            Retryable retryable, std::chrono::milliseconds request_budget) {
  Backoff backoff(d.limits.startup_retry_initial, d.limits.retry_cap);
  for (;;) {
    auto awaited = await_on<T>(d, lane, attempt);
    if (!awaited) return std::nullopt;
    Result<T> result = std::move(*awaited);
    if (result.ok() || !retryable(result.error())) return result;
    auto delay = backoff.next();
    K3S_LOG(kDaemon, warn, "{} failed (attempt {}): {}; retrying in {} ms", what, backoff.attempt(),
            result.error().message, delay.count());
    d.last_error = result.error().message;
    d.notify("STATUS=" + std::string(what) + ": retrying (" + error_kind_name(result.error().kind) + ")" +
             "\n" + extend_timeout(delay + request_budget + std::chrono::seconds(5)));
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
    // The restart backoff compressed (200 ms doubling to 400 ms, a good run of 10 s resets it;
    // production: 1 s doubling to 5 min, reset after 10 min) so that a soak of hundreds of kills
    // fits in a test's minutes and still shows the cap.
    limits.restart_max_delay = std::chrono::milliseconds(400);
    limits.restart_reset_after = std::chrono::seconds(10);
    limits.teardown_task_exit_timeout = std::chrono::seconds(5);
    limits.teardown_process_exit_timeout = std::chrono::seconds(5);
    limits.runtime_ready_timeout = std::chrono::seconds(30);
  }
  return limits;
}

// One `run` per state folder: an flock on <state_dir>/run.lock, held for the life of the process
// (the kernel drops it when the process dies, so a lock of a dead run is simply taken over).
Status lock_state_dir(Daemon& d) {
  const auto path = std::filesystem::path(d.state_dir()) / kLockFile;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return make_error(ErrorKind::kIo, path.string() + ": cannot open the state lock: " + std::strerror(errno) +
                                          " (it must be a regular file, not a symbolic link)");
  }
  char text[32] = {0};
  const auto n = ::pread(fd, text, sizeof text - 1, 0);
  const std::string holder = n > 0 ? std::string(text, static_cast<std::size_t>(n)) : std::string();
  const auto holder_pid = std::strtol(holder.c_str(), nullptr, 10);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return make_error(ErrorKind::kIo,
                        "another `k3s-daas run` (pid " + (holder_pid > 0 ? std::to_string(holder_pid) : "unknown") +
                            ") is using state_dir " + d.state_dir() + " (lock " + path.string() +
                            "); one agent per state folder: stop it first (systemctl stop k3s-daas)");
    }
    return make_error(ErrorKind::kIo, path.string() + ": flock: " + std::strerror(err));
  }
  if (holder_pid > 0 && holder_pid != ::getpid()) {
    K3S_LOG(kDaemon, info, "state lock {} taken over from an earlier run (pid {}, no longer running)", path.string(),
            holder_pid);
  }
  const std::string mine = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, mine.data(), mine.size(), 0) != static_cast<ssize_t>(mine.size())) {
    K3S_LOG(kDaemon, warn, "cannot write our pid into {}: {}", path.string(), std::strerror(errno));
  }
  d.lock_fd = fd;
  return {};
}

// The heartbeat sequence floor persisted by an earlier run (0 when none).
std::uint64_t read_sequence_floor(const std::filesystem::path& state_dir) {
  auto text = fs::read_state_file(state_dir / kSequenceFile, 64 * 1024);  // never through a link
  if (!text.ok()) {
    K3S_LOG(kDaemon, warn, "{}; ignored (heartbeat numbers still follow the clock)", text.error().message);
    return 0;
  }
  if (!*text) return 0;
  auto floor = parse_sequence_floor(**text);
  if (!floor.ok()) {
    K3S_LOG(kDaemon, warn, "{}: {}; ignored (heartbeat numbers still follow the clock)",
            (state_dir / kSequenceFile).string(), floor.error().message);
    return 0;
  }
  return *floor;
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
  if (!att.allow_debug && !att.on_chain() && (att.pcr0.empty() || att.pcr1.empty() || att.pcr2.empty())) {
    return fail(d,
                make_error(ErrorKind::kConfig,
                           d.config->source_path.string() +
                               ": master.attestation.pcr0/pcr1/pcr2: the daemon refuses to trust a master while "
                               "they are unset; set the enclave's PCR values, or root the trust on chain with "
                               "enclave_config_object_id, enclave_package_id and enclave_app_type (allow_debug only "
                               "for debug enclaves)"));
  }
  if (auto made = fs::ensure_dir(d.state_dir(), 0700); !made.ok()) return fail(d, made.error());
  if (auto locked = lock_state_dir(d); !locked.ok()) return fail(d, locked.error());
  d.supervisor = std::make_unique<supervisor::Supervisor>(supervisor_limits(d));
  if (auto handled = d.supervisor->handle_signals({SIGTERM, SIGINT, SIGHUP}); !handled.ok()) {
    return fail(d, handled.error());
  }
  supervisor::Supervisor* sup = d.supervisor.get();
  d.chain_lane = std::make_unique<IoLane>("chain", [sup] { sup->wake(); });
  d.master_lane = std::make_unique<IoLane>("master", [sup] { sup->wake(); });
  std::uint64_t watchdog_usec = 0;
  if (::sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
    d.watchdog_interval_ms = std::max<std::int64_t>(1, static_cast<std::int64_t>(watchdog_usec / 2000));
    K3S_LOG(kDaemon, info, "systemd watchdog: {} ms; pinging every {} ms while the loop turns", watchdog_usec / 1000,
            d.watchdog_interval_ms);
  }
  const auto legacy_cursor = std::filesystem::path(d.state_dir()) / kLegacySlashCursorFile;
  std::error_code ec;
  if (std::filesystem::remove(legacy_cursor, ec)) {
    K3S_LOG(kDaemon, info, "removed {} (SlashEvents are no longer polled; the watch reads the StakeRecord)",
            legacy_cursor.string());
  }
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
  options.abort = d.abort_io;
  auto chain = sui::make_chain_client(options);
  if (!chain.ok()) return fail(d, chain.error());
  d.chain = std::move(chain).value();
  auto settings = sui::StakingSettings::from_config(*d.config);
  if (!settings.ok()) return fail(d, settings.error());
  d.staking = std::make_unique<sui::StakingClient>(*d.chain, *d.key, std::move(settings).value());

  sui::StakingClient* staking = d.staking.get();
  auto found = with_startup_retry<std::optional<sui::StakeRecord>>(
      d, "reading the StakeRecord", *d.chain_lane, [staking] { return staking->find_record(); }, not_config_error,
      std::chrono::milliseconds(d.config->sui.request_timeout_ms) * 4);
  if (!found) return d.exit_status;
  if (!found->ok()) return fail(d, found->error());
  auto& record = found->value();
  const std::string stake_hint = "; run `k3s-daas stake` (then start the service again)";
  if (!record) {
    return fail(d, make_error(ErrorKind::kNotStaked, "node " + d.config->node_id + " is not staked (address " +
                                                         d.key->address().to_hex() + ")" + stake_hint));
  }
  d.record = *record;
  d.last_watch_ok_ms = now_unix_ms();
  if (record->staker != d.key->address()) {
    return fail(d, make_error(ErrorKind::kNotStaked, "StakeRecord " + record->id.to_hex() + " belongs to " +
                                                         record->staker.to_hex() + ", not to this key" + stake_hint));
  }
  if (record->status == static_cast<std::uint8_t>(sui::StakeStatus::kSlashed)) {
    slashed(d, *record, "found at start-up");
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
  d.metrics->handles().chain_last_ok_seconds->Set(static_cast<double>(d.last_watch_ok_ms) / 1000.0);
  return exit_code::kOk;
}

// Stage 6. Preconditions: config, PCRs set (stage 1). Trusts the master only after its
// attestation verified; retried with backoff.
int stage_attest(Daemon& d) {
  banner(d, 6, "attest master");
  auto options = master::MasterClientOptions::from_config(*d.config, build_info::kVersion);
  if (!options.ok()) return fail(d, options.error());
  options->retry.max_attempts = 1;  // the daemon paces retries itself, keeping its loop alive
  options->abort = d.abort_io;
  // Heartbeat numbers strictly increase across restarts, even with the clock stepped back: a
  // floor is persisted ahead of the numbers in use (one write about every hour).
  const std::uint64_t floor = read_sequence_floor(d.state_dir());
  d.sequence_reserved->store(floor);
  // Runs on the master lane: while the write fails (read-only or full state_dir) it is tried at
  // every heartbeat, counted each time and logged once a minute.
  options->on_sequence = [path = std::filesystem::path(d.state_dir()) / kSequenceFile, reserved = d.sequence_reserved,
                          ahead = d.limits.sequence_reserve_ms, failures = d.metrics->handles().state_write_failures,
                          last_warning = std::make_shared<std::int64_t>(0)](std::uint64_t seq) {
    if (seq < reserved->load()) return;
    const std::uint64_t next = seq + ahead;
    fs::WriteOptions write;
    write.mode = 0600;
    auto written = fs::atomic_write_file(path, nlohmann::json({{"floor", next}}).dump() + "\n", write);
    if (!written.ok()) {
      failures->Increment();
      if (*last_warning == 0 || monotonic_ms() - *last_warning >= 60000) {
        *last_warning = monotonic_ms();
        K3S_LOG(kDaemon, warn, "cannot persist the heartbeat sequence floor (numbers still follow the clock): {}",
                written.error().message);
      }
      return;
    }
    reserved->store(next);
  };
  auto client = master::MasterClient::create(std::move(options).value());
  if (!client.ok()) return fail(d, client.error());
  d.master = std::make_unique<master::MasterClient>(std::move(client).value());
  if (floor > 0) d.master->set_sequence_floor(floor);
  master::MasterClient* master = d.master.get();
  auto trusted = with_startup_retry<master::TrustedMaster>(
      d, "attesting the master", *d.master_lane, [master] { return master->attest(); }, not_config_error,
      std::chrono::milliseconds(d.config->master.request_timeout_ms));
  if (!trusted) return d.exit_status;
  if (!trusted->ok()) return fail(d, trusted->error());
  d.enclave_key = trusted->value().enclave_key;
  d.on_chain = trusted->value().on_chain;
  K3S_LOG(kDaemon, info, "master attested: enclave key {}{}", hex_encode(d.enclave_key),
          d.on_chain ? " (registered on chain: Enclave " + d.on_chain->enclave_id + ")" : "");
  return exit_code::kOk;
}

// Stage 7. Preconditions: an attested master, an ACTIVE record. Registers with a fresh seal
// token; MasterClient writes the join token 0600 into the state folder.
int stage_register(Daemon& d) {
  banner(d, 7, "issue seal token and register");
  if (auto issued = issue_seal_token(d); !issued.ok()) return fail(d, issued.error());
  auto info = master::collect_node_info();
  if (!info.ok()) return fail(d, info.error());
  d.node_info = *info;
  master::MasterClient* master = d.master.get();
  auto ack = with_startup_retry<master::RegisterAck>(
      d, "registering with the master", *d.master_lane,
      [master, token = d.seal_token->text, info = d.node_info] { return master->register_worker(token, info); },
      not_config_error, std::chrono::milliseconds(d.config->master.request_timeout_ms));
  if (!ack) return d.exit_status;
  if (!ack->ok()) return fail(d, ack->error());
  d.registration = ack->value();
  d.take_master_interval(d.registration->heartbeat_interval_ms);
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
  std::error_code ec;
  const auto drained_marker = std::filesystem::path(d.state_dir()) / kDrainedFile;
  const auto marker_status = std::filesystem::symlink_status(drained_marker, ec);  // the entry itself
  if (std::filesystem::exists(marker_status)) {
    if (std::filesystem::is_symlink(marker_status)) {
      K3S_LOG(kDaemon, warn, "{} is a symbolic link (not written by the agent); it is never followed, and counts as "
                             "a drain (k3s stays stopped) until the master sends resume", drained_marker.string());
    }
    d.drained = true;
    K3S_LOG(kDaemon, warn, "the master drained this node before the restart: k3s stays stopped until it sends resume");
    return exit_code::kOk;
  }
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
  // The watchdog ping is sent from here, the loop's own turn: a loop that stops turning stops
  // pinging, and systemd restarts the agent (a timer thread would ping while the loop is stuck).
  if (watchdog_interval_ms > 0) {
    const auto now = monotonic_ms();
    if (now >= next_watchdog_ms) {
      notify("WATCHDOG=1");
      ++watchdog_pings;
      next_watchdog_ms = now + watchdog_interval_ms;
    }
    wait = std::min(wait, std::chrono::milliseconds(std::max<std::int64_t>(0, next_watchdog_ms - now)));
  }
  if (supervisor) {
    supervisor->poll_once(wait);
    while (auto signal_number = supervisor->take_signal()) {
      if (*signal_number == SIGHUP) {
        reload();
        continue;
      }
      K3S_LOG(kDaemon, info, "signal {} ({}): orderly stop", *signal_number, ::strsignal(*signal_number));
      interrupt();
    }
  } else {
    std::this_thread::sleep_for(wait);
  }
  return !interrupted;
}

void Daemon::reload() {
  K3S_LOG(kDaemon, info, "SIGHUP: reloading {}", run_options.config_path.string());
  auto loaded = config::load(run_options.config_path);
  if (!loaded.ok()) {
    ++config_reload_failures;
    if (metrics) metrics->handles().config_reload_failures->Increment();
    K3S_LOG(kDaemon, error, "reload refused, the running config stays: {}", loaded.error().message);
    return;
  }
  config::Config next = std::move(loaded).value();
  // What changes at run time: logging, the chain poll interval, the heartbeat interval (until the
  // master gives one), the seal token lifetime (from the next renewal).
  std::vector<std::string> applied;
  if (next.log.level != config->log.level && run_options.log_level.empty()) {
    log::Options log_options;
    log_options.level = next.log.level;
    log_options.format = config->log.format == "json" ? log::Format::kJson : log::Format::kText;
    log_options.node_id = config->node_id;
    if (auto ok = log::init(log_options); ok.ok()) applied.push_back("log.level");
  }
  auto take = [&](auto& mine, const auto& theirs, const char* key) {
    if (mine != theirs) {
      mine = theirs;
      applied.emplace_back(key);
    }
  };
  take(config->sui.poll_interval_ms, next.sui.poll_interval_ms, "sui.poll_interval_ms");
  if (config->master.heartbeat_interval_ms != next.master.heartbeat_interval_ms &&
      (!registration || registration->heartbeat_interval_ms == 0)) {
    heartbeat_interval_ms = next.master.heartbeat_interval_ms;
  }
  take(config->master.heartbeat_interval_ms, next.master.heartbeat_interval_ms, "master.heartbeat_interval_ms");
  take(config->master.seal_token_ttl_s, next.master.seal_token_ttl_s, "master.seal_token_ttl_s");
  config->log.level = next.log.level;
  // Everything else is named: it needs a restart (systemctl restart k3s-daas).
  std::vector<std::string> restart;
  const auto before = config::to_json(*config, false);
  const auto after = config::to_json(next, false);
  for (const auto& change : nlohmann::json::diff(before, after)) {
    auto path = change.value("path", std::string());
    std::replace(path.begin(), path.end(), '/', '.');
    if (!path.empty() && path.front() == '.') path.erase(0, 1);
    if (std::find(restart.begin(), restart.end(), path) == restart.end()) restart.push_back(path);
  }
  auto join = [](const std::vector<std::string>& keys) {
    std::string text;
    for (const auto& k : keys) text += (text.empty() ? "" : ", ") + k;
    return text.empty() ? std::string("none") : text;
  };
  K3S_LOG(kDaemon, info, "reload: applied {}", join(applied));
  if (!restart.empty()) {
    K3S_LOG(kDaemon, warn, "reload: changed but only applied by a restart (systemctl restart k3s-daas): {}", join(restart));
  }
}

void Daemon::notify(const std::string& state) { ::sd_notify(0, state.c_str()); }

void Daemon::shutdown() {
  if (shut_down) return;
  shut_down = true;
  const auto stop_budget = this->stop_budget();
  if (config) notify("STOPPING=1\nSTATUS=stopping\n" + extend_timeout(stop_budget * 2));
  // Deregistration (master.deregister_on_stop) on an orderly stop only, bounded in time.
  if (config && config->master.deregister_on_stop && exit_status == exit_code::kOk && registration && master &&
      master_lane && seal_token) {
    const auto deadline = monotonic_ms() + 2 * static_cast<std::int64_t>(config->master.request_timeout_ms) + 1000;
    while (master_lane->busy() && monotonic_ms() < deadline) {
      if (supervisor) supervisor->poll_once(std::chrono::milliseconds(100));
      master_lane->drain();
    }
    if (!master_lane->busy()) {
      auto done = std::make_shared<std::optional<Result<master::DeregisterAck>>>();
      master::MasterClient* client = master.get();
      master_lane->submit([done, client, token = seal_token->text]() -> IoLane::Completion {
        auto ack = client->deregister(token, "orderly stop");
        return [done, ack = std::move(ack)]() { *done = ack; };
      });
      while (!*done && monotonic_ms() < deadline) {
        if (supervisor) supervisor->poll_once(std::chrono::milliseconds(100));
        master_lane->drain();
      }
      if (!*done) {
        K3S_LOG(kDaemon, warn, "deregistering: the master did not answer in time; stopping anyway");
      } else if (!(*done)->ok()) {
        K3S_LOG(kDaemon, warn, "deregistering failed (stopping anyway): {}", (*done)->error().message);
      } else {
        K3S_LOG(kDaemon, info, "deregistered from the master");
      }
    }
  }
  // Requests still in progress end within about a second; then the lanes' threads are joined
  // before the clients they use are destroyed.
  abort_io->store(true);
  for (IoLane* lane : {chain_lane.get(), master_lane.get()}) {
    if (lane) lane->stop();
  }
  for (IoLane* lane : {chain_lane.get(), master_lane.get()}) {
    if (lane) lane->join();
  }
  if (node_started && node) {
    K3S_LOG(kDaemon, info, "stopping the k3s agent, then the runtime (pods' data stays)");
    if (!node->stop(stop_budget)) {
      K3S_LOG(kDaemon, error, "the node did not stop within {} s",
              std::chrono::duration_cast<std::chrono::seconds>(stop_budget).count());
    }
  }
  node.reset();
  chain_lane.reset();
  master_lane.reset();
  if (master) master.reset();
  if (metrics) metrics.reset();
  // Only the run that holds the state lock writes state: a refused second run leaves the status
  // file of the running one alone.
  if (config && lock_fd >= 0) {
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
  d.shutdown();
  K3S_LOG(kDaemon, info, "exit {}", code);
  return code;
}

}  // namespace k3s_daas::daemon
