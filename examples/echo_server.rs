//! cargo run --release --example echo_server --no-default-features --features event-loop -- 127.0.0.1:7878
//!
//! Watch for: "listening on 127.0.0.1:7878", then once a second a line with
//! the open connections and the bytes echoed so far. In another terminal,
//! `nc 127.0.0.1 7878` (type lines, they come back) or many at once:
//! `for i in $(seq 200); do (echo hello $i | nc -q1 127.0.0.1 7878 &); done`.
//! One thread serves them all; `top -H` shows it idle between bursts (the
//! loop sleeps in epoll; the only timer is the 1 s report).
//!
//! The idea: one task per connection on a single-threaded event loop, plus
//! a timer task, sharing plain `Rc<Cell<_>>` counters (no locks: the tasks
//! are `!Send` and never run at the same time).

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use triad::event_loop::net::tcp::{TcpListener, TcpStream};
use triad::event_loop::{interval, spawn, EventLoop};

#[derive(Default)]
struct Stats {
    open: Cell<u64>,
    total: Cell<u64>,
    bytes: Cell<u64>,
}

async fn echo(mut stream: TcpStream, stats: Rc<Stats>) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(()); // the client closed its side
        }
        stream.write_all(&buf[..n]).await?;
        stats.bytes.set(stats.bytes.get() + n as u64);
    }
}

/// The address to listen on: the first argument, by default 127.0.0.1:7878.
/// A bad one is an error from `main`, as a failed `bind` is.
fn listen_addr() -> io::Result<SocketAddr> {
    let Some(arg) = std::env::args_os().nth(1) else {
        return Ok(SocketAddr::from(([127, 0, 0, 1], 7878)));
    };
    arg.to_str()
        .and_then(|arg| arg.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "expected an address like 127.0.0.1:7878",
            )
        })
}

/// A failed start (a bad address, a port in use) is one plain line on
/// stderr and exit status 1, not a `Debug` dump of the error. (The
/// address is not in the `bind` error's line: formatting it in costs this
/// example ~3 KB, and its size is issue 4's footprint measure.)
fn main() -> ExitCode {
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> io::Result<()> {
    let addr = listen_addr()?;
    let ev = EventLoop::new()?;
    ev.block_on(async move {
        let listener = TcpListener::bind(addr)?;
        println!("listening on {}", listener.local_addr()?);
        let stats = Rc::new(Stats::default());

        let report = stats.clone();
        let _reporter = spawn(async move {
            let mut ticks = interval(Duration::from_secs(1));
            loop {
                ticks.tick().await;
                println!(
                    "open {:>5}  accepted {:>7}  echoed {:>12} bytes",
                    report.open.get(),
                    report.total.get(),
                    report.bytes.get()
                );
            }
        });

        loop {
            let (stream, _peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                // Out of descriptors: the listener backs off by itself;
                // keep serving the connections we have.
                Err(e) if e.is_resource_exhaustion() => continue,
                Err(e) => return Err(e.into()),
            };
            stats.open.set(stats.open.get() + 1);
            stats.total.set(stats.total.get() + 1);
            let stats = stats.clone();
            // Detached: the task ends with its connection.
            drop(spawn(async move {
                if let Err(e) = echo(stream, stats.clone()).await {
                    eprintln!("connection error: {e}");
                }
                stats.open.set(stats.open.get() - 1);
            }));
        }
    })
}
