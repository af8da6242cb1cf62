/*
 * lookup_mutex: kref.rst's locked list. K slots under one mutex; a reader
 * looks up a key under the mutex, takes a reference, drops the mutex, works,
 * and puts. Objects are created by a writer thread holding the creator's
 * reference; on its tick (--writer-rate per second) it drops that reference
 * on a random key's object (or creates one where the slot is empty). The
 * object stays findable until its last put, whose release unlinks and frees
 * it — so a reader can find an object whose count already went to zero,
 * the race kref.rst's variants deal with (--variant):
 *
 *   locked       get under the mutex; put under the mutex, release unlinks + frees
 *   put_return   put under the mutex; on a return of 1 unlink, unlock, then free
 *   unless_zero  get_unless_zero under the mutex; put without it, release takes it
 *   put_mutex    kref_put_mutex: the mutex only on a possible 1->0, release unlocks
 *
 * percpu: the creator's reference is dropped with kill. So that the last put
 * always goes through the variant's path (never the RCU callback's), the
 * writer holds an extra reference across the switch to atomic mode.
 */
#include "loop.h"
#include "rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lib/rcu.h"
#include "ledger.h"
#include "writer.h"

#define LIVE_MAGIC   0x4c49564552454632ull
#define POISON_MAGIC 0xdeaddeaddeaddeadull

enum { LM_LOCKED, LM_PUT_RETURN, LM_UNLESS_ZERO, LM_PUT_MUTEX, LM_NVARIANTS };
static const char *const lm_variant_names[] = { "locked", "put_return", "unless_zero", "put_mutex", NULL };

struct lm_ctx;

struct lm_obj {
	unsigned char ref[KB_OBJ_REF_BYTES] __attribute__((aligned(16)));	/* first */
	uint64_t magic;
	unsigned long key;
	struct lm_ctx *ctx;
	atomic_int releases;
	bool creator_ref;	/* writer-only */
	struct lm_obj *retired_next;	/* null backend: writer-only list */
	struct rcu_head rcu;
};

struct lm_ctx {
	pthread_mutex_t lock;
	struct lm_obj **slots;
	unsigned long nkeys;
	const struct kb_backend *be;
	int variant;
	struct kb_ledger ledger;
	struct kb_writer writer;
	struct lm_obj *retired;		/* null backend: unlinked, freed after the run */
	atomic_bool draining;		/* lm_drain: no reader, writer or other put is left */
};

static void lm_free_now(struct lm_obj *obj)
{
	struct lm_ctx *ctx = obj->ctx;

	ctx->be->destroy(obj->ref);
	obj->magic = POISON_MAGIC;
	memset(obj->ref, 0x6b, sizeof(obj->ref));
	kb_ledger_freed(&ctx->ledger);
	free(obj);
}

static void lm_free_after_grace_period(struct rcu_head *head)
{
	kb_rcu_callback_entry();	/* before the first access to obj */
	lm_free_now(kb_container_of(head, struct lm_obj, rcu));
	kb_rcu_callback_exit();
}

/*
 * Unlinked under the mutex, so no reader can find it; but a put that lost
 * the race to release it may still be touching the counter inside the
 * backend's own RCU read-side section (rcuref's put slow path, which the
 * kernel requires under rcu_read_lock; percpu). So the memory goes back
 * after a grace period, as kref.rst's kfree_rcu would do it. While the
 * row drains, every other thread has stopped and the put that released is
 * the draining thread's own, over: the memory goes back at once, and a
 * drain with no free queued during the row waits for no call_rcu batch.
 */
static void lm_free(struct lm_obj *obj)
{
	if (atomic_load_explicit(&obj->ctx->draining, memory_order_relaxed))
		lm_free_now(obj);
	else
		kb_rcu_call(&obj->rcu, lm_free_after_grace_period);
}

/* Count the release; false when it is not the first (then do nothing more). */
static bool lm_count_release(struct lm_obj *obj)
{
	return kb_ledger_release(&obj->ctx->ledger, &obj->releases);
}

static void lm_unlink(struct lm_obj *obj)	/* mutex held */
{
	if (obj->ctx->slots[obj->key] == obj)
		obj->ctx->slots[obj->key] = NULL;
}

/* Release callbacks, one per variant (called through the runtime table too). */
static void lm_release_locked(void *ref)		/* mutex held by the caller */
{
	struct lm_obj *obj = ref;

	if (!lm_count_release(obj))
		return;
	lm_unlink(obj);
	lm_free(obj);
}

static void lm_release_put_return(void *ref)		/* all work after kref_put */
{
	(void)lm_count_release(ref);
}

static void lm_release_unless_zero(void *ref)		/* takes the mutex itself */
{
	struct lm_obj *obj = ref;

	if (!lm_count_release(obj))
		return;
	pthread_mutex_lock(&obj->ctx->lock);
	lm_unlink(obj);
	pthread_mutex_unlock(&obj->ctx->lock);
	lm_free(obj);
}

static void lm_release_put_mutex(void *ref)		/* mutex held; unlocks */
{
	struct lm_obj *obj = ref;
	struct lm_ctx *ctx = obj->ctx;

	if (!lm_count_release(obj)) {
		pthread_mutex_unlock(&ctx->lock);
		return;
	}
	lm_unlink(obj);
	pthread_mutex_unlock(&ctx->lock);
	lm_free(obj);
}

static void (*const lm_releases[LM_NVARIANTS])(void *) = {
	lm_release_locked, lm_release_put_return, lm_release_unless_zero, lm_release_put_mutex,
};

/* The variant's put through the runtime table (writer and drain: slow path). */
static void lm_put_slow(struct lm_ctx *ctx, struct lm_obj *obj)
{
	switch (ctx->variant) {
	case LM_LOCKED:
		pthread_mutex_lock(&ctx->lock);
		ctx->be->put(obj->ref);
		pthread_mutex_unlock(&ctx->lock);
		break;
	case LM_PUT_RETURN:
		pthread_mutex_lock(&ctx->lock);
		if (ctx->be->put(obj->ref)) {
			lm_unlink(obj);
			pthread_mutex_unlock(&ctx->lock);
			lm_free(obj);
		} else {
			pthread_mutex_unlock(&ctx->lock);
		}
		break;
	case LM_UNLESS_ZERO:
		ctx->be->put(obj->ref);
		break;
	case LM_PUT_MUTEX:
		ctx->be->put_mutex(obj->ref, &ctx->lock);
		break;
	}
}

/* The creator's reference goes away (see the header comment for percpu). */
static void lm_drop_creator_ref(struct lm_ctx *ctx, struct lm_obj *obj)
{
	if (!(ctx->be->flags & KB_COUNTS)) {
		pthread_mutex_lock(&ctx->lock);
		lm_unlink(obj);		/* null counts nothing: unlinked, freed at the end */
		pthread_mutex_unlock(&ctx->lock);
		return;
	}
	if (ctx->be->flags & (KB_DEFERRED_RELEASE | KB_KILL_RELEASES)) {	/* percpu, sloppy */
		ctx->be->get(obj->ref);
		ctx->be->kill(obj->ref);
		ctx->be->sync();
	}
	lm_put_slow(ctx, obj);
}

static struct lm_obj *lm_new(struct lm_ctx *ctx, unsigned long key)
{
	struct lm_obj *obj = aligned_alloc(_Alignof(struct lm_obj), sizeof(struct lm_obj));

	if (!obj)
		return NULL;
	memset(obj, 0, sizeof(*obj));
	obj->magic = LIVE_MAGIC;
	obj->key = key;
	obj->ctx = ctx;
	obj->creator_ref = true;
	if (ctx->be->init(obj->ref, lm_releases[ctx->variant]) != 0) {
		free(obj);
		return NULL;
	}
	if (ctx->be->publish)	/* readers find it under the mutex, holding no reference */
		ctx->be->publish(obj->ref);
	kb_ledger_created(&ctx->ledger);
	return obj;
}

/* Writer tick on one key: create where empty, else drop the creator's ref. */
static void lm_tick(struct lm_ctx *ctx, unsigned long key)
{
	struct lm_obj *obj, *fresh = NULL;

	pthread_mutex_lock(&ctx->lock);
	obj = ctx->slots[key];
	if (!obj || !obj->creator_ref) {
		pthread_mutex_unlock(&ctx->lock);
		if (obj)
			return;		/* dying: its last put will unlink it */
		fresh = lm_new(ctx, key);
		pthread_mutex_lock(&ctx->lock);
		if (fresh && !ctx->slots[key])
			ctx->slots[key] = fresh;
		else if (fresh) {	/* cannot happen: only the writer fills slots */
			ctx->be->destroy(fresh->ref);
			free(fresh);
		}
		pthread_mutex_unlock(&ctx->lock);
		return;
	}
	obj->creator_ref = false;
	pthread_mutex_unlock(&ctx->lock);
	lm_drop_creator_ref(ctx, obj);
	if (!(ctx->be->flags & KB_COUNTS)) {
		obj->retired_next = ctx->retired;
		ctx->retired = obj;
	}
}

static void lm_writer_tick(void *arg, uint64_t random)
{
	struct lm_ctx *ctx = arg;

	lm_tick(ctx, random % ctx->nkeys);
}

/* ---- setup, drain, check ---- */

/* Readers and writer have stopped: drop every creator reference left, with
 * one grace period for all the percpu kills rather than one each. */
static void lm_drain(struct lm_ctx *ctx)
{
	struct lm_obj *obj, *next, *dying = NULL;
	bool counts = ctx->be->flags & KB_COUNTS;
	bool deferred = ctx->be->flags & (KB_DEFERRED_RELEASE | KB_KILL_RELEASES);

	if (!ctx->slots)
		return;
	atomic_store_explicit(&ctx->draining, true, memory_order_relaxed);
	for (unsigned long key = 0; key < ctx->nkeys; key++) {
		obj = ctx->slots[key];
		if (!obj || !obj->creator_ref)
			continue;
		obj->creator_ref = false;
		if (counts && deferred) {
			ctx->be->get(obj->ref);
			ctx->be->kill(obj->ref);
		}
		obj->retired_next = dying;
		dying = obj;
	}
	if (counts && deferred)
		ctx->be->sync();
	for (obj = dying; obj; obj = next) {
		next = obj->retired_next;
		if (counts) {
			lm_put_slow(ctx, obj);
		} else {
			obj->retired_next = ctx->retired;
			ctx->retired = obj;
		}
	}
	for (obj = ctx->retired; obj; obj = next) {	/* null only */
		next = obj->retired_next;
		if (lm_count_release(obj))
			lm_free(obj);
	}
	ctx->retired = NULL;
	kb_rcu_barrier();	/* every deferred free */
	free(ctx->slots);
	ctx->slots = NULL;
}

static int lm_setup(struct kb_run *run)
{
	struct lm_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -1;
	run->wctx = ctx;
	pthread_mutex_init(&ctx->lock, NULL);
	ctx->be = run->backend;
	ctx->variant = run->variant;
	ctx->nkeys = (unsigned long)kb_lookup_keys(run->threads, run->objects_knob);
	ctx->writer = (struct kb_writer){ .rate = run->writer_rate, .tick = lm_writer_tick, .ctx = ctx };
	ctx->slots = calloc(ctx->nkeys, sizeof(*ctx->slots));
	if (!ctx->slots)
		return -1;
	for (unsigned long key = 0; key < ctx->nkeys; key++)
		lm_tick(ctx, key);
	return kb_writer_start(&ctx->writer);
}

static void lm_teardown(struct kb_run *run)
{
	struct lm_ctx *ctx = run->wctx;

	if (!ctx)
		return;
	kb_writer_stop(&ctx->writer);
	lm_drain(ctx);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
	run->wctx = NULL;
}

static int lm_check(struct kb_run *run, char *text, size_t len)
{
	struct lm_ctx *ctx = run->wctx;

	kb_writer_stop(&ctx->writer);
	lm_drain(ctx);
	return kb_ledger_check(&ctx->ledger, text, len);
}

/* ---- the reader loops: lookup + get, then the variant's put ---- */

#define LM_LOOKUP_GET(B, GET)							\
	pthread_mutex_lock(&ctx->lock);						\
	obj = ctx->slots[key];							\
	if (obj && !(GET))							\
		obj = NULL;							\
	pthread_mutex_unlock(&ctx->lock)

#define LM_PUT_locked(B)							\
	pthread_mutex_lock(&ctx->lock);						\
	(void)!kref_##B##_put(REF(B), lm_fast_locked_##B);			\
	pthread_mutex_unlock(&ctx->lock)

#define LM_PUT_put_return(B)							\
	pthread_mutex_lock(&ctx->lock);						\
	if (kref_##B##_put(REF(B), lm_fast_put_return_##B)) {			\
		lm_unlink(obj);							\
		pthread_mutex_unlock(&ctx->lock);				\
		lm_free(obj);							\
	} else {								\
		pthread_mutex_unlock(&ctx->lock);				\
	}

#define LM_PUT_unless_zero(B) (void)!kref_##B##_put(REF(B), lm_fast_unless_zero_##B)
#define LM_PUT_put_mutex(B) (void)kref_##B##_put_mutex(REF(B), lm_fast_put_mutex_##B, &ctx->lock)

#define LM_GET_locked(B)	(kref_##B##_get(REF(B)), true)
#define LM_GET_put_return(B)	(kref_##B##_get(REF(B)), true)
#define LM_GET_unless_zero(B)	kref_##B##_get_unless_zero(REF(B))
#define LM_GET_put_mutex(B)	(kref_##B##_get(REF(B)), true)

#define REF(B) ((struct kref_##B *)obj->ref)

#define LM_BODY(B, V)								\
static void lm_fast_##V##_##B(struct kref_##B *r) { lm_release_##V(r); }	\
static void lookup_mutex_##B##_##V(struct gb_state *st, void *vrun)		\
{										\
	struct kb_run *run = vrun;						\
	struct lm_ctx *ctx = run->wctx;						\
	struct kb_thread *me;							\
	const uint64_t work = run->work_iters;					\
	const uint64_t nkeys = ctx ? ctx->nkeys : 1;				\
	const bool hot = run->hot;						\
	uint64_t misses = 0, poisoned = 0;					\
										\
	if (!kb_thread_prologue(st, run, &me))					\
		return;								\
	uint64_t rng = me->rng;							\
	for KB_WINDOW_LOOP(st, &run->win, me) {			\
		for (int i = 0; i < KB_BATCH; i++) {				\
			unsigned long key = hot ? 0 : (unsigned long)kb_pick(&rng, nkeys); \
			struct lm_obj *obj;					\
										\
			LM_LOOKUP_GET(B, LM_GET_##V(B));			\
			if (kb_unlikely(!obj)) {				\
				misses++;					\
				continue;					\
			}							\
			poisoned += obj->magic != LIVE_MAGIC;			\
			kb_work(work);						\
			LM_PUT_##V(B);						\
		}								\
	}									\
	me->rng = rng;								\
	kb_ledger_poison_seen(&ctx->ledger, (long)poisoned);			\
	gb_counter_set(st, "misses", (double)misses);				\
	kb_thread_epilogue(st, run, me);					\
}

#define LM_VARIANTS(B) LM_BODY(B, locked) LM_BODY(B, put_return) LM_BODY(B, unless_zero) LM_BODY(B, put_mutex)
KB_FOR_EACH_BACKEND(LM_VARIANTS)

/*
 * kref.rst's locked list needs release() to run in the put that drops the
 * last reference, under the list lock where the variant says so. Where
 * the release comes later from elsewhere (an epoch: refcache; the owner's
 * merge: brc) the list would keep a dead entry: no meaning, no row.
 */
static bool lm_applies(const struct kb_backend *b, int threads, int variant)
{
	(void)threads;
	(void)variant;
	return !(b->flags & (KB_EPOCH_RELEASE | KB_OWNER_RELEASE));
}

#define BODIES(B) [KB_BACKEND_INDEX_##B] = { lookup_mutex_##B##_locked, lookup_mutex_##B##_put_return, \
	lookup_mutex_##B##_unless_zero, lookup_mutex_##B##_put_mutex },
const struct kb_workload kb_workload_lookup_mutex = {
	.name = "lookup_mutex",
	.own = KB_OWN_BLOCKING | KB_OWN_HELPERS,	/* readers sleep on the list's mutex; the writer thread, call_rcu frees */
	.about = "kref.rst's locked list: lookup + get under a mutex, put per --variant",
	.op = "lookup",
	.objects = kb_no_objects,	/* slots of its own */
	.body2 = { KB_FOR_EACH_BACKEND(BODIES) },
	.variants = lm_variant_names,
	.setup = lm_setup,
	.teardown = lm_teardown,
	.check = lm_check,
	.chosen_by = KB_VARIANTS_BY_VARIANT,
	.uses_writer = true,
	.applies = lm_applies,
	.objects_column = kb_lookup_keys,
};
