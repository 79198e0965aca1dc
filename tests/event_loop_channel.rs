//! The channel into the loop (`Remote::channel`), through the public API:
//! messages from other threads, end of stream, refused sends, and a million
//! messages with few wake-ups.
#![cfg(feature = "event-loop")]

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use triad::event_loop::{yield_now, EventLoop};

use support::within;

const LIMIT: Duration = Duration::from_secs(30);

/// Counts its drops, to check that each message is dropped exactly once.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn messages_from_two_threads_arrive_in_per_sender_order_then_none() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let (tx, mut rx) = ev.remote().channel::<(u8, u32)>();
        let producers: Vec<_> = (0..2u8)
            .map(|id| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..10_000 {
                        tx.send((id, i)).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let (next, ended) = ev.block_on(async move {
            let mut next = [0u32; 2];
            while let Some((id, i)) = rx.recv().await {
                assert_eq!(i, next[id as usize], "sender {id} out of order");
                next[id as usize] += 1;
            }
            (next, rx.recv().await.is_none())
        });
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(next, [10_000, 10_000]);
        assert!(ended, "None again after the end");
    });
}

#[test]
fn a_task_spawned_from_another_thread_owns_the_receiver() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let remote = ev.remote();
        let (tx, handle) = thread::spawn(move || {
            let (tx, mut rx) = remote.channel::<String>();
            let handle = remote
                .spawn(async move {
                    let mut words = Vec::new();
                    while let Some(w) = rx.recv().await {
                        words.push(w);
                    }
                    words.join(" ")
                })
                .unwrap();
            tx.send("hello".into()).unwrap();
            (tx, handle)
        })
        .join()
        .unwrap();
        tx.send("loop".into()).unwrap();
        drop(tx);
        assert_eq!(ev.block_on(handle).unwrap(), "hello loop");
    });
}

#[test]
fn send_after_the_receiver_is_dropped_hands_the_message_back() {
    let ev = EventLoop::new().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = ev.remote().channel::<Counted>();
    tx.send(Counted(drops.clone())).unwrap();
    tx.send(Counted(drops.clone())).unwrap();
    assert!(!tx.is_closed());
    drop(rx);
    assert_eq!(drops.load(Ordering::Relaxed), 2, "queued messages dropped");
    assert!(tx.is_closed());
    let error = tx.send(Counted(drops.clone())).unwrap_err();
    assert!(error.is_receiver_dropped());
    assert!(!error.is_loop_gone());
    let back = error.into_inner();
    assert_eq!(drops.load(Ordering::Relaxed), 2, "handed back, not dropped");
    drop(back);
    assert_eq!(drops.load(Ordering::Relaxed), 3);
}

#[test]
fn send_after_the_loop_is_dropped_is_refused_and_the_receiving_task_is_dropped() {
    let drops = Arc::new(AtomicUsize::new(0));
    let ev = EventLoop::new().unwrap();
    let (tx, mut rx) = ev.remote().channel::<Counted>();
    let receiving = ev.spawn(async move { while rx.recv().await.is_some() {} });
    ev.block_on(yield_now()); // the task runs and waits on the channel
    tx.send(Counted(drops.clone())).unwrap(); // queued; the loop is not turning
    drop(receiving);
    drop(ev); // cancels the task: the receiver and its queue go with it
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    let error = thread::spawn(move || tx.send(Counted(drops.clone())).unwrap_err())
        .join()
        .unwrap();
    assert!(error.is_loop_gone());
    assert!(!error.is_receiver_dropped());
    assert_eq!(error.to_string(), "the event loop is gone");
}

#[test]
fn try_recv_tells_empty_from_disconnected() {
    let ev = EventLoop::new().unwrap();
    let (tx, mut rx) = ev.remote().channel::<i32>();
    assert!(rx.try_recv().unwrap_err().is_empty());
    tx.send(7).unwrap();
    assert_eq!(rx.len(), 1);
    assert_eq!(rx.try_recv(), Ok(7));
    drop(tx);
    let error = rx.try_recv().unwrap_err();
    assert!(error.is_disconnected());
    assert!(rx.is_empty());
}

#[test]
fn a_channel_that_never_runs_dry_does_not_starve_other_tasks() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let (tx, mut rx) = ev.remote().channel::<u32>();
        for i in 0..10_000 {
            tx.send(i).unwrap();
        }
        let ticks = Rc::new(Cell::new(0u32));
        let ticker = ev.spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    yield_now().await;
                    ticks.set(ticks.get() + 1);
                }
            }
        });
        // 10,000 ready messages, never a Pending from the channel: the
        // budget (128 per poll) makes the receiver yield ~78 times.
        let received = ev.block_on(async move {
            let mut received = 0;
            while received < 10_000 {
                rx.recv().await.unwrap();
                received += 1;
            }
            received
        });
        assert_eq!(received, 10_000);
        assert!(
            ticks.get() >= 50,
            "the other task ran only {} times",
            ticks.get()
        );
        ticker.abort();
        drop(tx);
    });
}

/// The throughput the design is for: a million messages from another
/// thread, drained in batches. The receiver waits (and so the loop is
/// woken) at most once per batch, far fewer times than there are messages.
#[test]
fn a_million_messages_from_another_thread() {
    within(Duration::from_secs(60), || {
        const N: u64 = 1_000_000;
        let ev = EventLoop::new().unwrap();
        let (tx, mut rx) = ev.remote().channel::<u64>();
        let start = Instant::now();
        let producer = thread::spawn(move || {
            for i in 0..N {
                tx.send(i).unwrap();
            }
        });
        let (sum, waits) = ev.block_on(async move {
            let mut sum = 0u64;
            let mut waits = 0u64;
            loop {
                // Count how often the receiver found nothing and had to wait.
                match rx.try_recv() {
                    Ok(v) => sum += v,
                    Err(e) if e.is_disconnected() => break,
                    Err(_) => {
                        waits += 1;
                        match rx.recv().await {
                            Some(v) => sum += v,
                            None => break,
                        }
                    }
                }
            }
            (sum, waits)
        });
        producer.join().unwrap();
        let elapsed = start.elapsed();
        assert_eq!(sum, N * (N - 1) / 2);
        assert!(waits < N / 10, "{waits} waits for {N} messages");
        eprintln!("1,000,000 messages in {elapsed:?}, {waits} waits");
    });
}
