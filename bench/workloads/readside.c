/*
 * readside: a userspace refscale. What one read-side acquire/release costs,
 * every thread on the same protected data, for each refcount backend (get +
 * put on one shared object, as refscale's refcnt readers) and, beside them,
 * the other ways to protect a read (backend column):
 *   rcu_memb   urcu memb rcu_read_lock/unlock
 *   rcu_qsbr   urcu qsbr read lock/unlock (free) + one quiescent state per batch
 *   rwlock     pthread_rwlock_rdlock/unlock on one lock
 *   pthread_mutex  pthread_mutex_lock/unlock on one lock
 */
#include "readside.h"

#include "hammer.h"
#include "loop.h"

#include <urcu/urcu-qsbr.h>

#include "core/lib/rcu.h"

/* One benchmark runs at a time, so one lock of each kind serves them all. */
static pthread_rwlock_t shared_rwlock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t shared_mutex = PTHREAD_MUTEX_INITIALIZER;

#define MECHANISM_BODY(NAME, ENTER, BATCH_HOOK, LOCK, UNLOCK, LEAVE)		\
static void NAME##_body(struct gb_state *st, void *vrun)			\
{										\
	struct kb_run *run = vrun;						\
	struct kb_thread *me;							\
										\
	if (!kb_thread_prologue(st, run, &me))					\
		return;								\
	ENTER;									\
	for KB_WINDOW_LOOP(st, &run->win, me) {			\
		BATCH_HOOK;							\
		for (int i = 0; i < KB_BATCH; i++) {				\
			LOCK;							\
			kb_barrier();						\
			UNLOCK;							\
		}								\
	}									\
	LEAVE;									\
	kb_thread_epilogue(st, run, me);					\
}

MECHANISM_BODY(rcu_memb, kb_rcu_register(), (void)0,
	       urcu_memb_read_lock(), urcu_memb_read_unlock(), (void)0)
MECHANISM_BODY(rcu_qsbr, urcu_qsbr_register_thread(), urcu_qsbr_quiescent_state(),
	       urcu_qsbr_read_lock(), urcu_qsbr_read_unlock(), urcu_qsbr_unregister_thread())
MECHANISM_BODY(rwlock, (void)0, (void)0,
	       pthread_rwlock_rdlock(&shared_rwlock), pthread_rwlock_unlock(&shared_rwlock), (void)0)
MECHANISM_BODY(pthread_mutex, (void)0, (void)0,
	       pthread_mutex_lock(&shared_mutex), pthread_mutex_unlock(&shared_mutex), (void)0)

const struct kb_mechanism kb_readside_mechanisms[] = {
	{ "rcu_memb", rcu_memb_body },
	{ "rcu_qsbr", rcu_qsbr_body },
	{ "rwlock", rwlock_body },
	{ "pthread_mutex", pthread_mutex_body },
};
const int kb_nreadside_mechanisms = sizeof(kb_readside_mechanisms) / sizeof(kb_readside_mechanisms[0]);

/* A refcount reader is get + put on the one shared object: hammer's loop. */
#define BODY(B) [KB_BACKEND_INDEX_##B] = kb_hammer_##B,
const struct kb_workload kb_workload_readside = {
	.name = "readside",
	.about = "refscale: one read-side acquire/release, refcounts beside RCU and locks",
	.op = "read-side section",
	.objects = kb_one_object,
	.body = { KB_FOR_EACH_BACKEND(BODY) },
	.mechanisms = kb_readside_mechanisms,
	.nmechanisms = sizeof(kb_readside_mechanisms) / sizeof(kb_readside_mechanisms[0]),
};
