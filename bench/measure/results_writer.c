#include "results_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct kb_results {
	int fd;
	int rows;
	off_t size;	/* bytes of complete rows: a failed append is cut back to it */
};

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = ENOSPC;
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
	r->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (r->fd < 0) {
		snprintf(err, errlen, "cannot create results file %s: %s%s", path, strerror(errno),
			 errno == EEXIST ? " (a run never overwrites an earlier result)" : "");
		free(r);
		return NULL;
	}
	if (write_all(r->fd, header, sizeof(header) - 1)) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		close(r->fd);
		unlink(path);
		free(r);
		return NULL;
	}
	r->size = (off_t)(sizeof(header) - 1);
	return r;
}

/* A line being built: fields appended, comma-separated; overflow remembered. */
struct line {
	char buf[4096];
	size_t used;
	bool overflow;
};

static void raw(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->used, sizeof(l->buf) - l->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(l->buf) - l->used)
		l->overflow = true;
	else
		l->used += (size_t)n;
}

static void sep(struct line *l) { if (l->used) raw(l, ","); }

/* Text, quoted when it holds a comma, a quote or a line break (quotes doubled). */
static void text(struct line *l, const char *s)
{
	sep(l);
	if (!s)
		s = "";
	if (!strpbrk(s, ",\"\r\n")) {
		raw(l, "%s", s);
		return;
	}
	raw(l, "\"");
	for (const char *p = s; *p; p++)
		raw(l, *p == '"' ? "\"\"" : "%c", *p);
	raw(l, "\"");
}

static void num(struct line *l, const char *fmt, double v)
{
	sep(l);
	raw(l, fmt, v);
}

/* A figure, or empty when unknown (< 0). */
static void optional(struct line *l, const char *fmt, double v)
{
	sep(l);
	if (v >= 0)
		raw(l, fmt, v);
}

static void integer(struct line *l, unsigned long long v)
{
	sep(l);
	raw(l, "%llu", v);
}

int kb_results_append(struct kb_results *r, const struct kb_row *row)
{
	struct line l = { .used = 0 };

	text(&l, row->backend);
	text(&l, row->workload);
	integer(&l, (unsigned long long)row->threads);
	text(&l, row->placement);
	integer(&l, (unsigned long long)row->objects);
	integer(&l, row->work_ns);
	integer(&l, (unsigned long long)row->rep);
	integer(&l, row->iterations);
	num(&l, "%.3f", row->ns_per_op);
	num(&l, "%.0f", row->ops_per_s);
	optional(&l, "%.4f", row->norm);
	optional(&l, "%.4f", row->fairness);
	text(&l, row->cpus);
	text(&l, row->check);
	text(&l, row->variant);
	num(&l, "%g", row->writer_rate);
	integer(&l, (unsigned long long)row->attempt);
	text(&l, row->disturbed);
	integer(&l, row->window_ns);
	integer(&l, row->ops);
	integer(&l, row->start_skew_ns);
	integer(&l, row->stop_skew_ns);
	num(&l, "%.4f", row->task_clock_ratio);
	integer(&l, (unsigned long long)row->invol_switches);
	integer(&l, (unsigned long long)row->migrations);
	optional(&l, "%.3f", row->steal_pct);
	num(&l, "%.0f", row->canary_ns);
	optional(&l, "%.4f", row->canary_ratio);
	text(&l, row->fast_path);
	optional(&l, "%.3f", row->rseq_restarts_per_mop);
	optional(&l, "%.0f", row->uses > 0 ? row->uses : -1);
	optional(&l, "%.0f", row->lat_p50_ns);
	optional(&l, "%.0f", row->lat_p99_ns);
	optional(&l, "%.0f", row->lat_p999_ns);
	optional(&l, "%.0f", row->lat_max_ns);
	optional(&l, "%.0f", row->lat_samples);
	optional(&l, "%.0f", row->mem_bytes);
	optional(&l, "%.0f", row->mem_bytes_64);
	optional(&l, "%.0f", row->mem_bytes_256);
	text(&l, row->release_via);
	if (row->lookups) {
		integer(&l, row->lookup_hits);
		integer(&l, row->lookup_misses);
		integer(&l, row->lookup_misses > row->lookup_hits);
	} else {
		text(&l, "");
		text(&l, "");
		text(&l, "");
	}
	optional(&l, "%.6g", row->voluntary_switches_per_op);
	optional(&l, "%.4f", row->cpu_busy);
	optional(&l, "%.3f", row->outside_pct);
	integer(&l, (unsigned long long)row->process);
	/* perf: %g keeps tiny rates (switches per op) */
	for (int i = 0; i < KB_PERF_COLUMNS; i++)
		optional(&l, "%.6g", row->perf_per_op[i]);
	raw(&l, "\n");
	if (l.overflow) {
		errno = EOVERFLOW;
		return -1;
	}
	if (write_all(r->fd, l.buf, l.used)) {
		int saved = errno;

		/* A short write leaves part of a row: cut the file back to the
		 * last complete one, so every row in it is whole. */
		if (ftruncate(r->fd, r->size) == 0)
			(void)lseek(r->fd, r->size, SEEK_SET);
		errno = saved;
		return -1;
	}
	r->size += (off_t)l.used;
	r->rows++;
	return 0;
}

int kb_results_rows(const struct kb_results *r) { return r->rows; }
int kb_results_fd(const struct kb_results *r) { return r->fd; }

void kb_results_sync(struct kb_results *r, int rows)
{
	off_t end = lseek(r->fd, 0, SEEK_CUR);

	if (end >= 0)
		r->size = end;
	r->rows = rows;
}

void kb_results_close(struct kb_results *r)
{
	if (!r)
		return;
	close(r->fd);
	free(r);
}
