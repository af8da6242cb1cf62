/* The workloads' random numbers: xorshift64, one state per thread, no locks. */
#ifndef KREFBENCH_BENCH_RNG_H
#define KREFBENCH_BENCH_RNG_H

#include <stdint.h>

static inline uint64_t kb_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Uniform in [0, n) from the high bits, without a division. */
static inline uint64_t kb_pick(uint64_t *rng, uint64_t n) { return ((kb_rand(rng) >> 32) * n) >> 32; }

#endif
