/* perf_event counters around one thread's timed region: see perfctr.h. */
#include "perfctr.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/lib/json.h"

const char *const kb_perf_event_names[KB_PERF_NEVENTS] = {
	"cycles", "instructions", "branches", "branch-misses", "cache-references", "cache-misses",
	"task-clock", "context-switches", "cpu-migrations",
};

const char *const kb_perf_column_names[KB_PERF_NEVENTS] = {
	"cycles_per_op", "instructions_per_op", "branches_per_op", "branch_misses_per_op",
	"cache_references_per_op", "cache_misses_per_op", "task_clock_ns_per_op",
	"context_switches_per_op", "cpu_migrations_per_op",
};

const int kb_perf_event_group[KB_PERF_NEVENTS] = {
	KB_PERF_GROUP_CORE, KB_PERF_GROUP_CORE, KB_PERF_GROUP_CORE, KB_PERF_GROUP_CORE,
	KB_PERF_GROUP_CACHE, KB_PERF_GROUP_CACHE,
	KB_PERF_GROUP_SOFTWARE, KB_PERF_GROUP_SOFTWARE, KB_PERF_GROUP_SOFTWARE,
};

static const struct {
	uint32_t type;
	uint64_t config;
} event_attr[KB_PERF_NEVENTS] = {
	{ PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES },
	{ PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS },
	{ PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_INSTRUCTIONS },
	{ PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES },
	{ PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_REFERENCES },
	{ PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES },
	{ PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK },
	{ PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES },
	{ PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS },
};

/* Scheduler events happen in the kernel: with exclude_kernel they stay 0. */
static bool kernel_only_event(int e)
{
	return e == KB_PERF_CONTEXT_SWITCHES || e == KB_PERF_CPU_MIGRATIONS;
}

static int sys_perf_event_open(struct perf_event_attr *attr, int group_fd)
{
	return (int)syscall(SYS_perf_event_open, attr, 0 /* this thread */, -1 /* any CPU */, group_fd,
			    PERF_FLAG_FD_CLOEXEC);
}

static int open_event(int e, int group_fd, bool user_only)
{
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = event_attr[e].type;
	attr.config = event_attr[e].config;
	attr.read_format = PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
	attr.disabled = group_fd < 0;	/* the leader starts them all */
	attr.exclude_hv = 1;
	attr.exclude_kernel = user_only;
	return sys_perf_event_open(&attr, group_fd);
}

static int read_paranoid(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
	int v = -99;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -99;
		fclose(f);
	}
	return v;
}

static const char *errno_name(int err)
{
	switch (err) {
	case ENOENT: return "ENOENT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENODEV: return "ENODEV";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EMFILE: return "EMFILE";
	case ENFILE: return "ENFILE";
	case ENOSYS: return "ENOSYS";
	case EBUSY: return "EBUSY";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case E2BIG: return "E2BIG";
	default: return "errno";
	}
}

static void not_permitted(char *buf, size_t len, int paranoid, int err)
{
	char level[32];

	if (paranoid == -99)
		snprintf(level, sizeof(level), "unreadable");
	else
		snprintf(level, sizeof(level), "%d", paranoid);
	snprintf(buf, len, "not permitted (%s): kernel.perf_event_paranoid = %s; as root run "
		 "`sysctl -w kernel.perf_event_paranoid=1` (or lower), or grant CAP_PERFMON",
		 errno_name(err), level);
}

static void open_failure(char *buf, size_t len, int e, int err, int paranoid)
{
	bool hw = event_attr[e].type == PERF_TYPE_HARDWARE;

	switch (err) {
	case ENOENT:
	case EOPNOTSUPP:
	case ENODEV:
		if (hw)
			snprintf(buf, len, "no hardware PMU here, or it lacks this event (%s: not supported; "
				 "a VM without a virtual PMU?)", errno_name(err));
		else
			snprintf(buf, len, "not supported by this kernel (%s)", errno_name(err));
		break;
	case EACCES:
	case EPERM:
		not_permitted(buf, len, paranoid, err);
		break;
	case EMFILE:
	case ENFILE:
		snprintf(buf, len, "out of file descriptors (%s): raise `ulimit -n`", errno_name(err));
		break;
	case ENOSYS:
		snprintf(buf, len, "perf_event_open is not available (ENOSYS: kernel without "
			 "CONFIG_PERF_EVENTS, or blocked by a seccomp filter)");
		break;
	case EBUSY:
		snprintf(buf, len, "the PMU is in exclusive use by another tool (EBUSY)");
		break;
	default:
		snprintf(buf, len, "perf_event_open failed: %s (%s %d)", strerror(err), errno_name(err), err);
	}
}

/* A millisecond or so of work, so that an enabled group gets scheduled. */
static void spin_ms(int ms)
{
	struct timespec t0, t;
	volatile unsigned long sink = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 10000; i++)
			sink += (unsigned long)i;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < ms * 1000000L);
}

/* ---- the scaling ---- */

int kb_perf_scale_group(const uint64_t *buf, size_t nwords, const uint64_t *base, double *out, int max)
{
	uint64_t nr, enabled, running;

	if (!buf || nwords < 3)
		return -1;
	nr = buf[0];
	if (nr > (uint64_t)max || 3 + nr > nwords || (base && base[0] != nr))
		return -1;
	if (base && (buf[1] < base[1] || buf[2] < base[2]))
		return -1;
	enabled = buf[1] - (base ? base[1] : 0);
	running = buf[2] - (base ? base[2] : 0);
	if (running == 0)
		return -1;	/* never scheduled: no estimate, not a division by zero */
	for (uint64_t i = 0; i < nr; i++) {
		uint64_t b = base ? base[3 + i] : 0;

		if (buf[3 + i] < b)
			return -1;
		out[i] = (double)(buf[3 + i] - b) * ((double)enabled / (double)running);
	}
	return (int)nr;
}

/* ---- one thread's counters ---- */

static void reset(struct kb_perf *pc)
{
	memset(pc, 0, sizeof(*pc));
	for (int g = 0; g < KB_PERF_NGROUPS; g++)
		pc->leader[g] = -1;
	for (int e = 0; e < KB_PERF_NEVENTS; e++)
		pc->fd[e] = pc->slot[e] = -1;
}

/* Opens the events in want[]; errs[e] gets errno for those that failed. */
static int open_events(struct kb_perf *pc, const bool want[KB_PERF_NEVENTS], bool user_only,
		       int errs[KB_PERF_NEVENTS])
{
	int n = 0;

	reset(pc);
	for (int e = 0; e < KB_PERF_NEVENTS; e++) {
		int g = kb_perf_event_group[e];
		int fd;

		errs[e] = 0;
		if (!want[e])
			continue;
		fd = open_event(e, pc->leader[g], user_only);
		if (fd < 0) {
			errs[e] = errno;
			continue;
		}
		if (pc->leader[g] < 0)
			pc->leader[g] = fd;
		pc->fd[e] = fd;
		pc->slot[e] = pc->nmembers[g]++;
		n++;
	}
	pc->active = n > 0;
	return n;
}

int kb_perf_open(struct kb_perf *pc, const struct kb_perf_probe *probe)
{
	int errs[KB_PERF_NEVENTS];

	if (!probe || !probe->enabled) {
		reset(pc);
		return 0;
	}
	return open_events(pc, probe->counted, probe->user_only, errs);
}

static int read_group(int fd, uint64_t *buf, size_t nwords)
{
	ssize_t n = read(fd, buf, nwords * sizeof(uint64_t));

	return n >= (ssize_t)(3 * sizeof(uint64_t)) ? 0 : -1;
}

void kb_perf_start(struct kb_perf *pc)
{
	if (!pc->active)
		return;
	for (int g = 0; g < KB_PERF_NGROUPS; g++)
		if (pc->leader[g] >= 0 &&
		    read_group(pc->leader[g], pc->base[g], 3 + (size_t)pc->nmembers[g]))
			memset(pc->base[g], 0, sizeof(pc->base[g]));
	for (int g = 0; g < KB_PERF_NGROUPS; g++)
		if (pc->leader[g] >= 0)
			ioctl(pc->leader[g], PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP);
	pc->running = true;
}

void kb_perf_stop(struct kb_perf *pc)
{
	if (!pc->active || !pc->running)
		return;
	for (int g = KB_PERF_NGROUPS - 1; g >= 0; g--)
		if (pc->leader[g] >= 0)
			ioctl(pc->leader[g], PERF_EVENT_IOC_DISABLE, PERF_IOC_FLAG_GROUP);
	pc->running = false;
}

int kb_perf_read(struct kb_perf *pc, double value[KB_PERF_NEVENTS], bool valid[KB_PERF_NEVENTS])
{
	uint64_t buf[3 + KB_PERF_NEVENTS];
	double scaled[KB_PERF_NEVENTS];
	int nvalid = 0;

	for (int e = 0; e < KB_PERF_NEVENTS; e++) {
		value[e] = 0;
		valid[e] = false;
	}
	if (!pc->active)
		return 0;
	for (int g = 0; g < KB_PERF_NGROUPS; g++) {
		size_t nwords = 3 + (size_t)pc->nmembers[g];

		if (pc->leader[g] < 0 || read_group(pc->leader[g], buf, nwords) ||
		    kb_perf_scale_group(buf, nwords, pc->base[g], scaled, KB_PERF_NEVENTS) != pc->nmembers[g])
			continue;
		for (int e = 0; e < KB_PERF_NEVENTS; e++)
			if (kb_perf_event_group[e] == g && pc->fd[e] >= 0) {
				value[e] = scaled[pc->slot[e]];
				valid[e] = true;
				nvalid++;
			}
	}
	return nvalid;
}

void kb_perf_close(struct kb_perf *pc)
{
	if (!pc->active)
		return;
	for (int e = 0; e < KB_PERF_NEVENTS; e++)	/* members before leaders */
		if (pc->fd[e] >= 0 && pc->slot[e] > 0)
			close(pc->fd[e]);
	for (int g = 0; g < KB_PERF_NGROUPS; g++)
		if (pc->leader[g] >= 0)
			close(pc->leader[g]);
	reset(pc);
}

/* ---- the probe ---- */

void kb_perf_probe_disabled(struct kb_perf_probe *p, const char *why)
{
	memset(p, 0, sizeof(*p));
	p->paranoid = read_paranoid();
	for (int e = 0; e < KB_PERF_NEVENTS; e++)
		snprintf(p->reason[e], sizeof(p->reason[e]), "%s", why);
}

/* Is kernel counting allowed? Asked of task-clock, which every kernel with perf has. */
static bool kernel_counting_refused(void)
{
	int fd = open_event(KB_PERF_TASK_CLOCK, -1, false);

	if (fd >= 0) {
		close(fd);
		return false;
	}
	return errno == EACCES || errno == EPERM;
}

int kb_perf_probe(struct kb_perf_probe *p)
{
	struct kb_perf pc;
	bool want[KB_PERF_NEVENTS];
	int errs[KB_PERF_NEVENTS], n = 0;
	double value[KB_PERF_NEVENTS];
	bool valid[KB_PERF_NEVENTS];

	memset(p, 0, sizeof(*p));
	p->enabled = true;
	p->paranoid = read_paranoid();
	p->user_only = kernel_counting_refused();
	for (int e = 0; e < KB_PERF_NEVENTS; e++)
		want[e] = true;
	open_events(&pc, want, p->user_only, errs);
	for (int e = 0; e < KB_PERF_NEVENTS; e++) {
		if (pc.fd[e] < 0)
			open_failure(p->reason[e], sizeof(p->reason[e]), e, errs[e], p->paranoid);
		else if (event_attr[e].type == PERF_TYPE_HARDWARE)
			p->hardware_pmu = true;
	}
	/* Opening is not counting: a group wider than the free counters never runs. */
	kb_perf_start(&pc);
	spin_ms(2);
	kb_perf_stop(&pc);
	kb_perf_read(&pc, value, valid);
	for (int e = 0; e < KB_PERF_NEVENTS; e++) {
		if (pc.fd[e] < 0)
			continue;
		if (!valid[e]) {
			snprintf(p->reason[e], sizeof(p->reason[e]),
				 "opened but never scheduled: its group (%s) wants more counters than are free "
				 "(another perf user, or the NMI watchdog: `sysctl -w kernel.nmi_watchdog=0`)",
				 kb_perf_event_group[e] == KB_PERF_GROUP_CORE ? "cycles, instructions, branches, branch-misses" :
				 kb_perf_event_group[e] == KB_PERF_GROUP_CACHE ? "cache-references, cache-misses" :
				 "task-clock, context-switches, cpu-migrations");
		} else if (p->user_only && kernel_only_event(e)) {
			snprintf(p->reason[e], sizeof(p->reason[e]),
				 "user space only (kernel.perf_event_paranoid = %d, not privileged) and this event "
				 "happens in the kernel; as root run `sysctl -w kernel.perf_event_paranoid=1` (or lower)",
				 p->paranoid);
		} else {
			p->counted[e] = true;
			n++;
			if (p->user_only)
				snprintf(p->reason[e], sizeof(p->reason[e]),
					 "user space only (kernel.perf_event_paranoid = %d, not privileged); "
					 "`sysctl -w kernel.perf_event_paranoid=1` counts the kernel too", p->paranoid);
		}
	}
	kb_perf_close(&pc);
	return n;
}

void kb_perf_probe_summary(const struct kb_perf_probe *p, char *buf, size_t len)
{
	size_t used = 0;
	bool done[KB_PERF_NEVENTS] = { false };
	int ncounted = 0;

#define PUT(...)								\
	do {									\
		if (used < len)							\
			used += (size_t)snprintf(buf + used, len - used, __VA_ARGS__);	\
	} while (0)
	if (!p->enabled) {
		PUT("perf counters off (%s)", p->reason[0]);
		return;
	}
	PUT("perf counters:");
	for (int e = 0; e < KB_PERF_NEVENTS; e++)
		if (p->counted[e])
			PUT("%s %s", ncounted++ ? "," : "", kb_perf_event_names[e]);
	if (!ncounted)
		PUT(" none");
	if (p->user_only && ncounted)
		PUT(" (user space only)");
	/* The rest, grouped by reason. */
	for (int e = 0; e < KB_PERF_NEVENTS; e++) {
		bool first = true;

		if (p->counted[e] || done[e])
			continue;
		PUT("; not");
		for (int f = e; f < KB_PERF_NEVENTS; f++)
			if (!p->counted[f] && !done[f] && strcmp(p->reason[f], p->reason[e]) == 0) {
				PUT("%s %s", first ? "" : ",", kb_perf_event_names[f]);
				done[f] = true;
				first = false;
			}
		PUT(": %s", p->reason[e]);
	}
#undef PUT
}

char *kb_perf_probe_json(const struct kb_perf_probe *p)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	int n = 0;

	if (!f)
		return NULL;
	fprintf(f, "{\"enabled\": %s, ", p->enabled ? "true" : "false");
	if (p->paranoid == -99)
		fprintf(f, "\"perf_event_paranoid\": null, ");
	else
		fprintf(f, "\"perf_event_paranoid\": %d, ", p->paranoid);
	fprintf(f, "\"hardware_pmu\": %s, \"user_space_only\": %s, ",
		p->hardware_pmu ? "true" : "false", p->user_only ? "true" : "false");
	fprintf(f, "\"counted\": [");
	for (int e = 0; e < KB_PERF_NEVENTS; e++)
		if (p->counted[e]) {
			fprintf(f, "%s", n++ ? ", " : "");
			kb_json_put_string(f, kb_perf_event_names[e]);
		}
	fprintf(f, "], \"not_counted\": {");
	n = 0;
	for (int e = 0; e < KB_PERF_NEVENTS; e++)
		if (!p->counted[e]) {
			fprintf(f, "%s", n++ ? ", " : "");
			kb_json_put_string(f, kb_perf_event_names[e]);
			fprintf(f, ": ");
			kb_json_put_string(f, p->reason[e]);
		}
	fprintf(f, "}, \"notes\": {");
	n = 0;
	for (int e = 0; e < KB_PERF_NEVENTS; e++)
		if (p->counted[e] && p->reason[e][0]) {
			fprintf(f, "%s", n++ ? ", " : "");
			kb_json_put_string(f, kb_perf_event_names[e]);
			fprintf(f, ": ");
			kb_json_put_string(f, p->reason[e]);
		}
	fprintf(f, "}, \"scope\": ");
	kb_json_put_string(f, "per benchmark thread, from the first batch of its timed loop to the end of the "
		      "loop; scaled by time_enabled/time_running; summed over threads and divided by "
		      "iterations x threads (CSV *_per_op columns)");
	fprintf(f, "}");
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
