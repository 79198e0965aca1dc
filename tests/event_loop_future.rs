//! `event_loop::future`: `select`/`race` (which one won, the loser dropped,
//! biased to the first) and `join_all` (order kept).
#![cfg(feature = "event-loop")]

mod support;

use std::cell::Cell;
use std::future::{pending, ready};
use std::rc::Rc;
use std::time::Duration;

use triad::event_loop::future::{join_all, race, select, Either};
use triad::event_loop::sync::{mpsc, Semaphore};
use triad::event_loop::{sleep, spawn, yield_now, EventLoop};

use support::within;
use support::CountsDrops;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn select_says_which_won_and_drops_the_loser() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let drops = Rc::new(Cell::new(0));
            let loser = {
                let flag = CountsDrops(drops.clone());
                async move {
                    let _flag = flag;
                    pending::<u8>().await
                }
            };
            let won = select(loser, sleep(Duration::from_millis(1))).await;
            assert_eq!(won, Either::Right(()));
            assert_eq!(drops.get(), 1, "the loser was dropped");
            let won = select(ready(7u8), pending::<()>()).await;
            assert_eq!(won, Either::Left(7));
        });
    });
}

#[test]
fn select_is_biased_to_the_first_when_both_are_ready() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            for _ in 0..10 {
                assert_eq!(select(ready(1), ready(2)).await, Either::Left(1));
                assert_eq!(race(ready(1), ready(2)).await, 1);
            }
        });
    });
}

#[test]
fn race_returns_the_first_to_finish() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let winner = ev.block_on(race(
            async {
                sleep(Duration::from_millis(30)).await;
                "slow"
            },
            async {
                yield_now().await;
                "fast"
            },
        ));
        assert_eq!(winner, "fast");
    });
}

#[test]
fn a_select_losing_an_acquire_loses_no_permit() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let semaphore = Rc::new(Semaphore::new(1));
            let held = semaphore.try_acquire().unwrap();
            let contender = spawn({
                let semaphore = semaphore.clone();
                async move {
                    match select(semaphore.acquire(), sleep(Duration::from_millis(1))).await {
                        Either::Left(_) => "acquired",
                        Either::Right(()) => "timed out",
                    }
                }
            });
            assert_eq!(contender.await.unwrap(), "timed out");
            drop(held);
            assert_eq!(semaphore.available_permits(), 1);
        });
    });
}

#[test]
fn join_all_keeps_the_input_order() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let outputs = ev.block_on(join_all((0..20u64).map(|i| async move {
            // Later inputs finish first.
            for _ in 0..(20 - i) {
                yield_now().await;
            }
            i * i
        })));
        assert_eq!(outputs, (0..20u64).map(|i| i * i).collect::<Vec<_>>());
        let none: Vec<u8> = ev.block_on(join_all(Vec::<std::future::Ready<u8>>::new()));
        assert!(none.is_empty());
    });
}

#[test]
fn join_all_over_channel_pipelines_completes() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let sums = ev.block_on(async {
            let pipelines = (0..8u64).map(|p| async move {
                let (tx, mut rx) = mpsc::channel::<u64>(2);
                let producer = async move {
                    for i in 0..500 {
                        tx.send(p + i).await.unwrap();
                    }
                };
                let consumer = async move {
                    let mut sum = 0;
                    while let Some(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                };
                // Both halves in one future: join them.
                let (_, sum) = join_pair(producer, consumer).await;
                sum
            });
            join_all(pipelines).await
        });
        let expected: Vec<u64> = (0..8u64).map(|p| (0..500).map(|i| p + i).sum()).collect();
        assert_eq!(sums, expected);
    });
}

/// Two futures of different types, joined with `join_all` over `Either`.
async fn join_pair<A, B>(a: A, b: B) -> (A::Output, B::Output)
where
    A: std::future::Future,
    B: std::future::Future,
{
    let both: Vec<Either<A::Output, B::Output>> = join_all(
        [Either::Left(a), Either::Right(b)]
            .into_iter()
            .map(|side| async move {
                match side {
                    Either::Left(a) => Either::Left(a.await),
                    Either::Right(b) => Either::Right(b.await),
                }
            }),
    )
    .await;
    let mut both = both.into_iter();
    match (both.next(), both.next()) {
        (Some(Either::Left(a)), Some(Either::Right(b))) => (a, b),
        _ => unreachable!("join_all keeps the order"),
    }
}
