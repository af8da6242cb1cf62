/*
 * What krefbench prints for a person is read on a terminal: lines fold at
 * KB_TERMINAL_COLUMNS, at spaces; continuation lines are indented 2 more
 * than their line; a word longer than a line (a path) stays whole.
 */
#ifndef KREFBENCH_BENCH_FOLD_H
#define KREFBENCH_BENCH_FOLD_H

#include <stdio.h>

#define KB_TERMINAL_COLUMNS 100

void kb_print_folded(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
