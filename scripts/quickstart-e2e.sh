#!/usr/bin/env bash
# Called by quickstart.sh: the agent end to end against the local peers, on loopback only.
#   - tests/peers/sui-devnet: a stand-in for a Sui full node built on the official @mysten/sui SDK;
#   - tests/peers/nautilus-master: a stand-in for the Nautilus master (an mTLS gateway whose
#     attestation documents are signed by a test CA that mimics AWS's Nitro chain; not an enclave).
# Needs AGENT (the k3s-daas binary) and WORK (a scratch folder) in the environment.
set -euo pipefail
: "${AGENT:?}" "${WORK:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
cfg="$WORK/config.json"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

ready_line() {  # waits for a peer's JSON ready line in a file
  for _ in $(seq 1 300); do
    if [ -s "$1" ]; then head -1 "$1"; return 0; fi
    sleep 0.1
  done
  echo "quickstart: a peer did not start; its log:" >&2; cat "$1.err" >&2; return 1
}
field() { node -e 'const d=JSON.parse(process.argv[1]); const v=d[process.argv[2]]; process.stdout.write(String(Array.isArray(v)?v[0]:v))' "$1" "$2"; }

echo "-- starting the Sui stand-in"
node "$root/tests/peers/sui-devnet/server.mjs" --port 0 >"$WORK/sui.ready" 2>"$WORK/sui.ready.err" &
pids+=($!)
sui=$(ready_line "$WORK/sui.ready")
graphql=$(field "$sui" graphql); admin=$(field "$sui" admin)
package=$(field "$sui" package_id); pool=$(field "$sui" staking_pool_id)

echo "-- test PKI and the Nautilus master stand-in"
bash "$root/tests/peers/nautilus-master/make-pki.sh" "$WORK/pki"
node "$root/tests/peers/nautilus-master/server.mjs" --pki "$WORK/pki" --port 0 --admin-port 0 \
  --sui-graphql "$graphql" --package-id "$package" >"$WORK/master.ready" 2>"$WORK/master.ready.err" &
pids+=($!)
master=$(ready_line "$WORK/master.ready")
master_url=$(field "$master" url); enclave_key=$(field "$master" enclave_public_key)

echo "-- a Sui key for this node (0600 file; the secret is never printed)"
"$AGENT" keys generate --out "$WORK/sui.key"
address=$("$AGENT" keys show --key-file "$WORK/sui.key" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).address))')
curl -sS -X POST -H 'Content-Type: application/json' \
  --data "{\"address\":\"$address\",\"amount_mist\":\"5000000000\",\"coins\":2}" "$admin/fund" >/dev/null
echo "   funded $address with 5 SUI on the stand-in"

echo "-- configuring"
set_key() { "$AGENT" --config "$cfg" config set "$1" "$2" >/dev/null; }
set_key state_dir "$WORK/state"
set_key sui.key_file "$WORK/sui.key"
set_key sui.rpc_urls "[\"$graphql\"]"
set_key sui.package_id "$package"
set_key sui.staking_pool_id "$pool"
set_key master.url "$master_url"
set_key master.ca_file "$WORK/pki/tls-ca.pem"
set_key master.cert_file "$WORK/pki/client.pem"
set_key master.key_file "$WORK/pki/client.key"
set_key master.attestation.pcr0 "$(field "$master" pcr0)"
set_key master.attestation.pcr1 "$(field "$master" pcr1)"
set_key master.attestation.pcr2 "$(field "$master" pcr2)"
set_key master.attestation.root_ca_file "$WORK/pki/nitro-root.pem"
"$AGENT" --config "$cfg" config validate

echo "-- staking (BCS transaction built, simulated, signed and submitted by the agent)"
"$AGENT" --config "$cfg" stake --yes
echo "-- staking again is a no-op"
"$AGENT" --config "$cfg" stake --yes
echo "-- status"
"$AGENT" --config "$cfg" status || true

echo "-- verifying the master's attestation"
"$AGENT" --config "$cfg" attest --url "$master_url" --max-age 300

echo "-- a seal token for the attested enclave, verified against the chain"
"$AGENT" --config "$cfg" seal-token issue --audience "$enclave_key" > "$WORK/seal.token"
"$AGENT" --config "$cfg" seal-token verify - --audience "$enclave_key" < "$WORK/seal.token"
rm -f "$WORK/seal.token"

if [ -n "${FAKE_K3S:-}" ] && [ -x "${FAKE_K3S}" ] && [ "$(id -u)" -eq 0 ] && [ -x /usr/bin/containerd ]; then
  echo "-- the daemon: k3s-daas run, with Debian's containerd and tests/fake-k3s"
  echo "   (fake-k3s is a STAND-IN for k3s, which cannot be installed here: it accepts the real"
  echo "    \`k3s agent\` flags, reads --token-file and reports READY=1; it is not a kubelet)"
  set_key k3s.binary "$FAKE_K3S"
  set_key k3s.data_dir "$WORK/state/k3s"
  set_key k3s.stop_timeout_s 5
  set_key runtime.socket "$WORK/state/run/containerd.sock"
  set_key runtime.root_dir "$WORK/state/containerd-root"
  set_key master.heartbeat_interval_ms 1000
  set_key metrics.listen ""
  # The master tells workers how often to beat; ask the stand-in for every second.
  curl -sS -X POST -H 'Content-Type: application/json' --data '{"heartbeat_interval_ms":1000}' \
    "$(field "$master" admin)/admin/settings" >/dev/null
  # Test mode: containerd without its CRI plugin and teardown kept inside these folders.
  K3S_DAAS_TEST_MODE=1 "$AGENT" --config "$cfg" run > "$WORK/run.log" 2>&1 &
  run_pid=$!
  pids+=($run_pid)
  for _ in $(seq 1 150); do
    beats=$(curl -sS "$(field "$master" admin)/admin/state" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const st=JSON.parse(s);const ns=st.nodes||[];const n=Array.isArray(ns)?ns.find(x=>x.node_id==="quickstart-1"):ns["quickstart-1"];process.stdout.write(String(n?n.heartbeat_count||0:0))})')
    [ "${beats:-0}" -ge 3 ] && break
    sleep 0.2
  done
  grep -E "stage [0-9]/9" "$WORK/run.log" | sed 's/^/   /'
  echo "   heartbeats received by the master: ${beats:-0}"
  "$AGENT" --config "$cfg" status | sed -n '/daemon/,$p' | head -8
  kill -TERM "$run_pid"
  wait "$run_pid" && echo "   SIGTERM: orderly stop, exit 0" || { echo "quickstart: run exited $?; its log:" >&2; tail -30 "$WORK/run.log" >&2; exit 1; }
  [ "${beats:-0}" -ge 3 ] || { echo "quickstart: the daemon sent no heartbeats" >&2; tail -30 "$WORK/run.log" >&2; exit 1; }
  echo "daemon: ok"
else
  echo "-- skipping \`k3s-daas run\`: needs root, /usr/bin/containerd and the fake-k3s stand-in (FAKE_K3S)"
fi
