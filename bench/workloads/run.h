/*
 * One run of a row (a backend x workload x knobs at a thread count, a
 * floor, or a read-side mechanism): the context the library hands every
 * thread, the objects under test, and the prologue/epilogue that pin a
 * thread before its timed loop and check the run after it. Setup and
 * teardown are the library's, around each run. A floor or mechanism run
 * has no backend and no workload: its objects are plain zeroed lines, and
 * there is nothing to check.
 */
#ifndef KREFBENCH_BENCH_RUN_H
#define KREFBENCH_BENCH_RUN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/backends.h"
#include "core/lib/compiler.h"
#include "measure/barrier.h"
#include "measure/thread.h"
#include "measure/window.h"
#include "placement.h"
#include "workload.h"

/* Room for any backend's handle; objects never share a line pair. */
#define KB_OBJ_REF_BYTES 64
struct kb_obj {
	unsigned char ref[KB_OBJ_REF_BYTES] __attribute__((aligned(16)));
	atomic_int releases;
} __attribute__((aligned(2 * KB_CACHELINE)));

struct kb_run {
	const struct kb_backend *backend;	/* NULL: a floor or read-side mechanism */
	const struct kb_workload *workload;	/* NULL with the backend */
	int (*objects_of)(int threads, int objects_knob);	/* the workload's or the floor's objects() */
	const struct kb_topo *topo;
	const int *cpus;		/* planned CPU of each thread */
	int threads;
	int objects_knob;		/* --objects */
	int objects;			/* objects allocated for this run */
	uint64_t work_iters;		/* calibrated spin between get and put */
	double writer_rate;		/* lookup workloads: replacements per second */
	int variant;			/* index into the workload's variants, or -1 */
	int uses;			/* --uses: get/put pairs per holder per lifetime (per_uses), else 0 */
	bool hot;			/* lookups all hit one key */
	struct kb_obj *objs;
	struct kb_thread *thr;
	struct kb_barrier barrier;
	bool barrier_ready;
	char setup_error[160];
	void *wctx;			/* workload-owned */
	struct kb_window win;		/* outlives each run's threads: the scheduler reads it */
};

/* A run context on the planned CPUs (all else zero); NULL when out of memory. */
struct kb_run *kb_run_new(const struct kb_topo *topo, const int *cpus);

static inline void *kb_obj_ref(struct kb_run *run, int i) { return run->objs[i].ref; }

/* Called by the per-backend release functions the hot loops pass to put. */
void kb_obj_released(void *ref);

#define KB_DEFINE_RELEASE(B)							\
	static void kb_release_##B(struct kref_##B *r) { kb_obj_released(r); }

/* Pin and record the CPU; false (and the run skipped) on failure. */
bool kb_thread_prologue(struct gb_state *st, struct kb_run *run, struct kb_thread **me);

/*
 * After the timed loop: wait for every thread, let thread 0 summarise the
 * window, verify the counts are back to one, drop every initial reference
 * and verify each object was released exactly once, and publish CPUs and
 * the check as counters.
 */
void kb_thread_epilogue(struct gb_state *st, struct kb_run *run, struct kb_thread *me);
/* Barrier for all threads of the run (post-loop phases only). */
void kb_run_barrier(struct kb_run *run);

/* gb_spec setup/teardown for every run. */
void kb_run_setup(int threads, void *run);
void kb_run_teardown(int threads, void *run);

#endif
