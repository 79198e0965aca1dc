//! The executor: [`EventLoop`], its run queue, and one turn of the loop.
//!
//! ```text
//!   turn:
//!     ┌─► run up to 61 tasks from the local run queue
//!     │     (every 31st: drain the remote inbox into the queue)
//!     │   drain the remote inbox
//!     │   queue empty and block_on's future not woken?
//!     │     yes: arm the timerfd 50 µs before the earliest deadline
//!     │          (closer than that: do not park, turn again), park
//!     │          (remote.rs P1–P4: epoll sleeps only if the inbox is empty),
//!     │          then drain the inbox (what woke us, most of the time)
//!     │     no:  epoll with a zero timeout (I/O still gets its turn)
//!     │   dispatch I/O events and signals, fire due timers
//!     │     (their tasks to the front of the run queue, rule 6)
//!     └── poll block_on's future if it was woken
//! ```
//!
//! Rules:
//!
//! 1. **One thread.** An `EventLoop` is `!Send`; its tasks run only inside
//!    [`EventLoop::block_on`], on the thread that made it. While `block_on`
//!    runs, a thread-local points to the loop's core: that is how the free
//!    functions ([`spawn`], `sleep`, sockets) find their loop, and how a wake
//!    on this thread goes to the local run queue without the remote inbox.
//! 2. **Fairness.** I/O, timers and the inbox are looked at every 61 task
//!    polls at least (the inbox every 31), so a queue that never empties
//!    does not starve them; together with the budget (budget.rs) no task
//!    holds the loop for more than 128 completed operations.
//! 3. **Idle means asleep.** The loop sleeps in `epoll_wait` with no timeout
//!    unless a timer is armed, and then only until the timerfd: no periodic
//!    wake-ups. (The timerfd rings 50 µs before the earliest deadline, and
//!    the loop stays awake from then until it is due: timer.rs rule 6.)
//! 4. **Shutdown** (dropping the loop): close the inbox (remote.rs rule 3),
//!    then cancel every task the loop owns — drop its future on this thread
//!    (task rule 2), complete it as cancelled — until none is left (futures
//!    dropped meanwhile may spawn more): first those of the owned list,
//!    which have been idle, then those reached only through their run-queue
//!    entry (task rule 8); the entries of complete tasks are dropped. The
//!    loop is current meanwhile, even when it is dropped inside another
//!    loop's run (from one of its tasks, or unwinding out of its
//!    `block_on`): what its futures' destructors spawn joins this loop and
//!    is cancelled with it, never the other loop, which is current again
//!    afterwards.
//!    Reactor and timers are dropped last, after every future that could
//!    hold a registration.
//! 5. Borrows of the loop's cells never span user code (a poll, a drop, a
//!    wake): user code may re-enter the loop (spawn, wake, register).
//! 6. **Due timers first, in deadline order.** A task woken by a timer
//!    that fired goes to the front of the run queue, ahead of tasks that
//!    are merely ready: a deadline is a promise about time, and a queue of
//!    thousands of ready tasks would otherwise make it late by the whole
//!    queue (E2 of benchmarks.md: 100,000 tasks spawned at once; p99
//!    lateness 1.3 ms without this rule, 20 µs with it). At most half a
//!    batch (30) fire per turn, the earliest deadlines first; the timers
//!    due beyond those stay in the heap, still due, and fire first at the
//!    next turn (the loop does not sleep while a timer is due). So:
//!    - every batch still runs at least 31 tasks that were queued before,
//!      and a flood of timers cannot starve them;
//!    - timer-woken tasks run in deadline order (ties in arming order),
//!      however far behind the loop is: the ones of one turn all run in
//!      the next batch, before the next turn fires any. (Before, the due
//!      timers beyond 30 went to the back of the queue, and a later
//!      deadline fired at the next turn went to the front, ahead of them:
//!      a loop slowed down, under AddressSanitizer, showed it.)
//!    - a waker that panics as it is woken loses no other of its turn:
//!      the rest stay in `fired`, woken at the next turn (the loop does
//!      not sleep before), where they were dropped with the unwinding
//!      before, and their tasks, whose timers were gone, never woke.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::ptr;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::Interest;

use super::borrow::LoopBorrow;
use super::reactor::{Reactor, TIMER_TOKEN, WAKER_TOKEN};
use super::remote::{Item, Remote, Shared, Unpark};
use super::task::{self, JoinHandle, OwnedTasks, Run, TaskRef};
use super::timer::{Timers, Wait};
use super::{budget, signal, waker};
use crate::sync::process_global::{AtomicU64, Ordering};
use crate::sync::{const_thread_local, Arc};

/// Task polls per turn before I/O and timers get a look (rule 2).
const EVENT_INTERVAL: u32 = 61;
/// Task polls between two drains of the remote inbox (rule 2).
const REMOTE_INTERVAL: u32 = 31;

/// Rule 6: at most this many timers fire in one turn, their tasks to the
/// front of the run queue, so that a batch always runs tasks that were
/// waiting before.
const FRONT_PLACES: usize = EVENT_INTERVAL as usize / 2;

/// Unique loop ids, so a `Sleep` knows whether it is on its own loop.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The loop's state, shared (`Rc`) with the sockets that register in it.
pub(crate) struct Core {
    pub(crate) id: u64,
    pub(crate) sched: Scheduler,
    pub(crate) timers: RefCell<Timers>,
    pub(crate) reactor: Reactor,
    /// Wakers of fired timers, reused between turns.
    fired: RefCell<Vec<std::task::Waker>>,
    /// The self-pipe and listeners of signals (signal.rs); last, so that
    /// the pipe is released after the reactor has closed its epoll.
    pub(crate) signals: signal::DriverSlot,
}

/// The task side of the loop: run queue, owned tasks and the inbox's loop
/// end. Separate from the reactor and timers so that the loom models drive
/// this very code with a parker standing in for epoll.
pub(crate) struct Scheduler {
    pub(crate) shared: Arc<Shared>,
    queue: RefCell<VecDeque<TaskRef>>,
    /// The inbox buffer swapped with the remote one at each drain.
    inbox: RefCell<VecDeque<Item>>,
    /// The tasks that have been idle (task.rs rule 8).
    owned: RefCell<OwnedTasks>,
    /// Tasks adopted and not finished.
    live: Cell<usize>,
    main_woken: Cell<bool>,
    /// Set while the earliest fired timers wake their tasks, which then go
    /// to the front of the run queue (rule 6); else a local wake queues its
    /// task at the back.
    timer_wakes: Cell<bool>,
}

const_thread_local! {
    /// The core of the loop running on this thread (rule 1), or null.
    static CURRENT: Cell<*const Core> = Cell::new(ptr::null());
}

/// Run `f` with the loop running on this thread, if any.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Core>) -> R) -> R {
    let core = CURRENT.with(|c| c.get());
    // SAFETY: a non-null pointer was set by an `Enter` from a live
    // `Rc<Core>` that it keeps alive until it puts the previous pointer
    // back, which is null or that of an `Enter` further up this thread's
    // stack, still alive (rules 1, 4).
    f(unsafe { core.as_ref() })
}

/// The loop running on this thread, as an `Rc`.
pub(crate) fn current() -> Option<Rc<Core>> {
    let core = CURRENT.with(|c| c.get());
    if core.is_null() {
        return None;
    }
    // SAFETY: `core` came from `Rc::as_ptr` of an `Rc` that `Enter` keeps
    // alive (rule 1); we add the count the new `Rc` owns.
    unsafe {
        Rc::increment_strong_count(core);
        Some(Rc::from_raw(core))
    }
}

/// Sets `CURRENT` for the duration of `block_on` (or shutdown), and puts
/// back what was there on the way out, unwinding included.
struct Enter {
    _core: Rc<Core>,
    /// The loop that was current before: null, except while a loop is
    /// dropped inside another's run (rule 4). Its own `Enter`, further up
    /// this thread's stack, keeps it alive until after ours is dropped.
    previous: *const Core,
}

impl Enter {
    /// For `block_on`: no loop may be running on this thread.
    fn new(core: &Rc<Core>) -> Enter {
        assert!(
            CURRENT.with(|c| c.get().is_null()),
            "a triad event loop already runs on this thread (nested `block_on`?)"
        );
        Enter::over(core)
    }

    /// Make `core` current, over whichever loop is (rule 4).
    fn over(core: &Rc<Core>) -> Enter {
        let previous = CURRENT.with(|c| c.replace(Rc::as_ptr(core)));
        // Rule 6: a waker that panicked while fired timers were woken (out
        // of an earlier `block_on`) left the flag set; wakes queue at the
        // back again.
        core.sched.timer_wakes.set(false);
        crate::tracepoint::event_loop_entered();
        Enter {
            _core: core.clone(),
            previous,
        }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// Queue `task` locally if this thread is running its loop; else hand it
/// back (waker.rs sends it through the remote inbox).
pub(crate) fn schedule_local(task: TaskRef) -> Result<(), TaskRef> {
    with_current(|core| match core {
        Some(core) if task.is_of(&core.sched.shared) => {
            let mut queue = core.sched.queue.loop_mut();
            if core.sched.timer_wakes.get() {
                queue.push_front(task); // rule 6
            } else {
                queue.push_back(task);
            }
            Ok(())
        }
        _ => Err(task),
    })
}

/// Wake `block_on`'s future if this thread runs the loop of `shared`.
pub(crate) fn wake_main_local(shared: &Shared) -> bool {
    with_current(|core| match core {
        Some(core) if ptr::eq(Arc::as_ptr(&core.sched.shared), shared) => {
            core.sched.main_woken.set(true);
            true
        }
        _ => false,
    })
}

/// A single-threaded async event loop: tasks, timers and sockets on one
/// thread, driven by mio.
///
/// Nothing runs until [`block_on`](EventLoop::block_on) is called: it runs
/// the given future to completion, and every spawned task alongside it.
/// Dropping the loop cancels the tasks that have not finished.
///
/// ```
/// use std::time::Duration;
/// use triad::event_loop::{sleep, spawn, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let total = ev.block_on(async {
///     let tasks: Vec<_> = (1..=3u64)
///         .map(|i| spawn(async move {
///             sleep(Duration::from_millis(i)).await;
///             i
///         }))
///         .collect();
///     let mut total = 0;
///     for task in tasks {
///         total += task.await.unwrap();
///     }
///     total
/// });
/// assert_eq!(total, 6);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct EventLoop {
    core: Rc<Core>,
}

impl EventLoop {
    /// A new loop: an epoll instance, an eventfd for remote wake-ups and a
    /// timerfd. The loop spawns no thread.
    ///
    /// ```
    /// let ev = triad::event_loop::EventLoop::new()?;
    /// assert_eq!(ev.block_on(async { 1 + 1 }), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> io::Result<EventLoop> {
        let reactor = Reactor::new()?;
        let registry = reactor.registry()?;
        let mio_waker = mio::Waker::new(&registry, WAKER_TOKEN)?;
        let timers = Timers::new()?;
        registry.register(
            &mut SourceFd(&timers.raw_fd()),
            TIMER_TOKEN,
            Interest::READABLE,
        )?;
        Ok(EventLoop {
            core: Rc::new(Core {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                sched: Scheduler::new(Box::new(mio_waker)),
                timers: RefCell::new(timers),
                reactor,
                fired: RefCell::new(Vec::new()),
                signals: signal::DriverSlot::new(),
            }),
        })
    }

    /// Run `future` to completion on this thread, running the loop's tasks,
    /// timers and I/O meanwhile. Tasks still running when it returns stay
    /// in the loop, and continue at the next `block_on`.
    ///
    /// A panic in `future` propagates out of `block_on` (a panic in a task
    /// goes to its [`JoinHandle`] instead).
    ///
    /// # Panics
    ///
    /// If called while an event loop is already running on this thread.
    ///
    /// ```
    /// use triad::event_loop::{spawn, EventLoop};
    ///
    /// let ev = EventLoop::new().unwrap();
    /// let task = ev.spawn(async { "from a task" });
    /// let (a, b) = ev.block_on(async {
    ///     let other = spawn(async { 2 });
    ///     (task.await.unwrap(), other.await.unwrap())
    /// });
    /// assert_eq!((a, b), ("from a task", 2));
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = Enter::new(&self.core);
        let waker = waker::main_waker(&self.core.sched.shared);
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        self.core.sched.main_woken.set(true);
        loop {
            if self.core.sched.main_woken.replace(false) {
                let _poll = crate::tracepoint::task_poll(ptr::null());
                if let Poll::Ready(value) = budget::with_budget(|| future.as_mut().poll(&mut cx)) {
                    return value;
                }
            }
            self.core.turn();
        }
    }

    /// Spawn `future` as a task of this loop. It may be `!Send`; it starts
    /// at the next turn of the loop.
    ///
    /// ```
    /// let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let name = std::rc::Rc::new("loop"); // !Send is fine
    /// let task = ev.spawn(async move { name.len() });
    /// assert_eq!(ev.block_on(task).unwrap(), 4);
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.core.sched.spawn(future)
    }

    /// A handle for other threads: spawn `Send` futures, run closures, open
    /// channels into the loop.
    ///
    /// ```
    /// let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let remote = ev.remote();
    /// let handle = std::thread::spawn(move || remote.spawn(async { 6 * 7 }).unwrap())
    ///     .join()
    ///     .unwrap();
    /// assert_eq!(ev.block_on(handle).unwrap(), 42);
    /// ```
    pub fn remote(&self) -> Remote {
        Remote::new(self.core.sched.shared.clone())
    }

    /// Tasks spawned and not finished yet.
    ///
    /// ```
    /// let ev = triad::event_loop::EventLoop::new().unwrap();
    /// let pending = ev.spawn(std::future::pending::<()>());
    /// let done = ev.spawn(async {});
    /// assert_eq!(ev.task_count(), 2);
    /// ev.block_on(done).unwrap();
    /// assert_eq!(ev.task_count(), 1);
    /// pending.abort();
    /// # drop(pending);
    /// ```
    pub fn task_count(&self) -> usize {
        self.core.sched.task_count()
    }
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop")
            .field("id", &self.core.id)
            .field("tasks", &self.task_count())
            .finish()
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        // Futures dropped below may use the free functions (spawn, timers,
        // sockets' deregistration): this loop is current meanwhile (rule 4).
        let _enter = Enter::over(&self.core);
        self.core.sched.shutdown();
        // Sources that outlive the loop fail from now on (reactor.rs rule 6).
        self.core.reactor.close_sources();
    }
}

/// Spawn `future` on the event loop running on this thread.
///
/// Outside any event loop (neither inside [`EventLoop::block_on`] nor in one
/// of its tasks) the task cannot start: its future is dropped at once and the
/// handle, already finished, gives a [`JoinError`](super::JoinError) for
/// which [`is_outside_loop`](super::JoinError::is_outside_loop) is true.
///
/// ```
/// use triad::event_loop::{spawn, EventLoop};
///
/// let ev = EventLoop::new().unwrap();
/// let shared = std::rc::Rc::new(5); // !Send: fine on the loop
/// let v = ev.block_on(async move { spawn(async move { *shared * 2 }).await.unwrap() });
/// assert_eq!(v, 10);
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    with_current(|core| match core {
        Some(core) => core.sched.spawn(future),
        None => task::outside_loop(future),
    })
}

/// Yield to the loop once: the task goes to the back of the run queue, and
/// every other runnable task (and due I/O and timers) gets a turn first.
///
/// ```
/// use std::cell::Cell;
/// use triad::event_loop::{spawn, yield_now, EventLoop};
///
/// let ev = EventLoop::new().unwrap();
/// let ran = std::rc::Rc::new(Cell::new(false));
/// ev.block_on(async {
///     let flag = ran.clone();
///     let _task = spawn(async move { flag.set(true) });
///     yield_now().await; // the spawned task gets its turn
///     assert!(ran.get());
/// });
/// ```
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

impl Scheduler {
    pub(crate) fn new(unpark: Box<dyn Unpark>) -> Self {
        Scheduler {
            shared: Shared::new(unpark),
            queue: RefCell::new(VecDeque::new()),
            inbox: RefCell::new(VecDeque::new()),
            owned: RefCell::new(OwnedTasks::new()),
            live: Cell::new(0),
            main_woken: Cell::new(false),
            timer_wakes: Cell::new(false),
        }
    }

    pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let (queued, handle) = task::new(future, &self.shared);
        self.adopt(queued);
        handle
    }

    /// The part of `spawn` that does not depend on the future's type,
    /// written once rather than at every `spawn` call site.
    /// Only queued: the owned list takes it when it goes idle (task.rs
    /// rule 8).
    #[inline(never)]
    fn adopt(&self, queued: TaskRef) {
        self.live.set(self.live.get() + 1);
        self.queue.loop_mut().push_back(queued);
    }

    fn pop(&self) -> Option<TaskRef> {
        self.queue.loop_mut().pop_front()
    }

    fn run(&self, task: TaskRef) {
        let _poll = crate::tracepoint::task_poll(ptr::from_ref(task.header()).cast());
        // SAFETY: loop thread (as in `spawn`); `task` is a run-queue entry.
        match budget::with_budget(|| unsafe { task.run() }) {
            Run::Idle => {}
            // SAFETY: loop thread: a `Scheduler` is reached only through its
            // loop's `Rc`s and the thread-local, both confined to its thread
            // (rule 1).
            Run::List(task) => unsafe { self.owned.loop_mut().insert(task) },
            Run::Reschedule(task) => self.queue.loop_mut().push_back(task),
            Run::Complete(index) => {
                self.live.set(self.live.get() - 1);
                self.owned.loop_mut().remove_completed(index);
            }
        }
    }

    /// Take in what other threads sent. Out of line: three callers.
    #[inline(never)]
    pub(crate) fn drain_remote(&self) {
        let mut items = std::mem::take(&mut *self.inbox.loop_mut());
        if self.shared.drain(&mut items) {
            self.main_woken.set(true);
        }
        self.take_in(&mut items);
        *self.inbox.loop_mut() = items;
    }

    /// Queue the wakes and adopt the spawns that came through the inbox,
    /// leaving `items` empty.
    fn take_in(&self, items: &mut VecDeque<Item>) {
        // `pop_front`, not `drain(..)`: the same work, without a drain
        // guard's code for a panic that cannot happen here.
        while let Some(item) = items.pop_front() {
            match item {
                Item::Wake(task) => self.queue.loop_mut().push_back(task),
                Item::Spawn(queued) => self.adopt(queued),
            }
        }
    }

    /// Run up to `EVENT_INTERVAL` tasks, draining the inbox every
    /// `REMOTE_INTERVAL` (rule 2), then drain it once more.
    pub(crate) fn run_batch(&self) {
        for n in 1..=EVENT_INTERVAL {
            if n % REMOTE_INTERVAL == 0 {
                self.drain_remote();
            }
            match self.pop() {
                Some(task) => self.run(task),
                None => break,
            }
        }
        self.drain_remote();
    }

    /// Nothing to run: the queue is empty and `block_on`'s future not woken.
    pub(crate) fn is_idle(&self) -> bool {
        self.queue.loop_ref().is_empty() && !self.main_woken.get()
    }

    /// Tasks spawned and not finished.
    pub(crate) fn task_count(&self) -> usize {
        self.live.get()
    }

    /// Rule 4.
    pub(crate) fn shutdown(&self) {
        // What was sent before the close joins the loop's own tasks and
        // queue entries, cancelled and dropped below.
        self.take_in(&mut self.shared.close());
        loop {
            // The owned list first, then one queue entry: the tasks not
            // listed are reachable only from there (task.rs rule 8). A
            // queue entry's task that is listed is complete by then (the
            // list is empty, and no poll runs here to list another), so
            // its `shutdown` only drops the entry.
            let task = self.owned.loop_mut().pop();
            let task = match task {
                Some(task) => task,
                None => match self.queue.loop_mut().pop_front() {
                    Some(entry) => entry,
                    None => break,
                },
            };
            // SAFETY: loop thread; the task is not running (no poll is on
            // the stack: `block_on` borrows the loop, and we are in its
            // `Drop`); `task` is the owned list's reference or, as said, a
            // queue entry of a task not listed or complete.
            if unsafe { task.shutdown() } {
                self.live.set(self.live.get() - 1);
            }
        }
    }
}

impl Core {
    /// One turn (see the module docs). Out of line: it is not generic, and
    /// `block_on` is, once per future type.
    #[inline(never)]
    fn turn(&self) {
        self.sched.run_batch();
        let now = Instant::now();
        // Rule 6: wakers of fired timers left by a waker that panicked
        // are woken at this turn's end, without a sleep.
        let wait = if self.sched.is_idle() && self.fired.loop_ref().is_empty() {
            self.timers.loop_mut().arm(now)
        } else {
            Wait::NoSleep
        };
        let timeout = match wait {
            Wait::Forever | Wait::UntilTimerFd => None,
            Wait::NoSleep => Some(Duration::ZERO),
            Wait::Timeout(t) => Some(t),
        };
        let polled = if timeout == Some(Duration::ZERO) {
            self.reactor.poll(timeout)
        } else {
            let _park = crate::tracepoint::park();
            let polled = self.sched.shared.park(|may_sleep| {
                self.reactor.poll(if may_sleep {
                    timeout
                } else {
                    Some(Duration::ZERO)
                })
            });
            // Most wake-ups of a parked loop come from another thread: take
            // them in now, so that `block_on` sees its future woken, and the
            // next batch runs the woken tasks, without one more epoll call.
            self.sched.drain_remote();
            polled
        };
        // An epoll failure (EBADF, EINVAL) would be a bug in the loop; there
        // is nobody to return it to, and the timers below still run.
        if let Ok(polled) = polled {
            if polled.timer_fd {
                self.timers.loop_mut().on_fd_ready();
            }
            if polled.signal_fd {
                if let Some(driver) = self.signals.get() {
                    driver.on_ready(&self.reactor);
                }
            }
        }
        // Out of `park`, and where a waker that panics loses no other
        // (reactor.rs rule 8), signal listeners' included.
        self.reactor.wake_ready();
        self.fire_timers();
    }

    fn fire_timers(&self) {
        let now = Instant::now();
        self.timers
            .loop_mut()
            .fire_due(now, FRONT_PLACES, &mut self.fired.loop_mut());
        // Rule 6. `fired` is in deadline order and all of it goes to the
        // front of the run queue: woken latest first (`pop`), so that the
        // earliest ends up first. Taken one at a time (rule 5: no borrow
        // over a wake), so that a waker that panics leaves the others
        // here, their timers gone from the heap: `turn` does not sleep
        // while any is left, and the next turn wakes them.
        self.sched.timer_wakes.set(true);
        loop {
            let waker = self.fired.loop_mut().pop();
            let Some(waker) = waker else { break };
            crate::tracepoint::timer_fire();
            waker.wake();
        }
        self.sched.timer_wakes.set(false);
    }
}
