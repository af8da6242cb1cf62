#!/usr/bin/env bash
# ./run.sh report (bench/analysis/report.py): report.html and report.md from the
# committed baseline, from a file with the churn, latency and disturbance
# columns, from two hosts, and from a comparison; bad input; and the page in
# headless chromium (tests/report_browser.py: no console error, no request,
# charts drawn, decision table, hover and filter), with a negative control
# that the browser check must fail.
#
#   tests/test_report.sh TOP WORKDIR
set -u
top=$1 work=$2
. "$top/tests/check.sh"
rm -rf "$work"
mkdir -p "$work"
base="$top/results/baseline/vm-quick.csv"
report() { "$top/run.sh" report "$@"; }

# --- the committed baseline (an older CSV format: no disturbed, no attempt columns)
rc=0
report "$base" --out "$work/one" >"$work/one.out" 2>"$work/one.err" || rc=$?
check "baseline: exit 0 ($rc)" test "$rc" -eq 0
check "baseline: report.html and report.md written" test -s "$work/one/report.html" -a -s "$work/one/report.md"
check "baseline: the paths printed" grep -q "^report: $work/one/report.html" "$work/one.out"
check "baseline: no script or stylesheet from the network" \
	bash -c "! grep -qiE '<script[^>]+src=|<link[^>]+href=.https?:' '$work/one/report.html'"
check "baseline: plotly.js inline, charts drawn by it" \
	bash -c "grep -q 'Plotly.newPlot' '$work/one/report.html' && test \$(grep -c 'class=\"chart\"' '$work/one/report.html') -ge 8"
md="$work/one/report.md"
check "md: where each scheme wins, with spread" grep -qE '^\| hammer \| 2 \| [a-z_]+ \| [a-z_]+ [0-9.]+ ns \([0-9.]+–[0-9.]+, n=5\)' "$md"
check "md: self-check verdicts" grep -q 'Self-checks: [0-9]* of [0-9]* rows ok, every one' "$md"
check "md: disturbed repetitions counted" grep -q 'Disturbed repetitions: no disturbed repetitions (of 955 attempts)' "$md"
check "md: the exact command of the run" grep -qx 'build/release/bench/krefbench --quick --reps 5 --out results/baseline/vm-quick.csv' "$md"
check "md: the reproduction from its commit" grep -qx 'git checkout db72f064a6882ce3393f3706b43205daba994c10' "$md"
check "md: the machine" grep -q '| CPU | AMD EPYC |' "$md"
check "md: says plainly what the run lacks" grep -q 'This run has no churn vs uses' "$md"
pycheck "md charts" '
import os, re, sys
md = sys.argv[1]
d = os.path.dirname(md)
links = re.findall(r"!\[[^]]*\]\(([^)]+\.png)\) \(\[svg\]\(([^)]+\.svg)\)\)", open(md).read())
print(("ok - " if len(links) >= 9 else "FAIL - ") + f"{len(links)} charts linked from report.md")
missing = [p for pair in links for p in pair if not os.path.isfile(os.path.join(d, p))]
print(("ok - " if not missing else "FAIL - ") + f"every linked PNG and SVG exists beside it {missing[:3]}")
' "$md"
if [ -f "$top/bench/analysis/decide.py" ]; then
	check "md: the decision sections of decide.py" grep -q '^#### long-lived hot object' "$md"
fi

# --- a run with the newer columns: churn vs uses, tail and release latency,
# disturbed attempts, a failed self-check.
/usr/bin/python3 - "$base" "$work/new.csv" <<'PY'
import csv, json, os, sys
src, dst = sys.argv[1:]
rows = list(csv.DictReader(open(src)))
cols = list(rows[0].keys()) + ["attempt", "disturbed", "uses", "lat_p50_ns", "lat_p99_ns",
                               "lat_p999_ns", "lat_max_ns"]
out = []
for r in rows:
    r.update(attempt="0", disturbed="", uses="")
    if r["workload"] == "hammer" and r["backend"] != "floor":
        ns = float(r["ns_per_op"])
        r.update(lat_p50_ns=f"{ns:.1f}", lat_p99_ns=f"{ns * 4:.1f}", lat_p999_ns=f"{ns * 9:.1f}",
                 lat_max_ns=f"{ns * 50:.1f}")
    out.append(r)
# A disturbed first attempt and its clean retry, and one failed self-check.
first = dict(out[40]); first.update(disturbed="invol_switches 3")
out[40]["attempt"] = "1"
out.insert(40, first)
out[60]["check"] = "released 2 times"
tmpl = next(r for r in rows if r["workload"] == "hammer" and r["backend"] == "atomic")
for b, per_use in (("atomic", 5.0), ("percpu", 1.0)):
    # As krefbench writes churn: the variant names the uses (it is in the
    # benchmark key), the uses column gives the number.
    for uses in (256, 1, 16):
        for rep in range(3):
            r = dict(tmpl); r.update(backend=b, workload="churn", threads="2", uses=str(uses), rep=str(rep),
                                     variant=f"uses={uses}",
                                     ns_per_op=str(800 * (b == "percpu") + 100 + per_use * uses + rep),
                                     norm="", lat_p50_ns="", lat_p99_ns="", lat_p999_ns="", lat_max_ns="")
            out.append(r)
    for rep in range(3):
        r = dict(tmpl); r.update(backend=b, workload="release_latency", threads="1", rep=str(rep), uses="",
                                 ns_per_op="1000", lat_p50_ns="900", lat_p99_ns="20000",
                                 lat_p999_ns="40000", lat_max_ns="90000")
        out.append(r)
with open(dst, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=cols)
    w.writeheader()
    w.writerows(out)
meta = json.load(open(os.path.splitext(src)[0] + ".json"))
meta["host"] = "newer"
json.dump(meta, open(os.path.splitext(dst)[0] + ".json", "w"))
PY
rc=0
report "$work/new.csv" --out "$work/new" >"$work/new.out" 2>"$work/new.err" || rc=$?
check "newer columns: exit 0 ($rc)" test "$rc" -eq 0
md="$work/new/report.md"
for chart in churn-uses tail-latency release-latency; do
	check "newer columns: $chart chart beside report.md" test -s "$work/new/$chart.png" -a -s "$work/new/$chart.svg"
done
check "newer columns: the interactive churn and latency charts" \
	bash -c "grep -q 'ns per object lifetime against uses' '$work/new/report.html' && grep -q 'tail latency of single get+put pairs' '$work/new/report.html' && grep -q 'release latency: last put' '$work/new/report.html'"
check "newer columns: nothing said missing" bash -c "! grep -q 'This run has no' '$md'"
check "churn categories in the order of their uses, named once" \
	bash -c "grep -n '^| churn (uses=' '$md' | cut -d'|' -f2 | tr -d ' ' | paste -sd, | grep -qx 'churn(uses=1),churn(uses=16),churn(uses=256)'"
check "the disturbed attempt counted" grep -q 'Disturbed repetitions: 1 of [0-9]* attempts disturbed' "$md"
check "the failed self-check counted and named" \
	bash -c "grep -q 'Self-checks: [0-9]* of [0-9]* rows ok, 1 failed' '$md' && grep -q '| released 2 times | 1 |' '$md'"

# --- two hosts side by side
rc=0
report "$base" "$work/new.csv" --out "$work/two" >"$work/two.out" 2>"$work/two.err" || rc=$?
check "two hosts: exit 0 ($rc)" test "$rc" -eq 0
md="$work/two/report.md"
check "two hosts: side by side, normalised to their floors" \
	bash -c "grep -q '^## All hosts side by side' '$md' && grep -q '^| workload | threads | vm | newer | winner |' '$md'"
check "two hosts: which scheme wins where" grep -qE '^\| hammer \| highest \| [a-z_]+ [0-9.]+× floor' "$md"
check "two hosts: a section per host" bash -c "grep -q '^## vm\$' '$md' && grep -q '^## newer\$' '$md'"
check "two hosts: the cross-host chart" test -s "$work/two/hosts-norm-hammer.png"
check "two hosts: each host's charts in its folder" test -s "$work/two/vm/throughput-hammer.png" -a -s "$work/two/newer/throughput-hammer.png"

# --- a comparison: the same file (no regression), and atomic made 2x slower
/usr/bin/python3 - "$base" "$work/slow.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for r in rows:
    if r["backend"] == "atomic":
        r["ns_per_op"] = f"{float(r['ns_per_op']) * 2:.3f}"
with open(sys.argv[2], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(rows)
PY
rc=0
report --compare "$base" "$base" --out "$work/same" >"$work/same.out" 2>"$work/same.err" || rc=$?
# Files of two runs never give a regression verdict: 0, or 2 where Holm over
# every row leaves 5 repetitions a side too few to find anything.
check "compare same: exit 0 or 2, never 1 ($rc)" test "$rc" -eq 0 -o "$rc" -eq 2
check "compare same: neither regression nor differs" \
	bash -c "grep -qE '^\| verdict \| (no significant regression|UNDECIDED) ' '$work/same/report.md' && ! grep -qE 'REGRESSION|DIFFERS' '$work/same/report.md'"
rc=0
# --adjust none: under Holm over every row, 5 repetitions a side cannot show one row slower.
report --compare "$base" "$work/slow.csv" --out "$work/slow" --adjust none >"$work/slow.out" 2>"$work/slow.err" || rc=$?
check "compare slower (files of two runs): exit 2, compare's own: no verdict ($rc)" test "$rc" -eq 2
check "compare slower: DIFFERS, not REGRESSION, and the rows named" \
	bash -c "grep -q '| verdict | DIFFERS (files of two runs' '$work/slow/report.md' && grep -q 'differs (files of two runs: drift or change): atomic hammer threads=1' '$work/slow/report.md' && grep -q '^| atomic hammer threads=1 | bench | [0-9.]* | [0-9.]* | 2.000 | .* | slower |' '$work/slow/report.md'"
check "compare slower: the ratio chart" test -s "$work/slow/compare-ratio.png"
rc=0
report --compare "$base" "$base" --threshold 10 --adjust holm --out "$work/undecided" >"$work/und.out" 2>"$work/und.err" || rc=$?
check "compare: options reach compare.py, undecided is rendered and exits 2 ($rc)" \
	bash -c "test $rc -eq 2 && grep -q 'threshold 10%, alpha 0.05, adjustment holm' '$work/undecided/report.md' && grep -q '| verdict | UNDECIDED' '$work/undecided/report.md'"

# --- bad input: one line, exit 2, nothing written
for bad in "$work/none.csv" "$top/README.md"; do
	rc=0
	report "$bad" --out "$work/bad" >"$work/bad.out" 2>"$work/bad.err" || rc=$?
	check "bad input $(basename "$bad"): exit 2, one line, no folder" \
		bash -c "test $rc -eq 2 && test \$(wc -l <'$work/bad.err') -eq 1 && grep -q '^report: ' '$work/bad.err' && test ! -e '$work/bad'"
done
rc=0
report "$base" --out "$work/new.csv" >"$work/bad.out" 2>"$work/bad.err" || rc=$?
check "--out a file: exit 2, the file untouched" \
	bash -c "test $rc -eq 2 && head -1 '$work/new.csv' | grep -q '^backend,'"
rc=0
report --compare "$base" "$work/none.csv" --out "$work/bad" >"$work/bad.out" 2>"$work/bad.err" || rc=$?
check "--compare with a missing file: exit 2, compare's line" bash -c "test $rc -eq 2 && grep -q '^report: compare: ' '$work/bad.err'"

# --- in a real browser
if ! command -v chromium >/dev/null; then
	fail "chromium is not installed (./run.sh test installs Debian's chromium)"
else
	pycheck "browser: baseline" "$(cat "$top/tests/report_browser.py")" \
		"$work/one/report.html" "$work/screenshot-one.png" --expect-hosts 1
	# A phone: 420 px wide, tables in scroll boxes, nothing widens the page.
	pycheck "browser: baseline on a phone" "$(cat "$top/tests/report_browser.py")" \
		"$work/one/report.html" "$work/screenshot-one-phone.png" --expect-hosts 1 --width 420
	pycheck "browser: two hosts on a phone" "$(cat "$top/tests/report_browser.py")" \
		"$work/two/report.html" "$work/screenshot-two-phone.png" --expect-hosts 2 --width 420
	# The 420 px check must be able to fail: a wide table outside a scroll box.
	printf '%s' '<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width"></head><body><table><tr><td>' >"$work/wide.html"
	printf 'wide_cell_%.0s' $(seq 80) >>"$work/wide.html"
	printf '%s\n' '</td></tr></table></body></html>' >>"$work/wide.html"
	rc=0
	/usr/bin/python3 "$top/tests/report_browser.py" "$work/wide.html" "$work/screenshot-wide.png" --width 420 >"$work/wide-browser.out" 2>&1 || rc=$?
	check "browser check fails a page a table widens at 420 px (exit $rc)" \
		bash -c "test $rc -ne 0 && grep -q '^FAIL - at 420 px nothing widens the page' '$work/wide-browser.out' && grep -q '^FAIL - at 420 px every table is in a scroll box' '$work/wide-browser.out'"
	pycheck "browser: two hosts" "$(cat "$top/tests/report_browser.py")" \
		"$work/two/report.html" "$work/screenshot-two.png" --expect-hosts 2
	pycheck "browser: newer columns" "$(cat "$top/tests/report_browser.py")" \
		"$work/new/report.html" "$work/screenshot-new.png" --expect-hosts 1
	pycheck "browser: compare" "$(cat "$top/tests/report_browser.py")" \
		"$work/slow/report.html" "$work/screenshot-compare.png" --compare
	# The browser check must be able to fail: a page with a request and a console error.
	cat >"$work/bad.html" <<'EOF'
<!DOCTYPE html><html><head><title>bad</title></head><body>
<img src="http://127.0.0.1:9/x.png"><script>console.error("broken on purpose")</script></body></html>
EOF
	rc=0
	/usr/bin/python3 "$top/tests/report_browser.py" "$work/bad.html" "$work/screenshot-bad.png" >"$work/bad-browser.out" 2>&1 || rc=$?
	check "browser check fails a page with a request and a console error (exit $rc)" \
		bash -c "test $rc -ne 0 && grep -q '^FAIL - no console error' '$work/bad-browser.out' && grep -q '^FAIL - no other request' '$work/bad-browser.out' && grep -q '^FAIL - every chart drawn' '$work/bad-browser.out'"
fi
check_summary
