#!/usr/bin/env bash
# Installs the Node.js packages of the local test peers (tests/peers) from the lock file.
# Cheap when nothing changed: compares the lock file with the one npm recorded.
set -euo pipefail
cd "$(dirname "$0")/../tests/peers"
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.package-lock.json 2>/dev/null; then
  exit 0
fi
if [ -d node_modules/@mysten/sui ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  exit 0
fi
# `npm install` (not `npm ci`): npm 11's ci refuses this lock file over the optional,
# platform-specific cbor-extract packages it never records; install still follows the lock.
npm install --no-audit --no-fund --loglevel=error
