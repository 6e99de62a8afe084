#!/usr/bin/env bash
# Wall time of one `k3s-daas stake` (fresh key and state folder each run: build, simulate, sign,
# journal with fsync, execute, wait for the indexer, read the record back) against the Sui
# stand-in, beside the official @mysten/sui SDK doing the same stake (bench/sui/sdk_stake.mjs)
# against the same stand-in. Funding is not timed.
#
#   bench/sui/stake_walltime.sh [RUNS] [BINARY]      (defaults: 10, build/k3s-daas)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-10}"
binary="${2:-$root/build/k3s-daas}"
[[ -x "$binary" ]] || { echo "stake_walltime: $binary is not built" >&2; exit 2; }
[[ -d "$root/tests/peers/node_modules/@mysten/sui" ]] || {
  echo "stake_walltime: tests/peers/node_modules is missing; run scripts/npm-peers.sh first" >&2; exit 2; }

work="$(mktemp -d /tmp/k3s-daas-stake-bench-XXXXXX)"
peer_pid=""
cleanup() {
  [[ -n "$peer_pid" ]] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The stand-in prints one JSON line when it is ready.
mkfifo "$work/ready"
node "$root/tests/peers/sui-devnet/server.mjs" --port 0 >"$work/ready" 2>"$work/peer.log" &
peer_pid=$!
read -r ready <"$work/ready"
field() { node -e 'const o=JSON.parse(process.argv[1]); process.stdout.write(String(o[process.argv[2]]))' "$1" "$2"; }
graphql="$(field "$ready" graphql)"
admin="$(field "$ready" admin)"
package="$(field "$ready" package_id)"
pool="$(field "$ready" staking_pool_id)"

times=()
for ((i = 0; i < runs; i++)); do
  dir="$work/node-$i"
  mkdir -p "$dir"
  address="$("$binary" keys generate --out "$dir/sui.key" --json | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).address))')"
  curl -sS -o /dev/null -X POST -H 'Content-Type: application/json' \
    --data "{\"address\":\"$address\",\"amount_mist\":\"2000000000\",\"coins\":1}" "$admin/fund"
  cat >"$dir/config.json" <<EOF
{"node_id": "bench-$i", "state_dir": "$dir/state",
 "sui": {"transport": "graphql", "rpc_urls": ["$graphql"], "key_file": "$dir/sui.key",
         "package_id": "$package", "staking_pool_id": "$pool"},
 "master": {"url": "http://127.0.0.1:9", "allow_insecure_http": true}}
EOF
  start=$(date +%s%N)
  "$binary" --config "$dir/config.json" stake --yes >/dev/null
  end=$(date +%s%N)
  times+=($(((end - start) / 1000)))
done

agent="$(printf '%s\n' "${times[@]}" | sort -n | node -e '
let s=""; process.stdin.on("data",d=>s+=d).on("end",()=>{
  const t=s.trim().split("\n").map(Number).map(x=>x/1000);
  const p=(q)=>t[Math.min(t.length-1,Math.max(0,Math.ceil(q/100*t.length)-1))];
  const r=(x)=>Math.round(x*100)/100;
  process.stdout.write(JSON.stringify({tool:"k3s-daas stake",runs:t.length,wall_ms_median:r(p(50)),wall_ms_p90:r(p(90)),wall_ms_min:r(t[0]),wall_ms_max:r(t[t.length-1])}));
});')"
sdk="$(node "$here/sdk_stake.mjs" --graphql "$graphql" --admin "$admin" --package "$package" --pool "$pool" --runs "$runs")"

node -e '
const rows=[JSON.parse(process.argv[1]), JSON.parse(process.argv[2])];
console.log("stake wall time against the local Sui stand-in (GraphQL), " + rows[0].runs + " runs each, ms");
console.log("tool".padEnd(22) + ["median","p90","min","max"].map(h=>h.padStart(10)).join(""));
for (const r of rows) console.log(r.tool.padEnd(22) + [r.wall_ms_median,r.wall_ms_p90,r.wall_ms_min,r.wall_ms_max].map(v=>String(v).padStart(10)).join(""));
console.log("(k3s-daas: a whole process per run, including config and key loading; the SDK: in-process calls)");
' "$agent" "$sdk"
