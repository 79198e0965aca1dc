//! Wakers: how a wake finds its way back to the loop.
//!
//! A task's [`Waker`] is a pointer to its header and one reference
//! (`task.rs`, rule 5). Waking it sets SCHEDULED (task rule 1); if that asks
//! for a queue entry, [`schedule`] puts the entry where the loop will find
//! it:
//!
//! ```text
//!   wake ──► transition_to_notified ──Submit──► on the task's loop thread,
//!                                                inside that loop?
//!                                  ├─ yes ─► local run queue (no atomics
//!                                  │         beyond the state word, no lock)
//!                                  └─ no ──► remote queue (remote.rs): lock,
//!                                            push, write the poller's wake-up
//!                                            fd only if the loop is parked
//! ```
//!
//! Wakers are `Send + Sync`, as `std::task::Waker` requires: nothing in a
//! waker depends on the thread it is used on. "Inside that loop" is asked of
//! the thread-local pointer to the running loop (executor.rs), compared with
//! the task's `Shared`.
//!
//! The reactor tells a waker of ours from a foreign one by its vtable
//! ([`is_finished_task`], reactor rule 7), and only reads its task's state
//! word, an atomic.
//!
//! `block_on`'s own future is not a task: its waker is the loop's
//! `Shared` (an `Arc`) and sets the loop's "main woken" flag, locally or
//! through the remote queue.

use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::executor;
use super::remote::{Item, Shared};
use super::task::{self, Header, Notify, TaskRef};
use crate::sync::Arc;

static TASK_VTABLE: RawWakerVTable =
    RawWakerVTable::new(task_clone, task_wake, task_wake_by_ref, task_drop);

/// A waker for the task `ptr` that owns one reference.
///
/// # Safety
///
/// `ptr` is a live task; the waker takes over one reference (or, inside
/// `ManuallyDrop`, borrows one the caller holds for the waker's lifetime).
pub(crate) unsafe fn task_waker(ptr: NonNull<Header>) -> Waker {
    // SAFETY: the vtable's functions uphold the `RawWaker` contract for a
    // pointer to a live task with a reference (caller).
    unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr() as *const (), &TASK_VTABLE)) }
}

unsafe fn task_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is the header of a live task (the waker we clone holds
    // a reference).
    let header = unsafe { &*(data as *const Header) };
    header.state.ref_inc();
    RawWaker::new(data, &TASK_VTABLE)
}

unsafe fn task_wake(data: *const ()) {
    // SAFETY: the waker's reference is alive until the drop below.
    unsafe {
        task_wake_by_ref(data);
        task_drop(data);
    }
}

unsafe fn task_wake_by_ref(data: *const ()) {
    // SAFETY: a live task (the waker holds a reference).
    let header = unsafe { &*(data as *const Header) };
    if header.state.transition_to_notified() == Notify::Submit {
        // SAFETY: the transition added the entry's reference (task rule 1),
        // and `schedule` gets the entry it made; `data` is non-null, it
        // came from a `NonNull`.
        unsafe {
            schedule(TaskRef::from_raw(NonNull::new_unchecked(
                data as *mut Header,
            )))
        };
    }
}

unsafe fn task_drop(data: *const ()) {
    // SAFETY: the waker's own reference; `data` is non-null.
    unsafe { task::drop_ref(NonNull::new_unchecked(data as *mut Header)) }
}

/// True if `waker` is a task waker of an event loop (not a foreign one)
/// and its task is COMPLETE (reactor.rs rule 7). COMPLETE is final (task.rs
/// state table), so a true answer stays true, whichever thread the task's
/// loop runs on.
pub(crate) fn is_finished_task(waker: &Waker) -> bool {
    std::ptr::eq(waker.vtable(), &TASK_VTABLE)
        // SAFETY: only `task_waker` and `task_clone` make a waker with
        // `TASK_VTABLE`, and their data is a task's header; the waker holds
        // one of the task's references (this module's docs, task rule 5),
        // so the block is alive while we look. Only `state`, an atomic, is
        // read, as `task_wake_by_ref` does from any thread (wakers are
        // `Send + Sync`, module docs); the header's cells are not touched.
        && unsafe { &*(waker.data() as *const Header) }
            .state
            .load()
            .is_complete()
}

/// Put a run-queue entry where its loop will find it.
///
/// # Safety
///
/// `task` is the entry that a wake or an abort just made (task.rs rules 1,
/// 7).
pub(crate) unsafe fn schedule(task: TaskRef) {
    let Err(task) = executor::schedule_local(task) else {
        return;
    };
    crate::tracepoint::remote_wake(std::ptr::from_ref(task.header()).cast());
    // SAFETY: `task` is an entry a wake or an abort made (task.rs rule 7).
    let shared = unsafe { task.shared() };
    // A closed queue hands the entry back: the loop is gone (or going), and
    // its shutdown cancels the task, so dropping the entry is all there is.
    let _ = shared.push(Item::Wake(task));
}

static MAIN_VTABLE: RawWakerVTable =
    RawWakerVTable::new(main_clone, main_wake, main_wake_by_ref, main_drop);

/// The waker of `block_on`'s future: an `Arc<Shared>`.
pub(crate) fn main_waker(shared: &Arc<Shared>) -> Waker {
    let data = Arc::into_raw(shared.clone()) as *const ();
    // SAFETY: `data` owns one strong count of an `Arc<Shared>`, which is what
    // the vtable's functions expect.
    unsafe { Waker::from_raw(RawWaker::new(data, &MAIN_VTABLE)) }
}

unsafe fn main_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` came from `Arc::into_raw` and the waker holds a count.
    unsafe { Arc::increment_strong_count(data as *const Shared) };
    RawWaker::new(data, &MAIN_VTABLE)
}

unsafe fn main_wake(data: *const ()) {
    // SAFETY: the waker's count is alive until the drop.
    unsafe {
        main_wake_by_ref(data);
        main_drop(data);
    }
}

unsafe fn main_wake_by_ref(data: *const ()) {
    // SAFETY: alive: the waker holds a count.
    let shared = unsafe { &*(data as *const Shared) };
    if !executor::wake_main_local(shared) {
        shared.wake_main();
    }
}

unsafe fn main_drop(data: *const ()) {
    // SAFETY: the waker's own count, from `Arc::into_raw`.
    drop(unsafe { Arc::from_raw(data as *const Shared) });
}
