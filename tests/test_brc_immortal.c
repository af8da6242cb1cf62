/*
 * brc's count at the top of its type (core/backends/brc.h, BRC_IMMORTAL):
 * as CPython's _Py_IMMORTAL_REFCNT_LOCAL, an object whose owner's local
 * count reaches UINT_MAX is immortal: every later get, put and
 * get_unless_zero, by the owner or by another thread, leaves the counts as
 * they are and never releases it (before, local wrapped to 0 and the object
 * looked dead with references held).
 */
#include "core/backends/brc.h"

#include <pthread.h>

#include "check.h"

static int releases;

static void release(struct kref_brc *r)
{
	(void)r;
	releases++;
}

static void *other_thread(void *arg)
{
	struct kref_brc *r = arg;
	int released = 0;

	for (int i = 0; i < 1000; i++) {
		kref_brc_get(r);
		released += kref_brc_put(r, release);
		released += kref_brc_put(r, release);
	}
	CHECK(kref_brc_get_unless_zero(r), "another thread's get_unless_zero succeeds on an immortal object");
	CHECK(!released && atomic_load(&r->shared) == 0, "another thread's gets and puts leave shared alone, no "
	      "release (shared %ld)", atomic_load(&r->shared));
	return NULL;
}

int main(void)
{
	struct kref_brc r;
	pthread_t t;
	int released = 0;

	CHECK(kref_brc_init(&r) == 0, "init");
	kb_brc_set_local(&r, UINT_MAX - 2);
	kref_brc_get(&r);
	CHECK(kb_brc_local(&r) == UINT_MAX - 1 && !kb_brc_immortal(&r), "one short of the top: still counted");
	kref_brc_get(&r);
	CHECK(kb_brc_immortal(&r), "the get that reaches UINT_MAX makes it immortal");
	kref_brc_get(&r);
	CHECK(kb_brc_local(&r) == UINT_MAX, "a get past the top does not wrap (local %u)", kb_brc_local(&r));
	for (int i = 0; i < 10; i++)
		released += kref_brc_put(&r, release);
	CHECK(!released && kb_brc_local(&r) == UINT_MAX && kb_brc_is_mine(&r),
	      "the owner's puts do nothing: no release, no merge");
	CHECK(kref_brc_get_unless_zero(&r) && kb_brc_local(&r) == UINT_MAX, "get_unless_zero succeeds, counts nothing");
	CHECK(pthread_create(&t, NULL, other_thread, &r) == 0 && pthread_join(t, NULL) == 0, "the other thread ran");
	CHECK(releases == 0, "never released (%d)", releases);
	return check_summary();
}
