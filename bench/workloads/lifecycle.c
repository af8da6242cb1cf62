#include "lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lib/rcu.h"

bool kb_needs_counting(const struct kb_backend *b, int threads, int variant)
{
	(void)threads;
	(void)variant;
	return b->flags & KB_COUNTS;
}

const char *kb_release_via(const struct kb_backend *b)
{
	static char text[256];

	if (b->flags & KB_DEFERRED_RELEASE)
		snprintf(text, sizeof(text), "kill; release after an RCU grace period (liburcu memb via call_rcu, "
			 "whose thread sleeps 10 ms after each batch; grace periods by %s)",
			 urcu_memb_has_sys_membarrier ? "sys_membarrier" : "full fences (no membarrier)");
	else if (b->flags & KB_EPOCH_RELEASE)
		snprintf(text, sizeof(text), "at an epoch (every thread's 65536th op, or sync when 64 are pending)");
	else if (b->flags & KB_OWNER_RELEASE)
		snprintf(text, sizeof(text), "at once by the owner (others' last put: by the owner or sync)");
	else if (b->flags & KB_KILL_RELEASES)
		snprintf(text, sizeof(text), "kill; release at once");
	else
		snprintf(text, sizeof(text), "at once in the last put");
	return text;
}
