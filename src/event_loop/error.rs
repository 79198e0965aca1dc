//! The event loop's errors: opaque structs with a private kind and
//! predicates, so that kinds can be added without breaking callers.

use std::any::Any;
use std::fmt;
use std::io;

/// Why a task gave no value: it was cancelled, it panicked, or it was
/// spawned outside any event loop and never started.
///
/// ```
/// use triad::event_loop::EventLoop;
///
/// let ev = EventLoop::new().unwrap();
/// let outcome = ev.block_on(async {
///     triad::event_loop::spawn(async { panic!("boom") }).await
/// });
/// let error = outcome.unwrap_err();
/// assert!(error.is_panic());
/// assert_eq!(error.panic_message(), Some("boom"));
/// ```
pub struct JoinError {
    kind: JoinErrorKind,
}

enum JoinErrorKind {
    Cancelled,
    OutsideLoop,
    // Boxed so that a `Result<T, JoinError>` inside every task stays one
    // word bigger than `T` (task.rs keeps small tasks small).
    Panicked(Box<Panicked>),
}

struct Panicked {
    message: Option<String>,
    payload: Box<dyn Any + Send>,
}

// SAFETY: the only non-`Sync` part is the panic payload, which no
// `&JoinError` method touches: it is reachable only by value, through
// `into_panic`/`try_into_panic`. (The message is copied out of it when the
// error is made.)
unsafe impl Sync for JoinError {}

impl JoinError {
    pub(crate) fn cancelled() -> Self {
        JoinError {
            kind: JoinErrorKind::Cancelled,
        }
    }

    pub(crate) fn outside_loop() -> Self {
        JoinError {
            kind: JoinErrorKind::OutsideLoop,
        }
    }

    pub(crate) fn panicked(payload: Box<dyn Any + Send>) -> Self {
        let message = payload
            .downcast_ref::<&'static str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .map(str::to_owned);
        JoinError {
            kind: JoinErrorKind::Panicked(Box::new(Panicked { message, payload })),
        }
    }

    /// The task was cancelled: aborted through its handle, or dropped with
    /// its event loop before it finished.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use triad::event_loop::{sleep, spawn, EventLoop};
    /// let ev = EventLoop::new().unwrap();
    /// let error = ev.block_on(async {
    ///     let task = spawn(sleep(Duration::from_secs(60)));
    ///     task.abort();
    ///     task.await.unwrap_err()
    /// });
    /// assert!(error.is_cancelled());
    /// assert!(!error.is_panic());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.kind, JoinErrorKind::Cancelled)
    }

    /// The task was spawned by [`spawn`](super::spawn) outside any event
    /// loop (neither inside [`EventLoop::block_on`](super::EventLoop::block_on)
    /// nor in one of its tasks): it never started, and its future was
    /// dropped at once. Use [`Remote::spawn`](super::Remote::spawn) to start
    /// a task from another thread.
    ///
    /// ```
    /// let task = triad::event_loop::spawn(async { 1 }); // no loop here
    /// assert!(task.is_finished());
    /// let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let error = ev.block_on(task).unwrap_err();
    /// assert!(error.is_outside_loop());
    /// assert!(!error.is_cancelled() && !error.is_panic());
    /// ```
    pub fn is_outside_loop(&self) -> bool {
        matches!(self.kind, JoinErrorKind::OutsideLoop)
    }

    /// The task panicked (while being polled, or while being dropped).
    ///
    /// ```
    /// # use triad::event_loop::{spawn, EventLoop};
    /// let ev = EventLoop::new().unwrap();
    /// let error = ev.block_on(async { spawn(async { panic!("boom") }).await.unwrap_err() });
    /// assert!(error.is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, JoinErrorKind::Panicked(_))
    }

    /// The panic message, if the task panicked with a string.
    ///
    /// ```
    /// # use triad::event_loop::{spawn, EventLoop};
    /// let ev = EventLoop::new().unwrap();
    /// let error = ev.block_on(async { spawn(async { panic!("code {}", 7) }).await.unwrap_err() });
    /// assert_eq!(error.panic_message(), Some("code 7"));
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match &self.kind {
            JoinErrorKind::Panicked(p) => p.message.as_deref(),
            JoinErrorKind::Cancelled | JoinErrorKind::OutsideLoop => None,
        }
    }

    /// The panic payload, to re-raise with `std::panic::resume_unwind`;
    /// `Err(self)` if the task did not panic.
    ///
    /// ```
    /// # use triad::event_loop::{spawn, EventLoop};
    /// let ev = EventLoop::new().unwrap();
    /// let error = ev.block_on(async { spawn(async { panic!("boom") }).await.unwrap_err() });
    /// let payload = error.try_into_panic().unwrap();
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.kind {
            JoinErrorKind::Panicked(p) => Ok(p.payload),
            kind => Err(JoinError { kind }),
        }
    }

    /// The panic payload.
    ///
    /// # Panics
    ///
    /// If the task did not panic (check [`is_panic`](Self::is_panic)).
    ///
    /// ```
    /// # use triad::event_loop::{spawn, EventLoop};
    /// let ev = EventLoop::new().unwrap();
    /// let error = ev.block_on(async {
    ///     spawn(async { std::panic::panic_any(404u16) }).await.unwrap_err()
    /// });
    /// let payload = error.into_panic(); // or std::panic::resume_unwind(payload)
    /// assert_eq!(payload.downcast_ref::<u16>(), Some(&404));
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
            JoinErrorKind::Cancelled => write!(f, "the task was cancelled"),
            JoinErrorKind::OutsideLoop => write!(
                f,
                "the task was spawned outside any event loop and never started \
                 (`spawn` works inside `EventLoop::block_on` and its tasks)"
            ),
            JoinErrorKind::Panicked(p) => match &p.message {
                Some(message) => write!(f, "the task panicked: {message}"),
                None => write!(f, "the task panicked"),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinError({self})")
    }
}

impl std::error::Error for JoinError {}

/// Why a [`Remote`](super::Remote) could not reach its event loop.
///
/// ```
/// use triad::event_loop::EventLoop;
///
/// let ev = EventLoop::new().unwrap();
/// let remote = ev.remote();
/// drop(ev);
/// let error = remote.run(|| 1).unwrap_err();
/// assert!(error.is_closed());
/// ```
#[derive(Debug)]
pub struct RemoteError {
    kind: RemoteErrorKind,
}

#[derive(Debug)]
enum RemoteErrorKind {
    Closed,
}

impl RemoteError {
    pub(crate) fn closed() -> Self {
        RemoteError {
            kind: RemoteErrorKind::Closed,
        }
    }

    /// The event loop has been dropped: nothing will ever run there again.
    ///
    /// ```
    /// # use triad::event_loop::EventLoop;
    /// let remote = EventLoop::new().unwrap().remote(); // the loop is dropped at once
    /// assert!(remote.spawn(async {}).unwrap_err().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self.kind, RemoteErrorKind::Closed)
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RemoteErrorKind::Closed => write!(f, "the event loop is gone"),
        }
    }
}

impl std::error::Error for RemoteError {}

/// A [`timeout`](super::timeout) ran out before its future finished.
///
/// ```
/// use std::time::Duration;
/// use triad::event_loop::{sleep, timeout, EventLoop};
///
/// let ev = EventLoop::new().unwrap();
/// let elapsed = ev.block_on(timeout(Duration::from_millis(1), sleep(Duration::from_secs(60))));
/// let elapsed = elapsed.unwrap_err();
/// assert_eq!(elapsed.to_string(), "deadline has elapsed");
/// assert_eq!(std::io::Error::from(elapsed).kind(), std::io::ErrorKind::TimedOut);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elapsed {
    _private: (),
}

impl Elapsed {
    pub(crate) fn new() -> Self {
        Elapsed { _private: () }
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for io::Error {
    fn from(elapsed: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, elapsed)
    }
}

/// Why an `accept` failed.
///
/// Converts into an [`io::Error`], so `?` works in functions that return
/// `io::Result`.
///
/// ```
/// use triad::event_loop::{net::TcpListener, EventLoop};
///
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
///     let _client = std::net::TcpStream::connect(listener.local_addr()?)?;
///     # // Use up every file descriptor, under a low limit (this process only).
///     # let limit = libc::rlimit { rlim_cur: 64, rlim_max: 64 };
///     # // SAFETY: a valid resource and a pointer to a live rlimit.
///     # assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
///     # let mut burners = Vec::new();
///     # while let Ok(file) = std::fs::File::open("/dev/null") { burners.push(file); }
///     // No descriptor is left for the accepted connection.
///     let error = listener.accept().await.unwrap_err();
///     assert!(error.is_resource_exhaustion());
///     let io_error: std::io::Error = error.into(); // `?` does this
///     assert_eq!(io_error.raw_os_error(), Some(libc::EMFILE));
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct AcceptError {
    kind: AcceptErrorKind,
    source: io::Error,
}

#[derive(Debug)]
enum AcceptErrorKind {
    /// Out of file descriptors or socket memory; the listener backs off.
    Exhausted,
    Other,
}

impl AcceptError {
    pub(crate) fn new(source: io::Error) -> Self {
        let kind = if crate::sys::errno::is_resource_exhaustion(&source) {
            AcceptErrorKind::Exhausted
        } else {
            AcceptErrorKind::Other
        };
        AcceptError { kind, source }
    }

    /// The process or the system ran out of file descriptors (`EMFILE`,
    /// `ENFILE`) or of socket memory. The pending connection stays queued;
    /// the listener's next `accept` waits a back-off delay (growing from
    /// 1 ms to 1 s while the condition lasts) before it tries again, so a
    /// loop that retries at once does not spin.
    ///
    /// ```
    /// # use triad::event_loop::{net::TcpListener, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// # let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    /// # let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// # let limit = libc::rlimit { rlim_cur: 64, rlim_max: 64 };
    /// # // SAFETY: a valid resource and a pointer to a live rlimit.
    /// # assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    /// # let mut burners = Vec::new();
    /// # while let Ok(file) = std::fs::File::open("/dev/null") { burners.push(file); }
    /// // Every descriptor of the process is in use (see the type's example):
    /// let error = listener.accept().await.unwrap_err();
    /// assert!(error.is_resource_exhaustion());
    /// drop(burners); // free some: the next accept (after its back-off) succeeds
    /// assert!(listener.accept().await.is_ok());
    /// # });
    /// ```
    pub fn is_resource_exhaustion(&self) -> bool {
        matches!(self.kind, AcceptErrorKind::Exhausted)
    }

    /// The underlying OS error.
    ///
    /// ```
    /// # use triad::event_loop::{net::TcpListener, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// # let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    /// # let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// # let limit = libc::rlimit { rlim_cur: 64, rlim_max: 64 };
    /// # // SAFETY: a valid resource and a pointer to a live rlimit.
    /// # assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    /// # let mut burners = Vec::new();
    /// # while let Ok(file) = std::fs::File::open("/dev/null") { burners.push(file); }
    /// // Every descriptor of the process is in use (see the type's example):
    /// let error = listener.accept().await.unwrap_err();
    /// assert_eq!(error.io_error().raw_os_error(), Some(libc::EMFILE));
    /// # });
    /// ```
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }

    /// The underlying OS error, by value.
    ///
    /// ```
    /// # use triad::event_loop::{net::TcpListener, EventLoop};
    /// # let ev = EventLoop::new().unwrap();
    /// # ev.block_on(async {
    /// # let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    /// # let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// # let limit = libc::rlimit { rlim_cur: 64, rlim_max: 64 };
    /// # // SAFETY: a valid resource and a pointer to a live rlimit.
    /// # assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    /// # let mut burners = Vec::new();
    /// # while let Ok(file) = std::fs::File::open("/dev/null") { burners.push(file); }
    /// // Every descriptor of the process is in use (see the type's example):
    /// let error = listener.accept().await.unwrap_err();
    /// let io_error: std::io::Error = error.into_io_error();
    /// assert_eq!(io_error.raw_os_error(), Some(libc::EMFILE));
    /// # });
    /// ```
    pub fn into_io_error(self) -> io::Error {
        self.source
    }
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            AcceptErrorKind::Exhausted => write!(
                f,
                "accept failed for want of resources (backing off): {}",
                self.source
            ),
            AcceptErrorKind::Other => write!(f, "accept failed: {}", self.source),
        }
    }
}

impl std::error::Error for AcceptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl From<AcceptError> for io::Error {
    fn from(error: AcceptError) -> io::Error {
        error.source
    }
}

/// What is said when something that needs the event loop of this thread
/// is used where none runs (one string, shared by every such message).
pub(crate) const NO_EVENT_LOOP: &str =
    "no triad event loop on this thread (call this inside `EventLoop::block_on`)";

/// The error of I/O constructors called off the event loop.
pub(crate) fn no_event_loop() -> io::Error {
    io::Error::other(LoopIoError(NO_EVENT_LOOP))
}

/// The error inside the `io::Error`s the loop itself makes: only a static
/// message (no `String` to allocate and copy, as `io::Error::other(&str)`
/// would, in code inlined at every caller).
struct LoopIoError(&'static str);

impl fmt::Debug for LoopIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl fmt::Display for LoopIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for LoopIoError {}

/// The operation of [`ReadyGuard::try_io`](super::ReadyGuard::try_io)
/// would have blocked: the readiness was stale and has been cleared; wait
/// for readiness again.
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use triad::event_loop::{AsyncFd, EventLoop};
///
/// let ev = EventLoop::new().unwrap();
/// ev.block_on(async {
///     let (mut a, b) = UnixStream::pair().unwrap();
///     b.set_nonblocking(true).unwrap();
///     let b = AsyncFd::new(b).unwrap();
///     a.write_all(b"x").unwrap();
///     let mut guard = b.readable().await;
///     let mut buf = [0; 8];
///     assert_eq!(guard.try_io(|mut s| s.read(&mut buf)).unwrap().unwrap(), 1);
///     // Drained: the next read would block, so the readiness is cleared.
///     let stale: Result<_, triad::event_loop::TryIoError> = guard.try_io(|mut s| s.read(&mut buf));
///     assert!(stale.is_err());
/// });
/// ```
#[derive(Debug)]
pub struct TryIoError {
    _private: (),
}

impl TryIoError {
    pub(crate) fn new() -> Self {
        TryIoError { _private: () }
    }
}

impl fmt::Display for TryIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the operation would block; readiness cleared")
    }
}

impl std::error::Error for TryIoError {}

/// [`AsyncFd::try_new`](super::AsyncFd::try_new) could not register the
/// fd: the reason, and the value it was given, handed back unharmed (its
/// fd is not closed).
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use triad::event_loop::AsyncFd;
///
/// let (a, _b) = UnixStream::pair().unwrap();
/// let error = AsyncFd::try_new(a).unwrap_err(); // no event loop here
/// assert_eq!(error.error().kind(), std::io::ErrorKind::Other);
/// let (_, a) = error.into_parts();
/// assert!(a.peer_addr().is_ok()); // still open
/// ```
pub struct AsyncFdError<T> {
    error: io::Error,
    inner: T,
}

impl<T> AsyncFdError<T> {
    pub(crate) fn new(error: io::Error, inner: T) -> Self {
        AsyncFdError { error, inner }
    }

    /// Why the registration failed.
    ///
    /// ```
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let error = triad::event_loop::AsyncFd::try_new(a).unwrap_err();
    /// assert!(error.error().to_string().contains("no triad event loop"));
    /// ```
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The reason and the value.
    ///
    /// ```
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let (error, a) = triad::event_loop::AsyncFd::try_new(a).unwrap_err().into_parts();
    /// # drop((error, a));
    /// ```
    pub fn into_parts(self) -> (io::Error, T) {
        (self.error, self.inner)
    }
}

impl<T> From<AsyncFdError<T>> for io::Error {
    fn from(error: AsyncFdError<T>) -> io::Error {
        error.error
    }
}

impl<T> fmt::Debug for AsyncFdError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFdError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for AsyncFdError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the fd could not be registered with the event loop: {}",
            self.error
        )
    }
}

impl<T> std::error::Error for AsyncFdError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Why a [`TaskGroup`](super::TaskGroup) failed: the first child to fail,
/// by returning `Err`, or by panicking or being cancelled.
///
/// ```
/// use triad::event_loop::{EventLoop, TaskGroup};
///
/// let ev = EventLoop::new().unwrap();
/// let error = ev.block_on(async {
///     let mut group = TaskGroup::new();
///     group.spawn(async { Ok::<u32, &str>(1) });
///     group.spawn(async { Err("disk full") });
///     group.join_all().await.unwrap_err()
/// });
/// assert!(error.is_failure());
/// assert_eq!(error.to_string(), "a child task failed: disk full");
/// ```
pub struct GroupError<E> {
    kind: GroupErrorKind<E>,
}

enum GroupErrorKind<E> {
    Failed(E),
    Join(JoinError),
}

impl<E> GroupError<E> {
    pub(crate) fn failed(error: E) -> Self {
        GroupError {
            kind: GroupErrorKind::Failed(error),
        }
    }

    pub(crate) fn join(error: JoinError) -> Self {
        GroupError {
            kind: GroupErrorKind::Join(error),
        }
    }

    /// A child returned `Err`.
    ///
    /// ```
    /// # use triad::event_loop::{EventLoop, TaskGroup};
    /// let ev = EventLoop::new().unwrap();
    /// let error = ev.block_on(async {
    ///     let mut group = TaskGroup::<(), _>::new();
    ///     group.spawn(async { Err("bad input") });
    ///     group.join_all().await.unwrap_err()
    /// });
    /// assert!(error.is_failure());
    /// ```
    pub fn is_failure(&self) -> bool {
        matches!(self.kind, GroupErrorKind::Failed(_))
    }

    /// A child panicked.
    ///
    /// ```
    /// # use triad::event_loop::{EventLoop, TaskGroup};
    /// let ev = EventLoop::new().unwrap();
    /// let error = ev.block_on(async {
    ///     let mut group = TaskGroup::<(), String>::new();
    ///     group.spawn(async { panic!("boom") });
    ///     group.join_all().await.unwrap_err()
    /// });
    /// assert!(error.is_panic());
    /// assert!(!error.is_failure());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(&self.kind, GroupErrorKind::Join(e) if e.is_panic())
    }

    /// A child was cancelled instead of finishing: the group holds its
    /// children's handles, so only the children's loop, dropped while
    /// the group was not yet joined (joined later, on another loop), can
    /// cancel one.
    ///
    /// ```
    /// # use triad::event_loop::{EventLoop, TaskGroup};
    /// let mut group = TaskGroup::<(), String>::new();
    /// let ev = EventLoop::new().unwrap();
    /// ev.block_on(async { group.spawn(std::future::pending()) });
    /// drop(ev); // cancels the child
    /// let error = EventLoop::new().unwrap().block_on(group.join_all()).unwrap_err();
    /// assert!(error.is_cancelled());
    ///
    /// // Failures and panics are not cancellations.
    /// let ev = EventLoop::new().unwrap();
    /// let error = ev.block_on(async {
    ///     let mut group = TaskGroup::<(), _>::new();
    ///     group.spawn(async { Err("bad input") });
    ///     group.join_all().await.unwrap_err()
    /// });
    /// assert!(!error.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(&self.kind, GroupErrorKind::Join(e) if e.is_cancelled())
    }

    /// The child's own error, if it returned one.
    ///
    /// ```
    /// # use triad::event_loop::{EventLoop, TaskGroup};
    /// let ev = EventLoop::new().unwrap();
    /// let error = ev.block_on(async {
    ///     let mut group = TaskGroup::<(), _>::new();
    ///     group.spawn(async { Err(std::io::ErrorKind::NotFound) });
    ///     group.join_all().await.unwrap_err()
    /// });
    /// assert_eq!(error.into_failure(), Some(std::io::ErrorKind::NotFound));
    /// ```
    pub fn into_failure(self) -> Option<E> {
        match self.kind {
            GroupErrorKind::Failed(e) => Some(e),
            GroupErrorKind::Join(_) => None,
        }
    }

    /// The child's panic or cancellation, if that is what happened.
    ///
    /// ```
    /// # use triad::event_loop::{EventLoop, TaskGroup};
    /// let ev = EventLoop::new().unwrap();
    /// let error = ev.block_on(async {
    ///     let mut group = TaskGroup::<(), String>::new();
    ///     group.spawn(async { panic!("boom") });
    ///     group.join_all().await.unwrap_err()
    /// });
    /// let join_error = error.into_join_error().unwrap();
    /// assert_eq!(join_error.panic_message(), Some("boom"));
    /// ```
    pub fn into_join_error(self) -> Option<JoinError> {
        match self.kind {
            GroupErrorKind::Join(e) => Some(e),
            GroupErrorKind::Failed(_) => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            GroupErrorKind::Failed(e) => write!(f, "a child task failed: {e}"),
            GroupErrorKind::Join(e) => write!(f, "a child task did not finish: {e}"),
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            GroupErrorKind::Failed(e) => f.debug_tuple("GroupError::Failed").field(e).finish(),
            GroupErrorKind::Join(e) => f.debug_tuple("GroupError::Join").field(e).finish(),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for GroupError<E> {}

/// A [`Sender::send`](super::Sender::send) that was refused: the receiver
/// is dropped, or the event loop is gone. The message comes back with it.
///
/// ```
/// use triad::event_loop::EventLoop;
///
/// let ev = EventLoop::new().unwrap();
/// let (tx, rx) = ev.remote().channel::<String>();
/// drop(rx);
/// let error = tx.send("hello".to_string()).unwrap_err();
/// assert!(error.is_receiver_dropped());
/// assert_eq!(error.into_inner(), "hello"); // the message comes back
/// ```
pub struct SendError<T> {
    kind: SendErrorKind,
    value: T,
}

#[derive(Debug, Clone, Copy)]
enum SendErrorKind {
    ReceiverDropped,
    LoopGone,
}

impl<T> SendError<T> {
    pub(crate) fn receiver_dropped(value: T) -> Self {
        SendError {
            kind: SendErrorKind::ReceiverDropped,
            value,
        }
    }

    pub(crate) fn loop_gone(value: T) -> Self {
        SendError {
            kind: SendErrorKind::LoopGone,
            value,
        }
    }

    /// The [`Receiver`](super::Receiver) was dropped: nobody will read.
    ///
    /// ```
    /// # let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let (tx, rx) = ev.remote().channel::<u32>();
    /// drop(rx);
    /// assert!(tx.send(1).unwrap_err().is_receiver_dropped());
    /// ```
    pub fn is_receiver_dropped(&self) -> bool {
        matches!(self.kind, SendErrorKind::ReceiverDropped)
    }

    /// The event loop has been dropped: nothing will run there again.
    ///
    /// ```
    /// # let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let (tx, _rx) = ev.remote().channel::<u32>();
    /// drop(ev);
    /// assert!(tx.send(1).unwrap_err().is_loop_gone());
    /// ```
    pub fn is_loop_gone(&self) -> bool {
        matches!(self.kind, SendErrorKind::LoopGone)
    }

    /// The message that was not sent.
    ///
    /// ```
    /// # let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let (tx, rx) = ev.remote().channel::<Vec<u8>>();
    /// drop(rx);
    /// let unsent = tx.send(vec![1, 2, 3]).unwrap_err().into_inner();
    /// assert_eq!(unsent, [1, 2, 3]);
    /// ```
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SendErrorKind::ReceiverDropped => write!(f, "the channel's receiver is gone"),
            SendErrorKind::LoopGone => write!(f, "the event loop is gone"),
        }
    }
}

// By hand: the message need not be `Debug` (and is not shown).
impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SendError({self})")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why [`Receiver::try_recv`](super::Receiver::try_recv) gave no message.
///
/// ```
/// use triad::event_loop::EventLoop;
///
/// let ev = EventLoop::new().unwrap();
/// let (tx, mut rx) = ev.remote().channel::<u32>();
/// assert!(rx.try_recv().unwrap_err().is_empty());
/// tx.send(1).unwrap();
/// drop(tx);
/// assert_eq!(rx.try_recv(), Ok(1));
/// assert!(rx.try_recv().unwrap_err().is_disconnected());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryRecvError {
    disconnected: bool,
}

impl TryRecvError {
    pub(crate) fn empty() -> Self {
        TryRecvError {
            disconnected: false,
        }
    }

    pub(crate) fn disconnected() -> Self {
        TryRecvError { disconnected: true }
    }

    /// Nothing queued now; senders remain.
    ///
    /// ```
    /// # let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let (_tx, mut rx) = ev.remote().channel::<u32>();
    /// assert!(rx.try_recv().unwrap_err().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        !self.disconnected
    }

    /// Nothing queued, and every sender is dropped: nothing will come.
    ///
    /// ```
    /// # let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let (tx, mut rx) = ev.remote().channel::<u32>();
    /// drop(tx);
    /// assert!(rx.try_recv().unwrap_err().is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        self.disconnected
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.disconnected {
            write!(f, "the channel is empty and every sender is gone")
        } else {
            write!(f, "the channel is empty")
        }
    }
}

impl std::error::Error for TryRecvError {}
