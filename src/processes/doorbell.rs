//! Doorbells: "something changed, look again", across processes.
//!
//! Two live in the shared header: `work` (rung by the parent when it
//! submits a task; workers sleep on it when no slot is SUBMITTED) and
//! `done` (rung when a task finishes or a slot is freed; parent threads
//! waiting for a free slot or for any result sleep on it).
//!
//! ```text
//!   seq:      a counter, bumped by every ring; also the futex word
//!   sleepers: how many are (about to be) asleep on seq
//!   spinner:  the serial of the one worker watching seq before it
//!             sleeps (rule 7), 0 if none
//!
//!   ringer:  seq += 1 ; fence(SeqCst) ;
//!            if sleepers > 0 and (a ring for all, or spinner == 0) { futex_wake(seq) }
//!   sleeper: seen = seq          (before looking for what it waits for)
//!            ... look, find nothing ...
//!            [a worker: spinner = me if it was 0]  watch seq a moment
//!            sleepers += 1 ; [spinner = 0 if it was me] ;
//!            fence(SeqCst) ; futex_wait(seq, seen) ; sleepers -= 1
//! ```
//!
//! | sleeper's step | counted in | a ring for one task meanwhile |
//! |---|---|---|
//! | looking (between `seen` and `sleep`) | nothing | is seen by the sleep's first check of seq |
//! | registered spinner (worker), also while it runs the short tasks it found | `spinner` | makes no syscall: the spinner sees seq move, or looks after its task |
//! | unregistered spin (parent thread, or a second worker: none) | nothing | (parent: rings are for all) |
//! | asleep | `sleepers` | wakes one sleeper, unless a spinner is registered |
//!
//! Rules:
//!
//! 1. A sleeper reads `seq` *before* it looks for what it waits for, and
//!    sleeps only while `seq` still holds that value: a ring between the
//!    look and the sleep changes `seq`, and the futex returns at once.
//! 2. The ringer skips the wake syscall when nobody sleeps. The two SeqCst
//!    fences make that safe (Dekker): of "ringer bumps seq, then reads
//!    sleepers" and "sleeper bumps sleepers, then reads seq" at least one
//!    sees the other's write, so either the sleeper sees the new `seq` or
//!    the ringer sees the sleeper and wakes it.
//! 3. Sleeps may end spuriously; every caller loops on its own condition.
//! 4. Zero-filled memory is a valid doorbell (shared mapping, slot rule 6).
//! 5. `sleepers` may over-count, never under-count: a process killed while
//!    asleep (a worker SIGKILLed from outside, or at `shutdown_now`) never
//!    takes itself off. The cost is bounded and harmless: the ringer then
//!    makes a `futex_wake` syscall that finds nobody (the kernel knows who
//!    really waits, so no wake-up goes to a dead process or gets lost). It
//!    is a speed hint, not a correctness counter; the next pool starts at 0.
//! 6. A sleeper spins for [`SPIN_ROUNDS`] rounds (about 5 µs on this
//!    project's machine, where one spin hint takes ~24 ns) before it counts
//!    itself in `sleepers`. Work that comes within that
//!    moment (the next task of a `map`, a result the parent is about to
//!    collect) then costs neither side a system call: the ringer sees no
//!    sleeper and skips the wake. It is bounded, so an idle pool still
//!    sleeps at once for all practical purposes. (Not under loom: a spin is
//!    only a shortcut to the same states; loom checks seq once instead.)
//! 7. **One registered spinner.** Workers sleeping on the `work` doorbell
//!    give their serial: the first one to find `spinner` at 0 takes it (a
//!    CAS) and spins; any other worker sleeps at once, so at most one
//!    worker burns a CPU waiting (on a machine with as many workers as
//!    cores the parent needs one too). A ring for one task
//!    ([`ring`](Doorbell::ring) with `one`) skips the wake syscall while a
//!    spinner is registered: the spinner sees `seq` move and looks. A
//!    spinner that found work keeps the place while it runs short tasks
//!    (worker rule W6): it looks again after each, which is all a skipped
//!    ring needs. It gives the place back (a CAS from its serial) before a
//!    long task, before it leaves, and, when it goes to sleep, *before*
//!    its fence of rule 2, so the Dekker argument covers it as it covers
//!    `sleepers`: either the ringer sees `spinner` at 0 (and the sleeper
//!    in `sleepers`) and wakes it, or the spinner's futex sees the new
//!    `seq`. Before a long task the holder gives the place back, fences
//!    and looks for SUBMITTED slots, ringing if it sees one: a ring that
//!    saw the place still held is for a task that look sees (the same
//!    Dekker pair of fences). A worker that dies registered would leave the place taken for
//!    good, and every later ring for one task would skip its wake: the
//!    supervisor, told of every death, frees the place of a dead serial
//!    and rings ([`forget_spinner`](Doorbell::forget_spinner)). A spinner
//!    that takes a task while others are waiting passes the ring on
//!    (worker rule W6), so the tasks whose rings it absorbed do not wait
//!    for it alone.
//!
//! The loom model `loom-tests/processes_slot.rs` checks rules 1, 2 and 7
//! (`work_doorbell_wakes_an_idle_worker`,
//! `a_dead_spinner_is_forgotten`).

use crate::sync::atomic::{fence, AtomicU32, Ordering::*};

/// How many times a sleeper looks at `seq` before it sleeps (rule 6); also
/// the parent's spin before it sleeps on a slot (slot rule 5).
pub(crate) const SPIN_ROUNDS: u32 = 200;

/// A process-shared "look again" signal. `#[repr(C)]`: lives in the shared
/// header.
#[repr(C)]
pub(crate) struct Doorbell {
    seq: AtomicU32,
    sleepers: AtomicU32,
    /// The registered spinner's serial, 0 if none (rule 7).
    spinner: AtomicU32,
    #[cfg(loom)]
    futex: super::slot::futex::Emulated,
}

impl Doorbell {
    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Doorbell {
            seq: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
            spinner: AtomicU32::new(0),
            #[cfg(loom)]
            futex: super::slot::futex::Emulated::new(),
        }
    }

    /// The value to pass to [`Doorbell::sleep`]; read it before looking
    /// (rule 1). Acquire: pairs with the ringer's Release bump, so whatever
    /// it did before ringing is visible to the look that follows.
    pub(crate) fn seen(&self) -> u32 {
        self.seq.load(Acquire)
    }

    /// Ring: wake sleepers if there are any. `one`: the ring is for one new
    /// task, which any sleeper may take: wake one, and none while a spinner
    /// is registered (rule 7). Else wake all.
    pub(crate) fn ring(&self, one: bool) {
        // Release: publishes what we did before ringing (rule 1's Acquire).
        self.seq.fetch_add(1, Release);
        // Rules 2 and 7: pairs with the fence in `sleep`.
        fence(SeqCst);
        if self.sleepers.load(Relaxed) == 0 || (one && self.spinner.load(Relaxed) != 0) {
            return;
        }
        #[cfg(not(loom))]
        let _ = crate::sys::futex::wake(&self.seq, if one { 1 } else { i32::MAX });
        #[cfg(loom)]
        self.futex.wake_all();
    }

    /// Loom models: take the spinner's place as worker `serial` would in
    /// `sleep`, to model a worker that dies there (rule 7).
    #[cfg(loom)]
    pub(crate) fn register_spinner(&self, serial: u32) -> bool {
        self.spinner
            .compare_exchange(0, serial, Relaxed, Relaxed)
            .is_ok()
    }

    /// Worker `serial`: give the spinner's place back if it holds it
    /// (before a long task, or when it leaves: rule 7, worker rule W6).
    /// True if it held it.
    pub(crate) fn give_back_spinner(&self, serial: u32) -> bool {
        // Relaxed, then the fence: pairs with the ringer's fence (rule 2's
        // Dekker argument): a ring that still saw us registered was for a
        // task our look after this fence sees (worker rule W6).
        let held = self.release_spinner(serial);
        if held {
            fence(SeqCst);
        }
        held
    }

    /// Supervisor: worker `serial` is dead. If it was the registered
    /// spinner, free the place and ring for the tasks whose rings it
    /// absorbed (rule 7).
    pub(crate) fn forget_spinner(&self, serial: u32) {
        // Relaxed: the ring's own fence orders what follows.
        if self.release_spinner(serial) {
            self.ring(true);
        }
    }

    /// Free the spinner's place if `serial` holds it (a CAS, so that only
    /// the holder frees it: rule 7 is a one-owner rule); true if it did.
    /// Relaxed: each caller orders it with the fence that follows.
    fn release_spinner(&self, serial: u32) -> bool {
        self.spinner
            .compare_exchange(serial, 0, Relaxed, Relaxed)
            .is_ok()
    }

    /// Sleep until a ring after `seen` (or `timeout`, or spuriously).
    /// `worker`: the sleeper's serial if it is a worker on the `work`
    /// doorbell (rule 7), `None` for a parent thread.
    ///
    /// Rule 6: first spin for a moment, watching `seq`; a ring in that
    /// moment ends the wait with no system call on either side.
    pub(crate) fn sleep(
        &self,
        seen: u32,
        timeout: Option<std::time::Duration>,
        worker: Option<u32>,
    ) {
        // Rule 7: a worker spins only if it is the registered spinner.
        // Relaxed: the place is only a hint to ringers until the fence below.
        // A worker may hold the place already (it kept it through the
        // tasks it found, worker rule W6).
        let registered = worker.filter(|&serial| {
            match self.spinner.compare_exchange(0, serial, Relaxed, Relaxed) {
                Ok(_) => true,
                Err(holder) => holder == serial,
            }
        });
        if worker.is_none() || registered.is_some() {
            #[cfg(not(loom))]
            let rounds = SPIN_ROUNDS;
            // Under loom one look stands for the spin (rule 6).
            #[cfg(loom)]
            let rounds = 1;
            for _ in 0..rounds {
                // Relaxed: a hint only; the caller's next `seen` (Acquire)
                // gives the ordering (rule 1).
                if self.seq.load(Relaxed) != seen {
                    // A worker keeps the place: it looks again now, and
                    // after each task it takes (rule 7, worker rule W6).
                    return;
                }
                #[cfg(not(loom))]
                crate::sync::spin_loop();
            }
        }
        self.sleepers.fetch_add(1, Relaxed);
        // Rule 7: given back before the fence, so that rule 2 covers it.
        if let Some(serial) = registered {
            self.release_spinner(serial);
        }
        // Rules 2 and 7: pairs with the fence in `ring`.
        fence(SeqCst);
        #[cfg(not(loom))]
        let _ = crate::sys::futex::wait(&self.seq, seen, timeout);
        #[cfg(loom)]
        {
            let _ = timeout;
            self.futex.wait(&self.seq, seen);
        }
        self.sleepers.fetch_sub(1, Relaxed);
    }
}
