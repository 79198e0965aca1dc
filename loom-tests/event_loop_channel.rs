//! Model of `src/event_loop/channel.rs`: the channel into the loop, its
//! receiver a task on the real `Scheduler` (see `event_loop_remote.rs`),
//! its senders on other threads.
//!
//! Seen to fail (each break made in a scratch copy, never here):
//! - R2 split in two critical sections (rule 1 broken: `take` looks at the
//!   queue under one lock, then stores the waker under another) →
//!   `send_racing_the_receiver_going_to_sleep`: "deadlock; threads =
//!   [(Id(0), Blocked(..)), (Id(1), Terminated)]", and
//!   `last_sender_dropped_racing_a_receive`: the same with three threads
//!   (a send, or the last drop, fell between the look and the store: the
//!   sender found no waker, the receiver then slept on a non-empty queue).
//! - the last `Sender::drop` not taking the waker (rule 4 broken) →
//!   `last_sender_dropped_racing_a_receive`: "deadlock; threads =
//!   [(Id(0), Blocked(..)), (Id(1), Terminated), (Id(2), Terminated)]" (the
//!   receiver waits for a message that can no longer come).
//! - `Receiver::drop` not setting `receiver_gone` (rule 5 broken) →
//!   `receiver_dropped_racing_a_send`: "the message is neither dropped with
//!   the receiver nor handed back" (left: 0), and
//!   `loop_shutdown_racing_a_send`: "the message dropped 0 times" (a send
//!   after the drop was accepted into a queue nobody will read, kept alive
//!   by the sender).
//! - a send refused by the closed flag not taking the receiver's waker
//!   (rule 6 broken) → `receiver_off_its_loop_ends_when_the_loop_closes`:
//!   "deadlock; threads = [(Id(0), Blocked(Location(None))), (Id(1),
//!   Terminated), (Id(2), Terminated)]" (the receiver, on another loop,
//!   parked before the close and nothing woke it); the same deadlock when
//!   R2 does not read the flag (woken, the receiver parks again).

use super::event_loop_remote::DropCount;
use crate::event_loop::executor::Scheduler;
use crate::event_loop::remote::{Remote, Unpark};
use crate::sync::atomic::{AtomicUsize, Ordering::*};
use crate::sync::parker::Parker;
use crate::sync::{lock, Arc, Mutex};
use loom::thread;

/// The loop's eventfd as a parker, counting its writes (as in
/// `event_loop_remote.rs`, whose counter is private to that model).
struct Fd {
    parker: Parker,
    writes: AtomicUsize,
}

struct FdUnpark(Arc<Fd>);

impl Unpark for FdUnpark {
    fn unpark(&self) {
        self.0.writes.fetch_add(1, Relaxed);
        self.0.parker.unpark();
    }
}

fn scheduler() -> (Scheduler, Arc<Fd>) {
    let fd = Arc::new(Fd {
        parker: Parker::new(),
        writes: AtomicUsize::new(0),
    });
    (Scheduler::new(Box::new(FdUnpark(fd.clone()))), fd)
}

/// `Core::turn` without epoll and timers, until `done`; returns the number
/// of parks. Sleeping on the parker stands for `epoll_wait`.
fn run_until(sched: &Scheduler, fd: &Fd, done: impl Fn() -> bool) -> usize {
    let mut parks = 0;
    loop {
        sched.run_batch();
        if done() {
            return parks;
        }
        if sched.is_idle() {
            parks += 1;
            sched.shared.park(|may_sleep| {
                if may_sleep {
                    fd.parker.park();
                }
            });
        }
    }
}

/// Rule 2 of remote.rs, through the channel: at most one fd write per park.
fn assert_coalesced(fd: &Fd, parks: usize) {
    let writes = fd.writes.load(Relaxed);
    assert!(writes <= parks, "{writes} fd writes for {parks} parks");
}

/// A send racing the receiver going to sleep (channel rule 1): both
/// messages arrive, in order, and the loop is woken at most once per park.
#[test]
fn send_racing_the_receiver_going_to_sleep() {
    super::model(|| {
        let (sched, fd) = scheduler();
        let (tx, mut rx) = Remote::new(sched.shared.clone()).channel::<u32>();
        let got = Arc::new(Mutex::new(Vec::new()));
        let task = sched.spawn({
            let got = got.clone();
            async move {
                for _ in 0..2 {
                    let v = rx.recv().await;
                    lock(&got).push(v);
                }
            }
        });
        let sender = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
            tx // kept alive: the end of stream is the other model's
        });
        let parks = run_until(&sched, &fd, || task.is_finished());
        let tx = sender.join().unwrap();
        assert_eq!(*lock(&got), [Some(1), Some(2)]);
        assert_coalesced(&fd, parks);
        drop((tx, task));
        sched.shutdown();
    });
}

/// The last sender dropped racing a receive (rule 4): `None` comes only
/// after every message, and it does come (the drop wakes the receiver).
#[test]
fn last_sender_dropped_racing_a_receive() {
    super::model(|| {
        let (sched, fd) = scheduler();
        let (tx, mut rx) = Remote::new(sched.shared.clone()).channel::<u32>();
        let got = Arc::new(Mutex::new(Vec::new()));
        let task = sched.spawn({
            let got = got.clone();
            async move {
                while let Some(v) = rx.recv().await {
                    lock(&got).push(v);
                }
            }
        });
        let tx2 = tx.clone();
        let senders = [
            thread::spawn(move || tx.send(1).unwrap()),
            thread::spawn(move || tx2.send(2).unwrap()),
        ];
        let parks = run_until(&sched, &fd, || task.is_finished());
        assert_coalesced(&fd, parks);
        for s in senders {
            s.join().unwrap();
        }
        let mut got = std::mem::take(&mut *lock(&got));
        got.sort_unstable();
        assert_eq!(got, [1, 2], "every message before the end of stream");
        drop(task);
        sched.shutdown();
    });
}

/// The receiver dropped racing a send (rule 5): the message is either
/// dropped with the receiver or handed back, once.
#[test]
fn receiver_dropped_racing_a_send() {
    super::model(|| {
        let (sched, _fd) = scheduler();
        let (tx, rx) = Remote::new(sched.shared.clone()).channel::<DropCount>();
        let drops = Arc::new(AtomicUsize::new(0));
        let sender = thread::spawn({
            let drops = drops.clone();
            move || {
                let back = match tx.send(DropCount(drops)) {
                    Ok(()) => None,
                    Err(e) => {
                        assert!(e.is_receiver_dropped());
                        Some(e.into_inner())
                    }
                };
                (tx, back) // the sender lives on: nothing may wait for it
            }
        });
        drop(rx);
        let (tx, back) = sender.join().unwrap();
        let dropped = drops.load(Relaxed);
        assert_eq!(
            dropped + usize::from(back.is_some()),
            1,
            "the message is neither dropped with the receiver nor handed back"
        );
        drop((tx, back));
        assert_eq!(drops.load(Relaxed), 1, "dropped exactly once");
        sched.shutdown();
    });
}

/// The loop shut down racing a send to a task's receiver (rule 6): the
/// message is dropped exactly once, and nothing outlives the loop.
#[test]
fn loop_shutdown_racing_a_send() {
    super::model(|| {
        let (sched, _fd) = scheduler();
        let (tx, mut rx) = Remote::new(sched.shared.clone()).channel::<DropCount>();
        let drops = Arc::new(AtomicUsize::new(0));
        let task = sched.spawn(async move { while rx.recv().await.is_some() {} });
        sched.run_batch(); // the task waits on the empty channel
        let sender = thread::spawn({
            let drops = drops.clone();
            move || {
                if let Err(e) = tx.send(DropCount(drops)) {
                    // Refused by the flag, or by the receiver's drop.
                    assert!(e.is_loop_gone() || e.is_receiver_dropped());
                }
                tx // the sender lives on: nothing may wait for it
            }
        });
        sched.shutdown();
        let tx = sender.join().unwrap();
        let dropped = drops.load(Relaxed);
        assert_eq!(dropped, 1, "the message dropped {dropped} times");
        drop(tx);
        assert!(task.is_finished());
        drop(task);
        let refs = Arc::strong_count(&sched.shared);
        assert_eq!(refs, 1, "{refs} references to Shared remain");
    });
}

/// A receiver moved to another loop (rule 6): the loop the channel leads
/// into closes while a send races it and a second send follows the close.
/// The receiver, polled on the other loop, ends (`None`) whatever the
/// order: the refused send wakes it if it parked before the close, and an
/// R2 after the close sees the flag. Each message is dropped exactly once:
/// received, handed back, or (a send that raced the close) left in the
/// queue and dropped with the receiver.
#[test]
fn receiver_off_its_loop_ends_when_the_loop_closes() {
    super::model(|| {
        let (home, _home_fd) = scheduler();
        let (other, other_fd) = scheduler();
        let (tx, mut rx) = Remote::new(home.shared.clone()).channel::<DropCount>();
        let drops = Arc::new(AtomicUsize::new(0));
        let task = other.spawn(async move { while rx.recv().await.is_some() {} });
        let tx2 = tx.clone();
        let racing = thread::spawn({
            let drops = drops.clone();
            move || {
                let back = tx2.send(DropCount(drops)).err();
                (back, tx2)
            }
        });
        let closing = thread::spawn({
            let shared = home.shared.clone();
            let drops = drops.clone();
            move || {
                drop(shared.close());
                let refused = tx.send(DropCount(drops)).unwrap_err();
                assert!(refused.is_loop_gone());
                tx // alive: only the close can end the stream
            }
        });
        run_until(&other, &other_fd, || task.is_finished());
        let (back, tx2) = racing.join().unwrap();
        let tx = closing.join().unwrap();
        drop((back, tx, tx2, task));
        other.shutdown();
        home.shutdown();
        let dropped = drops.load(Relaxed);
        assert_eq!(dropped, 2, "{dropped} drops of 2 messages");
    });
}
