"""Change points in a series of run levels: E-divisive means (Matteson and
James, "A Nonparametric Approach for Multiple Change Point Analysis of
Multivariate Data", JASA 2014), as MongoDB's signal processing and Apache
Otava use it on performance histories.

    detect(values, alpha, min_size, min_change, permutations, seed)
        -> [ChangePoint(index, before, after, ratio, p, q), ...] by index

The divergence of two samples X (m values) and Y (k values), with alpha = 1:

    E = 2/(mk) sum|x - y| - 1/C(m,2) sum_{i<j}|x_i - x_j| - 1/C(k,2) sum_{i<j}|y_i - y_j|
    Q = mk/(m+k) E

E is 0 in expectation when X and Y come from one distribution and positive
otherwise, whatever the distribution (no normality: the distances, not the
squares, so one outlier moves it little). In a segment, the candidate is
the split tau (at least min_size values a side) with the largest Q; the
segment ends where it ends (the split's kappa fixed at the segment's end,
as the performance tools do).

Hierarchical, as the paper: among the current segments, the best candidate
of all is tested by permutation: the values of every segment are shuffled
within their segment R times, and p = (1 + #{shuffles whose best Q >= the
observed}) / (R + 1). A significant candidate (p < alpha) splits its
segment and the search goes on; the first one that is not ends it, so
"nothing changed" gives a false alarm with probability about alpha per
series. Last, a change point is reported only when the medians of its
neighbouring segments differ by at least min_change (a fraction): the test
says "the distribution moved", the minimum says "by enough to matter".

The rates on constructed series (steps, noise, outliers) are measured by
.ci/changepoint_power.py; README, "Results over time", states them.
"""

import collections

import numpy as np

DEFAULT_ALPHA = 0.05
DEFAULT_MIN_SIZE = 3
DEFAULT_MIN_CHANGE = 0.05
DEFAULT_PERMUTATIONS = 199

ChangePoint = collections.namedtuple("ChangePoint", "index before after ratio p q")


def q_statistics(x, min_size):
    """Q for every split tau of x (min_size <= tau <= n - min_size): an
    array indexed by tau - min_size; empty when x is too short."""
    n = len(x)
    if n < 2 * min_size:
        return np.empty(0)
    d = np.abs(x[:, None] - x[None, :])
    s = np.zeros((n + 1, n + 1))
    s[1:, 1:] = d.cumsum(0).cumsum(1)

    def block(r0, r1, c0, c1):     # sum d[r0:r1, c0:c1], vectorised over arrays
        return s[r1, c1] - s[r0, c1] - s[r1, c0] + s[r0, c0]
    tau = np.arange(min_size, n - min_size + 1)
    m, k = tau.astype(float), (n - tau).astype(float)
    cross = block(0, tau, tau, n)
    left = block(0, tau, 0, tau) / 2           # each pair once
    right = block(tau, n, tau, n) / 2
    e = 2 * cross / (m * k) - left / (m * (m - 1) / 2) - right / (k * (k - 1) / 2)
    return m * k / (m + k) * e


def best_split(x, min_size):
    """(Q, tau) of x's best split, or (-inf, None)."""
    q = q_statistics(x, min_size)
    if q.size == 0:
        return -np.inf, None
    i = int(np.argmax(q))
    return float(q[i]), i + min_size


def detect(values, alpha=DEFAULT_ALPHA, min_size=DEFAULT_MIN_SIZE, min_change=DEFAULT_MIN_CHANGE,
           permutations=DEFAULT_PERMUTATIONS, seed=1):
    """The change points of values (a sequence of positive levels, e.g.
    ns/op per run in time order), as the module says. Deterministic for a
    given seed."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ValueError("values must be a sequence of finite numbers")
    rng = np.random.default_rng(seed)
    bounds = [0, len(x)]               # segment boundaries, sorted
    found = {}                          # index -> (p, Q)
    while True:
        segs = list(zip(bounds[:-1], bounds[1:]))
        cands = [(best_split(x[a:b], min_size), a) for a, b in segs]
        (q_obs, tau), start = max(cands, key=lambda c: c[0][0])
        if tau is None:
            break
        exceed = 0
        for _ in range(permutations):
            q_perm = max(best_split(rng.permutation(x[a:b]), min_size)[0] for a, b in segs)
            exceed += q_perm >= q_obs
        p = (1 + exceed) / (permutations + 1)
        if p >= alpha:
            break
        found[start + tau] = (p, q_obs)
        bounds = sorted(bounds + [start + tau])
    out = []
    for i, idx in enumerate(bounds[1:-1], start=1):
        before = float(np.median(x[bounds[i - 1]:idx]))
        after = float(np.median(x[idx:bounds[i + 1]]))
        ratio = after / before if before > 0 else float("inf")
        if abs(ratio - 1) >= min_change:
            out.append(ChangePoint(idx, before, after, ratio, *found[idx]))
    return out
