//! Unit tests of the event loop's unsafe core, small enough for Miri.
//!
//! The task block (`task.rs`: one allocation, the state word's reference
//! count, the stage cell, the join-waker slot), the waker vtables
//! (`waker.rs`), the remote inbox (`remote.rs`) and the channel
//! (`channel.rs`) are driven here through the real [`Scheduler`], with a
//! parker standing in for epoll, as the loom models do: Miri cannot run
//! mio's epoll and the timerfd, and none of the unsafe code is in them. So
//! `cargo +nightly miri test --lib` checks every allocation, reference-count
//! hand-off and cross-thread wake of a task for undefined behaviour under
//! Stacked and Tree Borrows. The integration tests in `tests/event_loop_*`
//! cover the same API through `EventLoop` at full size.

use std::cell::Cell as StdCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use super::executor::Scheduler;
use super::remote::{Remote, Unpark};
use super::task::JoinHandle;
use super::waker;
use crate::sync::parker::Parker;

/// Rounds of each stress loop: small under Miri, which interprets every
/// instruction.
const ROUNDS: usize = if cfg!(miri) { 4 } else { 200 };

/// The poller's wake-up: a parker instead of an eventfd.
struct ParkUnpark {
    parker: Parker,
}

struct Poller(Arc<ParkUnpark>);

impl Unpark for Poller {
    fn unpark(&self) {
        self.0.parker.unpark();
    }
}

fn scheduler() -> (Scheduler, Arc<ParkUnpark>) {
    let poller = Arc::new(ParkUnpark {
        parker: Parker::new(),
    });
    (Scheduler::new(Box::new(Poller(poller.clone()))), poller)
}

/// `Core::turn` without epoll and timers, until `done`.
fn run_until(sched: &Scheduler, poller: &ParkUnpark, done: impl Fn() -> bool) {
    loop {
        sched.run_batch();
        if done() {
            return;
        }
        if sched.is_idle() {
            sched.shared.park(|may_sleep| {
                if may_sleep {
                    poller.parker.park();
                }
            });
        }
    }
}

struct ThreadWaker(Parker);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Poll `future` on this thread (not a loop thread), parking between polls.
fn block_on<F: Future>(future: F) -> F::Output {
    let parker = Arc::new(ThreadWaker(Parker::new()));
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

/// Pending `n` times, waking itself each time, then ready.
struct Yield(usize);

impl Future for Yield {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Completes once another thread has raised the count to `need`, waking it
/// through the waker it registered last (a clone of the task's waker).
struct Flagged {
    slot: Arc<Mutex<(usize, Option<Waker>)>>,
    need: usize,
}

impl Future for Flagged {
    type Output = usize;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let mut slot = self.slot.lock().unwrap();
        if slot.0 >= self.need {
            Poll::Ready(slot.0)
        } else {
            slot.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Counts its drops: each future and output is dropped exactly once.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn tasks_run_yield_and_hand_their_output_to_the_loop() {
    // Local spawns, self-wakes (the remote inbox, since no `Core` is
    // current), JoinHandles awaited by another task on the same loop, and
    // heap outputs moved out of the block.
    let (sched, poller) = scheduler();
    let total = Rc::new(StdCell::new(0usize));
    let handles: Vec<JoinHandle<String>> = (0..3)
        .map(|i| {
            sched.spawn(async move {
                Yield(i).await;
                "x".repeat(i + 1)
            })
        })
        .collect();
    let sum = total.clone();
    let collector = sched.spawn(async move {
        for handle in handles {
            sum.set(sum.get() + handle.await.unwrap().len());
        }
    });
    run_until(&sched, &poller, || total.get() == 6);
    assert_eq!(total.get(), 6);
    assert!(collector.is_finished());
    drop(collector);
    assert_eq!(sched.task_count(), 0);
    sched.shutdown();
}

#[test]
fn join_handle_awaited_on_another_thread() {
    // The output crosses threads through the stage cell (task rule 3) and
    // the join waker is written by the other thread (task rule 4), racing the
    // loop's completion.
    let (sched, poller) = scheduler();
    let handle = sched.spawn(async {
        Yield(2).await;
        vec![7u64; 3]
    });
    // The waiter tells the loop it is done through a task of the loop.
    let slot = Arc::new(Mutex::new((0usize, None::<Waker>)));
    let told = sched.spawn(Flagged {
        slot: slot.clone(),
        need: 1,
    });
    let waiter = thread::spawn(move || {
        let value = block_on(handle).unwrap();
        let waker = {
            let mut slot = slot.lock().unwrap();
            slot.0 = 1;
            slot.1.take()
        };
        waker.into_iter().for_each(Waker::wake);
        value
    });
    run_until(&sched, &poller, || told.is_finished());
    assert_eq!(waiter.join().unwrap(), [7, 7, 7]);
    assert_eq!(block_on(told).unwrap(), 1);
    sched.shutdown();
}

#[test]
fn a_task_spawned_outside_any_loop_is_finished_with_its_error() {
    // task::outside_loop: made, failed and released on this thread; the
    // handle alone survives, and its output is read (or dropped) once.
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Count(Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let count = Count(dropped.clone());
    let handle = super::spawn(async move {
        let _count = count;
        vec![1u8; 3]
    });
    assert_eq!(dropped.load(SeqCst), 1, "the future is dropped at once");
    assert!(handle.is_finished());
    // Awaited on another thread, as a `Send` handle may be.
    let error = thread::spawn(move || block_on(handle).unwrap_err())
        .join()
        .unwrap();
    assert!(error.is_outside_loop());
    // Dropped unawaited.
    drop(super::spawn(async { vec![2u8; 3] }));
}

#[test]
fn wakers_cloned_woken_and_dropped_on_other_threads() {
    // task_clone / task_wake / task_wake_by_ref / task_drop from other
    // threads, racing the loop's polls and parks (waker.rs, task rule 5).
    let (sched, poller) = scheduler();
    let slot = Arc::new(Mutex::new((0usize, None::<Waker>)));
    let need = 2 * ROUNDS;
    let handle = sched.spawn(Flagged {
        slot: slot.clone(),
        need,
    });
    let wakers: Vec<_> = (0..2)
        .map(|_| {
            let slot = slot.clone();
            thread::spawn(move || {
                for round in 0..ROUNDS {
                    let waker = {
                        let mut slot = slot.lock().unwrap();
                        slot.0 += 1;
                        slot.1.clone()
                    };
                    if let Some(waker) = waker {
                        let extra = waker.clone();
                        if round % 2 == 0 {
                            waker.wake();
                            drop(extra);
                        } else {
                            extra.wake_by_ref();
                        }
                    }
                }
                // Wake once more with the last waker, so the final count is
                // seen whatever the interleaving.
                let waker = slot.lock().unwrap().1.take();
                if let Some(waker) = waker {
                    waker.wake();
                }
            })
        })
        .collect();
    for waker in wakers {
        waker.join().unwrap();
    }
    run_until(&sched, &poller, || handle.is_finished());
    assert_eq!(block_on(handle).unwrap(), need);
    drop(slot);
    sched.shutdown();
}

#[test]
fn abort_and_detach_drop_every_future_and_output_once() {
    let (sched, poller) = scheduler();
    let futures = Arc::new(AtomicUsize::new(0));
    let outputs = Arc::new(AtomicUsize::new(0));
    let slot = Arc::new(Mutex::new((0usize, None::<Waker>)));

    // Aborted from another thread while idle: the loop drops the future.
    let (f, s) = (DropCount(futures.clone()), slot.clone());
    let aborted = sched.spawn(async move {
        let _f = f;
        Flagged { slot: s, need: 1 }.await
    });
    // Detached before it completes: the loop drops the output.
    let (f, o) = (DropCount(futures.clone()), outputs.clone());
    drop(sched.spawn(async move {
        let _f = f;
        Yield(1).await;
        DropCount(o)
    }));
    // Completed, then its handle dropped unread: the handle drops it.
    let (f, o) = (DropCount(futures.clone()), outputs.clone());
    let unread = sched.spawn(async move {
        let _f = f;
        DropCount(o)
    });
    // A panic: the payload goes to the handle.
    let panicked = sched.spawn(async {
        Yield(1).await;
        panic!("boom")
    });

    run_until(&sched, &poller, || {
        unread.is_finished() && panicked.is_finished()
    });
    let aborted = thread::spawn(move || {
        aborted.abort();
        aborted
    })
    .join()
    .unwrap();
    run_until(&sched, &poller, || aborted.is_finished());
    assert!(block_on(aborted).unwrap_err().is_cancelled());
    drop(unread);
    let error = block_on(panicked).unwrap_err();
    assert_eq!(error.panic_message(), Some("boom"));
    assert_eq!(futures.load(SeqCst), 3);
    assert_eq!(outputs.load(SeqCst), 2);
    assert_eq!(sched.task_count(), 0);
    sched.shutdown();
}

/// A handle that drops an output whose destructor panics: the output is
/// dropped once, the panic comes out of the handle's drop, and the block is
/// freed (Miri reports a leak otherwise, and a second drop of the output if
/// the stage were not `Consumed` when the block goes).
#[test]
fn a_handle_dropping_a_panicking_output_frees_the_block_once() {
    struct PanicsOnDrop(Arc<AtomicUsize>);
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
            panic!("output's destructor");
        }
    }
    let (sched, poller) = scheduler();
    let drops = Arc::new(AtomicUsize::new(0));
    let output = PanicsOnDrop(drops.clone());
    let handle = sched.spawn(async move { output });
    run_until(&sched, &poller, || handle.is_finished());
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(handle)));
    assert!(dropped.is_err());
    assert_eq!(drops.load(SeqCst), 1);
    assert_eq!(sched.task_count(), 0);
    sched.shutdown();
}

#[test]
fn shutdown_drops_pending_futures_on_the_loop_thread() {
    let (sched, poller) = scheduler();
    let futures = Arc::new(AtomicUsize::new(0));
    let slot = Arc::new(Mutex::new((0usize, None::<Waker>)));
    let mut handles = Vec::new();
    for _ in 0..3 {
        let (f, s) = (DropCount(futures.clone()), slot.clone());
        handles.push(sched.spawn(async move {
            let _f = f;
            Flagged { slot: s, need: 1 }.await
        }));
    }
    run_until(&sched, &poller, || sched.is_idle());
    // A waker outlives the loop, held by another thread.
    let stray = slot.lock().unwrap().1.take().unwrap();
    sched.shutdown();
    assert_eq!(futures.load(SeqCst), 3);
    thread::spawn(move || stray.wake()).join().unwrap();
    for handle in handles {
        assert!(block_on(handle).unwrap_err().is_cancelled());
    }
}

#[test]
fn remote_spawn_and_run_from_other_threads() {
    let (sched, poller) = scheduler();
    let remote = Remote::new(sched.shared.clone());
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let remote = remote.clone();
            thread::spawn(move || {
                let spawned: Vec<_> = (0..ROUNDS)
                    .map(|i| remote.spawn(async move { format!("{t}:{i}") }).unwrap())
                    .collect();
                let ran = remote.run(move || t * 10).unwrap();
                (spawned, ran)
            })
        })
        .collect();
    let mut outputs = Vec::new();
    for thread in threads {
        outputs.push(thread.join().unwrap());
    }
    run_until(&sched, &poller, || {
        outputs
            .iter()
            .all(|(spawned, ran)| ran.is_finished() && spawned.iter().all(|h| h.is_finished()))
    });
    for (t, (spawned, ran)) in outputs.into_iter().enumerate() {
        assert_eq!(block_on(ran).unwrap(), t * 10);
        for (i, handle) in spawned.into_iter().enumerate() {
            assert_eq!(block_on(handle).unwrap(), format!("{t}:{i}"));
        }
    }
    sched.shutdown();
    // After shutdown a spawn is refused and its future dropped here.
    let dropped = Arc::new(AtomicUsize::new(0));
    let f = DropCount(dropped.clone());
    let refused = thread::spawn(move || {
        remote
            .spawn(async move {
                let _f = f;
            })
            .unwrap_err()
    });
    assert!(refused.join().unwrap().is_closed());
    assert_eq!(dropped.load(SeqCst), 1);
}

#[test]
fn main_waker_crosses_threads() {
    // waker.rs's second vtable: an `Arc<Shared>` behind a raw pointer.
    let (sched, _poller) = scheduler();
    let main = waker::main_waker(&sched.shared);
    let clones: Vec<Waker> = (0..3).map(|_| main.clone()).collect();
    thread::spawn(move || {
        for (i, waker) in clones.into_iter().enumerate() {
            if i == 0 {
                waker.wake_by_ref();
            } else {
                waker.wake();
            }
        }
    })
    .join()
    .unwrap();
    let mut items = std::collections::VecDeque::new();
    assert!(sched.shared.drain(&mut items));
    assert!(items.is_empty());
    drop(main);
    sched.shutdown();
}

#[test]
fn channel_messages_cross_in_batches_and_are_dropped_once() {
    let (sched, poller) = scheduler();
    let remote = Remote::new(sched.shared.clone());
    let (tx, mut rx) = remote.channel::<String>();
    let senders: Vec<_> = (0..2)
        .map(|t| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..ROUNDS {
                    tx.send(format!("{t}-{i}")).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let received = sched.spawn(async move {
        let mut count = 0;
        while let Some(message) = rx.recv().await {
            assert!(message.contains('-'));
            count += 1;
        }
        count
    });
    for sender in senders {
        sender.join().unwrap();
    }
    run_until(&sched, &poller, || received.is_finished());
    assert_eq!(block_on(received).unwrap(), 2 * ROUNDS);

    // A receiver dropped with messages queued drops them; later sends are
    // handed back.
    let (tx, rx) = remote.channel::<DropCount>();
    let dropped = Arc::new(AtomicUsize::new(0));
    tx.send(DropCount(dropped.clone())).unwrap();
    thread::spawn(move || drop(rx)).join().unwrap();
    assert_eq!(dropped.load(SeqCst), 1);
    let back = tx.send(DropCount(dropped.clone())).unwrap_err();
    assert!(back.is_receiver_dropped());
    drop(back);
    assert_eq!(dropped.load(SeqCst), 2);
    sched.shutdown();
}

#[test]
fn a_panicking_waker_clone_does_not_corrupt_the_count() {
    // A future that panics while holding a clone of its own waker: the
    // clone is dropped during unwinding, inside the catch of `run`.
    let (sched, poller) = scheduler();
    let handle = sched.spawn(std::future::poll_fn(|cx| -> Poll<()> {
        let _clone = cx.waker().clone();
        panic!("while holding a waker")
    }));
    run_until(&sched, &poller, || handle.is_finished());
    assert!(block_on(handle).unwrap_err().is_panic());
    sched.shutdown();
}

#[test]
fn timeout_projects_its_pin_onto_a_self_referential_future() {
    // timer.rs's one unsafe: `Timeout` pins its future structurally. This
    // future borrows its own local across an await (it is `!Unpin`) and is
    // ready at its first poll, so the `Sleep` beside it is never polled (a
    // sleep needs a loop's timerfd, which Miri cannot run).
    let future = async {
        let local = String::from("pinned");
        let borrowed = &local;
        std::future::ready(()).await;
        borrowed.len()
    };
    let timeout = super::timeout(std::time::Duration::from_secs(60), future);
    assert_eq!(block_on(timeout).unwrap(), 6);
}

#[test]
fn only_a_task_cancelled_by_shutdown_holds_a_count_of_shared() {
    // Task rule 7: a task borrows its loop's `Shared`; the shutdown gives
    // each task it cancels a count of its own (a wake that made it
    // SCHEDULED just before may still be on its way to the remote queue),
    // which goes with the block.
    let (sched, poller) = scheduler();
    let done = sched.spawn(async { 1 });
    let pending = sched.spawn(std::future::pending::<()>());
    run_until(&sched, &poller, || done.is_finished());
    assert_eq!(Arc::strong_count(&sched.shared), 1);
    sched.shutdown();
    assert_eq!(Arc::strong_count(&sched.shared), 2);
    assert!(block_on(pending).unwrap_err().is_cancelled());
    assert_eq!(Arc::strong_count(&sched.shared), 1);
    assert_eq!(block_on(done).unwrap(), 1);
    assert_eq!(Arc::strong_count(&sched.shared), 1);
}

#[test]
fn shutdown_cancels_listed_and_only_queued_tasks() {
    // Task rule 8: a task enters the owned list only when it goes idle; the
    // shutdown reaches the others through their run-queue entry.
    let (sched, poller) = scheduler();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCount(drops.clone());
    let idle = sched.spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    });
    let done = sched.spawn(async { 7 });
    run_until(&sched, &poller, || done.is_finished());
    assert_eq!(sched.task_count(), 1);
    let guard = DropCount(drops.clone());
    let queued = sched.spawn(async move {
        let _guard = guard;
    });
    assert_eq!(sched.task_count(), 2);
    sched.shutdown();
    assert_eq!(sched.task_count(), 0);
    assert_eq!(drops.load(SeqCst), 2);
    assert!(block_on(idle).unwrap_err().is_cancelled());
    assert!(block_on(queued).unwrap_err().is_cancelled());
    assert_eq!(block_on(done).unwrap(), 7);
    assert_eq!(Arc::strong_count(&sched.shared), 1);
}
