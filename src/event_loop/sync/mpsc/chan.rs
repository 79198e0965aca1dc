//! The state every handle of one channel shares (`mpsc` module docs: the
//! protocol, its states and rules).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::super::wait_list::{wake_all, WaitList, WaiterKey, WaiterState};

/// What became of the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReceiverState {
    Open,
    /// `Receiver::close`: no new sends; what is queued or reserved still
    /// arrives (rule 5).
    Closed,
    /// Dropped: nothing will be read (rule 6).
    Dropped,
}

pub(super) struct Chan<T> {
    pub(super) queue: RefCell<VecDeque<T>>,
    /// `Some(capacity)` for a bounded channel; `Some(1)` for a rendezvous
    /// one (its one hand-off slot, rule 9).
    pub(super) bound: Option<usize>,
    /// Made with capacity 0: a send waits until its message is taken
    /// (rule 9).
    pub(super) rendezvous: bool,
    /// Bounded: slots neither holding a message nor reserved (rule 2).
    pub(super) free: Cell<usize>,
    pub(super) senders: Cell<usize>,
    pub(super) receiver: Cell<ReceiverState>,
    /// The receiver's waker while it waits on an empty queue (rule 4).
    pub(super) receiver_waker: Cell<Option<Waker>>,
    /// Senders waiting for a slot, FIFO (rule 3).
    pub(super) send_waiters: RefCell<WaitList>,
    /// `closed()` futures of the senders.
    pub(super) closed_waiters: RefCell<WaitList>,
    /// Rendezvous: messages the receiver has taken, so far (rule 9).
    pub(super) taken: Cell<u64>,
    /// Rendezvous: the queued message belongs to a `send` that waits for
    /// the receiver to take it (rule 9).
    pub(super) awaiting_delivery: Cell<bool>,
    /// The waker of that `send`.
    pub(super) delivery_waker: Cell<Option<Waker>>,
}

impl<T> Chan<T> {
    /// A bounded (`Some(capacity)`, at least 1) or unbounded (`None`)
    /// channel.
    pub(super) fn new(bound: Option<usize>) -> Chan<T> {
        Chan::with(bound, false)
    }

    /// A rendezvous channel: one hand-off slot, whose sender waits until
    /// the receiver takes the message (rule 9).
    pub(super) fn rendezvous() -> Chan<T> {
        Chan::with(Some(1), true)
    }

    fn with(bound: Option<usize>, rendezvous: bool) -> Chan<T> {
        Chan {
            queue: RefCell::new(VecDeque::with_capacity(bound.unwrap_or(0).min(1024))),
            bound,
            rendezvous,
            free: Cell::new(bound.unwrap_or(0)),
            senders: Cell::new(1),
            receiver: Cell::new(ReceiverState::Open),
            receiver_waker: Cell::new(None),
            send_waiters: RefCell::new(WaitList::new()),
            closed_waiters: RefCell::new(WaitList::new()),
            taken: Cell::new(0),
            awaiting_delivery: Cell::new(false),
            delivery_waker: Cell::new(None),
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        self.receiver.get() != ReceiverState::Open
    }

    /// Queue a message (its slot, if bounded, is already the caller's) and
    /// wake the receiver if it waits (rule 4).
    pub(super) fn push(&self, value: T) {
        self.queue.borrow_mut().push_back(value);
        self.wake_receiver();
    }

    pub(super) fn wake_receiver(&self) {
        if let Some(waker) = self.receiver_waker.take() {
            waker.wake();
        }
    }

    /// Whether the receiver waits in `recv` now: its last poll found the
    /// queue empty, and neither a push nor another wake has come since
    /// (rules 4, 9).
    pub(super) fn receiver_waits(&self) -> bool {
        let waker = self.receiver_waker.take();
        let waits = waker.is_some();
        self.receiver_waker.set(waker);
        waits
    }

    /// Rule 9: the receiver took a message off a rendezvous channel; the
    /// `send` waiting for it, if any, has succeeded.
    pub(super) fn message_taken(&self) {
        self.taken.set(self.taken.get().wrapping_add(1));
        self.awaiting_delivery.set(false);
        if let Some(waker) = self.delivery_waker.take() {
            waker.wake();
        }
    }

    /// Rules 2, 3: take a free slot now, only if no sender waits for one.
    pub(super) fn try_reserve(&self) -> bool {
        let free = self.free.get();
        if free > 0 && self.send_waiters.borrow().is_empty() {
            self.free.set(free - 1);
            true
        } else {
            false
        }
    }

    /// Rule 3: a slot came back (a message received, a permit or a granted
    /// waiter dropped): hand it to the first waiting sender, else free it.
    pub(super) fn release_slot(&self) {
        let waker = {
            let mut waiters = self.send_waiters.borrow_mut();
            if waiters.is_empty() {
                None
            } else {
                waiters.grant_front()
            }
        };
        match waker {
            Some(waker) => waker.wake(), // rule 8: after the borrow
            None => {
                self.free.set(self.free.get() + 1);
                if self.receiver.get() == ReceiverState::Closed {
                    // The end of the stream may have come (rule 5).
                    self.wake_receiver();
                }
            }
        }
    }

    /// Slots reserved and not yet used (bounded), for the end of a closed
    /// stream (rule 5).
    pub(super) fn reserved(&self, queued: usize) -> usize {
        match self.bound {
            Some(bound) => bound - self.free.get() - queued,
            None => 0,
        }
    }

    pub(super) fn add_sender(&self) {
        self.senders.set(self.senders.get() + 1);
    }

    /// Rule 4: the last sender gone ends the stream.
    pub(super) fn drop_sender(&self) {
        let left = self.senders.get() - 1;
        self.senders.set(left);
        if left == 0 {
            self.wake_receiver();
        }
    }

    /// Rules 5, 6: the receiver closes (or is dropped): every waiting
    /// sender is released (its send fails), every `closed()` completes.
    pub(super) fn close(&self, state: ReceiverState) {
        self.receiver.set(state);
        let mut wakers = Vec::new();
        self.send_waiters.borrow_mut().release_all(&mut wakers);
        self.closed_waiters.borrow_mut().release_all(&mut wakers);
        wake_all(wakers); // rule 8
    }
}

/// The future of `Sender::closed` and `UnboundedSender::closed`.
pub(super) struct Closed<'a, T> {
    chan: &'a Chan<T>,
    key: Option<WaiterKey>,
}

impl<'a, T> Closed<'a, T> {
    pub(super) fn new(chan: &'a Chan<T>) -> Self {
        Closed { chan, key: None }
    }
}

impl<T> Future for Closed<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut waiters = this.chan.closed_waiters.borrow_mut();
        match this.key {
            None if this.chan.is_closed() => Poll::Ready(()),
            None => {
                this.key = Some(waiters.push(1, cx.waker()));
                Poll::Pending
            }
            Some(key) if waiters.state(key) == WaiterState::Queued => {
                let old = waiters.update_waker(key, cx.waker());
                drop(waiters);
                drop(old);
                Poll::Pending
            }
            Some(key) => {
                let (_, old) = waiters.remove(key);
                this.key = None;
                drop(waiters);
                drop(old);
                Poll::Ready(())
            }
        }
    }
}

impl<T> Drop for Closed<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let (_, old) = self.chan.closed_waiters.borrow_mut().remove(key);
            drop(old);
        }
    }
}
