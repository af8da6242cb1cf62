/*
 * kb_rcu_barrier (core/lib/rcu.h) skips liburcu's barrier when no callback
 * of ours is pending, so it must count every one: queued through
 * kb_rcu_call, or through another call_rcu after kb_rcu_count_call, and
 * done at kb_rcu_callback_exit. After a barrier every callback queued
 * before it has run, chains included when each link is counted before the
 * one that queues it exits, and the count is back to 0.
 */
#include "core/lib/rcu.h"

#include "check.h"

#define N 64

static struct rcu_head heads[N], chained;
static atomic_int ran, chain_ran;

static void plain(struct rcu_head *h)
{
	kb_rcu_callback_entry();
	(void)h;
	atomic_fetch_add(&ran, 1);
	kb_rcu_callback_exit();
}

static void second_link(struct rcu_head *h)
{
	kb_rcu_callback_entry();
	(void)h;
	atomic_fetch_add(&chain_ran, 1);
	kb_rcu_callback_exit();
}

static void first_link(struct rcu_head *h)
{
	kb_rcu_callback_entry();
	kb_rcu_call(h, second_link);	/* counted before this one exits */
	kb_rcu_callback_exit();
}

int main(void)
{
	CHECK(atomic_load(&kb_rcu_pending) == 0, "nothing pending at the start");
	kb_rcu_barrier();
	CHECK(atomic_load(&kb_rcu_pending) == 0, "a barrier with nothing pending returns");
	for (int i = 0; i < N; i++)
		kb_rcu_call(&heads[i], plain);
	CHECK(atomic_load(&kb_rcu_pending) > 0, "kb_rcu_call counts (%ld pending)", atomic_load(&kb_rcu_pending));
	kb_rcu_barrier();
	CHECK(atomic_load(&ran) == N && atomic_load(&kb_rcu_pending) == 0,
	      "after the barrier every callback ran (%d of %d), none pending", atomic_load(&ran), N);

	kb_rcu_count_call();
	urcu_memb_call_rcu(&chained, first_link);	/* another path, counted by hand */
	kb_rcu_barrier();			/* first_link has run; second_link may not */
	kb_rcu_barrier();
	CHECK(atomic_load(&chain_ran) == 1 && atomic_load(&kb_rcu_pending) == 0,
	      "a chain, each link counted: done after a barrier per link (%d, %ld pending)",
	      atomic_load(&chain_ran), atomic_load(&kb_rcu_pending));
	return check_summary();
}
