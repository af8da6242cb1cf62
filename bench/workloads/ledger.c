#include "ledger.h"

#include <stdio.h>

bool kb_ledger_release(struct kb_ledger *l, atomic_int *releases)
{
	if (atomic_fetch_add_explicit(releases, 1, memory_order_relaxed) != 0) {
		atomic_fetch_add_explicit(&l->double_releases, 1, memory_order_relaxed);
		return false;
	}
	atomic_fetch_add_explicit(&l->released, 1, memory_order_relaxed);
	return true;
}

int kb_ledger_check(struct kb_ledger *l, char *text, size_t len)
{
	long created = atomic_load(&l->created), released = atomic_load(&l->released);
	long freed = atomic_load(&l->freed), poison = atomic_load(&l->poison_seen);
	long twice = atomic_load(&l->double_releases);

	if (poison)
		snprintf(text, len, "%ld reader(s) saw poisoned (freed) memory", poison);
	else if (twice)
		snprintf(text, len, "%ld double release(s)", twice);
	else if (released != created || freed != created)
		snprintf(text, len, "created %ld, released %ld, freed %ld", created, released, freed);
	else
		return 0;
	return -1;
}
