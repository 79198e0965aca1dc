//! `spawn(f, arg)`: one function in one new process, what Python's
//! `multiprocessing.Process` does, with the pool's guarantees (exactly one
//! outcome, no zombie, no leaked descriptor, the child dies with its
//! parent) and a typed account of how the process ended.
//!
//! # The cut: a spawner is a pool whose workers are made on demand
//!
//! ```text
//!   spawn(f, arg) ── encode arg into a free slot, SUBMITTED (slot.rs)
//!        │   └─ SPAWN slot ──► zygote ── fork ──► process: claim that slot,
//!        │                       │                run f, complete, exit(0)
//!        ◄── SPAWNED (pid) ──────┘ (or GAVE_UP: fork failed)
//!   SpawnHandle: wait / wait_timeout / .await / completion_fd, pid, kill
//!        ◄── the value, or how the process ended: the zygote reaps it,
//!            reports EXITED, and the supervisor gives the task its cause
//! ```
//!
//! A [`Spawner`] is a [`ProcessPool`] built in *one-shot* mode: the same
//! zygote (started by direct fork or by exec, [`StartMode`]), shared region,
//! slot protocol, codec, supervisor and handles, with two differences: the
//! zygote forks no worker in advance, only one per SPAWN command, and
//! replaces none; and that worker runs the one task of the slot it was
//! forked for, then exits (`worker.rs` rule W5). So a process that panics,
//! aborts, is killed or calls `exit` has its task end exactly as a pool
//! worker's would, and nothing about forking safely is written twice. The
//! free function [`spawn`] uses one spawner per process, started on its
//! first call.
//!
//! # The life of a spawned process
//!
//! | state | the handle | next |
//! |---|---|---|
//! | forking | (inside `spawn`, which waits for the zygote's answer) | running, or not started ([`TaskError::is_spawn_failure`]) |
//! | running | [`pid`](SpawnHandle::pid) is known; [`try_wait`](SpawnHandle::try_wait) gives `None` | finished |
//! | finished | the value, or [`is_panic`](TaskError::is_panic), [`exit_code`](TaskError::exit_code), [`signal`](TaskError::signal), [`is_killed`](TaskError::is_killed), [`is_timeout`](TaskError::is_timeout), [`is_too_large`](TaskError::is_too_large) | (the zygote reaps the process) |
//!
//! # Rules
//!
//! * **SP1. Exactly one outcome.** A task ends by the slot protocol's
//!   single CAS (slot rule 4): completed by its process, or abandoned by the
//!   supervisor with the cause its death was reported with. A process that
//!   dies before it claimed its task has the task cancelled with that cause
//!   (it will never be claimed: no other process looks at the slot, rule
//!   W5); a SPAWN that forks nothing cancels it as a spawn failure.
//! * **SP2. `spawn` returns a started process.** It waits for the zygote's
//!   answer to its SPAWN (SPAWNED or GAVE_UP, or the zygote's death), so
//!   [`pid`](SpawnHandle::pid) is known from the first moment, or the
//!   handle already holds its error.
//! * **SP3. The process's exit is the relay.** Slots have no eventfds
//!   (descriptors would grow with the number of slots, in the parent, the
//!   zygote and every child). A blocking wait sleeps on the slot word as in
//!   the pool; an awaiting task's waker and a handle's completion fd are
//!   told by the supervisor when it handles the process's EXITED, which
//!   comes after the process finished its slot. A registration made under
//!   the registry lock while the slot is unfinished therefore precedes that
//!   EXITED's handling (also under the lock), and one made later sees the
//!   slot finished and completes at once (pool rule P6).
//! * **SP4. A kill hits only its own process.** [`kill`](SpawnHandle::kill)
//!   asks the zygote to SIGKILL the process by serial (only the zygote
//!   reaps it, so its pid cannot have been reused), and only while the
//!   task is unfinished; its death is then reported as
//!   [`TaskError::is_killed`]. If `f` returned first, the value stands.
//! * **SP5. Dropping a handle detaches.** As with Python's `Process`, the
//!   process runs on; the zygote reaps it when it ends, and the supervisor,
//!   handling that end, drops its outcome and frees its slot (memory past
//!   the first MiB of the slot goes back to the kernel). Dropping a
//!   [`Spawner`] waits for every process it started; [`Spawner::shutdown_now`]
//!   kills them. The per-process spawner of [`spawn`] lives as long as the
//!   program; its processes die with it (zygote rule Z2).
//!
//! # Limits
//!
//! At most [`max_processes`](SpawnerBuilder::max_processes) tasks are alive
//! or hold an uncollected outcome at once; a spawn beyond that waits until
//! one finishes (its outcome is then copied out of its slot). An argument
//! or result larger than [`result_capacity`](SpawnerBuilder::result_capacity)
//! fails with [`TaskError::is_too_large`] and both sizes: the capacity is
//! reserved as address space only (a sparse memfd), so a large one costs
//! nothing until used.

use std::fmt;
use std::future::Future;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::codec::{Decode, Encode};
use super::error::{BuildError, TaskError};
use super::pool::{ProcessPool, StartMode, TaskHandle};
use crate::sync::{Arc, Mutex};

/// Processes alive (or outcomes uncollected) at once in the spawner of
/// [`spawn`].
const DEFAULT_MAX_PROCESSES: usize = 256;
/// Bytes of argument or result per process in the spawner of [`spawn`]
/// (address space only, see the module docs).
const DEFAULT_CAPACITY: usize = 16 << 20;
/// Bytes of a slot kept resident when its outcome is freed; the rest goes
/// back to the kernel. Small: each process is new, so keeping pages warm
/// for the next saves little next to its fork.
const KEEP_RESIDENT: usize = 1 << 20;

// ------------------------------------------------------------------ spawner

/// Starts one process per function call, each forked from a zygote. See
/// the [module docs](super) and [`spawn`], which uses one made on demand.
///
/// ```
/// use triad::processes::Spawner;
///
/// fn shout(s: String) -> String { s.to_uppercase() }
///
/// let spawner = Spawner::builder().max_processes(4).build().unwrap();
/// let process = spawner.spawn(shout, "hello".to_string());
/// assert!(process.pid().is_some());
/// assert_eq!(process.wait().unwrap(), "HELLO");
/// spawner.shutdown(); // waits for every process it started
/// ```
pub struct Spawner {
    pool: ProcessPool,
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner")
            .field("max_processes", &self.max_processes())
            .field("result_capacity", &self.result_capacity())
            .field("mode", &self.start_mode())
            .finish()
    }
}

/// Configures and builds a [`Spawner`].
///
/// ```
/// use std::time::Duration;
/// use triad::processes::{Spawner, StartMode};
///
/// let spawner = Spawner::builder()
///     .max_processes(8)
///     .result_capacity(1 << 20)
///     .timeout(Duration::from_secs(60))
///     .start_mode(StartMode::Auto)
///     .build()
///     .unwrap();
/// assert_eq!(spawner.max_processes(), 8);
/// ```
#[must_use]
#[derive(Clone, Debug)]
pub struct SpawnerBuilder {
    max_processes: usize,
    result_capacity: usize,
    timeout: Option<Duration>,
    memory_limit: Option<u64>,
    start_mode: StartMode,
}

impl Default for SpawnerBuilder {
    fn default() -> Self {
        SpawnerBuilder {
            max_processes: DEFAULT_MAX_PROCESSES,
            result_capacity: DEFAULT_CAPACITY,
            timeout: None,
            memory_limit: None,
            start_mode: StartMode::Auto,
        }
    }
}

impl SpawnerBuilder {
    /// How many processes may be alive, or hold an uncollected outcome, at
    /// once (default 256); a spawn beyond waits for one to finish.
    ///
    /// ```
    /// let spawner = triad::processes::Spawner::builder().max_processes(2).build().unwrap();
    /// assert_eq!(spawner.max_processes(), 2);
    /// ```
    pub fn max_processes(mut self, n: usize) -> Self {
        self.max_processes = n;
        self
    }

    /// Bytes an encoded argument or result may take (default 16 MiB),
    /// reserved as address space only.
    ///
    /// ```
    /// let spawner = triad::processes::Spawner::builder().result_capacity(4096).build().unwrap();
    /// assert_eq!(spawner.result_capacity(), 4096);
    /// ```
    pub fn result_capacity(mut self, bytes: usize) -> Self {
        self.result_capacity = bytes;
        self
    }

    /// Default timeout of every process, from the moment it starts `f`;
    /// past it the process is killed and its task fails with
    /// [`TaskError::is_timeout`] (default: none).
    ///
    /// ```
    /// use std::time::Duration;
    /// let spawner = triad::processes::Spawner::builder()
    ///     .timeout(Duration::from_secs(5))
    ///     .build()
    ///     .unwrap();
    /// # drop(spawner);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Limit each process's address space (RLIMIT_AS), shared region
    /// included.
    ///
    /// ```
    /// let spawner = triad::processes::Spawner::builder()
    ///     .max_processes(2)
    ///     .result_capacity(1 << 20)
    ///     .memory_limit(4 << 30)
    ///     .build()
    ///     .unwrap();
    /// # drop(spawner);
    /// ```
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// How to start the zygote (default [`StartMode::Auto`]: a direct fork
    /// while this process is single-threaded, else an exec of its binary).
    ///
    /// ```
    /// use triad::processes::{Spawner, StartMode};
    /// let spawner = Spawner::builder().start_mode(StartMode::Exec).build().unwrap();
    /// assert_eq!(spawner.start_mode(), StartMode::Exec);
    /// ```
    pub fn start_mode(mut self, mode: StartMode) -> Self {
        self.start_mode = mode;
        self
    }

    /// Start the zygote (no process is forked until the first spawn).
    ///
    /// ```
    /// let error = triad::processes::Spawner::builder().max_processes(0).build().unwrap_err();
    /// assert!(error.is_bad_config());
    /// ```
    pub fn build(self) -> Result<Spawner, BuildError> {
        let mut builder = ProcessPool::builder()
            .workers(self.max_processes)
            .slots_per_worker(1)
            .result_capacity(self.result_capacity)
            .keep_resident(KEEP_RESIDENT)
            .start_mode(self.start_mode);
        if let Some(timeout) = self.timeout {
            builder = builder.task_timeout(timeout);
        }
        if let Some(limit) = self.memory_limit {
            builder = builder.memory_limit(limit);
        }
        builder.one_shot = true;
        Ok(Spawner {
            pool: builder.build()?,
        })
    }
}

impl Spawner {
    /// A builder with the defaults.
    ///
    /// ```
    /// let spawner = triad::processes::Spawner::builder().build().unwrap();
    /// # drop(spawner);
    /// ```
    pub fn builder() -> SpawnerBuilder {
        SpawnerBuilder::default()
    }

    /// A spawner with the defaults.
    ///
    /// ```
    /// let spawner = triad::processes::Spawner::new().unwrap();
    /// assert_eq!(spawner.max_processes(), 256);
    /// ```
    pub fn new() -> Result<Spawner, BuildError> {
        Self::builder().build()
    }

    /// Run `f(arg)` in a new process, with the spawner's default timeout.
    /// Returns once the process exists (or could not be started, which the
    /// handle then says). `f` must be a function of the program's binary
    /// (see [`ProcessPool::submit`]).
    ///
    /// ```
    /// fn add(pair: (i64, i64)) -> i64 { pair.0 + pair.1 }
    ///
    /// let spawner = triad::processes::Spawner::new().unwrap();
    /// assert_eq!(spawner.spawn(add, (2, 40)).wait().unwrap(), 42);
    /// ```
    pub fn spawn<A: Encode + Decode, R: Encode + Decode>(
        &self,
        f: fn(A) -> R,
        arg: A,
    ) -> SpawnHandle<R> {
        self.spawn_inner(f, arg, self.pool.default_timeout())
    }

    /// [`spawn`](Self::spawn) with its own timeout (`None`: none; zero is
    /// refused with [`TaskError::is_invalid_argument`]).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// fn spin(_: ()) -> u64 { loop { std::hint::spin_loop() } }
    ///
    /// let spawner = triad::processes::Spawner::new().unwrap();
    /// let error = spawner
    ///     .spawn_timeout(spin, (), Some(Duration::from_millis(50)))
    ///     .wait()
    ///     .unwrap_err();
    /// assert!(error.is_timeout());
    /// ```
    pub fn spawn_timeout<A: Encode + Decode, R: Encode + Decode>(
        &self,
        f: fn(A) -> R,
        arg: A,
        timeout: Option<Duration>,
    ) -> SpawnHandle<R> {
        self.spawn_inner(f, arg, timeout)
    }

    fn spawn_inner<A: Encode + Decode, R: Encode + Decode>(
        &self,
        f: fn(A) -> R,
        arg: A,
        timeout: Option<Duration>,
    ) -> SpawnHandle<R> {
        let (task, process) = self.pool.spawn_one(f, arg, timeout);
        SpawnHandle {
            inner: Inner::Started { task, process },
        }
    }

    /// How many processes may be alive (or hold an outcome) at once.
    ///
    /// ```
    /// let spawner = triad::processes::Spawner::builder().max_processes(3).build().unwrap();
    /// assert_eq!(spawner.max_processes(), 3);
    /// ```
    pub fn max_processes(&self) -> usize {
        self.pool.slots()
    }

    /// Bytes an encoded argument or result may take.
    ///
    /// ```
    /// let spawner = triad::processes::Spawner::builder().result_capacity(100).build().unwrap();
    /// assert_eq!(spawner.result_capacity(), 100);
    /// ```
    pub fn result_capacity(&self) -> usize {
        self.pool.result_capacity()
    }

    /// How the zygote was started (`Auto` resolved to `Fork` or `Exec`).
    ///
    /// ```
    /// use triad::processes::{Spawner, StartMode};
    /// let mode = Spawner::new().unwrap().start_mode();
    /// assert!(mode == StartMode::Fork || mode == StartMode::Exec);
    /// ```
    pub fn start_mode(&self) -> StartMode {
        self.pool.start_mode()
    }

    /// The zygote's pid (the parent of every process this spawner starts).
    ///
    /// ```
    /// let spawner = triad::processes::Spawner::new().unwrap();
    /// assert_ne!(spawner.zygote_pid(), std::process::id());
    /// ```
    pub fn zygote_pid(&self) -> u32 {
        self.pool.zygote_pid()
    }

    /// Shut down gracefully: no new spawns; wait for every process started
    /// (handles dropped or not) to end; the zygote exits and is reaped.
    /// Dropping the spawner does the same.
    ///
    /// ```
    /// let spawner = triad::processes::Spawner::new().unwrap();
    /// spawner.shutdown();
    /// ```
    pub fn shutdown(self) {
        self.pool.shutdown();
    }

    /// Shut down now: every process still running is killed and its task
    /// fails with [`TaskError::is_cancelled`]; the zygote is reaped before
    /// this returns.
    ///
    /// ```
    /// fn forever(_: ()) -> () { loop { std::thread::park() } }
    ///
    /// let spawner = triad::processes::Spawner::new().unwrap();
    /// let process = spawner.spawn(forever, ());
    /// spawner.shutdown_now();
    /// assert!(process.wait().unwrap_err().is_cancelled());
    /// ```
    pub fn shutdown_now(self) {
        self.pool.shutdown_now();
    }
}

// ------------------------------------------------------------------ handle

/// A process started by [`spawn`] or [`Spawner::spawn`]: wait for its
/// outcome (blocking, with a timeout, or `.await`), poll its
/// [`completion_fd`](Self::completion_fd) from an event loop, read its
/// [`pid`](Self::pid), [`kill`](Self::kill) it.
///
/// Dropping the handle detaches the process: it runs on and is reaped when
/// it ends (rule SP5).
///
/// ```
/// fn cube(x: i32) -> i32 { x * x * x }
///
/// let process = triad::processes::spawn(cube, -3);
/// assert!(process.pid().is_some());
/// assert_eq!(process.wait().unwrap(), -27);
/// ```
#[must_use = "dropping a SpawnHandle detaches the process; call .wait() or .await it to get its outcome"]
pub struct SpawnHandle<R> {
    inner: Inner<R>,
}

enum Inner<R> {
    /// Handed to a spawner: the task, and the process's (serial, pid) if
    /// one was forked (rule SP2).
    Started {
        task: TaskHandle<R>,
        process: Option<(u32, i32)>,
    },
    /// No spawner could be built: the error until taken, and an always
    /// readable completion fd (`None` if even that could not be made).
    Unstarted {
        error: Option<TaskError>,
        ready: Option<OwnedFd>,
    },
}

impl<R> fmt::Debug for SpawnHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pid = match &self.inner {
            Inner::Started { process, .. } => process.map(|(_, pid)| pid),
            Inner::Unstarted { .. } => None,
        };
        f.debug_struct("SpawnHandle")
            .field("pid", &pid)
            .finish_non_exhaustive()
    }
}

impl<R: Decode> SpawnHandle<R> {
    fn unstarted(error: TaskError) -> Self {
        let ready = crate::sys::eventfd::eventfd()
            .ok()
            .filter(|fd| crate::sys::eventfd::notify(fd.as_fd()).is_ok());
        SpawnHandle {
            inner: Inner::Unstarted {
                error: Some(error),
                ready,
            },
        }
    }

    /// The process's pid; `None` if no process could be started (the
    /// outcome says why). After the outcome is there the process is gone
    /// or about to be, and the pid may be reused by another.
    ///
    /// ```
    /// fn id(_: ()) -> u32 { std::process::id() }
    ///
    /// let process = triad::processes::spawn(id, ());
    /// let pid = process.pid().unwrap();
    /// assert_eq!(process.wait().unwrap(), pid);
    /// ```
    pub fn pid(&self) -> Option<u32> {
        match &self.inner {
            Inner::Started { process, .. } => process.map(|(_, pid)| pid as u32),
            Inner::Unstarted { .. } => None,
        }
    }

    /// Kill the process (SIGKILL) if `f` has not returned yet; its outcome
    /// is then [`TaskError::is_killed`]. True if the kill was sent (`f` may
    /// still have returned just before it landed: then the value stands);
    /// false if the outcome was already there or there is no process.
    ///
    /// ```
    /// fn forever(_: ()) -> () { loop { std::thread::park() } }
    ///
    /// let process = triad::processes::spawn(forever, ());
    /// assert!(process.kill());
    /// assert!(process.wait().unwrap_err().is_killed());
    /// ```
    pub fn kill(&self) -> bool {
        match &self.inner {
            Inner::Started {
                task,
                process: Some((serial, _)),
            } => task.kill_process(*serial),
            _ => false,
        }
    }

    /// Block until the outcome is there: `f`'s value, or why there is none
    /// (see [`TaskError`]'s predicates).
    ///
    /// ```
    /// fn quit(code: i32) -> () { std::process::exit(code) }
    ///
    /// let error = triad::processes::spawn(quit, 3).wait().unwrap_err();
    /// assert_eq!(error.exit_code(), Some(3));
    /// ```
    pub fn wait(self) -> Result<R, TaskError> {
        match self.inner {
            Inner::Started { task, .. } => task.wait(),
            Inner::Unstarted { mut error, .. } => Err(error.take().expect("taken only here")),
        }
    }

    /// Wait at most `timeout`; `None` if the process is not done by then
    /// (it runs on, and the handle stays usable).
    ///
    /// # Panics
    ///
    /// If the outcome was already taken.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// fn nap(ms: u64) -> u64 { std::thread::sleep(Duration::from_millis(ms)); ms }
    ///
    /// let mut process = triad::processes::spawn(nap, 300);
    /// assert!(process.wait_timeout(Duration::from_millis(1)).is_none());
    /// assert_eq!(process.wait_timeout(Duration::from_secs(30)).unwrap().unwrap(), 300);
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<R, TaskError>> {
        match &mut self.inner {
            Inner::Started { task, .. } => task.wait_timeout(timeout),
            Inner::Unstarted { error, .. } => {
                Some(Err(error.take().expect("outcome already taken")))
            }
        }
    }

    /// The outcome if it is there, without blocking.
    ///
    /// # Panics
    ///
    /// If the outcome was already taken.
    ///
    /// ```
    /// fn forever(_: ()) -> () { loop { std::thread::park() } }
    ///
    /// let mut process = triad::processes::spawn(forever, ());
    /// assert!(process.try_wait().is_none());
    /// process.kill();
    /// ```
    pub fn try_wait(&mut self) -> Option<Result<R, TaskError>> {
        match &mut self.inner {
            Inner::Started { task, .. } => task.try_wait(),
            Inner::Unstarted { error, .. } => {
                Some(Err(error.take().expect("outcome already taken")))
            }
        }
    }

    /// Whether the outcome is there (a following `try_wait` returns it).
    ///
    /// ```
    /// fn one(_: ()) -> u8 { 1 }
    ///
    /// let mut process = triad::processes::spawn(one, ());
    /// while !process.is_finished() {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(process.try_wait().unwrap().unwrap(), 1);
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            Inner::Started { task, .. } => task.is_finished(),
            Inner::Unstarted { .. } => true,
        }
    }

    /// A descriptor that becomes readable when the outcome is there and
    /// then stays readable, for an event loop: register it for reading,
    /// then call [`try_wait`](Self::try_wait). The handle's own (closed
    /// with it). Do not read from it.
    ///
    /// # Errors
    ///
    /// If the process is out of descriptors when the first call makes it
    /// (`EMFILE`, `ENFILE`); a later call may try again. A process that
    /// could not be started has its descriptor already, readable.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    ///
    /// fn one(_: ()) -> u8 { 1 }
    ///
    /// let mut process = triad::processes::spawn(one, ());
    /// let mut fds = [libc::pollfd { fd: process.completion_fd()?.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
    /// // SAFETY: `fds` is a live array of one pollfd.
    /// assert_eq!(unsafe { libc::poll(fds.as_mut_ptr(), 1, 30_000) }, 1);
    /// assert_eq!(process.try_wait().unwrap().unwrap(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn completion_fd(&self) -> std::io::Result<BorrowedFd<'_>> {
        match &self.inner {
            Inner::Started { task, .. } => task.completion_fd(),
            // `unstarted` could make no eventfd either (out of descriptors).
            Inner::Unstarted { ready, .. } => {
                ready.as_ref().map(|fd| fd.as_fd()).ok_or_else(|| {
                    std::io::Error::other(
                        "the process was not started and no descriptor was left to signal it",
                    )
                })
            }
        }
    }
}

impl<R: Decode> Future for SpawnHandle<R> {
    type Output = Result<R, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().inner {
            Inner::Started { task, .. } => Pin::new(task).poll(cx),
            Inner::Unstarted { error, .. } => {
                Poll::Ready(Err(error.take().expect("outcome already taken")))
            }
        }
    }
}

// ------------------------------------------------------------------ spawn

/// The spawner of [`spawn`], and the process it belongs to: a forked copy
/// of this process (a zygote made by direct fork, or a process it forks)
/// inherits the memory of this static but none of its threads, so the
/// copy is left alone and a new spawner is made for the new process.
static PER_PROCESS: Mutex<Option<(u32, Arc<Spawner>)>> = Mutex::new(None);

/// The spawner of this process, started on first use. It is built without
/// the lock held: a direct fork of the zygote while this thread held it
/// would leave it held for ever in the zygote and every process it forks.
fn per_process() -> Result<Arc<Spawner>, BuildError> {
    let me = std::process::id();
    {
        let mut current = crate::sync::lock(&PER_PROCESS);
        match current.take() {
            Some((pid, spawner)) if pid == me => {
                *current = Some((pid, spawner.clone()));
                return Ok(spawner);
            }
            // Another process's (see `PER_PROCESS`): neither used nor
            // dropped here, where its supervisor thread does not exist.
            Some(copy) => std::mem::forget(copy),
            None => {}
        }
    }
    let built = Arc::new(Spawner::new()?);
    let mut current = crate::sync::lock(&PER_PROCESS);
    // Another thread may have installed one meanwhile: use it (ours is
    // dropped, i.e. shut down, after the lock is released).
    let spawner = current.get_or_insert_with(|| (me, built.clone())).1.clone();
    drop(current);
    Ok(spawner)
}

/// Run `f(arg)` in a new process, forked from this program's spawner (one
/// per process, started on the first call; see [`Spawner`] to configure
/// one), and return a handle to it once the process exists.
///
/// The outcome is `f`'s value, or how the process ended, as a
/// [`TaskError`]: [`is_panic`](TaskError::is_panic) with the message,
/// [`exit_code`](TaskError::exit_code) if `f` called `exit`,
/// [`signal`](TaskError::signal) for an abort or a segfault,
/// [`is_killed`](TaskError::is_killed) after [`SpawnHandle::kill`],
/// [`is_too_large`](TaskError::is_too_large) for an argument or result
/// over 16 MiB. The process dies with this one; dropping the handle
/// detaches it.
///
/// Safe in a multi-threaded program: the process is forked by a zygote
/// that has a single thread (started by exec of this binary when this
/// process already has threads). `f` must be a `fn` of the program's
/// binary, not a closure.
///
/// ```
/// fn crash(_: ()) -> () { std::process::abort() }
/// fn fail(why: String) -> u8 { panic!("{why}") }
///
/// let error = triad::processes::spawn(crash, ()).wait().unwrap_err();
/// assert_eq!(error.signal(), Some(libc::SIGABRT));
///
/// let error = triad::processes::spawn(fail, "no luck".to_string()).wait().unwrap_err();
/// assert_eq!(error.panic_message(), Some("no luck"));
/// ```
pub fn spawn<A: Encode + Decode, R: Encode + Decode>(f: fn(A) -> R, arg: A) -> SpawnHandle<R> {
    spawn_in_this_process(f, arg, None)
}

/// [`spawn`] with a timeout: past it (counted from the moment the process
/// starts `f`) the process is killed and the outcome is
/// [`TaskError::is_timeout`]. A timeout of zero is refused
/// ([`TaskError::is_invalid_argument`]; no process is started).
///
/// ```
/// use std::time::Duration;
///
/// fn forever(_: ()) -> () { loop { std::thread::park() } }
///
/// let process = triad::processes::spawn_timeout(forever, (), Duration::from_millis(50));
/// assert!(process.wait().unwrap_err().is_timeout());
/// ```
pub fn spawn_timeout<A: Encode + Decode, R: Encode + Decode>(
    f: fn(A) -> R,
    arg: A,
    timeout: Duration,
) -> SpawnHandle<R> {
    spawn_in_this_process(f, arg, Some(timeout))
}

fn spawn_in_this_process<A: Encode + Decode, R: Encode + Decode>(
    f: fn(A) -> R,
    arg: A,
    timeout: Option<Duration>,
) -> SpawnHandle<R> {
    match per_process() {
        Ok(spawner) => spawner.spawn_timeout(f, arg, timeout),
        Err(error) => SpawnHandle::unstarted(TaskError::spawn_failed(format!(
            "the spawner could not be built: {error}"
        ))),
    }
}
