//! The way into the loop from other threads: a locked inbox, and a wake-up
//! of the poller that is written only when the loop sleeps (coalesced).
//!
//! Three kinds of things arrive from other threads: wakes of the loop's
//! tasks, new tasks (`Remote::spawn`, `Remote::run`), and wakes of
//! `block_on`'s future. They go into the inbox, behind one mutex; the loop
//! drains the whole inbox at once (one lock per drain, not per item).
//!
//! The loop may be asleep in `epoll_wait`. Waking it takes a write to an
//! eventfd (mio's `Waker`), a syscall: we write it only when the loop is
//! parked or about to park, once per park however many items arrive.
//!
//! ```text
//!   park state        loop                           other threads
//!   AWAKE ──────── P1: swap(PARKED) ──► PARKED
//!   PARKED ─────── P2: lock; inbox empty? unlock
//!                  empty: P3 sleep in epoll    ◄───── R2: CAS PARKED→NOTIFIED,
//!                  else:  P3 poll, no sleep             then write the fd
//!   any ────────── P4: swap(AWAKE) ──► AWAKE
//!
//!   push: R1: lock; closed? refuse : push; unlock.  R2: if PARKED, CAS → NOTIFIED
//!         and the CAS winner writes the fd.
//! ```
//!
//! Rules:
//!
//! 1. **No lost wake-up.** The loop publishes PARKED (P1) before it looks
//!    at the inbox under the lock (P2); a pusher pushes under the lock (R1)
//!    before it reads the park state (R2). The lock orders P2 and R1: if R1
//!    comes first, P2 sees the item and the loop does not sleep; if P2 comes
//!    first, P1 happens-before R2 (through the lock), so R2 reads PARKED or
//!    a later value of this park, and either the CAS wins and writes the fd,
//!    or another pusher's CAS did, or the loop is already awake (P4) and
//!    drains the inbox before it parks again. No fence is needed: the lock
//!    carries the order.
//! 2. **Coalesced.** Only the CAS PARKED→NOTIFIED writes the fd, and P1 is
//!    the only way back to PARKED: at most one write per park, none while
//!    the loop is awake. (A write that lands after P4 makes the next
//!    `epoll_wait` return at once: one spurious turn, never a lost one.)
//! 3. **Closing.** When the loop is dropped it sets `closed` under the lock
//!    and takes what is inside; after that every push is refused and hands
//!    its item back to the pusher, which drops it. So an item is either
//!    drained by the loop or refused: none is stranded, none leaks.
//! 4. A refused wake entry is just dropped: the loop's shutdown completes
//!    every task it owns before it lets go of them (task rule 2), so the
//!    entry cannot be the last owner of a live `!Send` future. A refused new
//!    task drops its `Send` future on the pushing thread.
//!
//! Loom model: `loom-tests/event_loop_remote.rs` (pushes racing a park: the
//! loop never sleeps through an item, the fd is written at most once per
//! park; teardown racing wakes and spawns from other threads).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;

use super::channel::{self, Receiver, Sender};
use super::error::RemoteError;
use super::task::{self, JoinHandle, TaskRef};
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::sync::{lock, Arc, Mutex};

const AWAKE: usize = 0; // --> PARKED (loop, P1)
const PARKED: usize = 1; // --> NOTIFIED (a pusher, R2), AWAKE (loop, P4)
const NOTIFIED: usize = 2; // --> AWAKE (loop, P4)

/// Something that wakes the loop's poller: mio's `Waker` in the loop, a
/// parker in the loom models.
pub(crate) trait Unpark: Send + Sync {
    fn unpark(&self);
}

impl Unpark for mio::Waker {
    fn unpark(&self) {
        // mio's eventfd write fails only if the counter would overflow, and
        // mio resets it and retries in that case; anything else (EBADF) would
        // be a bug in the loop's teardown order, and a wake-up is all that
        // could be lost: nothing to report it to.
        let _ = self.wake();
    }
}

/// One thing for the loop, from another thread.
pub(crate) enum Item {
    /// A run-queue entry for one of the loop's tasks.
    Wake(TaskRef),
    /// A new task: its run-queue entry (task.rs rule 8).
    Spawn(TaskRef),
}

struct Inbox {
    items: VecDeque<Item>,
    main_woken: bool,
    closed: bool,
}

/// The part of a loop other threads can reach (every task and `Remote`
/// holds an `Arc` of it).
pub(crate) struct Shared {
    park: AtomicUsize,
    /// A lock-free copy of `Inbox::closed` for the channel's senders
    /// (channel.rs rule 6): set under the lock by `close`, read without it.
    closed_hint: AtomicBool,
    inbox: Mutex<Inbox>,
    unpark: Box<dyn Unpark>,
}

impl Shared {
    /// Out of line: two callers, the loop and task.rs `outside_loop_block`.
    #[inline(never)]
    pub(crate) fn new(unpark: Box<dyn Unpark>) -> Arc<Self> {
        Arc::new(Shared {
            park: AtomicUsize::new(AWAKE),
            closed_hint: AtomicBool::new(false),
            inbox: Mutex::new(Inbox {
                items: VecDeque::new(),
                main_woken: false,
                closed: false,
            }),
            unpark,
        })
    }

    /// R1 + R2: hand `item` to the loop; `Err(item)` if it is gone (rule 3).
    pub(crate) fn push(&self, item: Item) -> Result<(), Item> {
        {
            let mut inbox = lock(&self.inbox);
            if inbox.closed {
                return Err(item);
            }
            inbox.items.push_back(item);
        }
        self.notify();
        Ok(())
    }

    /// Wake `block_on`'s future from another thread.
    pub(crate) fn wake_main(&self) {
        {
            let mut inbox = lock(&self.inbox);
            if inbox.closed {
                return;
            }
            inbox.main_woken = true;
        }
        self.notify();
    }

    /// R2 (rule 2). The load first spares the CAS's cache-line write when
    /// the loop is awake, the common case under load.
    fn notify(&self) {
        // Relaxed: the item itself travels under the lock; rule 1's order
        // comes from the lock and the coherence of `park`.
        if self.park.load(Relaxed) == PARKED
            && self
                .park
                .compare_exchange(PARKED, NOTIFIED, Relaxed, Relaxed)
                .is_ok()
        {
            self.unpark.unpark();
        }
    }

    /// The loop takes everything in the inbox, swapping it with `into`
    /// (which must be empty, and gets the old buffer); true if `block_on`'s
    /// future was woken.
    pub(crate) fn drain(&self, into: &mut VecDeque<Item>) -> bool {
        debug_assert!(into.is_empty());
        let mut inbox = lock(&self.inbox);
        std::mem::swap(&mut inbox.items, into);
        std::mem::take(&mut inbox.main_woken)
    }

    /// P1–P4: run `poll` with `true` ("you may sleep") if the inbox is empty
    /// once PARKED is published, else with `false` (poll without sleeping).
    /// Returns whatever `poll` returns.
    pub(crate) fn park<R>(&self, poll: impl FnOnce(bool) -> R) -> R {
        // P1. A swap, not a store: loom applies RMW atomicity only between
        // RMWs (see loom-tests/mod.rs), and the CAS of R2 is one.
        let before = self.park.swap(PARKED, Relaxed);
        debug_assert_eq!(before, AWAKE);
        // P2.
        let pending = {
            let inbox = lock(&self.inbox);
            !inbox.items.is_empty() || inbox.main_woken || inbox.closed
        };
        // P3.
        let result = poll(!pending);
        // P4.
        self.park.swap(AWAKE, Relaxed);
        result
    }

    /// Rule 3: refuse every later push; the loop gets what is inside.
    pub(crate) fn close(&self) -> VecDeque<Item> {
        let mut inbox = lock(&self.inbox);
        inbox.closed = true;
        // Relaxed: a hint only; what it protects (the items) travels under
        // the lock, and a push that misses it is refused by `closed` there.
        self.closed_hint.store(true, Relaxed);
        inbox.main_woken = false;
        std::mem::take(&mut inbox.items)
    }

    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.inbox).closed
    }

    /// `is_closed` without the lock; may lag behind `close` (channel.rs
    /// rule 6 tolerates it).
    pub(crate) fn is_closed_hint(&self) -> bool {
        self.closed_hint.load(Relaxed)
    }
}

/// A handle to an [`EventLoop`](super::EventLoop) usable from any thread:
/// `Send + Sync + Clone`.
///
/// Through it another thread can spawn a `Send` future onto the loop or run
/// a closure there. Once the loop is dropped these return a
/// [`RemoteError`] that [`is_closed`](RemoteError::is_closed).
///
/// ```
/// use triad::event_loop::EventLoop;
///
/// let ev = EventLoop::new().unwrap();
/// let remote = ev.remote();
/// let from_thread = std::thread::spawn(move || remote.run(|| 6 * 7).unwrap())
///     .join()
///     .unwrap();
/// assert_eq!(ev.block_on(from_thread).unwrap(), 42);
/// ```
#[derive(Clone)]
pub struct Remote {
    shared: Arc<Shared>,
}

impl Remote {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Remote { shared }
    }

    /// Spawn `future` onto the loop. It starts at the loop's next turn (if
    /// the loop is parked, this wakes it).
    ///
    /// ```
    /// let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let remote = ev.remote();
    /// let handle = std::thread::spawn(move || remote.spawn(async { "on the loop" }))
    ///     .join()
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!(ev.block_on(handle).unwrap(), "on the loop");
    /// ```
    pub fn spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, RemoteError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (queued, handle) = task::new(future, &self.shared);
        match self.shared.push(Item::Spawn(queued)) {
            Ok(()) => Ok(handle),
            // Rule 4: the future is `Send`; dropping the references (and the
            // handle) frees it here.
            Err(_) => Err(RemoteError::closed()),
        }
    }

    /// Run `f` on the loop's thread, as a task; its handle gives the value.
    /// Inside `f`, the loop's free functions (`spawn`, `sleep`, sockets)
    /// work, so this is how another thread starts `!Send` work on the loop.
    ///
    /// ```
    /// use triad::event_loop::{spawn, EventLoop};
    ///
    /// let ev = EventLoop::new().unwrap();
    /// let remote = ev.remote();
    /// let handle = std::thread::spawn(move || {
    ///     // `spawn` (the loop's free function) works inside the closure.
    ///     remote.run(|| spawn(async { std::rc::Rc::new(3) }).is_finished()).unwrap()
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(ev.block_on(handle).unwrap(), false);
    /// ```
    pub fn run<F, R>(&self, f: F) -> Result<JoinHandle<R>, RemoteError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.spawn(async move { f() })
    }

    /// A channel into the loop: the [`Sender`] goes to any thread (it is
    /// `Send + Clone`), the [`Receiver`] to a task on the loop.
    ///
    /// Unbounded, like tokio's `mpsc::unbounded_channel`; a send wakes the
    /// loop only if the receiver had run dry, and writes the loop's eventfd
    /// only if the loop is parked, so a stream of messages costs one lock
    /// per message on the sending side and one per batch on the loop
    /// (channel.rs). Sends fail with a [`SendError`](super::SendError) once
    /// the receiver or the loop is gone.
    ///
    /// ```
    /// use triad::event_loop::EventLoop;
    ///
    /// let ev = EventLoop::new().unwrap();
    /// let (tx, mut rx) = ev.remote().channel::<u64>();
    /// let producer = std::thread::spawn(move || {
    ///     for i in 1..=1000 {
    ///         tx.send(i).unwrap();
    ///     }
    ///     // `tx` dropped here: the receiver gets `None` after the last one.
    /// });
    /// let sum = ev.block_on(async move {
    ///     let mut sum = 0;
    ///     while let Some(i) = rx.recv().await {
    ///         sum += i;
    ///     }
    ///     sum
    /// });
    /// producer.join().unwrap();
    /// assert_eq!(sum, 500_500);
    /// ```
    pub fn channel<T: Send>(&self) -> (Sender<T>, Receiver<T>) {
        channel::channel(self.shared.clone())
    }

    /// Whether the loop is gone.
    ///
    /// ```
    /// let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let remote = ev.remote();
    /// assert!(!remote.is_closed());
    /// drop(ev);
    /// assert!(remote.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("closed", &self.is_closed())
            .finish()
    }
}
