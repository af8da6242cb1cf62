/*
 * What a workload reports beside its window: a latency distribution (the
 * CSV's lat_p50_ns, lat_p99_ns, lat_p999_ns, lat_max_ns), how many of its
 * threads count operations (when not all do: `read` times one reader, or
 * the writers beside it), and how its releases happen (`release_via`).
 *
 * One benchmark runs at a time, so this is one process-wide record: the
 * scheduler resets it before each attempt and reads it after
 * (bench/sweep.c); the bodies merge into it once per thread, after their
 * timed loop, never inside it.
 *
 * The histogram is log-linear: exact below 16 ns, then 16 buckets per
 * power of two, so a percentile is reported as its bucket's midpoint,
 * within 1/32 (3%) of the true sample; the maximum is exact.
 */
#ifndef KREFBENCH_BENCH_LATENCY_H
#define KREFBENCH_BENCH_LATENCY_H

#include <stdbool.h>
#include <stdint.h>

#define KB_LAT_BUCKETS 1024
/*
 * hammer and lookup_rcu time one operation in every KB_LAT_STRIDE of a
 * sampled batch, and a batch is sampled when KB_LAT_PERIOD_NS have passed
 * since the last sampled one (the batch's start is the window loop's own
 * clock read). So sampling costs at most KB_BATCH / KB_LAT_STRIDE sample
 * pairs of clock reads per period, under 1% whatever an operation costs,
 * and still gives ~10,000 samples per thread in a 50 ms window of fast
 * operations (every batch of slow ones is sampled). A stride alone would
 * cost a 1.3 ns pair (percpu's) 13%: one 30 ns sample per 256 pairs.
 */
#define KB_LAT_STRIDE 256
#define KB_LAT_PERIOD_NS 20000

/* Whether the batch that started at `now` is sampled; *last: the last that was. */
static inline bool kb_lat_sample_batch(bool sampling, uint64_t now, uint64_t *last)
{
	if (!sampling || now - *last < KB_LAT_PERIOD_NS)
		return false;
	*last = now;
	return true;
}

struct kb_lat_hist {
	uint64_t count[KB_LAT_BUCKETS];
	uint64_t n, max;
};

static inline unsigned int kb_lat_bucket(uint64_t v)
{
	if (v < 16)
		return (unsigned int)v;
	unsigned int e = 63u - (unsigned int)__builtin_clzll(v);	/* >= 4 */

	return (e - 3) * 16 + (unsigned int)((v >> (e - 4)) & 15);
}

static inline void kb_lat_add(struct kb_lat_hist *h, uint64_t v)
{
	h->count[kb_lat_bucket(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

/* --no-latency clears it: the loops then time nothing (their overhead, measured). */
extern bool kb_lat_sampling;

void kb_lat_hist_merge(struct kb_lat_hist *into, const struct kb_lat_hist *from);
/* The value below which a fraction q of the samples lie (bucket midpoint); -1 when empty. */
double kb_lat_quantile(const struct kb_lat_hist *h, double q);

/* ---- the record beside the window ---- */

void kb_beside_reset(void);
/* A thread's samples (thread-safe). */
void kb_beside_add_latency(const struct kb_lat_hist *h);
/* Threads whose operations are the figure (0: all of them). */
void kb_beside_set_counted_threads(int n);
void kb_beside_set_release_via(const char *text);

struct kb_beside_result {
	double p50, p99, p999, max;	/* ns; < 0: no samples */
	uint64_t samples;
	int counted_threads;		/* 0: all */
	const char *release_via;	/* "" unless the workload said */
};
void kb_beside_read(struct kb_beside_result *r);

#endif
