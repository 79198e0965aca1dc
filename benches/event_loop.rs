//! Event-loop benchmarks E1–E7 of `benchmarks.md`: `triad::event_loop` side
//! by side with tokio's `current_thread` runtime (a `LocalSet` where the
//! tasks are `!Send`), in the same process run.
//!
//! Run all workloads, or only some of them by name:
//!
//! ```text
//! cargo bench --bench event_loop --no-default-features --features event-loop
//! cargo bench --bench event_loop -- E1 E5
//! BENCH_JSON=out.jsonl cargo bench --bench event_loop -- E3
//! ```
//!
//! Every workload prints lines of a human table (median, min and max over the
//! timed repetitions, and `ratio` = ours / tokio). When the environment
//! variable `BENCH_JSON` names a file, one JSON object per measured line is
//! appended to it:
//!
//! ```text
//! {"suite":"event_loop","workload":"E3","impl":"ours","metric":"ns_per_task","median":95.1,"min":93.0,"max":99.2,"n":9}
//! ```
//!
//! Method (the rules of `benchmarks.md`):
//!
//! - one [`EventLoop`] and one tokio `current_thread` runtime (timers and I/O
//!   enabled) plus one `LocalSet` live for the whole run, on the main thread;
//! - each contender runs one warm-up repetition, then the timed repetitions
//!   *alternate* between ours and tokio (the starting contender rotates each
//!   round), with a [`PAUSE`] after every repetition; so the allocator's
//!   state (glibc trims and re-faults memory between repetitions) hits both
//!   alike;
//! - every workload checks its result (a sum, a count, the echoed bytes, no
//!   early wake-up of ours) and panics if it is wrong;
//! - every figure is a median over at least 5 timed repetitions.
//!
//! The workloads, briefly:
//!
//! - E1: TCP echo on 127.0.0.1. The clients run in a *separate process* (this
//!   bench binary re-executed with [`CLIENT_ENV`] set): [`E1_CONNS`]
//!   connections, blocking std sockets, one thread each, each doing
//!   20,000 round trips of 64 bytes ([`e1_trips`]) and checking every echo. The rate
//!   is timed by the client process (from the moment every connection is
//!   open to the last reply); the server's CPU time per round trip is the
//!   bench process's `getrusage(RUSAGE_SELF)` around the serving (the client
//!   is another process, so it is excluded). The 20,000 round trips per
//!   connection of `benchmarks.md` take E1 about 3.5 minutes on 2 cores
//!   (loopback TCP costs some 10 µs of client *and* server CPU per round
//!   trip); `BENCH_E1_TRIPS=4000` shortens it for a quick look, and the
//!   table's title and E1's note say how many ran.
//! - E2: 100,000 tasks each sleep a duration drawn from [0, 1000) ms (fixed
//!   seed, µs resolution), the deadline taken at the task's first poll: the
//!   p99 lateness past the deadline and the total time minus 1,000 ms.
//! - E3: spawn 1,000,000 trivial local tasks and await them all: ns per task.
//!   After the timed rounds, one untimed pass per contender counts the heap
//!   allocations and bytes per task (a counting global allocator, off while
//!   timing but for one relaxed load per allocation).
//! - E4: another OS thread sends 1,000,000 `u64` through our
//!   `Remote::channel` (tokio: `mpsc::unbounded_channel`); a task on the
//!   loop receives and sums them.
//! - E5: one task sleeps 1 ms, 1,000 times in a row: mean and p99 lateness.
//! - E6: another OS thread wakes a task waiting on an idle loop, 2,000 times
//!   with 1 ms pauses: the delay from the wake call to the task running. The
//!   wake is a send on a cross-thread channel on both sides (ours:
//!   `Remote::channel`'s `Sender::send`, tokio: `mpsc::unbounded_channel`),
//!   the closest thing we have to tokio's `Notify`/channel: the task waits in
//!   `recv().await`, the other thread stamps the time right before `send`.
//! - E7: two local tasks on the loop: one sends 1,000,000 `u64` through a
//!   bounded channel of capacity 1,024 (ours: `event_loop::sync::mpsc`,
//!   tokio: `sync::mpsc::channel` with `spawn_local`), the other receives
//!   and sums them; timed from before the spawns to the sum.

mod common;
use common::report::{Columns, Contender, Report};
use common::run;
use common::{ms, nanos_since, percentile, process_cpu, splitmix64};

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use triad::event_loop::net::tcp::{TcpListener, TcpStream};
use triad::event_loop::{sleep_until, spawn, EventLoop};

/// Pause after every repetition.
const PAUSE: Duration = Duration::from_millis(100);

/// The pause after every repetition.
fn pause() {
    thread::sleep(PAUSE);
}

/// Timed repetitions of the short workloads (E3, E4).
const REPS: usize = 9;
/// Timed repetitions of the workloads that take a second or more (E1, E2,
/// E5, E6).
const REPS_SLOW: usize = 5;

/// E1: client connections, round trips per connection, message size.
const E1_CONNS: usize = 50;
/// Round trips per connection: `benchmarks.md`'s 20,000, or
/// `BENCH_E1_TRIPS` (at least 1) for a shorter look.
fn e1_trips() -> usize {
    std::env::var("BENCH_E1_TRIPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(20_000)
}
const E1_MSG: usize = 64;
/// E1: set in the re-executed bench binary to make it the client process;
/// the value is `ADDR CONNS TRIPS`.
const CLIENT_ENV: &str = "TRIAD_EVENT_LOOP_BENCH_E1_CLIENT";

/// E2: tasks, the range of their sleeps, the seed.
const E2_TASKS: usize = 100_000;
const E2_MAX_SLEEP_US: u64 = 1_000_000;
const E2_SEED: u64 = 0x5eed_2024_00e2;

/// E3: trivial tasks per repetition.
const E3_TASKS: usize = 1_000_000;

/// E4: messages per repetition.
const E4_MSGS: u64 = 1_000_000;

/// E5: sleeps per repetition and their length.
const E5_SLEEPS: usize = 1_000;
const E5_SLEEP: Duration = Duration::from_millis(1);

/// E6: wakes per repetition and the pause after each.
const E6_WAKES: usize = 2_000;
const E6_PAUSE: Duration = Duration::from_millis(1);

/// E7: messages per repetition and the channel's capacity.
const E7_MSGS: u64 = 1_000_000;
const E7_CAPACITY: usize = 1_024;

// ---------------------------------------------------------------------------
// A counting allocator (E3's allocations per task).
// ---------------------------------------------------------------------------

/// The system allocator, counting allocations while [`COUNTING`] is set.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);

impl Counting {
    #[inline]
    fn count(size: usize) {
        if COUNTING.load(Relaxed) {
            ALLOCS.fetch_add(1, Relaxed);
            ALLOC_BYTES.fetch_add(size as u64, Relaxed);
        }
    }
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// implements `GlobalAlloc` correctly; the counting touches only atomics and
// never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Counting::count(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which
        // is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Counting::count(layout.size());
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, that is by
        // `System`, with `layout` (the caller's contract).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Counting::count(new_size);
        // SAFETY: as in `dealloc`; `new_size` obeys `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` with allocation counting on; returns its result, the number of
/// allocations and the bytes requested.
fn count_allocs<R>(f: impl FnOnce() -> R) -> (R, u64, u64) {
    ALLOCS.store(0, Relaxed);
    ALLOC_BYTES.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
    let r = f();
    COUNTING.store(false, Relaxed);
    (r, ALLOCS.load(Relaxed), ALLOC_BYTES.load(Relaxed))
}

// ---------------------------------------------------------------------------
// Measurement helpers (as in benches/scheduler.rs).
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// The two runtimes, and the output (human table + JSON lines).
// ---------------------------------------------------------------------------

/// Our loop and tokio's current-thread runtime with its `LocalSet`, alive
/// for the whole run.
struct Loops {
    ours: EventLoop,
    tokio: tokio::runtime::Runtime,
    local: tokio::task::LocalSet,
}

impl Loops {
    fn new() -> Loops {
        Loops {
            ours: EventLoop::new().expect("creating the triad event loop"),
            tokio: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("building the tokio runtime"),
            local: tokio::task::LocalSet::new(),
        }
    }

    /// Runs `f` to completion on tokio, inside the `LocalSet`.
    fn in_tokio<F: std::future::Future>(&self, f: F) -> F::Output {
        self.local.block_on(&self.tokio, f)
    }
}

/// The table's title and column heads.
fn header(out: &Report) {
    println!(
        "event_loop: triad::event_loop vs tokio current_thread (+ LocalSet), one thread each; \
         median of {REPS} (E1, E2, E5, E6: {REPS_SLOW}) timed repetitions after 1 warm-up,"
    );
    println!(
        "contenders alternating, {} ms pause after each; ratio = ours / tokio; \
         E1: {E1_CONNS} connections x {} round trips (benchmarks.md: 20,000)",
        PAUSE.as_millis(),
        e1_trips()
    );
    println!();
    out.column_heads(&["ratio"]);
}

// ---------------------------------------------------------------------------
// E1: TCP echo, clients in a separate process.
// ---------------------------------------------------------------------------

/// The client process: `spec` is `ADDR CONNS TRIPS`. Opens the connections
/// (one thread each), starts them together, checks every echo, and prints
/// the nanoseconds from the start to the last reply. Exits non-zero on any
/// failure.
fn e1_client(spec: &str) -> ! {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    let [addr, conns, trips] = parts[..] else {
        eprintln!("E1 client: bad {CLIENT_ENV}={spec:?}");
        std::process::exit(3);
    };
    let addr: SocketAddr = addr.parse().expect("E1 client: address");
    let conns: usize = conns.parse().expect("E1 client: connections");
    let trips: usize = trips.parse().expect("E1 client: round trips");
    let start = Arc::new(Barrier::new(conns + 1));
    let threads: Vec<_> = (0..conns)
        .map(|c| {
            let start = start.clone();
            thread::spawn(move || {
                let mut s = match std::net::TcpStream::connect(addr) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("E1 client: connect {addr}: {e}");
                        std::process::exit(1);
                    }
                };
                s.set_nodelay(true).expect("E1 client: nodelay");
                // A lost wake-up in the server shows as a failure, not a hang.
                s.set_read_timeout(Some(Duration::from_secs(30)))
                    .expect("E1 client: timeout");
                start.wait();
                let mut msg = [0u8; E1_MSG];
                let mut reply = [0u8; E1_MSG];
                for i in 0..trips {
                    msg[..8].copy_from_slice(&(c as u64).to_le_bytes());
                    msg[8..16].copy_from_slice(&(i as u64).to_le_bytes());
                    msg[16] = msg[16].wrapping_add(1);
                    s.write_all(&msg)?;
                    s.read_exact(&mut reply)?;
                    if reply != msg {
                        return Err(std::io::Error::other(format!(
                            "connection {c}, round trip {i}: wrong echo"
                        )));
                    }
                }
                Ok::<(), std::io::Error>(())
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    let mut failed = false;
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("E1 client: {e}");
                failed = true;
            }
            Err(_) => failed = true,
        }
    }
    let elapsed = t0.elapsed();
    if failed {
        std::process::exit(1);
    }
    println!("{}", elapsed.as_nanos());
    std::process::exit(0);
}

/// Starts the client process against `addr`.
fn e1_spawn_client(addr: SocketAddr) -> Child {
    let exe = std::env::current_exe().expect("E1: current_exe");
    Command::new(exe)
        .env(CLIENT_ENV, format!("{addr} {E1_CONNS} {}", e1_trips()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("E1: starting the client process")
}

/// Waits for the client, checks it and the server's byte count, and turns
/// the figures into `[ops_per_s, cpu_ns_per_op]`.
fn e1_figures(child: Child, server_cpu: Duration, echoed: u64) -> Vec<f64> {
    let out = child
        .wait_with_output()
        .expect("E1: waiting for the client");
    assert!(
        out.status.success(),
        "E1: the client failed: {}",
        out.status
    );
    let trips = (E1_CONNS * e1_trips()) as u64;
    assert_eq!(
        echoed,
        trips * E1_MSG as u64,
        "E1: wrong number of bytes echoed"
    );
    let nanos: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("E1: the client's time");
    vec![
        trips as f64 / (nanos / 1e9),
        server_cpu.as_nanos() as f64 / trips as f64,
    ]
}

/// E1 server, ours: one task per connection.
async fn e1_echo_ours(mut s: TcpStream, echoed: Rc<Cell<u64>>) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        s.write_all(&buf[..n]).await?;
        echoed.set(echoed.get() + n as u64);
    }
}

/// E1 server, tokio: one local task per connection.
async fn e1_echo_tokio(mut s: tokio::net::TcpStream, echoed: Rc<Cell<u64>>) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 4096];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        s.write_all(&buf[..n]).await?;
        echoed.set(echoed.get() + n as u64);
    }
}

fn e1(l: &Loops, out: &mut Report) {
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("address");
    out.measure(
        "E1",
        &["ops_per_s", "cpu_ns_per_op"],
        REPS_SLOW,
        &mut [
            Contender::new("ours", || {
                let (child, cpu, echoed) = l.ours.block_on(async {
                    let listener = TcpListener::bind(loopback).expect("E1: bind");
                    let child = e1_spawn_client(listener.local_addr().expect("E1: address"));
                    let cpu0 = process_cpu();
                    let echoed = Rc::new(Cell::new(0));
                    let mut tasks = Vec::with_capacity(E1_CONNS);
                    for _ in 0..E1_CONNS {
                        let (s, _) = listener.accept().await.expect("E1: accept");
                        s.set_nodelay(true).expect("E1: nodelay");
                        tasks.push(spawn(e1_echo_ours(s, echoed.clone())));
                    }
                    for t in tasks {
                        t.await.expect("E1: echo task").expect("E1: echo I/O");
                    }
                    (child, process_cpu() - cpu0, echoed.get())
                });
                e1_figures(child, cpu, echoed)
            }),
            Contender::new("tokio", || {
                let (child, cpu, echoed) = l.in_tokio(async {
                    let listener = tokio::net::TcpListener::bind(loopback)
                        .await
                        .expect("E1: bind");
                    let child = e1_spawn_client(listener.local_addr().expect("E1: address"));
                    let cpu0 = process_cpu();
                    let echoed = Rc::new(Cell::new(0));
                    let mut tasks = Vec::with_capacity(E1_CONNS);
                    for _ in 0..E1_CONNS {
                        let (s, _) = listener.accept().await.expect("E1: accept");
                        s.set_nodelay(true).expect("E1: nodelay");
                        tasks.push(tokio::task::spawn_local(e1_echo_tokio(s, echoed.clone())));
                    }
                    for t in tasks {
                        t.await.expect("E1: echo task").expect("E1: echo I/O");
                    }
                    (child, process_cpu() - cpu0, echoed.get())
                });
                e1_figures(child, cpu, echoed)
            }),
        ],
    );
    out.note(&format!(
        "{E1_CONNS} client threads in a separate process, {} round trips of {E1_MSG} B \
         each (benchmarks.md: 20,000); cpu = the server process",
        e1_trips()
    ));
}

// ---------------------------------------------------------------------------
// E2: 100,000 sleeping tasks.
// ---------------------------------------------------------------------------

/// E2's sleep lengths, the same for both contenders.
fn e2_sleeps() -> Vec<Duration> {
    let mut seed = E2_SEED;
    (0..E2_TASKS)
        .map(|_| Duration::from_micros(splitmix64(&mut seed) % E2_MAX_SLEEP_US))
        .collect()
}

/// `[p99_us, wall_ms]` from the lateness of every task (ns) and the total
/// time; panics if a task is missing.
fn e2_figures(mut late: Vec<u64>, total: Duration) -> Vec<f64> {
    assert_eq!(late.len(), E2_TASKS, "E2: a task is missing");
    late.sort_unstable();
    vec![percentile(&late, 0.99) as f64 / 1e3, ms(total) - 1_000.0]
}

fn e2(l: &Loops, out: &mut Report) {
    let sleeps = e2_sleeps();
    let sleeps = &sleeps;
    let tokio_early = Cell::new(0u64);
    out.measure(
        "E2",
        &["p99_us", "wall_ms"],
        REPS_SLOW,
        &mut [
            Contender::new("ours", || {
                let (late, total) = l.ours.block_on(async {
                    let t0 = Instant::now();
                    let tasks: Vec<_> = sleeps
                        .iter()
                        .map(|&d| {
                            spawn(async move {
                                let deadline = Instant::now() + d;
                                sleep_until(deadline).await;
                                let now = Instant::now();
                                assert!(now >= deadline, "E2: our sleep woke early");
                                (now - deadline).as_nanos() as u64
                            })
                        })
                        .collect();
                    let mut late = Vec::with_capacity(E2_TASKS);
                    for t in tasks {
                        late.push(t.await.expect("E2: task"));
                    }
                    (late, t0.elapsed())
                });
                e2_figures(late, total)
            }),
            Contender::new("tokio", || {
                let (late, total, early) = l.in_tokio(async {
                    let t0 = Instant::now();
                    let tasks: Vec<_> = sleeps
                        .iter()
                        .map(|&d| {
                            tokio::task::spawn_local(async move {
                                let deadline = Instant::now() + d;
                                tokio::time::sleep_until(deadline.into()).await;
                                Instant::now().checked_duration_since(deadline)
                            })
                        })
                        .collect();
                    let mut late = Vec::with_capacity(E2_TASKS);
                    let mut early = 0;
                    for t in tasks {
                        match t.await.expect("E2: task") {
                            Some(d) => late.push(d.as_nanos() as u64),
                            None => {
                                early += 1;
                                late.push(0);
                            }
                        }
                    }
                    (late, t0.elapsed(), early)
                });
                tokio_early.set(tokio_early.get() + early);
                e2_figures(late, total)
            }),
        ],
    );
    out.note(&format!(
        "{E2_TASKS} tasks, sleeps in [0, 1000) ms, deadline at first poll; wall = total - 1000 ms"
    ));
    if tokio_early.get() > 0 {
        out.note(&format!(
            "tokio woke {} sleeps early (counted as 0 lateness)",
            tokio_early.get()
        ));
    }
}

// ---------------------------------------------------------------------------
// E3: 1,000,000 trivial tasks.
// ---------------------------------------------------------------------------

/// The sum E3's tasks return.
const E3_SUM: u64 = (E3_TASKS as u64) * (E3_TASKS as u64 - 1) / 2;

fn e3_ours(l: &Loops) -> u64 {
    l.ours.block_on(async {
        let tasks: Vec<_> = (0..E3_TASKS as u64)
            .map(|i| spawn(async move { black_box(i) }))
            .collect();
        let mut sum = 0;
        for t in tasks {
            sum += t.await.expect("E3: task");
        }
        sum
    })
}

fn e3_tokio(l: &Loops) -> u64 {
    l.in_tokio(async {
        let tasks: Vec<_> = (0..E3_TASKS as u64)
            .map(|i| tokio::task::spawn_local(async move { black_box(i) }))
            .collect();
        let mut sum = 0;
        for t in tasks {
            sum += t.await.expect("E3: task");
        }
        sum
    })
}

fn e3(l: &Loops, out: &mut Report) {
    let per_task = |d: Duration| d.as_nanos() as f64 / E3_TASKS as f64;
    out.measure(
        "E3",
        &["ns_per_task"],
        REPS,
        &mut [
            Contender::new("ours", || {
                let t0 = Instant::now();
                let sum = e3_ours(l);
                let t = t0.elapsed();
                assert_eq!(sum, E3_SUM, "E3: wrong sum");
                vec![per_task(t)]
            }),
            Contender::new("tokio", || {
                let t0 = Instant::now();
                let sum = e3_tokio(l);
                let t = t0.elapsed();
                assert_eq!(sum, E3_SUM, "E3: wrong sum");
                vec![per_task(t)]
            }),
        ],
    );
    // One untimed pass each with the allocation counter on. The handles'
    // Vec is one allocation for all tasks, so the per-task figure is the
    // task's own.
    let n = E3_TASKS as f64;
    let (sum, ours_n, ours_b) = count_allocs(|| e3_ours(l));
    assert_eq!(sum, E3_SUM, "E3: wrong sum");
    let (sum, tokio_n, tokio_b) = count_allocs(|| e3_tokio(l));
    assert_eq!(sum, E3_SUM, "E3: wrong sum");
    out.note(&format!(
        "heap per task: ours {:.2} allocations, {:.1} bytes; tokio {:.2} allocations, {:.1} bytes",
        ours_n as f64 / n,
        ours_b as f64 / n,
        tokio_n as f64 / n,
        tokio_b as f64 / n
    ));
}

// ---------------------------------------------------------------------------
// E4: a stream of messages from another thread.
// ---------------------------------------------------------------------------

/// The sum of E4's messages 0..E4_MSGS.
const E4_SUM: u64 = E4_MSGS * (E4_MSGS - 1) / 2;

fn e4(l: &Loops, out: &mut Report) {
    let rate = |d: Duration| E4_MSGS as f64 / d.as_secs_f64();
    out.measure(
        "E4",
        &["ops_per_s"],
        REPS,
        &mut [
            Contender::new("ours", || {
                let (sum, t) = l.ours.block_on(async {
                    let (tx, mut rx) = l.ours.remote().channel::<u64>();
                    let t0 = Instant::now();
                    let sender = thread::spawn(move || {
                        for i in 0..E4_MSGS {
                            tx.send(i).expect("E4: send");
                        }
                    });
                    let mut sum = 0;
                    while let Some(i) = rx.recv().await {
                        sum += i;
                    }
                    let t = t0.elapsed();
                    sender.join().expect("E4: sender thread");
                    (sum, t)
                });
                assert_eq!(sum, E4_SUM, "E4: wrong sum");
                vec![rate(t)]
            }),
            Contender::new("tokio", || {
                let (sum, t) = l.in_tokio(async {
                    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
                    let t0 = Instant::now();
                    let sender = thread::spawn(move || {
                        for i in 0..E4_MSGS {
                            tx.send(i).expect("E4: send");
                        }
                    });
                    let mut sum = 0;
                    while let Some(i) = rx.recv().await {
                        sum += i;
                    }
                    let t = t0.elapsed();
                    sender.join().expect("E4: sender thread");
                    (sum, t)
                });
                assert_eq!(sum, E4_SUM, "E4: wrong sum");
                vec![rate(t)]
            }),
        ],
    );
}

// ---------------------------------------------------------------------------
// E5: one task sleeps 1 ms, 1,000 times.
// ---------------------------------------------------------------------------

/// `[mean_us, p99_us]` of the lateness of each sleep (ns).
fn e5_figures(mut late: Vec<u64>) -> Vec<f64> {
    assert_eq!(late.len(), E5_SLEEPS, "E5: a sleep is missing");
    late.sort_unstable();
    let mean = late.iter().sum::<u64>() as f64 / late.len() as f64;
    vec![mean / 1e3, percentile(&late, 0.99) as f64 / 1e3]
}

fn e5(l: &Loops, out: &mut Report) {
    out.measure(
        "E5",
        &["mean_us", "p99_us"],
        REPS_SLOW,
        &mut [
            Contender::new("ours", || {
                let late = l.ours.block_on(async {
                    let mut late = Vec::with_capacity(E5_SLEEPS);
                    for _ in 0..E5_SLEEPS {
                        let deadline = Instant::now() + E5_SLEEP;
                        sleep_until(deadline).await;
                        let now = Instant::now();
                        assert!(now >= deadline, "E5: our sleep woke early");
                        late.push((now - deadline).as_nanos() as u64);
                    }
                    late
                });
                e5_figures(late)
            }),
            Contender::new("tokio", || {
                let late = l.in_tokio(async {
                    let mut late = Vec::with_capacity(E5_SLEEPS);
                    for _ in 0..E5_SLEEPS {
                        let deadline = Instant::now() + E5_SLEEP;
                        tokio::time::sleep_until(deadline.into()).await;
                        let now = Instant::now();
                        late.push(now.saturating_duration_since(deadline).as_nanos() as u64);
                    }
                    late
                });
                e5_figures(late)
            }),
        ],
    );
}

// ---------------------------------------------------------------------------
// E6: wake-ups of an idle loop from another thread.
// ---------------------------------------------------------------------------

/// `[p50_us, p99_us]` of the wake-to-run delays (ns).
fn e6_figures(mut delays: Vec<u64>) -> Vec<f64> {
    assert_eq!(delays.len(), E6_WAKES, "E6: a wake-up is missing");
    delays.sort_unstable();
    vec![
        percentile(&delays, 0.50) as f64 / 1e3,
        percentile(&delays, 0.99) as f64 / 1e3,
    ]
}

/// The other thread of E6: stamps the time (ns since `epoch`) right before
/// each send, then pauses.
fn e6_waker(epoch: Instant, send: impl Fn(u64)) {
    for _ in 0..E6_WAKES {
        send(nanos_since(epoch));
        thread::sleep(E6_PAUSE);
    }
}

fn e6(l: &Loops, out: &mut Report) {
    out.measure(
        "E6",
        &["p50_us", "p99_us"],
        REPS_SLOW,
        &mut [
            Contender::new("ours", || {
                let delays = l.ours.block_on(async {
                    let (tx, mut rx) = l.ours.remote().channel::<u64>();
                    let epoch = Instant::now();
                    let waker = thread::spawn(move || {
                        e6_waker(epoch, |t| tx.send(t).expect("E6: send"));
                    });
                    let mut delays = Vec::with_capacity(E6_WAKES);
                    while let Some(sent) = rx.recv().await {
                        let now = nanos_since(epoch);
                        assert!(now >= sent, "E6: ran before the wake");
                        delays.push(now - sent);
                    }
                    waker.join().expect("E6: waker thread");
                    delays
                });
                e6_figures(delays)
            }),
            Contender::new("tokio", || {
                let delays = l.in_tokio(async {
                    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
                    let epoch = Instant::now();
                    let waker = thread::spawn(move || {
                        e6_waker(epoch, |t| tx.send(t).expect("E6: send"));
                    });
                    let mut delays = Vec::with_capacity(E6_WAKES);
                    while let Some(sent) = rx.recv().await {
                        let now = nanos_since(epoch);
                        assert!(now >= sent, "E6: ran before the wake");
                        delays.push(now - sent);
                    }
                    waker.join().expect("E6: waker thread");
                    delays
                });
                e6_figures(delays)
            }),
        ],
    );
    out.note(
        "wake = a send on a cross-thread channel: ours Remote::channel, tokio \
         mpsc::unbounded_channel; the task waits in recv().await",
    );
}

// ---------------------------------------------------------------------------
// E7 and the driver.
// ---------------------------------------------------------------------------

/// The sum of E7's messages 0..E7_MSGS.
const E7_SUM: u64 = E7_MSGS * (E7_MSGS - 1) / 2;

fn e7_ours(l: &Loops) -> (u64, Duration) {
    l.ours.block_on(async {
        let t0 = Instant::now();
        let (tx, mut rx) = triad::event_loop::sync::mpsc::channel::<u64>(E7_CAPACITY);
        let producer = spawn(async move {
            for i in 0..E7_MSGS {
                tx.send(i).await.expect("E7: send");
            }
        });
        let consumer = spawn(async move {
            let mut sum = 0u64;
            while let Some(i) = rx.recv().await {
                sum += i;
            }
            sum
        });
        producer.await.expect("E7: producer");
        let sum = consumer.await.expect("E7: consumer");
        (sum, t0.elapsed())
    })
}

fn e7_tokio(l: &Loops) -> (u64, Duration) {
    l.in_tokio(async {
        let t0 = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(E7_CAPACITY);
        let producer = tokio::task::spawn_local(async move {
            for i in 0..E7_MSGS {
                tx.send(i).await.expect("E7: send");
            }
        });
        let consumer = tokio::task::spawn_local(async move {
            let mut sum = 0u64;
            while let Some(i) = rx.recv().await {
                sum += i;
            }
            sum
        });
        producer.await.expect("E7: producer");
        let sum = consumer.await.expect("E7: consumer");
        (sum, t0.elapsed())
    })
}

fn e7(l: &Loops, out: &mut Report) {
    let rate = |d: Duration| E7_MSGS as f64 / d.as_secs_f64();
    out.measure(
        "E7",
        &["ops_per_s"],
        REPS,
        &mut [
            Contender::new("ours", || {
                let (sum, t) = e7_ours(l);
                assert_eq!(sum, E7_SUM, "E7: wrong sum");
                vec![rate(t)]
            }),
            Contender::new("tokio", || {
                let (sum, t) = e7_tokio(l);
                assert_eq!(sum, E7_SUM, "E7: wrong sum");
                vec![rate(t)]
            }),
        ],
    );
    out.note(&format!(
        "two local tasks, bounded channel of {E7_CAPACITY}: ours event_loop::sync::mpsc, \
         tokio sync::mpsc::channel with spawn_local"
    ));
}

type Workload = fn(&Loops, &mut Report);

/// The workloads, by name, in the order they run.
const WORKLOADS: [(&str, Workload); 7] = [
    ("E1", e1),
    ("E2", e2),
    ("E3", e3),
    ("E4", e4),
    ("E5", e5),
    ("E6", e6),
    ("E7", e7),
];

/// A workload still running after this long is taken to hang.
const HANG_LIMIT: Duration = Duration::from_secs(300);

fn main() {
    if let Some(spec) = std::env::var_os(CLIENT_ENV) {
        e1_client(&spec.to_string_lossy());
    }
    let wanted = run::wanted("event_loop", &WORKLOADS);
    let loops = Loops::new();
    let mut out = Report::new(
        "event_loop",
        "tokio",
        pause,
        Columns {
            imp: 10,
            metric: 14,
            number: 14,
        },
    );
    header(&out);
    run::run_wanted(
        "event_loop",
        &WORKLOADS,
        &wanted,
        HANG_LIMIT,
        &loops,
        &mut out,
    );
}
