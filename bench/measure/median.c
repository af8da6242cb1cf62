#include "median.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double *sorted_copy(const double *v, int n)
{
	double *s = malloc(sizeof(double) * (size_t)(n ? n : 1));

	if (!s) {
		fprintf(stderr, "krefbench: out of memory\n");
		exit(2);
	}
	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	return s;
}

double kb_median(const double *v, int n)
{
	double *s, m;

	if (n <= 0)
		return 0;
	s = sorted_copy(v, n);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

/*
 * Order statistics: [x(j), x(n+1-j)] covers the median with probability
 * 1 - 2 P(B <= j-1), B ~ Binomial(n, 1/2), whatever the distribution. The
 * largest j whose coverage is still >= 95%; with fewer than 6 values none
 * reaches 95% and the interval is [min, max] (coverage 1 - 2^(1-n)).
 */
void kb_median_interval(const double *v, int n, double *lo, double *hi, double *coverage)
{
	double *s, tail = 0, p = ldexp(1.0, -n);	/* P(B = 0) */
	int j = 1;

	*lo = *hi = *coverage = 0;
	if (n <= 0)
		return;
	s = sorted_copy(v, n);
	/* tail = P(B <= j-1); grow j while the next interval keeps 95% */
	tail = p;
	for (int k = 1; k < n / 2; k++) {
		double next = tail + p * (n - k + 1) / k;	/* P(B <= k) */

		if (1 - 2 * next < 0.95)
			break;
		p = p * (n - k + 1) / k;
		tail = next;
		j = k + 1;
	}
	*lo = s[j - 1];
	*hi = s[n - j];
	*coverage = n > 1 ? 1 - 2 * tail : 0;
	free(s);
}

