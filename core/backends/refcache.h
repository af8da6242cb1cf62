/*
 * Backend `refcache`: RadixVM's Refcache (Clements, Kaashoek, Zeldovich,
 * "RadixVM: Scalable address spaces for multithreaded applications",
 * EuroSys 2013, section 3.1), with per-thread caches standing in for the
 * paper's per-core ones.
 *
 * Guarantees. Each thread keeps a small direct-mapped cache of deltas:
 * object -> net gets minus puts not yet applied. get and put add +1/-1 to
 * the caller's cache entry for the object and touch nothing shared; a
 * collision evicts the entry, which applies its delta to the object's global
 * count. The true count is the global count plus every cache's delta, so a
 * global count of zero proves nothing by itself. Epochs decide: each epoch
 * evicts every entry of every cache, applying its delta to the object; an
 * object whose global count reached zero is queued for review, and any
 * eviction of it marks it dirty. A zero delta is evicted too (RadixVM's
 * refcache.hh: "evict all cache entries (even those with zero deltas)"): an
 * entry exists only because its thread got or put the object since the last
 * epoch, so it held a reference then, and gets and puts that cancel out in
 * one cache can be a reference passing through to another cache. At the
 * end of an epoch (every cache held still for that instant) an object is
 * released when its count is zero and no eviction touched it since the
 * previous epoch's end: then no cache named it at that end, so the count
 * seen zero there was the true count, and nobody can get a reference from
 * zero. release() therefore runs exactly once, never while a reference is
 * held, from whoever runs the epoch, an epoch or two after the last put:
 * puts return 0, and frees are delayed (KB_EPOCH_RELEASE). Epochs run on a background thread,
 * started with the first cache, every REFCACHE_EPOCH_MS (RadixVM's per-core
 * timer), so release() runs there, like an RCU callback: never inside a
 * caller's get or put, whatever locks it holds. kb_refcache_sync() runs
 * the epochs that decide what is already dead.
 *
 * get_unless_zero CANNOT be offered: deciding "not zero" needs the true
 * count, which exists only at an epoch's end. kref_refcache_get_unless_zero
 * always fails (and says so in the runtime table: KB_NO_GET_UNLESS_ZERO).
 * RadixVM answers lookups with weak references instead; not modelled here.
 *
 * Ordering: cache updates are under the cache's lock, flushes are acq_rel
 * on the global count, and the epoch's review holds every cache's lock, so
 * the releaser sees every access made under every reference.
 *
 * Costs: 32 bytes per object, whatever the CPUs, plus one cache of
 * REFCACHE_WAYS entries (24 bytes each) per thread that ever used the
 * backend (caches of exited threads are reused): memory grows with objects
 * plus threads. A get or put takes the caller's own cache lock (an atomic on
 * a line only the epoch also touches) and writes the caller's cache line;
 * a collision evicts the entry's object (an RMW on its line) whatever its
 * delta, and each epoch evicts every object a cache named; each epoch's
 * review stops every thread's get/put for its length.
 */
#ifndef KREFBENCH_CORE_REFCACHE_H
#define KREFBENCH_CORE_REFCACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/backend_attrs.h"
#include "core/lib/compiler.h"

#define REFCACHE_WAYS	1024u	/* entries per thread cache (power of two) */
#define REFCACHE_EPOCH_MS 10u	/* the epoch thread's period */

struct kref_refcache;
typedef void kb_refcache_release_t(struct kref_refcache *);

struct kref_refcache {
	atomic_long count;			/* global: deltas applied so far */
	atomic_int state;			/* 0 live, 1 under review, 2 released */
	atomic_bool dirty;			/* flushed since the last review */
	_Atomic(kb_refcache_release_t *) release;
	struct kref_refcache *review_next;	/* under the review lock */
};

struct kb_refcache_entry {
	struct kref_refcache *obj;
	long delta;
	kb_refcache_release_t *release;		/* from the last put cached here */
};

struct kb_refcache_cache {
	pthread_spinlock_t lock;		/* owner's ops; the epoch */
	bool in_use;				/* a thread has it (under the epoch lock) */
	struct kb_refcache_cache *next;		/* registry; never removed */
	struct kb_refcache_entry e[REFCACHE_WAYS];
};

extern __thread struct kb_refcache_cache *kb_refcache_mine;
struct kb_refcache_cache *kb_refcache_cache_slow(void);
/* Evicts an entry (cache lock held): applies its delta, even 0, to its
 * object, marks the object dirty, and empties the entry. */
void kb_refcache_flush_entry(struct kb_refcache_entry *e);
/* Runs epochs until everything dead before the call is released, and waits
 * for releases other epochs already took out. Not from a release(). */
void kb_refcache_sync(void);
void kb_refcache_epoch(void);
/* Epochs completed so far (a release runs after its epoch is counted). */
unsigned long kb_refcache_epochs(void);

static inline struct kb_refcache_cache *kb_refcache_cache(void)
{
	struct kb_refcache_cache *c = kb_refcache_mine;

	return kb_likely(c != NULL) ? c : kb_refcache_cache_slow();
}

static inline unsigned int kb_refcache_hash(const struct kref_refcache *r)
{
	uintptr_t p = (uintptr_t)r >> 4;

	return (unsigned int)((p ^ (p >> 10) ^ (p >> 20)) & (REFCACHE_WAYS - 1));
}

static kb_always_inline void kb_refcache_add(struct kref_refcache *r, long d,
		kb_refcache_release_t *release)
{
	struct kb_refcache_cache *c = kb_refcache_cache();
	struct kb_refcache_entry *e = &c->e[kb_refcache_hash(r)];

	pthread_spin_lock(&c->lock);
	if (kb_unlikely(e->obj != r)) {
		if (e->obj)
			kb_refcache_flush_entry(e);
		e->obj = r;
		e->release = NULL;
	}
	e->delta += d;
	if (release)
		e->release = release;
	pthread_spin_unlock(&c->lock);
}

static inline int kref_refcache_init(struct kref_refcache *r)
{
	atomic_init(&r->count, 1);
	atomic_init(&r->state, 0);
	atomic_init(&r->dirty, false);
	atomic_init(&r->release, NULL);
	r->review_next = NULL;
	return 0;
}

static inline void kref_refcache_get(struct kref_refcache *r) { kb_refcache_add(r, 1, NULL); }

/* Not offered (see above): always false. */
static inline kb_must_check bool kref_refcache_get_unless_zero(struct kref_refcache *r)
{
	(void)r;
	return false;
}

/* Never releases at once: the epoch that proves the count zero does. */
static inline kb_must_check int kref_refcache_put(struct kref_refcache *r,
		kb_refcache_release_t *release)
{
	kb_refcache_add(r, -1, release);
	return 0;
}

/* No 1 -> 0 is ever seen by a put, so the lock is never needed: release()
 * runs later, from an epoch, without it. */
static inline int kref_refcache_put_mutex(struct kref_refcache *r,
		kb_refcache_release_t *release, pthread_mutex_t *lock)
{
	(void)lock;
	kb_refcache_add(r, -1, release);
	return 0;
}

static inline int kref_refcache_put_lock(struct kref_refcache *r,
		kb_refcache_release_t *release, pthread_spinlock_t *lock)
{
	(void)lock;
	kb_refcache_add(r, -1, release);
	return 0;
}

static inline int kref_refcache_kill(struct kref_refcache *r, kb_refcache_release_t *release)
{
	return kref_refcache_put(r, release);
}

/* The global count plus every cache's delta: exact while nobody operates. */
long kref_refcache_read(const struct kref_refcache *r);
/* Forgets r in every cache and the review queue (for objects never released). */
void kref_refcache_destroy(struct kref_refcache *r);
size_t kref_refcache_bytes_at(unsigned int ncpus);


/* ---- what the backend list needs (core/backend_attrs.h) ---- */
#define KB_MODEL_refcache "RadixVM Refcache: per-thread delta caches, free after two epochs at zero"
#define KB_FLAGS_refcache (KB_COUNTS | KB_EPOCH_RELEASE | KB_NO_GET_UNLESS_ZERO | KB_HELPER_THREAD)
#define KB_KREF_INIT_refcache kref_refcache_init
#define KB_KREF_PUT_refcache
static inline void kref_refcache_sync(void) { kb_refcache_sync(); }

#endif
