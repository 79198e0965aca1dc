//! [`Barrier`]: tasks wait until `n` of them have arrived, then all go on
//! together (asyncio's `Barrier`, tokio's `sync::Barrier`).
//!
//! A [`BarrierWait`] future:
//!
//! ```text
//!   first poll: the n-th to arrive? release everyone, reset ──► Ready (leader)
//!               else count it; QUEUED ──the n-th arrives──► GRANTED ──poll──► Ready (not leader)
//!                                  └──dropped──► leaves: no longer counted
//! ```
//!
//! Rules:
//!
//! 1. **Rounds.** The `n`-th arrival releases the `n - 1` waiting before it
//!    and returns as the leader; the count starts again at zero, so the
//!    barrier can be reused round after round.
//! 2. **Exactly one leader** per round: the task that completed it.
//! 3. **Cancellation-safe.** A dropped waiting future is no longer counted
//!    (as in asyncio): the round then needs another arrival. One dropped
//!    after its round was released changes nothing.
//! 4. Wakers are woken after the wait list's borrow ends.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::wait_list::{wake_all, WaitList, WaiterKey, WaiterState};
use crate::event_loop::budget;

/// A reusable barrier for `n` tasks on one event loop (`!Sync`, see the
/// [module docs](super)).
///
/// ```
/// use std::rc::Rc;
/// use triad::event_loop::{spawn, sync::Barrier, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let leaders = ev.block_on(async {
///     let barrier = Rc::new(Barrier::new(3));
///     let tasks: Vec<_> = (0..3)
///         .map(|_| {
///             let barrier = barrier.clone();
///             spawn(async move { barrier.wait().await.is_leader() })
///         })
///         .collect();
///     let mut leaders = 0;
///     for task in tasks {
///         leaders += task.await.unwrap() as usize;
///     }
///     leaders
/// });
/// assert_eq!(leaders, 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Barrier {
    parties: usize,
    arrived: Cell<usize>,
    waiters: RefCell<WaitList>,
}

impl Barrier {
    /// A barrier for `n` tasks (`0` acts as `1`: every wait returns at
    /// once, as the leader).
    ///
    /// ```
    /// use triad::event_loop::sync::Barrier;
    ///
    /// assert_eq!(Barrier::new(4).parties(), 4);
    /// ```
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            parties: if n == 0 { 1 } else { n },
            arrived: Cell::new(0),
            waiters: RefCell::new(WaitList::new()),
        }
    }

    /// Arrive, and wait until `n` have arrived (rule 1).
    ///
    /// ```
    /// use triad::event_loop::{sync::Barrier, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let barrier = Barrier::new(1);
    /// assert!(ev.block_on(barrier.wait()).is_leader());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            key: None,
        }
    }

    /// How many tasks each round needs.
    ///
    /// ```
    /// use triad::event_loop::sync::Barrier;
    ///
    /// assert_eq!(Barrier::new(0).parties(), 1);
    /// ```
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// How many are waiting in this round now.
    ///
    /// ```
    /// use triad::event_loop::sync::Barrier;
    ///
    /// assert_eq!(Barrier::new(2).n_waiting(), 0);
    /// ```
    pub fn n_waiting(&self) -> usize {
        self.arrived.get()
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("waiting", &self.arrived.get())
            .finish()
    }
}

/// What [`Barrier::wait`] returns: whether this task completed the round.
///
/// ```
/// use triad::event_loop::{sync::Barrier, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let result = ev.block_on(Barrier::new(1).wait());
/// assert!(result.is_leader());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult {
    leader: bool,
}

impl BarrierWaitResult {
    /// Whether this task was the last to arrive (one per round, rule 2).
    ///
    /// ```
    /// use triad::event_loop::{sync::Barrier, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// assert!(ev.block_on(Barrier::new(1).wait()).is_leader());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

/// The future of [`Barrier::wait`].
///
/// ```
/// use triad::event_loop::{sync::{Barrier, BarrierWait}, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let barrier = Barrier::new(1);
/// let wait: BarrierWait<'_> = barrier.wait();
/// ev.block_on(wait);
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    key: Option<WaiterKey>,
}

impl Future for BarrierWait<'_> {
    type Output = BarrierWaitResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        let this = self.get_mut();
        let barrier = this.barrier;
        std::task::ready!(budget::poll_proceed(cx));
        let leader = match this.key {
            None => {
                let arrived = barrier.arrived.get() + 1;
                if arrived < barrier.parties {
                    barrier.arrived.set(arrived);
                    this.key = Some(barrier.waiters.borrow_mut().push(1, cx.waker()));
                    return Poll::Pending;
                }
                // Rule 1: the round is complete; release it and start again.
                barrier.arrived.set(0);
                let mut wakers = Vec::new();
                barrier.waiters.borrow_mut().grant_all(&mut wakers);
                wake_all(wakers); // rule 4
                true
            }
            Some(key) => {
                let mut waiters = barrier.waiters.borrow_mut();
                if waiters.state(key) == WaiterState::Queued {
                    let old = waiters.update_waker(key, cx.waker());
                    drop(waiters);
                    drop(old);
                    return Poll::Pending;
                }
                let (_, old) = waiters.remove(key);
                this.key = None;
                drop(waiters);
                drop(old);
                false
            }
        };
        budget::consume();
        Poll::Ready(BarrierWaitResult { leader })
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let (state, old) = self.barrier.waiters.borrow_mut().remove(key);
        drop(old);
        if state == WaiterState::Queued {
            // Rule 3: it leaves the round it was counted in.
            self.barrier.arrived.set(self.barrier.arrived.get() - 1);
        }
    }
}

impl fmt::Debug for BarrierWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWait")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}
