#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "measure/latency.h"
#include "workloads/loop.h"

const struct kb_workload *const kb_all_workloads[] = {
	&kb_workload_hammer, &kb_workload_private, &kb_workload_spread, &kb_workload_handoff,
	&kb_workload_lookup_rcu, &kb_workload_lookup_mutex, &kb_workload_readside,
	&kb_workload_churn, &kb_workload_release_latency, &kb_workload_read,
};
const int kb_nall_workloads = sizeof(kb_all_workloads) / sizeof(kb_all_workloads[0]);

static const char *workload_names(void)
{
	static char names[256];

	if (!names[0])
		for (int i = 0; i < kb_nall_workloads; i++) {
			if (i)
				strcat(names, ", ");
			strcat(names, kb_all_workloads[i]->name);
		}
	return names;
}

/*
 * Splits a comma list in place, strictly: an empty item ("1,,2", ",1",
 * "1,") is an error, and so is a list of more than max items. Returns the
 * number of items, or -1 with a message naming the option.
 */
static int split_list(char *list, char **items, int max, const char *option, char *err, size_t errlen)
{
	int n = 0;

	for (char *p = list;; p++) {
		char *comma = strchr(p, ',');

		if (comma)
			*comma = 0;
		if (!*p) {
			snprintf(err, errlen, "%s has an empty item (lists are comma-separated, no blanks)", option);
			return -1;
		}
		if (n == max) {
			snprintf(err, errlen, "%s lists more than %d items", option, max);
			return -1;
		}
		items[n++] = p;
		if (!comma)
			return n;
		p = comma;
	}
}

/* The first item that repeats an earlier one (by the caller's equality), or -1. */
static int first_repeat(int n, bool (*same)(int, int, const void *), const void *ctx)
{
	for (int i = 1; i < n; i++)
		for (int j = 0; j < i; j++)
			if (same(i, j, ctx))
				return i;
	return -1;
}

static bool same_int(int i, int j, const void *ctx) { return ((const int *)ctx)[i] == ((const int *)ctx)[j]; }
static bool same_double(int i, int j, const void *ctx) { return ((const double *)ctx)[i] == ((const double *)ctx)[j]; }
static bool same_ptr(int i, int j, const void *ctx) { return ((const void *const *)ctx)[i] == ((const void *const *)ctx)[j]; }

/* Index of name in a NULL-terminated list, or -1. */
static int name_index(const char *const *names, const char *name)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

static int parse_names(char *list, const char *const *names, int *out, int max, int *n,
		       const char *what, const char *option, char *err, size_t errlen)
{
	char *items[64];
	int count = split_list(list, items, max < 64 ? max : 64, option, err, errlen), dup;

	if (count < 0)
		return -1;
	for (*n = 0; *n < count; (*n)++) {
		int i = name_index(names, items[*n]);

		if (i < 0) {
			snprintf(err, errlen, "unknown %s '%s'", what, items[*n]);
			return -1;
		}
		out[*n] = i;
	}
	if ((dup = first_repeat(*n, same_int, out)) >= 0) {
		snprintf(err, errlen, "%s names '%s' twice", option, names[out[dup]]);
		return -1;
	}
	return 0;
}

static int parse_rates(char *list, struct kb_options *o, char *err, size_t errlen)
{
	char *items[8];
	int n = split_list(list, items, 8, "--writer-rate", err, errlen), dup;

	if (n < 0)
		return -1;
	for (o->nwriter_rates = 0; o->nwriter_rates < n; o->nwriter_rates++) {
		const char *tok = items[o->nwriter_rates];
		char *end;
		double v;

		errno = 0;
		v = strtod(tok, &end);
		if (errno || end == tok || *end || !(v >= 0 && v <= 1e6)) {
			snprintf(err, errlen, "bad writer rate '%s' (0 to 1000000 per second)", tok);
			return -1;
		}
		o->writer_rates[o->nwriter_rates] = v;
	}
	if ((dup = first_repeat(n, same_double, o->writer_rates)) >= 0) {
		snprintf(err, errlen, "--writer-rate gives %g twice ('%s')", o->writer_rates[dup], items[dup]);
		return -1;
	}
	return 0;
}

static void usage(void)
{
	printf("usage: krefbench [options]\n"
	       "  --backends LIST     comma-separated, or 'all' (%s)\n"
	       "  --workloads LIST    comma-separated, or 'all' (%s)\n"
	       "  --threads LIST      e.g. 1,2,4 (default: 1, powers of two, all PUs)\n"
	       "  --placement P       compact | cores | scatter | CPU list like 0,2,4-7 (default cores)\n"
	       "  --objects K         objects for spread (default 16), keys for lookups (default 1024)\n"
	       "  --writer-rate LIST  lookup workloads: object replacements per second (default 0,1000)\n"
	       "  --rcu-flavor LIST   lookup_rcu's reclamation: RCU flavours memb, qsbr, mb over a hash\n"
	       "                      table; over an array of slots: memb_array, hazptr (hazard\n"
	       "                      pointers), typesafe (objects reused at once) (default memb)\n"
	       "  --variant LIST      lookup_mutex: locked, put_return, unless_zero, put_mutex (default unless_zero,put_mutex)\n"
	       "  --hot               lookups all hit one key\n"
	       "  --uses LIST         churn: get/put pairs each holder makes per object lifetime\n"
	       "                      (default 1,16,256,4096; with --quick 1,256)\n"
	       "  --no-latency        hammer, lookup_rcu: time no single operation (lat_* columns empty)\n"
	       "  --no-idle-profile   no spinning probe at the start: disturbance limits at their upper bounds\n"
	       "                      (a profile, which would sample the probe)\n"
	       "  --work-ns N         calibrated work between get and put, in ns (default 0)\n"
	       "  --time S            the common window of each repetition, in seconds (default 0.05)\n"
	       "  --reps N            repetitions, run in interleaved rounds (default 5)\n"
	       "  --retries N         extra attempts of a disturbed repetition (default 2, at most 20)\n"
	       "  --seed N            the rounds' shuffle (default: from the clock; the sidecar records it)\n"
	       "  --quick             3 repetitions of 0.01 s, one retry: a smoke run\n"
	       "  --no-floors         skip the hardware floors\n"
	       "  --out FILE          results CSV (default RESULTS_DIR/<host>-<UTC time>.csv)\n"
	       "  --results-dir DIR   where default results go (default results)\n"
	       "  --plan              print the thread->CPU plan and exit\n"
	       "  --list [--format json]  what this binary knows: backends, workloads, variants; alone\n"
	       "  --topology T        plan for an hwloc XML file or synthetic description\n"
	       "                      (e.g. 'pack:2 numa:4 core:16 pu:2'); only with --plan\n"
	       "  --oversubscribe     allow more threads than PUs\n"
	       "  --no-perf           no perf_event counters (the *_per_op perf columns stay empty)\n"
	       "  --wide              end with the per-benchmark table (one column per backend: wide)\n",
	       kb_backend_names(), workload_names());
}

static int parse_backends(char *list, struct kb_options *o, char *err, size_t errlen)
{
	char *items[KB_NBACKENDS_BUILT];
	int n, dup;

	o->nbackends = 0;
	if (strcmp(list, "all") == 0) {
		for (unsigned int i = 0; i < kb_nbackends; i++)
			o->backends[o->nbackends++] = kb_backends[i];
		return 0;
	}
	if ((n = split_list(list, items, KB_NBACKENDS_BUILT, "--backends", err, errlen)) < 0) {
		if (strstr(err, "more than"))	/* more names than backends: one must repeat or be unknown */
			snprintf(err, errlen, "--backends lists more names than the %d backends there are (%s)",
				 KB_NBACKENDS_BUILT, kb_backend_names());
		return -1;
	}
	for (; o->nbackends < n; o->nbackends++) {
		const struct kb_backend *b = kb_backend_find(items[o->nbackends]);

		if (!b) {
			snprintf(err, errlen, "unknown backend '%s' (valid: %s)", items[o->nbackends], kb_backend_names());
			return -1;
		}
		o->backends[o->nbackends] = b;
	}
	if ((dup = first_repeat(n, same_ptr, o->backends)) >= 0) {
		snprintf(err, errlen, "--backends names '%s' twice", o->backends[dup]->name);
		return -1;
	}
	return 0;
}

static const struct kb_workload *find_workload(const char *name)
{
	for (int i = 0; i < kb_nall_workloads; i++)
		if (strcmp(kb_all_workloads[i]->name, name) == 0)
			return kb_all_workloads[i];
	return NULL;
}

static int parse_workloads(char *list, struct kb_options *o, char *err, size_t errlen)
{
	char *items[KB_MAX_WORKLOADS];
	int n, dup;

	o->nworkloads = 0;
	if (strcmp(list, "all") == 0) {
		for (int i = 0; i < kb_nall_workloads; i++)
			o->workloads[o->nworkloads++] = kb_all_workloads[i];
		return 0;
	}
	if ((n = split_list(list, items, KB_MAX_WORKLOADS, "--workloads", err, errlen)) < 0)
		return -1;
	for (; o->nworkloads < n; o->nworkloads++) {
		const struct kb_workload *w = find_workload(items[o->nworkloads]);

		if (!w) {
			snprintf(err, errlen, "unknown workload '%s' (valid: %s)", items[o->nworkloads], workload_names());
			return -1;
		}
		o->workloads[o->nworkloads] = w;
	}
	if ((dup = first_repeat(n, same_ptr, o->workloads)) >= 0) {
		snprintf(err, errlen, "--workloads names '%s' twice", o->workloads[dup]->name);
		return -1;
	}
	return 0;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return (errno || end == s || *end || *out < min || *out > max) ? -1 : 0;
}

static int parse_double(const char *s, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return (errno || end == s || *end || !(*out >= min && *out <= max)) ? -1 : 0;
}

static int parse_uses(char *list, struct kb_options *o, char *err, size_t errlen)
{
	char *items[KB_MAX_USES];
	int n = split_list(list, items, KB_MAX_USES, "--uses", err, errlen), dup;
	long v;

	if (n < 0)
		return -1;
	for (o->nuses = 0; o->nuses < n; o->nuses++) {
		if (parse_long(items[o->nuses], 1, 1000000, &v)) {
			snprintf(err, errlen, "bad value '%s' in --uses (whole numbers 1 to 1000000, comma-separated)",
				 items[o->nuses]);
			return -1;
		}
		o->uses[o->nuses] = (int)v;
	}
	if ((dup = first_repeat(n, same_int, o->uses)) >= 0) {
		snprintf(err, errlen, "--uses gives %d twice", o->uses[dup]);
		return -1;
	}
	return 0;
}

enum { OPT_BACKENDS = 256, OPT_WORKLOADS, OPT_THREADS, OPT_PLACEMENT, OPT_OBJECTS, OPT_WORK,
	OPT_TIME, OPT_REPS, OPT_QUICK, OPT_NO_FLOORS, OPT_OUT, OPT_RESULTS_DIR, OPT_PLAN,
	OPT_TOPOLOGY, OPT_OVERSUB, OPT_PRINT_PATH, OPT_WRITER_RATE, OPT_FLAVOR, OPT_VARIANT,
	OPT_HOT, OPT_RETRIES, OPT_SEED, OPT_USES, OPT_NO_LATENCY, OPT_NO_PERF, OPT_LIST, OPT_FORMAT,
	OPT_NO_IDLE_PROFILE, OPT_WIDE, OPT_HELP };

static const struct option long_options[] = {
	{ "backends", required_argument, 0, OPT_BACKENDS },
	{ "workloads", required_argument, 0, OPT_WORKLOADS },
	{ "threads", required_argument, 0, OPT_THREADS },
	{ "placement", required_argument, 0, OPT_PLACEMENT },
	{ "objects", required_argument, 0, OPT_OBJECTS },
	{ "work-ns", required_argument, 0, OPT_WORK },
	{ "time", required_argument, 0, OPT_TIME },
	{ "reps", required_argument, 0, OPT_REPS },
	{ "quick", no_argument, 0, OPT_QUICK },
	{ "no-floors", no_argument, 0, OPT_NO_FLOORS },
	{ "out", required_argument, 0, OPT_OUT },
	{ "results-dir", required_argument, 0, OPT_RESULTS_DIR },
	{ "plan", no_argument, 0, OPT_PLAN },
	{ "topology", required_argument, 0, OPT_TOPOLOGY },
	{ "oversubscribe", no_argument, 0, OPT_OVERSUB },
	{ "print-path-to", required_argument, 0, OPT_PRINT_PATH },
	{ "writer-rate", required_argument, 0, OPT_WRITER_RATE },
	{ "rcu-flavor", required_argument, 0, OPT_FLAVOR },
	{ "variant", required_argument, 0, OPT_VARIANT },
	{ "hot", no_argument, 0, OPT_HOT },
	{ "retries", required_argument, 0, OPT_RETRIES },
	{ "seed", required_argument, 0, OPT_SEED },
	{ "uses", required_argument, 0, OPT_USES },
	{ "no-latency", no_argument, 0, OPT_NO_LATENCY },
	{ "no-perf", no_argument, 0, OPT_NO_PERF },
	{ "list", no_argument, 0, OPT_LIST },
	{ "format", required_argument, 0, OPT_FORMAT },
	{ "no-idle-profile", no_argument, 0, OPT_NO_IDLE_PROFILE },
	{ "wide", no_argument, 0, OPT_WIDE },
	{ "help", no_argument, 0, OPT_HELP },
	{ 0, 0, 0, 0 },
};

static int parse_format(const char *arg, struct kb_options *o, char *err, size_t errlen)
{
	if (strcmp(arg, "json") && strcmp(arg, "text")) {
		snprintf(err, errlen, "--list takes only --format text|json");
		return -1;
	}
	o->list_json = !strcmp(arg, "json");
	return 0;
}

/* The options without a value; false for any other. */
static bool apply_flag(int opt, struct kb_options *o)
{
	switch (opt) {
	case OPT_QUICK: o->quick = true; return true;
	case OPT_NO_FLOORS: o->floors = false; return true;
	case OPT_PLAN: o->plan_only = true; return true;
	case OPT_OVERSUB: o->oversubscribe = true; return true;
	case OPT_HOT: o->hot = true; return true;
	case OPT_NO_LATENCY: kb_lat_sampling = false; return true;
	case OPT_NO_PERF: o->no_perf = true; return true;
	case OPT_LIST: o->list = true; return true;
	case OPT_NO_IDLE_PROFILE: o->no_idle_profile = true; return true;
	case OPT_WIDE: o->wide = true; return true;
	}
	return false;
}

static int apply_option(int opt, char *arg, struct kb_options *o, char *err, size_t errlen)
{
	long v;

	if (apply_flag(opt, o))
		return 0;
	switch (opt) {
	case OPT_BACKENDS: return parse_backends(arg, o, err, errlen);
	case OPT_WORKLOADS: return parse_workloads(arg, o, err, errlen);
	case OPT_THREADS: o->threads_text = arg; return 0;
	case OPT_PLACEMENT: o->placement_text = arg; return 0;
	case OPT_OBJECTS:
		if (parse_long(arg, 1, KB_MAX_OBJECTS, &v)) {
			snprintf(err, errlen, "bad value '%s' for --objects (1 to %d)", arg, KB_MAX_OBJECTS);
			return -1;
		}
		o->objects = (int)v;
		return 0;
	case OPT_WORK:
		if (parse_long(arg, 0, 100000000, &v))
			break;
		o->work_ns = (uint64_t)v;
		return 0;
	case OPT_TIME:
		if (parse_double(arg, 0.001, 3600, &o->time_s))
			break;
		return 0;
	case OPT_REPS:
		if (parse_long(arg, 1, 1000, &v))
			break;
		o->reps = (int)v;
		return 0;
	case OPT_OUT: o->out = arg; return 0;
	case OPT_RESULTS_DIR: o->results_dir = arg; return 0;
	case OPT_TOPOLOGY: o->topology = arg; return 0;
	case OPT_PRINT_PATH: o->print_path_to = arg; return 0;
	case OPT_WRITER_RATE: return parse_rates(arg, o, err, errlen);
	case OPT_FLAVOR:
		return parse_names(arg, kb_rcu_flavor_names, o->flavors, KB_NRCU, &o->nflavors,
				   "lookup_rcu reclamation (valid: memb, qsbr, mb, memb_array, hazptr, typesafe)", "--rcu-flavor", err, errlen);
	case OPT_VARIANT:
		return parse_names(arg, kb_workload_lookup_mutex.variants, o->variants, 8, &o->nvariants,
				   "lookup_mutex variant (valid: locked, put_return, unless_zero, put_mutex)",
				   "--variant", err, errlen);
	case OPT_RETRIES:
		if (parse_long(arg, 0, 20, &v))
			break;
		o->retries = (int)v;
		return 0;
	case OPT_SEED:
		if (parse_long(arg, 1, LONG_MAX, &v))
			break;
		o->seed = (uint64_t)v;
		return 0;
	case OPT_USES: return parse_uses(arg, o, err, errlen);
	case OPT_FORMAT: return parse_format(arg, o, err, errlen);
	}
	snprintf(err, errlen, "bad value '%s' for --%s", arg, long_options[opt - OPT_BACKENDS].name);
	return -1;
}

/*
 * Bounded cost: every thread runs at least one batch of KB_BATCH operations
 * whatever the window, so --work-ns between get and put may make a batch
 * at most a tenth of the window (else the run would take far longer than
 * asked and the window would mean nothing).
 */
static int check_bounded(const struct kb_options *o, char *err, size_t errlen)
{
	double batch_s = (double)o->work_ns * KB_BATCH / 1e9, max_ns = o->time_s * 1e9 / 10 / KB_BATCH;

	if (batch_s > o->time_s / 10) {
		snprintf(err, errlen, "--work-ns %llu makes one batch of %d operations last %.3g s, more than a tenth "
			 "of the %g s window; with this --time, --work-ns may be at most %.0f (or raise --time)",
			 (unsigned long long)o->work_ns, KB_BATCH, batch_s, o->time_s, floor(max_ns));
		return -1;
	}
	return 0;
}

/* --list [--format text|json] stands alone; --format goes only with it. */
static int check_list(const struct kb_options *o, const bool *given, char *err, size_t errlen)
{
	if (!o->list) {
		if (given[OPT_FORMAT - OPT_BACKENDS])
			snprintf(err, errlen, "--format goes only with --list (try --help)");
		return given[OPT_FORMAT - OPT_BACKENDS] ? -1 : 0;
	}
	for (int opt = OPT_BACKENDS; opt <= OPT_HELP; opt++)
		if (given[opt - OPT_BACKENDS] && opt != OPT_LIST && opt != OPT_FORMAT) {
			snprintf(err, errlen, "--list takes only --format text|json");
			return -1;
		}
	return 0;
}

static void set_defaults(struct kb_options *o, char *err, size_t errlen)
{
	char all[] = "all", rates[] = "0,1000", variants[] = "unless_zero,put_mutex", uses[] = "1,16,256,4096";

	memset(o, 0, sizeof(*o));
	o->placement_text = "cores";
	o->time_s = 0.05;
	o->reps = 5;
	o->retries = 2;
	o->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	o->floors = true;
	o->results_dir = "results";
	parse_backends(all, o, err, errlen);
	parse_workloads(all, o, err, errlen);
	parse_rates(rates, o, err, errlen);
	o->nflavors = 1;
	o->flavors[0] = KB_RCU_MEMB;
	parse_names(variants, kb_workload_lookup_mutex.variants, o->variants, 8, &o->nvariants, "", "", err, errlen);
	parse_uses(uses, o, err, errlen);
}

/* --quick's values, where the same command line does not give its own (in
 * whatever order): --quick --reps 5 and --reps 5 --quick alike. */
static void apply_quick(struct kb_options *o, const bool *given)
{
	o->reps = given[OPT_REPS - OPT_BACKENDS] ? o->reps : 3;
	o->time_s = given[OPT_TIME - OPT_BACKENDS] ? o->time_s : 0.01;
	o->retries = given[OPT_RETRIES - OPT_BACKENDS] ? o->retries : 1;
	if (!given[OPT_USES - OPT_BACKENDS]) {
		o->uses[0] = 1;
		o->uses[1] = 256;
		o->nuses = 2;
	}
}

int kb_options_parse(int argc, char **argv, struct kb_options *o, char *err, size_t errlen)
{
	int opt;
	bool given[OPT_HELP - OPT_BACKENDS + 1] = { false };

	set_defaults(o, err, errlen);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		if (opt == OPT_HELP || opt == 'h') {
			usage();
			return 1;
		}
		if (opt == '?' || opt == ':') {
			snprintf(err, errlen, "unknown or incomplete option '%s' (try --help)", argv[optind - 1]);
			return -1;
		}
		if (apply_option(opt, optarg, o, err, errlen))
			return -1;
		given[opt - OPT_BACKENDS] = true;
	}
	if (o->quick)
		apply_quick(o, given);
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (try --help)", argv[optind]);
		return -1;
	}
	if (check_list(o, given, err, errlen))
		return -1;
	return check_bounded(o, err, errlen);
}

static int default_threads(int npus, int *out, int max)
{
	int n = 0;

	for (int t = 1; t < npus && n < max; t *= 2)
		out[n++] = t;
	if (n < max)
		out[n++] = npus;
	return n;
}

int kb_options_threads(const struct kb_options *o, int npus, int *out, int max, char *err, size_t errlen)
{
	char buf[1024], *items[64];
	int n, dup;
	long v;

	if (!o->threads_text)
		return default_threads(npus, out, max);
	if (strlen(o->threads_text) >= sizeof(buf)) {
		snprintf(err, errlen, "--threads is longer than %zu characters", sizeof(buf) - 1);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", o->threads_text);
	if ((n = split_list(buf, items, max < 64 ? max : 64, "--threads", err, errlen)) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (parse_long(items[i], LONG_MIN, LONG_MAX, &v)) {
			snprintf(err, errlen, "bad thread count '%s' (a whole number)", items[i]);
			return -1;
		}
		if (v < 1) {
			snprintf(err, errlen, "bad thread count '%s' (must be 1 or more)", items[i]);
			return -1;
		}
		if (v > npus && !o->oversubscribe) {
			snprintf(err, errlen, "%ld threads but this machine has %d PUs (use --oversubscribe to allow)",
				 v, npus);
			return -1;
		}
		if (v > KB_MAX_THREADS) {
			snprintf(err, errlen, "bad thread count '%s' (at most %d)", items[i], KB_MAX_THREADS);
			return -1;
		}
		out[i] = (int)v;
	}
	if ((dup = first_repeat(n, same_int, out)) >= 0) {
		snprintf(err, errlen, "--threads gives %d twice", out[dup]);
		return -1;
	}
	return n;
}

int kb_options_variants(const struct kb_options *o, const struct kb_workload *w, int *out, int max)
{
	const int *chosen = NULL;
	int n = 0;

	if (w->chosen_by == KB_VARIANTS_BY_RCU_FLAVOR)
		chosen = o->flavors, n = o->nflavors;
	else if (w->chosen_by == KB_VARIANTS_BY_VARIANT)
		chosen = o->variants, n = o->nvariants;
	else
		while (w->variants && w->variants[n])
			n++;
	if (n > max)
		n = max;
	for (int i = 0; i < n; i++)
		out[i] = chosen ? chosen[i] : i;
	if (n == 0 && max > 0)
		out[n++] = -1;	/* no variants: one row */
	return n;
}
