//! Unix-domain stream sockets: [`UnixListener`] and [`UnixStream`].

use std::cell::RefCell;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use super::{
    finish_connect, poll_accept, read_methods, write_methods, Backoff, BACKOFF_MAX, BACKOFF_MIN,
};
use crate::event_loop::error::{no_event_loop, AcceptError};
use crate::event_loop::executor;
use crate::event_loop::registration::PollEvented;
use crate::event_loop::sleep;

/// A Unix-domain listening socket on the event loop.
///
/// ```
/// use triad::event_loop::net::unix::{UnixListener, UnixStream};
/// use triad::event_loop::EventLoop;
///
/// let path = std::env::temp_dir().join(format!("triad-doc-{}.sock", std::process::id()));
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let listener = UnixListener::bind(&path)?;
///     let mut client = UnixStream::connect(&path).await?;
///     let (mut server, _) = listener.accept().await?;
///     client.write_all(b"over a socket file").await?;
///     let mut buf = [0; 18];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"over a socket file");
///     Ok::<_, std::io::Error>(())
/// })?;
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    io: PollEvented<mio::net::UnixListener>,
    backoff: RefCell<Backoff>,
}

impl UnixListener {
    /// Bind to the socket file `path` (which must not exist).
    ///
    /// ```
    /// # use triad::event_loop::{net::unix::UnixListener, EventLoop};
    /// let path = std::env::temp_dir().join(format!("triad-doc-bind-{}.sock", std::process::id()));
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let _listener = UnixListener::bind(&path)?;
    ///     let taken = UnixListener::bind(&path).unwrap_err(); // the file exists now
    ///     assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// std::fs::remove_file(&path)?; // closing the listener leaves the file
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: PollEvented::new(mio::net::UnixListener::bind(path)?)?,
            backoff: RefCell::default(),
        })
    }

    /// Accept a connection; backs off under descriptor exhaustion, as
    /// [`TcpListener::accept`](super::tcp::TcpListener::accept).
    ///
    /// ```
    /// # use triad::event_loop::{net::unix::{UnixListener, UnixStream}, EventLoop};
    /// let path = std::env::temp_dir().join(format!("triad-doc-accept-{}.sock", std::process::id()));
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let _client = UnixStream::connect(&path).await?;
    ///     let (stream, peer) = listener.accept().await?;
    ///     assert!(peer.is_unnamed()); // the client did not bind a path
    ///     assert_eq!(stream.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(
        &self,
    ) -> impl Future<Output = Result<(UnixStream, SocketAddr), AcceptError>> + '_ {
        poll_fn(|cx| self.poll_accept(cx))
    }

    /// Poll for a connection.
    ///
    /// ```
    /// # use triad::event_loop::{net::unix::{UnixListener, UnixStream}, EventLoop};
    /// use std::future::poll_fn;
    ///
    /// let path = std::env::temp_dir().join(format!("triad-doc-poll-{}.sock", std::process::id()));
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     let _client = UnixStream::connect(&path).await?;
    ///     let (_stream, peer) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    ///     assert!(peer.is_unnamed());
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// ```
    /// # use triad::event_loop::{net::unix::UnixListener, EventLoop};
    /// let path = std::env::temp_dir().join(format!("triad-doc-addr-{}.sock", std::process::id()));
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let listener = UnixListener::bind(&path)?;
    ///     assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    /// Connect to the socket file `path`. If the listener's backlog is
    /// full, wait (retrying after 1 ms, doubling to 1 s) until it has
    /// room, as a blocking connect would; wrap it in a
    /// [`timeout`](crate::event_loop::timeout) to bound that wait.
    ///
    /// ```
    /// # use triad::event_loop::{net::unix::UnixStream, EventLoop};
    /// let path = std::env::temp_dir().join(format!("triad-doc-connect-{}.sock", std::process::id()));
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let missing = UnixStream::connect(&path).await.unwrap_err(); // nobody listens yet
    ///     assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    ///     let _server = std::os::unix::net::UnixListener::bind(&path)?;
    ///     let stream = UnixStream::connect(&path).await?;
    ///     assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let path = path.as_ref();
        // Off the loop, the error every socket constructor gives there,
        // before the retry below could need a timer.
        if executor::with_current(|core| core.is_none()) {
            return Err(no_event_loop());
        }
        // A full backlog: Linux fails a non-blocking Unix connect with
        // `EAGAIN` and reports no readiness for the moment it has room.
        // Try again after a delay (the accept back-off's), as a blocking
        // connect would wait; never hand `WouldBlock` to the caller.
        let mut delay = BACKOFF_MIN;
        let socket = loop {
            match mio::net::UnixStream::connect(path) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    sleep(delay).await;
                    delay = (delay * 2).min(BACKOFF_MAX);
                }
                socket => break socket?,
            }
        };
        let stream = Self::from_mio(socket)?;
        finish_connect(&stream.io, |s| s.take_error(), |s| s.peer_addr().map(drop)).await?;
        Ok(stream)
    }

    /// A connected pair (`socketpair(2)`).
    ///
    /// ```
    /// # use triad::event_loop::{net::unix::UnixStream, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let (mut parent, mut child) = UnixStream::pair()?;
    ///     child.write_all(b"ready").await?;
    ///     let mut buf = [0; 5];
    ///     parent.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"ready");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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

    // The argument: the hidden set-up of the doc examples (see `read_methods!`).
    read_methods!(
        r#" # use triad::event_loop::net::unix::UnixStream;
 # let ev = triad::event_loop::EventLoop::new()?;
 # ev.block_on(async {
 # let (mut reader, mut writer) = UnixStream::pair()?;
 // `reader`, `writer`: the two ends of a `UnixStream::pair()`."#
    );
    write_methods!(
        r#" # use triad::event_loop::net::unix::UnixStream;
 # let ev = triad::event_loop::EventLoop::new()?;
 # ev.block_on(async {
 # let (mut reader, mut writer) = UnixStream::pair()?;
 // `reader`, `writer`: the two ends of a `UnixStream::pair()`."#
    );

    /// Shut down reading, writing or both.
    ///
    /// ```
    /// # use triad::event_loop::{net::unix::UnixStream, EventLoop};
    /// use std::net::Shutdown;
    ///
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let (a, mut b) = UnixStream::pair()?;
    ///     a.shutdown(Shutdown::Write)?;
    ///     let mut buf = [0; 4];
    ///     assert_eq!(b.read(&mut buf).await?, 0); // end of stream
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// The peer's address.
    ///
    /// ```
    /// # use triad::event_loop::{net::unix::UnixStream, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let (a, _b) = UnixStream::pair()?;
    ///     assert!(a.peer_addr()?.is_unnamed()); // a socketpair has no path
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
    /// # use triad::event_loop::{net::unix::UnixStream, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let (a, _b) = UnixStream::pair()?;
    ///     assert_eq!(a.local_addr()?.as_pathname(), None);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
