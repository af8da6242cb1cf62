/*
 * percpu_ref's API to the letter of lib/percpu-refcount.c, single-threaded
 * where the kernel's answer is exact:
 *
 * - regressions (issue 11): a second kill after zero never releases again
 *   (per-CPU and atomic starts); reinit of an INIT_ATOMIC ref stays atomic,
 *   and its last put releases;
 * - init flags INIT_ATOMIC, INIT_DEAD, ALLOW_REINIT (without it the fold
 *   gives the slots back and the ref never goes per-CPU again);
 * - kill_and_confirm, switch_to_atomic[_sync], switch_to_percpu (sticky
 *   atomic mode across kill/reinit), resurrect, reinit of a live ref (warns
 *   once, resurrects), is_zero, get_many/put_many/tryget_many, exit;
 * - warnings: underflow found at the fold, double kill printed once.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/backends/percpu.h"

static atomic_int releases, confirms;
static atomic_int confirm_saw_live;	/* tryget_live result inside confirm: must be 0 */
static atomic_int confirm_saw_percpu;	/* confirms that found the ref per-CPU: must be 0 */

static void on_release(struct kref_percpu *r) { (void)r; atomic_fetch_add(&releases, 1); }

static void on_confirm(struct kref_percpu *r)
{
	atomic_fetch_add(&confirms, 1);
	if (!kref_percpu_is_atomic(r))	/* CHECK is for the main thread only */
		atomic_fetch_add(&confirm_saw_percpu, 1);
}

static void on_confirm_kill(struct kref_percpu *r)
{
	bool live = kref_percpu_tryget_live(r);

	atomic_fetch_add(&confirms, 1);
	if (live) {
		atomic_fetch_add(&confirm_saw_live, 1);
		if (kref_percpu_put(r, on_release))
			atomic_fetch_add(&confirm_saw_live, 100);	/* a put released */
	}
}

static void reset(void)
{
	atomic_store(&releases, 0);
	atomic_store(&confirms, 0);
}

/* ---- regressions ---- */

static void kill_three_times_after_zero(void)
{
	struct kref_percpu r;

	CHECK_EQ(kref_percpu_init(&r), 0, "init");
	(void)kref_percpu_kill(&r, on_release);
	kref_percpu_barrier();
	(void)kref_percpu_kill(&r, on_release);
	(void)kref_percpu_kill(&r, on_release);
	kref_percpu_barrier();
	kref_percpu_destroy(&r);
}

static void regression_double_kill(void)
{
	struct kref_percpu r;
	unsigned long before = kb_percpu_double_kills();
	int lines;

	reset();
	lines = check_stderr_lines(kill_three_times_after_zero, "called more than once");
	CHECK_EQ(atomic_load(&releases), 1, "per-CPU start: kill x3 after zero releases once");
	CHECK_EQ(kb_percpu_double_kills() - before, 2, "both extra kills counted");
	CHECK_EQ(lines, 1, "the double-kill warning prints once, not per call");

	reset();
	CHECK_EQ(kref_percpu_init_atomic(&r), 0, "init_atomic");
	CHECK_EQ(kref_percpu_kill(&r, on_release), 1, "atomic start: kill of the last ref releases");
	CHECK_EQ(kref_percpu_kill(&r, on_release), 0, "atomic start: second kill");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&releases), 1, "atomic start: kill x2 releases once");
	CHECK_EQ(kref_percpu_read(&r), -1, "atomic start: the second kill is a put (0 -> -1)");
	kref_percpu_destroy(&r);
	printf("  regression: kill after zero never releases again; warning printed once\n");
}

static void regression_reinit_atomic(void)
{
	struct kref_percpu r;

	reset();
	CHECK_EQ(kref_percpu_init_atomic(&r), 0, "init_atomic");
	CHECK_EQ(kref_percpu_kill(&r, on_release), 1, "kill releases");
	CHECK_EQ(kref_percpu_reinit(&r), 0, "reinit at zero");
	CHECK(kref_percpu_is_atomic(&r) && !kref_percpu_is_dead(&r), "INIT_ATOMIC stays atomic across reinit");
	CHECK_EQ(kref_percpu_read(&r), 1, "count 1 after reinit");
	kref_percpu_get(&r);
	CHECK_EQ(kref_percpu_put(&r, on_release), 0, "put 2 -> 1");
	CHECK_EQ(kref_percpu_put(&r, on_release), 1, "the last put after reinit releases");
	CHECK_EQ(atomic_load(&releases), 2, "released in both lives");
	CHECK_EQ(kref_percpu_reinit(&r), 0, "reinit after a put-released life (still atomic)");
	CHECK_EQ(kref_percpu_kill(&r, on_release), 1, "kill of that life releases at once");
	/* switch_to_percpu ends the sticky mode: the next reinit goes per-CPU. */
	kref_percpu_switch_to_percpu(&r);
	CHECK(kref_percpu_is_atomic(&r), "switch_to_percpu on a dead ref waits for reinit");
	CHECK_EQ(kref_percpu_reinit(&r), 0, "reinit after switch_to_percpu");
	CHECK(!kref_percpu_is_atomic(&r), "per-CPU after that reinit");
	CHECK_EQ(kref_percpu_kill(&r, on_release), 0, "kill the per-CPU life");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&releases), 4, "fourth life released by the fold");
	kref_percpu_destroy(&r);
	printf("  regression: reinit keeps INIT_ATOMIC atomic until switch_to_percpu\n");
}

/* ---- flags ---- */

static void flags(void)
{
	struct kb_percpu_arena *a = kb_percpu_arena_create(4, (unsigned int)kb_possible_cpus());
	struct kref_percpu r;
	unsigned long no_reinit = kb_percpu_warnings(KB_PERCPU_WARN_NO_REINIT);

	CHECK(a != NULL, "arena");
	if (!a)
		return;
	/* INIT_DEAD: dead, atomic, count 0; reinit brings it up (per-CPU). */
	reset();
	CHECK_EQ(kref_percpu_init_flags_in(&r, a, on_release, KB_PERCPU_REF_INIT_DEAD), 0, "INIT_DEAD");
	CHECK(kref_percpu_is_dead(&r) && kref_percpu_is_atomic(&r), "INIT_DEAD: dead and atomic");
	CHECK(kref_percpu_is_zero(&r), "INIT_DEAD: zero");
	CHECK(!kref_percpu_tryget(&r), "INIT_DEAD: tryget fails at zero");
	CHECK_EQ(kref_percpu_reinit(&r), 0, "INIT_DEAD: reinit");
	CHECK(!kref_percpu_is_dead(&r) && !kref_percpu_is_atomic(&r), "INIT_DEAD: per-CPU after reinit (reinit allowed)");
	CHECK_EQ(kref_percpu_read(&r), 1, "INIT_DEAD: count 1 after reinit");
	CHECK_EQ(kref_percpu_kill_and_confirm(&r, NULL), 0, "INIT_DEAD: kill_and_confirm, release from init");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&releases), 1, "INIT_DEAD: the release given at init ran");
	kref_percpu_exit(&r);

	/* No ALLOW_REINIT: the fold gives the slots back; never per-CPU again. */
	reset();
	CHECK_EQ(kref_percpu_init_flags_in(&r, a, on_release, 0), 0, "flags 0");
	CHECK_EQ(kb_percpu_arena_used(a), 1, "flags 0: one slot taken");
	kref_percpu_get(&r);
	CHECK_EQ(kref_percpu_kill(&r, NULL), 0, "flags 0: kill");
	kref_percpu_barrier();
	CHECK_EQ(kb_percpu_arena_used(a), 0, "flags 0: slots given back after the switch");
	CHECK_EQ(kref_percpu_read(&r), 1, "flags 0: count exact after the switch");
	kref_percpu_switch_to_percpu(&r);
	CHECK_EQ(kref_percpu_put(&r, on_release), 1, "flags 0: last put releases");
	CHECK_EQ(kref_percpu_reinit(&r), 0, "flags 0: reinit at zero");
	CHECK(kref_percpu_is_atomic(&r), "flags 0: reinit cannot go per-CPU");
	CHECK_EQ(kb_percpu_warnings(KB_PERCPU_WARN_NO_REINIT) - no_reinit, 1, "flags 0: warned");
	CHECK_EQ(kref_percpu_put(&r, on_release), 1, "flags 0: atomic second life releases");
	CHECK_EQ(atomic_load(&releases), 2, "flags 0: two releases");
	kref_percpu_exit(&r);
	kb_percpu_arena_destroy(a);
	printf("  flags: INIT_DEAD, INIT_ATOMIC, ALLOW_REINIT (slots given back without it)\n");
}

/* ---- mode switches ---- */

static void switches(void)
{
	struct kref_percpu r;
	bool ok;

	reset();
	CHECK_EQ(kref_percpu_init_flags(&r, on_release, KB_PERCPU_REF_ALLOW_REINIT), 0, "init");
	kref_percpu_get(&r);
	kref_percpu_switch_to_atomic(&r, on_confirm);
	CHECK(kref_percpu_is_atomic(&r) && !kref_percpu_is_dead(&r), "switch_to_atomic: atomic, live");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&confirms), 1, "switch_to_atomic: confirm ran once");
	CHECK_EQ(kref_percpu_read(&r), 2, "switch_to_atomic: count folded");
	ok = kref_percpu_tryget_live(&r);
	CHECK(ok, "switch_to_atomic: tryget_live on a live atomic ref");
	CHECK_EQ(kref_percpu_put(&r, on_release), 0, "atomic put 3 -> 2");
	kref_percpu_switch_to_atomic(&r, on_confirm);
	CHECK_EQ(atomic_load(&confirms), 2, "switch_to_atomic when atomic: confirm at once");
	kref_percpu_switch_to_percpu(&r);
	CHECK(!kref_percpu_is_atomic(&r), "switch_to_percpu: per-CPU again");
	CHECK_EQ(kref_percpu_read(&r), 2, "switch_to_percpu: count kept");
	kref_percpu_switch_to_atomic_sync(&r);
	CHECK(kref_percpu_is_atomic(&r), "switch_to_atomic_sync: atomic");
	CHECK_EQ(kref_percpu_read(&r), 2, "switch_to_atomic_sync: count folded on return");
	/* Sticky: kill and reinit keep it atomic. */
	CHECK_EQ(kref_percpu_put(&r, on_release), 0, "put 2 -> 1");
	CHECK_EQ(kref_percpu_kill(&r, NULL), 1, "kill of the last reference in atomic mode releases");
	CHECK_EQ(kref_percpu_reinit(&r), 0, "reinit");
	CHECK(kref_percpu_is_atomic(&r), "switch_to_atomic is sticky across kill/reinit");
	kref_percpu_switch_to_percpu(&r);
	CHECK(!kref_percpu_is_atomic(&r), "switch_to_percpu on a live ref switches now");

	/* kill_and_confirm: confirm runs when every CPU sees the ref dead. */
	reset();
	atomic_store(&confirm_saw_live, 0);
	CHECK_EQ(kref_percpu_kill_and_confirm(&r, on_confirm_kill), 0, "kill_and_confirm");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&confirms), 1, "kill_and_confirm: confirm ran once");
	CHECK_EQ(atomic_load(&confirm_saw_live), 0, "kill_and_confirm: tryget_live fails by confirm time");
	CHECK_EQ(atomic_load(&releases), 1, "kill_and_confirm: released");

	/* resurrect: dead -> live with one reference more. */
	reset();
	CHECK_EQ(kref_percpu_reinit(&r), 0, "reinit for resurrect");
	kref_percpu_get(&r);
	CHECK_EQ(kref_percpu_kill(&r, NULL), 0, "kill with a reference held");
	kref_percpu_barrier();
	kref_percpu_resurrect(&r);
	CHECK(!kref_percpu_is_dead(&r) && !kref_percpu_is_atomic(&r), "resurrect: live, per-CPU");
	CHECK_EQ(kref_percpu_read(&r), 2, "resurrect: held reference + the new one");
	CHECK_EQ(kref_percpu_put(&r, on_release), 0, "resurrect: put");
	CHECK_EQ(kref_percpu_kill(&r, NULL), 0, "resurrect: kill");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&releases), 1, "resurrect: one release in the end");
	kref_percpu_exit(&r);
	CHECK(kref_percpu_is_zero(&r), "is_zero after exit reads the count exit kept");
	CHECK_EQ(atomic_load(&confirm_saw_percpu), 0, "confirm: the ref is atomic whenever confirmed");
	printf("  switch_to_atomic[_sync], switch_to_percpu, kill_and_confirm, resurrect\n");
}

/* ---- reinit of a live ref, many, warnings, exit ---- */

static void reinit_live(void)
{
	struct kref_percpu r;
	unsigned long warned = kb_percpu_warnings(KB_PERCPU_WARN_REINIT_NOT_ZERO);

	reset();
	CHECK_EQ(kref_percpu_init(&r), 0, "init");
	kref_percpu_get(&r);
	CHECK_EQ(kref_percpu_kill(&r, on_release), 0, "kill, one reference held");
	kref_percpu_barrier();
	CHECK_EQ(kref_percpu_reinit(&r), -EBUSY, "reinit of a ref that is not zero says so");
	CHECK_EQ(kb_percpu_warnings(KB_PERCPU_WARN_REINIT_NOT_ZERO) - warned, 1, "and warns");
	CHECK(!kref_percpu_is_dead(&r) && !kref_percpu_is_atomic(&r), "and resurrects it anyway (kernel)");
	CHECK_EQ(kref_percpu_read(&r), 2, "held reference + the one reinit adds");
	CHECK_EQ(kref_percpu_put(&r, on_release), 0, "put");
	CHECK_EQ(kref_percpu_kill(&r, on_release), 0, "kill");
	kref_percpu_barrier();
	CHECK_EQ(atomic_load(&releases), 1, "one release");
	kref_percpu_destroy(&r);
	printf("  reinit of a ref that is not zero: warns, resurrects\n");
}

static void many(void)
{
	struct kref_percpu r;
	bool ok;

	reset();
	CHECK_EQ(kref_percpu_init(&r), 0, "init");
	kref_percpu_get_many(&r, 10);
	ok = kref_percpu_tryget_many(&r, 5);
	CHECK(ok, "tryget_many in per-CPU mode");
	CHECK_EQ(kref_percpu_read(&r), 16, "get_many 10 + tryget_many 5");
	CHECK_EQ(kref_percpu_put_many(&r, 6, on_release), 0, "put_many 6 per-CPU");
	kref_percpu_switch_to_atomic_sync(&r);
	CHECK_EQ(kref_percpu_read(&r), 10, "folded 10");
	ok = kref_percpu_tryget_many(&r, 3);
	CHECK(ok, "tryget_many in atomic mode");
	CHECK_EQ(kref_percpu_put_many(&r, 12, on_release), 0, "put_many 12 of 13");
	CHECK_EQ(kref_percpu_put_many(&r, 1, on_release), 1, "put_many of the last releases");
	CHECK_EQ(atomic_load(&releases), 1, "one release");
	ok = kref_percpu_tryget_many(&r, 2);
	CHECK(!ok, "tryget_many at zero fails");
	CHECK_EQ(kref_percpu_read(&r), 0, "still zero");
	kref_percpu_atomic_get_many(&r, 0);	/* the other backend's ops exist too */
	kref_percpu_destroy(&r);
	printf("  get_many/put_many/tryget_many in both modes\n");
}

static void fold_underflow(void)
{
	struct kref_percpu r;
	unsigned long warned = kb_percpu_warnings(KB_PERCPU_WARN_FOLD_UNDERFLOW);

	reset();
	CHECK_EQ(kref_percpu_init(&r), 0, "init");
	CHECK_EQ(kref_percpu_put_many(&r, 3, on_release), 0, "per-CPU put below zero is not seen yet");
	CHECK_EQ(kref_percpu_kill(&r, on_release), 0, "kill");
	kref_percpu_barrier();
	CHECK_EQ(kb_percpu_warnings(KB_PERCPU_WARN_FOLD_UNDERFLOW) - warned, 1, "the fold warns: count <= 0");
	CHECK_EQ(atomic_load(&releases), 0, "and releases nothing");
	CHECK_EQ(kref_percpu_read(&r), -3, "the count shows the underflow");
	kref_percpu_destroy(&r);
	printf("  underflow found at the fold warns\n");
}

static void exit_semantics(void)
{
	struct kb_percpu_arena *a = kb_percpu_arena_create(2, (unsigned int)kb_possible_cpus());
	struct kref_percpu r;

	CHECK(a != NULL, "arena");
	if (!a)
		return;
	reset();
	CHECK_EQ(kref_percpu_init_flags_in(&r, a, on_release, KB_PERCPU_REF_INIT_ATOMIC), 0, "init");
	kref_percpu_get(&r);
	kref_percpu_exit(&r);
	CHECK(r.data == NULL, "exit frees the bookkeeping");
	CHECK_EQ(kb_percpu_arena_used(a), 0, "exit gives the slots back");
	CHECK(!kref_percpu_is_zero(&r), "is_zero after exit: the count was 2");
	CHECK_EQ(kref_percpu_read(&r), 2, "read after exit: the kept count");
	kref_percpu_exit(&r);	/* a second exit does nothing */
	CHECK_EQ(kb_percpu_arena_used(a), 0, "second exit is harmless");
	CHECK_EQ(atomic_load(&releases), 0, "exit releases nothing");
	kb_percpu_arena_destroy(a);
	printf("  exit: slots back, bookkeeping freed, is_zero still answers\n");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("percpu_ref API (core/backends/percpu.h), %d possible CPUs\n", kb_possible_cpus());
	regression_double_kill();
	regression_reinit_atomic();
	flags();
	switches();
	reinit_live();
	many();
	fold_underflow();
	exit_semantics();
	return check_summary();
}
