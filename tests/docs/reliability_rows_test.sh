#!/usr/bin/env bash
# Every test named in docs/reliability.md's tables (the last column, in backticks) must exist in
# this build's ctest list, so the reliability table cannot name tests that are gone.
# Usage: reliability_rows_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
doc="$1/docs/reliability.md"; build="$2"
[ -f "$doc" ] || { echo "missing $doc"; exit 1; }
known=$(ctest --test-dir "$build" -N | sed -n 's/.*Test *#[0-9]*: //p')
rows=0; bad=0
while IFS= read -r line; do
  last=${line%|}; last=${last##*|}
  names=$(grep -oE '`[A-Za-z0-9_.-]+`' <<<"$last" | tr -d '`')
  [ -n "$names" ] || { echo "a row names no test: $line"; bad=1; continue; }
  rows=$((rows + 1))
  for n in $names; do
    grep -qx "$n" <<<"$known" || { echo "docs/reliability.md names test '$n', which does not exist"; bad=1; }
  done
done < <(grep -E '^\| ' "$doc" | grep -vE '^\| what was tried|^\|---')
echo "$rows rows checked"
[ $rows -ge 10 ] || { echo "fewer rows than expected: the table was not parsed"; bad=1; }
exit $bad
