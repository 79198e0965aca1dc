//! Model of `src/event_loop/remote.rs` (with the loop side of
//! `src/event_loop/executor.rs`'s `Scheduler`): wakes and spawns from other
//! threads racing the loop's park, and the loop's teardown.
//!
//! The loop here is `Core::turn` without epoll and timers: run a batch,
//! and when idle `Shared::park`, sleeping on a parker that stands in for the
//! eventfd (a token, like an eventfd's counter: a write before the sleep
//! makes the sleep return at once).
//!
//! Seen to fail (each break made in a scratch copy, never here):
//! - P1 after P2 (`Shared::park` looks at the inbox, then publishes PARKED)
//!   → `remote_spawn_racing_park_is_never_lost`,
//!   `wake_from_another_thread_reaches_a_parking_loop`,
//!   `two_pushers_write_the_fd_at_most_once_per_park` (and the task model's
//!   `wake_racing_poll_is_never_lost_nor_doubled`): "deadlock; threads =
//!   [(Id(0), Blocked(..)), (Id(1), Terminated)]" (the pusher read AWAKE and
//!   skipped the write; the loop slept on an inbox holding an item).
//! - `notify` writing the fd on every push (the PARKED check dropped) →
//!   the same three models: "2 fd writes for 1 parks", "1 fd writes for 0
//!   parks" (rule 2).
//! - `push` not refusing a closed inbox → `teardown_racing_wake_and_spawn`:
//!   "remote future dropped 0 times" (the new task sits in the inbox of a
//!   dead loop, never cancelled, never freed: its `Arc<Shared>` keeps the
//!   inbox, and so itself, alive).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::event_loop::executor::Scheduler;
use crate::event_loop::remote::{Remote, Unpark};
use crate::sync::atomic::{AtomicUsize, Ordering::*};
use crate::sync::parker::Parker;
use crate::sync::{lock, Arc, Mutex};
use loom::thread;

/// The eventfd of the loop, as a parker, counting its writes.
pub(super) struct FakeFd {
    parker: Parker,
    writes: AtomicUsize,
}

struct FdUnpark(Arc<FakeFd>);

impl Unpark for FdUnpark {
    fn unpark(&self) {
        self.0.writes.fetch_add(1, Relaxed);
        self.0.parker.unpark();
    }
}

/// A scheduler whose poller is a `FakeFd`.
pub(super) fn scheduler() -> (Scheduler, Arc<FakeFd>) {
    let fd = Arc::new(FakeFd {
        parker: Parker::new(),
        writes: AtomicUsize::new(0),
    });
    (Scheduler::new(Box::new(FdUnpark(fd.clone()))), fd)
}

/// `Core::turn` without epoll and timers, until `done`; returns the number
/// of parks (P1s). Sleeping on the parker stands for `epoll_wait`.
pub(super) fn run_until(sched: &Scheduler, fd: &FakeFd, done: impl Fn() -> bool) -> usize {
    let mut parks = 0;
    loop {
        sched.run_batch();
        if done() {
            return parks;
        }
        if sched.is_idle() {
            parks += 1;
            sched.shared.park(|may_sleep| {
                if may_sleep {
                    fd.parker.park();
                }
            });
        }
    }
}

/// Rule 2, checked at the end of a model.
fn assert_coalesced(fd: &FakeFd, parks: usize) {
    let writes = fd.writes.load(Relaxed);
    assert!(writes <= parks, "{writes} fd writes for {parks} parks");
}

/// A future that completes once another thread raised its count to
/// `need`, waking it through whatever waker it registered last.
pub(super) struct Flagged {
    pub(super) slot: Arc<Mutex<(u32, Option<Waker>)>>,
    pub(super) need: u32,
}

impl Future for Flagged {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut slot = lock(&self.slot);
        if slot.0 >= self.need {
            Poll::Ready(())
        } else {
            slot.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Raise the count and wake whoever waits.
pub(super) fn raise(slot: &Mutex<(u32, Option<Waker>)>) {
    let waker = {
        let mut slot = lock(slot);
        slot.0 += 1;
        slot.1.take()
    };
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Counts drops, to check that each future and output is dropped once.
pub(super) struct DropCount(pub(super) Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Relaxed);
    }
}

/// A `Remote::spawn` racing the loop going to sleep: the task runs (rule 1),
/// and the fd is written at most once per park (rule 2).
#[test]
fn remote_spawn_racing_park_is_never_lost() {
    super::model(|| {
        let (sched, fd) = scheduler();
        let remote = Remote::new(sched.shared.clone());
        let ran = Arc::new(AtomicUsize::new(0));
        let pusher = thread::spawn({
            let ran = ran.clone();
            move || {
                let handle = remote
                    .spawn(async move {
                        ran.fetch_add(1, Relaxed);
                    })
                    .unwrap();
                drop(handle); // detach
            }
        });
        let parks = run_until(&sched, &fd, || ran.load(Relaxed) == 1);
        pusher.join().unwrap();
        assert_coalesced(&fd, parks);
        sched.shutdown();
    });
}

/// A task of the loop woken by another thread (`Item::Wake`) while the loop
/// is going to sleep.
#[test]
fn wake_from_another_thread_reaches_a_parking_loop() {
    super::model(|| {
        let (sched, fd) = scheduler();
        let slot = Arc::new(Mutex::new((0, None)));
        let task = sched.spawn(Flagged {
            slot: slot.clone(),
            need: 1,
        });
        let waker = thread::spawn(move || raise(&slot));
        let parks = run_until(&sched, &fd, || task.is_finished());
        waker.join().unwrap();
        assert_coalesced(&fd, parks);
        drop(task);
        sched.shutdown();
    });
}

/// Two pushers, one park: the two items coalesce into at most one write.
#[test]
fn two_pushers_write_the_fd_at_most_once_per_park() {
    super::model(|| {
        let (sched, fd) = scheduler();
        let ran = Arc::new(AtomicUsize::new(0));
        let pushers: Vec<_> = (0..2)
            .map(|_| {
                let remote = Remote::new(sched.shared.clone());
                let ran = ran.clone();
                thread::spawn(move || {
                    let _ = remote.run(move || {
                        ran.fetch_add(1, Relaxed);
                    });
                })
            })
            .collect();
        let parks = run_until(&sched, &fd, || ran.load(Relaxed) == 2);
        for p in pushers {
            p.join().unwrap();
        }
        assert_coalesced(&fd, parks);
        sched.shutdown();
    });
}

/// The loop is dropped while another thread wakes one of its tasks and
/// spawns a new one (rules 3, 4): every future is dropped exactly once,
/// every task block is freed, and the spawn either was refused or reports
/// cancellation.
#[test]
fn teardown_racing_wake_and_spawn() {
    super::model(|| {
        let (sched, _fd) = scheduler();
        let local_drops = Arc::new(AtomicUsize::new(0));
        let remote_drops = Arc::new(AtomicUsize::new(0));
        let slot = Arc::new(Mutex::new((0, None)));
        let local = sched.spawn({
            let guard = DropCount(local_drops.clone());
            let flagged = Flagged {
                slot: slot.clone(),
                need: 1,
            };
            async move {
                let _guard = guard;
                flagged.await;
            }
        });
        sched.run_batch(); // the task runs and registers its waker
        let remote = Remote::new(sched.shared.clone());
        let other = thread::spawn({
            let remote_drops = remote_drops.clone();
            move || {
                raise(&slot);
                let guard = DropCount(remote_drops);
                remote.spawn(async move {
                    let _guard = guard;
                })
            }
        });
        sched.shutdown();
        let spawned = other.join().unwrap();
        assert_eq!(local_drops.load(Relaxed), 1, "local future drops");
        let n = remote_drops.load(Relaxed);
        assert_eq!(n, 1, "remote future dropped {n} times");
        assert!(local.is_finished());
        match spawned {
            Ok(handle) => assert!(handle.is_finished()),
            Err(e) => assert!(e.is_closed()),
        }
        drop(local);
        let refs = Arc::strong_count(&sched.shared);
        assert_eq!(
            refs, 1,
            "a task is never freed: {refs} references to Shared remain"
        );
    });
}
