//! Model of `src/sync/oneshot.rs`: a send racing a blocking receive or a
//! poll gives exactly one outcome and is never lost; a sender dropped unsent
//! gives "closed"; a receiver dropped racing the sender lets go of its
//! waker.
//!
//! Seen to fail: `Inner::complete` not waking the registered waiter
//! (`WaitingThread => {}`, `WaitingTask(_) => {}`) →
//! `send_racing_blocking_receive`, `send_racing_block_on` and
//! `sender_dropped_unsent_gives_closed`: "deadlock; threads = [(Id(0),
//! Blocked), (Id(1), Terminated)]"; `send_racing_poll_has_exactly_one_outcome`:
//! "registered waker not woken exactly once: left 0, right 1". The
//! receiver's drop leaving its registered waker in the cell (`if false &&`
//! before its take) → `a_dropped_receiver_lets_go_of_its_waker`: "a
//! dropped receiver kept its waker".

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::sync::oneshot;
use crate::sync::parker::Parker;
use loom::thread;

/// A waker that unparks the thread blocked in [`block_on`].
struct ParkerWaker {
    parker: Parker,
}

impl Wake for ParkerWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.parker.unpark();
    }
}

/// Poll `future` to completion, parking between polls (the crate's own
/// `Parker`, itself checked by `sync_parker.rs`). A wake that never comes
/// leaves the thread parked: loom reports the deadlock. (loom's own
/// `block_on` needs its `futures` feature, which the crate does not enable.)
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let parker = std::sync::Arc::new(ParkerWaker {
        parker: Parker::new(),
    });
    let waker = Waker::from(parker.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        parker.parker.park();
    }
}

/// A waker that counts its wakes.
struct CountingWaker {
    wakes: AtomicUsize,
}

impl Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.wakes.fetch_add(1, Relaxed);
    }
}

/// `send` racing `receive_blocking`: the receiver gets the value (rules 2, 3).
#[test]
fn send_racing_blocking_receive() {
    super::model(|| {
        let (sender, mut receiver) = oneshot::channel();
        let sending = thread::spawn(move || sender.send(42u32));
        assert_eq!(receiver.receive_blocking(), Some(42));
        sending.join().unwrap();
    });
}

/// `send` racing a poll through `block_on`: the task is woken and completes.
#[test]
fn send_racing_block_on() {
    super::model(|| {
        let (sender, mut receiver) = oneshot::channel();
        let sending = thread::spawn(move || sender.send(42u32));
        let value = block_on(poll_fn(|cx| receiver.poll_receive(cx)));
        assert_eq!(value, Some(42));
        sending.join().unwrap();
    });
}

/// `send` racing one poll with a waker that counts: exactly one outcome.
/// Either the poll sees the value (and the waker is never woken), or it
/// registers the waker, which the send wakes exactly once, and the next
/// poll sees the value.
#[test]
fn send_racing_poll_has_exactly_one_outcome() {
    super::model(|| {
        let (sender, mut receiver) = oneshot::channel();
        let counting = std::sync::Arc::new(CountingWaker {
            wakes: AtomicUsize::new(0),
        });
        let waker = Waker::from(counting.clone());
        let mut cx = Context::from_waker(&waker);
        let sending = thread::spawn(move || sender.send(42u32));
        let first = receiver.poll_receive(&mut cx);
        sending.join().unwrap();
        let wakes = counting.wakes.load(Relaxed);
        match first {
            Poll::Ready(value) => {
                assert_eq!(value, Some(42));
                assert_eq!(wakes, 0, "woken although the poll saw the value");
            }
            Poll::Pending => {
                assert_eq!(wakes, 1, "registered waker not woken exactly once");
                assert_eq!(receiver.poll_receive(&mut cx), Poll::Ready(Some(42)));
            }
        }
    });
}

/// A sender dropped unsent, racing a blocking receive and a poll: both see
/// "closed" (`None`), never a hang.
#[test]
fn sender_dropped_unsent_gives_closed() {
    super::model(|| {
        let (sender, mut receiver) = oneshot::channel::<u32>();
        let dropping = thread::spawn(move || drop(sender));
        assert_eq!(receiver.receive_blocking(), None);
        dropping.join().unwrap();

        let (sender, mut receiver) = oneshot::channel::<u32>();
        let dropping = thread::spawn(move || drop(sender));
        let value = block_on(poll_fn(|cx| receiver.poll_receive(cx)));
        assert_eq!(value, None);
        dropping.join().unwrap();
    });
}

/// Rule 4: a receiver that registered a waker and is dropped lets the
/// waker go at once, racing the sender's drop: while the sender has not
/// begun, the cell keeps no clone of it; the waker is woken at most once;
/// nothing deadlocks (the drop only tries the lock).
#[test]
fn a_dropped_receiver_lets_go_of_its_waker() {
    super::model(|| {
        let (sender, mut receiver) = oneshot::channel::<u32>();
        let counting = std::sync::Arc::new(CountingWaker {
            wakes: AtomicUsize::new(0),
        });
        let waker = Waker::from(counting.clone());
        let mut cx = Context::from_waker(&waker);
        let started = crate::sync::Arc::new(AtomicBool::new(false));
        let closing = thread::spawn({
            let started = started.clone();
            move || {
                started.store(true, SeqCst);
                drop(sender);
            }
        });
        let _ = receiver.poll_receive(&mut cx);
        drop(receiver);
        if !started.load(SeqCst) {
            // Ours and `waker`: none in the cell.
            assert_eq!(
                std::sync::Arc::strong_count(&counting),
                2,
                "a dropped receiver kept its waker"
            );
        }
        closing.join().unwrap();
        assert!(counting.wakes.load(Relaxed) <= 1, "woken more than once");
        assert_eq!(std::sync::Arc::strong_count(&counting), 2);
    });
}
