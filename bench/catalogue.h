/*
 * What this binary knows, for the programs that read its output
 * (`krefbench --list [--format json]`): the backends in core/backends.list's
 * order with their model and flags, the workloads in the sweep's order with
 * their variants (lookup_rcu's are its reclamations), the read-side
 * mechanisms and the floors. The Python
 * analysis (bench/analysis/names.py) reads the JSON, so no other file lists
 * them.
 */
#ifndef KREFBENCH_BENCH_CATALOGUE_H
#define KREFBENCH_BENCH_CATALOGUE_H

#include <stdbool.h>
#include <stdio.h>

void kb_catalogue_print(FILE *f, bool json);

#endif
