//! Every failure of issue 5 gives its task exactly one outcome, names its
//! cause, and the pool goes on (workers replaced); nothing is left behind.
#![cfg(feature = "processes")]

mod processes_support;

use std::time::{Duration, Instant};

use processes_support::{eventually, no_core_dumps, no_leaks, within};
use triad::processes::{ProcessPool, StartMode, TaskError};

fn pool(workers: usize) -> ProcessPool {
    ProcessPool::builder().workers(workers).build().unwrap()
}

fn triple_plus_one(i: u64) -> u64 {
    3 * i + 1
}

fn abort_it(_: ()) -> u64 {
    std::process::abort()
}

fn exit_with(code: i32) -> u64 {
    std::process::exit(code)
}

fn panic_with(message: String) -> u64 {
    panic!("{message}")
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn bytes_of_len(n: usize) -> Vec<u8> {
    vec![7; n]
}

fn len_of(v: Vec<u8>) -> usize {
    v.len()
}

#[test]
fn an_aborting_task_names_sigabrt_and_its_worker_is_replaced() {
    no_core_dumps();
    within(Duration::from_secs(30), || {
        no_leaks(
            || pool(2),
            |pool| {
                let started = pool.stats().workers_started;
                let error = pool.submit(abort_it, ()).wait().unwrap_err();
                assert!(error.is_crash(), "{error}");
                assert_eq!(error.signal(), Some(libc::SIGABRT));
                assert!(error.to_string().contains("SIGABRT"), "{error}");
                // The pool goes on, with a replacement.
                assert_eq!(pool.map(triple_plus_one, 0..20).unwrap()[19], 58);
                eventually("a replacement worker", || {
                    pool.stats().workers_started > started
                });
            },
        )
    });
}

#[test]
fn an_exiting_task_names_its_exit_code() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || pool(1),
            |pool| {
                let error = pool.submit(exit_with, 3).wait().unwrap_err();
                assert_eq!(error.exit_code(), Some(3), "{error}");
                assert_eq!(pool.submit(triple_plus_one, 1).wait().unwrap(), 4);
            },
        )
    });
}

#[test]
fn a_panic_is_an_error_with_its_message_and_the_worker_lives_on() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || pool(1),
            |pool| {
                let started = pool.stats().workers_started;
                let error = pool
                    .submit(panic_with, "boom 42".to_string())
                    .wait()
                    .unwrap_err();
                assert!(error.is_panic());
                assert_eq!(error.panic_message(), Some("boom 42"));
                assert_eq!(pool.submit(triple_plus_one, 2).wait().unwrap(), 7);
                assert_eq!(pool.stats().workers_started, started);
            },
        )
    });
}

#[test]
fn a_task_past_its_timeout_is_killed_and_the_pool_goes_on() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || pool(1),
            |pool| {
                let t0 = Instant::now();
                let error = pool
                    .submit_timeout(sleep_ms, 60_000, Some(Duration::from_millis(200)))
                    .wait()
                    .unwrap_err();
                assert!(error.is_timeout(), "{error}");
                assert!(t0.elapsed() < Duration::from_secs(5));
                assert_eq!(pool.stats().tasks_timed_out, 1);
                // A quick task under the same timeout is fine.
                let ok = pool.submit_timeout(sleep_ms, 1, Some(Duration::from_secs(5)));
                assert_eq!(ok.wait().unwrap(), 1);
            },
        )
    });
}

#[test]
fn the_default_timeout_applies_to_every_task() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(2)
                    .task_timeout(Duration::from_millis(150))
                    .build()
                    .unwrap()
            },
            |pool| {
                let handles: Vec<_> = [10u64, 10_000, 10, 10_000]
                    .into_iter()
                    .map(|ms| pool.submit(sleep_ms, ms))
                    .collect();
                let outcomes: Vec<_> = handles.into_iter().map(|h| h.wait()).collect();
                assert_eq!(outcomes[0], Ok(10));
                assert_eq!(outcomes[2], Ok(10));
                assert!(outcomes[1].as_ref().unwrap_err().is_timeout());
                assert!(outcomes[3].as_ref().unwrap_err().is_timeout());
            },
        )
    });
}

#[test]
fn results_and_arguments_too_large_give_both_sizes() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .result_capacity(1024)
                    .build()
                    .unwrap()
            },
            |pool| {
                let error = pool.submit(bytes_of_len, 2000).wait().unwrap_err();
                assert!(error.is_too_large());
                // 8 bytes of length + 2000 bytes.
                assert_eq!(error.sizes(), Some((2008, 1024)));
                let error = pool.submit(len_of, vec![0u8; 5000]).wait().unwrap_err();
                assert_eq!(error.sizes(), Some((5008, 1024)));
                // Exactly at capacity fits.
                assert_eq!(pool.submit(bytes_of_len, 1016).wait().unwrap().len(), 1016);
            },
        )
    });
}

#[test]
fn a_worker_killed_from_outside_fails_its_task_with_sigkill() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || pool(1),
            |pool| {
                let handle = pool.submit(sleep_ms, 30_000);
                std::thread::sleep(Duration::from_millis(300));
                let pids = pool.worker_pids();
                assert_eq!(pids.len(), 1);
                // SAFETY: kill touches no memory; the pid is our worker's.
                assert_eq!(unsafe { libc::kill(pids[0] as i32, libc::SIGKILL) }, 0);
                let error = handle.wait().unwrap_err();
                assert_eq!(error.signal(), Some(libc::SIGKILL), "{error}");
                assert_eq!(pool.submit(triple_plus_one, 3).wait().unwrap(), 10);
                eventually("the killed worker replaced", || {
                    let now = pool.worker_pids();
                    now.len() == 1 && !now.contains(&pids[0])
                });
            },
        )
    });
}

#[test]
fn graceful_shutdown_finishes_every_queued_task() {
    within(Duration::from_secs(30), || {
        let _guard = processes_support::serial();
        let pool = pool(2);
        let handles: Vec<_> = (0..12).map(|_| pool.submit(sleep_ms, 30)).collect();
        pool.shutdown();
        for handle in handles {
            assert_eq!(handle.wait(), Ok(30));
        }
    });
}

#[test]
fn immediate_shutdown_gives_every_pending_task_an_outcome() {
    within(Duration::from_secs(30), || {
        let _guard = processes_support::serial();
        let pool = pool(2);
        let handles: Vec<_> = (0..8).map(|_| pool.submit(sleep_ms, 20_000)).collect();
        std::thread::sleep(Duration::from_millis(200));
        let t0 = Instant::now();
        pool.shutdown_now();
        assert!(t0.elapsed() < Duration::from_secs(5));
        let outcomes: Vec<Result<u64, TaskError>> = handles.into_iter().map(|h| h.wait()).collect();
        assert!(
            outcomes
                .iter()
                .all(|o| o.as_ref().unwrap_err().is_cancelled()),
            "{outcomes:?}"
        );
    });
}

#[test]
fn submitting_after_shutdown_began_is_an_error_not_a_hang() {
    within(Duration::from_secs(30), || {
        let _guard = processes_support::serial();
        let pool = pool(1);
        let outer = std::sync::Arc::new(pool);
        let inner = outer.clone();
        drop(outer);
        // Not shut down yet: still works.
        assert_eq!(inner.submit(triple_plus_one, 0).wait().unwrap(), 1);
        let pool = std::sync::Arc::try_unwrap(inner).unwrap();
        pool.shutdown();
    });
}

#[test]
fn crashes_every_hundredth_task_and_none_is_lost_or_hung() {
    // P5 of benchmarks.md, smaller: 1,000 tasks, every i % 100 == 99 aborts.
    no_core_dumps();
    within(Duration::from_secs(120), || {
        no_leaks(
            || pool(2),
            |pool| {
                fn task(i: u64) -> u64 {
                    if i % 100 == 99 {
                        std::process::abort();
                    }
                    3 * i + 1
                }
                let handles: Vec<_> = (0..1000u64).map(|i| (i, pool.submit(task, i))).collect();
                let (mut ok, mut crash) = (0, 0);
                for (i, handle) in handles {
                    match handle.wait() {
                        Ok(v) => {
                            assert_eq!(v, 3 * i + 1);
                            ok += 1;
                        }
                        Err(e) => {
                            assert_eq!(i % 100, 99, "task {i} lost: {e}");
                            assert_eq!(e.signal(), Some(libc::SIGABRT));
                            crash += 1;
                        }
                    }
                }
                assert_eq!((ok, crash), (990, 10));
            },
        )
    });
}

#[test]
fn bad_configuration_is_a_typed_error() {
    let e = ProcessPool::builder().workers(0).build().unwrap_err();
    assert!(e.is_zero_workers() && e.is_bad_config());
    let e = ProcessPool::builder()
        .result_capacity(0)
        .build()
        .unwrap_err();
    assert!(e.is_bad_config());
    let e = ProcessPool::builder()
        .slots_per_worker(0)
        .build()
        .unwrap_err();
    assert!(e.is_bad_config());
    let e = ProcessPool::builder()
        .max_tasks_per_worker(0)
        .build()
        .unwrap_err();
    assert!(e.is_bad_config());
    let e = ProcessPool::builder()
        .task_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(e.is_bad_config());
    let e = ProcessPool::builder()
        .workers(1)
        .memory_limit(4096)
        .build()
        .unwrap_err();
    let (limit, shared) = e.memory_limit_too_small().unwrap();
    assert_eq!(limit, 4096);
    assert!(shared > limit);
    let e = ProcessPool::builder()
        .workers(100)
        .slots_per_worker(100)
        .build()
        .unwrap_err();
    assert!(e.is_bad_config());
}

#[test]
fn a_result_capacity_past_the_address_space_is_a_typed_error_not_a_panic() {
    // Rounding the capacity up to a page overflowed (a panic), and a
    // region past `isize::MAX` bytes was called "too many slots".
    for capacity in [usize::MAX, usize::MAX - 4095, isize::MAX as usize] {
        let e = ProcessPool::builder()
            .workers(1)
            .slots_per_worker(2)
            .result_capacity(capacity)
            .build()
            .unwrap_err();
        assert_eq!(e.region_too_large(), Some((2, capacity)), "{e}");
        assert!(e.is_bad_config());
    }
}

#[test]
fn a_direct_fork_is_refused_while_other_threads_exist() {
    let _guard = processes_support::serial();
    // The test harness runs this test on a thread of its own; make sure of
    // a second thread anyway.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || rx.recv());
    let e = ProcessPool::builder()
        .workers(1)
        .start_mode(StartMode::Fork)
        .build()
        .unwrap_err();
    assert!(e.threaded_parent().unwrap() >= 2, "{e}");
    // Auto picks the exec'd zygote instead.
    let pool = ProcessPool::builder().workers(1).build().unwrap();
    assert_eq!(pool.start_mode(), StartMode::Exec);
    drop(pool);
    drop(tx);
    let _ = other.join();
}

#[test]
fn a_function_outside_the_binary_is_refused_with_a_typed_error() {
    // An address in libc (a shared library), as a task and as an
    // initializer. Only ever compared, never called: the pool refuses it
    // before any worker could jump there.
    // SAFETY: a fn pointer only has to be non-null to be valid; this one
    // is never called (the pool refuses it at submit, as checked below).
    let foreign: fn(u64) -> u64 =
        unsafe { std::mem::transmute::<*const (), fn(u64) -> u64>(libc::getpid as *const ()) };
    // SAFETY: as above: `build` refuses it before any worker starts.
    let foreign_init: fn() =
        unsafe { std::mem::transmute::<*const (), fn()>(libc::getpid as *const ()) };
    let e = ProcessPool::builder()
        .workers(1)
        .initializer(foreign_init)
        .build()
        .unwrap_err();
    assert!(e.is_foreign_function() && e.is_bad_config(), "{e}");
    within(Duration::from_secs(30), move || {
        no_leaks(
            || pool(1),
            |pool| {
                let error = pool.submit(foreign, 1).wait().unwrap_err();
                assert!(error.is_foreign_function(), "{error}");
                let error = pool.map(foreign, 0..3u64).unwrap_err();
                assert!(error.is_foreign_function(), "{error}");
                // Nothing was taken from the pool by the refusals.
                assert_eq!(pool.map(triple_plus_one, 0..8u64).unwrap()[7], 22);
            },
        )
    });
}
