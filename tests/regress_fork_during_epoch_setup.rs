//! A process forked while another of its threads was setting up
//! crossbeam-epoch's global collector (the lazy `Once` behind the deques'
//! steals) inherited that `Once` as running, for ever: every steal in the
//! child waited on it, so a pool built there hung (ASan's run of
//! `a_child_forked_inside_a_job_is_no_worker_of_the_pool`, session 10:
//! the child's new workers were parked in `crossbeam_epoch::default::
//! collector`). `ThreadPool::build` now sets the collector up on the
//! building thread, before any worker exists.
//!
//! This binary holds this one test, so that the collector is not set up
//! in the test process before it forks: each round forks a fresh child
//! (A) that builds a pool, whose workers steal at once, and A forks at
//! once a grandchild (B) that uses a pool of its own. Before the fix some
//! B landed inside the workers' set-up and hung.
#![cfg(feature = "threads")]

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use triad::threads::ThreadPool;

/// Fork a child that uses a pool of its own (the global one, which
/// steals), and `_exit`s 0 if it got the right result.
fn fork_a_pool_user() -> libc::pid_t {
    // SAFETY: the child uses the crate (thread creation, small allocations)
    // and `_exit`s; it never returns into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let (x, y) = triad::threads::join(|| 20, || 22);
        // SAFETY: ends the child without the parent's atexit handlers.
        unsafe { libc::_exit(if x + y == 42 { 0 } else { 3 }) };
    }
    pid
}

/// Wait for child `pid` until `deadline`: whether it exited with 0. A child
/// still there at the deadline is killed and reaped.
fn exited_cleanly(pid: libc::pid_t, deadline: Instant) -> bool {
    let mut status = 0;
    loop {
        // SAFETY: `pid` is our child; `status` is a valid out-pointer.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if waited == pid {
            return libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        }
        if Instant::now() > deadline {
            // SAFETY: our child, not reaped yet (its pid cannot be reused).
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn a_child_forked_while_the_first_workers_start_can_use_a_pool() {
    // Each round releases A's two workers at once from their start hook
    // (past std's own thread-start lock, which a fork inherits just as
    // well) into their first steals, then forks B a little later (0 to
    // 10 µs), to sweep the collector's set-up. Stops at the first hang.
    const ROUNDS: u64 = 500;
    for round in 0..ROUNDS {
        let code = support::exit_code_in_forked_child(|| {
            // A: the collector is not set up in this process yet.
            let started = Arc::new(AtomicUsize::new(0));
            let go = Arc::new(AtomicBool::new(false));
            let (counter, gate) = (started.clone(), go.clone());
            let pool = ThreadPool::builder()
                .num_threads(2)
                .on_start(move |_| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    while !gate.load(Ordering::SeqCst) {
                        std::hint::spin_loop();
                    }
                })
                .build()
                .unwrap();
            while started.load(Ordering::SeqCst) < 2 {
                std::hint::spin_loop();
            }
            go.store(true, Ordering::SeqCst);
            let start = Instant::now();
            while start.elapsed() < Duration::from_nanos(250 * (round % 40)) {
                std::hint::spin_loop();
            }
            let b = fork_a_pool_user();
            let clean = exited_cleanly(b, Instant::now() + Duration::from_secs(5));
            std::mem::forget(pool);
            if clean {
                0
            } else {
                1
            }
        });
        assert_eq!(code, 0, "round {round}: the grandchild hung or failed");
    }
}
