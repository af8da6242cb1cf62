/* Biased reference counting's slow paths: merging, the owners' queues, the
 * thread records. Semantics follow CPython 3.13 (Objects/object.c:
 * _Py_MergeZeroLocalRefcount, _Py_DecRefShared, _Py_ExplicitMergeRefcount;
 * Python/brc.c). */
#include "core/backends/brc.h"

#include <sched.h>
#include <stdlib.h>

struct kb_brc_thread {
	pthread_mutex_t lock;		/* queue and alive */
	struct kref_brc *queue;		/* objects handed to this owner */
	atomic_bool pending;		/* queue is not empty */
	bool alive;
	struct kb_brc_thread *next;	/* in the registry; never removed */
};

__thread struct kb_brc_thread *kb_brc_me;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kb_brc_thread *registry;
static pthread_key_t exit_key;
/* Queues an exiting thread took and has not finished merging: sync waits
 * for them. The benchmark's check runs sync in one thread while the others,
 * done, exit: an exit that took its queue just before sync looked would
 * otherwise still be releasing when the check counts, and its late
 * releases would look like a leak. */
static atomic_int exit_merges;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

bool kb_brc_pending(const struct kb_brc_thread *t)
{
	return atomic_load_explicit(&t->pending, memory_order_relaxed);
}

static kb_brc_release_t *stored_release(struct kref_brc *r)
{
	return atomic_load_explicit(&r->release, memory_order_relaxed);
}

/*
 * Local into shared, plus `extra` (-1: the reference a queue held), MERGED
 * set, the owner cleared: from now on every operation is atomic on shared.
 * Called by the owner, or once the owner has exited (local is frozen).
 */
static int merge_explicit(struct kref_brc *r, long extra)
{
	long local = (long)atomic_load_explicit(&r->local, memory_order_relaxed);
	long s = atomic_load_explicit(&r->shared, memory_order_relaxed), n;

	KB_TEST_HOOK("brc.merge_explicit.counts_read", r);
	atomic_store_explicit(&r->owner, NULL, memory_order_relaxed);
	atomic_store_explicit(&r->local, 0, memory_order_relaxed);
	do {
		n = ((s & ~BRC_FLAGS) + (local + extra) * BRC_ONE) | BRC_MERGED;
	} while (!atomic_compare_exchange_weak_explicit(&r->shared, &s, n,
				memory_order_acq_rel, memory_order_relaxed));
	if (n == BRC_MERGED) {
		stored_release(r)(r);
		return 1;
	}
	return 0;
}

static void merge_list(struct kref_brc *q)
{
	while (q) {
		struct kref_brc *next = q->queue_next;

		merge_explicit(q, -1);	/* may free q */
		q = next;
	}
}

/* Takes t's queue. An exiting owner's take that finds the queue empty
 * removes the owner instead (alive false): later queuers merge themselves. */
static struct kref_brc *take_queue(struct kb_brc_thread *t, bool exiting)
{
	struct kref_brc *q;

	pthread_mutex_lock(&t->lock);
	q = t->queue;
	t->queue = NULL;
	atomic_store_explicit(&t->pending, false, memory_order_relaxed);
	if (exiting && !q)
		t->alive = false;
	pthread_mutex_unlock(&t->lock);
	return q;
}

void kb_brc_merge_my_queue(void)
{
	merge_list(take_queue(kb_brc_self(), false));
}

/*
 * As CPython's _Py_brc_remove_thread: merge every queued object before the
 * owner is removed, because no refcount operation of the owner is safe
 * after that: other threads then treat its objects as abandoned and merge
 * them directly. A merge here may release an object whose release drops
 * another object this thread owns (a plain local decrement, safe only while
 * nobody else merges that object), and other threads may queue more
 * meanwhile; so merge until a take finds the queue empty, and that take,
 * under the queue's lock, removes the owner. Counted in exit_merges before
 * the first take, so that sync, which may find the queue already taken,
 * waits for these merges.
 */
static void merge_at_exit(void *t)
{
	struct kref_brc *q;

	atomic_fetch_add_explicit(&exit_merges, 1, memory_order_relaxed);
	while ((q = take_queue(t, true)))
		merge_list(q);
	atomic_fetch_sub_explicit(&exit_merges, 1, memory_order_release);
	kb_brc_me = NULL;
}

static void make_exit_key(void) { pthread_key_create(&exit_key, merge_at_exit); }

struct kb_brc_thread *kb_brc_self_slow(void)
{
	struct kb_brc_thread *t = calloc(1, sizeof(*t));

	if (!t)
		abort();	/* a few dozen bytes per thread; nothing sensible to fall back to */
	pthread_mutex_init(&t->lock, NULL);
	t->alive = true;
	pthread_once(&exit_key_once, make_exit_key);
	pthread_setspecific(exit_key, t);
	pthread_mutex_lock(&registry_lock);
	t->next = registry;
	registry = t;
	pthread_mutex_unlock(&registry_lock);
	kb_brc_me = t;
	return t;
}

int kref_brc_init(struct kref_brc *r)
{
	atomic_init(&r->owner, kb_brc_self());
	atomic_init(&r->local, 1);
	atomic_init(&r->shared, 0);
	atomic_init(&r->release, NULL);
	r->queue_next = NULL;
	return 0;
}

int kref_brc_init_merged(struct kref_brc *r)
{
	atomic_init(&r->owner, NULL);
	atomic_init(&r->local, 0);
	atomic_init(&r->shared, BRC_ONE | BRC_MERGED);
	atomic_init(&r->release, NULL);
	r->queue_next = NULL;
	return 0;
}

/* The owner's put took local to 0. */
int kb_brc_merge_zero(struct kref_brc *r, kb_brc_release_t *release)
{
	long s = atomic_load_explicit(&r->shared, memory_order_acquire), n;

	if (s == 0) {	/* nobody else counted anything: nobody else holds it */
		release(r);
		return 1;
	}
	atomic_store_explicit(&r->owner, NULL, memory_order_relaxed);
	do {
		n = (s & ~BRC_FLAGS) | BRC_MERGED;
	} while (!atomic_compare_exchange_weak_explicit(&r->shared, &s, n,
				memory_order_acq_rel, memory_order_relaxed));
	if (n == BRC_MERGED) {
		release(r);
		return 1;
	}
	return 0;
}

/*
 * 1 when this released r: the owner had exited and the merge done here
 * released it, or the owner had merged already (below).
 *
 * Counts are fungible: the owner's put of a reference counted in shared
 * decrements local, and so can take local to 0 while the reference this
 * put hands over (one of local's) is on its way to the queue. The owner
 * then merges (owner cleared, MERGED set) and this reference is one of
 * shared's: drop it there, as CPython's _Py_brc_queue_object does when it
 * finds ob_tid 0. Shared cannot be 0 now (QUEUED or MERGED is set), so that
 * put does not queue again.
 */
static int queue_to_owner(struct kref_brc *r, kb_brc_release_t *release)
{
	struct kb_brc_thread *o = atomic_load_explicit(&r->owner, memory_order_acquire);

	if (!o)
		return kb_brc_put_shared(r, release);
	pthread_mutex_lock(&o->lock);
	if (o->alive) {
		r->queue_next = o->queue;
		o->queue = r;
		atomic_store_explicit(&o->pending, true, memory_order_relaxed);
		pthread_mutex_unlock(&o->lock);
		return 0;
	}
	pthread_mutex_unlock(&o->lock);
	return merge_explicit(r, -1);	/* the owner has exited: its local count is final */
}

/* A non-owner's put: one CAS on shared. */
int kb_brc_put_shared(struct kref_brc *r, kb_brc_release_t *release)
{
	long s = atomic_load_explicit(&r->shared, memory_order_relaxed), n;
	bool queue;

	do {
		queue = (s & ~BRC_MARKED) == 0;	/* not queued, not merged, count 0 */
		n = queue ? s | BRC_QUEUED : s - BRC_ONE;
		if (queue)	/* the owner will need it; stored before the CAS publishes */
			atomic_store_explicit(&r->release, release, memory_order_relaxed);
	} while (!atomic_compare_exchange_weak_explicit(&r->shared, &s, n,
				memory_order_acq_rel, memory_order_relaxed));
	if (queue)
		return queue_to_owner(r, release);
	if (n == BRC_MERGED) {
		release(r);
		return 1;
	}
	return 0;
}

void kb_brc_sync(void)
{
	struct kb_brc_thread *t;

	pthread_mutex_lock(&registry_lock);
	t = registry;
	pthread_mutex_unlock(&registry_lock);
	for (; t; t = t->next)	/* records are never freed; the list only grows at its head */
		merge_list(take_queue(t, false));
	/* A queue not taken above was taken by its exiting owner, which
	 * counted itself under the same lock first. */
	while (atomic_load_explicit(&exit_merges, memory_order_acquire) > 0)
		sched_yield();
}

long kref_brc_read(const struct kref_brc *r)
{
	long s = atomic_load_explicit(&r->shared, memory_order_relaxed);
	long n = (s & ~BRC_FLAGS) / BRC_ONE;

	if (atomic_load_explicit(&r->owner, memory_order_relaxed))
		n += (long)atomic_load_explicit(&r->local, memory_order_relaxed);
	return n;
}

size_t kref_brc_bytes_at(unsigned int ncpus)
{
	(void)ncpus;
	return sizeof(struct kref_brc);
}
