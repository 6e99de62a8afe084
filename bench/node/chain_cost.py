#!/usr/bin/env python3
"""Chain cost of one running agent: requests and bytes both ways, per node-hour.

One node (`k3s-daas run`, k3s-embedded runtime + the fake-k3s stand-in for k3s) against the Sui
stand-in, at `sui.poll_interval_ms` (default: the default 5000). After it is running, the Sui
stand-in's own counters (GET /admin/counters: requests per kind and bytes on the wire, HTTP
headers included) are read at the start and at the end of a window; the difference is scaled to
one hour. The agent talks to one port of the stand-in, the master stand-in's own chain checks go
to another, so the two are counted apart (the master's are shown beside, for the fleet figures).

  bench/node/chain_cost.py [--window-s 120] [--poll-ms 5000] [--heartbeat-ms 30000] [--build DIR]
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from world import World, header, table, wait_until  # noqa: E402


def port_view(counters, port):
    return counters["wire"]["perPort"].get(port, {"requests": 0, "bytes_in": 0, "bytes_out": 0, "perKind": {}})


def diff_kinds(a, b):
    out = {}
    for k, v in b["perKind"].items():
        o = a["perKind"].get(k, {"requests": 0, "bytes_in": 0, "bytes_out": 0})
        d = {f: v[f] - o[f] for f in ("requests", "bytes_in", "bytes_out")}
        if d["requests"]:
            out[k] = d
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--window-s", type=float, default=120)
    ap.add_argument("--poll-ms", type=int, default=5000)
    ap.add_argument("--heartbeat-ms", type=int, default=30000)
    ap.add_argument("--build")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    header("chain_cost", sys.argv)
    with World(build=args.build, poll_interval_ms=args.poll_ms, heartbeat_interval_ms=args.heartbeat_ms,
               keep=args.keep) as w:
        a = w.new_agent()
        a.stake()
        a.start()
        if not wait_until(a.running, 60):
            raise SystemExit(f"the agent did not reach running; log {a.log_path}")
        time.sleep(2 * args.poll_ms / 1000.0)  # past start-up reads
        c0 = w.sui_counters()
        t0 = time.monotonic()
        time.sleep(args.window_s)
        c1 = w.sui_counters()
        window = time.monotonic() - t0
        if not a.alive():
            raise SystemExit("the agent exited during the window")
        scale = 3600.0 / window
        rows = []
        for who, port in (("agent", w.agent_port), ("master stand-in", w.master_chain_port)):
            kinds = diff_kinds(port_view(c0, port), port_view(c1, port))
            tot = {"requests": 0, "bytes_in": 0, "bytes_out": 0}
            for k, d in sorted(kinds.items()):
                rows.append([who, k, d["requests"], d["requests"] * scale, d["bytes_in"] / max(1, d["requests"]),
                             d["bytes_out"] / max(1, d["requests"]), d["bytes_in"] * scale / 1e6,
                             d["bytes_out"] * scale / 1e6])
                for f in tot:
                    tot[f] += d[f]
            rows.append([who, "TOTAL", tot["requests"], tot["requests"] * scale,
                         tot["bytes_in"] / max(1, tot["requests"]), tot["bytes_out"] / max(1, tot["requests"]),
                         tot["bytes_in"] * scale / 1e6, tot["bytes_out"] * scale / 1e6])
        conns = c1["wire"]["connections"] - c0["wire"]["connections"]
        a.stop()
        schedule = 3600 * 1000 / args.poll_ms
    table(f"chain cost of one running node over {window:.0f} s, scaled to one hour "
          f"(sui.poll_interval_ms {args.poll_ms}, heartbeats {args.heartbeat_ms} ms)",
          ["client", "request kind", "in window", "per hour", "B/request up", "B/request down", "MB/h up",
           "MB/h down"], rows,
          note=f"up = agent -> chain, down = chain -> agent; bytes on the wire incl. HTTP headers (plain HTTP on "
               f"loopback; TLS to a real endpoint adds ~30-40 B/record). Schedule: one check per interval = "
               f"{schedule:.0f}/h (docs/daemon.md: 900/h before the version-check design, 720/h now at 5 s). "
               f"The master stand-in's row is its seal-token check on every heartbeat, not the agent's cost. "
               f"New TCP connections to the stand-in in the window (both clients): {conns}.")


if __name__ == "__main__":
    main()
