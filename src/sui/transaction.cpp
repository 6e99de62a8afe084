// TransactionData V1 in BCS. Variant indices (sui-types):
//   TransactionData: V1 = 0
//   TransactionKind: ProgrammableTransaction = 0
//   CallArg: Pure = 0, Object = 1
//   ObjectArg: ImmOrOwnedObject = 0, SharedObject = 1, Receiving = 2
//   Command: MoveCall = 0, TransferObjects = 1, SplitCoins = 2, MergeCoins = 3
//   Argument: GasCoin = 0, Input = 1, Result = 2, NestedResult = 3
//   TransactionExpiration: None = 0, Epoch = 1
//   ObjectRef: (ObjectID 32 bytes, SequenceNumber u64, ObjectDigest as vector<u8> of 32)
#include <cctype>

#include "k3s_daas/sui_bcs.hpp"
#include "k3s_daas/sui_tx.hpp"

namespace k3s_daas::sui {
namespace {

constexpr std::string_view kDigestPrefix = "TransactionData::";
constexpr int kMaxTypeDepth = 16;

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

// ---- encoding ----

void write_object_ref(bcs::Writer& w, const ObjectRef& ref) {
  w.address(ref.object_id).u64(ref.version).bytes(ref.digest);
}

void write_argument(bcs::Writer& w, const Argument& arg) {
  w.variant(static_cast<std::uint32_t>(arg.kind));
  switch (arg.kind) {
    case Argument::Kind::kGasCoin: break;
    case Argument::Kind::kInput:
    case Argument::Kind::kResult: w.u16(arg.index); break;
    case Argument::Kind::kNestedResult: w.u16(arg.index).u16(arg.nested); break;
  }
}

void write_arguments(bcs::Writer& w, const std::vector<Argument>& args) {
  w.vector(args, [](bcs::Writer& out, const Argument& a) { write_argument(out, a); });
}

void write_type_tag(bcs::Writer& w, const TypeTag& tag) {
  w.variant(static_cast<std::uint32_t>(tag.kind));
  if (tag.kind == TypeTag::Kind::kVector) {
    write_type_tag(w, tag.params.at(0));
  } else if (tag.kind == TypeTag::Kind::kStruct) {
    w.address(tag.address).string(tag.module).string(tag.name);
    w.vector(tag.params, [](bcs::Writer& out, const TypeTag& p) { write_type_tag(out, p); });
  }
}

void write_call_arg(bcs::Writer& w, const CallArg& arg) {
  std::visit(Overloaded{
                 [&](const PureArg& a) { w.variant(0).bytes(a.bytes); },
                 [&](const ImmOrOwnedArg& a) {
                   w.variant(1).variant(0);
                   write_object_ref(w, a.ref);
                 },
                 [&](const SharedArg& a) {
                   w.variant(1).variant(1).address(a.ref.object_id).u64(a.ref.initial_shared_version).boolean(a.ref.is_mutable);
                 },
                 [&](const ReceivingArg& a) {
                   w.variant(1).variant(2);
                   write_object_ref(w, a.ref);
                 },
             },
             arg);
}

void write_command(bcs::Writer& w, const Command& command) {
  std::visit(Overloaded{
                 [&](const MoveCall& c) {
                   w.variant(0).address(c.package).string(c.module).string(c.function);
                   w.vector(c.type_arguments, [](bcs::Writer& out, const TypeTag& t) { write_type_tag(out, t); });
                   write_arguments(w, c.arguments);
                 },
                 [&](const TransferObjects& c) {
                   w.variant(1);
                   write_arguments(w, c.objects);
                   write_argument(w, c.address);
                 },
                 [&](const SplitCoins& c) {
                   w.variant(2);
                   write_argument(w, c.coin);
                   write_arguments(w, c.amounts);
                 },
                 [&](const MergeCoins& c) {
                   w.variant(3);
                   write_argument(w, c.destination);
                   write_arguments(w, c.sources);
                 },
             },
             command);
}

// ---- decoding ----

struct Decoder {
  bcs::Reader r;
  bool unsupported = false;
  std::string unsupported_what;

  void refuse(const std::string& what) {
    if (!unsupported) {
      unsupported = true;
      unsupported_what = what;
    }
    r.fail("unsupported " + what);
  }

  // A vector length that cannot exceed the bytes left (each element takes at least one byte).
  std::size_t count() {
    std::size_t n = r.length();
    if (r.ok() && n > r.remaining()) {
      r.fail("vector length " + std::to_string(n) + " exceeds the remaining input");
      return 0;
    }
    return n;
  }

  ObjectRef object_ref() {
    ObjectRef ref;
    ref.object_id = r.address();
    ref.version = r.u64();
    Bytes digest = r.bytes();
    if (r.ok() && digest.size() != 32) r.fail("object digest of " + std::to_string(digest.size()) + " bytes");
    if (r.ok()) std::copy(digest.begin(), digest.end(), ref.digest.begin());
    return ref;
  }

  Argument argument() {
    std::uint32_t v = r.variant();
    switch (v) {
      case 0: return Argument::gas_coin();
      case 1: return Argument::input(r.u16());
      case 2: return Argument::result(r.u16());
      case 3: {
        std::uint16_t i = r.u16();
        return Argument::nested_result(i, r.u16());
      }
      default:
        if (r.ok()) r.fail("unknown Argument variant " + std::to_string(v));
        return {};
    }
  }

  std::vector<Argument> arguments() {
    std::vector<Argument> out;
    std::size_t n = count();
    for (std::size_t i = 0; i < n && r.ok(); ++i) out.push_back(argument());
    return out;
  }

  TypeTag type_tag(int depth) {
    TypeTag tag;
    if (depth > kMaxTypeDepth) {
      r.fail("type argument nested too deeply");
      return tag;
    }
    std::uint32_t v = r.variant();
    if (!r.ok()) return tag;
    if (v > 10) {
      r.fail("unknown TypeTag variant " + std::to_string(v));
      return tag;
    }
    tag.kind = static_cast<TypeTag::Kind>(v);
    if (tag.kind == TypeTag::Kind::kVector) {
      tag.params.push_back(type_tag(depth + 1));
    } else if (tag.kind == TypeTag::Kind::kStruct) {
      tag.address = r.address();
      tag.module = r.string();
      tag.name = r.string();
      std::size_t n = count();
      for (std::size_t i = 0; i < n && r.ok(); ++i) tag.params.push_back(type_tag(depth + 1));
    }
    return tag;
  }

  CallArg call_arg() {
    std::uint32_t v = r.variant();
    if (v == 0) return PureArg{r.bytes()};
    if (v != 1) {
      if (r.ok()) refuse("CallArg variant " + std::to_string(v));
      return PureArg{};
    }
    std::uint32_t o = r.variant();
    switch (o) {
      case 0: return ImmOrOwnedArg{object_ref()};
      case 1: {
        SharedObjectRef ref;
        ref.object_id = r.address();
        ref.initial_shared_version = r.u64();
        ref.is_mutable = r.boolean();
        return SharedArg{ref};
      }
      case 2: return ReceivingArg{object_ref()};
      default:
        if (r.ok()) refuse("ObjectArg variant " + std::to_string(o));
        return PureArg{};
    }
  }

  Command command() {
    std::uint32_t v = r.variant();
    switch (v) {
      case 0: {
        MoveCall c;
        c.package = r.address();
        c.module = r.string();
        c.function = r.string();
        std::size_t n = count();
        for (std::size_t i = 0; i < n && r.ok(); ++i) c.type_arguments.push_back(type_tag(0));
        c.arguments = arguments();
        return c;
      }
      case 1: {
        TransferObjects c;
        c.objects = arguments();
        c.address = argument();
        return c;
      }
      case 2: {
        SplitCoins c;
        c.coin = argument();
        c.amounts = arguments();
        return c;
      }
      case 3: {
        MergeCoins c;
        c.destination = argument();
        c.sources = arguments();
        return c;
      }
      default:
        if (r.ok()) refuse("Command variant " + std::to_string(v) + " (only MoveCall, TransferObjects, SplitCoins, MergeCoins)");
        return MoveCall{};
    }
  }
};

bool is_identifier(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// Recursive-descent parser of type tags.
struct TypeParser {
  std::string_view text;
  std::size_t pos = 0;
  std::string error;

  void skip_spaces() {
    while (pos < text.size() && text[pos] == ' ') ++pos;
  }
  std::string_view token() {
    skip_spaces();
    std::size_t start = pos;
    while (pos < text.size() && (std::isalnum(static_cast<unsigned char>(text[pos])) || text[pos] == '_')) ++pos;
    return text.substr(start, pos - start);
  }
  bool expect(std::string_view what) {
    skip_spaces();
    if (text.substr(pos, what.size()) != what) {
      if (error.empty()) error = "expected '" + std::string(what) + "' at position " + std::to_string(pos);
      return false;
    }
    pos += what.size();
    return true;
  }
  std::optional<TypeTag> parse(int depth) {
    if (depth > kMaxTypeDepth) {
      error = "type nested too deeply";
      return std::nullopt;
    }
    std::string_view word = token();
    static const std::pair<std::string_view, TypeTag::Kind> kPrimitives[] = {
        {"bool", TypeTag::Kind::kBool},       {"u8", TypeTag::Kind::kU8},     {"u16", TypeTag::Kind::kU16},
        {"u32", TypeTag::Kind::kU32},         {"u64", TypeTag::Kind::kU64},   {"u128", TypeTag::Kind::kU128},
        {"u256", TypeTag::Kind::kU256},       {"address", TypeTag::Kind::kAddress},
        {"signer", TypeTag::Kind::kSigner},
    };
    TypeTag tag;
    for (const auto& [name, kind] : kPrimitives) {
      if (word == name) {
        tag.kind = kind;
        return tag;
      }
    }
    if (word == "vector") {
      tag.kind = TypeTag::Kind::kVector;
      if (!expect("<")) return std::nullopt;
      auto inner = parse(depth + 1);
      if (!inner || !expect(">")) return std::nullopt;
      tag.params.push_back(std::move(*inner));
      return tag;
    }
    auto address = crypto::Address::parse(word);
    if (!address.ok()) {
      error = "expected a primitive type, vector<...> or 0xADDRESS::module::Name, found '" + std::string(word) + "'";
      return std::nullopt;
    }
    tag.kind = TypeTag::Kind::kStruct;
    tag.address = *address;
    if (!expect("::")) return std::nullopt;
    tag.module = std::string(token());
    if (!expect("::")) return std::nullopt;
    tag.name = std::string(token());
    if (!is_identifier(tag.module) || !is_identifier(tag.name)) {
      error = "invalid module or type name";
      return std::nullopt;
    }
    skip_spaces();
    if (pos < text.size() && text[pos] == '<') {
      ++pos;
      while (true) {
        auto param = parse(depth + 1);
        if (!param) return std::nullopt;
        tag.params.push_back(std::move(*param));
        skip_spaces();
        if (pos < text.size() && text[pos] == ',') {
          ++pos;
          continue;
        }
        if (!expect(">")) return std::nullopt;
        break;
      }
    }
    return tag;
  }
};

}  // namespace

Result<ObjectRef> ObjectRef::parse(std::string_view object_id, std::uint64_t version, std::string_view digest_b58) {
  K3S_ASSIGN(auto id, crypto::Address::parse(object_id));
  auto digest = base58_decode(digest_b58);
  if (!digest || digest->size() != 32) {
    return make_error(ErrorKind::kProtocol, "object " + id.to_hex() + ": digest '" + std::string(digest_b58.substr(0, 64)) +
                                                "' is not a base58 32-byte digest");
  }
  ObjectRef ref;
  ref.object_id = id;
  ref.version = version;
  std::copy(digest->begin(), digest->end(), ref.digest.begin());
  return ref;
}

std::string ObjectRef::digest_base58() const { return base58_encode(digest); }

Result<TypeTag> TypeTag::parse(std::string_view text) {
  TypeParser parser{text};
  auto tag = parser.parse(0);
  if (tag) {
    parser.skip_spaces();
    if (parser.pos != text.size()) parser.error = "unexpected text after the type at position " + std::to_string(parser.pos);
  }
  if (!tag || !parser.error.empty()) {
    return make_error(ErrorKind::kUsage, "type '" + std::string(text.substr(0, 200)) + "': " + parser.error);
  }
  return std::move(*tag);
}

std::string TypeTag::canonical(std::string_view text) {
  auto tag = parse(text);
  return tag.ok() ? tag->to_string() : std::string(text);
}

std::string TypeTag::to_string() const {
  switch (kind) {
    case Kind::kBool: return "bool";
    case Kind::kU8: return "u8";
    case Kind::kU16: return "u16";
    case Kind::kU32: return "u32";
    case Kind::kU64: return "u64";
    case Kind::kU128: return "u128";
    case Kind::kU256: return "u256";
    case Kind::kAddress: return "address";
    case Kind::kSigner: return "signer";
    case Kind::kVector: return "vector<" + (params.empty() ? std::string("?") : params[0].to_string()) + ">";
    case Kind::kStruct: {
      std::string out = address.to_hex() + "::" + module + "::" + name;
      if (!params.empty()) {
        out += "<";
        for (std::size_t i = 0; i < params.size(); ++i) out += (i ? ", " : "") + params[i].to_string();
        out += ">";
      }
      return out;
    }
  }
  return "?";
}

Bytes TransactionData::to_bcs() const {
  bcs::Writer w;
  w.variant(0);  // TransactionData::V1
  w.variant(0);  // TransactionKind::ProgrammableTransaction
  w.vector(inputs, [](bcs::Writer& out, const CallArg& a) { write_call_arg(out, a); });
  w.vector(commands, [](bcs::Writer& out, const Command& c) { write_command(out, c); });
  w.address(sender);
  w.vector(gas.payment, [](bcs::Writer& out, const ObjectRef& r) { write_object_ref(out, r); });
  w.address(gas.owner).u64(gas.price).u64(gas.budget);
  if (expiration_epoch) {
    w.variant(1).u64(*expiration_epoch);
  } else {
    w.variant(0);
  }
  return std::move(w).data();
}

Result<TransactionData> TransactionData::from_bcs(ByteView bytes) {
  Decoder d{bcs::Reader(bytes)};
  TransactionData tx;
  std::uint32_t version = d.r.variant();
  if (d.r.ok() && version != 0) d.refuse("TransactionData version " + std::to_string(version));
  std::uint32_t kind = d.r.variant();
  if (d.r.ok() && kind != 0) d.refuse("TransactionKind " + std::to_string(kind) + " (only ProgrammableTransaction)");
  std::size_t n = d.count();
  for (std::size_t i = 0; i < n && d.r.ok(); ++i) tx.inputs.push_back(d.call_arg());
  n = d.count();
  for (std::size_t i = 0; i < n && d.r.ok(); ++i) tx.commands.push_back(d.command());
  tx.sender = d.r.address();
  n = d.count();
  for (std::size_t i = 0; i < n && d.r.ok(); ++i) tx.gas.payment.push_back(d.object_ref());
  tx.gas.owner = d.r.address();
  tx.gas.price = d.r.u64();
  tx.gas.budget = d.r.u64();
  std::uint32_t expiration = d.r.variant();
  if (d.r.ok()) {
    if (expiration == 1) {
      tx.expiration_epoch = d.r.u64();
    } else if (expiration != 0) {
      d.refuse("TransactionExpiration variant " + std::to_string(expiration));
    }
  }
  if (d.unsupported) {
    return make_error(ErrorKind::kUnsupported, "transaction bytes: " + d.unsupported_what + " is not supported");
  }
  K3S_TRY(d.r.finish("transaction bytes"));
  return tx;
}

// ---- builder ----

Argument TransactionBuilder::input(CallArg arg) {
  inputs_.push_back(std::move(arg));
  return Argument::input(static_cast<std::uint16_t>(inputs_.size() - 1));
}

Argument TransactionBuilder::pure_u64(std::uint64_t v) { return pure(bcs::encode_u64(v)); }
Argument TransactionBuilder::pure_string(std::string_view s) { return pure(bcs::encode_string(s)); }
Argument TransactionBuilder::pure_address(const Address& a) { return pure(bcs::encode_address(a)); }

Argument TransactionBuilder::command(Command c) {
  commands_.push_back(std::move(c));
  return Argument::result(static_cast<std::uint16_t>(commands_.size() - 1));
}

Argument TransactionBuilder::move_call(const Address& package, std::string module, std::string function,
                                       std::vector<Argument> arguments, std::vector<TypeTag> type_arguments) {
  return command(MoveCall{package, std::move(module), std::move(function), std::move(type_arguments), std::move(arguments)});
}

Argument TransactionBuilder::split_coins(Argument coin, std::vector<Argument> amounts) {
  return command(SplitCoins{coin, std::move(amounts)});
}

Argument TransactionBuilder::merge_coins(Argument destination, std::vector<Argument> sources) {
  return command(MergeCoins{destination, std::move(sources)});
}

Argument TransactionBuilder::transfer_objects(std::vector<Argument> objects, Argument address) {
  return command(TransferObjects{std::move(objects), address});
}

TransactionData TransactionBuilder::build(const Address& sender, GasData gas, std::optional<std::uint64_t> expiration_epoch) const {
  TransactionData tx;
  tx.inputs = inputs_;
  tx.commands = commands_;
  tx.sender = sender;
  tx.gas = std::move(gas);
  tx.expiration_epoch = expiration_epoch;
  return tx;
}

std::string transaction_digest(ByteView tx_bytes) {
  return base58_encode(crypto::blake2b256({as_bytes(kDigestPrefix), tx_bytes}));
}

SignedTransaction sign_transaction(const crypto::Ed25519Keypair& key, Bytes tx_bytes) {
  SignedTransaction out;
  out.signature_b64 = base64_encode(key.sign_transaction(tx_bytes));
  out.digest = transaction_digest(tx_bytes);
  out.tx_bytes = std::move(tx_bytes);
  return out;
}

}  // namespace k3s_daas::sui
