#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Build tlsfin's Debian packages from a copy of a source tree and test them
# (tests/debian/test_debs.sh: install, check, remove).  A CI step: quiet on
# success (a line of timings), the failing step's log on failure.
#
#   tests/debian/build_and_test.sh [--lintian] [SRC]
#
# SRC (default: the tree holding this script) is a git work tree.  The copy,
# under a fresh directory in /tmp, is `git archive HEAD` overlaid with the
# work tree's files (tracked and untracked, not ignored, so uncommitted
# changes and new files count; files deleted in the work tree are deleted),
# so nothing is built or left inside SRC.  --lintian also runs lintian on the
# result (reported, never fatal).  Needs root (to install the packages) and
# the build dependencies of debian/control (dpkg-checkbuilddeps names any that
# are missing).
#
# The eBPF collector needs the build machine's kernel BTF
# (/sys/kernel/btf/vmlinux), libbpf-dev, bpftool and clang; where any is
# missing the build uses profile pkg.tlsfin.nobpf and says so.  Environment:
# DEB_BUILD_PROFILES (as given, when set), DEB_BUILD_OPTIONS (e.g. nocheck),
# KEEP=1 (keep the work directory after success).
set -euo pipefail
export LC_ALL=C.UTF-8

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lintian=0
if [[ ${1:-} == --lintian ]]; then lintian=1; shift; fi
src=$(cd "${1:-$here/../..}" && pwd)

die() { echo "build_and_test: $*" >&2; exit 1; }
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

for t in git dpkg-buildpackage dpkg-checkbuilddeps dh; do
  command -v "$t" >/dev/null ||
    die "$t not found: apt-get install -y debhelper devscripts dpkg-dev git"
done
git -C "$src" rev-parse --git-dir >/dev/null 2>&1 || die "$src is not a git work tree"
[[ -f $src/debian/control ]] || die "$src/debian/control not found"
(($(id -u) == 0)) || die "needs root (test_debs.sh installs the packages)"

version=$(cd "$src" && dpkg-parsechangelog -SVersion)
upstream=${version#*:}; upstream=${upstream%-*}
work=$(mktemp -d /tmp/tlsfin-deb.XXXXXX)
tree=$work/tlsfin-$upstream
ok=0
finish() {
  local rc=$?
  if ((rc == 0 && ok)) && [[ ${KEEP:-0} != 1 ]]; then
    rm -rf "$work"
  elif ((rc != 0)); then
    echo "build_and_test: FAILED (work directory kept: $work)" >&2
  fi
}
trap finish EXIT
t_all=$(now)

# ---------------------------------------------------------------- copy
t=$(now)
mkdir -p "$tree"
git -C "$src" archive HEAD | tar -x -C "$tree"
# The work tree over it: tracked files as they are now and untracked ones
# that are not ignored; tracked files deleted in the work tree go.
(cd "$src" && git ls-files -z -co --exclude-standard |
   while IFS= read -r -d '' f; do
     if [[ -e $f || -L $f ]]; then printf '%s\0' "$f"; fi
   done | tar --null --no-recursion -T - -cf -) | tar -x -C "$tree"
(cd "$src" && git ls-files -z -d) | (cd "$tree" && xargs -0 -r rm -f --)
t_copy=$(since "$t")

# ---------------------------------------------------------------- build
if [[ -z ${DEB_BUILD_PROFILES+x} ]]; then
  missing=()
  [[ -r /sys/kernel/btf/vmlinux ]] || missing+=(/sys/kernel/btf/vmlinux)
  for p in libbpf-dev bpftool clang; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    export DEB_BUILD_PROFILES=pkg.tlsfin.nobpf
    echo "build_and_test: no eBPF collector (missing: ${missing[*]}): profile pkg.tlsfin.nobpf" >&2
  fi
fi
t=$(now)
if ! (cd "$tree" && dpkg-buildpackage -us -uc -b -j"$(nproc)") >"$work/build.log" 2>&1; then
  grep -E "^dpkg-checkbuilddeps: error|^dpkg-buildpackage: error" "$work/build.log" >&2 || true
  echo "---- last lines of $work/build.log:" >&2
  tail -n 60 "$work/build.log" >&2
  die "dpkg-buildpackage failed"
fi
t_build=$(since "$t")

# ---------------------------------------------------------------- lintian
t_lintian=
if ((lintian)); then
  if command -v lintian >/dev/null; then
    t=$(now)
    # lintian exits non-zero for errors; its tags are reported, not fatal.
    lintian --pedantic -I -E --tag-display-limit 0 "$work"/*.changes 2>&1 |
      grep -v '^running with root privileges' | sed 's/^/lintian: /' || true
    t_lintian=", lintian $(since "$t")s"
  else
    echo "build_and_test: lintian not installed, skipped" >&2
  fi
fi

# ---------------------------------------------------------------- test
t=$(now)
"$tree/tests/debian/test_debs.sh" "$work" >"$work/test.log" 2>&1 ||
  { cat "$work/test.log" >&2; die "test_debs.sh failed"; }
t_test=$(since "$t")
ok=1
echo "build_and_test: ok: tlsfin $version (copy ${t_copy}s, build ${t_build}s${t_lintian}, install+test+remove ${t_test}s, total $(since "$t_all")s)"
[[ ${KEEP:-0} != 1 ]] || echo "build_and_test: kept $work"
