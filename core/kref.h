/*
 * The kernel's kref API (Documentation/core-api/kref.rst) over the backend
 * chosen at compile time with -DKREF_BACKEND=<name>, so code written against
 * kref compiles unchanged against every backend:
 *
 *   struct kref, KREF_INIT(n), kref_init, kref_get, kref_put,
 *   kref_put_mutex, kref_put_lock, kref_get_unless_zero, kref_read
 *
 * plus kref_kill (percpu_ref_kill; a put elsewhere) and kref_destroy.
 *
 * `struct kref` is the backend's own struct: `kref` is a macro naming it, so a
 * release callback `void f(struct kref *)` has exactly the type the backend
 * calls. (Side effect: an identifier spelt `kref` is renamed consistently in
 * the translation unit, which changes nothing.)
 *
 * Differences from the kernel, all deliberate:
 * - kref_init returns int: the per-CPU backend allocates, and can fail.
 * - kref_put_mutex/kref_put_lock take a pthread_mutex_t / pthread_spinlock_t;
 *   as in the kernel, release() is called with the lock held and must unlock.
 * - kref_init is the init each backend names for kref's contract
 *   (KB_KREF_INIT_<name>): with percpu or percpu_atomic it starts the ref in
 *   atomic mode (PERCPU_REF_INIT_ATOMIC), with sloppy reconciled: the only
 *   modes in which the last put releases without a kill. Their per-CPU modes,
 *   which need kill, are reached through their headers directly.
 * - With refcache, no put releases at once (an epoch does, later:
 *   kref_sync() runs them) and get_unless_zero always fails; with brc, a
 *   last put by another thread than the object's owner leaves the release
 *   to the owner (kref_sync() when every thread is quiet). Their headers say
 *   why; kref.rst's free-at-once patterns need care there.
 * - With KREF_BACKEND=rcuref, kref_put takes the RCU read lock itself, as
 *   the kernel's rcuref_put requires one, and the put that releases waits for
 *   an RCU grace period before calling release(). The kernel frees rcuref
 *   objects with kfree_rcu; kref's users free in release() at once, which is
 *   safe only after every put that lost the race to release has finished
 *   with the counter (core/backends/rcuref.h). So with rcuref, kref_put must not be
 *   called inside a liburcu memb read-side section, and a releasing put costs
 *   a grace period (put_lock waits with the spinlock held).
 */
#ifndef KREFBENCH_CORE_KREF_H
#define KREFBENCH_CORE_KREF_H

#ifndef KREF_BACKEND
#define KREF_BACKEND refcount
#endif

#include "core/backend_list.h"	/* every backend, generated from core/backends.list */
#include "core/lib/compiler.h"	/* KB_CAT */

#define KB_CAT3_(a, b, c) a##b##c
#define KB_CAT3(a, b, c) KB_CAT3_(a, b, c)
#define KB_BACKEND_ID KB_CAT(KB_BACKEND_ID_, KREF_BACKEND)

#if !KB_BACKEND_ID	/* an unknown name expands to an undefined identifier: 0 */
_Static_assert(0, "KREF_BACKEND must be one of: " KB_BACKEND_NAMES);
#endif

#include <stdbool.h>

/* kref_<backend>_<op> */
#define KB_OP(op) KB_CAT3(kref_, KREF_BACKEND, op)

#define kref KB_CAT(kref_, KREF_BACKEND)

/* The backend says which init gives kref's contract (core/backend_attrs.h). */
#define KREF_INIT(n) KB_CAT3(KREF_, KREF_BACKEND, _INIT)(n)
static inline int kref_init(struct kref *k) { return KB_CAT(KB_KREF_INIT_, KREF_BACKEND)(k); }

static inline void kref_get(struct kref *k) { KB_OP(_get)(k); }

static inline kb_must_check bool kref_get_unless_zero(struct kref *k)
{
	return KB_OP(_get_unless_zero)(k);
}

/* The puts that may release, with the backend's suffix for free-at-once
 * callers (rcuref, fileref: _sync; see above). */
#define KB_PUT_OP(op) KB_CAT(KB_OP(op), KB_CAT(KB_KREF_PUT_, KREF_BACKEND))

/* Returns 1 when this put released the object. Not must-check, as in the kernel. */
static inline int kref_put(struct kref *k, void (*release)(struct kref *k))
{
	return KB_PUT_OP(_put)(k, release);
}

static inline int kref_put_mutex(struct kref *k, void (*release)(struct kref *k),
				 pthread_mutex_t *lock)
{
	return KB_PUT_OP(_put_mutex)(k, release, lock);
}

static inline int kref_put_lock(struct kref *k, void (*release)(struct kref *k),
				pthread_spinlock_t *lock)
{
	return KB_PUT_OP(_put_lock)(k, release, lock);
}

static inline unsigned int kref_read(struct kref *k) { return (unsigned int)KB_OP(_read)(k); }

static inline int kref_kill(struct kref *k, void (*release)(struct kref *k))
{
	return KB_PUT_OP(_kill)(k, release);
}

static inline void kref_destroy(struct kref *k) { KB_OP(_destroy)(k); }

/* Waits until every release already due has run (epochs, merges, folds). */
static inline void kref_sync(void) { KB_OP(_sync)(); }

#define KB_STR_(x) #x
#define KB_STR(x) KB_STR_(x)
#define KREF_BACKEND_NAME KB_STR(KREF_BACKEND)

#endif
