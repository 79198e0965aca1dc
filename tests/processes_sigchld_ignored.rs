//! A program started with SIGCHLD ignored (a parent that set `SIG_IGN`
//! passes it on through `fork` and `exec`; some daemons set it themselves
//! so that the kernel reaps their children). With it, a dead child leaves
//! no status to `waitpid` for. The zygote restores the default for itself,
//! so it still learns of every worker's death: the task gets its crash and
//! the worker is replaced, in either start mode, instead of a hang.
#![cfg(feature = "processes")]

use std::time::{Duration, Instant};

use triad::processes::{ProcessPool, StartMode};

fn abort(_: ()) -> u64 {
    std::process::abort()
}

fn double(x: u64) -> u64 {
    x * 2
}

/// In a forked child (alone in it: the disposition is per process), with
/// SIGCHLD ignored: 0 if a crash and a task after it get their outcomes.
fn with_sigchld_ignored(mode: StartMode) -> i32 {
    // SAFETY: SIG_IGN is a valid disposition for SIGCHLD.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let outcome = std::panic::catch_unwind(|| {
        let pool = ProcessPool::builder()
            .workers(1)
            .start_mode(mode)
            .build()
            .unwrap();
        if !pool.submit(abort, ()).wait().is_err_and(|e| e.is_crash()) {
            return 2;
        }
        if pool.submit(double, 21).wait() != Ok(42) {
            return 3;
        }
        pool.shutdown();
        0
    });
    outcome.unwrap_or(4)
}

#[test]
fn a_pool_in_a_process_that_ignores_sigchld_still_sees_its_workers_die() {
    for mode in [StartMode::Fork, StartMode::Exec] {
        // SAFETY: the child runs only `with_sigchld_ignored` (it is
        // single-threaded: the pool forks or execs its zygote from there)
        // and leaves with `_exit`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = with_sigchld_ignored(mode);
            // SAFETY: ends the child without running the parent's atexit
            // handlers or the test harness's destructors.
            unsafe { libc::_exit(code) };
        }
        let start = Instant::now();
        let mut status = 0;
        let code = loop {
            // SAFETY: `pid` is our child, `status` a live int.
            if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
                break libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
            }
            if start.elapsed() > Duration::from_secs(30) {
                // SAFETY: our child, not reaped yet: the pid is its own.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                // SAFETY: as above.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(code, Some(0), "{mode:?}: None is a hang");
    }
}
