//! Join frames: the second half of a `join`, kept private on its worker's
//! stack until another worker is hungry.
//!
//! Publishing the second half of every `join` on a shared deque costs fences
//! and cache traffic even when nobody steals (rayon spends ~19 ns a join on
//! it). Instead each join builds a [`JoinFrame`] in its own stack frame and
//! links it into its worker's private list; nothing is shared, nothing is
//! atomic. Only when a worker is hungry does the owner *promote* a frame:
//! it makes it a real job (a latch, a `JobRef`) and pushes it on its deque.
//!
//! ```text
//!   worker.top ──► F3 (private) ──prev──► F2 (private) ──prev──► F1 (promoted) ──► null
//!                  innermost join                                 oldest: its JobRef
//!                                                                 sits in the deque,
//!                                                                 thieves take it first
//! ```
//!
//! Rules (cited as "frame rule N"):
//!
//! 1. Only the owner worker reads or writes the list (`top`, `prev`,
//!    `promoted`): plain cells, no synchronisation.
//! 2. Frames nest: a join links its frame on entry and unlinks it on exit;
//!    whatever runs in between (stolen jobs run while waiting included)
//!    links and unlinks above it. So the list is a stack.
//! 3. Promotion takes the oldest private frame, so the promoted frames are
//!    always the bottom of the list. A frame is promoted at most once.
//! 4. A promoted frame's latch is written by the owner before its `JobRef`
//!    is pushed (the push publishes it); its result is written by whoever
//!    executes it, before the latch is set (job rule 4). A private frame has
//!    neither: a join whose frame is still private when its first half
//!    returns runs the second half inline, touching nothing shared.
//! 5. A frame outlives its promotion: the join does not return until the
//!    job was taken back unexecuted or its latch is set (job rule 2).
//! 6. The second half leaves the frame exactly once: run inline by the
//!    owner (private, or taken back: job rule 1) or by `execute`. Every way
//!    out of a join takes one of the two, and nothing else reads or drops
//!    it, so it needs no `Option` to say whether it is still there.

use std::cell::Cell;
use std::mem::{ManuallyDrop, MaybeUninit};

use super::job::{ExecuteFn, JobRef, JobResult, Lineage};
use super::latch::{Latch, SpinLatch};
use super::registry::Registry;
use crate::sync::cell::UnsafeCell;

/// The type-erased part of a join frame, at its start (`repr(C)`).
#[repr(C)]
pub(crate) struct FrameHead {
    /// The next older frame of the same worker, or null (frame rule 2).
    pub(crate) prev: *const FrameHead,
    /// Set by the owner when it publishes the frame (frame rules 1, 3).
    pub(crate) promoted: Cell<bool>,
    /// The lineage current when the join began (job rule 5).
    lineage: *const Lineage,
    /// `JoinFrame::<F, R>::execute`, to build the `JobRef` on promotion.
    execute: ExecuteFn,
    /// Initialised on promotion only (frame rule 4).
    latch: UnsafeCell<MaybeUninit<SpinLatch>>,
}

impl FrameHead {
    /// Make the frame at `this` a job: initialise its latch and return its
    /// `JobRef`.
    ///
    /// # Safety
    ///
    /// `this` points to a linked frame, derived from a pointer to the whole
    /// `JoinFrame` (so the `JobRef` may reach past the head). Called once, by
    /// the owner (frame rules 1, 3); the frame then stays alive until its
    /// latch is set or the job is taken back (frame rule 5).
    pub(crate) unsafe fn promote(
        this: *const FrameHead,
        registry: &Registry,
        owner: usize,
    ) -> JobRef {
        // SAFETY: alive and ours (caller); a shared reference to the head is
        // fine: its mutable parts are cells.
        let head = unsafe { &*this };
        debug_assert!(!head.promoted.get(), "frame promoted twice (frame rule 3)");
        head.promoted.set(true);
        // SAFETY: frame rule 4: nobody else can see the latch before the
        // JobRef is published by our caller.
        head.latch
            .with_mut(|latch| unsafe { (*latch).write(SpinLatch::new(registry, owner)) });
        // SAFETY: `execute` was built for the JoinFrame this head starts, and
        // `this` covers that whole frame, alive until the job is done
        // (caller, frame rule 5).
        unsafe { JobRef::from_raw(this as *const (), head.execute, head.lineage) }
    }

    /// The latch of a promoted frame.
    pub(crate) fn latch(&self) -> &SpinLatch {
        debug_assert!(self.promoted.get());
        // SAFETY: initialised by `promote` (frame rule 4), which happened
        // before the owner asks for it; never written again.
        self.latch
            .with(|latch| unsafe { (*latch).assume_init_ref() })
    }

    /// The id its `JobRef` has (its address).
    pub(crate) fn id(&self) -> *const () {
        self as *const Self as *const ()
    }
}

/// A join's second half and the room for its result.
#[repr(C)]
pub(crate) struct JoinFrame<F, R> {
    pub(crate) head: FrameHead,
    /// Moved out once, never dropped in place (frame rule 6).
    func: UnsafeCell<ManuallyDrop<F>>,
    result: UnsafeCell<MaybeUninit<JobResult<R>>>,
}

impl<F: FnOnce() -> R + Send, R: Send> JoinFrame<F, R> {
    /// A private frame for `func`, to be linked above `prev`.
    #[inline]
    pub(crate) fn new(func: F, prev: *const FrameHead, lineage: *const Lineage) -> Self {
        JoinFrame {
            head: FrameHead {
                prev,
                promoted: Cell::new(false),
                lineage,
                execute: Self::execute,
                latch: UnsafeCell::new(MaybeUninit::uninit()),
            },
            func: UnsafeCell::new(ManuallyDrop::new(func)),
            result: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Take the second half back to run it inline: the frame stayed private,
    /// or was taken back unexecuted (job rule 1).
    ///
    /// # Safety
    ///
    /// The frame is private, or its job was taken back unexecuted, and the
    /// second half was not taken before (frame rule 6).
    #[inline]
    pub(crate) unsafe fn take_func(&self) -> F {
        // SAFETY: job rule 1: private or taken back, so no other thread can
        // reach `func`; still there, and read only this once (caller, frame
        // rule 6).
        self.func
            .with_mut(|f| unsafe { ManuallyDrop::take(&mut *f) })
    }

    /// The result, once the latch of the promoted frame is set (job rule 4).
    pub(crate) fn into_result(self) -> std::thread::Result<R> {
        self.result
            .with_mut(|r| {
                // SAFETY: the executing thread wrote the result before setting
                // the latch our caller observed (job rule 4); read once.
                unsafe { (*r).assume_init_read() }
            })
            .into_result()
    }

    /// Drop the result of a frame another thread executed, which nobody
    /// will take: the owner's first half panicked. Else the value (or the
    /// second half's panic payload) would leak, `MaybeUninit` never drops.
    ///
    /// # Safety
    ///
    /// The frame was promoted and executed, and its latch is set (job rule
    /// 4); the result has not been read.
    pub(crate) unsafe fn drop_result(&self) {
        self.result.with_mut(|r| {
            // SAFETY: written before the latch the caller observed was set
            // (job rule 4), and dropped only here, once (caller).
            unsafe { (*r).assume_init_drop() }
        })
    }

    /// # Safety
    ///
    /// `this` is a promoted, live `JoinFrame<F, R>` (frame rule 5),
    /// executed once (job rule 1).
    unsafe fn execute(job: &JobRef) {
        // SAFETY: `FrameHead` is the first field of the repr(C) JoinFrame,
        // so the JobRef's pointer is the frame's; alive by frame rule 5.
        let this = unsafe { &*(job.id() as *const Self) };
        // SAFETY: job rule 1: we alone execute it, and the owner never takes
        // the second half of a job it did not take back, so it is still
        // there and read only this once (frame rule 6).
        let func = this
            .func
            .with_mut(|f| unsafe { ManuallyDrop::take(&mut *f) });
        let result = JobResult::call(func);
        // SAFETY: as above (job rule 4: written before the latch is set).
        this.result.with_mut(|r| unsafe { (*r).write(result) });
        // SAFETY: the latch was initialised on promotion (frame rule 4); the
        // frame may be freed once it is set, and `set` touches nothing
        // afterwards (latch rule 3).
        unsafe { SpinLatch::set(this.head.latch()) };
    }
}
