/* The slow paths of the per-CPU backends: the slot arena, kill and the switch
 * to atomic mode, reinit. Semantics follow lib/percpu-refcount.c. */
#include "core/percpu.h"

#include <errno.h>
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

static atomic_ulong double_kills;

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
size_t kb_percpu_bytes_per_object(void)
{
	return (size_t)kb_possible_cpus() * SLOT_BYTES + sizeof(struct kref_percpu) +
	       sizeof(struct kb_percpu_data);
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

	for (unsigned int cpu = 0; cpu < r->ncpus; cpu++)
		sum += (unsigned long)atomic_load_explicit(kb_percpu_slot_of(r, cpu), memory_order_relaxed);
	return sum;
}

int kref_percpu_init_in(struct kref_percpu *r, struct kb_percpu_arena *a)
{
	struct kb_percpu_data *data = calloc(1, sizeof(*data));
	unsigned int index;

	if (!data)
		return -ENOMEM;
	if (arena_take(a, &index)) {
		free(data);
		return -ENOMEM;
	}
	data->arena = a;
	atomic_init(&data->count, (long)(1 + KB_PERCPU_BIAS));
	r->data = data;
	r->stride = (uint32_t)a->stride;
	r->ncpus = (uint16_t)a->ncpus;
	r->rseq_ncpus = kb_rseq_percpu_decide() ? r->ncpus : 0;
	atomic_init(&r->percpu_ptr, (uintptr_t)(a->base + (size_t)index * SLOT_BYTES));
	zero_slots(r);
	return 0;
}

/*
 * Runs a grace period after kill(), and after the rseq fence: no atomic-path
 * operation (RCU readers) and no rseq critical section that read per-CPU mode
 * is still going, so nobody adds to the slots any more.
 */
static void fold_slots_after_grace_period(struct rcu_head *head)
{
	struct kref_percpu *r = kb_container_of(head, struct kref_percpu, rcu);
	struct kb_percpu_data *data;
	unsigned long sum;

	kb_rcu_callback_entry();	/* before the first access to the ref */
	if (kb_rseq_percpu_ok)
		kb_rseq_fence_pending();
	data = r->data;
	sum = sum_slots(r);
	atomic_fetch_add_explicit(&data->count, (long)(sum - KB_PERCPU_BIAS), memory_order_relaxed);
	/* Drop the reference kill() took to keep the ref alive until now. */
	if (atomic_fetch_sub_explicit(&data->count, 1, memory_order_release) == 1) {
		kb_acquire_after_dec(&data->count);
		data->release(r);
	}
	kb_rcu_callback_exit();
}

int kref_percpu_init_atomic_in(struct kref_percpu *r, struct kb_percpu_arena *a)
{
	int err = kref_percpu_init_in(r, a);

	if (err)
		return err;
	atomic_store_explicit(&r->data->count, 1, memory_order_relaxed);
	atomic_fetch_or_explicit(&r->percpu_ptr, KB_PERCPU_ATOMIC, memory_order_relaxed);
	return 0;
}

int kref_percpu_init_atomic(struct kref_percpu *r)
{
	struct kb_percpu_arena *a = kb_percpu_default_arena();

	return a ? kref_percpu_init_atomic_in(r, a) : -ENOMEM;
}

/* Killing a ref that never left atomic mode: nothing to fold, no grace period. */
static int kill_atomic_mode(struct kref_percpu *r)
{
	atomic_fetch_or_explicit(&r->percpu_ptr, KB_PERCPU_DEAD, memory_order_release);
	return kb_percpu_put_via(r, r->data->release, false);
}

int kref_percpu_kill(struct kref_percpu *r, void (*release)(struct kref_percpu *))
{
	struct kb_percpu_data *data = r->data;
	uintptr_t old;

	old = atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed);
	if ((old & KB_PERCPU_FLAGS) == KB_PERCPU_ATOMIC) {
		data->release = release;
		return kill_atomic_mode(r);
	}
	/* Hold a reference across the switch so the count cannot hit zero
	 * before the slots are folded in. */
	atomic_fetch_add_explicit(&data->count, 1, memory_order_relaxed);
	/* seq_cst: the fence requested below must be ordered after this. */
	old = atomic_fetch_or(&r->percpu_ptr, KB_PERCPU_FLAGS);
	if (kb_unlikely(old & KB_PERCPU_DEAD)) {
		atomic_fetch_add_explicit(&double_kills, 1, memory_order_relaxed);
		fprintf(stderr, "percpu_ref_kill called more than once\n");
		/* Undo our extra reference as a put: every other holder may have
		 * dropped theirs meanwhile, and then this one is the last. */
		if (atomic_fetch_sub_explicit(&data->count, 1, memory_order_release) == 1) {
			kb_acquire_after_dec(&data->count);
			data->release(r);
			return 1;
		}
		return 0;
	}
	/* Only the first kill stores release: a second one would race with
	 * the fold callback reading it. */
	data->release = release;
	/* The initial reference; cannot be the last while the bias is in.
	 * Dropped before queueing the fold, which may run at once. */
	atomic_fetch_sub_explicit(&data->count, 1, memory_order_release);
	if (kb_rseq_percpu_ok)
		kb_rseq_fence_request();
	kb_rcu_call(&r->rcu, fold_slots_after_grace_period);
	return 0;
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
	unsigned long count = (unsigned long)atomic_load_explicit(&r->data->count, memory_order_relaxed);

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

int kref_percpu_reinit(struct kref_percpu *r)
{
	if (!kref_percpu_is_dead(r) || atomic_load_explicit(&r->data->count, memory_order_acquire) != 0)
		return -EBUSY;
	zero_slots(r);
	atomic_store_explicit(&r->data->count, (long)(1 + KB_PERCPU_BIAS), memory_order_relaxed);
	atomic_fetch_and_explicit(&r->percpu_ptr, ~KB_PERCPU_FLAGS, memory_order_release);
	return 0;
}

void kref_percpu_destroy(struct kref_percpu *r)
{
	struct kb_percpu_arena *a;
	uintptr_t slot;

	if (!r->data)
		return;
	a = r->data->arena;
	slot = atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed) & ~KB_PERCPU_FLAGS;
	arena_give_back(a, (unsigned int)((slot - (uintptr_t)a->base) / SLOT_BYTES));
	free(r->data);
	r->data = NULL;
}

unsigned long kb_percpu_double_kills(void)
{
	return atomic_load_explicit(&double_kills, memory_order_relaxed);
}
