//! cargo run --release --example trace_tour --features trace [-- tour-trace.json]
//!
//! A short tour of the three runtimes, recorded as a timeline: open the file
//! it writes at https://ui.perfetto.dev (or chrome://tracing).
//!
//! What to watch for:
//! - `threads worker N` tracks: `job` spans where the prime count splits
//!   with `join` (thieves' `steal` marks, then `sleep` when work runs out).
//! - The `event loop` track: short `poll` spans of 200 tasks, `timer fire`
//!   marks as their sleeps end, `park` where the loop waits in epoll, `io
//!   ready` marks while the little server answers its clients.
//! - `process worker pid N` tracks: the `task` each worker process ran; one
//!   `crash` (SIGABRT) with its `task lost`, and a `replacement forked` on a
//!   new track.

use std::time::Duration;

use triad::event_loop::net::{TcpListener, TcpStream};
use triad::event_loop::{sleep, spawn};
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

/// One process-pool task: a whole range.
fn count_primes_task(range: (u64, u64)) -> u64 {
    count_primes(range.0..range.1)
}

/// A task that kills its own worker process.
fn crash(_: u64) -> u64 {
    std::process::abort()
}

/// The server's side of one request: `c N` counts primes below N on the
/// thread pool, `p N` in a worker process.
async fn handle(mut conn: TcpStream) {
    let mut request = [0u8; 8];
    conn.read_exact(&mut request).await.expect("request");
    let text = std::str::from_utf8(&request).expect("ascii");
    let n: u64 = text[1..].trim().parse().expect("a number");
    let count = if text.starts_with('c') {
        spawn_cpu(move || count_primes(0..n))
            .await
            .expect("pool job")
    } else {
        spawn_process(count_primes_task, (0, n))
            .await
            .expect("process task")
    };
    let reply = format!("primes below {n}: {count}");
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

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tour-trace.json".to_owned());
    // The process pool is built first, while the program is single-threaded.
    let rt = Runtime::new().expect("runtime");
    triad::trace::start();

    // The thread pool: one count split with `join` over every worker.
    let primes = rt
        .thread_pool()
        .install(|| count_primes_parallel(0..1_000_000))
        .expect("pool");
    println!("thread pool: {primes} primes below 1,000,000");

    // The event loop: 200 tasks waiting on timers at once.
    rt.block_on(async {
        let waits: Vec<_> = (0..200u64)
            .map(|i| spawn(sleep(Duration::from_millis(1 + i % 20))))
            .collect();
        for wait in waits {
            wait.await.expect("a wait");
        }
    });
    println!("event loop: 200 timers fired");

    // The process pool: a map, a task that crashes its worker, a map again.
    let processes = rt.process_pool();
    let ranges: Vec<(u64, u64)> = (0..8).map(|i| (i * 50_000, (i + 1) * 50_000)).collect();
    let counts = processes.map(count_primes_task, ranges).expect("map");
    println!(
        "process pool: {} primes in 8 tasks",
        counts.iter().sum::<u64>()
    );
    let error = processes.submit(crash, 0).wait().unwrap_err();
    println!("process pool: the crashing task failed alone: {error}");
    let counts = processes
        .map(count_primes_task, vec![(0, 100_000), (100_000, 200_000)])
        .expect("map after the crash");
    println!(
        "process pool: {} primes after the crash",
        counts.iter().sum::<u64>()
    );

    // All three at once: a server on the loop hands CPU work to the pool
    // and to worker processes, for clients on the same loop.
    let requests = ["c 200000", "p 200000", "c  50000", "p  50000"];
    let replies = rt.block_on(async {
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
        let clients: Vec<_> = requests.iter().map(|r| spawn(ask(addr, r))).collect();
        let mut replies = Vec::new();
        for client in clients {
            replies.push(client.await.expect("client"));
        }
        server.await.expect("server");
        replies
    });
    println!("server: {replies:?}");

    // Dropping the runtime joins its threads, so their last spans are in.
    drop(rt);
    let trace = triad::trace::stop();
    if let Err(e) = trace.save_chrome_json(&path) {
        eprintln!("trace_tour: cannot write the trace to {path}: {e}");
        std::process::exit(1);
    }
    println!(
        "\nwrote {path}: {} events ({} dropped). Open it at https://ui.perfetto.dev \
         (Open trace file) or in chrome://tracing (Load).",
        trace.len(),
        trace.dropped()
    );
}
