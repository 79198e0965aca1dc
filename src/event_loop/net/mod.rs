//! Sockets on the event loop: TCP, UDP and Unix-domain, edge-triggered.
//!
//! Every socket is a mio socket registered with the loop that was running
//! when it was made (`registration.rs`), so sockets are `!Send`: they
//! belong to their loop's thread. Operations drain to `WouldBlock` before
//! they wait (reactor.rs rule 1), and each completed operation spends one
//! unit of the task's budget (budget.rs).
//!
//! Listeners back off under descriptor exhaustion: an `accept` that fails
//! with `EMFILE`/`ENFILE`/`ENOBUFS`/`ENOMEM` returns an
//! [`AcceptError`] that says so, and the listener's next
//! `accept` first waits a delay (1 ms, doubling to 1 s while the failures
//! last, reset by a success), so a retry loop neither spins nor starves the
//! loop's other tasks. Every task that shares the listener and waits out
//! the delay is woken at its end (each arms a timer of its own). The same
//! delays space the tries of a Unix-domain `connect` to a listener whose
//! backlog is full (Linux says `EAGAIN` and gives no readiness to wait
//! for): it waits for room, as a blocking connect would, and never
//! returns `WouldBlock`.
//!
//! With the `futures-io` feature, [`TcpStream`], [`UnixStream`] and the
//! owned halves of a TCP stream implement `futures_io::AsyncRead` and
//! `AsyncWrite`, so codecs and adapters written against those traits work
//! on them. Writes are not buffered: `poll_flush` is ready at once, and
//! `poll_close` shuts down the writing side (the peer reads end of stream).
//!
//! The awaitable operations (`read`, `write_all`, `accept`, `send_to`, ...)
//! are plain methods that return their poll function as a future
//! ([`poll_fn`]), not `async fn`s: an `async fn` around a poll function adds
//! a state machine of its own, with its "resumed after completion" panic,
//! to every caller (~180 bytes each in issue 4's echo server). They are as
//! lazy as an `async fn`: nothing happens until the future is polled.

pub mod tcp;
pub mod udp;
pub mod unix;

pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use mio::event::Source;

use super::borrow::LoopBorrow;
use super::error::AcceptError;
use super::reactor::Direction;
use super::registration::PollEvented;
use super::timer::sleep_until;

/// The accept back-off of a listener (see the module docs).
#[derive(Default)]
pub(crate) struct Backoff {
    delay: Duration,
    /// When the next `accept` may try again.
    until: Option<Instant>,
}

const BACKOFF_MIN: Duration = Duration::from_millis(1);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// `accept` on a listener with back-off: `accept` is the mio call, `wrap`
/// registers the new stream.
pub(crate) fn poll_accept<L: Source, S, A, T>(
    listener: &PollEvented<L>,
    backoff: &RefCell<Backoff>,
    cx: &mut Context<'_>,
    accept: impl FnMut(&L) -> io::Result<(S, A)>,
    wrap: impl FnOnce(S) -> io::Result<T>,
) -> Poll<Result<(T, A), AcceptError>> {
    {
        let mut backoff = backoff.loop_mut();
        if let Some(until) = backoff.until {
            // Every task waiting out the back-off arms a timer of its own:
            // one shared `Sleep` would wake only the last task to poll it.
            let mut nap = sleep_until(until);
            if Pin::new(&mut nap).poll(cx).is_pending() {
                // Not cancelled: it fires once into our waker, then frees
                // its slot (timer.rs rule 5).
                std::mem::forget(nap);
                return Poll::Pending;
            }
            backoff.until = None;
        }
    }
    match ready!(listener.poll_io(cx, Direction::Read, accept)) {
        Ok((stream, addr)) => {
            backoff.loop_mut().delay = Duration::ZERO;
            Poll::Ready(wrap(stream).map(|s| (s, addr)).map_err(AcceptError::new))
        }
        Err(e) => {
            let error = AcceptError::new(e);
            if error.is_resource_exhaustion() {
                let mut backoff = backoff.loop_mut();
                backoff.delay = (backoff.delay * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
                backoff.until = Some(Instant::now() + backoff.delay);
            }
            Poll::Ready(Err(error))
        }
    }
}

/// Wait until a non-blocking `connect` finished: writable, then no pending
/// error and a peer address.
pub(crate) async fn finish_connect<S: Source>(
    io: &PollEvented<S>,
    take_error: impl Fn(&S) -> io::Result<Option<io::Error>>,
    connected: impl Fn(&S) -> io::Result<()>,
) -> io::Result<()> {
    loop {
        let event = poll_fn(|cx| io.poll_ready(cx, Direction::Write)).await;
        if let Some(e) = take_error(io.get_ref())? {
            return Err(e);
        }
        match connected(io.get_ref()) {
            Ok(()) => return Ok(()),
            // Its loop gone, the error is the result (reactor.rs rule 6).
            Err(e)
                if e.kind() == io::ErrorKind::NotConnected
                    && io.clear_readiness(event, Direction::Write) => {}
            Err(e) => return Err(e),
        }
    }
}

/// A stream socket type, and whether a short read of it proves its
/// receive buffer empty (registration.rs).
pub(crate) trait Stream: Source {
    const SHORT_READ_DRAINS: bool;
}

impl Stream for mio::net::TcpStream {
    const SHORT_READ_DRAINS: bool = true;
}

/// A Unix stream read also stops after a message that carried descriptors
/// (`SCM_RIGHTS`, which any peer may send), with the peer's later bytes
/// buffered behind it and nothing for epoll to report: only `WouldBlock`
/// proves it drained.
impl Stream for mio::net::UnixStream {
    const SHORT_READ_DRAINS: bool = false;
}

pub(crate) fn poll_read<S: Stream>(
    io: &PollEvented<S>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a S: Read,
{
    let asked = buf.len();
    if asked == 0 {
        // Nothing to read into: `Ok(0)` at once, as `std::io::Read` does,
        // not once data arrives (it may never). No budget unit: no
        // resource was touched (budget.rs).
        return Poll::Ready(Ok(0));
    }
    // A short read of a TCP stream emptied its receive buffer: clear
    // readiness now instead of paying one more `recv` that would say
    // `WouldBlock` (registration.rs). Zero (end of file) never clears.
    io.poll_io_drained(
        cx,
        Direction::Read,
        |mut s| s.read(buf),
        |&n| S::SHORT_READ_DRAINS && n > 0 && n < asked,
    )
}

pub(crate) fn poll_write<S: Source>(
    io: &PollEvented<S>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a S: Write,
{
    if buf.is_empty() {
        // Nothing to write: `Ok(0)` at once, as for a read (`poll_read`),
        // not once the send buffer has room (it may never).
        return Poll::Ready(Ok(0));
    }
    io.poll_io(cx, Direction::Write, |mut s| s.write(buf))
}

pub(crate) fn read_exact<'a, S: Stream>(
    io: &'a PollEvented<S>,
    mut buf: &'a mut [u8],
) -> impl Future<Output = io::Result<()>> + 'a
where
    for<'b> &'b S: Read,
{
    poll_fn(move |cx| {
        while !buf.is_empty() {
            let n = ready!(poll_read(io, cx, buf))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            // Move the slice out to shorten it: `&mut buf[n..]` would
            // reborrow it only for this call of the closure.
            buf = &mut std::mem::take(&mut buf)[n..];
        }
        Poll::Ready(Ok(()))
    })
}

pub(crate) fn write_all<'a, S: Source>(
    io: &'a PollEvented<S>,
    mut buf: &'a [u8],
) -> impl Future<Output = io::Result<()>> + 'a
where
    for<'b> &'b S: Write,
{
    poll_fn(move |cx| {
        while !buf.is_empty() {
            let n = ready!(poll_write(io, cx, buf))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            buf = &buf[n..];
        }
        Poll::Ready(Ok(()))
    })
}

/// The stream methods every stream type and half shares, written once.
macro_rules! read_methods {
    // `$setup`: hidden doc-test lines that open `ev.block_on(async {` and
    // bind `reader` (of this type) and `writer` (its peer's writing end),
    // so each type's examples run on that type.
    ($setup:literal) => {
        /// Read into `buf`; `Ok(0)` at end of stream (the peer shut down
        /// its writing side), or at once if `buf` is empty (without waiting
        /// for data).
        ///
        /// ```
        #[doc = $setup]
        /// writer.write_all(b"hello").await?;
        /// drop(writer); // end of stream after "hello"
        /// let mut got = Vec::new();
        /// let mut buf = [0; 16];
        /// loop {
        ///     match reader.read(&mut buf).await? {
        ///         0 => break, // end of stream
        ///         n => got.extend_from_slice(&buf[..n]),
        ///     }
        /// }
        /// assert_eq!(got, b"hello");
        /// # Ok::<_, std::io::Error>(())
        /// # })?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        pub fn read<'a>(
            &'a mut self,
            buf: &'a mut [u8],
        ) -> impl std::future::Future<Output = std::io::Result<usize>> + 'a {
            std::future::poll_fn(|cx| $crate::event_loop::net::poll_read(self.evented(), cx, buf))
        }

        /// Read exactly `buf.len()` bytes; `UnexpectedEof` if the stream
        /// ends first (what was read is then in `buf`, unmarked).
        ///
        /// Not cancellation-safe: dropped before it completes (the loser
        /// of a `select`, a `timeout` that fired), it has taken from the
        /// stream what it put in `buf`, and nothing says how much.
        ///
        /// ```
        #[doc = $setup]
        /// writer.write_all(b"abc").await?;
        /// drop(writer);
        /// let mut buf = [0; 2];
        /// reader.read_exact(&mut buf).await?;
        /// assert_eq!(&buf, b"ab");
        /// let short = reader.read_exact(&mut buf).await.unwrap_err(); // only "c" left
        /// assert_eq!(short.kind(), std::io::ErrorKind::UnexpectedEof);
        /// # Ok::<_, std::io::Error>(())
        /// # })?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        pub fn read_exact<'a>(
            &'a mut self,
            buf: &'a mut [u8],
        ) -> impl std::future::Future<Output = std::io::Result<()>> + 'a {
            $crate::event_loop::net::read_exact(self.evented(), buf)
        }

        /// Poll for a read (for hand-written futures and adapters).
        ///
        /// ```
        #[doc = $setup]
        /// writer.write_all(b"hi").await?;
        /// let mut buf = [0; 8];
        /// let n = std::future::poll_fn(|cx| reader.poll_read(cx, &mut buf)).await?;
        /// assert!(n > 0 && b"hi".starts_with(&buf[..n]));
        /// # Ok::<_, std::io::Error>(())
        /// # })?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        pub fn poll_read(
            &mut self,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            $crate::event_loop::net::poll_read(self.evented(), cx, buf)
        }
    };
}

macro_rules! write_methods {
    // `$setup`: as for `read_methods!`, with `writer` of this type and
    // `reader` its peer's reading end.
    ($setup:literal) => {
        /// Write some of `buf`; how much was written (`Ok(0)` at once if
        /// `buf` is empty, without waiting for room).
        ///
        /// ```
        #[doc = $setup]
        /// let n = writer.write(b"hello").await?;
        /// assert!(n > 0 && n <= 5);
        /// let mut buf = vec![0; n];
        /// reader.read_exact(&mut buf).await?;
        /// assert_eq!(buf, &b"hello"[..n]);
        /// # Ok::<_, std::io::Error>(())
        /// # })?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        pub fn write<'a>(
            &'a mut self,
            buf: &'a [u8],
        ) -> impl std::future::Future<Output = std::io::Result<usize>> + 'a {
            std::future::poll_fn(|cx| $crate::event_loop::net::poll_write(self.evented(), cx, buf))
        }

        /// Write all of `buf`.
        ///
        /// Not cancellation-safe: dropped before it completes, it may have
        /// sent part of `buf`, and nothing says how much.
        ///
        /// ```
        #[doc = $setup]
        /// writer.write_all(b"hello, world").await?;
        /// let mut buf = [0; 12];
        /// reader.read_exact(&mut buf).await?;
        /// assert_eq!(&buf, b"hello, world");
        /// # Ok::<_, std::io::Error>(())
        /// # })?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        pub fn write_all<'a>(
            &'a mut self,
            buf: &'a [u8],
        ) -> impl std::future::Future<Output = std::io::Result<()>> + 'a {
            $crate::event_loop::net::write_all(self.evented(), buf)
        }

        /// Poll for a write (for hand-written futures and adapters).
        ///
        /// ```
        #[doc = $setup]
        /// let n = std::future::poll_fn(|cx| writer.poll_write(cx, b"x")).await?;
        /// assert_eq!(n, 1);
        /// let mut buf = [0; 1];
        /// reader.read_exact(&mut buf).await?;
        /// assert_eq!(&buf, b"x");
        /// # Ok::<_, std::io::Error>(())
        /// # })?;
        /// # Ok::<(), std::io::Error>(())
        /// ```
        pub fn poll_write(
            &mut self,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            $crate::event_loop::net::poll_write(self.evented(), cx, buf)
        }
    };
}

/// `futures_io::AsyncRead` for a type with `evented()` (see the module docs).
#[cfg(feature = "futures-io")]
macro_rules! impl_futures_read {
    ($ty:ty) => {
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::event_loop::net::poll_read(self.get_mut().evented(), cx, buf)
            }
        }
    };
}

/// `futures_io::AsyncWrite` for a type with `evented()`; `$close` shuts
/// down its writing side.
#[cfg(feature = "futures-io")]
macro_rules! impl_futures_write {
    ($ty:ty, $close:expr) => {
        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::event_loop::net::poll_write(self.get_mut().evented(), cx, buf)
            }

            /// Nothing is buffered: ready at once.
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            /// Shut down the writing side: the peer reads end of stream.
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let close: fn(&Self) -> std::io::Result<()> = $close;
                std::task::Poll::Ready(close(self.get_mut()))
            }
        }
    };
}

#[cfg(feature = "futures-io")]
pub(crate) use {impl_futures_read, impl_futures_write};
pub(crate) use {read_methods, write_methods};
