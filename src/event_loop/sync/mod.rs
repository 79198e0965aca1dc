//! Primitives for tasks on *one* loop: channels (`mpsc`, `oneshot`,
//! `broadcast`, `watch`), notifications, a semaphore and locks, none of
//! them shareable across threads, all built on `Rc`, `Cell` and `RefCell`
//! (no atomics, no locks).
//!
//! ```
//! use std::rc::Rc;
//! use triad::event_loop::sync::{mpsc, oneshot, Semaphore};
//! use triad::event_loop::{spawn, EventLoop};
//!
//! // A worker task serving requests, each with its own reply channel; at
//! // most two requests in flight at once.
//! let ev = EventLoop::new()?;
//! let replies = ev.block_on(async {
//!     let (requests, mut inbox) = mpsc::channel::<(u32, oneshot::Sender<u32>)>(8);
//!     let _server = spawn(async move {
//!         while let Some((n, reply)) = inbox.recv().await {
//!             let _ = reply.send(n * n); // the caller may have given up
//!         }
//!     });
//!     let in_flight = Rc::new(Semaphore::new(2));
//!     let mut replies = Vec::new();
//!     for n in 1..=4 {
//!         let _permit = in_flight.acquire().await.unwrap();
//!         let (tx, rx) = oneshot::channel();
//!         requests.send((n, tx)).await.unwrap();
//!         replies.push(rx.await.unwrap());
//!     }
//!     replies
//! });
//! assert_eq!(replies, [1, 4, 9, 16]);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Coming from asyncio or tokio
//!
//! | asyncio | tokio | here |
//! |---|---|---|
//! | `asyncio.Queue(maxsize=n)` | `tokio::sync::mpsc::channel(n)` | [`mpsc::channel`] (`Sender`, `Receiver`) |
//! | `asyncio.Queue()` | `tokio::sync::mpsc::unbounded_channel()` | [`mpsc::unbounded_channel`] (`UnboundedSender`, the same `Receiver`) |
//! | `Queue.put` / `put_nowait` / `get` / `get_nowait` | `send` / `try_send` / `recv` / `try_recv` | the same names as tokio, plus `reserve`, `recv_many`, `close` |
//! | `loop.create_future()` as a result slot | `tokio::sync::oneshot` | [`oneshot::channel`] |
//! | — (one `Queue` per subscriber) | `tokio::sync::broadcast` | [`broadcast::channel`] (every receiver gets every message; lag reported) |
//! | — (an `Event` plus a shared value) | `tokio::sync::watch` | [`watch::channel`] (`send`, `send_modify`, `changed`, `wait_for`, `borrow`) |
//! | `asyncio.Event` (`set`, `clear`, `wait`, `is_set`) | — (`Notify` + a flag) | [`Event`] |
//! | `asyncio.Condition` (bare notify) | `tokio::sync::Notify` | [`Notify`] (`notify_one`, `notify_waiters`) |
//! | `asyncio.Semaphore` / `BoundedSemaphore` | `tokio::sync::Semaphore` | [`Semaphore`] (`acquire`, `acquire_many`, `try_acquire`, `*_owned`, `close`) |
//! | `asyncio.Lock` | `tokio::sync::Mutex` | [`Mutex`] (`lock`, `try_lock`) |
//! | — (a cached task) | `tokio::sync::OnceCell` | [`OnceCell`] (`get_or_init`, `get_or_try_init`, `set`, `get`) |
//! | `asyncio.Barrier` | `tokio::sync::Barrier` | [`Barrier`] (`wait`, `is_leader`) |
//! | — | `tokio::sync::RwLock` | [`RwLock`] (`read`, `write`, `try_*`, `downgrade`) |
//! | `asyncio.gather(*aws)` | `futures::future::join_all` | [`join_all`](crate::event_loop::future::join_all) |
//! | `asyncio.wait(…, return_when=FIRST_COMPLETED)` | `tokio::select!` (two branches) | [`select`](crate::event_loop::future::select) (an [`Either`](crate::event_loop::future::Either)), [`race`](crate::event_loop::future::race) |
//! | `asyncio.wait_for(aw, t)` | `tokio::time::timeout` | [`timeout`](crate::event_loop::timeout) |
//! | `asyncio.TaskGroup` | `tokio::task::JoinSet` | [`TaskGroup`](crate::event_loop::TaskGroup) |
//! | `loop.call_soon_threadsafe`, `janus` | `tokio::sync::mpsc` across threads | [`Remote::channel`](crate::event_loop::Remote::channel), [`Remote`](crate::event_loop::Remote) |
//!
//! Not provided (yet): `Queue.task_done`/`join` (await the consumers'
//! handles, or count with a [`Semaphore`]), `PriorityQueue`/`LifoQueue`,
//! tokio's `Mutex::lock_owned` (move the `Rc<Mutex<_>>` into the task and
//! lock there), `mpsc::WeakSender`, and `select!` over more than two
//! branches (nest [`select`](crate::event_loop::future::select)).
//!
//! # Why `!Send` and `!Sync`
//!
//! The loop runs every task on one thread, so a primitive shared only by
//! its tasks never sees two threads: a `Cell` is enough where tokio pays
//! for an atomic read-modify-write, and a `RefCell` where it takes a lock.
//! The compiler enforces it. The channels' handles hold an `Rc`, so they
//! are `!Send`; `Semaphore`, `Mutex`, `RwLock`, `Notify`, `Event`,
//! `Barrier` and `OnceCell` are `!Sync` (their `Cell`s): a whole one may
//! move to another thread while nobody borrows it, but it can never be
//! *shared* across threads; tasks share it by reference or in an `Rc`,
//! which keeps it on the loop's thread (the loop's tasks may be `!Send`).
//!
//! ```compile_fail
//! // A channel's sender cannot go to another thread...
//! let (tx, _rx) = triad::event_loop::sync::mpsc::unbounded_channel::<u8>();
//! std::thread::spawn(move || tx.send(1));
//! ```
//!
//! ```compile_fail
//! // ...and a semaphore cannot be shared with one.
//! let limit = triad::event_loop::sync::Semaphore::new(1);
//! std::thread::scope(|s| {
//!     s.spawn(|| limit.try_acquire().is_ok());
//! });
//! ```
//!
//! Only the
//! *wakers* they store are `Send + Sync`, as `std::task::Waker` requires;
//! the primitives only clone, compare and wake them, and a waker of a task
//! on this loop goes straight to the local run queue. They need nothing
//! else from the loop: any single-threaded executor can poll them (off
//! the loop, the cooperative budget is simply unconstrained).
//!
//! To talk to the loop from another thread, use
//! [`Remote::channel`](crate::event_loop::Remote::channel) (the
//! root-level [`Sender`](crate::event_loop::Sender) and
//! [`Receiver`](crate::event_loop::Receiver)) or
//! [`Remote::spawn`](crate::event_loop::Remote::spawn).
//!
//! # The rules every primitive keeps
//!
//! Each waits through one FIFO wait list (`wait_list.rs`): a waiter is
//! QUEUED, then GRANTED (what it waited for is moved into its slot before it
//! runs) or RELEASED (woken with nothing: closed). Each module's docs draw
//! its waiter's states and number its rules; in short:
//!
//! 1. **The other side gone is a typed error, never a hang:** a receiver
//!    sees the end once every sender is dropped; a send to a dropped or
//!    closed receiver hands the value back in a [`SendError`]; a oneshot
//!    receiver whose sender is dropped (or that closed itself before a
//!    send) gets a [`RecvError`]; an acquire on a closed semaphore gets an
//!    [`AcquireError`].
//! 2. **FIFO and fair:** waiters are served in arrival order, a newcomer
//!    (even a `try_*`) never overtakes a queued waiter, and a big
//!    `acquire_many` is not starved by small requests behind it.
//! 3. **Cancellation-safe:** a waiting future that is dropped leaves the
//!    list; a permit, slot or notification it had been handed is passed on
//!    to the next waiter, never lost.
//! 4. **No borrow spans foreign code:** wakes, and the drops of values and
//!    wakers, happen after every `RefCell` borrow ends.
//! 5. **Cooperative:** each completed operation spends one unit of the
//!    task's budget, so a task that never waits still yields.
//!
//! | file | protocol |
//! |---|---|
//! | `wait_list.rs` | FIFO of waiters, QUEUED → GRANTED / RELEASED, only the future frees |
//! | `mpsc/` | bounded, rendezvous (capacity 0) and unbounded channels: slots, hand-off to waiting senders, end of stream |
//! | `oneshot.rs` | one value, once; either side gone is an error |
//! | `broadcast.rs` | a ring of the last `capacity` (at least 1) messages, a position per receiver, lag reported |
//! | `watch.rs` | the latest value and a version; every receiver woken per send |
//! | `notify.rs` | one stored permit, FIFO `notify_one`, broadcast by count |
//! | `event.rs` | level-triggered flag, a set reaches every waiter |
//! | `semaphore.rs` | permits, no barging, whole hand-off to the front waiter |
//! | `mutex.rs` | a one-permit semaphore guarding a `RefCell` |
//! | `once_cell.rs` | one initializer at a time (a one-permit semaphore), closed once set |
//! | `barrier.rs` | rounds of `n` arrivals, one leader each; a dropped wait leaves its round |
//! | `rwlock.rs` | readers take one permit, a writer all of them; FIFO between them |

mod barrier;
pub mod broadcast;
mod error;
mod event;
pub mod mpsc;
mod mutex;
mod notify;
mod once_cell;
pub mod oneshot;
mod rwlock;
mod semaphore;
mod wait_list;
pub mod watch;

pub use barrier::{Barrier, BarrierWait, BarrierWaitResult};
pub use error::{
    AcquireError, RecvError, SendError, SetError, TryAcquireError, TryLockError, TryRecvError,
    TrySendError,
};
pub use event::{Event, EventWait};
pub use mutex::{Lock, Mutex, MutexGuard};
pub use notify::{Notified, Notify};
pub use once_cell::OnceCell;
pub use rwlock::{Read, RwLock, RwLockReadGuard, RwLockWriteGuard, Write};
pub use semaphore::{Acquire, AcquireOwned, OwnedSemaphorePermit, Semaphore, SemaphorePermit};

/// Store `waker` in `slot` (a single waiter's waker) unless the one there
/// already wakes the same task. The replaced waker is dropped after the slot
/// is set again: its drop is foreign code, and may reach the slot's owner.
fn store_waker(slot: &std::cell::Cell<Option<std::task::Waker>>, waker: &std::task::Waker) {
    let old = slot.take();
    match old {
        Some(old) if old.will_wake(waker) => slot.set(Some(old)),
        old => {
            slot.set(Some(waker.clone()));
            drop(old);
        }
    }
}
