/*
 * The per-CPU count stays exact while its users move over every CPU of the
 * machine (the vm flavour runs this on 64 vCPUs; ctest on whatever is here).
 *
 * Each worker walks all allowed CPUs in its own order, pinning itself to the
 * next one at every step and doing get/put pairs there; at each step it also
 * takes a reference it keeps and drops one it took up to 3 steps (3 CPUs)
 * earlier, so held references are taken on one CPU and dropped on another.
 * Meanwhile a migrator re-pins random workers to random CPUs under them, so
 * some gets and puts are migrated in the middle (what the rseq section
 * restarts on). For each backend (`percpu`: the rseq section where usable;
 * `percpu_atomic`: atomic adds):
 *   1. every allowed CPU ran the ops (kb_current_cpu() as each step began);
 *   2. in per-CPU mode the sum of the slots is exactly 1 + what the workers
 *      hold, and the atomic count was never touched;
 *   3. after kill + barrier, the atomic count is exactly what is held;
 *   4. the workers drop everything while walking the CPUs again, main's last
 *      put releases, exactly once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "core/backends/percpu.h"

#define MAXW	8	/* workers (fewer when fewer CPUs are allowed) */
#define NREFS	4
#define MAXLAG	3	/* a kept reference is dropped this many steps later */
#define PAIRS	2000	/* get/put pairs per step */

struct worker {
	pthread_t thread;
	int index;
	uint64_t rng;
	long held[NREFS];	/* references this worker holds */
	int ring[MAXLAG];	/* the ref taken at each of the last lag steps */
} kb_cacheline_aligned;

static struct kref_percpu refs[NREFS];
static struct worker workers[MAXW];
static int nworkers, allowed[CPU_SETSIZE], nallowed, lag;
static bool use_rseq;
static atomic_int releases[NREFS], released_by_put[NREFS];
static atomic_ulong seen[CPU_SETSIZE], pin_failures, migrations, early_releases;
static atomic_bool migrating;
static pthread_barrier_t barrier;	/* workers + main */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static void on_release(struct kref_percpu *r)
{
	atomic_fetch_add(&releases[r - refs], 1);
}

static void get(struct kref_percpu *r)
{
	if (use_rseq)
		kref_percpu_get(r);
	else
		kref_percpu_atomic_get(r);
}

static int put(struct kref_percpu *r)
{
	int released = use_rseq ? kref_percpu_put(r, on_release) : kref_percpu_atomic_put(r, on_release);

	if (released)
		atomic_fetch_add(&released_by_put[r - refs], 1);
	return released;
}

static void pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		atomic_fetch_add(&pin_failures, 1);
}

/* One walk over every allowed CPU, starting at this worker's own offset. */
static void walk(struct worker *w, bool keep)
{
	for (int k = 0; k < nallowed; k++) {
		int cpu = allowed[(w->index * nallowed / nworkers + k) % nallowed];

		/* The migrator may move this thread right after it pinned itself:
		 * pin again until it runs there, so every CPU is visited. */
		for (int tries = 0; tries < 1000; tries++) {
			pin_self(cpu);
			if (kb_current_cpu() == cpu) {
				atomic_fetch_add_explicit(&seen[cpu], 1, memory_order_relaxed);
				break;
			}
		}
		for (int i = 0; i < PAIRS; i++) {
			struct kref_percpu *r = &refs[rnd(&w->rng) % NREFS];

			get(r);
			if (put(r))
				atomic_fetch_add(&early_releases, 1);
		}
		if (keep) {
			int ref = (int)(rnd(&w->rng) % NREFS), slot = k % lag;

			if (k >= lag) {	/* taken lag CPUs ago */
				w->held[w->ring[slot]]--;
				if (put(&refs[w->ring[slot]]))
					atomic_fetch_add(&early_releases, 1);
			}
			get(&refs[ref]);
			w->held[ref]++;
			w->ring[slot] = ref;
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	walk(w, true);			/* per-CPU mode */
	pthread_barrier_wait(&barrier);	/* main checks the sums and kills */
	pthread_barrier_wait(&barrier);
	walk(w, false);			/* atomic mode, still moving */
	for (int k = 0; k < NREFS; k++)
		for (; w->held[k] > 0; w->held[k]--) {
			pin_self(allowed[rnd(&w->rng) % (uint64_t)nallowed]);
			if (put(&refs[k]))
				atomic_fetch_add(&early_releases, 1);
		}
	pthread_barrier_wait(&barrier);
	return NULL;
}

static void *migrator_main(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg | 1;

	while (atomic_load_explicit(&migrating, memory_order_relaxed)) {
		cpu_set_t set;
		uint64_t x = rnd(&rng);

		CPU_ZERO(&set);
		CPU_SET(allowed[x % (uint64_t)nallowed], &set);
		if (pthread_setaffinity_np(workers[(x >> 32) % (uint64_t)nworkers].thread, sizeof(set), &set) == 0)
			atomic_fetch_add_explicit(&migrations, 1, memory_order_relaxed);
		sched_yield();
	}
	return NULL;
}

static void run(const char *name, bool rseq)
{
	struct kb_percpu_arena *a = kb_percpu_arena_create(NREFS, (unsigned int)kb_possible_cpus());
	pthread_t migrator;
	int visited = 0, moved_slots = 0;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	use_rseq = rseq;
	CHECK(a != NULL, "arena");
	if (!a)
		return;
	for (int k = 0; k < NREFS; k++) {
		CHECK_EQ(kref_percpu_init_in(&refs[k], a), 0, "init");
		atomic_store(&releases[k], 0);
		atomic_store(&released_by_put[k], 0);
	}
	/* (whether rseq is usable is decided at the first init) */
	printf("-- %s: %d workers walking all %d CPUs, a migrator moving them; fast path: %s\n", name, nworkers,
	       nallowed, !rseq ? "atomic" : kb_percpu_use_rseq() ? "rseq" : "atomic (rseq unusable here)");
	for (int c = 0; c < CPU_SETSIZE; c++)
		atomic_store(&seen[c], 0);
	atomic_store(&migrating, true);
	pthread_barrier_init(&barrier, NULL, (unsigned int)nworkers + 1);
	for (int w = 0; w < nworkers; w++) {
		workers[w] = (struct worker){ .index = w, .rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(w + 1) ^
								 (uint64_t)time(NULL) };
		pthread_create(&workers[w].thread, NULL, worker_main, &workers[w]);
	}
	pthread_create(&migrator, NULL, migrator_main, (void *)(uintptr_t)time(NULL));

	pthread_barrier_wait(&barrier);	/* walk 1 done: workers idle */
	for (int i = 0; i < nallowed; i++)
		visited += atomic_load(&seen[allowed[i]]) > 0;
	CHECK_EQ(visited, nallowed, "allowed CPUs on which the workers ran ops");
	for (int k = 0; k < NREFS; k++) {
		long held = 0, sum = 0;

		for (int w = 0; w < nworkers; w++)
			held += workers[w].held[k];
		for (unsigned int c = 0; c < refs[k].ncpus; c++) {
			long v = atomic_load(kb_percpu_slot_of(&refs[k], c));

			sum += v;
			moved_slots += k == 0 && v != 0;
		}
		CHECK(!kref_percpu_is_atomic(&refs[k]), "ref %d still in per-CPU mode", k);
		/* The initial reference stays in the biased atomic count, as the kernel's does. */
		CHECK_EQ(sum + (long)(atomic_load(&refs[k].data->count) - KB_PERCPU_BIAS), 1 + held,
			 "the slots plus the unbiased atomic count = 1 + the references held");
		CHECK_EQ(kref_percpu_read(&refs[k]), 1 + held, "read() = 1 + the references held");
		CHECK_EQ(atomic_load(&refs[k].data->count), (long)(1 + KB_PERCPU_BIAS),
			 "per-CPU mode never touched the atomic count");
		get(&refs[k]);	/* main's own, dropped last */
		CHECK_EQ(kref_percpu_kill(&refs[k], on_release), 0, "kill defers the release");
	}
	printf("ref 0: %d CPUs' slots are non-zero (references taken on one CPU, dropped on another)\n",
	       moved_slots);
	kref_percpu_barrier();
	for (int k = 0; k < NREFS; k++) {
		long held = 0;

		for (int w = 0; w < nworkers; w++)
			held += workers[w].held[k];
		CHECK(kref_percpu_is_atomic(&refs[k]), "ref %d atomic after kill + barrier", k);
		CHECK_EQ(atomic_load(&refs[k].data->count), held + 1, "atomic count = held + main's");
	}
	pthread_barrier_wait(&barrier);	/* walk 2 and the drops */
	pthread_barrier_wait(&barrier);
	atomic_store(&migrating, false);
	for (int w = 0; w < nworkers; w++)
		pthread_join(workers[w].thread, NULL);
	pthread_join(migrator, NULL);
	for (int k = 0; k < NREFS; k++) {
		CHECK_EQ(atomic_load(&releases[k]), 0, "no release while main holds a reference");
		CHECK_EQ(kref_percpu_read(&refs[k]), 1, "main's reference is the last");
		CHECK_EQ(put(&refs[k]), 1, "main's last put releases");
		kref_percpu_barrier();
		CHECK_EQ(atomic_load(&releases[k]), 1, "released exactly once");
		CHECK_EQ(atomic_load(&released_by_put[k]), 1, "by exactly one put");
		kref_percpu_destroy(&refs[k]);
	}
	CHECK_EQ(atomic_load(&early_releases), 0, "puts that released while references were held");
	CHECK_EQ(atomic_load(&pin_failures), 0, "pthread_setaffinity_np failures");
	CHECK_EQ(kb_percpu_arena_used(a), 0, "arena empty");
	kb_percpu_arena_destroy(a);
	pthread_barrier_destroy(&barrier);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%lu migrations by the migrator; %.2f s\n", atomic_load(&migrations),
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	atomic_store(&migrations, 0);
}

int main(void)
{
	cpu_set_t set;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sched_getaffinity(0, sizeof(set), &set) != 0) {
		perror("sched_getaffinity");
		return 2;
	}
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			allowed[nallowed++] = c;
	nworkers = nallowed < MAXW ? nallowed : MAXW;
	/* Fewer steps back than CPUs, so that a kept reference is dropped on another CPU. */
	lag = nallowed > MAXLAG ? MAXLAG : nallowed > 1 ? nallowed - 1 : 1;
	printf("test_percpu_all_cpus: %d CPUs allowed, %d possible\n", nallowed, kb_possible_cpus());
	run("percpu", true);
	run("percpu_atomic", false);
	sched_setaffinity(0, sizeof(set), &set);
	return check_summary();
}
