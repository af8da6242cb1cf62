#include "latency.h"

#include <pthread.h>
#include <string.h>

bool kb_lat_sampling = true;

void kb_lat_hist_merge(struct kb_lat_hist *into, const struct kb_lat_hist *from)
{
	for (int i = 0; i < KB_LAT_BUCKETS; i++)
		into->count[i] += from->count[i];
	into->n += from->n;
	if (from->max > into->max)
		into->max = from->max;
}

static double bucket_mid(unsigned int b)
{
	if (b < 16)
		return b;
	unsigned int e = b / 16 + 3, sub = b % 16;
	double lo = (double)(16 + sub) * (double)(1ull << (e - 4));

	return lo + (double)(1ull << (e - 4)) / 2;
}

double kb_lat_quantile(const struct kb_lat_hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (!h->n)
		return -1;
	rank = (uint64_t)(q * (double)h->n);
	if (rank >= h->n)
		rank = h->n - 1;
	for (unsigned int b = 0; b < KB_LAT_BUCKETS; b++) {
		seen += h->count[b];
		if (seen > rank) {
			double mid = bucket_mid(b);

			return mid > (double)h->max ? (double)h->max : mid;
		}
	}
	return (double)h->max;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct kb_lat_hist row_hist;
static int counted_threads;
static const char *release_via = "";

void kb_beside_reset(void)
{
	pthread_mutex_lock(&lock);
	memset(&row_hist, 0, sizeof(row_hist));
	counted_threads = 0;
	release_via = "";
	pthread_mutex_unlock(&lock);
}

void kb_beside_add_latency(const struct kb_lat_hist *h)
{
	pthread_mutex_lock(&lock);
	kb_lat_hist_merge(&row_hist, h);
	pthread_mutex_unlock(&lock);
}

void kb_beside_set_counted_threads(int n)
{
	pthread_mutex_lock(&lock);
	counted_threads = n;
	pthread_mutex_unlock(&lock);
}

void kb_beside_set_release_via(const char *text)
{
	pthread_mutex_lock(&lock);
	release_via = text;
	pthread_mutex_unlock(&lock);
}

void kb_beside_read(struct kb_beside_result *r)
{
	pthread_mutex_lock(&lock);
	r->samples = row_hist.n;
	r->p50 = kb_lat_quantile(&row_hist, 0.5);
	r->p99 = kb_lat_quantile(&row_hist, 0.99);
	r->p999 = kb_lat_quantile(&row_hist, 0.999);
	r->max = row_hist.n ? (double)row_hist.max : -1;
	r->counted_threads = counted_threads;
	r->release_via = release_via;
	pthread_mutex_unlock(&lock);
}
