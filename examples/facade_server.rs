//! cargo run --release --example facade_server [-- 127.0.0.1:7879]
//!
//! One idea: one program, three kinds of work, each where it belongs. A
//! line-based TCP server runs on the `Runtime`'s event loop; every request
//! is one line, and the loop only *waits*:
//!
//! - `primes N`: CPU-bound, so `spawn_cpu` counts on the work-stealing pool;
//! - `risky N`: may crash (it aborts on 13), so `spawn_process` runs it in a
//!   worker process; a crash fails that request alone;
//! - `sleep MS`: I/O-like waiting, done on the loop itself, costs nothing;
//! - `file PATH`: a blocking call (reading a file), so `spawn_blocking`
//!   (not the loop, which would stall, nor the pool, whose workers compute).
//!
//! With no argument it starts its own clients in the same program, sends a
//! mix of requests at once, prints every reply, and exits. With an address
//! it serves until killed: try `printf 'primes 1000000\nrisky 13\n' | nc
//! 127.0.0.1 7879`. Watch for: the replies to slow requests arriving after
//! fast ones sent later (nothing blocks the loop), and `risky 13` failing
//! while every other request succeeds.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use triad::event_loop::net::tcp::{TcpListener, TcpStream};
use triad::event_loop::{sleep, spawn};
use triad::runtime::{spawn_blocking, spawn_cpu, spawn_process};
use triad::Runtime;

/// Count the primes below `n` (CPU-bound work for the pool).
fn count_primes(n: u64) -> u64 {
    (2..n)
        .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count() as u64
}

/// Risky work for a worker process: crashes it on unlucky input.
fn risky(n: u64) -> u64 {
    if n == 13 {
        std::process::abort();
    }
    n * n
}

/// Answer one request line.
async fn answer(line: &str) -> String {
    let mut words = line.split_whitespace();
    let (verb, arg) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let number = || {
        arg.parse::<u64>()
            .map_err(|_| format!("{verb}: {arg:?} is not a number"))
    };
    let reply = match verb {
        "primes" => match number() {
            Ok(n) => match spawn_cpu(move || count_primes(n)).await {
                Ok(count) => Ok(format!("{count} primes below {n} (thread pool)")),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e),
        },
        "risky" => match number() {
            Ok(n) => match spawn_process(risky, n).await {
                Ok(v) => Ok(format!("risky({n}) = {v} (worker process)")),
                Err(e) => Err(format!("risky({n}) failed alone: {e}")),
            },
            Err(e) => Err(e),
        },
        "sleep" => match number() {
            Ok(ms) => {
                sleep(Duration::from_millis(ms)).await;
                Ok(format!("slept {ms} ms (on the loop)"))
            }
            Err(e) => Err(e),
        },
        "file" => {
            let path = arg.to_owned();
            match spawn_blocking(move || std::fs::read(&path).map(|bytes| bytes.len())).await {
                Ok(Ok(len)) => Ok(format!("{arg}: {len} bytes (blocking thread)")),
                Ok(Err(e)) => Err(format!("{arg}: {e}")),
                Err(e) => Err(e.to_string()),
            }
        }
        _ => Err(format!(
            "unknown request {line:?}: primes N, risky N, sleep MS, file PATH"
        )),
    };
    match reply {
        Ok(text) => format!("ok {text}\n"),
        Err(text) => format!("error {text}\n"),
    }
}

/// Serve one connection: each line gets its own task, so a slow request
/// does not hold up the ones after it; replies go back as they finish.
async fn serve(conn: TcpStream) {
    let (mut reader, writer) = conn.into_split();
    let writer = std::rc::Rc::new(triad::event_loop::sync::Mutex::new(writer));
    let mut pending = Vec::new();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line).trim().to_owned();
            let writer = writer.clone();
            pending.push(spawn(async move {
                let reply = answer(&line).await;
                let mut writer = writer.lock().await;
                let _ = writer.write_all(reply.as_bytes()).await;
            }));
        }
    }
    for task in pending {
        let _ = task.await;
    }
}

/// A client: send `lines` at once, read replies until the server closes.
async fn client(addr: SocketAddr, lines: &[&str]) -> Vec<(Duration, String)> {
    let start = Instant::now();
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    let request: String = lines.iter().map(|l| format!("{l}\n")).collect();
    conn.write_all(request.as_bytes()).await.expect("send");
    conn.shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    let mut replies = Vec::new();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match conn.read(&mut chunk).await.expect("read") {
            0 => break,
            n => buf.extend_from_slice(&chunk[..n]),
        }
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            replies.push((
                start.elapsed(),
                String::from_utf8_lossy(&line).trim().to_owned(),
            ));
        }
    }
    replies
}

/// A failed start (a bad address, a port in use) is one plain line on
/// stderr and exit status 1, not a `Debug` dump of the error.
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("facade_server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let fixed: Option<SocketAddr> = match std::env::args().nth(1) {
        None => None,
        Some(arg) => Some(
            arg.parse()
                .map_err(|_| format!("{arg:?} is not an address like 127.0.0.1:7879"))?,
        ),
    };
    // Built first, while this program has one thread: the process pool's
    // zygote is forked directly, then the pool's threads start.
    let rt = Runtime::builder().build()?;
    rt.block_on(async move {
        let addr = fixed.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener =
            TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = listener.local_addr()?;
        println!("serving on {addr}");
        if fixed.is_some() {
            loop {
                let (conn, _) = listener.accept().await?;
                drop(spawn(serve(conn))); // detached: ends with its connection
            }
        }
        let server = spawn(async move {
            let (conn, _) = listener.accept().await.expect("accept");
            serve(conn).await;
        });
        let lines = [
            "primes 2000000",
            "risky 12",
            "sleep 50",
            "risky 13",
            "file /proc/self/status",
            "primes 20000",
            "bogus",
        ];
        for (at, reply) in client(addr, &lines).await {
            println!("{:>8.1} ms  {reply}", at.as_secs_f64() * 1e3);
        }
        server.await.expect("server");
        Ok(())
    })
}
