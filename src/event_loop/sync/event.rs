//! [`Event`]: a flag that tasks wait to see set (asyncio's `Event`).
//!
//! An [`EventWait`] future:
//!
//! ```text
//!   first poll: set? ──────────────────────────────────► Ready
//!               else QUEUED ──set() wakes everyone──► GRANTED ──poll──► Ready
//!                      └──dropped──► leaves the queue
//! ```
//!
//! Rules:
//!
//! 1. **Level, not edge.** While the flag is set, `wait` completes at once;
//!    [`Event::clear`] makes later waits wait again.
//! 2. **A set reaches every waiter.** `set` grants every queued waiter: each
//!    one completes even if `clear` is called before it runs (as in
//!    asyncio, where the woken waiters return `True`).
//! 3. **Cancellation-safe.** A dropped wait leaves the queue; there is
//!    nothing to pass on (a set reaches everyone).
//! 4. Wakers are woken after the wait list's borrow ends.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::wait_list::{wake_all, WaitList, WaiterKey, WaiterState};
use crate::event_loop::budget;

/// A settable flag that tasks on one event loop wait for (`!Sync`, see the
/// [module docs](super)).
///
/// ```
/// use std::rc::Rc;
/// use triad::event_loop::{spawn, sync::Event, EventLoop};
///
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let ready = Rc::new(Event::new());
///     let worker = spawn({
///         let ready = ready.clone();
///         async move {
///             ready.wait().await; // waits until set
///             "started"
///         }
///     });
///     ready.set();
///     assert_eq!(worker.await.unwrap(), "started");
///     assert!(ready.is_set());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Event {
    set: Cell<bool>,
    waiters: RefCell<WaitList>,
}

impl Event {
    /// An event, not set.
    ///
    /// ```
    /// use triad::event_loop::sync::Event;
    ///
    /// assert!(!Event::new().is_set());
    /// ```
    pub const fn new() -> Event {
        Event {
            set: Cell::new(false),
            waiters: RefCell::new(WaitList::new()),
        }
    }

    /// Set the flag and wake every waiting task (rule 2).
    ///
    /// ```
    /// use triad::event_loop::sync::Event;
    ///
    /// let event = Event::new();
    /// event.set();
    /// assert!(event.is_set());
    /// ```
    pub fn set(&self) {
        self.set.set(true);
        let mut wakers = Vec::new();
        self.waiters.borrow_mut().grant_all(&mut wakers);
        wake_all(wakers); // rule 4
    }

    /// Clear the flag: later waits wait for the next [`set`](Self::set).
    ///
    /// ```
    /// use triad::event_loop::sync::Event;
    ///
    /// let event = Event::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// ```
    pub fn clear(&self) {
        self.set.set(false);
    }

    /// Whether the flag is set.
    ///
    /// ```
    /// use triad::event_loop::sync::Event;
    ///
    /// let event = Event::new();
    /// assert!(!event.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.set.get()
    }

    /// Wait until the flag is set (at once if it is, rule 1).
    ///
    /// ```
    /// use triad::event_loop::{sync::Event, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let event = Event::new();
    /// event.set();
    /// ev.block_on(event.wait());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            key: None,
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.set.get())
            .field("waiters", &self.waiters.borrow().len())
            .finish()
    }
}

/// The future of [`Event::wait`].
///
/// ```
/// use triad::event_loop::{sync::{Event, EventWait}, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let event = Event::new();
/// event.set();
/// let wait: EventWait<'_> = event.wait();
/// ev.block_on(wait);
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait<'a> {
    event: &'a Event,
    key: Option<WaiterKey>,
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let event = this.event;
        std::task::ready!(budget::poll_proceed(cx));
        match this.key {
            None => {
                if !event.set.get() {
                    this.key = Some(event.waiters.borrow_mut().push(1, cx.waker()));
                    return Poll::Pending;
                }
            }
            Some(key) => {
                let mut waiters = event.waiters.borrow_mut();
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
            }
        }
        budget::consume();
        Poll::Ready(())
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let (_, old) = self.event.waiters.borrow_mut().remove(key);
            drop(old); // rule 3: nothing to pass on
        }
    }
}

impl fmt::Debug for EventWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}
