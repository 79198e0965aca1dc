//! TCP: [`TcpListener`], [`TcpStream`] and the owned halves of a split
//! stream.

use std::cell::RefCell;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::task::{Context, Poll};

use super::{finish_connect, poll_accept, read_methods, write_methods, Backoff};
use crate::event_loop::error::AcceptError;
use crate::event_loop::registration::PollEvented;

/// A TCP listening socket on the event loop.
///
/// ```
/// use triad::event_loop::{spawn, EventLoop};
/// use triad::event_loop::net::tcp::{TcpListener, TcpStream};
///
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
///     let addr = listener.local_addr()?;
///     let client = spawn(async move {
///         let mut stream = TcpStream::connect(addr).await?;
///         stream.write_all(b"hello").await?;
///         Ok::<_, std::io::Error>(())
///     });
///     let (mut stream, _) = listener.accept().await?;
///     let mut buf = [0; 5];
///     stream.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hello");
///     client.await.unwrap()
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener {
    io: PollEvented<mio::net::TcpListener>,
    backoff: RefCell<Backoff>,
}

impl TcpListener {
    /// Bind to `addr` (with `SO_REUSEADDR`, backlog 1024). Port 0 picks a
    /// free port; see [`local_addr`](Self::local_addr).
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        Self::from_mio(mio::net::TcpListener::bind(addr)?)
    }

    /// Take over a std listener (switched to non-blocking here).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Self::from_mio(mio::net::TcpListener::from_std(listener))
    }

    fn from_mio(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: PollEvented::new(listener)?,
            backoff: RefCell::default(),
        })
    }

    /// Accept a connection. Under descriptor exhaustion the error says so
    /// ([`AcceptError::is_resource_exhaustion`]) and the next call backs off
    /// first (see [the module docs](super)).
    pub async fn accept(&self) -> Result<(TcpStream, SocketAddr), AcceptError> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Poll for a connection.
    pub fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(TcpStream, SocketAddr), AcceptError>> {
        poll_accept(
            &self.io,
            &self.backoff,
            cx,
            |l| l.accept(),
            TcpStream::from_mio,
        )
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}

/// A TCP connection on the event loop.
///
/// Reading and writing take `&mut self`; to read and write from two tasks,
/// [`into_split`](Self::into_split) the stream into owned halves.
pub struct TcpStream {
    io: Rc<PollEvented<mio::net::TcpStream>>,
}

impl TcpStream {
    /// Connect to `addr`.
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = Self::from_mio(mio::net::TcpStream::connect(addr)?)?;
        finish_connect(&stream.io, |s| s.take_error(), |s| s.peer_addr().map(drop)).await?;
        Ok(stream)
    }

    /// Take over a connected std stream (switched to non-blocking here).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Self::from_mio(mio::net::TcpStream::from_std(stream))
    }

    fn from_mio(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Rc::new(PollEvented::new(stream)?),
        })
    }

    fn evented(&self) -> &PollEvented<mio::net::TcpStream> {
        &self.io
    }

    read_methods!();
    write_methods!();

    /// Shut down reading, writing or both (`shutdown(2)`). After
    /// `Shutdown::Write` the peer reads end of stream once it has read what
    /// was sent.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Split into a reading and a writing half, each usable by its own task.
    /// Dropping the write half shuts down the writing side.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (
            OwnedReadHalf {
                io: self.io.clone(),
            },
            OwnedWriteHalf {
                io: self.io,
                shutdown_on_drop: true,
            },
        )
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// This end's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Set `TCP_NODELAY` (disable Nagle's algorithm).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}

/// The reading half of a [`TcpStream`], from [`TcpStream::into_split`].
pub struct OwnedReadHalf {
    io: Rc<PollEvented<mio::net::TcpStream>>,
}

impl OwnedReadHalf {
    fn evented(&self) -> &PollEvented<mio::net::TcpStream> {
        &self.io
    }

    read_methods!();

    /// Put the halves back together; `Err` gives both back if they are
    /// not of the same stream.
    pub fn reunite(
        self,
        write: OwnedWriteHalf,
    ) -> Result<TcpStream, (OwnedReadHalf, OwnedWriteHalf)> {
        if Rc::ptr_eq(&self.io, &write.io) {
            let mut write = write;
            write.shutdown_on_drop = false; // the stream lives on
            drop(write);
            Ok(TcpStream { io: self.io })
        } else {
            Err((self, write))
        }
    }
}

/// The writing half of a [`TcpStream`], from [`TcpStream::into_split`].
/// Dropping it shuts down the writing side (the peer reads end of stream).
pub struct OwnedWriteHalf {
    io: Rc<PollEvented<mio::net::TcpStream>>,
    shutdown_on_drop: bool,
}

impl OwnedWriteHalf {
    fn evented(&self) -> &PollEvented<mio::net::TcpStream> {
        &self.io
    }

    write_methods!();

    /// Shut down the writing side now.
    pub fn shutdown(&self) -> io::Result<()> {
        self.io.get_ref().shutdown(Shutdown::Write)
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // The peer may be gone already (ENOTCONN): nothing to do then.
            let _ = self.io.get_ref().shutdown(Shutdown::Write);
        }
    }
}

impl fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedReadHalf")
            .field(self.io.get_ref())
            .finish()
    }
}

impl fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedWriteHalf")
            .field(self.io.get_ref())
            .finish()
    }
}

#[cfg(feature = "futures-io")]
mod futures_io_impls {
    use super::{OwnedReadHalf, OwnedWriteHalf, Shutdown, TcpStream};
    use crate::event_loop::net::{impl_futures_read, impl_futures_write};

    impl_futures_read!(TcpStream);
    impl_futures_write!(TcpStream, |s| s.shutdown(Shutdown::Write));
    impl_futures_read!(OwnedReadHalf);
    impl_futures_write!(OwnedWriteHalf, |s| s.shutdown());
}
