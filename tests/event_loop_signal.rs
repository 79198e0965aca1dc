//! Signals as events, by raising real signals at this test process.
//!
//! The only test file that raises signals. Tests of one file run on threads
//! of one process, and a signal's disposition is process-wide: every test
//! here holds `SIGNALS` for its whole length, uses SIGUSR1, SIGUSR2 or
//! SIGHUP only, and leaves each disposition as it found it.
#![cfg(feature = "event-loop")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use triad::event_loop::future::{select, Either};
use triad::event_loop::signal::{signal, SignalKind};
use triad::event_loop::{sleep, timeout, EventLoop};

static SIGNALS: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SIGNALS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Send `kind` to this process (any thread not blocking it takes it).
fn raise(kind: SignalKind) {
    // SAFETY: `kill` with our own pid and a signal that a handler of ours
    // (or of the test) catches while the test runs.
    let rc = unsafe { libc::kill(libc::getpid(), kind.as_raw()) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
}

/// The handler currently installed for `signo`.
fn disposition(signo: i32) -> libc::sighandler_t {
    // SAFETY: all-zero is a valid `sigaction`; a null new action only reads.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(signo, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(50);

#[test]
fn a_raised_signal_wakes_its_listener_once_per_recv() {
    let _serial = serial();
    let before = disposition(libc::SIGUSR1);
    let ev = EventLoop::new().unwrap();
    ev.block_on(async {
        let mut usr1 = signal(SignalKind::User1).unwrap();
        assert_eq!(usr1.kind(), SignalKind::User1);
        raise(SignalKind::User1);
        timeout(WAIT, usr1.recv())
            .await
            .expect("delivered")
            .unwrap();
        // Two raises while not waiting: at least one report, at most two.
        // (The kernel merges a standard signal raised while the same one is
        // pending, but `kill` to the process may run the handler on another
        // of the harness's threads in between, so one or two both happen.)
        raise(SignalKind::User1);
        raise(SignalKind::User1);
        timeout(WAIT, usr1.recv())
            .await
            .expect("delivered")
            .unwrap();
        let _maybe_second = timeout(QUIET, usr1.recv()).await;
        assert!(timeout(QUIET, usr1.recv()).await.is_err(), "nothing else");
        // A listener waiting when the signal comes (the loop is parked in
        // epoll): raised from another thread.
        let raiser = thread::spawn(|| {
            thread::sleep(Duration::from_millis(20));
            raise(SignalKind::User1);
        });
        timeout(WAIT, usr1.recv())
            .await
            .expect("delivered while parked")
            .unwrap();
        raiser.join().unwrap();
    });
    drop(ev);
    assert_eq!(disposition(libc::SIGUSR1), before, "disposition restored");
}

#[test]
fn every_listener_on_every_loop_hears_the_signal() {
    let _serial = serial();
    let before = disposition(libc::SIGHUP);
    let ready = std::sync::Arc::new(Barrier::new(3));
    let loops: Vec<_> = (0..2)
        .map(|_| {
            let ready = ready.clone();
            thread::spawn(move || {
                let ev = EventLoop::new().unwrap();
                ev.block_on(async {
                    let mut a = signal(SignalKind::Hangup).unwrap();
                    let mut b = signal(SignalKind::Hangup).unwrap();
                    ready.wait();
                    let heard_a = matches!(timeout(WAIT, a.recv()).await, Ok(Ok(())));
                    let heard_b = matches!(timeout(WAIT, b.recv()).await, Ok(Ok(())));
                    usize::from(heard_a) + usize::from(heard_b)
                })
            })
        })
        .collect();
    ready.wait(); // four listeners on two loops exist
    raise(SignalKind::Hangup);
    let heard: usize = loops.into_iter().map(|l| l.join().unwrap()).sum();
    assert_eq!(heard, 4, "listeners that heard SIGHUP");
    assert_eq!(disposition(libc::SIGHUP), before, "disposition restored");
}

static TEST_HANDLER_CALLS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn test_handler(_: libc::c_int) {
    TEST_HANDLER_CALLS.fetch_add(1, Ordering::SeqCst);
}

/// Install `handler` for `signo`; returns the action it replaced.
fn install(signo: i32, handler: libc::sighandler_t) -> libc::sigaction {
    // SAFETY: all-zero is a valid `sigaction`; both pointers are live
    // locals; `test_handler` only does an atomic add (async-signal-safe).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(signo, &action, &mut old), 0);
        old
    }
}

#[test]
fn the_previous_disposition_comes_back_when_the_last_listener_is_dropped() {
    let _serial = serial();
    let original = install(
        libc::SIGUSR2,
        test_handler as extern "C" fn(libc::c_int) as libc::sighandler_t,
    );
    let ev = EventLoop::new().unwrap();
    let calls = || TEST_HANDLER_CALLS.load(Ordering::SeqCst);
    let start = calls();
    ev.block_on(async {
        let mut first = signal(SignalKind::User2).unwrap();
        let second = signal(SignalKind::User2).unwrap();
        raise(SignalKind::User2);
        timeout(WAIT, first.recv())
            .await
            .expect("ours while listened")
            .unwrap();
        drop(second); // one listener left: still ours
        raise(SignalKind::User2);
        timeout(WAIT, first.recv())
            .await
            .expect("ours while listened")
            .unwrap();
        assert_eq!(calls(), start, "the test's handler was replaced");
        drop(first); // the last one: the test's handler is back
        raise(SignalKind::User2);
    });
    // `kill` at our own process delivers before it returns when no thread
    // blocks the signal; allow a moment for another thread to run it.
    for _ in 0..100 {
        if calls() > start {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(calls(), start + 1, "the test's handler ran once");
    // SAFETY: `original` is what the kernel gave us for SIGUSR2.
    unsafe {
        assert_eq!(
            libc::sigaction(libc::SIGUSR2, &original, std::ptr::null_mut()),
            0
        )
    };
}

#[test]
fn signal_off_the_loop_is_an_error() {
    let error = signal(SignalKind::Hangup).unwrap_err();
    assert!(error.to_string().contains("no triad event loop"), "{error}");
}

/// `future`'s output, or `None` once `WAIT` has passed. The sleep is polled
/// first: a listener that notices its signal only when the sleep's timer
/// wakes its task (and not when the signal comes) loses.
async fn within_wait<T>(future: impl std::future::Future<Output = T>) -> Option<T> {
    match select(sleep(WAIT), future).await {
        Either::Left(()) => None,
        Either::Right(output) => Some(output),
    }
}

/// Raise `kind` from another thread once the loop has had time to park.
fn raise_soon(kind: SignalKind) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        raise(kind);
    })
}

#[test]
fn a_listener_that_outlives_its_loop_hears_the_signal_on_the_next_loop() {
    let _serial = serial();
    let before = disposition(libc::SIGUSR1);
    let first = EventLoop::new().unwrap();
    let mut usr1 = first.block_on(async { signal(SignalKind::User1) }).unwrap();
    drop(first);
    let second = EventLoop::new().unwrap();
    let raiser = raise_soon(SignalKind::User1);
    let heard = second.block_on(within_wait(usr1.recv()));
    raiser.join().unwrap();
    assert!(
        matches!(heard, Some(Ok(()))),
        "heard on the loop that polled it: {heard:?}"
    );
    drop(usr1);
    assert_eq!(disposition(libc::SIGUSR1), before, "disposition restored");
    drop(second);
}

#[test]
fn a_listener_follows_the_loop_that_polls_it_while_its_own_is_idle() {
    let _serial = serial();
    let before = disposition(libc::SIGUSR2);
    let idle = EventLoop::new().unwrap();
    let mut usr2 = idle.block_on(async { signal(SignalKind::User2) }).unwrap();
    let running = EventLoop::new().unwrap();
    let raiser = raise_soon(SignalKind::User2);
    let heard = running.block_on(within_wait(usr2.recv()));
    raiser.join().unwrap();
    assert!(matches!(heard, Some(Ok(()))), "heard: {heard:?}");
    // And back on the first loop, which now listens again.
    let raiser = raise_soon(SignalKind::User2);
    let heard = idle.block_on(within_wait(usr2.recv()));
    raiser.join().unwrap();
    assert!(matches!(heard, Some(Ok(()))), "heard back home: {heard:?}");
    drop(usr2);
    assert_eq!(disposition(libc::SIGUSR2), before, "disposition restored");
}

#[test]
fn a_listener_polled_off_any_loop_is_an_error() {
    let _serial = serial();
    let before = disposition(libc::SIGHUP);
    let ev = EventLoop::new().unwrap();
    let mut hup = ev.block_on(async { signal(SignalKind::Hangup) }).unwrap();
    struct NoWake;
    impl std::task::Wake for NoWake {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(NoWake));
    let mut cx = std::task::Context::from_waker(&waker);
    match hup.poll_recv(&mut cx) {
        std::task::Poll::Ready(Err(error)) => {
            assert!(error.to_string().contains("no triad event loop"), "{error}")
        }
        other => panic!("expected the no-loop error, got {other:?}"),
    }
    drop(hup);
    drop(ev);
    assert_eq!(disposition(libc::SIGHUP), before, "disposition restored");
}

/// A task that waited for a signal and ended (its timeout won) is not kept
/// alive by its loop's list of signal waiters until the next delivery: the
/// next registration drops the wakers of finished tasks (signal.rs rule
/// 6). Each task's `JoinHandle` is polled once with a probe waker, which
/// the task's block keeps until it is freed, so the probe's count is the
/// number of blocks still alive. No signal is raised.
#[test]
fn finished_tasks_are_not_kept_alive_by_the_signal_waiters() {
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::Pin;
    use std::rc::Rc;
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};
    use triad::event_loop::spawn;

    struct Probe;
    impl Wake for Probe {
        fn wake(self: Arc<Self>) {}
    }
    const TASKS: usize = 20;
    let _serial = serial();
    let before = disposition(libc::SIGUSR2);
    let probe = Arc::new(Probe);
    let ev = EventLoop::new().unwrap();
    let (alive, foreign) = ev.block_on(async {
        let ended = Rc::new(Cell::new(0));
        let waker = Waker::from(probe.clone());
        for _ in 0..TASKS {
            let ended = ended.clone();
            let mut handle = spawn(async move {
                let mut usr2 = signal(SignalKind::User2).unwrap();
                let waited = timeout(Duration::from_millis(1), usr2.recv()).await;
                assert!(waited.is_err(), "no SIGUSR2 is raised");
                ended.set(ended.get() + 1);
            });
            let polled = Pin::new(&mut handle).poll(&mut Context::from_waker(&waker));
            assert!(polled.is_pending());
        } // each handle dropped: its task is detached
        drop(waker);
        while ended.get() < TASKS {
            sleep(Duration::from_millis(1)).await;
        }
        // One more registration, by a foreign waker (`block_on`'s), which
        // stays.
        let mut usr2 = signal(SignalKind::User2).unwrap();
        let waited = timeout(Duration::from_millis(1), usr2.recv()).await;
        (Arc::strong_count(&probe) - 1, waited.is_err())
    });
    assert_eq!(alive, 0, "blocks of finished tasks still alive");
    assert!(foreign);
    drop(ev);
    assert_eq!(disposition(libc::SIGUSR2), before, "disposition restored");
}

/// A waker that panics as a signal wakes it loses no other listener's
/// wake-up: the others of that delivery are woken at the next turn, where
/// they were dropped with the unwinding before, and their tasks, the pipe
/// drained, waited for a delivery that had already come.
#[test]
fn a_waker_that_panics_as_its_signal_arrives_loses_no_other_listener() {
    struct PanicOnWake;
    impl std::task::Wake for PanicOnWake {
        fn wake(self: std::sync::Arc<Self>) {
            panic!("this waker panics");
        }
    }
    let _serial = serial();
    let before = disposition(libc::SIGHUP);
    let ev = EventLoop::new().unwrap();
    let (mut panicky, task) = ev.block_on(async {
        let mut panicky = signal(SignalKind::Hangup).unwrap();
        let waker = std::task::Waker::from(std::sync::Arc::new(PanicOnWake));
        let mut cx = std::task::Context::from_waker(&waker);
        // Registered first, so woken first.
        assert!(panicky.poll_recv(&mut cx).is_pending());
        let mut other = signal(SignalKind::Hangup).unwrap();
        let task = triad::event_loop::spawn(async move { other.recv().await });
        sleep(Duration::from_millis(1)).await; // the task waits now
        (panicky, task)
    });
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ev.block_on(async {
            raise(SignalKind::Hangup);
            sleep(WAIT).await; // the delivery's wakes panic out of the turn
        })
    }));
    assert!(
        caught.is_err(),
        "the waker's panic reaches block_on's caller"
    );
    let heard = ev.block_on(within_wait(task));
    assert!(
        matches!(heard, Some(Ok(Ok(())))),
        "the other listener heard the delivery: {heard:?}"
    );
    // The panicking listener saw the delivery too, at its next poll.
    assert!(matches!(
        ev.block_on(within_wait(panicky.recv())),
        Some(Ok(()))
    ));
    drop(panicky);
    drop(ev);
    assert_eq!(disposition(libc::SIGHUP), before, "disposition restored");
}
