// Every transaction of ../shared/testdata/sui/vectors.json is rebuilt from the SDK's JSON
// description (tx.toJSON()) through our builder and compared byte for byte: BCS bytes, digest,
// and the signature made with that vector's key.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "k3s_daas/sui_bcs.hpp"
#include "k3s_daas/sui_tx.hpp"
#include "support/support.hpp"

using namespace k3s_daas;
using namespace k3s_daas::sui;
using nlohmann::json;

namespace {

std::uint64_t to_u64(const json& v) {
  if (v.is_string()) return std::stoull(v.get<std::string>());
  return v.get<std::uint64_t>();
}

Address to_address(const json& v) { return crypto::Address::parse(v.get<std::string>()).value(); }

ObjectRef to_ref(const json& v) {
  return ObjectRef::parse(v.at("objectId").get<std::string>(), to_u64(v.at("version")), v.at("digest").get<std::string>()).value();
}

// The SDK's argument JSON: {"GasCoin": true} | {"Input": n} | {"Result": n} | {"NestedResult": [a, b]}
Argument to_argument(const json& v) {
  if (v.contains("GasCoin")) return Argument::gas_coin();
  if (v.contains("Input")) return Argument::input(v.at("Input").get<std::uint16_t>());
  if (v.contains("Result")) return Argument::result(v.at("Result").get<std::uint16_t>());
  if (v.contains("NestedResult")) {
    return Argument::nested_result(v.at("NestedResult").at(0).get<std::uint16_t>(), v.at("NestedResult").at(1).get<std::uint16_t>());
  }
  throw std::runtime_error("unknown argument " + v.dump());
}

std::vector<Argument> to_arguments(const json& v) {
  std::vector<Argument> out;
  for (const auto& a : v) out.push_back(to_argument(a));
  return out;
}

// The converter: the SDK's JSON form -> our builder calls.
TransactionData from_sdk_json(const json& d) {
  REQUIRE(d.at("version").get<int>() == 2);
  TransactionBuilder b;
  for (const auto& input : d.at("inputs")) {
    if (input.contains("Pure")) {
      b.pure(base64_decode(input.at("Pure").at("bytes").get<std::string>()).value());
    } else if (input.contains("Object")) {
      const auto& o = input.at("Object");
      if (o.contains("SharedObject")) {
        const auto& s = o.at("SharedObject");
        b.shared_object({to_address(s.at("objectId")), to_u64(s.at("initialSharedVersion")), s.at("mutable").get<bool>()});
      } else if (o.contains("ImmOrOwnedObject")) {
        b.owned_object(to_ref(o.at("ImmOrOwnedObject")));
      } else if (o.contains("Receiving")) {
        b.receiving_object(to_ref(o.at("Receiving")));
      } else {
        FAIL("unknown object input " << o.dump());
      }
    } else {
      FAIL("unknown input " << input.dump());
    }
  }
  for (const auto& command : d.at("commands")) {
    if (command.contains("MoveCall")) {
      const auto& c = command.at("MoveCall");
      std::vector<TypeTag> types;
      for (const auto& t : c.at("typeArguments")) types.push_back(TypeTag::parse(t.get<std::string>()).value());
      b.move_call(to_address(c.at("package")), c.at("module").get<std::string>(), c.at("function").get<std::string>(),
                  to_arguments(c.at("arguments")), types);
    } else if (command.contains("SplitCoins")) {
      const auto& c = command.at("SplitCoins");
      b.split_coins(to_argument(c.at("coin")), to_arguments(c.at("amounts")));
    } else if (command.contains("TransferObjects")) {
      const auto& c = command.at("TransferObjects");
      b.transfer_objects(to_arguments(c.at("objects")), to_argument(c.at("address")));
    } else if (command.contains("MergeCoins")) {
      const auto& c = command.at("MergeCoins");
      b.merge_coins(to_argument(c.at("destination")), to_arguments(c.at("sources")));
    } else {
      FAIL("unknown command " << command.dump());
    }
  }
  const auto& g = d.at("gasData");
  GasData gas;
  for (const auto& p : g.at("payment")) gas.payment.push_back(to_ref(p));
  gas.owner = to_address(g.at("owner"));
  gas.price = to_u64(g.at("price"));
  gas.budget = to_u64(g.at("budget"));
  std::optional<std::uint64_t> expiration;
  const auto& e = d.at("expiration");
  if (e.is_object() && e.contains("Epoch")) expiration = to_u64(e.at("Epoch"));
  return b.build(to_address(d.at("sender")), gas, expiration);
}

}  // namespace

TEST_CASE("sui tx: every SDK transaction vector is rebuilt byte for byte") {
  K3S_REQUIRE_SHARED();
  auto vectors = json::parse(test::read_file(*test::shared_dir() / "testdata/sui/vectors.json"));
  REQUIRE(vectors.at("transactions").size() >= 1);
  for (const auto& v : vectors.at("transactions")) {
    CAPTURE(v.at("digest_b58").get<std::string>());
    TransactionData tx = from_sdk_json(v.at("description"));
    Bytes bytes = tx.to_bcs();
    CHECK(base64_encode(bytes) == v.at("tx_bytes_b64").get<std::string>());
    CHECK(transaction_digest(bytes) == v.at("digest_b58").get<std::string>());
    CHECK(transaction_digest(bytes) == v.at("description").at("digest").get<std::string>());

    const auto& key = vectors.at("keys").at(v.at("key_index").get<std::size_t>());
    auto keypair = crypto::Ed25519Keypair::from_seed(hex_decode(key.at("seed_hex").get<std::string>()).value());
    REQUIRE(keypair.ok());
    SignedTransaction signed_tx = sign_transaction(*keypair, bytes);
    CHECK(signed_tx.signature_b64 == v.at("signature_b64").get<std::string>());
    CHECK(signed_tx.digest == v.at("digest_b58").get<std::string>());
    auto signer = crypto::verify_transaction_signature(bytes, base64_decode(signed_tx.signature_b64).value());
    REQUIRE(signer.ok());
    CHECK(signer->to_hex() == v.at("description").at("sender").get<std::string>());

    // The decoder reads the SDK's bytes back into the same structure.
    auto decoded = TransactionData::from_bcs(base64_decode(v.at("tx_bytes_b64").get<std::string>()).value());
    REQUIRE(decoded.ok());
    CHECK(*decoded == tx);
  }
}

TEST_CASE("sui tx: builder output for a stake and an unstake matches the vectors' layout") {
  K3S_REQUIRE_SHARED();
  auto vectors = json::parse(test::read_file(*test::shared_dir() / "testdata/sui/vectors.json"));
  for (const auto& v : vectors.at("transactions")) {
    const auto& d = v.at("description");
    auto sender = to_address(d.at("sender"));
    GasData gas;
    gas.payment.push_back(to_ref(d.at("gasData").at("payment").at(0)));
    gas.owner = sender;
    gas.price = to_u64(d.at("gasData").at("price"));
    gas.budget = to_u64(d.at("gasData").at("budget"));
    const auto& call = d.at("commands").at(v.at("kind") == "stake_for_node" ? 1 : 0).at("MoveCall");
    auto package = to_address(call.at("package"));
    const auto& pool = d.at("inputs").at(0).at("Object").at("SharedObject");
    SharedObjectRef pool_ref{to_address(pool.at("objectId")), to_u64(pool.at("initialSharedVersion")), true};
    TransactionBuilder b;
    if (v.at("kind") == "stake_for_node") {
      auto pool_arg = b.shared_object(pool_ref);
      auto amount = base64_decode(d.at("inputs").at(1).at("Pure").at("bytes").get<std::string>()).value();
      bcs::Reader r(amount);
      auto amount_arg = b.pure_u64(r.u64());
      auto node = base64_decode(d.at("inputs").at(2).at("Pure").at("bytes").get<std::string>()).value();
      bcs::Reader nr(node);
      auto node_arg = b.pure_string(nr.string());
      auto coin = b.split_coins(b.gas_coin(), {amount_arg});
      (void)coin;
      b.move_call(package, "staking", "stake_for_node", {pool_arg, Argument::nested_result(0, 0), node_arg});
    } else {
      auto pool_arg = b.shared_object(pool_ref);
      const auto& rec = d.at("inputs").at(1).at("Object").at("SharedObject");
      auto record_arg = b.shared_object({to_address(rec.at("objectId")), to_u64(rec.at("initialSharedVersion")), true});
      auto to = b.pure_address(sender);
      b.move_call(package, "staking", "withdraw_stake", {pool_arg, record_arg});
      b.transfer_objects({Argument::nested_result(0, 0)}, to);
    }
    CHECK(base64_encode(b.build(sender, gas).to_bcs()) == v.at("tx_bytes_b64").get<std::string>());
  }
}

TEST_CASE("sui tx: type tags parse, print and encode") {
  auto coin = TypeTag::parse("0x2::coin::Coin<0x2::sui::SUI>");
  REQUIRE(coin.ok());
  CHECK(coin->to_string() ==
        "0x0000000000000000000000000000000000000000000000000000000000000002::coin::Coin<"
        "0x0000000000000000000000000000000000000000000000000000000000000002::sui::SUI>");
  auto vec = TypeTag::parse("vector<vector<u8>>");
  REQUIRE(vec.ok());
  CHECK(vec->to_string() == "vector<vector<u8>>");
  auto pair = TypeTag::parse("0x1::m::P<u64, address>");
  REQUIRE(pair.ok());
  CHECK(pair->params.size() == 2);
  for (const char* bad : {"", "vector<u8", "0x1::m", "0x1::m::P<", "u8 u8", "0xzz::m::N", "0x1::9m::N"}) {
    CAPTURE(bad);
    CHECK_FALSE(TypeTag::parse(bad).ok());
  }
  // Round trip through a transaction.
  TransactionBuilder b;
  b.move_call(crypto::Address::parse("0x2").value(), "coin", "zero", {}, {*coin, *vec, *pair});
  GasData gas;
  auto tx = b.build(crypto::Address::parse("0x5").value(), gas, 42);
  auto back = TransactionData::from_bcs(tx.to_bcs());
  REQUIRE(back.ok());
  CHECK(*back == tx);
}

TEST_CASE("sui tx: the decoder refuses malformed and unsupported bytes") {
  TransactionBuilder b;
  b.merge_coins(b.gas_coin(), {b.owned_object({crypto::Address::parse("0x7").value(), 3, {}})});
  b.transfer_objects({Argument::result(0)}, b.receiving_object({crypto::Address::parse("0x8").value(), 4, {}}));
  GasData gas;
  gas.payment.push_back({crypto::Address::parse("0x9").value(), 1, {}});
  Bytes bytes = b.build(crypto::Address::parse("0x5").value(), gas).to_bcs();
  REQUIRE(TransactionData::from_bcs(bytes).ok());
  // Every truncation fails cleanly.
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = TransactionData::from_bcs(ByteView(bytes).first(n));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::kProtocol);
  }
  Bytes trailing = bytes;
  trailing.push_back(0);
  CHECK(TransactionData::from_bcs(trailing).error().message.find("trailing") != std::string::npos);
  Bytes v2 = bytes;
  v2[0] = 1;
  CHECK(TransactionData::from_bcs(v2).error().kind == ErrorKind::kUnsupported);
  Bytes huge = {0, 0, 0xff, 0xff, 0xff, 0xff, 0x07};
  CHECK_FALSE(TransactionData::from_bcs(huge).ok());
}
