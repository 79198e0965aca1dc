//! A broadcast channel between tasks on one loop: every receiver gets
//! every message, from a ring of the last `capacity` ones (tokio's
//! `sync::broadcast`; a pub/sub bus, a chat room).
//!
//! Positions count every message ever sent; the ring keeps positions
//! `head .. head + len`, and each receiver the position it reads next. A
//! [`Recv`] future:
//!
//! ```text
//!   first poll: fell behind the ring (next < head)? skip to head ──► Err(lagged(n))
//!               a message at next? clone it, next += 1 ─────────────► Ok(message)
//!               every sender gone? ─────────────────────────────────► Err(sender dropped)
//!               else QUEUED ──a send wakes everyone──► GRANTED ──poll──► check again
//!                      │  └──the last sender dropped──► RELEASED ──poll──► check again
//!                      └──dropped──► leaves the queue (nothing to pass on)
//! ```
//!
//! Rules:
//!
//! 1. **Every receiver, every message, in order,** as long as it keeps up:
//!    a send never waits; when the ring is full it overwrites the oldest
//!    message, and a receiver that had not read it learns how many it
//!    missed ([`RecvError::lagged`]) and goes on from the oldest kept.
//! 2. **Subscribers see what comes after.** [`Sender::subscribe`] starts
//!    at the next message; a clone of a receiver starts where it is.
//! 3. **The other side gone.** A send with no receiver fails and hands the
//!    value back; once every sender is dropped, receivers get what is left
//!    in the ring, then [`RecvError::is_sender_dropped`].
//! 4. **Cancellation-safe.** A dropped `recv` leaves the queue; the
//!    receiver's position moves only when a message is returned (or a lag
//!    reported).
//! 5. **Clones under a shared borrow.** A message is cloned for its
//!    receiver while the ring is borrowed (shared): a send from inside a
//!    `Clone` impl into the same channel is refused with
//!    [`SendError::is_borrowed`] (value handed back), not a panic. Wakes
//!    and the drops of overwritten messages happen after every borrow
//!    ends.
//! 6. **At least one message.** A ring of 0 could hold nothing, so a
//!    `capacity` of 0 is taken as 1: the channel keeps at least the last
//!    message, and a receiver that falls behind is told how many it
//!    missed (rule 1), never left without a word.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::error::{RecvError, SendError, TryRecvError};
use super::wait_list::{wake_all, WaitList, WaiterKey, WaiterState};
use crate::event_loop::budget;

struct Shared<T> {
    ring: RefCell<VecDeque<T>>,
    /// The position of `ring[0]` (rule 1).
    head: Cell<u64>,
    capacity: usize,
    senders: Cell<usize>,
    receivers: Cell<usize>,
    waiters: RefCell<WaitList>,
}

impl<T> Shared<T> {
    fn tail(&self) -> u64 {
        self.head.get() + self.ring.borrow().len() as u64
    }

    fn wake_all(&self, grant: bool) {
        let mut wakers: Vec<Waker> = Vec::new();
        if grant {
            self.waiters.borrow_mut().grant_all(&mut wakers);
        } else {
            self.waiters.borrow_mut().release_all(&mut wakers);
        }
        wake_all(wakers); // rule 5: after the borrow
    }
}

/// A broadcast channel keeping the last `capacity` messages.
///
/// A `capacity` of 0 is taken as 1 (rule 6): a broadcast channel keeps at
/// least the last message, and a receiver that falls behind is told how
/// many it missed.
///
/// ```
/// use triad::event_loop::{spawn, sync::broadcast, EventLoop};
///
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let (tx, mut first) = broadcast::channel::<&str>(16);
///     let mut second = tx.subscribe();
///     tx.send("hello").unwrap();
///     drop(tx);
///     assert_eq!(first.recv().await, Ok("hello"));
///     assert_eq!(second.recv().await, Ok("hello")); // each gets its own
///     assert!(first.recv().await.unwrap_err().is_sender_dropped());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Capacity 0 keeps the last message:
///
/// ```
/// use triad::event_loop::sync::broadcast;
///
/// let (tx, mut rx) = broadcast::channel(0);
/// tx.send('a').unwrap();
/// tx.send('b').unwrap(); // overwrites 'a'
/// assert_eq!(rx.try_recv().unwrap_err().lagged(), Some(1));
/// assert_eq!(rx.try_recv(), Ok('b'));
/// ```
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let capacity = capacity.max(1); // rule 6
    let shared = Rc::new(Shared {
        ring: RefCell::new(VecDeque::with_capacity(capacity.min(1024))),
        head: Cell::new(0),
        capacity,
        senders: Cell::new(1),
        receivers: Cell::new(1),
        waiters: RefCell::new(WaitList::new()),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, next: 0 },
    )
}

/// The sending side of a [`broadcast::channel`](channel); clone it for more
/// publishers.
///
/// ```
/// use triad::event_loop::sync::broadcast;
///
/// let (tx, mut rx) = broadcast::channel(4);
/// assert_eq!(tx.send(1).unwrap(), 1); // reached one receiver
/// assert_eq!(rx.try_recv(), Ok(1));
/// ```
pub struct Sender<T> {
    shared: Rc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Send `value` to every receiver, overwriting the oldest message if
    /// the ring is full (rule 1); how many receivers there are. Fails,
    /// handing the value back, if there is none (rule 3), or if called
    /// from a message's `Clone` while a receiver clones it (rule 5).
    ///
    /// ```
    /// use triad::event_loop::sync::broadcast;
    ///
    /// let (tx, rx) = broadcast::channel(4);
    /// drop(rx);
    /// assert_eq!(tx.send("nobody").unwrap_err().into_inner(), "nobody");
    /// ```
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let receivers = self.shared.receivers.get();
        if receivers == 0 {
            return Err(SendError::closed(value));
        }
        let overwritten = {
            let Ok(mut ring) = self.shared.ring.try_borrow_mut() else {
                return Err(SendError::borrowed(value)); // rule 5
            };
            ring.push_back(value);
            if ring.len() > self.shared.capacity {
                self.shared.head.set(self.shared.head.get() + 1);
                ring.pop_front()
            } else {
                None
            }
        };
        drop(overwritten); // rule 5: outside the borrow
        self.shared.wake_all(true);
        Ok(receivers)
    }

    /// A new receiver, starting with the next message sent (rule 2).
    ///
    /// ```
    /// use triad::event_loop::sync::broadcast;
    ///
    /// let (tx, _rx) = broadcast::channel(4);
    /// tx.send(1).unwrap();
    /// let mut late = tx.subscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(late.try_recv(), Ok(2));
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver {
            shared: self.shared.clone(),
            next: self.shared.tail(),
        }
    }

    /// Receivers alive now.
    ///
    /// ```
    /// use triad::event_loop::sync::broadcast;
    ///
    /// let (tx, rx) = broadcast::channel::<u8>(4);
    /// let _other = rx.clone();
    /// assert_eq!(tx.receiver_count(), 2);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.get()
    }

    /// Messages kept in the ring now (at most the capacity).
    ///
    /// ```
    /// use triad::event_loop::sync::broadcast;
    ///
    /// let (tx, _rx) = broadcast::channel(2);
    /// for i in 0..5 {
    ///     tx.send(i).unwrap();
    /// }
    /// assert_eq!(tx.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.shared.ring.borrow().len()
    }

    /// Whether the ring is empty.
    ///
    /// ```
    /// use triad::event_loop::sync::broadcast;
    ///
    /// let (tx, _rx) = broadcast::channel::<u8>(2);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether both senders feed the same channel.
    ///
    /// ```
    /// use triad::event_loop::sync::broadcast;
    ///
    /// let (tx, _rx) = broadcast::channel::<u8>(2);
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Rc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.set(self.shared.senders.get() + 1);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let left = self.shared.senders.get() - 1;
        self.shared.senders.set(left);
        if left == 0 {
            self.shared.wake_all(false); // rule 3
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Sender")
            .field("receivers", &self.receiver_count())
            .field("len", &self.len())
            .finish()
    }
}

/// The receiving side of a [`broadcast::channel`](channel); each one reads
/// every message from its own position.
///
/// ```
/// use triad::event_loop::sync::broadcast;
///
/// let (tx, mut rx) = broadcast::channel(2);
/// for i in 0..3 {
///     tx.send(i).unwrap(); // the third overwrites the first
/// }
/// assert_eq!(rx.try_recv().unwrap_err().lagged(), Some(1));
/// assert_eq!(rx.try_recv(), Ok(1));
/// assert_eq!(rx.try_recv(), Ok(2));
/// ```
pub struct Receiver<T> {
    shared: Rc<Shared<T>>,
    /// The position this receiver reads next.
    next: u64,
}

/// What one look at the ring found.
enum Take<T> {
    Message(T),
    Lagged(u64),
    Closed,
    Empty,
}

impl<T: Clone> Receiver<T> {
    /// The next message; [`RecvError::lagged`] if it fell behind (rule 1),
    /// [`RecvError::is_sender_dropped`] once every sender is gone and the
    /// ring is read (rule 3). Cancellation-safe (rule 4).
    ///
    /// ```
    /// use triad::event_loop::{spawn, sync::broadcast, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let got = ev.block_on(async {
    ///     let (tx, mut rx) = broadcast::channel(4);
    ///     let _ = spawn(async move { tx.send(5).unwrap() });
    ///     rx.recv().await
    /// });
    /// assert_eq!(got, Ok(5));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv {
            receiver: self,
            key: None,
        }
    }

    /// The next message if there is one now, without waiting.
    ///
    /// ```
    /// use triad::event_loop::sync::broadcast;
    ///
    /// let (tx, mut rx) = broadcast::channel::<u8>(2);
    /// assert!(rx.try_recv().unwrap_err().is_empty());
    /// drop(tx);
    /// assert!(rx.try_recv().unwrap_err().is_disconnected());
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.take() {
            Take::Message(value) => Ok(value),
            Take::Lagged(skipped) => Err(TryRecvError::fell_behind(skipped)),
            Take::Closed => Err(TryRecvError::disconnected()),
            Take::Empty => Err(TryRecvError::empty()),
        }
    }

    fn take(&mut self) -> Take<T> {
        let head = self.shared.head.get();
        if self.next < head {
            let skipped = head - self.next;
            self.next = head;
            return Take::Lagged(skipped);
        }
        let message = {
            let ring = self.shared.ring.borrow();
            ring.get((self.next - head) as usize).cloned() // rule 5
        };
        match message {
            Some(value) => {
                self.next += 1;
                Take::Message(value)
            }
            None if self.shared.senders.get() == 0 => Take::Closed,
            None => Take::Empty,
        }
    }
}

impl<T> Receiver<T> {
    /// A new receiver starting with the next message sent, as
    /// [`Sender::subscribe`].
    ///
    /// ```
    /// use triad::event_loop::sync::broadcast;
    ///
    /// let (tx, rx) = broadcast::channel(2);
    /// tx.send(1).unwrap();
    /// let mut fresh = rx.resubscribe();
    /// assert!(fresh.try_recv().unwrap_err().is_empty());
    /// ```
    pub fn resubscribe(&self) -> Receiver<T> {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver {
            shared: self.shared.clone(),
            next: self.shared.tail(),
        }
    }

    /// Messages this receiver has not read yet that the ring still keeps.
    ///
    /// ```
    /// use triad::event_loop::sync::broadcast;
    ///
    /// let (tx, rx) = broadcast::channel(8);
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        (self.shared.tail() - self.next.max(self.shared.head.get())) as usize
    }

    /// Whether this receiver has read everything kept.
    ///
    /// ```
    /// use triad::event_loop::sync::broadcast;
    ///
    /// let (_tx, rx) = broadcast::channel::<u8>(8);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every sender is gone.
    ///
    /// ```
    /// use triad::event_loop::sync::broadcast;
    ///
    /// let (tx, rx) = broadcast::channel::<u8>(8);
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.senders.get() == 0
    }

    /// Whether both receivers read the same channel.
    ///
    /// ```
    /// use triad::event_loop::sync::broadcast;
    ///
    /// let (_tx, rx) = broadcast::channel::<u8>(8);
    /// assert!(rx.same_channel(&rx.resubscribe()));
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
            next: self.next,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receivers.set(self.shared.receivers.get() - 1);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Receiver")
            .field("next", &self.next)
            .finish()
    }
}

/// The future of [`Receiver::recv`].
///
/// ```
/// use triad::event_loop::{sync::broadcast, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let (tx, mut rx) = broadcast::channel(2);
/// tx.send(3).unwrap();
/// let recv: broadcast::Recv<'_, i32> = rx.recv();
/// assert_eq!(ev.block_on(recv), Ok(3));
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a, T> {
    receiver: &'a mut Receiver<T>,
    key: Option<WaiterKey>,
}

impl<T: Clone> Future for Recv<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        std::task::ready!(budget::poll_proceed(cx));
        if let Some(key) = this.key {
            let mut waiters = this.receiver.shared.waiters.borrow_mut();
            if waiters.state(key) == WaiterState::Queued {
                let old = waiters.update_waker(key, cx.waker());
                drop(waiters);
                drop(old);
                return Poll::Pending;
            }
            // Woken by a send or by the last sender's drop: look again.
            let (_, old) = waiters.remove(key);
            this.key = None;
            drop(waiters);
            drop(old);
        }
        let outcome = match this.receiver.take() {
            Take::Message(value) => Ok(value),
            Take::Lagged(skipped) => Err(RecvError::fell_behind(skipped)),
            Take::Closed => Err(RecvError::sender_dropped()),
            Take::Empty => {
                let key = this
                    .receiver
                    .shared
                    .waiters
                    .borrow_mut()
                    .push(1, cx.waker());
                this.key = Some(key);
                return Poll::Pending;
            }
        };
        budget::consume();
        Poll::Ready(outcome)
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let (_, old) = self.receiver.shared.waiters.borrow_mut().remove(key);
            drop(old); // rule 4: nothing to pass on
        }
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Recv")
            .field("waiting", &self.key.is_some())
            .finish()
    }
}
