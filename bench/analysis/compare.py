#!/usr/bin/python3
"""Regression report between two krefbench results files; fails on a
significant regression.

    bench/analysis/compare.py A.csv B.csv [--threshold PCT] [--alpha A] [--adjust none|holm|bh]
                     [--format table|csv|json] [--label-a TEXT] [--label-b TEXT]

A is the baseline, B the candidate. Rows are grouped by the benchmark key
(backend, workload, threads, placement, objects, work_ns, variant,
writer_rate; a file without the variant or writer_rate column reads as ""
and 0, so files of older versions compare). Only clean repetitions count:
rows whose check is not ok and disturbed attempts are set aside, and how
many were is said per side (bench/analysis/results.py reads the files).

Two analyses, chosen by the files:

UNPAIRED (two ordinary runs). Per key: the median ns_per_op of A and of B,
each with its spread (stats.figure_interval, the interval decide and report
print), the ratio B/A, and a two-sided Mann-Whitney U test over the units
(bench/analysis/stats.py): the repetitions, or the per-process medians when a run
spread its repetitions over processes (the `process` column: repetitions of
one process are not independent draws); exact without ties below 50 a side,
else the normal approximation with tie and continuity correction. Defaults:
--threshold 5, --alpha 0.05, --adjust holm (a sweep is hundreds of rows:
unadjusted, a few would differ by chance in every comparison).

Files of two runs are not paired in time, so no test on them can tell the
machine's drift between the runs (or what differs between two processes of
the same code: layout, allocator, a helper thread's timing) from a change
of the code: two runs of the same code on this VM differed by up to +264%
on a row. So the unpaired analysis never gives a regression verdict: rows
that differ are reported ("differs", exit 2: no answer) and the verdict is
the gate's, which pairs A and B in time (./run.sh compare --rev BASE, or
--bin A --bin B; the PAIRED analysis below). Same-code files therefore exit
0 or 2, never 1.

PAIRED (both files carry a `pair` column: the joined output of the gate,
bench/analysis/gate.py, where A and B ran as many short process pairs, in random
order within each pair). Per key and pair: d = log(B/A) of the pair's
median clean ns_per_op. The ratio is exp(Hodges-Lehmann estimate of d)
with its 95% confidence interval, the test is Wilcoxon's signed rank on d,
Holm-adjusted over the benchmark rows, and "detectable" is the smallest
change this many pairs with this spread would find (80% power at the
family's strictest level). The random order makes the test exact under "A
and B are the same" however the machine drifts: the drift falls on either
side of a pair by a coin flip. Defaults: --threshold 3, --alpha 0.01,
--adjust holm (the gate's; README "Did a change make it slower?").

  verdict  slower  ratio > 1 + threshold/100 and (adjusted) p < alpha
           faster  ratio < 1 - threshold/100 and (adjusted) p < alpha
           same    otherwise

A row whose sample sizes can never reach p < alpha (3 vs 3 repetitions: the
smallest p any arrangement gives is 2/C(6,3) = 0.1; p is never reported
below that bound, whatever the method) is "underpowered": its verdict stays
`same`, and the report names the ones that look slower.

Floors (backend `floor`) are compared and reported apart: they measure the
machine, so they never make the exit status 1. The sidecars (<stem>.json)
are compared when present: a different cpu_model, kernel, compiler or
cflags is a warning; so is a row whose per-CPU fast path differs between
the sides (e.g. rseq in A, atomic in B).

A different cpu_model in the sidecars refuses a verdict (exit 2, one line)
unless --allow-different-cpu is given.

Exit: 0 every benchmark in common was compared with enough repetitions and
none is significantly slower; 1 a regression, paired analysis only (each
named on stderr, "compare: regression: ..."); 2 bad input or arguments (one
"compare: " line on stderr), or no answer: no benchmark in common (floors
alone do not count), a benchmark row with too few clean repetitions to ever
reach p < alpha, a row slower in B than in A in two unpaired files (every
row that differs is named: "compare: differs: ..."), or different CPUs.
"""

import argparse
import csv
import io
import json
import math
import os
import statistics
import sys


from . import cli, names, results, stats
from .outputs import csv_cell

KEY_COLUMNS = results.KEY_COLUMNS
SIDECAR_FIELDS = ("cpu_model", "kernel", "compiler", "cflags")
FLOOR_BACKEND = results.FLOOR_BACKEND

EXIT_OK, EXIT_REGRESSION, EXIT_BAD_INPUT = cli.EXIT_OK, cli.EXIT_FOUND, cli.EXIT_BAD_INPUT
TEST_NAME = ("two-sided Mann-Whitney U over repetitions (per-process medians when "
             "the runs spread them over processes): exact without ties "
             "(n < 50 each), else normal approximation with tie and "
             "continuity correction; p never below the smallest the sample sizes allow")
PAIRED_TEST_NAME = ("paired: Wilcoxon signed rank on log(B/A) per process pair "
                    "(random order within each pair), ratio = Hodges-Lehmann estimate "
                    "with its 95% interval")
# Defaults of each analysis (argparse leaves None when not given).
DEFAULTS = {"unpaired": {"threshold": 5.0, "alpha": 0.05, "adjust": "holm"},
            "paired": {"threshold": 3.0, "alpha": 0.01, "adjust": "holm"}}
POWER = 0.8             # of the "detectable" figure

# The statistics live in bench/analysis/stats.py; these names stay here for the
# callers that know them from compare (plots/plot.py, the tests).
ranks, u_counts, exact_p, normal_p = stats.ranks, stats.u_counts, stats.exact_p, stats.normal_p
mann_whitney, adjust_p, geomean = stats.mann_whitney, stats.adjust_p, stats.geomean
ADJUSTMENTS = stats.ADJUSTMENTS

InputError = cli.InputError


def warn(msg):
    cli.warn("compare", msg)


def note(msg):
    cli.note("compare", msg)


# ---------------------------------------------------------------- input

def load_results(path):
    """A validated results file (bench/analysis/results.py), plus what the comparison
    adds: samples, ns_per_op per benchmark key; sidecar (by sidecar_check)."""
    res = results.load(path, purpose="compare")
    res.samples = {}        # key -> [ns_per_op, ...]   (clean repetitions)
    res.by_pair = {}        # key -> {pair: [ns_per_op, ...]}   (paired files)
    res.fast_paths = {}     # key -> {fast_path, ...} (non-empty, not n/a)
    res.processes = {}      # key -> [process or None, ...], parallel to samples
    for row in res.rows:
        key = results.benchmark_key(row)
        res.samples.setdefault(key, []).append(row["ns_per_op"])
        res.processes.setdefault(key, []).append(row["process"])
        if row["pair"] is not None:
            res.by_pair.setdefault(key, {}).setdefault(row["pair"], []).append(row["ns_per_op"])
        if row["fast_path"] and row["fast_path"] != "n/a":
            res.fast_paths.setdefault(key, set()).add(row["fast_path"])
    # The unpaired test's units and each figure's interval: one definition
    # (stats.figure_interval) with decide and report.
    res.figures = {k: stats.figure_interval(v, res.processes[k]) for k, v in res.samples.items()}
    res.units = {k: unit_values(v, res.processes[k]) for k, v in res.samples.items()}
    res.sidecar = None      # dict, or None when absent/unusable
    return res


def unit_values(values, processes):
    """The per-process medians when the values came from two or more
    processes, else the values (repetitions of one process)."""
    groups = {}
    for v, p in zip(values, processes):
        groups.setdefault(p, []).append(v)
    if len(groups) >= 2 and None not in groups:
        return [statistics.median(g) for g in groups.values()]
    return list(values)


def different_cpu(a, b):
    """The text of the refusal when both sidecars name a CPU model and the
    models differ, else None."""
    ma, mb = a.sidecar, b.sidecar
    if not (ma and mb) or "cpu_model" not in ma or "cpu_model" not in mb:
        return None
    va, vb = str(ma.get("cpu_model")).strip(), str(mb.get("cpu_model")).strip()
    if va == vb:
        return None
    return (f"no verdict: A and B ran on different CPUs (A {va!r}, B {vb!r}): their figures "
            f"differ for that reason alone; --allow-different-cpu compares them anyway")


def sidecar_check(a, b):
    """(warnings, notes) about the two environments, as strings."""
    out, notes = [], []
    pa, ma, ea = results.load_sidecar(a.path)
    pb, mb, eb = results.load_sidecar(b.path)
    a.sidecar, b.sidecar = ma, mb
    out += [e for e in (ea, eb) if e]
    for side, meta in (("A", ma), ("B", mb)):
        if meta is not None and meta.get("status") not in (None, "complete"):
            out.append(f"{side}'s run did not complete (sidecar status "
                       f"{meta.get('status')!r}): fewer repetitions or benchmarks")
    if ma is None or mb is None:
        for side, path, meta, problem in (("A", pa, ma, ea), ("B", pb, mb, eb)):
            if meta is None and not problem:
                notes.append(f"no sidecar for {side} ({path}): environment not checked")
        return out, notes
    for field in SIDECAR_FIELDS:
        va, vb = ma.get(field), mb.get(field)
        if str(va).strip() != str(vb).strip():
            out.append(f"{field} differs: A {va!r}, B {vb!r} "
                       f"(the figures can differ for that reason alone)")
    return out, notes


# ---------------------------------------------------------------- comparison

def sort_key(key):
    backend, workload, threads, placement, objects, work_ns, variant, writer = key

    def pos(v, order):
        return (order.index(v), "") if v in order else (len(order), v)
    return (backend == FLOOR_BACKEND, pos(workload, names.floor_order() + names.workload_order()),
            variant, float(writer), pos(backend, names.backend_order()), threads,
            placement, objects, float(work_ns))


def label(key):
    """'atomic hammer t=1' plus only what is not the default."""
    backend, workload, threads, placement, objects, work_ns, variant, writer = key
    parts = [backend, workload + (f"/{variant}" if variant else "")]
    if writer != "0":
        parts.append(f"w={writer}")
    parts.append(f"threads={threads}")
    if placement != "cores":
        parts.append(f"placement={placement}")
    if work_ns != "0":
        parts.append(f"work_ns={work_ns}")
    return " ".join(parts)


def fast_path_warnings(a, b, keys):
    """A warning per compared row whose per-CPU fast path differs between
    the sides: such a row measures a different code path, not a change."""
    out = []
    for key in keys:
        fa, fb = a.fast_paths.get(key, set()), b.fast_paths.get(key, set())
        if fa and fb and fa != fb:
            out.append(f"{label(key)}: the fast path differs (A {'/'.join(sorted(fa))}, "
                       f"B {'/'.join(sorted(fb))}): the sides ran different code "
                       f"(rseq registration? glibc.pthread.rseq?)")
    return out


def _finish(rows, threshold, alpha, adjust):
    """Adjusted p, Holm p and verdicts over each family (benchmarks, floors)."""
    for kind in ("bench", "floor"):
        family = [r for r in rows if r["kind"] == kind]
        ps = [r["p"] for r in family]
        for r, adj, holm in zip(family, adjust_p(ps, adjust), adjust_p(ps, "holm")):
            r["p_adj"], r["p_holm"] = adj, holm
        # The adjusted p of the most extreme outcome: a row that cannot get
        # below alpha even then is underpowered (Holm/BH: its first step is
        # p x m at worst, so the bound is p_min x m).
        m = len(family) if adjust != "none" else 1
        for r in family:
            r["underpowered"] = r["p_min"] * m >= alpha
    for r in rows:
        significant = r["p_adj"] < alpha and not r["underpowered"]
        if significant and r["ratio"] > 1 + threshold / 100.0:
            r["verdict"] = "slower"
        elif significant and r["ratio"] < 1 - threshold / 100.0:
            r["verdict"] = "faster"
        else:
            r["verdict"] = "same"
    return rows


def compare(a, b, threshold, alpha, adjust="none"):
    """Rows of the unpaired comparison (dicts), sorted; floors last."""
    common = sorted(set(a.samples) & set(b.samples), key=sort_key)
    rows = []
    for key in common:
        xa, xb = a.units[key], b.units[key]
        ma, mb = statistics.median(xa), statistics.median(xb)
        u, p, method, p_min = mann_whitney(xa, xb)
        rows.append({
            "kind": "floor" if key[0] == FLOOR_BACKEND else "bench",
            "key": key, "label": label(key), "paired": False,
            "n_a": len(xa), "n_b": len(xb), "median_a": ma, "median_b": mb,
            "spread_a": a.figures[key].half_width_pct(), "spread_b": b.figures[key].half_width_pct(),
            "ratio": mb / ma, "u": u, "p": p, "p_method": method, "p_min": p_min,
            # The most extreme ordering the sample allows, in B's slower direction.
            "looks_slower": mb / ma > 1 + threshold / 100.0 and u == 0,
            "n_pairs": None, "ci_low": None, "ci_high": None, "detectable_pct": None,
        })
    return _finish(rows, threshold, alpha, adjust)


def paired_differences(a, b, key):
    """log(B/A) per process pair that has clean repetitions of key on both
    sides (each side's median within the pair), in pair order."""
    pa, pb = a.by_pair.get(key, {}), b.by_pair.get(key, {})
    return [math.log(statistics.median(pb[i]) / statistics.median(pa[i]))
            for i in sorted(set(pa) & set(pb))]


def compare_paired(a, b, threshold, alpha, adjust="holm"):
    """Rows of the paired comparison (dicts), sorted; floors last. A key
    without one pair clean on both sides has no row (Report names it)."""
    common = sorted((k for k in set(a.by_pair) & set(b.by_pair)
                     if set(a.by_pair[k]) & set(b.by_pair[k])), key=sort_key)
    n_bench = sum(k[0] != FLOOR_BACKEND for k in common) or 1
    # "Detectable" at the level the strictest Holm step asks of a row.
    level = alpha / n_bench if adjust != "none" else alpha
    rows = []
    for key in common:
        d = paired_differences(a, b, key)
        test = stats.signed_rank(d)
        est, lo, hi = stats.hodges_lehmann(d, 0.95)
        mde = stats.min_detectable(d, level, POWER)
        xa, xb = a.samples[key], b.samples[key]
        rows.append({
            "kind": "floor" if key[0] == FLOOR_BACKEND else "bench",
            "key": key, "label": label(key), "paired": True,
            "n_a": len(xa), "n_b": len(xb),
            "median_a": statistics.median(xa), "median_b": statistics.median(xb),
            "spread_a": None, "spread_b": None,
            "ratio": math.exp(est) if est is not None else 1.0,
            "u": test["w_plus"], "p": test["p"], "p_method": test["method"],
            "p_min": test["p_min"],
            "looks_slower": bool(d) and all(x > 0 for x in d) and
            math.exp(est) > 1 + threshold / 100.0,
            "n_pairs": len(d),
            "ci_low": math.exp(lo) if lo is not None else None,
            "ci_high": math.exp(hi) if hi is not None else None,
            "detectable_pct": (math.exp(mde) - 1) * 100 if math.isfinite(mde) else math.inf,
        })
    return _finish(rows, threshold, alpha, adjust)


class Report:
    def __init__(self, a, b, rows, threshold, alpha, labels, adjust="none"):
        self.a, self.b, self.rows = a, b, rows
        self.threshold, self.alpha, self.labels = threshold, alpha, labels
        self.adjust = adjust
        self.paired = bool(rows) and rows[0]["paired"]
        self.benches = [r for r in rows if r["kind"] == "bench"]
        self.floors = [r for r in rows if r["kind"] == "floor"]
        self.geomean = geomean(r["ratio"] for r in self.benches)
        self.floor_geomean = geomean(r["ratio"] for r in self.floors)
        samples_a = a.by_pair if self.paired else a.samples
        samples_b = b.by_pair if self.paired else b.samples
        self.only_a = sorted(set(samples_a) - set(samples_b), key=sort_key)
        self.only_b = sorted(set(samples_b) - set(samples_a), key=sort_key)
        slower = [r for r in self.benches if r["verdict"] == "slower"]
        # Only the paired analysis gives a regression verdict; rows of two
        # unpaired files that differ are findings without one (module doc).
        self.regressions = slower if self.paired else []
        self.differs = [] if self.paired else [r for r in self.benches if r["verdict"] != "same"]
        self.differs_slower = [r for r in self.differs if r["verdict"] == "slower"]
        self.underpowered = [r for r in self.benches if r["underpowered"]]
        # Benchmarks both sides measured, but not one clean repetition (or
        # pair) of them to compare: as unanswered as an underpowered row.
        compared = {r["key"] for r in rows}
        self.unclean = sorted((k for k in (a.measured & b.measured) - compared
                               if k[0] != FLOOR_BACKEND), key=sort_key)
        # Exit 0 is a statement about every benchmark compared: none can be
        # left unanswerable, and floors alone answer nothing.
        self.nothing_compared = not self.benches
        self.undecidable = bool(self.underpowered) or bool(self.unclean)
        if self.regressions:
            self.exit = EXIT_REGRESSION
        elif self.nothing_compared or self.undecidable or self.differs_slower:
            self.exit = EXIT_BAD_INPUT
        else:
            self.exit = EXIT_OK

    def counts(self, rows):
        return {v: sum(r["verdict"] == v for r in rows) for v in ("slower", "faster", "same")}


def fmt_p(p):
    return f"{p:.4f}" if p >= 0.0001 else f"{p:.1e}"


def fmt_ns(x):
    return f"{x:.3f}" if x < 1000 else f"{x:.1f}"


def pct(ratio):
    return f"{(ratio - 1) * 100:+.1f}%"


def fmt_ci(r):
    if r["ci_low"] is None or not math.isfinite(r["ci_low"]) or not math.isfinite(r["ci_high"]):
        return "[too few]"
    return f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"


def fmt_detectable(r):
    x = r["detectable_pct"]
    return "-" if x is None or not math.isfinite(x) else f"{x:.1f}%"


def fmt_spreads(r):
    """'±2%/±3%': each side's spread (stats.figure_interval); 'n=2' below 3."""
    def one(x, n):
        return f"±{x:.0f}%" if x is not None else f"n={n}"
    return f"{one(r['spread_a'], r['n_a'])}/{one(r['spread_b'], r['n_b'])}"


FILES_NOTE = ("A and B are files of two runs, not paired in time: drift of the machine between "
              "them (or what differs between two processes of the same code) cannot be told "
              "from a change, so this gives no regression verdict; for one, run the gate: "
              "./run.sh compare --rev BASE, or --bin A --bin B")


def result_text(rep):
    return ("REGRESSION" if rep.exit == EXIT_REGRESSION else
            "NOTHING COMPARED (no benchmark in common)" if rep.nothing_compared else
            "UNDECIDED (too few clean repetitions)" if rep.undecidable else
            "DIFFERS (files of two runs: drift or change; the gate decides)" if rep.differs_slower else
            "no significant regression")


def table_lines(rows, star, adjust, paired):
    pname = "p" if adjust == "none" else f"p_{adjust}"
    if paired:
        head = (f"{'benchmark':<40} {'thr':>3} {'pairs':>5} {'A ns/op':>10} {'B ns/op':>10} "
                f"{'B/A':>6} {'95% interval':>16} {pname:>8} {'detect':>7}  verdict")
    else:
        head = (f"{'benchmark':<44} {'thr':>3} {'K':>5} {'nA':>3} {'nB':>3} "
                f"{'A ns/op':>10} {'B ns/op':>10} {'±A/±B':>11} {'B/A':>7} {pname:>8}  verdict")
    out = [head, "-" * len(head)]
    for r in rows:
        key = r["key"]
        name = label(key).replace(f" threads={key[2]}", "")
        verdict = r["verdict"] + (star if r["underpowered"] else "")
        if paired:
            out.append(f"{name:<40} {key[2]:>3} {r['n_pairs']:>5} "
                       f"{fmt_ns(r['median_a']):>10} {fmt_ns(r['median_b']):>10} "
                       f"{r['ratio']:>6.3f} {fmt_ci(r):>16} {fmt_p(r['p_adj']):>8} "
                       f"{fmt_detectable(r):>7}  {verdict}")
        else:
            out.append(f"{name:<44} {key[2]:>3} {key[4]:>5} {r['n_a']:>3} {r['n_b']:>3} "
                       f"{fmt_ns(r['median_a']):>10} {fmt_ns(r['median_b']):>10} "
                       f"{fmt_spreads(r):>11} {r['ratio']:>7.3f} {fmt_p(r['p_adj']):>8}  {verdict}")
    return out


def render_table(rep):
    la, lb = rep.labels
    adjusted = {"none": "", "holm": " (p Holm-adjusted over the benchmarks)",
                "bh": " (p Benjamini-Hochberg-adjusted over the benchmarks)"}[rep.adjust]
    out = [f"A: {la}", f"B: {lb}",
           f"verdict: slower/faster when B/A is beyond ±{rep.threshold:g}% and "
           f"p < {rep.alpha:g}{adjusted}; {PAIRED_TEST_NAME if rep.paired else TEST_NAME}"]
    if rep.paired:
        out.append("detect: the smallest change these pairs would find (80% power), "
                   "from their spread")
    else:
        out.append("±A/±B: each figure's spread (the interval that should hold the next run's "
                   "median; n=2: too few for one); " + FILES_NOTE)
    out.append("")
    star = "*"
    if rep.benches:
        out += table_lines(rep.benches, star, rep.adjust, rep.paired)
        out.append(f"geomean B/A over {len(rep.benches)} benchmarks (floors excluded): "
                   f"{rep.geomean:.4f} ({pct(rep.geomean)})")
    if rep.floors:
        out += ["", "floors: the machine, not the code (never a regression)"]
        out += table_lines(rep.floors, star, rep.adjust, rep.paired)
        out.append(f"geomean B/A over {len(rep.floors)} floors: "
                   f"{rep.floor_geomean:.4f} ({pct(rep.floor_geomean)})")
    if any(r["underpowered"] for r in rep.rows):
        out.append(f"{star} too few clean repetitions for p < {rep.alpha:g} to be reachable "
                   f"(see the note on stderr)")
    out.append("")
    c = rep.counts(rep.benches)
    result = result_text(rep)
    out.append(f"result: {c['slower']} slower, {c['faster']} faster, {c['same']} same "
               f"-> {result}")
    return "\n".join(out) + "\n"


CSV_COLUMNS = ("kind",) + KEY_COLUMNS + ("n_a", "n_b", "median_a", "median_b", "ratio",
                                         "u", "p", "p_method", "p_min", "p_adj",
                                         "underpowered", "verdict", "n_pairs", "ci_low",
                                         "ci_high", "detectable_pct")


def _num(x):
    return "" if x is None else repr(x)


class _SpreadsheetWriter:
    """csv.writer whose text cells are outputs.csv_cell'd (no formula)."""

    def __init__(self, buf):
        self.w = csv.writer(buf, lineterminator="\n")

    def writerow(self, row):
        self.w.writerow([csv_cell(x) for x in row])


def render_csv(rep):
    buf = io.StringIO()
    w = _SpreadsheetWriter(buf)
    w.writerow(CSV_COLUMNS)
    for r in rep.rows:
        w.writerow([r["kind"], *r["key"], r["n_a"], r["n_b"], repr(r["median_a"]),
                    repr(r["median_b"]), repr(r["ratio"]), repr(r["u"]), repr(r["p"]),
                    r["p_method"], repr(r["p_min"]), repr(r["p_adj"]),
                    str(r["underpowered"]).lower(), r["verdict"],
                    "" if r["n_pairs"] is None else r["n_pairs"], _num(r["ci_low"]),
                    _num(r["ci_high"]), _num(r["detectable_pct"])])
    for kind, value in (("geomean", rep.geomean), ("floor_geomean", rep.floor_geomean)):
        if value is not None:
            row = [""] * len(CSV_COLUMNS)
            row[0], row[CSV_COLUMNS.index("ratio")] = kind, repr(value)
            w.writerow(row)
    return buf.getvalue()


def _json_num(x):
    """JSON has no infinity: an unbounded interval or figure is null."""
    return x if x is None or math.isfinite(x) else None


def render_json(rep, warnings):
    def side(res, lab):
        return {"path": res.path, "label": lab, "rows": res.n_rows,
                "ignored_check_not_ok": res.skipped_check,
                "disturbed_attempts": res.disturbed, "attempts": res.attempts,
                "repetitions_without_clean_attempt": res.lost_reps,
                "duplicate_rows": res.duplicates, "benchmarks": len(res.samples),
                "sidecar": {f: res.sidecar.get(f) for f in SIDECAR_FIELDS + ("git_commit",)}
                if res.sidecar else None}

    def row(r):
        d = dict(zip(KEY_COLUMNS, r["key"]))
        d["threads"], d["objects"] = int(d["threads"]), int(d["objects"])
        d["work_ns"], d["writer_rate"] = float(d["work_ns"]), float(d["writer_rate"])
        d.update({k: r[k] for k in ("kind", "label", "n_a", "n_b", "median_a", "median_b",
                                    "ratio", "u", "p", "p_method", "p_min", "p_adj",
                                    "underpowered", "verdict", "n_pairs")})
        d.update({k: _json_num(r[k]) for k in ("ci_low", "ci_high", "detectable_pct",
                                                "spread_a", "spread_b")})
        return d

    doc = {
        "a": side(rep.a, rep.labels[0]), "b": side(rep.b, rep.labels[1]),
        "analysis": "paired" if rep.paired else "unpaired",
        "threshold_pct": rep.threshold, "alpha": rep.alpha, "adjust": rep.adjust,
        "test": PAIRED_TEST_NAME if rep.paired else TEST_NAME,
        "benchmarks": [row(r) for r in rep.benches],
        "floors": [row(r) for r in rep.floors],
        "geomean": rep.geomean, "floor_geomean": rep.floor_geomean,
        "counts": rep.counts(rep.benches),
        "only_in_a": [label(k) for k in rep.only_a],
        "only_in_b": [label(k) for k in rep.only_b],
        "regressions": [r["label"] for r in rep.regressions],
        "differs": [r["label"] for r in rep.differs],
        "result": result_text(rep),
        "underpowered": len(rep.underpowered),
        "warnings": warnings,
        "exit": rep.exit,
    }
    return json.dumps(doc, indent=2) + "\n"


# ---------------------------------------------------------------- CLI

def add_analysis_options(p):
    """The options of the analysis, shared with bench/analysis/gate.py."""
    p.add_argument("--threshold", type=float, metavar="PCT",
                   help="smallest change that counts, in percent (default: 5 unpaired, "
                        "3 paired)")
    p.add_argument("--alpha", type=float,
                   help="significance level (default: 0.05 unpaired, 0.01 paired)")
    p.add_argument("--adjust", choices=ADJUSTMENTS,
                   help="correct p for testing many benchmarks at once: none (each row on "
                        "its own), holm (family-wise) or bh (false discovery rate); default "
                        "none unpaired, holm paired")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--label-a", metavar="TEXT", help="describe A in the report")
    p.add_argument("--label-b", metavar="TEXT", help="describe B in the report")


def check_analysis_options(args):
    """InputError for a value no analysis can use (before anything runs)."""
    if args.threshold is not None and not (math.isfinite(args.threshold) and args.threshold >= 0):
        raise InputError(f"--threshold {args.threshold:g} must be a percentage of 0 or more")
    if args.alpha is not None and not (0 < args.alpha < 1):
        raise InputError(f"--alpha {args.alpha:g} must be between 0 and 1")


def parse_args(argv):
    p = cli.Parser(prog="compare",
                description="Regression report between two krefbench results CSVs "
                            "(A = baseline, B = candidate).",
                formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="Exit: 0 nothing differs; 1 regression (the gate's paired files "
                       "only);\n2 bad input, nothing compared, rows that differ (files of "
                       "two runs:\ndrift or change), or too few repetitions to decide.\n\n"
                       "The gate, which gives the verdict (README, \"Did a change make it "
                       "slower?\"):\n"
                       "  ./run.sh compare --rev BASE [--rev OTHER]   two trees, built and "
                       "run interleaved\n"
                       "  ./run.sh compare --bin A --bin B            two krefbench binaries\n"
                       "  its options: ./run.sh compare --rev BASE --help")
    p.add_argument("a", metavar="A.csv")
    p.add_argument("b", metavar="B.csv")
    add_analysis_options(p)
    p.add_argument("--allow-different-cpu", action="store_true",
                   help="compare files whose sidecars name different CPU models (refused "
                        "otherwise: exit 2)")
    args = p.parse_args(argv)
    check_analysis_options(args)
    return args


def describe(res, given):
    if res.paired:
        n = len({r["pair"] for r in res.rows})
        text = f"{res.path} ({len(res.by_pair)} benchmarks, {n} process pairs)"
    else:
        n = sorted({len(v) for v in res.samples.values()})
        reps = f"{n[0]}" if len(n) == 1 else f"{n[0]}-{n[-1]}"
        text = f"{res.path} ({len(res.samples)} benchmarks, {reps} clean repetitions each)"
    return f"{given} = {text}" if given else text


def analyse(a, b, args):
    """The report of two loaded files, with args' options (None: the
    analysis' default); prints it and the notes; returns the exit status.
    bench/analysis/gate.py calls this on the files it joined."""
    paired = a.paired and b.paired
    mode = "paired" if paired else "unpaired"
    threshold = DEFAULTS[mode]["threshold"] if args.threshold is None else args.threshold
    alpha = DEFAULTS[mode]["alpha"] if args.alpha is None else args.alpha
    adjust = DEFAULTS[mode]["adjust"] if args.adjust is None else args.adjust
    env_warnings, env_notes = sidecar_check(a, b)
    refusal = different_cpu(a, b)
    if refusal and not getattr(args, "allow_different_cpu", False):
        print(f"compare: {refusal}", file=sys.stderr)
        return EXIT_BAD_INPUT
    warnings = a.warnings + b.warnings + env_warnings
    if paired:
        rows = compare_paired(a, b, threshold, alpha, adjust)
    else:
        if a.paired != b.paired:
            env_notes.append("only one file has process pairs: compared unpaired")
        rows = compare(a, b, threshold, alpha, adjust)
    unclean = sorted(k for k in a.measured & b.measured if k[0] != FLOOR_BACKEND)
    if not rows and unclean:
        for w in warnings:
            warn(w)
        note(f"disturbed attempts left out: A {a.dropped_text() or 'none'}; "
             f"B {b.dropped_text() or 'none'}")
        print(f"compare: undecided: none of the {len(unclean)} benchmark(s) measured on both "
              f"sides has a clean {'pair' if paired else 'repetition on each side'} (the "
              f"machine was busy: rerun when it is quieter)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not rows:
        raise InputError(f"no benchmark in common: A has {len(a.samples)}, B has "
                         f"{len(b.samples)}, none with the same key "
                         f"({', '.join(KEY_COLUMNS)})")
    warnings += fast_path_warnings(a, b, [r["key"] for r in rows])
    rep = Report(a, b, rows, threshold, alpha,
                 (describe(a, args.label_a), describe(b, args.label_b)), adjust)

    # stderr: the environment first, then what was left out, then the verdicts.
    for w in warnings:
        warn(w)
    for n in env_notes:
        note(n)
    for side, res in (("A", a), ("B", b)):
        if res.mostly_disturbed:
            warn(f"MOST OF {side}'S REPETITIONS WERE DISTURBED: {res.dropped_text()}; the "
                 f"machine was busy, the figures rest on the few clean ones")
    if a.disturbed or b.disturbed:
        note(f"disturbed attempts left out: A {a.dropped_text() or 'none'}; "
             f"B {b.dropped_text() or 'none'}")
    if a.skipped_check or b.skipped_check:
        note(f"ignored rows whose check is not ok: {a.skipped_check} in A, "
             f"{b.skipped_check} in B")
    if rep.only_a or rep.only_b:
        note(f"not compared: {len(rep.only_a)} benchmark(s) only in A, "
             f"{len(rep.only_b)} only in B")
    for key in rep.unclean:
        note(f"not compared: {label(key)}: measured on both sides but never cleanly "
             f"{'in the same pair' if paired else 'on one of them'} (every attempt disturbed)")
    under = [r for r in rows if r["underpowered"]]
    advice = more_data_advice(rep, paired, alpha, adjust)
    if under:
        if paired:
            sizes = ", ".join(str(n) for n in sorted({r["n_pairs"] for r in under}))
            what = f"clean pairs = {sizes}"
        else:
            sizes = ", ".join(f"{x}, {y}" for x, y in sorted({(r["n_a"], r["n_b"]) for r in under}))
            what = f"nA, nB = {sizes}"
        worst = max(r["p_min"] for r in under)
        note(f"{len(under)} row(s) have too few clean repetitions to ever reach p < "
             f"{alpha:g}{'' if adjust == 'none' else ' after ' + adjust} ({what}: smallest "
             f"possible p up to {worst:.3g}); their verdict stays 'same'; {advice}")
        for r in under:
            if r["kind"] == "bench" and r["looks_slower"]:
                every = ("B slower in every pair" if paired else
                         "every B repetition slower than every A one")
                note(f"unconfirmed (underpowered): {r['label']}: {every}, {pct(r['ratio'])}, "
                     f"p = {fmt_p(r['p'])}")

    m = len(rep.benches)
    flagged = [r for r in rep.benches if r["verdict"] == "slower"]
    if adjust == "none" and m >= 10 and flagged:
        kept = sum(r["p_holm"] < alpha for r in flagged)
        note(f"{m} benchmarks tested at alpha {alpha:g}: even with nothing changed, "
             f"about {m * alpha / 2:.1f} would look slower and as many faster by chance "
             f"(when noise exceeds the threshold); {kept} of the {len(flagged)} "
             f"slower would stay significant with --adjust holm")
    if not paired:
        note(FILES_NOTE)

    # Data never steers the terminal, nor a spreadsheet (outputs.csv_cell).
    out = {"table": lambda r: cli.plain_lines(render_table(r)), "csv": render_csv}.get(args.format)
    sys.stdout.write(out(rep) if out else render_json(rep, warnings))
    sys.stdout.flush()

    for r in rep.regressions:
        extra = f", 95% {fmt_ci(r)}" if paired else ""
        print(f"compare: regression: {cli.plain(r['label'])}: {fmt_ns(r['median_a'])} -> "
              f"{fmt_ns(r['median_b'])} ns/op ({pct(r['ratio'])}, x{r['ratio']:.3f}{extra}, "
              f"p = {fmt_p(r['p_adj'])})", file=sys.stderr)
    for r in rep.differs:
        print(f"compare: differs: {r['label']}: {fmt_ns(r['median_a'])} -> "
              f"{fmt_ns(r['median_b'])} ns/op ({pct(r['ratio'])}, x{r['ratio']:.3f}, "
              f"p = {fmt_p(r['p_adj'])}): {r['verdict']} in B, drift or change", file=sys.stderr)
    if rep.exit == EXIT_BAD_INPUT:
        if rep.nothing_compared:
            print(f"compare: nothing compared: the files share only floors ({len(rep.floors)}), "
                  f"no benchmark (did B's run stop after its floors?)", file=sys.stderr)
        elif rep.undecidable:
            n_bad = len(rep.underpowered) + len(rep.unclean)
            print(f"compare: undecided: {n_bad} of {m + len(rep.unclean)} benchmark(s) have too "
                  f"few clean repetitions to reach p < {alpha:g} ({advice})", file=sys.stderr)
        else:
            print(f"compare: no verdict: {len(rep.differs_slower)} of {m} benchmark(s) are slower in B than A, in "
                  f"files of two runs, which cannot tell drift from a change; for a verdict, "
                  f"the gate: ./run.sh compare --rev BASE, or --bin A --bin B", file=sys.stderr)
    return rep.exit


def more_data_advice(rep, paired, alpha, adjust):
    """What would let an underpowered row reach significance: for files, the
    smallest equal count a side whose best possible p passes the family's
    first threshold (alpha / m under Holm or BH, alpha without)."""
    if paired:
        return "run more pairs (--pairs) on a quieter machine"
    level = alpha / (len(rep.benches) or 1) if adjust != "none" else alpha
    need = next((n for n in range(2, 60) if stats.mann_whitney_floor(n, n) < level), None)
    return (f"{need} or more clean repetitions a side (--reps {need}) could reach it, "
            if need else "") + "or run the gate, ./run.sh compare --rev BASE"


def run(argv):
    args = parse_args(argv)
    return analyse(load_results(args.a), load_results(args.b), args)


def guarded(command):
    """Run command() as compare's (and the gate's) main (cli.guarded)."""
    return cli.guarded("compare", command)


def main(argv=None):
    return guarded(lambda: run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
