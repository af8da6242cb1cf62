/* The out-of-line, rare paths of refcount_t: warnings and the cmpxchg-based
 * decrements used before taking a lock. Semantics follow lib/refcount.c. */
#include "core/backends/refcount.h"

#include <stdio.h>

static atomic_ulong warning_counts[REFCOUNT_NR_WARNINGS];
static atomic_bool warning_printed[REFCOUNT_NR_WARNINGS];

static const char *const warning_names[REFCOUNT_NR_WARNINGS] = {
	[REFCOUNT_ADD_NOT_ZERO_OVF] = "ADD_NOT_ZERO_OVF",
	[REFCOUNT_ADD_OVF] = "ADD_OVF",
	[REFCOUNT_ADD_UAF] = "ADD_UAF",
	[REFCOUNT_SUB_UAF] = "SUB_UAF",
	[REFCOUNT_DEC_LEAK] = "DEC_LEAK",
};

static const char *const warning_texts[REFCOUNT_NR_WARNINGS] = {
	[REFCOUNT_ADD_NOT_ZERO_OVF] = "saturated; leaking memory",
	[REFCOUNT_ADD_OVF] = "saturated; leaking memory",
	[REFCOUNT_ADD_UAF] = "addition on 0; use-after-free",
	[REFCOUNT_SUB_UAF] = "underflow; use-after-free",
	[REFCOUNT_DEC_LEAK] = "decrement hit 0; leaking memory",
};

/* Counts a warning of kind t; prints it unless *printed was set already. */
static kb_cold void count_warning_once(enum refcount_saturation_type t, atomic_bool *printed)
{
	if ((unsigned int)t >= REFCOUNT_NR_WARNINGS)
		return;
	atomic_fetch_add_explicit(&warning_counts[t], 1, memory_order_relaxed);
	if (!atomic_exchange_explicit(printed, true, memory_order_relaxed))
		fprintf(stderr, "refcount_t: %s (%s).\n", warning_texts[t], warning_names[t]);
}

static kb_cold void count_warning(enum refcount_saturation_type t)
{
	if ((unsigned int)t < REFCOUNT_NR_WARNINGS)
		count_warning_once(t, &warning_printed[t]);
}

/* refcount_dec_not_one's WARN_ONCE is a site of its own in lib/refcount.c,
 * with its own once-flag: an earlier SUB_UAF elsewhere does not silence it. */
static atomic_bool dec_not_one_printed;

void refcount_warn_saturate(refcount_t *r, enum refcount_saturation_type t)
{
	refcount_set(r, REFCOUNT_SATURATED);
	count_warning(t);
}

unsigned long refcount_warnings(enum refcount_saturation_type t)
{
	if ((unsigned int)t >= REFCOUNT_NR_WARNINGS)
		return 0;
	return atomic_load_explicit(&warning_counts[t], memory_order_relaxed);
}

void refcount_warnings_reset(void)
{
	for (int t = 0; t < REFCOUNT_NR_WARNINGS; t++)
		atomic_store_explicit(&warning_counts[t], 0, memory_order_relaxed);
}

const char *refcount_warning_name(enum refcount_saturation_type t)
{
	return (unsigned int)t < REFCOUNT_NR_WARNINGS ? warning_names[t] : "?";
}

bool refcount_dec_if_one(refcount_t *r)
{
	int one = 1;

	return atomic_compare_exchange_strong_explicit(&r->refs, &one, 0,
			memory_order_release, memory_order_relaxed);
}

/* Decrement unless the count is 1; a saturated count stays put. */
bool refcount_dec_not_one(refcount_t *r)
{
	unsigned int val = refcount_read(r), new;

	do {
		if (kb_unlikely(val == (unsigned int)REFCOUNT_SATURATED))
			return true;
		if (val == 1)
			return false;
		new = val - 1;
		if (new > val) {
			/* The kernel warns here but leaves the value alone. */
			count_warning_once(REFCOUNT_SUB_UAF, &dec_not_one_printed);
			return true;
		}
	} while (!atomic_compare_exchange_weak_explicit(&r->refs, (int *)&val, (int)new,
				memory_order_release, memory_order_relaxed));
	return true;
}

bool refcount_dec_and_mutex_lock(refcount_t *r, pthread_mutex_t *lock)
{
	if (refcount_dec_not_one(r))
		return false;
	pthread_mutex_lock(lock);
	if (!refcount_dec_and_test(r)) {
		pthread_mutex_unlock(lock);
		return false;
	}
	return true;
}

bool refcount_dec_and_lock(refcount_t *r, pthread_spinlock_t *lock)
{
	if (refcount_dec_not_one(r))
		return false;
	pthread_spin_lock(lock);
	if (!refcount_dec_and_test(r)) {
		pthread_spin_unlock(lock);
		return false;
	}
	return true;
}
