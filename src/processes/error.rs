//! The process pool's errors: opaque structs with a private kind and
//! predicates, so kinds can be added without breaking callers.

use std::fmt;
use std::io;
use std::time::Duration;

/// Why a [`ProcessPool`](super::ProcessPool) could not be built.
///
/// ```
/// use triad::processes::ProcessPool;
///
/// let error = ProcessPool::builder().workers(0).build().unwrap_err();
/// assert!(error.is_zero_workers() && error.is_bad_config());
/// assert_eq!(error.to_string(), "a process pool needs at least one worker");
/// ```
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
    RegionTooLarge {
        slots: usize,
        capacity: usize,
    },
    ThreadedParent {
        threads: usize,
    },
    MemoryLimitTooSmall {
        limit: u64,
        shared: u64,
    },
    ForeignInitializer,
    InitializerTimeoutWithoutInitializer,
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
    pub(crate) fn new_region_too_large(slots: usize, capacity: usize) -> Self {
        Self::new(BuildErrorKind::RegionTooLarge { slots, capacity })
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
    pub(crate) fn initializer_timeout_without_initializer() -> Self {
        Self::new(BuildErrorKind::InitializerTimeoutWithoutInitializer)
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
    /// limit, a shared region too large to map), or the initializer is not
    /// a function of the program's binary.
    ///
    /// ```
    /// use std::time::Duration;
    /// use triad::processes::ProcessPool;
    ///
    /// let error = ProcessPool::builder().task_timeout(Duration::ZERO).build().unwrap_err();
    /// assert!(error.is_bad_config());
    /// let error = ProcessPool::builder().workers(1).slots_per_worker(0).build().unwrap_err();
    /// assert!(error.is_bad_config());
    /// // A timeout for an initializer that was never set: a mistake, not a no-op.
    /// let error = ProcessPool::builder()
    ///     .initializer_timeout(Duration::from_secs(1))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(error.is_bad_config());
    /// ```
    pub fn is_bad_config(&self) -> bool {
        matches!(
            self.kind,
            BuildErrorKind::ZeroWorkers
                | BuildErrorKind::ZeroCapacity
                | BuildErrorKind::ZeroSlots
                | BuildErrorKind::ZeroMaxTasks
                | BuildErrorKind::ZeroTimeout
                | BuildErrorKind::TooManySlots { .. }
                | BuildErrorKind::RegionTooLarge { .. }
                | BuildErrorKind::MemoryLimitTooSmall { .. }
                | BuildErrorKind::ForeignInitializer
                | BuildErrorKind::InitializerTimeoutWithoutInitializer
        )
    }

    /// The shared region (every slot's `result_capacity` bytes, rounded up
    /// to a page) would not fit in the address space:
    /// `Some((slots, result capacity))`.
    ///
    /// ```
    /// let error = triad::processes::ProcessPool::builder()
    ///     .workers(2)
    ///     .result_capacity(usize::MAX)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(error.region_too_large(), Some((8, usize::MAX)));
    /// assert!(error.is_bad_config());
    /// ```
    pub fn region_too_large(&self) -> Option<(usize, usize)> {
        match self.kind {
            BuildErrorKind::RegionTooLarge { slots, capacity } => Some((slots, capacity)),
            _ => None,
        }
    }

    /// The initializer lives outside the program's binary (in a shared
    /// library): a worker started from the binary could not find it.
    ///
    /// ```
    /// use triad::processes::ProcessPool;
    ///
    /// // An address in libc (a shared library), posing as an initializer. It is
    /// // never called: `build` refuses it before any worker starts.
    /// # // SAFETY: a fn pointer need only be non-null; this one is never called.
    /// let foreign: fn() = unsafe { std::mem::transmute(libc::getpid as *const ()) };
    /// let error = ProcessPool::builder().workers(1).initializer(foreign).build().unwrap_err();
    /// assert!(error.is_foreign_function() && error.is_bad_config());
    /// ```
    pub fn is_foreign_function(&self) -> bool {
        matches!(self.kind, BuildErrorKind::ForeignInitializer)
    }

    /// The configuration asked for zero workers.
    ///
    /// ```
    /// let error = triad::processes::ProcessPool::builder().workers(0).build().unwrap_err();
    /// assert!(error.is_zero_workers());
    /// ```
    pub fn is_zero_workers(&self) -> bool {
        matches!(self.kind, BuildErrorKind::ZeroWorkers)
    }

    /// A direct fork was asked for ([`StartMode::Fork`](super::StartMode))
    /// but the process has other threads: the zygote would inherit their
    /// locks. `Some(number of threads)`.
    ///
    /// ```
    /// use triad::processes::{ProcessPool, StartMode};
    ///
    /// let (stop, stopped) = std::sync::mpsc::channel::<()>();
    /// let other = std::thread::spawn(move || stopped.recv()); // a second thread
    /// let error = ProcessPool::builder().workers(1).start_mode(StartMode::Fork).build().unwrap_err();
    /// assert!(error.threaded_parent().unwrap() >= 2);
    /// drop(stop);
    /// other.join().unwrap().unwrap_err();
    /// ```
    pub fn threaded_parent(&self) -> Option<usize> {
        match self.kind {
            BuildErrorKind::ThreadedParent { threads } => Some(threads),
            _ => None,
        }
    }

    /// The memory limit is below the size of the shared region every worker
    /// maps: `Some((limit, shared))`.
    ///
    /// ```
    /// let error = triad::processes::ProcessPool::builder()
    ///     .workers(1)
    ///     .memory_limit(1 << 20) // 1 MiB: less than four 64 MiB slots
    ///     .build()
    ///     .unwrap_err();
    /// let (limit, shared) = error.memory_limit_too_small().unwrap();
    /// assert_eq!(limit, 1 << 20);
    /// assert!(shared > 4 * (64 << 20));
    /// ```
    pub fn memory_limit_too_small(&self) -> Option<(u64, u64)> {
        match self.kind {
            BuildErrorKind::MemoryLimitTooSmall { limit, shared } => Some((limit, shared)),
            _ => None,
        }
    }

    /// The system refused a resource (memfd, mapping, pipe, eventfd, process).
    ///
    /// ```
    /// # // Leave this process no free file descriptor (the limit is ours alone).
    /// # let next_fd = { use std::os::fd::AsRawFd; std::fs::File::open("/dev/null").unwrap().as_raw_fd() };
    /// # let mut saved = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    /// # // SAFETY: a valid resource and a pointer to a live rlimit.
    /// # assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut saved) }, 0);
    /// # let limit = libc::rlimit { rlim_cur: next_fd as libc::rlim_t, rlim_max: saved.rlim_max };
    /// # // SAFETY: as above.
    /// # assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    /// // With no file descriptor left, the pool cannot make its shared memory.
    /// let error = triad::processes::ProcessPool::builder().workers(1).build().unwrap_err();
    /// assert!(error.is_io());
    /// assert!(std::error::Error::source(&error).is_some()); // the io::Error
    /// # // Give the descriptors back (a leak checker at exit needs some).
    /// # // SAFETY: as above.
    /// # assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &saved) }, 0);
    /// ```
    pub fn is_io(&self) -> bool {
        matches!(self.kind, BuildErrorKind::Io { .. })
    }

    /// The zygote did not start or did not answer.
    ///
    /// ```
    /// // A zygote that cannot start is rare (the system killing it at once);
    /// // a configuration error is something else.
    /// let error = triad::processes::ProcessPool::builder().workers(0).build().unwrap_err();
    /// assert!(!error.is_zygote_failure());
    /// ```
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
            BuildErrorKind::ZeroTimeout => write!(f, "a task or initializer timeout must be longer than zero"),
            BuildErrorKind::TooManySlots { slots, max } => {
                write!(f, "{slots} result slots asked for, at most {max} are supported")
            }
            BuildErrorKind::RegionTooLarge { slots, capacity } => write!(
                f,
                "{slots} result slots of {capacity} bytes do not fit in the address space"
            ),
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
            BuildErrorKind::InitializerTimeoutWithoutInitializer => write!(
                f,
                "an initializer timeout was set, but no initializer to run within it"
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
///
/// ```
/// use triad::processes::ProcessPool;
///
/// fn check(x: i64) -> i64 {
///     assert!(x >= 0, "negative input {x}");
///     x
/// }
///
/// let pool = ProcessPool::builder().workers(1).build().unwrap();
/// let error = pool.submit(check, -1).wait().unwrap_err();
/// assert!(error.is_panic());
/// assert_eq!(error.to_string(), "the task panicked: negative input -1");
/// assert_eq!(pool.submit(check, 5).wait(), Ok(5)); // the worker lives on
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TaskError {
    kind: TaskErrorKind,
}

#[derive(Clone, PartialEq, Eq)]
enum TaskErrorKind {
    Signaled {
        signal: i32,
    },
    Exited {
        code: i32,
    },
    Panicked {
        message: String,
    },
    TimedOut {
        after: Duration,
    },
    ArgumentTooLarge {
        needed: u64,
        capacity: u64,
    },
    ResultTooLarge {
        needed: u64,
        capacity: u64,
    },
    BadBytes {
        message: String,
    },
    AllSlotsHeld {
        slots: usize,
    },
    ForeignFunction,
    Cancelled,
    /// Cancelled through its handle (`TaskHandle::cancel`) before it ran.
    Withdrawn,
    PoolClosed,
    Broken,
    Forked,
    Killed,
    SpawnFailed {
        why: String,
    },
    InvalidArgument {
        what: &'static str,
    },
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
    pub(crate) fn withdrawn() -> Self {
        Self::new(TaskErrorKind::Withdrawn)
    }
    pub(crate) fn pool_closed() -> Self {
        Self::new(TaskErrorKind::PoolClosed)
    }
    pub(crate) fn broken() -> Self {
        Self::new(TaskErrorKind::Broken)
    }
    pub(crate) fn forked() -> Self {
        Self::new(TaskErrorKind::Forked)
    }
    pub(crate) fn killed() -> Self {
        Self::new(TaskErrorKind::Killed)
    }
    pub(crate) fn spawn_failed(why: impl Into<String>) -> Self {
        Self::new(TaskErrorKind::SpawnFailed { why: why.into() })
    }
    pub(crate) fn invalid_argument(what: &'static str) -> Self {
        Self::new(TaskErrorKind::InvalidArgument { what })
    }
    fn new(kind: TaskErrorKind) -> Self {
        TaskError { kind }
    }

    /// The worker running the task died (a signal, or an exit while the task
    /// ran: `abort`, `process::exit`, a panic with `panic = "abort"`).
    ///
    /// ```
    /// fn crash(_: ()) {
    ///     std::process::abort();
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let error = pool.submit(crash, ()).wait().unwrap_err();
    /// assert!(error.is_crash());
    /// ```
    pub fn is_crash(&self) -> bool {
        matches!(
            self.kind,
            TaskErrorKind::Signaled { .. } | TaskErrorKind::Exited { .. }
        )
    }

    /// The signal that killed the worker, if one did.
    ///
    /// ```
    /// fn crash(_: ()) {
    ///     std::process::abort();
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let error = pool.submit(crash, ()).wait().unwrap_err();
    /// assert_eq!(error.signal(), Some(libc::SIGABRT));
    /// assert!(error.to_string().contains("SIGABRT"));
    /// ```
    pub fn signal(&self) -> Option<i32> {
        match self.kind {
            TaskErrorKind::Signaled { signal } => Some(signal),
            _ => None,
        }
    }

    /// The worker's exit code, if it exited while running the task.
    ///
    /// ```
    /// fn quit(code: i32) {
    ///     std::process::exit(code);
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let error = pool.submit(quit, 3).wait().unwrap_err();
    /// assert!(error.is_crash());
    /// assert_eq!(error.exit_code(), Some(3));
    /// ```
    pub fn exit_code(&self) -> Option<i32> {
        match self.kind {
            TaskErrorKind::Exited { code } => Some(code),
            _ => None,
        }
    }

    /// The task panicked (and was caught: the worker lives on).
    ///
    /// ```
    /// fn fail(_: ()) {
    ///     panic!("boom");
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// assert!(pool.submit(fail, ()).wait().unwrap_err().is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, TaskErrorKind::Panicked { .. })
    }

    /// The panic message, if the task panicked.
    ///
    /// ```
    /// fn parse(s: String) -> u32 {
    ///     s.parse().unwrap_or_else(|_| panic!("not a number: {s}"))
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let error = pool.submit(parse, "x".to_string()).wait().unwrap_err();
    /// assert_eq!(error.panic_message(), Some("not a number: x"));
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match &self.kind {
            TaskErrorKind::Panicked { message } => Some(message),
            _ => None,
        }
    }

    /// The task ran past its timeout; its worker was killed and replaced.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(ms));
    ///     ms
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let slow = pool.submit_timeout(nap, 60_000, Some(Duration::from_millis(50)));
    /// assert!(slow.wait().unwrap_err().is_timeout());
    /// assert_eq!(pool.submit(nap, 1).wait(), Ok(1)); // on a replacement worker
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, TaskErrorKind::TimedOut { .. })
    }

    /// The argument or the result did not fit in a result slot.
    ///
    /// ```
    /// fn zeros(n: usize) -> Vec<u8> {
    ///     vec![0; n]
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).result_capacity(1024).build().unwrap();
    /// assert!(pool.submit(zeros, 4096).wait().unwrap_err().is_too_large());
    /// assert_eq!(pool.submit(zeros, 16).wait().unwrap().len(), 16);
    /// ```
    pub fn is_too_large(&self) -> bool {
        matches!(
            self.kind,
            TaskErrorKind::ArgumentTooLarge { .. } | TaskErrorKind::ResultTooLarge { .. }
        )
    }

    /// For a too-large argument or result: `(needed, capacity)` in bytes.
    ///
    /// ```
    /// fn echo(v: Vec<u8>) -> Vec<u8> {
    ///     v
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).result_capacity(1024).build().unwrap();
    /// let error = pool.submit(echo, vec![0; 2000]).wait().unwrap_err(); // refused at submit
    /// assert_eq!(error.sizes(), Some((8 + 2000, 1024))); // a u64 length, then the bytes
    /// ```
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
    ///
    /// ```
    /// use triad::processes::{ProcessPool, SharedBytes};
    ///
    /// fn block(n: usize) -> SharedBytes {
    ///     SharedBytes::from_fn(n, |b| b.fill(1))
    /// }
    /// let pool = ProcessPool::builder().workers(1).slots_per_worker(1).build().unwrap();
    /// let view = pool.submit(block, 1024).wait().unwrap(); // holds the only slot
    /// assert!(pool.submit(block, 8).wait().unwrap_err().is_all_slots_held());
    /// drop(view);
    /// assert_eq!(pool.submit(block, 8).wait().unwrap().len(), 8);
    /// ```
    pub fn is_all_slots_held(&self) -> bool {
        matches!(self.kind, TaskErrorKind::AllSlotsHeld { .. })
    }

    /// The task was refused at submit, never run: its function (or the
    /// trampoline for its argument and result types) is not code of the
    /// program's binary but of a shared library, which a worker, started
    /// from the binary, cannot reach.
    ///
    /// ```
    /// // An address in libc (a shared library), posing as a task. It is never
    /// // called: the pool refuses it at submit.
    /// # // SAFETY: a fn pointer need only be non-null; this one is never called.
    /// let foreign: fn(u64) -> u64 = unsafe { std::mem::transmute(libc::getpid as *const ()) };
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// assert!(pool.submit(foreign, 1).wait().unwrap_err().is_foreign_function());
    /// ```
    pub fn is_foreign_function(&self) -> bool {
        matches!(self.kind, TaskErrorKind::ForeignFunction)
    }

    /// The pool was shut down immediately before the task could finish,
    /// or the task was cancelled through its handle
    /// ([`TaskHandle::cancel`](super::TaskHandle::cancel)) before it ran.
    ///
    /// ```
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(std::time::Duration::from_millis(ms));
    ///     ms
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let long = pool.submit(nap, 60_000);
    /// pool.shutdown_now(); // kills the worker running it
    /// assert!(long.wait().unwrap_err().is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self.kind,
            TaskErrorKind::Cancelled | TaskErrorKind::Withdrawn
        )
    }

    /// The task was submitted after the pool began shutting down.
    ///
    /// ```
    /// // `shutdown` takes the pool by value, so through a `ProcessPool` no submit
    /// // can follow it; a submit racing the shutdown of a shared pool (the
    /// // `Runtime` facade's) gets this error. A task that ran is never closed:
    /// fn double(x: u64) -> u64 {
    ///     x * 2
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let handle = pool.submit(double, 21);
    /// pool.shutdown(); // the task already submitted still runs
    /// assert_eq!(handle.wait(), Ok(42));
    /// ```
    pub fn is_pool_closed(&self) -> bool {
        matches!(self.kind, TaskErrorKind::PoolClosed)
    }

    /// A call was given an argument it cannot work with (such as a chunk
    /// size of 0); nothing was submitted.
    ///
    /// ```
    /// fn double(x: u64) -> u64 {
    ///     x * 2
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let error = pool.map_chunked(double, 0..10, 0).unwrap_err();
    /// assert!(error.is_invalid_argument());
    /// assert_eq!(error.to_string(), "invalid argument: a chunk of 0 items; nothing was submitted");
    /// ```
    pub fn is_invalid_argument(&self) -> bool {
        matches!(self.kind, TaskErrorKind::InvalidArgument { .. })
    }

    /// The pool can run nothing more: its zygote died, or every worker's
    /// initializer failed.
    ///
    /// ```
    /// fn connect() {
    ///     panic!("no database"); // every worker's initializer fails
    /// }
    /// fn query(id: u32) -> u32 {
    ///     id
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).initializer(connect).build().unwrap();
    /// assert!(pool.submit(query, 1).wait().unwrap_err().is_broken());
    /// ```
    pub fn is_broken(&self) -> bool {
        matches!(self.kind, TaskErrorKind::Broken)
    }

    /// The pool was used in a forked child of the process that built it
    /// (pool rule P9): the copy there has no supervisor, and shares its
    /// slots and zygote with the parent's pool, so it runs nothing and
    /// leaves the parent's pool alone.
    ///
    /// ```
    /// fn double(x: u64) -> u64 {
    ///     x * 2
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// // SAFETY: the child only asks the pool, then leaves with `_exit`.
    /// let child = unsafe { libc::fork() };
    /// if child == 0 {
    ///     let forked = pool.submit(double, 1).wait().is_err_and(|e| e.is_forked());
    ///     // SAFETY: leave at once, running nothing of the parent's.
    ///     unsafe { libc::_exit(if forked { 0 } else { 1 }) }
    /// }
    /// let mut status = 0;
    /// // SAFETY: our child, and a live int.
    /// assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    /// assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    /// assert_eq!(pool.submit(double, 2).wait(), Ok(4)); // the parent's pool goes on
    /// ```
    pub fn is_forked(&self) -> bool {
        matches!(self.kind, TaskErrorKind::Forked)
    }

    /// The argument or result bytes did not decode (a bug in a hand-written
    /// [`Decode`](super::Decode)).
    ///
    /// ```
    /// use triad::processes::{Decode, DecodeError, Encode, ProcessPool, Reader, Writer};
    ///
    /// /// A digit; its `Decode` refuses anything above 9.
    /// struct Digit(u8);
    /// impl Encode for Digit {
    ///     fn encode(&self, w: &mut Writer<'_>) {
    ///         self.0.encode(w)
    ///     }
    /// }
    /// impl Decode for Digit {
    ///     fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
    ///         match u8::decode(r)? {
    ///             d @ 0..=9 => Ok(Digit(d)),
    ///             d => Err(DecodeError::custom(format!("{d} is not a digit"))),
    ///         }
    ///     }
    /// }
    /// fn square(d: Digit) -> u32 {
    ///     u32::from(d.0) * u32::from(d.0)
    /// }
    /// let pool = ProcessPool::builder().workers(1).build().unwrap();
    /// assert_eq!(pool.submit(square, Digit(3)).wait(), Ok(9));
    /// assert!(pool.submit(square, Digit(42)).wait().unwrap_err().is_bad_bytes());
    /// ```
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
                "the process running the task was killed by {} ({signal})",
                signal_name(*signal)
            ),
            TaskErrorKind::Exited { code } => {
                write!(f, "the process running the task exited with code {code}")
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
            TaskErrorKind::Withdrawn => {
                write!(f, "the task was cancelled through its handle before it ran")
            }
            TaskErrorKind::PoolClosed => write!(f, "the pool is shut down; the task never ran"),
            TaskErrorKind::Broken => write!(
                f,
                "the pool is broken (its zygote died or no worker could start)"
            ),
            TaskErrorKind::Forked => write!(
                f,
                "the pool was used in a forked child of the process that built it"
            ),
            TaskErrorKind::Killed => write!(f, "the process was killed on request"),
            TaskErrorKind::SpawnFailed { why } => {
                write!(f, "no process could be started for the task: {why}")
            }
            TaskErrorKind::InvalidArgument { what } => {
                write!(f, "invalid argument: {what}; nothing was submitted")
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
