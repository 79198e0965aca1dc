//! A park/unpark token: how a thread sleeps until another one wakes it.
//!
//! ```text
//!            park(): swap NOTIFIED→EMPTY, return at once
//!        ┌──────────────────────────────────────────────┐
//!        ▼                                              │
//!     EMPTY ── park(): CAS EMPTY→PARKED ──► PARKED      │
//!        ▲                                   │          │
//!        │            unpark(): swap →NOTIFIED, notify  │
//!        │                                   ▼          │
//!        └──── park() returns, swap →EMPTY ── NOTIFIED ◄┘ unpark() on EMPTY
//! ```
//!
//! Rules:
//!
//! 1. A token is one bit of memory: any number of `unpark`s before a `park`
//!    make that `park` return at once, once.
//! 2. `park` may return without an `unpark` (never here, but callers must
//!    still re-check their condition in a loop: it is cheaper to reason about).
//! 3. `unpark` is a swap rather than a compare-and-swap: whatever the state,
//!    it must end NOTIFIED, and the previous state tells whether a sleeper
//!    needs the condition variable.
//! 4. The wake-up of a PARKED thread passes through the mutex: `unpark` takes
//!    and releases the lock before `notify_one`, so it cannot slip between the
//!    sleeper's check of the state and its `wait` (the classic lost wake-up).
//!
//! The loom model `loom-tests/sync_parker.rs` checks that an `unpark` racing a
//! `park` is never lost.

use super::atomic::{AtomicUsize, Ordering::*};
use super::{Condvar, Mutex};

const EMPTY: usize = 0; // --> PARKED (park), NOTIFIED (unpark)
const PARKED: usize = 1; // --> NOTIFIED (unpark)
const NOTIFIED: usize = 2; // --> EMPTY (park consumes the token)

/// A one-bit wake-up token with a blocking `park`.
#[derive(Debug)]
pub(crate) struct Parker {
    state: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Self {
        Parker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// Block until a token is available, then consume it.
    pub(crate) fn park(&self) {
        // Fast path: consume a token that is already there. Acquire
        // synchronises with the Release of `unpark`'s swap, so everything the
        // unparking thread wrote before `unpark` is visible after `park`.
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, Acquire, Relaxed)
            .is_ok()
        {
            return;
        }
        let mut guard = super::lock(&self.lock);
        match self.state.compare_exchange(EMPTY, PARKED, Relaxed, Relaxed) {
            Ok(_) => {}
            Err(NOTIFIED) => {
                // Acquire: as above, pairs with the swap in `unpark`.
                let old = self.state.swap(EMPTY, Acquire);
                debug_assert_eq!(old, NOTIFIED);
                return;
            }
            Err(other) => unreachable!("parker in state {other} while parking"),
        }
        loop {
            guard = super::wait(&self.condvar, guard);
            // Acquire pairs with `unpark`'s Release swap (rule 4: the swap
            // happened before the lock we now hold was released).
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Acquire, Relaxed)
                .is_ok()
            {
                return;
            }
            // A spurious wake-up of the condvar: keep waiting (rule 2 is for
            // callers; inside, we wait for a real token).
        }
    }

    /// Make a token available, waking the parked thread if there is one.
    pub(crate) fn unpark(&self) {
        // Release: publishes what this thread wrote before `unpark` to the
        // Acquire in `park`. A swap, not a CAS (rule 3).
        match self.state.swap(NOTIFIED, Release) {
            EMPTY | NOTIFIED => {}
            PARKED => {
                // Rule 4: take the lock so the sleeper is either before its
                // CAS to PARKED (then it sees NOTIFIED) or inside `wait`.
                drop(super::lock(&self.lock));
                self.condvar.notify_one();
            }
            other => unreachable!("parker in state {other}"),
        }
    }
}

impl Default for Parker {
    fn default() -> Self {
        Self::new()
    }
}
