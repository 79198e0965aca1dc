//! Jobs: a unit of work as the deques carry it.
//!
//! A deque holds [`JobRef`]s: a type-erased pointer to a job plus the
//! function that runs it. Two kinds of job sit behind the pointer:
//!
//! | kind | lives | made by | completion |
//! |---|---|---|---|
//! | [`StackJob`] | in the stack frame of the thread that waits for it | `install` from outside the pool | result stored in the job, then its latch set |
//! | `JoinFrame` (`frame.rs`) | in the stack frame of its `join` | `join`'s second half, once promoted | as `StackJob` |
//! | [`SmallJob`] | inside the `JobRef` itself if its closure fits in [`INLINE_WORDS`] words, else in a `Box` (with its tag) | `scope` | the closure itself reports (scope counter) |
//! | [`HeapJob`] | in a `Box`, owned by the `JobRef` | `spawn` | the closure itself reports (oneshot) |
//!
//! Rules (the SAFETY comments of the threads room cite them as "job rule N"):
//!
//! 1. **Executed exactly once.** A `JobRef` is not `Clone`; the only ways to
//!    consume it are [`JobRef::execute`] and, for a `StackJob` its owner
//!    takes back, dropping the `JobRef` and running the closure inline. A job
//!    is never both executed and run inline: the owner runs inline only a job
//!    it popped back from its own deque, or one it never published.
//! 2. **A StackJob outlives its execution.** The thread that owns the stack
//!    frame does not return from it until the job's latch is set (or until
//!    it has taken the job back unexecuted), so the pointer in a `JobRef` to
//!    a `StackJob` stays valid while any thread may execute it.
//! 3. **After the latch is set, the job is gone.** Setting the latch is the
//!    last thing an executing thread does with a `StackJob`: the owner may
//!    return and free the frame at that instant (see `latch.rs`, rule 3).
//! 4. **Results travel with the latch.** The result is written before the
//!    latch is set with Release, and read after the latch is observed set
//!    with Acquire; no other synchronisation guards the result cell.
//! 5. **Lineage outlives its jobs.** A job's `lineage` points at a
//!    [`Lineage`] node in the stack frame of the job that was executing when
//!    it was created (on any thread: a job handed into another pool by
//!    `install` carries its creator's lineage, wait-policy rule 5). That
//!    creator waits (join, scope, install) for every job it creates with a
//!    lineage, so the node lives as long as any such job is pending.
//!    `spawn`ed jobs outlive their creator and carry no lineage.
//! 6. **An inline job is its `JobRef`.** Its closure lives in the `JobRef`'s
//!    own words and moves with it (a bitwise move, as any Rust value). It
//!    has no address: the word that holds other jobs' address holds its
//!    *tag* (a word its closure gets back, a scope's spawn index) as an
//!    odd number, `2 * tag + 1`, in a pointer without provenance. So its
//!    `id` is never the address of a frame, stack job or scope (all even),
//!    and nothing waits for it by identity (a scope waits for its jobs by
//!    count). Executing it reads the closure out of the words once (rule 1).
//! 7. **A job never unwinds.** Its closure runs under `catch_unwind`, and
//!    so does any other user code a job runs after it: dropping a value or
//!    a panic payload nobody will take (a detached `spawn`'s result, a
//!    scope's discarded panics), waking a handle's waker ([`contain_panic`]).
//!    A panic out of a job would unwind the worker's loop: the thread would
//!    die with the jobs in its deque, and whoever waits for them would wait
//!    forever (or, for a scope, return while its jobs still run).

use std::any::Any;
use std::mem::{self, MaybeUninit};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use super::latch::Latch;
use crate::sync::cell::UnsafeCell;

/// A node in the chain "which executing job created this job", used by the
/// restricted wait policies (see `wait_policy.rs`) to tell whether a job
/// descends from the one a thread waits for.
#[derive(Debug)]
pub(crate) struct Lineage {
    /// Identity of the job or scope this node stands for.
    pub(crate) id: *const (),
    /// The node of the job that created it, or null for a root.
    pub(crate) parent: *const Lineage,
}

impl Lineage {
    /// Whether the chain starting at `node` passes through a node with `id`.
    ///
    /// # Safety
    ///
    /// Every node on the chain must be alive (job rule 5 guarantees it for
    /// the lineage of a job that is pending).
    pub(crate) unsafe fn descends_from(mut node: *const Lineage, id: *const ()) -> bool {
        while !node.is_null() {
            // SAFETY: the caller guarantees the chain is alive (job rule 5).
            let current = unsafe { &*node };
            if current.id == id {
                return true;
            }
            node = current.parent;
        }
        false
    }
}

/// Words of closure a [`JobRef`] can carry in itself (job rule 6): a scope
/// job whose closure captures up to two words travels inline. (Each word
/// more is 8 bytes more for every job in every deque, copied on every push,
/// steal and pop.)
pub(crate) const INLINE_WORDS: usize = 2;

/// The words an inline job's closure is stored in.
pub(crate) type InlineWords = MaybeUninit<[usize; INLINE_WORDS]>;

/// The function that runs a job, given the `JobRef` it is called through
/// (a job at an address reads `id`, an inline job the inline words).
pub(crate) type ExecuteFn = unsafe fn(&JobRef);

/// A type-erased, owning reference to a job (job rule 1).
pub(crate) struct JobRef {
    /// The job's address, or an inline job's odd tag (job rule 6).
    data: *const (),
    execute_fn: ExecuteFn,
    lineage: *const Lineage,
    inline: InlineWords,
}

impl std::fmt::Debug for JobRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRef")
            .field("data", &self.data)
            .field("lineage", &self.lineage)
            .finish_non_exhaustive()
    }
}

// SAFETY: a JobRef is a pointer to a job whose closure is `Send` (the
// constructors require it) and whose result and latch are built to be set
// from another thread; moving the JobRef moves the right to execute it.
unsafe impl Send for JobRef {}

impl JobRef {
    /// Assemble a `JobRef` from its parts.
    ///
    /// # Safety
    ///
    /// `execute_fn` must be the execute function of the job type `data`
    /// points to, and the caller keeps that job alive until it has run.
    pub(crate) unsafe fn from_raw(
        data: *const (),
        execute_fn: ExecuteFn,
        lineage: *const Lineage,
    ) -> JobRef {
        JobRef {
            data,
            execute_fn,
            lineage,
            inline: MaybeUninit::uninit(),
        }
    }

    /// The job's identity: its address (an odd tag for an inline job, never
    /// an address: rule 6).
    #[inline]
    pub(crate) fn id(&self) -> *const () {
        self.data
    }

    /// The lineage recorded when the job was made (null for a root).
    #[inline]
    pub(crate) fn lineage(&self) -> *const Lineage {
        self.lineage
    }

    /// Run the job.
    ///
    /// # Safety
    ///
    /// The job behind the pointer must still be alive (job rule 2 for stack
    /// jobs; a heap job is owned by this `JobRef`, an inline one is in it).
    #[inline]
    pub(crate) unsafe fn execute(self) {
        // SAFETY: `execute_fn` was built for exactly this `data` or these
        // inline words (see the constructors), and the caller guarantees
        // `data` is alive; `self` is consumed, so the words are read once.
        unsafe { (self.execute_fn)(&self) }
    }
}

/// The outcome of a job run on another thread.
pub(crate) enum JobResult<R> {
    None,
    Ok(R),
    Panic(Box<dyn Any + Send>),
}

impl<R> JobResult<R> {
    pub(crate) fn call(func: impl FnOnce() -> R) -> Self {
        match panic::catch_unwind(AssertUnwindSafe(func)) {
            Ok(value) => JobResult::Ok(value),
            Err(payload) => JobResult::Panic(payload),
        }
    }

    /// The value, or the panic to re-raise.
    pub(crate) fn into_result(self) -> std::thread::Result<R> {
        match self {
            JobResult::Ok(value) => Ok(value),
            JobResult::Panic(payload) => Err(payload),
            JobResult::None => unreachable!("job result read before the job ran (job rule 4)"),
        }
    }
}

/// Run `f` without letting a panic out (rule 7): a panic of `f` is
/// dropped here. Dropping a payload may panic in turn (its `Drop` is the
/// user's): each new payload is dropped the same way, up to
/// [`PAYLOAD_DROPS`] times, and a payload still panicking after that is
/// leaked rather than dropped (its `Drop` could panic for ever). A panic
/// whose `Drop` panics with a plain message thus leaks nothing.
pub(crate) fn contain_panic(f: impl FnOnce()) {
    let mut outcome = panic::catch_unwind(AssertUnwindSafe(f));
    for _ in 0..PAYLOAD_DROPS {
        match outcome {
            Ok(()) => return,
            Err(payload) => outcome = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))),
        }
    }
    if let Err(last) = outcome {
        mem::forget(last);
    }
}

/// How many payloads in a row `contain_panic` drops before it leaks one.
const PAYLOAD_DROPS: usize = 4;

/// A job in its waiter's stack frame.
pub(crate) struct StackJob<L, F, R> {
    pub(crate) latch: L,
    func: UnsafeCell<Option<F>>,
    result: UnsafeCell<JobResult<R>>,
}

impl<L: Latch, F: FnOnce() -> R + Send, R: Send> StackJob<L, F, R> {
    pub(crate) fn new(func: F, latch: L) -> Self {
        StackJob {
            latch,
            func: UnsafeCell::new(Some(func)),
            result: UnsafeCell::new(JobResult::None),
        }
    }

    /// A `JobRef` to this job.
    ///
    /// # Safety
    ///
    /// The caller keeps `self` alive and in place until the job has run and
    /// its latch is set, or until the `JobRef` is known to be dropped
    /// unexecuted (job rule 2).
    #[inline]
    pub(crate) unsafe fn as_job_ref(&self, lineage: *const Lineage) -> JobRef {
        // SAFETY: `execute` is this type's, and the caller keeps `self`
        // alive until it has run.
        unsafe { JobRef::from_raw(self as *const Self as *const (), Self::execute, lineage) }
    }

    /// # Safety
    ///
    /// `job` was made by `as_job_ref` from a live `StackJob<L, F, R>` whose
    /// function was not taken yet (job rules 1 and 2).
    unsafe fn execute(job: &JobRef) {
        // SAFETY: built by `as_job_ref` from a `&Self`; alive by job rule 2.
        let this = unsafe { &*(job.data as *const Self) };
        // SAFETY: job rule 1: we are the only one to execute the job, and the
        // owner does not touch `func` or `result` until the latch is set.
        let func = this.func.with_mut(|f| unsafe { (*f).take() });
        let func = func.expect("a stack job executed twice (job rule 1)");
        let result = JobResult::call(func);
        // SAFETY: as above; the owner reads `result` only after the latch is
        // set (job rule 4).
        this.result.with_mut(|r| unsafe { *r = result });
        // SAFETY: `this.latch` is alive until this call makes the owner free
        // it; `set` touches nothing of the job afterwards (job rule 3).
        unsafe { L::set(&this.latch) };
    }

    /// The result, once the latch is set (job rule 4).
    pub(crate) fn into_result(self) -> std::thread::Result<R> {
        self.result
            .with_mut(|r| {
                // SAFETY: we own `self`; the executing thread finished with the
                // cell before setting the latch that our caller observed.
                unsafe { std::mem::replace(&mut *r, JobResult::None) }
            })
            .into_result()
    }
}

/// A boxed job that owns its closure; the closure reports its own outcome.
pub(crate) struct HeapJob<F> {
    func: F,
}

impl<F: FnOnce() + Send> HeapJob<F> {
    /// Box `func` and return the owning `JobRef`.
    ///
    /// The closure may borrow data that is not `'static`; the caller then
    /// guarantees that the job runs before that data dies (scope waits for
    /// every job it spawned: job rule 5).
    pub(crate) fn into_job_ref(func: F, lineage: *const Lineage) -> JobRef {
        let boxed = Box::new(HeapJob { func });
        // SAFETY: `execute` is this type's; the box lives until it runs.
        unsafe { JobRef::from_raw(Box::into_raw(boxed) as *const (), Self::execute, lineage) }
    }

    /// # Safety
    ///
    /// `job.data` came from `Box::into_raw` in `into_job_ref` and is
    /// executed once (job rule 1).
    unsafe fn execute(job: &JobRef) {
        // SAFETY: the pointer came from `Box::into_raw` of the same type and
        // job rule 1 says we are its only executor, so we own it.
        let job = unsafe { Box::from_raw(job.data as *mut Self) };
        (job.func)();
    }
}

/// A job whose closure is handed its own lineage and a tag when it runs
/// (a scope job finds its scope in the lineage, scope rule 4, and its spawn
/// index in the tag), and which travels inside its [`JobRef`] when the
/// closure is small enough (job rule 6): no allocation, nothing to free. A
/// bigger closure goes in a `Box`, with its tag.
pub(crate) struct SmallJob<F> {
    tag: usize,
    func: F,
}

impl<F: FnOnce(*const Lineage, usize) + Send> SmallJob<F> {
    /// Whether `F` fits in the inline words (size and alignment).
    const FITS: bool = mem::size_of::<F>() <= mem::size_of::<InlineWords>()
        && mem::align_of::<F>() <= mem::align_of::<InlineWords>();

    /// A `JobRef` for `func` and `tag` (below `usize::MAX / 2`): inline if
    /// `func` fits (job rule 6), else boxed.
    ///
    /// As for [`HeapJob::into_job_ref`], the closure may borrow data that is
    /// not `'static` if the caller waits for the job (job rule 5).
    #[inline]
    pub(crate) fn into_job_ref(func: F, lineage: *const Lineage, tag: usize) -> JobRef {
        if !Self::FITS {
            let boxed = Box::new(SmallJob { tag, func });
            // SAFETY: `execute_boxed` is this type's; the box lives until it
            // runs.
            return unsafe {
                JobRef::from_raw(
                    Box::into_raw(boxed) as *const (),
                    Self::execute_boxed,
                    lineage,
                )
            };
        }
        let mut inline = InlineWords::uninit();
        // SAFETY: `F` fits the words in size and alignment (`FITS`); the
        // words now own `func`, read back once by `execute_inline` (job
        // rule 6).
        unsafe { ptr::write(inline.as_mut_ptr() as *mut F, func) };
        JobRef {
            // Rule 6: an odd address, and no provenance (nothing to reach).
            data: ptr::null::<u8>().wrapping_add(2 * tag + 1) as *const (),
            execute_fn: Self::execute_inline,
            lineage,
            inline,
        }
    }

    /// # Safety
    ///
    /// `job`'s inline words hold an `F` written by `into_job_ref`, read here
    /// once: the `JobRef` was consumed to call us (job rules 1, 6).
    unsafe fn execute_inline(job: &JobRef) {
        // SAFETY: the caller's guarantee; reading moves the closure out of
        // words nobody reads again.
        let func = unsafe { ptr::read(job.inline.as_ptr() as *const F) };
        func(job.lineage, job.data as usize >> 1);
    }

    /// # Safety
    ///
    /// `job.data` came from `Box::into_raw` in `into_job_ref` and is
    /// executed once (job rule 1).
    unsafe fn execute_boxed(job: &JobRef) {
        // SAFETY: the pointer came from `Box::into_raw` of the same type and
        // job rule 1 says we are its only executor, so we own it.
        let this = unsafe { Box::from_raw(job.data as *mut Self) };
        (this.func)(job.lineage, this.tag);
    }
}
