#!/usr/bin/env bash
# Scans test logs for secrets in the forms the agent handles: Sui private keys (suiprivkey1...),
# seal tokens (sealv1.<payload>.<signature>) and k3s join tokens (K10<ca-hash>::<user>:<password>).
# None may ever appear in a log: the agent redacts them, and the test peers never print them.
# Usage: scripts/scan-secrets.sh LOG... (exit 1 naming file, line and kind on a find; 0 otherwise)
set -uo pipefail
[ $# -gt 0 ] || { echo "usage: scan-secrets.sh LOG..." >&2; exit 2; }
found=0
scan() {  # kind regex file
  local hits
  hits=$(grep -noE "$2" "$3" 2>/dev/null | head -5)
  if [ -n "$hits" ]; then
    found=1
    # Never print the secret itself: file, line and the first 12 characters only.
    while IFS= read -r hit; do
      line=${hit%%:*}; value=${hit#*:}
      echo "scan-secrets: $3:$line: a $1 (${value:0:12}...)" >&2
    done <<<"$hits"
  fi
}
for log in "$@"; do
  [ -f "$log" ] || { echo "scan-secrets: $log: no such file" >&2; exit 2; }
  scan "Sui private key" 'suiprivkey1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{50,}' "$log"
  scan "seal token" 'sealv1\.[A-Za-z0-9_-]{40,}\.[A-Za-z0-9_-]{40,}' "$log"
  scan "k3s join token" 'K10[0-9a-f]{16,}::[^ "]*:[0-9a-f]{16,}' "$log"
done
if [ $found -eq 0 ]; then echo "scan-secrets: no key, seal token or join token in $*"; fi
exit $found
