/*
 * A writer thread for the lookup workloads: calls tick() `rate` times per
 * second (absolute deadlines, no bursts after falling behind) until stopped.
 * It runs beside the benchmark's threads, unpinned, outside the library.
 */
#ifndef KREFBENCH_BENCH_WRITER_H
#define KREFBENCH_BENCH_WRITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct kb_writer {
	double rate;				/* ticks per second; <= 0: no writer */
	void (*begin)(void *ctx);		/* optional, on the writer thread */
	void (*tick)(void *ctx, uint64_t random);
	void (*end)(void *ctx);			/* optional */
	void *ctx;
	atomic_bool stop;
	bool running;
	pthread_t thread;
	atomic_long ticks;
};

/* 0 (also when rate <= 0: nothing to start) or -1. */
int kb_writer_start(struct kb_writer *w);
/* Idempotent. */
void kb_writer_stop(struct kb_writer *w);

#endif
