#pragma once
// Sui transactions: TransactionData V1 with a ProgrammableTransaction kind, its BCS form, its
// digest and its signature. The layout follows Sui's public BCS definitions (sui-types), and
// tests/sui compares every byte with transactions built by the official SDK.
// Owns: building, encoding, decoding and signing transaction bytes. Must never: talk to the
// network, or change bytes after they are signed (a signed transaction is a value).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "k3s_daas/crypto.hpp"
#include "k3s_daas/encoding.hpp"
#include "k3s_daas/result.hpp"

namespace k3s_daas::sui {

using crypto::Address;
using ObjectDigest = std::array<std::uint8_t, 32>;

// (id, version, digest): an owned or immutable object at one version.
struct ObjectRef {
  Address object_id;
  std::uint64_t version = 0;
  ObjectDigest digest{};

  // From the JSON forms of the APIs: 0x id, version, base58 digest.
  static Result<ObjectRef> parse(std::string_view object_id, std::uint64_t version, std::string_view digest_b58);
  std::string digest_base58() const;
  bool operator==(const ObjectRef&) const = default;
};

struct SharedObjectRef {
  Address object_id;
  std::uint64_t initial_shared_version = 0;
  bool is_mutable = true;
  bool operator==(const SharedObjectRef&) const = default;
};

// CallArg: Pure(bytes) | Object(ImmOrOwnedObject | SharedObject | Receiving)
struct PureArg {
  Bytes bytes;
  bool operator==(const PureArg&) const = default;
};
struct ImmOrOwnedArg {
  ObjectRef ref;
  bool operator==(const ImmOrOwnedArg&) const = default;
};
struct SharedArg {
  SharedObjectRef ref;
  bool operator==(const SharedArg&) const = default;
};
struct ReceivingArg {
  ObjectRef ref;
  bool operator==(const ReceivingArg&) const = default;
};
using CallArg = std::variant<PureArg, ImmOrOwnedArg, SharedArg, ReceivingArg>;

// Argument: GasCoin | Input(u16) | Result(u16) | NestedResult(u16, u16)
struct Argument {
  enum class Kind : std::uint8_t { kGasCoin = 0, kInput = 1, kResult = 2, kNestedResult = 3 };
  Kind kind = Kind::kGasCoin;
  std::uint16_t index = 0;
  std::uint16_t nested = 0;

  static Argument gas_coin() { return {Kind::kGasCoin, 0, 0}; }
  static Argument input(std::uint16_t i) { return {Kind::kInput, i, 0}; }
  static Argument result(std::uint16_t i) { return {Kind::kResult, i, 0}; }
  static Argument nested_result(std::uint16_t i, std::uint16_t j) { return {Kind::kNestedResult, i, j}; }
  bool operator==(const Argument&) const = default;
};

// A Move type argument (TypeTag), parsed from its text form: bool, u8..u256, address, signer,
// vector<T>, 0xADDR::module::Name<T, ...>.
struct TypeTag {
  enum class Kind : std::uint8_t {
    kBool = 0, kU8 = 1, kU64 = 2, kU128 = 3, kAddress = 4, kSigner = 5, kVector = 6, kStruct = 7,
    kU16 = 8, kU32 = 9, kU256 = 10,
  };
  Kind kind = Kind::kBool;
  // kStruct
  Address address;
  std::string module;
  std::string name;
  // kVector: one element type; kStruct: the type parameters.
  std::vector<TypeTag> params;

  static Result<TypeTag> parse(std::string_view text);
  std::string to_string() const;
  // The canonical text of a type (addresses in full), so that two spellings compare equal; a
  // text that does not parse is returned unchanged (it then equals only itself).
  static std::string canonical(std::string_view text);
  bool operator==(const TypeTag&) const = default;
};

struct MoveCall {
  Address package;
  std::string module;
  std::string function;
  std::vector<TypeTag> type_arguments;
  std::vector<Argument> arguments;
  bool operator==(const MoveCall&) const = default;
};
struct TransferObjects {
  std::vector<Argument> objects;
  Argument address;
  bool operator==(const TransferObjects&) const = default;
};
struct SplitCoins {
  Argument coin;
  std::vector<Argument> amounts;
  bool operator==(const SplitCoins&) const = default;
};
struct MergeCoins {
  Argument destination;
  std::vector<Argument> sources;
  bool operator==(const MergeCoins&) const = default;
};
using Command = std::variant<MoveCall, TransferObjects, SplitCoins, MergeCoins>;

struct GasData {
  std::vector<ObjectRef> payment;
  Address owner;
  std::uint64_t price = 0;
  std::uint64_t budget = 0;
  bool operator==(const GasData&) const = default;
};

// TransactionData::V1 with TransactionKind::ProgrammableTransaction.
struct TransactionData {
  std::vector<CallArg> inputs;
  std::vector<Command> commands;
  Address sender;
  GasData gas;
  std::optional<std::uint64_t> expiration_epoch;  // None, or Epoch(n)

  Bytes to_bcs() const;
  // Decodes bytes this module can produce (other transaction kinds and commands are refused
  // with kUnsupported, malformed input with kProtocol).
  static Result<TransactionData> from_bcs(ByteView bytes);
  bool operator==(const TransactionData&) const = default;
};

// Collects inputs and commands and hands out the Arguments that refer to them.
class TransactionBuilder {
 public:
  Argument gas_coin() const { return Argument::gas_coin(); }
  Argument input(CallArg arg);
  Argument pure(Bytes bcs_bytes) { return input(PureArg{std::move(bcs_bytes)}); }
  Argument pure_u64(std::uint64_t v);
  Argument pure_string(std::string_view s);
  Argument pure_address(const Address& a);
  Argument shared_object(const SharedObjectRef& ref) { return input(SharedArg{ref}); }
  Argument owned_object(const ObjectRef& ref) { return input(ImmOrOwnedArg{ref}); }
  Argument receiving_object(const ObjectRef& ref) { return input(ReceivingArg{ref}); }

  // Each returns Result(i) of the command it added.
  Argument command(Command command);
  Argument move_call(const Address& package, std::string module, std::string function,
                     std::vector<Argument> arguments, std::vector<TypeTag> type_arguments = {});
  Argument split_coins(Argument coin, std::vector<Argument> amounts);
  Argument merge_coins(Argument destination, std::vector<Argument> sources);
  Argument transfer_objects(std::vector<Argument> objects, Argument address);

  TransactionData build(const Address& sender, GasData gas, std::optional<std::uint64_t> expiration_epoch = {}) const;

 private:
  std::vector<CallArg> inputs_;
  std::vector<Command> commands_;
};

// base58(BLAKE2b-256("TransactionData::" || tx bytes)), as Sui names transactions.
std::string transaction_digest(ByteView tx_bytes);

// Transaction bytes with their signature and digest; never altered once made.
struct SignedTransaction {
  Bytes tx_bytes;
  std::string signature_b64;  // flag || sig || pk, base64
  std::string digest;         // base58

  std::string tx_bytes_b64() const { return base64_encode(tx_bytes); }
};
SignedTransaction sign_transaction(const crypto::Ed25519Keypair& key, Bytes tx_bytes);

}  // namespace k3s_daas::sui
