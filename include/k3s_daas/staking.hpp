#pragma once
// The staking client (protocol.md section 1): stake, unstake and find this node's StakeRecord,
// with the journal rule that keeps a node from ever staking twice.
// Owns: <state_dir>/sui-journal.json (signed transactions not yet settled) and
// <state_dir>/stake.json (the StakeRecord of this node). Must never: sign a second stake for a
// node while an earlier signed stake may still land; submit a transaction whose simulation
// failed; build a new transaction where re-sending the journaled bytes is what is needed.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "k3s_daas/crypto.hpp"
#include "k3s_daas/result.hpp"
#include "k3s_daas/sui_client.hpp"
#include "k3s_daas/sui_tx.hpp"

namespace k3s_daas::config {
struct Config;
}

namespace k3s_daas::sui {

inline constexpr const char* kJournalFile = "sui-journal.json";
inline constexpr const char* kStakeStateFile = "stake.json";

// "1000000000 MIST (1.000000000 SUI)"
std::string format_mist(std::uint64_t amount);

enum class StakeStatus : std::uint8_t { kActive = 1, kSlashed = 2, kWithdrawn = 3 };
// "ACTIVE", "SLASHED", "WITHDRAWN", or "UNKNOWN(n)".
std::string stake_status_name(std::uint8_t status);

// Abort codes of the staking module (docs/sui.md): 1 E_INSUFFICIENT_STAKE, 2 E_NOT_STAKER,
// 3 E_ALREADY_STAKED, 4 E_STAKE_LOCKED, 5 E_NOT_AUTHORIZED, 6 E_NOT_ACTIVE; nullptr otherwise.
const char* staking_abort_name(std::uint64_t code);
// "E_ALREADY_STAKED (3) in staking::stake_for_node: the sender or node id is already staked"
// for aborts of the staking module; Sui's own message otherwise.
std::string describe_failure(const TransactionResult& result, const std::string& module);

struct StakeRecord {
  Address id;
  std::uint64_t version = 0;
  std::uint64_t initial_shared_version = 0;
  Address staker;
  std::uint64_t amount = 0;
  std::uint64_t staked_at = 0;     // epoch
  std::uint64_t locked_until = 0;  // epoch
  std::uint8_t status = 0;
  std::string node_id;
  std::string stake_type;
  std::string last_tx;  // the transaction that wrote this version (evidence after a slash); may be empty

  // From an object read from the chain; u64 fields may be numbers or strings.
  static Result<StakeRecord> from_object(const ObjectInfo& object, const std::string& expected_type);
  bool active() const { return status == static_cast<std::uint8_t>(StakeStatus::kActive); }
  nlohmann::json to_json() const;
};

struct StakingSettings {
  Address package;
  std::string module = "staking";
  Address pool;
  std::string node_id;
  std::uint64_t gas_budget = 50'000'000;
  std::filesystem::path state_dir;
  std::string stake_function = "stake_for_node";
  std::string withdraw_function = "withdraw_stake";
  // How long after `stake` wrote stake.json a record it names may still be unknown to a lagging
  // indexer (find_record asks again meanwhile, 200 ms apart, instead of searching elsewhere).
  std::chrono::milliseconds indexer_wait{30000};

  static Result<StakingSettings> from_config(const config::Config& config);
  std::string record_type() const;  // <package>::<module>::StakeRecord (normalized)
  std::string event_type(const std::string& name) const;
};

// Transaction builders (pure; tests compare them with the SDK's bytes).
struct StakeTxInputs {
  Address sender;
  SharedObjectRef pool;
  std::uint64_t amount = 0;
  std::string node_id;
  GasData gas;
  // Coins beyond the gas payment, merged into the gas coin before the stake is split from it.
  std::vector<ObjectRef> merge_into_gas = {};
};
TransactionData build_stake_transaction(const StakingSettings& settings, const StakeTxInputs& in);
struct UnstakeTxInputs {
  Address sender;
  SharedObjectRef pool;
  SharedObjectRef record;
  GasData gas;
};
TransactionData build_unstake_transaction(const StakingSettings& settings, const UnstakeTxInputs& in);

// A signed transaction written to the journal before it is submitted.
struct JournalEntry {
  std::string kind;  // "stake" or "unstake"
  std::string node_id;
  SignedTransaction tx;
  std::vector<ObjectRef> gas_payment;
  std::int64_t signed_at_ms = 0;
  unsigned submissions = 0;

  nlohmann::json to_json() const;
  static Result<JournalEntry> from_json(const nlohmann::json& doc);
};
Result<std::optional<JournalEntry>> read_journal(const std::filesystem::path& state_dir);
Status write_journal(const std::filesystem::path& state_dir, const std::optional<JournalEntry>& entry);

// What stake.json remembers.
struct StakeState {
  std::string node_id;
  std::optional<Address> stake_record_id;
  std::string stake_digest;
  std::string staker;
  std::string status;  // last known, informational
  nlohmann::json to_json() const;
  static Result<StakeState> from_json(const nlohmann::json& doc);
};
Result<std::optional<StakeState>> read_stake_state(const std::filesystem::path& state_dir);
Status write_stake_state(const std::filesystem::path& state_dir, const StakeState& state);

// Progress steps shown on a terminal: "settle", "built", "simulated", "submitted", "final".
using Progress = std::function<void(std::string_view step, const std::string& detail)>;
// Asked once a new transaction is about to be built (never for settling a pending one, nor when
// there is nothing to do); an error cancels the command with that error.
using Confirm = std::function<Status(const std::string& question)>;

struct StakeOutcome {
  enum class Kind { kStaked, kAlreadyStaked, kSettled };
  Kind kind = Kind::kStaked;
  std::string digest;          // empty for kAlreadyStaked without a known digest
  StakeRecord record;
  std::string note;            // e.g. how an earlier pending transaction was settled
};

struct UnstakeOutcome {
  std::string digest;
  StakeRecord record;          // as read back after the withdrawal
  std::uint64_t withdrawn_amount = 0;
  std::string note;
};

class StakingClient {
 public:
  StakingClient(ChainClient& chain, const crypto::Ed25519Keypair& key, StakingSettings settings);

  // Stakes `amount` MIST for settings.node_id (idempotent; settles the journal first).
  Result<StakeOutcome> stake(std::uint64_t amount, const Progress& progress = {}, const Confirm& confirm = {});
  // Withdraws the stake to the sender; refuses while locked (naming the unlock epoch).
  Result<UnstakeOutcome> unstake(const Progress& progress = {}, const Confirm& confirm = {});
  // This node's StakeRecord: state file, then the stake transaction's created objects, then
  // StakeEvents sent by this address; nullopt when none exists. Persists what it finds.
  Result<std::optional<StakeRecord>> find_record();
  Result<StakeRecord> read_record(const Address& id);

  // Settles a pending journal entry: adopts its result when it landed, clears it when it can
  // no longer land, or re-sends the same signed bytes when unknown. Returns a note for the
  // user (empty when there was nothing pending).
  Result<std::string> settle_pending(const Progress& progress = {});

  const StakingSettings& settings() const { return settings_; }

 private:
  // Of `coins`, the largest first: up to Sui's 256 gas payment objects, then (when `merged` is
  // given) up to 700 more that the transaction merges into the gas coin.
  Result<GasData> select_gas(std::vector<Coin> coins, std::uint64_t needed_besides_gas, std::uint64_t price,
                             std::vector<ObjectRef>* merged = nullptr);
  // The object stake.json names, asked again while a lagging indexer may not serve it yet.
  Result<std::optional<ObjectInfo>> read_named_record(const Address& id);
  // Step 3 of find_record: this address's StakeEvents of this node (first page given or read).
  Result<std::optional<StakeRecord>> record_from_events(std::optional<EventPage> first_page);
  Result<TransactionResult> submit(JournalEntry entry, const Progress& progress);
  Result<std::optional<StakeRecord>> record_from_transaction(const std::string& digest);
  Status remember(const StakeRecord& record, const std::string& digest);
  Result<TransactionResult> adopt(const JournalEntry& entry, const TransactionResult& result);

  ChainClient& chain_;
  const crypto::Ed25519Keypair& key_;
  StakingSettings settings_;
  std::optional<StakeRecord> adopted_record_;  // the record made by the last adopted stake
  std::optional<TransactionResult> settled_;   // the pending transaction settle_pending adopted
  std::string pending_kind_;                   // its kind ("stake", "unstake"; empty: none)
};

}  // namespace k3s_daas::sui
