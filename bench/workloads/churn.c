/* churn: the workload over every backend (bench/workloads/churn.h says what it does and proves). */
#include "churn.h"

#include <stdlib.h>

#include "core/lib/rcu.h"
#include "loop.h"
#include "lifecycle.h"

/* ---- the workload ---- */

/* Backends whose plain put needs the caller to free after a grace period
 * (KB_KREF_PUT_<name> is _sync: rcuref, fileref) free that way here. */
#define CHURN_STR(x) #x
#define CHURN_XSTR(x) CHURN_STR(x)
#define FREES_AFTER_GRACE_PERIOD(B) (sizeof(CHURN_XSTR(KB_KREF_PUT_##B)) > 1)

#define CHURN(B)								\
static void churn_release_##B(struct kref_##B *r)				\
{										\
	struct churn_obj *o = (struct churn_obj *)(void *)r;			\
										\
	if (!churn_released(o))							\
		return;								\
	if (FREES_AFTER_GRACE_PERIOD(B))					\
		churn_free_after_grace_period(o);				\
	else									\
		churn_free(o);							\
}										\
CHURN_DEFINE(B, churn_release_##B)						\
static void churn_##B(struct gb_state *st, void *vrun)				\
{										\
	struct kb_run *run = vrun;						\
	struct churn_ctx *c = run->wctx;					\
	struct kb_thread *me;							\
	const int t = gb_thread_index(st);					\
	/* a clock read per 16 short lifetimes, per long one */		\
	const int batch = c->uses >= 64 ? 1 : 16;				\
										\
	if (!kb_thread_prologue(st, run, &me)) {				\
		atomic_store(&c->stopped[t], true);				\
		return;								\
	}									\
	for (kb_window_enter(st, &run->win, me); !me->window_closed; kb_window_running(me)) \
		for (int i = 0; i < batch; i++) {				\
			if (churn_lifetime_##B(c, t, kref_##B##_sync) == 0)	\
				me->ops++;					\
			churn_serve_##B(c, t);					\
		}								\
	atomic_store_explicit(&c->stopped[t], true, memory_order_release);	\
	kb_run_barrier(run);	/* nobody hands anything over any more */	\
	churn_serve_##B(c, t);							\
	kb_thread_epilogue(st, run, me);					\
}
KB_FOR_EACH_BACKEND(CHURN)

/*
 * Every release due has run, and every free it queued: the backend's sync
 * (percpu: its grace periods; refcache: its epochs), then, only when a
 * free went through call_rcu, an rcu_barrier (liburcu's call_rcu thread
 * sleeps 10 ms between batches: not a price to pay for nothing).
 */
static void churn_flush(struct kb_run *run)
{
	struct churn_ctx *c = run->wctx;

	if (c->flushed)
		return;
	run->backend->sync();
	if (atomic_load(&c->frees_queued)) {
		kb_rcu_barrier();
		kb_tsan_acquire(&kb_rcu_grace_token);
		kb_tsan_acquire(&kb_rcu_barrier_token);
	}
	c->flushed = true;
}

static int churn_setup(struct kb_run *run)
{
	struct churn_ctx *c = malloc(sizeof(*c));

	if (!c || churn_ctx_init(c, run->threads, run->uses, run->backend->destroy)) {
		free(c);
		return -1;
	}
	c->window_stopping = &run->win.stop;
	run->wctx = c;
	return 0;
}

static void churn_teardown(struct kb_run *run)
{
	struct churn_ctx *c = run->wctx;

	if (!c)
		return;
	churn_flush(run);
	churn_ctx_fini(c);
	free(c);
	run->wctx = NULL;
}

static int churn_workload_check(struct kb_run *run, char *text, size_t len)
{
	struct churn_ctx *c = run->wctx;

	churn_flush(run);
	return churn_check(c, text, len);
}

#define BODY(B) [KB_BACKEND_INDEX_##B] = churn_##B,
const struct kb_workload kb_workload_churn = {
	.name = "churn",
	.own = KB_OWN_BLOCKING | KB_OWN_HELPERS,	/* owners yield to a full ring; call_rcu frees, percpu's grace periods */
	.about = "objects born, handed to every thread, used --uses times each, destroyed",
	.op = "object lifetime",
	.objects = kb_no_objects,
	.body = { KB_FOR_EACH_BACKEND(BODY) },
	.setup = churn_setup,
	.teardown = churn_teardown,
	.check = churn_workload_check,
	.per_uses = true,
	.applies = kb_needs_counting,
};
