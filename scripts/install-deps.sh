#!/usr/bin/env bash
# Installs every Debian 12 package that building and testing k3s-daas needs.
# Idempotent and non-interactive: packages already present are not touched,
# so re-running it costs one dpkg query.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates openssl
  libcurl4-openssl-dev libssl-dev libsodium-dev nlohmann-json3-dev libcbor-dev
  libcli11-dev libspdlog-dev libfmt-dev libsystemd-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  golang-github-containerd-containerd-dev golang-github-gogo-protobuf-dev
  prometheus-cpp-dev doctest-dev
  containerd curl iproute2 procps util-linux
  clang libclang-rt-14-dev
  ccache
  # the systemd tests boot a Debian 12 root under systemd-nspawn; the package is checked by lintian
  systemd-container debootstrap lintian
  # daemon_host_faults steps the daemon's wall clock by hours with libfaketime
  faketime
)
# Node.js runs the local test peers. Some images ship a newer Node.js of their own;
# only install Debian's when none is on the PATH.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The containerd package enables its own system service; the agent and the tests start
# containerd themselves with private sockets, so the system one stays off.
if [ -d /run/systemd/system ] && systemctl is-enabled containerd >/dev/null 2>&1; then
  $SUDO systemctl disable --now containerd >/dev/null 2>&1 || true
fi
echo "install-deps: done"
