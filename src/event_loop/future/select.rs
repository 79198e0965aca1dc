//! [`select`] and [`race`]: the first of two futures to finish (rules 1
//! and 2 of the `future` module docs).

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use super::Either;

/// Run both futures until one finishes; its output, as
/// [`Left`](Either::Left) for `first` or [`Right`](Either::Right) for
/// `second`. The other is dropped (cancelled). Biased: when both are ready,
/// `first` wins.
///
/// ```
/// use std::time::Duration;
/// use triad::event_loop::future::{select, Either};
/// use triad::event_loop::{sleep, sync::mpsc, EventLoop};
///
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let (tx, mut rx) = mpsc::channel::<u32>(1);
///     tx.send(5).await.unwrap();
///     match select(rx.recv(), sleep(Duration::from_secs(1))).await {
///         Either::Left(message) => assert_eq!(message, Some(5)),
///         Either::Right(()) => unreachable!("a message was waiting"),
///     }
///     // Nothing more: the sleep wins, and the pending recv is dropped
///     // (cancellation-safe: no message is lost).
///     let idle = select(rx.recv(), sleep(Duration::from_millis(1))).await;
///     assert!(idle.is_right());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn select<A: Future, B: Future>(first: A, second: B) -> Either<A::Output, B::Output> {
    let mut first = pin!(first);
    let mut second = pin!(second);
    poll_fn(|cx| {
        if let Poll::Ready(value) = first.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(value));
        }
        if let Poll::Ready(value) = second.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(value));
        }
        Poll::Pending
    })
    .await
}

/// Run both futures (of the same output type) until one finishes; its
/// output. The other is dropped. Biased: when both are ready, `first`
/// wins.
///
/// ```
/// use std::time::Duration;
/// use triad::event_loop::future::race;
/// use triad::event_loop::{sleep, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let winner = ev.block_on(race(
///     async { sleep(Duration::from_millis(50)).await; "slow" },
///     async { sleep(Duration::from_millis(1)).await; "fast" },
/// ));
/// assert_eq!(winner, "fast");
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn race<T, A, B>(first: A, second: B) -> T
where
    A: Future<Output = T>,
    B: Future<Output = T>,
{
    select(first, second).await.into_inner()
}
