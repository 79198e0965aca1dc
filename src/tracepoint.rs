//! The recording points: one line in the runtime's code for each event of
//! the timeline (`trace/`), and nothing at all without the `trace` feature.
//!
//! Each point is an `#[inline(always)]` function. Without the feature its
//! body is empty and a span's guard is a zero-sized type without `Drop`, so
//! the optimiser removes the call and its arguments (which are plain values
//! the caller had at hand: an index, a pointer, a pid): no code and no data
//! remain. With the feature, a point first loads the active session (one
//! Relaxed load) and returns if there is none.
//!
//! | point | room | event |
//! |---|---|---|
//! | `pool_worker_started` / `pool_worker_exiting` | threads | names the track, worker start / exit |
//! | `job_run` | threads | span around a job's execution |
//! | `steal`, `sleep`, `wake` | threads | steal (victim), sleep span, a sleeper woken |
//! | `event_loop_entered` | event loop | names the track |
//! | `task_poll`, `park` | event loop | spans: a task's poll, a wait in epoll |
//! | `remote_wake`, `io_ready`, `timer_fire` | event loop | instants |
//! | `process_*` | processes | the parent's view of its worker processes |

// The points of the rooms not built are unused.
#![allow(dead_code)]

#[cfg(feature = "trace")]
use crate::trace::{
    event::{Event, Kind},
    session::{self, Role},
};

/// A span being measured: records one event when dropped. Zero-sized and
/// without `Drop` when the feature is off.
#[must_use = "a span ends when its guard is dropped"]
pub(crate) struct Span {
    #[cfg(feature = "trace")]
    session: u64,
    #[cfg(feature = "trace")]
    start_ns: u64,
    #[cfg(feature = "trace")]
    kind: Kind,
    #[cfg(feature = "trace")]
    arg: u64,
}

#[cfg(feature = "trace")]
impl Span {
    #[inline(always)]
    fn begin(kind: Kind, arg: u64) -> Span {
        let session = session::active();
        Span {
            session,
            start_ns: if session == 0 { 0 } else { now() },
            kind,
            arg,
        }
    }
}

#[cfg(feature = "trace")]
impl Drop for Span {
    #[inline(always)]
    fn drop(&mut self) {
        if self.session != 0 {
            let event = Event {
                start_ns: self.start_ns,
                end_ns: now(),
                arg: self.arg,
                process: 0,
                kind: self.kind,
            };
            session::record(self.session, event);
        }
    }
}

#[cfg(feature = "trace")]
#[inline(always)]
fn now() -> u64 {
    crate::sys::clock::monotonic_ns()
}

/// Record an instant on this thread's track.
#[cfg(feature = "trace")]
#[inline(always)]
fn instant(kind: Kind, arg: u64) {
    let session = session::active();
    if session != 0 {
        let t = now();
        session::record(session, event(t, t, kind, arg, 0));
    }
}

/// Record an event on worker process `pid`'s track, from the parent.
#[cfg(feature = "trace")]
#[inline(always)]
fn on_process(pid: i32, start_ns: u64, end_ns: u64, kind: Kind, arg: u64) {
    let session = session::active();
    if session != 0 {
        session::record(session, event(start_ns, end_ns, kind, arg, pid as u32));
    }
}

#[cfg(feature = "trace")]
#[inline(always)]
fn event(start_ns: u64, end_ns: u64, kind: Kind, arg: u64, process: u32) -> Event {
    Event {
        start_ns,
        end_ns,
        arg,
        process,
        kind,
    }
}

/// Define points that take plain arguments: `instant` points record one
/// instant with the given argument, `span` points return a guard.
macro_rules! points {
    ($(
        $(#[$doc:meta])*
        $shape:ident $name:ident($($arg:ident: $ty:ty),*) => $kind:ident $(($value:expr))?;
    )*) => {$(
        $(#[$doc])*
        #[inline(always)]
        pub(crate) fn $name($($arg: $ty),*) -> points!(@ret $shape) {
            #[cfg(feature = "trace")]
            {
                points!(@body $shape, Kind::$kind, 0 $(+ $value)?)
            }
            #[cfg(not(feature = "trace"))]
            {
                $(let _ = $arg;)*
                points!(@off $shape)
            }
        }
    )*};
    (@ret instant) => { () };
    (@ret span) => { Span };
    (@body instant, $kind:expr, $value:expr) => { instant($kind, $value) };
    (@body span, $kind:expr, $value:expr) => { Span::begin($kind, $value) };
    (@off instant) => { () };
    (@off span) => { Span {} };
}

points! {
    /// A worker ran a job taken from a queue (span).
    span job_run() => JobRun;
    /// This worker stole from worker `victim`.
    instant steal(victim: usize) => Steal(victim as u64);
    /// This worker goes to sleep (span, until it wakes or gives up).
    span sleep() => Sleep;
    /// This thread woke sleeping worker `index`.
    instant wake(index: usize) => Wake(index as u64);
    /// The event loop polls the task whose header is at `task` (span); null
    /// for the future of `block_on`.
    span task_poll(task: *const ()) => TaskPoll(task as usize as u64);
    /// The event loop waits in epoll (span).
    span park() => Park;
    /// A thread other than the loop's woke the task whose header is at `task`.
    instant remote_wake(task: *const ()) => RemoteWake(task as usize as u64);
    /// epoll reported readiness for `token`.
    instant io_ready(token: usize) => IoReady(token as u64);
    /// A timer fired.
    instant timer_fire() => TimerFire;
    /// This thread submitted a task to a process pool, into `slot`.
    instant process_submit(slot: usize) => ProcessSubmit(slot as u64);
}

/// This thread is worker `index` of a thread pool: names its track and
/// records the start.
#[inline(always)]
pub(crate) fn pool_worker_started(index: usize) {
    #[cfg(feature = "trace")]
    {
        session::set_role(Role::PoolWorker(index));
        instant(Kind::WorkerStart, index as u64);
    }
    #[cfg(not(feature = "trace"))]
    let _ = index;
}

/// Worker `index` of a thread pool is leaving.
#[inline(always)]
pub(crate) fn pool_worker_exiting(index: usize) {
    #[cfg(feature = "trace")]
    instant(Kind::WorkerExit, index as u64);
    #[cfg(not(feature = "trace"))]
    let _ = index;
}

/// This thread runs an event loop: names its track.
#[inline(always)]
pub(crate) fn event_loop_entered() {
    #[cfg(feature = "trace")]
    session::set_role(Role::EventLoop);
}

/// The parent heard that worker process `pid` (worker `index`) was forked,
/// as a `replacement` for a dead one or not.
#[inline(always)]
pub(crate) fn process_started(pid: i32, index: u32, replacement: bool) {
    #[cfg(feature = "trace")]
    {
        let kind = if replacement {
            Kind::ProcessReplaced
        } else {
            Kind::ProcessStarted
        };
        let t = now();
        on_process(pid, t, t, kind, index as u64);
    }
    #[cfg(not(feature = "trace"))]
    let _ = (pid, index, replacement);
}

/// The parent heard that worker process `pid` died, with `status`.
#[cfg(all(feature = "processes", not(loom)))]
#[inline(always)]
pub(crate) fn process_ended(pid: i32, status: crate::sys::process::ExitStatus) {
    #[cfg(feature = "trace")]
    {
        use crate::sys::process::ExitStatus;
        let t = now();
        match status {
            ExitStatus::Signaled(signal) => {
                on_process(pid, t, t, Kind::ProcessCrashed, signal as u64)
            }
            ExitStatus::Exited(code) => on_process(pid, t, t, Kind::ProcessExited, code as u64),
        }
    }
    #[cfg(not(feature = "trace"))]
    let _ = (pid, status);
}

/// Worker process `pid` ran a task from `claimed_ns` to `completed_ns`
/// (its own CLOCK_MONOTONIC stamps) with outcome code `outcome`; recorded
/// by the parent thread that collects the result.
#[inline(always)]
pub(crate) fn process_task(pid: i32, claimed_ns: u64, completed_ns: u64, outcome: u32) {
    #[cfg(feature = "trace")]
    on_process(
        pid,
        claimed_ns,
        completed_ns,
        Kind::ProcessTask,
        outcome as u64,
    );
    #[cfg(not(feature = "trace"))]
    let _ = (pid, claimed_ns, completed_ns, outcome);
}

/// Worker process `pid` died while running the task in `slot`, which it
/// claimed at `claimed_at_ns`; recorded by the supervisor when it hears of
/// the death. (The stamp is read only when tracing.)
#[inline(always)]
pub(crate) fn process_task_lost(
    pid: i32,
    claimed_at_ns: &crate::sync::atomic::AtomicU64,
    slot: usize,
) {
    #[cfg(feature = "trace")]
    {
        // Relaxed: the worker's stamp, read as the supervisor's timeout
        // check does (slot docs); a stale 0 only misplaces the span's start.
        let claimed = claimed_at_ns.load(crate::sync::atomic::Ordering::Relaxed);
        on_process(pid, claimed, now(), Kind::ProcessTaskLost, slot as u64);
    }
    #[cfg(not(feature = "trace"))]
    let _ = (pid, claimed_at_ns, slot);
}
