/* The hardware yardsticks measured beside every sweep (backend `floor`). */
#ifndef KREFBENCH_BENCH_FLOORS_H
#define KREFBENCH_BENCH_FLOORS_H

struct gb_state;

/* A floor runs on a kb_run without backend (workloads/run.h): its objects
 * are the lines it works on, each on its own line pair. */
struct kb_floor {
	const char *name;
	void (*body)(struct gb_state *st, void *run);
	int (*objects)(int threads, int objects_knob);	/* its lines: one per thread, or one shared */
	int only_threads;	/* 0: any count; pingpong runs at exactly 2 */
};

extern const struct kb_floor kb_floors[];
extern const int kb_nfloors;

#endif
