#!/usr/bin/python3
"""Every chart says what it shows: one unit, the thread count(s), at most 12
series, and what it left out. Checked on the committed baseline
(results/baseline/*.csv) and on a fixture with many backends built from it.

    PYTHONPATH=bench tests/test_charts.py SRC_DIR OUT_DIR

The charts (bench/analysis/charts.py, report.py's report.md charts) write
their facts, read from the drawn figure (charts.chart_facts()), into each
SVG's description; the report's plotly charts carry their titles, axes and
traces in the page's JSON blocks and a "left out" line under each. Prints
"ok - " / "FAIL - " lines; exits 1 on any failure.
"""

import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import zlib

from analysis import charts  # PYTHONPATH=bench

MAX = 12
failed = 0


def check(ok, text):
    global failed
    print(("ok - " if ok else "FAIL - ") + text, flush=True)
    failed += 0 if ok else 1


def svg_facts(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"<dc:description>(.*?)</dc:description>", text, re.S)
    if not m:
        return None
    import html
    return json.loads(html.unescape(m.group(1)))


def check_svgs(label, folder, expect_min):
    svgs = sorted(glob.glob(os.path.join(folder, "**", "*.svg"), recursive=True))
    check(len(svgs) >= expect_min, f"{label}: {len(svgs)} SVG charts (at least {expect_min})")
    for path in svgs:
        name = os.path.relpath(path, folder)
        f = svg_facts(path)
        if f is None:
            check(False, f"{label} {name}: no facts in the SVG's description")
            continue
        compare = name.startswith("compare")
        problems = []
        if not f["title"].strip():
            problems.append("no title")
        if len(f["units"]) != 1:
            problems.append(f"{len(f['units'])} units {f['units']}")
        if f["series"] > MAX or f["series"] < 1:
            problems.append(f"{f['series']} series")
        if not (f["left_out"] or "").startswith("left out: "):
            problems.append(f"no 'left out' statement ({f['left_out']!r})")
        if not compare and "thread" not in f["title"]:
            problems.append("the title names no thread count")
        if "op" == f["units"][0:1] or any(" or lookup" in u for u in f["units"]):
            problems.append(f"a unit of several kinds of op: {f['units']}")
        # the caption is drawn, not only recorded
        if f["left_out"] and f["left_out"].split(" ")[2] not in open(path, encoding="utf-8").read():
            problems.append("the 'left out' caption is not in the drawing")
        check(not problems, f"{label} {name}: {f['series']} series, unit {f['units'][:1]}, "
                            f"{(f['left_out'] or '')[:70]}" + (f" -- {problems}" if problems else ""))


def check_html(label, page):
    text = open(page, encoding="utf-8").read()
    datas = re.findall(r'<script type="application/json" class="kb-chart-data" '
                       r'data-for="[^"]+">(.*?)</script>(<p class="left-out">(.*?)</p>)?', text, re.S)
    check(len(datas) >= 1, f"{label}: {len(datas)} interactive charts")
    for spec_text, _, left in datas:
        spec = json.loads(spec_text)
        layout = spec["layout"]
        title = (layout.get("title") or {}).get("text", "")
        units = {(layout.get(k) or {}).get("title", {}).get("text", "")
                 for k in layout if k.startswith("yaxis")} - {""}
        legend = [t.get("name", "") for t in spec["data"] if t.get("showlegend") is not False]
        series = [n for n in legend if not n.startswith(charts.REFERENCE_PREFIXES)]
        if "host @threads" in json.dumps(layout.get("legend", {})):
            series = []     # the cross-host chart: one series per host
        problems = []
        if not title:
            problems.append("no title")
        if len(units) != 1:
            problems.append(f"units {units}")
        if len(set(series)) > MAX:
            problems.append(f"{len(set(series))} series")
        if not left.startswith("left out: "):
            problems.append("no 'left out' line")
        if "compare" not in label and "thread" not in title + json.dumps(layout.get("xaxis", {})):
            problems.append("no thread count named")
        check(not problems, f"{label}: {title[:60]!r}: {len(set(series))} series, "
                            f"{left[:60]}" + (f" -- {problems}" if problems else ""))


def many_backends(src, dst, extra=14):
    """The baseline with `extra` more backends: copies of atomic's rows
    under new names, each a little slower, so 13 + extra rows per chart."""
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
        fields = list(rows[0].keys())
    out = list(rows)
    base = [r for r in rows if r["backend"] == "atomic"]
    for i in range(extra):
        for r in base:
            c = dict(r)
            c["backend"] = f"fake{i:02d}"
            for col in ("ns_per_op",):
                c[col] = f"{float(r[col]) * (1.05 + 0.1 * i):.3f}"
            c["ops_per_s"] = f"{float(r['ops_per_s']) / (1.05 + 0.1 * i):.0f}"
            out.append(c)
    with open(dst, "w", newline="") as f:
        w = csv.DictWriter(f, fields)
        w.writeheader()
        w.writerows(out)
    shutil.copy(os.path.splitext(src)[0] + ".json", os.path.splitext(dst)[0] + ".json")


def run(args, what):
    p = subprocess.run([sys.executable, "-m"] + args, capture_output=True, text=True)
    check(p.returncode == 0, f"{what}: exit {p.returncode}" +
          (f" ({p.stderr.strip()[-300:]})" if p.returncode else ""))
    return p


def main(argv):
    if len(argv) == 3 and argv[0] == "--report":   # one report folder, checked as above
        check_svgs(argv[1], argv[1], 1)
        check_html(argv[1], os.path.join(argv[1], "report.html"))
        return 1 if failed else 0
    src, out = argv
    os.makedirs(out, exist_ok=True)
    baselines = sorted(glob.glob(os.path.join(src, "results", "baseline", "*.csv")))
    check(bool(baselines), f"{len(baselines)} committed baseline file(s)")
    many = os.path.join(out, "many.csv")
    many_backends(baselines[0], many)
    nb = len({r["backend"] for r in csv.DictReader(open(many))} - {"floor"})
    check(nb > MAX + 10, f"fixture: {nb} backends")
    for i, csv_path in enumerate(baselines + [many]):
        label = os.path.basename(csv_path)
        plots = os.path.join(out, f"plots-{i}")
        report = os.path.join(out, f"report-{i}")
        for d in (plots, report):
            shutil.rmtree(d, ignore_errors=True)
        run(["analysis.charts", "--quiet", csv_path, "--out", plots], f"{label}: charts")
        check_svgs(f"{label} charts", plots, 3)
        run(["analysis.report", csv_path, "--out", report], f"{label}: report")
        check_svgs(f"{label} report.md charts", report, 3)
        check_html(f"{label} report.html", os.path.join(report, "report.html"))
    # the compare chart: many rows, the most changed drawn, the rest counted
    cmp = os.path.join(out, "compare")
    shutil.rmtree(cmp, ignore_errors=True)
    slow = os.path.join(out, "slower.csv")
    with open(baselines[0], newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        if r["backend"] != "floor":
            k = 1.3 if zlib.crc32((r["backend"] + r["workload"]).encode()) % 2 else 1.0
            r["ns_per_op"] = f"{float(r['ns_per_op']) * k:.3f}"
            r["ops_per_s"] = f"{float(r['ops_per_s']) / k:.0f}"
    with open(slow, "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    shutil.copy(os.path.splitext(baselines[0])[0] + ".json", os.path.splitext(slow)[0] + ".json")
    run(["analysis.charts", "--quiet", "--compare", many, slow, "--out", cmp], "compare chart")
    check_svgs("compare", cmp, 1)
    f = svg_facts(os.path.join(cmp, "compare-ratio.svg")) or {}
    check("beyond the 40 most changed" in (f.get("left_out") or "") or
          "verdict is same" in (f.get("left_out") or ""),
          f"compare: the rows left out are counted ({(f.get('left_out') or '')[:100]})")
    from PIL import Image
    h = Image.open(os.path.join(cmp, "compare-ratio.png")).size[1]
    check(h < 2000, f"compare chart {h} px tall (under 2,000)")
    print(f"{'FAILED' if failed else 'passed'}: {failed} failure(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
