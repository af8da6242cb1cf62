#!/bin/bash
# The benchmark binary's contract: bad input, --plan, a tiny real run (CSV
# columns and rows, JSON sidecar), never overwriting, and interruption.
#   usage: tests/test_cli.sh BINARY SRC_DIR WORK_DIR
# WORK_DIR is cleared and recreated. Prints "ok - ..." / "FAIL - ..." per
# check and "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 BINARY SRC_DIR WORK_DIR" >&2
    exit 2
fi
BIN=$1
SRC=$2
WORK=$3
PY=/usr/bin/python3
HEADER='backend,workload,threads,placement,objects,work_ns,rep,iterations,ns_per_op,ops_per_s,norm,fairness,cpus,check'

case "$WORK" in
    ""|/) echo "refusing WORK_DIR '$WORK'" >&2; exit 2 ;;
esac
rm -rf -- "$WORK"
mkdir -p -- "$WORK"
WORK=$(cd "$WORK" && pwd)

source "$(dirname "$0")/check.sh"
sum() { sha256sum < "$1" | cut -d' ' -f1; }
data_rows() { [ -f "$1" ] && echo $(( $(wc -l < "$1") - 1 )) || echo 0; }

check "source dir $SRC has bench/main.c" test -f "$SRC/bench/main.c"
if [ ! -x "$BIN" ]; then
    fail "binary $BIN is executable"
    echo "$passed passed, $failed failed"
    exit 1
fi

# PUs as the binary sees them: --plan without --threads plans for all PUs.
NPUS=$("$BIN" --plan 2>/dev/null | sed -n 's/^placement [a-z]*, \([0-9]*\) threads$/\1/p' || true)
if ! [[ "$NPUS" =~ ^[0-9]+$ ]]; then
    fail "--plan states the PU count (got '$NPUS')"
    NPUS=2
fi
echo "# this machine: $NPUS PUs"

# ---------------------------------------------------------------------------
# Bad input: exit 2, one stderr line "krefbench: ..." naming the problem, no
# core dump, nothing written. Each case runs in an empty directory (where the
# default results/ would appear) with --out pointing into it.
# ---------------------------------------------------------------------------
bad_case=0
bad() {  # bad DESCRIPTION REGEX ARGS...
    local desc=$1 re=$2 rc=0 dir err lines first; shift 2
    bad_case=$((bad_case + 1))
    dir=$WORK/bad$bad_case
    mkdir -p "$dir"
    (cd "$dir" && ulimit -c 0 && exec "$BIN" --time 0.001 --reps 1 "$@") \
        > "$WORK/bad$bad_case.out" 2> "$WORK/bad$bad_case.err" || rc=$?
    err=$WORK/bad$bad_case.err
    lines=$(wc -l < "$err")
    first=$(head -n 1 "$err")
    check "$desc: exit 2 (got $rc)" test "$rc" -eq 2
    check "$desc: exactly one stderr line (got $lines)" test "$lines" -eq 1
    if [[ "$first" == "krefbench: "* ]]; then
        pass "$desc: stderr starts 'krefbench: '"
    else
        fail "$desc: stderr starts 'krefbench: ' (got '$first')"
    fi
    if [[ "$first" =~ $re ]]; then
        pass "$desc: message names the problem"
    else
        fail "$desc: message matches /$re/ (got '$first')"
    fi
    check "$desc: nothing written (directory empty)" test -z "$(ls -A "$dir")"
    check "$desc: nothing on stdout" test ! -s "$WORK/bad$bad_case.out"
}
OUTARG=(--out results.csv)   # relative: inside each case's own directory

bad "unknown backend" "unknown backend 'nosuch'.*atomic.*refcount.*percpu.*mutex.*null.*urcu_ref" \
    --backends atomic,nosuch "${OUTARG[@]}"
bad "unknown workload" "unknown workload 'nosuch'" --workloads nosuch "${OUTARG[@]}"
bad "unknown placement policy" "placement.*nosuch" --placement nosuch --threads 1 "${OUTARG[@]}"
bad "--threads 0" "thread.*'0'" --threads 0 "${OUTARG[@]}"
bad "--threads $((NPUS + 1)) beyond the $NPUS PUs" "$((NPUS + 1)) threads.*$NPUS PUs.*--oversubscribe" \
    --threads $((NPUS + 1)) "${OUTARG[@]}"
bad "--threads $((NPUS + 1)) with --plan, no --oversubscribe" "$((NPUS + 1)) threads.*PUs" \
    --plan --threads $((NPUS + 1))
bad "garbage --topology with --plan" "garbage:1 nonsense" --plan --topology 'garbage:1 nonsense'
bad "missing topology XML" "$WORK/no/such/machine.xml" --plan --topology "$WORK/no/such/machine.xml"
bad "--topology without --plan" "--topology.*--plan" --topology 'pack:2 core:2 pu:2' "${OUTARG[@]}"
bad "--out in a missing directory" "$WORK/no/such/dir/run.csv" --threads 1 --out "$WORK/no/such/dir/run.csv"
bad "--out not writable (/proc/x.csv)" "/proc/x.csv" --threads 1 --out /proc/x.csv
bad "--reps 0" "--reps" --threads 1 "${OUTARG[@]}" --reps 0
bad "--reps garbage" "--reps" --threads 1 "${OUTARG[@]}" --reps 2x
bad "--time 0" "--time" --threads 1 "${OUTARG[@]}" --time 0
bad "unknown option" "--bogus" --bogus "${OUTARG[@]}"
bad "stray argument" "stray" stray "${OUTARG[@]}"
check "no missing-dir side effects" test ! -e "$WORK/no"

# ---------------------------------------------------------------------------
# --plan: one line per thread, exit 0.
# ---------------------------------------------------------------------------
plan() {  # plan DESCRIPTION THREADS ARGS...
    local desc=$1 want=$2 rc=0 n distinct dir=$WORK/plan; shift 2
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && exec "$BIN" --plan "$@") > "$WORK/plan.out" 2> "$WORK/plan.err" || rc=$?
    check "$desc: exit 0 (got $rc)" test "$rc" -eq 0
    n=$(grep -c '^thread [0-9][0-9]* -> PU [0-9]' "$WORK/plan.out" || true)
    distinct=$(sed -n 's/^thread \([0-9][0-9]*\) -> PU .*/\1/p' "$WORK/plan.out" | sort -un | wc -l)
    check "$desc: one line per thread ($n lines, $distinct distinct, want $want)" \
        test "$n" -eq "$want" -a "$distinct" -eq "$want"
    check "$desc: threads numbered 0..$((want - 1))" \
        test "$(sed -n 's/^thread \([0-9][0-9]*\) -> PU .*/\1/p' "$WORK/plan.out" | sort -n | tail -n 1)" = "$((want - 1))"
    check "$desc: nothing on stderr" test ! -s "$WORK/plan.err"
    check "$desc: nothing written" test -z "$(ls -A "$dir")"
}
plan "--plan for this machine" "$NPUS"
plan "--plan --threads $((NPUS + 1)) --oversubscribe" $((NPUS + 1)) --threads $((NPUS + 1)) --oversubscribe
plan "--plan on 'pack:2 numa:4 core:16 pu:2', 256 threads, scatter" 256 \
    --topology 'pack:2 numa:4 core:16 pu:2' --threads 256 --placement scatter
check "--plan scatter: first two threads on different packages" \
    grep -q '^thread 1 -> PU [0-9]* (core [0-9]*, package 1' "$WORK/plan.out"
check "--plan scatter: the 256 PUs are all used once" \
    test "$(sed -n 's/^thread [0-9]* -> PU \([0-9]*\) .*/\1/p' "$WORK/plan.out" | sort -un | wc -l)" -eq 256

# ---------------------------------------------------------------------------
# A tiny real run.
# ---------------------------------------------------------------------------
RUN=$WORK/run.csv
rc=0
(ulimit -c 0 && exec "$BIN" --backends atomic,refcount,percpu,mutex,null,urcu_ref \
    --workloads hammer,private,spread,handoff --threads 1,2 --reps 2 --time 0.002 --wide --out "$RUN") \
    > "$WORK/run.out" 2> "$WORK/run.err" || rc=$?
check "tiny run: exit 0 (got $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  stderr: /' "$WORK/run.err" | tail -n 20
check "tiny run: CSV exists" test -f "$RUN"
GOT_HEADER=$(head -n 1 "$RUN" 2>/dev/null || true)
# DESIGN.md: "at least" these columns, in this order; anything added comes after.
if [ "$GOT_HEADER" = "$HEADER" ]; then
    pass "tiny run: CSV header is exactly the documented columns"
elif [[ "$GOT_HEADER" == "$HEADER",* ]]; then
    pass "tiny run: CSV header starts with the documented columns"
    echo "# note: columns beyond the documented ones: ${GOT_HEADER#"$HEADER",}"
else
    fail "tiny run: CSV header starts with the documented columns (got '$GOT_HEADER')"
fi
# The binary writes the header its source declares (bench/measure/results_writer.h).
SRC_HEADER=$("$PY" -c '
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"#define\s+KB_CSV_HEADER((?:\s*\"[^\"]*\"\s*\\?)+)", text)
print("".join(re.findall(r"\"([^\"]*)\"", m.group(1))) if m else "")
' "$SRC/bench/measure/results_writer.h" 2>/dev/null || true)
check "tiny run: CSV header is bench/measure/results_writer.h's KB_CSV_HEADER" test -n "$SRC_HEADER" -a "$GOT_HEADER" = "$SRC_HEADER"
check "tiny run: sidecar run.json exists" test -f "$WORK/run.json"
check "tiny run: run.json is valid JSON (json.tool)" "$PY" -m json.tool "$WORK/run.json" /dev/null
check "tiny run: run.gbench.json exists" test -s "$WORK/run.gbench.json"
check "tiny run: run.gbench.json is valid JSON" "$PY" -m json.tool "$WORK/run.gbench.json" /dev/null
check "tiny run: stdout names the results file" grep -q "results: $RUN" "$WORK/run.out"
# 2 repetitions: too few for an interval, so every figure says how many it has
check "tiny run: no interval (±) from fewer than 3 repetitions in the summary" \
    sh -c "! sed -n '/^workload /,/^disturbance:/p' '$WORK/run.out' | grep -q '±'"
check "tiny run: figures say n=1 or n=2 instead" grep -qE '^hammer +1 .* [0-9.]+ n=[12]' "$WORK/run.out"
check "tiny run: the sidecar holds the idle profile and the limits from it" "$PY" -c '
import json, sys
m = json.load(open(sys.argv[1]))["measurement"]
p, d = m["idle_profile"], m["disturbed_if"]
assert p["measured"] is True and p["cpus"] >= 1 and 0 <= p["window_lost_max"] <= 1, p
assert 0.01 <= d["outside_fraction_above"] <= 0.05 and 0.08 <= d["canary_slower_by_more_than"] <= 0.15, d
assert "cannot" in d["steal"] or "tick" in d["steal"], d
' "$WORK/run.json"

pycheck "tiny run CSV" '
import csv, json, math, sys
path, npus, header = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
backends = ["atomic", "refcount", "percpu", "mutex", "null", "urcu_ref"]
workloads = ["hammer", "private", "spread", "handoff"]
threads, reps = [1, 2], [0, 1]
def ok(c, what):
    print(("ok - " if c else "FAIL - ") + "tiny run: " + what)
def num(s):
    try:
        v = float(s)
        return v if math.isfinite(v) else None
    except ValueError:
        return None

with open(path, newline="") as f:
    rows = list(csv.reader(f))
ok(rows and rows[0][:len(header)] == header, "parsed header starts with the documented columns")
ncols = len(rows[0]) if rows else len(header)
data = [dict(zip(rows[0], r)) for r in rows[1:]]
ok(all(len(r) == ncols for r in rows[1:]), "every row has as many columns as the header (%d)" % ncols)
ok(all(d.get(c, "") == "" for d in data for c in ("lookup_hits", "lookup_misses", "lookup_mostly_missed")),
   "no lookup workload: the lookup columns are empty")

want = {}
for b in backends:
    for w in workloads:
        for t in threads:
            for r in reps:
                want[(b, w, t, r)] = 0
for t in threads:
    for fl in ["local", "uncontended", "shared"] + (["pingpong"] if t == 2 else []):
        for r in reps:
            want[("floor", fl, t, r)] = 0
got = {}
bad_key = []
for d in data:
    try:
        k = (d["backend"], d["workload"], int(d["threads"]), int(d["rep"]))
        got.setdefault(k, []).append((int(d["attempt"]), d["disturbed"]))
    except ValueError:
        bad_key.append(d); continue
ok(not bad_key, "threads, rep and attempt are integers")
ok(len(got) == len(want), "%d repetitions, want %d (backend x workload x threads x rep + floors)" % (len(got), len(want)))
missing = sorted(k for k in want if k not in got)
extra = sorted(k for k in got if k not in want)
ok(not missing, "every (backend, workload, threads, rep) present" + ("; missing %s" % missing[:5] if missing else ""))
ok(not extra, "no unexpected rows" + ("; extra %s" % extra[:5] if extra else ""))
# attempts of a repetition: 0, 1, ... in order, at most 1 + --retries (2), only the last may be clean
def attempts_ok(a):
    return [n for n, _ in a] == list(range(len(a))) and len(a) <= 3 and all(why for _, why in a[:-1])
bad_attempts = sorted(k for k, a in got.items() if not attempts_ok(a))
ok(not bad_attempts, "attempts of a repetition are 0,1,... (at most 3), retried only while disturbed" +
   ("; e.g. %s %s" % (bad_attempts[0], got[bad_attempts[0]]) if bad_attempts else ""))

def each(pred, what):
    badrows = [d for d in data if not pred(d)]
    ok(not badrows, what + ("" if not badrows else " (e.g. %s)" % ",".join(badrows[0].values())))

each(lambda d: d["check"] == "ok", "every row check is ok")
# pingpong may move nothing when the scheduler starts one thread after its
# partner left (flagged start_skew): then 0 transfers, 0 ns and 0 per second.
def late_pingpong(d):
    return d["workload"] == "pingpong" and "start_skew" in d["disturbed"]
def empty_pingpong(d):
    return late_pingpong(d) and num(d["ops"]) == 0 and num(d["ns_per_op"]) == 0 and num(d["ops_per_s"]) == 0
each(lambda d: num(d["ns_per_op"]) is not None and (num(d["ns_per_op"]) > 0 or empty_pingpong(d)), "ns_per_op is a positive number")
each(lambda d: num(d["ops_per_s"]) is not None and (num(d["ops_per_s"]) > 0 or empty_pingpong(d)), "ops_per_s is a positive number")
# the window arithmetic: ns_per_op = threads x window / ops (pingpong: window / transfers), ops_per_s = ops / window
def window_consistent(d):
    ns, ops_s, t = num(d["ns_per_op"]), num(d["ops_per_s"]), int(d["threads"])
    win, ops = num(d["window_ns"]), num(d["ops"])
    if None in (ns, ops_s, win, ops) or ops <= 0 or win <= 0:
        return False
    serial = d["backend"] == "floor" and d["workload"] == "pingpong"
    want_ns = (1 if serial else t) * win / ops
    return abs(ns - want_ns) <= 0.0005 + 1e-6 * want_ns and abs(ops_s - ops * 1e9 / win) <= 1 + 1e-6 * ops_s
each(lambda d: window_consistent(d) or empty_pingpong(d), "ns_per_op = threads x window_ns / ops (pingpong: window / transfers); ops_per_s = ops / window")
each(lambda d: num(d["window_ns"]) >= 0.002e9 * 0.99, "the window lasts at least --time")
limit = 100 * json.load(open(path[:-4] + ".json"))["measurement"]["disturbed_if"]["outside_fraction_above"]
each(lambda d: d["disturbed"] != "" or num(d["outside_pct"]) <= limit,
     "a clean row lost at most the sidecar limit (%.1f%%) to others (outside_pct)" % limit)
each(lambda d: d["disturbed"] != "" or d["backend"] == "mutex" or num(d["task_clock_ratio"]) >= 1 - limit / 100,
     "a clean row of a backend that never sleeps had its CPU for all but that limit of the window")
each(lambda d: num(d["cpu_busy"]) is not None and 0 < num(d["cpu_busy"]) <= 1, "cpu_busy in (0,1]")
each(lambda d: num(d["voluntary_switches_per_op"]) is not None and num(d["voluntary_switches_per_op"]) >= 0,
     "voluntary_switches_per_op is a number >= 0")
# 2 rounds x 2 thread counts: 4 processes; the attempts of a repetition in one, the repetitions of a row in different ones
procs = {}
for d in data:
    procs.setdefault((d["backend"], d["workload"], d["threads"]), {}).setdefault(d["rep"], set()).add(d["process"])
ok({d["process"] for d in data} == {"1", "2", "3", "4"}, "process is 1..4 (a process per round per thread count): %s" % sorted({d["process"] for d in data}))
ok(all(len(p) == 1 for reps in procs.values() for p in reps.values()), "the attempts of a repetition come from one process")
ok(all(len(set.union(*reps.values())) == len(reps) for reps in procs.values()), "the repetitions of a row come from different processes")
# every thread runs at least one batch: fairness > 0, except an empty pingpong
each(lambda d: num(d["fairness"]) is not None and (0 < num(d["fairness"]) <= 1 or
     (late_pingpong(d) and num(d["fairness"]) == 0)), "fairness in (0,1]")
def cpus_ok(d):
    c = d["cpus"].split(",")
    return len(c) == int(d["threads"]) and all(x.isdigit() and 0 <= int(x) < npus for x in c)
each(cpus_ok, "cpus lists threads CPU numbers, each a PU of this machine")
each(lambda d: d["placement"] == "cores", "placement is the default (cores)")
each(lambda d: d["work_ns"] == "0", "work_ns is 0")
each(lambda d: d["iterations"].isdigit() and (int(d["iterations"]) > 0 or
     late_pingpong(d)), "iterations is a positive integer")
each(lambda d: d["objects"].isdigit() and int(d["objects"]) >= 1, "objects is a positive integer")
each(lambda d: d["backend"] == "floor" or (num(d["norm"]) is not None and num(d["norm"]) > 0),
     "norm is filled (positive) on every non-floor row")
each(lambda d: d["norm"] == "" or (num(d["norm"]) is not None and num(d["norm"]) > 0), "norm is empty or positive")
each(lambda d: d["workload"] != "hammer" or d["objects"] == "1", "hammer uses one object")
each(lambda d: d["workload"] != "private" or d["objects"] == d["threads"], "private uses one object per thread")

# norm = ns_per_op / the floor measured in the same round (its final attempt):
# uncontended for private and at 1 thread, shared above
final = {}
for d in data:
    k = (d["backend"], d["workload"], int(d["threads"]), int(d["rep"]))
    if k not in final or int(d["attempt"]) > int(final[k]["attempt"]):
        final[k] = d
def norm_matches(d):
    if d["backend"] == "floor":
        return True
    t = int(d["threads"])
    name = "uncontended" if t == 1 or d["workload"] == "private" else "shared"
    fl = final.get(("floor", name, t, int(d["rep"])))
    ns, n = num(d["ns_per_op"]), num(d["norm"])
    if not fl or ns is None or n is None or not num(fl["ns_per_op"]):
        return False
    want = ns / num(fl["ns_per_op"])
    return abs(n - want) <= 0.001 * want + 0.0002
each(norm_matches, "norm = ns_per_op / the floor of the same round (uncontended for private and @1, shared above)")
' "$RUN" "$NPUS" "$HEADER"

GIT_HEAD=$(git -C "$SRC" rev-parse HEAD 2>/dev/null || echo unknown)
pycheck "tiny run sidecar" '
import json, sys
path, csv_path, git_head = sys.argv[1], sys.argv[2], sys.argv[3]
def ok(c, what):
    print(("ok - " if c else "FAIL - ") + "tiny run sidecar: " + what)
with open(path) as f:
    j = json.load(f)
ok(isinstance(j, dict), "is an object")
for k in ["host", "cpu_model", "topology", "kernel", "compiler", "cflags", "glibc", "git_commit", "command_line"]:
    ok(isinstance(j.get(k), str) and j.get(k).strip() != "", "has a non-empty %s" % k)
bpo = j.get("bytes_per_object")
ok(isinstance(bpo, dict) and all(isinstance(bpo.get(b), int) and bpo.get(b) > 0 for b in
   ["atomic", "refcount", "percpu", "mutex", "null", "urcu_ref"]), "bytes_per_object for every backend")
ok(j.get("status") == "complete", "status is complete (got %r)" % j.get("status"))
ok("--out " + csv_path in j.get("command_line", ""), "command_line is the command run")
with open(csv_path) as f:
    rows = sum(1 for _ in f) - 1
ok(j.get("rows", rows) == rows, "rows (%r) matches the CSV (%d)" % (j.get("rows"), rows))
if git_head != "unknown":
    ok(j.get("git_commit", "").startswith(git_head), "git_commit %r is the source tree HEAD %s" % (j.get("git_commit"), git_head))
' "$WORK/run.json" "$RUN" "$GIT_HEAD"

# ---------------------------------------------------------------------------
# Never overwrite.
# ---------------------------------------------------------------------------
tiny=(--backends atomic --workloads hammer --threads 1 --reps 1 --time 0.001 --no-floors)
csv_sum=$(sum "$RUN")
json_sum=$(sum "$WORK/run.json")
gb_sum=$(sum "$WORK/run.gbench.json")
rc=0
"$BIN" "${tiny[@]}" --out "$RUN" > /dev/null 2> "$WORK/again.err" || rc=$?
check "same --out again: exit 2 (got $rc)" test "$rc" -eq 2
check "same --out again: one 'krefbench: ' line saying it exists" \
    test "$(wc -l < "$WORK/again.err")" -eq 1 -a "$(grep -c '^krefbench: .*exists' "$WORK/again.err" || true)" -eq 1
check "same --out again: CSV byte-identical" test "$(sum "$RUN")" = "$csv_sum"
check "same --out again: sidecar byte-identical" test "$(sum "$WORK/run.json")" = "$json_sum"
check "same --out again: gbench JSON byte-identical" test "$(sum "$WORK/run.gbench.json")" = "$gb_sum"

# Only the sidecar exists: still refused, nothing created or changed.
cp "$WORK/run.json" "$WORK/only.json"
rc=0
"$BIN" "${tiny[@]}" --out "$WORK/only.csv" > /dev/null 2> "$WORK/only.err" || rc=$?
check "only the .json exists: exit 2 (got $rc)" test "$rc" -eq 2
check "only the .json exists: one 'krefbench: ' line" \
    test "$(wc -l < "$WORK/only.err")" -eq 1 -a "$(grep -c '^krefbench: ' "$WORK/only.err" || true)" -eq 1
check "only the .json exists: no CSV created" test ! -e "$WORK/only.csv"
check "only the .json exists: no gbench JSON created" test ! -e "$WORK/only.gbench.json"
check "only the .json exists: .json byte-identical" test "$(sum "$WORK/only.json")" = "$json_sum"

# Only the CSV exists: refused, the CSV untouched, no sidecar appears.
cp "$RUN" "$WORK/csvonly.csv"
rc=0
"$BIN" "${tiny[@]}" --out "$WORK/csvonly.csv" > /dev/null 2> "$WORK/csvonly.err" || rc=$?
check "only the .csv exists: exit 2 (got $rc)" test "$rc" -eq 2
check "only the .csv exists: one 'krefbench: ' line" \
    test "$(wc -l < "$WORK/csvonly.err")" -eq 1 -a "$(grep -c '^krefbench: ' "$WORK/csvonly.err" || true)" -eq 1
check "only the .csv exists: CSV byte-identical" test "$(sum "$WORK/csvonly.csv")" = "$csv_sum"
check "only the .csv exists: no sidecar created" test ! -e "$WORK/csvonly.json"

# Only Google Benchmark's JSON exists: refused too, it is left alone.
cp "$WORK/run.gbench.json" "$WORK/gbonly.gbench.json"
rc=0
"$BIN" "${tiny[@]}" --out "$WORK/gbonly.csv" > /dev/null 2> "$WORK/gbonly.err" || rc=$?
check "only the .gbench.json exists: exit 2 (got $rc)" test "$rc" -eq 2
check "only the .gbench.json exists: .gbench.json byte-identical" test "$(sum "$WORK/gbonly.gbench.json")" = "$gb_sum"
check "only the .gbench.json exists: no CSV or sidecar created" test ! -e "$WORK/gbonly.csv" -a ! -e "$WORK/gbonly.json"

# ---------------------------------------------------------------------------
# Interruption: rows kept, every line whole, 128 + signal.
# ---------------------------------------------------------------------------
interrupt() {  # interrupt SIGNAL WANT_STATUS
    local sig=$1 want=$2 out=$WORK/int-$1.csv pid rc=0 before=0 waited=0
    "$BIN" --backends atomic,null --workloads hammer,private --threads 1,2 --reps 50 --time 0.05 \
        --out "$out" > "$WORK/int-$sig.out" 2> "$WORK/int-$sig.err" &
    pid=$!
    # Wait (up to 120 s) for at least 3 data rows.
    while kill -0 "$pid" 2>/dev/null && [ "$(data_rows "$out")" -lt 3 ] && [ $waited -lt 1200 ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    before=$(data_rows "$out")
    check "SIG$sig: the run wrote at least 3 rows before the signal ($before)" test "$before" -ge 3
    kill -s "$sig" "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    check "SIG$sig: exit status $want (got $rc)" test "$rc" -eq "$want"
    check "SIG$sig: rows kept ($(data_rows "$out") >= $before)" test "$(data_rows "$out")" -ge "$before"
    check "SIG$sig: stderr says interrupted" grep -q 'interrupted' "$WORK/int-$sig.err"
    check "SIG$sig: the CSV ends with a newline" test "$(tail -c 1 "$out" | od -An -tx1 | tr -d ' ')" = "0a"
    pycheck "SIG$sig CSV" '
import csv, math, sys
path, header, sig = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
def ok(c, what):
    print(("ok - " if c else "FAIL - ") + "SIG%s: " % sig + what)
with open(path, newline="") as f:
    rows = list(csv.reader(f))
ok(rows and rows[0][:len(header)] == header, "header intact")
ncols = len(rows[0]) if rows else len(header)
ok(all(len(r) == ncols for r in rows[1:]), "every line complete (%d columns, parses as CSV)" % ncols)
def good(r):
    try:
        return float(r[8]) > 0 and math.isfinite(float(r[8])) and int(r[7]) > 0 and r[13] == "ok"
    except (ValueError, IndexError):
        return False
ok(all(good(r) for r in rows[1:]), "every kept row parses (positive ns_per_op, iterations, check ok)")
' "$out" "$HEADER" "$sig"
    check "SIG$sig: sidecar is still valid JSON" "$PY" -m json.tool "$WORK/int-$sig.json" /dev/null
}
interrupt INT 130
interrupt TERM 143

# SIGKILL (no handler runs): the round's process must not run on. Its rounds
# last about 2 minutes here, so only the parent's death can end it in 20 s.
out=$WORK/int-KILL.csv
"$BIN" --backends atomic,null --workloads hammer,private --threads 1,2 --reps 2 --time 30 \
    --out "$out" > /dev/null 2> "$WORK/int-KILL.err" &
pid=$!
child=""
for _ in $(seq 600); do
    child=$(pgrep -P "$pid" || true)
    [ -n "$child" ] && break
    sleep 0.1
done
check "SIGKILL: the sweep runs its round in a process of its own (pid ${child:-none})" test -n "$child"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
for _ in $(seq 200); do
    pgrep -f -- "--out $out" > /dev/null || break
    sleep 0.1
done
check "SIGKILL of krefbench: its round's process is gone too" bash -c "! pgrep -f -- '--ou[t] $out' > /dev/null"
pkill -KILL -f -- "--out $out" || true

# lookup_rcu's reclamations: one row per backend and reclamation, typesafe
# only where the counter allows it, and the decision section gives each a column.
# Each row counts its hits and misses. brc at two threads: one reader is not
# the objects' owner (the main thread, which built the table), so unless the
# table publishes them (KB_PUBLISH_brc) its lookups miss whenever no other
# thread holds a reference.
"$BIN" --backends atomic,percpu,brc --workloads lookup_rcu --rcu-flavor memb,hazptr,typesafe \
    --threads 2 --reps 1 --time 0.005 --no-floors --writer-rate 0 --out "$WORK/recl.csv" >"$WORK/recl.log" 2>&1
check "reclamations: the run succeeds" test -s "$WORK/recl.csv"
pycheck "reclamation rows" '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
have = {(r["backend"], r["variant"]) for r in rows}
def ok(c, what):
    print(("ok - " if c else "FAIL - ") + what)
ok(have == {("atomic", "memb"), ("atomic", "hazptr"), ("atomic", "typesafe"), ("percpu", "memb"), ("percpu", "hazptr"),
            ("brc", "memb"), ("brc", "hazptr")},
   "rows: memb and hazptr for each, typesafe for atomic only (got %s)" % sorted(have))
ok(all(r["check"] == "ok" for r in rows), "every reclamation checks ok")
def n(r, c):
    return int(r[c]) if r[c].isdigit() else -1
ok(all(n(r, "lookup_hits") >= 0 and n(r, "lookup_misses") >= 0 for r in rows), "every lookup row has hits and misses")
ok(all(n(r, "lookup_hits") + n(r, "lookup_misses") == int(r["ops"]) for r in rows), "hits + misses = ops")
ok(all(r["lookup_mostly_missed"] == ("1" if n(r, "lookup_misses") > n(r, "lookup_hits") else "0") for r in rows),
   "lookup_mostly_missed is 1 exactly when misses > hits")
for r in rows:
    ok(n(r, "lookup_misses") == 0, "%s %s: no writer, every key present: no lookup misses (got %s of %s)"
       % (r["backend"], r["variant"], r["lookup_misses"], r["ops"]))
' "$WORK/recl.csv"
PYTHONPATH="$SRC/bench" "$PY" -m analysis.decide "$WORK/recl.csv" >"$WORK/recl.decide" 2>&1
check "decide: a column per other reclamation" grep -q "ns/lookup hazptr  *ns/lookup typesafe" "$WORK/recl.decide"
check "decide: typesafe is n/a for percpu" grep -qE "^percpu .* n/a " "$WORK/recl.decide"

# A row whose lookups mostly missed measures failure: decide never ranks it
# (brc's cheap failed lookups ranked first before), and says why.
"$PY" "$SRC/bench/analysis/decide.py" "$SRC/tests/fixtures/decide_mostly_missed.csv" >"$WORK/missed.decide" 2>&1
check "decide: mostly missed: the winner hit its lookups" grep -q "^best here: percpu:" "$WORK/missed.decide"
check "decide: mostly missed: the row is n/a, last" bash -c "grep -E '^(percpu|atomic|brc) ' '$WORK/missed.decide' | tail -n 1 | grep -qE '^brc +n/a '"
check "decide: mostly missed: the note says why" grep -q "not ranked: brc (3 repetitions): most of those repetitions' lookups missed" "$WORK/missed.decide"

# The decisions (analysis/decide.py) on constructed figures, and whether two
# files agree (analysis/stability.py).
"$PY" - "$WORK" <<'EOF'
import csv, sys
cols = ["backend", "workload", "threads", "placement", "objects", "work_ns", "rep", "iterations",
        "ns_per_op", "ops_per_s", "norm", "fairness", "cpus", "check", "variant", "writer_rate",
        "attempt", "disturbed", "uses"]
def rows(backend, workload, threads, values, variant="", disturbed="", uses=""):
    return [[backend, workload, threads, "cores", 1, 0, i, 1000, v, int(1e9 / v), "", "1.0", "0",
             "ok", variant, 0, 0, disturbed, uses] for i, v in enumerate(values)]
def write(name, hammer_atomic):
    out = []
    for t in (1, 2):
        out += rows("atomic", "hammer", t, hammer_atomic)
        out += rows("percpu", "hammer", t, [2.0, 2.1, 2.2])
        out += rows("percpu_atomic", "hammer", t, [2.15, 2.25, 2.3])
        out += rows("mutex", "hammer", t, [60, 61, 62])
        out += rows("null", "hammer", t, [0.4, 0.41, 0.42])
    out += rows("atomic", "churn", 2, [100, 101, 102], uses=1)
    out += rows("refcount", "churn", 2, [200, 201, 202], uses=1)
    out += rows("rcuref", "churn", 2, [10, 11, 12], disturbed="task_clock 0.5", uses=1)
    out += rows("atomic", "lookup_rcu", 2, [20, 21], variant="memb")
    out += rows("percpu", "lookup_rcu", 2, [30, 31, 32], variant="memb")
    for b, rd, wr in (("atomic", 1.0, 20.0), ("percpu", 8.0, 3.0)):
        out += rows(b, "read", 2, [rd, rd * 1.01, rd * 1.02], variant="reader")
        out += rows(b, "read", 2, [wr, wr * 1.01, wr * 1.02], variant="writers")
        out += rows(b, "read", 1, [rd, rd, rd], variant="reader")
    with open(f"{sys.argv[1]}/{name}.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        w.writerows(out)
write("decide_a", [18.0, 18.5, 19.0])
write("decide_flip", [1.0, 1.1, 1.2])     # atomic apart below percpu: another winner
EOF
PYTHONPATH="$SRC/bench" "$PY" -m analysis.decide "$WORK/decide_a.csv" >"$WORK/decide_a.out" 2>&1
dec() { grep -A1 "^== $1" "$WORK/decide_a.out" | sed -n 's/^best here: //p'; }
check "decide: overlapping intervals give the tied set, not a winner ($(dec long-lived))" \
    bash -c "[[ '$(dec long-lived)' == 'percpu, percpu_atomic: within spread ('* ]]"
check "decide: apart intervals name the winner; a disturbed-only figure ('~') is not ranked ($(dec short-lived))" \
    bash -c "[[ '$(dec short-lived)' == 'atomic: 101 ns ±1% per lifetime at uses=1; next refcount ×1.99, intervals apart' ]] && grep -qE '^rcuref +11 ±9%~' '$WORK/decide_a.out'"
check "decide: 2 repetitions are 'n=2', no '±', and not ranked ($(dec lookup))" \
    bash -c "[[ '$(dec lookup)' == 'percpu: 31 ns ±3% per lookup'* ]] && grep -qE '^atomic +20.5 \(n=2\)' '$WORK/decide_a.out'"
check "decide: read often ranks by read + get/put at the stated mix: percpu, though atomic reads cheaper ($(dec object))" \
    bash -c "[[ '$(dec object)' == 'percpu: 11.1 ns ±1% per read + get+put pair at 1 read per pair, 2 threads'* ]] && grep -q 'at a mix of 1 kref_read per get+put pair' '$WORK/decide_a.out'"
check "decide: null is a reference line, not a ranked row or an n/a one" \
    bash -c "grep -q 'reference lines, not schemes and not ranked (null: the harness itself): null 0.41 ns ±2%' '$WORK/decide_a.out' && ! grep -qE '^null ' '$WORK/decide_a.out'"
check "decide: the level the '±' states, for the n it has (3 repetitions: 60%)" \
    grep -q "±: the interval that holds the next run's median with probability at least 60% from 3 repetitions" "$WORK/decide_a.out"
# The terminal's form (./run.sh): every line within --width, the same answers,
# the dropped columns named; and the closing lines a run ends with.
maxw() { "$PY" -c 'import sys; print(max(len(l) for l in open(sys.argv[1], encoding="utf-8").read().splitlines()))' "$1"; }
PYTHONPATH="$SRC/bench" "$PY" -m analysis.decide --width 72 "$WORK/decide_a.csv" >"$WORK/decide_w.out" 2>&1
check "decide --width 72: no line wider, the same best-here lines, the columns left out named" \
    bash -c "[ $(maxw "$WORK/decide_w.out") -le 72 ] && [ \"\$(grep -A1 '^== ' '$WORK/decide_w.out' | grep -o '^best here: [^ ]*')\" = \"\$(grep -A1 '^== ' '$WORK/decide_a.out' | grep -o '^best here: [^ ]*')\" ] && grep -q 'columns left out to fit 72 columns' '$WORK/decide_w.out'"
rc=0; PYTHONPATH="$SRC/bench" "$PY" -m analysis.decide --width 10 "$WORK/decide_a.csv" >/dev/null 2>&1 || rc=$?
check "decide --width 10: too narrow, exit 2 (got $rc)" [ $rc -eq 2 ]
PYTHONPATH="$SRC/bench" "$PY" -m analysis.closing "$WORK/decide_a.csv" --report /r/report.html --seconds 253 >"$WORK/closing.out" 2>&1
check "closing: one answer line per section, the files, the time, the machine" \
    bash -c "grep -q '^long-lived hot object: percpu, percpu_atomic: within spread' '$WORK/closing.out' && grep -q '^short-lived object shared by 2 threads: atomic: 101 ns' '$WORK/closing.out' && grep -qx '  results  $WORK/decide_a.csv' '$WORK/closing.out' && grep -qx '  report   /r/report.html' '$WORK/closing.out' && grep -q '^took: 4 min 13 s (' '$WORK/closing.out' && grep -q '^machine: NOT quiet enough: 1 of ' '$WORK/closing.out' && [ $(maxw "$WORK/closing.out") -le 100 ]"
rc=0; PYTHONPATH="$SRC/bench" "$PY" -m analysis.closing "$WORK/none.csv" >/dev/null 2>"$WORK/closing.err" || rc=$?
check "closing: a missing file: exit 2, one line (got $rc)" \
    bash -c "[ $rc -eq 2 ] && [ \$(wc -l <'$WORK/closing.err') -eq 1 ] && grep -q '^closing: ' '$WORK/closing.err'"
rc=0; PYTHONPATH="$SRC/bench" "$PY" -m analysis.stability "$WORK/decide_a.csv" "$WORK/decide_a.csv" >"$WORK/stab_same.out" 2>&1 || rc=$?
check "stability: a file against itself agrees in every section (exit 0, got $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q '^stability: 4 of 4 section(s) agree$' '$WORK/stab_same.out'"
rc=0; PYTHONPATH="$SRC/bench" "$PY" -m analysis.stability "$WORK/decide_a.csv" "$WORK/decide_flip.csv" >"$WORK/stab_flip.out" 2>&1 || rc=$?
check "stability: another winner in one section: exit 1, the section named (got $rc)" \
    bash -c "[ $rc -eq 1 ] && grep -q '^stability: differs: long-lived hot object: A percpu, percpu_atomic (tied); B atomic$' '$WORK/stab_flip.out' && grep -q '^stability: 3 of 4 section(s) agree; 1 differ$' '$WORK/stab_flip.out'"

check "no core files in $WORK" test -z "$(find "$WORK" -name 'core*' -type f)"

check_summary
