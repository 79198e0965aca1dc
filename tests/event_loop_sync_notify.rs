//! The loop-local `Notify`, `Event`, `Barrier`, `OnceCell`, `oneshot` and `watch`
//! (`event_loop::sync`): the
//! stored permit, FIFO wake-ups, broadcasts, cancellation that passes a
//! notification on, the other side gone as a typed error, and a watch
//! send while the value is borrowed refused with a typed error.
#![cfg(feature = "event-loop")]

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use triad::event_loop::future::select;
use triad::event_loop::sync::{oneshot, Barrier, Event, Notify, OnceCell, TrySendError};
use triad::event_loop::{spawn, yield_now, EventLoop};

use support::CountsDrops;
use support::{settle, within};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn notify_one_before_the_wait_stores_one_permit() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let notify = Notify::new();
            notify.notify_one();
            notify.notify_one(); // does not add up
            notify.notified().await;
            let second = select(notify.notified(), settle()).await;
            assert!(second.is_right(), "only one permit was stored");
        });
    });
}

#[test]
fn notify_one_wakes_waiters_in_fifo_order() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let order = ev.block_on(async {
            let notify = Rc::new(Notify::new());
            let order = Rc::new(RefCell::new(Vec::new()));
            let waiters: Vec<_> = (0..4)
                .map(|id| {
                    let (notify, order) = (notify.clone(), order.clone());
                    spawn(async move {
                        notify.notified().await;
                        order.borrow_mut().push(id);
                    })
                })
                .collect();
            settle().await;
            for expected in 1..=4 {
                notify.notify_one();
                settle().await;
                assert_eq!(order.borrow().len(), expected, "one wake per notify_one");
            }
            for waiter in waiters {
                waiter.await.unwrap();
            }
            let order = order.borrow().clone();
            order
        });
        assert_eq!(order, [0, 1, 2, 3]);
    });
}

#[test]
fn notify_waiters_reaches_every_waiter_and_stores_nothing() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let notify = Rc::new(Notify::new());
            let woken = Rc::new(Cell::new(0));
            let waiters: Vec<_> = (0..10)
                .map(|_| {
                    let (notify, woken) = (notify.clone(), woken.clone());
                    spawn(async move {
                        notify.notified().await;
                        woken.set(woken.get() + 1);
                    })
                })
                .collect();
            settle().await;
            let created_not_polled = notify.notified();
            notify.notify_waiters();
            created_not_polled.await; // created before the broadcast
            for waiter in waiters {
                waiter.await.unwrap();
            }
            assert_eq!(woken.get(), 10);
            let later = select(notify.notified(), settle()).await;
            assert!(later.is_right(), "a broadcast stores no permit");
        });
    });
}

#[test]
fn a_notification_handed_to_a_cancelled_waiter_is_passed_on() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let notify = Rc::new(Notify::new());
            let first = spawn({
                let notify = notify.clone();
                async move { notify.notified().await }
            });
            let second = spawn({
                let notify = notify.clone();
                async move { notify.notified().await }
            });
            settle().await;
            notify.notify_one(); // handed to `first`...
            first.abort(); // ...cancelled before it runs
            assert!(first.await.unwrap_err().is_cancelled());
            second.await.unwrap(); // the notification went on
                                   // With nobody left to pass it to, it becomes the stored permit.
            let lone = spawn({
                let notify = notify.clone();
                async move { notify.notified().await }
            });
            settle().await;
            notify.notify_one();
            lone.abort();
            assert!(lone.await.unwrap_err().is_cancelled());
            notify.notified().await; // the permit
        });
    });
}

#[test]
fn an_event_set_wakes_every_waiter_even_if_cleared_before_they_run() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let event = Rc::new(Event::new());
            let woken = Rc::new(Cell::new(0));
            let waiters: Vec<_> = (0..5)
                .map(|_| {
                    let (event, woken) = (event.clone(), woken.clone());
                    spawn(async move {
                        event.wait().await;
                        woken.set(woken.get() + 1);
                    })
                })
                .collect();
            settle().await;
            assert_eq!(woken.get(), 0);
            event.set();
            event.clear(); // before any waiter ran
            for waiter in waiters {
                waiter.await.unwrap();
            }
            assert_eq!(woken.get(), 5);
            // Cleared: a new wait waits again; set: it passes at once.
            assert!(select(event.wait(), settle()).await.is_right());
            event.set();
            event.wait().await;
            assert!(event.is_set());
        });
    });
}

#[test]
fn an_abandoned_event_wait_leaves_nothing_behind() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let event = Event::new();
            for _ in 0..100 {
                assert!(select(event.wait(), yield_now()).await.is_right());
            }
            event.set();
            event.wait().await;
        });
    });
}

#[test]
fn a_oneshot_delivers_its_value_once() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, rx) = oneshot::channel::<String>();
            let receiver = spawn(rx);
            settle().await;
            tx.send("v".into()).unwrap();
            assert_eq!(receiver.await.unwrap().unwrap(), "v");
        });
    });
}

#[test]
fn a_oneshot_sender_dropped_is_an_error_not_a_hang() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, rx) = oneshot::channel::<u32>();
            let receiver = spawn(rx);
            settle().await;
            drop(tx);
            assert!(receiver.await.unwrap().unwrap_err().is_sender_dropped());
        });
    });
}

#[test]
fn a_oneshot_receiver_gone_hands_the_value_back() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (mut tx, rx) = oneshot::channel::<Vec<u8>>();
            let closed = spawn(async move {
                tx.closed().await;
                tx.send(vec![1, 2]).unwrap_err().into_inner()
            });
            settle().await;
            assert!(!closed.is_finished());
            drop(rx);
            assert_eq!(closed.await.unwrap(), [1, 2]);

            let (tx, mut rx) = oneshot::channel::<u8>();
            assert!(rx.try_recv().unwrap_err().is_empty());
            tx.send(5).unwrap();
            rx.close(); // a value already sent is kept
            assert_eq!(rx.try_recv(), Ok(5));
            assert!(rx.try_recv().unwrap_err().is_disconnected());
        });
    });
}

#[test]
fn a_value_sent_but_never_received_is_dropped_once() {
    let drops = Rc::new(Cell::new(0));
    let (tx, rx) = oneshot::channel();
    tx.send(CountsDrops(drops.clone())).map_err(|_| ()).unwrap();
    assert_eq!(drops.get(), 0);
    drop(rx);
    assert_eq!(drops.get(), 1);
}

#[test]
fn watch_receivers_see_the_latest_value_and_then_the_end() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, rx) = triad::event_loop::sync::watch::channel(0u32);
            let seen: Vec<_> = (0..3)
                .map(|_| {
                    let mut rx = rx.clone();
                    spawn(async move {
                        let mut seen = Vec::new();
                        while rx.changed().await.is_ok() {
                            seen.push(*rx.borrow_and_update());
                        }
                        seen
                    })
                })
                .collect();
            drop(rx);
            settle().await;
            tx.send(1).unwrap();
            settle().await; // every watcher sees 1
            tx.send(2).unwrap();
            tx.send(3).unwrap(); // 2 is overwritten before anyone looks
            settle().await;
            drop(tx); // the end: changed() fails once nothing unseen is left
            for watcher in seen {
                assert_eq!(watcher.await.unwrap(), [1, 3]);
            }
        });
    });
}

#[test]
fn watch_send_without_receivers_hands_the_value_back() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, rx) = triad::event_loop::sync::watch::channel(String::new());
            let closed = spawn(async move {
                tx.closed().await;
                tx.send("late".into()).unwrap_err().into_inner()
            });
            settle().await;
            assert!(!closed.is_finished());
            drop(rx);
            assert_eq!(closed.await.unwrap(), "late");
        });
    });
}

#[test]
fn an_abandoned_watch_wait_loses_no_change() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = triad::event_loop::sync::watch::channel(0);
            assert!(select(rx.changed(), settle()).await.is_right());
            tx.send(7).unwrap();
            rx.changed().await.unwrap(); // the change is still unseen
            assert_eq!(*rx.borrow(), 7);
        });
    });
}

#[test]
#[allow(clippy::await_holding_refcell_ref)] // on purpose: the misuse rule 4 survives
fn a_watch_send_while_the_value_is_borrowed_is_refused_and_changes_nothing() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = triad::event_loop::sync::watch::channel(1u32);
            let holder_rx = rx.clone();
            let release = Rc::new(Event::new());
            // A task holds a borrow across an `.await` (what rule 4 warns of).
            let holder = spawn({
                let release = release.clone();
                async move {
                    let held = holder_rx.borrow();
                    release.wait().await;
                    *held
                }
            });
            settle().await;

            let error = tx.send(2).unwrap_err();
            assert!(error.is_borrowed());
            assert!(!error.is_closed());
            assert_eq!(
                error.to_string(),
                "the channel's value is borrowed right now (a `borrow()` is alive): not sent"
            );
            assert_eq!(error.into_inner(), 2);
            let as_try: TrySendError<u32> = tx.send(2).unwrap_err().into();
            assert!(as_try.is_full(), "borrowed converts to \"try later\"");
            let unstored = tx.send_replace(3).unwrap_err();
            assert!(unstored.is_borrowed(), "the new value comes back unstored");
            assert_eq!(unstored.into_inner(), 3);
            let called = Cell::new(0);
            tx.send_modify(|v| {
                called.set(called.get() + 1);
                *v = 4;
            });
            assert!(!tx.send_if_modified(|v| {
                called.set(called.get() + 1);
                *v = 5;
                true
            }));
            assert_eq!(called.get(), 0, "no closure ran on a borrowed value");
            assert!(!rx.has_changed().unwrap(), "no version moved");

            release.set();
            assert_eq!(
                holder.await.unwrap(),
                1,
                "the borrowed value was left as it was"
            );
            tx.send(6).unwrap();
            rx.changed().await.unwrap();
            assert_eq!(*rx.borrow(), 6);
        });
    });
}

#[test]
fn a_barrier_releases_rounds_of_n_with_one_leader_each() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let barrier = Rc::new(Barrier::new(4));
            let passed = Rc::new(Cell::new(0));
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let (barrier, passed) = (barrier.clone(), passed.clone());
                    spawn(async move {
                        let result = barrier.wait().await;
                        passed.set(passed.get() + 1);
                        result.is_leader()
                    })
                })
                .collect();
            let mut leaders = 0;
            for task in tasks {
                leaders += task.await.unwrap() as usize;
            }
            assert_eq!((passed.get(), leaders), (8, 2), "two rounds of four");
            // A round of three waits for a fourth; one of the three leaves.
            let waiting: Vec<_> = (0..3)
                .map(|_| {
                    let barrier = barrier.clone();
                    spawn(async move { barrier.wait().await.is_leader() })
                })
                .collect();
            settle().await;
            assert_eq!(barrier.n_waiting(), 3);
            assert!(
                select(barrier.wait(), settle()).await.is_left(),
                "the fourth completes it"
            );
            for task in waiting {
                assert!(!task.await.unwrap());
            }
            let leaver = spawn({
                let barrier = barrier.clone();
                async move { barrier.wait().await }
            });
            settle().await;
            assert_eq!(barrier.n_waiting(), 1);
            leaver.abort();
            assert!(leaver.await.unwrap_err().is_cancelled());
            assert_eq!(barrier.n_waiting(), 0, "a cancelled wait leaves its round");
        });
    });
}

#[test]
fn many_ping_pong_pairs_lose_no_wake_up() {
    // 100 pairs of tasks hand a turn back and forth 100 times through two
    // Notify each; a single lost notification would hang the test.
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let turns = ev.block_on(async {
            let turns = Rc::new(Cell::new(0u32));
            let mut tasks = Vec::new();
            for _ in 0..100 {
                let ping = Rc::new(Notify::new());
                let pong = Rc::new(Notify::new());
                tasks.push(spawn({
                    let (ping, pong, turns) = (ping.clone(), pong.clone(), turns.clone());
                    async move {
                        for _ in 0..100 {
                            ping.notify_one();
                            pong.notified().await;
                            turns.set(turns.get() + 1);
                        }
                    }
                }));
                tasks.push(spawn(async move {
                    for _ in 0..100 {
                        ping.notified().await;
                        pong.notify_one();
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            turns.get()
        });
        assert_eq!(turns, 10_000);
    });
}

#[test]
fn once_cell_runs_one_initializer_and_a_cancelled_one_passes_the_turn() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let cell = Rc::new(OnceCell::<u32>::new());
            let runs = Rc::new(Cell::new(0));
            let gate = Rc::new(Event::new()); // initializers wait for it
            let init = |value: u32| {
                let (runs, gate) = (runs.clone(), gate.clone());
                move || async move {
                    runs.set(runs.get() + 1);
                    gate.wait().await;
                    value
                }
            };
            // The first initializer is cancelled midway...
            let first = spawn({
                let (cell, init) = (cell.clone(), init(1));
                async move { *cell.get_or_init(init).await }
            });
            let others: Vec<_> = (2..5)
                .map(|v| {
                    let (cell, init) = (cell.clone(), init(v));
                    spawn(async move { *cell.get_or_init(init).await })
                })
                .collect();
            settle().await;
            assert_eq!(runs.get(), 1, "one initializer at a time");
            assert!(cell.set(9).unwrap_err().is_initializing());
            first.abort();
            assert!(first.await.unwrap_err().is_cancelled());
            gate.set();
            // ...the next waiter runs its own; the rest get its value.
            for other in others {
                assert_eq!(other.await.unwrap(), 2);
            }
            assert_eq!(runs.get(), 2, "the cancelled run and one more");
            assert!(cell.set(9).unwrap_err().is_already_set());
            let failing = OnceCell::<u32>::new();
            assert_eq!(failing.get_or_try_init(|| async { Err(()) }).await, Err(()));
            assert!(!failing.initialized());
            assert_eq!(*failing.get_or_init(|| async { 5 }).await, 5);
        });
    });
}
