/*
 * Forced schedules: each case stops one thread exactly inside a scheme's
 * critical gap (a KB_TEST_HOOK, core/lib/compiler.h, compiled in only here and
 * in kb_core_hooks) and runs the racing operation there, in another thread,
 * every run. Threads hand the baton to each other through one stage counter
 * under a mutex; nothing sleeps and hopes.
 *
 *   test_forced refcache  a reference moves between two caches inside one
 *                         epoch; both flush a zero delta (refcache.c)
 *   test_forced sloppy    kill reconciles between a put's spare CAS and its
 *                         central subtraction (sloppy.h)
 *   test_forced brc       an owner's exit merge drops a parent while another
 *                         thread merges that parent itself (brc.c)
 *
 * Each case asserts "released exactly once, never while held".
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "check.h"
#include "core/backends/brc.h"
#include "core/backends/refcache.h"
#include "core/backends/sloppy.h"

#if !defined(KREFBENCH_TEST_HOOKS)
#error "test_forced needs the hooks: link kb_core_hooks (it defines KREFBENCH_TEST_HOOKS)"
#endif

/* ---- the baton: stages only move forward ---- */

static pthread_mutex_t baton_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t baton_moved = PTHREAD_COND_INITIALIZER;
static int stage;

static void stage_reach(int s)
{
	pthread_mutex_lock(&baton_lock);
	if (stage < s)
		stage = s;
	pthread_cond_broadcast(&baton_moved);
	pthread_mutex_unlock(&baton_lock);
}

static void stage_wait(int s)
{
	pthread_mutex_lock(&baton_lock);
	while (stage < s)
		pthread_cond_wait(&baton_moved, &baton_lock);
	pthread_mutex_unlock(&baton_lock);
}

/* ---- a worker thread that runs one posted job at a time ---- */

struct worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void (*job)(void *);
	void *arg;
	bool posted, done, quit;
};

static void *worker_main(void *p)
{
	struct worker *w = p;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->posted && !w->quit)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->posted)
			break;
		pthread_mutex_unlock(&w->lock);
		w->job(w->arg);
		pthread_mutex_lock(&w->lock);
		w->posted = false;
		w->done = true;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void worker_start(struct worker *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		abort();
}

/* Runs job(arg) on w and waits for it: the caller stays stopped meanwhile. */
static void worker_run(struct worker *w, void (*job)(void *), void *arg)
{
	pthread_mutex_lock(&w->lock);
	w->job = job;
	w->arg = arg;
	w->done = false;
	w->posted = true;
	pthread_cond_broadcast(&w->cond);
	while (!w->done)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

static void worker_stop(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->quit = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
}

/* Runs fn(arg) on a new thread and waits for it. */
static void run_in_other_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	if (pthread_create(&t, NULL, fn, arg) != 0)
		abort();
	pthread_join(t, NULL);
}

/* ---- refcache: a zero delta still marks the object dirty ----
 *
 * Caches register in the order main, A, B; an epoch flushes the newest
 * first (B, A, main). Epoch 1, after A's flush: A gets (its cache +1), main
 * drops the initial reference (its cache -1); main's flush then takes the
 * global count to 0: queued, dirty, and the review clears dirty. Epoch 2,
 * after B's flush: B gets (+1, B holds a reference), A puts (A's delta
 * nets 0). A's flush must still mark the object dirty, or the review sees
 * zero, clean, and releases while B holds its reference.
 */
enum { RC_HOLD_EPOCHS = 1, RC_DONE = 100 };

static struct kref_refcache rc_obj;
static atomic_int rc_released;
static struct worker rc_a, rc_b;
static struct kb_refcache_cache *rc_cache_main, *rc_cache_a, *rc_cache_b;
static int rc_epoch;			/* the forced epoch running (main only) */
static int rc_acted[3], rc_acted_before_next[3];

static void rc_release(struct kref_refcache *r)
{
	(void)r;
	atomic_fetch_add(&rc_released, 1);
}

static void rc_register_a(void *p) { (void)p; rc_cache_a = kb_refcache_cache(); }
static void rc_register_b(void *p) { (void)p; rc_cache_b = kb_refcache_cache(); }
static void rc_get(void *p) { kref_refcache_get(p); }
static void rc_put(void *p) { CHECK_EQ(kref_refcache_put(p, rc_release), 0, "refcache: a put never releases at once"); }

static void rc_hook(const char *step, void *obj)
{
	if (!strcmp(step, "refcache.epoch_thread.tick")) {
		/* The background epochs wait: only the forced ones run. */
		stage_wait(RC_DONE);
		return;
	}
	if (strcmp(step, "refcache.epoch_locked.cache_flushed"))
		return;
	if (rc_epoch == 1) {
		if (obj == rc_cache_a) {	/* A flushed, main not yet */
			worker_run(&rc_a, rc_get, &rc_obj);
			rc_put(&rc_obj);
			rc_acted[1] = 1;
		} else if (obj == rc_cache_main) {
			rc_acted_before_next[1] = rc_acted[1];
		}
	} else if (rc_epoch == 2) {
		if (obj == rc_cache_b) {	/* B flushed, A not yet */
			worker_run(&rc_b, rc_get, &rc_obj);
			worker_run(&rc_a, rc_put, &rc_obj);
			rc_acted[2] = 1;
		} else if (obj == rc_cache_a) {
			rc_acted_before_next[2] = rc_acted[2];
		}
	}
}

static void test_refcache(void)
{
	CHECK_EQ(kref_refcache_init(&rc_obj), 0, "refcache init");
	rc_cache_main = kb_refcache_cache();	/* starts the epoch thread too */
	worker_start(&rc_a);
	worker_run(&rc_a, rc_register_a, NULL);
	worker_start(&rc_b);
	worker_run(&rc_b, rc_register_b, NULL);

	rc_epoch = 1;
	kb_refcache_epoch();
	CHECK(rc_acted[1] && rc_acted_before_next[1],
	      "epoch 1: A's get and main's put ran between A's flush and main's");
	rc_epoch = 2;
	kb_refcache_epoch();
	rc_epoch = 0;
	CHECK(rc_acted[2] && rc_acted_before_next[2],
	      "epoch 2: B's get and A's put ran between B's flush and A's");
	CHECK_EQ(atomic_load(&rc_released), 0,
		 "refcache: released after epoch 2 while B holds a reference");

	worker_run(&rc_b, rc_put, &rc_obj);
	kb_refcache_sync();
	CHECK_EQ(atomic_load(&rc_released), 1, "refcache: releases after B's put and sync");
	CHECK_EQ(kref_refcache_read(&rc_obj), 0, "refcache: read after release");
	worker_stop(&rc_a);
	worker_stop(&rc_b);
	kref_refcache_destroy(&rc_obj);
	stage_reach(RC_DONE);
}

/* ---- sloppy: kill between a put's two steps ----
 *
 * The putter, pinned to one CPU, takes SLOPPY_MAX + 1 references from the
 * central count and puts them back: the first SLOPPY_MAX become spares of
 * its CPU, the last finds the slot full and returns the surplus. Between
 * its CAS of the slot (to SLOPPY_KEEP) and its subtraction from the central
 * count, another thread kills: reconciles (takes the KEEP spares back) and
 * drops the initial reference. Exactly one of the two must release.
 */
static struct kref_sloppy sl_obj;
static atomic_int sl_released, sl_hooked, sl_kill_result = -1;

static void sl_release(struct kref_sloppy *r)
{
	(void)r;
	atomic_fetch_add(&sl_released, 1);
}

static void *sl_kill(void *p)
{
	(void)p;
	atomic_store(&sl_kill_result, kref_sloppy_kill(&sl_obj, sl_release));
	return NULL;
}

static void sl_hook(const char *step, void *obj)
{
	if (!strcmp(step, "sloppy.give_spare.surplus_taken") && obj == &sl_obj &&
	    atomic_fetch_add(&sl_hooked, 1) == 0)
		run_in_other_thread(sl_kill, NULL);
}

static bool pin_to_one_cpu(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return false;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set)) {
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			return sched_setaffinity(0, sizeof(set), &set) == 0;
		}
	return false;
}

static void test_sloppy(void)
{
	int put_result = 0;

	CHECK(pin_to_one_cpu(), "pin the putter to one CPU (its spares stay in one slot)");
	CHECK_EQ(kref_sloppy_init(&sl_obj), 0, "sloppy init");
	for (int i = 0; i <= SLOPPY_MAX; i++)
		kref_sloppy_get(&sl_obj);
	for (int i = 0; i <= SLOPPY_MAX; i++)
		put_result += kref_sloppy_put(&sl_obj, sl_release);
	CHECK_EQ(atomic_load(&sl_hooked), 1, "sloppy: the last put returned its surplus (hook reached once)");
	CHECK_EQ(atomic_load(&sl_kill_result), 0, "sloppy: kill inside the gap does not release (the put's reference is counted)");
	CHECK_EQ(put_result, 1, "sloppy: the put that finishes after kill releases");
	CHECK_EQ(atomic_load(&sl_released), 1, "sloppy: released exactly once");
	kref_sloppy_destroy(&sl_obj);
}

/* ---- brc: an exiting owner merges its queue before it is removed ----
 *
 * O owns parent P (local 2: one reference for child C, one handed to X =
 * main) and C (local 1, handed to X). X puts C: queued to O. O exits: its
 * exit merge releases C, whose release drops C's reference to P. Before
 * that drop, X puts P; if X finds O removed it merges P itself, and the
 * hook stops X there, after it read P's counts, while O's drop runs.
 */
enum {
	BRC_O_READY = 1, BRC_C_QUEUED, BRC_PUT_P, BRC_X_STOPPED, BRC_O_DROPPED, BRC_DONE
};

static struct kref_brc brc_p, brc_c;
static atomic_int brc_p_released, brc_c_released, brc_x_merged_p, brc_p_released_by_o;
static pthread_t brc_x;

static void brc_p_release(struct kref_brc *r)
{
	(void)r;
	atomic_fetch_add(&brc_p_released, 1);
}

static void brc_c_release(struct kref_brc *r)
{
	(void)r;
	atomic_fetch_add(&brc_c_released, 1);
	stage_reach(BRC_PUT_P);		/* X: put P now */
	stage_wait(BRC_X_STOPPED);	/* X queued P, or stopped inside its merge */
	atomic_fetch_add(&brc_p_released_by_o, kref_brc_put(&brc_p, brc_p_release));	/* C's reference to P */
	stage_reach(BRC_O_DROPPED);
}

static void brc_hook(const char *step, void *obj)
{
	if (!strcmp(step, "brc.merge_explicit.counts_read") && obj == &brc_p &&
	    pthread_equal(pthread_self(), brc_x)) {
		atomic_store(&brc_x_merged_p, 1);
		stage_reach(BRC_X_STOPPED);
		stage_wait(BRC_O_DROPPED);
	}
}

static void *brc_owner(void *p)
{
	(void)p;
	kref_brc_init(&brc_p);
	kref_brc_get(&brc_p);
	kref_brc_init(&brc_c);
	stage_reach(BRC_O_READY);
	stage_wait(BRC_C_QUEUED);
	return NULL;	/* exit: merges the queue, which releases C */
}

static void test_brc(void)
{
	pthread_t o;
	int p_put;

	brc_x = pthread_self();
	if (pthread_create(&o, NULL, brc_owner, NULL) != 0)
		abort();
	stage_wait(BRC_O_READY);
	CHECK_EQ(kref_brc_put(&brc_c, brc_c_release), 0, "brc: X's put of C queues it to O");
	stage_reach(BRC_C_QUEUED);
	stage_wait(BRC_PUT_P);
	p_put = kref_brc_put(&brc_p, brc_p_release);
	stage_reach(BRC_X_STOPPED);	/* when it did not stop in the hook */
	pthread_join(o, NULL);
	kb_brc_sync();
	CHECK_EQ(atomic_load(&brc_c_released), 1, "brc: C released exactly once");
	CHECK_EQ(atomic_load(&brc_p_released), 1, "brc: P released exactly once (no decrement lost)");
	CHECK_EQ(p_put + atomic_load(&brc_p_released_by_o), atomic_load(&brc_p_released),
		 "brc: the put that released P said so");
	printf("brc: X %s P itself\n", atomic_load(&brc_x_merged_p) ? "merged" : "did not merge");
	stage_reach(BRC_DONE);
}

/* ---- dispatch ---- */

static void (*active_hook)(const char *, void *);

void kb_test_hook(const char *step, void *obj)
{
	if (active_hook)
		active_hook(step, obj);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_forced refcache|sloppy|brc\n");
		return 2;
	}
	if (!strcmp(argv[1], "refcache")) {
		active_hook = rc_hook;
		test_refcache();
	} else if (!strcmp(argv[1], "sloppy")) {
		active_hook = sl_hook;
		test_sloppy();
	} else if (!strcmp(argv[1], "brc")) {
		active_hook = brc_hook;
		test_brc();
	} else {
		fprintf(stderr, "test_forced: unknown case '%s'\n", argv[1]);
		return 2;
	}
	return check_summary();
}
