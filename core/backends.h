/*
 * The runtime table of backends, for tests and the command line. Hot loops
 * never go through it: they are instantiated per backend from the inline
 * headers. Here every operation is an indirect call on a *handle*: the
 * backend's struct followed by the release callback it was initialised with,
 * so release can be called from any thread (percpu releases from an RCU
 * callback).
 */
#ifndef KREFBENCH_CORE_BACKENDS_H
#define KREFBENCH_CORE_BACKENDS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/backend_attrs.h"	/* the KB_* flags */

struct kb_backend {
	const char *name;
	const char *model;
	unsigned int flags;
	size_t handle_size;			/* bytes to allocate for a handle */
	size_t (*bytes_per_object)(void);	/* what one object costs the backend, here */
	size_t (*bytes_at)(unsigned int ncpus);	/* ... on a machine with ncpus CPUs */
	int (*init)(void *h, void (*release)(void *h));
	/* init for memory reused at once from a type-stable cache, where
	 * readers may still try get_unless_zero: NULL unless KB_TYPESAFE_<name>. */
	void (*init_typesafe)(void *h, void (*release)(void *h));
	/* published for lookup (get_unless_zero from threads that hold no
	 * reference): NULL unless KB_PUBLISH_<name>, when nothing is needed. */
	void (*publish)(void *h);
	void (*get)(void *h);
	bool (*get_unless_zero)(void *h);
	int (*put)(void *h);
	int (*put_mutex)(void *h, pthread_mutex_t *lock);
	int (*put_lock)(void *h, pthread_spinlock_t *lock);
	long (*read)(void *h);
	int (*kill)(void *h);
	void (*sync)(void);			/* wait for deferred releases */
	void (*destroy)(void *h);
};

/* In the order of core/backends.list. */
extern const struct kb_backend *const kb_backends[];
extern const unsigned int kb_nbackends;

const struct kb_backend *kb_backend_find(const char *name);
/* "atomic, refcount, ..." for error messages. */
const char *kb_backend_names(void);

#endif
