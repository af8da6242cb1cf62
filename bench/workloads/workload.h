/*
 * A workload: its descriptor, the table of them, and the objects() choices
 * they share.
 *
 * A workload body is written once as a macro over the backend name and
 * instantiated per backend (KB_FOR_EACH_BACKEND), so its timed loop calls the
 * backend's inline operations directly: no indirect call per operation. Only
 * setup, kill and the self-check go through the runtime table. The body's
 * run context is workloads/run.h, its timed loop workloads/loop.h.
 */
#ifndef KREFBENCH_BENCH_WORKLOAD_H
#define KREFBENCH_BENCH_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/backend_list.h"	/* every backend: generated from core/backends.list */
#include "core/backends.h"
#include "measure/window.h"	/* KB_OWN_*: what a workload declares as its own cost */

/* KB_FOR_EACH_BACKEND comes from core/backends.list, as kb_backends[] does:
 * body arrays are indexed in that order. */
#define KB_BACKEND_INDEX(B) KB_BACKEND_INDEX_##B,
enum { KB_FOR_EACH_BACKEND(KB_BACKEND_INDEX) KB_NBACKENDS_BUILT };
_Static_assert(KB_NBACKENDS_BUILT == KB_NBACKENDS, "one index per listed backend");

#define KB_MAX_VARIANTS 6	/* body2's second dimension: lookup_rcu's reclamations */

struct gb_state;
struct kb_run;

/* A row beside the backends' that is no refcount (readside's read-side
 * mechanisms): a body on a kb_run without backend. */
struct kb_mechanism {
	const char *name;	/* the CSV backend value */
	void (*body)(struct gb_state *st, void *run);
};

/* Which of its variants a workload's rows run: every one, or those an option chose. */
enum kb_variant_choice {
	KB_EVERY_VARIANT,
	KB_VARIANTS_BY_RCU_FLAVOR,	/* --rcu-flavor */
	KB_VARIANTS_BY_VARIANT,		/* --variant */
};

/* One workload: bodies per backend, its own setup/teardown, its check. */
struct kb_workload {
	const char *name;
	const char *about;
	const char *op;		/* what one op of ns_per_op is: the charts' unit */
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
	/* The sweep's rows: one per variant chosen (or one, variant -1, with
	 * none), times one per --writer-rate when uses_writer, times one per
	 * --uses when per_uses; then the mechanisms' rows beside them. */
	enum kb_variant_choice chosen_by;
	bool uses_writer;
	bool per_uses;
	/* What of its threads' time off-CPU is the workload's own cost, not a
	 * disturbance (bench/measure/disturbance.h): KB_OWN_* flags. */
	unsigned int own;
	const struct kb_mechanism *mechanisms;
	int nmechanisms;
	/* Optional: false where the workload means nothing for the backend
	 * at this thread count (with this variant, or -1): no row, "n/a" in
	 * the summary. */
	bool (*applies)(const struct kb_backend *b, int threads, int variant);
	/* Optional: the CSV's objects column when it is not objects() (the
	 * lookups keep their own: kb_lookup_keys). */
	int (*objects_column)(int threads, int objects_knob);
	bool unshared;	/* no object is shared between threads: the uncontended floor normalises it */
};

extern const struct kb_workload kb_workload_hammer, kb_workload_private,
	kb_workload_spread, kb_workload_handoff, kb_workload_lookup_rcu, kb_workload_lookup_mutex,
	kb_workload_readside, kb_workload_churn, kb_workload_release_latency, kb_workload_read;

/* objects() shared by workloads: one shared object, one per thread, or none
 * in the run's array (the lookup workloads keep their own). */
int kb_one_object(int threads, int objects_knob);
int kb_object_per_thread(int threads, int objects_knob);
int kb_no_objects(int threads, int objects_knob);
/* The lookup workloads' keys: --objects, 1024 when not given. */
int kb_lookup_keys(int threads, int objects_knob);

/* b's index in kb_backends[] and in a workload's body arrays; -1 if not listed. */
int kb_backend_index(const struct kb_backend *b);

#endif
