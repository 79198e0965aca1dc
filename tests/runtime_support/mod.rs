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

/// A runtime with one of each: one CPU thread, one worker process, one
/// blocking thread, for tests of how the three wait for each other.
pub fn one_of_each() -> Runtime {
    Runtime::builder()
        .threads(1)
        .processes(1)
        .blocking_threads(1)
        .build()
        .unwrap()
}

/// [`one_of_each`] whose worker takes one task at a time: a second process
/// task waits for a slot.
pub fn one_of_each_with_one_slot() -> Runtime {
    Runtime::builder()
        .threads(1)
        .processes(1)
        .blocking_threads(1)
        .process_pool(|pool| pool.slots_per_worker(1))
        .build()
        .unwrap()
}
