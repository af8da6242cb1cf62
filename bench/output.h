/*
 * Where a run writes, and what it says about itself: the results CSV path
 * (given, or results/<host>-<UTC>.csv), its sidecar <stem>.json and Google
 * Benchmark's <stem>.gbench.json beside it. None may exist already: a run
 * never overwrites an earlier result.
 */
#ifndef KREFBENCH_BENCH_OUTPUT_H
#define KREFBENCH_BENCH_OUTPUT_H

#include "sweep.h"

void kb_output_paths(struct kb_sweep *sw);
/* Creates the CSV (dies when it, the sidecar or the gbench JSON exists). */
void kb_output_open(struct kb_sweep *sw);
/* The sidecar with this status; prints a line and returns -1 when it cannot be written. */
int kb_output_sidecar(struct kb_sweep *sw, const char *status);
/* The measurement model's settings, for the sidecar (static storage). */
const char *kb_output_measurement_json(const struct kb_sweep *sw);
void kb_output_command_line(struct kb_sweep *sw, int argc, char **argv);
void kb_output_path_for_caller(const struct kb_sweep *sw);

#endif
