/* The hardware yardsticks measured beside every sweep (backend `floor`). */
#ifndef KREFBENCH_BENCH_FLOORS_H
#define KREFBENCH_BENCH_FLOORS_H

#include "harness.h"

struct kb_floor {
	const char *name;
	void (*body)(struct gb_state *st, void *run);
	int only_threads;	/* 0: any count; pingpong runs at exactly 2 */
};

extern const struct kb_floor kb_floors[];
extern const int kb_nfloors;

/* A run context for floor f on the planned CPUs; NULL when out of memory. */
void *kb_floor_run_new(const struct kb_floor *f, const struct kb_topo *topo, const int *cpus);
/* Fill body/setup/teardown/ctx of a gb_spec. */
void kb_floor_fill_spec(struct gb_spec *spec, const struct kb_floor *f, void *run);

#endif
