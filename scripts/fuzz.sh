#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang, build dir build-fuzz) and runs each one.
# Usage: scripts/fuzz.sh [--grow] [--no-build] [--big] [SECONDS] [TARGET...]
#   SECONDS   per target (default: 80 / number of targets, so that a full run fuzzes <= 80 s in CI)
#   TARGET    run only these (names as in tests/fuzz/CMakeLists.txt, e.g. seal_token_fuzz)
#   --grow    merge the new inputs that add coverage into tests/fuzz/corpus/<target> (-merge=1),
#             keeping at most 200 files per target; without it the repository is never written
#   --no-build  use the binaries already in build-fuzz
#   --big     instead of fuzzing, run each target once on every input of build-fuzz/big/: inputs
#             of 16 kB to 2 MB that libFuzzer's default length (4 kB) never reaches (nesting
#             500,000 deep, secret-shaped runs of 1 MB, 100,000 keys, ...); prints "big <t>: ok (N inputs,
#             slowest S ms)". Found stack overflows the fuzzers could not (docs/fuzzing.md).
# Seeds: tests/fuzz/corpus/<target>/, the older seed folders of config and Sui answers, and
# ../shared/testdata where it has samples (skipped with a message when ../shared is absent).
# Inputs found while fuzzing stay in build-fuzz/corpus/<target>/ (the working corpus).
# Prints one line per target: "fuzz <t>: ok (runs R, cov N, ft M, corpus K, cpu S s)". Any crash,
# leak, timeout or out-of-memory fails the run, names the input kept under
# build-fuzz/crashes/<target>/ and shows how to replay it. Environment: FUZZ_BUILD_JOBS (default
# nproc). Run it under `nice -n 19` on a shared machine. See docs/fuzzing.md.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

grow=0; build=1; big=0; seconds=""; wanted=()
while [ $# -gt 0 ]; do
  case "$1" in
    --grow) grow=1 ;;
    --no-build) build=0 ;;
    --big) big=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *)
      if [ -z "$seconds" ] && [ ${#wanted[@]} -eq 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
        seconds="$1"
      else
        wanted+=("$1")
      fi ;;
  esac
  shift
done

max_corpus_files=200
bdir=build-fuzz

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz.sh: clang++ not found: fuzz targets skipped"
  exit 0
fi

if [ $build -eq 1 ]; then
  generator=()
  command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
  if command -v ccache >/dev/null 2>&1; then
    generator+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
  fi
  if ! cmake -S . -B "$bdir" "${generator[@]}" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
       -DCMAKE_BUILD_TYPE=RelWithDebInfo -DK3S_DAAS_FUZZ=ON -DK3S_DAAS_TESTS=ON -DK3S_DAAS_BENCH=OFF >/dev/null; then
    echo "fuzz.sh: could not configure the fuzz build ($bdir)" >&2
    exit 1
  fi
fi

all=$(cmake --build "$bdir" --target help 2>/dev/null | sed -n 's/^\([a-z0-9_]*_fuzz\):.*/\1/p' | sort -u)
if [ -z "$all" ]; then
  echo "fuzz.sh: no fuzz targets in $bdir (configured with clang and -DK3S_DAAS_FUZZ=ON?)" >&2
  exit 1
fi
if [ ${#wanted[@]} -gt 0 ]; then
  for t in "${wanted[@]}"; do
    if ! grep -qx "$t" <<<"$all"; then
      echo "fuzz.sh: no fuzz target $t (there are: $(echo $all))" >&2
      exit 2
    fi
  done
  targets="${wanted[*]}"
else
  targets=$(echo $all)
fi
count=$(wc -w <<<"$targets")
[ -z "$seconds" ] && seconds=$(( 80 / $(wc -w <<<"$all") ))
[ "$seconds" -lt 1 ] && seconds=1

if [ $build -eq 1 ]; then
  # shellcheck disable=SC2086
  if ! cmake --build "$bdir" -j"${FUZZ_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}" --target $targets >"$bdir/fuzz-build.log" 2>&1; then
    tail -40 "$bdir/fuzz-build.log" >&2
    echo "fuzz.sh: building the fuzz targets failed (log: $bdir/fuzz-build.log)" >&2
    exit 1
  fi
fi

# --big: the large inputs, made here (nothing large is kept in the repository).
make_big_inputs() {
  local d="$1" mb=1048576
  mkdir -p "$d"
  run() { head -c "$1" /dev/zero | tr '\0' "$2"; }        # $1 copies of the byte $2
  lines() { yes "$2" | head -n "$1" | tr -d '\n'; }        # $1 copies of the text $2
  run $((2 * mb)) 'A' >"$d/letters-2mb"
  { run 500000 '['; run 500000 ']'; } >"$d/json-nested-arrays"
  { lines 100000 '{"a":'; printf 0; run 100000 '}'; } >"$d/json-nested-objects"
  { printf '{"error":'; run 300000 '['; run 300000 ']'; printf '}'; } >"$d/json-nested-in-error"
  { printf '['; lines $mb '0,'; printf '0]'; } >"$d/json-array-1m"
  { printf '{'; seq 0 99999 | sed 's/.*/"k&":0/' | paste -sd, | tr -d '\n'; printf '}'; } >"$d/json-object-100k-keys"
  { printf '{"error":"'; lines 200000 '\u0000'; printf '"}'; } >"$d/json-escapes"
  { printf '{"attestation":"'; lines $((mb / 2)) 'ab'; printf '"}'; } >"$d/json-attestation-hex-1mb"
  { printf 'sealv1.'; run $mb 'A'; printf .; run $mb 'B'; } >"$d/seal-token-shape-2mb"
  { printf '{"error":"K10'; run $mb 'f'; printf '::'; run $mb 'x'; printf '"}'; } >"$d/join-token-shape-2mb"
  { printf 'suiprivkey1'; run $mb 'q'; } >"$d/suiprivkey-shape-1mb"
  { printf -- '-----BEGIN CERTIFICATE-----\n'; run $mb 'A'; printf -- '\n-----END CERTIFICATE-----\n'; } >"$d/pem-certificate-1mb"
  # The PEM armour of a private key with a body of only 'A's (no key); the label is assembled so
  # that no key marker stands in this file for secret scanners to flag.
  local label="PRIVATE"" KEY"
  { printf -- '-----BEGIN %s-----\n' "$label"; yes "$(run 64 A)" | head -n 16000; printf -- '-----END %s-----\n' "$label"; } >"$d/pem-private-key-1mb"
  { lines 200000 'vector<'; printf u8; run 200000 '>'; } >"$d/move-type-nested"
  run 16000 '\201' >"$d/cbor-nested-arrays"                 # 0x81: an array of one item, 16,000 deep
  for _ in $(seq 8000); do printf '\241\000'; done >"$d/cbor-nested-maps"  # 0xa1 0x00: a map of one pair
}

if [ $big -eq 1 ]; then
  make_big_inputs "$bdir/big"
  status=0
  for t in $targets; do
    bin="$bdir/tests/fuzz/$t"
    log="$bdir/$t.big.log"
    n=$(find "$bdir/big" -type f | wc -l)
    if ! "$bin" -rss_limit_mb=4096 -timeout=120 "$bdir"/big/* >"$log" 2>&1; then
      tail -30 "$log" >&2
      echo "big $t: FAILED on $(grep -a -o 'Running: [^ ]*' "$log" | tail -1 | cut -d' ' -f2); log $log" >&2
      status=1
      continue
    fi
    slowest=$(grep -a -o 'in [0-9]* ms' "$log" | tr -dc '0-9\n' | sort -n | tail -1)
    echo "big $t: ok ($n inputs, slowest ${slowest:-?} ms)"
  done
  exit $status
fi

# Seed folders of a target besides tests/fuzz/corpus/<target>.
shared_note_done=0
seed_dirs() {
  local t="$1" extra=() shared=()
  case "$t" in
    config_fuzz) extra=(tests/fuzz/corpus/config) ;;
    sui_graphql_fuzz) extra=(tests/fuzz/sui_corpus/graphql) ;;
    sui_jsonrpc_fuzz) extra=(tests/fuzz/sui_corpus/jsonrpc) ;;
    attestation_fuzz) shared=(../shared/testdata/attestation) ;;
    envelope_fuzz) shared=(../shared/testdata/attestation/nautilus) ;;
    pem_fuzz) shared=(../shared/testdata/attestation) ;;
  esac
  if [ ${#shared[@]} -gt 0 ] && [ ! -d ../shared/testdata ] && [ $shared_note_done -eq 0 ]; then
    echo "fuzz.sh: ../shared/testdata is absent: its samples are not used as seeds" >&2
    shared_note_done=1
  fi
  for d in "${extra[@]}" "${shared[@]}"; do [ -d "$d" ] && echo "$d"; done
}

# CPU seconds used by this shell's waited-for children so far (utime + stime, from /proc).
children_cpu_ticks() { awk '{print $16 + $17}' "/proc/$$/stat" 2>/dev/null || echo 0; }
ticks=$(getconf CLK_TCK 2>/dev/null || echo 100)

echo "fuzz.sh: $count target(s), ${seconds}s each"
status=0
for t in $targets; do
  bin="$bdir/tests/fuzz/$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz $t: FAILED: $bin is not built" >&2; status=1; continue
  fi
  work="$bdir/corpus/$t"
  crashes="$bdir/crashes/$t"
  repo="tests/fuzz/corpus/$t"
  mkdir -p "$work" "$crashes"
  dirs=("$work")
  [ -d "$repo" ] && dirs+=("$repo")
  while IFS= read -r d; do [ -n "$d" ] && dirs+=("$d"); done < <(seed_dirs "$t")
  log="$bdir/$t.log"
  before=$(children_cpu_ticks)
  "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  cpu=$(awk -v a="$before" -v b="$(children_cpu_ticks)" -v t="$ticks" 'BEGIN { printf "%.1f", (b - a) / t }')
  if [ $rc -ne 0 ]; then
    found=$(grep -a -o "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/Test unit written to //')
    tail -40 "$log" >&2
    echo "fuzz $t: FAILED (exit $rc): ${found:-no input saved}; log $log" >&2
    [ -n "$found" ] && echo "fuzz $t: replay with: $bin $found" >&2
    status=1
    continue
  fi
  done_line=$(grep -a -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
  runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$done_line")
  cov=$(grep -o 'cov: [0-9]*' <<<"$done_line" | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' <<<"$done_line" | cut -d' ' -f2)
  corp=$(grep -o 'corp: [0-9]*' <<<"$done_line" | cut -d' ' -f2)
  if [ $grow -eq 1 ]; then
    mkdir -p "$repo"
    # Adds to the repository corpus the inputs of the working corpus that add coverage.
    if ! "$bin" -merge=1 -rss_limit_mb=2048 -timeout=30 "$repo" "$work" >"$bdir/$t.merge.log" 2>&1; then
      echo "fuzz $t: merging into $repo failed (log $bdir/$t.merge.log)" >&2; status=1
    fi
    files=$(find "$repo" -maxdepth 1 -type f | wc -l)
    if [ "$files" -gt $max_corpus_files ]; then
      # Too many: grown files (named by their SHA-1, as -merge names them) are replaced by a
      # minimal set covering the same, smallest first; the hand-made seeds always stay.
      min=$(mktemp -d)
      if "$bin" -merge=1 -rss_limit_mb=2048 -timeout=30 "$min" "$repo" >>"$bdir/$t.merge.log" 2>&1; then
        find "$repo" -maxdepth 1 -type f -regextype posix-extended -regex '.*/[0-9a-f]{40}' -delete
        room=$(( max_corpus_files - $(find "$repo" -maxdepth 1 -type f | wc -l) ))
        kept=$(find "$repo" -maxdepth 1 -type f -exec sha1sum {} + | cut -d' ' -f1)
        find "$min" -maxdepth 1 -type f -printf '%s %f\n' | sort -n | cut -d' ' -f2 | while read -r f; do
          grep -qx "$f" <<<"$kept" && continue
          [ "$room" -le 0 ] && break
          cp "$min/$f" "$repo/$f"; room=$((room - 1))
        done
      fi
      rm -rf "$min"
      files=$(find "$repo" -maxdepth 1 -type f | wc -l)
    fi
    echo "fuzz $t: $repo now has $files file(s)"
  fi
  echo "fuzz $t: ok (runs ${runs:-?}, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, cpu ${cpu} s)"
done
exit $status
