/*
 * The examples of Documentation/core-api/kref.rst, compiled unchanged against
 * core/kref.h (the build sets -DKREF_BACKEND=<backend>) and run:
 *
 *   1. the kthread hand-off (my_data_handler / more_data_handling /
 *      data_release), many times, including kthread_run's -ENOMEM path;
 *   2. the locked list of rule 3, four ways: the doc's kref_put under the
 *      mutex, the same with kref_put_mutex, the kref_put return-value variant
 *      that unlinks and frees by hand, and the kref_get_unless_zero variant
 *      whose release takes the mutex itself.
 *
 * Every release is counted per object (exactly one each), and every kmalloc
 * is matched by a kfree. `null` is not a counter: there the examples are
 * compiled but not run; only "null never releases" is checked.
 *
 * Layout: the kernel-compatibility layer, then the examples as close to the
 * doc's text as C allows, then the driver. The only additions to the
 * examples are marked "krefbench:" -- a release counter in each release
 * function, kref_destroy() before each kfree() (the per-CPU backend
 * allocates), and a check of kref_init()'s result (it can fail here).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/kref.h"

/* ======================================================================
 * Kernel compatibility layer
 * ====================================================================== */

typedef unsigned int gfp_t;
#define GFP_KERNEL	((gfp_t)0xcc0u)

static atomic_long kmalloc_count, kfree_count;
static atomic_int kmalloc_fail_next;	/* test knob: fail the next n kmallocs */

static void *kmalloc(size_t size, gfp_t flags)
{
	void *p;

	(void)flags;
	if (atomic_load(&kmalloc_fail_next) > 0 && atomic_fetch_sub(&kmalloc_fail_next, 1) > 0)
		return NULL;
	p = malloc(size);
	if (p)
		atomic_fetch_add(&kmalloc_count, 1);
	return p;
}

static void kfree(const void *p)
{
	if (!p)
		return;
	atomic_fetch_add(&kfree_count, 1);
	free((void *)p);
}

/* Recent kernels: data = kmalloc_obj(*data); */
#define kmalloc_obj(obj)	((__typeof__(&(obj)))kmalloc(sizeof(obj), GFP_KERNEL))

#define container_of(ptr, type, member)	kb_container_of(ptr, type, member)

#define MAX_ERRNO	4095
#define ERR_PTR(err)	((void *)(intptr_t)(err))
#define PTR_ERR(ptr)	((long)(intptr_t)(ptr))
#define IS_ERR(ptr)	((uintptr_t)(ptr) >= (uintptr_t)-MAX_ERRNO)

/* Mutexes: kref_put_mutex() here takes a pthread_mutex_t. */
#define DEFINE_MUTEX(name)	pthread_mutex_t name = PTHREAD_MUTEX_INITIALIZER
#define mutex_lock(m)		pthread_mutex_lock(m)
#define mutex_unlock(m)		pthread_mutex_unlock(m)

/* Sparse annotations compile to nothing, as in the kernel. */
#define __releases(x)
#define __acquires(x)

/* include/linux/list.h, the part the examples use. */
struct list_head {
	struct list_head *next, *prev;
};

#define LIST_HEAD_INIT(name)	{ &(name), &(name) }
#define LIST_HEAD(name)		struct list_head name = LIST_HEAD_INIT(name)
#define LIST_POISON1		((struct list_head *)0x100)
#define LIST_POISON2		((struct list_head *)0x122)

static inline void INIT_LIST_HEAD(struct list_head *list)
{
	list->next = list;
	list->prev = list;
}

static inline void __list_add(struct list_head *new, struct list_head *prev, struct list_head *next)
{
	next->prev = new;
	new->next = next;
	new->prev = prev;
	prev->next = new;
}

static inline void list_add(struct list_head *new, struct list_head *head)
{
	__list_add(new, head, head->next);
}

static inline void list_add_tail(struct list_head *new, struct list_head *head)
{
	__list_add(new, head->prev, head);
}

static inline void list_del(struct list_head *entry)
{
	entry->next->prev = entry->prev;
	entry->prev->next = entry->next;
	entry->next = LIST_POISON1;	/* a use after list_del faults */
	entry->prev = LIST_POISON2;
}

static inline int list_empty(const struct list_head *head)
{
	return head->next == head;
}

#define list_entry(ptr, type, member)		container_of(ptr, type, member)
#define list_first_entry(ptr, type, member)	list_entry((ptr)->next, type, member)
#define list_next_entry(pos, member)		list_entry((pos)->member.next, __typeof__(*(pos)), member)
#define list_for_each_entry(pos, head, member)					\
	for (pos = list_first_entry(head, __typeof__(*pos), member);		\
	     &pos->member != (head);						\
	     pos = list_next_entry(pos, member))

/*
 * kthread_run() on pthreads. The doc's thread function returns void (the
 * kernel's returns int; the return value is unused there). A failed start
 * is ERR_PTR(-ENOMEM), as the doc tests for. Threads are joined later by
 * kthreads_reap() (the kernel reaps kthreads itself).
 */
struct task_struct {
	pthread_t thread;
	void (*threadfn)(void *data);
	void *data;
	char comm[16];
	struct task_struct *next_task;
};

static pthread_mutex_t tasks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct task_struct *tasks;
static atomic_uint kthread_calls;
static atomic_uint kthread_fail_every;	/* test knob: every n-th start fails */

static void *kthread_trampoline(void *arg)
{
	struct task_struct *t = arg;

	pthread_setname_np(pthread_self(), t->comm);
	t->threadfn(t->data);
	return NULL;
}

__attribute__((format(printf, 3, 4)))
static struct task_struct *kb_kthread_run(void (*threadfn)(void *data), void *data,
					  const char *namefmt, ...)
{
	unsigned int every = atomic_load(&kthread_fail_every);
	unsigned int call = atomic_fetch_add(&kthread_calls, 1) + 1;
	struct task_struct *t;
	char name[64];
	va_list ap;

	if (every && call % every == 0)
		return ERR_PTR(-ENOMEM);
	t = calloc(1, sizeof(*t));
	if (!t)
		return ERR_PTR(-ENOMEM);
	t->threadfn = threadfn;
	t->data = data;
	va_start(ap, namefmt);
	vsnprintf(name, sizeof(name), namefmt, ap);
	va_end(ap);
	snprintf(t->comm, sizeof(t->comm), "%.15s", name);	/* TASK_COMM_LEN */
	if (pthread_create(&t->thread, NULL, kthread_trampoline, t) != 0) {
		free(t);
		return ERR_PTR(-ENOMEM);
	}
	pthread_mutex_lock(&tasks_lock);
	t->next_task = tasks;
	tasks = t;
	pthread_mutex_unlock(&tasks_lock);
	return t;
}
#define kthread_run(threadfn, data, namefmt, ...) \
	kb_kthread_run(threadfn, data, namefmt, ##__VA_ARGS__)

/* Joins every thread started so far; returns how many. */
static unsigned int kthreads_reap(void)
{
	struct task_struct *t, *next;
	unsigned int n = 0;

	pthread_mutex_lock(&tasks_lock);
	t = tasks;
	tasks = NULL;
	pthread_mutex_unlock(&tasks_lock);
	for (; t; t = next) {
		next = t->next_task;
		pthread_join(t->thread, NULL);
		free(t);
		n++;
	}
	return n;
}

/* ======================================================================
 * krefbench's bookkeeping, used by the lines marked "krefbench:"
 * ====================================================================== */

#define MY_DATA_MAGIC	0x6b726566u	/* "kref" */
#define MAX_OBJECTS	(1u << 15)

static atomic_uint next_id;
static atomic_uchar release_count[MAX_OBJECTS];	/* per object: times released */
static atomic_long releases;

struct my_data;
static void note_release(struct my_data *data);
static void stamp(struct my_data *data);

/* ======================================================================
 * The examples (Documentation/core-api/kref.rst)
 * ====================================================================== */

/*
 * One struct serves every example: the doc's first my_data elides its
 * fields, the list examples add `link`.
 */
struct my_data
{
	struct kref      refcount;
	struct list_head link;
	/* krefbench: what ". do stuff with data here ." touches */
	unsigned int magic, id;
	int handler_did_stuff, thread_did_stuff;
	atomic_int uses;
};

/* ---- Kref rules: passing data to another thread ---- */

void data_release(struct kref *ref)
{
	struct my_data *data = container_of(ref, struct my_data, refcount);

	note_release(data);			/* krefbench */
	kref_destroy(&data->refcount);		/* krefbench */
	kfree(data);
}

void more_data_handling(void *cb_data)
{
	struct my_data *data = cb_data;

	/* . do stuff with data here . */
	data->thread_did_stuff = 1;

	kref_put(&data->refcount, data_release);
}

int my_data_handler(void)
{
	int rv = 0;
	struct my_data *data;
	struct task_struct *task;
	data = kmalloc_obj(*data);
	if (!data)
		return -ENOMEM;
	if (kref_init(&data->refcount)) {	/* krefbench: init can fail here */
		kfree(data);
		return -ENOMEM;
	}
	stamp(data);				/* krefbench */

	kref_get(&data->refcount);
	task = kthread_run(more_data_handling, data, "more_data_handling");
	if (task == ERR_PTR(-ENOMEM)) {
		rv = -ENOMEM;
		kref_put(&data->refcount, data_release);
		goto out;
	}

	/* . do stuff with data here . */
	data->handler_did_stuff = 1;

out:
	kref_put(&data->refcount, data_release);
	return rv;
}

/* ---- Rule 3: a list under a mutex ---- */

static DEFINE_MUTEX(mutex);
static LIST_HEAD(q);

/*
 * The three list examples use the same names; each is compiled under its
 * own prefix so they can live in one file.
 */

/* (a) The doc's first version: kref_put() under the mutex. */
#define get_entry	locked_get_entry
#define release_entry	locked_release_entry
#define put_entry	locked_put_entry

static struct my_data *get_entry()
{
	struct my_data *entry = NULL;
	mutex_lock(&mutex);
	if (!list_empty(&q)) {
		entry = container_of(q.next, struct my_data, link);
		kref_get(&entry->refcount);
	}
	mutex_unlock(&mutex);
	return entry;
}

static void release_entry(struct kref *ref)
{
	struct my_data *entry = container_of(ref, struct my_data, refcount);

	note_release(entry);			/* krefbench */
	list_del(&entry->link);
	kref_destroy(&entry->refcount);		/* krefbench */
	kfree(entry);
}

static void put_entry(struct my_data *entry)
{
	mutex_lock(&mutex);
	kref_put(&entry->refcount, release_entry);
	mutex_unlock(&mutex);
}

#undef get_entry
#undef release_entry
#undef put_entry

/*
 * (b) The same with kref_put_mutex() (include/linux/kref.h): the mutex is
 * taken only for a possible last put, and release is called with it held
 * and must drop it.
 */
#define get_entry	put_mutex_get_entry
#define release_entry	put_mutex_release_entry
#define put_entry	put_mutex_put_entry

static struct my_data *get_entry()
{
	struct my_data *entry = NULL;
	mutex_lock(&mutex);
	if (!list_empty(&q)) {
		entry = container_of(q.next, struct my_data, link);
		kref_get(&entry->refcount);
	}
	mutex_unlock(&mutex);
	return entry;
}

static void release_entry(struct kref *ref)
	__releases(&mutex)
{
	struct my_data *entry = container_of(ref, struct my_data, refcount);

	note_release(entry);			/* krefbench */
	list_del(&entry->link);
	mutex_unlock(&mutex);
	kref_destroy(&entry->refcount);		/* krefbench */
	kfree(entry);
}

static void put_entry(struct my_data *entry)
{
	kref_put_mutex(&entry->refcount, release_entry, &mutex);
}

#undef get_entry
#undef release_entry
#undef put_entry

/* (c) The kref_put() return value: unlink under the lock, free outside. */
#define get_entry	retval_get_entry
#define release_entry	retval_release_entry
#define put_entry	retval_put_entry

static struct my_data *get_entry()
{
	struct my_data *entry = NULL;
	mutex_lock(&mutex);
	if (!list_empty(&q)) {
		entry = container_of(q.next, struct my_data, link);
		kref_get(&entry->refcount);
	}
	mutex_unlock(&mutex);
	return entry;
}

static void release_entry(struct kref *ref)
{
	/* All work is done after the return from kref_put(). */
	note_release(container_of(ref, struct my_data, refcount));	/* krefbench */
}

static void put_entry(struct my_data *entry)
{
	mutex_lock(&mutex);
	if (kref_put(&entry->refcount, release_entry)) {
		list_del(&entry->link);
		mutex_unlock(&mutex);
		kref_destroy(&entry->refcount);	/* krefbench */
		kfree(entry);
	} else
		mutex_unlock(&mutex);
}

#undef get_entry
#undef release_entry
#undef put_entry

/* (d) kref_get_unless_zero(): no mutex around kref_put(). */
#define get_entry	unless_zero_get_entry
#define release_entry	unless_zero_release_entry
#define put_entry	unless_zero_put_entry

static struct my_data *get_entry()
{
	struct my_data *entry = NULL;
	mutex_lock(&mutex);
	if (!list_empty(&q)) {
		entry = container_of(q.next, struct my_data, link);
		if (!kref_get_unless_zero(&entry->refcount))
			entry = NULL;
	}
	mutex_unlock(&mutex);
	return entry;
}

static void release_entry(struct kref *ref)
{
	struct my_data *entry = container_of(ref, struct my_data, refcount);

	note_release(entry);			/* krefbench */
	mutex_lock(&mutex);
	list_del(&entry->link);
	mutex_unlock(&mutex);
	kref_destroy(&entry->refcount);		/* krefbench */
	kfree(entry);
}

static void put_entry(struct my_data *entry)
{
	kref_put(&entry->refcount, release_entry);
}

#undef get_entry
#undef release_entry
#undef put_entry

/* ======================================================================
 * The driver
 * ====================================================================== */

#if defined(KREFBENCH_TSAN)
#define SCALE 10
#elif defined(KREFBENCH_ASAN)
#define SCALE 4
#else
#define SCALE 1
#endif

#define HANDOFF_ROUNDS		(4000 / SCALE)
#define HANDOFF_BATCH		32	/* kthreads in flight before a reap */
#define HANDOFF_FAIL_EVERY	9	/* every 9th kthread_run fails */
#define LIST_ENTRIES		(1200 / SCALE)
#define LIST_USES		6	/* uses of an entry before it is deleted */
#define LIST_WORKERS		4

static const bool backend_counts = KB_BACKEND_ID != KB_BACKEND_ID_null;

static void stamp(struct my_data *data)
{
	unsigned int id = atomic_fetch_add(&next_id, 1);

	data->magic = MY_DATA_MAGIC;
	data->id = id;
	data->handler_did_stuff = 0;
	data->thread_did_stuff = 0;
	atomic_init(&data->uses, 0);
	INIT_LIST_HEAD(&data->link);
}

static atomic_long handler_stuff_seen, thread_stuff_seen, bad_release;

/* Called from every release: the object must be intact and released once.
 * The fields read here were written by other threads before their puts:
 * the kref's ordering (and TSan) makes sure release sees them. */
static void note_release(struct my_data *data)
{
	if (data->magic != MY_DATA_MAGIC || data->id >= MAX_OBJECTS) {
		atomic_fetch_add(&bad_release, 1);
		return;
	}
	atomic_fetch_add(&release_count[data->id], 1);
	atomic_fetch_add(&releases, 1);
	atomic_fetch_add(&handler_stuff_seen, data->handler_did_stuff);
	atomic_fetch_add(&thread_stuff_seen, data->thread_did_stuff);
	data->magic = 0xdeadbeefu;
}

static char label[160];
static const char *L2(const char *a, const char *b)
{
	snprintf(label, sizeof(label), "%s: %s", a, b);
	return label;
}

/* Every id in [first, last) released exactly once. */
static void check_released_once(const char *what, unsigned int first, unsigned int last)
{
	unsigned int never = 0, twice = 0;

	for (unsigned int id = first; id < last && id < MAX_OBJECTS; id++) {
		unsigned int n = atomic_load(&release_count[id]);

		never += n == 0;
		twice += n > 1;
	}
	CHECK_EQ(never, 0, L2(what, "objects never released"));
	CHECK_EQ(twice, 0, L2(what, "objects released more than once"));
	CHECK_EQ(atomic_load(&bad_release), 0, L2(what, "releases of a corrupt object"));
}

static void run_handoff(void)
{
	long allocs0 = atomic_load(&kmalloc_count), frees0 = atomic_load(&kfree_count);
	unsigned int id0 = atomic_load(&next_id), ok = 0, enomem = 0, other = 0, reaped = 0;
	long releases0 = atomic_load(&releases);
	long handler0 = atomic_load(&handler_stuff_seen), thread0 = atomic_load(&thread_stuff_seen);
	unsigned int calls0 = atomic_load(&kthread_calls);
	unsigned int objects;

	atomic_store(&kthread_fail_every, HANDOFF_FAIL_EVERY);
	for (int i = 0; i < HANDOFF_ROUNDS; i++) {
		int rv = my_data_handler();

		ok += rv == 0;
		enomem += rv == -ENOMEM;
		other += rv != 0 && rv != -ENOMEM;
		if (i % HANDOFF_BATCH == HANDOFF_BATCH - 1)
			reaped += kthreads_reap();
	}
	reaped += kthreads_reap();
	atomic_store(&kthread_fail_every, 0);

	/* And kmalloc failing: -ENOMEM before anything is counted. */
	atomic_store(&kmalloc_fail_next, 1);
	CHECK_EQ(my_data_handler(), -ENOMEM, "handoff: kmalloc failure is -ENOMEM");
	atomic_store(&kmalloc_fail_next, 0);
	reaped += kthreads_reap();
	kref_sync();	/* krefbench: releases an epoch (refcache) decides; nothing elsewhere */

	objects = atomic_load(&next_id) - id0;
	CHECK_EQ(other, 0, "handoff: my_data_handler returned something else than 0/-ENOMEM");
	CHECK_EQ(objects, HANDOFF_ROUNDS, "handoff: objects created");
	CHECK_EQ(atomic_load(&kthread_calls) - calls0, HANDOFF_ROUNDS, "handoff: kthread_run calls");
	CHECK_EQ(enomem, HANDOFF_ROUNDS / HANDOFF_FAIL_EVERY, "handoff: kthread_run -ENOMEM path taken");
	CHECK_EQ(reaped, ok, "handoff: one thread per successful start");
	CHECK_EQ(atomic_load(&releases) - releases0, objects, "handoff: one release per object");
	check_released_once("handoff", id0, id0 + objects);
	CHECK_EQ(atomic_load(&handler_stuff_seen) - handler0, ok,
		 "handoff: release saw the handler's work on every success");
	CHECK_EQ(atomic_load(&thread_stuff_seen) - thread0, ok,
		 "handoff: release saw the thread's work on every success");
	CHECK_EQ(atomic_load(&kmalloc_count) - allocs0, objects, "handoff: allocations");
	CHECK_EQ(atomic_load(&kfree_count) - frees0, objects, "handoff: every allocation freed");
	printf("  kthread hand-off: %u rounds, %u started a thread, %u took the -ENOMEM path; "
	       "%ld releases, %ld kmalloc, %ld kfree\n",
	       HANDOFF_ROUNDS, ok, enomem, atomic_load(&releases) - releases0,
	       atomic_load(&kmalloc_count) - allocs0, atomic_load(&kfree_count) - frees0);
}

struct list_variant {
	const char *name;
	struct my_data *(*get_entry)(void);
	void (*put_entry)(struct my_data *entry);
};

static const struct list_variant list_variants[] = {
	{ "kref_put under the mutex", locked_get_entry, locked_put_entry },
	{ "kref_put_mutex", put_mutex_get_entry, put_mutex_put_entry },
	{ "kref_put return value, unlink by hand", retval_get_entry, retval_put_entry },
	{ "kref_get_unless_zero", unless_zero_get_entry, unless_zero_put_entry },
};

static unsigned int first_id_or_none(void)
{
	unsigned int id = UINT32_MAX;

	mutex_lock(&mutex);
	if (!list_empty(&q))
		id = list_first_entry(&q, struct my_data, link)->id;
	mutex_unlock(&mutex);
	return id;
}

static atomic_long list_uses, list_misses;

/*
 * Each worker takes the first entry (get_entry), uses it, puts it. The worker
 * whose use is the LIST_USES-th "deletes" the entry by dropping the list's
 * reference too. Whoever holds a deleted entry puts it and waits until it is
 * gone from the head, so its last reference drains.
 */
static void *list_worker(void *arg)
{
	const struct list_variant *v = arg;

	for (;;) {
		struct my_data *entry = v->get_entry();
		unsigned int id;
		int n;

		if (!entry) {
			if (first_id_or_none() == UINT32_MAX)
				break;	/* list empty: done */
			atomic_fetch_add(&list_misses, 1);	/* an entry on its way out */
			sched_yield();
			continue;
		}
		id = entry->id;
		if (entry->magic != MY_DATA_MAGIC)
			atomic_fetch_add(&bad_release, 1);	/* used after release */
		n = atomic_fetch_add(&entry->uses, 1) + 1;
		atomic_fetch_add(&list_uses, 1);
		if (n == LIST_USES)
			v->put_entry(entry);	/* the list's reference */
		v->put_entry(entry);
		if (n >= LIST_USES)
			while (first_id_or_none() == id)
				sched_yield();
	}
	return NULL;
}

static void run_list_variant(const struct list_variant *v)
{
	long allocs0 = atomic_load(&kmalloc_count), frees0 = atomic_load(&kfree_count);
	long releases0 = atomic_load(&releases), uses0 = atomic_load(&list_uses);
	long misses0 = atomic_load(&list_misses);
	unsigned int id0 = atomic_load(&next_id), created = 0;
	pthread_t workers[LIST_WORKERS];
	unsigned int started = 0;

	for (int i = 0; i < LIST_ENTRIES; i++) {
		struct my_data *entry = kmalloc_obj(*entry);

		if (!entry || kref_init(&entry->refcount)) {	/* the list's reference */
			kfree(entry);
			CHECK(0, "%s: allocating entry %d", v->name, i);
			break;
		}
		stamp(entry);
		mutex_lock(&mutex);
		list_add_tail(&entry->link, &q);
		mutex_unlock(&mutex);
		created++;
	}
	for (int i = 0; i < LIST_WORKERS; i++)
		if (pthread_create(&workers[started], NULL, list_worker, (void *)v) == 0)
			started++;
	CHECK_EQ(started, LIST_WORKERS, L2(v->name, "workers started"));
	if (!started)	/* drain it here then */
		list_worker((void *)v);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(workers[i], NULL);

	mutex_lock(&mutex);
	CHECK(list_empty(&q), "%s: list empty at the end", v->name);
	mutex_unlock(&mutex);
	CHECK_EQ(atomic_load(&releases) - releases0, created, L2(v->name, "one release per entry"));
	check_released_once(v->name, id0, id0 + created);
	CHECK(atomic_load(&list_uses) - uses0 >= (long)created * LIST_USES,
	      "%s: every entry used at least %d times", v->name, LIST_USES);
	CHECK_EQ(atomic_load(&kmalloc_count) - allocs0, created, L2(v->name, "allocations"));
	CHECK_EQ(atomic_load(&kfree_count) - frees0, created, L2(v->name, "every allocation freed"));
	printf("  list, %-38s %u entries, %u workers, %ld uses, %ld lookups found a dying entry, "
	       "%ld releases\n", v->name, created, started, atomic_load(&list_uses) - uses0,
	       atomic_load(&list_misses) - misses0, atomic_load(&releases) - releases0);
}

static atomic_long null_calls;
static void null_release(struct kref *ref) { (void)ref; atomic_fetch_add(&null_calls, 1); }

/* `null` is not a counter: whatever the examples do, it never releases. */
static void check_never_releases(void)
{
	struct my_data *data = kmalloc_obj(*data);
	long releases0 = atomic_load(&releases);

	CHECK(data != NULL, "null: kmalloc");
	if (!data)
		return;
	CHECK_EQ(kref_init(&data->refcount), 0, "null: kref_init");
	stamp(data);
	CHECK_EQ(kref_read(&data->refcount), 1, "null: kref_read after init");
	kref_get(&data->refcount);
	CHECK_EQ(kref_read(&data->refcount), 1, "null: kref_read is always 1");
	for (int i = 0; i < 4; i++)
		CHECK_EQ(kref_put(&data->refcount, data_release), 0, "null: kref_put never releases");
	CHECK(kref_get_unless_zero(&data->refcount), "null: kref_get_unless_zero always succeeds");
	CHECK_EQ(kref_put(&data->refcount, null_release), 0, "null: kref_put");
	CHECK_EQ(kref_put_mutex(&data->refcount, put_mutex_release_entry, &mutex), 0,
		 "null: kref_put_mutex never releases");
	CHECK_EQ(pthread_mutex_trylock(&mutex), 0, "null: kref_put_mutex left the mutex free");
	mutex_unlock(&mutex);
	CHECK_EQ(kref_kill(&data->refcount, null_release), 0, "null: kref_kill never releases");
	CHECK_EQ(atomic_load(&null_calls), 0, "null: release never called");
	CHECK_EQ(atomic_load(&releases) - releases0, 0, "null: no example release ran");
	kref_destroy(&data->refcount);
	kfree(data);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("kref.rst examples against backend %s\n", KREF_BACKEND_NAME);

	if (!backend_counts) {
		check_never_releases();
		printf("null: examples compiled; not run (null never releases)\n");
	} else if (KB_CAT(KB_FLAGS_, KREF_BACKEND) & KB_EPOCH_RELEASE) {
		/* The locked list waits for the last put to unlink the entry, and
		 * its fourth variant needs get_unless_zero: neither exists where
		 * an epoch decides the release (refcache). The hand-off runs, with
		 * kref_sync() before its checks. */
		run_handoff();
		printf("%s: the rule-3 list examples are not run: no put releases at once "
		       "(KB_EPOCH_RELEASE), get_unless_zero is not offered\n", KREF_BACKEND_NAME);
	} else {
		run_handoff();
		for (size_t i = 0; i < sizeof(list_variants) / sizeof(list_variants[0]); i++)
			run_list_variant(&list_variants[i]);
	}
	CHECK_EQ(atomic_load(&kmalloc_count), atomic_load(&kfree_count), "nothing leaked: kmalloc == kfree");
	printf("%s: %ld kmalloc, %ld kfree, %ld releases\n", KREF_BACKEND_NAME,
	       atomic_load(&kmalloc_count), atomic_load(&kfree_count), atomic_load(&releases));
	return check_summary();
}
