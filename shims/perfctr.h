/*
 * perf_event counters around one thread's timed region.
 *
 * Each benchmark thread opens its own counters (pid 0, cpu -1: this thread,
 * any CPU) before its timed loop, enables them once when the loop starts,
 * disables them once when it ends, and reads them. Nothing runs per
 * operation. Three groups, read with PERF_FORMAT_GROUP and the enabled and
 * running times (hardware and software events do not share a leader):
 *
 *   core     cycles, instructions, branches, branch-misses
 *   cache    cache-references, cache-misses
 *   software task-clock, context-switches, cpu-migrations
 *
 * The two hardware groups are split so that each fits in the counters a
 * PMU has free; when the kernel multiplexes them, each value is scaled by
 * time_enabled / time_running (a group that never ran is "unavailable",
 * never a division by zero).
 *
 * kb_perf_probe() is called once at startup: it opens every event on the
 * calling thread, runs a little work, and records which events count and
 * why the others do not (no PMU, perf_event_paranoid, out of files, ...).
 * Threads then open exactly the events the probe found counting.
 */
#ifndef KREFBENCH_SHIMS_PERFCTR_H
#define KREFBENCH_SHIMS_PERFCTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* In the order of the CSV columns (bench/measure/results_writer.h). */
enum kb_perf_event {
	KB_PERF_CYCLES,
	KB_PERF_INSTRUCTIONS,
	KB_PERF_BRANCHES,
	KB_PERF_BRANCH_MISSES,
	KB_PERF_CACHE_REFERENCES,
	KB_PERF_CACHE_MISSES,
	KB_PERF_TASK_CLOCK,
	KB_PERF_CONTEXT_SWITCHES,
	KB_PERF_CPU_MIGRATIONS,
	KB_PERF_NEVENTS
};

enum { KB_PERF_GROUP_CORE, KB_PERF_GROUP_CACHE, KB_PERF_GROUP_SOFTWARE, KB_PERF_NGROUPS };

/* perf's own names ("cycles", "task-clock", ...). */
extern const char *const kb_perf_event_names[KB_PERF_NEVENTS];
/* CSV column names ("cycles_per_op", "task_clock_ns_per_op", ...). */
extern const char *const kb_perf_column_names[KB_PERF_NEVENTS];
/* The group each event belongs to. */
extern const int kb_perf_event_group[KB_PERF_NEVENTS];

struct kb_perf_probe {
	bool enabled;			/* false: --no-perf (or never probed) */
	bool counted[KB_PERF_NEVENTS];	/* opened, scheduled and counting */
	bool hardware_pmu;		/* some hardware event opened */
	bool user_only;			/* counting with exclude_kernel (perf_event_paranoid) */
	int paranoid;			/* kernel.perf_event_paranoid, or -99 if unreadable */
	char reason[KB_PERF_NEVENTS][256];	/* why not counted; a note when counted */
};

/*
 * Probe on the calling thread. Returns the number of events that count.
 * Never fails: what cannot be counted is described in p->reason.
 */
int kb_perf_probe(struct kb_perf_probe *p);
/* A probe that counts nothing, every reason set to `why` (e.g. "disabled by --no-perf"). */
void kb_perf_probe_disabled(struct kb_perf_probe *p, const char *why);
/* One line for stderr: what counts and, briefly, why the rest does not. */
void kb_perf_probe_summary(const struct kb_perf_probe *p, char *buf, size_t len);
/*
 * The probe as a JSON object (malloc'd, NULL when out of memory):
 * {"enabled": .., "perf_event_paranoid": .., "user_space_only": ..,
 *  "counted": [..], "not_counted": {"event": "why", ..}, "notes": {..}}
 */
char *kb_perf_probe_json(const struct kb_perf_probe *p);

/* One thread's counters. All-zero is a valid "nothing open" state. */
struct kb_perf {
	bool active;			/* something is open */
	bool running;			/* between start and stop */
	int leader[KB_PERF_NGROUPS];	/* -1: group not open */
	int fd[KB_PERF_NEVENTS];	/* -1: event not open */
	int slot[KB_PERF_NEVENTS];	/* index of the event in its group's read */
	int nmembers[KB_PERF_NGROUPS];
	uint64_t base[KB_PERF_NGROUPS][3 + KB_PERF_NEVENTS];	/* read at start */
};

/*
 * Open, on the calling thread, the events the probe found counting (all of
 * them, disabled). Returns how many opened; 0 leaves pc inactive.
 */
int kb_perf_open(struct kb_perf *pc, const struct kb_perf_probe *probe);
/* Start counting (a read for the baseline, one enable per group). No-op when inactive. */
void kb_perf_start(struct kb_perf *pc);
/* Stop counting (one disable per group). No-op when inactive or not started. */
void kb_perf_stop(struct kb_perf *pc);
/*
 * Counts between start and stop, scaled for multiplexing. valid[e] is
 * false when e was not open or its group never ran. Returns how many are valid.
 */
int kb_perf_read(struct kb_perf *pc, double value[KB_PERF_NEVENTS], bool valid[KB_PERF_NEVENTS]);
void kb_perf_close(struct kb_perf *pc);

/*
 * The scaling of one PERF_FORMAT_GROUP | TOTAL_TIME_ENABLED |
 * TOTAL_TIME_RUNNING read: buf = { nr, time_enabled, time_running,
 * value[nr] } (nwords u64s), minus base (the same layout, or NULL).
 * out[i] = value[i] * enabled / running. Returns nr, or -1 when the buffer
 * is malformed or the group never ran (running == 0): nothing to report.
 */
int kb_perf_scale_group(const uint64_t *buf, size_t nwords, const uint64_t *base, double *out, int max);

#ifdef __cplusplus
}
#endif

#endif
