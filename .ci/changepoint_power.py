#!/usr/bin/python3
"""Measures the change-point detector (bench/analysis/changepoint.py) on
constructed series whose truth is known: its false-alarm rate on series
without a step, and its power on series with one.

    PYTHONPATH=bench .ci/changepoint_power.py [--series 500] [--runs 30] [--step 10] [--noise 3]
                             [--outliers 5] [--seed 1] [--max-false 0.07] [--min-power 0.8]

A series is --runs run levels (a run's median ns/op), each 100 x a
lognormal factor of sd --noise percent; --outliers percent of the runs are
a busy machine's: x1.2 to x1.6 (slower only, as disturbance makes them). A
stepped series is --step percent slower from a point drawn uniformly with
at least 5 runs on each side. With the history's defaults (alpha 0.05, 199
permutations, minimum change 5%, 3 runs a side):

  false alarm   a series without a step where any change point is reported
  detection     a stepped series where a change point is reported within 1
                run of the step, in its direction
  extra         change points reported on a stepped series besides that one

Prints one line per kind, then PASS or FAIL; exit 0 when the false-alarm
rate is at most --max-false and the power at least --min-power, 1
otherwise, 2 bad arguments. Seeded: the same arguments give the same
figures. The figures in README ("Results over time") are from the defaults.
"""

import argparse
import sys

import numpy as np

try:
    from analysis import changepoint    # the package: PYTHONPATH=bench
except ImportError:
    print("changepoint_power: run with PYTHONPATH=bench (the analysis package)", file=sys.stderr)
    sys.exit(2)


def series(rng, n, noise, outliers, step_at=None, step=0.0):
    x = 100 * rng.lognormal(0, noise, n)
    busy = rng.random(n) < outliers
    x[busy] *= rng.uniform(1.2, 1.6, busy.sum())
    if step_at is not None:
        x[step_at:] *= 1 + step
    return x


def main():
    p = argparse.ArgumentParser(prog="changepoint_power", description=__doc__.split("\n\n")[0])
    p.add_argument("--series", type=int, default=500)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--step", type=float, default=10.0, help="percent (default 10)")
    p.add_argument("--noise", type=float, default=3.0, help="percent sd (default 3)")
    p.add_argument("--outliers", type=float, default=5.0, help="percent of runs (default 5)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-false", type=float, default=0.07)
    p.add_argument("--min-power", type=float, default=0.8)
    a = p.parse_args()
    if a.series < 1 or a.runs < 12 or not 0 <= a.outliers < 100 or a.noise < 0:
        print("changepoint_power: --series >= 1, --runs >= 12, --outliers 0-99, --noise >= 0",
              file=sys.stderr)
        return 2
    rng = np.random.default_rng(a.seed)
    noise, out, step = a.noise / 100, a.outliers / 100, a.step / 100
    false = 0
    for i in range(a.series):
        false += bool(changepoint.detect(series(rng, a.runs, noise, out), seed=i))
    found = extra = 0
    for i in range(a.series):
        at = int(rng.integers(5, a.runs - 5 + 1))
        cps = changepoint.detect(series(rng, a.runs, noise, out, at, step), seed=i)
        hit = [c for c in cps if abs(c.index - at) <= 1 and (c.ratio > 1) == (step > 0)]
        found += bool(hit)
        extra += len(cps) - bool(hit)
    fa, power = false / a.series, found / a.series
    print(f"changepoint_power: {a.series} series of {a.runs} runs, noise {a.noise:g}% sd, "
          f"{a.outliers:g}% outliers x1.2-1.6, seed {a.seed}")
    print(f"changepoint_power: no step: a change reported in {false} of {a.series} "
          f"(false-alarm rate {fa:.3f})")
    print(f"changepoint_power: {a.step:g}% step: found within 1 run in {found} of {a.series} "
          f"(power {power:.3f}); {extra} other change point(s) reported on them")
    ok = fa <= a.max_false and power >= a.min_power
    print(f"changepoint_power: {'PASS' if ok else 'FAIL'}: required false-alarm rate <= "
          f"{a.max_false:g}, power >= {a.min_power:g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
