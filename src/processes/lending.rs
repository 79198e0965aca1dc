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
//! The loom model `loom-tests/processes_lending.rs` runs a lender that
//! takes its slots back against a taker, with the slot's data area as a
//! loom cell.

use crate::sync::atomic::{AtomicU64, Ordering::*};

/// The lent marks of a pool's slots. See the module docs.
pub(crate) struct LentSlots {
    words: Box<[AtomicU64]>,
}

impl LentSlots {
    /// No slot lent, for a pool of `slots` slots.
    pub(crate) fn new(slots: usize) -> Self {
        LentSlots {
            words: (0..slots.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Lend slot `index`, which the caller owns (rule 1).
    pub(crate) fn lend(&self, index: usize) {
        // Release: the lender's accesses to the slot happen before those
        // of whoever clears the bit with Acquire (rule 3).
        self.words[index / 64].fetch_or(1 << (index % 64), Release);
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
