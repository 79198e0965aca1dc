//! Result slots: where a task's arguments go in and its outcome comes out,
//! in memory shared by the parent and every worker.
//!
//! A slot is a header ([`Slot`], in the slot table of `shm.rs`) plus a data
//! area of `capacity` bytes. The parent writes a task's encoded argument
//! into the data area and publishes the slot; any worker claims it, decodes
//! the argument, runs the task and writes the encoded result over the same
//! bytes; the parent reads the result in place and frees the slot. Payloads
//! never travel through a pipe.
//!
//! # States
//!
//! One 32-bit word holds the state, two flags and the claiming worker's
//! serial. The word is also the futex a parent thread sleeps on.
//!
//! ```text
//!  31                         8 7  6  5  4 3      0
//! ┌────────────────────────────┬─────┬──┬──┬───────┐
//! │ claimer serial (24 bits)   │0 │D │FD│W │ state │
//! └────────────────────────────┴──┴──┴──┴──┴───────┘
//!   W  = WAITER: a parent thread sleeps on this word (futex)
//!   FD = NOTIFY_FD: write the slot's eventfd when the task is done
//!   D  = DOOMED: (CLAIMED only) the task ran past its timeout and its
//!        worker is being killed; the worker must not claim again (rule 8)
//!   In ABANDONED the serial field holds the cause instead (bits 8..16: an
//!   outcome code, 16..32: the signal number or exit code).
//! ```
//!
//! ```text
//!            parent                worker s             worker s
//!   FREE ───submit──► SUBMITTED ───claim──► CLAIMED(s) ───complete──► COMPLETE ─┐
//!    ▲                    │                     │                               │
//!    │                    │ parent: cancel      │ supervisor: s is dead         │ parent:
//!    │                    ▼                     ▼ (reaped) or timed out+reaped  │ collect
//!    │                ABANDONED ◄───────────────┘                               │
//!    │                    │ parent: collect                                     │
//!    │                    ▼                                                     │
//!    └──── release ─── COLLECTED ◄──────────────────────────────────────────────┘
//!        (last lease of the result dropped)
//! ```
//!
//! | state | owner (who may touch the data area) | next |
//! |---|---|---|
//! | FREE | the parent (under its registry lock) | SUBMITTED |
//! | SUBMITTED | nobody writes; workers compete | CLAIMED (a worker), ABANDONED (cancel) |
//! | CLAIMED(s) | worker `s` | COMPLETE (by `s`), ABANDONED (by the supervisor) |
//! | COMPLETE | the parent (reads) | COLLECTED |
//! | ABANDONED | nobody (no payload; the cause is in the word) | COLLECTED |
//! | COLLECTED | the parent (reads, through result leases) | FREE |
//!
//! # Rules
//!
//! 1. **One owner per state.** Only the owner in the table writes the data
//!    area and the header's fields; every hand-over is one atomic transition
//!    of the state word, so at any moment exactly one party may write.
//! 2. **Publication.** A transition that hands the slot over is a Release
//!    (submit, complete, abandon, release) and the one that takes it is an
//!    Acquire (claim, collect), so what the previous owner wrote is visible
//!    to the next.
//! 3. **Exactly one claim.** `claim` is a compare-and-swap from SUBMITTED:
//!    of any number of workers (and a cancelling parent) exactly one wins.
//! 4. **Exactly one outcome.** A CLAIMED(s) slot leaves by a CAS that checks
//!    it is still CLAIMED(s): by `complete` (worker `s`) or by `abandon`
//!    (supervisor: `s` was reaped, is being killed for a timeout, or its
//!    zygote died). `abandon` writes no field, only the word, so it is safe
//!    while `s` may still run. Whichever CAS comes first wins and the other
//!    fails: a worker that finished
//!    just before it died keeps its result; a slot whose worker died is never
//!    left CLAIMED. A worker whose `complete` fails drops its result.
//! 5. **No lost wake-up.** A waiting parent thread sets W by CAS and then
//!    sleeps on the word *expecting the value with W*; whoever finishes the
//!    task swaps the word and wakes sleepers iff the old word had W. The CAS
//!    and the finishing transition are on one word, so either the finisher
//!    sees W, or the waiter's CAS fails and it re-reads a finished state; a
//!    finisher that changes the word before the waiter sleeps makes the
//!    futex return at once (the kernel compares the word under its lock).
//!    FD works alike for the slot's eventfd.
//! 6. **Zero is FREE.** A zero-filled header is a FREE slot with no flags,
//!    so a fresh (sparse) mapping needs no initialisation.
//! 7. **Serials.** A worker's serial is unique among live workers (24 bits,
//!    never 0; when the zygote's counter wraps around it skips the serials
//!    still in use, zygote rule Z6); a replacement gets a new one, so an
//!    abandon for a dead worker can never hit a slot claimed by its
//!    replacement, nor by a worker that outlived 2^24 forks.
//! 8. **A kill hits only the task that timed out.** The supervisor marks a
//!    task past its timeout DOOMED by a CAS from CLAIMED(s) *before* it has
//!    worker `s` killed, and only if the CAS succeeds. `complete` is a CAS
//!    on the same word, so exactly one of two orders happens: the worker
//!    completed first (the mark fails, nobody is killed, the result
//!    stands), or the mark came first (the worker's `complete` reports
//!    `timed_out`, and the worker exits at once instead of claiming another
//!    task, worker rule W3). Either way the kill can never land on a task
//!    claimed after the timed-out one. A DOOMED slot that is abandoned is
//!    abandoned as TIMED_OUT, whatever the caller's cause.
//! 9. **Waiting for one task, not for a slot.** A parent thread that waits
//!    for its task gives the task's ticket: if the slot already holds
//!    another task (its own was finished, copied out and the slot reused),
//!    the wait returns at once instead of sleeping on a stranger. The check
//!    comes before each sleep; a slot that goes round its whole cycle
//!    between the check and the sleep (finished, copied out, freed,
//!    resubmitted and flagged WAITER again, all in that instant) can still
//!    hold the sleeper, so the pool caps each sleep and looks again.
//!
//! The loom model `loom-tests/processes_slot.rs` runs this code over loom
//! atomics in ordinary memory (the futex is emulated by a mutex and a
//! condition variable with the kernel's semantics): submit racing claims by
//! two workers, completion racing a sleeping collector, a worker dying after
//! its claim, a cancel racing a claim, a timeout mark racing a completion.

use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

/// The state field (bits 0..4).
const STATE_MASK: u32 = 0b1111;
pub(crate) const FREE: u32 = 0; // --> SUBMITTED (parent)
pub(crate) const SUBMITTED: u32 = 1; // --> CLAIMED (a worker), ABANDONED (parent: cancel)
pub(crate) const CLAIMED: u32 = 2; // --> COMPLETE (its worker), ABANDONED (supervisor)
pub(crate) const COMPLETE: u32 = 3; // --> COLLECTED (parent)
pub(crate) const ABANDONED: u32 = 4; // --> COLLECTED (parent)
pub(crate) const COLLECTED: u32 = 5; // --> FREE (parent: last lease dropped)

/// A parent thread sleeps on the word (rule 5).
const WAITER: u32 = 1 << 4;
/// Write the slot's eventfd when the task is done (rule 5).
const NOTIFY_FD: u32 = 1 << 5;
const FLAGS: u32 = WAITER | NOTIFY_FD;
/// CLAIMED only: past its timeout, its worker is being killed (rule 8).
const DOOMED: u32 = 1 << 6;
const SERIAL_SHIFT: u32 = 8;
/// Serials are 24 bits (rule 7).
pub(crate) const SERIAL_MASK: u32 = (1 << 24) - 1;

/// How a finished task left its slot, written by whoever finished it.
pub(crate) mod outcome {
    /// The worker wrote the encoded result (`result_len` bytes).
    pub(crate) const OK: u32 = 1;
    /// The task panicked; the data area holds the message (`result_len`).
    pub(crate) const PANICKED: u32 = 2;
    /// The result needed `detail` bytes, more than the capacity.
    pub(crate) const TOO_LARGE: u32 = 3;
    /// The argument bytes could not be decoded.
    pub(crate) const BAD_ARGUMENT: u32 = 4;
    /// Abandoned: the worker was killed by signal `detail`.
    pub(crate) const SIGNALED: u32 = 5;
    /// Abandoned: the worker exited with code `detail`.
    pub(crate) const EXITED: u32 = 6;
    /// Abandoned: the task ran past its timeout and its worker was killed.
    pub(crate) const TIMED_OUT: u32 = 7;
    /// Abandoned: the pool was shut down (immediately) first.
    pub(crate) const CANCELLED: u32 = 8;
    /// Abandoned: the zygote died, no worker can run it.
    pub(crate) const BROKEN: u32 = 9;
    /// Abandoned: a spawned process killed on request (`spawn.rs`).
    pub(crate) const KILLED: u32 = 10;
    /// Abandoned: no process could be forked for a spawned task.
    pub(crate) const SPAWN_FAILED: u32 = 11;
    /// Abandoned: cancelled through its handle before a worker took it.
    pub(crate) const WITHDRAWN: u32 = 12;
}

/// One slot's header. `#[repr(C)]`, 128 bytes, valid when zero-filled
/// (rule 6): it lives in the shared mapping, at the same offset in every
/// process.
#[repr(C, align(128))]
pub(crate) struct Slot {
    /// The state word (see the module docs).
    state: AtomicU32,
    /// One of [`outcome`]'s codes (owner: the claiming worker).
    pub(crate) outcome: AtomicU32,
    /// The task's entry trampoline, as an offset in the binary (owner: parent).
    pub(crate) entry: AtomicU64,
    /// The user's function, as an offset in the binary (owner: parent).
    pub(crate) task: AtomicU64,
    /// Bytes of encoded argument at the start of the data area (owner: parent).
    pub(crate) arg_len: AtomicU64,
    /// Per-task timeout in ns, 0 = none (owner: parent).
    pub(crate) timeout_ns: AtomicU64,
    /// Submission order; workers take the lowest (owner: parent).
    pub(crate) ticket: AtomicU64,
    /// CLOCK_MONOTONIC when claimed (owner: the claiming worker; read by the
    /// supervisor for timeouts, Relaxed: a stale 0 only delays the check).
    pub(crate) claimed_at_ns: AtomicU64,
    /// Where the encoded result starts in the data area: after the buffers
    /// carved in place (`in_place.rs`); 0 for a panic message.
    pub(crate) result_offset: AtomicU64,
    /// Bytes of result (or panic message) in the data area.
    pub(crate) result_len: AtomicU64,
    /// The needed size, for TOO_LARGE.
    pub(crate) detail: AtomicU64,
    /// CLOCK_MONOTONIC when completed (`trace` only; owner: the claiming
    /// worker, published by `complete`'s Release).
    #[cfg(feature = "trace")]
    completed_at_ns: AtomicU64,
    /// The claiming worker's pid (`trace` only; owner and publication as
    /// `completed_at_ns`).
    #[cfg(feature = "trace")]
    worker_pid: AtomicU32,
    /// Under loom, the kernel's futex is emulated (see [`futex`]).
    #[cfg(loom)]
    futex: futex::Emulated,
}

/// What [`Slot::complete`] / [`Slot::abandon`] did.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The transition happened; `notify_fd` says whether the caller must
    /// write the slot's eventfd (futex sleepers were already woken);
    /// `timed_out` whether the slot was DOOMED (rule 8): for `complete`, the
    /// worker must leave; for `abandon`, the cause became TIMED_OUT.
    Done { notify_fd: bool, timed_out: bool },
    /// The slot was no longer CLAIMED by that serial (rule 4): nothing done.
    Lost,
}

/// A finished slot, taken by [`Slot::try_collect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Collected {
    /// COMPLETE: the worker's outcome code (OK, PANICKED, TOO_LARGE, ...).
    Complete,
    /// ABANDONED: `cause` is an [`outcome`] code, `detail` its signal
    /// number or exit code.
    Abandoned { cause: u32, detail: u32 },
}

/// The serial field of an ABANDONED word: cause in bits 0..8, detail in
/// 8..24.
fn encode_cause(cause: u32, detail: u32) -> u32 {
    (cause & 0xff) | ((detail & 0xffff) << 8)
}

/// A coarse view of a slot for scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Free,
    Submitted,
    Claimed { serial: u32 },
    Finished,
    Collected,
}

#[inline]
fn state_of(word: u32) -> u32 {
    word & STATE_MASK
}

#[inline]
fn serial_of(word: u32) -> u32 {
    word >> SERIAL_SHIFT
}

impl Slot {
    /// A FREE slot in ordinary memory (the loom model; shared memory is
    /// zero-filled instead, rule 6).
    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Slot {
            state: AtomicU32::new(FREE),
            outcome: AtomicU32::new(0),
            entry: AtomicU64::new(0),
            task: AtomicU64::new(0),
            arg_len: AtomicU64::new(0),
            timeout_ns: AtomicU64::new(0),
            ticket: AtomicU64::new(0),
            claimed_at_ns: AtomicU64::new(0),
            result_offset: AtomicU64::new(0),
            result_len: AtomicU64::new(0),
            detail: AtomicU64::new(0),
            #[cfg(feature = "trace")]
            completed_at_ns: AtomicU64::new(0),
            #[cfg(feature = "trace")]
            worker_pid: AtomicU32::new(0),
            #[cfg(loom)]
            futex: futex::Emulated::new(),
        }
    }

    /// The slot's phase (Acquire: a caller that sees SUBMITTED may read the
    /// ticket the parent wrote before publishing, rule 2).
    pub(crate) fn phase(&self) -> Phase {
        let word = self.state.load(Acquire);
        match state_of(word) {
            FREE => Phase::Free,
            SUBMITTED => Phase::Submitted,
            CLAIMED => Phase::Claimed {
                serial: serial_of(word),
            },
            COMPLETE | ABANDONED => Phase::Finished,
            _ => Phase::Collected,
        }
    }

    /// Parent: FREE → SUBMITTED. The caller owns the FREE slot (rule 1) and
    /// has written the argument and the header fields.
    pub(crate) fn submit(&self) {
        debug_assert_eq!(state_of(self.state.load(Relaxed)), FREE);
        // Release: publishes the argument and header fields to the worker
        // whose claim (Acquire) takes the slot (rule 2). A store, not a CAS:
        // nobody else writes a FREE slot's word (rule 1).
        self.state.store(SUBMITTED, Release);
    }

    /// Worker `serial`: SUBMITTED → CLAIMED(serial). True if this worker
    /// now owns the slot (rule 3).
    pub(crate) fn try_claim(&self, serial: u32) -> bool {
        debug_assert!(serial != 0 && serial <= SERIAL_MASK);
        let mut current = self.state.load(Relaxed);
        loop {
            if state_of(current) != SUBMITTED {
                return false;
            }
            // Acquire on success: pairs with `submit`'s Release, so the
            // argument is visible (rule 2). A CAS (rule 3): a cancel or
            // another worker may win. The flags a waiting parent set stay,
            // so that `complete` sees them (rule 5); a flag set meanwhile
            // only makes us retry.
            match self.state.compare_exchange_weak(
                current,
                CLAIMED | (current & FLAGS) | (serial << SERIAL_SHIFT),
                Acquire,
                Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// Worker: note for the timeline (`trace`) when and by whom the task
    /// ran to its end, just before `complete` publishes it.
    #[cfg(feature = "trace")]
    pub(crate) fn stamp_completion(&self, completed_at_ns: u64, worker_pid: u32) {
        // Relaxed: the worker owns the fields while CLAIMED; `complete`'s
        // Release publishes them (rule 2).
        self.completed_at_ns.store(completed_at_ns, Relaxed);
        self.worker_pid.store(worker_pid, Relaxed);
    }

    /// Parent, after collecting a COMPLETE slot: record the task's span on
    /// its worker process's track, from the worker's own stamps.
    #[cfg(feature = "trace")]
    pub(crate) fn trace_completed_task(&self) {
        // Relaxed: after `try_collect`'s Acquire (rule 2).
        crate::tracepoint::process_task(
            self.worker_pid.load(Relaxed) as i32,
            self.claimed_at_ns.load(Relaxed),
            self.completed_at_ns.load(Relaxed),
            self.outcome.load(Relaxed),
        );
    }

    /// Worker `serial`: CLAIMED(serial) → COMPLETE, after writing the
    /// result and `outcome`/`result_len`/`detail` (rule 4).
    pub(crate) fn complete(&self, serial: u32) -> Finish {
        self.finish(serial, COMPLETE, serial, serial)
    }

    /// Supervisor: mark CLAIMED(serial) DOOMED because the task ran past its
    /// timeout (rule 8). True if this call marked it: only then may the
    /// caller have worker `serial` killed. False if the slot is no longer
    /// CLAIMED(serial) (the worker completed first) or is DOOMED already.
    pub(crate) fn doom(&self, serial: u32) -> bool {
        let mut current = self.state.load(Relaxed);
        loop {
            if state_of(current) != CLAIMED || serial_of(current) != serial || current & DOOMED != 0
            {
                return false;
            }
            // Relaxed: the mark publishes no data; what matters is its place
            // in the word's modification order relative to `complete`'s CAS
            // (rule 8), which any RMW gives.
            match self
                .state
                .compare_exchange_weak(current, current | DOOMED, Relaxed, Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// CLAIMED(serial) → `to` with `field` in the serial field (rule 4);
    /// `doomed_field` replaces `field` if the slot is DOOMED (rule 8).
    fn finish(&self, serial: u32, to: u32, field: u32, doomed_field: u32) -> Finish {
        let mut current = self.state.load(Relaxed);
        loop {
            if state_of(current) != CLAIMED || serial_of(current) != serial {
                return Finish::Lost;
            }
            let doomed = current & DOOMED != 0;
            let field = if doomed { doomed_field } else { field };
            // Release: publishes the result (or cause) to the parent's
            // Acquire in `try_collect` / `wait` (rule 2). A CAS, not a swap:
            // only CLAIMED(serial) may be finished (rule 4); the loop keeps
            // flags a waiter set meanwhile from failing us forever.
            match self.state.compare_exchange_weak(
                current,
                to | (field << SERIAL_SHIFT),
                Release,
                Relaxed,
            ) {
                Ok(old) => {
                    if old & WAITER != 0 {
                        self.wake_all();
                    }
                    return Finish::Done {
                        notify_fd: old & NOTIFY_FD != 0,
                        timed_out: doomed,
                    };
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Supervisor: CLAIMED(serial) → ABANDONED because worker `serial` died
    /// or must die (rule 4), with `cause` (an [`outcome`] code) and `detail`
    /// (a signal number or exit code) carried in the word itself.
    ///
    /// No header field is written, so this is safe even while the worker may
    /// still be alive (a timed-out worker being killed, workers orphaned by
    /// a dead zygote): if it completes first, our CAS fails, and if we win,
    /// its `complete` fails and it drops its result.
    pub(crate) fn abandon(&self, serial: u32, cause: u32, detail: u32) -> Finish {
        self.finish(
            serial,
            ABANDONED,
            encode_cause(cause, detail),
            encode_cause(outcome::TIMED_OUT, 0),
        )
    }

    /// Parent: SUBMITTED → ABANDONED with `cause` before any worker claimed
    /// it (the pool is closing or broken). `None` if a worker claimed it
    /// first (rule 3); else whether the slot's eventfd must be written.
    pub(crate) fn cancel(&self, cause: u32) -> Option<bool> {
        self.cancel_with(cause, 0)
    }

    /// [`cancel`](Self::cancel) with a `detail` (a signal number or exit
    /// code) carried in the word, as [`abandon`](Self::abandon) does: a
    /// spawned process that died before it claimed its task.
    pub(crate) fn cancel_with(&self, cause: u32, detail: u32) -> Option<bool> {
        let mut current = self.state.load(Relaxed);
        loop {
            if state_of(current) != SUBMITTED {
                return None;
            }
            // AcqRel on success: Acquire takes the slot back (rule 2),
            // Release hands it to the parent thread that collects it. A CAS
            // against a claim (rule 3).
            match self.state.compare_exchange_weak(
                current,
                ABANDONED | (encode_cause(cause, detail) << SERIAL_SHIFT),
                AcqRel,
                Relaxed,
            ) {
                Ok(old) => {
                    if old & WAITER != 0 {
                        self.wake_all();
                    }
                    return Some(old & NOTIFY_FD != 0);
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Parent: COMPLETE | ABANDONED → COLLECTED. `None` if not finished.
    pub(crate) fn try_collect(&self) -> Option<Collected> {
        let mut current = self.state.load(Relaxed);
        loop {
            let collected = match state_of(current) {
                COMPLETE => Collected::Complete,
                ABANDONED => {
                    let field = serial_of(current);
                    Collected::Abandoned {
                        cause: field & 0xff,
                        detail: field >> 8,
                    }
                }
                _ => return None,
            };
            // Acquire: pairs with the finisher's Release (rule 2), so the
            // result and the outcome fields are visible.
            match self.state.compare_exchange_weak(
                current,
                COLLECTED | (current & !STATE_MASK & !FLAGS),
                Acquire,
                Relaxed,
            ) {
                Ok(_) => return Some(collected),
                Err(actual) => current = actual,
            }
        }
    }

    /// Parent: COLLECTED → FREE (the last lease of the result is gone).
    pub(crate) fn release(&self) {
        debug_assert_eq!(state_of(self.state.load(Relaxed)), COLLECTED);
        // Release: our reads of the result happen before the next owner's
        // writes (the next submit is ours too, but on any thread).
        self.state.store(FREE, Release);
    }

    /// Whether the task is finished (COMPLETE or ABANDONED), Acquire.
    pub(crate) fn is_finished(&self) -> bool {
        matches!(state_of(self.state.load(Acquire)), COMPLETE | ABANDONED)
    }

    /// Parent: sleep until the task with `ticket` (any task if `None`) is
    /// finished or has left the slot, or `timeout` passes (rules 5, 9).
    /// True unless the timeout passed first.
    pub(crate) fn wait_task(
        &self,
        ticket: Option<u64>,
        timeout: Option<std::time::Duration>,
    ) -> bool {
        // Read the clock only once a sleep comes (a `map` lane's task is
        // usually finished within the spin).
        #[cfg(not(loom))]
        let mut deadline = None;
        #[cfg(loom)]
        let _ = timeout;
        // Acquire: pairs with the Release of whoever set this word (rule 2);
        // in particular a submit's, so that the ticket read below is the
        // one of the task the word belongs to, or a later one.
        let mut current = self.state.load(Acquire);
        // A task that ends within a moment is met by a spin, so its worker
        // finds no W to wake (doorbell rule 6 is the same idea).
        #[cfg(not(loom))]
        for _ in 0..super::doorbell::SPIN_ROUNDS {
            if !matches!(state_of(current), SUBMITTED | CLAIMED) {
                break;
            }
            crate::sync::spin_loop();
            // Acquire: as above.
            current = self.state.load(Acquire);
        }
        loop {
            match state_of(current) {
                COMPLETE | ABANDONED => return true,
                SUBMITTED | CLAIMED => {}
                // FREE / COLLECTED: the task left this slot (evicted, or
                // the caller is confused); nothing to wait for here.
                _ => return true,
            }
            // Rule 9. Relaxed: ordered by the Acquire load of the word.
            if ticket.is_some_and(|t| self.ticket.load(Relaxed) != t) {
                return true;
            }
            if current & WAITER == 0 {
                // Relaxed: the flag only asks for a wake-up; the Acquire
                // re-load after the futex gives the ordering.
                if self
                    .state
                    .compare_exchange_weak(current, current | WAITER, Relaxed, Relaxed)
                    .is_err()
                {
                    current = self.state.load(Acquire);
                    continue;
                }
                current |= WAITER;
            }
            #[cfg(not(loom))]
            {
                let now = std::time::Instant::now();
                let left = match timeout {
                    None => None,
                    Some(t) => match deadline.get_or_insert(now + t).checked_duration_since(now) {
                        Some(left) if !left.is_zero() => Some(left),
                        _ => return self.is_finished(),
                    },
                };
                let _ = crate::sys::futex::wait(&self.state, current, left);
            }
            #[cfg(loom)]
            self.futex.wait(&self.state, current);
            // Acquire: pairs with the finisher's Release (rule 2).
            current = self.state.load(Acquire);
        }
    }

    /// Ask for the slot's eventfd to be written when the task is done (rule
    /// 5). False if it is already done (or not in flight): then the caller
    /// must make the fd readable itself.
    pub(crate) fn arm_fd(&self) -> bool {
        let mut current = self.state.load(Relaxed);
        loop {
            if !matches!(state_of(current), SUBMITTED | CLAIMED) {
                return false;
            }
            if current & NOTIFY_FD != 0 {
                return true;
            }
            match self
                .state
                .compare_exchange_weak(current, current | NOTIFY_FD, Relaxed, Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    fn wake_all(&self) {
        #[cfg(not(loom))]
        let _ = crate::sys::futex::wake(&self.state, i32::MAX);
        #[cfg(loom)]
        self.futex.wake_all();
    }
}

/// Under loom the kernel's futex is emulated with the kernel's semantics: a
/// lock around "compare the word, then sleep" and around "wake", so a wake
/// that follows a change of the word cannot fall between a sleeper's
/// compare and its sleep.
#[cfg(loom)]
pub(crate) mod futex {
    use crate::sync::atomic::{AtomicU32, Ordering::Relaxed};
    use crate::sync::{Condvar, Mutex};

    pub(crate) struct Emulated {
        lock: Mutex<()>,
        condvar: Condvar,
    }

    impl Emulated {
        pub(crate) fn new() -> Self {
            Emulated {
                lock: Mutex::new(()),
                condvar: Condvar::new(),
            }
        }

        /// FUTEX_WAIT: sleep while `*word == expected`.
        pub(crate) fn wait(&self, word: &AtomicU32, expected: u32) {
            let guard = crate::sync::lock(&self.lock);
            if word.load(Relaxed) == expected {
                drop(crate::sync::wait(&self.condvar, guard));
            }
        }

        /// FUTEX_WAKE (all).
        pub(crate) fn wake_all(&self) {
            drop(crate::sync::lock(&self.lock));
            self.condvar.notify_all();
        }
    }
}
