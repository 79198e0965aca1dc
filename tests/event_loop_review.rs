//! Edge cases an adversarial review found or checked: timers at the limits
//! of `Instant`, zero timeouts, remotes of a dropped loop, half-closed
//! sockets.
#![cfg(feature = "event-loop")]

#[path = "support/mod.rs"]
mod support;

use std::future::poll_fn;
use std::task::Poll;
use std::time::{Duration, Instant};

use triad::event_loop::{interval, sleep, sleep_until, spawn, timeout, EventLoop};

/// An interval whose period does not fit in `Instant` ticks once, then
/// never again: no overflow panic.
#[test]
fn an_interval_with_a_huge_period_ticks_once_then_waits() {
    let ev = EventLoop::new().unwrap();
    for period in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
        let ticks = ev.block_on(async move {
            let mut every = interval(period);
            let mut ticks = 0;
            for _ in 0..2 {
                if timeout(Duration::from_millis(5), every.tick())
                    .await
                    .is_ok()
                {
                    ticks += 1;
                }
            }
            ticks
        });
        assert_eq!(ticks, 1, "period {period:?}");
    }
}

#[test]
fn zero_timeouts_and_past_deadlines() {
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        assert_eq!(timeout(Duration::ZERO, async { 3 }).await, Ok(3));
        assert!(timeout(Duration::ZERO, std::future::pending::<()>())
            .await
            .is_err());
        let past = Instant::now().checked_sub(Duration::from_secs(1)).unwrap();
        sleep_until(past).await;
        sleep(Duration::ZERO).await;
        // A deadline centuries away: armed without overflow, never fires.
        let far = Instant::now()
            .checked_add(Duration::from_secs(1 << 40))
            .unwrap();
        assert!(timeout(Duration::from_millis(2), sleep_until(far))
            .await
            .is_err());
        assert!(timeout(Duration::from_millis(2), sleep(Duration::MAX))
            .await
            .is_err());
    });
}

/// A `Sleep` that fired can be reset and awaited again; so can one reset
/// while it waits.
#[test]
fn a_sleep_reset_after_firing_and_while_pending_fires_again() {
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let mut nap = Box::pin(sleep(Duration::from_millis(1)));
        nap.as_mut().await;
        let again = Instant::now() + Duration::from_millis(2);
        nap.as_mut().get_mut().reset(again);
        assert!(!nap.is_elapsed());
        nap.as_mut().await;
        assert!(Instant::now() >= again);
        // Pending, then reset earlier: the earlier deadline wins.
        nap.as_mut()
            .get_mut()
            .reset(Instant::now() + Duration::from_secs(3600));
        let first = poll_fn(|cx| Poll::Ready(nap.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        let sooner = Instant::now() + Duration::from_millis(1);
        nap.as_mut().get_mut().reset(sooner);
        assert!(timeout(Duration::from_secs(5), nap.as_mut()).await.is_ok());
    });
}

use std::future::Future;

/// A remote of a dropped loop refuses, from many threads at once, and
/// drops what it refused.
#[test]
fn remotes_of_a_dropped_loop_refuse_from_many_threads() {
    let ev = EventLoop::new().unwrap();
    let remote = ev.remote();
    let (tx, _rx) = remote.channel::<u32>();
    drop(ev);
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..8 {
            let remote = remote.clone();
            let tx = tx.clone();
            let dropped = dropped.clone();
            s.spawn(move || {
                struct Count(std::sync::Arc<std::sync::atomic::AtomicUsize>);
                impl Drop for Count {
                    fn drop(&mut self) {
                        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                for _ in 0..100 {
                    assert!(remote.is_closed());
                    let count = Count(dropped.clone());
                    assert!(remote
                        .spawn(async move {
                            drop(count);
                        })
                        .is_err());
                    assert!(remote.run(|| 1).is_err());
                    assert!(tx.send(1).is_err());
                }
            });
        }
    });
    assert_eq!(dropped.load(std::sync::atomic::Ordering::SeqCst), 800);
}

/// An abort after completion leaves the outcome; an abort before the first
/// poll cancels.
#[test]
fn abort_races_completion_with_one_outcome() {
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let done = spawn(async { 5 });
        triad::event_loop::yield_now().await;
        done.abort();
        assert_eq!(done.await.unwrap(), 5);
        let never = spawn(async { 6 });
        never.abort();
        assert!(never.await.unwrap_err().is_cancelled());
    });
}

/// `watch::Sender::send_replace` while the value is borrowed says so: the
/// new value comes back in an error, not as if it were the old one.
#[test]
fn a_watch_send_replace_while_borrowed_is_an_error() {
    use triad::event_loop::sync::watch;

    let (tx, rx) = watch::channel(1);
    assert_eq!(tx.send_replace(2).unwrap(), 1);
    let held = rx.borrow();
    let error = tx.send_replace(3).unwrap_err();
    assert!(error.is_borrowed() && !error.is_closed());
    assert_eq!(error.into_inner(), 3);
    assert_eq!(*held, 2);
    drop(held);
    drop(rx);
    // No receiver left: still stored (a later subscribe sees it).
    assert_eq!(tx.send_replace(4).unwrap(), 2);
    assert_eq!(*tx.subscribe().borrow(), 4);
}

/// Closing an mpsc receiver while a permit is held: the permit's message
/// still arrives; a permit dropped unused ends the stream (no hang).
#[test]
fn an_mpsc_close_with_permits_held_ends_once_they_are_gone() {
    use triad::event_loop::sync::mpsc;
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(2);
        let used = tx.reserve().await.unwrap();
        let unused = tx.reserve().await.unwrap();
        rx.close();
        assert!(tx.send(9).await.unwrap_err().into_inner() == 9);
        let reader = spawn(async move {
            let mut got = Vec::new();
            while let Some(v) = rx.recv().await {
                got.push(v);
            }
            got
        });
        triad::event_loop::yield_now().await;
        used.send(1).unwrap();
        triad::event_loop::yield_now().await;
        drop(unused);
        let got = timeout(Duration::from_secs(5), reader).await;
        assert_eq!(got.expect("recv hung").unwrap(), [1]);
        drop(tx);
    });
}

/// A rendezvous send whose receiver closes while it is delivering still
/// delivers; a oneshot whose sender goes wakes its receiver; a broadcast
/// receiver learns its sender went.
#[test]
fn channels_wake_their_waiters_when_the_other_side_goes() {
    use triad::event_loop::sync::{broadcast, mpsc, oneshot};
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(0);
        let sender = spawn(async move { tx.send(5).await.map_err(|e| e.into_inner()) });
        triad::event_loop::yield_now().await;
        rx.close();
        assert_eq!(rx.recv().await, Some(5));
        assert_eq!(rx.recv().await, None);
        assert_eq!(sender.await.unwrap(), Ok(()));

        let (tx, rx) = oneshot::channel::<u32>();
        let waiter = spawn(rx);
        triad::event_loop::yield_now().await;
        drop(tx);
        let got = timeout(Duration::from_secs(5), waiter).await.expect("hang");
        assert!(got.unwrap().is_err());

        let (tx, mut rx) = broadcast::channel::<u32>(1);
        tx.send(1).unwrap();
        tx.send(2).unwrap(); // rx lags by one
        let waiter = spawn(async move {
            let mut seen = Vec::new();
            loop {
                match rx.recv().await {
                    Ok(v) => seen.push(Ok(v)),
                    Err(e) if e.is_sender_dropped() => break seen,
                    Err(e) => seen.push(Err(e.lagged())),
                }
            }
        });
        triad::event_loop::yield_now().await;
        drop(tx);
        let seen = timeout(Duration::from_secs(5), waiter).await.expect("hang");
        assert_eq!(seen.unwrap(), [Err(Some(1)), Ok(2)]);
    });
}

/// Dropping the loop frees what its tasks hold even through cycles (a
/// task holding its own handle, two tasks holding each other's): every
/// future is dropped and the socket they shared is closed.
#[test]
fn dropping_the_loop_breaks_cycles_between_tasks() {
    use std::cell::RefCell;
    use std::rc::Rc;
    use triad::event_loop::net::TcpListener;

    struct Alive(Rc<std::cell::Cell<usize>>);
    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.set(self.0.get() - 1);
        }
    }
    let alive = Rc::new(std::cell::Cell::new(0));
    let addr;
    {
        let ev = EventLoop::new().unwrap();
        let listener = ev.block_on(async {
            Rc::new(TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap())
        });
        addr = listener.local_addr().unwrap();
        let slot_a = Rc::new(RefCell::new(None));
        let slot_b = Rc::new(RefCell::new(None));
        for (mine, other) in [(&slot_a, &slot_b), (&slot_b, &slot_a)] {
            alive.set(alive.get() + 1);
            let guard = Alive(alive.clone());
            let (mine2, other, listener) = (mine.clone(), other.clone(), listener.clone());
            let handle = ev.spawn(async move {
                let _keep = (guard, mine2, other, listener);
                std::future::pending::<()>().await
            });
            *mine.borrow_mut() = Some(handle);
        }
        drop(listener);
        ev.block_on(triad::event_loop::yield_now());
        assert_eq!(alive.get(), 2);
    }
    assert_eq!(alive.get(), 0, "a task's future outlived its loop");
    // The listener was closed: its address is free again.
    std::net::TcpListener::bind(addr).expect("the listener's fd leaked");
}

/// Stream edge cases: an empty read returns at once, a big write goes out
/// in partial writes against a slow reader, a half-close lets the other
/// direction go on, and end of stream repeats.
#[test]
fn stream_reads_and_writes_at_the_edges() {
    use triad::event_loop::net::{TcpListener, TcpStream};
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();

        // Nothing sent yet: an empty read still returns Ok(0) at once.
        let empty = timeout(Duration::from_secs(2), client.read(&mut [])).await;
        assert_eq!(empty.expect("an empty read waited for data").unwrap(), 0);

        // 4 MiB, far beyond the socket buffers: many partial writes.
        let data: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
        let expected = data.clone();
        let reader = spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0; 1000];
            loop {
                match server.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
            // Half-closed by the peer: this side still writes; EOF repeats.
            assert_eq!(server.read(&mut buf).await.unwrap(), 0);
            server.write_all(b"bye").await.unwrap();
            got
        });
        client.write_all(&data).await.unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        let mut buf = [0; 16];
        loop {
            match client.read(&mut buf).await.unwrap() {
                0 => break,
                n => reply.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(reply, b"bye");
        assert!(reader.await.unwrap() == expected);
    });
}

/// Loops made and dropped, each with a timer armed, a socket and a remote
/// used from another thread, give every descriptor back. (Loose bound:
/// the other tests of this file open descriptors meanwhile.)
#[test]
fn loops_made_and_dropped_leak_no_descriptors() {
    let before = support::open_fds();
    for _ in 0..200 {
        let ev = EventLoop::new().unwrap();
        let remote = ev.remote();
        let task = std::thread::spawn(move || remote.spawn(async { 1 }).unwrap())
            .join()
            .unwrap();
        ev.block_on(async {
            let _listener =
                triad::event_loop::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let _ = timeout(Duration::from_micros(50), std::future::pending::<()>()).await;
            assert_eq!(task.await.unwrap(), 1);
        });
        let _armed = ev.spawn(sleep(Duration::from_secs(60)));
        ev.block_on(triad::event_loop::yield_now());
    }
    let after = support::open_fds();
    assert!(
        after < before + 100,
        "{before} descriptors before, {after} after"
    );
}

/// A connected UDP socket whose peer port is closed gets an ICMP error
/// (an `EPOLLERR` event): the next `recv` reports it, and the one after
/// waits for data again instead of spinning on the error for ever.
#[test]
fn a_udp_error_is_reported_once_then_recv_waits_again() {
    support::within(Duration::from_secs(30), || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let closed_addr = closed.local_addr().unwrap();
            drop(closed);
            let socket =
                triad::event_loop::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            socket.connect(closed_addr).unwrap();
            socket.send(b"anyone?").await.unwrap();
            let mut buf = [0; 16];
            let refused = timeout(Duration::from_secs(5), socket.recv(&mut buf))
                .await
                .expect("the ICMP error never came");
            assert_eq!(
                refused.unwrap_err().kind(),
                std::io::ErrorKind::ConnectionRefused
            );
            // Nothing more will come: the recv waits (and times out).
            let next = timeout(Duration::from_millis(20), socket.recv(&mut buf)).await;
            assert!(next.is_err(), "{next:?}");
        });
    });
}

/// A task group used where no loop runs does not panic: its children
/// never start, and `join_all` says so with the join error.
#[test]
fn a_task_group_outside_a_loop_reports_its_children_never_ran() {
    let mut group = triad::event_loop::TaskGroup::<u32, ()>::new();
    group.spawn(async { Ok(1) });
    let error = support::block_on(group.join_all()).unwrap_err();
    assert!(!error.is_failure());
    assert!(error.into_join_error().unwrap().is_outside_loop());
}

/// A rendezvous send completes when `recv_many` (not only `recv`) takes
/// its message, and `recv_many` with a zero limit returns at once.
#[test]
fn a_rendezvous_send_completes_when_recv_many_takes_it() {
    use triad::event_loop::sync::mpsc;
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(0);
        let senders: Vec<_> = (0..3)
            .map(|i| {
                let tx = tx.clone();
                spawn(async move { tx.send(i).await.is_ok() })
            })
            .collect();
        drop(tx);
        let mut got = Vec::new();
        assert_eq!(rx.recv_many(&mut got, 0).await, 0);
        while rx.recv_many(&mut got, 10).await > 0 {}
        assert_eq!(got, [0, 1, 2]);
        for sender in senders {
            let sent = timeout(Duration::from_secs(5), sender).await;
            assert!(sent.expect("a rendezvous send hung").unwrap());
        }
    });
}

/// Senders waiting in `closed()` learn of a receiver's `close()` (not
/// only of its drop): mpsc and oneshot.
#[test]
fn senders_waiting_for_closed_learn_of_close() {
    use triad::event_loop::sync::{mpsc, oneshot};
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let watcher = spawn(async move { tx.closed().await });
        triad::event_loop::yield_now().await;
        rx.close();
        assert!(timeout(Duration::from_secs(5), watcher).await.is_ok());

        let (mut tx, mut rx) = oneshot::channel::<u32>();
        let watcher = spawn(async move { tx.closed().await });
        triad::event_loop::yield_now().await;
        rx.close();
        assert!(timeout(Duration::from_secs(5), watcher).await.is_ok());
        assert!(rx.try_recv().is_err());
    });
}

/// Sockets that outlive their loop and are used on a later loop of the
/// same thread (which never polls the first loop's reactor) fail instead
/// of waiting for readiness that nothing will ever deliver (reactor.rs
/// rule 6): an operation that would block returns `WouldBlock`, and what
/// the kernel already has is still delivered.
#[test]
fn sockets_used_after_their_loop_is_dropped_fail_instead_of_hanging() {
    use std::io::{ErrorKind, Write};
    use triad::event_loop::net::{TcpListener, TcpStream, UdpSocket};
    support::within(Duration::from_secs(30), || {
        let first = EventLoop::new().unwrap();
        let (near, _far) = std::os::unix::net::UnixStream::pair().unwrap();
        near.set_nonblocking(true).unwrap();
        let fd = first.block_on(async { triad::event_loop::AsyncFd::new(near).unwrap() });
        let (udp, listener, mut peer, stream) = first.block_on(async {
            let udp = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            let peer = std::net::TcpStream::connect(addr).unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            (udp, listener, peer, stream)
        });
        drop(first);
        let second = EventLoop::new().unwrap();
        second.block_on(async {
            let mut buf = [0; 8];
            let error = timeout(Duration::from_secs(5), udp.recv_from(&mut buf))
                .await
                .expect("a UDP recv waited on a dropped loop")
                .unwrap_err();
            assert_eq!(error.kind(), ErrorKind::WouldBlock);
            let error = timeout(Duration::from_secs(5), listener.accept())
                .await
                .expect("an accept waited on a dropped loop")
                .unwrap_err();
            assert_eq!(std::io::Error::from(error).kind(), ErrorKind::WouldBlock);
            let mut stream: TcpStream = stream;
            let error = timeout(Duration::from_secs(5), stream.read(&mut buf))
                .await
                .expect("a TCP read waited on a dropped loop")
                .unwrap_err();
            assert_eq!(error.kind(), ErrorKind::WouldBlock);
            // Data the kernel holds is still read.
            peer.write_all(b"late").unwrap();
            let deadline = Instant::now() + Duration::from_secs(5);
            let n = loop {
                match stream.read(&mut buf).await {
                    Ok(n) => break n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                        sleep(Duration::from_millis(1)).await
                    }
                    Err(e) => panic!("{e}"),
                }
            };
            assert_eq!(&buf[..n], b"late");
            // A raw fd: ready for good, flagged as an error, and `try_io`
            // gives the operation's own `WouldBlock`.
            let mut guard = timeout(Duration::from_secs(5), fd.readable())
                .await
                .expect("an AsyncFd waited on a dropped loop");
            assert!(guard.is_error());
            let outcome = guard.try_io(|mut s| std::io::Read::read(&mut s, &mut buf));
            assert_eq!(outcome.unwrap().unwrap_err().kind(), ErrorKind::WouldBlock);
        });
    });
}

/// A remote channel's receiver moved to another loop (it is `Send`) ends
/// its stream once the loop the channel leads into is gone (channel.rs
/// rule 6): a refused send wakes it, and it gets what was queued, then
/// `None`, instead of waiting for messages that can no longer come.
#[test]
fn a_receiver_moved_off_its_loop_ends_when_that_loop_is_gone() {
    support::within(Duration::from_secs(30), || {
        let first = EventLoop::new().unwrap();
        let (tx, mut rx) = first.remote().channel::<u32>();
        tx.send(1).unwrap();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let second = EventLoop::new().unwrap();
            second.block_on(async move {
                let mut got = Vec::new();
                got.push(rx.recv().await);
                started_tx.send(()).unwrap();
                got.push(rx.recv().await); // parks: the queue is empty
                got
            })
        });
        started_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20)); // let it park
        drop(first);
        let refused = tx.send(2).unwrap_err();
        assert!(refused.is_loop_gone());
        assert_eq!(refused.into_inner(), 2);
        assert_eq!(reader.join().unwrap(), [Some(1), None]);
        // Still alive, the sender keeps being refused.
        assert!(tx.send(3).unwrap_err().is_loop_gone());
    });
}

/// `AsyncFd::try_new` that cannot register (no loop here) hands the value
/// back with its fd open, instead of closing it: the stream still carries
/// bytes to its peer.
#[test]
fn async_fd_try_new_hands_the_value_back_open() {
    use std::io::{Read, Write};
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let error = triad::event_loop::AsyncFd::try_new(a).unwrap_err();
    assert!(error.to_string().contains("could not be registered"));
    let (error, mut a) = error.into_parts();
    assert_eq!(error.kind(), std::io::ErrorKind::Other);
    a.write_all(b"still open").unwrap();
    drop(a);
    let mut got = String::new();
    b.read_to_string(&mut got).unwrap();
    assert_eq!(got, "still open");
}

/// A oneshot receiver that closed itself before any value was sent can
/// never get one: awaiting it is an error at once, as `try_recv` says
/// "disconnected", even while the sender lives (no hang). A value sent
/// before the close is still received first.
#[test]
fn a_closed_oneshot_receiver_ends_instead_of_waiting_for_the_sender() {
    use triad::event_loop::sync::oneshot;
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let (tx, mut rx) = oneshot::channel::<u8>();
        rx.close();
        let error = timeout(Duration::from_secs(5), &mut rx)
            .await
            .expect("no hang")
            .unwrap_err();
        assert!(error.is_closed() && !error.is_sender_dropped());
        assert!(rx.try_recv().unwrap_err().is_disconnected());
        assert!(tx.send(1).is_err());

        let (tx, mut rx) = oneshot::channel::<u8>();
        tx.send(7).unwrap();
        rx.close();
        assert_eq!(rx.try_recv(), Ok(7));
        assert!(rx.try_recv().unwrap_err().is_disconnected());
    });
}

/// A remote-channel send refused because the loop is gone wakes the
/// waiting receiver only after the channel's lock is released (channel.rs
/// rule 7): a waker that touches the channel (here it clones a sender, on
/// a thread of its own, and waits up to 10 s for that) finds it unlocked.
#[test]
fn a_send_refused_for_a_gone_loop_wakes_the_receiver_outside_the_lock() {
    use std::sync::{mpsc as std_mpsc, Arc, Mutex};
    use std::task::{Context, Wake, Waker};
    use triad::event_loop::Sender;

    struct CloneOnWake {
        tx: Mutex<Option<Sender<u32>>>,
        lock_was_free: Mutex<Vec<bool>>,
        cloner: Mutex<Option<std::thread::JoinHandle<()>>>,
    }
    impl Wake for CloneOnWake {
        fn wake(self: Arc<Self>) {
            let (done_tx, done_rx) = std_mpsc::channel();
            let this = self.clone();
            let cloner = std::thread::spawn(move || {
                // `Sender::clone` takes the channel's lock.
                let copy = this.tx.lock().unwrap().as_ref().cloned();
                drop(copy);
                let _ = done_tx.send(());
            });
            let free = done_rx.recv_timeout(Duration::from_secs(10)).is_ok();
            self.lock_was_free.lock().unwrap().push(free);
            *self.cloner.lock().unwrap() = Some(cloner);
        }
    }

    support::within(Duration::from_secs(30), || {
        let ev = EventLoop::new().unwrap();
        let (tx, mut rx) = ev.remote().channel::<u32>();
        let state = Arc::new(CloneOnWake {
            tx: Mutex::new(Some(tx.clone())),
            lock_was_free: Mutex::new(Vec::new()),
            cloner: Mutex::new(None),
        });
        let waker = Waker::from(state.clone());
        // Parked: the queue is empty and a sender lives.
        assert!(rx.poll_recv(&mut Context::from_waker(&waker)).is_pending());
        drop(waker);
        drop(ev);
        let refused = tx.send(7).unwrap_err();
        assert!(refused.is_loop_gone());
        assert_eq!(refused.into_inner(), 7);
        if let Some(cloner) = state.cloner.lock().unwrap().take() {
            cloner.join().unwrap();
        }
        assert_eq!(*state.lock_was_free.lock().unwrap(), [true]);
        // The receiver ends: the loop is gone (rule 6).
        assert!(rx.try_recv().unwrap_err().is_disconnected());
        state.tx.lock().unwrap().take();
    });
}

/// A local channel's receiver that is dropped while its waker is stored
/// (a `poll_recv` or a oneshot awaited, then given up: a `select` lost, a
/// timeout) lets go of that waker at once, and so does a oneshot sender
/// dropped while `poll_closed` waits: the other side may live on for long,
/// and a waker keeps its task's whole block (header and future storage)
/// alive.
#[test]
fn dropped_local_channel_ends_let_go_of_their_wakers() {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};
    use triad::event_loop::sync::{mpsc, oneshot};

    struct Nothing;
    impl Wake for Nothing {
        fn wake(self: Arc<Self>) {}
    }
    let counted = Arc::new(Nothing);
    let waker = Waker::from(counted.clone());
    let mut cx = Context::from_waker(&waker);
    // `counted` and `waker`: 2; each waker stored somewhere adds one.
    let stored = |counted: &Arc<Nothing>| Arc::strong_count(counted) - 2;

    let (tx, mut rx) = oneshot::channel::<u8>();
    assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
    assert_eq!(stored(&counted), 1);
    drop(rx);
    assert_eq!(stored(&counted), 0, "a dropped oneshot receiver");
    assert!(tx.send(1).is_err());

    let (mut tx, rx) = oneshot::channel::<u8>();
    assert!(tx.poll_closed(&mut cx).is_pending());
    assert_eq!(stored(&counted), 1);
    drop(tx);
    assert_eq!(stored(&counted), 0, "a dropped oneshot sender");
    drop(rx);

    for capacity in [None, Some(0), Some(4)] {
        let (tx, mut rx, unbounded) = match capacity {
            None => {
                let (tx, rx) = mpsc::unbounded_channel::<u8>();
                (None, rx, Some(tx))
            }
            Some(n) => {
                let (tx, rx) = mpsc::channel::<u8>(n);
                (Some(tx), rx, None)
            }
        };
        assert!(rx.poll_recv(&mut cx).is_pending());
        assert_eq!(stored(&counted), 1);
        drop(rx);
        assert_eq!(
            stored(&counted),
            0,
            "a dropped mpsc receiver ({capacity:?})"
        );
        if let Some(tx) = tx {
            assert!(tx.try_send(1).unwrap_err().is_closed());
        }
        if let Some(tx) = unbounded {
            assert!(tx.send(1).is_err());
        }
    }
}

/// A `timeout` whose future spends the whole budget at every poll (here a
/// zero-period interval, always due) still fires at its deadline: its
/// `Sleep`, out of budget too, never read the clock, and the future ran
/// until it finished by itself (timer.rs rule 7).
#[test]
fn a_timeout_fires_even_when_its_future_spends_the_whole_budget() {
    let ev = EventLoop::new().unwrap();
    let start = Instant::now();
    let ticks = std::cell::Cell::new(0u64);
    let outcome = ev.block_on(timeout(Duration::from_millis(20), async {
        let mut always_due = interval(Duration::ZERO);
        // Bounded, so that the test ends without the fix too.
        while start.elapsed() < Duration::from_secs(2) {
            always_due.tick().await;
            ticks.set(ticks.get() + 1);
        }
    }));
    assert!(outcome.is_err(), "the future ran to its end: {outcome:?}");
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(ticks.get() > 0);
}

/// A waker that panics as a primitive of `event_loop::sync` wakes its
/// waiters loses no other waiter: the panic reaches the caller of `set`,
/// `notify_waiters`, `close` or the release, after every other waiter was
/// woken (before, they were dropped with the unwinding: released or
/// granted, out of the wait list, their tasks never woke).
#[test]
fn a_waker_that_panics_as_a_sync_primitive_wakes_loses_no_other_waiter() {
    use std::rc::Rc;
    use triad::event_loop::sync::{Event, Notify, Semaphore};

    struct PanicOnWake;
    impl std::task::Wake for PanicOnWake {
        fn wake(self: std::sync::Arc<Self>) {
            panic!("this waker panics");
        }
    }

    /// Poll `first` with a panicking waker (it waits first), start a task
    /// on `second`, then `trigger`: the panic comes out of `trigger`, and
    /// the task completes.
    async fn check<A, B>(name: &str, first: A, second: B, trigger: impl FnOnce())
    where
        A: Future,
        B: Future + 'static,
    {
        let mut first = std::pin::pin!(first);
        let waker = std::task::Waker::from(std::sync::Arc::new(PanicOnWake));
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(first.as_mut().poll(&mut cx).is_pending(), "{name}");
        let task = spawn(second);
        triad::event_loop::yield_now().await; // the task waits now
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(trigger));
        assert!(
            caught.is_err(),
            "{name}: the waker's panic reaches the caller"
        );
        assert!(
            timeout(Duration::from_secs(5), task).await.is_ok(),
            "{name}: the other waiter was woken"
        );
    }

    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let notify = Rc::new(Notify::new());
        let other = notify.clone();
        check(
            "notify_waiters",
            notify.notified(),
            async move { other.notified().await },
            || notify.notify_waiters(),
        )
        .await;

        let event = Rc::new(Event::new());
        let other = event.clone();
        check(
            "Event::set",
            event.wait(),
            async move { other.wait().await },
            || event.set(),
        )
        .await;

        let closed = Rc::new(Semaphore::new(0));
        let other = closed.clone();
        check(
            "Semaphore::close",
            closed.acquire(),
            async move { assert!(other.acquire().await.is_err()) },
            || closed.close(),
        )
        .await;

        let released = Rc::new(Semaphore::new(0));
        let other = released.clone();
        check(
            "Semaphore::add_permits",
            released.acquire(),
            async move { drop(other.acquire().await.unwrap()) },
            || released.add_permits(2),
        )
        .await;
    });
}
