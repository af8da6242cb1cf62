/*
 * What every workload shares: the per-run context, the objects under test,
 * per-thread state, calibrated work, and the prologue/epilogue that pin a
 * thread before its timed loop and check the run after it.
 *
 * A workload body is written once as a macro over the backend name and
 * instantiated per backend (KB_FOR_EACH_BACKEND), so its timed loop calls the
 * backend's inline operations directly: no indirect call per operation. Only
 * setup, kill and the self-check go through the runtime table.
 */
#ifndef KREFBENCH_BENCH_HARNESS_H
#define KREFBENCH_BENCH_HARNESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/backend_list.h"	/* every backend: generated from core/backends.list */
#include "core/backends.h"
#include "core/lib/compiler.h"
#include "gbench.h"
#include "perfctr.h"
#include "placement.h"
#include "measure/window.h"

/* KB_FOR_EACH_BACKEND comes from core/backends.list, as kb_backends[] does:
 * body arrays are indexed in that order. */
#define KB_BACKEND_INDEX(B) KB_BACKEND_INDEX_##B,
enum { KB_FOR_EACH_BACKEND(KB_BACKEND_INDEX) KB_NBACKENDS_BUILT };
_Static_assert(KB_NBACKENDS_BUILT == KB_NBACKENDS, "one index per listed backend");

/* Iterations between two looks at the clock and the library. */
#define KB_BATCH 1024

/* Room for any backend's handle; objects never share a line pair. */
#define KB_OBJ_REF_BYTES 64
struct kb_obj {
	unsigned char ref[KB_OBJ_REF_BYTES] __attribute__((aligned(16)));
	atomic_int releases;
} __attribute__((aligned(2 * KB_CACHELINE)));

struct kb_window;

/* Per thread of a run: the window's own stamps and counts (bench/window.h). */
struct kb_thread {
	uint64_t ops;			/* operations in the window (hot) */
	uint64_t deadline;		/* the window's end, a private copy */
	struct kb_window *win;
	struct gb_state *st;
	uint64_t t_start_ns, t_end_ns;	/* own span inside the window */
	uint64_t cpu_ns;		/* CPU time over the span */
	long invol_switches;		/* involuntary context switches over the span */
	long vol_switches;		/* voluntary ones (the thread slept) over the span */
	int64_t run_delay_ns;		/* time runnable but waiting for a CPU over the span; < 0: unknown */
	uint64_t proc_cpu_ns[2];	/* the whole process's CPU time at enter and at close */
	int schedstat_fd;		/* /proc/thread-self/schedstat while in the window, or -1 */
	unsigned long rseq_restarts;	/* rseq restarts over the span */
	uint64_t canary_ns[2];		/* before and after the window */
	int cpu_at_start;
	bool migrated, window_closed;
	uint64_t unexpected_releases;
	uint64_t rng;
	uint64_t batch_start_ns;	/* when the current batch began (after the first) */
	int cpu;
	void *scratch;			/* workload-owned */
	struct kb_perf *perf;		/* perf_event counters of the timed loop, or NULL */
} __attribute__((aligned(2 * KB_CACHELINE)));

struct kb_workload;

/*
 * struct kb_workload's `own`: what a workload declares as its own cost.
 *   KB_OWN_BLOCKING  its measured threads sleep on its own locks, queues or
 *                    grace periods: their voluntary off-CPU time is measured
 *                    cost, never a disturbance
 *   KB_OWN_HELPERS   it runs threads besides the measured ones (a writer,
 *                    liburcu's call_rcu thread for its deferred frees): a
 *                    measured thread waiting for a CPU while they run is its
 *                    cost, up to the CPU time they took
 * A backend with a thread of its own (KB_HELPER_THREAD) adds KB_OWN_HELPERS
 * to every row it is in; one whose operations may sleep (KB_BLOCKING),
 * KB_OWN_BLOCKING.
 */
#define KB_OWN_BLOCKING	1u
#define KB_OWN_HELPERS	2u

#define KB_MAX_VARIANTS 6	/* body2's second dimension: lookup_rcu's reclamations */

/*
 * A barrier that a thread can leave: a thread whose pin or setup failed
 * skips its run and leaves, and the others still pass (a pthread barrier
 * would wait for it forever). The library's own barriers do the same.
 */
struct kb_barrier {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int participants, arrived;
	unsigned long phase;
};

void kb_barrier_init(struct kb_barrier *b, int participants);
void kb_barrier_destroy(struct kb_barrier *b);
void kb_barrier_wait(struct kb_barrier *b);
void kb_barrier_leave(struct kb_barrier *b);

struct kb_run {
	const struct kb_backend *backend;
	const struct kb_workload *workload;
	const struct kb_topo *topo;
	const int *cpus;		/* planned CPU of each thread */
	int threads;
	int objects_knob;		/* --objects */
	int objects;			/* objects allocated for this run */
	uint64_t work_iters;		/* calibrated spin between get and put */
	double writer_rate;		/* lookup workloads: replacements per second */
	int variant;			/* workload-specific (lookup_mutex) */
	int flavor;			/* RCU flavour (lookup_rcu, readside) */
	bool hot;			/* lookups all hit one key */
	struct kb_obj *objs;
	struct kb_thread *thr;
	struct kb_barrier barrier;
	bool barrier_ready;
	char setup_error[160];
	void *wctx;			/* workload-owned */
	struct kb_window win;		/* outlives each run's threads: the scheduler reads it */
};

/* One workload: bodies per backend, its own setup/teardown, its check. */
struct kb_workload {
	const char *name;
	const char *about;
	int (*objects)(int threads, int objects_knob);	/* how many objects a run needs */
	void (*body[KB_NBACKENDS])(struct gb_state *st, void *run);	/* indexed like kb_backends[] */
	int (*setup)(struct kb_run *run);		/* optional */
	void (*teardown)(struct kb_run *run);		/* optional */
	/* Optional, thread 0 after the run, all threads quiescent: 0 or a
	 * message. Replaces the generic count check (objects() == 0). */
	int (*check)(struct kb_run *run, char *text, size_t len);
	/* Bodies by [backend][flavour or variant] when the workload has them. */
	void (*body2[KB_NBACKENDS][KB_MAX_VARIANTS])(struct gb_state *st, void *run);
	const char *const *variants;	/* names of body2's second index; NULL-terminated */
	bool uses_writer;
	bool uses_flavor;
	/* What of its threads' time off-CPU is the workload's own cost, not a
	 * disturbance (bench/measure/disturbance.h): KB_OWN_* flags. */
	unsigned int own;
	/* Optional: false where the workload means nothing for the backend
	 * (with this variant, or -1): no row, "n/a" in the summary. */
	bool (*applies)(const struct kb_backend *b, int variant);
};

extern const struct kb_workload kb_workload_hammer, kb_workload_private,
	kb_workload_spread, kb_workload_handoff, kb_workload_lookup_rcu, kb_workload_lookup_mutex,
	kb_workload_readside;

/* lookup_rcu's reclamation, the index of body2's second dimension: the RCU
 * flavours over liburcu's hash table, then memb, hazard pointers and
 * type-stable reuse over an array of slots (bench/lookup_rcu.c). */
enum { KB_RCU_MEMB, KB_RCU_QSBR, KB_RCU_MB, KB_RCU_MEMB_ARRAY, KB_RCU_HAZPTR, KB_RCU_TYPESAFE, KB_NRCU };
extern const char *const kb_rcu_flavor_names[];

static inline uint64_t kb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Calibrated busy work: `iters` dependent steps the compiler cannot remove. */
static inline void kb_work(uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++)
		kb_barrier();
}

uint64_t kb_work_calibrate(uint64_t ns);

static inline uint64_t kb_rand(uint64_t *s)	/* xorshift64 */
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Uniform in [0, n) from the high bits, without a division. */
static inline uint64_t kb_pick(uint64_t *rng, uint64_t n) { return ((kb_rand(rng) >> 32) * n) >> 32; }

static inline void *kb_obj_ref(struct kb_run *run, int i) { return run->objs[i].ref; }

/* Called by the per-backend release functions the hot loops pass to put. */
void kb_obj_released(void *ref);

#define KB_DEFINE_RELEASE(B)							\
	static void kb_release_##B(struct kref_##B *r) { kb_obj_released(r); }

/*
 * perf_event counters per thread (shims/perfctr.h): the events the startup
 * probe found counting, or none (NULL, --no-perf). Opened in the prologue,
 * started when the window opens and stopped when the thread leaves it
 * (bench/window.c), then read in the epilogue and published as counters the
 * library sums over threads. Nothing per operation or per batch.
 */
extern const struct kb_perf_probe *kb_perf_config;
void kb_thread_perf_open(struct kb_thread *me);
void kb_thread_perf_finish(struct gb_state *st, struct kb_thread *me);
void kb_thread_perf_discard(struct kb_thread *me);	/* teardown: anything left open */
/* Counter names: "perf.<event>" (the scaled count) and "perf.<event>.threads" (1 per thread that counted). */
#define KB_PERF_COUNTER_PREFIX "perf."

/* Pin and record the CPU; false (and the run skipped) on failure. */
bool kb_thread_prologue(struct gb_state *st, struct kb_run *run, struct kb_thread **me);

/*
 * The timed loop's condition, once per batch of KB_BATCH operations: one
 * clock read and one read of a line nobody writes until the window ends.
 */
static inline bool kb_window_running(struct kb_thread *me)
{
	uint64_t now = kb_now_ns();

	me->batch_start_ns = now;	/* the next batch's start (latency sampling) */
	if (kb_likely(now < me->deadline && !atomic_load_explicit(&me->win->stop, memory_order_relaxed)))
		return true;
	kb_window_close(me, now);
	return false;
}

/*
 * The timed loop of every body: `for KB_WINDOW_LOOP(st, win, me) { KB_BATCH
 * operations }`. Each completed batch counts; after the first (which every
 * thread runs, so none reports zero operations however late the scheduler
 * let it start) the thread leaves at the first batch boundary past the
 * deadline or after another thread has left.
 */
#define KB_WINDOW_LOOP(st, win, me) \
	(kb_window_enter((st), (win), (me)); !(me)->window_closed; (me)->ops += KB_BATCH, kb_window_running(me))

/*
 * After the timed loop: wait for every thread, let thread 0 summarise the
 * window, verify the counts are back to one, drop every initial reference
 * and verify each object was released exactly once, and publish CPUs and
 * the check as counters.
 */
void kb_thread_epilogue(struct gb_state *st, struct kb_run *run, struct kb_thread *me);
/* Barrier for all threads of the run (post-loop phases only). */
void kb_run_barrier(struct kb_run *run);

/*
 * The get/put loop on one object per thread, chosen by OBJ (an expression
 * of run and st): hammer and private are this loop on different objects
 * (readside's refcount rows run hammer's). Prefix `static` for a body that
 * is private to its file.
 */
#define KB_DEFINE_GETPUT_BODY(NAME, B, OBJ)					\
void NAME##_##B(struct gb_state *st, void *vrun)				\
{										\
	struct kb_run *run = vrun;						\
	struct kb_thread *me;							\
	const uint64_t work = run->work_iters;					\
										\
	if (!kb_thread_prologue(st, run, &me))					\
		return;								\
	struct kref_##B *obj = kb_obj_ref(run, (OBJ));				\
	for KB_WINDOW_LOOP(st, &run->win, me) {					\
		for (int i = 0; i < KB_BATCH; i++) {				\
			kref_##B##_get(obj);					\
			kb_work(work);						\
			if (kb_unlikely(kref_##B##_put(obj, kb_release_##B)))	\
				me->unexpected_releases++;			\
		}								\
	}									\
	kb_thread_epilogue(st, run, me);					\
}

/* hammer's bodies, one per backend: readside's refcount rows are the same loop. */
#define KB_DECLARE_HAMMER(B) void kb_hammer_##B(struct gb_state *st, void *run);
KB_FOR_EACH_BACKEND(KB_DECLARE_HAMMER)

/* objects() shared by workloads: one shared object, one per thread, or none
 * in the harness array (the lookup workloads keep their own). */
int kb_one_object(int threads, int objects_knob);
int kb_object_per_thread(int threads, int objects_knob);
int kb_no_objects(int threads, int objects_knob);

/* The self-check's verdict for a code in the "check" counter. */
const char *kb_check_text(int code);

int kb_backend_index(const struct kb_backend *b);

/* gb_spec setup/teardown for every workload run. */
void kb_run_setup(int threads, void *run);
void kb_run_teardown(int threads, void *run);

#endif
