//! Doorbells: "something changed, look again", across processes.
//!
//! Two live in the shared header: `work` (rung by the parent when it
//! submits a task; workers sleep on it when no slot is SUBMITTED) and
//! `done` (rung when a task finishes or a slot is freed; parent threads
//! waiting for a free slot or for any result sleep on it).
//!
//! ```text
//!   seq:      a counter, bumped by every ring; also the futex word
//!   sleepers: how many are (about to be) asleep on seq
//!
//!   ringer:  seq += 1 ; fence(SeqCst) ; if sleepers > 0 { futex_wake(seq) }
//!   sleeper: seen = seq          (before looking for work)
//!            ... look, find nothing ...
//!            sleepers += 1 ; fence(SeqCst) ; futex_wait(seq, seen) ; sleepers -= 1
//! ```
//!
//! Rules:
//!
//! 1. A sleeper reads `seq` *before* it looks for what it waits for, and
//!    sleeps only while `seq` still holds that value: a ring between the
//!    look and the sleep changes `seq`, and the futex returns at once.
//! 2. The ringer skips the wake syscall when nobody sleeps. The two SeqCst
//!    fences make that safe (Dekker): of "ringer bumps seq, then reads
//!    sleepers" and "sleeper bumps sleepers, then reads seq" at least one
//!    sees the other's write, so either the sleeper sees the new `seq` or
//!    the ringer sees the sleeper and wakes it.
//! 3. Sleeps may end spuriously; every caller loops on its own condition.
//! 4. Zero-filled memory is a valid doorbell (shared mapping, slot rule 6).
//! 5. `sleepers` may over-count, never under-count: a process killed while
//!    asleep (a worker SIGKILLed from outside, or at `shutdown_now`) never
//!    takes itself off. The cost is bounded and harmless: the ringer then
//!    makes a `futex_wake` syscall that finds nobody (the kernel knows who
//!    really waits, so no wake-up goes to a dead process or gets lost). It
//!    is a speed hint, not a correctness counter; the next pool starts at 0.
//! 6. A sleeper spins for [`SPIN_ROUNDS`] rounds (about 5 µs on this
//!    project's machine, where one spin hint takes ~24 ns) before it counts
//!    itself in `sleepers`. Work that comes within that
//!    moment (the next task of a `map`, a result the parent is about to
//!    collect) then costs neither side a system call: the ringer sees no
//!    sleeper and skips the wake. It is bounded, so an idle pool still
//!    sleeps at once for all practical purposes, and a spinner is not
//!    counted, so rule 2 is untouched. (Not under loom: a spin is only a
//!    shortcut to the same states.)

use crate::sync::atomic::{fence, AtomicU32, Ordering::*};

/// How many times a sleeper looks at `seq` before it sleeps (rule 6); also
/// the parent's spin before it sleeps on a slot (slot rule 5).
pub(crate) const SPIN_ROUNDS: u32 = 200;

/// A process-shared "look again" signal. `#[repr(C)]`: lives in the shared
/// header.
#[repr(C)]
pub(crate) struct Doorbell {
    seq: AtomicU32,
    sleepers: AtomicU32,
    #[cfg(loom)]
    futex: super::slot::futex::Emulated,
}

impl Doorbell {
    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Doorbell {
            seq: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
            #[cfg(loom)]
            futex: super::slot::futex::Emulated::new(),
        }
    }

    /// The value to pass to [`Doorbell::sleep`]; read it before looking
    /// (rule 1). Acquire: pairs with the ringer's Release bump, so whatever
    /// it did before ringing is visible to the look that follows.
    pub(crate) fn seen(&self) -> u32 {
        self.seq.load(Acquire)
    }

    /// Ring: wake sleepers (one if `one`, else all) if there are any.
    pub(crate) fn ring(&self, one: bool) {
        // Release: publishes what we did before ringing (rule 1's Acquire).
        self.seq.fetch_add(1, Release);
        // Rule 2: pairs with the fence in `sleep`.
        fence(SeqCst);
        if self.sleepers.load(Relaxed) > 0 {
            #[cfg(not(loom))]
            let _ = crate::sys::futex::wake(&self.seq, if one { 1 } else { i32::MAX });
            #[cfg(loom)]
            {
                let _ = one;
                self.futex.wake_all();
            }
        }
    }

    /// Sleep until a ring after `seen` (or `timeout`, or spuriously).
    ///
    /// Rule 6: first spin for a moment, watching `seq`; a ring in that
    /// moment ends the wait with no system call on either side.
    pub(crate) fn sleep(&self, seen: u32, timeout: Option<std::time::Duration>) {
        #[cfg(not(loom))]
        for _ in 0..SPIN_ROUNDS {
            // Relaxed: a hint only; the caller's next `seen` (Acquire)
            // gives the ordering (rule 1).
            if self.seq.load(Relaxed) != seen {
                return;
            }
            crate::sync::spin_loop();
        }
        self.sleepers.fetch_add(1, Relaxed);
        // Rule 2: pairs with the fence in `ring`.
        fence(SeqCst);
        #[cfg(not(loom))]
        let _ = crate::sys::futex::wait(&self.seq, seen, timeout);
        #[cfg(loom)]
        {
            let _ = timeout;
            self.futex.wait(&self.seq, seen);
        }
        self.sleepers.fetch_sub(1, Relaxed);
    }
}
