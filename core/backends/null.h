/*
 * Backend `null`: every operation is empty. It is not a reference count; it
 * measures what the harness itself costs per operation (loop, batching,
 * timing). Its contract, which the tests check: read() is always 1, get and
 * get_unless_zero succeed, put and kill never release.
 */
#ifndef KREFBENCH_CORE_NULL_H
#define KREFBENCH_CORE_NULL_H

#include <pthread.h>
#include <stdbool.h>

#include "core/backend_attrs.h"
#include "core/lib/compiler.h"

struct kref_null {
	char unused;
};

#define KREF_NULL_INIT(n) { 0 }

static inline int kref_null_init(struct kref_null *r) { (void)r; return 0; }
static inline void kref_null_get(struct kref_null *r) { kb_blackhole(r); }
static inline kb_must_check bool kref_null_get_unless_zero(struct kref_null *r)
{
	kb_blackhole(r);
	return true;
}
static inline kb_must_check int kref_null_put(struct kref_null *r, void (*release)(struct kref_null *))
{
	kb_blackhole(r);
	(void)release;
	return 0;
}
static inline int kref_null_put_mutex(struct kref_null *r, void (*release)(struct kref_null *),
		pthread_mutex_t *lock)
{
	(void)lock;
	return kref_null_put(r, release);
}
static inline int kref_null_put_lock(struct kref_null *r, void (*release)(struct kref_null *),
		pthread_spinlock_t *lock)
{
	(void)lock;
	return kref_null_put(r, release);
}
static inline long kref_null_read(const struct kref_null *r) { (void)r; return 1; }
static inline int kref_null_kill(struct kref_null *r, void (*release)(struct kref_null *))
{
	return kref_null_put(r, release);
}
static inline void kref_null_destroy(struct kref_null *r) { (void)r; }


/* ---- what the backend list needs (core/backend_attrs.h) ---- */
#define KB_MODEL_null "no-op: the harness floor"
#define KB_FLAGS_null (0)
#define KB_KREF_INIT_null kref_null_init
#define KB_KREF_PUT_null
KB_SYNC_NOTHING(null)
KB_BYTES_FIXED(null)

#endif
