/*
 * Concurrency stress for one backend, through the runtime table:
 *
 *   test_stress <backend>
 *
 * Six threads on this (usually 2-CPU) machine create many objects and trade
 * references to them the ways kref.rst allows:
 *
 * - get on an object the thread already holds a reference to (rule 1);
 * - get_unless_zero on objects published in a shared array, which acts as a
 *   weak lookup table: the array holds no reference, and the memory of a
 *   published object stays valid until every thread has finished (the RCU-like
 *   discipline kref.rst's rule 3 asks for), so a lookup may find an object whose
 *   count already hit 0 and must then fail: a released object is never
 *   resurrected;
 * - hand-off: the giver does get BEFORE passing the pointer through another
 *   thread's queue; the receiver uses the object and puts it (rule 2);
 * - move: a reference (the creator's initial one included) changes owner
 *   through a queue without a get, so whichever thread ends up with the
 *   initial reference drops it, with kill for KB_DEFERRED_RELEASE and
 *   KB_KILL_RELEASES backends;
 * - drop by put, put_mutex or put_lock (release then runs with the lock held
 *   and unlocks it, as in the kernel).
 *
 * The release callback checks that the object's "holders" counter (kept by
 * the test beside every reference it holds) is 0, counts the release per
 * object and globally, checks and poisons the payload and, for unpublished
 * objects, destroys and frees the object at once, so AddressSanitizer catches
 * any later use. Afterwards (and sync()): every object released exactly once,
 * releases == objects created, puts that returned 1 == releases run on a
 * worker thread (except where releases come from an epoch or an owner's
 * merge, which workers also run: KB_EPOCH_RELEASE, KB_OWNER_RELEASE), nothing
 * leaked (LeakSanitizer in the ASan build). Where get_unless_zero is not
 * offered (KB_NO_GET_UNLESS_ZERO) every lookup must fail.
 *
 * `null` is not a counter: the same traffic runs, and the test asserts that
 * nothing was ever released, then frees the objects itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "core/backends.h"
#include "core/backends/percpu.h"
#include "core/backends/refcount.h"

#if defined(KREFBENCH_ASAN)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)	((void)(p), (void)(n))
#define UNPOISON(p, n)	((void)(p), (void)(n))
#endif

/* ThreadSanitizer runs the same checks over less traffic (it is ~5x slower
 * here); AddressSanitizer keeps the release build's. */
#if defined(KREFBENCH_TSAN)
#define SCALE 3
#else
#define SCALE 1
#endif

#define NTHREADS	6
#define OBJS_PER_THREAD	(15000 / SCALE)
#define OPS_PER_THREAD	(2400000 / SCALE)
#define HELD_MAX	24	/* references one thread holds at most */
#define QCAP		128	/* per-thread hand-off queue */
#define NLOCKS		16
#define LOOKUP_WINDOW	3	/* lookups favour the last objects created */
#define PAYLOAD_WORDS	8
#define POISON_WORD	0x6b6b6b6b6b6b6b6bULL	/* POISON_FREE, as slab does */

struct obj {
	unsigned int id;
	bool published;
	uint64_t payload[PAYLOAD_WORDS];
	_Alignas(16) unsigned char handle[];	/* the backend's handle_size bytes */
};

struct token {
	struct obj *o;
	bool initial;	/* the creator's reference: dropped with kill if deferred */
	bool use_and_put;	/* a hand-off: the receiver uses it and puts */
};

struct queue {
	pthread_mutex_t lock;
	unsigned int head, count;
	struct token items[QCAP];
} kb_cacheline_aligned;

struct worker {
	unsigned int index;
	pthread_t thread;
	uint64_t rng;
	struct token held[HELD_MAX];
	unsigned int nheld;
	unsigned int created;
	/* tallies, summed by main */
	unsigned long gets, lookups_ok, lookups_failed, handoffs_sent, handoffs_received,
		      moves, puts, put_mutexes, put_locks, kills, put_returned_release;
} kb_cacheline_aligned;

static const struct kb_backend *B;
static bool counts, deferred, kill_initial, exact_read, releases_by_putter;
static unsigned int total_objs;
static struct obj **all;			/* every object, by id (for null and the end) */
static _Atomic(struct obj *) *published;	/* the weak lookup table, by id */
static atomic_int *releases;			/* per object */
static atomic_int *holders;			/* per object: references the test holds */
static atomic_uint created[NTHREADS];		/* per thread: objects created so far */
static atomic_ulong total_releases, releases_on_workers;
static atomic_ulong err_held_at_release, err_payload, err_resurrected, err_read, err_lock;
static struct queue queues[NTHREADS];
static struct worker workers[NTHREADS];
static pthread_mutex_t put_mutexes[NLOCKS];
static pthread_spinlock_t put_spinlocks[NLOCKS];
static pthread_barrier_t phase_barrier;

static __thread bool on_worker;
/* Set around put_mutex/put_lock: release runs with that lock held and unlocks it. */
static __thread pthread_mutex_t *held_mutex;
static __thread pthread_spinlock_t *held_spinlock;

static atomic_uint reported;
#define REPORT(...)								\
	do {									\
		if (atomic_fetch_add_explicit(&reported, 1, memory_order_relaxed) < 20) \
			fprintf(stderr, __VA_ARGS__);				\
	} while (0)

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static uint64_t magic(unsigned int id, unsigned int w)
{
	return ((uint64_t)id + 1) * 0x9E3779B97F4A7C15ULL ^ w;
}

static struct obj *obj_of(void *h) { return kb_container_of(h, struct obj, handle); }

/* Read the object as a holder does; it must not have been released. */
static void use(struct obj *o)
{
	for (unsigned int w = 0; w < PAYLOAD_WORDS; w++)
		if (o->payload[w] != magic(o->id, w)) {
			atomic_fetch_add(&err_payload, 1);
			REPORT("object %u used after release (payload word %u)\n", o->id, w);
			return;
		}
	if (counts && exact_read) {
		long n = B->read(o->handle);

		if (n < 1) {
			atomic_fetch_add(&err_read, 1);
			REPORT("object %u: read() = %ld while a reference is held\n", o->id, n);
		}
	}
}

static void on_release(void *h)
{
	struct obj *o = obj_of(h);
	int held = atomic_load_explicit(&holders[o->id], memory_order_acquire);

	if (held != 0) {
		atomic_fetch_add(&err_held_at_release, 1);
		REPORT("object %u released while %d references are held\n", o->id, held);
	}
	atomic_fetch_add_explicit(&releases[o->id], 1, memory_order_release);
	atomic_fetch_add_explicit(&total_releases, 1, memory_order_relaxed);
	if (on_worker)
		atomic_fetch_add_explicit(&releases_on_workers, 1, memory_order_relaxed);

	for (unsigned int w = 0; w < PAYLOAD_WORDS; w++)
		if (o->payload[w] != magic(o->id, w)) {
			atomic_fetch_add(&err_payload, 1);
			REPORT("object %u released twice or corrupted (payload word %u)\n", o->id, w);
			break;
		}
	for (unsigned int w = 0; w < PAYLOAD_WORDS; w++)
		o->payload[w] = POISON_WORD;

	/* put_mutex/put_lock: the lock is held here, and release unlocks it. */
	if (held_mutex) {
		if (pthread_mutex_unlock(held_mutex) != 0) {	/* error-checking mutex */
			atomic_fetch_add(&err_lock, 1);
			REPORT("object %u: put_mutex released without holding the lock\n", o->id);
		}
		held_mutex = NULL;
	}
	if (held_spinlock) {
		pthread_spin_unlock(held_spinlock);
		held_spinlock = NULL;
	}

	if (o->published) {
		/* Lookups may still read the count until the end; the payload is dead. */
		POISON(o->payload, sizeof(o->payload));
	} else {
		B->destroy(h);
		free(o);
	}
}

static struct obj *create(struct worker *w)
{
	unsigned int id = w->index * OBJS_PER_THREAD + w->created++;
	struct obj *o = calloc(1, sizeof(*o) + B->handle_size);

	if (!o || B->init(o->handle, on_release) != 0) {
		fprintf(stderr, "cannot create object %u\n", id);
		abort();
	}
	o->id = id;
	for (unsigned int i = 0; i < PAYLOAD_WORDS; i++)
		o->payload[i] = magic(id, i);
	all[id] = o;
	atomic_store_explicit(&created[w->index], w->created, memory_order_relaxed);
	atomic_store_explicit(&holders[id], 1, memory_order_relaxed);
	o->published = rnd(&w->rng) % 2;
	if (o->published)
		atomic_store_explicit(&published[id], o, memory_order_release);
	return o;
}

static void hold(struct worker *w, struct token t)
{
	w->held[w->nheld++] = t;
}

static struct token take_held(struct worker *w, unsigned int i)
{
	struct token t = w->held[i];

	w->held[i] = w->held[--w->nheld];
	return t;
}

/* Drop one reference the thread holds: kill for the initial reference of a
 * deferred-release backend, else put, put_mutex or put_lock. */
static void drop(struct worker *w, struct token t)
{
	struct obj *o = t.o;
	void *h = o->handle;
	unsigned int r = rnd(&w->rng) % 8;
	int released;

	atomic_fetch_sub_explicit(&holders[o->id], 1, memory_order_release);
	if (t.initial && kill_initial) {
		w->kills++;
		released = B->kill(h);
	} else if (r == 0) {
		w->put_mutexes++;
		held_mutex = &put_mutexes[o->id % NLOCKS];
		released = B->put_mutex(h, held_mutex);
		if (!released)
			held_mutex = NULL;
	} else if (r == 1) {
		w->put_locks++;
		held_spinlock = &put_spinlocks[o->id % NLOCKS];
		released = B->put_lock(h, held_spinlock);
		if (!released)
			held_spinlock = NULL;
	} else {
		w->puts++;
		released = B->put(h);
	}
	if (released) {
		w->put_returned_release++;
		if (held_mutex || held_spinlock) {
			atomic_fetch_add(&err_lock, 1);
			REPORT("put returned 1 but release did not run with the lock held\n");
			held_mutex = NULL;
			held_spinlock = NULL;
		}
	}
}

static void dup_ref(struct worker *w, struct obj *o)
{
	B->get(o->handle);
	atomic_fetch_add_explicit(&holders[o->id], 1, memory_order_relaxed);
	w->gets++;
}

/* get_unless_zero through the weak table. A success must find the object
 * unreleased: the count can only have been nonzero. */
static bool lookup(struct worker *w, struct token *out)
{
	uint64_t x = rnd(&w->rng);
	unsigned int id, t = (unsigned int)(x % NTHREADS);
	unsigned int made = atomic_load_explicit(&created[t], memory_order_relaxed);
	struct obj *o;

	/* Mostly among the last objects some thread created (likely alive and
	 * contended), sometimes anywhere (likely dead: the lookup must fail). */
	if ((x >> 8) % 4 && made)
		id = t * OBJS_PER_THREAD + made - 1 - (unsigned int)((x >> 16) % LOOKUP_WINDOW % made);
	else
		id = (unsigned int)((x >> 16) % total_objs);
	o = atomic_load_explicit(&published[id], memory_order_acquire);

	if (!o)
		return false;
	if (!B->get_unless_zero(o->handle)) {
		w->lookups_failed++;
		return false;
	}
	atomic_fetch_add_explicit(&holders[id], 1, memory_order_relaxed);
	w->lookups_ok++;
	if (atomic_load_explicit(&releases[id], memory_order_acquire) != 0) {
		atomic_fetch_add(&err_resurrected, 1);
		REPORT("object %u: get_unless_zero succeeded after its release\n", id);
	}
	*out = (struct token){ .o = o };
	return true;
}

static bool push(unsigned int to, struct token t)
{
	struct queue *q = &queues[to];
	bool ok;

	pthread_mutex_lock(&q->lock);
	ok = q->count < QCAP;
	if (ok)
		q->items[(q->head + q->count++) % QCAP] = t;
	pthread_mutex_unlock(&q->lock);
	return ok;
}

static void receive(struct worker *w, struct token t)
{
	if (t.use_and_put) {
		w->handoffs_received++;
		use(t.o);
		drop(w, t);
	} else if (w->nheld < HELD_MAX) {
		hold(w, t);
	} else {
		use(t.o);
		drop(w, t);
	}
}

static void drain_queue(struct worker *w)
{
	struct queue *q = &queues[w->index];
	struct token batch[QCAP];
	unsigned int n;

	pthread_mutex_lock(&q->lock);
	n = q->count;
	for (unsigned int i = 0; i < n; i++)
		batch[i] = q->items[(q->head + i) % QCAP];
	q->head = (q->head + n) % QCAP;
	q->count = 0;
	pthread_mutex_unlock(&q->lock);
	for (unsigned int i = 0; i < n; i++)
		receive(w, batch[i]);
}

static void step(struct worker *w)
{
	unsigned int r = (unsigned int)(rnd(&w->rng) % 100);
	struct token t;

	/* Drop with probability nheld/HELD_MAX: a thread holds about a third of
	 * HELD_MAX references at a time, objects stay alive across several
	 * threads for a while, and still die all the time. */
	if (w->nheld && rnd(&w->rng) % HELD_MAX < w->nheld)
		r = 99;
	else if (w->nheld == 0)
		r = 0;		/* nothing held: look something up */
	else
		r %= 90;

	if (r < 35) {			/* get_unless_zero through the table */
		if (lookup(w, &t)) {
			use(t.o);
			if (rnd(&w->rng) % 4 == 0)
				drop(w, t);
			else
				hold(w, t);
		}
	} else if (r < 60) {		/* get on a reference we hold */
		t = w->held[rnd(&w->rng) % w->nheld];
		dup_ref(w, t.o);
		use(t.o);
		hold(w, (struct token){ .o = t.o });
	} else if (r < 80) {		/* hand-off: get first, then pass */
		unsigned int to = (unsigned int)(rnd(&w->rng) % NTHREADS);

		t = w->held[rnd(&w->rng) % w->nheld];
		dup_ref(w, t.o);
		if (push(to, (struct token){ .o = t.o, .use_and_put = true }))
			w->handoffs_sent++;
		else
			drop(w, (struct token){ .o = t.o });
	} else if (r < 90) {		/* move a reference, maybe the initial one */
		unsigned int i = (unsigned int)(rnd(&w->rng) % w->nheld);
		unsigned int to = (unsigned int)(rnd(&w->rng) % NTHREADS);

		if (push(to, w->held[i])) {
			take_held(w, i);
			w->moves++;
		}
	} else {			/* drop a reference */
		t = take_held(w, (unsigned int)(rnd(&w->rng) % w->nheld));
		use(t.o);
		drop(w, t);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int create_every = OPS_PER_THREAD / OBJS_PER_THREAD;
	struct token t;

	on_worker = true;
	pthread_barrier_wait(&phase_barrier);

	/* Phase 1: traffic, creating objects as it goes. */
	for (unsigned int i = 0; i < OPS_PER_THREAD || w->created < OBJS_PER_THREAD; i++) {
		if (w->created < OBJS_PER_THREAD &&
		    (i % create_every == 0 || i >= OPS_PER_THREAD) && w->nheld < HELD_MAX)
			hold(w, (struct token){ .o = create(w), .initial = true });
		if (i % 8 == 0)
			drain_queue(w);
		step(w);
	}

	/* Nobody pushes after this barrier, so one drain empties the queue. */
	pthread_barrier_wait(&phase_barrier);
	drain_queue(w);

	/* Phase 2: drop everything, still racing lookups against the last puts. */
	while (w->nheld) {
		if (rnd(&w->rng) % 3 == 0 && lookup(w, &t)) {
			use(t.o);
			drop(w, t);
		}
		t = take_held(w, (unsigned int)(rnd(&w->rng) % w->nheld));
		use(t.o);
		drop(w, t);
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct worker sum = { 0 };
	unsigned long bad_once = 0, bad_holders = 0;
	unsigned int first_bad = ~0u;
	double t0 = now();

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2 || !(B = kb_backend_find(argv[1]))) {
		fprintf(stderr, "usage: %s <backend>   (one of: %s)\n", argv[0], kb_backend_names());
		return 2;
	}
	counts = B->flags & KB_COUNTS;
	deferred = B->flags & KB_DEFERRED_RELEASE;
	kill_initial = B->flags & (KB_DEFERRED_RELEASE | KB_KILL_RELEASES);
	exact_read = !(B->flags & (KB_DEFERRED_RELEASE | KB_KILL_RELEASES | KB_EPOCH_RELEASE |
				   KB_OWNER_RELEASE | KB_APPROX_READ));
	releases_by_putter = !(B->flags & (KB_EPOCH_RELEASE | KB_OWNER_RELEASE));
	total_objs = NTHREADS * OBJS_PER_THREAD;
	printf("test_stress %s (%s): %d threads, %u objects, %d ops/thread%s%s\n",
	       B->name, B->model, NTHREADS, total_objs, OPS_PER_THREAD,
	       kill_initial ? ", initial reference dropped by kill, then sync()" : ", then sync()",
	       counts ? "" : "; NOT a counter: expecting no release at all");

	all = calloc(total_objs, sizeof(*all));
	published = calloc(total_objs, sizeof(*published));
	releases = calloc(total_objs, sizeof(*releases));
	holders = calloc(total_objs, sizeof(*holders));
	if (!all || !published || !releases || !holders)
		return 2;
	for (int i = 0; i < NLOCKS; i++) {
		pthread_mutexattr_t attr;

		pthread_mutexattr_init(&attr);
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
		pthread_mutex_init(&put_mutexes[i], &attr);
		pthread_mutexattr_destroy(&attr);
		pthread_spin_init(&put_spinlocks[i], PTHREAD_PROCESS_PRIVATE);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_mutex_init(&queues[i].lock, NULL);
	pthread_barrier_init(&phase_barrier, NULL, NTHREADS);

	for (unsigned int i = 0; i < NTHREADS; i++) {
		workers[i].index = i;
		workers[i].rng = 0x9E3779B97F4A7C15ULL * (i + 1) ^ (uint64_t)time(NULL);
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			return 2;
		}
	}
	for (unsigned int i = 0; i < NTHREADS; i++) {
		struct worker *w = &workers[i];

		pthread_join(w->thread, NULL);
		CHECK_EQ(w->nheld, 0, "references still held by a worker at exit");
		CHECK_EQ(w->created, OBJS_PER_THREAD, "objects created by a worker");
		sum.created += w->created;
		sum.gets += w->gets;
		sum.lookups_ok += w->lookups_ok;
		sum.lookups_failed += w->lookups_failed;
		sum.handoffs_sent += w->handoffs_sent;
		sum.handoffs_received += w->handoffs_received;
		sum.moves += w->moves;
		sum.puts += w->puts;
		sum.put_mutexes += w->put_mutexes;
		sum.put_locks += w->put_locks;
		sum.kills += w->kills;
		sum.put_returned_release += w->put_returned_release;
	}
	B->sync();	/* every deferred release (folds, epochs, owners' merges) has run */

	printf("traffic: %lu gets, %lu get_unless_zero ok / %lu failed (count was 0), "
	       "%lu hand-offs, %lu moves, %lu put, %lu put_mutex, %lu put_lock, %lu kill\n",
	       sum.gets, sum.lookups_ok, sum.lookups_failed, sum.handoffs_sent, sum.moves,
	       sum.puts, sum.put_mutexes, sum.put_locks, sum.kills);

	CHECK_EQ(sum.created, total_objs, "objects created");
	CHECK_EQ(sum.handoffs_received, sum.handoffs_sent, "hand-offs received == sent");
	if (B->flags & KB_NO_GET_UNLESS_ZERO)
		CHECK_EQ(sum.lookups_ok, 0, "get_unless_zero is not offered: every lookup fails");
	else
		CHECK(sum.lookups_ok > 0, "some get_unless_zero lookups must succeed");
	CHECK(sum.handoffs_sent > 0 && sum.moves > 0, "hand-offs and moves happened");
	CHECK(sum.put_mutexes > 0 && sum.put_locks > 0, "put_mutex and put_lock were exercised");
	CHECK_EQ(atomic_load(&err_payload), 0, "uses of a released object (payload poisoned)");
	CHECK_EQ(atomic_load(&err_resurrected), 0, "get_unless_zero successes on released objects");
	CHECK_EQ(atomic_load(&err_held_at_release), 0, "releases while the test held a reference");
	CHECK_EQ(atomic_load(&err_read), 0, "read() < 1 while holding a reference");
	CHECK_EQ(atomic_load(&err_lock), 0, "put_mutex/put_lock lock protocol errors");

	for (unsigned int id = 0; id < total_objs; id++) {
		int n = atomic_load(&releases[id]);

		if (n != (counts ? 1 : 0)) {
			bad_once++;
			if (first_bad == ~0u)
				first_bad = id;
		}
		if (atomic_load(&holders[id]) != 0)
			bad_holders++;
	}
	if (counts) {
		CHECK(bad_once == 0, "%lu objects not released exactly once (first: id %u, %d times)",
		      bad_once, first_bad, first_bad == ~0u ? 0 : atomic_load(&releases[first_bad]));
		CHECK_EQ(atomic_load(&total_releases), total_objs, "total releases == objects created");
		if (releases_by_putter)
			CHECK_EQ(atomic_load(&releases_on_workers), sum.put_returned_release,
				 "puts that returned 1 == releases run by the putting thread");
		else
			printf("releases: %lu by a put that returned 1, %lu by epochs or owners' merges "
			       "(%lu of all on worker threads)\n", sum.put_returned_release,
			       atomic_load(&total_releases) - sum.put_returned_release,
			       atomic_load(&releases_on_workers));
		if (B->flags & KB_EPOCH_RELEASE)
			CHECK_EQ(sum.put_returned_release, 0, "no put releases at once (epochs do)");
		else if (releases_by_putter && !deferred)
			CHECK_EQ(sum.put_returned_release, total_objs,
				 "every release came from a put that returned 1");
		else if (deferred)
			printf("deferred releases: %lu by a put in atomic mode, %lu by the RCU fold callback\n",
			       sum.put_returned_release,
			       atomic_load(&total_releases) - sum.put_returned_release);
	} else {
		printf("null is not a reference count: it released nothing, as it must; "
		       "freeing the %u objects by hand\n", total_objs);
		CHECK(bad_once == 0, "%lu objects were released by the null backend (first: id %u)",
		      bad_once, first_bad);
		CHECK_EQ(atomic_load(&total_releases), 0, "null: releases");
		CHECK_EQ(sum.put_returned_release, 0, "null: puts that returned 1");
		CHECK_EQ(sum.lookups_failed, 0, "null: failed get_unless_zero");
	}
	CHECK_EQ(bad_holders, 0, "objects whose test-held reference count is not back to 0");
	if (strcmp(B->name, "refcount") == 0)
		for (int t = 0; t < REFCOUNT_NR_WARNINGS; t++)
			CHECK_EQ(refcount_warnings(t), 0, refcount_warning_name(t));
	if (strcmp(B->name, "percpu") == 0)
		CHECK_EQ(kb_percpu_double_kills(), 0, "percpu double kills");

	/* Free what release did not: published objects (their memory had to stay
	 * valid for lookups) and, for null, everything. */
	for (unsigned int id = 0; id < total_objs; id++) {
		struct obj *o = all[id];

		if (o && (atomic_load(&published[id]) || !counts)) {
			UNPOISON(o->payload, sizeof(o->payload));
			B->destroy(o->handle);
			free(o);
		}
	}
	free(all);
	free(published);
	free(releases);
	free(holders);
	pthread_barrier_destroy(&phase_barrier);
	printf("wall time %.2f s\n", now() - t0);
	return check_summary();
}
