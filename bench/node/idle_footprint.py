#!/usr/bin/env python3
"""Idle footprint of the agent process alone (not its children) over a window, heartbeats every 1 s.

One running node (k3s-embedded runtime + the fake-k3s stand-in for k3s; sui.poll_interval_ms at
its default 5000, the master stand-in's heartbeat interval 1000 ms). Read from /proc: CPU
(utime+stime of all the agent's threads), RSS, anonymous memory (smaps_rollup), file-backed pages
of shared libraries and of the binary itself (smaps), threads, context switches (wake-ups).
Beside it in the same run: an idle Node.js process with one 1 s timer (the floor of an agent
written on the SDK), measured the same way.

  bench/node/idle_footprint.py [--window-s 60] [--build DIR]
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from world import World, header, proc_cpu_s, table, wait_until  # noqa: E402


def kib(v):
    return int(v.split()[0])


def memory(pid):
    roll = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        if ":" in line and not line.startswith(("0", "7", "5")) and line.split(":")[0].isidentifier():
            k, v = line.split(":", 1)
            roll[k] = kib(v)
    libs = 0
    binary = 0
    exe = os.readlink(f"/proc/{pid}/exe")
    path = None
    for line in open(f"/proc/{pid}/smaps"):
        first = line.split()
        if first and "-" in first[0] and len(first) >= 5 and not first[0].endswith(":"):
            path = first[5] if len(first) >= 6 else ""
        elif line.startswith("Rss:") and path:
            if path == exe:
                binary += kib(line.split(":", 1)[1])
            elif ".so" in path:
                libs += kib(line.split(":", 1)[1])
    return {"rss": roll.get("Rss", 0), "anon": roll.get("Anonymous", 0), "libs": libs, "binary": binary}


def switches(pid):
    total = 0
    threads = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        threads += 1
        try:
            for line in open(f"/proc/{pid}/task/{t}/status"):
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total, threads


def measure(pid, window):
    c0 = proc_cpu_s(pid)
    s0, _ = switches(pid)
    first = memory(pid)
    peak = dict(first)
    t0 = time.monotonic()
    while time.monotonic() - t0 < window:
        time.sleep(1)
        m = memory(pid)
        for k in peak:
            peak[k] = max(peak[k], m[k])
    elapsed = time.monotonic() - t0
    last = memory(pid)
    s1, threads = switches(pid)
    return {"cpu_ms_per_s": (proc_cpu_s(pid) - c0) * 1000 / elapsed, "wakeups_per_s": (s1 - s0) / elapsed,
            "threads": threads, "first": first, "last": last, "peak": peak, "elapsed": elapsed}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--window-s", type=float, default=60)
    ap.add_argument("--build")
    args = ap.parse_args()
    header("idle_footprint", sys.argv)
    with World(build=args.build, heartbeat_interval_ms=1000) as w:
        a = w.new_agent()
        a.stake()
        a.start()
        if not wait_until(a.running, 60):
            raise SystemExit(f"the agent did not reach running; log {a.log_path}")
        time.sleep(5)
        m0 = w.master_counters()
        agent = measure(a.pid, args.window_s)
        m1 = w.master_counters()
        beats = sum(n["heartbeat_count"] for n in m1["nodes"]) - sum(n["heartbeat_count"] for n in m0["nodes"])
        if not a.alive():
            raise SystemExit("the agent exited during the window")
        a.stop()
    node = subprocess.Popen(["node", "-e", "setInterval(() => {}, 1000)"])
    try:
        time.sleep(2)
        js = measure(node.pid, min(args.window_s, 20))
    finally:
        node.kill()
        node.wait()
    rows = []
    for name, r in (("k3s-daas run (agent process)", agent), ("node -e setInterval (idle floor)", js)):
        rows.append([name, r["cpu_ms_per_s"], r["wakeups_per_s"], r["threads"], r["last"]["rss"] / 1024,
                     r["peak"]["rss"] / 1024, r["last"]["anon"] / 1024, r["last"]["libs"] / 1024,
                     r["last"]["binary"] / 1024, (r["last"]["rss"] - r["first"]["rss"]) / 1024])
    table(f"idle footprint over {agent['elapsed']:.0f} s at 1 s heartbeats ({beats} heartbeats counted by the master "
          f"stand-in), the agent process alone",
          ["process", "CPU ms/s", "ctx sw/s", "threads", "RSS MiB", "peak RSS", "anon MiB", ".so pages MiB",
           "binary MiB", "RSS growth MiB"], rows,
          note="CPU = utime+stime of all threads (children excluded) / wall; anon = smaps_rollup Anonymous; "
               ".so pages = Rss of mappings of shared libraries; binary = Rss of the executable's own mappings. "
               "The node row is measured over at most 20 s.")


if __name__ == "__main__":
    main()
