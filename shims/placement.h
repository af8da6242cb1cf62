/*
 * Placement: which CPU each benchmark thread runs on, decided by hwloc.
 *
 * A topology (struct kb_topo) is loaded from this machine, from an hwloc XML
 * file or from an hwloc synthetic description; only its allowed PUs (hardware
 * threads) count, and a topology with none is refused at load time. A plan
 * maps threads 0..n-1 to OS PU indices (the numbers sched_getcpu() reports)
 * and is a pure function of the topology, the policy and n: the same inputs
 * give the same plan on any host, which is what lets the planner be tested
 * against server shapes this machine is not. Without oversubscription a plan
 * never puts two threads on one PU; with it the policy's order wraps around.
 * Binding is the only part that touches the machine: kb_place_bind_self()
 * pins the calling thread, then checks with sched_getcpu() that it really
 * runs there, and reports any failure instead of falling back to running
 * unpinned. Every fallible call returns -1 and a one-line message; none
 * prints, aborts or exits. A loaded topology is read-only, so planning,
 * describing and binding may run concurrently from many threads on it.
 *
 * Policies, as the order in which PUs are handed to threads 0, 1, 2, ...:
 *   compact  fill a core's PUs, then the next core, in topology order;
 *   cores    the first PU of every core, then the second PU of every core, ...;
 *   scatter  round-robin over packages and, inside each, over NUMA nodes,
 *            taking the next unused core of each domain; first PUs of all
 *            cores before any SMT sibling. If NUMA nodes are coarser than
 *            packages (fewer of them, e.g. one node spanning two sockets),
 *            NUMA nodes are the outer round-robin and packages the inner one;
 *   list     exactly the given OS PU indices, in order.
 * A machine without Package objects is one package; a PU without a NUMA node
 * or Core object counts as NUMA node 0, respectively as a core of its own.
 */
#ifndef KREFBENCH_SHIMS_PLACEMENT_H
#define KREFBENCH_SHIMS_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct kb_topo;

/* Bounds on what --topology may describe (beyond any real machine; refused with a message). */
#define KB_TOPO_MAX_PUS 65536
#define KB_TOPO_SYNTHETIC_MAX_CHARS 1024
#define KB_TOPO_XML_MAX_BYTES (64 << 20)

/* Each loader returns 0 and sets *out, or returns -1 with a message in err. */
int kb_topo_load_system(struct kb_topo **out, char *err, size_t errlen);
int kb_topo_load_xml(struct kb_topo **out, const char *path,
		     char *err, size_t errlen);
/* desc is an hwloc synthetic string, e.g. "pack:2 numa:4 core:16 pu:2". */
int kb_topo_load_synthetic(struct kb_topo **out, const char *desc,
			   char *err, size_t errlen);
void kb_topo_free(struct kb_topo *t);

/* Number of allowed PUs. */
int kb_topo_npus(const struct kb_topo *t);
/* True only for kb_topo_load_system(): the one topology that can bind. */
bool kb_topo_is_system(const struct kb_topo *t);
/* e.g. "2 packages, 8 NUMA nodes, 64 cores, 128 PUs (SMT2)"; counts only
 * what holds allowed PUs. */
void kb_topo_summary(const struct kb_topo *t, char *buf, size_t len);

/* Where an allowed PU sits; core, package and numa are hwloc logical
 * indexes (L#), smt is the PU's rank among its core's allowed PUs. */
struct kb_pu_where {
	int core;
	int package;
	int numa;
	int smt;
};
/* 0 and *where, or -1 if cpu is not an allowed PU of t. */
int kb_topo_locate(const struct kb_topo *t, int cpu, struct kb_pu_where *where);

enum kb_policy { KB_PLACE_COMPACT, KB_PLACE_CORES, KB_PLACE_SCATTER, KB_PLACE_LIST };

#define KB_PLACEMENT_LIST_MAX (1 << 20)

struct kb_placement {
	enum kb_policy policy;
	int nlist;		/* entries in list; 0 unless policy is KB_PLACE_LIST */
	int *list;		/* malloc'd OS PU indices, in order; else NULL */
};

/*
 * Parse "compact", "cores", "scatter", or a list of OS PU indices such as
 * "0,2,4-7" (decimal, ranges low-high inclusive, no spaces, no empty items).
 * A list expands to at most KB_PLACEMENT_LIST_MAX entries: a bound on the
 * input so that "0-2000000000" is an error, not an 8 GB allocation; PU
 * numbers themselves may be any int.
 * On failure *out is left empty (safe to kb_placement_free) and err says why.
 */
int kb_placement_parse(const char *s, struct kb_placement *out,
		       char *err, size_t errlen);
void kb_placement_free(struct kb_placement *p);
/* "compact", "cores", "scatter", "list" (or "?" for an invalid value). */
const char *kb_policy_name(enum kb_policy p);

/*
 * Fill cpus[0..nthreads) with OS PU indices. Refused: nthreads < 1; more
 * threads than allowed PUs, a list naming the same PU twice among the PUs it
 * hands out, or a list shorter than nthreads, each unless oversubscribe (the
 * order then wraps around); any list entry that is not an allowed PU. A list
 * longer than nthreads hands out its first nthreads entries.
 */
int kb_place_plan(const struct kb_topo *t, const struct kb_placement *p,
		  int nthreads, bool oversubscribe, int *cpus,
		  char *err, size_t errlen);

/* The summary line, then "thread 3 -> PU 6 (core 3, package 0, NUMA 0)" per
 * thread (logical indexes as in struct kb_pu_where). */
void kb_place_print_plan(FILE *f, const struct kb_topo *t,
			 const int *cpus, int nthreads);

/*
 * Pin the calling thread to OS PU cpu (strict binding on the system
 * topology) and confirm with sched_getcpu() that it runs there. Returns the
 * CPU it runs on, or -1 with a message: not the system topology, cpu not
 * allowed, the bind failed, or the thread never arrived on cpu.
 */
int kb_place_bind_self(const struct kb_topo *t, int cpu, char *err, size_t errlen);

#endif /* KREFBENCH_SHIMS_PLACEMENT_H */
