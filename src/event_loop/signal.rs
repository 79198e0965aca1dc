//! Signals as events: await SIGINT, SIGTERM, SIGHUP (and SIGUSR1/2) on the
//! loop, like readiness of a socket.
//!
//! ```text
//!   any thread                       the loop's thread
//!   signal ─► handler (sys/signal.rs):
//!             COUNTS[signo] += 1
//!             write 1 byte to every claimed self-pipe ─► this loop's pipe
//!                                                          │ epoll (SIGNAL_TOKEN)
//!                                                          ▼
//!                                       turn: drain the pipe, wake every
//!                                       waiting `Signal` of this loop; each
//!                                       compares COUNTS[signo] with the
//!                                       count it last reported
//! ```
//!
//! Rules:
//!
//! 1. **Per loop, one pipe.** A loop claims a self-pipe at its first
//!    listener and keeps it until it is dropped: each loop drains its own
//!    pipe, so no loop can swallow another's wake-up (with one shared pipe
//!    registered in several epolls, a loop that drained it first would hide
//!    the edge from the others).
//! 2. **No lost signal.** A listener that finds no new delivery registers
//!    its waker in the same poll, on the loop's thread; the handler bumps
//!    the count before it writes the byte (sys rule 3), so a delivery after
//!    the check makes the pipe readable, the loop drains it and wakes the
//!    listener, which then sees the new count.
//! 3. **Coalesced, like the kernel's.** Deliveries that arrive while a
//!    listener is not waiting are reported once, at its next `recv`, as
//!    pending standard signals are. A listener reports deliveries that came
//!    after it was made, not before.
//! 4. **Disposition.** The first listener in the process installs the
//!    handler, replacing (not chaining) the disposition in place; when the
//!    last listener in the process is dropped, that disposition comes back
//!    (sys rule 4). While a listener exists, SIGINT no longer ends the
//!    process: the program decides.
//! 5. **A listener waits on the loop that polls it.** A `Signal` can
//!    outlive the loop that made it (returned out of `block_on`) or be
//!    awaited while that loop exists but does not run (a second loop's
//!    `block_on` on the same thread). Its own loop's pipe is then polled
//!    by nobody, so at each poll a listener checks that the loop running
//!    on this thread is the one it waits on; if not, it moves: it claims
//!    that loop's pipe (rule 1) and drops its hold on the old loop, before
//!    it reads the count (so rule 2 holds on the new pipe). Polled outside
//!    any loop, or when the new loop cannot claim a pipe, `recv` returns
//!    the error `signal` would have given there. Moving changes no count
//!    of rule 4: the disposition still comes back when the last listener
//!    is dropped.
//! 6. **A finished task is not kept** (as reactor.rs rule 7). A waiting
//!    listener's waker stays in its loop's list until the next delivery,
//!    which may never come, and a waker keeps its task's whole block
//!    alive; so each registration drops the wakers of tasks of ours that
//!    are COMPLETE (a timeout or a `select` won, and the task ended). Their
//!    wake would do nothing (task rule 1), so no wake-up is lost; foreign
//!    wakers stay.
//! 7. **A waker that panics loses no other.** The listeners a delivery
//!    wakes join the reactor's list of waiters to wake (reactor.rs rule
//!    8), woken one at a time: a waker that panics leaves the others
//!    there, woken at the next turn, which does not sleep before. (Woken
//!    from a list of their own, they were dropped with the unwinding, and
//!    their tasks, the pipe drained, waited for a delivery that had
//!    already come.)

use std::cell::{OnceCell, RefCell};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::task::{ready, Context, Poll, Waker};

use super::budget;
use super::error::no_event_loop;
use super::executor::{self, Core};
use super::reactor::{Reactor, SIGNAL_TOKEN};
use crate::sys::signal::{self as sys, Pipe};

/// A signal a [`Signal`] listener can wait for.
///
/// ```
/// use triad::event_loop::signal::SignalKind;
/// assert_eq!(SignalKind::Terminate.as_raw(), libc::SIGTERM);
/// assert_ne!(SignalKind::User1, SignalKind::User2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignalKind {
    /// `SIGINT`: Ctrl-C at the terminal.
    Interrupt,
    /// `SIGTERM`: a polite request to stop (`kill`, systemd, Kubernetes).
    Terminate,
    /// `SIGHUP`: the terminal hung up; by convention, "reload your
    /// configuration" for a daemon.
    Hangup,
    /// `SIGUSR1`: application-defined.
    User1,
    /// `SIGUSR2`: application-defined.
    User2,
}

impl SignalKind {
    /// The signal's number.
    ///
    /// ```
    /// use triad::event_loop::signal::SignalKind;
    /// assert_eq!(SignalKind::Interrupt.as_raw(), 2); // SIGINT
    /// assert_eq!(SignalKind::Hangup.as_raw(), libc::SIGHUP);
    /// ```
    pub fn as_raw(self) -> i32 {
        match self {
            SignalKind::Interrupt => libc::SIGINT,
            SignalKind::Terminate => libc::SIGTERM,
            SignalKind::Hangup => libc::SIGHUP,
            SignalKind::User1 => libc::SIGUSR1,
            SignalKind::User2 => libc::SIGUSR2,
        }
    }
}

/// A loop's signal driver as its `Core` holds it, made at the loop's
/// first listener (rule 1). Behind `dyn`: [`signal`] is the only place that
/// names the concrete [`Driver`], so a program that never listens for a
/// signal links neither the driver nor the handler and its pipe table.
pub(crate) type DriverSlot = OnceCell<Box<dyn Listeners>>;

/// What the loop and its listeners ask of a driver.
pub(crate) trait Listeners {
    /// The pipe was readable: drain it, have the reactor wake every
    /// waiting listener (each checks its own signal's count, rule 2).
    fn on_ready(&self, reactor: &Reactor);
    /// Wake `waker` at the next delivery (rule 2).
    fn wait(&self, waker: &Waker);
}

/// The loop's side: its self-pipe and the listeners waiting (loop thread
/// only).
struct Driver {
    pipe: Pipe,
    waiters: RefCell<Vec<Waker>>,
}

impl Driver {
    /// Rule 1: claim this loop's pipe and register it, once.
    fn install(slot: &DriverSlot, reactor: &Reactor) -> io::Result<()> {
        if slot.get().is_some() {
            return Ok(());
        }
        let pipe = Pipe::claim()?;
        reactor.register_readable_fd(pipe.read_fd(), SIGNAL_TOKEN)?;
        let driver = Driver {
            pipe,
            waiters: RefCell::new(Vec::new()),
        };
        // Empty, checked above; nothing in between could fill it.
        let _ = slot.set(Box::new(driver));
        Ok(())
    }
}

impl Listeners for Driver {
    fn on_ready(&self, reactor: &Reactor) {
        self.pipe.drain();
        // Rule 7: woken by the reactor, with the sockets' waiters.
        reactor.wake_later(std::mem::take(&mut *self.waiters.borrow_mut()));
    }

    fn wait(&self, waker: &Waker) {
        let mut waiters = self.waiters.borrow_mut();
        // Rule 6: the wakers of finished tasks go, dropped after the borrow
        // (no allocation unless one did finish).
        let mut finished = Vec::new();
        let mut i = 0;
        while let Some(w) = waiters.get(i) {
            if super::waker::is_finished_task(w) {
                finished.push(waiters.swap_remove(i));
            } else {
                i += 1;
            }
        }
        if !waiters.iter().any(|w| w.will_wake(waker)) {
            waiters.push(waker.clone());
        }
        drop(waiters);
        drop(finished);
    }
}

/// A listener for one kind of signal, on the event loop that made it.
///
/// ```no_run
/// use triad::event_loop::signal::{signal, SignalKind};
/// use triad::event_loop::EventLoop;
///
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let mut ctrl_c = signal(SignalKind::Interrupt)?;
///     ctrl_c.recv().await?;
///     println!("interrupted: shutting down");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Dropping the last listener of a signal in the process puts back the
/// disposition that was in place before the first (see the module docs).
pub struct Signal {
    kind: SignalKind,
    seen: u64,
    /// The loop whose driver this listener waits on: the last one that
    /// polled it (rule 5).
    core: Rc<Core>,
}

/// Listen for `kind` on the event loop running on this thread.
///
/// From now until the returned listener (and every other listener of
/// `kind` in the process) is dropped, the signal is caught instead of
/// taking its default action.
///
/// # Errors
///
/// No event loop is running on this thread; more than 64 loops listen for
/// signals at once; or the kernel refused a call (`sigaction`, `pipe2`,
/// `epoll_ctl`).
///
/// ```
/// use triad::event_loop::signal::{signal, SignalKind};
/// use triad::event_loop::EventLoop;
///
/// assert!(signal(SignalKind::User1).is_err()); // no loop on this thread
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let mut user1 = signal(SignalKind::User1)?;
///     # // SAFETY: our own pid, and a signal a listener of ours catches.
///     # assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) }, 0);
///     user1.recv().await // returns once SIGUSR1 has arrived
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let core = executor::current().ok_or_else(no_event_loop)?;
    Driver::install(&core.signals, &core.reactor)?;
    let signo = kind.as_raw();
    // Rule 3: deliveries from now on; read before the handler is in place
    // so that none it counts is missed.
    let seen = sys::count(signo);
    sys::listen(signo)?;
    Ok(Signal { kind, seen, core })
}

impl Signal {
    /// Wait for the next delivery of the signal (several deliveries since
    /// the last `recv` are reported once).
    ///
    /// The listener waits on the event loop that polls it, not necessarily
    /// the one that made it (rule 5 of the module docs): one made in a
    /// `block_on` may be awaited in a later loop's.
    ///
    /// # Errors
    ///
    /// As [`signal`]'s, when the loop polling the listener is not the one
    /// it waited on before: no event loop is running on this thread; more
    /// than 64 loops listen for signals at once; or the kernel refused a
    /// call (`pipe2`, `epoll_ctl`).
    ///
    /// ```
    /// # use triad::event_loop::signal::{signal, SignalKind};
    /// # use triad::event_loop::EventLoop;
    /// let ev = EventLoop::new()?;
    /// let mut user2 = ev.block_on(async { signal(SignalKind::User2) })?;
    /// drop(ev);
    /// let next = EventLoop::new()?;
    /// next.block_on(async {
    ///     # // SAFETY: our own pid, and a signal a listener of ours catches.
    ///     # let raise = || assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) }, 0);
    ///     raise();
    ///     raise();
    ///     user2.recv().await // both deliveries, reported once, on this loop
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Poll for a delivery (for hand-written futures and streams).
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv)'s.
    ///
    /// ```
    /// # use triad::event_loop::signal::{signal, SignalKind};
    /// # use triad::event_loop::EventLoop;
    /// use std::future::poll_fn;
    /// use std::task::Poll;
    ///
    /// let ev = EventLoop::new().unwrap();
    /// ev.block_on(async {
    ///     let mut hangup = signal(SignalKind::Hangup).unwrap();
    ///     assert!(poll_fn(|cx| Poll::Ready(hangup.poll_recv(cx).is_pending())).await);
    ///     # // SAFETY: our own pid, and a signal a listener of ours catches.
    ///     # assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGHUP) }, 0);
    ///     poll_fn(|cx| hangup.poll_recv(cx)).await.unwrap();
    /// });
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(budget::poll_proceed(cx));
        // Rule 5, before the count is read (rule 2 on the new pipe).
        if let Err(e) = self.follow_current_loop() {
            budget::consume();
            return Poll::Ready(Err(e));
        }
        let now = sys::count(self.kind.as_raw());
        if now != self.seen {
            self.seen = now;
            budget::consume();
            return Poll::Ready(Ok(()));
        }
        // Rule 2: registered in the same poll, before the loop can look
        // at the pipe again.
        if let Some(driver) = self.core.signals.get() {
            driver.wait(cx.waker());
        }
        Poll::Pending
    }

    /// Rule 5: wait on the loop running on this thread from now on, if it
    /// is not the one waited on so far.
    fn follow_current_loop(&mut self) -> io::Result<()> {
        let here = executor::with_current(|core| core.map(|core| core.id));
        if here == Some(self.core.id) {
            return Ok(());
        }
        let core = executor::current().ok_or_else(no_event_loop)?;
        Driver::install(&core.signals, &core.reactor)?;
        // The old loop's driver may keep this task's waker until it runs
        // again: at worst one spurious wake-up then.
        self.core = core;
        Ok(())
    }

    /// The signal this listener waits for.
    ///
    /// ```
    /// # use triad::event_loop::signal::{signal, SignalKind};
    /// # use triad::event_loop::EventLoop;
    /// let ev = EventLoop::new().unwrap();
    /// ev.block_on(async {
    ///     let listener = signal(SignalKind::Terminate).unwrap();
    ///     assert_eq!(listener.kind(), SignalKind::Terminate);
    /// });
    /// ```
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        // Rule 4. A failing `sigaction` (it cannot, with a disposition the
        // kernel gave us) would leave our handler in place: signals would
        // keep being caught, and counted for nobody.
        let _ = sys::unlisten(self.kind.as_raw());
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal").field("kind", &self.kind).finish()
    }
}
