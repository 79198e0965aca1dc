//! Latches: a one-way flag a thread waits on until another thread sets it.
//!
//! A pool worker that waits (for the stolen half of a `join`, for a scope's
//! jobs) does not block: it keeps running other jobs and only falls asleep
//! when there is nothing to do. Its latch therefore has to know whether its
//! owner is asleep, so that the setter wakes it exactly when needed:
//!
//! ```text
//!              owner: get_sleepy        owner: fall_asleep
//!     UNSET ─────────────────────► SLEEPY ─────────────────► SLEEPING
//!       ▲  ▲        owner: wake_up   │                          │
//!       │  └─────────────────────────┘ (back to work)           │
//!       └────────────────────────────────── owner: wake_up ─────┘
//!
//!     any state ── setter: swap(SET) ──► SET   (final; if the swap saw
//!                                               SLEEPING the setter wakes
//!                                               the owner)
//! ```
//!
//! Rules:
//!
//! 1. Only the owner moves the latch between UNSET, SLEEPY and SLEEPING, each
//!    time with a CAS that fails if the latch was SET meanwhile.
//! 2. The setter swaps SET in unconditionally (a swap, not a CAS: whatever
//!    the state, it must end SET) and wakes the owner iff it saw SLEEPING.
//!    An owner that was only SLEEPY re-checks the latch before it parks
//!    (its CAS SLEEPY→SLEEPING fails), so it cannot miss the set.
//! 3. The swap is the setter's last access to the latch: the owner may free
//!    the latch (and the job around it) as soon as it observes SET. Whatever
//!    the setter needs afterwards (registry, owner index) it copies first.
//! 4. The swap is Release (publishing the job's result, job rule 4) and the
//!    owner's `probe` is Acquire.
//!
//! Loom models: `loom-tests/threads_latch.rs` (set racing the owner falling
//! asleep; a `CrossPoolLatch` set by another pool's worker) and
//! `loom-tests/threads_join.rs` (a stolen half setting the latch).

use super::registry::Registry;
use crate::sync::atomic::{AtomicUsize, Ordering::*};
use crate::sync::{Arc, Condvar, Mutex};

/// Something a job sets when it completes.
pub(crate) trait Latch {
    /// Set the latch (rule 2), waking its owner if it sleeps.
    ///
    /// # Safety
    ///
    /// `this` must be alive on entry; it may be freed by the owner the
    /// instant the latch becomes set, so implementations must not touch it
    /// after that (rule 3).
    unsafe fn set(this: *const Self);
}

const UNSET: usize = 0; // --> SLEEPY (owner), SET (setter)
const SLEEPY: usize = 1; // --> UNSET, SLEEPING (owner), SET (setter)
const SLEEPING: usize = 2; // --> UNSET (owner, after waking), SET (setter)
const SET: usize = 3; // final

/// The state word shared by the worker-owned latches.
#[derive(Debug)]
pub(crate) struct CoreLatch {
    state: AtomicUsize,
}

impl CoreLatch {
    pub(crate) fn new() -> Self {
        CoreLatch {
            state: AtomicUsize::new(UNSET),
        }
    }

    /// Whether the latch is set. Acquire pairs with the setter's Release
    /// swap (rule 4).
    #[inline]
    pub(crate) fn probe(&self) -> bool {
        self.state.load(Acquire) == SET
    }

    /// UNSET → SLEEPY; false if the latch is set (rule 1).
    pub(crate) fn get_sleepy(&self) -> bool {
        self.state
            .compare_exchange(UNSET, SLEEPY, Relaxed, Relaxed)
            .is_ok()
    }

    /// SLEEPY → SLEEPING; false if the latch was set meanwhile (rule 1). The
    /// caller parks only if this returns true.
    pub(crate) fn fall_asleep(&self) -> bool {
        self.state
            .compare_exchange(SLEEPY, SLEEPING, Relaxed, Relaxed)
            .is_ok()
    }

    /// SLEEPY/SLEEPING → UNSET after the owner woke up, unless set (rule 1).
    pub(crate) fn wake_up(&self) {
        if !self.probe() {
            let _ = self
                .state
                .compare_exchange(SLEEPING, UNSET, Relaxed, Relaxed);
            let _ = self.state.compare_exchange(SLEEPY, UNSET, Relaxed, Relaxed);
        }
    }

    /// Set the latch; true if the owner was asleep and must be woken.
    ///
    /// # Safety
    ///
    /// `this` is alive on entry; the caller must not touch it afterwards
    /// (rule 3).
    #[inline]
    pub(crate) unsafe fn set(this: *const Self) -> bool {
        // SAFETY: alive on entry (caller); this swap is our last access.
        // Release publishes the job's result (rule 4); Acquire is not needed
        // for the owner's state, only its value.
        let old = unsafe { (*this).state.swap(SET, Release) };
        old == SLEEPING
    }
}

/// The latch of a job whose waiter is a pool worker: setting it wakes that
/// worker through the pool's sleep protocol.
pub(crate) struct SpinLatch {
    core: CoreLatch,
    registry: *const Registry,
    owner: usize,
}

impl SpinLatch {
    /// A latch owned by worker `owner` of `registry`.
    pub(crate) fn new(registry: &Registry, owner: usize) -> Self {
        SpinLatch {
            core: CoreLatch::new(),
            registry,
            owner,
        }
    }

    pub(crate) fn core(&self) -> &CoreLatch {
        &self.core
    }
}

impl Latch for SpinLatch {
    unsafe fn set(this: *const Self) {
        // Rule 3: copy what we need before the latch may be freed.
        // SAFETY: `this` is alive on entry (caller).
        let (registry, owner) = unsafe { ((*this).registry, (*this).owner) };
        // SAFETY: alive on entry; not touched after this call (rule 3).
        if unsafe { CoreLatch::set(&(*this).core) } {
            // SAFETY: a SpinLatch is a join frame's (frame.rs), so its job
            // runs on a worker of the same pool (only they steal from that
            // pool's deques), whose WorkerThread holds an Arc of this
            // registry for as long as we run. (Across pools the setter holds
            // no such Arc: `CrossPoolLatch`.)
            unsafe { (*registry).sleep.wake_worker(owner) };
        }
    }
}

/// The latch of a job injected into one pool by a worker of *another*
/// pool, which waits for it while running its own pool's work
/// (`Registry::in_worker`). Setting it wakes that worker through its own
/// pool's sleep protocol.
///
/// Unlike a [`SpinLatch`], the setter is not a worker of the owner's pool
/// and so holds no reference that keeps that registry alive: once the swap
/// is done the owner may wake for another reason, see the latch set, return,
/// and its pool may be dropped before the setter calls `wake_worker`. So the
/// setter takes its own `Arc` of the registry *before* the swap (rule 3).
pub(crate) struct CrossPoolLatch {
    core: CoreLatch,
    registry: Arc<Registry>,
    owner: usize,
}

impl CrossPoolLatch {
    /// A latch owned by worker `owner` of `registry`.
    pub(crate) fn new(registry: &Arc<Registry>, owner: usize) -> Self {
        CrossPoolLatch {
            core: CoreLatch::new(),
            registry: Arc::clone(registry),
            owner,
        }
    }

    pub(crate) fn core(&self) -> &CoreLatch {
        &self.core
    }
}

impl Latch for CrossPoolLatch {
    unsafe fn set(this: *const Self) {
        // Rule 3: our own reference to the registry, taken while the latch
        // is certainly alive, keeps it alive past the swap.
        // SAFETY: `this` is alive on entry (caller).
        let (registry, owner) = unsafe { (Arc::clone(&(*this).registry), (*this).owner) };
        // SAFETY: alive on entry; not touched after this call (rule 3).
        if unsafe { CoreLatch::set(&(*this).core) } {
            registry.sleep.wake_worker(owner);
        }
    }
}

/// The latch of a job whose waiter is a thread outside the pool: it blocks
/// on a condition variable.
pub(crate) struct LockLatch {
    /// Shared with the setter for the duration of `set`: unlocking a mutex
    /// touches it after the store that lets the waiter go, so the waiter
    /// must not be the only owner of the memory (Miri caught the stack
    /// version being freed inside the setter's unlock).
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl LockLatch {
    pub(crate) fn new() -> Self {
        LockLatch {
            inner: Arc::new((Mutex::new(false), Condvar::new())),
        }
    }

    /// Block until the latch is set.
    pub(crate) fn wait(&self) {
        let (set, condvar) = &*self.inner;
        let mut set = crate::sync::lock(set);
        while !*set {
            set = crate::sync::wait(condvar, set);
        }
    }
}

impl Latch for LockLatch {
    unsafe fn set(this: *const Self) {
        // SAFETY: `this` is alive on entry (caller). We take our own
        // reference to the shared state first, and touch `this` no more: the
        // waiter may free the latch as soon as it sees `true` (rule 3), while
        // our unlock still runs on memory our `Arc` keeps alive.
        let inner = unsafe { (*this).inner.clone() };
        let (set, condvar) = &*inner;
        let mut guard = crate::sync::lock(set);
        *guard = true;
        condvar.notify_all();
        drop(guard);
    }
}

/// A counting latch: set when the count drops to zero. Each count is a
/// share of the work still running; whoever gives back the last share sets
/// the latch.
pub(crate) struct CountLatch {
    count: AtomicUsize,
    latch: SpinLatch,
}

impl CountLatch {
    /// A latch holding one share (for its owner). (The loom models use it.)
    #[cfg_attr(not(loom), allow(dead_code))]
    pub(crate) fn new(registry: &Registry, owner: usize) -> Self {
        Self::with_count(registry, owner, 1)
    }

    /// A latch holding `shares` shares.
    pub(crate) fn with_count(registry: &Registry, owner: usize, shares: usize) -> Self {
        CountLatch {
            count: AtomicUsize::new(shares),
            latch: SpinLatch::new(registry, owner),
        }
    }

    /// Give back `shares` shares at once; sets the latch if none are left.
    ///
    /// # Safety
    ///
    /// As [`Latch::set`]: `this` is alive on entry and may be freed as soon
    /// as the count reaches zero.
    pub(crate) unsafe fn release(this: *const Self, shares: usize) {
        // AcqRel: Release publishes this job's writes to whoever brings the
        // count to zero; that one's Acquire sees every job's writes before it
        // sets the inner latch (whose Release/Acquire passes them on).
        // SAFETY: alive on entry: the owner waits for the count to reach zero.
        if unsafe { (*this).count.fetch_sub(shares, AcqRel) } == shares {
            // SAFETY: still alive: the owner waits for the inner latch, which
            // only this call sets; rule 3 is then kept by `SpinLatch::set`.
            unsafe { SpinLatch::set(&(*this).latch) };
        }
    }

    /// One more job to wait for. Relaxed: the increment happens before the
    /// job is published, and publishing synchronises (deque push/steal).
    pub(crate) fn increment(&self) {
        let old = self.count.fetch_add(1, Relaxed);
        debug_assert!(old > 0, "scope counter incremented after it reached zero");
    }

    pub(crate) fn spin_latch(&self) -> &SpinLatch {
        &self.latch
    }
}

impl Latch for CountLatch {
    unsafe fn set(this: *const Self) {
        // SAFETY: the caller's guarantee, passed on.
        unsafe { Self::release(this, 1) }
    }
}
