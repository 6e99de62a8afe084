// Sui JSON-RPC: parsers of the answers this agent asks for (suix_getReferenceGasPrice,
// suix_getLatestSuiSystemState, suix_getCoins, suix_getBalance, sui_getObject,
// sui_dryRunTransactionBlock, sui_executeTransactionBlock, sui_getTransactionBlock,
// suix_queryEvents).
#include <cctype>

#include "wire_util.hpp"

namespace k3s_daas::sui::wire {

using detail::get;
using detail::json;
using detail::malformed;
using detail::to_address;
using detail::to_bool;
using detail::to_string;
using detail::to_u64;

namespace jsonrpc {
namespace {

// {"AddressOwner": "0x.."} | {"ObjectOwner": "0x.."} | {"Shared": {"initial_shared_version": n}}
// | "Immutable" | {"ConsensusAddressOwner": {"owner": "0x..", "start_version": n}}
Result<Owner> parse_owner(const json* j) {
  Owner owner;
  if (j == nullptr) return owner;
  if (j->is_string()) {
    if (j->get_ref<const std::string&>() == "Immutable") owner.kind = Owner::Kind::kImmutable;
    return owner;
  }
  if (!j->is_object()) return malformed("object owner is neither a string nor an object");
  if (const json* a = get(j, "AddressOwner")) {
    auto address = to_address(a);
    if (!address) return malformed("AddressOwner is not an address");
    owner.kind = Owner::Kind::kAddress;
    owner.address = *address;
  } else if (const json* o = get(j, "ObjectOwner")) {
    auto address = to_address(o);
    if (!address) return malformed("ObjectOwner is not an address");
    owner.kind = Owner::Kind::kObject;
    owner.address = *address;
  } else if (const json* s = get(j, "Shared")) {
    auto version = to_u64(get(s, "initial_shared_version"));
    if (!version) return malformed("Shared owner without initial_shared_version");
    owner.kind = Owner::Kind::kShared;
    owner.initial_shared_version = *version;
  } else if (const json* c = get(j, "ConsensusAddressOwner")) {
    auto address = to_address(get(c, "owner"));
    if (!address) return malformed("ConsensusAddressOwner without an owner");
    owner.kind = Owner::Kind::kConsensusAddress;
    owner.address = *address;
    owner.initial_shared_version = to_u64(get(c, "start_version")).value_or(0);
  }
  return owner;
}

// JSON-RPC renders Move structs with UID as {"id": {"id": "0x.."}}; flatten it like GraphQL.
json flatten_fields(const json* fields) {
  if (fields == nullptr || !fields->is_object()) return json::object();
  json out = *fields;
  if (const json* id = get(fields, "id")) {
    if (const json* inner = get(id, "id")) out["id"] = *inner;
  }
  return out;
}

std::string event_cursor(const json* id) {
  if (id == nullptr || !id->is_object()) return "";
  auto digest = to_string(get(id, "txDigest"));
  auto seq = to_u64(get(id, "eventSeq"));
  if (!digest || !seq) return "";
  return json{{"txDigest", *digest}, {"eventSeq", std::to_string(*seq)}}.dump();
}

Result<ChainEvent> parse_event(const json& e) {
  ChainEvent ev;
  auto type = to_string(get(e, "type"));
  if (!type) return malformed("event without a type");
  ev.type = *type;
  if (auto sender = to_address(get(e, "sender"))) ev.sender = *sender;
  const json* parsed = get(e, "parsedJson");
  ev.fields = parsed != nullptr ? *parsed : json::object();
  ev.tx_digest = to_string(get(get(e, "id"), "txDigest")).value_or("");
  ev.cursor = event_cursor(get(e, "id"));
  ev.timestamp_ms = detail::to_time_ms(get(e, "timestampMs")).value_or(0);
  return ev;
}

}  // namespace

namespace {
// The identifier after `marker` (e.g. `name: Identifier("` -> staking), or "".
std::string word_after(std::string_view text, std::string_view marker) {
  auto pos = text.find(marker);
  if (pos == std::string_view::npos) return "";
  pos += marker.size();
  std::string out;
  while (pos < text.size() && out.size() < 128 &&
         (std::isalnum(static_cast<unsigned char>(text[pos])) || text[pos] == '_')) {
    out.push_back(text[pos++]);
  }
  return out;
}
}  // namespace

std::optional<MoveAbort> parse_move_abort(std::string_view status_error) {
  // MoveAbort(MoveLocation { module: ModuleId { address: <hex>, name: Identifier("staking") },
  //   function: 2, instruction: 10, function_name: Some("stake_for_node") }, 3) in command 1
  std::string_view text = status_error;
  if (text.size() > 4096 || text.substr(0, 9) != "MoveAbort") return std::nullopt;
  if (auto tail = text.rfind(" in command "); tail != std::string_view::npos) text = text.substr(0, tail);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty() || text.back() != ')') return std::nullopt;
  text.remove_suffix(1);
  std::size_t digits_start = text.size();
  while (digits_start > 0 && std::isdigit(static_cast<unsigned char>(text[digits_start - 1]))) --digits_start;
  json code_text = std::string(text.substr(digits_start));
  auto code = to_u64(&code_text);
  if (!code) return std::nullopt;
  text = text.substr(0, digits_start);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.size() < 2 || text.substr(text.size() - 2) != "},") return std::nullopt;
  MoveAbort abort;
  abort.code = *code;
  std::string address = word_after(status_error, "address: ");
  if (address.size() > 2 && address[0] == '0' && address[1] == 'x') address = address.substr(2);
  if (!address.empty()) {
    auto a = crypto::Address::parse(address);
    if (a.ok()) abort.package = a->to_hex();
  }
  abort.module = word_after(status_error, "name: Identifier(\"");
  abort.function = word_after(status_error, "function_name: Some(\"");
  return abort;
}

Result<std::uint64_t> parse_reference_gas_price(const json& result) {
  auto price = to_u64(&result);
  if (!price) return malformed("reference gas price is not a number");
  return *price;
}

Result<std::uint64_t> parse_epoch(const json& result) {
  auto epoch = to_u64(get(result, "epoch"));
  if (!epoch) return malformed("system state without an epoch");
  return *epoch;
}

Result<std::vector<Coin>> parse_coins(const json& result, std::optional<std::string>& next) {
  next.reset();
  const json* data = get(result, "data");
  if (data == nullptr || !data->is_array()) return malformed("suix_getCoins: 'data' is not a list");
  std::vector<Coin> coins;
  for (const auto& c : *data) {
    auto id = to_string(get(c, "coinObjectId"));
    auto version = to_u64(get(c, "version"));
    auto digest = to_string(get(c, "digest"));
    auto balance = to_u64(get(c, "balance"));
    if (!id || !version || !digest || !balance) return malformed("suix_getCoins: a coin lacks coinObjectId, version, digest or balance");
    // Version 0 marks coins that are not real objects (e.g. address-balance entries): they
    // cannot pay for gas.
    if (*version == 0) continue;
    auto ref = ObjectRef::parse(*id, *version, *digest);
    if (!ref.ok()) return malformed(ref.error().message);
    coins.push_back({*ref, *balance});
  }
  if (to_bool(get(result, "hasNextPage")).value_or(false)) {
    const json* cursor = get(result, "nextCursor");
    if (cursor == nullptr) return malformed("suix_getCoins: hasNextPage without nextCursor");
    next = cursor->is_string() ? cursor->get<std::string>() : cursor->dump();
  }
  return coins;
}

Result<std::uint64_t> parse_balance(const json& result) {
  auto total = to_u64(get(result, "totalBalance"));
  if (!total) return malformed("suix_getBalance: totalBalance missing or not a number");
  return *total;
}

Result<std::optional<ObjectInfo>> parse_object(const json& result) {
  if (const json* error = get(result, "error")) {
    auto code = to_string(get(error, "code")).value_or("");
    if (code == "notExists" || code == "deleted") return std::optional<ObjectInfo>();
    return make_error(ErrorKind::kRejected, "sui_getObject: " + detail::snippet(code.empty() ? error->dump() : code));
  }
  const json* data = get(result, "data");
  if (data == nullptr) return malformed("sui_getObject: neither 'data' nor 'error'");
  auto id = to_string(get(data, "objectId"));
  auto version = to_u64(get(data, "version"));
  auto digest = to_string(get(data, "digest"));
  if (!id || !version || !digest) return malformed("sui_getObject: object without objectId, version or digest");
  ObjectInfo info;
  auto ref = ObjectRef::parse(*id, *version, *digest);
  if (!ref.ok()) return malformed(ref.error().message);
  info.ref = *ref;
  info.previous_tx = to_string(get(data, "previousTransaction")).value_or("");
  info.type = to_string(get(data, "type")).value_or("");
  K3S_ASSIGN(info.owner, parse_owner(get(data, "owner")));
  const json* content = get(data, "content");
  if (info.type.empty()) info.type = to_string(get(content, "type")).value_or("");
  info.fields = flatten_fields(get(content, "fields"));
  if (auto b64 = to_string(get(get(data, "bcs"), "bcsBytes"))) {
    auto bytes = base64_decode(*b64);
    if (!bytes) return malformed("sui_getObject: bcs.bcsBytes is not base64");
    info.bcs = std::move(*bytes);
  }
  return std::optional<ObjectInfo>(std::move(info));
}

Result<TransactionResult> parse_transaction_block(const json& result) {
  TransactionResult out;
  const json* effects = get(result, "effects");
  if (effects == nullptr) return malformed("transaction block without effects");
  auto digest = to_string(get(result, "digest"));
  if (!digest) digest = to_string(get(effects, "transactionDigest"));
  if (!digest) return malformed("transaction block without a digest");
  out.digest = *digest;
  const json* status = get(effects, "status");
  auto state = to_string(get(status, "status"));
  if (!state || (*state != "success" && *state != "failure")) {
    return malformed("effects status is neither success nor failure");
  }
  out.success = *state == "success";
  if (!out.success) {
    out.error = to_string(get(status, "error")).value_or("transaction failed (no error message from the chain)");
    if (const json* abort_error = get(effects, "abortError")) {
      if (auto code = to_u64(get(abort_error, "error_code"))) {
        MoveAbort abort;
        abort.code = *code;
        auto module_id = to_string(get(abort_error, "module_id")).value_or("");
        auto sep = module_id.rfind("::");
        if (sep != std::string::npos) {
          abort.package = module_id.substr(0, sep);
          abort.module = module_id.substr(sep + 2);
        }
        abort.function = to_string(get(abort_error, "function")).value_or("");
        out.abort = abort;
      }
    }
    if (!out.abort) out.abort = parse_move_abort(out.error);
  }
  out.epoch = to_u64(get(effects, "executedEpoch"));
  out.checkpoint = to_u64(get(result, "checkpoint"));
  if (const json* gas = get(get(effects, "gasObject"), "reference")) {
    auto id = to_string(get(gas, "objectId"));
    auto version = to_u64(get(gas, "version"));
    auto gas_digest = to_string(get(gas, "digest"));
    if (id && version && gas_digest && *version != 0) {
      auto ref = ObjectRef::parse(*id, *version, *gas_digest);
      if (ref.ok()) out.gas_object = *ref;
    }
  }
  if (const json* changes = get(result, "objectChanges")) {
    if (!changes->is_array()) return malformed("objectChanges is not a list");
    for (const auto& change : *changes) {
      if (to_string(get(change, "type")).value_or("") != "created") continue;
      CreatedObject created;
      auto id = to_address(get(change, "objectId"));
      if (!id) return malformed("created object without an objectId");
      created.id = *id;
      created.type = to_string(get(change, "objectType")).value_or("");
      created.version = to_u64(get(change, "version")).value_or(0);
      K3S_ASSIGN(created.owner, parse_owner(get(change, "owner")));
      out.created.push_back(std::move(created));
    }
  }
  if (const json* events = get(result, "events")) {
    if (!events->is_array()) return malformed("events is not a list");
    for (const auto& e : *events) {
      K3S_ASSIGN(ChainEvent ev, parse_event(e));
      if (ev.tx_digest.empty()) ev.tx_digest = out.digest;
      out.events.push_back(std::move(ev));
    }
  }
  return out;
}

Result<EventPage> parse_events(const json& result) {
  const json* data = get(result, "data");
  if (data == nullptr || !data->is_array()) return malformed("suix_queryEvents: 'data' is not a list");
  EventPage page;
  for (const auto& e : *data) {
    K3S_ASSIGN(ChainEvent ev, parse_event(e));
    page.events.push_back(std::move(ev));
  }
  if (to_bool(get(result, "hasNextPage")).value_or(false)) {
    std::string cursor = event_cursor(get(result, "nextCursor"));
    if (cursor.empty()) return malformed("suix_queryEvents: hasNextPage without a valid nextCursor");
    page.next_cursor = cursor;
  }
  return page;
}

}  // namespace jsonrpc

Result<json> jsonrpc_envelope(std::string_view body) {
  K3S_ASSIGN(json doc, detail::parse_json(body));
  if (!doc.is_object()) return malformed("a JSON-RPC answer must be a JSON object");
  if (const json* error = get(doc, "error")) {
    auto message = to_string(get(error, "message")).value_or("(no message)");
    const json* code = get(error, "code");
    std::string code_text = code != nullptr && code->is_number_integer() ? std::to_string(code->get<std::int64_t>()) : "?";
    return make_error(ErrorKind::kRejected, "JSON-RPC error " + code_text + ": " + detail::snippet(message, 300));
  }
  auto it = doc.find("result");
  if (it == doc.end()) return malformed("JSON-RPC answer without 'result' or 'error'");
  return *it;
}

void exercise_jsonrpc_parsers(std::string_view body) {
  using namespace jsonrpc;
  std::optional<std::string> next;
  auto move_abort = [](const json& r) {
    auto error = detail::to_string(detail::get(detail::get(detail::get(r, "effects"), "status"), "error"));
    return error ? parse_move_abort(*error) : std::nullopt;
  };
  detail::feed(jsonrpc_envelope(body), parse_reference_gas_price, parse_epoch,
               [&](const json& r) { return parse_coins(r, next); }, parse_balance, parse_object,
               parse_transaction_block, parse_events, move_abort);
}

}  // namespace k3s_daas::sui::wire
