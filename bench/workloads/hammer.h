/* hammer's bodies, one per backend: readside's refcount rows are the same loop. */
#ifndef KREFBENCH_BENCH_HAMMER_H
#define KREFBENCH_BENCH_HAMMER_H

#include "workload.h"

#define KB_DECLARE_HAMMER(B) void kb_hammer_##B(struct gb_state *st, void *run);
KB_FOR_EACH_BACKEND(KB_DECLARE_HAMMER)

#endif
