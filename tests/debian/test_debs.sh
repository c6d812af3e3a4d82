#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Install the tlsfin .debs, check them as a user of the packages would, and
# remove them again.
#
#   tests/debian/test_debs.sh DIR          DIR holds tlsfin_*.deb, libtlsfin0_*.deb
#                                          and libtlsfin-dev_*.deb (as built by
#                                          dpkg-buildpackage); needs root
#   tests/debian/test_debs.sh --installed  only the checks, on packages already
#                                          installed (nothing installed or removed)
#
# Checks: tlsfin --version; tlsfin analyze on samples/demo.pcapng (a path
# argument) reports its 10 connections; man -w finds tlsfin-analyze(1) and
# the other pages; pkg-config finds tlsfin.pc with its paths under /usr; a C
# program calling tlsfin_verdict_name builds with
# `cc x.c $(pkg-config --cflags --libs tlsfin)` and runs (and again against
# the static archive); find_package(tlsfin CONFIG) works in a small CMake
# project (shared and static targets).
#
# Everything the install added (the three packages and any dependency apt
# pulled in for them) is removed at exit, also on failure or interruption.
# Quiet on success: one line.  On failure: the failing check and its output.
# Environment: TLSFIN_SAMPLE (default: samples/demo.pcapng of this tree),
# TLSFIN_SAMPLE_CONNS (default 10).
set -euo pipefail
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
sample=${TLSFIN_SAMPLE:-$root/samples/demo.pcapng}
want_conns=${TLSFIN_SAMPLE_CONNS:-10}
pkgs=(tlsfin libtlsfin0 libtlsfin-dev)

die() { echo "test_debs: $*" >&2; exit 1; }
usage() { sed -n '6,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

mode=install
debdir=
case "${1:-}" in
  --installed) mode=installed ;;
  -h|--help|"") usage ;;
  *) [[ -d "$1" ]] || die "no directory $1"; debdir=$(cd "$1" && pwd) ;;
esac
[[ -r "$sample" ]] || die "sample capture $sample not found (set TLSFIN_SAMPLE)"

work=$(mktemp -d "${TMPDIR:-/tmp}/tlsfin-debtest.XXXXXX")
log=$work/log
: >"$log"
added=()          # packages this run installed: removed at exit
checks=0
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
t_install=0 t_checks=0 t_remove=0

apt_get() { apt-get -y -q -o DPkg::Lock::Timeout=900 -o Dpkg::Use-Pty=0 "$@"; }

cleanup() {
  local rc=$? t
  trap - EXIT INT TERM
  if ((${#added[@]})); then
    t=$(now)
    if ! apt_get remove --purge "${added[@]}" >>"$log" 2>&1; then
      echo "test_debs: could not remove ${added[*]}:" >&2
      tail -n 20 "$log" >&2
      rc=1
    fi
    t_remove=$(since "$t")
  fi
  if ((rc == 0)); then
    echo "test_debs: ok ($checks checks; install ${t_install}s, checks ${t_checks}s, remove ${t_remove}s)"
    rm -rf "$work"
  else
    echo "test_debs: FAILED (log and work files in $work)" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# step NAME FUNCTION: run FUNCTION in a subshell under set -e (any failing
# command fails the check), its output kept in the log; on failure show it.
step() {
  local name=$1 rc; shift
  echo "== $name" >"$work/step"
  set +e
  (set -e; "$@") >>"$work/step" 2>&1
  rc=$?
  set -e
  cat "$work/step" >>"$log"
  if ((rc != 0)); then
    echo "test_debs: check failed: $name" >&2
    sed 's/^/  | /' "$work/step" >&2
    exit 1
  fi
  checks=$((checks + 1))
}

installed_pkgs() {
  dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null |
    awk '$1 ~ /^[hi]i/ {print $2}' | sort -u
}

# ---------------------------------------------------------------- install
if [[ $mode == install ]]; then
  (($(id -u) == 0)) || die "installing packages needs root (or use --installed)"
  debs=()
  for p in "${pkgs[@]}"; do
    mapfile -t f < <(find "$debdir" -maxdepth 1 -name "${p}_*.deb" | sort)
    ((${#f[@]} == 1)) || die "expected one ${p}_*.deb in $debdir, found ${#f[@]}"
    debs+=("${f[0]}")
  done
  before=$(installed_pkgs)
  for p in "${pkgs[@]}"; do
    if grep -qx "$p" <<<"$before"; then
      echo "test_debs: warning: $p was already installed; it is replaced, then removed" >&2
    fi
  done
  # What apt adds: the packages and the dependencies it pulls in for them.
  # Exactly those are removed at exit, not whatever else gets installed on
  # this machine meanwhile.
  apt_get -s install --no-install-recommends "${debs[@]}" >"$work/sim" 2>&1 ||
    { cat "$work/sim" >&2; die "apt-get cannot install the packages (simulation above)"; }
  mapfile -t will < <(awk '/^Inst /{print $2}' "$work/sim" | sed 's/:.*//' | sort -u)
  for p in "${pkgs[@]}" "${will[@]}"; do
    [[ " ${added[*]} " == *" $p "* ]] && continue
    if [[ " ${pkgs[*]} " != *" $p "* ]] && grep -qx "$p" <<<"$before"; then continue; fi
    added+=("$p")
  done
  t=$(now)
  if ! apt_get install --no-install-recommends "${debs[@]}" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "apt-get install failed"
  fi
  t_install=$(since "$t")
fi

# ---------------------------------------------------------------- checks
t=$(now)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' ||
    die "package $p is not installed"
done
upstream=$(dpkg-query -W -f='${Version}' tlsfin | sed 's/^[0-9]*://; s/-[^-]*$//')
# Only what the packages installed: nothing from /usr/local, $PATH or the
# environment may stand in for them.
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR LD_LIBRARY_PATH CMAKE_PREFIX_PATH \
      CPATH C_INCLUDE_PATH LIBRARY_PATH MANPATH
export PKG_CONFIG_LIBDIR=/usr/lib/$ma/pkgconfig:/usr/lib/pkgconfig:/usr/share/pkgconfig
bin=/usr/bin/tlsfin

check_version() {
  local v
  v=$("$bin" --version)
  echo "$v"
  grep -qF -- "$upstream" <<<"$v" || { echo "expected version $upstream"; return 1; }
}
step "tlsfin --version" check_version

check_analyze() {
  local rows n
  "$bin" analyze "$sample" >"$work/table"
  cat "$work/table"
  rows=$(grep -cE '^ *[0-9]+ ' "$work/table" || true)
  "$bin" analyze --format=jsonl "$sample" >"$work/jsonl"
  n=$(grep -c '^{' "$work/jsonl" || true)
  echo "table rows: $rows, jsonl records: $n"
  [[ $rows == "$want_conns" && $n == "$want_conns" ]] ||
    { echo "expected $want_conns connections"; return 1; }
}
step "tlsfin analyze $sample" check_analyze

check_man() {
  local p q
  command -v man >/dev/null || { echo "man (man-db) is not installed"; return 1; }
  for q in tlsfin-analyze tlsfin tlsfin-watch tlsfin-probe "3 libtlsfin"; do
    # shellcheck disable=SC2086  # "3 libtlsfin" is two words
    p=$(man -w $q)
    echo "man -w $q: $p"
    [[ $p == /usr/share/man/* ]] || { echo "not the packaged page"; return 1; }
  done
}
step "man -w tlsfin-analyze" check_man

check_pkgconfig() {
  local libs cflags inc lib
  libs=$(pkg-config --libs tlsfin)
  cflags=$(pkg-config --cflags tlsfin)
  echo "pkg-config --cflags --libs tlsfin: $cflags $libs"
  [[ " $libs " == *" -ltlsfin "* ]] || { echo "no -ltlsfin"; return 1; }
  # paths pkg-config did not normalize escape its filtering of /usr/include
  # and /usr/lib/<triplet> (debian/rules pins prefix=/usr)
  [[ "$cflags $libs" != *"/../"* ]] || { echo "unnormalized paths"; return 1; }
  [[ $(pkg-config --modversion tlsfin) == "$upstream" ]] || { echo "not version $upstream"; return 1; }
  inc=$(realpath -m "$(pkg-config --variable=includedir tlsfin)")
  lib=$(realpath -m "$(pkg-config --variable=libdir tlsfin)")
  echo "includedir=$inc libdir=$lib"
  [[ $inc == /usr/include && $lib == "/usr/lib/$ma" ]] ||
    { echo "expected /usr/include and /usr/lib/$ma"; return 1; }
}
step "pkg-config tlsfin" check_pkgconfig

cat >"$work/x.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <tlsfin/tlsfin.h>
#include <tlsfin/taxonomy.h>
int main(void) {
  const char *n = tlsfin_verdict_name(TLSFIN_VERDICT_REFUSED);
  printf("%s %s\n", TLSFIN_VERSION_STRING, n ? n : "(null)");
  return n && strcmp(n, "refused") == 0 &&
                 tlsfin_verdict_parse("refused") == (int)TLSFIN_VERDICT_REFUSED
             ? 0 : 1;
}
EOF
# uses_packaged_so PROGRAM: PROGRAM loads the packaged libtlsfin.so.0
# (ldd may name it through /lib, a symlink to /usr/lib on merged-/usr).
uses_packaged_so() {
  local so
  so=$(ldd "$1" | awk '$1 == "libtlsfin.so.0" {print $3}')
  echo "$1: libtlsfin.so.0 => $so"
  [[ -n $so && $(realpath "$so") == "/usr/lib/$ma/libtlsfin.so.$upstream" ]]
}
check_cc() {
  # shellcheck disable=SC2046
  cc -Wall -Werror -o "$work/x" "$work/x.c" $(pkg-config --cflags --libs tlsfin)
  "$work/x"
  uses_packaged_so "$work/x"
  # the static archive holds everything the headers declare
  # shellcheck disable=SC2046
  cc -o "$work/x-static" "$work/x.c" $(pkg-config --cflags tlsfin) "/usr/lib/$ma/libtlsfin.a" \
    $(pkg-config --libs libssl libcrypto) -lpthread
  "$work/x-static"
  if ldd "$work/x-static" | grep -q libtlsfin; then return 1; fi
}
step "cc x.c \$(pkg-config --cflags --libs tlsfin)" check_cc

mkdir -p "$work/cmake"
cp "$work/x.c" "$work/cmake/x.c"
cat >"$work/cmake/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(tlsfin_consumer C)
find_package(tlsfin CONFIG REQUIRED)
get_target_property(_inc tlsfin::tlsfin INTERFACE_INCLUDE_DIRECTORIES)
message(STATUS "tlsfin: dir=${tlsfin_DIR} version=${tlsfin_VERSION} includes=${_inc}")
add_executable(x x.c)
target_link_libraries(x PRIVATE tlsfin::tlsfin)
add_executable(x_static x.c)
target_link_libraries(x_static PRIVATE tlsfin::tlsfin_static)
file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/locations.txt
     CONTENT "$<TARGET_FILE:tlsfin::tlsfin>\n$<TARGET_FILE:tlsfin::tlsfin_static>\n")
EOF
check_cmake() {
  local b=$work/cmake/build
  # /usr/local is ignored so that only the packaged CMake files can answer.
  cmake -S "$work/cmake" -B "$b" -DCMAKE_IGNORE_PREFIX_PATH=/usr/local >"$work/cmake.out"
  cat "$work/cmake.out" "$b/locations.txt"
  grep -qxF -- "-- tlsfin: dir=/usr/lib/$ma/cmake/tlsfin version=$upstream includes=/usr/include" \
    "$work/cmake.out"
  diff <(printf '%s\n' "/usr/lib/$ma/libtlsfin.so.$upstream" "/usr/lib/$ma/libtlsfin.a") \
    "$b/locations.txt"
  cmake --build "$b"
  "$b/x"
  "$b/x_static"
  uses_packaged_so "$b/x"
  if ldd "$b/x_static" | grep -q libtlsfin; then return 1; fi
}
step "find_package(tlsfin CONFIG)" check_cmake
t_checks=$(since "$t")
