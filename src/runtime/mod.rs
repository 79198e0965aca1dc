//! The facade: the three runtimes in one program, CPU work and isolated work
//! awaited from the event loop.
//!
//! ```
//! use triad::runtime::{spawn, spawn_blocking, spawn_cpu, spawn_process};
//! use triad::Runtime;
//!
//! fn square(x: u64) -> u64 { x * x } // a plain fn: it runs in another process
//!
//! let rt = Runtime::builder().threads(2).processes(1).blocking_threads(2).build()?;
//! let total = rt.block_on(async {
//!     let local = spawn(async { 1 });                           // a task on this thread
//!     let cpu = spawn_cpu(|| (1..=10u64).sum::<u64>());         // the work-stealing pool
//!     let isolated = spawn_process(square, 4);                  // a worker process
//!     let blocking = spawn_blocking(|| std::fs::metadata("/").is_ok()); // a blocking thread
//!     let all = local.await? + cpu.await? + isolated.await? + blocking.await? as u64;
//!     Ok::<_, triad::runtime::JoinError>(all)
//! })?;
//! assert_eq!(total, 1 + 55 + 16 + 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The picture
//!
//! ```text
//!   the calling thread: rt.block_on(future) ── the event loop (tasks, timers, sockets)
//!        │ spawn_cpu(closure)      │ spawn_process(fn, arg)     │ spawn_blocking(closure)
//!        ▼                         ▼                            ▼
//!   threads::ThreadPool      processes::ProcessPool        blocking.rs: at most k
//!   (work-stealing workers)  (zygote + worker processes)   plain threads, FIFO queue
//!        └──── each handle is a Future: its completion wakes the loop (bridge.rs) ────┘
//! ```
//!
//! # Start order ([`Builder::build`])
//!
//! 1. Check the facade's own settings (zero threads, processes or blocking
//!    threads are refused before anything starts).
//! 2. **The process pool first**, while nothing of the runtime has started a
//!    thread: if the program itself is still single-threaded,
//!    [`StartMode::Auto`](crate::processes::StartMode) forks the zygote
//!    directly (one `fork`), and it cannot inherit a lock held by another
//!    thread, since there is none. Built after the thread pool it would have
//!    to re-execute the binary instead. (Its supervisor thread starts
//!    after the zygote exists.)
//! 3. The blocking pool: no thread yet, they start on demand.
//! 4. The thread pool: its workers start, and each learns the runtime's
//!    [`Handle`] (so the free functions work inside CPU jobs) and its
//!    blocking pool (so that a CPU job joining a queued blocking job runs
//!    it itself, blocking.rs rule 7).
//! 5. The event loop: an epoll, an eventfd and a timerfd, no thread. It runs
//!    on the thread that calls [`Runtime::block_on`].
//!
//! A failure at any step drops what was built, in reverse order.
//!
//! # Shutdown order (dropping the [`Runtime`])
//!
//! 1. **Close.** The runtime's [`Handle`]s (and the free functions) stop
//!    accepting work: from now on they return handles that fail with
//!    [`JoinError::is_shutdown`].
//! 2. **The event loop**, on its own thread: its inbox closes and every
//!    unfinished loop task is cancelled (its future dropped). Handles those
//!    tasks held are dropped with them, which detaches their work: it
//!    still runs below.
//! 3. **Wait for calls in progress** on other threads (a `spawn_*` call
//!    holds the runtimes only for its own duration; `spawn_process` may wait
//!    for a free slot, that is for some task in flight to finish).
//! 4. **The blocking pool** runs every queued job, then joins its threads
//!    (and waits for the queued process submits that the threads waiting
//!    for their tasks took back to run themselves, blocking.rs rule 8).
//!    It goes first because its jobs may wait for CPU jobs or process tasks,
//!    which are still served.
//! 5. **The thread pool** runs every queued job (and what they spawn), then
//!    joins its workers. Its jobs may wait for process tasks.
//! 6. **The process pool** last: every task already submitted runs to its
//!    outcome, then the workers and the zygote exit and are reaped, and its
//!    descriptors are closed. Nothing else depends on it.
//!
//! When `drop` returns, no thread, child process or descriptor of the
//! runtime is left, with one exception by design: a [`ProcessHandle`] or a
//! [`SharedBytes`](crate::processes::SharedBytes) result you still hold keeps
//! the process pool's shared memory (its memfd and eventfds) until you drop
//! it, so that its result stays readable. Every other handle outlives the
//! runtime harmlessly, with its job's real outcome. Each step only waits for
//! work that ends by itself: a blocking job that never returns makes the
//! drop wait for ever (threads cannot be killed), and so does a process
//! task without a timeout that never ends, unless the runtime is shut down
//! with [`Runtime::shutdown_now`], which cancels the process tasks right
//! after the close (their workers are killed).
//!
//! **In a forked child.** A runtime dropped (or shut down) in a process
//! forked from the one that built it, as by a child that returns up its
//! stack, does step 2 only: its loop is this thread's own. The threads of
//! the pools, the zygote and the calls in progress at the fork are the
//! parent's (none of those threads exists here, and a lock or a lease one
//! of them held then is held for ever), so the drop waits for none, joins
//! none, takes no lock of theirs, and leaves the parts as they are (the
//! pools' own rules for a forked child). The parent's runtime goes on.
//!
//! # Free functions or a [`Handle`]
//!
//! Both. The free functions ([`spawn`], [`spawn_cpu`], [`spawn_process`],
//! [`spawn_blocking`]) find the runtime through a thread-local that is set
//! inside [`Runtime::block_on`], on the CPU workers and on the blocking
//! threads: the natural spelling inside async code, as
//! `event_loop::spawn`. A [`Handle`] (`Clone + Send + Sync`) is the same
//! thing made explicit, for threads of your own; it cannot keep the runtime
//! alive (work given to it after the runtime is dropped fails with
//! [`JoinError::is_shutdown`]), so dropping the runtime always shuts it
//! down, wherever its handles are.
//!
//! # Errors
//!
//! One error type for every task, whichever runtime ran it: [`JoinError`]
//! says where ([`Origin`]) and what happened (panic, crash and signal,
//! timeout, cancelled, shut down), with the runtime's own error as its
//! `source()`. [`BuildError`] likewise for building.

mod blocking;
mod bridge;
mod error;

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::time::Duration;

pub use bridge::{BlockingHandle, CpuHandle, LocalHandle, ProcessHandle};
pub use error::{BuildError, JoinError, Origin};

use self::blocking::BlockingPool;
use crate::event_loop::{EventLoop, Remote};
use crate::processes::{encode_to_vec, Decode, Encode, ProcessPool, ProcessPoolBuilder};
use crate::sync::{const_thread_local, Arc, Condvar, Mutex};
use crate::threads::ThreadPool;

/// Blocking threads by default: blocking calls mostly wait, so more than
/// the cores is fine; few enough that their stacks stay cheap.
const DEFAULT_BLOCKING_THREADS: usize = 16;
/// How long an idle blocking thread stays by default.
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// The three runtimes, running together. See the [module docs](self) for
/// the start and shutdown order.
///
/// `!Send`: the event loop runs on the thread that built the runtime, in
/// [`block_on`](Self::block_on).
///
/// ```
/// let rt = triad::Runtime::builder().threads(2).processes(1).build()?;
/// let answer = rt.block_on(async { triad::runtime::spawn_cpu(|| 6 * 7).await })?;
/// assert_eq!(answer, 42);
/// drop(rt); // no thread, child process or descriptor of it is left
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Runtime {
    /// `None` only while dropping (shutdown rule 2).
    event_loop: Option<EventLoop>,
    /// `None` only while dropping (shutdown rule 3).
    parts: Option<Arc<Parts>>,
    shared: Arc<Shared>,
}

/// What a [`Handle`] reaches, while the runtime is open.
struct Parts {
    blocking: BlockingPool,
    threads: ThreadPool,
    processes: ProcessPool,
    remote: Remote,
}

/// The state every [`Handle`] shares with its [`Runtime`].
struct Shared {
    /// `Some` while the runtime accepts work (shutdown rule 1).
    parts: Mutex<Option<Arc<Parts>>>,
    /// Notified when a call lets go of the parts after the close, so that
    /// the drop can wait for calls in progress (shutdown rule 3).
    released: Condvar,
    /// The fork generation that built the runtime, and the thread of its
    /// loop: in a process forked from that one, the drop touches only the
    /// loop (shutdown in a forked child), and the loop runs only if this
    /// is its thread ([`Handle::spawn`]).
    fork_generation: u64,
    loop_thread: crate::sync::thread::ThreadId,
}

impl Shared {
    /// In a process forked from the runtime's.
    fn forked(&self) -> bool {
        crate::sys::fork::generation() != self.fork_generation
    }
}

const_thread_local! {
    /// The runtime of this thread: inside `block_on`, on the CPU workers and
    /// on the blocking threads.
    static CONTEXT: RefCell<Option<Handle>> = RefCell::new(None);
}

/// Sets `CONTEXT` and restores the previous one on the way out.
struct Enter {
    previous: Option<Handle>,
}

impl Enter {
    fn new(handle: Handle) -> Enter {
        Enter {
            previous: CONTEXT.with(|c| c.replace(Some(handle))),
        }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CONTEXT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The hook the runtime's own threads run first: they belong to it for
/// their whole life.
/// (A weak reference: a hook must not keep the runtime's state alive.)
fn enter_for_good(shared: &Arc<Shared>) -> impl Fn() + Send + Sync + 'static {
    let shared = Arc::downgrade(shared);
    move || {
        if let Some(shared) = shared.upgrade() {
            CONTEXT.with(|c| *c.borrow_mut() = Some(Handle { shared }));
        }
    }
}

/// Configures and builds a [`Runtime`].
///
/// ```
/// use std::time::Duration;
///
/// let rt = triad::Runtime::builder()
///     .threads(2)                 // work-stealing workers
///     .processes(2)               // worker processes
///     .blocking_threads(4)        // at most 4 blocking threads at once
///     .blocking_keep_alive(Duration::from_secs(1))
///     .process_pool(|pool| pool.task_timeout(Duration::from_secs(30)))
///     .build()?;
/// assert_eq!(rt.thread_pool().current_num_threads(), 2);
/// assert_eq!(rt.process_pool().workers(), 2);
/// # Ok::<(), triad::runtime::BuildError>(())
/// ```
#[must_use]
pub struct Builder {
    threads: Option<usize>,
    processes: Option<usize>,
    blocking_threads: usize,
    keep_alive: Duration,
    process_pool: Option<Box<dyn FnOnce(ProcessPoolBuilder) -> ProcessPoolBuilder>>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("threads", &self.threads)
            .field("processes", &self.processes)
            .field("blocking_threads", &self.blocking_threads)
            .field("keep_alive", &self.keep_alive)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// The defaults: one CPU thread per core, one worker process per CPU
    /// this process may use, at most 16 blocking threads, each leaving after
    /// 10 s idle.
    ///
    /// ```
    /// let rt = triad::runtime::Builder::new().processes(1).build().unwrap();
    /// assert!(rt.thread_pool().current_num_threads() >= 1);
    /// ```
    pub fn new() -> Self {
        Builder {
            threads: None,
            processes: None,
            blocking_threads: DEFAULT_BLOCKING_THREADS,
            keep_alive: DEFAULT_KEEP_ALIVE,
            process_pool: None,
        }
    }

    /// Worker threads of the work-stealing pool (0 is refused).
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(3).processes(1).build().unwrap();
    /// assert_eq!(rt.thread_pool().current_num_threads(), 3);
    /// ```
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    /// Worker processes of the process pool (0 is refused).
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(2).build().unwrap();
    /// assert_eq!(rt.process_pool().workers(), 2);
    /// ```
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = Some(n);
        self
    }

    /// The most blocking threads alive at once (0 is refused). They start
    /// on demand; jobs beyond them wait in a queue.
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).blocking_threads(1).build().unwrap();
    /// assert_eq!(rt.handle().spawn_blocking(|| 1).join().unwrap(), 1);
    /// ```
    pub fn blocking_threads(mut self, n: usize) -> Self {
        self.blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for a job before it exits
    /// (zero is refused; `Duration::MAX`: it never leaves before the
    /// runtime is dropped).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let rt = triad::Runtime::builder()
    ///     .threads(1)
    ///     .processes(1)
    ///     .blocking_keep_alive(Duration::from_millis(100))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn blocking_keep_alive(mut self, keep_alive: Duration) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// Configure the process pool beyond its number of workers (timeouts,
    /// result capacity, start mode, initializer...): `configure` gets the
    /// [`ProcessPoolBuilder`] after [`processes`](Self::processes) was
    /// applied to it, and its settings win.
    ///
    /// ```
    /// use triad::processes::StartMode;
    ///
    /// let rt = triad::Runtime::builder()
    ///     .threads(1)
    ///     .process_pool(|pool| pool.workers(1).start_mode(StartMode::Exec))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.process_pool().start_mode(), StartMode::Exec);
    /// ```
    pub fn process_pool(
        mut self,
        configure: impl FnOnce(ProcessPoolBuilder) -> ProcessPoolBuilder + 'static,
    ) -> Self {
        self.process_pool = Some(Box::new(configure));
        self
    }

    /// Start the runtimes, in the order of the [module docs](self#start-order-builderbuild).
    ///
    /// # Errors
    ///
    /// A [`BuildError`]: a setting of zero, or the runtime that failed to
    /// start (its own error is the `source()`); what had started is shut
    /// down first.
    ///
    /// ```
    /// let error = triad::Runtime::builder().processes(0).build().unwrap_err();
    /// assert!(error.is_zero_processes());
    /// ```
    pub fn build(self) -> Result<Runtime, BuildError> {
        // Start rule 1.
        if self.threads == Some(0) {
            return Err(BuildError::zero_threads());
        }
        if self.processes == Some(0) {
            return Err(BuildError::zero_processes());
        }
        if self.blocking_threads == 0 {
            return Err(BuildError::zero_blocking_threads());
        }
        if self.keep_alive.is_zero() {
            return Err(BuildError::zero_keep_alive());
        }

        // Start rule 2: before any thread of ours.
        let mut processes = ProcessPool::builder();
        if let Some(n) = self.processes {
            processes = processes.workers(n);
        }
        if let Some(configure) = self.process_pool {
            processes = configure(processes);
        }
        let processes = processes.build().map_err(BuildError::processes)?;
        let shared = Arc::new(Shared {
            parts: Mutex::new(None),
            released: Condvar::new(),
            // Read after the process pool installed the fork handler.
            fork_generation: crate::sys::fork::generation(),
            loop_thread: crate::sync::thread::current().id(),
        });

        // Start rule 3.
        let blocking = BlockingPool::new(
            self.blocking_threads,
            self.keep_alive,
            Arc::new(enter_for_good(&shared)),
        );

        // Start rule 4.
        let (enter, joins_take_back) = (enter_for_good(&shared), blocking.cpu_worker_hook());
        let mut threads = ThreadPool::builder().on_start(move |_| {
            enter();
            joins_take_back();
        });
        if let Some(n) = self.threads {
            threads = threads.num_threads(n);
        }
        let threads = threads.build().map_err(BuildError::threads)?;

        // Start rule 5.
        let event_loop = EventLoop::new().map_err(BuildError::event_loop)?;
        let parts = Arc::new(Parts {
            blocking,
            threads,
            processes,
            remote: event_loop.remote(),
        });
        *crate::sync::lock(&shared.parts) = Some(parts.clone());
        Ok(Runtime {
            event_loop: Some(event_loop),
            parts: Some(parts),
            shared,
        })
    }
}

impl Runtime {
    /// A builder (see [`Builder`]).
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A runtime with the defaults (see [`Builder::new`]).
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    ///
    /// ```no_run
    /// let rt = triad::Runtime::new()?;
    /// # Ok::<(), triad::runtime::BuildError>(())
    /// ```
    pub fn new() -> Result<Runtime, BuildError> {
        Builder::new().build()
    }

    /// Run `future` to completion on this thread, with the event loop's
    /// tasks, timers and I/O alongside; inside it (and in the tasks it
    /// spawns) the free functions [`spawn`], [`spawn_cpu`],
    /// [`spawn_process`] and [`spawn_blocking`] reach this runtime.
    /// Loop tasks still running when it returns continue at the next
    /// `block_on` (or are cancelled when the runtime is dropped).
    ///
    /// # Panics
    ///
    /// If an event loop is already running on this thread (a nested
    /// `block_on`); a panic of `future` itself propagates.
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = Enter::new(self.handle());
        self.event_loop
            .as_ref()
            .expect("the event loop lives until drop")
            .block_on(future)
    }

    /// A handle to this runtime, for other threads. See [`Handle`].
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let handle = rt.handle();
    /// let from_thread = std::thread::spawn(move || handle.spawn_cpu(|| 2 + 2).join());
    /// assert_eq!(from_thread.join().unwrap().unwrap(), 4);
    /// ```
    pub fn handle(&self) -> Handle {
        Handle {
            shared: self.shared.clone(),
        }
    }

    /// The work-stealing pool, for its own API (`install`, `scope`, `join`,
    /// `stats`...).
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(2).processes(1).build().unwrap();
    /// let (a, b) = rt.thread_pool().join(|| 1, || 2).unwrap();
    /// assert_eq!(a + b, 3);
    /// ```
    pub fn thread_pool(&self) -> &ThreadPool {
        &self.parts().threads
    }

    /// The process pool, for its own API (`map`, `imap`, `stats`, pids...).
    ///
    /// ```
    /// fn double(x: u64) -> u64 { x * 2 }
    /// let rt = triad::Runtime::builder().threads(1).processes(2).build().unwrap();
    /// assert_eq!(rt.process_pool().map(double, 1..=3).unwrap(), vec![2, 4, 6]);
    /// ```
    pub fn process_pool(&self) -> &ProcessPool {
        &self.parts().processes
    }

    fn parts(&self) -> &Parts {
        self.parts.as_ref().expect("the parts live until drop")
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("threads", self.thread_pool())
            .field("processes", self.process_pool())
            .field("event_loop", &self.event_loop)
            .finish()
    }
}

impl Runtime {
    /// Shut down now: as dropping the runtime (the [module
    /// docs](self#shutdown-order-dropping-the-runtime)), except that
    /// process tasks are not waited for: right after the close (step 1)
    /// the process pool is terminated
    /// ([`ProcessPool::terminate`](crate::processes::ProcessPool::terminate)),
    /// so queued and running process tasks fail with
    /// [`JoinError::is_cancelled`] (their workers are killed), and the CPU
    /// and blocking jobs that wait for them go on. Those jobs still run to
    /// their end (threads cannot be killed), and loop tasks are cancelled,
    /// as in a drop.
    ///
    /// ```
    /// fn forever(_: ()) -> u32 {
    ///     loop {
    ///         std::thread::park();
    ///     }
    /// }
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build()?;
    /// let stuck = rt.handle().spawn_process(forever, ());
    /// rt.shutdown_now(); // a drop would wait for ever
    /// assert!(stuck.wait().unwrap_err().is_cancelled());
    /// # Ok::<(), triad::runtime::BuildError>(())
    /// ```
    pub fn shutdown_now(mut self) {
        self.shutdown(true);
    }

    /// The shutdown order of the module docs; process tasks cancelled
    /// (`now`) or waited for. Idempotent: the drop after `shutdown_now`
    /// finds nothing left.
    fn shutdown(&mut self, now: bool) {
        if self.shared.forked() {
            // In a forked child (see the module docs): only the loop, this
            // thread's own, is dropped; the parts' threads are the
            // parent's, and so are the locks and leases they may hold.
            let _enter = Enter::new(self.handle());
            drop(self.event_loop.take());
            std::mem::forget(self.parts.take());
            return;
        }
        // Shutdown rule 1: close. (Dropped outside the lock: not the last reference.)
        let open = crate::sync::lock(&self.shared.parts).take();
        drop(open);
        if now {
            if let Some(parts) = &self.parts {
                parts.processes.terminate();
            }
        }
        // Shutdown rule 2: the loop, with this runtime current, so that a future
        // dropped now that calls a free function gets a refusal, not a panic.
        {
            let _enter = Enter::new(self.handle());
            drop(self.event_loop.take());
        }
        // Shutdown rule 3: only calls in progress hold the parts now, and none can
        // start; each notifies `released` when it lets go.
        let Some(mut parts) = self.parts.take() else {
            return;
        };
        let parts = {
            let mut open = crate::sync::lock(&self.shared.parts);
            loop {
                match Arc::try_unwrap(parts) {
                    Ok(parts) => break parts,
                    Err(shared) => {
                        parts = shared;
                        open = crate::sync::wait(&self.shared.released, open);
                    }
                }
            }
        };
        let Parts {
            blocking,
            threads,
            processes,
            remote,
        } = parts;
        drop(remote);
        drop(blocking); // shutdown rule 4
        drop(threads); // shutdown rule 5
        drop(processes); // shutdown rule 6
    }
}

impl Drop for Runtime {
    /// The shutdown order of the [module docs](self#shutdown-order-dropping-the-runtime).
    fn drop(&mut self) {
        self.shutdown(false);
    }
}

/// A handle to a [`Runtime`]: `Clone + Send + Sync`, for handing work to it
/// from any thread.
///
/// It never keeps the runtime alive: once the runtime is dropped, work given
/// to a handle fails with [`JoinError::is_shutdown`] (see the
/// [module docs](self#free-functions-or-a-handle)).
///
/// ```
/// fn square(x: u64) -> u64 { x * x }
///
/// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
/// let handle = rt.handle();
/// let worker = std::thread::spawn(move || {
///     let cpu = handle.spawn_cpu(|| 40);
///     let isolated = handle.spawn_process(square, 2);
///     let blocking = handle.spawn_blocking(|| 2);
///     cpu.join().unwrap() + isolated.wait().unwrap() as i32 + blocking.join().unwrap()
/// });
/// assert_eq!(worker.join().unwrap(), 46);
/// ```
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

/// The parts, held by one call for its duration (shutdown rule 3).
struct Lease<'a> {
    parts: Option<Arc<Parts>>,
    shared: &'a Shared,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        drop(self.parts.take());
        // The drop waits under this lock and re-checks the count, so this
        // notification (after our reference is gone) cannot be missed.
        if crate::sync::lock(&self.shared.parts).is_none() {
            self.shared.released.notify_all();
        }
    }
}

impl Handle {
    /// The runtime of this thread: inside [`Runtime::block_on`] (and the
    /// loop tasks), on its CPU workers and on its blocking threads.
    ///
    /// # Panics
    ///
    /// Anywhere else (see [`try_current`](Self::try_current)).
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let handle = rt.block_on(async { triad::runtime::Handle::current() });
    /// assert_eq!(handle.spawn_cpu(|| 1).join().unwrap(), 1);
    /// ```
    pub fn current() -> Handle {
        Self::try_current().expect(
            "no triad Runtime here: call this inside Runtime::block_on, \
             or on one of the runtime's threads",
        )
    }

    /// The runtime of this thread, if there is one.
    ///
    /// ```
    /// assert!(triad::runtime::Handle::try_current().is_none());
    /// ```
    pub fn try_current() -> Option<Handle> {
        CONTEXT.with(|c| c.borrow().clone())
    }

    fn with_parts<R>(&self, call: impl FnOnce(&Parts) -> R) -> Option<R> {
        let parts = crate::sync::lock(&self.shared.parts).clone()?;
        let lease = Lease {
            parts: Some(parts),
            shared: &self.shared,
        };
        Some(call(
            lease.parts.as_ref().expect("held until the lease drops"),
        ))
    }

    /// Spawn a `Send` future onto the runtime's event loop, from any thread.
    /// It starts at the loop's next turn (inside a `block_on`).
    ///
    /// In a process forked from the runtime's, on a thread other than the
    /// loop's (which does not exist there), the task is refused at once:
    /// its future is dropped, and the handle gives
    /// [`JoinError::is_no_runtime`], as no loop would ever run it.
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let handle = rt.handle();
    /// let task = std::thread::spawn(move || handle.spawn(async { 7 })).join().unwrap();
    /// assert_eq!(rt.block_on(task).unwrap(), 7);
    /// ```
    pub fn spawn<F>(&self, future: F) -> LocalHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // In a process forked from the runtime's, the loop's thread exists
        // only if it is this one: elsewhere nothing would ever run the task.
        if self.shared.forked() && crate::sync::thread::current().id() != self.shared.loop_thread {
            return LocalHandle::no_runtime();
        }
        self.with_parts(|parts| parts.remote.spawn(future).ok())
            .flatten()
            .map_or_else(LocalHandle::refused, LocalHandle::live)
    }

    /// Run `f` on the work-stealing pool (see [`spawn_cpu`]).
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// assert_eq!(rt.handle().spawn_cpu(|| 3 * 3).join().unwrap(), 9);
    /// ```
    pub fn spawn_cpu<F, T>(&self, f: F) -> CpuHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.with_parts(|parts| parts.threads.spawn(f))
            .map_or_else(CpuHandle::refused, CpuHandle::live)
    }

    /// Run `f(arg)` in a worker process (see [`spawn_process`]).
    ///
    /// ```
    /// fn add_one(x: u32) -> u32 { x + 1 }
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// assert_eq!(rt.handle().spawn_process(add_one, 1).wait().unwrap(), 2);
    /// ```
    pub fn spawn_process<A, R>(&self, f: fn(A) -> R, arg: A) -> ProcessHandle<R>
    where
        A: Encode + Decode,
        R: Encode + Decode,
    {
        // Bridge rule 4: never wait for a slot on the caller's thread,
        // unless it is one of this runtime's blocking threads.
        self.with_parts(|parts| match parts.processes.try_submit(f, arg) {
            Ok(task) => Some(ProcessHandle::live(task)),
            Err(full) if parts.blocking.runs_this_thread() => Some(ProcessHandle::live(
                parts.processes.submit(f, full.into_arg()),
            )),
            Err(full) => {
                let arg = encode_to_vec(&full.into_arg());
                let submit = parts.processes.submitter().submit_encoded(f, arg);
                let queued = parts.blocking.spawn(submit);
                queued.map(ProcessHandle::queued)
            }
        })
        .flatten()
        .unwrap_or_else(ProcessHandle::refused)
    }

    /// Run `f` on a blocking thread (see [`spawn_blocking`]).
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// assert_eq!(rt.handle().spawn_blocking(|| "done").join().unwrap(), "done");
    /// ```
    pub fn spawn_blocking<F, T>(&self, f: F) -> BlockingHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.with_parts(|parts| parts.blocking.spawn(f))
            .flatten()
            .map_or_else(BlockingHandle::refused, BlockingHandle::live)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open = crate::sync::lock(&self.shared.parts).is_some();
        f.debug_struct("Handle").field("open", &open).finish()
    }
}

/// Spawn `future` as a task on the event loop of this thread. It may be
/// `!Send` (share state with `Rc<RefCell<_>>`); it starts at the loop's next
/// turn. Dropping the handle detaches it.
///
/// Where no event loop runs (outside [`Runtime::block_on`]) the task does
/// not run: its future is dropped and the handle gives
/// [`JoinError::is_no_runtime`]. From another thread, use
/// [`Handle::spawn`].
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
///
/// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
/// let log = Rc::new(RefCell::new(Vec::new()));
/// rt.block_on({
///     let log = log.clone();
///     async move {
///         let task = triad::runtime::spawn({
///             let log = log.clone();
///             async move { log.borrow_mut().push("task") }
///         });
///         task.await.unwrap();
///         log.borrow_mut().push("after");
///     }
/// });
/// assert_eq!(*log.borrow(), ["task", "after"]);
/// ```
pub fn spawn<F>(future: F) -> LocalHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    LocalHandle::live(crate::event_loop::spawn(future))
}

/// Run `f` on the runtime's work-stealing pool: CPU-bound work, in parallel
/// with the loop, which stays free to serve its tasks. Inside `f`,
/// `triad::threads::{join, scope, spawn}` use the same pool. A panic in `f`
/// is the handle's [`JoinError::is_panic`].
///
/// Where there is no current runtime (see [`Handle::try_current`]) the
/// task does not run: the handle gives [`JoinError::is_no_runtime`].
///
/// ```
/// use triad::runtime::spawn_cpu;
/// use triad::threads::join;
///
/// fn fib(n: u64) -> u64 {
///     if n < 2 { return n; }
///     let (a, b) = join(|| fib(n - 1), || fib(n - 2));
///     a + b
/// }
///
/// let rt = triad::Runtime::builder().threads(2).processes(1).build().unwrap();
/// let v = rt.block_on(async { spawn_cpu(|| fib(20)).await });
/// assert_eq!(v.unwrap(), 6765);
/// ```
pub fn spawn_cpu<F, T>(f: F) -> CpuHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Handle::try_current() {
        Some(handle) => handle.spawn_cpu(f),
        None => CpuHandle::no_runtime(),
    }
}

/// Run `f(arg)` in one of the runtime's worker processes: isolated work
/// (code that may crash, leak or must not share memory). `f` is a plain
/// `fn` of the program's binary; `arg` and the result cross as bytes. A
/// crash of the worker is the handle's [`JoinError::is_crash`], and a
/// replacement worker takes over.
///
/// Submitting takes a result slot without waiting. When all `4 × processes`
/// slots are busy (the default of
/// [`slots_per_worker`](crate::processes::ProcessPoolBuilder::slots_per_worker)),
/// the argument is encoded and a blocking thread (see [`spawn_blocking`])
/// waits for a slot and submits it, so the loop never blocks; the handle
/// then awaits the task. Called on a blocking thread of the same runtime,
/// it waits for the slot itself (its own wait, queued behind it, could
/// deadlock).
///
/// Where there is no current runtime (see [`Handle::try_current`]) the
/// task does not run: the handle gives [`JoinError::is_no_runtime`].
///
/// ```
/// use triad::runtime::spawn_process;
///
/// fn risky(n: u64) -> u64 {
///     if n == 13 { std::process::abort() }
///     n * n
/// }
///
/// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
/// rt.block_on(async {
///     assert!(spawn_process(risky, 13).await.unwrap_err().is_crash());
///     assert_eq!(spawn_process(risky, 3).await.unwrap(), 9); // a new worker
/// });
/// ```
pub fn spawn_process<A, R>(f: fn(A) -> R, arg: A) -> ProcessHandle<R>
where
    A: Encode + Decode,
    R: Encode + Decode,
{
    match Handle::try_current() {
        Some(handle) => handle.spawn_process(f, arg),
        None => ProcessHandle::no_runtime(),
    }
}

/// Run `f` on one of the runtime's blocking threads: for calls that block
/// (files, synchronous libraries, sleeps), which must not run on the loop
/// (it would stall every task) nor on the work-stealing workers (they would
/// stall CPU work). At most [`blocking_threads`](Builder::blocking_threads)
/// run at once; more jobs wait in a queue. A panic in `f` is the handle's
/// [`JoinError::is_panic`].
///
/// Where there is no current runtime (see [`Handle::try_current`]) the
/// task does not run: the handle gives [`JoinError::is_no_runtime`].
///
/// ```
/// use triad::runtime::spawn_blocking;
///
/// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
/// let len = rt.block_on(async { spawn_blocking(|| std::fs::read("/proc/self/stat").map(|b| b.len())).await });
/// assert!(len.unwrap().unwrap() > 0);
/// ```
pub fn spawn_blocking<F, T>(f: F) -> BlockingHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Handle::try_current() {
        Some(handle) => handle.spawn_blocking(f),
        None => BlockingHandle::no_runtime(),
    }
}
