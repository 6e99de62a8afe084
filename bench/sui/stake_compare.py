#!/usr/bin/env python3
"""`k3s-daas stake` beside the official SDK (@mysten/sui GraphQL client, bench/sui/sdk_stake.mjs)
doing the same stake against the same Sui stand-in: round trips to the chain counted by the
stand-in (GET /admin/counters, per request kind, with bytes), and wall time of the whole process
(fresh funded key each run, one coin) and in-process (the SDK script's own timer).
Process-start baselines: `k3s-daas config validate` and node loading the three SDK modules.

  bench/sui/stake_compare.py [--runs 10] [--build DIR]
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from world import ROOT, World, header, median, percentile, table  # noqa: E402


def kinds_delta(c0, c1, port):
    a = c0["wire"]["perPort"].get(port, {"perKind": {}})["perKind"]
    b = c1["wire"]["perPort"].get(port, {"perKind": {}})["perKind"]
    out = {}
    for k, v in b.items():
        o = a.get(k, {"requests": 0, "bytes_in": 0, "bytes_out": 0})
        d = {f: v[f] - o[f] for f in ("requests", "bytes_in", "bytes_out")}
        if d["requests"]:
            out[k] = d
    return out


def timed(argv, **kw):
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    return (time.monotonic() - t0) * 1000.0, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--build")
    args = ap.parse_args()
    header("stake_compare", sys.argv)
    sdk_script = ROOT / "bench/sui/sdk_stake.mjs"
    with World(build=args.build) as w:
        r = w.sui.ready
        tools = {"k3s-daas stake": {"wall": [], "inproc": [], "kinds": []},
                 "@mysten/sui (node)": {"wall": [], "inproc": [], "kinds": []}}
        base = {"k3s-daas config validate": [], "node + SDK imports": []}
        imports = ("const {createRequire}=require('node:module');const r=createRequire(process.argv[1]);"
                   "Promise.all(['@mysten/sui/graphql','@mysten/sui/transactions','@mysten/sui/keypairs/ed25519']"
                   ".map(s=>import(r.resolve(s))))")
        for i in range(args.runs):
            a = w.new_agent(node_id=f"stake-agent-{i}")
            c0 = w.sui_counters()
            ms, res = timed([str(w.agent_bin), "--config", str(a.config), "stake", "--yes"], env=a.env())
            c1 = w.sui_counters()
            if res.returncode != 0:
                raise SystemExit(f"k3s-daas stake failed: {res.stderr}")
            tools["k3s-daas stake"]["wall"].append(ms)
            tools["k3s-daas stake"]["kinds"].append(kinds_delta(c0, c1, w.agent_port))

            s = w.new_agent(node_id=f"stake-sdk-{i}")  # only for its funded key
            c0 = w.sui_counters()
            ms, res = timed(["node", str(sdk_script), "--graphql", w.agent_graphql, "--admin", w.sui_admin,
                             "--package", r["package_id"], "--pool", r["staking_pool_id"], "--amount",
                             r["min_stake_mist"], "--key-file", str(s.dir / "sui.key"), "--node-id", s.node_id])
            c1 = w.sui_counters()
            if res.returncode != 0:
                raise SystemExit(f"sdk_stake.mjs failed: {res.stderr}")
            tools["@mysten/sui (node)"]["wall"].append(ms)
            tools["@mysten/sui (node)"]["inproc"].append(json.loads(res.stdout)["wall_ms_median"])
            tools["@mysten/sui (node)"]["kinds"].append(kinds_delta(c0, c1, w.agent_port))

            ms, _ = timed([str(w.agent_bin), "--config", str(a.config), "config", "validate"], env=a.env())
            base["k3s-daas config validate"].append(ms)
            ms, _ = timed(["node", "-e", imports, str(ROOT / "tests/peers/package.json")])
            base["node + SDK imports"].append(ms)

    rows = []
    for name, t in tools.items():
        inproc = median(t["inproc"]) if t["inproc"] else None
        rows.append([name, median(t["wall"]), percentile(t["wall"], 90), inproc])
    for name, v in base.items():
        rows.append([f"baseline: {name}", median(v), percentile(v, 90), None])
    table(f"stake wall time against the Sui stand-in (GraphQL), {args.runs} runs each, ms",
          ["tool", "whole process p50", "p90", "in-process p50"], rows,
          note="whole process = fork/exec to exit, as an operator runs it; in-process = the SDK script's own timer "
               "around build+sign+execute+wait. Each run a fresh key with one funded coin.")

    rows = []
    all_kinds = sorted({k for t in tools.values() for run in t["kinds"] for k in run})
    for k in all_kinds + ["TOTAL"]:
        row = [k]
        for t in tools.values():
            if k == "TOTAL":
                per = [sum(d["requests"] for d in run.values()) for run in t["kinds"]]
                up = [sum(d["bytes_in"] for d in run.values()) for run in t["kinds"]]
                down = [sum(d["bytes_out"] for d in run.values()) for run in t["kinds"]]
            else:
                per = [run.get(k, {}).get("requests", 0) for run in t["kinds"]]
                up = [run.get(k, {}).get("bytes_in", 0) for run in t["kinds"]]
                down = [run.get(k, {}).get("bytes_out", 0) for run in t["kinds"]]
            row += [median(per), f"{median(up):.0f}/{median(down):.0f}"]
        rows.append(row)
    names = list(tools)
    table("stake: requests to the chain per stake, counted by the Sui stand-in (median of the runs)",
          ["request kind", f"{names[0]}", "B up/down", f"{names[1]}", "B up/down"], rows,
          note="bytes on the wire incl. HTTP headers; admin (funding) requests are not counted.")


if __name__ == "__main__":
    main()
