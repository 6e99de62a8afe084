#!/usr/bin/env bash
# A Debian 12 box booted by a real systemd, for the package and unit tests and for people.
#
#   systemd-box.sh create                 build the cached root file system once (debootstrap)
#   systemd-box.sh boot NAME [--bind HOST:BOX]...
#                                         copy the cached root to a fresh one and boot it
#   systemd-box.sh exec NAME CMD...       run CMD inside the booted box (nsenter into all namespaces)
#   systemd-box.sh shell NAME             an interactive shell in the box
#   systemd-box.sh root NAME              print the box's root folder on the host
#   systemd-box.sh stop NAME [--now]      power the box off (--now: kill it) and delete its root
#   systemd-box.sh check                  exit 0 when this machine can boot a box (prints why not)
#
# The cached root lives OUTSIDE the git clone ($K3S_DAAS_BOX_CACHE, default
# /var/cache/k3s-daas-box) so every checkout and CI run on the machine reuses it; it is rebuilt
# when the package list below changes. Running boxes live under $K3S_DAAS_BOX_RUN (default
# /var/tmp/k3s-daas-box), one folder per NAME. The box shares the host's network (the stand-ins on
# 127.0.0.1 are reachable from inside). Needs root, debootstrap and systemd-container.
set -euo pipefail

cache=${K3S_DAAS_BOX_CACHE:-/var/cache/k3s-daas-box}
run_base=${K3S_DAAS_BOX_RUN:-/var/tmp/k3s-daas-box}
suite=bookworm
# What the box holds besides debootstrap's minbase: a booting systemd and what the agent runs.
box_packages=(systemd systemd-sysv dbus containerd runc procps iproute2 ca-certificates)
layout_version=1
key=$(printf '%s\n' "$suite" "$layout_version" "${box_packages[@]}" | sha256sum | cut -c1-12)
base="$cache/$suite-$key"

die() { echo "systemd-box: $*" >&2; exit 1; }
log() { echo "systemd-box: $*" >&2; }

mirror() {  # the Debian mirror this host uses (deb822 or one-line sources), else deb.debian.org
  local m=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/{u=$2} /^Suites:/{ if ($0 ~ /(^| )'"$suite"'( |$)/ && u!="") {print u; exit} }' \
      /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
    m=$(awk '$1=="deb" && $3=="'"$suite"'" {print $2; exit}' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

check() {
  [ "$(id -u)" -eq 0 ] || { echo "needs root"; return 1; }
  command -v systemd-nspawn >/dev/null || { echo "systemd-nspawn missing (apt-get install systemd-container)"; return 1; }
  command -v nsenter >/dev/null || { echo "nsenter missing (util-linux)"; return 1; }
  if [ ! -e "$base/.complete" ]; then
    command -v debootstrap >/dev/null || { echo "debootstrap missing and no cached root in $base"; return 1; }
  fi
  [ -d /sys/fs/cgroup ] || { echo "no cgroup file system"; return 1; }
  return 0
}

create() {
  [ "$(id -u)" -eq 0 ] || die "needs root"
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9
  if [ -e "$base/.complete" ]; then echo "$base"; return 0; fi
  command -v debootstrap >/dev/null || die "debootstrap missing (apt-get install debootstrap)"
  local m; m=$(mirror)
  log "creating $base from $m (one time; takes a few minutes)"
  rm -rf "$base.tmp"
  local inc; inc=$(IFS=,; echo "${box_packages[*]}")
  debootstrap --variant=minbase --include="$inc" "$suite" "$base.tmp" "$m" >"$cache/debootstrap.log" 2>&1 \
    || { tail -30 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
  # The host's sources (updates and security as well) so the box's packages match the host's.
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$base.tmp/etc/apt/sources.list.d/debian.sources"
    : > "$base.tmp/etc/apt/sources.list"
  fi
  chroot "$base.tmp" apt-get update -qq >>"$cache/debootstrap.log" 2>&1 || log "apt-get update in the box failed (continuing)"
  # Debian's containerd enables its own service; the agent starts its own containerd.
  chroot "$base.tmp" systemctl disable containerd.service >/dev/null 2>&1 || true
  # Nothing in the box needs these; masking them makes boots faster and quieter.
  for u in systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
           fstrim.timer dpkg-db-backup.timer man-db.timer systemd-networkd-wait-online.service; do
    chroot "$base.tmp" systemctl mask "$u" >/dev/null 2>&1 || true
  done
  echo "k3s-daas-box" > "$base.tmp/etc/hostname"
  printf '127.0.0.1\tlocalhost k3s-daas-box\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$base.tmp/etc/hosts"
  : > "$base.tmp/etc/machine-id"   # a new id per boot (systemd writes a transient one)
  chroot "$base.tmp" apt-get clean
  touch "$base.tmp/.complete"
  mv "$base.tmp" "$base"
  # Older roots of other package lists are no longer used.
  for old in "$cache/$suite"-*; do
    [ "$old" = "$base" ] || [ ! -d "$old" ] || rm -rf "$old"
  done
  log "cached root ready: $base"
  echo "$base"
}

box_dir() { [ -n "${1:-}" ] || die "a box NAME is needed"; echo "$run_base/$1"; }

leader_pid() {  # pid (on the host) of the box's systemd, from the nspawn pid
  local dir="$1" np c
  np=$(cat "$dir/nspawn.pid" 2>/dev/null) || return 1
  [ -d "/proc/$np" ] || return 1
  for c in $(cat /proc/"$np"/task/*/children 2>/dev/null); do
    if awk '/^NSpid:/{exit !($NF==1 && NF>2)}' "/proc/$c/status" 2>/dev/null; then echo "$c"; return 0; fi
  done
  return 1
}

in_box() {  # in_box DIR CMD...: run CMD in every namespace of the box, with a clean environment
  local pid; pid=$(leader_pid "$1") || die "box $(basename "$1") is not running"
  shift
  nsenter -t "$pid" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM="${TERM:-dumb}" "$@"
}

boot() {
  local name="$1"; shift
  local dir; dir=$(box_dir "$name")
  local binds=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --bind) binds+=("--bind=$2"); shift ;;
      --bind-ro) binds+=("--bind-ro=$2"); shift ;;
      *) die "boot: unknown option $1" ;;
    esac
    shift
  done
  check >/dev/null || die "cannot boot a box here: $(check)"
  local src; src=$(create)
  if leader_pid "$dir" >/dev/null; then die "box $name is already running (stop it first)"; fi
  rm -rf "$dir"
  mkdir -p "$dir"
  local t0; t0=$(date +%s.%N)
  cp -a "$src" "$dir/root"
  # Containers in the box: cgroup v2 inside even on a hybrid host, the keyring calls runc makes,
  # bpf for the device cgroup, and the host's network (nspawn drops CAP_NET_ADMIN, so containers
  # use host networking).
  SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 setsid systemd-nspawn --quiet --boot --register=no --keep-unit \
    --machine="k3s-daas-box-$name" --directory="$dir/root" --console=passive --link-journal=no \
    --resolv-conf=copy-host --timezone=off \
    --system-call-filter='add_key keyctl request_key bpf' \
    "${binds[@]}" </dev/null >"$dir/nspawn.log" 2>&1 &
  echo $! > "$dir/nspawn.pid"
  local state="" i
  for i in $(seq 1 600); do
    if leader_pid "$dir" >/dev/null; then
      state=$(in_box "$dir" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running|degraded) break ;; esac
    elif ! kill -0 "$(cat "$dir/nspawn.pid")" 2>/dev/null; then
      cat "$dir/nspawn.log" >&2; die "systemd-nspawn exited while booting $name"
    fi
    sleep 0.1
  done
  case "$state" in
    running) ;;
    degraded) log "box $name is degraded: $(in_box "$dir" systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')" ;;
    *) cat "$dir/nspawn.log" >&2; die "box $name did not reach running (state: ${state:-none})" ;;
  esac
  log "box $name running ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s to copy and boot; root $dir/root)"
}

stop() {  # stop NAME [--now]: power off (30 s at most), or with --now kill the box at once
  local dir; dir=$(box_dir "$1")
  local now=0; [ "${2:-}" = "--now" ] && now=1
  local np; np=$(cat "$dir/nspawn.pid" 2>/dev/null || true)
  local leader; leader=$(leader_pid "$dir" 2>/dev/null || true)
  if [ -n "$np" ] && kill -0 "$np" 2>/dev/null; then
    if [ $now -eq 0 ] && [ -n "$leader" ]; then
      nsenter -t "$leader" -a systemctl poweroff --no-block >/dev/null 2>&1 || true
      local i
      for i in $(seq 1 300); do kill -0 "$np" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$np" 2>/dev/null && log "box $1 did not power off in 30 s; killing it"
    fi
    # SIGKILL to the box's pid 1 ends every process of its pid namespace (nested ones too).
    [ -n "$leader" ] && kill -KILL "$leader" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do kill -0 "$np" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$np" 2>/dev/null || true
  fi
  # Anything mounted below the root (a crashed box) would make rm fail; lazy-unmount it first.
  if [ -d "$dir/root" ]; then
    { findmnt -rn -o TARGET | grep -F "$dir/root" || true; } | sort -r | while read -r mnt; do umount -l "$mnt" || true; done
  fi
  rm -rf "$dir"
}

cmd="${1:-}"; [ $# -gt 0 ] && shift
case "$cmd" in
  create) create ;;
  check) msg=$(check) && exit 0; echo "$msg"; exit 1 ;;
  boot) [ $# -ge 1 ] || die "usage: boot NAME [--bind HOST:BOX]..."; boot "$@" ;;
  exec) [ $# -ge 2 ] || die "usage: exec NAME CMD..."; d=$(box_dir "$1"); shift; in_box "$d" "$@" ;;
  shell) d=$(box_dir "${1:-}"); in_box "$d" /bin/bash -l ;;
  root) d=$(box_dir "${1:-}"); echo "$d/root" ;;
  stop) stop "${1:-}" "${2:-}" ;;
  -h|--help|help|"") sed -n '2,17p' "$0" ;;
  *) die "unknown command $cmd (see --help)" ;;
esac
