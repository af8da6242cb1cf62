/*
 * What a backend header declares about itself, besides its kref_<name>_*
 * operations, so that the one list (core/backends.list) is all that names it:
 *
 *   KB_MODEL_<name>      one line on what it is, for tables and --list
 *   KB_FLAGS_<name>      the KB_* flags below
 *   KB_KREF_INIT_<name>  the init core/kref.h's kref_init() uses
 *   KB_KREF_PUT_<name>   suffix of the puts core/kref.h uses (empty, or _sync
 *                        where the plain put needs the caller to free after a
 *                        grace period and kref's users free at once)
 *   kref_<name>_sync()   waits until every release already due has run
 *   kref_<name>_bytes_at(ncpus)  bytes one object costs at ncpus CPUs
 *
 * and may declare (absent means no):
 *
 *   KB_TYPESAFE_<name> 1  the counter can live in memory reused at once from
 *                        a type-stable cache (the kernel's SLAB_TYPESAFE_BY_RCU):
 *                        it is one word inside the object, a released object's
 *                        get_unless_zero keeps failing until it is reinitialised,
 *                        and the header offers kref_<name>_init_release() (the
 *                        init as a release store, publishing the object's other
 *                        fields) and kref_<name>_get_unless_zero_acquire().
 *   KB_PUBLISH_<name> 1  the header offers kref_<name>_publish(): a lookup
 *                        structure calls it (holding a reference) on an
 *                        object it publishes, before other threads can find
 *                        it; without it, get_unless_zero may fail on a live
 *                        object (brc: CPython's maybe-weakref mark).
 */
#ifndef KREFBENCH_CORE_BACKEND_ATTRS_H
#define KREFBENCH_CORE_BACKEND_ATTRS_H

#include <stddef.h>

#include "core/lib/compiler.h"	/* KB_CAT */

#define KB_COUNTS		1u	/* a real counter (not `null`) */
#define KB_DEFERRED_RELEASE	2u	/* the last reference is dropped by kill; release after sync */
#define KB_KILL_RELEASES	4u	/* the last reference must be dropped by kill (before it
					 * the count cannot reach zero); it releases at once */
#define KB_EPOCH_RELEASE	8u	/* no put releases at once: release comes from a later
					 * epoch (sync runs them) */
#define KB_NO_GET_UNLESS_ZERO	16u	/* get_unless_zero cannot be offered: always false */
#define KB_OWNER_RELEASE	32u	/* a last put by another thread than the object's owner
					 * may leave the release to the owner (or sync) */
#define KB_WEAK_GET_UNLESS_ZERO	64u	/* get_unless_zero may fail on a live object */
#define KB_APPROX_READ		128u	/* read() sums parts without a snapshot: while
					 * others operate it may miss references in flight */
#define KB_HELPER_THREAD	256u	/* the backend runs a thread of its own (refcache's
					 * epoch thread): a benchmark runs its rows after
					 * every other backend's, in a process that ends
					 * with them */
#define KB_BLOCKING		512u	/* its operations may sleep (a contended pthread
					 * mutex): that time off the CPU is its cost */

/*
 * KB_IF_TYPESAFE(B)(text) is text when KB_TYPESAFE_<B> is 1, else nothing:
 * an undefined KB_TYPESAFE_<B> pastes into a KB_PROBE_ name that does not
 * exist, so the probe's second element is the 0 after it.
 */
#define KB_SECOND_(a, b, ...) b
#define KB_SECOND(...) KB_SECOND_(__VA_ARGS__, )
#define KB_PROBE_1 ~, 1
#define KB_IS_1(x) KB_SECOND(KB_CAT(KB_PROBE_, x), 0)
#define KB_IF_0(...)
#define KB_IF_1(...) __VA_ARGS__
#define KB_IF(c) KB_CAT(KB_IF_, c)
#define KB_IF_TYPESAFE(B) KB_IF(KB_IS_1(KB_TYPESAFE_##B))
#define KB_IF_PUBLISH(B) KB_IF(KB_IS_1(KB_PUBLISH_##B))

/* The two most common attribute bodies. */
#define KB_SYNC_NOTHING(B) static inline void kref_##B##_sync(void) {}
#define KB_BYTES_FIXED(B)							\
static inline size_t kref_##B##_bytes_at(unsigned int ncpus)			\
{										\
	(void)ncpus;								\
	return sizeof(struct kref_##B);						\
}

#endif
