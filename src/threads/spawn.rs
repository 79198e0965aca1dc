//! `spawn(f)`: run a `'static` closure on the pool and get a handle to its
//! result, which can be waited on (`join`) or awaited (it is a `Future`).
//!
//! ```text
//!   spawn(f) ──► HeapJob ──► injector ──► a worker runs f, catching a panic
//!      │                                         │
//!      └──► JoinHandle ◄── oneshot (sync/oneshot.rs) ◄── Ok(value) | Err(panic)
//! ```
//!
//! Rules:
//!
//! 1. Exactly one outcome: the job sends its value or its panic; if the job
//!    is dropped unexecuted, its sender's drop closes the cell and the handle
//!    reports `Cancelled`. (The pool never drops queued work: it runs it all
//!    before its threads exit, see `pool.rs`.)
//! 2. A panic never leaves the job: it becomes the handle's error and the
//!    worker goes on. Nor does a panic of what the send runs (the handle's
//!    waker; the value's drop if the handle was dropped): it is dropped.
//! 3. `JoinHandle::join` on a worker (of this pool or another) does not
//!    block the thread: the worker runs other jobs of its own pool until
//!    the result is there, woken by a waker that sets a latch it sleeps on
//!    through its own pool's sleep protocol. So two pools whose jobs join
//!    each other's handles cannot deadlock by blocking the one thread that
//!    could run the awaited job. Outside every pool it blocks.
//!    [`receive_helping`] does the same for a cell filled elsewhere (the
//!    runtime's blocking jobs, which may spawn and join jobs of this pool).
//! 4. Dropping the handle detaches the job: it still runs.
//! 5. In a process forked from the pool's (where its threads do not
//!    exist), the handle gives the outcome if it came before the fork, and
//!    otherwise `JoinError::is_pool_unavailable` at once: it never waits,
//!    neither for the job nor for the outcome cell's lock, which a thread
//!    of the parent may have held at the fork (oneshot rule 5).
//! 6. `JoinHandle::join_timeout` waits at most its timeout and never runs
//!    other jobs meanwhile, not even on a worker (unlike rule 3): a job it
//!    ran could take longer than the timeout. On a worker it so blocks the
//!    thread for at most the timeout; a job that only this worker could
//!    run is not run, and the wait times out. A timeout leaves the handle
//!    as it was (the outcome cell goes back to EMPTY, oneshot's
//!    `receive_timeout`): it can be joined, waited for or awaited again.
//!    In a forked child it answers at once, as rule 5 has it.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use super::error::JoinError;
use super::job::{contain_panic, HeapJob};
use super::latch::CoreLatch;
use super::registry::Registry;
use super::worker::{Wait, WorkerThread};
use crate::sync::oneshot;
use crate::sync::Arc;

/// A handle to a job started by [`spawn`] or
/// [`ThreadPool::spawn`](super::ThreadPool::spawn).
///
/// Wait for it with [`join`](JoinHandle::join) or `.await` it. Dropping it
/// detaches the job, which still runs (and lets go of the waker of the task
/// that awaited it). Once a poll has delivered the outcome the handle is
/// spent, as any finished future: polling it again, or `join`, panics.
///
/// ```
/// let handle: triad::threads::JoinHandle<String> = triad::threads::spawn(|| "ready".to_string());
/// assert_eq!(handle.join().unwrap(), "ready");
/// ```
#[must_use = "dropping a JoinHandle detaches the job; call .join() or .await it to get its result"]
pub struct JoinHandle<T> {
    receiver: oneshot::Receiver<Result<T, JoinError>>,
    registry: Arc<Registry>,
    job_id: usize,
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T: Send + 'static> JoinHandle<T> {
    /// Wait for the job and return its value, or why there is none.
    ///
    /// ```
    /// let handle = triad::threads::spawn(|| 6 * 7);
    /// assert_eq!(handle.join().unwrap(), 42);
    ///
    /// let failed = triad::threads::spawn(|| -> u32 { panic!("boom") });
    /// let error = failed.join().unwrap_err();
    /// assert!(error.is_panic());
    /// assert_eq!(error.panic_message(), Some("boom"));
    /// ```
    pub fn join(mut self) -> Result<T, JoinError> {
        if !self.registry.is_usable_here() {
            return self.outcome_in_child();
        }
        if let Some(outcome) = self.receiver.try_receive() {
            return outcome.unwrap_or_else(|| Err(JoinError::cancelled()));
        }
        let outcome = match WorkerThread::current_usable() {
            Some(wt) => self.join_on_worker(wt),
            None => self.receiver.receive_blocking(),
        };
        outcome.unwrap_or_else(|| Err(JoinError::cancelled()))
    }

    /// [`join`](Self::join) for at most `timeout`: `None` if the outcome is
    /// not there by then, and the handle can be joined, waited for or
    /// awaited again. It never runs other jobs meanwhile, even on a worker
    /// of the pool (rule 6): it blocks the calling thread for at most
    /// `timeout`. In a process forked from the pool's it answers at once
    /// (rule 5).
    ///
    /// # Panics
    ///
    /// If the outcome was already taken.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = triad::threads::ThreadPool::builder().num_threads(1).build().unwrap();
    /// let mut handle = pool.spawn(|| {
    ///     std::thread::sleep(Duration::from_millis(200));
    ///     7
    /// });
    /// assert!(handle.join_timeout(Duration::from_millis(1)).is_none()); // not yet
    /// assert_eq!(handle.join_timeout(Duration::from_secs(30)).unwrap().unwrap(), 7);
    /// ```
    pub fn join_timeout(&mut self, timeout: Duration) -> Option<Result<T, JoinError>> {
        if !self.registry.is_usable_here() {
            return Some(self.outcome_in_child());
        }
        // Rule 6: a plain timed wait on the cell.
        let outcome = self.receiver.receive_timeout(timeout)?;
        Some(outcome.unwrap_or_else(|| Err(JoinError::cancelled())))
    }

    /// Rule 3: run other jobs until the outcome is there.
    fn join_on_worker(&mut self, wt: &WorkerThread) -> Option<Result<T, JoinError>> {
        // The job can be found (and run, whatever the wait policy) only in
        // the injector of its own pool.
        let target_in_injector = std::ptr::eq(&*wt.registry, &*self.registry);
        // An id to compare with, never dereferenced: no provenance.
        let target = std::ptr::null::<()>().wrapping_byte_add(self.job_id);
        receive_on_worker(wt, &mut self.receiver, target, target_in_injector)
    }
}

/// Rule 3 for a cell that something other than a job of a pool fills (the
/// runtime's blocking jobs): on a worker of any pool, run other jobs of its
/// own pool until `receiver` has its outcome (a job it waits for may need
/// this very thread: a blocking job joining a job it spawned on a one-thread
/// pool); elsewhere block. `None` if the cell was closed unsent.
#[cfg_attr(not(feature = "runtime"), allow(dead_code))]
pub(crate) fn receive_helping<T>(receiver: &mut oneshot::Receiver<T>) -> Option<T> {
    if let Some(outcome) = receiver.try_receive() {
        return outcome;
    }
    match WorkerThread::current_usable() {
        // No job of a pool is awaited: nothing to look for by lineage.
        Some(wt) => receive_on_worker(wt, receiver, std::ptr::null(), false),
        None => receiver.receive_blocking(),
    }
}

/// Rule 3: on worker `wt` (of any pool), run other jobs of its own pool
/// until `receiver` has its outcome, instead of blocking the thread. The
/// wait policy may restrict those jobs to the descendants of `target`
/// (found in the injector too if `target_in_injector`).
pub(crate) fn receive_on_worker<T>(
    wt: &WorkerThread,
    receiver: &mut oneshot::Receiver<T>,
    target: *const (),
    target_in_injector: bool,
) -> Option<T> {
    // Rule 3: the waker wakes `wt` in its own pool, which need not be the
    // sender's.
    let latch = std::sync::Arc::new(WakeLatch {
        core: CoreLatch::new(),
        registry: wt.registry.clone(),
        owner: wt.index,
    });
    let waker = Waker::from(latch.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(outcome) = receiver.poll_receive(&mut cx) {
            return outcome;
        }
        wt.wait_until(&Wait {
            latch: Some(&latch.core),
            target,
            is_scope: false,
            target_in_injector,
            policy: wt.registry.wait_policy,
        });
    }
}

impl<T> JoinHandle<T> {
    /// Whether the job has finished (a `join` would not wait), also once
    /// its outcome was taken by awaiting the handle.
    ///
    /// ```
    /// let handle = triad::threads::spawn(|| 1);
    /// while !handle.is_finished() {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(handle.join().unwrap(), 1); // returns at once
    /// ```
    pub fn is_finished(&self) -> bool {
        if !self.registry.is_usable_here() {
            // Rule 5: `join` returns at once there, with an error if the
            // outcome cannot be read.
            return self.receiver.is_complete_in_child().unwrap_or(true);
        }
        self.receiver.is_complete()
    }
}

impl<T> JoinHandle<T> {
    /// Test hook (rule 5): the outcome cell's lock, held for ever.
    #[cfg(test)]
    pub(crate) fn leak_cell_lock_for_test(&self) {
        self.receiver.leak_lock_for_test();
    }

    /// In a forked child (rule 5): the outcome if it came before the fork,
    /// else `pool_unavailable`, without waiting for a lock that a thread
    /// of the parent may have held at the fork (oneshot rule 5).
    fn outcome_in_child(&mut self) -> Result<T, JoinError> {
        match self.receiver.try_receive_in_child() {
            Some(outcome) => outcome.unwrap_or_else(|| Err(JoinError::cancelled())),
            None => Err(JoinError::pool_unavailable()),
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.registry.is_usable_here() {
            return Poll::Ready(self.outcome_in_child());
        }
        self.receiver
            .poll_receive(cx)
            .map(|outcome| outcome.unwrap_or_else(|| Err(JoinError::cancelled())))
    }
}

/// A latch a waker sets: how a worker blocked in `JoinHandle::join` learns
/// that the result arrived. (std's `Wake` needs std's `Arc`; this path is not
/// part of any loom model.)
struct WakeLatch {
    core: CoreLatch,
    registry: Arc<Registry>,
    owner: usize,
}

impl Wake for WakeLatch {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        // SAFETY: the latch lives in an Arc we hold, so it outlives the call
        // (latch rule 3 is kept trivially).
        if unsafe { CoreLatch::set(&self.core) } {
            self.registry.sleep.wake_worker(self.owner);
        }
    }
}

impl Registry {
    /// Start `f` on this pool (see the module docs).
    ///
    /// (`this: &Arc<Self>` rather than `self: &Arc<Self>`: loom's `Arc`
    /// cannot be a receiver on stable Rust.)
    pub(crate) fn spawn<F, T>(this: &Arc<Self>, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        let mut handle = JoinHandle {
            receiver,
            registry: this.clone(),
            job_id: 0,
        };
        if !this.is_usable_here() {
            sender.send(Err(JoinError::pool_unavailable()));
            return handle;
        }
        let job = move || {
            let outcome = panic::catch_unwind(AssertUnwindSafe(f)).map_err(JoinError::panicked);
            // Rules 1, 2. Sending runs user code too: the handle's waker, or,
            // if the handle is gone, the drop of the value or the payload.
            // Its panic stays here as well (job rule 7).
            contain_panic(move || sender.send(outcome));
        };
        if this.serial {
            // Serial debug mode: run now, before `spawn` returns, but on
            // the pool's worker (the caller's thread if it is that worker),
            // as in parallel mode: what the job calls (`join`, `spawn`,
            // `current_thread_index`) must find this pool, not the caller's
            // thread or the global pool. The job catches its own panic.
            this.in_worker(move |_| job());
            return handle;
        }
        let job_ref = HeapJob::into_job_ref(job, std::ptr::null());
        handle.job_id = job_ref.id() as usize;
        this.inject(job_ref);
        handle
    }
}

/// Run `f` on the current pool (the global pool outside any pool) and
/// return a handle to its result.
///
/// ```
/// let handles: Vec<_> = (0..4u64).map(|i| triad::threads::spawn(move || i * i)).collect();
/// let squares: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
/// assert_eq!(squares, [0, 1, 4, 9]);
/// ```
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let wt = WorkerThread::current();
    // SAFETY: a non-null current worker is alive (see `current_in`).
    match unsafe { wt.as_ref() } {
        Some(wt) => Registry::spawn(&wt.registry, f),
        None => Registry::spawn(super::global::registry(), f),
    }
}
