#include "core/backends.h"

#include <string.h>

#include "core/atomic.h"
#include "core/mutex.h"
#include "core/null.h"
#include "core/percpu.h"
#include "core/rcuref.h"
#include "core/refcount.h"
#include "core/urcu_ref.h"

static void no_sync(void) {}

#define SIZEOF_BYTES(B) static size_t bytes_##B(void) { return sizeof(struct kref_##B); }

/* One handle type and one set of trampolines per backend. */
#define DEFINE_BACKEND(B, MODEL, FLAGS, BYTES, SYNC)				\
struct handle_##B {								\
	struct kref_##B ref;							\
	void (*release)(void *h);						\
};										\
static void release_##B(struct kref_##B *r)					\
{										\
	struct handle_##B *h = kb_container_of(r, struct handle_##B, ref);	\
	h->release(h);								\
}										\
static int init_##B(void *h, void (*release)(void *h))				\
{										\
	((struct handle_##B *)h)->release = release;				\
	return kref_##B##_init(&((struct handle_##B *)h)->ref);			\
}										\
static void get_##B(void *h) { kref_##B##_get(h); }				\
static bool get_unless_zero_##B(void *h) { return kref_##B##_get_unless_zero(h); } \
static int put_##B(void *h) { return kref_##B##_put(h, release_##B); }		\
static int put_mutex_##B(void *h, pthread_mutex_t *l)				\
{										\
	return kref_##B##_put_mutex(h, release_##B, l);				\
}										\
static int put_lock_##B(void *h, pthread_spinlock_t *l)			\
{										\
	return kref_##B##_put_lock(h, release_##B, l);				\
}										\
static long read_##B(void *h) { return kref_##B##_read(h); }			\
static int kill_##B(void *h) { return kref_##B##_kill(h, release_##B); }	\
static void destroy_##B(void *h) { kref_##B##_destroy(h); }			\
static const struct kb_backend backend_##B = {					\
	.name = #B, .model = MODEL, .flags = FLAGS,				\
	.handle_size = sizeof(struct handle_##B), .bytes_per_object = BYTES,	\
	.init = init_##B, .get = get_##B, .get_unless_zero = get_unless_zero_##B, \
	.put = put_##B, .put_mutex = put_mutex_##B, .put_lock = put_lock_##B,	\
	.read = read_##B, .kill = kill_##B, .sync = SYNC, .destroy = destroy_##B, \
};

SIZEOF_BYTES(atomic)
SIZEOF_BYTES(refcount)
SIZEOF_BYTES(mutex)
SIZEOF_BYTES(null)
SIZEOF_BYTES(rcuref)
static size_t bytes_urcu_ref(void) { return sizeof(struct urcu_ref); }

DEFINE_BACKEND(atomic, "one atomic int; relaxed get, release put + acquire at zero",
	       KB_COUNTS, bytes_atomic, no_sync)
DEFINE_BACKEND(refcount, "Linux refcount_t: saturating fetch_add/fetch_sub, cmpxchg inc_not_zero",
	       KB_COUNTS, bytes_refcount, no_sync)
DEFINE_BACKEND(percpu, "percpu_ref: per-CPU slots in an arena (rseq add), atomic after kill",
	       KB_COUNTS | KB_DEFERRED_RELEASE, kb_percpu_bytes_per_object, kref_percpu_barrier)
DEFINE_BACKEND(mutex, "pthread mutex around an int", KB_COUNTS, bytes_mutex, no_sync)
DEFINE_BACKEND(null, "no-op: the harness floor", 0, bytes_null, no_sync)
DEFINE_BACKEND(urcu_ref, "liburcu urcu/ref.h: cmpxchg-loop get, sub_return put",
	       KB_COUNTS, bytes_urcu_ref, no_sync)
DEFINE_BACKEND(rcuref, "Linux rcuref_t: one fetch_add get (no cmpxchg), zones, put under RCU",
	       KB_COUNTS, bytes_rcuref, no_sync)
DEFINE_BACKEND(percpu_atomic, "percpu_ref with an atomic slot add under the RCU read lock",
	       KB_COUNTS | KB_DEFERRED_RELEASE, kb_percpu_bytes_per_object, kref_percpu_barrier)

const struct kb_backend *const kb_backends[] = {
	&backend_atomic, &backend_refcount, &backend_percpu,
	&backend_mutex, &backend_null, &backend_urcu_ref,
	&backend_rcuref, &backend_percpu_atomic,
};
const unsigned int kb_nbackends = sizeof(kb_backends) / sizeof(kb_backends[0]);

const struct kb_backend *kb_backend_find(const char *name)
{
	for (unsigned int i = 0; i < kb_nbackends; i++)
		if (strcmp(kb_backends[i]->name, name) == 0)
			return kb_backends[i];
	return NULL;
}

const char *kb_backend_names(void)
{
	static char names[256];

	if (!names[0])
		for (unsigned int i = 0; i < kb_nbackends; i++) {
			if (i)
				strcat(names, ", ");
			strcat(names, kb_backends[i]->name);
		}
	return names;
}
