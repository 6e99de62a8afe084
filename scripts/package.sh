#!/usr/bin/env bash
# Builds the Debian package: k3s-daas_<version>-<rev>_<arch>.deb and k3s-daas-dbgsym_..._<arch>.ddeb,
# then runs lintian on them. Debian's hardening flags (dpkg-buildflags), RelWithDebInfo (the
# debug symbols go to the -dbgsym package; the binary in the .deb is stripped), Depends computed
# by dpkg-shlibdeps from the binary (CPack's CPACK_DEBIAN_PACKAGE_SHLIBDEPS).
#
#   scripts/package.sh [--build-dir DIR] [--revision N] [--out DIR] [--no-lintian] [--jobs N]
#
# Defaults: --build-dir build-pkg, --revision 1, --out <build-dir>/deb. Prints the .deb's path last.
# packaging/README.md explains the choices.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

build_dir=build-pkg; revision=1; out=""; lintian=1; jobs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift ;;
    --revision) revision="$2"; shift ;;
    --out) out="$2"; shift ;;
    --no-lintian) lintian=0 ;;
    --jobs) jobs="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "package.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
out=${out:-$build_dir/deb}

for tool in cmake cpack dpkg-shlibdeps dpkg-deb fakeroot; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool is missing (apt-get install dpkg-dev fakeroot cmake)" >&2; exit 1; }
done

# Debian's flags: -fstack-protector-strong, _FORTIFY_SOURCE, -Wformat-security, relro and
# -ffile-prefix-map (no build path in the binary). CMake ignores CPPFLAGS, so fold them in.
eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
export CFLAGS="$CPPFLAGS $CFLAGS" CXXFLAGS="$CPPFLAGS $CXXFLAGS" LDFLAGS="$LDFLAGS"
# The changelog's date: the commit's, so two builds of one commit give the same package.
SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DK3S_DAAS_BENCH=OFF -DK3S_DAAS_TESTS=OFF -DK3S_DAAS_PACKAGING=ON -DK3S_DAAS_DEB_REVISION="$revision" >/dev/null
cmake --build "$build_dir" -j"$jobs" --target k3s-daas k3s-daas-docs

mkdir -p "$out"
out=$(cd "$out" && pwd)
(cd "$build_dir" && cpack -G DEB -B "$out" -D CPACK_DEBIAN_PACKAGE_RELEASE="$revision" >"$out/cpack.log" 2>&1) \
  || { cat "$out/cpack.log" >&2; echo "package.sh: cpack failed" >&2; exit 1; }
rm -rf "$out/_CPack_Packages"
version=$(sed -n 's/^project(k3s-daas VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
arch=$(dpkg --print-architecture)
deb="$out/k3s-daas_${version}-${revision}_${arch}.deb"
[ -f "$deb" ] || { ls -l "$out" >&2; echo "package.sh: $deb was not produced" >&2; exit 1; }

# CPack 3.25 writes the -dbgsym package's md5sums with its staging folder's absolute path, and
# gives it no /usr/share/doc. Repack it as debhelper would: relative md5sums, and the doc folder
# as a symlink to k3s-daas's (the ddeb depends on k3s-daas of the same version).
for ddeb in "$out"/k3s-daas-dbgsym_*.ddeb; do
  [ -f "$ddeb" ] || continue
  tmp=$(mktemp -d)
  dpkg-deb -R "$ddeb" "$tmp/pkg"
  mkdir -p "$tmp/pkg/usr/share/doc"
  ln -sfn k3s-daas "$tmp/pkg/usr/share/doc/k3s-daas-dbgsym"
  (cd "$tmp/pkg" && find usr -type f -print0 | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
  dpkg-deb --root-owner-group -Zxz -b "$tmp/pkg" "$ddeb" >/dev/null
  rm -rf "$tmp"
done

echo "package.sh: $(dpkg-deb -f "$deb" Package Version Depends | tr '\n' ' ')"
if [ $lintian -eq 1 ]; then
  if command -v lintian >/dev/null; then
    # The suppressed tags are justified one by one in packaging/README.md.
    lintian --fail-on error,warning --suppress-tags-from-file "$root/packaging/lintian-suppressions" \
      "$deb" "$out"/k3s-daas-dbgsym_*.ddeb && echo "package.sh: lintian clean"
  else
    echo "package.sh: lintian not installed: skipped (apt-get install lintian)"
  fi
fi
echo "$deb"
