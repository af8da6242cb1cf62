#!/bin/bash
# "A backend is one header and one line": in a copy of this source tree, add
# a copy of `atomic` named `atomic2` (core/backends/atomic2.h, identifiers renamed) and
# one line in core/backends.list, and nothing else; build; then the runtime
# table, kref.h, the benchmark, compare and plot must all know it. Also: a
# list line naming a header that does not exist stops the configure step
# with a message that names it.
#
# usage: test_new_backend.sh SOURCE_DIR WORK_DIR
set -u
src=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/check.sh"

rm -rf "$work"
mkdir -p "$work/orig" "$work/tree"
# The working tree as it is (tracked and untracked, not ignored: no build/).
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$src" && git ls-files -co --exclude-standard -z | grep -zv '^build/' |
        xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$work/tree"
else
    (cd "$src" && tar --exclude=./build -cf - .) | tar -xf - -C "$work/tree"
fi
cp "$work/tree/core/backends.list" "$work/orig/backends.list"

# --- the header: atomic.h, renamed ---
sed -E -e 's/\bkref_atomic/kref_atomic2/g' \
       -e 's/\b(KB_[A-Z_]+_)atomic\b/\1atomic2/g' \
       -e 's/\((atomic)\)/(atomic2)/g' \
       -e 's/KREFBENCH_CORE_BACKENDS_ATOMIC_H/KREFBENCH_CORE_BACKENDS_ATOMIC2_H/g' -e 's/KREFBENCH_CORE_ATOMIC_H/KREFBENCH_CORE_ATOMIC2_H/g' \
       -e 's/KREF_ATOMIC_INIT/KREF_ATOMIC2_INIT/g' \
       -e 's/^ \* Backend `atomic`:/ * Backend `atomic2` (a test copy of `atomic`):/' \
       "$work/tree/core/backends/atomic.h" > "$work/tree/core/backends/atomic2.h"
# --- the one line ---
echo "atomic2" >> "$work/tree/core/backends.list"

echo "--- the whole change (diff -u; core/backends/atomic2.h against core/backends/atomic.h) ---"
diff -u "$work/orig/backends.list" "$work/tree/core/backends.list" | sed 's|'"$work"'/||'
diff -u "$work/tree/core/backends/atomic.h" "$work/tree/core/backends/atomic2.h" | sed 's|'"$work"'/||'
echo "---"
check "nothing else differs from the source tree" \
    diff -rq -x atomic2.h -x backends.list -x build "$src/core" "$work/tree/core"

build="$work/tree/build"
if cmake -S "$work/tree" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" 2>&1 &&
   cmake --build "$build" -j2 --target test_semantics krefbench test_kref_examples_atomic2 \
       >"$work/build.log" 2>&1; then
    pass "the tree with atomic2 configures and builds (test_semantics, krefbench, kref.h examples)"
else
    fail "build with atomic2 (see $work/configure.log, $work/build.log)"
    tail -20 "$work/build.log" 2>/dev/null
    check_summary
    exit 1
fi

out=$("$build/tests/test_semantics" 2>&1)
check "runtime table: atomic2 keeps the kref contract" grep -q "atomic2: kref contract (type-stable reuse) -- ok" <<<"$out"
check "runtime table: atomic2's model line" grep -q "^atomic2 .*one atomic int" <<<"$out"
out=$("$build/tests/test_kref_examples_atomic2" 2>&1)
check "kref.h with KREF_BACKEND=atomic2 runs kref.rst's examples" grep -q " 0 failed" <<<"$out"

csv="$work/r.csv"
if "$build/bench/krefbench" --quick --backends atomic2,atomic --workloads hammer,private \
       --threads 1 --out "$csv" >"$work/bench.log" 2>&1; then
    pass "krefbench runs atomic2"
else
    fail "krefbench --backends atomic2 failed: $(tail -1 "$work/bench.log")"
fi
pycheck "atomic2 rows" '
import csv, sys
rows = [r for r in csv.DictReader(l for l in open(sys.argv[1]) if not l.startswith("#"))]
mine = [r for r in rows if r["backend"] == "atomic2"]
print(("ok - " if mine else "FAIL - ") + f"{len(mine)} atomic2 rows in the CSV")
bad = [r for r in mine if r["check"] != "ok"]
print(("ok - " if mine and not bad else "FAIL - ") + f"atomic2 rows check ok ({len(bad)} not)")
print(("ok - " if {r["workload"] for r in mine} == {"hammer", "private"} else "FAIL - ") + "in both workloads")
' "$csv"

# compare and plot order and style backends by the same list.
pycheck "compare and plot know atomic2" '
import sys
import os
os.environ["KREFBENCH_BIN"] = sys.argv[2]
sys.path[:0] = [sys.argv[1] + "/bench"]
from analysis import charts as plot, compare, names
import matplotlib
order = names.backend_order()
print(("ok - " if order[-1] == "atomic2" else "FAIL - ") + f"the list read by Python ends with atomic2: {order}")
key = lambda b: compare.sort_key((b, "hammer", 1, "cores", "1", "0", "", "0"))
print(("ok - " if sorted(order, key=key) == list(order) else "FAIL - ")
      + "compare orders backends by the list from the binary")
st = plot.Style(set(order))
colors = [tuple(st.color[b]) for b in order]
markers = [str(st.marker[b]) for b in order]
print(("ok - " if len(set(colors)) == len(order) else "FAIL - ") + f"{len(order)} backends, {len(set(colors))} colours")
print(("ok - " if len(set(markers)) == len(order) else "FAIL - ") + f"{len(order)} backends, {len(set(markers))} markers")
' "$work/tree" "$build/bench/krefbench"

# A line for a backend whose header does not exist: a clear configure error.
echo "ghost" >> "$work/tree/core/backends.list"
if cmake -S "$work/tree" -B "$work/ghost-build" >"$work/ghost.log" 2>&1; then
    fail "configure accepted a backend without a header"
else
    # CMake wraps long messages: look at the log as one line.
    check "configure names the missing header" \
        grep -q "backend 'ghost' needs core/backends/ghost.h, which does not exist" <<<"$(tr -s ' \n' '  ' <"$work/ghost.log")"
fi

check_summary
