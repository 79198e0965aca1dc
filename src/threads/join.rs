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

use std::panic;

use super::frame::JoinFrame;
use super::job::contain_panic;
use super::wait_policy::WaitPolicy;
use super::worker::WorkerThread;

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
/// # The halves must be independent
///
/// `a` must never wait for something `b` does (a flag, a channel, a
/// lock `b` releases): `b` may start only once `a` has returned. That is so
/// in any pool of one thread, and here also with idle workers, unlike
/// rayon: the second half of a join nested in another one's first half
/// may stay private to its worker (which is what makes a join cheap) until
/// that worker joins or waits again, so no idle worker may see it while
/// `a` spins, and `a` then waits forever.
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
    if wt.is_null() {
        return join_outside_any_pool(PoolPolicy, a, b);
    }
    // SAFETY: a non-null current worker is the live WorkerThread on this
    // thread's stack (see `WorkerThread::current_in`).
    join_on(unsafe { &*wt }, PoolPolicy, a, b)
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
    if wt.is_null() {
        return join_outside_any_pool(policy, a, b);
    }
    // SAFETY: as in `join`.
    join_on(unsafe { &*wt }, policy, a, b)
}

/// A `join` called outside any pool: it runs in the global pool (or the
/// pool of `ThreadPool::install`). Kept out of line, so that the path on a
/// worker saves no registers for it.
#[cold]
#[inline(never)]
fn join_outside_any_pool<A, B, RA, RB, P>(policy: P, a: A, b: B) -> (RA, RB)
where
    P: PolicySource,
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    super::global::run(move |wt| join_on(wt, policy, a, b))
}

/// Where a join finds its wait policy: the pool's (read only if the wait
/// happens, and zero-sized, to keep the fast path lean) or an explicit one.
pub(crate) trait PolicySource: Copy + Send {
    fn policy(self, wt: &WorkerThread) -> WaitPolicy;
}

/// The pool's own wait policy.
#[derive(Clone, Copy)]
pub(crate) struct PoolPolicy;

impl PolicySource for PoolPolicy {
    #[inline]
    fn policy(self, wt: &WorkerThread) -> WaitPolicy {
        wt.registry.wait_policy
    }
}

impl PolicySource for WaitPolicy {
    #[inline]
    fn policy(self, _: &WorkerThread) -> WaitPolicy {
        self
    }
}

/// `join` on worker `wt`.
///
/// `#[inline]` gives every crate that joins its own local copy, which LLVM
/// may then tailor to the closures (a recursive `fib` gets its argument by
/// value instead of through the closure's reference).
#[inline]
pub(crate) fn join_on<A, B, RA, RB, P>(wt: &WorkerThread, policy: P, a: A, b: B) -> (RA, RB)
where
    P: PolicySource,
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    let frame = JoinFrame::new(b, wt.top_frame(), wt.lineage());
    // The frame stays in place until it is unlinked and, if promoted, taken
    // back or completed (frame rule 5): every path below does that before
    // returning, and `UnwindGuard` does it if `a` panics.
    wt.link_frame(&frame);
    if frame.head.prev.is_null() {
        wt.promote_all(); // the outermost join publishes at once
    } else if wt.someone_is_hungry() {
        wt.promote_oldest();
    }

    // `a` runs without `catch_unwind` (which would cost an indirect call on
    // every join): if it panics, `UnwindGuard` finishes `b` on the way out.
    let guard = UnwindGuard {
        wt,
        frame: &frame,
        policy,
    };
    let result_a = a();
    std::mem::forget(guard);
    wt.unlink_frame(&frame);

    if !frame.head.promoted.get() {
        // Frame rule 4: never published; run it inline. A panic of `b` may
        // unwind freely: nothing refers to the frame any more.
        // SAFETY: private, and this path takes `b` once (frame rule 6).
        let result_b = unsafe { frame.take_func() }();
        return (result_a, result_b);
    }
    let policy = policy.policy(wt);
    if wt.take_back_or_wait(frame.head.id(), frame.head.latch().core(), policy) {
        // Taken back from our deque before anyone stole it (job rule 1).
        // SAFETY: taken back unexecuted, and this path takes `b` once
        // (frame rule 6).
        let result_b = unsafe { frame.take_func() }();
        return (result_a, result_b);
    }
    // Stolen (or run by us from another queue): its latch is set.
    match frame.into_result() {
        Ok(result_b) => (result_a, result_b),
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// Finishes the second half when the first one panics: `b` must still run
/// (or, if stolen, be waited for, since it borrows this stack frame) before
/// the panic leaves `join`.
struct UnwindGuard<'a, F: FnOnce() -> R + Send, R: Send, P: PolicySource> {
    wt: &'a WorkerThread,
    frame: &'a JoinFrame<F, R>,
    policy: P,
}

impl<F: FnOnce() -> R + Send, R: Send, P: PolicySource> Drop for UnwindGuard<'_, F, R, P> {
    /// Inlined, so that the landing pad calls `finish_while_unwinding` with
    /// the worker and the frame's address it still holds: the guard is
    /// never written to memory, and the path where `a` returns pays nothing
    /// for it.
    #[inline(always)]
    fn drop(&mut self) {
        finish_while_unwinding(self.wt, self.frame, self.policy);
    }
}

/// The body of [`UnwindGuard`]'s drop, off the hot path.
#[cold]
#[inline(never)]
fn finish_while_unwinding<F, R, P>(wt: &WorkerThread, frame: &JoinFrame<F, R>, policy: P)
where
    F: FnOnce() -> R + Send,
    R: Send,
    P: PolicySource,
{
    // Only reached while `a` unwinds. `b`'s own panic is caught here and
    // dropped: `a`'s panic is the one re-raised (as rayon does).
    let head = &frame.head;
    wt.unlink_frame(frame);
    let run_inline = !head.promoted.get()
        || wt.take_back_or_wait(head.id(), head.latch().core(), policy.policy(wt));
    // A panic here (of `b`, or of dropping its value or payload, whose
    // `Drop` may panic) must not escape: this runs while `a`'s panic
    // unwinds, and a second one would abort the process. `contain_panic`
    // also drops the caught payload under `catch_unwind`.
    if run_inline {
        // SAFETY: private or taken back unexecuted; the unwinding path is
        // the only one to take `b` (frame rule 6).
        let func = unsafe { frame.take_func() };
        contain_panic(move || drop(func()));
    } else {
        // Stolen and executed: its result (a value, or `b`'s panic
        // payload) is ours to drop.
        // SAFETY: `take_back_or_wait` returned false: the latch is set
        // (job rule 4), and nothing else reads the result.
        contain_panic(|| unsafe { frame.drop_result() });
    }
}
