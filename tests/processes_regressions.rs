//! Regressions found in review of the process pool: each test names the
//! failing scenario it reproduced before its fix.
#![cfg(feature = "processes")]

mod processes_support;

use std::future::Future;
use std::os::fd::AsRawFd;
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use processes_support::{no_leaks, within};
use triad::processes::{Encode, ProcessPool, SharedBytes, TaskError, Writer};

fn double(x: u64) -> u64 {
    x * 2
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn sleep_us(us: u64) -> u64 {
    std::thread::sleep(Duration::from_micros(us));
    us
}

fn readable(fd: i32, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is a live pollfd; poll reads and writes one entry.
    unsafe { libc::poll(&mut pfd, 1, ms) == 1 }
}

/// Scenario: a handle's completion fd was the slot's eventfd; once its
/// finished task was evicted (copied out) by a submit that needed the slot,
/// that submit drained the eventfd for the next task: an event loop waiting
/// on the fd never saw the first task's completion.
#[test]
fn a_completion_fd_stays_readable_after_its_task_is_evicted() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .slots_per_worker(1)
                    .build()
                    .unwrap()
            },
            |pool| {
                let mut first = pool.submit(double, 1);
                let fd = first.completion_fd().expect("an eventfd").as_raw_fd();
                assert!(readable(fd, 10_000), "never readable");
                // The only slot holds `first`'s result: this submit evicts it.
                let second = pool.submit(sleep_ms, 300);
                assert!(readable(fd, 0), "the evicted task's fd was drained");
                assert_eq!(first.try_wait(), Some(Ok(2)));
                assert_eq!(second.wait(), Ok(300));
            },
        )
    });
}

/// The length of a byte vector: the task of the failed-handle scenarios.
fn len_of(v: Vec<u8>) -> usize {
    v.len()
}

/// One worker whose slots take 64 bytes: an argument of 1,000 fails at
/// submit (the failed-handle scenarios).
fn small_argument_pool() -> ProcessPool {
    ProcessPool::builder()
        .workers(1)
        .result_capacity(64)
        .build()
        .unwrap()
}

/// Scenario: a failed handle (argument too large) lent fd 0 (stdin) as its
/// completion fd; stdin may be closed, or a terminal that is never readable.
#[test]
fn a_failed_handle_has_a_readable_completion_fd_of_its_own() {
    within(Duration::from_secs(30), || {
        no_leaks(small_argument_pool, |pool| {
            let mut handle = pool.submit(len_of, vec![0u8; 1000]);
            let fd = handle.completion_fd().expect("an eventfd").as_raw_fd();
            assert_ne!(fd, 0, "stdin is not a completion fd");
            assert!(readable(fd, 0));
            assert!(handle.try_wait().unwrap().unwrap_err().is_too_large());
        })
    });
}

/// Scenario: two failed handles lent the same descriptor (the pool's one
/// always-readable eventfd), so an event loop that registers each handle's
/// completion fd failed on the second (`EEXIST`), and the descriptor was
/// not "the handle's own, closed with the handle" as documented.
#[test]
fn failed_handles_have_completion_fds_of_their_own() {
    within(Duration::from_secs(30), || {
        no_leaks(small_argument_pool, |pool| {
            let mut first = pool.submit(len_of, vec![0u8; 1000]);
            let mut second = pool.submit(len_of, vec![0u8; 1000]);
            let fd = first.completion_fd().unwrap().as_raw_fd();
            assert_eq!(
                first.completion_fd().unwrap().as_raw_fd(),
                fd,
                "the same on every call"
            );
            let other = second.completion_fd().unwrap().as_raw_fd();
            assert_ne!(fd, other, "each handle's own");
            assert!(readable(fd, 0) && readable(other, 0));
            assert!(first.try_wait().unwrap().unwrap_err().is_too_large());
            drop(first); // closes its own (`no_leaks` counts them)
            assert!(readable(other, 0));
            assert!(second.try_wait().unwrap().unwrap_err().is_too_large());
        })
    });
}

struct Exploding;

impl Encode for Exploding {
    fn encode(&self, _: &mut Writer<'_>) {
        panic!("cannot encode this");
    }
}

impl triad::processes::Decode for Exploding {
    fn decode(_: &mut triad::processes::Reader<'_>) -> Result<Self, triad::processes::DecodeError> {
        Ok(Exploding)
    }
}

fn take_exploding(_: Exploding) -> u64 {
    0
}

/// Scenario: an argument whose `Encode` panicked left its slot taken out of
/// the free list for good (and ran user code under the pool's lock); with
/// one slot, the next submit waited forever.
#[test]
fn a_panicking_encode_gives_its_slot_back() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .slots_per_worker(1)
                    .build()
                    .unwrap()
            },
            |pool| {
                let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    pool.submit(take_exploding, Exploding)
                }));
                assert!(panicked.is_err());
                assert_eq!(pool.submit(double, 4).wait(), Ok(8));
            },
        )
    });
}

fn pattern(n: usize) -> SharedBytes {
    SharedBytes::from(vec![5u8; n])
}

/// Scenario: every slot held by a live `SharedBytes` view: `submit` waited
/// for a slot that only the waiting thread itself could free (a hang).
#[test]
fn submitting_while_every_slot_is_held_by_a_view_is_an_error() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .slots_per_worker(2)
                    .build()
                    .unwrap()
            },
            |pool| {
                let a = pool.submit(pattern, 100).wait().unwrap();
                let b = pool.submit(pattern, 100).wait().unwrap();
                assert!(a.is_in_place() && b.is_in_place());
                let error = pool.submit(double, 1).wait().unwrap_err();
                assert!(error.is_all_slots_held(), "{error}");
                drop(a);
                assert_eq!(pool.submit(double, 1).wait(), Ok(2));
                drop(b);
            },
        )
    });
}

struct CountingWaker(AtomicU32);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Scenario: an awaited task finished and, before the supervisor relayed
/// its eventfd to the waker, a submit evicted it: the eviction dropped the
/// waker and the next submit drained the fd, so the future was never woken.
#[test]
fn an_awaited_task_evicted_by_a_submit_is_still_woken() {
    within(Duration::from_secs(120), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .slots_per_worker(1)
                    .build()
                    .unwrap()
            },
            |pool| {
                for round in 0..300u64 {
                    let state = Arc::new(CountingWaker(AtomicU32::new(0)));
                    let waker = Waker::from(state.clone());
                    let mut cx = Context::from_waker(&waker);
                    let mut future = pin!(pool.submit(double, round));
                    if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                        assert_eq!(v, Ok(2 * round));
                        continue;
                    }
                    // Needs the only slot: evicts `future`'s task as soon as
                    // it is done, racing the supervisor's relay.
                    let next = pool.submit(double, 0);
                    let t0 = Instant::now();
                    while state.0.load(Ordering::SeqCst) == 0 {
                        assert!(
                            t0.elapsed() < Duration::from_secs(5),
                            "round {round}: the evicted task's waker never woke"
                        );
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    assert_eq!(future.as_mut().poll(&mut cx), Poll::Ready(Ok(2 * round)));
                    assert_eq!(next.wait(), Ok(0));
                }
            },
        )
    });
}

/// Scenario: a worker is killed for a task's timeout just as that task
/// completes; the worker had already claimed the next task, which then
/// failed with "timed out" though it had run for an instant. A task may
/// only time out after its own timeout.
#[test]
fn a_timeout_kill_never_blames_the_next_task() {
    within(Duration::from_secs(120), || {
        no_leaks(
            || ProcessPool::builder().workers(1).build().unwrap(),
            |pool| {
                for round in 0..200u64 {
                    // Runs right up to its timeout (give or take 0.1 ms)...
                    let timeout = Duration::from_micros(20_000 + (round % 5) * 100 - 200);
                    let first = pool.submit_timeout(sleep_us, 20_000, Some(timeout));
                    // ...and this one is claimed right after, if `first`
                    // completes: it is still running when a late kill lands.
                    let second = pool.submit_timeout(sleep_ms, 30, Some(Duration::from_secs(30)));
                    let _ = first.wait();
                    match second.wait() {
                        Ok(v) => assert_eq!(v, 30),
                        Err(e) => panic!("round {round}: the next task got {e}"),
                    }
                }
            },
        )
    });
}

/// Scenario: the zygote dies while tasks are queued; its workers die with
/// it (death signal) but may claim a task between the supervisor's look at
/// a slot and its cancel. Every task must still get an outcome, and the
/// pool says it is broken.
#[test]
fn killing_the_zygote_gives_every_queued_task_an_outcome() {
    fn short(i: u64) -> u64 {
        std::thread::sleep(Duration::from_micros(200));
        i
    }
    within(Duration::from_secs(120), || {
        for _round in 0..10 {
            let _guard = processes_support::serial();
            let pool = ProcessPool::builder()
                .workers(2)
                .slots_per_worker(16)
                .build()
                .unwrap();
            let handles: Vec<_> = (0..32u64).map(|i| pool.submit(short, i)).collect();
            let zygote = pool.zygote_pid() as i32;
            // SAFETY: kill touches no memory; the pid is our zygote's.
            let killed = unsafe { libc::kill(zygote, libc::SIGKILL) };
            assert_eq!(killed, 0);
            for (i, h) in handles.into_iter().enumerate() {
                match h.wait() {
                    Ok(v) => assert_eq!(v, i as u64),
                    Err(e) => assert!(e.is_broken() || e.is_crash(), "{e}"),
                }
            }
            // The zygote's death reaches the supervisor as EOF on its report
            // pipe, and its workers die by their death signal, both a moment
            // after the kill: until then a worker still alive may run a new
            // task. Once noticed, every submit says the pool is broken.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                let after: Result<u64, TaskError> = pool.submit(double, 1).wait();
                match after {
                    Ok(v) => assert_eq!(v, 2),
                    Err(e) if e.is_broken() => break,
                    Err(e) => assert!(e.is_crash(), "{e}"),
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the pool never noticed its zygote died"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(pool.submit(double, 1).wait().unwrap_err().is_broken());
            pool.shutdown();
        }
    });
}

/// The descriptors of a worker other than 0, 1 and 2 that are not
/// close-on-exec, as "fd:target".
fn inheritable_fds(_: ()) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // SAFETY: F_GETFD only reads the descriptor's flags; a closed one
        // (the listing's own) gives -1.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if fd > 2 && flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
            let target = std::fs::read_link(entry.path()).unwrap_or_default();
            out.push(format!("{fd}:{}", target.display()));
        }
    }
    out
}

/// Scenario: the exec'd zygote receives its descriptors with close-on-exec
/// cleared (they must survive its exec) and never set it again, so every
/// worker held the slots' eventfds without it, and any program a task
/// started inherited them.
#[test]
fn a_worker_has_no_descriptor_a_program_it_starts_would_inherit() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || ProcessPool::builder().workers(1).build().unwrap(),
            |pool| {
                assert_eq!(pool.start_mode(), triad::processes::StartMode::Exec);
                let leaked = pool.submit(inheritable_fds, ()).wait().unwrap();
                assert!(leaked.is_empty(), "inheritable in a worker: {leaked:?}");
            },
        )
    });
}
