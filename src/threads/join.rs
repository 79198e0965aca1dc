//! `join(a, b)`: run two closures, potentially in parallel, and return both
//! results.
//!
//! ```text
//!   join(a, b) on a worker
//!   ├─ push frame(b) on the private frame stack     (no atomics)
//!   ├─ someone hungry? ── yes ─► promote the oldest private frame
//!   ├─ run a
//!   ├─ pop frame(b):
//!   │    still private ─► run b inline              (the common case)
//!   │    promoted ──────► pop it back from the deque and run it inline,
//!   │                     or (stolen) run other work until its latch is set
//!   └─ re-raise a's panic, else b's; else return (ra, rb)
//! ```
//!
//! Both closures always run, even if the first one panics (rayon does the
//! same): a panic is re-raised only when both are done, so a stolen `b`
//! never outlives the stack frame it borrows from.
//!
//! Called from outside any pool, `join` runs inside the global pool (or the
//! pool of `ThreadPool::install`). The loom model
//! `loom-tests/threads_join.rs` checks the stolen-half hand-off.

use std::panic::{self, AssertUnwindSafe};

use super::job::StackJob;
use super::latch::SpinLatch;
use super::wait_policy::WaitPolicy;
use super::worker::WorkerThread;

/// Joins this close to the bottom of a worker's frame stack publish their
/// second half at once (worker rule 6).
const EAGER_DEPTH: usize = 2;

/// Run `a` and `b`, potentially in parallel, and return both results.
///
/// On a pool's worker thread the second closure is offered to idle workers;
/// if nobody takes it, it runs right after the first on this thread at almost
/// no cost. Outside any pool, `join` runs in the global pool.
///
/// # Panics
///
/// If a closure panics, the other still runs to completion, then the panic
/// is re-raised here (the first closure's, if both panicked).
///
/// ```
/// fn fib(n: u64) -> u64 {
///     if n < 2 {
///         return n;
///     }
///     let (a, b) = triad::threads::join(|| fib(n - 1), || fib(n - 2));
///     a + b
/// }
/// assert_eq!(fib(20), 6765);
/// ```
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    let wt = WorkerThread::current();
    if !wt.is_null() {
        // SAFETY: a non-null current worker is the live WorkerThread on this
        // thread's stack (see `WorkerThread::current_in`).
        let wt = unsafe { &*wt };
        return join_on(wt, wt.registry.wait_policy, a, b);
    }
    super::global::run(move |wt| join_on(wt, wt.registry.wait_policy, a, b))
}

/// [`join`] with an explicit [`WaitPolicy`] for the wait on `b`, whatever
/// the pool's default.
///
/// ```
/// use triad::threads::{join_with, WaitPolicy};
/// let (a, b) = join_with(WaitPolicy::Descendants, || 1, || 2);
/// assert_eq!(a + b, 3);
/// ```
pub fn join_with<A, B, RA, RB>(policy: WaitPolicy, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    let wt = WorkerThread::current();
    if !wt.is_null() {
        // SAFETY: as in `join`.
        return join_on(unsafe { &*wt }, policy, a, b);
    }
    super::global::run(move |wt| join_on(wt, policy, a, b))
}

/// `join` on worker `wt`.
pub(crate) fn join_on<A, B, RA, RB>(wt: &WorkerThread, policy: WaitPolicy, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    let job_b = StackJob::new(b, SpinLatch::new(&wt.registry, wt.index));
    // SAFETY: `job_b` stays in this frame until we either ran it inline
    // (never published, or taken back: job rule 1) or saw its latch set
    // (job rule 2); every path below does one of the two before returning,
    // and `a`'s panic is caught so no unwinding skips them.
    let job_b_ref = unsafe { job_b.as_job_ref(wt.lineage()) };
    let job_b_id = job_b_ref.id();
    let depth = wt.push_frame(job_b_ref);
    if depth < EAGER_DEPTH {
        // The outermost joins of a job publish at once (worker rule 6).
        wt.promote_all();
    } else if wt.someone_is_hungry() {
        wt.promote_oldest(); // worker rule 5
    }

    // `a` runs without `catch_unwind` (which would cost an indirect call on
    // every join): if it panics, `UnwindGuard` finishes `b` on the way out.
    let guard = UnwindGuard {
        wt,
        job_b: &job_b,
        job_b_id,
        policy,
    };
    let result_a = a();
    std::mem::forget(guard);

    if wt.pop_frame() {
        // Worker rule 4: never published; run it inline. A panic of `b` may
        // unwind freely: nothing refers to `job_b` any more.
        let result_b = job_b.take_func()();
        return (result_a, result_b);
    }
    if wt.take_back_or_wait(job_b_id, job_b.latch.core(), policy) {
        // Taken back from our deque before anyone stole it (job rule 1).
        let result_b = job_b.take_func()();
        return (result_a, result_b);
    }
    // Stolen (or run by us from another queue): its latch is set.
    match job_b.into_result() {
        Ok(result_b) => (result_a, result_b),
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// Finishes the second half when the first one panics: `b` must still run
/// (or, if stolen, be waited for, since it borrows this stack frame) before
/// the panic leaves `join`.
struct UnwindGuard<'a, F: FnOnce() -> R + Send, R: Send> {
    wt: &'a WorkerThread,
    job_b: &'a StackJob<SpinLatch, F, R>,
    job_b_id: *const (),
    policy: WaitPolicy,
}

impl<F: FnOnce() -> R + Send, R: Send> Drop for UnwindGuard<'_, F, R> {
    fn drop(&mut self) {
        // Only reached while `a` unwinds. `b`'s own panic is caught here and
        // dropped: `a`'s panic is the one re-raised (as rayon does).
        let run_inline = self.wt.pop_frame()
            || self
                .wt
                .take_back_or_wait(self.job_b_id, self.job_b.latch.core(), self.policy);
        if run_inline {
            let func = self.job_b.take_func();
            let _ = panic::catch_unwind(AssertUnwindSafe(func));
        }
    }
}
