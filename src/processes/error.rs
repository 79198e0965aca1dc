//! The process pool's errors: opaque structs with a private kind and
//! predicates, so kinds can be added without breaking callers.

use std::fmt;
use std::io;
use std::time::Duration;

/// Why a [`ProcessPool`](super::ProcessPool) could not be built.
#[derive(Debug)]
pub struct BuildError {
    kind: BuildErrorKind,
}

#[derive(Debug)]
enum BuildErrorKind {
    ZeroWorkers,
    ZeroCapacity,
    ZeroSlots,
    ZeroMaxTasks,
    ZeroTimeout,
    TooManySlots {
        slots: usize,
        max: usize,
    },
    ThreadedParent {
        threads: usize,
    },
    MemoryLimitTooSmall {
        limit: u64,
        shared: u64,
    },
    ForeignInitializer,
    Io {
        what: &'static str,
        source: io::Error,
    },
    ZygoteFailed(String),
}

impl BuildError {
    pub(crate) fn zero_workers() -> Self {
        Self::new(BuildErrorKind::ZeroWorkers)
    }
    pub(crate) fn zero_capacity() -> Self {
        Self::new(BuildErrorKind::ZeroCapacity)
    }
    pub(crate) fn zero_slots() -> Self {
        Self::new(BuildErrorKind::ZeroSlots)
    }
    pub(crate) fn zero_max_tasks() -> Self {
        Self::new(BuildErrorKind::ZeroMaxTasks)
    }
    pub(crate) fn zero_timeout() -> Self {
        Self::new(BuildErrorKind::ZeroTimeout)
    }
    pub(crate) fn too_many_slots(slots: usize, max: usize) -> Self {
        Self::new(BuildErrorKind::TooManySlots { slots, max })
    }
    pub(crate) fn new_threaded_parent(threads: usize) -> Self {
        Self::new(BuildErrorKind::ThreadedParent { threads })
    }
    pub(crate) fn new_memory_limit_too_small(limit: u64, shared: u64) -> Self {
        Self::new(BuildErrorKind::MemoryLimitTooSmall { limit, shared })
    }
    pub(crate) fn foreign_initializer() -> Self {
        Self::new(BuildErrorKind::ForeignInitializer)
    }
    pub(crate) fn io(what: &'static str, source: io::Error) -> Self {
        Self::new(BuildErrorKind::Io { what, source })
    }
    pub(crate) fn zygote_failed(why: impl Into<String>) -> Self {
        Self::new(BuildErrorKind::ZygoteFailed(why.into()))
    }
    fn new(kind: BuildErrorKind) -> Self {
        BuildError { kind }
    }

    /// A setting was zero or out of range (workers, result capacity, slots
    /// per worker, max tasks per worker, timeout, too many slots, memory
    /// limit), or the initializer is not a function of the program's binary.
    pub fn is_bad_config(&self) -> bool {
        matches!(
            self.kind,
            BuildErrorKind::ZeroWorkers
                | BuildErrorKind::ZeroCapacity
                | BuildErrorKind::ZeroSlots
                | BuildErrorKind::ZeroMaxTasks
                | BuildErrorKind::ZeroTimeout
                | BuildErrorKind::TooManySlots { .. }
                | BuildErrorKind::MemoryLimitTooSmall { .. }
                | BuildErrorKind::ForeignInitializer
        )
    }

    /// The initializer lives outside the program's binary (in a shared
    /// library): a worker started from the binary could not find it.
    pub fn is_foreign_function(&self) -> bool {
        matches!(self.kind, BuildErrorKind::ForeignInitializer)
    }

    /// The configuration asked for zero workers.
    pub fn is_zero_workers(&self) -> bool {
        matches!(self.kind, BuildErrorKind::ZeroWorkers)
    }

    /// A direct fork was asked for ([`StartMode::Fork`](super::StartMode))
    /// but the process has other threads: the zygote would inherit their
    /// locks. `Some(number of threads)`.
    pub fn threaded_parent(&self) -> Option<usize> {
        match self.kind {
            BuildErrorKind::ThreadedParent { threads } => Some(threads),
            _ => None,
        }
    }

    /// The memory limit is below the size of the shared region every worker
    /// maps: `Some((limit, shared))`.
    pub fn memory_limit_too_small(&self) -> Option<(u64, u64)> {
        match self.kind {
            BuildErrorKind::MemoryLimitTooSmall { limit, shared } => Some((limit, shared)),
            _ => None,
        }
    }

    /// The system refused a resource (memfd, mapping, pipe, eventfd, process).
    pub fn is_io(&self) -> bool {
        matches!(self.kind, BuildErrorKind::Io { .. })
    }

    /// The zygote did not start or did not answer.
    pub fn is_zygote_failure(&self) -> bool {
        matches!(self.kind, BuildErrorKind::ZygoteFailed(_))
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BuildErrorKind::ZeroWorkers => write!(f, "a process pool needs at least one worker"),
            BuildErrorKind::ZeroCapacity => write!(f, "the result capacity must be at least 1 byte"),
            BuildErrorKind::ZeroSlots => write!(f, "a worker needs at least one result slot"),
            BuildErrorKind::ZeroMaxTasks => {
                write!(f, "max tasks per worker must be at least 1")
            }
            BuildErrorKind::ZeroTimeout => write!(f, "a task timeout must be longer than zero"),
            BuildErrorKind::TooManySlots { slots, max } => {
                write!(f, "{slots} result slots asked for, at most {max} are supported")
            }
            BuildErrorKind::ThreadedParent { threads } => write!(
                f,
                "cannot fork the zygote directly: this process has {threads} threads \
                 (use StartMode::Exec or StartMode::Auto)"
            ),
            BuildErrorKind::MemoryLimitTooSmall { limit, shared } => write!(
                f,
                "memory limit of {limit} bytes is below the {shared}-byte shared region each worker maps"
            ),
            BuildErrorKind::ForeignInitializer => write!(
                f,
                "the initializer is not a function of the program's binary (a shared \
                 library's?): workers could not call it"
            ),
            BuildErrorKind::Io { what, source } => write!(f, "could not {what}: {source}"),
            BuildErrorKind::ZygoteFailed(why) => write!(f, "the zygote did not start: {why}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            BuildErrorKind::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a task gave no value. Each task gets exactly one outcome: its value
/// or one of these.
#[derive(Clone, PartialEq, Eq)]
pub struct TaskError {
    kind: TaskErrorKind,
}

#[derive(Clone, PartialEq, Eq)]
enum TaskErrorKind {
    Signaled { signal: i32 },
    Exited { code: i32 },
    Panicked { message: String },
    TimedOut { after: Duration },
    ArgumentTooLarge { needed: u64, capacity: u64 },
    ResultTooLarge { needed: u64, capacity: u64 },
    BadBytes { message: String },
    AllSlotsHeld { slots: usize },
    ForeignFunction,
    Cancelled,
    PoolClosed,
    Broken,
    Killed,
    SpawnFailed { why: String },
}

impl TaskError {
    pub(crate) fn signaled(signal: i32) -> Self {
        Self::new(TaskErrorKind::Signaled { signal })
    }
    pub(crate) fn exited(code: i32) -> Self {
        Self::new(TaskErrorKind::Exited { code })
    }
    pub(crate) fn panicked(message: String) -> Self {
        Self::new(TaskErrorKind::Panicked { message })
    }
    pub(crate) fn timed_out(after: Duration) -> Self {
        Self::new(TaskErrorKind::TimedOut { after })
    }
    pub(crate) fn argument_too_large(needed: u64, capacity: u64) -> Self {
        Self::new(TaskErrorKind::ArgumentTooLarge { needed, capacity })
    }
    pub(crate) fn result_too_large(needed: u64, capacity: u64) -> Self {
        Self::new(TaskErrorKind::ResultTooLarge { needed, capacity })
    }
    pub(crate) fn bad_bytes(message: String) -> Self {
        Self::new(TaskErrorKind::BadBytes { message })
    }
    pub(crate) fn all_slots_held(slots: usize) -> Self {
        Self::new(TaskErrorKind::AllSlotsHeld { slots })
    }
    pub(crate) fn foreign_function() -> Self {
        Self::new(TaskErrorKind::ForeignFunction)
    }
    pub(crate) fn cancelled() -> Self {
        Self::new(TaskErrorKind::Cancelled)
    }
    pub(crate) fn pool_closed() -> Self {
        Self::new(TaskErrorKind::PoolClosed)
    }
    pub(crate) fn broken() -> Self {
        Self::new(TaskErrorKind::Broken)
    }
    pub(crate) fn killed() -> Self {
        Self::new(TaskErrorKind::Killed)
    }
    pub(crate) fn spawn_failed(why: impl Into<String>) -> Self {
        Self::new(TaskErrorKind::SpawnFailed { why: why.into() })
    }
    fn new(kind: TaskErrorKind) -> Self {
        TaskError { kind }
    }

    /// The worker running the task died (a signal, or an exit while the task
    /// ran: `abort`, `process::exit`, a panic with `panic = "abort"`).
    pub fn is_crash(&self) -> bool {
        matches!(
            self.kind,
            TaskErrorKind::Signaled { .. } | TaskErrorKind::Exited { .. }
        )
    }

    /// The signal that killed the worker, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.kind {
            TaskErrorKind::Signaled { signal } => Some(signal),
            _ => None,
        }
    }

    /// The worker's exit code, if it exited while running the task.
    pub fn exit_code(&self) -> Option<i32> {
        match self.kind {
            TaskErrorKind::Exited { code } => Some(code),
            _ => None,
        }
    }

    /// The task panicked (and was caught: the worker lives on).
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, TaskErrorKind::Panicked { .. })
    }

    /// The panic message, if the task panicked.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.kind {
            TaskErrorKind::Panicked { message } => Some(message),
            _ => None,
        }
    }

    /// The task ran past its timeout; its worker was killed and replaced.
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, TaskErrorKind::TimedOut { .. })
    }

    /// The argument or the result did not fit in a result slot.
    pub fn is_too_large(&self) -> bool {
        matches!(
            self.kind,
            TaskErrorKind::ArgumentTooLarge { .. } | TaskErrorKind::ResultTooLarge { .. }
        )
    }

    /// For a too-large argument or result: `(needed, capacity)` in bytes.
    pub fn sizes(&self) -> Option<(u64, u64)> {
        match self.kind {
            TaskErrorKind::ArgumentTooLarge { needed, capacity }
            | TaskErrorKind::ResultTooLarge { needed, capacity } => Some((needed, capacity)),
            _ => None,
        }
    }

    /// The task was refused at submit, never run: every result slot was held
    /// by a live [`SharedBytes`](super::SharedBytes) view of an earlier
    /// result, so no slot could come free while the submitter waited. Drop
    /// a view (or copy it out with `into_vec`) and submit again.
    pub fn is_all_slots_held(&self) -> bool {
        matches!(self.kind, TaskErrorKind::AllSlotsHeld { .. })
    }

    /// The task was refused at submit, never run: its function (or the
    /// trampoline for its argument and result types) is not code of the
    /// program's binary but of a shared library, which a worker, started
    /// from the binary, cannot reach.
    pub fn is_foreign_function(&self) -> bool {
        matches!(self.kind, TaskErrorKind::ForeignFunction)
    }

    /// The pool was shut down immediately before the task could finish.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.kind, TaskErrorKind::Cancelled)
    }

    /// The task was submitted after the pool began shutting down.
    pub fn is_pool_closed(&self) -> bool {
        matches!(self.kind, TaskErrorKind::PoolClosed)
    }

    /// The pool can run nothing more: its zygote died, or every worker's
    /// initializer failed.
    pub fn is_broken(&self) -> bool {
        matches!(self.kind, TaskErrorKind::Broken)
    }

    /// The argument or result bytes did not decode (a bug in a hand-written
    /// [`Decode`](super::Decode)).
    pub fn is_bad_bytes(&self) -> bool {
        matches!(self.kind, TaskErrorKind::BadBytes { .. })
    }

    /// A spawned process was killed by
    /// [`SpawnHandle::kill`](super::SpawnHandle::kill) before `f` returned.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// fn sleep_ms(ms: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(ms));
    ///     ms
    /// }
    ///
    /// let process = triad::processes::spawn(sleep_ms, 60_000);
    /// assert!(process.kill());
    /// let error = process.wait().unwrap_err();
    /// assert!(error.is_killed() && !error.is_crash());
    /// ```
    pub fn is_killed(&self) -> bool {
        matches!(self.kind, TaskErrorKind::Killed)
    }

    /// No process could be started for a spawned task (`fork` failed in
    /// the zygote, or its spawner could not be built); `f` never ran.
    ///
    /// ```
    /// fn double(x: u32) -> u32 { x * 2 }
    ///
    /// let outcome = triad::processes::spawn(double, 4).wait();
    /// // Fails only when the system refuses a process.
    /// assert!(outcome.as_ref().map_or_else(|e| e.is_spawn_failure(), |&v| v == 8));
    /// ```
    pub fn is_spawn_failure(&self) -> bool {
        matches!(self.kind, TaskErrorKind::SpawnFailed { .. })
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGTERM => "SIGTERM",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGXCPU => "SIGXCPU",
        _ => "signal",
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TaskErrorKind::Signaled { signal } => write!(
                f,
                "the worker running the task was killed by {} ({signal})",
                signal_name(*signal)
            ),
            TaskErrorKind::Exited { code } => {
                write!(f, "the worker running the task exited with code {code}")
            }
            TaskErrorKind::Panicked { message } => write!(f, "the task panicked: {message}"),
            TaskErrorKind::TimedOut { after } => {
                write!(
                    f,
                    "the task ran past its {after:?} timeout; its worker was killed"
                )
            }
            TaskErrorKind::ArgumentTooLarge { needed, capacity } => write!(
                f,
                "the encoded argument needs {needed} bytes, the result capacity is {capacity}"
            ),
            TaskErrorKind::ResultTooLarge { needed, capacity } => write!(
                f,
                "the encoded result needs {needed} bytes, the result capacity is {capacity}"
            ),
            TaskErrorKind::BadBytes { message } => write!(f, "bad encoded bytes: {message}"),
            TaskErrorKind::AllSlotsHeld { slots } => write!(
                f,
                "all {slots} result slots are held by live SharedBytes results; \
                 drop one before submitting more"
            ),
            TaskErrorKind::ForeignFunction => write!(
                f,
                "the task's function is not in the program's binary (a shared \
                 library's?): a worker could not call it"
            ),
            TaskErrorKind::Cancelled => {
                write!(f, "the pool was shut down before the task finished")
            }
            TaskErrorKind::PoolClosed => write!(f, "the pool is shut down; the task never ran"),
            TaskErrorKind::Broken => write!(
                f,
                "the pool is broken (its zygote died or no worker could start)"
            ),
            TaskErrorKind::Killed => write!(f, "the process was killed on request"),
            TaskErrorKind::SpawnFailed { why } => {
                write!(f, "no process could be started for the task: {why}")
            }
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskError({self})")
    }
}

impl std::error::Error for TaskError {}

/// From [`ProcessPool::try_submit`](super::ProcessPool::try_submit): every
/// result slot is busy, so the task was not submitted; its argument comes
/// back.
///
/// ```
/// use triad::processes::ProcessPool;
///
/// fn nap(ms: u64) -> u64 {
///     std::thread::sleep(std::time::Duration::from_millis(ms));
///     ms
/// }
///
/// let pool = ProcessPool::builder().workers(1).slots_per_worker(1).build().unwrap();
/// let busy = pool.try_submit(nap, 100).unwrap();
/// let full = pool.try_submit(nap, 7).unwrap_err();
/// assert_eq!(full.to_string(), "every result slot of the process pool is busy");
/// assert_eq!(full.into_arg(), 7);
/// busy.wait().unwrap();
/// ```
pub struct PoolFull<A> {
    arg: A,
}

impl<A> PoolFull<A> {
    pub(crate) fn new(arg: A) -> Self {
        PoolFull { arg }
    }

    /// The argument of the task that was not submitted.
    ///
    /// ```
    /// # use triad::processes::ProcessPool;
    /// # fn nap(ms: u64) -> u64 { std::thread::sleep(std::time::Duration::from_millis(ms)); ms }
    /// # let pool = ProcessPool::builder().workers(1).slots_per_worker(1).build().unwrap();
    /// # let busy = pool.try_submit(nap, 100).unwrap();
    /// let arg: u64 = pool.try_submit(nap, 7).unwrap_err().into_arg();
    /// assert_eq!(arg, 7);
    /// ```
    pub fn into_arg(self) -> A {
        self.arg
    }
}

impl<A> fmt::Display for PoolFull<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "every result slot of the process pool is busy")
    }
}

impl<A> fmt::Debug for PoolFull<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolFull").finish_non_exhaustive()
    }
}

impl<A> std::error::Error for PoolFull<A> {}
