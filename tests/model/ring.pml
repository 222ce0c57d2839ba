/*
 * A model of accelring's SPSC record ring (include/accelring/ring.h),
 * checked with spin by tests/model/check.sh.
 *
 * Scale: a ring of RS units (a unit is 8 bytes in C), free-running indices
 * modulo IDX (2^32 in C), records of 1 or 2 units with padding at the wrap.
 * A header unit is kind * 8 + payload units. spin explores every
 * interleaving under sequential consistency: this checks the protocol's
 * logic (what is read, when, how often, and what is checked), while the C11
 * orderings that make the C code behave sequentially consistently at the
 * same points are labelled R0..F2 in barrier.h.
 *
 * Configurations (cpp defines):
 *   (none)               an honest producer; the consumer must receive all
 *                        NREC records in order, with no loss, duplication or
 *                        corruption, never poison the ring, and never sleep
 *                        through a wake-up (a lost wake-up is a deadlock).
 *   HOSTILE              an attacker writes any unit and any tail at any
 *                        moment; the consumer must never read outside the
 *                        ring, must act on exactly the record it validated,
 *                        and must never consume more than one ring's worth
 *                        of bytes in one pass, however many times it reads
 *                        the tail in it (else it overruns its copy buffer,
 *                        replays stale records and can be kept busy).
 * Deliberately broken consumers, each of which must yield a counterexample:
 *   BROKEN_NO_CLAMP      trusts the tail without checking tail - head <= RS.
 *   BROKEN_CLAMP_HEAD    clamps the tail against its private head, not the
 *                        head it released: a tail moved between two refills
 *                        of one pass makes the pass take more than a ring
 *                        (the broker's copy-buffer overflow, SECURITY 20).
 *   BROKEN_DOUBLE_FETCH  re-reads the header for the copy after validating.
 *   BROKEN_NO_RECHECK    sleeps without re-reading the tail after raising
 *                        NEED_WAKEUP (lost wake-up).
 */
#define RS	4	/* ring size, in units */
#define IDX	16	/* index modulus */
#define MAXREC	2	/* largest record in units: RS / 2 */
#define NREC	8	/* records the honest producer sends */
#define ROUNDS	2	/* passes a consumer makes in the hostile model */
#define REFILLS	2	/* tail reads in one pass */

#define MSG	1
#define PAD	2
#define HDR(k, plen)	((k) * 8 + (plen))
#define USED(t, h)	(((t) + IDX - (h)) % IDX)

byte ring[RS];
byte tail;		/* prod_tail: written by the producer */
byte head;		/* cons_head: written by the consumer */
bit need_wakeup;	/* flags & NEED_WAKEUP: written by the consumer */
bit doorbell;		/* the eventfd: producer sets, consumer drains */
bit poisoned;
byte delivered;
#ifdef HOSTILE
bit started = 0;	/* the attacker sets the ring up first */
#else
bit started = 1;
#endif

#ifndef HOSTILE
/* After a publish: wake the consumer if it asked for it (F1, then flags). */
inline wake()
{
	if
	:: need_wakeup -> doorbell = 1
	:: else
	fi
}

active proctype producer()
{
	byte ptail = 0, seq = 0, off, sz, need;

	do
	:: seq < NREC ->
		if
		:: sz = 1
		:: sz = 2
		fi;
		off = ptail % RS;
		need = sz;
		if
		:: sz > RS - off -> need = sz + RS - off
		:: else
		fi;
		/* reserve: a full ring may be full of records the consumer has
		 * not been shown yet, so publish and wake before waiting. */
		if
		:: need > RS - USED(ptail, head) ->
			tail = ptail;
			wake();
			(need <= RS - USED(ptail, head))	/* A0 */
		:: else
		fi;
		if
		:: sz > RS - off ->
			ring[off] = HDR(PAD, RS - off - 1);
			ptail = (ptail + RS - off) % IDX;
			off = 0
		:: else
		fi;
		if
		:: sz == 2 -> ring[off + 1] = seq % 8
		:: else
		fi;
		ring[off] = HDR(MSG, sz - 1);	/* R0: the header goes last */
		ptail = (ptail + sz) % IDX;
		seq++;
		/* Publish now, or batch with the next record. */
		if
		:: tail = ptail; wake()		/* R1 */
		:: seq < NREC -> skip
		fi
	:: else -> break
	od;
	tail = ptail;
	wake()
}
#else
/* One value the attacker may store in a unit: every header class the
 * consumer must tell apart (valid, oversized, padding of any length, an
 * unknown kind); payload values do not matter to a hostile consumer. */
inline pick(v)
{
	if
	:: v = HDR(MSG, 0)
	:: v = HDR(MSG, 1)
	:: v = HDR(MSG, 5)	/* longer than MAXREC and than the ring */
	:: v = HDR(PAD, 0)
	:: v = HDR(PAD, 3)
	:: v = HDR(3, 0)	/* unknown kind */
	fi
}

/*
 * The attacker starts from any ring contents and any tail, then changes up
 * to WRITES units or tails at any moment while the consumer runs, including
 * between its validation of a header and its use of it. (An unbounded
 * attacker adds nothing a bounded one does not show per round, and its
 * state space does not fit in memory.)
 */
#ifndef WRITES
#define WRITES 1
#endif
active proctype attacker()
{
	byte i, v, n;

	atomic {
		for (i : 0 .. RS - 1) {
			pick(v);
			ring[i] = v
		}
		select(v : 0 .. IDX - 1);
		tail = v;
		started = 1
	}
	do
	:: n < WRITES ->
		if
		:: select(i : 0 .. RS - 1); pick(v); ring[i] = v
		:: select(v : 0 .. IDX - 1); tail = v
		fi;
		n++
	:: break
	od
}
#endif

/*
 * The consumer is the broker's worker: one pass reads the tail up to
 * REFILLS times (it refills whenever it has consumed all it saw) and
 * releases its head once, at the end of the pass (R2).
 */
active proctype consumer()
{
	byte h = 0, rel = 0, t, avail, off, hv, kind, sz, cplen, batch, i, v,
	     rounds, refills;

	(started);
	do
	:: delivered == NREC -> break
	:: rounds == ROUNDS -> break
	:: else ->
#ifdef HOSTILE
		rounds++;
#endif
		batch = 0;
		refills = 0;
		do
		:: refills == REFILLS -> break
		:: else ->
			t = tail;		/* A1: the one read of this refill */
			refills++;
			avail = USED(t, h);
#if defined(BROKEN_NO_CLAMP)
			skip;
#elif defined(BROKEN_CLAMP_HEAD)
			/* Bounded by our private head: a tail moved between
			 * refills hands us another ring's worth each time. */
			if
			:: avail > RS -> poisoned = 1; goto done
			:: else
			fi;
#else
			/* Bounded by what we released: a correct producer is
			 * never more than a ring past it (A0), and the tail is
			 * at or past our head. */
			if
			:: USED(t, rel) > RS || avail > USED(t, rel) ->
				poisoned = 1; goto done
			:: else
			fi;
#endif
			if
			:: avail == 0 -> break
			:: else
			fi;
			do
			:: h == t -> break
			:: else ->
				off = h % RS;
				hv = ring[off];		/* the one read of the header */
				kind = hv / 8;
				sz = hv % 8 + 1;
				if
				:: sz > USED(t, h) || off + sz > RS ->
					poisoned = 1; goto done
				:: else
				fi;
				if
				:: kind == PAD ->
					if
					:: off + sz != RS -> poisoned = 1; goto done
					:: else
					fi
				:: kind == MSG ->
					if
					:: sz > MAXREC -> poisoned = 1; goto done
					:: else
					fi;
#ifdef BROKEN_DOUBLE_FETCH
					hv = ring[off];	/* length re-read for the copy */
					cplen = hv % 8 + 1;
#else
					cplen = sz;
#endif
					/* Copy the payload out. */
					i = 1;
					do
					:: i < cplen ->
						assert(off + i < RS);
						v = ring[off + i];
						i++
					:: else -> break
					od;
					/* What is used is what was validated. */
					assert(cplen == sz);
#ifndef HOSTILE
					if
					:: sz == 2 -> assert(v == delivered % 8)
					:: else
					fi;
#endif
					delivered++
				:: else -> poisoned = 1; goto done
				fi;
				h = (h + sz) % IDX;
				batch = batch + sz;
				/* One pass copies at most one ring (the copy
				 * buffer), whatever the tail does. */
				assert(batch <= RS)
			od
		od;
		head = h;			/* R2: once per pass */
		rel = h;
#ifndef HOSTILE
		if
		:: batch == 0 ->
			/* Sleep: raise NEED_WAKEUP, then (F2) look again. */
			need_wakeup = 1;
#ifndef BROKEN_NO_RECHECK
			if
			:: tail != h -> need_wakeup = 0
			:: else ->
#else
			if
			:: true ->
#endif
				(doorbell == 1);
				doorbell = 0;
				need_wakeup = 0
			fi
		:: else
		fi
#endif
	od;
done:
#ifndef HOSTILE
	assert(!poisoned && delivered == NREC)
#else
	skip
#endif
}
