//! [`Notify`]: wake one waiting task, or all of them, with no data
//! (tokio's `sync::Notify`; the building block of hand-made primitives).
//!
//! A [`Notified`] future:
//!
//! ```text
//!   created (remembers the broadcast count)
//!     first poll: a broadcast since creation? ───────────────► Ready
//!                 a stored permit? take it ───────────────────► Ready
//!                 else QUEUED ──notify_one (front first)──► GRANTED ──poll──► Ready
//!                        │  └──notify_waiters──► RELEASED ──poll──► Ready
//!                        └──dropped──► leaves      GRANTED, dropped ──► notify_one again
//! ```
//!
//! Rules:
//!
//! 1. **One permit.** `notify_one` with nobody queued stores a single
//!    permit (more calls do not add up); the next `Notified` to be polled
//!    takes it and completes at once. So a notification sent *before* the
//!    waiter got to wait is not lost.
//! 2. **FIFO.** `notify_one` wakes the waiter that has waited longest.
//! 3. **Broadcast.** `notify_waiters` completes every `Notified` created
//!    before the call, queued or not yet polled (each remembers the
//!    broadcast count at creation), and stores no permit.
//! 4. **Cancellation-safe.** A dropped `Notified` leaves the queue; one that
//!    had been handed a `notify_one` passes it on (to the next waiter, or
//!    as the stored permit), so the notification is not lost. A broadcast
//!    is not passed on: it reached everyone already.
//! 5. Wakers are woken after the wait list's borrow ends.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::wait_list::{wake_all, WaitList, WaiterKey, WaiterState};
use crate::event_loop::budget;

/// Notifies tasks on one event loop (`!Sync`, see the [module docs](super)).
///
/// ```
/// use std::rc::Rc;
/// use triad::event_loop::{spawn, sync::Notify, EventLoop};
///
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let notify = Rc::new(Notify::new());
///     let waiter = spawn({
///         let notify = notify.clone();
///         async move {
///             notify.notified().await;
///             "woken"
///         }
///     });
///     notify.notify_one(); // kept as a permit if the waiter is not waiting yet
///     assert_eq!(waiter.await.unwrap(), "woken");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Notify {
    permit: Cell<bool>,
    /// `notify_waiters` calls so far (rule 3).
    broadcasts: Cell<u64>,
    waiters: RefCell<WaitList>,
}

impl Notify {
    /// A `Notify` with no permit stored.
    ///
    /// ```
    /// use triad::event_loop::sync::Notify;
    ///
    /// let notify = Notify::new();
    /// notify.notify_one();
    /// ```
    pub const fn new() -> Notify {
        Notify {
            permit: Cell::new(false),
            broadcasts: Cell::new(0),
            waiters: RefCell::new(WaitList::new()),
        }
    }

    /// A future that completes when notified. Created before a
    /// `notify_waiters`, it completes even if it was not polled yet (rule 3).
    ///
    /// ```
    /// use triad::event_loop::{sync::Notify, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let notify = Notify::new();
    /// let notified = notify.notified();
    /// notify.notify_waiters();
    /// ev.block_on(notified); // completes: created before the broadcast
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            broadcasts: self.broadcasts.get(),
            key: None,
        }
    }

    /// Wake the longest waiting task, or store one permit if none waits
    /// (rules 1, 2).
    ///
    /// ```
    /// use triad::event_loop::{sync::Notify, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let notify = Notify::new();
    /// notify.notify_one();
    /// notify.notify_one(); // still one permit
    /// ev.block_on(notify.notified()); // takes it
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn notify_one(&self) {
        let waker = self.waiters.borrow_mut().grant_front();
        match waker {
            Some(waker) => waker.wake(), // rule 5: after the borrow
            None => self.permit.set(true),
        }
    }

    /// Wake every task waiting now, and complete every `Notified` created
    /// so far (rule 3). Stores no permit.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use triad::event_loop::{spawn, sync::Notify, yield_now, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let notify = Rc::new(Notify::new());
    ///     let waiters: Vec<_> = (0..3)
    ///         .map(|_| {
    ///             let notify = notify.clone();
    ///             spawn(async move { notify.notified().await })
    ///         })
    ///         .collect();
    ///     yield_now().await; // let them all wait
    ///     notify.notify_waiters();
    ///     for waiter in waiters {
    ///         waiter.await.unwrap();
    ///     }
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn notify_waiters(&self) {
        self.broadcasts.set(self.broadcasts.get().wrapping_add(1));
        let mut wakers = Vec::new();
        self.waiters.borrow_mut().release_all(&mut wakers);
        wake_all(wakers);
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify")
            .field("permit", &self.permit.get())
            .field("waiters", &self.waiters.borrow().len())
            .finish()
    }
}

/// The future of [`Notify::notified`].
///
/// ```
/// use triad::event_loop::{sync::{Notified, Notify}, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let notify = Notify::new();
/// notify.notify_one();
/// let notified: Notified<'_> = notify.notified();
/// ev.block_on(notified);
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    notify: &'a Notify,
    /// `broadcasts` when this was created (rule 3).
    broadcasts: u64,
    key: Option<WaiterKey>,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let notify = this.notify;
        std::task::ready!(budget::poll_proceed(cx));
        match this.key {
            None => {
                let broadcast = notify.broadcasts.get() != this.broadcasts;
                if !broadcast && !notify.permit.replace(false) {
                    this.key = Some(notify.waiters.borrow_mut().push(1, cx.waker()));
                    return Poll::Pending;
                }
            }
            Some(key) => {
                let mut waiters = notify.waiters.borrow_mut();
                if waiters.state(key) == WaiterState::Queued {
                    let old = waiters.update_waker(key, cx.waker());
                    drop(waiters);
                    drop(old);
                    return Poll::Pending;
                }
                // GRANTED (a notify_one) or RELEASED (a broadcast): done.
                let (_, old) = waiters.remove(key);
                this.key = None;
                drop(waiters);
                drop(old);
            }
        }
        budget::consume();
        Poll::Ready(())
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let (state, old) = self.notify.waiters.borrow_mut().remove(key);
        drop(old);
        if state == WaiterState::Granted {
            self.notify.notify_one(); // rule 4
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}
