/*
 * snzi's arrive on weak memory, as a forced schedule.
 *
 * The bad interleaving (core/backends/snzi.h, "Ordering"): a get announces at the
 * root (snzi_arrive_root, +1) and then makes its leaf non-zero
 * (snzi_arrive_leaf, 0 -> 1); another thread's put sees the leaf's 1,
 * departs it (snzi_depart_leaf, 1 -> 0) and takes the root down
 * (snzi_depart_root) before the +1 is visible to it: the root reaches zero
 * and the object is released while the get's reference is held.
 *
 * Why not a litmus loop: the arm64 build runs under qemu-user (TCG) on an
 * x86 host, whose stores are not reordered with one another (TSO), so the
 * late +1 cannot be provoked there, and on x86 not at all; a loop that
 * waits for it would pass whatever the orders. Instead the test models the
 * visibility, deterministically, from the orders the code itself passes at
 * each step (the hooks of KB_SNZI_TEST_HOOKS):
 * - the get's root +1 is held back (it is in the getting thread's store
 *   buffer, as it may be on arm64);
 * - if snzi_arrive_leaf's CAS is a release, the +1 travels with the leaf's
 *   new value; a depart whose leaf CAS reads it and is an acquire makes it
 *   visible (applies it to the root) before its own root decrement;
 * - anything held back becomes visible once the racing put is over.
 * The racing put runs in another thread exactly between snzi_arrive_leaf
 * and the get's return. With relaxed orders (today's main) the put takes
 * the root to zero and releases while the get's reference is held; with a
 * release on the arrive and an acquire on the depart it cannot.
 */
#define KB_SNZI_TEST_HOOKS
#include "core/backends/snzi.h"

#include <pthread.h>

#include "check.h"

static struct kref_snzi obj;
static int releases;		/* release() calls */
static int released_while_held;	/* release() calls while the get's reference was held */
static bool holding;		/* the get under test holds its reference */

/* The model; read and written by the getting thread, and by the racing
 * thread only while the getting thread waits for it in pthread_join. */
static bool modelling;		/* the forced schedule is on */
static long held_back;		/* the get's root +1, not yet visible to others */
static long carried;		/* ... travelling with a release of `carried_by` */
static atomic_long *carried_by;
static atomic_long *arrive_leaf;	/* the get's leaf */

static bool releases_order(memory_order o)
{
	return o == memory_order_release || o == memory_order_acq_rel || o == memory_order_seq_cst;
}

static bool acquires_order(memory_order o)
{
	return o == memory_order_acquire || o == memory_order_acq_rel || o == memory_order_seq_cst;
}

static void make_visible(long *n)
{
	if (*n)
		atomic_fetch_add_explicit(&obj.root, *n, memory_order_relaxed);
	*n = 0;
}

static void release(struct kref_snzi *r)
{
	(void)r;
	releases++;
	if (holding)
		released_while_held++;
}

/* The racing put: a thread on the get's CPU that holds one reference
 * (counted at another leaf: it was handed over) departs its own CPU's leaf
 * first, as kref_snzi_put does. */
static void *racing_put(void *arg)
{
	bool last = false;

	(void)arg;
	if (kb_snzi_depart(&obj, arrive_leaf, &last) && last)
		release(&obj);
	return NULL;
}

bool kb_snzi_test_arrive_root(struct kref_snzi *r, atomic_long *leaf)
{
	unsigned int mine, other;

	if (!modelling)
		return false;
	/* The state the race needs, set while no one else runs: the racing
	 * thread's reference (the initial one, in the root's direct half) is
	 * counted at a leaf other than the get's, announced at the root. */
	mine = (unsigned int)(((char *)leaf - (char *)r->leaves) / r->stride);
	other = (mine + 1) % r->ncpus;
	atomic_store_explicit(kb_snzi_leaf(r, other), 1, memory_order_relaxed);
	atomic_store_explicit(&r->root, 1, memory_order_relaxed);
	arrive_leaf = leaf;
	held_back += 1;
	return true;
}

void kb_snzi_test_arrive_leaf(struct kref_snzi *r, atomic_long *leaf, memory_order order, bool won)
{
	pthread_t racer;

	(void)r;
	if (!modelling)
		return;
	CHECK(won, "the get's leaf was empty and no one else arrives: its CAS 0 -> 1 wins");
	if (!won) {
		make_visible(&held_back);
		return;
	}
	if (releases_order(order)) {
		carried += held_back;
		held_back = 0;
		carried_by = leaf;
	}
	holding = true;
	if (pthread_create(&racer, NULL, racing_put, NULL) != 0 || pthread_join(racer, NULL) != 0) {
		CHECK(0, "the racing thread ran");
		exit(1);
	}
	make_visible(&carried);
	make_visible(&held_back);
	modelling = false;
}

void kb_snzi_test_depart_leaf(struct kref_snzi *r, atomic_long *leaf, memory_order order)
{
	(void)r;
	if (modelling && leaf == carried_by && acquires_order(order))
		make_visible(&carried);
}

int main(void)
{
	long root;

	if (kref_snzi_init(&obj) != 0) {
		CHECK(0, "kref_snzi_init");
		return check_summary();
	}
	printf("snzi: %u leaves\n", obj.ncpus);
	if (obj.ncpus < 2) {
		/* One leaf: a put can only depart the leaf its get arrived at. */
		printf("SKIP: the race needs two leaves (one CPU)\n");
		kref_snzi_destroy(&obj);
		return 77;
	}
	CHECK(releases_order(SNZI_ARRIVE_LEAF_ORDER), "snzi_arrive_leaf's CAS is a release");
	CHECK(acquires_order(SNZI_DEPART_LEAF_ORDER), "snzi_depart_leaf's CAS is an acquire");

	modelling = true;
	kref_snzi_get(&obj);	/* the racing put runs inside, after snzi_arrive_leaf */
	CHECK(!modelling, "the forced schedule ran (the get took the arrive path)");
	CHECK_EQ(released_while_held, 0, "releases while the get's reference was held");
	root = atomic_load_explicit(&obj.root, memory_order_relaxed);
	CHECK_EQ(root, 1, "root after the race: one leaf announced (the racer's, now the get's)");
	CHECK_EQ(kref_snzi_read(&obj), 1, "one reference left: the get's");

	holding = false;
	CHECK_EQ(kref_snzi_put(&obj, release), 1, "the get's put is the last");
	CHECK_EQ(releases, 1, "released exactly once");
	CHECK_EQ(atomic_load_explicit(&obj.root, memory_order_relaxed), 0, "root at the end");
	kref_snzi_destroy(&obj);
	return check_summary();
}
