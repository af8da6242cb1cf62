/*
 * RCU for the per-CPU backend and deferred frees: liburcu's `memb` flavour
 * (membarrier-based, cheap readers, no signals), used under explicit names.
 *
 * liburcu requires every reader thread to be registered. Threads that use the
 * per-CPU backend register themselves on first use and unregister at exit (a
 * pthread key destructor), so callers need no extra step; the cost on the fast
 * path is one thread-local flag test.
 *
 * ThreadSanitizer cannot see a grace period. Each read-side unlock is
 * annotated as a release and each completed grace period as an acquire on
 * one token, which is exactly the ordering RCU guarantees. Likewise the end
 * of every callback is a release, and kb_rcu_barrier() an acquire, on a
 * second token. liburcu's own inline unlock (a plain racy store to the grace
 * period futex, benign in its memory model) and its barrier (memory handed
 * to the call_rcu thread through lock-free queues) are not checked.
 */
#ifndef KREFBENCH_CORE_RCU_H
#define KREFBENCH_CORE_RCU_H

#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE	/* inline read-side primitives */
#endif
#include <stdatomic.h>
#include <stdbool.h>
#include <urcu/urcu-memb.h>

#include "core/lib/compiler.h"

extern __thread bool kb_rcu_registered;
extern char kb_rcu_grace_token;
extern char kb_rcu_barrier_token;

void kb_rcu_register_slow(void);

static inline void kb_rcu_register(void)
{
	if (kb_unlikely(!kb_rcu_registered))
		kb_rcu_register_slow();
}

static inline void kb_rcu_read_lock(void)
{
	kb_rcu_register();
	urcu_memb_read_lock();
}

static inline void kb_rcu_read_unlock(void)
{
	kb_tsan_release(&kb_rcu_grace_token);
	kb_tsan_ignore_begin();
	urcu_memb_read_unlock();
	kb_tsan_ignore_end();
}

/* Call at the start of an RCU callback: it runs after a grace period. The
 * callback thread is one liburcu registered as a reader itself: say so, so
 * that a callback may use the read lock (percpu's confirm callbacks do)
 * without registering twice, which liburcu asserts against. */
static inline void kb_rcu_callback_entry(void)
{
	kb_rcu_registered = true;
	kb_tsan_acquire(&kb_rcu_grace_token);
}
/*
 * Callbacks queued and not yet at their kb_rcu_callback_exit(): those of
 * kb_rcu_call, and those a caller queues through another flavour's
 * call_rcu after kb_rcu_count_call(). When it is 0, kb_rcu_barrier() has
 * nothing to wait for and returns at once: liburcu's barrier always takes
 * a batch of its call_rcu thread, which naps 10 ms after every wake-up
 * (a row's teardown would pay that for nothing). A callback counted and
 * never exited, or exited and never counted, only makes barriers wait.
 */
extern atomic_long kb_rcu_pending;

static inline void kb_rcu_count_call(void)
{
	atomic_fetch_add_explicit(&kb_rcu_pending, 1, memory_order_relaxed);
}

/* Call at the end of an RCU callback: kb_rcu_barrier() waits for it. */
static inline void kb_rcu_callback_exit(void)
{
	kb_tsan_release(&kb_rcu_barrier_token);
	atomic_fetch_sub_explicit(&kb_rcu_pending, 1, memory_order_release);
}

void kb_rcu_synchronize(void);
void kb_rcu_call(struct rcu_head *head, void (*fn)(struct rcu_head *));
/* Wait until every callback queued so far has run (every counted one: at
 * once when none is pending). */
void kb_rcu_barrier(void);
/* flavor_barrier, a liburcu flavour's rcu_barrier, unless no counted
 * callback is pending; liburcu's own queues are hidden from TSan. The
 * caller registers with that flavour and does the TSan acquires. */
void kb_rcu_barrier_if_pending(void (*flavor_barrier)(void));

#endif
