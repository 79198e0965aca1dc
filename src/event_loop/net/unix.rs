//! Unix-domain stream sockets: [`UnixListener`] and [`UnixStream`].

use std::cell::RefCell;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use super::{finish_connect, poll_accept, read_methods, write_methods, Backoff};
use crate::event_loop::error::AcceptError;
use crate::event_loop::registration::PollEvented;

/// A Unix-domain listening socket on the event loop.
pub struct UnixListener {
    io: PollEvented<mio::net::UnixListener>,
    backoff: RefCell<Backoff>,
}

impl UnixListener {
    /// Bind to the socket file `path` (which must not exist).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: PollEvented::new(mio::net::UnixListener::bind(path)?)?,
            backoff: RefCell::default(),
        })
    }

    /// Accept a connection; backs off under descriptor exhaustion, as
    /// [`TcpListener::accept`](super::tcp::TcpListener::accept).
    pub async fn accept(&self) -> Result<(UnixStream, SocketAddr), AcceptError> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Poll for a connection.
    pub fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(UnixStream, SocketAddr), AcceptError>> {
        poll_accept(
            &self.io,
            &self.backoff,
            cx,
            |l| l.accept(),
            UnixStream::from_mio,
        )
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}

/// A Unix-domain stream connection on the event loop.
///
/// ```
/// use triad::event_loop::{net::unix::UnixStream, EventLoop};
///
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let (mut a, mut b) = UnixStream::pair()?;
///     a.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    io: PollEvented<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connect to the socket file `path`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let stream = Self::from_mio(mio::net::UnixStream::connect(path)?)?;
        finish_connect(&stream.io, |s| s.take_error(), |s| s.peer_addr().map(drop)).await?;
        Ok(stream)
    }

    /// A connected pair (`socketpair(2)`).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((Self::from_mio(a)?, Self::from_mio(b)?))
    }

    fn from_mio(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: PollEvented::new(stream)?,
        })
    }

    fn evented(&self) -> &PollEvented<mio::net::UnixStream> {
        &self.io
    }

    read_methods!();
    write_methods!();

    /// Shut down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// This end's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}

#[cfg(feature = "futures-io")]
mod futures_io_impls {
    use super::{Shutdown, UnixStream};
    use crate::event_loop::net::{impl_futures_read, impl_futures_write};

    impl_futures_read!(UnixStream);
    impl_futures_write!(UnixStream, |s| s.shutdown(Shutdown::Write));
}
