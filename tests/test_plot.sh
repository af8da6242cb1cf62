#!/bin/bash
# Tests plots/plot.py: charts from a small fixture, and clean failures on bad
# input.   usage: tests/test_plot.sh SRC_DIR OUT_DIR
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 SRC_DIR OUT_DIR" >&2
    exit 2
fi
SRC=$1
OUT=$2
PLOT=$SRC/plots/plot.py
FIX=$SRC/tests/fixtures
CSV=$FIX/plot_small.csv
CHARTS=(throughput-hammer throughput-private nsop-maxthreads norm-maxthreads)

source "$(dirname "$0")/check.sh"

is_png() {  # PNG magic and more than 1 KB
    [ -f "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] \
        && [ "$(stat -c %s "$1")" -gt 1024 ]
}
is_svg() { [ -f "$1" ] && grep -q '<svg' "$1"; }

mkdir -p "$OUT"
charts=$OUT/charts
mkdir -p "$charts"
# Remove only what this test writes, so stale output cannot pass.
for c in "${CHARTS[@]}"; do rm -f "$charts/$c.png" "$charts/$c.svg"; done

# --- good input ----------------------------------------------------------
csv_sum=$(sha256sum < "$CSV")
set +e
"$PLOT" "$CSV" --out "$charts" > "$OUT/good.stdout" 2> "$OUT/good.stderr"
rc=$?
set -e
check "plot.py on plot_small.csv exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "no traceback on stderr" bash -c "! grep -q Traceback '$OUT/good.stderr'"
for c in "${CHARTS[@]}"; do
    check "$c.png is a PNG > 1 KB" is_png "$charts/$c.png"
    check "$c.svg contains <svg" is_svg "$charts/$c.svg"
    check "stdout lists $c.png and $c.svg" \
        bash -c "grep -qxF '$charts/$c.png' '$OUT/good.stdout' && grep -qxF '$charts/$c.svg' '$OUT/good.stdout'"
done
check "last stdout line is 'plots: 4 charts in $charts'" \
    [ "$(tail -n 1 "$OUT/good.stdout")" = "plots: 4 charts in $charts" ]
title="krefbench — AMD EPYC 7B13 64-Core Processor — 1 package, 2 cores, 4 PUs (SMT 2), 1 NUMA node"
check "sidecar title appears in throughput-hammer.svg" grep -qF "$title" "$charts/throughput-hammer.svg"
check "sidecar title appears in nsop-maxthreads.svg" grep -qF "$title" "$charts/nsop-maxthreads.svg"
check "axis label 'get+put per second, all threads' in throughput-hammer.svg" \
    grep -qF "get+put per second, all threads" "$charts/throughput-hammer.svg"
check "axis label 'ns per get+put (per thread)' in nsop-maxthreads.svg" \
    grep -qF "ns per get+put (per thread)" "$charts/nsop-maxthreads.svg"
check "floors drawn as references, not as a backend" \
    bash -c "grep -qF 'floor: shared' '$charts/throughput-hammer.svg' && ! grep -q '>floor<' '$charts/throughput-hammer.svg'"
check "input CSV unchanged" [ "$(sha256sum < "$CSV")" = "$csv_sum" ]

# --- default output directory: <dir>/<stem>-plots, without a sidecar -------
dflt=$OUT/default
rm -rf "$dflt/plot_small-plots"
mkdir -p "$dflt"
cp "$CSV" "$dflt/plot_small.csv"
set +e
"$PLOT" "$dflt/plot_small.csv" > "$OUT/default.stdout" 2> "$OUT/default.stderr"
rc=$?
set -e
check "default run exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "default output dir is <dir>/plot_small-plots" is_png "$dflt/plot_small-plots/nsop-maxthreads.png"
check "title falls back to the file name without a sidecar" \
    grep -qF "krefbench — plot_small.csv" "$dflt/plot_small-plots/nsop-maxthreads.svg"
check "copied CSV still present and unchanged" [ "$(sha256sum < "$dflt/plot_small.csv")" = "$csv_sum" ]

# --- bad input: exit 2, one stderr line starting 'plot: ', no traceback ----
: > "$OUT/empty.csv"
bad_case() {  # bad_case NAME CSV
    local name=$1 csv=$2 bad_out=$OUT/bad-$1 rc
    rm -rf "$bad_out"
    set +e
    "$PLOT" "$csv" --out "$bad_out" > "$OUT/bad.stdout" 2> "$OUT/bad.stderr"
    rc=$?
    set -e
    check "$name: exit 2 (got $rc)" [ "$rc" -eq 2 ]
    check "$name: exactly one stderr line" [ "$(wc -l < "$OUT/bad.stderr")" -eq 1 ]
    check "$name: stderr starts with 'plot: ' ($(head -n 1 "$OUT/bad.stderr"))" \
        grep -q '^plot: ' "$OUT/bad.stderr"
    check "$name: no traceback" bash -c "! grep -q Traceback '$OUT/bad.stderr'"
    check "$name: no output directory created" [ ! -e "$bad_out" ]
}
bad_case "missing file" "$OUT/does-not-exist.csv"
bad_case "bad header" "$FIX/plot_bad_header.csv"
bad_case "non-numeric ns_per_op" "$FIX/plot_bad_number.csv"
bad_case "empty file" "$OUT/empty.csv"
bad_case "header only, no rows" "$FIX/plot_header_only.csv"

# --- rules shared with compare (bench/analysis/results.py) that plot used to let pass:
# exit 2, one 'plot: ' line saying what is wrong, and the charts already in
# --out left as they were (nothing deleted, nothing rewritten).
charts_sum() {  # contents and modification times of the charts in $charts
    (cd "$charts" && sha256sum -- *.png *.svg && find . -type f -printf '%p %T@\n' | sort)
}
before=$(charts_sum)
strict_case() {  # strict_case NAME CSV EXPECTED-TEXT
    local name=$1 csv=$2 text=$3 rc
    set +e
    "$PLOT" "$csv" --out "$charts" > "$OUT/strict.stdout" 2> "$OUT/strict.stderr"
    rc=$?
    set -e
    check "$name: exit 2 (got $rc)" [ "$rc" -eq 2 ]
    check "$name: one stderr line, 'plot: ...' ($(head -n 1 "$OUT/strict.stderr"))" \
        bash -c "[ \$(wc -l < '$OUT/strict.stderr') -eq 1 ] && grep -q '^plot: ' '$OUT/strict.stderr'"
    check "$name: says '$text'" grep -qF -- "$text" "$OUT/strict.stderr"
    check "$name: nothing on stdout, no traceback" \
        bash -c "[ ! -s '$OUT/strict.stdout' ] && ! grep -q Traceback '$OUT/strict.stderr'"
    check "$name: the charts in --out are untouched" [ "$(charts_sum)" = "$before" ]
}
row='^atomic,hammer,,1,cores,1,0,0,20930953,9.555,'
sed "s/$row/atomic,hammer,,1,cores,1,0,0,20930953,0.000,/" "$CSV" > "$OUT/zero_nsop.csv"
strict_case "zero ns_per_op" "$OUT/zero_nsop.csv" "ns_per_op '0.000' is not positive"
sed "s/$row/atomic,hammer,,1,cores,many,0,0,20930953,9.555,/" "$CSV" > "$OUT/objects_text.csv"
strict_case "non-numeric objects" "$OUT/objects_text.csv" "objects 'many' is not a number"
sed '$ s/,"0,2",ok,24.4$//' "$CSV" > "$OUT/truncated.csv"
strict_case "truncated last row" "$OUT/truncated.csv" "truncated last row (line 94: 13 of 16 fields)"
sed '1s/,cycles_per_op$/,ns_per_op/' "$CSV" > "$OUT/dup_header.csv"
strict_case "header repeats a column" "$OUT/dup_header.csv" "header repeats a column name"
check "input CSV still unchanged" [ "$(sha256sum < "$CSV")" = "$csv_sum" ]

# A last row without a newline still plots, with a warning.
nonl=$OUT/nonl
rm -rf "$nonl"
head -c -1 "$CSV" > "$OUT/nonl.csv"
set +e
"$PLOT" "$OUT/nonl.csv" --out "$nonl" > "$OUT/nonl.stdout" 2> "$OUT/nonl.stderr"
rc=$?
set -e
check "no trailing newline: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "no trailing newline: warned" \
    grep -qF "plot: warning: $OUT/nonl.csv: the last row has no trailing newline" "$OUT/nonl.stderr"
check "no trailing newline: 4 charts" [ "$(tail -n 1 "$OUT/nonl.stdout")" = "plots: 4 charts in $nonl" ]

# The committed baseline (results/baseline/), a real run of every workload:
# a throughput chart per workload, plus the two at the highest thread count.
BASE=$(find "$SRC/results/baseline" -name '*.csv' 2>/dev/null | sort | head -n 1)
check "a committed baseline run exists (results/baseline/*.csv)" test -n "$BASE" -a -f "$BASE"
if [ -n "$BASE" ]; then
    base=$OUT/baseline
    rm -rf "$base"
    set +e
    "$PLOT" "$BASE" --out "$base" > "$OUT/base.stdout" 2> "$OUT/base.stderr"
    rc=$?
    set -e
    check "baseline: exit 0 (got $rc)" [ "$rc" -eq 0 ]
    check "baseline: nothing on stderr" test ! -s "$OUT/base.stderr"
    workloads=$(/usr/bin/python3 -c '
import csv, sys
print(" ".join(sorted({r["workload"] for r in csv.DictReader(open(sys.argv[1])) if r["backend"] != "floor"})))' "$BASE")
    for w in $workloads; do
        check "baseline: throughput-$w.png is a PNG > 1 KB" is_png "$base/throughput-$w.png"
    done
    check "baseline: nsop-maxthreads.png and norm-maxthreads.png" \
        bash -c "[ -s '$base/nsop-maxthreads.png' ] && [ -s '$base/norm-maxthreads.png' ]"
    n=$(( $(wc -w <<< "$workloads") + 2 ))
    check "baseline: 'plots: $n charts' (one per workload, two at max threads)" \
        [ "$(tail -n 1 "$OUT/base.stdout")" = "plots: $n charts in $base" ]
fi

check_summary
