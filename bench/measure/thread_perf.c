#include "thread_perf.h"

#include <stdio.h>
#include <stdlib.h>

#include "gbench.h"

const struct kb_perf_probe *kb_perf_config;

void kb_thread_perf_open(struct kb_thread *me)
{
	struct kb_perf *pc;

	me->perf = NULL;
	if (!kb_perf_config || !kb_perf_config->enabled || !(pc = malloc(sizeof(*pc))))
		return;
	if (kb_perf_open(pc, kb_perf_config) == 0) {
		free(pc);
		return;
	}
	me->perf = pc;
}

/* Stop (if a post-loop barrier has not already), read, publish, close. */
void kb_thread_perf_finish(struct gb_state *st, struct kb_thread *me)
{
	double value[KB_PERF_NEVENTS];
	bool valid[KB_PERF_NEVENTS];
	char name[64];

	if (!me->perf)
		return;
	if (me->window_closed) {	/* the window opened and closed the counters */
		kb_perf_read(me->perf, value, valid);
		for (int e = 0; e < KB_PERF_NEVENTS; e++) {
			if (!valid[e])
				continue;
			snprintf(name, sizeof(name), KB_PERF_COUNTER_PREFIX "%s", kb_perf_event_names[e]);
			gb_counter_set(st, name, value[e]);
			snprintf(name, sizeof(name), KB_PERF_COUNTER_PREFIX "%s.threads", kb_perf_event_names[e]);
			gb_counter_set(st, name, 1);
		}
	}
	kb_thread_perf_discard(me);
}

void kb_thread_perf_discard(struct kb_thread *me)
{
	if (!me->perf)
		return;
	kb_perf_close(me->perf);
	free(me->perf);
	me->perf = NULL;
}
