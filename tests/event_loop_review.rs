//! Edge cases an adversarial review found or checked: timers at the limits
//! of `Instant`, zero timeouts, remotes of a dropped loop, half-closed
//! sockets.
#![cfg(feature = "event-loop")]

#[path = "support/mod.rs"]
mod support;

use std::future::poll_fn;
use std::task::Poll;
use std::time::{Duration, Instant};

use triad::event_loop::{interval, sleep, sleep_until, spawn, timeout, EventLoop};

/// An interval whose period does not fit in `Instant` ticks once, then
/// never again: no overflow panic.
#[test]
fn an_interval_with_a_huge_period_ticks_once_then_waits() {
    let ev = EventLoop::new().unwrap();
    for period in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
        let ticks = ev.block_on(async move {
            let mut every = interval(period);
            let mut ticks = 0;
            for _ in 0..2 {
                if timeout(Duration::from_millis(5), every.tick())
                    .await
                    .is_ok()
                {
                    ticks += 1;
                }
            }
            ticks
        });
        assert_eq!(ticks, 1, "period {period:?}");
    }
}

#[test]
fn zero_timeouts_and_past_deadlines() {
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        assert_eq!(timeout(Duration::ZERO, async { 3 }).await, Ok(3));
        assert!(timeout(Duration::ZERO, std::future::pending::<()>())
            .await
            .is_err());
        let past = Instant::now().checked_sub(Duration::from_secs(1)).unwrap();
        sleep_until(past).await;
        sleep(Duration::ZERO).await;
        // A deadline centuries away: armed without overflow, never fires.
        let far = Instant::now()
            .checked_add(Duration::from_secs(1 << 40))
            .unwrap();
        assert!(timeout(Duration::from_millis(2), sleep_until(far))
            .await
            .is_err());
        assert!(timeout(Duration::from_millis(2), sleep(Duration::MAX))
            .await
            .is_err());
    });
}

/// A `Sleep` that fired can be reset and awaited again; so can one reset
/// while it waits.
#[test]
fn a_sleep_reset_after_firing_and_while_pending_fires_again() {
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let mut nap = Box::pin(sleep(Duration::from_millis(1)));
        nap.as_mut().await;
        let again = Instant::now() + Duration::from_millis(2);
        nap.as_mut().get_mut().reset(again);
        assert!(!nap.is_elapsed());
        nap.as_mut().await;
        assert!(Instant::now() >= again);
        // Pending, then reset earlier: the earlier deadline wins.
        nap.as_mut()
            .get_mut()
            .reset(Instant::now() + Duration::from_secs(3600));
        let first = poll_fn(|cx| Poll::Ready(nap.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        let sooner = Instant::now() + Duration::from_millis(1);
        nap.as_mut().get_mut().reset(sooner);
        assert!(timeout(Duration::from_secs(5), nap.as_mut()).await.is_ok());
    });
}

use std::future::Future;

/// A remote of a dropped loop refuses, from many threads at once, and
/// drops what it refused.
#[test]
fn remotes_of_a_dropped_loop_refuse_from_many_threads() {
    let ev = EventLoop::new().unwrap();
    let remote = ev.remote();
    let (tx, _rx) = remote.channel::<u32>();
    drop(ev);
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..8 {
            let remote = remote.clone();
            let tx = tx.clone();
            let dropped = dropped.clone();
            s.spawn(move || {
                struct Count(std::sync::Arc<std::sync::atomic::AtomicUsize>);
                impl Drop for Count {
                    fn drop(&mut self) {
                        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                for _ in 0..100 {
                    assert!(remote.is_closed());
                    let count = Count(dropped.clone());
                    assert!(remote
                        .spawn(async move {
                            drop(count);
                        })
                        .is_err());
                    assert!(remote.run(|| 1).is_err());
                    assert!(tx.send(1).is_err());
                }
            });
        }
    });
    assert_eq!(dropped.load(std::sync::atomic::Ordering::SeqCst), 800);
}

/// An abort after completion leaves the outcome; an abort before the first
/// poll cancels.
#[test]
fn abort_races_completion_with_one_outcome() {
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let done = spawn(async { 5 });
        triad::event_loop::yield_now().await;
        done.abort();
        assert_eq!(done.await.unwrap(), 5);
        let never = spawn(async { 6 });
        never.abort();
        assert!(never.await.unwrap_err().is_cancelled());
    });
}

/// `watch::Sender::send_replace` while the value is borrowed says so: the
/// new value comes back in an error, not as if it were the old one.
#[test]
fn a_watch_send_replace_while_borrowed_is_an_error() {
    use triad::event_loop::sync::watch;

    let (tx, rx) = watch::channel(1);
    assert_eq!(tx.send_replace(2).unwrap(), 1);
    let held = rx.borrow();
    let error = tx.send_replace(3).unwrap_err();
    assert!(error.is_borrowed() && !error.is_closed());
    assert_eq!(error.into_inner(), 3);
    assert_eq!(*held, 2);
    drop(held);
    drop(rx);
    // No receiver left: still stored (a later subscribe sees it).
    assert_eq!(tx.send_replace(4).unwrap(), 2);
    assert_eq!(*tx.subscribe().borrow(), 4);
}
