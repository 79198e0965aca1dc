//! A single-threaded async event loop: tasks, timers and sockets on one
//! thread, over mio.
//!
//! For work that mostly *waits*: thousands of connections, timers and
//! messages interleaved on one thread, without locks around your data (tasks
//! may be `!Send` and share `Rc<RefCell<_>>`). CPU-heavy work belongs on a
//! thread pool; the loop must never block.
//!
//! ```
//! use std::time::Duration;
//! use triad::event_loop::{sleep, spawn, EventLoop};
//!
//! let ev = EventLoop::new()?;
//! let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
//! ev.block_on({
//!     let log = log.clone();
//!     async move {
//!         let slow = spawn({
//!             let log = log.clone();
//!             async move {
//!                 sleep(Duration::from_millis(2)).await;
//!                 log.borrow_mut().push("slow");
//!             }
//!         });
//!         log.borrow_mut().push("fast");
//!         slow.await.unwrap();
//!     }
//! });
//! assert_eq!(*log.borrow(), ["fast", "slow"]);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # One turn of the loop
//!
//! ```text
//!         other threads                         the loop's thread
//!   Remote::spawn / run, Waker::wake ──► inbox (mutex) ──┐
//!                      │ only if the loop is parked:     │ drained every 31
//!                      └──► eventfd write ──┐            ▼ task polls and per turn
//!                                           │   ┌──► local run queue ──► poll task
//!                                           │   │    (local wakes go      (budget:
//!   sockets ─► epoll (edge-triggered) ◄─────┘   │     straight here)      128 ops)
//!   timerfd ─►   │  sleeps only when the queue  │
//!   (earliest    │  and inbox are empty         │
//!    deadline)   │                              │
//!   signal pipe ►│  (a handler wrote a byte)    │
//!                ▼                              │
//!          dispatch events: readiness + tick ───┤ wake the waiting tasks
//!          signals: drain the pipe ─────────────┤ wake the listeners
//!          fire due timers (never early) ───────┘
//! ```
//!
//! # The protocols, by file
//!
//! | file | protocol | loom model |
//! |---|---|---|
//! | `task.rs` | one-allocation task, state word, `JoinHandle` hand-off | `loom-tests/event_loop_task.rs` |
//! | `remote.rs` | cross-thread inbox, coalesced wake-up of the poller, teardown | `loom-tests/event_loop_remote.rs` |
//! | `channel.rs` | channel into the loop: batch drain, one wake per wait, end of stream | `loom-tests/event_loop_channel.rs` |
//! | `waker.rs` | local vs remote wake | (both models) |
//! | `executor.rs` | the turn, fairness cadence, shutdown | |
//! | `reactor.rs` | token = slab index + generation, readiness + tick | |
//! | `timer.rs` | heap with lazy cancel, timerfd at the earliest deadline | |
//! | `borrow.rs` | borrows of the loop's own `RefCell`s, one panic location for all | |
//! | `budget.rs` | cooperative budget and its fairness guarantee | |
//! | `group.rs` | task group: all succeed, or the first failure cancels the rest | |
//! | `registration.rs` | drain to `WouldBlock`, clear with the tick | |
//! | `signal.rs` (+ `sys/signal.rs`) | signals as events: handler → per-loop self-pipe, a listener follows the loop that polls it, disposition restored | |
//! | `sync/` | primitives between the loop's tasks (`mpsc`, `oneshot`, `Notify`, `Event`, `Semaphore`, `Mutex`): one FIFO wait list, grants moved into the waiter's slot, cancellation passes them on | (loop-thread-only) |
//! | `future/` | `select` / `race` / `join_all` | |
//!
//! Everything but the inbox, the task state word and the channel is
//! loop-thread-only and uses plain `Cell`/`RefCell` (the [`sync`]
//! primitives included: they are `!Send` or `!Sync`); the shared protocols
//! take their atomics, locks and cells from the crate's `sync` shim, so the
//! loom models run the real code.

mod async_fd;
mod borrow;
mod budget;
mod channel;
mod error;
pub(crate) mod executor;
pub mod future;
mod group;
pub mod net;
mod reactor;
mod registration;
pub(crate) mod remote;
pub mod signal;
pub mod sync;
pub(crate) mod task;
#[cfg(all(test, not(loom)))]
mod tests;
mod timer;
pub(crate) mod waker;

pub use async_fd::{AsyncFd, ReadyGuard};
pub use channel::{Receiver, Sender};
pub use error::{
    AcceptError, AsyncFdError, Elapsed, GroupError, JoinError, RemoteError, SendError, TryIoError,
    TryRecvError,
};
pub use executor::{spawn, yield_now, EventLoop};
pub use group::TaskGroup;
pub use remote::Remote;
pub use task::JoinHandle;
pub use timer::{interval, sleep, sleep_until, timeout, timeout_at, Interval, Sleep, Timeout};
