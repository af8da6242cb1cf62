#include "workload.h"

int kb_backend_index(const struct kb_backend *b)
{
	for (unsigned int i = 0; i < kb_nbackends; i++)
		if (kb_backends[i] == b)
			return (int)i;
	return -1;
}

int kb_one_object(int threads, int objects_knob)
{
	(void)threads;
	(void)objects_knob;
	return 1;
}

int kb_object_per_thread(int threads, int objects_knob)
{
	(void)objects_knob;
	return threads;
}

int kb_no_objects(int threads, int objects_knob)
{
	(void)threads;
	(void)objects_knob;
	return 0;
}

int kb_lookup_keys(int threads, int objects_knob)
{
	(void)threads;
	return objects_knob > 0 ? objects_knob : 1024;
}
