/*
 * perf_event counters per thread (shims/perfctr.h): the events the startup
 * probe found counting, or none (NULL, --no-perf). Opened in the prologue,
 * started when the window opens and stopped when the thread leaves it
 * (measure/window.c), then read in the epilogue and published as counters
 * the library sums over threads. Nothing per operation or per batch.
 */
#ifndef KREFBENCH_BENCH_THREAD_PERF_H
#define KREFBENCH_BENCH_THREAD_PERF_H

#include "perfctr.h"
#include "thread.h"

extern const struct kb_perf_probe *kb_perf_config;
void kb_thread_perf_open(struct kb_thread *me);
void kb_thread_perf_finish(struct gb_state *st, struct kb_thread *me);
void kb_thread_perf_discard(struct kb_thread *me);	/* teardown: anything left open */
/* Counter names: "perf.<event>" (the scaled count) and "perf.<event>.threads" (1 per thread that counted). */
#define KB_PERF_COUNTER_PREFIX "perf."

#endif
