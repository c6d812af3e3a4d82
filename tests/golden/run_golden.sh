#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# One golden test: analyze CAPTURE and compare with the .expect.jsonl beside
# it.  usage: run_golden.sh TLSFIN CAPTURE [KEYLOG]
set -euo pipefail
tlsfin=$1 cap=$2 keys=${3:-}
exp=${cap%.pcapng}; exp=${exp%.pcap}.expect.jsonl
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
"$tlsfin" analyze --format=jsonl ${keys:+--keylog "$keys"} "$cap" >"$out" || rc=$?
if [[ $rc -ne 0 && $rc -ne 1 ]]; then
  echo "tlsfin analyze exited $rc on $cap"; exit 1
fi
python3 "$(dirname "$0")/compare.py" "$out" "$exp"
