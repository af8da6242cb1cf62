#include "interrupt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "environment.h"
#include "output.h"

static const char *interrupt_note = "krefbench: interrupted; the results file keeps every finished row\n";
static char *interrupted_sidecar;
static char sidecar_path[4096], sidecar_tmp[4100], gbench_tmp[4100];

static void write_all(int fd, const char *p, size_t left)
{
	while (left) {
		ssize_t n = write(fd, p, left);

		if (n <= 0)
			return;
		p += n;
		left -= (size_t)n;
	}
}

static void on_signal(int sig)
{
	int fd;
	pid_t c = kb_sweep_child;

	if (kb_sweep_in_child)
		_exit(128 + sig);
	if (c > 0) {
		kill(c, sig);
		while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
			;
	}
	write_all(STDERR_FILENO, interrupt_note, strlen(interrupt_note));
	(void)unlink(gbench_tmp);	/* a half-written rewrite; the last complete one stays */
	if (interrupted_sidecar) {
		(void)unlink(sidecar_tmp);
		fd = open(sidecar_tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0) {
			write_all(fd, interrupted_sidecar, strlen(interrupted_sidecar));
			close(fd);
			rename(sidecar_tmp, sidecar_path);
		}
	}
	_exit(128 + sig);
}

void kb_interrupt_install(struct kb_sweep *sw)
{
	struct sigaction sa = { 0 };
	struct kb_env_extra x = {
		.command_line = sw->command_line, .placement = sw->opt.placement_text,
		.status = "interrupted (rows: see the CSV)",
		.perf_events = sw->perf_json, .measurement = kb_output_measurement_json(sw),
	};

	snprintf(sidecar_path, sizeof(sidecar_path), "%s", sw->json_path);
	snprintf(sidecar_tmp, sizeof(sidecar_tmp), "%s.tmp", sw->json_path);
	snprintf(gbench_tmp, sizeof(gbench_tmp), "%s.tmp", sw->gbench_path);
	interrupted_sidecar = kb_env_render(sw->topo, &x);

	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}
