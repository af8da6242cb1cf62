#!/usr/bin/python3
"""Tests of bench/analysis/stats.py and of compare.py's paired analysis on constructed
data: hand-checked values, then the properties the gate relies on (a known
shift is found, no shift is not, the false-alarm rate stays at or below
alpha even when the machine drifts, 3 vs 3 never decides).

    tests/test_stats.py SRC_DIR      prints "ok - ..." / "FAIL - ..." lines and
                                     "N passed, N failed"; exit 1 on a failure

No timing: every figure here is computed from seeded pseudo-random data.
"""

import math
import os
import random
import sys

if len(sys.argv) != 2:
    print("usage: tests/test_stats.py SRC_DIR", file=sys.stderr)
    sys.exit(2)
from analysis import compare, results, stats  # PYTHONPATH=bench (tests/CMakeLists.txt)

passed = failed = 0


def check(ok, what):
    global passed, failed
    print(("ok - " if ok else "FAIL - ") + what)
    if ok:
        passed += 1
    else:
        failed += 1


def close(x, y, tol=1e-9):
    return abs(x - y) <= tol


# ---------------------------------------------------------------- signed rank, by hand

# d = 1..5, all positive: W+ = 15 = the maximum; one of the 2^5 = 32 sign
# assignments is this extreme in each direction: p = 2/32 = 0.0625, which is
# also the smallest p five pairs can give.
r = stats.signed_rank([1, 2, 3, 4, 5])
check(r["w_plus"] == 15 and r["method"] == "exact" and close(r["p"], 2 / 32)
      and close(r["p_min"], 2 / 32), f"signed rank 1..5: W+ = 15, p = p_min = 2/32 (got {r})")
# d = -1, 2, 3, -4, 5, 6: ranks of |d| are 1..6, W+ = 2+3+5+6 = 16 of 21;
# the smaller tail is W <= 5: subsets of {1..6} summing to 0..5 number
# 1+1+1+2+2+3 = 10, so p = 2 x 10/64 = 0.3125.
r = stats.signed_rank([-1, 2, 3, -4, 5, 6])
check(r["w_plus"] == 16 and close(r["p"], 0.3125), f"signed rank mixed signs: W+ = 16, p = 20/64 (got {r})")
check(stats.w_counts(3) == [1, 1, 1, 2, 1, 1, 1], f"null distribution of W+, n = 3 (got {stats.w_counts(3)})")
check(sum(stats.w_counts(20)) == 2 ** 20, "null distribution of W+, n = 20, sums to 2^20")
# Ties (normal approximation): d = 2, 2, -2, 4: |d| ranks 2, 2, 2, 4; W+ = 8
# of 10, mean 5; var = 4*5*9/24 - (3^3 - 3)/48 = 7.5 - 0.5 = 7;
# z = (|8 - 5| - 0.5)/sqrt(7) = 0.94491; p = erfc(z/sqrt 2) = 0.34470. The
# approximation's extreme (W+ = 0: z = 4.5/sqrt 7, p = 0.0890) is below the
# exact bound 2/2^4 = 0.125, so p_min is 0.125.
r = stats.signed_rank([2, 2, -2, 4])
check(r["method"] == "normal" and close(r["p"], 0.34470, 5e-5) and close(r["p_min"], 0.125),
      f"signed rank with ties: normal p = 0.34470, p_min = 2/16 (got {r})")
r = stats.signed_rank([0, 0, 1, 2, 3])
check(r["n"] == 3 and close(r["p"], 0.25), f"zeros are dropped (Wilcoxon): n = 3, p = 2/8 (got {r})")
r = stats.signed_rank([])
check(r["p"] == 1.0 and r["p_min"] == 1.0, "no differences: p = p_min = 1")

# ---------------------------------------------------------------- Hodges-Lehmann, by hand

# 1..10: the Walsh averages (i+j)/2 are symmetric about 5.5; the exact 95%
# critical value of W+ for n = 10 is 8 (P(W+ <= 8) = 25/1024 = 0.0244), so
# the interval runs from the 9th smallest Walsh average (3) to the 9th
# largest (8), as R's wilcox.test(1:10, conf.int = TRUE) says.
est, lo, hi = stats.hodges_lehmann(list(range(1, 11)))
check((est, lo, hi) == (5.5, 3.0, 8.0), f"Hodges-Lehmann 1..10: 5.5 [3, 8] (got {est}, {lo}, {hi})")
est, lo, hi = stats.hodges_lehmann([1, 2, 3])
check(est == 2 and lo == -math.inf and hi == math.inf,
      f"Hodges-Lehmann of 3 values: no 95% interval exists (got {est}, {lo}, {hi})")
# Coverage of the 95% interval over 400 seeded samples of 30 (normal, centre 1).
rng = random.Random(11)
cover = sum(lo <= 1 <= hi for lo, hi in
            (stats.hodges_lehmann([rng.gauss(1, 1) for _ in range(30)])[1:] for _ in range(400)))
check(370 <= cover <= 395, f"the 95% interval covers the centre in 370-395 of 400 samples (got {cover})")
# Exact (n = 49) and normal (n = 50) critical values meet at the switch: the
# normal one is mean - 1/2 - 1.96 sd = n(n+1)/4 - 1/2 - 1.96 sqrt(n(n+1)(2n+1)/24),
# 415.5 at n = 49 and 434.0 at n = 50.
k49, k50 = stats.signed_rank_critical(49, 0.05), stats.signed_rank_critical(50, 0.05)
check(abs(k49 - 415) <= 2 and k50 == 433, f"critical values n = 49 (exact) ~415, n = 50 (normal) 433 "
      f"(got {k49}, {k50})")

# ---------------------------------------------------------------- Mann-Whitney floor

# 3 vs 3 with ties, A = 4,4,4 and B = 5,5,5: the normal approximation alone
# gives p = 0.0463 (below 0.05); the exact bound is 2/C(6,3) = 0.1, and no
# method may report less.
u, p, method, p_min = stats.mann_whitney([4, 4, 4], [5, 5, 5])
check(method == "normal" and close(p, 0.1) and close(p_min, 0.1),
      f"Mann-Whitney 4,4,4 vs 5,5,5: p is bounded by 2/C(6,3) = 0.1 (got {p}, {method})")
u, p, method, p_min = stats.mann_whitney([1, 2, 2, 3], [2, 3, 4, 5])
check(close(p_min, 2 / 70, 1e-12) or p_min > 2 / 70, f"Mann-Whitney floor 4 vs 4 >= 2/70 (got {p_min})")

# ---------------------------------------------------------------- other pieces

check(close(stats.normal_quantile(0.975), 1.959964, 1e-5), "normal quantile 0.975 = 1.959964")
check(close(stats.robust_sd([1, 2, 3, 4, 100]), 1.4826), "robust sd ignores one wild value (MAD 1)")
md = stats.min_detectable([0.01 * ((i % 7) - 3) for i in range(50)], 0.05)
check(0.004 < md < 0.02, f"detectable shift of 50 differences with sd ~0.02: ~0.01 (got {md:.4f})")
check(stats.min_detectable([0.1], 0.05) == math.inf, "detectable shift of one difference: infinite")
h = stats.adjust_p([0.01, 0.04, 0.03], "holm")
check(all(close(x, y, 1e-12) for x, y in zip(h, [0.03, 0.06, 0.06])), f"Holm (got {h})")


# ---------------------------------------------------------------- the paired analysis

KEYS = [(b, w, t) for b in ("atomic", "refcount") for w in ("hammer", "private") for t in (1, 2)]


class FakeResults:
    """What compare_paired reads of a loaded file, built in memory."""

    def __init__(self, by_pair):
        self.by_pair = {}
        self.samples = {}
        for (b, w, t), pairs in by_pair.items():
            key = (b, w, t, "cores", 1, "0", "", "0")
            self.by_pair[key] = {i: [v] for i, v in pairs.items()}
            self.samples[key] = list(pairs.values())


def gate_data(rng, n_pairs, shift, noise=0.05, drift=0.0):
    """A and B per pair and row: a machine speed that drifts (a random walk
    of step `drift`, in log terms), the order in each pair by a coin, a
    second-in-pair penalty, noise per process; B slower by `shift` on the
    atomic rows only."""
    a, b = {k: {} for k in KEYS}, {k: {} for k in KEYS}
    speed = 0.0
    for i in range(1, n_pairs + 1):
        speed += rng.gauss(0, drift)
        b_first = rng.random() < 0.5
        for k in KEYS:
            base = 10.0 * k[2]
            first = math.exp(speed + rng.gauss(0, noise))
            second = math.exp(speed + drift / 3 + 0.02 + rng.gauss(0, noise))
            va, vb = (second, first) if b_first else (first, second)
            a[k][i] = base * va
            b[k][i] = base * vb * (math.exp(shift) if k[0] == "atomic" else 1.0)
    return FakeResults(a), FakeResults(b)


def verdicts(a, b):
    rows = compare.compare_paired(a, b, threshold=3.0, alpha=0.01, adjust="holm")
    return {r["key"][:3]: r for r in rows}


rng = random.Random(2026)
v = verdicts(*gate_data(rng, 60, math.log(1.10)))
slower = sorted(k for k, r in v.items() if r["verdict"] == "slower")
check(slower == sorted(k for k in KEYS if k[0] == "atomic"),
      f"a known 10% shift on the atomic rows is found there and only there (got {slower})")
r = v[("atomic", "private", 1)]
check(1.07 < r["ratio"] < 1.13 and r["ci_low"] < 1.10 < r["ci_high"] and r["n_pairs"] == 60,
      f"its ratio is ~1.10 and the interval holds 1.10 (got {r['ratio']:.3f} "
      f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}])")
check(all(0 < r["detectable_pct"] < 10 for r in v.values()),
      "every row could have detected less than 10% (noise 5%, 60 pairs)")
v = verdicts(*gate_data(rng, 60, 0.0))
check(all(r["verdict"] == "same" and not r["underpowered"] for r in v.values()),
      "no shift: every row same, none underpowered")

# The false-alarm rate under a drifting machine: 300 A/A gates, drift steps
# of 10% between pairs and a 2% second-in-pair penalty, which the coin
# spreads over both sides. Holm at alpha 0.01 over the 8 rows allows at most
# 1% of gates with any verdict; "slower" is one side of that. 9 of 300 (3%)
# would be far beyond chance.
rng = random.Random(7)
alarms = sum(any(r["verdict"] != "same" for r in verdicts(*gate_data(rng, 40, 0.0, 0.05, 0.10)).values())
             for _ in range(300))
check(alarms <= 8, f"A/A under drift: a verdict in at most 8 of 300 gates (got {alarms})")
# And the power at the same noise: a 10% shift on atomic found in >= 290 of 300.
rng = random.Random(8)
found = 0
for _ in range(300):
    v = verdicts(*gate_data(rng, 40, math.log(1.10), 0.05, 0.10))
    found += sorted(k for k, r in v.items() if r["verdict"] == "slower") == \
        sorted(k for k in KEYS if k[0] == "atomic")
check(found >= 290, f"10% shift under drift: atomic and only atomic in >= 290 of 300 gates (got {found})")

# Too few pairs: 5 pairs can give p >= 2/32 only; Holm over 8 rows needs
# p < 0.01/8: every row underpowered, verdicts same, whatever the data.
v = verdicts(*gate_data(random.Random(3), 5, math.log(2.0)))
check(all(r["underpowered"] and r["verdict"] == "same" for r in v.values()),
      "5 pairs: every row underpowered, never a verdict, even at +100%")

# ---------------------------------------------------------------- a figure's interval

# Levels by hand: n = 3, next run 3: the next median is below x_(1) when the
# first two of the 6 interleaved values... P(S = 0) = C(1,0) C(4,3)/C(6,3) =
# 4/20, both tails 0.4: [min, max] of 3 is a 60% interval; of 5, 1 - 2 x 21/252.
check(close(stats.prediction_level(3, 1), 0.6) and close(stats.prediction_level(5, 1), 1 - 42 / 252),
      f"prediction levels by hand: 3 -> 60%, 5 -> 83.3% (got {stats.prediction_level(3, 1)}, "
      f"{stats.prediction_level(5, 1)})")
check(stats.prediction_rank(11)[0] == 2 and stats.prediction_rank(11)[1] >= stats.PREDICTION_TARGET,
      f"11 units: the 2nd smallest to the 2nd largest reach 90% (got {stats.prediction_rank(11)})")
iv = stats.figure_interval([5.0, 1.0])
check(iv.median == 3.0 and not iv.has_interval and iv.spread_text() == "n=2",
      f"2 units: a median, no interval, 'n=2' instead of a '±' (got {iv})")
iv = stats.figure_interval([10, 11, 12, 30, 31, 32], [1, 1, 2, 2, 3, 3])
check(iv.units == "processes" and iv.n == 3 and (iv.median, iv.lo, iv.hi) == (21.0, 10.5, 31.5),
      f"several processes: the units are per-process medians (got {iv})")
iv = stats.figure_interval([10, 11, 12], [1, 1, 1])
check(iv.units == "repetitions" and iv.n == 3, f"one process: the units are its repetitions (got {iv})")
# Coverage by simulation: the next run's median falls outside no more often
# than stated, whatever the distribution (lognormal, skewed).
for n in (3, 5, 6, 9):
    rng = random.Random(n)
    miss, trials = 0, 4000
    for _ in range(trials):
        a = stats.figure_interval([rng.lognormvariate(0, 0.5) for _ in range(n)])
        b = stats.figure_interval([rng.lognormvariate(0, 0.5) for _ in range(n)])
        miss += b.median < a.lo or b.median > a.hi
    stated = 1 - stats.prediction_level(n, stats.prediction_rank(n)[0])
    check(miss / trials <= stated + 0.02 and (n % 2 == 0 or miss / trials >= stated - 0.03),
          f"{n} units: next median outside {miss / trials:.3f} of {trials}, stated {stated:.3f} "
          f"(exact for odd n, a bound for even)")
a, b, c = (stats.figure_interval(v) for v in ([1, 2, 3], [2.5, 3.5, 4], [4, 5, 6]))
check(stats.within_spread(a, b) and not stats.within_spread(a, c) and stats.separated(a, c),
      "within spread means the intervals overlap; apart means they do not")
check(stats.within_spread(a, stats.figure_interval([9, 9.5])),
      "a figure without an interval is never apart from anything")

# ---------------------------------------------------------------- calibrate on constructed data

import csv as _csv
import io as _io
import tempfile
from contextlib import redirect_stdout
from analysis import calibrate

COLS = ["backend", "workload", "threads", "placement", "objects", "work_ns", "rep", "iterations",
        "ns_per_op", "ops_per_s", "norm", "fairness", "cpus", "check"]


def sweep(path, rng, processes, between=0.05, within=0.01, rows=60, speed=1.0):
    """A results file: `rows` benchmarks at 1 and 2 threads, 5 repetitions
    each; each process of the run adds its own offset (between), each
    repetition its noise (within). processes: True = each repetition in its
    own process (the process column); False = all in one process (the same
    offset for every repetition of a row, no process column). speed: the
    whole machine slower by that factor (ns scaled; norm, over a floor
    measured beside it, not)."""
    cols = COLS + (["process"] if processes else [])
    with open(path, "w", newline="") as f:
        w = _csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for i in range(rows):
            threads = 1 + i % 2
            base = 10.0 * (1 + i)
            one = rng.gauss(0, between)
            for rep in range(5):
                off = rng.gauss(0, between) if processes else one
                ns = base * math.exp(off + rng.gauss(0, within))
                w.writerow(["b%d" % i, "hammer", threads, "cores", 1, 0, rep, 1000,
                            f"{ns * speed:.4f}", int(1e9 / (ns * speed)), f"{ns / 10:.4f}", "1.0",
                            "0", "ok"] + ([rep + 1] if processes else []))


def run_calibrate(a, b, *extra):
    buf = _io.StringIO()
    with redirect_stdout(buf):
        rc = calibrate.main([a, b, *extra])
    return rc, buf.getvalue()


with tempfile.TemporaryDirectory() as tmp:
    rng = random.Random(21)
    paths = {k: os.path.join(tmp, k + ".csv") for k in ("pa", "pb", "oa", "ob")}
    sweep(paths["pa"], rng, True)
    sweep(paths["pb"], rng, True)
    sweep(paths["oa"], rng, False)
    sweep(paths["ob"], rng, False)
    rc, out = run_calibrate(paths["pa"], paths["pb"])
    check(rc == 0 and out.count(": as stated") == 2 and "units: processes" in out,
          f"calibrate: repetitions in processes of their own: covered as stated in both thread "
          f"groups, exit 0 (got {rc}: {out.strip()})")
    slow = os.path.join(tmp, "slow.csv")
    sweep(slow, rng, True, speed=1.15)
    rc, out = run_calibrate(paths["pa"], slow)
    check(rc == 1 and "CLEARLY WORSE THAN STATED" in out,
          f"calibrate: a machine 15% slower in B moves every ns figure: clearly worse, exit 1 "
          f"(got {rc}: {out.strip()[:200]})")
    rc, out = run_calibrate(paths["pa"], slow, "--column", "norm")
    check(rc == 0 and out.count(": as stated") == 2,
          f"calibrate --column norm: the same runs over their floors: as stated, exit 0 "
          f"(got {rc}: {out.strip()[:200]})")
    rc, out = run_calibrate(paths["oa"], paths["ob"])
    check(rc == 1 and "CLEARLY WORSE THAN STATED" in out and "1 thread rows" in out
          and "multi-thread rows" in out,
          f"calibrate: one process per row, variation between processes unseen: clearly worse, "
          f"exit 1 (got {rc}: {out.strip()[:300]})")
    with open(paths["pa"]) as f:
        few = "".join(f.readlines()[:16])
    with open(os.path.join(tmp, "few.csv"), "w") as f:
        f.write(few)
    rc, out = run_calibrate(os.path.join(tmp, "few.csv"), paths["pb"])
    check(rc == 2, f"calibrate: fewer than {calibrate.MIN_ROWS} rows a group: no answer, exit 2 (got {rc})")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
