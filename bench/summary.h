/*
 * The run's summary table: a row per workload x knobs x threads, a column
 * per backend; each cell the median ns/op of the clean repetitions with
 * the spread of that median, and its norm. Then the floors, the read-side
 * mechanisms and what disturbance detection dropped.
 */
#ifndef KREFBENCH_BENCH_SUMMARY_H
#define KREFBENCH_BENCH_SUMMARY_H

#include "sweep.h"

void kb_summary_print(const struct kb_sweep *sw);

#endif
