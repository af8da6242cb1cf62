/* Order statistics for the figures shown to a person: a median and its spread. */
#ifndef KREFBENCH_BENCH_STATS_H
#define KREFBENCH_BENCH_STATS_H

/* The median of v[0..n) (0 when n is 0). */
double kb_median(const double *v, int n);
/*
 * A distribution-free interval for that median: [x(j), x(n+1-j)] of the
 * sorted values, covering the true median with probability
 * 1 - 2 P(B <= j-1), B ~ Binomial(n, 1/2). The narrowest with coverage
 * >= 95%; below 6 values none reaches 95%: [min, max] and its coverage.
 */
void kb_median_interval(const double *v, int n, double *lo, double *hi, double *coverage);

#endif
