// Seal tokens (protocol.md section 2): issue, every verification rule, tampering, the official
// SDK's verifyPersonalMessageSignature, and the on-chain StakeRecord check.
#include <doctest/doctest.h>

#include <filesystem>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/seal.hpp"
#include "k3s_daas/staking.hpp"
#include "k3s_daas/sui_client.hpp"
#include "support/support.hpp"

using namespace k3s_daas;
using namespace k3s_daas::seal;

namespace {

crypto::Ed25519Keypair new_key() {
  auto key = crypto::Ed25519Keypair::generate();
  REQUIRE(key.ok());
  return std::move(key).value();
}

crypto::Address address(char fill) {
  return crypto::Address::parse("0x" + std::string(64, fill)).value();
}

IssueOptions options_for(const std::string& node_id) {
  IssueOptions options;
  options.node_id = node_id;
  options.stake_id = address('5');
  return options;
}

// A token from any payload, signed by `key` (for rules that issue() itself refuses to break).
std::string sign_payload(const crypto::Ed25519Keypair& key, const SealTokenV1& payload) {
  Bytes bytes = payload.encode();
  return std::string(kPrefix) + base64url_encode(bytes) + "." + base64url_encode(key.sign_personal_message(bytes));
}

std::string with_payload(const Token& token, const SealTokenV1& payload) {
  return std::string(kPrefix) + base64url_encode(payload.encode()) + "." + base64url_encode(token.signature);
}

Reason rejection_of(std::string_view text, const VerifyOptions& options = {}) {
  Reason why{};
  auto result = verify(text, options, &why);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message.find(std::string("(") + reason_name(why) + ")") != std::string::npos);
  // A token never appears in an error message.
  if (text.size() > 20) CHECK(result.error().message.find(std::string(text)) == std::string::npos);
  return why;
}

// A chain client that serves one configurable StakeRecord.
class FakeChain : public sui::ChainClient {
 public:
  std::optional<sui::ObjectInfo> object;
  std::optional<Error> failure;
  Result<std::uint64_t> reference_gas_price() override { return unsupported(); }
  Result<std::uint64_t> current_epoch() override { return unsupported(); }
  Result<std::vector<sui::Coin>> sui_coins(const sui::Address&) override { return unsupported(); }
  Result<std::uint64_t> sui_balance(const sui::Address&) override { return unsupported(); }
  Result<std::optional<sui::ObjectInfo>> get_object(const sui::Address& id) override {
    if (failure) return *failure;
    if (object && object->ref.object_id == id) return object;
    return std::optional<sui::ObjectInfo>();
  }
  Result<sui::TransactionResult> simulate(ByteView) override { return unsupported(); }
  Result<sui::TransactionResult> execute(const sui::SignedTransaction&) override { return unsupported(); }
  Result<std::optional<sui::TransactionResult>> get_transaction(const std::string&) override { return unsupported(); }
  Result<sui::EventPage> query_events(const std::string&, const std::optional<sui::Address>&,
                                      const std::optional<std::string>&, unsigned) override {
    return unsupported();
  }
  std::string transport() const override { return "fake"; }
  std::vector<sui::EndpointHealth> health() const override { return {}; }

 private:
  static Error unsupported() { return make_error(ErrorKind::kUnsupported, "fake chain"); }
};

}  // namespace

TEST_CASE("an issued token verifies, carries its fields and renews at two thirds") {
  auto key = new_key();
  auto options = options_for("worker-1");
  options.audience = Bytes(32, 0xee);
  options.ttl = std::chrono::seconds(3600);
  auto token = issue(key, options);
  REQUIRE_MESSAGE(token.ok(), token.error().message);
  const auto& t = token.value();
  CHECK(t.text.rfind("sealv1.", 0) == 0);
  CHECK(t.text.find('=') == std::string::npos);
  CHECK(t.signature.size() == 97);
  CHECK(t.payload.staker == key.address());
  CHECK(t.payload.nonce.size() == 16);
  CHECK(t.payload.expires_at_ms - t.payload.issued_at_ms == 3'600'000);

  VerifyOptions verify_options;
  verify_options.own_key = Bytes(32, 0xee);
  verify_options.expect_node_id = "worker-1";
  auto verified = verify(t.text, verify_options);
  REQUIRE_MESSAGE(verified.ok(), verified.error().message);
  CHECK(verified.value().payload.node_id == "worker-1");
  CHECK(verified.value().payload.stake_id == address('5'));

  const auto issued = static_cast<std::int64_t>(t.payload.issued_at_ms);
  CHECK(t.payload.renew_at_ms() == issued + 2'400'000);
  CHECK_FALSE(t.payload.needs_renewal(issued + 2'399'999));
  CHECK(t.payload.needs_renewal(issued + 2'400'000));

  // Two tokens differ by their nonce.
  auto again = issue(key, options);
  REQUIRE(again.ok());
  CHECK(again.value().payload.nonce != t.payload.nonce);
  // The payload round-trips through BCS.
  auto decoded = SealTokenV1::decode(t.payload.encode());
  REQUIRE(decoded.ok());
  CHECK(decoded.value().encode() == t.payload.encode());
}

TEST_CASE("the payload has the byte layout of section 2") {
  SealTokenV1 p;
  p.node_id = "n1";
  p.staker = address('a');
  p.stake_id = address('b');
  p.audience = {};
  p.issued_at_ms = 0x0102030405060708ull;
  p.expires_at_ms = 1;
  p.nonce = Bytes(16, 0x33);
  std::string expected = "01" "02" "6e31" + std::string(64, 'a') + std::string(64, 'b') + "00" +
                         "0807060504030201" + "0100000000000000" + "10" + std::string(32, '3');
  CHECK(hex_encode(p.encode()) == expected);
  Bytes trailing = p.encode();
  trailing.push_back(0);
  CHECK_FALSE(SealTokenV1::decode(trailing).ok());
}

TEST_CASE("tampering with any field, the signature or the prefix is rejected") {
  auto key = new_key();
  auto token = issue(key, options_for("worker-1"));
  REQUIRE(token.ok());
  const Token& t = token.value();
  REQUIRE(verify(t.text, {}).ok());

  SealTokenV1 p = t.payload;
  struct FieldCase {
    const char* name;
    std::function<void(SealTokenV1&)> change;
    Reason expected;
  };
  const FieldCase fields[] = {
      {"version", [](SealTokenV1& x) { x.version = 2; }, Reason::kVersion},
      {"node_id", [](SealTokenV1& x) { x.node_id = "worker-2"; }, Reason::kSignature},
      {"staker", [](SealTokenV1& x) { x.staker = address('c'); }, Reason::kSignature},
      {"stake_id", [](SealTokenV1& x) { x.stake_id.bytes[31] ^= 1; }, Reason::kSignature},
      {"audience", [](SealTokenV1& x) { x.audience = Bytes(32, 1); }, Reason::kSignature},
      {"issued_at_ms", [](SealTokenV1& x) { x.issued_at_ms -= 1; }, Reason::kSignature},
      {"expires_at_ms", [](SealTokenV1& x) { x.expires_at_ms += 1000; }, Reason::kSignature},
      {"nonce", [](SealTokenV1& x) { x.nonce[0] ^= 1; }, Reason::kSignature},
  };
  for (const auto& f : fields) {
    CAPTURE(f.name);
    SealTokenV1 changed = p;
    f.change(changed);
    CHECK(rejection_of(with_payload(t, changed)) == f.expected);
  }
  // Every byte of the signature: flag, Ed25519 signature, public key.
  for (std::size_t i = 0; i < t.signature.size(); ++i) {
    Bytes sig = t.signature;
    sig[i] ^= 0x01;
    std::string text = std::string(kPrefix) + base64url_encode(p.encode()) + "." + base64url_encode(sig);
    Reason why = rejection_of(text);
    if (i == 0) CHECK(why == Reason::kSignatureEncoding);
    else CHECK((why == Reason::kSignature || why == Reason::kStakerMismatch));
  }
  // Another key's valid signature over the same payload: the signer is not the staker.
  auto other = new_key();
  CHECK(rejection_of(sign_payload(other, p)) == Reason::kStakerMismatch);
  // The string itself.
  std::string body = t.text.substr(kPrefix.size());
  const std::pair<std::string, Reason> strings[] = {
      {"sealv2." + body, Reason::kPrefix},
      {"SEALV1." + body, Reason::kPrefix},
      {body, Reason::kPrefix},
      {"", Reason::kPrefix},
      {"sealv1.", Reason::kEncoding},
      {t.text + ".x", Reason::kEncoding},
      {t.text + "=", Reason::kEncoding},
      {"sealv1." + base64_encode(p.encode()) + "." + base64url_encode(t.signature) + "+/", Reason::kEncoding},
      {t.text.substr(0, t.text.find('.', 7)), Reason::kEncoding},
      {"sealv1." + base64url_encode(Bytes{1, 2, 3}) + "." + base64url_encode(t.signature), Reason::kPayload},
      {std::string(kPrefix) + std::string(5000, 'A') + ".AA", Reason::kEncoding},
  };
  for (const auto& entry : strings) {  // not a structured binding: clang 14 cannot capture one
    const auto& text = entry.first;
    const auto& expected = entry.second;
    CAPTURE(text.substr(0, 40));
    CHECK(rejection_of(text) == expected);
  }
  // Trailing bytes after the payload are refused even when signed.
  Bytes padded = p.encode();
  padded.push_back(0);
  std::string trailing = std::string(kPrefix) + base64url_encode(padded) + "." +
                         base64url_encode(key.sign_personal_message(padded));
  CHECK(rejection_of(trailing) == Reason::kPayload);
}

TEST_CASE("time, audience, node and nonce rules") {
  auto key = new_key();
  const std::int64_t now = now_unix_ms();
  SealTokenV1 base;
  base.node_id = "worker-1";
  base.staker = key.address();
  base.stake_id = address('5');
  base.issued_at_ms = static_cast<std::uint64_t>(now);
  base.expires_at_ms = static_cast<std::uint64_t>(now + 3'600'000);
  base.nonce = Bytes(16, 9);
  REQUIRE(verify(sign_payload(key, base), {}).ok());

  auto with = [&](auto change) {
    SealTokenV1 p = base;
    change(p);
    return sign_payload(key, p);
  };
  CHECK(rejection_of(with([&](SealTokenV1& p) { p.issued_at_ms = now + 61'000; p.expires_at_ms = now + 3'661'000; })) ==
        Reason::kIssuedInFuture);
  CHECK(verify(with([&](SealTokenV1& p) { p.issued_at_ms = now + 59'000; }), {}).ok());
  CHECK(rejection_of(with([&](SealTokenV1& p) { p.issued_at_ms = now - 7'200'000; p.expires_at_ms = now - 1; })) ==
        Reason::kExpired);
  CHECK(rejection_of(with([&](SealTokenV1& p) { p.expires_at_ms = now; })) == Reason::kExpired);
  CHECK(rejection_of(with([&](SealTokenV1& p) { p.issued_at_ms = now + 50'000; p.expires_at_ms = now + 40'000; })) ==
        Reason::kWindow);
  CHECK(rejection_of(with([&](SealTokenV1& p) { p.issued_at_ms = now - 1000; p.expires_at_ms = now - 1000 + 86'400'001; })) ==
        Reason::kLifetime);
  CHECK(verify(with([&](SealTokenV1& p) { p.expires_at_ms = now + 86'400'000; }), {}).ok());
  CHECK(rejection_of(with([&](SealTokenV1& p) { p.nonce = Bytes(15, 1); })) == Reason::kNonce);

  VerifyOptions own;
  own.own_key = Bytes(32, 0xaa);
  CHECK(verify(with([&](SealTokenV1& p) { p.audience = Bytes(32, 0xaa); }), own).ok());
  CHECK(verify(sign_payload(key, base), own).ok());  // empty audience: any verifier
  CHECK(rejection_of(with([&](SealTokenV1& p) { p.audience = Bytes(32, 0xab); }), own) == Reason::kAudience);
  CHECK(verify(with([&](SealTokenV1& p) { p.audience = Bytes(32, 0xab); }), {}).ok());  // audience not checked
  VerifyOptions node;
  node.expect_node_id = "worker-2";
  CHECK(rejection_of(sign_payload(key, base), node) == Reason::kNodeId);
  // A verifier's clock: the same token is expired an hour later.
  VerifyOptions later;
  later.now_ms = now + 3'600'001;
  CHECK(rejection_of(sign_payload(key, base), later) == Reason::kExpired);

  // issue() refuses lifetimes beyond 24 h and audiences that are not keys.
  auto options = options_for("worker-1");
  options.ttl = std::chrono::seconds(86401);
  CHECK_FALSE(issue(key, options).ok());
  options.ttl = std::chrono::seconds(60);
  options.audience = Bytes(31, 1);
  CHECK_FALSE(issue(key, options).ok());
}

TEST_CASE("the official @mysten/sui verifyPersonalMessageSignature accepts our signature") {
  auto script = test::source_dir() / "tests/seal/verify_with_sdk.mjs";
  if (!std::filesystem::exists(test::source_dir() / "tests/peers/node_modules/@mysten/sui/package.json")) {
    MESSAGE("SKIPPED: tests/peers/node_modules has no @mysten/sui (run scripts/npm-peers.sh)");
    return;
  }
  auto key = new_key();
  auto token = issue(key, options_for("worker-1"));
  REQUIRE(token.ok());
  Bytes payload = token.value().payload.encode();
  auto accepted = test::run({"node", script.string(), base64_encode(payload), base64_encode(token.value().signature)});
  INFO(accepted.out << accepted.err);
  REQUIRE(accepted.exit_code == 0);
  auto answer = nlohmann::json::parse(accepted.out);
  CHECK(answer["ok"] == true);
  CHECK(answer["address"] == key.address().to_hex());
  // And it refuses a changed payload.
  payload[3] ^= 1;
  auto refused = test::run({"node", script.string(), base64_encode(payload), base64_encode(token.value().signature)});
  CHECK(refused.exit_code == 1);
}

TEST_CASE("the on-chain StakeRecord check") {
  auto key = new_key();
  auto token = issue(key, options_for("worker-1"));
  REQUIRE(token.ok());
  const SealTokenV1& p = token.value().payload;
  const std::string package = "0x" + std::string(63, '0') + "7";
  FakeChain chain;
  auto record = [&]() {
    sui::ObjectInfo info;
    info.ref.object_id = p.stake_id;
    info.ref.version = 12;
    info.type = "0x7::staking::StakeRecord";
    info.owner.kind = sui::Owner::Kind::kShared;
    info.owner.initial_shared_version = 3;
    info.fields = {{"staker", key.address().to_hex()}, {"amount", "2000000000"}, {"status", 1},
                   {"node_id", "worker-1"},           {"staked_at", "3"},          {"locked_until", "4"},
                   {"stake_type", "node"}};
    return info;
  };
  ChainCheckOptions options;
  options.package_id = package;
  options.min_stake_mist = 1'000'000'000;

  chain.object = record();
  auto ok = check_stake(chain, p, options);
  REQUIRE_MESSAGE(ok.ok(), ok.error().message);
  CHECK(ok.value().amount == 2'000'000'000);
  CHECK(ok.value().active());
  CHECK(ok.value().node_id == "worker-1");
  CHECK(ok.value().version == 12);

  auto rejected = [&](auto change) {
    chain.object = record();
    change(*chain.object);
    Reason why{};
    auto result = check_stake(chain, p, options, &why);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::kVerify);
    return why;
  };
  CHECK(rejected([](sui::ObjectInfo& o) { o.ref.object_id.bytes[0] ^= 1; }) == Reason::kStakeNotFound);
  CHECK(rejected([](sui::ObjectInfo& o) { o.type = "0x8::staking::StakeRecord"; }) == Reason::kStakeWrongType);
  CHECK(rejected([](sui::ObjectInfo& o) { o.type = "0x7::staking::StakingPool"; }) == Reason::kStakeWrongType);
  CHECK(rejected([](sui::ObjectInfo& o) { o.fields["staker"] = "0x" + std::string(64, 'c'); }) == Reason::kStakeStaker);
  CHECK(rejected([](sui::ObjectInfo& o) { o.fields["node_id"] = "worker-9"; }) == Reason::kStakeNodeId);
  CHECK(rejected([](sui::ObjectInfo& o) { o.fields["status"] = 2; }) == Reason::kStakeNotActive);
  CHECK(rejected([](sui::ObjectInfo& o) { o.fields["status"] = "3"; }) == Reason::kStakeNotActive);
  CHECK(rejected([](sui::ObjectInfo& o) { o.fields["amount"] = 999'999'999; }) == Reason::kStakeBelowMinimum);
  // A full-length package id in the type is the same package.
  chain.object = record();
  chain.object->type = package + "::staking::StakeRecord";
  CHECK(check_stake(chain, p, options).ok());
  // Chain trouble is an error of its own, never a pass and never a rejection.
  chain.failure = make_error(ErrorKind::kNetwork, "connection refused");
  auto down = check_stake(chain, p, options);
  REQUIRE_FALSE(down.ok());
  CHECK(down.error().kind == ErrorKind::kNetwork);
  chain.failure.reset();
  chain.object = record();
  chain.object->fields.erase("amount");
  auto malformed = check_stake(chain, p, options);
  REQUIRE_FALSE(malformed.ok());
  CHECK(malformed.error().kind == ErrorKind::kProtocol);
}

// Issue 13, attack tests: each payload field altered and RE-SIGNED by the staker's own key, so the
// signature holds and the field's rule (off chain, or the StakeRecord on chain) must refuse it, as
// the master verifies a token (its own key as audience, the node it expects). The cases above
// cover unsigned alterations and the basic time, nonce, audience and node rules.
TEST_CASE("each payload field altered and re-signed by the staker's key is refused where it must be") {
  auto key = new_key();
  auto other_staker = new_key();
  const std::int64_t now = now_unix_ms();
  const Bytes master_key(32, 0xaa);
  SealTokenV1 base;
  base.node_id = "worker-1";
  base.staker = key.address();
  base.stake_id = address('5');
  base.audience = master_key;
  base.issued_at_ms = static_cast<std::uint64_t>(now);
  base.expires_at_ms = static_cast<std::uint64_t>(now + 3'600'000);
  base.nonce = Bytes(16, 9);
  VerifyOptions master;
  master.own_key = master_key;
  master.expect_node_id = "worker-1";
  auto resigned = [&](auto change) {
    SealTokenV1 p = base;
    change(p);
    return sign_payload(key, p);
  };
  REQUIRE(verify(sign_payload(key, base), master).ok());  // control

  struct Case {
    const char* name;
    std::function<void(SealTokenV1&)> change;
    Reason expected;
  };
  const Case off_chain[] = {
      {"version 0", [](SealTokenV1& p) { p.version = 0; }, Reason::kVersion},
      {"version 2", [](SealTokenV1& p) { p.version = 2; }, Reason::kVersion},
      {"version 255", [](SealTokenV1& p) { p.version = 255; }, Reason::kVersion},
      {"staker of another address", [&](SealTokenV1& p) { p.staker = other_staker.address(); }, Reason::kStakerMismatch},
      {"node_id of another node", [](SealTokenV1& p) { p.node_id = "worker-2"; }, Reason::kNodeId},
      {"node_id empty", [](SealTokenV1& p) { p.node_id = ""; }, Reason::kNodeId},
      {"node_id with a trailing space", [](SealTokenV1& p) { p.node_id = "worker-1 "; }, Reason::kNodeId},
      {"audience of another master", [](SealTokenV1& p) { p.audience = Bytes(32, 0xab); }, Reason::kAudience},
      {"audience 31 bytes", [](SealTokenV1& p) { p.audience.resize(31); }, Reason::kAudience},
      {"audience 33 bytes", [](SealTokenV1& p) { p.audience.push_back(0xaa); }, Reason::kAudience},
      {"issued at u64 max", [](SealTokenV1& p) { p.issued_at_ms = UINT64_MAX; p.expires_at_ms = UINT64_MAX; }, Reason::kIssuedInFuture},
      {"issued at 0 (lifetime of decades)", [](SealTokenV1& p) { p.issued_at_ms = 0; }, Reason::kLifetime},
      {"expires at u64 max", [](SealTokenV1& p) { p.expires_at_ms = UINT64_MAX; }, Reason::kLifetime},
      {"expires before issued", [&](SealTokenV1& p) { p.expires_at_ms = p.issued_at_ms - 1; }, Reason::kExpired},
      {"expired a millisecond ago", [&](SealTokenV1& p) { p.issued_at_ms = now - 3'600'000; p.expires_at_ms = now - 1; }, Reason::kExpired},
      {"nonce 0 bytes", [](SealTokenV1& p) { p.nonce.clear(); }, Reason::kNonce},
      {"nonce 17 bytes", [](SealTokenV1& p) { p.nonce.push_back(1); }, Reason::kNonce},
      {"nonce 32 bytes", [](SealTokenV1& p) { p.nonce.resize(32, 1); }, Reason::kNonce},
  };
  for (const auto& c : off_chain) {
    CAPTURE(c.name);
    CHECK(rejection_of(resigned(c.change), master) == c.expected);
  }

  // Fields only the chain can judge: the token passes every off-chain rule, and check_stake
  // refuses it against the StakeRecord the chain holds.
  const std::string package = "0x" + std::string(63, '0') + "7";
  ChainCheckOptions chain_options;
  chain_options.package_id = package;
  chain_options.min_stake_mist = 1'000'000'000;
  auto record_of = [&](const crypto::Address& id, const crypto::Address& staker, const std::string& node) {
    sui::ObjectInfo info;
    info.ref.object_id = id;
    info.ref.version = 12;
    info.type = "0x7::staking::StakeRecord";
    info.owner.kind = sui::Owner::Kind::kShared;
    info.owner.initial_shared_version = 3;
    info.fields = {{"staker", staker.to_hex()}, {"amount", "2000000000"}, {"status", 1}, {"node_id", node},
                   {"staked_at", "3"}, {"locked_until", "4"}, {"stake_type", "node"}};
    return info;
  };
  auto on_chain = [&](const SealTokenV1& p, const sui::ObjectInfo& record, const VerifyOptions& verify_options) {
    auto text = sign_payload(key, p);
    auto token = verify(text, verify_options);
    REQUIRE_MESSAGE(token.ok(), token.error().message);
    FakeChain chain;
    chain.object = record;
    Reason why{};
    auto result = check_stake(chain, token.value().payload, chain_options, &why);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::kVerify);
    CHECK(result.error().message.find(text) == std::string::npos);
    return why;
  };
  {  // control: the token's own record
    FakeChain chain;
    chain.object = record_of(base.stake_id, key.address(), "worker-1");
    REQUIRE(check_stake(chain, base, chain_options).ok());
  }
  // stake_id pointed at another staker's record (for the same node name).
  SealTokenV1 p = base;
  p.stake_id = address('6');
  CHECK(on_chain(p, record_of(p.stake_id, other_staker.address(), "worker-1"), master) == Reason::kStakeStaker);
  // stake_id pointed at a record of this staker for another node.
  CHECK(on_chain(p, record_of(p.stake_id, key.address(), "worker-2"), master) == Reason::kStakeNodeId);
  // stake_id of no record at all.
  CHECK(on_chain(p, record_of(address('7'), key.address(), "worker-1"), master) == Reason::kStakeNotFound);
  // node_id changed, verified by a master that does not expect a particular node: the record's
  // node_id refuses it.
  p = base;
  p.node_id = "worker-2";
  VerifyOptions any_node;
  any_node.own_key = master_key;
  CHECK(on_chain(p, record_of(p.stake_id, key.address(), "worker-1"), any_node) == Reason::kStakeNodeId);
}
