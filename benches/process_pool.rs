//! Process-pool benchmarks P1–P5 of `benchmarks.md`: `triad::processes` side
//! by side with Python's `multiprocessing.Pool` (fork context), for P1, P3
//! and P4 also with a plain fork pool written here (workers forked from this
//! process, pipes), and for P5 also `concurrent.futures.ProcessPoolExecutor`,
//! in the same run.
//!
//! Run all workloads, or only some of them by name:
//!
//! ```text
//! cargo bench --bench process_pool
//! cargo bench --bench process_pool -- P3
//! BENCH_JSON=out.jsonl cargo bench --bench process_pool -- P1 P5
//! ```
//!
//! Every workload prints lines of a human table (median, min and max over
//! the timed repetitions, and two ratios: `/python` = ours / python-pool
//! and `/plain` = ours / plain-fork-pool). When the environment variable
//! `BENCH_JSON` names a file, one JSON object per measured line is appended
//! to it:
//!
//! ```text
//! {"suite":"process_pool","workload":"P1","impl":"ours","metric":"ns_per_task","median":9.1,"min":8.8,"max":9.5,"n":5}
//! ```
//!
//! `impl` is `ours`, `sequential` (P2: the same loop in this process),
//! `python-pool`, `python-executor` (P5 only), `plain-fork-pool` (P1, P3
//! and P4 only), and for P4 also
//! `ours-exec`: P4's `ours` line is the pool as built by default
//! ([`StartMode::Auto`], which in this single-threaded bench resolves to a
//! direct fork of the zygote; the bench checks that it did), `ours-exec`
//! the same workload with [`StartMode::Exec`] (the zygote is a fresh exec of
//! this binary), so both start modes are measured under the same keys.
//!
//! # The peers
//!
//! `benches/process_pool_peer.py` runs the same workloads with `python3`,
//! one interpreter per repetition (its pool is built untimed, except in P4
//! where building it is the workload; it times itself with
//! `time.perf_counter` and prints JSON lines this bench reads back). If
//! `python3` cannot be run, the bench prints a notice and skips the peer's
//! lines. Python's P2 sequential loop runs 8 of the 64 items and is scaled
//! to 64 (CPython needs ~0.45 s per item, ~28 s for the full loop per
//! repetition; every item is the same count), and its P2 warm-up maps 4
//! items instead of 64 (a fresh interpreter per repetition keeps nothing
//! from a warm-up but the OS caches).
//!
//! The plain fork pool (`benches/process_pool/plain_pool.rs`, `impl`
//! `plain-fork-pool`) is what a Rust programmer writes in an afternoon
//! without a crate: as many workers as cores forked straight from this
//! process, one task function per pool, an 8-byte argument sent down a
//! pipe per task and a length-prefixed result sent back up another,
//! blocking I/O, no shared memory. It keeps up to 64 requests in flight per
//! worker (sent in batches; a worker answers all it has read with one
//! `write`) and collects the results in order. It runs in this process, so
//! it pays the same fork costs as ours. P1 maps `x -> 2x` through it one
//! task per item; P3's task fills the worker's 32 MiB buffer (allocated
//! before the fork) with the same pattern, which goes through the pipe and
//! is checksummed in the parent's receive buffer; P4 starts it, runs one
//! task and shuts it down (closes the pipes, `waitpid`s every worker). The
//! pools of P1 and P3 are built untimed, as ours are.
//!
//! # Method (the rules of `benchmarks.md`)
//!
//! - our pool, Python's and the plain one have as many workers as the
//!   machine has cores (`std::thread::available_parallelism`);
//! - each contender runs one warm-up repetition, then the timed repetitions
//!   *alternate* between the contenders (the first of each round rotates),
//!   with a [`PARK`] pause after every repetition;
//! - every workload checks the result of every contender (P1 every `2x`,
//!   P2 every prime count, P3 the checksum of every byte of every buffer,
//!   P4 the one task's value, P5 every outcome) and panics on a wrong one,
//!   except P5, whose counts are the figures: ours must come out exactly
//!   ok = 9,900, crash_err = 100, lost = 0, hung = 0, or the bench reports
//!   the failure and exits with status 1 after the run;
//! - every figure is a median over at least 5 timed repetitions.
//!
//! The bench stays single-threaded between workloads (no watchdog thread:
//! a thread would make [`StartMode::Auto`] pick `Exec` in P4, and the plain
//! pool would refuse to fork); a hang is caught by `alarm(2)`
//! ([`HANG_LIMIT`] per workload), which ends the process with SIGALRM.
//! The plain pool forks from this process directly, which is safe only
//! while it has one thread (it checks, and panics otherwise): P1 and P3
//! build it before ours (our pool keeps a supervisor thread while it
//! lives); in P4 no pool of ours is alive when it forks.
//!
//! The workloads, briefly: P1 `x -> 2x` over 100,000 `u64`, one task per
//! item; P2 64 items each counting the primes below 200,000 by trial
//! division, and the speed-up over the same loop in this process; P3 32
//! tasks each returning a 32 MiB buffer, read and checksummed in place;
//! P4 build a pool, run one task, shut down; P5 10,000 tasks of which 100
//! abort their worker, counting the outcomes.

mod common;
use common::report::{Columns, Report};
use common::run;
use common::{ms, Summary};

#[path = "process_pool/plain_pool.rs"]
mod plain_pool;
use plain_pool::PlainPool;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use triad::processes::{ProcessPool, SharedBytes, StartMode, TaskError, TaskHandle};

/// Pause after every repetition, so that the pool just used goes idle (and
/// Python's processes are gone) before the next contender is timed.
const PARK: Duration = Duration::from_millis(100);

/// The pause after every repetition.
fn pause() {
    thread::sleep(PARK);
}

/// Timed repetitions of every workload but P4.
const REPS: usize = 5;
/// Timed repetitions of P4 (each takes milliseconds).
const REPS_P4: usize = 10;

/// P1: items mapped, one task each.
const P1_ITEMS: u64 = 100_000;

/// P2: items, the bound below which each counts primes, and that count.
const P2_ITEMS: usize = 64;
const P2_BOUND: u64 = 200_000;
const P2_PRIMES: u64 = 17_984;

/// P3: tasks, bytes of each result, and the period of its pattern.
const P3_TASKS: u64 = 32;
const P3_LEN: usize = 32 << 20;
const P3_PERIOD: usize = 251;

/// P5: tasks; task i aborts its worker when `i % 100 == 99`.
const P5_TASKS: u64 = 10_000;
const P5_KILLERS: u64 = P5_TASKS / 100;
/// P5: tasks without an outcome once this long passes with no progress are
/// counted as hung.
const NO_PROGRESS: Duration = Duration::from_secs(5);

/// A workload (all its contenders and repetitions) still running after
/// this long is taken to hang: `alarm(2)` ends the process.
const HANG_LIMIT: Duration = Duration::from_secs(600);
/// A Python repetition (other than P5's) that prints nothing for this long
/// is killed and the bench fails.
const PEER_LIMIT: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------
// The tasks (functions of this binary, as the pool requires).
// ---------------------------------------------------------------------------

/// P1 (and P4's one task).
fn double(x: u64) -> u64 {
    2 * x
}

/// P2: the primes below `n` by trial division (the peer runs the same loop).
fn count_primes(n: u64) -> u64 {
    let mut count = 0;
    for k in 2..n {
        let mut d = 2;
        let mut prime = true;
        while d * d <= k {
            if k % d == 0 {
                prime = false;
                break;
            }
            d += 1;
        }
        count += u64::from(prime);
    }
    count
}

/// P3: 32 MiB where byte `j` is `(j + t) % 251` (the peers' pattern too),
/// written straight into the task's result slot (`SharedBytes::from_fn`).
fn pattern(t: u64) -> SharedBytes {
    SharedBytes::from_fn(P3_LEN, |buf| fill_pattern(t, buf))
}

/// P3's pattern written into `buf` (all of it): byte `j` is `(j + t) % 251`.
/// It neither allocates nor locks, as the plain pool's tasks must not.
fn fill_pattern(t: u64, buf: &mut [u8]) {
    let t = t as usize;
    for (j, b) in buf[..P3_PERIOD].iter_mut().enumerate() {
        *b = ((j + t) % P3_PERIOD) as u8;
    }
    // The filled prefix stays a multiple of the period until the last
    // copy, so copying a prefix continues the pattern.
    let mut filled = P3_PERIOD;
    while filled < buf.len() {
        let n = filled.min(buf.len() - filled);
        buf.copy_within(..n, filled);
        filled += n;
    }
}

/// P1 and P4 in the plain pool: [`double`], its result as 8 bytes LE.
fn double_into(x: u64, out: &mut [u8]) -> usize {
    out[..8].copy_from_slice(&double(x).to_le_bytes());
    8
}

/// P3 in the plain pool: [`fill_pattern`] into the worker's buffer.
fn pattern_into(t: u64, out: &mut [u8]) -> usize {
    fill_pattern(t, &mut out[..P3_LEN]);
    P3_LEN
}

/// A result of [`double_into`] read back.
fn u64_of(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().expect("an 8-byte result"))
}

/// P5: `3i + 1`, except that every 100th task aborts its worker.
fn p5_task(i: u64) -> u64 {
    if i % 100 == 99 {
        std::process::abort();
    }
    3 * i + 1
}

/// P3's checksum: the sum of all bytes (summed per 64 KiB block in `u32`,
/// which cannot overflow there and vectorises).
fn byte_sum(bytes: &[u8]) -> u64 {
    bytes
        .chunks(1 << 16)
        .map(|c| u64::from(c.iter().map(|&b| u32::from(b)).sum::<u32>()))
        .sum()
}

// ---------------------------------------------------------------------------
// Measurement helpers.
// ---------------------------------------------------------------------------

/// Runs `f` once and returns its result and its wall time.
fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let start = Instant::now();
    let r = f();
    (r, start.elapsed())
}

/// One figure of one repetition.
#[derive(Clone, Copy)]
struct Fig {
    imp: &'static str,
    metric: &'static str,
    value: f64,
}

fn fig(imp: &'static str, metric: &'static str, value: f64) -> Fig {
    Fig { imp, metric, value }
}

/// One contender of a workload: one repetition (`true` for the warm-up)
/// returns its figures, possibly under several `impl` names (P2's Python
/// repetition also reports Python's speed-up).
struct Contender<'a> {
    run: Box<dyn FnMut(bool) -> Vec<Fig> + 'a>,
}

impl<'a> Contender<'a> {
    fn new(run: impl FnMut(bool) -> Vec<Fig> + 'a) -> Self {
        Contender { run: Box::new(run) }
    }
}

/// The timed samples of a workload: `(impl, metric) -> one value per
/// repetition`, in the order first reported.
#[derive(Default)]
struct Samples {
    series: Vec<(&'static str, &'static str, Vec<f64>)>,
}

impl Samples {
    fn push(&mut self, f: Fig) {
        match self
            .series
            .iter_mut()
            .find(|(i, m, _)| *i == f.imp && *m == f.metric)
        {
            Some((_, _, v)) => v.push(f.value),
            None => self.series.push((f.imp, f.metric, vec![f.value])),
        }
    }

    fn get(&self, imp: &str, metric: &str) -> Option<&[f64]> {
        self.series
            .iter()
            .find(|(i, m, _)| *i == imp && *m == metric)
            .map(|(_, _, v)| &v[..])
    }
}

/// One warm-up repetition per contender, then `reps` timed rounds in which
/// every contender runs once (the first of each round rotates), with a
/// [`PARK`] pause after every repetition.
fn alternate(reps: usize, contenders: &mut [Contender<'_>]) -> Samples {
    for c in contenders.iter_mut() {
        black_box((c.run)(true));
        pause();
    }
    let mut samples = Samples::default();
    for round in 0..reps {
        for k in 0..contenders.len() {
            let i = (round + k) % contenders.len();
            for f in (contenders[i].run)(false) {
                samples.push(f);
            }
            pause();
        }
    }
    samples
}

// ---------------------------------------------------------------------------
// The output (human table + JSON lines).
// ---------------------------------------------------------------------------

/// Where the figures go: the shared table and JSON lines
/// ([`common::report::Report`]), and the failed checks.
struct Out {
    table: Report,
    /// Failed checks that do not stop the run (P5's counts); the bench exits
    /// with status 1 at the end if there are any.
    failures: Vec<String>,
}

impl Out {
    fn new() -> Out {
        let columns = Columns {
            imp: 17,
            metric: 16,
            number: 12,
        };
        Out {
            table: Report::new("process_pool", "python-pool", pause, columns),
            failures: Vec::new(),
        }
    }

    fn header(&self, workers: usize, python: Option<&str>) {
        println!(
            "process_pool: triad::processes vs Python multiprocessing.Pool (fork) and, in P1, P3 \
             and P4, a plain fork pool (pipes); {workers} workers each;"
        );
        println!(
            "median of {REPS} (P4: {REPS_P4}) timed repetitions after 1 warm-up, contenders \
             alternating, {} ms pause after each;",
            PARK.as_millis()
        );
        println!(
            "/python = ours / python-pool, /plain = ours / plain-fork-pool; peer: {}",
            python.unwrap_or("none (python3 not found)")
        );
        println!();
        self.table.column_heads(&["/python", "/plain"]);
    }

    /// Reports every series of `samples`: one table line and one JSON object
    /// each. Lines of ours get the ratios to python-pool's and
    /// plain-fork-pool's same metric (counts get none).
    fn report(&mut self, workload: &str, samples: &Samples) {
        for (imp, metric, values) in &samples.series {
            let s = Summary::of(values);
            let ratio = |peer: &str| {
                if imp.starts_with("ours") && !metric.ends_with("_count") {
                    samples
                        .get(peer, metric)
                        .map(|p| s.median / Summary::of(p).median)
                } else {
                    None
                }
            };
            let ratios = [ratio("python-pool"), ratio("plain-fork-pool")];
            self.table.line(workload, imp, metric, &s, &ratios);
        }
    }

    /// A remark under a workload's lines (table only, not JSON).
    fn note(&self, text: &str) {
        self.table.note(text);
    }

    /// A failed check that does not stop the run.
    fn fail(&mut self, text: String) {
        println!("     FAILED: {text}");
        self.failures.push(text);
    }
}

// ---------------------------------------------------------------------------
// The Python peer.
// ---------------------------------------------------------------------------

/// `python3` and the peer script.
struct Peer {
    script: PathBuf,
    workers: usize,
}

/// What one run of the peer printed, each line with the moment it was read.
struct PeerRun {
    lines: Vec<(Instant, String)>,
    /// When the run was killed for printing nothing for too long.
    killed_at: Option<Instant>,
}

impl Peer {
    /// The peer if `python3` runs, with its version.
    fn find(workers: usize) -> Option<(Peer, String)> {
        let out = Command::new("python3").arg("--version").output().ok()?;
        if !out.status.success() {
            return None;
        }
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/process_pool_peer.py");
        assert!(script.exists(), "missing {}", script.display());
        Some((Peer { script, workers }, version))
    }

    /// Runs one repetition of `workload` with `imp`; kills the peer's whole
    /// process group (the interpreter and its pool's workers) once `limit`
    /// passes without a line.
    fn run(&self, workload: &str, imp: &str, warmup: bool, limit: Duration) -> PeerRun {
        let mut cmd = Command::new("python3");
        cmd.arg(&self.script)
            .args([workload, imp, &self.workers.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            // Its own group, so that its pool's workers can be killed with it.
            .process_group(0);
        if warmup {
            cmd.arg("--warmup");
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // Joined before this returns, so the bench is single-threaded again
        // by the time any pool of ours is built.
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let mut killed_at = None;
        loop {
            let wait = if killed_at.is_some() {
                Duration::from_secs(30)
            } else {
                limit
            };
            match rx.recv_timeout(wait) {
                Ok(line) => lines.push(line),
                Err(mpsc::RecvTimeoutError::Timeout) if killed_at.is_none() => {
                    killed_at = Some(Instant::now());
                    kill_group(child.id());
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("the peer's output stays open after its group was killed")
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        reader.join().expect("the peer's reader thread");
        let status = child.wait().expect("reaping python3");
        if killed_at.is_none() && !status.success() {
            panic!("the peer failed ({workload} {imp}): {status}");
        }
        PeerRun { lines, killed_at }
    }

    /// Runs one repetition of P1–P4 and returns its one JSON line.
    fn result(&self, workload: &str, warmup: bool) -> String {
        let run = self.run(workload, "python-pool", warmup, PEER_LIMIT);
        assert!(
            run.killed_at.is_none(),
            "the peer printed nothing for {PEER_LIMIT:?} in {workload}"
        );
        let line = run
            .lines
            .into_iter()
            .map(|(_, l)| l)
            .find(|l| l.contains("\"workload\""))
            .unwrap_or_else(|| panic!("no result line from the peer in {workload}"));
        assert_eq!(field(&line, "workload"), Some(workload), "peer line {line}");
        line
    }
}

/// SIGKILL to the process group `pgid` (our child, made a group leader by
/// `process_group(0)`).
fn kill_group(pgid: u32) {
    // SAFETY: `kill` only sends a signal and touches no memory of ours. The
    // group is the one our child leads; the child is not reaped yet, so its
    // id (and so the group's) cannot have been reused.
    let rc = unsafe { libc::kill(-(pgid as libc::pid_t), libc::SIGKILL) };
    assert_eq!(
        rc,
        0,
        "killing the peer's group: {}",
        std::io::Error::last_os_error()
    );
}

/// The raw value of `key` in a flat JSON object as the peer prints it
/// (numbers, booleans and strings without escapes; no nesting).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = line[at..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        return s.split('"').next();
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// A numeric field of a peer line.
fn num(line: &str, key: &str) -> f64 {
    field(line, key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {key:?} in the peer's line {line}"))
}

// ---------------------------------------------------------------------------
// The workloads.
// ---------------------------------------------------------------------------

/// Everything a workload needs.
struct Ctx {
    workers: usize,
    peer: Option<Peer>,
}

impl Ctx {
    /// A pool as a user builds it: the defaults, one worker per core.
    fn pool(&self) -> ProcessPool {
        ProcessPool::builder()
            .workers(self.workers)
            .build()
            .expect("building the pool")
    }
}

/// P1: `x -> 2x` over 100,000 `u64`, one task per item (ours: `map`, which
/// keeps as many tasks in flight as the pool has slots; the plain pool:
/// its `map`, up to `IN_FLIGHT` per worker).
fn p1(cx: &Ctx, out: &mut Out) {
    // Before ours, while the bench is single-threaded (plain_pool rule 1).
    let plain = RefCell::new(PlainPool::start(cx.workers, double_into, 8));
    let pool = cx.pool();
    let check = |v: &[u64]| {
        assert_eq!(v.len() as u64, P1_ITEMS, "P1: wrong number of results");
        for (i, &x) in v.iter().enumerate() {
            assert_eq!(x, 2 * i as u64, "P1: wrong result for item {i}");
        }
    };
    let mut contenders = vec![Contender::new(|_| {
        let (v, t) = timed(|| pool.map(double, black_box(0..P1_ITEMS)));
        let v = v.expect("P1: a task failed");
        check(&v);
        vec![fig(
            "ours",
            "ns_per_task",
            t.as_nanos() as f64 / P1_ITEMS as f64,
        )]
    })];
    // The plain pool twice: pipelined (`plain-fork-pool`, what the /plain
    // ratio compares with) and one request per worker at a time
    // (`plain-fork-pool-1`, the simplest pool, every task a round trip).
    for (name, in_flight) in [
        ("plain-fork-pool", plain_pool::IN_FLIGHT),
        ("plain-fork-pool-1", 1),
    ] {
        let plain = &plain;
        contenders.push(Contender::new(move |_| {
            let (v, t) = timed(|| {
                let mut v = Vec::with_capacity(P1_ITEMS as usize);
                plain
                    .borrow_mut()
                    .map(in_flight, black_box(0..P1_ITEMS), |_, bytes| {
                        v.push(u64_of(bytes))
                    });
                v
            });
            check(&v);
            vec![fig(
                name,
                "ns_per_task",
                t.as_nanos() as f64 / P1_ITEMS as f64,
            )]
        }));
    }
    if let Some(peer) = &cx.peer {
        contenders.push(Contender::new(|warmup| {
            let line = peer.result("P1", warmup);
            assert_eq!(num(&line, "count"), P1_ITEMS as f64, "P1 peer: {line}");
            assert_eq!(num(&line, "mismatches"), 0.0, "P1 peer: {line}");
            let sum = field(&line, "sum").and_then(|s| s.parse::<u64>().ok());
            assert_eq!(sum, Some(P1_ITEMS * (P1_ITEMS - 1)), "P1 peer: {line}");
            vec![fig("python-pool", "ns_per_task", num(&line, "ns_per_task"))]
        }));
    }
    let samples = alternate(REPS, &mut contenders);
    drop(contenders);
    pool.shutdown();
    plain.into_inner().shutdown();
    out.report("P1", &samples);
    let median = |imp: &str| {
        samples
            .get(imp, "ns_per_task")
            .map(|v| Summary::of(v).median)
    };
    if let (Some(ours), Some(one)) = (median("ours"), median("plain-fork-pool-1")) {
        out.note(&format!(
            "plain-fork-pool: up to {} requests in flight per worker, sent in batches; \
             plain-fork-pool-1: one at a time; ours / plain-fork-pool-1 = {:.3}",
            plain_pool::IN_FLIGHT,
            ours / one
        ));
    }
}

/// P2: 64 items each counting the primes below 200,000 (`map`), and the
/// same loop in this process; the speed-up of each repetition is the
/// sequential time of the same round over the pool's.
fn p2(cx: &Ctx, out: &mut Out) {
    let pool = cx.pool();
    let check = |v: &[u64]| {
        assert_eq!(v.len(), P2_ITEMS, "P2: wrong number of results");
        assert!(v.iter().all(|&c| c == P2_PRIMES), "P2: wrong prime count");
    };
    let items = || black_box(vec![P2_BOUND; P2_ITEMS]);
    let mut contenders = vec![
        Contender::new(|_| {
            let (v, t) = timed(|| pool.map(count_primes, items()));
            check(&v.expect("P2: a task failed"));
            vec![fig("ours", "wall_ms", ms(t))]
        }),
        Contender::new(|_| {
            let (v, t) = timed(|| items().into_iter().map(count_primes).collect::<Vec<_>>());
            check(&v);
            vec![fig("sequential", "wall_ms", ms(t))]
        }),
    ];
    if let Some(peer) = &cx.peer {
        contenders.push(Contender::new(|warmup| {
            let line = peer.result("P2", warmup);
            assert_eq!(num(&line, "mismatches"), 0.0, "P2 peer: {line}");
            if !warmup {
                assert_eq!(num(&line, "items"), P2_ITEMS as f64, "P2 peer: {line}");
            }
            vec![
                fig("python-pool", "wall_ms", num(&line, "wall_ms")),
                fig("python-pool", "speedup", num(&line, "speedup")),
            ]
        }));
    }
    let mut samples = alternate(REPS, &mut contenders);
    drop(contenders);
    pool.shutdown();
    let ours = samples.get("ours", "wall_ms").expect("ours").to_vec();
    let seq = samples.get("sequential", "wall_ms").expect("seq").to_vec();
    let speedups: Vec<f64> = seq.iter().zip(&ours).map(|(s, o)| s / o).collect();
    // Put ours' speed-up right after ours' time.
    samples
        .series
        .insert(1, ("ours", "speedup", speedups.clone()));
    out.report("P2", &samples);
    let target = 0.95 * cx.workers as f64;
    out.note(&format!(
        "ours: speed-up median {:.3} over the loop in this process (target >= {target:.2}); \
         python's sequential loop: 8 items, scaled to 64",
        Summary::of(&speedups).median
    ));
}

/// P3: 32 tasks each return a 32 MiB buffer; the parent checksums every
/// byte, reading ours in place (`imap`: each result is dropped, and its
/// slot freed, before the next is read) and the plain pool's in its
/// receive buffer (each result overwrites the one before).
fn p3(cx: &Ctx, out: &mut Out) {
    // The expected checksum of every task's buffer, from a reference built
    // here: base[j] = j % 251, task t's buffer is base[t..t + 32 MiB].
    let base: Vec<u8> = (0..P3_LEN + P3_PERIOD)
        .map(|j| (j % P3_PERIOD) as u8)
        .collect();
    let expected: Vec<u64> = (0..P3_TASKS as usize)
        .map(|t| byte_sum(&base[t..t + P3_LEN]))
        .collect();
    drop(base);
    let mut distinct = expected.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), expected.len(), "P3: checksums must differ");
    let total_gib = (P3_TASKS as usize * P3_LEN) as f64 / (1u64 << 30) as f64;

    // Before ours, while the bench is single-threaded (plain_pool rule 1).
    let mut plain = PlainPool::start(cx.workers, pattern_into, P3_LEN);
    let pool = cx.pool();
    let mut copied = 0usize;
    let mut contenders = vec![Contender::new(|_| {
        let t0 = Instant::now();
        let mut n = 0;
        for (t, r) in pool.imap(pattern, 0..P3_TASKS).enumerate() {
            let bytes = r.expect("P3: a task failed");
            assert_eq!(bytes.len(), P3_LEN, "P3: wrong length of result {t}");
            assert_eq!(
                byte_sum(&bytes),
                expected[t],
                "P3: wrong bytes in result {t}"
            );
            copied += usize::from(!bytes.is_in_place());
            n += 1;
        }
        let t = t0.elapsed();
        assert_eq!(n, P3_TASKS, "P3: wrong number of results");
        vec![fig("ours", "gib_per_s", total_gib / t.as_secs_f64())]
    })];
    contenders.push(Contender::new(|_| {
        let t0 = Instant::now();
        let mut n = 0;
        plain.map(plain_pool::IN_FLIGHT, 0..P3_TASKS, |t, bytes| {
            assert_eq!(bytes.len(), P3_LEN, "P3 plain: wrong length of result {t}");
            assert_eq!(
                byte_sum(bytes),
                expected[t],
                "P3 plain: wrong bytes in result {t}"
            );
            n += 1;
        });
        let t = t0.elapsed();
        assert_eq!(n, P3_TASKS, "P3 plain: wrong number of results");
        vec![fig(
            "plain-fork-pool",
            "gib_per_s",
            total_gib / t.as_secs_f64(),
        )]
    }));
    if let Some(peer) = &cx.peer {
        contenders.push(Contender::new(|warmup| {
            let line = peer.result("P3", warmup);
            assert_eq!(num(&line, "mismatches"), 0.0, "P3 peer: {line}");
            assert_eq!(
                num(&line, "bytes"),
                (P3_TASKS as usize * P3_LEN) as f64,
                "P3 peer: {line}"
            );
            vec![fig("python-pool", "gib_per_s", num(&line, "gib_per_s"))]
        }));
    }
    let samples = alternate(REPS, &mut contenders);
    drop(contenders);
    let stats = pool.stats();
    pool.shutdown();
    plain.shutdown();
    out.report("P3", &samples);
    if copied > 0 {
        out.note(&format!("ours: {copied} results were copies, not in place"));
    }
    out.note(&format!(
        "ours: results evicted (copied out of their slot): {}; checksum: byte sum here, \
         zlib.adler32 in python",
        stats.evictions
    ));
}

/// P4: build a pool with one worker per core, run one task, shut down.
/// `ours` is the default start mode (`Auto`), `ours-exec` forces `Exec`;
/// `plain-fork-pool` forks its workers from this process.
fn p4(cx: &Ctx, out: &mut Out) {
    let mut resolved: Vec<StartMode> = Vec::new();
    let once = |mode: StartMode| {
        let t0 = Instant::now();
        let pool = ProcessPool::builder()
            .workers(cx.workers)
            .start_mode(mode)
            .build()
            .expect("P4: building the pool");
        let v = pool.submit(double, black_box(21)).wait();
        let mode = pool.start_mode();
        pool.shutdown();
        let t = t0.elapsed();
        assert_eq!(v, Ok(42), "P4: wrong result");
        (mode, ms(t))
    };
    let mut contenders = vec![
        Contender::new(|_| {
            let (mode, t) = once(StartMode::Auto);
            resolved.push(mode);
            vec![fig("ours", "wall_ms", t)]
        }),
        Contender::new(|_| {
            let (mode, t) = once(StartMode::Exec);
            assert_eq!(mode, StartMode::Exec);
            vec![fig("ours-exec", "wall_ms", t)]
        }),
        Contender::new(|_| {
            let t0 = Instant::now();
            let mut plain = PlainPool::start(cx.workers, double_into, 8);
            let mut v = None;
            plain.map(1, [black_box(21)], |_, bytes| v = Some(u64_of(bytes)));
            plain.shutdown();
            let t = t0.elapsed();
            assert_eq!(v, Some(42), "P4 plain: wrong result");
            vec![fig("plain-fork-pool", "wall_ms", ms(t))]
        }),
    ];
    if let Some(peer) = &cx.peer {
        contenders.push(Contender::new(|warmup| {
            let line = peer.result("P4", warmup);
            assert_eq!(num(&line, "value"), 42.0, "P4 peer: {line}");
            vec![fig("python-pool", "wall_ms", num(&line, "wall_ms"))]
        }));
    }
    let samples = alternate(REPS_P4, &mut contenders);
    drop(contenders);
    out.report("P4", &samples);
    let forks = resolved.iter().filter(|&&m| m == StartMode::Fork).count();
    out.note(&format!(
        "ours: StartMode::Auto resolved to Fork in {forks} of {} repetitions (Exec otherwise); \
         ours-exec: StartMode::Exec",
        resolved.len()
    ));
}

/// P5's counts of one repetition.
#[derive(Default, Debug, Clone, PartialEq)]
struct Counts {
    ok: u64,
    crash_err: u64,
    lost: u64,
    hung: u64,
    /// Outcomes that fit none of the four (a killing task with a value or a
    /// non-crash error, a second outcome for a task).
    other: u64,
    first_other: Option<String>,
    first_lost: Option<String>,
}

impl Counts {
    fn is_exact(&self) -> bool {
        self.ok == P5_TASKS - P5_KILLERS
            && self.crash_err == P5_KILLERS
            && self.lost == 0
            && self.hung == 0
            && self.other == 0
    }

    fn figs(&self, imp: &'static str, wall: Duration) -> Vec<Fig> {
        vec![
            fig(imp, "wall_ms", ms(wall)),
            fig(imp, "ok_count", self.ok as f64),
            fig(imp, "crash_err_count", self.crash_err as f64),
            fig(imp, "lost_count", self.lost as f64),
            fig(imp, "hung_count", self.hung as f64),
        ]
    }

    fn lost(&mut self, why: impl FnOnce() -> String) {
        self.lost += 1;
        self.first_lost.get_or_insert_with(why);
    }

    fn other(&mut self, why: impl FnOnce() -> String) {
        self.other += 1;
        self.first_other.get_or_insert_with(why);
    }
}

/// P5: one run of ours: 10,000 tasks kept `slots` in flight, outcomes
/// taken as they finish; once [`NO_PROGRESS`] passes without an outcome,
/// every task without one is hung.
fn p5_ours(pool: &ProcessPool, crash_text: &mut Option<String>) -> (Counts, Duration) {
    let mut c = Counts::default();
    let mut classify = |i: u64, outcome: Result<u64, TaskError>| match outcome {
        Ok(v) if i % 100 != 99 && v == 3 * i + 1 => c.ok += 1,
        Err(e) if i % 100 == 99 && e.is_crash() => {
            c.crash_err += 1;
            if e.signal() != Some(libc::SIGABRT) {
                c.other(|| format!("task {i}: crash without SIGABRT: {e}"));
            }
            crash_text.get_or_insert_with(|| e.to_string());
        }
        Ok(v) if i % 100 != 99 => c.lost(|| format!("task {i}: wrong value {v}")),
        Err(e) if i % 100 != 99 => c.lost(|| format!("task {i}: {e}")),
        other => c.other(|| format!("task {i} (aborts): {other:?}")),
    };
    let slots = pool.slots();
    let mut window: VecDeque<(u64, TaskHandle<u64>)> = VecDeque::with_capacity(slots);
    let mut next = 0;
    let t0 = Instant::now();
    let mut last_progress = t0;
    let mut hung = 0;
    loop {
        while window.len() < slots && next < P5_TASKS {
            window.push_back((next, pool.submit(p5_task, next)));
            next += 1;
        }
        if window.is_empty() {
            break;
        }
        let mut progressed = false;
        let mut k = 0;
        while k < window.len() {
            if window[k].1.is_finished() {
                let (i, mut h) = window.remove(k).expect("in range");
                classify(i, h.try_wait().expect("finished"));
                progressed = true;
            } else {
                k += 1;
            }
        }
        if progressed {
            last_progress = Instant::now();
            continue;
        }
        let quiet = last_progress.elapsed();
        if quiet >= NO_PROGRESS {
            hung = window.len() as u64 + (P5_TASKS - next);
            break;
        }
        let wait = (NO_PROGRESS - quiet).min(Duration::from_millis(1));
        if let Some(outcome) = window[0].1.wait_timeout(wait) {
            let (i, _) = window.pop_front().expect("not empty");
            classify(i, outcome);
            last_progress = Instant::now();
        }
    }
    let wall = t0.elapsed();
    drop(window);
    c.hung = hung;
    (c, wall)
}

/// P5: one run of a Python peer, counted from the outcome lines it streams;
/// the run is killed (and the tasks without an outcome are hung) once
/// [`NO_PROGRESS`] passes without a line.
fn p5_python(peer: &Peer, imp: &'static str, errors: &mut Vec<String>) -> (Counts, Duration) {
    let run = peer.run("P5", imp, false, NO_PROGRESS);
    let mut c = Counts::default();
    let mut seen = vec![false; P5_TASKS as usize];
    let mut start = None;
    let mut end = run.killed_at;
    for (at, line) in &run.lines {
        match field(line, "ev") {
            Some("start") => start = Some(*at),
            Some("done") => end = end.or(Some(*at)),
            Some("r") | Some("e") => {
                let i = num(line, "i") as u64;
                let first = !std::mem::replace(&mut seen[i as usize], true);
                let killer = i % 100 == 99;
                match (field(line, "ev"), killer) {
                    _ if !first => c.other(|| format!("task {i}: second outcome {line}")),
                    (Some("r"), false) if num(line, "v") as u64 == 3 * i + 1 => c.ok += 1,
                    (Some("r"), false) => c.lost(|| format!("task {i}: {line}")),
                    (Some("e"), false) => c.lost(|| format!("task {i}: {line}")),
                    // A killing task with an error: the peer's error for a
                    // dead worker (the executor's BrokenProcessPool).
                    (Some("e"), true) => c.crash_err += 1,
                    _ => c.other(|| format!("task {i} (aborts): {line}")),
                }
                if let Some(err) = field(line, "err") {
                    if !errors.iter().any(|e| e == err) {
                        errors.push(err.to_string());
                    }
                }
            }
            _ => panic!("P5 peer: unexpected line {line}"),
        }
    }
    let start = start.expect("P5 peer: no start line");
    let end = end.expect("P5 peer: neither done nor killed");
    c.hung = seen.iter().filter(|&&s| !s).count() as u64;
    (c, end - start)
}

/// P5: 10,000 tasks, every 100th aborting its worker; the outcomes counted
/// (see [`Counts`]), for ours, Python's Pool and its ProcessPoolExecutor.
fn p5(cx: &Ctx, out: &mut Out) {
    let pool = cx.pool();
    let mut ours_runs: Vec<Counts> = Vec::new();
    let mut crash_text = None;
    // Shared by the two Python contenders.
    let peer_runs: RefCell<Vec<(&'static str, Counts)>> = RefCell::new(Vec::new());
    let peer_errors = RefCell::new(Vec::new());
    let mut contenders = vec![Contender::new(|_| {
        let (c, wall) = p5_ours(&pool, &mut crash_text);
        let figs = c.figs("ours", wall);
        ours_runs.push(c);
        figs
    })];
    if let Some(peer) = &cx.peer {
        for imp in ["python-pool", "python-executor"] {
            let (peer_runs, peer_errors) = (&peer_runs, &peer_errors);
            contenders.push(Contender::new(move |_| {
                let (c, wall) = p5_python(peer, imp, &mut peer_errors.borrow_mut());
                let figs = c.figs(imp, wall);
                peer_runs.borrow_mut().push((imp, c));
                figs
            }));
        }
    }
    let samples = alternate(REPS, &mut contenders);
    drop(contenders);
    let stats = pool.stats();
    pool.shutdown();
    let (peer_runs, peer_errors) = (peer_runs.into_inner(), peer_errors.into_inner());
    out.report("P5", &samples);
    if let Some(text) = &crash_text {
        out.note(&format!("ours: a killing task's error: \"{text}\""));
    }
    out.note(&format!(
        "ours: over {} runs (warm-up included) the pool started {} workers, lost {} tasks \
         to deaths",
        ours_runs.len(),
        stats.workers_started,
        stats.tasks_lost_to_deaths
    ));
    for (k, c) in ours_runs.iter().enumerate() {
        if !c.is_exact() {
            out.fail(format!(
                "P5 ours, run {k} (0 = warm-up): ok {} crash_err {} lost {} hung {} other {} \
                 (expected {} / {P5_KILLERS} / 0 / 0 / 0); first lost: {:?}; first other: {:?}",
                c.ok,
                c.crash_err,
                c.lost,
                c.hung,
                c.other,
                P5_TASKS - P5_KILLERS,
                c.first_lost,
                c.first_other
            ));
        }
    }
    for imp in ["python-pool", "python-executor"] {
        let runs: Vec<&Counts> = peer_runs
            .iter()
            .filter(|(i, _)| *i == imp)
            .map(|(_, c)| c)
            .collect();
        let other: u64 = runs.iter().map(|c| c.other).sum();
        if let Some(c) = runs.iter().find(|c| c.first_lost.is_some() || other > 0) {
            out.note(&format!(
                "{imp}: first lost: {}; other outcomes: {other} ({})",
                c.first_lost.as_deref().unwrap_or("-"),
                c.first_other.as_deref().unwrap_or("-")
            ));
        }
    }
    if !peer_errors.is_empty() {
        out.note(&format!(
            "python errors seen: {}; python-pool's hung tasks: its parent was killed after \
             {} s without a result",
            peer_errors.join(", "),
            NO_PROGRESS.as_secs()
        ));
    }
}

// ---------------------------------------------------------------------------
// Driver.
// ---------------------------------------------------------------------------

/// One workload: it runs its contenders and reports their figures.
type Workload = fn(&Ctx, &mut Out);

/// The workloads, by name, in the order they run.
const WORKLOADS: [(&str, Workload); 5] =
    [("P1", p1), ("P2", p2), ("P3", p3), ("P4", p4), ("P5", p5)];

/// No core files from P5's aborting tasks (children inherit the limit: our
/// zygote and workers, and the Python peer).
fn no_core_dumps() {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `setrlimit` reads the struct we pass, a live local, for the
    // duration of the call only.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) };
    assert_eq!(
        rc,
        0,
        "setrlimit(RLIMIT_CORE): {}",
        std::io::Error::last_os_error()
    );
}

/// Arms (or with 0, disarms) the hang guard: SIGALRM, whose default action
/// ends the process, after `secs` seconds.
fn hang_guard(secs: u32) {
    // SAFETY: `alarm` only arms a per-process timer; it touches no memory.
    // Forked children (our zygote, Python) do not inherit it.
    unsafe {
        libc::alarm(secs);
    }
}

fn main() {
    let wanted = run::wanted("process_pool", &WORKLOADS);
    no_core_dumps();
    let workers = thread::available_parallelism().map_or(1, |n| n.get());
    let (peer, version) = match Peer::find(workers) {
        Some((peer, version)) => (Some(peer), Some(version)),
        None => {
            println!(
                "process_pool bench: python3 not found: the python-pool and python-executor \
                 lines are skipped"
            );
            (None, None)
        }
    };
    let cx = Ctx { workers, peer };
    let mut out = Out::new();
    out.header(workers, version.as_deref());
    for (name, run) in WORKLOADS {
        if run::is_wanted(&wanted, name) {
            hang_guard(HANG_LIMIT.as_secs() as u32);
            run(&cx, &mut out);
            hang_guard(0);
        }
    }
    if !out.failures.is_empty() {
        eprintln!(
            "process_pool bench: {} failed check(s):",
            out.failures.len()
        );
        for f in &out.failures {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
}
