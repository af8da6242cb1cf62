/*
 * Backend `mutex`: a pthread mutex around a plain int — the baseline every
 * lock-free scheme must beat. The mutex's acquire/release gives all the
 * ordering kref needs; release() runs after the mutex is dropped, never
 * under it, so the object may free the mutex with itself.
 */
#ifndef KREFBENCH_CORE_MUTEX_H
#define KREFBENCH_CORE_MUTEX_H

#include <pthread.h>
#include <stdbool.h>

#include "core/backend_attrs.h"
#include "core/lib/compiler.h"
#include "core/lib/put_locked.h"

struct kref_mutex {
	pthread_mutex_t lock;
	int refs;
};

#define KREF_MUTEX_INIT(n) { .lock = PTHREAD_MUTEX_INITIALIZER, .refs = (n) }

static inline int kref_mutex_init(struct kref_mutex *r)
{
	int err = pthread_mutex_init(&r->lock, NULL);

	r->refs = 1;
	return -err;
}

static inline int kref_mutex_add(struct kref_mutex *r, int delta)
{
	int now;

	pthread_mutex_lock(&r->lock);
	now = r->refs += delta;
	pthread_mutex_unlock(&r->lock);
	return now;
}

static inline void kref_mutex_get(struct kref_mutex *r) { (void)kref_mutex_add(r, 1); }

static inline kb_must_check bool kref_mutex_get_unless_zero(struct kref_mutex *r)
{
	bool taken;

	pthread_mutex_lock(&r->lock);
	taken = r->refs != 0;
	r->refs += taken;
	pthread_mutex_unlock(&r->lock);
	return taken;
}

static inline kb_must_check int kref_mutex_put(struct kref_mutex *r,
		void (*release)(struct kref_mutex *))
{
	if (kref_mutex_add(r, -1) == 0) {
		release(r);
		return 1;
	}
	return 0;
}

/* Decrement unless it would be the last reference. */
static inline bool kref_mutex_dec_not_one(struct kref_mutex *r)
{
	bool done;

	pthread_mutex_lock(&r->lock);
	done = r->refs != 1;
	r->refs -= done;
	pthread_mutex_unlock(&r->lock);
	return done;
}

static inline int kref_mutex_put_mutex(struct kref_mutex *r,
		void (*release)(struct kref_mutex *), pthread_mutex_t *lock)
{
	KB_PUT_LOCKED_BODY(pthread_mutex, lock, kref_mutex_dec_not_one(r),
			   kref_mutex_add(r, -1) == 0, release(r));
}

static inline int kref_mutex_put_lock(struct kref_mutex *r,
		void (*release)(struct kref_mutex *), pthread_spinlock_t *lock)
{
	KB_PUT_LOCKED_BODY(pthread_spin, lock, kref_mutex_dec_not_one(r),
			   kref_mutex_add(r, -1) == 0, release(r));
}

static inline long kref_mutex_read(struct kref_mutex *r)
{
	long v;

	pthread_mutex_lock(&r->lock);
	v = r->refs;
	pthread_mutex_unlock(&r->lock);
	return v;
}

static inline int kref_mutex_kill(struct kref_mutex *r, void (*release)(struct kref_mutex *))
{
	return kref_mutex_put(r, release);
}

static inline void kref_mutex_destroy(struct kref_mutex *r) { pthread_mutex_destroy(&r->lock); }


/* ---- what the backend list needs (core/backend_attrs.h) ---- */
#define KB_MODEL_mutex "pthread mutex around an int"
#define KB_FLAGS_mutex (KB_COUNTS | KB_BLOCKING)
#define KB_KREF_INIT_mutex kref_mutex_init
#define KB_KREF_PUT_mutex
KB_SYNC_NOTHING(mutex)
KB_BYTES_FIXED(mutex)

#endif
