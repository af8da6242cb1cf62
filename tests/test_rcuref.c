/*
 * The rcuref backend (core/backends/rcuref.h) against include/linux/rcuref.h and
 * lib/rcuref.c:
 *
 * 1. zones, single-threaded, on the stored value itself: ONEREF after init,
 *    get/put inside the valid zone, the last put NOREF -> DEAD, get on DEAD
 *    failing and leaving DEAD, the boundaries MAXREF, RELEASED and NOREF;
 * 2. saturation: a get past MAXREF warns once per event and parks the value
 *    on SATURATED; gets and puts on a saturated ref keep it there, never
 *    release; an imbalanced put on a dead ref warns and restores DEAD;
 * 3. the last put's cmpxchg uses the value its decrement returned: a get
 *    between the decrement and the cmpxchg wins (no release), and of two
 *    puts that both saw NOREF only one releases;
 * 4. the kref layer: get on a dead ref warns (GET_DEAD), get_unless_zero
 *    fails, put_mutex/put_lock take the lock only for the last reference;
 * 5. put racing get on the last reference, many rounds, several threads:
 *    exactly one release per object, by the last put, and no get succeeds
 *    after it.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "core/backends/rcuref.h"

#if defined(KREFBENCH_TSAN)
#define RACE_ROUNDS 4000
#elif defined(KREFBENCH_ASAN)
#define RACE_ROUNDS 20000
#else
#define RACE_ROUNDS 50000
#endif
#define RACERS 3	/* getters racing the owner's last put */
/* Under qemu-user (the arm64 cross build sets KREFBENCH_EMULATED) every
 * atomic is emulated and the spinning threads share the host's CPUs. */
#define EMULATED_DIVISOR 50

static unsigned int race_rounds = RACE_ROUNDS;

static unsigned int raw(rcuref_t *r)
{
	return atomic_load_explicit(&r->refcnt, memory_order_relaxed);
}

static void set_raw(rcuref_t *r, unsigned int v)
{
	atomic_store_explicit(&r->refcnt, v, memory_order_relaxed);
}

static unsigned long warned(enum rcuref_warning w) { return rcuref_warnings(w); }

static void expect_no_warnings(const char *what)
{
	for (int w = 0; w < RCUREF_NR_WARNINGS; w++)
		CHECK_EQ(warned(w), 0, what);
}

/* Busy-wait, yielding now and then: more threads than CPUs here. */
#define SPIN_UNTIL(cond)							\
	for (unsigned int _spins = 0; !(cond); _spins++)			\
		if (_spins % 64 == 63)						\
			sched_yield()

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------------- */

static void test_zones(void)
{
	rcuref_t r = RCUREF_INIT(1);
	bool ok;

	printf("-- 1. zones\n");
	rcuref_warnings_reset();
	CHECK_EQ(raw(&r), RCUREF_ONEREF, "RCUREF_INIT(1) stores ONEREF (refs - 1)");
	CHECK_EQ(rcuref_read(&r), 1, "read after init");
	rcuref_init(&r, 3);
	CHECK_EQ(raw(&r), 2, "rcuref_init(3) stores 2");
	rcuref_init(&r, 1);
	ok = rcuref_get(&r);
	CHECK(ok, "get on a live ref");
	CHECK_EQ(raw(&r), 1, "get: 0 -> 1");
	CHECK_EQ(rcuref_read(&r), 2, "read after get");
	CHECK(!rcuref_put(&r), "put 2 -> 1 does not release");
	CHECK_EQ(raw(&r), RCUREF_ONEREF, "put: back to ONEREF");
	CHECK(rcuref_put(&r), "the last put releases");
	CHECK_EQ(raw(&r), RCUREF_DEAD, "the last put: NOREF -> DEAD");
	CHECK_EQ(rcuref_read(&r), 0, "read of a dead ref");
	ok = rcuref_get(&r);
	CHECK(!ok, "get on a dead ref fails");
	CHECK_EQ(raw(&r), RCUREF_DEAD, "a failed get puts DEAD back");

	/* Boundaries of the valid and dead zones. */
	set_raw(&r, RCUREF_MAXREF - 1);
	ok = rcuref_get(&r);
	CHECK(ok && raw(&r) == RCUREF_MAXREF, "get up to MAXREF: fast path, no warning");
	CHECK_EQ(rcuref_read(&r), 0x80000000u, "read at MAXREF is 2^31");
	set_raw(&r, RCUREF_RELEASED);
	CHECK_EQ(rcuref_read(&r), 0, "read at RELEASED is 0");
	ok = rcuref_get(&r);
	CHECK(!ok && raw(&r) == RCUREF_DEAD, "get at RELEASED fails and parks on DEAD");
	set_raw(&r, RCUREF_RELEASED - 1);
	CHECK_EQ(rcuref_read(&r), RCUREF_RELEASED, "read at the top of the saturation zone");
	set_raw(&r, RCUREF_NOREF);
	CHECK_EQ(rcuref_read(&r), 0, "read at NOREF is 0");
	ok = rcuref_get(&r);
	CHECK(ok && raw(&r) == RCUREF_ONEREF, "get at NOREF (last put not yet DEAD) takes it back to ONEREF");
	expect_no_warnings("no warnings in the zone walk");
}

/* rcuref_put_rcusafe: the put for a caller already inside a read-side
 * section; the same zones and result as rcuref_put. */
static void test_put_rcusafe(void)
{
	rcuref_t r = RCUREF_INIT(2);
	bool released;

	printf("-- rcuref_put_rcusafe inside a read-side section\n");
	kb_rcu_read_lock();
	released = rcuref_put_rcusafe(&r);
	CHECK(!released && raw(&r) == RCUREF_ONEREF, "put_rcusafe 2 -> 1 does not release");
	released = rcuref_put_rcusafe(&r);
	CHECK(released && raw(&r) == RCUREF_DEAD, "the last put_rcusafe releases: DEAD");
	released = rcuref_put_rcusafe(&r);
	CHECK(!released && raw(&r) == RCUREF_DEAD, "put_rcusafe on a dead ref: no second release");
	kb_rcu_read_unlock();
	CHECK_EQ(warned(RCUREF_WARN_IMBALANCED_PUT), 1, "the imbalanced put_rcusafe warned");
	rcuref_warnings_reset();
}

static void test_saturation(void)
{
	rcuref_t r;
	bool ok;

	printf("-- 2. saturation and imbalanced puts\n");
	rcuref_warnings_reset();
	set_raw(&r, RCUREF_MAXREF);
	ok = rcuref_get(&r);
	CHECK(ok, "get past MAXREF still succeeds");
	CHECK_EQ(raw(&r), RCUREF_SATURATED, "get past MAXREF parks on SATURATED");
	CHECK_EQ(warned(RCUREF_WARN_SATURATED), 1, "saturation warned");
	ok = rcuref_get(&r);
	CHECK(ok && raw(&r) == RCUREF_SATURATED, "get on SATURATED stays SATURATED");
	CHECK_EQ(warned(RCUREF_WARN_SATURATED), 2, "every saturated get warns (counted; printed once)");
	for (int i = 0; i < 1000; i++)
		CHECK(!rcuref_put(&r), "put on a saturated ref never releases");
	CHECK_EQ(raw(&r), RCUREF_SATURATED, "puts on SATURATED restore SATURATED");
	CHECK_EQ(warned(RCUREF_WARN_SATURATED), 2, "puts on a saturated ref do not warn");
	set_raw(&r, RCUREF_RELEASED - 2);
	ok = rcuref_get(&r);
	CHECK(ok && raw(&r) == RCUREF_SATURATED, "get near the top of the zone re-centres it");
	set_raw(&r, 0x80000000u);
	CHECK(!rcuref_put(&r) && raw(&r) == RCUREF_MAXREF, "put from the zone's bottom edge: fast path");
	CHECK_EQ(warned(RCUREF_WARN_IMBALANCED_PUT), 0, "no imbalance yet");

	rcuref_init(&r, 1);
	CHECK(rcuref_put(&r), "last put");
	CHECK(!rcuref_put(&r), "a put on a dead ref does not release");
	CHECK_EQ(raw(&r), RCUREF_DEAD, "imbalanced put restores DEAD");
	CHECK_EQ(warned(RCUREF_WARN_IMBALANCED_PUT), 1, "imbalanced put warned");
	set_raw(&r, RCUREF_RELEASED);
	CHECK(!rcuref_put(&r) && raw(&r) == RCUREF_SATURATED,
	      "a put from RELEASED lands at the saturation zone's top: re-centred");
	CHECK_EQ(warned(RCUREF_WARN_IMBALANCED_PUT), 1, "RELEASED - 1 is not the dead zone: no warning");
	set_raw(&r, RCUREF_RELEASED + 1);
	CHECK(!rcuref_put(&r) && raw(&r) == RCUREF_DEAD, "put to RELEASED: imbalanced");
	CHECK_EQ(warned(RCUREF_WARN_IMBALANCED_PUT), 2, "imbalanced put at the dead zone's edge warned");
	CHECK_EQ(warned(RCUREF_WARN_GET_DEAD), 0, "no kref_get on a dead ref here");
}

/* The put slow path on a chosen decrement result, as two racing puts see it. */
static void test_last_put_cmpxchg(void)
{
	rcuref_t r;
	bool a, b;

	printf("-- 3. the last put's cmpxchg uses the value the decrement returned\n");
	rcuref_warnings_reset();
	/* Put A decremented 0 -> NOREF; a get takes it back to ONEREF; A's cmpxchg fails. */
	set_raw(&r, RCUREF_NOREF);
	a = rcuref_get(&r);
	CHECK(a, "get in the window");
	CHECK(!rcuref_put_slowpath(&r, RCUREF_NOREF), "put A loses to the get: no release");
	CHECK_EQ(raw(&r), RCUREF_ONEREF, "the value is the getter's");
	/* The getter's put then releases. */
	CHECK(rcuref_put(&r), "the getter's put is the last");
	/* Two puts that both returned NOREF (A, then a get and B's put): one releases. */
	set_raw(&r, RCUREF_NOREF);
	b = rcuref_put_slowpath(&r, RCUREF_NOREF);
	a = rcuref_put_slowpath(&r, RCUREF_NOREF);
	CHECK(b && !a, "of two puts that saw NOREF, exactly one releases (B %d, A %d)", b, a);
	CHECK_EQ(raw(&r), RCUREF_DEAD, "DEAD after the winner");
	expect_no_warnings("the lost cmpxchg is not a warning");
}

/* ---------------------------------------------------------------------- */

static atomic_int kref_releases;
static pthread_mutex_t the_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_spinlock_t the_spin;
static atomic_int release_saw_lock;

static void on_release(struct kref_rcuref *r)
{
	(void)r;
	atomic_fetch_add(&kref_releases, 1);
}

static void on_release_mutex(struct kref_rcuref *r)
{
	atomic_store(&release_saw_lock, pthread_mutex_trylock(&the_mutex));
	pthread_mutex_unlock(&the_mutex);
	on_release(r);
}

static void on_release_spin(struct kref_rcuref *r)
{
	atomic_store(&release_saw_lock, pthread_spin_trylock(&the_spin));
	pthread_spin_unlock(&the_spin);
	on_release(r);
}

static void test_kref_layer(void)
{
	struct kref_rcuref k = KREF_RCUREF_INIT(1);

	printf("-- 4. the kref layer\n");
	rcuref_warnings_reset();
	pthread_spin_init(&the_spin, PTHREAD_PROCESS_PRIVATE);
	kref_rcuref_get(&k);
	kref_rcuref_get(&k);
	CHECK_EQ(kref_rcuref_read(&k), 3, "kref_get x2");
	CHECK_EQ(kref_rcuref_put_mutex(&k, on_release_mutex, &the_mutex), 0, "put_mutex 3 -> 2");
	CHECK_EQ(kref_rcuref_put_lock(&k, on_release_spin, &the_spin), 0, "put_lock 2 -> 1");
	CHECK_EQ(kref_rcuref_read(&k), 1, "one left");
	CHECK_EQ(kref_rcuref_put_mutex(&k, on_release_mutex, &the_mutex), 1, "put_mutex 1 -> 0 releases");
	CHECK_EQ(atomic_load(&release_saw_lock), 16 /* EBUSY */, "release ran with the mutex held");
	CHECK_EQ(kref_rcuref_read(&k), 0, "count 0 after release");
	CHECK(!kref_rcuref_get_unless_zero(&k), "get_unless_zero on a released ref fails");
	kref_rcuref_get(&k);
	CHECK_EQ(warned(RCUREF_WARN_GET_DEAD), 1, "kref_get on a released ref warns GET_DEAD");
	CHECK_EQ(kref_rcuref_read(&k), 0, "and leaves it dead");
	CHECK_EQ(kref_rcuref_put(&k, on_release), 0, "a put after release does not release again");
	CHECK_EQ(warned(RCUREF_WARN_IMBALANCED_PUT), 1, "it is an imbalanced put");
	CHECK_EQ(atomic_load(&kref_releases), 1, "released exactly once");

	/* put_lock on a saturated ref: the lock-free part declines, the locked put keeps it. */
	set_raw(&k.ref, RCUREF_SATURATED);
	CHECK_EQ(kref_rcuref_put_lock(&k, on_release_spin, &the_spin), 0, "put_lock on saturated");
	CHECK_EQ(raw(&k.ref), RCUREF_SATURATED, "still saturated");
	CHECK_EQ(pthread_spin_trylock(&the_spin), 0, "put_lock left the spinlock free");
	pthread_spin_unlock(&the_spin);
	kref_rcuref_init(&k);
	CHECK_EQ(kref_rcuref_put_lock(&k, on_release_spin, &the_spin), 1, "put_lock 1 -> 0 releases");
	CHECK_EQ(atomic_load(&release_saw_lock), 16 /* EBUSY */, "release ran with the spinlock held");
	CHECK_EQ(atomic_load(&kref_releases), 2, "two releases in all");
	pthread_spin_destroy(&the_spin);
}

/* ---------------------------------------------------------------------- */
/* 5. put racing get on the last reference */

struct race_obj {
	struct kref_rcuref ref;
	atomic_int releases;
	atomic_int released;		/* set by release, read by lookups */
} kb_cacheline_aligned;

static struct race_obj race_obj;
static atomic_uint race_round;			/* the round the threads should run */
static atomic_uint race_arrived, race_finished;
static atomic_ulong gets_won, gets_lost, owner_not_last, getter_released, late_gets;

static void race_release(struct kref_rcuref *r)
{
	struct race_obj *o = kb_container_of(r, struct race_obj, ref);

	atomic_fetch_add(&o->releases, 1);
	atomic_store_explicit(&o->released, 1, memory_order_release);
}

/* Everyone arrives, then all go at once: the owner's put, the racers' gets. */
static void race_start(unsigned int round)
{
	atomic_fetch_add(&race_arrived, 1);
	SPIN_UNTIL(atomic_load_explicit(&race_arrived, memory_order_acquire) >= round * (RACERS + 1));
}

static void racer_round(void)
{
	bool got = kref_rcuref_get_unless_zero(&race_obj.ref);

	if (!got) {
		atomic_fetch_add_explicit(&gets_lost, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&gets_won, 1, memory_order_relaxed);
	if (atomic_load_explicit(&race_obj.released, memory_order_acquire))
		atomic_fetch_add(&late_gets, 1);	/* a get that succeeded after release */
	if (kref_rcuref_put(&race_obj.ref, race_release))
		atomic_fetch_add_explicit(&getter_released, 1, memory_order_relaxed);
}

static void *racer_main(void *arg)
{
	(void)arg;
	for (unsigned int round = 1; round <= race_rounds; round++) {
		SPIN_UNTIL(atomic_load_explicit(&race_round, memory_order_acquire) >= round);
		race_start(round);
		racer_round();
		/* After the release, the object stays dead. */
		SPIN_UNTIL(atomic_load_explicit(&race_obj.released, memory_order_acquire));
		if (kref_rcuref_get_unless_zero(&race_obj.ref))
			atomic_fetch_add(&late_gets, 1);
		atomic_fetch_add(&race_finished, 1);
	}
	return NULL;
}

static void test_race(void)
{
	pthread_t racers[RACERS];
	unsigned long bad = 0;
	double t0 = now();

	printf("-- 5. put racing get on the last reference: %u rounds, %d getters\n", race_rounds, RACERS);
	rcuref_warnings_reset();
	for (int i = 0; i < RACERS; i++)
		pthread_create(&racers[i], NULL, racer_main, NULL);
	for (unsigned int round = 1; round <= race_rounds; round++) {
		/* The object's memory stays valid (reused), as RCU would keep it. */
		kref_rcuref_init(&race_obj.ref);
		atomic_store(&race_obj.releases, 0);
		atomic_store(&race_obj.released, 0);
		atomic_store_explicit(&race_round, round, memory_order_release);
		race_start(round);
		if (!kref_rcuref_put(&race_obj.ref, race_release))
			atomic_fetch_add_explicit(&owner_not_last, 1, memory_order_relaxed);
		SPIN_UNTIL(atomic_load_explicit(&race_finished, memory_order_acquire) >= round * RACERS);
		bad += atomic_load(&race_obj.releases) != 1;
		bad += kref_rcuref_read(&race_obj.ref) != 0;
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(racers[i], NULL);
	CHECK_EQ(bad, 0, "rounds without exactly one release, or not dead afterwards");
	CHECK_EQ(atomic_load(&late_gets), 0, "gets that succeeded after the release");
	CHECK_EQ(atomic_load(&owner_not_last) - atomic_load(&getter_released), 0,
		 "when the owner's put was not last, a getter's put released instead");
	CHECK(atomic_load(&gets_lost) > 0, "some gets found the ref dead");
	expect_no_warnings("the race raises no warning");
	printf("gets won %lu, lost %lu; the owner's put was not the last in %lu rounds "
	       "(a getter's put released); %.2f s\n",
	       atomic_load(&gets_won), atomic_load(&gets_lost), atomic_load(&owner_not_last), now() - t0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("KREFBENCH_EMULATED"))
		race_rounds /= EMULATED_DIVISOR;
	test_zones();
	test_put_rcusafe();
	test_saturation();
	test_last_put_cmpxchg();
	test_kref_layer();
	test_race();
	return check_summary();
}
