#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "k3s_daas/daemon.hpp"
#include "k3s_daas/fs.hpp"

namespace k3s_daas::daemon {

nlohmann::json SlashMarker::to_json() const {
  return {{"detected_at_ms", detected_at_ms}, {"node_id", node_id},       {"stake_id", stake_id},
          {"evidence", evidence},             {"tx_digest", tx_digest},   {"record_version", record_version},
          {"amount_left_mist", amount_left_mist}};
}

Result<SlashMarker> SlashMarker::from_json(const nlohmann::json& doc) {
  try {
    SlashMarker m;
    m.detected_at_ms = doc.at("detected_at_ms").get<std::int64_t>();
    m.node_id = doc.at("node_id").get<std::string>();
    m.stake_id = doc.value("stake_id", "");
    m.evidence = doc.at("evidence").get<std::string>();
    m.tx_digest = doc.value("tx_digest", "");
    m.record_version = doc.value("record_version", std::uint64_t{0});
    m.amount_left_mist = doc.value("amount_left_mist", std::uint64_t{0});
    return m;
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorKind::kProtocol, std::string("slashed marker: unexpected content: ") + e.what());
  }
}

std::filesystem::path slash_marker_path(const std::filesystem::path& state_dir) { return state_dir / "slashed"; }

Status write_slash_marker(const std::filesystem::path& state_dir, const SlashMarker& marker) {
  K3S_TRY(fs::ensure_dir(state_dir, 0700));
  fs::WriteOptions options;
  options.mode = 0600;
  return fs::atomic_write_file(slash_marker_path(state_dir), marker.to_json().dump(2) + "\n", options);
}

Result<std::optional<SlashMarker>> read_slash_marker(const std::filesystem::path& state_dir) {
  auto path = slash_marker_path(state_dir);
  // Never through a link: a link (dangling or not) where the marker belongs is not "no marker",
  // it is refused as a marker that cannot be read (the agent stays stopped until an operator looks).
  auto read = fs::read_state_file(path, 1 << 20);
  if (!read) {
    return make_error(ErrorKind::kSlashed,
                      read.error().message + " (a slashed marker that cannot be read blocks start-up like one that can)");
  }
  if (!read->has_value()) return std::optional<SlashMarker>();
  const std::string& text = **read;
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    return make_error(ErrorKind::kSlashed, path.string() + ": a slashed marker exists but does not parse; "
                                                           "inspect it, then `k3s-daas slashing clear --yes`");
  }
  auto marker = SlashMarker::from_json(doc);
  if (!marker) return make_error(ErrorKind::kSlashed, path.string() + ": " + marker.error().message);
  return std::optional<SlashMarker>(*marker);
}

Status clear_slash_marker(const std::filesystem::path& state_dir) {
  auto path = slash_marker_path(state_dir);
  // unlink removes a link itself, never what it points to.
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return make_error(ErrorKind::kIo, path.string() + ": cannot remove: " + std::strerror(errno));
  }
  return {};
}

}  // namespace k3s_daas::daemon
