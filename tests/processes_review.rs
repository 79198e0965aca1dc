//! Edge cases found in an adversarial review of the process pool: extreme
//! durations, corrupt encodings and builder limits give typed outcomes,
//! never a panic or a hang.
#![cfg(feature = "processes")]

mod processes_support;

use std::time::Duration;

use processes_support::{no_leaks, within};
use triad::processes::{decode_from_slice, encode_to_vec, ProcessPool, MAX_EMPTY_ITEMS};

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[test]
fn waiting_with_the_longest_timeout_is_a_plain_wait() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || ProcessPool::builder().workers(1).build().unwrap(),
            |pool| {
                let mut handle = pool.submit(sleep_ms, 20);
                assert_eq!(handle.wait_timeout(Duration::MAX), Some(Ok(20)));
            },
        )
    });
}

#[test]
fn a_task_with_the_longest_timeout_runs_to_its_end() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || ProcessPool::builder().workers(1).build().unwrap(),
            |pool| {
                let handle = pool.submit_timeout(sleep_ms, 20, Some(Duration::MAX));
                assert_eq!(handle.wait(), Ok(20));
                // The pool goes on.
                assert_eq!(pool.submit(sleep_ms, 1).wait(), Ok(1));
            },
        )
    });
}

#[test]
fn a_pool_whose_default_timeout_is_the_longest_runs_its_tasks() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .task_timeout(Duration::MAX)
                    .build()
                    .unwrap()
            },
            |pool| assert_eq!(pool.map(sleep_ms, [5, 6]).unwrap(), [5, 6]),
        )
    });
}

#[test]
fn a_huge_count_of_zero_byte_items_is_refused_not_looped_over() {
    within(Duration::from_secs(10), || {
        let error = decode_from_slice::<Vec<()>>(&u64::MAX.to_le_bytes()).unwrap_err();
        assert!(!error.to_string().is_empty());
        let error =
            decode_from_slice::<Vec<((), [u8; 0])>>(&(1u64 << 60).to_le_bytes()).unwrap_err();
        assert!(!error.to_string().is_empty());
        // Nested: every inner count is small, their sum is not.
        let mut nested = encode_to_vec(&4u64);
        for _ in 0..4 {
            nested.extend(encode_to_vec(&(MAX_EMPTY_ITEMS as u64 / 2)));
        }
        assert!(decode_from_slice::<Vec<Vec<()>>>(&nested).is_err());
        // A nested Vec<Option<String>> still round-trips.
        let value = vec![vec![Some("a".to_string()), None], vec![], vec![None]];
        assert_eq!(
            decode_from_slice::<Vec<Vec<Option<String>>>>(&encode_to_vec(&value)),
            Ok(value)
        );
    });
}

/// A lying count before items of 64 KiB each, with 1 MiB of input left.
fn decode_large_items_of_a_lying_count(_: ()) -> bool {
    let mut bytes = encode_to_vec(&(1u64 << 40));
    bytes.resize(bytes.len() + (1 << 20), 0);
    decode_from_slice::<Vec<[u8; 1 << 16]>>(&bytes).is_err_and(|e| e.is_eof())
}

#[test]
fn a_lying_count_of_large_items_reserves_no_more_than_the_input() {
    within(Duration::from_secs(60), || {
        no_leaks(
            || {
                // In a worker under a memory limit: reserving a count's
                // worth of 64 KiB items (64 GiB) would be its death.
                ProcessPool::builder()
                    .workers(1)
                    .result_capacity(1 << 20)
                    .memory_limit(1 << 30)
                    .build()
                    .unwrap()
            },
            |pool| {
                let outcome = pool.submit(decode_large_items_of_a_lying_count, ()).wait();
                assert_eq!(outcome, Ok(true));
            },
        )
    });
}

fn abort_at_start() {
    std::process::abort()
}

fn exit_at_start() {
    std::process::exit(3)
}

/// 64 MiB at start: past a 48 MiB memory limit beyond the shared region.
fn allocate_at_start() {
    std::hint::black_box(vec![1u8; 64 << 20]);
}

fn double(x: u64) -> u64 {
    2 * x
}

#[test]
fn workers_that_die_while_starting_break_the_pool_instead_of_hanging_it() {
    processes_support::no_core_dumps();
    let starts: [fn(); 3] = [abort_at_start, exit_at_start, allocate_at_start];
    for start in starts {
        within(Duration::from_secs(60), move || {
            no_leaks(
                || {
                    ProcessPool::builder()
                        .workers(2)
                        .result_capacity(1 << 20)
                        .memory_limit(48 << 20)
                        .initializer(start)
                        .build()
                        .unwrap()
                },
                |pool| {
                    let error = pool.submit(double, 1).wait().unwrap_err();
                    assert!(error.is_broken(), "{error}");
                    assert!(pool.map(double, [1, 2]).unwrap_err().is_broken());
                    // Each worker was forked three times (zygote rule Z8:
                    // three failed starts in a row), not again and again.
                    assert_eq!(pool.stats().workers_started, 6);
                },
            )
        });
    }
}

/// The exit code of child `pid`, reaped; `None` (and the child killed and
/// reaped) if it has not exited within `limit`.
fn exit_code_within(pid: libc::pid_t, limit: Duration) -> Option<i32> {
    let start = std::time::Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: `pid` is our child, `status` a live int.
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if reaped == pid {
            return libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        }
        if start.elapsed() > limit {
            // SAFETY: our child, not reaped yet, so the pid is still its own.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            // SAFETY: as above.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a forked copy of a pool does, as an exit code: 0 when every call
/// gave `is_forked` and nothing blocked.
fn in_the_forked_child(
    pool: ProcessPool,
    pending: triad::processes::TaskHandle<u64>,
    queued: triad::processes::TaskHandle<u64>,
    finished: triad::processes::TaskHandle<u64>,
) -> i32 {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        if !pool.submit(double, 2).wait().is_err_and(|e| e.is_forked()) {
            return 2;
        }
        if !pool.map(double, [1, 2]).is_err_and(|e| e.is_forked()) {
            return 3;
        }
        let mut finished = finished;
        if !finished
            .try_wait()
            .is_some_and(|o| o.is_err_and(|e| e.is_forked()))
        {
            return 4;
        }
        // Introspection takes no lock either (a parent's thread may have
        // held one at the fork): nothing of the parent's is reported.
        if !pool.worker_pids().is_empty() {
            return 6;
        }
        if pool.stats() != triad::processes::PoolStats::default() {
            return 7;
        }
        if pool.zygote_pid() != 0 {
            return 8;
        }
        // A cancel would withdraw the parent's task: the slots are shared
        // memory (rule P9).
        if queued.cancel() || queued.is_running() || pending.is_running() {
            return 9;
        }
        drop(pending);
        drop(queued);
        drop(finished);
        drop(pool); // must neither shut the parent's pool down nor wait
        0
    }));
    outcome.unwrap_or(5)
}

#[test]
fn a_forked_copy_of_a_pool_refuses_work_and_leaves_the_parents_pool_alone() {
    within(Duration::from_secs(60), || {
        let _guard = processes_support::serial();
        let pool = ProcessPool::builder().workers(1).build().unwrap();
        let finished = pool.submit(double, 21);
        processes_support::eventually("the first task's end", || finished.is_finished());
        let pending = pool.submit(sleep_ms, 300);
        processes_support::eventually("the long task's start", || pending.is_running());
        // Queued behind it: the only worker is busy.
        let queued = pool.submit(double, 4);
        // SAFETY: the child calls only the pool's API, which in a forked
        // child touches no lock of the pool, then `_exit`s.
        let child = unsafe { libc::fork() };
        if child == 0 {
            let code = in_the_forked_child(pool, pending, queued, finished);
            // SAFETY: leave the child at once, running nothing of the
            // parent's (no atexit handler, no harness).
            unsafe { libc::_exit(code) }
        }
        assert!(child > 0);
        let status = exit_code_within(child, Duration::from_secs(10));
        assert_eq!(status, Some(0), "the child's exit code (None: it hung)");
        // The parent's pool and handles are as they were.
        assert_eq!(finished.wait(), Ok(42));
        assert_eq!(pending.wait(), Ok(300));
        assert_eq!(queued.wait(), Ok(8));
        assert_eq!(pool.submit(double, 5).wait(), Ok(10));
        drop(pool);
    });
}

/// A task timeout of zero is refused with a typed error, as the builder
/// refuses a default timeout of zero, wherever a timeout is given: it used
/// to be taken as one nanosecond, so the worker was killed at once, or the
/// task ran if it beat the supervisor to it.
#[test]
fn a_task_timeout_of_zero_is_an_invalid_argument_wherever_it_is_given() {
    within(Duration::from_secs(30), || {
        // Its children must not show up in another test's leak check.
        let _guard = processes_support::serial();
        let pool = ProcessPool::builder().workers(1).build().unwrap();
        let error = pool
            .submit_timeout(sleep_ms, 20, Some(Duration::ZERO))
            .wait()
            .unwrap_err();
        assert!(error.is_invalid_argument(), "{error}");
        assert_eq!(pool.stats().tasks_timed_out, 0);
        assert_eq!(pool.submit(sleep_ms, 1).wait(), Ok(1));
        let spawner = triad::processes::Spawner::builder()
            .max_processes(1)
            .build()
            .unwrap();
        let error = spawner
            .spawn_timeout(sleep_ms, 20, Some(Duration::ZERO))
            .wait()
            .unwrap_err();
        assert!(error.is_invalid_argument(), "{error}");
        // (`processes::spawn_timeout` takes the same path, through a
        // spawner of its own that would outlive this test.)
    });
}

/// Forks inside the task. The copy writes its pid to `path` and returns
/// 1000 (or panics, if `panic`); the worker waits for that, then returns 1.
fn fork_inside((path, panic): (String, bool)) -> u32 {
    // SAFETY: a worker has one thread, so the copy may do anything after
    // the fork; it returns (or unwinds) into the worker's code, the misuse
    // this checks.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let partial = format!("{path}.partial");
        std::fs::write(&partial, std::process::id().to_string()).unwrap();
        std::fs::rename(&partial, &path).unwrap();
        if panic {
            panic!("the forked copy panics");
        }
        return 1000;
    }
    while !std::path::Path::new(&path).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    1
}

fn my_pid(_: ()) -> u32 {
    std::process::id()
}

/// Whether process `pid` has ended (gone, or a zombie not reaped yet).
fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
    }
}

/// The copy forked inside a task or the initializer wrote its pid to
/// `path`: it ends, and none of the next 20 tasks runs anywhere but on
/// the pool's workers.
fn the_copy_left_and_never_serves(pool: &ProcessPool, path: &std::path::Path) {
    let copy: u32 = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let _ = std::fs::remove_file(path);
    processes_support::eventually("the forked copy leaves", || ended(copy));
    for _ in 0..20 {
        let pid = pool.submit(my_pid, ()).wait().unwrap();
        assert!(pool.worker_pids().contains(&pid), "{pid} is no worker");
        assert_ne!(pid, copy);
    }
}

/// A process forked inside a task that comes back out of it (returns, or
/// panics) is not the worker: it leaves at once, without writing the
/// task's outcome (the worker's result stands) and without serving the
/// pool's slots as a worker nobody supervises.
#[test]
fn a_process_forked_inside_a_task_never_acts_as_the_worker() {
    within(Duration::from_secs(30), || {
        let _guard = processes_support::serial();
        let pool = ProcessPool::builder().workers(1).build().unwrap();
        for panic in [false, true] {
            let path = std::env::temp_dir()
                .join(format!("triad-fork-inside-{}-{panic}", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let path_arg = path.to_string_lossy().into_owned();
            assert_eq!(pool.submit(fork_inside, (path_arg, panic)).wait(), Ok(1));
            the_copy_left_and_never_serves(&pool, &path);
        }
        drop(pool);
    });
}

/// An initializer that forks: the copy writes its pid to `path` and
/// returns; the worker waits for that, then returns.
fn fork_in_init(path: String) {
    // SAFETY: as in `fork_inside`.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let partial = format!("{path}.partial");
        std::fs::write(&partial, std::process::id().to_string()).unwrap();
        std::fs::rename(&partial, &path).unwrap();
        return;
    }
    while !std::path::Path::new(&path).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// As for a task: a process forked in the initializer that returns out of
/// it leaves at once, and never serves the pool as a worker.
#[test]
fn a_process_forked_inside_the_initializer_never_acts_as_the_worker() {
    within(Duration::from_secs(30), || {
        let _guard = processes_support::serial();
        let path = std::env::temp_dir().join(format!("triad-fork-in-init-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let pool = ProcessPool::builder()
            .workers(1)
            .initializer_with(fork_in_init, path.to_string_lossy().into_owned())
            .build()
            .unwrap();
        assert!(pool.submit(my_pid, ()).wait().is_ok());
        the_copy_left_and_never_serves(&pool, &path);
        drop(pool);
    });
}
