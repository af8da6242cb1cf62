/*
 * lookup_rcu: the kernel's RCU lookup path. Objects live in liburcu's
 * lock-free hash table (cds_lfht) keyed by id. A reader: rcu_read_lock, look
 * up a key (uniform over --objects K, or one key with --hot),
 * get_unless_zero (percpu: tryget), rcu_read_unlock, work, put. An op is one
 * lookup, whether or not it got a reference.
 *
 * A writer thread (--writer-rate N per second; 0 = none) replaces random
 * objects: the new one goes in with cds_lfht_add_replace, and the table's
 * reference on the old one is dropped (kill for percpu). The release frees
 * after a grace period of the table's flavour (call_rcu: kref.rst's
 * kfree_rcu), poisoning the object first so a late reader is caught.
 *
 * Accounting: every object created is released exactly once and freed
 * exactly once; a reader that ever sees poison fails the check.
 *
 * Reclamation (--rcu-flavor), the RCU flavours first: memb (default;
 * membarrier, cheap readers), qsbr (free readers that announce quiescent
 * states once per batch), mb (full barriers in readers). The reader loop is
 * instantiated per backend and per flavour, so the read-side calls are
 * direct (inline with _LGPL_SOURCE).
 *
 * Then three over a table whose slots may be reused without a grace
 * period, which cds_lfht's nodes may not: an array of --objects atomic
 * slots, one per key, where a replacement is one exchange.
 *  - memb_array: memb, as above, over the array: the baseline for the two
 *    below, which the hash table's own cost would otherwise hide.
 *  - hazptr: readers enter no read-side section; each publishes a hazard
 *    pointer to the object (core/lib/hazptr.h), gets, and clears it. A released
 *    object is retired; a scan frees it once no hazard pointer holds it.
 *  - typesafe: the kernel's SLAB_TYPESAFE_BY_RCU (refscale's typesafe_ref).
 *    A released object goes straight back to a type-stable cache and the
 *    writer reuses it at once; its memory is freed only at the end. Readers
 *    (memb read side) get with get_unless_zero_acquire and then re-check
 *    the key, since the object may have been reused for another key between
 *    the load and the get: on a mismatch they put and look again. Only for
 *    backends whose counter allows it (KB_TYPESAFE_<name>).
 * The array is cheaper to search than the hash table: compare hazptr and
 * typesafe with memb_array, and with memb only as a whole path.
 */
#include "loop.h"
#include "lookup_rcu.h"
#include "rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-mb.h>
#include <urcu/urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include "core/lib/hazptr.h"
#include "core/lib/rcu.h"
#include "measure/latency.h"
#include "ledger.h"
#include "writer.h"

#define LIVE_MAGIC   0x4c49564552454631ull	/* "LIVEREF1" */
#define POISON_MAGIC 0xdeaddeaddeaddeadull

struct lk_ctx;

struct lk_obj {
	unsigned char ref[KB_OBJ_REF_BYTES] __attribute__((aligned(16)));	/* first */
	uint64_t magic;
	unsigned long key;
	struct lk_ctx *ctx;
	atomic_int releases;
	struct lk_obj *retired_next;	/* null backend only */
	struct lk_obj *cache_next;	/* typesafe: in the type-stable cache */
	struct lk_obj *drained_next;	/* released while the row drains */
	struct cds_lfht_node node;
	struct rcu_head rcu;
	struct kb_hp_retired hp;	/* hazptr: waiting for no hazard pointer */
};

struct lk_ctx {
	struct cds_lfht *ht;		/* the RCU flavours */
	_Atomic(struct lk_obj *) *slots;	/* hazptr, typesafe: one per key */
	const struct rcu_flavor_struct *flavor;
	const struct kb_backend *be;
	int reclaim;			/* KB_RCU_* */
	int flavor_index;		/* the RCU flavour readers and writer use */
	struct kb_hp_domain hp;		/* hazptr */
	pthread_mutex_t cache_lock;	/* typesafe: released objects, reused at once */
	struct lk_obj *cache;
	unsigned long nkeys;
	struct kb_ledger ledger;
	struct kb_writer writer;
	pthread_mutex_t retired_lock;
	struct lk_obj *retired;		/* null backend: unlinked, freed after the run */
	/* lk_drain: no reader, writer or other put is left, so what is
	 * released then is freed at the drain's end (lk_free_drained), outside
	 * its read-side section and table walk, without a call_rcu: a drain
	 * with no free queued during the row waits for no call_rcu batch
	 * (core/lib/rcu.h, kb_rcu_pending). Under retired_lock. */
	atomic_bool draining;
	struct lk_obj *drained;
};

/* Declared here: the flavour headers map the generic rcu_flavor name to
 * whichever flavour was included first. */
extern const struct rcu_flavor_struct urcu_memb_flavor, urcu_qsbr_flavor, urcu_mb_flavor;

#define KB_RCU_memb KB_RCU_MEMB
#define KB_RCU_qsbr KB_RCU_QSBR
#define KB_RCU_mb   KB_RCU_MB
#define KB_RCU_memb_array KB_RCU_MEMB_ARRAY
#define KB_RCU_hazptr     KB_RCU_HAZPTR
#define KB_RCU_typesafe   KB_RCU_TYPESAFE
#define KB_NRCU_FLAVORS KB_RCU_MEMB_ARRAY	/* the first over the array of slots */
_Static_assert(KB_NRCU <= KB_MAX_VARIANTS, "body2 holds every reclamation");
const char *const kb_rcu_flavor_names[] = { "memb", "qsbr", "mb", "memb_array", "hazptr", "typesafe", NULL };

static const struct rcu_flavor_struct *const flavors[KB_NRCU_FLAVORS] = {
	[KB_RCU_MEMB] = &urcu_memb_flavor,
	[KB_RCU_QSBR] = &urcu_qsbr_flavor,
	[KB_RCU_MB] = &urcu_mb_flavor,
};

static unsigned long hash_key(unsigned long key)	/* murmur3 finalizer */
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	key *= 0xc4ceb9fe1a85ec53ull;
	return key ^ (key >> 33);
}

static int match_key(struct cds_lfht_node *node, const void *key)
{
	struct lk_obj *obj = caa_container_of(node, struct lk_obj, node);

	kb_tsan_acquire(obj);	/* published by the table's asm: see lk_new */
	return obj->key == *(const unsigned long *)key;
}

/* ---- registration with the chosen flavour (memb shares core/lib/rcu.h's) ---- */

static void lk_register(int flavor)
{
	if (flavor == KB_RCU_MEMB)
		kb_rcu_register();	/* idempotent; unregistered at thread exit */
	else
		flavors[flavor]->register_thread();
}

static void lk_unregister(int flavor)
{
	if (flavor != KB_RCU_MEMB)
		flavors[flavor]->unregister_thread();
}

/* ---- release and deferred free ---- */

static void lk_free(struct lk_obj *obj)
{
	struct lk_ctx *ctx = obj->ctx;

	ctx->be->destroy(obj->ref);
	obj->magic = POISON_MAGIC;
	memset(obj->ref, 0x6b, sizeof(obj->ref));	/* the kernel's POISON_FREE */
	kb_ledger_freed(&ctx->ledger);
	free(obj);
}

static void lk_free_after_memb_grace_period(struct rcu_head *head)
{
	kb_rcu_callback_entry();	/* before the first access to obj */
	lk_free(caa_container_of(head, struct lk_obj, rcu));
	kb_rcu_callback_exit();
}

/* While the row drains: onto the list lk_free_drained empties (true). */
static bool lk_drained(struct lk_obj *obj)
{
	struct lk_ctx *ctx = obj->ctx;

	if (!atomic_load_explicit(&ctx->draining, memory_order_relaxed))
		return false;
	pthread_mutex_lock(&ctx->retired_lock);
	obj->drained_next = ctx->drained;
	ctx->drained = obj;
	pthread_mutex_unlock(&ctx->retired_lock);
	return true;
}

static void lk_free_drained(struct lk_ctx *ctx)
{
	struct lk_obj *obj, *next;

	pthread_mutex_lock(&ctx->retired_lock);
	obj = ctx->drained;
	ctx->drained = NULL;
	pthread_mutex_unlock(&ctx->retired_lock);
	for (; obj; obj = next) {
		next = obj->drained_next;
		lk_free(obj);
	}
}

/*
 * A grace period of the table's flavour has passed: no reader can find the
 * object. But a put that lost the race to release it may still be touching
 * the counter inside the backend's own memb read-side section (rcuref's put
 * slow path, as the kernel requires rcuref_put under rcu_read_lock; percpu):
 * with another flavour, wait for a memb grace period too.
 */
static void lk_free_after_grace_period(struct rcu_head *head)
{
	struct lk_obj *obj = caa_container_of(head, struct lk_obj, rcu);

	kb_rcu_callback_entry();
	if (obj->ctx->flavor_index == KB_RCU_MEMB)
		lk_free(obj);
	else
		kb_rcu_call(&obj->rcu, lk_free_after_memb_grace_period);
	kb_rcu_callback_exit();
}

/* hazptr: no hazard pointer holds it. The memb grace period is for the
 * backends' own put slow paths, as in lk_free_after_grace_period. */
static void lk_reclaim_unprotected(struct kb_hp_retired *r)
{
	struct lk_obj *obj = caa_container_of(r, struct lk_obj, hp);

	if (lk_drained(obj))
		return;
	kb_tsan_release(&kb_rcu_grace_token);
	kb_rcu_call(&obj->rcu, lk_free_after_memb_grace_period);
}

/* typesafe: back to the cache at once. The counter stays as release left
 * it (readers may still try it and must fail); the rest is poisoned. */
static void lk_cache_put(struct lk_ctx *ctx, struct lk_obj *obj)
{
	obj->magic = POISON_MAGIC;
	kb_ledger_freed(&ctx->ledger);
	pthread_mutex_lock(&ctx->cache_lock);
	obj->cache_next = ctx->cache;
	ctx->cache = obj;
	pthread_mutex_unlock(&ctx->cache_lock);
}

static struct lk_obj *lk_cache_get(struct lk_ctx *ctx)
{
	struct lk_obj *obj;

	pthread_mutex_lock(&ctx->cache_lock);
	obj = ctx->cache;
	if (obj)
		ctx->cache = obj->cache_next;
	pthread_mutex_unlock(&ctx->cache_lock);
	return obj;
}

/* The end of the cache: every reader has stopped. */
static void lk_cache_destroy(struct lk_ctx *ctx)
{
	struct lk_obj *obj;

	while ((obj = lk_cache_get(ctx))) {
		ctx->be->destroy(obj->ref);
		free(obj);
	}
}

static void lk_released(void *ref)
{
	struct lk_obj *obj = (struct lk_obj *)ref;
	struct lk_ctx *ctx = obj->ctx;

	if (!kb_ledger_release(&ctx->ledger, &obj->releases))
		return;
	if (ctx->reclaim == KB_RCU_HAZPTR) {
		obj->hp.reclaim = lk_reclaim_unprotected;
		kb_hp_retire(&ctx->hp, &obj->hp, obj);
		return;
	}
	if (ctx->reclaim == KB_RCU_TYPESAFE) {
		lk_cache_put(ctx, obj);
		return;
	}
	if (lk_drained(obj))
		return;
	kb_tsan_release(&kb_rcu_grace_token);
	kb_rcu_count_call();		/* its callback ends in kb_rcu_callback_exit */
	ctx->flavor->update_call_rcu(&obj->rcu, lk_free_after_grace_period);
}

/* typesafe: reuse a cached object. Readers may be trying its counter, which
 * is why nothing but the counter's init publishes it (init_typesafe is a
 * release store that comes last). */
static struct lk_obj *lk_reuse(struct lk_ctx *ctx, unsigned long key)
{
	struct lk_obj *obj = lk_cache_get(ctx);

	if (!obj)
		return NULL;
	obj->key = key;
	obj->magic = LIVE_MAGIC;
	atomic_store_explicit(&obj->releases, 0, memory_order_relaxed);
	kb_ledger_created(&ctx->ledger);
	ctx->be->init_typesafe(obj->ref, lk_released);
	if (ctx->be->publish)
		ctx->be->publish(obj->ref);
	return obj;
}

static struct lk_obj *lk_new(struct lk_ctx *ctx, unsigned long key)
{
	struct lk_obj *obj = ctx->reclaim == KB_RCU_TYPESAFE ? lk_reuse(ctx, key) : NULL;

	if (obj)
		return obj;
	obj = aligned_alloc(_Alignof(struct lk_obj), sizeof(struct lk_obj));
	if (!obj)
		return NULL;
	memset(obj, 0, sizeof(*obj));
	if (ctx->be->init(obj->ref, lk_released) != 0) {
		free(obj);
		return NULL;
	}
	if (ctx->be->publish)	/* the table's readers hold no reference */
		ctx->be->publish(obj->ref);
	obj->magic = LIVE_MAGIC;
	obj->key = key;
	obj->ctx = ctx;
	cds_lfht_node_init(&obj->node);
	kb_ledger_created(&ctx->ledger);
	kb_tsan_release(obj);	/* publication through the table is asm */
	return obj;
}

/*
 * The table's reference goes away. `null` counts nothing, so it can never
 * tell when readers are done: its unlinked objects wait for the end of the
 * run, where they are released by hand once every reader has stopped.
 */
static void lk_drop_table_ref(struct lk_ctx *ctx, struct lk_obj *obj)
{
	if (ctx->be->flags & KB_COUNTS) {
		ctx->be->kill(obj->ref);
		return;
	}
	pthread_mutex_lock(&ctx->retired_lock);
	obj->retired_next = ctx->retired;
	ctx->retired = obj;
	pthread_mutex_unlock(&ctx->retired_lock);
}

static void lk_release_retired(struct lk_ctx *ctx)
{
	struct lk_obj *obj, *next;

	for (obj = ctx->retired; obj; obj = next) {
		next = obj->retired_next;
		lk_released(obj);
	}
	ctx->retired = NULL;
}

/* Replace key's object; the table's reference on the old one is dropped. */
static int lk_replace(struct lk_ctx *ctx, unsigned long key)
{
	struct lk_obj *obj = lk_new(ctx, key), *old;
	struct cds_lfht_node *prev;

	if (!obj)
		return -ENOMEM;
	if (ctx->slots) {
		/* seq_cst: a hazard pointer's scan must see the unlink (core/lib/hazptr.h) */
		old = atomic_exchange_explicit(&ctx->slots[key], obj, memory_order_seq_cst);
		if (old)
			lk_drop_table_ref(ctx, old);
		return 0;
	}
	ctx->flavor->thread_online();
	ctx->flavor->read_lock();
	prev = cds_lfht_add_replace(ctx->ht, hash_key(key), match_key, &key, &obj->node);
	if (prev) {
		/* Still inside the read-side section: the free this may queue
		 * waits for this put to be over, whatever the flavour. */
		old = caa_container_of(prev, struct lk_obj, node);
		kb_tsan_acquire(old);
		lk_drop_table_ref(ctx, old);
	}
	ctx->flavor->read_unlock();
	ctx->flavor->thread_offline();
	return 0;
}

/* ---- the writer thread's hooks ---- */

static void lk_writer_begin(void *arg)
{
	struct lk_ctx *ctx = arg;

	lk_register(ctx->flavor_index);
	ctx->flavor->thread_offline();	/* online only while it touches the table */
}

static void lk_writer_tick(void *arg, uint64_t random)
{
	struct lk_ctx *ctx = arg;

	(void)lk_replace(ctx, random % ctx->nkeys);	/* out of memory: skip a tick */
}

static void lk_writer_end(void *arg)
{
	struct lk_ctx *ctx = arg;

	ctx->flavor->thread_online();
	lk_unregister(ctx->flavor_index);
}

/* ---- setup, drain, check ---- */

/* The slot table's drain: every reader has stopped. */
static void lk_drain_slots(struct lk_ctx *ctx)
{
	lk_register(ctx->flavor_index);
	atomic_store_explicit(&ctx->draining, true, memory_order_relaxed);
	for (unsigned long key = 0; key < ctx->nkeys; key++) {
		struct lk_obj *old = atomic_exchange_explicit(&ctx->slots[key], NULL, memory_order_seq_cst);

		if (old)
			lk_drop_table_ref(ctx, old);
	}
	lk_release_retired(ctx);
	ctx->be->sync();		/* percpu: pending switches to atomic mode */
	if (ctx->reclaim == KB_RCU_HAZPTR)
		kb_hp_domain_destroy(&ctx->hp);	/* no hazard pointers left: frees all */
	lk_free_drained(ctx);
	kb_rcu_barrier();		/* the memb grace periods the row's frees wait for */
	kb_tsan_acquire(&kb_rcu_grace_token);
	kb_tsan_acquire(&kb_rcu_barrier_token);
	lk_cache_destroy(ctx);
	free(ctx->slots);
	ctx->slots = NULL;
}

static void lk_drain_table(struct lk_ctx *ctx)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;

	if (ctx->slots) {
		lk_drain_slots(ctx);
		return;
	}
	if (!ctx->ht)
		return;
	lk_register(ctx->flavor_index);
	atomic_store_explicit(&ctx->draining, true, memory_order_relaxed);
	ctx->flavor->read_lock();
	cds_lfht_for_each(ctx->ht, &iter, node) {
		struct lk_obj *obj = caa_container_of(node, struct lk_obj, node);

		if (cds_lfht_del(ctx->ht, node) == 0)
			lk_drop_table_ref(ctx, obj);
	}
	ctx->flavor->read_unlock();
	lk_release_retired(ctx);	/* readers have stopped */
	ctx->flavor->thread_offline();
	ctx->be->sync();		/* percpu: pending switches to atomic mode */
	lk_free_drained(ctx);
	/* Every deferred free of the row, when it queued any (the table's own
	 * resize work needs no barrier: cds_lfht_destroy waits for it). */
	kb_rcu_barrier_if_pending(ctx->flavor->barrier);
	if (ctx->flavor_index != KB_RCU_MEMB)
		kb_rcu_barrier();	/* ... and its second, memb, grace period */
	kb_tsan_acquire(&kb_rcu_grace_token);
	kb_tsan_acquire(&kb_rcu_barrier_token);
	ctx->flavor->thread_online();
	lk_unregister(ctx->flavor_index);
	cds_lfht_destroy(ctx->ht, NULL);
	ctx->ht = NULL;
}

/* The CSV's release_via for lookup_rcu: how a replaced object is freed. */
static void lk_record_reclamation(struct lk_ctx *ctx)
{
	static char text[96];

	if (ctx->reclaim == KB_RCU_HAZPTR)
		snprintf(text, sizeof(text), "hazard-pointer scan (reader fence: %s)",
			 kb_hp_fence_name(&ctx->hp));
	else if (ctx->reclaim == KB_RCU_TYPESAFE)
		snprintf(text, sizeof(text), "type-stable cache at once (memory at the end)");
	else
		snprintf(text, sizeof(text), "call_rcu after a %s grace period",
			 kb_rcu_flavor_names[ctx->flavor_index]);
	kb_beside_set_release_via(text);
}

static int lookup_setup(struct kb_run *run)
{
	struct lk_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -1;
	run->wctx = ctx;
	pthread_mutex_init(&ctx->retired_lock, NULL);
	pthread_mutex_init(&ctx->cache_lock, NULL);
	ctx->be = run->backend;
	ctx->reclaim = run->variant;
	ctx->flavor_index = run->variant < KB_NRCU_FLAVORS ? run->variant : KB_RCU_MEMB;
	ctx->flavor = flavors[ctx->flavor_index];
	ctx->nkeys = (unsigned long)kb_lookup_keys(run->threads, run->objects_knob);
	ctx->writer = (struct kb_writer){ .rate = run->writer_rate, .begin = lk_writer_begin,
					  .tick = lk_writer_tick, .end = lk_writer_end, .ctx = ctx };
	if (ctx->reclaim >= KB_NRCU_FLAVORS) {
		ctx->slots = calloc(ctx->nkeys, sizeof(*ctx->slots));
		if (!ctx->slots)
			return -1;
		if (ctx->reclaim == KB_RCU_HAZPTR && kb_hp_domain_init(&ctx->hp, run->threads) != 0)
			return -1;
	} else {
		ctx->ht = cds_lfht_new_flavor(ctx->nkeys, 1, 0, CDS_LFHT_AUTO_RESIZE, ctx->flavor, NULL);
		if (!ctx->ht)
			return -1;
	}
	lk_record_reclamation(ctx);
	lk_register(ctx->flavor_index);
	ctx->flavor->thread_offline();
	for (unsigned long key = 0; key < ctx->nkeys; key++)
		if (lk_replace(ctx, key))
			return -1;
	ctx->flavor->thread_online();
	lk_unregister(ctx->flavor_index);
	return kb_writer_start(&ctx->writer);
}

static void lookup_teardown(struct kb_run *run)
{
	struct lk_ctx *ctx = run->wctx;

	if (!ctx)
		return;
	kb_writer_stop(&ctx->writer);
	lk_drain_table(ctx);
	pthread_mutex_destroy(&ctx->retired_lock);
	pthread_mutex_destroy(&ctx->cache_lock);
	free(ctx);
	run->wctx = NULL;
}

static int lookup_check(struct kb_run *run, char *text, size_t len)
{
	struct lk_ctx *ctx = run->wctx;

	kb_writer_stop(&ctx->writer);
	lk_drain_table(ctx);
	for (int t = 0; t < run->threads; t++)
		if (run->thr[t].unexpected_releases) {
			snprintf(text, len, "a reader's put released a live object");
			return -1;
		}
	return kb_ledger_check(&ctx->ledger, text, len);
}

/* ---- the reader loop, per backend × flavour ---- */

#define RCU_LOCK_memb()		urcu_memb_read_lock()
#define RCU_UNLOCK_memb()	urcu_memb_read_unlock()
#define RCU_QS_memb()		do { } while (0)
#define RCU_LOCK_qsbr()		urcu_qsbr_read_lock()
#define RCU_UNLOCK_qsbr()	urcu_qsbr_read_unlock()
#define RCU_QS_qsbr()		urcu_qsbr_quiescent_state()
#define RCU_LOCK_mb()		urcu_mb_read_lock()
#define RCU_UNLOCK_mb()		urcu_mb_read_unlock()
#define RCU_QS_mb()		do { } while (0)
#define RCU_QS_memb_array()	do { } while (0)
#define RCU_QS_hazptr()		do { } while (0)
#define RCU_QS_typesafe()	do { } while (0)

static inline struct lk_obj *lk_find(struct lk_ctx *ctx, unsigned long key)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;

	cds_lfht_lookup(ctx->ht, hash_key(key), match_key, &key, &iter);
	node = cds_lfht_iter_get_node(&iter);
	return node ? caa_container_of(node, struct lk_obj, node) : NULL;
}

/* A reader's put; if it was the last (the writer unlinked the object), the
 * release has run. */
#define LK_PUT(B, obj)								\
	do {									\
		if (kref_##B##_put((struct kref_##B *)(obj)->ref, lk_release_##B)) \
			(void)0;						\
	} while (0)

/*
 * One lookup: find the key's object and take a reference the way reclamation
 * F allows (GET_<F> leaves obj NULL when it got none), then use and put it.
 * `continue` leaves the do-while, i.e. this lookup.
 */
#define LOOKUP_ONE(B, F)							\
	do {									\
		unsigned long key = hot ? 0 : (unsigned long)kb_pick(&rng, nkeys); \
		struct lk_obj *obj;						\
										\
		GET_##F(B);							\
		if (kb_unlikely(!obj)) {					\
			misses++;						\
			continue;						\
		}								\
		poisoned += obj->magic != LIVE_MAGIC;				\
		kb_work(work);							\
		LK_PUT(B, obj);							\
	} while (0)

/* Under a read-side section of flavour F, FIND finds; get_unless_zero keeps. */
#define GET_UNDER_RCU(B, F, FIND)						\
	do {									\
		RCU_LOCK_##F();							\
		obj = (FIND);							\
		if (obj && !kref_##B##_get_unless_zero((struct kref_##B *)obj->ref)) \
			obj = NULL;						\
		kb_tsan_release(&kb_rcu_grace_token);				\
		RCU_UNLOCK_##F();						\
	} while (0)
#define GET_memb(B)       GET_UNDER_RCU(B, memb, lk_find(ctx, key))
#define GET_qsbr(B)       GET_UNDER_RCU(B, qsbr, lk_find(ctx, key))
#define GET_mb(B)         GET_UNDER_RCU(B, mb, lk_find(ctx, key))
#define GET_memb_array(B) GET_UNDER_RCU(B, memb,				\
		atomic_load_explicit(&ctx->slots[key], memory_order_acquire))

/* The hazard pointer covers the object until the get has made it ours. */
#define GET_hazptr(B)								\
	do {									\
		obj = kb_hp_protect(&ctx->hp, hp, (_Atomic(void *) *)&ctx->slots[key]); \
		if (obj && !kref_##B##_get_unless_zero((struct kref_##B *)obj->ref)) \
			obj = NULL;						\
		kb_hp_clear(hp);						\
	} while (0)

/*
 * typesafe: the object found may be released and reused between the load and
 * the get, even for another key. The acquire get orders the key's read after
 * the reuse's init; a mismatch puts it back and looks again.
 */
#define LOOKUP_TYPESAFE_GET(B)							\
static inline struct lk_obj *lk_typesafe_get_##B(struct lk_ctx *ctx, unsigned long key) \
{										\
	for (;;) {								\
		struct lk_obj *obj = atomic_load_explicit(&ctx->slots[key], memory_order_acquire); \
										\
		if (!obj || !kref_##B##_get_unless_zero_acquire((struct kref_##B *)obj->ref)) \
			return NULL;						\
		if (kb_likely(obj->key == key))					\
			return obj;						\
		LK_PUT(B, obj);							\
	}									\
}
#define GET_typesafe(B)								\
	do {									\
		RCU_LOCK_memb();						\
		obj = lk_typesafe_get_##B(ctx, key);				\
		RCU_UNLOCK_memb();						\
	} while (0)

/* One lookup in every KB_LAT_STRIDE of a sampled batch is timed alone (bench/measure/latency.h). */
#define LOOKUP(B, F)								\
static void lookup_##B##_##F(struct gb_state *st, void *vrun)			\
{										\
	struct kb_run *run = vrun;						\
	struct lk_ctx *ctx = run->wctx;						\
	struct kb_thread *me;							\
	const uint64_t work = run->work_iters;					\
	const uint64_t nkeys = ctx ? ctx->nkeys : 1;				\
	const bool hot = run->hot, sampling = kb_lat_sampling;			\
	uint64_t last_sampled = 0;						\
	uint64_t misses = 0, poisoned = 0;					\
	static __thread struct kb_lat_hist lat;					\
										\
	if (!kb_thread_prologue(st, run, &me))					\
		return;								\
	struct kb_hp_slot *hp = KB_RCU_##F == KB_RCU_HAZPTR ? &ctx->hp.slots[me - run->thr] : NULL; \
	(void)hp;								\
	memset(&lat, 0, sizeof(lat));						\
	lk_register(ctx->flavor_index);						\
	uint64_t rng = me->rng;							\
	for KB_WINDOW_LOOP(st, &run->win, me) {					\
		const bool sample = kb_lat_sample_batch(sampling, me->batch_start_ns, &last_sampled); \
		RCU_QS_##F();							\
		for (int j = 0; j < KB_BATCH; j += KB_LAT_STRIDE) {		\
			if (sample) {						\
				uint64_t t0 = kb_now_ns();			\
				LOOKUP_ONE(B, F);				\
				kb_lat_add(&lat, kb_now_ns() - t0);		\
			} else {						\
				LOOKUP_ONE(B, F);				\
			}							\
			for (int i = 1; i < KB_LAT_STRIDE; i++)			\
				LOOKUP_ONE(B, F);				\
		}								\
	}									\
	me->rng = rng;								\
	lk_unregister(ctx->flavor_index);					\
	kb_ledger_poison_seen(&ctx->ledger, (long)poisoned);			\
	gb_counter_set(st, "misses", (double)misses);				\
	kb_beside_add_latency(&lat);						\
	kb_thread_epilogue(st, run, me);					\
}

#define LOOKUP_RELEASE(B) static void lk_release_##B(struct kref_##B *r) { lk_released(r); }
KB_FOR_EACH_BACKEND(LOOKUP_RELEASE)

#define LOOKUP_FLAVORS(B) LOOKUP(B, memb) LOOKUP(B, qsbr) LOOKUP(B, mb) LOOKUP(B, memb_array) \
	LOOKUP(B, hazptr)							\
	KB_IF_TYPESAFE(B)(LOOKUP_TYPESAFE_GET(B) LOOKUP(B, typesafe))
KB_FOR_EACH_BACKEND(LOOKUP_FLAVORS)

/* A lookup is get_unless_zero: none where the scheme cannot offer it
 * (refcache); typesafe only where the counter survives reuse. */
static bool lookup_applies(const struct kb_backend *b, int threads, int variant)
{
	(void)threads;
	if (b->flags & KB_NO_GET_UNLESS_ZERO)
		return false;
	return variant != KB_RCU_TYPESAFE || b->init_typesafe != NULL;
}

#define BODIES(B) [KB_BACKEND_INDEX_##B] = { lookup_##B##_memb, lookup_##B##_qsbr, lookup_##B##_mb, \
	lookup_##B##_memb_array, lookup_##B##_hazptr, KB_IF_TYPESAFE(B)(lookup_##B##_typesafe) },
const struct kb_workload kb_workload_lookup_rcu = {
	.name = "lookup_rcu",
	.own = KB_OWN_BLOCKING | KB_OWN_HELPERS,	/* the writer thread, call_rcu frees, the slot cache's lock */
	.about = "RCU hash-table lookup + get_unless_zero, a writer replacing objects",
	.op = "lookup",
	.objects = kb_no_objects,	/* objects live in the table */
	.body2 = { KB_FOR_EACH_BACKEND(BODIES) },
	.variants = kb_rcu_flavor_names,
	.setup = lookup_setup,
	.teardown = lookup_teardown,
	.check = lookup_check,
	.chosen_by = KB_VARIANTS_BY_RCU_FLAVOR,
	.uses_writer = true,
	.applies = lookup_applies,
	.objects_column = kb_lookup_keys,
};
