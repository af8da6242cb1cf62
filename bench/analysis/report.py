#!/usr/bin/python3
"""One report that answers "which scheme, on my machines?".

    bench/analysis/report.py RESULTS.csv [MORE.csv ...] [--out DIR]
    bench/analysis/report.py --compare A.csv B.csv [--out DIR] [compare options ...]

Writes DIR/report.html and DIR/report.md.

report.html is one self-contained file: plotly.js (Debian's python3-plotly)
and every chart's data are inline, nothing is fetched, so it opens offline.
Charts are interactive (hover for the figures, click a legend entry, or use
the backend and host filters at the top, which also hide table rows).
report.md says the same in Markdown and links PNG and SVG charts written
beside it with matplotlib (plots/plot.py's charts per host, plus this file's
own for churn, tail latency, release latency and the cross-host view).

Per results file (one host each; bench/analysis/results.py reads them, clean
repetitions only):
  machine and environment  from the sidecar <stem>.json
  decision sections        from bench/analysis/decide.py (issue 12), one module that
                           the run summary and this report both call; this
                           file only renders what it returns (see
                           decision_sections() for the interface)
  where each scheme wins   per workload, the backend with the lowest median
                           ns/op at 1 thread and at the host's highest thread
                           count, with the runner-up and whether their
                           intervals overlap ("within spread": the one
                           meaning decide.py uses, stats.within_spread())
  charts                   throughput vs threads per workload with the floors;
                           ns per get+put per scheme at the highest thread
                           count (every clean repetition: the spread); churn
                           vs uses at the highest thread count (report.md: 1
                           and the highest), hammer's tail latency and the
                           release latency when the run has those
                           workloads/columns (else the report says it has
                           none). Each chart: one unit, at most 12 schemes,
                           the rows that are not schemes as reference lines,
                           and a line under it saying what it left out (as
                           bench/analysis/charts.py)
  self-checks              rows whose check was ok, and every one that was not
  disturbed repetitions    counted, with a warning when most were
  how to reproduce         the exact command line and git commit of the sidecar

Several files: hosts side by side, each normalised to its own floors (the
`norm` column: ns/op over the floor measured in the same round), and which
scheme wins on which host.

--compare A B: bench/analysis/compare.py A B --format json (its statistics, its
verdicts; options after A and B pass through) rendered the same way.

DIR defaults to <dir of CSV>/<stem>-report for one file, <dir of the first
CSV>/report-<UTC time> for several, <dir of B>/<stem A>-vs-<stem B>-report for
--compare. The report's own files in DIR are rewritten; an input file is
never overwritten.

Exit: 0 written; 2 bad input or arguments (one "report: " line on stderr);
1 the report could not be written. With --compare, when the report was
written, compare's own status: 0 no regression, 1 regression, 2 undecided
(too few repetitions: the report says so).
"""

import argparse
import base64
import contextlib
import csv
import datetime
import hashlib
import html
import io
import json
import math
import os
import re
import shlex
import statistics
import subprocess
import sys
import warnings

from . import cli, names, outputs, results as R, stats
from .cli import InputError, WriteError
from .outputs import prepare_out_dir, protected, safe_name
from .results import config_label, config_of, median_stats as stats_of, varying_config

TEMPLATE = os.path.join(os.path.dirname(os.path.realpath(__file__)), "report_template.html")
THROUGHPUT_FLOORS = ("shared", "uncontended")
LATENCY_COLUMNS = ("lat_p50_ns", "lat_p99_ns", "lat_p999_ns", "lat_max_ns")
USES_COLUMN = "uses"
# The reference lines (rows that are not schemes): black, one dash pattern each.
REF_DASHES = ("dot", "dashdot", "longdashdot", "5px,2px,1px,2px", "1px,4px")
ENV_FIELDS = (("host", "host"), ("cpu_model", "CPU"), ("topology", "topology"),
              ("pus", "PUs"), ("kernel", "kernel"), ("compiler", "compiler"),
              ("cflags", "flags"), ("glibc", "glibc"), ("git_commit", "git commit"),
              ("governor", "governor"), ("boost_or_no_turbo", "boost"), ("smt", "SMT"),
              ("rseq", "rseq"), ("tools", "tools"), ("placement", "placement"),
              ("seed", "seed"), ("status", "status"))
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True,
                 "toImageButtonOptions": {"format": "svg"}}


def warn(msg):
    cli.warn("report", msg)


def esc(text):
    """text for HTML content or an attribute value; a CR as a character
    reference, since a parser reads a literal one as LF (the filter compares
    names exactly)."""
    return html.escape(str(text), quote=True).replace("\r", "&#13;")


# Characters Markdown (CommonMark, GFM) reads as markup: backslash-escaped
# in text from data, so no emphasis, link, image, raw HTML, code span, fence
# or table cell starts there.
MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&|!~{}])")
MD_LINE_START = re.compile(r"^(\s*)(\d*)([#>+=.)-])")
MD_AUTOLINK = re.compile(r"(?i)(\w)(://)|\b(www)(\.)")


def md_text(text, line_start=True):
    """text (from data, or prose holding data) for one Markdown line: control
    characters as spaces, markup characters escaped, bare URLs (scheme:// and
    www.) broken with an escape so that no renderer links them; with
    line_start, a heading, quote, list or setext marker that would begin the
    line escaped too (a table cell cannot begin a block)."""
    text = "".join(" " if cli.is_control(c) else c for c in str(text))
    text = MD_SPECIAL.sub(r"\\\1", text)
    text = MD_AUTOLINK.sub(lambda m: (m.group(1) + "\\:\\/\\/") if m.group(2)
                           else (m.group(3) + "\\."), text)
    if not line_start:
        return text
    return MD_LINE_START.sub(lambda m: m.group(1) + m.group(2) + "\\" + m.group(3), text)


def md_cell(text):
    return md_text(text, line_start=False)


def md_code(text):
    """text as a fenced code block that no line of it can close: the fence
    is longer than any run of backticks in it; control characters (but the
    newlines) become spaces."""
    text = "".join(c if c == "\n" or not cli.is_control(c) else " " for c in str(text))
    run = max((len(r) for r in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, run + 1)
    return f"{fence}\n{text}\n{fence}\n"


# ---------------------------------------------------------------- input

class Host:
    """One results file: its Results, sidecar and the label the report uses."""

    def __init__(self, path, keep_going=False):
        """keep_going: a file with nothing usable becomes a host whose
        `problem` says why (the report names it) instead of an error."""
        self.path = path
        self.problem = None
        self.failed_checks = []
        try:
            self.res = R.load(path, purpose="report")
            if not self.res.benches:
                raise R.InputError(f"{path}: only floor rows, no benchmark rows")
        except R.InputError as e:
            if not keep_going:
                raise InputError(str(e))
            self.res, self.problem = None, str(e)
            warn(f"no usable results: {e}")
        if self.res:
            for w in self.res.warnings:
                warn(w)
            self.failed_checks = failed_checks(path)
        _, meta, problem = R.load_sidecar(path) if os.path.isfile(path) else (None, None, None)
        if problem:
            warn(problem)
        self.meta = meta or {}
        self.label = str(self.meta.get("host") or "").strip() or \
            os.path.splitext(os.path.basename(path))[0]

    @property
    def benches(self):
        return self.res.benches

    @property
    def floors(self):
        return self.res.floors


def failed_checks(path):
    """Rows whose self-check was not ok: (backend, workload, threads, check).
    bench/analysis/results.py sets them aside and counts them; the report names them,
    so it reads the check column of the (already validated) file once more."""
    out = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            check = (row.get("check") or "").strip()
            if check not in ("", "ok", "check") and row.get("backend") != "backend":
                out.append((row.get("backend", "").strip(), row.get("workload", "").strip(),
                            (row.get("threads") or "").strip(), check))
    return out


def unique_labels(hosts):
    """Hosts named alike (one machine twice, or sidecars without a host) get
    their directory (a fleet's per-host folder) or file name added."""
    seen = {}
    for h in hosts:
        seen.setdefault(h.label, []).append(h)
    for label, group in seen.items():
        if len(group) < 2:
            continue
        dirs = [os.path.basename(os.path.dirname(os.path.abspath(h.path))) for h in group]
        use_dirs = len(set(dirs)) == len(dirs)
        for h, d in zip(group, dirs):
            extra = d if use_dirs else os.path.splitext(os.path.basename(h.path))[0]
            h.label = extra if extra == label else f"{label} ({extra})"
    labels = [h.label for h in hosts]
    for i, h in enumerate(hosts):
        if labels.count(h.label) > 1:
            h.label = f"{h.label} #{i + 1}"


# ---------------------------------------------------------------- figures

def fmt_num(x):
    if x is None:
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 1e6:
        return f"{x:.3g}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def fmt_stats(st, unit=""):
    """'12.3 ns (11.9–13.0, n=5)': the median and the range of the clean
    repetitions."""
    if st is None:
        return "–"
    med, lo, hi, n = st
    if n == 1:
        return f"{fmt_num(med)}{unit} (n=1)"
    return f"{fmt_num(med)}{unit} ({fmt_num(lo)}–{fmt_num(hi)}, n={n})"


def natural(cfg):
    """Sort key of a config: numbers by value (uses=16 before uses=256)."""
    import re
    return tuple(tuple((0, float(x), "") if re.fullmatch(r"[0-9.]+", x) else (1, 0.0, x)
                       for x in re.findall(r"[0-9.]+|[^0-9.]+", v or "")) for _, v in cfg)


def categories(host):
    """{(workload, cfg): rows} over the benchmark rows, in a stable order."""
    cats = {}
    for w in names.ordered({r["workload"] for r in host.benches}, names.workload_order()):
        rows = [r for r in host.benches if r["workload"] == w]
        cols = varying_config(rows, host.res.columns)
        mine = {}
        for r in rows:
            mine.setdefault((w, config_of(r, cols)), []).append(r)
        for cat in sorted(mine, key=lambda c: natural(c[1])):
            cats[cat] = mine[cat]
    return cats


def cat_label(cat):
    w, cfg = cat
    return w + (f" ({config_label(cfg)})" if cfg else "")


def wins(host):
    """Per category and thread level (1 and the highest): the backends by
    median ns/op, best first: [(backend, stats, norm_stats)]."""
    out = []
    for cat, rows in categories(host).items():
        threads = sorted({r["threads"] for r in rows})
        levels = [threads[0]] + ([threads[-1]] if threads[-1] != threads[0] else [])
        for t in levels:
            by_b = {}
            for r in rows:
                # a lookup row whose lookups mostly missed measures failure: never ranked
                if r["threads"] == t and r["backend"] not in names.not_schemes() and not R.mostly_missed(r):
                    by_b.setdefault(r["backend"], []).append(r)
            ranked = []
            for b, rs in by_b.items():
                st = stats.figure_interval([r["ns_per_op"] for r in rs],
                                           [r.get("process") for r in rs])
                ranked.append((b, st, stats_of([r["norm"] for r in rs])))
            ranked.sort(key=lambda x: x[1].median)
            if ranked:
                out.append({"cat": cat, "threads": t, "ranked": ranked})
    return out


def fmt_interval(iv, unit=""):
    """'12.3 ns (11.9–13.0, n=5)': the median and its interval
    (stats.figure_interval, as decide.py prints it); '12.3 ns (n=2)' when
    there are too few units for one."""
    if not iv.has_interval:
        return f"{fmt_num(iv.median)}{unit} (n={iv.n})"
    return f"{fmt_num(iv.median)}{unit} ({fmt_num(iv.lo)}–{fmt_num(iv.hi)}, n={iv.n})"


def win_text(entry, with_norm=False):
    """'percpu 3.1 ns (2.9–3.3, n=5); next refcount ×4.2' with a note when
    the two intervals overlap (stats.within_spread, as decide.py)."""
    ranked = entry["ranked"]
    b, st, nst = ranked[0]
    text = f"{b} {fmt_interval(st, ' ns')}"
    if with_norm and nst is not None:
        text = f"{b} {fmt_num(nst[0])}× floor ({fmt_num(st.median)} ns)"
    if len(ranked) > 1:
        b2, st2, _ = ranked[1]
        text += f"; next {b2} ×{st2.median / st.median:.2f}"
        if stats.within_spread(st, st2):
            text += " (within spread)"
    return text


# ---------------------------------------------------------------- decisions

def decision_sections(host):
    """The decision sections of decide.py for one host, as
    (sections, note). The interface this report needs, and what it accepts:

        decide.sections(results, sidecar) -> [section, ...]

    a section being a dict (or an object with these attributes):
        title    "long-lived hot object"
        answer   one sentence: which scheme, and why (optional)
        columns  the table's header
        rows     the table's rows, each a list of cells (text or numbers)
        notes    further lines: crossovers, memory price, caveats (optional)

    Where decide fails, there are no sections and the note says why (the
    "where each scheme wins" table still stands)."""
    from . import decide
    try:
        # decide.load(): the clean repetitions, and for a benchmark with none
        # its disturbed ones marked '~' -- the sections the run's summary printed.
        results, meta, _ = decide.load(host.path)
        raw = decide.sections(results, meta if meta is not None else host.meta)
    except Exception as e:  # its failure must not lose the rest of the report
        return [], f"decide failed on {host.path}: {type(e).__name__}: {e}"
    out = []
    for s in raw or []:
        get = (lambda k, d=None: s.get(k, d)) if isinstance(s, dict) else \
            (lambda k, d=None: getattr(s, k, d))
        out.append({"title": str(get("title", "") or ""), "answer": str(get("answer", "") or ""),
                    "columns": [str(c) for c in (get("columns") or [])],
                    "rows": [[c for c in row] for row in (get("rows") or [])],
                    "notes": [str(n) for n in (get("notes") or [])]})
    return out, "" if out else "bench/analysis/decide.py returned no sections for this run"


# ---------------------------------------------------------------- plotly charts

class Charts:
    """plotly figures as HTML fragments (no plotly.js: the page holds it once)."""

    def __init__(self, backends):
        try:
            import plotly.graph_objects as go
            import plotly.io as pio
            from plotly import colors
        except ImportError as e:
            raise WriteError(f"plotly is not available ({e}); install python3-plotly")
        self.go, self.pio = go, pio
        palette = list(colors.qualitative.Plotly) + list(colors.qualitative.Dark24)
        self.color = {b: palette[i % len(palette)]
                      for i, b in enumerate(names.ordered(backends, names.backend_order()))}
        self.count = 0

    def html(self, fig, title, height=420, left_out=None):
        """The chart's fragment, with a line under it saying what it left out
        (charts.left_out_text()); the legend sits under the plot, so a
        phone's width narrows the plot, never cuts the legend."""
        from .charts import left_out_text
        left_out = left_out_text(left_out if isinstance(left_out, (list, tuple)) else [left_out])
        entries = sum(1 for t in fig.data if t.showlegend is not False and t.name)
        height += 22 * ((entries + 3) // 4)
        fig.update_layout(title={"text": title, "font": {"size": 14}}, height=height,
                          margin={"l": 60, "r": 30, "t": 50, "b": 60},
                          template="plotly_white",
                          legend={"title": {"text": "scheme"}, "orientation": "h",
                                  "yanchor": "top", "y": -0.18, "xanchor": "left", "x": 0})
        self.count += 1
        return chart_html(fig, self.count, height, left_out)

    def shown(self, backends, score):
        """(schemes drawn, reference rows, the 'left out' part for the rest):
        the rows that are not schemes apart, at most charts.MAX_SERIES schemes."""
        from .charts import MAX_SERIES, keep_best, split_schemes
        schemes, refs = split_schemes(names.ordered(backends, names.backend_order()))
        kept, dropped = keep_best(schemes, score)
        return kept, refs, (f"{len(dropped)} scheme(s) beyond {MAX_SERIES}: {', '.join(dropped)}"
                            if dropped else "")

    def floor_lines(self, fig, host, placements, threads, field="ops_per_s"):
        for name in THROUGHPUT_FLOORS:
            rows = [r for r in host.floors if r["workload"] == name]
            rows = [r for r in rows if r["placement"] in placements] or rows
            by_t = {}
            for r in rows:
                if threads[0] <= r["threads"] <= threads[-1]:
                    by_t.setdefault(r["threads"], []).append(r[field])
            if not by_t:
                continue
            ts = sorted(by_t)
            ys = [statistics.median(by_t[t]) for t in ts]
            if len(ts) == 1:
                ts, ys = [threads[0], threads[-1]], ys * 2
            fig.add_trace(self.go.Scatter(
                x=ts, y=ys, mode="lines", name=f"floor: {name}",
                line={"dash": "dash", "color": "#555" if name == "shared" else "#999"},
                meta={"backend": "floor", "host": host.label},
                hovertemplate=f"floor {ptext(name)}<br>%{{x}} threads: %{{y:.4g}} ops/s<extra></extra>"))

    def throughput(self, host, cat, rows, left=()):
        """ops/s against threads for one category: at most MAX_SERIES
        schemes (the fastest at the most threads), the rows that are not
        schemes as dotted reference lines, the floors dashed."""
        go = self.go
        fig = go.Figure()
        threads = sorted({r["threads"] for r in rows})

        def score(b):
            st = stats_of([r["ops_per_s"] for r in rows if r["backend"] == b and
                           r["threads"] == threads[-1]])
            return -st[0] if st else None
        kept, refs, dropped = self.shown({r["backend"] for r in rows}, score)
        for b in kept + refs:
            by_t = {}
            for r in rows:
                if r["backend"] == b:
                    by_t.setdefault(r["threads"], []).append(r["ops_per_s"])
            ts = sorted(by_t)
            st = [stats_of(by_t[t]) for t in ts]
            ref = b in refs
            few = any(x[3] < 3 for x in st)
            fig.add_trace(go.Scatter(
                x=ts, y=[x[0] for x in st], mode="lines+markers",
                name=f"reference: {b} (not a scheme)" if ref else b,
                line={"color": "#222", "dash": REF_DASHES[refs.index(b) % len(REF_DASHES)]}
                if ref else {"color": self.color.get(b)},
                legendgroup=b, meta={"backend": b, "host": host.label},
                error_y=None if ref or few else {
                    "type": "data", "symmetric": False,
                    "array": [x[2] - x[0] for x in st], "arrayminus": [x[0] - x[1] for x in st]},
                customdata=[[x[1], x[2], x[3]] for x in st],
                hovertemplate=(f"{ptext(b)}<br>%{{x}} threads: %{{y:.4g}} ops/s"
                               "<br>range %{customdata[0]:.4g}–%{customdata[1]:.4g},"
                               " n=%{customdata[2]}<extra></extra>")))
        self.floor_lines(fig, host, {r["placement"] for r in rows}, threads)
        op = names.workload_op(cat[0])
        fig.update_yaxes(type="log", title=f"{op} per second, all threads (median, bars min–max)")
        fig.update_xaxes(title="threads", tickvals=threads,
                         type="log" if threads[-1] / threads[0] >= 8 else "linear")
        return self.html(fig, f"{host.label}: throughput — {cat_label(cat)}: {op} per second",
                         left_out=list(left) + [dropped])

    def nsop_boxes(self, host, cats, left=()):
        """Every clean repetition at the highest thread count of the get+put
        workloads (one unit), a box per scheme: the spread is the picture."""
        go = self.go
        fig = go.Figure()
        unit = {cat: rows for cat, rows in cats.items() if names.workload_op(cat[0]) == "get+put"}
        other = names.ordered({cat[0] for cat in cats} - {cat[0] for cat in unit}, names.workload_order())
        if not unit:
            return ""
        tmax = max(r["threads"] for rows in unit.values() for r in rows)
        points = {}
        for cat, rows in unit.items():
            for r in rows:
                if r["threads"] == tmax:
                    points.setdefault(r["backend"], []).append((cat_label(cat), r["ns_per_op"]))

        def score(b):
            return statistics.median(y for _, y in points[b]) if b in points else None
        kept, refs, dropped = self.shown(set(points), score)
        for b in kept + refs:
            xs, ys = zip(*points[b])
            ref = b in refs
            fig.add_trace(go.Box(x=list(xs), y=list(ys),
                                 name=f"reference: {b} (not a scheme)" if ref else b, legendgroup=b,
                                 meta={"backend": b, "host": host.label},
                                 marker={"color": "#222" if ref else self.color.get(b), "size": 4},
                                 boxpoints="all", jitter=0.3, pointpos=0,
                                 hovertemplate=f"{ptext(b)}<br>%{{x}}<br>%{{y:.4g}} ns/op<extra></extra>"))
        fig.update_layout(boxmode="group")
        fig.update_yaxes(type="log", title="ns per get+put, per thread (each clean repetition)")
        fig.update_xaxes(title="workload", tickangle=-30)
        others = sorted({r["threads"] for rows in unit.values() for r in rows} - {tmax})
        return self.html(fig, f"{host.label}: ns per get+put at {tmax} threads", height=500,
                         left_out=list(left) + [
                             f"other thread counts ({', '.join(map(str, others))})" if others else "",
                             f"workloads with another unit ({', '.join(other)}: their own charts)"
                             if other else "", dropped])

    def by_x(self, host, rows, xcol, ycol, title, xtitle, ytitle, log_x=True, left=()):
        """One line per scheme of median ycol against a numeric xcol, at the
        highest thread count of the rows."""
        go = self.go
        fig = go.Figure()
        tmax = max(r["threads"] for r in rows)
        others = sorted({r["threads"] for r in rows} - {tmax})
        rows = [r for r in rows if r["threads"] == tmax]

        def score(b):
            st = stats_of([r[ycol] for r in rows if r["backend"] == b])
            return st[0] if st else None
        kept, refs, dropped = self.shown({r["backend"] for r in rows}, score)
        for b in kept + refs:
            by_x = {}
            for r in rows:
                if r["backend"] != b:
                    continue
                x, y = to_float(r.get(xcol)), to_float(r.get(ycol))
                if x is not None and y is not None:
                    by_x.setdefault(x, []).append(y)
            if not by_x:
                continue
            xs = sorted(by_x)
            st = [stats_of(by_x[x]) for x in xs]
            few = any(x[3] < 3 for x in st)
            fig.add_trace(go.Scatter(
                x=xs, y=[s[0] for s in st], mode="lines+markers",
                name=f"reference: {b} (not a scheme)" if b in refs else b, legendgroup=b,
                line={"color": self.color.get(b)}, meta={"backend": b, "host": host.label},
                error_y=None if few else {"type": "data", "symmetric": False,
                                          "array": [s[2] - s[0] for s in st],
                                          "arrayminus": [s[0] - s[1] for s in st]},
                hovertemplate=f"{ptext(b)}<br>{ptext(xtitle)} %{{x}}: %{{y:.4g}}<extra></extra>"))
        fig.update_xaxes(title=xtitle, type="log" if log_x else "linear")
        fig.update_yaxes(title=ytitle, type="log")
        return self.html(fig, f"{host.label}: {title} at {tmax} threads", left_out=list(left) + [
            f"other thread counts ({', '.join(map(str, others))}: report.md's churn chart has 1 "
            f"thread)" if others else "", dropped])

    def latency_bars(self, host, rows, title, unit, left=()):
        """p50/p99/p99.9/max per scheme (medians over repetitions), grouped;
        the rows that are not schemes as reference bars, apart."""
        go = self.go
        fig = go.Figure()
        cols = [c for c in LATENCY_COLUMNS if any(to_float(r.get(c)) is not None for r in rows)]

        def score(b):
            st = stats_of([to_float(r.get(cols[-1])) for r in rows if r["backend"] == b])
            return st[0] if st else None
        kept, refs, dropped = self.shown({r["backend"] for r in rows}, score)
        for b in kept + refs:
            rs = [r for r in rows if r["backend"] == b]
            ys = []
            for c in cols:
                st = stats_of([to_float(r.get(c)) for r in rs])
                ys.append(st[0] if st else None)
            ref = b in refs
            fig.add_trace(go.Bar(x=[c.replace("lat_", "").replace("_ns", "") for c in cols],
                                 y=ys, name=f"reference: {b} (not a scheme)" if ref else b,
                                 legendgroup=b,
                                 marker={"color": "#bbb" if ref else self.color.get(b)},
                                 meta={"backend": b, "host": host.label},
                                 hovertemplate=f"{ptext(b)} %{{x}}: %{{y:.4g}} ns<extra></extra>"))
        fig.update_layout(barmode="group")
        fig.update_yaxes(type="log", title=f"{unit} (median over repetitions)")
        return self.html(fig, f"{host.label}: {title}", left_out=list(left) + [dropped])

    def cross_host_norm(self, hosts, cat_names):
        """norm (ns/op over the host's own floor) at each host's highest thread
        count: one bar group per backend, one colour per host, per workload."""
        go = self.go
        out = []
        for w in cat_names:
            fig = go.Figure()
            for h in hosts:
                rows = [r for r in h.benches if cat_label(cat_of(h, r)) == w]
                if not rows:
                    continue
                tmax = max(r["threads"] for r in rows)
                by_b = {}
                for r in rows:
                    if r["threads"] == tmax and r["norm"] is not None:
                        by_b.setdefault(r["backend"], []).append(r["norm"])
                if not by_b:  # no norm here (no matching floor): nothing to draw
                    continue
                bs = names.ordered(by_b, names.backend_order())
                st = [stats_of(by_b[b]) for b in bs]
                fig.add_trace(go.Bar(
                    x=bs, y=[s[0] for s in st], name=f"{h.label} @{tmax}",
                    meta={"host": h.label},
                    error_y={"type": "data", "symmetric": False,
                             "array": [s[2] - s[0] for s in st],
                             "arrayminus": [s[0] - s[1] for s in st]},
                    hovertemplate=f"{ptext(h.label)}<br>%{{x}}: %{{y:.3g}}× its floor<extra></extra>"))
            if not fig.data:
                continue
            fig.update_layout(barmode="group", legend={"title": {"text": "host @threads"}})
            fig.update_yaxes(type="log", title="× the host's own floor (norm)")
            out.append(self.html(fig, f"all hosts: {w}, normalised to each host's floors"))
        return out


def to_float(text):
    if text is None:
        return None
    if isinstance(text, (int, float)):
        return float(text)
    try:
        v = float(str(text).strip())
    except ValueError:
        return None
    return v if math.isfinite(v) else None


_CAT_CACHE = {}


def cat_of(host, row):
    """The category (workload, cfg) a row belongs to in its host."""
    key = id(host)
    if key not in _CAT_CACHE:
        _CAT_CACHE[key] = {id(r): cat for cat, rows in categories(host).items() for r in rows}
    return _CAT_CACHE[key][id(row)]


def latency_rows(host, workloads):
    """Rows of these workloads at their highest thread count that carry the
    tail-latency columns."""
    rows = [r for r in host.benches if r["workload"] in workloads and
            any(to_float(r.get(c)) is not None for c in LATENCY_COLUMNS)]
    if not rows:
        return []
    tmax = max(r["threads"] for r in rows)
    return [r for r in rows if r["threads"] == tmax]


def script_json(obj):
    """obj as JSON that is safe inside any HTML element, a <script> block
    included: '<', '>', '&', U+2028 and U+2029 written as \\u escapes, so no
    string in it can close the block, open a comment or end a JS line.
    Done here, whatever the plotting library does with its own output."""
    try:
        from plotly.utils import PlotlyJSONEncoder as encoder
    except ImportError:
        encoder = json.JSONEncoder
    text = json.dumps(obj, cls=encoder, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# Keys whose strings are not shown as plotly text: the hover templates are
# written here with ptext() around every name from data, and meta carries
# the raw names the filter compares.
PLOTLY_RAW_KEYS = ("hovertemplate", "meta")


def ptext(text):
    """A string from data for plotly's text (titles, names, ticks, hover),
    which reads a few HTML tags (<a href>, <b>, <br>) and entities: every
    '&', '<', '>' made an entity, so a name shows as written, never as a link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plotly_text(obj, key=None):
    """obj with ptext() applied to every string, except under PLOTLY_RAW_KEYS."""
    if key in PLOTLY_RAW_KEYS:
        return obj
    if isinstance(obj, str):
        return ptext(obj)
    if isinstance(obj, dict):
        return {k: plotly_text(v, k) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plotly_text(v, key) for v in obj]
    return obj


def chart_html(fig, n, height, left_out=""):
    """One chart: its div and its figure as a JSON data block (type
    application/json: never run, read by the page's own script), so every
    inline script of the page is the template's and plotly.js, which the
    Content-Security-Policy names by hash."""
    whole = fig.to_plotly_json()
    spec = {"data": plotly_text(whole.get("data", [])),
            "layout": plotly_text(whole.get("layout", {})), "config": PLOTLY_CONFIG}
    return (f'<div class="chart"><div id="kb-chart-{n}" class="kb-chart" '
            f'style="height:{int(height)}px;width:100%"></div>'
            f'<script type="application/json" class="kb-chart-data" data-for="kb-chart-{n}">'
            f"{script_json(spec)}</script>"
            + (f'<p class="left-out">{esc(left_out)}</p>' if left_out else "") + "</div>")


# ---------------------------------------------------------------- matplotlib (report.md)

def md_charts(hosts, out_dir, protect):
    """PNG + SVG for report.md: charts.py's charts per host (one module
    draws the throughput and ns/op charts), and the churn, latency and
    cross-host charts drawn here. Returns {host label: [(title, stem)]}."""
    from . import charts as P
    charts = {}
    for h in hosts:
        sub = safe_name(h.label) if len(hosts) > 1 else ""
        if sub and (sub in ("report.html", "report.md") or sub.startswith("hosts-norm") or
                    (os.path.lexists(os.path.join(out_dir, sub)) and
                     not os.path.isdir(os.path.join(out_dir, sub)))):
            sub = safe_name(h.label + "\0")   # the label's hash tells it from the report's files
        d = outputs.subdir(out_dir, sub) if sub else out_dir
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                _, files = P.render_results(h.res, h.meta, d)
        except (P.WriteError, P.InputError) as e:
            raise WriteError(str(e))
        stems = []
        for f in files:
            if f.endswith(".png"):
                rel = os.path.relpath(os.path.splitext(f)[0], out_dir)
                stems.append((os.path.basename(rel).replace("-", " "), rel))
        stems += extra_md_charts(h, d, out_dir, protect)
        charts[h.label] = stems
    if len(hosts) > 1:
        charts[""] = cross_host_md_chart(hosts, out_dir, protect)
    return charts


def _plt():
    import matplotlib
    # A name from data may hold characters no font has: matplotlib would warn
    # with the raw character (an ESC on the terminal); the chart shows a box.
    warnings.filterwarnings("ignore", message="Glyph .* missing from")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    matplotlib.rcParams.update({"text.parse_math": False, "svg.fonttype": "none", "svg.hashsalt": "krefbench",
                                "axes.grid": True, "grid.alpha": 0.3, "font.size": 9})
    return plt


def save(plt, fig, d, name, out_dir, protect):
    from .charts import chart_facts
    facts = json.dumps(chart_facts(fig), ensure_ascii=False)
    for ext in ("png", "svg"):
        path = os.path.join(d, f"{name}.{ext}")
        with outputs.created(path, "wb", protect) as f:
            fig.savefig(f, format=ext, dpi=110, bbox_inches="tight",
                        metadata={"Software": None} if ext == "png" else
                        {"Date": None, "Description": facts})
    plt.close(fig)
    return os.path.relpath(os.path.join(d, name), out_dir)


def unclean(h, workloads, threads=None):
    """Backends measured in these workloads (at these threads) without a
    clean repetition: the charts draw clean repetitions only, so they name
    these instead of dropping them silently."""
    have = {r["backend"] for r in h.benches if r["workload"] in workloads and
            (threads is None or r["threads"] == threads)}
    measured = {k[0] for k in h.res.measured if k[1] in workloads and
                (threads is None or k[2] == threads) and k[0] != R.FLOOR_BACKEND}
    return names.ordered(measured - have, names.backend_order())


def unclean_text(h, workloads, threads=None, where="the decision tables (figures marked ~)"):
    missing = unclean(h, workloads, threads)
    if not missing:
        return ""
    deferred = [b for b in missing if "deferred_release" in names.backend_flags().get(b, set())
                and "release_latency" in workloads]
    why = (f" ({', '.join(deferred)} release after an RCU grace period: the call_rcu thread "
           f"disturbs their repetitions)" if deferred else "")
    return f"{', '.join(missing)}: no clean repetition{why}; see {where}"


def chart_threads(rows):
    """The thread counts a chart shows: 1 and the highest."""
    ts = sorted({r["threads"] for r in rows})
    return [ts[0]] + ([ts[-1]] if ts[-1] != ts[0] else []), ts


def extra_md_charts(h, d, out_dir, protect):
    from .charts import (MAX_SERIES, caption, keep_best, left_out_text, split_schemes,
                         _plain_log_ticks)
    plt = _plt()
    out = []
    churn = [r for r in h.benches if r["workload"] == "churn"]
    if churn and USES_COLUMN in h.res.columns:
        shown, every = chart_threads(churn)
        fig, axes = plt.subplots(1, len(shown), figsize=(5.5 * len(shown) + 2, 4.5), squeeze=False,
                                 sharey=True)
        schemes, _ = split_schemes(names.ordered({r["backend"] for r in churn}, names.backend_order()))
        top = [r for r in churn if r["threads"] == shown[-1]]

        def score(b):
            st = stats_of([r["ns_per_op"] for r in top if r["backend"] == b])
            return st[0] if st else None
        kept, dropped = keep_best(schemes, score)
        for ax, t in zip(axes[0], shown):
            for b in kept:
                by_x = {}
                for r in churn:
                    x = to_float(r.get(USES_COLUMN))
                    if r["backend"] == b and r["threads"] == t and x is not None:
                        by_x.setdefault(x, []).append(r["ns_per_op"])
                xs = sorted(by_x)
                if xs:
                    st = [stats_of(by_x[x]) for x in xs]
                    few = any(s_[3] < 3 for s_ in st)
                    ax.errorbar(xs, [s_[0] for s_ in st],
                                yerr=None if few else [[s_[0] - s_[1] for s_ in st],
                                                       [s_[2] - s_[0] for s_ in st]],
                                label=b, marker="o", capsize=2)
            ax.set_xscale("log")
            ax.set_yscale("log")
            _plain_log_ticks(ax)
            ax.set_xlabel("uses per lifetime")
            ax.set_title(f"{t} thread{'s' if t != 1 else ''}", fontsize=9)
        axes[0][0].set_ylabel("ns per object lifetime (median, whiskers min–max)")
        axes[0][-1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1), title="scheme")
        fig.suptitle(f"{h.label}: churn — ns per object lifetime against its uses, at "
                     f"{' and '.join(map(str, shown))} thread(s)")
        others = [t for t in every if t not in shown]
        caption(fig, left_out_text([
            f"thread counts {', '.join(map(str, others))} (the report's tables)" if others else "",
            unclean_text(h, ("churn",)),
            f"{len(dropped)} slower scheme(s) beyond {MAX_SERIES}: {', '.join(dropped)}" if dropped else ""]))
        out.append(("churn vs uses", save(plt, fig, d, "churn-uses", out_dir, protect)))
    for name, workload, title, unit in (
            ("tail-latency", "hammer", "tail latency of single get+put pairs (hammer)",
             "ns per get+put pair"),
            ("release-latency", "release_latency", "release latency: last put (or kill) to release()",
             "ns from the last put (or kill) to release()")):
        rows = latency_rows(h, (workload,))
        if not rows:
            continue
        t = rows[0]["threads"]
        cols = [c for c in LATENCY_COLUMNS if any(to_float(r.get(c)) is not None for r in rows)]
        schemes, refs = split_schemes(names.ordered({r["backend"] for r in rows}, names.backend_order()))

        def score(b):
            st = stats_of([to_float(r.get(cols[-1])) for r in rows if r["backend"] == b])
            return st[0] if st else None
        kept, dropped = keep_best(schemes, score)
        fig, ax = plt.subplots(figsize=(8, 4.5))
        width = 0.8 / max(1, len(kept))
        for bi, b in enumerate(kept):
            ys = []
            for c in cols:
                st = stats_of([to_float(r.get(c)) for r in rows if r["backend"] == b])
                ys.append(st[0] if st else 0)
            ax.bar([i - 0.4 + width * (bi + 0.5) for i in range(len(cols))], ys,
                   width * 0.92, label=b)
        for b in refs:
            for i, c in enumerate(cols):
                st = stats_of([to_float(r.get(c)) for r in rows if r["backend"] == b])
                if st:
                    ax.hlines(st[0], i - 0.45, i + 0.45, colors="0.1", linestyles=":",
                              label=f"reference: {b} (not a scheme: the clock read)" if i == 0 else None)
        ax.set_xticks(range(len(cols)))
        ax.set_xticklabels([c.replace("lat_", "").replace("_ns", "") for c in cols])
        ax.set_yscale("log")
        _plain_log_ticks(ax)
        ax.set_ylabel(f"{unit} (median over repetitions)")
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1), title="scheme")
        ax.set_title(f"{h.label}: {title} @{t} threads")
        every = sorted({r["threads"] for r in h.benches if r["workload"] == workload})
        others = [x for x in every if x != t]
        caption(fig, left_out_text([
            f"other thread counts ({', '.join(map(str, others))})" if others else "",
            "lookup_rcu's tail latencies (ns per lookup: the lookup-mostly table)"
            if workload == "hammer" and any(r["workload"] == "lookup_rcu" for r in h.benches) else "",
            unclean_text(h, (workload,), t, "the short-lived object's table, release p50/p99 (marked ~)"
                         if workload == "release_latency" else "the decision tables (figures marked ~)"),
            f"{len(dropped)} scheme(s) beyond {MAX_SERIES} with the longest tails: {', '.join(dropped)}"
            if dropped else ""]))
        out.append((title, save(plt, fig, d, name, out_dir, protect)))
    return out


def cross_host_md_chart(hosts, out_dir, protect):
    """norm at each host's highest thread count, hammer and private (or the
    first workloads all hosts share): bars per backend, one colour per host."""
    plt = _plt()
    shared = set.intersection(*[{r["workload"] for r in h.benches} for h in hosts])
    workloads = [w for w in names.ordered(shared, names.workload_order())][:2]
    out = []
    for w in workloads:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        backends = names.ordered({r["backend"] for h in hosts for r in h.benches
                            if r["workload"] == w and r["norm"] is not None}, names.backend_order())
        if not backends:
            plt.close(fig)
            continue
        width = 0.8 / len(hosts)
        for hi, h in enumerate(hosts):
            rows = [r for r in h.benches if r["workload"] == w and r["norm"] is not None]
            if not rows:
                continue
            tmax = max(r["threads"] for r in rows)
            st = [stats_of([r["norm"] for r in rows if r["backend"] == b and r["threads"] == tmax])
                  for b in backends]
            xs = [i - 0.4 + width * (hi + 0.5) for i in range(len(backends))]
            ax.bar([x for x, s in zip(xs, st) if s], [s[0] for s in st if s], width * 0.92,
                   yerr=[[s[0] - s[1] for s in st if s], [s[2] - s[0] for s in st if s]],
                   capsize=2, label=f"{h.label} @{tmax}")
        ax.set_xticks(range(len(backends)))
        ax.set_xticklabels(backends, rotation=30)
        ax.set_yscale("log")
        ax.set_ylabel("× the host's own floor (norm)")
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
        ax.set_title(f"all hosts: {w}, each normalised to its own floors")
        out.append((f"all hosts, {w}", save(plt, fig, out_dir, f"hosts-norm-{safe_name(w)}",
                                             out_dir, protect)))
    return out


# ---------------------------------------------------------------- the document

class Doc:
    """The report written twice at once: HTML body and Markdown."""

    def __init__(self):
        self.html, self.md = [], []

    def h(self, level, text, anchor=None, attrs=""):
        a = f' id="{esc(anchor)}"' if anchor else ""
        self.html.append(f"<h{level}{a}{attrs}>{esc(text)}</h{level}>")
        self.md.append(f"\n{'#' * level} {md_text(text)}\n")

    def p(self, text, cls=None):
        c = f' class="{cls}"' if cls else ""
        self.html.append(f"<p{c}>{esc(text)}</p>")
        self.md.append(f"{'**' + md_text(text) + '**' if cls == 'warn' else md_text(text)}\n")

    def code(self, text):
        self.html.append(f"<pre><code>{esc(text)}</code></pre>")
        self.md.append(md_code(text))

    def table(self, columns, rows, table_id=None, backend_col=None, host_col=None, cls=None):
        tid = f' id="{esc(table_id)}"' if table_id else ""
        c = f' class="{cls}"' if cls else ""
        out = [f'<div class="table-scroll"><table{tid}{c}><thead><tr>' +
               "".join(f"<th>{esc(x)}</th>" for x in columns) + "</tr></thead><tbody>"]
        for row in rows:
            attrs = ""
            if backend_col is not None:
                attrs += f' data-backend="{esc(row[backend_col])}"'
            if host_col is not None:
                attrs += f' data-host="{esc(row[host_col])}"'
            out.append(f"<tr{attrs}>" + "".join(f"<td>{esc(x)}</td>" for x in row) + "</tr>")
        out.append("</tbody></table></div>")
        self.html.append("".join(out))
        self.md.append("| " + " | ".join(md_cell(x) for x in columns) + " |")
        self.md.append("|" + "---|" * len(columns))
        for row in rows:
            self.md.append("| " + " | ".join(md_cell(x) for x in row) + " |")
        self.md.append("")

    def raw_html(self, text):
        self.html.append(text)

    def md_image(self, title, stem):
        self.md.append(f"![{md_text(title)}]({stem}.png) ([svg]({stem}.svg))\n")

    def section(self, host=None):
        attr = f' data-host="{esc(host)}"' if host is not None else ""
        self.html.append(f'<section{attr}>')

    def end_section(self):
        self.html.append("</section>")


def env_rows(hosts):
    rows = []
    for key, name in ENV_FIELDS:
        vals = [h.meta.get(key) for h in hosts]
        if all(v in (None, "") for v in vals):
            continue
        rows.append([name] + ["–" if v in (None, "") else str(v) for v in vals])
    pmu = [h.meta.get("perf_events", {}).get("hardware_pmu") if isinstance(
        h.meta.get("perf_events"), dict) else None for h in hosts]
    if any(v is not None for v in pmu):
        rows.append(["hardware PMU"] + ["yes" if v else ("no" if v is not None else "–")
                                        for v in pmu])
    rows.append(["results file"] + [h.path for h in hosts])
    return rows


# What krefbench itself writes: its argv joined by spaces (bench/output.c),
# the binary's path first; no argument it accepts holds a character that a
# shell would read (they are names, numbers, lists and paths). A commit is
# git's hex, "-dirty" when the tree had changes.
COMMAND_WORD = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
COMMIT = re.compile(r"[0-9a-f]{7,64}(-dirty)?")


def reproduce_lines(h):
    """(the recorded command, the lines to type, problems): each line is
    printed only if the sidecar's value has the shape krefbench writes, and
    every word is shell-quoted; problems say which value looks tampered with."""
    cmd = h.meta.get("command_line")
    commit = str(h.meta.get("git_commit") or "").strip()
    lines, problems = [], []
    if commit and commit != "unknown":
        if not COMMIT.fullmatch(commit):
            problems.append("the sidecar's git_commit is not a commit id krefbench writes "
                            "(it looks tampered with), so no checkout line is given")
        else:
            sha = commit[:-len("-dirty")] if commit.endswith("-dirty") else commit
            lines.append(f"git checkout {shlex.quote(sha)}" +
                         ("   # the run's tree had uncommitted changes: "
                          "this is its base, not exactly what ran" if sha != commit else ""))
    if cmd is not None:
        words = str(cmd).split(" ")
        if not (isinstance(cmd, str) and words and
                os.path.basename(words[0]) == "krefbench" and
                all(COMMAND_WORD.fullmatch(w) for w in words)):
            problems.append("the sidecar's command_line is not one krefbench writes (it holds "
                            "characters a shell would read, or does not start with the "
                            "krefbench binary): it looks tampered with, so it is not shown "
                            "as a command")
            return None, lines, problems
        drop = {"--results-dir", "--print-path-to", "--out"}
        kept, skip = [], False
        for a in words[1:]:
            if skip:
                skip = False
                continue
            if a in drop:
                skip = True
                continue
            if any(a.startswith(d + "=") for d in drop):
                continue
            kept.append(a)
        cmd = " ".join(shlex.quote(w) for w in words)
        lines.append("./run.sh bench " + " ".join(shlex.quote(a) for a in kept))
    return cmd, lines, problems


def decisions(doc, h):
    """The decision sections of one host, rendered."""
    sections, note = decision_sections(h)
    doc.h(3, "Which scheme for which object life")
    if note:
        doc.p(note, cls="note")
    for s in sections:
        doc.h(4, s["title"])
        if s["answer"]:
            doc.p(s["answer"], cls="answer")
        if s["columns"] and s["rows"]:
            doc.table(s["columns"], [[fmt_cell(c) for c in row] for row in s["rows"]],
                      cls="decision", backend_col=0 if s["columns"][0] == "backend" else None)
        for n in s["notes"]:
            doc.p(n, cls="note")


def host_sections(doc, charts, h, multi, md_chart_list):
    doc.section(h.label)
    doc.h(2, f"{h.label}" if multi else "The answer on this machine", anchor=f"host-{safe_name(h.label)}")
    decisions(doc, h)
    # Where each scheme wins (lowest median ns/op).
    doc.h(3, "Where each scheme wins (lowest median ns/op)")
    rows = []
    for e in wins(h):
        rows.append([cat_label(e["cat"]), e["threads"], e["ranked"][0][0], win_text(e),
                     len(e["ranked"])])
    doc.table(["workload", "threads", "winner", "median (range, n); runner-up", "backends"],
              rows, table_id=f"wins-{safe_name(h.label)}", cls="wins", backend_col=2)
    # Health of the run.
    doc.h(3, "Self-checks and disturbance")
    res = h.res
    ok = res.n_rows - res.skipped_check
    doc.p(f"Self-checks: {ok} of {res.n_rows} rows ok" +
          (", every one" if not res.skipped_check else f", {res.skipped_check} failed") + ".",
          cls=None if not res.skipped_check else "warn")
    if h.failed_checks:
        counted = {}
        for f in h.failed_checks:
            counted[f] = counted.get(f, 0) + 1
        doc.table(["backend", "workload", "threads", "check", "rows"],
                  [list(f) + [n] for f, n in counted.items()], backend_col=0)
    dist = res.dropped_text() or f"no disturbed repetitions (of {res.attempts} attempts)"
    doc.p(f"Disturbed repetitions: {dist}. Figures use clean repetitions only.",
          cls="warn" if res.mostly_disturbed else None)
    if res.mostly_disturbed:
        doc.p("MOST REPETITIONS WERE DISTURBED: the machine was busy; figures rest on the "
              "few clean ones.", cls="warn")
    # Charts.
    doc.h(3, "Charts")
    cats = categories(h)
    for cat, rows_ in cats.items():
        doc.raw_html(charts.throughput(h, cat, rows_, [unclean_text(h, (cat[0],))]))
    doc.raw_html(charts.nsop_boxes(h, cats, [unclean_text(h, {c[0] for c in cats})]))
    churn = [r for r in h.benches if r["workload"] == "churn"]
    missing = []
    if churn and USES_COLUMN in h.res.columns:
        doc.raw_html(charts.by_x(h, churn, USES_COLUMN, "ns_per_op",
                                 "churn — ns per object lifetime against uses",
                                 "uses per lifetime", "ns per object lifetime",
                                 left=[unclean_text(h, ("churn",))]))
    else:
        missing.append("churn vs uses (no `churn` rows" +
                       ("" if not churn else f" with a `{USES_COLUMN}` column") + ")")
    tail = latency_rows(h, ("hammer",))
    if tail:
        t = tail[0]["threads"]
        doc.raw_html(charts.latency_bars(
            h, tail, f"tail latency of single get+put pairs (hammer) @{t} threads",
            "ns per get+put pair", [
                "lookup_rcu's tail latencies (ns per lookup: the lookup-mostly table)"
                if any(r["workload"] == "lookup_rcu" for r in h.benches) else "",
                "other thread counts" if len({r["threads"] for r in h.benches
                                              if r["workload"] == "hammer"}) > 1 else "",
                unclean_text(h, ("hammer",), t)]))
    else:
        missing.append("tail latency (no `lat_p99_ns` figures for hammer)")
    rel = latency_rows(h, ("release_latency",))
    rel_rows = [r for r in h.benches if r["workload"] == "release_latency"]
    if rel:
        t = rel[0]["threads"]
        doc.raw_html(charts.latency_bars(
            h, rel, f"release latency: last put (or kill) to release() @{t} threads",
            "ns from the last put (or kill) to release()", [
                "other thread counts" if len({r["threads"] for r in rel_rows}) > 1 else "",
                unclean_text(h, ("release_latency",), t,
                             "the short-lived object's table, release p50/p99 (marked ~)")]))
    elif rel_rows:
        doc.raw_html(charts.by_x(h, rel_rows, "threads", "ns_per_op", "release_latency",
                                 "threads", "ns per object release", log_x=False))
    else:
        missing.append("release latency (no `release_latency` rows)")
    if missing:
        doc.p("This run has no " + "; no ".join(missing) + ".", cls="note")
    for title, stem in md_chart_list:
        doc.md_image(title, stem)
    # Reproduce.
    doc.h(3, "How to reproduce")
    cmd, lines, problems = reproduce_lines(h)
    for problem in problems:
        doc.p(f"Not shown: {problem}.", cls="warn")
    if cmd:
        doc.p("The exact command of this run (sidecar command_line):")
        doc.code(str(cmd))
        doc.p("The same from a checkout of that commit:")
        doc.code("\n".join(lines))
    elif lines:
        doc.code("\n".join(lines))
    elif not problems:
        doc.p("The sidecar records no command line (no sidecar beside the CSV?).", cls="warn")
    doc.end_section()


def fmt_cell(c):
    if isinstance(c, float):
        return fmt_num(c)
    return "–" if c is None else str(c)


def cross_host(doc, charts, hosts, md_chart_list):
    doc.h(2, "All hosts side by side", anchor="hosts")
    doc.p("Each host is normalised to its own floors (norm: ns/op over the floor measured in "
          "the same round: uncontended at 1 thread and for private, shared above), so machines "
          "of different sizes compare on one scale. The cell names the scheme with the lowest "
          "median ns/op there, and its norm.")
    per_host = {h.label: {(cat_label(e["cat"]), "1" if e["threads"] == 1 else "max"): e
                          for e in wins(h)} for h in hosts}
    keys = []
    for h in hosts:
        for k in per_host[h.label]:
            if k not in keys:
                keys.append(k)
    rows = []
    for k in keys:
        cells = []
        winners = set()
        for h in hosts:
            e = per_host[h.label].get(k)
            if e:
                winners.add(e["ranked"][0][0])
                cells.append(f"{win_text(e, with_norm=True)} @{e['threads']}")
            else:
                cells.append("–")
        agree = "same everywhere" if len(winners) == 1 and "–" not in cells else \
            ("differs by host" if len(winners) > 1 else "")
        rows.append([k[0], "1 thread" if k[1] == "1" else "highest"] + cells + [agree])
    doc.table(["workload", "threads"] + [h.label for h in hosts] + ["winner"], rows,
              table_id="hosts-wins", cls="wins")
    cat_names = names.ordered({cat_label(c) for h in hosts for c in categories(h)}, ())
    cat_names = sorted(cat_names, key=lambda n: (names.workload_order().index(n.split(" ")[0])
                                                 if n.split(" ")[0] in names.workload_order() else 99, n))
    for frag in charts.cross_host_norm(hosts, cat_names):
        doc.raw_html(frag)
    for title, stem in md_chart_list:
        doc.md_image(title, stem)


def filter_html(backends, hosts):
    """The picker: the schemes, then apart the rows that are not schemes
    (names.not_schemes(): null, the read-side mechanisms), which the charts
    draw as reference lines and no table ranks."""
    ref = set(names.not_schemes())

    def box(b):
        return (f'<label><input type="checkbox" value="{esc(b)}" data-kind="backend" checked>'
                f"{esc(b)}</label>")
    boxes = "".join(box(b) for b in backends if b not in ref)
    refs = [b for b in backends if b in ref]
    if refs:
        boxes += ('<span class="refs"> · reference lines, not schemes: ' +
                  "".join(box(b) for b in refs) + "</span>")
    hb = ""
    if len(hosts) > 1:
        hb = "<br>hosts: " + "".join(
            f'<label><input type="checkbox" value="{esc(h)}" data-kind="host" checked>'
            f"{esc(h)}</label>" for h in hosts)
    return f'<div id="filter">show schemes: {boxes}{hb}</div>'


def page_script(template):
    """The text of the template's own inline script (the last <script> without
    attributes): what the Content-Security-Policy's second hash names."""
    start = template.rindex("<script>") + len("<script>")
    return template[start:template.index("</script>", start)]


def csp(*scripts):
    """The page's Content-Security-Policy: nothing loaded from anywhere, only
    the given inline scripts run (by SHA-256), inline styles (plotly sets
    them), images only as data: URLs (plotly's mode bar)."""
    hashes = " ".join("'sha256-%s'" % base64.b64encode(hashlib.sha256(
        s.encode("utf-8")).digest()).decode() for s in scripts)
    return ("default-src 'none'; script-src " + hashes + "; style-src 'unsafe-inline'; "
            "img-src data:; font-src data:; connect-src 'none'; object-src 'none'; "
            "base-uri 'none'; form-action 'none'; frame-src 'none'")


def write_files(out_dir, title, doc, protect, filters=""):
    try:
        import plotly.offline
        plotly_js = plotly.offline.get_plotlyjs()
    except ImportError as e:
        raise WriteError(f"plotly is not available ({e}); install python3-plotly")
    try:
        with open(TEMPLATE, encoding="utf-8") as f:
            template = f.read()
    except OSError as e:
        raise WriteError(f"cannot read the template {TEMPLATE}: {e.strerror or e}")
    plotly_js = plotly_js.replace("</script", "<\\/script")
    policy = csp(plotly_js, page_script(template))
    # One pass, so no placeholder spelled inside data is ever filled in.
    values = {"CSP": policy, "TITLE": esc(title), "FILTER": filters,
              "BODY": "\n".join(doc.html), "PLOTLYJS": plotly_js}
    page = re.sub(r"@(CSP|TITLE|FILTER|BODY|PLOTLYJS)@", lambda m: values[m.group(1)], template)
    md = f"# {md_text(title)}\n" + "\n".join(doc.md) + "\n"
    for name, text in (("report.html", page), ("report.md", md)):
        outputs.write_text(os.path.join(out_dir, name), text, protect)
    return os.path.join(out_dir, "report.html"), os.path.join(out_dir, "report.md")


def report_results(paths, out_dir, keep_going=False, notes=()):
    every = [Host(p, keep_going) for p in paths]
    unique_labels(every)
    hosts = [h for h in every if h.res is not None]
    unusable = [h for h in every if h.res is None]
    if out_dir is None:
        first = os.path.dirname(paths[0]) or "."
        if len(paths) == 1:
            out_dir = os.path.join(first, os.path.splitext(os.path.basename(paths[0]))[0] + "-report")
        else:
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            out_dir = os.path.join(first, f"report-{stamp}")
    prepare_out_dir(out_dir, "report")
    protect = protected(paths)
    backends = names.ordered({r["backend"] for h in hosts for r in h.benches}, names.backend_order())
    charts = Charts(backends)
    md_list = md_charts(hosts, out_dir, protect)
    doc = Doc()
    multi = len(every) > 1
    labels = ", ".join(h.label for h in every)
    title = f"krefbench: which scheme, on {labels}?"
    for n in notes:
        doc.p(n, cls="warn" if "FAILED" in n else None)
    for h in unusable:
        doc.p(f"{h.label}: NO USABLE RESULTS: {h.problem}", cls="warn")
    if not hosts:
        doc.p("No host has usable results, so there is nothing to rank or chart.", cls="warn")
    for h in every:
        what = ", ".join(str(h.meta[k]) for k in ("cpu_model", "topology", "kernel")
                         if h.meta.get(k))
        doc.p(f"{h.label}: {what or 'no sidecar: machine unknown'} "
              f"({os.path.basename(h.path)}; environment in full at the end).")
    doc.p(f"Written {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} "
          f"by bench/analysis/report.py from {len(every)} results file{'s' if len(every) > 1 else ''}. "
          "An op is one get+put pair (or one lookup); figures are medians of clean "
          "repetitions with their range and count; norm divides by a floor measured "
          "in the same round.")
    if len(hosts) > 1:
        cross_host(doc, charts, hosts, md_list.get("", []))
    for h in hosts:
        host_sections(doc, charts, h, multi, md_list.get(h.label, []))
    for h in unusable:
        # No clean repetition: no charts, but decide.py's sections from the
        # disturbed ones, each figure marked '~', as the run's summary shows them.
        doc.section(h.label)
        doc.h(2, f"{h.label}: no clean repetitions", anchor=f"host-{safe_name(h.label)}")
        doc.p(h.problem, cls="warn")
        decisions(doc, h)
        doc.end_section()
    doc.h(2, "Machines and environment", anchor="machines")
    doc.table(["", *[h.label for h in every]], env_rows(every), table_id="machines-table")
    html_path, md_path = write_files(out_dir, title, doc, protect,
                                     filter_html(backends, [h.label for h in hosts]))
    print(f"report: {charts.count} interactive charts, {len(hosts)} host(s) with usable results"
          + (f", {len(unusable)} without" if unusable else ""))
    return html_path, md_path


# ---------------------------------------------------------------- --compare

def report_compare(path_a, path_b, extra, out_dir):
    # compare as its own process (its exit status is part of the answer),
    # from this package wherever it is.
    cmd = [sys.executable, "-m", f"{__package__}.compare", path_a, path_b,
           *extra, "--format", "json"]
    top = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [top] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    try:
        doc_json = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        doc_json = None
    # Exit 2 is bad input (no JSON), or "could not tell" (its JSON says so):
    # the latter is a result to show.
    if proc.returncode not in (0, 1) and not (proc.returncode == 2 and doc_json
                                              and doc_json.get("exit") == 2):
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        raise InputError(lines[-1] if lines else f"compare.py exited {proc.returncode}")
    if doc_json is None:
        raise WriteError("compare.py printed no JSON")
    if out_dir is None:
        sa = os.path.splitext(os.path.basename(path_a))[0]
        sb = os.path.splitext(os.path.basename(path_b))[0]
        out_dir = os.path.join(os.path.dirname(path_b) or ".", f"{sa}-vs-{sb}-report")
    prepare_out_dir(out_dir, "report")
    protect = protected([path_a, path_b])
    stderr_lines = [l for l in proc.stderr.splitlines() if l.strip()]
    doc = Doc()
    a, b = doc_json["a"], doc_json["b"]
    c = doc_json["counts"]
    verdict = doc_json.get("result") or {
        1: "REGRESSION", 2: "UNDECIDED (too few repetitions to tell; see the notes)"}.get(
        doc_json["exit"], "no significant regression")
    title = (f"krefbench compare: {os.path.basename(path_a)} → {os.path.basename(path_b)}: "
             f"{verdict}")
    doc.p(f"A (baseline) {a['path']}, B (candidate) {b['path']}; {doc_json['analysis']} "
          f"analysis: {doc_json['test']}; threshold {doc_json['threshold_pct']:g}%, "
          f"alpha {doc_json['alpha']:g}, adjustment {doc_json['adjust']}.")
    doc.h(2, "Verdict", anchor="verdict")
    doc.table(["", "value"], [
        ["verdict", verdict], ["slower", c.get("slower", 0)], ["faster", c.get("faster", 0)],
        ["same", c.get("same", 0)], ["underpowered rows", doc_json["underpowered"]],
        ["geomean B/A (benchmarks)", fmt_ratio(doc_json["geomean"])],
        ["geomean B/A (floors: the machine)", fmt_ratio(doc_json["floor_geomean"])],
        ["disturbed attempts A / B", f"{a['disturbed_attempts']} of {a['attempts']} / "
                                     f"{b['disturbed_attempts']} of {b['attempts']}"]],
        table_id="verdict-table", cls="decision")
    for r in doc_json["regressions"]:
        doc.p(f"regression: {r}", cls="warn")
    for r in doc_json.get("differs", []):
        doc.p(f"differs (files of two runs: drift or change): {r}", cls="warn")
    for line in stderr_lines:
        doc.p(line, cls="note")
    go_charts = Charts(set())
    go = go_charts.go
    rows = doc_json["benchmarks"]
    colours = {"slower": "#d62728", "faster": "#2ca02c", "same": "#9e9e9e"}
    fig = go.Figure()
    for v in ("slower", "faster", "same"):
        rs = [r for r in rows if r["verdict"] == v]
        if not rs:
            continue
        err = {}
        if any(r.get("ci_low") is not None for r in rs):
            err = {"error_x": {"type": "data", "symmetric": False,
                               "array": [(r["ci_high"] or r["ratio"]) - r["ratio"] for r in rs],
                               "arrayminus": [r["ratio"] - (r["ci_low"] or r["ratio"]) for r in rs]}}
        fig.add_trace(go.Bar(x=[r["ratio"] for r in rs], y=[r["label"] for r in rs],
                             orientation="h", name=v, marker={"color": colours[v]},
                             meta={"backend": v}, legendgroup=v,
                             customdata=[[r["median_a"], r["median_b"], r["p"]] for r in rs],
                             hovertemplate=("%{y}<br>B/A %{x:.3f}<br>A %{customdata[0]:.4g} ns,"
                                            " B %{customdata[1]:.4g} ns<br>p %{customdata[2]:.3g}"
                                            "<extra></extra>"), **err))
    fig.add_vline(x=1.0, line_dash="dash")
    fig.update_xaxes(title="B/A of median ns/op (bars: 95% interval where paired)", type="log")
    fig.update_layout(legend={"title": {"text": "verdict"}})
    doc.h(2, "Ratios", anchor="ratios")
    doc.raw_html(go_charts.html(fig, "B/A per benchmark", height=max(400, 18 * len(rows) + 120)))
    stem = compare_md_chart(rows, out_dir, protect)
    doc.md_image("B/A per benchmark", stem)
    table = []
    for r in rows + doc_json["floors"]:
        ci = (f"{r['ci_low']:.3f}–{r['ci_high']:.3f}" if r.get("ci_low") is not None and
              r.get("ci_high") is not None else "–")
        table.append([r["label"], r["kind"], fmt_num(r["median_a"]), fmt_num(r["median_b"]),
                      f"{r['ratio']:.3f}", ci, f"{r['p']:.3g}" if r.get("p") is not None else "–",
                      f"{r['n_a']}/{r['n_b']}", r["verdict"] + ("*" if r.get("underpowered") else "")])
    doc.table(["benchmark", "kind", "A ns/op", "B ns/op", "B/A", "interval", "p", "n A/B",
               "verdict"], table, table_id="compare-table", cls="decision")
    doc.h(2, "How to reproduce", anchor="reproduce")
    doc.code(f"./run.sh compare {' '.join([path_a, path_b] + extra)}")
    write_files(out_dir, title, doc, protect)
    return os.path.join(out_dir, "report.html"), os.path.join(out_dir, "report.md"), doc_json["exit"]


def fmt_ratio(x):
    return "–" if x is None else f"{x:.3f}"


def compare_md_chart(rows, out_dir, protect):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, max(3, 0.22 * len(rows) + 1)))
    colours = {"slower": "#d62728", "faster": "#2ca02c", "same": "0.62"}
    ys = range(len(rows))
    ax.barh(list(ys), [r["ratio"] - 1 for r in rows], left=1,
            color=[colours.get(r["verdict"], "0.5") for r in rows])
    ax.set_yticks(list(ys))
    ax.set_yticklabels([r["label"] for r in rows], fontsize=7)
    ax.axvline(1.0, color="0.3", linestyle="--")
    ax.set_xlabel("B/A of median ns/op (red slower, green faster, grey same)")
    return save(plt, fig, out_dir, "compare-ratio", out_dir, protect)


# ---------------------------------------------------------------- CLI

def parse_args(argv):
    p = cli.Parser(prog="report.py", description="report.html + report.md from results files.")
    p.add_argument("results", nargs="*", metavar="RESULTS.csv")
    p.add_argument("--out", metavar="DIR")
    p.add_argument("--compare", nargs=2, metavar=("A.csv", "B.csv"))
    p.add_argument("--keep-going", action="store_true",
                   help="a file with nothing usable is named in the report, not an error")
    p.add_argument("--note", action="append", default=[],
                   help="a line to show under the title (bench/analysis/fleet.py: the command, failed hosts)")
    if "--compare" in argv:
        # --compare A B [--out DIR] [compare.py's options, passed on as given]
        i = argv.index("--compare")
        if len(argv) < i + 3 or argv[i + 1].startswith("-") or argv[i + 2].startswith("-"):
            raise InputError("--compare needs two results files: --compare A.csv B.csv")
        rest, extra, out = argv[:i] + argv[i + 3:], [], None
        j = 0
        while j < len(rest):
            if rest[j] == "--out":
                if j + 1 >= len(rest):
                    raise InputError("--out needs a directory")
                out, j = rest[j + 1], j + 2
                continue
            if rest[j].startswith("--out="):
                out = rest[j][len("--out="):]
            elif rest[j] in ("-h", "--help"):
                p.print_help()
                sys.exit(0)
            else:
                extra.append(rest[j])
            j += 1
        return argparse.Namespace(compare=argv[i + 1:i + 3], out=out, results=[],
                                  keep_going=False, note=[]), extra
    args, extra = p.parse_known_args(argv)
    if extra:
        raise InputError(f"unknown option(s): {' '.join(extra)} (see --help)")
    if not args.results:
        raise InputError("give RESULTS.csv [MORE.csv ...] or --compare A.csv B.csv")
    for path in args.results:
        if args.results.count(path) > 1:
            raise InputError(f"{path} is given twice")
    return args, []


def run(argv):
    args, extra = parse_args(argv)
    if args.compare:
        html_path, md_path, status = report_compare(args.compare[0], args.compare[1],
                                                    extra, args.out)
    else:
        html_path, md_path = report_results(args.results, args.out, args.keep_going,
                                            args.note)
        status = cli.EXIT_OK
    print(f"report: {html_path}")
    print(f"report: {md_path}")
    return status


def main(argv=None):
    return cli.guarded("report", lambda: run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
