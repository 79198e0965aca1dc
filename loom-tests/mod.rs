//! Loom models of the crate's concurrency protocols.
//!
//! One file per protocol, named after the file it checks (`sync_parker.rs`
//! checks `src/sync/parker.rs`, `threads_sleep.rs` checks
//! `src/threads/sleep.rs`, ...). Each model is small (2–3 threads) and runs
//! the real protocol code: under `--cfg loom` the shim in `src/sync/` hands
//! the library loom's atomics, locks, cells and threads, and a lock-based
//! stand-in for crossbeam-deque (`src/sync/deque.rs`).
//!
//! Where a model needs a worker's loop, it uses the short mirrors below
//! ([`run_until_terminated`], [`wait_until_set`]): the steps of `worker.rs`
//! without its spinning. Spinning changes no outcome, and under loom it
//! hides one: each `spin_loop` yields, which hands control to any other
//! runnable thread, so a spinning worker never reaches its sleep while
//! another thread can run (`threads_pool_drop.rs` runs the real
//! `WorkerThread::run` and shows it: no iteration ever sleeps).
//!
//! Every model was seen to fail on a deliberate break of its protocol; the
//! comment at the top of each file records the break and what loom said.
//!
//! Known loom limits that shape the models:
//!
//! - loom does not apply RMW atomicity against plain stores
//!   (tokio-rs/loom#254, #389): a plain `store` may be ordered between the
//!   read and the write of a concurrent `swap`. `Sleep::sleep`'s W1 is such
//!   a store (`sleeping.store(true)`) racing the claimers' `swap(false)`, so
//!   with it loom reports lost wake-ups no C++ execution allows (after
//!   `fence(SeqCst)` in both threads the later `swap` must see W1). The
//!   models assume W1 is a `swap(true, Relaxed)`.
//! - The stand-in deque is a mutex: it orders a push and a look at the
//!   queue by itself, and would hide a missing fence in the sleep protocol.
//!   `threads_sleep.rs` therefore also uses a lock-free queue.
//! - SeqCst loads and stores are modelled as Acquire/Release; the protocols
//!   use `fence(SeqCst)`, which loom models.
//!
//! Run them all with `bash .ci/loom`; one file's with
//! `bash .ci/loom threads_sleep` (see `.ci/loom`).

mod sync_parker;

#[cfg(feature = "threads")]
mod sync_oneshot;
#[cfg(feature = "threads")]
mod threads_join;
#[cfg(feature = "threads")]
mod threads_latch;
#[cfg(feature = "threads")]
mod threads_pool_drop;
#[cfg(feature = "threads")]
mod threads_scope;
#[cfg(feature = "threads")]
mod threads_sleep;

/// Check every interleaving of `f`, up to the preemption bound.
///
/// All `LOOM_*` variables apply (`LOOM_MAX_PREEMPTIONS`, `LOOM_LOG`,
/// `LOOM_LOCATION`, `LOOM_CHECKPOINT_FILE`, `LOOM_CHECKPOINT_INTERVAL`,
/// `LOOM_MAX_BRANCHES`, ...). Without `LOOM_MAX_PREEMPTIONS` loom would
/// explore without a bound, which takes hours: the bound is then 2, the CI
/// setting (bound 1 misses real lost wake-ups).
pub(crate) fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_some() {
        // `loom::model` reads every variable and installs the `LOOM_LOG`
        // tracing subscriber.
        loom::model(f);
    } else {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(2);
        builder.check(f);
    }
}

#[cfg(feature = "threads")]
pub(crate) use support::*;

#[cfg(feature = "threads")]
mod support {
    use crate::sync::atomic::Ordering::*;
    use crate::sync::deque::Steal;
    use crate::threads::job::JobRef;
    use crate::threads::latch::CoreLatch;
    use crate::threads::registry::Registry;

    /// `worker.rs`'s main loop for worker `index` (a `Wait` without latch):
    /// run what `find_work` hands out; with nothing found, leave if the pool
    /// was terminating *before* the search, else fall asleep (sleep.rs
    /// W1–W6, with W4 = `has_any_work() || terminate`, as
    /// `WorkerThread::sleep`).
    ///
    /// `terminate` is read before the search, not after it: read after, a
    /// job injected and a `terminate` stored between the two would be left
    /// in the queue (the bug `threads_pool_drop.rs` found in `worker.rs`).
    pub(crate) fn run_until_terminated(
        registry: &Registry,
        index: usize,
        mut find_work: impl FnMut() -> Option<JobRef>,
    ) {
        loop {
            // Acquire pairs with the Release store in `Registry::terminate`:
            // every job queued before it is visible to the search below.
            let terminating = registry.terminate.load(Acquire);
            if let Some(job) = find_work() {
                // SAFETY: a job taken from a queue is alive and ours alone
                // (job rules 1, 2).
                unsafe { job.execute() };
                continue;
            }
            if terminating {
                return;
            }
            let _ = registry.sleep.sleep(index, false, || {
                registry.has_any_work() || registry.terminate.load(Relaxed)
            });
        }
    }

    /// `worker.rs`'s wait for a latch (`wait_until_cold` + `sleep`) for
    /// worker `index`: until `latch` is set, run what `find_work` hands out,
    /// else go UNSET → SLEEPY, sleep with W4 = `has_any_work() ||
    /// !fall_asleep()`, and `wake_up` after.
    pub(crate) fn wait_until_set(
        registry: &Registry,
        index: usize,
        latch: &CoreLatch,
        mut find_work: impl FnMut() -> Option<JobRef>,
    ) {
        loop {
            if latch.probe() {
                return;
            }
            if let Some(job) = find_work() {
                // SAFETY: as in `run_until_terminated`.
                unsafe { job.execute() };
                continue;
            }
            if !latch.get_sleepy() {
                continue; // set meanwhile (latch rule 1)
            }
            let _ = registry.sleep.sleep(index, false, || {
                registry.has_any_work() || !latch.fall_asleep()
            });
            latch.wake_up();
        }
    }

    /// `steal_from_others`: the oldest job of any other worker's deque,
    /// retrying while a steal meets contention.
    pub(crate) fn steal_from_others(registry: &Registry, index: usize) -> Option<JobRef> {
        loop {
            let mut retry = false;
            for (victim, stealer) in registry.stealers.iter().enumerate() {
                if victim == index {
                    continue;
                }
                match stealer.steal() {
                    Steal::Success(job) => return Some(job),
                    Steal::Empty => {}
                    Steal::Retry => retry = true,
                }
            }
            if !retry {
                return None;
            }
            crate::sync::spin_loop();
        }
    }
}

#[cfg(feature = "event-loop")]
mod event_loop_channel;
#[cfg(feature = "event-loop")]
mod event_loop_remote;
#[cfg(feature = "event-loop")]
mod event_loop_task;
#[cfg(feature = "processes")]
mod processes_lending;
#[cfg(feature = "processes")]
mod processes_slot;
