//! Slots lent by a `map` lane while it runs user code (`lane.rs` rule L8):
//! one bit per slot, and whoever clears a set bit owns the slot.
//!
//! A lane owns its idle slots (FREE, off the pool's free list). While the
//! items' iterator or an `Encode` runs, that code may submit to the same
//! pool, or wait for a thread that does; it must find a slot, or it waits
//! for ever for one only the waiting lane could give back. So the lane
//! *lends* its idle slots for that time:
//!
//! ```text
//!   lane owns slot i ──lend (set bit i)──► lent ──take_back (clear bit i)──► lane owns it
//!                                           │
//!                                           └──take_all (swap the word to 0)──► the taker owns it
//!                                                (a thread that found no free slot,
//!                                                 under the registry lock: onto the free list)
//! ```
//!
//! Rules:
//!
//! 1. **Only the owner sets a bit**, for a slot it owns and will not touch
//!    until it clears that bit itself.
//! 2. **Whoever clears a set bit owns the slot**: `take_back` (one
//!    `fetch_and`) and `take_all` (one `swap`) are single read-modify-write
//!    steps on the word, so of any number of them racing, exactly one sees
//!    the bit set. The others see it clear and must forget the slot: it is
//!    no longer theirs. (A lane may still list a slot it lent that a taker
//!    took, freed, and another lane took and lent again; its `take_back`
//!    then takes it from that lane, which finds the bit clear and forgets
//!    it. The slot is FREE all along; ownership stays single.)
//! 3. **Hand-over of the slot's memory.** `lend` is a Release and the
//!    clearing steps are Acquire: the lender's last reads of the slot's
//!    data area (its previous result) happen before the new owner's
//!    writes (its next argument).
//!
//! 4. **A waiter never misses a lend.** A thread that found no free slot
//!    counts itself in `waiters` ([`LentSlots::wait_for_slot`]), and only
//!    then looks once more (`take_all` among the rest) before it sleeps on
//!    the pool's `done` doorbell, with the doorbell's `seen` read before
//!    that look. A lender lends, then reads `waiters` and, if it is not
//!    zero, rings `done` ([`LentSlots::lend_all`]). A SeqCst fence sits
//!    between the two steps on each side, so at least one side sees the
//!    other's first step: the waiter's look finds the bit, or the lender
//!    rings, and that ring either comes before the waiter's `seen` (whose
//!    Acquire then shows the bit to the look) or makes its sleep return.
//!    Without this a waiter slept its whole nap (100 ms) with a slot lent
//!    right after its look.
//!
//! ```text
//!   waiter:  waiters += 1 │ fence │ seen = done.seen() │ look (take_all) │ sleep(seen)
//!   lender:  lend (set bit)        │ fence │ waiters != 0? ──► done.ring()
//! ```
//!
//! The loom model `loom-tests/processes_lending.rs` runs a lender that
//! takes its slots back against a taker, with the slot's data area as a
//! loom cell, and a waiter that must be woken by a lend (rule 4).

use super::doorbell::Doorbell;
use crate::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering::*};

/// The lent marks of a pool's slots, and the threads waiting for a slot.
/// See the module docs.
pub(crate) struct LentSlots {
    words: Box<[AtomicU64]>,
    /// Threads that found no free slot and wait for one (rule 4); a `map`
    /// lane that sees any gives its idle slots back (`lane.rs` rule L7).
    waiters: AtomicU32,
}

impl LentSlots {
    /// No slot lent, for a pool of `slots` slots.
    pub(crate) fn new(slots: usize) -> Self {
        LentSlots {
            words: (0..slots.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
            waiters: AtomicU32::new(0),
        }
    }

    /// Lend slot `index`, which the caller owns (rule 1), without telling
    /// waiters: [`lend_all`](Self::lend_all) does.
    pub(crate) fn lend(&self, index: usize) {
        // Release: the lender's accesses to the slot happen before those
        // of whoever clears the bit with Acquire (rule 3).
        self.words[index / 64].fetch_or(1 << (index % 64), Release);
    }

    /// Lend every slot of `indices`, which the caller owns (rule 1), and
    /// ring `done` if a thread waits for a slot (rule 4).
    pub(crate) fn lend_all(&self, indices: &[usize], done: &Doorbell) {
        for &index in indices {
            self.lend(index);
        }
        if indices.is_empty() {
            return;
        }
        // Rule 4: pairs with the fence in `wait_for_slot` (Dekker): either
        // the waiter's look after its fence sees our bits, or we see it
        // counted here.
        fence(SeqCst);
        if self.waiters.load(Relaxed) != 0 {
            done.ring(false);
        }
    }

    /// Whether a thread waits for a slot now: a hint for `map` lanes
    /// (`lane.rs` rule L7).
    pub(crate) fn anyone_waits(&self) -> bool {
        // Relaxed: a hint; a lane looks again at its next batch.
        self.waiters.load(Relaxed) != 0
    }

    /// Count the caller as waiting for a slot until the guard is dropped.
    /// The caller must look for a slot once more after this (a lent one
    /// among them) before it sleeps on `done` (rule 4).
    pub(crate) fn wait_for_slot(&self) -> SlotWaiter<'_> {
        // Relaxed, then the fence: pairs with the fence in `lend_all`.
        self.waiters.fetch_add(1, Relaxed);
        fence(SeqCst);
        SlotWaiter(&self.waiters)
    }

    /// Take lent slot `index` back: true if it was still lent, and the
    /// caller owns it again; false if someone else took it (rule 2).
    pub(crate) fn take_back(&self, index: usize) -> bool {
        let bit = 1 << (index % 64);
        // Acquire: pairs with the Release of the `lend` that set the bit
        // (rule 3), maybe another lender's (rule 2).
        self.words[index / 64].fetch_and(!bit, Acquire) & bit != 0
    }

    /// Take every lent slot: their indices are pushed onto `taken`, and
    /// the caller owns them (rule 2).
    pub(crate) fn take_all(&self, taken: &mut Vec<usize>) {
        for (word_index, word) in self.words.iter().enumerate() {
            // Relaxed: a quick look; the swap below is what takes.
            if word.load(Relaxed) == 0 {
                continue;
            }
            // Acquire: pairs with `lend`'s Release (rule 3).
            let mut bits = word.swap(0, Acquire);
            while bits != 0 {
                taken.push(word_index * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
    }
}

/// A thread counted as waiting for a slot (rule 4), until dropped.
pub(crate) struct SlotWaiter<'a>(&'a AtomicU32);

impl Drop for SlotWaiter<'_> {
    fn drop(&mut self) {
        // Relaxed: once the waiter is gone, a ring for it is only wasted.
        self.0.fetch_sub(1, Relaxed);
    }
}
