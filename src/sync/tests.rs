//! Unit tests of the shim's own protocols, small enough for Miri.
//!
//! `sync/` holds no `unsafe` of its own (the cell only hands out raw
//! pointers; its users prove their accesses), but every room builds on it,
//! so Miri checks here that the parker's token, the oneshot's hand-off and
//! the stand-in deque (which replaces crossbeam-deque under Miri and loom)
//! move values between threads without a race or a leak. The loom models
//! `sync_parker` and `sync_oneshot` explore the same protocols' orderings.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use super::cell::UnsafeCell;
use super::parker::Parker;

/// Rounds of each loop: small under Miri.
const ROUNDS: usize = if cfg!(miri) { 5 } else { 500 };

#[test]
fn parker_tokens_cross_threads_and_are_never_lost() {
    // Ping-pong: each side parks until the other unparks it, so every
    // round needs both tokens delivered (a lost one hangs the test).
    let ping = Arc::new(Parker::new());
    let pong = Arc::new(Parker::new());
    let (ping2, pong2) = (ping.clone(), pong.clone());
    let other = thread::spawn(move || {
        for _ in 0..ROUNDS {
            ping2.park();
            pong2.unpark();
        }
    });
    for _ in 0..ROUNDS {
        ping.unpark();
        pong.park();
    }
    other.join().unwrap();
    // A token given before the park is kept, and only one.
    ping.unpark();
    ping.unpark();
    ping.park();
}

#[test]
fn cell_with_and_with_mut_reach_the_value() {
    let cell = UnsafeCell::new(vec![1, 2]);
    // SAFETY: this test is the cell's only user; no access overlaps.
    cell.with_mut(|v| unsafe { (*v).push(3) });
    // SAFETY: as above.
    assert_eq!(cell.with(|v| unsafe { (*v).len() }), 3);
}

#[cfg(feature = "threads")]
mod oneshot {
    use super::*;
    use crate::sync::oneshot::channel;

    struct Unpark(Parker);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    #[test]
    fn values_cross_to_a_blocked_thread() {
        for round in 0..ROUNDS {
            let (tx, mut rx) = channel::<String>();
            let sender = thread::spawn(move || tx.send(round.to_string()));
            assert_eq!(rx.receive_blocking(), Some(round.to_string()));
            sender.join().unwrap();
        }
        let (tx, mut rx) = channel::<String>();
        thread::spawn(move || drop(tx)).join().unwrap();
        assert_eq!(rx.receive_blocking(), None);
    }

    #[test]
    fn values_cross_to_a_polling_task() {
        let parker = Arc::new(Unpark(Parker::new()));
        let waker = Waker::from(parker.clone());
        let mut cx = Context::from_waker(&waker);
        for round in 0..ROUNDS {
            let (tx, mut rx) = channel::<Vec<usize>>();
            let sender = thread::spawn(move || tx.send(vec![round; 2]));
            let value = loop {
                match rx.poll_receive(&mut cx) {
                    Poll::Ready(value) => break value,
                    Poll::Pending => parker.0.park(),
                }
            };
            assert_eq!(value, Some(vec![round; 2]));
            sender.join().unwrap();
        }
    }

    #[test]
    fn an_unreceived_value_is_dropped_once() {
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, SeqCst);
            }
        }
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = channel();
        let value = Counted(drops.clone());
        thread::spawn(move || tx.send(value)).join().unwrap();
        drop(rx);
        assert_eq!(drops.load(SeqCst), 1);
        let (tx, mut rx) = channel::<Counted>();
        let value = Counted(drops.clone());
        thread::spawn(move || tx.send(value)).join().unwrap();
        assert!(rx.is_complete());
        drop(rx.try_receive());
        assert_eq!(drops.load(SeqCst), 2);
    }
}

#[cfg(feature = "threads")]
#[test]
fn stand_in_deque_moves_jobs_between_threads() {
    use crate::sync::deque::{Injector, Steal, Stealer, Worker};
    // Under Miri (and loom) these are the stand-in; elsewhere crossbeam's.
    let worker: Worker<Box<usize>> = Worker::new_lifo();
    let injector: Arc<Injector<Box<usize>>> = Arc::new(Injector::new());
    for i in 0..ROUNDS {
        worker.push(Box::new(i));
        injector.push(Box::new(i));
    }
    let stealer: Stealer<Box<usize>> = worker.stealer();
    let thieves: Vec<_> = (0..2)
        .map(|_| {
            let (stealer, injector) = (stealer.clone(), injector.clone());
            thread::spawn(move || {
                let mut sum = 0;
                loop {
                    let mut empty = 0;
                    for steal in [stealer.steal(), injector.steal()] {
                        match steal {
                            Steal::Success(job) => sum += *job,
                            Steal::Empty => empty += 1,
                            Steal::Retry => {}
                        }
                    }
                    if empty == 2 {
                        return sum;
                    }
                }
            })
        })
        .collect();
    let mut sum = 0;
    while let Some(job) = worker.pop() {
        sum += *job;
    }
    for thief in thieves {
        sum += thief.join().unwrap();
    }
    // Everything left in the injector after the thieves gave up.
    while let Steal::Success(job) = injector.steal() {
        sum += *job;
    }
    assert_eq!(sum, ROUNDS * (ROUNDS - 1));
}
