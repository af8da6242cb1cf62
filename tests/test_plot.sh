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
check "axis label 'ops/s (all threads)' in throughput-hammer.svg" \
    grep -qF "ops/s (all threads)" "$charts/throughput-hammer.svg"
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

check_summary
