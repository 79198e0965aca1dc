//! The executor and tasks, through the public API: spawn, join, abort,
//! panics, yields, remote handles and cross-thread wakes.
#![cfg(feature = "event-loop")]

mod support;

use support::CountsDrops;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use triad::event_loop::{sleep, spawn, yield_now, EventLoop, JoinHandle};

#[test]
fn block_on_returns_the_value_of_its_future() {
    let ev = EventLoop::new().unwrap();
    assert_eq!(ev.block_on(async { 1 + 1 }), 2);
}

#[test]
fn spawned_tasks_each_deliver_their_own_value() {
    let ev = EventLoop::new().unwrap();
    let values = ev.block_on(async {
        let handles: Vec<JoinHandle<usize>> =
            (0..1000).map(|i| spawn(async move { i * 2 })).collect();
        let mut values = Vec::new();
        for h in handles {
            values.push(h.await.unwrap());
        }
        values
    });
    assert_eq!(values, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
    assert_eq!(ev.task_count(), 0);
}

#[test]
fn not_send_futures_share_state_through_rc() {
    let ev = EventLoop::new().unwrap();
    let counter = Rc::new(Cell::new(0));
    ev.block_on({
        let counter = counter.clone();
        async move {
            let hs: Vec<_> = (0..10)
                .map(|_| {
                    let c = counter.clone();
                    spawn(async move {
                        for _ in 0..10 {
                            c.set(c.get() + 1);
                            yield_now().await;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        }
    });
    assert_eq!(counter.get(), 100);
}

#[test]
fn yield_now_interleaves_tasks_round_robin() {
    let ev = EventLoop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    ev.block_on({
        let log = log.clone();
        async move {
            let hs: Vec<_> = (0..3)
                .map(|id| {
                    let log = log.clone();
                    spawn(async move {
                        for round in 0..3 {
                            log.borrow_mut().push((round, id));
                            yield_now().await;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        }
    });
    let log = log.borrow();
    let mut sorted = log.clone();
    sorted.sort();
    assert_eq!(*log, sorted, "each round completes before the next starts");
}

#[test]
fn a_panicking_task_reports_through_its_handle_and_the_loop_goes_on() {
    let ev = EventLoop::new().unwrap();
    let (err, after) = ev.block_on(async {
        let bad = spawn(async {
            yield_now().await;
            panic!("task failed on purpose");
        });
        let good = spawn(async { 5 });
        (bad.await.unwrap_err(), good.await.unwrap())
    });
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    assert_eq!(err.panic_message(), Some("task failed on purpose"));
    assert_eq!(after, 5);
    assert_eq!(ev.block_on(async { spawn(async { 6 }).await.unwrap() }), 6);
}

#[test]
fn a_formatted_panic_keeps_its_message() {
    let ev = EventLoop::new().unwrap();
    let err = ev.block_on(async {
        let tries = 3;
        // A message with arguments: the payload is a `String`, not a `&str`.
        spawn(async move { panic!("failed after {tries} tries") })
            .await
            .unwrap_err()
    });
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("failed after 3 tries"));
}

#[test]
fn a_panic_payload_can_be_resumed() {
    let ev = EventLoop::new().unwrap();
    let err = ev.block_on(async {
        spawn(async { std::panic::panic_any(17u32) })
            .await
            .unwrap_err()
    });
    assert_eq!(err.panic_message(), None);
    assert_eq!(*err.into_panic().downcast::<u32>().unwrap(), 17);
}

/// Panics when dropped, after counting the drop.
struct PanicsOnDrop(Rc<Cell<usize>>, &'static str);
impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
        panic!("{}", self.1);
    }
}

/// Ready at once with its output; its destructor then panics.
struct ReadyThenPanicsOnDrop {
    _guard: PanicsOnDrop,
    output: Option<CountsDrops>,
}
impl Future for ReadyThenPanicsOnDrop {
    type Output = CountsDrops;
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<CountsDrops> {
        Poll::Ready(self.output.take().expect("polled once"))
    }
}

#[test]
fn a_future_whose_destructor_panics_after_ready_reports_that_panic_and_drops_its_output() {
    let ev = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let output_drops = Rc::new(Cell::new(0));
    let err = ev.block_on({
        let (drops, output_drops) = (drops.clone(), output_drops.clone());
        async move {
            // Hand-written: an async block would drop its locals inside
            // the poll, not in the future's destructor.
            spawn(ReadyThenPanicsOnDrop {
                _guard: PanicsOnDrop(drops, "future's destructor"),
                output: Some(CountsDrops(output_drops)),
            })
            .await
            .err()
            .expect("the destructor's panic is the outcome")
        }
    });
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("future's destructor"));
    assert_eq!(drops.get(), 1, "the future is dropped once");
    assert_eq!(output_drops.get(), 1, "the output is dropped, not leaked");
}

#[test]
fn an_aborted_task_whose_destructor_panics_reports_the_panic_and_the_loop_goes_on() {
    let ev = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let (err, after) = ev.block_on({
        let drops = drops.clone();
        async move {
            let guard = PanicsOnDrop(drops, "dropped on abort");
            let task = spawn(async move {
                let _guard = guard;
                sleep(Duration::from_secs(3600)).await;
            });
            yield_now().await;
            task.abort();
            (task.await.unwrap_err(), spawn(async { 7 }).await.unwrap())
        }
    });
    assert!(err.is_panic() && !err.is_cancelled());
    assert_eq!(err.panic_message(), Some("dropped on abort"));
    assert_eq!(drops.get(), 1);
    assert_eq!(after, 7);
}

#[test]
fn a_detached_output_whose_destructor_panics_is_dropped_once_and_the_loop_goes_on() {
    let ev = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let after = ev.block_on({
        let drops = drops.clone();
        async move {
            drop(spawn(
                async move { PanicsOnDrop(drops, "output's destructor") },
            ));
            yield_now().await;
            yield_now().await;
            spawn(async { 8 }).await.unwrap()
        }
    });
    assert_eq!(drops.get(), 1);
    assert_eq!(after, 8);
}

/// A handle dropping an output whose destructor panics: the panic comes
/// out of the drop, and the task's block is freed all the same (the join
/// waker it kept goes with it), not leaked.
#[test]
fn a_handle_dropping_an_output_whose_destructor_panics_frees_the_task() {
    struct CountingWaker;
    impl std::task::Wake for CountingWaker {
        fn wake(self: Arc<Self>) {}
    }
    let ev = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let mut handle = ev.spawn({
        let drops = drops.clone();
        async move { PanicsOnDrop(drops, "output's destructor") }
    });
    let joiner = Arc::new(CountingWaker);
    let waker = Waker::from(joiner.clone());
    let polled = Pin::new(&mut handle).poll(&mut Context::from_waker(&waker));
    assert!(polled.is_pending());
    drop(waker);
    assert_eq!(
        Arc::strong_count(&joiner),
        2,
        "the task keeps the join waker"
    );
    ev.block_on(yield_now());
    assert!(handle.is_finished());
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(handle)));
    assert!(
        dropped.is_err(),
        "the destructor's panic comes out of the drop"
    );
    assert_eq!(drops.get(), 1);
    assert_eq!(Arc::strong_count(&joiner), 1, "the task block was leaked");
}

#[test]
fn abort_cancels_a_pending_task_and_drops_its_future_once() {
    let ev = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let err = ev.block_on({
        let drops = drops.clone();
        async move {
            let flag = CountsDrops(drops);
            let task = spawn(async move {
                let _flag = flag;
                sleep(Duration::from_secs(3600)).await;
                1
            });
            yield_now().await; // let it start and park on its timer
            task.abort();
            task.abort(); // twice: harmless
            task.await.unwrap_err()
        }
    });
    assert!(err.is_cancelled());
    assert_eq!(drops.get(), 1);
    assert_eq!(ev.task_count(), 0);
}

#[test]
fn abort_after_completion_keeps_the_value() {
    let ev = EventLoop::new().unwrap();
    let v = ev.block_on(async {
        let task = spawn(async { 9 });
        while !task.is_finished() {
            yield_now().await;
        }
        task.abort();
        task.await
    });
    assert_eq!(v.unwrap(), 9);
}

#[test]
fn a_task_aborting_itself_is_cancelled_at_its_next_turn() {
    let ev = EventLoop::new().unwrap();
    let slot: Rc<RefCell<Option<JoinHandle<()>>>> = Rc::new(RefCell::new(None));
    let reached = Rc::new(Cell::new(false));
    let err = ev.block_on({
        let (slot2, reached2) = (slot.clone(), reached.clone());
        async move {
            let task = spawn(async move {
                yield_now().await;
                slot2.borrow().as_ref().unwrap().abort();
                yield_now().await;
                reached2.set(true);
            });
            // A second handle is not available; keep the one handle in the
            // slot and wait for it through is_finished.
            *slot.borrow_mut() = Some(task);
            loop {
                if slot.borrow().as_ref().unwrap().is_finished() {
                    break;
                }
                yield_now().await;
            }
            let handle = slot.borrow_mut().take().unwrap();
            handle.await.unwrap_err()
        }
    });
    assert!(err.is_cancelled());
    assert!(!reached.get());
}

#[test]
fn a_dropped_handle_detaches_the_task_which_still_runs() {
    let ev = EventLoop::new().unwrap();
    let done = Rc::new(Cell::new(false));
    ev.block_on({
        let done = done.clone();
        async move {
            let inner = done.clone();
            drop(spawn(async move {
                yield_now().await;
                inner.set(true);
            }));
            while !done.get() {
                yield_now().await;
            }
        }
    });
    assert!(done.get());
}

#[test]
fn dropping_the_loop_cancels_unfinished_tasks_and_drops_their_futures() {
    let drops = Rc::new(Cell::new(0));
    let ev = EventLoop::new().unwrap();
    let handles: Vec<_> = (0..5)
        .map(|_| {
            let flag = CountsDrops(drops.clone());
            ev.spawn(async move {
                let _flag = flag;
                sleep(Duration::from_secs(3600)).await;
            })
        })
        .collect();
    ev.block_on(yield_now());
    assert_eq!(ev.task_count(), 5);
    drop(ev);
    assert_eq!(drops.get(), 5);
    // The handles outlive the loop and report cancellation.
    let mut probe = EventLoop::new().unwrap();
    for h in handles {
        assert!(h.is_finished());
        assert!(probe.block_on(h).unwrap_err().is_cancelled());
    }
    probe = EventLoop::new().unwrap();
    drop(probe);
}

/// A loop dropped inside a task of another loop tears down as its own:
/// a task spawned by one of its futures' destructors joins *this* loop
/// and is cancelled with it, instead of landing on the loop that happens
/// to run (and running there); that loop is current again afterwards.
#[test]
fn a_loop_dropped_inside_another_loops_task_keeps_its_teardown_spawns() {
    struct SpawnOnDrop(Rc<Cell<usize>>, Rc<RefCell<Option<JoinHandle<()>>>>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let ran = self.0.clone();
            *self.1.borrow_mut() = Some(spawn(async move { ran.set(ran.get() + 1) }));
        }
    }
    let ran = Rc::new(Cell::new(0));
    let late = Rc::new(RefCell::new(None));
    let outer = EventLoop::new().unwrap();
    let (ran2, late2) = (ran.clone(), late.clone());
    let after = outer.block_on(async move {
        let inner = EventLoop::new().unwrap();
        let guard = SpawnOnDrop(ran2, late2);
        let _pending = inner.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        drop(inner);
        // The outer loop is current again: its spawns run.
        spawn(async { 5 }).await.unwrap()
    });
    assert_eq!(after, 5);
    outer.block_on(async {
        for _ in 0..3 {
            yield_now().await;
        }
    });
    assert_eq!(ran.get(), 0, "the teardown's task ran on the other loop");
    let late = late.borrow_mut().take().expect("the destructor ran");
    assert!(late.is_finished());
    assert!(outer.block_on(late).unwrap_err().is_cancelled());
}

#[test]
fn tasks_spawned_before_block_on_run_inside_it() {
    let ev = EventLoop::new().unwrap();
    let h = ev.spawn(async { "early" });
    assert_eq!(ev.block_on(h).unwrap(), "early");
}

/// A future woken from another thread: a plain OS thread holds its waker.
struct CrossThread {
    shared: Arc<Mutex<(bool, Option<Waker>)>>,
}

impl Future for CrossThread {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.shared.lock().unwrap();
        if s.0 {
            Poll::Ready(())
        } else {
            s.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[test]
fn wakes_from_other_threads_reach_tasks_on_a_parked_loop() {
    let ev = EventLoop::new().unwrap();
    let rounds = 200;
    let completed = ev.block_on(async move {
        let mut completed = 0;
        for _ in 0..rounds {
            let shared = Arc::new(Mutex::new((false, None::<Waker>)));
            let task = spawn(CrossThread {
                shared: shared.clone(),
            });
            let waker_thread = std::thread::spawn(move || loop {
                let mut s = shared.lock().unwrap();
                if let Some(w) = s.1.take() {
                    s.0 = true;
                    drop(s);
                    w.wake();
                    return;
                }
                drop(s);
                std::thread::yield_now();
            });
            task.await.unwrap();
            waker_thread.join().unwrap();
            completed += 1;
        }
        completed
    });
    assert_eq!(completed, rounds);
}

#[test]
fn block_on_future_woken_from_another_thread_completes() {
    let ev = EventLoop::new().unwrap();
    let shared = Arc::new(Mutex::new((false, None::<Waker>)));
    let t = {
        let shared = shared.clone();
        std::thread::spawn(move || loop {
            let mut s = shared.lock().unwrap();
            if let Some(w) = s.1.take() {
                s.0 = true;
                drop(s);
                w.wake();
                return;
            }
            drop(s);
            std::thread::yield_now();
        })
    };
    ev.block_on(CrossThread { shared });
    t.join().unwrap();
}

#[test]
fn remote_spawn_and_run_from_many_threads_all_complete() {
    let ev = EventLoop::new().unwrap();
    let remote = ev.remote();
    let (tx, rx) = mpsc::channel();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let remote = remote.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let h = if i % 2 == 0 {
                        remote.spawn(async move { t * 1000 + i }).unwrap()
                    } else {
                        remote.run(move || t * 1000 + i).unwrap()
                    };
                    tx.send(h).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    for t in threads {
        t.join().unwrap();
    }
    let mut got: Vec<usize> = ev.block_on(async move {
        let mut got = Vec::new();
        for h in rx.iter() {
            got.push(h.await.unwrap());
        }
        got
    });
    got.sort();
    let mut want: Vec<usize> = (0..4)
        .flat_map(|t| (0..50).map(move |i| t * 1000 + i))
        .collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn remote_run_reaches_the_loop_thread_and_may_spawn_local_work() {
    let ev = EventLoop::new().unwrap();
    let remote = ev.remote();
    let loop_thread = std::thread::current().id();
    let h = std::thread::spawn(move || {
        remote
            .run(move || {
                let here = std::thread::current().id();
                let local = Rc::new(3);
                let inner = spawn(async move { *local * 2 });
                (here, inner)
            })
            .unwrap()
    })
    .join()
    .unwrap();
    let (ran_on, inner) = ev.block_on(h).unwrap();
    assert_eq!(ran_on, loop_thread);
    assert_eq!(ev.block_on(inner).unwrap(), 6);
}

#[test]
fn remote_handle_after_the_loop_is_dropped_gives_a_closed_error() {
    let ev = EventLoop::new().unwrap();
    let remote = ev.remote();
    assert!(!remote.is_closed());
    drop(ev);
    assert!(remote.is_closed());
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Count(Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let c = Count(dropped.clone());
    let err = std::thread::spawn(move || {
        remote
            .spawn(async move {
                let _c = c;
            })
            .unwrap_err()
    })
    .join()
    .unwrap();
    assert!(err.is_closed());
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the refused future is dropped"
    );
}

#[test]
fn spawn_outside_any_loop_gives_a_finished_handle_with_a_typed_error() {
    struct Count(Rc<Cell<usize>>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let dropped = Rc::new(Cell::new(0));
    let polled = Rc::new(Cell::new(false));
    let task = {
        let (c, polled) = (Count(dropped.clone()), polled.clone());
        spawn(async move {
            let _c = c;
            polled.set(true);
            7
        })
    };
    // The future was dropped at once, never polled; the handle is done.
    assert_eq!(dropped.get(), 1);
    assert!(task.is_finished());
    task.abort(); // a no-op on a finished task: the outcome stays
    let ev = EventLoop::new().unwrap();
    let error = ev.block_on(task).unwrap_err();
    assert!(error.is_outside_loop());
    assert!(!error.is_cancelled() && !error.is_panic());
    assert_eq!(error.panic_message(), None);
    assert!(
        error.to_string().contains("outside any event loop"),
        "{error}"
    );
    assert!(error.try_into_panic().is_err());
    assert!(!polled.get());

    // A loop running on another thread does not count: the loop is per
    // thread. The handle goes to that thread and is awaited there.
    let ev = EventLoop::new().unwrap();
    let remote = ev.remote();
    let spawner = std::thread::spawn(move || {
        let task = spawn(async { 1 });
        remote.spawn(async move { task.await.unwrap_err().is_outside_loop() })
    });
    let on_loop = spawner.join().unwrap().unwrap();
    assert!(ev.block_on(on_loop).unwrap());

    // Dropping such a handle unawaited frees everything (Miri and ASan
    // would see a leak or a double free).
    drop(spawn(async { String::from("never run") }));
}

#[test]
fn a_remote_spawn_queued_when_the_loop_drops_is_cancelled() {
    let ev = EventLoop::new().unwrap();
    let h = ev.remote().spawn(async { 1 }).unwrap();
    drop(ev);
    let probe = EventLoop::new().unwrap();
    assert!(probe.block_on(h).unwrap_err().is_cancelled());
}

#[test]
fn join_handle_awaited_on_another_loop_in_another_thread() {
    let ev = EventLoop::new().unwrap();
    let (tx, rx) = mpsc::channel();
    let other = std::thread::spawn(move || {
        let h: JoinHandle<u64> = rx.recv().unwrap();
        EventLoop::new().unwrap().block_on(h).unwrap()
    });
    ev.block_on(async move {
        let h = spawn(async {
            sleep(Duration::from_millis(5)).await;
            77u64
        });
        tx.send(h).unwrap();
        sleep(Duration::from_millis(20)).await;
    });
    assert_eq!(other.join().unwrap(), 77);
}

#[test]
fn an_always_ready_task_yields_to_others_through_the_budget() {
    // An elapsed `sleep` is always ready: without the budget the spinner
    // would loop forever inside one poll and the counter never run.
    let ev = EventLoop::new().unwrap();
    let other_ran = Rc::new(Cell::new(0u32));
    let spins = ev.block_on({
        let other_ran = other_ran.clone();
        async move {
            let spinner = spawn({
                let other_ran = other_ran.clone();
                async move {
                    let mut spins = 0u64;
                    while other_ran.get() < 3 {
                        sleep(Duration::ZERO).await;
                        spins += 1;
                    }
                    spins
                }
            });
            let counter = spawn({
                let other_ran = other_ran.clone();
                async move {
                    for _ in 0..3 {
                        other_ran.set(other_ran.get() + 1);
                        yield_now().await;
                    }
                }
            });
            counter.await.unwrap();
            spinner.await.unwrap()
        }
    });
    assert_eq!(other_ran.get(), 3);
    assert!(
        spins >= 128,
        "the spinner ran a full budget between yields ({spins})"
    );
}

#[test]
fn a_task_group_returns_values_in_spawn_order() {
    let ev = EventLoop::new().unwrap();
    let values = ev.block_on(async {
        let mut group = triad::event_loop::TaskGroup::<u32, String>::new();
        for i in 0..20u32 {
            group.spawn(async move {
                sleep(Duration::from_micros(u64::from(20 - i) * 50)).await;
                Ok(i)
            });
        }
        assert_eq!(group.len(), 20);
        group.join_all().await.unwrap()
    });
    assert_eq!(values, (0..20).collect::<Vec<_>>());
}

#[test]
fn a_task_group_cancels_the_rest_on_the_first_failure() {
    let ev = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let finished = Rc::new(Cell::new(0));
    let err = ev.block_on({
        let (drops, finished) = (drops.clone(), finished.clone());
        async move {
            let mut group = triad::event_loop::TaskGroup::<(), &'static str>::new();
            for _ in 0..5 {
                let flag = CountsDrops(drops.clone());
                let finished = finished.clone();
                group.spawn(async move {
                    let _flag = flag;
                    sleep(Duration::from_secs(3600)).await;
                    finished.set(finished.get() + 1);
                    Ok(())
                });
            }
            group.spawn(async {
                yield_now().await;
                Err("first failure")
            });
            group.join_all().await.unwrap_err()
        }
    });
    assert!(err.is_failure());
    assert_eq!(err.into_failure(), Some("first failure"));
    assert_eq!(
        drops.get(),
        5,
        "every other child was dropped before join_all returned"
    );
    assert_eq!(finished.get(), 0);
    assert_eq!(ev.task_count(), 0);
}

#[test]
fn a_task_group_reports_a_panicking_child_and_dropping_it_aborts_children() {
    let ev = EventLoop::new().unwrap();
    let err = ev.block_on(async {
        let mut group = triad::event_loop::TaskGroup::<(), ()>::new();
        group.spawn(async { panic!("child panicked") });
        group.spawn(std::future::pending());
        group.join_all().await.unwrap_err()
    });
    assert!(err.is_panic());
    assert_eq!(
        err.into_join_error().unwrap().panic_message(),
        Some("child panicked")
    );

    let drops = Rc::new(Cell::new(0));
    ev.block_on({
        let drops = drops.clone();
        async move {
            let mut group = triad::event_loop::TaskGroup::<(), ()>::new();
            let flag = CountsDrops(drops.clone());
            group.spawn(async move {
                let _flag = flag;
                std::future::pending::<()>().await;
                Ok(())
            });
            yield_now().await;
            drop(group);
            yield_now().await; // the abort takes effect at the next turn
        }
    });
    assert_eq!(drops.get(), 1);
    assert_eq!(ev.task_count(), 0);
}

/// A `JoinHandle` polled (it stored the poller's waker in the task) and
/// then dropped while its task still runs lets go of that waker at once
/// (task rule 4): the task that polled it (a `select` or a `timeout` lost,
/// and it ended) is not kept alive for as long as the other one runs.
#[test]
fn a_dropped_join_handle_lets_go_of_the_waker_that_polled_it() {
    struct Probe;
    impl std::task::Wake for Probe {
        fn wake(self: Arc<Self>) {}
    }
    let probe = Arc::new(Probe);
    let ev = EventLoop::new().unwrap();
    let (stored, after_drop) = ev.block_on(async {
        let mut handle = spawn(std::future::pending::<()>());
        let waker = Waker::from(probe.clone());
        let polled = Pin::new(&mut handle).poll(&mut Context::from_waker(&waker));
        assert!(polled.is_pending());
        drop(waker);
        let stored = Arc::strong_count(&probe) - 1;
        drop(handle); // detached: the task runs on
        (stored, Arc::strong_count(&probe) - 1)
    });
    assert_eq!(stored, 1, "the poll stored the waker");
    assert_eq!(after_drop, 0, "the dropped handle's waker is gone");
    drop(ev);
    assert_eq!(Arc::strong_count(&probe), 1);
}
