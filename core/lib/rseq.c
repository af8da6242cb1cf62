/* The run-time side of the rseq fast path: the once-per-process decision,
 * restart counters, and the membarrier fence kill() relies on. */
#include "core/lib/rseq.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

bool kb_rseq_percpu_ok;
static char fast_path[256];
static pthread_once_t decide_once = PTHREAD_ONCE_INIT;

static __thread unsigned long thread_restarts;
static atomic_ulong all_restarts;

/* Fence requests, and the highest request number a completed fence covers. */
static atomic_ulong fence_requests, fence_covered;

static long membarrier(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}

#define ATOMIC_PATH "per-CPU atomic add under the RCU read lock (fallback: "

static const char *why_not_built(void)
{
#if defined(KREFBENCH_TSAN)
	return "ThreadSanitizer build: tsan cannot see inside the rseq asm";
#else
	return "no rseq critical section for this architecture (x86-64 only)";
#endif
}

/* Registration failures that leave the atomic path; NULL when rseq is usable. */
static const char *why_not_usable(char *buf, size_t len)
{
	if (!KB_RSEQ_CS)
		return why_not_built();
	if (__rseq_size == 0)
		return "rseq not registered by glibc, __rseq_size == 0: "
		       "GLIBC_TUNABLES=glibc.pthread.rseq=0, an old kernel, or qemu-user";
	if (__rseq_size < offsetof(struct rseq, flags) ||
	    (int)__atomic_load_n(&kb_rseq_area()->cpu_id, __ATOMIC_RELAXED) < 0)
		return "rseq registration failed for this thread";
	if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) != 0) {
		snprintf(buf, len, "membarrier(REGISTER_PRIVATE_EXPEDITED_RSEQ) failed: %s, "
			 "so kill() could not fence critical sections", strerror(errno));
		return buf;
	}
	return NULL;
}

static void decide(void)
{
	char buf[160];
	const char *why = why_not_usable(buf, sizeof(buf));

	kb_rseq_percpu_ok = why == NULL;
	if (why)
		snprintf(fast_path, sizeof(fast_path), ATOMIC_PATH "%s)", why);
	else
		snprintf(fast_path, sizeof(fast_path), "rseq critical section: plain add on this CPU's "
			 "slot, restarted on preemption, migration or signal; no RCU read lock, "
			 "kill fences with membarrier(PRIVATE_EXPEDITED_RSEQ)");
}

bool kb_rseq_percpu_decide(void)
{
	pthread_once(&decide_once, decide);
	return kb_rseq_percpu_ok;
}

const char *kb_percpu_fast_path(void)
{
	kb_rseq_percpu_decide();
	return fast_path;
}

void kb_rseq_count_restart(void)
{
	thread_restarts++;
	atomic_fetch_add_explicit(&all_restarts, 1, memory_order_relaxed);
}

unsigned long kb_rseq_restarts(void)
{
	return atomic_load_explicit(&all_restarts, memory_order_relaxed);
}

unsigned long kb_rseq_thread_restarts(void) { return thread_restarts; }

/* The fence cannot be skipped: a failure we cannot wait out is fatal. */
void kb_rseq_fence(void)
{
	for (int tries = 0; membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) != 0; tries++) {
		if ((errno != ENOMEM && errno != EAGAIN && errno != EINTR) || tries == 1000) {
			fprintf(stderr, "krefbench: membarrier(PRIVATE_EXPEDITED_RSEQ) failed: %s\n",
				strerror(errno));
			abort();
		}
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
}

/* seq_cst: ordered after the caller's store (the mode switch) on every CPU. */
void kb_rseq_fence_request(void)
{
	atomic_fetch_add(&fence_requests, 1);
}

void kb_rseq_fence_pending(void)
{
	unsigned long want = atomic_load(&fence_requests), seen;

	if (atomic_load(&fence_covered) >= want)
		return;		/* a fence issued after `want` requests completed */
	kb_rseq_fence();
	seen = atomic_load(&fence_covered);
	while (seen < want && !atomic_compare_exchange_weak(&fence_covered, &seen, want))
		;
}
