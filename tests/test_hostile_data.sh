#!/bin/bash
# Data from a results file, a sidecar, a host or an inventory is data
# (issue 18; the benchmark's own hostile cases are tests/test_hostile.sh).
# Crafted files (tests/hostile_craft.py) and inventories, one class a section:
#   R. report.html / report.md / report --compare / a multi-host report: no
#      payload runs in headless chromium (each would set data-pwned on the
#      document: checked through the DOM), the Content-Security-Policy
#      allows only the page's two scripts, report.md rendered as GitHub does
#      (cmark-gfm) holds no tag, link or image from data, and How to
#      reproduce prints only what krefbench would have written;
#   T. terminal lines carry no control character from data; CSV for people
#      starts no cell with = + - @;
#   W. nothing is written outside the output folder or through a symlink;
#      a foreign or symlinked output folder is refused;
#   F. the fleet: host names that are paths or Jinja, an inventory directory,
#      a host returning too much or an unreadable sidecar, abbreviated
#      refused options, a bad --rev, two fleets at once;
#   Q. concurrent runs: two ./run.sh bench in one second, two ./run.sh main
#      jobs that overlap;
#   B. bounded and clear: a gate --bin that never exits, a sweep where
#      nothing applies, 1e308 and subnormal figures, deep and huge sidecars,
#      a results file the report reads in memory proportional to its rows kept.
# After every section: the files outside the output folders are unchanged.
#   usage: tests/test_hostile_data.sh BINARY SRC_DIR WORK_DIR
set -uo pipefail
BIN=$1
SRC=$2
WORK=$3
PY=/usr/bin/python3
case "$WORK" in ""|/) echo "refusing WORK_DIR '$WORK'" >&2; exit 2 ;; esac
rm -rf -- "$WORK" && mkdir -p -- "$WORK"
WORK=$(cd "$WORK" && pwd)
source "$(dirname "$0")/check.sh"
export KREFBENCH_BIN=$BIN PYTHONPATH=$SRC/bench
cases=0
IN=$WORK/in
OUT=$WORK/out
mkdir -p "$OUT"
"$PY" "$SRC/tests/hostile_craft.py" "$SRC/tests/fixtures" "$IN" || { fail "crafting the inputs"; check_summary; exit 1; }
echo precious >"$WORK/victim"
# Everything under WORK but the output folders and the fleet's remote dirs.
snapshot() { (cd "$WORK" && find . -path ./out -prune -o -path ./fleet -prune -o -type f -print0 |
	sort -z | xargs -0 sha256sum | sha256sum); }
before=$(snapshot)
outside_intact() { check "$1: no file outside the output folders changed" test "$(snapshot)" = "$before"; }
an() { "$PY" -m "analysis.$1" "${@:2}"; }
for tool in chromium cmark-gfm ansible-playbook; do
	command -v "$tool" >/dev/null || fail "$tool is not installed (./run.sh test installs it): its cases cannot run"
done

# run NAME CMD...: stdout, stderr in $OUT/NAME.out/.err; rc set.
run() { local name=$1; shift; cases=$((cases + 1)); rc=0; "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || rc=$?; }
no_control() {	# no_control FILE: no ESC, CR, BEL, U+2028/2029, RLO in it
	! LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]|\xe2\x80[\xa8\xa9\xae]' "$1"
}

# ---- R. what a report may contain ----
md_safe() {	# md_safe REPORT.md: rendered by cmark-gfm (raw HTML allowed), no tag or link from data
	pycheck "R. $1 rendered" '
import html.parser, os, subprocess, sys
md = sys.argv[1]
missing = []
out = subprocess.run(["cmark-gfm", "--unsafe", "-e", "table", "-e", "autolink", "-e", "strikethrough", md],
                     capture_output=True, text=True, check=True).stdout
bad = []
class P(html.parser.HTMLParser):
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "iframe", "object", "embed", "b", "style", "svg", "form", "input") or \
                any(k.startswith("on") for k in a):
            bad.append(tag)
        ref = a.get("href") or a.get("src")
        if tag in ("a", "img") and (not ref or ":" in ref or not ref.endswith((".png", ".svg"))):
            bad.append("%s %s" % (tag, ref))
        elif tag in ("a", "img") and not os.path.isfile(os.path.join(os.path.dirname(md), ref)):
            missing.append(ref)
P().feed(out)
def ok(c, what): print(("ok - " if c else "FAIL - ") + "R. " + sys.argv[2] + ": " + what)
ok(not bad, "report.md as GitHub renders it: no tag, link or image from data (%s)" % bad[:4])
ok("data-pwned" in out, "the payloads are shown as text")
ok(not missing, "every chart it links is there (%s)" % missing[:3])
' "$1" "$2"
}

run report "$PY" -m analysis.report "$IN/evil.csv" --out "$OUT/report"
check "R. report of crafted names and sidecar: exit 0 (got $rc)" test "$rc" -eq 0
check "R. its terminal lines hold no control character" no_control "$OUT/report.err"
"$PY" "$SRC/tests/report_browser.py" "$OUT/report/report.html" "$OUT/report.png" --hostile | tee "$OUT/report.browser"
check "R. report.html in chromium: every check passed" sh -c "! grep -q '^FAIL' '$OUT/report.browser' && grep -q 'no injected script ran' '$OUT/report.browser'"
md_safe "$OUT/report/report.md" "report"
check "R. How to reproduce: the crafted command_line is called tampered with" \
	grep -q "command\\\\_line is not one krefbench writes.*tampered" "$OUT/report/report.md"
check "R. ... and the crafted commit too, and no line of them is printed" \
	sh -c "grep -q 'git\\\\_commit is not a commit id' '$OUT/report/report.md' && ! grep -q 'curl http' '$OUT/report/report.md'"
check "R. @PLOTLYJS@ in data is shown, not filled in" grep -q "@PLOTLYJS@ @BODY@" "$OUT/report/report.html"
pycheck "R. embedded JSON" '
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
blocks = re.findall(r"<script type=\"application/json\"[^>]*>(.*?)</script>", page, re.S)
def ok(c, what): print(("ok - " if c else "FAIL - ") + "R. " + what)
ok(blocks, "%d chart data blocks" % len(blocks))
ok(all(not re.search("[<>&\u2028\u2029]", b) for b in blocks), "no <, >, & or U+2028/9 in any data block")
ok(page.count("<script>") == 2, "exactly two scripts without type (plotly.js, the page)")
' "$OUT/report/report.html"

run good "$PY" -m analysis.report "$IN/good.csv" --out "$OUT/good"
check "R. a real command_line: its reproduce line is printed, shell-quoted (exit $rc)" \
	grep -qxF "./run.sh bench --backends atomic,percpu --threads 1,2 --time 0.01" "$OUT/good/report.md"
check "R. ... with the checkout of its commit" grep -q "^git checkout 0123abcd " "$OUT/good/report.md"

run multi "$PY" -m analysis.report "$IN/evil.csv" "$IN/evil2.csv" "$IN/long.csv" --out "$OUT/multi"
check "R. three hosts named '<script>...', '../../..//x', 300 bytes: exit 0 (got $rc)" test "$rc" -eq 0
check "R. ... their chart folders are inside the output, short, with a hash" \
	sh -c "cd '$OUT/multi' && [ \$(find . -mindepth 1 -maxdepth 1 -type d | wc -l) -eq 3 ] &&
	       ! find . -mindepth 1 -maxdepth 1 -type d | grep -qvE '^./[A-Za-z0-9_.-]{1,64}-[0-9a-f]{8}\$'"
"$PY" "$SRC/tests/report_browser.py" "$OUT/multi/report.html" "$OUT/multi.png" --hostile --expect-hosts 3 | tee "$OUT/multi.browser"
check "R. the multi-host report in chromium: every check passed" sh -c "! grep -q '^FAIL' '$OUT/multi.browser'"
md_safe "$OUT/multi/report.md" "multi-host report"

run cmp "$PY" -m analysis.report --compare "$IN/cmp_a.csv" "$IN/cmp_b.csv" --out "$OUT/cmp"
check "R. report --compare of crafted names: the page written, exit 0 or 2 (files of two runs: no verdict; got $rc)" test \( "$rc" -eq 0 -o "$rc" -eq 2 \) -a -s "$OUT/cmp/report.html"
"$PY" "$SRC/tests/report_browser.py" "$OUT/cmp/report.html" "$OUT/cmp.png" --hostile --compare | tee "$OUT/cmp.browser"
check "R. report --compare in chromium: every check passed" sh -c "! grep -q '^FAIL' '$OUT/cmp.browser'"
md_safe "$OUT/cmp/report.md" "report --compare"
outside_intact "R"

# ---- T. terminals and spreadsheets ----
run table "$PY" -m analysis.compare "$IN/cmp_a.csv" "$IN/cmp_b.csv"
check "T. compare's table of crafted names: no control character on stdout or stderr" \
	sh -c "grep -q 'HYPERLINK' '$OUT/table.out' && ! LC_ALL=C grep -qP '\x1b|\r' '$OUT/table.out' '$OUT/table.err'"
run ccsv "$PY" -m analysis.compare "$IN/cmp_a.csv" "$IN/cmp_b.csv" --format csv
pycheck "T. compare --format csv" '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
text = [c for r in rows[1:] for c in r[1:3] if c]
def ok(c, what): print(("ok - " if c else "FAIL - ") + "T. " + what)
ok(any("HYPERLINK" in c for c in text), "the formula-named backend is there")
ok(all(c[0] not in "=+-@" for c in text), "no text cell starts with = + - @ (%s)" % [c for c in text if c[0] in "=+-@"][:2])
ok(any(c.startswith("\x27=HYPERLINK") for c in text), "it is kept, after a quote")
' "$OUT/ccsv.out"
run decide "$PY" -m analysis.decide "$IN/evil.csv"
check "T. decide's sections of crafted names: exit 0, no control character (got $rc)" \
	sh -c "[ $rc -eq 0 ] && grep -q 'which scheme' '$OUT/decide.out'" && check "T. decide: clean lines" no_control "$OUT/decide.out"
outside_intact "T"

# ---- W. written only where asked, never through a symlink ----
ln -s "$WORK/victim" "$OUT/linkdir"
run wlink "$PY" -m analysis.report "$IN/good.csv" --out "$OUT/linkdir"
check "W. --out is a symlink: exit 2, one line (got $rc)" sh -c "[ $rc -eq 2 ] && [ \$(wc -l <'$OUT/wlink.err') -eq 1 ] && grep -q symlink '$OUT/wlink.err'"
mkdir -p "$OUT/foreign" && echo mine >"$OUT/foreign/notes.txt"
for tool in report charts; do
	run "w$tool" "$PY" -m "analysis.$tool" "$IN/good.csv" --out "$OUT/foreign"
	check "W. $tool into a folder of someone else's files: exit 2, one line (got $rc)" \
		sh -c "[ $rc -eq 2 ] && [ \$(wc -l <'$OUT/w$tool.err') -eq 1 ] && grep -q 'krefbench-output' '$OUT/w$tool.err'"
done
check "W. ... the folder is as it was" test "$(ls -A "$OUT/foreign")" = notes.txt
# A folder of an earlier report with symlinks planted at every name it writes.
for name in report.html report.md throughput-hammer.png throughput-hammer.svg nsop-maxthreads.png \
		.report.html.tmp report.html.tmp report.md.tmp; do
	rm -f "$OUT/good/$name"; ln -s "$WORK/victim" "$OUT/good/$name"
done
run wagain "$PY" -m analysis.report "$IN/good.csv" --out "$OUT/good"
check "W. report again into its own folder, symlinks planted at its names: exit 0 (got $rc)" test "$rc" -eq 0
check "W. ... no symlink was followed" test "$(cat "$WORK/victim")" = precious
check "W. ... its files replaced the symlinks" sh -c "[ -f '$OUT/good/report.html' ] && [ ! -L '$OUT/good/report.html' ] && [ ! -L '$OUT/good/throughput-hammer.png' ]"
run wplot "$PY" -m analysis.charts "$IN/good.csv" --out "$OUT/plots"
ln -sf "$WORK/victim" "$OUT/plots/throughput-hammer.png"
run wplot2 "$PY" -m analysis.charts "$IN/good.csv" --out "$OUT/plots"
check "W. plot again, a symlink at a chart: exit 0, not followed (got $rc)" sh -c "[ $rc -eq 0 ] && [ ! -L '$OUT/plots/throughput-hammer.png' ] && grep -qx precious '$WORK/victim'"
check "W. no temporary left anywhere" test -z "$(find "$OUT" -name '*.tmp' ! -type l)"
outside_intact "W"

# ---- B. bounded and clear ----
for v in e308 sub; do
	for tool in report compare charts decide; do
		args=("$IN/$v.csv"); [ $tool = compare ] && args+=("$IN/good.csv"); [ $tool = decide ] || args+=(--out "$OUT/$v-$tool")
		[ $tool = compare ] && args=("$IN/$v.csv" "$IN/good.csv")
		run "$v-$tool" "$PY" -m "analysis.$tool" "${args[@]}"
		check "B. $tool of a $v figure: exit 2, one line saying why (got $rc)" \
			sh -c "[ $rc -eq 2 ] && [ \$(wc -l <'$OUT/$v-$tool.err') -eq 1 ] && grep -q 'outside the range' '$OUT/$v-$tool.err'"
	done
done
for v in deep huge; do
	run "$v" "$PY" -m analysis.report "$IN/$v.csv" --out "$OUT/$v"
	check "B. a $v sidecar: the report is written, one warning says why (got $rc)" \
		sh -c "[ $rc -eq 0 ] && [ \$(grep -c 'warning: ignoring sidecar' '$OUT/$v.err') -eq 1 ] && ! grep -q 'internal error' '$OUT/$v.err'"
done
pycheck "B. memory" '
import os, sys, tracemalloc
from analysis import results
path = sys.argv[1]
tracemalloc.start()
res = results.load(path, "report")
peak = tracemalloc.get_traced_memory()[1]
size = os.path.getsize(path)
print(("ok - " if peak < 2 * size else "FAIL - ") +
      "B. a %d-byte file with %d rows kept is read in %d bytes at the peak (< twice the file)"
      % (size, len(res.rows), peak))
' "$IN/big.csv"
run nothing "$BIN" --backends refcache --workloads lookup_rcu --rcu-flavor typesafe --quick --out "$OUT/nothing.csv"
check "B. a sweep in which nothing applies: exit 2, one line saying why (got $rc)" \
	sh -c "[ $rc -eq 2 ] && [ \$(wc -l <'$OUT/nothing.err') -eq 1 ] && grep -q 'nothing to measure' '$OUT/nothing.err' && [ ! -e '$OUT/nothing.csv' ]"
printf '#!/bin/sh\nexec sleep 100000\n' >"$OUT/hang.sh" && chmod +x "$OUT/hang.sh"
start=$SECONDS
run gate "$PY" -m analysis.gate --repo "$SRC" --bin "$OUT/hang.sh" --bin "$OUT/hang.sh" --max-seconds 1 \
	--quick --out "$OUT/gate"
took=$((SECONDS - start))
margin=$("$PY" -c 'from analysis import gate; print(int(gate.PROCESS_MARGIN_S))')
check "B. the gate with a --bin that never exits: exit 2 after ${took} s (--max-seconds 1 + ${margin} s margin + 15 s)" \
	sh -c "[ $rc -eq 2 ] && [ $took -le $((1 + margin + 15)) ] && grep -q 'did not finish' '$OUT/gate.err'"
check "B. ... no sleep left behind" sh -c "! pgrep -f '^sleep 100000\$' >/dev/null"
outside_intact "B"

# ---- Q. concurrent runs ----
mkdir -p "$OUT/q"
tiny=(--backends atomic --workloads hammer --threads 1 --reps 1 --retries 0 --time 0.002 --no-floors)
for i in 1 2 3; do "$BIN" "${tiny[@]}" --results-dir "$OUT/q" >"$OUT/q$i.out" 2>&1 & done
qrc=0; for i in 1 2 3; do wait -n || qrc=$?; done; cases=$((cases + 1))
check "Q. three runs with the default name in the same second: all succeed (last failure $qrc)" test "$qrc" -eq 0
check "Q. ... three results files, three sidecars" sh -c "[ \$(ls '$OUT/q'/*.csv | wc -l) -eq 3 ] && [ \$(ls '$OUT/q'/*.gbench.json | wc -l) -eq 3 ] && [ \$(ls '$OUT/q'/*.json | wc -l) -eq 6 ]"
mkdir -p "$OUT/m1" "$OUT/m2"
for i in 1 2; do (cd "$OUT/m$i" && "$SRC/run.sh" "${tiny[@]}" --out "m$i.csv" >"$OUT/main$i.out" 2>&1) & done
wait; cases=$((cases + 1))
for i in 1 2; do
	check "Q. ./run.sh main job $i of two overlapping: its own results named" grep -qE "^results: (.*/)?m$i\\.csv " "$OUT/main$i.out"
done
outside_intact "Q"

# ---- F. the fleet ----
if command -v ansible-playbook >/dev/null; then
	mkdir -p "$WORK/fleet/inv"
	cat >"$WORK/fleet/inv/hosts.yml" <<EOF
all:
  hosts:
    local1: {ansible_connection: local, ansible_python_interpreter: /usr/bin/python3}
    "../../pwned-dir": {ansible_connection: local}
    "{{ lookup('pipe', 'touch $WORK/fleet/PWNED-jinja') }}": {ansible_connection: local}
    "esc\ehost\rcr": {ansible_connection: local}
    tree.tar.gz: {ansible_connection: local, ansible_python_interpreter: /usr/bin/python3, krefbench_dir: /proc/no-such-dir/x}
EOF
	mkdir -p "$SRC/results"
	fleets_before=$(ls -d "$SRC"/results/fleet-* 2>/dev/null)
	touch "$WORK/fleet/stamp"
	run fleet "$SRC/run.sh" fleet "$WORK/fleet/inv" --remote-dir "$WORK/fleet/remote" --quick \
		--backends atomic,percpu --workloads hammer
	dir=$(sed -n 's/^fleet: .* report: \(.*\)\/report.html$/\1/p' "$OUT/fleet.out" | tail -n1)
	check "F. an inventory directory with hosts named '../../x', Jinja, ESC: exit 1, the report written (got $rc)" \
		sh -c "[ $rc -eq 1 ] && [ -s '$dir/report.html' ]"
	check "F. the Jinja in a host name never ran" test ! -e "$WORK/fleet/PWNED-jinja"
	check "F. nothing written outside results/fleet-<UTC>/ or the remote folder" \
		sh -c "! find '$SRC' '$WORK' -newer '$WORK/fleet/stamp' -type f ! -path '$dir/*' ! -path '$WORK/fleet/remote/*' ! -path '$WORK/out/*' ! -path '$SRC/build/*' ! -path '*/__pycache__/*' | grep -q ."
	check "F. the three odd names are named as failed, not run" \
		sh -c "[ \$(grep -c 'not a plain host name' '$OUT/fleet.err') -eq 3 ]"
	check "F. ... and the host named like the fleet's own file fails in its own folder" \
		grep -q "^fleet: tree.tar.gz: FAILED: the tree's folder on the host" "$OUT/fleet.err"
	check "F. fleet's terminal lines hold no control character" sh -c "! LC_ALL=C grep -qP '\x1b' '$OUT/fleet.out' '$OUT/fleet.err'"
	"$PY" "$SRC/tests/report_browser.py" "$dir/report.html" "$OUT/fleet.png" --security-only | tee "$OUT/fleet.browser"
	check "F. the fleet's report in chromium: every check passed" sh -c "! grep -q '^FAIL' '$OUT/fleet.browser'"
	pycheck "F. what a host returns" '
import os, sys
from analysis import fleet
d = sys.argv[1]
def host(name, files):
    p = os.path.join(d, name); os.makedirs(p)
    for f, data in files.items():
        with open(os.path.join(p, f), "wb") as fh: fh.write(data)
    return fleet.check_host(p, name)
csv = open(sys.argv[2], "rb").read()
def ok(c, what): print(("ok - " if c else "FAIL - ") + "F. " + what)
r = host("fine", {"fine.csv": csv, "fine.json": b"{\"host\": \"x\"}"})
ok(r[0] and not r[1], "a host within bounds is kept")
r = host("bad", {"bad.csv": csv, "bad.json": b"{not json"})
ok(not r[0] and "sidecar" in r[1], "an unparseable sidecar fails its host: %s" % r[1])
r = host("deep", {"deep.csv": csv, "deep.json": b"[" * 100000 + b"]" * 100000})
ok(not r[0] and "sidecar" in r[1], "a deeply nested sidecar fails its host")
r = host("many", {"f%d" % i: b"x" for i in range(fleet.MAX_HOST_FILES + 1)})
ok(not r[0] and "files" in r[1], "too many files fail their host: %s" % r[1])
with open(os.path.join(d, "sparse.csv"), "wb") as fh: fh.truncate(fleet.MAX_FILE_BYTES + 1)
os.makedirs(os.path.join(d, "huge")); os.rename(os.path.join(d, "sparse.csv"), os.path.join(d, "huge", "huge.csv"))
r = fleet.check_host(os.path.join(d, "huge"), "huge")
ok(not r[0] and "over the limit" in r[1], "a CSV over the limit fails its host: %s" % r[1])
' "$OUT/fleetunit" "$IN/good.csv"
	cases=$((cases + 5))
	n_before=$(ls -d "$SRC"/results/fleet-* 2>/dev/null | wc -l)
	for opt in --ou=x.csv --results --print-path; do
		run fleetopt "$SRC/run.sh" fleet "$WORK/fleet/inv" "$opt"
		check "F. $opt (an abbreviation krefbench would take): exit 2, refused (got $rc)" \
			sh -c "[ $rc -eq 2 ] && grep -q 'for the playbook' '$OUT/fleetopt.err'"
	done
	run fleetrev "$SRC/run.sh" fleet "$WORK/fleet/inv" --rev no-such-ref-xyz
	check "F. --rev of a bad ref: exit 2, one sentence with git's words (got $rc)" \
		sh -c "[ $rc -eq 2 ] && [ \$(wc -l <'$OUT/fleetrev.err') -eq 1 ] && grep -q \"^fleet: --rev no-such-ref-xyz: git says: \" '$OUT/fleetrev.err' && ! grep -q \"\\[\" '$OUT/fleetrev.err'"
	check "F. ... and no fleet folder is left" test "$(ls -d "$SRC"/results/fleet-* 2>/dev/null | wc -l)" -eq "$n_before"
	# Two fleets at once: the second waits for the lock the first holds.
	printf 'all:\n  hosts:\n    "../only-bad": {}\n' >"$WORK/fleet/bad.yml"
	lock=$("$PY" -c 'from analysis import fleet; print(fleet.LOCK_PATH)')
	flock "$lock" sleep 8 &
	holder=$!
	sleep 0.5
	start=$SECONDS
	run fleetlock "$SRC/run.sh" fleet "$WORK/fleet/bad.yml"
	took=$((SECONDS - start))
	wait "$holder"
	check "F. a second fleet waits for the first (${took} s, says so)" \
		sh -c "[ $took -ge 6 ] && grep -q 'another fleet runs on this machine' '$OUT/fleetlock.out'"
	for d in "$SRC"/results/fleet-*; do	# this test's fleet folders only
		grep -qxF -- "$d" <<<"$fleets_before" || rm -rf -- "$d"
	done
fi

echo "# $cases crafted cases; the files outside the output folders unchanged after each section"
check_summary
