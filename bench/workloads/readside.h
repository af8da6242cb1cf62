/* readside: refcounts beside RCU read-side sections and read locks. */
#ifndef KREFBENCH_BENCH_READSIDE_H
#define KREFBENCH_BENCH_READSIDE_H

struct gb_state;

struct kb_mechanism {
	const char *name;	/* the CSV backend value */
	void (*body)(struct gb_state *st, void *run);	/* on a kb_run without backend (run.h) */
};

extern const struct kb_mechanism kb_readside_mechanisms[];
extern const int kb_nreadside_mechanisms;

#endif
