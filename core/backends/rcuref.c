/* The cold paths of rcuref_t: the saturation and dead zones, the last put's
 * transition to DEAD, and the warnings. Semantics follow lib/rcuref.c. */
#include "core/backends/rcuref.h"

#include <stdio.h>

static atomic_ulong warning_counts[RCUREF_NR_WARNINGS];
static atomic_bool warning_printed[RCUREF_NR_WARNINGS];

static const char *const warning_names[RCUREF_NR_WARNINGS] = {
	[RCUREF_WARN_SATURATED] = "SATURATED",
	[RCUREF_WARN_IMBALANCED_PUT] = "IMBALANCED_PUT",
	[RCUREF_WARN_GET_DEAD] = "GET_DEAD",
};

static const char *const warning_texts[RCUREF_NR_WARNINGS] = {
	[RCUREF_WARN_SATURATED] = "rcuref saturated - leaking memory",
	[RCUREF_WARN_IMBALANCED_PUT] = "rcuref - imbalanced put()",
	[RCUREF_WARN_GET_DEAD] = "kref_get on a released rcuref - use-after-free",
};

void rcuref_warn(enum rcuref_warning w)
{
	if ((unsigned int)w >= RCUREF_NR_WARNINGS)
		return;
	atomic_fetch_add_explicit(&warning_counts[w], 1, memory_order_relaxed);
	if (!atomic_exchange_explicit(&warning_printed[w], true, memory_order_relaxed))
		fprintf(stderr, "%s (%s).\n", warning_texts[w], warning_names[w]);
}

unsigned long rcuref_warnings(enum rcuref_warning w)
{
	if ((unsigned int)w >= RCUREF_NR_WARNINGS)
		return 0;
	return atomic_load_explicit(&warning_counts[w], memory_order_relaxed);
}

void rcuref_warnings_reset(void)
{
	for (int w = 0; w < RCUREF_NR_WARNINGS; w++)
		atomic_store_explicit(&warning_counts[w], 0, memory_order_relaxed);
}

const char *rcuref_warning_name(enum rcuref_warning w)
{
	return (unsigned int)w < RCUREF_NR_WARNINGS ? warning_names[w] : "?";
}

/*
 * The increment landed in a negative value. Dead zone: undo it by parking
 * the value back on DEAD (racing failed gets all store the same value) and
 * fail. Saturation zone: park on SATURATED, the middle of the zone, so
 * neither racing gets nor racing puts can walk it out, and succeed.
 */
bool rcuref_get_slowpath(rcuref_t *ref)
{
	unsigned int cnt = atomic_load_explicit(&ref->refcnt, memory_order_relaxed);

	if (cnt >= RCUREF_RELEASED) {
		atomic_store_explicit(&ref->refcnt, RCUREF_DEAD, memory_order_relaxed);
		return false;
	}
	if (cnt > RCUREF_MAXREF) {
		rcuref_warn(RCUREF_WARN_SATURATED);
		atomic_store_explicit(&ref->refcnt, RCUREF_SATURATED, memory_order_relaxed);
	}
	return true;
}

/*
 * The decrement returned cnt, negative. NOREF: this put dropped the last
 * reference, and wins the release only if the value is still NOREF. The
 * cmpxchg uses cnt as returned (a re-read could see another thread's NOREF
 * and let two puts release). acq_rel rather than the kernel's release +
 * smp_acquire__after_ctrl_dep(): the same `lock cmpxchg` on x86, and an
 * acquire ThreadSanitizer can see, which it cannot for a fence.
 */
bool rcuref_put_slowpath(rcuref_t *ref, unsigned int cnt)
{
	if (kb_likely(cnt == RCUREF_NOREF))
		return atomic_compare_exchange_strong_explicit(&ref->refcnt, &cnt, RCUREF_DEAD,
				memory_order_acq_rel, memory_order_relaxed);
	if (cnt >= RCUREF_RELEASED) {
		rcuref_warn(RCUREF_WARN_IMBALANCED_PUT);
		atomic_store_explicit(&ref->refcnt, RCUREF_DEAD, memory_order_relaxed);
		return false;
	}
	if (cnt > RCUREF_MAXREF)	/* a put on a saturated ref: it stays saturated */
		atomic_store_explicit(&ref->refcnt, RCUREF_SATURATED, memory_order_relaxed);
	return false;
}

bool rcuref_dec_not_one(rcuref_t *ref)
{
	unsigned int cnt = atomic_load_explicit(&ref->refcnt, memory_order_relaxed);

	do {
		if (cnt == RCUREF_ONEREF || cnt > RCUREF_MAXREF)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&ref->refcnt, &cnt, cnt - 1,
				memory_order_release, memory_order_relaxed));
	return true;
}
