/* The hardware yardsticks measured beside every sweep (backend `floor`). */
#ifndef KREFBENCH_BENCH_FLOORS_H
#define KREFBENCH_BENCH_FLOORS_H

#include "barrier.h"
#include "gbench.h"
#include "placement.h"
#include "thread.h"
#include "window.h"

struct kb_floor {
	const char *name;
	void (*body)(struct gb_state *st, void *run);
	int only_threads;	/* 0: any count; pingpong runs at exactly 2 */
};

extern const struct kb_floor kb_floors[];
extern const int kb_nfloors;

/*
 * A "simple" run: pinned threads, a line per thread and one shared line, no
 * objects. Floors and the non-refcount read-side mechanisms use it.
 */
struct kb_line {
	atomic_long v;
} __attribute__((aligned(2 * KB_CACHELINE)));

struct kb_simple_run {
	const struct kb_topo *topo;
	const int *cpus;
	int threads;
	struct kb_line *own;		/* one per thread */
	struct kb_line shared;
	struct kb_thread *thr;
	struct kb_barrier barrier;
	char setup_error[160];
	void *wctx;			/* body-owned */
	struct kb_window win;		/* outlives each run's threads: the scheduler reads it */
};

/* A run context on the planned CPUs; NULL when out of memory. */
void *kb_simple_run_new(const struct kb_topo *topo, const int *cpus);
/* Fill body/setup/teardown/ctx of a gb_spec. */
void kb_simple_fill_spec(struct gb_spec *spec, void (*body)(struct gb_state *, void *), void *run);
void kb_simple_setup(int threads, void *run);
void kb_simple_teardown(int threads, void *run);
bool kb_simple_prologue(struct gb_state *st, struct kb_simple_run *run, struct kb_thread **me);
/* Barrier, then thread 0 summarises the window and publishes CPUs and check "ok". */
void kb_simple_epilogue(struct gb_state *st, struct kb_simple_run *run, struct kb_thread *me);

#endif
