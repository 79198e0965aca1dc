//! Cancellation under load, for the loop-local primitives: hundreds of
//! tasks whose waits are abandoned at pseudo-random moments (queued, or
//! just after being granted). Nothing may be lost or doubled: permits and
//! channel slots all come back, every message reported sent is received,
//! and no task hangs.
#![cfg(feature = "event-loop")]

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use triad::event_loop::future::{select, Either};
use triad::event_loop::sync::{mpsc, Mutex, Semaphore};
use triad::event_loop::{spawn, yield_now, EventLoop};

use support::within;

const LIMIT: Duration = Duration::from_secs(60);

/// SplitMix64: a fixed-seed generator, so every run is the same run.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

async fn yields(n: u64) {
    for _ in 0..n {
        yield_now().await;
    }
}

#[test]
fn semaphore_permits_survive_random_cancellation() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let (acquired, cancelled) = ev.block_on(async {
            let semaphore = Rc::new(Semaphore::new(5));
            let held = Rc::new(Cell::new(0usize));
            let acquired = Rc::new(Cell::new(0u32));
            let cancelled = Rc::new(Cell::new(0u32));
            let tasks: Vec<_> = (0..300u64)
                .map(|t| {
                    let (semaphore, held) = (semaphore.clone(), held.clone());
                    let (acquired, cancelled) = (acquired.clone(), cancelled.clone());
                    spawn(async move {
                        let mut rng = t;
                        for _ in 0..20 {
                            let n = (next(&mut rng) % 3 + 1) as u32;
                            let patience = next(&mut rng) % 4;
                            // The give-up branch first: when both finish in
                            // one poll, the acquire is dropped *granted*.
                            let permit = if next(&mut rng) % 3 == 0 {
                                match select(yields(patience), semaphore.acquire_many(n)).await {
                                    Either::Left(()) => {
                                        cancelled.set(cancelled.get() + 1);
                                        continue;
                                    }
                                    Either::Right(permit) => permit.unwrap(),
                                }
                            } else {
                                semaphore.acquire_many(n).await.unwrap()
                            };
                            held.set(held.get() + n as usize);
                            assert!(held.get() <= 5, "more permits held than exist");
                            acquired.set(acquired.get() + 1);
                            yields(next(&mut rng) % 3).await;
                            held.set(held.get() - n as usize);
                            drop(permit);
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            assert_eq!(
                semaphore.available_permits(),
                5,
                "no permit lost or doubled"
            );
            (acquired.get(), cancelled.get())
        });
        assert_eq!(acquired + cancelled, 300 * 20);
        assert!(cancelled > 0 && acquired > 0);
    });
}

#[test]
fn channel_slots_and_messages_survive_random_cancellation() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<u64>(3);
            let reported = Rc::new(Cell::new(0u64));
            let producers: Vec<_> = (0..100u64)
                .map(|p| {
                    let (tx, reported) = (tx.clone(), reported.clone());
                    spawn(async move {
                        let mut rng = p ^ 0xabcdef;
                        for i in 0..50 {
                            let value = p * 1000 + i;
                            let patience = next(&mut rng) % 5;
                            match select(yields(patience), tx.send(value)).await {
                                Either::Left(()) => {} // abandoned: not sent
                                Either::Right(sent) => {
                                    sent.unwrap();
                                    reported.set(reported.get() + value);
                                }
                            }
                        }
                    })
                })
                .collect();
            let tx_probe = tx; // kept to read the capacity at the end
            let consumer = spawn(async move {
                let mut sum = 0u64;
                let mut rng = 7;
                while let Some(value) = rx.recv().await {
                    sum += value;
                    yields(next(&mut rng) % 2).await;
                }
                sum
            });
            for producer in producers {
                producer.await.unwrap();
            }
            // Every slot comes back once the consumer has drained the
            // queue: none was lost with an abandoned, granted send.
            let probe = tx_probe;
            let mut turns = 0;
            while probe.capacity() < 3 && turns < 10_000 {
                yield_now().await;
                turns += 1;
            }
            assert_eq!(probe.capacity(), 3, "no channel slot lost");
            drop(probe);
            assert_eq!(
                consumer.await.unwrap(),
                reported.get(),
                "exactly the sends reported as done arrived"
            );
        });
    });
}

/// A message that counts its drops (each must be dropped exactly once:
/// received and then dropped by the consumer, or taken back and dropped
/// with its abandoned send).
struct Tracked {
    id: u64,
    drops: Rc<Cell<u64>>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

#[test]
fn rendezvous_messages_survive_random_cancellation() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (tx, mut rx) = mpsc::channel::<Tracked>(0);
            let drops = Rc::new(Cell::new(0u64));
            let reported = Rc::new(std::cell::RefCell::new(Vec::new()));
            let producers: Vec<_> = (0..100u64)
                .map(|p| {
                    let (tx, drops, reported) = (tx.clone(), drops.clone(), reported.clone());
                    spawn(async move {
                        let mut rng = p ^ 0x5eed;
                        for i in 0..50 {
                            let id = p * 1000 + i;
                            let message = Tracked {
                                id,
                                drops: drops.clone(),
                            };
                            let patience = next(&mut rng) % 5;
                            // Abandoned before the take: taken back and
                            // dropped. Abandoned just after it: delivered,
                            // the Ok unseen (rule 9).
                            if let Either::Right(sent) =
                                select(yields(patience), tx.send(message)).await
                            {
                                assert!(sent.is_ok());
                                reported.borrow_mut().push(id);
                            }
                        }
                    })
                })
                .collect();
            let consumer = spawn(async move {
                let mut received = std::collections::HashSet::new();
                let mut rng = 11;
                while let Some(message) = rx.recv().await {
                    assert!(rx.is_empty(), "at most one message in the channel");
                    assert!(received.insert(message.id), "received twice");
                    yields(next(&mut rng) % 2).await;
                }
                received
            });
            for producer in producers {
                producer.await.unwrap();
            }
            // The hand-off slot came back: one more send still goes through.
            tx.send(Tracked {
                id: u64::MAX,
                drops: drops.clone(),
            })
            .await
            .unwrap();
            drop(tx);
            let received = consumer.await.unwrap();
            assert!(received.contains(&u64::MAX));
            for id in reported.borrow().iter() {
                assert!(received.contains(id), "{id} reported sent but not received");
            }
            assert!(reported.borrow().len() < 5000, "some sends were abandoned");
            assert_eq!(drops.get(), 5001, "every message dropped exactly once");
        });
    });
}

#[test]
fn mutex_survives_random_cancellation() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let (count, done) = ev.block_on(async {
            let mutex = Rc::new(Mutex::new(0u64));
            let done = Rc::new(Cell::new(0u64));
            let tasks: Vec<_> = (0..200u64)
                .map(|t| {
                    let (mutex, done) = (mutex.clone(), done.clone());
                    spawn(async move {
                        let mut rng = t + 99;
                        for _ in 0..20 {
                            let patience = next(&mut rng) % 4;
                            if let Either::Right(mut guard) =
                                select(yields(patience), mutex.lock()).await
                            {
                                let seen = *guard;
                                yields(next(&mut rng) % 2).await;
                                *guard = seen + 1;
                                done.set(done.get() + 1);
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            assert!(!mutex.is_locked());
            let count = *mutex.lock().await;
            (count, done.get())
        });
        assert_eq!(count, done, "every completed critical section counted once");
        assert!(done > 0);
    });
}
