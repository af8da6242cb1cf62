/*
 * The lookup workloads' object ledger: every object created must be
 * released exactly once and freed exactly once, and no reader may ever see
 * poison. Counters only; the objects keep their own release count.
 */
#ifndef KREFBENCH_BENCH_LEDGER_H
#define KREFBENCH_BENCH_LEDGER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct kb_ledger {
	atomic_long created, released, freed, double_releases, poison_seen;
};

static inline void kb_ledger_created(struct kb_ledger *l)
{
	atomic_fetch_add_explicit(&l->created, 1, memory_order_relaxed);
}

static inline void kb_ledger_freed(struct kb_ledger *l)
{
	atomic_fetch_add_explicit(&l->freed, 1, memory_order_relaxed);
}

static inline void kb_ledger_poison_seen(struct kb_ledger *l, long n)
{
	atomic_fetch_add_explicit(&l->poison_seen, n, memory_order_relaxed);
}

/* Counts a release of an object whose own counter is `releases`; false when
 * it was not the first (a double release: the caller must do nothing more). */
bool kb_ledger_release(struct kb_ledger *l, atomic_int *releases);

/* 0 when the books balance, else -1 and what is wrong in text. */
int kb_ledger_check(struct kb_ledger *l, char *text, size_t len);

#endif
