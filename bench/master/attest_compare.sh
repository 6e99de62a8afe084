#!/usr/bin/env bash
# Attestation verification time per real AWS Nitro document: k3s-daas (OpenSSL 3 + libcbor)
# beside @evervault/wasm-attestation-bindings, then heartbeat CPU cost (kept-alive mutual TLS vs
# one curl process per heartbeat).
#   bench/master/attest_compare.sh [BUILD_DIR] [--runs N] [--count N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$root/build"
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then build="$1"; shift; fi
runs=50; count=200
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --count) count="$2"; shift 2 ;;
    *) echo "attest_compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
bench="$(find "$build" -name master-bench -type f -perm -u+x | head -1)"
[ -n "$bench" ] || { echo "attest_compare.sh: build the master-bench target first (cmake --build $build --target master-bench)" >&2; exit 1; }

ours="$("$bench" attest --runs "$runs")"
theirs="$(node "$here/evervault_verify.mjs" --runs "$runs")"
echo "attestation verification, median us per document ($runs runs, at each document's own time)"
python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours = {d["file"]: d for d in map(json.loads, sys.argv[1].splitlines())}
theirs = {d["file"]: d for d in map(json.loads, sys.argv[2].splitlines())}
print(f'{"document":<86} {"k3s-daas":>10} {"evervault":>10}')
for f in ours:
    o, t = ours[f], theirs.get(f, {})
    ok = lambda d: "" if d.get("ok", True) else " (FAILED)"
    print(f'{f:<86} {o["us_per_verify_median"]:>10}{ok(o)} {t.get("us_per_verify_median", "-"):>10}{ok(t)}')
PY
echo
"$bench" heartbeat --count "$count"
