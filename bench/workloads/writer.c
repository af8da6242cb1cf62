#include "writer.h"

#include <errno.h>
#include <time.h>

#include "measure/clock.h"
#include "rng.h"

static void sleep_until(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void *writer_main(void *arg)
{
	struct kb_writer *w = arg;
	uint64_t period = (uint64_t)(1e9 / w->rate), next = kb_now_ns(), rng = 0x2545f4914f6cdd1dull;

	if (w->begin)
		w->begin(w->ctx);
	while (!atomic_load_explicit(&w->stop, memory_order_acquire)) {
		next += period;
		if (next < kb_now_ns())		/* fell behind: no bursts */
			next = kb_now_ns();
		sleep_until(next);
		w->tick(w->ctx, kb_rand(&rng) >> 16);
		atomic_fetch_add_explicit(&w->ticks, 1, memory_order_relaxed);
	}
	if (w->end)
		w->end(w->ctx);
	return NULL;
}

int kb_writer_start(struct kb_writer *w)
{
	atomic_init(&w->stop, false);
	atomic_init(&w->ticks, 0);
	w->running = false;
	if (w->rate <= 0)
		return 0;
	if (pthread_create(&w->thread, NULL, writer_main, w))
		return -1;
	w->running = true;
	return 0;
}

void kb_writer_stop(struct kb_writer *w)
{
	if (!w->running)
		return;
	atomic_store_explicit(&w->stop, true, memory_order_release);
	pthread_join(w->thread, NULL);
	w->running = false;
}
