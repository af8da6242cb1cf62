/*
 * Compiler helpers shared by every backend.
 *
 * Fast paths are `static inline`; the rare paths (warnings, saturation, mode
 * switches) are out of line and marked cold so the compiler keeps them away
 * from the hot instruction stream, as Linux does with refcount_warn_saturate().
 */
#ifndef KREFBENCH_CORE_COMPILER_H
#define KREFBENCH_CORE_COMPILER_H

#define kb_likely(x)   __builtin_expect(!!(x), 1)
#define kb_unlikely(x) __builtin_expect(!!(x), 0)
#define kb_cold        __attribute__((cold, noinline))
#define kb_must_check  __attribute__((warn_unused_result))
#define kb_always_inline inline __attribute__((always_inline))

/* Cache line size for padding. 64 on x86-64; 128 covers arm64 parts whose
 * prefetcher pulls pairs of lines, so per-thread state never false-shares. */
#if defined(__aarch64__)
#define KB_CACHELINE 128
#else
#define KB_CACHELINE 64
#endif
#define kb_cacheline_aligned __attribute__((aligned(KB_CACHELINE)))

/* Paste two tokens after expanding them (KB_CAT(kref_, KREF_BACKEND)). */
#define KB_CAT_(a, b) a##b
#define KB_CAT(a, b) KB_CAT_(a, b)

#define kb_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - __builtin_offsetof(type, member)))

/* Keep a value alive and opaque to the optimizer without emitting code. */
#define kb_blackhole(v) __asm__ __volatile__("" : : "r"(v) : "memory")
#define kb_barrier()    __asm__ __volatile__("" : : : "memory")

/*
 * ThreadSanitizer cannot see ordering made by inline asm (liburcu's uatomic
 * on x86) or by an RCU grace period. These annotations tell it what the
 * hardware and RCU guarantee; they compile to nothing outside the tsan build.
 */
#if defined(KREFBENCH_TSAN)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define kb_tsan_acquire(p) __tsan_acquire((void *)(p))
#define kb_tsan_release(p) __tsan_release((void *)(p))
/* Stop checking this thread's memory accesses (not its synchronisation):
 * for library code whose own ordering tsan cannot see. */
#define kb_tsan_ignore_begin() __tsan_ignore_thread_begin()
#define kb_tsan_ignore_end()   __tsan_ignore_thread_end()
#else
#define kb_tsan_acquire(p) ((void)(p))
#define kb_tsan_release(p) ((void)(p))
#define kb_tsan_ignore_begin() ((void)0)
#define kb_tsan_ignore_end()   ((void)0)
#endif

/*
 * The acquire that follows a decrement which reached zero, so that the thread
 * about to release sees every access made under the other references. A fence
 * is what the kernel uses, but ThreadSanitizer does not model fences (GCC
 * refuses them under -fsanitize=thread: -Werror=tsan). There, an acquire load
 * of the counter gives the same ordering: it reads the end of the release
 * sequence that every earlier (release) decrement heads. Needs <stdatomic.h>.
 */
#if defined(KREFBENCH_TSAN)
#define kb_acquire_after_dec(counter) \
	((void)atomic_load_explicit((counter), memory_order_acquire))
#else
#define kb_acquire_after_dec(counter) atomic_thread_fence(memory_order_acquire)
#endif

/*
 * Test hooks: a named point inside a two-step update where a forced-schedule
 * test (tests/test_forced.c) stops the thread and runs the racing operation.
 * Only kb_core_hooks (core/CMakeLists.txt) and that test are compiled with
 * KREFBENCH_TEST_HOOKS; everywhere else a hook is no code at all, so the
 * benchmark's hot paths are the same with or without them. The test defines
 * kb_test_hook(). Step names are "<scheme>.<function>.<point>".
 */
#if defined(KREFBENCH_TEST_HOOKS)
void kb_test_hook(const char *step, void *obj);
#define KB_TEST_HOOK(step, obj) kb_test_hook((step), (void *)(obj))
#else
#define KB_TEST_HOOK(step, obj) ((void)0)
#endif

#endif
