/* Refcache's slow paths: evictions, epochs and reviews, the thread caches. */
#include "core/backends/refcache.h"

#include <stdlib.h>
#include <time.h>

__thread struct kb_refcache_cache *kb_refcache_mine;

/* Lock order: epoch_lock -> cache locks (registry order) -> review_lock. */
static pthread_mutex_t epoch_lock = PTHREAD_MUTEX_INITIALIZER;	/* also the registry */
static struct kb_refcache_cache *registry;
static pthread_mutex_t review_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kref_refcache *review;
static atomic_ulong epochs_done;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

void kb_refcache_flush_entry(struct kb_refcache_entry *e)
{
	struct kref_refcache *r = e->obj;
	long d = e->delta, n;
	int live = 0;

	e->obj = NULL;
	e->delta = 0;
	if (e->release)
		atomic_store_explicit(&r->release, e->release, memory_order_relaxed);
	atomic_store_explicit(&r->dirty, true, memory_order_relaxed);
	n = atomic_fetch_add_explicit(&r->count, d, memory_order_acq_rel) + d;
	if (n == 0 && atomic_compare_exchange_strong_explicit(&r->state, &live, 1,
				memory_order_relaxed, memory_order_relaxed)) {
		pthread_mutex_lock(&review_lock);
		r->review_next = review;
		review = r;
		pthread_mutex_unlock(&review_lock);
	}
}

/*
 * Evicts every entry that names an object, zero deltas included: an entry
 * exists only because its thread operated on the object since the last
 * flush, and that flush is what marks the object dirty. Gets and puts that
 * cancel out in one cache still mean someone held a reference during the
 * epoch; were they skipped, a reference moving from cache to cache could
 * net 0 in each at its flush, and the review would find zero and clean
 * while the reference is held.
 */
static void flush_cache(struct kb_refcache_cache *c)
{
	for (unsigned int i = 0; i < REFCACHE_WAYS; i++)
		if (c->e[i].obj)
			kb_refcache_flush_entry(&c->e[i]);
}

static void release_cache(void *arg)
{
	struct kb_refcache_cache *c = arg;

	pthread_spin_lock(&c->lock);
	flush_cache(c);		/* and empties it */
	pthread_spin_unlock(&c->lock);
	pthread_mutex_lock(&epoch_lock);
	c->in_use = false;
	pthread_mutex_unlock(&epoch_lock);
	kb_refcache_mine = NULL;
}

static void *epoch_thread(void *arg)
{
	const struct timespec period = { 0, REFCACHE_EPOCH_MS * 1000000L };

	(void)arg;
	for (;;) {
		nanosleep(&period, NULL);
		KB_TEST_HOOK("refcache.epoch_thread.tick", NULL);
		kb_refcache_epoch();
	}
	return NULL;
}

/* The exit key and the epoch thread, once per process. */
static void start(void)
{
	pthread_t t;

	pthread_key_create(&exit_key, release_cache);
	if (pthread_create(&t, NULL, epoch_thread, NULL) != 0)
		abort();	/* without epochs nothing is ever released */
	pthread_detach(t);
}

struct kb_refcache_cache *kb_refcache_cache_slow(void)
{
	struct kb_refcache_cache *c;

	pthread_once(&exit_key_once, start);
	pthread_mutex_lock(&epoch_lock);
	for (c = registry; c && c->in_use; c = c->next)
		;
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			abort();	/* one cache per thread; no fallback that keeps the scheme */
		pthread_spin_init(&c->lock, PTHREAD_PROCESS_PRIVATE);
		c->next = registry;
		registry = c;
	}
	c->in_use = true;
	pthread_mutex_unlock(&epoch_lock);
	pthread_setspecific(exit_key, c);
	kb_refcache_mine = c;
	return c;
}

/* One epoch, epoch_lock held; returns the objects to release, linked. */
static struct kref_refcache *epoch_locked(void)
{
	struct kref_refcache *dead = NULL, **pp;
	struct kb_refcache_cache *c;

	for (c = registry; c; c = c->next) {	/* every cache, one at a time */
		pthread_spin_lock(&c->lock);
		flush_cache(c);
		pthread_spin_unlock(&c->lock);
		KB_TEST_HOOK("refcache.epoch_locked.cache_flushed", c);
	}
	for (c = registry; c; c = c->next)	/* the review: everybody still */
		pthread_spin_lock(&c->lock);
	pthread_mutex_lock(&review_lock);
	for (pp = &review; *pp;) {
		struct kref_refcache *r = *pp;

		if (atomic_load_explicit(&r->count, memory_order_acquire) != 0) {
			*pp = r->review_next;		/* alive again */
			atomic_store_explicit(&r->state, 0, memory_order_relaxed);
		} else if (atomic_load_explicit(&r->dirty, memory_order_relaxed)) {
			atomic_store_explicit(&r->dirty, false, memory_order_relaxed);
			pp = &r->review_next;		/* zero; see it stay so an epoch */
		} else {
			*pp = r->review_next;		/* zero for two epochs: dead */
			atomic_store_explicit(&r->state, 2, memory_order_relaxed);
			r->review_next = dead;
			dead = r;
		}
	}
	pthread_mutex_unlock(&review_lock);
	for (c = registry; c; c = c->next)
		pthread_spin_unlock(&c->lock);
	atomic_fetch_add_explicit(&epochs_done, 1, memory_order_relaxed);
	return dead;
}

/* Outside every lock: release() may free, or use this backend again. */
static void release_all(struct kref_refcache *dead)
{
	while (dead) {
		struct kref_refcache *next = dead->review_next;

		atomic_load_explicit(&dead->release, memory_order_relaxed)(dead);
		dead = next;
	}
}

/* Releases taken out by an epoch and not yet run (under epoch_lock): sync
 * waits for them too, whichever thread's epoch found them. */
static unsigned int releasing;
static pthread_cond_t released_all = PTHREAD_COND_INITIALIZER;

void kb_refcache_epoch(void)
{
	struct kref_refcache *dead;

	pthread_mutex_lock(&epoch_lock);
	dead = epoch_locked();
	releasing++;
	pthread_mutex_unlock(&epoch_lock);
	release_all(dead);
	pthread_mutex_lock(&epoch_lock);
	if (--releasing == 0)
		pthread_cond_broadcast(&released_all);
	pthread_mutex_unlock(&epoch_lock);
}

unsigned long kb_refcache_epochs(void)
{
	return atomic_load_explicit(&epochs_done, memory_order_relaxed);
}

/* An object dead before the call is queued by the first epoch's flush at
 * the latest, seen clean by the second, released by the third. */
void kb_refcache_sync(void)
{
	for (int i = 0; i < 3; i++)
		kb_refcache_epoch();
	pthread_mutex_lock(&epoch_lock);	/* and the epoch thread's releases */
	while (releasing)
		pthread_cond_wait(&released_all, &epoch_lock);
	pthread_mutex_unlock(&epoch_lock);
}

long kref_refcache_read(const struct kref_refcache *r)
{
	struct kb_refcache_cache *c;
	unsigned int h = kb_refcache_hash(r);
	long n;

	pthread_mutex_lock(&epoch_lock);
	for (c = registry; c; c = c->next)
		pthread_spin_lock(&c->lock);
	n = atomic_load_explicit(&r->count, memory_order_relaxed);
	for (c = registry; c; c = c->next)
		if (c->e[h].obj == r)
			n += c->e[h].delta;
	for (c = registry; c; c = c->next)
		pthread_spin_unlock(&c->lock);
	pthread_mutex_unlock(&epoch_lock);
	return atomic_load_explicit(&r->state, memory_order_relaxed) == 2 ? 0 : n;
}

void kref_refcache_destroy(struct kref_refcache *r)
{
	struct kb_refcache_cache *c;
	unsigned int h = kb_refcache_hash(r);

	pthread_mutex_lock(&epoch_lock);
	for (c = registry; c; c = c->next) {
		pthread_spin_lock(&c->lock);
		if (c->e[h].obj == r) {
			c->e[h].obj = NULL;
			c->e[h].delta = 0;
		}
		pthread_spin_unlock(&c->lock);
	}
	/* Only an object still under review is on the list: a released one
	 * (the common case, destroyed from its release) was taken off by the
	 * epoch, and walking the list for it would make a churn of n objects
	 * O(n^2). The epoch takes objects off under epoch_lock, which
	 * we hold; a flush queues only objects its cache still refers to, and
	 * destroying one of those is the caller's bug either way. */
	pthread_mutex_lock(&review_lock);
	if (atomic_load_explicit(&r->state, memory_order_relaxed) == 1)
		for (struct kref_refcache **pp = &review; *pp; pp = &(*pp)->review_next)
			if (*pp == r) {
				*pp = r->review_next;
				break;
			}
	pthread_mutex_unlock(&review_lock);
	pthread_mutex_unlock(&epoch_lock);
}

size_t kref_refcache_bytes_at(unsigned int ncpus)
{
	(void)ncpus;
	return sizeof(struct kref_refcache);
}
