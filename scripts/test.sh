#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. installs missing Debian packages and the Node.js test peers' packages,
#   2. builds and runs the in-process unit tests under AddressSanitizer + UBSan,
#   3. builds the libFuzzer targets with clang and runs each briefly (when clang exists),
#   4. builds the project and runs every test with ctest (its summary line closes the output).
# Exit status: ctest's for the full run, or the first failing stage's.
# Options: --quick (skip 2 and 3), --sanitize (only 2), --fuzz-seconds N (per target; default:
# scripts/fuzz.sh's, 80 s over all targets).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=0; only_sanitize=0; fuzz_seconds=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --sanitize) only_sanitize=1 ;;
    --fuzz-seconds) fuzz_seconds="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

step() { echo; echo "=== test.sh: $* ==="; }
jobs=$(nproc 2>/dev/null || echo 2)
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
# ccache (installed by install-deps.sh) makes the three builds below share what they can and a
# second run cheap; without it the builds are the same, only slower.
if command -v ccache >/dev/null 2>&1; then
  generator+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  # Paths relative to the checkout, so another clone of the same tree (CI's) reuses the cache.
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
fi

step "dependencies"
bash scripts/install-deps.sh || { echo "test.sh: installing dependencies failed" >&2; exit 1; }
bash scripts/npm-peers.sh || { echo "test.sh: installing the Node.js test peers failed" >&2; exit 1; }

status=0
if [ $quick -eq 0 ]; then
  step "sanitizer build (AddressSanitizer + UndefinedBehaviorSanitizer): in-process unit tests"
  cmake -S . -B build-asan "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug -DK3S_DAAS_SANITIZE=ON -DK3S_DAAS_BENCH=OFF >/dev/null \
    && cmake --build build-asan -j"$jobs" --target sanitize-tests \
    && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
       ctest --test-dir build-asan -L sanitize --output-on-failure -j"$jobs" --no-tests=error
  status=$?
  [ $status -ne 0 ] && echo "test.sh: the sanitizer stage failed" >&2
  [ $only_sanitize -eq 1 ] && exit $status

  step "fuzz targets (libFuzzer, scripts/fuzz.sh${fuzz_seconds:+, ${fuzz_seconds}s each})"
  # shellcheck disable=SC2086
  FUZZ_BUILD_JOBS="$jobs" bash scripts/fuzz.sh $fuzz_seconds
  fuzz_status=$?
  if [ $fuzz_status -ne 0 ]; then echo "test.sh: the fuzz stage failed" >&2; status=1; fi
fi

step "build"
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build build -j"$jobs" || { echo "test.sh: the build failed" >&2; exit 1; }

step "all tests"
ctest --test-dir build --output-on-failure -j"$jobs" --no-tests=error
ctest_status=$?
# Every test's output (the agent's logs and the peers') must be free of keys and tokens.
if ! bash scripts/scan-secrets.sh build/Testing/Temporary/LastTest.log; then
  echo "test.sh: a secret appeared in the test logs" >&2; status=1
fi
if [ $ctest_status -ne 0 ]; then exit $ctest_status; fi
exit $status
