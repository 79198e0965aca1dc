//! The thread pool's errors: opaque structs with a private kind and
//! predicates, so kinds can be added without breaking callers.

use std::any::Any;
use std::fmt;
use std::io;

/// Why a [`ThreadPool`](super::ThreadPool) could not be built.
///
/// ```
/// use triad::threads::ThreadPool;
/// let error = ThreadPool::builder().num_threads(0).build().unwrap_err();
/// assert!(error.is_zero_threads());
/// assert_eq!(error.to_string(), "a thread pool needs at least one thread");
/// ```
#[derive(Debug)]
pub struct BuildError {
    kind: BuildErrorKind,
}

#[derive(Debug)]
enum BuildErrorKind {
    ZeroThreads,
    TooManyThreads { asked: usize, max: usize },
    Spawn { index: usize, source: io::Error },
    ForkHandler(io::Error),
    NoCoreIds,
    InvalidThreadName { index: usize },
}

impl BuildError {
    pub(crate) fn zero_threads() -> Self {
        BuildError {
            kind: BuildErrorKind::ZeroThreads,
        }
    }
    pub(crate) fn too_many_threads(asked: usize, max: usize) -> Self {
        BuildError {
            kind: BuildErrorKind::TooManyThreads { asked, max },
        }
    }
    pub(crate) fn spawn(index: usize, source: io::Error) -> Self {
        BuildError {
            kind: BuildErrorKind::Spawn { index, source },
        }
    }
    pub(crate) fn fork_handler(source: io::Error) -> Self {
        BuildError {
            kind: BuildErrorKind::ForkHandler(source),
        }
    }
    pub(crate) fn no_core_ids() -> Self {
        BuildError {
            kind: BuildErrorKind::NoCoreIds,
        }
    }
    pub(crate) fn invalid_thread_name(index: usize) -> Self {
        BuildError {
            kind: BuildErrorKind::InvalidThreadName { index },
        }
    }

    /// The configuration asked for zero threads.
    ///
    /// ```
    /// let error = triad::threads::ThreadPool::builder().num_threads(0).build().unwrap_err();
    /// assert!(error.is_zero_threads());
    /// ```
    pub fn is_zero_threads(&self) -> bool {
        matches!(self.kind, BuildErrorKind::ZeroThreads)
    }

    /// The configuration asked for more threads than a pool may have
    /// (65 536), refused before anything is allocated for them.
    ///
    /// ```
    /// let error = triad::threads::ThreadPool::builder().num_threads(usize::MAX).build().unwrap_err();
    /// assert!(error.is_too_many_threads());
    /// ```
    pub fn is_too_many_threads(&self) -> bool {
        matches!(self.kind, BuildErrorKind::TooManyThreads { .. })
    }

    /// The system refused to start a worker thread.
    ///
    /// ```
    /// // A stack larger than any address space: the system cannot start the thread.
    /// let error = triad::threads::ThreadPool::builder()
    ///     .num_threads(1)
    ///     .stack_size(usize::MAX / 2)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(error.is_spawn_failure());
    /// assert!(std::error::Error::source(&error).is_some()); // the io::Error
    /// ```
    pub fn is_spawn_failure(&self) -> bool {
        matches!(self.kind, BuildErrorKind::Spawn { .. })
    }

    /// Pinning was asked for but the system did not tell which cores exist.
    ///
    /// ```
    /// let built = triad::threads::ThreadPool::builder().num_threads(1).pin_workers(true).build();
    /// match built {
    ///     Ok(pool) => assert_eq!(pool.current_num_threads(), 1),
    ///     Err(error) => assert!(error.is_pinning_unavailable()),
    /// }
    /// ```
    pub fn is_pinning_unavailable(&self) -> bool {
        matches!(self.kind, BuildErrorKind::NoCoreIds)
    }

    /// A name given by [`thread_name`](super::ThreadPoolBuilder::thread_name)
    /// contains a NUL byte, which no thread name may hold (checked before
    /// any thread starts).
    ///
    /// ```
    /// let error = triad::threads::ThreadPool::builder()
    ///     .num_threads(1)
    ///     .thread_name(|_| "bad\0name".to_string())
    ///     .build()
    ///     .unwrap_err();
    /// assert!(error.is_invalid_thread_name());
    /// ```
    pub fn is_invalid_thread_name(&self) -> bool {
        matches!(self.kind, BuildErrorKind::InvalidThreadName { .. })
    }

    /// The pool could not install its `pthread_atfork` handler (the one
    /// that lets a forked child's calls fail with `PoolError::is_forked`
    /// instead of waiting on threads the child does not have). Only an
    /// exhausted C library refuses it (ENOMEM); the `io::Error` is the
    /// [`source`](std::error::Error::source).
    ///
    /// ```
    /// // On a healthy system the handler installs and the pool builds.
    /// let pool = triad::threads::ThreadPool::builder().num_threads(1).build();
    /// assert!(pool.map_or_else(|e| e.is_fork_handler_failure(), |_| true));
    /// ```
    pub fn is_fork_handler_failure(&self) -> bool {
        matches!(self.kind, BuildErrorKind::ForkHandler(_))
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BuildErrorKind::ZeroThreads => write!(f, "a thread pool needs at least one thread"),
            BuildErrorKind::TooManyThreads { asked, max } => {
                write!(
                    f,
                    "{asked} threads asked for, a thread pool has at most {max}"
                )
            }
            BuildErrorKind::Spawn { index, source } => {
                write!(f, "could not start worker thread {index}: {source}")
            }
            BuildErrorKind::ForkHandler(source) => {
                write!(f, "could not install the fork handler: {source}")
            }
            BuildErrorKind::NoCoreIds => {
                write!(
                    f,
                    "pinning asked for, but the system's core ids are unavailable"
                )
            }
            BuildErrorKind::InvalidThreadName { index } => {
                write!(f, "the name of worker thread {index} contains a NUL byte")
            }
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            BuildErrorKind::Spawn { source, .. } | BuildErrorKind::ForkHandler(source) => {
                Some(source)
            }
            _ => None,
        }
    }
}

/// Why a call into a pool could not run.
///
/// ```
/// use triad::threads::ThreadPool;
/// let pool = ThreadPool::builder().num_threads(1).build().unwrap();
/// // Only a forked child gets a `PoolError`; in the process that built it,
/// // the pool runs the closure.
/// let result: Result<u32, triad::threads::PoolError> = pool.install(|| 7);
/// assert_eq!(result.unwrap(), 7);
/// ```
#[derive(Debug)]
pub struct PoolError {
    kind: PoolErrorKind,
}

#[derive(Debug)]
enum PoolErrorKind {
    Forked,
}

impl PoolError {
    pub(crate) fn forked() -> Self {
        PoolError {
            kind: PoolErrorKind::Forked,
        }
    }

    /// The pool was built in a parent process: this is a forked child, where
    /// its threads do not exist.
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder().num_threads(1).build().unwrap();
    /// # // SAFETY: the child only calls `install` (which fails fast) and `_exit`.
    /// match unsafe { libc::fork() } {
    ///     0 => {
    ///         let forked = pool.install(|| ()).unwrap_err().is_forked();
    ///         # // SAFETY: `_exit` is async-signal-safe.
    ///         unsafe { libc::_exit(if forked { 0 } else { 1 }) }
    ///     }
    ///     child => {
    ///         let mut status = 0;
    ///         # // SAFETY: `child` is our own child; `status` is a valid out-pointer.
    ///         assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    ///         assert_eq!(libc::WEXITSTATUS(status), 0);
    ///     }
    /// }
    /// ```
    pub fn is_forked(&self) -> bool {
        matches!(self.kind, PoolErrorKind::Forked)
    }
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PoolErrorKind::Forked => write!(
                f,
                "the thread pool was built before this process was forked; its threads do not exist here"
            ),
        }
    }
}

impl std::error::Error for PoolError {}

/// Why a spawned job gave no value.
///
/// ```
/// let error = triad::threads::spawn(|| -> u8 { panic!("out of range") }).join().unwrap_err();
/// assert!(error.is_panic());
/// assert_eq!(error.to_string(), "the job panicked: out of range");
/// ```
pub struct JoinError {
    kind: JoinErrorKind,
}

enum JoinErrorKind {
    Panicked {
        message: String,
        payload: Box<dyn Any + Send>,
    },
    Cancelled,
    PoolUnavailable,
}

// SAFETY: the only non-Sync part is the panic payload, which no `&JoinError`
// method ever touches: it is reachable only by value through `into_panic`.
// (The message is copied out of it when the error is made.)
unsafe impl Sync for JoinError {}

impl JoinError {
    pub(crate) fn panicked(payload: Box<dyn Any + Send>) -> Self {
        let message = super::scope::panic_message(&*payload).to_owned();
        JoinError {
            kind: JoinErrorKind::Panicked { message, payload },
        }
    }
    pub(crate) fn cancelled() -> Self {
        JoinError {
            kind: JoinErrorKind::Cancelled,
        }
    }
    pub(crate) fn pool_unavailable() -> Self {
        JoinError {
            kind: JoinErrorKind::PoolUnavailable,
        }
    }

    /// The job panicked.
    ///
    /// ```
    /// let error = triad::threads::spawn(|| -> u8 { panic!("boom") }).join().unwrap_err();
    /// assert!(error.is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, JoinErrorKind::Panicked { .. })
    }

    /// The job was dropped without running.
    ///
    /// ```
    /// // Every job the pool accepts runs (shutdown drains the queues), so a
    /// // job dropped unrun is rare; a job that ran and panicked is not cancelled.
    /// let error = triad::threads::spawn(|| -> u8 { panic!("boom") }).join().unwrap_err();
    /// assert!(!error.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.kind, JoinErrorKind::Cancelled)
    }

    /// The job's pool has no threads in this process (a forked child).
    ///
    /// ```
    /// let pool = triad::threads::ThreadPool::builder().num_threads(1).build().unwrap();
    /// # // SAFETY: the child only calls `spawn`/`join` (which fail fast) and `_exit`.
    /// match unsafe { libc::fork() } {
    ///     0 => {
    ///         let error = pool.spawn(|| 1).join().unwrap_err();
    ///         # // SAFETY: `_exit` is async-signal-safe.
    ///         unsafe { libc::_exit(if error.is_pool_unavailable() { 0 } else { 1 }) }
    ///     }
    ///     child => {
    ///         let mut status = 0;
    ///         # // SAFETY: `child` is our own child; `status` is a valid out-pointer.
    ///         assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    ///         assert_eq!(libc::WEXITSTATUS(status), 0);
    ///     }
    /// }
    /// ```
    pub fn is_pool_unavailable(&self) -> bool {
        matches!(self.kind, JoinErrorKind::PoolUnavailable)
    }

    /// The panic message, if the job panicked with a string.
    ///
    /// ```
    /// let error = triad::threads::spawn(|| -> u8 { panic!("bad input {}", 7) }).join().unwrap_err();
    /// assert_eq!(error.panic_message(), Some("bad input 7"));
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match &self.kind {
            JoinErrorKind::Panicked { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The panic payload, to re-raise with `std::panic::resume_unwind`;
    /// `Err(self)` if the job did not panic.
    ///
    /// ```
    /// let error = triad::threads::spawn(|| -> u8 { panic!("boom") }).join().unwrap_err();
    /// let payload = error.try_into_panic().unwrap();
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.kind {
            JoinErrorKind::Panicked { payload, .. } => Ok(payload),
            kind => Err(JoinError { kind }),
        }
    }

    /// The panic payload.
    ///
    /// # Panics
    ///
    /// If the job did not panic (check [`is_panic`](Self::is_panic)).
    ///
    /// ```
    /// let error = triad::threads::spawn(|| -> u8 { std::panic::panic_any(42u32) }).join().unwrap_err();
    /// let payload = error.into_panic(); // or std::panic::resume_unwind(payload)
    /// assert_eq!(payload.downcast_ref::<u32>(), Some(&42));
    /// ```
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        self.try_into_panic().unwrap_or_else(|error| {
            panic!("JoinError::into_panic on an error that is not a panic: {error}")
        })
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            JoinErrorKind::Panicked { message, .. } => write!(f, "the job panicked: {message}"),
            JoinErrorKind::Cancelled => write!(f, "the job was dropped without running"),
            JoinErrorKind::PoolUnavailable => write!(
                f,
                "the job's thread pool has no threads in this process (it was built before a fork)"
            ),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinError({self})")
    }
}

impl std::error::Error for JoinError {}
