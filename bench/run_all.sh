#!/usr/bin/env bash
# Runs every whole-agent benchmark once and keeps each one's output (the figures in
# docs/performance.md come from these files).
#   bench/run_all.sh [BUILD_DIR] [OUT_DIR]      (defaults: build-bench, /tmp/k3s-daas-bench-results)
# BUILD_DIR needs the targets k3s-daas, fake-k3s and master-bench; tests/peers/node_modules must
# be installed (scripts/npm-peers.sh).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${1:-$root/build-bench}"
out="${2:-/tmp/k3s-daas-bench-results}"
mkdir -p "$out"
status=0
run() {
  local name="$1"; shift
  echo "== $name: $*" >&2
  if ! "$@" >"$out/$name.txt" 2>"$out/$name.err"; then
    echo "   $name FAILED (see $out/$name.err)" >&2
    status=1
  fi
  cat "$out/$name.txt"
}
run slash_latency python3 "$here/node/slash_latency.py" --build "$build"
run chain_cost python3 "$here/node/chain_cost.py" --build "$build"
run stake_compare python3 "$here/sui/stake_compare.py" --build "$build"
run startup python3 "$here/node/startup.py" --build "$build"
run idle_footprint python3 "$here/node/idle_footprint.py" --build "$build"
bench="$(find "$build" -name master-bench -type f -perm -u+x | head -1)"
if [[ -n "$bench" ]]; then
  run heartbeat "$bench" heartbeat --count 200
else
  echo "   master-bench is not built in $build: heartbeat skipped" >&2
  status=1
fi
run fleet python3 "$here/fleet/fleet.py" --build "$build"
exit $status
