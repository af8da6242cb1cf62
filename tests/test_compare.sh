#!/bin/bash
# Tests bench/analysis/compare.py on results files (the U test against hand-checked
# cases, verdicts, exit codes, clean repetitions only, duplicates, nothing
# compared, the paired analysis of a gate's joined files, every bad input,
# formats, sidecars) and plots/plot.py --compare. The gate's runs (--bin,
# --rev) are tests/test_gate.sh; the statistics on their own tests/test_stats.py.
#     usage: tests/test_compare.sh SRC_DIR OUT_DIR
set -euo pipefail

source "$(dirname "$0")/check.sh"
src_and_out_dirs "$@"
export PYTHONPATH=$SRC/bench
CMP="$PY -m analysis.compare"
FIX=$SRC/tests/fixtures

lacks() { ! grep -qF -- "$2" "$OUT/$1"; }
no_traceback() { ! grep -q Traceback "$OUT/$1.err" "$OUT/$1.out"; }
# field NAME KIND BACKEND COLUMN: a column of compare's CSV output
field() {
    "$PY" -c '
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["kind"] == sys.argv[2] and r["backend"] == sys.argv[3]]
print(rows[0][sys.argv[4]] if len(rows) == 1 else "?")' "$OUT/$1.out" "$2" "$3" "$4"
}

# --- the U test, hand-checked ------------------------------------------------
# A = 1..5, B = 6..10: U (pairs a > b) = 0. Without ties the exact null
# distribution applies: of the C(10,5) = 252 equally likely arrangements one
# gives U = 0 and one U = 25, so p = 2/252 = 0.0079365.
# A = 1,2,3, B = 4,5,6: p = 2/C(6,3) = 2/20 = 0.1, the smallest 3 vs 3 allows.
# With ties, A = 1,2,2,3, B = 2,3,4,5 (normal approximation):
#   sorted 1a 2a 2a 2b 3a 3b 4b 5b; ranks 1, 3,3,3 (the 2s share 2..4),
#   5.5,5.5 (the 3s share 5..6), 7, 8. R_A = 1+3+3+5.5 = 12.5,
#   U = R_A - nA(nA+1)/2 = 12.5 - 10 = 2.5; mu = nA nB/2 = 8;
#   tie groups t = 3 and 2: sum(t^3 - t) = 24 + 6 = 30; N = 8;
#   sigma^2 = nA nB/12 ((N+1) - 30/(N(N-1))) = 16/12 (9 - 30/56) = 11.2857,
#   sigma = 3.35942; z = (|2.5 - 8| - 0.5)/sigma = 5/3.35942 = 1.48835;
#   p = 2 (1 - Phi(1.48835)) = erfc(1.48835/sqrt 2) = 0.13666.
unit=$("$PY" - <<'EOF'
import math, sys

from analysis import compare as c

def close(x, y, tol=1e-4):
    return abs(x - y) <= tol

def report(ok, what):
    print(("ok - " if ok else "FAIL - ") + what)

u, p, m, pmin = c.mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
report(u == 0 and m == "exact" and close(p, 2 / 252, 1e-12),
       f"U test 1..5 vs 6..10: U = 0, exact p = 2/252 (got U={u}, p={p}, {m})")
u, p, m, _ = c.mann_whitney([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])
report(u == 25 and close(p, 2 / 252, 1e-12), f"U test mirrored: U = 25, same p (got {u}, {p})")
u, p, m, pmin = c.mann_whitney([1, 2, 3], [4, 5, 6])
report(close(p, 0.1, 1e-12) and close(pmin, 0.1, 1e-12),
       f"U test 3 vs 3: p = 0.1 is the smallest possible (got {p}, min {pmin})")
u, p, m, _ = c.mann_whitney([1, 2, 2, 3], [2, 3, 4, 5])
report(u == 2.5 and m == "normal" and close(p, 0.13666, 5e-5),
       f"U test with ties 1,2,2,3 vs 2,3,4,5: U = 2.5, normal p = 0.13666 (got U={u}, p={p:.5f}, {m})")
u, p, m, _ = c.mann_whitney([3, 1, 2], [1.5, 2.5, 3.5])
# pairs a > b: 3>1.5, 3>2.5, 2>1.5 = 3 of 9; P(U <= 3) = 7/20 exactly: p = 0.7
report(u == 3 and m == "exact" and close(p, 0.7, 1e-12), f"U test interleaved 3 vs 3: U = 3, p = 0.7 (got {u}, {p})")
u, p, m, _ = c.mann_whitney([4, 4, 4], [4, 4, 4])
report(p == 1.0, f"U test all equal: p = 1 (got {p})")
# counts of U for 2 vs 2: U = 0,1,2,3,4 in 1,1,2,1,1 of the 6 arrangements
report(c.u_counts(2, 2) == [1, 1, 2, 1, 1], f"null distribution of U, 2 vs 2 (got {c.u_counts(2, 2)})")
report(sum(c.u_counts(7, 9)) == math.comb(16, 7), "null distribution of U, 7 vs 9, sums to C(16,7)")
report(close(c.geomean([1.25, 0.8]), 1.0, 1e-12) and close(c.geomean([2, 8]), 4.0, 1e-12),
       "geomean of ratios")
# Holm, p = .01 .04 .03 (m = 3): sorted .01 .03 .04 -> 3(.01) = .03, 2(.03) = .06,
# max(.06, 1(.04)) = .06. Benjamini-Hochberg: 3/1(.01) = .03, 3/2(.03) = .045 ->
# min(.045, .04) = .04, 3/3(.04) = .04.
h = c.adjust_p([0.01, 0.04, 0.03], "holm")
report(all(close(x, y, 1e-12) for x, y in zip(h, [0.03, 0.06, 0.06])), f"Holm adjustment (got {h})")
bh = c.adjust_p([0.01, 0.04, 0.03], "bh")
report(all(close(x, y, 1e-12) for x, y in zip(bh, [0.03, 0.04, 0.04])), f"Benjamini-Hochberg adjustment (got {bh})")
EOF
)
while IFS= read -r line; do
    echo "$line"
    case "$line" in "ok - "*) passed=$((passed + 1)) ;; *) failed=$((failed + 1)) ;; esac
done <<<"$unit"

# --- verdicts and exit codes -------------------------------------------------
# Files of two runs (no pair column): Holm by default, and never a
# regression verdict: rows that differ are named, exit 2 (no answer).
run slower $CMP "$FIX/compare_a.csv" "$FIX/compare_slower.csv"
check "A vs slower B, files of two runs: exit 2, never 1 (got $rc)" [ "$rc" -eq 2 ]
check "unpaired: the slower row is named as differing, not as a regression" \
    bash -c "grep -q '^compare: differs: atomic hammer threads=1: 10.000 -> 12.500 ns/op (+25.0%, x1.250, p = 0.0317): slower in B, drift or change' '$OUT/slower.err' && ! grep -q '^compare: regression' '$OUT/slower.err'"
check "exactly one slower row (percpu got faster; the floor is not the code)" \
    [ "$(grep -c '^compare: differs: .*slower in B' "$OUT/slower.err")" -eq 1 ]
check "unpaired: says files of two runs cannot tell drift from a change, points to the gate" \
    has slower.err "compare: note: A and B are files of two runs, not paired in time: drift of the machine between them (or what differs between two processes of the same code) cannot be told from a change, so this gives no regression verdict; for one, run the gate: ./run.sh compare --rev BASE, or --bin A --bin B"
check "unpaired: the last line is the no-verdict line with the gate" \
    bash -c "tail -n 1 '$OUT/slower.err' | grep -q '^compare: no verdict: 1 of 4 benchmark(s) are slower in B than A, in files of two runs, which cannot tell drift from a change; for a verdict, the gate: ./run.sh compare --rev BASE'"
check "table: atomic hammer slower (Holm by default: 4 x 2/252 = 0.0317)" grep -qE '^atomic hammer .* 1\.250 +0\.0317  slower$' "$OUT/slower.out"
check "table: Holm named in the header" grep -q 'p_holm  verdict$' "$OUT/slower.out"
check "table: each side's spread, the interval decide prints (±2% of 5 repetitions)" grep -qE '^atomic hammer .* 10\.000 +12\.500 +±2%/±2% +1\.250 ' "$OUT/slower.out"
check "table: percpu hammer faster" grep -qE '^percpu hammer .* 0\.800 +0\.0317  faster$' "$OUT/slower.out"
check "table: refcount hammer same" grep -qE '^refcount hammer .* 1\.000 +1\.0000  same$' "$OUT/slower.out"
check "table: lookup_mutex/put_mutex w=1000 keyed by variant and writer rate" \
    grep -qE '^mutex lookup_mutex/put_mutex w=1000 +2 +1024 .* same$' "$OUT/slower.out"
check "geomean line (1.25 x 1 x 0.8 x 1)" \
    has slower.out "geomean B/A over 4 benchmarks (floors excluded): 1.0000 (+0.0%)"
check "floors reported apart" has slower.out "floors: the machine, not the code (never a regression)"
check "floor local slower, in the floors section only" \
    bash -c "sed -n '/^floors:/,\$p' '$OUT/slower.out' | grep -qE '^floor local .* 1\.300 .* slower$'"
check "floors' own geomean line" has slower.out "geomean B/A over 2 floors: 1.1402 (+14.0%)"
check "result line says DIFFERS, not REGRESSION" has slower.out "result: 1 slower, 1 faster, 2 same -> DIFFERS (files of two runs: drift or change; the gate decides)"
check "rows whose check is not ok are ignored and counted" \
    has slower.err "compare: note: ignored rows whose check is not ok: 1 in A, 0 in B"
check "the failed row (999 ns) does not move A's median (10.000)" grep -qE '^atomic hammer .* 10\.000 +12\.500 ' "$OUT/slower.out"
check "sidecar mismatch: kernel warned" has slower.err "compare: warning: kernel differs: A 'Linux 6.1.0-18-amd64 x86_64', B 'Linux 6.12.0-1-amd64 x86_64'"
check "sidecar mismatch: cflags warned" has slower.err "compare: warning: cflags differs:"
check "sidecar: equal cpu_model and compiler not warned" \
    bash -c "! grep -qE 'warning: (cpu_model|compiler) differs' '$OUT/slower.err'"
check "no traceback" no_traceback slower

run same $CMP "$FIX/compare_a.csv" "$FIX/compare_same.csv"
check "A vs same B: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "same: no regression or differs line" bash -c "! grep -qE '^compare: (regression|differs)' '$OUT/same.err'"
check "same: equal sidecars, no warning" lacks same.err "warning"
check "same: a floor 30% slower is not a regression" grep -qE '^floor local .* slower$' "$OUT/same.out"
check "same: result line" has same.out "result: 0 slower, 0 faster, 4 same -> no significant regression"

run faster $CMP "$FIX/compare_a.csv" "$FIX/compare_faster.csv"
check "A vs faster B: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "faster: atomic hammer faster, named as differing, exit 0 (nothing slower)" \
    bash -c "grep -qE '^atomic hammer .* 0\.700 +0\.0[0-9]{3}  faster$' '$OUT/faster.out' && grep -q '^compare: differs: atomic hammer threads=1: .*faster in B' '$OUT/faster.err'"
check "faster: missing sidecar is a note" has faster.err "compare: note: no sidecar for B"

run reverse $CMP "$FIX/compare_slower.csv" "$FIX/compare_a.csv" --threshold 30
check "threshold 30%: a 25% change is 'same' (exit 0, got $rc)" [ "$rc" -eq 0 ]
run alpha $CMP "$FIX/compare_a.csv" "$FIX/compare_slower.csv" --alpha 0.01 --adjust none
check "alpha 0.01, unadjusted: p = 0.0079 is still significant: slower, exit 2 (got $rc)" \
    bash -c "[ $rc -eq 2 ] && grep -qE '^atomic hammer .* 0\.0079  slower$' '$OUT/alpha.out'"
run alphaholm $CMP "$FIX/compare_a.csv" "$FIX/compare_slower.csv" --alpha 0.01
check "alpha 0.01 with the default Holm: 4 x 0.0079 can never pass: undecided, exit 2 (got $rc)" \
    bash -c "[ $rc -eq 2 ] && grep -q '^compare: undecided: 4 of 4' '$OUT/alphaholm.err'"
run alpha2 $CMP "$FIX/compare_a.csv" "$FIX/compare_slower.csv" --alpha 0.005
check "alpha 0.005: 5 vs 5 can never reach it (smallest p 0.0079): undecided, exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "alpha 0.005: verdict same*, nothing named a regression" \
    bash -c "grep -qE '^atomic hammer .*  same\*$' '$OUT/alpha2.out' && ! grep -qE '^compare: (regression|differs)' '$OUT/alpha2.err'"

run holm $CMP "$FIX/compare_a.csv" "$FIX/compare_slower.csv" --adjust holm
check "--adjust holm: 4 x 0.0079 = 0.0317 < 0.05, still slower (exit 2: files, got $rc)" \
    bash -c "[ $rc -eq 2 ] && grep -qE '^atomic hammer .* 1\.250 +0\.0317  slower$' '$OUT/holm.out' && grep -q 'p_holm' '$OUT/holm.out'"
run holm2 $CMP "$FIX/compare_a.csv" "$FIX/compare_slower.csv" --adjust holm --alpha 0.03
check "--adjust holm --alpha 0.03: 4 x 0.0079 = 0.0317 can never pass Holm's first step: undecided, exit 2 (got $rc)" \
    bash -c "[ $rc -eq 2 ] && ! grep -q '^compare: regression' '$OUT/holm2.err' && grep -q '^compare: undecided: 4 of 4' '$OUT/holm2.err'"
run bh $CMP "$FIX/compare_a.csv" "$FIX/compare_slower.csv" --adjust bh --format csv
check "--adjust bh: p_adj = 4/2 x 0.0079 = 0.0159 in the csv" \
    "$PY" -c "import sys; sys.exit(abs(float('$(field bh bench atomic p_adj)') - 4 / 2 * 2 / 252) > 1e-12)"

run old $CMP "$FIX/compare_a.csv" "$FIX/compare_old_schema.csv"
check "a file without variant/writer_rate compares (exit 0, got $rc)" [ "$rc" -eq 0 ]
check "old schema: the lookup row is only in A" has old.err "not compared: 1 benchmark(s) only in A, 0 only in B"
check "old schema: 3 benchmarks compared" has old.out "geomean B/A over 3 benchmarks"

# --- too few repetitions to reach alpha ---------------------------------------
run reps3 $CMP "$FIX/compare_3reps_a.csv" "$FIX/compare_3reps_b.csv"
check "3 vs 3 repetitions: exit 2, cannot decide (got $rc)" [ "$rc" -eq 2 ]
check "3 vs 3: the report still prints, verdict same*" grep -qE '^atomic hammer .* 2\.000 +0\.1000  same\*$' "$OUT/reps3.out"
check "3 vs 3: note says why and what to do" has reps3.err "too few clean repetitions to ever reach p < 0.05 after holm (nA, nB = 3, 3: smallest possible p up to 0.1)"
check "3 vs 3: the +100% is named as unconfirmed" has reps3.err "compare: note: unconfirmed (underpowered): atomic hammer threads=1"
check "3 vs 3: last line explains the exit" \
    [ "$(tail -n 1 "$OUT/reps3.err")" = "compare: undecided: 1 of 1 benchmark(s) have too few clean repetitions to reach p < 0.05 (4 or more clean repetitions a side (--reps 4) could reach it, or run the gate, ./run.sh compare --rev BASE)" ]
run reps3a $CMP "$FIX/compare_3reps_a.csv" "$FIX/compare_3reps_b.csv" --alpha 0.2
check "3 vs 3 with --alpha 0.2: p = 0.1 suffices: differs, exit 2, not 1 (got $rc)" \
    bash -c "[ $rc -eq 2 ] && grep -q '^compare: differs: atomic hammer' '$OUT/reps3a.err'"

# --- the hand-checked cases through the CLI, as CSV and JSON -------------------
run ties $CMP "$FIX/compare_ties_a.csv" "$FIX/compare_ties_b.csv" --format csv
check "ties via CLI: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "ties via CLI: U = 2.5" [ "$(field ties bench atomic u)" = "2.5" ]
check "ties via CLI: normal approximation" [ "$(field ties bench atomic p_method)" = "normal" ]
check "ties via CLI: p = 0.13666" "$PY" -c "import sys; sys.exit(abs(float('$(field ties bench atomic p)') - 0.13666) > 5e-5)"
run exact $CMP "$FIX/compare_exact_a.csv" "$FIX/compare_exact_b.csv" --format csv
check "exact via CLI: exit 2, files of two runs (got $rc)" [ "$rc" -eq 2 ]
check "exact via CLI: p = 2/252" "$PY" -c "import sys; sys.exit(abs(float('$(field exact bench atomic p)') - 2/252) > 1e-12)"
check "exact via CLI: verdict slower" [ "$(field exact bench atomic verdict)" = "slower" ]

run csv $CMP "$FIX/compare_a.csv" "$FIX/compare_slower.csv" --format csv
check "csv: exit 2 as for the table (got $rc)" [ "$rc" -eq 2 ]
check "csv parses: 6 rows, a geomean and a floor_geomean row, the key columns" "$PY" -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
kinds = [r["kind"] for r in rows]
need = {"backend", "workload", "threads", "placement", "objects", "work_ns", "variant", "writer_rate",
        "median_a", "median_b", "ratio", "p", "verdict"}
ok = (kinds.count("bench") == 4 and kinds.count("floor") == 2 and kinds[-2:] == ["geomean", "floor_geomean"]
      and need <= set(rows[0]) and abs(float(rows[-2]["ratio"]) - 1.0) < 1e-12
      and {r["verdict"] for r in rows if r["kind"] == "bench"} == {"slower", "faster", "same"})
sys.exit(not ok)' "$OUT/csv.out"
check "csv: stderr still names the row" has csv.err "compare: differs: atomic hammer"

run json $CMP "$FIX/compare_a.csv" "$FIX/compare_slower.csv" --format json
check "json: exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "json parses: benchmarks, floors, geomean, regressions, warnings, exit" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
ok = (len(d["benchmarks"]) == 4 and len(d["floors"]) == 2 and abs(d["geomean"] - 1.0) < 1e-12
      and d["regressions"] == [] and d["exit"] == 2 and d["adjust"] == "holm"
      and d["differs"] == ["atomic hammer threads=1", "percpu hammer threads=1"]
      and d["result"].startswith("DIFFERS") and abs(d["benchmarks"][0]["spread_a"] - 2.0) < 0.01
      and d["a"]["ignored_check_not_ok"] == 1 and d["threshold_pct"] == 5 and d["alpha"] == 0.05
      and any("kernel differs" in w for w in d["warnings"])
      and d["counts"] == {"slower": 1, "faster": 1, "same": 2}
      and d["benchmarks"][0]["p_method"] == "exact")
sys.exit(not ok)' "$OUT/json.out"

# --- bad input: exit 2, one "compare: " line on stderr, nothing on stdout ------
printf 'x' >"$OUT/empty-ish.csv"; : >"$OUT/empty.csv"
head -n 1 "$FIX/compare_a.csv" >"$OUT/header-only.csv"
mkbad() {  # mkbad NAME SED-EXPR: compare_a.csv with one change
    sed "$2" "$FIX/compare_a.csv" >"$OUT/$1.csv"
}
mkbad nan 's/^atomic,hammer,1,cores,1,0,2,1000034,9.900,/atomic,hammer,1,cores,1,0,2,1000034,nan,/'
mkbad inf 's/^atomic,hammer,1,cores,1,0,2,1000034,9.900,/atomic,hammer,1,cores,1,0,2,1000034,inf,/'
mkbad negative 's/^atomic,hammer,1,cores,1,0,2,1000034,9.900,/atomic,hammer,1,cores,1,0,2,1000034,-9.900,/'
mkbad text 's/^atomic,hammer,1,cores,1,0,2,1000034,9.900,/atomic,hammer,1,cores,1,0,2,1000034,fast,/'
mkbad zero 's/^atomic,hammer,1,cores,1,0,2,1000034,9.900,/atomic,hammer,1,cores,1,0,2,1000034,0.000,/'
mkbad threads 's/^refcount,hammer,1,/refcount,hammer,one,/'
mkbad writer_nan 's/,put_mutex,1000$/,put_mutex,NaN/'
mkbad short_middle '3s/,"ok",,0$//'
mkbad allfail 's/"ok"/"count 2 != 1"/'
head -c -1 "$FIX/compare_a.csv" | sed '$ s/,"ok",put_mutex,1000$/,"o/' >"$OUT/cut_nonl.csv"
sed '$ s/,"ok",put_mutex,1000$//' "$FIX/compare_a.csv" >"$OUT/cut_nl.csv"
printf '\x89PNG\r\n\x1a\n\xff\xfe\x00binary' >"$OUT/binary.csv"
mkdir -p "$OUT/a-directory.csv"

bad_case() {  # bad_case NAME EXPECTED-TEXT COMPARE-ARGS...
    local name=$1 text=$2; shift 2
    run "bad-$name" "$@"
    check "$name: exit 2 (got $rc)" [ "$rc" -eq 2 ]
    check "$name: one stderr line, 'compare: ...' ($(head -n 1 "$OUT/bad-$name.err"))" \
        bash -c "[ \$(wc -l < '$OUT/bad-$name.err') -eq 1 ] && grep -q '^compare: ' '$OUT/bad-$name.err'"
    check "$name: says '$text'" has "bad-$name.err" "$text"
    check "$name: nothing on stdout, no traceback" \
        bash -c "[ ! -s '$OUT/bad-$name.out' ] && ! grep -q Traceback '$OUT/bad-$name.err'"
}
A=$FIX/compare_a.csv
bad_case "missing file" "no such file" $CMP "$OUT/nope.csv" "$A"
bad_case "missing file (B)" "no such file" $CMP "$A" "$OUT/nope.csv"
bad_case "a directory" "is a directory" $CMP "$A" "$OUT/a-directory.csv"
bad_case "unreadable (binary)" "not UTF-8" $CMP "$A" "$OUT/binary.csv"
if [ "$(id -u)" -ne 0 ]; then
    cp "$A" "$OUT/noperm.csv"; chmod 000 "$OUT/noperm.csv"
    bad_case "unreadable (permissions)" "cannot read" $CMP "$A" "$OUT/noperm.csv"
fi
bad_case "empty file" "empty file" $CMP "$OUT/empty.csv" "$A"
bad_case "one byte, no header" "lacks required column" $CMP "$A" "$OUT/empty-ish.csv"
bad_case "wrong schema (no ns_per_op)" "header lacks required column(s) ns_per_op" $CMP "$A" "$FIX/compare_bad_header.csv"
bad_case "header only" "no data rows" $CMP "$OUT/header-only.csv" "$A"
bad_case "no rows in common" "no benchmark in common" $CMP "$A" "$FIX/compare_disjoint.csv"
bad_case "NaN" "ns_per_op 'nan' is not a finite number" $CMP "$A" "$OUT/nan.csv"
bad_case "inf" "ns_per_op 'inf' is not a finite number" $CMP "$OUT/inf.csv" "$A"
bad_case "negative" "ns_per_op '-9.900' is negative" $CMP "$A" "$OUT/negative.csv"
bad_case "non-numeric" "ns_per_op 'fast' is not a number" $CMP "$A" "$OUT/text.csv"
bad_case "zero ns_per_op" "ns_per_op '0.000' is not positive" $CMP "$A" "$OUT/zero.csv"
bad_case "non-numeric threads" "threads 'one' is not a number" $CMP "$A" "$OUT/threads.csv"
bad_case "NaN writer_rate" "writer_rate 'NaN' is not a finite number" $CMP "$A" "$OUT/writer_nan.csv"
bad_case "short row mid-file" "line 3: 13 fields, header has 16" $CMP "$A" "$OUT/short_middle.csv"
bad_case "truncated last row (fixture)" "truncated last row (line 33: 9 of 16 fields, no trailing newline)" \
    $CMP "$A" "$FIX/compare_truncated.csv"
bad_case "truncated last row, cut in a quoted field" "truncated last row" $CMP "$A" "$OUT/cut_nonl.csv"
bad_case "truncated last row, with newline" "truncated last row (line 32: 13 of 16 fields)" $CMP "$A" "$OUT/cut_nl.csv"
bad_case "every row failed its check" "every row failed its self-check" $CMP "$A" "$OUT/allfail.csv"
bad_case "bad --threshold" "--threshold -1 must be" $CMP "$A" "$A" --threshold -1
bad_case "bad --alpha" "--alpha 1.5 must be between 0 and 1" $CMP "$A" "$A" --alpha 1.5
bad_case "bad --format" "invalid choice" $CMP "$A" "$A" --format xml
bad_case "one file only" "required" $CMP "$A"
bad_case "run.sh compare, missing file" "no such file" "$SRC/run.sh" compare "$A" "$OUT/nope.csv"

run runsh "$SRC/run.sh" compare "$A" "$FIX/compare_slower.csv" --format csv
check "./run.sh compare A B: exit 2 as compare.py (got $rc)" [ "$rc" -eq 2 ]
check "./run.sh compare A B --format csv: atomic slower" [ "$(field runsh bench atomic verdict)" = "slower" ]

# --- clean repetitions, duplicates, nothing compared, fast paths, pairs -------
# Files in the measurement model's schema (attempt, disturbed, canary_ns,
# fast_path), made here with known figures.
"$PY" - "$OUT" <<'EOF'
import csv, math, random, sys
out = sys.argv[1]
COLS = ["backend", "workload", "threads", "placement", "objects", "work_ns", "rep", "iterations",
        "ns_per_op", "ops_per_s", "norm", "fairness", "cpus", "check", "variant", "writer_rate",
        "attempt", "disturbed", "canary_ns", "fast_path"]

def row(backend, workload, rep, ns, attempt=0, disturbed="", fast_path="n/a", threads=1, **extra):
    r = {"backend": backend, "workload": workload, "threads": threads, "placement": "cores",
         "objects": 1, "work_ns": 0, "rep": rep, "iterations": 1000000, "ns_per_op": f"{ns:.3f}",
         "ops_per_s": int(1e9 / ns), "norm": "", "fairness": "1.0000", "cpus": "0", "check": "ok",
         "variant": "", "writer_rate": 0, "attempt": attempt, "disturbed": disturbed,
         "canary_ns": "1000.0", "fast_path": fast_path}
    r.update(extra)
    return r

def write(name, rows, extra_cols=()):
    with open(f"{out}/{name}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, COLS + list(extra_cols), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)

same = [10.0, 10.1, 9.9, 10.05, 9.95, 10.02]
# A: six clean repetitions, and a seventh whose three attempts were all disturbed.
a = [row("atomic", "hammer", i, v) for i, v in enumerate(same)]
a += [row("atomic", "hammer", 6, 40.0 + k, attempt=k, disturbed="task_clock 0.52") for k in range(3)]
a += [row("percpu", "hammer", i, 2.0 + 0.01 * i, fast_path="rseq") for i in range(6)]
write("clean_a", a)
# B: the same figures clean, each repetition after one disturbed attempt at
# 13 ns: counted, those would make B 15% slower with p < 0.01.
b = []
for i, v in enumerate(same):
    b += [row("atomic", "hammer", i, 13.0 + 0.01 * i, attempt=0, disturbed="canary 1.34"),
          row("atomic", "hammer", i, v, attempt=1)]
b += [row("percpu", "hammer", i, 2.0 + 0.01 * i, fast_path="atomic") for i in range(6)]
write("clean_b", b)
# B, mostly disturbed: two disturbed attempts before each clean one.
b2 = []
for i, v in enumerate(same):
    b2 += [row("atomic", "hammer", i, 13.0, attempt=0, disturbed="steal 12%"),
           row("atomic", "hammer", i, 13.5, attempt=1, disturbed="steal 9%"),
           row("atomic", "hammer", i, v, attempt=2)]
write("busy_b", b2)
write("alldisturbed", [row("atomic", "hammer", i, 13.0, disturbed="migrations 3") for i in range(5)])
# B measured percpu hammer too, but never cleanly.
write("dirty_b", [row("atomic", "hammer", i, v) for i, v in enumerate(same)] +
      [row("percpu", "hammer", i, 2.0, disturbed="invol_switches 2") for i in range(6)])
# The same repetition twice with different figures (two runs pasted together).
write("conflict", [row("atomic", "hammer", i, v) for i, v in enumerate(same)] +
      [row("atomic", "hammer", 2, 11.0)])
# Floors only (a candidate that died after its floors).
write("floors_only", [row("floor", "local", i, 1.0 + 0.01 * i) for i in range(6)])
write("floors_a", [row("floor", "local", i, 1.0 + 0.01 * i) for i in range(6)] + a[:6])
# One benchmark with enough repetitions, one with two: cannot answer for it.
write("short_b", [row("atomic", "hammer", i, v) for i, v in enumerate(same)] +
      [row("percpu", "hammer", i, 2.0) for i in range(2)])

# A gate's joined files: 40 process pairs, B 10% slower on atomic only,
# lognormal noise of 4% per process, a drifting machine.
rng = random.Random(5)
pa, pb = [], []
speed = 0.0
for p in range(1, 41):
    speed += rng.gauss(0, 0.05)
    for backend in ("atomic", "refcount"):
        for workload in ("hammer", "private"):
            base = 9.0 * math.exp(speed)
            va = base * math.exp(rng.gauss(0, 0.04))
            vb = base * math.exp(rng.gauss(0, 0.04)) * (1.10 if backend == "atomic" else 1.0)
            pa.append(row(backend, workload, 0, va, pair=p, position=1))
            pb.append(row(backend, workload, 0, vb, pair=p, position=2))
write("paired_a", pa, ("pair", "position"))
write("paired_b", pb, ("pair", "position"))
pb_same = [dict(r, ns_per_op=f"{float(r['ns_per_op']) / (1.10 if r['backend'] == 'atomic' else 1.0):.3f}")
           for r in pb]
write("paired_same", pb_same, ("pair", "position"))
# Clean on each side, but never in the same pair: A in pairs 1-3, B in 4-6.
write("apart_a", [row("atomic", "hammer", 0, 10.0, pair=p, position=1,
                      disturbed="" if p <= 3 else "canary 1.30") for p in range(1, 7)], ("pair", "position"))
write("apart_b", [row("atomic", "hammer", 0, 10.0, pair=p, position=2,
                      disturbed="" if p > 3 else "canary 1.30") for p in range(1, 7)], ("pair", "position"))
EOF

run clean $CMP "$OUT/clean_a.csv" "$OUT/clean_b.csv"
check "disturbed attempts are left out: B's clean figures equal A's, exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "disturbed: counted per side, with the repetition that never got a clean attempt" \
    has clean.err "compare: note: disturbed attempts left out: A 3 of 15 attempts disturbed (1 repetition without a clean one); B 6 of 18 attempts disturbed"
check "disturbed: half is not most (no loud warning)" lacks clean.err "MOST OF"
check "disturbed: 6 clean repetitions a side compared" grep -qE '^atomic hammer .* 6 +6 +10\.010 +10\.010 +±[0-9]+%/±[0-9]+% +1\.000 ' "$OUT/clean.out"
check "fast path differs for percpu hammer: warned" \
    has clean.err "compare: warning: percpu hammer threads=1: the fast path differs (A rseq, B atomic)"
check "fast path: atomic (n/a on both sides) not warned" bash -c "! grep -q 'atomic hammer threads=1: the fast path' '$OUT/clean.err'"
run busy $CMP "$OUT/clean_a.csv" "$OUT/busy_b.csv"
check "mostly disturbed: still compared on the clean ones (exit 0, got $rc)" [ "$rc" -eq 0 ]
check "mostly disturbed: a loud warning" \
    has busy.err "compare: warning: MOST OF B'S REPETITIONS WERE DISTURBED: 12 of 18 attempts disturbed;"
run dirty $CMP "$OUT/clean_a.csv" "$OUT/dirty_b.csv"
check "a benchmark both measured but B never cleanly: not silently dropped, exit 2 (got $rc)" \
    bash -c "[ $rc -eq 2 ] && grep -q 'not compared: percpu hammer threads=1: measured on both sides but never cleanly' '$OUT/dirty.err' && grep -q '^compare: undecided: 1 of 2' '$OUT/dirty.err'"
bad_case "every repetition disturbed" "every repetition was disturbed: 5 of 5 attempts disturbed (5 repetitions without a clean one); nothing clean to compare" \
    $CMP "$OUT/clean_a.csv" "$OUT/alldisturbed.csv"

cat "$FIX/compare_a.csv" "$FIX/compare_a.csv" >"$OUT/doubled.csv"
run doubled $CMP "$OUT/doubled.csv" "$FIX/compare_slower.csv" --format json
check "a file joined with itself: each row counted once (same p as the single file, 2/252)" \
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(not (abs(d["benchmarks"][0]["p"] - 2/252) < 1e-12 and d["a"]["duplicate_rows"] == 31 and d["benchmarks"][0]["n_a"] == 5))' "$OUT/doubled.out"
check "a file joined with itself: warned" has doubled.err "31 row(s) repeat an earlier row exactly"
cat "$FIX/compare_3reps_a.csv" "$FIX/compare_3reps_a.csv" >"$OUT/doubled3a.csv"
cat "$FIX/compare_3reps_b.csv" "$FIX/compare_3reps_b.csv" >"$OUT/doubled3b.csv"
run doubled3 $CMP "$OUT/doubled3a.csv" "$OUT/doubled3b.csv"
check "3 vs 3 joined with themselves stays 3 vs 3: undecided, exit 2, no regression (got $rc)" \
    bash -c "[ $rc -eq 2 ] && ! grep -q '^compare: regression' '$OUT/doubled3.err'"
bad_case "the same repetition with other figures" "line 8: repeats the measurement of line 4 (atomic hammer 1, rep 2, attempt 0)" \
    $CMP "$OUT/clean_a.csv" "$OUT/conflict.csv"

run floorsonly $CMP "$OUT/floors_a.csv" "$OUT/floors_only.csv"
check "only floors in common: exit 2, never 0 (got $rc)" [ "$rc" -eq 2 ]
check "only floors in common: says nothing was compared" \
    has floorsonly.err "compare: nothing compared: the files share only floors (1), no benchmark"
run short $CMP "$OUT/clean_a.csv" "$OUT/short_b.csv"
check "one benchmark with 2 repetitions beside a decided one: exit 2, not 0 (got $rc)" [ "$rc" -eq 2 ]
check "one undecidable benchmark: named in the exit line" has short.err "compare: undecided: 1 of 2 benchmark(s)"

run paired $CMP "$OUT/paired_a.csv" "$OUT/paired_b.csv"
check "gate files (pair column): paired analysis finds atomic 10% slower (exit 1, got $rc)" [ "$rc" -eq 1 ]
check "paired: regressions named for atomic only" \
    [ "$(sed -n 's/^compare: regression: \([^ ]*\) .*/\1/p' "$OUT/paired.err" | sort -u | tr '\n' ' ')" = "atomic " ]
check "paired: the report says so, with pairs, interval and detectable change" \
    bash -c "grep -q 'paired: Wilcoxon signed rank' '$OUT/paired.out' && grep -qE '^atomic hammer +1 +40 .* 1\.[01][0-9]{2} +\[1\.[0-9]{3}, 1\.[0-9]{3}\] .*%  slower$' '$OUT/paired.out'"
check "paired: defaults Holm, alpha 0.01, 3%" has paired.out "beyond ±3% and p < 0.01 (p Holm-adjusted over the benchmarks)"
check "paired: regression line carries the interval" grep -qE '^compare: regression: atomic hammer threads=1: .*95% \[1\.[0-9]{3}, 1\.[0-9]{3}\]' "$OUT/paired.err"
run pairedsame $CMP "$OUT/paired_a.csv" "$OUT/paired_same.csv"
check "paired, no change: exit 0 (got $rc)" [ "$rc" -eq 0 ]
run pairedjson $CMP "$OUT/paired_a.csv" "$OUT/paired_b.csv" --format json
check "paired json: analysis, n_pairs, interval and detectable per row" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
b = d["benchmarks"]
sys.exit(not (d["analysis"] == "paired" and all(r["n_pairs"] == 40 and r["ci_low"] <= r["ratio"] <= r["ci_high"]
              and 0 < r["detectable_pct"] < 10 for r in b) and d["exit"] == 1))' "$OUT/pairedjson.out"
run apart $CMP "$OUT/apart_a.csv" "$OUT/apart_b.csv"
check "paired: clean on both sides but never in the same pair: undecided, exit 2 (got $rc)" \
    bash -c "[ $rc -eq 2 ] && grep -q '^compare: undecided: none of the 1 benchmark(s) measured on both sides has a clean pair' '$OUT/apart.err'"
run halfpaired $CMP "$OUT/paired_a.csv" "$OUT/clean_b.csv"
check "one gate file and one plain file: compared unpaired, said so" has halfpaired.err "only one file has process pairs: compared unpaired"

# Relative paths mean the caller's directory, through run.sh too.
mkdir -p "$OUT/elsewhere"
cp "$OUT/paired_a.csv" "$OUT/paired_b.csv" "$OUT/elsewhere/"
rc=0
(cd "$OUT/elsewhere" && "$SRC/run.sh" compare paired_a.csv paired_b.csv >"$OUT/relative.out" 2>"$OUT/relative.err") || rc=$?
check "./run.sh compare with relative paths from another directory: read there (exit 1, got $rc)" \
    bash -c "[ $rc -eq 1 ] && grep -q '^A: paired_a.csv' '$OUT/relative.out'"

# --- the committed baseline (results/baseline/): a real run, as it was written --
# So that a change to the CSV (or to this reader) that could no longer read
# earlier results fails here. Medians are recomputed independently.
BASE=$(find "$SRC/results/baseline" -name '*.csv' 2>/dev/null | sort | head -n 1)
check "a committed baseline run exists (results/baseline/*.csv)" test -n "$BASE" -a -f "$BASE"
if [ -n "$BASE" ]; then
    run base $CMP "$BASE" "$BASE" --format json --adjust none
    check "baseline vs itself: exit 0 (got $rc)" [ "$rc" -eq 0 ]
    check "baseline vs itself: only the files-mode note on stderr (its sidecar is read, the same on both sides)" \
        bash -c "[ \$(wc -l < '$OUT/base.err') -eq 1 ] && grep -q '^compare: note: A and B are files of two runs' '$OUT/base.err'"
    run baseholm $CMP "$BASE" "$BASE"
    check "baseline vs itself, Holm over every row: 5 vs 5 cannot pass, exit 2 undecided, never 1 (got $rc)" \
        bash -c "[ $rc -eq 2 ] && ! grep -qE '^compare: (regression|differs)' '$OUT/baseholm.err'"
    pycheck "baseline" '
import csv, json, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
out = json.load(open(sys.argv[2]))
def key(b, w, t, pl, o, wn, v, wr):
    return (b, w, int(t), pl, int(o), float(wn), v, float(wr or 0))
med = {}
for r in rows:
    k = key(r["backend"], r["workload"], r["threads"], r["placement"], r["objects"],
            r["work_ns"], r["variant"], r["writer_rate"])
    med.setdefault(k, []).append(float(r["ns_per_op"]))
med = {k: statistics.median(v) for k, v in med.items()}
benches = {k for k in med if k[0] != "floor"}
def ok(cond, what):
    print(("ok - " if cond else "FAIL - ") + "baseline: " + what)
def jkey(b):
    return key(b["backend"], b["workload"], b["threads"], b["placement"], b["objects"],
               b["work_ns"], b["variant"], b["writer_rate"])
ok(all(r["check"] == "ok" for r in rows), "every row of the committed run checked ok (%d rows)" % len(rows))
ok(len(out["benchmarks"]) == len(benches),
   "one comparison per benchmark (%d, the file has %d)" % (len(out["benchmarks"]), len(benches)))
ok(len(out["floors"]) == len(med) - len(benches), "the floors reported apart (%d)" % len(out["floors"]))
ok(all(jkey(b) in med and abs(b["median_a"] - med[jkey(b)]) < 1e-9 for b in out["benchmarks"] + out["floors"]),
   "every median is the median of the rows")
ok(all(b["verdict"] == "same" and b["ratio"] == 1.0 and not b["underpowered"] for b in out["benchmarks"]),
   "against itself every benchmark is the same, ratio 1, with repetitions enough to be tested")
ok(out["exit"] == 0 and out["geomean"] == 1.0, "exit 0 and geomean 1 in the JSON")
' "$BASE" "$OUT/base.out"
fi

# --- files of two runs of the same code: 0 or 2, never 1 ----------------------
# The machine drifted 10% between the runs (every row slower) and each row's
# figures moved on their own: what two runs of unchanged code look like here.
if [ -n "$BASE" ]; then
    "$PY" - "$BASE" "$OUT/drift.csv" <<'EOF2'
import csv, random, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
rng = random.Random(3)
shift = {}
for r in rows:
    k = (r["backend"], r["workload"], r["threads"], r["variant"], r["writer_rate"], r["objects"])
    shift.setdefault(k, rng.lognormvariate(0, 0.2))
    r["ns_per_op"] = f"{float(r['ns_per_op']) * 1.10 * shift[k]:.3f}"
with open(sys.argv[2], "w", newline="") as f:
    w = csv.DictWriter(f, list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
EOF2
    cp "${BASE%.csv}.json" "$OUT/drift.json"
    for args in "" "--adjust bh" "--adjust none"; do
        run drift $CMP "$BASE" "$OUT/drift.csv" $args
        check "same code, drifted machine, unpaired ${args:-(Holm)}: exit 0 or 2, never 1 (got $rc)" \
            bash -c "[ $rc -ne 1 ] && ! grep -q '^compare: regression' '$OUT/drift.err' && grep -q 'run the gate' '$OUT/drift.err'"
    done
    check "same code, drifted, unadjusted: the rows that moved are named as differing" \
        bash -c "grep -q '^compare: differs: ' '$OUT/drift.err' && [ $rc -eq 2 ]"
fi

# --- a different CPU model refuses a verdict ----------------------------------
cp "$FIX/compare_same.csv" "$OUT/othercpu.csv"
sed 's/"cpu_model": *"[^"]*"/"cpu_model": "Another CPU 9000"/' "$FIX/compare_same.json" >"$OUT/othercpu.json"
check "the fixture sidecar names a cpu_model (the next checks need one)" grep -q '"cpu_model": "Another CPU 9000"' "$OUT/othercpu.json"
run othercpu $CMP "$FIX/compare_a.csv" "$OUT/othercpu.csv"
check "different CPU models: exit 2, one line, nothing on stdout (got $rc)" \
    bash -c "[ $rc -eq 2 ] && [ \$(wc -l < '$OUT/othercpu.err') -eq 1 ] && [ ! -s '$OUT/othercpu.out' ] && grep -q '^compare: no verdict: A and B ran on different CPUs (A .*, B .Another CPU 9000.): their figures differ for that reason alone; --allow-different-cpu compares them anyway' '$OUT/othercpu.err'"
run othercpuok $CMP "$FIX/compare_a.csv" "$OUT/othercpu.csv" --allow-different-cpu
check "--allow-different-cpu: compared, the difference warned (exit 0, got $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q 'compare: warning: cpu_model differs' '$OUT/othercpuok.err'"

# --- plot --compare ----------------------------------------------------------
is_png() {  # PNG magic and more than 1 KB
    [ -f "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] \
        && [ "$(stat -c %s "$1")" -gt 1024 ]
}
charts=$OUT/charts
run plot "$PY" "$SRC/plots/plot.py" --compare "$A" "$FIX/compare_slower.csv" --out "$charts"
check "plot --compare: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "plot --compare: compare-ratio.png is a PNG" is_png "$charts/compare-ratio.png"
check "plot --compare: compare-ratio.svg is an SVG" grep -q '<svg' "$charts/compare-ratio.svg"
check "plot --compare: prints the output dir" [ "$(tail -n 1 "$OUT/plot.out")" = "plots: 1 chart in $charts" ]
check "plot --compare: ratios and verdict legend in the SVG" \
    bash -c "grep -qF '×1.250' '$charts/compare-ratio.svg' && grep -qF 'slower' '$charts/compare-ratio.svg' && grep -qF '±5% band' '$charts/compare-ratio.svg'"
check "plot --compare: warns about the sidecars too" has plot.err "plot: warning: kernel differs"
mkdir -p "$OUT/rounds"
cp "$OUT/paired_a.csv" "$OUT/rounds/a.csv"; cp "$OUT/paired_b.csv" "$OUT/rounds/b.csv"
run plotrun "$SRC/run.sh" plot --compare "$OUT/rounds/a.csv" "$OUT/rounds/b.csv"
check "./run.sh plot --compare of a gate's files: default dir <dir of B>/a-vs-b-compare" \
    bash -c "[ $rc -eq 0 ] && [ -f '$OUT/rounds/a-vs-b-compare/compare-ratio.svg' ] && grep -qx 'plots: 1 chart in $OUT/rounds/a-vs-b-compare' '$OUT/plotrun.out'"
run plotbad "$PY" "$SRC/plots/plot.py" --compare "$A" "$OUT/nan.csv" --out "$OUT/plotbad"
check "plot --compare, bad input: exit 2, one 'plot: ' line, no dir (got $rc)" \
    bash -c "[ $rc -eq 2 ] && [ \$(wc -l < '$OUT/plotbad.err') -eq 1 ] && grep -q '^plot: .*not a finite number' '$OUT/plotbad.err' && [ ! -e '$OUT/plotbad' ]"
run plotclean "$PY" "$SRC/plots/plot.py" "$OUT/clean_b.csv" --out "$OUT/plotclean"
check "plot: clean repetitions only, and says how many attempts it left out (exit 0, got $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -qF 'plot: warning: $OUT/clean_b.csv: charts from clean repetitions only: 6 of 18 attempts disturbed' '$OUT/plotclean.err'"
run plotbusy "$PY" "$SRC/plots/plot.py" "$OUT/busy_b.csv" --out "$OUT/plotbusy"
check "plot: a mostly disturbed file is warned about loudly" has plotbusy.err "MOST REPETITIONS WERE DISTURBED"
run plotboth "$PY" "$SRC/plots/plot.py" "$A" --compare "$A" "$A"
check "plot: a results file and --compare together: exit 2 (got $rc)" [ "$rc" -eq 2 ]

check_summary
