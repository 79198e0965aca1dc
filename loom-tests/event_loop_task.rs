//! Model of `src/event_loop/task.rs`: the state word and reference count
//! of one task, its `JoinHandle` on another thread, wakes racing a poll.
//!
//! The loop is the real `Scheduler` (see `event_loop_remote.rs`); the other
//! thread awaits the `JoinHandle` with a `block_on` on the shim's parker, so
//! its waker, the join-waker slot and the output cell are all checked by
//! loom.
//!
//! Seen to fail (each break made in a scratch copy, never here):
//! - a wake of a RUNNING task submitting a second queue entry (rule 1
//!   broken: `(Notify::Submit, Some((s.0 | SCHEDULED) + REF_ONE))` in the
//!   RUNNING arm of `transition_to_notified`) →
//!   `wake_racing_poll_is_never_lost_nor_doubled`: the debug assertion of
//!   `transition_to_running`, "Snapshot(refs=4 JOIN_INTEREST)" (the
//!   duplicate entry ran a task that was idle, not SCHEDULED). With one wake
//!   the duplicate only ever met a COMPLETE task, harmlessly: hence two.
//! - `set_join_waker` publishing JOIN_WAKER before writing the slot (rule 4
//!   broken) → `join_handle_on_another_thread_gets_exactly_one_outcome`
//!   and `abort_racing_completion_gives_one_outcome`: "Causality violation:
//!   Concurrent read and write accesses" (the loop's `wake_by_ref` against
//!   the handle's write).
//! - the output written after the CAS that sets COMPLETE instead of before
//!   (rule 3 broken) → `join_handle_dropped_racing_completion_drops_output_once`
//!   and `abort_racing_completion_gives_one_outcome`: "Causality violation:
//!   Concurrent write accesses to `UnsafeCell`" (the handle, having seen
//!   COMPLETE, drops the stage while the loop still writes it).
//! - `JoinHandle::drop` emptying the join-waker slot before its CAS
//!   instead of only after one that cleared JOIN_INTEREST before COMPLETE
//!   (rule 4 broken) → `join_handle_polled_then_dropped_racing_completion`:
//!   "Causality violation: Concurrent read and write accesses" (the loop's
//!   `wake_by_ref` against the drop's write).
//!
//! Not a failure, noted: `JoinHandle::drop` skipping `drop_output` after
//! COMPLETE passes every model, because the block's deallocation drops the
//! stage anyway; the output is then dropped later, not never.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

use super::event_loop_remote::{raise, run_until, scheduler, DropCount, FakeFd, Flagged};
use crate::event_loop::executor::Scheduler;
use crate::sync::atomic::{AtomicUsize, Ordering::*};
use crate::sync::parker::Parker;
use crate::sync::{Arc, Mutex};
use loom::thread;

struct ParkWaker(Parker);

// std's `Arc`: the `Wake` trait takes no other. Only the parker inside
// needs to be loom's.
impl Wake for ParkWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// Poll `future` on this thread, parking between polls (loom's own
/// `block_on` needs its `futures` feature).
fn block_on<F: Future>(future: F) -> F::Output {
    let parker = std::sync::Arc::new(ParkWaker(Parker::new()));
    let waker = Waker::from(parker.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        parker.0.park();
    }
}

/// Pending once (waking itself), then ready: its completion can race what
/// another thread does between the two polls.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Wakes from another thread while the loop polls (rule 1): the task is
/// polled again (never lost) and is never in the queue twice. Two wakes,
/// so that a duplicate entry from the first would run on an idle task.
#[test]
fn wake_racing_poll_is_never_lost_nor_doubled() {
    super::model(|| {
        let (sched, fd) = scheduler();
        let slot = Arc::new(Mutex::new((0, None)));
        let polls = Arc::new(AtomicUsize::new(0));
        let task = sched.spawn({
            let polls = polls.clone();
            let mut flagged = Flagged {
                slot: slot.clone(),
                need: 2,
            };
            std::future::poll_fn(move |cx| {
                polls.fetch_add(1, Relaxed);
                Pin::new(&mut flagged).poll(cx)
            })
        });
        let waker = thread::spawn(move || {
            raise(&slot);
            raise(&slot);
        });
        run_until(&sched, &fd, || task.is_finished());
        waker.join().unwrap();
        assert!(polls.load(Relaxed) <= 3);
        drop(task);
        sched.shutdown();
        assert_eq!(Arc::strong_count(&sched.shared), 1);
    });
}

/// The handle awaited on another thread while the task completes (rules 3,
/// 4): exactly one outcome, the output dropped once, the block freed once.
#[test]
fn join_handle_on_another_thread_gets_exactly_one_outcome() {
    super::model(|| {
        let (sched, fd) = scheduler();
        let drops = Arc::new(AtomicUsize::new(0));
        let handle = sched.spawn({
            let output = DropCount(drops.clone());
            async move {
                YieldOnce(false).await;
                output
            }
        });
        let joiner = thread::spawn(move || block_on(handle).is_ok());
        assert!(run_to_the_end(&sched, &fd, joiner, &drops));
    });
}

/// `abort` from another thread racing completion (rule 6): the outcome is
/// the value or a cancellation, never both; the future is dropped once.
#[test]
fn abort_racing_completion_gives_one_outcome() {
    super::model(|| {
        let (sched, fd) = scheduler();
        let future_drops = Arc::new(AtomicUsize::new(0));
        let handle = sched.spawn({
            let guard = DropCount(future_drops.clone());
            async move {
                let _guard = guard;
                YieldOnce(false).await;
                5
            }
        });
        let aborter = thread::spawn(move || {
            handle.abort();
            block_on(handle)
        });
        match run_to_the_end(&sched, &fd, aborter, &future_drops) {
            Ok(value) => assert_eq!(value, 5),
            Err(e) => assert!(e.is_cancelled()),
        }
    });
}

/// The handle dropped on another thread as the task completes (rule 3):
/// whichever side sees the other first drops the output, exactly once.
#[test]
fn join_handle_dropped_racing_completion_drops_output_once() {
    super::model(|| {
        let (sched, fd) = scheduler();
        let drops = Arc::new(AtomicUsize::new(0));
        let handle = sched.spawn({
            let output = DropCount(drops.clone());
            async move { output }
        });
        let dropper = thread::spawn(move || drop(handle));
        run_to_the_end(&sched, &fd, dropper, &drops);
    });
}

/// The handle polled once on another thread (its waker stored, JOIN_WAKER
/// set), then dropped as the task completes (rule 4): the drop empties the
/// join-waker slot only when its CAS, clearing JOIN_INTEREST, came before
/// COMPLETE, so the loop never reads the slot the drop writes; the output
/// is dropped once and the block freed once.
#[test]
fn join_handle_polled_then_dropped_racing_completion() {
    super::model(|| {
        let (sched, fd) = scheduler();
        let drops = Arc::new(AtomicUsize::new(0));
        let mut handle = sched.spawn({
            let output = DropCount(drops.clone());
            async move {
                YieldOnce(false).await;
                output
            }
        });
        let dropper = thread::spawn(move || {
            let waker = Waker::from(std::sync::Arc::new(ParkWaker(Parker::new())));
            let polled = Pin::new(&mut handle).poll(&mut Context::from_waker(&waker));
            drop(polled); // a Ready output is dropped here
            drop(handle);
        });
        run_to_the_end(&sched, &fd, dropper, &drops);
    });
}

/// Run the loop until its tasks are gone, then join `other`: the output
/// (or future) counted by `drops` was dropped exactly once, and once shut
/// down nothing holds the loop's `Shared` but the scheduler itself.
fn run_to_the_end<R>(
    sched: &Scheduler,
    fd: &FakeFd,
    other: thread::JoinHandle<R>,
    drops: &AtomicUsize,
) -> R {
    run_until(sched, fd, || sched.task_count() == 0);
    let outcome = other.join().unwrap();
    let n = drops.load(Relaxed);
    assert_eq!(n, 1, "dropped {n} times");
    sched.shutdown();
    assert_eq!(Arc::strong_count(&sched.shared), 1);
    outcome
}
