#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

const struct kb_workload *const kb_all_workloads[] = {
	&kb_workload_hammer, &kb_workload_private, &kb_workload_spread, &kb_workload_handoff,
	&kb_workload_lookup_rcu, &kb_workload_lookup_mutex, &kb_workload_readside,
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

/* Index of name in a NULL-terminated list, or -1. */
static int name_index(const char *const *names, const char *name)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

static int parse_names(char *list, const char *const *names, int *out, int max, int *n,
		       const char *what, char *err, size_t errlen)
{
	*n = 0;
	for (char *save, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int i = name_index(names, tok);

		if (i < 0 || *n == max) {
			snprintf(err, errlen, "unknown %s '%s'", what, tok);
			return -1;
		}
		out[(*n)++] = i;
	}
	if (!*n) {
		snprintf(err, errlen, "no %s given", what);
		return -1;
	}
	return 0;
}

static int parse_rates(char *list, struct kb_options *o, char *err, size_t errlen)
{
	o->nwriter_rates = 0;
	for (char *save, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		double v;

		errno = 0;
		v = strtod(tok, &end);
		if (errno || end == tok || *end || !(v >= 0 && v <= 1e6) || o->nwriter_rates == 8) {
			snprintf(err, errlen, "bad writer rate '%s' (0 to 1000000 per second)", tok);
			return -1;
		}
		o->writer_rates[o->nwriter_rates++] = v;
	}
	if (!o->nwriter_rates) {
		snprintf(err, errlen, "--writer-rate needs at least one rate");
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
	       "  --rcu-flavor LIST   lookup_rcu: memb, qsbr, mb (default memb)\n"
	       "  --variant LIST      lookup_mutex: locked, put_return, unless_zero, put_mutex (default unless_zero,put_mutex)\n"
	       "  --hot               lookups all hit one key\n"
	       "  --work-ns N         calibrated work between get and put, in ns (default 0)\n"
	       "  --time S            the common window of each repetition, in seconds (default 0.1)\n"
	       "  --reps N            repetitions, run in interleaved rounds (default 5)\n"
	       "  --retries N         extra attempts of a disturbed repetition (default 2, at most 20)\n"
	       "  --seed N            the rounds' shuffle (default: from the clock; the sidecar records it)\n"
	       "  --quick             3 repetitions of 0.01 s: a smoke run\n"
	       "  --no-floors         skip the hardware floors\n"
	       "  --out FILE          results CSV (default RESULTS_DIR/<host>-<UTC time>.csv)\n"
	       "  --results-dir DIR   where default results go (default results)\n"
	       "  --plan              print the thread->CPU plan and exit\n"
	       "  --topology T        plan for an hwloc XML file or synthetic description\n"
	       "                      (e.g. 'pack:2 numa:4 core:16 pu:2'); only with --plan\n"
	       "  --oversubscribe     allow more threads than PUs\n",
	       kb_backend_names(), workload_names());
}

static int parse_backends(char *list, struct kb_options *o, char *err, size_t errlen)
{
	o->nbackends = 0;
	if (strcmp(list, "all") == 0) {
		for (unsigned int i = 0; i < kb_nbackends; i++)
			o->backends[o->nbackends++] = kb_backends[i];
		return 0;
	}
	for (char *save, *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		const struct kb_backend *b = kb_backend_find(name);

		if (!b) {
			snprintf(err, errlen, "unknown backend '%s' (valid: %s)", name, kb_backend_names());
			return -1;
		}
		if (o->nbackends == KB_NBACKENDS_BUILT) {
			snprintf(err, errlen, "backend '%s' given twice", name);
			return -1;
		}
		o->backends[o->nbackends++] = b;
	}
	if (!o->nbackends) {
		snprintf(err, errlen, "--backends needs at least one name");
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
	o->nworkloads = 0;
	if (strcmp(list, "all") == 0) {
		for (int i = 0; i < kb_nall_workloads; i++)
			o->workloads[o->nworkloads++] = kb_all_workloads[i];
		return 0;
	}
	for (char *save, *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		const struct kb_workload *w = find_workload(name);

		if (!w) {
			snprintf(err, errlen, "unknown workload '%s' (valid: %s)", name, workload_names());
			return -1;
		}
		if (o->nworkloads == KB_MAX_WORKLOADS) {
			snprintf(err, errlen, "too many workloads");
			return -1;
		}
		o->workloads[o->nworkloads++] = w;
	}
	if (!o->nworkloads) {
		snprintf(err, errlen, "--workloads needs at least one name");
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

enum { OPT_BACKENDS = 256, OPT_WORKLOADS, OPT_THREADS, OPT_PLACEMENT, OPT_OBJECTS, OPT_WORK,
	OPT_TIME, OPT_REPS, OPT_QUICK, OPT_NO_FLOORS, OPT_OUT, OPT_RESULTS_DIR, OPT_PLAN,
	OPT_TOPOLOGY, OPT_OVERSUB, OPT_PRINT_PATH, OPT_WRITER_RATE, OPT_FLAVOR, OPT_VARIANT,
	OPT_HOT, OPT_RETRIES, OPT_SEED, OPT_HELP };

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
	{ "help", no_argument, 0, OPT_HELP },
	{ 0, 0, 0, 0 },
};

static int apply_option(int opt, char *arg, struct kb_options *o, char *err, size_t errlen)
{
	long v;

	switch (opt) {
	case OPT_BACKENDS: return parse_backends(arg, o, err, errlen);
	case OPT_WORKLOADS: return parse_workloads(arg, o, err, errlen);
	case OPT_THREADS: o->threads_text = arg; return 0;
	case OPT_PLACEMENT: o->placement_text = arg; return 0;
	case OPT_OBJECTS:
		if (parse_long(arg, 1, 1 << 20, &v))
			break;
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
	case OPT_QUICK: o->quick = true; o->reps = 3; o->time_s = 0.01; return 0;
	case OPT_NO_FLOORS: o->floors = false; return 0;
	case OPT_OUT: o->out = arg; return 0;
	case OPT_RESULTS_DIR: o->results_dir = arg; return 0;
	case OPT_PLAN: o->plan_only = true; return 0;
	case OPT_TOPOLOGY: o->topology = arg; return 0;
	case OPT_OVERSUB: o->oversubscribe = true; return 0;
	case OPT_PRINT_PATH: o->print_path_to = arg; return 0;
	case OPT_WRITER_RATE: return parse_rates(arg, o, err, errlen);
	case OPT_FLAVOR:
		return parse_names(arg, kb_rcu_flavor_names, o->flavors, KB_NRCU, &o->nflavors,
				   "RCU flavour (valid: memb, qsbr, mb)", err, errlen);
	case OPT_VARIANT:
		return parse_names(arg, kb_workload_lookup_mutex.variants, o->variants, 8, &o->nvariants,
				   "lookup_mutex variant (valid: locked, put_return, unless_zero, put_mutex)",
				   err, errlen);
	case OPT_HOT: o->hot = true; return 0;
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
	}
	snprintf(err, errlen, "bad value '%s' for --%s", arg, long_options[opt - OPT_BACKENDS].name);
	return -1;
}

int kb_options_parse(int argc, char **argv, struct kb_options *o, char *err, size_t errlen)
{
	int opt;
	char all[] = "all", rates[] = "0,1000", variants[] = "unless_zero,put_mutex";

	memset(o, 0, sizeof(*o));
	o->placement_text = "cores";
	o->time_s = 0.1;
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
	parse_names(variants, kb_workload_lookup_mutex.variants, o->variants, 8, &o->nvariants, "", err, errlen);
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
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (try --help)", argv[optind]);
		return -1;
	}
	return 0;
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
	char buf[1024];
	int n = 0;
	long v;

	if (!o->threads_text)
		return default_threads(npus, out, max);
	snprintf(buf, sizeof(buf), "%s", o->threads_text);
	for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (parse_long(tok, -1000000, 1000000, &v) || v < 1) {
			snprintf(err, errlen, "bad thread count '%s' (must be 1 or more)", tok);
			return -1;
		}
		if (v > npus && !o->oversubscribe) {
			snprintf(err, errlen, "%ld threads but this machine has %d PUs (use --oversubscribe to allow)",
				 v, npus);
			return -1;
		}
		if (n == max) {
			snprintf(err, errlen, "too many thread counts");
			return -1;
		}
		out[n++] = (int)v;
	}
	if (!n) {
		snprintf(err, errlen, "--threads needs at least one count");
		return -1;
	}
	return n;
}
