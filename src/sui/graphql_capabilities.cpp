// The GraphQL schema check: the table of what the agent's documents select, a small reader of
// those documents (for the test that keeps the table honest and for the per-document check), the
// introspection request and the mapping of "unknown field" errors. See graphql_capabilities.hpp.
#include "graphql_capabilities.hpp"

#include <cctype>
#include <map>
#include <mutex>
#include <set>

#include "k3s_daas/log.hpp"
#include "k3s_daas/sui_client.hpp"
#include "wire_util.hpp"

namespace k3s_daas::sui::detail::gqlcaps {

using nlohmann::json;

const std::vector<FieldUse>& field_table() {
  // Derived from the documents in graphql_wire.cpp (tests/sui/graphql_caps_test.cpp checks that
  // every field and argument they select is here). Return types as in Sui's schema.
  static const std::vector<FieldUse> table = {
      {"Query", "epoch", {}, "Epoch"},
      {"Query", "address", {"address"}, "Address"},
      {"Query", "object", {"address"}, "Object"},
      {"Query", "objects", {"filter", "first", "after"}, "ObjectConnection"},
      {"Query", "events", {"first", "after", "filter"}, "EventConnection"},
      {"Query", "simulateTransaction", {"transaction", "checksEnabled"}, "SimulationResult"},
      {"Query", "transaction", {"digest"}, "Transaction"},
      {"Mutation", "executeTransaction", {"transactionDataBcs", "signatures"}, "ExecutionResult"},
      {"Epoch", "epochId", {}, "UInt53"},
      {"Epoch", "referenceGasPrice", {}, "BigInt"},
      {"Address", "address", {}, "SuiAddress"},
      {"Address", "objects", {"first", "after", "filter"}, "MoveObjectConnection"},
      {"Address", "balance", {"coinType"}, "Balance"},
      {"Balance", "totalBalance", {}, "BigInt"},
      {"MoveObjectConnection", "pageInfo", {}, "PageInfo"},
      {"MoveObjectConnection", "nodes", {}, "MoveObject"},
      {"ObjectConnection", "pageInfo", {}, "PageInfo"},
      {"ObjectConnection", "nodes", {}, "Object"},
      {"PageInfo", "hasNextPage", {}, "Boolean"},
      {"PageInfo", "endCursor", {}, "String"},
      {"MoveObject", "address", {}, "SuiAddress"},
      {"MoveObject", "version", {}, "UInt53"},
      {"MoveObject", "digest", {}, "String"},
      {"MoveObject", "contents", {}, "MoveValue"},
      {"MoveValue", "type", {}, "MoveType"},
      {"MoveValue", "json", {}, "JSON"},
      {"MoveValue", "bcs", {}, "Base64"},
      {"MoveType", "repr", {}, "String"},
      {"Object", "address", {}, "SuiAddress"},
      {"Object", "version", {}, "UInt53"},
      {"Object", "digest", {}, "String"},
      {"Object", "previousTransaction", {}, "Transaction"},
      {"Object", "owner", {}, "Owner"},
      {"Object", "asMoveObject", {}, "MoveObject"},
      {"AddressOwner", "address", {}, "Address"},
      {"ObjectOwner", "address", {}, "Address"},
      {"Shared", "initialSharedVersion", {}, "UInt53"},
      {"ConsensusAddressOwner", "address", {}, "Address"},
      {"ConsensusAddressOwner", "startVersion", {}, "UInt53"},
      {"SimulationResult", "effects", {}, "TransactionEffects"},
      {"ExecutionResult", "effects", {}, "TransactionEffects"},
      {"Transaction", "digest", {}, "String"},
      {"Transaction", "effects", {}, "TransactionEffects"},
      {"TransactionEffects", "digest", {}, "String"},
      {"TransactionEffects", "status", {}, "ExecutionStatus"},
      {"TransactionEffects", "executionError", {}, "ExecutionError"},
      {"TransactionEffects", "epoch", {}, "Epoch"},
      {"TransactionEffects", "checkpoint", {}, "Checkpoint"},
      {"TransactionEffects", "gasEffects", {}, "GasEffects"},
      {"TransactionEffects", "objectChanges", {"first"}, "ObjectChangeConnection"},
      {"TransactionEffects", "events", {"first"}, "EventConnection"},
      {"ExecutionError", "message", {}, "String"},
      {"ExecutionError", "abortCode", {}, "BigInt"},
      {"ExecutionError", "module", {}, "MoveModule"},
      {"ExecutionError", "function", {}, "MoveFunction"},
      {"MoveModule", "name", {}, "String"},
      {"MoveModule", "package", {}, "MovePackage"},
      {"MovePackage", "address", {}, "SuiAddress"},
      {"MoveFunction", "name", {}, "String"},
      {"Checkpoint", "sequenceNumber", {}, "UInt53"},
      {"GasEffects", "gasObject", {}, "Object"},
      {"ObjectChangeConnection", "nodes", {}, "ObjectChange"},
      {"ObjectChange", "address", {}, "SuiAddress"},
      {"ObjectChange", "idCreated", {}, "Boolean"},
      {"ObjectChange", "outputState", {}, "Object"},
      {"EventConnection", "pageInfo", {}, "PageInfo"},
      {"EventConnection", "nodes", {}, "Event"},
      {"EventConnection", "edges", {}, "EventEdge"},
      {"EventEdge", "cursor", {}, "String"},
      {"EventEdge", "node", {}, "Event"},
      {"Event", "sequenceNumber", {}, "UInt53"},
      {"Event", "timestamp", {}, "DateTime"},
      {"Event", "sender", {}, "Address"},
      {"Event", "transaction", {}, "Transaction"},
      {"Event", "contents", {}, "MoveValue"},
  };
  return table;
}

namespace {

const FieldUse* find_field(std::string_view type, std::string_view field) {
  for (const auto& f : field_table()) {
    if (type == f.type && field == f.field) return &f;
  }
  return nullptr;
}

// ---- a reader of the GraphQL documents this agent writes (executable definitions only) ----

struct Selection {
  enum Kind { kField, kSpread, kInline } kind = kField;
  std::string name;  // field name (not the alias) or fragment name
  std::string on;    // kInline: type condition ("" = the enclosing type)
  std::vector<std::string> args;
  std::vector<Selection> children;
};

struct Document {
  std::vector<std::pair<std::string, std::vector<Selection>>> operations;  // (root type, selections)
  std::map<std::string, std::pair<std::string, std::vector<Selection>>> fragments;
};

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  Result<Document> document() {
    Document doc;
    next();
    while (!tok_.empty()) {
      if (tok_ == "{") {
        K3S_ASSIGN(auto sels, selection_set());
        doc.operations.emplace_back("Query", std::move(sels));
      } else if (tok_ == "query" || tok_ == "mutation") {
        std::string root = tok_ == "query" ? "Query" : "Mutation";
        next();
        if (is_name()) next();
        if (tok_ == "(") K3S_TRY(skip_balanced("(", ")"));
        K3S_ASSIGN(auto sels, selection_set());
        doc.operations.emplace_back(root, std::move(sels));
      } else if (tok_ == "fragment") {
        next();
        std::string name = tok_;
        next();
        if (tok_ != "on") return fail("'on' after fragment " + name);
        next();
        std::string type = tok_;
        next();
        K3S_ASSIGN(auto sels, selection_set());
        doc.fragments[name] = {type, std::move(sels)};
      } else {
        return fail("unexpected '" + tok_ + "'");
      }
    }
    return doc;
  }

 private:
  Error fail(const std::string& what) const {
    return make_error(ErrorKind::kInternal, "GraphQL document at offset " + std::to_string(pos_) + ": " + what);
  }
  bool is_name() const {
    return !tok_.empty() && (std::isalpha(static_cast<unsigned char>(tok_[0])) != 0 || tok_[0] == '_');
  }

  void next() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (std::isspace(static_cast<unsigned char>(c)) != 0 || c == ',') {
        ++pos_;
      } else {
        break;
      }
    }
    if (pos_ >= text_.size()) {
      tok_.clear();
      return;
    }
    std::size_t start = pos_;
    char c = text_[pos_];
    if (text_.substr(pos_, 3) == "...") {
      pos_ += 3;
    } else if (c == '"') {
      ++pos_;
      while (pos_ < text_.size() && text_[pos_] != '"') pos_ += text_[pos_] == '\\' ? 2 : 1;
      ++pos_;
    } else if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-') {
      while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) != 0 || text_[pos_] == '_' ||
                                     text_[pos_] == '-' || text_[pos_] == '.')) {
        ++pos_;
      }
    } else {
      ++pos_;
    }
    tok_ = std::string(text_.substr(start, std::min(pos_, text_.size()) - start));
  }

  Status skip_balanced(const std::string& open, const std::string& close) {
    int depth = 0;
    do {
      if (tok_.empty()) return fail("unbalanced '" + open + "'");
      if (tok_ == open) ++depth;
      if (tok_ == close) --depth;
      next();
    } while (depth > 0);
    return {};
  }

  Status value() {
    if (tok_ == "$") {
      next();
      next();
    } else if (tok_ == "[") {
      K3S_TRY(skip_balanced("[", "]"));
    } else if (tok_ == "{") {
      K3S_TRY(skip_balanced("{", "}"));
    } else if (tok_.empty()) {
      return fail("value expected");
    } else {
      next();
    }
    return {};
  }

  Result<std::vector<Selection>> selection_set() {
    if (tok_ != "{") return fail("'{' expected, got '" + tok_ + "'");
    next();
    std::vector<Selection> out;
    while (tok_ != "}") {
      if (tok_.empty()) return fail("unclosed selection set");
      Selection sel;
      if (tok_ == "...") {
        next();
        if (tok_ == "on" || tok_ == "{") {
          sel.kind = Selection::kInline;
          if (tok_ == "on") {
            next();
            sel.on = tok_;
            next();
          }
          K3S_ASSIGN(sel.children, selection_set());
        } else {
          sel.kind = Selection::kSpread;
          sel.name = tok_;
          next();
        }
      } else {
        if (!is_name()) return fail("field name expected, got '" + tok_ + "'");
        sel.name = tok_;
        next();
        if (tok_ == ":") {  // alias
          next();
          sel.name = tok_;
          next();
        }
        if (tok_ == "(") {
          next();
          while (tok_ != ")") {
            if (!is_name()) return fail("argument name expected, got '" + tok_ + "'");
            sel.args.push_back(tok_);
            next();
            if (tok_ != ":") return fail("':' expected after argument " + sel.args.back());
            next();
            K3S_TRY(value());
          }
          next();
        }
        if (tok_ == "{") {
          K3S_ASSIGN(sel.children, selection_set());
        }
      }
      out.push_back(std::move(sel));
    }
    next();
    return out;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::string tok_;
};

void walk(const Document& doc, const std::string& type, const std::vector<Selection>& sels,
          std::vector<std::string>& out, int depth) {
  if (depth > 64) return;
  auto add = [&](std::string use) {
    for (const auto& u : out) {
      if (u == use) return;
    }
    out.push_back(std::move(use));
  };
  for (const auto& sel : sels) {
    switch (sel.kind) {
      case Selection::kField: {
        if (sel.name.rfind("__", 0) == 0) break;  // __typename: every type has it
        std::string use = type + "." + sel.name;
        add(use);
        for (const auto& arg : sel.args) add(use + "(" + arg + ")");
        const FieldUse* f = find_field(type, sel.name);
        if (f != nullptr && !sel.children.empty()) walk(doc, f->returns, sel.children, out, depth + 1);
        break;
      }
      case Selection::kSpread: {
        auto it = doc.fragments.find(sel.name);
        if (it != doc.fragments.end()) walk(doc, it->second.first, it->second.second, out, depth + 1);
        break;
      }
      case Selection::kInline:
        walk(doc, sel.on.empty() ? type : sel.on, sel.children, out, depth + 1);
        break;
    }
  }
}

// "Type.field" or "Type.field(arg)" -> (type, field, arg).
struct Use {
  std::string type, field, arg;
};
Use split_use(std::string_view use) {
  Use u;
  auto dot = use.find('.');
  u.type = std::string(use.substr(0, dot));
  std::string_view rest = dot == std::string_view::npos ? std::string_view() : use.substr(dot + 1);
  auto paren = rest.find('(');
  u.field = std::string(rest.substr(0, paren));
  if (paren != std::string_view::npos) u.arg = std::string(rest.substr(paren + 1, rest.size() - paren - 2));
  return u;
}

std::vector<std::string> table_types() {
  std::vector<std::string> types;
  for (const auto& f : field_table()) {
    bool seen = false;
    for (const auto& t : types) seen = seen || t == f.type;
    if (!seen) types.emplace_back(f.type);
  }
  return types;
}

std::string version_text(const std::string& version) {
  return version.empty() ? "version not reported: no x-sui-rpc-version header" : "version " + version;
}

std::string lacks_message(const std::string& server, const std::string& version, const std::vector<std::string>& missing,
                          const std::string& document_name) {
  std::string list;
  for (std::size_t i = 0; i < missing.size() && i < 6; ++i) list += (i ? ", " : "") + missing[i];
  if (missing.size() > 6) list += ", ...";
  return "the Sui GraphQL server" + (server.empty() ? std::string() : " " + server) + " (" + version_text(version) +
         ") does not serve " + list + ", which this agent's " + (document_name.empty() ? "" : document_name + " ") +
         "query uses: its schema is older or newer than the one this agent was built for; point sui.rpc_urls at a "
         "compatible Sui GraphQL service or set sui.transport to jsonrpc";
}

struct ServerState {
  bool checked = false;
  std::string version;
  std::vector<std::string> missing;  // over the whole table
};

std::mutex g_mutex;
std::map<std::string, ServerState> g_servers;                         // by endpoint set
std::map<const char*, std::pair<std::string, std::vector<std::string>>> g_documents;  // name, uses

}  // namespace

bool table_has(std::string_view use) {
  Use u = split_use(use);
  const FieldUse* f = find_field(u.type, u.field);
  if (f == nullptr) return false;
  if (u.arg.empty()) return true;
  for (const char* a : f->args) {
    if (u.arg == a) return true;
  }
  return false;
}

Result<std::vector<std::string>> fields_used(std::string_view document) {
  Reader reader(document);
  K3S_ASSIGN(Document doc, reader.document());
  std::vector<std::string> out;
  for (const auto& [root, sels] : doc.operations) walk(doc, root, sels, out, 0);
  return out;
}

std::string introspection_query() {
  std::string q = "query K3sDaasSchemaCheck {";
  auto types = table_types();
  for (std::size_t i = 0; i < types.size(); ++i) {
    q += " t" + std::to_string(i) + ": __type(name: \"" + types[i] + "\") { fields { name args { name } } }";
  }
  q += " }";
  return q;
}

std::vector<std::string> missing_uses(const json& data, const std::vector<std::string>& uses) {
  auto types = table_types();
  std::vector<std::string> missing;
  for (const auto& use : uses) {
    Use u = split_use(use);
    std::size_t index = types.size();
    for (std::size_t i = 0; i < types.size(); ++i) {
      if (types[i] == u.type) index = i;
    }
    if (index == types.size() || !data.is_object()) continue;  // not asked: cannot tell
    auto alias = data.find("t" + std::to_string(index));
    if (alias == data.end()) continue;
    bool found = false;
    if (alias->is_object()) {  // null: the server has no such type
      auto fields = alias->find("fields");
      if (fields != alias->end() && fields->is_array()) {
        for (const auto& f : *fields) {
          if (!f.is_object() || f.value("name", "") != u.field) continue;
          if (u.arg.empty()) {
            found = true;
          } else if (auto args = f.find("args"); args != f.end() && args->is_array()) {
            for (const auto& a : *args) found = found || (a.is_object() && a.value("name", "") == u.arg);
          }
        }
      }
    }
    if (!found) missing.push_back(use);
  }
  return missing;
}

std::string server_version(const net::Response& response) {
  auto it = response.headers.find("x-sui-rpc-version");
  return it == response.headers.end() ? std::string() : wire::detail::snippet(it->second, 80);
}

std::optional<std::string> schema_error_use(std::string_view message) {
  auto quoted = [&](std::size_t from, int n) {
    std::vector<std::string> out;
    while (static_cast<int>(out.size()) < n) {
      auto a = message.find('"', from);
      if (a == std::string_view::npos) break;
      auto b = message.find('"', a + 1);
      if (b == std::string_view::npos) break;
      out.emplace_back(message.substr(a + 1, b - a - 1));
      from = b + 1;
    }
    return out;
  };
  for (std::string_view key : {"Cannot query field", "Unknown field"}) {
    auto at = message.find(key);
    if (at == std::string_view::npos) continue;
    auto q = quoted(at, 2);  // "field" on type "Type"
    if (q.size() == 2) return q[1] + "." + q[0];
  }
  if (auto at = message.find("Unknown argument"); at != std::string_view::npos) {
    auto q = quoted(at, 3);
    // graphql-js: "arg" on field "Type.field"; async-graphql: "arg" on field "field" of type "Type"
    if (q.size() >= 2 && q[1].find('.') != std::string::npos) return q[1] + "(" + q[0] + ")";
    if (q.size() == 3) return q[2] + "." + q[1] + "(" + q[0] + ")";
  }
  return std::nullopt;
}

Status check_document(EndpointPool& pool, const char* document) {
  std::string key;
  for (const auto& h : pool.health()) key += h.url + " ";
  std::lock_guard<std::mutex> lock(g_mutex);
  ServerState& state = g_servers[key];
  if (!state.checked) {
    json body = {{"query", introspection_query()}, {"variables", json::object()}};
    std::optional<json> data;
    std::string version;
    auto status = pool.call(
        "schema check", body.dump(),
        [&](std::string_view answer) -> Status {
          K3S_ASSIGN(json d, wire::graphql_envelope(answer));
          data = std::move(d);
          return {};
        },
        /*retryable=*/false, [&](const net::Response& response) { version = server_version(response); });
    if (!status.ok()) {
      if (status.error().kind != ErrorKind::kRejected) {
        // Transient (or a garbled answer): not remembered; this request goes ahead unchecked.
        K3S_LOG(kSui, warn, "graphql schema check failed ({}); the request goes ahead, checked at the next one",
                status.error().message);
        return {};
      }
      // The server refuses introspection: nothing to learn from it; errors are explained as they come.
      K3S_LOG(kSui, warn, "graphql schema check refused ({}); not checked", status.error().message);
      state.checked = true;
      return {};
    }
    std::vector<std::string> all;
    for (const auto& f : field_table()) {
      all.push_back(std::string(f.type) + "." + f.field);
      for (const char* a : f.args) all.push_back(std::string(f.type) + "." + f.field + "(" + a + ")");
    }
    state.missing = missing_uses(*data, all);
    state.version = version;
    state.checked = true;
    if (!state.missing.empty()) {
      K3S_LOG(kSui, warn, "{}", lacks_message("", version, state.missing, ""));
    }
  }
  if (state.missing.empty()) return {};
  auto doc = g_documents.find(document);
  if (doc == g_documents.end()) {
    std::string name;
    for (const auto& [n, text] : wire::graphql::all_queries()) {
      if (text == document) name = n;
    }
    auto uses = fields_used(document);
    doc = g_documents.emplace(document, std::make_pair(name, uses.ok() ? *uses : std::vector<std::string>())).first;
  }
  std::vector<std::string> lacking;
  for (const auto& use : doc->second.second) {
    for (const auto& m : state.missing) {
      if (m == use) lacking.push_back(use);
    }
  }
  if (lacking.empty()) return {};
  std::string server = pool.health().empty() ? "" : pool.health().front().url;
  return make_error(ErrorKind::kProtocol, lacks_message(pool.health().size() == 1 ? server : "", state.version, lacking,
                                                        doc->second.first));
}

Error explain(const Error& error, const std::string& server_version) {
  auto use = schema_error_use(error.message);
  if (!use) return error;
  return make_error(ErrorKind::kProtocol, lacks_message("", server_version, {*use}, "") + " (" + error.message + ")");
}

}  // namespace k3s_daas::sui::detail::gqlcaps
