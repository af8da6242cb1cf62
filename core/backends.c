#include "core/backends.h"

#include <string.h>

#include "core/backend_list.h"	/* generated from core/backends.list */
#include "core/lib/cpu.h"

/* One handle type and one set of trampolines per backend. */
#define DEFINE_BACKEND(B)							\
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
KB_IF_TYPESAFE(B)(								\
static void init_typesafe_##B(void *h, void (*release)(void *h))		\
{										\
	((struct handle_##B *)h)->release = release;				\
	kref_##B##_init_release(&((struct handle_##B *)h)->ref);		\
})										\
KB_IF_PUBLISH(B)(static void publish_##B(void *h) { kref_##B##_publish(h); })	\
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
static void sync_##B(void) { kref_##B##_sync(); }				\
static size_t bytes_at_##B(unsigned int ncpus) { return kref_##B##_bytes_at(ncpus); } \
static size_t bytes_##B(void) { return kref_##B##_bytes_at((unsigned int)kb_possible_cpus()); } \
static const struct kb_backend backend_##B = {					\
	.name = #B, .model = KB_MODEL_##B, .flags = KB_FLAGS_##B,		\
	.handle_size = sizeof(struct handle_##B), .bytes_per_object = bytes_##B, \
	.bytes_at = bytes_at_##B,						\
	.init = init_##B, KB_IF_TYPESAFE(B)(.init_typesafe = init_typesafe_##B,) \
	KB_IF_PUBLISH(B)(.publish = publish_##B,)				\
	.get = get_##B, .get_unless_zero = get_unless_zero_##B, \
	.put = put_##B, .put_mutex = put_mutex_##B, .put_lock = put_lock_##B,	\
	.read = read_##B, .kill = kill_##B, .sync = sync_##B, .destroy = destroy_##B, \
};

KB_FOR_EACH_BACKEND(DEFINE_BACKEND)

#define TABLE_ENTRY(B) &backend_##B,
const struct kb_backend *const kb_backends[] = { KB_FOR_EACH_BACKEND(TABLE_ENTRY) };
const unsigned int kb_nbackends = sizeof(kb_backends) / sizeof(kb_backends[0]);
_Static_assert(sizeof(kb_backends) / sizeof(kb_backends[0]) == KB_NBACKENDS,
	       "the runtime table is core/backends.list");

const struct kb_backend *kb_backend_find(const char *name)
{
	for (unsigned int i = 0; i < kb_nbackends; i++)
		if (strcmp(kb_backends[i]->name, name) == 0)
			return kb_backends[i];
	return NULL;
}

const char *kb_backend_names(void)
{
	static char names[1024];

	if (!names[0])
		for (unsigned int i = 0; i < kb_nbackends; i++) {
			if (i)
				strcat(names, ", ");
			strcat(names, kb_backends[i]->name);
		}
	return names;
}
