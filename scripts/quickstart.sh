#!/usr/bin/env bash
# From a fresh Debian 12 machine to a working agent: installs the dependencies, builds
# k3s-daas, and runs it against the local peers (tests/peers): the Sui stand-in and the
# Nautilus master stand-in. Everything happens under a temporary folder and on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

echo "== installing dependencies"
bash scripts/install-deps.sh
bash scripts/npm-peers.sh

echo "== building"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target k3s-daas fake-k3s
agent="$root/build/k3s-daas"

work=$(mktemp -d /tmp/k3s-daas-quickstart-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

echo "== a config of your own ($work/config.json)"
"$agent" --config "$work/config.json" config init --node-id quickstart-1
"$agent" --config "$work/config.json" config validate

if [ -x scripts/quickstart-e2e.sh ]; then
  echo "== end to end against the local peers"
  AGENT="$agent" WORK="$work" FAKE_K3S="$(find "$root/build" -name fake-k3s -type f -executable | head -1)" \
    bash scripts/quickstart-e2e.sh
fi
echo "== done"
