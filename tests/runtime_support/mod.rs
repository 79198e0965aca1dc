//! Helpers for the facade's tests: a deadline per test, a serial lock for
//! the tests that count threads, children and descriptors, and the counts.
#![allow(dead_code)]

// The helpers every test binary needs (within, block_on, children, open
// descriptors, ...) live in one place.
#[path = "../support/mod.rs"]
mod common;
pub use common::*;

use triad::Runtime;

/// A small runtime: two CPU threads, one worker process, `k` blocking threads.
pub fn runtime(blocking: usize) -> Runtime {
    Runtime::builder()
        .threads(2)
        .processes(1)
        .blocking_threads(blocking)
        .build()
        .unwrap()
}
