/*
 * churn's accounting can fail: the workload's own per-thread loop
 * (bench/workloads/churn.h) over three broken test-only backends must be caught, each
 * with its own verdict, and over a correct one must pass:
 *
 *   early   the put that brings the count to 1 releases (one reference
 *           still held): the holders see poison -> "freed early"
 *   leak    no put ever releases -> "leaked"
 *   twice   the last put releases twice -> "released twice"
 *   good    atomic counting, released once on the last put -> ok
 *
 * Also, per thread count and --uses, the books of the good backend balance
 * exactly (created = released = freed = lifetimes run).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workloads/churn.h"
#include "check.h"
#include "core/lib/rcu.h"

enum fault { GOOD, EARLY, LEAK, TWICE };

struct kref_test {
	atomic_long count;
	atomic_int fault;	/* which fault this object has */
};

static enum fault current_fault;

static int kref_test_init(struct kref_test *r)
{
	atomic_init(&r->count, 1);
	atomic_init(&r->fault, (int)current_fault);
	return 0;	/* a leaked object's memory goes with its pool's slabs (churn_ctx_fini) */
}

static void kref_test_get(struct kref_test *r) { atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed); }

static int kref_test_put(struct kref_test *r, void (*release)(struct kref_test *))
{
	long left = atomic_fetch_sub_explicit(&r->count, 1, memory_order_acq_rel) - 1;

	switch ((enum fault)atomic_load_explicit(&r->fault, memory_order_relaxed)) {
	case EARLY:
		if (left == 1) {	/* one reference still out there */
			release(r);
			return 1;
		}
		return 0;
	case LEAK:
		return 0;
	case TWICE:
		if (left == 0) {
			release(r);
			release(r);
			return 1;
		}
		return 0;
	case GOOD:
		break;
	}
	if (left == 0) {
		release(r);
		return 1;
	}
	return 0;
}

static int kref_test_kill(struct kref_test *r, void (*release)(struct kref_test *)) { return kref_test_put(r, release); }
static void kref_test_sync(void) {}

static void test_release(struct kref_test *r)
{
	struct churn_obj *o = (struct churn_obj *)(void *)r;

	if (churn_released(o))
		churn_free(o);
}

CHURN_DEFINE(test, test_release)

struct worker {
	pthread_t tid;
	struct churn_ctx *c;
	pthread_barrier_t *barrier;
	int t, lifetimes, done;
};

/* The workload's thread: lifetimes, stop, wait for all, drain (bench/workloads/churn.c). */
static void *worker(void *arg)
{
	struct worker *w = arg;

	kb_rcu_register();
	for (int i = 0; i < w->lifetimes; i++) {
		w->done += churn_lifetime_test(w->c, w->t, kref_test_sync) == 0;
		churn_serve_test(w->c, w->t);
	}
	atomic_store(&w->c->stopped[w->t], true);
	pthread_barrier_wait(w->barrier);
	churn_serve_test(w->c, w->t);
	return NULL;
}

/* Run `threads` threads of `lifetimes` each; the check's verdict in text ("" when ok). */
static int run(enum fault fault, int threads, int uses, int lifetimes, char *text, size_t len, long *created)
{
	struct churn_ctx c;
	struct worker w[8];
	pthread_barrier_t barrier;
	int rc;

	current_fault = fault;
	text[0] = 0;
	if (churn_ctx_init(&c, threads, uses, NULL)) {
		snprintf(text, len, "out of memory");
		return -2;
	}
	/* A broken backend's holders may use an object long after its free:
	 * it is never reused (the benchmark's quarantine is bounded). */
	c.keep_freed = fault != GOOD;
	pthread_barrier_init(&barrier, NULL, (unsigned int)threads);
	for (int t = 0; t < threads; t++) {
		w[t] = (struct worker){ .c = &c, .barrier = &barrier, .t = t, .lifetimes = lifetimes };
		pthread_create(&w[t].tid, NULL, worker, &w[t]);
	}
	for (int t = 0; t < threads; t++)
		pthread_join(w[t].tid, NULL);
	pthread_barrier_destroy(&barrier);
	*created = 0;
	for (int t = 0; t < threads; t++)
		*created += w[t].done;
	rc = churn_check(&c, text, len);
	CHECK_EQ(atomic_load(&c.created), *created, "objects created = lifetimes that ran");
	churn_ctx_fini(&c);
	return rc;
}

int main(void)
{
	static const struct { enum fault fault; const char *name, *want; } faults[] = {
		{ EARLY, "early", "freed early" },
		{ LEAK, "leak", "leaked" },
		{ TWICE, "twice", "released twice" },
	};
	char text[200];
	long created;

	for (int threads = 1; threads <= 3; threads++)
		for (int uses = 1; uses <= 64; uses *= 8) {
			int rc = run(GOOD, threads, uses, 2000, text, sizeof(text), &created);

			CHECK(rc == 0, "good backend, %d threads, uses %d: check says '%s'", threads, uses, text);
			CHECK_EQ(created, threads * 2000, "every lifetime ran");
		}
	for (size_t f = 0; f < sizeof(faults) / sizeof(faults[0]); f++)
		for (int threads = 1; threads <= 2; threads++) {
			int rc = run(faults[f].fault, threads, 4, 500, text, sizeof(text), &created);

			CHECK(rc != 0 && strstr(text, faults[f].want),
			      "%s backend at %d threads: check says '%s', want '%s'", faults[f].name, threads, text,
			      faults[f].want);
			printf("%s at %d threads caught: %s\n", faults[f].name, threads, text);
		}
	return check_summary();
}
