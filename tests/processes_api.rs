//! The pool's API, end to end through real worker processes.
#![cfg(feature = "processes")]

mod processes_support;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use processes_support::{no_core_dumps, no_leaks, within};
use triad::processes::{ProcessPool, SharedBytes, StartMode};

fn pool(workers: usize) -> ProcessPool {
    ProcessPool::builder().workers(workers).build().unwrap()
}

fn double(x: u64) -> u64 {
    x * 2
}

fn slow_double(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(100));
    x * 2
}

#[derive(Debug, PartialEq, Clone)]
struct Point {
    x: i32,
    y: i32,
    label: String,
    tags: Vec<Option<u8>>,
}
triad::wire_struct!(Point { x, y, label, tags });

fn mirror(p: Point) -> (Point, f64, bool, [u16; 2], Result<char, String>) {
    let mirrored = Point {
        x: -p.x,
        y: -p.y,
        label: p.label.to_uppercase(),
        tags: p.tags.iter().rev().cloned().collect(),
    };
    (mirrored, 0.5, true, [1, 2], Ok('λ'))
}

#[test]
fn user_structs_and_std_types_cross_both_ways() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || pool(1),
            |pool| {
                let p = Point {
                    x: 1,
                    y: -2,
                    label: "abc".into(),
                    tags: vec![Some(1), None],
                };
                let (m, f, b, a, r) = pool.submit(mirror, p).wait().unwrap();
                assert_eq!(m.label, "ABC");
                assert_eq!((m.x, m.y), (-1, 2));
                assert_eq!(m.tags, vec![None, Some(1)]);
                assert_eq!((f, b, a, r), (0.5, true, [1, 2], Ok('λ')));
            },
        )
    });
}

fn pattern(n: usize) -> SharedBytes {
    SharedBytes::from((0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

#[test]
fn byte_results_are_read_in_place_and_their_slot_is_reused_after_drop() {
    within(Duration::from_secs(60), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .slots_per_worker(2)
                    .result_capacity(4 << 20)
                    .build()
                    .unwrap()
            },
            |pool| {
                // Many more results than slots: each view is dropped before
                // the next round, so its slot comes back.
                for round in 0..10 {
                    let views: Vec<SharedBytes> = (0..2)
                        .map(|_| pool.submit(pattern, 3 << 20))
                        .collect::<Vec<_>>()
                        .into_iter()
                        .map(|h| h.wait().unwrap())
                        .collect();
                    for v in &views {
                        assert!(v.is_in_place(), "round {round}");
                        assert_eq!(v.len(), 3 << 20);
                        assert!(v.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
                    }
                }
            },
        )
    });
}

#[test]
fn more_tasks_than_slots_without_waiting_all_complete() {
    // Results left uncollected are copied out of their slot when a submit
    // needs it (eviction): submitting never deadlocks on unwaited handles.
    within(Duration::from_secs(60), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(2)
                    .slots_per_worker(1)
                    .build()
                    .unwrap()
            },
            |pool| {
                let handles: Vec<_> = (0..50u64).map(|i| pool.submit(double, i)).collect();
                let results: Vec<u64> = handles.into_iter().map(|h| h.wait().unwrap()).collect();
                assert_eq!(results, (0..50).map(|i| i * 2).collect::<Vec<_>>());
                assert!(pool.stats().evictions > 0);
            },
        )
    });
}

#[test]
fn dropped_handles_give_their_slots_back() {
    within(Duration::from_secs(60), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .slots_per_worker(2)
                    .build()
                    .unwrap()
            },
            |pool| {
                for i in 0..20u64 {
                    drop(pool.submit(double, i));
                }
                assert_eq!(pool.submit(double, 21).wait().unwrap(), 42);
            },
        )
    });
}

#[test]
fn map_imap_unordered_and_chunked_map_agree() {
    within(Duration::from_secs(60), || {
        no_leaks(
            || pool(2),
            |pool| {
                let expected: Vec<u64> = (0..300u64).map(|x| x * 2).collect();
                assert_eq!(pool.map(double, 0..300u64).unwrap(), expected);
                assert_eq!(pool.map_chunked(double, 0..300u64, 32).unwrap(), expected);
                // A chunk of 0 is a typed error, and nothing was submitted.
                let zero = pool.map_chunked(double, 0..300u64, 0).unwrap_err();
                assert!(zero.is_invalid_argument(), "{zero}");
                assert!(!zero.is_crash() && !zero.is_pool_closed(), "{zero}");
                let mut unordered: Vec<(usize, u64)> = pool
                    .imap_unordered(double, 0..300u64)
                    .map(|(i, r)| (i, r.unwrap()))
                    .collect();
                unordered.sort();
                assert_eq!(
                    unordered,
                    expected.iter().copied().enumerate().collect::<Vec<_>>()
                );
                let ordered: Vec<u64> = pool.imap(double, 0..10u64).map(Result::unwrap).collect();
                assert_eq!(ordered, expected[..10]);
            },
        )
    });
}

fn double_or_abort(x: u64) -> u64 {
    if x % 50 == 49 {
        std::process::abort();
    }
    x * 2
}

#[test]
fn imap_unordered_gives_each_index_once_with_crashes_and_a_slot_held_elsewhere() {
    no_core_dumps();
    within(Duration::from_secs(60), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(2)
                    .slots_per_worker(2)
                    .build()
                    .unwrap()
            },
            |pool| {
                // A slow task of our own holds one of the 4 slots meanwhile:
                // the batch must make do with the others, keeping its item
                // for later when it finds none free.
                let held = pool.submit(slow_double, 21);
                let mut seen = vec![0u32; 200];
                let mut crashes = 0;
                for (index, result) in pool.imap_unordered(double_or_abort, 0..200u64) {
                    seen[index] += 1;
                    match result {
                        Ok(value) => assert_eq!(value, index as u64 * 2),
                        Err(error) => {
                            assert_eq!(index % 50, 49, "{error}");
                            assert_eq!(error.signal(), Some(SIGABRT), "{error}");
                            crashes += 1;
                        }
                    }
                }
                assert!(seen.iter().all(|&n| n == 1), "each index exactly once");
                assert_eq!(crashes, 4);
                assert_eq!(held.wait(), Ok(42));
            },
        )
    });
}

/// SIGABRT's number on Linux.
const SIGABRT: i32 = 6;

#[test]
fn wait_timeout_and_try_wait() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || pool(1),
            |pool| {
                let mut handle = pool.submit(slow_double, 4);
                assert!(handle.try_wait().is_none());
                assert!(handle.wait_timeout(Duration::from_millis(10)).is_none());
                assert_eq!(handle.wait_timeout(Duration::from_secs(10)), Some(Ok(8)));
            },
        )
    });
}

struct CountingWaker(AtomicU32, std::thread::Thread);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        self.1.unpark();
    }
}

fn block_on<F: Future>(f: F) -> (F::Output, u32) {
    let waker_state = Arc::new(CountingWaker(AtomicU32::new(0), std::thread::current()));
    let waker = Waker::from(waker_state.clone());
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return (v, waker_state.0.load(Ordering::SeqCst));
        }
        std::thread::park_timeout(Duration::from_secs(1));
    }
}

#[test]
fn a_handle_is_a_future_woken_by_its_completion() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || pool(1),
            |pool| {
                let (value, wakes) = block_on(pool.submit(slow_double, 5));
                assert_eq!(value, Ok(10));
                assert!(wakes >= 1, "completed without a wake-up");
            },
        )
    });
}

#[test]
fn the_completion_fd_becomes_readable_when_the_task_is_done() {
    use std::os::fd::AsRawFd;
    within(Duration::from_secs(30), || {
        no_leaks(
            || pool(1),
            |pool| {
                let mut handle = pool.submit(slow_double, 6);
                let fd = handle.completion_fd().expect("an eventfd").as_raw_fd();
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: `pfd` is a live pollfd; poll reads one entry.
                let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
                assert_eq!(ready, 0, "readable before the task ran");
                // SAFETY: as above.
                let ready = unsafe { libc::poll(&mut pfd, 1, 10_000) };
                assert_eq!(ready, 1);
                assert_eq!(handle.try_wait(), Some(Ok(12)));
            },
        )
    });
}

static INITIALIZED: AtomicU32 = AtomicU32::new(0);

fn init() {
    INITIALIZED.store(7, Ordering::SeqCst);
}

fn read_initialized(_: ()) -> u32 {
    INITIALIZED.load(Ordering::SeqCst)
}

fn my_pid(_: ()) -> u32 {
    std::process::id()
}

#[test]
fn the_initializer_runs_in_every_worker() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(2)
                    .initializer(init)
                    .build()
                    .unwrap()
            },
            |pool| {
                let seen = pool.map(read_initialized, vec![(); 8]).unwrap();
                assert!(seen.iter().all(|&v| v == 7));
                // Only in the workers: the parent never ran it.
                assert_eq!(INITIALIZED.load(Ordering::SeqCst), 0);
            },
        )
    });
}

fn failing_init() {
    panic!("no database");
}

#[test]
fn a_failing_initializer_breaks_the_pool_instead_of_hanging_it() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(2)
                    .initializer(failing_init)
                    .build()
                    .unwrap()
            },
            |pool| {
                let error = pool.submit(double, 1).wait().unwrap_err();
                assert!(error.is_broken(), "{error}");
            },
        )
    });
}

/// What `init_with` was given, in each worker.
static GIVEN: std::sync::OnceLock<(String, Vec<u8>)> = std::sync::OnceLock::new();

fn init_with(arg: (String, Vec<u8>)) {
    GIVEN.set(arg).unwrap();
}

/// The worker's pid, and what its initializer was given (length and sum of
/// the bytes, to keep the result small).
fn read_given(_: ()) -> (u32, String, u64, u64) {
    let (word, bytes) = GIVEN.get().expect("the initializer ran");
    let sum = bytes.iter().map(|&b| b as u64).sum();
    (std::process::id(), word.clone(), bytes.len() as u64, sum)
}

/// (`StartMode::Fork` gets the same in `processes_fork_mode.rs`: the
/// harness's threads make this process an exec'd zygote's parent.)
#[test]
fn the_initializers_argument_reaches_every_worker_of_an_execd_zygote() {
    // 300 KB: the argument spans many pages after the slot table.
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let sum: u64 = bytes.iter().map(|&b| b as u64).sum();
    within(Duration::from_secs(30), move || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(2)
                    .start_mode(StartMode::Exec)
                    // A new worker for every task: replacements get it too.
                    .max_tasks_per_worker(1)
                    .initializer_with(init_with, ("db".to_string(), bytes.clone()))
                    .build()
                    .unwrap()
            },
            |pool| {
                let seen = pool.map(read_given, vec![(); 6]).unwrap();
                let pids: std::collections::HashSet<u32> = seen.iter().map(|s| s.0).collect();
                assert_eq!(pids.len(), 6, "each task ran in a fresh worker");
                for (_, word, len, got_sum) in seen {
                    assert_eq!((word.as_str(), len, got_sum), ("db", 300_000, sum));
                }
                assert!(GIVEN.get().is_none(), "never run in the parent");
            },
        )
    });
}

#[test]
fn the_initializers_argument_counts_against_the_memory_limit() {
    let builder = || {
        ProcessPool::builder()
            .workers(1)
            .slots_per_worker(1)
            .result_capacity(4096)
            .memory_limit(1 << 20)
    };
    let big = builder()
        .initializer_with(init_with, (String::new(), vec![0; 2 << 20]))
        .build()
        .unwrap_err();
    let (limit, shared) = big.memory_limit_too_small().unwrap();
    assert_eq!(limit, 1 << 20);
    assert!(shared > 2 << 20, "{shared}");
    // The limit is only short of the big argument: a small one builds.
    // (No task runs: a worker in 1 MiB of address space cannot map
    // anything new, and under AddressSanitizer it cannot even start.)
    within(Duration::from_secs(30), move || {
        no_leaks(
            || builder().initializer_with(init_count, 5).build().unwrap(),
            |pool| assert_eq!(pool.workers(), 1),
        )
    });
}

#[test]
fn a_builders_debug_gives_the_initializers_argument_length_not_its_bytes() {
    // A builder is configuration, and gets logged: a megabyte of argument
    // printed as a megabyte of numbers would drown the log.
    let builder = ProcessPool::builder()
        .workers(1)
        .initializer_with(init_with, ("db".to_string(), vec![7; 1 << 20]));
    let debug = format!("{builder:?}");
    assert!(debug.len() < 1000, "{} bytes of Debug", debug.len());
    // The encoded length: the string's and the vector's, each with a u64
    // length before it.
    assert!(debug.contains("arg_len: 1048594"), "{debug}");
}

fn init_count(n: u32) {
    INITIALIZED.store(n, Ordering::SeqCst);
}

#[test]
fn the_last_initializer_set_is_the_one_that_runs() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .initializer_with(init_count, 3)
                    .initializer(init)
                    .build()
                    .unwrap()
            },
            |pool| assert_eq!(pool.submit(read_initialized, ()).wait(), Ok(7)),
        );
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .initializer(init)
                    .initializer_with(init_count, 3)
                    .build()
                    .unwrap()
            },
            |pool| assert_eq!(pool.submit(read_initialized, ()).wait(), Ok(3)),
        );
    });
}

/// Encodes a `u32` but decodes it as two: every worker's decode fails.
#[derive(Debug)]
struct Mismatched;

impl triad::processes::Encode for Mismatched {
    fn encode(&self, w: &mut triad::processes::Writer<'_>) {
        triad::processes::Encode::encode(&7u32, w);
    }
}

impl triad::processes::Decode for Mismatched {
    fn decode(r: &mut triad::processes::Reader<'_>) -> Result<Self, triad::processes::DecodeError> {
        let (_, _): (u32, u32) = (r.read()?, r.read()?);
        Ok(Mismatched)
    }
}

fn init_mismatched(_: Mismatched) {
    INITIALIZED.store(99, Ordering::SeqCst);
}

#[test]
fn an_initializer_argument_that_does_not_decode_breaks_the_pool() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(2)
                    .initializer_with(init_mismatched, Mismatched)
                    .build()
                    .unwrap()
            },
            |pool| {
                let error = pool.submit(read_initialized, ()).wait().unwrap_err();
                assert!(error.is_broken(), "{error}");
            },
        )
    });
}

fn hanging_init() {
    std::thread::sleep(Duration::from_secs(3600));
}

fn quick_init() {
    std::thread::sleep(Duration::from_millis(20));
    INITIALIZED.store(11, Ordering::SeqCst);
}

fn nap_then_read(ms: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(ms));
    INITIALIZED.load(Ordering::SeqCst)
}

#[test]
fn an_initializer_past_its_timeout_breaks_the_pool_instead_of_hanging_it() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(2)
                    .initializer(hanging_init)
                    .initializer_timeout(Duration::from_millis(200))
                    .build()
                    .unwrap()
            },
            |pool| {
                let error = pool.submit(double, 1).wait().unwrap_err();
                assert!(error.is_broken(), "{error}");
                // Both workers were killed three times in a row (zygote
                // rule Z8), and never started again.
                assert_eq!(pool.stats().workers_started, 6);
            },
        )
    });
}

/// Fails its worker's first start only (a marker directory, made once,
/// says a start already failed): by a panic, or by hanging past the
/// initializer timeout.
fn fail_first_start((marker, hang): (String, bool)) {
    if std::fs::create_dir(&marker).is_ok() {
        if hang {
            std::thread::sleep(Duration::from_secs(3600));
        }
        panic!("the first start fails");
    }
    INITIALIZED.store(11, Ordering::SeqCst);
}

/// `stats().workers_started` once it reached `expected` (or after 5 s).
/// A task's result can come before the supervisor has read the SPAWNED
/// report of the worker that ran it (nothing orders the two), so a count
/// read right after a `wait` may miss that worker.
fn workers_started_once_settled(pool: &ProcessPool, expected: u64) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let started = pool.stats().workers_started;
        if started >= expected || std::time::Instant::now() >= deadline {
            return started;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_worker_whose_start_failed_once_is_started_again() {
    // Zygote rule Z8: a failed start (a panic, or a kill past the
    // initializer timeout) is tried again after a back-off; the pool keeps
    // its worker. Before, one failure gave the worker up for good, and a
    // pool of one worker was broken.
    for hang in [false, true] {
        let marker = std::env::temp_dir().join(format!(
            "triad-fail-first-start-{}-{hang}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir(&marker);
        let arg = (marker.to_string_lossy().into_owned(), hang);
        within(Duration::from_secs(30), move || {
            no_leaks(
                || {
                    ProcessPool::builder()
                        .workers(1)
                        .initializer_with(fail_first_start, arg.clone())
                        .initializer_timeout(Duration::from_millis(300))
                        .build()
                        .unwrap()
                },
                |pool| {
                    assert_eq!(pool.submit(nap_then_read, 0).wait(), Ok(11), "hang: {hang}");
                    assert_eq!(workers_started_once_settled(pool, 2), 2, "hang: {hang}");
                    assert_eq!(pool.map(double, 0..4).unwrap(), [0, 2, 4, 6]);
                },
            )
        });
        assert!(marker.exists(), "the first start ran and failed");
        std::fs::remove_dir(&marker).unwrap();
    }
}

#[test]
fn an_initializer_within_its_timeout_leaves_no_timer_behind() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .initializer(quick_init)
                    .initializer_timeout(Duration::from_millis(300))
                    .build()
                    .unwrap()
            },
            |pool| {
                // The task outlives the initializer's deadline by far.
                assert_eq!(pool.submit(nap_then_read, 900).wait(), Ok(11));
                assert_eq!(pool.stats().workers_started, 1);
            },
        )
    });
    let error = ProcessPool::builder()
        .initializer(quick_init)
        .initializer_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(error.is_bad_config(), "{error}");
    assert!(error.to_string().contains("longer than zero"), "{error}");
    // A timeout with no initializer to bound is refused, not ignored.
    let error = ProcessPool::builder()
        .initializer_timeout(Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert!(error.is_bad_config(), "{error}");
    assert!(error.to_string().contains("no initializer"), "{error}");
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[test]
fn cancel_withdraws_only_a_task_no_worker_has_taken() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || pool(1),
            |pool| {
                let running = pool.submit(nap, 300);
                while !running.is_running() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                // Queued behind it: the only worker is busy.
                let before = pool.submit(double, 1);
                let withdrawn = pool.submit(double, 2);
                let after = pool.submit(double, 3);
                assert!(!withdrawn.is_running());
                assert!(withdrawn.cancel());
                assert!(
                    withdrawn.cancel(),
                    "still cancelled: Python's says true again"
                );
                assert!(withdrawn.is_finished());
                assert!(!running.cancel(), "a worker has it");
                let fd = std::os::fd::AsRawFd::as_raw_fd(&withdrawn.completion_fd().unwrap());
                let mut poll = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, for the length given.
                assert_eq!(unsafe { libc::poll(&mut poll, 1, 10_000) }, 1);
                let mut withdrawn = withdrawn;
                let error = withdrawn.try_wait().unwrap().unwrap_err();
                assert!(error.is_cancelled(), "{error}");
                assert!(withdrawn.cancel(), "its outcome taken: still cancelled");
                assert_eq!(
                    error.to_string(),
                    "the task was cancelled through its handle before it ran"
                );
                assert_eq!(running.wait(), Ok(300));
                assert_eq!((before.wait(), after.wait()), (Ok(2), Ok(6)));
                // Finished, taken or not: nothing to cancel.
                let done = pool.submit(double, 4);
                while !done.is_finished() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                assert!(!done.cancel());
                assert_eq!(done.wait(), Ok(8));
                // No worker died for it, and the withdrawn slot is reused.
                assert_eq!(pool.stats().workers_exited, 0);
                let all = pool.map(double, 0..(pool.slots() as u64 * 3)).unwrap();
                assert_eq!(all.len(), pool.slots() * 3);
            },
        )
    });
}

#[test]
fn an_awaited_task_cancelled_between_polls_completes_its_future() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || pool(1),
            |pool| {
                let running = pool.submit(nap, 200);
                while !running.is_running() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let mut queued = pool.submit(double, 1);
                let woken = Arc::new(CountingWaker(AtomicU32::new(0), std::thread::current()));
                let waker = Waker::from(woken.clone());
                let mut cx = Context::from_waker(&waker);
                assert!(pin!(&mut queued).poll(&mut cx).is_pending());
                assert!(queued.cancel());
                // The supervisor relays the slot to the registered waker.
                let start = std::time::Instant::now();
                while woken.0.load(Ordering::SeqCst) == 0 {
                    assert!(start.elapsed() < Duration::from_secs(10), "never woken");
                    std::thread::sleep(Duration::from_millis(1));
                }
                match pin!(&mut queued).poll(&mut cx) {
                    Poll::Ready(Err(error)) => assert!(error.is_cancelled(), "{error}"),
                    other => panic!("{other:?}"),
                }
                assert_eq!(running.wait(), Ok(200));
            },
        )
    });
}

/// Fails at once for 0; otherwise naps `ms`, then appends a byte to the
/// file at `path` (one byte per task that ran to its end).
fn mark_after((path, ms): (String, u64)) -> u64 {
    assert!(ms != 0, "the first item fails");
    std::thread::sleep(Duration::from_millis(ms));
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    file.write_all(b"x").unwrap();
    ms
}

#[test]
fn a_map_that_stops_early_withdraws_the_tasks_no_worker_has_taken() {
    // One worker, eight slots: the first item fails at once, and seven
    // tasks of 500 ms each are queued behind it, all in flight. Stopping
    // there (`map`'s first error, an iterator dropped) withdraws those the
    // worker has not taken, as Python's `Executor.map` cancels its pending
    // futures; the one it took (at most two on a slow machine) runs on.
    type Stop = fn(&ProcessPool, Vec<(String, u64)>);
    let stops: [(&str, Stop); 4] = [
        ("map", |pool, items| {
            let error = pool.map(mark_after, items).unwrap_err();
            assert!(error.is_panic(), "{error}");
        }),
        ("map_chunked", |pool, items| {
            let error = pool.map_chunked(mark_after, items, 1).unwrap_err();
            assert!(error.is_panic(), "{error}");
        }),
        ("imap", |pool, items| {
            let first = pool.imap(mark_after, items).next().unwrap();
            assert!(first.unwrap_err().is_panic());
        }),
        ("imap_unordered", |pool, items| {
            let (index, first) = pool.imap_unordered(mark_after, items).next().unwrap();
            assert_eq!(index, 0);
            assert!(first.unwrap_err().is_panic());
        }),
    ];
    for (name, stop) in stops {
        let path =
            std::env::temp_dir().join(format!("triad-withdrawn-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let items: Vec<(String, u64)> = (0..8)
            .map(|i| {
                (
                    path.to_str().unwrap().to_string(),
                    if i == 0 { 0 } else { 500 },
                )
            })
            .collect();
        within(Duration::from_secs(30), move || {
            no_leaks(
                || {
                    ProcessPool::builder()
                        .workers(1)
                        .slots_per_worker(8)
                        .build()
                        .unwrap()
                },
                |pool| stop(pool, items),
            )
        });
        // The pool's drop waited for every task it still had.
        let ran = std::fs::metadata(&path).map_or(0, |m| m.len());
        let _ = std::fs::remove_file(&path);
        assert!(ran <= 2, "{name}: {ran} of the 7 queued tasks ran");
    }
}

#[test]
fn workers_are_replaced_after_max_tasks() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .max_tasks_per_worker(2)
                    .build()
                    .unwrap()
            },
            |pool| {
                let pids: Vec<u32> = (0..6)
                    .map(|_| pool.submit(my_pid, ()).wait().unwrap())
                    .collect();
                assert_eq!(pids[0], pids[1]);
                assert_ne!(pids[1], pids[2]);
                assert_eq!(pids[2], pids[3]);
                assert_ne!(pids[3], pids[4]);
            },
        )
    });
}

#[test]
fn pinned_and_memory_limited_workers_run_tasks() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(2)
                    .pin_cores(true)
                    .result_capacity(1 << 20)
                    .memory_limit(4 << 30)
                    .build()
                    .unwrap()
            },
            |pool| assert_eq!(pool.map(double, 0..10u64).unwrap()[9], 18),
        )
    });
}
