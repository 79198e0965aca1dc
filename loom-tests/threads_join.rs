//! Model of `src/threads/join.rs` (with `frame.rs`, `job.rs` and the
//! `SpinLatch` of `latch.rs`): the second half of a join, promoted, stolen.
//!
//! Seen to fail:
//! - `CoreLatch::set`'s swap Relaxed instead of Release → "Causality
//!   violation: Concurrent write accesses to `UnsafeCell`" (the owner's
//!   `into_result` against the thief's write of the result).
//! - `SpinLatch::set` not calling `wake_worker` → "deadlock; threads =
//!   [(Id(0), Blocked), (Id(1), Blocked)]" (the owner asleep on a set
//!   latch, the thief asleep on an empty pool).

use std::ptr;

use crate::sync::atomic::{AtomicUsize, Ordering::*};
use crate::sync::deque::Worker;
use crate::sync::Arc;
use crate::threads::frame::{FrameHead, JoinFrame};
use crate::threads::job::JobRef;
use crate::threads::registry::Registry;
use crate::threads::WaitPolicy;
use loom::thread;

/// The owner (worker 0, this thread) keeps `b` in a `JoinFrame`, promotes
/// it (latch initialised, `JobRef` pushed on its deque, sleepers notified)
/// and runs `a`; a thief (worker 1) looks for work, steals `b` and executes
/// it. The owner then takes `b` back from its deque or waits for its latch
/// (`take_back_or_wait`), through the real sleep protocol. Whatever the
/// interleaving, `b` runs exactly once, its result reaches the owner (job
/// rule 4, frame rule 4: loom checks the latch and result cells), and
/// nobody sleeps forever.
#[test]
fn stolen_second_half_runs_once_and_its_result_arrives() {
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
                        .or_else(|| super::steal_from_others(&registry, 1))
                });
            }
        });

        let runs = Arc::new(AtomicUsize::new(0));
        let frame = JoinFrame::new(
            {
                let runs = runs.clone();
                move || {
                    runs.fetch_add(1, Relaxed);
                    40 + 2
                }
            },
            ptr::null(),
            ptr::null(),
        );
        // Promotion (`WorkerThread::publish_frame`).
        // SAFETY: a pointer to the whole frame, promoted once, by its owner;
        // `frame` stays in this stack frame until `b` is taken back or its
        // latch is set (frame rule 5): both paths below end that way.
        let job_b_ref =
            unsafe { FrameHead::promote(ptr::addr_of!(frame).cast::<FrameHead>(), &registry, 0) };
        let id = frame.head.id();
        owner_deque.push(job_b_ref);
        registry.sleep.notify_new_work(1);

        let result_a = 1; // `a` runs here.

        // `take_back_or_wait`.
        let latch = frame.head.latch().core();
        let taken_back = loop {
            if latch.probe() {
                break false;
            }
            match owner_deque.pop() {
                Some(job) if job.id() == id => {
                    drop(job); // job rule 1: ours again, unexecuted
                    break true;
                }
                Some(_) => unreachable!("only `b` was published"),
                None => {
                    super::wait_until_set(&registry, 0, latch, || {
                        owner_deque
                            .pop()
                            .or_else(|| super::steal_from_others(&registry, 0))
                    });
                    break false;
                }
            }
        };
        let result_b = if taken_back {
            // SAFETY: taken back unexecuted, and taken only here (frame
            // rule 6).
            let b = unsafe { frame.take_func() };
            b()
        } else {
            frame.into_result().unwrap()
        };
        assert_eq!((result_a, result_b), (1, 42));

        registry.terminate();
        thief.join().unwrap();
        assert_eq!(runs.load(Relaxed), 1, "`b` not executed exactly once");
    });
}
