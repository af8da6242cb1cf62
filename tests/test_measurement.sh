#!/bin/bash
# The measurement model end to end (README, "How a figure is measured"):
#  1. a disturbance provoked by a competing busy process on the benchmark's
#     CPU is flagged (disturbed names why), retried (--retries), summarised
#     and warned about; Google Benchmark's JSON still has every repetition;
#     so is one of a workload that declares its own blocking and helpers;
#  2. Google Benchmark names are stable: two runs with different --backends
#     subsets and orders name a benchmark alike, and Debian's compare.py
#     (libbenchmark-tools) matches their rows;
#  3. fast_path names the per-CPU path actually used, per row, also when glibc
#     does not register rseq; an oversubscribed percpu run (threads that share
#     CPUs and get preempted inside the section) keeps its exact count, and on
#     the rseq path it did restart sections (so the check exercised them);
#  3b. each round runs in a process of its own (the process column), and a
#     backend with a thread of its own runs after the others in each;
#  4. --retries and --seed: bounds, and --seed makes the round order repeatable.
#   usage: tests/test_measurement.sh BINARY WORK_DIR
set -uo pipefail
BIN=$1
WORK=$2
PY=/usr/bin/python3
case "$WORK" in ""|/) echo "refusing WORK_DIR '$WORK'" >&2; exit 2 ;; esac
rm -rf -- "$WORK" && mkdir -p -- "$WORK"
source "$(dirname "$0")/check.sh"

# ---------------------------------------------------------------------------
# 1. A competing busy process on the benchmark's only CPU.
# ---------------------------------------------------------------------------
cpu=$("$BIN" --plan --threads 1 --placement cores | sed -n 's/^thread 0 -> PU \([0-9]*\).*/\1/p')
check "the plan names thread 0's CPU ($cpu)" test -n "$cpu"
taskset -c "$cpu" sh -c 'while :; do :; done' &
hog=$!
sleep 0.2
rc=0
"$BIN" --backends atomic --workloads hammer --threads 1 --placement "$cpu" --reps 3 --retries 1 --time 0.05 \
	--no-floors --out "$WORK/busy.csv" >"$WORK/busy.out" 2>"$WORK/busy.err" || rc=$?
kill "$hog"
wait "$hog" 2>/dev/null
check "busy: exit 0 (a disturbance is not a failure; got $rc)" test "$rc" -eq 0
check "busy: the summary warns that most repetitions were disturbed" grep -q 'WARNING: most repetitions were disturbed' "$WORK/busy.out"
check "busy: the summary counts them" grep -q '^disturbance: [1-9][0-9]* of 3 repetitions were disturbed' "$WORK/busy.out"
pycheck "busy CSV" '
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def ok(c, what): print(("ok - " if c else "FAIL - ") + "busy: " + what)
flagged = [r for r in rows if r["disturbed"]]
ok(len(flagged) >= len(rows) - 1, "the repetitions that shared the CPU are flagged (%d of %d)" % (len(flagged), len(rows)))
ok(all("outside" in r["disturbed"] for r in flagged),
   "each says the thread lost time to others (outside): %s" % sorted({r["disturbed"] for r in flagged})[:3])
ok(all(float(r["outside_pct"]) > 5 for r in flagged), "outside_pct shows the loss")
ok(all(int(r["invol_switches"]) > 0 for r in flagged), "and was preempted (invol_switches)")
ok(any(float(r["task_clock_ratio"]) < 0.9 for r in rows), "task_clock_ratio shows the lost time")
ok(all(r["attempt"] in ("0", "1") for r in rows) and sum(r["attempt"] == "1" for r in rows) >= 1,
   "disturbed repetitions were retried, at most --retries 1 times")
reps = {r["rep"] for r in rows}
ok(reps == {"0", "1", "2"}, "every repetition is in the CSV")
j = json.load(open(sys.argv[2]))
names = [b["run_name"] for b in j["benchmarks"]]
ok(len(names) == 3 and all(b["disturbed"] == 1 for b in j["benchmarks"] if b["repetition_index"] in
   {int(r["rep"]) for r in rows if r["disturbed"] and r["attempt"] == "1"}),
   "Google Benchmark JSON: each repetition once, disturbed ones marked")
' "$WORK/busy.csv" "$WORK/busy.gbench.json"

# A workload that declares its own blocking and helper thread (lookup_mutex:
# readers sleep on the list's mutex, a writer thread) is still flagged when
# another process takes its CPU: only its own threads and sleeps are its cost.
taskset -c "$cpu" sh -c 'while :; do :; done' &
hog=$!
sleep 0.2
"$BIN" --backends atomic --workloads lookup_mutex --threads 1 --placement "$cpu" --reps 3 --retries 0 --time 0.05 \
	--no-floors --out "$WORK/busy-own.csv" >/dev/null 2>&1
kill "$hog"
wait "$hog" 2>/dev/null
pycheck "busy, own blocking" '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def ok(c, what): print(("ok - " if c else "FAIL - ") + "busy, own blocking: " + what)
flagged = [r for r in rows if "outside" in r["disturbed"]]
ok(rows and len(flagged) >= len(rows) - 1, "a declared blocking row that shared its CPU with another process is flagged (%d of %d: %s)" % (len(flagged), len(rows), sorted({r["disturbed"] for r in rows})[:2]))
' "$WORK/busy-own.csv"

# ---------------------------------------------------------------------------
# 2. Stable names across subsets; Debian's compare.py matches them.
# ---------------------------------------------------------------------------
"$BIN" --quick --backends atomic,null --workloads hammer --threads 1 --no-floors --out "$WORK/a.csv" >/dev/null 2>&1
check "names: run a" test -s "$WORK/a.gbench.json"
"$BIN" --quick --backends refcount,null,atomic --workloads hammer --threads 1 --no-floors --out "$WORK/b.csv" >/dev/null 2>&1
check "names: run b" test -s "$WORK/b.gbench.json"
pycheck "names" '
import json, sys
def names(p): return {b["run_name"] for b in json.load(open(p))["benchmarks"]}
a, b = names(sys.argv[1]), names(sys.argv[2])
def ok(c, what): print(("ok - " if c else "FAIL - ") + "names: " + what)
ok("atomic/hammer/w0/t1/threads:1" in a and "atomic/hammer/w0/t1/threads:1" in b, "atomic is named alike in both (%s)" % sorted(a))
ok("null/hammer/w0/t1/threads:1" in a and "null/hammer/w0/t1/threads:1" in b, "null is named alike, whatever its place")
ok(not any(c.isdigit() and n.split("/")[-2] == c for n in a | b for c in "0123456789"), "no ordinal in any name")
' "$WORK/a.gbench.json" "$WORK/b.gbench.json"
compare_py=/usr/share/benchmark/compare.py
if [ -f "$compare_py" ]; then
	"$PY" "$compare_py" benchmarks "$WORK/a.gbench.json" "$WORK/b.gbench.json" 2>&1 |
		sed 's/\x1b\[[0-9;]*m//g' >"$WORK/compare.txt"
	check "Debian compare.py matches atomic across the subsets" grep -q '^atomic/hammer/w0/t1/threads:1 ' "$WORK/compare.txt"
	check "Debian compare.py matches null across the subsets" grep -q '^null/hammer/w0/t1/threads:1 ' "$WORK/compare.txt"
	check "Debian compare.py does not invent refcount (only in b)" sh -c "! grep -q '^refcount/' '$WORK/compare.txt'"
else
	fail "Debian's compare.py is installed ($compare_py; package libbenchmark-tools)"
fi

# ---------------------------------------------------------------------------
# 3. The per-CPU fast path, per row.
# ---------------------------------------------------------------------------
"$BIN" --quick --backends percpu,percpu_atomic,atomic --workloads hammer --threads 1 --no-floors \
	--out "$WORK/fp.csv" >/dev/null 2>&1
GLIBC_TUNABLES=glibc.pthread.rseq=0 "$BIN" --quick --backends percpu --workloads hammer --threads 1 --no-floors \
	--out "$WORK/fp-norseq.csv" >/dev/null 2>&1
pycheck "fast_path" '
import csv, json, sys
def ok(c, what): print(("ok - " if c else "FAIL - ") + "fast_path: " + what)
rows = list(csv.DictReader(open(sys.argv[1])))
side = json.load(open(sys.argv[1][:-4] + ".json"))
claimed = "rseq" if side["percpu_fast_path"].startswith("rseq") else "atomic"
by = lambda b: {r["fast_path"] for r in rows if r["backend"] == b}
ok(by("percpu") == {claimed}, "percpu rows name the path the sidecar reports (%s vs %r)" % (by("percpu"), side["percpu_fast_path"]))
ok(by("percpu_atomic") == {"atomic"}, "percpu_atomic rows say atomic")
ok(by("atomic") == {"n/a"}, "backends without a per-CPU path say n/a")
ok(all((r["rseq_restarts_per_mop"] != "") == (r["fast_path"] == "rseq") for r in rows), "restarts per Mop exactly where the path is rseq")
norseq = list(csv.DictReader(open(sys.argv[2])))
ok(norseq and {r["fast_path"] for r in norseq} == {"atomic"}, "without rseq (glibc.pthread.rseq=0) percpu says atomic")
' "$WORK/fp.csv" "$WORK/fp-norseq.csv"

npus=$("$BIN" --plan | sed -n 's/^placement [a-z]*, \([0-9]*\) threads$/\1/p')
over=$((4 * npus))
rc=0
"$BIN" --backends percpu --workloads hammer,spread --threads "$over" --oversubscribe --reps 2 --time 0.2 --no-floors \
	--out "$WORK/over.csv" >"$WORK/over.out" 2>&1 || rc=$?
check "oversubscribed percpu ($over threads on $npus PUs): exit 0 (got $rc)" test "$rc" -eq 0
pycheck "oversubscribed" '
import csv, sys
def ok(c, what): print(("ok - " if c else "FAIL - ") + "oversubscribed: " + what)
rows = list(csv.DictReader(open(sys.argv[1])))
ok(rows and all(r["check"] == "ok" for r in rows), "every count exact and every object released once (check ok)")
rseq = [r for r in rows if r["fast_path"] == "rseq"]
if rseq:
    ok(sum(float(r["rseq_restarts_per_mop"]) for r in rseq) > 0, "threads sharing a CPU restarted rseq sections (the check saw them)")
else:
    print("ok - oversubscribed: atomic fast path in this build (no rseq restarts to see)")
' "$WORK/over.csv"

# ---------------------------------------------------------------------------
# 3b. Processes: each round in its own; a backend with a thread of its own
#     (refcache's epoch thread) runs after every other backend in it.
# ---------------------------------------------------------------------------
"$BIN" --quick --backends refcache,atomic,percpu --workloads hammer,private --threads 1 --reps 3 --no-floors --wide \
	--out "$WORK/proc.csv" >"$WORK/proc.out" 2>&1
"$BIN" --list --format json >"$WORK/list.json"
pycheck "processes" '
import csv, json, sys
def ok(c, what): print(("ok - " if c else "FAIL - ") + "processes: " + what)
rows = list(csv.DictReader(open(sys.argv[1])))
procs = {}
for r in rows:
    procs.setdefault(r["process"], []).append(r["backend"])
ok(sorted(procs) == ["1", "2", "3"], "3 rounds: processes 1, 2, 3 (%s)" % sorted(procs))
ok(all(sorted({r["process"] for r in rows if r["rep"] == str(k)}) == [str(k + 1)] for k in range(3)),
   "repetition k was measured by process k+1")
def last(b):
    return all(all(x == "refcache" for x in v[v.index("refcache"):]) for v in procs.values() if "refcache" in v)
ok(procs and last("refcache"), "in every process, refcache rows come after every other backend (%s)" % list(procs.values())[:1])
cat = json.load(open(sys.argv[2]))
flags = {b["name"]: b.get("flags", []) for b in cat["backends"]}
ok("helper_thread" in flags.get("refcache", []) and "helper_thread" not in flags.get("atomic", []),
   "--list names refcache (only) as running a thread of its own")
ok("blocking" in flags.get("mutex", []), "--list names mutex as blocking")
' "$WORK/proc.csv" "$WORK/list.json"
check "processes: 3 clean repetitions give an interval (±) or fewer say n=" \
	grep -qE '^hammer +1 +[0-9.]+(±[0-9]+%|~| n=[12])' "$WORK/proc.out"

# ---------------------------------------------------------------------------
# 4. --retries, --seed.
# ---------------------------------------------------------------------------
for bad in "--retries 21" "--retries -1" "--seed 0" "--seed x"; do
	rc=0
	# shellcheck disable=SC2086 # the option and its value
	"$BIN" --quick --threads 1 $bad --out "$WORK/bad.csv" >/dev/null 2>"$WORK/bad.err" || rc=$?
	check "$bad: exit 2, one line, nothing written (rc $rc)" \
		test "$rc" -eq 2 -a "$(wc -l <"$WORK/bad.err")" -eq 1 -a ! -e "$WORK/bad.csv"
done
for i in 1 2; do
	"$BIN" --quick --backends atomic,null,refcount --workloads hammer,private --threads 1 --retries 0 --seed 42 \
		--out "$WORK/seed$i.csv" >/dev/null 2>&1
done
pycheck "seed" '
import csv, json, sys
def ok(c, what): print(("ok - " if c else "FAIL - ") + "seed: " + what)
order = [[(r["backend"], r["workload"], r["rep"]) for r in csv.DictReader(open(p))] for p in sys.argv[1:3]]
ok(order[0] == order[1] and len(order[0]) == 3 * 3 * 2 + 3 * 3, "--seed 42 twice: the same order of rows")
ok(len(set(order[0])) == len(order[0]), "--retries 0: one attempt per repetition")
first_round = [k for k in order[0] if k[2] == "0"]
ok([k[0] for k in first_round[:3]] == ["floor"] * 3, "a round runs its floors first")
ok(json.load(open(sys.argv[1][:-4] + ".json"))["measurement"]["seed"] == 42, "the sidecar records the seed")
' "$WORK/seed1.csv" "$WORK/seed2.csv"

check_summary
