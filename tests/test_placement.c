/*
 * Placement tests: the planner against hwloc synthetic topologies of server
 * shapes (two sockets with SMT, eight NUMA nodes, 256 PUs, NUMA above
 * packages, Linux-style sibling numbering, disallowed PUs), the list parser,
 * XML round-trips, and real binding on this machine.
 *
 * Synthetic strings used here, all accepted by hwloc 2.9:
 *   "pack:2 core:32 pu:2"                     2 sockets x 32 cores x SMT2
 *   "pack:2 core:32 pu:2(indexes=2*64:1*2)"   same, siblings numbered n and
 *                                             n+64 as Linux does on x86
 *   "pack:2 numa:4 core:16 pu:2"              2 sockets x 4 NUMA nodes, 256 PUs
 *                                             (hwloc adds a Group per node)
 *   "pack:4 core:32 pu:2"                     4 sockets, 256 PUs
 *   "numa:2 pack:2 core:4 pu:2"               NUMA nodes above packages
 *   "pack:2 pu:4"                             no Core objects
 * Plain one-NUMA strings get a single NUMA node inserted by hwloc.
 *
 * A plain main: prints each check, then "N passed, N failed"; exits non-zero
 * on any failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hwloc.h>

#include "placement.h"

static int passed, failed;

__attribute__((format(printf, 2, 3)))
static bool check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s ", ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (ok)
		passed++;
	else
		failed++;
	return ok;
}

static struct kb_topo *load_synthetic(const char *desc)
{
	struct kb_topo *t;
	char err[256] = "";
	int rc = kb_topo_load_synthetic(&t, desc, err, sizeof(err));

	check(rc == 0, "load synthetic \"%s\"%s%s", desc, rc ? ": " : "", rc ? err : "");
	return rc == 0 ? t : NULL;
}

/* Plans with a policy string; returns a malloc'd array or NULL (the error
 * then lands in err). */
static int *plan(const struct kb_topo *t, const char *policy, int nthreads,
		 bool oversubscribe, char *err, size_t errlen)
{
	struct kb_placement p;
	int *cpus;

	if (kb_placement_parse(policy, &p, err, errlen) < 0)
		return NULL;
	cpus = calloc((size_t)(nthreads > 0 ? nthreads : 1), sizeof(*cpus));
	if (kb_place_plan(t, &p, nthreads, oversubscribe, cpus, err, errlen) < 0) {
		free(cpus);
		cpus = NULL;
	}
	kb_placement_free(&p);
	return cpus;
}

/* A plan that must succeed; failures are reported as a check. */
static int *plan_ok(const struct kb_topo *t, const char *policy, int nthreads,
		    bool oversubscribe)
{
	char err[256] = "";
	int *cpus = plan(t, policy, nthreads, oversubscribe, err, sizeof(err));

	if (!cpus)
		check(false, "plan %s for %d threads: %s", policy, nthreads, err);
	return cpus;
}

static void check_refused(const struct kb_topo *t, const char *policy, int nthreads,
			  bool oversubscribe, const char *why)
{
	char err[256] = "";
	int *cpus = plan(t, policy, nthreads, oversubscribe, err, sizeof(err));

	check(!cpus && err[0], "%s is refused: \"%s\"", why, err);
	free(cpus);
}

static struct kb_pu_where where(const struct kb_topo *t, int cpu)
{
	struct kb_pu_where w = { -1, -1, -1, -1 };

	if (kb_topo_locate(t, cpu, &w) < 0)
		check(false, "PU %d is locatable", cpu);
	return w;
}

static bool all_distinct(const int *v, int n)
{
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (v[i] == v[j])
				return false;
	return true;
}

/* Counts distinct values of a field of kb_pu_where over the first n threads. */
enum field { CORE, PACKAGE, NUMA };

static int distinct_domains(const struct kb_topo *t, const int *cpus, int n, enum field f)
{
	int *v = malloc((size_t)n * sizeof(*v)), count = 0;

	for (int i = 0; i < n; i++) {
		struct kb_pu_where w = where(t, cpus[i]);
		int x = f == CORE ? w.core : f == PACKAGE ? w.package : w.numa;
		bool seen = false;

		for (int j = 0; j < count; j++)
			seen = seen || v[j] == x;
		if (!seen)
			v[count++] = x;
	}
	free(v);
	return count;
}

static bool all_first_siblings(const struct kb_topo *t, const int *cpus, int n)
{
	for (int i = 0; i < n; i++)
		if (where(t, cpus[i]).smt != 0)
			return false;
	return true;
}

static void check_summary(const struct kb_topo *t, const char *want)
{
	char got[160];

	kb_topo_summary(t, got, sizeof(got));
	check(strcmp(got, want) == 0, "summary \"%s\" (want \"%s\")", got, want);
}

/* ---- two sockets x 32 cores x SMT2 ------------------------------------ */

/* PU of (core c, sibling s) for the two numberings of the same machine. */
static int pu_sequential(int c, int s) { return 2 * c + s; }
static int pu_linux(int c, int s) { return c + 64 * s; }

static void check_exact(const char *what, const int *cpus, int n, int (*want)(int))
{
	int bad = -1;

	for (int i = 0; i < n && bad < 0; i++)
		if (cpus[i] != want(i))
			bad = i;
	if (bad < 0)
		check(true, "%s: all %d threads exactly as expected", what, n);
	else
		check(false, "%s: thread %d on PU %d, want %d", what, bad, cpus[bad], want(bad));
}

static int (*numbering)(int core, int sibling);
static int want_compact(int i) { return numbering(i / 2, i % 2); }
static int want_cores(int i) { return numbering(i % 64, i / 64); }
/* Packages alternate; within one, cores in order; siblings after all cores. */
static int want_scatter(int i)
{
	int rank = i / 64, j = i % 64;

	return numbering((j % 2) * 32 + j / 2, rank);
}

static void test_two_sockets_smt2(const char *desc, int (*pu_of)(int, int))
{
	struct kb_topo *t = load_synthetic(desc);
	int *c;

	if (!t)
		return;
	numbering = pu_of;
	printf("-- %s\n", desc);
	check(kb_topo_npus(t) == 128, "128 PUs (got %d)", kb_topo_npus(t));
	check(!kb_topo_is_system(t), "synthetic topology is not the system");
	check_summary(t, "2 packages, 1 NUMA node, 64 cores, 128 PUs (SMT2)");

	if ((c = plan_ok(t, "compact", 128, false))) {
		check(where(t, c[0]).core == where(t, c[1]).core,
		      "compact: threads 0,1 share a core (PUs %d,%d)", c[0], c[1]);
		check(where(t, c[1]).core != where(t, c[2]).core,
		      "compact: thread 2 moves to the next core");
		check(distinct_domains(t, c, 64, PACKAGE) == 1,
		      "compact: first 64 threads fill package 0 only");
		check_exact("compact", c, 128, want_compact);
		free(c);
	}
	if ((c = plan_ok(t, "cores", 128, false))) {
		check(distinct_domains(t, c, 64, CORE) == 64 && all_first_siblings(t, c, 64),
		      "cores: first 64 threads on 64 distinct cores, no sibling");
		check(where(t, c[64]).core == where(t, c[0]).core && c[64] != c[0],
		      "cores: thread 64 (PU %d) is the sibling of thread 0 (PU %d)", c[64], c[0]);
		check_exact("cores", c, 128, want_cores);
		free(c);
	}
	if ((c = plan_ok(t, "scatter", 128, false))) {
		bool alternate = true;

		for (int i = 0; i < 7; i++)
			alternate = alternate && where(t, c[i]).package != where(t, c[i + 1]).package;
		check(alternate, "scatter: threads 0..7 alternate packages");
		check(distinct_domains(t, c, 64, CORE) == 64 && all_first_siblings(t, c, 64),
		      "scatter: no SMT sibling until all 64 cores have a thread");
		check(where(t, c[64]).smt == 1, "scatter: thread 64 is the first sibling");
		check_exact("scatter", c, 128, want_scatter);
		free(c);
	}
	kb_topo_free(t);
}

/* ---- NUMA ------------------------------------------------------------- */

/* "pack:2 numa:4 core:16 pu:2": core c = 64 p + 16 node + k, PU 2c + s. */
static int want_scatter_8numa(int i)
{
	int rank = i / 128, j = i % 128;
	int pkg = j % 2, m = j / 2, node = m % 4, k = m / 4;

	return 2 * (64 * pkg + 16 * node + k) + rank;
}

static void test_eight_numa_nodes(void)
{
	const char *desc = "pack:2 numa:4 core:16 pu:2";
	struct kb_topo *t = load_synthetic(desc);
	int *c;

	if (!t)
		return;
	printf("-- %s\n", desc);
	check_summary(t, "2 packages, 8 NUMA nodes, 128 cores, 256 PUs (SMT2)");
	if ((c = plan_ok(t, "scatter", 256, false))) {
		check(distinct_domains(t, c, 8, NUMA) == 8,
		      "scatter: first 8 threads on 8 distinct NUMA nodes");
		check(where(t, c[0]).package != where(t, c[1]).package,
		      "scatter: threads 0,1 on different packages");
		check(distinct_domains(t, c, 128, CORE) == 128 && all_first_siblings(t, c, 128),
		      "scatter: no SMT sibling until all 128 cores have a thread");
		check_exact("scatter", c, 256, want_scatter_8numa);
		free(c);
	}
	kb_topo_free(t);
}

static void test_numa_above_packages(void)
{
	const char *desc = "numa:2 pack:2 core:4 pu:2";
	struct kb_topo *t = load_synthetic(desc);
	int *c;

	if (!t)
		return;
	printf("-- %s\n", desc);
	check_summary(t, "4 packages, 2 NUMA nodes, 16 cores, 32 PUs (SMT2)");
	if ((c = plan_ok(t, "scatter", 32, false))) {
		check(where(t, c[0]).numa != where(t, c[1]).numa,
		      "scatter: threads 0,1 on different NUMA nodes (PUs %d,%d)", c[0], c[1]);
		check(distinct_domains(t, c, 4, PACKAGE) == 4,
		      "scatter: first 4 threads on 4 distinct packages");
		check(all_distinct(c, 32), "scatter: 32 distinct PUs");
		free(c);
	}
	kb_topo_free(t);
}

static void test_no_core_objects(void)
{
	const char *desc = "pack:2 pu:4";
	struct kb_topo *t = load_synthetic(desc);
	int *c;

	if (!t)
		return;
	printf("-- %s\n", desc);
	check_summary(t, "2 packages, 1 NUMA node, 8 cores, 8 PUs (no SMT)");
	if ((c = plan_ok(t, "scatter", 8, false))) {
		check(c[0] == 0 && c[1] == 4 && c[2] == 1 && c[7] == 7,
		      "scatter without cores: each PU is a core (0,4,1,...,7)");
		free(c);
	}
	kb_topo_free(t);
}

/* ---- 256 PUs, oversubscription ---------------------------------------- */

static void test_256_pus(const char *desc)
{
	static const char *const policies[] = { "compact", "cores", "scatter" };
	struct kb_topo *t = load_synthetic(desc);

	if (!t)
		return;
	printf("-- %s\n", desc);
	check(kb_topo_npus(t) == 256, "256 PUs (got %d)", kb_topo_npus(t));
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		int *c = plan_ok(t, policies[i], 256, false);

		if (c)
			check(all_distinct(c, 256), "%s: 256 threads on 256 distinct PUs", policies[i]);
		free(c);
		check_refused(t, policies[i], 257, false, "257 threads without oversubscribe");
		if ((c = plan_ok(t, policies[i], 257, true))) {
			check(c[256] == c[0], "%s oversubscribed: thread 256 wraps to thread 0's PU %d",
			      policies[i], c[0]);
			free(c);
		}
	}
	kb_topo_free(t);
}

/* ---- parser and lists ------------------------------------------------- */

static void test_parse(void)
{
	static const char *const bad[] = {
		"", "foo", "1,,2", "3-1", ",1", "1,", "1-", "-1", " 1", "1 ", "1-2-3",
		"0x3", "99999999999", "0-2000000000", "Compact",
	};
	struct kb_placement p;
	char err[256];

	printf("-- parser\n");
	check(kb_placement_parse("0,2,4-7", &p, err, sizeof(err)) == 0 && p.nlist == 6 &&
	      p.policy == KB_PLACE_LIST && p.list[0] == 0 && p.list[1] == 2 &&
	      p.list[2] == 4 && p.list[5] == 7, "\"0,2,4-7\" is the list 0 2 4 5 6 7");
	kb_placement_free(&p);
	check(kb_placement_parse("5", &p, err, sizeof(err)) == 0 && p.nlist == 1 &&
	      p.list[0] == 5, "\"5\" is a one-entry list");
	kb_placement_free(&p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		int rc = kb_placement_parse(bad[i], &p, err, sizeof(err));

		check(rc < 0 && err[0] && p.list == NULL, "\"%s\" refused: %s", bad[i], err);
		kb_placement_free(&p);
	}
	check(kb_placement_parse(NULL, &p, err, sizeof(err)) < 0, "NULL refused: %s", err);
	for (int i = KB_PLACE_COMPACT; i <= KB_PLACE_LIST; i++) {
		const char *name = kb_policy_name((enum kb_policy)i);
		int rc = kb_placement_parse(name, &p, err, sizeof(err));

		if (i == KB_PLACE_LIST)
			check(rc < 0, "\"list\" is a name, not an input");
		else
			check(rc == 0 && p.policy == (enum kb_policy)i, "\"%s\" round-trips", name);
		kb_placement_free(&p);
	}
}

static void test_lists(void)
{
	struct kb_topo *t = load_synthetic("pack:2 core:32 pu:2");
	int *c;

	if (!t)
		return;
	printf("-- lists on pack:2 core:32 pu:2\n");
	if ((c = plan_ok(t, "0,2,4-7,127", 7, false))) {
		check(c[0] == 0 && c[1] == 2 && c[2] == 4 && c[3] == 5 && c[5] == 7 && c[6] == 127,
		      "list \"0,2,4-7,127\" planned exactly");
		free(c);
	}
	if ((c = plan_ok(t, "9,3,1", 2, false))) {
		check(c[0] == 9 && c[1] == 3, "a longer list hands out its first entries");
		free(c);
	}
	check_refused(t, "0-3,128", 4, false, "a list naming PU 128 (does not exist)");
	check_refused(t, "0,1", 3, false, "a list shorter than nthreads");
	check_refused(t, "4,4", 2, false, "a list with a duplicate PU");
	if ((c = plan_ok(t, "0,1", 5, true))) {
		check(c[2] == 0 && c[3] == 1 && c[4] == 0, "oversubscribed list wraps: 0 1 0 1 0");
		free(c);
	}
	check_refused(t, "compact", 0, false, "nthreads 0");
	check_refused(t, "scatter", -3, false, "nthreads -3");
	check_refused(t, "0", 0, false, "nthreads 0 with a list");

	struct kb_placement bogus = { .policy = (enum kb_policy)42 };
	int cpu;
	char err[256] = "";

	check(kb_place_plan(t, &bogus, 1, false, &cpu, err, sizeof(err)) < 0 && err[0],
	      "invalid policy value refused: %s", err);
	check(strcmp(kb_policy_name((enum kb_policy)42), "?") == 0, "invalid policy is named ?");
	kb_topo_free(t);
}

/* ---- plan printing ---------------------------------------------------- */

static void test_print_plan(void)
{
	struct kb_topo *t = load_synthetic("pack:2 core:32 pu:2");
	char *text = NULL;
	size_t len = 0;
	int *c;

	if (!t)
		return;
	printf("-- print plan\n");
	if ((c = plan_ok(t, "cores", 4, false))) {
		FILE *f = open_memstream(&text, &len);

		kb_place_print_plan(f, t, c, 4);
		fclose(f);
		fputs(text, stdout);
		check(strncmp(text, "2 packages, 1 NUMA node, 64 cores, 128 PUs (SMT2)\n", 50) == 0,
		      "plan starts with the summary line");
		check(strstr(text, "thread 3 -> PU 6 (core 3, package 0, NUMA 0)\n") != NULL,
		      "plan has \"thread 3 -> PU 6 (core 3, package 0, NUMA 0)\"");
		free(text);
		free(c);
	}
	kb_topo_free(t);
}

/* ---- synthetic and XML loading ---------------------------------------- */

static void test_bad_synthetic(void)
{
	struct kb_topo *t = (struct kb_topo *)&t;	/* must be reset to NULL */
	char err[256] = "";

	printf("-- bad synthetic\n");
	check(kb_topo_load_synthetic(&t, "pack:2 frob:3", err, sizeof(err)) < 0 && !t && err[0],
	      "\"pack:2 frob:3\" refused: %s", err);
}

static bool export_synthetic_xml(const char *desc, const char *path)
{
	hwloc_topology_t topo;
	bool ok = hwloc_topology_init(&topo) == 0 &&
		  hwloc_topology_set_synthetic(topo, desc) == 0 &&
		  hwloc_topology_load(topo) == 0 &&
		  hwloc_topology_export_xml(topo, path, 0) == 0;

	hwloc_topology_destroy(topo);
	return check(ok, "export \"%s\" to %s", desc, path);
}

static bool same_plans(const struct kb_topo *a, const struct kb_topo *b, const char *policy)
{
	int n = kb_topo_npus(a);
	int *pa = plan_ok(a, policy, n, false), *pb = plan_ok(b, policy, n, false);
	bool same = pa && pb && kb_topo_npus(b) == n &&
		    memcmp(pa, pb, (size_t)n * sizeof(*pa)) == 0;

	free(pa);
	free(pb);
	return same;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void check_xml_refused(const char *path, const char *what)
{
	struct kb_topo *t;
	char err[512] = "";

	check(kb_topo_load_xml(&t, path, err, sizeof(err)) < 0 && !t && err[0],
	      "%s refused: %s", what, err);
}

static void test_xml(void)
{
	const char *desc = "pack:2 numa:4 core:16 pu:2";
	static const char *const policies[] = { "compact", "cores", "scatter" };
	char path[128], junk[128], empty[128];
	struct kb_topo *synth, *xml;
	char err[256] = "", a[160], b[160];

	printf("-- XML\n");
	snprintf(path, sizeof(path), "/tmp/test_placement.%d.xml", (int)getpid());
	snprintf(junk, sizeof(junk), "/tmp/test_placement.%d.junk.xml", (int)getpid());
	snprintf(empty, sizeof(empty), "/tmp/test_placement.%d.empty.xml", (int)getpid());
	if (!export_synthetic_xml(desc, path) || !(synth = load_synthetic(desc)))
		return;
	if (check(kb_topo_load_xml(&xml, path, err, sizeof(err)) == 0, "load %s %s", path, err)) {
		kb_topo_summary(synth, a, sizeof(a));
		kb_topo_summary(xml, b, sizeof(b));
		check(strcmp(a, b) == 0, "XML summary equals synthetic: %s", b);
		check(!kb_topo_is_system(xml), "XML topology is not the system");
		for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
			check(same_plans(synth, xml, policies[i]),
			      "%s plan from XML equals the synthetic one", policies[i]);
		kb_topo_free(xml);
	}
	kb_topo_free(synth);
	unlink(path);

	check_xml_refused(path, "missing XML file");
	write_file(junk, "this is not <topology> XML at all\n");
	check_xml_refused(junk, "garbage XML file");
	write_file(empty, "");
	check_xml_refused(empty, "empty XML file");
	unlink(junk);
	unlink(empty);
}

/* Only allowed PUs count: an XML topology whose allowed set lacks PU 1 (the
 * sibling of PU 0) and all of core 7. */
static void test_disallowed_pus(void)
{
	char path[128], err[256] = "";
	hwloc_topology_t topo;
	hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
	struct kb_topo *t;
	int *c;
	bool ok;

	printf("-- disallowed PUs\n");
	snprintf(path, sizeof(path), "/tmp/test_placement.%d.allowed.xml", (int)getpid());
	hwloc_bitmap_list_sscanf(allowed, "0,2-13");
	ok = hwloc_topology_init(&topo) == 0 &&
	     hwloc_topology_set_synthetic(topo, "pack:2 core:4 pu:2") == 0 &&
	     hwloc_topology_set_flags(topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED) == 0 &&
	     hwloc_topology_load(topo) == 0 &&
	     hwloc_topology_allow(topo, allowed, NULL, HWLOC_ALLOW_FLAG_CUSTOM) == 0 &&
	     hwloc_topology_export_xml(topo, path, 0) == 0;
	hwloc_topology_destroy(topo);
	hwloc_bitmap_free(allowed);
	if (!check(ok, "export pack:2 core:4 pu:2 allowing only 0,2-13"))
		return;
	if (check(kb_topo_load_xml(&t, path, err, sizeof(err)) == 0, "load it back %s", err)) {
		check(kb_topo_npus(t) == 13, "13 allowed PUs (got %d)", kb_topo_npus(t));
		check_summary(t, "2 packages, 1 NUMA node, 7 cores, 13 PUs (SMT1-2)");
		if ((c = plan_ok(t, "cores", 13, false))) {
			check(c[0] == 0 && c[1] == 2 && c[6] == 12 && c[7] == 3 && c[12] == 13,
			      "cores skips PU 1 and core 7: 0 2 .. 12 3 5 .. 13");
			free(c);
		}
		check_refused(t, "1", 1, false, "a list naming disallowed PU 1");
		check_refused(t, "compact", 14, false, "14 threads on 13 allowed PUs");
		kb_topo_free(t);
	}
	unlink(path);
}

/* ---- this machine ----------------------------------------------------- */

static void test_system_binding(void)
{
	struct kb_topo *t, *synth;
	char err[256] = "";
	cpu_set_t saved;
	int *c, n, last = -1;

	printf("-- this machine\n");
	if (!check(kb_topo_load_system(&t, err, sizeof(err)) == 0, "load system topology %s", err))
		return;
	n = kb_topo_npus(t);
	check(kb_topo_is_system(t), "system topology is the system");
	check(n >= 1, "%d allowed PUs", n);
	sched_getaffinity(0, sizeof(saved), &saved);
	if ((c = plan_ok(t, "compact", n, false))) {
		kb_place_print_plan(stdout, t, c, n);
		for (int i = 0; i < n; i++) {
			int got = kb_place_bind_self(t, c[i], err, sizeof(err));

			check(got == c[i] && sched_getcpu() == c[i],
			      "bind to PU %d: runs on %d %s", c[i], got, got < 0 ? err : "");
			last = c[i] > last ? c[i] : last;
		}
		free(c);
	}
	err[0] = '\0';
	check(kb_place_bind_self(t, last + 1, err, sizeof(err)) < 0 && err[0],
	      "bind to PU %d (past the last allowed) refused: %s", last + 1, err);
	err[0] = '\0';
	check(kb_place_bind_self(t, 1 << 20, err, sizeof(err)) < 0 && err[0],
	      "bind to PU %d refused: %s", 1 << 20, err);
	err[0] = '\0';
	check(kb_place_bind_self(t, -1, err, sizeof(err)) < 0 && err[0],
	      "bind to PU -1 refused: %s", err);
	if ((synth = load_synthetic("pack:2 core:32 pu:2"))) {
		err[0] = '\0';
		check(kb_place_bind_self(synth, 0, err, sizeof(err)) < 0 && err[0],
		      "binding on a synthetic topology refused: %s", err);
		kb_topo_free(synth);
	}
	sched_setaffinity(0, sizeof(saved), &saved);
	kb_topo_free(t);
}

/* The harness pins every benchmark thread at once: binding must be safe to
 * call concurrently on one shared topology. */
struct binder {
	pthread_t thread;
	const struct kb_topo *topo;
	int cpu, got, after;
	char err[256];
};

static void *bind_and_report(void *arg)
{
	struct binder *b = arg;

	b->got = kb_place_bind_self(b->topo, b->cpu, b->err, sizeof(b->err));
	b->after = sched_getcpu();
	return NULL;
}

static void test_concurrent_binding(void)
{
	struct kb_topo *t;
	char err[256] = "";
	int *c, n;

	printf("-- concurrent binding\n");
	if (!check(kb_topo_load_system(&t, err, sizeof(err)) == 0, "load system topology %s", err))
		return;
	n = kb_topo_npus(t);
	if ((c = plan_ok(t, "scatter", n, false))) {
		struct binder *b = calloc((size_t)n, sizeof(*b));

		for (int i = 0; i < n; i++) {
			b[i] = (struct binder){ .topo = t, .cpu = c[i] };
			pthread_create(&b[i].thread, NULL, bind_and_report, &b[i]);
		}
		for (int i = 0; i < n; i++) {
			pthread_join(b[i].thread, NULL);
			check(b[i].got == c[i] && b[i].after == c[i],
			      "thread %d bound to PU %d: runs on %d %s", i, c[i], b[i].got,
			      b[i].got < 0 ? b[i].err : "");
		}
		free(b);
		free(c);
	}
	kb_topo_free(t);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_two_sockets_smt2("pack:2 core:32 pu:2", pu_sequential);
	test_two_sockets_smt2("pack:2 core:32 pu:2(indexes=2*64:1*2)", pu_linux);
	test_eight_numa_nodes();
	test_numa_above_packages();
	test_no_core_objects();
	test_256_pus("pack:4 core:32 pu:2");
	test_256_pus("pack:2 numa:4 core:16 pu:2");
	test_parse();
	test_lists();
	test_print_plan();
	test_bad_synthetic();
	test_xml();
	test_disallowed_pus();
	test_system_binding();
	test_concurrent_binding();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
