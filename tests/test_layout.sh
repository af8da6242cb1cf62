#!/bin/bash
# The tree as the README's Layout section describes it: every folder that
# holds code is named there and every folder named exists; no folder mixes C
# and Python; the kref API builds into another program exactly as the
# README shows it.
#
# usage: test_layout.sh SOURCE_DIR BUILD_DIR WORK_DIR
set -u
src=$1
build=$2
work=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/check.sh"
rm -rf "$work" && mkdir -p "$work"

pycheck "layout" '
import os, re, subprocess, sys
src = sys.argv[1]
readme = open(os.path.join(src, "README.md"), encoding="utf-8").read()
m = re.search(r"^## Layout\n.*?```\n(.*?)```", readme, re.S | re.M)
print(("ok - " if m else "FAIL - ") + "README.md has a Layout section with a folder list")
named = {l.split()[0].rstrip("/") for l in (m.group(1) if m else "").splitlines() if l.strip()}
files = subprocess.run(["git", "-C", src, "ls-files"], capture_output=True, text=True).stdout.split()
code = (".c", ".h", ".cc", ".py", ".sh", ".cmake", ".yml", ".pml")
dirs = {os.path.dirname(f) for f in files if f.endswith(code) or os.path.basename(f) == "run"}
dirs.discard("")
# A folder is described by its own line or, under tests/, by the tests/ line.
missing = sorted(d for d in dirs if d not in named and not d.startswith("tests/"))
print(("ok - " if not missing else "FAIL - ") + f"every folder holding code is in the Layout section (missing: {missing})")
ghosts = sorted(d for d in named if not os.path.isdir(os.path.join(src, d)))
print(("ok - " if not ghosts else "FAIL - ") + f"every folder the Layout section names exists (not: {ghosts})")
mixed = sorted(d for d in dirs if not d.startswith("tests")
               and any(f.endswith((".c", ".h")) and os.path.dirname(f) == d for f in files)
               and any(f.endswith(".py") and os.path.dirname(f) == d for f in files))
print(("ok - " if not mixed else "FAIL - ") + f"no folder mixes C and Python ({mixed})")
# decide.py also runs as a file, with its folder on the path: a module named
# like a module of the standard library would be imported in its place.
shadow = sorted(os.path.splitext(os.path.basename(f))[0] for f in files
                if f.startswith("bench/analysis/") and f.endswith(".py")
                and os.path.splitext(os.path.basename(f))[0] in sys.stdlib_module_names)
print(("ok - " if not shadow else "FAIL - ") + f"no analysis module shadows the standard library ({shadow})")
' "$src"

# The README's example, compiled and run from outside the tree.
cat >"$work/my.c" <<'C'
#define KREF_BACKEND refcount
#include "core/kref.h"
#include <stdio.h>
#include <stdlib.h>
struct my_data { struct kref refcount; int value; };
static int released;
static void my_release(struct kref *k) { free(kb_container_of(k, struct my_data, refcount)); released++; }
int main(void)
{
	struct my_data *d = malloc(sizeof(*d));
	if (!d || kref_init(&d->refcount))
		return 1;
	kref_get(&d->refcount);
	kref_put(&d->refcount, my_release);
	kref_put(&d->refcount, my_release);
	printf("released %d\n", released);
	return released == 1 ? 0 : 1;
}
C
readme_cmd=$(sed -n '/^cc -std=gnu11 /,/-lpthread$/p' "$src/README.md" | tr -d '\\\n')
check "the README shows the compile line" test -n "$readme_cmd"
cmd=${readme_cmd//build\/release/$build}
cmd=${cmd/ -I. / -I$src }
cmd=${cmd/ my.c / $work/my.c -o $work/my }
if (cd "$work" && eval "$cmd") >"$work/cc.log" 2>&1; then
    pass "the README's compile line builds a program on core/kref.h"
    check "that program gets, puts and releases once" "$work/my"
else
    fail "the README's compile line failed: $(head -c 300 "$work/cc.log")"
fi
check_summary
