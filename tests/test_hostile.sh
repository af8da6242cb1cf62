#!/bin/bash
# Hostile input and faults against the benchmark and run.sh (issue 10's
# classes; compare's own are in test_compare.sh). Every case asserts its exit
# code, one clear message, and that an earlier run's files stay
# byte-identical:
#   A. values that round-trip: a CPU-list placement and every text field
#      come back unchanged through the CSV (one quoting writer);
#   B. a full disk (a file size limit fails writes the same way): exit 1, one
#      line, complete rows only, files that parse, a sidecar that says why;
#   C. interrupted runs: every file left parses;
#   D. signals to run.sh reach the benchmark (130/143, no orphan, rows kept);
#   E. files are created, never followed: symlinks at the CSV, the sidecar
#      and their temporaries; closed standard streams;
#   F. paths mean what the caller's shell means (run.sh bench/plot from
#      another directory); ./run.sh --help and --plan are the sweep's options;
#   G. list options: repeats, empty items, too many, out of range;
#   H. bounded cost: --work-ns vs the window, --objects, --topology size;
#   I. profile: options after -- that would profile something else.
#   usage: tests/test_hostile.sh BINARY SRC_DIR WORK_DIR
set -uo pipefail
BIN=$1
SRC=$2
WORK=$3
PY=/usr/bin/python3
case "$WORK" in ""|/) echo "refusing WORK_DIR '$WORK'" >&2; exit 2 ;; esac
rm -rf -- "$WORK" && mkdir -p -- "$WORK"
WORK=$(cd "$WORK" && pwd)
source "$(dirname "$0")/check.sh"
export KREFBENCH_BIN=$BIN	# run.sh runs this build instead of building its own
tiny=(--backends atomic --workloads hammer --threads 1 --reps 1 --retries 0 --time 0.002 --no-floors)
cases=0

# An earlier run whose files every case must leave alone.
EARLY=$WORK/early
mkdir -p "$EARLY"
"$BIN" "${tiny[@]}" --out "$EARLY/run.csv" >/dev/null 2>&1
check "an earlier run exists" test -s "$EARLY/run.csv" -a -s "$EARLY/run.json" -a -s "$EARLY/run.gbench.json"
early_sums=$(cd "$EARLY" && sha256sum run.csv run.json run.gbench.json)
early_intact() { [ "$(cd "$EARLY" && sha256sum run.csv run.json run.gbench.json)" = "$early_sums" ]; }

# refuse DESCRIPTION REGEX CMD...: exit 2, exactly one stderr line matching, nothing new in $dir.
refuse() {
	local desc=$1 re=$2 rc=0 dir=$WORK/case$cases; shift 2
	cases=$((cases + 1))
	mkdir -p "$dir"
	(cd "$dir" && "$@") >"$dir.out" 2>"$dir.err" || rc=$?
	check "$desc: exit 2 (got $rc)" test "$rc" -eq 2
	check "$desc: one stderr line (got $(wc -l <"$dir.err"))" test "$(wc -l <"$dir.err")" -eq 1
	if grep -qE -- "$re" "$dir.err"; then pass "$desc: says why"; else fail "$desc: message /$re/ (got '$(head -c 300 "$dir.err")')"; fi
	check "$desc: nothing written" test -z "$(ls -A "$dir")"
	check "$desc: the earlier run is byte-identical" early_intact
}

# ---- A. round trips ----
rc=0
"$BIN" --backends atomic --workloads hammer --threads 2 --reps 1 --retries 0 --time 0.002 --no-floors \
	--placement 0,1 --out "$WORK/place.csv" >/dev/null 2>&1 || rc=$?
check "A. --placement 0,1: exit 0 (got $rc)" test "$rc" -eq 0
pycheck "A. round trip" '
import csv, sys
def ok(c, what): print(("ok - " if c else "FAIL - ") + "A. " + what)
rows = list(csv.reader(open(sys.argv[1], newline="")))
ok(rows and all(len(r) == len(rows[0]) for r in rows), "every row has as many fields as the header")
d = [dict(zip(rows[0], r)) for r in rows[1:]]
ok(d and all(r["placement"] == "0,1" for r in d), "the placement reads back as given (%r)" % [r["placement"] for r in d][:1])
ok(d and all(r["cpus"] == "0,1" for r in d), "the CPUs read back as a list")
try:
    from analysis import results
    keys = [results.parse_row(dict(r), "row %d" % i) for i, r in enumerate(d)]
    ok(keys and all(k[3] == "0,1" for k in keys), "bench/analysis/results.py parses each row back to placement 0,1")
except Exception as e:
    ok(False, "bench/analysis/results.py parses every row (%s: %s)" % (type(e).__name__, e))
' "$WORK/place.csv" "$SRC"

# ---- B. a full disk ----
rc=0
(ulimit -f 8 && exec "$BIN" --backends atomic,null,refcount --workloads hammer,private --threads 1 --reps 20 \
	--time 0.002 --out "$WORK/full.csv") >"$WORK/full.out" 2>"$WORK/full.err" || rc=$?
check "B. full: exit 1 (got $rc)" test "$rc" -eq 1
check "B. full: one line says what could not be written" test "$(grep -c '^krefbench: cannot' "$WORK/full.err")" -eq 1
check "B. full: the summary is not printed as if complete" sh -c "! grep -q '^results:' '$WORK/full.out'"
pycheck "B. full files" '
import csv, json, sys
p = sys.argv[1]
def ok(c, what): print(("ok - " if c else "FAIL - ") + "B. full: " + what)
raw = open(p, "rb").read()
ok(raw.endswith(b"\n"), "the CSV ends with a whole row")
rows = list(csv.reader(open(p, newline="")))
ok(len(rows) > 1 and all(len(r) == len(rows[0]) for r in rows), "every row in it is complete (%d rows)" % (len(rows) - 1))
j = json.load(open(p[:-4] + ".json"))
ok(j["status"].startswith("failed: cannot"), "the sidecar says what happened (%r)" % j["status"])
ok(j["rows"] == len(rows) - 1, "the sidecar counts the rows kept")
try:
    json.load(open(p[:-4] + ".gbench.json")); ok(True, "the gbench JSON parses")
except FileNotFoundError:
    ok(True, "no gbench JSON was started")
except ValueError as e:
    ok(False, "the gbench JSON parses (%s)" % e)
' "$WORK/full.csv"
check "B. full: the earlier run is byte-identical" early_intact

# interrupt SIG GBENCH_JSON CMD...: start CMD, signal it once its first round is
# written, wait; sets rc to its exit status and want to 128 + SIG. A script's
# background job starts with SIGINT ignored (POSIX), and bash cannot trap a
# signal ignored at entry: start CMD as a terminal's job would, SIGINT default.
interrupt() {
	local sig=$1 gb=$2 pid; shift 2
	"$PY" -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' "$@" &
	pid=$!
	for _ in $(seq 100); do [ -s "$gb" ] && break; sleep 0.1; done
	kill -s "$sig" "$pid"
	rc=0
	wait "$pid" || rc=$?
	want=$([ "$sig" = INT ] && echo 130 || echo 143)
}

# ---- C. interrupted: every file parses ----
for sig in INT TERM; do
	interrupt "$sig" "$WORK/int$sig.gbench.json" sh -c 'exec "$0" --backends atomic,null --workloads hammer \
		--threads 1 --reps 200 --time 0.01 --out "$1" >/dev/null 2>&1' "$BIN" "$WORK/int$sig.csv"
	check "C. SIG$sig: exit $want (got $rc)" test "$rc" -eq "$want"
	check "C. SIG$sig: the gbench JSON parses" "$PY" -m json.tool "$WORK/int$sig.gbench.json" /dev/null
	check "C. SIG$sig: the sidecar parses" "$PY" -m json.tool "$WORK/int$sig.json" /dev/null
	check "C. SIG$sig: no temporary left" test -z "$(ls "$WORK"/int$sig*.tmp 2>/dev/null)"
done

# ---- D. signals to run.sh ----
for sig in TERM INT; do
	mkdir -p "$WORK/d$sig"
	interrupt "$sig" "$WORK/d$sig/m.gbench.json" sh -c 'cd "$1" && exec setsid "$0" --backends atomic,null \
		--workloads hammer --threads 1 --reps 200 --time 0.01 --no-floors --out m.csv >../d.out 2>&1' \
		"$SRC/run.sh" "$WORK/d$sig"
	check "D. SIG$sig to run.sh: exit $want (got $rc)" test "$rc" -eq "$want"
	sleep 0.3
	# ([-] so that pgrep does not find this check's own command line)
	check "D. SIG$sig to run.sh: no krefbench left running" sh -c "! pgrep -f -- '[-]-reps 200 --time 0.01 --no-floors --out m.csv' >/dev/null"
	check "D. SIG$sig to run.sh: rows kept, sidecar says interrupted" \
		sh -c "[ \$(wc -l < '$WORK/d$sig/m.csv') -gt 1 ] && grep -q interrupted '$WORK/d$sig/m.json'"
done

# ---- E. created, never followed ----
echo precious >"$WORK/victim"
ln -s "$WORK/victim" "$WORK/link.csv"
refuse "E. --out is a symlink" "exists|never overwrites" "$BIN" "${tiny[@]}" --out "$WORK/link.csv"
check "E. the symlink's target is untouched" test "$(cat "$WORK/victim")" = precious
ln -s "$WORK/victim" "$WORK/side.json"
refuse "E. the sidecar's name is a symlink" "side.json exists" "$BIN" "${tiny[@]}" --out "$WORK/side.csv"
ln -s "$WORK/victim" "$WORK/tmpl.json.tmp"
ln -s "$WORK/victim" "$WORK/tmpl.gbench.json.tmp"
"$BIN" "${tiny[@]}" --out "$WORK/tmpl.csv" >/dev/null 2>&1
check "E. symlinks at the temporaries: the run completes" "$PY" -m json.tool "$WORK/tmpl.json" /dev/null
check "E. symlinks at the temporaries: not followed" test "$(cat "$WORK/victim")" = precious
"$BIN" "${tiny[@]}" --out "$WORK/closed.csv" >&- 2>&-
pycheck "E. closed streams" '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
ok = rows and rows[0][0] == "backend" and all(len(r) == len(rows[0]) for r in rows) and len(rows) == 2
print(("ok - " if ok else "FAIL - ") + "E. stdout and stderr closed: the CSV holds only the header and its row")
' "$WORK/closed.csv"

# ---- F. paths and the main job's options ----
mkdir -p "$WORK/elsewhere"
(cd "$WORK/elsewhere" && "$SRC/run.sh" bench "${tiny[@]}" --out rel.csv) >/dev/null 2>&1
check "F. run.sh bench --out rel.csv writes in the caller's directory" test -s "$WORK/elsewhere/rel.csv"
check "F. ... and not in the repository" test ! -e "$SRC/rel.csv"
rc=0
base=$(ls "$SRC"/results/baseline/*.csv | head -n 1)
cp "$base" "$WORK/elsewhere/base.csv"	# a clean run to plot (a tiny run here may be all disturbed)
(cd "$WORK/elsewhere" && "$SRC/run.sh" plot base.csv --out plots) >"$WORK/plot.out" 2>&1 || rc=$?
check "F. run.sh plot base.csv reads the caller's file (exit $rc)" test "$rc" -eq 0 -a -d "$WORK/elsewhere/plots"
for opt in --help --plan; do
	rc=0
	(cd "$WORK/elsewhere" && "$SRC/run.sh" $opt) >"$WORK/main$opt.out" 2>&1 || rc=$?
	check "F. ./run.sh $opt: exit 0 (got $rc)" test "$rc" -eq 0
	check "F. ./run.sh $opt: prints its own answer, plots nothing" \
		sh -c "grep -qE 'usage|placement' '$WORK/main$opt.out' && ! grep -q '^results:' '$WORK/main$opt.out'"
done

# ---- G. list options ----
refuse "G. --backends atomic,atomic" "backends names 'atomic' twice" "$BIN" --backends atomic,atomic --out x.csv
refuse "G. --workloads hammer,hammer" "workloads names 'hammer' twice" "$BIN" --workloads hammer,hammer --out x.csv
refuse "G. --threads 1,1" "threads gives 1 twice" "$BIN" --threads 1,1 --out x.csv
refuse "G. --variant locked,locked" "variant names 'locked' twice" "$BIN" --variant locked,locked --out x.csv
refuse "G. --rcu-flavor memb,memb" "rcu-flavor names 'memb' twice" "$BIN" --rcu-flavor memb,memb --out x.csv
refuse "G. --writer-rate 0,0.0" "writer-rate gives 0 twice" "$BIN" --writer-rate 0,0.0 --out x.csv
refuse "G. --threads 1,,2" "empty item" "$BIN" --threads 1,,2 --out x.csv
refuse "G. --backends atomic," "empty item" "$BIN" --backends atomic, --out x.csv
refuse "G. --writer-rate with 9 rates" "more than 8" "$BIN" --writer-rate 1,2,3,4,5,6,7,8,9 --out x.csv
refuse "G. --threads 1000001" "1000001 threads|at most" "$BIN" --threads 1000001 --out x.csv
refuse "G. --threads 1000001 --oversubscribe" "at most 4096" "$BIN" --threads 1000001 --oversubscribe --out x.csv
refuse "G. --threads -1" "must be 1 or more" "$BIN" --threads -1 --out x.csv
refuse "G. --threads 99999999999999999999" "whole number" "$BIN" --threads 99999999999999999999 --out x.csv
rc=0
"$BIN" --plan --threads 2,1 >"$WORK/plan21.out" 2>&1 || rc=$?
check "G. --threads 2,1 --plan plans the largest count" grep -q '^placement [a-z]*, 2 threads' "$WORK/plan21.out"

# ---- H. bounded cost ----
refuse "H. --work-ns 100000000 --time 0.01" "work-ns may be at most" "$BIN" --work-ns 100000000 --time 0.01 --out x.csv
refuse "H. --objects 1048576" "1 to 65536" "$BIN" --objects 1048576 --out x.csv
refuse "H. --topology with a billion PUs" "more than 65536 PUs" "$BIN" --plan --topology 'pack:1000 core:1000 pu:1000'
refuse "H. --topology /dev/zero" "not a regular file" "$BIN" --plan --topology /dev/zero
refuse "H. --topology of 5000 characters" "longer than 1024" "$BIN" --plan --topology "$(printf 'pu:1 %.0s' $(seq 1000))"

# ---- I. profile ----
refuse "I. profile ... -- --backends mutex" "would profile something else" "$SRC/run.sh" profile atomic hammer 1 -- --backends mutex
refuse "I. profile ... -- --plan" "would profile something else" "$SRC/run.sh" profile atomic hammer 1 -- --plan

echo "# $cases refused cases, each with exit 2, one line, nothing written, the earlier run intact"
check_summary
