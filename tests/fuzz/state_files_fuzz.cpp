// libFuzzer target: the state files the agent reads back from its state folder: the staking
// journal (sui-journal.json) and stake.json (sui::read_journal / read_stake_state and their
// from_json), and the slashed marker (daemon::read_slash_marker / SlashMarker::from_json).
// Each input is written as each file into a scratch state folder in /dev/shm (else /tmp).
// None may crash; what reads back writes out to JSON that reads back to the same value.
// (heartbeat-seq.json and runtime-status.json: daemon_files_fuzz; the drained marker is only
// tested for existence.)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "k3s_daas/daemon.hpp"
#include "k3s_daas/staking.hpp"

namespace {

using namespace k3s_daas;
using nlohmann::json;

void require(bool condition) {
  if (!condition) std::abort();
}

struct Scratch {
  std::filesystem::path dir;
  Scratch() {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : "/tmp";
    dir = base / ("k3s-daas-state-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir, ec);
    ::chmod(dir.c_str(), 0700);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

void write_file(const std::filesystem::path& path, std::string_view content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  require(fd >= 0);
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    require(n > 0);
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

bool same(const sui::JournalEntry& a, const sui::JournalEntry& b) {
  return a.kind == b.kind && a.node_id == b.node_id && a.tx.tx_bytes == b.tx.tx_bytes &&
         a.tx.signature_b64 == b.tx.signature_b64 && a.tx.digest == b.tx.digest && a.gas_payment == b.gas_payment &&
         a.signed_at_ms == b.signed_at_ms && a.submissions == b.submissions;
}

bool same(const sui::StakeState& a, const sui::StakeState& b) {
  return a.node_id == b.node_id && a.stake_record_id == b.stake_record_id && a.stake_digest == b.stake_digest &&
         a.staker == b.staker && a.status == b.status;
}

bool same(const daemon::SlashMarker& a, const daemon::SlashMarker& b) {
  return a.detected_at_ms == b.detected_at_ms && a.node_id == b.node_id && a.stake_id == b.stake_id &&
         a.evidence == b.evidence && a.tx_digest == b.tx_digest && a.record_version == b.record_version &&
         a.amount_left_mist == b.amount_left_mist;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Scratch scratch;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const json doc = json::parse(text, nullptr, false);

  // The journal: the file, then the entry alone.
  write_file(scratch.dir / sui::kJournalFile, text);
  if (auto journal = sui::read_journal(scratch.dir); journal.ok() && journal->has_value()) {
    const auto& entry = **journal;
    auto again = sui::JournalEntry::from_json(json::parse(entry.to_json().dump()));
    require(again.ok() && same(*again, entry));
    // What write_journal writes, read_journal reads back.
    require(sui::write_journal(scratch.dir, entry).ok());
    auto reread = sui::read_journal(scratch.dir);
    require(reread.ok() && reread->has_value() && same(**reread, entry));
  }
  if (!doc.is_discarded()) {
    if (auto entry = sui::JournalEntry::from_json(doc); entry.ok()) {
      auto again = sui::JournalEntry::from_json(json::parse(entry->to_json().dump()));
      require(again.ok() && same(*again, *entry));
    }
  }

  // stake.json: a broken file is only a lost hint, never an error.
  write_file(scratch.dir / sui::kStakeStateFile, text);
  auto state = sui::read_stake_state(scratch.dir);
  require(state.ok());
  if (state->has_value()) {
    auto again = sui::StakeState::from_json(json::parse((*state)->to_json().dump()));
    require(again.ok() && same(*again, **state));
  }

  // The slashed marker: present but unreadable is an error (it still blocks start-up).
  write_file(daemon::slash_marker_path(scratch.dir), text);
  auto marker = daemon::read_slash_marker(scratch.dir);
  require(!marker.ok() || marker->has_value());
  if (marker.ok()) {
    auto again = daemon::SlashMarker::from_json(json::parse((**marker).to_json().dump()));
    require(again.ok() && same(*again, **marker));
  }
  if (!doc.is_discarded()) {
    if (auto m = daemon::SlashMarker::from_json(doc); m.ok()) {
      auto again = daemon::SlashMarker::from_json(m->to_json());
      require(again.ok() && same(*again, *m));
    }
  }
  return 0;
}
