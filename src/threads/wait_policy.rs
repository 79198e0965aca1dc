//! What a waiting worker may run while it waits.
//!
//! A worker that waits (for the stolen half of a `join`, for the jobs of a
//! `scope`, for a `JoinHandle`) does not block its thread: it runs other jobs
//! meanwhile. Which jobs is the wait policy:
//!
//! | policy | the waiter may run | as |
//! |---|---|---|
//! | [`WaitPolicy::StealAny`] | any job of the pool | rayon |
//! | [`WaitPolicy::Descendants`] | only jobs created, directly or not, by what it waits for | nested-only stealing |
//! | [`WaitPolicy::NoSteal`] | only the job it waits for (or the scope's own jobs) from its own deque | blocking, but never on itself |
//!
//! # Why restrict
//!
//! The best-known rayon deadlock: a job takes a lock and calls `join`; while
//! it waits for the stolen half, its thread steals an unrelated job that
//! takes the same lock, on the same thread that already holds it. Under
//! `Descendants` or `NoSteal` the waiter never runs an unrelated job, so it
//! never re-enters code that could need what its own stack holds.
//!
//! # How descent is known
//!
//! Every job records the [`Lineage`](super::job::Lineage) node of the job
//! that was running when it was made; executing a job pushes a node for it.
//! A job descends from `X` when the chain of nodes from its lineage up to the
//! root passes through `X` (job rule 5 keeps the chain alive).
//!
//! # Rules
//!
//! 1. A restricted waiter that steals a job it may not run moves it to the
//!    pool's overflow queue, which every unrestricted worker drains; it never
//!    pushes it back to a deque it could steal it from again.
//! 2. A restricted waiter never takes from the injector: jobs there are roots
//!    (`spawn`, `install`), which descend from nothing.
//! 3. New work does not wake restricted sleepers (they could not run it); a
//!    job moved to the overflow queue wakes every sleeper, because the one
//!    worker that may run it can be a restricted waiter.
//! 4. Whatever the policy, a waiter may always run the very job it waits for
//!    if it finds it: so a one-thread pool never deadlocks on itself.
//! 5. A job with a lineage handed in from outside the pool's workers goes
//!    to the overflow queue, not the injector: a scope's spawn from a
//!    thread that is not the pool's, and an `install` (or `join`, `scope`)
//!    from a worker of another pool, whose job carries that worker's
//!    lineage. The waiter that may run it (the scope's owner; a worker of
//!    this pool waiting for the other pool's job that made it) can be
//!    restricted, and the overflow queue is the shared queue restricted
//!    waiters search (rule 3 wakes them).
//! 6. **A finished target matches nothing.** A target is known by its
//!    address: a join frame's or a scope's (alive for the whole wait), or
//!    a `spawn`ed job's heap block, which is freed once the job has run, and
//!    can be reused by a later, unrelated job. The job sends its outcome,
//!    which sets the waiter's latch, before its block is freed; and a job
//!    reusing the block reaches the waiter only through a queue, after the
//!    free. So a restricted waiter first checks its latch: once it is set,
//!    no job is related to the wait any more (it goes to the overflow
//!    queue, rule 1), and the waiter returns.
//!
//! Across pools, `NoSteal` blocks: a worker waiting for another pool's job
//! runs nothing of its own pool, so if that job calls back into the
//! waiter's pool and the waiter is its only free thread, they deadlock, as
//! two blocking pools would. `Descendants` runs the call back (rule 5).

/// What a waiting worker may run while it waits. See the module docs.
///
/// ```
/// use triad::threads::{join, ThreadPool, WaitPolicy};
/// assert_eq!(WaitPolicy::default(), WaitPolicy::StealAny);
/// let pool = ThreadPool::builder().num_threads(2).wait_policy(WaitPolicy::Descendants).build().unwrap();
/// assert_eq!(pool.install(|| join(|| 'a', || 'b')).unwrap(), ('a', 'b'));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WaitPolicy {
    /// Run any job of the pool while waiting (rayon's behaviour; the fastest).
    #[default]
    StealAny,
    /// Run only jobs that descend from what is awaited.
    Descendants,
    /// Run only the awaited job itself (or the awaited scope's own jobs).
    NoSteal,
}

impl WaitPolicy {
    pub(crate) fn is_restricted(self) -> bool {
        self != WaitPolicy::StealAny
    }
}
