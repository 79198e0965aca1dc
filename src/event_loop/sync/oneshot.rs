//! A oneshot channel between tasks on one loop: one value, once (tokio's
//! `sync::oneshot`; asyncio's `Future` used as a result slot).
//!
//! ```text
//!   receiver:  EMPTY ──send──────────────► VALUE ──recv──► Ok(value)
//!                │  ├──sender dropped────► Err(RecvError)
//!                │  └──close()───────────► Err(RecvError), at once
//!   sender:    open ──receiver dropped or close()──► send fails with the value back
//! ```
//!
//! Rules:
//!
//! 1. **One outcome.** The receiver gets the value, or an error once no
//!    value can come (the sender dropped without sending, or the receiver
//!    closed before a send); never a hang.
//! 2. **Nothing lost silently.** A send to a dropped or closed receiver
//!    fails and hands the value back ([`SendError::into_inner`]). A value
//!    sent but never received is dropped with the receiver.
//! 3. **Close.** [`Receiver::close`] refuses later sends but keeps a value
//!    already sent; without one, a receive then fails at once
//!    ([`RecvError::is_closed`]), whether or not the sender is still
//!    alive. [`Sender::closed`] completes when the receiver is closed or
//!    dropped (so the sender can stop working for nobody).
//! 4. Wakers are woken, and the value dropped, outside any borrow.
//! 5. **A dropped side lets go of its waker.** The receiver's waker (it
//!    was awaited) and the sender's (`poll_closed`) go with their handle:
//!    the other side may live on for long, and a waker keeps its task's
//!    whole block alive (a task that gave up on the receive, in a
//!    `select` or under a `timeout`, and ended).

use std::cell::Cell;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::error::{RecvError, SendError, TryRecvError};
use super::store_waker;
use crate::event_loop::budget;

struct Inner<T> {
    value: Cell<Option<T>>,
    sender_gone: Cell<bool>,
    receiver_closed: Cell<bool>,
    receiver_waker: Cell<Option<Waker>>,
    sender_waker: Cell<Option<Waker>>,
}

fn wake(slot: &Cell<Option<Waker>>) {
    if let Some(waker) = slot.take() {
        waker.wake();
    }
}

/// A new oneshot channel.
///
/// ```
/// use triad::event_loop::{spawn, sync::oneshot, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let answer = ev.block_on(async {
///     let (tx, rx) = oneshot::channel();
///     let _ = spawn(async move { tx.send(42).unwrap() });
///     rx.await
/// });
/// assert_eq!(answer, Ok(42));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Rc::new(Inner {
        value: Cell::new(None),
        sender_gone: Cell::new(false),
        receiver_closed: Cell::new(false),
        receiver_waker: Cell::new(None),
        sender_waker: Cell::new(None),
    });
    (
        Sender {
            inner: inner.clone(),
        },
        Receiver { inner },
    )
}

/// The sending side of a [`oneshot::channel`](channel).
///
/// ```
/// use triad::event_loop::sync::oneshot;
///
/// let (tx, mut rx) = oneshot::channel();
/// tx.send("done").unwrap();
/// assert_eq!(rx.try_recv(), Ok("done"));
/// ```
pub struct Sender<T> {
    inner: Rc<Inner<T>>,
}

impl<T> Sender<T> {
    /// Send the value, consuming the sender. Fails, handing the value back,
    /// if the receiver is dropped or closed (rule 2).
    ///
    /// ```
    /// use triad::event_loop::sync::oneshot;
    ///
    /// let (tx, rx) = oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(7).unwrap_err().into_inner(), 7);
    /// ```
    pub fn send(self, value: T) -> Result<(), SendError<T>> {
        if self.inner.receiver_closed.get() {
            return Err(SendError::closed(value));
        }
        self.inner.value.set(Some(value));
        Ok(()) // our drop wakes the receiver
    }

    /// Whether the receiver is dropped or closed (a send would fail).
    ///
    /// ```
    /// use triad::event_loop::sync::oneshot;
    ///
    /// let (tx, rx) = oneshot::channel::<()>();
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.receiver_closed.get()
    }

    /// Wait until the receiver is dropped or closed (rule 3): to stop
    /// computing a value nobody wants.
    ///
    /// ```
    /// use triad::event_loop::{spawn, sync::oneshot, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let (mut tx, rx) = oneshot::channel::<u32>();
    ///     let _ = spawn(async move { drop(rx) });
    ///     tx.closed().await;
    ///     assert!(tx.send(1).is_err());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn closed(&mut self) {
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Poll form of [`closed`](Self::closed), for hand-written futures.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use triad::event_loop::{sync::oneshot, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let (mut tx, rx) = oneshot::channel::<()>();
    /// drop(rx);
    /// ev.block_on(poll_fn(|cx| tx.poll_closed(cx)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.receiver_closed.get() {
            return Poll::Ready(());
        }
        store_waker(&self.inner.sender_waker, cx.waker()); // rule 4
        Poll::Pending
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.inner.sender_gone.set(true);
        drop(self.inner.sender_waker.take()); // rule 5
        wake(&self.inner.receiver_waker);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The receiving side of a [`oneshot::channel`](channel): a future of the
/// value, or of a [`RecvError`] once the sender is dropped without sending.
///
/// ```
/// use triad::event_loop::{sync::oneshot, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let (tx, rx) = oneshot::channel::<u8>();
/// drop(tx);
/// assert!(ev.block_on(rx).unwrap_err().is_sender_dropped());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Receiver<T> {
    inner: Rc<Inner<T>>,
}

impl<T> Receiver<T> {
    /// The value if it was sent, without waiting.
    ///
    /// ```
    /// use triad::event_loop::sync::oneshot;
    ///
    /// let (tx, mut rx) = oneshot::channel::<u8>();
    /// assert!(rx.try_recv().unwrap_err().is_empty());
    /// drop(tx);
    /// assert!(rx.try_recv().unwrap_err().is_disconnected());
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.inner.value.take() {
            Some(value) => Ok(value),
            // Nothing can come any more (rule 1).
            None if self.inner.sender_gone.get() || self.inner.receiver_closed.get() => {
                Err(TryRecvError::disconnected())
            }
            None => Err(TryRecvError::empty()),
        }
    }

    /// Refuse later sends (rule 3); a value already sent can still be
    /// received. Without one, receiving fails at once from now on
    /// ([`RecvError::is_closed`]), even while the sender lives.
    ///
    /// ```
    /// use triad::event_loop::sync::oneshot;
    ///
    /// let (tx, mut rx) = oneshot::channel::<u8>();
    /// rx.close();
    /// assert!(tx.send(1).is_err());
    /// assert!(rx.try_recv().unwrap_err().is_disconnected());
    /// ```
    pub fn close(&mut self) {
        self.inner.receiver_closed.set(true);
        wake(&self.inner.sender_waker);
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        std::task::ready!(budget::poll_proceed(cx));
        let inner = &self.inner;
        let outcome = match inner.value.take() {
            Some(value) => Ok(value),
            None if inner.sender_gone.get() => Err(RecvError::sender_dropped()),
            None if inner.receiver_closed.get() => Err(RecvError::closed()), // rule 3
            None => {
                store_waker(&inner.receiver_waker, cx.waker()); // rule 4
                return Poll::Pending;
            }
        };
        budget::consume();
        Poll::Ready(outcome)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.inner.receiver_closed.set(true);
        let value = self.inner.value.take();
        let own = self.inner.receiver_waker.take(); // rule 5
        wake(&self.inner.sender_waker);
        drop(own);
        drop(value); // rule 4: nothing is borrowed now
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Receiver").finish_non_exhaustive()
    }
}
