//! The bounded channel's sending side: [`Sender`], its waiting
//! [`Reserve`] future and the [`Permit`] a reservation gives (rules 2, 3, 7
//! of the `mpsc` module docs).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::chan::{Chan, Closed, ReceiverState};
use crate::event_loop::budget;
use crate::event_loop::sync::error::{SendError, TrySendError};
use crate::event_loop::sync::store_waker;
use crate::event_loop::sync::wait_list::{WaiterKey, WaiterState};

/// The sending side of a bounded [`channel`](super::channel); clone it for
/// more producers. Dropping the last one ends the stream.
///
/// ```
/// use triad::event_loop::{sync::mpsc, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let (tx, mut rx) = mpsc::channel(2);
/// let tx2 = tx.clone();
/// ev.block_on(async {
///     tx.send(1).await.unwrap();
///     tx2.send(2).await.unwrap();
///     assert!(tx.try_send(3).unwrap_err().is_full()); // 2 slots, both taken
///     assert_eq!(rx.recv().await, Some(1));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Sender<T> {
    chan: Rc<Chan<T>>,
}

impl<T> Sender<T> {
    pub(super) fn new(chan: Rc<Chan<T>>) -> Self {
        Sender { chan }
    }

    /// Send `value`, waiting for a free slot while the channel is full
    /// (rules 2, 3). Fails, handing the value back, once the receiver is
    /// closed or dropped (rules 5, 6). On a rendezvous channel (capacity
    /// 0) it returns `Ok` only once the receiver has taken the value, and
    /// hands the value back if the receiver is dropped first (rule 9).
    ///
    /// Cancellation: dropping the future before it completes leaves the
    /// wait list and passes on a slot it was handed; the value is dropped
    /// with it, unsent (rule 7; [`reserve`](Self::reserve) keeps it).
    ///
    /// ```
    /// use triad::event_loop::{sync::mpsc, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let (tx, rx) = mpsc::channel(1);
    /// drop(rx);
    /// let error = ev.block_on(tx.send("hello")).unwrap_err();
    /// assert_eq!(error.into_inner(), "hello");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        let permit = match self.reserve().await {
            Ok(permit) => permit,
            Err(_) => return Err(SendError::closed(value)),
        };
        if self.chan.rendezvous {
            permit.hand_over(value)?.await
        } else {
            permit.send(value)
        }
    }

    /// Send `value` if a slot is free now and no sender waits for one
    /// (rule 3); else hand it back, full or closed. On a rendezvous
    /// channel, only while the receiver waits in `recv` (rule 9).
    ///
    /// ```
    /// use triad::event_loop::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// tx.try_send(1).unwrap();
    /// assert!(tx.try_send(2).unwrap_err().is_full());
    /// rx.close();
    /// assert!(tx.try_send(3).unwrap_err().is_closed());
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.try_reserve() {
            Ok(permit) => permit.send(value).map_err(TrySendError::from),
            Err(error) if error.is_full() => Err(TrySendError::full(value)),
            Err(_) => Err(TrySendError::closed(value)),
        }
    }

    /// Wait for a slot and reserve it: the [`Permit`] sends without waiting
    /// and gives the slot back if dropped unused. The cancellation-safe way
    /// to send from a `select` (rule 7). On a rendezvous channel the
    /// permit's message waits in the hand-off slot for the next `recv`,
    /// and nobody waits for its take (rule 9).
    ///
    /// ```
    /// use triad::event_loop::{sync::mpsc, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let (tx, mut rx) = mpsc::channel(1);
    /// ev.block_on(async {
    ///     let permit = tx.reserve().await.unwrap();
    ///     assert_eq!(tx.capacity(), 0); // the slot is ours
    ///     permit.send(5).unwrap();
    ///     assert_eq!(rx.recv().await, Some(5));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reserve(&self) -> Reserve<'_, T> {
        Reserve {
            chan: &self.chan,
            key: None,
        }
    }

    /// Reserve a slot if one is free now and no sender waits for one (on a
    /// rendezvous channel, only while the receiver waits in `recv`).
    ///
    /// ```
    /// use triad::event_loop::sync::mpsc;
    ///
    /// let (tx, _rx) = mpsc::channel::<u8>(1);
    /// let permit = tx.try_reserve().unwrap();
    /// assert!(tx.try_reserve().unwrap_err().is_full());
    /// drop(permit); // the slot comes back
    /// assert!(tx.try_reserve().is_ok());
    /// ```
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        if self.chan.is_closed() {
            Err(TrySendError::closed(()))
        } else if self.chan.rendezvous && !self.chan.receiver_waits() {
            Err(TrySendError::full(())) // rule 9: nobody to hand it to now
        } else if self.chan.try_reserve() {
            Ok(Permit { chan: &self.chan })
        } else {
            Err(TrySendError::full(()))
        }
    }

    /// Whether the receiver is closed or dropped (sends fail).
    ///
    /// ```
    /// use triad::event_loop::sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::channel::<u8>(1);
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Wait until the receiver is closed or dropped: to stop producing for
    /// nobody.
    ///
    /// ```
    /// use triad::event_loop::{spawn, sync::mpsc, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let (tx, rx) = mpsc::channel::<u8>(1);
    ///     let _ = spawn(async move { drop(rx) });
    ///     tx.closed().await;
    ///     assert!(tx.is_closed());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn closed(&self) {
        Closed::new(&self.chan).await
    }

    /// Slots free now (neither holding a message nor reserved); always 0
    /// for a rendezvous channel, which has no slot to queue in (rule 9).
    ///
    /// ```
    /// use triad::event_loop::sync::mpsc;
    ///
    /// let (tx, _rx) = mpsc::channel(4);
    /// tx.try_send(1).unwrap();
    /// assert_eq!((tx.capacity(), tx.max_capacity()), (3, 4));
    /// ```
    pub fn capacity(&self) -> usize {
        if self.chan.rendezvous {
            0 // rule 9: no slot to wait in, only a hand-off
        } else {
            self.chan.free.get()
        }
    }

    /// The capacity the channel was made with (0 for a rendezvous).
    ///
    /// ```
    /// use triad::event_loop::sync::mpsc;
    ///
    /// let (tx, _rx) = mpsc::channel::<u8>(8);
    /// assert_eq!(tx.max_capacity(), 8);
    /// ```
    pub fn max_capacity(&self) -> usize {
        if self.chan.rendezvous {
            0
        } else {
            self.chan.bound.unwrap_or(usize::MAX)
        }
    }

    /// Whether both senders feed the same channel.
    ///
    /// ```
    /// use triad::event_loop::sync::mpsc;
    ///
    /// let (tx, _rx) = mpsc::channel::<u8>(1);
    /// let (other, _rx2) = mpsc::channel::<u8>(1);
    /// assert!(tx.same_channel(&tx.clone()));
    /// assert!(!tx.same_channel(&other));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Rc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Sender")
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The future of [`Sender::reserve`]: a slot, as a [`Permit`].
///
/// ```
/// use triad::event_loop::{sync::mpsc, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let (tx, _rx) = mpsc::channel::<u8>(1);
/// let reserve: mpsc::Reserve<'_, u8> = tx.reserve();
/// assert!(ev.block_on(reserve).is_ok());
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Reserve<'a, T> {
    chan: &'a Chan<T>,
    /// Our place in the wait list, from the first `Pending` on.
    key: Option<WaiterKey>,
}

impl<'a, T> Future for Reserve<'a, T> {
    type Output = Result<Permit<'a, T>, SendError<()>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let chan = this.chan;
        std::task::ready!(budget::poll_proceed(cx));
        let reserved = match this.key {
            None => {
                if chan.is_closed() {
                    false
                } else if chan.try_reserve() {
                    true
                } else {
                    this.key = Some(chan.send_waiters.borrow_mut().push(1, cx.waker()));
                    return Poll::Pending;
                }
            }
            Some(key) => {
                let mut waiters = chan.send_waiters.borrow_mut();
                let state = waiters.state(key);
                if state == WaiterState::Queued {
                    let old = waiters.update_waker(key, cx.waker());
                    drop(waiters);
                    drop(old); // rule 8
                    return Poll::Pending;
                }
                let (_, old) = waiters.remove(key);
                this.key = None;
                drop(waiters);
                drop(old);
                // GRANTED: the slot is ours (rule 3); RELEASED: closed.
                state == WaiterState::Granted
            }
        };
        budget::consume();
        Poll::Ready(if reserved {
            Ok(Permit { chan })
        } else {
            Err(SendError::closed(()))
        })
    }
}

impl<T> Drop for Reserve<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // The common case, a reservation that completed: nothing to undo.
        if self.key.is_some() {
            self.cancel();
        }
    }
}

impl<T> Reserve<'_, T> {
    /// Rule 7: the future is dropped while it waits, or after it was
    /// granted a slot it did not take.
    fn cancel(&mut self) {
        let Some(key) = self.key.take() else { return };
        let (state, old) = self.chan.send_waiters.borrow_mut().remove(key);
        drop(old);
        if state == WaiterState::Granted {
            self.chan.release_slot(); // rule 7: to the next sender
        }
    }
}

impl<T> fmt::Debug for Reserve<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reserve")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}

/// A reserved slot of a bounded channel: [`send`](Permit::send) never
/// waits; dropping it unused gives the slot back (to the next waiting
/// sender first).
///
/// ```
/// use triad::event_loop::sync::mpsc;
///
/// let (tx, mut rx) = mpsc::channel(1);
/// let permit = tx.try_reserve().unwrap();
/// permit.send("x").unwrap();
/// assert_eq!(rx.try_recv(), Ok("x"));
/// ```
#[must_use = "dropping a permit gives its slot back unused"]
pub struct Permit<'a, T> {
    chan: &'a Chan<T>,
}

impl<'a, T> Permit<'a, T> {
    /// Send `value` into the reserved slot. Fails, handing the value back,
    /// only if the receiver was dropped meanwhile (a closed receiver still
    /// gets it, rule 5).
    ///
    /// ```
    /// use triad::event_loop::sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::channel(1);
    /// let permit = tx.try_reserve().unwrap();
    /// drop(rx);
    /// assert_eq!(permit.send(9).unwrap_err().into_inner(), 9);
    /// ```
    pub fn send(self, value: T) -> Result<(), SendError<T>> {
        let chan = self.chan;
        // The slot passes to the message: our drop must not give it back.
        std::mem::forget(self);
        if chan.receiver.get() == ReceiverState::Dropped {
            return Err(SendError::closed(value));
        }
        chan.push(value);
        Ok(())
    }

    /// Rule 9: put `value` into the rendezvous slot and give the future
    /// that waits until the receiver takes it.
    fn hand_over(self, value: T) -> Result<Delivery<'a, T>, SendError<T>> {
        let chan = self.chan;
        // The slot passes to the message: our drop must not give it back.
        std::mem::forget(self);
        if chan.receiver.get() == ReceiverState::Dropped {
            return Err(SendError::closed(value));
        }
        // The slot is the only one, and ours: the queue is empty, so our
        // message is the next one taken. Marked before the push, whose
        // wake is foreign code.
        let ticket = chan.taken.get();
        chan.awaiting_delivery.set(true);
        chan.push(value);
        Ok(Delivery {
            chan,
            ticket,
            waiting: true,
        })
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.chan.release_slot();
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Permit").finish_non_exhaustive()
    }
}

/// Rule 9: a rendezvous `send` whose message is in the slot, waiting for
/// the receiver to take it.
///
/// ```text
///   poll: taken (the receiver's count passed our ticket)? ───► Ok
///         receiver dropped? take the message back ───────────► Err(value back)
///         else store the waker for `message_taken` ──────────► Pending
///   dropped while waiting: take the message back (dropped unsent),
///                          the slot to the next sender (rule 7)
/// ```
struct Delivery<'a, T> {
    chan: &'a Chan<T>,
    /// `taken` when our message was queued: it is taken once `taken`
    /// moves on.
    ticket: u64,
    /// Our message may still be in the slot.
    waiting: bool,
}

impl<T> Delivery<'_, T> {
    fn is_taken(&self) -> bool {
        self.chan.taken.get() != self.ticket
    }

    /// Take our message back out of the slot (it is the only one queued:
    /// nobody else can push while we hold the slot).
    fn take_back(&mut self) -> T {
        self.waiting = false;
        self.chan.awaiting_delivery.set(false);
        let old_waker = self.chan.delivery_waker.take();
        let value = self.chan.queue.borrow_mut().pop_front();
        drop(old_waker); // rule 8: after the borrow
        value.expect("rule 9: a message awaiting delivery stays queued until taken or taken back")
    }
}

impl<T> Future for Delivery<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.is_taken() {
            this.waiting = false;
            return Poll::Ready(Ok(()));
        }
        if this.chan.receiver.get() == ReceiverState::Dropped {
            return Poll::Ready(Err(SendError::closed(this.take_back())));
        }
        store_waker(&this.chan.delivery_waker, cx.waker());
        Poll::Pending
    }
}

impl<T> Drop for Delivery<'_, T> {
    fn drop(&mut self) {
        if !self.waiting || self.is_taken() {
            return;
        }
        // Rule 7: a dropped send's value is dropped with it, unsent.
        let value = self.take_back();
        drop(value);
        if self.chan.receiver.get() != ReceiverState::Dropped {
            self.chan.release_slot();
        }
    }
}
