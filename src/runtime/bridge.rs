//! The bridges: handles to work on the other runtimes, awaited on the loop.
//!
//! Each handle wraps the runtime's own completion handle and changes only its
//! error type (to [`JoinError`], which says which runtime and what
//! happened). How each one wakes the loop, when awaited on it:
//!
//! ```text
//!   spawn_cpu       worker runs f ─► oneshot (sync/oneshot.rs) ─► waker.wake() ─┐
//!   spawn_blocking  blocking thread ─► the same oneshot ─────────► waker.wake() ─┤
//!   spawn_process   worker process writes the slot ─► slot eventfd ─► supervisor │
//!                   thread polls it ─► waker.wake() ──────────────────────────────┤
//!                                                                               ▼
//!        event_loop/remote.rs: inbox push under the lock; eventfd write only if
//!        the loop is parked in epoll ─► the loop polls the awaiting task again
//! ```
//!
//! Rules:
//!
//! 1. A handle never blocks the loop when awaited: its `poll` only takes
//!    short locks. Its blocking `join`/`wait` is for other threads; on the
//!    loop thread it would stall every task.
//! 2. Exactly one outcome: the runtime's own rule (threads' spawn rule 1,
//!    processes' "one outcome per task", blocking.rs rule 5), or, for work
//!    handed to a runtime already shut down, [`JoinError::is_shutdown`].
//! 3. Dropping a handle detaches the work (a loop task, a CPU job, a
//!    blocking job or a process task still runs); only
//!    [`LocalHandle::abort`] cancels.
//! 4. `spawn_process` never blocks the loop: it takes a free result slot
//!    without waiting ([`ProcessPool::try_submit`](crate::processes::ProcessPool::try_submit));
//!    when the pool is full it encodes the argument and hands the waiting
//!    submit to a blocking thread, and the handle awaits that first, then
//!    the task. The order among queued submits is the blocking queue's
//!    (FIFO), behind any submit that found a slot meanwhile; a thread that
//!    `wait`s for such a task runs its submit itself if no blocking thread
//!    has started it (blocking.rs rule 8). A caller that
//!    is itself a blocking thread of the same runtime waits for the slot
//!    itself (blocking.rs rule 6): its submit queued behind it, in a pool
//!    whose every thread waits so, would never run.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::blocking;
use super::error::{BlockingFailure, JoinError, Origin};
use crate::processes::Decode;
use crate::{event_loop, processes, threads};

/// The handle's inner state: the runtime's own handle, or the error it was
/// refused with (taken by the first look at the outcome).
enum Inner<H> {
    Live(H),
    Refused(Option<JoinError>),
}

impl<H> Inner<H> {
    fn refused(origin: Origin) -> Self {
        Inner::Refused(Some(JoinError::shutdown(origin)))
    }

    fn no_runtime(origin: Origin) -> Self {
        Inner::Refused(Some(JoinError::no_runtime(origin)))
    }
}

/// The refusal, taken once (a second poll after `Ready` is a caller bug).
fn take(error: &mut Option<JoinError>) -> JoinError {
    error.take().expect("the outcome was already taken")
}

// ------------------------------------------------------------------ loop

/// A task on the event loop, from [`spawn`](super::spawn) or
/// [`Handle::spawn`](super::Handle::spawn): `.await` it (on the loop) for its
/// output, [`abort`](Self::abort) it, or drop it to detach the task.
///
/// ```
/// use triad::runtime::spawn;
///
/// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
/// let shared = std::rc::Rc::new(21); // !Send: fine on the loop
/// let v = rt.block_on(async move { spawn(async move { *shared * 2 }).await });
/// assert_eq!(v.unwrap(), 42);
/// ```
#[must_use = "dropping a LocalHandle detaches the task; `let _ = ` if that is meant"]
pub struct LocalHandle<T> {
    inner: Inner<event_loop::JoinHandle<T>>,
}

impl<T> LocalHandle<T> {
    pub(crate) fn live(handle: event_loop::JoinHandle<T>) -> Self {
        LocalHandle {
            inner: Inner::Live(handle),
        }
    }
    pub(crate) fn refused() -> Self {
        LocalHandle {
            inner: Inner::refused(Origin::Loop),
        }
    }
    pub(crate) fn no_runtime() -> Self {
        LocalHandle {
            inner: Inner::no_runtime(Origin::Loop),
        }
    }

    /// Cancel the task (see [`event_loop::JoinHandle::abort`]); callable from
    /// any thread.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// rt.block_on(async {
    ///     let task = triad::runtime::spawn(triad::event_loop::sleep(Duration::from_secs(60)));
    ///     task.abort();
    ///     assert!(task.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        if let Inner::Live(handle) = &self.inner {
            handle.abort();
        }
    }

    /// Whether the task has finished (its outcome is ready).
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// rt.block_on(async {
    ///     let task = triad::runtime::spawn(async { 1 });
    ///     triad::event_loop::yield_now().await;
    ///     assert!(task.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            Inner::Live(handle) => handle.is_finished(),
            Inner::Refused(_) => true,
        }
    }
}

impl<T> Future for LocalHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().inner {
            Inner::Live(handle) => Pin::new(handle).poll(cx).map_err(JoinError::from_loop),
            Inner::Refused(error) => Poll::Ready(Err(take(error))),
        }
    }
}

impl<T> fmt::Debug for LocalHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

// ------------------------------------------------------------------- cpu

/// A closure on the work-stealing pool, from [`spawn_cpu`](super::spawn_cpu):
/// `.await` it on the loop, or [`join`](Self::join) it from another thread.
/// Dropping it detaches the job.
///
/// ```
/// use triad::runtime::spawn_cpu;
///
/// let rt = triad::Runtime::builder().threads(2).processes(1).build().unwrap();
/// let sum = rt.block_on(async { spawn_cpu(|| (1..=100u64).sum::<u64>()).await });
/// assert_eq!(sum.unwrap(), 5050);
/// ```
#[must_use = "dropping a CpuHandle detaches the job; .await or .join() it to get its result"]
pub struct CpuHandle<T> {
    inner: Inner<threads::JoinHandle<T>>,
}

impl<T> CpuHandle<T> {
    pub(crate) fn live(handle: threads::JoinHandle<T>) -> Self {
        CpuHandle {
            inner: Inner::Live(handle),
        }
    }
    pub(crate) fn refused() -> Self {
        CpuHandle {
            inner: Inner::refused(Origin::Cpu),
        }
    }

    pub(crate) fn no_runtime() -> Self {
        CpuHandle {
            inner: Inner::no_runtime(Origin::Cpu),
        }
    }

    /// Whether the job has finished (a `join` would not wait).
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let job = rt.handle().spawn_cpu(|| 1);
    /// while !job.is_finished() {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(job.join().unwrap(), 1);
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            Inner::Live(handle) => handle.is_finished(),
            Inner::Refused(_) => true,
        }
    }
}

impl<T: Send + 'static> CpuHandle<T> {
    /// Block this thread until the job is done (on a worker of the pool,
    /// run other jobs meanwhile). Not on the loop thread: `.await` there.
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// assert_eq!(rt.handle().spawn_cpu(|| 6 * 7).join().unwrap(), 42);
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        match self.inner {
            Inner::Live(handle) => handle.join().map_err(JoinError::from_cpu),
            Inner::Refused(mut error) => Err(take(&mut error)),
        }
    }

    /// [`join`](Self::join) for at most `timeout`: `None` if the job has not
    /// finished by then, and the handle can be joined, waited on or awaited
    /// again, as [`ProcessHandle::wait_timeout`]. Unlike `join`, it never
    /// runs other CPU jobs meanwhile, even on a worker (one could take
    /// longer than `timeout`): it blocks the thread for at most `timeout`
    /// (threads' spawn rule 6). In a process forked from the runtime's it
    /// answers at once (rule 5 there: [`JoinError::is_pool_unavailable`]
    /// if the job had not finished before the fork).
    ///
    /// # Panics
    ///
    /// If the outcome was already taken.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let mut job = rt.handle().spawn_cpu(|| {
    ///     std::thread::sleep(Duration::from_millis(200));
    ///     7
    /// });
    /// assert!(job.wait_timeout(Duration::from_millis(1)).is_none()); // not yet
    /// assert_eq!(job.wait_timeout(Duration::from_secs(30)).unwrap().unwrap(), 7);
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<T, JoinError>> {
        match &mut self.inner {
            Inner::Live(handle) => handle
                .join_timeout(timeout)
                .map(|outcome| outcome.map_err(JoinError::from_cpu)),
            Inner::Refused(error) => Some(Err(take(error))),
        }
    }
}

impl<T> Future for CpuHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().inner {
            Inner::Live(handle) => Pin::new(handle).poll(cx).map_err(JoinError::from_cpu),
            Inner::Refused(error) => Poll::Ready(Err(take(error))),
        }
    }
}

impl<T> fmt::Debug for CpuHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CpuHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

// --------------------------------------------------------------- process

/// A function running in the process pool, from
/// [`spawn_process`](super::spawn_process): `.await` it on the loop, or
/// [`wait`](Self::wait) for it from another thread. Dropping it detaches the
/// task (it still runs; its slot is freed when it finishes).
///
/// ```
/// use triad::runtime::spawn_process;
///
/// fn square(x: u64) -> u64 { x * x }
///
/// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
/// let v = rt.block_on(async { spawn_process(square, 9).await });
/// assert_eq!(v.unwrap(), 81);
/// ```
#[must_use = "dropping a ProcessHandle detaches the task; .await or .wait() it to get its result"]
pub struct ProcessHandle<R> {
    inner: ProcessInner<R>,
    /// Taken back by `cancel` before any thread submitted it: a later
    /// `cancel` says true again, as the pool's handle does.
    withdrawn: bool,
}

/// Where a process task is (rule 4).
enum ProcessInner<R> {
    /// Submitted: the pool's handle.
    Live(processes::TaskHandle<R>),
    /// The pool was full: a blocking thread waits for a slot and submits;
    /// its outcome is the pool's handle. The ticket lets `wait` run the
    /// submit itself if no blocking thread has started it (blocking.rs
    /// rule 8).
    Queued(blocking::Outcome<processes::Submitted>, blocking::Ticket),
    /// Refused (the runtime is shut down), until taken.
    Refused(Option<JoinError>),
}

impl<R> ProcessHandle<R> {
    pub(crate) fn live(handle: processes::TaskHandle<R>) -> Self {
        ProcessHandle {
            inner: ProcessInner::Live(handle),
            withdrawn: false,
        }
    }
    pub(crate) fn queued(
        (submit, ticket): (blocking::Outcome<processes::Submitted>, blocking::Ticket),
    ) -> Self {
        ProcessHandle {
            inner: ProcessInner::Queued(submit, ticket),
            withdrawn: false,
        }
    }
    pub(crate) fn refused() -> Self {
        ProcessHandle {
            inner: ProcessInner::Refused(Some(JoinError::shutdown(Origin::Process))),
            withdrawn: false,
        }
    }

    pub(crate) fn no_runtime() -> Self {
        ProcessHandle {
            inner: ProcessInner::Refused(Some(JoinError::no_runtime(Origin::Process))),
            withdrawn: false,
        }
    }
}

/// A queued submit's outcome: the pool's handle, or, if the blocking job
/// never ran (the runtime shut down first), a process-side shutdown error.
fn submitted<R: Decode>(
    outcome: Option<Result<processes::Submitted, BlockingFailure>>,
) -> Result<processes::TaskHandle<R>, JoinError> {
    match outcome {
        Some(Ok(submitted)) => Ok(submitted.into_handle()),
        Some(Err(BlockingFailure::NotRun)) | None => Err(JoinError::shutdown(Origin::Process)),
        Some(Err(failure)) => Err(JoinError::from_blocking(failure)),
    }
}

impl<R> ProcessHandle<R> {
    /// In a process forked from the runtime's, a submit still queued on
    /// the blocking pool will never run there, and the pool's lock may have
    /// been held at the fork (blocking.rs rule 10): the handle answers at
    /// once with the process pool's own answer there (`is_forked`, pool
    /// rule P9) and touches no lock. True if so.
    fn forked_away(&mut self) -> bool {
        let ProcessInner::Queued(_, ticket) = &self.inner else {
            return false;
        };
        if !ticket.is_forked_away() {
            return false;
        }
        self.inner = ProcessInner::Refused(Some(JoinError::from_process(
            processes::TaskError::forked(),
        )));
        true
    }
}

impl<R: Decode> ProcessHandle<R> {
    /// Block this thread until the task's outcome is there. Not on the loop
    /// thread: `.await` there.
    ///
    /// ```
    /// fn square(x: u64) -> u64 { x * x }
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// assert_eq!(rt.handle().spawn_process(square, 7).wait().unwrap(), 49);
    /// ```
    pub fn wait(mut self) -> Result<R, JoinError> {
        self.forked_away();
        match self.inner {
            ProcessInner::Live(handle) => handle.wait().map_err(JoinError::from_process),
            ProcessInner::Queued(mut submit, ticket) => {
                // Blocking.rs rule 8: the submit may be queued behind jobs
                // that wait for this very thread.
                if let Some(job) = ticket.take_back_anywhere() {
                    job(); // it sends its outcome to `submit`
                }
                submitted(submit.receive_blocking())?
                    .wait()
                    .map_err(JoinError::from_process)
            }
            ProcessInner::Refused(mut error) => Err(take(&mut error)),
        }
    }

    /// [`wait`](Self::wait) for at most `timeout`: `None` if the outcome is
    /// not there by then, and the handle can be waited on (or awaited)
    /// again. If the pool was full when the task was spawned, its submit
    /// waits on a blocking thread (rule 4), and this waits for that too;
    /// unlike `wait`, it never runs the submit itself, which could take
    /// longer than `timeout`.
    ///
    /// # Panics
    ///
    /// If the outcome was already taken.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(ms));
    ///     ms
    /// }
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let mut task = rt.handle().spawn_process(nap, 200);
    /// assert!(task.wait_timeout(Duration::from_millis(1)).is_none()); // not yet
    /// assert_eq!(task.wait_timeout(Duration::from_secs(30)).unwrap().unwrap(), 200);
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<R, JoinError>> {
        // A deadline past what `Instant` can hold is no deadline.
        let deadline = Instant::now().checked_add(timeout);
        let left = || deadline.map_or(timeout, |d| d.saturating_duration_since(Instant::now()));
        self.forked_away();
        loop {
            match &mut self.inner {
                ProcessInner::Live(handle) => {
                    return handle
                        .wait_timeout(left())
                        .map(|outcome| outcome.map_err(JoinError::from_process));
                }
                ProcessInner::Queued(submit, _) => {
                    let outcome = submit.receive_timeout(left())?;
                    self.inner = match submitted(outcome) {
                        Ok(handle) => ProcessInner::Live(handle),
                        Err(error) => ProcessInner::Refused(Some(error)),
                    };
                }
                ProcessInner::Refused(error) => return Some(Err(take(error))),
            }
        }
    }

    /// Cancel the task if no worker process has taken it yet, as Python's
    /// `Future.cancel()`: true if it will never run, and its outcome is
    /// then an error with [`JoinError::is_cancelled`], and every later call
    /// says true again. False if a worker has it (it runs on), it is
    /// finished, or, when the pool was full at spawn, a blocking thread is
    /// submitting it at this very moment.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(ms));
    ///     ms
    /// }
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let busy = rt.handle().spawn_process(nap, 300);
    /// while !busy.is_running() {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// let mut queued = rt.handle().spawn_process(nap, 1); // the only worker is busy
    /// assert!(queued.cancel());
    /// assert!(queued.wait().unwrap_err().is_cancelled());
    /// assert_eq!(busy.wait().unwrap(), 300);
    /// ```
    pub fn cancel(&mut self) -> bool {
        if self.withdrawn {
            return true;
        }
        // As the pool's handle there: nothing is cancelled in a child.
        if self.forked_away() {
            return false;
        }
        match &mut self.inner {
            ProcessInner::Live(handle) => handle.cancel(),
            ProcessInner::Queued(submit, ticket) => {
                if let Some(job) = ticket.take_back_anywhere() {
                    // Rule 4: never submitted; dropping the job closes its
                    // outcome cell, and the pool never sees the task.
                    drop(job);
                    self.inner = ProcessInner::Refused(Some(JoinError::from_process(
                        processes::TaskError::withdrawn(),
                    )));
                    self.withdrawn = true;
                    return true;
                }
                // A blocking thread took the submit: cancel in the pool once
                // it is there; while it is under way, nothing can be done.
                match submit.try_receive() {
                    None => false,
                    Some(outcome) => match submitted(outcome) {
                        Ok(handle) => {
                            let cancelled = handle.cancel();
                            self.inner = ProcessInner::Live(handle);
                            cancelled
                        }
                        Err(error) => {
                            self.inner = ProcessInner::Refused(Some(error));
                            false
                        }
                    },
                }
            }
            ProcessInner::Refused(_) => false,
        }
    }

    /// Whether a worker process is running the task now (false while it
    /// waits for a worker, or for a free slot of a full pool, and once it
    /// is finished).
    ///
    /// ```
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(std::time::Duration::from_millis(ms));
    ///     ms
    /// }
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let task = rt.handle().spawn_process(nap, 100);
    /// while !task.is_running() {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// assert_eq!(task.wait().unwrap(), 100);
    /// ```
    pub fn is_running(&self) -> bool {
        match &self.inner {
            ProcessInner::Live(handle) => handle.is_running(),
            _ => false,
        }
    }

    /// Whether the outcome is there.
    ///
    /// ```
    /// fn square(x: u64) -> u64 { x * x }
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let task = rt.handle().spawn_process(square, 3);
    /// while !task.is_finished() {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// assert_eq!(task.wait().unwrap(), 9);
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            ProcessInner::Live(handle) => handle.is_finished(),
            // Submitted (the blocking thread found a slot): ask the pool,
            // without taking the outcome; refused or never run: finished.
            // In a forked child its outcome is `is_forked`, there at once
            // (see `forked_away`).
            ProcessInner::Queued(_, ticket) if ticket.is_forked_away() => true,
            ProcessInner::Queued(submit, _) => {
                submit.is_complete()
                    && submit.peek(|outcome| match outcome {
                        Some(Ok(submitted)) => submitted.is_finished(),
                        _ => true,
                    })
            }
            ProcessInner::Refused(_) => true,
        }
    }
}

impl<R: Decode> Future for ProcessHandle<R> {
    type Output = Result<R, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.forked_away();
        loop {
            match &mut this.inner {
                ProcessInner::Live(handle) => {
                    return Pin::new(handle).poll(cx).map_err(JoinError::from_process)
                }
                ProcessInner::Queued(submit, _) => match submit.poll_receive(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(outcome) => match submitted(outcome) {
                        Ok(handle) => this.inner = ProcessInner::Live(handle),
                        Err(error) => return Poll::Ready(Err(error)),
                    },
                },
                ProcessInner::Refused(error) => return Poll::Ready(Err(take(error))),
            }
        }
    }
}

impl<R> fmt::Debug for ProcessHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessHandle").finish_non_exhaustive()
    }
}

// -------------------------------------------------------------- blocking

/// A closure on the blocking threads, from
/// [`spawn_blocking`](super::spawn_blocking): `.await` it on the loop, or
/// [`join`](Self::join) it from another thread. Dropping it detaches the job.
///
/// ```
/// use std::time::Duration;
/// use triad::runtime::spawn_blocking;
///
/// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
/// let v = rt.block_on(async {
///     spawn_blocking(|| {
///         std::thread::sleep(Duration::from_millis(10)); // blocks a blocking thread, not the loop
///         "slept"
///     })
///     .await
/// });
/// assert_eq!(v.unwrap(), "slept");
/// ```
#[must_use = "dropping a BlockingHandle detaches the job; .await or .join() it to get its result"]
pub struct BlockingHandle<T> {
    inner: Inner<blocking::Outcome<T>>,
    /// Takes the job back if a thread of its own pool joins it before it
    /// started (blocking.rs rule 7).
    ticket: Option<blocking::Ticket>,
}

impl<T> BlockingHandle<T> {
    pub(crate) fn live((outcome, ticket): (blocking::Outcome<T>, blocking::Ticket)) -> Self {
        BlockingHandle {
            inner: Inner::Live(outcome),
            ticket: Some(ticket),
        }
    }
    pub(crate) fn refused() -> Self {
        BlockingHandle {
            inner: Inner::refused(Origin::Blocking),
            ticket: None,
        }
    }

    pub(crate) fn no_runtime() -> Self {
        BlockingHandle {
            inner: Inner::no_runtime(Origin::Blocking),
            ticket: None,
        }
    }

    /// Block this thread until the job is done. Not on the loop thread:
    /// `.await` there. Called from a blocking job or a CPU job of the same
    /// runtime, it runs the job itself if no thread has started it yet, so
    /// jobs that spawn and join blocking jobs cannot deadlock the pool,
    /// even through a CPU job in between (blocking.rs rule 7). On a CPU
    /// worker it runs other CPU jobs while the job runs elsewhere, as
    /// [`CpuHandle::join`] does: the job may be waiting for one of them.
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).blocking_threads(1).build().unwrap();
    /// assert_eq!(rt.handle().spawn_blocking(|| 5).join().unwrap(), 5);
    /// // One blocking thread, held by the outer job while it joins the inner.
    /// let outer = rt.handle().spawn_blocking(|| {
    ///     triad::runtime::spawn_blocking(|| 2).join().unwrap() * 3
    /// });
    /// assert_eq!(outer.join().unwrap(), 6);
    /// ```
    pub fn join(mut self) -> Result<T, JoinError> {
        if let Some(outcome) = self.outcome_in_child() {
            return outcome;
        }
        if let Some(job) = self.ticket.as_ref().and_then(blocking::Ticket::take_back) {
            job(); // it sends its outcome to our cell, as on a pool thread
        }
        match &mut self.inner {
            // On a CPU worker, its pool's other jobs run meanwhile: the job
            // may be waiting for one of them.
            Inner::Live(outcome) => flatten(threads::spawn::receive_helping(outcome)),
            Inner::Refused(error) => Err(take(error)),
        }
    }

    /// [`join`](Self::join) for at most `timeout`: `None` if the job has not
    /// finished by then, and the handle can be joined, waited on or awaited
    /// again, as [`ProcessHandle::wait_timeout`]. Unlike `join`, it never
    /// runs the job itself (blocking.rs rule 7), which could take longer
    /// than `timeout`: a job that waits so for a job queued behind it on a
    /// pool whose every thread is busy times out. In a process forked from
    /// the runtime's it answers at once (blocking.rs rule 10:
    /// [`JoinError::is_pool_unavailable`] if the job had not finished
    /// before the fork).
    ///
    /// # Panics
    ///
    /// If the outcome was already taken.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let mut job = rt.handle().spawn_blocking(|| {
    ///     std::thread::sleep(Duration::from_millis(200));
    ///     "slept"
    /// });
    /// assert!(job.wait_timeout(Duration::from_millis(1)).is_none()); // not yet
    /// assert_eq!(job.wait_timeout(Duration::from_secs(30)).unwrap().unwrap(), "slept");
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<T, JoinError>> {
        if let Some(outcome) = self.outcome_in_child() {
            return Some(outcome);
        }
        match &mut self.inner {
            Inner::Live(outcome) => outcome.receive_timeout(timeout).map(flatten),
            Inner::Refused(error) => Some(Err(take(error))),
        }
    }

    /// Whether the job has finished (a `join` would not wait).
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let job = rt.handle().spawn_blocking(|| 5);
    /// while !job.is_finished() {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(job.join().unwrap(), 5);
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            // Blocking.rs rule 10: only try the cell's lock there (held by
            // a thread of the parent at the fork, it is so for ever), as
            // threads' `JoinHandle::is_finished` does.
            Inner::Live(outcome) if self.forked_away() => {
                outcome.is_complete_in_child().unwrap_or(true)
            }
            Inner::Live(outcome) => outcome.is_complete(),
            Inner::Refused(_) => true,
        }
    }

    /// Whether this process was forked from the pool's (blocking.rs rule 10).
    fn forked_away(&self) -> bool {
        self.ticket
            .as_ref()
            .is_some_and(blocking::Ticket::is_forked_away)
    }

    /// In a process forked from the pool's (blocking.rs rule 10): the
    /// outcome if it came before the fork, else `is_pool_unavailable`, at
    /// once and only *trying* the cell's lock. `None` elsewhere.
    fn outcome_in_child(&mut self) -> Option<Result<T, JoinError>> {
        if !self.forked_away() {
            return None;
        }
        let Inner::Live(outcome) = &mut self.inner else {
            return None;
        };
        Some(match outcome.try_receive_in_child() {
            Some(outcome) => flatten(outcome),
            None => Err(JoinError::from_blocking(BlockingFailure::Unavailable)),
        })
    }
}

/// The cell's outcome as the handle's: closed unsent is blocking.rs rule 5.
fn flatten<T>(outcome: Option<Result<T, BlockingFailure>>) -> Result<T, JoinError> {
    outcome
        .unwrap_or(Err(BlockingFailure::NotRun))
        .map_err(JoinError::from_blocking)
}

impl<T> Future for BlockingHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(outcome) = this.outcome_in_child() {
            return Poll::Ready(outcome);
        }
        match &mut this.inner {
            Inner::Live(outcome) => outcome.poll_receive(cx).map(flatten),
            Inner::Refused(error) => Poll::Ready(Err(take(error))),
        }
    }
}

impl<T> fmt::Debug for BlockingHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
