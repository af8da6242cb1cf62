/*
 * What each misuse does, on every backend (core/backends.list, through the
 * runtime table): runs each case and prints the Markdown table that
 * README.md's "What misuse does" holds; given README.md, fails when the
 * README's table is not exactly what the cases did (so it cannot drift).
 *
 *   test_misuse               print the table
 *   test_misuse README.md     print it and compare with the README's
 *
 * Every case runs in a child process (forked from this process while it is
 * still single-threaded), on memory that is never freed or reused, with a
 * release callback that only counts: a case that releases twice, spins
 * forever (an alarm ends it) or aborts changes only its own cell. A case
 * whose operation is undefined behaviour in C is not run; its cell says so.
 * What a cell says comes from what the case observed: releases during the
 * misuse, warnings counted by the backend (refcount, rcuref, fileref,
 * percpu: each counts its kinds, as the kernel's WARN_ONCE prints them),
 * get_unless_zero's result, and read() afterwards.
 */
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "core/backends.h"
#include "core/backends/brc.h"
#include "core/backends/fileref.h"
#include "core/backends/percpu.h"
#include "core/backends/rcuref.h"
#include "core/backends/refcount.h"
#include "core/backends/urcu_ref.h"

enum misuse { DOUBLE_PUT, PUT_AFTER_KILL, KILL_TWICE, GET_AFTER_RELEASE, GUZ_RELEASED, OVERFLOW, NMISUSES };
static const char *const misuse_names[NMISUSES] = {
	"double put", "put after kill", "kill twice", "get after release",
	"get_unless_zero after release", "overflow",
};

/* What one case observed (written by the child down a pipe). */
struct observed {
	int releases;		/* during the misuse step */
	int got;		/* get_unless_zero's result, or -1 */
	long count;		/* read() after */
	char warned[96];	/* the warning kinds counted during the misuse, or "" */
};

static int releases;
static void count_release(void *h) { (void)h; releases++; }

/* ---- the warnings the backends count ---- */

#define NWARN (REFCOUNT_NR_WARNINGS + RCUREF_NR_WARNINGS + FILE_REF_NR_WARNINGS + KB_PERCPU_NR_WARNINGS)
static const char *const fileref_warning_names[FILE_REF_NR_WARNINGS] = { "INC_RELEASED", "IMBALANCED_PUT" };

static void warnings_now(unsigned long n[NWARN])
{
	int i = 0;

	for (int t = 0; t < REFCOUNT_NR_WARNINGS; t++)
		n[i++] = refcount_warnings((enum refcount_saturation_type)t);
	for (int t = 0; t < RCUREF_NR_WARNINGS; t++)
		n[i++] = rcuref_warnings((enum rcuref_warning)t);
	for (int t = 0; t < FILE_REF_NR_WARNINGS; t++)
		n[i++] = file_ref_warnings((enum file_ref_warning)t);
	for (int t = 0; t < KB_PERCPU_NR_WARNINGS; t++)
		n[i++] = kb_percpu_warnings((enum kb_percpu_warning)t);
}

static const char *warning_name(int i)
{
	if (i < REFCOUNT_NR_WARNINGS)
		return refcount_warning_name((enum refcount_saturation_type)i);
	i -= REFCOUNT_NR_WARNINGS;
	if (i < RCUREF_NR_WARNINGS)
		return rcuref_warning_name((enum rcuref_warning)i);
	i -= RCUREF_NR_WARNINGS;
	if (i < FILE_REF_NR_WARNINGS)
		return fileref_warning_names[i];
	return kb_percpu_warning_name((enum kb_percpu_warning)(i - FILE_REF_NR_WARNINGS));
}

/* ---- the cases ---- */

/* A handle the size of any backend's, never freed. */
static unsigned char handle[1024] __attribute__((aligned(64)));

static bool kill_drops_last(const struct kb_backend *b)
{
	return b->flags & (KB_DEFERRED_RELEASE | KB_KILL_RELEASES);
}

/* The last reference goes, as kref's user drops it: kill where the backend
 * needs it (percpu, sloppy), put elsewhere; then the deferred releases. */
static void drop_last(const struct kb_backend *b, void *h)
{
	if (kill_drops_last(b))
		(void)b->kill(h);
	else
		(void)b->put(h);
	b->sync();
}

/*
 * Overflow: the count set one short of where the backend's type ends, then
 * one get. Only where a get there is defined C; else why not (returned).
 */
static const char *near_max(const struct kb_backend *b, void *h)
{
	const char *n = b->name;

	if (!strcmp(n, "atomic")) {	/* atomic_int: C11 atomic arithmetic wraps */
		atomic_store((atomic_int *)h, INT_MAX);
		return NULL;
	}
	if (!strcmp(n, "refcount")) {
		refcount_set(h, REFCOUNT_MAX);
		return NULL;
	}
	if (!strcmp(n, "rcuref")) {
		atomic_store(&((rcuref_t *)h)->refcnt, RCUREF_MAXREF);
		return NULL;
	}
	if (!strcmp(n, "fileref")) {
		atomic_store(&((file_ref_t *)h)->refcnt, (long)FILE_REF_MAXREF);
		return NULL;
	}
	if (!strcmp(n, "urcu_ref")) {	/* liburcu's own check: urcu_ref_get aborts at LONG_MAX */
		((struct urcu_ref *)h)->refcount = LONG_MAX;
		return NULL;
	}
	if (!strcmp(n, "brc")) {	/* the owner's local count: immortal at UINT_MAX, as CPython's */
		kb_brc_set_local(h, UINT_MAX - 1);
		return NULL;
	}
	if (!strcmp(n, "null"))
		return NULL;
	if (!strcmp(n, "mutex"))
		return "undefined: not run (refs is an int: ++ past INT_MAX is UB)";
	if (!strcmp(n, "snzi"))
		return "undefined: not run (a leaf's c + 1 is long arithmetic: UB past LONG_MAX)";
	return "not run: a 64-bit count (2^63 gets)";
}

static const char *run_case(const struct kb_backend *b, enum misuse m, struct observed *o)
{
	void *h = handle;
	unsigned long w0[NWARN], w1[NWARN];
	const char *skip = NULL;
	int before;

	o->got = -1;
	if (b->init(h, count_release) != 0)
		return "init failed";
	switch (m) {	/* the legitimate part */
	case DOUBLE_PUT:
	case KILL_TWICE:
		b->get(h);	/* a second reference, held throughout */
		break;
	case PUT_AFTER_KILL:
		(void)b->kill(h);
		b->sync();
		break;
	case GET_AFTER_RELEASE:
	case GUZ_RELEASED:
		drop_last(b, h);
		break;
	case OVERFLOW:
		skip = near_max(b, h);
		if (skip)
			return skip;
		break;
	case NMISUSES:
		break;
	}
	warnings_now(w0);
	before = releases;
	switch (m) {	/* the misuse */
	case DOUBLE_PUT:	/* the held reference's holder puts twice */
		(void)b->put(h);
		(void)b->put(h);
		break;
	case KILL_TWICE:
		(void)b->kill(h);
		b->sync();
		(void)b->kill(h);
		break;
	case PUT_AFTER_KILL:
		(void)b->put(h);	/* the reference kill dropped */
		break;
	case GET_AFTER_RELEASE:
	case OVERFLOW:
		b->get(h);
		break;
	case GUZ_RELEASED:
		o->got = b->get_unless_zero(h);
		break;
	case NMISUSES:
		break;
	}
	b->sync();
	o->releases = releases - before;
	o->count = b->read(h);
	warnings_now(w1);
	o->warned[0] = 0;
	for (int i = 0; i < NWARN; i++)
		if (w1[i] != w0[i])
			snprintf(o->warned + strlen(o->warned), sizeof(o->warned) - strlen(o->warned),
				 "%s%s", o->warned[0] ? ", " : "", warning_name(i));
	return NULL;
}

/* ---- a cell: the case in a child, its observation as text ---- */

static void describe(const struct kb_backend *b, enum misuse m, const struct observed *o,
		     char *cell, size_t len)
{
	long count = o->count;
	size_t n = 0;

	/* 32-bit counts that read() returns unsigned: as the signed value
	 * (not brc's: its local count is unsigned, immortal at UINT_MAX) */
	if (count > INT_MAX && count <= (long)UINT_MAX && strcmp(b->name, "brc"))
		count = (long)(int)(unsigned int)count;
	if (m == GUZ_RELEASED)
		n += (size_t)snprintf(cell + n, len - n, "%s; ", o->got ? "succeeds" : "fails");
	if (m == DOUBLE_PUT || m == KILL_TWICE)
		n += (size_t)snprintf(cell + n, len - n, "%s; ",
				      o->releases ? "releases while a reference is held" : "no release");
	else if (m == PUT_AFTER_KILL || m == GUZ_RELEASED || m == GET_AFTER_RELEASE)
		n += (size_t)snprintf(cell + n, len - n, "%s", o->releases ? "releases again; " : "");
	else if (o->releases)
		n += (size_t)snprintf(cell + n, len - n, "releases; ");
	n += (size_t)snprintf(cell + n, len - n, "%s%s%s; count %ld", o->warned[0] ? "warns " : "silent",
			      o->warned, "", count);
}

static void cell_for(const struct kb_backend *b, enum misuse m, char *cell, size_t len)
{
	struct observed o;
	int fds[2], status;
	pid_t pid;
	ssize_t got;

	memset(&o, 0, sizeof(o));
	fflush(stdout);
	if (pipe(fds) != 0 || (pid = fork()) < 0) {
		snprintf(cell, len, "test error: fork");
		return;
	}
	if (pid == 0) {
		const char *skip;
		char text[160] = "";

		close(fds[0]);
		alarm(5);	/* a case that spins forever ends here (SIGALRM) */
		skip = run_case(b, m, &o);
		if (skip)
			snprintf(text, sizeof(text), "%s", skip);
		if (write(fds[1], &o, sizeof(o)) != (ssize_t)sizeof(o) ||
		    write(fds[1], text, sizeof(text)) != (ssize_t)sizeof(text))
			_exit(3);
		_exit(0);
	}
	close(fds[1]);
	got = read(fds[0], &o, sizeof(o));
	if (got == (ssize_t)sizeof(o)) {
		char text[160];

		if (read(fds[0], text, sizeof(text)) == (ssize_t)sizeof(text) && text[0]) {
			snprintf(cell, len, "%s", text);
			got = -2;
		}
	}
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid) {
		snprintf(cell, len, "test error: waitpid");
		return;
	}
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);

		snprintf(cell, len, "%s", sig == SIGALRM ? "never returns (spins: no reference to find)" :
			 sig == SIGABRT ? "abort()" : strsignal(sig));
		return;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(cell, len, "test error: the case exited %d", WEXITSTATUS(status));
		return;
	}
	if (got == -2)
		return;
	if (got != (ssize_t)sizeof(o)) {
		snprintf(cell, len, "test error: no observation");
		return;
	}
	describe(b, m, &o, cell, len);
}

/* ---- the table ---- */

static char table[64 * 1024];

static void add(const char *fmt, const char *s)
{
	size_t n = strlen(table);

	snprintf(table + n, sizeof(table) - n, fmt, s);
}

static void make_table(void)
{
	add("%s", "| backend |");
	for (int m = 0; m < NMISUSES; m++) {
		add(" %s |", misuse_names[m]);
	}
	add("%s", "\n|---|");
	for (int m = 0; m < NMISUSES; m++)
		add("%s", "---|");
	add("%s", "\n");
	for (unsigned int i = 0; i < kb_nbackends; i++) {
		const struct kb_backend *b = kb_backends[i];

		CHECK(b->handle_size <= sizeof(handle), "%s: handle fits (%zu bytes)", b->name, b->handle_size);
		add("| `%s` |", b->name);
		for (int m = 0; m < NMISUSES; m++) {
			char cell[200];

			cell_for(b, (enum misuse)m, cell, sizeof(cell));
			CHECK(strncmp(cell, "test error", 10) != 0, "%s, %s: %s", b->name, misuse_names[m], cell);
			add(" %s |", cell);
		}
		add("%s", "\n");
	}
}

#define BEGIN_MARK "<!-- misuse table: generated by tests/test_misuse.c, checked by ctest; do not edit -->\n"
#define END_MARK "<!-- end of misuse table -->"

/* The README's table (between the marks) is the one just made. */
static void compare_readme(const char *path)
{
	static char text[512 * 1024];
	FILE *f = fopen(path, "r");
	size_t n;
	char *begin, *end;

	CHECK(f != NULL, "open %s", path);
	if (!f)
		return;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	begin = strstr(text, BEGIN_MARK);
	end = begin ? strstr(begin, END_MARK) : NULL;
	CHECK(begin && end, "%s has the misuse table's marks", path);
	if (!begin || !end)
		return;
	begin += strlen(BEGIN_MARK);
	CHECK((size_t)(end - begin) == strlen(table) && !strncmp(begin, table, strlen(table)),
	      "%s's misuse table is what the cases do (regenerate: test_misuse > table, paste between the marks)",
	      path);
}

int main(int argc, char **argv)
{
	make_table();
	printf("%s", table);
	if (argc > 1)
		compare_readme(argv[1]);
	return check_summary();
}
