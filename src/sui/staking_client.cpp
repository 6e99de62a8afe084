// The staking client: stake, unstake, find the record, and the journal rule.
#include <algorithm>
#include <thread>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/fs.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/staking.hpp"
#include "wire_util.hpp"

namespace k3s_daas::sui {

using nlohmann::json;

namespace {

// Sui's protocol limits: max_gas_payment_objects = 256. Coins beyond those are merged into the
// gas coin by MergeCoins commands, as owned inputs. The cap of 700 keeps every object the
// transaction changes (gas coins, merged coins, the pool, the new record) inside one page of a
// GraphQL effects query (Sui serves up to 1,024 object changes per page), so the created
// StakeRecord is always seen; it also keeps the transaction far under its 128 KiB limit.
constexpr std::size_t kMaxGasObjects = 256;
constexpr std::size_t kMaxMergedCoins = 700;
constexpr int kMaxEventPages = 20;


void report(const Progress& progress, std::string_view step, const std::string& detail) {
  K3S_LOG(kSui, debug, "{}: {}", step, detail);
  if (progress) progress(step, detail);
}

// The reference to a shared object (the pool) from the object as read with the other inputs.
Result<SharedObjectRef> shared_ref(const std::optional<ObjectInfo>& object, const Address& id, const std::string& what) {
  if (!object) return make_error(ErrorKind::kNotFound, what + " " + id.to_hex() + " does not exist on the chain");
  if (object->owner.kind != Owner::Kind::kShared) {
    return make_error(ErrorKind::kProtocol, what + " " + id.to_hex() + " is not a shared object (" + object->owner.describe() + ")");
  }
  return SharedObjectRef{id, object->owner.initial_shared_version, true};
}

constexpr const char* kPoolWhat = "staking pool (sui.staking_pool_id)";

}  // namespace

StakingClient::StakingClient(ChainClient& chain, const crypto::Ed25519Keypair& key, StakingSettings settings)
    : chain_(chain), key_(key), settings_(std::move(settings)) {}

Result<GasData> StakingClient::select_gas(std::vector<Coin> coins, std::uint64_t needed_besides_gas, std::uint64_t price,
                                          std::vector<ObjectRef>* merged) {
  std::sort(coins.begin(), coins.end(), [](const Coin& a, const Coin& b) { return a.balance > b.balance; });
  const std::uint64_t budget = settings_.gas_budget;
  const std::uint64_t needed = needed_besides_gas + budget;
  GasData gas;
  gas.owner = key_.address();
  gas.price = price;
  gas.budget = budget;
  std::uint64_t total = 0, available = 0;
  for (const auto& coin : coins) available += coin.balance;
  for (const auto& coin : coins) {
    if (total >= needed) break;
    if (gas.payment.size() < kMaxGasObjects) {
      gas.payment.push_back(coin.ref);
    } else if (merged != nullptr && merged->size() < kMaxMergedCoins) {
      merged->push_back(coin.ref);
    } else {
      break;
    }
    total += coin.balance;
  }
  if (total < needed) {
    std::string spread;
    if (total < available) {
      spread = " (only the largest " + std::to_string(gas.payment.size() + (merged ? merged->size() : 0)) +
               " coins fit in one transaction, holding " + format_mist(total) +
               "; merge the small coins first, for example with `sui client merge-coin`)";
    }
    return make_error(ErrorKind::kRejected,
                      "insufficient SUI: address " + key_.address().to_hex() + " holds " + format_mist(available) + " in " +
                          std::to_string(coins.size()) + " coin(s); this needs " + format_mist(needed_besides_gas) +
                          " plus a gas budget of " + format_mist(budget) + spread);
  }
  return gas;
}

Result<StakeRecord> StakingClient::read_record(const Address& id) {
  // Right after a transaction the indexer may not serve the new object yet: retry briefly.
  for (int attempt = 0;; ++attempt) {
    K3S_ASSIGN(auto object, chain_.get_object(id));
    if (object) return StakeRecord::from_object(*object, settings_.record_type());
    if (attempt >= 10) return make_error(ErrorKind::kNotFound, "StakeRecord " + id.to_hex() + " does not exist on the chain");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Result<std::optional<StakeRecord>> StakingClient::record_from_transaction(const std::string& digest) {
  K3S_ASSIGN(auto tx, chain_.get_transaction(digest));
  if (!tx) return std::optional<StakeRecord>();
  const std::string wanted = TypeTag::canonical(settings_.record_type());
  for (const auto& created : tx->created) {
    if (TypeTag::canonical(created.type) != wanted) continue;
    K3S_ASSIGN(StakeRecord record, read_record(created.id));
    return std::optional<StakeRecord>(record);
  }
  return std::optional<StakeRecord>();
}

Status StakingClient::remember(const StakeRecord& record, const std::string& digest) {
  StakeState state;
  auto previous = read_stake_state(settings_.state_dir);
  if (previous.ok() && *previous && (*previous)->node_id == settings_.node_id) state = **previous;
  state.node_id = settings_.node_id;
  state.stake_record_id = record.id;
  if (!digest.empty()) state.stake_digest = digest;
  state.staker = record.staker.to_hex();
  state.status = stake_status_name(record.status);
  return write_stake_state(settings_.state_dir, state);
}

Result<std::optional<StakeRecord>> StakingClient::find_record() {
  using Found = std::optional<StakeRecord>;
  auto matches = [&](const StakeRecord& r) { return r.node_id == settings_.node_id; };
  // 1. The state file.
  K3S_ASSIGN(auto state, read_stake_state(settings_.state_dir));
  if (state && state->node_id == settings_.node_id) {
    if (state->stake_record_id) {
      K3S_ASSIGN(auto object, read_named_record(*state->stake_record_id));
      if (object) {
        auto record = StakeRecord::from_object(*object, settings_.record_type());
        if (record.ok() && matches(*record)) {
          if (stake_status_name(record->status) != state->status) K3S_TRY(remember(*record, ""));
          return Found(*record);
        }
      }
    }
    // 2. The stake transaction's created objects.
    if (!state->stake_digest.empty()) {
      K3S_ASSIGN(auto record, record_from_transaction(state->stake_digest));
      if (record && matches(*record)) {
        K3S_TRY(remember(*record, state->stake_digest));
        return record;
      }
    }
  }
  // 3. StakeEvents sent by this address.
  return record_from_events(std::nullopt);
}

Result<std::optional<ObjectInfo>> StakingClient::read_named_record(const Address& id) {
  // `stake` no longer waits for the indexer after its transaction (it takes the record from the
  // execution's own effects), so right after a stake a lagging indexer may not serve the record
  // stake.json names yet: while that file is younger than settings.indexer_wait, ask again.
  std::error_code ec;
  const auto written = std::filesystem::last_write_time(settings_.state_dir / kStakeStateFile, ec);
  for (;;) {
    K3S_ASSIGN(auto object, chain_.get_object(id));
    if (object || ec) return object;
    const auto age = std::filesystem::file_time_type::clock::now() - written;
    if (age >= settings_.indexer_wait || age < std::chrono::seconds(-1)) return object;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Result<std::optional<StakeRecord>> StakingClient::record_from_events(std::optional<EventPage> first_page) {
  // StakeEvents sent by this address (this node's), newest first, each transaction's created
  // record read back. `first_page`: the first page when already read (with the stake inputs).
  std::vector<std::string> digests;
  std::optional<std::string> cursor;
  for (int page = 0; page < kMaxEventPages; ++page) {
    EventPage events;
    if (page == 0 && first_page) {
      events = std::move(*first_page);
    } else {
      K3S_ASSIGN(events, chain_.query_events(settings_.event_type("StakeEvent"), key_.address(), cursor));
    }
    for (const auto& ev : events.events) {
      auto node = wire::detail::to_string(wire::detail::get(ev.fields, "node_id"));
      if (node && *node == settings_.node_id && !ev.tx_digest.empty()) digests.push_back(ev.tx_digest);
    }
    if (!events.next_cursor) break;
    cursor = events.next_cursor;
  }
  if (digests.empty()) return std::optional<StakeRecord>();
  // The newest StakeEvent of this node names its current record (a StakeEvent only comes from a
  // stake that landed, and that stake created the record). An older event names an older record
  // (withdrawn, or replaced): never fall back to it. While a lagging indexer does not serve the
  // newest event's transaction yet, ask again, up to settings.indexer_wait.
  const std::string& newest = digests.back();
  const std::int64_t deadline = monotonic_ms() + settings_.indexer_wait.count();
  for (;;) {
    K3S_ASSIGN(auto record, record_from_transaction(newest));
    if (record && record->node_id == settings_.node_id) {
      K3S_LOG(kSui, info, "found StakeRecord {} of node {} through its StakeEvent (transaction {})", record->id.to_hex(),
              settings_.node_id, newest);
      K3S_TRY(remember(*record, newest));
      return record;
    }
    if (monotonic_ms() >= deadline) {
      return make_error(ErrorKind::kTimeout, "the newest StakeEvent of node " + settings_.node_id + " names transaction " +
                                                 newest + ", but the chain " +
                                                 (record ? "names another node in its StakeRecord" : "does not serve that transaction (yet)") +
                                                 " after " + std::to_string(settings_.indexer_wait.count()) +
                                                 " ms; try again later");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Result<TransactionResult> StakingClient::adopt(const JournalEntry& entry, const TransactionResult& result) {
  // The transaction is final on chain. Record what it made before forgetting the journal entry,
  // so that a crash in between only leads to adopting it again.
  if (result.success && entry.kind == "stake") {
    const std::string wanted = TypeTag::canonical(settings_.record_type());
    for (const auto& created : result.created) {
      if (TypeTag::canonical(created.type) != wanted) continue;
      // The record as the transaction left it, from the answer itself (GraphQL); read back only
      // when the answer did not carry its contents (JSON-RPC).
      StakeRecord record;
      const ObjectInfo* written = result.written_object(created.id);
      auto read = written != nullptr ? StakeRecord::from_object(*written, settings_.record_type()) : read_record(created.id);
      if (read.ok()) {
        record = *read;
      } else {
        record.id = created.id;
        record.staker = key_.address();
        record.node_id = entry.node_id;
        record.status = static_cast<std::uint8_t>(StakeStatus::kActive);
      }
      K3S_TRY(remember(record, result.digest));
      adopted_record_ = record;
      break;
    }
  }
  K3S_TRY(write_journal(settings_.state_dir, std::nullopt));
  if (!result.success) {
    return make_error(ErrorKind::kRejected, "transaction " + result.digest + " landed but failed: " +
                                                describe_failure(result, settings_.module) + " (its gas was charged)");
  }
  return result;
}

Result<TransactionResult> StakingClient::submit(JournalEntry entry, const Progress& progress) {
  // The journal rule: the signed bytes are on disk (fsync'd) before anyone can see them.
  entry.submissions = 1;
  K3S_TRY(write_journal(settings_.state_dir, entry));
  report(progress, "submitted", "transaction " + entry.tx.digest);
  auto executed = chain_.execute(entry.tx);
  if (!executed.ok()) {
    const Error& error = executed.error();
    if (error.kind == ErrorKind::kRejected) {
      // Refused by the chain. It may still have run earlier (then the chain knows its digest).
      auto known = chain_.get_transaction(entry.tx.digest);
      if (known.ok() && *known) {
        K3S_ASSIGN(auto adopted, adopt(entry, **known));
        report(progress, "final", "transaction " + entry.tx.digest + " succeeded");
        return adopted;
      }
    }
    return make_error(error.kind, "submitted " + entry.kind + " transaction " + entry.tx.digest +
                                      ", but its outcome is unknown: " + error.message +
                                      ". It stays in " + (settings_.state_dir / kJournalFile).string() +
                                      "; run the command again to settle it (the same signed bytes are re-sent, "
                                      "never a new transaction)");
  }
  if (!executed->success) report(progress, "final", "transaction " + entry.tx.digest + " failed");
  // Adopted from the execution's own effects: no wait for the indexer (a later read of the record
  // tolerates its lag, find_record), and no read back.
  K3S_ASSIGN(auto adopted, adopt(entry, *executed));
  report(progress, "final", "transaction " + entry.tx.digest + " succeeded");
  return adopted;
}

Result<std::string> StakingClient::settle_pending(const Progress& progress) {
  settled_.reset();
  pending_kind_.clear();
  K3S_ASSIGN(auto pending, read_journal(settings_.state_dir));
  if (!pending) return std::string();
  JournalEntry entry = std::move(*pending);
  pending_kind_ = entry.kind;
  const std::string& digest = entry.tx.digest;
  report(progress, "settle", "an earlier " + entry.kind + " transaction " + digest + " is pending; asking the chain");
  auto unknown = [&](const std::string& why) {
    return make_error(ErrorKind::kNetwork, "cannot settle the earlier signed " + entry.kind + " transaction " + digest +
                                               ": " + why + "; nothing new was signed. Try again later");
  };
  auto known = chain_.get_transaction(digest);
  if (!known.ok()) return unknown(known.error().message);
  if (*known) {
    auto adopted = adopt(entry, **known);
    if (adopted.ok()) settled_ = *adopted;
    if (!adopted.ok()) {
      if (adopted.error().kind != ErrorKind::kRejected) return adopted.error();
      return "the earlier " + entry.kind + " transaction " + digest + " had landed and failed: " + adopted.error().message;
    }
    return "the earlier " + entry.kind + " transaction " + digest + " had landed";
  }
  // Unknown to the chain: re-send the same signed bytes (never a new transaction).
  ++entry.submissions;
  K3S_TRY(write_journal(settings_.state_dir, entry));
  report(progress, "settle", "re-sending the same signed transaction " + digest);
  auto executed = chain_.execute(entry.tx);
  if (executed.ok()) {
    auto adopted = adopt(entry, *executed);
    if (adopted.ok()) settled_ = *adopted;
    if (!adopted.ok()) {
      if (adopted.error().kind != ErrorKind::kRejected) return adopted.error();
      return "the earlier " + entry.kind + " transaction " + digest + " was re-sent and failed: " + adopted.error().message;
    }
    return "the earlier " + entry.kind + " transaction " + digest + " was re-sent and landed";
  }
  if (executed.error().kind != ErrorKind::kRejected) return unknown(executed.error().message);
  // Refused. It can no longer land when one of its gas coins has moved past the signed version.
  for (const auto& ref : entry.gas_payment) {
    auto coin = chain_.get_object(ref.object_id);
    if (!coin.ok()) return unknown(coin.error().message);
    if (!*coin || (*coin)->ref.version != ref.version) {
      std::string moved = *coin ? "is now at version " + std::to_string((*coin)->ref.version) : "no longer exists";
      K3S_TRY(write_journal(settings_.state_dir, std::nullopt));
      std::string note = "the earlier " + entry.kind + " transaction " + digest +
                         " can no longer land (its gas coin " + ref.object_id.to_hex() + " was signed at version " +
                         std::to_string(ref.version) + " and " + moved + "); cleared it from the journal";
      K3S_LOG(kSui, warn, "{}", note);
      return note;
    }
  }
  return make_error(ErrorKind::kRejected,
                    "the earlier signed " + entry.kind + " transaction " + digest + " was refused by the chain (" +
                        executed.error().message + ") but its gas coin is unchanged, so it may still land; not signing "
                        "a new one. If it can certainly never land, remove " + (settings_.state_dir / kJournalFile).string() +
                        " and run the command again");
}

Result<StakeOutcome> StakingClient::stake(std::uint64_t amount, const Progress& progress, const Confirm& confirm) {
  K3S_TRY(fs::ensure_dir(settings_.state_dir, 0700));
  auto lock = fs::FileLock::acquire(settings_.state_dir / kJournalFile, /*wait=*/false);
  if (!lock.ok()) {
    return make_error(ErrorKind::kIo, "another k3s-daas process is staking or unstaking (" + lock.error().message + ")");
  }
  K3S_ASSIGN(std::string note, settle_pending(progress));
  auto already = [&](const StakeRecord& existing) -> Result<StakeOutcome> {
    if (existing.staker != key_.address()) {
      return make_error(ErrorKind::kRejected, "node id " + settings_.node_id + " is already staked by " +
                                                  existing.staker.to_hex() + " (StakeRecord " + existing.id.to_hex() +
                                                  "), not by this key's address " + key_.address().to_hex());
    }
    StakeOutcome outcome;
    outcome.kind = note.empty() ? StakeOutcome::Kind::kAlreadyStaked : StakeOutcome::Kind::kSettled;
    outcome.record = existing;
    auto state = read_stake_state(settings_.state_dir);
    if (state.ok() && *state) outcome.digest = (*state)->stake_digest;
    outcome.note = note;
    return outcome;
  };
  // Never a second stake: a record stake.json names is read first; without one, this address's
  // StakeEvents are read together with everything else the transaction needs.
  K3S_ASSIGN(auto state, read_stake_state(settings_.state_dir));
  const bool remembered = state && state->node_id == settings_.node_id &&
                          (state->stake_record_id.has_value() || !state->stake_digest.empty());
  if (remembered) {
    K3S_ASSIGN(auto existing, find_record());
    if (existing && existing->active()) return already(*existing);
  }
  // One request over GraphQL: StakeEvents, reference gas price, the pool, the gas coins.
  TxInputsQuery query;
  query.sender = key_.address();
  query.pool = settings_.pool;
  query.event_type = settings_.event_type("StakeEvent");
  K3S_ASSIGN(TxInputs inputs, chain_.transaction_inputs(query));
  if (!remembered) {
    K3S_ASSIGN(auto existing, record_from_events(std::move(inputs.events)));
    if (existing && existing->active()) return already(*existing);
  }
  if (amount == 0) return make_error(ErrorKind::kUsage, "the stake amount must be more than 0 MIST");
  if (confirm) {
    K3S_TRY(confirm("Stake " + format_mist(amount) + " for node " + settings_.node_id + " from " + key_.address().to_hex() + "?"));
  }

  const std::uint64_t price = inputs.reference_gas_price;
  K3S_ASSIGN(SharedObjectRef pool, shared_ref(inputs.pool, settings_.pool, kPoolWhat));
  std::vector<ObjectRef> merged;
  K3S_ASSIGN(GasData gas, select_gas(std::move(inputs.coins), amount, price, &merged));
  StakeTxInputs tx_inputs{key_.address(), pool, amount, settings_.node_id, gas, merged};
  Bytes bytes = build_stake_transaction(settings_, tx_inputs).to_bcs();
  report(progress, "built", "stake of " + format_mist(amount) + " for node " + settings_.node_id + " (gas price " +
                                std::to_string(price) + ", " + std::to_string(gas.payment.size()) + " gas coin(s)" +
                                (merged.empty() ? "" : ", " + std::to_string(merged.size()) + " more merged into it") + ")");
  K3S_ASSIGN(TransactionResult simulated, chain_.simulate(bytes));
  if (!simulated.success) {
    return make_error(ErrorKind::kRejected,
                      "the stake transaction would fail (" + describe_failure(simulated, settings_.module) +
                          "); nothing was submitted");
  }
  report(progress, "simulated", "the chain accepts it");
  JournalEntry entry;
  entry.kind = "stake";
  entry.node_id = settings_.node_id;
  entry.tx = sign_transaction(key_, std::move(bytes));
  entry.gas_payment = gas.payment;
  entry.signed_at_ms = now_unix_ms();
  adopted_record_.reset();
  K3S_ASSIGN(TransactionResult result, submit(entry, progress));
  std::optional<StakeRecord> record = adopted_record_;
  if (!record) {
    K3S_ASSIGN(record, find_record());
  }
  if (!record) {
    return make_error(ErrorKind::kProtocol, "stake transaction " + result.digest +
                                                " succeeded but created no " + settings_.record_type());
  }
  StakeOutcome outcome;
  outcome.kind = StakeOutcome::Kind::kStaked;
  outcome.digest = result.digest;
  outcome.record = *record;
  outcome.note = note;
  return outcome;
}

Result<UnstakeOutcome> StakingClient::unstake(const Progress& progress, const Confirm& confirm) {
  K3S_TRY(fs::ensure_dir(settings_.state_dir, 0700));
  auto lock = fs::FileLock::acquire(settings_.state_dir / kJournalFile, /*wait=*/false);
  if (!lock.ok()) {
    return make_error(ErrorKind::kIo, "another k3s-daas process is staking or unstaking (" + lock.error().message + ")");
  }
  K3S_ASSIGN(std::string note, settle_pending(progress));
  // The record stake.json names is read together with everything else the transaction needs; the
  // full search (find_record) runs first only without such a name, and again when it was stale.
  K3S_ASSIGN(auto state, read_stake_state(settings_.state_dir));
  std::optional<Address> named;
  if (state && state->node_id == settings_.node_id) named = state->stake_record_id;
  std::optional<StakeRecord> found;
  if (!named) {
    K3S_ASSIGN(found, find_record());
    if (found) named = found->id;
  }
  if (!named) {
    return make_error(ErrorKind::kNotStaked, "node " + settings_.node_id + " has no stake (address " +
                                                 key_.address().to_hex() + ")");
  }
  // One request over GraphQL: the record, epoch and reference gas price, the pool, the gas coins.
  TxInputsQuery query;
  query.sender = key_.address();
  query.pool = settings_.pool;
  query.record = *named;
  query.need_epoch = true;
  K3S_ASSIGN(TxInputs inputs, chain_.transaction_inputs(query));
  if (inputs.record) {
    auto read = StakeRecord::from_object(*inputs.record, settings_.record_type());
    if (read.ok() && read->node_id == settings_.node_id) {
      found = *read;
      if (!state || stake_status_name(read->status) != state->status) K3S_TRY(remember(*read, ""));
    }
  }
  if (!found || found->id != *named) {
    K3S_ASSIGN(found, find_record());  // stake.json named another or no record: search
  }
  if (!found) {
    return make_error(ErrorKind::kNotStaked, "node " + settings_.node_id + " has no stake (address " +
                                                 key_.address().to_hex() + ")");
  }
  StakeRecord record = *found;
  if (record.status == static_cast<std::uint8_t>(StakeStatus::kWithdrawn) && settled_ && settled_->success &&
      pending_kind_ == "unstake") {
    // The earlier unstake, settled above, is the withdrawal: that is this command's outcome.
    UnstakeOutcome outcome;
    outcome.digest = settled_->digest;
    outcome.record = record;
    outcome.withdrawn_amount = record.amount;
    const std::string unstake_event = TypeTag::canonical(settings_.event_type("UnstakeEvent"));
    for (const auto& ev : settled_->events) {
      if (TypeTag::canonical(ev.type) != unstake_event) continue;
      if (auto amount = wire::detail::to_u64(wire::detail::get(ev.fields, "amount"))) outcome.withdrawn_amount = *amount;
    }
    outcome.note = note;
    return outcome;
  }
  if (record.status == static_cast<std::uint8_t>(StakeStatus::kWithdrawn)) {
    return make_error(ErrorKind::kNotStaked, "the stake of node " + settings_.node_id + " (StakeRecord " +
                                                 record.id.to_hex() + ") was already withdrawn");
  }
  if (record.status == static_cast<std::uint8_t>(StakeStatus::kSlashed)) {
    return make_error(ErrorKind::kSlashed, "the stake of node " + settings_.node_id + " (StakeRecord " + record.id.to_hex() +
                                               ") was slashed; there is nothing to withdraw");
  }
  if (record.staker != key_.address()) {
    return make_error(ErrorKind::kRejected, "StakeRecord " + record.id.to_hex() + " belongs to staker " +
                                                record.staker.to_hex() + ", not to this key's address " +
                                                key_.address().to_hex());
  }
  if (!inputs.epoch) return make_error(ErrorKind::kInternal, "the chain client did not read the current epoch");
  const std::uint64_t epoch = *inputs.epoch;
  if (epoch < record.locked_until) {
    return make_error(ErrorKind::kRejected, "the stake is locked until epoch " + std::to_string(record.locked_until) +
                                                " (the current epoch is " + std::to_string(epoch) +
                                                "); unstake again once epoch " + std::to_string(record.locked_until) +
                                                " has begun");
  }
  if (confirm) {
    K3S_TRY(confirm("Withdraw " + format_mist(record.amount) + " staked for node " + settings_.node_id + " to " +
                    key_.address().to_hex() + "?"));
  }
  const std::uint64_t price = inputs.reference_gas_price;
  K3S_ASSIGN(SharedObjectRef pool, shared_ref(inputs.pool, settings_.pool, kPoolWhat));
  SharedObjectRef record_ref{record.id, record.initial_shared_version, true};
  K3S_ASSIGN(GasData gas, select_gas(std::move(inputs.coins), 0, price));
  UnstakeTxInputs tx_inputs{key_.address(), pool, record_ref, gas};
  Bytes bytes = build_unstake_transaction(settings_, tx_inputs).to_bcs();
  report(progress, "built", "withdrawal of " + format_mist(record.amount) + " from StakeRecord " + record.id.to_hex());
  K3S_ASSIGN(TransactionResult simulated, chain_.simulate(bytes));
  if (!simulated.success) {
    return make_error(ErrorKind::kRejected, "the unstake transaction would fail (" +
                                                describe_failure(simulated, settings_.module) + "); nothing was submitted");
  }
  report(progress, "simulated", "the chain accepts it");
  JournalEntry entry;
  entry.kind = "unstake";
  entry.node_id = settings_.node_id;
  entry.tx = sign_transaction(key_, std::move(bytes));
  entry.gas_payment = gas.payment;
  entry.signed_at_ms = now_unix_ms();
  K3S_ASSIGN(TransactionResult result, submit(entry, progress));
  UnstakeOutcome outcome;
  outcome.digest = result.digest;
  outcome.withdrawn_amount = record.amount;
  outcome.note = note;
  // The record after the withdrawal, from the execution's own effects (read back over JSON-RPC).
  const ObjectInfo* written = result.written_object(record.id);
  auto after = written != nullptr ? StakeRecord::from_object(*written, settings_.record_type()) : read_record(record.id);
  if (after.ok()) {
    outcome.record = *after;
  } else {
    // Not read back (a failed request): the withdrawal landed, so the record is WITHDRAWN.
    K3S_LOG(kSui, warn, "StakeRecord {} not read back after the withdrawal: {}", record.id.to_hex(), after.error().message);
    outcome.record = record;
    outcome.record.status = static_cast<std::uint8_t>(StakeStatus::kWithdrawn);
  }
  K3S_TRY(remember(outcome.record, ""));
  return outcome;
}

}  // namespace k3s_daas::sui
