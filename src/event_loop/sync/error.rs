//! The errors of the local primitives: opaque structs with a private kind
//! and predicates, so that kinds can be added without breaking callers.
//! Each one says which side is gone; none is ever a hang.

use std::fmt;

/// A send that was refused because the receiver is gone (dropped, or it
/// closed the channel), or because the channel's storage is borrowed
/// right now (a [`watch`](super::watch) value's `borrow()` is alive, or a
/// [`broadcast`](super::broadcast) message's `Clone` sends into its own
/// channel). The value comes back with it.
///
/// Returned by [`mpsc::Sender::send`](super::mpsc::Sender::send),
/// [`mpsc::UnboundedSender::send`](super::mpsc::UnboundedSender::send),
/// [`mpsc::Permit::send`](super::mpsc::Permit::send),
/// [`oneshot::Sender::send`](super::oneshot::Sender::send),
/// [`broadcast::Sender::send`](super::broadcast::Sender::send) and
/// [`watch::Sender::send`](super::watch::Sender::send).
///
/// ```
/// use triad::event_loop::sync::oneshot;
///
/// let (tx, rx) = oneshot::channel::<String>();
/// drop(rx);
/// let error = tx.send("lost?".to_owned()).unwrap_err();
/// assert!(error.is_closed());
/// assert!(!error.is_borrowed());
/// assert_eq!(error.into_inner(), "lost?"); // not lost: handed back
/// ```
pub struct SendError<T> {
    kind: SendKind,
    value: T,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendKind {
    Closed,
    Borrowed,
}

impl<T> SendError<T> {
    pub(crate) fn closed(value: T) -> Self {
        SendError {
            kind: SendKind::Closed,
            value,
        }
    }

    pub(crate) fn borrowed(value: T) -> Self {
        SendError {
            kind: SendKind::Borrowed,
            value,
        }
    }

    /// The receiver is dropped or closed: nothing sent now will be read.
    pub fn is_closed(&self) -> bool {
        self.kind == SendKind::Closed
    }

    /// The channel's storage is borrowed right now, so nothing was changed:
    /// a [`watch`](super::watch) value has a `borrow()` alive (perhaps held
    /// across an `.await`), or a [`broadcast`](super::broadcast) send came
    /// from a message's `Clone` while a receiver cloned it. Send again once
    /// the borrow has ended.
    ///
    /// ```
    /// use triad::event_loop::sync::watch;
    ///
    /// let (tx, rx) = watch::channel(1);
    /// let seen = rx.borrow();
    /// let error = tx.send(2).unwrap_err();
    /// assert!(error.is_borrowed() && !error.is_closed());
    /// assert_eq!(error.into_inner(), 2);
    /// drop(seen);
    /// tx.send(2).unwrap();
    /// ```
    pub fn is_borrowed(&self) -> bool {
        self.kind == SendKind::Borrowed
    }

    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SendKind::Closed => write!(f, "the receiver is gone (dropped or closed)"),
            SendKind::Borrowed => write!(
                f,
                "the channel's value is borrowed right now (a `borrow()` is alive): not sent"
            ),
        }
    }
}

// By hand: the value need not be `Debug` (and is not shown).
impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SendError({self})")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why [`mpsc::Sender::try_send`](super::mpsc::Sender::try_send) did not
/// send: the channel is full, or the receiver is gone. The value comes back
/// with it.
///
/// ```
/// use triad::event_loop::sync::mpsc;
///
/// let (tx, _rx) = mpsc::channel::<u32>(1);
/// tx.try_send(1).unwrap();
/// let error = tx.try_send(2).unwrap_err();
/// assert!(error.is_full());
/// assert_eq!(error.into_inner(), 2);
/// ```
pub struct TrySendError<T> {
    kind: TrySendKind,
    value: T,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrySendKind {
    Full,
    Closed,
}

impl<T> TrySendError<T> {
    pub(crate) fn full(value: T) -> Self {
        TrySendError {
            kind: TrySendKind::Full,
            value,
        }
    }

    pub(crate) fn closed(value: T) -> Self {
        TrySendError {
            kind: TrySendKind::Closed,
            value,
        }
    }

    /// Every slot is taken (or other senders wait for one first): try later,
    /// or `send(..).await`.
    pub fn is_full(&self) -> bool {
        self.kind == TrySendKind::Full
    }

    /// The receiver is dropped or closed: nothing will be read.
    pub fn is_closed(&self) -> bool {
        self.kind == TrySendKind::Closed
    }

    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TrySendKind::Full => write!(f, "the channel is full"),
            TrySendKind::Closed => write!(f, "the receiver is gone (dropped or closed)"),
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrySendError({self})")
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// A closed [`SendError`] becomes a closed `TrySendError`; a borrowed one
/// (watch), which may succeed once the borrow ends, becomes a full one
/// ("try later").
impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(error: SendError<T>) -> Self {
        match error.kind {
            SendKind::Closed => TrySendError::closed(error.value),
            SendKind::Borrowed => TrySendError::full(error.value),
        }
    }
}

/// Why a `try_recv` gave no value: nothing there yet, or nothing will ever
/// come (every sender is gone).
///
/// ```
/// use triad::event_loop::sync::mpsc;
///
/// let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
/// assert!(rx.try_recv().unwrap_err().is_empty());
/// drop(tx);
/// assert!(rx.try_recv().unwrap_err().is_disconnected());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryRecvError {
    kind: TryRecvKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TryRecvKind {
    Empty,
    Disconnected,
    Lagged(u64),
}

impl TryRecvError {
    pub(crate) fn empty() -> Self {
        TryRecvError {
            kind: TryRecvKind::Empty,
        }
    }

    pub(crate) fn disconnected() -> Self {
        TryRecvError {
            kind: TryRecvKind::Disconnected,
        }
    }

    pub(crate) fn fell_behind(skipped: u64) -> Self {
        TryRecvError {
            kind: TryRecvKind::Lagged(skipped),
        }
    }

    /// Nothing is there now; a sender remains, so something may come.
    pub fn is_empty(&self) -> bool {
        self.kind == TryRecvKind::Empty
    }

    /// Nothing is there, and every sender is gone (or, for a oneshot, the
    /// value was already taken or the receiver closed): nothing will come.
    pub fn is_disconnected(&self) -> bool {
        self.kind == TryRecvKind::Disconnected
    }

    /// A [`broadcast`](super::broadcast) receiver fell behind: this many
    /// of the oldest messages were overwritten before it read them. The
    /// next receive gets the oldest one still kept.
    pub fn lagged(&self) -> Option<u64> {
        match self.kind {
            TryRecvKind::Lagged(skipped) => Some(skipped),
            _ => None,
        }
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TryRecvKind::Empty => write!(f, "nothing received yet"),
            TryRecvKind::Disconnected => write!(f, "nothing to receive: every sender is gone"),
            TryRecvKind::Lagged(n) => write!(f, "the receiver fell behind by {n} messages"),
        }
    }
}

impl std::error::Error for TryRecvError {}

/// A receive that got no value: the sender (every sender, for a
/// [`broadcast`](super::broadcast)) was dropped, a oneshot receiver was
/// closed, or a broadcast receiver fell behind.
///
/// ```
/// use triad::event_loop::{sync::oneshot, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let (tx, rx) = oneshot::channel::<u32>();
/// drop(tx);
/// assert!(ev.block_on(rx).unwrap_err().is_sender_dropped());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecvError {
    kind: RecvKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecvKind {
    SenderDropped,
    Closed,
    Lagged(u64),
}

impl RecvError {
    pub(crate) fn sender_dropped() -> Self {
        RecvError {
            kind: RecvKind::SenderDropped,
        }
    }

    pub(crate) fn closed() -> Self {
        RecvError {
            kind: RecvKind::Closed,
        }
    }

    pub(crate) fn fell_behind(skipped: u64) -> Self {
        RecvError {
            kind: RecvKind::Lagged(skipped),
        }
    }

    /// The sender was dropped (for a broadcast: every sender) and nothing
    /// is left to receive: nothing will come.
    pub fn is_sender_dropped(&self) -> bool {
        self.kind == RecvKind::SenderDropped
    }

    /// A [`oneshot`](super::oneshot) receiver closed itself
    /// ([`Receiver::close`](super::oneshot::Receiver::close)) before a
    /// value was sent: nothing will come, though the sender may live on.
    ///
    /// ```
    /// use triad::event_loop::{sync::oneshot, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let (_tx, mut rx) = oneshot::channel::<u32>();
    /// rx.close();
    /// assert!(ev.block_on(rx).unwrap_err().is_closed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.kind == RecvKind::Closed
    }

    /// A [`broadcast`](super::broadcast) receiver fell behind: this many
    /// of the oldest messages were overwritten before it read them. The
    /// next receive gets the oldest one still kept.
    pub fn lagged(&self) -> Option<u64> {
        match self.kind {
            RecvKind::Lagged(skipped) => Some(skipped),
            RecvKind::SenderDropped | RecvKind::Closed => None,
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RecvKind::SenderDropped => write!(f, "the sender was dropped: nothing will come"),
            RecvKind::Closed => write!(f, "the receiver was closed: nothing will come"),
            RecvKind::Lagged(n) => write!(f, "the receiver fell behind by {n} messages"),
        }
    }
}

impl std::error::Error for RecvError {}

/// A semaphore acquire that failed: the [`Semaphore`](super::Semaphore) is
/// closed.
///
/// ```
/// use triad::event_loop::{sync::Semaphore, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let semaphore = Semaphore::new(1);
/// semaphore.close();
/// assert!(ev.block_on(semaphore.acquire()).unwrap_err().is_closed());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcquireError {
    _private: (),
}

impl AcquireError {
    pub(crate) fn closed() -> Self {
        AcquireError { _private: () }
    }

    /// The semaphore was closed before the permits were handed over.
    pub fn is_closed(&self) -> bool {
        true
    }
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the semaphore is closed")
    }
}

impl std::error::Error for AcquireError {}

/// Why a `try_acquire` got no permit: too few are free now (or others wait
/// for them first), or the semaphore is closed.
///
/// ```
/// use triad::event_loop::sync::Semaphore;
///
/// let semaphore = Semaphore::new(1);
/// let _held = semaphore.try_acquire().unwrap();
/// assert!(semaphore.try_acquire().unwrap_err().is_no_permits());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryAcquireError {
    closed: bool,
}

impl TryAcquireError {
    pub(crate) fn no_permits() -> Self {
        TryAcquireError { closed: false }
    }

    pub(crate) fn closed() -> Self {
        TryAcquireError { closed: true }
    }

    /// Too few permits are free now, or earlier waiters are served first.
    pub fn is_no_permits(&self) -> bool {
        !self.closed
    }

    /// The semaphore is closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.closed {
            write!(f, "the semaphore is closed")
        } else {
            write!(f, "no permits available")
        }
    }
}

impl std::error::Error for TryAcquireError {}

/// [`Mutex::try_lock`](super::Mutex::try_lock) found the mutex held (or
/// tasks queued for it first).
///
/// ```
/// use triad::event_loop::sync::Mutex;
///
/// let mutex = Mutex::new(0);
/// let _guard = mutex.try_lock().unwrap();
/// assert!(mutex.try_lock().unwrap_err().is_locked());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryLockError {
    _private: (),
}

impl TryLockError {
    pub(crate) fn locked() -> Self {
        TryLockError { _private: () }
    }

    /// The mutex is held, or other tasks wait for it first.
    pub fn is_locked(&self) -> bool {
        true
    }
}

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the mutex is locked")
    }
}

impl std::error::Error for TryLockError {}

/// Why [`OnceCell::set`](super::OnceCell::set) did not store the value:
/// the cell already holds one, or an initializer is running. The value
/// comes back with it.
///
/// ```
/// use triad::event_loop::sync::OnceCell;
///
/// let cell = OnceCell::new();
/// cell.set(1).unwrap();
/// let error = cell.set(2).unwrap_err();
/// assert!(error.is_already_set());
/// assert_eq!(error.into_inner(), 2);
/// ```
pub struct SetError<T> {
    initializing: bool,
    value: T,
}

impl<T> SetError<T> {
    pub(crate) fn already_set(value: T) -> Self {
        SetError {
            initializing: false,
            value,
        }
    }

    pub(crate) fn initializing(value: T) -> Self {
        SetError {
            initializing: true,
            value,
        }
    }

    /// The cell already holds a value.
    pub fn is_already_set(&self) -> bool {
        !self.initializing
    }

    /// A `get_or_init` is running its initializer now.
    pub fn is_initializing(&self) -> bool {
        self.initializing
    }

    /// The value that was not stored.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Display for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.initializing {
            write!(f, "the cell is being initialized")
        } else {
            write!(f, "the cell already holds a value")
        }
    }
}

impl<T> fmt::Debug for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SetError({self})")
    }
}

impl<T> std::error::Error for SetError<T> {}
