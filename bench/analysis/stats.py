"""Rank statistics for comparing krefbench runs (standard library only): the
two-sample test of bench/analysis/compare.py and the paired test of bench/analysis/gate.py.

    mann_whitney(a, b)         unpaired: U, two-sided p, method, smallest p
    signed_rank(d)             paired: Wilcoxon signed-rank on differences
    hodges_lehmann(d, conf)    the shift those differences estimate, with its
                               distribution-free confidence interval
    min_detectable(d, alpha)   the smallest shift a test like this one would
                               find with 80% power, given the spread of d
    adjust_p(ps, method)       Holm / Benjamini-Hochberg over a family

Why ranks: timings are skewed with long right tails (interrupts, neighbours);
a mean or a t-test follows the outliers, ranks do not. Why the smallest
reachable p: with few observations no arrangement can be extreme enough for
a small p; every method here reports that bound, and the p it returns is
never below it (an approximation can undershoot the exact bound).
"""

import math
import statistics

EXACT_LIMIT = 50        # exact null distributions below this many observations


# ---------------------------------------------------------------- shared

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


def normal_two_sided(z):
    """Two-sided p of a standard normal deviate."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def normal_quantile(p):
    """Phi^-1(p), 0 < p < 1: bisection on erfc (enough for critical values)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"normal_quantile({p})")
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if 0.5 * math.erfc(-mid / math.sqrt(2.0)) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def geomean(ratios):
    ratios = list(ratios)
    if not ratios:
        return None
    return math.exp(sum(math.log(x) for x in ratios) / len(ratios))


# ---------------------------------------------------------------- Mann-Whitney

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
    return normal_two_sided(z)


def mann_whitney_floor(n1, n2):
    """The smallest two-sided p any arrangement of n1 vs n2 can have: one
    extreme arrangement of C(n1+n2, n1), in either direction."""
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def mann_whitney(a, b):
    """(U of a, two-sided p, method, smallest p these samples allow).

    U counts the (a, b) pairs with a > b, ties 1/2 (U = 0: every b above
    every a). Exact without ties when both samples are under EXACT_LIMIT (as
    R's wilcox.test), else the normal approximation. The smallest p is the
    exact bound 2/C(n1+n2, n1), or the approximation's value at U = 0 with
    these ties when that is larger; p itself is never below it, so 3 vs 3
    (bound 0.1) can never be significant at 0.05 whatever the method.
    """
    n1, n2 = len(a), len(b)
    r, groups = ranks(list(a) + list(b))
    u = sum(r[:n1]) - n1 * (n1 + 1) / 2.0
    ties = any(t > 1 for t in groups)
    floor = mann_whitney_floor(n1, n2)
    if not ties and n1 < EXACT_LIMIT and n2 < EXACT_LIMIT:
        return u, max(floor, exact_p(u, n1, n2)), "exact", floor
    floor = max(floor, normal_p(0, n1, n2, groups))
    return u, max(floor, normal_p(u, n1, n2, groups)), "normal", floor


# ---------------------------------------------------------------- signed rank

_w_counts_cache = {}


def w_counts(n):
    """counts[w] = number of the 2^n sign assignments of ranks 1..n whose
    positive ranks sum to w (the exact null distribution of W+)."""
    if n in _w_counts_cache:
        return _w_counts_cache[n]
    total = n * (n + 1) // 2
    counts = [0] * (total + 1)
    counts[0] = 1
    top = 0
    for k in range(1, n + 1):
        top += k
        for w in range(top, k - 1, -1):
            counts[w] += counts[w - k]
    _w_counts_cache[n] = counts
    return counts


def signed_rank(d):
    """Wilcoxon signed-rank test that the differences d are centred on 0.

    Returns a dict: n (differences used: zeros are dropped, as Wilcoxon and
    R do), w_plus (sum of the ranks of |d| over the positive d), p (two-
    sided, never below p_min), method ("exact": n < EXACT_LIMIT and no tied
    |d|; else "normal", tie- and continuity-corrected), p_min (the smallest
    p n differences allow: 2/2^n, or the approximation's extreme if larger).
    With no differences at all p = p_min = 1.
    """
    d = [x for x in d if x != 0]
    n = len(d)
    if n == 0:
        return {"n": 0, "w_plus": 0.0, "p": 1.0, "method": "none", "p_min": 1.0}
    r, groups = ranks([abs(x) for x in d])
    w_plus = sum(rk for rk, x in zip(r, d) if x > 0)
    total = n * (n + 1) / 2.0
    floor = min(1.0, 2.0 / 2 ** n)
    ties = any(t > 1 for t in groups)
    if n < EXACT_LIMIT and not ties:
        counts = w_counts(n)
        lo = int(min(w_plus, total - w_plus))
        p = min(1.0, 2.0 * sum(counts[:lo + 1]) / 2 ** n)
        return {"n": n, "w_plus": w_plus, "p": max(floor, p), "method": "exact",
                "p_min": floor}

    def approx(w):
        var = n * (n + 1) * (2 * n + 1) / 24.0 - sum(t ** 3 - t for t in groups) / 48.0
        if var <= 0:
            return 1.0
        return normal_two_sided(max(0.0, abs(w - total / 2.0) - 0.5) / math.sqrt(var))
    floor = max(floor, approx(0.0))
    return {"n": n, "w_plus": w_plus, "p": max(floor, approx(w_plus)), "method": "normal",
            "p_min": floor}


def walsh_averages(d):
    """Every (d_i + d_j)/2 with i <= j, sorted: n(n+1)/2 of them."""
    d = sorted(d)
    out = [(d[i] + d[j]) / 2.0 for i in range(len(d)) for j in range(i, len(d))]
    out.sort()
    return out


def signed_rank_critical(n, alpha):
    """The largest k with P(W+ <= k) <= alpha/2 under the null (-1: none),
    exact below EXACT_LIMIT, else from the normal approximation."""
    if n < EXACT_LIMIT:
        counts = w_counts(n)
        total, acc, k = 2 ** n, 0, -1
        for w, c in enumerate(counts):
            acc += c
            if acc / total > alpha / 2:
                break
            k = w
        return k
    m = n * (n + 1) / 4.0
    sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
    return max(-1, int(math.floor(m - 0.5 - normal_quantile(1 - alpha / 2) * sd)))


def hodges_lehmann(d, conf=0.95):
    """(estimate, low, high): the Hodges-Lehmann estimate of the centre of d
    (the median of the Walsh averages) and the confidence interval that
    inverts the signed-rank test (R's wilcox.test(conf.int = TRUE)); low and
    high are -inf/+inf when n is too small for that confidence."""
    if not d:
        return None, None, None
    w = walsh_averages(d)
    est = statistics.median(w)
    k = signed_rank_critical(len(d), 1 - conf)
    if k < 0:
        return est, -math.inf, math.inf
    return est, w[k], w[len(w) - 1 - k]


def robust_sd(d):
    """1.4826 x the median absolute deviation: the sd of a normal sample,
    unmoved by a few wild values."""
    if len(d) < 2:
        return math.inf
    med = statistics.median(d)
    return 1.4826 * statistics.median([abs(x - med) for x in d])


def min_detectable(d, alpha, power=0.8):
    """The smallest shift of the centre of d that a two-sided signed-rank
    test at level alpha finds with the given power, from the spread of d
    (robust sd) and its size: (z_{1-alpha/2} + z_power) x sd / sqrt(3n/pi)
    (the test's asymptotic efficiency 3/pi against the t-test). inf when
    fewer than 2 differences."""
    n = len(d)
    if n < 2:
        return math.inf
    z = normal_quantile(1 - alpha / 2) + normal_quantile(power)
    return z * robust_sd(d) / math.sqrt(3.0 * n / math.pi)


# ---------------------------------------------------------------- families

ADJUSTMENTS = ("none", "holm", "bh")


def adjust_p(ps, method):
    """p-values adjusted for testing len(ps) hypotheses at once.

    none  as they are (each on its own)
    holm  Holm's step-down: the chance of any false verdict in the family
          stays below alpha, whatever the dependence between rows
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
    elif method == "bh":
        running = 1.0
        for rank in range(m - 1, -1, -1):
            i = order[rank]
            running = min(running, min(1.0, m / (rank + 1) * ps[i]))
            adj[i] = running
    else:
        raise ValueError(f"unknown adjustment {method!r}")
    return adj


def median_interval(values):
    """(median, lo, hi): the median and a distribution-free interval for it
    (order statistics; bench/measure/median.c's kb_median_interval is the
    same rule for the binary's summary)."""
    s = sorted(values)
    n = len(s)
    if not n:
        return None
    m = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    p = 2.0 ** -n
    tail, j = p, 1
    for k in range(1, n // 2):
        nxt = tail + p * (n - k + 1) / k
        if 1 - 2 * nxt < 0.95:
            break
        p = p * (n - k + 1) / k
        tail, j = nxt, k + 1
    return m, s[j - 1], s[n - j]


# ---------------------------------------------------------------- a figure's interval

# The one interval printed beside a figure (decide, report, compare's tables)
# and the one meaning of "within spread": two such intervals overlap.
#
# What it predicts: the figure of the next run of the same command, i.e. the
# median over the same number of units. A unit is a process when the
# repetitions came from several (the `process` column): the median of each
# process's clean repetitions, so that what changes between processes
# (layout, allocator, thread state) is in the interval; a process is the
# independent draw, its repetitions are not. Without that column (or with one
# process) the units are the repetitions of one process, which cannot show
# the variation between processes: the interval then says so (`units`).
#
# Why this interval: with n units drawn independently from one distribution,
# and a next run of n more, every interleaving of the 2n values is equally
# likely, so the chance that the next run's median lies outside
# [x_(j), x_(n+1-j)] of this run is a count of interleavings, whatever the
# distribution (prediction interval for a future median; Danziger & Davis,
# 1964). No normality, no bootstrap with too few processes to resample, and
# the level is exact (odd n) or a lower bound (even n: the median is then the
# mean of two middle values, bounded by them). A confidence interval for the
# median would be too narrow for this purpose: the next run's median has its
# own noise. The level is the one the n it has can give, and it is stated:
# [min, max] of 3 units is a 60% interval, of 5 an 83% one, of 7 a 93% one.
PREDICTION_TARGET = 0.90    # the narrowest order statistics that reach this
MIN_UNITS = 3               # fewer: the figure has no interval ("n=2")


def future_median_below(n, j, m):
    """P(the median of m future values < the j-th smallest of n present
    ones), all n + m independent from one continuous distribution; for even
    m an upper bound (the lower of the two middle values is below)."""
    k = (m + 1) // 2
    total = math.comb(n + m, n)
    return sum(math.comb(s + k - 1, s) * math.comb(n - s + m - k, n - s)
               for s in range(j)) / total


def prediction_level(n, j, m=None):
    """Probability (at least) that the median of m (default n) future values
    falls inside [x_(j), x_(n+1-j)] of n present ones."""
    m = n if m is None else m
    return 1.0 - 2.0 * future_median_below(n, j, m)


def prediction_rank(n, target=PREDICTION_TARGET):
    """(j, level): the largest j whose [x_(j), x_(n+1-j)] reaches target, or
    j = 1 (min, max) with the level it has when none does."""
    best = 1
    for j in range(2, (n + 1) // 2 + 1):
        if prediction_level(n, j) < target:
            break
        best = j
    return best, prediction_level(n, best)


class Interval:
    """A figure: the median over its units with the prediction interval above.

    median   the figure (None when there are no values)
    lo, hi   the interval's ends, None with fewer than MIN_UNITS units
    n        units (processes, or repetitions of one process)
    level    the probability (exact or a lower bound) that the next run's
             median falls inside; None without an interval
    units    "processes" or "repetitions" (one process: variation between
             processes is not in the interval)
    """

    def __init__(self, median, lo, hi, n, level, units):
        self.median, self.lo, self.hi = median, lo, hi
        self.n, self.level, self.units = n, level, units

    def __bool__(self):
        return self.median is not None

    @property
    def has_interval(self):
        return self.lo is not None

    def half_width_pct(self):
        """The larger distance from the median to an end, in percent (the
        '±'); None without an interval."""
        if not self.has_interval or not self.median:
            return None
        return 100.0 * max(self.hi - self.median, self.median - self.lo) / self.median

    def spread_text(self):
        """'±4%' or 'n=2' (no '±' below MIN_UNITS units)."""
        h = self.half_width_pct()
        return f"±{h:.0f}%" if h is not None else f"n={self.n}"

    def __repr__(self):
        return (f"Interval(median={self.median}, lo={self.lo}, hi={self.hi}, n={self.n}, "
                f"level={self.level}, units={self.units!r})")


def figure_interval(values, processes=None, target=PREDICTION_TARGET):
    """The Interval of values (None and non-finite ones dropped); processes,
    when given, is a parallel list naming the process that measured each
    value: with two or more processes the units are per-process medians."""
    pairs = [(v, p) for v, p in zip(values, processes if processes is not None
                                    else [None] * len(values))
             if v is not None and math.isfinite(v)]
    groups = {}
    for v, p in pairs:
        groups.setdefault(p, []).append(v)
    if len(groups) >= 2 and None not in groups:
        units, kind = [statistics.median(g) for g in groups.values()], "processes"
    else:
        units, kind = [v for v, _ in pairs], "repetitions"
    n = len(units)
    if n == 0:
        return Interval(None, None, None, 0, None, kind)
    med = statistics.median(units)
    if n < MIN_UNITS:
        return Interval(med, None, None, n, None, kind)
    s = sorted(units)
    j, level = prediction_rank(n, target)
    return Interval(med, s[j - 1], s[n - j], n, level, kind)


def separated(a, b):
    """True when a's interval lies wholly below b's or above it; figures
    without an interval are never separated from anything."""
    if not (a and b and a.has_interval and b.has_interval):
        return False
    return a.hi < b.lo or b.hi < a.lo


def within_spread(a, b):
    """The one meaning of "(within spread)": the two intervals overlap (or
    either figure has too few units to have one)."""
    return not separated(a, b)
