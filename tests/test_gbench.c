/*
 * The C shim over Google Benchmark (shims/gbench.h), pinned down:
 *
 * - gb_register: refuses a NULL spec, no or empty name, no body, threads
 *   below 1 and a duplicate name; returns consecutive indexes;
 * - gb_run_once: setup once before the threads and teardown once after,
 *   with the thread count; the body once per thread, each with a distinct
 *   index; gb_start returns only when every thread of the run has reached
 *   it (the window's line-up); a bad index is refused;
 * - counters: one set by thread 0 alone arrives unchanged, one set by every
 *   thread arrives summed; gb_skip_with_error arrives as `error`;
 * - JSON: names carry no ordinal (the same benchmark is named alike whatever
 *   else was registered, and in whatever order), real_time = window /
 *   iterations, so with iterations = all threads' operations it is
 *   ns_per_op / threads; the file is replaced whole, a symlink at its
 *   temporary is not followed, and an unwritable path is an error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "gbench.h"

struct probe {
	int threads;
	int setup_calls, teardown_calls, bad_threads, in_run, unpaired;
	atomic_int arrived;		/* threads that reached gb_start */
	atomic_int early;		/* threads that left gb_start before all arrived */
	atomic_int body_calls, body_outside_run;
	atomic_int index_seen;		/* bit per thread index */
};

static void probe_setup(int threads, void *ctx)
{
	struct probe *p = ctx;

	p->setup_calls++;
	p->bad_threads += threads != p->threads;
	p->unpaired += p->in_run;
	p->in_run = 1;
	atomic_store(&p->arrived, 0);
}

static void probe_teardown(int threads, void *ctx)
{
	struct probe *p = ctx;

	p->teardown_calls++;
	p->bad_threads += threads != p->threads;
	p->unpaired += !p->in_run;
	p->in_run = 0;
}

static void probe_body(struct gb_state *st, void *ctx)
{
	struct probe *p = ctx;
	int t = gb_thread_index(st), n = gb_threads(st);

	atomic_fetch_add(&p->body_calls, 1);
	if (!p->in_run)
		atomic_fetch_add(&p->body_outside_run, 1);
	if (t >= 0 && t < 30)
		atomic_fetch_or(&p->index_seen, 1 << t);
	atomic_fetch_add(&p->arrived, 1);
	gb_start(st);
	if (atomic_load(&p->arrived) != n)
		atomic_fetch_add(&p->early, 1);
	gb_stop(st);
	if (t == 0)
		gb_counter_set(st, "only0", 42.5);
	gb_counter_set(st, "each", 1.5);
	gb_counter_set(st, "threads_seen", n);
}

static void error_body(struct gb_state *st, void *ctx)
{
	(void)ctx;
	gb_skip_with_error(st, "boom: deliberate");
}

struct seen {
	int calls, spec, threads;
	bool error;
	char error_text[128];
	double only0, each, threads_seen;
};

static void on_result(const struct gb_result *r, void *arg)
{
	struct seen *s = arg;

	s->calls++;
	s->spec = r->spec;
	s->threads = r->threads;
	s->error = r->error != NULL;
	snprintf(s->error_text, sizeof(s->error_text), "%s", r->error ? r->error : "");
	for (int i = 0; i < r->ncounters; i++) {
		if (!strcmp(r->counters[i].name, "only0"))
			s->only0 = r->counters[i].value;
		if (!strcmp(r->counters[i].name, "each"))
			s->each = r->counters[i].value;
		if (!strcmp(r->counters[i].name, "threads_seen"))
			s->threads_seen = r->counters[i].value;
	}
}

static bool near(double a, double b) { return a > b * 0.999999 && a < b * 1.000001; }

static void test_register(void)
{
	struct probe p = { .threads = 1 };
	struct gb_spec s = { .name = "reg/a", .body = probe_body, .ctx = &p, .threads = 1 };
	int first = gb_register(&s);

	CHECK(first >= 0, "a good spec is registered");
	CHECK(gb_register(&s) == -1, "a duplicate name is refused");
	s.name = "reg/b";
	CHECK_EQ(gb_register(&s), first + 1, "gb_register returns the next index");
	s.name = "reg/c";
	s.threads = 0;
	CHECK(gb_register(&s) == -1, "threads 0 is refused");
	s.threads = -1;
	CHECK(gb_register(&s) == -1, "threads -1 is refused");
	s.threads = 1;
	s.body = NULL;
	CHECK(gb_register(&s) == -1, "a spec without a body is refused");
	s.body = probe_body;
	s.name = "";
	CHECK(gb_register(&s) == -1, "an empty name is refused");
	s.name = NULL;
	CHECK(gb_register(&s) == -1, "a spec without a name is refused");
	CHECK(gb_register(NULL) == -1, "a NULL spec is refused");
}

static void test_runs(void)
{
	for (int threads = 1; threads <= 4; threads *= 2) {
		struct probe p = { .threads = threads };
		char name[32];
		struct gb_spec s = { .name = name, .body = probe_body, .setup = probe_setup,
				     .teardown = probe_teardown, .ctx = &p, .threads = threads };
		int idx;

		snprintf(name, sizeof(name), "run/t%d", threads);
		idx = gb_register(&s);
		for (int rep = 0; rep < 3; rep++) {
			struct seen seen = { 0 };

			CHECK(gb_run_once(idx, on_result, &seen) == 0, "%s: gb_run_once", name);
			CHECK((seen.calls) == (1), "%s: one result per run", name);
			CHECK((seen.spec) == (idx), "%s: the result names its spec", name);
			CHECK((seen.threads) == (threads), "%s: the result's thread count", name);
			CHECK(!seen.error, "%s: no error", name);
			CHECK(near(seen.only0, 42.5), "%s: thread 0's counter arrives unchanged (%g)", name, seen.only0);
			CHECK(near(seen.each, 1.5 * threads), "%s: a counter set by every thread is summed (%g)",
			      name, seen.each);
			CHECK(near(seen.threads_seen, (double)threads * threads), "%s: gb_threads() in every body", name);
		}
		CHECK((p.setup_calls) == (3), "%s: setup once per run", name);
		CHECK((p.teardown_calls) == (3), "%s: teardown once per run", name);
		CHECK((p.unpaired + p.bad_threads) == (0), "%s: setup/teardown paired, with the thread count", name);
		CHECK((atomic_load(&p.body_calls)) == (3 * threads), "%s: the body once per thread per run", name);
		CHECK((atomic_load(&p.body_outside_run)) == (0), "%s: bodies run between setup and teardown", name);
		CHECK((atomic_load(&p.index_seen)) == ((1 << threads) - 1), "%s: thread indexes 0..threads-1", name);
		CHECK((atomic_load(&p.early)) == (0), "%s: gb_start waits for every thread", name);
	}
}

static void test_error(void)
{
	struct gb_spec s = { .name = "err/t1", .body = error_body, .threads = 1 };
	struct seen seen = { 0 };
	int idx = gb_register(&s);

	CHECK_EQ(gb_run_once(idx, on_result, &seen), 0, "an erroring body still runs once");
	CHECK(seen.error && strstr(seen.error_text, "boom: deliberate"), "gb_skip_with_error arrives as error");
	CHECK(gb_run_once(-1, on_result, &seen) == -1, "index -1 is refused");
	CHECK(gb_run_once(idx + 1000, on_result, &seen) == -1, "an index past the end is refused");
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* The number after "key": in the first object that holds "run_name": name. */
static double json_field(const char *doc, const char *name, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\"run_name\": \"%s\"", name);
	p = strstr(doc, pat);
	if (!p)
		return -1;
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(p, pat);
	return p ? strtod(p + strlen(pat), NULL) : -1;
}

static void test_json(const char *dir)
{
	char path[512], tmp[520], victim[520];
	struct gb_counter c[] = { { "ns_per_op", 8.0 } };
	struct gb_json_run a = { .name = "atomic/hammer/w0/t2", .threads = 2, .repetition = 0, .repetitions = 2,
				 .iterations = 2000000, .real_s = 0.008, .cpu_s = 0.016, .counters = c, .ncounters = 1 };
	struct gb_json_run b = a;
	char *doc;
	int fd;

	snprintf(path, sizeof(path), "%s/run.gbench.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, "keep", 4) == 4, "a file a symlink points at");
	close(fd);
	CHECK(symlink(victim, tmp) == 0, "a symlink where the temporary goes");
	b.repetition = 1;
	CHECK_EQ(gb_json_add(&a), 0, "gb_json_add");
	CHECK_EQ(gb_json_add(&b), 0, "gb_json_add");
	CHECK_EQ(gb_json_write(path), 0, "gb_json_write");
	doc = slurp(path);
	CHECK(doc != NULL, "the JSON was written");
	if (!doc)
		return;
	CHECK(strstr(doc, "\"name\": \"atomic/hammer/w0/t2/threads:2\"") != NULL,
	      "the name is the caller's with the thread count, no ordinal");
	CHECK(near(json_field(doc, "atomic/hammer/w0/t2/threads:2", "iterations"), 2000000), "iterations = all ops");
	/* 0.008 s / 2e6 ops = 4 ns: ns_per_op (2 x 0.008 s / 2e6 = 8 ns) / threads */
	CHECK(near(json_field(doc, "atomic/hammer/w0/t2/threads:2", "real_time"), 4.0),
	      "real_time = window / iterations = ns_per_op / threads (%g)",
	      json_field(doc, "atomic/hammer/w0/t2/threads:2", "real_time"));
	CHECK(strstr(doc, "\"repetition_index\": 1") != NULL, "repetition indexes kept");
	CHECK(strstr(doc, "\"ns_per_op\": ") != NULL, "counters kept");
	free(doc);
	doc = slurp(victim);
	CHECK(doc && !strcmp(doc, "keep"), "the symlink's target is untouched");
	free(doc);
	CHECK(access(tmp, F_OK) != 0, "no temporary is left behind");
	snprintf(path, sizeof(path), "%s/no/such/dir/x.json", dir);
	errno = 0;
	CHECK(gb_json_write(path) == -1 && errno == ENOENT, "an unwritable path is an error with errno");
}

int main(void)
{
	char dir[] = "/tmp/test_gbench.XXXXXX";

	CHECK(mkdtemp(dir) != NULL, "a scratch directory");
	CHECK_EQ(gb_init("test_gbench"), 0, "gb_init");
	test_register();
	test_runs();
	test_error();
	test_json(dir);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		CHECK_EQ(system(cmd), 0, "scratch removed");
	}
	return check_summary();
}
