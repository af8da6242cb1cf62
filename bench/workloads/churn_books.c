/* churn's books: the counts, the poison, and the pools objects come from (bench/workloads/churn.h). */
#include "churn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lib/rcu.h"

struct churn_slab {
	struct churn_slab *next;
	struct churn_obj obj[CHURN_SLAB];
};

static pthread_mutex_t generation_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long generations;
/* The pool this thread owns, in the run of that generation: set by
 * churn_alloc, so the thread that allocates is the owner. */
static __thread struct churn_pool *my_pool;
static __thread unsigned long my_generation;

int churn_ctx_init(struct churn_ctx *c, int threads, int uses, void (*destroy)(void *ref))
{
	memset(c, 0, sizeof(*c));
	c->threads = threads;
	c->uses = uses;
	c->destroy = destroy;
	c->rings = aligned_alloc(_Alignof(struct churn_ring), sizeof(struct churn_ring) * (size_t)threads * (size_t)threads);
	c->pools = aligned_alloc(_Alignof(struct churn_pool), sizeof(struct churn_pool) * (size_t)threads);
	c->stopped = calloc((size_t)threads, sizeof(*c->stopped));
	if (!c->rings || !c->stopped || !c->pools) {
		free(c->rings);
		free(c->pools);
		free(c->stopped);
		return -1;
	}
	for (int i = 0; i < threads * threads; i++) {
		atomic_init(&c->rings[i].head, 0);
		atomic_init(&c->rings[i].tail, 0);
	}
	memset(c->pools, 0, sizeof(struct churn_pool) * (size_t)threads);
	for (int t = 0; t < threads; t++)
		atomic_init(&c->pools[t].returned, NULL);
	pthread_mutex_lock(&generation_lock);
	c->generation = ++generations;
	pthread_mutex_unlock(&generation_lock);
	return 0;
}

void churn_ctx_fini(struct churn_ctx *c)
{
	for (int t = 0; c->pools && t < c->threads; t++)
		for (struct churn_slab *s = c->pools[t].slabs, *next; s; s = next) {
			next = s->next;
			free(s);
		}
	free(c->pools);
	free(c->rings);
	free(c->stopped);
	c->pools = NULL;
	c->rings = NULL;
	c->stopped = NULL;
}

int churn_check(struct churn_ctx *c, char *text, size_t len)
{
	long created = atomic_load(&c->created), released = atomic_load(&c->released);
	long freed = atomic_load(&c->freed), twice = atomic_load(&c->double_releases);
	long early = atomic_load(&c->used_after_release), failed = atomic_load(&c->init_failures);

	if (early)
		snprintf(text, len, "churn: %ld use(s) of an object after its release (freed early)", early);
	else if (twice)
		snprintf(text, len, "churn: %ld object(s) released twice", twice);
	else if (released != created || freed != created)
		snprintf(text, len, "churn: created %ld, released %ld, freed %ld (%s)", created, released, freed,
			 freed < created ? "leaked" : "freed more than created");
	else if (failed)
		snprintf(text, len, "churn: %ld init(s) failed even after the deferred releases ran", failed);
	else
		return 0;
	return -1;
}

/* Owner only: append a chain of freed objects to the free list. */
static void take_back(struct churn_pool *p, struct churn_obj *chain)
{
	while (chain) {
		struct churn_obj *next = chain->next_free;

		chain->next_free = NULL;
		if (p->tail)
			p->tail->next_free = chain;
		else
			p->head = chain;
		p->tail = chain;
		p->nfree++;
		chain = next;
	}
}

/* Owner only: a slab more (rare: while deferred frees are pending). */
static bool grow(struct churn_ctx *c, struct churn_pool *p, int t)
{
	struct churn_slab *s = aligned_alloc(_Alignof(struct churn_slab), sizeof(*s));

	if (!s)
		return false;
	memset(s, 0, sizeof(*s));
	s->next = p->slabs;
	p->slabs = s;
	for (int i = 0; i < CHURN_SLAB; i++) {
		s->obj[i].owner = t;
		s->obj[i].ctx = c;
		atomic_init(&s->obj[i].magic, CHURN_POISON);
		s->obj[i].next_free = i + 1 < CHURN_SLAB ? &s->obj[i + 1] : NULL;
	}
	/* new objects go first: nothing can still refer to them */
	s->obj[CHURN_SLAB - 1].next_free = p->head;
	if (!p->head)
		p->tail = &s->obj[CHURN_SLAB - 1];
	p->head = &s->obj[0];
	p->nfree += CHURN_SLAB;
	return true;
}

struct churn_obj *churn_alloc(struct churn_ctx *c, int t)
{
	struct churn_pool *p = &c->pools[t];
	struct churn_obj *o;

	my_pool = p;
	my_generation = c->generation;
	/* Reuse an object only with CHURN_QUARANTINE freed after it behind it. */
	if (p->nfree <= CHURN_QUARANTINE)
		take_back(p, atomic_exchange_explicit(&p->returned, NULL, memory_order_acquire));
	if (p->nfree <= CHURN_QUARANTINE && !grow(c, p, t) && !p->head)
		return NULL;
	o = p->head;
	p->head = o->next_free;
	if (!p->head)
		p->tail = NULL;
	p->nfree--;
	o->next_free = NULL;
	memset(o->ref, 0, sizeof(o->ref));
	atomic_store_explicit(&o->releases, 0, memory_order_relaxed);
	atomic_store_explicit(&o->magic, CHURN_LIVE, memory_order_relaxed);
	return o;
}

/* Back to the owner: its own list when the owner frees, else its return stack. */
static void give_back(struct churn_obj *o)
{
	struct churn_ctx *c = o->ctx;
	struct churn_pool *p = &c->pools[o->owner];
	struct churn_obj *top;

	if (c->keep_freed)
		return;		/* never reused; the slab goes at fini */
	if (my_pool == p && my_generation == c->generation) {
		take_back(p, o);
		return;
	}
	top = atomic_load_explicit(&p->returned, memory_order_relaxed);
	do
		o->next_free = top;
	while (!atomic_compare_exchange_weak_explicit(&p->returned, &top, o, memory_order_release,
						      memory_order_relaxed));
}

void churn_unalloc(struct churn_obj *o)
{
	atomic_store_explicit(&o->magic, CHURN_POISON, memory_order_relaxed);
	give_back(o);
}

bool churn_released(struct churn_obj *o)
{
	struct churn_ctx *c = o->ctx;

	if (atomic_fetch_add_explicit(&o->releases, 1, memory_order_relaxed) != 0) {
		atomic_fetch_add_explicit(&c->double_releases, 1, memory_order_relaxed);
		return false;
	}
	atomic_store_explicit(&o->magic, CHURN_RELEASED, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->released, 1, memory_order_relaxed);
	return true;
}

void churn_free(struct churn_obj *o)
{
	struct churn_ctx *c = o->ctx;

	if (c->destroy)
		c->destroy(o->ref);
	atomic_store_explicit(&o->magic, CHURN_POISON, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->freed, 1, memory_order_relaxed);
	give_back(o);
}

static void free_after_grace_period(struct rcu_head *head)
{
	kb_rcu_callback_entry();
	churn_free(kb_container_of(head, struct churn_obj, rcu));
	kb_rcu_callback_exit();
}

void churn_free_after_grace_period(struct churn_obj *o)
{
	atomic_fetch_add_explicit(&o->ctx->frees_queued, 1, memory_order_relaxed);
	kb_rcu_call(&o->rcu, free_after_grace_period);
}

