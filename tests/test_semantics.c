/*
 * The kref contract, checked on every backend through the runtime table
 * (kb_backends[]), then the per-CPU backend's own contract through
 * core/backends/percpu.h (percpu_ref: tryget/tryget_live, kill, reinit, arenas).
 *
 * For each counting backend:
 *   init -> read 1; get -> 2; put returns 0 without releasing;
 *   the final drop releases exactly once and returns 1 only then
 *   (KB_DEFERRED_RELEASE: the final drop is kill + sync(); release must not
 *   have run before the kill and must have run exactly once after sync);
 *   get_unless_zero on a released object fails and leaves 0;
 *   put_mutex/put_lock release with the lock held (trylock inside release
 *   is EBUSY; release unlocks, as in the kernel) and only on 1 -> 0, and
 *   leave the lock free when they return 0;
 *   type-stable reuse, where offered: a released counter keeps failing
 *   get_unless_zero until init_typesafe revives it.
 * `null` is not a counter: its own contract is checked instead.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/backends.h"
#include "core/lib/cpu.h"
#include "core/backends/percpu.h"


/* ---- a release callback that records how and where it ran ---- */

static atomic_int releases;
/* When set, release() checks this lock is held (trylock -> EBUSY) and then
 * unlocks it, as a kernel release called from kref_put_mutex/lock must. */
static _Atomic(pthread_mutex_t *) held_mutex;
static _Atomic(pthread_spinlock_t *) held_spin;
static atomic_int release_trylock_result;	/* -1: no lock was expected */
static const struct kb_backend *release_backend;
static atomic_long release_saw_count;

static void on_release(void *h)
{
	pthread_mutex_t *m = atomic_load(&held_mutex);
	pthread_spinlock_t *s = atomic_load(&held_spin);
	int rc = -1;

	atomic_store(&release_saw_count, release_backend ? release_backend->read(h) : -1);
	if (m) {
		rc = pthread_mutex_trylock(m);
		pthread_mutex_unlock(m);	/* ours to drop (or the trylock's) */
	} else if (s) {
		rc = pthread_spin_trylock(s);
		pthread_spin_unlock(s);
	}
	atomic_store(&release_trylock_result, rc);
	atomic_fetch_add(&releases, 1);
}

static void reset_release_state(const struct kb_backend *b)
{
	atomic_store(&releases, 0);
	atomic_store(&held_mutex, NULL);
	atomic_store(&held_spin, NULL);
	atomic_store(&release_trylock_result, -2);
	atomic_store(&release_saw_count, -1);
	release_backend = b;
}

static void *new_handle(const struct kb_backend *b)
{
	void *h = calloc(1, b->handle_size);

	CHECK(h != NULL, "%s: handle allocation", b->name);
	return h;
}

static char label_buf[256];
#define L(...) (snprintf(label_buf, sizeof(label_buf), __VA_ARGS__), label_buf)

/* ---- the generic contract ---- */

/*
 * Drop what must be the last reference the kref way: put for the others,
 * kill + sync for deferred-release backends (h must still hold its initial
 * reference then). Returns what put/kill returned.
 */
static int final_drop(const struct kb_backend *b, void *h)
{
	int rc;

	CHECK_EQ(atomic_load(&releases), 0, L("%s: no release before the final drop", b->name));
	if (b->flags & KB_DEFERRED_RELEASE) {
		rc = b->kill(h);
		CHECK_EQ(rc, 0, L("%s: kill defers the release (returns 0)", b->name));
		CHECK(atomic_load(&releases) <= 1, "%s: at most one release right after kill", b->name);
		b->sync();
	} else if (b->flags & KB_KILL_RELEASES) {
		rc = b->kill(h);
		CHECK_EQ(rc, 1, L("%s: kill of the last reference releases at once (returns 1)", b->name));
	} else if (b->flags & KB_EPOCH_RELEASE) {
		rc = b->put(h);
		CHECK_EQ(rc, 0, L("%s: the last put does not release at once", b->name));
		CHECK_EQ(atomic_load(&releases), 0, L("%s: no release before an epoch", b->name));
		b->sync();
	} else {
		rc = b->put(h);
		CHECK_EQ(rc, 1, L("%s: last put returns 1", b->name));
	}
	CHECK_EQ(atomic_load(&releases), 1, L("%s: released exactly once", b->name));
	CHECK_EQ(atomic_load(&release_saw_count), 0, L("%s: count is 0 inside release", b->name));
	return rc;
}

static void basic_lifecycle(const struct kb_backend *b)
{
	void *h = new_handle(b);

	if (!h)
		return;
	reset_release_state(b);
	CHECK_EQ(b->init(h, on_release), 0, L("%s: init", b->name));
	CHECK_EQ(b->read(h), 1, L("%s: read after init", b->name));
	b->get(h);
	CHECK_EQ(b->read(h), 2, L("%s: read after get", b->name));
	CHECK_EQ(b->put(h), 0, L("%s: put 2 -> 1 returns 0", b->name));
	CHECK_EQ(atomic_load(&releases), 0, L("%s: put 2 -> 1 does not release", b->name));
	CHECK_EQ(b->read(h), 1, L("%s: read after put", b->name));

	/* get_unless_zero on a live object succeeds, where the scheme offers it. */
	if (b->flags & KB_NO_GET_UNLESS_ZERO) {
		CHECK(!b->get_unless_zero(h), "%s: get_unless_zero, not offered, says false", b->name);
		CHECK_EQ(b->read(h), 1, L("%s: the refused get_unless_zero left the count", b->name));
	} else {
		CHECK(b->get_unless_zero(h), "%s: get_unless_zero on a live object", b->name);
		CHECK_EQ(b->read(h), 2, L("%s: read after get_unless_zero", b->name));
		CHECK_EQ(b->put(h), 0, L("%s: put after get_unless_zero returns 0", b->name));
	}

	final_drop(b, h);
	CHECK_EQ(b->read(h), 0, L("%s: read after release", b->name));

	/* A released object stays dead. */
	CHECK(!b->get_unless_zero(h), "%s: get_unless_zero on a released object succeeded", b->name);
	CHECK_EQ(b->read(h), 0, L("%s: get_unless_zero left 0", b->name));
	b->sync();
	CHECK_EQ(atomic_load(&releases), 1, L("%s: still exactly one release", b->name));
	b->destroy(h);
	free(h);
}

/*
 * Type-stable reuse (KB_TYPESAFE_<name>): the released counter keeps refusing
 * get_unless_zero however often readers try it, and init_typesafe revives
 * the same memory as a new object with one reference.
 */
static void typesafe_reuse(const struct kb_backend *b)
{
	void *h = new_handle(b);

	if (!h)
		return;
	reset_release_state(b);
	b->init_typesafe(h, on_release);
	CHECK_EQ(b->read(h), 1, L("%s: read after init_typesafe", b->name));
	CHECK(b->get_unless_zero(h), "%s: get_unless_zero after init_typesafe", b->name);
	CHECK_EQ(b->put(h), 0, L("%s: put 2 -> 1", b->name));
	final_drop(b, h);
	for (int i = 0; i < 1000; i++)
		CHECK(!b->get_unless_zero(h), "%s: get_unless_zero %d on a released, cached object", b->name, i);
	reset_release_state(b);
	b->init_typesafe(h, on_release);
	CHECK_EQ(b->read(h), 1, L("%s: reused: read after init_typesafe", b->name));
	final_drop(b, h);
	b->destroy(h);
	free(h);
}

/* kill is put for the immediate backends; for deferred ones a put after
 * kill's switch releases at once. */
static void kill_semantics(const struct kb_backend *b)
{
	void *h = new_handle(b);

	if (!h)
		return;
	reset_release_state(b);
	CHECK_EQ(b->init(h, on_release), 0, L("%s: init", b->name));
	b->get(h);
	if (b->flags & KB_DEFERRED_RELEASE) {
		CHECK_EQ(b->kill(h), 0, L("%s: kill with a reference left", b->name));
		b->sync();
		CHECK_EQ(atomic_load(&releases), 0, L("%s: kill+sync with a reference left: no release", b->name));
		CHECK_EQ(b->read(h), 1, L("%s: read after kill+sync", b->name));
		CHECK_EQ(b->put(h), 1, L("%s: put after kill+sync releases at once", b->name));
	} else if (b->flags & KB_KILL_RELEASES) {
		CHECK_EQ(b->kill(h), 0, L("%s: kill with a reference left", b->name));
		CHECK_EQ(b->read(h), 1, L("%s: read after kill", b->name));
		CHECK_EQ(atomic_load(&releases), 0, L("%s: kill with a reference left: no release", b->name));
		CHECK_EQ(b->put(h), 1, L("%s: put after kill releases at once", b->name));
	} else if (b->flags & KB_EPOCH_RELEASE) {
		CHECK_EQ(b->kill(h), 0, L("%s: kill 2 -> 1 returns 0", b->name));
		CHECK_EQ(b->read(h), 1, L("%s: kill is a put", b->name));
		CHECK_EQ(b->kill(h), 0, L("%s: kill 1 -> 0 returns 0: an epoch releases", b->name));
		b->sync();
	} else {
		CHECK_EQ(b->kill(h), 0, L("%s: kill 2 -> 1 returns 0", b->name));
		CHECK_EQ(b->read(h), 1, L("%s: kill is a put", b->name));
		CHECK_EQ(b->kill(h), 1, L("%s: kill 1 -> 0 returns 1", b->name));
	}
	CHECK_EQ(atomic_load(&releases), 1, L("%s: kill path released exactly once", b->name));
	b->sync();
	CHECK_EQ(atomic_load(&releases), 1, L("%s: kill path still one release after sync", b->name));
	b->destroy(h);
	free(h);
}

/* The two lock-taking puts share their shape: `put_locked` is put_mutex or
 * put_lock, `lock_free` asks whether the lock is free right now. */
struct lock_ops {
	const char *what;
	int (*put_locked)(const struct kb_backend *b, void *h);
	bool (*lock_free)(void);
	void (*arm)(void);
};

static pthread_mutex_t the_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_spinlock_t the_spin;

static int put_with_mutex(const struct kb_backend *b, void *h) { return b->put_mutex(h, &the_mutex); }
static int put_with_spin(const struct kb_backend *b, void *h) { return b->put_lock(h, &the_spin); }

static bool mutex_free(void)
{
	if (pthread_mutex_trylock(&the_mutex) != 0)
		return false;
	pthread_mutex_unlock(&the_mutex);
	return true;
}

static bool spin_free(void)
{
	if (pthread_spin_trylock(&the_spin) != 0)
		return false;
	pthread_spin_unlock(&the_spin);
	return true;
}

static void arm_mutex(void) { atomic_store(&held_mutex, &the_mutex); }
static void arm_spin(void) { atomic_store(&held_spin, &the_spin); }

static const struct lock_ops mutex_ops = { "put_mutex", put_with_mutex, mutex_free, arm_mutex };
static const struct lock_ops spin_ops = { "put_lock", put_with_spin, spin_free, arm_spin };

static void put_locked_semantics(const struct kb_backend *b, const struct lock_ops *ops)
{
	void *h = new_handle(b);

	if (!h)
		return;
	reset_release_state(b);
	ops->arm();
	CHECK_EQ(b->init(h, on_release), 0, L("%s: init", b->name));
	b->get(h);
	b->get(h);
	b->get(h);	/* 4 */
	CHECK_EQ(ops->put_locked(b, h), 0, L("%s: %s 4 -> 3 returns 0", b->name, ops->what));
	CHECK(ops->lock_free(), "%s: %s returning 0 left the lock held", b->name, ops->what);
	if (b->flags & (KB_DEFERRED_RELEASE | KB_KILL_RELEASES)) {
		/* Leave per-CPU mode; the remaining puts run in atomic mode. */
		CHECK_EQ(b->kill(h), 0, L("%s: kill with references left", b->name));
		b->sync();
	} else {
		CHECK_EQ(ops->put_locked(b, h), 0, L("%s: %s 3 -> 2 returns 0", b->name, ops->what));
		CHECK(ops->lock_free(), "%s: %s returning 0 left the lock held", b->name, ops->what);
	}
	CHECK_EQ(b->read(h), 2, L("%s: read before the last two %s", b->name, ops->what));
	CHECK_EQ(ops->put_locked(b, h), 0, L("%s: %s 2 -> 1 returns 0", b->name, ops->what));
	CHECK(ops->lock_free(), "%s: %s 2 -> 1 left the lock held", b->name, ops->what);
	CHECK_EQ(atomic_load(&releases), 0, L("%s: %s: no release before 1 -> 0", b->name, ops->what));
	CHECK_EQ(b->read(h), 1, L("%s: read before the last %s", b->name, ops->what));

	if (b->flags & KB_EPOCH_RELEASE) {
		/* No put sees 1 -> 0: the epoch releases later, without the lock. */
		CHECK_EQ(ops->put_locked(b, h), 0, L("%s: %s 1 -> 0 returns 0: an epoch releases", b->name, ops->what));
		CHECK(ops->lock_free(), "%s: %s left the lock held", b->name, ops->what);
		b->sync();
		CHECK_EQ(atomic_load(&releases), 1, L("%s: %s: released exactly once by the epoch", b->name, ops->what));
		CHECK_EQ(atomic_load(&release_trylock_result), 0,
			 L("%s: %s: the epoch's release runs without the lock", b->name, ops->what));
	} else {
		CHECK_EQ(ops->put_locked(b, h), 1, L("%s: %s 1 -> 0 returns 1", b->name, ops->what));
		CHECK_EQ(atomic_load(&releases), 1, L("%s: %s released exactly once", b->name, ops->what));
		CHECK_EQ(atomic_load(&release_trylock_result), EBUSY,
			 L("%s: %s: trylock inside release (EBUSY = lock held)", b->name, ops->what));
	}
	CHECK_EQ(atomic_load(&release_saw_count), 0, L("%s: %s: count 0 inside release", b->name, ops->what));
	CHECK(ops->lock_free(), "%s: %s: lock still held after release unlocked it", b->name, ops->what);

	CHECK(!b->get_unless_zero(h), "%s: get_unless_zero after %s released", b->name, ops->what);
	CHECK_EQ(b->read(h), 0, L("%s: read after %s released", b->name, ops->what));
	b->sync();
	CHECK_EQ(atomic_load(&releases), 1, L("%s: %s: one release after sync", b->name, ops->what));
	reset_release_state(b);
	b->destroy(h);
	free(h);
}

/* `null` measures the harness: it is not a counter and must never release. */
static void null_contract(const struct kb_backend *b)
{
	void *h = new_handle(b);

	if (!h)
		return;
	reset_release_state(b);
	CHECK_EQ(b->init(h, on_release), 0, L("%s: init", b->name));
	CHECK_EQ(b->read(h), 1, L("%s: read is 1 after init", b->name));
	b->get(h);
	CHECK_EQ(b->read(h), 1, L("%s: read is 1 after get", b->name));
	for (int i = 0; i < 3; i++) {
		CHECK(b->get_unless_zero(h), "%s: get_unless_zero is always true", b->name);
		CHECK_EQ(b->put(h), 0, L("%s: put never releases", b->name));
	}
	for (int i = 0; i < 3; i++)
		CHECK_EQ(b->put(h), 0, L("%s: put past zero never releases", b->name));
	CHECK_EQ(b->kill(h), 0, L("%s: kill never releases", b->name));
	CHECK_EQ(b->put_mutex(h, &the_mutex), 0, L("%s: put_mutex never releases", b->name));
	CHECK(mutex_free(), "%s: put_mutex left the mutex held", b->name);
	CHECK_EQ(b->put_lock(h, &the_spin), 0, L("%s: put_lock never releases", b->name));
	CHECK(spin_free(), "%s: put_lock left the spinlock held", b->name);
	b->sync();
	CHECK_EQ(b->read(h), 1, L("%s: read is still 1", b->name));
	CHECK(b->get_unless_zero(h), "%s: get_unless_zero still true", b->name);
	CHECK_EQ(atomic_load(&releases), 0, L("%s: never released", b->name));
	b->destroy(h);
	free(h);
}

static void backend_table(void)
{
	printf("%-10s %-8s %10s  %s\n", "backend", "counts", "bytes/obj", "model");
	for (unsigned int i = 0; i < kb_nbackends; i++) {
		const struct kb_backend *b = kb_backends[i];
		unsigned int failed_before = check_failed;
		size_t bytes;

		CHECK(b->name && b->model && b->handle_size > 0, "backend %u: table entry", i);
		CHECK(kb_backend_find(b->name) == b, "kb_backend_find(%s)", b->name);
		bytes = b->bytes_per_object();
		CHECK(bytes > 0, "%s: bytes_per_object() is nonzero", b->name);
		CHECK_EQ(b->bytes_at((unsigned int)kb_possible_cpus()), bytes,
			 L("%s: bytes_at(this machine's CPUs) == bytes_per_object()", b->name));
		CHECK(b->bytes_at(256) >= b->bytes_at(64) && b->bytes_at(64) >= b->bytes_at(2),
		      "%s: bytes per object never shrink with more CPUs", b->name);
		printf("%-10s bytes per object at 2 / 64 / 256 CPUs: %zu / %zu / %zu\n", b->name,
		       b->bytes_at(2), b->bytes_at(64), b->bytes_at(256));
		printf("%-10s %-8s %10zu  %s\n", b->name, (b->flags & KB_COUNTS) ? "yes" : "NO",
		       bytes, b->model);

		if (!(b->flags & KB_COUNTS)) {
			null_contract(b);
			printf("  %s: not a counter (harness floor): read always 1, "
			       "get_unless_zero true, put/kill never release -- %s\n",
			       b->name, check_failed == failed_before ? "ok" : "FAILED");
			continue;
		}
		basic_lifecycle(b);
		kill_semantics(b);
		put_locked_semantics(b, &mutex_ops);
		put_locked_semantics(b, &spin_ops);
		if (b->init_typesafe)
			typesafe_reuse(b);
		printf("  %s: kref contract%s%s%s -- %s\n", b->name,
		       (b->flags & KB_DEFERRED_RELEASE) ? " (final drop = kill + sync)" :
		       (b->flags & KB_KILL_RELEASES) ? " (final drop = kill)" :
		       (b->flags & KB_EPOCH_RELEASE) ? " (release at a later epoch = sync)" : "",
		       (b->flags & KB_NO_GET_UNLESS_ZERO) ? " (get_unless_zero not offered)" : "",
		       b->init_typesafe ? " (type-stable reuse)" : "",
		       check_failed == failed_before ? "ok" : "FAILED");
	}
	CHECK(kb_backend_find("no-such-backend") == NULL, "kb_backend_find(unknown) is NULL");
}

/* ---- percpu_ref specifics, through core/backends/percpu.h ---- */

static atomic_int pc_releases;
static void pc_release(struct kref_percpu *r)
{
	(void)r;
	atomic_fetch_add(&pc_releases, 1);
}

static void percpu_tryget(void)
{
	struct kref_percpu r;
	bool ok;

	atomic_store(&pc_releases, 0);
	CHECK_EQ(kref_percpu_init(&r), 0, "percpu: init");
	CHECK(!kref_percpu_is_atomic(&r) && !kref_percpu_is_dead(&r), "percpu: init is per-CPU, live");
	ok = kref_percpu_tryget(&r);
	CHECK(ok, "percpu: tryget in per-CPU mode");
	ok = kref_percpu_tryget_live(&r);
	CHECK(ok, "percpu: tryget_live in per-CPU mode");
	CHECK_EQ(kref_percpu_read(&r), 3, "percpu: read after two trygets");

	CHECK_EQ(kref_percpu_kill(&r, pc_release), 0, "percpu: kill returns 0");
	CHECK(kref_percpu_is_dead(&r), "percpu: dead after kill");
	ok = kref_percpu_tryget(&r);
	CHECK(ok, "percpu: tryget after kill, count not zero");
	ok = kref_percpu_tryget_live(&r);
	CHECK(!ok, "percpu: tryget_live after kill must fail");
	kref_percpu_barrier();
	CHECK(kref_percpu_is_atomic(&r), "percpu: atomic mode after kill + barrier");
	CHECK_EQ(kref_percpu_read(&r), 3, "percpu: read after kill + barrier (initial ref dropped)");
	CHECK_EQ(atomic_load(&pc_releases), 0, "percpu: no release while references remain");

	CHECK_EQ(kref_percpu_put(&r, pc_release), 0, "percpu: put 3 -> 2");
	ok = kref_percpu_tryget(&r);
	CHECK(ok, "percpu: tryget in atomic mode, count 2");
	ok = kref_percpu_tryget_live(&r);
	CHECK(!ok, "percpu: tryget_live on a dead ref in atomic mode");
	CHECK_EQ(kref_percpu_put(&r, pc_release), 0, "percpu: put 3 -> 2");
	CHECK_EQ(kref_percpu_put(&r, pc_release), 0, "percpu: put 2 -> 1");
	CHECK_EQ(kref_percpu_put(&r, pc_release), 1, "percpu: put 1 -> 0 releases");
	CHECK_EQ(atomic_load(&pc_releases), 1, "percpu: released once");
	ok = kref_percpu_tryget(&r);
	CHECK(!ok, "percpu: tryget at zero fails");
	ok = kref_percpu_tryget_live(&r);
	CHECK(!ok, "percpu: tryget_live at zero fails");
	CHECK_EQ(kref_percpu_read(&r), 0, "percpu: stays 0");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&pc_releases), 1, "percpu: still one release");
	kref_percpu_destroy(&r);
	printf("  percpu: tryget (per-CPU, after kill until zero), tryget_live (fails once killed)\n");
}

static void percpu_reinit(void)
{
	struct kref_percpu r;
	unsigned long not_zero = kb_percpu_warnings(KB_PERCPU_WARN_REINIT_NOT_ZERO);
	bool ok;

	atomic_store(&pc_releases, 0);
	CHECK_EQ(kref_percpu_init(&r), 0, "percpu reinit: init");
	kref_percpu_get(&r);
	CHECK(!kref_percpu_is_zero(&r), "percpu reinit: a live ref is not zero");
	CHECK_EQ(kref_percpu_kill(&r, pc_release), 0, "percpu reinit: kill");
	kref_percpu_barrier();
	CHECK_EQ(kref_percpu_read(&r), 1, "percpu reinit: one reference left after kill");
	CHECK(!kref_percpu_is_zero(&r), "percpu reinit: dead with a reference is not zero");
	CHECK_EQ(kref_percpu_put(&r, pc_release), 1, "percpu reinit: last put releases");
	CHECK_EQ(atomic_load(&pc_releases), 1, "percpu reinit: released once");
	CHECK(kref_percpu_is_zero(&r), "percpu reinit: zero after the last put");

	CHECK_EQ(kref_percpu_reinit(&r), 0, "percpu: reinit after reaching zero");
	CHECK_EQ(kb_percpu_warnings(KB_PERCPU_WARN_REINIT_NOT_ZERO), not_zero, "percpu: reinit at zero warns nothing");
	CHECK(!kref_percpu_is_dead(&r) && !kref_percpu_is_atomic(&r), "percpu: reinit is live, per-CPU");
	CHECK_EQ(kref_percpu_read(&r), 1, "percpu: read after reinit");
	ok = kref_percpu_tryget_live(&r);
	CHECK(ok, "percpu: tryget_live after reinit");
	kref_percpu_get(&r);
	CHECK_EQ(kref_percpu_read(&r), 3, "percpu: read after reinit + 2 gets");
	CHECK_EQ(kref_percpu_put(&r, pc_release), 0, "percpu: per-CPU put after reinit");
	CHECK_EQ(kref_percpu_put(&r, pc_release), 0, "percpu: per-CPU put after reinit");
	CHECK_EQ(atomic_load(&pc_releases), 1, "percpu: no release before the second kill");
	CHECK_EQ(kref_percpu_kill(&r, pc_release), 0, "percpu: kill after reinit");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&pc_releases), 2, "percpu: second life released exactly once");
	CHECK_EQ(kref_percpu_read(&r), 0, "percpu: zero again");
	kref_percpu_destroy(&r);
	printf("  percpu: reinit after zero behaves like new (reinit elsewhere: test_percpu_api)\n");
}

/*
 * A second kill is the kernel's: warned (counted here, printed once) and a
 * put like the first. Regression (issue 11): killing again after zero called
 * release() a second time, in per-CPU-started and atomic-started refs alike.
 */
static void percpu_double_kill(void)
{
	struct kref_percpu r;
	unsigned long before = kb_percpu_double_kills();

	/* Per-CPU start: kill, fold, release; then kill twice more. */
	atomic_store(&pc_releases, 0);
	CHECK_EQ(kref_percpu_init(&r), 0, "percpu double kill: init");
	CHECK_EQ(kref_percpu_kill(&r, pc_release), 0, "percpu double kill: first kill");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&pc_releases), 1, "percpu double kill: the fold released");
	CHECK_EQ(kref_percpu_kill(&r, pc_release), 0, "percpu double kill: second kill after zero returns 0");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&pc_releases), 1, "percpu double kill: no second release after zero");
	CHECK_EQ(kref_percpu_read(&r), -1, "percpu double kill: the second kill is a put, 0 -> -1");
	CHECK(!kref_percpu_is_zero(&r), "percpu double kill: -1 is not zero");
	CHECK_EQ(kref_percpu_kill(&r, pc_release), 0, "percpu double kill: third kill");
	CHECK_EQ(kref_percpu_read(&r), -2, "percpu double kill: -1 -> -2");
	CHECK_EQ(atomic_load(&pc_releases), 1, "percpu double kill: still one release");
	CHECK_EQ(kb_percpu_double_kills() - before, 2, "percpu double kill: both extra kills counted");
	kref_percpu_destroy(&r);

	/* Atomic start (INIT_ATOMIC): the first kill releases at once. */
	before = kb_percpu_double_kills();
	atomic_store(&pc_releases, 0);
	CHECK_EQ(kref_percpu_init_atomic(&r), 0, "percpu double kill atomic: init");
	CHECK_EQ(kref_percpu_kill(&r, pc_release), 1, "percpu double kill atomic: first kill releases");
	CHECK_EQ(kref_percpu_kill(&r, pc_release), 0, "percpu double kill atomic: second kill returns 0");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&pc_releases), 1, "percpu double kill atomic: no second release");
	CHECK_EQ(kref_percpu_read(&r), -1, "percpu double kill atomic: 0 -> -1");
	CHECK_EQ(kb_percpu_double_kills() - before, 1, "percpu double kill atomic: counted");
	kref_percpu_destroy(&r);

	/* Before zero, the second kill drops a reference somebody else holds:
	 * the kernel's behaviour for this misuse. Still exactly one release. */
	atomic_store(&pc_releases, 0);
	CHECK_EQ(kref_percpu_init(&r), 0, "percpu double kill held: init");
	kref_percpu_get(&r);
	CHECK_EQ(kref_percpu_kill(&r, pc_release), 0, "percpu double kill held: first kill");
	CHECK_EQ(kref_percpu_kill(&r, pc_release), 1,
		 "percpu double kill held: second kill waits for the fold and drops the last reference");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&pc_releases), 1, "percpu double kill held: released exactly once");
	CHECK_EQ(kref_percpu_read(&r), 0, "percpu double kill held: zero");
	kref_percpu_destroy(&r);
	printf("  percpu: double kill warns and puts (%lu so far), never releases twice\n",
	       kb_percpu_double_kills());
}

static uintptr_t slot_base(const struct kref_percpu *r)
{
	return atomic_load(&r->percpu_ptr) & ~KB_PERCPU_FLAGS;
}

static void percpu_arena(void)
{
	unsigned int ncpus = (unsigned int)kb_possible_cpus();
	struct kb_percpu_arena *a = kb_percpu_arena_create(2, ncpus);
	struct kref_percpu x, y, z;
	uintptr_t x_slot;

	CHECK(a != NULL, "percpu: arena_create(2, %u)", ncpus);
	if (!a)
		return;
	atomic_store(&pc_releases, 0);
	CHECK_EQ(kb_percpu_arena_used(a), 0, "arena: empty");
	CHECK_EQ(kref_percpu_init_in(&x, a), 0, "arena: first init");
	CHECK_EQ(kref_percpu_init_in(&y, a), 0, "arena: second init");
	CHECK(slot_base(&x) != slot_base(&y), "arena: two objects, two slots");
	CHECK_EQ(kb_percpu_arena_used(a), 2, "arena: two used");
	CHECK_EQ(kref_percpu_init_in(&z, a), -ENOMEM, "arena: third init is -ENOMEM");
	CHECK_EQ(kref_percpu_init_atomic_in(&z, a), -ENOMEM, "arena: third init_atomic is -ENOMEM");
	CHECK_EQ(kb_percpu_arena_used(a), 2, "arena: failed inits took nothing");

	x_slot = slot_base(&x);
	kref_percpu_destroy(&x);
	CHECK_EQ(kb_percpu_arena_used(a), 1, "arena: destroy frees a slot");
	CHECK_EQ(kref_percpu_init_in(&z, a), 0, "arena: init after destroy reuses the slot");
	CHECK(slot_base(&z) == x_slot, "arena: the freed slot was reused");
	CHECK_EQ(kb_percpu_arena_used(a), 2, "arena: full again");

	/* The reused slot starts clean: a full life on it. */
	CHECK_EQ(kref_percpu_read(&z), 1, "arena: reused slot reads 1");
	kref_percpu_get(&z);
	CHECK_EQ(kref_percpu_put(&z, pc_release), 0, "arena: put on reused slot");
	CHECK_EQ(kref_percpu_kill(&z, pc_release), 0, "arena: kill on reused slot");
	CHECK_EQ(kref_percpu_kill(&y, pc_release), 0, "arena: kill y");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&pc_releases), 2, "arena: y and z released once each");
	kref_percpu_destroy(&y);
	kref_percpu_destroy(&z);
	CHECK_EQ(kb_percpu_arena_used(a), 0, "arena: empty after destroying all");
	kb_percpu_arena_destroy(a);
	printf("  percpu: arena of 2 gives 2 inits then -ENOMEM; destroy frees a slot for reuse\n");
}

static void percpu_init_atomic(void)
{
	struct kref_percpu r;
	bool ok;

	atomic_store(&pc_releases, 0);
	CHECK_EQ(kref_percpu_init_atomic(&r), 0, "percpu init_atomic");
	CHECK(kref_percpu_is_atomic(&r) && !kref_percpu_is_dead(&r), "init_atomic: atomic, live");
	CHECK_EQ(kref_percpu_read(&r), 1, "init_atomic: read 1");
	kref_percpu_get(&r);
	CHECK_EQ(kref_percpu_read(&r), 2, "init_atomic: read 2");
	ok = kref_percpu_tryget_live(&r);
	CHECK(ok, "init_atomic: tryget_live on a live atomic ref");
	ok = kref_percpu_get_unless_zero(&r);
	CHECK(ok, "init_atomic: get_unless_zero");
	CHECK_EQ(kref_percpu_read(&r), 4, "init_atomic: read 4");
	CHECK_EQ(kref_percpu_put(&r, pc_release), 0, "init_atomic: put 4 -> 3");
	CHECK_EQ(kref_percpu_put(&r, pc_release), 0, "init_atomic: put 3 -> 2");
	CHECK_EQ(kref_percpu_put(&r, pc_release), 0, "init_atomic: put 2 -> 1");
	CHECK_EQ(atomic_load(&pc_releases), 0, "init_atomic: no release yet");
	CHECK_EQ(kref_percpu_put(&r, pc_release), 1, "init_atomic: last put releases at once");
	CHECK_EQ(atomic_load(&pc_releases), 1, "init_atomic: released once, no kill or barrier");
	ok = kref_percpu_get_unless_zero(&r);
	CHECK(!ok, "init_atomic: get_unless_zero at zero fails");
	CHECK_EQ(kref_percpu_read(&r), 0, "init_atomic: zero");
	kref_percpu_destroy(&r);

	/* kill on a ref that never left atomic mode is a plain put. */
	atomic_store(&pc_releases, 0);
	CHECK_EQ(kref_percpu_init_atomic(&r), 0, "percpu init_atomic (kill)");
	kref_percpu_get(&r);
	CHECK_EQ(kref_percpu_kill(&r, pc_release), 0, "init_atomic: kill 2 -> 1");
	CHECK(kref_percpu_is_dead(&r), "init_atomic: dead after kill");
	ok = kref_percpu_tryget_live(&r);
	CHECK(!ok, "init_atomic: tryget_live after kill");
	CHECK_EQ(kref_percpu_put(&r, pc_release), 1, "init_atomic: put after kill releases");
	CHECK_EQ(atomic_load(&pc_releases), 1, "init_atomic: one release");
	kref_percpu_destroy(&r);

	atomic_store(&pc_releases, 0);
	CHECK_EQ(kref_percpu_init_atomic(&r), 0, "percpu init_atomic (kill last)");
	CHECK_EQ(kref_percpu_kill(&r, pc_release), 1, "init_atomic: kill of the last ref releases, returns 1");
	CHECK_EQ(atomic_load(&pc_releases), 1, "init_atomic: kill released synchronously");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&pc_releases), 1, "init_atomic: still one release");
	kref_percpu_destroy(&r);
	printf("  percpu: init_atomic gives plain kref semantics (last put releases at once)\n");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_spin_init(&the_spin, PTHREAD_PROCESS_PRIVATE);

	printf("kref contract through the runtime table (%u backends)\n", kb_nbackends);
	backend_table();

	printf("percpu_ref specifics (core/backends/percpu.h), %d possible CPUs, %zu bytes/object\n",
	       kb_possible_cpus(), kb_percpu_bytes_per_object());
	percpu_tryget();
	percpu_reinit();
	percpu_double_kill();
	percpu_arena();
	percpu_init_atomic();

	pthread_spin_destroy(&the_spin);
	return check_summary();
}
