#!/usr/bin/python3
"""Turn a krefbench results CSV into PNG and SVG charts.

    plots/plot.py RESULTS.csv [--out DIR]
    plots/plot.py --compare A.csv B.csv [--threshold PCT] [--alpha A]
                  [--adjust none|holm|bh] [--out DIR]

Charts (each written as .png and .svg):
  throughput-<workload>   the workload's ops per second (its op from the
                          binary's --list: get+put, lookup, object lifetime,
                          ...; median over reps) against threads, a panel per
                          configuration (variant, writer rate), one line per
                          scheme, log y; floors `shared` and `uncontended`
                          dashed grey, the rows that are not schemes (null,
                          the read-side mechanisms) dotted reference lines
  nsop-maxthreads         grouped bars: median ns per get+put at the run's
                          highest thread count, the get+put workloads only
                          (one unit); every floor a dashed grey line, null a
                          dotted reference tick
  norm-maxthreads         the same for `norm` (ns_per_op over the matching
                          floor); skipped when the file has no norm values

Every chart shows one unit, names its thread count(s), draws at most
MAX_SERIES (12) schemes (the fastest; the rest named) and says under it what
it left out (other units, thread counts, schemes, disturbed repetitions);
whiskers only from 3 or more repetitions. Its SVG's description holds those
facts as read from the figure (chart_facts(): tests/test_charts.py).
--quiet prints only the last line ("plots: N charts in DIR").

DIR defaults to <dir of CSV>/<stem>-plots. The sidecar <stem>.json, when
present, gives the title (cpu_model, topology, host).

--compare A B draws one chart instead, compare-ratio: B/A of the median ns per
op of the benchmarks the two files share (those whose verdict is slower or
faster, at most the 40 most changed, sorted by ratio; the caption counts the
rest), one horizontal bar each, coloured
by the verdict of bench/analysis/compare.py (same statistics, same --threshold and
--alpha and --adjust; red slower, green faster, grey same, hatched when too few
repetitions to reach alpha), a line at 1.0 and the threshold band shaded;
floors below, apart. DIR defaults to <dir of B>/<stem A>-vs-<stem B>-compare.

Exit status: 0 charts written; 2 bad input or bad arguments (one line on
stderr starting "plot: "); 1 the charts could not be written.

Layout of this file:
  load_results()   one CSV, parsed and validated by bench/analysis/results.py (the
                   loader compare.py uses too)          -> its Results
  load_sidecar()   the optional JSON beside it          -> dict
  series()/median_stats()  aggregation over repetitions
  draw_*()         one function per chart kind, each returns a Figure
  render_results() draws every chart of one Results into a directory
  render_compare() --compare: rows from bench/analysis/compare.py (its loader, U test
                   and verdicts: one definition) drawn by draw_compare()
  main()           argument handling and error reporting
"""

import argparse
import json
import math
import os
import statistics
import sys
import warnings

from . import cli, names, results as R
from .cli import InputError, WriteError
from .outputs import created, prepare_out_dir, protected, safe_name  # noqa: F401
from .results import config_label, config_of, median_stats, varying_config  # noqa: F401

# Columns that describe a configuration (as opposed to a measurement). When
# one of them takes several values for the same backend, workload and thread
# count, the series are kept apart and labelled; otherwise they are ignored.
CONFIG_COLUMNS = R.CONFIG_COLUMNS

FLOOR_BACKEND = R.FLOOR_BACKEND
# Floors overlaid on the throughput charts (ops/s reference).
THROUGHPUT_FLOORS = ("shared", "uncontended")
# The workloads whose charts show get+put per thread (the others have their own units).
CHARTED_WORKLOADS = ("hammer", "private", "spread", "handoff", "lookup_rcu", "lookup_mutex")
LOOKUP_WORKLOADS = ("lookup_rcu", "lookup_mutex")

FLOOR_STYLE = {  # grey shade and dash pattern per floor, all dashed
    "local": ("0.70", (2, 2)),
    "uncontended": ("0.55", (4, 2)),
    "shared": ("0.35", (7, 3)),
    "pingpong": ("0.15", (10, 3, 2, 3)),
}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
LINESTYLES = ("-", "--", "-.", ":")
# The reference lines (rows that are not schemes): dark grey, one pattern each.
REF_STYLES = (":", "-.", (0, (5, 2, 1, 2)), (0, (1, 4)), (0, (8, 2)))
# A chart shows at most this many schemes; beyond it, the ones left out are named in its caption.
MAX_SERIES = 12
# Legend labels of lines that are not series: floors, reference rows (not schemes), the 1.0 line.
REFERENCE_PREFIXES = ("floor", "reference", "=")


# ---------------------------------------------------------------- input

def load_results(path):
    """bench/analysis/results.py's validated Results (clean repetitions whose check is
    ok); plus what the charts need: at least one benchmark row. Raises
    InputError."""
    try:
        res = R.load(path, purpose="plot")
    except R.InputError as e:
        raise InputError(str(e))
    if not res.benches:
        raise InputError(f"{path}: only floor rows, no benchmark rows")
    # The loader keeps clean repetitions only; say what it left out (--quiet:
    # in one short line, the run's closing lines say the rest).
    if res.disturbed and QUIET:
        warn(f"charts from clean repetitions only ({res.disturbed} of {res.attempts} "
             f"attempts disturbed)")
        return res
    if res.disturbed:
        warn(f"{path}: charts from clean repetitions only: {res.dropped_text()}")
    if res.mostly_disturbed:
        warn(f"{path}: MOST REPETITIONS WERE DISTURBED: the machine was busy; the charts "
             f"rest on the few clean ones")
    return res


def load_sidecar(csv_path):
    """The optional <stem>.json beside the CSV; {} when absent or unusable."""
    _, meta, problem = R.load_sidecar(csv_path)
    if problem:
        warn(problem)
    return meta or {}


def chart_title(meta, csv_path):
    """'krefbench — <cpu_model> — <topology>' or the file name."""
    parts = [str(meta[k]).strip() for k in ("cpu_model", "topology")
             if isinstance(meta.get(k), (str, int, float)) and str(meta[k]).strip()]
    if not parts and isinstance(meta.get("host"), str) and meta["host"].strip():
        parts = [meta["host"].strip()]
    if not parts:
        parts = [os.path.basename(csv_path)]
    title = " — ".join(["krefbench"] + parts)
    if len(title) > 100 and len(parts) > 1:  # long topology: second line
        title = " — ".join(["krefbench"] + parts[:-1]) + "\n" + parts[-1]
    return title


# ---------------------------------------------------------------- aggregation

def series(rows, field, cfg_cols):
    """{(backend, cfg): {threads: median_stats}} for one workload's rows."""
    groups = {}
    for r in rows:
        key = (r["backend"], config_of(r, cfg_cols))
        groups.setdefault(key, {}).setdefault(r["threads"], []).append(r[field])
    out = {}
    for key, by_t in groups.items():
        stats = {t: median_stats(v) for t, v in by_t.items()}
        stats = {t: s for t, s in stats.items() if s is not None}
        if stats:
            out[key] = stats
    return out


def floor_series(floors, workload, field, placements):
    """{threads: median_stats} for one floor, restricted to the placements
    of the chart when floors were measured for them."""
    rows = [r for r in floors if r["workload"] == workload]
    if placements:
        same = [r for r in rows if r["placement"] in placements]
        rows = same or rows
    by_t = {}
    for r in rows:
        by_t.setdefault(r["threads"], []).append(r[field])
    stats = {t: median_stats(v) for t, v in by_t.items()}
    return {t: s for t, s in stats.items() if s is not None}


def category_key(row, cfg_cols):
    """A bar-chart category: the workload plus its varying config."""
    return (row["workload"], config_of(row, cfg_cols))


# ---------------------------------------------------------------- what a chart shows

def split_schemes(backends):
    """(schemes, reference rows): names.not_schemes() (null, the read-side
    mechanisms) are drawn apart as reference lines, never as series."""
    ref = set(names.not_schemes())
    return [b for b in backends if b not in ref], [b for b in backends if b in ref]


def keep_best(schemes, score):
    """(kept, left out): at most MAX_SERIES schemes, those with the lowest
    score (a cost; None last) kept, in the schemes' order."""
    if len(schemes) <= MAX_SERIES:
        return list(schemes), []
    best = sorted(schemes, key=lambda b: (score(b) is None, score(b) or 0))[:MAX_SERIES]
    return [b for b in schemes if b in best], [b for b in schemes if b not in best]


def left_out_text(parts):
    """The caption: what the chart left out, or that it left out nothing."""
    parts = [p for p in parts if p]
    return "left out: " + "; ".join(parts) if parts else "left out: nothing (every row of these benchmarks is drawn)"


def caption(fig, text):
    """The chart's 'left out' statement under it, and remembered for its SVG's
    description (chart_facts())."""
    import textwrap
    fig.text(0.01, 0.0, "\n".join(textwrap.wrap(text, 150)), ha="left", va="top", fontsize=7,
             color="0.25")
    fig.kb_left_out = text


def chart_facts(fig):
    """What a drawn chart shows, read from the figure itself: titles, the y
    units of its axes, its series (legend entries that are not reference
    lines: floors, not-scheme rows) and its caption. Written into each SVG's
    metadata; tests/test_charts.py checks them."""
    titles = [fig._suptitle.get_text()] if fig._suptitle else []
    units, series = {ax.get_ylabel() for ax in fig.axes if ax.get_visible() and ax.get_ylabel()}, 0
    if not units:   # horizontal bars (compare): the unit is on x
        units = {ax.get_xlabel() for ax in fig.axes if ax.get_visible() and ax.get_xlabel()}
    for ax in fig.axes:
        if ax.get_title():
            titles.append(ax.get_title())
        leg = ax.get_legend()
        if leg is not None:
            labels = [t.get_text() for t in leg.get_texts()]
            series = max(series, sum(1 for l in labels if not l.startswith(REFERENCE_PREFIXES)))
    for leg in fig.legends:
        labels = [t.get_text() for t in leg.get_texts()]
        series = max(series, sum(1 for l in labels if not l.startswith(REFERENCE_PREFIXES)))
    return {"title": " | ".join(titles), "units": sorted(units), "series": series,
            "left_out": getattr(fig, "kb_left_out", None)}


# ---------------------------------------------------------------- drawing

def setup_matplotlib():
    try:
        import matplotlib
        # A name from data may hold characters no font has: matplotlib would warn
        # with the raw character (an ESC on the terminal); the chart shows a box.
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker
    except ImportError as e:
        raise WriteError(f"matplotlib is not available ({e}); "
                         f"install python3-matplotlib")
    matplotlib.rcParams.update({
        "text.parse_math": False,    # a '$' in a name from data is a dollar sign, not TeX
        "svg.fonttype": "none",      # keep text as text in SVG
        "svg.hashsalt": "krefbench",  # stable element ids
        "axes.grid": True,
        "grid.alpha": 0.3,
        "font.size": 9,
    })
    return plt, ticker


def distinct_colors(n, matplotlib):
    """n different colours: tab10, then tab20's lighter halves, then hues
    spread by the golden angle (never a repeat, however many backends)."""
    tab10 = list(matplotlib.colormaps["tab10"].colors)
    lighter = list(matplotlib.colormaps["tab20"].colors)[1::2]
    base = tab10 + [c for c in lighter if c not in tab10]
    colors = base[:n]
    import colorsys
    for i in range(len(colors), n):
        h = (i * 0.618033988749895) % 1.0
        colors.append(colorsys.hsv_to_rgb(h, 0.75, 0.55 + 0.3 * (i % 2)))
    return colors


def distinct_markers(n):
    """n different markers: the named ones, then regular polygons and stars
    with ever more corners (matplotlib's (sides, style, angle) markers)."""
    markers = list(MARKERS[:n])
    sides = 5
    while len(markers) < n:
        for style in (0, 1, 2):		# polygon, star, asterisk
            if len(markers) < n:
                markers.append((sides, style, 0))
        sides += 1
    return markers


class Style:
    """Stable colour and marker per backend across every chart of a run."""

    def __init__(self, backends):
        import matplotlib
        order = names.ordered(backends, names.backend_order())
        self.color = dict(zip(order, distinct_colors(len(order), matplotlib)))
        self.marker = dict(zip(order, distinct_markers(len(order))))


def _thread_axis(ax, ticker, threads):
    threads = sorted(set(threads))
    if len(threads) > 1 and threads[-1] / threads[0] >= 8:
        ax.set_xscale("log", base=2)
    ax.set_xticks(threads)
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    if len(threads) == 1:
        ax.set_xlim(threads[0] - 1, threads[0] + 1)
    ax.set_xlabel("threads")


def _plain_log_ticks(ax):
    """Log-axis labels as plain numbers (math text is off: names from data
    may hold '$'), not '$\\mathdefault{10^{8}}$'."""
    from matplotlib import ticker
    fmt = ticker.FuncFormatter(lambda v, _: f"{v:.3g}")
    ax.yaxis.set_major_formatter(fmt)
    ax.yaxis.set_minor_formatter(ticker.FuncFormatter(lambda v, _: ""))


def _legend(ax, title=None):
    # Outside the axes, on the right: never covers a line or a bar.
    # Backends first, then the reference lines (floors).
    handles, labels = ax.get_legend_handles_labels()
    pairs = sorted(zip(handles, labels),
                   key=lambda hl: hl[1].startswith(REFERENCE_PREFIXES))
    ax.legend([h for h, _ in pairs], [l for _, l in pairs],
              loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
              fontsize="small", title=title, title_fontsize="small")


def _floor_line(ax, name, stats, label_suffix=""):
    color, dashes = FLOOR_STYLE.get(name, ("0.5", (5, 3)))
    ax.axhline(stats[0], color=color, linestyle="--", dashes=dashes,
               linewidth=1.2, label=f"floor: {name}{label_suffix}", zorder=1)


def draw_throughput(plt, ticker, style, title, workload, rows, floors, cfg_cols, left=()):
    """Total ops/s vs threads for one workload: a panel per configuration
    (variant, writer rate, ...), one line per scheme (at most MAX_SERIES,
    the fastest at the most threads), the rows that are not schemes and
    the floors as grey reference lines."""
    data = series(rows, "ops_per_s", cfg_cols)
    schemes, refs = split_schemes(names.ordered({b for b, _ in data}, names.backend_order()))
    cfgs = sorted({c for _, c in data})
    threads = {t for s in data.values() for t in s}
    lo, hi = min(threads), max(threads)

    def score(b):  # -ops/s at the most threads, the best configuration
        vals = [s[max(s)][0] for (bb, _), s in data.items() if bb == b]
        return -max(vals) if vals else None
    kept, dropped = keep_best(schemes, score)
    ncols = 1 if len(cfgs) == 1 else 2
    nrows = (len(cfgs) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(8 if ncols == 1 else 12, 5 if nrows == 1 else 3.6 * nrows),
                             squeeze=False, sharey=True)
    op = names.workload_op(workload)
    placements = {r["placement"] for r in rows}
    for ci, cfg in enumerate(cfgs):
        ax = axes[ci // ncols][ci % ncols]
        for b in kept + refs:
            s = data.get((b, cfg))
            if not s:
                continue
            ts = sorted(s)
            med = [s[t][0] for t in ts]
            if b in refs:
                ax.plot(ts, med, color="0.2", linestyle=REF_STYLES[refs.index(b) % len(REF_STYLES)],
                        linewidth=1.2, marker=".", label=f"reference: {b} (not a scheme)", zorder=2)
                continue
            err = [[s[t][0] - s[t][1] for t in ts], [s[t][2] - s[t][0] for t in ts]]
            few = all(s[t][3] < 3 for t in ts)     # no whiskers from fewer than 3 repetitions
            ax.errorbar(ts, med, yerr=None if few else err, label=b, color=style.color[b],
                        marker=style.marker[b], markersize=5, capsize=2, linewidth=1.5, zorder=3)
        for name in THROUGHPUT_FLOORS:
            fs = {t: v for t, v in floor_series(floors, name, "ops_per_s",
                                                placements).items() if lo <= t <= hi}
            if len(fs) > 1:
                ts = sorted(fs)
                color, dashes = FLOOR_STYLE[name]
                ax.plot(ts, [fs[t][0] for t in ts], color=color, linestyle="--",
                        dashes=dashes, linewidth=1.2, label=f"floor: {name}", zorder=1)
            elif len(fs) == 1:
                (t, st), = fs.items()
                _floor_line(ax, name, st, f" ({t} thr)")
        ax.set_yscale("log", nonpositive="mask")
        _plain_log_ticks(ax)
        _thread_axis(ax, ticker, threads)
        if ci % ncols == 0:
            ax.set_ylabel(f"{op} per second, all threads")
        if cfg:
            ax.set_title(config_label(cfg), fontsize=8)
    for ci in range(len(cfgs), nrows * ncols):
        axes[ci // ncols][ci % ncols].set_visible(False)
    where = f", placement {next(iter(placements))}" if len(placements) == 1 else ""
    fig.suptitle(f"{title}\nthroughput — workload {workload}{where}: {op} per second against "
                 f"threads (median of reps, whiskers min–max from 3 or more)", fontsize=10)
    handles, labels = {}, []
    for ax in fig.axes:
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in handles:
                handles[l] = h
                labels.append(l)
    labels.sort(key=lambda l: l.startswith(REFERENCE_PREFIXES))
    fig.legend([handles[l] for l in labels], labels, loc="upper left", bbox_to_anchor=(1.0, 0.9),
               fontsize="small", title="scheme", title_fontsize="small")
    fig.tight_layout()
    caption(fig, left_out_text(list(left) + [
        f"{len(dropped)} slower scheme(s) beyond {MAX_SERIES}: {', '.join(dropped)}" if dropped else ""]))
    return fig


def _maxthreads_table(rows, field, cfg_by_workload, threads):
    """Categories and {(category, backend): median_stats} at `threads`."""
    cats = {}
    for r in rows:
        if r["threads"] == threads:
            cats.setdefault(category_key(r, cfg_by_workload[r["workload"]]), []).append(r)
    order = names.ordered({w for w, _ in cats}, CHARTED_WORKLOADS)
    keys = sorted(cats, key=lambda k: (order.index(k[0]), k[1]))
    table = {}
    for k in keys:
        by_b = {}
        for r in cats[k]:
            by_b.setdefault(r["backend"], []).append(r[field])
        for b, vals in by_b.items():
            st = median_stats(vals)
            if st is not None:
                table[(k, b)] = st
    keys = [k for k in keys if any(kk == k for kk, _ in table)]
    return keys, table


def draw_maxthreads_bars(plt, style, title, rows, floors, field, cfg_by_workload,
                         ylabel, what, left=()):
    """Grouped bars of `field` at the highest thread count of the run, for
    the workloads whose op is a get+put (one unit); None if no data. The
    other workloads, the other thread counts, the schemes beyond
    MAX_SERIES are named in the caption; null is a reference tick."""
    unit_rows = [r for r in rows if names.workload_op(r["workload"]) == "get+put"]
    other = names.ordered({r["workload"] for r in rows} - {r["workload"] for r in unit_rows},
                          names.workload_order())
    if not unit_rows:
        return None
    t_all = max(r["threads"] for r in unit_rows)
    keys, table = _maxthreads_table(unit_rows, field, cfg_by_workload, t_all)
    if not table:
        return None
    fewer = names.ordered({r["workload"] for r in unit_rows} - {k[0] for k in keys},
                          names.workload_order())
    schemes, refs = split_schemes(names.ordered({b for _, b in table}, names.backend_order()))

    def score(b):
        vals = [st[0] for (k, bb), st in table.items() if bb == b]
        return statistics.median(vals) if vals else None
    kept, dropped = keep_best(schemes, score)
    nb = max(1, len(kept))
    width = 0.8 / nb
    fig_w = max(8.0, 2.5 + len(keys) * (0.25 * nb + 0.6))
    fig, ax = plt.subplots(figsize=(min(fig_w, 30.0), 5))
    for bi, b in enumerate(kept):
        xs, med, lo, hi, few = [], [], [], [], False
        for ki, k in enumerate(keys):
            st = table.get((k, b))
            if st is None:
                continue
            xs.append(ki - 0.4 + width * (bi + 0.5))
            med.append(st[0])
            lo.append(st[0] - st[1])
            hi.append(st[2] - st[0])
            few = few or st[3] < 3
        if xs:
            ax.bar(xs, med, width * 0.92, yerr=None if few else [lo, hi], label=b,
                   color=style.color[b], capsize=2, zorder=3, error_kw={"linewidth": 0.8})
    for b in refs:
        for ki, k in enumerate(keys):
            st = table.get((k, b))
            if st is not None:
                ax.hlines(st[0], ki - 0.45, ki + 0.45, colors="0.1", linestyles=":", linewidth=1.4,
                          zorder=4, label=f"reference: {b} (not a scheme)" if ki == keys.index(
                              next(kk for kk in keys if (kk, b) in table)) else None)
    labels = []
    for k in keys:
        lab = k[0]
        if k[1]:
            lab += "\n" + config_label(k[1], sep="\n")
        labels.append(lab)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels(labels)
    ax.set_xlim(-0.6, len(keys) - 0.4)
    ax.grid(False, axis="x")

    values = [v[0] for v in table.values()]
    if field == "ns_per_op":
        placements = {r["placement"] for r in unit_rows}
        for name in names.ordered({r["workload"] for r in floors}, names.floor_order()):
            fs = floor_series(floors, name, "ns_per_op", placements)
            if not fs:
                continue
            t = t_all if t_all in fs else max(fs)
            _floor_line(ax, name, fs[t], f" ({t} thr)")
            values.append(fs[t][0])
    elif field == "norm":
        ax.axhline(1.0, color="0.35", linestyle="--", dashes=(7, 3),
                   linewidth=1.2, label="= matching floor", zorder=1)
        values.append(1.0)
    positive = [v for v in values if v > 0]
    if positive and len(positive) == len(values) and max(positive) / min(positive) > 50:
        ax.set_yscale("log")
        _plain_log_ticks(ax)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{what} at {t_all} threads, per get+put (median of reps, whiskers min–max "
                 f"from 3 or more)", fontsize=9)
    fig.suptitle(title, fontsize=11)
    _legend(ax, "scheme")
    others = sorted({r["threads"] for r in unit_rows} - {t_all})
    caption(fig, left_out_text(list(left) + [
        f"other thread counts ({', '.join(map(str, others))}: the throughput charts)" if others else "",
        f"workloads not measured at {t_all} threads: {', '.join(fewer)}" if fewer else "",
        f"workloads with another unit ({', '.join(other)}: their throughput charts)" if other else "",
        f"{len(dropped)} slower scheme(s) beyond {MAX_SERIES}: {', '.join(dropped)}" if dropped else ""]))
    return fig


# ---------------------------------------------------------------- compare

VERDICT_COLOR = {"slower": "#d62728", "faster": "#2ca02c", "same": "0.62"}


def load_compare_module():
    """compare: one definition of the statistics and the verdicts."""
    from . import compare
    return compare


def compare_rows(cmp, path_a, path_b, threshold, alpha, adjust):
    """The comparison rows of bench/analysis/compare.py; InputError on bad input."""
    try:
        a = cmp.load_results(path_a)
        b = cmp.load_results(path_b)
        for w in a.warnings + b.warnings + cmp.sidecar_check(a, b)[0]:
            warn(w)
        rows = cmp.compare(a, b, threshold, alpha, adjust)
    except cmp.InputError as e:
        raise InputError(str(e))
    if not rows:
        raise InputError(f"no benchmark in common between {path_a} and {path_b}")
    return rows


# The compare chart's benchmark rows at most: the most changed ones.
MAX_COMPARE_ROWS = 40


def compare_shown(benches):
    """(rows to draw, the caption): the rows whose verdict is slower or
    faster, most changed first (|log ratio|), at most MAX_COMPARE_ROWS; the
    most changed 'same' rows only when no row changed. Drawn slowest on top."""
    changed = [r for r in benches if r["verdict"] != "same"]
    pool = changed or benches
    size = lambda r: abs(math.log(r["ratio"])) if r["ratio"] > 0 else math.inf
    shown = sorted(pool, key=size, reverse=True)[:MAX_COMPARE_ROWS]
    shown.sort(key=lambda r: -r["ratio"])
    same = sum(1 for r in benches if r["verdict"] == "same" and r not in shown)
    more = len(pool) - len(shown)
    parts = []
    if same and changed:
        parts.append(f"{same} benchmark(s) whose verdict is same (compare's text output lists them)")
    if more:
        parts.append(f"{more} less changed benchmark(s) beyond the {MAX_COMPARE_ROWS} most changed")
    return shown, left_out_text(parts)


def draw_compare(plt, cmp, title, subtitle, rows, threshold, alpha, adjust="none"):
    """Horizontal bars of B/A per benchmark, log x, coloured by verdict."""
    from matplotlib.patches import Patch
    benches, left_note = compare_shown([r for r in rows if r["kind"] != "floor"])
    floors = [r for r in rows if r["kind"] == "floor"]
    rows = benches + floors
    gap = 1 if benches and floors else 0
    pname = "p" if adjust == "none" else f"p_{adjust}"
    n = len(benches) + gap + len(floors)
    fig, ax = plt.subplots(figsize=(10, 1.8 + 0.24 * n), layout="constrained")
    ys, labels = [], []
    for i, r in enumerate(benches + floors):
        y = n - 1 - (i + (gap if r["kind"] == "floor" else 0))
        ys.append(y)
        labels.append(r["label"])
        color = VERDICT_COLOR[r["verdict"]]
        ax.barh(y, r["ratio"] - 1.0, left=1.0, height=0.7, color=color,
                alpha=0.55 if r["kind"] == "floor" else 1.0,
                hatch="///" if r["underpowered"] else None,
                edgecolor="0.25" if r["underpowered"] else color, linewidth=0.5, zorder=3)
        ax.text(max(r["ratio"], 1.0), y, f" ×{r['ratio']:.3f}  {pname}={cmp.fmt_p(r['p_adj'])}",
                va="center", ha="left", fontsize=7, zorder=4)
    lo = 1 - threshold / 100.0
    hi = 1 + threshold / 100.0
    ratios = [r["ratio"] for r in rows]
    left = min(ratios + [max(lo, 1e-3)])
    right = max(ratios + [hi])
    ax.set_xscale("log")
    # Room on the right for the text beside the longest bar.
    ax.set_xlim(left / 1.15, right * max(1.6, (right / left) ** 0.45))
    ax.axvspan(max(lo, 1e-9), hi, color="#fff2b3", zorder=0)
    ax.axvline(1.0, color="black", linewidth=1.0, zorder=2)
    if gap:
        ax.axhline(len(floors), color="0.5", linewidth=0.6,
                   linestyle=":", zorder=1)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_ylim(-0.7, n - 0.3)
    ax.grid(False, axis="y")
    ax.set_xlabel("B/A: median ns per op of B over A (log; > 1: B slower)")
    from matplotlib import ticker
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    if right / left < 20:   # within one decade: label the minor ticks too
        ax.xaxis.set_minor_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.tick_params(axis="x", which="minor", labelsize=7)
    geo = cmp.geomean(r["ratio"] for r in benches)
    geo_text = f"geomean {geo:.3f}" if geo is not None else "no benchmark rows"
    ax.set_title(f"{subtitle}\nB/A per benchmark, {geo_text} (floors excluded); verdict: "
                 f"beyond ±{threshold:g}% and Mann-Whitney {pname} < {alpha:g}"
                 + ("; floors (the machine) below the dotted line" if gap else ""),
                 fontsize=8)
    fig.suptitle(title, fontsize=10)
    caption(fig, left_note)
    handles = [Patch(color=VERDICT_COLOR[v], label=v) for v in ("slower", "faster", "same")]
    handles.append(Patch(facecolor="white", edgecolor="0.25", hatch="///",
                         label=f"too few reps for p < {alpha:g}"))
    handles.append(Patch(color="#fff2b3", label=f"±{threshold:g}% band"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              borderaxespad=0, fontsize="small", title="verdict", title_fontsize="small")
    return fig


def compare_titles(path_a, path_b, meta_a, meta_b):
    """(the machine, 'A = ... B = ...')."""
    machine = chart_title(meta_b or meta_a, path_b) if (meta_a or meta_b) else "krefbench"
    parts = []
    for side, path, meta in (("A", path_a, meta_a), ("B", path_b, meta_b)):
        commit = str(meta.get("git_commit", ""))[:10] if meta else ""
        parts.append(f"{side} = {path}" + (f" ({commit})" if commit else ""))
    return machine, "   ".join(parts)


def default_compare_dir(path_a, path_b):
    stem_a = os.path.splitext(os.path.basename(path_a))[0]
    stem_b = os.path.splitext(os.path.basename(path_b))[0]
    return os.path.join(os.path.dirname(path_b) or ".", f"{stem_a}-vs-{stem_b}-compare")


def render_compare(path_a, path_b, threshold, alpha, adjust, out_dir):
    """Validate, then draw compare-ratio.{png,svg}. Returns (charts, files)."""
    cmp = load_compare_module()
    rows = compare_rows(cmp, path_a, path_b, threshold, alpha, adjust)
    out_dir = out_dir or default_compare_dir(path_a, path_b)
    prepare_out_dir(out_dir, "plot")
    plt, _ = setup_matplotlib()
    protect = protected((path_a, path_b))
    title, subtitle = compare_titles(path_a, path_b, load_sidecar(path_a), load_sidecar(path_b))
    fig = draw_compare(plt, cmp, title, subtitle, rows, threshold, alpha, adjust)
    files = save_figure(plt, fig, out_dir, "compare-ratio", protect)
    return out_dir, 1, files


# ---------------------------------------------------------------- output

def default_out_dir(csv_path):
    stem = os.path.splitext(os.path.basename(csv_path))[0]
    return os.path.join(os.path.dirname(csv_path) or ".", stem + "-plots")


# --quiet: the last line ("plots: N charts in DIR") only, not every path.
QUIET = False


def save_figure(plt, fig, out_dir, name, protect):
    """Write <name>.png and <name>.svg; returns the paths written (printed
    unless QUIET)."""
    written = []
    facts = json.dumps(chart_facts(fig), ensure_ascii=False)
    for ext in ("png", "svg"):
        path = os.path.join(out_dir, f"{name}.{ext}")
        with created(path, "wb", protect) as f:
            if ext == "png":
                fig.savefig(f, format="png", dpi=120, bbox_inches="tight",
                            metadata={"Software": None})
            else:
                fig.savefig(f, format="svg", bbox_inches="tight",
                            metadata={"Date": None, "Description": facts})
        written.append(path)
        if not QUIET:
            print(path, flush=True)
    plt.close(fig)
    return written


def render_results(res, meta, out_dir):
    """Draw every chart for one results file. Returns (charts, files)."""
    plt, ticker = setup_matplotlib()
    title = chart_title(meta, res.path)
    stem = os.path.splitext(res.path)[0]
    protect = {os.path.realpath(res.path), os.path.realpath(stem + ".json")}
    benches, floors = res.benches, res.floors
    style = Style({r["backend"] for r in benches})
    workloads = names.ordered({r["workload"] for r in benches}, CHARTED_WORKLOADS)
    cfg_by_workload = {
        w: varying_config([r for r in benches if r["workload"] == w], res.columns)
        for w in workloads}

    left = [f"disturbed attempts ({res.dropped_text()}): clean repetitions only"
            if res.disturbed else ""]
    charts, files = 0, []
    for w in workloads:
        rows = [r for r in benches if r["workload"] == w]
        fig = draw_throughput(plt, ticker, style, title, w, rows, floors,
                              cfg_by_workload[w], left)
        files += save_figure(plt, fig, out_dir, f"throughput-{safe_name(w)}", protect)
        charts += 1

    fig = draw_maxthreads_bars(plt, style, title, benches, floors, "ns_per_op",
                               cfg_by_workload, "ns per get+put (per thread)",
                               "median ns per get+put", left)
    if fig is not None:
        files += save_figure(plt, fig, out_dir, "nsop-maxthreads", protect)
        charts += 1

    if any(r["norm"] is not None for r in benches):
        fig = draw_maxthreads_bars(plt, style, title, benches, floors, "norm",
                                   cfg_by_workload,
                                   "norm: ns per get+put ÷ matching floor (×)",
                                   "median norm", left)
        if fig is not None:
            files += save_figure(plt, fig, out_dir, "norm-maxthreads", protect)
            charts += 1
    return charts, files


# ---------------------------------------------------------------- CLI

def warn(msg):
    cli.warn("plot", msg)


def parse_args(argv):
    p = cli.Parser(prog="plot.py",
                description="Charts (PNG + SVG) from a krefbench results CSV.")
    p.add_argument("results", metavar="RESULTS.csv", nargs="?", help="results file")
    p.add_argument("--out", metavar="DIR",
                   help="output directory (default: <dir of CSV>/<stem>-plots)")
    p.add_argument("--quiet", action="store_true",
                   help="print only the last line (how many charts, where), not every file")
    p.add_argument("--compare", nargs=2, metavar=("A.csv", "B.csv"),
                   help="chart B/A per benchmark with compare's verdicts instead")
    p.add_argument("--threshold", type=float, default=5.0, metavar="PCT",
                   help="with --compare: smallest change that counts (default 5)")
    p.add_argument("--alpha", type=float, default=0.05,
                   help="with --compare: significance level (default 0.05)")
    p.add_argument("--adjust", choices=("none", "holm", "bh"), default="none",
                   help="with --compare: p adjustment over the benchmarks (default none)")
    args = p.parse_args(argv)
    if args.compare and args.results:
        raise InputError("give RESULTS.csv or --compare A.csv B.csv, not both")
    if not args.compare and not args.results:
        raise InputError("the following arguments are required: RESULTS.csv")
    if not (math.isfinite(args.threshold) and args.threshold >= 0):
        raise InputError(f"--threshold {args.threshold:g} must be 0 or more")
    if not 0 < args.alpha < 1:
        raise InputError(f"--alpha {args.alpha:g} must be between 0 and 1")
    return args


def run(argv):
    global QUIET
    args = parse_args(argv)
    QUIET = args.quiet
    if args.compare:
        out_dir, charts, _ = render_compare(args.compare[0], args.compare[1],
                                            args.threshold, args.alpha, args.adjust,
                                            args.out)
        print(f"plots: {charts} chart in {out_dir}")
        return 0
    res = load_results(args.results)
    for w in res.warnings:
        warn(w)
    if res.skipped_check:
        warn(f"skipped {res.skipped_check} row(s) whose self-check failed "
             f"(check != ok)")
    meta = load_sidecar(args.results)
    out_dir = args.out or default_out_dir(args.results)
    prepare_out_dir(out_dir, "plot")
    charts, _ = render_results(res, meta, out_dir)
    print(f"plots: {charts} charts in {out_dir}")
    return 0


def main(argv=None):
    return cli.guarded("plot", lambda: run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
