//! Edge cases of the facade an adversarial review checked: the free
//! functions with no runtime, handles of a dropped runtime from many
//! threads, a loop task's handle outliving its runtime, an endless blocking
//! keep-alive, blocking jobs joining blocking jobs on a small pool, a CPU
//! job waiting for a process task whose submit was queued, a runtime
//! dropped in a forked child, `spawn_blocking` in a forked child.
#![cfg(feature = "runtime")]

mod runtime_support;

use std::time::Duration;

use runtime_support::{block_on, runtime, within};
use triad::runtime::{spawn, Origin};

const LIMIT: Duration = Duration::from_secs(60);

fn double(x: u64) -> u64 {
    x * 2
}

/// `runtime::spawn` with no runtime (and no event loop) here does not
/// panic: its handle fails like the other free functions', with
/// `is_no_runtime`.
#[test]
fn spawn_with_no_runtime_is_a_no_runtime_error() {
    let error = block_on(spawn(async { 1 })).unwrap_err();
    assert!(error.is_no_runtime(), "{error}");
    assert_eq!(error.origin(), Origin::Loop);
    assert!(!error.is_cancelled() && !error.is_shutdown() && !error.is_panic());
}

/// Every kind of work handed to the handles of a dropped runtime, from
/// many threads at once, fails with `is_shutdown`; nothing hangs.
#[test]
fn handles_of_a_dropped_runtime_refuse_from_many_threads() {
    within(LIMIT, || {
        let rt = runtime(1);
        let handle = rt.handle();
        drop(rt);
        std::thread::scope(|s| {
            for _ in 0..8 {
                let handle = handle.clone();
                s.spawn(move || {
                    for _ in 0..20 {
                        assert!(block_on(handle.spawn(async { 1 }))
                            .unwrap_err()
                            .is_shutdown());
                        assert!(handle.spawn_cpu(|| 1).join().unwrap_err().is_shutdown());
                        assert!(handle
                            .spawn_blocking(|| 1)
                            .join()
                            .unwrap_err()
                            .is_shutdown());
                        assert!(handle
                            .spawn_process(double, 1)
                            .wait()
                            .unwrap_err()
                            .is_shutdown());
                    }
                });
            }
        });
    });
}

/// A loop task's handle that outlives its runtime resolves: the task was
/// cancelled by the shutdown.
#[test]
fn a_loop_task_handle_outliving_its_runtime_resolves_as_cancelled() {
    within(LIMIT, || {
        let rt = runtime(1);
        let task = rt.handle().spawn(std::future::pending::<()>());
        drop(rt);
        assert!(block_on(task).unwrap_err().is_cancelled());
    });
}

fn nap_then_double(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(20));
    x * 2
}

/// A process task submitted while the pool was full reports
/// `is_finished` once it has finished, though nobody polled its handle:
/// a loop that checks `is_finished` before awaiting ends.
#[test]
fn a_queued_process_task_reports_finished_without_being_polled() {
    within(LIMIT, || {
        let rt = triad::Runtime::builder()
            .threads(1)
            .processes(1)
            .process_pool(|pool| pool.slots_per_worker(1))
            .build()
            .unwrap();
        let handle = rt.handle();
        let first = handle.spawn_process(nap_then_double, 1);
        let queued = handle.spawn_process(nap_then_double, 2); // the pool is full
        assert_eq!(first.wait().unwrap(), 2);
        let start = std::time::Instant::now();
        while !queued.is_finished() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "is_finished never turned true"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(queued.wait().unwrap(), 4);
    });
}

/// A blocking job that submits a process task while the process pool is
/// full, and waits for it, gets its result: the waiting submit must not
/// queue behind the very job that waits for it (one blocking thread).
#[test]
fn a_blocking_job_waiting_on_a_process_task_of_a_full_pool_does_not_deadlock() {
    within(LIMIT, || {
        let rt = runtime_support::one_of_each_with_one_slot();
        let results = rt.block_on(async {
            let busy = triad::runtime::spawn_process(nap_then_double, 1); // the only slot
            let job = triad::runtime::spawn_blocking(|| {
                triad::runtime::spawn_process(nap_then_double, 2).wait()
            });
            (busy.await.unwrap(), job.await.unwrap().unwrap())
        });
        assert_eq!(results, (2, 4));
    });
}

/// A keep-alive of `Duration::MAX` means "never leave": a blocking thread
/// that goes idle waits for the next job instead of panicking on a
/// deadline `Instant` cannot hold, and the runtime's drop still ends it.
#[test]
fn a_keep_alive_of_duration_max_keeps_idle_blocking_threads() {
    within(LIMIT, || {
        let rt = triad::Runtime::builder()
            .threads(1)
            .processes(1)
            .blocking_threads(1)
            .blocking_keep_alive(Duration::MAX)
            .build()
            .unwrap();
        let handle = rt.handle();
        assert_eq!(handle.spawn_blocking(|| 1).join().unwrap(), 1);
        // The thread is idle now, on its (endless) keep-alive.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(handle.spawn_blocking(|| 2).join().unwrap(), 2);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(handle.spawn_blocking(|| 3).join().unwrap(), 3);
        drop(rt);
    });
}

/// Blocking jobs that spawn blocking jobs and join them, on a pool of one
/// or two threads, each held by a waiting job: the joined jobs that no
/// thread started run on the joiner's thread (blocking.rs rule 7), so
/// nothing deadlocks and every value arrives.
#[test]
fn blocking_jobs_joining_blocking_jobs_do_not_deadlock_a_small_pool() {
    fn fan_out(depth: u32) -> u64 {
        if depth == 0 {
            return 1;
        }
        let children: Vec<_> = (0..3)
            .map(|_| triad::runtime::spawn_blocking(move || fan_out(depth - 1)))
            .collect();
        children.into_iter().map(|c| c.join().unwrap()).sum()
    }
    for threads in [1, 2] {
        within(LIMIT, move || {
            let rt = triad::Runtime::builder()
                .threads(1)
                .processes(1)
                .blocking_threads(threads)
                .build()
                .unwrap();
            let total = rt.handle().spawn_blocking(|| fan_out(3)).join().unwrap();
            assert_eq!(total, 27, "{threads} blocking threads");
            drop(rt);
        });
    }
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// A CPU job that waits for a process task submitted while the pool was
/// full gets its result, even when the only blocking thread runs a job
/// that waits for that CPU job: the queued submit is run by the waiting
/// thread, not left behind the job that waits for it.
#[test]
fn a_cpu_job_waiting_on_a_queued_process_task_does_not_need_a_blocking_thread() {
    within(LIMIT, || {
        let rt = runtime_support::one_of_each_with_one_slot();
        let handle = rt.handle();
        let busy = handle.spawn_process(nap, 300); // the only slot
        let job = handle.spawn_blocking(|| {
            // Holds the only blocking thread while it waits for the CPU job.
            triad::runtime::spawn_cpu(|| triad::runtime::spawn_process(double, 2).wait()).join()
        });
        assert_eq!(busy.wait().unwrap(), 300);
        assert_eq!(job.join().unwrap().unwrap().unwrap(), 4);
    });
}

/// A queued process task whose submit its waiter took back (blocking.rs
/// rule 8) still gets its real outcome when the runtime is dropped
/// meanwhile: the drop waits for that submit as for a queued one, instead
/// of closing the process pool under it (`is_pool_closed`).
#[test]
fn a_submit_taken_back_by_its_waiter_is_waited_for_by_the_runtimes_drop() {
    within(LIMIT, || {
        let rt = runtime_support::one_of_each_with_one_slot();
        let handle = rt.handle();
        let (started, has_started) = std::sync::mpsc::channel();
        // Holds the only blocking thread, so the submit below stays queued.
        let blocker = handle.spawn_blocking(move || {
            started.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(200));
        });
        has_started.recv().unwrap();
        let busy = handle.spawn_process(nap, 600); // the only slot
        let queued = handle.spawn_process(double, 2);
        let waiter = std::thread::spawn(move || queued.wait());
        std::thread::sleep(Duration::from_millis(50)); // it takes the submit back
        drop(rt);
        assert_eq!(waiter.join().unwrap().unwrap(), 4);
        assert_eq!(busy.wait().unwrap(), 600);
        blocker.join().unwrap();
    });
}

/// A runtime dropped in a process forked from its own (a child that runs
/// on and returns up its stack, as after Python's `os.fork()`) neither
/// panics nor hangs: its threads are the parent's, so the drop waits for
/// none of them, not even for a call in progress on one of them at the
/// fork (here a blocking job waiting for a slot in `spawn_process`), and
/// the parent's runtime goes on untouched.
#[test]
fn a_runtime_dropped_in_a_forked_child_neither_panics_nor_waits() {
    within(LIMIT, || {
        let rt = runtime_support::one_of_each_with_one_slot();
        let handle = rt.handle();
        let busy = handle.spawn_process(nap, 500); // the only slot
        while !busy.is_running() {
            std::thread::sleep(Duration::from_millis(1));
        }
        // On the only blocking thread: waits for the slot, inside the call.
        let job = handle.spawn_blocking(|| triad::runtime::spawn_process(double, 3).wait());
        std::thread::sleep(Duration::from_millis(100));
        let mut rt = Some(rt);
        let code = runtime_support::exit_code_in_forked_child(|| {
            // A drop that waits is ended by SIGALRM: the child did not exit.
            // SAFETY: `alarm` only arms a timer for this process.
            unsafe { libc::alarm(10) };
            let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                drop(rt.take());
            }));
            if dropped.is_ok() {
                0
            } else {
                2
            }
        });
        assert_eq!(code, 0, "2: the drop panicked");
        // The parent's runtime is untouched.
        assert_eq!(busy.wait().unwrap(), 500);
        assert_eq!(job.join().unwrap().unwrap(), 6);
        drop(rt);
    });
}

/// `spawn_blocking` in a process forked from the runtime's refuses the job
/// at once, as the thread pool's `spawn` does there (blocking.rs rule 10):
/// the job never runs in the child, where its handle could not report its
/// outcome, and the child neither joins the parent's blocking threads (one
/// that left on its keep-alive is not joined yet) nor starts a new one.
#[test]
fn spawn_blocking_in_a_forked_child_is_refused_and_runs_nothing() {
    within(LIMIT, || {
        let marker =
            std::env::temp_dir().join(format!("triad-blocking-child-{}", std::process::id()));
        let _ = std::fs::remove_file(&marker);
        // A runtime whose only blocking thread has left on its keep-alive,
        // and one that never started a blocking thread.
        let left = triad::Runtime::builder()
            .threads(1)
            .processes(1)
            .blocking_threads(1)
            .blocking_keep_alive(Duration::from_millis(10))
            .build()
            .unwrap();
        assert_eq!(left.handle().spawn_blocking(|| 1).join().unwrap(), 1);
        std::thread::sleep(Duration::from_millis(200));
        let fresh = runtime(1);
        for (case, rt) in [(0, &left), (1, &fresh)] {
            let handle = rt.handle();
            let path = marker.clone();
            let code = runtime_support::exit_code_in_forked_child(move || {
                // SAFETY: `alarm` only arms a timer for this process.
                unsafe { libc::alarm(10) };
                let joined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let job = handle.spawn_blocking(move || {
                        std::fs::write(&path, b"ran").unwrap();
                        5
                    });
                    let outcome = job.join();
                    std::thread::sleep(Duration::from_millis(100));
                    outcome
                }));
                match joined {
                    Ok(Err(error)) if error.is_pool_unavailable() => 0,
                    Err(_) => 2,
                    Ok(Ok(_)) => 3,
                    Ok(Err(_)) => 4,
                }
            });
            assert_eq!(
                code, 0,
                "case {case}: 2: spawn_blocking panicked, 3: the job ran, 4: another error"
            );
            assert!(!marker.exists(), "case {case}: the job ran in the child");
        }
        // The parents' runtimes go on.
        assert_eq!(left.handle().spawn_blocking(|| 2).join().unwrap(), 2);
        assert_eq!(fresh.handle().spawn_blocking(|| 3).join().unwrap(), 3);
    });
}

/// `Handle::spawn` in a process forked from the runtime's, on a thread
/// other than the loop's (which does not exist there), refuses the task at
/// once (`is_no_runtime`: no loop runs it), instead of queueing it for a
/// loop that never turns; on the loop's own thread it still spawns.
#[test]
fn handle_spawn_in_a_forked_child_away_from_the_loop_is_refused() {
    within(LIMIT, || {
        let rt = runtime(1);
        let handle = rt.handle();
        let code = std::thread::spawn(move || {
            runtime_support::exit_code_in_forked_child(move || {
                // A wait for a loop that never turns ends with SIGALRM.
                // SAFETY: `alarm` only arms a timer for this process.
                unsafe { libc::alarm(10) };
                match block_on(handle.spawn(async { 1u32 })) {
                    Err(error) if error.is_no_runtime() && error.origin() == Origin::Loop => 0,
                    Ok(_) => 2,
                    Err(_) => 3,
                }
            })
        })
        .join()
        .unwrap();
        assert_eq!(code, 0, "2: it ran, 3: another error");
        // On the loop's thread, in a child too, the task runs at the next
        // `block_on` there.
        let handle = rt.handle();
        let mut rt = Some(rt);
        let code = runtime_support::exit_code_in_forked_child(|| {
            // SAFETY: as above.
            unsafe { libc::alarm(10) };
            let task = handle.spawn(async { 2u32 });
            let rt = rt.take().unwrap();
            let value = rt.block_on(task);
            drop(rt);
            match value {
                Ok(2) => 0,
                _ => 4,
            }
        });
        assert_eq!(code, 0, "4: no value on the loop's own thread");
        drop(rt);
    });
}
