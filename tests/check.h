/*
 * A tiny test vocabulary: CHECK prints every assertion it makes and counts
 * failures; check_summary() prints "N passed, N failed" and gives the exit
 * status. Checks are never skipped silently.
 */
#ifndef KREFBENCH_TESTS_CHECK_H
#define KREFBENCH_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned int check_passed, check_failed;

#define CHECK(cond, ...)							\
	do {									\
		if (cond) {							\
			check_passed++;						\
		} else {							\
			check_failed++;						\
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);	\
			printf(__VA_ARGS__);					\
			printf("\n");						\
		}								\
	} while (0)

#define CHECK_EQ(a, b, what)							\
	do {									\
		long long _a = (long long)(a), _b = (long long)(b);		\
		CHECK(_a == _b, "%s: got %lld, want %lld", what, _a, _b);	\
	} while (0)

/* Runs fn with stderr sent to a file; returns how many lines mention `what`
 * (how tests count warnings printed once, or every time), or -1. */
static inline int check_stderr_lines(void (*fn)(void), const char *what)
{
	char path[] = "/tmp/kb_check_stderr_XXXXXX", line[512];
	int fd = mkstemp(path), saved = dup(2), n = 0;
	FILE *f;

	if (fd < 0 || saved < 0)
		return -1;
	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fdopen(fd, "r");
	rewind(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	unlink(path);
	return n;
}

static inline int check_summary(void)
{
	printf("%u passed, %u failed\n", check_passed, check_failed);
	fflush(stdout);
	return check_failed ? 1 : 0;
}

#endif
