/*
 * release_latency: from the moment the last reference is dropped (kill for
 * the per-CPU schemes, the last put for the others) to release() running.
 *
 * Each thread, in a loop: allocate and init an object, stamp the time, drop
 * its only reference with kill (a plain put where kill is one), carry on.
 * release() stamps again wherever it runs (the dropping thread, liburcu's
 * call_rcu thread, whoever runs an epoch) and adds the difference to the
 * dropping thread's histogram (relaxed atomic adds: two threads at most
 * touch one, and rarely at once). At most MAX_PENDING objects per thread
 * wait for their release; past that the thread waits too: it yields while
 * grace periods run on their own (percpu), and calls the backend's sync
 * where releases happen only when someone runs them (refcache's epochs, a
 * biased count's owner). So percpu's figure is the grace period as this
 * machine's liburcu delivers it with that many kills queued.
 *
 * ns_per_op is the cost of one object's create+drop+release cycle per
 * thread; the CSV's lat_* columns are the release latency (p50, p99,
 * p99.9, max); `release_via` says how the backend releases (for percpu, the
 * RCU flavour and whether sys_membarrier drives its grace periods).
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lib/rcu.h"
#include "loop.h"
#include "measure/latency.h"
#include "lifecycle.h"

#define MAX_PENDING 64

struct rl_hist {
	_Atomic uint64_t count[KB_LAT_BUCKETS];
	_Atomic uint64_t n, max;
};

struct rl_thread {
	struct rl_hist hist;
	atomic_long pending kb_cacheline_aligned;
	atomic_long created, released, double_releases;
} __attribute__((aligned(2 * KB_CACHELINE)));

struct rl_ctx {
	struct rl_thread *thr;
	void (*destroy)(void *ref);
};

struct rl_obj {
	unsigned char ref[KB_OBJ_REF_BYTES] __attribute__((aligned(16)));	/* first */
	uint64_t dropped_ns;
	struct rl_thread *owner;
	atomic_int releases;
} __attribute__((aligned(KB_CACHELINE)));

static void rl_record(struct rl_hist *h, uint64_t v)
{
	uint64_t max = atomic_load_explicit(&h->max, memory_order_relaxed);

	atomic_fetch_add_explicit(&h->count[kb_lat_bucket(v)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->n, 1, memory_order_relaxed);
	while (v > max && !atomic_compare_exchange_weak_explicit(&h->max, &max, v, memory_order_relaxed,
								 memory_order_relaxed))
		;
}

/* release(): the latency, then the object goes (the only reference is gone). */
static void rl_released(struct rl_obj *o, void (*destroy)(void *ref))
{
	uint64_t now = kb_now_ns();
	struct rl_thread *owner = o->owner;

	if (atomic_fetch_add_explicit(&o->releases, 1, memory_order_relaxed) != 0) {
		atomic_fetch_add_explicit(&owner->double_releases, 1, memory_order_relaxed);
		return;
	}
	rl_record(&owner->hist, now - o->dropped_ns);
	atomic_fetch_add_explicit(&owner->released, 1, memory_order_relaxed);
	if (destroy)
		destroy(o->ref);
	free(o);
	atomic_fetch_sub_explicit(&owner->pending, 1, memory_order_release);
}

/* The release functions need the backend's destroy: one run at a time. */
static void (*rl_destroy)(void *ref);

#define RELEASE_LATENCY(B)							\
static void rl_release_##B(struct kref_##B *r) { rl_released((struct rl_obj *)(void *)r, rl_destroy); } \
static void rl_##B(struct gb_state *st, void *vrun)				\
{										\
	struct kb_run *run = vrun;						\
	struct rl_ctx *ctx = run->wctx;						\
	struct kb_thread *me;							\
	const bool run_sync = run->backend->flags & (KB_EPOCH_RELEASE | KB_OWNER_RELEASE); \
										\
	if (!kb_thread_prologue(st, run, &me))					\
		return;								\
	struct rl_thread *mine = &ctx->thr[gb_thread_index(st)];		\
	for (kb_window_enter(st, &run->win, me); !me->window_closed; kb_window_running(me)) { \
		struct rl_obj *o = aligned_alloc(_Alignof(struct rl_obj), sizeof(*o)); \
										\
		if (!o)								\
			continue;						\
		memset(o, 0, sizeof(*o));					\
		o->owner = mine;						\
		if (kref_##B##_init((struct kref_##B *)o->ref) != 0) {		\
			free(o);						\
			kref_##B##_sync();	/* the arena is full of killed objects */ \
			continue;						\
		}								\
		atomic_fetch_add_explicit(&mine->created, 1, memory_order_relaxed); \
		atomic_fetch_add_explicit(&mine->pending, 1, memory_order_relaxed); \
		o->dropped_ns = kb_now_ns();					\
		(void)kref_##B##_kill((struct kref_##B *)o->ref, rl_release_##B); \
		me->ops++;							\
		while (atomic_load_explicit(&mine->pending, memory_order_acquire) >= MAX_PENDING) \
			run_sync ? run->backend->sync() : (void)sched_yield();	\
	}									\
	kb_thread_epilogue(st, run, me);					\
}
KB_FOR_EACH_BACKEND(RELEASE_LATENCY)

static int rl_setup(struct kb_run *run)
{
	struct rl_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -1;
	ctx->thr = aligned_alloc(_Alignof(struct rl_thread), sizeof(struct rl_thread) * (size_t)run->threads);
	if (!ctx->thr) {
		free(ctx);
		return -1;
	}
	memset(ctx->thr, 0, sizeof(struct rl_thread) * (size_t)run->threads);
	rl_destroy = run->backend->destroy;
	run->wctx = ctx;
	kb_beside_set_release_via(kb_release_via(run->backend));
	return 0;
}

static void rl_flush(struct kb_run *run)
{
	run->backend->sync();
	kb_tsan_acquire(&kb_rcu_barrier_token);
}

static void rl_teardown(struct kb_run *run)
{
	struct rl_ctx *ctx = run->wctx;

	if (!ctx)
		return;
	rl_flush(run);
	free(ctx->thr);
	free(ctx);
	run->wctx = NULL;
}

/* Every object dropped was released exactly once; the latencies go beside the window. */
static int rl_check(struct kb_run *run, char *text, size_t len)
{
	struct rl_ctx *ctx = run->wctx;
	long created = 0, released = 0, twice = 0;
	static struct kb_lat_hist merged;

	rl_flush(run);
	memset(&merged, 0, sizeof(merged));
	for (int t = 0; t < run->threads; t++) {
		struct rl_thread *th = &ctx->thr[t];

		created += atomic_load(&th->created);
		released += atomic_load(&th->released);
		twice += atomic_load(&th->double_releases);
		for (int b = 0; b < KB_LAT_BUCKETS; b++)
			merged.count[b] += atomic_load_explicit(&th->hist.count[b], memory_order_relaxed);
		merged.n += atomic_load(&th->hist.n);
		if (atomic_load(&th->hist.max) > merged.max)
			merged.max = atomic_load(&th->hist.max);
	}
	kb_beside_add_latency(&merged);
	if (twice)
		snprintf(text, len, "release_latency: %ld double release(s)", twice);
	else if (released != created)
		snprintf(text, len, "release_latency: %ld dropped, %ld released", created, released);
	else
		return 0;
	return -1;
}

#define BODY(B) [KB_BACKEND_INDEX_##B] = rl_##B,
const struct kb_workload kb_workload_release_latency = {
	.name = "release_latency",
	.own = KB_OWN_BLOCKING | KB_OWN_HELPERS,	/* waits for deferred releases (sync, yield); call_rcu runs them */
	.about = "last put (or kill) to release() running: lat_* columns",
	.op = "object release",
	.objects = kb_no_objects,
	.body = { KB_FOR_EACH_BACKEND(BODY) },
	.setup = rl_setup,
	.teardown = rl_teardown,
	.check = rl_check,
	.applies = kb_needs_counting,
};
