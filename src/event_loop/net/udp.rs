//! UDP: [`UdpSocket`].

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;

use crate::event_loop::reactor::Direction;
use crate::event_loop::registration::PollEvented;

/// A UDP socket on the event loop. Its methods take `&self`, so several
/// tasks may share it (behind an `Rc`); each waiter is woken on readiness.
///
/// ```
/// use triad::event_loop::{net::udp::UdpSocket, EventLoop};
///
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
///     let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
///     a.send_to(b"datagram", b.local_addr()?).await?;
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"datagram"[..], a.local_addr()?));
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    io: PollEvented<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Bind to `addr` (port 0 picks a free port).
    ///
    /// ```
    /// # use triad::event_loop::{net::udp::UdpSocket, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     assert_ne!(socket.local_addr()?.port(), 0);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: PollEvented::new(mio::net::UdpSocket::bind(addr)?)?,
        })
    }

    /// Set the default peer for [`send`](Self::send) and
    /// [`recv`](Self::recv), and receive only from it.
    ///
    /// ```
    /// # use triad::event_loop::{net::udp::UdpSocket, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     a.connect(b.local_addr()?)?;
    ///     assert_eq!(a.peer_addr()?, b.local_addr()?);
    ///     a.send(b"to b").await?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv_from(&mut buf).await?, (4, a.local_addr()?));
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        self.io.get_ref().connect(addr)
    }

    /// Send one datagram to `target`; how many bytes were sent.
    ///
    /// ```
    /// # use triad::event_loop::{net::udp::UdpSocket, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     assert_eq!(a.send_to(b"hello", b.local_addr()?).await?, 5);
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv_from(&mut buf).await?.0, 5);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to<'a>(
        &'a self,
        buf: &'a [u8],
        target: SocketAddr,
    ) -> impl Future<Output = io::Result<usize>> + 'a {
        poll_fn(move |cx| {
            self.io
                .poll_io(cx, Direction::Write, |s| s.send_to(buf, target))
        })
    }

    /// Receive one datagram; its length (truncated to `buf`) and sender.
    ///
    /// ```
    /// # use triad::event_loop::{net::udp::UdpSocket, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let server = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     let client = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     client.send_to(b"a long datagram", server.local_addr()?).await?;
    ///     let mut buf = [0; 6];
    ///     let (n, from) = server.recv_from(&mut buf).await?;
    ///     assert_eq!((&buf[..n], from), (&b"a long"[..], client.local_addr()?)); // truncated
    ///     server.send_to(b"ack", from).await?; // reply to the sender
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + 'a {
        poll_fn(|cx| self.io.poll_io(cx, Direction::Read, |s| s.recv_from(buf)))
    }

    /// Send one datagram to the connected peer.
    ///
    /// ```
    /// # use triad::event_loop::{net::udp::UdpSocket, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     assert!(a.send(b"x").await.is_err()); // not connected yet
    ///     a.connect(b.local_addr()?)?;
    ///     assert_eq!(a.send(b"x").await?, 1);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send<'a>(&'a self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        poll_fn(|cx| self.io.poll_io(cx, Direction::Write, |s| s.send(buf)))
    }

    /// Receive one datagram from the connected peer.
    ///
    /// ```
    /// # use triad::event_loop::{net::udp::UdpSocket, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     a.connect(b.local_addr()?)?;
    ///     b.send_to(b"pong", a.local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     let n = a.recv(&mut buf).await?;
    ///     assert_eq!(&buf[..n], b"pong");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv<'a>(&'a self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a {
        poll_fn(|cx| self.io.poll_io(cx, Direction::Read, |s| s.recv(buf)))
    }

    /// The address the socket is bound to.
    ///
    /// ```
    /// # use triad::event_loop::{net::udp::UdpSocket, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     let addr = socket.local_addr()?;
    ///     assert!(addr.ip().is_loopback() && addr.port() != 0);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// ```
    /// # use triad::event_loop::{net::udp::UdpSocket, EventLoop};
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    ///     assert!(socket.peer_addr().is_err()); // not connected
    ///     let peer = "127.0.0.1:9".parse().unwrap();
    ///     socket.connect(peer)?;
    ///     assert_eq!(socket.peer_addr()?, peer);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}
