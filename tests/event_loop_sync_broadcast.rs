//! The loop-local broadcast channel (`event_loop::sync::broadcast`): every
//! receiver gets every message in order, lag reported as a typed error,
//! the end after the last sender, cancellation, many receiver tasks,
//! capacity 0 taken as 1, a send from a message's `Clone` refused.
#![cfg(feature = "event-loop")]

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use triad::event_loop::future::select;
use triad::event_loop::sync::broadcast;
use triad::event_loop::{spawn, yield_now, EventLoop};

use support::{settle, within};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn every_receiver_gets_every_message_in_order_then_the_end() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, rx) = broadcast::channel::<u32>(8);
            let receivers: Vec<_> = (0..20)
                .map(|_| {
                    let mut rx = rx.resubscribe();
                    spawn(async move {
                        let mut got = Vec::new();
                        loop {
                            match rx.recv().await {
                                Ok(v) => got.push(v),
                                Err(e) => {
                                    assert!(e.is_sender_dropped());
                                    return got;
                                }
                            }
                        }
                    })
                })
                .collect();
            drop(rx);
            settle().await;
            for i in 0..1000 {
                assert_eq!(tx.send(i).unwrap(), 20);
                if i % 4 == 3 {
                    yield_now().await; // never more than 8 ahead: no lag
                }
            }
            drop(tx);
            for receiver in receivers {
                assert_eq!(receiver.await.unwrap(), (0..1000).collect::<Vec<_>>());
            }
        });
    });
}

#[test]
fn a_slow_receiver_is_told_how_many_it_missed() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = broadcast::channel::<u32>(4);
            for i in 0..10 {
                tx.send(i).unwrap();
            }
            assert_eq!(rx.len(), 4);
            assert_eq!(rx.recv().await.unwrap_err().lagged(), Some(6));
            for expected in 6..10 {
                assert_eq!(rx.recv().await, Ok(expected));
            }
            assert!(rx.try_recv().unwrap_err().is_empty());
        });
    });
}

#[test]
fn no_receiver_hands_the_value_back_and_subscribers_start_at_the_next() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, rx) = broadcast::channel::<String>(4);
            drop(rx);
            assert_eq!(tx.send("lost?".into()).unwrap_err().into_inner(), "lost?");
            let mut late = tx.subscribe();
            assert!(late.try_recv().unwrap_err().is_empty());
            tx.send("seen".into()).unwrap();
            assert_eq!(late.recv().await.as_deref(), Ok("seen"));
        });
    });
}

#[test]
fn an_abandoned_recv_keeps_the_position() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = broadcast::channel::<u32>(4);
            assert!(select(rx.recv(), settle()).await.is_right());
            tx.send(1).unwrap();
            assert_eq!(rx.recv().await, Ok(1));
            let waiting = spawn(async move { rx.recv().await });
            settle().await;
            drop(tx); // the last sender wakes the waiter with the end
            assert!(waiting.await.unwrap().unwrap_err().is_sender_dropped());
        });
    });
}

#[test]
fn capacity_zero_keeps_the_last_message_and_reports_the_lag() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = broadcast::channel::<u32>(0);
            let mut keeping_up = tx.subscribe();
            tx.send(1).unwrap();
            assert_eq!(keeping_up.recv().await, Ok(1), "one message is kept");
            for i in 2..=5 {
                tx.send(i).unwrap();
            }
            assert_eq!(tx.len(), 1, "a ring of one");
            // rx read nothing: 1..=4 were overwritten, 5 is kept.
            assert_eq!(rx.recv().await.unwrap_err().lagged(), Some(4));
            assert_eq!(rx.recv().await, Ok(5));
            assert_eq!(keeping_up.recv().await.unwrap_err().lagged(), Some(3));
            assert_eq!(keeping_up.recv().await, Ok(5));
            drop(tx);
            assert!(rx.recv().await.unwrap_err().is_sender_dropped());
        });
    });
}

/// A message whose `Clone` sends into its own channel (rule 5: the ring is
/// borrowed while a receiver clones).
struct SendsOnClone {
    tx: Option<broadcast::Sender<SendsOnClone>>,
    refused: Rc<Cell<usize>>,
}

impl Clone for SendsOnClone {
    fn clone(&self) -> Self {
        if let Some(tx) = &self.tx {
            let echo = SendsOnClone {
                tx: None,
                refused: self.refused.clone(),
            };
            let error = tx.send(echo).unwrap_err();
            assert!(error.is_borrowed() && !error.is_closed());
            assert!(error.into_inner().tx.is_none(), "the value came back");
            self.refused.set(self.refused.get() + 1);
        }
        SendsOnClone {
            tx: self.tx.clone(),
            refused: self.refused.clone(),
        }
    }
}

#[test]
fn a_send_from_a_message_clone_is_refused_not_a_panic() {
    within(LIMIT, || {
        let (tx, mut rx) = broadcast::channel::<SendsOnClone>(4);
        let refused = Rc::new(Cell::new(0));
        tx.send(SendsOnClone {
            tx: Some(tx.clone()),
            refused: refused.clone(),
        })
        .unwrap();
        let got = rx.try_recv().ok().unwrap();
        assert_eq!(refused.get(), 1, "the send inside clone was refused once");
        assert!(got.tx.is_some());
        assert_eq!(tx.len(), 1, "nothing was added by the refused send");
        // Overwrite the message holding a sender (no Rc cycle left behind).
        for _ in 0..4 {
            let plain = SendsOnClone {
                tx: None,
                refused: refused.clone(),
            };
            tx.send(plain).unwrap();
        }
    });
}
