#!/usr/bin/env python3
"""A fleet of N agents against one Sui stand-in and one master stand-in on 127.0.0.1.

Each agent is the real `k3s-daas run` with its own key, stake, state folder and config, the
`k3s-embedded` runtime (no containerd per agent) and the fake-k3s STAND-IN for k3s. Phases:
  1. start all; time until every one is running (registered, k3s up, a heartbeat answered);
  2. steady state over a window: requests/s and bytes/s at each stand-in, in total and per agent
     (the stand-ins' own counters: GET /admin/counters), CPU of the stand-ins and of the agents;
  3. the master stand-in restarted (SIGTERM, down for --down-s, a new process on the same port with
     a NEW enclave key and no nodes): every agent must re-attest and re-register; the largest
     burst per second at the master (its per-second timeline) and the time until all are back; no
     agent may exit or restart its k3s;
  4. a fraction (--slash-fraction, 10 %) slashed in ONE transaction (admin /slash-batch): each of
     them must exit 79 within sui.poll_interval_ms + 1 s; every other agent keeps running with the
     same k3s pid and keeps heartbeating;
  5. SIGTERM to all: every agent exits 0.
Bounded: each phase has a deadline; the whole run stays under --time-limit-s (default 300).

  bench/fleet/fleet.py [--nodes 50] [--poll-ms 5000] [--heartbeat-ms 30000] [--steady-s 45] [--build DIR]
"""
import argparse
import concurrent.futures
import math
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from world import World, header, http_json, median, now_ms, percentile, proc_cpu_s, table, wait_until  # noqa: E402


def rss_kib(pid):
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Rss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def port_totals(c, port):
    p = c["wire"]["perPort"].get(port, {"requests": 0, "bytes_in": 0, "bytes_out": 0})
    return p["requests"], p["bytes_in"], p["bytes_out"]


def master_requests(c):
    return sum(c["counters"]["requests"].values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--poll-ms", type=int, default=5000)
    ap.add_argument("--heartbeat-ms", type=int, default=30000)
    ap.add_argument("--steady-s", type=float, default=45)
    ap.add_argument("--down-s", type=float, default=2)
    ap.add_argument("--slash-fraction", type=float, default=0.1)
    ap.add_argument("--time-limit-s", type=float, default=300)
    ap.add_argument("--build")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    header("fleet", sys.argv)
    t_begin = time.monotonic()

    def left():
        return args.time_limit_s - (time.monotonic() - t_begin)

    failures = []
    with World(build=args.build, poll_interval_ms=args.poll_ms, heartbeat_interval_ms=args.heartbeat_ms,
               keep=args.keep) as w:
        # ---- set-up (not measured): keys, funding, stakes -----------------------------------
        agents = [w.new_agent(node_id=f"fleet-{i:03d}") for i in range(args.nodes)]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda a: a.stake(), agents))
        t_setup = time.monotonic() - t_begin

        # ---- 1. start ------------------------------------------------------------------------
        t0 = now_ms()
        for a in agents:
            a.start()
            time.sleep(0.02)
        ok = wait_until(lambda: all(a.running() for a in agents), min(120, left()), step=0.2)
        t_all_running = now_ms() - t0
        if not ok:
            bad = [a.node_id for a in agents if not a.running()]
            raise SystemExit(f"not running after start: {bad[:5]}… ({len(bad)}); logs under {w.dir}")

        # ---- 2. steady state ------------------------------------------------------------------
        time.sleep(min(5, args.poll_ms / 1000.0))
        s0, m0 = w.sui_counters(), w.master_counters()
        cpu0 = {"sui": w.sui.cpu_s(), "master": w.master.cpu_s(), "agents": sum(proc_cpu_s(a.pid) for a in agents)}
        tw0 = time.monotonic()
        rss = []
        samples = []  # (monotonic s, the agents' chain requests so far), every 100 ms
        next_rss = tw0
        while time.monotonic() - tw0 < args.steady_s:
            time.sleep(0.1)
            samples.append((time.monotonic(), port_totals(w.sui_counters(), w.agent_port)[0]))
            if time.monotonic() >= next_rss:
                next_rss += 5
                rss.append(sum(rss_kib(a.pid) for a in agents))
        window = time.monotonic() - tw0
        # how the agents' chain requests bunch up: the busiest 100 ms and 1 s beside the mean
        per100 = [b[1] - a_[1] for a_, b in zip(samples, samples[1:])]
        per1s = [samples[i + 10][1] - samples[i][1] for i in range(0, len(samples) - 10)]
        s1, m1 = w.sui_counters(), w.master_counters()
        cpu1 = {"sui": w.sui.cpu_s(), "master": w.master.cpu_s(), "agents": sum(proc_cpu_s(a.pid) for a in agents)}
        n = args.nodes
        ar0, ai0, ao0 = port_totals(s0, w.agent_port)
        ar1, ai1, ao1 = port_totals(s1, w.agent_port)
        mr0, mi0, mo0 = port_totals(s0, w.master_chain_port)
        mr1, mi1, mo1 = port_totals(s1, w.master_chain_port)
        hr = master_requests(m1) - master_requests(m0)
        hi = m1["wire"]["bytes_in"] - m0["wire"]["bytes_in"]
        ho = m1["wire"]["bytes_out"] - m0["wire"]["bytes_out"]
        steady_rows = [
            ["Sui stand-in: the agents' requests", (ar1 - ar0) / window, (ar1 - ar0) / window / n,
             (ai1 - ai0) / window / 1024, (ao1 - ao0) / window / 1024, (cpu1["sui"] - cpu0["sui"]) / window * 1000],
            ["Sui stand-in: the master's chain checks", (mr1 - mr0) / window, (mr1 - mr0) / window / n,
             (mi1 - mi0) / window / 1024, (mo1 - mo0) / window / 1024, None],
            ["master stand-in (TLS, all endpoints)", hr / window, hr / window / n, hi / window / 1024,
             ho / window / 1024, (cpu1["master"] - cpu0["master"]) / window * 1000],
            [f"the {n} agents (their own processes)", None, None, None, None,
             (cpu1["agents"] - cpu0["agents"]) / window * 1000],
        ]
        steady_note = (f"window {window:.0f} s; sui.poll_interval_ms {args.poll_ms}, heartbeats {args.heartbeat_ms} ms; "
                       f"agents' RSS in total {median(rss) / 1024:.0f} MiB ({median(rss) / 1024 / n:.1f} MiB each); "
                       f"the Sui stand-in's CPU includes the master's chain checks. The agents' chain requests: mean "
                       f"{(ar1 - ar0) / window:.1f}/s; busiest 1 s {max(per1s) if per1s else 0}; busiest 100 ms "
                       f"{max(per100) if per100 else 0} (sampled every ~100 ms).")

        # ---- 3. master restart ----------------------------------------------------------------
        k3s_pids = {a.node_id: a.status().get("k3s", {}).get("pid") for a in agents}
        reatt0 = {a.node_id: a.status().get("master", {}).get("reattestations", 0) for a in agents}
        t_down = now_ms()
        t_up = w.restart_master(down_s=args.down_s)
        back = {}

        def all_back():
            c = w.master_counters()
            for node in c["nodes"]:
                if node["heartbeat_count"] >= 1 and node["node_id"] not in back:
                    back[node["node_id"]] = node["last_heartbeat_at"]
            return len(back) == n
        recovered = wait_until(all_back, min(args.heartbeat_ms / 1000.0 + 90, left() - 40), step=0.5)
        time.sleep(1.5)  # the agents' status files are rewritten every second
        c = w.master_counters()
        timeline = {int(s): row for s, row in c["timeline"].items()}
        secs = sorted(timeline)
        per_sec_total = [sum(timeline[s].values()) for s in secs]
        per_sec_reg = [timeline[s].get("register", 0) for s in secs]
        per_sec_att = [timeline[s].get("get_attestation", 0) for s in secs]
        registers = sum(node["register_count"] for node in c["nodes"])
        alive_after = sum(1 for a in agents if a.alive())
        k3s_same = sum(1 for a in agents if a.status().get("k3s", {}).get("pid") == k3s_pids[a.node_id])
        reatt = sum(1 for a in agents if a.status().get("master", {}).get("reattestations", 0) > reatt0[a.node_id])
        back_ms = [t - t_up for t in back.values()]
        restart_rows = [
            ["agents back (registered + a heartbeat at the new master)", f"{len(back)}/{n}"],
            ["time from the new master's start to all back, s", max(back_ms) / 1000 if back_ms else None],
            ["time to half back, s", median(back_ms) / 1000 if back_ms else None],
            ["largest burst at the master, requests in one second (all)", max(per_sec_total) if secs else 0],
            ["largest burst of register-worker in one second", max(per_sec_reg) if secs else 0],
            ["largest burst of get_attestation in one second", max(per_sec_att) if secs else 0],
            ["seconds with any register-worker", sum(1 for x in per_sec_reg if x)],
            ["register-worker calls at the new master (all nodes)", registers],
            ["agents whose status counts a re-attestation", f"{reatt}/{n}"],
            ["agents still running (none gave up)", f"{alive_after}/{n}"],
            ["agents with the same k3s pid (none tore down)", f"{k3s_same}/{n}"],
        ]
        if not recovered or alive_after != n or k3s_same != n:
            failures.append("master restart: not every agent came back undisturbed")
        burst_profile = " ".join(f"{s - secs[0]}:{sum(timeline[s].values())}" for s in secs) if secs else ""

        # ---- 4. 10 % slashed in one transaction --------------------------------------------
        k = max(1, math.ceil(n * args.slash_fraction))
        victims = random.sample(agents, k)
        others = [a for a in agents if a not in victims]
        hb_before = {node["node_id"]: node["heartbeat_count"] for node in w.master_counters()["nodes"]}
        pids_before = {a.node_id: a.status().get("k3s", {}).get("pid") for a in others}
        exits = {}

        def watch(a):
            code = a.proc.wait()
            exits[a.node_id] = (now_ms(), code)
        threads = [threading.Thread(target=watch, args=(a,), daemon=True) for a in victims]
        for t in threads:
            t.start()
        r = http_json(w.sui_admin + "/slash-batch", {"node_ids": [a.node_id for a in victims], "all": True,
                                                     "reason": "fleet bench"})
        landed = w.slash_landed_ms(r["digest"])
        bound = args.poll_ms + 1000
        wait_until(lambda: len(exits) == k, bound / 1000.0 + 15, step=0.05)
        # the others: still running, same k3s, and each heartbeats again after the slash
        wait_until(lambda: all(node["heartbeat_count"] > hb_before.get(node["node_id"], 0)
                               for node in w.master_counters()["nodes"]
                               if node["node_id"] in pids_before),
                   min(args.heartbeat_ms / 1000.0 + 5, max(5, left() - 15)), step=0.5)
        nodes_now = {node["node_id"]: node for node in w.master_counters()["nodes"]}
        totals = [exits[a.node_id][0] - landed for a in victims if a.node_id in exits]
        codes = [exits[a.node_id][1] for a in victims if a.node_id in exits]
        within = sum(1 for t in totals if t <= bound)
        others_ok = sum(1 for a in others if a.alive() and a.marker() is None
                        and a.status().get("k3s", {}).get("pid") == pids_before[a.node_id])
        others_beat = sum(1 for a in others if nodes_now.get(a.node_id, {}).get("heartbeat_count", 0)
                          > hb_before.get(a.node_id, 0))
        slash_rows = [
            ["slashed in one transaction", f"{k} ({r['digest'][:10]}…, {len(r['records'])} records)"],
            ["exited 79", f"{codes.count(79)}/{k}"],
            [f"exited within poll + 1 s ({bound} ms)", f"{within}/{k}"],
            ["landed -> exit p50 / max, ms", f"{median(totals):.0f} / {max(totals) if totals else float('nan'):.0f}"],
            ["others still running, same k3s pid, no marker", f"{others_ok}/{len(others)}"],
            ["others heartbeating after the slash", f"{others_beat}/{len(others)}"],
        ]
        if codes.count(79) != k or within != k or others_ok != len(others):
            failures.append("slash batch: a slashed node was late or another node was disturbed")

        # ---- 5. orderly stop -------------------------------------------------------------------
        for a in others:
            a.proc.send_signal(15)
        t_stop = time.monotonic()
        stop_codes = [a.proc.wait(60) for a in others]
        stop_s = time.monotonic() - t_stop
        if any(c != 0 for c in stop_codes):
            failures.append(f"stop: exit codes {sorted(set(stop_codes))}")

    total_s = time.monotonic() - t_begin
    table(f"fleet of {args.nodes} agents: start", ["", "value"],
          [["set-up (keys, funding, {0} stakes, 4 at a time), s".format(args.nodes), t_setup],
           ["start of the first agent -> all running, s", t_all_running / 1000]])
    table("fleet: steady state", ["where", "req/s", "req/s per agent", "KiB/s up", "KiB/s down", "CPU ms/s"],
          steady_rows, note=steady_note)
    table(f"fleet: master stand-in restarted (down {args.down_s:.0f} s, new enclave key, no nodes known)",
          ["", "value"], restart_rows,
          note=f"requests per second at the master from the first second of its timeline (s:count): {burst_profile}")
    table(f"fleet: {args.slash_fraction:.0%} slashed in one transaction", ["", "value"], slash_rows)
    table("fleet: orderly stop", ["", "value"],
          [[f"SIGTERM to the {len(others)} others -> all exited, s", stop_s],
           ["exit codes", ",".join(str(c) for c in sorted(set(stop_codes)))],
           ["whole run, s", total_s]])
    if failures:
        print("FAILED: " + "; ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
