/* private: each thread gets and puts its own object — no sharing, the best case. */
#include "loop.h"

#define PRIVATE(B) KB_DEFINE_RELEASE(B) static KB_DEFINE_GETPUT_BODY(private, B, gb_thread_index(st))
KB_FOR_EACH_BACKEND(PRIVATE)

#define BODY(B) [KB_BACKEND_INDEX_##B] = private_##B,
const struct kb_workload kb_workload_private = {
	.name = "private",
	.about = "each thread gets/puts its own object",
	.op = "get+put",
	.objects = kb_object_per_thread,
	.body = { KB_FOR_EACH_BACKEND(BODY) },
	.unshared = true,
};
