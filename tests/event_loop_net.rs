//! Sockets through the public API: many concurrent connections, half-close,
//! peer reset, split halves, UDP, Unix sockets and `AsyncFd`.
#![cfg(feature = "event-loop")]

mod support;

use support::CountsDrops;

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use triad::event_loop::net::tcp::{TcpListener, TcpStream};
use triad::event_loop::net::udp::UdpSocket;
use triad::event_loop::net::unix::{UnixListener, UnixStream};
use triad::event_loop::{sleep, spawn, timeout, yield_now, AsyncFd, EventLoop};

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// An echo server task: echoes each connection until end of stream, then
/// shuts its write side.
fn serve_echo(listener: TcpListener, connections: usize) -> triad::event_loop::JoinHandle<usize> {
    spawn(async move {
        let mut handles = Vec::new();
        for _ in 0..connections {
            let (stream, _) = listener.accept().await.unwrap();
            handles.push(spawn(async move {
                let (mut rd, mut wr) = stream.into_split();
                let mut buf = [0u8; 4096];
                let mut total = 0;
                loop {
                    let n = rd.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    wr.write_all(&buf[..n]).await.unwrap();
                    total += n;
                }
                total
            }));
        }
        let mut total = 0;
        for h in handles {
            total += h.await.unwrap();
        }
        total
    })
}

#[test]
fn five_hundred_concurrent_connections_each_get_their_own_bytes_back() {
    const CONNECTIONS: usize = 500;
    const ROUNDS: usize = 4;
    let ev = EventLoop::new().unwrap();
    let (served, echoed) = ev.block_on(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = serve_echo(listener, CONNECTIONS);
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|c| {
                spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    let mut ok = 0;
                    for r in 0..ROUNDS {
                        let msg = format!("client {c:04} round {r} {}", "x".repeat(c % 97));
                        stream.write_all(msg.as_bytes()).await.unwrap();
                        let mut back = vec![0; msg.len()];
                        stream.read_exact(&mut back).await.unwrap();
                        assert_eq!(back, msg.as_bytes());
                        ok += 1;
                    }
                    stream.shutdown(Shutdown::Write).unwrap();
                    let mut rest = [0u8; 1];
                    assert_eq!(stream.read(&mut rest).await.unwrap(), 0);
                    ok
                })
            })
            .collect();
        let mut echoed = 0;
        for c in clients {
            echoed += c.await.unwrap();
        }
        (server.await.unwrap(), echoed)
    });
    assert_eq!(echoed, CONNECTIONS * ROUNDS);
    let expected: usize = (0..CONNECTIONS)
        .map(|c| {
            (0..ROUNDS)
                .map(|r| format!("client {c:04} round {r} {}", "x".repeat(c % 97)).len())
                .sum::<usize>()
        })
        .sum();
    assert_eq!(served, expected);
    assert_eq!(ev.task_count(), 0);
}

#[test]
fn large_transfers_drain_to_would_block_in_both_directions() {
    // 8 MiB each way through one connection: far more than the socket
    // buffers, so reads and writes hit WouldBlock many times (edge-triggered
    // readiness must be re-armed each time).
    let ev = EventLoop::new().unwrap();
    let total = ev.block_on(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = serve_echo(listener, 1);
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut rd, mut wr) = stream.into_split();
        const LEN: usize = 8 << 20;
        let writer = spawn(async move {
            let chunk: Vec<u8> = (0..65_536u32).map(|i| (i % 251) as u8).collect();
            let mut sent = 0;
            while sent < LEN {
                wr.write_all(&chunk).await.unwrap();
                sent += chunk.len();
            }
            drop(wr); // half-close: the server sees end of stream
            sent
        });
        let mut got = 0usize;
        let mut buf = vec![0; 100_000];
        loop {
            let n = rd.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            for (k, b) in buf[..n].iter().enumerate() {
                assert_eq!(*b, (((got + k) % 65_536) % 251) as u8);
            }
            got += n;
        }
        assert_eq!(writer.await.unwrap(), LEN);
        assert_eq!(server.await.unwrap(), LEN);
        got
    });
    assert_eq!(total, 8 << 20);
}

#[test]
fn half_close_lets_the_peer_finish_its_reply() {
    let ev = EventLoop::new().unwrap();
    let reply = ev.block_on(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 64];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break; // client half-closed
                }
                request.extend_from_slice(&buf[..n]);
            }
            // Writing still works after the peer's half-close.
            s.write_all(format!("got {} bytes", request.len()).as_bytes())
                .await
                .unwrap();
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"0123456789").await.unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            let n = c.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..n]);
        }
        server.await.unwrap();
        String::from_utf8(reply).unwrap()
    });
    assert_eq!(reply, "got 10 bytes");
}

#[test]
fn a_peer_reset_surfaces_as_an_error_not_a_hang() {
    let ev = EventLoop::new().unwrap();
    let kind = ev.block_on(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let c = std::net::TcpStream::connect(addr).unwrap();
            // SO_LINGER with a zero timeout: close sends RST.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: a valid socket and a pointer to a live `linger`.
            let rc = unsafe {
                libc::setsockopt(
                    c.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0);
            (&c).write_all(b"partial").unwrap();
            drop(c);
        });
        let (mut s, _) = listener.accept().await.unwrap();
        client.join().unwrap();
        let mut buf = [0u8; 64];
        // Depending on timing the data may be discarded by the reset; the
        // outcome is an error (reset) or the data then an error / EOF, but
        // never a hang.
        loop {
            match s.read(&mut buf).await {
                Ok(0) => break std::io::ErrorKind::UnexpectedEof,
                Ok(_) => continue,
                Err(e) => break e.kind(),
            }
        }
    });
    assert_eq!(kind, std::io::ErrorKind::ConnectionReset);
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    let ev = EventLoop::new().unwrap();
    let addr = {
        let l = std::net::TcpListener::bind(localhost()).unwrap();
        l.local_addr().unwrap()
    };
    let err = ev.block_on(TcpStream::connect(addr)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn split_halves_work_from_two_tasks_and_reunite() {
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = serve_echo(listener, 1);
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut rd, mut wr) = stream.into_split();
        let writes = spawn(async move {
            for i in 0..100u8 {
                wr.write_all(&[i; 10]).await.unwrap();
            }
            wr
        });
        let mut buf = [0u8; 1000];
        rd.read_exact(&mut buf).await.unwrap();
        for (k, b) in buf.iter().enumerate() {
            assert_eq!(*b as usize, k / 10);
        }
        let wr = writes.await.unwrap();
        let mut stream = rd.reunite(wr).map_err(|_| "not the same stream").unwrap();
        stream.write_all(b"again").await.unwrap();
        let mut back = [0u8; 5];
        stream.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"again");
        stream.shutdown(Shutdown::Write).unwrap();
        assert_eq!(server.await.unwrap(), 1005);
    });
}

#[test]
fn udp_datagrams_round_trip_between_sockets() {
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let a = Rc::new(UdpSocket::bind(localhost()).unwrap());
        let b = UdpSocket::bind(localhost()).unwrap();
        let b_addr = b.local_addr().unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        let echo = spawn(async move {
            let mut buf = [0u8; 64];
            for _ in 0..100 {
                let n = b.recv(&mut buf).await.unwrap();
                b.send(&buf[..n]).await.unwrap();
            }
        });
        let mut buf = [0u8; 64];
        for i in 0..100u32 {
            a.send_to(&i.to_le_bytes(), b_addr).await.unwrap();
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, from), (4, b_addr));
            assert_eq!(u32::from_le_bytes(buf[..4].try_into().unwrap()), i);
        }
        echo.await.unwrap();
    });
}

#[test]
fn unix_listener_and_streams_echo() {
    let dir = std::env::temp_dir().join(format!("triad-ev-unix-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let ev = EventLoop::new().unwrap();
    ev.block_on({
        let path = dir.clone();
        async move {
            let listener = UnixListener::bind(&path).unwrap();
            let server = spawn(async move {
                for _ in 0..10 {
                    let (mut s, _) = listener.accept().await.unwrap();
                    spawn(async move {
                        let mut buf = [0u8; 16];
                        let n = s.read(&mut buf).await.unwrap();
                        s.write_all(&buf[..n]).await.unwrap();
                    })
                    .await
                    .unwrap();
                }
            });
            for i in 0..10u8 {
                let mut c = UnixStream::connect(&path).await.unwrap();
                c.write_all(&[i; 3]).await.unwrap();
                let mut back = [0u8; 3];
                c.read_exact(&mut back).await.unwrap();
                assert_eq!(back, [i; 3]);
            }
            server.await.unwrap();
        }
    });
    std::fs::remove_file(&dir).unwrap();
}

#[test]
fn read_exact_reports_unexpected_eof() {
    let ev = EventLoop::new().unwrap();
    let err = ev.block_on(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.write_all(b"ab").await.unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let mut buf = [0u8; 3];
        b.read_exact(&mut buf).await.unwrap_err()
    });
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
}

#[test]
fn async_fd_wraps_a_user_fd_and_sees_every_edge() {
    let ev = EventLoop::new().unwrap();
    let got = ev.block_on(async {
        let (mut writer, reader) = std::os::unix::net::UnixStream::pair().unwrap();
        reader.set_nonblocking(true).unwrap();
        let reader = AsyncFd::new(reader).unwrap();
        let received = Rc::new(Cell::new(0usize));
        let task = spawn({
            let received = received.clone();
            async move {
                let mut buf = [0u8; 3];
                loop {
                    let n = reader.read_with(|mut s| s.read(&mut buf)).await.unwrap();
                    if n == 0 {
                        return received.get();
                    }
                    received.set(received.get() + n);
                }
            }
        });
        for _ in 0..50 {
            writer.write_all(b"0123456789").unwrap();
            triad::event_loop::yield_now().await;
        }
        drop(writer);
        task.await.unwrap()
    });
    assert_eq!(got, 500);
}

#[test]
fn a_ready_guard_held_across_an_await_does_not_erase_a_newer_edge() {
    // The guard observes readiness; the task drains, then (before clearing)
    // awaits something, during which new data arrives and the loop records
    // a fresh edge. The stale clear must not erase it: the next `readable`
    // returns at once and the new byte is read.
    let ev = EventLoop::new().unwrap();
    let got = ev.block_on(async {
        let (mut writer, reader) = std::os::unix::net::UnixStream::pair().unwrap();
        reader.set_nonblocking(true).unwrap();
        let reader = AsyncFd::new(reader).unwrap();
        writer.write_all(b"a").unwrap();
        let mut guard = reader.readable().await;
        let mut buf = [0u8; 8];
        assert_eq!(guard.get_ref().read(&mut buf).unwrap(), 1);
        assert_eq!(
            guard.get_ref().read(&mut buf).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
        writer.write_all(b"b").unwrap();
        // Let the loop turn (poll epoll) while the guard is held.
        triad::event_loop::sleep(std::time::Duration::from_millis(1)).await;
        guard.clear_ready(); // stale: a newer event arrived
        drop(guard);
        let n = triad::event_loop::timeout(
            std::time::Duration::from_secs(5),
            reader.read_with(|mut s| s.read(&mut buf)),
        )
        .await
        .expect("the newer edge was lost")
        .unwrap();
        buf[..n].to_vec()
    });
    assert_eq!(got, b"b");
}

#[test]
fn a_unix_connect_to_a_full_backlog_waits_for_room() {
    // More connects than the listener's backlog (somaxconn on Linux):
    // those past it wait for the server to accept, as a blocking connect
    // would, instead of failing with `WouldBlock`.
    let Some(backlog) = backlog_with_descriptors_to_fill_it() else {
        return;
    };
    let count = backlog + 8;
    let path = std::env::temp_dir().join(format!("triad-ev-backlog-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let ev = EventLoop::new().unwrap();
    let connected = ev.block_on({
        let path = path.clone();
        async move {
            let listener = UnixListener::bind(&path).unwrap();
            let made = Rc::new(Cell::new(0));
            let connector = spawn({
                let made = made.clone();
                async move {
                    let mut streams = Vec::new();
                    for _ in 0..count {
                        streams.push(UnixStream::connect(&path).await?);
                        made.set(streams.len());
                    }
                    Ok::<_, std::io::Error>(streams.len())
                }
            });
            // The server accepts only once the backlog is full.
            while made.get() < backlog && !connector.is_finished() {
                yield_now().await;
            }
            sleep(Duration::from_millis(20)).await;
            let acceptor = spawn(async move {
                for _ in 0..count {
                    drop(listener.accept().await.unwrap());
                }
            });
            let connected = timeout(Duration::from_secs(30), connector).await;
            acceptor.abort();
            connected.map(|done| done.unwrap().map_err(|e| e.kind()))
        }
    });
    std::fs::remove_file(&path).unwrap();
    assert_eq!(connected, Ok(Ok(count)));
}

/// `UnixStream::connect` awaited where no loop runs is the typed no-loop
/// error, as every other socket constructor there, even when the
/// listener's backlog is full: its retry used to sleep, and `sleep`
/// panics off the loop.
#[test]
fn a_unix_connect_off_any_loop_is_an_error_even_on_a_full_backlog() {
    let Some(backlog) = backlog_with_descriptors_to_fill_it() else {
        return;
    };
    let path = std::env::temp_dir().join(format!("triad-ev-offloop-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    // Fill the backlog with non-blocking connects nobody accepts.
    let mut pending = Vec::new();
    let full = loop {
        match mio::net::UnixStream::connect(&path) {
            Ok(stream) => pending.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
            Err(e) => panic!("{e}"),
        }
        if pending.len() > backlog + 8 {
            break false;
        }
    };
    assert!(
        full,
        "the backlog never filled ({} connects)",
        pending.len()
    );
    let error = support::block_on(UnixStream::connect(&path)).unwrap_err();
    assert!(error.to_string().contains("no triad event loop"), "{error}");
    drop(pending);
    drop(listener);
    std::fs::remove_file(&path).unwrap();
}

/// A listener's backlog (somaxconn on Linux), with the soft descriptor
/// limit raised to hold a client and a server end for more connections
/// than that; `None`, and a note, if the hard limit is too low (the
/// test is then skipped).
fn backlog_with_descriptors_to_fill_it() -> Option<usize> {
    let backlog: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let needed = (backlog + 8 + 256) as libc::rlim_t;
    let limit = support::nofile();
    if limit.rlim_cur < needed {
        if limit.rlim_max < needed {
            eprintln!(
                "skipped: {needed} descriptors needed, at most {}",
                limit.rlim_max
            );
            return None;
        }
        support::set_nofile(libc::rlimit {
            rlim_cur: needed,
            rlim_max: limit.rlim_max,
        });
    }
    Some(backlog)
}

/// A waker that counts its wakes; `Arc::strong_count` tells how many
/// clones of it are still held somewhere.
#[derive(Default)]
struct Probe {
    wakes: std::sync::atomic::AtomicUsize,
}

impl std::task::Wake for Probe {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.wakes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Issue 4 (reactor rule 7): tasks that waited on an idle shared socket and
/// then ended (a timeout, a panic, an abort) are not kept alive by the
/// socket's waiter list until its next event. Each task's `JoinHandle` is
/// polled once with a probe waker, which the task's block keeps (task rule
/// 4) until it is freed: the probe's count is the number of blocks alive.
/// A foreign waker in the same list is kept, and woken by the next event.
#[test]
fn finished_tasks_are_not_kept_alive_by_an_idle_shared_socket() {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::Arc;
    use std::task::{Context, Waker};

    const WAVES: usize = 30;
    const TASKS: usize = 40;
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let sock = Rc::new(UdpSocket::bind(localhost()).unwrap());
        let joins = Arc::new(Probe::default());
        let join_waker = Waker::from(joins.clone());
        let foreign = Arc::new(Probe::default());
        let mut foreign_buf = [0u8; 16];
        let mut foreign_recv = Box::pin(sock.recv_from(&mut foreign_buf));
        let polled = foreign_recv
            .as_mut()
            .poll(&mut Context::from_waker(&Waker::from(foreign.clone())));
        assert!(polled.is_pending());

        let ended = Rc::new(Cell::new(0));
        for wave in 0..WAVES {
            let mut handles = Vec::new();
            for _ in 0..TASKS {
                let (sock, end) = (sock.clone(), CountsDrops(ended.clone()));
                let mut handle = spawn(async move {
                    let _end = end;
                    let mut buf = [0u8; 16];
                    match wave % 3 {
                        0 => {
                            let r = timeout(Duration::from_millis(1), sock.recv_from(&mut buf));
                            assert!(r.await.is_err(), "the socket is idle");
                        }
                        1 => {
                            let r = timeout(Duration::from_millis(1), sock.recv_from(&mut buf));
                            let _ = r.await;
                            panic!("a task that panics after its wait");
                        }
                        _ => drop(sock.recv_from(&mut buf).await), // aborted
                    }
                });
                let polled = Pin::new(&mut handle).poll(&mut Context::from_waker(&join_waker));
                assert!(polled.is_pending());
                handles.push(handle);
            }
            // Every task of the wave registers its waker on the socket.
            yield_now().await;
            sleep(Duration::from_millis(0)).await;
            for handle in handles {
                if wave % 3 == 2 {
                    handle.abort();
                }
            }
            while ended.get() < (wave + 1) * TASKS {
                sleep(Duration::from_millis(1)).await;
            }
        }
        // One more registration on the idle socket; every task has ended.
        let mut buf = [0u8; 16];
        assert!(timeout(Duration::from_millis(1), sock.recv_from(&mut buf))
            .await
            .is_err());
        assert_eq!(
            Arc::strong_count(&joins) - 2,
            0,
            "blocks of ended tasks still alive"
        );

        // The foreign waker stayed in the list: an event wakes it.
        assert_eq!(foreign.wakes.load(Relaxed), 0);
        let peer = UdpSocket::bind(localhost()).unwrap();
        peer.send_to(b"hi", sock.local_addr().unwrap())
            .await
            .unwrap();
        while foreign.wakes.load(Relaxed) == 0 {
            sleep(Duration::from_millis(1)).await;
        }
        let waker = Waker::from(foreign.clone());
        match foreign_recv.as_mut().poll(&mut Context::from_waker(&waker)) {
            std::task::Poll::Ready(r) => assert_eq!(r.unwrap().0, 2),
            std::task::Poll::Pending => panic!("woken but not ready"),
        }
    });
}

/// A TCP read stops short at an urgent mark (a byte the peer sent with
/// `MSG_OOB`) although ordinary data follows in the receive buffer, and
/// no new edge will come for it: the short read must not clear read
/// readiness then, or the bytes after the mark wait for the peer's next
/// packet, for ever in a request/reply protocol.
#[test]
fn a_read_cut_short_by_an_urgent_mark_still_gets_the_data_after_it() {
    support::within(Duration::from_secs(30), || {
        let ev = EventLoop::new().unwrap();
        let got = ev.block_on(async {
            let listener = TcpListener::bind(localhost()).unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            client.set_nodelay(true).unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            (&client).write_all(b"abc").unwrap();
            // SAFETY: a valid socket and a live one-byte buffer.
            let sent =
                unsafe { libc::send(client.as_raw_fd(), b"!".as_ptr().cast(), 1, libc::MSG_OOB) };
            assert_eq!(sent, 1);
            (&client).write_all(b"def").unwrap();
            // Wait until the server's kernel has acknowledged every byte: all
            // of it is in the receive buffer before the first read.
            loop {
                let mut unacked: libc::c_int = 0;
                // SAFETY: a valid socket and a pointer to a live c_int.
                let rc = unsafe { libc::ioctl(client.as_raw_fd(), libc::TIOCOUTQ, &mut unacked) };
                assert_eq!(rc, 0);
                if unacked == 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            while got.len() < 6 {
                let n = timeout(Duration::from_secs(5), server.read(&mut buf))
                    .await
                    .expect("the data after the urgent mark never came")
                    .unwrap();
                assert_ne!(n, 0, "end of stream after {got:?}");
                got.extend_from_slice(&buf[..n]);
            }
            got
        });
        assert_eq!(got, b"abcdef"); // the urgent byte is out of band
    });
}

/// A Unix stream read stops after a message that carried descriptors
/// (`SCM_RIGHTS`), with the peer's later bytes already buffered behind it
/// and no new edge to come for them: that short read must not clear read
/// readiness, or those bytes wait for the peer's next write.
#[test]
fn a_unix_read_cut_short_by_passed_descriptors_still_gets_the_data_after_it() {
    support::within(Duration::from_secs(30), || {
        let path = std::env::temp_dir().join(format!("triad-net-scm-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let ev = EventLoop::new().unwrap();
        let got = ev.block_on(async {
            let listener = UnixListener::bind(&path).unwrap();
            let client = std::os::unix::net::UnixStream::connect(&path).unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            // "abc" with a descriptor attached, then "def" plainly.
            let passed = std::fs::File::open("/dev/null").unwrap();
            let fd: libc::c_int = passed.as_raw_fd();
            // SAFETY: CMSG_SPACE only computes a size.
            let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) };
            let mut control = vec![0u8; space as usize];
            let mut iov = libc::iovec {
                iov_base: b"abc".as_ptr() as *mut libc::c_void,
                iov_len: 3,
            };
            // SAFETY: a zeroed msghdr is valid; every pointer set below is
            // to a live local of the size given, and the control buffer is
            // CMSG_SPACE bytes for one c_int, as CMSG_FIRSTHDR/CMSG_DATA need.
            let sent = unsafe {
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_iov = &mut iov;
                msg.msg_iovlen = 1;
                msg.msg_control = control.as_mut_ptr().cast();
                msg.msg_controllen = space as _;
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
                std::ptr::copy_nonoverlapping(&fd, libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), 1);
                libc::sendmsg(client.as_raw_fd(), &msg, 0)
            };
            assert_eq!(sent, 3);
            (&client).write_all(b"def").unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            while got.len() < 6 {
                let n = timeout(Duration::from_secs(5), server.read(&mut buf))
                    .await
                    .expect("the data after the passed descriptor never came")
                    .unwrap();
                assert_ne!(n, 0, "end of stream after {got:?}");
                got.extend_from_slice(&buf[..n]);
            }
            got
        });
        std::fs::remove_file(&path).unwrap();
        assert_eq!(got, b"abcdef");
    });
}

/// Two waiters of one socket woken by one event, the first a waker that
/// panics: the panic reaches `block_on`'s caller, and the other waiter,
/// already taken off the socket's list, is still woken at the next turn
/// instead of being dropped with the unwinding (executor rule 6 says the
/// same of timers). Its task would never wake again: the data is there,
/// but no new edge comes.
#[test]
fn a_waker_that_panics_as_its_socket_is_ready_loses_no_other_waiter() {
    struct PanicOnWake;
    impl std::task::Wake for PanicOnWake {
        fn wake(self: std::sync::Arc<Self>) {
            panic!("this waker panics");
        }
    }
    support::within(Duration::from_secs(30), || {
        let ev = EventLoop::new().unwrap();
        let socket = Rc::new(ev.block_on(async { UdpSocket::bind(localhost()).unwrap() }));
        let addr = socket.local_addr().unwrap();
        let reader = ev.spawn({
            let socket = socket.clone();
            async move {
                let mut buf = [0u8; 8];
                socket.recv_from(&mut buf).await.map(|(n, _)| n)
            }
        });
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ev.block_on(async {
                // The panicking waker first in the list, the task second.
                let mut buf = [0u8; 8];
                let mut recv = Box::pin(socket.recv_from(&mut buf));
                let waker = std::task::Waker::from(std::sync::Arc::new(PanicOnWake));
                let mut cx = std::task::Context::from_waker(&waker);
                assert!(std::future::Future::poll(recv.as_mut(), &mut cx).is_pending());
                yield_now().await; // the task waits on the socket too
                let sender = std::net::UdpSocket::bind(localhost()).unwrap();
                sender.send_to(b"hi", addr).unwrap();
                sleep(Duration::from_secs(5)).await;
            })
        }));
        assert!(
            caught.is_err(),
            "the waker's panic reaches block_on's caller"
        );
        let n = ev
            .block_on(timeout(Duration::from_secs(2), reader))
            .expect("the task woken with the panicking waker is woken")
            .unwrap()
            .unwrap();
        assert_eq!(n, 2);
    });
}

/// A write of an empty buffer returns `Ok(0)` at once, as `std::io::Write`
/// does, even when the send buffer is full: it has nothing to wait for,
/// and waiting for room would last until the peer reads, perhaps never.
#[test]
fn an_empty_write_returns_at_once_even_with_the_send_buffer_full() {
    support::within(Duration::from_secs(30), || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let (mut a, _b) = UnixStream::pair().unwrap();
            let chunk = vec![0u8; 1 << 16];
            // Fill the send buffer: the peer never reads.
            while let Ok(written) = timeout(Duration::from_millis(50), a.write(&chunk)).await {
                written.unwrap();
            }
            let empty = timeout(Duration::from_secs(2), a.write(&[]))
                .await
                .expect("an empty write waited for room");
            assert_eq!(empty.unwrap(), 0);
            let empty = timeout(Duration::from_secs(2), a.write_all(&[])).await;
            assert!(empty.expect("write_all of nothing waited").is_ok());
        });
    });
}
