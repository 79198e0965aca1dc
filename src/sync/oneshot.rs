//! The completion cell behind every `JoinHandle`: one value, sent once,
//! received by a blocking wait or by a `Future`.
//!
//! ```text
//!   EMPTY ──receiver registers──► WAITING(thread | waker) ──┐
//!     │                               │   (re-register:     │
//!     │                               │    replace waker)   │
//!     ├──── send(v) ──────────────────┴──────────► READY(v) ─── receive ──► TAKEN
//!     └──── sender dropped unsent ────────────────► CLOSED ──── receive ──► (None)
//! ```
//!
//! Rules:
//!
//! 1. The state lives behind one mutex, so every transition is atomic and
//!    the picture above is the whole protocol: no ordering argument needed.
//! 2. `send` and the sender's drop are the only ways out of EMPTY/WAITING
//!    towards READY/CLOSED, and a sender sends at most once (it is consumed),
//!    so there is exactly one outcome.
//! 3. Whoever moves the state to READY or CLOSED wakes the registered
//!    waiter *after* releasing the lock (a waker may re-enter the cell).
//! 4. A receiver that is dropped never blocks the sender: the value is
//!    dropped with the cell. Its registered waker, if any, goes back to
//!    EMPTY's nobody at once: the task it wakes gave the receiver up, so
//!    it is neither kept alive until the send nor woken by it. The drop
//!    only *tries* the lock: if it is held, the holder is the sender, which
//!    is completing the cell and takes the waker out itself (rule 3: then
//!    the task gets that one wake, which is harmless), or, in a forked
//!    child, a parent thread that does not exist there, for which waiting
//!    would be forever.
//!
//! 5. In a process forked while another thread held the lock, that thread
//!    does not exist to release it: a receiver there only *tries* the lock
//!    (`try_receive_in_child`, `is_complete_in_child`, and the drop of
//!    rule 4), and its caller reports the cell's owner as unavailable.
//!
//! The loom model `loom-tests/sync_oneshot.rs` checks a send racing a
//! blocking wait and a poll.

use std::task::{Context, Poll, Waker};

use super::{Arc, Condvar, Mutex};

enum State<T> {
    Empty,
    /// A blocked thread waits on the condvar.
    WaitingThread,
    /// A task waits; this waker is woken on completion.
    WaitingTask(Waker),
    Ready(T),
    Taken,
    Closed,
}

struct Inner<T> {
    state: Mutex<State<T>>,
    condvar: Condvar,
}

/// The sending half: consumed by [`Sender::send`]; dropping it unsent closes.
pub(crate) struct Sender<T> {
    inner: Option<Arc<Inner<T>>>,
}

/// The receiving half.
pub(crate) struct Receiver<T> {
    inner: Arc<Inner<T>>,
}

/// A new channel.
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: Mutex::new(State::Empty),
        condvar: Condvar::new(),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver { inner },
    )
}

impl<T> Sender<T> {
    /// Complete the cell with `value` (rule 2).
    pub(crate) fn send(mut self, value: T) {
        if let Some(inner) = self.inner.take() {
            inner.complete(State::Ready(value));
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.complete(State::Closed);
        }
    }
}

impl<T> Inner<T> {
    fn complete(&self, outcome: State<T>) {
        let previous = std::mem::replace(&mut *super::lock(&self.state), outcome);
        // Rule 3: the lock is released (the guard above was a temporary).
        match previous {
            State::Empty => {}
            State::WaitingThread => self.condvar.notify_all(),
            State::WaitingTask(waker) => waker.wake(),
            State::Ready(_) | State::Taken | State::Closed => {
                unreachable!("oneshot completed twice")
            }
        }
    }
}

impl<T> Receiver<T> {
    /// Test hook: lock the cell and never unlock it, as a thread of the
    /// parent that held the lock at a fork leaves it in the child.
    #[cfg(test)]
    pub(crate) fn leak_lock_for_test(&self) {
        std::mem::forget(super::lock(&self.inner.state));
    }
}

/// The outcome out of `state` if it is there (see `try_receive`).
fn take_if_there<T>(state: &mut State<T>) -> Option<Option<T>> {
    match std::mem::replace(state, State::Taken) {
        State::Ready(value) => Some(Some(value)),
        State::Closed => {
            *state = State::Closed;
            Some(None)
        }
        State::Taken => panic!("oneshot outcome received twice"),
        waiting => {
            *state = waiting;
            None
        }
    }
}

/// The lock if it is free (rule 5), ignoring poisoning as `lock` does.
fn try_lock_in_child<T>(mutex: &Mutex<T>) -> Option<super::MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // Rule 4: forget a registered waker. Taken out under the lock,
        // dropped after it (a waker's drop is the waiting task's code).
        // Only tried: the receiver being gone, the lock can be held only by
        // the sender, which is completing the cell and takes the waker out
        // itself; or, in a forked child, by a thread of the parent that
        // does not exist there, and then waiting would be forever.
        let mut state = match self.inner.state.try_lock() {
            Ok(state) => state,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return,
        };
        if matches!(*state, State::WaitingTask(_)) {
            let waiting = std::mem::replace(&mut *state, State::Empty);
            drop(state);
            drop(waiting);
        }
    }
}

impl<T> Receiver<T> {
    /// Whether the outcome came (READY or CLOSED), received since
    /// (TAKEN) or not.
    pub(crate) fn is_complete(&self) -> bool {
        matches!(
            *super::lock(&self.inner.state),
            State::Ready(_) | State::Taken | State::Closed
        )
    }

    /// Look at the outcome without taking it: `f` gets the value if it
    /// was sent and not yet received (under the lock, rule 1).
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))]
    pub(crate) fn peek<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        match &*super::lock(&self.inner.state) {
            State::Ready(value) => f(Some(value)),
            _ => f(None),
        }
    }

    /// Take the outcome if it is there: `Some(Some(v))` sent, `Some(None)`
    /// closed unsent, `None` not yet.
    pub(crate) fn try_receive(&mut self) -> Option<Option<T>> {
        take_if_there(&mut super::lock(&self.inner.state))
    }

    /// [`try_receive`](Self::try_receive) in a forked child (rule 5):
    /// `None` also when the lock is held, since the thread that held it at
    /// the fork does not exist here to release it.
    pub(crate) fn try_receive_in_child(&mut self) -> Option<Option<T>> {
        take_if_there(&mut *try_lock_in_child(&self.inner.state)?)
    }

    /// [`is_complete`](Self::is_complete) in a forked child (rule 5):
    /// `None` when the lock is held, and nobody here will release it.
    pub(crate) fn is_complete_in_child(&self) -> Option<bool> {
        let state = try_lock_in_child(&self.inner.state)?;
        Some(matches!(
            *state,
            State::Ready(_) | State::Taken | State::Closed
        ))
    }

    /// Block the calling thread until the outcome is there; `None` if closed.
    pub(crate) fn receive_blocking(&mut self) -> Option<T> {
        let mut state = super::lock(&self.inner.state);
        loop {
            match std::mem::replace(&mut *state, State::WaitingThread) {
                State::Ready(value) => {
                    *state = State::Taken;
                    return Some(value);
                }
                State::Closed => {
                    *state = State::Closed;
                    return None;
                }
                State::Taken => panic!("oneshot outcome received twice"),
                State::Empty | State::WaitingThread | State::WaitingTask(_) => {
                    state = super::wait(&self.inner.condvar, state);
                }
            }
        }
    }

    /// [`receive_blocking`](Self::receive_blocking) for at most `timeout`:
    /// `Some(Some(v))` sent, `Some(None)` closed unsent, `None` not there
    /// by then (the receiver stays usable, and nobody is left waiting).
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))]
    pub(crate) fn receive_timeout(&mut self, timeout: std::time::Duration) -> Option<Option<T>> {
        // A deadline past what `Instant` can hold is no deadline.
        let deadline = std::time::Instant::now().checked_add(timeout);
        let mut state = super::lock(&self.inner.state);
        loop {
            match std::mem::replace(&mut *state, State::WaitingThread) {
                State::Ready(value) => {
                    *state = State::Taken;
                    return Some(Some(value));
                }
                State::Closed => {
                    *state = State::Closed;
                    return Some(None);
                }
                State::Taken => panic!("oneshot outcome received twice"),
                State::Empty | State::WaitingThread | State::WaitingTask(_) => {
                    let left = deadline.map_or(timeout, |d| {
                        d.saturating_duration_since(std::time::Instant::now())
                    });
                    if left.is_zero() {
                        *state = State::Empty;
                        return None;
                    }
                    state = super::wait_timeout(&self.inner.condvar, state, left);
                }
            }
        }
    }

    /// Poll for the outcome, registering `cx`'s waker if it is not there.
    pub(crate) fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = super::lock(&self.inner.state);
        match std::mem::replace(&mut *state, State::Taken) {
            State::Ready(value) => Poll::Ready(Some(value)),
            State::Closed => {
                *state = State::Closed;
                Poll::Ready(None)
            }
            State::Taken => panic!("oneshot polled after completion"),
            State::WaitingTask(waker) if waker.will_wake(cx.waker()) => {
                *state = State::WaitingTask(waker);
                Poll::Pending
            }
            State::Empty | State::WaitingThread | State::WaitingTask(_) => {
                *state = State::WaitingTask(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
