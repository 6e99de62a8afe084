// Reading back what the daemon leaves in its state folder for operators and for its next run:
// heartbeat-seq.json and runtime-status.json. Both come from disk, where anything may be found
// (an old version's file, a hand edit, a torn write of an older agent), so the readers accept any
// bytes: fuzzed by tests/fuzz/daemon_files_fuzz.cpp.

#include <string>

#include "k3s_daas/daemon.hpp"
#include "k3s_daas/fs.hpp"
#include "k3s_daas/json_depth.hpp"

namespace k3s_daas::daemon {
namespace {

using nlohmann::json;

// A member's text when it is a string; otherwise its JSON (so a wrong type is shown, not trusted).
std::string shown(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  if (it == object.end()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

}  // namespace

Result<std::uint64_t> parse_sequence_floor(std::string_view text) {
  auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return make_error(ErrorKind::kIo, "expected a JSON object {\"floor\": N}");
  auto it = doc.find("floor");
  if (it == doc.end() || !it->is_number_unsigned()) {
    return make_error(ErrorKind::kIo, "expected \"floor\" to be an unsigned integer");
  }
  return it->get<std::uint64_t>();
}

StatusView describe_runtime_status(std::string_view file_text, const std::filesystem::path& path) {
  // The daemon writes a flat document; one nested deeper than kMaxStatusDepth is not its (and
  // would overflow the stack when shown: dump() recurses once per level).
  constexpr int kMaxStatusDepth = 16;
  const bool too_deep = json_nesting_depth(file_text, kMaxStatusDepth) > kMaxStatusDepth;
  auto doc = too_deep ? json(json::value_t::discarded) : json::parse(file_text, nullptr, false);
  if (doc.is_discarded()) {
    const std::string why = "unreadable " + path.string() +
                            (too_deep ? " (nested deeper than " + std::to_string(kMaxStatusDepth) + " levels)" : "");
    return {{{"running", nullptr}, {"error", why}}, "daemon: " + why + "\n"};
  }
  std::string out = "daemon:\n";
  // Which master the node trusts, and on what grounds.
  const json master = doc.is_object() && doc.contains("master") ? doc["master"] : json();
  if (master.is_object() && master.contains("enclave_key")) {
    out += "  trusted enclave: key " + shown(master, "enclave_key") + "\n";
    const json on_chain = master.contains("on_chain") ? master["on_chain"] : json();
    if (on_chain.is_object()) {
      out += "    on chain: Enclave " + shown(on_chain, "enclave_id") + " of EnclaveConfig " +
             shown(on_chain, "enclave_config_id") + " version " + shown(on_chain, "config_version") + "\n";
    } else {
      out += "    by the PCRs pinned in the config (no on-chain root configured)\n";
    }
  }
  if (doc.is_object()) {
    for (const auto& [k, v] : doc.items()) out += "  " + k + ": " + (v.is_string() ? v.get<std::string>() : v.dump()) + "\n";
  } else {
    out += "  " + doc.dump() + "\n";
  }
  return {std::move(doc), std::move(out)};
}

StatusView read_runtime_status(const std::filesystem::path& state_dir) {
  auto path = state_dir / kRuntimeStatusFile;
  auto text = fs::read_state_file(path, 1u << 20);  // never through a symbolic link
  if (!text.ok()) return {{{"running", nullptr}, {"error", text.error().message}}, "daemon: " + text.error().message + "\n"};
  if (!*text) return {{{"running", false}}, "daemon: not running\n"};
  return describe_runtime_status(**text, path);
}

}  // namespace k3s_daas::daemon
