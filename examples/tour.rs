//! cargo run --release --example tour
//!
//! The crate's main demonstration: the ideas behind triad, measured on the
//! machine it runs on. Each row is a measurement with a one-line lesson.
//!
//! What to watch for:
//! - I/O-bound work (waiting) needs no parallelism: a thousand waits on one
//!   event-loop thread take about as long as one.
//! - Concurrency is not parallelism: CPU work split into tasks on that one
//!   thread is no faster, and a timer due meanwhile fires late.
//! - CPU-bound work split over the pool's threads runs about N times faster
//!   on N cores: Rust threads compute in parallel (Python's GIL would let
//!   one thread compute at a time). Only on idle cores, though: when other
//!   programs hold them the speed-up shrinks, and the tour then prints the
//!   load average beside it.
//! - Threads share memory: the jobs below borrow the caller's data in place,
//!   nothing is copied.
//! - An idle pool costs nothing: its workers sleep.
//! - Processes do not share memory: arguments and results cross as bytes
//!   (here through shared memory), which costs per task and per MiB; in
//!   return a task that crashes takes down its worker, not the program.
//!
//! With the `trace` feature, `-- --trace FILE` also records the whole tour
//! as a timeline (Chrome Trace Event JSON, one track per pool worker, the
//! loop and each worker process) and writes it to FILE, to open at
//! https://ui.perfetto.dev:
//! `cargo run --release --features trace --example tour -- --trace tour-trace.json`.

use std::time::{Duration, Instant};

use triad::event_loop::net::{TcpListener, TcpStream};
use triad::event_loop::{sleep, spawn, yield_now};

use triad::processes::SharedBytes;
use triad::runtime::{spawn_cpu, spawn_process};
use triad::threads::join;
use triad::Runtime;

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

/// A task that returns `mib` MiB of bytes, written straight into its
/// result slot in shared memory (no copy on either side).
fn bytes_task(mib: u64) -> SharedBytes {
    SharedBytes::from_fn((mib as usize) << 20, |bytes| bytes.fill(7))
}

/// Risky work for the server: crashes its worker on 13 (unlucky input).
fn risky(n: u64) -> u64 {
    if n == 13 {
        std::process::abort();
    }
    n * n
}

/// A task that kills its own worker process.
fn crash(_: u64) -> u64 {
    std::process::abort()
}

/// The server's side of one request: `c N` counts primes below N on the
/// thread pool, `r N` runs `risky(N)` in the process pool.
async fn handle(mut conn: TcpStream) {
    let mut request = [0u8; 8];
    conn.read_exact(&mut request).await.expect("request");
    let text = std::str::from_utf8(&request).expect("ascii");
    let n: u64 = text[1..].trim().parse().expect("a number");
    let reply = if text.starts_with('c') {
        // CPU-bound: the thread pool computes while the loop awaits the handle.
        let count = spawn_cpu(move || count_primes(0..n)).await;
        format!("primes below {n}: {}", count.expect("pool job"))
    } else {
        // Risky: a worker process isolates it; a crash comes back as an error.
        match spawn_process(risky, n).await {
            Ok(v) => format!("risky({n}) = {v}"),
            Err(e) => format!("risky({n}) failed alone: {e}"),
        }
    };
    conn.write_all(reply.as_bytes()).await.expect("reply");
}

/// A client: send one request, read the reply until the server closes.
async fn ask(addr: std::net::SocketAddr, request: &'static str) -> String {
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    conn.write_all(request.as_bytes()).await.expect("send");
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match conn.read(&mut buf).await.expect("read") {
            0 => break,
            n => reply.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8(reply).expect("utf-8")
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

/// When a speed-up is below half of what `cores` idle cores give, a hint
/// at the usual reason: other programs hold the cores (the load average
/// counts the runnable threads competing for them). Empty otherwise.
fn busy_cores_note(speedup: f64, cores: usize) -> String {
    let half_the_ideal_gain = 1.0 + (cores as f64 - 1.0) / 2.0;
    if cores < 2 || speedup >= half_the_ideal_gain {
        return String::new();
    }
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    format!(
        "\n       (below what {cores} idle cores give; load average {load} on {cores} cores \
         (this tour counts for up to {cores}): other programs may hold them, so try an idle machine)"
    )
}

fn row(what: &str, took: Duration, lesson: &str) {
    println!("{what:<52} {:>10.1} ms", took.as_secs_f64() * 1e3);
    println!("    -> {lesson}");
}

fn main() {
    // One runtime, all three: it builds the process pool first, while this
    // program is still single-threaded (so the zygote is forked directly and
    // can inherit no other thread's lock), then the thread pool; the event
    // loop runs on this thread inside `block_on`.
    let trace_file = trace_file();
    #[cfg(feature = "trace")]
    if trace_file.is_some() {
        triad::trace::start();
    }
    #[cfg(not(feature = "trace"))]
    if trace_file.is_some() {
        // Said before the tour runs, not after it.
        eprintln!("tour: --trace needs the trace feature: cargo run --release --features trace --example tour -- --trace FILE");
        std::process::exit(2);
    }
    let rt = Runtime::new().expect("runtime");
    let (pool, processes) = (rt.thread_pool(), rt.process_pool());
    let cores = pool.current_num_threads();
    let limit = 3_000_000;
    println!("triad tour: {cores} worker thread(s), one per core\n");

    // --- The event loop: concurrency on one thread. ---
    let wait = Duration::from_millis(20);
    let (_, concurrent_time) = time(|| {
        rt.block_on(async {
            let waits: Vec<_> = (0..1000).map(|_| spawn(sleep(wait))).collect();
            for w in waits {
                w.await.expect("a wait");
            }
        })
    });
    let (_, one_by_one) = time(|| {
        rt.block_on(async {
            for _ in 0..25 {
                sleep(wait).await;
            }
        })
    });
    row(
        "1. I/O-bound: 1,000 network-like waits of 20 ms, one loop",
        concurrent_time,
        &format!(
            "concurrency: one thread interleaves them all (one after another, 25 took {:.0} ms: \
             1,000 would take ~{:.0} s)",
            one_by_one.as_secs_f64() * 1e3,
            one_by_one.as_secs_f64() * 40.0
        ),
    );

    let small = 600_000;
    // The best of two runs, so that a cold first run does not flatter the split.
    let one_piece = (0..2)
        .map(|_| time(|| count_primes(0..small)).1)
        .min()
        .unwrap();
    let ((split_count, timer_late), split_time) = time(|| {
        rt.block_on(async {
            let due = Instant::now() + Duration::from_millis(5);
            let timer = spawn(async move {
                sleep(Duration::from_millis(5)).await;
                Instant::now().saturating_duration_since(due)
            });
            let pieces: Vec<_> = (0..8u64)
                .map(|i| {
                    spawn(async move {
                        let piece = count_primes(small * i / 8..small * (i + 1) / 8);
                        yield_now().await;
                        piece
                    })
                })
                .collect();
            let mut total = 0;
            for piece in pieces {
                total += piece.await.expect("a piece");
            }
            (total, timer.await.expect("the timer"))
        })
    });
    assert_eq!(split_count, count_primes(0..small));
    row(
        "2. The same CPU work split into 8 tasks on that loop",
        split_time,
        &format!(
            "concurrency is not parallelism: no faster than in one piece ({:.0} ms), and a 5 ms \
             timer fired {:.0} ms late: computing blocks the loop",
            one_piece.as_secs_f64() * 1e3,
            timer_late.as_secs_f64() * 1e3
        ),
    );

    // --- The thread pool: parallelism, shared memory. ---
    let (sequential, sequential_time) = time(|| count_primes(0..limit));
    row(
        "3. CPU-bound, one thread: primes below 3,000,000",
        sequential_time,
        "computing is CPU-bound: one core does all of it",
    );

    let (parallel, parallel_time) =
        time(|| pool.install(|| count_primes_parallel(0..limit)).unwrap());
    assert_eq!(parallel, sequential);
    let speedup = sequential_time.as_secs_f64() / parallel_time.as_secs_f64();
    row(
        &format!("4. The same on the thread pool, join ({cores} threads)"),
        parallel_time,
        &format!(
            "parallelism: {speedup:.2}x on {cores} core(s); Rust threads compute at the same \
             instant (no GIL, unlike Python threads){}",
            busy_cores_note(speedup, cores)
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
        "5. scope: 16 jobs update one 64 MB Vec in place",
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
        "6. The pool sits idle for 500 ms: CPU it burns",
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
        &format!("7. Primes again, in the process pool ({workers} workers)"),
        process_time,
        &format!(
            "processes compute in parallel too: {:.2}x; each has its own memory{}",
            sequential_time.as_secs_f64() / process_time.as_secs_f64(),
            busy_cores_note(
                sequential_time.as_secs_f64() / process_time.as_secs_f64(),
                workers as usize
            )
        ),
    );

    let items: Vec<u64> = (0..20_000).collect();
    let (doubled, crossing_time) = time(|| processes.map(double, items).expect("process map"));
    assert!(doubled.iter().enumerate().all(|(i, &x)| x == 2 * i as u64));
    row(
        "8. 20,000 tiny tasks (x -> 2x) through the process pool",
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
        "9. One task returns 32 MiB, written and read in place",
        bytes_time,
        &format!(
            "results come back through shared memory: {:.2} ms per MiB, no pipe; the worker writes it and the parent reads it {}",
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
        "10. A task aborts its worker process",
        crash_time,
        &format!(
            "isolation: the task gets an error ({}), the worker is replaced, this program lives on",
            outcome
                .err()
                .map_or_else(|| "no error?".to_owned(), |e| e.to_string())
        ),
    );
    // --- All three at once: a server on the loop, CPU work on the pool,
    // risky work in a process, and its clients in the same program. ---
    let requests = [
        "c 200000", "r     12", "c 400000", "r     13", "r      7", "c  50000",
    ];
    let (replies, server_time) = time(|| {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
            let addr = listener.local_addr().expect("address");
            let server = spawn(async move {
                let mut handlers = Vec::new();
                for _ in 0..requests.len() {
                    let (conn, _) = listener.accept().await.expect("accept");
                    handlers.push(spawn(handle(conn)));
                }
                for handler in handlers {
                    handler.await.expect("handler");
                }
            });
            let clients: Vec<_> = requests
                .iter()
                .map(|request| spawn(ask(addr, request)))
                .collect();
            let mut replies = Vec::new();
            for client in clients {
                replies.push(client.await.expect("client"));
            }
            server.await.expect("server");
            replies
        })
    });
    row(
        "11. All three: a server on the loop, CPU work on the pool, risky work in processes",
        server_time,
        "the loop only waits, the pool computes, a process takes the crash: 6 requests at once",
    );
    for reply in &replies {
        println!("       {reply}");
    }
    assert!(replies[3].contains("failed alone"), "{}", replies[3]);

    let stats = pool.stats();

    println!(
        "\nwork stealing at work: {} jobs run from queues, {} stolen, {} join halves published on demand",
        stats.iter().map(|s| s.jobs_executed).sum::<u64>(),
        stats.iter().map(|s| s.steals).sum::<u64>(),
        stats.iter().map(|s| s.promotions).sum::<u64>(),
    );
    if let Some(path) = trace_file {
        write_trace(rt, &path);
    }
}

/// The FILE of `--trace FILE`, if given.
fn trace_file() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--trace" {
            let Some(file) = args.next() else {
                eprintln!("tour: --trace needs a file name: -- --trace tour-trace.json");
                std::process::exit(2);
            };
            return Some(file);
        }
    }
    None
}

/// Stop recording (after the runtime is gone, so every worker's exit is on
/// the timeline) and write the trace.
#[cfg(feature = "trace")]
fn write_trace(rt: Runtime, path: &str) {
    drop(rt);
    let trace = triad::trace::stop();
    if let Err(e) = trace.save_chrome_json(path) {
        eprintln!("tour: cannot write the trace to {path}: {e}");
        std::process::exit(1);
    }
    println!(
        "\nwrote {path}: {} events ({} dropped); open it at https://ui.perfetto.dev",
        trace.len(),
        trace.dropped()
    );
}

/// Without the trace feature `main` has refused `--trace` before the tour.
#[cfg(not(feature = "trace"))]
fn write_trace(_rt: Runtime, _path: &str) {}
