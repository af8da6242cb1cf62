/* hammer: every thread gets and puts one shared object — the worst case. */
#include "harness.h"

static int hammer_objects(int threads, int knob)
{
	(void)threads;
	(void)knob;
	return 1;
}

#define HAMMER(B) KB_DEFINE_RELEASE(B) KB_DEFINE_GETPUT_BODY(hammer, B, 0)
KB_FOR_EACH_BACKEND(HAMMER)

#define BODY(B) [KB_BACKEND_INDEX_##B] = hammer_##B,
const struct kb_workload kb_workload_hammer = {
	.name = "hammer",
	.about = "all threads get/put one shared object",
	.objects = hammer_objects,
	.body = { KB_FOR_EACH_BACKEND(BODY) },
};
