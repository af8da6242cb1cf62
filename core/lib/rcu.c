#include "core/lib/rcu.h"

#include <pthread.h>

__thread bool kb_rcu_registered;
char kb_rcu_grace_token;
char kb_rcu_barrier_token;
atomic_long kb_rcu_pending;

static pthread_key_t unregister_key;
static pthread_once_t unregister_key_once = PTHREAD_ONCE_INIT;

static void unregister_at_exit(void *unused)
{
	(void)unused;
	if (kb_rcu_registered) {
		urcu_memb_unregister_thread();
		kb_rcu_registered = false;
	}
}

static void make_unregister_key(void)
{
	pthread_key_create(&unregister_key, unregister_at_exit);
}

void kb_rcu_register_slow(void)
{
	pthread_once(&unregister_key_once, make_unregister_key);
	urcu_memb_register_thread();
	kb_rcu_registered = true;
	/* Any non-NULL value makes the destructor run at thread exit. */
	pthread_setspecific(unregister_key, &kb_rcu_registered);
}

void kb_rcu_synchronize(void)
{
	urcu_memb_synchronize_rcu();
	kb_tsan_acquire(&kb_rcu_grace_token);
}

void kb_rcu_call(struct rcu_head *head, void (*fn)(struct rcu_head *))
{
	kb_rcu_register();
	kb_tsan_release(&kb_rcu_grace_token);
	kb_rcu_count_call();
	urcu_memb_call_rcu(head, fn);
}

void kb_rcu_barrier_if_pending(void (*flavor_barrier)(void))
{
	if (atomic_load_explicit(&kb_rcu_pending, memory_order_acquire) != 0) {
		kb_tsan_ignore_begin();
		flavor_barrier();
		kb_tsan_ignore_end();
	}
}

void kb_rcu_barrier(void)
{
	kb_rcu_register();
	kb_rcu_barrier_if_pending(urcu_memb_barrier);
	kb_tsan_acquire(&kb_rcu_grace_token);
	kb_tsan_acquire(&kb_rcu_barrier_token);
}
