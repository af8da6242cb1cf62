#!/bin/bash
# Tests ./run.sh bisect (bench/analysis/bisection.py) and the gate's rows of
# what a change touches (bench/analysis/touched.py) on constructed git
# repositories whose "build" makes a fake krefbench with scripted timing
# (tests/fake_krefbench.py.in): a regression injected at a known
# commit is found, skips (a commit that does not build), BAD not slower,
# bad input, ^C and SIGTERM, and the tree and HEAD restored however it ends; each gate
# recorded in the history.
#     usage: tests/test_bisect.sh SRC_DIR OUT_DIR
set -euo pipefail

source "$(dirname "$0")/check.sh"
source "$(dirname "$0")/fake_krefbench.sh"
src_and_out_dirs "$@"
mkdir -p -- "$OUT/tmp"
export TMPDIR=$OUT/tmp
export KREFBENCH_HISTORY=$OUT/history.sqlite
export PYTHONPATH=$SRC/bench


# The fake krefbench of a commit: its build fills in the tree's slowdown
# file (atomic's factor); it logs its options to $OUT/fake.log, and sleeps
# while $OUT/slow exists (tests/fake_krefbench.py.in).
make_fake "$OUT/fake.in" @SLOWDOWN@
R=$OUT/repo
mkdir -p "$R/core/backends" "$R/bench/workloads"
git -C "$R" init -q
git -C "$R" config user.email t@example.invalid
git -C "$R" config user.name test
cat >"$R/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.13)
project(fake NONE)
option(KREFBENCH_TESTS "" ON)
file(READ ${CMAKE_SOURCE_DIR}/slowdown SLOWDOWN)
string(STRIP "${SLOWDOWN}" SLOWDOWN)
configure_file(${CMAKE_SOURCE_DIR}/fake.in ${CMAKE_BINARY_DIR}/bench/krefbench @ONLY
               FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
add_custom_target(krefbench ALL)
EOF
cp "$OUT/fake.in" "$R/fake.in"
printf 'atomic\nrefcount\npercpu\npercpu_atomic percpu\n' >"$R/core/backends.list"
for h in atomic refcount percpu; do echo "/* $h */" >"$R/core/backends/$h.h"; done
echo "/* percpu */" >"$R/core/backends/percpu.c"
for w in hammer private spread; do
    printf 'const struct kb_workload kb_workload_%s = {\n\t.name = "%s",\n};\n' "$w" "$w" >"$R/bench/workloads/$w.c"
done
echo "/* shared by the workloads */" >"$R/bench/workloads/harness.c"
echo 1.0 >"$R/slowdown"
git -C "$R" add -A && git -C "$R" commit -q -m "c0 base"
commit() {  # commit MESSAGE FILE TEXT
    echo "$3" >>"$R/$2"
    git -C "$R" add -A && git -C "$R" commit -q -m "$1"
}
commit "c1 a comment" README "one"
commit "c2 another" README "two"
echo 1.10 >"$R/slowdown"; commit "c3 the regression: atomic 10% slower" README "three"
commit "c4 after" README "four"
commit "c5 after" README "five"
commit "c6 after" README "six"
c3=$(git -C "$R" rev-parse HEAD~3)
c0=$(git -C "$R" rev-list --max-parents=0 HEAD)
head_before=$(git -C "$R" rev-parse HEAD)
branch_before=$(git -C "$R" symbolic-ref HEAD)
echo "local change" >>"$R/README"     # an uncommitted change: never touched

gateopts=(--pairs 12 --backends atomic,refcount --workloads hammer --threads 1)
restored() {  # HEAD, branch, working tree and bisect state as before
    [ "$(git -C "$R" rev-parse HEAD)" = "$head_before" ] &&
    [ "$(git -C "$R" symbolic-ref HEAD)" = "$branch_before" ] &&
    [ "$(tail -n 1 "$R/README")" = "local change" ] &&
    [ ! -e "$(git -C "$R" rev-parse --git-path BISECT_LOG)" ] &&
    [ "$(git -C "$R" worktree list | wc -l)" -eq 1 ]
}

# --- the regression at c3 is found -------------------------------------------
run found "$PY" -m analysis.bisection --repo "$R" "$c0" HEAD --threshold 5 --log "$OUT/found" "${gateopts[@]}"
check "bisect c0..c6: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "bisect: the first bad commit is c3 (the injected regression)" \
    grep -q "^first bad commit: ${c3:0:7} c3 the regression" "$OUT/found.out"
check "bisect: prints the gate's table for it (a paired report)" \
    bash -c "sed -n '/^first bad commit/,\$p' '$OUT/found.out' | grep -q 'paired: Wilcoxon signed rank'"
check "bisect: fewer gates than commits (a bisection, not a scan)" \
    [ "$(wc -l <"$OUT/found/steps.tsv")" -le 4 ]
check "bisect: every step gated against GOOD (c0) with --threshold 5" \
    bash -c "! cut -f2 '$OUT/found/steps.tsv' | grep -qv '^[01]$'"
check "bisect: HEAD, branch and working tree as before, no bisect left, worktrees removed" restored
check "bisect: each gate recorded in the history (gate-a and gate-b runs)" \
    bash -c "[ \$($PY -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from runs where kind like \\\"gate-%\\\"\").fetchone()[0])' '$KREFBENCH_HISTORY') -ge 4 ]"
cp "$OUT/found.out" "$OUT/bisect-example.txt"

# --- BAD no slower: nothing to bisect ----------------------------------------
run notslower "$PY" -m analysis.bisection --repo "$R" "$c0" HEAD~4 --log "$OUT/notslower" "${gateopts[@]}"
check "BAD not slower than GOOD: exit 0, says nothing to bisect (got $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q 'nothing to bisect' '$OUT/notslower.err'"
check "nothing to bisect: restored" restored

# --- a commit that does not build is skipped ---------------------------------
B=$OUT/repo-broken
git clone -q "$R" "$B"
git -C "$B" config user.email t@example.invalid
git -C "$B" config user.name test
git -C "$B" checkout -q "$c0"
git -C "$B" checkout -q -b broken
echo "one" >>"$B/README"; git -C "$B" add -A; git -C "$B" commit -q -m "b1"
echo 'this is not cmake(' >>"$B/CMakeLists.txt"; git -C "$B" commit -q -am "b2 does not build"
echo "three" >>"$B/README"; git -C "$B" commit -q -am "b3 does not build either"
sed -i '$d' "$B/CMakeLists.txt"; git -C "$B" commit -q -am "b4 builds again"
echo 1.10 >"$B/slowdown"; git -C "$B" commit -q -am "b5 slower"
echo "six" >>"$B/README"; git -C "$B" commit -q -am "b6"
b5=$(git -C "$B" rev-parse HEAD~1)
run skip "$PY" -m analysis.bisection --repo "$B" "$c0" HEAD --log "$OUT/skip" "${gateopts[@]}"
check "a commit that does not build: skipped (125), the first bad commit still found (exit $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q '^first bad commit: ${b5:0:7} b5' '$OUT/skip.out' && grep -q 'skip (gate exit 2)' '$OUT/skip.err'"

# --- bad input: one line, exit 2, nothing started ----------------------------
run badrev "$PY" -m analysis.bisection --repo "$R" no-such-rev HEAD
check "bad revision: exit 2, one line (got $rc)" \
    bash -c "[ $rc -eq 2 ] && [ \$(wc -l <'$OUT/badrev.err') -eq 1 ] && grep -q \"'no-such-rev' is not a revision\" '$OUT/badrev.err'"
run reversed "$PY" -m analysis.bisection --repo "$R" HEAD "$c0"
check "GOOD after BAD: exit 2 (got $rc)" bash -c "[ $rc -eq 2 ] && grep -q 'is not an ancestor' '$OUT/reversed.err'"
run badopt "$PY" -m analysis.bisection --repo "$R" "$c0" HEAD --alpha 7
check "a gate option the gate refuses: exit 2 before any gate (got $rc)" \
    bash -c "[ $rc -eq 2 ] && grep -q 'alpha' '$OUT/badopt.err' && [ ! -e '$R/results' ]"
run revopt "$PY" -m analysis.bisection --repo "$R" "$c0" HEAD --rev HEAD
check "--rev refused (got $rc)" bash -c "[ $rc -eq 2 ] && grep -q -- '--rev is not an option here' '$OUT/revopt.err'"
check "bad input: restored" restored
run help "$SRC/run.sh" bisect --help
check "./run.sh bisect --help: exit 0, usage" bash -c "[ $rc -eq 0 ] && grep -q 'GOOD BAD' '$OUT/help.out'"

# --- ^C in the middle (to the process group), or SIGTERM to the bisection
# alone: bisect reset, exit 130 or 143 ---------------------------------------
# Once git bisect run has started, the fakes sleep (a gate in progress) and
# take 2 s to stop on ^C: the step of git bisect run outlives git.
interrupt() {  # interrupt NAME SIGNAL TARGET(group|process) EXPECTED_EXIT
    local name=$1 sig=$2 target=$3 want=$4 pid
    rm -f "$OUT/fake.log" "$OUT/slow"
    "${AS_FROM_TERMINAL[@]}" "$PY" -m analysis.bisection --repo "$R" "$c0" HEAD --log "$OUT/$name" "${gateopts[@]}" >"$OUT/$name.out" 2>"$OUT/$name.err" &
    pid=$!
    for _ in $(seq 600); do grep -q 'bisect: gating' "$OUT/$name.err" 2>/dev/null && break; sleep 0.1; done
    touch "$OUT/slow"
    : >"$OUT/fake.log"
    for _ in $(seq 300); do [ -s "$OUT/fake.log" ] && break; sleep 0.1; done
    sleep 0.5
    if [ "$target" = group ]; then kill "-$sig" -- "-$pid"; else kill "-$sig" "$pid"; fi
    rc=0; wait "$pid" || rc=$?
    rm -f "$OUT/slow"
    check "$sig during git bisect run: exit $want (got $rc)" \
        bash -c "[ $rc -eq $want ] && grep -q 'bisect: gating' '$OUT/$name.err' && grep -q '^bisect: git bisect reset' '$OUT/$name.err'"
    check "$sig: git bisect run stopped at the step it interrupted (one step gated)" \
        bash -c "[ \$(grep -c '^bisect: gating' '$OUT/$name.err') -eq 1 ]"
    check "$sig: git bisect reset ran, HEAD and tree as before, worktrees removed" restored
    check "$sig: nothing temporary left, no fake still running, no lock file" \
        bash -c "[ \$(find '$TMPDIR' -mindepth 1 -maxdepth 1 | wc -l) -eq 0 ] && ! pgrep -f '$OUT/tm[p]/' >/dev/null && [ ! -e '$OUT/$name/.step.lock' ]"
}
interrupt intr INT group 130
interrupt term TERM process 143

# --- the gate guards what the change touches (compare --rev) -----------------
T=$OUT/repo-touch
git clone -q "$R" "$T"
git -C "$T" config user.email t@example.invalid
git -C "$T" config user.name test
echo "/* faster */" >>"$T/core/backends/percpu.c"
echo "/* x */" >>"$T/bench/workloads/spread.c"
echo "/* y */" >>"$T/bench/workloads/harness.c"
git -C "$T" commit -q -am "percpu.c, spread.c and harness.c changed"
rm -f "$OUT/fake.log"
run touch "$PY" -m analysis.gate --repo "$T" --rev HEAD~1 --rev HEAD --pairs 12 --threads 1 --out "$OUT/touch"
check "compare --rev: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "a change to core/backends/percpu.c gates percpu and percpu_atomic (its header), beside the defaults" \
    grep -q -- "--backends atomic,refcount,percpu,percpu_atomic --workloads hammer,private,spread " "$OUT/fake.log"
check "says why each row is in" \
    bash -c "grep -q '^compare: rows: backends atomic,refcount: the gate.s default rows' '$OUT/touch.err' &&
             grep -q '^compare: rows: backends percpu: the change touches it (core/backends/percpu.c changed)' '$OUT/touch.err' &&
             grep -q '^compare: rows: backends percpu_atomic: the change touches it (core/backends/percpu.c changed (its header is percpu))' '$OUT/touch.err' &&
             grep -q '^compare: rows: workloads spread: the change touches it (bench/workloads/spread.c changed)' '$OUT/touch.err'"
check "harness.c (not a workload) adds no row" bash -c "! grep -q '^compare: rows: .*harness' '$OUT/touch.err'"
check "gate.json lists the reasons" grep -q '"backends percpu: the change touches it' "$OUT/touch/gate.json"
rm -f "$OUT/fake.log"
run touchgiven "$PY" -m analysis.gate --repo "$T" --rev HEAD~1 --rev HEAD --pairs 12 --threads 1 --backends atomic --out "$OUT/touchgiven"
check "--backends given: kept as given, and the note says what the change touches" \
    bash -c "grep -q -- '--backends atomic --workloads hammer,private,spread ' '$OUT/fake.log' && grep -q 'backends not added although the change touches them' '$OUT/touchgiven.err'"
rm -f "$OUT/fake.log"
make_fake "$OUT/fake-bin" 1.0
run touchbin "$PY" -m analysis.gate --repo "$T" --bin "$OUT/fake-bin" --bin "$OUT/fake-bin" --pairs 12 --out "$OUT/touchbin"
check "--bin: no diff, the default rows only (exit 0, got $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q -- '--backends atomic,refcount --workloads hammer,private ' '$OUT/fake.log' && ! grep -q 'percpu' '$OUT/fake.log'"

check_summary
