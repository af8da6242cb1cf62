/*
 * Restartable sequences on the rseq area glibc registers for every thread
 * (glibc 2.35+: __rseq_offset and __rseq_size in <sys/rseq.h>).
 *
 * A critical section is a run of instructions [start, post_commit) described
 * by a struct rseq_cs in the __rseq_cs section. The thread stores the
 * descriptor's address in its area's rseq_cs field, then runs the section.
 * If the kernel preempts the thread, migrates it or delivers a signal to it
 * while its instruction pointer is inside the section, it does not resume
 * there: it resumes at the descriptor's abort address, whose 4 preceding
 * bytes must be the signature glibc registered (RSEQ_SIG). So a section that
 * reads cpu_id, loads that CPU's slot, adds and stores it back with one plain
 * store (the commit, the section's last instruction) is atomic against every
 * other thread that touches that CPU's slot the same way: nobody else can
 * run on the CPU between its load and its store without the section being
 * restarted. No lock prefix, no fence.
 *
 * The per-CPU backend also needs the opposite direction: kill() must know
 * that no section which read the old mode can still commit. A membarrier
 * (MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) restarts every section running on
 * any thread of the process when it is issued; sections preempted earlier
 * restart when they resume anyway. That is the userspace analogue of the
 * kernel's rcu_read_lock() = preempt_disable() around this_cpu_add():
 * kb_rseq_fence_request()/kb_rseq_fence_pending() below.
 *
 * Built on x86-64 only, and not under ThreadSanitizer, which cannot see the
 * memory accesses inside asm (the per-CPU code uses its atomic path there
 * and says so). Whether it is usable is decided once at run time:
 * kb_rseq_percpu_decide(); kb_percpu_fast_path() says which path and why.
 */
#ifndef KREFBENCH_CORE_RSEQ_H
#define KREFBENCH_CORE_RSEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/rseq.h>

#include "core/lib/compiler.h"

#if defined(__x86_64__) && !defined(KREFBENCH_TSAN)
#define KB_RSEQ_CS 1
#else
#define KB_RSEQ_CS 0
#endif

static inline struct rseq *kb_rseq_area(void)
{
	return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

/* glibc registered rseq for this process and for the calling thread. */
static inline bool kb_rseq_available(void)
{
	return __rseq_size > 0 && (int)__atomic_load_n(&kb_rseq_area()->cpu_id, __ATOMIC_RELAXED) >= 0;
}

/*
 * Decides, once per process, whether the per-CPU fast path may run as an
 * rseq critical section: built for it (x86-64, not tsan), rseq registered,
 * and the membarrier fence kill() needs registered. Returns the decision,
 * which is also in kb_rseq_percpu_ok. Call before the first per-CPU ref
 * exists (kref_percpu_init does); it never changes afterwards.
 */
bool kb_rseq_percpu_decide(void);
extern bool kb_rseq_percpu_ok;
/* For the run's metadata: the per-CPU fast path in use, and why. */
const char *kb_percpu_fast_path(void);

/* Aborted (restarted) critical sections: all threads, or the calling one. */
unsigned long kb_rseq_restarts(void);
unsigned long kb_rseq_thread_restarts(void);
kb_cold void kb_rseq_count_restart(void);

/*
 * The fence, in two halves so that many kills share one membarrier:
 * request after the store readers must see (the switch out of per-CPU
 * mode); pending, before relying on it (the fold), returns once a fence
 * issued after every earlier request has completed.
 */
void kb_rseq_fence_request(void);
void kb_rseq_fence_pending(void);
/* One membarrier now: every running critical section restarts. */
void kb_rseq_fence(void);

#if KB_RSEQ_CS
_Static_assert(offsetof(struct rseq, cpu_id) == 4, "rseq ABI: cpu_id at 4");
_Static_assert(offsetof(struct rseq, rseq_cs) == 8, "rseq ABI: rseq_cs at 8");
_Static_assert(RSEQ_SIG == 0x53053053, "the signature glibc registers on x86");

/*
 * Asm pieces for a critical section, usable by any asm goto statement that
 * has the thread's struct rseq * as operand [rs] and clobbers rax:
 * KB_RSEQ_ENTER emits the descriptor (local label 3) for the section from
 * label 1 to label 2 with abort label 4, and arms it; the section's code
 * follows and must end with its commit; KB_RSEQ_LEAVE(label) closes it and
 * emits the abort stub, which jumps to the C label `label`. The stub lives
 * in its own section, preceded by the signature (as the operand of a ud1,
 * so that falling into it traps).
 */
#define KB_RSEQ_ENTER							\
	".pushsection __rseq_cs, \"aw\"\n\t"				\
	".balign 32\n"							\
	"3:\n\t"							\
	".long 0, 0\n\t"		/* version, flags */		\
	".quad 1f, 2f - 1f, 4f\n\t"	/* start, length, abort */	\
	".popsection\n\t"						\
	"leaq 3b(%%rip), %%rax\n\t"					\
	"movq %%rax, 8(%[rs])\n"	/* arm: rs->rseq_cs = &cs */	\
	"1:\n\t"
#define KB_RSEQ_LEAVE(label)						\
	"2:\n\t"							\
	".pushsection __rseq_failure, \"ax\"\n\t"			\
	".byte 0x0f, 0xb9, 0x3d\n\t"					\
	".long 0x53053053\n"		/* RSEQ_SIG */			\
	"4:\n\t"							\
	"jmp %l[" label "]\n\t"						\
	".popsection\n\t"
#endif

/* The low bits of a per-CPU counter's word that mean "not per-CPU now". */
#define KB_RSEQ_WORD_FLAGS 3UL

enum kb_rseq_add {
	KB_RSEQ_ADDED,		/* n is in this CPU's slot */
	KB_RSEQ_NOT_PERCPU,	/* the word had a flag bit set: nothing added */
	KB_RSEQ_NO_CPU,		/* cpu_id not below ncpus (thread not
				 * registered, ncpus 0, a CPU past the
				 * counter): nothing added */
};

/*
 * Adds n to the calling CPU's slot of a per-CPU counter, the slot for CPU c
 * being at (*word) + c * stride, all inside one critical section: cpu_id, the
 * word (so a switch out of per-CPU mode, which sets a KB_RSEQ_WORD_FLAGS bit,
 * is either seen or restarts the section), the slot, the add, and the commit
 * store. Restarts (counted) until it commits or bails out. A caller passing
 * ncpus 0 (no usable rseq) never touches the rseq area; a thread that rseq
 * is not registered for arms its unregistered area, which nothing reads,
 * and bails out on cpu_id.
 */
static kb_always_inline enum kb_rseq_add kb_rseq_slot_add(const void *word, unsigned int ncpus,
		unsigned long stride, long n)
{
#if KB_RSEQ_CS
	struct rseq *rs = kb_rseq_area();

	for (;;) {
		__asm__ goto(
			"testl %[ncpus], %[ncpus]\n\t"
			"jz %l[no_cpu]\n\t"
			KB_RSEQ_ENTER
			"movl 4(%[rs]), %%eax\n\t"	/* cpu_id; -1/-2 are huge unsigned */
			"cmpl %[ncpus], %%eax\n\t"
			"jae %l[no_cpu]\n\t"
			"movq (%[word]), %%rdx\n\t"
			"testq %[flags], %%rdx\n\t"
			"jnz %l[not_percpu]\n\t"
			"imulq %[stride], %%rax\n\t"
			"addq %%rdx, %%rax\n\t"		/* &slot */
			"movq (%%rax), %%rdx\n\t"
			"addq %[n], %%rdx\n\t"
			"movq %%rdx, (%%rax)\n\t"	/* commit */
			KB_RSEQ_LEAVE("aborted")
			:
			: [rs] "r"(rs), [word] "r"(word), [ncpus] "r"(ncpus),
			  [stride] "r"(stride), [n] "r"(n), [flags] "i"(KB_RSEQ_WORD_FLAGS)
			: "rax", "rdx", "cc", "memory"
			: aborted, no_cpu, not_percpu);
		return KB_RSEQ_ADDED;
aborted:
		kb_rseq_count_restart();
	}
no_cpu:
	return KB_RSEQ_NO_CPU;
not_percpu:
	return KB_RSEQ_NOT_PERCPU;
#else
	(void)word, (void)ncpus, (void)stride, (void)n;
	return KB_RSEQ_NO_CPU;
#endif
}

#endif
