//! The receiving side of both channel kinds: [`Receiver`] (rules 1, 4, 5,
//! 6 of the `mpsc` module docs).

use std::fmt;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::chan::{Chan, ReceiverState};
use crate::event_loop::budget;
use crate::event_loop::sync::error::TryRecvError;
use crate::event_loop::sync::store_waker;

/// The receiving side of a [`channel`](super::channel) or an
/// [`unbounded_channel`](super::unbounded_channel). Dropping it fails
/// every later send (the value comes back) and drops what is queued.
///
/// ```
/// use triad::event_loop::{sync::mpsc, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let (tx, mut rx) = mpsc::channel(4);
/// ev.block_on(async {
///     tx.send("first").await.unwrap();
///     drop(tx);
///     assert_eq!(rx.recv().await, Some("first"));
///     assert_eq!(rx.recv().await, None); // every sender is gone
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Receiver<T> {
    chan: Rc<Chan<T>>,
}

impl<T> Receiver<T> {
    pub(super) fn new(chan: Rc<Chan<T>>) -> Self {
        Receiver { chan }
    }

    /// The next message; `None` once nothing more can arrive (rule 4):
    /// every sender is gone, or the channel was closed and what was queued
    /// and reserved has been received. Cancellation-safe.
    ///
    /// ```
    /// use triad::event_loop::{spawn, sync::mpsc, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let got = ev.block_on(async {
    ///     let (tx, mut rx) = mpsc::unbounded_channel();
    ///     let _ = spawn(async move { tx.send(1).unwrap() });
    ///     rx.recv().await
    /// });
    /// assert_eq!(got, Some(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv(&mut self) -> Option<T> {
        let waiting = StopWaitingOnDrop(self);
        poll_fn(|cx| waiting.0.poll_recv(cx)).await
    }

    /// Poll form of [`recv`](Self::recv), for hand-written futures and
    /// streams.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use triad::event_loop::{sync::mpsc, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let (tx, mut rx) = mpsc::unbounded_channel();
    /// tx.send(8).unwrap();
    /// assert_eq!(ev.block_on(poll_fn(|cx| rx.poll_recv(cx))), Some(8));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        std::task::ready!(budget::poll_proceed(cx));
        let popped = self.chan.queue.borrow_mut().pop_front();
        let outcome = match popped {
            Some(value) => {
                self.slot_back();
                Some(value)
            }
            None if self.is_ended() => None,
            None => {
                self.wait(cx);
                return Poll::Pending;
            }
        };
        budget::consume();
        Poll::Ready(outcome)
    }

    /// Wait for at least one message, then move up to `limit` queued ones
    /// into `buffer`; the number moved. 0 means the end of the stream (or
    /// `limit == 0`). Cancellation-safe.
    ///
    /// ```
    /// use triad::event_loop::{sync::mpsc, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let (tx, mut rx) = mpsc::unbounded_channel();
    /// for i in 0..5 {
    ///     tx.send(i).unwrap();
    /// }
    /// let mut buffer = Vec::new();
    /// assert_eq!(ev.block_on(rx.recv_many(&mut buffer, 3)), 3);
    /// assert_eq!(buffer, [0, 1, 2]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        let waiting = StopWaitingOnDrop(self);
        let this = &mut *waiting.0;
        poll_fn(|cx| {
            if limit == 0 {
                return Poll::Ready(0);
            }
            std::task::ready!(budget::poll_proceed(cx));
            let mut moved = 0;
            while moved < limit {
                let popped = this.chan.queue.borrow_mut().pop_front();
                let Some(value) = popped else { break };
                buffer.push(value);
                this.slot_back();
                moved += 1;
            }
            if moved == 0 && !this.is_ended() {
                this.wait(cx);
                return Poll::Pending;
            }
            budget::consume();
            Poll::Ready(moved)
        })
        .await
    }

    /// The next message if one is queued now, without waiting.
    ///
    /// ```
    /// use triad::event_loop::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// assert!(rx.try_recv().unwrap_err().is_empty());
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// drop(tx);
    /// assert!(rx.try_recv().unwrap_err().is_disconnected());
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let popped = self.chan.queue.borrow_mut().pop_front();
        match popped {
            Some(value) => {
                self.slot_back();
                Ok(value)
            }
            None if self.is_ended() => Err(TryRecvError::disconnected()),
            None => Err(TryRecvError::empty()),
        }
    }

    /// Refuse new sends, and fail the senders that wait (rule 5); what is
    /// queued or already reserved can still be received.
    ///
    /// ```
    /// use triad::event_loop::{sync::mpsc, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let (tx, mut rx) = mpsc::channel(4);
    /// tx.try_send(1).unwrap();
    /// rx.close();
    /// assert!(tx.try_send(2).unwrap_err().is_closed());
    /// ev.block_on(async {
    ///     assert_eq!(rx.recv().await, Some(1)); // queued before the close
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(&mut self) {
        if self.chan.receiver.get() == ReceiverState::Open {
            self.chan.close(ReceiverState::Closed);
        }
    }

    /// Whether [`close`](Self::close) was called, or every sender is gone.
    ///
    /// ```
    /// use triad::event_loop::sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::unbounded_channel::<u8>();
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed() || self.chan.senders.get() == 0
    }

    /// Messages queued now.
    ///
    /// ```
    /// use triad::event_loop::sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::channel(2);
    /// tx.try_send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.queue.borrow().len()
    }

    /// Whether no message is queued now.
    ///
    /// ```
    /// use triad::event_loop::sync::mpsc;
    ///
    /// let (_tx, rx) = mpsc::channel::<u8>(2);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Nothing can arrive any more (rule 4): no sender, or closed with
    /// nothing reserved. Called with the queue found empty.
    fn is_ended(&self) -> bool {
        self.chan.senders.get() == 0
            || (self.chan.receiver.get() == ReceiverState::Closed && self.chan.reserved(0) == 0)
    }

    /// A message left the queue: its sender learns it was taken
    /// (rendezvous, rule 9), its slot comes back (bounded).
    fn slot_back(&self) {
        if self.chan.rendezvous {
            self.chan.message_taken();
        }
        if self.chan.bound.is_some() {
            self.chan.release_slot();
        }
    }

    /// Store our waker for the next push (rule 4), keeping the old one if
    /// it wakes the same task.
    fn wait(&self, cx: &mut Context<'_>) {
        store_waker(&self.chan.receiver_waker, cx.waker());
    }
}

/// A `recv` or `recv_many` future that is dropped no longer waits: its
/// stored waker goes, so that a rendezvous `try_send` does not count it as
/// a waiting receiver (rule 9).
struct StopWaitingOnDrop<'a, T>(&'a mut Receiver<T>);

impl<T> Drop for StopWaitingOnDrop<'_, T> {
    fn drop(&mut self) {
        drop(self.0.chan.receiver_waker.take());
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // Rule 6: our stored waker goes (a `poll_recv` that was waiting).
        drop(self.chan.receiver_waker.take());
        // Refuse (and release) the senders first, so that a queued
        // message whose drop sends into this channel is refused too.
        self.chan.close(ReceiverState::Dropped);
        if self.chan.awaiting_delivery.get() {
            // Rule 9: the one queued message is still its sender's, which
            // waits for it to be taken: wake it to take the message back.
            if let Some(waker) = self.chan.delivery_waker.take() {
                waker.wake();
            }
            return;
        }
        let queued = std::mem::take(&mut *self.chan.queue.borrow_mut());
        drop(queued); // rule 8: outside the borrow
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Receiver")
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}
