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
 * - With KREF_BACKEND=percpu or percpu_atomic, kref_init starts the ref in
 *   atomic mode (PERCPU_REF_INIT_ATOMIC): that is the only mode in which
 *   percpu_ref keeps kref's contract that the last put releases. Per-CPU
 *   mode, which needs kill, is reached through core/percpu.h directly.
 * - With KREF_BACKEND=rcuref, kref_put takes the RCU read lock itself, as
 *   the kernel's rcuref_put requires one, and the put that releases waits for
 *   an RCU grace period before calling release(). The kernel frees rcuref
 *   objects with kfree_rcu; kref's users free in release() at once, which is
 *   safe only after every put that lost the race to release has finished
 *   with the counter (core/rcuref.h). So with rcuref, kref_put must not be
 *   called inside a liburcu memb read-side section, and a releasing put costs
 *   a grace period (put_lock waits with the spinlock held).
 */
#ifndef KREFBENCH_CORE_KREF_H
#define KREFBENCH_CORE_KREF_H

#ifndef KREF_BACKEND
#define KREF_BACKEND refcount
#endif

#define KB_BACKEND_ID_atomic	1
#define KB_BACKEND_ID_refcount	2
#define KB_BACKEND_ID_percpu	3
#define KB_BACKEND_ID_mutex	4
#define KB_BACKEND_ID_null	5
#define KB_BACKEND_ID_urcu_ref	6
#define KB_BACKEND_ID_rcuref	7
#define KB_BACKEND_ID_percpu_atomic	8

#define KB_CAT_(a, b) a##b
#define KB_CAT(a, b) KB_CAT_(a, b)
#define KB_CAT3_(a, b, c) a##b##c
#define KB_CAT3(a, b, c) KB_CAT3_(a, b, c)
#define KB_BACKEND_ID KB_CAT(KB_BACKEND_ID_, KREF_BACKEND)

#if KB_BACKEND_ID == 1
#include "core/atomic.h"
#elif KB_BACKEND_ID == 2
#include "core/refcount.h"
#elif KB_BACKEND_ID == 3
#include "core/percpu.h"
#elif KB_BACKEND_ID == 4
#include "core/mutex.h"
#elif KB_BACKEND_ID == 5
#include "core/null.h"
#elif KB_BACKEND_ID == 6
#include "core/urcu_ref.h"
#elif KB_BACKEND_ID == 7
#include "core/rcuref.h"
#elif KB_BACKEND_ID == 8
#include "core/percpu.h"
#else
#error "KREF_BACKEND must be one of: atomic refcount percpu mutex null urcu_ref rcuref percpu_atomic"
#endif

#include <stdbool.h>

/* kref_<backend>_<op> */
#define KB_OP(op) KB_CAT3(kref_, KREF_BACKEND, op)

#define kref KB_CAT(kref_, KREF_BACKEND)

#if KB_BACKEND_ID == 3 || KB_BACKEND_ID == 8
#define KREF_INIT(n) _Static_assert(0, "percpu refs allocate: use kref_init()")
static inline int kref_init(struct kref *k) { return kref_percpu_init_atomic(k); }
#else
#define KREF_INIT(n) KB_CAT3(KREF_, KREF_BACKEND, _INIT)(n)
static inline int kref_init(struct kref *k) { return KB_OP(_init)(k); }
#endif

static inline void kref_get(struct kref *k) { KB_OP(_get)(k); }

static inline kb_must_check bool kref_get_unless_zero(struct kref *k)
{
	return KB_OP(_get_unless_zero)(k);
}

/* The puts that may release: rcuref's free-at-once variants (see above). */
#if KB_BACKEND_ID == 7
#define KB_PUT_OP(op) KB_OP(op##_sync)
#else
#define KB_PUT_OP(op) KB_OP(op)
#endif

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

#define KREF_BACKEND_NAME KB_CAT(KB_STR_, KREF_BACKEND)
#define KB_STR_atomic	"atomic"
#define KB_STR_refcount	"refcount"
#define KB_STR_percpu	"percpu"
#define KB_STR_mutex	"mutex"
#define KB_STR_null	"null"
#define KB_STR_urcu_ref	"urcu_ref"
#define KB_STR_rcuref	"rcuref"
#define KB_STR_percpu_atomic	"percpu_atomic"

#endif
