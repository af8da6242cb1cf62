/*
 * The lookup workloads' self-check and writer (bench/workloads/ledger.c, bench/workloads/writer.c):
 * the ledger must fail on each kind of bad books, so a green lookup row means
 * something; the writer must tick and stop.
 */
#include <string.h>
#include <time.h>

#include "check.h"
#include "workloads/ledger.h"
#include "workloads/writer.h"

static void check_balanced_books_pass(void)
{
	struct kb_ledger l = { 0 };
	atomic_int releases = 0;
	char text[160] = "";

	kb_ledger_created(&l);
	CHECK(kb_ledger_release(&l, &releases), "first release counts");
	kb_ledger_freed(&l);
	CHECK_EQ(kb_ledger_check(&l, text, sizeof(text)), 0, "balanced books");
}

static void check_double_release_fails(void)
{
	struct kb_ledger l = { 0 };
	atomic_int releases = 0;
	char text[160] = "";

	kb_ledger_created(&l);
	CHECK(kb_ledger_release(&l, &releases), "first release counts");
	CHECK(!kb_ledger_release(&l, &releases), "second release refused");
	kb_ledger_freed(&l);
	CHECK_EQ(kb_ledger_check(&l, text, sizeof(text)), -1, "double release fails the check");
	CHECK(strstr(text, "double release") != NULL, "message names it: %s", text);
}

static void check_leak_and_unfreed_fail(void)
{
	struct kb_ledger l = { 0 };
	atomic_int releases = 0;
	char text[160] = "";

	kb_ledger_created(&l);
	kb_ledger_created(&l);
	CHECK(kb_ledger_release(&l, &releases), "release counts");
	CHECK_EQ(kb_ledger_check(&l, text, sizeof(text)), -1, "one never released, none freed");
	CHECK(strstr(text, "created 2, released 1, freed 0") != NULL, "message: %s", text);
}

static void check_poison_fails(void)
{
	struct kb_ledger l = { 0 };
	char text[160] = "";

	kb_ledger_poison_seen(&l, 3);
	CHECK_EQ(kb_ledger_check(&l, text, sizeof(text)), -1, "poison seen fails the check");
	CHECK(strstr(text, "3 reader(s) saw poisoned") != NULL, "message: %s", text);
}

static void count_tick(void *ctx, uint64_t random)
{
	(void)random;
	atomic_fetch_add((atomic_int *)ctx, 1);
}

static void check_writer_ticks_and_stops(void)
{
	atomic_int ticks = 0;
	struct kb_writer w = { .rate = 2000, .tick = count_tick, .ctx = &ticks };
	struct timespec pause = { 0, 50 * 1000 * 1000 };

	CHECK_EQ(kb_writer_start(&w), 0, "writer starts");
	while (atomic_load(&ticks) < 5)
		nanosleep(&pause, NULL);
	kb_writer_stop(&w);
	int after_stop = atomic_load(&ticks);
	nanosleep(&pause, NULL);
	CHECK_EQ(atomic_load(&ticks), after_stop, "no tick after stop");
	kb_writer_stop(&w);	/* idempotent */
	CHECK(!w.running, "stopped");
}

static void check_rate_zero_starts_nothing(void)
{
	atomic_int ticks = 0;
	struct kb_writer w = { .rate = 0, .tick = count_tick, .ctx = &ticks };

	CHECK_EQ(kb_writer_start(&w), 0, "rate 0 is not an error");
	CHECK(!w.running, "rate 0 starts no thread");
	kb_writer_stop(&w);
}

int main(void)
{
	check_balanced_books_pass();
	check_double_release_fails();
	check_leak_and_unfreed_fail();
	check_poison_fails();
	check_writer_ticks_and_stops();
	check_rate_zero_starts_nothing();
	return check_summary();
}
