/* The cold paths of file_ref_t: the last put's NOREF -> DEAD, the zones, the
 * warnings. Semantics follow fs/file.c (__file_ref_put). */
#include "core/backends/fileref.h"

static atomic_ulong warning_counts[FILE_REF_NR_WARNINGS];
static atomic_bool warning_printed[FILE_REF_NR_WARNINGS];

static const char *const warning_texts[FILE_REF_NR_WARNINGS] = {
	[FILE_REF_WARN_INC_RELEASED] = "file_ref_inc() on a released file reference",
	[FILE_REF_WARN_IMBALANCED_PUT] = "imbalanced put on file reference count",
};

void file_ref_warn(enum file_ref_warning w)
{
	if ((unsigned int)w >= FILE_REF_NR_WARNINGS)
		return;
	atomic_fetch_add_explicit(&warning_counts[w], 1, memory_order_relaxed);
	if (!atomic_exchange_explicit(&warning_printed[w], true, memory_order_relaxed))
		fprintf(stderr, "%s\n", warning_texts[w]);
}

unsigned long file_ref_warnings(enum file_ref_warning w)
{
	return (unsigned int)w < FILE_REF_NR_WARNINGS ?
	       atomic_load_explicit(&warning_counts[w], memory_order_relaxed) : 0;
}

/*
 * The decrement returned cnt, negative. NOREF: this put dropped the last
 * reference and releases only if its cmpxchg to DEAD, on the value the
 * decrement returned, wins (a get may have raised it again, or another put
 * marked it dead). acq_rel: the kernel's release cmpxchg followed by
 * smp_acquire__after_ctrl_dep(), in a form ThreadSanitizer can see.
 */
bool __file_ref_put(file_ref_t *ref, unsigned long cnt)
{
	if (kb_likely(cnt == FILE_REF_NOREF)) {
		long expected = (long)cnt;

		return atomic_compare_exchange_strong_explicit(&ref->refcnt, &expected,
				(long)FILE_REF_DEAD, memory_order_acq_rel, memory_order_relaxed);
	}
	if (cnt >= FILE_REF_RELEASED) {
		file_ref_warn(FILE_REF_WARN_IMBALANCED_PUT);
		atomic_store_explicit(&ref->refcnt, (long)FILE_REF_DEAD, memory_order_relaxed);
		return false;
	}
	if (cnt > FILE_REF_MAXREF)	/* a put on a saturated ref: stays saturated */
		atomic_store_explicit(&ref->refcnt, (long)FILE_REF_SATURATED, memory_order_relaxed);
	return false;
}

bool file_ref_dec_not_one(file_ref_t *ref)
{
	long cnt = atomic_load_explicit(&ref->refcnt, memory_order_relaxed);

	do {
		if (cnt == (long)FILE_REF_ONEREF || cnt < 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&ref->refcnt, &cnt, cnt - 1,
				memory_order_seq_cst, memory_order_relaxed));
	return true;
}
