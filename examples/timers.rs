//! cargo run --release --example timers
//!
//! One idea: on an event loop, waiting costs nothing. Timers are the
//! simplest I/O-bound work there is: 10,000 tasks each sleep a different
//! time, all on one thread, and the whole run takes about as long as the
//! longest sleep. Then the three other shapes of waiting: an `interval`
//! that keeps its beat, a `timeout` that gives up on a slow operation, and
//! `sleep_until` for a deadline. Watch the lateness column: a timer never
//! fires early, and fires late by tens of microseconds on an idle machine (the loop arms
//! a timerfd, not epoll's whole milliseconds).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use triad::event_loop::{interval, sleep, sleep_until, spawn, timeout, EventLoop};

fn main() -> std::io::Result<()> {
    let ev = EventLoop::new()?;
    ev.block_on(async {
        // 1. Many sleeps at once: concurrency on one thread.
        let late = Rc::new(RefCell::new(Vec::with_capacity(10_000)));
        let start = Instant::now();
        let tasks: Vec<_> = (0..10_000u64)
            .map(|i| {
                let late = late.clone();
                // 5..500 ms, spread by a multiplicative hash of i (from 5 ms:
                // the loop takes a few ms to start all 10,000 tasks, and a
                // sleep due before its turn comes would measure that).
                let wait = Duration::from_micros(5_000 + i.wrapping_mul(2_654_435_761) % 495_000);
                spawn(async move {
                    let deadline = Instant::now() + wait;
                    sleep_until(deadline).await;
                    late.borrow_mut().push(deadline.elapsed());
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a sleeping task");
        }
        let mut late = late.take();
        late.sort();
        println!(
            "10,000 sleeps of 5-500 ms on one thread: done in {:.0} ms; lateness p50 {:.0} us, p99 {:.0} us",
            start.elapsed().as_secs_f64() * 1e3,
            micros(late[late.len() / 2]),
            micros(late[late.len() * 99 / 100]),
        );

        // 2. An interval keeps its beat: ticks are scheduled from the first,
        //    so a slow tick body does not push the next ones back.
        let mut beat = interval(Duration::from_millis(20));
        let first = beat.tick().await;
        println!("an interval of 20 ms:");
        for n in 1..=5u32 {
            let scheduled = beat.tick().await;
            println!(
                "  tick {n} ran at +{:>6.2} ms (scheduled +{} ms)",
                first.elapsed().as_secs_f64() * 1e3,
                (scheduled - first).as_millis()
            );
        }

        // 3. A timeout gives up on what takes too long, and says so.
        let started = Instant::now();
        match timeout(Duration::from_millis(30), sleep(Duration::from_secs(10))).await {
            Ok(()) => println!("the 10 s operation finished (it should not have)"),
            Err(elapsed) => println!(
                "a 10 s operation under a 30 ms timeout: {elapsed}, after {:.1} ms",
                started.elapsed().as_secs_f64() * 1e3
            ),
        }
        let quick = timeout(Duration::from_millis(30), async { 42 }).await;
        println!("a ready one under the same timeout: Ok({})", quick.expect("ready at once"));

        // 4. A deadline: sleep_until an instant, not for a duration.
        let deadline = Instant::now() + Duration::from_millis(15);
        sleep_until(deadline).await;
        println!(
            "sleep_until a deadline 15 ms ahead: woke {:.0} us after it",
            micros(deadline.elapsed())
        );
    });
    Ok(())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
