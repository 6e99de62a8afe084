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

}  // namespace

StakingClient::StakingClient(ChainClient& chain, const crypto::Ed25519Keypair& key, StakingSettings settings)
    : chain_(chain), key_(key), settings_(std::move(settings)) {}

Result<SharedObjectRef> StakingClient::shared_ref(const Address& id, const std::string& what) {
  K3S_ASSIGN(auto object, chain_.get_object(id));
  if (!object) return make_error(ErrorKind::kNotFound, what + " " + id.to_hex() + " does not exist on the chain");
  if (object->owner.kind != Owner::Kind::kShared) {
    return make_error(ErrorKind::kProtocol, what + " " + id.to_hex() + " is not a shared object (" + object->owner.describe() + ")");
  }
  return SharedObjectRef{id, object->owner.initial_shared_version, true};
}

Result<GasData> StakingClient::select_gas(std::uint64_t needed_besides_gas, std::uint64_t price,
                                          std::vector<ObjectRef>* merged) {
  K3S_ASSIGN(auto coins, chain_.sui_coins(key_.address()));
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
      K3S_ASSIGN(auto object, chain_.get_object(*state->stake_record_id));
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
  // 3. StakeEvents sent by this address, newest first, then the record read back.
  std::vector<std::string> digests;
  std::optional<std::string> cursor;
  for (int page = 0; page < kMaxEventPages; ++page) {
    K3S_ASSIGN(EventPage events, chain_.query_events(settings_.event_type("StakeEvent"), key_.address(), cursor));
    for (const auto& ev : events.events) {
      auto node = wire::detail::to_string(wire::detail::get(ev.fields, "node_id"));
      if (node && *node == settings_.node_id && !ev.tx_digest.empty()) digests.push_back(ev.tx_digest);
    }
    if (!events.next_cursor) break;
    cursor = events.next_cursor;
  }
  for (auto it = digests.rbegin(); it != digests.rend(); ++it) {
    K3S_ASSIGN(auto record, record_from_transaction(*it));
    if (record && matches(*record)) {
      K3S_LOG(kSui, info, "found StakeRecord {} of node {} through its StakeEvent (transaction {})", record->id.to_hex(),
              settings_.node_id, *it);
      K3S_TRY(remember(*record, *it));
      return record;
    }
  }
  return Found();
}

Result<TransactionResult> StakingClient::adopt(const JournalEntry& entry, const TransactionResult& result) {
  // The transaction is final on chain. Record what it made before forgetting the journal entry,
  // so that a crash in between only leads to adopting it again.
  if (result.success && entry.kind == "stake") {
    const std::string wanted = TypeTag::canonical(settings_.record_type());
    for (const auto& created : result.created) {
      if (TypeTag::canonical(created.type) != wanted) continue;
      StakeRecord record;
      auto read = read_record(created.id);
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
  K3S_ASSIGN(auto adopted, adopt(entry, *executed));
  // Let the indexer catch up so that reads right after this see the transaction's effects.
  auto indexed = chain_.wait_for_transaction(entry.tx.digest, settings_.indexer_wait);
  if (!indexed.ok()) K3S_LOG(kSui, warn, "{}", indexed.error().message);
  report(progress, "final", "transaction " + entry.tx.digest + " succeeded");
  return adopted;
}

Result<std::string> StakingClient::settle_pending(const Progress& progress) {
  K3S_ASSIGN(auto pending, read_journal(settings_.state_dir));
  if (!pending) return std::string();
  JournalEntry entry = std::move(*pending);
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
  K3S_ASSIGN(auto existing, find_record());
  if (existing && existing->active()) {
    if (existing->staker != key_.address()) {
      return make_error(ErrorKind::kRejected, "node id " + settings_.node_id + " is already staked by " +
                                                  existing->staker.to_hex() + " (StakeRecord " + existing->id.to_hex() +
                                                  "), not by this key's address " + key_.address().to_hex());
    }
    StakeOutcome outcome;
    outcome.kind = note.empty() ? StakeOutcome::Kind::kAlreadyStaked : StakeOutcome::Kind::kSettled;
    outcome.record = *existing;
    auto state = read_stake_state(settings_.state_dir);
    if (state.ok() && *state) outcome.digest = (*state)->stake_digest;
    outcome.note = note;
    return outcome;
  }
  if (amount == 0) return make_error(ErrorKind::kUsage, "the stake amount must be more than 0 MIST");
  if (confirm) {
    K3S_TRY(confirm("Stake " + format_mist(amount) + " for node " + settings_.node_id + " from " + key_.address().to_hex() + "?"));
  }

  K3S_ASSIGN(std::uint64_t price, chain_.reference_gas_price());
  K3S_ASSIGN(SharedObjectRef pool, shared_ref(settings_.pool, "staking pool (sui.staking_pool_id)"));
  std::vector<ObjectRef> merged;
  K3S_ASSIGN(GasData gas, select_gas(amount, price, &merged));
  StakeTxInputs inputs{key_.address(), pool, amount, settings_.node_id, gas, merged};
  Bytes bytes = build_stake_transaction(settings_, inputs).to_bcs();
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
  K3S_ASSIGN(auto found, find_record());
  if (!found) {
    return make_error(ErrorKind::kNotStaked, "node " + settings_.node_id + " has no stake (address " +
                                                 key_.address().to_hex() + ")");
  }
  StakeRecord record = *found;
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
  K3S_ASSIGN(std::uint64_t epoch, chain_.current_epoch());
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
  K3S_ASSIGN(std::uint64_t price, chain_.reference_gas_price());
  K3S_ASSIGN(SharedObjectRef pool, shared_ref(settings_.pool, "staking pool (sui.staking_pool_id)"));
  SharedObjectRef record_ref{record.id, record.initial_shared_version, true};
  K3S_ASSIGN(GasData gas, select_gas(0, price));
  UnstakeTxInputs inputs{key_.address(), pool, record_ref, gas};
  Bytes bytes = build_unstake_transaction(settings_, inputs).to_bcs();
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
  auto after = read_record(record.id);
  outcome.record = after.ok() ? *after : record;
  if (after.ok()) K3S_TRY(remember(*after, ""));
  return outcome;
}

}  // namespace k3s_daas::sui
