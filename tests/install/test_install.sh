#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# cmake --install gives users what README and libtlsfin(3) promise: the
# command, libtlsfin (static and shared with a SONAME, exporting only
# tlsfin_*), headers, tlsfin.pc and a CMake package.  The examples build out
# of tree against the installed copy with the documented link line, with
# pkg-config and with find_package, and run.
# usage: test_install.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
B=$1 S=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass+1)); }
ko() { echo "FAIL $1"; fail=$((fail+1)); }
P=$tmp/prefix
cmake --install "$B" --prefix "$P" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
lib=$(ls -d "$P"/lib* | head -1)
for f in bin/tlsfin include/tlsfin/tlsfin.h include/tlsfin/taxonomy.h share/man/man3/libtlsfin.3 \
         share/man/man1/tlsfin.1 share/man/man1/tlsfin-analyze.1 share/man/man1/tlsfin-watch.1 \
         share/man/man1/tlsfin-probe.1 share/bash-completion/completions/tlsfin \
         share/zsh/vendor-completions/_tlsfin; do
  [[ -e $P/$f ]] && ok "installed $f" || ko "installed $f"
done
for f in libtlsfin.a libtlsfin.so libtlsfin.so.0 pkgconfig/tlsfin.pc cmake/tlsfin/tlsfinConfig.cmake; do
  [[ -e $lib/$f ]] && ok "installed lib/$f" || ko "installed lib/$f"
done
soname=$(objdump -p "$lib/libtlsfin.so" | awk '/SONAME/ {print $2}')
[[ $soname == libtlsfin.so.0 ]] && ok "SONAME $soname" || ko "SONAME '$soname'"
leaked=$(nm -D --defined-only "$lib/libtlsfin.so" | awk '{print $3}' | grep -v '^tlsfin_' | grep -v '^TLSFIN_0$')
[[ -z $leaked ]] && ok "exports only tlsfin_*" || ko "exports more than tlsfin_*: $(echo $leaked | head -c 200)"
"$P/bin/tlsfin" --version | grep -q "^tlsfin " && ok "installed tlsfin runs" || ko "installed tlsfin runs"
# the man pages are the programs' own --help: every option is in them
for c in analyze watch probe; do
  miss=$("$P/bin/tlsfin" $c --help | grep -oE -- '--[a-z][a-z-]+' | sort -u | while read -r o; do
    grep -q -- "${o//-/\\\\-}" "$P/share/man/man1/tlsfin-$c.1" || echo "$o"; done)
  [[ -z $miss ]] && ok "tlsfin-$c.1 has every option" || ko "tlsfin-$c.1 misses: $miss"
done
ex=$S/examples/blocking_client.c
# The link line of the docs, shared and static
if cc -o "$tmp/dyn" "$ex" -I"$P/include" -L"$lib" -ltlsfin -lssl -lcrypto 2>"$tmp/cc1" &&
   LD_LIBRARY_PATH=$lib ldd "$tmp/dyn" | grep -q "libtlsfin.so.0"; then ok "cc ... -ltlsfin -lssl -lcrypto"
else ko "cc ... -ltlsfin -lssl -lcrypto: $(head -3 "$tmp/cc1")"; fi
if cc -o "$tmp/sta" "$ex" -I"$P/include" "$lib/libtlsfin.a" -lssl -lcrypto -lpthread 2>"$tmp/cc2"; then
  ok "static link"; else ko "static link: $(head -3 "$tmp/cc2")"; fi
# pkg-config
if PKG_CONFIG_PATH=$lib/pkgconfig cc -o "$tmp/pc" "$ex" \
     $(PKG_CONFIG_PATH=$lib/pkgconfig pkg-config --cflags --libs tlsfin) 2>"$tmp/cc3"; then
  ok "pkg-config --cflags --libs tlsfin"; else ko "pkg-config build: $(head -3 "$tmp/cc3")"; fi
# find_package
mkdir -p "$tmp/fp"
cp "$S"/examples/*.c "$S"/examples/*.h "$tmp/fp/"
cat >"$tmp/fp/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(uses_tlsfin C)
find_package(tlsfin 0.1 CONFIG REQUIRED)
foreach(ex blocking_client pool_client shutdown_pending_read epoll_server)
  add_executable(${ex} ${ex}.c)
  target_link_libraries(${ex} PRIVATE tlsfin::tlsfin)
endforeach()
CM
if cmake -S "$tmp/fp" -B "$tmp/fp/b" -DCMAKE_PREFIX_PATH="$P" >"$tmp/fp.log" 2>&1 &&
   cmake --build "$tmp/fp/b" >>"$tmp/fp.log" 2>&1; then ok "find_package(tlsfin CONFIG) builds the 4 examples"
else ko "find_package: $(tail -5 "$tmp/fp.log")"; fi
# The installed examples run: usage errors come from the program, not the loader.
for x in dyn pc fp/b/blocking_client; do
  [[ -x $tmp/$x ]] || continue
  LD_LIBRARY_PATH=$lib "$tmp/$x" >/dev/null 2>"$tmp/run.err"; rc=$?
  if [[ $rc -ne 127 ]] && ! grep -q "error while loading" "$tmp/run.err"; then ok "runs: $x (exit $rc)"
  else ko "runs: $x: $(head -2 "$tmp/run.err")"; fi
done
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
