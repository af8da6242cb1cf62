"""Does the interval printed beside a figure predict the next run? Its
coverage over two results files of the same code, as the gate's power is
measured by .ci/gate_power.py.

    python3 -m analysis.calibrate A.csv B.csv [--column norm]

--column norm judges the figure over its floor of the same round instead of
ns_per_op: a machine whose speed drifts between two runs (this 2-CPU VM:
every floor 13-17% faster in the second of two runs minutes apart) moves
every ns figure alike, which no interval from one run can hold; the floor
of the same round moved with it. A line says how far the floors moved.

Per benchmark row (clean repetitions, floors included) with an interval on
one side (stats.figure_interval: the one decide, report and compare print)
and a figure on the other: is the other run's median outside it? Counted
both ways (A's intervals against B's medians and the reverse), apart for
1-thread and multi-thread rows, and set against what the intervals state:
each promises that the next run's median falls outside with probability at
most 1 - level, so the expected count of misses is the sum of those.

"Clearly worse" (exit 1): in a group of at least MIN_ROWS rows, the misses
exceed the expected count by more than MARGIN of the rows and by more than
Z_CRIT standard deviations, the deviation taken as if each row's two checks
were one repeated coin (the larger variance: rows of one run are not two
independent samples), and each row's stated level a lower bound (even n), so
the test leans towards "as stated". Rows are not independent either (a run
that is slower everywhere misses everywhere): that is exactly what an
interval that predicts the next run must absorb, so it counts against it.

Exit: 0 every group with enough rows is covered as stated (or better); 1 a
group clearly worse than stated; 2 bad input, or no group with MIN_ROWS rows.
"""
import math
import sys

from . import cli, results, stats

PROG = "calibrate"
MIN_ROWS = 10
MARGIN = 0.05           # of the rows: a shortfall smaller than this is not "clearly"
Z_CRIT = 2.326          # one-sided 1%


def figures(res, column="ns_per_op"):
    """{benchmark key: Interval} of a loaded results file, from column
    (ns_per_op, or norm: rows without one are left out)."""
    vals, procs = {}, {}
    for r in res.rows:
        if r[column] is None:
            continue
        k = results.benchmark_key(r)
        vals.setdefault(k, []).append(r[column])
        procs.setdefault(k, []).append(r["process"])
    return {k: stats.figure_interval(vals[k], procs[k]) for k in vals}


def floor_drift(fa, fb):
    """The median B/A of the floors' medians: how much faster or slower the
    machine itself ran in B; None without floors in common."""
    ratios = sorted(fb[k].median / fa[k].median for k in set(fa) & set(fb)
                    if k[0] == results.FLOOR_BACKEND and fa[k] and fb[k] and fa[k].median)
    return ratios[len(ratios) // 2] if ratios else None


def group_of(key):
    return "1 thread" if key[2] == 1 else "multi-thread"


def coverage(fa, fb):
    """{group: dict(rows, misses, expected, var, no_interval, units)} over
    both directions; a row counts when both sides have a figure."""
    out = {}
    for key in sorted(set(fa) & set(fb), key=str):
        g = out.setdefault(group_of(key), {"rows": 0, "checks": 0, "misses": 0, "expected": 0.0,
                                           "var": 0.0, "no_interval": 0, "units": set(),
                                           "miss_ab": 0, "miss_ba": 0})
        g["rows"] += 1
        for side, iv, other in (("ab", fa[key], fb[key]), ("ba", fb[key], fa[key])):
            if not (iv.has_interval and other):
                g["no_interval"] += 1
                continue
            p = 1.0 - iv.level
            miss = other.median < iv.lo or other.median > iv.hi
            g["checks"] += 1
            g["misses"] += miss
            g["miss_" + side] += miss
            g["expected"] += p
            g["var"] += 2.0 * p * (1.0 - p)   # two checks of a row as one coin: 4p(1-p) a row
            g["units"].add(iv.units)
    return out


def verdict(g):
    """'worse', 'as stated' or 'too few' for one group."""
    if g["checks"] < 2 * MIN_ROWS:
        return "too few"
    n = g["checks"]
    excess = g["misses"] - g["expected"]
    z = excess / math.sqrt(g["var"]) if g["var"] > 0 else (math.inf if excess > 0 else 0.0)
    return "worse" if excess > MARGIN * n and z > Z_CRIT else "as stated"


def run(argv):
    p = cli.Parser(prog=PROG, description="How often another run's median falls outside a "
                                          "row's interval, against the interval's stated level "
                                          "(two results files of the same code).")
    p.add_argument("a", metavar="A.csv")
    p.add_argument("b", metavar="B.csv")
    p.add_argument("--column", choices=("ns_per_op", "norm"), default="ns_per_op",
                   help="the figure judged (default ns_per_op; norm: over the floor of the "
                        "same round)")
    args = p.parse_args(argv)
    ra, rb = results.load(args.a, "calibrate"), results.load(args.b, "calibrate")
    drift = floor_drift(figures(ra), figures(rb))
    if drift is not None:
        print(f"{PROG}: the floors ran at B/A = {drift:.3f} (median): the machine's own speed "
              f"between the runs")
    groups = coverage(figures(ra, args.column), figures(rb, args.column))
    if not groups:
        raise cli.InputError("the files have no benchmark row in common")
    status, judged = cli.EXIT_OK, 0
    for name in ("1 thread", "multi-thread"):
        g = groups.get(name)
        if not g:
            continue
        v = verdict(g)
        n = g["checks"]
        units = " and ".join(sorted(g["units"])) or "none"
        line = (f"{PROG}: {name} rows: {g['rows']}; the other run's median fell outside "
                f"{g['misses']} of {n} intervals ({100 * g['misses'] / n if n else 0:.1f}%: "
                f"{g['miss_ab']} of A's, {g['miss_ba']} of B's) "
                f"where the intervals state at most {100 * g['expected'] / n if n else 0:.1f}% "
                f"(units: {units}")
        line += (f"; {g['no_interval']} check(s) without an interval, fewer than "
                 f"{stats.MIN_UNITS} clean units)" if g["no_interval"] else ")")
        if v == "too few":
            line += f": too few rows to judge (fewer than {MIN_ROWS})"
        else:
            judged += 1
            line += (": CLEARLY WORSE THAN STATED" if v == "worse" else ": as stated")
            if v == "worse":
                status = cli.EXIT_FOUND
        print(line)
    if not judged:
        raise cli.InputError(f"no thread group has {MIN_ROWS} rows with an interval on both "
                             f"sides: nothing to judge")
    if status == cli.EXIT_FOUND and any("repetitions" in g["units"] for g in groups.values()):
        print(f"{PROG}: note: intervals over repetitions of one process do not include what "
              f"changes between processes; a run that spreads its repetitions over processes "
              f"(the `process` column) does")
    return status


def main(argv=None):
    return cli.guarded(PROG, lambda: run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
