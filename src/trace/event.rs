//! One recorded event: what happened, when, and on which track.
//!
//! An [`Event`] is 32 plain bytes, copied into a ring slot by a few stores.
//! A *span* (a job run, a task poll, a sleep) is recorded once, when it
//! ends, with its start and end; an *instant* (a steal, a wake, a timer
//! firing) has `end_ns == start_ns`. Which one an event is follows from its
//! [`Kind`].
//!
//! | room | spans | instants |
//! |---|---|---|
//! | threads | job run, sleep | worker start / exit, steal (`arg`: victim), wake (`arg`: woken worker) |
//! | event loop | task poll (`arg`: task id, 0: `block_on`'s future), park (waiting in epoll) | remote wake (`arg`: task id), I/O ready (`arg`: token), timer fire |
//! | processes | task (on the worker's track: claimed → completed), task lost (claimed → death seen) | worker started, replacement forked, crash (`arg`: signal), exit (`arg`: code), submit (`arg`: slot) |

/// What an event records. The comments say whether it is a span or an
/// instant, and what `arg` holds.
// The kinds of the rooms not built are never made.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// Instant: a pool worker thread started; `arg`: its index.
    WorkerStart,
    /// Instant: a pool worker thread is leaving; `arg`: its index.
    WorkerExit,
    /// Span: a worker ran a job taken from a queue.
    JobRun,
    /// Instant: a worker stole from another; `arg`: the victim's index.
    Steal,
    /// Span: a worker slept on its parker (or gave up sleeping).
    Sleep,
    /// Instant: a thread woke sleeping worker `arg`.
    Wake,
    /// Span: the event loop polled a task; `arg`: the task's id (the
    /// address of its header), 0 for the future of `block_on` itself.
    TaskPoll,
    /// Span: the event loop waited in epoll with nothing to run.
    Park,
    /// Instant: a thread other than the loop's woke task `arg`.
    RemoteWake,
    /// Instant: epoll reported readiness for registration token `arg`.
    IoReady,
    /// Instant: a timer fired.
    TimerFire,
    /// Instant, on a worker process's track: it was forked; `arg`: its index.
    ProcessStarted,
    /// Instant, on a worker process's track: forked to replace a dead one;
    /// `arg`: its index.
    ProcessReplaced,
    /// Instant, on a worker process's track: killed by signal `arg`.
    ProcessCrashed,
    /// Instant, on a worker process's track: exited with code `arg`.
    ProcessExited,
    /// Span, on a worker process's track: it ran a task (claimed →
    /// completed, stamped by the worker); `arg`: the outcome code.
    ProcessTask,
    /// Span, on a worker process's track: a task whose worker died (claimed
    /// → the parent heard of the death); `arg`: the slot.
    ProcessTaskLost,
    /// Instant: this thread submitted a task to the process pool; `arg`:
    /// the slot.
    ProcessSubmit,
}

impl Kind {
    /// Whether events of this kind are spans (else instants).
    pub(crate) fn is_span(self) -> bool {
        matches!(
            self,
            Kind::JobRun
                | Kind::Sleep
                | Kind::TaskPoll
                | Kind::Park
                | Kind::ProcessTask
                | Kind::ProcessTaskLost
        )
    }

    /// The event's name on the timeline.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::WorkerStart => "worker start",
            Kind::WorkerExit => "worker exit",
            Kind::JobRun => "job",
            Kind::Steal => "steal",
            Kind::Sleep => "sleep",
            Kind::Wake => "wake",
            Kind::TaskPoll => "poll",
            Kind::Park => "park",
            Kind::RemoteWake => "remote wake",
            Kind::IoReady => "io ready",
            Kind::TimerFire => "timer fire",
            Kind::ProcessStarted => "worker started",
            Kind::ProcessReplaced => "replacement forked",
            Kind::ProcessCrashed => "crash",
            Kind::ProcessExited => "exit",
            Kind::ProcessTask => "task",
            Kind::ProcessTaskLost => "task lost",
            Kind::ProcessSubmit => "submit to process pool",
        }
    }

    /// The room the event belongs to (Chrome's `cat`).
    pub(crate) fn category(self) -> &'static str {
        match self {
            Kind::WorkerStart
            | Kind::WorkerExit
            | Kind::JobRun
            | Kind::Steal
            | Kind::Sleep
            | Kind::Wake => "threads",
            Kind::TaskPoll | Kind::Park | Kind::RemoteWake | Kind::IoReady | Kind::TimerFire => {
                "event_loop"
            }
            _ => "processes",
        }
    }

    /// What `arg` means, or `None` if the kind has no argument.
    pub(crate) fn arg_name(self) -> Option<&'static str> {
        match self {
            Kind::WorkerStart | Kind::WorkerExit | Kind::ProcessStarted | Kind::ProcessReplaced => {
                Some("index")
            }
            Kind::Steal => Some("victim"),
            Kind::Wake => Some("worker"),
            Kind::TaskPoll | Kind::RemoteWake => Some("task"),
            Kind::IoReady => Some("token"),
            Kind::ProcessCrashed => Some("signal"),
            Kind::ProcessExited => Some("code"),
            Kind::ProcessTask => Some("outcome"),
            Kind::ProcessTaskLost | Kind::ProcessSubmit => Some("slot"),
            Kind::JobRun | Kind::Sleep | Kind::Park | Kind::TimerFire => None,
        }
    }
}

/// One event, as a ring stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    /// CLOCK_MONOTONIC, ns (`sys/clock.rs`): the same clock in every process.
    pub(crate) start_ns: u64,
    /// Equal to `start_ns` for an instant.
    pub(crate) end_ns: u64,
    /// The kind's argument (see [`Kind`]), 0 if it has none.
    pub(crate) arg: u64,
    /// 0: the recording thread's own track. Otherwise the pid of the worker
    /// process whose track the event belongs on (recorded by the parent).
    pub(crate) process: u32,
    pub(crate) kind: Kind,
}

const _: () = assert!(std::mem::size_of::<Event>() == 32);
