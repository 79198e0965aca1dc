//! Helpers shared by the integration tests (the process-pool and runtime
//! tests include this file too, through their own support modules).
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

/// Run `f` on a fresh thread and fail the test if it does not finish within
/// `limit` (a deadlock becomes a failure, not a hung test run).
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => {
            handle.join().unwrap();
            value
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => unreachable!(),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("did not finish within {limit:?} (a deadlock or a hang?)")
        }
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// A minimal executor for a handle outside any runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        thread::park_timeout(Duration::from_millis(10));
    }
}

/// Names of the threads of this process (from /proc/self/task/*/comm).
pub fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

/// Sequential Fibonacci, the oracle for the parallel one.
pub fn fib_sequential(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib_sequential(n - 1) + fib_sequential(n - 2)
    }
}

/// How many of this process's threads have a name starting with `prefix`.
pub fn threads_named(prefix: &str) -> usize {
    thread_names()
        .iter()
        .filter(|n| n.starts_with(prefix))
        .count()
}

/// Open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Pids of this process's children (zombies included: they are not reaped).
pub fn children() -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The field after the parenthesised name: state, then ppid.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        if after.split(' ').nth(1).and_then(|p| p.parse().ok()) == Some(me) {
            out.push(pid);
        }
    }
    out.sort_unstable();
    out
}

/// Tests of one binary that count threads, children or descriptors run one
/// at a time (the harness runs tests on threads of one process).
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Wait up to 5 s for `cond` to hold.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("never happened: {what}");
}

/// No core files from the tests that abort workers (inherited by the zygote
/// and the workers).
pub fn no_core_dumps() {
    let limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a live rlimit; RLIMIT_CORE only affects core files.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &limit) };
}

/// The threads of this process, from `/proc/self/task`.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Let the loop's other tasks run a few turns (tests that check what a
/// waiting task did, or did not, receive).
#[cfg(feature = "event-loop")]
pub async fn settle() {
    for _ in 0..8 {
        triad::event_loop::yield_now().await;
    }
}

/// Run `$scenario` (a `fn()`) before `main`, in a copy of this test binary
/// started with the environment variable `$env` set: a constructor in
/// `.init_array` runs in every process of the binary (test runs, and the
/// exec'd zygotes of other tests' pools) and returns at once unless `$env`
/// is set. There it runs before the test harness starts any thread, i.e.
/// in a single-threaded program, then ends the process with `_exit`: 0 if
/// the scenario returned, 101 if it panicked. The variable is removed
/// first, so that copies the scenario starts (an exec'd zygote) do not run
/// it again.
#[allow(unused_macros)]
macro_rules! before_main {
    ($env:expr, $scenario:path) => {
        #[used]
        #[link_section = ".init_array"]
        static RUN_SCENARIO_IF_ASKED: extern "C" fn() = run_scenario_if_asked;

        extern "C" fn run_scenario_if_asked() {
            if std::env::var_os($env).is_none() {
                return;
            }
            // No thread exists yet, so no thread can race this.
            std::env::remove_var($env);
            let code = match std::panic::catch_unwind($scenario) {
                Ok(()) => 0,
                Err(_) => 101,
            };
            let _ = std::io::Write::flush(&mut std::io::stdout());
            let _ = std::io::Write::flush(&mut std::io::stderr());
            // SAFETY: `_exit` ends the process at once; this copy exists
            // only to run the scenario.
            unsafe { libc::_exit(code) }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use before_main;

/// This process's descriptor limit (`RLIMIT_NOFILE`).
pub fn nofile() -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid resource and a pointer to a live rlimit.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0);
    limit
}

/// Set this process's descriptor limit: process-wide, so only for a test
/// binary of its own.
pub fn set_nofile(limit: libc::rlimit) {
    // SAFETY: a valid resource and a pointer to a live rlimit.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(rc, 0);
}

/// A value (or panic payload) whose `Drop` panics, unless a panic is
/// already unwinding: what job rule 7 of `triad::threads` must contain.
pub struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("dropping PanicsOnDrop");
        }
    }
}

/// Adds one to its cell when dropped: counts the drops of messages, task
/// outputs, futures and what tasks captured, in the event loop's
/// single-threaded tests (each exactly once, or not before its time).
pub struct CountsDrops(pub std::rc::Rc<std::cell::Cell<usize>>);

impl Drop for CountsDrops {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// Fork, run `child` in the child and `_exit` with the code it returns; in
/// the parent, that exit code. A child that has not exited within 20 s is
/// killed (and reaped) and the test fails: a hang in the child becomes a
/// failure, and nothing the test starts outlives it. `child` must do only
/// what is safe after a fork in a multi-threaded process.
pub fn exit_code_in_forked_child(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child runs `child` (the caller's contract: fork-safe
    // calls only) and `_exit`s; it never returns into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child();
        // SAFETY: `_exit` ends the child at once, without the parent's
        // atexit handlers or flushing copied buffers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        // SAFETY: `pid` is our child; `status` is a valid out-pointer.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if waited == pid {
            break;
        }
        assert_eq!(waited, 0, "waitpid failed");
        if std::time::Instant::now() > deadline {
            // SAFETY: our child, not reaped yet (its pid cannot be reused).
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the forked child hung");
        }
        thread::sleep(Duration::from_millis(10));
    }
    assert!(
        libc::WIFEXITED(status),
        "the child did not exit: {status:#x}"
    );
    libc::WEXITSTATUS(status)
}
