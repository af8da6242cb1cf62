/*
 * The workloads of an object's whole life (churn, release_latency, read):
 * their descriptors, their knobs, and which backends can take part.
 */
#ifndef KREFBENCH_BENCH_LIFECYCLE_H
#define KREFBENCH_BENCH_LIFECYCLE_H

#include <stdbool.h>

#include "core/backends.h"
#include "workload.h"

extern const struct kb_workload kb_workload_churn, kb_workload_release_latency, kb_workload_read;

/* --uses: get/put pairs each holder makes per object lifetime (churn). */
#define KB_MAX_USES 8
extern int kb_churn_uses[KB_MAX_USES];
extern int kb_churn_nuses;
/* 0, or -1 with a message. */
int kb_churn_parse_uses(char *list, char *err, size_t errlen);
/* --quick (a smoke run): 1,256 unless --uses was given. */
void kb_churn_quick_uses(void);

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
