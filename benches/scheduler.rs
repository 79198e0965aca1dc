//! Scheduler benchmarks W1–W11 of `benchmarks.md`: `triad::threads` side by
//! side with rayon (its `join` and scope for W1–W7, its parallel iterators
//! for W8–W11), at the same thread count, in the same process run.
//!
//! Run all workloads, or only some of them by name:
//!
//! ```text
//! cargo bench --bench scheduler
//! cargo bench --bench scheduler -- W1 W5
//! BENCH_JSON=out.jsonl cargo bench --bench scheduler -- W1
//! ```
//!
//! Every workload prints lines of a human table (median, min and max over the
//! timed repetitions, and `ratio` = ours / rayon). When the environment
//! variable `BENCH_JSON` names a file, one JSON object per measured line is
//! appended to it:
//!
//! ```text
//! {"suite":"scheduler","workload":"W1","impl":"ours","metric":"wall_ms","median":12.3,"min":12.0,"max":13.1,"n":15}
//! ```
//!
//! Method (the rules of `benchmarks.md`):
//!
//! - both pools have as many threads as the machine has cores
//!   (`std::thread::available_parallelism`), and both live for the whole run;
//! - each contender (ours, rayon, and for W1/W3/W11 the sequential code) runs one
//!   warm-up repetition, then the timed repetitions *alternate* between the
//!   contenders (the starting contender rotates each round);
//! - after every repetition the bench waits until the pool just used has
//!   parked its threads before the next contender is timed (on 2 cores a
//!   spinning pool steals the other's CPU): until every other thread of the
//!   process is asleep and ran for none of the last millisecond (read from
//!   `/proc/self/task`), at least [`PARK_MIN`] and at most [`PARK`]
//!   (`BENCH_FIXED_PARK=1` makes it a flat [`PARK`], as in earlier runs);
//! - every workload checks its result (fib value, sum, count, sorted order)
//!   and panics if it is wrong: a fast wrong answer is a failure, not a figure;
//! - every figure is a median over at least 5 timed repetitions.
//!
//! Mind the spread of the short workloads: after the pause both the cores and
//! the pool's threads are deeply idle, and the first join pays for waking
//! the second worker and getting it a core. On the 2-vCPU VM this was
//! written on, that took from tens of µs to 5 ms (for either pool), so W4
//! (about 4 ms) is bimodal; read its `min` beside its median.
//!
//! The workloads, briefly: W1 fib(32) by recursive `join` without cutoff;
//! W2 one scope spawning 1,000,000 tiny tasks; W3 a recursive `join` sum of
//! 64M `u64`; W4 12-queens forked down to depth 3; W5 a Hoare-partition
//! quicksort of 10M `u32` with `join` on the halves; W6 the CPU burnt by an
//! idle pool in the second after a burst; W7 the latency from an outside
//! `spawn` into an idle pool to the task's first instruction, and the CPU
//! burnt meanwhile. W8–W11 measure the slice operations
//! (`triad::threads::par_*`) beside rayon's parallel iterators: W8 a sum of
//! 64M `u64` by `par_reduce` (rayon: `par_iter().sum()`), W9 a map of 10M
//! `u64` into a new `Vec` by `par_map` (rayon: `par_iter().map().collect()`),
//! W10 a sort of 10M random `u32` by `par_sort_unstable` (rayon's
//! `par_sort_unstable`), and W11 the W9 map on a 1,000-element slice, 10,000
//! times inside one call into the pool, beside the sequential loop.

mod common;
use common::report::{Columns, Contender, Report};
use common::run;
use common::{ms, nanos_since, percentile, process_cpu, splitmix64, Summary, ThreadClocks};

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use triad::threads::ThreadPool;

/// The longest pause after a repetition, so that the pool just used parks
/// its threads before the next contender is timed (see [`park`]).
const PARK: Duration = Duration::from_millis(100);
/// The shortest pause after a repetition.
const PARK_MIN: Duration = Duration::from_millis(2);

/// The pauses [`park`] made, in ms, for the closing summary.
static PAUSES: std::sync::Mutex<Vec<f64>> = std::sync::Mutex::new(Vec::new());

/// The pause after a repetition: until every other thread of the process
/// (both pools' workers) is asleep and ran for none of the last
/// millisecond, between [`PARK_MIN`] and [`PARK`]; or [`PARK`] flat if
/// `BENCH_FIXED_PARK` is set (the method of the earlier runs in
/// `RESULTS.md`).
fn park() {
    let waited = if std::env::var_os("BENCH_FIXED_PARK").is_some() {
        thread::sleep(PARK);
        PARK
    } else {
        common::wait_until_parked(PARK_MIN, PARK)
    };
    PAUSES.lock().unwrap().push(ms(waited));
}

/// Timed repetitions of the short workloads (W1–W5).
const REPS: usize = 15;
/// Timed repetitions of the workloads that take seconds each (W6, W7).
const REPS_SLOW: usize = 5;

/// W1: fib(32) = 2,178,309.
const FIB_N: u32 = 32;
const FIB_EXPECTED: u64 = 2_178_309;

/// W2: number of spawned tasks.
const W2_TASKS: usize = 1_000_000;

/// W3: elements of the summed vector (64M `u64` = 512 MiB), and the leaf size.
const W3_LEN: usize = 64 << 20;
const W3_LEAF: usize = 4_096;

/// W4: board size, expected solutions and depth down to which it forks.
const QUEENS_N: u32 = 12;
const QUEENS_EXPECTED: u64 = 14_200;
const QUEENS_FORK_DEPTH: u32 = 3;

/// W5: elements sorted, the seed of their generator, and the size below
/// which the quicksort calls `sort_unstable`.
const W5_LEN: usize = 10_000_000;
const W5_SEED: u64 = 0x5eed_2024_0000_0005;
const W5_LEAF: usize = 4_096;

/// W6: the burst before the idle second (fib(25) = 75,025) and its length.
const W6_BURST_N: u32 = 25;
const W6_BURST_EXPECTED: u64 = 75_025;
const W6_IDLE: Duration = Duration::from_secs(1);

/// W7: spawns per repetition and the pause after each.
const W7_SPAWNS: usize = 2_000;
const W7_PAUSE: Duration = Duration::from_millis(1);

/// W8: elements of the summed vector (64M `u64`, as W3).
const W8_LEN: usize = 64 << 20;

/// W9: elements mapped, and the seed of their generator.
const W9_LEN: usize = 10_000_000;
const W9_SEED: u64 = 0x5eed_2024_0000_0009;

/// W10: elements sorted, and the seed of their generator.
const W10_LEN: usize = 10_000_000;
const W10_SEED: u64 = 0x5eed_2024_0000_0010;

/// W11: the slice's length and the rounds per repetition.
const W11_LEN: usize = 1_000;
const W11_ROUNDS: usize = 10_000;

// ---------------------------------------------------------------------------
// One `join`, two schedulers: the generic workloads are written once against
// this trait, so ours and rayon run exactly the same code.
// ---------------------------------------------------------------------------

/// A fork-join primitive: run `a` and `b`, potentially in parallel.
///
/// An associated function rather than a method: the workloads name the
/// scheduler as a type parameter (`fib::<Ours>(n)`), so their closures
/// capture exactly what hand-written code would (a `self` argument, even a
/// zero-sized one, would be captured by reference, making every join's
/// closures bigger and rayon's W1 some 20% slower than its plain form).
trait Par {
    fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send;
}

/// `triad::threads::join` (uses the pool the caller runs in).
enum Ours {}

impl Par for Ours {
    #[inline]
    fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        triad::threads::join(a, b)
    }
}

/// `rayon::join` (uses the pool the caller runs in).
enum Rayon {}

impl Par for Rayon {
    #[inline]
    fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        rayon::join(a, b)
    }
}

// ---------------------------------------------------------------------------
// The generic workloads.
// ---------------------------------------------------------------------------

/// W1: fib by recursive join, no sequential cutoff.
fn fib<P: Par>(n: u32) -> u64 {
    if n < 2 {
        return u64::from(n);
    }
    let (a, b) = P::join(|| fib::<P>(n - 1), || fib::<P>(n - 2));
    a + b
}

/// W1: plain recursive fib, the sequential baseline.
fn fib_seq(n: u32) -> u64 {
    if n < 2 {
        return u64::from(n);
    }
    fib_seq(n - 1) + fib_seq(n - 2)
}

/// W3: sum by recursive halving down to leaves of at most [`W3_LEAF`].
fn sum<P: Par>(v: &[u64]) -> u64 {
    if v.len() <= W3_LEAF {
        return v.iter().sum();
    }
    let (lo, hi) = v.split_at(v.len() / 2);
    let (a, b) = P::join(|| sum::<P>(lo), || sum::<P>(hi));
    a + b
}

/// W4: a partial n-queens board, one row filled per level: the columns and
/// the two diagonals attacked in the next row, as bit masks of `all`.
#[derive(Clone, Copy)]
struct Board {
    all: u32,
    cols: u32,
    d1: u32,
    d2: u32,
}

impl Board {
    fn empty(n: u32) -> Board {
        Board {
            all: (1 << n) - 1,
            cols: 0,
            d1: 0,
            d2: 0,
        }
    }

    /// The columns of the next row where a queen is not attacked.
    fn free(self) -> u32 {
        self.all & !(self.cols | self.d1 | self.d2)
    }

    /// The board after a queen is placed at column `bit` of the next row.
    fn place(self, bit: u32) -> Board {
        Board {
            all: self.all,
            cols: self.cols | bit,
            d1: ((self.d1 | bit) << 1) & self.all,
            d2: (self.d2 | bit) >> 1,
        }
    }
}

/// W4: count the completions of a board, sequentially.
fn queens_seq(b: Board) -> u64 {
    if b.cols == b.all {
        return 1;
    }
    let mut free = b.free();
    let mut count = 0;
    while free != 0 {
        let bit = free & free.wrapping_neg();
        free ^= bit;
        count += queens_seq(b.place(bit));
    }
    count
}

/// W4: like [`queens_seq`], but rows `0..QUEENS_FORK_DEPTH` fork over their
/// branches (a binary tree of joins over the free columns).
fn queens_par<P: Par>(depth: u32, b: Board) -> u64 {
    if depth >= QUEENS_FORK_DEPTH {
        return queens_seq(b);
    }
    let mut branches = [0u32; 32];
    let mut len = 0;
    let mut free = b.free();
    while free != 0 {
        let bit = free & free.wrapping_neg();
        free ^= bit;
        branches[len] = bit;
        len += 1;
    }
    queens_branches::<P>(depth, b, &branches[..len])
}

/// W4: fork over `branches` (queen placements in row `depth`) by halving.
fn queens_branches<P: Par>(depth: u32, b: Board, branches: &[u32]) -> u64 {
    match branches {
        [] => 0,
        [bit] => queens_par::<P>(depth + 1, b.place(*bit)),
        _ => {
            let (lo, hi) = branches.split_at(branches.len() / 2);
            let (x, y) = P::join(
                || queens_branches::<P>(depth, b, lo),
                || queens_branches::<P>(depth, b, hi),
            );
            x + y
        }
    }
}

/// W5: quicksort with a Hoare partition, `join` on the two halves and
/// `sort_unstable` below [`W5_LEAF`] elements.
fn quicksort<P: Par>(v: &mut [u32]) {
    if v.len() < W5_LEAF {
        v.sort_unstable();
        return;
    }
    let split = hoare_partition(v);
    let (lo, hi) = v.split_at_mut(split);
    P::join(|| quicksort::<P>(lo), || quicksort::<P>(hi));
}

/// Hoare's partition (median-of-three pivot placed in the middle). Returns
/// `split` in `1..v.len()` such that `v[..split] <= pivot <= v[split..]`.
/// Needs `v.len() >= 3`.
fn hoare_partition(v: &mut [u32]) -> usize {
    let last = v.len() - 1;
    let mid = last / 2;
    // Order v[0] <= v[mid] <= v[last]; the pivot is the median, in the middle
    // slot, which keeps both scans in bounds and both sides non-empty.
    if v[mid] < v[0] {
        v.swap(mid, 0);
    }
    if v[last] < v[0] {
        v.swap(last, 0);
    }
    if v[last] < v[mid] {
        v.swap(last, mid);
    }
    let pivot = v[mid];
    let (mut i, mut j) = (0, last);
    loop {
        while v[i] < pivot {
            i += 1;
        }
        while v[j] > pivot {
            j -= 1;
        }
        if i >= j {
            return j + 1;
        }
        v.swap(i, j);
        i += 1;
        j -= 1;
    }
}

/// W9, W11: the map applied to every element.
#[inline]
fn w9_map(x: &u64) -> u64 {
    x.wrapping_mul(2_654_435_761) % 1_000_003
}

// ---------------------------------------------------------------------------
// Measurement helpers.
// ---------------------------------------------------------------------------

/// Runs `f` once and returns its result and its wall time in milliseconds.
fn timed<R>(f: impl FnOnce() -> R) -> (R, f64) {
    let start = Instant::now();
    let r = f();
    (r, ms(start.elapsed()))
}

// ---------------------------------------------------------------------------
// The two pools, and the output (human table + JSON lines).
// ---------------------------------------------------------------------------

/// Both pools, with the same number of threads, alive for the whole run.
struct Pools {
    threads: usize,
    ours: ThreadPool,
    rayon: rayon::ThreadPool,
}

impl Pools {
    fn new() -> Pools {
        let threads = thread::available_parallelism().map_or(1, |n| n.get());
        let ours = ThreadPool::builder()
            .num_threads(threads)
            .build()
            .expect("building the triad pool");
        let rayon = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("building the rayon pool");
        Pools {
            threads,
            ours,
            rayon,
        }
    }

    /// Runs `f` inside our pool; `install` fails only in a forked child.
    fn in_ours<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.ours.install(f).expect("triad install failed")
    }

    /// Runs `f` inside rayon's pool.
    fn in_rayon<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.rayon.install(f)
    }

    /// The sum of our workers' wake-up counters.
    fn our_wakeups(&self) -> u64 {
        self.ours.stats().iter().map(|w| w.wakeups).sum()
    }
}

/// The table's title and column heads.
fn header(out: &Report, threads: usize) {
    println!(
        "scheduler: triad::threads vs rayon, {threads} threads each; median of {REPS} \
         (W6, W7: {REPS_SLOW}) timed repetitions after 1 warm-up,"
    );
    let pause = if std::env::var_os("BENCH_FIXED_PARK").is_some() {
        format!("a {} ms pause", PARK.as_millis())
    } else {
        format!(
            "a pause until both pools are parked ({}-{} ms)",
            PARK_MIN.as_millis(),
            PARK.as_millis()
        )
    };
    println!("contenders alternating, {pause} after each; ratio = ours / rayon");
    println!();
    out.column_heads(&["ratio"]);
}

// ---------------------------------------------------------------------------
// The workloads.
// ---------------------------------------------------------------------------

/// W1: fib(32) by recursive join with no cutoff; also the sequential fib.
fn w1(p: &Pools, out: &mut Report) {
    let check = |v: u64| assert_eq!(v, FIB_EXPECTED, "W1: wrong fib({FIB_N})");
    let medians = out.measure(
        "W1",
        &["wall_ms"],
        REPS,
        &mut [
            Contender::new("ours", || {
                let (v, t) = timed(|| p.in_ours(|| fib::<Ours>(black_box(FIB_N))));
                check(v);
                vec![t]
            }),
            Contender::new("rayon", || {
                let (v, t) = timed(|| p.in_rayon(|| fib::<Rayon>(black_box(FIB_N))));
                check(v);
                vec![t]
            }),
            Contender::new("sequential", || {
                let (v, t) = timed(|| fib_seq(black_box(FIB_N)));
                check(v);
                vec![t]
            }),
        ],
    );
    let seq = medians[2][0];
    out.note(&format!(
        "vs sequential: ours {:.3}x, rayon {:.3}x",
        medians[0][0] / seq,
        medians[1][0] / seq
    ));
}

/// W2: one scope spawns 1,000,000 tasks that each bump a counter.
fn w2(p: &Pools, out: &mut Report) {
    let counter = AtomicUsize::new(0);
    let counter = &counter;
    // Resets the counter and fails unless every task ran exactly once.
    let check = || {
        let n = counter.swap(0, Ordering::Relaxed);
        assert_eq!(n, W2_TASKS, "W2: wrong number of tasks ran");
    };
    let ns_per_task = |t_ms: f64| t_ms * 1e6 / W2_TASKS as f64;
    out.measure(
        "W2",
        &["ns_per_task"],
        REPS,
        &mut [
            Contender::new("ours", || {
                let ((), t) = timed(|| {
                    p.in_ours(|| {
                        triad::threads::scope(|s| {
                            for _ in 0..W2_TASKS {
                                s.spawn(move |_| {
                                    counter.fetch_add(1, Ordering::Relaxed);
                                });
                            }
                        })
                    })
                });
                check();
                vec![ns_per_task(t)]
            }),
            Contender::new("rayon", || {
                let ((), t) = timed(|| {
                    p.in_rayon(|| {
                        rayon::scope(|s| {
                            for _ in 0..W2_TASKS {
                                s.spawn(move |_| {
                                    counter.fetch_add(1, Ordering::Relaxed);
                                });
                            }
                        })
                    })
                });
                check();
                vec![ns_per_task(t)]
            }),
        ],
    );
}

/// W3: sum of 64M u64 by recursive join to 4,096-element leaves; also the
/// sequential `iter().sum()`.
fn w3(p: &Pools, out: &mut Report) {
    // 512 MiB, allocated once: 0, 1, 2, ... so the expected sum is known.
    let data: Vec<u64> = (0..W3_LEN as u64).collect();
    let data = &data[..];
    let expected = (W3_LEN as u64) * (W3_LEN as u64 - 1) / 2;
    let check = |v: u64| assert_eq!(v, expected, "W3: wrong sum");
    let medians = out.measure(
        "W3",
        &["wall_ms"],
        REPS,
        &mut [
            Contender::new("ours", || {
                let (v, t) = timed(|| p.in_ours(|| sum::<Ours>(black_box(data))));
                check(v);
                vec![t]
            }),
            Contender::new("rayon", || {
                let (v, t) = timed(|| p.in_rayon(|| sum::<Rayon>(black_box(data))));
                check(v);
                vec![t]
            }),
            Contender::new("sequential", || {
                let (v, t) = timed(|| black_box(data).iter().sum::<u64>());
                check(v);
                vec![t]
            }),
        ],
    );
    let seq = medians[2][0];
    out.note(&format!(
        "vs sequential: ours {:.3}x, rayon {:.3}x",
        medians[0][0] / seq,
        medians[1][0] / seq
    ));
}

/// W4: the solutions of 12-queens, forking over the branches of the first
/// three rows, sequential below.
fn w4(p: &Pools, out: &mut Report) {
    let check = |v: u64| assert_eq!(v, QUEENS_EXPECTED, "W4: wrong {QUEENS_N}-queens count");
    let board = || Board::empty(black_box(QUEENS_N));
    out.measure(
        "W4",
        &["wall_ms"],
        REPS,
        &mut [
            Contender::new("ours", || {
                let (v, t) = timed(|| p.in_ours(|| queens_par::<Ours>(0, board())));
                check(v);
                vec![t]
            }),
            Contender::new("rayon", || {
                let (v, t) = timed(|| p.in_rayon(|| queens_par::<Rayon>(0, board())));
                check(v);
                vec![t]
            }),
        ],
    );
}

/// W5: quicksort of 10M random u32 (fixed seed), the same generic code on
/// both pools. The input is copied in (untimed) before every repetition.
fn w5(p: &Pools, out: &mut Report) {
    let mut state = W5_SEED;
    let input: Vec<u32> = (0..W5_LEN).map(|_| splitmix64(&mut state) as u32).collect();
    let mut expected = input.clone();
    expected.sort_unstable();
    let (input, expected) = (&input[..], &expected[..]);
    let check = |v: &[u32]| assert!(v == expected, "W5: the output is not the sorted input");
    let mut buf_ours = input.to_vec();
    let mut buf_rayon = input.to_vec();
    out.measure(
        "W5",
        &["wall_ms"],
        REPS,
        &mut [
            Contender::new("ours", || {
                buf_ours.copy_from_slice(input);
                let ((), t) = timed(|| p.in_ours(|| quicksort::<Ours>(&mut buf_ours)));
                check(&buf_ours);
                vec![t]
            }),
            Contender::new("rayon", || {
                buf_rayon.copy_from_slice(input);
                let ((), t) = timed(|| p.in_rayon(|| quicksort::<Rayon>(&mut buf_rayon)));
                check(&buf_rayon);
                vec![t]
            }),
        ],
    );
}

/// W6: after a burst of work (fib(25) by join), the process's CPU time over
/// the following idle second: the sum of its threads' own CPU clocks
/// ([`ThreadClocks`]; `getrusage` would bill the burst to the second when
/// the worker that ran it has not slept yet; `BENCH_RUSAGE_W6=1` measures
/// with `getrusage`, as before session 8). The other pool has parked by
/// then ([`park`]). Also counts our workers' wake-ups in that second.
fn w6(p: &Pools, out: &mut Report) {
    let check = |v: u64| assert_eq!(v, W6_BURST_EXPECTED, "W6: wrong burst result");
    // The CPU time the process burns over the next idle second, in ms.
    let idle_cpu = || {
        if std::env::var_os("BENCH_RUSAGE_W6").is_some() {
            let before = process_cpu(); // the instrument before session 8
            thread::sleep(W6_IDLE);
            return ms(process_cpu() - before);
        }
        let clocks = ThreadClocks::of_this_process();
        let before = clocks.total();
        thread::sleep(W6_IDLE);
        ms(clocks.total() - before)
    };
    let mut wakeups = Vec::new(); // per repetition of ours, warm-up first
    {
        let wakeups = &mut wakeups;
        out.measure(
            "W6",
            &["cpu_ms"],
            REPS_SLOW,
            &mut [
                Contender::new("ours", move || {
                    check(p.in_ours(|| fib::<Ours>(black_box(W6_BURST_N))));
                    let w0 = p.our_wakeups();
                    let cpu = idle_cpu();
                    wakeups.push(p.our_wakeups() - w0);
                    vec![cpu]
                }),
                Contender::new("rayon", || {
                    check(p.in_rayon(|| fib::<Rayon>(black_box(W6_BURST_N))));
                    vec![idle_cpu()]
                }),
            ],
        );
    }
    let mut timed_wakeups = wakeups[1..].to_vec(); // drop the warm-up
    timed_wakeups.sort_unstable();
    out.note(&format!(
        "ours: worker wake-ups during the idle second: median {}, max {} (over {} repetitions)",
        timed_wakeups[timed_wakeups.len() / 2],
        timed_wakeups[timed_wakeups.len() - 1],
        timed_wakeups.len()
    ));
}

/// W7 figures of one repetition: p50 and p99 of the spawn-to-start delays
/// (nanoseconds, in µs) and the CPU time spent meanwhile (ms).
fn w7_figures(mut delays: Vec<u64>, cpu: Duration) -> Vec<f64> {
    assert_eq!(delays.len(), W7_SPAWNS, "W7: a task did not run");
    delays.sort_unstable();
    vec![
        percentile(&delays, 0.50) as f64 / 1e3,
        percentile(&delays, 0.99) as f64 / 1e3,
        ms(cpu),
    ]
}

/// W7: from the main thread, spawn one task into the idle pool 2,000 times
/// with a 1 ms pause after each; the delay runs from just before the spawn
/// call to the task's first instruction (both read the same epoch).
fn w7(p: &Pools, out: &mut Report) {
    // The task's start can never precede the spawn call.
    let delay = |before: u64, started: u64| {
        assert!(started >= before, "W7: a task started before its spawn");
        started - before
    };
    out.measure(
        "W7",
        &["p50_us", "p99_us", "cpu_ms"],
        REPS_SLOW,
        &mut [
            Contender::new("ours", || {
                let epoch = Instant::now();
                let mut delays = Vec::with_capacity(W7_SPAWNS);
                let cpu0 = process_cpu();
                for _ in 0..W7_SPAWNS {
                    let before = nanos_since(epoch);
                    let handle = p.ours.spawn(move || nanos_since(epoch));
                    thread::sleep(W7_PAUSE);
                    let started = handle.join().expect("W7: our task failed");
                    delays.push(delay(before, started));
                }
                w7_figures(delays, process_cpu() - cpu0)
            }),
            Contender::new("rayon", || {
                let epoch = Instant::now();
                let mut delays = Vec::with_capacity(W7_SPAWNS);
                let (tx, rx) = mpsc::channel();
                let cpu0 = process_cpu();
                for _ in 0..W7_SPAWNS {
                    let before = nanos_since(epoch);
                    let tx = tx.clone();
                    p.rayon.spawn(move || {
                        let started = nanos_since(epoch);
                        tx.send(started).expect("W7: the bench stopped listening");
                    });
                    thread::sleep(W7_PAUSE);
                    let started = rx.recv().expect("W7: a rayon task vanished");
                    delays.push(delay(before, started));
                }
                w7_figures(delays, process_cpu() - cpu0)
            }),
        ],
    );
}

/// W8: sum of 64M u64 (0, 1, 2, ...) by `par_reduce`; rayon:
/// `par_iter().sum()`.
fn w8(p: &Pools, out: &mut Report) {
    let data: Vec<u64> = (0..W8_LEN as u64).collect();
    let data = &data[..];
    let expected = (W8_LEN as u64) * (W8_LEN as u64 - 1) / 2;
    let check = |v: u64| assert_eq!(v, expected, "W8: wrong sum");
    out.measure(
        "W8",
        &["wall_ms"],
        REPS,
        &mut [
            Contender::new("ours", || {
                let (v, t) = timed(|| {
                    p.in_ours(|| triad::threads::par_reduce(black_box(data), || 0, |a, b| a + b))
                });
                check(v);
                vec![t]
            }),
            Contender::new("rayon", || {
                let (v, t) = timed(|| p.in_rayon(|| black_box(data).par_iter().sum::<u64>()));
                check(v);
                vec![t]
            }),
        ],
    );
}

/// W9: map 10M random u64 (fixed seed) into a new Vec, order kept, by
/// `par_map`; rayon: `par_iter().map().collect()`. The result is dropped
/// after the clock stops.
fn w9(p: &Pools, out: &mut Report) {
    let mut state = W9_SEED;
    let input: Vec<u64> = (0..W9_LEN).map(|_| splitmix64(&mut state)).collect();
    let expected: Vec<u64> = input.iter().map(w9_map).collect();
    let (input, expected) = (&input[..], &expected[..]);
    let check = |v: &[u64]| assert!(v == expected, "W9: wrong map output");
    out.measure(
        "W9",
        &["wall_ms"],
        REPS,
        &mut [
            Contender::new("ours", || {
                let (v, t) =
                    timed(|| p.in_ours(|| triad::threads::par_map(black_box(input), w9_map)));
                check(&v);
                vec![t]
            }),
            Contender::new("rayon", || {
                let (v, t) = timed(|| {
                    p.in_rayon(|| {
                        black_box(input)
                            .par_iter()
                            .map(w9_map)
                            .collect::<Vec<u64>>()
                    })
                });
                check(&v);
                vec![t]
            }),
        ],
    );
}

/// W10: sort 10M random u32 (fixed seed) by `par_sort_unstable`; rayon:
/// its `par_sort_unstable`. The input is copied in (untimed) before every
/// repetition.
fn w10(p: &Pools, out: &mut Report) {
    let mut state = W10_SEED;
    let input: Vec<u32> = (0..W10_LEN)
        .map(|_| splitmix64(&mut state) as u32)
        .collect();
    let mut expected = input.clone();
    expected.sort_unstable();
    let (input, expected) = (&input[..], &expected[..]);
    let check = |v: &[u32]| assert!(v == expected, "W10: the output is not the sorted input");
    let mut buf_ours = input.to_vec();
    let mut buf_rayon = input.to_vec();
    out.measure(
        "W10",
        &["wall_ms"],
        REPS,
        &mut [
            Contender::new("ours", || {
                buf_ours.copy_from_slice(input);
                let ((), t) =
                    timed(|| p.in_ours(|| triad::threads::par_sort_unstable(&mut buf_ours)));
                check(&buf_ours);
                vec![t]
            }),
            Contender::new("rayon", || {
                buf_rayon.copy_from_slice(input);
                let ((), t) = timed(|| p.in_rayon(|| buf_rayon.par_sort_unstable()));
                check(&buf_rayon);
                vec![t]
            }),
        ],
    );
}

/// W11: the W9 map on a 1,000-element slice, 10,000 rounds inside one call
/// into the pool (the sequential loop: on the calling thread), each round's
/// result checked.
fn w11(p: &Pools, out: &mut Report) {
    let mut state = W9_SEED;
    let input: Vec<u64> = (0..W11_LEN).map(|_| splitmix64(&mut state)).collect();
    let expected: Vec<u64> = input.iter().map(w9_map).collect();
    let (input, expected) = (&input[..], &expected[..]);
    let check = |v: &[u64]| assert!(v == expected, "W11: wrong map output");
    let medians = out.measure(
        "W11",
        &["wall_ms"],
        REPS,
        &mut [
            Contender::new("ours", || {
                let ((), t) = timed(|| {
                    p.in_ours(|| {
                        for _ in 0..W11_ROUNDS {
                            check(&triad::threads::par_map(black_box(input), w9_map));
                        }
                    })
                });
                vec![t]
            }),
            Contender::new("rayon", || {
                let ((), t) = timed(|| {
                    p.in_rayon(|| {
                        for _ in 0..W11_ROUNDS {
                            check(
                                &black_box(input)
                                    .par_iter()
                                    .map(w9_map)
                                    .collect::<Vec<u64>>(),
                            );
                        }
                    })
                });
                vec![t]
            }),
            Contender::new("sequential", || {
                let ((), t) = timed(|| {
                    for _ in 0..W11_ROUNDS {
                        check(&black_box(input).iter().map(w9_map).collect::<Vec<u64>>());
                    }
                });
                vec![t]
            }),
        ],
    );
    let seq = medians[2][0];
    out.note(&format!(
        "vs sequential: ours {:.3}x, rayon {:.3}x",
        medians[0][0] / seq,
        medians[1][0] / seq
    ));
}

// ---------------------------------------------------------------------------
// Driver.
// ---------------------------------------------------------------------------

/// One workload: it runs its contenders and reports their figures.
type Workload = fn(&Pools, &mut Report);

/// The workloads, by name, in the order they run.
const WORKLOADS: [(&str, Workload); 11] = [
    ("W1", w1),
    ("W2", w2),
    ("W3", w3),
    ("W4", w4),
    ("W5", w5),
    ("W6", w6),
    ("W7", w7),
    ("W8", w8),
    ("W9", w9),
    ("W10", w10),
    ("W11", w11),
];

/// A workload still running after this long is taken to hang.
const HANG_LIMIT: Duration = Duration::from_secs(300);

fn main() {
    let wanted = run::wanted("scheduler", &WORKLOADS);
    let pools = Pools::new();
    let mut out = Report::new(
        "scheduler",
        "rayon",
        park,
        Columns {
            imp: 10,
            metric: 12,
            number: 12,
        },
    );
    header(&out, pools.threads);
    run::run_wanted(
        "scheduler",
        &WORKLOADS,
        &wanted,
        HANG_LIMIT,
        &pools,
        &mut out,
    );
    let pauses = PAUSES.lock().unwrap();
    if !pauses.is_empty() {
        let s = Summary::of(&pauses);
        println!(
            "pauses after repetitions: median {:.1} ms, min {:.1}, max {:.1} ({} pauses)",
            s.median, s.min, s.max, s.n
        );
    }
}
