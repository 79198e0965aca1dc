//! The reactor: mio's `Poll`, a slab of registered sources, and each
//! source's readiness with a tick.
//!
//! ```text
//!   token (usize) = generation << 32 | slab index
//!   slab[index] = { generation, Rc<IoState> }
//!
//!   IoState
//!   ┌───────────────────────────────┬──────────────────────────────┐
//!   │ readiness: READABLE WRITABLE  │ tick: bumped by every event  │
//!   │   READ_CLOSED WRITE_CLOSED    │   delivered to this source   │
//!   │   ERROR                       │                              │
//!   ├───────────────────────────────┴──────────────────────────────┤
//!   │ readers: [Waker]   writers: [Waker]                          │
//!   └──────────────────────────────────────────────────────────────┘
//! ```
//!
//! Sources are registered edge-triggered (mio's only mode) for reading and
//! writing at once. Rules:
//!
//! 1. **Drain to `WouldBlock`.** An edge is reported once. Readiness bits
//!    are set by events and cleared only when an operation returns
//!    `WouldBlock`; until then every operation tries the syscall, so a short
//!    read (less than the buffer) or a partial write leaves the source
//!    ready and the next call tries again. (One exception, for stream
//!    reads: registration.rs.) Sources are also registered for `EPOLLPRI`,
//!    which a stream reports while urgent (`MSG_OOB`) data is pending: such
//!    an event sets `URGENT` besides `READABLE`, cleared with it.
//! 2. **A stale clear never erases a newer event.** Whoever observes
//!    readiness gets a [`ReadyEvent`] carrying the tick it was observed at;
//!    clearing with it is a no-op if the tick has moved since, i.e. if an
//!    event arrived after the observation. On one thread this matters when
//!    something is awaited between the observation and the clear (an
//!    `AsyncFd` guard held across an `.await`): the loop may have delivered
//!    a fresh edge meanwhile, and clearing it would lose it for good.
//! 3. **Generations.** A slot freed by a deregistration is reused with the
//!    next generation, and an event whose token carries an old generation
//!    is dropped: an event queued for a closed fd never reaches the source
//!    that reuses its slot.
//! 4. An error event (`EPOLLERR`) marks the source readable and writable, so
//!    the next operation makes the syscall and returns the error. The error
//!    bit is cleared with the direction's bit by a `WouldBlock` (rule 2):
//!    the kernel reports a pending error before `EAGAIN`, so `WouldBlock`
//!    proves it taken. An error that passes (a UDP socket's ICMP "port
//!    unreachable") thus leaves the source waiting again, where a sticky
//!    bit would make every operation retry at once, spinning for ever.
//! 5. Every waiter of a direction is woken on an event for it (a list, not
//!    one slot: a `UdpSocket` or a listener may be shared by several tasks).
//!    A waker that is already in the list is not added twice.
//! 6. **A dropped loop's sources fail, never wait.** A source can outlive
//!    its loop (returned out of `block_on`) and be awaited on a later loop
//!    of the same thread, which never polls this reactor: its readiness
//!    would never come. So when the loop is dropped, every source still
//!    registered gets the final `GONE` bit, which makes it ready for both
//!    directions. An operation then makes its syscall: what the kernel has
//!    (data, an error) comes back, and a `WouldBlock` is returned as it
//!    is, as the operation's error, instead of clearing readiness and
//!    waiting for an event that will never come. Waiters already in the
//!    lists are not woken (a smaller drop path, for the footprint): the
//!    loop's own tasks are gone by then, and a task of another loop can
//!    only be there if it awaited the source while the source's loop
//!    existed but did not run. Such a task waits, as it would with tokio,
//!    and this drop does not wake it either.
//! 7. **A finished task is not kept by a list** (issue 4). A waker holds a
//!    reference to its task, so a task that waited on an idle shared source
//!    and then ended (its `timeout` expired, it panicked, it was aborted)
//!    would keep its whole block (header and future storage) alive until
//!    the next event of that direction. So `poll_ready` walks the list and
//!    drops every waker of a task of ours that is COMPLETE (task.rs state
//!    table; [`waker::is_finished_task`]), moving the last waker into its
//!    place, until it meets the caller's waker: a new registration walks
//!    the whole list. A COMPLETE task is final and its wake does nothing
//!    (task rule 1), so no wake-up is lost; a foreign waker (not our task
//!    vtable) is never dropped. What stays is bounded: at most the tasks
//!    that were unfinished at the last registration. The drop runs while
//!    the list is borrowed (an exception to executor rule 5, for the
//!    footprint): the block it may free holds no future (task rule 2) and
//!    no unread output (rule 3), so what can run is the drop of its loop's
//!    `Shared` and of the waker its `JoinHandle` left (task rule 4), and a
//!    waker's drop does not poll this source.
//!
//! 8. **Dispatch, then wake.** `poll` moves the waiters of each event's
//!    directions to one list; [`Reactor::wake_ready`] wakes them, in the
//!    order of the events, after `poll` has returned (out of the park
//!    protocol, remote.rs), taking one at a time: no borrow spans a wake
//!    (executor rule 5), and a waker that panics leaves the rest in the
//!    list, woken at the next turn, whose `poll` does not sleep while any
//!    is left. (Dropped with the unwinding, their tasks, already off the
//!    sources' lists, would never wake: no new edge comes for readiness
//!    already recorded.)
//!
//! [`waker::is_finished_task`]: super::waker::is_finished_task

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use mio::event::Source;
use mio::{Events, Interest, Poll as MioPoll, Token};

use super::borrow::LoopBorrow;

/// The token of the loop's mio `Waker` (remote.rs).
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);
/// The token of the timerfd (timer.rs).
pub(crate) const TIMER_TOKEN: Token = Token(usize::MAX - 1);

pub(crate) const READABLE: u8 = 1 << 0;
pub(crate) const WRITABLE: u8 = 1 << 1;
pub(crate) const READ_CLOSED: u8 = 1 << 2;
pub(crate) const WRITE_CLOSED: u8 = 1 << 3;
pub(crate) const ERROR: u8 = 1 << 4;
/// The loop was dropped (rule 6); final.
pub(crate) const GONE: u8 = 1 << 5;
/// Urgent data was pending (`EPOLLPRI`, rule 1): reads may stop short of
/// the data still buffered (registration.rs).
pub(crate) const URGENT: u8 = 1 << 6;

/// A direction an operation waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// The readiness bits that let an operation of this direction try.
    fn mask(self) -> u8 {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR | GONE | URGENT,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR | GONE,
        }
    }
}

/// Readiness as observed, with the tick it was observed at (rule 2).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadyEvent {
    pub(crate) ready: u8,
    tick: u32,
}

/// One registered source's readiness and waiters (loop thread only).
pub(crate) struct IoState {
    readiness: Cell<u8>,
    tick: Cell<u32>,
    readers: RefCell<Vec<Waker>>,
    writers: RefCell<Vec<Waker>>,
}

impl IoState {
    fn new() -> Self {
        IoState {
            readiness: Cell::new(0),
            tick: Cell::new(0),
            readers: RefCell::new(Vec::new()),
            writers: RefCell::new(Vec::new()),
        }
    }

    fn waiters(&self, direction: Direction) -> &RefCell<Vec<Waker>> {
        match direction {
            Direction::Read => &self.readers,
            Direction::Write => &self.writers,
        }
    }

    /// Ready for `direction`, or register `cx`'s waker and return `Pending`.
    /// No event can arrive between the check and the registration: events
    /// are delivered by the loop, between polls.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<ReadyEvent> {
        let ready = self.readiness.get() & direction.mask();
        if ready != 0 {
            return Poll::Ready(ReadyEvent {
                ready,
                tick: self.tick.get(),
            });
        }
        let waker = cx.waker();
        let mut waiters = self.waiters(direction).loop_mut();
        let mut i = 0;
        while let Some(w) = waiters.get(i) {
            if w.will_wake(waker) {
                return Poll::Pending;
            }
            if super::waker::is_finished_task(w) {
                // Rule 7: drop it; the last waiter takes its place.
                let last = waiters.pop();
                if let (Some(last), Some(slot)) = (last, waiters.get_mut(i)) {
                    *slot = last;
                }
            } else {
                i += 1;
            }
        }
        waiters.push(waker.clone());
        Poll::Pending
    }

    /// Rule 2: clear what `event` saw of `direction`, unless an event came
    /// since. Closed bits are final and stay; the error bit goes too
    /// (rule 4). False if the loop is gone (rule 6): the caller's
    /// `WouldBlock` is final, to be returned as the operation's error.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent, direction: Direction) -> bool {
        if self.readiness.get() & GONE != 0 {
            return false;
        }
        if self.tick.get() == event.tick {
            let clear = match direction {
                Direction::Read => READABLE | ERROR | URGENT,
                Direction::Write => WRITABLE | ERROR,
            };
            self.readiness
                .set(self.readiness.get() & !(clear & event.ready));
        }
        true
    }

    fn set_readiness(&self, bits: u8) {
        self.readiness.set(self.readiness.get() | bits);
        self.tick.set(self.tick.get().wrapping_add(1));
    }

    /// Move the waiters of the directions in `bits` to `wake`.
    fn take_waiters(&self, bits: u8, wake: &mut Vec<Waker>) {
        for direction in [Direction::Read, Direction::Write] {
            if bits & direction.mask() != 0 {
                wake.append(&mut self.waiters(direction).loop_mut());
            }
        }
    }
}

struct Slot {
    generation: u32,
    io: Option<Rc<IoState>>,
}

/// What one `poll` saw besides socket events.
#[derive(Default, Debug)]
pub(crate) struct Polled {
    pub(crate) timer_fd: bool,
    pub(crate) signal_fd: bool,
}

/// The token of the signal fd (signal.rs).
pub(crate) const SIGNAL_TOKEN: Token = Token(usize::MAX - 2);

/// The slab of registered sources: their slots, and the indices of the
/// slots free for reuse. One cell for both, as they change together.
#[derive(Default)]
struct Sources {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

/// mio's `Poll` and the slab of sources (loop thread only).
pub(crate) struct Reactor {
    poll: RefCell<MioPoll>,
    events: RefCell<Events>,
    sources: RefCell<Sources>,
    /// Wakers taken during dispatch, woken by `wake_ready` (rule 8).
    to_wake: RefCell<Vec<Waker>>,
}

impl Reactor {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Reactor {
            poll: RefCell::new(MioPoll::new()?),
            events: RefCell::new(Events::with_capacity(1024)),
            sources: RefCell::default(),
            to_wake: RefCell::new(Vec::new()),
        })
    }

    pub(crate) fn registry(&self) -> io::Result<mio::Registry> {
        self.poll.loop_ref().registry().try_clone()
    }

    /// Register `source` for reading, urgent data (rule 1) and writing
    /// (rule 3 for the token).
    pub(crate) fn register(&self, source: &mut dyn Source) -> io::Result<(Token, Rc<IoState>)> {
        let io = Rc::new(IoState::new());
        let mut sources = self.sources.loop_mut();
        let Sources { slots, free } = &mut *sources;
        let index = match free.pop() {
            Some(index) => index,
            None => {
                slots.push(Slot {
                    generation: 0,
                    io: None,
                });
                (slots.len() - 1) as u32
            }
        };
        let slot = &mut slots[index as usize];
        let token = Token(((slot.generation as usize) << 32) | index as usize);
        if let Err(e) = self.poll.loop_ref().registry().register(
            source,
            token,
            Interest::READABLE | Interest::WRITABLE | Interest::PRIORITY,
        ) {
            free.push(index);
            return Err(e);
        }
        slot.io = Some(io.clone());
        Ok((token, io))
    }

    /// Register a loop-internal fd (not in the slab) for reading, with a
    /// fixed token: the signal pipe (signal.rs).
    pub(crate) fn register_readable_fd(
        &self,
        fd: std::os::fd::RawFd,
        token: Token,
    ) -> io::Result<()> {
        self.poll.loop_ref().registry().register(
            &mut mio::unix::SourceFd(&fd),
            token,
            Interest::READABLE,
        )
    }

    /// Rule 6: the loop is being dropped; every source still registered
    /// becomes `GONE`.
    pub(crate) fn close_sources(&self) {
        for slot in &self.sources.loop_ref().slots {
            if let Some(io) = &slot.io {
                io.set_readiness(GONE);
            }
        }
    }

    /// Deregister `source` and free its slot for the next generation.
    pub(crate) fn deregister(&self, source: &mut dyn Source, token: Token) {
        // The fd is about to be closed, which removes it from epoll anyway;
        // an error here (the fd already closed) changes nothing.
        let _ = self.poll.loop_ref().registry().deregister(source);
        let index = (token.0 & 0xffff_ffff) as u32;
        let mut sources = self.sources.loop_mut();
        let Sources { slots, free } = &mut *sources;
        if let Some(slot) = slots.get_mut(index as usize) {
            if slot.generation == (token.0 >> 32) as u32 {
                slot.io = None;
                slot.generation = slot.generation.wrapping_add(1);
                free.push(index);
            }
        }
    }

    /// Wait for events at most `timeout` (`None`: until one comes; not at
    /// all while wakers are left, rule 8), record them and move their
    /// waiters to the list [`wake_ready`](Self::wake_ready) wakes.
    pub(crate) fn poll(&self, timeout: Option<Duration>) -> io::Result<Polled> {
        let mut polled = Polled::default();
        let mut events = self.events.loop_mut();
        let mut to_wake = self.to_wake.loop_mut();
        let timeout = if to_wake.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        match self.poll.loop_mut().poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(polled),
            Err(e) => return Err(e),
        }
        {
            let sources = self.sources.loop_ref();
            for event in events.iter() {
                match event.token() {
                    WAKER_TOKEN => {} // remote.rs: the inbox is drained anyway
                    TIMER_TOKEN => polled.timer_fd = true,
                    SIGNAL_TOKEN => polled.signal_fd = true,
                    Token(token) => {
                        let index = token & 0xffff_ffff;
                        let generation = (token >> 32) as u32;
                        let Some(Slot {
                            generation: live,
                            io: Some(io),
                        }) = sources.slots.get(index)
                        else {
                            continue;
                        };
                        if *live != generation {
                            continue; // rule 3
                        }
                        crate::tracepoint::io_ready(token);
                        let mut bits = 0;
                        if event.is_readable() {
                            bits |= READABLE;
                        }
                        if event.is_priority() {
                            bits |= URGENT; // and READABLE: mio counts EPOLLPRI as readable
                        }
                        if event.is_writable() {
                            bits |= WRITABLE;
                        }
                        if event.is_read_closed() {
                            bits |= READ_CLOSED;
                        }
                        if event.is_write_closed() {
                            bits |= WRITE_CLOSED;
                        }
                        if event.is_error() {
                            bits |= ERROR | READABLE | WRITABLE; // rule 4
                        }
                        io.set_readiness(bits);
                        io.take_waiters(bits, &mut to_wake);
                    }
                }
            }
        }
        // In the order of the events for `pop`, not `drain(..)`, for less
        // code. (Wakers a panic left, rule 8, may come in another order.)
        to_wake.reverse();
        Ok(polled)
    }

    /// Rule 8 for the loop's other sources of wake-ups (signals): `wakers`
    /// join the list [`wake_ready`](Self::wake_ready) wakes.
    pub(crate) fn wake_later(&self, wakers: Vec<Waker>) {
        self.to_wake.loop_mut().extend(wakers);
    }

    /// Rule 8: wake the waiters `poll` took, one at a time.
    pub(crate) fn wake_ready(&self) {
        loop {
            let waker = self.to_wake.loop_mut().pop();
            let Some(waker) = waker else { break };
            waker.wake();
        }
    }
}
