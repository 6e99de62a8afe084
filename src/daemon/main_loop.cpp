// The main loop: one thread, driven by the supervisor's poll_once() plus timers for heartbeats,
// the slashing watch (SlashEvents, StakeRecord reads), seal-token renewal and the status file.
#include <unistd.h>

#include <algorithm>
#include <functional>

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

void count_chain_failure(Daemon& d, const std::string& what, const Error& error) {
  ++d.chain_failures;
  d.last_error = what + ": " + error.message;
  d.metrics->handles().chain_requests_failed->Increment();
  // A chain error is never a slash: log, space the next polls out (exponential backoff with
  // jitter, at most record_read_max), carry on.
  const auto poll = static_cast<std::int64_t>(d.config->sui.poll_interval_ms);
  if (!d.chain_backoff) d.chain_backoff.emplace(milliseconds(poll), d.limits.record_read_max);
  const auto delay = std::max<std::int64_t>(poll, d.chain_backoff->next().count());
  d.next_event_poll_ms = std::max(d.next_event_poll_ms, monotonic_ms() + delay);
  d.next_record_read_ms = std::max(d.next_record_read_ms, monotonic_ms() + delay);
  K3S_LOG(kDaemon, warn, "{} failed (not a slash; next chain poll in {} ms): {}", what, delay, error.message);
}

void chain_ok(Daemon& d) {
  if (d.chain_backoff) K3S_LOG(kDaemon, info, "the chain answers again");
  d.chain_backoff.reset();
}

void save_cursor(Daemon& d) {
  fs::WriteOptions options;
  options.mode = 0600;
  auto written = fs::atomic_write_file(std::filesystem::path(d.state_dir()) / kSlashCursorFile,
                                       nlohmann::json({{"cursor", d.slash_cursor}}).dump() + "\n", options);
  if (!written.ok()) K3S_LOG(kDaemon, warn, "cannot save the SlashEvent cursor: {}", written.error().message);
}

// ---------------------------------------------------------------- slashing watch

// Reads SlashEvents after the saved cursor and hands ours (field `staker` = our address) to
// `on_ours` until it returns false. SlashEvents are sent by the pool admin, so the query filters
// by event type only. Returns false on a chain error (already counted).
bool scan_slash_events(Daemon& d, const std::function<bool(const sui::ChainEvent&)>& on_ours) {
  const auto event_type = d.staking->settings().event_type("SlashEvent");
  const auto me = d.key->address();
  for (unsigned page = 0; page < d.limits.event_pages_per_poll; ++page) {
    std::optional<std::string> cursor;
    if (!d.slash_cursor.empty()) cursor = d.slash_cursor;
    auto events = d.chain->query_events(event_type, std::nullopt, cursor);
    if (!events.ok()) {
      count_chain_failure(d, "polling SlashEvents", events.error());
      return false;
    }
    chain_ok(d);
    bool go_on = true;
    for (const auto& event : events->events) {
      if (!event.cursor.empty()) d.slash_cursor = event.cursor;
      const auto& staker = event.fields.contains("staker") ? event.fields["staker"] : nlohmann::json();
      auto address = staker.is_string() ? crypto::Address::parse(staker.get<std::string>())
                                        : Result<crypto::Address>(make_error(ErrorKind::kProtocol, "no staker"));
      if (!address.ok() || *address != me) continue;
      if (!on_ours(event)) {
        go_on = false;
        break;
      }
    }
    if (!events->events.empty()) save_cursor(d);
    if (!go_on || !events->next_cursor || events->events.empty()) return true;
  }
  return true;
}

void poll_slash_events(Daemon& d) {
  scan_slash_events(d, [&](const sui::ChainEvent& event) {
    K3S_LOG(kDaemon, warn, "SlashEvent for our address in tx {}: {}", event.tx_digest, event.fields.dump());
    check_record(d, "SlashEvent in tx " + event.tx_digest, event.tx_digest);
    return d.loop_end == LoopEnd::kNone;
  });
}

// The digest of the newest SlashEvent for us not yet seen (evidence when a record read or the
// master noticed the slash first); empty when the chain does not say.
std::string newest_slash_digest(Daemon& d) {
  std::string digest;
  scan_slash_events(d, [&](const sui::ChainEvent& event) {
    if (!event.tx_digest.empty()) digest = event.tx_digest;
    return true;
  });
  return digest;
}

// ---------------------------------------------------------------- heartbeats

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
    report.k3s.state = "stopped";
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
  seal::IssueOptions options;
  options.node_id = d.config->node_id;
  options.stake_id = d.record->id;
  options.audience = d.master->trusted()->enclave_key;
  options.ttl = std::chrono::seconds(d.config->master.seal_token_ttl_s);
  auto token = seal::issue(*d.key, options);
  if (!token.ok()) {
    K3S_LOG(kDaemon, error, "renewing the seal token failed: {}", token.error().message);
    return;
  }
  d.seal_token = std::move(token).value();
  d.metrics->handles().seal_token_expires_at_seconds->Set(static_cast<double>(d.seal_token->payload.expires_at_ms) /
                                                          1000.0);
  K3S_LOG(kDaemon, info, "seal token renewed ({}), expires at {} ms", why, d.seal_token->payload.expires_at_ms);
}

void reregister(Daemon& d) {
  auto ack = d.master->register_worker(d.seal_token->text, d.node_info);
  if (!ack.ok()) {
    K3S_LOG(kDaemon, warn, "re-registration failed (will retry): {}", ack.error().message);
    return;
  }
  d.registration = *ack;
  K3S_LOG(kDaemon, info, "re-registered with the master; k3s keeps running (new token file applies at its next start)");
  if (!d.drained) {
    auto updated = d.node->start_k3s(ack->k3s_server_url, ack->join_token_file);
    if (!updated.ok()) K3S_LOG(kDaemon, error, "updating the k3s command line failed: {}", updated.error().message);
  }
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
        K3S_LOG(kDaemon, warn, "drain: stopping the k3s agent; the stake and the runtime stay");
        d.drained = true;
        d.supervisor->stop(runtime::kK3sChild);
      }
      break;
    case Command::kSlashed:
      // Acted on only once the chain confirms it (protocol.md sections 4 and 5).
      check_record(d, "master command 3 (slashed)", "");
      if (d.loop_end == LoopEnd::kNone) K3S_LOG(kDaemon, warn, "master says slashed, the chain does not: ignored");
      break;
    case Command::kDeregistered: {
      auto record = d.staking->read_record(d.record->id);
      if (!record.ok()) return count_chain_failure(d, "confirming deregistration on chain", record.error());
      d.record = *record;
      if (is_slashed(d, *record)) return slashed(d, *record, newest_slash_digest(d));
      if (record->status == static_cast<std::uint8_t>(sui::StakeStatus::kWithdrawn)) {
        K3S_LOG(kDaemon, warn, "deregistered and the stake is withdrawn on chain: orderly stop (exit 80)");
        d.loop_end = LoopEnd::kWithdrawn;
        d.exit_status = exit_code::kNotStaked;
      } else {
        K3S_LOG(kDaemon, warn, "master says deregistered, the stake is still ACTIVE on chain: ignored");
      }
      break;
    }
    default:
      break;
  }
}

void heartbeat(Daemon& d) {
  auto report = report_of(d);
  auto ack = d.master->heartbeat(d.seal_token->text, report);
  auto& m = d.metrics->handles();
  const double rejected_delta =
      static_cast<double>(d.master->counters().answers_rejected) - m.master_answers_rejected->Value();
  if (rejected_delta > 0) m.master_answers_rejected->Increment(rejected_delta);
  const auto now = monotonic_ms();
  if (!ack.ok()) {
    ++d.heartbeat_failures;
    d.last_error = "heartbeat: " + ack.error().message;
    m.heartbeats_failed->Increment();
    m.master_reachable->Set(ack.error().transient() ? 0 : 1);
    if (!d.heartbeat_backoff) d.heartbeat_backoff.emplace(d.limits.heartbeat_retry_initial, d.limits.retry_cap);
    const std::int64_t delay = d.heartbeat_backoff->next().count();  // capped at retry_cap (60 s)
    // Master errors never stop k3s: log, back off, try again.
    K3S_LOG(kDaemon, warn, "heartbeat failed (k3s keeps running; retry in {} ms): {}", delay, ack.error().message);
    if (ack.error().message.find("not_registered") != std::string::npos) reregister(d);
    if (ack.error().message.find("expired") != std::string::npos) renew_seal_token(d, "the master refused it");
    d.next_heartbeat_ms = now + delay;
    return;
  }
  d.heartbeat_backoff.reset();
  ++d.heartbeats_ok;
  d.last_heartbeat_ok_ms = now_unix_ms();
  m.heartbeats_sent->Increment();
  m.master_reachable->Set(1);
  if (ack->heartbeat_interval_ms > 0) d.heartbeat_interval_ms = ack->heartbeat_interval_ms;
  d.next_heartbeat_ms = now + static_cast<std::int64_t>(d.heartbeat_interval_ms);
  act_on_command(d, ack->command);
}

std::int64_t record_read_interval_ms(const Daemon& d) {
  // At least every 60 s (protocol.md section 5), and more often when events are polled fast.
  const std::int64_t poll = static_cast<std::int64_t>(d.config->sui.poll_interval_ms);
  return std::clamp<std::int64_t>(4 * poll, 1000, d.limits.record_read_max.count());
}

}  // namespace

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
  if (registration) {
    doc["master"] = {{"registered", true},
                     {"k3s_server_url", registration->k3s_server_url},
                     {"heartbeats_ok", heartbeats_ok},
                     {"heartbeat_failures", heartbeat_failures},
                     {"last_heartbeat_ms", last_heartbeat_ok_ms},
                     {"last_seq", master ? master->last_sequence() : 0},
                     {"heartbeat_interval_ms", heartbeat_interval_ms},
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
  doc["chain_failures"] = chain_failures;
  doc["partial_slashes"] = partial_slashes;
  if (!last_error.empty()) doc["last_error"] = log::redact(last_error);
  fs::WriteOptions options;
  options.mode = 0644;
  auto written =
      fs::atomic_write_file(std::filesystem::path(config->state_dir) / kRuntimeStatusFile, doc.dump(2) + "\n", options);
  if (!written.ok()) K3S_LOG(kDaemon, warn, "cannot write the status file: {}", written.error().message);
}

void slashed(Daemon& d, const sui::StakeRecord& record, const std::string& evidence_digest) {
  SlashMarker marker;
  marker.detected_at_ms = now_unix_ms();
  marker.node_id = d.config->node_id;
  marker.stake_id = record.id.to_hex();
  marker.record_version = record.version;
  marker.amount_left_mist = record.amount;
  marker.tx_digest = evidence_digest;
  const std::string record_text = "StakeRecord version " + std::to_string(record.version) + ": status " +
                                  status_of(record.status) + ", " + std::to_string(record.amount) +
                                  " MIST left (minimum " + std::to_string(d.config->sui.min_stake_mist) + ")";
  marker.evidence = evidence_digest.empty() ? record_text : "SlashEvent in tx " + evidence_digest + "; " + record_text;
  // 1. systemd and one critical line with the evidence.
  d.notify("STOPPING=1\nSTATUS=slashed");
  K3S_LOG(kDaemon, critical, "SLASHED: {} (stake {}); tearing the node down and staying stopped", marker.evidence,
          marker.stake_id);
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

void check_record(Daemon& d, const std::string& why, const std::string& evidence_digest) {
  auto record = d.staking->read_record(d.record->id);
  if (!record.ok()) return count_chain_failure(d, "reading the StakeRecord (" + why + ")", record.error());
  chain_ok(d);
  const auto previous = *d.record;
  d.record = *record;
  auto& m = d.metrics->handles();
  m.stake_amount_mist->Set(static_cast<double>(record->amount));
  m.stake_status->Set(record->status);
  if (is_slashed(d, *record)) {
    return slashed(d, *record, evidence_digest.empty() ? newest_slash_digest(d) : evidence_digest);
  }
  if (record->status == static_cast<std::uint8_t>(sui::StakeStatus::kWithdrawn)) {
    K3S_LOG(kDaemon, warn, "the stake was withdrawn on chain: orderly stop (exit 80)");
    d.loop_end = LoopEnd::kWithdrawn;
    d.exit_status = exit_code::kNotStaked;
    return;
  }
  if (record->amount < previous.amount) {
    ++d.partial_slashes;
    m.partial_slashes->Increment();
    K3S_LOG(kDaemon, warn, "partial slash ({}): {} -> {} MIST, still at or above the minimum {}; keep serving", why,
            previous.amount, record->amount, d.config->sui.min_stake_mist);
  }
}

int main_loop(Daemon& d) {
  d.heartbeat_interval_ms = d.registration->heartbeat_interval_ms > 0 ? d.registration->heartbeat_interval_ms
                                                                      : d.config->master.heartbeat_interval_ms;
  const auto start = monotonic_ms();
  d.next_heartbeat_ms = start;
  d.next_event_poll_ms = start;
  d.next_record_read_ms = start + record_read_interval_ms(d);
  d.next_status_write_ms = start;
  bool announced_running = false;
  while (d.loop_end == LoopEnd::kNone) {
    auto now = monotonic_ms();
    std::int64_t due =
        std::min({d.next_heartbeat_ms, d.next_event_poll_ms, d.next_record_read_ms, d.next_status_write_ms});
    if (!d.pump(milliseconds(std::clamp<std::int64_t>(due - now, 0, 1000)))) {
      d.loop_end = LoopEnd::kSignal;
      d.exit_status = exit_code::kOk;
      break;
    }
    now = monotonic_ms();
    if (now >= d.next_event_poll_ms) {
      d.next_event_poll_ms = now + static_cast<std::int64_t>(d.config->sui.poll_interval_ms);
      poll_slash_events(d);
      if (d.loop_end != LoopEnd::kNone) break;
    }
    if (now >= d.next_record_read_ms) {
      d.next_record_read_ms = now + record_read_interval_ms(d);
      check_record(d, "periodic read", "");
      if (d.loop_end != LoopEnd::kNone) break;
    }
    if (d.seal_token && d.seal_token->payload.needs_renewal(now_unix_ms())) renew_seal_token(d, "2/3 of its life");
    if (now >= d.next_heartbeat_ms) {
      heartbeat(d);
      if (d.loop_end != LoopEnd::kNone) break;
    }
    if (!announced_running && d.supervisor->is_up(runtime::kK3sChild)) {
      announced_running = true;
      K3S_LOG(kDaemon, info, "k3s agent is up");
      d.notify("STATUS=running");
    }
    if (now >= d.next_status_write_ms) {
      d.next_status_write_ms = now + d.limits.status_write_interval.count();
      d.write_status(d.drained ? "drained" : (d.supervisor->is_up(runtime::kK3sChild) ? "running" : "starting"));
    }
  }
  if (d.loop_end == LoopEnd::kSignal) d.write_status("stopping");
  return d.exit_status;
}

}  // namespace k3s_daas::daemon
