/* hammer: every thread gets and puts one shared object — the worst case. */
#include "harness.h"

/* Not static: readside's refcount rows run these same bodies. */
#define HAMMER(B) KB_DEFINE_RELEASE(B) KB_DEFINE_GETPUT_BODY(kb_hammer, B, 0)
KB_FOR_EACH_BACKEND(HAMMER)

#define BODY(B) [KB_BACKEND_INDEX_##B] = kb_hammer_##B,
const struct kb_workload kb_workload_hammer = {
	.name = "hammer",
	.about = "all threads get/put one shared object",
	.objects = kb_one_object,
	.body = { KB_FOR_EACH_BACKEND(BODY) },
};
