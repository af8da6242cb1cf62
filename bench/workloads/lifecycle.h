/*
 * The workloads of an object's whole life (churn, release_latency, read):
 * their descriptors, their knobs, and which backends can take part.
 */
#ifndef KREFBENCH_BENCH_LIFECYCLE_H
#define KREFBENCH_BENCH_LIFECYCLE_H

#include <stdbool.h>

#include "core/backends.h"
#include "workload.h"

/* read's two rows: the reader's cost, and the writers' beside it. */
enum { KB_READ_READER, KB_READ_WRITERS };

/*
 * applies() of churn and release_latency: `null` counts nothing, so it can
 * neither free an object when its life ends nor time a release ("n/a" in
 * the summary).
 */
bool kb_needs_counting(const struct kb_backend *b, int threads, int variant);

/* How a backend's last reference reaches release() (release_latency's release_via). */
const char *kb_release_via(const struct kb_backend *b);

#endif
