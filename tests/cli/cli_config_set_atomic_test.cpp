// `config set` killed with SIGKILL at random moments, many times: the file always parses,
// and it is always either the old or the new content.
#include <doctest/doctest.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "support/support.hpp"

using namespace k3s_daas;
using json = nlohmann::json;

TEST_CASE("cli_config_set_atomic: SIGKILL mid-write never leaves a broken config") {
  test::TempDir dir;
  auto cfg = dir / "config.json";
  auto init = test::run_agent({"--config", cfg.string(), "config", "init"});
  REQUIRE(init.exit_code == 0);
  // Kill at moments spread over a whole run of `config set`, measured here first.
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    REQUIRE(test::run_agent({"--config", cfg.string(), "config", "set", "sui.poll_interval_ms", "5000"}).exit_code == 0);
  }
  auto run_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count() / 5;
  MESSAGE("one config set takes about " << run_us << " us");
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> delay_us(0, static_cast<int>(run_us * 12 / 10));
  int changed = 0, unchanged = 0;
  auto binary = test::agent_binary();
  int killed_mid_run = 0, completed = 0;
  std::uint64_t previous = 5000;
  for (int i = 0; i < 200; ++i) {
    std::uint64_t next = 100 + static_cast<std::uint64_t>(i) * 7;
    std::string before = test::read_file(cfg);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      ::execl(binary.c_str(), binary.c_str(), "--config", cfg.c_str(), "config", "set", "sui.poll_interval_ms",
              std::to_string(next).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) ++killed_mid_run; else ++completed;

    std::string after = test::read_file(cfg);
    json doc;
    REQUIRE_NOTHROW(doc = json::parse(after));
    auto value = doc["sui"]["poll_interval_ms"].get<std::uint64_t>();
    INFO("iteration " << i);
    CHECK((value == previous || value == next));
    if (value == previous) CHECK(after == before);
    (value == next ? changed : unchanged) += 1;
    previous = value;
    auto validate = test::run_agent({"--config", cfg.string(), "config", "validate"});
    CHECK(validate.exit_code == 0);
  }
  MESSAGE("killed mid-run: " << killed_mid_run << ", completed before the kill: " << completed);
  MESSAGE("new content: " << changed << ", old content kept: " << unchanged);
  CHECK(killed_mid_run > 20);
  CHECK(changed > 5);    // the kills did not all land before the write
  CHECK(unchanged > 5);  // nor all after it
  // A later successful write cleans up what the killed writers left behind.
  REQUIRE(test::run_agent({"--config", cfg.string(), "config", "set", "sui.poll_interval_ms", "4242"}).exit_code == 0);
  int leftovers = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) ++leftovers;
  }
  CHECK(leftovers == 0);
}
