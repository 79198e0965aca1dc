//! Helpers for the process-pool tests: leak checks (descriptors, child
//! processes, worker pids) and a deadline for each test.
#![allow(dead_code)]

// The helpers every test binary needs (within, block_on, children, open
// descriptors, ...) live in one place.
#[path = "../support/mod.rs"]
mod common;
pub use common::*;

use std::thread;
use std::time::Duration;

use triad::processes::ProcessPool;

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
