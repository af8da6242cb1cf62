"""The last lines of a default run (./run.sh): what a person reads first.

    python3 -m analysis.closing RESULTS.csv [--report HTML] [--seconds S]

Prints, each line at most WIDTH columns:

    the answer per object life: one line per decision section of
        analysis/decide.py, its "best here" (the winner, the tied set, or why
        no scheme was ranked)
    files: the CSV, its sidecar, the charts folder (how many charts) and the
        report (--report: the path analysis/report.py printed; without it,
        "not written")
    took: S seconds of the whole run (--seconds: run.sh measures them)
    machine: whether it was quiet enough to trust: every benchmark has clean
        repetitions, or how many have none (their figures are marked '~'
        and never ranked), from the CSV's disturbed column

Exit status: 0 printed; 2 bad input (one line on stderr starting "closing: ").
"""

import os
import sys

from . import cli, decide, results as R
from .charts import default_out_dir
from .cli import InputError

WIDTH = 100


def duration_text(seconds):
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def answers(path):
    """[(section title, best here)] of decide.py for the file."""
    res, meta, _ = decide.load(path)
    return [(s["title"], s.get("answer", "")) for s in decide.sections(res, meta)]


def quiet_text(res):
    """One sentence: may the figures be trusted, as far as disturbance goes."""
    clean = {R.benchmark_key(r) for r in res.rows}
    bare = len(res.measured - clean)
    total = len(res.measured)
    redone = f"{res.disturbed} of {res.attempts} attempts were disturbed and left out"
    if bare:
        return (f"NOT quiet enough: {bare} of {total} benchmarks have no clean repetition "
                f"(their figures are marked '~' and never ranked; {redone}): rerun on an idle "
                f"machine")
    if res.mostly_disturbed:
        return (f"busy but usable: every benchmark has clean repetitions, though {redone}; "
                f"wide '±' intervals are the sign of a busy machine")
    return f"quiet enough: every benchmark has clean repetitions ({redone})"


def charts_text(csv_path):
    d = default_out_dir(csv_path)
    try:
        n = sum(1 for f in os.listdir(d) if f.endswith(".png"))
    except OSError:
        return f"none found in {d}{os.sep}"
    return f"{n} chart{'s' if n != 1 else ''} (PNG + SVG) in {d}{os.sep}"


def closing_lines(csv_path, report=None, seconds=None):
    try:
        res = R.load(csv_path, purpose="summarise")
    except R.InputError as e:
        res = None
        trust = f"NOT usable: {e}"
    else:
        trust = quiet_text(res)
    lines = ["", "== the answer, per object life (details above; every figure in the report) =="]
    for title, answer in answers(csv_path):
        lines += decide.fold(f"{title}: {answer}", WIDTH, "    ")
    stem = os.path.splitext(csv_path)[0]
    lines += ["files:",
              f"  results  {csv_path}",
              f"  sidecar  {stem}.json",
              f"  charts   {charts_text(csv_path)}",
              f"  report   {report if report else 'none given (analysis.report writes one)' if report is None else 'not written (the report failed: see its message above)'}"]
    if seconds is not None:
        rows = f" ({len(res.measured)} benchmarks)" if res else ""
        lines.append(f"took: {duration_text(seconds)}{rows}")
    lines += decide.fold(f"machine: {trust}", WIDTH, "    ")
    return lines


def parse_args(argv):
    p = cli.Parser(prog="closing.py", description="The last lines of a run: the answer per "
                   "object life, the files, the time, whether the machine was quiet.")
    p.add_argument("results", metavar="RESULTS.csv")
    p.add_argument("--report", metavar="HTML", help="the report written for it")
    p.add_argument("--seconds", type=float, metavar="S", help="how long the run took")
    args = p.parse_args(argv)
    if args.seconds is not None and not args.seconds >= 0:
        raise InputError(f"--seconds {args.seconds:g} must be 0 or more")
    return args


def run(argv):
    args = parse_args(argv)
    if not os.path.isfile(args.results):
        raise InputError(f"{args.results}: no such file")
    text = "\n".join(closing_lines(args.results, args.report, args.seconds)) + "\n"
    sys.stdout.write(cli.plain_lines(text))
    return 0


def main(argv=None):
    return cli.guarded("closing", lambda: run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
