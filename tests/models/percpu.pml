/*
 * percpu_ref's switch to atomic mode on kill (core/backends/percpu.h, core/backends/percpu.c;
 * the kernel's lib/percpu-refcount.c, percpu_ref_kill): two threads getting
 * and putting on any CPU while a third kills, every interleaving. Steps are
 * named after the C functions: kb_percpu_add_atomic (an RCU read section
 * that reads percpu_ptr's flags, then adds to this CPU's slot),
 * kb_percpu_sub_and_test_via (the atomic-mode put), kill_and_confirm,
 * switch_to_atomic_locked (flags set, the switch's own reference taken, the
 * fold queued behind a grace period), fold_slots_after_grace_period (sum
 * the slots into the count with the bias removed, in one step, then
 * dec_not_one, else put_stored).
 *
 * The grace period: the fold waits until it has seen each reader outside a
 * read section after the flags were set, so every section still using the
 * slots has ended and every later one reads the flags set.
 *
 * Checked: release only when no reference is held, at most once, exactly
 * once by the end; the fold never finds the count at or below zero.
 * -DPERCPU_NO_GRACE_PERIOD (a check that the model can fail, not a defect
 * of the C code) folds without waiting: a reader that saw per-CPU mode adds
 * to a slot after the sum, and the count goes wrong.
 */
#define NCPU	2
#define NU	2	/* user threads */
#define BIAS	64	/* PERCPU_COUNT_BIAS, scaled */

int count = BIAS + 1;	/* data->count: the bias and the initial reference */
int slot[NCPU];
bit atomic_mode, dead;	/* KB_PERCPU_ATOMIC, KB_PERCPU_DEAD */
bit in_rcu[NU];
byte refs;		/* ghost: references held */
byte released;
byte finished;

inline release() {
	assert(refs == 0);
	released++;
	assert(released == 1)
}

/* put_stored / the atomic side of kb_percpu_sub_and_test_via */
inline count_dec_and_test() {
	atomic {
		count--;
		if
		:: count == 0 -> release()
		:: else
		fi
	}
}

/* one kref_percpu_get (d = 1) or put (d = -1) */
inline percpu_op(d) {
	if
	:: cpu = 0
	:: cpu = 1
	fi;
	in_rcu[me] = 1;				/* kb_percpu_enter */
	if
	:: !atomic_mode -> slot[cpu] = slot[cpu] + d	/* kb_percpu_add_atomic */
	:: else ->
		if
		:: d > 0 -> count++		/* kb_percpu_add_not_zero's path */
		:: else -> count_dec_and_test()
		fi
	fi;
	in_rcu[me] = 0				/* kb_percpu_exit */
}

proctype user(byte me; byte n; byte gets)
{
	byte held = n, cpu;

	do
	:: held > 0 && gets > 0 ->
		atomic { refs++; held++; gets-- };
		percpu_op(1)
	:: held > 0 ->
		atomic { refs--; held-- };
		percpu_op(-1)
	:: held == 0 -> break
	od;
	finished++
}

proctype fold_slots_after_grace_period()
{
	byte i;
	bit dropped;

#ifndef PERCPU_NO_GRACE_PERIOD
	i = 0;
	do
	:: i < NU -> !in_rcu[i]; i++	/* each reader seen outside a section */
	:: i == NU -> break
	od;
#endif
	atomic {	/* sum first, then add with the bias removed, in one step */
		count = count + slot[0] + slot[1] - BIAS;
		assert(count > 0)	/* the switch's own reference */
	}
	atomic {	/* dec_not_one */
		if
		:: count != 1 -> count--; dropped = 1
		:: else -> dropped = 0
		fi
	}
	if
	:: !dropped -> count_dec_and_test()	/* put_stored: the last one */
	:: else
	fi;
	finished++
}

/* kref_percpu_kill -> kill_and_confirm: flags, switch_to_atomic_locked,
 * then put_stored for the initial reference. */
proctype killer()
{
	atomic {
		dead = 1;
		atomic_mode = 1;	/* switch_to_atomic_locked: fetch_or ATOMIC */
	}
	count++;			/* the switch's reference, dropped by the fold */
	run fold_slots_after_grace_period();
	atomic { refs-- };
	count_dec_and_test();		/* put_stored */
	finished++
}

init {
	atomic {
		/* count holds the killer's initial reference; each user holds
		 * one more, got in per-CPU mode on CPU 0 */
		slot[0] = NU;
		refs = 3;
		run user(0, 1, 1);
		run user(1, 1, 1);
		run killer()
	}
	(finished == NU + 2);
	assert(released == 1 && refs == 0)
}
