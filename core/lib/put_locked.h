/*
 * The body of every backend's put_mutex and put_lock: the kernel's
 * refcount_dec_and_mutex_lock / refcount_dec_and_lock shape.
 *
 * A put that cannot be the last one never takes the lock: DEC_NOT_ONE drops
 * a reference unless the count is 1, lock-free, and is true when it did.
 * Only a possible 1 -> 0 takes the lock; under it, LAST drops the reference
 * and is true when it was the last. Then RELEASE runs with the lock still
 * held (release() unlocks it, as in the kernel) and the put returns 1; else
 * the lock is dropped and the put returns 0. LOCKING is pthread_mutex or
 * pthread_spin. A LAST that runs release() itself passes (void)0 as RELEASE.
 *
 * A macro, not a function: each backend's operations are its own types and
 * must stay inline in the timed loops, with no call through a pointer.
 */
#ifndef KREFBENCH_CORE_PUT_LOCKED_H
#define KREFBENCH_CORE_PUT_LOCKED_H

#include <pthread.h>

#define KB_PUT_LOCKED_BODY(LOCKING, lock, DEC_NOT_ONE, LAST, RELEASE)		\
	if (DEC_NOT_ONE)							\
		return 0;							\
	LOCKING##_lock(lock);							\
	if (!(LAST)) {								\
		LOCKING##_unlock(lock);						\
		return 0;							\
	}									\
	RELEASE;								\
	return 1

#endif
