/*
 * The per-CPU backend (core/backends/percpu.h) directly, under concurrency:
 *
 * 1. slot layout: 8 bytes apart within a CPU's block, CPUs' blocks whole pages
 *    apart, and a get lands in the current CPU's slot;
 * 2. rseq: whether glibc registered it, and kb_current_cpu() == sched_getcpu()
 *    pinned to each allowed CPU, with rseq and (re-executed with the glibc
 *    tunable that disables it) without;
 * 3. exact sum under forced migration: workers get/put shared refs while a
 *    migrator thread keeps moving them between the allowed CPUs; the per-CPU
 *    sum is exact afterwards, the atomic count after kill + barrier is exact,
 *    and release runs exactly once, from the last holder's put;
 * 4. kill racing with get/put/tryget/tryget_live, many rounds, fresh refs in
 *    reused arena slots each round: release exactly once, after the last put,
 *    never while a reference is held, and no lookup succeeds after it;
 * 5. kill -> zero -> reinit cycles with concurrent users between them
 *    (reinit only at zero: elsewhere it resurrects, test_percpu_api checks that);
 * 6. read() racing kill, the fold and reinit never shows the bias.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "without_rseq.h"
#include "core/backends/percpu.h"


#if defined(KREFBENCH_TSAN)
#define SCALE 5
#define KILL_ROUNDS 50
#elif defined(KREFBENCH_ASAN)
#define SCALE 2
#define KILL_ROUNDS 80
#else
#define SCALE 1
#define KILL_ROUNDS 120	/* each round waits for liburcu's rcu_barrier (~10 ms) */
#endif

#define NW		4	/* worker threads (plus a migrator and main) */
#define NREFS		4
#define MIGRATE_ITERS	(4000000 / SCALE)
#define KILL_REFS	16	/* per round; the arena has exactly this many slots */
#define KILL_HELD	2	/* references each worker holds through a round */
#define REINIT_CYCLES	(40 / SCALE)
#define REINIT_ITERS	(20000 / SCALE)

/* A ref with what the test knows about it. */
struct tracked {
	struct kref_percpu ref;
	atomic_int releases;
	atomic_int holders;		/* references the test holds right now */
	atomic_int released_by_put;	/* puts that returned 1 */
};

static atomic_ulong released_while_held, unexpected;
static cpu_set_t original_mask;
static int allowed[CPU_SETSIZE];
static int nallowed;

static atomic_uint reported;
#define REPORT(...)								\
	do {									\
		atomic_fetch_add(&unexpected, 1);				\
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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_release(struct kref_percpu *r)
{
	struct tracked *t = kb_container_of(r, struct tracked, ref);
	int held = atomic_load_explicit(&t->holders, memory_order_acquire);

	if (held) {
		atomic_fetch_add(&released_while_held, 1);
		fprintf(stderr, "release while the test holds %d references\n", held);
	}
	atomic_fetch_add_explicit(&t->releases, 1, memory_order_release);
}

/* For refs not inside a struct tracked, whose puts must never release. */
static void must_not_release(struct kref_percpu *r)
{
	REPORT("unexpected release of %p\n", (void *)r);
}

static int tracked_init(struct tracked *t, struct kb_percpu_arena *a)
{
	atomic_init(&t->releases, 0);
	atomic_init(&t->holders, 1);	/* the initial reference */
	atomic_init(&t->released_by_put, 0);
	return a ? kref_percpu_init_in(&t->ref, a) : kref_percpu_init(&t->ref);
}

/* Take a reference the caller is entitled to (it holds one already, or the
 * ref is live and tryget must succeed). */
static void take(struct tracked *t, unsigned int how)
{
	bool ok = true;

	switch (how % 3) {
	case 0: kref_percpu_get(&t->ref); break;
	case 1: ok = kref_percpu_tryget(&t->ref); break;
	case 2: ok = kref_percpu_tryget_live(&t->ref); break;
	}
	if (!ok)
		REPORT("tryget%s failed on a live ref\n", how % 3 == 2 ? "_live" : "");
	atomic_fetch_add_explicit(&t->holders, 1, memory_order_relaxed);
}

static int drop(struct tracked *t)
{
	int released;

	atomic_fetch_sub_explicit(&t->holders, 1, memory_order_release);
	released = kref_percpu_put(&t->ref, on_release);
	if (released)
		atomic_fetch_add(&t->released_by_put, 1);
	return released;
}

/* A get/put pair while the caller holds a reference: the put is never last. */
static void pair(struct tracked *t, unsigned int how)
{
	take(t, how);
	if (drop(t))
		REPORT("a put released while another reference was held\n");
}

static long slot_value(const struct kref_percpu *r, unsigned int cpu)
{
	return atomic_load(kb_percpu_slot_of(r, cpu));
}

static int pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void unpin_self(void)
{
	pthread_setaffinity_np(pthread_self(), sizeof(original_mask), &original_mask);
}

/* ---------------------------------------------------------------------- */
/* 3. Exact sum under forced migration */

static struct tracked mig_refs[NREFS];
static pthread_barrier_t mig_barrier;	/* NW workers + migrator + main */
static atomic_uint mig_done[2];
static atomic_ulong migrations_seen, affinity_failures;

struct mig_worker {
	pthread_t thread;
	unsigned int index;
	uint64_t rng;
} kb_cacheline_aligned;

static struct mig_worker mig_workers[NW];

static void note_cpu(int *last)
{
	int cpu = kb_current_cpu();

	if (cpu != *last) {
		if (*last >= 0)
			atomic_fetch_add_explicit(&migrations_seen, 1, memory_order_relaxed);
		*last = cpu;
	}
}

static void *mig_worker_main(void *arg)
{
	struct mig_worker *w = arg;
	unsigned int hold = w->index + 1;	/* references kept on every ref */
	unsigned int every = MIGRATE_ITERS / hold;
	int last = -1;

	/* Phase A: per-CPU mode. Pairs of every kind; the held references are
	 * taken at points spread over the run, so some are taken on one CPU
	 * and dropped (phase B) on another. */
	for (unsigned int i = 0; i < MIGRATE_ITERS; i++) {
		uint64_t x = rnd(&w->rng);

		if (i % every == every - 1)
			for (unsigned int k = 0; k < NREFS; k++)
				take(&mig_refs[k], (unsigned int)(x >> 8) + k);
		pair(&mig_refs[x % NREFS], (unsigned int)(x >> 4));
		note_cpu(&last);
	}
	atomic_fetch_add(&mig_done[0], 1);
	pthread_barrier_wait(&mig_barrier);	/* main checks the sum, kills */
	pthread_barrier_wait(&mig_barrier);

	/* Phase B: atomic mode. More pairs, then drop what we hold. */
	for (unsigned int i = 0; i < MIGRATE_ITERS / 4; i++) {
		uint64_t x = rnd(&w->rng);

		kref_percpu_get(&mig_refs[x % NREFS].ref);
		atomic_fetch_add_explicit(&mig_refs[x % NREFS].holders, 1, memory_order_relaxed);
		if (drop(&mig_refs[x % NREFS]))
			REPORT("phase B: a put released while references were held\n");
		if (kref_percpu_tryget_live(&mig_refs[x % NREFS].ref))
			REPORT("tryget_live succeeded on a killed ref\n");
		note_cpu(&last);
	}
	for (unsigned int h = 0; h < hold; h++)
		for (unsigned int k = 0; k < NREFS; k++) {
			drop(&mig_refs[k]);
			note_cpu(&last);
		}
	atomic_fetch_add(&mig_done[1], 1);
	pthread_barrier_wait(&mig_barrier);
	return NULL;
}

static void *migrator_main(void *arg)
{
	unsigned long round = 0;

	(void)arg;
	for (int phase = 0; phase < 2; phase++) {
		while (atomic_load(&mig_done[phase]) < NW) {
			for (unsigned int w = 0; w < NW && nallowed > 1; w++) {
				cpu_set_t set;

				CPU_ZERO(&set);
				CPU_SET(allowed[(round + w) % (unsigned long)nallowed], &set);
				if (pthread_setaffinity_np(mig_workers[w].thread, sizeof(set), &set))
					atomic_fetch_add(&affinity_failures, 1);
			}
			round++;
			sched_yield();
		}
		pthread_barrier_wait(&mig_barrier);
		if (phase == 0)
			pthread_barrier_wait(&mig_barrier);
	}
	return NULL;
}

static void test_migration(void)
{
	struct kb_percpu_arena *a = kb_percpu_arena_create(NREFS, (unsigned int)kb_possible_cpus());
	pthread_t migrator;
	long held_per_ref = 0, expect;
	double t0 = now();

	printf("-- 3. exact sum under forced migration (%d workers, %d CPUs allowed)\n", NW, nallowed);
	CHECK(a != NULL, "arena");
	if (!a)
		return;
	for (unsigned int w = 0; w < NW; w++)
		held_per_ref += w + 1;
	for (int k = 0; k < NREFS; k++)
		CHECK_EQ(tracked_init(&mig_refs[k], a), 0, "init_in");
	pthread_barrier_init(&mig_barrier, NULL, NW + 2);
	for (unsigned int w = 0; w < NW; w++) {
		mig_workers[w].index = w;
		mig_workers[w].rng = 0x9E3779B97F4A7C15ULL * (w + 1) ^ (uint64_t)time(NULL);
		pthread_create(&mig_workers[w].thread, NULL, mig_worker_main, &mig_workers[w]);
	}
	pthread_create(&migrator, NULL, migrator_main, NULL);

	pthread_barrier_wait(&mig_barrier);	/* phase A done; everyone is idle */
	expect = 1 + held_per_ref;
	for (int k = 0; k < NREFS; k++) {
		struct kref_percpu *r = &mig_refs[k].ref;

		CHECK_EQ(kref_percpu_read(r), expect, "per-CPU sum after migrating get/put");
		CHECK(!kref_percpu_is_atomic(r) && !kref_percpu_is_dead(r), "still per-CPU mode");
		CHECK_EQ(atomic_load(&r->data->count), (long)(1 + KB_PERCPU_BIAS),
			 "per-CPU mode never touched the atomic count");
	}
	printf("ref 0 slots:");
	for (unsigned int c = 0; c < mig_refs[0].ref.ncpus; c++)
		printf(" cpu%u=%+ld", c, slot_value(&mig_refs[0].ref, c));
	printf(" (sum %ld; a slot goes negative when a reference moves CPUs)\n",
	       kref_percpu_read(&mig_refs[0].ref));

	/* Main keeps one extra reference on refs 0 and 1, to drop last. */
	for (int k = 0; k < 2; k++)
		take(&mig_refs[k], 0);
	for (int k = 0; k < NREFS; k++) {
		atomic_fetch_sub(&mig_refs[k].holders, 1);	/* the initial reference */
		CHECK_EQ(kref_percpu_kill(&mig_refs[k].ref, on_release), 0, "kill returns 0 (deferred)");
		CHECK(kref_percpu_is_dead(&mig_refs[k].ref), "dead after kill");
		CHECK(!kref_percpu_tryget_live(&mig_refs[k].ref), "tryget_live fails after kill");
	}
	kref_percpu_barrier();
	for (int k = 0; k < NREFS; k++) {
		struct kref_percpu *r = &mig_refs[k].ref;
		long want = held_per_ref + (k < 2);

		CHECK(kref_percpu_is_atomic(r), "atomic mode after kill + barrier");
		CHECK_EQ(atomic_load(&r->data->count), want, "atomic count after kill + barrier");
		CHECK_EQ(kref_percpu_read(r), want, "read after kill + barrier");
		CHECK_EQ(atomic_load(&mig_refs[k].releases), 0, "no release while references are held");
	}
	pthread_barrier_wait(&mig_barrier);	/* phase B: workers drop, migrating */
	pthread_barrier_wait(&mig_barrier);
	for (int k = 0; k < NREFS; k++) {
		struct tracked *t = &mig_refs[k];

		if (k < 2) {
			CHECK_EQ(atomic_load(&t->releases), 0, "not released while main holds the last reference");
			CHECK_EQ(kref_percpu_read(&t->ref), 1, "main's reference is the last one");
			CHECK_EQ(drop(t), 1, "main's last put releases");
		}
		CHECK_EQ(atomic_load(&t->releases), 1, "released exactly once");
		CHECK_EQ(atomic_load(&t->released_by_put), 1, "by exactly one put (the last)");
		CHECK_EQ(kref_percpu_read(&t->ref), 0, "count 0 after the last put");
	}
	for (unsigned int w = 0; w < NW; w++)
		pthread_join(mig_workers[w].thread, NULL);
	pthread_join(migrator, NULL);
	kref_percpu_barrier();
	for (int k = 0; k < NREFS; k++) {
		CHECK_EQ(atomic_load(&mig_refs[k].releases), 1, "still released exactly once");
		kref_percpu_destroy(&mig_refs[k].ref);
	}
	CHECK_EQ(kb_percpu_arena_used(a), 0, "arena empty after destroy");
	kb_percpu_arena_destroy(a);
	pthread_barrier_destroy(&mig_barrier);
	CHECK_EQ(atomic_load(&affinity_failures), 0, "pthread_setaffinity_np failures");
	if (nallowed > 1)
		CHECK(atomic_load(&migrations_seen) > 0, "workers were seen to change CPU");
	else
		printf("only one CPU allowed: migration cannot be forced here\n");
	printf("%lu CPU changes seen by workers; %.2f s\n", atomic_load(&migrations_seen), now() - t0);
}

/* ---------------------------------------------------------------------- */
/* 4. kill racing with get/put/tryget/tryget_live */

static struct tracked kill_refs[KILL_REFS];
static pthread_barrier_t kill_barrier;	/* NW workers + main */
/*
 * Round modes:
 * 0: workers hold references through the kill and drop them as soon as main
 *    has killed, during the grace period (the fold usually releases);
 * 1: they drop them only after main waited for the fold (a worker's last put
 *    releases);
 * 2: they hold nothing: only tryget/tryget_live lookups race with the kill,
 *    the fold and the release, until every ref has been released; a lookup
 *    that succeeds after the release would be a resurrection.
 */
static atomic_int kill_mode;
static atomic_bool kill_stop, kill_finish;
static atomic_ulong tryget_live_failed, tryget_failed, ops_after_kill;

static bool all_released(void)
{
	for (int k = 0; k < KILL_REFS; k++)
		if (!atomic_load_explicit(&kill_refs[k].releases, memory_order_acquire))
			return false;
	return true;
}

/* Mode 0 and 1: every op is legal because this thread holds references. */
static void kill_round_holding(uint64_t *rng)
{
	for (unsigned int tail = 0; tail < 32; ) {
		uint64_t x = rnd(rng);
		struct tracked *t = &kill_refs[x % KILL_REFS];

		switch ((x >> 8) % 3) {
		case 0:
			pair(t, 0);
			break;
		case 1:		/* tryget must succeed: we hold a reference */
			pair(t, 1);
			break;
		case 2:
			if (kref_percpu_tryget_live(&t->ref)) {
				atomic_fetch_add(&t->holders, 1);
				if (drop(t))
					REPORT("a put released while references were held\n");
			} else {
				atomic_fetch_add_explicit(&tryget_live_failed, 1, memory_order_relaxed);
				if (!kref_percpu_is_dead(&t->ref))
					REPORT("tryget_live failed on a ref not killed\n");
			}
			break;
		}
		if (atomic_load_explicit(&t->releases, memory_order_relaxed))
			REPORT("released while this thread holds references\n");
		if (atomic_load_explicit(&kill_stop, memory_order_relaxed)) {
			tail++;		/* a few more ops after the kill */
			atomic_fetch_add_explicit(&ops_after_kill, 1, memory_order_relaxed);
		} else if (x % 16 == 0 && kref_percpu_is_dead(&t->ref)) {
			sched_yield();	/* let main's grace period through */
		}
	}
	for (int h = 0; h < KILL_HELD; h++)
		for (int k = 0; k < KILL_REFS; k++)
			drop(&kill_refs[k]);
}

/* Mode 2: lookups only. The refs' memory stays valid until the round ends,
 * as RCU would keep it. */
static void kill_round_lookups(uint64_t *rng)
{
	double give_up = now() + 30;	/* a lost count would spin here forever */

	for (unsigned int tail = 0, n = 0; tail < 64; n++) {
		uint64_t x = rnd(rng);
		struct tracked *t = &kill_refs[x % KILL_REFS];
		bool live = (x >> 8) % 2;
		bool ok = live ? kref_percpu_tryget_live(&t->ref) : kref_percpu_tryget(&t->ref);

		if (ok) {
			atomic_fetch_add(&t->holders, 1);
			if (atomic_load_explicit(&t->releases, memory_order_acquire))
				REPORT("tryget%s succeeded on a released ref\n", live ? "_live" : "");
			for (int i = 0; i < 8; i++)	/* use it a while */
				pair(t, 0);
			drop(t);	/* may be the last reference */
		} else {
			atomic_fetch_add_explicit(live ? &tryget_live_failed : &tryget_failed, 1,
						  memory_order_relaxed);
			if (!kref_percpu_is_dead(&t->ref))
				REPORT("tryget%s failed on a ref not killed\n", live ? "_live" : "");
		}
		if (x % 32 == 0) {
			if (tail || all_released())
				tail++;		/* after every release: lookups must fail */
			else if (kref_percpu_is_dead(&t->ref))
				sched_yield();	/* let the fold through */
		}
		if (n % 4096 == 0 && now() > give_up) {
			REPORT("refs still not released 30 s after kill\n");
			break;
		}
	}
}

static void *kill_worker_main(void *arg)
{
	uint64_t rng = (uintptr_t)arg * 0x9E3779B97F4A7C15ULL + 1;

	for (;;) {
		pthread_barrier_wait(&kill_barrier);		/* round start */
		if (atomic_load(&kill_finish))
			return NULL;
		if (atomic_load(&kill_mode) != 2)
			for (int h = 0; h < KILL_HELD; h++)
				for (int k = 0; k < KILL_REFS; k++)
					take(&kill_refs[k], 0);	/* get: main holds the initial ref */
		pthread_barrier_wait(&kill_barrier);		/* refs taken: main may kill */
		if (atomic_load(&kill_mode) != 2)
			kill_round_holding(&rng);
		else
			kill_round_lookups(&rng);
		pthread_barrier_wait(&kill_barrier);		/* round end */
	}
}

static void test_kill_race(void)
{
	struct kb_percpu_arena *a = kb_percpu_arena_create(KILL_REFS, (unsigned int)kb_possible_cpus());
	pthread_t threads[NW];
	uintptr_t slots[KILL_REFS] = { 0 };
	uint64_t rng = 42;
	unsigned long by_put[3] = { 0 }, by_fold[3] = { 0 }, bad_release = 0, bad_read = 0, bad_reuse = 0;
	double t0 = now();

	printf("-- 4. kill racing with get/put/tryget/tryget_live: %d rounds x %d refs, %d workers\n",
	       KILL_ROUNDS, KILL_REFS, NW);
	CHECK(a != NULL, "arena");
	if (!a)
		return;
	pthread_barrier_init(&kill_barrier, NULL, NW + 1);
	for (uintptr_t w = 0; w < NW; w++)
		pthread_create(&threads[w], NULL, kill_worker_main, (void *)w);

	for (int round = 0; round < KILL_ROUNDS; round++) {
		int mode = round % 3;
		bool wait_fold = mode == 1;

		for (int k = 0; k < KILL_REFS; k++) {
			if (tracked_init(&kill_refs[k], a) != 0) {
				CHECK(0, "init_in failed in round %d: arena slots not reused", round);
				goto out;
			}
			uintptr_t p = atomic_load(&kill_refs[k].ref.percpu_ptr);
			bool seen = false;

			if (round == 0)
				slots[k] = p;
			for (int j = 0; j < KILL_REFS; j++)
				seen |= slots[j] == p;
			bad_reuse += !seen;
		}
		atomic_store(&kill_stop, false);
		atomic_store(&kill_mode, mode);
		pthread_barrier_wait(&kill_barrier);	/* start */
		pthread_barrier_wait(&kill_barrier);	/* workers hold their refs */

		/* Let the workers run a random while, doing work of our own. */
		for (uint64_t n = rnd(&rng) % 2000; n; n--)
			pair(&kill_refs[n % KILL_REFS], (unsigned int)n);
		for (int k = 0; k < KILL_REFS; k++) {
			atomic_fetch_sub(&kill_refs[k].holders, 1);
			kref_percpu_kill(&kill_refs[k].ref, on_release);
		}
		if (wait_fold) {
			kref_percpu_barrier();
			for (int k = 0; k < KILL_REFS; k++) {
				bad_read += kref_percpu_read(&kill_refs[k].ref) < NW * KILL_HELD ||
					    !kref_percpu_is_atomic(&kill_refs[k].ref);
				bad_release += atomic_load(&kill_refs[k].releases) != 0;
			}
		}
		atomic_store(&kill_stop, true);
		pthread_barrier_wait(&kill_barrier);	/* workers dropped everything */
		kref_percpu_barrier();
		for (int k = 0; k < KILL_REFS; k++) {
			struct tracked *t = &kill_refs[k];
			int put_released = atomic_load(&t->released_by_put);

			bad_release += atomic_load(&t->releases) != 1 || put_released > 1 ||
				       atomic_load(&t->holders) != 0;
			bad_read += kref_percpu_read(&t->ref) != 0;
			if (wait_fold)
				bad_release += put_released != 1;
			by_put[mode] += (unsigned long)put_released;
			by_fold[mode] += put_released == 0;
			kref_percpu_destroy(&t->ref);
		}
		bad_reuse += kb_percpu_arena_used(a) != 0;
	}
out:
	atomic_store(&kill_finish, true);
	pthread_barrier_wait(&kill_barrier);
	for (int w = 0; w < NW; w++)
		pthread_join(threads[w], NULL);
	pthread_barrier_destroy(&kill_barrier);
	kb_percpu_arena_destroy(a);

	CHECK_EQ(bad_release, 0, "refs not released exactly once, after the last put");
	CHECK_EQ(bad_read, 0, "wrong counts after kill (held refs) or after the last put (0)");
	CHECK_EQ(bad_reuse, 0, "arena slots not reused round after round");
	CHECK(atomic_load(&ops_after_kill) > 0, "operations raced with kill");
	CHECK(atomic_load(&tryget_live_failed) > 0, "some tryget_live saw the ref dead");
	printf("releases by the last put / by the fold: %lu/%lu dropping during the grace period, "
	       "%lu/%lu dropping after it, %lu/%lu with only lookups racing\n",
	       by_put[0], by_fold[0], by_put[1], by_fold[1], by_put[2], by_fold[2]);
	CHECK_EQ(by_fold[1], 0, "after the fold, a worker's last put releases");
	CHECK_EQ(by_put[0] + by_fold[0] + by_put[1] + by_fold[1] + by_put[2] + by_fold[2],
		 KILL_ROUNDS * KILL_REFS, "releases in all");
	CHECK(atomic_load(&tryget_failed) > 0, "some tryget found the count at 0");
	printf("failed after kill: %lu tryget_live, %lu tryget; %.2f s\n",
	       atomic_load(&tryget_live_failed), atomic_load(&tryget_failed), now() - t0);
}

/* ---------------------------------------------------------------------- */
/* 5. kill -> zero -> reinit cycles */

#define NU 3
static struct tracked cyc;
static pthread_barrier_t cyc_barrier;	/* NU users + main */

static void *cyc_user_main(void *arg)
{
	uint64_t rng = (uintptr_t)arg * 0x2545F4914F6CDD1DULL + 7;

	for (int c = 0; c < REINIT_CYCLES; c++) {
		bool hold_across = c % 2;

		pthread_barrier_wait(&cyc_barrier);	/* ref is live */
		for (int i = 0; i < REINIT_ITERS; i++)
			pair(&cyc, (unsigned int)rnd(&rng));
		if (hold_across)
			take(&cyc, 2);			/* tryget_live: must succeed */
		pthread_barrier_wait(&cyc_barrier);	/* main kills */
		pthread_barrier_wait(&cyc_barrier);
		if (hold_across) {
			if (kref_percpu_tryget_live(&cyc.ref))
				REPORT("tryget_live succeeded on a killed ref\n");
			for (int i = 0; i < REINIT_ITERS / 4; i++)
				pair(&cyc, 0);		/* get/put in atomic mode */
			drop(&cyc);
		}
		pthread_barrier_wait(&cyc_barrier);	/* main reinits */
	}
	return NULL;
}

static void test_reinit(void)
{
	pthread_t users[NU];
	double t0 = now();
	int reinit_ok = 0;

	printf("-- 5. kill -> zero -> reinit, %d cycles, %d concurrent users\n", REINIT_CYCLES, NU);
	CHECK_EQ(tracked_init(&cyc, NULL), 0, "init in the default arena");
	CHECK_EQ(cyc.ref.ncpus, kb_possible_cpus(), "default arena covers every possible CPU");
	pthread_barrier_init(&cyc_barrier, NULL, NU + 1);
	for (uintptr_t u = 0; u < NU; u++)
		pthread_create(&users[u], NULL, cyc_user_main, (void *)u);

	for (int c = 0; c < REINIT_CYCLES; c++) {
		bool hold_across = c % 2;
		long held = hold_across ? NU : 0;

		pthread_barrier_wait(&cyc_barrier);
		pthread_barrier_wait(&cyc_barrier);	/* users idle, holding `held` */
		CHECK_EQ(kref_percpu_read(&cyc.ref), 1 + held, "count of a live ref");
		CHECK(!kref_percpu_is_zero(&cyc.ref), "a live per-CPU ref is not zero");
		atomic_fetch_sub(&cyc.holders, 1);
		kref_percpu_kill(&cyc.ref, on_release);
		CHECK(kref_percpu_is_dead(&cyc.ref), "dead after kill");
		if (hold_across) {
			kref_percpu_barrier();
			CHECK_EQ(kref_percpu_read(&cyc.ref), held, "users' references after kill");
			CHECK(!kref_percpu_is_zero(&cyc.ref), "not zero while users hold references");
			CHECK_EQ(atomic_load(&cyc.releases), c, "no release while users hold references");
		}
		pthread_barrier_wait(&cyc_barrier);	/* users drop theirs */
		pthread_barrier_wait(&cyc_barrier);
		kref_percpu_barrier();
		CHECK_EQ(atomic_load(&cyc.releases), c + 1, "one release per cycle");
		CHECK_EQ(kref_percpu_read(&cyc.ref), 0, "zero before reinit");
		if (kref_percpu_reinit(&cyc.ref) == 0)
			reinit_ok++;
		atomic_store(&cyc.holders, 1);
		CHECK(!kref_percpu_is_dead(&cyc.ref) && !kref_percpu_is_atomic(&cyc.ref),
		      "per-CPU and live after reinit");
		CHECK_EQ(kref_percpu_read(&cyc.ref), 1, "count 1 after reinit");
		CHECK_EQ(atomic_load(&cyc.ref.data->count), (long)(1 + KB_PERCPU_BIAS),
			 "bias back in after reinit");
		for (unsigned int cpu = 0; cpu < cyc.ref.ncpus; cpu++)
			CHECK_EQ(slot_value(&cyc.ref, cpu), 0, "slots zeroed by reinit");
	}
	CHECK_EQ(reinit_ok, REINIT_CYCLES, "reinit after zero succeeds");
	for (int u = 0; u < NU; u++)
		pthread_join(users[u], NULL);
	pthread_barrier_destroy(&cyc_barrier);

	atomic_fetch_sub(&cyc.holders, 1);
	kref_percpu_kill(&cyc.ref, on_release);
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&cyc.releases), REINIT_CYCLES + 1, "final kill releases");
	kref_percpu_destroy(&cyc.ref);
	printf("%.2f s\n", now() - t0);
}

/* ---------------------------------------------------------------------- */
/* 1. slot layout */

static void test_layout(void)
{
	unsigned int ncpus = (unsigned int)kb_possible_cpus(), cap = 64;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct kb_percpu_arena *a = kb_percpu_arena_create(cap, ncpus);
	struct kref_percpu x, y, z;
	uintptr_t px, py;
	unsigned long shared_lines = 0;

	printf("-- 1. slot layout: %u possible CPUs, page %zu, %zu bytes per object\n",
	       ncpus, page, kb_percpu_bytes_per_object());
	CHECK(a != NULL, "arena");
	if (!a)
		return;
	CHECK_EQ(kref_percpu_init_in(&x, a), 0, "init x");
	CHECK_EQ(kref_percpu_init_in(&y, a), 0, "init y");
	px = atomic_load(&x.percpu_ptr);
	py = atomic_load(&y.percpu_ptr);
	CHECK_EQ(px & KB_PERCPU_FLAGS, 0, "x starts in per-CPU mode");
	CHECK_EQ(px % 8, 0, "slot is 8-byte aligned");
	CHECK_EQ(py - px, 8, "two objects' slots are 8 bytes apart in a CPU's block");
	CHECK_EQ(x.stride, y.stride, "one stride per arena");
	CHECK_EQ(x.ncpus, ncpus, "a slot for every possible CPU");
	CHECK(x.stride >= page && x.stride % page == 0, "CPU blocks are whole pages apart (stride %zu)",
	      (size_t)x.stride);
	CHECK(x.stride >= cap * sizeof(long), "a block holds every object's slot");
	/* Blocks start on page boundaries (the arena is mmap'ed) and are whole
	 * pages apart, so no page, let alone a cache line, holds slots of two
	 * CPUs, for one object or for two. */
	CHECK_EQ((px & ~KB_PERCPU_FLAGS) % page, 0, "the first object's CPU-0 slot starts a page");
	for (unsigned int c = 0; c < ncpus; c++)
		for (unsigned int d = 0; d < ncpus; d++) {
			uintptr_t xc = px + c * x.stride, xd = px + d * x.stride, yd = py + d * y.stride;

			if (c != d && (xc / page == yd / page || xc / page == xd / page ||
				       xc / 64 == yd / 64))
				shared_lines++;
		}
	CHECK_EQ(shared_lines, 0, "slot pairs of different CPUs sharing a page or a line");

	/* A get lands in the current CPU's slot, and only there. */
	for (int i = 0; i < nallowed; i++) {
		unsigned int cpu = (unsigned int)allowed[i];
		long before[CPU_SETSIZE], changed = 0;

		if (pin_self((int)cpu) != 0) {
			CHECK(0, "pin to CPU %u", cpu);
			continue;
		}
		for (unsigned int c = 0; c < ncpus; c++)
			before[c] = slot_value(&x, c);
		kref_percpu_get(&x);
		CHECK_EQ(slot_value(&x, cpu) - before[cpu], 1, "get adds 1 to the current CPU's slot");
		for (unsigned int c = 0; c < ncpus; c++)
			changed += c != cpu && slot_value(&x, c) != before[c];
		CHECK_EQ(changed, 0, "other CPUs' slots untouched");
		CHECK_EQ(slot_value(&y, cpu), 0, "the neighbour object's slot untouched");
		CHECK_EQ(kref_percpu_put(&x, must_not_release), 0, "per-CPU put never releases");
		CHECK_EQ(slot_value(&x, cpu), before[cpu], "put subtracts from the same slot");
	}
	unpin_self();

	/* A destroyed object's slot is reused, zeroed. */
	kref_percpu_get(&x);
	kref_percpu_destroy(&x);
	CHECK_EQ(kb_percpu_arena_used(a), 1, "arena used after destroy");
	CHECK_EQ(kref_percpu_init_in(&z, a), 0, "init z");
	CHECK_EQ(atomic_load(&z.percpu_ptr), px, "z reuses x's slot");
	CHECK_EQ(kref_percpu_read(&z), 1, "reused slot starts at 1");
	kref_percpu_destroy(&y);
	kref_percpu_destroy(&z);
	CHECK_EQ(kb_percpu_arena_used(a), 0, "arena empty");
	kb_percpu_arena_destroy(a);
}

/* ---------------------------------------------------------------------- */
/* 2. rseq and the current CPU */

static void check_current_cpu(const char *how)
{
	for (int i = 0; i < nallowed; i++) {
		int cpu = allowed[i];

		if (pin_self(cpu) != 0) {
			CHECK(0, "pin to CPU %d", cpu);
			continue;
		}
		CHECK(kb_current_cpu() == cpu && sched_getcpu() == cpu,
		      "%s, pinned to CPU %d: kb_current_cpu() %d, sched_getcpu() %d",
		      how, cpu, kb_current_cpu(), sched_getcpu());
	}
	unpin_self();
}

static void test_rseq(void)
{
	char *argv[] = { "test_percpu", "--without-rseq", NULL };
	int status;

	printf("-- 2. rseq: glibc registered it: %s (__rseq_size %u, __rseq_offset %td)\n",
	       kb_rseq_available() ? "yes" : "NO", __rseq_size, __rseq_offset);
	check_current_cpu(kb_rseq_available() ? "rseq cpu_id" : "sched_getcpu fallback");
	if (!kb_rseq_available()) {
		printf("rseq not registered: the fallback path was the one checked\n");
		return;
	}

	/* Again without rseq, in a child where glibc does not register it. */
	status = run_self_without_rseq(argv);
	CHECK(status != -1, "spawn self with glibc.pthread.rseq=0");
	if (status == -1)
		return;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child without rseq: kb_current_cpu() falls back to sched_getcpu() (status %d)", status);
}

static int without_rseq(void)
{
	printf("   child: rseq registered: %s\n", kb_rseq_available() ? "yes" : "no");
	CHECK(!kb_rseq_available(), "glibc.pthread.rseq=0 leaves rseq unregistered");
	check_current_cpu("sched_getcpu fallback");
	printf("   child: ");
	return check_summary();
}

/* ---------------------------------------------------------------------- */
/* 6. read() while kill switches modes */

#define SWITCH_REFS	64
#define SWITCH_ROUNDS	(40 / SCALE)
static struct tracked sw_refs[SWITCH_REFS];
static pthread_barrier_t sw_barrier;	/* reader + main */
static atomic_bool sw_round_done;
static atomic_ulong sw_bad_reads, sw_reads;

static void *sw_reader_main(void *arg)
{
	(void)arg;
	for (int round = 0; round < SWITCH_ROUNDS; round++) {
		pthread_barrier_wait(&sw_barrier);	/* refs initialised */
		while (!atomic_load_explicit(&sw_round_done, memory_order_acquire))
			for (int k = 0; k < SWITCH_REFS; k++) {
				long v = kref_percpu_read(&sw_refs[k].ref);

				/* 1 or 2 references, plus kill's own during the switch */
				if (v < 0 || v > 3) {
					if (atomic_fetch_add(&sw_bad_reads, 1) < 3)
						fprintf(stderr, "read() = %ld during the switch\n", v);
				}
				atomic_fetch_add_explicit(&sw_reads, 1, memory_order_relaxed);
			}
		pthread_barrier_wait(&sw_barrier);	/* main may destroy */
	}
	return NULL;
}

static void test_read_during_switch(void)
{
	struct kb_percpu_arena *a = kb_percpu_arena_create(SWITCH_REFS, (unsigned int)kb_possible_cpus());
	pthread_t reader;
	unsigned long bad = 0;
	double t0 = now();

	printf("-- 6. read() racing kill, the fold and reinit: %d rounds x %d refs\n",
	       SWITCH_ROUNDS, SWITCH_REFS);
	CHECK(a != NULL, "arena");
	if (!a)
		return;
	pthread_barrier_init(&sw_barrier, NULL, 2);
	pthread_create(&reader, NULL, sw_reader_main, NULL);
	for (int round = 0; round < SWITCH_ROUNDS; round++) {
		for (int k = 0; k < SWITCH_REFS; k++)
			bad += tracked_init(&sw_refs[k], a) != 0;
		atomic_store(&sw_round_done, false);
		pthread_barrier_wait(&sw_barrier);
		for (int cycle = 0; cycle < 2; cycle++) {
			for (int k = 0; k < SWITCH_REFS; k++) {
				take(&sw_refs[k], 0);
				atomic_fetch_sub(&sw_refs[k].holders, 1);
				kref_percpu_kill(&sw_refs[k].ref, on_release);
			}
			kref_percpu_barrier();
			for (int k = 0; k < SWITCH_REFS; k++) {
				bad += drop(&sw_refs[k]) != 1;
				bad += kref_percpu_reinit(&sw_refs[k].ref) != 0;
				atomic_store(&sw_refs[k].holders, 1);
			}
		}
		atomic_store_explicit(&sw_round_done, true, memory_order_release);
		pthread_barrier_wait(&sw_barrier);
		for (int k = 0; k < SWITCH_REFS; k++) {
			bad += atomic_load(&sw_refs[k].releases) != 2;
			kref_percpu_destroy(&sw_refs[k].ref);
		}
	}
	pthread_join(reader, NULL);
	pthread_barrier_destroy(&sw_barrier);
	kb_percpu_arena_destroy(a);
	CHECK_EQ(bad, 0, "kill/put/reinit cycles: init, release by the last put, reinit");
	CHECK_EQ(atomic_load(&sw_bad_reads), 0, "read() returned a biased or half-folded count");
	printf("%lu reads; %.2f s\n", atomic_load(&sw_reads), now() - t0);
}

int main(int argc, char **argv)
{
	double t0 = now();

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sched_getaffinity(0, sizeof(original_mask), &original_mask) != 0) {
		perror("sched_getaffinity");
		return 2;
	}
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &original_mask))
			allowed[nallowed++] = c;
	if (argc > 1 && strcmp(argv[1], "--without-rseq") == 0)
		return without_rseq();

	printf("test_percpu: %d CPUs allowed, %d possible\n", nallowed, kb_possible_cpus());
	test_layout();
	test_rseq();
	test_migration();
	test_kill_race();
	test_reinit();
	test_read_during_switch();

	CHECK_EQ(atomic_load(&released_while_held), 0, "releases while the test held a reference");
	CHECK_EQ(atomic_load(&unexpected), 0, "unexpected results inside threads (see stderr)");
	CHECK_EQ(kb_percpu_double_kills(), 0, "double kills");
	printf("wall time %.2f s\n", now() - t0);
	return check_summary();
}
