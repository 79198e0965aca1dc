//! The global pool: what `join`, `scope` and `spawn` use when called from a
//! thread that belongs to no pool.
//!
//! Built lazily on first use with the default configuration (one worker per
//! core) and never dropped. It is per *process*: in a child forked after it
//! was built, its threads do not exist, so the first use there builds a new
//! one for the child (the old one's memory is simply left alone). This needs
//! no lock, since a lock held by another thread at the fork would stay held
//! forever in the child: the current pool is an atomic pointer, replaced by
//! compare-and-swap.
//!
//! If the global pool cannot be built (the system refuses to create
//! threads), the free functions panic with that error; use
//! [`ThreadPool::builder`](super::ThreadPool::builder) to get it as a value.

use std::ptr;

use super::pool::ThreadPool;
use super::registry::Registry;
use super::worker::WorkerThread;
use crate::sync::process_global::{AtomicPtr, Ordering::*};
use crate::sync::Arc;

static GLOBAL: AtomicPtr<ThreadPool> = AtomicPtr::new(ptr::null_mut());

/// The global pool of this process, built if needed.
pub(crate) fn registry() -> &'static Arc<Registry> {
    let current = GLOBAL.load(Acquire);
    // SAFETY: a non-null GLOBAL points at a leaked, never-freed ThreadPool
    // (published with Release below, read with Acquire above).
    if let Some(pool) = unsafe { current.as_ref() } {
        if pool.registry.is_usable_here() {
            return &pool.registry;
        }
    }
    build(current)
}

#[cold]
fn build(seen: *mut ThreadPool) -> &'static Arc<Registry> {
    let pool = match ThreadPool::builder().build() {
        Ok(pool) => Box::into_raw(Box::new(pool)),
        Err(error) => panic!("triad: cannot build the global thread pool: {error}"),
    };
    // AcqRel: Release publishes the new pool; Acquire (on failure) sees the
    // one another thread published first.
    match GLOBAL.compare_exchange(seen, pool, AcqRel, Acquire) {
        // SAFETY: we just leaked it; it is never freed.
        Ok(_) => unsafe { &(*pool).registry },
        Err(winner) => {
            // Another thread built one first: shut ours down and use theirs.
            // SAFETY: `pool` came from Box::into_raw above and was never
            // published.
            drop(unsafe { Box::from_raw(pool) });
            // SAFETY: `winner` is non-null (only non-null pools are stored)
            // and leaked forever, as above.
            let winner = unsafe { &*winner };
            if winner.registry.is_usable_here() {
                &winner.registry
            } else {
                build(winner as *const ThreadPool as *mut ThreadPool)
            }
        }
    }
}

/// Run `f` on a worker of the global pool, blocking the calling thread.
pub(crate) fn run<F, R>(f: F) -> R
where
    F: FnOnce(&WorkerThread) -> R + Send,
    R: Send,
{
    registry().in_worker(f)
}
