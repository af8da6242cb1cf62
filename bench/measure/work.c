#include "work.h"

#include <math.h>

#include "clock.h"

uint64_t kb_work_calibrate(uint64_t ns)
{
	const uint64_t probe = 1u << 22;
	uint64_t best = UINT64_MAX;

	if (!ns)
		return 0;
	for (int round = 0; round < 5; round++) {	/* best of 5: least disturbed */
		uint64_t t0 = kb_now_ns();

		kb_work(probe);
		uint64_t dt = kb_now_ns() - t0;
		if (dt < best)
			best = dt;
	}
	return (uint64_t)llround((double)ns * (double)probe / (double)(best ? best : 1));
}
