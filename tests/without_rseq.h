/*
 * Re-run this test binary in a child where glibc does not register rseq
 * (GLIBC_TUNABLES=glibc.pthread.rseq=0, replacing any tunables inherited),
 * so that the fallback path is checked on a machine that has rseq.
 */
#ifndef KREFBENCH_TESTS_WITHOUT_RSEQ_H
#define KREFBENCH_TESTS_WITHOUT_RSEQ_H

#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

/* The child's wait status, or -1 when it could not be started. */
static inline int run_self_without_rseq(char *const argv[])
{
	size_t n = 0, j = 0;
	char **env;
	pid_t pid;
	int status = -1, err;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "GLIBC_TUNABLES=", 15) != 0)
			env[j++] = environ[i];
	env[j] = "GLIBC_TUNABLES=glibc.pthread.rseq=0";
	fflush(stdout);
	err = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, env);
	free(env);
	if (err || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

#endif
