// The fault campaign over the CLI's chain commands (issue 13, item 2): every fault kind of the Sui
// stand-in (tests/peers/sui-devnet/faults.mjs) injected a counted number of times into each of
// `stake`, `status` and `unstake`, spread over the command's requests: iteration i arms one fault
// with `after: i mod N`, N being how many requests of that kind the command makes (measured on a
// clean run first), so every request of the command is hit in turn. One cycle per iteration, each
// run that failed followed by the same command without fault:
//
//   stake (fault) [-> stake] -> status (fault) [-> status] -> unstake (fault) [-> unstake]
//
// After every run the campaign records, and the test then CHECKs: the fault armed actually fired;
// the command succeeded or failed cleanly (exit 1, an error naming the endpoint, never a signal,
// never a hang past the harness's deadline); no secret key in its output; every state file parses;
// the node's transactions on chain alternate stake, unstake (never two stakes between unstakes,
// none failed); a journal left pending is settled by the next clean run, and what lands is the
// transaction that was journaled (nothing signed twice for one intent). The table printed at the
// end gives, per (command, fault kind): injections, fired, successes, clean failures, journals
// left pending and failures settled by the clean run after (it succeeds, the journal is clear).
//
// `execute_then_reset` only fires on a request that executes a transaction and `indexer_lag` only
// on a transaction look-up: `status` makes neither, so those two cells say n/a (nothing to hit).
//
// Environment (defaults in brackets). The defaults are the count, 100 per (command, kind)
// on each transport: 2,900 faulted runs over GraphQL (194 s on this project's 2 cores with two
// fuzzers at nice 19 beside it: a faulted run costs about 85 ms of CPU, and most kinds a retry's
// back-off of 125 to 375 ms) and 2,900 over JSON-RPC (165 s). Smaller numbers for a quick look:
//   K3S_DAAS_CAMPAIGN_FAULTS          injections per (command, kind) over GraphQL [100]
//   K3S_DAAS_CAMPAIGN_FAULTS_JSONRPC  injections per (command, kind) over JSON-RPC [100]
//   K3S_DAAS_CAMPAIGN_PIPELINES       worker nodes run in parallel, each on its own port [6]
//   K3S_DAAS_CAMPAIGN_DEVNETS         stand-in processes the pipelines are spread over [2]
#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include "campaign/campaign.hpp"

using namespace k3s_daas::test;
using namespace k3s_daas::test::campaign;
using k3s_daas::test::sui_e2e::Devnet;
using k3s_daas::test::sui_e2e::Node;
using k3s_daas::test::sui_e2e::NodeOptions;

namespace {

const std::array<const char*, 10> kKinds = {"latency", "http500",     "http429", "malformed",          "truncated",
                                            "reset",   "hang",        "indexer_lag", "execute_then_reset", "graphql_error"};
enum Command { kStake = 0, kStatus = 1, kUnstake = 2 };
const std::array<const char*, 3> kCommandNames = {"stake", "status", "unstake"};

constexpr int kLatencyMs = 30;          // far below the request timeout: only slows the request
// A hung request costs this much; much shorter and a loaded machine's slow answers time out too
// (then a run can fail before it reaches its armed fault; seen at 300 ms with a load of 11).
constexpr int kRequestTimeoutMs = 600;

std::vector<std::string> command_args(Command c) {
  switch (c) {
    case kStake: return {"stake", "--yes"};
    case kStatus: return {"status"};
    case kUnstake: return {"unstake", "--yes"};
  }
  return {};
}

// One faulted run and the clean run after it (stake and unstake only, when needed).
struct Attempt {
  Command command = kStake;
  std::string kind;
  int iteration = 0;
  int after = 0;
  int pipeline = 0;
  bool fired = false;
  Run run;
  bool names_what = false;  // a failure's message names the endpoint, or the transaction it could not read
  bool leaked = false;
  std::string pending;  // the journal's pending digest after the faulted run
  std::vector<std::string> problems;  // state files, chain history, output, after the faulted run
  bool rerun = false;
  Run rerun_result;
  bool rerun_leaked = false;
  std::string rerun_pending;
  std::vector<std::string> rerun_problems;
};

struct Tally {
  int injections = 0, fired = 0, successes = 0, clean_failures = 0, pending = 0, settled_after = 0;
};

// A worker: one node on one port of one stand-in.
struct Pipeline {
  int index = 0;
  Devnet* devnet = nullptr;
  std::unique_ptr<Admin> admin;
  std::unique_ptr<Node> node;
  std::string secret;
  int port = 0;
  int cycles = 0;  // completed stake/unstake cycles (the chain must hold as many of each)
  std::string last_stake_digest;  // as of the last check
};

class Campaign {
 public:
  Campaign(std::string transport, int count) : transport_(std::move(transport)), count_(count) {}

  void run() {
    const int pipelines = static_cast<int>(env_long("K3S_DAAS_CAMPAIGN_PIPELINES", 6));
    const int devnet_count = std::max(1, std::min(pipelines, static_cast<int>(env_long("K3S_DAAS_CAMPAIGN_DEVNETS", 2))));
    REQUIRE(pipelines >= 1);
    const auto t0 = Clock::now();
    const int ports_per_devnet = (pipelines + devnet_count - 1) / devnet_count;
    for (int d = 0; d < devnet_count; ++d) {
      devnets_.push_back(std::make_unique<Devnet>(std::vector<std::string>{"--extra-ports", std::to_string(ports_per_devnet - 1)}));
    }
    for (int p = 0; p < pipelines; ++p) {
      auto pipe = std::make_unique<Pipeline>();
      pipe->index = p;
      pipe->devnet = devnets_[static_cast<std::size_t>(p % devnet_count)].get();
      const std::size_t port_index = static_cast<std::size_t>(p / devnet_count);
      pipe->admin = std::make_unique<Admin>(pipe->devnet->admin());
      NodeOptions options;
      options.transport = transport_;
      options.urls = {pipe->devnet->urls(transport_).at(port_index)};
      options.fund_mist = 1'000'000'000'000;  // 1000 SUI: gas for hundreds of cycles
      options.request_timeout_ms = kRequestTimeoutMs;
      pipe->node = std::make_unique<Node>(*pipe->devnet, "campaign-" + transport_ + "-" + std::to_string(p), options);
      pipe->secret = secret_of(*pipe->node);
      REQUIRE(pipe->secret.rfind("suiprivkey1", 0) == 0);
      pipe->port = pipe->devnet->port(port_index);
      pipes_.push_back(std::move(pipe));
    }
    // A first clean cycle on every node (side by side): each then starts from the same state
    // (unstaked, stake.json naming the withdrawn record), the state the campaign's cycles return to.
    std::vector<std::string> warm_up_errors(pipes_.size());
    {
      std::vector<std::thread> threads;
      for (std::size_t i = 0; i < pipes_.size(); ++i) {
        threads.emplace_back([&, i] {
          for (Command c : {kStake, kUnstake}) {
            auto r = run_agent_command(*pipes_[i]->node, command_args(c));
            if (r.code != 0) warm_up_errors[i] += r.err;
          }
          pipes_[i]->cycles = 1;
        });
      }
      for (auto& t : threads) t.join();
    }
    for (const auto& e : warm_up_errors) REQUIRE_MESSAGE(e.empty(), e);
    measure();
    for (auto& pipe : pipes_) pipe->last_stake_digest = chain_history(*pipe->admin, pipe->node->address()).last_stake_digest;
    MESSAGE(transport_ << ": " << pipelines << " pipelines over " << devnet_count << " stand-ins, set up in "
                       << static_cast<int>(ms_since(t0)) << " ms");

    // Work items interleave the kinds, so that slow ones (hang) are spread over the pipelines.
    for (int i = 0; i < count_; ++i) {
      for (const char* kind : kKinds) items_.push_back({kind, i});
    }
    const auto t1 = Clock::now();
    std::vector<std::thread> threads;
    for (auto& pipe : pipes_) threads.emplace_back([this, p = pipe.get()] { work(*p); });
    for (auto& t : threads) t.join();
    const double campaign_ms = ms_since(t1);

    report(campaign_ms);
  }

 private:
  struct Item {
    const char* kind;
    int iteration;
  };

  // How many requests of each fault kind each command makes: one fault per kind with a huge
  // `after` never fires and counts the matching requests it let through.
  // (indexer_lag: measured in its own cycle, the commands run without stake.json, see attempt().)
  void measure() {
    Pipeline& p = *pipes_.front();
    for (bool lost_state : {false, true}) {
      for (Command c : {kStake, kStatus, kUnstake}) {
        std::map<std::string, int> ids;
        for (const char* kind : kKinds) {
          if ((std::string(kind) == "indexer_lag") != lost_state) continue;
          ids[kind] = p.admin->arm({{"kind", kind}, {"count", 1}, {"target", transport_}, {"port", p.port}, {"after", 1000000000}});
        }
        if (lost_state) std::filesystem::remove(p.node->state_dir() / "stake.json");
        auto r = run_agent_command(*p.node, command_args(c));
        REQUIRE_MESSAGE(r.code == 0, r.err);
        auto faults = p.admin->get("/faults").at("faults");
        for (const auto& [kind, id] : ids) {
          auto it = std::find_if(faults.begin(), faults.end(), [&, id = id](const json& f) { return f.at("id") == id; });
          REQUIRE(it != faults.end());
          requests_[c][kind] = it->at("skipped").get<int>();
        }
        p.admin->post("/clear-faults", {{"port", p.port}});
      }
      ++p.cycles;
    }
    for (Command c : {kStake, kUnstake}) {
      for (const char* kind : kKinds) REQUIRE_MESSAGE(requests_[c][kind] > 0, kCommandNames[c] << " has nothing for " << kind);
    }
    // Every command makes requests; the transaction kinds only where the command can meet them.
    for (Command c : {kStake, kStatus, kUnstake}) {
      CHECK(requests_[c]["latency"] > 0);
      for (const char* kind : kKinds) CHECK(requests_[c][kind] <= requests_[c]["latency"]);
    }
    CHECK(requests_[kStake]["execute_then_reset"] >= 1);
    CHECK(requests_[kUnstake]["execute_then_reset"] >= 1);
    CHECK(requests_[kStatus]["execute_then_reset"] == 0);
    std::ostringstream line;
    for (Command c : {kStake, kStatus, kUnstake}) {
      line << kCommandNames[c] << ": " << requests_[c]["latency"] << " requests ("
           << requests_[c]["indexer_lag"] << " transaction look-ups, " << requests_[c]["execute_then_reset"]
           << " executions); ";
    }
    MESSAGE(transport_ << " requests per command: " << line.str());
  }

  void work(Pipeline& p) {
    while (true) {
      const std::size_t i = next_.fetch_add(1);
      if (i >= items_.size() || stop_.load()) return;
      try {
        cycle(p, items_[i]);
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex_);
        aborted_.push_back("pipeline " + std::to_string(p.index) + ": " + e.what());
        stop_ = true;  // a pipeline that cannot go on leaves the chain in an unknown state
        return;
      }
    }
  }

  void cycle(Pipeline& p, const Item& item) {
    for (Command c : {kStake, kStatus, kUnstake}) {
      const int n = requests_[c].at(item.kind);
      if (n == 0) continue;  // n/a (status only, checked by measure()): no request of that kind
      Attempt a = attempt(p, c, item.kind, item.iteration, item.iteration % n);
      // A command that failed was run again without fault.
      const bool settled = a.run.code == 0 || (a.rerun && a.rerun_result.code == 0 && a.rerun_pending.empty());
      std::lock_guard lock(mutex_);
      attempts_.push_back(std::move(a));
      if (!settled) {
        // The cycle cannot go on from an unknown state; later cycles of this node would only
        // repeat the failure.
        throw std::runtime_error(std::string(kCommandNames[c]) + " with " + item.kind + " did not settle");
      }
    }
    ++p.cycles;
  }

  // Checks the node's files and chain after a run; `staked`: whether the node must be staked now
  // (nullopt: either, during a command that may or may not have landed).
  std::vector<std::string> check_state(Pipeline& p, std::optional<bool> staked, const std::string& landed_digest) {
    std::vector<std::string> problems;
    auto files = inspect_state_dir(p.node->state_dir());
    problems.insert(problems.end(), files.problems.begin(), files.problems.end());
    for (const auto& t : files.temporaries) problems.push_back("temporary file left behind: " + t);
    auto history = chain_history(*p.admin, p.node->address());
    p.last_stake_digest = history.last_stake_digest;
    problems.insert(problems.end(), history.problems.begin(), history.problems.end());
    const int base = p.cycles;  // stakes == unstakes == cycles before this cycle's stake
    if (history.stakes < base || history.stakes > base + 1 || history.unstakes < base || history.unstakes > history.stakes) {
      problems.push_back("chain holds " + std::to_string(history.stakes) + " stakes and " + std::to_string(history.unstakes) +
                         " unstakes after " + std::to_string(base) + " cycles");
    }
    if (staked) {
      const int want_unstakes = *staked ? base : base + 1;
      if (history.stakes != base + 1 || history.unstakes != want_unstakes) {
        problems.push_back(std::string("expected the node ") + (*staked ? "staked" : "unstaked") + ": chain holds " +
                           std::to_string(history.stakes) + " stakes and " + std::to_string(history.unstakes) + " unstakes");
      }
      // What stake.json remembers (when it is there) is the node's current record, as it is.
      const auto path = p.node->state_dir() / "stake.json";
      if (std::filesystem::exists(path)) {
        auto state = json::parse(read_file(path), nullptr, false);
        const std::string want_status = *staked ? "ACTIVE" : "WITHDRAWN";
        if (state.is_discarded() || state.value("stake_record_id", std::string()) != history.last_record_id ||
            state.value("status", std::string()) != want_status) {
          problems.push_back("stake.json does not name the current record " + history.last_record_id + " as " + want_status +
                             ": " + (state.is_discarded() ? std::string("unreadable") : state.dump()));
        }
      }
    }
    if (!landed_digest.empty() && landed_digest != history.last_stake_digest && landed_digest != history.last_unstake_digest) {
      problems.push_back("the journaled transaction " + landed_digest + " is not the one that landed (stake " +
                         history.last_stake_digest + ", unstake " + history.last_unstake_digest + "): signed twice");
    }
    return problems;
  }

  Attempt attempt(Pipeline& p, Command c, const std::string& kind, int iteration, int after) {
    Attempt a;
    a.command = c;
    a.kind = kind;
    a.iteration = iteration;
    a.after = after;
    a.pipeline = p.index;
    json spec = {{"kind", kind}, {"count", 1}, {"target", transport_}, {"port", p.port}, {"after", after}};
    if (kind == "latency") spec["ms"] = kLatencyMs;
    // An indexer behind finality only matters where the agent looks transactions up: when it
    // has lost stake.json (a wiped or restored state folder) and finds its record through its
    // StakeEvents. The other kinds run with the state folder as the last run left it.
    if (kind == "indexer_lag") std::filesystem::remove(p.node->state_dir() / "stake.json");
    const std::string newest_stake = p.last_stake_digest;
    const int id = p.admin->arm(spec);
    a.run = run_agent_command(*p.node, command_args(c));
    a.fired = p.admin->fired(id);
    if (!a.fired) p.admin->disarm(id);  // never let it leak into the next run
    a.leaked = leaks_secret(a.run, p.secret);
    a.names_what = a.run.err.find("127.0.0.1:" + std::to_string(p.port)) != std::string::npos ||
                   (kind == "indexer_lag" && !newest_stake.empty() && last_line(a.run.err).find(newest_stake) != std::string::npos);
    a.pending = pending_digest(*p.node);
    if (c == kStatus) {
      // A status that succeeded under a fault tells the truth: the node's record, active. After
      // one that failed, the next clean status does.
      auto shows_active = [&](const Run& r, std::vector<std::string>& problems) {
        const std::string record = chain_history(*p.admin, p.node->address()).last_record_id;
        if (r.out.find(record) == std::string::npos || r.out.find("status:       ACTIVE") == std::string::npos) {
          problems.push_back("status succeeded but does not show the active record " + record + ": " + r.out);
        }
      };
      a.problems = check_state(p, true, "");
      if (!a.pending.empty()) a.problems.push_back("status left a pending journal entry " + a.pending);
      if (a.run.code == 0) {
        shows_active(a.run, a.problems);
      } else {
        a.rerun = true;
        a.rerun_result = run_agent_command(*p.node, command_args(c));
        a.rerun_leaked = leaks_secret(a.rerun_result, p.secret);
        a.rerun_pending = pending_digest(*p.node);
        a.rerun_problems = check_state(p, true, "");
        if (a.rerun_result.code == 0) shows_active(a.rerun_result, a.rerun_problems);
      }
      return a;
    }
    const bool want_staked = c == kStake;
    if (a.run.code == 0) {
      a.problems = check_state(p, want_staked, "");
      if (!a.pending.empty()) a.problems.push_back("a successful " + std::string(kCommandNames[c]) + " left a pending journal");
      return a;
    }
    a.problems = check_state(p, std::nullopt, "");
    // The clean run after: it settles what the faulted run left, and lands at most one transaction.
    a.rerun = true;
    a.rerun_result = run_agent_command(*p.node, command_args(c));
    a.rerun_leaked = leaks_secret(a.rerun_result, p.secret);
    a.rerun_pending = pending_digest(*p.node);
    a.rerun_problems = check_state(p, want_staked, a.pending);
    return a;
  }

  void report(double campaign_ms) {
    for (const auto& why : aborted_) FAIL_CHECK("campaign stopped early: " << why);
    std::map<std::pair<int, std::string>, Tally> tally;
    int checks = 0;
    for (const auto& a : attempts_) {
      CAPTURE(transport_);
      CAPTURE(std::string(kCommandNames[a.command]));
      CAPTURE(a.pipeline);
      CAPTURE(a.kind);
      CAPTURE(a.iteration);
      CAPTURE(a.after);
      CAPTURE(a.run.err);
      Tally& t = tally[{a.command, a.kind}];
      ++t.injections;
      CHECK_MESSAGE(a.fired, "the armed fault never fired");
      t.fired += a.fired ? 1 : 0;
      CHECK_FALSE(a.run.timed_out);
      CHECK_MESSAGE((a.run.code == 0 || a.run.code == 1), "exit code " << a.run.code << " (128+n: killed by signal n)");
      CHECK_FALSE(a.leaked);
      checks += 4;
      if (a.run.code == 0) {
        ++t.successes;
      } else {
        // A clear message: it says what failed and where.
        CHECK(last_line(a.run.err).rfind("k3s-daas: error: ", 0) == 0);
        CHECK_MESSAGE(a.names_what, "the error names neither the endpoint nor what it could not read");
        checks += 2;
        if (a.run.code == 1 && a.names_what) ++t.clean_failures;
      }
      for (const auto& problem : a.problems) FAIL_CHECK(problem);
      CHECK(a.problems.empty());
      ++checks;
      if (!a.pending.empty()) ++t.pending;
      if (a.rerun) {
        CAPTURE(a.rerun_result.err);
        CHECK(a.rerun_result.code == 0);
        CHECK_MESSAGE(a.rerun_pending.empty(), "the journal did not settle on the clean run");
        CHECK_FALSE(a.rerun_leaked);
        for (const auto& problem : a.rerun_problems) FAIL_CHECK(problem);
        CHECK(a.rerun_problems.empty());
        checks += 4;
        if (a.rerun_result.code == 0 && a.rerun_pending.empty() && a.rerun_problems.empty()) ++t.settled_after;
      }
    }
    // Every cell got its count, and the counts add up.
    for (Command c : {kStake, kStatus, kUnstake}) {
      for (const char* kind : kKinds) {
        if (requests_[c][kind] == 0) continue;
        const Tally& t = tally[{c, kind}];
        CAPTURE(std::string(kCommandNames[c]));
        CAPTURE(std::string(kind));
        CHECK(t.injections == count_);
        CHECK(t.fired == t.injections);
        CHECK(t.successes + t.clean_failures == t.injections);
        CHECK(t.settled_after == t.injections - t.successes);
        checks += 4;
      }
    }
    // The end state: every node unstaked, as many stakes as unstakes, all alternating.
    for (auto& p : pipes_) {
      auto history = chain_history(*p->admin, p->node->address());
      CHECK(history.problems.empty());
      CHECK(history.stakes == p->cycles);
      CHECK(history.unstakes == p->cycles);
      CHECK(pending_digest(*p->node).empty());
      checks += 4;
    }

    std::printf("\nfault campaign over %s: %d per (command, kind), %zu runs with a fault in %.1f s\n", transport_.c_str(),
                count_, attempts_.size(), campaign_ms / 1000.0);
    std::printf("%-8s %-19s %10s %6s %9s %14s %8s %13s\n", "command", "fault", "injections", "fired", "successes",
                "clean-failures", "pending", "settled-after");
    for (Command c : {kStake, kStatus, kUnstake}) {
      for (const char* kind : kKinds) {
        if (requests_[c][kind] == 0) {
          std::printf("%-8s %-19s %10s   (n/a: %s makes no request this fault applies to)\n", kCommandNames[c], kind, "-",
                      kCommandNames[c]);
          continue;
        }
        const Tally& t = tally[{c, kind}];
        std::printf("%-8s %-19s %10d %6d %9d %14d %8d %13d\n", kCommandNames[c], kind, t.injections, t.fired, t.successes,
                    t.clean_failures, t.pending, t.settled_after);
      }
    }
    std::printf("checks made: %d\n", checks);
    std::fflush(stdout);
  }

  std::string transport_;
  int count_;
  std::vector<std::unique_ptr<Devnet>> devnets_;
  std::vector<std::unique_ptr<Pipeline>> pipes_;
  std::map<std::string, int> requests_[3];
  std::vector<Item> items_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<Attempt> attempts_;
  std::vector<std::string> aborted_;
};

}  // namespace

TEST_CASE("campaign: every chain fault kind during stake, status and unstake over GraphQL") {
  Campaign campaign("graphql", static_cast<int>(env_long("K3S_DAAS_CAMPAIGN_FAULTS", 100)));
  campaign.run();
}

TEST_CASE("campaign: every chain fault kind during stake, status and unstake over JSON-RPC") {
  Campaign campaign("jsonrpc", static_cast<int>(env_long("K3S_DAAS_CAMPAIGN_FAULTS_JSONRPC", 100)));
  campaign.run();
}
