//! Multi-producer, single-consumer channels between tasks on one loop:
//! [`channel`] (bounded, with back-pressure) and [`unbounded_channel`]
//! (asyncio's `Queue`, tokio's `sync::mpsc`).
//!
//! Both give a [`Receiver`] (the same type for both kinds); the senders
//! are [`Sender`] (bounded: `send(..).await` waits for a free slot) and
//! [`UnboundedSender`] (`send` never waits). For messages from *other
//! threads* use [`Remote::channel`](crate::event_loop::Remote::channel).
//!
//! A bounded channel has `capacity` slots. A slot is free, reserved by a
//! sender (a [`Permit`], or a waiting sender it was handed to), or holds a
//! queued message. A waiting send ([`Reserve`] future) goes through:
//!
//! ```text
//!   first poll: receiver closed or dropped? ─────────────────────────► Err(value back)
//!               a free slot and no sender queued? reserve it ─────────► push, Ok
//!               else QUEUED ──a slot comes back (recv, permit dropped)──► GRANTED ──poll──► push, Ok
//!                      │  └──receiver closes or is dropped──► RELEASED ──poll──► Err(value back)
//!                      └──dropped──► leaves the queue           GRANTED, dropped ──► slot to the next
//! ```
//!
//! On a rendezvous channel (capacity 0, rule 9) the send does not stop at
//! "push": it waits until the receiver takes the message.
//!
//! ```text
//!   push ──► DELIVERING ──the receiver takes it──► Ok
//!               │  └──receiver dropped──► Err(value back)
//!               └──dropped──► message taken back and dropped; slot to the next
//! ```
//!
//! and the receiver:
//!
//! ```text
//!   recv: a message queued? ──────────────────────────────────► Some(message); its slot comes back
//!         no sender left, or closed with nothing reserved? ────► None (end of stream, for good)
//!         else store the waker: WAITING ──a push, the last sender gone,
//!                                         the last reservation gone──► woken, recv again
//! ```
//!
//! Rules:
//!
//! 1. **Order.** One queue: messages are received in the order their sends
//!    completed; each sender's messages in the order it sent them.
//! 2. **Back-pressure.** A bounded channel never holds more than `capacity`
//!    messages plus reservations (one, for capacity 0: rule 9); a send at
//!    capacity waits (`send`), or fails with [`TrySendError::is_full`]
//!    (`try_send`).
//! 3. **FIFO senders, hand-off.** A slot that comes back goes to the sender
//!    that has waited longest, into its slot in the wait list (GRANTED),
//!    before it runs; a new send takes a free slot only when nobody waits.
//!    So the sender that waited first sends first, and `try_send` never
//!    overtakes a waiting sender.
//! 4. **Receiver wake-up.** The receiver stores its waker only when it
//!    found the queue empty; the next push (or the last sender's drop)
//!    takes and wakes it: one wake per wait, however many messages arrive.
//!    `recv` returns `None` only when the queue is empty and no sender is
//!    left (or, rule 5, nothing can arrive any more): every message sent
//!    is received first.
//! 5. **Close.** [`Receiver::close`] refuses new sends and fails the
//!    waiting ones (each gets its value back in a [`SendError`]); messages
//!    already queued, and permits already reserved, still arrive; then
//!    `recv` returns `None`.
//! 6. **Receiver dropped.** Every later or waiting send fails with its
//!    value back; messages still queued are dropped with the receiver.
//!    Each message is thus received, handed back, or dropped with the
//!    receiver: exactly one of them. The waker it stored (rule 4) goes
//!    too: senders may live on, and a waker keeps its task's whole block
//!    alive.
//! 7. **Cancellation-safe.** A dropped `send`/`reserve` future leaves the
//!    wait list; a slot already handed to it goes to the next sender
//!    (rule 3). A dropped `send` future's value is dropped with it, unsent:
//!    in a `select`, use [`Sender::reserve`] and then [`Permit::send`] to
//!    keep the value. `recv` is cancellation-safe: a message is taken
//!    only when `recv` returns it.
//! 8. **No borrow spans foreign code.** Wakes and message drops happen
//!    after every `RefCell` borrow of the channel ends (a message's `Drop`
//!    may well be a `Sender` of the same channel).
//! 9. **Capacity 0 is a rendezvous.** The channel has one hand-off slot,
//!    and a `send` that put its message there waits, DELIVERING, until
//!    the receiver takes it (the receiver's count of messages taken
//!    passes the message's ticket); only then does it return `Ok`. So at
//!    most one message is ever in the channel, and the sender is told of
//!    delivery. If the receiver is dropped first, the message goes back
//!    to its sender in the [`SendError`] (not dropped with the queue,
//!    rule 6); if the `send` future is dropped first, the message is taken
//!    back out and dropped unsent (rule 7). (A `send` dropped after the
//!    take but before its next poll has sent: the receiver has the
//!    message, only the `Ok` went unseen.) [`Receiver::close`] does not
//!    take it back: a message already handed over still arrives (rule 5).
//!    `try_send` (and `try_reserve`) succeed only while the receiver
//!    waits in `recv` (its last poll found nothing, and no message or
//!    other wake came since; a dropped `recv`/`recv_many` future stops
//!    waiting), else fail with [`TrySendError::is_full`]; their message
//!    goes to that waiting receiver, and they do not wait for the take.
//!    `reserve(..).await` waits only for the slot: a [`Permit`]'s message
//!    waits there for the next `recv` and is dropped with the receiver
//!    like a queued one. `capacity()` and `max_capacity()` are 0.
//!
//! Each completed `send`, `reserve` and `recv` spends one unit of the
//! task's budget (`budget.rs`): a producer that never fills the channel,
//! or a consumer that never drains it, still yields to the other tasks.

mod bounded;
mod chan;
mod receiver;
mod unbounded;

use std::rc::Rc;

pub use self::bounded::{Permit, Reserve, Sender};
pub use self::receiver::Receiver;
pub use self::unbounded::UnboundedSender;
#[doc(no_inline)]
pub use super::error::{SendError, TryRecvError, TrySendError};

use self::chan::Chan;

/// A bounded channel of `capacity` slots: `send(..).await` waits while
/// `capacity` messages are queued or reserved (back-pressure).
///
/// A `capacity` of 0 makes a *rendezvous* channel (Go's unbuffered
/// channel, crossbeam's `bounded(0)`): `send(..).await` completes only
/// once the receiver has taken the message, and `try_send` succeeds only
/// while the receiver waits in `recv` (rule 9 of the module docs).
///
/// ```
/// use triad::event_loop::{spawn, sync::mpsc, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let sum = ev.block_on(async {
///     let (tx, mut rx) = mpsc::channel::<u64>(16);
///     let _producer = spawn(async move {
///         for i in 1..=100 {
///             tx.send(i).await.unwrap(); // waits whenever 16 are in flight
///         }
///     }); // the sender drops here: the stream ends
///     let mut sum = 0;
///     while let Some(i) = rx.recv().await {
///         sum += i;
///     }
///     sum
/// });
/// assert_eq!(sum, 5050);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Rendezvous: the sender learns that its message was taken.
///
/// ```
/// use triad::event_loop::{spawn, sync::mpsc, EventLoop};
///
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let (tx, mut rx) = mpsc::channel::<&str>(0);
///     assert!(tx.try_send("early").unwrap_err().is_full()); // nobody waits in `recv`
///     let sender = spawn(async move {
///         tx.send("hello").await.unwrap(); // returns once the receiver has it
///     });
///     triad::event_loop::yield_now().await; // the sender runs, and waits
///     assert!(!sender.is_finished());
///     assert_eq!(rx.recv().await, Some("hello"));
///     sender.await.unwrap();
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Rc::new(if capacity == 0 {
        Chan::rendezvous()
    } else {
        Chan::new(Some(capacity))
    });
    (Sender::new(chan.clone()), Receiver::new(chan))
}

/// An unbounded channel: `send` never waits (the queue grows if the
/// receiver falls behind).
///
/// ```
/// use triad::event_loop::{sync::mpsc, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let (tx, mut rx) = mpsc::unbounded_channel();
/// tx.send("a").unwrap();
/// tx.send("b").unwrap();
/// drop(tx);
/// let got = ev.block_on(async {
///     let mut got = Vec::new();
///     while let Some(m) = rx.recv().await {
///         got.push(m);
///     }
///     got
/// });
/// assert_eq!(got, ["a", "b"]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, Receiver<T>) {
    let chan = Rc::new(Chan::new(None));
    (UnboundedSender::new(chan.clone()), Receiver::new(chan))
}
