/*
 * SIGINT and SIGTERM: the run stops at once, exits 130 or 143, and leaves
 * files that all parse: the CSV keeps every finished row (one write per
 * row), Google Benchmark's JSON holds every finished round (rewritten whole
 * after each), and the sidecar says "interrupted" (rendered in advance: a
 * signal handler may only write bytes, not format them). A round running
 * in a child process (bench/sweep.h) gets the signal passed on and is
 * waited for first; a child itself only stops (its rows are whole).
 */
#ifndef KREFBENCH_BENCH_INTERRUPT_H
#define KREFBENCH_BENCH_INTERRUPT_H

#include "sweep.h"

#include <sys/types.h>

void kb_interrupt_install(struct kb_sweep *sw);
/* The parent: the child running a round now, or 0. */
void kb_interrupt_child(pid_t pid);
/* In a child, right after fork: a signal ends it, and nothing else. */
void kb_interrupt_in_child(void);

#endif
