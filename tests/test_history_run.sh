#!/bin/bash
# Tests that ./run.sh records its runs in the history (bench/analysis/history.py)
# without changing what the user sees of the benchmark: ./run.sh bench and the
# main job append a run each (kind bench / sweep, the commit, the clean
# repetitions); the binary's exit status is run.sh's (2 on bad options, nothing
# recorded); ^C to the process group gives 130 and SIGTERM to run.sh 143, with
# no krefbench left running and no run recorded; ./run.sh history, --import of
# the same file (nothing added), export of a tiny run; KREFBENCH_HISTORY=off.
#     usage: tests/test_history_run.sh SRC_DIR OUT_DIR    (KREFBENCH_BIN: the binary)
set -euo pipefail

source "$(dirname "$0")/check.sh"
src_and_out_dirs "$@"
export KREFBENCH_HISTORY=$OUT/history.sqlite
: "${KREFBENCH_BIN:?set KREFBENCH_BIN to the krefbench binary}"
export KREFBENCH_BIN

runs() {  # runs [WHERE]: runs recorded
    "$PY" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM runs " + sys.argv[2]).fetchone()[0])' \
        "$KREFBENCH_HISTORY" "${1:-}"
}
tiny=(--backends atomic --workloads hammer --threads 1 --reps 2 --time 0.005 --retries 0)

rc=0
"$SRC/run.sh" bench "${tiny[@]}" --out "$OUT/b1.csv" >"$OUT/b1.out" 2>"$OUT/b1.err" || rc=$?
check "./run.sh bench: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "./run.sh bench: its run recorded (kind bench), said on stderr" \
    bash -c "[ $(runs "WHERE kind = 'bench'") -eq 1 ] && grep -q '^history: bench run [0-9a-f]* recorded in $KREFBENCH_HISTORY' '$OUT/b1.err'"
sha=$(git -C "$SRC" rev-parse HEAD 2>/dev/null || echo unknown)
check "the run carries the tree's commit" \
    [ "$("$PY" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT commit_sha FROM runs").fetchone()[0])' "$KREFBENCH_HISTORY")" = "$sha" ]

rc=0
"$SRC/run.sh" bench --backends no-such-backend >"$OUT/bad.out" 2>"$OUT/bad.err" || rc=$?
check "./run.sh bench with a bad option: the binary's exit 2 is run.sh's (got $rc), nothing recorded" \
    bash -c "[ $rc -eq 2 ] && [ $(runs) -eq 1 ]"
rc=0
"$SRC/run.sh" bench --help >"$OUT/help.out" 2>&1 || rc=$?
check "./run.sh bench --help: exit 0, nothing recorded" bash -c "[ $rc -eq 0 ] && [ $(runs) -eq 1 ]"

for sig in INT TERM; do
    "${AS_FROM_TERMINAL[@]}" "$SRC/run.sh" bench --backends atomic --workloads hammer --threads 1 --reps 500 --time 0.01 --no-floors \
        --out "$OUT/sig$sig.csv" >"$OUT/sig$sig.out" 2>"$OUT/sig$sig.err" &
    pid=$!
    for _ in $(seq 300); do [ -s "$OUT/sig$sig.csv" ] && break; sleep 0.05; done
    if [ "$sig" = INT ]; then kill -INT -- "-$pid"; else kill -TERM "$pid"; fi
    rc=0
    wait "$pid" || rc=$?
    want=130; [ "$sig" = TERM ] && want=143
    check "SIG$sig to ./run.sh bench: exit $want (got $rc)" [ "$rc" -eq "$want" ]
    sleep 0.3
    left=$( (pgrep -f -- "$OUT/sig$sig[.]csv" || true) | wc -l)
    check "SIG$sig: no krefbench left running ($left), no run recorded (signalled as soon as its CSV existed)" \
        [ "$left" -eq 0 -a "$(runs)" -eq 1 ]
done

rc=0
"$SRC/run.sh" "${tiny[@]}" --no-floors >"$OUT/main.out" 2>"$OUT/main.err" || rc=$?
check "./run.sh (the main job): exit 0 (got $rc), its run recorded as a sweep" \
    bash -c "[ $rc -eq 0 ] && [ $(runs "WHERE kind = 'sweep'") -eq 1 ]"
main_csv=$(sed -n 's/^  results  \(.*\.csv\)$/\1/p' "$OUT/main.out")
rc=0
"$SRC/run.sh" history >"$OUT/list.out" 2>&1 || rc=$?
check "./run.sh history: exit 0, both runs listed" \
    bash -c "[ $rc -eq 0 ] && grep -q '2 run(s) in $KREFBENCH_HISTORY' '$OUT/list.out' && grep -q ' bench ' '$OUT/list.out' && grep -q ' sweep ' '$OUT/list.out'"
rc=0
"$SRC/run.sh" history --import "$OUT/b1.csv" "$main_csv" >"$OUT/imp.out" 2>&1 || rc=$?
check "--import of files already recorded: nothing added (exit $rc)" \
    bash -c "[ $rc -eq 0 ] && [ \$(grep -c 'recorded already' '$OUT/imp.out') -eq 2 ] && [ $(runs) -eq 2 ]"
rc=0
KREFBENCH_HISTORY=off "$SRC/run.sh" bench "${tiny[@]}" --out "$OUT/b2.csv" >/dev/null 2>"$OUT/off.err" || rc=$?
check "KREFBENCH_HISTORY=off: the run is not recorded" \
    bash -c "[ $rc -eq 0 ] && ! grep -q '^history:' '$OUT/off.err' && [ $(runs) -eq 2 ]"
rc=0
"$SRC/run.sh" history --import "$OUT/b2.csv" >"$OUT/imp2.out" 2>&1 || rc=$?
check "--import of a run made without the history: recorded as an import (exit $rc)" \
    bash -c "[ $rc -eq 0 ] && [ $(runs "WHERE kind = 'import'") -eq 1 ]"
for f in bmf github-action-benchmark; do
    rc=0
    "$SRC/run.sh" export --format "$f" "$OUT/b1.csv" >"$OUT/export-$f.json" 2>"$OUT/export-$f.err" || rc=$?
    check "./run.sh export --format $f: exit 0, JSON on stdout" \
        bash -c "[ $rc -eq 0 ] && '$PY' -c 'import json,sys; json.load(open(sys.argv[1]))' '$OUT/export-$f.json'"
done
check_summary
