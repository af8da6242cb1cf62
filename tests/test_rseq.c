/*
 * The per-CPU fast path as an rseq critical section (core/lib/rseq.h), and its
 * fallback:
 *
 * 1. which path `percpu` runs, and that it is the one claimed: on the rseq
 *    path a get arms the thread's rseq_cs with a descriptor of ours (version
 *    0, a short section, RSEQ_SIG right before the abort address); on the
 *    fallback the rseq area is never touched;
 * 2. exact sums while the workers are forced to migrate (a thread changing
 *    their affinity all the time);
 * 3. exact sums under a signal storm (a thread sending SIGUSR1 to every
 *    worker all the time), whose handler itself takes references on the
 *    same refs, so an interrupted section that failed to restart would lose
 *    the handler's increment;
 * 4. both at once with several threads per CPU: the restart path is taken
 *    (restarts > 0, and the per-thread counts add up to the total);
 * In 2-4 two of the refs are killed halfway while the workers keep going,
 * so the fence and fold race real traffic; every count is exact and every
 * ref is released exactly once.
 * 5. kb_rseq_fence() restarts a critical section running on another CPU;
 * 6. threads that unregistered rseq, racing registered ones on the same
 *    slots: they count in the atomic count (an atomic slot add could be
 *    lost under a section), and the sums stay exact;
 * 7. the same checks as 1-4 again in a child where glibc does not register
 *    rseq (GLIBC_TUNABLES=glibc.pthread.rseq=0): it must report and use the
 *    atomic fallback, with no restarts.
 *
 * In the ThreadSanitizer build `percpu` runs the atomic path (tsan cannot see
 * inside asm), and this test says so and checks that path.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "without_rseq.h"
#include "core/backends/percpu.h"
#include "core/lib/rseq.h"


#if defined(KREFBENCH_TSAN)
#define STRESS_SECONDS 0.6
#elif defined(KREFBENCH_ASAN)
#define STRESS_SECONDS 0.8
#else
#define STRESS_SECONDS 1.0
#endif

#define NREFS		4	/* refs 0 and 1 are killed halfway */
/* Under qemu-user (KREFBENCH_EMULATED, the arm64 cross build) there is no
 * rseq, every atomic is emulated, and a second is plenty. */
static double stress_seconds = STRESS_SECONDS;
#define MAXW		16

static cpu_set_t original_mask;
static int allowed[CPU_SETSIZE];
static int nallowed;
static bool child_fallback;	/* this process is the no-rseq child */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int pin_thread(pthread_t t, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(t, sizeof(set), &set);
}

static bool rseq_path(void) { return kb_percpu_use_rseq(); }

/* ---------------------------------------------------------------------- */
/* 1. the path in use */

static bool descriptor_ok(const struct rseq_cs *cs)
{
	uint32_t sig;

	if (((uintptr_t)cs & 31) || cs->version != 0 || cs->flags != 0)
		return false;
	if (cs->post_commit_offset == 0 || cs->post_commit_offset > 256)
		return false;
	memcpy(&sig, (const void *)(uintptr_t)(cs->abort_ip - 4), sizeof(sig));
	return sig == RSEQ_SIG;
}

static void test_path(void)
{
	struct kref_percpu r;
	struct rseq *rs = kb_rseq_area();
	uint64_t armed = 0;

	CHECK_EQ(kref_percpu_init(&r), 0, "init");
	printf("-- 1. percpu fast path: %s\n", kb_percpu_fast_path());
	printf("   rseq registered: %s (__rseq_size %u); rseq section built: %s\n",
	       kb_rseq_available() ? "yes" : "no", __rseq_size, KB_RSEQ_CS ? "yes" :
#if defined(KREFBENCH_TSAN)
	       "no (ThreadSanitizer build: percpu runs the atomic path, said plainly here)"
#else
	       "no (not x86-64)"
#endif
	       );
	if (child_fallback) {
		CHECK_EQ(__rseq_size, 0, "the child really runs without rseq");
		CHECK(!kb_rseq_percpu_decide(), "without rseq, percpu falls back");
		/* Why: no rseq; in a build without the section, the build. */
		CHECK(strstr(kb_percpu_fast_path(), "fallback") &&
		      (!KB_RSEQ_CS || strstr(kb_percpu_fast_path(), "__rseq_size == 0")),
		      "the metadata names the fallback and why: %s", kb_percpu_fast_path());
	} else if (KB_RSEQ_CS && kb_rseq_available()) {
		CHECK(kb_rseq_percpu_decide(), "rseq registered and built: percpu uses it");
	}
	CHECK(rseq_path() || strstr(kb_percpu_fast_path(), "fallback"), "never a silent fallback");
	if (rseq_path()) {
		/* The kernel clears rseq_cs lazily on preemption: look a few times. */
		for (int i = 0; i < 1000 && !armed; i++) {
			kref_percpu_get(&r);
			armed = __atomic_load_n(&rs->rseq_cs, __ATOMIC_RELAXED);
			CHECK_EQ(kref_percpu_put(&r, NULL), 0, "per-CPU put");
		}
		CHECK(armed != 0, "a get armed the thread's rseq_cs");
		CHECK(armed && descriptor_ok((const struct rseq_cs *)(uintptr_t)armed),
		      "rseq_cs -> our descriptor: version 0, short section, RSEQ_SIG before abort_ip");
	} else if (__rseq_size == 0) {
		uint64_t before = __atomic_load_n(&rs->rseq_cs, __ATOMIC_RELAXED);

		for (int i = 0; i < 1000; i++) {
			kref_percpu_get(&r);
			CHECK_EQ(kref_percpu_put(&r, NULL), 0, "per-CPU put");
		}
		CHECK_EQ(__atomic_load_n(&rs->rseq_cs, __ATOMIC_RELAXED), before,
			 "the fallback never arms a critical section");
	}
	CHECK_EQ(kref_percpu_read(&r), 1, "count back to 1");
	CHECK_EQ(kb_rseq_restarts() > 0 && !rseq_path(), 0, "no restarts counted off the rseq path");
	kref_percpu_destroy(&r);
}

/* ---------------------------------------------------------------------- */
/* 2-4. stress: migration, signals, both */

struct worker {
	pthread_t thread;
	atomic_bool ready;		/* registered with RCU: may take signals */
	unsigned int index;
	unsigned long ops, restarts;
	uint64_t rng;
} kb_cacheline_aligned;

static struct kref_percpu refs[NREFS];
static atomic_int releases[NREFS];
static atomic_ulong handler_gets[NREFS];
static struct worker workers[MAXW];
static int nworkers;
static atomic_bool stop_workers, stop_helpers;
static atomic_ulong bad_ops, signals_sent, migrations, affinity_failures;
static pthread_mutex_t put_mutex_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread unsigned int handler_turn;

static void on_release(struct kref_percpu *r)
{
	atomic_fetch_add(&releases[r - refs], 1);
}

/* Takes a reference on this thread's CPU slot of a ref the worker already holds. */
static void on_sigusr1(int sig)
{
	unsigned int k = handler_turn++ % NREFS;

	(void)sig;
	kref_percpu_get(&refs[k]);
	atomic_fetch_add_explicit(&handler_gets[k], 1, memory_order_relaxed);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* One get/put pair of some kind on a ref this worker holds a reference to. */
static void worker_op(uint64_t x)
{
	struct kref_percpu *r = &refs[x % NREFS];
	bool ok = true;

	switch ((x >> 8) % 4) {
	case 0: kref_percpu_get(r); break;
	case 1: ok = kref_percpu_tryget(r); break;
	case 2:
		if (!kref_percpu_tryget_live(r)) {	/* only once killed */
			if (!kref_percpu_is_dead(r))
				atomic_fetch_add(&bad_ops, 1);
			return;
		}
		break;
	case 3:		/* put_mutex: the lock-free decrement in per-CPU mode */
		kref_percpu_get(r);
		if (kref_percpu_put_mutex(r, on_release, &put_mutex_lock) != 0)
			atomic_fetch_add(&bad_ops, 1);
		return;
	}
	if (!ok || kref_percpu_put(r, on_release) != 0)
		atomic_fetch_add(&bad_ops, 1);	/* failed tryget or a release while held */
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned long restarts0 = kb_rseq_thread_restarts();

	/* The handler's get may need the RCU read lock (atomic path), and
	 * registering is not async-signal-safe: register before any signal. */
	kb_rcu_register();
	atomic_store(&w->ready, true);
	while (!atomic_load_explicit(&stop_workers, memory_order_relaxed)) {
		for (int i = 0; i < 64; i++)
			worker_op(rnd(&w->rng));
		w->ops += 64;
	}
	w->restarts = kb_rseq_thread_restarts() - restarts0;
	return NULL;
}

static void *migrator_main(void *arg)
{
	unsigned long round = 0;

	(void)arg;
	while (!atomic_load(&stop_helpers)) {
		for (int w = 0; w < nworkers; w++) {
			if (pin_thread(workers[w].thread, allowed[(round + (unsigned long)w) % (unsigned long)nallowed]))
				atomic_fetch_add(&affinity_failures, 1);
			else
				atomic_fetch_add_explicit(&migrations, 1, memory_order_relaxed);
		}
		round++;
		sched_yield();
	}
	return NULL;
}

static void *signaller_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_helpers)) {
		for (int w = 0; w < nworkers; w++)
			if (atomic_load(&workers[w].ready) && pthread_kill(workers[w].thread, SIGUSR1) == 0)
				atomic_fetch_add_explicit(&signals_sent, 1, memory_order_relaxed);
		for (volatile int spin = 0; spin < 2000; spin++)
			;
	}
	return NULL;
}

static void stress_setup(void)
{
	for (int k = 0; k < NREFS; k++) {
		CHECK_EQ(kref_percpu_init(&refs[k]), 0, "init");
		atomic_store(&releases[k], 0);
		atomic_store(&handler_gets[k], 0);
		/* Every worker's reference, and main's extra on the two it kills. */
		for (int w = 0; w < nworkers + (k < 2); w++)
			kref_percpu_get(&refs[k]);
	}
	atomic_store(&stop_workers, false);
	atomic_store(&stop_helpers, false);
	atomic_store(&bad_ops, 0);
	atomic_store(&signals_sent, 0);
	atomic_store(&migrations, 0);
}

/* Every count exact: initial (unless killed), workers', main's, the handlers'. */
static void stress_check_and_drop(const char *what)
{
	kref_percpu_barrier();
	for (int k = 0; k < NREFS; k++) {
		long want = (k >= 2) + nworkers + (k < 2) + (long)atomic_load(&handler_gets[k]);

		CHECK_EQ(kref_percpu_read(&refs[k]), want, what);
		CHECK_EQ(kref_percpu_is_atomic(&refs[k]), k < 2, "killed refs are atomic, the others per-CPU");
		if (k >= 2) {
			CHECK_EQ(kref_percpu_kill(&refs[k], on_release), 0, "kill");
			kref_percpu_barrier();
		}
		CHECK_EQ(atomic_load(&releases[k]), 0, "no release while references are held");
		for (long n = want - (k >= 2); n > 1; n--)
			CHECK_EQ(kref_percpu_put(&refs[k], on_release), 0, "put of a held reference");
		CHECK_EQ(kref_percpu_put(&refs[k], on_release), 1, "the last put releases");
		kref_percpu_barrier();
		CHECK_EQ(atomic_load(&releases[k]), 1, "released exactly once");
		kref_percpu_destroy(&refs[k]);
	}
}

static void stress(const char *name, bool migrate, bool signals, int per_cpu)
{
	pthread_t migrator, signaller;
	unsigned long restarts0, ops = 0, by_thread = 0, restarts;
	double t0 = now();

	nworkers = nallowed * per_cpu > MAXW ? MAXW : nallowed * per_cpu;
	stress_setup();
	restarts0 = kb_rseq_restarts();		/* from here on only workers add */
	for (int w = 0; w < nworkers; w++) {
		atomic_store(&workers[w].ready, false);
		workers[w].index = (unsigned int)w;
		workers[w].ops = 0;
		workers[w].rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(w + 1) ^ (uint64_t)time(NULL);
		pthread_create(&workers[w].thread, NULL, worker_main, &workers[w]);
	}
	if (migrate)
		pthread_create(&migrator, NULL, migrator_main, NULL);
	if (signals)
		pthread_create(&signaller, NULL, signaller_main, NULL);
	sleep_s(stress_seconds / 2);
	for (int k = 0; k < 2; k++)		/* kill while the workers go on */
		CHECK_EQ(kref_percpu_kill(&refs[k], on_release), 0, "kill halfway");
	sleep_s(stress_seconds / 2);
	atomic_store(&stop_helpers, true);
	if (migrate)
		pthread_join(migrator, NULL);
	if (signals)
		pthread_join(signaller, NULL);
	atomic_store(&stop_workers, true);
	for (int w = 0; w < nworkers; w++) {
		pthread_join(workers[w].thread, NULL);
		ops += workers[w].ops;
		by_thread += workers[w].restarts;
	}
	restarts = kb_rseq_restarts() - restarts0;
	printf("-- %s: %d workers on %d CPUs, %lu ops, %lu migrations, %lu signals sent "
	       "(%lu handled: pending ones coalesce), %lu rseq restarts\n", name, nworkers, nallowed, ops,
	       atomic_load(&migrations), atomic_load(&signals_sent),
	       atomic_load(&handler_gets[0]) + atomic_load(&handler_gets[1]) +
	       atomic_load(&handler_gets[2]) + atomic_load(&handler_gets[3]), restarts);
	CHECK_EQ(atomic_load(&bad_ops), 0, "failed trygets or releases while held");
	CHECK_EQ(atomic_load(&affinity_failures), 0, "pthread_setaffinity_np failures");
	CHECK_EQ(by_thread, restarts, "per-thread restart counts add up to the total");
	if (!rseq_path())
		CHECK_EQ(restarts, 0, "no restarts off the rseq path");
	if (signals)
		CHECK(atomic_load(&signals_sent) > 0, "signals were sent");
	if (migrate && nallowed > 1)
		CHECK(atomic_load(&migrations) > 0, "workers were moved");
	if (migrate && signals && rseq_path())
		CHECK(restarts > 0, "the restart path was taken");
	stress_check_and_drop(name);
	printf("   %.2f s\n", now() - t0);
}

/* ---------------------------------------------------------------------- */
/* 5. the fence restarts a section running on another CPU */

#if KB_RSEQ_CS
static atomic_int spin_stop, spin_entered;
static atomic_ulong spin_aborts, spin_beat;

/* A critical section that spins until *stop, bumping *beat (only this
 * thread writes it) to show it is running: 0 when it committed, 1 aborted. */
static int spin_in_section(atomic_int *stop, atomic_int *committed, atomic_ulong *beat)
{
	struct rseq *rs = kb_rseq_area();

	__asm__ goto(
		KB_RSEQ_ENTER
		"5:\n\t"
		"addq $1, (%[beat])\n\t"
		"pause\n\t"
		"cmpl $0, (%[stop])\n\t"
		"je 5b\n\t"
		"movl $1, (%[committed])\n\t"	/* commit */
		KB_RSEQ_LEAVE("aborted")
		:
		: [rs] "r"(rs), [stop] "r"(stop), [committed] "r"(committed), [beat] "r"(beat)
		: "rax", "cc", "memory"
		: aborted);
	return 0;
aborted:
	return 1;
}

static void *spinner_main(void *arg)
{
	atomic_int committed = 0;

	(void)arg;
	for (;;) {
		atomic_fetch_add(&spin_entered, 1);
		if (!spin_in_section(&spin_stop, &committed, &spin_beat))
			return NULL;
		atomic_fetch_add(&spin_aborts, 1);
	}
}

/*
 * Waits (up to a second) until the spinner runs again, and says whether it
 * restarted first: its restart count is bumped before it re-enters, and its
 * beat only moves inside a section, so a moved beat with the count unchanged
 * means the same section kept running.
 */
static bool restarted_before_running(unsigned long aborts_before)
{
	unsigned long beat = atomic_load(&spin_beat);
	double until = now() + 1;

	while (atomic_load(&spin_beat) == beat && now() < until)
		;
	return atomic_load(&spin_aborts) != aborts_before;
}
#endif

/*
 * After kb_rseq_fence() returns, the section the spinner was in must not run
 * another instruction: the next time it runs, it has restarted. (When the
 * spinner was off its CPU at the fence, its preemption restarts it; either
 * way the fence's guarantee holds.) Control: with no fence, the same
 * section mostly keeps running.
 */
static void test_fence(void)
{
#if KB_RSEQ_CS
	pthread_t spinner;
	unsigned long control = 0, fenced = 0;
	const int trials = 200;

	printf("-- 5. kb_rseq_fence() restarts a critical section running on another CPU\n");
	if (!rseq_path() || nallowed < 2) {
		printf("   not run: %s\n", rseq_path() ? "one CPU allowed" : "rseq path not in use");
		return;
	}
	pin_thread(pthread_self(), allowed[0]);
	pthread_create(&spinner, NULL, spinner_main, NULL);
	CHECK_EQ(pin_thread(spinner, allowed[1]), 0, "pin the spinner");
	while (!atomic_load(&spin_entered))
		sched_yield();
	for (int i = 0; i < trials; i++) {
		unsigned long before = atomic_load(&spin_aborts);

		control += restarted_before_running(before);
		before = atomic_load(&spin_aborts);
		kb_rseq_fence();
		fenced += restarted_before_running(before);
	}
	atomic_store(&spin_stop, 1);
	pthread_join(spinner, NULL);
	pthread_setaffinity_np(pthread_self(), sizeof(original_mask), &original_mask);
	printf("   restarted before running on: after %lu/%d fences; without a fence %lu/%d\n",
	       fenced, trials, control, trials);
	CHECK_EQ(fenced, trials, "after a fence, the old section never runs on");
	CHECK(control * 2 < (unsigned long)trials, "without a fence it mostly does (the check has teeth)");
#else
	printf("-- 5. fence: no rseq section in this build\n");
#endif
}

/* ---------------------------------------------------------------------- */
/* 6. unregistered threads beside registered ones */

#define MIX_THREADS	4	/* even: unregistered, odd: registered */
#define MIX_GETS	(200000 / (KB_RSEQ_CS ? 1 : 10))
static struct kref_percpu mix_ref;
static pthread_barrier_t mix_barrier;
static atomic_int mix_unregistered;

/* glibc registered the area with its full size; __rseq_size is the used part. */
static bool unregister_rseq(void)
{
	unsigned int lens[] = { sizeof(struct rseq), __rseq_size };

	for (int i = 0; i < 2; i++)
		if (syscall(__NR_rseq, kb_rseq_area(), lens[i], 1 /* RSEQ_FLAG_UNREGISTER */, RSEQ_SIG) == 0)
			return true;
	return false;
}

static void *mix_main(void *arg)
{
	uintptr_t i = (uintptr_t)arg;

	pin_thread(pthread_self(), allowed[(i / 2) % (unsigned int)nallowed]);	/* pairs share a CPU */
	if (i % 2 == 0 && unregister_rseq())
		atomic_fetch_add(&mix_unregistered, 1);
	pthread_barrier_wait(&mix_barrier);
	for (int n = 0; n < MIX_GETS; n++)
		kref_percpu_get(&mix_ref);
	pthread_barrier_wait(&mix_barrier);	/* main checks the sum */
	pthread_barrier_wait(&mix_barrier);
	for (int n = 0; n < MIX_GETS; n++)
		if (kref_percpu_put(&mix_ref, NULL))
			atomic_fetch_add(&bad_ops, 1);
	return NULL;
}

static void test_unregistered(void)
{
	pthread_t t[MIX_THREADS];

	printf("-- 6. unregistered threads racing registered ones on the same slots\n");
	if (!rseq_path()) {
		printf("   not run: rseq path not in use\n");
		return;
	}
	atomic_store(&bad_ops, 0);
	CHECK_EQ(kref_percpu_init(&mix_ref), 0, "init");
	pthread_barrier_init(&mix_barrier, NULL, MIX_THREADS + 1);
	for (uintptr_t i = 0; i < MIX_THREADS; i++)
		pthread_create(&t[i], NULL, mix_main, (void *)i);
	pthread_barrier_wait(&mix_barrier);
	pthread_barrier_wait(&mix_barrier);
	printf("   %d of %d threads unregistered\n", atomic_load(&mix_unregistered), MIX_THREADS / 2);
	CHECK_EQ(atomic_load(&mix_unregistered), MIX_THREADS / 2, "rseq unregistered in the even threads");
	CHECK_EQ(kref_percpu_read(&mix_ref), 1 + (long)MIX_THREADS * MIX_GETS, "exact sum after the gets");
	CHECK_EQ(atomic_load(&mix_ref.data->count) - (long)(1 + KB_PERCPU_BIAS),
		 (long)atomic_load(&mix_unregistered) * MIX_GETS,
		 "unregistered threads counted in the atomic count, registered ones in slots");
	pthread_barrier_wait(&mix_barrier);
	for (int i = 0; i < MIX_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&mix_barrier);
	CHECK_EQ(kref_percpu_read(&mix_ref), 1, "exact sum after the puts");
	CHECK_EQ(atomic_load(&bad_ops), 0, "no put released");
	kref_percpu_destroy(&mix_ref);
}

/* ---------------------------------------------------------------------- */
/* 7. again without rseq */

static void run_fallback_child(void)
{
	char *argv[] = { "test_rseq", "--fallback", NULL };
	int status;

	printf("-- 7. again with GLIBC_TUNABLES=glibc.pthread.rseq=0\n");
	status = run_self_without_rseq(argv);
	CHECK(status != -1, "spawn self without rseq");
	if (status == -1)
		return;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the fallback child passed (status %d)", status);
}

static void install_handler(void)
{
	struct sigaction sa = { .sa_handler = on_sigusr1, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

int main(int argc, char **argv)
{
	double t0 = now();

	setvbuf(stdout, NULL, _IOLBF, 0);
	child_fallback = argc > 1 && strcmp(argv[1], "--fallback") == 0;
	if (sched_getaffinity(0, sizeof(original_mask), &original_mask) != 0)
		return 2;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &original_mask))
			allowed[nallowed++] = c;
	if (getenv("KREFBENCH_EMULATED"))
		stress_seconds = 0.3;
	install_handler();
	printf("test_rseq%s: %d CPUs allowed\n", child_fallback ? " (fallback child)" : "", nallowed);
	test_path();
	stress("2. forced migration", true, false, 2);
	stress("3. signal storm", false, true, 2);
	stress("4. migration + signals, 4 threads per CPU", true, true, 4);
	if (!child_fallback) {
		test_fence();
		test_unregistered();
		if (__rseq_size > 0)
			run_fallback_child();
		else
			printf("-- 7. rseq not registered here: the checks above were the fallback's\n");
	}
	printf("%swall time %.2f s\n", child_fallback ? "   child: " : "", now() - t0);
	return check_summary();
}
