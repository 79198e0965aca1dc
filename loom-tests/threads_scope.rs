//! Model of `src/threads/scope.rs`: completion counting with a `CountLatch`
//! (scope rule 1: the body's block of shares, its private tally, one share
//! per other spawn), and the shares finished jobs leave with the worker
//! that ran them (`worker.rs`, rules 4-6), through the real pool.
//!
//! Seen to fail:
//! - `CountLatch::release` with `fetch_sub(shares, Relaxed)` instead of
//!   `AcqRel` → "Causality violation: Concurrent read and write accesses"
//!   (the owner read the slot of a job whose release was not the last).
//! - `CountLatch::increment` adding no share → "assertion `left == right`
//!   failed: left 0, right 3" (the count reached zero with the nested job
//!   still queued; the owner stopped waiting and read its empty slot).
//! - `WorkerThread::wait_until_cold` without its `release_held()` when the
//!   search for work comes back empty (worker rule 5) →
//!   `held_shares_are_released_and_the_scope_ends`: "deadlock" (both
//!   workers asleep, the last shares held by one of them, the caller
//!   blocked in `install`).
//! - `CountLatch::release` with `fetch_sub(shares, Relaxed)` → the same
//!   model: "Causality violation" on a slot (worker rule 6).

use std::ptr;

use crate::sync::cell::UnsafeCell;
use crate::sync::deque::Worker;
use crate::sync::Arc;
use crate::threads::job::{HeapJob, JobRef};
use crate::threads::latch::{CountLatch, Latch};
use crate::threads::registry::Registry;
use crate::threads::WaitPolicy;
use loom::thread;

/// `scope.rs`'s `BODY_SHARE`: the shares the body holds while it runs.
const BODY_SHARE: usize = 1 << (usize::BITS - 2);

/// A scope's state on its owner's stack (scope rule 2): the count and what
/// the jobs write.
struct ScopeState {
    latch: CountLatch,
    registry: Arc<Registry>,
    slots: [UnsafeCell<u32>; 3],
}

/// A pointer to the scope that jobs carry to other threads (as `ScopePtr`).
#[derive(Clone, Copy)]
struct ScopePtr(*const ScopeState);

// SAFETY: the scope outlives its jobs (scope rule 2: the owner waits for the
// count to reach zero), and jobs touch it only through the latch, the
// registry and their own slot.
unsafe impl Send for ScopePtr {}

impl ScopePtr {
    /// A method, so closures capture the whole (Send) wrapper.
    fn get(self) -> *const ScopeState {
        self.0
    }
}

/// Scope job `i`, as `Scope::spawn` builds it: its work (write slot `i`;
/// job 0 also spawns job 2), then give back its share.
fn scope_job(scope: ScopePtr, i: usize) -> JobRef {
    let job = move || {
        // SAFETY: the scope outlives its jobs (rule 2).
        let state = unsafe { &*scope.get() };
        // SAFETY: slot `i` is this job's alone until its share is given back.
        state.slots[i].with_mut(|p| unsafe { *p = i as u32 + 1 });
        if i == 0 {
            // A spawn from a job, not from the running body: one share
            // before the job is published (rule 1).
            state.latch.increment();
            state.registry.inject(scope_job(scope, 2));
        }
        // SAFETY: alive until the count reaches zero, this call at the
        // earliest (rules 1, 2).
        unsafe { CountLatch::set(&state.latch) };
    };
    HeapJob::into_job_ref(job, ptr::null())
}

/// A scope on worker 0 (this thread): its body spawns two jobs (counted in
/// the private tally, pushed on the owner's deque), one of which spawns a
/// third from wherever it runs (one more share); the body gives back
/// `BODY_SHARE - tally` and the owner waits, running what it finds, while
/// worker 1 steals. Once the latch is set the owner sees every job's write
/// (loom checks the cells), and the wait always ends.
#[test]
fn owner_sees_every_job_once_the_count_is_zero() {
    super::model(|| {
        let owner_deque = Worker::<JobRef>::new_lifo();
        let thief_deque = Worker::<JobRef>::new_lifo();
        let registry = Arc::new(Registry::new(
            vec![owner_deque.stealer(), thief_deque.stealer()],
            WaitPolicy::StealAny,
            false,
            0,
            None,
            None,
        ));
        let thief = thread::spawn({
            let registry = registry.clone();
            move || {
                super::run_until_terminated(&registry, 1, || {
                    thief_deque
                        .pop()
                        .or_else(|| registry.steal_injected(&thief_deque))
                        .or_else(|| super::steal_from_others(&registry, 1))
                });
            }
        });

        let scope = ScopeState {
            latch: CountLatch::with_count(&registry, 0, BODY_SHARE),
            registry: registry.clone(),
            slots: [UnsafeCell::new(0), UnsafeCell::new(0), UnsafeCell::new(0)],
        };
        let mut tally = 0;
        for i in 0..2 {
            tally += 1; // rule 1: the body's own spawn, no shared write
            owner_deque.push(scope_job(ScopePtr(&scope), i)); // `WorkerThread::push`
            registry.sleep.notify_new_work(1);
        }
        // The body returned: give back its shares less its tally (rule 1).
        // SAFETY: the latch is ours and alive until we saw it set.
        unsafe { CountLatch::release(&scope.latch, BODY_SHARE - tally) };
        super::wait_until_set(&registry, 0, scope.latch.spin_latch().core(), || {
            owner_deque
                .pop()
                .or_else(|| registry.steal_injected(&owner_deque))
                .or_else(|| super::steal_from_others(&registry, 0))
        });
        for (i, slot) in scope.slots.iter().enumerate() {
            // SAFETY: the count reached zero after every job's release.
            assert_eq!(slot.with(|p| unsafe { *p }), i as u32 + 1);
        }

        registry.terminate();
        thief.join().unwrap();
    });
}

/// A job's output cell, written by the job and read by the caller once
/// the scope has returned.
struct Slot(UnsafeCell<u32>);

// SAFETY: each slot is written by one job and read only after the scope
// ended, which happens after every job (scope rule 1, worker rule 6); loom
// checks exactly that.
unsafe impl Sync for Slot {}

/// Worker rules 4-6 through the real pool (two workers, `CURRENT` a loom
/// thread-local): a scope's body spawns two jobs (inline in their `JobRef`s,
/// job rule 6); whoever runs a job holds its share and must give it back
/// when it runs out of work, or the scope never ends; the caller sees both
/// jobs' writes once `scope` returned.
#[test]
fn held_shares_are_released_and_the_scope_ends() {
    super::model(|| {
        let pool = crate::threads::ThreadPool::builder()
            .num_threads(2)
            .build()
            .unwrap();
        let slots = [Slot(UnsafeCell::new(0)), Slot(UnsafeCell::new(0))];
        pool.scope(|s| {
            for (i, slot) in slots.iter().enumerate() {
                s.spawn(move |_| {
                    // SAFETY: this job's slot alone, until the scope ends.
                    slot.0.with_mut(|p| unsafe { *p = i as u32 + 1 });
                });
            }
        })
        .unwrap();
        for (i, slot) in slots.iter().enumerate() {
            // SAFETY: the scope ended after both jobs (rule 1, worker rule 6).
            assert_eq!(slot.0.with(|p| unsafe { *p }), i as u32 + 1);
        }
        drop(pool);
    });
}
