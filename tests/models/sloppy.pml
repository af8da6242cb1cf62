/*
 * Sloppy counters (core/backends/sloppy.h, core/backends/sloppy.c): puts and gets against
 * kill, every interleaving. Each C atomic (load, CAS, exchange, fetch_add)
 * is one Promela step; the steps are named after the C functions:
 * kb_sloppy_take_spare, kb_sloppy_give_spare, kb_sloppy_central_dec_and_test,
 * kref_sloppy_reconcile, kref_sloppy_kill. SLOPPY_MAX and SLOPPY_KEEP are
 * scaled down (2 and 1) so that a put reaches the full-slot path in a few
 * steps; nothing in the algorithm depends on their size.
 *
 * Checked: release() runs only when no reference is held, at most once,
 * and exactly once by the end (kill plus every put); the surplus
 * subtraction never takes the central count to zero.
 *
 * -DSLOPPY_UNTESTED_SURPLUS selects the old give_spare: the full-slot put
 * subtracts the surplus and its own reference in one untested step, and a
 * kill between that step and the slot CAS loses the release.
 */
#define NCPU	2
#define MAX	2	/* SLOPPY_MAX */
#define KEEP	1	/* SLOPPY_KEEP */
#define DEAD	(-100)	/* SLOPPY_DEAD */

int central = 1;	/* the initial reference, held by kill */
int slot[NCPU];
byte refs = 1;		/* ghost: references held by anyone */
byte released;
byte finished;

inline release() {
	assert(refs == 0);	/* never while held */
	released++;
	assert(released == 1);	/* exactly once */
}

/* kb_sloppy_central_dec_and_test: one fetch_sub, tested. */
inline central_dec_and_test() {
	atomic {
		central--;
		if
		:: central == 0 -> release()
		:: else
		fi
	}
}

/* kb_sloppy_take_spare, else the central fetch_add (kref_sloppy_get). */
inline sloppy_get(cpu) {
	s = slot[cpu];
	do
	:: s > 0 ->
		atomic {
			if
			:: slot[cpu] == s -> slot[cpu] = s - 1; ok = 1
			:: else -> s = slot[cpu]; ok = 0
			fi
		}
		if
		:: ok -> break
		:: else
		fi
	:: s <= 0 ->
		central++;	/* kref_sloppy_get: atomic_fetch_add */
		break
	od
}

/* kb_sloppy_give_spare: given = 1 when the reference became a spare. */
inline give_spare(cpu) {
	s = slot[cpu];
	do
	:: s == DEAD -> given = 0; break
	:: s != DEAD && s < MAX ->
		atomic {
			if
			:: slot[cpu] == s -> slot[cpu] = s + 1; ok = 1
			:: else -> s = slot[cpu]; ok = 0
			fi
		}
		if
		:: ok -> given = 1; break
		:: else
		fi
	:: s != DEAD && s >= MAX ->
		atomic {	/* the CAS down to KEEP */
			if
			:: slot[cpu] == s -> slot[cpu] = KEEP; ok = 1
			:: else -> s = slot[cpu]; ok = 0
			fi
		}
		if
		:: ok ->
			/* KB_TEST_HOOK("sloppy.give_spare.surplus_taken"): kill may run here */
#ifdef SLOPPY_UNTESTED_SURPLUS
			central = central - (s + 1 - KEEP);	/* untested, reference given */
			given = 1;
#else
			atomic {
				central = central - (s - KEEP);
				assert(central > 0);	/* the caller's reference is counted */
			}
			given = 0;
#endif
			break
		:: else
		fi
	od
}

/* kref_sloppy_put */
inline sloppy_put(cpu) {
	atomic { refs--; held-- }
	give_spare(cpu);
	if
	:: !given -> central_dec_and_test()
	:: else
	fi
}

inline pick_cpu() {	/* the thread may run on any CPU at each operation */
	if
	:: cpu = 0
	:: cpu = 1
	fi
}

/* A thread holding `n` references, with `gets` more it may take. */
proctype user(byte n; byte gets)
{
	byte held = n, cpu;
	int s;
	bit ok, given;

	do
	:: held > 0 && gets > 0 ->
		pick_cpu();
		atomic { refs++; held++; gets-- }	/* kref rule 1: a holder gets */
		sloppy_get(cpu)
	:: held > 0 ->
		pick_cpu();
		sloppy_put(cpu)
	:: held == 0 -> break
	od;
	finished++
}

/* kref_sloppy_kill: kref_sloppy_reconcile, then the put of the initial reference. */
proctype killer()
{
	byte held = 1, cpu, c;
	int s, taken;
	bit ok, given;

	/* kref_sloppy_reconcile: one exchange per CPU, then one subtraction. */
	c = 0;
	do
	:: c < NCPU ->
		atomic { s = slot[c]; slot[c] = DEAD };
		if
		:: s != DEAD -> taken = taken + s
		:: else
		fi;
		c++
	:: c == NCPU -> break
	od;
	atomic {
		central = central - taken;
		assert(central > 0);	/* the initial reference is still counted */
	}
	pick_cpu();
	sloppy_put(cpu);
	finished++
}

init {
	atomic {
		/* user 1 holds 3 references: its third put finds a full slot */
		central = central + 3 + 1;
		refs = refs + 3 + 1;
		run user(3, 1);
		run user(1, 1);
		run killer()
	}
	(finished == 3);
	assert(released == 1)	/* nothing lost */
}
