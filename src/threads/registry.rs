//! The state a pool's workers share: queues, sleep state, counters.
//!
//! ```text
//!   outside threads ──push──► Injector (FIFO, shared) ──steal──┐
//!                                                              ▼
//!   worker 0: [ deque 0 (LIFO) ] ◄─pop─ worker 0        worker 1 ...
//!                  ▲  └──steal (oldest first)──► other workers
//!                  │
//!        promote: a join frame made public when someone is hungry
//!
//!   overflow (rare): jobs a restricted waiter stole but may not run, and
//!   jobs with a lineage handed in from outside (wait-policy rules 1, 5)
//! ```
//!
//! The registry lives in an `Arc` shared by the `ThreadPool` handle and
//! every worker thread; it outlives every job of the pool (each job runs on
//! a worker, which holds the `Arc`).

use std::collections::VecDeque;

use super::job::{JobRef, StackJob};
use super::latch::{CrossPoolLatch, LockLatch};
use super::sleep::Sleep;
use super::wait_policy::WaitPolicy;
use super::worker::{Wait, WorkerThread};
use super::WorkerStats;
use crate::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use crate::sync::deque::{Injector, Steal, Stealer};
use crate::sync::{CachePadded, Mutex};

type Hook = Box<dyn Fn(usize) + Send + Sync>;

/// One worker's counters. Only the worker itself writes them (a load and a
/// store, no read-modify-write), anyone may read them.
#[derive(Default)]
pub(crate) struct WorkerCounters {
    pub(crate) jobs_executed: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) sleeps: AtomicU64,
    pub(crate) wakeups: AtomicU64,
    pub(crate) promotions: AtomicU64,
}

impl WorkerCounters {
    /// Single-writer increment: Relaxed, since the counters order nothing.
    #[inline]
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.store(counter.load(Relaxed) + 1, Relaxed);
    }
}

/// Everything the workers of one pool share.
pub(crate) struct Registry {
    pub(crate) injector: Injector<JobRef>,
    pub(crate) stealers: Box<[Stealer<JobRef>]>,
    pub(crate) sleep: Sleep,
    /// Workers that looked for work and found none (spinning, waiting or
    /// asleep). `join` makes its frames public only while this is non-zero.
    pub(crate) hungry: CachePadded<AtomicUsize>,
    overflow: Mutex<VecDeque<JobRef>>,
    overflow_len: AtomicUsize,
    pub(crate) terminate: AtomicBool,
    pub(crate) wait_policy: WaitPolicy,
    pub(crate) serial: bool,
    pub(crate) fork_generation: u64,
    pub(crate) counters: Box<[CachePadded<WorkerCounters>]>,
    pub(crate) start_hook: Option<Hook>,
    pub(crate) exit_hook: Option<Hook>,
}

impl Registry {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        stealers: Vec<Stealer<JobRef>>,
        wait_policy: WaitPolicy,
        serial: bool,
        fork_generation: u64,
        start_hook: Option<Hook>,
        exit_hook: Option<Hook>,
    ) -> Self {
        let n = stealers.len();
        Registry {
            injector: Injector::new(),
            stealers: stealers.into_boxed_slice(),
            sleep: Sleep::new(n),
            hungry: CachePadded(AtomicUsize::new(0)),
            overflow: Mutex::new(VecDeque::new()),
            overflow_len: AtomicUsize::new(0),
            terminate: AtomicBool::new(false),
            wait_policy,
            serial,
            fork_generation,
            counters: (0..n).map(|_| CachePadded::default()).collect(),
            start_hook,
            exit_hook,
        }
    }

    pub(crate) fn num_threads(&self) -> usize {
        self.stealers.len()
    }

    /// Whether this pool's threads exist in this process (fork rule 3).
    pub(crate) fn is_usable_here(&self) -> bool {
        crate::sys::fork::generation() == self.fork_generation
    }

    /// Publish a job from outside the pool (or a root job from inside).
    pub(crate) fn inject(&self, job: JobRef) {
        self.injector.push(job);
        self.sleep.notify_new_work(0);
    }

    /// Take one job from the injector into `dest`'s care.
    pub(crate) fn steal_injected(
        &self,
        dest: &crate::sync::deque::Worker<JobRef>,
    ) -> Option<JobRef> {
        loop {
            match self.injector.steal_batch_and_pop(dest) {
                Steal::Success(job) => return Some(job),
                Steal::Empty => return None,
                Steal::Retry => crate::sync::spin_loop(),
            }
        }
    }

    /// Wait-policy rule 1: park a job a restricted waiter may not run; rule
    /// 5: hand in a job with a lineage from outside the pool's workers.
    #[cold]
    pub(crate) fn push_overflow(&self, job: JobRef) {
        let mut queue = crate::sync::lock(&self.overflow);
        queue.push_back(job);
        // Relaxed: a hint for `has_overflow`; the job itself is handed over
        // by the mutex.
        self.overflow_len.store(queue.len(), Relaxed);
        drop(queue);
        // Wait-policy rule 3: the one worker that may run it may be a
        // restricted sleeper. (`wake_all` fences first, as a publisher must:
        // sleep rule 1.)
        self.sleep.wake_all();
    }

    /// Whether the overflow queue may hold a job (a hint; check under lock).
    #[inline]
    pub(crate) fn has_overflow(&self) -> bool {
        self.overflow_len.load(Relaxed) != 0
    }

    /// Take the first overflow job that `may_run` accepts.
    pub(crate) fn take_overflow(&self, may_run: impl Fn(&JobRef) -> bool) -> Option<JobRef> {
        if !self.has_overflow() {
            return None;
        }
        let mut queue = crate::sync::lock(&self.overflow);
        let position = queue.iter().position(may_run)?;
        let job = queue.remove(position);
        self.overflow_len.store(queue.len(), Relaxed);
        job
    }

    /// Whether the overflow queue holds a job that `may_run` accepts.
    pub(crate) fn overflow_has(&self, may_run: impl Fn(&JobRef) -> bool) -> bool {
        self.has_overflow() && crate::sync::lock(&self.overflow).iter().any(may_run)
    }

    /// Whether any job may be waiting somewhere (W4 of the sleep protocol).
    pub(crate) fn has_any_work(&self) -> bool {
        !self.injector.is_empty()
            || self.has_overflow()
            || self.stealers.iter().any(|s| !s.is_empty())
    }

    /// Tell every worker to leave its main loop once it finds no more work.
    pub(crate) fn terminate(&self) {
        // Release: pairs with the workers' load; `wake_all` fences, so a worker
        // about to sleep sees the flag in W4 (sleep rule 1).
        self.terminate.store(true, Release);
        self.sleep.wake_all();
    }

    pub(crate) fn stats(&self) -> Vec<WorkerStats> {
        self.counters
            .iter()
            .map(|c| WorkerStats {
                jobs_executed: c.jobs_executed.load(Relaxed),
                steals: c.steals.load(Relaxed),
                sleeps: c.sleeps.load(Relaxed),
                wakeups: c.wakeups.load(Relaxed),
                promotions: c.promotions.load(Relaxed),
            })
            .collect()
    }
}

impl Registry {
    /// Run `f` on a worker of this pool: directly if the calling thread is
    /// one, otherwise by injecting a job and waiting until it is done. A
    /// thread outside every pool blocks; a worker of *another* pool waits
    /// as it waits for a `join`, running its own pool's work meanwhile (as
    /// its wait policy allows), so that pools that install into each other
    /// (`a.install(|| b.install(|| a.install(..)))`) cannot deadlock by
    /// blocking the one thread that could run the innermost job.
    pub(crate) fn in_worker<F, R>(&self, f: F) -> R
    where
        F: FnOnce(&WorkerThread) -> R + Send,
        R: Send,
    {
        match WorkerThread::current_in(self) {
            Some(wt) => f(wt),
            None => match WorkerThread::current_usable() {
                Some(waiter) => self.in_worker_cross(waiter, f),
                None => self.in_worker_cold(f),
            },
        }
    }

    /// `in_worker` from `waiter`, a worker of another pool.
    #[cold]
    fn in_worker_cross<F, R>(&self, waiter: &WorkerThread, f: F) -> R
    where
        F: FnOnce(&WorkerThread) -> R + Send,
        R: Send,
    {
        let job = StackJob::new(
            on_current_worker(f),
            // Setting it wakes `waiter` through its own pool's sleep
            // protocol; the latch's own `Arc` keeps that registry alive for
            // the set, which a thread of this pool makes.
            CrossPoolLatch::new(&waiter.registry, waiter.index),
        );
        // The job descends from the one `waiter` runs: a worker of this
        // pool that waits, under `Descendants`, for that job of the other
        // pool may run it (wait-policy rule 5). Job rule 5 holds: `waiter`
        // waits for the job below, so its lineage chain stays alive.
        // SAFETY: `wait_until` below returns only once the latch is set
        // (a wait with a latch never ends early), so `job` stays in this
        // frame until it has run (job rule 2); a queued job is always
        // executed, since workers drain every queue before they exit. A
        // job the waiter runs meanwhile cannot unwind through this frame:
        // no job unwinds (job rule 7).
        let job_ref = unsafe { job.as_job_ref(waiter.lineage()) };
        let id = job_ref.id();
        self.push_overflow(job_ref); // wait-policy rule 5
        waiter.wait_until(&Wait {
            latch: Some(job.latch.core()),
            // The job is in this pool's queue, which the waiter never
            // searches: under a restricted policy it runs nothing meanwhile.
            target: id,
            is_scope: false,
            target_in_injector: false,
            policy: waiter.registry.wait_policy,
        });
        match job.into_result() {
            Ok(value) => value,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }

    #[cold]
    fn in_worker_cold<F, R>(&self, f: F) -> R
    where
        F: FnOnce(&WorkerThread) -> R + Send,
        R: Send,
    {
        let job = StackJob::new(on_current_worker(f), LockLatch::new());
        // SAFETY: we block on the latch below before `job` leaves this frame
        // (job rule 2); an injected job is always executed, since workers
        // drain every queue before they exit.
        let job_ref = unsafe { job.as_job_ref(std::ptr::null()) };
        self.inject(job_ref);
        job.latch.wait();
        match job.into_result() {
            Ok(value) => value,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }
}

/// `f` as an injected job: it is given the worker that runs it.
fn on_current_worker<F, R>(f: F) -> impl FnOnce() -> R + Send
where
    F: FnOnce(&WorkerThread) -> R + Send,
{
    move || {
        let wt = WorkerThread::current();
        // SAFETY: injected jobs run only on this pool's workers, where
        // CURRENT points at the live WorkerThread.
        f(unsafe { &*wt })
    }
}
