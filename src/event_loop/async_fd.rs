//! [`AsyncFd`]: readiness for any file descriptor (an eventfd, a timerfd,
//! a pipe, a serial port), so users can register their own.
//!
//! The wrapper only reports readiness; the user makes the syscalls. The
//! contract is the reactor's (reactor.rs rules 1, 2): after readiness, do
//! the operation until it returns `WouldBlock`, and only then clear the
//! readiness, through the guard, which carries the tick it was observed at
//! so that a clear never erases an event that arrived since.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::task::{ready, Context, Poll};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::budget;
use super::error::TryIoError;
use super::reactor::{Direction, ReadyEvent, ERROR, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
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
    pub fn new(inner: T) -> io::Result<AsyncFd<T>> {
        let io = PollEvented::new(RawFdSource(inner.as_raw_fd()))?;
        Ok(AsyncFd {
            io,
            inner: Some(inner),
        })
    }

    /// The wrapped value.
    pub fn get_ref(&self) -> &T {
        self.inner.as_ref().expect("present until drop")
    }

    /// The wrapped value, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.as_mut().expect("present until drop")
    }

    /// Deregister and give back the value.
    pub fn into_inner(mut self) -> T {
        let inner = self.inner.take().expect("present until drop");
        drop(self); // deregisters
        inner
    }

    async fn ready(&self, direction: Direction) -> ReadyGuard<'_, T> {
        poll_fn(|cx| self.poll_ready(cx, direction)).await
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
    pub async fn readable(&self) -> ReadyGuard<'_, T> {
        self.ready(Direction::Read).await
    }

    /// Wait until the fd is writable (or closed for writing, or in error).
    pub async fn writable(&self) -> ReadyGuard<'_, T> {
        self.ready(Direction::Write).await
    }

    /// Poll for read readiness.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<ReadyGuard<'_, T>> {
        self.poll_ready(cx, Direction::Read)
    }

    /// Poll for write readiness.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<ReadyGuard<'_, T>> {
        self.poll_ready(cx, Direction::Write)
    }

    /// Run the read operation `op` until it does not return `WouldBlock`,
    /// waiting for readiness in between.
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
#[must_use = "clear the readiness after WouldBlock, or use try_io"]
pub struct ReadyGuard<'a, T: AsRawFd> {
    fd: &'a AsyncFd<T>,
    event: ReadyEvent,
    direction: Direction,
}

impl<T: AsRawFd> ReadyGuard<'_, T> {
    /// The operation returned `WouldBlock`: clear the readiness, unless a
    /// newer event arrived since this guard was made (then it stays, and
    /// the next wait returns at once).
    pub fn clear_ready(&mut self) {
        self.fd.io.clear_readiness(self.event, self.direction);
    }

    /// Run `op`; on `WouldBlock` clear the readiness and return
    /// `Err(TryIoError)`, else the result.
    pub fn try_io<R>(
        &mut self,
        op: impl FnOnce(&T) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        match op(self.fd.get_ref()) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(TryIoError::new())
            }
            result => Ok(result),
        }
    }

    /// The wrapped value.
    pub fn get_ref(&self) -> &T {
        self.fd.get_ref()
    }

    /// Readable when observed.
    pub fn is_readable(&self) -> bool {
        self.event.ready & READABLE != 0
    }

    /// Writable when observed.
    pub fn is_writable(&self) -> bool {
        self.event.ready & WRITABLE != 0
    }

    /// The peer closed its writing side (or the fd hung up).
    pub fn is_read_closed(&self) -> bool {
        self.event.ready & READ_CLOSED != 0
    }

    /// The fd can no longer be written.
    pub fn is_write_closed(&self) -> bool {
        self.event.ready & WRITE_CLOSED != 0
    }

    /// An error is pending on the fd.
    pub fn is_error(&self) -> bool {
        self.event.ready & ERROR != 0
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
