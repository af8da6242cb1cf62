/*
 * shims/perfctr.h: the perf_event counters around a thread's timed region.
 *
 * - the probe: software events (task-clock, context-switches,
 *   cpu-migrations) count; hardware events count only where a hardware PMU
 *   shows in sysfs, and each event not counted carries a reason (on a VM
 *   without a PMU: "no hardware PMU"); the JSON and the summary line say so;
 *   a disabled probe (--no-perf) opens nothing;
 * - a counted region of known busy work: task-clock is at least the
 *   thread's own CPU clock and at most the wall clock (on a VM the two part
 *   by the time the host steals: perf's clock counts it, the scheduler's
 *   CPU clock does not), and stops at kb_perf_stop; context-switches >= 0, and most of the sleeps of a sleeping region;
 *   a second start counts only the second region;
 * - the multiplexing scale on synthetic read buffers: value x enabled /
 *   running, with a baseline, and time_running = 0 (or a malformed buffer)
 *   is "unavailable", never a division by zero;
 * - a region on another thread counts that thread only (pid 0 is the
 *   calling thread), and several threads at once do not disturb each other;
 * - no file descriptor is left open.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "perfctr.h"

static double clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Busy work: until this thread has used `ms` of CPU time. */
static void spin_cpu_ms(double ms)
{
	double t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	volatile unsigned long sink = 0;

	while (clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0 < ms * 1e6)
		for (int i = 0; i < 1000; i++)
			sink += (unsigned long)i;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static bool sysfs_has_hardware_pmu(void)
{
	static const char *const pmus[] = {
		"/sys/bus/event_source/devices/cpu",		/* x86 */
		"/sys/bus/event_source/devices/cpu_core",	/* x86 hybrid */
		"/sys/bus/event_source/devices/cpu_atom",
		"/sys/bus/event_source/devices/armv8_pmuv3",
		"/sys/bus/event_source/devices/armv8_pmuv3_0",
	};
	DIR *d;
	struct dirent *de;
	bool arm = false;

	for (size_t i = 0; i < sizeof(pmus) / sizeof(pmus[0]); i++)
		if (access(pmus[i], F_OK) == 0)
			return true;
	d = opendir("/sys/bus/event_source/devices");
	if (!d)
		return false;
	while ((de = readdir(d)) != NULL)
		arm |= strncmp(de->d_name, "armv8", 5) == 0 || strncmp(de->d_name, "armv9", 5) == 0;
	closedir(d);
	return arm;
}

static bool is_software(int e)
{
	return e == KB_PERF_TASK_CLOCK || e == KB_PERF_CONTEXT_SWITCHES || e == KB_PERF_CPU_MIGRATIONS;
}

static struct kb_perf_probe probe;

/* ---- the probe ---- */

static void test_probe(void)
{
	bool pmu = sysfs_has_hardware_pmu();
	char line[2048];
	char *json;
	int n = kb_perf_probe(&probe);

	printf("# perf_event_paranoid %d, user space only %d, hardware PMU in sysfs %d, probe counts %d events\n",
	       probe.paranoid, probe.user_only, pmu, n);
	for (int e = 0; e < KB_PERF_NEVENTS; e++)
		printf("#   %-17s %s%s%s\n", kb_perf_event_names[e], probe.counted[e] ? "counted" : "not counted",
		       probe.reason[e][0] ? ": " : "", probe.reason[e]);
	CHECK(probe.enabled, "the probe is enabled");
	CHECK(probe.counted[KB_PERF_TASK_CLOCK], "task-clock counts (%s)", probe.reason[KB_PERF_TASK_CLOCK]);
	for (int e = KB_PERF_CONTEXT_SWITCHES; e <= KB_PERF_CPU_MIGRATIONS; e++) {
		if (probe.user_only)
			CHECK(!probe.counted[e] && strstr(probe.reason[e], "sysctl -w kernel.perf_event_paranoid="),
			      "%s: user space only, so not counted, with the sysctl to change (%s)",
			      kb_perf_event_names[e], probe.reason[e]);
		else
			CHECK(probe.counted[e], "%s counts (%s)", kb_perf_event_names[e], probe.reason[e]);
	}
	for (int e = 0; e < KB_PERF_NEVENTS; e++) {
		if (is_software(e))
			continue;
		if (!pmu) {
			CHECK(!probe.counted[e], "%s: not counted without a hardware PMU", kb_perf_event_names[e]);
			CHECK(strstr(probe.reason[e], "no hardware PMU") != NULL,
			      "%s: the reason says there is no hardware PMU (got '%s')", kb_perf_event_names[e],
			      probe.reason[e]);
		}
	}
	CHECK(pmu || !probe.hardware_pmu, "no PMU in sysfs, none found by the probe (%d)", probe.hardware_pmu);
	CHECK(n == (int)(probe.counted[0] + probe.counted[1] + probe.counted[2] + probe.counted[3] +
			 probe.counted[4] + probe.counted[5] + probe.counted[6] + probe.counted[7] +
			 probe.counted[8]), "the return value is the number counted");
	for (int e = 0; e < KB_PERF_NEVENTS; e++)
		CHECK(probe.counted[e] || strlen(probe.reason[e]) > 10, "%s: not counted, and a reason given",
		      kb_perf_event_names[e]);
	CHECK(probe.paranoid != -99, "perf_event_paranoid is read (%d)", probe.paranoid);

	kb_perf_probe_summary(&probe, line, sizeof(line));
	printf("# summary: %s\n", line);
	CHECK(strstr(line, "task-clock") != NULL, "the summary names task-clock");
	if (!pmu)
		CHECK(strstr(line, "cycles") && strstr(line, "no hardware PMU"),
		      "the summary says cycles are not counted for want of a PMU");

	json = kb_perf_probe_json(&probe);
	CHECK(json != NULL, "the probe renders as JSON");
	if (json) {
		printf("# json: %s\n", json);
		CHECK(json[0] == '{' && json[strlen(json) - 1] == '}', "JSON is an object");
		CHECK(strstr(json, "\"counted\": [") && strstr(json, "\"task-clock\""), "JSON lists task-clock as counted");
		CHECK(strstr(json, "\"not_counted\": {") != NULL, "JSON has not_counted");
		if (!pmu)
			CHECK(strstr(json, "\"cycles\": \"no hardware PMU") != NULL, "JSON: cycles, and why not");
		free(json);
	}
}

static void test_disabled(void)
{
	struct kb_perf_probe off;
	struct kb_perf pc;
	double v[KB_PERF_NEVENTS];
	bool valid[KB_PERF_NEVENTS];
	char line[512];
	char *json;
	int fds = open_fds();

	kb_perf_probe_disabled(&off, "disabled by --no-perf");
	CHECK(!off.enabled, "a disabled probe is disabled");
	for (int e = 0; e < KB_PERF_NEVENTS; e++)
		CHECK(!off.counted[e] && strcmp(off.reason[e], "disabled by --no-perf") == 0,
		      "%s: not counted, reason --no-perf", kb_perf_event_names[e]);
	CHECK_EQ(kb_perf_open(&pc, &off), 0, "a disabled probe opens nothing");
	CHECK(!pc.active, "inactive");
	kb_perf_start(&pc);
	kb_perf_stop(&pc);
	CHECK_EQ(kb_perf_read(&pc, v, valid), 0, "nothing to read");
	kb_perf_close(&pc);
	CHECK_EQ(kb_perf_open(&pc, NULL), 0, "no probe opens nothing");
	CHECK_EQ(open_fds(), fds, "no file descriptors opened");
	kb_perf_probe_summary(&off, line, sizeof(line));
	CHECK(strstr(line, "off") && strstr(line, "--no-perf"), "summary says off (%s)", line);
	json = kb_perf_probe_json(&off);
	CHECK(json && strstr(json, "\"enabled\": false") && strstr(json, "\"counted\": []"),
	      "JSON: enabled false, nothing counted");
	free(json);
}

/* ---- counted regions ---- */

static void test_busy_region(void)
{
	struct kb_perf pc;
	double v[KB_PERF_NEVENTS], v2[KB_PERF_NEVENTS];
	bool valid[KB_PERF_NEVENTS], valid2[KB_PERF_NEVENTS];
	int fds = open_fds(), opened;
	double cpu0, cpu1, wall0, wall1;

	opened = kb_perf_open(&pc, &probe);
	CHECK(opened >= 1 && pc.active, "the probe's events open on this thread (%d)", opened);
	CHECK(open_fds() == fds + opened, "one descriptor per event (%d -> %d)", fds, open_fds());

	wall0 = clock_ns(CLOCK_MONOTONIC);
	cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	kb_perf_start(&pc);
	spin_cpu_ms(50);
	kb_perf_stop(&pc);
	cpu1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	wall1 = clock_ns(CLOCK_MONOTONIC);
	CHECK(kb_perf_read(&pc, v, valid) >= 1, "something valid");
	CHECK(valid[KB_PERF_TASK_CLOCK], "task-clock valid");
	printf("# 50 ms of CPU: task-clock %.3f ms (thread CPU clock %.3f ms, wall %.3f ms), "
	       "context-switches %.0f, cpu-migrations %.0f\n", v[KB_PERF_TASK_CLOCK] / 1e6,
	       (cpu1 - cpu0) / 1e6, (wall1 - wall0) / 1e6, v[KB_PERF_CONTEXT_SWITCHES], v[KB_PERF_CPU_MIGRATIONS]);
	CHECK(v[KB_PERF_TASK_CLOCK] >= 45e6, "task-clock >= 45 ms for 50 ms of CPU (%.3f ms)", v[KB_PERF_TASK_CLOCK] / 1e6);
	CHECK(v[KB_PERF_TASK_CLOCK] >= (cpu1 - cpu0) * 0.95 - 1e6,
	      "task-clock (%.3f ms) >= the thread's CPU clock (%.3f ms) - 5%%", v[KB_PERF_TASK_CLOCK] / 1e6,
	      (cpu1 - cpu0) / 1e6);
	CHECK(v[KB_PERF_TASK_CLOCK] <= (wall1 - wall0) + 1e6, "task-clock (%.3f ms) <= wall clock (%.3f ms)",
	      v[KB_PERF_TASK_CLOCK] / 1e6, (wall1 - wall0) / 1e6);
	if (valid[KB_PERF_CONTEXT_SWITCHES])
		CHECK(v[KB_PERF_CONTEXT_SWITCHES] >= 0 && v[KB_PERF_CONTEXT_SWITCHES] < 1e6,
		      "context-switches >= 0 and sane (%.0f)", v[KB_PERF_CONTEXT_SWITCHES]);
	if (valid[KB_PERF_CPU_MIGRATIONS])
		CHECK(v[KB_PERF_CPU_MIGRATIONS] >= 0 && v[KB_PERF_CPU_MIGRATIONS] < 1e6,
		      "cpu-migrations >= 0 and sane (%.0f)", v[KB_PERF_CPU_MIGRATIONS]);
	for (int e = 0; e < KB_PERF_NEVENTS; e++)
		CHECK(valid[e] == probe.counted[e], "%s valid exactly when the probe counts it",
		      kb_perf_event_names[e]);

	/* Stopped means stopped: more work changes nothing. */
	spin_cpu_ms(30);
	kb_perf_read(&pc, v2, valid2);
	CHECK(v2[KB_PERF_TASK_CLOCK] == v[KB_PERF_TASK_CLOCK], "after stop, task-clock stays (%.3f -> %.3f ms)",
	      v[KB_PERF_TASK_CLOCK] / 1e6, v2[KB_PERF_TASK_CLOCK] / 1e6);

	/* A second region counts only itself (with the first it would exceed its wall clock). */
	wall0 = clock_ns(CLOCK_MONOTONIC);
	kb_perf_start(&pc);
	spin_cpu_ms(20);
	kb_perf_stop(&pc);
	wall1 = clock_ns(CLOCK_MONOTONIC);
	kb_perf_read(&pc, v2, valid2);
	CHECK(valid2[KB_PERF_TASK_CLOCK] && v2[KB_PERF_TASK_CLOCK] >= 18e6 &&
	      v2[KB_PERF_TASK_CLOCK] <= wall1 - wall0 + 1e6,
	      "a second 20 ms region counts 18 ms .. its wall clock (%.3f ms), not the first region too (%.3f ms)",
	      (wall1 - wall0) / 1e6, v2[KB_PERF_TASK_CLOCK] / 1e6);

	/* A sleeping region: each sleep is a switch away. */
	if (probe.counted[KB_PERF_CONTEXT_SWITCHES]) {
		kb_perf_start(&pc);
		for (int i = 0; i < 5; i++)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
		kb_perf_stop(&pc);
		kb_perf_read(&pc, v2, valid2);
		/* Most of them: a sleep's switch can fall on either side of a toggle. */
		CHECK(valid2[KB_PERF_CONTEXT_SWITCHES] && v2[KB_PERF_CONTEXT_SWITCHES] >= 3 &&
		      v2[KB_PERF_CONTEXT_SWITCHES] < 1000,
		      "5 sleeps: context-switches >= 3 and sane (%.0f)", v2[KB_PERF_CONTEXT_SWITCHES]);
		CHECK(v2[KB_PERF_TASK_CLOCK] < 4e6, "5 x 1 ms asleep: task-clock < 4 ms (%.3f ms)",
		      v2[KB_PERF_TASK_CLOCK] / 1e6);
	}
	kb_perf_close(&pc);
	CHECK(!pc.active, "closed");
	CHECK_EQ(open_fds(), fds, "every descriptor closed");
	kb_perf_close(&pc);	/* twice is harmless */
	kb_perf_stop(&pc);
}

/* ---- the scaling ---- */

static void test_scaling(void)
{
	double out[KB_PERF_NEVENTS];

	{
		const uint64_t buf[] = { 2, 1000, 500, 10, 20 };

		CHECK_EQ(kb_perf_scale_group(buf, 5, NULL, out, KB_PERF_NEVENTS), 2, "two values");
		CHECK(out[0] == 20 && out[1] == 40, "half the time running: doubled (%g, %g)", out[0], out[1]);
	}
	{
		const uint64_t buf[] = { 3, 7000, 7000, 1ull << 40, 3, 0 };

		CHECK_EQ(kb_perf_scale_group(buf, 6, NULL, out, KB_PERF_NEVENTS), 3, "three values");
		CHECK(out[0] == (double)(1ull << 40) && out[1] == 3 && out[2] == 0, "never multiplexed: unchanged");
	}
	{
		const uint64_t base[] = { 2, 100, 50, 1, 2 }, buf[] = { 2, 1100, 550, 11, 22 };

		CHECK_EQ(kb_perf_scale_group(buf, 5, base, out, KB_PERF_NEVENTS), 2, "with a baseline");
		CHECK(out[0] == 20 && out[1] == 40, "baseline subtracted, then scaled (%g, %g)", out[0], out[1]);
	}
	{
		const uint64_t buf[] = { 2, 1000, 333, 1000, 1 };

		CHECK_EQ(kb_perf_scale_group(buf, 5, NULL, out, KB_PERF_NEVENTS), 2, "a third of the time");
		CHECK(fabs(out[0] - 1000.0 * 1000 / 333) < 1e-9, "scaled by enabled/running (%g)", out[0]);
	}
	{
		const uint64_t buf[] = { 2, 1000, 0, 0, 0 };

		out[0] = -7;
		CHECK_EQ(kb_perf_scale_group(buf, 5, NULL, out, KB_PERF_NEVENTS), -1,
			 "time_running 0: unavailable");
		CHECK(out[0] == -7, "nothing written when unavailable");
	}
	{
		const uint64_t base[] = { 1, 100, 40, 5 }, buf[] = { 1, 900, 40, 5 };

		CHECK_EQ(kb_perf_scale_group(buf, 4, base, out, KB_PERF_NEVENTS), -1,
			 "running did not advance since the baseline: unavailable");
	}
	{
		const uint64_t buf[] = { 0, 0, 0 };

		CHECK_EQ(kb_perf_scale_group(buf, 3, NULL, out, KB_PERF_NEVENTS), -1,
			 "all zero (never enabled): unavailable");
	}
	{
		const uint64_t buf[] = { 5, 10, 10, 1, 2 }, base2[] = { 3, 0, 0, 0, 0, 0 };
		const uint64_t ok[] = { 2, 10, 10, 1, 2 }, later[] = { 2, 10, 10, 0, 2 };
		const uint64_t base[] = { 2, 0, 0, 1, 0 };

		CHECK_EQ(kb_perf_scale_group(buf, 2, NULL, out, KB_PERF_NEVENTS), -1, "shorter than the header");
		CHECK_EQ(kb_perf_scale_group(buf, 5, NULL, out, KB_PERF_NEVENTS), -1, "nr beyond the buffer");
		CHECK_EQ(kb_perf_scale_group(ok, 5, NULL, out, 1), -1, "nr beyond the output");
		CHECK_EQ(kb_perf_scale_group(ok, 5, base2, out, KB_PERF_NEVENTS), -1, "baseline of another group");
		CHECK_EQ(kb_perf_scale_group(later, 5, base, out, KB_PERF_NEVENTS), -1, "a count below its baseline");
		CHECK_EQ(kb_perf_scale_group(NULL, 5, NULL, out, KB_PERF_NEVENTS), -1, "no buffer");
	}
}

/* ---- regions on threads ---- */

struct worker {
	double ms;
	bool sleeper;			/* sleep instead of spinning */
	double task_clock_ns, cpu_ns, wall_ns;
	bool valid;
	int opened;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct kb_perf pc;
	double v[KB_PERF_NEVENTS], cpu0, wall0;
	bool valid[KB_PERF_NEVENTS];

	w->opened = kb_perf_open(&pc, &probe);
	wall0 = clock_ns(CLOCK_MONOTONIC);
	cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	kb_perf_start(&pc);
	if (w->sleeper)
		nanosleep(&(struct timespec){ .tv_nsec = (long)(w->ms * 1e6) }, NULL);
	else
		spin_cpu_ms(w->ms);
	kb_perf_stop(&pc);
	w->cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	w->wall_ns = clock_ns(CLOCK_MONOTONIC) - wall0;
	kb_perf_read(&pc, v, valid);
	w->valid = valid[KB_PERF_TASK_CLOCK];
	w->task_clock_ns = v[KB_PERF_TASK_CLOCK];
	kb_perf_close(&pc);
	return NULL;
}

static void test_threads(void)
{
	struct worker spinner = { .ms = 40 }, many[4];
	struct kb_perf main_pc;
	double v[KB_PERF_NEVENTS];
	bool valid[KB_PERF_NEVENTS];
	pthread_t tid, tids[4];
	int fds = open_fds();

	/* The main thread counts itself while a worker spins: the worker's CPU is not ours. */
	kb_perf_open(&main_pc, &probe);
	kb_perf_start(&main_pc);
	CHECK(pthread_create(&tid, NULL, worker_main, &spinner) == 0, "worker started");
	pthread_join(tid, NULL);
	kb_perf_stop(&main_pc);
	kb_perf_read(&main_pc, v, valid);
	kb_perf_close(&main_pc);
	printf("# worker: task-clock %.3f ms for %.3f ms of its CPU; main meanwhile %.3f ms\n",
	       spinner.task_clock_ns / 1e6, spinner.cpu_ns / 1e6, v[KB_PERF_TASK_CLOCK] / 1e6);
	CHECK(spinner.opened >= 1, "the worker opened its counters (%d)", spinner.opened);
	CHECK(spinner.valid, "the worker's task-clock is valid");
	CHECK(spinner.task_clock_ns >= 36e6 && spinner.task_clock_ns <= spinner.wall_ns + 1e6,
	      "the worker's task-clock is its own 40 ms of CPU: 36 ms .. its wall clock %.3f ms (%.3f ms)",
	      spinner.wall_ns / 1e6, spinner.task_clock_ns / 1e6);
	CHECK(valid[KB_PERF_TASK_CLOCK] && v[KB_PERF_TASK_CLOCK] < 20e6,
	      "the main thread, waiting, counted little (%.3f ms < 20 ms): per thread, not per process",
	      v[KB_PERF_TASK_CLOCK] / 1e6);

	/* Four at once, two spinning and two asleep. */
	for (int i = 0; i < 4; i++) {
		many[i] = (struct worker){ .ms = 30, .sleeper = i % 2 };
		CHECK(pthread_create(&tids[i], NULL, worker_main, &many[i]) == 0, "worker %d started", i);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(tids[i], NULL);
	for (int i = 0; i < 4; i++) {
		printf("# worker %d (%s): task-clock %.3f ms, CPU %.3f ms, wall %.3f ms\n", i,
		       many[i].sleeper ? "asleep" : "spinning", many[i].task_clock_ns / 1e6, many[i].cpu_ns / 1e6,
		       many[i].wall_ns / 1e6);
		CHECK(many[i].valid, "worker %d: valid", i);
		if (many[i].sleeper)
			CHECK(many[i].task_clock_ns < 10e6, "worker %d asleep 30 ms: task-clock < 10 ms (%.3f)", i,
			      many[i].task_clock_ns / 1e6);
		else
			CHECK(many[i].task_clock_ns >= 27e6 && many[i].task_clock_ns <= many[i].wall_ns + 1e6,
			      "worker %d spinning 30 ms: 27 ms .. its wall clock %.3f ms (%.3f ms)", i,
			      many[i].wall_ns / 1e6, many[i].task_clock_ns / 1e6);
	}
	CHECK_EQ(open_fds(), fds, "every thread closed its descriptors");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_scaling();
	test_probe();
	test_disabled();
	if (probe.counted[KB_PERF_TASK_CLOCK]) {
		test_busy_region();
		test_threads();
	} else {
		CHECK(false, "task-clock is not counted, so no region can be tested: %s",
		      probe.reason[KB_PERF_TASK_CLOCK]);
	}
	return check_summary();
}
