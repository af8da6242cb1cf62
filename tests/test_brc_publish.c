/*
 * brc's get_unless_zero on objects published for lookup (core/backends/brc.h), each
 * step run by the thread it names, in a fixed order.
 *
 * Unmarked, a non-owner's get_unless_zero fails on a live object counted
 * only by its owner (shared 0), as CPython's _Py_TryIncRefShared does for
 * objects without _Py_REF_MAYBE_WEAKREF. Marked (kref_brc_mark_shared, what
 * a lookup structure does through kref_brc_publish), it succeeds while the
 * object is live, and still fails once it is released; the owner's put that
 * takes local to 0 does not release an object a non-owner got first.
 */
#include "core/backends/brc.h"

#include <pthread.h>

#include "check.h"

static int releases;
static struct kref_brc *target;

static void release(struct kref_brc *r)
{
	(void)r;
	releases++;
}

struct job {
	int (*fn)(struct kref_brc *);
	int ret;
};

static void *run_job(void *arg)
{
	struct job *j = arg;

	j->ret = j->fn(target);
	return NULL;
}

/* Runs fn(target) on another thread (a non-owner) and returns its result. */
static int on_other_thread(int (*fn)(struct kref_brc *))
{
	struct job job = { fn, -1 };
	pthread_t t;

	if (pthread_create(&t, NULL, run_job, &job) != 0 || pthread_join(t, NULL) != 0) {
		CHECK(0, "the other thread ran");
		exit(1);
	}
	return job.ret;
}

static int try_get(struct kref_brc *r) { return kref_brc_get_unless_zero(r); }
static int put(struct kref_brc *r) { return kref_brc_put(r, release); }
static int is_mine(struct kref_brc *r) { return kb_brc_is_mine(r); }

static void unmarked_fails_live(void)
{
	struct kref_brc r;

	releases = 0;
	kref_brc_init(&r);
	target = &r;
	CHECK(!on_other_thread(is_mine), "the object is the main thread's, not the other's");
	CHECK(!on_other_thread(try_get), "unmarked: a non-owner's get_unless_zero fails on a live object (CPython's)");
	CHECK_EQ(kref_brc_read(&r), 1, "unmarked: count untouched");
	CHECK_EQ(put(&r), 1, "unmarked: the owner's put releases");
	CHECK_EQ(releases, 1, "unmarked: released once");
}

static void marked_succeeds_live(void)
{
	struct kref_brc r;

	releases = 0;
	kref_brc_init(&r);
	target = &r;
	kref_brc_mark_shared(&r);
	CHECK(on_other_thread(try_get), "marked: a non-owner's get_unless_zero succeeds while the owner holds it");
	CHECK_EQ(kref_brc_read(&r), 2, "marked: counted");
	CHECK_EQ(releases, 0, "marked: not released while the other thread holds it");
	if (put(&r)) {		/* released under the get: the rest would be use after free */
		CHECK(0, "marked: the owner's put is not the last");
		return;
	}
	CHECK(on_other_thread(try_get), "marked: and again, after the owner merged (count 1)");
	CHECK_EQ(on_other_thread(put), 0, "marked: the other thread's first put");
	CHECK_EQ(on_other_thread(put), 1, "marked: the other thread's last put releases");
	CHECK_EQ(releases, 1, "marked: released once");
	CHECK(!on_other_thread(try_get), "marked: get_unless_zero fails once released");
	CHECK(!try_get(&r), "marked: the owner's too");
	CHECK_EQ(releases, 1, "marked: still released once");
}

/* The owner's put is decided at its merge CAS: a get_unless_zero between
 * its local store of 0 and kb_brc_merge_zero is counted there. */
static void marked_get_before_owner_merge(void)
{
	struct kref_brc r;

	releases = 0;
	kref_brc_init(&r);
	target = &r;
	kref_brc_mark_shared(&r);
	kb_brc_set_local(&r, 0);		/* the owner's put, first half */
	CHECK(on_other_thread(try_get), "between the owner's local 0 and its merge, a marked object's get succeeds");
	if (kb_brc_merge_zero(&r, release)) {
		CHECK(0, "the owner's merge then does not release (it did, while the other thread holds it)");
		return;
	}
	CHECK_EQ(releases, 0, "not released while the other thread holds it");
	CHECK_EQ(on_other_thread(put), 1, "the other thread's put releases");
	CHECK_EQ(releases, 1, "released once");
}

/* A non-owner's put that finds count 0 on a marked object queues it to
 * the owner (as an unmarked one): the mark does not make it decrement. */
static void marked_put_by_other_queues(void)
{
	struct kref_brc r;

	releases = 0;
	kref_brc_init(&r);
	target = &r;
	kref_brc_mark_shared(&r);
	kref_brc_get(&r);			/* owner: local 2, then handed to the other thread */
	CHECK_EQ(on_other_thread(put), 0, "the other thread's put of a local reference queues");
	CHECK(atomic_load(&r.shared) & BRC_QUEUED, "queued to the owner");
	CHECK(on_other_thread(try_get), "a queued object is still found");
	CHECK_EQ(on_other_thread(put), 0, "and put");
	CHECK_EQ(put(&r), 1, "the owner's last put merges the queue and releases");
	CHECK_EQ(releases, 1, "released once");
}

int main(void)
{
	unmarked_fails_live();
	marked_succeeds_live();
	marked_get_before_owner_merge();
	marked_put_by_other_queues();
	return check_summary();
}
