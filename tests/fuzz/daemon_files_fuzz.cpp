// libFuzzer target: the two files the daemon leaves in its state folder and reads back:
// heartbeat-seq.json (daemon::parse_sequence_floor, read by the next `run`) and
// runtime-status.json (daemon::describe_runtime_status, read by `k3s-daas status`).
// Invariants: nothing throws; a floor that parses is the one written back; the status view is
// never empty, names the file when the JSON is broken, and its --json document serializes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "k3s_daas/daemon.hpp"

using namespace k3s_daas;

namespace {
void require(bool condition) {
  if (!condition) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto floor = daemon::parse_sequence_floor(text); floor.ok()) {
    // What the daemon writes ({"floor": N}) reads back as N.
    auto again = daemon::parse_sequence_floor(nlohmann::json{{"floor", *floor}}.dump());
    require(again.ok() && *again == *floor);
  } else {
    require(!floor.error().message.empty());
  }

  const auto view = daemon::describe_runtime_status(text, "/state/runtime-status.json");
  require(view.text.rfind("daemon:", 0) == 0);
  const bool parses = !nlohmann::json::parse(text, nullptr, false).is_discarded();
  if (!parses) require(view.text.find("/state/runtime-status.json") != std::string::npos);
  // `status --json` dumps the document: it must serialize (invalid UTF-8 is replaced, not thrown).
  require(!view.doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).empty());
  return 0;
}
