// Staking: names, StakeRecord parsing, transaction builders, and the journal and state files.
#include <algorithm>
#include <cstdio>
#include <limits>

#include <sys/stat.h>

#include "k3s_daas/config.hpp"
#include "k3s_daas/fs.hpp"
#include "k3s_daas/staking.hpp"
#include "k3s_daas/sui_bcs.hpp"
#include "wire_util.hpp"

namespace k3s_daas::sui {

using nlohmann::json;
using wire::detail::get;
using wire::detail::to_address;
using wire::detail::to_string;
using wire::detail::to_u64;

namespace {

constexpr int kStateVersion = 1;

json ref_to_json(const ObjectRef& ref) {
  return {{"object_id", ref.object_id.to_hex()}, {"version", ref.version}, {"digest", ref.digest_base58()}};
}

Result<ObjectRef> ref_from_json(const json& j) {
  auto id = to_string(get(j, "object_id"));
  auto version = to_u64(get(j, "version"));
  auto digest = to_string(get(j, "digest"));
  if (!id || !version || !digest) return make_error(ErrorKind::kIo, "object reference lacks object_id, version or digest");
  return ObjectRef::parse(*id, *version, *digest);
}

}  // namespace

std::string format_mist(std::uint64_t amount) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%llu MIST (%llu.%09llu SUI)", static_cast<unsigned long long>(amount),
                static_cast<unsigned long long>(amount / 1'000'000'000ull),
                static_cast<unsigned long long>(amount % 1'000'000'000ull));
  return buf;
}

std::string stake_status_name(std::uint8_t status) {
  switch (status) {
    case 1: return "ACTIVE";
    case 2: return "SLASHED";
    case 3: return "WITHDRAWN";
    default: return "UNKNOWN(" + std::to_string(status) + ")";
  }
}

const char* staking_abort_name(std::uint64_t code) {
  switch (code) {
    case 1: return "E_INSUFFICIENT_STAKE";
    case 2: return "E_NOT_STAKER";
    case 3: return "E_ALREADY_STAKED";
    case 4: return "E_STAKE_LOCKED";
    case 5: return "E_NOT_AUTHORIZED";
    case 6: return "E_NOT_ACTIVE";
    default: return nullptr;
  }
}

namespace {
const char* abort_meaning(std::uint64_t code) {
  switch (code) {
    case 1: return "the amount is below the pool's minimum stake";
    case 2: return "the sender is not the staker of this record";
    case 3: return "this address or this node id is already staked";
    case 4: return "the stake is still locked";
    case 5: return "only the pool admin may do this";
    case 6: return "the stake record is not active";
    default: return "";
  }
}
}  // namespace

std::string describe_failure(const TransactionResult& result, const std::string& module) {
  if (result.abort && result.abort->module == module) {
    if (const char* name = staking_abort_name(result.abort->code)) {
      std::string where = result.abort->module + (result.abort->function.empty() ? "" : "::" + result.abort->function);
      return std::string(name) + " (abort code " + std::to_string(result.abort->code) + ") in " + where + ": " +
             abort_meaning(result.abort->code);
    }
  }
  if (result.abort) {
    return "Move abort code " + std::to_string(result.abort->code) + " in " + result.abort->module +
           (result.abort->function.empty() ? "" : "::" + result.abort->function) + " (" +
           wire::detail::snippet(result.error) + ")";
  }
  return wire::detail::snippet(result.error.empty() ? "unknown failure" : result.error, 400);
}

Result<StakeRecord> StakeRecord::from_object(const ObjectInfo& object, const std::string& expected_type) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorKind::kProtocol, "object " + object.ref.object_id.to_hex() + " is not a usable StakeRecord: " + why);
  };
  if (!expected_type.empty() && TypeTag::canonical(object.type) != TypeTag::canonical(expected_type)) {
    return bad("its type is " + wire::detail::snippet(object.type) + ", expected " + expected_type);
  }
  if (object.owner.kind != Owner::Kind::kShared) return bad("it is not a shared object (" + object.owner.describe() + ")");
  StakeRecord record;
  record.id = object.ref.object_id;
  record.version = object.ref.version;
  record.last_tx = object.previous_tx;
  record.initial_shared_version = object.owner.initial_shared_version;
  const json& f = object.fields;
  auto staker = to_address(get(f, "staker"));
  auto amount = to_u64(get(f, "amount"));
  auto staked_at = to_u64(get(f, "staked_at"));
  auto locked_until = to_u64(get(f, "locked_until"));
  auto status = to_u64(get(f, "status"));
  auto node_id = to_string(get(f, "node_id"));
  if (!staker || !amount || !staked_at || !locked_until || !status || !node_id) {
    return bad("fields staker, amount, staked_at, locked_until, status or node_id are missing or malformed");
  }
  if (*status > 255) return bad("status is not a u8");
  record.staker = *staker;
  record.amount = *amount;
  record.staked_at = *staked_at;
  record.locked_until = *locked_until;
  record.status = static_cast<std::uint8_t>(*status);
  record.node_id = *node_id;
  record.stake_type = to_string(get(f, "stake_type")).value_or("");
  return record;
}

json StakeRecord::to_json() const {
  return {{"id", id.to_hex()},
          {"version", version},
          {"initial_shared_version", initial_shared_version},
          {"staker", staker.to_hex()},
          {"amount_mist", amount},
          {"staked_at_epoch", staked_at},
          {"locked_until_epoch", locked_until},
          {"status", stake_status_name(status)},
          {"node_id", node_id},
          {"stake_type", stake_type}};
}

Result<StakingSettings> StakingSettings::from_config(const config::Config& config) {
  StakingSettings s;
  auto package = crypto::Address::parse(config.sui.package_id);
  if (!package.ok()) return make_error(ErrorKind::kConfig, "sui.package_id: " + package.error().message);
  auto pool = crypto::Address::parse(config.sui.staking_pool_id);
  if (!pool.ok()) return make_error(ErrorKind::kConfig, "sui.staking_pool_id: " + pool.error().message);
  if (config.node_id.empty()) return make_error(ErrorKind::kConfig, "node_id: required");
  s.package = *package;
  s.pool = *pool;
  s.module = config.sui.module;
  s.node_id = config.node_id;
  s.gas_budget = config.sui.gas_budget_mist;
  s.state_dir = config.state_dir;
  return s;
}

std::string StakingSettings::record_type() const { return event_type("StakeRecord"); }

std::string StakingSettings::event_type(const std::string& name) const {
  return package.to_hex() + "::" + module + "::" + name;
}

TransactionData build_stake_transaction(const StakingSettings& settings, const StakeTxInputs& in) {
  TransactionBuilder b;
  Argument pool = b.shared_object(in.pool);
  Argument amount = b.pure_u64(in.amount);
  Argument node_id = b.pure_string(in.node_id);
  // Funds spread over more coins than the gas payment may hold: merge the rest into the gas coin
  // (at most 511 sources per command, under Sui's max_arguments of 512).
  constexpr std::size_t kSourcesPerMerge = 511;
  for (std::size_t i = 0; i < in.merge_into_gas.size(); i += kSourcesPerMerge) {
    std::vector<Argument> sources;
    for (std::size_t j = i; j < std::min(in.merge_into_gas.size(), i + kSourcesPerMerge); ++j) {
      sources.push_back(b.owned_object(in.merge_into_gas[j]));
    }
    b.merge_coins(b.gas_coin(), std::move(sources));
  }
  Argument coin = b.split_coins(b.gas_coin(), {amount});
  // SplitCoins returns a vector of coins; its first element is the payment (as the SDK does).
  b.move_call(settings.package, settings.module, settings.stake_function,
              {pool, Argument::nested_result(coin.index, 0), node_id});
  return b.build(in.sender, in.gas);
}

TransactionData build_unstake_transaction(const StakingSettings& settings, const UnstakeTxInputs& in) {
  TransactionBuilder b;
  Argument pool = b.shared_object(in.pool);
  Argument record = b.shared_object(in.record);
  Argument recipient = b.pure_address(in.sender);
  Argument withdrawn = b.move_call(settings.package, settings.module, settings.withdraw_function, {pool, record});
  b.transfer_objects({Argument::nested_result(withdrawn.index, 0)}, recipient);
  return b.build(in.sender, in.gas);
}

// ---- journal ----

json JournalEntry::to_json() const {
  json payment = json::array();
  for (const auto& ref : gas_payment) payment.push_back(ref_to_json(ref));
  return {{"kind", kind},
          {"node_id", node_id},
          {"digest", tx.digest},
          {"tx_bytes", tx.tx_bytes_b64()},
          {"signature", tx.signature_b64},
          {"gas_payment", payment},
          {"signed_at_ms", signed_at_ms},
          {"submissions", submissions}};
}

Result<JournalEntry> JournalEntry::from_json(const json& doc) {
  auto bad = [](const std::string& why) { return make_error(ErrorKind::kIo, std::string(kJournalFile) + ": " + why); };
  JournalEntry entry;
  auto kind = to_string(get(doc, "kind"));
  auto digest = to_string(get(doc, "digest"));
  auto bytes = to_string(get(doc, "tx_bytes"));
  auto signature = to_string(get(doc, "signature"));
  if (!kind || !digest || !bytes || !signature) return bad("pending entry lacks kind, digest, tx_bytes or signature");
  auto raw = base64_decode(*bytes);
  if (!raw) return bad("tx_bytes is not base64");
  if (transaction_digest(*raw) != *digest) return bad("digest does not match tx_bytes (the file was altered)");
  entry.kind = *kind;
  entry.node_id = to_string(get(doc, "node_id")).value_or("");
  entry.tx.tx_bytes = std::move(*raw);
  entry.tx.signature_b64 = *signature;
  entry.tx.digest = *digest;
  if (const json* payment = get(doc, "gas_payment"); payment != nullptr && payment->is_array()) {
    for (const auto& p : *payment) {
      auto ref = ref_from_json(p);
      if (!ref.ok()) return bad(ref.error().message);
      entry.gas_payment.push_back(*ref);
    }
  }
  // Clamped to the int64 range: a larger value would be written back negative and then read as 0.
  entry.signed_at_ms = static_cast<std::int64_t>(
      std::min<std::uint64_t>(to_u64(get(doc, "signed_at_ms")).value_or(0), std::numeric_limits<std::int64_t>::max()));
  entry.submissions = static_cast<unsigned>(to_u64(get(doc, "submissions")).value_or(0));
  return entry;
}

Result<std::optional<JournalEntry>> read_journal(const std::filesystem::path& state_dir) {
  auto path = state_dir / kJournalFile;
  // Never through a symbolic link (refused, naming the file): the agent wrote this file itself.
  K3S_ASSIGN(std::optional<std::string> content, fs::read_state_file(path, 1u << 20));
  if (!content) return std::optional<JournalEntry>();
  const std::string& text = *content;
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return make_error(ErrorKind::kIo, path.string() + ": not a JSON object; it records signed transactions that may be "
                                                      "pending: inspect it before removing it");
  }
  const json* pending = get(doc, "pending");
  if (pending == nullptr) return std::optional<JournalEntry>();
  auto entry = JournalEntry::from_json(*pending);
  if (!entry.ok()) return entry.error().context(path.string());
  return std::optional<JournalEntry>(std::move(entry).value());
}

Status write_journal(const std::filesystem::path& state_dir, const std::optional<JournalEntry>& entry) {
  json doc = {{"version", kStateVersion}, {"pending", entry ? entry->to_json() : json(nullptr)}};
  return fs::atomic_write_file(state_dir / kJournalFile, doc.dump(2) + "\n");
}

// ---- stake.json ----

json StakeState::to_json() const {
  return {{"version", kStateVersion},
          {"node_id", node_id},
          {"stake_record_id", stake_record_id ? json(stake_record_id->to_hex()) : json(nullptr)},
          {"stake_digest", stake_digest},
          {"staker", staker},
          {"status", status}};
}

Result<StakeState> StakeState::from_json(const json& doc) {
  StakeState s;
  s.node_id = to_string(get(doc, "node_id")).value_or("");
  if (const json* id = get(doc, "stake_record_id")) {
    auto a = to_address(id);
    if (!a) return make_error(ErrorKind::kIo, std::string(kStakeStateFile) + ": stake_record_id is not an object id");
    s.stake_record_id = *a;
  }
  s.stake_digest = to_string(get(doc, "stake_digest")).value_or("");
  s.staker = to_string(get(doc, "staker")).value_or("");
  s.status = to_string(get(doc, "status")).value_or("");
  return s;
}

Result<std::optional<StakeState>> read_stake_state(const std::filesystem::path& state_dir) {
  auto path = state_dir / kStakeStateFile;
  constexpr std::uint64_t kMaxBytes = 1u << 20;
  // Larger than the agent ever writes: broken, so only a lost hint like any broken content
  // (before, `stake`, `status` and `run` stopped on it until someone removed the file).
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > kMaxBytes) {
    return std::optional<StakeState>();
  }
  // Never through a symbolic link (refused, naming the file): the agent wrote this file itself.
  K3S_ASSIGN(std::optional<std::string> content, fs::read_state_file(path, kMaxBytes));
  if (!content) return std::optional<StakeState>();
  const std::string& text = *content;
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    // The chain is the source of truth; a broken state file is only a lost hint.
    return std::optional<StakeState>();
  }
  auto state = StakeState::from_json(doc);
  if (!state.ok()) return std::optional<StakeState>();
  return std::optional<StakeState>(std::move(state).value());
}

Status write_stake_state(const std::filesystem::path& state_dir, const StakeState& state) {
  return fs::atomic_write_file(state_dir / kStakeStateFile, state.to_json().dump(2) + "\n");
}

}  // namespace k3s_daas::sui
