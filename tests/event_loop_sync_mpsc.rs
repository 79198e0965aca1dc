//! The loop-local channels (`event_loop::sync::mpsc`): order, back-pressure
//! counted at capacity, FIFO senders, close and drop as typed errors,
//! cancellation of waiting sends, many tasks without a lost wake-up, and
//! capacity 0 as a rendezvous (a send returns once its message is taken).
#![cfg(feature = "event-loop")]

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use triad::event_loop::future::{select, Either};
use triad::event_loop::sync::{mpsc, Event};
use triad::event_loop::{spawn, EventLoop};

use support::CountsDrops;
use support::{settle, within};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn messages_arrive_in_send_order_then_none() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let got = ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<u32>(4);
            let _producer = spawn(async move {
                for i in 0..1000 {
                    tx.send(i).await.unwrap();
                }
            });
            let mut got = Vec::new();
            while let Some(i) = rx.recv().await {
                got.push(i);
            }
            assert!(rx.try_recv().unwrap_err().is_disconnected());
            got
        });
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
    });
}

#[test]
fn a_bounded_sender_waits_at_capacity() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<u32>(8);
            let sent = Rc::new(Cell::new(0));
            let producer = spawn({
                let sent = sent.clone();
                async move {
                    for i in 0..100 {
                        tx.send(i).await.unwrap();
                        sent.set(sent.get() + 1);
                    }
                }
            });
            settle().await;
            assert_eq!(sent.get(), 8, "the sender must stop at capacity");
            assert_eq!(rx.len(), 8);
            // One slot back: exactly one more send completes.
            assert_eq!(rx.recv().await, Some(0));
            settle().await;
            assert_eq!(sent.get(), 9);
            assert_eq!(rx.len(), 8);
            let mut next = 1;
            while let Some(i) = rx.recv().await {
                assert_eq!(i, next);
                next += 1;
                assert!(rx.len() <= 8, "never more than capacity queued");
            }
            assert_eq!(next, 100);
            producer.await.unwrap();
        });
    });
}

#[test]
fn waiting_senders_send_in_the_order_they_waited() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<u32>(1);
            tx.send(100).await.unwrap(); // full
            let senders: Vec<_> = (0..5)
                .map(|id| {
                    let tx = tx.clone();
                    spawn(async move { tx.send(id).await.unwrap() })
                })
                .collect();
            settle().await; // all five wait, in spawn order
            assert_eq!(rx.recv().await, Some(100));
            // The freed slot went to sender 0: a newcomer cannot take it.
            assert!(tx.try_send(99).unwrap_err().is_full());
            assert_eq!(tx.capacity(), 0);
            drop(tx);
            let mut got = Vec::new();
            while let Some(i) = rx.recv().await {
                got.push(i);
            }
            assert_eq!(got, [0, 1, 2, 3, 4]);
            for sender in senders {
                sender.await.unwrap();
            }
        });
    });
}

#[test]
fn a_dropped_receiver_hands_values_back_and_drops_the_queue_once() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let drops = Rc::new(Cell::new(0));
        ev.block_on(async {
            let (tx, rx) = mpsc::channel::<CountsDrops>(2);
            tx.send(CountsDrops(drops.clone())).await.unwrap();
            tx.send(CountsDrops(drops.clone())).await.unwrap();
            // A third sender waits at capacity; it must get its value back.
            let waiting = spawn({
                let tx = tx.clone();
                let drops = drops.clone();
                async move {
                    let error = tx.send(CountsDrops(drops)).await.unwrap_err();
                    assert!(error.is_closed());
                    error.into_inner()
                }
            });
            settle().await;
            drop(rx);
            assert_eq!(
                drops.get(),
                2,
                "the two queued messages go with the receiver"
            );
            let back = waiting.await.unwrap();
            assert_eq!(drops.get(), 2, "the waiting send's value came back");
            drop(back);
            assert_eq!(drops.get(), 3);
            assert!(tx.is_closed());
            assert!(tx
                .try_send(CountsDrops(drops.clone()))
                .unwrap_err()
                .is_closed());
            assert!(tx.try_reserve().unwrap_err().is_closed());
            assert_eq!(drops.get(), 4);
        });
    });
}

#[test]
fn close_fails_waiting_senders_but_delivers_what_was_queued_or_reserved() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<u32>(2);
            tx.send(1).await.unwrap();
            let permit = tx.reserve().await.unwrap(); // second slot, reserved
            let waiting = spawn({
                let tx = tx.clone();
                async move { tx.send(3).await.unwrap_err().into_inner() }
            });
            settle().await;
            rx.close();
            assert_eq!(
                waiting.await.unwrap(),
                3,
                "the waiting send failed with its value"
            );
            assert!(tx.try_send(4).unwrap_err().is_closed());
            assert_eq!(rx.recv().await, Some(1));
            permit.send(2).unwrap(); // a reservation made before the close still arrives
            assert_eq!(rx.recv().await, Some(2));
            assert_eq!(
                rx.recv().await,
                None,
                "closed, nothing queued or reserved: the end"
            );
        });
    });
}

#[test]
fn close_ends_the_stream_when_the_last_reservation_is_dropped() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<u32>(2);
            let permit = tx.try_reserve().unwrap();
            rx.close();
            let end = spawn(async move { rx.recv().await });
            settle().await;
            assert!(!end.is_finished(), "a reservation may still send");
            drop(permit);
            assert_eq!(end.await.unwrap(), None);
            drop(tx);
        });
    });
}

#[test]
fn dropping_a_waiting_send_lets_the_next_sender_proceed() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<u32>(1);
            tx.send(0).await.unwrap();
            // Waits in the queue, then gives up (the other branch wins).
            let gave_up = select(tx.send(1), settle()).await;
            assert!(gave_up.is_right());
            let next = spawn({
                let tx = tx.clone();
                async move { tx.send(2).await.unwrap() }
            });
            settle().await;
            assert_eq!(rx.recv().await, Some(0));
            assert_eq!(rx.recv().await, Some(2), "the abandoned send is gone");
            next.await.unwrap();
            assert_eq!(tx.capacity(), 1, "no slot lost");
        });
    });
}

#[test]
fn a_slot_handed_to_a_cancelled_sender_is_passed_on() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<u32>(1);
            tx.send(0).await.unwrap();
            let first = spawn({
                let tx = tx.clone();
                async move { tx.send(1).await.unwrap() }
            });
            let second = spawn({
                let tx = tx.clone();
                async move { tx.send(2).await.unwrap() }
            });
            settle().await; // both wait: first, then second
            assert_eq!(rx.try_recv(), Ok(0)); // the slot is handed to `first`...
            first.abort(); // ...which is cancelled before it runs
            assert!(first.await.unwrap_err().is_cancelled());
            assert_eq!(rx.recv().await, Some(2), "the slot went on to `second`");
            second.await.unwrap();
            assert_eq!(tx.capacity(), 1, "no slot lost");
        });
    });
}

#[test]
fn reserve_in_a_select_keeps_the_value() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<String>(1);
            let stop = Event::new();
            tx.send("full".into()).await.unwrap();
            let value = String::from("kept");
            stop.set();
            match select(stop.wait(), tx.reserve()).await {
                Either::Left(()) => {} // the value was never moved in
                Either::Right(_) => panic!("the channel is full"),
            }
            assert_eq!(rx.recv().await.as_deref(), Some("full"));
            let permit = tx.reserve().await.unwrap();
            permit.send(value).unwrap();
            assert_eq!(rx.recv().await.as_deref(), Some("kept"));
        });
    });
}

#[test]
fn many_producers_through_a_tiny_channel_lose_nothing() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let (count, sum) = ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<u64>(3);
            for p in 0..100u64 {
                let tx = tx.clone();
                let _detached = spawn(async move {
                    for i in 0..1000 {
                        tx.send(p * 1000 + i).await.unwrap();
                    }
                });
            }
            drop(tx);
            let (mut count, mut sum) = (0u64, 0u64);
            while let Some(v) = rx.recv().await {
                count += 1;
                sum += v;
            }
            (count, sum)
        });
        assert_eq!(count, 100_000);
        assert_eq!(sum, (0..100_000u64).sum::<u64>());
    });
}

#[test]
fn per_sender_order_holds_with_many_senders() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let got = ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<(u32, u32)>(2);
            for id in 0..10 {
                let tx = tx.clone();
                let _detached = spawn(async move {
                    for i in 0..200 {
                        tx.send((id, i)).await.unwrap();
                    }
                });
            }
            drop(tx);
            let mut next = [0u32; 10];
            let mut total = 0;
            while let Some((id, i)) = rx.recv().await {
                assert_eq!(i, next[id as usize], "sender {id} out of order");
                next[id as usize] += 1;
                total += 1;
            }
            total
        });
        assert_eq!(got, 2000);
    });
}

#[test]
fn unbounded_send_never_waits_and_closed_completes() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
            for i in 0..10_000 {
                tx.send(i).unwrap();
            }
            assert_eq!(rx.len(), 10_000);
            let mut buffer = Vec::new();
            assert_eq!(rx.recv_many(&mut buffer, 100).await, 100);
            assert_eq!(buffer, (0..100).collect::<Vec<_>>());
            let watcher = spawn({
                let tx = tx.clone();
                async move { tx.closed().await }
            });
            settle().await;
            assert!(!watcher.is_finished());
            drop(rx);
            watcher.await.unwrap();
            assert_eq!(tx.send(1).unwrap_err().into_inner(), 1);
        });
    });
}

#[test]
fn the_last_sender_dropped_wakes_a_waiting_receiver() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<u32>(1);
            let receiver = spawn(async move { rx.recv().await });
            settle().await;
            assert!(!receiver.is_finished());
            drop(tx);
            assert_eq!(receiver.await.unwrap(), None);
        });
    });
}

/// A message whose drop sends into its own channel (rule 8: the queue is
/// not borrowed while messages are dropped).
struct SendsOnDrop {
    tx: mpsc::UnboundedSender<SendsOnDrop>,
    refused: Rc<RefCell<Vec<bool>>>,
    again: bool,
}

impl Drop for SendsOnDrop {
    fn drop(&mut self) {
        if self.again {
            let echo = SendsOnDrop {
                tx: self.tx.clone(),
                refused: self.refused.clone(),
                again: false,
            };
            let refused = self.tx.send(echo).is_err();
            self.refused.borrow_mut().push(refused);
        }
    }
}

#[test]
fn a_message_that_sends_while_dropped_with_the_receiver_is_refused() {
    within(LIMIT, || {
        let (tx, rx) = mpsc::unbounded_channel::<SendsOnDrop>();
        let refused = Rc::new(RefCell::new(Vec::new()));
        for _ in 0..3 {
            tx.send(SendsOnDrop {
                tx: tx.clone(),
                refused: refused.clone(),
                again: true,
            })
            .unwrap();
        }
        drop(rx);
        assert_eq!(*refused.borrow(), [true, true, true]);
    });
}

// Capacity 0: a rendezvous channel (rule 9 of the mpsc module docs).

#[test]
fn a_rendezvous_send_returns_only_once_the_receiver_took_the_message() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<u32>(0);
            assert_eq!((tx.capacity(), tx.max_capacity()), (0, 0));
            let delivered = Rc::new(Cell::new(false));
            let sender = spawn({
                let delivered = delivered.clone();
                async move {
                    tx.send(7).await.unwrap();
                    delivered.set(true);
                }
            });
            settle().await;
            assert!(!delivered.get(), "nobody took it yet");
            assert_eq!(rx.len(), 1, "the message waits in the hand-off slot");
            assert_eq!(rx.recv().await, Some(7));
            settle().await;
            assert!(delivered.get(), "the take completed the send");
            sender.await.unwrap();
            assert_eq!(rx.recv().await, None, "the sender is gone");
        });
    });
}

#[test]
fn a_rendezvous_try_send_needs_a_receiver_waiting_in_recv() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<u32>(0);
            let error = tx.try_send(1).unwrap_err();
            assert!(error.is_full());
            assert_eq!(error.into_inner(), 1, "the value comes back");
            assert!(tx.try_reserve().unwrap_err().is_full());
            assert!(rx.is_empty(), "nothing was buffered");

            // A recv that waited and was dropped no longer counts.
            assert!(select(rx.recv(), settle()).await.is_right());
            assert!(tx.try_send(2).unwrap_err().is_full());

            let receiver = spawn(async move {
                let got = rx.recv().await;
                (got, rx)
            });
            settle().await; // the receiver waits in `recv`
            tx.try_send(3).unwrap();
            assert!(
                tx.try_send(4).unwrap_err().is_full(),
                "one waiting recv takes one message"
            );
            let (got, rx) = receiver.await.unwrap();
            assert_eq!(got, Some(3));
            assert!(rx.is_empty());
        });
    });
}

#[test]
fn a_rendezvous_receiver_dropped_hands_the_waiting_value_back() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let drops = Rc::new(Cell::new(0));
        ev.block_on(async {
            let (tx, rx) = mpsc::channel::<CountsDrops>(0);
            // The first sender's message is in the slot; the second waits
            // for the slot.
            let senders: Vec<_> = (0..2)
                .map(|_| {
                    let tx = tx.clone();
                    let drops = drops.clone();
                    spawn(async move {
                        let error = tx.send(CountsDrops(drops)).await.unwrap_err();
                        assert!(error.is_closed());
                        error.into_inner()
                    })
                })
                .collect();
            settle().await;
            assert_eq!(rx.len(), 1);
            drop(rx);
            assert_eq!(drops.get(), 0, "the message in the slot is not dropped");
            for (i, sender) in senders.into_iter().enumerate() {
                let back = sender.await.unwrap();
                assert_eq!(drops.get(), i, "this value was not dropped");
                drop(back);
            }
            assert_eq!(drops.get(), 2, "each value came back exactly once");
        });
    });
}

#[test]
fn a_cancelled_rendezvous_send_takes_its_message_back() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let drops = Rc::new(Cell::new(0));
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<CountsDrops>(0);
            let gave_up = select(tx.send(CountsDrops(drops.clone())), settle()).await;
            assert!(gave_up.is_right());
            assert_eq!(drops.get(), 1, "the value was dropped unsent");
            assert!(
                matches!(rx.try_recv(), Err(e) if e.is_empty()),
                "and is not received"
            );
            // The slot went back: the next send goes through.
            let next = spawn({
                let tx = tx.clone();
                let drops = drops.clone();
                async move { tx.send(CountsDrops(drops)).await.is_ok() }
            });
            let got = rx.recv().await;
            assert!(got.is_some());
            assert!(next.await.unwrap());
            drop(got);
            assert_eq!(drops.get(), 2);
        });
    });
}

#[test]
fn a_rendezvous_close_delivers_the_handed_over_message_and_fails_the_rest() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<u32>(0);
            let first = spawn({
                let tx = tx.clone();
                async move { tx.send(1).await.map_err(|e| e.into_inner()) }
            });
            let second = spawn({
                let tx = tx.clone();
                async move { tx.send(2).await.map_err(|e| e.into_inner()) }
            });
            settle().await; // 1 is in the slot, 2 waits for it
            rx.close();
            assert_eq!(second.await.unwrap(), Err(2), "the waiting send failed");
            assert!(tx.try_send(3).unwrap_err().is_closed());
            assert_eq!(rx.recv().await, Some(1), "the handed-over message arrives");
            assert_eq!(first.await.unwrap(), Ok(()), "and its send succeeded");
            assert_eq!(rx.recv().await, None);
        });
    });
}

#[test]
fn many_producers_through_a_rendezvous_channel_lose_nothing_and_buffer_one() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let (count, sum, most_queued) = ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<u64>(0);
            let delivered = Rc::new(Cell::new(0u64));
            for p in 0..20u64 {
                let tx = tx.clone();
                let delivered = delivered.clone();
                let _detached = spawn(async move {
                    for i in 0..100 {
                        tx.send(p * 100 + i).await.unwrap();
                        delivered.set(delivered.get() + 1);
                    }
                });
            }
            drop(tx);
            let (mut count, mut sum, mut most_queued) = (0u64, 0u64, 0);
            while let Some(v) = rx.recv().await {
                count += 1;
                sum += v;
                most_queued = most_queued.max(rx.len() + 1);
                assert!(delivered.get() < count, "a send returned before its take");
                triad::event_loop::yield_now().await;
            }
            assert_eq!(delivered.get(), count);
            (count, sum, most_queued)
        });
        assert_eq!(count, 2000);
        assert_eq!(sum, (0..2000u64).sum::<u64>());
        assert_eq!(most_queued, 1, "never more than one message in the channel");
    });
}

#[test]
fn a_rendezvous_send_taken_before_the_receiver_dropped_has_succeeded() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let drops = Rc::new(Cell::new(0));
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<CountsDrops>(0);
            let sender = spawn({
                let drops = drops.clone();
                async move { tx.send(CountsDrops(drops)).await.is_ok() }
            });
            settle().await; // the message waits in the slot
            let taken = rx.try_recv().ok();
            drop(rx); // before the sender runs again
            assert!(
                sender.await.unwrap(),
                "taken means sent, whatever came after"
            );
            assert!(taken.is_some());
            assert_eq!(
                drops.get(),
                0,
                "the taken message was not dropped by the channel"
            );
            drop(taken);
            assert_eq!(drops.get(), 1);
        });
    });
}
