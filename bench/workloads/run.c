#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lib/rcu.h"
#include "gbench.h"
#include "measure/checks.h"
#include "measure/thread_perf.h"

void kb_obj_released(void *ref)
{
	struct kb_obj *obj = kb_container_of(ref, struct kb_obj, ref);

	atomic_fetch_add_explicit(&obj->releases, 1, memory_order_relaxed);
}

static void table_release(void *handle) { kb_obj_released(handle); }

struct kb_run *kb_run_new(const struct kb_topo *topo, const int *cpus)
{
	struct kb_run *run = aligned_alloc(_Alignof(struct kb_run),
					   (sizeof(*run) + _Alignof(struct kb_run) - 1) / _Alignof(struct kb_run) *
					   _Alignof(struct kb_run));

	if (!run)
		return NULL;
	memset(run, 0, sizeof(*run));
	run->topo = topo;
	run->cpus = cpus;
	return run;
}

/* ---- per-thread prologue and epilogue ---- */

bool kb_thread_prologue(struct gb_state *st, struct kb_run *run, struct kb_thread **me)
{
	int t = gb_thread_index(st);
	char err[200];

	*me = &run->thr[t];
	if (run->setup_error[0]) {
		gb_skip_with_error(st, run->setup_error);
		kb_window_abandon(&run->win);
		return false;	/* setup failed: no barrier was made */
	}
	(*me)->cpu = kb_place_bind_self(run->topo, run->cpus[t], err, sizeof(err));
	if ((*me)->cpu < 0) {
		gb_skip_with_error(st, err);
		kb_barrier_leave(&run->barrier);
		kb_window_abandon(&run->win);
		return false;
	}
	/* Before the clock starts: percpu and rcuref take memb read locks in
	 * their operations and would otherwise register on the first one. */
	if (run->backend)
		kb_rcu_register();
	kb_thread_perf_open(*me);
	return true;
}

void kb_run_barrier(struct kb_run *run)
{
	kb_barrier_wait(&run->barrier);
}

static int count_not_one(struct kb_run *run)
{
	int bad = 0;

	for (int i = 0; i < run->objects; i++)
		bad += run->backend->read(kb_obj_ref(run, i)) != 1;
	return bad;
}

static int count_not_released_once(struct kb_run *run)
{
	int bad = 0;

	for (int i = 0; i < run->objects; i++)
		bad += atomic_load_explicit(&run->objs[i].releases, memory_order_relaxed) != 1;
	return bad;
}

static int released_early(struct kb_run *run)
{
	int n = 0;

	for (int i = 0; i < run->objects; i++)
		n += atomic_load_explicit(&run->objs[i].releases, memory_order_relaxed);
	for (int t = 0; t < run->threads; t++)
		n += (int)run->thr[t].unexpected_releases;
	return n;
}

/* Thread 0, every thread quiescent: counts, then kill, then releases. */
static int check_run(struct kb_run *run)
{
	const struct kb_backend *be = run->backend;
	char text[160];
	int bad;

	if (!be)
		return 0;	/* a floor or mechanism holds no references */
	if (run->workload->check)
		return run->workload->check(run, text, sizeof(text)) ? kb_check_code(text) : 0;
	if ((bad = released_early(run)) != 0) {
		snprintf(text, sizeof(text), "%d release(s) during the run", bad);
		return kb_check_code(text);
	}
	/* brc: a reference handed to an owner's queue is in no count until the
	 * owner merges it; every thread is quiescent here, so merge first. */
	if (be->flags & KB_OWNER_RELEASE)
		be->sync();
	if ((bad = count_not_one(run)) != 0) {
		snprintf(text, sizeof(text), "%d object(s) not back to count 1", bad);
		return kb_check_code(text);
	}
	for (int i = 0; i < run->objects; i++)
		be->kill(kb_obj_ref(run, i));
	be->sync();
	if (!(be->flags & KB_COUNTS))
		return released_early(run) == 0 ? 0 : kb_check_code("null backend released");
	if ((bad = count_not_released_once(run)) != 0) {
		snprintf(text, sizeof(text), "%d object(s) not released exactly once", bad);
		return kb_check_code(text);
	}
	return 0;
}

void kb_thread_epilogue(struct gb_state *st, struct kb_run *run, struct kb_thread *me)
{
	char name[32];

	kb_thread_perf_finish(st, me);	/* right after the loop */
	snprintf(name, sizeof(name), "cpu.%d", gb_thread_index(st));
	gb_counter_set(st, name, me->cpu);
	kb_run_barrier(run);
	if (gb_thread_index(st) != 0)
		return;
	kb_window_summarise(&run->win, run->thr, run->threads);
	gb_counter_set(st, "check", check_run(run));
}

/* ---- setup and teardown, called by the library around each run ---- */

static void run_free(struct kb_run *run)
{
	for (int t = 0; run->objs && run->thr && t < run->threads; t++)	/* left open by a thread */
		kb_thread_perf_discard(&run->thr[t]);
	free(run->objs);
	free(run->thr);
	run->objs = NULL;
	run->thr = NULL;
}

void kb_run_setup(int threads, void *vrun)
{
	struct kb_run *run = vrun;
	const struct kb_backend *be = run->backend;

	run->setup_error[0] = 0;
	run->threads = threads;
	run->objects = run->objects_of(threads, run->objects_knob);
	run->objs = aligned_alloc(sizeof(struct kb_obj), sizeof(struct kb_obj) * (size_t)run->objects);
	run->thr = aligned_alloc(sizeof(struct kb_thread), sizeof(struct kb_thread) * (size_t)threads);
	if (!run->objs || !run->thr) {
		snprintf(run->setup_error, sizeof(run->setup_error), "out of memory");
		return;
	}
	memset(run->objs, 0, sizeof(struct kb_obj) * (size_t)run->objects);
	memset(run->thr, 0, sizeof(struct kb_thread) * (size_t)threads);
	for (int t = 0; t < threads; t++)
		run->thr[t].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(t + 1);
	for (int i = 0; be && i < run->objects; i++)
		if (be->init(kb_obj_ref(run, i), table_release) != 0) {
			snprintf(run->setup_error, sizeof(run->setup_error),
				 "%s: init failed for object %d of %d", be->name, i, run->objects);
			run->objects = i;
			return;
		}
	kb_barrier_init(&run->barrier, threads);
	run->barrier_ready = true;
	if (run->workload && run->workload->setup && run->workload->setup(run) != 0 && !run->setup_error[0])
		snprintf(run->setup_error, sizeof(run->setup_error), "workload setup failed");
}

void kb_run_teardown(int threads, void *vrun)
{
	struct kb_run *run = vrun;

	(void)threads;
	if (run->workload && run->workload->teardown)
		run->workload->teardown(run);
	/* A backend that may still hold objects for later (brc's owner queues)
	 * lets go of them before they are freed, also when the check stopped
	 * early or never ran: else the next run's merge touches freed memory. */
	if (run->backend && (run->backend->flags & KB_OWNER_RELEASE))
		run->backend->sync();
	for (int i = 0; run->backend && i < run->objects; i++)
		run->backend->destroy(kb_obj_ref(run, i));
	if (run->barrier_ready)
		kb_barrier_destroy(&run->barrier);
	run->barrier_ready = false;
	run_free(run);
}
