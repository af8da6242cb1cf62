/* readside: refcounts beside RCU read-side sections and read locks. */
#ifndef KREFBENCH_BENCH_READSIDE_H
#define KREFBENCH_BENCH_READSIDE_H

#include "workload.h"

extern const struct kb_mechanism kb_readside_mechanisms[];
extern const int kb_nreadside_mechanisms;

#endif
