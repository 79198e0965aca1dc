//! A watch channel between tasks on one loop: one value, the latest one,
//! which receivers wait to see change (tokio's `sync::watch`; a shutdown
//! flag, a configuration, a state that tasks follow).
//!
//! The channel keeps the value and a *version* that every send moves on;
//! each receiver remembers the version it has seen. A [`Changed`] future:
//!
//! ```text
//!   first poll: version unseen? mark it seen ───────────────────► Ok
//!               sender dropped? ────────────────────────────────► Err(RecvError)
//!               else QUEUED ──a send wakes everyone──► GRANTED ──poll──► check again
//!                      │  └──sender dropped──► RELEASED ──poll──► check again
//!                      └──dropped──► leaves the queue (nothing to pass on)
//! ```
//!
//! Rules:
//!
//! 1. **Latest value only.** A send replaces the value; receivers that
//!    were slower than two sends see only the last one. `changed` reports
//!    that something changed since the receiver last looked, not how often.
//! 2. **Every receiver is woken.** A send wakes every waiting `changed`
//!    (each receiver has its own seen version).
//! 3. **Sender gone.** Dropping the sender wakes every waiter; `changed`
//!    then returns an unseen change first (`Ok`), then [`RecvError`]
//!    forever. A send with no receiver left fails and hands the value back
//!    (use [`Sender::send_replace`] to store it anyway).
//! 4. **Borrows are short; a send never waits for one.**
//!    [`Receiver::borrow`], [`Sender::borrow`] and `wait_for` lend the value
//!    through a `RefCell`: hold the borrow briefly, never across an
//!    `.await`. A send that finds the value borrowed changes nothing, moves
//!    no version and wakes nobody (tokio's watch would deadlock instead):
//!    [`Sender::send`] and [`Sender::send_replace`] fail with
//!    [`SendError::is_borrowed`] and hand their value back;
//!    [`Sender::send_if_modified`] does not call its closure
//!    and returns `false`; [`Sender::send_modify`] does not call its
//!    closure. Inside the closure of `send_modify`/`send_if_modified` the
//!    value is lent mutably: a `borrow()` there panics as a `RefCell` does.
//! 5. **Cancellation-safe.** A dropped `changed` leaves the queue; the
//!    receiver's seen version moves only when `changed` returns `Ok`.
//! 6. Wakers are woken after the wait list's borrow ends.

use std::cell::{Cell, Ref, RefCell, RefMut};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::error::{RecvError, SendError};
use super::wait_list::{wake_all, WaitList, WaiterKey, WaiterState};
use crate::event_loop::budget;

struct Shared<T> {
    value: RefCell<T>,
    /// Moves on at every send (rule 1).
    version: Cell<u64>,
    sender_gone: Cell<bool>,
    receivers: Cell<usize>,
    /// `changed` futures waiting (rule 2).
    waiters: RefCell<WaitList>,
    /// `Sender::closed` waiting for the last receiver to go.
    closed_waiters: RefCell<WaitList>,
}

impl<T> Shared<T> {
    fn wake(list: &RefCell<WaitList>, grant: bool) {
        let mut wakers: Vec<Waker> = Vec::new();
        if grant {
            list.borrow_mut().grant_all(&mut wakers);
        } else {
            list.borrow_mut().release_all(&mut wakers);
        }
        wake_all(wakers); // rule 6
    }

    /// Rule 4: the value, for writing; `None` while a borrow is alive.
    fn value_mut(&self) -> Option<RefMut<'_, T>> {
        self.value.try_borrow_mut().ok()
    }

    /// A send happened: move the version on, wake every waiter (rules 1, 2).
    fn changed(&self) {
        self.version.set(self.version.get().wrapping_add(1));
        Self::wake(&self.waiters, true);
    }
}

/// A new watch channel holding `initial`; receivers start having seen it.
///
/// ```
/// use triad::event_loop::{spawn, sync::watch, EventLoop};
///
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let (config, mut watcher) = watch::channel("v1");
///     let follower = spawn(async move {
///         watcher.changed().await.unwrap();
///         *watcher.borrow_and_update()
///     });
///     config.send("v2").unwrap();
///     assert_eq!(follower.await.unwrap(), "v2");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn channel<T>(initial: T) -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(Shared {
        value: RefCell::new(initial),
        version: Cell::new(0),
        sender_gone: Cell::new(false),
        receivers: Cell::new(1),
        waiters: RefCell::new(WaitList::new()),
        closed_waiters: RefCell::new(WaitList::new()),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, seen: 0 },
    )
}

/// The sending side of a [`watch::channel`](channel): replaces the value
/// and wakes the receivers.
///
/// ```
/// use triad::event_loop::sync::watch;
///
/// let (tx, rx) = watch::channel(0);
/// tx.send(1).unwrap();
/// assert_eq!(*rx.borrow(), 1);
/// ```
pub struct Sender<T> {
    shared: Rc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Replace the value and wake every receiver. Fails, handing the value
    /// back, if no receiver is left (rule 3, [`SendError::is_closed`]) or
    /// if the value is borrowed now (rule 4, [`SendError::is_borrowed`]:
    /// nothing changed, send again once the borrow has ended).
    ///
    /// ```
    /// use triad::event_loop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(0);
    /// let held = rx.borrow();
    /// assert!(tx.send(4).unwrap_err().is_borrowed()); // rule 4
    /// drop(held);
    /// drop(rx);
    /// let error = tx.send(5).unwrap_err();
    /// assert!(error.is_closed()); // rule 3
    /// assert_eq!(error.into_inner(), 5);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.receivers.get() == 0 {
            return Err(SendError::closed(value));
        }
        let Some(mut current) = self.shared.value_mut() else {
            return Err(SendError::borrowed(value));
        };
        let old = std::mem::replace(&mut *current, value);
        drop(current);
        self.shared.changed();
        drop(old); // after the borrow: its drop may touch the channel
        Ok(())
    }

    /// Replace the value even if no receiver is left (a later
    /// [`subscribe`](Self::subscribe) sees it); the old value.
    ///
    /// Fails only if the value is borrowed now (rule 4,
    /// [`SendError::is_borrowed`]): nothing is replaced, nobody is woken,
    /// and the error hands `value` back.
    ///
    /// ```
    /// use triad::event_loop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(1);
    /// assert_eq!(tx.send_replace(2).unwrap(), 1);
    /// let held = rx.borrow();
    /// let error = tx.send_replace(3).unwrap_err(); // rule 4: not stored
    /// assert!(error.is_borrowed());
    /// assert_eq!(error.into_inner(), 3);
    /// assert_eq!(*held, 2);
    /// ```
    pub fn send_replace(&self, value: T) -> Result<T, SendError<T>> {
        let Some(mut current) = self.shared.value_mut() else {
            return Err(SendError::borrowed(value)); // rule 4
        };
        let old = std::mem::replace(&mut *current, value);
        drop(current);
        self.shared.changed();
        Ok(old)
    }

    /// Change the value in place and wake every receiver.
    ///
    /// If the value is borrowed now (rule 4), `modify` is not called and
    /// nothing happens; [`send_if_modified`](Self::send_if_modified) says
    /// so by returning `false`.
    ///
    /// ```
    /// use triad::event_loop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(vec![1]);
    /// tx.send_modify(|v| v.push(2));
    /// assert_eq!(*rx.borrow(), [1, 2]);
    /// ```
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        self.send_if_modified(|value| {
            modify(value);
            true
        });
    }

    /// Change the value in place; the receivers are woken only if `modify`
    /// returns `true` (it says whether it changed anything). If the value
    /// is borrowed now (rule 4), `modify` is not called and it returns
    /// `false`.
    ///
    /// ```
    /// use triad::event_loop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(0);
    /// assert!(!tx.send_if_modified(|v| false));
    /// assert!(!rx.has_changed().unwrap());
    /// let held = rx.borrow();
    /// assert!(!tx.send_if_modified(|_| unreachable!("not called while borrowed")));
    /// drop(held);
    /// assert!(tx.send_if_modified(|v| { *v += 1; true }));
    /// ```
    pub fn send_if_modified(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        let Some(mut current) = self.shared.value_mut() else {
            return false; // rule 4
        };
        let modified = modify(&mut current);
        drop(current);
        if modified {
            self.shared.changed();
        }
        modified
    }

    /// The current value (rule 4: do not hold it across an `.await`).
    ///
    /// ```
    /// use triad::event_loop::sync::watch;
    ///
    /// let (tx, _rx) = watch::channel('a');
    /// assert_eq!(*tx.borrow(), 'a');
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        self.shared.value.borrow()
    }

    /// A new receiver, having seen the current value.
    ///
    /// ```
    /// use triad::event_loop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(0);
    /// drop(rx);
    /// tx.send_replace(3).unwrap();
    /// let rx = tx.subscribe();
    /// assert_eq!(*rx.borrow(), 3);
    /// assert!(!rx.has_changed().unwrap());
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver {
            shared: self.shared.clone(),
            seen: self.shared.version.get(),
        }
    }

    /// Receivers alive now.
    ///
    /// ```
    /// use triad::event_loop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(());
    /// let _rx2 = rx.clone();
    /// assert_eq!(tx.receiver_count(), 2);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.get()
    }

    /// Whether no receiver is left (a `send` would fail).
    ///
    /// ```
    /// use triad::event_loop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.receivers.get() == 0
    }

    /// Wait until no receiver is left.
    ///
    /// ```
    /// use triad::event_loop::{spawn, sync::watch, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let (tx, rx) = watch::channel(());
    ///     let _ = spawn(async move { drop(rx) });
    ///     tx.closed().await;
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn closed(&self) {
        SenderClosed {
            shared: &self.shared,
            key: None,
        }
        .await
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // Rule 3.
        self.shared.sender_gone.set(true);
        Shared::<T>::wake(&self.shared.waiters, false);
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Sender")
            .field("receivers", &self.receiver_count())
            .finish()
    }
}

/// The receiving side of a [`watch::channel`](channel); clone it for more
/// watchers (a clone has seen what the original has seen).
///
/// ```
/// use triad::event_loop::{sync::watch, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let (tx, mut rx) = watch::channel(0);
/// tx.send(1).unwrap();
/// tx.send(2).unwrap(); // the receiver will see only the latest
/// ev.block_on(async {
///     rx.changed().await.unwrap();
///     assert_eq!(*rx.borrow_and_update(), 2);
///     drop(tx);
///     assert!(rx.changed().await.unwrap_err().is_sender_dropped());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Receiver<T> {
    shared: Rc<Shared<T>>,
    /// The version this receiver has seen.
    seen: u64,
}

impl<T> Receiver<T> {
    /// The current value, without marking it seen (rule 4: do not hold it
    /// across an `.await`).
    ///
    /// ```
    /// use triad::event_loop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(1);
    /// tx.send(2).unwrap();
    /// assert_eq!(*rx.borrow(), 2);
    /// assert!(rx.has_changed().unwrap()); // still unseen
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        self.shared.value.borrow()
    }

    /// The current value, marking it seen.
    ///
    /// ```
    /// use triad::event_loop::sync::watch;
    ///
    /// let (tx, mut rx) = watch::channel(1);
    /// tx.send(2).unwrap();
    /// assert_eq!(*rx.borrow_and_update(), 2);
    /// assert!(!rx.has_changed().unwrap());
    /// ```
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        self.seen = self.shared.version.get();
        self.shared.value.borrow()
    }

    /// Whether a value this receiver has not seen is there; an error once
    /// the sender is gone and nothing unseen is left (rule 3).
    ///
    /// ```
    /// use triad::event_loop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(0);
    /// assert!(!rx.has_changed().unwrap());
    /// drop(tx);
    /// assert!(rx.has_changed().is_err());
    /// ```
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        if self.shared.version.get() != self.seen {
            Ok(true)
        } else if self.shared.sender_gone.get() {
            Err(RecvError::sender_dropped())
        } else {
            Ok(false)
        }
    }

    /// Wait for a value this receiver has not seen, and mark it seen;
    /// [`RecvError`] once the sender is gone and nothing unseen is left.
    /// Cancellation-safe (rule 5).
    ///
    /// ```
    /// use triad::event_loop::{spawn, sync::watch, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let (tx, mut rx) = watch::channel(false);
    ///     let _ = spawn(async move { tx.send(true).unwrap() });
    ///     rx.changed().await.unwrap();
    ///     assert!(*rx.borrow());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn changed(&mut self) -> Changed<'_, T> {
        Changed {
            receiver: self,
            key: None,
        }
    }

    /// Wait until the value satisfies `condition` (checked on the current
    /// value first); the value, marked seen. [`RecvError`] if the sender
    /// goes first.
    ///
    /// ```
    /// use triad::event_loop::{spawn, sync::watch, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let (tx, mut rx) = watch::channel(0);
    ///     let _ = spawn(async move {
    ///         for i in 1..=5 {
    ///             tx.send(i).unwrap();
    ///             triad::event_loop::yield_now().await;
    ///         }
    ///     });
    ///     // The producer may be ahead: any value from 3 on satisfies it.
    ///     assert!(*rx.wait_for(|&v| v >= 3).await.unwrap() >= 3);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn wait_for(
        &mut self,
        mut condition: impl FnMut(&T) -> bool,
    ) -> Result<Ref<'_, T>, RecvError> {
        loop {
            self.seen = self.shared.version.get();
            if condition(&self.shared.value.borrow()) {
                return Ok(self.shared.value.borrow());
            }
            self.changed().await?;
        }
    }

    /// Whether both receivers watch the same channel.
    ///
    /// ```
    /// use triad::event_loop::sync::watch;
    ///
    /// let (_tx, rx) = watch::channel(());
    /// assert!(rx.same_channel(&rx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Rc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let left = self.shared.receivers.get() - 1;
        self.shared.receivers.set(left);
        if left == 0 {
            Shared::<T>::wake(&self.shared.closed_waiters, false);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Receiver")
            .field("seen", &self.seen)
            .finish()
    }
}

/// The future of [`Receiver::changed`].
///
/// ```
/// use triad::event_loop::{sync::watch, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let (tx, mut rx) = watch::channel(0);
/// tx.send(1).unwrap();
/// let changed: watch::Changed<'_, i32> = rx.changed();
/// assert!(ev.block_on(changed).is_ok());
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Changed<'a, T> {
    receiver: &'a mut Receiver<T>,
    key: Option<WaiterKey>,
}

impl<T> Future for Changed<'_, T> {
    type Output = Result<(), RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        std::task::ready!(budget::poll_proceed(cx));
        let shared = &*this.receiver.shared;
        if let Some(key) = this.key {
            let mut waiters = shared.waiters.borrow_mut();
            if waiters.state(key) == WaiterState::Queued {
                let old = waiters.update_waker(key, cx.waker());
                drop(waiters);
                drop(old);
                return Poll::Pending;
            }
            // Woken by a send or by the sender's drop: check again.
            let (_, old) = waiters.remove(key);
            this.key = None;
            drop(waiters);
            drop(old);
        }
        let outcome = match this.receiver.has_changed() {
            Ok(true) => {
                this.receiver.seen = shared.version.get();
                Ok(())
            }
            Err(error) => Err(error),
            Ok(false) => {
                this.key = Some(shared.waiters.borrow_mut().push(1, cx.waker()));
                return Poll::Pending;
            }
        };
        budget::consume();
        Poll::Ready(outcome)
    }
}

impl<T> Drop for Changed<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let (_, old) = self.receiver.shared.waiters.borrow_mut().remove(key);
            drop(old); // rule 5: nothing to pass on
        }
    }
}

impl<T> fmt::Debug for Changed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Changed")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}

/// The future of [`Sender::closed`].
struct SenderClosed<'a, T> {
    shared: &'a Shared<T>,
    key: Option<WaiterKey>,
}

impl<T> Future for SenderClosed<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut waiters = this.shared.closed_waiters.borrow_mut();
        if let Some(key) = this.key {
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
            return Poll::Ready(());
        }
        if this.shared.receivers.get() == 0 {
            return Poll::Ready(());
        }
        this.key = Some(waiters.push(1, cx.waker()));
        Poll::Pending
    }
}

impl<T> Drop for SenderClosed<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let (_, old) = self.shared.closed_waiters.borrow_mut().remove(key);
            drop(old);
        }
    }
}
