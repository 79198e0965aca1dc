//! `ThreadPool` and its builder: starting the workers, and stopping them.
//!
//! # Start
//!
//! 1. **The deques' epoch collector is set up before the first worker
//!    starts**, on the building thread. crossbeam-epoch (under
//!    crossbeam-deque) sets its global collector up lazily, under a
//!    `Once`, at the first steal in the process. A process forked while
//!    another of its threads is inside that set-up inherits the `Once` as
//!    running, for ever: every steal there waits on it, so a pool built in
//!    that child hangs (a job that forks while its pool's other worker
//!    makes its first steal: `tests/regress_fork_during_epoch_setup.rs`).
//!    Done by the build, the set-up is over before any thread of the pool
//!    exists. (A fork racing the very first build of the process, from
//!    another thread, can still meet it: the set-up is crossbeam's.)
//!
//! # Shutdown
//!
//! Dropping a `ThreadPool` (or calling [`ThreadPool::shutdown`]):
//!
//! 1. lets every job already queued or running run to completion, including
//!    jobs they spawn meanwhile: nothing is dropped, so every `JoinHandle`
//!    gets its job's real outcome;
//! 2. then joins every worker thread: when `drop` returns, no thread of the
//!    pool exists (the start and exit hooks have run for each).
//!
//! Workers leave their loop only when the pool is terminating *and* they
//! found no work in any queue; a worker still running a job will drain what
//! that job pushes before it looks at the flag.
//!
//! Exceptions, where the pool joins no thread:
//!
//! - Dropped on a worker thread, of this pool or of another (a job that
//!   owned the last handle): the threads are told to end and left to do so
//!   on their own, once every queue is empty (hooks included). Waiting for
//!   them there, blocked or running other jobs, could wait forever: one of
//!   them may be waiting for the very job that is dropping the pool (the
//!   stolen half of its `join`, a job of its scope, an `install` into the
//!   other pool), which cannot finish before the drop returns.
//! - In a forked child, where the threads do not exist. (A child forked
//!   from inside a job is no worker there either: `worker.rs`'s fork
//!   handler.)

use std::fmt;

use super::error::{BuildError, PoolError};
use super::registry::Registry;
use super::spawn::JoinHandle;
use super::wait_policy::WaitPolicy;
use super::worker::WorkerThread;
use super::{Scope, WorkerStats};
use crate::sync::deque::Worker;
use crate::sync::{thread, Arc};

type Hook = Box<dyn Fn(usize) + Send + Sync>;

/// The most worker threads a pool may have: far more than any machine's
/// cores, and few enough that their per-thread state can always be
/// allocated.
const MAX_THREADS: usize = 1 << 16;

/// A work-stealing thread pool. See the [module docs](super).
///
/// ```
/// use triad::threads::{join, ThreadPool};
/// let pool = ThreadPool::builder().num_threads(2).build().unwrap();
/// let (a, b) = pool.install(|| join(|| 1 + 1, || 2 + 2)).unwrap();
/// assert_eq!((a, b), (2, 4));
/// ```
pub struct ThreadPool {
    pub(crate) registry: Arc<Registry>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("num_threads", &self.registry.num_threads())
            .field("wait_policy", &self.registry.wait_policy)
            .field("serial", &self.registry.serial)
            .finish()
    }
}

/// Configures and builds a [`ThreadPool`].
///
/// ```
/// use triad::threads::{ThreadPool, WaitPolicy};
/// let pool = ThreadPool::builder()
///     .num_threads(2)
///     .thread_name(|i| format!("cruncher-{i}"))
///     .stack_size(4 << 20)
///     .wait_policy(WaitPolicy::Descendants)
///     .on_start(|i| eprintln!("worker {i} up"))
///     .build()
///     .unwrap();
/// assert_eq!(pool.current_num_threads(), 2);
/// ```
#[must_use]
pub struct ThreadPoolBuilder {
    num_threads: Option<usize>,
    thread_name: Option<Box<dyn FnMut(usize) -> String>>,
    stack_size: Option<usize>,
    pin_workers: bool,
    start_hook: Option<Hook>,
    exit_hook: Option<Hook>,
    wait_policy: WaitPolicy,
    serial: bool,
}

impl fmt::Debug for ThreadPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolBuilder")
            .field("num_threads", &self.num_threads)
            .field("stack_size", &self.stack_size)
            .field("pin_workers", &self.pin_workers)
            .field("wait_policy", &self.wait_policy)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl Default for ThreadPoolBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ThreadPoolBuilder {
    /// A builder with the defaults: one thread per available core, threads
    /// named `triad-worker-N`, the platform's stack size, no pinning,
    /// [`WaitPolicy::StealAny`].
    ///
    /// ```
    /// let builder = triad::threads::ThreadPoolBuilder::new().num_threads(2);
    /// assert_eq!(builder.build().unwrap().current_num_threads(), 2);
    /// ```
    pub fn new() -> Self {
        ThreadPoolBuilder {
            num_threads: None,
            thread_name: None,
            stack_size: None,
            pin_workers: false,
            start_hook: None,
            exit_hook: None,
            wait_policy: WaitPolicy::StealAny,
            serial: false,
        }
    }

    /// The number of worker threads (0, or more than 65 536, is refused by
    /// `build`).
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder().num_threads(3).build().unwrap();
    /// assert_eq!(pool.current_num_threads(), 3);
    /// ```
    pub fn num_threads(mut self, n: usize) -> Self {
        self.num_threads = Some(n);
        self
    }

    /// How to name worker `i`'s thread (a name with a NUL byte is refused
    /// by `build`).
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder()
    ///     .num_threads(1)
    ///     .thread_name(|i| format!("cruncher-{i}"))
    ///     .build()
    ///     .unwrap();
    /// let name = pool.install(|| std::thread::current().name().map(String::from)).unwrap();
    /// assert_eq!(name.as_deref(), Some("cruncher-0"));
    /// ```
    pub fn thread_name(mut self, name: impl FnMut(usize) -> String + 'static) -> Self {
        self.thread_name = Some(Box::new(name));
        self
    }

    /// The stack size of each worker, in bytes.
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder().stack_size(8 << 20).build().unwrap();
    /// assert_eq!(pool.join(|| 1, || 2).unwrap(), (1, 2));
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Pin worker `i` to core `i % cores` (core_affinity).
    ///
    /// ```
    /// // Refused (`is_pinning_unavailable`) only where the cores cannot be listed.
    /// if let Ok(pool) = triad::threads::ThreadPool::builder().pin_workers(true).build() {
    ///     assert_eq!(pool.install(|| 1 + 1).unwrap(), 2);
    /// }
    /// ```
    pub fn pin_workers(mut self, pin: bool) -> Self {
        self.pin_workers = pin;
        self
    }

    /// Run `hook(i)` on worker `i`'s thread when it starts.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let counter = started.clone();
    /// let pool = triad::threads::ThreadPool::builder()
    ///     .num_threads(2)
    ///     .on_start(move |_index| {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// pool.shutdown(); // every worker has started and exited by now
    /// assert_eq!(started.load(Ordering::SeqCst), 2);
    /// ```
    pub fn on_start(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.start_hook = Some(Box::new(hook));
        self
    }

    /// Run `hook(i)` on worker `i`'s thread just before it exits. Jobs the
    /// hook spawns on the pool still run: the worker runs them after it.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let exited = Arc::new(Mutex::new(Vec::new()));
    /// let log = exited.clone();
    /// let pool = triad::threads::ThreadPool::builder()
    ///     .num_threads(2)
    ///     .on_exit(move |index| log.lock().unwrap().push(index))
    ///     .build()
    ///     .unwrap();
    /// drop(pool); // joins the workers: both hooks have run
    /// let mut exited = exited.lock().unwrap().clone();
    /// exited.sort();
    /// assert_eq!(exited, [0, 1]);
    /// ```
    pub fn on_exit(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.exit_hook = Some(Box::new(hook));
        self
    }

    /// What a waiting worker may run meanwhile (see [`WaitPolicy`]).
    ///
    /// ```
    /// use triad::threads::{join, ThreadPool, WaitPolicy};
    /// let pool = ThreadPool::builder().wait_policy(WaitPolicy::NoSteal).build().unwrap();
    /// assert_eq!(pool.install(|| join(|| 1, || 2)).unwrap(), (1, 2));
    /// ```
    pub fn wait_policy(mut self, policy: WaitPolicy) -> Self {
        self.wait_policy = policy;
        self
    }

    /// Serial debug mode: one worker, and every `join`, scope `spawn` and
    /// `spawn` runs inline at its call site, in program order (a `spawn`
    /// from outside the pool runs on its worker before it returns, so that
    /// what the job calls finds this pool, as in parallel mode). If a bug
    /// goes away in serial mode, it is a scheduling bug (a race, a missing
    /// wait); if it stays, it is in the logic. Forces one thread.
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder().num_threads(8).serial(true).build().unwrap();
    /// assert_eq!(pool.current_num_threads(), 1); // serial forces one thread
    /// let mut order = Vec::new();
    /// pool.scope(|s| {
    ///     s.spawn(|_| order.push("spawned"));
    /// }).unwrap();
    /// order.push("after");
    /// assert_eq!(order, ["spawned", "after"]);
    /// ```
    pub fn serial(mut self, serial: bool) -> Self {
        self.serial = serial;
        self
    }

    /// Start the pool's threads.
    ///
    /// # Errors
    ///
    /// Zero threads, or more than 65 536; a thread name with a NUL byte;
    /// pinning asked for on a system that does not list its cores; a
    /// thread the system refuses to start (the threads already started are
    /// stopped and joined first).
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder().num_threads(2).build().unwrap();
    /// assert_eq!(pool.current_num_threads(), 2);
    ///
    /// let error = triad::threads::ThreadPool::builder().num_threads(0).build().unwrap_err();
    /// assert!(error.is_zero_threads());
    /// ```
    pub fn build(self) -> Result<ThreadPool, BuildError> {
        let num_threads = match (self.serial, self.num_threads) {
            (true, _) => 1,
            (false, Some(0)) => return Err(BuildError::zero_threads()),
            // Refused before a deque, a sleep state or a counter is
            // allocated for each (an absurd count would abort on them).
            (false, Some(n)) if n > MAX_THREADS => {
                return Err(BuildError::too_many_threads(n, MAX_THREADS))
            }
            (false, Some(n)) => n,
            (false, None) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        crate::sys::fork::install_fork_handler().map_err(BuildError::fork_handler)?;
        #[cfg(not(loom))]
        super::worker::install_fork_handler().map_err(BuildError::fork_handler)?;
        // Start rule 1: the deques' epoch collector, set up on this thread
        // before any worker exists (the stand-in deque of loom and Miri
        // has none).
        #[cfg(not(any(loom, miri)))]
        let _ = Worker::<()>::new_lifo().stealer().steal();
        let core_ids = if self.pin_workers {
            match core_affinity::get_core_ids() {
                Some(ids) if !ids.is_empty() => ids,
                _ => return Err(BuildError::no_core_ids()),
            }
        } else {
            Vec::new()
        };

        let deques: Vec<Worker<_>> = (0..num_threads).map(|_| Worker::new_lifo()).collect();
        let stealers = deques.iter().map(Worker::stealer).collect();
        let registry = Arc::new(Registry::new(
            stealers,
            self.wait_policy,
            self.serial,
            crate::sys::fork::generation(),
            self.start_hook,
            self.exit_hook,
        ));

        // Every name first: a namer that panics then leaves no started
        // thread behind (nothing would ever stop it).
        let mut name = self.thread_name;
        let names: Vec<String> = (0..num_threads)
            .map(|index| match &mut name {
                Some(name) => name(index),
                None => format!("triad-worker-{index}"),
            })
            .collect();
        // std's thread builder panics on a name with a NUL byte: refused
        // here, before any thread is started, as bad input.
        if let Some(index) = names.iter().position(|name| name.contains('\0')) {
            return Err(BuildError::invalid_thread_name(index));
        }
        let mut threads = Vec::with_capacity(num_threads);
        for ((index, deque), thread_name) in deques.into_iter().enumerate().zip(names) {
            let mut builder = thread::Builder::new().name(thread_name);
            if let Some(bytes) = self.stack_size {
                builder = builder.stack_size(bytes);
            }
            let core = core_ids.get(index % core_ids.len().max(1)).copied();
            let worker_registry = registry.clone();
            let spawned = builder.spawn(move || {
                if let Some(core) = core {
                    // A refused pinning leaves the thread unpinned: pinning is
                    // a performance hint, not a correctness requirement.
                    let _ = core_affinity::set_for_current(core);
                }
                WorkerThread::run(worker_registry, index, deque);
            });
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(error) => {
                    registry.terminate();
                    for handle in threads {
                        let _ = handle.join();
                    }
                    return Err(BuildError::spawn(index, error));
                }
            }
        }
        Ok(ThreadPool { registry, threads })
    }
}

impl ThreadPool {
    /// A builder (see [`ThreadPoolBuilder`]).
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder().num_threads(2).build().unwrap();
    /// assert_eq!(pool.current_num_threads(), 2);
    /// ```
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::new()
    }

    /// A pool with the default configuration.
    ///
    /// # Errors
    ///
    /// As [`ThreadPoolBuilder::build`].
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::new().unwrap();
    /// let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    /// assert_eq!(pool.current_num_threads(), cores);
    /// ```
    pub fn new() -> Result<ThreadPool, BuildError> {
        Self::builder().build()
    }

    fn check_usable(&self) -> Result<(), PoolError> {
        if self.registry.is_usable_here() {
            Ok(())
        } else {
            Err(PoolError::forked())
        }
    }

    /// Run `f` on one of this pool's workers and return its result; `join`,
    /// `scope` and `spawn` called inside `f` use this pool. Blocks the
    /// calling thread (a worker of this pool runs `f` directly).
    ///
    /// # Errors
    ///
    /// In a process forked after the pool was built ([`PoolError::is_forked`]).
    ///
    /// # Panics
    ///
    /// Re-raises a panic of `f`.
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder().num_threads(2).build().unwrap();
    /// let index = pool.install(|| triad::threads::current_thread_index()).unwrap();
    /// assert!(matches!(index, Some(0) | Some(1)));
    /// ```
    pub fn install<F, R>(&self, f: F) -> Result<R, PoolError>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        self.check_usable()?;
        Ok(self.registry.in_worker(move |_| f()))
    }

    /// [`join`](super::join) on this pool.
    ///
    /// # Errors
    ///
    /// As [`install`](Self::install).
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder().num_threads(2).build().unwrap();
    /// let (sum, product) = pool.join(|| (1..=10).sum::<u32>(), || (1..=5).product::<u32>()).unwrap();
    /// assert_eq!((sum, product), (55, 120));
    /// ```
    pub fn join<A, B, RA, RB>(&self, a: A, b: B) -> Result<(RA, RB), PoolError>
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        self.install(move || super::join(a, b))
    }

    /// [`scope`](super::scope) on this pool.
    ///
    /// # Errors
    ///
    /// As [`install`](Self::install).
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder().num_threads(2).build().unwrap();
    /// let mut halves = [0u32; 2];
    /// let data = [1, 2, 3, 4];
    /// pool.scope(|s| {
    ///     let (left, right) = halves.split_at_mut(1);
    ///     s.spawn(|_| left[0] = data[..2].iter().sum());
    ///     s.spawn(|_| right[0] = data[2..].iter().sum());
    /// }).unwrap();
    /// assert_eq!(halves, [3, 7]);
    /// ```
    pub fn scope<'scope, OP, R>(&self, op: OP) -> Result<R, PoolError>
    where
        OP: FnOnce(&Scope<'scope>) -> R + Send,
        R: Send,
    {
        self.install(move || super::scope(op))
    }

    /// Run a `'static` closure on this pool; the handle gives its result (or
    /// its panic, or [`JoinError::is_pool_unavailable`](super::JoinError::is_pool_unavailable)
    /// in a forked child).
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder().num_threads(2).build().unwrap();
    /// let handle = pool.spawn(|| "done");
    /// assert_eq!(handle.join().unwrap(), "done");
    /// ```
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Registry::spawn(&self.registry, f)
    }

    /// The number of worker threads.
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder().num_threads(3).build().unwrap();
    /// assert_eq!(pool.current_num_threads(), 3);
    /// ```
    pub fn current_num_threads(&self) -> usize {
        self.registry.num_threads()
    }

    /// Each worker's counters, by worker index.
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder().num_threads(2).build().unwrap();
    /// pool.spawn(|| ()).join().unwrap();
    /// let executed: u64 = pool.stats().iter().map(|s| s.jobs_executed).sum();
    /// assert_eq!(executed, 1);
    /// ```
    pub fn stats(&self) -> Vec<WorkerStats> {
        self.registry.stats()
    }

    /// Run every queued job, then stop and join every worker (the same as
    /// dropping the pool; see the module docs on shutdown).
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder().num_threads(2).build().unwrap();
    /// let handle = pool.spawn(|| 40 + 2);
    /// pool.shutdown(); // the queued job still runs
    /// assert_eq!(handle.join().unwrap(), 42);
    /// ```
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        if !self.registry.is_usable_here() {
            // A forked child: the threads do not exist here, and their locks
            // may be held forever; touch nothing.
            for handle in self.threads.drain(..) {
                std::mem::forget(handle);
            }
            return;
        }
        self.registry.terminate();
        if WorkerThread::current_usable().is_some() {
            // Dropped inside a job, of this pool or another: the workers
            // leave on their own (see the module docs); dropping the
            // handles detaches them.
            self.threads.clear();
            return;
        }
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }
}
