/*
 * A barrier that a thread can leave: a thread whose pin or setup failed
 * skips its run and leaves, and the others still pass (a pthread barrier
 * would wait for it forever). The library's own barriers do the same.
 */
#ifndef KREFBENCH_BENCH_BARRIER_H
#define KREFBENCH_BENCH_BARRIER_H

#include <pthread.h>

struct kb_barrier {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int participants, arrived;
	unsigned long phase;
};

void kb_barrier_init(struct kb_barrier *b, int participants);
void kb_barrier_destroy(struct kb_barrier *b);
void kb_barrier_wait(struct kb_barrier *b);
void kb_barrier_leave(struct kb_barrier *b);

#endif
