/* churn's books: the counts, the poison and the quarantine (bench/workloads/churn.h). */
#include "churn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lib/rcu.h"

/* Freed objects wait here (per freeing thread) before malloc gets them back,
 * so a late user reads poison, not a new object that reused the memory. */
#define QUARANTINE 1024

struct churn_quarantine {
	struct churn_quarantine *next;
	unsigned int pos;
	struct churn_obj *slot[QUARANTINE];
};

static pthread_mutex_t quarantine_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long generations;
static __thread struct churn_quarantine *my_quarantine;
static __thread unsigned long my_generation;

int churn_ctx_init(struct churn_ctx *c, int threads, int uses, void (*destroy)(void *ref))
{
	memset(c, 0, sizeof(*c));
	c->threads = threads;
	c->uses = uses;
	c->destroy = destroy;
	c->rings = aligned_alloc(_Alignof(struct churn_ring), sizeof(struct churn_ring) * (size_t)threads * (size_t)threads);
	c->stopped = calloc((size_t)threads, sizeof(*c->stopped));
	if (!c->rings || !c->stopped) {
		free(c->rings);
		free(c->stopped);
		return -1;
	}
	for (int i = 0; i < threads * threads; i++) {
		atomic_init(&c->rings[i].head, 0);
		atomic_init(&c->rings[i].tail, 0);
	}
	pthread_mutex_lock(&quarantine_lock);
	c->generation = ++generations;
	pthread_mutex_unlock(&quarantine_lock);
	return 0;
}

void churn_ctx_fini(struct churn_ctx *c)
{
	struct churn_quarantine *q, *next;

	pthread_mutex_lock(&quarantine_lock);
	for (q = c->quarantines; q; q = next) {
		next = q->next;
		for (int i = 0; i < QUARANTINE; i++)
			free(q->slot[i]);
		free(q);
	}
	c->quarantines = NULL;
	for (size_t i = 0; i < c->nkept; i++)
		free(c->kept[i]);
	free(c->kept);
	c->kept = NULL;
	c->nkept = c->kept_room = 0;
	pthread_mutex_unlock(&quarantine_lock);
	free(c->rings);
	free(c->stopped);
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

struct churn_obj *churn_alloc(struct churn_ctx *c)
{
	struct churn_obj *o = aligned_alloc(_Alignof(struct churn_obj), sizeof(*o));

	if (!o)
		return NULL;
	memset(o->ref, 0, sizeof(o->ref));
	atomic_init(&o->releases, 0);
	o->ctx = c;
	atomic_store_explicit(&o->magic, CHURN_LIVE, memory_order_relaxed);
	return o;
}

void churn_unalloc(struct churn_obj *o) { free(o); }

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
	struct churn_quarantine *q = my_quarantine;
	struct churn_obj *old;

	if (c->destroy)
		c->destroy(o->ref);
	atomic_store_explicit(&o->magic, CHURN_POISON, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->freed, 1, memory_order_relaxed);
	if (c->keep_freed) {
		pthread_mutex_lock(&quarantine_lock);
		if (c->nkept == c->kept_room) {
			size_t room = c->kept_room ? 2 * c->kept_room : 1024;
			struct churn_obj **kept = realloc(c->kept, room * sizeof(*kept));

			if (!kept) {	/* out of memory: this one goes at once */
				pthread_mutex_unlock(&quarantine_lock);
				free(o);
				return;
			}
			c->kept = kept;
			c->kept_room = room;
		}
		c->kept[c->nkept++] = o;
		pthread_mutex_unlock(&quarantine_lock);
		return;
	}
	if (!q || my_generation != c->generation) {
		q = calloc(1, sizeof(*q));
		if (!q) {	/* no room to quarantine: free at once */
			free(o);
			return;
		}
		pthread_mutex_lock(&quarantine_lock);
		q->next = c->quarantines;
		c->quarantines = q;
		pthread_mutex_unlock(&quarantine_lock);
		my_quarantine = q;
		my_generation = c->generation;
	}
	old = q->slot[q->pos];
	q->slot[q->pos] = o;
	q->pos = (q->pos + 1) % QUARANTINE;
	free(old);
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

