/*
 * hwloc placement: topology loading, the planner, and self-binding.
 *
 * At load time the allowed PUs are flattened once into an array in hwloc's
 * logical (depth-first) order, each tagged with its core, package, NUMA node
 * and SMT rank. Every policy is then an ordering of that array, so the
 * planner never walks the hwloc tree again and behaves the same whether the
 * topology came from this machine, an XML file or a synthetic string.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* sched_getcpu; the build also sets it */
#endif
#include "placement.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hwloc.h>

/* One allowed PU, as the planner sees it. */
struct kb_pu {
	int os;			/* OS index: what sched_getcpu() returns */
	int core;		/* Core L#, or a unique id if the PU has no Core */
	int package;		/* Package L#, or 0 */
	int numa;		/* L# of the first NUMA node holding the PU, or 0 */
	int smt;		/* rank among its core's allowed PUs */
	int outer, inner;	/* scatter's round-robin domains (see header) */
};

struct kb_topo {
	hwloc_topology_t topo;
	bool is_system;
	int npus;
	struct kb_pu *pus;	/* allowed PUs in logical order */
	int *slot_of_os;	/* OS index -> position in pus, or -1 */
	int nslots;		/* highest allowed OS index + 1 */
	int npackages, nnuma, ncores;
	int smt_min, smt_max;	/* allowed PUs per core */
};

/* How many sched_yield()s a freshly bound thread gets to arrive on its CPU.
 * sched_setaffinity() migrates before returning, so one check normally
 * suffices; the loop only absorbs a migration still in flight. */
#define BIND_SETTLE_TRIES 1000

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- loading ---------------------------------------------------------- */

static int first_numa_holding(hwloc_topology_t topo, unsigned os)
{
	int n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);

	/* hwloc 2 hangs NUMA nodes off the tree as memory children, possibly
	 * above packages, so a PU's node is found by cpuset, not ancestry. A
	 * PU may sit in several nodes (DRAM plus HBM or CXL); the first, in
	 * logical order, is its primary one. */
	for (int i = 0; i < n; i++) {
		hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, i);

		if (node->cpuset && hwloc_bitmap_isset(node->cpuset, os))
			return (int)node->logical_index;
	}
	return 0;
}

static void describe_pu(hwloc_topology_t topo, hwloc_obj_t pu, struct kb_pu *d)
{
	hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, pu);
	hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, pu);
	int ncoreobjs = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);

	d->os = (int)pu->os_index;
	/* Ids past the last Core keep a core-less PU from sharing a core. */
	d->core = core ? (int)core->logical_index
		       : ncoreobjs + (int)pu->logical_index;
	d->package = pkg ? (int)pkg->logical_index : 0;
	d->numa = first_numa_holding(topo, pu->os_index);
}

/* Counts only domains that hold an allowed PU: the summary describes what
 * the benchmark can use, not what the machine has. */
static int count_domains(struct kb_topo *t)
{
	hwloc_bitmap_t packages = hwloc_bitmap_alloc();
	hwloc_bitmap_t nodes = hwloc_bitmap_alloc();
	hwloc_bitmap_t cores = hwloc_bitmap_alloc();
	int rc = -1;

	if (packages && nodes && cores) {
		for (int i = 0; i < t->npus; i++) {
			hwloc_bitmap_set(packages, (unsigned)t->pus[i].package);
			hwloc_bitmap_set(nodes, (unsigned)t->pus[i].numa);
			hwloc_bitmap_set(cores, (unsigned)t->pus[i].core);
		}
		t->npackages = hwloc_bitmap_weight(packages);
		t->nnuma = hwloc_bitmap_weight(nodes);
		t->ncores = hwloc_bitmap_weight(cores);
		rc = 0;
	}
	hwloc_bitmap_free(packages);
	hwloc_bitmap_free(nodes);
	hwloc_bitmap_free(cores);
	return rc;
}

/* SMT ranks, and the fewest and most allowed PUs any core has. A core's PUs
 * are contiguous in logical order, so a rank is "same core as the previous
 * PU, plus one", and a core's last PU carries its PU count minus one. */
static void rank_smt_siblings(struct kb_topo *t)
{
	t->smt_min = INT_MAX;
	t->smt_max = 0;
	for (int i = 0; i < t->npus; i++) {
		struct kb_pu *p = &t->pus[i];
		bool same_core = i > 0 && p->core == p[-1].core;
		bool core_ends = i + 1 == t->npus || p[1].core != p->core;

		p->smt = same_core ? p[-1].smt + 1 : 0;
		if (core_ends) {
			t->smt_min = p->smt + 1 < t->smt_min ? p->smt + 1 : t->smt_min;
			t->smt_max = p->smt + 1 > t->smt_max ? p->smt + 1 : t->smt_max;
		}
	}
}

/* Scatter nests the coarser of the two groupings outside the finer one, so
 * that consecutive threads land in different top-level domains whichever
 * way the machine nests them. */
static void choose_scatter_domains(struct kb_topo *t)
{
	bool numa_outer = t->nnuma < t->npackages;

	for (int i = 0; i < t->npus; i++) {
		struct kb_pu *p = &t->pus[i];

		p->outer = numa_outer ? p->numa : p->package;
		p->inner = numa_outer ? p->package : p->numa;
	}
}

static int index_allowed_pus(struct kb_topo *t, char *err, size_t errlen)
{
	hwloc_const_cpuset_t allowed = hwloc_topology_get_allowed_cpuset(t->topo);
	int npu_objs = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_PU);
	int last = hwloc_bitmap_last(allowed);

	if (npu_objs <= 0 || last < 0)
		return fail(err, errlen, "topology has no allowed PUs");
	t->pus = calloc((size_t)npu_objs, sizeof(*t->pus));
	t->nslots = last + 1;
	t->slot_of_os = malloc((size_t)t->nslots * sizeof(*t->slot_of_os));
	if (!t->pus || !t->slot_of_os)
		return fail(err, errlen, "out of memory indexing %d PUs", npu_objs);
	for (int i = 0; i < t->nslots; i++)
		t->slot_of_os[i] = -1;

	for (int i = 0; i < npu_objs; i++) {
		hwloc_obj_t pu = hwloc_get_obj_by_type(t->topo, HWLOC_OBJ_PU, i);

		if (!hwloc_bitmap_isset(allowed, pu->os_index))
			continue;
		describe_pu(t->topo, pu, &t->pus[t->npus]);
		t->slot_of_os[pu->os_index] = t->npus++;
	}
	if (t->npus == 0)
		return fail(err, errlen, "topology has no allowed PUs");

	if (count_domains(t) < 0)
		return fail(err, errlen, "out of memory counting domains");
	rank_smt_siblings(t);
	choose_scatter_domains(t);
	return 0;
}

/* Takes ownership of an initialised, configured topology: loads it and
 * indexes it, or destroys it. `source` names it in messages. */
static int finish_load(hwloc_topology_t topo, bool is_system, const char *source,
		       struct kb_topo **out, char *err, size_t errlen)
{
	struct kb_topo *t;

	*out = NULL;
	if (hwloc_topology_load(topo) < 0) {
		int e = errno;

		hwloc_topology_destroy(topo);
		return fail(err, errlen, "hwloc could not load topology from %s: %s",
			    source, strerror(e));
	}
	/* HWLOC_XMLFILE or HWLOC_SYNTHETIC in the environment silently swap
	 * the "system" topology for another; binding against it would be a
	 * no-op that looks like success. */
	if (is_system && !hwloc_topology_is_thissystem(topo)) {
		hwloc_topology_destroy(topo);
		return fail(err, errlen, "hwloc loaded a topology that is not this machine "
			    "(HWLOC_XMLFILE or HWLOC_SYNTHETIC set?)");
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		hwloc_topology_destroy(topo);
		return fail(err, errlen, "out of memory");
	}
	t->topo = topo;
	t->is_system = is_system;
	if (index_allowed_pus(t, err, errlen) < 0) {
		kb_topo_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

int kb_topo_load_system(struct kb_topo **out, char *err, size_t errlen)
{
	hwloc_topology_t topo;

	*out = NULL;
	if (hwloc_topology_init(&topo) < 0)
		return fail(err, errlen, "hwloc_topology_init: %s", strerror(errno));
	return finish_load(topo, true, "this machine", out, err, errlen);
}

int kb_topo_load_xml(struct kb_topo **out, const char *path, char *err, size_t errlen)
{
	hwloc_topology_t topo;
	FILE *probe;

	*out = NULL;
	/* hwloc reports a missing file only as a failed load; say which. */
	probe = fopen(path, "r");
	if (!probe)
		return fail(err, errlen, "cannot open topology XML %s: %s", path, strerror(errno));
	/* Bounded cost: a regular file of sane size (not a FIFO, /dev/zero or a 10 GB log). */
	struct stat st;

	if (fstat(fileno(probe), &st) || !S_ISREG(st.st_mode) || st.st_size > KB_TOPO_XML_MAX_BYTES) {
		fclose(probe);
		return fail(err, errlen, "topology XML %s is not a regular file of at most %d MiB", path,
			    KB_TOPO_XML_MAX_BYTES >> 20);
	}
	fclose(probe);

	if (hwloc_topology_init(&topo) < 0)
		return fail(err, errlen, "hwloc_topology_init: %s", strerror(errno));
	if (hwloc_topology_set_xml(topo, path) < 0) {
		int e = errno;

		hwloc_topology_destroy(topo);
		return fail(err, errlen, "hwloc rejected topology XML %s: %s", path, strerror(e));
	}
	return finish_load(topo, false, path, out, err, errlen);
}

/*
 * The PUs a synthetic description would make: the product of its "type:N"
 * arities (attributes in parentheses skipped), or -1 past the bound. hwloc
 * would otherwise build all of them first, in memory, however many.
 */
static long synthetic_pus(const char *desc)
{
	long pus = 1;
	int depth = 0;

	for (const char *p = desc; *p; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth)
			depth--;
		else if (*p == ':' && !depth) {
			char *end;
			long n = strtol(p + 1, &end, 10);

			if (end == p + 1)
				continue;
			if (n > KB_TOPO_MAX_PUS || pus * (n > 0 ? n : 1) > KB_TOPO_MAX_PUS)
				return -1;
			pus *= n > 0 ? n : 1;
		}
	}
	return pus;
}

int kb_topo_load_synthetic(struct kb_topo **out, const char *desc, char *err, size_t errlen)
{
	hwloc_topology_t topo;

	*out = NULL;
	if (strlen(desc) > KB_TOPO_SYNTHETIC_MAX_CHARS)
		return fail(err, errlen, "synthetic topology description longer than %d characters",
			    KB_TOPO_SYNTHETIC_MAX_CHARS);
	if (synthetic_pus(desc) < 0)
		return fail(err, errlen, "synthetic topology \"%s\" has more than %d PUs", desc, KB_TOPO_MAX_PUS);
	if (hwloc_topology_init(&topo) < 0)
		return fail(err, errlen, "hwloc_topology_init: %s", strerror(errno));
	if (hwloc_topology_set_synthetic(topo, desc) < 0) {
		hwloc_topology_destroy(topo);
		return fail(err, errlen, "hwloc rejected synthetic topology \"%s\" "
			    "(HWLOC_SYNTHETIC_VERBOSE=1 says why)", desc);
	}
	return finish_load(topo, false, desc, out, err, errlen);
}

void kb_topo_free(struct kb_topo *t)
{
	if (!t)
		return;
	hwloc_topology_destroy(t->topo);
	free(t->pus);
	free(t->slot_of_os);
	free(t);
}

int kb_topo_npus(const struct kb_topo *t)
{
	return t->npus;
}

bool kb_topo_is_system(const struct kb_topo *t)
{
	return t->is_system;
}

static const char *plural(int n)
{
	return n == 1 ? "" : "s";
}

void kb_topo_summary(const struct kb_topo *t, char *buf, size_t len)
{
	char smt[32];

	if (t->smt_max <= 1)
		snprintf(smt, sizeof(smt), "no SMT");
	else if (t->smt_min == t->smt_max)
		snprintf(smt, sizeof(smt), "SMT%d", t->smt_max);
	else	/* hybrid parts: SMT performance cores next to single-thread ones */
		snprintf(smt, sizeof(smt), "SMT%d-%d", t->smt_min, t->smt_max);
	snprintf(buf, len, "%d package%s, %d NUMA node%s, %d core%s, %d PU%s (%s)",
		 t->npackages, plural(t->npackages), t->nnuma, plural(t->nnuma),
		 t->ncores, plural(t->ncores), t->npus, plural(t->npus), smt);
}

static const struct kb_pu *find_pu(const struct kb_topo *t, int cpu)
{
	if (cpu < 0 || cpu >= t->nslots || t->slot_of_os[cpu] < 0)
		return NULL;
	return &t->pus[t->slot_of_os[cpu]];
}

int kb_topo_locate(const struct kb_topo *t, int cpu, struct kb_pu_where *where)
{
	const struct kb_pu *p = find_pu(t, cpu);

	if (!p)
		return -1;
	*where = (struct kb_pu_where){
		.core = p->core, .package = p->package, .numa = p->numa, .smt = p->smt,
	};
	return 0;
}

/* ---- parsing ---------------------------------------------------------- */

const char *kb_policy_name(enum kb_policy p)
{
	switch (p) {
	case KB_PLACE_COMPACT:	return "compact";
	case KB_PLACE_CORES:	return "cores";
	case KB_PLACE_SCATTER:	return "scatter";
	case KB_PLACE_LIST:	return "list";
	}
	return "?";
}

/* A decimal PU number at *pos, advancing *pos past it. */
static int parse_pu_number(const char *list, const char **pos, int *value,
			   char *err, size_t errlen)
{
	const char *s = *pos;
	long long v = 0;

	if (!isdigit((unsigned char)*s))
		return fail(err, errlen, "placement \"%s\": expected a PU number at offset %td",
			    list, s - list);
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s++ - '0');
		if (v > INT_MAX)
			return fail(err, errlen, "placement \"%s\": PU number at offset %td "
				    "is too large", list, *pos - list);
	}
	*value = (int)v;
	*pos = s;
	return 0;
}

/* One "N" or "N-M" item at *pos; leaves *pos on the ',' or NUL after it. */
static int parse_list_item(const char *list, const char **pos, int *lo, int *hi,
			   char *err, size_t errlen)
{
	const char *s = *pos;

	if (parse_pu_number(list, &s, lo, err, errlen) < 0)
		return -1;
	*hi = *lo;
	if (*s == '-') {
		s++;
		if (parse_pu_number(list, &s, hi, err, errlen) < 0)
			return -1;
		if (*hi < *lo)
			return fail(err, errlen, "placement \"%s\": range %d-%d runs backwards",
				    list, *lo, *hi);
	}
	if (*s != ',' && *s != '\0')
		return fail(err, errlen, "placement \"%s\": unexpected '%c' at offset %td",
			    list, *s, s - list);
	*pos = s;
	return 0;
}

/* Walks the list, counting entries and, if out is non-NULL, storing them.
 * Called twice: once to validate and size, once to fill. */
static int walk_pu_list(const char *list, int *out, int *count, char *err, size_t errlen)
{
	const char *s = list;
	long long n = 0;
	int lo, hi;

	for (;;) {
		if (parse_list_item(list, &s, &lo, &hi, err, errlen) < 0)
			return -1;
		if (n + ((long long)hi - lo + 1) > KB_PLACEMENT_LIST_MAX)
			return fail(err, errlen, "placement \"%.40s%s\": more than %d entries",
				    list, strlen(list) > 40 ? "..." : "", KB_PLACEMENT_LIST_MAX);
		if (out)
			for (long long v = lo; v <= hi; v++)
				out[n + (v - lo)] = (int)v;
		n += (long long)hi - lo + 1;
		if (*s == '\0')
			break;
		s++;	/* the ',' */
	}
	*count = (int)n;
	return 0;
}

static int parse_pu_list(const char *s, struct kb_placement *out, char *err, size_t errlen)
{
	int n;

	if (walk_pu_list(s, NULL, &n, err, errlen) < 0)
		return -1;
	out->list = malloc((size_t)n * sizeof(*out->list));
	if (!out->list)
		return fail(err, errlen, "out of memory for a %d-entry PU list", n);
	walk_pu_list(s, out->list, &n, err, errlen);
	out->nlist = n;
	out->policy = KB_PLACE_LIST;
	return 0;
}

int kb_placement_parse(const char *s, struct kb_placement *out, char *err, size_t errlen)
{
	static const enum kb_policy named[] = {
		KB_PLACE_COMPACT, KB_PLACE_CORES, KB_PLACE_SCATTER,
	};

	*out = (struct kb_placement){ .policy = KB_PLACE_COMPACT };
	if (!s || !*s)
		return fail(err, errlen, "empty placement: expected compact, cores, scatter "
			    "or a PU list such as 0,2,4-7");
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strcmp(s, kb_policy_name(named[i])) == 0) {
			out->policy = named[i];
			return 0;
		}
	}
	if (!isdigit((unsigned char)s[0]))
		return fail(err, errlen, "unknown placement \"%s\": expected compact, cores, "
			    "scatter or a PU list such as 0,2,4-7", s);
	return parse_pu_list(s, out, err, errlen);
}

void kb_placement_free(struct kb_placement *p)
{
	free(p->list);
	p->list = NULL;
	p->nlist = 0;
}

/* ---- planning --------------------------------------------------------- */

static void order_compact(const struct kb_topo *t, int *order)
{
	for (int i = 0; i < t->npus; i++)
		order[i] = t->pus[i].os;
}

static void order_cores(const struct kb_topo *t, int *order)
{
	int n = 0;

	for (int rank = 0; rank < t->smt_max; rank++)
		for (int i = 0; i < t->npus; i++)
			if (t->pus[i].smt == rank)
				order[n++] = t->pus[i].os;
}

/* A PU waiting to be scattered, tagged with its two round-robin domains. */
struct scatter_slot {
	int outer, inner;
	int pos;		/* index into t->pus: logical order */
};

static int by_domain_then_logical(const void *a, const void *b)
{
	const struct scatter_slot *x = a, *y = b;

	if (x->outer != y->outer)
		return x->outer < y->outer ? -1 : 1;
	if (x->inner != y->inner)
		return x->inner < y->inner ? -1 : 1;
	return x->pos - y->pos;
}

static int domain_of(const struct scatter_slot *s, bool outer)
{
	return outer ? s->outer : s->inner;
}

/*
 * Round-robin over the runs of equal domain in src[lo..hi): the first slot
 * of each run, then the second of each, ... into dst[lo..hi). Runs may
 * differ in length; exhausted ones are skipped. starts is scratch for run
 * boundaries (hi - lo + 1 entries).
 */
static void interleave_runs(const struct scatter_slot *src, struct scatter_slot *dst,
			    int lo, int hi, bool outer, int *starts)
{
	int nruns = 0, k = lo;

	for (int i = lo; i < hi; i++)
		if (i == lo || domain_of(&src[i], outer) != domain_of(&src[i - 1], outer))
			starts[nruns++] = i;
	starts[nruns] = hi;
	for (int round = 0; k < hi; round++)
		for (int r = 0; r < nruns; r++)
			if (starts[r] + round < starts[r + 1])
				dst[k++] = src[starts[r] + round];
}

struct scatter_scratch {
	struct scatter_slot *sorted, *mixed;
	int *starts;
};

/* Appends to order the PUs of SMT rank `rank` (one per core), scattered;
 * returns how many. */
static int scatter_rank(const struct kb_topo *t, int rank, int *order,
			struct scatter_scratch *s)
{
	int n = 0;

	for (int i = 0; i < t->npus; i++)
		if (t->pus[i].smt == rank)
			s->sorted[n++] = (struct scatter_slot){
				.outer = t->pus[i].outer, .inner = t->pus[i].inner, .pos = i,
			};
	qsort(s->sorted, (size_t)n, sizeof(*s->sorted), by_domain_then_logical);

	/* Inner round-robin within each outer domain first; it keeps each
	 * outer domain's slots in the same slice, ready for the outer one. */
	for (int lo = 0, hi; lo < n; lo = hi) {
		for (hi = lo + 1; hi < n && s->sorted[hi].outer == s->sorted[lo].outer; hi++)
			;
		interleave_runs(s->sorted, s->mixed, lo, hi, false, s->starts);
	}
	interleave_runs(s->mixed, s->sorted, 0, n, true, s->starts);
	for (int i = 0; i < n; i++)
		order[i] = t->pus[s->sorted[i].pos].os;
	return n;
}

static int order_scatter(const struct kb_topo *t, int *order)
{
	size_t n = (size_t)t->npus;
	struct scatter_scratch s = {
		.sorted = malloc(n * sizeof(*s.sorted)),
		.mixed = malloc(n * sizeof(*s.mixed)),
		.starts = malloc((n + 1) * sizeof(*s.starts)),
	};
	int done = 0;

	if (s.sorted && s.mixed && s.starts)
		for (int rank = 0; rank < t->smt_max; rank++)
			done += scatter_rank(t, rank, order + done, &s);
	free(s.sorted);
	free(s.mixed);
	free(s.starts);
	return done == t->npus ? 0 : -1;
}

static int check_list(const struct kb_topo *t, const struct kb_placement *p,
		      int nthreads, bool oversubscribe, char *err, size_t errlen)
{
	int used = nthreads < p->nlist ? nthreads : p->nlist;
	char *taken;

	for (int i = 0; i < p->nlist; i++)
		if (!find_pu(t, p->list[i]))
			return fail(err, errlen, "PU %d in the placement list is not an allowed PU "
				    "of this topology (%d PUs)", p->list[i], t->npus);
	if (p->nlist < nthreads && !oversubscribe)
		return fail(err, errlen, "placement list has %d PUs for %d threads "
			    "(oversubscribe to wrap around)", p->nlist, nthreads);
	if (oversubscribe)
		return 0;
	taken = calloc((size_t)t->nslots, 1);
	if (!taken)
		return fail(err, errlen, "out of memory");
	for (int i = 0; i < used; i++) {
		if (taken[p->list[i]]) {
			free(taken);
			return fail(err, errlen, "PU %d appears twice in the placement list "
				    "(oversubscribe to allow)", p->list[i]);
		}
		taken[p->list[i]] = 1;
	}
	free(taken);
	return 0;
}

static int plan_list(const struct kb_topo *t, const struct kb_placement *p, int nthreads,
		     bool oversubscribe, int *cpus, char *err, size_t errlen)
{
	if (p->nlist < 1 || !p->list)
		return fail(err, errlen, "placement list is empty");
	if (check_list(t, p, nthreads, oversubscribe, err, errlen) < 0)
		return -1;
	for (int i = 0; i < nthreads; i++)
		cpus[i] = p->list[i % p->nlist];
	return 0;
}

static int plan_policy(const struct kb_topo *t, enum kb_policy policy, int nthreads,
		       int *cpus, char *err, size_t errlen)
{
	int *order = malloc((size_t)t->npus * sizeof(*order));
	int rc = 0;

	if (!order)
		return fail(err, errlen, "out of memory");
	if (policy == KB_PLACE_COMPACT)
		order_compact(t, order);
	else if (policy == KB_PLACE_CORES)
		order_cores(t, order);
	else
		rc = order_scatter(t, order);
	if (rc == 0)
		for (int i = 0; i < nthreads; i++)
			cpus[i] = order[i % t->npus];
	free(order);
	return rc < 0 ? fail(err, errlen, "out of memory") : 0;
}

int kb_place_plan(const struct kb_topo *t, const struct kb_placement *p, int nthreads,
		  bool oversubscribe, int *cpus, char *err, size_t errlen)
{
	if (nthreads < 1)
		return fail(err, errlen, "need at least 1 thread, not %d", nthreads);
	if (nthreads > t->npus && !oversubscribe)
		return fail(err, errlen, "%d threads but only %d allowed PUs "
			    "(oversubscribe to wrap around)", nthreads, t->npus);
	switch (p->policy) {
	case KB_PLACE_LIST:
		return plan_list(t, p, nthreads, oversubscribe, cpus, err, errlen);
	case KB_PLACE_COMPACT:
	case KB_PLACE_CORES:
	case KB_PLACE_SCATTER:
		return plan_policy(t, p->policy, nthreads, cpus, err, errlen);
	}
	return fail(err, errlen, "invalid placement policy %d", (int)p->policy);
}

void kb_place_print_plan(FILE *f, const struct kb_topo *t, const int *cpus, int nthreads)
{
	char summary[160];

	kb_topo_summary(t, summary, sizeof(summary));
	fprintf(f, "%s\n", summary);
	for (int i = 0; i < nthreads; i++) {
		const struct kb_pu *p = find_pu(t, cpus[i]);

		if (p)
			fprintf(f, "thread %d -> PU %d (core %d, package %d, NUMA %d)\n",
				i, cpus[i], p->core, p->package, p->numa);
		else
			fprintf(f, "thread %d -> PU %d (not an allowed PU)\n", i, cpus[i]);
	}
}

/* ---- binding ---------------------------------------------------------- */

static int wait_until_running_on(int cpu, char *err, size_t errlen)
{
	int now = -1;

	for (int tries = 0; tries < BIND_SETTLE_TRIES; tries++) {
		now = sched_getcpu();
		if (now == cpu)
			return now;
		if (now < 0)
			return fail(err, errlen, "sched_getcpu: %s", strerror(errno));
		sched_yield();
	}
	return fail(err, errlen, "bound to PU %d but still running on CPU %d after %d yields",
		    cpu, now, BIND_SETTLE_TRIES);
}

static void list_allowed(const struct kb_topo *t, char *buf, size_t len)
{
	hwloc_bitmap_list_snprintf(buf, len, hwloc_topology_get_allowed_cpuset(t->topo));
}

int kb_place_bind_self(const struct kb_topo *t, int cpu, char *err, size_t errlen)
{
	hwloc_bitmap_t set;
	char allowed[128];
	int rc, e;

	if (!t->is_system)
		return fail(err, errlen, "cannot bind to PU %d: the topology is not this machine's",
			    cpu);
	if (!find_pu(t, cpu)) {
		list_allowed(t, allowed, sizeof(allowed));
		return fail(err, errlen, "cannot bind to PU %d: not an allowed PU (allowed: %s)",
			    cpu, allowed);
	}
	set = hwloc_bitmap_alloc();
	if (!set)
		return fail(err, errlen, "out of memory");
	hwloc_bitmap_only(set, (unsigned)cpu);
	rc = hwloc_set_cpubind(t->topo, set, HWLOC_CPUBIND_THREAD | HWLOC_CPUBIND_STRICT);
	e = errno;
	hwloc_bitmap_free(set);
	if (rc < 0)
		return fail(err, errlen, "binding to PU %d failed: %s", cpu, strerror(e));
	return wait_until_running_on(cpu, err, errlen);
}
