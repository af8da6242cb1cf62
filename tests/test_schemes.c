/*
 * What each research scheme promises beyond the generic kref contract
 * (test_semantics), single-threaded or with threads pinned where the answer
 * is exact:
 *
 * - fileref: the zones of file_ref_t (a get into the dead or saturation zone
 *   fails and moves nothing back; NOREF -> DEAD releases; imbalanced and
 *   saturated puts restore DEAD / SATURATED and warn / stay quiet);
 * - refcache: release no earlier than two epochs at zero, never while a
 *   thread's cache still holds a reference; evictions keep the count exact;
 * - brc: the owner's get/put never touch shared; another thread's put that
 *   would go below zero is queued and released by the owner's merge (at its
 *   next put or sync) or at once when the owner has exited; a non-owner's
 *   get_unless_zero fails on a live object whose references are all the
 *   owner's (the documented limitation);
 * - snzi: a reference taken on one CPU and dropped on another; the root is
 *   zero exactly at the last put;
 * - sloppy: a get/put pair leaves the central count alone; too many spares go
 *   back; kill reconciles every CPU and releases at once when last.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "core/backends/brc.h"
#include "core/backends/fileref.h"
#include "core/backends/refcache.h"
#include "core/backends/sloppy.h"
#include "core/backends/snzi.h"

static atomic_int released;

/* ---- fileref ---- */

static void fileref_release(struct kref_fileref *r) { (void)r; atomic_fetch_add(&released, 1); }

static void test_fileref(void)
{
	struct kref_fileref r;
	unsigned long imbalanced = file_ref_warnings(FILE_REF_WARN_IMBALANCED_PUT);
	bool ok;

	atomic_store(&released, 0);
	CHECK_EQ(kref_fileref_init(&r), 0, "fileref: init");
	CHECK_EQ(atomic_load(&r.ref.refcnt), (long)FILE_REF_ONEREF, "fileref: one reference is 0");
	ok = kref_fileref_get_unless_zero(&r);
	CHECK(ok, "fileref: get on a live ref");
	CHECK_EQ(kref_fileref_put(&r, fileref_release), 0, "fileref: put 2 -> 1");
	CHECK_EQ(kref_fileref_put(&r, fileref_release), 1, "fileref: put 1 -> NOREF -> DEAD releases");
	CHECK_EQ((unsigned long)atomic_load(&r.ref.refcnt), FILE_REF_DEAD, "fileref: parked on DEAD");
	ok = kref_fileref_get_unless_zero(&r);
	CHECK(!ok, "fileref: get on a dead ref fails");
	CHECK_EQ((unsigned long)atomic_load(&r.ref.refcnt), FILE_REF_DEAD + 1,
		 "fileref: the failed get stays in the dead zone (file_ref_get does not restore)");
	CHECK_EQ(kref_fileref_read(&r), 0, "fileref: read 0 in the dead zone");
	CHECK_EQ(kref_fileref_put(&r, fileref_release), 0, "fileref: imbalanced put does not release");
	CHECK_EQ((unsigned long)atomic_load(&r.ref.refcnt), FILE_REF_DEAD, "fileref: imbalanced put restores DEAD");
	CHECK_EQ(file_ref_warnings(FILE_REF_WARN_IMBALANCED_PUT) - imbalanced, 1, "fileref: imbalanced put warned");
	CHECK_EQ(atomic_load(&released), 1, "fileref: one release");

	/* At MAXREF a get lands in the saturation zone, which is negative: fails. */
	atomic_store(&r.ref.refcnt, (long)FILE_REF_MAXREF);
	ok = kref_fileref_get_unless_zero(&r);
	CHECK(!ok, "fileref: a get past MAXREF fails (saturation zone)");
	atomic_store(&r.ref.refcnt, (long)(FILE_REF_SATURATED + 5));
	CHECK_EQ(kref_fileref_put(&r, fileref_release), 0, "fileref: a put in the saturation zone never releases");
	CHECK_EQ((unsigned long)atomic_load(&r.ref.refcnt), FILE_REF_SATURATED, "fileref: ... and restores SATURATED");
	CHECK_EQ(atomic_load(&released), 1, "fileref: still one release");
	printf("  fileref: zones (NOREF->DEAD, dead-zone gets fail, imbalanced puts, saturation)\n");
}

/* ---- refcache ---- */

static atomic_ulong rc_epochs_at_release;
static void refcache_release(struct kref_refcache *r)
{
	(void)r;
	atomic_store(&rc_epochs_at_release, kb_refcache_epochs());
	atomic_fetch_add(&released, 1);
}

static struct kref_refcache rc_obj;
static pthread_barrier_t rc_barrier;

static void *refcache_holder(void *arg)
{
	(void)arg;
	kref_refcache_get(&rc_obj);		/* +1 in this thread's cache */
	pthread_barrier_wait(&rc_barrier);	/* main drops the initial reference */
	pthread_barrier_wait(&rc_barrier);	/* main runs epochs */
	if (kref_refcache_put(&rc_obj, refcache_release))
		atomic_fetch_add(&released, 100);	/* a put never releases: shows as a wrong count */
	pthread_barrier_wait(&rc_barrier);
	return NULL;
}

static void test_refcache(void)
{
	struct kref_refcache many[3 * REFCACHE_WAYS];
	pthread_t t;

	kb_refcache_sync();	/* nothing pending from elsewhere */
	atomic_store(&released, 0);
	CHECK_EQ(kref_refcache_init(&rc_obj), 0, "refcache: init");
	/* The background epoch thread runs too: count epochs, do not assume. */
	unsigned long e0;

	e0 = kb_refcache_epochs();	/* before the put: epochs after it are no more */
	CHECK_EQ(kref_refcache_put(&rc_obj, refcache_release), 0, "refcache: the last put returns 0");
	kb_refcache_sync();
	CHECK_EQ(atomic_load(&released), 1, "refcache: released by the epochs after the last put");
	CHECK(atomic_load(&rc_epochs_at_release) - e0 >= 2,
	      "refcache: released no earlier than the second epoch after the last put (%lu)",
	      atomic_load(&rc_epochs_at_release) - e0);
	kb_refcache_sync();
	CHECK_EQ(atomic_load(&released), 1, "refcache: exactly once");

	/* Global zero while another thread's cache holds a reference. */
	atomic_store(&released, 0);
	CHECK_EQ(kref_refcache_init(&rc_obj), 0, "refcache: init");
	pthread_barrier_init(&rc_barrier, NULL, 2);
	pthread_create(&t, NULL, refcache_holder, NULL);
	pthread_barrier_wait(&rc_barrier);
	CHECK_EQ(kref_refcache_put(&rc_obj, refcache_release), 0, "refcache: drop the initial reference");
	kb_refcache_sync();
	CHECK_EQ(atomic_load(&released), 0, "refcache: no release while a thread holds a reference");
	CHECK_EQ(kref_refcache_read(&rc_obj), 1, "refcache: read sees the holder's reference");
	pthread_barrier_wait(&rc_barrier);
	pthread_barrier_wait(&rc_barrier);	/* the holder has put */
	kb_refcache_sync();
	CHECK_EQ(atomic_load(&released), 1, "refcache: released once the holder put, after epochs");
	pthread_join(t, NULL);
	pthread_barrier_destroy(&rc_barrier);

	/* More objects than cache entries: evictions apply deltas exactly. */
	atomic_store(&released, 0);
	for (unsigned int i = 0; i < 3 * REFCACHE_WAYS; i++) {
		CHECK(kref_refcache_init(&many[i]) == 0, "refcache: init many");
		kref_refcache_get(&many[i]);
		kref_refcache_get(&many[i]);
	}
	for (unsigned int i = 0; i < 3 * REFCACHE_WAYS; i++)
		if (kref_refcache_read(&many[i]) != 3)
			CHECK(0, "refcache: object %u reads %ld after evictions, want 3", i,
			      kref_refcache_read(&many[i]));
	for (unsigned int i = 0; i < 3 * REFCACHE_WAYS; i++)
		for (int k = 0; k < 3; k++)
			if (kref_refcache_put(&many[i], refcache_release))
				CHECK(0, "refcache: a put returned 1");
	kb_refcache_sync();
	CHECK_EQ(atomic_load(&released), 3 * REFCACHE_WAYS, "refcache: every evicted object released once");
	for (unsigned int i = 0; i < 3 * REFCACHE_WAYS; i++)
		kref_refcache_destroy(&many[i]);
	printf("  refcache: two epochs at zero; never while a cache holds a reference; evictions exact\n");
}

/* ---- brc ---- */

static void brc_release(struct kref_brc *r) { (void)r; atomic_fetch_add(&released, 1); }

static struct kref_brc brc_obj;
static atomic_int brc_step;

static atomic_int brc_other_failures;	/* checked by main: CHECK is not thread-safe */

static void *brc_other(void *arg)
{
	(void)arg;
	/* Every reference is the owner's: the conservative get_unless_zero fails. */
	if (kref_brc_get_unless_zero(&brc_obj))
		atomic_fetch_add(&brc_other_failures, 1);
	kref_brc_get(&brc_obj);			/* main holds one: legal */
	atomic_store(&brc_step, 1);
	while (atomic_load(&brc_step) != 2)
		sched_yield();
	/* Two puts: ours, then the one main handed over: the second finds
	 * shared at 0 and queues the object for its owner. */
	if (kref_brc_put(&brc_obj, brc_release) != 0)
		atomic_fetch_add(&brc_other_failures, 10);
	if (kref_brc_put(&brc_obj, brc_release) != 0)
		atomic_fetch_add(&brc_other_failures, 100);
	return NULL;
}

static struct kref_brc *orphan;
static void *brc_creator(void *arg)
{
	(void)arg;
	orphan = malloc(sizeof(*orphan));
	if (orphan)
		kref_brc_init(orphan);	/* this thread owns it, and exits */
	return NULL;
}

static void test_brc(void)
{
	pthread_t t;

	atomic_store(&released, 0);
	CHECK_EQ(kref_brc_init(&brc_obj), 0, "brc: init");
	kref_brc_get(&brc_obj);
	kref_brc_get(&brc_obj);
	CHECK_EQ(atomic_load(&brc_obj.shared), 0, "brc: the owner's gets leave shared alone");
	CHECK_EQ(atomic_load(&brc_obj.local), 3, "brc: ... and count in local");
	pthread_create(&t, NULL, brc_other, NULL);
	while (atomic_load(&brc_step) != 1)
		sched_yield();
	CHECK_EQ(atomic_load(&brc_obj.shared), BRC_ONE, "brc: a non-owner's get counts in shared");
	/* main gives one of its references to the other thread (no get). */
	atomic_store(&brc_step, 2);
	pthread_join(t, NULL);
	CHECK_EQ(atomic_load(&brc_other_failures), 0,
		 "brc: other thread: get_unless_zero failed while all references were the owner's (1), "
		 "its puts returned 0 (10, 100)");
	CHECK_EQ(atomic_load(&brc_obj.shared), BRC_QUEUED, "brc: queued, count 0");
	CHECK(kb_brc_pending(kb_brc_self()), "brc: the owner has a queue to merge");
	CHECK_EQ(kref_brc_read(&brc_obj), 3, "brc: read 3 = local 3 + 0 (the queue holds one)");
	CHECK_EQ(kref_brc_put(&brc_obj, brc_release), 0, "brc: the owner's put merges the queue first");
	CHECK(atomic_load(&brc_obj.owner) == NULL, "brc: merged: no owner any more");
	CHECK_EQ(kref_brc_read(&brc_obj), 1, "brc: one reference left after the merge");
	CHECK_EQ(atomic_load(&released), 0, "brc: no release yet");
	CHECK_EQ(kref_brc_put(&brc_obj, brc_release), 1, "brc: the last put on a merged object releases");
	CHECK_EQ(atomic_load(&released), 1, "brc: one release");

	/* The owner has exited: the non-owner's put merges at once. */
	atomic_store(&released, 0);
	pthread_create(&t, NULL, brc_creator, NULL);
	pthread_join(t, NULL);
	CHECK(orphan != NULL, "brc: the creator made an object");
	if (orphan) {
		CHECK_EQ(kref_brc_put(orphan, brc_release), 1,
			 "brc: owner gone: the put merges at once and says it released");
		CHECK_EQ(atomic_load(&released), 1, "brc: owner gone: the last put merges and releases at once");
		free(orphan);
	}
	printf("  brc: owner counts locally, non-owner below zero queues, owner merges; owner exit\n");
}

/* ---- snzi ---- */

static void snzi_release(struct kref_snzi *r) { (void)r; atomic_fetch_add(&released, 1); }

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void test_snzi(void)
{
	struct kref_snzi r;
	cpu_set_t mask;
	int cpus[2], n = 0;

	sched_getaffinity(0, sizeof(mask), &mask);
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &mask))
			cpus[n++] = c;
	atomic_store(&released, 0);
	CHECK_EQ(kref_snzi_init(&r), 0, "snzi: init");
	CHECK_EQ(atomic_load(&r.root), SNZI_DIRECT, "snzi: the initial reference is at the root");
	CHECK_EQ(pin(cpus[0]), 0, "snzi: pin to the first CPU");
	for (int i = 0; i < 3; i++)
		kref_snzi_get(&r);
	CHECK_EQ(atomic_load(kb_snzi_leaf(&r, (unsigned int)cpus[0])), 3, "snzi: three on this CPU's leaf");
	CHECK_EQ(atomic_load(&r.root), SNZI_DIRECT + 1, "snzi: the leaf announced itself once");
	if (n == 2) {
		CHECK_EQ(pin(cpus[1]), 0, "snzi: pin to the second CPU");
		printf("  snzi: gets on CPU %d, puts on CPU %d\n", cpus[0], cpus[1]);
	} else {
		printf("  snzi: one CPU allowed: gets and puts on CPU %d (the scan is not exercised)\n", cpus[0]);
	}
	for (int i = 0; i < 3; i++)
		CHECK_EQ(kref_snzi_put(&r, snzi_release), 0, "snzi: a put with references left");
	CHECK_EQ(atomic_load(&r.root), SNZI_DIRECT, "snzi: the leaf went back to 0 and departed");
	CHECK_EQ(kref_snzi_read(&r), 1, "snzi: one reference left");
	CHECK_EQ(atomic_load(&released), 0, "snzi: no release yet");
	CHECK_EQ(kref_snzi_put(&r, snzi_release), 1, "snzi: the last put takes the root to zero and releases");
	CHECK_EQ(atomic_load(&released), 1, "snzi: one release");
	CHECK(!kref_snzi_get_unless_zero(&r), "snzi: get_unless_zero at zero fails");
	kref_snzi_destroy(&r);
	sched_setaffinity(0, sizeof(mask), &mask);
}

/* ---- sloppy ---- */

static void sloppy_release(struct kref_sloppy *r) { (void)r; atomic_fetch_add(&released, 1); }

static void test_sloppy(void)
{
	struct kref_sloppy r;
	cpu_set_t mask;
	int cpu = -1;

	sched_getaffinity(0, sizeof(mask), &mask);
	for (int c = 0; c < CPU_SETSIZE && cpu < 0; c++)
		if (CPU_ISSET(c, &mask))
			cpu = c;
	CHECK_EQ(pin(cpu), 0, "sloppy: pin");
	atomic_store(&released, 0);
	CHECK_EQ(kref_sloppy_init(&r), 0, "sloppy: init");
	kref_sloppy_get(&r);			/* no spare yet: central 2 */
	CHECK_EQ(kref_sloppy_put(&r, sloppy_release), 0, "sloppy: put becomes a spare");
	CHECK_EQ(atomic_load(&r.central), 2, "sloppy: central counts the spare");
	for (int i = 0; i < 1000; i++) {	/* now every pair stays on this CPU */
		kref_sloppy_get(&r);
		if (kref_sloppy_put(&r, sloppy_release))
			CHECK(0, "sloppy: a put released");
	}
	CHECK_EQ(atomic_load(&r.central), 2, "sloppy: 1000 get/put pairs never touched the central count");
	CHECK_EQ(kref_sloppy_read(&r), 1, "sloppy: read = central - spares");
	for (int i = 0; i < SLOPPY_MAX + 5; i++)
		kref_sloppy_get(&r);
	for (int i = 0; i < SLOPPY_MAX + 5; i++)
		if (kref_sloppy_put(&r, sloppy_release))
			CHECK(0, "sloppy: a put released");
	CHECK(atomic_load(kb_sloppy_slot(&r)) <= SLOPPY_MAX, "sloppy: spares above the maximum went back");
	CHECK_EQ(kref_sloppy_read(&r), 1, "sloppy: still one reference");
	kref_sloppy_get(&r);
	CHECK_EQ(kref_sloppy_kill(&r, sloppy_release), 0, "sloppy: kill with a reference left");
	CHECK_EQ(atomic_load(kb_sloppy_slot(&r)), SLOPPY_DEAD, "sloppy: kill reconciled this CPU");
	CHECK_EQ(atomic_load(&r.central), 1, "sloppy: central exact after reconciling");
	CHECK_EQ(kref_sloppy_put(&r, sloppy_release), 1, "sloppy: the last put after kill releases");
	CHECK(!kref_sloppy_get_unless_zero(&r), "sloppy: get_unless_zero at zero fails");
	CHECK_EQ(atomic_load(&released), 1, "sloppy: one release");
	kref_sloppy_destroy(&r);
	sched_setaffinity(0, sizeof(mask), &mask);
	printf("  sloppy: pairs stay on the CPU's spares; excess returns; kill reconciles\n");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("scheme-specific guarantees\n");
	test_fileref();
	test_refcache();
	test_brc();
	test_snzi();
	test_sloppy();
	return check_summary();
}
