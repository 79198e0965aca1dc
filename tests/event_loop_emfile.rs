//! `accept` under descriptor exhaustion (a lowered `RLIMIT_NOFILE`): a typed
//! error, a back-off instead of a spin, other tasks keep running, and the
//! pending connection is accepted once descriptors are free again.
//!
//! Its own test binary (one process): the limit is process-wide.
#![cfg(feature = "event-loop")]

mod support;

use std::cell::Cell;
use std::fs::File;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use support::{nofile, serial, set_nofile};
use triad::event_loop::net::tcp::TcpListener;
use triad::event_loop::{spawn, timeout, yield_now, EventLoop};

/// Lower the soft descriptor limit to 128 (keeping `original`'s hard
/// limit) and open `/dev/null` until none is left: the descriptors to drop
/// before the limit is restored.
fn use_up_descriptors(original: libc::rlimit) -> Vec<File> {
    set_nofile(libc::rlimit {
        rlim_cur: 128,
        rlim_max: original.rlim_max,
    });
    let mut burners = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        burners.push(f);
    }
    burners
}

#[test]
fn accept_under_emfile_backs_off_with_a_typed_error_and_recovers() {
    let _serial = serial(); // the descriptor limit is process-wide
    let original = nofile();
    let ev = EventLoop::new().unwrap();
    let outcome = ev.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        client.write_all(b"queued").unwrap();

        let burners = use_up_descriptors(original);

        let ticks = Rc::new(Cell::new(0u64));
        let ticker = spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    ticks.set(ticks.get() + 1);
                    yield_now().await;
                }
            }
        });

        let mut failures = 0;
        let mut ticks_between = Vec::new();
        for _ in 0..4 {
            let before = ticks.get();
            let err = listener.accept().await.map(|_| ()).unwrap_err();
            assert!(err.is_resource_exhaustion(), "{err}");
            assert_eq!(err.io_error().raw_os_error(), Some(libc::EMFILE));
            ticks_between.push(ticks.get() - before);
            failures += 1;
        }
        // The retries after the first waited their back-off, during which
        // the other task ran (a spinning accept would starve it).
        assert!(
            ticks_between[1..].iter().all(|&t| t > 0),
            "{ticks_between:?}"
        );

        drop(burners);
        set_nofile(original);
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 6];
        stream.read_exact(&mut buf).await.unwrap();
        ticker.abort();
        assert!(ticker.await.unwrap_err().is_cancelled());
        (failures, buf)
    });
    set_nofile(original);
    assert_eq!(outcome, (4, *b"queued"));
}

#[test]
fn acceptors_sharing_a_listener_all_wake_after_its_back_off() {
    let _serial = serial();
    let original = nofile();
    let ev = EventLoop::new().unwrap();
    let accepted = ev.block_on(async {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap());
        let addr = listener.local_addr().unwrap();
        let clients: Vec<_> = (0..2)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let burners = use_up_descriptors(original);
        // The failure starts the listener's back-off...
        let err = listener.accept().await.map(|_| ()).unwrap_err();
        assert!(err.is_resource_exhaustion(), "{err}");
        // ...which both acceptors then wait out (and any further one, if
        // they come to try while descriptors are still short).
        let acceptors: Vec<_> = (0..2)
            .map(|_| {
                let listener = listener.clone();
                spawn(async move {
                    loop {
                        match listener.accept().await {
                            Ok(_) => return true,
                            Err(e) if e.is_resource_exhaustion() => continue,
                            Err(_) => return false,
                        }
                    }
                })
            })
            .collect();
        yield_now().await;
        drop(burners);
        set_nofile(original);
        let mut accepted = 0;
        for acceptor in acceptors {
            let done = timeout(Duration::from_secs(5), acceptor).await;
            accepted += usize::from(done.is_ok_and(|ok| ok.unwrap()));
        }
        drop(clients);
        accepted
    });
    set_nofile(original);
    assert_eq!(accepted, 2, "each acceptor got one of the two connections");
}
