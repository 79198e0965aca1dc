//! A source registered with the loop's reactor: the common core of every
//! socket type and of [`AsyncFd`](super::AsyncFd).
//!
//! Every operation goes through [`PollEvented::poll_io`]:
//!
//! ```text
//!   budget left? ──no──► wake self, Pending          (budget.rs)
//!      │yes
//!   ready for the direction? ──no──► register waker, Pending
//!      │yes (ReadyEvent with tick)
//!   syscall ──WouldBlock──► clear readiness with that tick, try again
//!      │ done (Ok or Err)     (its loop gone: the WouldBlock is the result,
//!      │                       reactor.rs rule 6)
//!   spend one budget unit, Ready
//! ```
//!
//! This is reactor.rs rules 1 and 2 in one place: the syscall is retried
//! until `WouldBlock`, and that clears readiness, with the tick it was
//! observed at. One more proof of "drained" is accepted for TCP stream reads
//! ([`PollEvented::poll_io_drained`]; not for Unix streams, whose reads also
//! stop after a message carrying descriptors: net/mod.rs): a read that
//! returned fewer bytes than asked for, but more than zero, emptied the
//! socket's receive buffer, so
//! readiness is cleared (with the tick) without the extra `recv` that would
//! only say `WouldBlock`. A newer event still wins, since the tick guards the
//! clear. End of file (zero bytes) never clears: after the peer's close no
//! new edge would come. Nor does a short read while urgent data was pending
//! (the `URGENT` bit, reactor.rs rule 1): the kernel stops a read at the
//! urgent mark, with ordinary data still buffered behind it and no new edge
//! to come for that data.

use std::io;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use mio::event::Source;
use mio::Token;

use super::budget;
use super::error::no_event_loop;
use super::executor::{self, Core};
use super::reactor::{Direction, IoState, ReadyEvent, URGENT};

/// A mio source registered with the loop that was current when it was made.
pub(crate) struct PollEvented<S: Source> {
    source: S,
    registration: Registration,
}

/// The part of a registration that does not depend on the source's type:
/// written once, not once per socket type, since every stream, listener and
/// `AsyncFd` shares it.
struct Registration {
    token: Token,
    io: Rc<IoState>,
    core: Rc<Core>,
}

impl Registration {
    /// Register `source` with the loop running on this thread.
    fn new(source: &mut dyn Source) -> io::Result<Registration> {
        let core = executor::current().ok_or_else(no_event_loop)?;
        let (token, io) = core.reactor.register(source)?;
        Ok(Registration { token, io, core })
    }

    fn deregister(&self, source: &mut dyn Source) {
        self.core.reactor.deregister(source, self.token);
    }
}

impl<S: Source> PollEvented<S> {
    /// Register `source` with the loop running on this thread.
    pub(crate) fn new(mut source: S) -> io::Result<Self> {
        let registration = Registration::new(&mut source)?;
        Ok(PollEvented {
            source,
            registration,
        })
    }

    pub(crate) fn get_ref(&self) -> &S {
        &self.source
    }

    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<ReadyEvent> {
        self.registration.io.poll_ready(cx, direction)
    }

    /// False if the loop is gone (reactor.rs rule 6).
    pub(crate) fn clear_readiness(&self, event: ReadyEvent, direction: Direction) -> bool {
        self.registration.io.clear_readiness(event, direction)
    }

    /// Run `op` once the source is ready for `direction`, until it does not
    /// return `WouldBlock` (see the module docs).
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        ready!(budget::poll_proceed(cx));
        loop {
            let event = ready!(self.poll_ready(cx, direction));
            match op(self.get_ref()) {
                // Its loop gone, `WouldBlock` is the result (reactor.rs rule 6).
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        && self.clear_readiness(event, direction) => {}
                result => {
                    budget::consume();
                    return Poll::Ready(result);
                }
            }
        }
    }
}

impl<S: Source> PollEvented<S> {
    /// As [`poll_io`](Self::poll_io), and also clear readiness when `drained`
    /// says the successful result proves the source empty for `direction`
    /// (see the module docs: a short stream read).
    pub(crate) fn poll_io_drained<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut(&S) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        ready!(budget::poll_proceed(cx));
        loop {
            let event = ready!(self.poll_ready(cx, direction));
            match op(self.get_ref()) {
                // Its loop gone, `WouldBlock` is the result (reactor.rs rule 6).
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        && self.clear_readiness(event, direction) => {}
                result => {
                    if event.ready & URGENT == 0 && result.as_ref().is_ok_and(&drained) {
                        self.clear_readiness(event, direction);
                    }
                    budget::consume();
                    return Poll::Ready(result);
                }
            }
        }
    }
}

impl<S: Source> Drop for PollEvented<S> {
    fn drop(&mut self) {
        // The source itself is dropped (closed) right after, with the fields.
        self.registration.deregister(&mut self.source);
    }
}
