//! [`AsyncFd`]: readiness for any file descriptor (an eventfd, a timerfd,
//! a pipe, a serial port), so users can register their own.
//!
//! The wrapper only reports readiness; the user makes the syscalls. The
//! contract is the reactor's (reactor.rs rules 1, 2): after readiness, do
//! the operation until it returns `WouldBlock`, and only then clear the
//! readiness, through the guard, which carries the tick it was observed at
//! so that a clear never erases an event that arrived since.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::task::{ready, Context, Poll};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::budget;
use super::error::{AsyncFdError, TryIoError};
use super::reactor::{
    Direction, ReadyEvent, ERROR, GONE, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED,
};
use super::registration::PollEvented;

/// A raw fd as a mio source (the fd is owned by the `AsyncFd`'s `T`).
struct RawFdSource(RawFd);

impl Source for RawFdSource {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0).register(registry, token, interests)
    }
    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0).reregister(registry, token, interests)
    }
    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.0).deregister(registry)
    }
}

/// An fd-owning `T` registered with the event loop for readiness.
///
/// The fd must be non-blocking. Dropping the `AsyncFd` deregisters the fd,
/// then drops `T` (which closes it).
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use triad::event_loop::{AsyncFd, EventLoop};
///
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let (mut a, b) = UnixStream::pair()?;
///     b.set_nonblocking(true)?;
///     let b = AsyncFd::new(b)?;
///     a.write_all(b"x")?;
///     let mut buf = [0; 1];
///     let n = b.read_with(|mut s| s.read(&mut buf)).await?;
///     assert_eq!(&buf[..n], b"x");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct AsyncFd<T: AsRawFd> {
    // Declared first: dropped (deregistered) before `inner` closes the fd.
    io: PollEvented<RawFdSource>,
    inner: Option<T>,
}

impl<T: AsRawFd> AsyncFd<T> {
    /// Register `inner`'s fd with the event loop running on this thread,
    /// for reading and writing, edge-triggered.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use triad::event_loop::{AsyncFd, EventLoop};
    ///
    /// let (a, _b) = UnixStream::pair()?;
    /// a.set_nonblocking(true)?;
    /// assert!(AsyncFd::new(a.try_clone()?).is_err()); // no loop on this thread
    /// let ev = EventLoop::new()?;
    /// let fd = ev.block_on(async { AsyncFd::new(a) })?;
    /// # drop(fd);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// On failure `inner` is dropped (its fd closed); [`try_new`](Self::try_new)
    /// hands it back instead.
    pub fn new(inner: T) -> io::Result<AsyncFd<T>> {
        Self::try_new(inner).map_err(io::Error::from)
    }

    /// As [`new`](Self::new), but on failure `inner` comes back in the
    /// error ([`AsyncFdError::into_parts`]), its fd still open.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use triad::event_loop::{AsyncFd, EventLoop};
    ///
    /// let (a, _b) = UnixStream::pair()?;
    /// a.set_nonblocking(true)?;
    /// let (_, a) = AsyncFd::try_new(a).unwrap_err().into_parts(); // no loop here
    /// let ev = EventLoop::new()?;
    /// let fd = ev.block_on(async { AsyncFd::try_new(a) })?; // the same stream
    /// # drop(fd);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_new(inner: T) -> Result<AsyncFd<T>, AsyncFdError<T>> {
        match PollEvented::new(RawFdSource(inner.as_raw_fd())) {
            Ok(io) => Ok(AsyncFd {
                io,
                inner: Some(inner),
            }),
            Err(error) => Err(AsyncFdError::new(error, inner)),
        }
    }

    /// The wrapped value.
    ///
    /// ```
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let fd = AsyncFd::new(a).unwrap();
    /// assert!(fd.get_ref().peer_addr().is_ok());
    /// # });
    /// ```
    pub fn get_ref(&self) -> &T {
        self.inner.as_ref().expect("present until drop")
    }

    /// The wrapped value, mutably.
    ///
    /// ```
    /// # use std::io::Write;
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let mut fd = AsyncFd::new(a).unwrap();
    /// assert_eq!(fd.get_mut().write(b"ping").unwrap(), 4);
    /// # });
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.as_mut().expect("present until drop")
    }

    /// Deregister and give back the value.
    ///
    /// ```
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let fd = AsyncFd::new(a).unwrap();
    /// let a: UnixStream = fd.into_inner(); // deregistered, still open
    /// a.set_nonblocking(false).unwrap();
    /// # });
    /// ```
    pub fn into_inner(mut self) -> T {
        let inner = self.inner.take().expect("present until drop");
        drop(self); // deregisters
        inner
    }

    fn poll_ready(&self, cx: &mut Context<'_>, direction: Direction) -> Poll<ReadyGuard<'_, T>> {
        ready!(budget::poll_proceed(cx));
        let event = ready!(self.io.poll_ready(cx, direction));
        budget::consume();
        Poll::Ready(ReadyGuard {
            fd: self,
            event,
            direction,
        })
    }

    /// Wait until the fd is readable (or closed for reading, or in error).
    ///
    /// ```
    /// # use std::io::{Read, Write};
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (mut a, b) = UnixStream::pair().unwrap();
    /// b.set_nonblocking(true).unwrap();
    /// let b = AsyncFd::new(b).unwrap();
    /// a.write_all(b"hi").unwrap();
    /// let mut guard = b.readable().await;
    /// assert!(guard.is_readable());
    /// let mut buf = [0; 8];
    /// let n = guard.try_io(|mut s| s.read(&mut buf)).unwrap().unwrap();
    /// assert_eq!(&buf[..n], b"hi");
    /// # });
    /// ```
    pub fn readable(&self) -> impl Future<Output = ReadyGuard<'_, T>> + '_ {
        poll_fn(|cx| self.poll_ready(cx, Direction::Read))
    }

    /// Wait until the fd is writable (or closed for writing, or in error).
    ///
    /// ```
    /// # use std::io::Write;
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let a = AsyncFd::new(a).unwrap();
    /// let mut guard = a.writable().await;
    /// assert!(guard.is_writable());
    /// let n = guard.try_io(|mut s| s.write(b"hello")).unwrap().unwrap();
    /// assert_eq!(n, 5);
    /// # });
    /// ```
    pub fn writable(&self) -> impl Future<Output = ReadyGuard<'_, T>> + '_ {
        poll_fn(|cx| self.poll_ready(cx, Direction::Write))
    }

    /// Poll for read readiness.
    ///
    /// ```
    /// # use std::io::Write;
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// use std::future::poll_fn;
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (mut a, b) = UnixStream::pair().unwrap();
    /// b.set_nonblocking(true).unwrap();
    /// let b = &AsyncFd::new(b).unwrap();
    /// a.write_all(b"x").unwrap();
    /// let readable = poll_fn(move |cx| b.poll_read_ready(cx).map(|guard| guard.is_readable())).await;
    /// assert!(readable);
    /// # });
    /// ```
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<ReadyGuard<'_, T>> {
        self.poll_ready(cx, Direction::Read)
    }

    /// Poll for write readiness.
    ///
    /// ```
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// use std::future::poll_fn;
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let a = &AsyncFd::new(a).unwrap();
    /// let writable = poll_fn(move |cx| a.poll_write_ready(cx).map(|guard| guard.is_writable())).await;
    /// assert!(writable);
    /// # });
    /// ```
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<ReadyGuard<'_, T>> {
        self.poll_ready(cx, Direction::Write)
    }

    /// Run the read operation `op` until it does not return `WouldBlock`,
    /// waiting for readiness in between.
    ///
    /// ```
    /// # use std::io::{Read, Write};
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (a, b) = UnixStream::pair().unwrap();
    /// b.set_nonblocking(true).unwrap();
    /// let b = AsyncFd::new(b).unwrap();
    /// let writer = std::thread::spawn(move || (&a).write_all(b"late"));
    /// let mut buf = [0; 8];
    /// let n = b.read_with(|mut s| s.read(&mut buf)).await.unwrap(); // waits for the data
    /// assert!(n > 0 && b"late".starts_with(&buf[..n]));
    /// # writer.join().unwrap().unwrap();
    /// # });
    /// ```
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        loop {
            let mut guard = self.readable().await;
            if let Ok(result) = guard.try_io(&mut op) {
                return result;
            }
        }
    }

    /// Run the write operation `op` until it does not return `WouldBlock`,
    /// waiting for readiness in between.
    ///
    /// ```
    /// # use std::io::{Read, Write};
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (a, mut b) = UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let a = AsyncFd::new(a).unwrap();
    /// let n = a.write_with(|mut s| s.write(b"hello")).await.unwrap();
    /// assert_eq!(n, 5);
    /// let mut buf = [0; 5];
    /// b.read_exact(&mut buf).unwrap();
    /// assert_eq!(&buf, b"hello");
    /// # });
    /// ```
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        loop {
            let mut guard = self.writable().await;
            if let Ok(result) = guard.try_io(&mut op) {
                return result;
            }
        }
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AsyncFd").field(&self.inner).finish()
    }
}

/// Readiness observed on an [`AsyncFd`], with the tick it was observed at.
///
/// Dropping the guard keeps the readiness (the next wait returns at once);
/// [`clear_ready`](Self::clear_ready) clears it, unless an event arrived
/// since the guard was made.
///
/// ```
/// use std::io::{self, Read, Write};
/// use std::os::unix::net::UnixStream;
/// use triad::event_loop::{AsyncFd, EventLoop};
///
/// let ev = EventLoop::new().unwrap();
/// ev.block_on(async {
///     let (mut a, b) = UnixStream::pair().unwrap();
///     b.set_nonblocking(true).unwrap();
///     let b = AsyncFd::new(b).unwrap();
///     a.write_all(b"abc").unwrap();
///     let mut got = Vec::new();
///     let mut guard = b.readable().await;
///     // Drain to WouldBlock, then clear the readiness.
///     let mut buf = [0; 2];
///     loop {
///         match guard.get_ref().read(&mut buf) {
///             Ok(n) => got.extend_from_slice(&buf[..n]),
///             Err(e) if e.kind() == io::ErrorKind::WouldBlock => break guard.clear_ready(),
///             Err(e) => panic!("{e}"),
///         }
///     }
///     assert_eq!(got, b"abc");
/// });
/// ```
#[must_use = "clear the readiness after WouldBlock, or use try_io"]
pub struct ReadyGuard<'a, T: AsRawFd> {
    fd: &'a AsyncFd<T>,
    event: ReadyEvent,
    direction: Direction,
}

impl<T: AsRawFd> ReadyGuard<'_, T> {
    /// The operation returned `WouldBlock`: clear the readiness, unless a
    /// newer event arrived since this guard was made (then it stays, and
    /// the next wait returns at once). Once the fd's loop is dropped there
    /// is nothing to clear: every wait returns at once, with
    /// [`is_error`](Self::is_error) set, and the `WouldBlock` is final.
    ///
    /// ```
    /// # use std::io::{self, Read, Write};
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (mut a, b) = UnixStream::pair().unwrap();
    /// b.set_nonblocking(true).unwrap();
    /// let b = AsyncFd::new(b).unwrap();
    /// a.write_all(b"x").unwrap();
    /// let mut guard = b.readable().await;
    /// let mut buf = [0; 8];
    /// assert_eq!(guard.get_ref().read(&mut buf).unwrap(), 1);
    /// let e = guard.get_ref().read(&mut buf).unwrap_err();
    /// assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    /// guard.clear_ready(); // the next `readable()` waits for new data
    /// # });
    /// ```
    pub fn clear_ready(&mut self) {
        self.fd.io.clear_readiness(self.event, self.direction);
    }

    /// Run `op`; on `WouldBlock` clear the readiness and return
    /// `Err(TryIoError)`, else the result.
    ///
    /// ```
    /// # use std::io::{Read, Write};
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (mut a, b) = UnixStream::pair().unwrap();
    /// b.set_nonblocking(true).unwrap();
    /// let b = AsyncFd::new(b).unwrap();
    /// a.write_all(b"x").unwrap();
    /// let mut buf = [0; 8];
    /// let n = loop {
    ///     let mut guard = b.readable().await;
    ///     match guard.try_io(|mut s| s.read(&mut buf)) {
    ///         Ok(result) => break result.unwrap(),
    ///         Err(_would_block) => continue, // readiness cleared: wait again
    ///     }
    /// };
    /// assert_eq!(n, 1);
    /// # });
    /// ```
    pub fn try_io<R>(
        &mut self,
        op: impl FnOnce(&T) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        match op(self.fd.get_ref()) {
            // Its loop gone, `WouldBlock` is the result (reactor.rs rule 6).
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    && self.fd.io.clear_readiness(self.event, self.direction) =>
            {
                Err(TryIoError::new())
            }
            result => Ok(result),
        }
    }

    /// The wrapped value.
    ///
    /// ```
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let a = AsyncFd::new(a).unwrap();
    /// let guard = a.writable().await;
    /// assert!(guard.get_ref().peer_addr().is_ok());
    /// # });
    /// ```
    pub fn get_ref(&self) -> &T {
        self.fd.get_ref()
    }

    /// Readable when observed.
    ///
    /// ```
    /// # use std::io::Write;
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (mut a, b) = UnixStream::pair().unwrap();
    /// b.set_nonblocking(true).unwrap();
    /// let b = AsyncFd::new(b).unwrap();
    /// a.write_all(b"x").unwrap();
    /// assert!(b.readable().await.is_readable());
    /// # });
    /// ```
    pub fn is_readable(&self) -> bool {
        self.event.ready & READABLE != 0
    }

    /// Writable when observed.
    ///
    /// ```
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let a = AsyncFd::new(a).unwrap();
    /// assert!(a.writable().await.is_writable());
    /// # });
    /// ```
    pub fn is_writable(&self) -> bool {
        self.event.ready & WRITABLE != 0
    }

    /// The peer closed its writing side (or the fd hung up).
    ///
    /// ```
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (a, b) = UnixStream::pair().unwrap();
    /// b.set_nonblocking(true).unwrap();
    /// let b = AsyncFd::new(b).unwrap();
    /// a.shutdown(std::net::Shutdown::Write).unwrap();
    /// let guard = b.readable().await;
    /// assert!(guard.is_read_closed()); // a read would return 0 (end of stream)
    /// # });
    /// ```
    pub fn is_read_closed(&self) -> bool {
        self.event.ready & READ_CLOSED != 0
    }

    /// The fd can no longer be written.
    ///
    /// ```
    /// # use std::os::unix::net::UnixStream;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// let (a, b) = UnixStream::pair().unwrap();
    /// b.set_nonblocking(true).unwrap();
    /// let b = AsyncFd::new(b).unwrap();
    /// drop(a); // the peer is gone: writing to `b` would fail (EPIPE)
    /// let guard = b.writable().await;
    /// assert!(guard.is_write_closed());
    /// # });
    /// ```
    pub fn is_write_closed(&self) -> bool {
        self.event.ready & WRITE_CLOSED != 0
    }

    /// An error is pending on the fd, or the loop that registered it was
    /// dropped. An error keeps the fd ready for both directions until an
    /// operation's `WouldBlock` shows it taken (reactor rule 4): an error
    /// that passes, such as a UDP socket's "port unreachable", leaves the
    /// fd waiting again. A dropped loop makes it ready for good, and
    /// [`try_io`](Self::try_io) then returns the operation's `WouldBlock`
    /// as its result instead of `Err(TryIoError)` (reactor rule 6).
    ///
    /// ```
    /// # use std::net::UdpSocket;
    /// # use triad::event_loop::{AsyncFd, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// // A datagram to a closed port comes back as an ICMP error on the socket.
    /// let closed_port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.connect(closed_port).unwrap();
    /// socket.set_nonblocking(true).unwrap();
    /// let socket = AsyncFd::new(socket).unwrap();
    /// socket.get_ref().send(b"anyone?").unwrap();
    /// let guard = socket.readable().await;
    /// assert!(guard.is_error());
    /// # });
    /// ```
    pub fn is_error(&self) -> bool {
        self.event.ready & (ERROR | GONE) != 0
    }
}

impl<T: AsRawFd> fmt::Debug for ReadyGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadyGuard")
            .field("direction", &self.direction)
            .field("event", &self.event)
            .finish()
    }
}
