/*
 * SNZI (core/backends/snzi.h, core/backends/snzi.c): arrive (kref_snzi_get) and depart
 * (kb_snzi_depart, kb_snzi_depart_elsewhere) on three leaves under one
 * root, two threads, every interleaving. Each C atomic is one step.
 *
 * Weak memory is modelled at the one edge the proof needs. A put that
 * takes a leaf from 1 to 0 and then decrements the root relies on the
 * arrive that made the leaf 1 having announced itself at the root first:
 * in the root's modification order, the arrive's +1 must precede that
 * decrement. The fix makes arrive's leaf CAS a release (after the relaxed
 * root +1) and the departing CAS an acquire, so a depart that reads the
 * leaf's 1 happens after the +1: modelled as announce, then CAS.
 * -DSNZI_RELAXED_ARRIVE models the old relaxed CAS: the leaf's 1 may be
 * seen before the root's +1, i.e. the +1 lands after the CAS (still before
 * the arriving thread's next operation, whose own root RMWs are ordered
 * after it by coherence): a depart in between can take the root to zero
 * while a reference is held.
 *
 * The start is any quiescent layout the header's invariant allows (root =
 * direct references * DIRECT + number of non-zero leaves), references split
 * between the threads. Checked: release only when no reference is held,
 * at most once, and once by the end; no leaf goes negative.
 */
#define NCPU	3
#define DIRECT	16	/* SNZI_DIRECT, scaled: above any count of announcements */

int root;		/* direct * DIRECT + announced leaves */
int leaf[NCPU];
byte refs;		/* ghost: references held */
byte released;
byte finished;

inline release() {
	assert(refs == 0);
	released++;
	assert(released == 1)
}

/* kb_snzi_root_sub(r, n): fetch_sub, released when it was n. */
inline root_sub(n) {
	atomic {
		root = root - n;
		if
		:: root == 0 -> release()
		:: else
		fi
	}
}

inline cas(var, expect, new) {
	atomic {
		if
		:: var == expect -> var = new; ok = 1
		:: else -> expect = var; ok = 0
		fi
	}
}

/* kref_snzi_get: arrive at this CPU's leaf. */
inline snzi_get(cpu) {
	c = leaf[cpu];
	do
	:: c > 0 ->
		cas(leaf[cpu], c, c + 1);
		if
		:: ok -> break
		:: else
		fi
	:: c <= 0 ->
#ifdef SNZI_RELAXED_ARRIVE
		cas(leaf[cpu], c, 1);		/* visible first */
		if
		:: ok -> root++; break		/* announce lands late */
		:: else				/* announce and undo cancel */
		fi
#else
		root++;				/* announce */
		cas(leaf[cpu], c, 1);		/* release */
		if
		:: ok -> break
		:: else -> root--		/* another arrive announced */
		fi
#endif
	od
}

/* kb_snzi_depart(r, leaf): departed = 1 when the leaf held a reference. */
inline depart(l) {
	c = leaf[l];
	departed = 0;
	do
	:: c > 0 ->
		cas(leaf[l], c, c - 1);		/* acq_rel */
		if
		:: ok ->
			departed = 1;
			if
			:: c == 1 -> root_sub(1)
			:: else
			fi;
			break
		:: else
		fi
	:: c <= 0 -> break
	od
}

/* kref_snzi_put: this CPU's leaf, else kb_snzi_depart_elsewhere: the
 * other leaves from cpu + 1 on, then the root's direct half, repeated. */
inline snzi_put(cpu) {
	atomic { refs--; held-- };
	depart(cpu);
	i = 1;
	do
	:: departed -> break
	:: !departed && i < NCPU ->
		depart((cpu + i) % NCPU);
		i++
	:: !departed && i == NCPU ->
		r = root;
		do
		:: r >= DIRECT ->
			cas(root, r, r - DIRECT);
			if
			:: ok ->
				if
				:: r == DIRECT -> release()
				:: else
				fi;
				departed = 1;
				break
			:: else
			fi
		:: r < DIRECT -> break
		od;
		i = 0	/* a concurrent put won: scan again */
	od
}

proctype user(byte n; byte gets)
{
	byte held = n, cpu, i;
	int c, r;
	bit ok, departed;

	do
	:: held > 0 && gets > 0 ->
		if
		:: cpu = 0
		:: cpu = 1
		:: cpu = 2
		fi;
		atomic { refs++; held++; gets-- };
		snzi_get(cpu)
	:: held > 0 ->
		if
		:: cpu = 0
		:: cpu = 1
		:: cpu = 2
		fi;
		snzi_put(cpu)
	:: held == 0 -> break
	od;
	finished++
}

init {
	byte direct, total, a, l;

	/* A quiescent layout: each leaf 0..2, direct 0..1, at least one reference. */
	l = 0;
	do
	:: l < NCPU ->
		if
		:: leaf[l] = 0
		:: leaf[l] = 1
		:: leaf[l] = 2
		fi;
		total = total + leaf[l];
		if
		:: leaf[l] > 0 -> root++
		:: else
		fi;
		l++
	:: l == NCPU -> break
	od;
	if
	:: direct = 0
	:: direct = 1
	fi;
	root = root + direct * DIRECT;
	total = total + direct;
	/* split the references: a to the first thread, the rest to the second */
	if
	:: a = 1
	:: a = 2
	fi;
	if
	:: total == 0 || total > 3 || a > total -> skip	/* not a layout checked here */
	:: else ->
		refs = total;
		atomic {
			run user(a, 1);
			run user(total - a, 1)
		}
		(finished == 2);
		assert(released == 1);
		l = 0;
		do
		:: l < NCPU -> assert(leaf[l] >= 0); l++
		:: l == NCPU -> break
		od
	fi
}
