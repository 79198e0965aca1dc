//! A work-stealing thread pool: `join`, `scope` and `spawn` for CPU-bound
//! work, in parallel on every core.
//!
//! # The picture
//!
//! ```text
//!                 outside threads: install / spawn / join from outside
//!                                   │
//!                                   ▼
//!                        ┌──────────────────────┐
//!                        │   Injector (FIFO)    │
//!                        └──────────────────────┘
//!                          │ steal            │ steal
//!                          ▼                  ▼
//!   ┌───────────────── worker 0 ─┐    ┌─ worker 1 ─────────────────┐
//!   │ private join frames        │    │ private join frames        │
//!   │ deque (LIFO for the owner) │◄───┤ steals the OLDEST job of a │
//!   │   pop newest ──► run       │    │ random victim when idle    │
//!   └────────────────────────────┘    └────────────────────────────┘
//!          idle for a while? ──► sleep (sleep.rs), woken by new work
//! ```
//!
//! Each worker runs its own jobs newest-first (good for the cache: the job
//! it just made uses the data it just touched) and an idle worker steals
//! the *oldest* job of another (the biggest piece of a divide-and-conquer
//! tree, so one steal keeps it busy a long time).
//!
//! # join, scope, spawn
//!
//! | call | closures | borrow from the caller | result | waits |
//! |---|---|---|---|---|
//! | [`join(a, b)`](join) | two | yes | `(ra, rb)` | for both |
//! | [`scope(\|s\| ...)`](scope) + [`s.spawn`](Scope::spawn) | any number | yes | none per job | for all, at the end of the scope |
//! | [`spawn(f)`](spawn) | one | no (`'static`) | [`JoinHandle`] (`join()` or `.await`) | only when asked |
//!
//! A worker that waits never blocks its thread: it runs other jobs until
//! what it waits for is done, so nested joins and scopes cannot deadlock,
//! even on one thread. Which other jobs it may run is the [`WaitPolicy`].
//!
//! # The files, one protocol each
//!
//! | file | protocol |
//! |---|---|
//! | `job.rs` | jobs and `JobRef`: executed exactly once |
//! | `frame.rs` | private join frames, promoted on demand |
//! | `latch.rs` | UNSET → SLEEPY → SLEEPING → SET |
//! | `sleep.rs` | falling asleep without losing a wake-up |
//! | `worker.rs` | the worker loop, private join frames and promotion |
//! | `join.rs`, `scope.rs`, `spawn.rs` | the three entry points |
//! | `wait_policy.rs` | what a waiting worker may run |
//! | `registry.rs` | what the workers share |
//! | `pool.rs` | building and shutting down |
//! | `global.rs` | the lazily built global pool |
//! | `slice.rs` | the parallel slice operations, split adaptively |
//!
//! # The global pool, and fork
//!
//! Called from a thread outside every pool, [`join`], [`scope`], [`spawn`]
//! and the `par_*` slice operations run in the global pool, built on first
//! use with one worker per core. If the system refuses to start its
//! threads, they panic with the [`BuildError`] in the message; a pool from
//! [`ThreadPool::builder`] reports it as a value instead.
//!
//! A forked child has none of the pool's threads: there a `ThreadPool`'s
//! methods fail with [`PoolError::is_forked`], and the free functions build
//! a global pool of the child's own. A child forked from inside a job (on a
//! worker thread) is no worker there either, but it must `exec` or `_exit`
//! before that job returns: what called the job (an enclosing `join`,
//! `scope` or `install`, then the worker's loop) would go on with copies of
//! the pool's queues and wait for threads the child does not have.
//!
//! # Python
//!
//! Python threads cannot run Python code in parallel (the GIL lets one run at
//! a time), so CPU-bound Python uses processes. Rust threads have no such
//! lock: this pool runs CPU work on every core at once.

mod error;
pub(crate) mod frame;
mod global;
pub(crate) mod job;
pub(crate) mod join;
pub(crate) mod latch;
mod pool;
pub(crate) mod registry;
pub(crate) mod scope;
pub(crate) mod sleep;
mod slice;
pub(crate) mod spawn;
pub(crate) mod wait_policy;
pub(crate) mod worker;

#[cfg(all(test, not(loom)))]
mod tests;

pub use error::{BuildError, JoinError, PoolError};
pub use join::{join, join_with};
pub use pool::{ThreadPool, ThreadPoolBuilder};
pub use scope::{scope, scope_with, Scope, ScopePanic};
pub use slice::{
    par_chunks, par_chunks_mut, par_for_each, par_map, par_map_reduce, par_reduce, par_sort_by_key,
    par_sort_unstable, par_sort_unstable_by,
};
pub use spawn::{spawn, JoinHandle};
pub use wait_policy::WaitPolicy;

use worker::WorkerThread;

/// One worker's counters, from [`ThreadPool::stats`].
///
/// ```
/// let pool = triad::threads::ThreadPool::builder().num_threads(2).build().unwrap();
/// for _ in 0..3 {
///     pool.spawn(|| ()).join().unwrap();
/// }
/// let stats = pool.stats();
/// assert_eq!(stats.len(), 2);
/// assert_eq!(stats.iter().map(|s| s.jobs_executed).sum::<u64>(), 3);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Jobs this worker took from a queue and ran (inline join halves that
    /// were never published are not counted: they cost nothing to count).
    pub jobs_executed: u64,
    /// Jobs this worker stole from another worker's deque.
    pub steals: u64,
    /// Times this worker went to sleep (or tried to, and found work).
    pub sleeps: u64,
    /// Times it was woken from a sleep.
    pub wakeups: u64,
    /// Private join frames it made public (its outermost join's at once,
    /// the oldest one when another worker was hungry, and all of them
    /// before it waited).
    pub promotions: u64,
}

/// The index of the current thread in its pool, or `None` outside a pool.
///
/// ```
/// assert_eq!(triad::threads::current_thread_index(), None);
/// let index = triad::threads::spawn(triad::threads::current_thread_index).join().unwrap();
/// assert!(index.is_some());
/// ```
pub fn current_thread_index() -> Option<usize> {
    // SAFETY: a non-null current worker is alive (see `WorkerThread::current_in`).
    unsafe { WorkerThread::current().as_ref() }.map(|wt| wt.index)
}

/// The number of threads of the current pool (the global pool's outside
/// any pool).
///
/// ```
/// assert!(triad::threads::current_num_threads() >= 1);
/// ```
pub fn current_num_threads() -> usize {
    // SAFETY: as in `current_thread_index`.
    match unsafe { WorkerThread::current().as_ref() } {
        Some(wt) => wt.registry.num_threads(),
        None => global::registry().num_threads(),
    }
}
