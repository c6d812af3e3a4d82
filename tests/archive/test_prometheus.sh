#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The fleet pattern of docs/scale.md, Prometheus side: the example config,
# rules and rule unit tests under docs/examples/ are valid and pass, and use
# only the metric names, labels and label values tlsfin watch exports.
#   1. promtool check config docs/examples/prometheus.yml
#   2. promtool check rules docs/examples/tlsfin.rules.yml
#   3. promtool test rules docs/examples/tlsfin.rules.test.yml
#   4. promtool check rules on the PromQL of docs/scale.md's query table
#   5. check_metric_names.py: every tlsfin_* name / label / value in those
#      files and in docs/scale.md is in src/watch/metrics.c (and the schema)
#   6. with TLSFIN and root: a live `tlsfin watch --metrics` scrape passes
#      `promtool check metrics` and holds every metric name the files use
#      (skipped, not failed, when watch cannot capture here)
# usage: test_prometheus.sh [TLSFIN]      exit 0 ok, 1 failure, 77 no promtool
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
ex=$src/docs/examples
tlsfin=${1:-${TLSFIN:-}}

if ! command -v promtool >/dev/null 2>&1; then
  echo "archive.prometheus: SKIP: promtool not found (Debian package prometheus)"
  exit 77
fi
command -v python3 >/dev/null || { echo "archive.prometheus: FAIL: python3 needed"; exit 1; }

tmp=$(mktemp -d)
wpid=
cleanup() {
  [[ -n $wpid ]] && kill "$wpid" 2>/dev/null && wait "$wpid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

pass=0 failed=0
step() { # NAME COMMAND...
  local name=$1; shift
  if "$@" >"$tmp/out" 2>&1; then
    pass=$((pass + 1)); echo "ok: $name"
  else
    failed=$((failed + 1)); echo "FAIL: $name"; sed 's/^/  /' "$tmp/out"
  fi
}

echo "archive.prometheus: $(promtool --version 2>&1 | head -1)"
step "promtool check config prometheus.yml" promtool check config "$ex/prometheus.yml"
step "promtool check rules tlsfin.rules.yml" promtool check rules "$ex/tlsfin.rules.yml"
# rule_files in the unit test file are relative to it
step "promtool test rules tlsfin.rules.test.yml" \
  sh -c 'cd "$1" && promtool test rules tlsfin.rules.test.yml' _ "$ex"
# The PromQL of docs/scale.md's "Useful queries" table, as recording rules.
python3 - "$src/docs/scale.md" >"$tmp/doc_queries.yml" <<'PY'
import re, sys, json
doc = open(sys.argv[1], encoding="utf-8").read()
table = doc.split("Useful queries", 1)[1].split("\n\n", 2)[1]
qs = [m.group(1) for line in table.splitlines()
      for m in [re.search(r"\| `([^`]+)` \|$", line)] if m]
if len(qs) < 5:
    sys.exit("docs/scale.md: the Useful queries table has %d queries" % len(qs))
print("groups:\n  - name: scale_md_queries\n    rules:")
for i, q in enumerate(qs):
    print("      - record: scale_md:query%d\n        expr: %s" % (i + 1, json.dumps(q)))
PY
step "promtool check rules on docs/scale.md's queries ($(grep -c 'record:' "$tmp/doc_queries.yml"))" \
  promtool check rules "$tmp/doc_queries.yml"
names=("$ex/tlsfin.rules.yml" "$ex/tlsfin.rules.test.yml" "$ex/prometheus.yml" "$src/docs/scale.md")
step "metric names, labels and values are tlsfin's" \
  python3 "$here/check_metric_names.py" "$src/src/watch/metrics.c" \
  "$src/docs/tlsfin.schema.json" "${names[@]}"
sed -n '1p' "$tmp/out" | grep '^ok' | sed 's/^/  /'

# A live scrape, when this machine lets tlsfin watch capture on lo.
live=skipped
if [[ -z $tlsfin ]]; then
  live="skipped (no tlsfin given)"
elif [[ $(id -u) -ne 0 ]]; then
  live="skipped (capture needs root)"
else
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$tlsfin" watch -i lo -f "tcp port $port" --kernel=off --format=jsonl \
    --metrics "127.0.0.1:$port" --duration 30 >"$tmp/watch.jsonl" 2>"$tmp/watch.err" &
  wpid=$!
  for _ in $(seq 100); do
    grep -q listening "$tmp/watch.err" 2>/dev/null && break
    kill -0 "$wpid" 2>/dev/null || break
    sleep 0.05
  done
  if ! grep -q listening "$tmp/watch.err"; then
    live="skipped (tlsfin watch did not start: $(head -c 200 "$tmp/watch.err" | tr '\n' ' '))"
  else
    step "live scrape answers" \
      curl -sf --max-time 5 -o "$tmp/scrape.txt" "http://127.0.0.1:$port/metrics"
    step "promtool check metrics on the live scrape" \
      sh -c 'promtool check metrics < "$1"' _ "$tmp/scrape.txt"
    step "metric names used are in the live scrape" \
      python3 "$here/check_metric_names.py" "$src/src/watch/metrics.c" \
      "$src/docs/tlsfin.schema.json" --scrape "$tmp/scrape.txt" "${names[@]}"
    live="done ($(grep -c '^tlsfin_' "$tmp/scrape.txt") samples)"
  fi
fi
echo "archive.prometheus: live scrape: $live"
echo "$pass passed, $failed failed"
[[ $failed -eq 0 ]]
