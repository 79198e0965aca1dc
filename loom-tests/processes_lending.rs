//! Model of `src/processes/lending.rs`: a `map` lane's idle slots lent
//! while it runs user code, taken back by the lane or taken by a thread
//! that found no free slot. The slot's data area is a loom `UnsafeCell`
//! that every owner writes, so loom reports two owners at once, or an
//! owner whose writes are not ordered after the lender's.
//!
//! Seen to fail (each break made alone, then undone; release, bound 2):
//!
//! 1. `LentSlots::take_all` as a `load` and a `store(0)` instead of one
//!    `swap` (a taker that can lose a race it does not see): "Causality
//!    violation: Concurrent write accesses to `UnsafeCell`" in both models
//!    (the lane's `take_back` cleared the bit between the taker's load and
//!    store, and both wrote the slot as its owner).
//! 2. `LentSlots::lend` with `Relaxed` instead of `Release`: the same
//!    causality violation in `a_stale_listing_loses_the_slot_to_its_new_lender`
//!    (lane A's write as the new owner is not ordered after lane B's last
//!    one). The first model passes with this break: there the lane wrote
//!    before spawning the taker, which orders it by itself.
//! 3. `LentSlots::lend_all` without its SeqCst fence (rule 4): "deadlock"
//!    in `a_waiter_asleep_for_a_slot_gets_one_lent_meanwhile` (the lane
//!    read no waiter, the waiter's last look missed the bit, and it slept
//!    on a `done` nobody rang).
//! 4. `take_free_slots` sleeping right after it counts itself, without
//!    the look once more (the model's `continue` removed): the same
//!    deadlock.

use crate::processes::doorbell::Doorbell;
use crate::processes::lending::LentSlots;
use crate::sync::atomic::{AtomicUsize, Ordering::*};
use crate::sync::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

struct Pool {
    lent: LentSlots,
    /// The pool's `done` doorbell (lending rule 4).
    done: Doorbell,
    /// Slot 0's data area.
    data: UnsafeCell<u64>,
    /// How many parties came to own slot 0 (each writes its mark).
    owners: AtomicUsize,
}

impl Pool {
    fn new() -> Arc<Pool> {
        Arc::new(Pool {
            lent: LentSlots::new(1),
            done: Doorbell::new(),
            data: UnsafeCell::new(0),
            owners: AtomicUsize::new(0),
        })
    }

    /// What an owner does: write the slot's data area (an argument).
    fn own(&self, mark: u64) {
        self.owners.fetch_add(1, Relaxed);
        // SAFETY: the model's claim: only the slot's one owner is here
        // (lending rule 2); loom checks it.
        self.data.with_mut(|p| unsafe { *p = mark });
    }
}

#[test]
fn the_lane_and_a_taker_race_for_a_lent_slot() {
    super::model(|| {
        let pool = Pool::new();
        // The lane owns slot 0: its last result read, it lends the slot
        // while user code runs.
        // SAFETY: the lane owns the slot; no other thread exists yet.
        pool.data.with_mut(|p| unsafe { *p = 1 });
        pool.lent.lend(0);
        let taker = {
            let pool = pool.clone();
            thread::spawn(move || {
                // A thread that found no free slot.
                let mut taken = Vec::new();
                pool.lent.take_all(&mut taken);
                if taken == [0] {
                    pool.own(2);
                } else {
                    assert!(taken.is_empty());
                }
            })
        };
        // The lane, after its user code: take the slot back to encode.
        if pool.lent.take_back(0) {
            pool.own(3);
        }
        taker.join().unwrap();
        assert_eq!(pool.owners.load(Relaxed), 1, "two owners of one slot");
    });
}

#[test]
fn a_stale_listing_loses_the_slot_to_its_new_lender() {
    // Lane A lent slot 0, a taker took it and freed it, and lane B took it
    // from the free list and lends it in turn, while lane A (which still
    // lists it) takes its lent slots back: one of A, B and a second taker
    // owns it, never two.
    super::model(|| {
        let pool = Pool::new();
        let lane_b = {
            let pool = pool.clone();
            thread::spawn(move || {
                // SAFETY: lane B owns the slot until it lends it.
                pool.data.with_mut(|p| unsafe { *p = 1 });
                pool.lent.lend(0);
                if pool.lent.take_back(0) {
                    pool.own(2);
                }
            })
        };
        let taker = {
            let pool = pool.clone();
            thread::spawn(move || {
                let mut taken = Vec::new();
                pool.lent.take_all(&mut taken);
                if taken == [0] {
                    pool.own(3);
                }
            })
        };
        // Lane A: its stale listing.
        let a_owns = pool.lent.take_back(0);
        if a_owns {
            pool.own(4);
        }
        lane_b.join().unwrap();
        taker.join().unwrap();
        assert_eq!(
            pool.owners.load(Relaxed),
            1,
            "one owner, whoever cleared the bit"
        );
    });
}

/// Lending rule 4: a thread that found no free slot, and sleeps on `done`
/// with no timeout here (so that a lend it misses is a deadlock, where the
/// pool would only nap 100 ms), gets the slot a lane lends meanwhile. The
/// lane never takes it back: its user code waits for this thread.
#[test]
fn a_waiter_asleep_for_a_slot_gets_one_lent_meanwhile() {
    super::model(|| {
        let pool = Pool::new();
        let waiter = {
            let pool = pool.clone();
            thread::spawn(move || {
                // `take_free_slots`' loop, with the free list empty.
                let mut waiting = None;
                loop {
                    let seen = pool.done.seen();
                    let mut taken = Vec::new();
                    pool.lent.take_all(&mut taken);
                    if taken == [0] {
                        pool.own(2);
                        return;
                    }
                    if waiting.is_none() {
                        waiting = Some(pool.lent.wait_for_slot());
                        continue;
                    }
                    pool.done.sleep(seen, None, None);
                }
            })
        };
        // The lane: its last result read, it lends slot 0 as its user
        // code starts.
        // SAFETY: the lane owns the slot until it lends it.
        pool.data.with_mut(|p| unsafe { *p = 1 });
        pool.lent.lend_all(&[0], &pool.done);
        waiter.join().unwrap();
        assert_eq!(pool.owners.load(Relaxed), 1);
    });
}
