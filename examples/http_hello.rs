//! cargo run --release --example http_hello --no-default-features --features event-loop -- 127.0.0.1:8080
//!
//! Watch for: "listening on http://127.0.0.1:8080", then once a second a
//! line with the open connections and the requests served in that second.
//! Drive it with wrk from another terminal, e.g.
//! `wrk -t2 -c100 -d10s http://127.0.0.1:8080/` (keep-alive: each of the
//! 100 connections carries many requests), or look at one response with
//! `curl -v http://127.0.0.1:8080/`. One thread serves every connection;
//! wrk's "Non-2xx or 3xx responses" line must not appear for `/`, and Ctrl-C
//! stops the server cleanly ("interrupted: N requests served").
//!
//! The idea: a small HTTP/1.1 server with keep-alive on the single-threaded
//! event loop. One task per connection reads into a buffer, answers every
//! complete request in it (pipelined requests included) with one write, and
//! keeps the connection open unless the client asks to close it (or speaks
//! HTTP/1.0 without keep-alive). A signal listener turns Ctrl-C into a clean
//! exit.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use triad::event_loop::net::tcp::{TcpListener, TcpStream};
use triad::event_loop::signal::{signal, SignalKind};
use triad::event_loop::{interval, spawn, EventLoop};

const BODY: &[u8] = b"Hello, world!\n";
/// A request head longer than this is refused (431) and the connection closed.
const MAX_HEAD: usize = 16 * 1024;

#[derive(Default)]
struct Stats {
    open: Cell<u64>,
    requests: Cell<u64>,
    total: Cell<u64>,
}

/// One parsed request head: what the response needs to know.
struct Request {
    /// Bytes of head and body, to drop from the buffer.
    len: usize,
    hello: bool,
    keep_alive: bool,
}

/// Parse the request at the start of `buf`; `Ok(None)` if it is not all
/// there yet; `Err` with a status line if it cannot be served.
fn parse(buf: &[u8]) -> Result<Option<Request>, &'static str> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err("431 Request Header Fields Too Large")
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| "400 Bad Request")?;
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("400 Bad Request");
    };
    let mut keep_alive = version == "HTTP/1.1";
    let mut body = 0usize;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err("400 Bad Request");
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            body = value.parse().map_err(|_| "400 Bad Request")?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("501 Not Implemented"); // chunked bodies: not here
        }
    }
    let len = end + 4 + body;
    if buf.len() < len {
        return Ok(None); // the body is still coming
    }
    Ok(Some(Request {
        len,
        hello: (method == "GET" || method == "HEAD") && path == "/",
        keep_alive,
    }))
}

fn respond(out: &mut Vec<u8>, status: &str, body: &[u8], keep_alive: bool) {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
}

async fn serve(mut stream: TcpStream, stats: Rc<Stats>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(4096);
    let mut out = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(()); // the client closed the connection
        }
        buf.extend_from_slice(&chunk[..n]);
        // Answer every complete request in the buffer, then write once.
        let mut used = 0;
        let mut close = false;
        loop {
            match parse(&buf[used..]) {
                Ok(Some(request)) => {
                    used += request.len;
                    if request.hello {
                        respond(&mut out, "200 OK", BODY, request.keep_alive);
                    } else {
                        respond(
                            &mut out,
                            "404 Not Found",
                            b"not found\n",
                            request.keep_alive,
                        );
                    }
                    stats.requests.set(stats.requests.get() + 1);
                    if !request.keep_alive {
                        close = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(status) => {
                    respond(&mut out, status, b"", false);
                    close = true;
                    break;
                }
            }
        }
        buf.drain(..used);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        if close {
            return Ok(()); // dropping the stream closes it
        }
    }
}

/// A failed start (a bad address, a port in use) is one plain line on
/// stderr and exit status 1, not a panic or a `Debug` dump of the error.
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_hello: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<()> {
    let arg = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let addr: SocketAddr = arg.parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{arg:?} is not an address like 127.0.0.1:8080"),
        )
    })?;
    let ev = EventLoop::new()?;
    ev.block_on(async move {
        let listener = TcpListener::bind(addr)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        println!("listening on http://{}", listener.local_addr()?);
        let stats = Rc::new(Stats::default());

        let report = stats.clone();
        let _reporter = spawn(async move {
            let mut ticks = interval(Duration::from_secs(1));
            ticks.tick().await; // the first tick is immediate
            loop {
                ticks.tick().await;
                let served = report.requests.replace(0);
                report.total.set(report.total.get() + served);
                if served > 0 || report.open.get() > 0 {
                    println!("open {:>5}  requests/s {:>8}", report.open.get(), served);
                }
            }
        });

        let accepting = {
            let stats = stats.clone();
            spawn(async move {
                loop {
                    let (stream, _peer) = match listener.accept().await {
                        Ok(accepted) => accepted,
                        // Out of descriptors: the listener backs off by
                        // itself; keep serving the connections we have.
                        Err(e) if e.is_resource_exhaustion() => continue,
                        Err(e) => return Err::<(), io::Error>(e.into()),
                    };
                    stats.open.set(stats.open.get() + 1);
                    let stats = stats.clone();
                    // Detached: the task ends with its connection.
                    drop(spawn(async move {
                        // Resets and broken pipes are the client's business.
                        let _ = serve(stream, stats.clone()).await;
                        stats.open.set(stats.open.get() - 1);
                    }));
                }
            })
        };

        signal(SignalKind::Interrupt)?.recv().await?;
        accepting.abort();
        let total = stats.total.get() + stats.requests.get();
        println!("interrupted: {total} requests served");
        Ok(())
    })
}
