// SIGKILL of `stake` (and of `unstake`) at counted points spread over its run (issue 13, item 2),
// then the same command again without faults.
//
// Deterministic points: for every request index k of the command (counted on a clean run first),
// request k is stalled (a `latency` fault: the stand-in still processes it after the kill, as a
// request already on the wire would land late; and a `hang` fault: it never is) and the process is
// SIGKILLed while it waits there: before, at and after the execution of the transaction. Random
// points: SIGKILL after a delay drawn uniformly over the command's last clean duration (start-up
// included), from a fixed seed, until as many processes were really killed (a draw that came
// after the command had finished is checked too, but is not counted as a kill point).
//
// After every kill the test CHECKs: every state file parses (right after the kill, and after the
// next run); the chain holds at most one stake for the node (never two between unstakes); the
// next clean run succeeds, settles the journal, and what lands is the transaction that was
// journaled (nothing signed twice for one intent); the node is then reset (unstaked, or staked
// again for the unstake points) and no temporary file of a killed writer is left once the files
// were written again. The table printed at the end counts, per kind of point: points, killed
// mid-run, done before the kill, transaction landed before the kill, journal left pending, settled.
//
// Over GraphQL (the main transport) and, fewer, over JSON-RPC (where `stake` also reads after its
// execution, so deterministic points fall after the execute too).
//
// Environment (defaults in brackets):
//   K3S_DAAS_CAMPAIGN_KILLS                   kill points over `stake`, GraphQL [50]
//   K3S_DAAS_CAMPAIGN_UNSTAKE_KILLS           kill points over `unstake`, GraphQL [8]
//   K3S_DAAS_CAMPAIGN_KILLS_JSONRPC           kill points over `stake`, JSON-RPC [16]
//   K3S_DAAS_CAMPAIGN_UNSTAKE_KILLS_JSONRPC   kill points over `unstake`, JSON-RPC [7]
//   K3S_DAAS_CAMPAIGN_SEED                    seed of the random delays [13]
#include <algorithm>
#include <map>
#include <random>

#include "campaign/campaign.hpp"

using namespace k3s_daas::test;
using namespace k3s_daas::test::campaign;
using namespace k3s_daas::test::sui_e2e;

namespace {

struct Point {
  std::string command;  // stake | unstake
  std::string how;      // latency | hang | random
  int k = -1;           // request index (latency, hang)
  int delay_ms = -1;    // random
  bool reached = true;  // the stall was reached (latency, hang)
  Run killed;
  int landed_before = 0;  // the command's transaction was on chain when the process died
  std::string pending;    // the journal's pending digest after the kill
  StateFiles after_kill;
  std::vector<std::string> chain_after_kill;
  Run again;
  std::string pending_after;
  std::vector<std::string> problems;  // after the clean run and the reset
};

struct Row {
  int points = 0, killed = 0, finished = 0, landed_before = 0, pending = 0, settled = 0;
};

class KillCampaign {
 public:
  explicit KillCampaign(std::string transport) : transport_(std::move(transport)), admin_(devnet_.admin()) {
    NodeOptions options;
    options.transport = transport_;
    options.fund_mist = 1'000'000'000'000;
    options.request_timeout_ms = 3000;  // longer than a stall is let run before the kill
    node_ = std::make_unique<Node>(devnet_, "campaign-kill-" + transport_, options);
    secret_ = secret_of(*node_);
    port_ = devnet_.port();
  }

  void run(int stake_points, int unstake_points, unsigned seed) {
    // A clean cycle first (the state every point starts from), timed, then the requests counted.
    REQUIRE(clean("stake").code == 0);
    REQUIRE(clean("unstake").code == 0);
    cycles_ = 1;
    const int stake_requests = count_requests("stake");
    const int unstake_requests = count_requests("unstake");  // (the node is unstaked again)
    const double stake_ms = clean_ms_["stake"], unstake_ms = clean_ms_["unstake"];  // (as measured last)
    MESSAGE(transport_ << ": stake: " << stake_requests << " requests, " << stake_ms << " ms clean; unstake: " << unstake_requests
                      << " requests, " << unstake_ms << " ms clean");
    REQUIRE(stake_requests > 0);
    REQUIRE(unstake_requests > 0);

    std::mt19937 rng(seed);
    auto campaign = [&](const std::string& command, int total, int requests) {
      int done = 0;
      for (const char* how : {"latency", "hang"}) {
        for (int k = 0; k < requests && done < total; ++k, ++done) {
          Point p;
          p.command = command;
          p.how = how;
          p.k = k;
          points_.push_back(kill_point(std::move(p)));
        }
      }
      // Random points until `total` processes were really killed: a draw past the end of the run
      // (the command finished first) is checked like the others but does not count as a kill.
      for (int tries = 0; done < total && tries < 3 * total; ++tries) {
        std::uniform_int_distribution<int> delay(0, static_cast<int>(clean_ms_[command]));  // the last clean run's
        Point p;
        p.command = command;
        p.how = "random";
        p.delay_ms = delay(rng);
        points_.push_back(kill_point(std::move(p)));
        if (points_.back().killed.killed_by_harness) ++done;
      }
      CHECK_MESSAGE(done == total, command << ": only " << done << " of " << total << " kill points reached");
    };
    campaign("stake", stake_points, stake_requests);
    campaign("unstake", unstake_points, unstake_requests);
    report(seed);
  }

 private:
  Run clean(const std::string& command) {
    auto r = run_agent_command(*node_, {command, "--yes"});
    if (r.code == 0) clean_ms_[command] = r.ms;
    return r;
  }

  int count_requests(const std::string& command) {
    if (command == "unstake") REQUIRE(clean("stake").code == 0);
    const int id = admin_.arm({{"kind", "latency"}, {"ms", 0}, {"count", 1}, {"port", port_}, {"after", 1000000000}});
    auto r = clean(command);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    int skipped = -1;
    const json faults = admin_.get("/faults").at("faults");  // (a copy: the answer is a temporary)
    for (const auto& f : faults) {
      if (f.at("id") == id) skipped = f.at("skipped").get<int>();
    }
    admin_.disarm(id);
    if (command == "stake") {
      REQUIRE(clean("unstake").code == 0);
    }
    ++cycles_;
    return skipped;
  }

  Point kill_point(Point p) {
    const bool stake = p.command == "stake";
    if (!stake) {
      auto r = clean("stake");
      p.problems.push_back(r.code == 0 ? "" : "could not stake before the unstake point: " + r.err);
    }
    int id = -1;
    if (p.how != "random") {
      json spec = {{"kind", p.how}, {"count", 1}, {"port", port_}, {"after", p.k}};
      if (p.how == "latency") spec["ms"] = 5000;  // processed 5 s later, long after the kill
      id = admin_.arm(spec);
    }
    {
      Agent agent({"--config", node_->config_path().string(), p.command, "--yes"}, node_->dir());
      if (id >= 0) {
        // Kill while request k is held by the stand-in.
        while (agent.running() && !admin_.fired(id) && agent.elapsed_ms() < 10000) {
          std::this_thread::sleep_for(std::chrono::milliseconds(3));
        }
        p.reached = agent.running();
        agent.kill();
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(p.delay_ms));
        agent.kill();
      }
      p.killed = agent.wait();
    }
    if (id >= 0 && !admin_.fired(id)) admin_.disarm(id);
    // Right after the kill: what is on disk and on chain.
    p.after_kill = inspect_state_dir(node_->state_dir());
    p.pending = pending_digest(*node_);
    auto history = chain_history(admin_, node_->address());
    p.chain_after_kill = history.problems;
    const int before = cycles_;  // stakes == unstakes == cycles_ before a stake point
    p.landed_before = stake ? history.stakes - before : history.unstakes - before;
    if (history.stakes > before + 1) p.chain_after_kill.push_back("more than one stake after the kill");

    // The same command again, without faults; then the reset.
    p.again = run_agent_command(*node_, {p.command, "--yes"});
    p.pending_after = pending_digest(*node_);
    history = chain_history(admin_, node_->address());
    p.problems.insert(p.problems.end(), history.problems.begin(), history.problems.end());
    if (history.stakes != before + 1 || history.unstakes != (stake ? before : before + 1)) {
      p.problems.push_back("after the clean " + p.command + " the chain holds " + std::to_string(history.stakes) + " stakes and " +
                           std::to_string(history.unstakes) + " unstakes (expected " + std::to_string(before + 1) + " and " +
                           std::to_string(stake ? before : before + 1) + ")");
    }
    const std::string& landed = stake ? history.last_stake_digest : history.last_unstake_digest;
    if (!p.pending.empty() && p.pending != landed) {
      p.problems.push_back("the journaled transaction " + p.pending + " is not the one that landed, " + landed);
    }
    auto files = inspect_state_dir(node_->state_dir());
    p.problems.insert(p.problems.end(), files.problems.begin(), files.problems.end());
    if (stake) {
      auto r = clean("unstake");
      if (r.code != 0) p.problems.push_back("the reset unstake failed: " + r.err);
    }
    ++cycles_;
    // Both state files were written again since the kill: no temporary of a killed writer is left.
    files = inspect_state_dir(node_->state_dir());
    p.problems.insert(p.problems.end(), files.problems.begin(), files.problems.end());
    for (const auto& t : files.temporaries) p.problems.push_back("temporary file left behind: " + t);
    if (leaks_secret(p.killed, secret_) || leaks_secret(p.again, secret_)) p.problems.push_back("secret key in the output");
    p.problems.erase(std::remove(p.problems.begin(), p.problems.end(), std::string()), p.problems.end());
    return p;
  }

  void report(unsigned seed) {
    std::map<std::string, Row> rows;
    for (const auto& p : points_) {
      CAPTURE(p.command);
      CAPTURE(p.how);
      CAPTURE(p.k);
      CAPTURE(p.delay_ms);
      CAPTURE(p.killed.err);
      CAPTURE(p.again.err);
      const std::string key = p.command + " " + (p.how == "random" ? "random delay" : p.how + " stall at request k");
      Row& row = rows[key];
      ++row.points;
      if (p.how != "random") CHECK_MESSAGE(p.reached, "the process never reached the stalled request");
      // Killed by the campaign (SIGKILL), or done (exit 0) before a random point came.
      CHECK_MESSAGE((p.killed.killed_by_harness || p.killed.code == 0), "exit code " << p.killed.code);
      CHECK_FALSE(p.killed.timed_out);
      (p.killed.killed_by_harness ? row.killed : row.finished)++;
      CHECK(p.landed_before >= 0);
      CHECK(p.landed_before <= 1);
      row.landed_before += p.landed_before;
      for (const auto& problem : p.after_kill.problems) FAIL_CHECK("right after the kill: " << problem);
      for (const auto& problem : p.chain_after_kill) FAIL_CHECK("right after the kill: " << problem);
      CHECK(p.after_kill.problems.empty());
      CHECK(p.chain_after_kill.empty());
      if (!p.pending.empty()) ++row.pending;
      // The clean run succeeds (a journal entry it settles is its outcome); only an unstake that
      // had landed and been recorded before the kill (nothing pending) finds the stake withdrawn
      // already (exit 80).
      const bool again_ok = p.again.code == 0 || (p.command == "unstake" && p.landed_before == 1 && p.pending.empty() &&
                                                  p.again.code == 80 &&
                                                  last_line(p.again.err).find("was already withdrawn") != std::string::npos);
      CHECK(again_ok);
      CHECK_MESSAGE(p.pending_after.empty(), "the journal did not settle on the clean run");
      for (const auto& problem : p.problems) FAIL_CHECK(problem);
      CHECK(p.problems.empty());
      if (again_ok && p.pending_after.empty() && p.problems.empty()) ++row.settled;
    }
    auto history = chain_history(admin_, node_->address());
    CHECK(history.problems.empty());
    CHECK(history.stakes == cycles_);
    CHECK(history.unstakes == cycles_);

    int kills = 0;
    for (const auto& p : points_) kills += p.killed.killed_by_harness ? 1 : 0;
    std::printf("\nSIGKILL campaign over %s (seed %u): %d kills in %zu runs\n", transport_.c_str(), seed, kills, points_.size());
    std::printf("%-34s %6s %7s %9s %14s %8s %8s\n", "point", "points", "killed", "finished", "landed-before", "pending",
                "settled");
    for (const auto& [key, r] : rows) {
      std::printf("%-34s %6d %7d %9d %14d %8d %8d\n", key.c_str(), r.points, r.killed, r.finished, r.landed_before, r.pending,
                  r.settled);
    }
    std::fflush(stdout);
  }

  std::string transport_;
  Devnet devnet_;
  Admin admin_;
  std::unique_ptr<Node> node_;
  std::string secret_;
  int port_ = 0;
  int cycles_ = 0;
  std::map<std::string, double> clean_ms_;
  std::vector<Point> points_;
};

}  // namespace

TEST_CASE("campaign: SIGKILL of stake and unstake at spread points, then the same command again, over GraphQL") {
  KillCampaign campaign("graphql");
  campaign.run(static_cast<int>(env_long("K3S_DAAS_CAMPAIGN_KILLS", 50)),
               static_cast<int>(env_long("K3S_DAAS_CAMPAIGN_UNSTAKE_KILLS", 8)),
               static_cast<unsigned>(env_long("K3S_DAAS_CAMPAIGN_SEED", 13)));
}

TEST_CASE("campaign: SIGKILL of stake and unstake at spread points, then the same command again, over JSON-RPC") {
  KillCampaign campaign("jsonrpc");
  campaign.run(static_cast<int>(env_long("K3S_DAAS_CAMPAIGN_KILLS_JSONRPC", 16)),
               static_cast<int>(env_long("K3S_DAAS_CAMPAIGN_UNSTAKE_KILLS_JSONRPC", 7)),
               static_cast<unsigned>(env_long("K3S_DAAS_CAMPAIGN_SEED", 13)));
}
