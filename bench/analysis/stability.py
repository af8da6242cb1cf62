"""Do two runs give the same answers? The decision sections of two results
files (analysis/decide.py) side by side.

    python3 -m analysis.stability A.csv B.csv

Per section (by title) each run names a winner or a tied set
(decide.decision()); the two agree when they share a scheme: the same
winner, a winner inside the other's tied set, or two tied sets with a scheme
in common. Two runs that both rank nothing in a section (every figure
disturbed or without an interval) agree that they cannot answer there.

Exit: 0 every section agrees; 1 a section differs, or is in one run only
(each named, "stability: differs: ..."); 2 bad input or no section at all.
"""
import sys

from . import cli, decide

PROG = "stability"


def answers(path):
    """{title: (best names, tied)} of a results file's sections."""
    res, meta, problem = decide.load(path)
    if problem:
        cli.warn(PROG, problem)
    return {s["title"]: (list(s.get("best", [])), bool(s.get("tied")))
            for s in decide.sections(res, meta)}


def spell(answer):
    best, tied = answer
    if not best:
        return "nothing ranked"
    return ", ".join(best) + (" (tied)" if tied else "")


def agree(a, b):
    """Two answers agree when they share a scheme, or both rank nothing."""
    return bool(set(a[0]) & set(b[0])) or (not a[0] and not b[0])


def run(argv):
    p = cli.Parser(prog=PROG, description="Check that two results files give the same winner, "
                                          "or tied sets that share it, in every decision section.")
    p.add_argument("a", metavar="A.csv")
    p.add_argument("b", metavar="B.csv")
    args = p.parse_args(argv)
    a, b = answers(args.a), answers(args.b)
    if not a and not b:
        raise cli.InputError("neither file has a decision section (hammer, churn, lookup_rcu, read)")
    bad = 0
    for title in list(a) + [t for t in b if t not in a]:
        if title not in a or title not in b:
            bad += 1
            print(f"{PROG}: differs: {title}: only in {'A' if title in a else 'B'}")
            continue
        ok = agree(a[title], b[title])
        bad += not ok
        print(f"{PROG}: {'same' if ok else 'differs'}: {title}: A {spell(a[title])}; "
              f"B {spell(b[title])}")
    n = len(set(a) | set(b))
    print(f"{PROG}: {n - bad} of {n} section(s) agree" +
          ("" if not bad else f"; {bad} differ"))
    return cli.EXIT_FOUND if bad else cli.EXIT_OK


def main(argv=None):
    return cli.guarded(PROG, lambda: run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
