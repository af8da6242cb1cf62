#!/bin/bash
# Two quick sweeps of the same binary (a few backends, the decision
# workloads) must give compatible answers in every decision section
# (analysis/stability.py), and files-mode compare of the two must never say
# "regression" (exit 0 or 2, never 1), in either direction.
#     usage: tests/test_answers.sh BIN SRC_DIR OUT_DIR
set -uo pipefail
if [ $# -ne 3 ]; then
    echo "usage: $0 BIN SRC_DIR OUT_DIR" >&2
    exit 2
fi
BIN=$1; SRC=$(cd "$2" && pwd); OUT=$3
case "$OUT" in ""|/) echo "refusing OUT_DIR '$OUT'" >&2; exit 2 ;; esac
rm -rf -- "$OUT"; mkdir -p -- "$OUT"
PY=/usr/bin/python3
export PYTHONPATH=$SRC/bench
source "$(dirname "$0")/check.sh"

for i in 1 2; do
    # 5 repetitions (processes): intervals at 83%, as a default run's; --quick's 3 give 60%
    # ([min, max]), and two runs then name different winners by chance.
    "$BIN" --quick --reps 5 --backends atomic,percpu,mutex,null --workloads hammer,lookup_rcu,read \
        --threads 1,2 --out "$OUT/r$i.csv" >"$OUT/r$i.log" 2>&1
    check "quick sweep $i ran" test -s "$OUT/r$i.csv"
done
rc=0; "$PY" -m analysis.stability "$OUT/r1.csv" "$OUT/r2.csv" >"$OUT/stability.out" 2>&1 || rc=$?
cat "$OUT/stability.out"
check "stability: every section names the same winner or a tied set sharing it (exit 0, got $rc)" [ "$rc" -eq 0 ]
check "stability: the three sections were compared" grep -q '^stability: 3 of 3 section(s) agree$' "$OUT/stability.out"
for d in "r1 r2" "r2 r1"; do
    set -- $d
    rc=0; "$PY" -m analysis.compare "$OUT/$1.csv" "$OUT/$2.csv" >"$OUT/cmp.out" 2>"$OUT/cmp.err" || rc=$?
    check "compare $1 vs $2, same code: exit 0 or 2, never 1 (got $rc)" \
        bash -c "[ $rc -ne 1 ] && ! grep -q '^compare: regression' '$OUT/cmp.err'"
done
check_summary
