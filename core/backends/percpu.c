/* The slow paths of the per-CPU backends: the slot arena, kill and the switch
 * to atomic mode, reinit. Semantics follow lib/percpu-refcount.c. */
#include "core/backends/percpu.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLOT_BYTES sizeof(atomic_long)
#define DEFAULT_CAPACITY (1u << 17)	/* objects; virtual space only until used */

struct kb_percpu_arena {
	char *base;
	size_t stride;
	unsigned int ncpus;
	unsigned int capacity;
	pthread_mutex_t lock;
	unsigned int next_unused;
	unsigned int nfree;
	unsigned int *free_list;
};

int kb_possible_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	return n > 0 ? (int)n : 1;
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

struct kb_percpu_arena *kb_percpu_arena_create(unsigned int capacity, unsigned int ncpus)
{
	struct kb_percpu_arena *a = calloc(1, sizeof(*a));

	if (!a || !capacity || !ncpus)
		goto fail;
	a->ncpus = ncpus;
	a->capacity = capacity;
	a->stride = round_up((size_t)capacity * SLOT_BYTES, (size_t)sysconf(_SC_PAGESIZE));
	if (a->stride > UINT32_MAX || ncpus > UINT16_MAX)	/* refs keep them small */
		goto fail;
	a->free_list = calloc(capacity, sizeof(*a->free_list));
	/* NORESERVE: only the pages that hold live slots are ever committed. */
	a->base = mmap(NULL, a->stride * ncpus, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!a->free_list || a->base == MAP_FAILED)
		goto fail;
	/*
	 * Each CPU's block gets its pages where that CPU first writes them
	 * (first touch: its own NUMA node), as the kernel's per-CPU chunks
	 * are node-local. A transparent huge page would put several CPUs'
	 * blocks on whichever node touched it first. Advice only: where THP
	 * is off or unknown the pages are 4 KiB anyway.
	 */
	(void)madvise(a->base, a->stride * ncpus, MADV_NOHUGEPAGE);
	pthread_mutex_init(&a->lock, NULL);
	return a;
fail:
	if (a && a->base && a->base != MAP_FAILED)
		munmap(a->base, a->stride * ncpus);
	if (a)
		free(a->free_list);
	free(a);
	return NULL;
}

void kb_percpu_arena_destroy(struct kb_percpu_arena *a)
{
	if (!a)
		return;
	munmap(a->base, a->stride * a->ncpus);
	pthread_mutex_destroy(&a->lock);
	free(a->free_list);
	free(a);
}

unsigned int kb_percpu_arena_used(const struct kb_percpu_arena *a)
{
	return a->next_unused - a->nfree;
}

static struct kb_percpu_arena *default_arena;
static pthread_once_t default_arena_once = PTHREAD_ONCE_INIT;

static void create_default_arena(void)
{
	default_arena = kb_percpu_arena_create(DEFAULT_CAPACITY, (unsigned int)kb_possible_cpus());
}

struct kb_percpu_arena *kb_percpu_default_arena(void)
{
	pthread_once(&default_arena_once, create_default_arena);
	return default_arena;
}

/* The slots, the ref (which the user embeds) and its bookkeeping. */
size_t kb_percpu_bytes_at(unsigned int ncpus)
{
	return (size_t)ncpus * SLOT_BYTES + sizeof(struct kref_percpu) + sizeof(struct kb_percpu_data);
}

size_t kb_percpu_bytes_per_object(void)
{
	return kb_percpu_bytes_at((unsigned int)kb_possible_cpus());
}

static int arena_take(struct kb_percpu_arena *a, unsigned int *index)
{
	int err = 0;

	pthread_mutex_lock(&a->lock);
	if (a->nfree)
		*index = a->free_list[--a->nfree];
	else if (a->next_unused < a->capacity)
		*index = a->next_unused++;
	else
		err = -ENOMEM;
	pthread_mutex_unlock(&a->lock);
	return err;
}

static void arena_give_back(struct kb_percpu_arena *a, unsigned int index)
{
	pthread_mutex_lock(&a->lock);
	a->free_list[a->nfree++] = index;
	pthread_mutex_unlock(&a->lock);
}

int kb_percpu_slots_take(struct kb_percpu_arena *a, atomic_long **slots, uint32_t *stride,
			 uint16_t *ncpus)
{
	unsigned int index;

	if (!a || arena_take(a, &index))
		return -ENOMEM;
	*slots = (atomic_long *)(a->base + (size_t)index * SLOT_BYTES);
	*stride = (uint32_t)a->stride;
	*ncpus = (uint16_t)a->ncpus;
	for (unsigned int cpu = 0; cpu < a->ncpus; cpu++) {	/* see zero_slots */
		atomic_long *slot = (atomic_long *)((char *)*slots + (size_t)cpu * a->stride);

		if (atomic_load_explicit(slot, memory_order_relaxed))
			atomic_store_explicit(slot, 0, memory_order_relaxed);
	}
	return 0;
}

void kb_percpu_slots_give_back(struct kb_percpu_arena *a, atomic_long *slots)
{
	arena_give_back(a, (unsigned int)(((uintptr_t)slots - (uintptr_t)a->base) / SLOT_BYTES));
}

/*
 * Writes only the slots that are not zero: a page no CPU has written yet
 * reads as zero without being allocated, so init and reinit leave it for its
 * own CPU to allocate, on its own node (see kb_percpu_arena_create).
 */
static void zero_slots(struct kref_percpu *r)
{
	for (unsigned int cpu = 0; cpu < r->ncpus; cpu++) {
		atomic_long *slot = kb_percpu_slot_of(r, cpu);

		if (atomic_load_explicit(slot, memory_order_relaxed))
			atomic_store_explicit(slot, 0, memory_order_relaxed);
	}
}

static unsigned long sum_slots(const struct kref_percpu *r)
{
	unsigned long sum = 0;

	if (!(atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed) & ~KB_PERCPU_FLAGS))
		return 0;	/* given back: see give_back_slots */

	for (unsigned int cpu = 0; cpu < r->ncpus; cpu++)
		sum += (unsigned long)atomic_load_explicit(kb_percpu_slot_of(r, cpu), memory_order_relaxed);
	return sum;
}

/* ---- warnings: each kind counted, printed once (WARN_ONCE) ---- */

static atomic_ulong warning_counts[KB_PERCPU_NR_WARNINGS];
static atomic_bool warning_printed[KB_PERCPU_NR_WARNINGS];

static const char *const warning_names[KB_PERCPU_NR_WARNINGS] = {
	[KB_PERCPU_WARN_DOUBLE_KILL] = "DOUBLE_KILL",
	[KB_PERCPU_WARN_FOLD_UNDERFLOW] = "FOLD_UNDERFLOW",
	[KB_PERCPU_WARN_REINIT_NOT_ZERO] = "REINIT_NOT_ZERO",
	[KB_PERCPU_WARN_RESURRECT_LIVE] = "RESURRECT_LIVE",
	[KB_PERCPU_WARN_RESURRECT_PERCPU] = "RESURRECT_PERCPU",
	[KB_PERCPU_WARN_NO_REINIT] = "NO_REINIT",
	[KB_PERCPU_WARN_EXIT_SWITCHING] = "EXIT_SWITCHING",
};

static kb_cold void warn_once(enum kb_percpu_warning w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void warn_once(enum kb_percpu_warning w, const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add_explicit(&warning_counts[w], 1, memory_order_relaxed);
	if (atomic_exchange_explicit(&warning_printed[w], true, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

unsigned long kb_percpu_warnings(enum kb_percpu_warning w)
{
	return (unsigned int)w < KB_PERCPU_NR_WARNINGS ?
	       atomic_load_explicit(&warning_counts[w], memory_order_relaxed) : 0;
}

const char *kb_percpu_warning_name(enum kb_percpu_warning w)
{
	return (unsigned int)w < KB_PERCPU_NR_WARNINGS ? warning_names[w] : "?";
}

unsigned long kb_percpu_double_kills(void)
{
	return kb_percpu_warnings(KB_PERCPU_WARN_DOUBLE_KILL);
}

/*
 * Every mode change holds this lock (the kernel's percpu_ref_switch_lock);
 * switch_done is its wait queue: a switch to atomic mode in flight
 * (data->confirm_switch set) is waited for before the next change.
 */
static pthread_mutex_t switch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t switch_done = PTHREAD_COND_INITIALIZER;

int kref_percpu_init_flags_in(struct kref_percpu *r, struct kb_percpu_arena *a,
			      kb_percpu_func_t *release, unsigned int flags)
{
	struct kb_percpu_data *data = calloc(1, sizeof(*data));
	unsigned long start = 0;
	uintptr_t mode = 0;
	unsigned int index;

	if (!data)
		return -ENOMEM;
	if (arena_take(a, &index)) {
		free(data);
		return -ENOMEM;
	}
	data->arena = a;
	data->force_atomic = flags & KB_PERCPU_REF_INIT_ATOMIC;
	data->allow_reinit = flags & KB_PERCPU_REF_ALLOW_REINIT;
	if (flags & (KB_PERCPU_REF_INIT_ATOMIC | KB_PERCPU_REF_INIT_DEAD)) {
		mode |= KB_PERCPU_ATOMIC;
		data->allow_reinit = true;	/* the kernel's rule: it must go per-CPU later */
	} else {
		start += KB_PERCPU_BIAS;
	}
	if (flags & KB_PERCPU_REF_INIT_DEAD)
		mode |= KB_PERCPU_DEAD;
	else
		start++;
	atomic_init(&data->count, (long)start);
	atomic_init(&data->release, release);
	r->data = data;
	r->stride = (uint32_t)a->stride;
	r->ncpus = (uint16_t)a->ncpus;
	r->rseq_ncpus = kb_rseq_percpu_decide() ? r->ncpus : 0;
	atomic_init(&r->percpu_ptr, (uintptr_t)(a->base + (size_t)index * SLOT_BYTES));
	zero_slots(r);
	atomic_store_explicit(&r->percpu_ptr, atomic_load_explicit(&r->percpu_ptr,
			      memory_order_relaxed) | mode, memory_order_release);
	return 0;
}

int kref_percpu_init_flags(struct kref_percpu *r, kb_percpu_func_t *release, unsigned int flags)
{
	struct kb_percpu_arena *a = kb_percpu_default_arena();

	return a ? kref_percpu_init_flags_in(r, a, release, flags) : -ENOMEM;
}

int kref_percpu_init_in(struct kref_percpu *r, struct kb_percpu_arena *a)
{
	return kref_percpu_init_flags_in(r, a, NULL, KB_PERCPU_REF_ALLOW_REINIT);
}

int kref_percpu_init(struct kref_percpu *r)
{
	return kref_percpu_init_flags(r, NULL, KB_PERCPU_REF_ALLOW_REINIT);
}

int kref_percpu_init_atomic_in(struct kref_percpu *r, struct kb_percpu_arena *a)
{
	return kref_percpu_init_flags_in(r, a, NULL, KB_PERCPU_REF_INIT_ATOMIC);
}

int kref_percpu_init_atomic(struct kref_percpu *r)
{
	return kref_percpu_init_flags(r, NULL, KB_PERCPU_REF_INIT_ATOMIC);
}

/*
 * The put every slow path makes, after a switch to atomic mode was started
 * (so on the atomic count, which is valid in either mode thanks to the
 * bias), fully ordered; the last one releases with the stored release.
 * Not through the RCU read lock: the fold runs on liburcu's call_rcu thread.
 */
static int put_stored(struct kref_percpu *r)
{
	if (atomic_fetch_sub_explicit(&r->data->count, 1, memory_order_seq_cst) == 1) {
		atomic_load_explicit(&r->data->release, memory_order_relaxed)(r);
		return 1;
	}
	return 0;
}

/* Back the slots go to the arena: after the switch, when reinit is not
 * allowed (the kernel frees its per-CPU counters there), or at exit. Every
 * operation now sees the flags and counts in data->count. */
static void give_back_slots(struct kref_percpu *r)
{
	struct kb_percpu_arena *a = r->data->arena;
	uintptr_t ptr = atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed);
	uintptr_t slot = ptr & ~KB_PERCPU_FLAGS;

	if (!slot)
		return;
	atomic_store_explicit(&r->percpu_ptr, ptr & KB_PERCPU_FLAGS, memory_order_relaxed);
	arena_give_back(a, (unsigned int)((slot - (uintptr_t)a->base) / SLOT_BYTES));
}

static void noop_confirm(struct kref_percpu *r) { (void)r; }

/* Decrement unless the count is 1 (release ordered, as a put's): true when it did. */
static bool dec_not_one(atomic_long *count)
{
	long old = atomic_load_explicit(count, memory_order_relaxed);

	do {
		if (old == 1)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(count, &old, (long)((unsigned long)old - 1),
				memory_order_release, memory_order_relaxed));
	return true;
}

/*
 * Runs a grace period after the switch to atomic mode, and after the rseq
 * fence: no atomic-path operation (RCU readers) and no rseq critical section
 * that read per-CPU mode is still going, so nobody adds to the slots any more.
 */
static void fold_slots_after_grace_period(struct rcu_head *head)
{
	struct kref_percpu *r = kb_container_of(head, struct kref_percpu, rcu);
	struct kb_percpu_data *data;
	kb_percpu_func_t *confirm;
	unsigned long sum;
	long count;
	bool dropped;

	kb_rcu_callback_entry();	/* before the first access to the ref */
	if (kb_rseq_percpu_ok)
		kb_rseq_fence_pending();
	data = r->data;
	sum = sum_slots(r);
	/* Sum first, then add with the bias removed, in one step: a single
	 * CPU's slot may be negative, only the whole sum is meaningful. */
	count = atomic_fetch_add_explicit(&data->count, (long)(sum - KB_PERCPU_BIAS),
					  memory_order_relaxed) + (long)(sum - KB_PERCPU_BIAS);
	if (kb_unlikely(count <= 0))
		warn_once(KB_PERCPU_WARN_FOLD_UNDERFLOW,
			  "percpu ref (%p) <= 0 (%ld) after switching to atomic",
			  (void *)atomic_load_explicit(&data->release, memory_order_relaxed), count);
	pthread_mutex_lock(&switch_lock);
	confirm = data->confirm_switch;
	pthread_mutex_unlock(&switch_lock);
	confirm(r);	/* every CPU now sees the ref atomic (and dead, if killed) */
	/* Drop the reference the switch took to keep the ref alive until now,
	 * before saying the switch is done when it is not the last one: a
	 * switch_to_atomic_sync caller then reads the exact count. The last one
	 * is dropped after (its release may free the ref), as the kernel does.
	 * Dropped under switch_lock: once it is gone another thread's last put
	 * may release the ref and exit it, and exit takes switch_lock before
	 * freeing data, so data outlives this section, whose writes to it
	 * (confirm_switch, the slots) come after the reference is gone. */
	pthread_mutex_lock(&switch_lock);
	dropped = dec_not_one(&data->count);
	data->confirm_switch = NULL;
	if (!data->allow_reinit)
		give_back_slots(r);
	pthread_cond_broadcast(&switch_done);
	pthread_mutex_unlock(&switch_lock);
	if (!dropped)
		put_stored(r);
	kb_rcu_callback_exit();
}

static void switch_to_atomic_locked(struct kref_percpu *r, kb_percpu_func_t *confirm)
{
	if (atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed) & KB_PERCPU_ATOMIC) {
		if (confirm)
			confirm(r);
		return;
	}
	/* seq_cst: the fence requested below must be ordered after this. */
	atomic_fetch_or(&r->percpu_ptr, KB_PERCPU_ATOMIC);
	r->data->confirm_switch = confirm ? confirm : noop_confirm;
	/* Hold a reference across the switch so the count cannot hit zero
	 * before the slots are folded in; the fold drops it. */
	atomic_fetch_add_explicit(&r->data->count, 1, memory_order_relaxed);
	if (kb_rseq_percpu_ok)
		kb_rseq_fence_request();
	kb_rcu_call(&r->rcu, fold_slots_after_grace_period);
}

static void switch_to_percpu_locked(struct kref_percpu *r)
{
	uintptr_t ptr = atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed);

	if (!(ptr & KB_PERCPU_ATOMIC))
		return;
	if (!r->data->allow_reinit || !(ptr & ~KB_PERCPU_FLAGS)) {
		warn_once(KB_PERCPU_WARN_NO_REINIT,
			  "percpu ref %p: switch to per-CPU mode without PERCPU_REF_ALLOW_REINIT",
			  (void *)r);
		return;
	}
	atomic_fetch_add_explicit(&r->data->count, (long)KB_PERCPU_BIAS, memory_order_relaxed);
	zero_slots(r);
	/* release: whoever reads the cleared flag (acquire) sees zeroed slots. */
	atomic_store_explicit(&r->percpu_ptr, ptr & ~KB_PERCPU_ATOMIC, memory_order_release);
}

/* __percpu_ref_switch_mode: the mode the flags ask for, once any switch to
 * atomic in flight has finished. */
static void switch_mode_locked(struct kref_percpu *r, kb_percpu_func_t *confirm)
{
	while (r->data->confirm_switch)
		pthread_cond_wait(&switch_done, &switch_lock);
	if (r->data->force_atomic ||
	    (atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed) & KB_PERCPU_DEAD))
		switch_to_atomic_locked(r, confirm);
	else
		switch_to_percpu_locked(r);
}

void kref_percpu_switch_to_atomic(struct kref_percpu *r, kb_percpu_func_t *confirm)
{
	pthread_mutex_lock(&switch_lock);
	r->data->force_atomic = true;
	switch_mode_locked(r, confirm);
	pthread_mutex_unlock(&switch_lock);
}

void kref_percpu_switch_to_atomic_sync(struct kref_percpu *r)
{
	kref_percpu_switch_to_atomic(r, NULL);
	pthread_mutex_lock(&switch_lock);
	while (r->data->confirm_switch)
		pthread_cond_wait(&switch_done, &switch_lock);
	pthread_mutex_unlock(&switch_lock);
}

void kref_percpu_switch_to_percpu(struct kref_percpu *r)
{
	pthread_mutex_lock(&switch_lock);
	r->data->force_atomic = false;
	switch_mode_locked(r, NULL);
	pthread_mutex_unlock(&switch_lock);
}

static int kill_and_confirm(struct kref_percpu *r, kb_percpu_func_t *release,
			    kb_percpu_func_t *confirm)
{
	uintptr_t old;

	pthread_mutex_lock(&switch_lock);
	old = atomic_fetch_or(&r->percpu_ptr, KB_PERCPU_DEAD);
	if (kb_unlikely(old & KB_PERCPU_DEAD))
		warn_once(KB_PERCPU_WARN_DOUBLE_KILL, "percpu_ref_kill_and_confirm called more than once on %p!",
			  (void *)atomic_load_explicit(&r->data->release, memory_order_relaxed));
	else if (release)	/* a later kill's would race with the fold reading it */
		atomic_store_explicit(&r->data->release, release, memory_order_relaxed);
	switch_mode_locked(r, confirm);
	pthread_mutex_unlock(&switch_lock);
	/* The initial reference, outside the lock so that release() may call
	 * back into this API. A second kill drops one more: 0 -> -1 after zero,
	 * which releases nothing, as in the kernel. */
	return put_stored(r);
}

int kref_percpu_kill_and_confirm(struct kref_percpu *r, kb_percpu_func_t *confirm_kill)
{
	return kill_and_confirm(r, NULL, confirm_kill);
}

int kref_percpu_kill(struct kref_percpu *r, kb_percpu_func_t *release)
{
	return kill_and_confirm(r, release, NULL);
}

static bool is_percpu(const struct kref_percpu *r)
{
	return !(atomic_load_explicit(&r->percpu_ptr, memory_order_acquire) & KB_PERCPU_FLAGS);
}

void kref_percpu_resurrect(struct kref_percpu *r)
{
	uintptr_t ptr;

	pthread_mutex_lock(&switch_lock);
	ptr = atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed);
	if (!(ptr & KB_PERCPU_DEAD))
		warn_once(KB_PERCPU_WARN_RESURRECT_LIVE, "percpu ref %p: resurrect of a live ref", (void *)r);
	if (is_percpu(r))
		warn_once(KB_PERCPU_WARN_RESURRECT_PERCPU, "percpu ref %p: resurrect in per-CPU mode", (void *)r);
	atomic_fetch_and(&r->percpu_ptr, ~KB_PERCPU_DEAD);
	atomic_fetch_add_explicit(&r->data->count, 1, memory_order_relaxed);
	switch_mode_locked(r, NULL);
	pthread_mutex_unlock(&switch_lock);
}

int kref_percpu_reinit(struct kref_percpu *r)
{
	bool zero = kref_percpu_is_zero(r);

	if (!zero)
		warn_once(KB_PERCPU_WARN_REINIT_NOT_ZERO, "percpu ref %p: reinit of a ref that is not zero",
			  (void *)r);
	kref_percpu_resurrect(r);
	return zero ? 0 : -EBUSY;
}

/*
 * The rseq section did not run. Without usable rseq (rseq_ncpus 0 in every
 * ref), this is the atomic path, under the RCU read lock it needs. In an rseq
 * process, this thread is not registered (or runs on a CPU past the arena):
 * an atomic add on a slot could be lost under another thread's section on
 * that CPU, so the caller counts in the atomic count, valid in either mode.
 */
bool kb_percpu_add_off_rseq(struct kref_percpu *r, long n)
{
	bool added;

	if (kb_rseq_percpu_ok)
		return false;
	kb_rcu_read_lock();
	added = kb_percpu_add_atomic(r, n);
	kb_rcu_read_unlock();
	return added;
}

void kref_percpu_barrier(void)
{
	kb_rcu_barrier();
}

bool kb_percpu_dec_not_one(struct kref_percpu *r, bool rseq)
{
	long old;
	bool done = true;

	kb_percpu_enter(rseq);
	if (!kb_percpu_add(r, -1, rseq)) {
		old = atomic_load_explicit(&r->data->count, memory_order_relaxed);
		do {
			if (old == 1) {
				done = false;
				break;
			}
		} while (!atomic_compare_exchange_weak_explicit(&r->data->count, &old,
					(long)((unsigned long)old - 1),
					memory_order_release, memory_order_relaxed));
	}
	kb_percpu_exit(rseq);
	return done;
}

/*
 * The count itself says whether the bias is in: a folded count is within
 * 2^62 of 0, a biased one within 2^62 of 2^63. A separate "folded" flag would
 * race with the fold (count and flag change one after the other, and the fold
 * can be preempted in between) and return the raw biased count.
 */
long kref_percpu_read(const struct kref_percpu *r)
{
	unsigned long count;

	if (!r->data)	/* exited: the count exit kept */
		return (long)atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed) >> 2;
	count = (unsigned long)atomic_load_explicit(&r->data->count, memory_order_relaxed);

	if (count + (1UL << 62) < (1UL << 63))
		return (long)count;
	return (long)(count - KB_PERCPU_BIAS + sum_slots(r));
}

bool kref_percpu_is_dead(const struct kref_percpu *r)
{
	return atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed) & KB_PERCPU_DEAD;
}

bool kref_percpu_is_atomic(const struct kref_percpu *r)
{
	return atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed) & KB_PERCPU_ATOMIC;
}

bool kref_percpu_is_zero(const struct kref_percpu *r)
{
	long count;

	if (is_percpu(r))
		return false;
	pthread_mutex_lock(&switch_lock);	/* exit may be freeing data */
	if (r->data)
		count = atomic_load_explicit(&r->data->count, memory_order_relaxed);
	else
		count = (long)atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed) >> 2;
	pthread_mutex_unlock(&switch_lock);
	return count == 0;
}

void kref_percpu_exit(struct kref_percpu *r)
{
	struct kb_percpu_data *data = r->data;

	if (!data)
		return;
	pthread_mutex_lock(&switch_lock);
	if (data->confirm_switch)
		warn_once(KB_PERCPU_WARN_EXIT_SWITCHING, "percpu ref %p: exit while switching to atomic",
			  (void *)r);
	give_back_slots(r);
	/* Keep the count where is_zero finds it, as the kernel does. */
	atomic_store_explicit(&r->percpu_ptr,
			      ((uintptr_t)atomic_load_explicit(&data->count, memory_order_relaxed) << 2) |
			      KB_PERCPU_FLAGS, memory_order_relaxed);
	r->data = NULL;
	pthread_mutex_unlock(&switch_lock);
	free(data);
}

void kref_percpu_destroy(struct kref_percpu *r)
{
	kref_percpu_exit(r);
}
