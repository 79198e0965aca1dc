//! Life after fork: what a worker does, and what it may touch.
//!
//! A worker is forked by the zygote (single-threaded, zygote rule Z1), so
//! it starts with one thread and no lock held: it may allocate, lock and
//! print. It runs only code that existed in the binary when it was forked:
//! a task is a function pointer (as an offset, zygote rule Z3) plus bytes.
//!
//! ```text
//!   start: death signal + getppid check, name, signals, close the
//!          zygote's fds, pin, RLIMIT_AS, initializer (its argument
//!          decoded from the region, shm.rs rule 5; under a SIGKILL timer
//!          if it has a timeout, deleted once it returns: zygote rule Z8)
//!   loop:  seen = work doorbell
//!          shutdown flag?          ──► exit(0)
//!          claim the SUBMITTED slot with the lowest ticket (slot.rs)
//!            ├─ got one: run it, complete, ring `done`;
//!            │           timed out or abandoned? ──► exit(0)
//!            │           max tasks reached?      ──► exit(0)
//!            └─ none:    sleep on the work doorbell (seen); the
//!                        first idle worker spins first (doorbell rule 7)
//!
//!   one-shot (a spawner's process, `spawn.rs`):
//!          claim the slot it was forked for, run it, complete ──► exit(0)
//! ```
//!
//! Rules:
//!
//! * **W1.** The worker touches a slot's data area only between its
//!   successful claim and its complete (slot rule 1); it never touches the
//!   parent's memory (there is none in its address space that matters: the
//!   parent's heap after a direct fork is a stale copy).
//! * **W2.** A panic in a task is caught and becomes the task's outcome; the
//!   worker lives on. An abort, a signal or `exit` ends the worker; the
//!   zygote reaps it and the supervisor gives the task the cause.
//! * **W3.** A worker leaves on its own only while it holds no claim (after
//!   a complete, or idle), so a voluntary exit never abandons a task. It
//!   leaves at once, without claiming again, when its `complete` says the
//!   task was marked DOOMED (a kill is on its way, slot rule 8) or was
//!   abandoned (the pool is cancelling or broken): the kill must find it
//!   holding no other task.
//! * **W4.** Output is flushed after every task and before every exit: the
//!   worker ends with `_exit`, which flushes nothing.
//! * **W5.** A one-shot worker claims only the slot it was forked for, and
//!   only once: if the claim fails (the task was cancelled meanwhile) it
//!   exits without running anything. It never looks at the shutdown flag:
//!   the parent sets it only once no task is in flight.
//! * **W6.** The worker that got the spinner's place (doorbell rule 7)
//!   keeps it while it runs the tasks it found, as long as they are short
//!   (the previous one ran less than [`PASS_ON_AFTER_NS`]): it looks again
//!   after each, so rings for one task need wake nobody meanwhile, and a
//!   `map` of tiny tasks (`x -> 2x`) runs on one awake worker with no
//!   system call, instead of waking the other for each batch (a wake-up
//!   costs the parent a syscall and a CPU for longer than the batch
//!   takes). Before a task that follows a long one it gives the place
//!   back and rings for one task if it held the place and, looking again
//!   after the give-back's fence, sees a SUBMITTED slot (a ring skipped
//!   while it held the place may be for a task published after its claim;
//!   it would wait for the whole long task otherwise), or if it had been
//!   idle and saw other SUBMITTED slots when it claimed: a burst of long
//!   tasks must be shared. A worker gives the place back before it leaves.
//! * **W7.** Only the worker comes back out of a task or the initializer.
//!   A process that user code forks inside one and that returns or unwinds
//!   out of it (the copy a task forgot to end) would otherwise write the
//!   task's outcome over the worker's and go on claiming tasks as a worker
//!   that no zygote knows, supervises or reaps. So the user's function
//!   runs inside [`in_the_worker_only`]: a process whose fork generation
//!   (`sys/fork.rs`, its handler installed at the worker's start) is not
//!   the one the call began in `_exit`s there, before the result is
//!   encoded into the slot, touching nothing of the pool.

use std::io::Write;
use std::os::fd::{BorrowedFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::codec::{Entry, InitEntry};
use super::shm::Region;
use super::slot::{outcome, Finish, Phase};
use super::zygote::{code_ptr, from_offset};
use crate::sync::atomic::Ordering::*;
use crate::sys::process as sys;

/// A task that ran at least this long makes its worker give the spinner's
/// place back and pass rings on (rule W6): the tasks left waiting would
/// wait longer for this worker than a sleeping one takes to wake (tens of
/// µs at most).
const PASS_ON_AFTER_NS: u64 = 20_000;

/// Exit code of a worker whose start failed on its own account (zygote
/// rule Z8): its initializer panicked, its argument did not decode, or the
/// address-space limit or the initializer's timer could not be set.
pub(crate) const INIT_FAILED: i32 = 125;

/// What the zygote hands a new worker.
pub(crate) struct Start<'a> {
    pub(crate) region: &'a Region,
    pub(crate) index: usize,
    pub(crate) serial: u32,
    pub(crate) zygote: i32,
    /// The zygote's descriptors, to close.
    pub(crate) close: &'a [RawFd],
    /// The slots' eventfds, in slot order.
    pub(crate) events: &'a [RawFd],
    /// The group signals' actions before the zygote ignored them (zygote
    /// rule Z9), to give back.
    pub(crate) group_signals: &'a sys::GroupSignals,
}

/// Run a worker; never returns.
pub(crate) fn run(start: Start<'_>) -> ! {
    let code = catch_unwind(AssertUnwindSafe(|| serve(&start))).unwrap_or(126);
    flush();
    sys::exit_now(code)
}

fn flush() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

fn serve(start: &Start<'_>) -> i32 {
    let header = start.region.header();
    // Zygote rule Z2.
    if crate::sys::prctl::set_parent_death_signal(libc::SIGKILL).is_err()
        || sys::getppid() != start.zygote
    {
        return 0;
    }
    let one_shot = header.config.one_shot != 0;
    let name = if one_shot {
        format!("triad-spawn{}", start.index)
    } else {
        format!("triad-w{}", start.index)
    };
    if let Ok(name) = std::ffi::CString::new(name) {
        let _ = crate::sys::prctl::set_name(&name);
    }
    // Zygote rule Z9: a task takes Ctrl-C or SIGTERM as the program would.
    // The actions first, then the mask: one of these signals sent since the
    // fork waited, blocked, and now meets the program's action.
    let _ = sys::restore_group_signals(start.group_signals);
    let _ = sys::reset_signals_for_worker();
    for &fd in start.close {
        // SAFETY: the zygote's pipes, signalfd and memfd, owned by objects
        // of the zygote's that this forked copy never uses or drops: the
        // worker runs only `serve` and ends with `_exit` (rule W4); the
        // region stays mapped without its descriptor.
        unsafe { sys::close_raw(fd) };
    }
    // Rule W7: the generation tells a copy forked by a task.
    if crate::sys::fork::install_fork_handler().is_err() {
        header.init_failures.fetch_add(1, Relaxed);
        return INIT_FAILED;
    }
    let config = header.config;
    if config.pin != 0 {
        if let Ok(cpus) = sys::allowed_cpus() {
            if !cpus.is_empty() {
                let _ = sys::pin_to_cpu(cpus[start.index % cpus.len()]);
            }
        }
    }
    if config.memory_limit != 0 && sys::limit_address_space(config.memory_limit).is_err() {
        header.init_failures.fetch_add(1, Relaxed);
        return INIT_FAILED;
    }
    if config.has_init != 0 {
        // Zygote rule Z8: an initializer past its time dies unstarted. (A
        // worker that cannot arm the timer fails its start too: it would
        // break the promise that no start hangs.)
        let _deadline = match config.init_timeout_ns {
            0 => None,
            ns => match sys::kill_self_after(std::time::Duration::from_nanos(ns)) {
                Ok(timer) => Some(timer),
                Err(_) => {
                    header.init_failures.fetch_add(1, Relaxed);
                    return INIT_FAILED;
                }
            },
        };
        let init = from_offset(config.init_offset);
        let entry = from_offset(config.init_entry_offset);
        // SAFETY: the parent stored the offset of an `InitEntry` of this
        // binary, paired with the initializer's type
        // (`ProcessPoolBuilder::initializer` / `initializer_with`), mapped
        // back by rule Z3.
        let entry = unsafe { std::mem::transmute::<*const (), InitEntry>(code_ptr(entry)) };
        let arg = start.region.init_arg();
        let outcome = catch_unwind(|| in_the_worker_only(|| entry(init, arg)));
        if let Ok(Err(error)) = &outcome {
            // A panic has printed its message already; say this one too.
            let _ = writeln!(
                std::io::stderr(),
                "triad: worker initializer's argument: {error}"
            );
        }
        if !matches!(outcome, Ok(Ok(()))) {
            flush();
            header.init_failures.fetch_add(1, Relaxed);
            return INIT_FAILED;
        }
    }
    // Zygote rule Z8: a death from here on is not a failure to start.
    header.set_started(start.index);
    if one_shot {
        // Rule W5.
        if start.region.slot(start.index).try_claim(start.serial) {
            run_task(start, start.index, sys::monotonic_ns());
        }
        return 0;
    }
    let code = serve_slots(start);
    // Doorbell rule 7: a worker leaving holds no spinner's place.
    header.work.give_back_spinner(start.serial);
    code
}

/// The worker's loop over the slots (see the module docs); returns the
/// exit code.
fn serve_slots(start: &Start<'_>) -> i32 {
    let header = start.region.header();
    let config = header.config;
    let mut done = 0u64;
    // Whether the last look found nothing (the worker slept since).
    let mut was_idle = false;
    // How long the last task ran (rule W6); none yet counts as long.
    let mut last_task_ns = u64::MAX;
    loop {
        // Doorbell rule 1: `seen` before the look, and the shutdown flag is
        // part of the look: a flag set (and rung) after `seen` makes the
        // sleep below return at once. (Read the other way round, a flag
        // and ring between the two reads would be slept through.)
        let seen = header.work.seen();
        // Acquire: pairs with the parent's Release store of the flag, which
        // it makes after the last submit it will ever make.
        if header.shutdown.load(Acquire) != 0 {
            return 0;
        }
        match claim_next(start.region, start.serial) {
            Some((index, others_waiting)) => {
                // Rule W6: a long task is not run holding the spinner's
                // place, and others waiting get a ring of their own.
                if last_task_ns >= PASS_ON_AFTER_NS {
                    // A ring skipped while we held the place may be for a
                    // task published after our look: look again after the
                    // give-back's fence (doorbell rule 7).
                    let held = header.work.give_back_spinner(start.serial);
                    if (was_idle && others_waiting) || (held && any_submitted(start.region)) {
                        header.work.ring(true);
                    }
                }
                was_idle = false;
                let claimed_at = sys::monotonic_ns();
                let keep_going = run_task(start, index, claimed_at);
                last_task_ns = sys::monotonic_ns().saturating_sub(claimed_at);
                done += 1;
                // Rule W3: no claim is held here.
                if !keep_going || (config.max_tasks != 0 && done >= config.max_tasks) {
                    return 0;
                }
            }
            None => {
                was_idle = true;
                // Returns holding the spinner's place if it got it and
                // work came while it spun (doorbell rule 7).
                header.work.sleep(seen, None, Some(start.serial));
            }
        }
    }
}

/// Whether any slot is SUBMITTED.
fn any_submitted(region: &Region) -> bool {
    (0..region.slots()).any(|index| region.slot(index).phase() == Phase::Submitted)
}

/// Claim the SUBMITTED slot with the lowest ticket; `None` if there is none.
/// With it, whether other slots were SUBMITTED when it looked.
fn claim_next(region: &Region, serial: u32) -> Option<(usize, bool)> {
    loop {
        let mut best: Option<(u64, usize)> = None;
        let mut submitted = 0usize;
        for index in 0..region.slots() {
            let slot = region.slot(index);
            if slot.phase() == Phase::Submitted {
                submitted += 1;
                // Relaxed: `phase` was an Acquire load of the word the
                // parent published with Release after writing the ticket.
                let ticket = slot.ticket.load(Relaxed);
                if best.is_none_or(|(t, _)| ticket < t) {
                    best = Some((ticket, index));
                }
            }
        }
        let (_, index) = best?;
        if region.slot(index).try_claim(serial) {
            return Some((index, submitted > 1));
        }
        // Another worker (or a cancel) won: look again.
    }
}

/// Run the task in claimed slot `index` and complete it. False if the
/// worker must leave now (rule W3).
fn run_task(start: &Start<'_>, index: usize, claimed_at: u64) -> bool {
    let region = start.region;
    let slot = region.slot(index);
    // Relaxed: read by the supervisor for timeouts only (slot docs).
    slot.claimed_at_ns.store(claimed_at, Relaxed);
    // Relaxed: published by the submit's Release, taken by our claim's
    // Acquire (slot rule 2).
    let entry = from_offset(slot.entry.load(Relaxed));
    let task = from_offset(slot.task.load(Relaxed));
    let arg_len = slot.arg_len.load(Relaxed) as usize;
    // SAFETY: `entry` is the offset of an `Entry` of this binary (written by
    // `ProcessPool::submit` from `entry_for` / `chunk_entry_for`), mapped
    // back by rule Z3.
    let entry = unsafe { std::mem::transmute::<*const (), Entry>(code_ptr(entry)) };
    // SAFETY: we claimed the slot (rule W1 / slot rule 1): its data area is
    // ours until `complete`, and this is the only reference to it.
    let buf = unsafe { region.data_mut(index) };
    let capacity = buf.len();
    let arg_len = arg_len.min(capacity);
    let (code, head, len, detail) = match catch_unwind(AssertUnwindSafe(|| {
        entry(task, buf, arg_len)
    })) {
        Ok(Ok(encoded)) if encoded.end() <= capacity => (outcome::OK, encoded.head, encoded.len, 0),
        Ok(Ok(needed)) => (outcome::TOO_LARGE, 0, 0, needed.end() as u64),
        Ok(Err(error)) => (
            outcome::BAD_ARGUMENT,
            0,
            write_message(buf, &error.to_string()),
            0,
        ),
        Err(payload) => {
            let message = panic_message(&*payload);
            (outcome::PANICKED, 0, write_message(buf, &message), 0)
        }
    };
    flush();
    slot.outcome.store(code, Relaxed);
    slot.result_offset.store(head as u64, Relaxed);
    slot.result_len.store(len as u64, Relaxed);
    slot.detail.store(detail, Relaxed);
    #[cfg(feature = "trace")]
    slot.stamp_completion(sys::monotonic_ns(), std::process::id());
    let keep_going = match slot.complete(start.serial) {
        Finish::Done {
            notify_fd,
            timed_out,
        } => {
            if notify_fd {
                if let Some(&fd) = start.events.get(index) {
                    // SAFETY: the slot eventfds stay open for the worker's
                    // whole life (inherited from the zygote, never closed).
                    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
                    let _ = crate::sys::eventfd::notify(fd);
                }
            }
            // Rule W3: a kill for the timeout is on its way.
            !timed_out
        }
        // Abandoned meanwhile (cancelled, or the pool is broken): drop the
        // result and leave (rule W3).
        Finish::Lost => false,
    };
    region.header().done.ring(false);
    keep_going
}

/// Rule W7: run `f` (the user's function of a task or of the
/// initializer); a process forked inside it that comes back out, by a
/// return or an unwind, ends there.
pub(crate) fn in_the_worker_only<T>(f: impl FnOnce() -> T) -> T {
    struct LeaveIfForked(u64);
    impl Drop for LeaveIfForked {
        fn drop(&mut self) {
            if crate::sys::fork::generation() != self.0 {
                sys::exit_now(0);
            }
        }
    }
    let _leave = LeaveIfForked(crate::sys::fork::generation());
    f()
}

fn write_message(buf: &mut [u8], message: &str) -> usize {
    let n = message.len().min(buf.len());
    buf[..n].copy_from_slice(&message.as_bytes()[..n]);
    n
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic payload that is not a string)".to_owned()
    }
}
