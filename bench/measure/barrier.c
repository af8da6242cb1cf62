#include "barrier.h"

void kb_barrier_init(struct kb_barrier *b, int participants)
{
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	b->participants = participants;
	b->arrived = 0;
	b->phase = 0;
}

void kb_barrier_destroy(struct kb_barrier *b)
{
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
}

static void open_phase_if_complete(struct kb_barrier *b)	/* lock held */
{
	if (b->arrived >= b->participants) {
		b->arrived = 0;
		b->phase++;
		pthread_cond_broadcast(&b->cond);
	}
}

void kb_barrier_wait(struct kb_barrier *b)
{
	pthread_mutex_lock(&b->lock);
	unsigned long phase = b->phase;

	b->arrived++;
	open_phase_if_complete(b);
	while (b->phase == phase)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_mutex_unlock(&b->lock);
}

void kb_barrier_leave(struct kb_barrier *b)
{
	pthread_mutex_lock(&b->lock);
	b->participants--;
	open_phase_if_complete(b);
	pthread_mutex_unlock(&b->lock);
}
