//! One task, one allocation: a header, the future and its output in a
//! single heap block, driven by one atomic state word.
//!
//! ```text
//!   Cell<F>  (#[repr(C)], header first, so a *Header is a *Cell<F>)
//!   ┌──────────────────────────────────────────────────────────────┐
//!   │ Header  state: AtomicUsize      the word below               │
//!   │         vtable: &'static        poll / drop / output fns     │
//!   │         shared: *Shared         the loop's remote queue      │
//!   │         owned_index             slot in the loop's idle list │
//!   │         join_waker              who awaits the JoinHandle    │
//!   ├──────────────────────────────────────────────────────────────┤
//!   │ stage   Running(F) | Finished(Result<F::Output, JoinError>)  │
//!   │         | Consumed                                           │
//!   └──────────────────────────────────────────────────────────────┘
//! ```
//!
//! The state word:
//!
//! ```text
//!   bit  name           set by → cleared by
//!   0    RUNNING        loop, before a poll → loop, after it
//!   1    SCHEDULED      a wake (any thread) → loop, when it starts the poll
//!                       (in a run queue, or due back there after this poll)
//!   2    COMPLETE       loop, when the future is gone → never (final)
//!   3    CANCELLED      abort (any thread) → never
//!   4    JOIN_INTEREST  spawn → JoinHandle drop
//!   5    JOIN_WAKER     JoinHandle, after writing `join_waker` → JoinHandle
//!                       (to replace the waker), never after COMPLETE
//!   6    SHARED_REF     loop shutdown, cancelling the task → never (rule 7)
//!   7..  reference count (REF_ONE = 1 << 7)
//! ```
//!
//! Transitions (each one compare-and-swap loop in [`State`]):
//!
//! ```text
//!   idle ──wake──► SCHEDULED ──run──► RUNNING ──Pending──► idle
//!                     ▲                  │  └──woken meanwhile──► SCHEDULED
//!                     │                  └──Ready / panic / CANCELLED──► COMPLETE
//!   abort: CANCELLED + (idle ? SCHEDULED : as is); the next run cancels
//! ```
//!
//! References: one for the run-queue entry while SCHEDULED, one for the
//! `JoinHandle`, one per `Waker`, and one for the loop's list of owned
//! tasks (`OwnedTasks`) once the task has been idle (rule 8). The last one
//! out frees the block.
//!
//! Rules:
//!
//! 1. **One queue entry.** Only the transition that sets SCHEDULED on an idle
//!    task (not RUNNING, not COMPLETE) creates a run-queue entry, and it adds
//!    the entry's reference in the same CAS. A wake of a SCHEDULED or
//!    COMPLETE task does nothing; a wake while RUNNING only sets SCHEDULED
//!    and the poll that is running re-queues the task with its own entry.
//!    So a task is in at most one queue, at most once.
//! 2. **The future lives on the loop.** Only the loop thread touches
//!    `stage` while it holds `Running(F)`: it polls and drops `F` (on
//!    completion, on abort, on shutdown). `F` may be `!Send`. Every path that
//!    drops `F` first sets RUNNING (or holds it), and the loop releases its
//!    owned reference only after `F` is dropped, so the last reference can
//!    never be dropped while `F` is alive: a `Waker` or `JoinHandle` on
//!    another thread never frees a live `F`. (The one exception is a task of
//!    `Remote::spawn` that never reached its loop: there `F: Send`. A task
//!    spawned outside any loop never gets a block: its future is dropped by
//!    the spawner, and its handle points at a bare finished header,
//!    [`outside_loop`].)
//! 3. **One outcome.** The loop writes `Finished(output)` *before* the
//!    AcqRel CAS that sets COMPLETE. If JOIN_INTEREST was clear in that CAS
//!    the loop drops the output itself; otherwise it belongs to the
//!    `JoinHandle`, which reads it (or drops it, on drop) only after an
//!    Acquire load saw COMPLETE. `JoinHandle` drop clears JOIN_INTEREST by
//!    CAS only while not COMPLETE. Exactly one side drops the output.
//! 4. **The join waker.** While JOIN_WAKER is clear and the task not
//!    COMPLETE, the `JoinHandle` alone may write `join_waker`; it then sets
//!    JOIN_WAKER with a Release CAS (failing if COMPLETE). While JOIN_WAKER
//!    is set the slot is read-only for everybody; the loop wakes it once
//!    when the completing CAS saw JOIN_WAKER. To replace it the handle first
//!    clears JOIN_WAKER by CAS, which fails once COMPLETE. The handle's
//!    drop empties the slot once its CAS has cleared JOIN_INTEREST before
//!    COMPLETE (the loop reads the slot only if its completing CAS saw
//!    JOIN_INTEREST): a waker left there would keep the task that polled
//!    the handle alive for as long as this one runs.
//! 5. **References.** Increments are Relaxed (the incrementer already holds
//!    one). Decrements are AcqRel: the last one out must see every write the
//!    others made to the block before it frees it. The CAS that sets
//!    COMPLETE (AcqRel too) also gives up the loop's references to the task
//!    (the owned list's, and the queue entry's on a run): all of them when
//!    it saw JOIN_INTEREST without JOIN_WAKER, for the loop then has nothing
//!    left to do with the block, and the handle's reference keeps it alive;
//!    otherwise all but one, which the loop gives up after it has dropped
//!    the output (rule 3) or woken the join waker (rule 4). So completing a
//!    task whose handle waits for it costs one atomic operation, not three.
//! 6. **Abort** sets CANCELLED and, on an idle task, SCHEDULED with a new
//!    entry (rule 1): the loop then drops the future instead of polling it.
//!    An abort after COMPLETE does nothing, so the outcome stays whatever
//!    completed first.
//!
//! 7. **The loop's `Shared`.** `shared` is a borrowed pointer, not an
//!    `Arc` (two atomic operations per task saved). It is used (compared
//!    with the running loop's, or followed to the remote queue) only after
//!    a wake or an abort made the task SCHEDULED with a new entry (rule 1),
//!    so before it is COMPLETE, and the task can then complete only by the
//!    loop's shutdown: a poll needs that entry, still in the waker's hands.
//!    The loop's own `Arc` keeps `Shared` alive until its shutdown has
//!    completed every task it owns (executor.rs rule 4), and the shutdown
//!    gives each task it cancels a strong count of its own (SHARED_REF, set
//!    in the CAS that claims the task, the count added before the loop's is
//!    gone), released by whoever frees the block: so a wake that made such a
//!    task SCHEDULED just before, still on its way to the remote queue,
//!    finds `Shared` alive. A task made by `Remote::spawn` is reached by no
//!    wake before its loop adopts it (it is born SCHEDULED), and the
//!    `Remote` keeps `Shared` alive until then.
//!
//! 8. **Listed when idle.** A task the loop owns is reachable by its
//!    shutdown (executor.rs rule 4) from its run queue or from the owned
//!    list: a new task is only queued (the entry is its only reference on
//!    the loop's side), and only when a poll leaves it idle for the first
//!    time does that entry's reference become the owned list's, with
//!    `owned_index` set. A task that completes at its first poll never
//!    enters the list. A listed task stays there until it completes; its
//!    later queue entries are references of their own.
//!
//! Loom model: `loom-tests/event_loop_task.rs` (wakes racing a poll, a
//! `JoinHandle` polled, dropped and aborted on another thread racing
//! completion; one deallocation, one outcome).

use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::error::JoinError;
use super::remote::Shared;
use super::{budget, waker};
use crate::sync::atomic::{AtomicUsize, Ordering::*};
use crate::sync::cell::UnsafeCell;
use crate::sync::Arc;

const RUNNING: usize = 1 << 0; // --> idle (Pending), COMPLETE
const SCHEDULED: usize = 1 << 1; // --> RUNNING (loop takes the entry)
const COMPLETE: usize = 1 << 2; // final
const CANCELLED: usize = 1 << 3; // sticky; the next run cancels
const JOIN_INTEREST: usize = 1 << 4; // --> cleared by JoinHandle drop
const JOIN_WAKER: usize = 1 << 5; // --> cleared by JoinHandle (rule 4)
const SHARED_REF: usize = 1 << 6; // final; the block owns a count (rule 7)
const REF_SHIFT: usize = 7;
const REF_ONE: usize = 1 << REF_SHIFT;

/// A new task holds two references: the run queue's (it starts SCHEDULED)
/// and the `JoinHandle`'s (rule 8).
const INITIAL: usize = (2 * REF_ONE) | SCHEDULED | JOIN_INTEREST;

/// A copy of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    fn has(self, bit: usize) -> bool {
        self.0 & bit != 0
    }
    fn refs(self) -> usize {
        self.0 >> REF_SHIFT
    }
    pub(crate) fn is_complete(self) -> bool {
        self.has(COMPLETE)
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = [
            (RUNNING, "RUNNING"),
            (SCHEDULED, "SCHEDULED"),
            (COMPLETE, "COMPLETE"),
            (CANCELLED, "CANCELLED"),
            (JOIN_INTEREST, "JOIN_INTEREST"),
            (JOIN_WAKER, "JOIN_WAKER"),
            (SHARED_REF, "SHARED_REF"),
        ];
        write!(f, "Snapshot(refs={}", self.refs())?;
        for (bit, name) in names {
            if self.has(bit) {
                write!(f, " {name}")?;
            }
        }
        write!(f, ")")
    }
}

/// What a wake (or an abort) asks of its caller.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Notify {
    /// The task went idle → SCHEDULED and a reference was added for the
    /// queue entry: the caller must submit it (rule 1).
    Submit,
    /// Nothing to submit (already queued, running, or complete).
    Nothing,
}

/// What the loop does with a task it took from a queue.
#[must_use]
enum ToRunning {
    Poll,
    Cancel,
    /// Already complete (cancelled by shutdown while queued): drop the entry.
    Complete,
}

/// After a `Pending` poll.
#[must_use]
enum ToIdle {
    /// Idle: the entry's reference is released.
    Idle,
    /// Woken during the poll (rule 1): the entry goes back to the queue.
    Reschedule,
}

/// The atomic state word of a task.
pub(crate) struct State(AtomicUsize);

impl State {
    fn new() -> Self {
        State(AtomicUsize::new(INITIAL))
    }

    pub(crate) fn load(&self) -> Snapshot {
        // Acquire: pairs with the AcqRel transitions, so that a COMPLETE
        // seen here carries the output written before it (rule 3).
        Snapshot(self.0.load(Acquire))
    }

    /// Run `f` on the current value until its proposed change sticks (or it
    /// proposes none). AcqRel on success: Release publishes what the caller
    /// wrote before the transition (output, join waker, data before a wake),
    /// Acquire makes the other side's publications visible to it.
    fn transition<A>(&self, mut f: impl FnMut(Snapshot) -> (A, Option<usize>)) -> A {
        let mut current = self.0.load(Acquire);
        loop {
            let (action, next) = f(Snapshot(current));
            let Some(next) = next else {
                return action;
            };
            match self.0.compare_exchange(current, next, AcqRel, Acquire) {
                Ok(_) => return action,
                Err(actual) => current = actual,
            }
        }
    }

    /// A wake (rule 1).
    pub(crate) fn transition_to_notified(&self) -> Notify {
        self.transition(|s| {
            if s.has(COMPLETE) || s.has(SCHEDULED) {
                (Notify::Nothing, None)
            } else if s.has(RUNNING) {
                (Notify::Nothing, Some(s.0 | SCHEDULED))
            } else {
                (Notify::Submit, Some((s.0 | SCHEDULED) + REF_ONE))
            }
        })
    }

    /// An abort (rule 6).
    pub(crate) fn transition_to_cancelled(&self) -> Notify {
        self.transition(|s| {
            if s.has(COMPLETE) || s.has(CANCELLED) {
                (Notify::Nothing, None)
            } else if s.has(RUNNING) || s.has(SCHEDULED) {
                (Notify::Nothing, Some(s.0 | CANCELLED | SCHEDULED))
            } else {
                (
                    Notify::Submit,
                    Some((s.0 | CANCELLED | SCHEDULED) + REF_ONE),
                )
            }
        })
    }

    /// The loop takes the queue entry and starts a poll.
    fn transition_to_running(&self) -> ToRunning {
        self.transition(|s| {
            if s.has(COMPLETE) {
                return (ToRunning::Complete, None);
            }
            debug_assert!(s.has(SCHEDULED) && !s.has(RUNNING), "{s:?}");
            let next = (s.0 & !SCHEDULED) | RUNNING;
            if s.has(CANCELLED) {
                (ToRunning::Cancel, Some(next))
            } else {
                (ToRunning::Poll, Some(next))
            }
        })
    }

    /// The poll returned `Pending`.
    fn transition_to_idle(&self) -> ToIdle {
        self.transition(|s| {
            debug_assert!(s.has(RUNNING) && !s.has(COMPLETE), "{s:?}");
            let next = s.0 & !RUNNING;
            if s.has(SCHEDULED) {
                (ToIdle::Reschedule, Some(next))
            } else {
                (ToIdle::Idle, Some(next))
            }
        })
    }

    /// The future is gone and `stage` holds the outcome (rule 3). The
    /// caller holds `held` references (the queue entry's on a run, the
    /// owned list's if the task is listed) and gives them up in the same CAS: all of
    /// them if the loop has nothing left to do ([`hands_off`]), else all
    /// but one (rule 5). Returns the state before.
    fn transition_to_complete(&self, held: usize) -> Snapshot {
        self.transition(|s| {
            debug_assert!(s.has(RUNNING) && !s.has(COMPLETE), "{s:?}");
            debug_assert!(s.refs() >= held, "{s:?}");
            let released = held - usize::from(!hands_off(s));
            let next = (s.0 & !(RUNNING | SCHEDULED)) | COMPLETE;
            (s, Some(next - released * REF_ONE))
        })
    }

    /// Shutdown claims an idle task to drop its future, and the block
    /// takes a count of `Shared` (rule 7): false if complete.
    fn transition_to_shutdown(&self) -> bool {
        self.transition(|s| {
            if s.has(COMPLETE) {
                (false, None)
            } else {
                debug_assert!(!s.has(RUNNING), "{s:?}");
                (true, Some(s.0 | RUNNING | CANCELLED | SHARED_REF))
            }
        })
    }

    /// `JoinHandle` drop: `Err` if the task is complete (the handle then
    /// owns the output, rule 3). `Ok`: the loop will not read the join
    /// waker's slot (rule 4), which is the handle's again, to empty.
    fn unset_join_interest(&self) -> Result<(), Snapshot> {
        self.transition(|s| {
            debug_assert!(s.has(JOIN_INTEREST), "{s:?}");
            if s.has(COMPLETE) {
                (Err(s), None)
            } else {
                (Ok(()), Some(s.0 & !JOIN_INTEREST))
            }
        })
    }

    /// Publish a freshly written join waker (rule 4); `Err` if complete.
    fn set_join_waker(&self) -> Result<(), Snapshot> {
        self.transition(|s| {
            debug_assert!(s.has(JOIN_INTEREST) && !s.has(JOIN_WAKER), "{s:?}");
            if s.has(COMPLETE) {
                (Err(s), None)
            } else {
                (Ok(()), Some(s.0 | JOIN_WAKER))
            }
        })
    }

    /// Take the join waker back for rewriting (rule 4); `Err` if complete.
    fn unset_join_waker(&self) -> Result<(), Snapshot> {
        self.transition(|s| {
            debug_assert!(s.has(JOIN_INTEREST) && s.has(JOIN_WAKER), "{s:?}");
            if s.has(COMPLETE) {
                (Err(s), None)
            } else {
                (Ok(()), Some(s.0 & !JOIN_WAKER))
            }
        })
    }

    /// Rule 5: Relaxed, as `Arc::clone` (the caller already holds one).
    pub(crate) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Relaxed);
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Rule 5: the state before (one reference: that was the last).
    fn ref_dec(&self) -> Snapshot {
        // AcqRel: Release hands this holder's writes to whoever frees the
        // block; Acquire (when we are the last) sees everybody else's.
        let prev = Snapshot(self.0.fetch_sub(REF_ONE, AcqRel));
        debug_assert!(prev.refs() >= 1, "{prev:?}");
        prev
    }
}

/// The per-type functions of a task, reached through the header. They do
/// only what needs the future's type (poll it, drop what `stage` holds,
/// store an error, move the output out, free the block); the protocol
/// itself (state transitions, panics, the join waker) is written once, in
/// the non-generic functions below, not once per future type.
struct Vtable {
    /// Poll the future; on `Ready`, drop it and store `Finished(Ok(output))`
    /// (rule 2: loop thread only, RUNNING). A panic, from the poll or from
    /// the future's destructor, propagates to the caller.
    poll: unsafe fn(NonNull<Header>, &mut Context<'_>) -> Poll<()>,
    /// Drop whatever `stage` holds (the future, or an unread output) and
    /// leave `Consumed`. Whoever owns `stage` at that moment (rules 2, 3).
    drop_stage: unsafe fn(NonNull<Header>),
    /// Store `Finished(Err(error))` into a `Consumed` stage (loop thread,
    /// RUNNING).
    store_error: unsafe fn(NonNull<Header>, JoinError),
    /// `JoinHandle::poll` after COMPLETE: move the output into `dst`, a
    /// `*mut Poll<Result<T, JoinError>>`.
    read_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Free the block (last reference).
    dealloc: unsafe fn(NonNull<Header>),
}

/// Whether the loop, completing a task in state `s`, is done with it at the
/// CAS that sets COMPLETE: the output goes to a `JoinHandle` (which holds a
/// reference, so the block outlives the CAS) and there is no join waker to
/// wake (rules 3, 4, 5).
fn hands_off(s: Snapshot) -> bool {
    s.has(JOIN_INTEREST) && !s.has(JOIN_WAKER)
}

/// The part of a task that does not depend on its future's type.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    vtable: &'static Vtable,
    /// The loop's remote queue: where a wake from another thread goes.
    /// Borrowed: see rule 7 for when it may be used.
    shared: NonNull<Shared>,
    /// Index in the loop's `OwnedTasks`, `usize::MAX` while not listed
    /// (rule 8; loop thread only).
    owned_index: UnsafeCell<usize>,
    /// Rule 4.
    join_waker: UnsafeCell<Option<Waker>>,
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
struct Cell<F: Future> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
}

/// How a run ended, for `TaskRef::run`.
enum RunStep {
    Idle,
    Reschedule,
    Complete,
    /// The entry pointed at a task that was already complete.
    Stale,
}

/// How a run ended, for the executor.
pub(crate) enum Run {
    /// Pending and not woken meanwhile, or a stale entry: nothing to do.
    Idle,
    /// Idle for the first time: this entry's reference is now the owned
    /// list's, insert it there (rule 8).
    List(TaskRef),
    /// Woken while it ran: put this entry back in the run queue.
    Reschedule(TaskRef),
    /// Done: clear this index of `OwnedTasks` (`usize::MAX`: the task was
    /// not listed), whose reference the completion gave up (rules 5, 8).
    Complete(usize),
}

/// One counted reference to a task (a queue entry, or the owned list's).
///
/// `Send`: what another thread may do with a `TaskRef` is move it and drop
/// it (rule 2: dropping never frees a live `!Send` future); running it is
/// `unsafe` and restricted to the loop thread.
pub(crate) struct TaskRef {
    ptr: NonNull<Header>,
}

// SAFETY: see the type's docs; the header's fields are atomics, a pointer
// to a `Shared` (`Send + Sync`, used as rule 7 says) and cells whose
// accesses rules 2–4 confine.
unsafe impl Send for TaskRef {}

/// The handle of a task spawned outside any event loop: `future` is
/// dropped here, on the spawning thread, and the handle gets a block of its
/// own, a bare header finished at birth (COMPLETE, JOIN_INTEREST, the
/// handle's reference) with the [`OUTSIDE_LOOP`] vtable, for which
/// `JoinHandle::poll` answers [`JoinError::outside_loop`]. No future is in
/// it and it is never queued: rules 2-4 have nothing to act on, and rule 5
/// frees it when the handle goes. The block is not generic, so this path
/// adds little to each `spawn` call site.
pub(crate) fn outside_loop<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    drop(future);
    JoinHandle {
        ptr: outside_loop_block(),
        _output: PhantomData,
    }
}

#[cold]
#[inline(never)]
fn outside_loop_block() -> NonNull<Header> {
    let header = Box::new(Header {
        state: State(AtomicUsize::new(REF_ONE | COMPLETE | JOIN_INTEREST)),
        vtable: &OUTSIDE_LOOP,
        // No loop: never used (the block is finished, and a finished
        // task's wake does nothing, rules 1, 7).
        shared: NonNull::dangling(),
        owned_index: UnsafeCell::new(usize::MAX),
        join_waker: UnsafeCell::new(None),
    });
    NonNull::from(Box::leak(header))
}

/// The vtable of an [`outside_loop`] block. Only `drop_stage` (from the
/// handle's drop, as for any finished task: there is nothing to drop) and
/// `dealloc` are ever called; the block is never polled, never failed, and
/// `JoinHandle::poll` does not read it.
static OUTSIDE_LOOP: Vtable = Vtable {
    poll: poll_nothing,
    drop_stage: drop_nothing,
    store_error: store_nothing,
    read_output: read_nothing,
    dealloc: dealloc_header,
};

unsafe fn poll_nothing(_: NonNull<Header>, _: &mut Context<'_>) -> Poll<()> {
    Poll::Pending
}

unsafe fn drop_nothing(_: NonNull<Header>) {}

unsafe fn store_nothing(_: NonNull<Header>, _: JoinError) {}

unsafe fn read_nothing(_: NonNull<Header>, _: *mut ()) {}

/// `dealloc` of an [`outside_loop`] block.
///
/// # Safety
///
/// `ptr` was made by `outside_loop_block` as a `Box<Header>`, and this is
/// its last reference.
unsafe fn dealloc_header(ptr: NonNull<Header>) {
    // SAFETY: caller.
    drop(unsafe { Box::from_raw(ptr.as_ptr()) });
}

/// A new task for `future` on the loop of `shared`: the run queue's
/// reference and the handle (rule 8).
pub(crate) fn new<F>(future: F, shared: &Arc<Shared>) -> (TaskRef, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
{
    let cell = Box::new(Cell {
        header: Header {
            state: State::new(),
            vtable: &Vtable {
                poll: poll_future::<F>,
                drop_stage: drop_stage::<F>,
                store_error: store_error::<F>,
                read_output: read_output::<F>,
                dealloc: dealloc::<F>,
            },
            // Rule 7: the caller's `Arc` keeps it alive until the loop has
            // the task. From `Arc::as_ptr`, not a reference: the pointer
            // must keep the provenance of the whole `Arc` allocation, for
            // `Arc::from_raw` and `increment_strong_count` to reach the
            // counts before `Shared`.
            // SAFETY: `Arc::as_ptr` is never null.
            shared: unsafe { NonNull::new_unchecked(Arc::as_ptr(shared).cast_mut()) },
            owned_index: UnsafeCell::new(usize::MAX),
            join_waker: UnsafeCell::new(None),
        },
        stage: UnsafeCell::new(Stage::Running(future)),
    });
    let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
    (
        TaskRef { ptr },
        JoinHandle {
            ptr,
            _output: PhantomData,
        },
    )
}

impl TaskRef {
    /// Adopt one reference the caller owns.
    ///
    /// # Safety
    ///
    /// `ptr` is a live task and the caller transfers one of its references.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> TaskRef {
        TaskRef { ptr }
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: we hold a reference, so the block is alive (rule 5).
        unsafe { self.ptr.as_ref() }
    }

    /// Whether the task belongs to the loop of `shared` (rule 7: a queue
    /// entry that a wake or an abort just made).
    pub(crate) fn is_of(&self, shared: &Arc<Shared>) -> bool {
        std::ptr::eq(self.header().shared.as_ptr(), Arc::as_ptr(shared))
    }

    /// A strong count of the task's loop's `Shared`, to send this entry
    /// through its remote queue.
    ///
    /// # Safety
    ///
    /// A wake or an abort made this entry (rule 7: `Shared` is alive).
    pub(crate) unsafe fn shared(&self) -> Arc<Shared> {
        let shared = self.header().shared.as_ptr().cast_const();
        // SAFETY: `Shared` is alive (caller, rule 7), and came from an
        // `Arc` (`new`); we add the count the new `Arc` owns.
        unsafe {
            Arc::increment_strong_count(shared);
            Arc::from_raw(shared)
        }
    }

    /// Run the task once, consuming this queue entry.
    ///
    /// # Safety
    ///
    /// On the loop thread that owns the task (rule 2), and this is a run
    /// queue entry (the task is SCHEDULED or COMPLETE).
    pub(crate) unsafe fn run(self) -> Run {
        // Read now: a completed run may leave the block to the handle alone
        // (rule 5).
        // SAFETY: `owned_index` is loop-only (rule 2), we are on it.
        let index = self.header().owned_index.with(|i| unsafe { *i });
        let listed = index != usize::MAX;
        // SAFETY: we hold a reference, and the owned list's if `listed`;
        // loop thread (caller).
        let step = unsafe { run(self.ptr, 1 + usize::from(listed)) };
        match step {
            RunStep::Idle if !listed => Run::List(self),
            RunStep::Idle | RunStep::Stale => Run::Idle,
            RunStep::Reschedule => Run::Reschedule(self),
            RunStep::Complete => {
                // The completion gave up this entry's reference and the
                // owned list's (rule 5).
                std::mem::forget(self);
                Run::Complete(index)
            }
        }
    }

    /// Cancel a task that is not running, as its loop shuts down, giving up
    /// this reference (the owned list's, or the queue entry of a task not
    /// listed). True if it did cancel; false if the task was complete.
    ///
    /// # Safety
    ///
    /// On the loop thread that owns the task (rule 2); `self` is the owned
    /// list's reference, or a queue entry of a task that is not listed
    /// (rule 8) or is complete.
    pub(crate) unsafe fn shutdown(self) -> bool {
        // SAFETY: we hold a reference; loop thread (caller).
        let cancelled = unsafe { shutdown(self.ptr) };
        if cancelled {
            // The completion gave up this reference (rule 5).
            std::mem::forget(self);
        }
        cancelled
    }

    /// Record the task's slot in the owned list.
    ///
    /// # Safety
    ///
    /// On the loop thread that owns the task (rule 2).
    pub(crate) unsafe fn set_owned_index(&self, index: usize) {
        // SAFETY: loop-only field, and we are on the loop (caller).
        self.header()
            .owned_index
            .with_mut(|i| unsafe { *i = index });
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: we hold one reference and give it up here.
        unsafe { drop_ref(self.ptr) }
    }
}

/// Release one reference; free the block if it was the last.
///
/// # Safety
///
/// The caller owns one reference to the live task `ptr`.
///
/// Out of line: references are dropped in many places (queue entries,
/// wakers, handles, shutdown), and the call costs less than the atomic
/// decrement inside.
#[inline(never)]
pub(crate) unsafe fn drop_ref(ptr: NonNull<Header>) {
    // SAFETY: alive, since the caller holds a reference.
    let header = unsafe { ptr.as_ref() };
    let prev = header.state.ref_dec();
    if prev.refs() == 1 {
        let shared = header.shared.as_ptr().cast_const();
        // SAFETY: that was the last reference: nobody else can reach the
        // block (rule 5), and rule 2 says the future is gone unless it is
        // `Send`.
        unsafe { (header.vtable.dealloc)(ptr) }
        if prev.has(SHARED_REF) {
            // SAFETY: the block's own count (rule 7), given up once, here.
            drop(unsafe { Arc::from_raw(shared) });
        }
    }
}

unsafe fn dealloc<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: the block was made by `new` as a `Box<Cell<F>>` and this is
    // the last reference (caller).
    drop(unsafe { Box::from_raw(ptr.cast::<Cell<F>>().as_ptr()) });
}

/// # Safety
///
/// `ptr` is a live `Cell<F>`: the header is first (`repr(C)`), so the cast
/// is exact, and `new` made it with this `F`.
unsafe fn cell<'a, F: Future>(ptr: NonNull<Header>) -> &'a Cell<F> {
    // SAFETY: caller.
    unsafe { ptr.cast::<Cell<F>>().as_ref() }
}

/// Run a task once (the non-generic part of the protocol). `Complete`: the
/// caller's `held` references (the queue entry's, and the owned list's if
/// the task is listed) are given up (rule 5).
///
/// # Safety
///
/// The caller holds the queue entry's reference to the live task `ptr`, and
/// the owned list's if `held` is 2, on its loop thread (rule 2).
unsafe fn run(ptr: NonNull<Header>, held: usize) -> RunStep {
    // SAFETY: the caller holds a reference.
    let header = unsafe { ptr.as_ref() };
    match header.state.transition_to_running() {
        ToRunning::Complete => return RunStep::Stale,
        ToRunning::Cancel => {
            // SAFETY: loop thread, and RUNNING from the transition; the
            // `held` references are ours to give up.
            unsafe { complete_with_error(ptr, JoinError::cancelled(), held) };
            return RunStep::Complete;
        }
        ToRunning::Poll => {}
    }
    // The waker borrows the queue entry's reference: `ManuallyDrop` keeps it
    // from releasing it; clones take their own.
    // SAFETY: `ptr` is a live task while we hold the entry.
    let waker = ManuallyDrop::new(unsafe { waker::task_waker(ptr) });
    let mut cx = Context::from_waker(&waker);
    // SAFETY: loop thread and RUNNING: `stage` is ours (rule 2).
    let polled = catch_unwind(AssertUnwindSafe(|| unsafe {
        (header.vtable.poll)(ptr, &mut cx)
    }));
    match polled {
        Ok(Poll::Pending) => match header.state.transition_to_idle() {
            ToIdle::Idle => RunStep::Idle,
            ToIdle::Reschedule => RunStep::Reschedule,
        },
        Ok(Poll::Ready(())) => {
            // SAFETY: loop thread, RUNNING, the output stored; the two
            // references as above.
            unsafe { finish(ptr, held) };
            RunStep::Complete
        }
        Err(payload) => {
            // The poll panicked (the future is still there), or the
            // future's destructor did after `Ready` (the output is there).
            // SAFETY: loop thread and RUNNING; the two references as above.
            unsafe { complete_with_error(ptr, JoinError::panicked(payload), held) };
            RunStep::Complete
        }
    }
}

/// Shutdown: cancel a task that is not running. True if it did, and gave
/// up the caller's reference (rule 5); false if the task was complete.
///
/// # Safety
///
/// The caller holds the owned list's reference, or the queue entry of a
/// task that is not listed (rule 8), on the loop thread (rule 2).
unsafe fn shutdown(ptr: NonNull<Header>) -> bool {
    // SAFETY: the caller holds a reference.
    let header = unsafe { ptr.as_ref() };
    let cancel = header.state.transition_to_shutdown();
    if cancel {
        // Rule 7: the block's own count, while the loop's keeps `Shared`
        // alive (the loop is shutting down, not gone).
        // SAFETY: as said; `shared` came from an `Arc` (`new`).
        unsafe { Arc::increment_strong_count(header.shared.as_ptr().cast_const()) };
        // SAFETY: loop thread, and RUNNING from the transition; the
        // reference is the caller's to give up, and the only one the loop
        // holds (rule 8).
        unsafe { complete_with_error(ptr, JoinError::cancelled(), 1) };
    }
    cancel
}

/// Drop what `stage` holds (the future first, rule 2), store `error`, and
/// finish, giving up `held` references. A panic of that destructor becomes
/// the outcome of a cancelled task; an outcome that is already a panic
/// stays the first one.
///
/// # Safety
///
/// Loop thread, RUNNING, live task; as [`finish`] for `held`.
unsafe fn complete_with_error(ptr: NonNull<Header>, error: JoinError, held: usize) {
    // SAFETY: the caller's reference keeps the block alive.
    let vtable = unsafe { ptr.as_ref() }.vtable;
    // SAFETY: loop thread and RUNNING: `stage` is ours (rule 2).
    let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { (vtable.drop_stage)(ptr) }));
    let error = match dropped {
        Err(payload) if error.is_cancelled() => JoinError::panicked(payload),
        _ => error,
    };
    // SAFETY: as above; `stage` is now `Consumed`.
    unsafe { (vtable.store_error)(ptr, error) };
    // SAFETY: loop thread, RUNNING, the outcome stored; `held` as ours.
    unsafe { finish(ptr, held) };
}

/// Set COMPLETE, hand the outcome over (rule 3) and give up the caller's
/// `held` references (rule 5): in the completing CAS when the loop is done
/// with the task ([`hands_off`]), else all but one there and the last one
/// after the output is dropped or the join waker woken.
///
/// # Safety
///
/// Loop thread, RUNNING, and `stage` holds the outcome: the handle reads it
/// only after it sees COMPLETE, which is set here. The caller owns `held`
/// (1 or 2) references and no longer uses them.
unsafe fn finish(ptr: NonNull<Header>, held: usize) {
    // SAFETY: the caller's reference keeps the block alive.
    let header = unsafe { ptr.as_ref() };
    let before = header.state.transition_to_complete(held);
    if hands_off(before) {
        // Our references are gone: the block is the handle's now.
        return;
    }
    // The reference the CAS left us, given up on the way out (also if the
    // join waker panics).
    let _release = Release(ptr);
    if !before.has(JOIN_INTEREST) {
        // Nobody will read it: drop it here (rule 3). A panic in its
        // destructor has nowhere to go; the loop goes on.
        // SAFETY: no handle, so the output is ours alone (rule 3).
        let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
            (header.vtable.drop_stage)(ptr)
        }));
    } else if before.has(JOIN_WAKER) {
        header.join_waker.with(|slot| {
            // SAFETY: JOIN_WAKER was set when COMPLETE went in, so the
            // slot is written and now read-only for good (rule 4).
            if let Some(waker) = unsafe { &*slot } {
                waker.wake_by_ref();
            }
        });
    }
}

/// `Vtable::poll`.
///
/// # Safety
///
/// `ptr` is a live `Cell<F>`; loop thread and RUNNING (rule 2).
unsafe fn poll_future<F: Future>(ptr: NonNull<Header>, cx: &mut Context<'_>) -> Poll<()> {
    // SAFETY: caller.
    let cell = unsafe { cell::<F>(ptr) };
    cell.stage.with_mut(|stage| {
        // SAFETY: rule 2: we are the loop thread and RUNNING, so nobody
        // else touches `stage`.
        let stage = unsafe { &mut *stage };
        let Stage::Running(future) = stage else {
            // Cannot happen: a RUNNING task still has its future (rule 2).
            debug_assert!(false, "a running task without a future");
            return Poll::Ready(());
        };
        // SAFETY: the future is never moved out of the heap block; it is
        // dropped in place (rule 2).
        let output = std::task::ready!(unsafe { Pin::new_unchecked(future) }.poll(cx));
        // Drop the future first (rule 2); if its destructor panics, the
        // output is dropped on the way out and `stage` is `Consumed`.
        *stage = Stage::Consumed;
        *stage = Stage::Finished(Ok(output));
        Poll::Ready(())
    })
}

/// `Vtable::drop_stage`.
///
/// # Safety
///
/// `ptr` is a live `Cell<F>` whose `stage` the caller owns (rules 2, 3).
unsafe fn drop_stage<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: caller.
    let cell = unsafe { cell::<F>(ptr) };
    // SAFETY: caller.
    cell.stage
        .with_mut(|stage| unsafe { *stage = Stage::Consumed });
}

/// `Vtable::store_error`.
///
/// # Safety
///
/// `ptr` is a live `Cell<F>`; loop thread and RUNNING (rule 2).
unsafe fn store_error<F: Future>(ptr: NonNull<Header>, error: JoinError) {
    // SAFETY: caller.
    let cell = unsafe { cell::<F>(ptr) };
    // SAFETY: caller.
    cell.stage
        .with_mut(|stage| unsafe { *stage = Stage::Finished(Err(error)) });
}

/// `Vtable::read_output`.
///
/// # Safety
///
/// `ptr` is a live `Cell<F>`, the caller saw COMPLETE with JOIN_INTEREST
/// (rule 3), and `dst` is a `*mut Poll<Result<F::Output, JoinError>>`.
unsafe fn read_output<F: Future>(ptr: NonNull<Header>, dst: *mut ()) {
    // SAFETY: caller.
    let cell = unsafe { cell::<F>(ptr) };
    let output = cell.stage.with_mut(|stage| {
        // SAFETY: COMPLETE seen with Acquire: the loop wrote the output
        // before and never touches `stage` again; the handle is the only
        // other party (rule 3).
        match std::mem::replace(unsafe { &mut *stage }, Stage::Consumed) {
            Stage::Finished(output) => output,
            _ => panic!("JoinHandle polled after it returned its output"),
        }
    });
    // SAFETY: caller (the handle's `T` is this `F::Output`, as `new` built
    // both).
    unsafe { *dst.cast::<Poll<Result<F::Output, JoinError>>>() = Poll::Ready(output) };
}

/// Rule 4 from the handle's side: true if COMPLETE, else the waker is
/// registered and the caller returns `Pending`.
fn can_read_output(header: &Header, waker: &Waker) -> bool {
    let snapshot = header.state.load();
    if snapshot.is_complete() {
        return true;
    }
    let registered = if !snapshot.has(JOIN_WAKER) {
        set_join_waker(header, waker.clone())
    } else {
        let same = header.join_waker.with(|slot| {
            // SAFETY: JOIN_WAKER is set: the slot is written and read-only
            // for everybody (rule 4), so a shared read is fine.
            unsafe { &*slot }
                .as_ref()
                .is_some_and(|old| old.will_wake(waker))
        });
        if same {
            return false;
        }
        header
            .state
            .unset_join_waker()
            .and_then(|()| set_join_waker(header, waker.clone()))
    };
    match registered {
        Ok(()) => false,
        Err(snapshot) => {
            debug_assert!(snapshot.is_complete());
            true
        }
    }
}

fn set_join_waker(header: &Header, waker: Waker) -> Result<(), Snapshot> {
    // SAFETY: JOIN_WAKER is clear and we are the handle: the slot is ours
    // alone until the CAS below publishes it (rule 4).
    header
        .join_waker
        .with_mut(|slot| unsafe { *slot = Some(waker) });
    let result = header.state.set_join_waker();
    if result.is_err() {
        // COMPLETE came first: the loop did not read the slot (it saw no
        // JOIN_WAKER), so it is still ours.
        // SAFETY: as above.
        header.join_waker.with_mut(|slot| unsafe { *slot = None });
    }
    result
}

/// An owned permission to await a spawned task's outcome.
///
/// Awaiting it gives `Ok(value)`, or a [`JoinError`] if the task panicked or
/// was cancelled. Dropping it *detaches* the task: it keeps running and its
/// output is dropped on the loop. [`abort`](JoinHandle::abort) cancels it.
///
/// The handle is `Send` when `T` is, even for a `!Send` task: it may be
/// awaited on another executor or thread; the task's future stays on its
/// loop.
///
/// ```
/// use triad::event_loop::{spawn, EventLoop};
///
/// let ev = EventLoop::new().unwrap();
/// let sum = ev.block_on(async {
///     let a = spawn(async { 20 });
///     let b = spawn(async { 22 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(sum, 42);
/// ```
#[must_use = "dropping a JoinHandle detaches the task; `let _ = ` if that is meant"]
pub struct JoinHandle<T> {
    ptr: NonNull<Header>,
    _output: PhantomData<T>,
}

// SAFETY: through a handle another thread can reach the output (read or
// drop it, rule 3), so `T: Send`; the future never (rule 2).
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only reaches the state word (`abort`,
// `is_finished`), an atomic.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    fn header(&self) -> &Header {
        // SAFETY: the handle holds a reference (rule 5).
        unsafe { self.ptr.as_ref() }
    }

    /// Cancel the task: unless it has already finished, its future is
    /// dropped at the loop's next turn without being polled again, and
    /// awaiting this handle gives a cancelled [`JoinError`]. Callable from
    /// any thread.
    ///
    /// ```
    /// use std::time::Duration;
    /// use triad::event_loop::{sleep, spawn, EventLoop};
    ///
    /// let ev = EventLoop::new().unwrap();
    /// ev.block_on(async {
    ///     let task = spawn(sleep(Duration::from_secs(3600)));
    ///     task.abort();
    ///     assert!(task.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        if self.header().state.transition_to_cancelled() == Notify::Submit {
            // SAFETY: the transition added the entry's reference (rule 6),
            // and `schedule` gets the entry it made (rule 7).
            unsafe { waker::schedule(TaskRef::from_raw(self.ptr)) };
        }
    }

    /// Whether the task has finished (its outcome is ready).
    ///
    /// ```
    /// use triad::event_loop::{spawn, yield_now, EventLoop};
    ///
    /// let ev = EventLoop::new().unwrap();
    /// ev.block_on(async {
    ///     let task = spawn(async { 1 });
    ///     assert!(!task.is_finished()); // it starts at the next turn
    ///     yield_now().await;
    ///     assert!(task.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if std::ptr::eq(self.header().vtable, &OUTSIDE_LOOP) {
            return Poll::Ready(Err(JoinError::outside_loop()));
        }
        std::task::ready!(budget::poll_proceed(cx));
        if !can_read_output(self.header(), cx.waker()) {
            return Poll::Pending;
        }
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: we hold a reference and saw COMPLETE (rule 3); `out` has
        // the type `read_output::<F>` writes (`T = F::Output`, from `new`).
        unsafe {
            (self.header().vtable.read_output)(
                self.ptr,
                (&mut out as *mut Poll<Result<T, JoinError>>).cast(),
            )
        };
        budget::consume();
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        drop_handle(self.ptr);
    }
}

/// `JoinHandle::drop`, written once rather than once per output type (it
/// needs none: the vtable drops the output).
#[inline(never)]
fn drop_handle(ptr: NonNull<Header>) {
    // Gives up the handle's reference on the way out, also when the
    // output's destructor panics (the panic goes on, the block is not
    // leaked: `stage` is `Consumed` by then, see `poll_future`).
    let release = Release(ptr);
    // SAFETY: the handle's reference keeps the block alive until `release`
    // goes.
    let header = unsafe { ptr.as_ref() };
    match header.state.unset_join_interest() {
        // SAFETY: COMPLETE: the output is ours (rule 3).
        Err(_) => unsafe { (header.vtable.drop_stage)(ptr) },
        // A waker left by a poll of this handle would keep the task that
        // polled it alive as long as this one runs.
        // SAFETY: our CAS cleared JOIN_INTEREST before COMPLETE, so the
        // loop will not read the slot (rule 4): it is the handle's alone.
        Ok(()) => header.join_waker.with_mut(|slot| unsafe { *slot = None }),
    }
    drop(release);
}

/// One reference to the task, given up when this goes (unwinding too).
struct Release(NonNull<Header>);

impl Drop for Release {
    fn drop(&mut self) {
        // SAFETY: whoever made this owned the reference, and gives it up
        // once, here.
        unsafe { drop_ref(self.0) };
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("state", &self.header().state.load())
            .finish()
    }
}

/// The loop's list of the tasks it owns that have been idle (one reference
/// each, rule 8), so that shutdown can cancel every task that has not
/// finished (the others are in the run queue). A slab: O(1) insert and
/// remove; each task knows its index.
pub(crate) struct OwnedTasks {
    slots: Vec<Option<TaskRef>>,
    /// Empty slots to reuse.
    free: Vec<usize>,
}

impl OwnedTasks {
    pub(crate) fn new() -> Self {
        OwnedTasks {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// # Safety
    ///
    /// On the loop thread that owns the task.
    pub(crate) unsafe fn insert(&mut self, task: TaskRef) {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        // SAFETY: loop thread (caller).
        unsafe { task.set_owned_index(index) };
        self.slots[index] = Some(task);
    }

    /// Forget the task at `index`, whose completion gave up the list's
    /// reference (rule 5).
    pub(crate) fn remove_completed(&mut self, index: usize) {
        if let Some(task) = self.slots.get_mut(index).and_then(Option::take) {
            std::mem::forget(task);
            self.free.push(index);
        }
    }

    /// Remove the last task, if any is left (shutdown). The empty slots
    /// popped on the way are forgotten, so a task inserted meanwhile goes at
    /// the end.
    pub(crate) fn pop(&mut self) -> Option<TaskRef> {
        self.free.clear();
        while let Some(slot) = self.slots.pop() {
            if slot.is_some() {
                return slot;
            }
        }
        None
    }
}
