/*
 * Refcache (core/backends/refcache.h, core/backends/refcache.c): one object, three threads
 * with their delta caches, and the epoch (kb_refcache_epoch -> epoch_locked:
 * flush_cache of every cache in registry order, then the review with every
 * cache locked), every interleaving. A thread's get/put/eviction runs under
 * its cache lock, and so is one step against that cache's flush; the
 * review holds every lock, and so is one step.
 *
 * Threads get (when they hold a reference), put, hand a reference to
 * another thread (kref's handoff), and evict their entry (a collision in
 * kb_refcache_add). Checked: release() only when no reference is held, at
 * most once; no eviction writes into a released object; once everything
 * is put, three epochs release it (kb_refcache_sync's promise).
 *
 * -DREFCACHE_SKIP_ZERO_DELTA selects the old flush: entries whose delta is
 * 0 are not evicted (and keep naming the object), so a reference moving
 * between caches inside an epoch can go unseen and the review releases the
 * object while it is held.
 */
#define NT	3	/* threads = caches, flushed in order 0, 1, 2 */
#define LIVE	0
#define REVIEW	1	/* state 1: under review */
#define DEAD	2	/* state 2: released */

int count = 1;		/* the global count: the initial reference */
byte state = LIVE;
bit dirty;
int delta[NT];
bit named[NT];		/* the cache entry names the object */
byte held[NT];		/* ghost: references each thread holds */
byte refs = 1;		/* ghost: all of them */
byte released;
bit done[NT];
byte finished;

/* kb_refcache_flush_entry: apply the delta, mark dirty, empty the entry;
 * queue the object when its count reached zero. */
inline flush_entry(t) {
	assert(state != DEAD);		/* never writes into a released object */
	count = count + delta[t];
	dirty = 1;
	delta[t] = 0;
	named[t] = 0;
	if
	:: count == 0 && state == LIVE -> state = REVIEW
	:: else
	fi
}

/* flush_cache(c): which entries an epoch evicts. */
inline flush_cache(t) {
	atomic {
#ifdef REFCACHE_SKIP_ZERO_DELTA
		if
		:: delta[t] != 0 -> flush_entry(t); named[t] = 1	/* stays named */
		:: else
		fi
#else
		if
		:: named[t] -> flush_entry(t)
		:: else
		fi
#endif
	}
}

/* the review in epoch_locked */
inline review() {
	atomic {
		if
		:: state == REVIEW && count != 0 -> state = LIVE	/* alive again */
		:: state == REVIEW && count == 0 && dirty -> dirty = 0	/* see it stay zero */
		:: state == REVIEW && count == 0 && !dirty ->
			state = DEAD;
			assert(refs == 0);	/* never while held */
			released++;
			assert(released == 1)	/* exactly once */
		:: else
		fi
	}
}

inline epoch() {
	t = 0;
	do
	:: t < NT -> flush_cache(t); t++
	:: t == NT -> break
	od;
	review()
}

proctype epochs()
{
	byte t;

	do
	:: finished < NT -> epoch()
	:: finished == NT -> break
	od;
	/* everything put: kb_refcache_sync's three epochs release it */
	epoch(); epoch(); epoch();
	assert(released == 1)
}

/* kb_refcache_add(r, d): the caller's entry, under its cache lock. */
inline add(d) {
#ifdef REFCACHE_SKIP_ZERO_DELTA
	delta[me] = delta[me] + d; named[me] = 1
#else
	delta[me] = delta[me] + d; named[me] = 1
#endif
}

proctype thread(byte me; byte gets)
{
	byte to;

	do
	:: atomic { held[me] > 0 && gets > 0 ->	/* kref_refcache_get */
		refs++; held[me]++; gets--; add(1) }
	:: atomic { held[me] > 0 ->		/* kref_refcache_put */
		refs--; held[me]--; add(-1) }
	:: held[me] > 0 ->			/* hand a reference over */
		if
		:: to = (me + 1) % NT
		:: to = (me + 2) % NT
		fi;
		atomic { !done[to] -> held[me]--; held[to]++ }
	:: atomic {				/* a collision evicts the entry */
#ifdef REFCACHE_SKIP_ZERO_DELTA
		delta[me] != 0 -> flush_entry(me)
#else
		named[me] -> flush_entry(me)
#endif
		}
	:: atomic { held[me] == 0 && gets == 0 -> done[me] = 1; break }
	od;
	finished++
}

init {
	atomic {
		held[0] = 1;
		run epochs();
		run thread(0, 1);
		run thread(1, 1);
		run thread(2, 0)
	}
}
