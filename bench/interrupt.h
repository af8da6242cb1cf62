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

/* The handlers read kb_sweep_child and kb_sweep_in_child (bench/sweep.h). */
void kb_interrupt_install(struct kb_sweep *sw);

#endif
