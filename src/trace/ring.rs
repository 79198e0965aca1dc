//! A thread's ring of events: a fixed array that one thread fills and any
//! thread may copy out, without a lock.
//!
//! # Policy: keep the oldest, count the rest
//!
//! A ring holds `capacity` events. When it is full, a new event is *not*
//! stored: it is counted in `dropped` (drop-newest). The other policy,
//! overwrite-oldest, keeps the latest events, but then a reader copying a
//! slot could race the writer overwriting it and export a torn event, and
//! preventing that costs a sequence number per slot. Writing each slot at
//! most once makes the reader's side a plain copy. The capacity is a
//! parameter of the recording (`trace::start_with_capacity`), and the count
//! of dropped events is exported with each track, so a full ring is never a
//! silent loss.
//!
//! # States of a slot
//!
//! ```text
//!   index >= len:  EMPTY     the writer may fill it (only the writer looks)
//!        │ writer: fill the slot, then len = index + 1 (Release)
//!        ▼
//!   index <  len:  PUBLISHED immutable; any reader may copy it
//! ```
//!
//! # Rules
//!
//! 1. **One writer.** Only the thread that created a ring pushes to it: the
//!    ring lives in that thread's thread-local, and the registry's clones of
//!    the `Arc` are used only to read (`session.rs`).
//! 2. **Write once.** The writer fills slot `len` and then publishes it by
//!    storing `len + 1` with Release; it never writes a slot below `len`
//!    again. A full ring stores nothing and counts the event in `dropped`.
//! 3. **Read the published prefix.** A reader loads `len` with Acquire and
//!    copies slots `0..len`: they are complete (rule 2's Release) and no
//!    longer written (rule 2), so the copy races nothing, however long it
//!    takes and whatever the writer does meanwhile.
//!
//! No loom model: the protocol is a single Release/Acquire publication of
//! write-once data, and the `trace` feature is not built under loom. Miri
//! checks it instead (`.ci/miri` runs this file's tests, one of them a
//! reader racing the writer): with the publishing store made Relaxed, Miri
//! reports a data race between the writer's slot write and the reader's
//! copy.

use std::mem::MaybeUninit;

use super::event::Event;
use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};
use crate::sync::cell::UnsafeCell;

/// The events one thread recorded in one session.
pub(crate) struct Ring {
    slots: Box<[UnsafeCell<MaybeUninit<Event>>]>,
    /// Published slots (rule 2). Written by the writer only.
    len: AtomicUsize,
    /// Events that found the ring full. Written by the writer only.
    dropped: AtomicU64,
}

// SAFETY: the slots are the only non-`Sync` part. The writer alone writes
// them (rule 1), each at most once and before publishing it (rule 2);
// readers copy only published slots (rule 3). No slot is ever written and
// read at the same time.
unsafe impl Sync for Ring {}

impl Ring {
    /// An empty ring of `capacity` events. The slots are allocated, not
    /// initialised: a slot is written before it is published.
    pub(crate) fn new(capacity: usize) -> Ring {
        Ring {
            slots: (0..capacity)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
            len: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Append `event`, or count it as dropped if the ring is full.
    ///
    /// # Safety
    ///
    /// Only the ring's writer thread may call this (rule 1).
    #[inline]
    pub(crate) unsafe fn push(&self, event: Event) {
        // Relaxed: only this thread writes `len` (rule 1).
        let len = self.len.load(Relaxed);
        let Some(slot) = self.slots.get(len) else {
            // Relaxed: a plain counter, read after the recording stopped.
            self.dropped.fetch_add(1, Relaxed);
            return;
        };
        // SAFETY: slot `len` is not published, so no reader touches it
        // (rule 3), and we are the only writer (caller, rule 1).
        slot.with_mut(|slot| unsafe { (*slot).write(event) });
        // Release: publishes the slot just written to the readers' Acquire
        // load of `len` (rule 2).
        self.len.store(len + 1, Release);
    }

    /// Copy out the published events, oldest first (rule 3).
    pub(crate) fn published(&self) -> Vec<Event> {
        // Acquire: pairs with the Release in `push`, so every slot below
        // `len` is completely written.
        let len = self.len.load(Acquire);
        self.slots[..len]
            .iter()
            // SAFETY: the slot is published: initialised and never written
            // again (rules 2, 3).
            .map(|slot| slot.with(|slot| unsafe { (*slot).assume_init() }))
            .collect()
    }

    /// Events that found the ring full.
    pub(crate) fn dropped(&self) -> u64 {
        // Relaxed: a counter; a push racing this read is counted or not.
        self.dropped.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::event::Kind;

    fn event(n: u64) -> Event {
        Event {
            start_ns: n,
            end_ns: n + 1,
            arg: n,
            process: 0,
            kind: Kind::JobRun,
        }
    }

    #[test]
    fn keeps_the_oldest_and_counts_the_rest() {
        let ring = Ring::new(4);
        for n in 0..10 {
            // SAFETY: this test's thread is the ring's only writer.
            unsafe { ring.push(event(n)) };
        }
        let kept: Vec<u64> = ring.published().iter().map(|e| e.arg).collect();
        assert_eq!(kept, [0, 1, 2, 3]);
        assert_eq!(ring.dropped(), 6);
    }

    #[test]
    fn a_zero_capacity_ring_drops_everything() {
        let ring = Ring::new(0);
        // SAFETY: only writer, as above.
        unsafe { ring.push(event(1)) };
        assert!(ring.published().is_empty());
        assert_eq!(ring.dropped(), 1);
    }

    #[test]
    fn a_reader_sees_a_prefix_while_the_writer_goes_on() {
        // Small under Miri, which checks every access of the race for real.
        const CAPACITY: usize = if cfg!(miri) { 40 } else { 10_000 };
        let ring = crate::sync::Arc::new(Ring::new(CAPACITY));
        let writer = {
            let ring = ring.clone();
            crate::sync::thread::spawn(move || {
                for n in 0..2 * CAPACITY as u64 {
                    // SAFETY: this spawned thread is the ring's only writer.
                    unsafe { ring.push(event(n)) };
                }
            })
        };
        let mut seen = 0;
        while seen < CAPACITY {
            let events = ring.published();
            assert!(events.len() >= seen, "the published prefix only grows");
            for (n, e) in events.iter().enumerate() {
                assert_eq!(*e, event(n as u64), "a published slot is complete");
            }
            seen = events.len();
        }
        writer.join().unwrap();
        assert_eq!(ring.dropped(), CAPACITY as u64);
    }
}
