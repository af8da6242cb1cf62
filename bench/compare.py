#!/usr/bin/python3
"""Regression report between two krefbench results files; fails on a
significant regression.

    bench/compare.py A.csv B.csv [--threshold 5] [--alpha 0.05] [--adjust none|holm|bh]
                     [--format table|csv|json] [--label-a TEXT] [--label-b TEXT]

A is the baseline, B the candidate. Rows are grouped by the benchmark key
(backend, workload, threads, placement, objects, work_ns, variant,
writer_rate; a file without the variant or writer_rate column reads as ""
and 0, so files of older versions compare). Per key: the median ns_per_op of
A and of B, the ratio B/A, and a two-sided Mann-Whitney U test over the
repetitions:

  U     = U of A: the number of (a, b) pairs with a > b, ties counting 1/2
          (U = 0: every repetition of B is slower than every one of A)
  exact when neither sample has 50 or more repetitions and there are no
        ties (as R's wilcox.test): p = 2 * P(U' <= min(U, nA*nB - U)) under
        the null distribution of U', counted exactly (Gaussian binomial
        coefficients); 1 at most
  normal otherwise: mu = nA*nB/2, sigma^2 = nA*nB/12 * ((N+1) - sum(t^3 - t)
        / (N(N-1))) over tie groups of size t, N = nA + nB; z = (|U - mu| -
        1/2) / sigma (continuity correction, never below 0); p = erfc(z/sqrt 2)

  verdict  slower  ratio > 1 + threshold/100 and p < alpha
           faster  ratio < 1 - threshold/100 and p < alpha
           same    otherwise

Each row is tested on its own (--adjust none, the default). A sweep of 140
benchmarks at alpha 0.05 lets a few cross by chance when the noise is larger
than the threshold; the report says how many of the slower ones would survive
Holm's correction, and --adjust holm (family-wise error) or bh (false
discovery rate) makes the verdicts use adjusted p over the benchmark rows
(floors are their own family).

A sample can be too small ever to reach p < alpha: with 3 repetitions each
the most extreme arrangement has p = 2/C(6,3) = 0.1. Such a row is
"underpowered": its verdict stays `same`, the report says so and names any
that look slower. When every benchmark row is underpowered the comparison
cannot answer and exits 2 (rerun with --reps 5, or use ./run.sh compare
--rev, which runs several rounds).

Floors (backend `floor`) are compared and reported apart: they measure the
machine, so they never make the exit status 1. The files are read and
validated by bench/results.py (the loader plots/plot.py uses too); rows
whose check is not `ok` are ignored and counted. The sidecars (<stem>.json) are compared when
present: a different cpu_model, kernel, compiler or cflags is a warning.

Exit: 0 no significant regression; 1 a regression (each named on stderr,
"compare: regression: ..."); 2 bad input or arguments (one "compare: " line
on stderr), or no benchmark row could reach significance.
"""

import argparse
import csv
import io
import json
import math
import os
import statistics
import sys


# bench/results.py sits beside this file; plots/plot.py imports both of them
# by name from the same directory, so there is one module and one InputError.
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
try:
    import results
except ImportError as e:
    if __name__ != "__main__":
        raise
    print(f"compare: cannot load the results loader: {e}", file=sys.stderr)
    sys.exit(2)

KEY_COLUMNS = results.KEY_COLUMNS
SIDECAR_FIELDS = ("cpu_model", "kernel", "compiler", "cflags")
FLOOR_BACKEND = results.FLOOR_BACKEND
BACKEND_ORDER = ("atomic", "refcount", "rcuref", "percpu", "percpu_atomic", "urcu_ref",
                 "mutex", "null")
WORKLOAD_ORDER = ("hammer", "private", "spread", "handoff", "lookup_rcu",
                  "lookup_mutex", "readside")
FLOOR_ORDER = ("local", "uncontended", "shared", "pingpong")

EXACT_LIMIT = 50        # exact p when both samples are smaller than this
EXIT_OK, EXIT_REGRESSION, EXIT_BAD_INPUT = 0, 1, 2
TEST_NAME = ("two-sided Mann-Whitney U over repetitions: exact without ties "
             "(n < 50 each), else normal approximation with tie and "
             "continuity correction")

# Bad input or arguments: one 'compare: ' line, exit 2. The loader's own
# class, so that its errors and the ones raised here are caught alike.
InputError = results.InputError


def warn(msg):
    print(f"compare: warning: {msg}", file=sys.stderr, flush=True)


def note(msg):
    print(f"compare: note: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- statistics

def ranks(values):
    """1-based ranks, ties getting their mean rank; and the tie group sizes."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    groups = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        mid = (i + j + 2) / 2.0  # ranks i+1 .. j+1
        for k in range(i, j + 1):
            out[order[k]] = mid
        groups.append(j - i + 1)
        i = j + 1
    return out, groups


_u_counts_cache = {}


def u_counts(n1, n2):
    """counts[u] = number of the C(n1+n2, n1) arrangements with U = u.

    The generating function of U is the Gaussian binomial coefficient
    prod_{i=1..n1} (1 - q^(n2+i)) / (1 - q^i); multiplying and dividing by
    those factors in turn keeps every intermediate a polynomial of integers.
    """
    key = (min(n1, n2), max(n1, n2))
    if key in _u_counts_cache:
        return _u_counts_cache[key]
    n1, n2 = key
    size = n1 * n2 + 1
    poly = [0] * size
    poly[0] = 1
    for i in range(1, n1 + 1):
        k = n2 + i      # multiply by (1 - q^k)
        if k < size:
            for u in range(size - 1, k - 1, -1):
                poly[u] -= poly[u - k]
        for u in range(i, size):    # divide by (1 - q^i)
            poly[u] += poly[u - i]
    _u_counts_cache[key] = poly
    return poly


def exact_p(u, n1, n2):
    """Two-sided exact p for U = u (no ties)."""
    counts = u_counts(n1, n2)
    total = math.comb(n1 + n2, n1)
    lo = int(min(u, n1 * n2 - u))
    return min(1.0, 2.0 * sum(counts[:lo + 1]) / total)


def normal_p(u, n1, n2, tie_groups):
    """Two-sided p from the normal approximation, tie- and continuity-corrected."""
    n = n1 + n2
    tie_term = sum(t ** 3 - t for t in tie_groups)
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1)))
    if var <= 0:
        return 1.0      # every value equal: no evidence either way
    z = max(0.0, abs(u - n1 * n2 / 2.0) - 0.5) / math.sqrt(var)
    return math.erfc(z / math.sqrt(2.0))


def mann_whitney(a, b):
    """(U of a, two-sided p, method, smallest p these sample sizes allow)."""
    n1, n2 = len(a), len(b)
    r, groups = ranks(list(a) + list(b))
    u = sum(r[:n1]) - n1 * (n1 + 1) / 2.0
    ties = any(t > 1 for t in groups)
    if not ties and n1 < EXACT_LIMIT and n2 < EXACT_LIMIT:
        return u, exact_p(u, n1, n2), "exact", min(1.0, 2.0 / math.comb(n1 + n2, n1))
    # The normal approximation's most extreme value (U = 0) with these ties.
    return u, normal_p(u, n1, n2, groups), "normal", normal_p(0, n1, n2, groups)


ADJUSTMENTS = ("none", "holm", "bh")


def adjust_p(ps, method):
    """p-values adjusted for testing len(ps) benchmarks at once.

    none  as they are (each row on its own, the default)
    holm  Holm's step-down: the chance of any false 'slower' or 'faster'
          among all rows stays below alpha
    bh    Benjamini-Hochberg: the expected share of false ones among the
          rows called slower or faster stays below alpha
    """
    m = len(ps)
    if method == "none" or m == 0:
        return list(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    adj = [0.0] * m
    if method == "holm":
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (m - rank) * ps[i]))
            adj[i] = running
    else:
        running = 1.0
        for rank in range(m - 1, -1, -1):
            i = order[rank]
            running = min(running, min(1.0, m / (rank + 1) * ps[i]))
            adj[i] = running
    return adj


def geomean(ratios):
    ratios = list(ratios)
    if not ratios:
        return None
    return math.exp(sum(math.log(x) for x in ratios) / len(ratios))


# ---------------------------------------------------------------- input

def load_results(path):
    """A validated results file (bench/results.py), plus what the comparison
    adds: samples, ns_per_op per benchmark key; sidecar (by sidecar_check)."""
    res = results.load(path, purpose="compare")
    res.samples = {}        # key -> [ns_per_op, ...]
    for row in res.rows:
        res.samples.setdefault(results.benchmark_key(row), []).append(row["ns_per_op"])
    res.sidecar = None      # dict, or None when absent/unusable
    return res


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
    return (backend == FLOOR_BACKEND, pos(workload, FLOOR_ORDER + WORKLOAD_ORDER),
            variant, float(writer), pos(backend, BACKEND_ORDER), threads,
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


def compare(a, b, threshold, alpha, adjust="none"):
    """Rows of the comparison (dicts), sorted; floors last."""
    common = sorted(set(a.samples) & set(b.samples), key=sort_key)
    rows = []
    for key in common:
        xa, xb = a.samples[key], b.samples[key]
        ma, mb = statistics.median(xa), statistics.median(xb)
        u, p, method, p_min = mann_whitney(xa, xb)
        rows.append({
            "kind": "floor" if key[0] == FLOOR_BACKEND else "bench",
            "key": key, "label": label(key),
            "n_a": len(xa), "n_b": len(xb), "median_a": ma, "median_b": mb,
            "ratio": mb / ma, "u": u, "p": p, "p_method": method, "p_min": p_min,
            "underpowered": p_min >= alpha,
            # The most extreme ordering the sample allows, in B's slower direction.
            "looks_slower": mb / ma > 1 + threshold / 100.0 and u == 0,
        })
    # Benchmarks and floors are separate families for the adjustments.
    for kind in ("bench", "floor"):
        family = [r for r in rows if r["kind"] == kind]
        ps = [r["p"] for r in family]
        for r, adj, holm in zip(family, adjust_p(ps, adjust), adjust_p(ps, "holm")):
            r["p_adj"], r["p_holm"] = adj, holm
    for r in rows:
        significant = r["p_adj"] < alpha
        if significant and r["ratio"] > 1 + threshold / 100.0:
            r["verdict"] = "slower"
        elif significant and r["ratio"] < 1 - threshold / 100.0:
            r["verdict"] = "faster"
        else:
            r["verdict"] = "same"
    return rows


class Report:
    def __init__(self, a, b, rows, threshold, alpha, labels, adjust="none"):
        self.a, self.b, self.rows = a, b, rows
        self.threshold, self.alpha, self.labels = threshold, alpha, labels
        self.adjust = adjust
        self.benches = [r for r in rows if r["kind"] == "bench"]
        self.floors = [r for r in rows if r["kind"] == "floor"]
        self.geomean = geomean(r["ratio"] for r in self.benches)
        self.floor_geomean = geomean(r["ratio"] for r in self.floors)
        self.only_a = sorted(set(a.samples) - set(b.samples), key=sort_key)
        self.only_b = sorted(set(b.samples) - set(a.samples), key=sort_key)
        self.regressions = [r for r in self.benches if r["verdict"] == "slower"]
        self.underpowered = [r for r in self.benches if r["underpowered"]]
        self.undecidable = bool(self.benches) and len(self.underpowered) == len(self.benches)
        if self.regressions:
            self.exit = EXIT_REGRESSION
        elif self.undecidable:
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


def table_lines(rows, star, adjust):
    pname = "p" if adjust == "none" else f"p_{adjust}"
    head = (f"{'benchmark':<44} {'thr':>3} {'K':>5} {'nA':>3} {'nB':>3} "
            f"{'A ns/op':>10} {'B ns/op':>10} {'B/A':>7} {pname:>8}  verdict")
    out = [head, "-" * len(head)]
    for r in rows:
        key = r["key"]
        name = label(key).replace(f" threads={key[2]}", "")
        verdict = r["verdict"] + (star if r["underpowered"] else "")
        out.append(f"{name:<44} {key[2]:>3} {key[4]:>5} {r['n_a']:>3} {r['n_b']:>3} "
                   f"{fmt_ns(r['median_a']):>10} {fmt_ns(r['median_b']):>10} "
                   f"{r['ratio']:>7.3f} {fmt_p(r['p_adj']):>8}  {verdict}")
    return out


def render_table(rep):
    la, lb = rep.labels
    adjusted = {"none": "", "holm": " (p Holm-adjusted over the benchmarks)",
                "bh": " (p Benjamini-Hochberg-adjusted over the benchmarks)"}[rep.adjust]
    out = [f"A: {la}", f"B: {lb}",
           f"verdict: slower/faster when B/A is beyond ±{rep.threshold:g}% and "
           f"p < {rep.alpha:g}{adjusted}; {TEST_NAME}", ""]
    star = "*"
    if rep.benches:
        out += table_lines(rep.benches, star, rep.adjust)
        out.append(f"geomean B/A over {len(rep.benches)} benchmarks (floors excluded): "
                   f"{rep.geomean:.4f} ({pct(rep.geomean)})")
    if rep.floors:
        out += ["", "floors: the machine, not the code (never a regression)"]
        out += table_lines(rep.floors, star, rep.adjust)
        out.append(f"geomean B/A over {len(rep.floors)} floors: "
                   f"{rep.floor_geomean:.4f} ({pct(rep.floor_geomean)})")
    if any(r["underpowered"] for r in rep.rows):
        out.append(f"{star} too few repetitions for p < {rep.alpha:g} to be reachable "
                   f"(see the note on stderr)")
    out.append("")
    c = rep.counts(rep.benches)
    result = ("REGRESSION" if rep.exit == EXIT_REGRESSION else
              "UNDECIDED (too few repetitions)" if rep.exit == EXIT_BAD_INPUT else
              "no significant regression")
    out.append(f"result: {c['slower']} slower, {c['faster']} faster, {c['same']} same "
               f"-> {result}")
    return "\n".join(out) + "\n"


CSV_COLUMNS = ("kind",) + KEY_COLUMNS + ("n_a", "n_b", "median_a", "median_b", "ratio",
                                         "u", "p", "p_method", "p_min", "p_adj",
                                         "underpowered", "verdict")


def render_csv(rep):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rep.rows:
        w.writerow([r["kind"], *r["key"], r["n_a"], r["n_b"], repr(r["median_a"]),
                    repr(r["median_b"]), repr(r["ratio"]), repr(r["u"]), repr(r["p"]),
                    r["p_method"], repr(r["p_min"]), repr(r["p_adj"]),
                    str(r["underpowered"]).lower(),
                    r["verdict"]])
    for kind, value in (("geomean", rep.geomean), ("floor_geomean", rep.floor_geomean)):
        if value is not None:
            row = [""] * len(CSV_COLUMNS)
            row[0], row[CSV_COLUMNS.index("ratio")] = kind, repr(value)
            w.writerow(row)
    return buf.getvalue()


def render_json(rep, warnings):
    def side(res, lab):
        return {"path": res.path, "label": lab, "rows": res.n_rows,
                "ignored_check_not_ok": res.skipped_check, "benchmarks": len(res.samples),
                "sidecar": {f: res.sidecar.get(f) for f in SIDECAR_FIELDS + ("git_commit",)}
                if res.sidecar else None}

    def row(r):
        d = dict(zip(KEY_COLUMNS, r["key"]))
        d["threads"], d["objects"] = int(d["threads"]), int(d["objects"])
        d["work_ns"], d["writer_rate"] = float(d["work_ns"]), float(d["writer_rate"])
        d.update({k: r[k] for k in ("kind", "label", "n_a", "n_b", "median_a", "median_b",
                                    "ratio", "u", "p", "p_method", "p_min", "p_adj",
                                    "underpowered", "verdict")})
        return d

    doc = {
        "a": side(rep.a, rep.labels[0]), "b": side(rep.b, rep.labels[1]),
        "threshold_pct": rep.threshold, "alpha": rep.alpha, "adjust": rep.adjust,
        "test": TEST_NAME,
        "benchmarks": [row(r) for r in rep.benches],
        "floors": [row(r) for r in rep.floors],
        "geomean": rep.geomean, "floor_geomean": rep.floor_geomean,
        "counts": rep.counts(rep.benches),
        "only_in_a": [label(k) for k in rep.only_a],
        "only_in_b": [label(k) for k in rep.only_b],
        "regressions": [r["label"] for r in rep.regressions],
        "underpowered": len(rep.underpowered),
        "warnings": warnings,
        "exit": rep.exit,
    }
    return json.dumps(doc, indent=2) + "\n"


# ---------------------------------------------------------------- CLI

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise InputError(f"{message} (see --help)")


def parse_args(argv):
    p = _Parser(prog="compare",
                description="Regression report between two krefbench results CSVs "
                            "(A = baseline, B = candidate).",
                epilog="Exit: 0 no significant regression; 1 regression; 2 bad input, or "
                       "too few repetitions to decide. Revisions: ./run.sh compare --rev "
                       "BASE [--rev OTHER] [--rounds N] [krefbench options] (README.md).")
    p.add_argument("a", metavar="A.csv")
    p.add_argument("b", metavar="B.csv")
    p.add_argument("--threshold", type=float, default=5.0, metavar="PCT",
                   help="smallest change that counts, in percent (default 5)")
    p.add_argument("--alpha", type=float, default=0.05,
                   help="significance level of the U test (default 0.05)")
    p.add_argument("--adjust", choices=ADJUSTMENTS, default="none",
                   help="correct p for testing many benchmarks at once: none (default, "
                        "each row on its own), holm (family-wise) or bh (false "
                        "discovery rate)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--label-a", metavar="TEXT", help="describe A in the report")
    p.add_argument("--label-b", metavar="TEXT", help="describe B in the report")
    args = p.parse_args(argv)
    if not (math.isfinite(args.threshold) and args.threshold >= 0):
        raise InputError(f"--threshold {args.threshold:g} must be a percentage of 0 or more")
    if not (0 < args.alpha < 1):
        raise InputError(f"--alpha {args.alpha:g} must be between 0 and 1")
    return args


def describe(res, given):
    n = sorted({len(v) for v in res.samples.values()})
    reps = f"{n[0]}" if len(n) == 1 else f"{n[0]}-{n[-1]}"
    text = f"{res.path} ({len(res.samples)} benchmarks, {reps} repetitions each)"
    return f"{given} = {text}" if given else text


def run(argv):
    args = parse_args(argv)
    a = load_results(args.a)
    b = load_results(args.b)
    env_warnings, env_notes = sidecar_check(a, b)
    warnings = a.warnings + b.warnings + env_warnings
    rows = compare(a, b, args.threshold, args.alpha, args.adjust)
    if not rows:
        raise InputError(f"no benchmark in common: A has {len(a.samples)}, B has "
                         f"{len(b.samples)}, none with the same key "
                         f"({', '.join(KEY_COLUMNS)})")
    rep = Report(a, b, rows, args.threshold, args.alpha,
                 (describe(a, args.label_a), describe(b, args.label_b)), args.adjust)

    # stderr: the environment first, then what was left out, then the verdicts.
    for w in warnings:
        warn(w)
    for n in env_notes:
        note(n)
    if a.skipped_check or b.skipped_check:
        note(f"ignored rows whose check is not ok: {a.skipped_check} in A, "
             f"{b.skipped_check} in B")
    if rep.only_a or rep.only_b:
        note(f"not compared: {len(rep.only_a)} benchmark(s) only in A, "
             f"{len(rep.only_b)} only in B")
    under = [r for r in rows if r["underpowered"]]
    if under:
        sizes = sorted({(r["n_a"], r["n_b"]) for r in under})
        worst = max(r["p_min"] for r in under)
        note(f"{len(under)} row(s) have too few repetitions to ever reach p < {args.alpha:g} "
             f"(nA, nB = {', '.join(f'{x}, {y}' for x, y in sizes)}: smallest possible p "
             f"up to {worst:.3g}); their verdict stays 'same'. Use 5 or more repetitions "
             f"a side (--reps 5), or ./run.sh compare --rev, which runs rounds")
        for r in under:
            if r["kind"] == "bench" and r["looks_slower"]:
                note(f"unconfirmed (underpowered): {r['label']}: every B repetition slower "
                     f"than every A one, {pct(r['ratio'])}, p = {fmt_p(r['p'])}")

    m = len(rep.benches)
    if args.adjust == "none" and m >= 10 and rep.regressions:
        kept = sum(r["p_holm"] < args.alpha for r in rep.regressions)
        note(f"{m} benchmarks tested at alpha {args.alpha:g}: even with nothing changed, "
             f"about {m * args.alpha / 2:.1f} would look slower and as many faster by chance "
             f"(when noise exceeds the threshold); {kept} of the {len(rep.regressions)} "
             f"slower would stay significant with --adjust holm")

    out = {"table": render_table, "csv": render_csv}.get(args.format)
    sys.stdout.write(out(rep) if out else render_json(rep, warnings))
    sys.stdout.flush()

    for r in rep.regressions:
        print(f"compare: regression: {r['label']}: {fmt_ns(r['median_a'])} -> "
              f"{fmt_ns(r['median_b'])} ns/op ({pct(r['ratio'])}, x{r['ratio']:.3f}, "
              f"p = {fmt_p(r['p'])})", file=sys.stderr)
    if rep.undecidable:
        print(f"compare: no benchmark has enough repetitions to reach p < {args.alpha:g} "
              f"(rerun with --reps 5 or more, or use ./run.sh compare --rev)", file=sys.stderr)
    return rep.exit


def main(argv=None):
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except InputError as e:
        print(f"compare: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("compare: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:     # e.g. piped into head
        return 141
    except Exception as e:  # a bug: one line, the traceback only on request
        if os.environ.get("KREFBENCH_COMPARE_DEBUG"):
            raise
        print(f"compare: internal error: {type(e).__name__}: {e} "
              f"(KREFBENCH_COMPARE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
