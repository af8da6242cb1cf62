/*
 * churn: objects are born, shared and destroyed, the whole life of a
 * kernel object. Each thread is the owner of a stream of objects: it
 * allocates and inits one, takes a reference for every other thread and
 * hands it over (get before hand-off, kref.rst rule 1) through a
 * single-producer ring, makes `uses` get/put pairs on it itself, then drops
 * its own reference with kill (percpu_ref_kill for the per-CPU schemes; a
 * plain put for the others). Every thread also serves what the others hand
 * it: `uses` get/put pairs, then its put. The last reference's release
 * frees the object the way the scheme frees:
 *
 *   at once         atomic, refcount, mutex, urcu_ref, ...: free in release()
 *   after kill      percpu: release() runs after the switch's grace period
 *   after a grace   backends whose plain put needs the caller to free after
 *   period          a grace period (KB_KREF_PUT_<name> is _sync: rcuref,
 *                   fileref): release() queues the free with call_rcu
 *   at an epoch     refcache (KB_EPOCH_RELEASE): its epochs run release()
 *
 * An op is one object lifetime (ns_per_op: per thread, per lifetime).
 *
 * Objects come from a type-stable pool per owner thread that the benchmark
 * owns (struct churn_pool), as a kernel object comes from its slab cache:
 * an object freed by its owner goes back to the owner's free list; one
 * freed by any other thread (a holder's last put, liburcu's call_rcu
 * thread, refcache's epoch) goes back through the owner's lock-free return
 * stack, which the owner takes whole when its list runs short. No allocator
 * lock is on the measured path, so the figure is the count's and the
 * scheme's deferred path, not malloc's (glibc's arena lock, taken when one
 * thread frees what another allocated, once dominated it). The pools grow
 * by slabs while deferred frees are pending, and go at the end.
 *
 * The books (struct churn_ctx): every allocation, release and free is
 * counted. release() checks the object is live and poisons it; free()
 * poisons it again, and the owner reuses it only after CHURN_QUARANTINE
 * later frees, so a holder that still uses an object after its release
 * reads poison (not the object's next life) and says so. The self-check
 * proves: each object released exactly once (no double release), none used
 * after its release (none freed early), every one created freed (none
 * leaked, after the backend's own deferred work is flushed).
 *
 * This header holds the loop pieces per backend, so tests/test_churn.c can
 * run them over broken test backends and see each fault caught.
 */
#ifndef KREFBENCH_BENCH_CHURN_H
#define KREFBENCH_BENCH_CHURN_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/urcu-memb.h>

#include "core/lib/compiler.h"

#define CHURN_LIVE	0x4c49564543485231ull	/* "LIVECHR1" */
#define CHURN_RELEASED	0x5245454c45415345ull	/* released, not yet freed */
#define CHURN_POISON	0x6b6b6b6b6b6b6b6bull	/* the kernel's POISON_FREE */
#define CHURN_RING	64			/* hand-offs in flight per pair of threads */
#define CHURN_REF_BYTES	64

#define CHURN_QUARANTINE 64			/* frees before an object's memory is reused */
#define CHURN_SLAB	256			/* objects a pool grows by */

struct churn_ctx;

struct churn_obj {
	unsigned char ref[CHURN_REF_BYTES] __attribute__((aligned(16)));	/* first */
	_Atomic uint64_t magic;
	atomic_int releases;
	int owner;				/* the pool it came from and goes back to */
	struct churn_ctx *ctx;
	struct churn_obj *next_free;		/* in a free list or a return stack */
	struct rcu_head rcu;
} __attribute__((aligned(KB_CACHELINE)));

struct churn_slab;

/* One owner thread's objects. */
struct churn_pool {
	_Atomic(struct churn_obj *) returned kb_cacheline_aligned;	/* others push, the owner takes all */
	struct churn_obj *head kb_cacheline_aligned;	/* the owner's: freed, oldest first */
	struct churn_obj *tail;
	unsigned int nfree;
	struct churn_slab *slabs;			/* the owner's (and fini's) */
};

struct churn_ring {
	atomic_uint_fast64_t head kb_cacheline_aligned;	/* consumer */
	atomic_uint_fast64_t tail kb_cacheline_aligned;	/* producer */
	struct churn_obj *slot[CHURN_RING] kb_cacheline_aligned;
};

struct churn_ctx {
	int threads, uses;
	void (*destroy)(void *ref);		/* the backend's, before the memory goes */
	struct churn_ring *rings;		/* [from * threads + to] */
	atomic_bool *stopped;			/* per thread: left its loop, takes no more */
	/* Set when the first thread leaves the window (the harness's stop
	 * flag), or NULL: that thread then waits at the end barrier for all
	 * the others before it can say it stopped, so an owner waiting on its
	 * full ring must give up then, or wait for it forever. */
	const atomic_bool *window_stopping;
	atomic_long created, released, freed, double_releases, used_after_release;
	atomic_long init_failures, arena_waits, undelivered;
	atomic_long frees_queued;		/* call_rcu frees: the flush must wait for them */
	bool flushed;				/* every deferred release and free has run */
	/* Tests of broken backends: a freed object is never reused before
	 * churn_ctx_fini, however long a holder takes to notice. */
	bool keep_freed;
	unsigned long generation;		/* tells this run's pools from an earlier one's */
	struct churn_pool *pools;		/* [owner thread] */
};

/* 0, or -1 (out of memory). */
int churn_ctx_init(struct churn_ctx *c, int threads, int uses, void (*destroy)(void *ref));
/* After every thread has stopped and every deferred release has run:
 * frees the pools and the rings. */
void churn_ctx_fini(struct churn_ctx *c);
/* 0 when the books balance, else -1 and what is wrong. */
int churn_check(struct churn_ctx *c, char *text, size_t len);

/* Thread t's next object, from its pool (t is its owner from then on). */
struct churn_obj *churn_alloc(struct churn_ctx *c, int t);
/* After init failed: the object back, nothing counted as created. */
void churn_unalloc(struct churn_obj *o);
/* release(): live -> released, once; false for a second release. */
bool churn_released(struct churn_obj *o);
/* The object goes back to its owner's pool (poisoned). */
void churn_free(struct churn_obj *o);
/* free after a grace period (call_rcu). */
void churn_free_after_grace_period(struct churn_obj *o);

static inline bool churn_live(struct churn_obj *o)
{
	return atomic_load_explicit(&o->magic, memory_order_relaxed) == CHURN_LIVE;
}

static inline void churn_check_live(struct churn_obj *o)
{
	if (kb_unlikely(!churn_live(o)))
		atomic_fetch_add_explicit(&o->ctx->used_after_release, 1, memory_order_relaxed);
}

static inline bool churn_push(struct churn_ring *r, struct churn_obj *p)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	if (tail - atomic_load_explicit(&r->head, memory_order_acquire) == CHURN_RING)
		return false;
	r->slot[tail % CHURN_RING] = p;
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	return true;
}

static inline struct churn_obj *churn_pop(struct churn_ring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	struct churn_obj *p;

	if (head == atomic_load_explicit(&r->tail, memory_order_acquire))
		return NULL;
	p = r->slot[head % CHURN_RING];
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
	return p;
}

static inline struct churn_ring *churn_ring(struct churn_ctx *c, int from, int to)
{
	return &c->rings[from * c->threads + to];
}

/*
 * The per-backend pieces, for any backend B with the kref_<B>_* operations
 * and a release function RELEASE(struct kref_<B> *):
 *   churn_serve_<B>(c, t)      t serves what the others handed it; the count
 *   churn_lifetime_<B>(c, t)   t's next object, birth to its own kill; 0, or
 *                              -1 when init failed even after `wait`
 * `wait` (may be NULL) is called when init fails: it lets deferred releases
 * run (percpu's arena is full of killed objects) before one retry.
 */
#define CHURN_DEFINE(B, RELEASE)						\
static inline void churn_use_##B(struct churn_obj *o, int uses)		\
{										\
	struct kref_##B *r = (struct kref_##B *)o->ref;				\
										\
	churn_check_live(o);							\
	for (int u = 0; u < uses; u++) {					\
		kref_##B##_get(r);						\
		if (kb_unlikely(kref_##B##_put(r, RELEASE)))			\
			atomic_fetch_add_explicit(&o->ctx->used_after_release, 1, \
						  memory_order_relaxed);	\
	}									\
	churn_check_live(o);							\
}										\
static inline int churn_serve_##B(struct churn_ctx *c, int t)			\
{										\
	struct churn_obj *o;							\
	int n = 0;								\
										\
	for (int from = 0; from < c->threads; from++) {				\
		if (from == t)							\
			continue;						\
		while ((o = churn_pop(churn_ring(c, from, t))) != NULL) {	\
			churn_use_##B(o, c->uses);				\
			if (kref_##B##_put((struct kref_##B *)o->ref, RELEASE)) (void)0; \
			n++;							\
		}								\
	}									\
	return n;								\
}										\
static inline int churn_lifetime_##B(struct churn_ctx *c, int t, void (*wait)(void)) \
{										\
	struct churn_obj *o = churn_alloc(c, t);				\
	struct kref_##B *r;							\
										\
	if (!o)									\
		return -1;							\
	r = (struct kref_##B *)o->ref;						\
	if (kref_##B##_init(r) != 0) {						\
		atomic_fetch_add_explicit(&c->arena_waits, 1, memory_order_relaxed); \
		if (wait)							\
			wait();							\
		if (!wait || kref_##B##_init(r) != 0) {				\
			churn_unalloc(o);					\
			atomic_fetch_add_explicit(&c->init_failures, 1, memory_order_relaxed); \
			return -1;						\
		}								\
	}									\
	atomic_fetch_add_explicit(&c->created, 1, memory_order_relaxed);	\
	for (int to = 0; to < c->threads; to++) {				\
		if (to == t)							\
			continue;						\
		kref_##B##_get(r);	/* before the hand-off */		\
		for (int spins = 0; !churn_push(churn_ring(c, t, to), o); spins++) { \
			/* Full: serve our own in-queue meanwhile (and let a	\
			 * descheduled holder run); a holder that has stopped,	\
			 * or is leaving the window, takes nothing more. */	\
			churn_serve_##B(c, t);					\
			if (spins > 64)						\
				sched_yield();					\
			if (atomic_load_explicit(&c->stopped[to], memory_order_acquire) || \
			    (c->window_stopping &&				\
			     atomic_load_explicit(c->window_stopping, memory_order_relaxed))) { \
				atomic_fetch_add_explicit(&c->undelivered, 1, memory_order_relaxed); \
				if (kref_##B##_put(r, RELEASE)) (void)0;	\
				break;						\
			}							\
		}								\
	}									\
	churn_use_##B(o, c->uses);						\
	(void)kref_##B##_kill(r, RELEASE);	/* the owner's reference */	\
	return 0;								\
}

#endif
