#!/bin/bash
# Tests the regression gate's runs (bench/analysis/gate.py through ./run.sh compare
# --bin/--rev) with fake krefbench programs whose figures are known
# (tests/fake_krefbench.py.in): process pairs in random order after a
# warm-up pair, ASLR off, staged copies at paths of equal length, the
# default sweep, verdicts and exit codes, options
# refused before anything runs or is created, a binary that writes no CSV,
# ^C and SIGTERM (130/143, nothing temporary left), relative paths, and
# --rev on a small git repository whose "build" is a fake. No timing is
# asserted: the gate's power on the real benchmark is .ci/gate_power.py's.
#     usage: tests/test_gate.sh SRC_DIR OUT_DIR
set -euo pipefail

source "$(dirname "$0")/check.sh"
source "$(dirname "$0")/fake_krefbench.sh"
src_and_out_dirs "$@"
mkdir -p -- "$OUT/tmp"
# The gate's temporary directories go here, so that what it leaves is seen.
export TMPDIR=$OUT/tmp

named() {  # the backends named in regression lines of NAME.err, sorted, one line
    sed -n 's/^compare: regression: \([^ ]*\) .*/\1/p' "$OUT/$1.err" | sort -u | tr '\n' ' '
}
tmp_left() { find "$TMPDIR" -mindepth 1 -maxdepth 1 | wc -l; }

make_fake "$OUT/fake-a" 1.0
make_fake "$OUT/fake-slower" 1.10
make_fake "$OUT/fake-nocsv" 1.0 nocsv
make_fake "$OUT/fake-fail" 1.0 fail
make_fake "$OUT/fake-slow" 1.0 slow
make_fake "$OUT/fake-flaky" 1.0 flaky
make_fake "$OUT/fake-busy" 1.0 busy
make_fake "$OUT/fake-allbusy" 1.0 allbusy

# --- the same binary on both sides ------------------------------------------
rm -f "$OUT/fake.log"
run aa "$SRC/run.sh" compare --bin "$OUT/fake-a" --bin "$OUT/fake-a" --pairs 16 --seed 1 --out "$OUT/aa"
check "A/A: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "A/A: no regression line" bash -c "! grep -q '^compare: regression' '$OUT/aa.err'"
check "A/A: 16 counted pairs, each side run once more as warm-up (34 runs)" \
    [ "$(wc -l <"$OUT/fake.log")" -eq 34 ]
check "A/A: the joined files carry pair and position" \
    bash -c "head -n 1 '$OUT/aa/a.csv' | grep -q ',pair,position$' && [ \$(wc -l < '$OUT/aa/a.csv') -eq 129 ]"
pycheck "gate.json" '
import json, sys
g = json.load(open(sys.argv[1]))
print(("ok - " if g["pairs_run"] == 16 and g["seed"] == 1 else "FAIL - ") + "gate.json: 16 pairs, seed 1")
orders = g["orders"]
print(("ok - " if set(orders) == {"ab", "ba"} and len(orders) == 16 else "FAIL - ") +
      f"the order within a pair is drawn: both orders occur ({orders})")
print(("ok - " if g["aslr_off"] else "FAIL - ") + "gate.json: ASLR off")
' "$OUT/aa/gate.json"
check "every run had ASLR off (setarch -R)" bash -c "! grep -q '|random$' '$OUT/fake.log'"
check "both sides ran from staged copies at paths of equal length, not the originals" \
    bash -c "[ \$(cut -d'|' -f1 '$OUT/fake.log' | awk '{ print length(\$0) }' | sort -u | wc -l) -eq 1 ] && ! grep -q '^$OUT/fake-a|' '$OUT/fake.log' && [ \$(cut -d'|' -f1 '$OUT/fake.log' | sort -u | wc -l) -eq 2 ]"
check "the default sweep: atomic,refcount x hammer,private x 1,2 threads, one short window, no floors" \
    grep -q -- "|--backends atomic,refcount --workloads hammer,private --threads 1,2 --reps 1 --time 0.02 --no-floors --out " "$OUT/fake.log"
check "staged copies and temporary files removed" [ "$(tmp_left)" -eq 0 ]
check "A/A: the report is paired, with intervals" has aa.out "paired: Wilcoxon signed rank"
check "A/A: says where the pairs are and how to redo the analysis" has aa.err "(again: ./run.sh compare $OUT/aa/a.csv $OUT/aa/b.csv"
run again "$SRC/run.sh" compare "$OUT/aa/a.csv" "$OUT/aa/b.csv"
check "the joined files re-analysed: the same result (exit 0, got $rc)" \
    bash -c "[ $rc -eq 0 ] && diff <(grep -v '^[AB]: ' '$OUT/aa.out') <(grep -v '^[AB]: ' '$OUT/again.out')"

# --- a 10% slower atomic -----------------------------------------------------
run ab "$SRC/run.sh" compare --bin "$OUT/fake-a" --bin "$OUT/fake-slower" --pairs 16 --out "$OUT/ab"
check "A/B: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "A/B: atomic and only atomic named" [ "$(named ab)" = "atomic " ]

# Sweep options replace the defaults' own.
rm -f "$OUT/fake.log"
run sweep "$SRC/run.sh" compare --bin "$OUT/fake-a" --bin "$OUT/fake-slower" --pairs 12 --threads 1 \
    --backends atomic --out "$OUT/sweep" -- --writer-rate 0
check "--threads/--backends replace the default sweep's, -- passes the rest (exit 1, got $rc)" \
    bash -c "[ $rc -eq 1 ] && grep -q -- '|--backends atomic --workloads hammer,private --threads 1 --reps 1 --time 0.02 --no-floors --writer-rate 0 --out ' '$OUT/fake.log'"

# --- pairs run until every row has enough clean ones ---------------------------
run flaky "$SRC/run.sh" compare --bin "$OUT/fake-flaky" --bin "$OUT/fake-flaky" --pairs 12 --out "$OUT/flaky"
pycheck "flaky" '
import json, sys
g = json.load(open(sys.argv[1]))
n = g["clean_pairs"]
run = g["pairs_run"]
print(("ok - " if min(n.values()) >= 12 and run > 12 else "FAIL - ") +
      f"disturbed rows: pairs continue until every row has 12 clean ones ({run} pairs, {n})")
' "$OUT/flaky/gate.json"
check "flaky: exit 0, every row decided (got $rc)" [ "$rc" -eq 0 ]
run busy "$SRC/run.sh" compare --bin "$OUT/fake-busy" --bin "$OUT/fake-busy" --pairs 12 --max-pairs 30 --clean-only --out "$OUT/busy"
check "--clean-only, a row never clean: stops at --max-pairs, says which row, exit 2 undecided (got $rc)" \
    bash -c "[ $rc -eq 2 ] && grep -q 'stopped after 30 pairs (--max-pairs 30 reached) with fewer than 12 clean pairs for 1 row(s): atomic private 2 0' '$OUT/busy.err' && grep -q '^compare: undecided: 1 of 8' '$OUT/busy.err'"

rm -f "$OUT/fake.log"
run busyall "$SRC/run.sh" compare --bin "$OUT/fake-busy" --bin "$OUT/fake-busy" --pairs 12 --max-pairs 30 --out "$OUT/busyall"
check "by default the never-clean row is analysed on all its pairs, decided (exit 0, got $rc), named in a note, marks kept in a.csv" \
    bash -c "[ $rc -eq 0 ] && grep -q 'note: 1 row(s) short of clean pairs analysed on all their pairs, disturbed ones included, by the wall clock (no task_clock_ns_per_op in every row: perf counters off?): atomic private 2' '$OUT/busyall.err' && grep -q 'task_clock' '$OUT/busyall/a.csv' && [ -s '$OUT/busyall/a.with-disturbed.csv' ]"
check "1 of 8 rows disturbed is not a busy machine: retries stay on" \
    bash -c "! grep -q -- '--retries 0' '$OUT/fake.log' && ! grep -q 'retries 0 from' '$OUT/busyall.err'"

rm -f "$OUT/fake.log"
run allbusy "$SRC/run.sh" compare --bin "$OUT/fake-allbusy" --bin "$OUT/fake-allbusy" --pairs 12 --max-pairs 20 --out "$OUT/allbusy"
check "every row disturbed: decided on all pairs (exit 0, got $rc), --retries 0 from pair 4 on, the same options on both sides of a pair, the sidecars go with the analysed copies" \
    bash -c "[ $rc -eq 0 ] && grep -q 'note: 48 of 48 row attempts of the first 3 pairs were disturbed (a busy machine): --retries 0 from pair 4 on' '$OUT/allbusy.err' && [ \$(grep -c -- '--retries 0 --out ' '$OUT/fake.log') -eq 34 ] && [ \$(grep -c -- '--no-floors --out ' '$OUT/fake.log') -eq 8 ] && grep -q '\"retries_off_from_pair\": 4' '$OUT/allbusy/gate.json' && [ -s '$OUT/allbusy/a.with-disturbed.json' ] && ! grep -q 'no sidecar' '$OUT/allbusy.err'"
run allbusy_r "$SRC/run.sh" compare --bin "$OUT/fake-allbusy" --bin "$OUT/fake-allbusy" --pairs 12 --max-pairs 14 --out "$OUT/allbusy_r" -- --retries 2
check "--retries given after --: the gate never changes it (exit 0, got $rc)" \
    bash -c "[ $rc -eq 0 ] && ! grep -q 'retries 0 from' '$OUT/allbusy_r.err'"

# --- relative paths are the caller's ---------------------------------------
mkdir -p "$OUT/cwd"
cp "$OUT/fake-a" "$OUT/cwd/kb"
rc=0
(cd "$OUT/cwd" && "$SRC/run.sh" compare --bin kb --bin ./kb --pairs 12 --out rel >"$OUT/rel.out" 2>"$OUT/rel.err") || rc=$?
check "--bin and --out relative to the caller's directory (exit 0, got $rc)" \
    bash -c "[ $rc -eq 0 ] && [ -f '$OUT/cwd/rel/a.csv' ] && [ ! -e '$SRC/rel' ]"

# --- options refused before anything is built, run or created ----------------
before=$(find "$SRC/results" -maxdepth 1 -name "compare-*" | wc -l)
one_line() {  # one_line NAME TEXT: exit 2, one 'compare: ' line saying TEXT
    check "$1: exit 2 (got $rc)" [ "$rc" -eq 2 ]
    check "$1: one line on stderr, 'compare: ...$2...'" \
        bash -c '[ $(wc -l < "$1") -eq 1 ] && grep -q "^compare: " "$1" && grep -qF -- "$2" "$1"' _ "$OUT/$1.err" "$2"
}
rm -f "$OUT/fake.log"
run badalpha "$SRC/run.sh" compare --rev HEAD --alpha 2
one_line badalpha "--alpha 2 must be between 0 and 1"
run badformat "$SRC/run.sh" compare --bin "$OUT/fake-a" --bin "$OUT/fake-a" --format xml
one_line badformat "invalid choice"
run badpairs "$SRC/run.sh" compare --bin "$OUT/fake-a" --bin "$OUT/fake-a" --pairs 0
one_line badpairs "not a positive integer"
run rounds "$SRC/run.sh" compare --bin "$OUT/fake-a" --bin "$OUT/fake-a" --rounds 4
one_line rounds "--rounds is gone"
run nobin "$SRC/run.sh" compare --bin "$OUT/nope" --bin "$OUT/fake-a"
one_line nobin "is not an executable file"
run onebin "$SRC/run.sh" compare --bin "$OUT/fake-a"
one_line onebin "give --rev BASE"
run mixed "$SRC/run.sh" compare --bin "$OUT/fake-a" --bin "$OUT/fake-a" --rev HEAD
one_line mixed "give --rev BASE"
run badrev "$SRC/run.sh" compare --rev no-such-revision-xyz
one_line badrev "'no-such-revision-xyz' is not a revision"
run outopt "$SRC/run.sh" compare --bin "$OUT/fake-a" --bin "$OUT/fake-a" -- --out x.csv
one_line outopt "--out is not a krefbench option here"
mkdir -p "$OUT/full"; : >"$OUT/full/something"
run fullout "$SRC/run.sh" compare --bin "$OUT/fake-a" --bin "$OUT/fake-a" --out "$OUT/full"
one_line fullout "exists and is not an empty directory"
check "refused options: nothing ran" [ ! -e "$OUT/fake.log" ]
check "refused options: no results/compare-* directory made" \
    [ "$(find "$SRC/results" -maxdepth 1 -name "compare-*" | wc -l)" -eq "$before" ]
check "refused options: nothing temporary left" [ "$(tmp_left)" -eq 0 ]

# --- binaries that misbehave --------------------------------------------------
run nocsv "$SRC/run.sh" compare --bin "$OUT/fake-a" --bin "$OUT/fake-nocsv" --out "$OUT/nocsv"
one_line nocsv "B's binary wrote no results CSV"
run kbfail "$SRC/run.sh" compare --bin "$OUT/fake-fail" --bin "$OUT/fake-a" --out "$OUT/kbfail"
one_line kbfail "krefbench of A failed in pair 0 (exit 2): krefbench: --threads: something is wrong"
check "misbehaving binaries: nothing temporary left" [ "$(tmp_left)" -eq 0 ]

# --- signals: ^C (the whole process group) -> 130, SIGTERM -> 143 -------------
signal_case() {  # signal_case NAME SIGNAL WHOM EXPECTED
    local name=$1 sig=$2 whom=$3 want=$4 pid
    rm -f "$OUT/fake.log"
    "${AS_FROM_TERMINAL[@]}" "$SRC/run.sh" compare --bin "$OUT/fake-slow" --bin "$OUT/fake-slow" --out "$OUT/$name" \
        >"$OUT/$name.out" 2>"$OUT/$name.err" &
    pid=$!
    for _ in $(seq 100); do [ -s "$OUT/fake.log" ] && break; sleep 0.1; done
    if [ "$whom" = group ]; then kill -s "$sig" -- "-$pid"; else kill -s "$sig" "$pid"; fi
    rc=0
    wait "$pid" || rc=$?
    check "$name: exit $want (got $rc)" [ "$rc" -eq "$want" ]
    check "$name: says it was interrupted" has "$name.err" "compare: interrupted"
    check "$name: nothing temporary left, no fake still running" \
        bash -c "[ \$(find '$TMPDIR' -mindepth 1 -maxdepth 1 | wc -l) -eq 0 ] && ! pgrep -f '$OUT/tm[p]/' >/dev/null"
}
signal_case sigint INT group 130
signal_case sigterm TERM pid 143

# --- --rev on a small repository whose build makes a fake krefbench ----------
R=$OUT/repo
mkdir -p "$R"
git -C "$R" init -q
git -C "$R" config user.email t@example.invalid
git -C "$R" config user.name test
cat >"$R/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.13)
project(fake NONE)
option(KREFBENCH_TESTS "" ON)
add_custom_target(krefbench ALL
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/bench
  COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_SOURCE_DIR}/fake-krefbench ${CMAKE_BINARY_DIR}/bench/krefbench)
EOF
cp "$OUT/fake-a" "$R/fake-krefbench"
git -C "$R" add -A && git -C "$R" commit -q -m base
cp "$OUT/fake-slower" "$R/fake-krefbench"
git -C "$R" commit -q -am slower
cp "$OUT/fake-a" "$R/fake-krefbench"      # the working tree: as fast as base again
revgate() {  # revgate NAME REVS...: bench/analysis/gate.py with --repo R (as run.sh passes its own)
    local name=$1; shift
    run "$name" "$PY" -m analysis.gate --repo "$R" "$@" --pairs 12 --out "$OUT/$name"
}
revgate rev2 --rev HEAD~1 --rev HEAD
check "--rev BASE --rev OTHER: both built in worktrees, atomic slower (exit 1, got $rc)" \
    bash -c "[ $rc -eq 1 ] && [ '$(named rev2)' = 'atomic ' ] && grep -q '^compare: building B = HEAD (' '$OUT/rev2.err'"
check "--rev: build logs kept, worktrees removed" \
    bash -c "[ -s '$OUT/rev2/a.build.log' ] && [ \$(git -C '$R' worktree list | wc -l) -eq 1 ]"
revgate rev1 --rev HEAD
check "--rev HEAD alone: B is the working tree with its uncommitted change (faster: exit 0, got $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q 'working tree (HEAD [0-9a-f]* + uncommitted changes)' '$OUT/rev1.err' && [ -x '$R/build/compare/bench/krefbench' ]"
echo 'this is not cmake(' >>"$R/CMakeLists.txt"
revgate revbroken --rev HEAD
check "--rev: a build that fails -> exit 2 naming the log (got $rc)" \
    bash -c "[ $rc -eq 2 ] && grep -q '^compare: building .* failed (log: $OUT/revbroken/b.build.log)' '$OUT/revbroken.err'"
check "--rev: nothing temporary left, worktrees removed" \
    bash -c "[ \$(find '$TMPDIR' -mindepth 1 -maxdepth 1 | wc -l) -eq 0 ] && [ \$(git -C '$R' worktree list | wc -l) -eq 1 ]"

# --- .ci/gate_power.py on a tree whose build makes a fake with the injection --
P=$OUT/power-src
mkdir -p "$P"
make_fake "$P/fake-krefbench.in" @SLOWDOWN@      # the build fills the injection in
cat >"$P/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.13)
project(fake NONE)
option(KREFBENCH_TESTS "" ON)
set(KREFBENCH_TEST_SLOW_PUT_PCT 0 CACHE STRING "")
math(EXPR per_mille "1000 + 10 * ${KREFBENCH_TEST_SLOW_PUT_PCT}")
set(SLOWDOWN "${per_mille}/1000")
configure_file(fake-krefbench.in ${CMAKE_BINARY_DIR}/bench/krefbench @ONLY
               FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
add_custom_target(krefbench ALL)
EOF
run power "$PY" "$SRC/.ci/gate_power.py" --k 2 --pct 10 --src "$P" --build-dir "$OUT/power-build" \
    --out "$OUT/power-run" -- --pairs 12
check "gate_power: K = 2 at 10% on fakes: PASS, exit 0 (got $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q '^gate_power: PASS' '$OUT/power.out'"
check "gate_power: counts false alarms and detections" \
    bash -c "grep -q '^gate_power: same vs same: exit 0 in 2 of 2 (false alarms, exit 1: 0; undecided, exit 2: 0)' '$OUT/power.out' && grep -q '^gate_power: same vs 10% slower: atomic and only atomic named, exit 1, in 2 of 2' '$OUT/power.out'"
check "gate_power: the builds' injection reached the binaries (A/B ratio of atomic private@1 ~1.10)" \
    grep -qE '^gate_power: atomic private@1: A/B ratio median 1\.(09|10|11)' "$OUT/power.out"
run power0 "$PY" "$SRC/.ci/gate_power.py" --k 1 --pct 1 --src "$P" --build-dir "$OUT/power-build1" \
    --out "$OUT/power-run1" -- --pairs 12 --threshold 5
check "gate_power: a 1% injection under a 5% threshold is not detected: FAIL, exit 1 (got $rc)" \
    bash -c "[ $rc -eq 1 ] && grep -q '^gate_power: FAIL' '$OUT/power0.out'"

check_summary
