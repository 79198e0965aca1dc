//! `scope(|s| ...)`: spawn any number of jobs that may borrow from the
//! caller's stack, and wait for all of them.
//!
//! ```text
//!   scope(op)                           count (CountLatch)
//!   ├─ run op(&s) ─ s.spawn(f) ─────────► +1, push job(index, f) on our deque
//!   │             ─ s.spawn(g) ─────────► +1, push job(index, g)
//!   ├─ op returns ──────────────────────► -1   (op's own count)
//!   ├─ each job, when done ─────────────► -1
//!   └─ run other work until count = 0, then re-raise the first panic
//! ```
//!
//! Rules:
//!
//! 1. The count starts with `BODY_SHARE` shares held by `op` itself. A
//!    spawn from another thread, or after `op` returned, adds one share
//!    before its job is published; a spawn by `op`'s own thread while `op`
//!    runs (the common case, e.g. a loop of spawns) only bumps a private
//!    tally, so the spawning thread never touches the counter that finishing
//!    jobs decrement. When `op` returns it gives back `BODY_SHARE - tally`
//!    in one step. Each job gives back one share when it is done. The count
//!    cannot reach zero while `op` runs (its shares exceed any number of
//!    jobs) nor while a job is pending; whoever takes it to zero sets the
//!    latch. A finished job's share goes back through the worker that ran
//!    it, which may hold it and give back several at once (worker rules
//!    4-6): still before the count can reach zero without it.
//! 2. The scope stays on its owner's stack until the latch is set, so jobs
//!    may hold a pointer to it (job rule 5 for jobs that borrow). They hold
//!    it through their lineage (rule 4), whose node is the scope's, and
//!    their spawn index is their `JobRef`'s tag, so a job carries only the
//!    user's closure: one of up to two words travels inside its `JobRef`,
//!    with no allocation (job rule 6).
//! 3. Panics are caught in each job and recorded with the job's spawn index
//!    (`op` itself is index 0, then its spawns by the numbering below).
//!    The scope re-raises the panic with the lowest index, so the outcome does
//!    not depend on scheduling: alone, its payload unchanged; with others, as
//!    a [`ScopePanic`] that carries it and says how many others there were.
//!    Indices come from `next_index`; `op`'s own thread, while `op` runs,
//!    reserves `INDEX_BLOCK` of them at a time and hands them out from its
//!    tally (a locked add on every spawn cost W2 ~15% of the spawner's
//!    time). So each thread's spawns are numbered in the order it makes them
//!    and `op`'s first spawn is 1; a spawn on another thread while `op` runs
//!    is numbered after `op`'s current block, so it may come after spawns
//!    `op` makes later. The other panics' payloads are dropped as they are
//!    recorded, a panic of their `Drop` contained (job rule 7).
//! 4. Every spawned job has the scope's lineage node as parent, so the
//!    restricted wait policies can tell the scope's own work apart.
//!
//! The loom model `loom-tests/threads_scope.rs` checks the counting.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};

use super::job::{contain_panic, Lineage, SmallJob};
use super::latch::{CountLatch, Latch};
use super::registry::Registry;
use super::wait_policy::WaitPolicy;
use super::worker::{Wait, WorkerThread};
use crate::sync::atomic::{AtomicUsize, Ordering::*};
use crate::sync::cell::UnsafeCell;
use crate::sync::{CachePadded, Mutex};

/// A scope in which jobs that borrow from the enclosing stack can be
/// spawned. Created by [`scope`].
///
/// ```
/// let words = ["alpha", "beta", "gamma"];
/// let mut lengths = vec![0; words.len()];
/// triad::threads::scope(|s: &triad::threads::Scope<'_>| {
///     for (word, length) in words.iter().zip(&mut lengths) {
///         s.spawn(move |_| *length = word.len());
///     }
/// });
/// assert_eq!(lengths, [5, 4, 5]);
/// ```
pub struct Scope<'scope> {
    latch: CountLatch,
    /// Rule 1's private tally; only the owner worker's thread touches it.
    /// On its own cache line: the owner writes it on every spawn, and it
    /// must not share a line with the counter that finishing jobs decrement.
    body: CachePadded<UnsafeCell<BodyTally>>,
    /// Index of the worker that runs `op` (the owner).
    owner: usize,
    registry: *const Registry,
    serial: bool,
    node: Lineage,
    /// The next spawn index not handed out (rule 3). On its own cache line:
    /// other threads' spawns bump it, and it must not share a line with the
    /// counter that finishing jobs decrement.
    next_index: CachePadded<AtomicUsize>,
    panics: Mutex<Panics>,
    // Invariant in 'scope, as rayon and std::thread::scope are.
    marker: PhantomData<fn(&'scope ()) -> &'scope ()>,
}

/// The shares `op` holds while it runs (rule 1).
const BODY_SHARE: usize = 1 << (usize::BITS - 2);

/// Spawn indices `op`'s own thread reserves at a time (rule 3).
const INDEX_BLOCK: usize = 64;

/// Spawns made by `op`'s own thread while `op` runs (rule 1), and the
/// block of spawn indices it hands out (rule 3).
struct BodyTally {
    running: bool,
    spawns: usize,
    /// The next index of the block, and the end of the block.
    next_index: usize,
    block_end: usize,
}

#[derive(Default)]
struct Panics {
    first: Option<(usize, Box<dyn Any + Send>)>,
    count: usize,
}

// SAFETY: the raw pointers are the registry (alive for the whole scope: its
// owner worker holds an Arc) and the lineage node (only compared, and read by
// workers of the same pool while the scope waits: job rule 5). Everything
// else is Sync.
unsafe impl Sync for Scope<'_> {}
// SAFETY: as for Sync; a `&Scope` is what jobs on other threads receive.
unsafe impl Send for Scope<'_> {}

/// The panic a [`scope`] re-raises when more than one of its jobs panicked:
/// the first one by spawn order, and how many others there were.
///
/// ```
/// use triad::threads::{scope, ScopePanic};
/// let caught = std::panic::catch_unwind(|| {
///     scope(|s| {
///         s.spawn(|_| panic!("first"));
///         s.spawn(|_| panic!("second"));
///     })
/// })
/// .unwrap_err();
/// let scope_panic = caught.downcast::<ScopePanic>().unwrap();
/// assert_eq!(scope_panic.spawn_index(), 1);
/// assert_eq!(scope_panic.others(), 1);
/// assert_eq!(scope_panic.payload().downcast_ref::<&str>(), Some(&"first"));
/// ```
pub struct ScopePanic {
    payload: Box<dyn Any + Send>,
    spawn_index: usize,
    others: usize,
}

impl ScopePanic {
    /// The first panic's payload, as `panic!` gave it.
    ///
    /// ```
    /// use triad::threads::{scope, ScopePanic};
    /// let caught = std::panic::catch_unwind(|| {
    ///     scope(|s| {
    ///         s.spawn(|_| panic!("first"));
    ///         s.spawn(|_| panic!("second"));
    ///     })
    /// })
    /// .unwrap_err();
    /// let scope_panic = caught.downcast::<ScopePanic>().unwrap();
    /// assert_eq!(scope_panic.payload().downcast_ref::<&str>(), Some(&"first"));
    /// ```
    pub fn payload(&self) -> &(dyn Any + Send) {
        &*self.payload
    }

    /// Take the first panic's payload (for `std::panic::resume_unwind`).
    ///
    /// ```
    /// # use triad::threads::{scope, ScopePanic};
    /// # let caught = std::panic::catch_unwind(|| {
    /// #     scope(|s| {
    /// #         s.spawn(|_| panic!("first"));
    /// #         s.spawn(|_| panic!("second"));
    /// #     })
    /// # })
    /// # .unwrap_err();
    /// let scope_panic = caught.downcast::<ScopePanic>().unwrap();
    /// let payload = scope_panic.into_payload(); // for std::panic::resume_unwind
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"first"));
    /// ```
    pub fn into_payload(self) -> Box<dyn Any + Send> {
        self.payload
    }

    /// Which job panicked first: 0 for the scope's body, then 1, 2, ... for
    /// the jobs in the order they were spawned.
    ///
    /// ```
    /// # use triad::threads::{scope, ScopePanic};
    /// let caught = std::panic::catch_unwind(|| {
    ///     scope(|s| {
    ///         s.spawn(|_| panic!("job 1"));
    ///         panic!("the body");
    ///     })
    /// })
    /// .unwrap_err();
    /// let scope_panic = caught.downcast::<ScopePanic>().unwrap();
    /// assert_eq!(scope_panic.spawn_index(), 0); // the body comes first
    /// ```
    pub fn spawn_index(&self) -> usize {
        self.spawn_index
    }

    /// How many other jobs of the scope panicked.
    ///
    /// ```
    /// # use triad::threads::{scope, ScopePanic};
    /// let caught = std::panic::catch_unwind(|| {
    ///     scope(|s| {
    ///         for i in 0..3 {
    ///             s.spawn(move |_| panic!("job {i}"));
    ///         }
    ///     })
    /// })
    /// .unwrap_err();
    /// assert_eq!(caught.downcast::<ScopePanic>().unwrap().others(), 2);
    /// ```
    pub fn others(&self) -> usize {
        self.others
    }
}

impl fmt::Debug for ScopePanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopePanic")
            .field("message", &panic_message(&*self.payload))
            .field("spawn_index", &self.spawn_index)
            .field("others", &self.others)
            .finish()
    }
}

impl fmt::Display for ScopePanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "scope job {} panicked: {} (and {} other job(s) panicked)",
            self.spawn_index,
            panic_message(&*self.payload),
            self.others
        )
    }
}

/// The text of a panic payload, if it has one.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "<non-string panic payload>"
    }
}

impl<'scope> Scope<'scope> {
    /// Spawn a job that may borrow anything that outlives the scope. The
    /// scope waits for it before it returns.
    ///
    /// ```
    /// let mut parts = [0u64; 4];
    /// triad::threads::scope(|s| {
    ///     for (i, part) in parts.iter_mut().enumerate() {
    ///         s.spawn(move |_| *part = (i as u64 + 1) * 10);
    ///     }
    /// });
    /// assert_eq!(parts, [10, 20, 30, 40]);
    /// ```
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce(&Scope<'scope>) + Send + 'scope,
    {
        // SAFETY: the registry outlives the scope (see the Sync proof).
        let registry = unsafe { &*self.registry };
        let worker = WorkerThread::current_in(registry);
        let index = self.count_spawn(worker.is_some_and(|wt| wt.index == self.owner));
        if self.serial {
            // Serial debug mode: run at the call site, and give the share
            // back at once.
            self.run_job(index, f);
            // SAFETY: the latch is alive until the count reaches zero, which
            // is this call at the earliest (rules 1, 2).
            unsafe { CountLatch::set(&self.latch) };
            return;
        }
        // The job captures only `f`: its lineage is the scope's node (rule
        // 4), whose id is the scope's address, and its tag is its spawn
        // index. So a closure that captures up to two words travels inside
        // its `JobRef` (job rule 6).
        let job = move |lineage: *const Lineage, index: usize| {
            // SAFETY: the lineage is `self.node` (below), alive with the
            // scope, which outlives its jobs (rule 2); its id is the scope.
            let scope = unsafe { &*((*lineage).id as *const Scope<'scope>) };
            scope.run_job(index, f);
            scope.job_done();
        };
        let job_ref = SmallJob::into_job_ref(job, &self.node, index);
        match worker {
            Some(wt) => wt.push(job_ref),
            // From a thread that is not this pool's: the overflow queue,
            // which the scope's owner searches even under a restricted
            // wait policy (wait-policy rule 5).
            None => registry.push_overflow(job_ref),
        }
    }

    /// Run a job's closure, recording its panic (rule 3).
    fn run_job<F>(&self, index: usize, f: F)
    where
        F: FnOnce(&Scope<'scope>) + Send + 'scope,
    {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| f(self))) {
            self.record_panic(index, payload);
        }
    }

    /// A job is done: give its share back (rule 1), through the worker
    /// that ran it, which may hold it a while (worker rules 4-6).
    #[inline]
    fn job_done(&self) {
        // SAFETY: the registry outlives the scope (see the Sync proof).
        let registry = unsafe { &*self.registry };
        match WorkerThread::current_in(registry) {
            Some(wt) => wt.hold_share(&self.latch, &self.node),
            // SAFETY: the latch is alive until the count reaches zero, which
            // is this call at the earliest (rules 1, 2).
            None => unsafe { CountLatch::set(&self.latch) },
        }
    }

    /// Count one more job, before it is published (rule 1), and give it
    /// its spawn index (rule 3).
    fn count_spawn(&self, on_owner_thread: bool) -> usize {
        if on_owner_thread {
            // SAFETY: only the owner's thread touches the tally (rule 1), and
            // we are on it; no reference to it outlives this block.
            let index = self.body.with_mut(|body| unsafe {
                let body = &mut *body;
                if !body.running {
                    return None;
                }
                body.spawns += 1;
                if body.next_index == body.block_end {
                    // Relaxed: the index only orders panics (rule 3), not
                    // memory.
                    body.next_index = self.next_index.fetch_add(INDEX_BLOCK, Relaxed);
                    body.block_end = body.next_index + INDEX_BLOCK;
                }
                body.next_index += 1;
                Some(body.next_index - 1)
            });
            if let Some(index) = index {
                return index;
            }
        }
        self.latch.increment();
        // Relaxed: as above.
        self.next_index.fetch_add(1, Relaxed)
    }

    fn record_panic(&self, index: usize, payload: Box<dyn Any + Send>) {
        let mut panics = crate::sync::lock(&self.panics);
        panics.count += 1;
        let discarded = match &panics.first {
            Some((first, _)) if *first < index => payload,
            _ => match panics.first.replace((index, payload)) {
                Some((_, previous)) => previous,
                None => return,
            },
        };
        drop(panics);
        // The payload's `Drop` is user code: its panic must not leave the
        // job (job rule 7), nor the body's `scope_on`, which must still wait.
        contain_panic(move || drop(discarded));
    }
}

/// Create a scope: every job spawned in it completes before `scope` returns,
/// so jobs may borrow from the caller. Outside any pool it runs in the
/// global pool.
///
/// # Panics
///
/// Once every job is done, re-raises the first panic by spawn order (the
/// body's own first): unchanged if it was the only one, otherwise as a
/// [`ScopePanic`] counting the others.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let hits = AtomicUsize::new(0);
/// triad::threads::scope(|s| {
///     for _ in 0..100 {
///         s.spawn(|_| {
///             hits.fetch_add(1, Ordering::Relaxed);
///         });
///     }
/// });
/// assert_eq!(hits.into_inner(), 100);
/// ```
pub fn scope<'scope, OP, R>(op: OP) -> R
where
    OP: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    let wt = WorkerThread::current();
    if !wt.is_null() {
        // SAFETY: a non-null current worker is alive (see `current_in`).
        let wt = unsafe { &*wt };
        return scope_on(wt, wt.registry.wait_policy, op);
    }
    super::global::run(move |wt| scope_on(wt, wt.registry.wait_policy, op))
}

/// [`scope`] with an explicit [`WaitPolicy`] for its final wait.
///
/// ```
/// use triad::threads::{scope_with, WaitPolicy};
/// let n = scope_with(WaitPolicy::NoSteal, |s| {
///     s.spawn(|_| {});
///     7
/// });
/// assert_eq!(n, 7);
/// ```
pub fn scope_with<'scope, OP, R>(policy: WaitPolicy, op: OP) -> R
where
    OP: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    let wt = WorkerThread::current();
    if !wt.is_null() {
        // SAFETY: as in `scope`.
        return scope_on(unsafe { &*wt }, policy, op);
    }
    super::global::run(move |wt| scope_on(wt, policy, op))
}

pub(crate) fn scope_on<'scope, OP, R>(wt: &WorkerThread, policy: WaitPolicy, op: OP) -> R
where
    OP: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    let mut scope = Scope {
        latch: CountLatch::with_count(&wt.registry, wt.index, BODY_SHARE),
        body: CachePadded(UnsafeCell::new(BodyTally {
            running: true,
            spawns: 0,
            next_index: 0,
            block_end: 0, // empty: the first spawn reserves a block
        })),
        owner: wt.index,
        registry: &*wt.registry,
        serial: wt.registry.serial,
        node: Lineage {
            id: std::ptr::null(),
            parent: wt.lineage(),
        },
        next_index: CachePadded(AtomicUsize::new(1)),
        panics: Mutex::new(Panics::default()),
        marker: PhantomData,
    };
    // From here on `scope` is never moved: jobs will point at it (rule 2).
    // The id is the pointer jobs reach the scope through (rule 2), so it is
    // made raw and written through itself: a pointer taken from `&scope`
    // would be invalidated by the write that stores it (Miri, Stacked
    // Borrows); this one stays valid under the shared borrows that follow.
    let scope_ptr = std::ptr::addr_of_mut!(scope);
    // SAFETY: `scope_ptr` points at the live local above; no reference to
    // it exists yet.
    unsafe { (*scope_ptr).node.id = scope_ptr as *const () };

    let saved = wt.enter_lineage(&scope.node);
    let result = panic::catch_unwind(AssertUnwindSafe(|| op(&scope)));
    wt.restore_lineage(saved);
    let result = match result {
        Ok(value) => Some(value),
        Err(payload) => {
            scope.record_panic(0, payload);
            None
        }
    };
    // Rule 1: `op` is done; give back its shares less its tally at once.
    // SAFETY: only the owner's thread (this one) touches the tally.
    let spawns = scope.body.with_mut(|body| unsafe {
        (*body).running = false;
        (*body).spawns
    });
    // SAFETY: the latch is alive (it is ours, and we wait for it below).
    unsafe { CountLatch::release(&scope.latch, BODY_SHARE - spawns) };
    wt.wait_until(&Wait {
        latch: Some(scope.latch.spin_latch().core()),
        target: scope.node.id,
        is_scope: true,
        target_in_injector: false,
        policy,
    });

    let panics = std::mem::take(&mut *crate::sync::lock(&scope.panics));
    match panics.first {
        None => result.expect("scope body neither returned nor panicked"),
        Some((_, payload)) if panics.count == 1 => panic::resume_unwind(payload),
        Some((spawn_index, payload)) => panic::resume_unwind(Box::new(ScopePanic {
            payload,
            spawn_index,
            others: panics.count - 1,
        })),
    }
}
