#include "results.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct kb_results {
	int fd;
	int rows;
};

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

struct kb_results *kb_results_open(const char *path, char *err, size_t errlen)
{
	struct kb_results *r = calloc(1, sizeof(*r));
	static const char header[] = KB_CSV_HEADER "\n";

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (r->fd < 0) {
		snprintf(err, errlen, "cannot create results file %s: %s%s", path, strerror(errno),
			 errno == EEXIST ? " (a run never overwrites an earlier result)" : "");
		free(r);
		return NULL;
	}
	if (write_all(r->fd, header, sizeof(header) - 1)) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		close(r->fd);
		free(r);
		return NULL;
	}
	return r;
}

/* A figure, or empty when unknown. */
static void format_optional(char *buf, size_t len, double v)
{
	if (v < 0)
		buf[0] = 0;
	else
		snprintf(buf, len, "%.4f", v);
}

/* The perf columns: ",v" each, empty when unknown; %g keeps tiny rates (switches per op). */
static int format_perf(char *buf, size_t len, const double *v)
{
	size_t used = 0;

	for (int i = 0; i < KB_PERF_COLUMNS && used < len; i++)
		used += (size_t)(v[i] < 0 ? snprintf(buf + used, len - used, ",")
					  : snprintf(buf + used, len - used, ",%.6g", v[i]));
	return used < len ? 0 : -1;
}

int kb_results_append(struct kb_results *r, const struct kb_row *row)
{
	char line[2048], norm[32], fairness[32], perf[KB_PERF_COLUMNS * 24];
	int n;

	format_optional(norm, sizeof(norm), row->norm);
	format_optional(fairness, sizeof(fairness), row->fairness);
	if (format_perf(perf, sizeof(perf), row->perf_per_op))
		return -1;
	n = snprintf(line, sizeof(line), "%s,%s,%d,%s,%d,%llu,%d,%llu,%.3f,%.0f,%s,%s,\"%s\",\"%s\",%s,%g%s\n",
		     row->backend, row->workload, row->threads, row->placement, row->objects,
		     (unsigned long long)row->work_ns, row->rep, (unsigned long long)row->iterations,
		     row->ns_per_op, row->ops_per_s, norm, fairness, row->cpus, row->check,
		     row->variant ? row->variant : "", row->writer_rate, perf);
	if (n < 0 || (size_t)n >= sizeof(line) || write_all(r->fd, line, (size_t)n))
		return -1;
	r->rows++;
	return 0;
}

int kb_results_rows(const struct kb_results *r) { return r->rows; }
int kb_results_fd(const struct kb_results *r) { return r->fd; }

void kb_results_close(struct kb_results *r)
{
	if (!r)
		return;
	close(r->fd);
	free(r);
}
