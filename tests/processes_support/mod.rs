//! Helpers for the process-pool tests: leak checks (descriptors, child
//! processes, worker pids) and a deadline for each test.
#![allow(dead_code)]

use std::sync::{mpsc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use triad::processes::ProcessPool;

/// Tests of one binary that count descriptors and children run one at a
/// time (the harness runs tests on threads of one process).
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Pids of this process's children.
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
        let ppid: u32 = after.split(' ').nth(1).unwrap().parse().unwrap();
        if ppid == me {
            out.push(pid);
        }
    }
    out
}

/// Whether a process exists (a zombie counts: it is not reaped).
pub fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Wait until none of `pids` exists (they may take a moment to be reaped
/// by someone else); panic after 5 s.
pub fn assert_gone(pids: &[u32]) {
    for _ in 0..500 {
        if pids.iter().all(|&p| !exists(p)) {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let left: Vec<_> = pids.iter().filter(|&&p| exists(p)).collect();
    panic!("processes still exist: {left:?}");
}

/// Run `f` with a pool built by `build`, then check that nothing it started
/// outlives it: descriptors and children as before, workers and zygote gone.
pub fn no_leaks<T>(build: impl FnOnce() -> ProcessPool, f: impl FnOnce(&ProcessPool) -> T) -> T {
    let _guard = serial();
    let (fds, kids) = (open_fds(), children());
    let pool = build();
    let mut pids = pool.worker_pids();
    pids.push(pool.zygote_pid());
    let out = f(&pool);
    pids.extend(pool.worker_pids());
    drop(pool);
    assert_gone(&pids);
    assert_eq!(children(), kids, "a child process outlived the pool");
    assert_eq!(open_fds(), fds, "a descriptor outlived the pool");
    out
}

/// Run `f` on a fresh thread; fail if it takes longer than `limit` (a hang
/// becomes a failure, not a stuck test run).
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
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("did not finish within {limit:?} (hang?)"),
    }
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
