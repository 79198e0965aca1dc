//! cargo run --release --example tour
//!
//! The crate's main demonstration: the ideas behind triad, measured on the
//! machine it runs on. Each row is a measurement with a one-line lesson.
//!
//! So far it shows the thread pool (`triad::threads`) and the process pool
//! (`triad::processes`); the event loop joins the tour as it lands.
//!
//! What to watch for:
//! - CPU-bound work split over the pool's threads runs about N times faster
//!   on N cores: Rust threads compute in parallel (Python's GIL would let
//!   one thread compute at a time).
//! - Threads share memory: the jobs below borrow the caller's data in place,
//!   nothing is copied.
//! - An idle pool costs nothing: its workers sleep.
//! - Processes do not share memory: arguments and results cross as bytes
//!   (here through shared memory), which costs per task and per MiB; in
//!   return a task that crashes takes down its worker, not the program.

use std::time::{Duration, Instant};

use triad::processes::{ProcessPool, SharedBytes};
use triad::threads::{join, ThreadPool};

/// CPU-bound work: count the primes below `limit` by trial division.
fn count_primes(range: std::ops::Range<u64>) -> u64 {
    range
        .filter(|&n| n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

/// The same count, split with `join` until the pieces are small.
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

/// The same count as one process-pool task: a whole range per task.
fn count_primes_task(range: (u64, u64)) -> u64 {
    count_primes(range.0..range.1)
}

/// The cheapest task: what crossing the process boundary costs by itself.
fn double(x: u64) -> u64 {
    x * 2
}

/// A task that returns `mib` MiB of bytes.
fn bytes_task(mib: u64) -> SharedBytes {
    SharedBytes::from(vec![7u8; (mib as usize) << 20])
}

/// A task that kills its own worker process.
fn crash(_: u64) -> u64 {
    std::process::abort()
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

/// CPU time (user + system) the whole process has used so far.
fn process_cpu_time() -> Duration {
    // SAFETY: `usage` is a valid out-pointer for getrusage, which only
    // writes it; RUSAGE_SELF is a valid `who`.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

fn row(what: &str, took: Duration, lesson: &str) {
    println!("{what:<52} {:>10.1} ms", took.as_secs_f64() * 1e3);
    println!("    -> {lesson}");
}

fn main() {
    // The process pool first: while this program is still single-threaded,
    // its zygote can be forked directly (no thread's lock can be inherited).
    let processes = ProcessPool::new().expect("process pool");
    let pool = ThreadPool::new().expect("thread pool");
    let cores = pool.current_num_threads();
    let limit = 3_000_000;
    println!("triad tour: {cores} worker thread(s), one per core\n");

    let (sequential, sequential_time) = time(|| count_primes(0..limit));
    row(
        "1. CPU-bound, one thread: primes below 3,000,000",
        sequential_time,
        "computing is CPU-bound: one core does all of it",
    );

    let (parallel, parallel_time) =
        time(|| pool.install(|| count_primes_parallel(0..limit)).unwrap());
    assert_eq!(parallel, sequential);
    let speedup = sequential_time.as_secs_f64() / parallel_time.as_secs_f64();
    row(
        &format!("2. The same on the pool, join ({cores} threads)"),
        parallel_time,
        &format!(
            "parallelism: {speedup:.2}x on {cores} core(s); Rust threads compute at the same \
             instant (no GIL, unlike Python threads)"
        ),
    );

    let mut data: Vec<u64> = (0..8_000_000).collect();
    let (_, shared_time) = time(|| {
        pool.scope(|s| {
            for chunk in data.chunks_mut(500_000) {
                s.spawn(move |_| chunk.iter_mut().for_each(|x| *x = *x * 3 + 1));
            }
        })
        .unwrap()
    });
    assert!(data.iter().enumerate().all(|(i, &x)| x == i as u64 * 3 + 1));
    row(
        "3. scope: 16 jobs update one 64 MB Vec in place",
        shared_time,
        "threads share memory: jobs borrow the caller's data, nothing is copied",
    );

    std::thread::sleep(Duration::from_millis(50));
    let before = process_cpu_time();
    let wakeups_before: u64 = pool.stats().iter().map(|s| s.wakeups).sum();
    std::thread::sleep(Duration::from_millis(500));
    let idle_cpu = process_cpu_time().saturating_sub(before);
    let wakeups: u64 = pool.stats().iter().map(|s| s.wakeups).sum::<u64>() - wakeups_before;
    row(
        "4. The pool sits idle for 500 ms: CPU it burns",
        idle_cpu,
        &format!("idle workers sleep: {wakeups} wake-up(s) while idle, no CPU burnt"),
    );

    let workers = processes.workers() as u64;
    let pieces: Vec<(u64, u64)> = (0..workers * 4)
        .map(|i| (limit * i / (workers * 4), limit * (i + 1) / (workers * 4)))
        .collect();
    let (in_processes, process_time) = time(|| {
        processes
            .map(count_primes_task, pieces)
            .expect("process map")
            .into_iter()
            .sum::<u64>()
    });
    assert_eq!(in_processes, sequential);
    row(
        &format!("5. The same in the process pool ({workers} workers)"),
        process_time,
        &format!(
            "processes compute in parallel too: {:.2}x; each has its own memory",
            sequential_time.as_secs_f64() / process_time.as_secs_f64()
        ),
    );

    let items: Vec<u64> = (0..20_000).collect();
    let (doubled, crossing_time) = time(|| processes.map(double, items).expect("process map"));
    assert!(doubled.iter().enumerate().all(|(i, &x)| x == 2 * i as u64));
    row(
        "6. 20,000 tiny tasks (x -> 2x) through the process pool",
        crossing_time,
        &format!(
            "crossing the process boundary costs {:.1} us per task: batch tiny work",
            crossing_time.as_secs_f64() * 1e6 / 20_000.0
        ),
    );

    let (bytes, bytes_time) = time(|| {
        processes
            .submit(bytes_task, 32)
            .wait()
            .expect("32 MiB result")
    });
    let checksum: u64 = bytes.iter().map(|&b| b as u64).sum();
    assert_eq!(checksum, 7 * (32 << 20));
    row(
        "7. One task returns 32 MiB, read in place",
        bytes_time,
        &format!(
            "results come back through shared memory: {:.2} ms per MiB, no pipe; the parent reads it {}",
            bytes_time.as_secs_f64() * 1e3 / 32.0,
            if bytes.is_in_place() { "in place" } else { "from a copy" }
        ),
    );
    drop(bytes);

    let (outcome, crash_time) = time(|| processes.submit(crash, 0).wait());
    let after = processes
        .submit(double, 21)
        .wait()
        .expect("the pool goes on");
    assert_eq!(after, 42);
    row(
        "8. A task aborts its worker process",
        crash_time,
        &format!(
            "isolation: the task gets an error ({}), the worker is replaced, this program lives on",
            outcome
                .err()
                .map_or_else(|| "no error?".to_owned(), |e| e.to_string())
        ),
    );
    processes.shutdown();

    let stats = pool.stats();
    println!(
        "\nwork stealing at work: {} jobs run from queues, {} stolen, {} join halves published on demand",
        stats.iter().map(|s| s.jobs_executed).sum::<u64>(),
        stats.iter().map(|s| s.steals).sum::<u64>(),
        stats.iter().map(|s| s.promotions).sum::<u64>(),
    );
}
