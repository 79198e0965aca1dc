//! Model of `src/threads/latch.rs`: a set is never missed by an owner that
//! falls asleep, a `LockLatch` waiter always wakes, and a `CountLatch` is set
//! once, after the last decrement.
//!
//! Seen to fail:
//! - `CoreLatch::set` never reporting SLEEPING (`false` instead of
//!   `old == SLEEPING`) → `core_latch_set_racing_owner_falling_asleep`:
//!   "deadlock; threads = [(Id(0), Blocked), (Id(1), Terminated)]".
//! - `LockLatch::set` without `notify_all` → `lock_latch_set_racing_wait`:
//!   deadlock, the waiter blocked forever.
//! - `CoreLatch::set`'s swap Relaxed instead of Release →
//!   `core_latch_set_racing_owner_falling_asleep`: "Causality violation:
//!   Concurrent read and write accesses" (rule 4).
//! - `CountLatch::release` with `fetch_sub(shares, Relaxed)` instead of
//!   `AcqRel` → `count_latch_two_decrements_set_once`: "Causality
//!   violation: Concurrent read and write accesses" (the owner read the slot
//!   of the thread whose decrement was not the last).
//! - `CrossPoolLatch::set` not calling `wake_worker` →
//!   `cross_pool_latch_wakes_its_owner_through_its_own_pool`: "deadlock;
//!   threads = [(Id(0), Blocked), (Id(1), Blocked)]" (the waiter asleep in
//!   its pool, the other pool's worker asleep in its own).
//!
//! Not caught: `CrossPoolLatch::set` cloning its `Arc` of the registry
//! *after* the swap (latch rule 3 broken) passes the model: the clone then
//! reads a latch the waiter has already moved out of its stack frame, and
//! loom does not track plain memory. Rule 3 rests on the code's shape (the
//! clone is the first statement of `set`), not on this model.

use crate::sync::cell::UnsafeCell;
use crate::sync::deque::Worker;
use crate::sync::parker::Parker;
use crate::sync::Arc;
use crate::threads::job::JobRef;
use crate::threads::job::StackJob;
use crate::threads::latch::{CoreLatch, CountLatch, CrossPoolLatch, Latch, LockLatch};
use crate::threads::registry::Registry;
use crate::threads::WaitPolicy;
use loom::thread;

/// `CoreLatch::set` racing its owner going UNSET → SLEEPY → SLEEPING → park
/// on a `Parker`, the setter unparking iff its swap saw SLEEPING (latch rule
/// 2). The owner never sleeps forever, and sees the setter's write once it
/// sees SET (rule 4).
#[test]
fn core_latch_set_racing_owner_falling_asleep() {
    super::model(|| {
        let shared = Arc::new((CoreLatch::new(), Parker::new(), UnsafeCell::new(0u32)));
        let setter = thread::spawn({
            let shared = shared.clone();
            move || {
                let (latch, parker, result) = &*shared;
                // SAFETY: written only here, before the set; read by the
                // owner only after it saw SET (latch rule 4).
                result.with_mut(|p| unsafe { *p = 42 });
                // SAFETY: the latch is alive (the Arc); untouched after.
                if unsafe { CoreLatch::set(latch) } {
                    parker.unpark();
                }
            }
        });
        let (latch, parker, result) = &*shared;
        loop {
            if latch.probe() {
                break;
            }
            if !latch.get_sleepy() {
                continue;
            }
            if latch.fall_asleep() {
                parker.park();
            }
            latch.wake_up();
        }
        // SAFETY: the latch is SET, so the write happened before (rule 4).
        assert_eq!(result.with(|p| unsafe { *p }), 42);
        setter.join().unwrap();
    });
}

/// `LockLatch`: a set racing `wait` always wakes the waiter, and the
/// setter's writes are visible after `wait`.
#[test]
fn lock_latch_set_racing_wait() {
    super::model(|| {
        let shared = Arc::new((LockLatch::new(), UnsafeCell::new(0u32)));
        let setter = thread::spawn({
            let shared = shared.clone();
            move || {
                let (latch, result) = &*shared;
                // SAFETY: as in the model above.
                result.with_mut(|p| unsafe { *p = 42 });
                // SAFETY: the latch is alive (the Arc).
                unsafe { LockLatch::set(latch) };
            }
        });
        let (latch, result) = &*shared;
        latch.wait();
        // SAFETY: the set happened before `wait` returned (the mutex).
        assert_eq!(result.with(|p| unsafe { *p }), 42);
        setter.join().unwrap();
    });
}

/// What the `CountLatch` model shares.
struct Counted {
    /// Points at `registry`'s contents, which the Arc keeps in place.
    latch: CountLatch,
    registry: Arc<Registry>,
    slots: [UnsafeCell<u32>; 2],
}

// SAFETY: `latch` holds a raw pointer to the registry, kept alive by the Arc
// beside it; the registry and the cells are shared as the protocol allows.
unsafe impl Send for Counted {}
// SAFETY: as above.
unsafe impl Sync for Counted {}

/// A `CountLatch` at 2 (one increment, as a scope with one spawn), brought
/// to zero by two threads at once, while its owner waits through the real
/// sleep protocol (`SpinLatch` → `Sleep::wake_worker`). The latch is set
/// (the owner wakes) and only after both decrements: the owner then sees
/// both threads' writes, which loom checks on the cells.
///
/// A second set would be a swap of SET over SET that nobody can observe;
/// what can go wrong, and is checked, is a set that is early (a slot read
/// racing its write) or missing (the owner asleep forever).
#[test]
fn count_latch_two_decrements_set_once() {
    super::model(|| {
        // Worker 0, the owner, is the only worker of this registry.
        let deque = Worker::<JobRef>::new_lifo();
        let registry = Arc::new(Registry::new(
            vec![deque.stealer()],
            WaitPolicy::StealAny,
            false,
            0,
            None,
            None,
        ));
        let shared = Arc::new(Counted {
            latch: CountLatch::new(&registry, 0),
            registry,
            slots: [UnsafeCell::new(0), UnsafeCell::new(0)],
        });
        shared.latch.increment();
        let decrementers: Vec<_> = (0..2)
            .map(|i| {
                let shared = shared.clone();
                thread::spawn(move || {
                    // SAFETY: slot `i` is written only here, before this
                    // thread's decrement; read by the owner after the set.
                    shared.slots[i].with_mut(|p| unsafe { *p = i as u32 + 1 });
                    // SAFETY: alive (the Arc); the count is not at zero yet.
                    unsafe { CountLatch::set(&shared.latch) };
                })
            })
            .collect();
        let core = shared.latch.spin_latch().core();
        super::wait_until_set(&shared.registry, 0, core, || None);
        for (i, slot) in shared.slots.iter().enumerate() {
            // SAFETY: the latch is set after both decrements (AcqRel chain).
            assert_eq!(slot.with(|p| unsafe { *p }), i as u32 + 1);
        }
        for decrementer in decrementers {
            decrementer.join().unwrap();
        }
    });
}

/// A worker of pool A waits for a job it injected into pool B
/// (`Registry::in_worker_cross`): B's only worker runs it and sets its
/// `CrossPoolLatch`, which must wake the waiter through *A's* sleep protocol
/// (the waiter sleeps there, not in B). The waiter sees B's write of the
/// result once it sees the latch set (rule 4), and drops its own reference
/// to A's registry at once: the setter's `wake_worker` may still be running
/// then, on the registry kept alive by the `Arc` the setter cloned before
/// its swap (rule 3); loom checks that every `Arc` is released exactly once,
/// though not that the clone came first (see the top of this file).
#[test]
fn cross_pool_latch_wakes_its_owner_through_its_own_pool() {
    super::model(|| {
        let registry = |deque: &Worker<JobRef>| {
            Arc::new(Registry::new(
                vec![deque.stealer()],
                WaitPolicy::StealAny,
                false,
                0,
                None,
                None,
            ))
        };
        let (deque_a, deque_b) = (Worker::<JobRef>::new_lifo(), Worker::<JobRef>::new_lifo());
        let (pool_a, pool_b) = (registry(&deque_a), registry(&deque_b));
        let worker_b = thread::spawn({
            let pool_b = pool_b.clone();
            move || {
                super::run_until_terminated(&pool_b, 0, || {
                    deque_b.pop().or_else(|| pool_b.steal_injected(&deque_b))
                });
            }
        });

        // This thread is worker 0 of pool A.
        let job = StackJob::new(|| 40 + 2, CrossPoolLatch::new(&pool_a, 0));
        // SAFETY: `wait_until_set` below returns only once the latch is set,
        // so `job` stays in place until it has run (job rule 2).
        let job_ref = unsafe { job.as_job_ref(std::ptr::null()) };
        pool_b.inject(job_ref);
        super::wait_until_set(&pool_a, 0, job.latch.core(), || deque_a.pop());
        assert_eq!(job.into_result().unwrap(), 42);
        drop(pool_a); // racing the setter's `wake_worker` (rule 3)

        pool_b.terminate();
        worker_b.join().unwrap();
    });
}
