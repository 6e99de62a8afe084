#!/usr/bin/env bash
# systemd_package: the Debian package and its unit under a real booted systemd (a Debian 12 box,
# scripts/systemd-box.sh), against the local Sui and master stand-ins on 127.0.0.1, Debian's
# containerd and tests/fake-k3s as the STAND-IN for k3s (installed in the box as
# /usr/local/bin/k3s, the default k3s.binary; it is not a kubelet).
# Steps, in order (each prints "ok - ..."; the first failure ends the test):
#   package, install with apt-get (Depends), files/modes/version, not enabled or started,
#   start: activating with the daemon's STATUS until READY=1, then active (running),
#   journald fields, restart keeps a container, exit 78 not restarted, SIGSTOP -> watchdog
#   restart and takeover (one containerd, one k3s), dpkg -i of a newer build does not restart,
#   apt-get remove stops it and leaves no process, reinstall, slash -> failed 79 and stays down,
#   apt-get purge keeps the key, the marker and the journal.
# Env: K3S_DAAS_SOURCE_DIR, K3S_DAAS_BUILD_DIR (a configured build with the package rules),
# FAKE_K3S. Exit 77 (ctest: skipped) when this machine cannot boot a box.
set -euo pipefail
src=${K3S_DAAS_SOURCE_DIR:?}; build=${K3S_DAAS_BUILD_DIR:?}; fake_k3s=${FAKE_K3S:?}
boxsh="$src/scripts/systemd-box.sh"
name="pkgtest-$$"
work=$(mktemp -d /var/tmp/k3s-daas-systemd-test.XXXXXX)
pids=()
t_start=$(date +%s)

if ! why=$(bash "$boxsh" check); then echo "SKIPPED: cannot boot a systemd box here: $why"; exit 77; fi
command -v node >/dev/null || { echo "SKIPPED: node is missing (stand-ins)"; exit 77; }

cleanup() {
  local rc=$?
  if [ $rc -ne 0 ] && [ -d "$(bash "$boxsh" root "$name" 2>/dev/null)" ]; then
    echo "--- journal of k3s-daas in the box (last 80 lines, containerd's own lines left out)"
    bash "$boxsh" exec "$name" journalctl -u k3s-daas --no-pager 2>/dev/null | grep -v '\[containerd\]' | tail -80 || true
  fi
  if [ -n "${K3S_DAAS_KEEP_BOX:-}" ]; then echo "box $name kept (K3S_DAAS_KEEP_BOX)"; else bash "$boxsh" stop "$name" --now >/dev/null 2>&1 || true; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
  echo "systemd_package: $(( $(date +%s) - t_start )) s"
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*" >&2; exit 1; }
box() { bash "$boxsh" exec "$name" "$@"; }
prop() { box systemctl show -p "$1" --value k3s-daas.service; }
field() { node -e 'const d=JSON.parse(process.argv[1]); let v=d; for (const k of process.argv[2].split(".")) v=v[k]; process.stdout.write(String(Array.isArray(v)?v[0]:v))' "$1" "$2"; }
post() { curl -sS -X POST -H 'Content-Type: application/json' --data "$2" "$1"; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds
  local limit=$1 what=$2; shift 2
  local end=$(( $(date +%s) + limit ))
  until "$@"; do
    [ "$(date +%s)" -lt "$end" ] || fail "timed out after ${limit}s waiting for: $what"
    sleep 0.3
  done
}
state_is() { [ "$(prop ActiveState)/$(prop SubState)" = "$1" ]; }
count() { box sh -c "pgrep -c -x '$1' || true"; }
ready_line() {
  for _ in $(seq 1 300); do [ -s "$1" ] && { head -1 "$1"; return 0; }; sleep 0.1; done
  cat "$1.err" >&2; fail "a stand-in did not start"
}

# ---------------------------------------------------------------- package (two revisions)
for rev in 1 2; do
  (cd "$build" && cpack -G DEB -B "$work/deb$rev" -D CPACK_DEBIAN_PACKAGE_RELEASE=$rev -D CPACK_DEBIAN_COMPRESSION_TYPE=gzip >"$work/cpack$rev.log" 2>&1) \
    || { cat "$work/cpack$rev.log"; fail "cpack (revision $rev)"; }
  rm -rf "$work/deb$rev/_CPack_Packages"
done
deb1=$(ls "$work"/deb1/k3s-daas_*_*.deb); deb2=$(ls "$work"/deb2/k3s-daas_*_*.deb)
version1=$(dpkg-deb -f "$deb1" Version); version2=$(dpkg-deb -f "$deb2" Version)
depends=$(dpkg-deb -f "$deb1" Depends)
echo "$depends" | grep -q 'libc6 (>=' || fail "Depends is not computed from the binary: $depends"
ls "$work"/deb1/k3s-daas-dbgsym_*.ddeb >/dev/null || fail "no -dbgsym package"
dpkg-deb --fsys-tarfile "$deb1" | tar -xO ./usr/bin/k3s-daas > "$work/k3s-daas.bin"
if command -v readelf >/dev/null && readelf -S "$work/k3s-daas.bin" | grep -q '\.debug_info'; then fail "the packaged binary is not stripped"; fi
ok "packaged $version1 and $version2 (Depends: $depends)"

# ---------------------------------------------------------------- stand-ins on 127.0.0.1
node "$src/tests/peers/sui-devnet/server.mjs" --port 0 >"$work/sui.ready" 2>"$work/sui.ready.err" &
pids+=($!)
sui=$(ready_line "$work/sui.ready")
graphql=$(field "$sui" graphql); sui_admin=$(field "$sui" admin)
package=$(field "$sui" package_id); pool=$(field "$sui" staking_pool_id); min_stake=$(field "$sui" min_stake_mist)
bash "$src/tests/peers/nautilus-master/make-pki.sh" "$work/pki" >/dev/null
node "$src/tests/peers/nautilus-master/server.mjs" --pki "$work/pki" --port 0 --admin-port 0 \
  --sui-graphql "$graphql" --package-id "$package" --min-stake "$min_stake" --heartbeat-interval-ms 1000 \
  >"$work/master.ready" 2>"$work/master.ready.err" &
pids+=($!)
master=$(ready_line "$work/master.ready")

# ---------------------------------------------------------------- box, install
mkdir -p /var/cache/k3s-daas-box/apt-archives/partial
bash "$boxsh" boot "$name" --bind-ro "$work/deb1:/debs1" --bind-ro "$work/deb2:/debs2" \
  --bind /var/cache/k3s-daas-box/apt-archives:/var/cache/apt/archives
root=$(bash "$boxsh" root "$name")
box dpkg -s k3s-daas >/dev/null 2>&1 && fail "the fresh box already has k3s-daas"
if ! box env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/debs1/$(basename "$deb1")" >"$work/apt1.log" 2>&1; then
  # The cached root's package lists may be older than the mirror: refresh once.
  box apt-get update -q >/dev/null 2>&1 || true
  box env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/debs1/$(basename "$deb1")" >"$work/apt1.log" 2>&1 \
    || { cat "$work/apt1.log"; fail "apt-get install of the .deb"; }
fi
grep -q "NOT enabled or started" "$work/apt1.log" || { cat "$work/apt1.log"; fail "postinst did not print the next steps"; }
ok "apt-get install ./$(basename "$deb1") in a fresh Debian 12 box (its Depends resolved by apt)"

mode() { box stat -c '%a %U' "$1"; }
[ "$(mode /usr/bin/k3s-daas)" = "755 root" ] || fail "/usr/bin/k3s-daas: $(mode /usr/bin/k3s-daas)"
[ "$(mode /etc/k3s-daas)" = "750 root" ] || fail "/etc/k3s-daas: $(mode /etc/k3s-daas)"
[ "$(mode /var/lib/k3s-daas)" = "700 root" ] || fail "/var/lib/k3s-daas: $(mode /var/lib/k3s-daas)"
for f in /lib/systemd/system/k3s-daas.service /usr/share/doc/k3s-daas/config.example.json \
         /usr/share/doc/k3s-daas/copyright /usr/share/doc/k3s-daas/changelog.Debian.gz \
         /usr/share/doc/k3s-daas/operations.md /usr/share/man/man8/k3s-daas.8.gz \
         /usr/share/bash-completion/completions/k3s-daas /usr/share/zsh/vendor-completions/_k3s-daas; do
  box test -f "$f" || fail "missing $f"
done
box zcat /usr/share/man/man8/k3s-daas.8.gz > "$work/k3s-daas.8"
grep -qF '.SS "k3s\-daas config validate"' "$work/k3s-daas.8" || fail "the man page lacks 'config validate'"
grep -q "'config') echo" "$root/usr/share/bash-completion/completions/k3s-daas" || fail "bash completion lacks 'config'"
box k3s-daas version | grep -q "^k3s-daas $(echo "$version1" | cut -d- -f1) " || fail "k3s-daas version: $(box k3s-daas version)"
[ "$(box systemctl is-enabled k3s-daas.service || true)" = disabled ] || fail "the unit is enabled on first install"
[ "$(prop ActiveState)" = inactive ] || fail "the unit was started on first install"
ok "files, modes ($(mode /etc/k3s-daas | cut -d' ' -f1) /etc/k3s-daas, $(mode /var/lib/k3s-daas | cut -d' ' -f1) /var/lib/k3s-daas), man page, completions, version; unit disabled and inactive"

# ---------------------------------------------------------------- configure (as an operator would)
install -m 0755 "$fake_k3s" "$root/usr/local/bin/k3s"
cp -r "$work/pki" "$root/etc/k3s-daas/pki"
box k3s-daas keys generate --out /etc/k3s-daas/sui.key >/dev/null
address=$(box k3s-daas keys show --key-file /etc/k3s-daas/sui.key --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).address))')
post "$sui_admin/fund" "{\"address\":\"$address\",\"amount_mist\":\"5000000000\",\"coins\":2}" >/dev/null
cat > "$root/etc/k3s-daas/config.json" <<EOF
{
  "node_id": "box-1",
  "sui": {"rpc_urls": ["$graphql"], "key_file": "/etc/k3s-daas/sui.key", "package_id": "$package",
          "staking_pool_id": "$pool", "min_stake_mist": $min_stake, "stake_amount_mist": $min_stake,
          "poll_interval_ms": 500, "request_timeout_ms": 3000},
  "master": {"url": "$(field "$master" url)", "ca_file": "/etc/k3s-daas/pki/tls-ca.pem",
             "cert_file": "/etc/k3s-daas/pki/client.pem", "key_file": "/etc/k3s-daas/pki/client.key",
             "heartbeat_interval_ms": 1000,
             "attestation": {"pcr0": "$(field "$master" pcr0)", "pcr1": "$(field "$master" pcr1)",
                             "pcr2": "$(field "$master" pcr2)", "root_ca_file": "/etc/k3s-daas/pki/nitro-root.pem"}},
  "k3s": {"stop_timeout_s": 5},
  "metrics": {"listen": ""}
}
EOF
chmod 0600 "$root/etc/k3s-daas/config.json"
box k3s-daas config validate >/dev/null || fail "config validate"
box k3s-daas stake --yes >/dev/null || fail "stake"
# A short watchdog for the test (the unit ships 60 s): the daemon pings at half WATCHDOG_USEC.
mkdir -p "$root/etc/systemd/system/k3s-daas.service.d"
printf '[Service]\nWatchdogSec=6s\n' > "$root/etc/systemd/system/k3s-daas.service.d/test-watchdog.conf"
box systemctl daemon-reload
ok "configured against the stand-ins and staked from the box (node box-1, $address)"

# ---------------------------------------------------------------- start: READY=1 and STATUS=
# Every Sui request fails at first: start-up retries stage 4, the unit stays 'activating' and
# shows the daemon's STATUS; once the chain answers the daemon sends READY=1.
post "$sui_admin/fault" '{"kind":"http500","count":-1}' >/dev/null
box systemctl start --no-block k3s-daas.service
wait_for 30 "STATUS= while activating" sh -c "[ \"\$(bash '$boxsh' exec '$name' systemctl show -p StatusText --value k3s-daas)\" != '' ]"
[ "$(prop ActiveState)" = activating ] || fail "not activating while the chain fails: $(prop ActiveState)"
status_text=$(prop StatusText)
post "$sui_admin/clear-faults" '{}' >/dev/null
wait_for 60 "active (running)" state_is active/running
box systemctl status k3s-daas --no-pager >"$work/status.txt" 2>&1 || true
grep -q 'Active: active (running)' "$work/status.txt" || { cat "$work/status.txt"; fail "systemctl status"; }
grep -q 'Status: "' "$work/status.txt" || { cat "$work/status.txt"; fail "systemctl status shows no STATUS"; }
wait_for 30 "k3s (fake-k3s) running" sh -c "[ \"\$(bash '$boxsh' exec '$name' sh -c 'pgrep -c -x k3s || true')\" = 1 ]"
ok "activating with STATUS=\"$status_text\" while the chain failed; active (running) after READY=1; status shows \"$(grep 'Status:' "$work/status.txt" | sed 's/^ *//')\""

box journalctl -u k3s-daas -o json --no-pager >"$work/journal.json"
grep -q '"NODE_ID":"box-1"' "$work/journal.json" || fail "no NODE_ID field in the journal"
grep -q '"COMPONENT":"' "$work/journal.json" || fail "no COMPONENT field in the journal"
ok "journald holds NODE_ID=box-1 and COMPONENT ($(grep -o '"COMPONENT":"[a-z]*"' "$work/journal.json" | sort -u | tr '\n' ' '))"

# ---------------------------------------------------------------- restart keeps a container
sock=/run/k3s-daas/containerd/containerd.sock
mkdir -p "$root/var/tmp/c1/usr" "$root/var/tmp/c1/proc" "$root/var/tmp/c1/dev" "$root/var/tmp/c1/sys" "$root/var/tmp/c1/tmp"
for l in bin lib lib64 sbin; do ln -sfn "usr/$l" "$root/var/tmp/c1/$l"; done
# --cpu-shares 0: the box's cgroup v2 has no cpu controller on a hybrid-cgroup host. The
# container's cgroup is under kubepods, where the kubelet puts pods' containers.
box ctr --address $sock -n k8s.io run -d --net-host --cpu-shares 0 --cgroup kubepods/besteffort/c1 --mount type=bind,src=/usr,dst=/usr,options=rbind:ro \
  --rootfs /var/tmp/c1 c1 /bin/sleep 3600 >/dev/null || fail "ctr run"
task_pid() { box ctr --address $sock -n k8s.io task ls 2>/dev/null | awk '$1=="c1" && $3=="RUNNING"{print $2}'; }
wait_for 10 "container c1 running" sh -c "[ -n \"\$(bash '$boxsh' exec '$name' ctr --address $sock -n k8s.io task ls 2>/dev/null | awk '\$1==\"c1\" && \$3==\"RUNNING\"')\" ]"
c1=$(task_pid)
main1=$(prop MainPID)
box systemctl restart k3s-daas.service
wait_for 60 "active after restart" state_is active/running
[ "$(prop MainPID)" != "$main1" ] || fail "restart kept the same MainPID"
wait_for 20 "c1 visible to the new containerd" sh -c "[ -n \"\$(bash '$boxsh' exec '$name' ctr --address $sock -n k8s.io task ls 2>/dev/null | awk '\$1==\"c1\" && \$3==\"RUNNING\"')\" ]"
[ "$(task_pid)" = "$c1" ] || fail "the container's task changed across the restart ($c1 -> $(task_pid))"
box kill -0 "$c1" || fail "the container's process $c1 is gone"
[ "$(count containerd)" = 1 ] || fail "$(count containerd) containerd after restart"
ok "systemctl restart: container c1 still RUNNING (pid $c1) through the new containerd; one containerd"

# ---------------------------------------------------------------- exit 78 is not restarted
cp "$root/etc/k3s-daas/config.json" "$work/config.good"
box systemctl stop k3s-daas.service
sed -i 's/"poll_interval_ms": 500/"poll_interval_ms": "soon"/' "$root/etc/k3s-daas/config.json"
box systemctl start k3s-daas.service >/dev/null 2>&1 || true
wait_for 20 "failed after the broken config" state_is failed/failed
[ "$(prop ExecMainStatus)" = 78 ] || fail "exit status $(prop ExecMainStatus), expected 78"
restarts=$(prop NRestarts); sleep 7
[ "$(prop ActiveState)" = failed ] && [ "$(prop NRestarts)" = "$restarts" ] || fail "exit 78 was restarted"
cp "$work/config.good" "$root/etc/k3s-daas/config.json"
box systemctl reset-failed k3s-daas.service
box systemctl start k3s-daas.service
wait_for 60 "active with the config fixed" state_is active/running
ok "a broken config: failed with status 78 and not restarted (7 s > RestartSec); starts again once fixed"

# ---------------------------------------------------------------- SIGSTOP -> watchdog
wait_for 20 "one k3s" sh -c "[ \"\$(bash '$boxsh' exec '$name' sh -c 'pgrep -c -x k3s || true')\" = 1 ]"
[ "$(prop WatchdogUSec)" = 6s ] || fail "WatchdogUSec=$(prop WatchdogUSec)"
main2=$(prop MainPID); restarts=$(prop NRestarts)
box kill -STOP "$main2"
wait_for 40 "the watchdog restart" sh -c "[ \"\$(bash '$boxsh' exec '$name' systemctl show -p NRestarts --value k3s-daas)\" -gt $restarts ]"
wait_for 60 "active after the watchdog restart" state_is active/running
# (to a file first: grep -q closing the pipe early would fail journalctl under pipefail)
box journalctl -u k3s-daas --no-pager -o cat > "$work/journal-watchdog.txt"
grep -q 'Watchdog timeout' "$work/journal-watchdog.txt" || fail "no 'Watchdog timeout' in the journal"
grep -q 'signing key: systemd credential' "$work/journal-watchdog.txt" || fail "the key was not read from \$CREDENTIALS_DIRECTORY"
wait_for 30 "one containerd and one k3s after the takeover" sh -c \
  "[ \"\$(bash '$boxsh' exec '$name' sh -c 'echo \$(pgrep -c -x containerd) \$(pgrep -c -x k3s)')\" = '1 1' ]"
sleep 3
[ "$(count containerd)/$(count k3s)" = 1/1 ] || fail "after the watchdog restart: $(count containerd) containerd, $(count k3s) k3s"
[ "$(task_pid)" = "$c1" ] || fail "container c1 lost across the watchdog restart"
box rm -f /core
ok "SIGSTOP: watchdog timeout -> SIGABRT and restart (pid $main2 -> $(prop MainPID)); the earlier run's k3s and containerd taken over: 1 containerd, 1 k3s, c1 still RUNNING"

# ---------------------------------------------------------------- dpkg -i of a newer build
main3=$(prop MainPID); since3=$(prop ActiveEnterTimestampMonotonic)
box dpkg -i "/debs2/$(basename "$deb2")" >"$work/dpkg2.log" 2>&1 || { cat "$work/dpkg2.log"; fail "dpkg -i of $version2"; }
grep -q "was NOT restarted" "$work/dpkg2.log" || { cat "$work/dpkg2.log"; fail "the upgrade did not say how to restart"; }
[ "$(box dpkg-query -W -f='${Version}' k3s-daas)" = "$version2" ] || fail "not upgraded"
sleep 2
[ "$(prop MainPID)" = "$main3" ] && [ "$(prop ActiveEnterTimestampMonotonic)" = "$since3" ] || fail "the upgrade restarted the agent"
ok "dpkg -i $version2 while running: same MainPID $main3, not restarted, restart hint printed"

# ---------------------------------------------------------------- remove stops it, leaves nothing
box env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q k3s-daas >"$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "apt-get remove"; }
[ "$(prop ActiveState)" != active ] || fail "still active after remove"
left=$(box sh -c 'pgrep -a -x "k3s-daas|containerd|k3s|containerd-shim|containerd-shim-runc-v2" || true')
[ -z "$left" ] || fail "processes left after apt-get remove: $left"
container_left=$(box sh -c "pgrep -a -f '^/bin/sleep 3600' || true")
[ -z "$container_left" ] || fail "the pod's container is left after apt-get remove: $container_left"
ok "apt-get remove: stopped; no agent, containerd, k3s, shim or container left"

# ---------------------------------------------------------------- reinstall, slash
box env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/debs2/$(basename "$deb2")" >"$work/apt2.log" 2>&1 || { cat "$work/apt2.log"; fail "reinstall"; }
[ "$(prop ActiveState)" = inactive ] || fail "reinstall started the unit"
box systemctl start k3s-daas.service
wait_for 60 "active after reinstall" state_is active/running
restarts=$(prop NRestarts)
post "$sui_admin/slash" '{"node_id":"box-1","all":true,"reason":"systemd test"}' | grep -q '"status":"success"' || fail "slash on the stand-in"
wait_for 60 "failed after the slash" state_is failed/failed
[ "$(prop ExecMainStatus)" = 79 ] || fail "exit status $(prop ExecMainStatus) after the slash, expected 79"
sleep 7
[ "$(prop ActiveState)" = failed ] && [ "$(prop NRestarts)" = "$restarts" ] || fail "a slashed agent was restarted"
box test -f /var/lib/k3s-daas/slashed || fail "no slashed marker"
[ "$(count containerd)/$(count k3s)" = 0/0 ] || fail "the teardown left containerd or k3s"
box systemctl start k3s-daas.service >/dev/null 2>&1 || true
wait_for 20 "failed again" state_is failed/failed
[ "$(prop ExecMainStatus)" = 79 ] || fail "start with the marker: $(prop ExecMainStatus)"
box journalctl -u k3s-daas --no-pager -n 30 > "$work/journal-marker.txt"
grep -q 'slashing clear' "$work/journal-marker.txt" || fail "the journal does not name 'slashing clear'"
box k3s-daas slashing clear --yes >/dev/null || fail "slashing clear"
box systemctl reset-failed k3s-daas.service
box systemctl start k3s-daas.service >/dev/null 2>&1 || true
wait_for 30 "failed after clear (the chain still shows SLASHED)" state_is failed/failed
[ "$(prop ExecMainStatus)" = 79 ] || fail "after slashing clear: $(prop ExecMainStatus)"
box test -f /var/lib/k3s-daas/slashed || fail "no new marker from the chain's evidence"
ok "slash: failed with status 79, not restarted; systemctl start stays 79 (marker); after slashing clear the chain's SLASHED record gives 79 and a new marker"

# ---------------------------------------------------------------- purge keeps key, marker, journal
box test -f /var/lib/k3s-daas/sui-journal.json || fail "no transaction journal before purge"
box env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q k3s-daas >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "apt-get purge"; }
for f in /etc/k3s-daas/sui.key /var/lib/k3s-daas/slashed /var/lib/k3s-daas/sui-journal.json /var/lib/k3s-daas/stake.json; do
  box test -e "$f" || fail "purge deleted $f"
done
box test -e /etc/k3s-daas/config.json && fail "purge kept config.json"
box test -e /var/lib/k3s-daas/runtime-status.json && fail "purge kept runtime-status.json"
box test -e /usr/bin/k3s-daas && fail "purge left the binary"
ok "apt-get purge: config and runtime state gone; sui.key, slashed marker, sui-journal.json and stake.json kept"
