//! The facade's errors: opaque structs with a private kind and predicates.
//!
//! [`BuildError`] says which runtime refused to start (its own error is the
//! [`source`](std::error::Error::source)); [`JoinError`] says which runtime a
//! task ran on ([`Origin`]) and what happened, with the runtime's own error
//! as the source.

use std::any::Any;
use std::fmt;
use std::io;

use crate::sync::Mutex;
use crate::{event_loop, processes, threads};

/// Why a [`Runtime`](super::Runtime) could not be built.
///
/// ```
/// let error = triad::Runtime::builder().threads(0).build().unwrap_err();
/// assert!(error.is_bad_config());
/// assert!(error.is_zero_threads());
/// println!("{error}"); // "the runtime needs at least one CPU thread"
/// ```
#[derive(Debug)]
pub struct BuildError {
    kind: BuildErrorKind,
}

#[derive(Debug)]
enum BuildErrorKind {
    ZeroThreads,
    ZeroProcesses,
    ZeroBlockingThreads,
    ZeroKeepAlive,
    Processes(processes::BuildError),
    Threads(threads::BuildError),
    EventLoop(io::Error),
}

impl BuildError {
    pub(crate) fn zero_threads() -> Self {
        Self::new(BuildErrorKind::ZeroThreads)
    }
    pub(crate) fn zero_processes() -> Self {
        Self::new(BuildErrorKind::ZeroProcesses)
    }
    pub(crate) fn zero_blocking_threads() -> Self {
        Self::new(BuildErrorKind::ZeroBlockingThreads)
    }
    pub(crate) fn zero_keep_alive() -> Self {
        Self::new(BuildErrorKind::ZeroKeepAlive)
    }
    pub(crate) fn processes(source: processes::BuildError) -> Self {
        Self::new(BuildErrorKind::Processes(source))
    }
    pub(crate) fn threads(source: threads::BuildError) -> Self {
        Self::new(BuildErrorKind::Threads(source))
    }
    pub(crate) fn event_loop(source: io::Error) -> Self {
        Self::new(BuildErrorKind::EventLoop(source))
    }
    fn new(kind: BuildErrorKind) -> Self {
        BuildError { kind }
    }

    /// A setting was zero or out of range: the facade's own (threads,
    /// processes, blocking threads, keep-alive), a thread count the thread
    /// pool's builder refused ([`threads::BuildError::is_too_many_threads`]),
    /// or one the process pool's builder refused
    /// ([`processes::BuildError::is_bad_config`]).
    ///
    /// ```
    /// let error = triad::Runtime::builder().blocking_threads(0).build().unwrap_err();
    /// assert!(error.is_bad_config());
    /// ```
    pub fn is_bad_config(&self) -> bool {
        match &self.kind {
            BuildErrorKind::ZeroThreads
            | BuildErrorKind::ZeroProcesses
            | BuildErrorKind::ZeroBlockingThreads
            | BuildErrorKind::ZeroKeepAlive => true,
            BuildErrorKind::Processes(e) => e.is_bad_config(),
            // Zero is the facade's own check; the thread pool's builder
            // refuses a count out of its range.
            BuildErrorKind::Threads(e) => e.is_zero_threads() || e.is_too_many_threads(),
            BuildErrorKind::EventLoop(_) => false,
        }
    }

    /// Zero CPU threads were asked for.
    ///
    /// ```
    /// assert!(triad::Runtime::builder().threads(0).build().unwrap_err().is_zero_threads());
    /// ```
    pub fn is_zero_threads(&self) -> bool {
        matches!(self.kind, BuildErrorKind::ZeroThreads)
    }

    /// Zero worker processes were asked for.
    ///
    /// ```
    /// assert!(triad::Runtime::builder().processes(0).build().unwrap_err().is_zero_processes());
    /// ```
    pub fn is_zero_processes(&self) -> bool {
        matches!(self.kind, BuildErrorKind::ZeroProcesses)
    }

    /// Zero blocking threads (or a zero keep-alive) were asked for.
    ///
    /// ```
    /// let error = triad::Runtime::builder().blocking_threads(0).build().unwrap_err();
    /// assert!(error.is_zero_blocking_threads());
    /// ```
    pub fn is_zero_blocking_threads(&self) -> bool {
        matches!(
            self.kind,
            BuildErrorKind::ZeroBlockingThreads | BuildErrorKind::ZeroKeepAlive
        )
    }

    /// The process pool did not start; its
    /// [`processes::BuildError`] is the [`source`](std::error::Error::source).
    ///
    /// ```
    /// use std::error::Error;
    ///
    /// let error = triad::Runtime::builder()
    ///     .process_pool(|pool| pool.slots_per_worker(0))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(error.is_processes());
    /// assert!(error.source().unwrap().is::<triad::processes::BuildError>());
    /// ```
    pub fn is_processes(&self) -> bool {
        matches!(self.kind, BuildErrorKind::Processes(_))
    }

    /// The thread pool did not start; its [`threads::BuildError`] is the
    /// source.
    ///
    /// ```
    /// use std::error::Error;
    ///
    /// let error = triad::Runtime::builder().threads(1 << 20).processes(1).build().unwrap_err();
    /// assert!(error.is_threads() && error.is_bad_config());
    /// let source = error.source().unwrap().downcast_ref::<triad::threads::BuildError>();
    /// assert!(source.unwrap().is_too_many_threads());
    /// ```
    pub fn is_threads(&self) -> bool {
        matches!(self.kind, BuildErrorKind::Threads(_))
    }

    /// The event loop did not start (epoll, eventfd or timerfd refused); the
    /// `io::Error` is the source.
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build();
    /// assert!(!rt.is_err_and(|e| e.is_event_loop()));
    /// ```
    pub fn is_event_loop(&self) -> bool {
        matches!(self.kind, BuildErrorKind::EventLoop(_))
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BuildErrorKind::ZeroThreads => write!(f, "the runtime needs at least one CPU thread"),
            BuildErrorKind::ZeroProcesses => {
                write!(f, "the runtime needs at least one worker process")
            }
            BuildErrorKind::ZeroBlockingThreads => {
                write!(f, "the runtime needs at least one blocking thread")
            }
            BuildErrorKind::ZeroKeepAlive => {
                write!(
                    f,
                    "the blocking threads' keep-alive must be longer than zero"
                )
            }
            BuildErrorKind::Processes(e) => write!(f, "could not build the process pool: {e}"),
            BuildErrorKind::Threads(e) => write!(f, "could not build the thread pool: {e}"),
            BuildErrorKind::EventLoop(e) => write!(f, "could not build the event loop: {e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            BuildErrorKind::Processes(e) => Some(e),
            BuildErrorKind::Threads(e) => Some(e),
            BuildErrorKind::EventLoop(e) => Some(e),
            _ => None,
        }
    }
}

/// Which runtime a task was given to.
///
/// ```
/// use triad::runtime::{spawn_cpu, Origin};
///
/// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
/// let error = rt.block_on(async { spawn_cpu(|| -> u32 { panic!("no") }).await.unwrap_err() });
/// assert_eq!(error.origin(), Origin::Cpu);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// A task on the event loop ([`spawn`](super::spawn), [`Handle::spawn`](super::Handle::spawn)).
    Loop,
    /// A closure on the work-stealing pool ([`spawn_cpu`](super::spawn_cpu)).
    Cpu,
    /// A function in the process pool ([`spawn_process`](super::spawn_process)).
    Process,
    /// A closure on the blocking threads ([`spawn_blocking`](super::spawn_blocking)).
    Blocking,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Loop => "loop task",
            Origin::Cpu => "cpu task",
            Origin::Process => "process task",
            Origin::Blocking => "blocking task",
        })
    }
}

/// Why a task of the runtime gave no value: which runtime it was given to
/// ([`origin`](Self::origin)) and what happened (the predicates), with that
/// runtime's own error as the [`source`](std::error::Error::source)
/// ([`event_loop::JoinError`], [`threads::JoinError`] or
/// [`processes::TaskError`]).
///
/// ```
/// use triad::runtime::{spawn_blocking, Origin};
///
/// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
/// let error = rt.block_on(async {
///     spawn_blocking(|| -> () { panic!("disk on fire") }).await.unwrap_err()
/// });
/// assert_eq!(error.origin(), Origin::Blocking);
/// assert!(error.is_panic());
/// assert_eq!(error.panic_message(), Some("disk on fire"));
/// assert_eq!(error.to_string(), "blocking task: the job panicked: disk on fire");
/// ```
pub struct JoinError {
    kind: JoinErrorKind,
}

enum JoinErrorKind {
    Loop(event_loop::JoinError),
    Cpu(threads::JoinError),
    Process(processes::TaskError),
    Blocking(BlockingFailure),
    /// The runtime was shut down before the task was handed to it.
    Shutdown(Origin),
    /// A free function (`spawn_cpu`, ...) was called where no runtime is
    /// current: the task was never handed to any.
    NoRuntime(Origin),
}

/// How a blocking job failed (the blocking pool is the facade's own).
pub(crate) enum BlockingFailure {
    /// The job panicked. The payload sits behind a mutex so that the error
    /// is `Sync` without an `unsafe impl`; only `try_into_panic` takes it.
    Panicked {
        message: Option<String>,
        payload: Mutex<Box<dyn Any + Send>>,
    },
    /// The job was dropped without running: the pool could not start a
    /// thread for it.
    NotRun,
    /// Waited for in a process forked from the pool's, where the pool has
    /// no thread, and the outcome had not come before the fork
    /// (blocking.rs rule 10).
    Unavailable,
}

impl BlockingFailure {
    pub(crate) fn panicked(payload: Box<dyn Any + Send>) -> Self {
        let message = payload
            .downcast_ref::<&'static str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        BlockingFailure::Panicked {
            message,
            payload: Mutex::new(payload),
        }
    }
}

impl JoinError {
    pub(crate) fn from_loop(e: event_loop::JoinError) -> Self {
        Self::new(JoinErrorKind::Loop(e))
    }
    pub(crate) fn from_cpu(e: threads::JoinError) -> Self {
        Self::new(JoinErrorKind::Cpu(e))
    }
    pub(crate) fn from_process(e: processes::TaskError) -> Self {
        Self::new(JoinErrorKind::Process(e))
    }
    pub(crate) fn from_blocking(e: BlockingFailure) -> Self {
        Self::new(JoinErrorKind::Blocking(e))
    }
    pub(crate) fn shutdown(origin: Origin) -> Self {
        Self::new(JoinErrorKind::Shutdown(origin))
    }
    pub(crate) fn no_runtime(origin: Origin) -> Self {
        Self::new(JoinErrorKind::NoRuntime(origin))
    }
    fn new(kind: JoinErrorKind) -> Self {
        JoinError { kind }
    }

    /// The runtime the task was given to.
    ///
    /// ```
    /// # use triad::runtime::{spawn_process, Origin};
    /// fn crash(_: ()) -> u8 { std::process::abort() }
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let error = rt.block_on(async { spawn_process(crash, ()).await.unwrap_err() });
    /// assert_eq!(error.origin(), Origin::Process);
    /// ```
    pub fn origin(&self) -> Origin {
        match &self.kind {
            JoinErrorKind::Loop(_) => Origin::Loop,
            JoinErrorKind::Cpu(_) => Origin::Cpu,
            JoinErrorKind::Process(_) => Origin::Process,
            JoinErrorKind::Blocking(_) => Origin::Blocking,
            JoinErrorKind::Shutdown(origin) | JoinErrorKind::NoRuntime(origin) => *origin,
        }
    }

    /// The task panicked (in a worker process too: the process survives
    /// a panic, and only the message comes back).
    ///
    /// ```
    /// # use triad::runtime::spawn_cpu;
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let error = rt.block_on(async { spawn_cpu(|| -> u8 { panic!("boom") }).await.unwrap_err() });
    /// assert!(error.is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        match &self.kind {
            JoinErrorKind::Loop(e) => e.is_panic(),
            JoinErrorKind::Cpu(e) => e.is_panic(),
            JoinErrorKind::Process(e) => e.is_panic(),
            JoinErrorKind::Blocking(e) => matches!(e, BlockingFailure::Panicked { .. }),
            JoinErrorKind::Shutdown(_) | JoinErrorKind::NoRuntime(_) => false,
        }
    }

    /// The panic message, if the task panicked with a string.
    ///
    /// ```
    /// # use triad::runtime::spawn_cpu;
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let error = rt.block_on(async { spawn_cpu(|| -> u8 { panic!("boom") }).await.unwrap_err() });
    /// assert_eq!(error.panic_message(), Some("boom"));
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match &self.kind {
            JoinErrorKind::Loop(e) => e.panic_message(),
            JoinErrorKind::Cpu(e) => e.panic_message(),
            JoinErrorKind::Process(e) => e.panic_message(),
            JoinErrorKind::Blocking(BlockingFailure::Panicked { message, .. }) => {
                message.as_deref()
            }
            JoinErrorKind::Blocking(BlockingFailure::NotRun | BlockingFailure::Unavailable)
            | JoinErrorKind::Shutdown(_)
            | JoinErrorKind::NoRuntime(_) => None,
        }
    }

    /// The task will never run or finish: a loop task aborted or dropped
    /// with the loop, a CPU job dropped unexecuted, a process task cancelled
    /// by the pool's shutdown, a blocking job for which no thread could be
    /// started.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use triad::runtime::spawn;
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let error = rt.block_on(async {
    ///     let task = spawn(triad::event_loop::sleep(Duration::from_secs(60)));
    ///     task.abort();
    ///     task.await.unwrap_err()
    /// });
    /// assert!(error.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        match &self.kind {
            JoinErrorKind::Loop(e) => e.is_cancelled(),
            JoinErrorKind::Cpu(e) => e.is_cancelled(),
            JoinErrorKind::Process(e) => e.is_cancelled(),
            JoinErrorKind::Blocking(e) => matches!(e, BlockingFailure::NotRun),
            JoinErrorKind::Shutdown(_) | JoinErrorKind::NoRuntime(_) => false,
        }
    }

    /// Waited for in a process forked from the runtime's, where its thread
    /// pool or blocking pool has no thread, and the outcome had not come
    /// before the fork: a CPU job (threads' spawn rule 5) or a blocking
    /// job (blocking.rs rule 10); and any process task, whose pool is the
    /// parent's there (its error is also `TaskError::is_forked`). Answered
    /// at once, never a hang.
    ///
    /// ```
    /// // In the process that built the runtime, the pool is there.
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let error = rt.handle().spawn_blocking(|| -> u8 { panic!("no") }).join().unwrap_err();
    /// assert!(!error.is_pool_unavailable());
    /// ```
    pub fn is_pool_unavailable(&self) -> bool {
        match &self.kind {
            JoinErrorKind::Cpu(e) => e.is_pool_unavailable(),
            JoinErrorKind::Blocking(e) => matches!(e, BlockingFailure::Unavailable),
            // Process pool rule P9: its slots are the parent's.
            JoinErrorKind::Process(e) => e.is_forked(),
            _ => false,
        }
    }

    /// The worker process running the task died (a signal, or an exit).
    ///
    /// ```
    /// # use triad::runtime::spawn_process;
    /// fn crash(_: ()) -> u8 { std::process::abort() }
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let error = rt.block_on(async { spawn_process(crash, ()).await.unwrap_err() });
    /// assert!(error.is_crash());
    /// assert_eq!(error.signal(), Some(6)); // SIGABRT
    /// ```
    pub fn is_crash(&self) -> bool {
        matches!(&self.kind, JoinErrorKind::Process(e) if e.is_crash())
    }

    /// The signal that killed the task's worker process, if one did.
    ///
    /// ```
    /// # use triad::runtime::spawn_process;
    /// fn crash(_: ()) -> u8 { std::process::abort() }
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let error = rt.block_on(async { spawn_process(crash, ()).await.unwrap_err() });
    /// assert_eq!(error.signal(), Some(6));
    /// ```
    pub fn signal(&self) -> Option<i32> {
        match &self.kind {
            JoinErrorKind::Process(e) => e.signal(),
            _ => None,
        }
    }

    /// The process task ran past its timeout and its worker was killed
    /// (set one with [`Builder::process_pool`](super::Builder::process_pool)).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use triad::runtime::spawn_process;
    /// fn nap(ms: u64) -> u64 { std::thread::sleep(Duration::from_millis(ms)); ms }
    /// let rt = triad::Runtime::builder()
    ///     .threads(1)
    ///     .processes(1)
    ///     .process_pool(|pool| pool.task_timeout(Duration::from_millis(50)))
    ///     .build()
    ///     .unwrap();
    /// let error = rt.block_on(async { spawn_process(nap, 10_000).await.unwrap_err() });
    /// assert!(error.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(&self.kind, JoinErrorKind::Process(e) if e.is_timeout())
    }

    /// The runtime was already shut down when the task was handed to it
    /// (through a [`Handle`](super::Handle) that outlived it): the task never
    /// started. Also a process task whose submit still waited for a free
    /// slot when [`Runtime::shutdown_now`](super::Runtime::shutdown_now)
    /// closed the process pool (its `source()` is then the pool's
    /// [`is_pool_closed`](crate::processes::TaskError::is_pool_closed)).
    ///
    /// ```
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let handle = rt.handle();
    /// drop(rt);
    /// let error = handle.spawn_cpu(|| 1).join().unwrap_err();
    /// assert!(error.is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        match &self.kind {
            JoinErrorKind::Shutdown(_) => true,
            // Only the runtime's shutdown closes its process pool.
            JoinErrorKind::Process(e) => e.is_pool_closed(),
            _ => false,
        }
    }

    /// A free function ([`spawn_cpu`](super::spawn_cpu),
    /// [`spawn_process`](super::spawn_process),
    /// [`spawn_blocking`](super::spawn_blocking)) was called where no
    /// runtime is current (see [`Handle::try_current`](super::Handle::try_current)),
    /// or [`spawn`](super::spawn) where no event loop runs, or
    /// [`Handle::spawn`](super::Handle::spawn) in a process forked from the
    /// runtime's, away from the loop's thread: the task was never handed to
    /// a runtime, and did not run.
    ///
    /// ```
    /// let error = triad::runtime::spawn_cpu(|| 1).join().unwrap_err();
    /// assert!(error.is_no_runtime());
    /// assert_eq!(error.origin(), triad::runtime::Origin::Cpu);
    /// ```
    pub fn is_no_runtime(&self) -> bool {
        match &self.kind {
            JoinErrorKind::NoRuntime(_) => true,
            JoinErrorKind::Loop(e) => e.is_outside_loop(),
            _ => false,
        }
    }

    /// The panic payload of a loop, CPU or blocking task, to re-raise with
    /// `std::panic::resume_unwind`; `Err(self)` if the task did not panic
    /// or panicked in another process (only its message crossed).
    ///
    /// ```
    /// # use triad::runtime::spawn_cpu;
    /// let rt = triad::Runtime::builder().threads(1).processes(1).build().unwrap();
    /// let error = rt.block_on(async { spawn_cpu(|| -> u8 { std::panic::panic_any(7u8) }).await.unwrap_err() });
    /// let payload = error.try_into_panic().unwrap();
    /// assert_eq!(payload.downcast_ref::<u8>(), Some(&7));
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.kind {
            JoinErrorKind::Loop(e) => e.try_into_panic().map_err(JoinError::from_loop),
            JoinErrorKind::Cpu(e) => e.try_into_panic().map_err(JoinError::from_cpu),
            JoinErrorKind::Blocking(BlockingFailure::Panicked { payload, .. }) => {
                Ok(payload.into_inner().unwrap_or_else(|p| p.into_inner()))
            }
            kind => Err(JoinError { kind }),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = self.origin();
        match &self.kind {
            JoinErrorKind::Loop(e) => write!(f, "{origin}: {e}"),
            JoinErrorKind::Cpu(e) => write!(f, "{origin}: {e}"),
            JoinErrorKind::Process(e) => write!(f, "{origin}: {e}"),
            JoinErrorKind::Blocking(BlockingFailure::Panicked { message, .. }) => match message {
                Some(message) => write!(f, "{origin}: the job panicked: {message}"),
                None => write!(f, "{origin}: the job panicked"),
            },
            JoinErrorKind::Blocking(BlockingFailure::NotRun) => write!(
                f,
                "{origin}: the job was dropped without running (no blocking thread could be started)"
            ),
            JoinErrorKind::Blocking(BlockingFailure::Unavailable) => write!(
                f,
                "{origin}: waited for in a forked child, where the pool has no thread"
            ),
            JoinErrorKind::Shutdown(_) => write!(
                f,
                "{origin}: the runtime was shut down before the task was handed to it"
            ),
            JoinErrorKind::NoRuntime(_) => write!(
                f,
                "{origin}: no triad Runtime here, the task was not run (call this inside \
                 Runtime::block_on or on one of the runtime's threads, or use a Handle)"
            ),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinError({self})")
    }
}

impl std::error::Error for JoinError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            JoinErrorKind::Loop(e) => Some(e),
            JoinErrorKind::Cpu(e) => Some(e),
            JoinErrorKind::Process(e) => Some(e),
            JoinErrorKind::Blocking(_)
            | JoinErrorKind::Shutdown(_)
            | JoinErrorKind::NoRuntime(_) => None,
        }
    }
}
