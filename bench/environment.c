#include "environment.h"

#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "core/backends.h"
#include "core/lib/cpu.h"
#include "core/lib/json.h"

#ifndef KREFBENCH_CFLAGS
#define KREFBENCH_CFLAGS "unknown"
#endif
#ifndef KREFBENCH_URCU_VERSION
#define KREFBENCH_URCU_VERSION "?"
#endif
#ifndef KREFBENCH_GBENCH_VERSION
#define KREFBENCH_GBENCH_VERSION "?"
#endif
#ifndef KREFBENCH_SOURCE_DIR
#define KREFBENCH_SOURCE_DIR "."
#endif

static void read_first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

void kb_env_cpu_model(char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(buf, len, "unknown CPU");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!colon || (strncmp(line, "model name", 10) && strncmp(line, "Model", 5)))
			continue;
		colon += 2;
		colon[strcspn(colon, "\n")] = 0;
		snprintf(buf, len, "%s", colon);
		break;
	}
	fclose(f);
}

static void git_commit(char *buf, size_t len)
{
	char cmd[1024];
	FILE *p;

	snprintf(buf, len, "unknown");
	snprintf(cmd, sizeof(cmd), "git -C '%s' rev-parse HEAD 2>/dev/null; "
		 "git -C '%s' status --porcelain --untracked-files=no 2>/dev/null | head -n1",
		 KREFBENCH_SOURCE_DIR, KREFBENCH_SOURCE_DIR);
	p = popen(cmd, "r");
	if (!p)
		return;
	if (fgets(buf, (int)len, p)) {
		char dirty[64];

		buf[strcspn(buf, "\n")] = 0;
		if (fgets(dirty, sizeof(dirty), p))
			strncat(buf, "-dirty", len - strlen(buf) - 1);
	}
	pclose(p);
}

/* "key": "value", as one line of the sidecar's object. */
static void put_json_string(FILE *f, const char *key, const char *value, bool last)
{
	fprintf(f, "  \"%s\": ", key);
	kb_json_put_string(f, value);
	fprintf(f, "%s\n", last ? "" : ",");
}

static void sysfs_or(const char *path, const char *fallback, char *buf, size_t len)
{
	read_first_line(path, buf, len);
	if (!buf[0])
		snprintf(buf, len, "%s", fallback);
}

static void put_backend_sizes(FILE *f)
{
	fprintf(f, "  \"bytes_per_object\": {");
	for (unsigned int i = 0; i < kb_nbackends; i++)
		fprintf(f, "%s\"%s\": %zu", i ? ", " : "", kb_backends[i]->name,
			kb_backends[i]->bytes_per_object());
	fprintf(f, "},\n");
}

char *kb_env_render(const struct kb_topo *topo, const struct kb_env_extra *x)
{
	char buf[512], host[256] = "unknown", *text = NULL;
	size_t size = 0;
	struct utsname u;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return NULL;
	gethostname(host, sizeof(host) - 1);
	fprintf(f, "{\n");
	put_json_string(f, "host", host, false);
	kb_env_cpu_model(buf, sizeof(buf));
	put_json_string(f, "cpu_model", buf, false);
	kb_topo_summary(topo, buf, sizeof(buf));
	put_json_string(f, "topology", buf, false);
	fprintf(f, "  \"pus\": %d,\n  \"possible_cpus\": %d,\n", kb_topo_npus(topo), kb_possible_cpus());
	if (uname(&u) == 0) {
		snprintf(buf, sizeof(buf), "%s %s %s", u.sysname, u.release, u.machine);
		put_json_string(f, "kernel", buf, false);
	}
	put_json_string(f, "compiler", "gcc " __VERSION__, false);
	put_json_string(f, "cflags", KREFBENCH_CFLAGS, false);
	put_json_string(f, "glibc", gnu_get_libc_version(), false);
	git_commit(buf, sizeof(buf));
	put_json_string(f, "git_commit", buf, false);
	sysfs_or("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "not readable", buf, sizeof(buf));
	put_json_string(f, "governor", buf, false);
	sysfs_or("/sys/devices/system/cpu/cpufreq/boost", "", buf, sizeof(buf));
	if (!buf[0])
		sysfs_or("/sys/devices/system/cpu/intel_pstate/no_turbo", "not readable", buf, sizeof(buf));
	put_json_string(f, "boost_or_no_turbo", buf, false);
	sysfs_or("/sys/devices/system/cpu/smt/control", "not readable", buf, sizeof(buf));
	put_json_string(f, "smt", buf, false);
	put_json_string(f, "rseq", kb_rseq_available() ? "registered by glibc" : "not registered", false);
	put_json_string(f, "percpu_fast_path", kb_percpu_fast_path(), false);
	snprintf(buf, sizeof(buf), "hwloc %u.%u.%u, liburcu %s, Google Benchmark %s (Debian libbenchmark)",
		 hwloc_get_api_version() >> 16, (hwloc_get_api_version() >> 8) & 0xff,
		 hwloc_get_api_version() & 0xff, KREFBENCH_URCU_VERSION, KREFBENCH_GBENCH_VERSION);
	put_json_string(f, "tools", buf, false);
	put_json_string(f, "gbench_library_build", x->gbench_build ? x->gbench_build : "unknown", false);
	put_backend_sizes(f);
	fprintf(f, "  \"perf_events\": %s,\n", x->perf_events ? x->perf_events : "null");
	fprintf(f, "  \"measurement\": %s,\n", x->measurement ? x->measurement : "null");
	put_json_string(f, "placement", x->placement, false);
	fprintf(f, "  \"rows\": %d,\n", x->rows);
	put_json_string(f, "status", x->status, false);
	put_json_string(f, "command_line", x->command_line, true);
	fprintf(f, "}\n");
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

int kb_env_write(const char *path, const struct kb_topo *topo, const struct kb_env_extra *x)
{
	char tmp[4096];
	char *text = kb_env_render(topo, x);
	int fd, saved;
	size_t left;
	const char *p;

	if (!text) {
		errno = ENOMEM;
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	(void)unlink(tmp);	/* a temporary a killed run left; a symlink is removed, not followed */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		saved = errno;
		free(text);
		errno = saved;
		return -1;
	}
	for (p = text, left = strlen(text); left;) {
		ssize_t n = write(fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			saved = n < 0 ? errno : ENOSPC;
			close(fd);
			unlink(tmp);
			free(text);
			errno = saved;
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	free(text);
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

const char *kb_env_cflags(void)
{
	return KREFBENCH_CFLAGS;
}

void kb_env_opt_level(char *buf, size_t len)
{
	const char *flags = KREFBENCH_CFLAGS, *found = NULL;

	for (const char *p = flags; (p = strstr(p, "-O")); p += 2)
		if (p == flags || p[-1] == ' ')
			found = p;
	if (!found) {
		snprintf(buf, len, "no -O flag");
		return;
	}
	snprintf(buf, len, "%.*s", (int)strcspn(found, " "), found);
}
