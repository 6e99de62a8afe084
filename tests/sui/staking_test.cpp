// The staking client against an in-memory chain: the journal rule (settle a pending signed
// transaction before anything new, re-send the same bytes, clear only what can no longer land),
// simulation before submission, abort names, lock refusal, and the builders against the SDK's
// bytes.
#include <doctest/doctest.h>

#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "k3s_daas/staking.hpp"
#include "support/support.hpp"

using namespace k3s_daas;
using namespace k3s_daas::sui;
using nlohmann::json;

namespace {

Address addr(const std::string& s) { return crypto::Address::parse(s).value(); }
ObjectDigest digest_of(std::uint8_t b) {
  ObjectDigest d{};
  d.fill(b);
  return d;
}

const Address kPackage = addr("0x1a90d6d99c951017b6a4eecf6ed5ec0bbd6988fefc839c9701187da54bc86f8c");
const Address kPool = addr("0x77");
const Address kRecord = addr("0x88");
const Address kCoin = addr("0x99");

// A chain in memory, scripted per test.
class FakeChain : public ChainClient {
 public:
  enum class Exec { kLand, kNetworkError, kReject };
  Exec exec_mode = Exec::kLand;
  bool simulate_fails = false;
  std::uint64_t simulate_abort = 3;
  bool get_tx_fails = false;
  std::uint64_t epoch = 10;
  std::map<Address, ObjectInfo> objects;
  std::map<std::string, TransactionResult> txs;
  std::vector<std::string> executed;   // digests sent to execute
  std::vector<Bytes> executed_bytes;
  std::uint64_t coin_balance = 10'000'000'000;
  Address staker;
  std::string node_id = "worker-1";
  bool effects_carry_contents = false;  // execute answers with the record's contents (GraphQL)
  int object_reads = 0;                 // get_object calls
  std::vector<ChainEvent> events;       // what query_events answers (one page)

  FakeChain() {
    ObjectInfo pool;
    pool.ref = {kPool, 5, digest_of(1)};
    pool.type = kPackage.to_hex() + "::staking::StakingPool";
    pool.owner.kind = Owner::Kind::kShared;
    pool.owner.initial_shared_version = 3;
    objects[kPool] = pool;
    ObjectInfo coin;
    coin.ref = {kCoin, 2, digest_of(2)};
    coin.type = "0x2::coin::Coin<0x2::sui::SUI>";
    coin.owner.kind = Owner::Kind::kAddress;
    objects[kCoin] = coin;
  }

  void put_record(std::uint8_t status, std::uint64_t locked_until = 10) {
    ObjectInfo record;
    record.ref = {kRecord, 6, digest_of(3)};
    record.type = kPackage.to_hex() + "::staking::StakeRecord";
    record.owner.kind = Owner::Kind::kShared;
    record.owner.initial_shared_version = 6;
    record.fields = {{"id", kRecord.to_hex()}, {"staker", staker.to_hex()}, {"amount", "1000000000"},
                     {"staked_at", 10},        {"locked_until", std::to_string(locked_until)},
                     {"status", status},       {"node_id", node_id},  {"stake_type", "node"}};
    objects[kRecord] = record;
  }

  TransactionResult landed(const std::string& digest) {
    TransactionResult r;
    r.digest = digest;
    r.success = true;
    CreatedObject created;
    created.id = kRecord;
    created.type = "0x1a90d6d99c951017b6a4eecf6ed5ec0bbd6988fefc839c9701187da54bc86f8c::staking::StakeRecord";
    r.created.push_back(created);
    r.checkpoint = 1;
    return r;
  }

  Result<std::uint64_t> reference_gas_price() override { return std::uint64_t{750}; }
  Result<std::uint64_t> current_epoch() override { return epoch; }
  Result<std::vector<Coin>> sui_coins(const Address&) override {
    return std::vector<Coin>{{objects.at(kCoin).ref, coin_balance}};
  }
  Result<std::uint64_t> sui_balance(const Address&) override { return coin_balance; }
  Result<std::optional<ObjectInfo>> get_object(const Address& id) override {
    ++object_reads;
    auto it = objects.find(id);
    if (it == objects.end()) return std::optional<ObjectInfo>();
    return std::optional<ObjectInfo>(it->second);
  }
  Result<TransactionResult> simulate(ByteView) override {
    TransactionResult r;
    r.success = !simulate_fails;
    if (simulate_fails) {
      r.error = "MoveAbort";
      r.abort = MoveAbort{simulate_abort, kPackage.to_hex(), "staking", "stake_for_node"};
    }
    return r;
  }
  Result<TransactionResult> execute(const SignedTransaction& tx) override {
    executed.push_back(tx.digest);
    executed_bytes.push_back(tx.tx_bytes);
    if (auto it = txs.find(tx.digest); it != txs.end()) return it->second;  // same bytes: same effects
    switch (exec_mode) {
      case Exec::kNetworkError: return make_error(ErrorKind::kNetwork, "connection reset");
      case Exec::kReject: return make_error(ErrorKind::kRejected, "GraphQL error: object version unavailable");
      case Exec::kLand: break;
    }
    auto r = landed(tx.digest);
    txs[tx.digest] = r;
    objects[kCoin].ref.version += 1;
    put_record(1);
    if (effects_carry_contents) r.written.push_back(objects.at(kRecord));
    return r;
  }
  Result<std::optional<TransactionResult>> get_transaction(const std::string& digest) override {
    if (get_tx_fails) return make_error(ErrorKind::kNetwork, "timeout");
    auto it = txs.find(digest);
    if (it == txs.end()) return std::optional<TransactionResult>();
    return std::optional<TransactionResult>(it->second);
  }
  Result<EventPage> query_events(const std::string&, const std::optional<Address>&, const std::optional<std::string>&,
                                 unsigned) override {
    EventPage page;
    page.events = events;
    return page;
  }
  std::string transport() const override { return "fake"; }
  std::vector<EndpointHealth> health() const override { return {}; }
};

struct Fixture {
  test::TempDir dir;
  crypto::Ed25519Keypair key = crypto::Ed25519Keypair::generate().value();
  FakeChain chain;
  StakingSettings settings;
  Fixture() {
    chain.staker = key.address();
    settings.package = kPackage;
    settings.pool = kPool;
    settings.node_id = "worker-1";
    settings.state_dir = dir.path() / "state";
    settings.indexer_wait = std::chrono::milliseconds(50);
  }
  StakingClient client() { return StakingClient(chain, key, settings); }
  std::optional<JournalEntry> journal() { return read_journal(settings.state_dir).value(); }
};

}  // namespace

TEST_CASE("staking: builders reproduce the SDK's stake and unstake bytes") {
  K3S_REQUIRE_SHARED();
  auto vectors = json::parse(test::read_file(*test::shared_dir() / "testdata/sui/vectors.json"));
  for (const auto& v : vectors.at("transactions")) {
    const auto& d = v.at("description");
    StakingSettings settings;
    settings.package = addr(d.at("commands").at(v.at("kind") == "stake_for_node" ? 1 : 0).at("MoveCall").at("package"));
    const auto& p = d.at("gasData").at("payment").at(0);
    GasData gas;
    gas.payment.push_back(ObjectRef::parse(p.at("objectId").get<std::string>(), std::stoull(p.at("version").get<std::string>()),
                                           p.at("digest").get<std::string>())
                              .value());
    Address sender = addr(d.at("sender"));
    gas.owner = sender;
    gas.price = std::stoull(d.at("gasData").at("price").get<std::string>());
    gas.budget = std::stoull(d.at("gasData").at("budget").get<std::string>());
    auto shared = [&](const json& s) {
      return SharedObjectRef{addr(s.at("objectId")), s.at("initialSharedVersion").get<std::uint64_t>(), true};
    };
    SharedObjectRef pool = shared(d.at("inputs").at(0).at("Object").at("SharedObject"));
    TransactionData tx;
    if (v.at("kind") == "stake_for_node") {
      auto amount = base64_decode(d.at("inputs").at(1).at("Pure").at("bytes").get<std::string>()).value();
      auto node = base64_decode(d.at("inputs").at(2).at("Pure").at("bytes").get<std::string>()).value();
      std::uint64_t value = 0;
      for (int i = 7; i >= 0; --i) value = (value << 8) | amount[static_cast<std::size_t>(i)];
      tx = build_stake_transaction(settings, {sender, pool, value, std::string(node.begin() + 1, node.end()), gas});
    } else {
      SharedObjectRef record = shared(d.at("inputs").at(1).at("Object").at("SharedObject"));
      tx = build_unstake_transaction(settings, {sender, pool, record, gas});
    }
    CHECK(base64_encode(tx.to_bcs()) == v.at("tx_bytes_b64").get<std::string>());
  }
}

TEST_CASE("staking: abort names and StakeRecord parsing") {
  CHECK(std::string(staking_abort_name(1)) == "E_INSUFFICIENT_STAKE");
  CHECK(std::string(staking_abort_name(4)) == "E_STAKE_LOCKED");
  CHECK(std::string(staking_abort_name(6)) == "E_NOT_ACTIVE");
  CHECK(staking_abort_name(7) == nullptr);
  TransactionResult r;
  r.error = "raw";
  r.abort = MoveAbort{3, "0x1", "staking", "stake_for_node"};
  CHECK(describe_failure(r, "staking").find("E_ALREADY_STAKED (abort code 3) in staking::stake_for_node") == 0);
  CHECK(describe_failure(r, "other").find("Move abort code 3") == 0);

  FakeChain chain;
  chain.staker = addr("0x5");
  chain.put_record(2, 12);
  auto record = StakeRecord::from_object(chain.objects.at(kRecord), kPackage.to_hex() + "::staking::StakeRecord");
  REQUIRE(record.ok());
  CHECK(record->amount == 1'000'000'000);
  CHECK(record->locked_until == 12);
  CHECK(record->status == 2);
  CHECK(stake_status_name(record->status) == "SLASHED");
  CHECK(record->initial_shared_version == 6);
  // Short and long forms of the type are the same type.
  CHECK(StakeRecord::from_object(chain.objects.at(kRecord), "0x1a90d6d99c951017b6a4eecf6ed5ec0bbd6988fefc839c9701187da54bc86f8c::staking::StakeRecord").ok());
  CHECK_FALSE(StakeRecord::from_object(chain.objects.at(kRecord), "0x2::staking::StakeRecord").ok());
  auto object = chain.objects.at(kRecord);
  object.fields.erase("amount");
  CHECK_FALSE(StakeRecord::from_object(object, "").ok());
  object = chain.objects.at(kRecord);
  object.owner.kind = Owner::Kind::kAddress;
  CHECK_FALSE(StakeRecord::from_object(object, "").ok());
}

TEST_CASE("staking: the journal round-trips and refuses an altered file") {
  test::TempDir dir;
  CHECK_FALSE(read_journal(dir.path()).value().has_value());
  JournalEntry entry;
  entry.kind = "stake";
  entry.node_id = "n";
  entry.tx.tx_bytes = {1, 2, 3};
  entry.tx.digest = transaction_digest(entry.tx.tx_bytes);
  entry.tx.signature_b64 = "AAAA";
  entry.gas_payment.push_back({kCoin, 4, digest_of(9)});
  REQUIRE(write_journal(dir.path(), entry).ok());
  auto back = read_journal(dir.path());
  REQUIRE(back.ok());
  REQUIRE(back->has_value());
  CHECK((*back)->tx.tx_bytes == entry.tx.tx_bytes);
  CHECK((*back)->gas_payment == entry.gas_payment);
  auto doc = json::parse(test::read_file(dir / kJournalFile));
  doc["pending"]["tx_bytes"] = base64_encode(Bytes{9, 9});
  test::write_file(dir / kJournalFile, doc.dump());
  auto altered = read_journal(dir.path());
  REQUIRE_FALSE(altered.ok());
  CHECK(altered.error().message.find("does not match") != std::string::npos);
  test::write_file(dir / kJournalFile, "garbage");
  CHECK_FALSE(read_journal(dir.path()).ok());
  REQUIRE(write_journal(dir.path(), std::nullopt).ok());
  CHECK_FALSE(read_journal(dir.path()).value().has_value());
}

TEST_CASE("staking: a journal's signed_at_ms beyond int64 reads back the same after a rewrite") {
  // Found by state_files_fuzz (tests/fuzz/corpus/state_files_fuzz/regression-signed-at-2p63):
  // 2^63 used to become negative in memory, be written back negative and then read as 0.
  test::TempDir dir;
  JournalEntry entry;
  entry.kind = "stake";
  entry.tx.tx_bytes = {1, 2, 3};
  entry.tx.digest = transaction_digest(entry.tx.tx_bytes);
  entry.tx.signature_b64 = "AAAA";
  REQUIRE(write_journal(dir.path(), entry).ok());
  auto doc = json::parse(test::read_file(dir / kJournalFile));
  doc["pending"]["signed_at_ms"] = std::uint64_t{1} << 63;
  test::write_file(dir / kJournalFile, doc.dump());
  auto first = read_journal(dir.path());
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  CHECK((*first)->signed_at_ms == std::numeric_limits<std::int64_t>::max());
  REQUIRE(write_journal(dir.path(), **first).ok());
  auto second = read_journal(dir.path());
  REQUIRE(second.ok());
  REQUIRE(second->has_value());
  CHECK((*second)->signed_at_ms == (*first)->signed_at_ms);
}

TEST_CASE("staking: stake, then idempotent") {
  Fixture f;
  auto client = f.client();
  auto staked = client.stake(1'000'000'000);
  REQUIRE(staked.ok());
  CHECK(staked->kind == StakeOutcome::Kind::kStaked);
  CHECK(staked->record.id == kRecord);
  CHECK(f.chain.executed.size() == 1);
  CHECK_FALSE(f.journal().has_value());
  auto state = read_stake_state(f.settings.state_dir).value();
  REQUIRE(state.has_value());
  CHECK(state->stake_record_id == kRecord);
  CHECK(state->stake_digest == staked->digest);

  auto again = client.stake(1'000'000'000);
  REQUIRE(again.ok());
  CHECK(again->kind == StakeOutcome::Kind::kAlreadyStaked);
  CHECK(f.chain.executed.size() == 1);

  // A stake.json larger than the agent ever writes is a lost hint like a garbled one (it made
  // stake, status and run stop until someone removed it): the chain answers, the file is rewritten.
  ChainEvent event;  // what the chain emitted for that stake (this fake chain does not by itself)
  event.type = kPackage.to_hex() + "::staking::StakeEvent";
  event.tx_digest = staked->digest;
  event.fields = {{"node_id", "worker-1"}, {"staker", f.key.address().to_hex()}};
  f.chain.events.push_back(event);
  test::write_file(f.settings.state_dir / kStakeStateFile, std::string((1u << 20) + 1, ' '));
  CHECK_FALSE(read_stake_state(f.settings.state_dir).value().has_value());
  auto after = client.stake(1'000'000'000);
  REQUIRE(after.ok());
  CHECK(after->kind == StakeOutcome::Kind::kAlreadyStaked);
  CHECK(f.chain.executed.size() == 1);
  REQUIRE(read_stake_state(f.settings.state_dir).value().has_value());
  CHECK(read_stake_state(f.settings.state_dir).value()->stake_record_id == kRecord);
}

TEST_CASE("staking: a failed simulation is never submitted") {
  Fixture f;
  f.chain.simulate_fails = true;
  auto client = f.client();
  auto staked = client.stake(1'000'000'000);
  REQUIRE_FALSE(staked.ok());
  CHECK(staked.error().message.find("E_ALREADY_STAKED") != std::string::npos);
  CHECK(staked.error().message.find("nothing was submitted") != std::string::npos);
  CHECK(f.chain.executed.empty());
  CHECK_FALSE(f.journal().has_value());
}

TEST_CASE("staking: an unknown outcome stays journaled and is settled with the same bytes") {
  Fixture f;
  f.chain.exec_mode = FakeChain::Exec::kNetworkError;
  auto client = f.client();
  auto first = client.stake(1'000'000'000);
  REQUIRE_FALSE(first.ok());
  CHECK(first.error().message.find("outcome is unknown") != std::string::npos);
  auto pending = f.journal();
  REQUIRE(pending.has_value());
  const std::string digest = pending->tx.digest;

  // Still unknown: the same signed bytes again, never new ones; the journal stays.
  auto second = client.stake(1'000'000'000);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().message.find("nothing new was signed") != std::string::npos);
  for (const auto& d : f.chain.executed) CHECK(d == digest);
  CHECK(f.journal().has_value());

  // The chain answers again: the same bytes land; no second stake is built.
  f.chain.exec_mode = FakeChain::Exec::kLand;
  auto third = client.stake(1'000'000'000);
  REQUIRE(third.ok());
  CHECK(third->kind == StakeOutcome::Kind::kSettled);
  CHECK(third->note.find("re-sent and landed") != std::string::npos);
  for (const auto& d : f.chain.executed) CHECK(d == digest);
  CHECK_FALSE(f.journal().has_value());
}

TEST_CASE("staking: a pending transaction that landed is adopted") {
  Fixture f;
  f.chain.exec_mode = FakeChain::Exec::kNetworkError;
  auto client = f.client();
  REQUIRE_FALSE(client.stake(1'000'000'000).ok());
  auto pending = f.journal();
  REQUIRE(pending.has_value());
  // It had in fact landed (e.g. the connection broke after execution).
  f.chain.txs[pending->tx.digest] = f.chain.landed(pending->tx.digest);
  f.chain.put_record(1);
  std::size_t sent = f.chain.executed.size();
  auto settled = client.stake(1'000'000'000);
  REQUIRE(settled.ok());
  CHECK(settled->kind == StakeOutcome::Kind::kSettled);
  CHECK(settled->note.find("had landed") != std::string::npos);
  CHECK(f.chain.executed.size() == sent);  // nothing sent
  CHECK(read_stake_state(f.settings.state_dir).value()->stake_digest == pending->tx.digest);
}

TEST_CASE("staking: a refused pending transaction is cleared only when its gas coin moved") {
  Fixture f;
  f.chain.exec_mode = FakeChain::Exec::kNetworkError;
  auto client = f.client();
  REQUIRE_FALSE(client.stake(1'000'000'000).ok());
  REQUIRE(f.journal().has_value());

  f.chain.exec_mode = FakeChain::Exec::kReject;
  auto refused = client.settle_pending();
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("gas coin is unchanged") != std::string::npos);
  CHECK(f.journal().has_value());

  f.chain.objects[kCoin].ref.version += 5;  // spent by something else: the signed bytes can never land
  auto cleared = client.settle_pending();
  REQUIRE(cleared.ok());
  CHECK(cleared->find("can no longer land") != std::string::npos);
  CHECK_FALSE(f.journal().has_value());

  // Chain unreachable: nothing is decided, nothing is sent.
  f.chain.exec_mode = FakeChain::Exec::kNetworkError;
  REQUIRE_FALSE(client.stake(1'000'000'000).ok());
  f.chain.get_tx_fails = true;
  std::size_t sent = f.chain.executed.size();
  auto unreachable = client.stake(1'000'000'000);
  REQUIRE_FALSE(unreachable.ok());
  CHECK(f.chain.executed.size() == sent);
  CHECK(f.journal().has_value());
}

TEST_CASE("staking: unstake refuses while locked and without a stake") {
  Fixture f;
  auto client = f.client();
  auto none = client.unstake();
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().kind == ErrorKind::kNotStaked);
  CHECK(none.error().exit_code() == 80);

  REQUIRE(client.stake(1'000'000'000).ok());
  f.chain.put_record(1, 15);
  auto locked = client.unstake();
  REQUIRE_FALSE(locked.ok());
  CHECK(locked.error().message.find("locked until epoch 15 (the current epoch is 10)") != std::string::npos);
  f.chain.put_record(2, 10);
  auto slashed = client.unstake();
  REQUIRE_FALSE(slashed.ok());
  CHECK(slashed.error().exit_code() == 79);
  f.chain.put_record(3, 10);
  CHECK(client.unstake().error().exit_code() == 80);
}

TEST_CASE("staking: the new record is taken from the execution's own effects when they carry it") {
  Fixture f;
  f.chain.effects_carry_contents = true;
  auto staked = f.client().stake(1'000'000'000);
  REQUIRE(staked.ok());
  CHECK(staked->record.id == kRecord);
  CHECK(staked->record.amount == 1'000'000'000);
  CHECK(staked->record.active());
  // Only the pool was read (with the other inputs); the record was not read back.
  CHECK(f.chain.object_reads == 1);
  CHECK(read_stake_state(f.settings.state_dir).value()->stake_record_id == kRecord);

  // Without contents in the answer (JSON-RPC), the record is read back once.
  Fixture g;
  auto read_back = g.client().stake(1'000'000'000);
  REQUIRE(read_back.ok());
  CHECK(read_back->record.id == kRecord);
  CHECK(g.chain.object_reads == 2);
}

TEST_CASE("staking: the newest StakeEvent names the record; an older one never stands in for it") {
  Fixture f;
  const Address old_record = addr("0x66");
  // An earlier stake of this node, withdrawn, and the newest one, whose transaction the indexer
  // does not serve yet.
  ObjectInfo withdrawn;
  withdrawn.ref = {old_record, 4, digest_of(7)};
  withdrawn.type = kPackage.to_hex() + "::staking::StakeRecord";
  withdrawn.owner.kind = Owner::Kind::kShared;
  withdrawn.owner.initial_shared_version = 3;
  withdrawn.fields = {{"staker", f.key.address().to_hex()}, {"amount", "1000000000"}, {"staked_at", 9},
                      {"locked_until", 9}, {"status", 3}, {"node_id", "worker-1"}, {"stake_type", "node"}};
  f.chain.objects[old_record] = withdrawn;
  TransactionResult old_tx;
  old_tx.digest = "OldStakeDigest";
  old_tx.success = true;
  old_tx.created.push_back({old_record, withdrawn.type, withdrawn.owner, 4});
  f.chain.txs[old_tx.digest] = old_tx;
  f.chain.put_record(1);
  for (const char* digest : {"OldStakeDigest", "NewStakeDigest"}) {
    ChainEvent ev;
    ev.type = kPackage.to_hex() + "::staking::StakeEvent";
    ev.tx_digest = digest;
    ev.fields = {{"node_id", "worker-1"}, {"staker", f.key.address().to_hex()}};
    f.chain.events.push_back(ev);
  }
  auto lagging = f.client().find_record();
  REQUIRE_FALSE(lagging.ok());
  CHECK(lagging.error().kind == ErrorKind::kTimeout);
  CHECK(lagging.error().message.find("NewStakeDigest") != std::string::npos);
  CHECK_FALSE(read_stake_state(f.settings.state_dir).value().has_value());  // nothing remembered
  // Unstake says the same instead of "already withdrawn".
  auto unstake = f.client().unstake();
  REQUIRE_FALSE(unstake.ok());
  CHECK(unstake.error().kind == ErrorKind::kTimeout);
  CHECK(f.chain.executed.empty());

  // Once the indexer serves it: the active record.
  f.chain.txs["NewStakeDigest"] = f.chain.landed("NewStakeDigest");
  auto found = f.client().find_record();
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->id == kRecord);
  CHECK((*found)->active());
  CHECK(read_stake_state(f.settings.state_dir).value()->stake_record_id == kRecord);
}

TEST_CASE("staking: unstake run again after an unknown outcome that landed reports that withdrawal") {
  Fixture f;
  auto client = f.client();
  REQUIRE(client.stake(1'000'000'000).ok());
  f.chain.exec_mode = FakeChain::Exec::kNetworkError;
  auto unknown = client.unstake();
  REQUIRE_FALSE(unknown.ok());
  auto pending = f.journal();
  REQUIRE(pending.has_value());
  REQUIRE(pending->kind == "unstake");
  // It had landed: the record is withdrawn on chain.
  TransactionResult landed;
  landed.digest = pending->tx.digest;
  landed.success = true;
  f.chain.txs[landed.digest] = landed;
  f.chain.put_record(3);
  auto again = client.unstake();
  REQUIRE_MESSAGE(again.ok(), again.error().message);
  CHECK(again->digest == pending->tx.digest);
  CHECK(again->note.find("had landed") != std::string::npos);
  CHECK(again->record.status == static_cast<std::uint8_t>(StakeStatus::kWithdrawn));
  CHECK_FALSE(f.journal().has_value());
  // A third run has nothing to settle: the stake is withdrawn (exit 80).
  CHECK(client.unstake().error().exit_code() == 80);
}
