//! A channel into the loop from any thread: [`Remote::channel`] gives a
//! [`Sender`] (`Send + Clone`, usable anywhere) and a [`Receiver`] that a
//! task on the loop awaits.
//!
//! Unbounded, like tokio's `mpsc::unbounded_channel`: `send` never waits and
//! never fails while the receiver and the loop live. Back-pressure, where
//! needed, is the application's (a reply channel, a semaphore); an unbounded
//! queue grows if the loop falls behind.
//!
//! The costs this protocol is cut for: a million messages from another
//! thread cost one short lock each on the sending side, one lock per *batch*
//! on the loop's side, and one wake-up of the loop per time the receiver
//! ran dry, never one per message.
//!
//! ```text
//!   sender (any thread)                       receiver (a task on the loop)
//!   S1 lock: receiver gone? refuse            R1 buffer non-empty? pop it, no lock
//!          push; take `waiting`; unlock       R2 lock: swap queue ⇄ empty buffer
//!   S2 wake the taken waker, if any               batch non-empty? unlock, pop
//!      (a task waker: remote inbox, eventfd       senders == 0?   unlock, None
//!       written only if the loop is parked)       else store waker in `waiting`,
//!                                                 unlock, Pending
//!   last sender drop: lock; senders = 0; take `waiting`; unlock; wake
//!   receiver drop:    lock; gone = true; take queue and `waiting`; unlock;
//!                     drop them (the messages on the receiver's thread)
//! ```
//!
//! `waiting` is the receiver's park state: `None` while it is awake (it has
//! a batch, or is being polled), `Some(waker)` once it found the queue empty.
//!
//! Rules:
//!
//! 1. **No lost wake-up.** The receiver looks at the queue and stores its
//!    waker in one critical section (R2); a sender pushes and takes the
//!    waker in one critical section (S1). The lock orders the two: either
//!    R2 sees the message, or S1 sees the waker and wakes it.
//! 2. **One wake per wait.** Only the first sender after R2 finds a waker
//!    (it takes it); later senders only push. However many messages arrive
//!    while the receiver waits, it is woken once, and the wake goes through
//!    the task's waker: on another thread that is the loop's remote inbox,
//!    which writes the eventfd only when the loop is parked (remote.rs
//!    rule 2).
//! 3. **Batch drain.** R2 takes the whole queue at once, swapping it with
//!    the receiver's empty buffer (so neither side reallocates in steady
//!    state); R1 then pops without the lock until the batch is spent.
//! 4. **End of stream.** `recv` returns `None` only when, under the lock,
//!    the queue is empty and no sender is left. A sender's sends precede its
//!    drop, and the drop's critical section (the count reaching 0) precedes
//!    that R2: so every message sent is received before `None`. The last
//!    drop takes the waker (rule 1 again, with "no sender left" as the
//!    message).
//! 5. **Exactly once.** Once the receiver is dropped (or the loop is shut
//!    down, see rule 6), sends refuse their message and hand it back in the
//!    [`SendError`]; what was queued is dropped with the receiver. Each
//!    message is thus received, handed back, or dropped with the receiver,
//!    exactly one of them.
//! 6. **The loop gone.** A send first reads the loop's closed flag
//!    (remote.rs rule 3) and refuses once it is set. A send that races the
//!    loop's shutdown may still be queued; its message is dropped when the
//!    receiver is (a receiver owned by a task is dropped by the shutdown,
//!    executor.rs rule 4). A receiver that outlives the loop (it is `Send`:
//!    moved to another loop, or read with `try_recv`) ends its stream
//!    instead of waiting for messages that can no longer come: R2 finding
//!    the queue empty and the flag set is the end, as no sender is left is;
//!    and a refused send takes the waiting receiver's waker under the lock
//!    and wakes it after (rule 7). No R2 slips between the two: the send
//!    read the flag set before it took the lock, so an R2 holding the lock
//!    after it sees the flag set too (read-read coherence), and an R2 that
//!    held it before has left its waker for the send to take. A receiver
//!    that parked before the close, with no send after it, is not woken
//!    (the loop's close does not know its channels): it ends at its next
//!    poll, or when the last sender is dropped.
//! 7. Wakers are woken, and messages dropped, after the lock is released:
//!    both run foreign code (a wake takes the loop's inbox lock, a message's
//!    `Drop` is the user's).
//!
//! Loom model: `loom-tests/event_loop_channel.rs` (a send racing the
//! receiver going to sleep; the last sender dropped racing a receive; the
//! receiver or the loop dropped racing a send).

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::task::{Context, Poll, Waker};

use super::budget;
use super::error::{SendError, TryRecvError};
use super::remote::Shared;
use crate::sync::{lock, Arc, Mutex};

/// The channel's shared part, behind the lock.
struct State<T> {
    queue: VecDeque<T>,
    /// The receiver's waker while it waits on an empty queue (R2), taken by
    /// the first sender after that (rules 1, 2).
    waiting: Option<Waker>,
    senders: usize,
    receiver_gone: bool,
}

struct Chan<T> {
    state: Mutex<State<T>>,
    /// The loop's shared part, for its closed flag (rule 6).
    shared: Arc<Shared>,
}

/// Rule 7: a waker taken out under the lock is woken after it.
fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// A new channel into the loop of `shared`.
pub(crate) fn channel<T: Send>(shared: Arc<Shared>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            waiting: None,
            senders: 1,
            receiver_gone: false,
        }),
        shared,
    });
    (
        Sender { chan: chan.clone() },
        Receiver {
            chan,
            batch: VecDeque::new(),
            done: false,
        },
    )
}

/// The sending side of a channel into an event loop: `Send + Sync + Clone`,
/// usable from any thread (and from the loop itself).
///
/// Made by [`Remote::channel`](super::Remote::channel). Dropping the last
/// sender ends the stream: the receiver gets `None` once it has received
/// every message.
///
/// ```
/// use triad::event_loop::EventLoop;
///
/// let ev = EventLoop::new().unwrap();
/// let (tx, mut rx) = ev.remote().channel::<&str>();
/// let worker = std::thread::spawn(move || tx.send("from a thread").unwrap());
/// assert_eq!(ev.block_on(rx.recv()), Some("from a thread"));
/// worker.join().unwrap();
/// ```
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Queue `value` for the receiver. Never waits (the channel is
    /// unbounded).
    ///
    /// Fails, handing `value` back, once the receiver is dropped
    /// ([`SendError::is_receiver_dropped`]) or the loop is gone
    /// ([`SendError::is_loop_gone`]).
    ///
    /// ```
    /// let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let (tx, mut rx) = ev.remote().channel();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// drop(rx);
    /// assert!(tx.send(3).unwrap_err().is_receiver_dropped());
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        // Rule 6. Relaxed: the flag carries no data; it only spares work
        // (and a message) once the loop is known to be gone.
        if self.chan.shared.is_closed_hint() {
            // A receiver still waiting (moved off its loop) learns it now;
            // woken once the lock is released (rule 7: in a `let`, the
            // guard is gone at the `;`).
            let waker = lock(&self.chan.state).waiting.take();
            wake(waker);
            return Err(SendError::loop_gone(value));
        }
        let waker = {
            // S1 (rule 1).
            let mut state = lock(&self.chan.state);
            if state.receiver_gone {
                return Err(SendError::receiver_dropped(value));
            }
            state.queue.push_back(value);
            state.waiting.take()
        };
        // S2, outside the lock (rule 7).
        wake(waker);
        Ok(())
    }

    /// Whether sends are refused now: the receiver is dropped or the loop
    /// is gone. (`false` is only a snapshot: either may go at any time.)
    ///
    /// ```
    /// let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let (tx, rx) = ev.remote().channel::<u32>();
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.shared.is_closed_hint() || lock(&self.chan.state).receiver_gone
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        lock(&self.chan.state).senders += 1;
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // Rule 4: the last sender takes the waker.
        let waker = {
            let mut state = lock(&self.chan.state);
            state.senders -= 1;
            if state.senders == 0 {
                state.waiting.take()
            } else {
                None
            }
        };
        wake(waker);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The receiving side of a channel into an event loop, awaited by a task on
/// the loop (or by `block_on`'s future).
///
/// It is `Send` (when `T` is), so a thread that made the channel can move
/// it onto the loop with [`Remote::spawn`](super::Remote::spawn).
/// Dropping it makes every later send fail and drops the queued messages.
///
/// ```
/// use triad::event_loop::EventLoop;
///
/// let ev = EventLoop::new().unwrap();
/// let (tx, mut rx) = ev.remote().channel::<u32>();
/// let producer = std::thread::spawn(move || (1..=3).for_each(|i| tx.send(i).unwrap()));
/// let received = ev.block_on(async move {
///     let mut all = Vec::new();
///     while let Some(i) = rx.recv().await {
///         all.push(i);
///     }
///     all
/// });
/// producer.join().unwrap();
/// assert_eq!(received, [1, 2, 3]);
/// ```
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    /// The batch taken from the queue (rule 3), popped without the lock.
    batch: VecDeque<T>,
    /// `None` was returned: no sender is left.
    done: bool,
}

impl<T> Receiver<T> {
    /// The next message; `None` once every sender is dropped (or the loop
    /// it leads into is gone, rule 6) and every message queued has been
    /// received.
    ///
    /// Each message received spends one unit of the task's budget
    /// (budget.rs), so a channel that never runs dry does not hold the loop.
    ///
    /// ```
    /// let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let (tx, mut rx) = ev.remote().channel();
    /// tx.send("one").unwrap();
    /// drop(tx);
    /// assert_eq!(ev.block_on(rx.recv()), Some("one"));
    /// assert_eq!(ev.block_on(rx.recv()), None); // every sender is gone
    /// ```
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Poll for the next message (for hand-written futures and streams).
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let (tx, mut rx) = ev.remote().channel();
    /// tx.send(5).unwrap();
    /// let doubled = ev.block_on(poll_fn(|cx| rx.poll_recv(cx).map(|v| v.map(|v| v * 2))));
    /// assert_eq!(doubled, Some(10));
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        std::task::ready!(budget::poll_proceed(cx));
        match self.take(Some(cx.waker())) {
            Some(value) => {
                budget::consume();
                Poll::Ready(Some(value))
            }
            None if self.done => {
                budget::consume();
                Poll::Ready(None)
            }
            None => Poll::Pending,
        }
    }

    /// The next message if one is there now, without waiting.
    ///
    /// ```
    /// let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let (tx, mut rx) = ev.remote().channel();
    /// assert!(rx.try_recv().unwrap_err().is_empty());
    /// tx.send('a').unwrap();
    /// assert_eq!(rx.try_recv(), Ok('a'));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.take(None) {
            Some(value) => Ok(value),
            None if self.done => Err(TryRecvError::disconnected()),
            None => Err(TryRecvError::empty()),
        }
    }

    /// R1, else R2: a message, or `None` with `done` set (no sender left) or
    /// `waker` stored (if given).
    fn take(&mut self, waker: Option<&Waker>) -> Option<T> {
        if let Some(value) = self.batch.pop_front() {
            return Some(value); // R1
        }
        if self.done {
            return None;
        }
        let stale = {
            // R2: look and wait in one critical section (rule 1).
            let mut state = lock(&self.chan.state);
            std::mem::swap(&mut state.queue, &mut self.batch);
            if !self.batch.is_empty() {
                state.waiting.take()
            } else if state.senders == 0 || self.chan.shared.is_closed_hint() {
                // Rule 4, or rule 6: no message can come any more.
                self.done = true;
                state.waiting.take()
            } else if let Some(waker) = waker {
                match &state.waiting {
                    Some(w) if w.will_wake(waker) => None,
                    _ => state.waiting.replace(waker.clone()),
                }
            } else {
                None
            }
        };
        drop(stale); // rule 7
        self.batch.pop_front()
    }

    /// Messages queued and not yet received (a snapshot).
    ///
    /// ```
    /// let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let (tx, rx) = ev.remote().channel();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.batch.len() + lock(&self.chan.state).queue.len()
    }

    /// Whether no message is queued now (a snapshot).
    ///
    /// ```
    /// let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let (tx, mut rx) = ev.remote().channel();
    /// assert!(rx.is_empty());
    /// tx.send(1).unwrap();
    /// assert!(!rx.is_empty());
    /// rx.try_recv().unwrap();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // Rule 5: refuse later sends; what is queued goes with us.
        let (queue, waker) = {
            let mut state = lock(&self.chan.state);
            state.receiver_gone = true;
            (std::mem::take(&mut state.queue), state.waiting.take())
        };
        drop(waker); // rule 7: outside the lock
        drop(queue);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .field("done", &self.done)
            .finish()
    }
}
