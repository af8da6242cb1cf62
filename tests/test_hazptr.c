/*
 * Hazard pointers (core/lib/hazptr.h): a protected object is never reclaimed, an
 * unprotected one is reclaimed exactly once, the retire threshold scans on
 * its own, and under readers and a replacing writer no reader ever sees a
 * reclaimed object (poisoned before free; asan catches a late read), with
 * the asymmetric (membarrier) and the symmetric (fence) reader.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "core/lib/hazptr.h"

#define LIVE   0x1111111111111111ull
#define POISON 0xdeaddeaddeaddeadull

struct obj {
	_Atomic uint64_t magic;	/* atomic: a buggy scan must show up as poison, not as a race report */
	struct kb_hp_retired hp;
};

static atomic_long reclaims;

static void reclaim(struct kb_hp_retired *r)
{
	struct obj *o = kb_container_of(r, struct obj, hp);

	atomic_fetch_add(&reclaims, 1);
	atomic_store(&o->magic, POISON);
	free(o);
}

static struct obj *obj_new(void)
{
	struct obj *o = calloc(1, sizeof(*o));

	if (!o)
		abort();
	atomic_store(&o->magic, LIVE);
	o->hp.reclaim = reclaim;
	return o;
}

static void test_protected_is_kept(void)
{
	struct kb_hp_domain d;
	struct obj *a = obj_new(), *b = obj_new();
	_Atomic(void *) src = a;
	void *p;

	CHECK(kb_hp_domain_init(&d, 2) == 0, "init");
	atomic_store(&reclaims, 0);
	p = kb_hp_protect(&d, &d.slots[0], &src);
	CHECK(p == a, "protect returns what the source holds");
	atomic_store(&src, b);			/* unlink a, then retire it */
	kb_hp_retire(&d, &a->hp, a);
	kb_hp_scan(&d);
	CHECK_EQ(atomic_load(&reclaims), 0, "reclaimed while a slot holds it");
	CHECK(atomic_load(&a->magic) == LIVE, "a still live under its hazard pointer");
	kb_hp_clear(&d.slots[0]);
	kb_hp_scan(&d);
	CHECK_EQ(atomic_load(&reclaims), 1, "reclaimed once the slot is cleared");
	kb_hp_scan(&d);
	CHECK_EQ(atomic_load(&reclaims), 1, "a second scan reclaims nothing again");
	kb_hp_retire(&d, &b->hp, b);
	kb_hp_domain_destroy(&d);
	CHECK_EQ(atomic_load(&reclaims), 2, "destroy reclaims what is left");
}

static void test_threshold_scans(void)
{
	struct kb_hp_domain d;

	CHECK(kb_hp_domain_init(&d, 4) == 0, "init");
	atomic_store(&reclaims, 0);
	for (size_t i = 0; i < d.threshold; i++) {
		struct obj *o = obj_new();

		kb_hp_retire(&d, &o->hp, o);
	}
	CHECK(atomic_load(&d.scans) >= 1, "reaching the threshold scans");
	CHECK_EQ(atomic_load(&reclaims), (long)d.threshold, "and reclaims every unprotected object");
	kb_hp_domain_destroy(&d);
}

/* ---- readers protect, a writer replaces and retires ---- */

#define NSRC 4
#define READERS 3

struct stress {
	struct kb_hp_domain d;
	_Atomic(void *) src[NSRC];
	atomic_bool stop;
	atomic_long poison_seen, reads;
};

struct reader_arg {
	struct stress *s;
	int slot;
};

static void *reader(void *varg)
{
	struct reader_arg *arg = varg;
	struct stress *s = arg->s;
	struct kb_hp_slot *slot = &s->d.slots[arg->slot];
	unsigned int i = (unsigned int)arg->slot;
	long poison = 0, reads = 0;

	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		struct obj *o = kb_hp_protect(&s->d, slot, &s->src[i++ % NSRC]);

		poison += atomic_load_explicit(&o->magic, memory_order_relaxed) != LIVE;
		reads++;
		kb_hp_clear(slot);
	}
	atomic_fetch_add(&s->poison_seen, poison);
	atomic_fetch_add(&s->reads, reads);
	return NULL;
}

static void stress(bool asymmetric, double seconds)
{
	struct stress s = { 0 };
	struct reader_arg args[READERS];
	pthread_t tid[READERS];
	struct timespec t0, t;
	long retired = 0;

	CHECK(kb_hp_domain_init(&s.d, READERS) == 0, "init");
	if (!asymmetric)
		s.d.asymmetric = false;
	atomic_store(&reclaims, 0);
	for (int i = 0; i < NSRC; i++)
		atomic_store(&s.src[i], obj_new());
	for (int r = 0; r < READERS; r++) {
		args[r] = (struct reader_arg){ &s, r };
		if (pthread_create(&tid[r], NULL, reader, &args[r]) != 0)
			abort();
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < NSRC; i++) {
			struct obj *old = atomic_exchange(&s.src[i], obj_new());

			kb_hp_retire(&s.d, &old->hp, old);
			retired++;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 < seconds);
	atomic_store(&s.stop, true);
	for (int r = 0; r < READERS; r++)
		pthread_join(tid[r], NULL);
	for (int i = 0; i < NSRC; i++) {
		struct obj *o = atomic_exchange(&s.src[i], NULL);

		kb_hp_retire(&s.d, &o->hp, o);
		retired++;
	}
	printf("stress (%s reader fence): %ld retired, %ld scans, %ld reads\n",
	       asymmetric && s.d.asymmetric ? "membarrier" : "mb", retired,
	       (long)atomic_load(&s.d.scans), (long)atomic_load(&s.reads));
	kb_hp_domain_destroy(&s.d);
	CHECK_EQ(atomic_load(&s.poison_seen), 0, "a reader saw a reclaimed object");
	CHECK_EQ(atomic_load(&reclaims), retired, "every retired object reclaimed exactly once");
	CHECK(atomic_load(&s.reads) > 0, "the readers read");
	CHECK(atomic_load(&s.d.scans) > 1, "the writer's retires scanned");
}

int main(void)
{
	test_protected_is_kept();
	test_threshold_scans();
	stress(true, 0.5);
	stress(false, 0.5);
	return check_summary();
}
