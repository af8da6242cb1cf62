/*
 * The refcount backend against the kernel's own torture cases: the 18
 * refcount cases of drivers/misc/lkdtm/refcount.c, in the kernel's order,
 * each reproducing the exact sequence LKDTM performs and asserting what the
 * current include/linux/refcount.h produces:
 *
 *   - the final value (REFCOUNT_SATURATED, or 0 where a *_not_zero call met
 *     zero and must leave it alone),
 *   - every return value along the way,
 *   - exactly one warning of exactly the expected kind, every other kind
 *     unchanged (refcount_warnings() deltas).
 *
 * Then the lib/refcount.c helpers: refcount_dec_if_one, refcount_dec_not_one
 * (saturated stays put), refcount_dec_and_mutex_lock and refcount_dec_and_lock
 * (lock held on a true return only; checked from another thread for the
 * mutex, with trylock for the spinlock).
 */
#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/backends/refcount.h"

/* ---- warning bookkeeping ---- */

struct warn_snapshot {
	unsigned long n[REFCOUNT_NR_WARNINGS];
};

static struct warn_snapshot warn_take(void)
{
	struct warn_snapshot s;

	for (int t = 0; t < REFCOUNT_NR_WARNINGS; t++)
		s.n[t] = refcount_warnings((enum refcount_saturation_type)t);
	return s;
}

#define NO_WARNING (-1)

/*
 * Every kind's delta since `before` is 0, except `kind` (if not NO_WARNING)
 * whose delta is exactly `count`.
 */
static void expect_warnings(const char *what, const struct warn_snapshot *before,
			    int kind, unsigned long count)
{
	struct warn_snapshot now = warn_take();
	char label[160];

	for (int t = 0; t < REFCOUNT_NR_WARNINGS; t++) {
		unsigned long want = t == kind ? count : 0;

		snprintf(label, sizeof(label), "%s: %s warnings",
			 what, refcount_warning_name((enum refcount_saturation_type)t));
		CHECK_EQ(now.n[t] - before->n[t], want, label);
	}
}

static int value(const refcount_t *r) { return (int)refcount_read(r); }

/* One line per case, printed when it is over (the core's once-per-kind
 * warning goes to stderr while it runs). */
static unsigned int case_failures_before;
static const char *case_name;

static void case_begin(const char *name)
{
	case_name = name;
	case_failures_before = check_failed;
}

static void case_end(const char *outcome)
{
	fflush(stderr);
	if (check_failed == case_failures_before)
		printf("%-32s ok      %s\n", case_name, outcome);
	else
		printf("%-32s FAILED  %u check(s) above\n", case_name,
		       check_failed - case_failures_before);
	fflush(stdout);
}

/* ---- the 17 LKDTM cases ---- */

/* refcount_inc() above REFCOUNT_MAX saturates: ADD_OVF. */
static void REFCOUNT_INC_OVERFLOW(void)
{
	refcount_t over = REFCOUNT_INIT(REFCOUNT_MAX - 1);
	struct warn_snapshot w = warn_take();

	case_begin("REFCOUNT_INC_OVERFLOW");
	/* "good refcount_inc() without overflow" */
	refcount_dec(&over);
	CHECK_EQ(value(&over), REFCOUNT_MAX - 2, "INC_OVERFLOW: after dec");
	refcount_inc(&over);
	CHECK_EQ(value(&over), REFCOUNT_MAX - 1, "INC_OVERFLOW: after good inc");
	expect_warnings("INC_OVERFLOW good part", &w, NO_WARNING, 0);

	/* "bad refcount_inc() overflow": the first reaches MAX, the second passes it */
	refcount_inc(&over);
	CHECK_EQ(value(&over), REFCOUNT_MAX, "INC_OVERFLOW: inc to REFCOUNT_MAX is legal");
	expect_warnings("INC_OVERFLOW at max", &w, NO_WARNING, 0);
	refcount_inc(&over);
	CHECK_EQ(value(&over), REFCOUNT_SATURATED, "INC_OVERFLOW: final value");
	expect_warnings("INC_OVERFLOW", &w, REFCOUNT_ADD_OVF, 1);
	case_end("saturated, ADD_OVF");
}

/* refcount_add() past REFCOUNT_MAX saturates: ADD_OVF. */
static void REFCOUNT_ADD_OVERFLOW(void)
{
	refcount_t over = REFCOUNT_INIT(REFCOUNT_MAX - 1);
	struct warn_snapshot w = warn_take();

	case_begin("REFCOUNT_ADD_OVERFLOW");
	refcount_dec(&over);
	refcount_dec(&over);
	refcount_dec(&over);
	refcount_dec(&over);
	CHECK_EQ(value(&over), REFCOUNT_MAX - 5, "ADD_OVERFLOW: after 4 decs");
	refcount_add(4, &over);
	CHECK_EQ(value(&over), REFCOUNT_MAX - 1, "ADD_OVERFLOW: after good add(4)");
	expect_warnings("ADD_OVERFLOW good part", &w, NO_WARNING, 0);

	refcount_add(4, &over);
	CHECK_EQ(value(&over), REFCOUNT_SATURATED, "ADD_OVERFLOW: final value");
	expect_warnings("ADD_OVERFLOW", &w, REFCOUNT_ADD_OVF, 1);
	case_end("saturated, ADD_OVF");
}

/* inc_not_zero from REFCOUNT_MAX: succeeds (not zero), saturates, ADD_NOT_ZERO_OVF. */
static void REFCOUNT_INC_NOT_ZERO_OVERFLOW(void)
{
	refcount_t over = REFCOUNT_INIT(REFCOUNT_MAX);
	struct warn_snapshot w = warn_take();
	bool ok;

	case_begin("REFCOUNT_INC_NOT_ZERO_OVERFLOW");
	ok = refcount_inc_not_zero(&over);
	CHECK(ok, "INC_NOT_ZERO_OVERFLOW: refcount_inc_not_zero() reported zero");
	CHECK_EQ(value(&over), REFCOUNT_SATURATED, "INC_NOT_ZERO_OVERFLOW: final value");
	expect_warnings("INC_NOT_ZERO_OVERFLOW", &w, REFCOUNT_ADD_NOT_ZERO_OVF, 1);
	case_end("returned true, saturated, ADD_NOT_ZERO_OVF");
}

static void REFCOUNT_ADD_NOT_ZERO_OVERFLOW(void)
{
	refcount_t over = REFCOUNT_INIT(REFCOUNT_MAX);
	struct warn_snapshot w = warn_take();
	bool ok;

	case_begin("REFCOUNT_ADD_NOT_ZERO_OVERFLOW");
	ok = refcount_add_not_zero(6, &over);
	CHECK(ok, "ADD_NOT_ZERO_OVERFLOW: refcount_add_not_zero() reported zero");
	CHECK_EQ(value(&over), REFCOUNT_SATURATED, "ADD_NOT_ZERO_OVERFLOW: final value");
	expect_warnings("ADD_NOT_ZERO_OVERFLOW", &w, REFCOUNT_ADD_NOT_ZERO_OVF, 1);
	case_end("returned true, saturated, ADD_NOT_ZERO_OVF");
}

/* refcount_dec() to zero is a leak: DEC_LEAK, saturated (not left at 0). */
static void REFCOUNT_DEC_ZERO(void)
{
	refcount_t zero = REFCOUNT_INIT(2);
	struct warn_snapshot w = warn_take();

	case_begin("REFCOUNT_DEC_ZERO");
	refcount_dec(&zero);
	CHECK_EQ(value(&zero), 1, "DEC_ZERO: good dec 2 -> 1");
	expect_warnings("DEC_ZERO good part", &w, NO_WARNING, 0);
	refcount_dec(&zero);
	CHECK_EQ(value(&zero), REFCOUNT_SATURATED, "DEC_ZERO: final value");
	expect_warnings("DEC_ZERO", &w, REFCOUNT_DEC_LEAK, 1);
	case_end("saturated, DEC_LEAK");
}

static void REFCOUNT_DEC_NEGATIVE(void)
{
	refcount_t neg = REFCOUNT_INIT(0);
	struct warn_snapshot w = warn_take();

	case_begin("REFCOUNT_DEC_NEGATIVE");
	refcount_dec(&neg);
	CHECK_EQ(value(&neg), REFCOUNT_SATURATED, "DEC_NEGATIVE: final value");
	expect_warnings("DEC_NEGATIVE", &w, REFCOUNT_DEC_LEAK, 1);
	case_end("saturated, DEC_LEAK");
}

static void REFCOUNT_DEC_AND_TEST_NEGATIVE(void)
{
	refcount_t neg = REFCOUNT_INIT(0);
	struct warn_snapshot w = warn_take();
	bool zero;

	case_begin("REFCOUNT_DEC_AND_TEST_NEGATIVE");
	zero = refcount_dec_and_test(&neg);
	CHECK(!zero, "DEC_AND_TEST_NEGATIVE: refcount_dec_and_test() reported zero");
	CHECK_EQ(value(&neg), REFCOUNT_SATURATED, "DEC_AND_TEST_NEGATIVE: final value");
	expect_warnings("DEC_AND_TEST_NEGATIVE", &w, REFCOUNT_SUB_UAF, 1);
	case_end("returned false, saturated, SUB_UAF");
}

static void REFCOUNT_SUB_AND_TEST_NEGATIVE(void)
{
	refcount_t neg = REFCOUNT_INIT(3);
	struct warn_snapshot w = warn_take();
	bool zero;

	case_begin("REFCOUNT_SUB_AND_TEST_NEGATIVE");
	zero = refcount_sub_and_test(5, &neg);
	CHECK(!zero, "SUB_AND_TEST_NEGATIVE: refcount_sub_and_test() reported zero");
	CHECK_EQ(value(&neg), REFCOUNT_SATURATED, "SUB_AND_TEST_NEGATIVE: final value");
	expect_warnings("SUB_AND_TEST_NEGATIVE", &w, REFCOUNT_SUB_UAF, 1);
	case_end("returned false, saturated, SUB_UAF");
}

/* sub_and_test(0) at zero is a use after free, not "reached zero": the
 * kernel's `old > 0 && old == i` test (a plain old == i returned true). */
static void REFCOUNT_SUB_AND_TEST_ZERO(void)
{
	refcount_t neg = REFCOUNT_INIT(0);
	struct warn_snapshot w = warn_take();
	bool zero;

	case_begin("REFCOUNT_SUB_AND_TEST_ZERO");
	zero = refcount_sub_and_test(0, &neg);
	CHECK(!zero, "SUB_AND_TEST_ZERO: refcount_sub_and_test(0) at zero reported zero");
	CHECK_EQ(value(&neg), REFCOUNT_SATURATED, "SUB_AND_TEST_ZERO: final value");
	expect_warnings("SUB_AND_TEST_ZERO", &w, REFCOUNT_SUB_UAF, 1);
	case_end("returned false, saturated, SUB_UAF");
}

/* The safe inc_not_zero fails and stays at 0 silently; the bad inc is ADD_UAF. */
static void REFCOUNT_INC_ZERO(void)
{
	refcount_t zero = REFCOUNT_INIT(0);
	struct warn_snapshot w = warn_take();
	bool ok;

	case_begin("REFCOUNT_INC_ZERO");
	ok = refcount_inc_not_zero(&zero);
	CHECK(!ok, "INC_ZERO: refcount_inc_not_zero() on 0 succeeded");
	CHECK_EQ(value(&zero), 0, "INC_ZERO: inc_not_zero must leave 0");
	expect_warnings("INC_ZERO safe part", &w, NO_WARNING, 0);

	refcount_inc(&zero);
	CHECK_EQ(value(&zero), REFCOUNT_SATURATED, "INC_ZERO: final value");
	expect_warnings("INC_ZERO", &w, REFCOUNT_ADD_UAF, 1);
	case_end("inc_not_zero false and 0; inc saturated, ADD_UAF");
}

static void REFCOUNT_ADD_ZERO(void)
{
	refcount_t zero = REFCOUNT_INIT(0);
	struct warn_snapshot w = warn_take();
	bool ok;

	case_begin("REFCOUNT_ADD_ZERO");
	ok = refcount_add_not_zero(3, &zero);
	CHECK(!ok, "ADD_ZERO: refcount_add_not_zero() on 0 succeeded");
	CHECK_EQ(value(&zero), 0, "ADD_ZERO: add_not_zero must leave 0");
	expect_warnings("ADD_ZERO safe part", &w, NO_WARNING, 0);

	refcount_add(3, &zero);
	CHECK_EQ(value(&zero), REFCOUNT_SATURATED, "ADD_ZERO: final value");
	expect_warnings("ADD_ZERO", &w, REFCOUNT_ADD_UAF, 1);
	case_end("add_not_zero false and 0; add saturated, ADD_UAF");
}

static void REFCOUNT_INC_SATURATED(void)
{
	refcount_t sat = REFCOUNT_INIT(REFCOUNT_SATURATED);
	struct warn_snapshot w = warn_take();

	case_begin("REFCOUNT_INC_SATURATED");
	refcount_inc(&sat);
	CHECK_EQ(value(&sat), REFCOUNT_SATURATED, "INC_SATURATED: final value");
	expect_warnings("INC_SATURATED", &w, REFCOUNT_ADD_OVF, 1);
	case_end("still saturated, ADD_OVF");
}

static void REFCOUNT_DEC_SATURATED(void)
{
	refcount_t sat = REFCOUNT_INIT(REFCOUNT_SATURATED);
	struct warn_snapshot w = warn_take();

	case_begin("REFCOUNT_DEC_SATURATED");
	refcount_dec(&sat);
	CHECK_EQ(value(&sat), REFCOUNT_SATURATED, "DEC_SATURATED: final value");
	expect_warnings("DEC_SATURATED", &w, REFCOUNT_DEC_LEAK, 1);
	case_end("still saturated, DEC_LEAK");
}

static void REFCOUNT_ADD_SATURATED(void)
{
	refcount_t sat = REFCOUNT_INIT(REFCOUNT_SATURATED);
	struct warn_snapshot w = warn_take();

	case_begin("REFCOUNT_ADD_SATURATED");
	refcount_add(8, &sat);
	CHECK_EQ(value(&sat), REFCOUNT_SATURATED, "ADD_SATURATED: final value");
	expect_warnings("ADD_SATURATED", &w, REFCOUNT_ADD_OVF, 1);
	case_end("still saturated, ADD_OVF");
}

static void REFCOUNT_INC_NOT_ZERO_SATURATED(void)
{
	refcount_t sat = REFCOUNT_INIT(REFCOUNT_SATURATED);
	struct warn_snapshot w = warn_take();
	bool ok;

	case_begin("REFCOUNT_INC_NOT_ZERO_SATURATED");
	ok = refcount_inc_not_zero(&sat);
	CHECK(ok, "INC_NOT_ZERO_SATURATED: refcount_inc_not_zero() reported zero");
	CHECK_EQ(value(&sat), REFCOUNT_SATURATED, "INC_NOT_ZERO_SATURATED: final value");
	expect_warnings("INC_NOT_ZERO_SATURATED", &w, REFCOUNT_ADD_NOT_ZERO_OVF, 1);
	case_end("returned true, still saturated, ADD_NOT_ZERO_OVF");
}

static void REFCOUNT_ADD_NOT_ZERO_SATURATED(void)
{
	refcount_t sat = REFCOUNT_INIT(REFCOUNT_SATURATED);
	struct warn_snapshot w = warn_take();
	bool ok;

	case_begin("REFCOUNT_ADD_NOT_ZERO_SATURATED");
	ok = refcount_add_not_zero(7, &sat);
	CHECK(ok, "ADD_NOT_ZERO_SATURATED: refcount_add_not_zero() reported zero");
	CHECK_EQ(value(&sat), REFCOUNT_SATURATED, "ADD_NOT_ZERO_SATURATED: final value");
	expect_warnings("ADD_NOT_ZERO_SATURATED", &w, REFCOUNT_ADD_NOT_ZERO_OVF, 1);
	case_end("returned true, still saturated, ADD_NOT_ZERO_OVF");
}

static void REFCOUNT_DEC_AND_TEST_SATURATED(void)
{
	refcount_t sat = REFCOUNT_INIT(REFCOUNT_SATURATED);
	struct warn_snapshot w = warn_take();
	bool zero;

	case_begin("REFCOUNT_DEC_AND_TEST_SATURATED");
	zero = refcount_dec_and_test(&sat);
	CHECK(!zero, "DEC_AND_TEST_SATURATED: refcount_dec_and_test() reported zero");
	CHECK_EQ(value(&sat), REFCOUNT_SATURATED, "DEC_AND_TEST_SATURATED: final value");
	expect_warnings("DEC_AND_TEST_SATURATED", &w, REFCOUNT_SUB_UAF, 1);
	case_end("returned false, still saturated, SUB_UAF");
}

static void REFCOUNT_SUB_AND_TEST_SATURATED(void)
{
	refcount_t sat = REFCOUNT_INIT(REFCOUNT_SATURATED);
	struct warn_snapshot w = warn_take();
	bool zero;

	case_begin("REFCOUNT_SUB_AND_TEST_SATURATED");
	zero = refcount_sub_and_test(8, &sat);
	CHECK(!zero, "SUB_AND_TEST_SATURATED: refcount_sub_and_test() reported zero");
	CHECK_EQ(value(&sat), REFCOUNT_SATURATED, "SUB_AND_TEST_SATURATED: final value");
	expect_warnings("SUB_AND_TEST_SATURATED", &w, REFCOUNT_SUB_UAF, 1);
	case_end("returned false, still saturated, SUB_UAF");
}

/* ---- the legal paths, for contrast: no warning at all ---- */

static void legal_paths(void)
{
	refcount_t r = REFCOUNT_INIT(1);
	struct warn_snapshot w = warn_take();
	bool b;

	case_begin("legal inc/dec/add/sub");
	refcount_inc(&r);
	refcount_add(3, &r);
	CHECK_EQ(value(&r), 5, "legal: 1 + 1 + 3");
	b = refcount_inc_not_zero(&r);
	CHECK(b, "legal: inc_not_zero on 5");
	b = refcount_add_not_zero(2, &r);
	CHECK(b, "legal: add_not_zero(2) on 6");
	CHECK_EQ(value(&r), 8, "legal: value");
	refcount_dec(&r);
	b = refcount_sub_and_test(3, &r);
	CHECK(!b, "legal: sub_and_test(3) on 7 is not zero");
	b = refcount_sub_and_test(3, &r);
	CHECK(!b, "legal: sub_and_test(3) on 4 is not zero");
	b = refcount_dec_and_test(&r);
	CHECK(b, "legal: dec_and_test on 1 is zero");
	CHECK_EQ(value(&r), 0, "legal: final value");
	refcount_set(&r, 5);
	b = refcount_sub_and_test(5, &r);
	CHECK(b, "legal: sub_and_test(5) on 5 is zero");
	refcount_set(&r, REFCOUNT_MAX);
	b = refcount_dec_and_test(&r);
	CHECK(!b, "legal: dec_and_test on REFCOUNT_MAX");
	CHECK_EQ(value(&r), REFCOUNT_MAX - 1, "legal: MAX - 1");
	expect_warnings("legal paths", &w, NO_WARNING, 0);
	case_end("no warnings");
}

/* ---- the rest of refcount.h's API: _acquire, set_release, old values ---- */

static void acquire_and_old_values(void)
{
	refcount_t r;
	struct warn_snapshot w = warn_take();
	int old = -7;
	bool b;

	case_begin("refcount _acquire / set_release / __refcount_* old values");
	refcount_set_release(&r, 0);
	b = refcount_inc_not_zero_acquire(&r);
	CHECK(!b, "inc_not_zero_acquire on 0 fails");
	b = __refcount_inc_not_zero_acquire(&r, &old);
	CHECK(!b && old == 0, "__inc_not_zero_acquire on 0: false, old 0 (got %d)", old);
	b = refcount_add_not_zero_acquire(3, &r);
	CHECK(!b, "add_not_zero_acquire on 0 fails");
	CHECK_EQ(value(&r), 0, "the _acquire family leaves 0 alone");
	refcount_set_release(&r, 1);
	b = refcount_inc_not_zero_acquire(&r);
	CHECK(b, "inc_not_zero_acquire on 1");
	b = __refcount_add_not_zero_acquire(4, &r, &old);
	CHECK(b && old == 2, "__add_not_zero_acquire(4) on 2: old 2 (got %d)", old);
	CHECK_EQ(value(&r), 6, "after the _acquire gets");
	__refcount_inc(&r, &old);
	CHECK_EQ(old, 6, "__refcount_inc old");
	__refcount_add(2, &r, &old);
	CHECK_EQ(old, 7, "__refcount_add old");
	b = __refcount_inc_not_zero(&r, &old);
	CHECK(b && old == 9, "__refcount_inc_not_zero old 9 (got %d)", old);
	b = __refcount_add_not_zero(1, &r, &old);
	CHECK(b && old == 10, "__refcount_add_not_zero old 10 (got %d)", old);
	__refcount_dec(&r, &old);
	CHECK_EQ(old, 11, "__refcount_dec old");
	b = __refcount_sub_and_test(8, &r, &old);
	CHECK(!b && old == 10, "__refcount_sub_and_test(8) on 10: old 10 (got %d)", old);
	b = __refcount_dec_and_test(&r, &old);
	CHECK(!b && old == 2, "__refcount_dec_and_test on 2: old 2 (got %d)", old);
	b = __refcount_dec_and_test(&r, &old);
	CHECK(b && old == 1, "__refcount_dec_and_test on 1 reaches zero: old 1 (got %d)", old);
	expect_warnings("_acquire and old values legal", &w, NO_WARNING, 0);
	/* The _acquire forms are the kernel's *_limited_acquire with limit
	 * INT_MAX (v6.15): an increment past the limit, or on a saturated
	 * (negative) count, fails and leaves the count alone, without a
	 * warning; unlike their relaxed twins, they never saturate. */
	refcount_set(&r, REFCOUNT_MAX);
	b = __refcount_inc_not_zero_acquire(&r, &old);
	CHECK(!b && old == REFCOUNT_MAX, "inc_not_zero_acquire on MAX fails, old MAX (got %d, old %d)", b, old);
	CHECK_EQ(value(&r), REFCOUNT_MAX, "inc_not_zero_acquire on MAX leaves MAX");
	refcount_set(&r, REFCOUNT_MAX - 2);
	b = refcount_add_not_zero_acquire(3, &r);
	CHECK(!b, "add_not_zero_acquire(3) on MAX-2 fails");
	CHECK_EQ(value(&r), REFCOUNT_MAX - 2, "add_not_zero_acquire(3) on MAX-2 leaves it");
	b = refcount_add_not_zero_acquire(2, &r);
	CHECK(b, "add_not_zero_acquire(2) on MAX-2 reaches MAX (the limit is inclusive)");
	CHECK_EQ(value(&r), REFCOUNT_MAX, "add_not_zero_acquire(2) on MAX-2");
	refcount_set(&r, REFCOUNT_SATURATED);
	b = refcount_inc_not_zero_acquire(&r);
	CHECK(!b, "inc_not_zero_acquire on a saturated count fails");
	CHECK_EQ(value(&r), REFCOUNT_SATURATED, "inc_not_zero_acquire leaves a saturated count");
	refcount_set(&r, 5);
	b = __refcount_inc_not_zero_limited_acquire(&r, &old, 5);
	CHECK(!b && old == 5, "inc_not_zero_limited_acquire(limit 5) on 5 fails, old 5 (got old %d)", old);
	b = __refcount_inc_not_zero_limited_acquire(&r, &old, 6);
	CHECK(b && old == 5 && value(&r) == 6, "inc_not_zero_limited_acquire(limit 6) on 5 gives 6");
	expect_warnings("_acquire at the limit", &w, NO_WARNING, 0);
	/* ... where the relaxed form still saturates and warns. */
	refcount_set(&r, REFCOUNT_MAX);
	b = refcount_inc_not_zero(&r);
	CHECK(b, "inc_not_zero on MAX succeeds");
	CHECK_EQ(value(&r), REFCOUNT_SATURATED, "inc_not_zero on MAX saturates");
	expect_warnings("inc_not_zero overflow", &w, REFCOUNT_ADD_NOT_ZERO_OVF, 1);
	case_end("old values exact; _acquire fails on 0, at the limit and when saturated");
}

static void dec_not_one_on_zero(void)
{
	refcount_t r = REFCOUNT_INIT(0);

	if (!refcount_dec_not_one(&r))
		CHECK(0, "dec_not_one on 0 returned false");
}

/* lib/refcount.c has two WARN_ONCE sites for an underflow: the saturating
 * one (SUB_UAF, printed by the LKDTM cases above) and refcount_dec_not_one's.
 * Each prints once, independently. */
static void dec_not_one_warns_once_on_its_own(void)
{
	struct warn_snapshot w = warn_take();
	int first, second;

	case_begin("refcount_dec_not_one's own WARN_ONCE");
	CHECK(refcount_warnings(REFCOUNT_SUB_UAF) > 0, "SUB_UAF was already printed by the cases above");
	first = check_stderr_lines(dec_not_one_on_zero, "underflow");
	second = check_stderr_lines(dec_not_one_on_zero, "underflow");
	CHECK_EQ(first, 1, "dec_not_one prints its underflow although SUB_UAF printed before");
	CHECK_EQ(second, 0, "and only once");
	expect_warnings("dec_not_one twice", &w, REFCOUNT_SUB_UAF, 2);
	case_end("its own print-once flag");
}

/* ---- lib/refcount.c helpers ---- */

static void dec_if_one(void)
{
	refcount_t r;
	struct warn_snapshot w = warn_take();
	bool b;

	case_begin("refcount_dec_if_one");
	refcount_set(&r, 1);
	b = refcount_dec_if_one(&r);
	CHECK(b, "dec_if_one on 1 returns true");
	CHECK_EQ(value(&r), 0, "dec_if_one on 1 -> 0");

	refcount_set(&r, 2);
	b = refcount_dec_if_one(&r);
	CHECK(!b, "dec_if_one on 2 returns false");
	CHECK_EQ(value(&r), 2, "dec_if_one on 2 leaves 2");

	refcount_set(&r, 0);
	b = refcount_dec_if_one(&r);
	CHECK(!b, "dec_if_one on 0 returns false");
	CHECK_EQ(value(&r), 0, "dec_if_one on 0 leaves 0");

	refcount_set(&r, REFCOUNT_SATURATED);
	b = refcount_dec_if_one(&r);
	CHECK(!b, "dec_if_one on saturated returns false");
	CHECK_EQ(value(&r), REFCOUNT_SATURATED, "dec_if_one on saturated leaves it");
	expect_warnings("dec_if_one", &w, NO_WARNING, 0);
	case_end("true only on 1 -> 0, no warnings");
}

static void dec_not_one(void)
{
	refcount_t r;
	struct warn_snapshot w = warn_take();
	bool b;

	case_begin("refcount_dec_not_one");
	refcount_set(&r, 3);
	b = refcount_dec_not_one(&r);
	CHECK(b, "dec_not_one on 3 returns true");
	CHECK_EQ(value(&r), 2, "dec_not_one on 3 -> 2");
	b = refcount_dec_not_one(&r);
	CHECK(b, "dec_not_one on 2 returns true");
	CHECK_EQ(value(&r), 1, "dec_not_one on 2 -> 1");
	b = refcount_dec_not_one(&r);
	CHECK(!b, "dec_not_one on 1 returns false");
	CHECK_EQ(value(&r), 1, "dec_not_one on 1 leaves 1");

	refcount_set(&r, REFCOUNT_MAX);
	b = refcount_dec_not_one(&r);
	CHECK(b, "dec_not_one on MAX returns true");
	CHECK_EQ(value(&r), REFCOUNT_MAX - 1, "dec_not_one on MAX -> MAX - 1");
	expect_warnings("dec_not_one legal", &w, NO_WARNING, 0);

	/* Saturated: reports "decremented" but does not move, and is silent. */
	refcount_set(&r, REFCOUNT_SATURATED);
	b = refcount_dec_not_one(&r);
	CHECK(b, "dec_not_one on saturated returns true");
	CHECK_EQ(value(&r), REFCOUNT_SATURATED, "dec_not_one on saturated leaves it");
	expect_warnings("dec_not_one saturated", &w, NO_WARNING, 0);

	/* 0: the kernel WARNs "underflow; use-after-free", returns true and
	 * leaves the value alone (no saturation here). */
	refcount_set(&r, 0);
	b = refcount_dec_not_one(&r);
	CHECK(b, "dec_not_one on 0 returns true");
	CHECK_EQ(value(&r), 0, "dec_not_one on 0 leaves 0");
	expect_warnings("dec_not_one on 0", &w, REFCOUNT_SUB_UAF, 1);
	case_end("saturated: true and unchanged; 0: SUB_UAF, unchanged");
}

/* -- is a lock held? asked from another thread, which never owns it -- */

struct probe {
	pthread_mutex_t *lock;
	int trylock_result;
};

static void *probe_mutex(void *arg)
{
	struct probe *p = arg;

	p->trylock_result = pthread_mutex_trylock(p->lock);
	if (p->trylock_result == 0)
		pthread_mutex_unlock(p->lock);
	return NULL;
}

/* EBUSY when someone holds it, 0 when free. */
static int mutex_state_from_other_thread(pthread_mutex_t *lock)
{
	struct probe p = { .lock = lock, .trylock_result = -1 };
	pthread_t t;

	if (pthread_create(&t, NULL, probe_mutex, &p) != 0)
		return -1;
	pthread_join(t, NULL);
	return p.trylock_result;
}

struct racer {
	refcount_t *r;
	pthread_mutex_t *lock;
	bool result;
};

static void *dec_and_mutex_lock_racer(void *arg)
{
	struct racer *x = arg;

	x->result = refcount_dec_and_mutex_lock(x->r, x->lock);
	if (x->result)
		pthread_mutex_unlock(x->lock);
	return NULL;
}

static void dec_and_mutex_lock(void)
{
	pthread_mutex_t lock;
	pthread_mutexattr_t attr;
	refcount_t r;
	struct warn_snapshot w = warn_take();
	bool b;

	case_begin("refcount_dec_and_mutex_lock");
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&lock, &attr);
	pthread_mutexattr_destroy(&attr);

	/* 2 -> 1: not the last, no lock. */
	refcount_set(&r, 2);
	b = refcount_dec_and_mutex_lock(&r, &lock);
	CHECK(!b, "dec_and_mutex_lock on 2 returns false");
	CHECK_EQ(value(&r), 1, "dec_and_mutex_lock on 2 -> 1");
	CHECK_EQ(mutex_state_from_other_thread(&lock), 0, "mutex free after a false return (2 -> 1)");

	/* 1 -> 0: true, and we hold the lock. */
	b = refcount_dec_and_mutex_lock(&r, &lock);
	CHECK(b, "dec_and_mutex_lock on 1 returns true");
	CHECK_EQ(value(&r), 0, "dec_and_mutex_lock on 1 -> 0");
	CHECK_EQ(mutex_state_from_other_thread(&lock), EBUSY, "mutex held after a true return");
	/* And the owner's own trylock on it sees it taken. */
	CHECK_EQ(pthread_mutex_trylock(&lock), EBUSY, "trylock by owner on held mutex");
	if (b)
		CHECK_EQ(pthread_mutex_unlock(&lock), 0, "owner unlocks");
	CHECK_EQ(mutex_state_from_other_thread(&lock), 0, "mutex free after unlock");

	/* Saturated: dec_not_one says done; never takes the lock, stays put. */
	refcount_set(&r, REFCOUNT_SATURATED);
	b = refcount_dec_and_mutex_lock(&r, &lock);
	CHECK(!b, "dec_and_mutex_lock on saturated returns false");
	CHECK_EQ(value(&r), REFCOUNT_SATURATED, "dec_and_mutex_lock on saturated leaves it");
	CHECK_EQ(mutex_state_from_other_thread(&lock), 0, "mutex free after saturated");
	expect_warnings("dec_and_mutex_lock", &w, NO_WARNING, 0);

	/*
	 * The slow path that loses: the racer sees 1, blocks on the mutex we
	 * hold, we take a reference meanwhile, so under the lock it only goes
	 * 2 -> 1 and must return false having unlocked. (If the racer is slow
	 * to start it sees 2 and takes the fast path: same outcome.)
	 */
	{
		struct racer x = { .r = &r, .lock = &lock, .result = true };
		pthread_t t;

		refcount_set(&r, 1);
		pthread_mutex_lock(&lock);
		if (pthread_create(&t, NULL, dec_and_mutex_lock_racer, &x) == 0) {
			usleep(20000);
			refcount_inc(&r);
			pthread_mutex_unlock(&lock);
			pthread_join(t, NULL);
			CHECK(!x.result, "dec_and_mutex_lock racing an inc returns false");
			CHECK_EQ(value(&r), 1, "dec_and_mutex_lock racing an inc leaves 1");
			CHECK_EQ(mutex_state_from_other_thread(&lock), 0, "mutex free after the race");
		} else {
			pthread_mutex_unlock(&lock);
			CHECK(0, "pthread_create failed");
		}
	}
	expect_warnings("dec_and_mutex_lock race", &w, NO_WARNING, 0);
	pthread_mutex_destroy(&lock);
	case_end("lock held on true only");
}

static void dec_and_lock(void)
{
	pthread_spinlock_t lock;
	refcount_t r;
	struct warn_snapshot w = warn_take();
	bool b;

	case_begin("refcount_dec_and_lock");
	pthread_spin_init(&lock, PTHREAD_PROCESS_PRIVATE);

	refcount_set(&r, 2);
	b = refcount_dec_and_lock(&r, &lock);
	CHECK(!b, "dec_and_lock on 2 returns false");
	CHECK_EQ(value(&r), 1, "dec_and_lock on 2 -> 1");
	CHECK_EQ(pthread_spin_trylock(&lock), 0, "spinlock free after a false return");
	pthread_spin_unlock(&lock);

	b = refcount_dec_and_lock(&r, &lock);
	CHECK(b, "dec_and_lock on 1 returns true");
	CHECK_EQ(value(&r), 0, "dec_and_lock on 1 -> 0");
	CHECK_EQ(pthread_spin_trylock(&lock), EBUSY, "spinlock held after a true return");
	if (b)
		pthread_spin_unlock(&lock);
	CHECK_EQ(pthread_spin_trylock(&lock), 0, "spinlock free after unlock");
	pthread_spin_unlock(&lock);

	refcount_set(&r, REFCOUNT_SATURATED);
	b = refcount_dec_and_lock(&r, &lock);
	CHECK(!b, "dec_and_lock on saturated returns false");
	CHECK_EQ(value(&r), REFCOUNT_SATURATED, "dec_and_lock on saturated leaves it");
	CHECK_EQ(pthread_spin_trylock(&lock), 0, "spinlock free after saturated");
	pthread_spin_unlock(&lock);
	expect_warnings("dec_and_lock", &w, NO_WARNING, 0);
	pthread_spin_destroy(&lock);
	case_end("lock held on true only");
}

/* The kref backend over refcount_t: a saturated kref never releases. */
static unsigned int kref_releases;
static void count_release(struct kref_refcount *k) { (void)k; kref_releases++; }

static void kref_refcount_saturated(void)
{
	struct kref_refcount k;
	struct warn_snapshot w = warn_take();

	case_begin("kref_refcount saturated");
	kref_refcount_init(&k);
	refcount_set(&k.refcount, REFCOUNT_SATURATED);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(kref_refcount_put(&k, count_release), 0, "put on saturated kref");
	CHECK_EQ(kref_releases, 0, "saturated kref never released");
	CHECK_EQ(kref_refcount_read(&k), (unsigned int)REFCOUNT_SATURATED, "still saturated");
	expect_warnings("kref saturated", &w, REFCOUNT_SUB_UAF, 4);

	w = warn_take();
	kref_refcount_init(&k);
	kref_refcount_get(&k);
	CHECK_EQ(kref_refcount_put(&k, count_release), 0, "put 2 -> 1");
	CHECK_EQ(kref_refcount_put(&k, count_release), 1, "put 1 -> 0 releases");
	CHECK_EQ(kref_releases, 1, "released once");
	CHECK(!kref_refcount_get_unless_zero(&k), "get_unless_zero on 0 fails");
	CHECK_EQ(kref_refcount_read(&k), 0, "stays 0");
	expect_warnings("kref normal", &w, NO_WARNING, 0);
	case_end("saturated leaks, never frees");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("LKDTM refcount cases (drivers/misc/lkdtm/refcount.c), REFCOUNT_SATURATED = %d\n",
	       REFCOUNT_SATURATED);

	REFCOUNT_INC_OVERFLOW();
	REFCOUNT_ADD_OVERFLOW();
	REFCOUNT_INC_NOT_ZERO_OVERFLOW();
	REFCOUNT_ADD_NOT_ZERO_OVERFLOW();
	REFCOUNT_DEC_ZERO();
	REFCOUNT_DEC_NEGATIVE();
	REFCOUNT_DEC_AND_TEST_NEGATIVE();
	REFCOUNT_SUB_AND_TEST_NEGATIVE();
	REFCOUNT_SUB_AND_TEST_ZERO();
	REFCOUNT_INC_ZERO();
	REFCOUNT_ADD_ZERO();
	REFCOUNT_INC_SATURATED();
	REFCOUNT_DEC_SATURATED();
	REFCOUNT_ADD_SATURATED();
	REFCOUNT_INC_NOT_ZERO_SATURATED();
	REFCOUNT_ADD_NOT_ZERO_SATURATED();
	REFCOUNT_DEC_AND_TEST_SATURATED();
	REFCOUNT_SUB_AND_TEST_SATURATED();

	printf("lib/refcount.c helpers\n");
	dec_not_one_warns_once_on_its_own();
	legal_paths();
	acquire_and_old_values();
	dec_if_one();
	dec_not_one();
	dec_and_mutex_lock();
	dec_and_lock();
	kref_refcount_saturated();

	printf("warnings counted in total:");
	for (int t = 0; t < REFCOUNT_NR_WARNINGS; t++)
		printf(" %s=%lu", refcount_warning_name((enum refcount_saturation_type)t),
		       refcount_warnings((enum refcount_saturation_type)t));
	printf("\n");
	return check_summary();
}
