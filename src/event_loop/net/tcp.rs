//! TCP: [`TcpListener`], [`TcpStream`] and the owned halves of a split
//! stream.

use std::cell::RefCell;
use std::fmt;
use std::future::{poll_fn, Future};
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
    ///
    /// ```
    /// # use triad::event_loop::{net::tcp::TcpListener, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    ///     assert_ne!(listener.local_addr()?.port(), 0); // the port the system picked
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        Self::from_mio(mio::net::TcpListener::bind(addr)?)
    }

    /// Take over a std listener (switched to non-blocking here).
    ///
    /// ```
    /// # use triad::event_loop::{net::tcp::TcpListener, EventLoop};
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?; // e.g. inherited
    /// let addr = std_listener.local_addr()?;
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let listener = TcpListener::from_std(std_listener)?;
    ///     assert_eq!(listener.local_addr()?, addr);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// ```
    /// # use triad::event_loop::{net::tcp::TcpListener, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    ///     let client = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let (stream, peer) = listener.accept().await?;
    ///     assert_eq!(peer, client.local_addr()?);
    ///     assert_eq!(stream.peer_addr()?, peer);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(
        &self,
    ) -> impl Future<Output = Result<(TcpStream, SocketAddr), AcceptError>> + '_ {
        poll_fn(|cx| self.poll_accept(cx))
    }

    /// Poll for a connection.
    ///
    /// ```
    /// # use triad::event_loop::{net::tcp::TcpListener, EventLoop};
    /// use std::future::{poll_fn, Future};
    ///
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    ///     let client = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let (_stream, peer) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    ///     assert_eq!(peer, client.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// ```
    /// # use triad::event_loop::{net::tcp::TcpListener, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    ///     let addr = listener.local_addr()?;
    ///     assert!(addr.ip().is_loopback());
    ///     assert!(std::net::TcpStream::connect(addr).is_ok());
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
///
/// ```
/// use triad::event_loop::net::tcp::{TcpListener, TcpStream};
/// use triad::event_loop::{spawn, EventLoop};
///
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
///     let addr = listener.local_addr()?;
///     let echo = spawn(async move {
///         let (mut stream, _) = listener.accept().await?;
///         let mut buf = [0; 4];
///         stream.read_exact(&mut buf).await?;
///         stream.write_all(&buf).await
///     });
///     let mut stream = TcpStream::connect(addr).await?;
///     stream.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     stream.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     echo.await.unwrap()
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpStream {
    io: Rc<PollEvented<mio::net::TcpStream>>,
}

impl TcpStream {
    /// Connect to `addr`.
    ///
    /// ```
    /// # use triad::event_loop::{net::tcp::TcpStream, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let server = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let stream = TcpStream::connect(server.local_addr()?).await?;
    ///     assert_eq!(stream.peer_addr()?, server.local_addr()?);
    ///
    ///     let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?; // dropped
    ///     let refused = TcpStream::connect(closed).await.unwrap_err();
    ///     assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = Self::from_mio(mio::net::TcpStream::connect(addr)?)?;
        finish_connect(&stream.io, |s| s.take_error(), |s| s.peer_addr().map(drop)).await?;
        Ok(stream)
    }

    /// Take over a connected std stream (switched to non-blocking here).
    ///
    /// ```
    /// # use triad::event_loop::{net::tcp::TcpStream, EventLoop};
    /// let server = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let std_stream = std::net::TcpStream::connect(server.local_addr()?)?; // a blocking connect
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let mut stream = TcpStream::from_std(std_stream)?;
    ///     stream.write_all(b"hi").await?;
    ///     assert_eq!(stream.peer_addr()?, server.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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

    // The argument: the hidden set-up of the doc examples (see `read_methods!`).
    read_methods!(
        r#" # use triad::event_loop::net::tcp::{TcpListener, TcpStream};
 # let ev = triad::event_loop::EventLoop::new()?;
 # ev.block_on(async {
 # let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
 # let client = TcpStream::connect(listener.local_addr()?).await?;
 # let (server, _) = listener.accept().await?;
 # let (mut reader, mut writer) = (server, client);
 // `reader`, `writer`: the two ends of a TCP connection."#
    );
    write_methods!(
        r#" # use triad::event_loop::net::tcp::{TcpListener, TcpStream};
 # let ev = triad::event_loop::EventLoop::new()?;
 # ev.block_on(async {
 # let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
 # let client = TcpStream::connect(listener.local_addr()?).await?;
 # let (server, _) = listener.accept().await?;
 # let (mut reader, mut writer) = (server, client);
 // `reader`, `writer`: the two ends of a TCP connection."#
    );

    /// Shut down reading, writing or both (`shutdown(2)`). After
    /// `Shutdown::Write` the peer reads end of stream once it has read what
    /// was sent.
    ///
    /// ```
    /// # use triad::event_loop::{net::tcp::{TcpListener, TcpStream}, EventLoop};
    /// use std::net::Shutdown;
    ///
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    ///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (mut server, _) = listener.accept().await?;
    ///     client.write_all(b"request").await?;
    ///     client.shutdown(Shutdown::Write)?; // "no more requests"
    ///     let mut buf = [0; 7];
    ///     server.read_exact(&mut buf).await?;
    ///     assert_eq!(server.read(&mut buf).await?, 0); // end of stream
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Split into a reading and a writing half, each usable by its own task.
    /// Dropping the write half shuts down the writing side.
    ///
    /// ```
    /// # use triad::event_loop::{net::tcp::{TcpListener, TcpStream}, spawn, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     # let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    ///     # let mut client = TcpStream::connect(listener.local_addr()?).await?;
    ///     # let (server, _) = listener.accept().await?;
    ///     let (mut read, mut write) = server.into_split();
    ///     // Echo: one task reads while this one writes.
    ///     let echo = spawn(async move {
    ///         let mut buf = [0; 5];
    ///         read.read_exact(&mut buf).await.map(|()| buf)
    ///     });
    ///     write.write_all(b"hello").await?;
    ///     # client.write_all(b"world").await?;
    ///     assert_eq!(&echo.await.unwrap()?, b"world");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// ```
    /// # use triad::event_loop::{net::tcp::{TcpListener, TcpStream}, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     assert_eq!(client.peer_addr()?, listener.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// This end's address.
    ///
    /// ```
    /// # use triad::event_loop::{net::tcp::{TcpListener, TcpStream}, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     assert_eq!(client.local_addr()?, server.peer_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Set `TCP_NODELAY` (disable Nagle's algorithm).
    ///
    /// ```
    /// # use triad::event_loop::{net::tcp::TcpStream, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let server = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let stream = TcpStream::connect(server.local_addr()?).await?;
    ///     stream.set_nodelay(true)?; // small writes go out at once
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
///
/// ```
/// # use triad::event_loop::{net::tcp::{OwnedReadHalf, TcpListener, TcpStream}, EventLoop};
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     # let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
///     # let mut client = TcpStream::connect(listener.local_addr()?).await?;
///     # let (server, _) = listener.accept().await?;
///     let (mut read, _write): (OwnedReadHalf, _) = server.into_split();
///     client.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     read.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct OwnedReadHalf {
    io: Rc<PollEvented<mio::net::TcpStream>>,
}

impl OwnedReadHalf {
    fn evented(&self) -> &PollEvented<mio::net::TcpStream> {
        &self.io
    }

    read_methods!(
        r#" # use triad::event_loop::net::tcp::{TcpListener, TcpStream};
 # let ev = triad::event_loop::EventLoop::new()?;
 # ev.block_on(async {
 # let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
 # let client = TcpStream::connect(listener.local_addr()?).await?;
 # let (server, _) = listener.accept().await?;
 # let (mut reader, _server_write) = server.into_split();
 # let mut writer = client;
 // `reader`: the read half of a `TcpStream`; `writer`: its peer."#
    );

    /// Put the halves back together; `Err` gives both back if they are
    /// not of the same stream.
    ///
    /// ```
    /// # use triad::event_loop::{net::tcp::{TcpListener, TcpStream}, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     let (client_read, client_write) = client.into_split();
    ///     let (server_read, server_write) = server.into_split();
    ///     // Halves of two different streams are refused, and handed back.
    ///     let (client_read, server_write) = client_read.reunite(server_write).unwrap_err();
    ///     let client = client_read.reunite(client_write).unwrap();
    ///     let server = server_read.reunite(server_write).unwrap();
    ///     assert_eq!(client.peer_addr()?, server.local_addr()?);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
///
/// ```
/// # use triad::event_loop::{net::tcp::{OwnedWriteHalf, TcpListener, TcpStream}, EventLoop};
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     # let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
///     # let client = TcpStream::connect(listener.local_addr()?).await?;
///     # let (mut server, _) = listener.accept().await?;
///     let (_read, mut write): (_, OwnedWriteHalf) = client.into_split();
///     write.write_all(b"bye").await?;
///     drop(write); // shuts down the writing side
///     let mut buf = [0; 3];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"bye");
///     assert_eq!(server.read(&mut buf).await?, 0); // end of stream
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct OwnedWriteHalf {
    io: Rc<PollEvented<mio::net::TcpStream>>,
    shutdown_on_drop: bool,
}

impl OwnedWriteHalf {
    fn evented(&self) -> &PollEvented<mio::net::TcpStream> {
        &self.io
    }

    write_methods!(
        r#" # use triad::event_loop::net::tcp::{TcpListener, TcpStream};
 # let ev = triad::event_loop::EventLoop::new()?;
 # ev.block_on(async {
 # let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
 # let client = TcpStream::connect(listener.local_addr()?).await?;
 # let (server, _) = listener.accept().await?;
 # let (_client_read, mut writer) = client.into_split();
 # let mut reader = server;
 // `writer`: the write half of a `TcpStream`; `reader`: its peer."#
    );

    /// Shut down the writing side now.
    ///
    /// ```
    /// # use triad::event_loop::{net::tcp::{TcpListener, TcpStream}, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     # let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    ///     # let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     # let (mut server, _) = listener.accept().await?;
    ///     let (_read, write) = client.into_split();
    ///     write.shutdown()?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(server.read(&mut buf).await?, 0); // end of stream
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
