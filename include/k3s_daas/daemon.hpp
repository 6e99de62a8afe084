#pragma once
// The daemon (`k3s-daas run`) and the state it leaves for operators. Owns: the start-up stages,
// the main loop, the slashed marker. Must never: start after a slash until an operator clears
// the marker, or treat a chain or network error as a slash.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "k3s_daas/result.hpp"

namespace k3s_daas::daemon {

// <state_dir>/slashed: written (atomically) when the agent tore the node down after a slash.
struct SlashMarker {
  std::int64_t detected_at_ms = 0;
  std::string node_id;
  std::string stake_id;
  std::string evidence;      // e.g. "SlashEvent in tx <digest>" or "StakeRecord version N: status SLASHED"
  std::string tx_digest;     // empty when the evidence is a record read
  std::uint64_t record_version = 0;
  std::uint64_t amount_left_mist = 0;

  nlohmann::json to_json() const;
  static Result<SlashMarker> from_json(const nlohmann::json& doc);
};

std::filesystem::path slash_marker_path(const std::filesystem::path& state_dir);
Status write_slash_marker(const std::filesystem::path& state_dir, const SlashMarker& marker);
// nullopt when there is no marker; an error when one exists but cannot be read (treated as
// present by `run`: a damaged marker still blocks start-up).
Result<std::optional<SlashMarker>> read_slash_marker(const std::filesystem::path& state_dir);
Status clear_slash_marker(const std::filesystem::path& state_dir);

}  // namespace k3s_daas::daemon

namespace k3s_daas::daemon {

// <state_dir>/runtime-status.json: the running daemon's view for `k3s-daas status` (atomic writes).
inline constexpr const char* kRuntimeStatusFile = "runtime-status.json";
// <state_dir>/slash-cursor.json: written by versions before 0.2, which polled SlashEvents; the
// slash watch now reads the StakeRecord's version, and `run` removes this file at start-up.
inline constexpr const char* kLegacySlashCursorFile = "slash-cursor.json";
// Test-only switch (docs/daemon.md): "1" turns containerd's CRI plugin off, keeps the teardown
// inside the configured folders (no /var/lib/kubelet, /run/k3s, kubepods cgroups) and shortens
// the supervisor's stop and teardown limits. Never set it on a real node.
inline constexpr const char* kTestModeEnv = "K3S_DAAS_TEST_MODE";

// <state_dir>/heartbeat-seq.json: {"floor": N}, the heartbeat numbers an earlier run reserved
// (the next run numbers above N, so the master never sees a number twice).
inline constexpr const char* kSequenceFile = "heartbeat-seq.json";
// The floor in that file's text; an error (naming what was expected) when it is not
// {"floor": <unsigned integer>}.
Result<std::uint64_t> parse_sequence_floor(std::string_view text);

// The daemon's view as `k3s-daas status` shows it: `doc` for --json, `text` for people.
struct StatusView {
  nlohmann::json doc;
  std::string text;
};
// From the text of runtime-status.json (`path` only names it in messages). Never throws: fields of
// the wrong type are shown as they are, never trusted as what they should be.
StatusView describe_runtime_status(std::string_view file_text, const std::filesystem::path& path);
// Reads <state_dir>/runtime-status.json (never through a symbolic link): absent = not running.
StatusView read_runtime_status(const std::filesystem::path& state_dir);

struct RunOptions {
  std::filesystem::path config_path;
  std::string log_level;  // --log-level; empty = the config's log.level
};

// `k3s-daas run`: the start-up stages, the main loop, the stop. Returns the process exit code
// (protocol.md section 6).
int run(const RunOptions& options);

}  // namespace k3s_daas::daemon
