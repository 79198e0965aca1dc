//! The cooperative budget: a task that is always ready still yields.
//!
//! A future that never returns `Pending` would hold the loop forever: a
//! socket with data always waiting, a channel always full. So each task poll
//! starts with a budget of [`BUDGET`] units, and every leaf future of this
//! module tree (socket operations, `accept`, timers, `JoinHandle`s) spends
//! one unit each time it completes, *successfully or with an error* (an
//! error loop is still a loop). With the budget spent, those futures return
//! `Pending` and wake their task at once, so the task goes to the back of the
//! run queue.
//!
//! Fairness guarantee: a task runs at most [`BUDGET`] completed triad
//! operations per poll before every other runnable task gets a poll; and the
//! loop checks I/O readiness, expired timers and the remote inbox at least
//! once every 61 task polls (executor.rs). A task that spins without
//! touching a triad resource is not preempted: it must call
//! [`yield_now`](super::yield_now).
//!
//! `block_on`'s own future gets the same budget per poll. Off the loop
//! (a `JoinHandle` awaited on another executor) the budget is unconstrained.

use std::cell::Cell;
use std::task::{Context, Poll};

use crate::sync::const_thread_local;

/// Units per task poll (tokio's figure).
pub(crate) const BUDGET: u32 = 128;

/// "Not inside a task": no limit.
const UNCONSTRAINED: u32 = u32::MAX;

const_thread_local! {
    static REMAINING: Cell<u32> = Cell::new(UNCONSTRAINED);
}

/// Run `f` (one task poll) with a fresh budget, restoring the previous one
/// after (polls do not nest, but `block_on`'s future may be polled between
/// tasks).
pub(crate) fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0;
            REMAINING.with(|r| r.set(previous));
        }
    }
    let _restore = Restore(REMAINING.with(|r| r.replace(BUDGET)));
    f()
}

/// Whether an operation may complete now; if not, the task is woken so it
/// runs again after the others, and the caller returns `Pending`.
///
/// `#[inline]`: called once per operation by generic code (channels,
/// sockets) that is instantiated in the user's crate; a call per message
/// was a tenth of benchmark E7's time.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    if REMAINING.with(|r| r.get()) == 0 {
        cx.waker().wake_by_ref();
        Poll::Pending
    } else {
        Poll::Ready(())
    }
}

/// An operation completed (with a value or an error): spend one unit.
#[inline]
pub(crate) fn consume() {
    REMAINING.with(|r| {
        let left = r.get();
        if left != UNCONSTRAINED && left > 0 {
            r.set(left - 1);
        }
    });
}
