// The main loop: one thread that never waits on the network. Each turn runs the supervisor's
// poll_once() (children, signals, the watchdog ping), the completions of the I/O lanes, then the
// due timers: the StakeRecord watch (chain lane), the master exchange (master lane), seal-token
// renewal and the status file.
#include <unistd.h>

#include <algorithm>
#include <random>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "daemon_context.hpp"
#include "k3s_daas/fs.hpp"
#include "k3s_daas/log.hpp"

namespace k3s_daas::daemon {
namespace {

using std::chrono::milliseconds;

std::string status_of(std::uint8_t status) { return sui::stake_status_name(status); }

bool is_slashed(const Daemon& d, const sui::StakeRecord& r) {
  return r.status == static_cast<std::uint8_t>(sui::StakeStatus::kSlashed) || r.amount < d.config->sui.min_stake_mist;
}

std::int64_t poll_ms(const Daemon& d) { return static_cast<std::int64_t>(d.config->sui.poll_interval_ms); }

// The next period of a schedule: the interval less up to 10 %, drawn each time, so that the
// nodes of a fleet started together drift apart instead of calling the chain and the master in
// the same second, and never later than the interval (the detection bound holds).
std::int64_t jittered(std::int64_t interval_ms) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  if (interval_ms < 10) return interval_ms;
  std::uniform_int_distribution<std::int64_t> less(0, interval_ms / 10);
  return interval_ms - less(rng);
}

// The first period after start: anywhere from a tenth of the interval to the whole of it, so that
// a fleet started within a few seconds (a reboot, an autoscaling event) does not keep checking
// the chain and heartbeating in step: 10 % jitter per period alone left 50 agents started over 8 s
// with their heartbeats inside one 5 s window, and a master restart met them all at once
// (bench/fleet). Never later than the interval: the detection bound holds.
std::int64_t first_period(std::int64_t interval_ms) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  if (interval_ms < 10) return interval_ms;
  std::uniform_int_distribution<std::int64_t> phase(interval_ms / 10, interval_ms);
  return phase(rng);
}

// A chain error is never a slash: count, log, space the next checks out (exponential backoff
// with jitter from sui.poll_interval_ms up to record_read_max, 60 s), carry on.
void count_chain_failure(Daemon& d, const std::string& what, const Error& error) {
  ++d.chain_failures;
  d.last_error = what + ": " + error.message;
  if (!d.chain_backoff) d.chain_backoff.emplace(milliseconds(poll_ms(d)), d.limits.record_read_max);
  const auto delay = std::clamp<std::int64_t>(d.chain_backoff->next().count(), poll_ms(d),
                                              std::max<std::int64_t>(poll_ms(d), d.limits.record_read_max.count()));
  d.next_watch_ms = monotonic_ms() + delay;
  K3S_LOG(kDaemon, warn, "{} failed (not a slash; next check in {} ms): {}", what, delay, error.message);
}

// Every failed chain request, each attempt on each endpoint, from the chain client's endpoint
// health: one the client's retry or fail-over absorbed is counted too, so a flaky endpoint shows
// in /metrics while the checks still succeed. `total` is read on the chain lane.
void sync_chain_request_failures(Daemon& d, std::uint64_t total) {
  if (total <= d.chain_request_failures) return;
  d.metrics->handles().chain_requests_failed->Increment(static_cast<double>(total - d.chain_request_failures));
  d.chain_request_failures = total;
}

std::uint64_t request_failures(const sui::ChainClient& chain) {
  std::uint64_t total = 0;
  for (const auto& endpoint : chain.health()) total += endpoint.failures;
  return total;
}

void chain_ok(Daemon& d) {
  if (d.chain_backoff) K3S_LOG(kDaemon, info, "the chain answers again");
  d.chain_backoff.reset();
  d.last_watch_ok_ms = now_unix_ms();
  d.metrics->handles().chain_last_ok_seconds->Set(static_cast<double>(d.last_watch_ok_ms) / 1000.0);
}

// ---------------------------------------------------------------- the slash watch

// A fresh StakeRecord from the chain: slashed -> the slash path; withdrawn -> orderly stop (80);
// a lower amount still at or above the minimum -> partial slash, keep serving.
void apply_record(Daemon& d, const sui::StakeRecord& record, const std::string& why) {
  const auto previous = *d.record;
  const auto claim = d.master_claim;
  d.master_claim = master::Command::kNone;
  d.record = record;
  auto& m = d.metrics->handles();
  m.stake_amount_mist->Set(static_cast<double>(record.amount));
  m.stake_status->Set(record.status);
  if (record.version != previous.version) {
    K3S_LOG(kDaemon, info, "StakeRecord changed ({}): version {} -> {}, {} MIST, {}{}", why, previous.version,
            record.version, record.amount, status_of(record.status),
            record.last_tx.empty() ? "" : ", by tx " + record.last_tx);
  }
  if (is_slashed(d, record)) return slashed(d, record, why);
  if (record.status == static_cast<std::uint8_t>(sui::StakeStatus::kWithdrawn)) {
    K3S_LOG(kDaemon, warn, "the stake was withdrawn on chain ({}): orderly stop (exit 80)", why);
    d.loop_end = LoopEnd::kWithdrawn;
    d.exit_status = exit_code::kNotStaked;
    return;
  }
  if (record.amount < previous.amount) {
    ++d.partial_slashes;
    m.partial_slashes->Increment();
    K3S_LOG(kDaemon, warn, "partial slash ({}): {} -> {} MIST, still at or above the minimum {}; keep serving", why,
            previous.amount, record.amount, d.config->sui.min_stake_mist);
  }
  if (claim == master::Command::kSlashed) {
    K3S_LOG(kDaemon, warn, "the master says slashed, the chain does not (StakeRecord version {}: {}, {} MIST): ignored",
            record.version, status_of(record.status), record.amount);
  } else if (claim == master::Command::kDeregistered) {
    K3S_LOG(kDaemon, warn, "the master says deregistered, the stake is still {} on chain: ignored",
            status_of(record.status));
  }
}

// One check: the record's version (one small request); the whole record only when the version
// moved, or when forced (a master claim). Runs on the chain lane.
void start_watch(Daemon& d) {
  const bool forced = d.watch_forced;
  const std::string why = forced ? d.watch_reason : "periodic check";
  d.watch_forced = false;
  d.next_watch_ms = monotonic_ms() + jittered(poll_ms(d));
  ++d.watch_checks;
  const auto id = d.record->id;
  const auto known = d.record->version;
  sui::ChainClient* chain = d.chain.get();
  sui::StakingClient* staking = d.staking.get();
  d.chain_lane->submit([&d, chain, staking, id, known, forced, why]() -> IoLane::Completion {
    auto version = chain->get_object_version(id);
    std::optional<Result<sui::StakeRecord>> record;
    if (version.ok() && *version && (forced || (*version)->ref.version != known)) record = staking->read_record(id);
    const auto failed_requests = request_failures(*chain);
    return [&d, version = std::move(version), record = std::move(record), why, failed_requests]() {
      if (d.loop_end != LoopEnd::kNone) return;
      sync_chain_request_failures(d, failed_requests);
      if (!version.ok()) return count_chain_failure(d, "checking the StakeRecord version", version.error());
      if (!*version) {
        d.metrics->handles().chain_requests_failed->Increment();  // an answer without the record
        return count_chain_failure(d, "checking the StakeRecord",
                                   make_error(ErrorKind::kNotFound, "StakeRecord " + d.record->id.to_hex() +
                                                                        " is not on the chain (endpoint behind?)"));
      }
      if (!record) {
        chain_ok(d);
        return;
      }
      if (!record->ok()) return count_chain_failure(d, "reading the StakeRecord", record->error());
      chain_ok(d);
      ++d.record_reads;
      apply_record(d, record->value(), why);
    };
  });
}

// A master claim (command 3 or 4) or any other reason to look now: a forced full read as soon as
// the chain lane is free. The claim itself is never acted on; the record is.
void request_check(Daemon& d, const std::string& why, master::Command claim) {
  d.watch_forced = true;
  d.watch_reason = why;
  if (claim != master::Command::kNone) d.master_claim = claim;
}

// ---------------------------------------------------------------- the master

master::HeartbeatReport report_of(Daemon& d) {
  master::HeartbeatReport report;
  report.stake.stake_id = d.record->id.to_hex();
  report.stake.amount = d.record->amount;
  report.stake.status = d.record->status;
  auto node = d.node->status(true);
  if (node.k3s) {
    report.k3s.state = d.drained ? "drained" : supervisor::state_name(node.k3s->state);
    report.k3s.restarts = node.k3s->restarts;
    if (node.k3s->pid > 0) report.k3s.pid = node.k3s->pid;
  } else {
    report.k3s.state = d.drained ? "drained" : "stopped";
  }
  report.runtime.type = node.runtime_type;
  report.runtime.state = node.runtime_state;
  if (!node.runtime_version.empty()) report.runtime.version = node.runtime_version;
  report.running_containers = static_cast<std::uint32_t>(node.running_containers.value_or(0));
  if (!d.sampler) d.sampler.emplace();
  auto resources = d.sampler->sample();
  if (resources.ok()) report.resources = *resources;
  // Metrics of the node, refreshed at the heartbeat's pace.
  auto& m = d.metrics->handles();
  m.k3s_up->Set(node.k3s && d.supervisor->is_up(runtime::kK3sChild) ? 1 : 0);
  if (node.k3s && node.k3s->restarts > d.last_k3s_restarts) {
    m.k3s_restarts->Increment(node.k3s->restarts - d.last_k3s_restarts);
    d.last_k3s_restarts = node.k3s->restarts;
  }
  if (node.containerd && node.containerd->restarts > d.last_runtime_restarts) {
    m.runtime_restarts->Increment(node.containerd->restarts - d.last_runtime_restarts);
    d.last_runtime_restarts = node.containerd->restarts;
  }
  m.runtime_up->Set(node.runtime_state == "ready" ? 1 : 0);
  m.running_containers->Set(report.running_containers);
  m.crash_loop->Set((node.k3s && node.k3s->crash_loop) || (node.containerd && node.containerd->crash_loop) ? 1 : 0);
  return report;
}

void renew_seal_token(Daemon& d, const char* why) {
  auto issued = issue_seal_token(d);
  if (!issued.ok()) {
    K3S_LOG(kDaemon, error, "renewing the seal token failed: {}", issued.error().message);
    return;
  }
  K3S_LOG(kDaemon, info, "seal token renewed ({}), expires at {} ms", why, d.seal_token->payload.expires_at_ms);
}

void sync_master_counters(Daemon& d, const master::Counters& counters) {
  auto& m = d.metrics->handles();
  const double rejected_delta = static_cast<double>(counters.answers_rejected) - m.master_answers_rejected->Value();
  if (rejected_delta > 0) m.master_answers_rejected->Increment(rejected_delta);
}

// A master exchange failed: never touches k3s. Back off (1 s doubling, jitter, cap 60 s) and
// choose what to try next.
void master_failed(Daemon& d, const char* what, const Error& error, MasterStep next) {
  ++d.heartbeat_failures;
  // The master refused the seal token for its times (protocol reasons issued_in_future and
  // expired): it was made under a wall clock that has stepped since, or ran out. The next try
  // carries a new one made from the clock as it is now (cheap: a local signature).
  const bool token_times = error.reason == "issued_in_future" || error.reason == "expired";
  if (token_times && d.seal_token) renew_seal_token(d, "the master refused its issue or expiry time");
  d.last_error = std::string(what) + ": " + error.message;
  auto& m = d.metrics->handles();
  if (d.master_next == MasterStep::kHeartbeat) m.heartbeats_failed->Increment();
  m.master_reachable->Set(error.transient() ? 0 : 1);
  if (d.master_failing_since_ms == 0) d.master_failing_since_ms = now_unix_ms();
  // Jitter over 90 % of each step (not 50 %): after a master restart a whole fleet retries, and
  // the wider spread flattens the burst the master meets when it comes back (bench/fleet).
  // An answer that changes the plan (a new enclave key, a master that forgot the node) means the
  // master is up again: the new step starts from the first backoff step, not from where the
  // outage left the old one (tens of seconds).
  if (next != d.master_next && !error.transient()) d.master_backoff.reset();
  if (!d.master_backoff) d.master_backoff.emplace(d.limits.heartbeat_retry_initial, d.limits.retry_cap, 0.9);
  const std::int64_t delay = d.master_backoff->next().count();
  d.master_next = next;
  d.next_master_ms = monotonic_ms() + delay;
  const char* then = next == MasterStep::kAttest     ? "attest the master again"
                     : next == MasterStep::kRegister ? "register again"
                                                     : "retry";
  K3S_LOG(kDaemon, warn, "{} failed (k3s keeps running; {} in {} ms): {}", what, then, delay, error.message);
}

void master_ok(Daemon& d) {
  if (d.master_failing_since_ms != 0) {
    K3S_LOG(kDaemon, info, "the master answers again (after {} s)", (now_unix_ms() - d.master_failing_since_ms) / 1000);
  }
  d.master_failing_since_ms = 0;
  d.master_backoff.reset();
  d.metrics->handles().master_reachable->Set(1);
}

void act_on_command(Daemon& d, master::Command command) {
  using master::Command;
  if (command == Command::kNone) return;
  d.last_command = master::command_name(command);
  K3S_LOG(kDaemon, info, "master command {} ({})", static_cast<int>(command), master::command_name(command));
  switch (command) {
    case Command::kRenewSealToken:
      renew_seal_token(d, "the master asked");
      break;
    case Command::kDrain:
      if (!d.drained) {
        K3S_LOG(kDaemon, warn, "drain: stopping the k3s agent; the stake and the runtime stay until the master sends resume");
        d.drained = true;
        persist_drained(d, true);
        d.supervisor->stop(runtime::kK3sChild);
      }
      break;
    case Command::kResume:
      if (!d.drained) {
        K3S_LOG(kDaemon, info, "resume: the node is not drained; nothing to do");
        break;
      }
      K3S_LOG(kDaemon, info, "resume: starting the k3s agent again");
      d.drained = false;
      persist_drained(d, false);
      if (auto started = d.node->start_k3s(d.registration->k3s_server_url, d.registration->join_token_file);
          !started.ok()) {
        K3S_LOG(kDaemon, error, "resume: starting the k3s agent failed: {}", started.error().message);
      } else if (auto up = d.supervisor->start(runtime::kK3sChild); !up.ok()) {
        K3S_LOG(kDaemon, error, "resume: starting the k3s agent failed: {}", up.error().message);
      }
      break;
    case Command::kSlashed:
      // Acted on only once the chain confirms it (protocol.md sections 4 and 5).
      request_check(d, "master command 3 (slashed)", command);
      break;
    case Command::kDeregistered:
      // Slashed on chain -> slash path; withdrawn -> orderly stop (80); active -> ignored.
      request_check(d, "master command 4 (deregistered)", command);
      break;
    default:
      K3S_LOG(kDaemon, warn, "unknown master command {}: ignored", static_cast<int>(command));
      break;
  }
}

void start_heartbeat(Daemon& d) {
  auto report = report_of(d);
  master::MasterClient* client = d.master.get();
  std::string token = d.seal_token->text;
  d.master_lane->submit([&d, client, report = std::move(report), token = std::move(token)]() -> IoLane::Completion {
    auto ack = client->heartbeat(token, report);
    const auto counters = client->counters();
    const auto seq = client->last_sequence();
    return [&d, ack = std::move(ack), counters, seq]() {
      if (d.loop_end != LoopEnd::kNone) return;
      d.last_seq = seq;
      sync_master_counters(d, counters);
      if (!ack.ok()) {
        MasterStep next = MasterStep::kHeartbeat;
        // An answer signed by another key: the master may have restarted with a new enclave
        // key. Trust it again only through a fresh attestation (and then register again).
        // The master refusing a token made for another audience says the same from its side.
        const auto& reason = ack.error().reason;
        if (counters.rejected_signature > d.master_rejected_signature || reason == "wrong_audience") {
          next = MasterStep::kAttest;
        }
        if (reason == "not_registered") next = MasterStep::kRegister;
        d.master_rejected_signature = counters.rejected_signature;
        return master_failed(d, "heartbeat", ack.error(), next);
      }
      master_ok(d);
      const bool first = d.heartbeats_ok == 0;
      ++d.heartbeats_ok;
      d.last_heartbeat_ok_ms = now_unix_ms();
      d.metrics->handles().heartbeats_sent->Increment();
      d.take_master_interval(ack->heartbeat_interval_ms);
      const auto interval = static_cast<std::int64_t>(d.heartbeat_interval_ms);
      d.next_master_ms = monotonic_ms() + (first ? first_period(interval) : jittered(interval));
      act_on_command(d, ack->command);
    };
  });
}

void start_attest(Daemon& d) {
  master::MasterClient* client = d.master.get();
  K3S_LOG(kDaemon, info, "attesting the master again before trusting any new key");
  d.master_lane->submit([&d, client]() -> IoLane::Completion {
    auto trusted = client->attest();
    const auto counters = client->counters();
    return [&d, trusted = std::move(trusted), counters]() {
      if (d.loop_end != LoopEnd::kNone) return;
      sync_master_counters(d, counters);
      d.master_rejected_signature = counters.rejected_signature;
      if (!trusted.ok()) return master_failed(d, "re-attesting the master", trusted.error(), MasterStep::kAttest);
      ++d.reattestations;
      const bool changed = trusted->enclave_key != d.enclave_key;
      K3S_LOG(kDaemon, warn, "master attested again: enclave key {}{}", hex_encode(trusted->enclave_key),
              changed ? " (a new key: registering again)" : " (unchanged)");
      d.enclave_key = trusted->enclave_key;
      d.on_chain = trusted->on_chain;
      renew_seal_token(d, "new attestation");  // its audience is the attested key
      d.master_next = MasterStep::kRegister;
      d.next_master_ms = monotonic_ms();
    };
  });
}

void start_register(Daemon& d) {
  master::MasterClient* client = d.master.get();
  std::string token = d.seal_token->text;
  auto info = d.node_info;
  d.master_lane->submit([&d, client, token = std::move(token), info]() -> IoLane::Completion {
    auto ack = client->register_worker(token, info);
    const auto counters = client->counters();
    return [&d, ack = std::move(ack), counters]() {
      if (d.loop_end != LoopEnd::kNone) return;
      sync_master_counters(d, counters);
      if (!ack.ok()) {
        const auto next =
            counters.rejected_signature > d.master_rejected_signature || ack.error().reason == "wrong_audience"
                ? MasterStep::kAttest
                : MasterStep::kRegister;
        d.master_rejected_signature = counters.rejected_signature;
        return master_failed(d, "re-registration", ack.error(), next);
      }
      master_ok(d);
      d.registration = *ack;
      d.take_master_interval(ack->heartbeat_interval_ms);
      K3S_LOG(kDaemon, info, "registered again; k3s keeps running (a new token file applies at its next start)");
      if (!d.drained) {
        auto updated = d.node->start_k3s(ack->k3s_server_url, ack->join_token_file);
        if (!updated.ok()) K3S_LOG(kDaemon, error, "updating the k3s command line failed: {}", updated.error().message);
      }
      d.master_next = MasterStep::kHeartbeat;
      d.next_master_ms = monotonic_ms();
    };
  });
}

void start_master_step(Daemon& d) {
  switch (d.master_next) {
    case MasterStep::kAttest: return start_attest(d);
    case MasterStep::kRegister: return start_register(d);
    case MasterStep::kHeartbeat: return start_heartbeat(d);
  }
}

// ---------------------------------------------------------------- systemd STATUS=

std::string status_line(const Daemon& d) {
  std::string line = d.drained ? "drained by the master" : (d.supervisor->is_up(runtime::kK3sChild) ? "running" : "starting k3s");
  if (d.master_failing_since_ms != 0) {
    line += d.master_next == MasterStep::kAttest ? "; re-attesting the master" : "; master unreachable";
  }
  if (d.chain_backoff) line += "; chain unreachable";
  return line;
}

}  // namespace

Status issue_seal_token(Daemon& d) {
  seal::IssueOptions options;
  options.node_id = d.config->node_id;
  options.stake_id = d.record->id;
  options.audience = d.enclave_key;
  options.ttl = std::chrono::seconds(d.config->master.seal_token_ttl_s);
  K3S_ASSIGN(auto token, seal::issue(*d.key, options));
  d.seal_token = std::move(token);
  d.metrics->handles().seal_token_expires_at_seconds->Set(static_cast<double>(d.seal_token->payload.expires_at_ms) /
                                                          1000.0);
  return {};
}

void persist_drained(Daemon& d, bool drained) {
  const auto path = std::filesystem::path(d.state_dir()) / kDrainedFile;
  if (!drained) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    return;
  }
  fs::WriteOptions options;
  options.mode = 0644;
  auto written = fs::atomic_write_file(path, nlohmann::json({{"since_ms", now_unix_ms()}}).dump() + "\n", options);
  d.state_write_done("the drain record", written);
}

void Daemon::state_write_done(const char* what, const Status& written) {
  const std::int64_t now = monotonic_ms();
  if (written.ok()) {
    if (state_write_failing_since_ms != 0) {
      K3S_LOG(kDaemon, info, "state_dir {} is writable again ({} writes had failed over {} s)", state_dir(),
              state_write_failures, (now - state_write_failing_since_ms) / 1000);
      state_write_failing_since_ms = 0;
    }
    return;
  }
  ++state_write_failures;
  if (metrics) metrics->handles().state_write_failures->Increment();
  // Every second while the folder is read-only or full: the first failure and then one line a
  // minute, with the count. The node keeps running: nothing it needs to serve is on that disk.
  if (state_write_failing_since_ms == 0 || now - state_write_logged_ms >= 60000) {
    K3S_LOG(kDaemon, warn, "cannot write {} into state_dir ({} failed writes so far; the node keeps running): {}", what,
            state_write_failures, written.error().message);
    state_write_logged_ms = now;
  }
  if (state_write_failing_since_ms == 0) state_write_failing_since_ms = now;
}

void Daemon::take_master_interval(std::uint64_t asked_ms) {
  if (asked_ms == 0) return;
  constexpr std::uint64_t kMin = 1000, kMax = 3600000;  // the range of master.heartbeat_interval_ms
  const std::uint64_t taken = std::clamp(asked_ms, kMin, kMax);
  if (taken != asked_ms && asked_ms != last_interval_held_back_ms) {  // once per value asked
    K3S_LOG(kDaemon, warn, "the master asks for a heartbeat every {} ms; using {} ms (the agent keeps to 1 s .. 1 h)",
            asked_ms, taken);
  }
  last_interval_held_back_ms = taken != asked_ms ? asked_ms : 0;
  heartbeat_interval_ms = taken;
}

bool Daemon::check_clock() {
  // The wall clock read between two monotonic reads: a thread descheduled in between (a loaded
  // host) would look like a step, so such a sample is left out.
  const std::int64_t before = monotonic_ms();
  const std::int64_t wall = now_unix_ms();
  const std::int64_t after = monotonic_ms();
  if (after - before > 50) return false;
  const std::int64_t offset = wall - after;
  bool stepped = false;
  if (clock_offset_ms && std::llabs(offset - *clock_offset_ms) > 2000) {
    stepped = true;
    const std::int64_t step = offset - *clock_offset_ms;
    ++clock_steps;
    last_clock_step_ms = step;
    if (metrics) metrics->handles().clock_steps->Increment();
    K3S_LOG(kDaemon, warn,
            "the wall clock stepped {} by {} s (against the monotonic clock): seal tokens, attestation and answer "
            "timestamps follow the wall clock; timers do not",
            step > 0 ? "forward" : "back", (std::llabs(step) + 500) / 1000);
  }
  clock_offset_ms = offset;
  return stepped;
}

void Daemon::write_status(const std::string& state) {
  nlohmann::json doc = {{"state", state},
                        {"pid", ::getpid()},
                        {"node_id", config->node_id},
                        {"stage", stage},
                        {"started_at_ms", started_at_ms},
                        {"updated_at_ms", now_unix_ms()}};
  if (state == "stopped" || state == "slashed") doc["exit_code"] = exit_status;
  if (record) {
    doc["stake"] = {{"stake_id", record->id.to_hex()},
                    {"amount_mist", record->amount},
                    {"status", status_of(record->status)},
                    {"version", record->version}};
  }
  doc["chain"] = {{"checks", watch_checks},
                  {"record_reads", record_reads},
                  {"last_ok_ms", last_watch_ok_ms},
                  {"failed_requests", chain_request_failures},
                  {"failing", chain_backoff.has_value()}};
  if (registration) {
    doc["master"] = {{"registered", true},
                     {"k3s_server_url", registration->k3s_server_url},
                     {"enclave_key", hex_encode(enclave_key)},
                     {"on_chain", on_chain ? nlohmann::json{{"enclave_id", on_chain->enclave_id},
                                                            {"enclave_config_id", on_chain->enclave_config_id},
                                                            {"config_version", on_chain->config_version}}
                                           : nlohmann::json(nullptr)},
                     {"heartbeats_ok", heartbeats_ok},
                     {"heartbeat_failures", heartbeat_failures},
                     {"last_heartbeat_ms", last_heartbeat_ok_ms},
                     {"last_seq", last_seq},
                     {"heartbeat_interval_ms", heartbeat_interval_ms},
                     {"reattestations", reattestations},
                     {"failing_since_ms", master_failing_since_ms},
                     {"last_command", last_command}};
  }
  if (seal_token) doc["seal_token_expires_at_ms"] = seal_token->payload.expires_at_ms;
  if (node && supervisor) {
    auto k3s = supervisor->status(runtime::kK3sChild);
    if (k3s) {
      doc["k3s"] = {{"state", drained ? "drained" : supervisor::state_name(k3s->state)},
                    {"pid", k3s->pid},
                    {"restarts", k3s->restarts}};
    }
    auto rt = supervisor->status(runtime::kContainerdChild);
    if (rt)
      doc["runtime"] = {{"type", config->runtime.type}, {"state", supervisor::state_name(rt->state)}, {"pid", rt->pid}};
  }
  doc["watchdog_pings"] = watchdog_pings;
  doc["chain_failures"] = chain_failures;
  doc["partial_slashes"] = partial_slashes;
  if (state_write_failures > 0) doc["state_write_failures"] = state_write_failures;
  if (clock_steps > 0) doc["clock"] = {{"steps", clock_steps}, {"last_step_ms", last_clock_step_ms}};
  if (config_reload_failures > 0) doc["config_reload_failures"] = config_reload_failures;
  if (!last_error.empty()) doc["last_error"] = log::redact(last_error);
  fs::WriteOptions options;
  options.mode = 0644;
  options.durable = false;  // advisory and rewritten every second: two fsyncs a second cost 5-18 ms here
  auto written =
      fs::atomic_write_file(std::filesystem::path(config->state_dir) / kRuntimeStatusFile, doc.dump(2) + "\n", options);
  state_write_done("the status file", written);
}

void slashed(Daemon& d, const sui::StakeRecord& record, const std::string& why) {
  SlashMarker marker;
  marker.detected_at_ms = now_unix_ms();
  marker.node_id = d.config->node_id;
  marker.stake_id = record.id.to_hex();
  marker.record_version = record.version;
  marker.amount_left_mist = record.amount;
  marker.tx_digest = record.last_tx;
  const std::string record_text = "StakeRecord version " + std::to_string(record.version) + ": status " +
                                  status_of(record.status) + ", " + std::to_string(record.amount) +
                                  " MIST left (minimum " + std::to_string(d.config->sui.min_stake_mist) + ")";
  marker.evidence = record.last_tx.empty() ? record_text : "slash in tx " + record.last_tx + "; " + record_text;
  // 1. systemd and one critical line with the evidence. The teardown below may take a while:
  // tell systemd how long (EXTEND_TIMEOUT_USEC), since the loop does not turn meanwhile.
  d.notify("STOPPING=1\nSTATUS=slashed: tearing the node down\n" + extend_timeout(d.stop_budget() * 2));
  K3S_LOG(kDaemon, critical, "SLASHED ({}): {} (stake {}); tearing the node down and staying stopped", why,
          marker.evidence, marker.stake_id);
  d.loop_end = LoopEnd::kSlashed;
  d.exit_status = exit_code::kSlashed;
  if (d.metrics) d.metrics->handles().slashed->Set(1);
  d.write_status("slashing");
  // 2. teardown: k3s, containers, shims, the runtime. At start-up (no node yet) it still clears
  // what a crashed earlier run may have left, found through its pid files.
  if (!d.node && d.supervisor) {
    const auto work = std::filesystem::path(d.state_dir()) / "runtime";
    std::error_code ec;
    if (std::filesystem::exists(work / "k3s-agent.pid", ec) || std::filesystem::exists(work / "containerd.pid", ec)) {
      auto options = runtime::node_options_from_config(*d.config, "", "");
      if (d.test_mode) {
        options.runtime.enable_cri = false;
        options.teardown.unmount_prefixes = {d.config->k3s.data_dir};
        options.teardown.cgroup_names.clear();
      }
      auto node = runtime::WorkerNode::create(*d.supervisor, options);
      if (node.ok()) d.node = std::move(node).value();
    }
  }
  if (d.node) {
    auto report = d.node->teardown();
    K3S_LOG(kDaemon, warn, "teardown report: {}", report.to_json().dump());
  }
  d.node_started = false;  // torn down: nothing left for shutdown() to stop
  // 3. the marker.
  auto written = write_slash_marker(d.state_dir(), marker);
  if (!written.ok()) K3S_LOG(kDaemon, critical, "cannot write the slashed marker: {}", written.error().message);
}

int main_loop(Daemon& d) {
  if (d.heartbeat_interval_ms == 0) d.heartbeat_interval_ms = d.config->master.heartbeat_interval_ms;
  const auto start = monotonic_ms();
  d.next_master_ms = start;
  d.next_watch_ms = start + first_period(poll_ms(d));
  d.next_status_write_ms = start;
  bool announced_running = false;
  while (d.loop_end == LoopEnd::kNone) {
    auto now = monotonic_ms();
    // A busy lane's time is left out: it only moves when its request completes, and the lane
    // wakes the loop then (counting it would turn the loop into a busy wait).
    std::int64_t due = d.next_status_write_ms;
    if (!d.master_lane->busy()) due = std::min(due, d.next_master_ms);
    if (!d.chain_lane->busy()) due = std::min(due, d.next_watch_ms);
    if (d.watch_forced && !d.chain_lane->busy()) due = now;
    if (!d.pump(milliseconds(std::clamp<std::int64_t>(due - now, 0, 1000)))) {
      d.loop_end = LoopEnd::kSignal;
      d.exit_status = exit_code::kOk;
      break;
    }
    d.chain_lane->drain();
    d.master_lane->drain();
    if (d.loop_end != LoopEnd::kNone) break;
    now = monotonic_ms();
    if (d.check_clock()) {
      // A token made under the old clock is issued in the future or expired for the new one;
      // and a master failing meanwhile was likely refusing exactly that: try again now.
      if (d.seal_token) renew_seal_token(d, "the wall clock stepped");
      if (d.master_backoff && !d.master_lane->busy()) {
        d.master_backoff.reset();
        d.next_master_ms = now;
      }
    }
    if ((now >= d.next_watch_ms || d.watch_forced) && !d.chain_lane->busy()) start_watch(d);
    if (d.seal_token && d.seal_token->payload.needs_renewal(now_unix_ms())) renew_seal_token(d, "2/3 of its life");
    if (now >= d.next_master_ms && !d.master_lane->busy()) start_master_step(d);
    if (!announced_running && d.supervisor->is_up(runtime::kK3sChild)) {
      announced_running = true;
      K3S_LOG(kDaemon, info, "k3s agent is up");
    }
    if (now >= d.next_status_write_ms) {
      d.next_status_write_ms = now + d.limits.status_write_interval.count();
      d.write_status(d.drained ? "drained" : (d.supervisor->is_up(runtime::kK3sChild) ? "running" : "starting"));
      auto line = status_line(d);
      if (line != d.last_status_line) {
        d.last_status_line = line;
        d.notify("STATUS=" + line);
      }
    }
  }
  if (d.loop_end == LoopEnd::kSignal) d.write_status("stopping");
  return d.exit_status;
}

}  // namespace k3s_daas::daemon
