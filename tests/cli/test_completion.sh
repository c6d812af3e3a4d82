#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The bash completion offers what the program accepts, read from its --help
# (so it cannot drift): subcommands, options, formats, verdicts.
# usage: test_completion.sh TLSFIN COMPLETION_SCRIPT
T=$1
source "$2"
fail=0
expect() { # words... -- expected-substring
  local want=${!#} n=$(($# - 1))
  COMP_WORDS=("$T" "${@:1:n}"); COMP_CWORD=$n
  COMPREPLY=(); _tlsfin
  if [[ " ${COMPREPLY[*]} " == *" $want "* ]]; then echo "ok   ${*:1:n} -> $want"
  else echo "FAIL ${*:1:n}: got '${COMPREPLY[*]}', want $want"; fail=1; fi
}
expect "" analyze
expect analyze --fo --format
expect analyze --format "" zeek
expect watch --ke --kernel
expect watch --kernel "" auto
expect watch --fail-on tls_cl tls_clean
expect probe --ti --timeout
exit $fail
