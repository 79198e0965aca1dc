//! The loom shim: the only module that names `std::sync`, `std::thread` or `loom`.
//!
//! Every other module takes its atomics, locks, cells and threads from here.
//! Normally they are the standard library's; when the crate is compiled with
//! `RUSTFLAGS="--cfg loom"` they are [loom]'s, so that a loom model explores
//! every interleaving of the real protocol code rather than of a copy.
//!
//! The shim selects on `cfg(loom)` alone (never on `test`), so the same
//! library code is what ordinary tests run and what the models check.
//!
//! What lives here besides the re-exports:
//!
//! | file | what |
//! |---|---|
//! | `cell.rs` | [`cell::UnsafeCell`] with loom's `with`/`with_mut` API on std |
//! | `parker.rs` | a park/unpark token (EMPTY/PARKED/NOTIFIED) on a Mutex + Condvar |
//! | `oneshot.rs` | the completion cell behind every `JoinHandle`, blocking and `Future` |
//! | `deque.rs` | crossbeam-deque normally; under loom a lock-based stand-in with the same API |
//!
//! [loom]: https://docs.rs/loom

// Not every room uses every item of the shim; which ones are used depends on
// the features selected.
#![allow(dead_code, unused_imports)]

pub(crate) mod cell;
#[cfg(feature = "threads")]
pub(crate) mod deque;
#[cfg(feature = "threads")]
pub(crate) mod oneshot;
pub(crate) mod parker;
#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Atomics: `std::sync::atomic` normally, `loom::sync::atomic` under loom.
pub(crate) mod atomic {
    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };

    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };
}

/// Atomics for process-wide `static`s, always std's.
///
/// loom's atomics cannot live in a `static` (their constructors are not
/// `const`). The only statics are per-process facts such as the fork
/// generation (`sys/fork.rs`), which no loom model exercises.
pub(crate) mod process_global {
    pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
}

/// Threads: `std::thread` normally, `loom::thread` under loom.
pub(crate) mod thread {
    #[cfg(not(loom))]
    pub(crate) use std::thread::{current, spawn, yield_now, Builder, JoinHandle, ThreadId};

    #[cfg(loom)]
    pub(crate) use loom::thread::{current, spawn, yield_now, Builder, JoinHandle, ThreadId};
}

/// A thread-local with a `const` initialiser, for `worker.rs`'s `CURRENT`:
/// std's `thread_local!` normally; loom's under loom, where every model
/// thread is a coroutine on one OS thread, so that std's would be one cell
/// shared by all of them (a model's main thread would take itself for a
/// worker). loom's macro takes no `const { }` block, so its thread-locals
/// are lazily initialised. (`allow`: unused without the `threads` feature.)
#[cfg(not(loom))]
#[allow(unused_macros)]
macro_rules! const_thread_local {
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        std::thread_local! { $(#[$attr])* static $name: $t = const { $init }; }
    };
}
#[cfg(loom)]
#[allow(unused_macros)]
macro_rules! const_thread_local {
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        loom::thread_local! { $(#[$attr])* static $name: $t = $init; }
    };
}
pub(crate) use const_thread_local;

/// A spin-wait hint. Under loom it yields to the scheduler, so that a model
/// with a spin loop explores the other threads instead of spinning forever.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// Lock a mutex, ignoring poisoning.
///
/// Our locks guard plain data whose invariants hold between statements, and a
/// panic inside user code never happens while one of them is held, so a
/// poisoned lock carries no broken invariant: we take the guard regardless.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(not(loom))]
    {
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    #[cfg(loom)]
    {
        mutex.lock().unwrap()
    }
}

/// Wait on a condition variable, ignoring poisoning (see [`lock`]).
pub(crate) fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    #[cfg(not(loom))]
    {
        condvar
            .wait(guard)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    #[cfg(loom)]
    {
        condvar.wait(guard).unwrap()
    }
}

/// Wait on a condition variable for at most `timeout`, ignoring poisoning
/// (see [`lock`]); the caller re-checks its condition either way.
pub(crate) fn wait_timeout<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: std::time::Duration,
) -> MutexGuard<'a, T> {
    #[cfg(not(loom))]
    {
        match condvar.wait_timeout(guard, timeout) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }
    #[cfg(loom)]
    {
        condvar.wait_timeout(guard, timeout).unwrap().0
    }
}

/// Pads and aligns a value to 128 bytes (two cache lines, as the adjacent-line
/// prefetcher of x86 pulls pairs), so that counters written by different
/// threads never share a line.
#[derive(Default, Debug)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
