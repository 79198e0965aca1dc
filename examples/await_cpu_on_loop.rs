//! cargo run --release --example await_cpu_on_loop
//!
//! One idea: heavy work *awaited* on the event loop does not stop the loop,
//! as long as the work itself runs somewhere else. A heartbeat task ticks
//! every 10 ms on the loop while the same prime count runs four ways.
//!
//! What to watch for:
//! - "process pool started by Fork": the runtime built its process pool
//!   before any of its threads, while this program still had one thread.
//! - inline on the loop: the heartbeat stops (one long gap, few beats):
//!   the loop's only thread is busy computing.
//! - spawn_cpu and spawn_process: the heartbeat keeps its 10 ms beat while
//!   the count runs on the work-stealing pool or in a worker process.
//! - a process task that crashes its worker fails alone, with the signal.
//! - spawn_blocking: a blocking sleep on a blocking thread, heartbeat intact.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use triad::event_loop::sleep;
use triad::runtime::{spawn, spawn_blocking, spawn_cpu, spawn_process};
use triad::threads::join;
use triad::Runtime;

const LIMIT: u64 = 1_500_000;

/// CPU-bound work: count the primes in `range` by trial division.
fn count_primes(range: std::ops::Range<u64>) -> u64 {
    range
        .filter(|&n| n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

/// The same count split with `join` (on the pool: every core).
fn count_primes_parallel(range: std::ops::Range<u64>) -> u64 {
    if range.end - range.start <= 20_000 {
        return count_primes(range);
    }
    let mid = range.start + (range.end - range.start) / 2;
    let (a, b) = join(
        || count_primes_parallel(range.start..mid),
        || count_primes_parallel(mid..range.end),
    );
    a + b
}

/// The count as a process task (a plain `fn`, its argument as bytes).
fn count_primes_task(limit: u64) -> u64 {
    count_primes(0..limit)
}

/// A task that crashes its worker process.
fn crash(_: u64) -> u64 {
    std::process::abort()
}

/// Beats of the heartbeat and the longest gap between two.
#[derive(Default)]
struct Heart {
    beats: Cell<u32>,
    longest: Cell<Duration>,
    last: Cell<Option<Instant>>,
}

impl Heart {
    fn reset(&self) {
        self.beats.set(0);
        self.longest.set(Duration::ZERO);
        self.last.set(Some(Instant::now()));
    }

    fn beat(&self) {
        let now = Instant::now();
        if let Some(last) = self.last.get() {
            self.longest.set(self.longest.get().max(now - last));
        }
        self.last.set(Some(now));
        self.beats.set(self.beats.get() + 1);
    }
}

fn report(what: &str, took: Duration, heart: &Heart, outcome: String) {
    println!(
        "{what:<28} {:>7.1} ms  heartbeat: {:>3} beats, longest gap {:>6.1} ms  ({outcome})",
        took.as_secs_f64() * 1e3,
        heart.beats.get(),
        heart.longest.get().as_secs_f64() * 1e3,
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // First thing in main: the process pool's zygote is forked before any
    // thread of the runtime (or of anything else) exists.
    let rt = Runtime::builder().blocking_threads(2).build()?;
    println!(
        "process pool started by {:?}; {} CPU threads, {} worker processes\n",
        rt.process_pool().start_mode(),
        rt.thread_pool().current_num_threads(),
        rt.process_pool().workers(),
    );

    rt.block_on(async {
        let heart = Rc::new(Heart::default());
        let ticker = spawn({
            let heart = heart.clone();
            async move {
                loop {
                    sleep(Duration::from_millis(10)).await;
                    heart.beat();
                }
            }
        });
        // Let the heartbeat settle.
        sleep(Duration::from_millis(50)).await;

        heart.reset();
        let start = Instant::now();
        let primes = count_primes(0..LIMIT); // on the loop's own thread
        sleep(Duration::from_millis(1)).await; // let the ticker see the time
        report(
            "inline on the loop",
            start.elapsed(),
            &heart,
            format!("{primes} primes"),
        );

        heart.reset();
        let start = Instant::now();
        let primes = spawn_cpu(|| count_primes_parallel(0..LIMIT)).await?;
        report(
            "spawn_cpu (thread pool)",
            start.elapsed(),
            &heart,
            format!("{primes} primes"),
        );

        heart.reset();
        let start = Instant::now();
        let primes = spawn_process(count_primes_task, LIMIT).await?;
        report(
            "spawn_process (a worker)",
            start.elapsed(),
            &heart,
            format!("{primes} primes"),
        );

        heart.reset();
        let start = Instant::now();
        let error = spawn_process(crash, 0).await.unwrap_err();
        report(
            "spawn_process (crashes)",
            start.elapsed(),
            &heart,
            error.to_string(),
        );

        heart.reset();
        let start = Instant::now();
        spawn_blocking(|| std::thread::sleep(Duration::from_millis(300))).await?;
        report(
            "spawn_blocking (sleeps)",
            start.elapsed(),
            &heart,
            "slept 300 ms".into(),
        );

        ticker.abort();
        Ok::<(), triad::runtime::JoinError>(())
    })?;
    // Dropping the runtime joins every thread and reaps every process.
    drop(rt);
    Ok(())
}
