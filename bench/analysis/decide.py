#!/usr/bin/python3
"""Which scheme for which object life: the decision sections of a run.

One module for the run's summary (./run.sh prints render_text() after the
sweep) and the report (bench/analysis/report.py renders the same data):

    sections(results, sidecar) -> [section, ...]

`results` is what bench/analysis/results.py's load() returns (clean repetitions
only), `sidecar` the run's JSON (or None). A section is a dict:

    title    "long-lived hot object", "short-lived object shared by N threads",
             "lookup-mostly table", "object whose count is read often"
    answer   one sentence: which backend wins here, by what cost
    columns  the table's header
    rows     the table's rows (text cells), ranked by the cost that matters
    notes    crossovers, memory price, projections, caveats

Every figure is the median of the clean repetitions (of the per-process
medians when the repetitions came from several processes) with its spread:
the larger half-width, in percent, of stats.figure_interval(), the interval
that holds the next run's median with the probability each section states
(exact for the n it has); fewer than 3 units: "n=2", no "±". A backend that
could not take part (no rows) is "n/a". Sections whose workload is not in
the run are left out.

A section names a winner only when its interval is apart from every other
ranked scheme's; otherwise the tied set, the schemes whose intervals overlap
the best one's ("percpu, percpu_atomic: within spread"). Not ranked: figures
from disturbed repetitions only ('~'), figures without an interval, and the
rows that are not schemes (names.not_schemes(): the harness `null`, the
read-side mechanisms), which are shown apart as reference lines. Each
section dict also carries `best` (the winner, or the tied set) and `tied`
(bool), which analysis/stability.py compares between two runs.

    usage: decide.py [--width COLUMNS] RESULTS.csv
                                     prints the sections as text; --width
                                     (./run.sh: 100) folds the notes and
                                     drops the rightmost table columns to fit
"""

import math
import os
import statistics
import sys

# Run as a file (python3 bench/analysis/decide.py): the package's one
# bootstrap onto the path. Python put this file's own folder first on the
# path, where the package's modules would shadow the standard library's;
# bench/ takes its place. As a module (-m analysis.decide) it is not needed.
if not __package__:
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    __package__ = "analysis"
from . import cli, names, results as R  # noqa: E402
from . import stats  # noqa: E402
from .stats import median_interval  # noqa: E402,F401  (decide.median_interval: report, tests)


# ---------------------------------------------------------------- figures

class Figure:
    """A median with its interval (stats.figure_interval), or nothing; '~'
    when it comes from disturbed repetitions (the benchmark had no clean one).
    processes, when given, names the process of each value."""

    def __init__(self, values, scale=1.0, disturbed=False, processes=None):
        self.disturbed = disturbed
        vals = [v * scale if v is not None else None for v in values]
        self.iv = stats.figure_interval(vals, processes)
        self.n, self.median = self.iv.n, self.iv.median
        self.lo, self.hi, self.level = self.iv.lo, self.iv.hi, self.iv.level
        self.spread = self.iv.half_width_pct()

    def __bool__(self):
        return self.median is not None

    @property
    def has_interval(self):
        return self.iv.has_interval

    @property
    def rankable(self):
        """Clean, with an interval: a figure a decision may rest on."""
        return bool(self) and not self.disturbed and self.iv.has_interval

    def text(self, unit=""):
        if self.median is None:
            return "n/a"
        spread = f" ±{self.spread:.0f}%" if self.spread is not None else f" (n={self.n})"
        return f"{num(self.median)}{unit}{spread}{'~' if self.disturbed else ''}"


def num(v):
    if v is None:
        return "n/a"
    if v == int(v) and abs(v) < 1e6:
        return f"{int(v):,}"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def to_float(text):
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


class Run:
    """The rows of one results file, grouped for lookups."""

    def __init__(self, res, sidecar):
        self.rows = [r for r in res.benches]
        self.meta = sidecar or {}
        self.backends = []
        for r in self.rows:
            if r["backend"] not in self.backends:
                self.backends.append(r["backend"])
        self.memory = {}
        for r in self.rows:
            if r["backend"] not in self.memory and to_float(r.get("mem_bytes")) is not None:
                self.memory[r["backend"]] = tuple(to_float(r.get(c)) for c in
                                                  ("mem_bytes", "mem_bytes_64", "mem_bytes_256"))

    def select(self, workload, backend=None, threads=None, variant=None, writer=None):
        out = []
        for r in self.rows:
            if r["workload"] != workload:
                continue
            if backend is not None and r["backend"] != backend:
                continue
            if threads is not None and r["threads"] != threads:
                continue
            if variant is not None and r["variant"] != variant:
                continue
            if writer is not None and (to_float(r["writer_rate"]) or 0) != writer:
                continue
            out.append(r)
        return out

    def threads(self, workload):
        return sorted({r["threads"] for r in self.rows if r["workload"] == workload})

    def ns(self, workload, backend, **kw):
        return figure_of(self.select(workload, backend, **kw), "ns_per_op")

    def lookups(self, workload, backend, **kw):
        """ns per lookup from the rows whose lookups mostly hit, and how many
        rows were left out because most of their lookups missed."""
        rows = self.select(workload, backend, **kw)
        kept = [r for r in rows if not R.mostly_missed(r)]
        return figure_of(kept, "ns_per_op"), len(rows) - len(kept)

    def column(self, workload, backend, column, scale=1.0, **kw):
        return figure_of(self.select(workload, backend, **kw), column, scale)

    def memory_text(self, backend):
        m = self.memory.get(backend)
        if not m:
            return "n/a"
        return " / ".join(f"{v:.0f}" if v is not None else "n/a" for v in m)

    def cpus_here(self):
        """The CPUs percpu's read sums: the possible CPUs (the sidecar's)."""
        for key in ("possible_cpus", "pus"):
            v = self.meta.get(key)
            if isinstance(v, (int, float)) and v > 0:
                return int(v)
        return None


def process_of(row):
    """The process that measured a row (the `process` column), or None."""
    p = row.get("process")
    return None if p in (None, "") else str(p)


def figure_of(rows, column, scale=1.0):
    return Figure([r[column] if column == "ns_per_op" else to_float(r.get(column)) for r in rows],
                  scale, disturbed=any(r.get("_disturbed") for r in rows),
                  processes=[process_of(r) for r in rows])


def ranked(run, figures):
    """[(backend, Figure)]: the schemes a decision may rank (rankable
    figures) by median, then the other schemes (n/a, '~', too few units);
    the rows that are not schemes are left to reference()."""
    skip = set(names.not_schemes())
    have = sorted(((b, f) for b, f in figures if b not in skip and f.rankable),
                  key=lambda bf: bf[1].median)
    return have + [(b, f) for b, f in figures if b not in skip and not f.rankable]


def reference(figures, unit="ns"):
    """The note that shows the rows that are not schemes (null: the harness;
    the read-side mechanisms) apart: never ranked."""
    skip = set(names.not_schemes())
    parts = [f"{b} {f.text(' ' + unit)}" for b, f in figures if b in skip and f]
    return ("reference lines, not schemes and not ranked (null: the harness itself): " +
            "; ".join(parts)) if parts else ""


def decision(rank):
    """(best, tied): the winner as a one-name list when its interval is
    apart from every other rankable scheme's, else the tied set (the best
    and every scheme whose interval overlaps it), tied True; ([], False)
    when nothing is rankable."""
    have = [(b, f) for b, f in rank if f.rankable]
    if not have:
        return [], False
    b0, f0 = have[0]
    tied = [b for b, f in have if not stats.separated(f0, f)]
    return tied, len(tied) > 1


def winner_text(rank, what, unit="ns"):
    """The answer: 'percpu: 3.1 ns ±2% per ...; next refcount ×4.2, intervals
    apart', or 'percpu, percpu_atomic: within spread (3.1 ns ±2% to 3.3 ns
    ±5%) per ...'. what starts with 'per ' (scripts read the names before it)."""
    have = [(b, f) for b, f in rank if f.rankable]
    if not have:
        why = ("only disturbed repetitions ('~')" if any(f.disturbed for _, f in rank if f) else
               f"fewer than {stats.MIN_UNITS} clean repetitions" if any(f for _, f in rank) else
               "no backend took part")
        return f"no scheme ranked here ({why})"
    best, tied = decision(rank)
    b, f = have[0]
    if tied:
        last = dict(have)[best[-1]]
        return (f"{', '.join(best)}: within spread ({f.text(' ' + unit)} to "
                f"{last.text(' ' + unit)}) {what}")
    text = f"{b}: {f.text(' ' + unit)} {what}"
    if len(have) > 1:
        b2, f2 = have[1]
        text += f"; next {b2} ×{f2.median / f.median:.2f}, intervals apart" if f.median > 0 else ""
    return text


def levels_note(rank):
    """What the '±' promises for the ranked figures of a section."""
    figs = [f for _, f in rank if f.rankable]
    if not figs:
        return ""
    kinds = sorted({(f.n, f.iv.units, f.level) for f in figs})
    parts = [f"{100 * lv:.0f}% from {n} {units}" for n, units, lv in kinds]
    one = any(units == "repetitions" for _, units, _ in kinds)
    return ("±: the interval that holds the next run's median with probability at least " +
            ", ".join(parts) + (" (repetitions of one process: what changes between processes "
                                 "is not in it)" if one else "") +
            "; a winner is named only when its interval is apart from every other's")


def finish(section, rank, figures, unit="ns"):
    """Adds the decision (best, tied), the reference lines and what the '±'
    promises to a section."""
    section["best"], section["tied"] = decision(rank)
    extra = [n for n in (reference(figures, unit), levels_note(rank)) if n]
    section["notes"] = extra + section["notes"]
    return section


MEMORY_HEADER = "bytes/object here / 64 / 256 CPUs"
MEMORY_NOTE = "memory price, bytes per object at this machine's CPUs / 64 / 256"


def memory_note(run, backends):
    parts = [f"{b} {run.memory_text(b)}" for b in backends if b in run.memory]
    return (MEMORY_NOTE + ": " + "; ".join(parts)
            if parts else "")


# ---------------------------------------------------------------- sections

def long_lived(run):
    counts = run.threads("hammer")
    if not counts:
        return None
    top = counts[-1]
    figs = [(b, run.ns("hammer", b, threads=top)) for b in run.backends]
    rank = ranked(run, figs)
    rows = []
    for b, f in rank:
        rows.append([b, f.text(), run.ns("hammer", b, threads=1).text() if top != 1 else f.text(),
                     run.column("hammer", b, "lat_p99_ns", threads=top).text(),
                     run.column("hammer", b, "lat_p999_ns", threads=top).text(),
                     run.memory_text(b)])
    notes = ["cost that matters: ns per get+put pair per thread on one shared object (hammer) at the "
             f"most threads of this run ({top}); tail: sampled single pairs (one in 256 of a batch, a batch every 20 µs at most), each "
             "including one clock read (null's p50 is that cost)"]
    mem = memory_note(run, run.backends)
    if mem:
        notes.append(mem)
    return finish({"title": "long-lived hot object",
                   "answer": winner_text(rank, f"per get+put at {top} threads"),
                   "columns": ["backend", f"ns/op @{top}", "ns/op @1", f"p99 ns @{top}",
                               f"p99.9 ns @{top}", MEMORY_HEADER],
                   "rows": rows, "notes": notes}, rank, figs)


def churn_uses(run):
    return sorted({int(to_float(r.get("uses")) or 0) for r in run.select("churn")
                   if to_float(r.get("uses"))})


def churn_figure(run, backend, threads, uses):
    rows = [r for r in run.select("churn", backend, threads=threads)
            if int(to_float(r.get("uses")) or 0) == uses]
    return figure_of(rows, "ns_per_op")


def crossover(run, threads, a="percpu", b="refcount"):
    """The smallest --uses at which a's median beats b's, with whether the
    two intervals are apart there; None if it never does (or either is absent)."""
    for u in churn_uses(run):
        fa, fb = churn_figure(run, a, threads, u), churn_figure(run, b, threads, u)
        if fa and fb and fa.median < fb.median:
            return u, fa, fb, stats.separated(fa, fb) and fa.rankable and fb.rankable
    return None


def short_lived(run):
    counts = run.threads("churn")
    uses = churn_uses(run)
    if not counts or not uses:
        return None
    top = counts[-1]
    figs = {b: {u: churn_figure(run, b, top, u) for u in uses} for b in run.backends}
    first = [(b, figs[b][uses[0]]) for b in run.backends]
    rank = ranked(run, first)
    rows = []
    for b, _ in rank:
        rel = run.column("release_latency", b, "lat_p50_ns", scale=1e-3, threads=top)
        rel99 = run.column("release_latency", b, "lat_p99_ns", scale=1e-3, threads=top)
        rows.append([b] + [figs[b][u].text() for u in uses] + [rel.text(" µs"), rel99.text(" µs"),
                                                                run.memory_text(b)])
    notes = [f"cost that matters: ns per object lifetime per thread (churn at {top} threads: born, "
             "handed to every other thread, --uses get/put pairs by each holder, destroyed the way "
             "the scheme frees); ranked by the shortest life (uses=" + str(uses[0]) + ")"]
    for t in counts:
        c = crossover(run, t)
        if c is None:
            if churn_figure(run, "percpu", t, uses[-1]) and churn_figure(run, "refcount", t, uses[-1]):
                notes.append(f"crossover at {t} thread(s): percpu never beats refcount up to "
                             f"uses={uses[-1]} on this machine")
        else:
            u, fa, fb, apart = c
            notes.append(f"crossover at {t} thread(s): percpu beats refcount from uses={u} "
                         f"({fa.text(' ns')} vs {fb.text(' ns')} per lifetime"
                         f"{'' if apart else '; within spread'})")
    if run.select("release_latency"):
        via = {}
        for r in run.select("release_latency"):
            via.setdefault(r["backend"], r.get("release_via", ""))
        deferred = sorted({v for v in via.values() if v and not v.startswith("at once")})
        notes.append("release latency (last put or kill to release()): median and p99 over "
                     "repetitions of each repetition's percentile; " +
                     ("; ".join(f"{b}: {v}" for b, v in via.items() if v in deferred) or
                      "every backend here releases at once"))
    mem = memory_note(run, run.backends)
    if mem:
        notes.append(mem)
    return finish({"title": f"short-lived object shared by {top} threads",
                   "answer": winner_text(rank, f"per lifetime at uses={uses[0]}"),
                   "columns": ["backend"] + [f"ns/life uses={u}" for u in uses] +
                              ["release p50", "release p99", MEMORY_HEADER],
                   "rows": rows, "notes": notes}, rank, first)


# lookup_rcu's reclamations, in kb_rcu_flavor_names' order (bench/workloads/lookup_rcu.c), with what each is.
RECLAMATIONS = {
    "memb": "RCU memb over liburcu's hash table",
    "qsbr": "RCU qsbr, hash table",
    "mb": "RCU mb, hash table",
    "memb_array": "RCU memb over an array of slots",
    "hazptr": "hazard pointers, array",
    "typesafe": "objects reused at once, key re-checked, array",
}


def lookup_mostly(run):
    counts = run.threads("lookup_rcu")
    if not counts:
        return None
    top = counts[-1]
    writers = sorted({to_float(r["writer_rate"]) or 0 for r in run.select("lookup_rcu", threads=top)})
    present = {r["variant"] for r in run.select("lookup_rcu", threads=top)}
    # memb is the kernel's path; the other reclamations (bench/workloads/lookup_rcu.c)
    # get a column each, at the first writer rate.
    variant = "memb" if "memb" in present else sorted(present)[0]
    others = [v for v in RECLAMATIONS if v in present and v != variant]
    w0 = writers[0]
    flags = names.backend_flags()
    blind = [b for b in run.backends if "no_get_unless_zero" in flags.get(b, ())]
    # A row whose lookups mostly missed (R.mostly_missed) is never ranked:
    # its figure is the cost of a failed get_unless_zero. missed[b]: such rows.
    missed = {}

    def lookup_cell(b, **kw):
        if b in blind:
            return Figure([])
        f, n = run.lookups("lookup_rcu", b, threads=top, **kw)
        if n:
            missed[b] = missed.get(b, 0) + n
        return f

    figs = [(b, lookup_cell(b, variant=variant, writer=w0)) for b in run.backends]
    rank = ranked(run, figs)
    rows = []
    for b, f in rank:
        row = [b, f.text()]
        for w in writers[1:]:
            row.append(lookup_cell(b, variant=variant, writer=w).text())
        row += [lookup_cell(b, variant=v, writer=w0).text() for v in others]
        row += ["n/a" if b in blind or not f else
                run.column("lookup_rcu", b, "lat_p99_ns", threads=top, variant=variant, writer=w0).text(),
                run.memory_text(b)]
        rows.append(row)
    notes = [f"cost that matters: ns per lookup (rcu_read_lock, find, get_unless_zero, unlock, put) "
             f"per thread at {top} threads, reclamation {variant}"]
    if others:
        notes.append("other reclamations at " + f"w={num(w0)}/s: " + ", ".join(
            f"{v} ({RECLAMATIONS[v]})" for v in others) +
            "; memb_array, hazptr and typesafe share an array of slots, so compare them with each other "
            "(the hash table's own lookup is in memb, qsbr and mb); n/a: typesafe needs a counter that "
            "survives reuse (KB_TYPESAFE_<name>)")
    if blind:
        notes.append("n/a: " + ", ".join(blind) + " cannot offer get_unless_zero (KB_NO_GET_UNLESS_ZERO): "
                     "every lookup misses, so its figure is no lookup's cost")
    if missed:
        notes.append("not ranked: " + ", ".join(f"{b} ({n} repetition{'s' if n != 1 else ''})"
                                                 for b, n in missed.items()) +
                     ": most of those repetitions' lookups missed (lookup_misses > lookup_hits), "
                     "so their figure is the cost of a failed get_unless_zero, not of a lookup; "
                     "n/a where no repetition hit")
    mem = memory_note(run, run.backends)
    if mem:
        notes.append(mem + " (a table holds many objects: this is the price that scales)")
    return finish({"title": "lookup-mostly table",
                   "answer": winner_text(rank, f"per lookup at {top} threads, no writer" if w0 == 0
                                         else f"per lookup at {top} threads"),
                   "columns": ["backend", f"ns/lookup w={num(w0)}/s"] +
                              [f"ns/lookup w={num(w)}/s" for w in writers[1:]] +
                              [f"ns/lookup {v}" for v in others] +
                              [f"p99 ns w={num(w0)}/s", MEMORY_HEADER],
                   "rows": rows, "notes": notes}, rank, figs)


# The read/write mix the "read often" section ranks by: READS_PER_PAIR
# kref_read calls per get+put pair of a writer.
READS_PER_PAIR = 1


def mix_figure(run, backend, top):
    """The cost the object pays at the mix: READS_PER_PAIR x ns per read (the
    reader beside top-1 writers) + the writers' ns per get+put beside it,
    summed per unit (process, or repetition of one process) both measured,
    so the interval is the same kind as every other figure's."""
    reader = run.select("read", backend, threads=top, variant="reader")
    writers = run.select("read", backend, threads=top, variant="writers")
    by_process = any(process_of(r) is not None for r in reader + writers)

    def units(rows):
        out = {}
        for r in rows:
            out.setdefault(process_of(r) if by_process else r.get("rep"), []).append(r["ns_per_op"])
        return {u: statistics.median(v) for u, v in out.items()}
    ur, uw = units(reader), units(writers)
    common = [u for u in ur if u in uw]
    return Figure([READS_PER_PAIR * ur[u] + uw[u] for u in common],
                  disturbed=any(r.get("_disturbed") for r in reader + writers),
                  processes=common if by_process else None)


def read_often(run):
    counts = run.threads("read")
    if not counts:
        return None
    top = counts[-1]
    reads = {b: run.ns("read", b, threads=top, variant="reader") for b in run.backends}
    if top > 1:
        figs = [(b, mix_figure(run, b, top)) for b in run.backends]
        mix = (f"{READS_PER_PAIR} kref_read per get+put pair: ns per read beside {top - 1} "
               f"writer(s) + the writers' ns per get+put beside the reader")
    else:
        figs = list(reads.items())
        mix = "reads alone (one thread: no writer to pay for them)"
    rank = ranked(run, figs)
    rows = []
    for b, cost in rank:
        f = reads[b]
        writers = run.ns("read", b, threads=top, variant="writers") if top > 1 else Figure([])
        alone = run.ns("hammer", b, threads=top - 1) if top > 1 else Figure([])
        effect = (f"×{writers.median / alone.median:.2f}" if writers and alone and alone.median > 0
                  else "n/a")
        rows.append([b, cost.text(), f.text(), run.ns("read", b, threads=1, variant="reader").text(),
                     writers.text(), alone.text(), effect])
    notes = [f"cost that matters: what the object pays at a mix of {mix} (ranked by it); the "
             f"parts: ns per kref_read beside {top - 1} writer(s) on the same object, and what "
             "the reads do to the writers: their ns per get+put beside the reader against "
             f"hammer at {top - 1} thread(s) (no reader)"]
    cpus = run.cpus_here()
    alone = run.ns("read", "percpu", threads=1, variant="reader")
    busy = run.ns("read", "percpu", threads=top, variant="reader")
    if cpus and alone:
        for label, f in (("alone", alone), (f"beside {top - 1} writer(s)", busy)):
            if not f:
                continue
            per = f.median / cpus
            notes.append(f"percpu read {label}: {f.text(' ns')} at {cpus} CPUs = {num(per)} ns per CPU; "
                         f"PROJECTION (not measured: assumes every CPU's slot costs what it does here; "
                         f"remote NUMA slots cost more): {num(per * 64)} ns at 64 CPUs, "
                         f"{num(per * 256)} ns at 256 CPUs")
    what = (f"per read + get+put pair at {READS_PER_PAIR} read per pair, {top} threads"
            if top > 1 else "per read alone")
    return finish({"title": "object whose count is read often",
                   "answer": winner_text(rank, what),
                   "columns": ["backend", f"ns/(read+pair) @{top}" if top > 1 else "ns/read @1",
                               f"ns/read @{top}", "ns/read alone", "writers ns/op beside reader",
                               f"hammer ns/op @{top - 1}", "writers' slowdown"],
                   "rows": rows, "notes": notes}, rank, figs)


def sections(results, sidecar=None):
    """The sections for loaded results: bench/analysis/results.py's Results (clean
    repetitions only) or load()'s (disturbed-only benchmarks added, '~')."""
    run = Run(results, sidecar)
    out = []
    for make in (long_lived, short_lived, lookup_mostly, read_often):
        s = make(run)
        if s:
            if any(r.get("_disturbed") for r in run.rows):
                s["notes"].append("'~': no clean repetition of that benchmark (a busy machine): the "
                                  "figure comes from its disturbed repetitions (each one's last attempt)")
            out.append(s)
    return out


class Combined:
    """results.load()'s clean repetitions, and for a benchmark with none (a
    busy machine) every repetition's last attempt, marked _disturbed (the C
    summary's '~' figures): a busy run still gets its sections, flagged."""

    def __init__(self, path, clean):
        import csv
        self.benches = list(clean.benches) if clean else []
        have = {R.benchmark_key(r) for r in self.benches}
        last = {}
        with open(path, newline="", encoding="utf-8-sig") as f:
            for row in csv.DictReader(f):
                if row.get("backend") in (None, "backend", R.FLOOR_BACKEND) or \
                        (row.get("check") or "").strip() not in ("", "ok"):
                    continue
                try:
                    row["threads"] = int(row["threads"])
                    row["ns_per_op"] = float(row["ns_per_op"])
                    attempt = int(row.get("attempt") or 0)
                except (KeyError, TypeError, ValueError):
                    continue
                for col, default in {**R.OPTIONAL_KEY_DEFAULTS, **R.OPTIONAL_DEFAULTS}.items():
                    row.setdefault(col, default)
                for col in R.CONFIG_COLUMNS + ("backend", "workload"):
                    row[col] = (row.get(col) or "").strip()
                key = R.benchmark_key(row)
                if key in have:
                    continue
                row["_disturbed"] = True
                ident = (key, row["rep"])
                if ident not in last or attempt >= last[ident][0]:
                    last[ident] = (attempt, row)
        self.benches += [r for _, r in last.values()]


def load(path):
    """(results, sidecar, problem) for a results CSV; InputError when unusable."""
    try:
        clean = R.load(path, "decide")
    except R.InputError as e:
        if "every repetition was disturbed" not in str(e):
            raise
        clean = None
    _, meta, problem = R.load_sidecar(path)
    return Combined(path, clean), meta, problem


# ---------------------------------------------------------------- text

def render_text(secs, width=None):
    """The sections as text; with a width (a terminal's), tables lose their
    rightmost columns until they fit (the note says which: the report has
    them) and notes fold, so no line is wider; a note said in an earlier
    section is not repeated."""
    lines, said = [], set()
    for s in secs:
        lines.append("")
        lines.append(f"== {s['title']} ==")
        if s.get("answer"):
            lines += fold(f"best here: {s['answer']}", width, "  ")
        columns, rows, dropped = fit_table(s["columns"], [[str(c) for c in row] for row in s["rows"]],
                                           width)
        table = [columns] + rows
        widths = [max(len(str(r[i])) for r in table) for i in range(len(columns))]
        for row in table:
            lines.append("  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                                   for i, (c, w) in enumerate(zip(row, widths))))
        notes = [n for n in s.get("notes", []) if not (width and n in said) and
                 not (width and MEMORY_HEADER in columns and n.startswith(MEMORY_NOTE))]
        said.update(notes)
        told = [c for c in dropped if c != MEMORY_HEADER]  # the memory note has that one
        if told:
            notes.insert(0, f"columns left out to fit {width} columns (in the report and "
                            f"decide.py without --width): {', '.join(told)}")
        for n in notes:
            lines += fold(f"  - {n}", width, "    ")
    return "\n".join(lines) + "\n"


def table_width(columns, rows):
    return sum(max(len(r[i]) for r in [columns] + rows) for i in range(len(columns))) + \
        2 * (len(columns) - 1)


def fit_table(columns, rows, width):
    """(columns, rows, the names of the columns left out): the rightmost
    columns go until the table fits width; the backend and the cost that
    ranks it always stay."""
    columns, dropped = list(columns), []
    while width and len(columns) > 2 and table_width(columns, rows) > width:
        dropped.insert(0, columns.pop())
        rows = [r[:len(columns)] for r in rows]
    return columns, rows, dropped


def fold(text, width, indent):
    """text as lines of at most width characters (None: one line), broken
    at spaces, continuation lines indented; a word longer than a line (a
    path) stays whole."""
    if not width:
        return [text]
    import textwrap
    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False) or [text]


USAGE = "usage: decide.py [--width COLUMNS] RESULTS.csv"


def parse_argv(argv):
    """(path, width) or None for bad arguments; 'help' for -h."""
    args, width = argv[1:], None
    if args and args[0] in ("-h", "--help"):
        return "help"
    if len(args) == 3 and args[0] == "--width":
        try:
            width = int(args[1])
        except ValueError:
            return None
        args = args[2:]
        if width < 40:
            return None
    return (args[0], width) if len(args) == 1 else None


def main(argv):
    parsed = parse_argv(argv)
    if parsed is None or parsed == "help":
        print(USAGE, file=sys.stderr if parsed is None else sys.stdout)
        return 2 if parsed is None else 0
    path, width = parsed
    try:
        res, meta, problem = load(path)
    except (R.InputError, OSError) as e:
        print(f"decide: {cli.plain(e)}", file=sys.stderr)
        return 2
    if problem:
        print(f"decide: {cli.plain(problem)}", file=sys.stderr)
    secs = sections(res, meta)
    if not secs:
        print("decide: this run has none of the workloads the decisions need "
              "(hammer, churn, lookup_rcu, read)", file=sys.stderr)
        return 0
    intro = ("which scheme for which object life (medians of clean repetitions; ±: the "
             "interval that should hold the next run's median, at the level each "
             "section states; n=2: too few for one):")
    sys.stdout.write("\n" + "\n".join(fold(intro, width, "  ")))
    sys.stdout.write(cli.plain_lines(render_text(secs, width)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
