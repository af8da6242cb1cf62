#include "lifecycle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lib/rcu.h"

int kb_churn_uses[KB_MAX_USES] = { 1, 16, 256, 4096 };
int kb_churn_nuses = 4;
static bool uses_given;

void kb_churn_quick_uses(void)
{
	if (uses_given)
		return;
	kb_churn_uses[0] = 1;
	kb_churn_uses[1] = 256;
	kb_churn_nuses = 2;
}

int kb_churn_parse_uses(char *list, char *err, size_t errlen)
{
	int n = 0;

	for (char *p = list;; p++) {
		char *comma = strchr(p, ','), *end;
		long v;

		if (comma)
			*comma = 0;
		errno = 0;
		v = strtol(p, &end, 10);
		if (!*p || errno || *end || v < 1 || v > 1000000) {
			snprintf(err, errlen, "bad value '%s' in --uses (whole numbers 1 to 1000000, comma-separated)", p);
			return -1;
		}
		if (n == KB_MAX_USES) {
			snprintf(err, errlen, "--uses lists more than %d items", KB_MAX_USES);
			return -1;
		}
		for (int i = 0; i < n; i++)
			if (kb_churn_uses[i] == v) {
				snprintf(err, errlen, "--uses gives %ld twice", v);
				return -1;
			}
		kb_churn_uses[n++] = (int)v;
		if (!comma)
			break;
		p = comma;
	}
	kb_churn_nuses = n;
	uses_given = true;
	return 0;
}

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
