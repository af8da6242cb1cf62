#!/bin/bash
# ./run.sh profile on this machine, and the perf columns of krefbench's CSV.
#   usage: tests/test_profile.sh SRC_DIR KREFBENCH_BINARY WORK_DIR
# Profiles go under WORK_DIR (KREFBENCH_PROFILE_DIR), never the source
# tree's results/; the binary given is profiled (KREFBENCH_BIN), nothing is
# built. WORK_DIR is cleared and recreated. Prints "ok - ..." / "FAIL - ..."
# per check and "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 SRC_DIR KREFBENCH_BINARY WORK_DIR" >&2
    exit 2
fi
SRC=$(cd "$1" && pwd)
BIN=$2
WORK=$3
PY=/usr/bin/python3
case "$WORK" in
    ""|/) echo "refusing WORK_DIR '$WORK'" >&2; exit 2 ;;
esac
rm -rf -- "$WORK"
mkdir -p -- "$WORK"
WORK=$(cd "$WORK" && pwd)
PROFILES=$WORK/profiles
export KREFBENCH_BIN=$BIN KREFBENCH_PROFILE_DIR=$PROFILES
unset KREFBENCH_PERF

source "$(dirname "$0")/check.sh"
listing() { { find "$1" -mindepth 1 2>/dev/null || true; } | sort; }

check "perf is installed" bash -c "perf --version >/dev/null"
if [ ! -x "$BIN" ]; then
    fail "binary $BIN is executable"
    echo "$passed passed, $failed failed"
    exit 1
fi
# A hardware PMU shows in sysfs (x86 "cpu", hybrid "cpu_core", Arm "armv8_pmuv3*").
PMU=0
for d in /sys/bus/event_source/devices/*; do
    case ${d##*/} in cpu | cpu_core | cpu_atom | armv8* | armv9*) PMU=1 ;; esac
done
NPUS=$("$BIN" --plan 2>/dev/null | sed -n 's/^placement [a-z]*, \([0-9]*\) threads$/\1/p' || true)
[[ "$NPUS" =~ ^[0-9]+$ ]] || NPUS=1
T=$(( NPUS < 2 ? NPUS : 2 ))
echo "# this machine: $NPUS PUs, hardware PMU in sysfs: $PMU; profiling with $T threads"
SRC_RESULTS_BEFORE=$(listing "$SRC/results")

# profile NAME ARGS...: runs ./run.sh profile, keeps stdout/stderr/rc in $WORK/NAME.*
profile() {
    local name=$1 rc=0; shift
    (ulimit -c 0 && exec "$SRC/run.sh" profile "$@") >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    echo "$rc" >"$WORK/$name.rc"
}
rc_of() { cat "$WORK/$1.rc"; }
dir_of() { sed -n 's/^profile: //p' "$WORK/$1.out" | tail -n 1; }
show_on_failure() {  # show_on_failure NAME WANT_RC
    [ "$(rc_of "$1")" = "$2" ] && return 0
    sed 's/^/  stdout: /' "$WORK/$1.out" | tail -n 20
    sed 's/^/  stderr: /' "$WORK/$1.err" | tail -n 20
}

# ---------------------------------------------------------------------------
# --stat
# ---------------------------------------------------------------------------
profile stat refcount hammer "$T" --stat --time 0.2
show_on_failure stat 0
check "--stat: exit 0 (got $(rc_of stat))" test "$(rc_of stat)" -eq 0
STAT_DIR=$(dir_of stat)
check "--stat: prints the profile directory ('$STAT_DIR')" test -n "$STAT_DIR" -a -d "$STAT_DIR"
check "--stat: the directory is under KREFBENCH_PROFILE_DIR" test "${STAT_DIR#"$PROFILES"/}" != "$STAT_DIR"
check "--stat: named <backend>-<workload>-t<threads>-<UTC time>" \
    bash -c '[[ "${1##*/}" =~ ^refcount-hammer-t'"$T"'-[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$ ]]' _ "$STAT_DIR"
check "--stat: perf-stat.txt has task-clock" grep -q 'task-clock' "$STAT_DIR/perf-stat.txt"
check "--stat: perf-stat.txt has context-switches" grep -q 'context-switches' "$STAT_DIR/perf-stat.txt"
check "--stat: the perf stat report is printed" grep -q 'Performance counter stats' "$WORK/stat.out"
check "--stat: the krefbench CSV is kept" test -s "$STAT_DIR/krefbench.csv"
check "--stat: its sidecar is kept" test -s "$STAT_DIR/krefbench.json"
check "--stat: prints the timed loop's figures" grep -q '^timed loop: refcount hammer t'"$T"': ns_per_op' "$WORK/stat.out"
if [ "$PMU" -eq 0 ]; then
    check "--stat: prints the 'no hardware PMU' note" \
        grep -qx 'note: no hardware PMU here: software events only' "$WORK/stat.out"
    check "--stat: no hardware events asked of perf" bash -c '! grep -q "cycles" "$1"' _ "$STAT_DIR/perf-stat.txt"
else
    check "--stat: cycles counted (a PMU is here)" grep -q 'cycles' "$STAT_DIR/perf-stat.txt"
fi

# ---------------------------------------------------------------------------
# --record
# ---------------------------------------------------------------------------
profile record refcount hammer "$T" --record --time 0.2
show_on_failure record 0
check "--record: exit 0 (got $(rc_of record))" test "$(rc_of record)" -eq 0
REC_DIR=$(dir_of record)
check "--record: prints the profile directory ('$REC_DIR')" test -n "$REC_DIR" -a -d "$REC_DIR"
check "--record: a second profile gets its own directory" test "$REC_DIR" != "$STAT_DIR"
check "--record: perf.data is written" test -s "$REC_DIR/perf.data"
check "--record: the full report is written" test -s "$REC_DIR/perf-report.txt"
check "--record: the top-20 summary is written" test -s "$REC_DIR/perf-report-top20.txt"
check "--record: the summary has at most 20 lines" test "$(wc -l <"$REC_DIR/perf-report-top20.txt")" -le 20
check "--record: the summary is printed" grep -q '^top 20 by self time' "$WORK/record.out"
check "--record: the hot loop (hammer_refcount) is in the full report" grep -q 'hammer_refcount' "$REC_DIR/perf-report.txt"
# Under a sanitizer the loop's own self time is about 1%, behind a dozen of
# the runtime's functions, so its rank in the top 20 depends on the load.
if ldd "$BIN" 2>/dev/null | grep -q -e libtsan -e libasan; then
    echo "# sanitizer build: the hot loop's rank by self time is not checked"
else
    check "--record: the hot loop (hammer_refcount) is in the top-20 summary" \
        grep -q 'hammer_refcount' "$REC_DIR/perf-report-top20.txt"
    check "--record: the summary printed names the hot loop" grep -q 'hammer_refcount' "$WORK/record.out"
fi
check "--record: the krefbench CSV is kept" test -s "$REC_DIR/krefbench.csv"
if [ "$PMU" -eq 0 ]; then
    check "--record: prints the 'no hardware PMU' note" grep -q '^note: no hardware PMU here' "$WORK/record.out"
    check "--record: sampled on cpu-clock" grep -q "of event 'cpu-clock'" "$REC_DIR/perf-report.txt"
fi

# ---------------------------------------------------------------------------
# --c2c: needs load/store sampling; without it one clear line and exit 2.
# ---------------------------------------------------------------------------
C2C_OK=0
perf c2c record -e list 2>&1 | grep -q ': available' && C2C_OK=1
before=$(listing "$PROFILES")
profile c2c refcount hammer "$T" --c2c --time 0.2
if [ "$C2C_OK" -eq 0 ]; then
    check "--c2c without load/store sampling: exit 2 (got $(rc_of c2c))" test "$(rc_of c2c)" -eq 2
    check "--c2c: exactly one stderr line (got $(wc -l <"$WORK/c2c.err"))" test "$(wc -l <"$WORK/c2c.err")" -eq 1
    check "--c2c: the line says c2c needs load/store sampling" grep -q '^run.sh: perf c2c needs .*load/store sampling' "$WORK/c2c.err"
    check "--c2c: nothing on stdout" test ! -s "$WORK/c2c.out"
    check "--c2c: no profile directory made" test "$(listing "$PROFILES")" = "$before"
else
    check "--c2c: exit 0 where the PMU samples loads and stores (got $(rc_of c2c))" test "$(rc_of c2c)" -eq 0
    check "--c2c: report written" test -s "$(dir_of c2c)/c2c-report.txt"
fi

# ---------------------------------------------------------------------------
# Bad input: krefbench's own one line, exit 2, nothing made.
# ---------------------------------------------------------------------------
bad() {  # bad NAME DESCRIPTION REGEX ARGS...
    local name=$1 desc=$2 re=$3 first; shift 3
    before=$(listing "$PROFILES")
    profile "$name" "$@"
    first=$(head -n 1 "$WORK/$name.err")
    check "$desc: exit 2 (got $(rc_of "$name"))" test "$(rc_of "$name")" -eq 2
    check "$desc: one stderr line (got $(wc -l <"$WORK/$name.err"))" test "$(wc -l <"$WORK/$name.err")" -eq 1
    if [[ "$first" =~ $re ]]; then pass "$desc: the line names the problem"; else fail "$desc: /$re/ (got '$first')"; fi
    check "$desc: no profile directory made" test "$(listing "$PROFILES")" = "$before"
}
bad badbackend "bad backend" "^krefbench: unknown backend 'nosuch'" nosuch hammer "$T" --time 0.2
bad badworkload "bad workload" "^krefbench: unknown workload 'nosuch'" refcount nosuch "$T" --time 0.2
bad badthreads "too many threads" "^krefbench: $((NPUS + 1)) threads" refcount hammer $((NPUS + 1)) --time 0.2
bad badmode "unknown mode" "^run.sh: unknown profile option '--bogus'" refcount hammer --bogus
bad usage "missing workload" "^run.sh: usage: ./run.sh profile" refcount
KREFBENCH_PERF=$WORK/no/such/perf bad noperf "perf missing" \
    "^run.sh: perf is not installed.*apt-get update && apt-get install -y linux-perf" refcount hammer

# Not permitted: a perf that refuses as perf does with kernel.perf_event_paranoid
# too high, run by a user who is not root.
cat >"$WORK/refusing-perf" <<'EOF'
#!/bin/sh
[ "$1" = --version ] && { echo "perf version (refusing stand-in)"; exit 0; }
echo "Error: Access to performance monitoring and observability operations is limited." >&2
exit 255
EOF
chmod 755 "$WORK/refusing-perf"
chmod 755 "$WORK"
if [ "$(id -u)" -eq 0 ]; then
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
    as_user=()
fi
rc=0
("${as_user[@]}" env KREFBENCH_PERF="$WORK/refusing-perf" "$SRC/run.sh" profile refcount hammer) \
    >"$WORK/denied.out" 2>"$WORK/denied.err" || rc=$?
check "not permitted (not root): exit 2 (got $rc)" test "$rc" -eq 2
check "not permitted: one stderr line (got $(wc -l <"$WORK/denied.err"))" test "$(wc -l <"$WORK/denied.err")" -eq 1
check "not permitted: the exact sysctl to change" \
    grep -q 'kernel.perf_event_paranoid = .*sysctl -w kernel.perf_event_paranoid=1' "$WORK/denied.err"

# ---------------------------------------------------------------------------
# Default thread count: 2, or the PU count if less.
# ---------------------------------------------------------------------------
profile default refcount hammer --time 0.1
show_on_failure default 0
check "no THREADS: exit 0 (got $(rc_of default))" test "$(rc_of default)" -eq 0
check "no THREADS: t$T in the directory name ($(dir_of default))" \
    bash -c '[[ "${1##*/}" == refcount-hammer-t'"$T"'-* ]]' _ "$(dir_of default)"

# ---------------------------------------------------------------------------
# The perf columns of the CSV, and the sidecar's perf_events.
# ---------------------------------------------------------------------------
"$BIN" --backends refcount,null --workloads hammer --threads "$T" --reps 1 --retries 0 --time 0.05 --no-floors --no-perf \
    --out "$WORK/noperf.csv" >"$WORK/noperf.out" 2>"$WORK/noperf.err" || fail "krefbench --no-perf ran"
pycheck "CSV" '
import csv, json, re, sys
src, csv_path, noperf, pmu = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
def ok(c, what):
    print(("ok - " if c else "FAIL - ") + what)
perf_cols = ["cycles_per_op", "instructions_per_op", "branches_per_op", "branch_misses_per_op",
             "cache_references_per_op", "cache_misses_per_op", "task_clock_ns_per_op",
             "context_switches_per_op", "cpu_migrations_per_op"]
text = open(src + "/bench/measure/results_writer.h").read()
m = re.search(r"#define\s+KB_CSV_HEADER((?:\s*\"[^\"]*\"\s*\\?)+)", text)
declared = "".join(re.findall(r"\"([^\"]*)\"", m.group(1))).split(",") if m else []
rows = list(csv.reader(open(csv_path, newline="")))
header = rows[0]
ok(header == declared, "profile CSV: header is KB_CSV_HEADER")
ok(header[-len(perf_cols):] == perf_cols, "profile CSV: the nine perf columns come last, in order")
ok(header.index("cycles_per_op") > header.index("check"), "profile CSV: perf columns after the documented ones")
data = [dict(zip(header, r)) for r in rows[1:]]
ok(len(data) == 1, "profile CSV: one benchmark, one repetition (%d rows)" % len(data))
for d in data:
    ns = float(d["ns_per_op"]); tc = d["task_clock_ns_per_op"]
    ok(tc != "" and float(tc) > 0, "profile CSV: task_clock_ns_per_op filled (%r)" % tc)
    # Each thread is on CPU at most all of its loop: task-clock per op <= wall per op (+ slack).
    ok(tc != "" and float(tc) <= ns * 1.10 + 0.5, "profile CSV: task_clock_ns_per_op %s <= ns_per_op %s" % (tc, ns))
    cs = d["context_switches_per_op"]
    ok(cs != "" and float(cs) >= 0, "profile CSV: context_switches_per_op filled, >= 0 (%r)" % cs)
    ok(d["cpu_migrations_per_op"] != "" and float(d["cpu_migrations_per_op"]) >= 0, "profile CSV: cpu_migrations_per_op >= 0")
    if not pmu:
        for c in perf_cols[:6]:
            ok(d[c] == "", "profile CSV: %s empty without a PMU (%r)" % (c, d[c]))
    else:
        ok(d["cycles_per_op"] != "", "profile CSV: cycles_per_op filled (PMU)")
j = json.load(open(csv_path[:-4] + ".json"))
pe = j.get("perf_events")
ok(isinstance(pe, dict) and pe.get("enabled") is True, "sidecar: perf_events, enabled")
ok(isinstance(pe, dict) and "task-clock" in pe.get("counted", []), "sidecar: task-clock counted")
if not pmu:
    why = (pe or {}).get("not_counted", {}).get("cycles", "")
    ok("no hardware PMU" in why, "sidecar: cycles not counted, and why (%r)" % why)
ok(isinstance((pe or {}).get("perf_event_paranoid"), int), "sidecar: perf_event_paranoid recorded")

rows = list(csv.reader(open(noperf, newline="")))
data = [dict(zip(rows[0], r)) for r in rows[1:]]
ok(len(data) == 2 and all(all(d[c] == "" for c in perf_cols) for d in data), "--no-perf: every perf column empty")
ok(all(d["check"] == "ok" for d in data), "--no-perf: the run itself is fine")
pe = json.load(open(noperf[:-4] + ".json")).get("perf_events", {})
ok(pe.get("enabled") is False and pe.get("counted") == [], "--no-perf: sidecar says perf is off")
ok(pe.get("not_counted", {}).get("task-clock") == "disabled by --no-perf", "--no-perf: and why")
' "$SRC" "$STAT_DIR/krefbench.csv" "$WORK/noperf.csv" "$PMU"
check "--no-perf: stderr says the counters are off" grep -q '^krefbench: perf counters off (disabled by --no-perf)' "$WORK/noperf.err"
check "--help lists --no-perf" bash -c '"$1" --help | grep -q -- "--no-perf"' _ "$BIN"

check "the source tree's results/ is untouched" test "$(listing "$SRC/results")" = "$SRC_RESULTS_BEFORE"
check "no core files in $WORK" test -z "$(find "$WORK" -name 'core*' -type f)"

check_summary
