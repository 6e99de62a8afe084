// Symbolic links planted in state_dir (issue 13, attack tests): the agent runs as root and must
// never write, chmod, read or delete through a link it finds where its own files belong. Each case
// puts the link's target OUTSIDE the state folder and checks that the target is left exactly as it
// was (content and mode), and what the agent did instead.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "k3s_daas/config.hpp"
#include "k3s_daas/daemon.hpp"
#include "k3s_daas/fs.hpp"
#include "k3s_daas/runtime.hpp"
#include "k3s_daas/staking.hpp"
#include "k3s_daas/supervisor.hpp"
#include "support/support.hpp"

using namespace k3s_daas;
namespace stdfs = std::filesystem;

namespace {

std::string slurp(const stdfs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void spit(const stdfs::path& path, const std::string& text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

struct stat lstat_of(const stdfs::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

mode_t mode_of(const stdfs::path& path) { return lstat_of(path).st_mode & 07777; }

std::vector<std::string> names_in(const stdfs::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : stdfs::directory_iterator(dir)) out.push_back(entry.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A setuid file outside the state folder, the kind an attacker would point a status file at.
struct Outside {
  test::TempDir dir;
  stdfs::path file = dir / "setuid-tool";
  Outside() { spit(file, "#!/bin/sh\necho original\n", 04755); }
  void check_untouched() const {
    CHECK(slurp(file) == "#!/bin/sh\necho original\n");
    CHECK(mode_of(file) == 04755);
    CHECK(names_in(dir.path()) == std::vector<std::string>{"setuid-tool"});
  }
};

}  // namespace

TEST_CASE("state_symlink: a status file linked to a setuid file outside is replaced, the outside file untouched") {
  if (::geteuid() != 0) MESSAGE("not root: the case still runs, but the issue's report was as root");
  Outside outside;
  test::TempDir state;
  auto status = state / "runtime-status.json";
  REQUIRE(::symlink(outside.file.c_str(), status.c_str()) == 0);

  fs::WriteOptions options;
  options.mode = 0644;  // preserve_mode stays on, as for the status file: it must not come from the link
  REQUIRE(fs::atomic_write_file(status, "{\"state\":\"running\"}\n", options).ok());

  outside.check_untouched();
  auto st = lstat_of(status);
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 07777) == 0644);
  CHECK(st.st_uid == ::geteuid());
  CHECK(slurp(status) == "{\"state\":\"running\"}\n");
  CHECK(names_in(state.path()) == std::vector<std::string>{"runtime-status.json"});
}

TEST_CASE("state_symlink: a state file linked to a folder outside is replaced; nothing lands in the folder") {
  test::TempDir outside;
  spit(outside / "keep", "keep", 0600);
  test::TempDir state;
  auto path = state / "heartbeat-seq.json";
  REQUIRE(::symlink(outside.path().c_str(), path.c_str()) == 0);
  REQUIRE(fs::atomic_write_file(path, "{\"floor\":7}\n").ok());
  CHECK(names_in(outside.path()) == std::vector<std::string>{"keep"});
  CHECK(S_ISREG(lstat_of(path).st_mode));
  CHECK(mode_of(path) == 0600);
  // A real folder where a file belongs is refused, not replaced.
  auto folder = state / "folder.json";
  stdfs::create_directory(folder);
  auto refused = fs::atomic_write_file(folder, "x");
  REQUIRE(!refused.ok());
  CHECK(refused.error().message.find(folder.string()) != std::string::npos);
  CHECK(stdfs::is_directory(folder));
}

TEST_CASE("state_symlink: a regular file's setuid bits are never preserved") {
  test::TempDir state;
  auto path = state / "drained";
  spit(path, "old", 04755);
  REQUIRE(fs::atomic_write_file(path, "new").ok());
  CHECK(mode_of(path) == 0755);
  CHECK(slurp(path) == "new");
}

TEST_CASE("state_symlink: keep_backup refuses a link (nothing written), never reads through it") {
  Outside outside;
  test::TempDir state;
  auto path = state / "config.json";
  REQUIRE(::symlink(outside.file.c_str(), path.c_str()) == 0);
  fs::WriteOptions options;
  options.keep_backup = true;
  auto written = fs::atomic_write_file(path, "{}", options);
  REQUIRE(!written.ok());
  CHECK(written.error().message.find(path.string() + " is a symbolic link") != std::string::npos);
  CHECK(stdfs::is_symlink(path));
  CHECK(stdfs::read_symlink(path) == outside.file);
  CHECK(!stdfs::exists(stdfs::symlink_status(state / "config.json.bak")));
  outside.check_untouched();
  // A regular file still gets its backup, with its own mode (setuid bits dropped).
  auto plain = state / "plain.json";
  spit(plain, "one", 0640);
  REQUIRE(fs::atomic_write_file(plain, "two", options).ok());
  CHECK(slurp(state / "plain.json.bak") == "one");
  CHECK(mode_of(state / "plain.json.bak") == 0640);
  CHECK(slurp(plain) == "two");
}

TEST_CASE("state_symlink: a link named like a dead writer's temporary is removed itself, its target kept") {
  Outside outside;
  test::TempDir state;
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  ::waitpid(child, nullptr, 0);  // a pid that is gone
  auto stale = state / ("status.json.tmp." + std::to_string(child) + ".5");
  REQUIRE(::symlink(outside.file.c_str(), stale.c_str()) == 0);
  REQUIRE(fs::atomic_write_file(state / "status.json", "x").ok());
  CHECK(!stdfs::exists(stdfs::symlink_status(stale)));
  outside.check_untouched();
}

TEST_CASE("state_symlink: read_state_file refuses links, FIFOs and folders; a missing file is no error") {
  Outside outside;
  test::TempDir state;
  auto link = state / "stake-journal.json";
  REQUIRE(::symlink(outside.file.c_str(), link.c_str()) == 0);
  auto read = fs::read_state_file(link);
  REQUIRE(!read.ok());
  CHECK(read.error().message.find(link.string() + " is a symbolic link") != std::string::npos);
  // A dangling link is refused too, never taken for "no file".
  auto dangling = state / "dangling";
  REQUIRE(::symlink((outside.dir / "nothing").c_str(), dangling.c_str()) == 0);
  CHECK(!fs::read_state_file(dangling).ok());
  auto fifo = state / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto from_fifo = fs::read_state_file(fifo);  // must return at once, not wait for a writer
  REQUIRE(!from_fifo.ok());
  CHECK(from_fifo.error().message.find("not a regular file") != std::string::npos);
  CHECK(!fs::read_state_file(state.path()).ok());
  auto missing = fs::read_state_file(state / "absent");
  REQUIRE(missing.ok());
  CHECK(!missing->has_value());
  spit(state / "real", "content", 0600);
  auto real = fs::read_state_file(state / "real");
  REQUIRE(real.ok());
  CHECK(real->value() == "content");
  // The ordinary reader still follows links (config and key files may be links).
  CHECK(fs::read_file(link).value() == "#!/bin/sh\necho original\n");
}

TEST_CASE("state_symlink: the slashed marker as a symbolic link") {
  test::TempDir state;
  test::TempDir outside;
  daemon::SlashMarker marker;
  marker.detected_at_ms = 1;
  marker.node_id = "worker-1";
  marker.evidence = "double-sign";
  // A valid marker outside, linked in: refused (not read through), kind kSlashed so the agent
  // stays stopped.
  REQUIRE(daemon::write_slash_marker(outside.path(), marker).ok());
  auto outside_marker = daemon::slash_marker_path(outside.path());
  auto outside_text = slurp(outside_marker);
  auto path = daemon::slash_marker_path(state.path());
  REQUIRE(::symlink(outside_marker.c_str(), path.c_str()) == 0);
  auto read = daemon::read_slash_marker(state.path());
  REQUIRE(!read.ok());
  CHECK(read.error().kind == ErrorKind::kSlashed);
  CHECK(read.error().message.find(path.string()) != std::string::npos);
  CHECK(read.error().message.find("symbolic link") != std::string::npos);
  // A dangling link is not "no marker".
  stdfs::remove(path);
  REQUIRE(::symlink((outside.path() / "gone").c_str(), path.c_str()) == 0);
  CHECK(!daemon::read_slash_marker(state.path()).ok());
  // Clearing removes the link, never its target.
  stdfs::remove(path);
  REQUIRE(::symlink(outside_marker.c_str(), path.c_str()) == 0);
  REQUIRE(daemon::clear_slash_marker(state.path()).ok());
  CHECK(!stdfs::exists(stdfs::symlink_status(path)));
  CHECK(slurp(outside_marker) == outside_text);
  // Writing replaces a link by the marker itself.
  REQUIRE(::symlink(outside_marker.c_str(), path.c_str()) == 0);
  marker.evidence = "other";
  REQUIRE(daemon::write_slash_marker(state.path(), marker).ok());
  CHECK(S_ISREG(lstat_of(path).st_mode));
  CHECK(mode_of(path) == 0600);
  CHECK(slurp(outside_marker) == outside_text);
  auto back = daemon::read_slash_marker(state.path());
  REQUIRE(back.ok());
  REQUIRE(back->has_value());
  CHECK((*back)->evidence == "other");
}

TEST_CASE("state_symlink: state_dir/runtime as a link to a folder outside is refused at start") {
  test::TempDir state;
  test::TempDir outside;
  REQUIRE(::symlink(outside.path().c_str(), (state / "runtime").c_str()) == 0);
  config::Config c;
  c.node_id = "worker-1";
  c.state_dir = state.path().string();
  auto options = runtime::node_options_from_config(c, "https://127.0.0.1:6443", state / "k3s-token");
  supervisor::Supervisor supervisor;
  auto node = runtime::WorkerNode::create(supervisor, options);
  REQUIRE(!node.ok());
  CHECK(node.error().message.find((state / "runtime").string() + " is a symbolic link") != std::string::npos);
  CHECK(names_in(outside.path()).empty());
  CHECK(mode_of(outside.path()) == 0700);  // TempDir's own mode: not chmod-ed through the link
  CHECK(stdfs::is_symlink(state / "runtime"));
  // A file where the folder belongs is refused as well; a missing folder is created 0700.
  stdfs::remove(state / "runtime");
  spit(state / "runtime", "", 0600);
  CHECK(!fs::ensure_private_dir(state / "runtime").ok());
  stdfs::remove(state / "runtime");
  REQUIRE(fs::ensure_private_dir(state / "runtime").ok());
  CHECK(S_ISDIR(lstat_of(state / "runtime").st_mode));
  CHECK(mode_of(state / "runtime") == 0700);
}

TEST_CASE("state_symlink: a pid file replaced by a link signals nobody and only the link goes") {
  test::TempDir state;
  test::TempDir outside;
  // A live process of ours, named by a pid file outside (format "pid start_time", 0 = any):
  // following the link would make teardown SIGTERM it.
  pid_t bystander = ::fork();
  if (bystander == 0) {
    ::pause();
    ::_exit(0);
  }
  REQUIRE(bystander > 0);
  spit(outside / "pid", std::to_string(bystander) + " 0\n", 0600);
  auto pid_file = state / "k3s-agent.pid";
  REQUIRE(::symlink((outside / "pid").c_str(), pid_file.c_str()) == 0);
  std::vector<std::string> errors;
  bool stopped = runtime::teardown::stop_leftover(pid_file, std::chrono::milliseconds(200), errors);
  int status = 0;
  bool still_running = ::waitpid(bystander, &status, WNOHANG) == 0;
  ::kill(bystander, SIGKILL);
  ::waitpid(bystander, nullptr, 0);
  CHECK(!stopped);
  CHECK(still_running);
  CHECK(errors.empty());
  CHECK(!stdfs::exists(stdfs::symlink_status(pid_file)));
  CHECK(slurp(outside / "pid") == std::to_string(bystander) + " 0\n");
}

// ---- issue 13: the readers of the agent's own state files refuse links ----

TEST_CASE("state_symlink: the stake journal and stake state as links are refused, their targets not read") {
  test::TempDir state;
  test::TempDir outside;
  // Readable targets: followed, these would read as "no pending transaction" and as a stake.
  sui::StakeState planted;
  planted.node_id = "planted";
  planted.status = "active";
  REQUIRE(sui::write_stake_state(outside.path(), planted).ok());
  REQUIRE(sui::write_journal(outside.path(), std::nullopt).ok());
  REQUIRE(sui::read_stake_state(outside.path()).ok());
  REQUIRE((*sui::read_stake_state(outside.path()))->node_id == "planted");
  REQUIRE(sui::read_journal(outside.path()).ok());
  const std::string journal_before = slurp(outside / sui::kJournalFile);
  const std::string stake_before = slurp(outside / sui::kStakeStateFile);
  for (const char* name : {sui::kJournalFile, sui::kStakeStateFile}) {
    REQUIRE(::symlink((outside / name).c_str(), (state / name).c_str()) == 0);
  }
  auto journal = sui::read_journal(state.path());
  REQUIRE(!journal.ok());
  CHECK(journal.error().message.find((state / sui::kJournalFile).string() + " is a symbolic link") != std::string::npos);
  auto stake = sui::read_stake_state(state.path());
  REQUIRE(!stake.ok());
  CHECK(stake.error().message.find((state / sui::kStakeStateFile).string() + " is a symbolic link") != std::string::npos);
  CHECK(slurp(outside / sui::kJournalFile) == journal_before);
  CHECK(slurp(outside / sui::kStakeStateFile) == stake_before);
  // The regular files themselves are read as before; missing ones are no error.
  stdfs::remove(state / sui::kStakeStateFile);
  CHECK(sui::read_stake_state(state.path()).ok());
  CHECK(!(*sui::read_stake_state(state.path())).has_value());
  stdfs::copy_file(outside / sui::kStakeStateFile, state / sui::kStakeStateFile);
  CHECK((*sui::read_stake_state(state.path()))->node_id == "planted");
}

TEST_CASE("state_symlink: live_pid_from_file does not follow a link to a live process's pid file") {
  test::TempDir state;
  test::TempDir outside;
  pid_t bystander = ::fork();
  if (bystander == 0) {
    ::pause();
    ::_exit(0);
  }
  REQUIRE(bystander > 0);
  spit(outside / "pid", std::to_string(bystander) + " 0\n", 0600);
  REQUIRE(::symlink((outside / "pid").c_str(), (state / "k3s-agent.pid").c_str()) == 0);
  auto through_link = supervisor::proc::live_pid_from_file(state / "k3s-agent.pid");
  // Control: the same content in a regular file names the live process.
  spit(state / "copy.pid", slurp(outside / "pid"), 0600);
  auto direct = supervisor::proc::live_pid_from_file(state / "copy.pid");
  ::kill(bystander, SIGKILL);
  ::waitpid(bystander, nullptr, 0);
  CHECK(!through_link.has_value());
  REQUIRE(direct.has_value());
  CHECK(*direct == bystander);
  CHECK(stdfs::is_symlink(state / "k3s-agent.pid"));  // only read (refused), not removed here
}

TEST_CASE("state_symlink: start_k3s refuses a k3s token file that is a link, without reading the target") {
  test::TempDir state;
  test::TempDir outside;
  spit(outside / "token", "K10secret-token-outside\n", 0600);
  REQUIRE(::symlink((outside / "token").c_str(), (state / "k3s-token").c_str()) == 0);
  config::Config c;
  c.node_id = "worker-1";
  c.state_dir = state.path().string();
  auto options = runtime::node_options_from_config(c, "https://127.0.0.1:6443", state / "k3s-token");
  supervisor::Supervisor supervisor;
  auto node = runtime::WorkerNode::create(supervisor, options);
  REQUIRE_MESSAGE(node.ok(), node.error().message);
  auto started = (*node)->start_k3s();
  REQUIRE(!started.ok());
  CHECK(started.error().message.find("k3s token file " + (state / "k3s-token").string() + " is a symbolic link") !=
        std::string::npos);
  CHECK(started.error().message.find("K10secret") == std::string::npos);
  CHECK(slurp(outside / "token") == "K10secret-token-outside\n");
  CHECK(mode_of(outside / "token") == 0600);
  // A regular token file goes past this check (an empty one is then refused as empty: read).
  stdfs::remove(state / "k3s-token");
  spit(state / "k3s-token", "\n", 0600);
  auto empty = (*node)->start_k3s();
  REQUIRE(!empty.ok());
  CHECK(empty.error().message.find("is empty") != std::string::npos);
}
