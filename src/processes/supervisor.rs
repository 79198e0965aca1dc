//! The supervisor: one thread of the parent that turns the zygote's reports
//! into task outcomes, enforces timeouts and wakes awaiting tasks.
//!
//! ```text
//!   poll ─┬─ report pipe ── SPAWNED: record the worker
//!         │                 EXITED:  abandon the slot it had claimed, with
//!         │                          the cause (signal, exit code, timeout,
//!         │                          cancelled); the zygote already
//!         │                          respawned it
//!         │                          (a spawner's process, `spawn.rs`:
//!         │                          also cancel its task if it never
//!         │                          claimed it, and relay the slot:
//!         │                          its exit is the completion signal)
//!         │                 GAVE_UP: no worker left? the pool is broken
//!         │                          (a spawner: that one task fails)
//!         │                 EOF:     the zygote is gone: reap it, abandon
//!         │                          or cancel every task in flight, leave
//!         ├─ wake eventfd ── a new waker or completion fd, a timed submit,
//!         │                  shutdown
//!         ├─ slot eventfds ─ (slots with a waker or a completion fd) wake
//!         │                  the waker, notify the handle's fd (pool P6)
//!         └─ timeout ─────── a claimed task ran past its timeout: mark it
//!                            DOOMED, then KILL its worker
//! ```
//!
//! Rules:
//!
//! * **S1. One outcome per task.** A task whose worker died gets exactly
//!   one error, by a CAS from CLAIMED(serial) that fails if the worker
//!   completed first (slot rule 4). Tasks never claimed get theirs by a
//!   cancel CAS that fails if a worker claimed first (slot rule 3). When the
//!   zygote is gone every slot still SUBMITTED or CLAIMED gets one, so no
//!   waiter hangs.
//! * **S2. Mark, kill, then abandon.** A task past its timeout is first
//!   marked DOOMED by a CAS (slot rule 8); only if that succeeds is its
//!   worker killed, through the zygote (which alone may signal it: it has
//!   not reaped it, so the pid cannot have been reused). The task is
//!   abandoned when the death is reported, as TIMED_OUT. If it completed
//!   in between, its result stands and its worker exits on its own without
//!   claiming another task, so the kill can never hit a task that did not
//!   time out. The worker is dead before its slot can be reused: a slot is
//!   never handed back while a worker may still write it.
//! * **S3. No busy idling.** With no timed task in flight and no waker the
//!   supervisor sleeps in `poll` without a timeout. A timed submit wakes it
//!   if it sleeps so (`supervisor_idle`, a Dekker pair of SeqCst fences
//!   with `submit_raw`).
//! * **S4. Reaping.** The supervisor reaps the zygote (zygote rule Z5), by
//!   `Child::wait` (exec) or `waitpid` (fork), before it leaves.
//! * **S5. The supervisor does not die quietly.** A waker that panics is
//!   contained (pool `wake_all`); should the supervisor itself panic, it
//!   kills and reaps the zygote and gives every task in flight an outcome
//!   (the pool is then broken) before the thread ends.
//! * **S6. `build` does not wait for the workers.** It returns once the
//!   zygote said HELLO (exec mode: the exec may fail; a forked zygote
//!   exists already, and `build` returns at once, without waiting for
//!   the supervisor thread to be scheduled); the HELLO of a forked
//!   zygote and the first workers' SPAWNED reports are taken by the
//!   supervisor meanwhile, so that the parent's first submit overlaps their
//!   forks (a task waits in its slot for the first worker that is up:
//!   nothing in the slot protocol needs a worker to exist). What observes
//!   the workers (`worker_pids`, `stats`) waits until the first ones are
//!   known (`first_workers_known`, or the pool broken), so it still sees
//!   every worker up, as if `build` had waited. A zygote that dies before
//!   its HELLO (fork mode) or while forking them breaks the pool (every
//!   task gets an error) instead of failing `build`.
//! * **S7. A claim is noticed within one timeout.** A worker does not tell
//!   the supervisor when it claims a task: the supervisor learns the claim
//!   (and its `claimed_at`) at its next look. So while a timed task waits
//!   SUBMITTED, it looks again after that task's timeout, or 5 ms if that is
//!   shorter (1 ms and the timeout while a claim's time is not visible
//!   yet). A task claimed at `c` with timeout `t` is then seen by `c + t`,
//!   and killed at its deadline, late only by `poll`'s rounding up to
//!   whole milliseconds and the scheduler; with a flat 5 ms between looks
//!   a 1 ms task timeout could be noticed 5 ms late, and a task of a few
//!   ms finish despite it.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Child;
use std::time::Duration;

use super::error::BuildError;
use super::pool::{wake_all, Registry, Shared};
use super::slot::{outcome, Finish, Phase, Slot};
use super::zygote::{self, Command, Report, ZygoteFds};
use crate::sync::atomic::{fence, Ordering::*};
use crate::sync::{thread, Arc, Condvar, Mutex};
use crate::sys::process::{self as sys, ExitStatus};

/// How long the zygote has to say HELLO.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// How the zygote comes to be.
pub(crate) enum ZygoteStart {
    /// Already forked by `build` (the parent was single-threaded).
    Forked(i32),
    /// To be exec'd by the supervisor thread itself (zygote rule Z2: the
    /// death signal follows the thread that started it).
    Exec(ZygoteFds),
}

enum ZygoteProc {
    /// Forked by `build`; `None` once reaped (its pid may be reused then).
    Pid(Option<i32>),
    Child(Child),
}

impl ZygoteProc {
    /// Rule S4. Idempotent.
    fn reap(&mut self) {
        match self {
            ZygoteProc::Pid(pid) => {
                if let Some(p) = pid.take() {
                    let _ = sys::waitpid(p, false);
                }
            }
            ZygoteProc::Child(child) => {
                let _ = child.wait();
            }
        }
    }

    /// Kill (if not reaped yet: the pid is still its own) and reap.
    fn kill_and_reap(&mut self) {
        match self {
            ZygoteProc::Pid(Some(pid)) => {
                let _ = sys::kill(*pid, libc::SIGKILL);
            }
            ZygoteProc::Pid(None) => {}
            // std signals only a child it has not reaped.
            ZygoteProc::Child(child) => {
                let _ = child.kill();
            }
        }
        self.reap();
    }
}

type Handoff = Arc<(Mutex<Option<Result<(), BuildError>>>, Condvar)>;

fn hand(handoff: &Handoff, result: Result<(), BuildError>) {
    let mut slot = crate::sync::lock(&handoff.0);
    if slot.is_none() {
        *slot = Some(result);
    }
    drop(slot);
    handoff.1.notify_all();
}

/// Answers `build` even if the supervisor thread panics before it did, so
/// that `build` never waits for ever (rule S5).
struct HandOnDrop(Handoff);

impl Drop for HandOnDrop {
    fn drop(&mut self) {
        hand(
            &self.0,
            Err(BuildError::zygote_failed("the supervisor thread panicked")),
        );
    }
}

/// Start the supervisor thread; it starts (exec) or adopts (fork) the
/// zygote. Returns once an exec'd zygote said HELLO; for a forked one, as
/// soon as the thread is spawned, before it runs (rule S6).
pub(crate) fn start(
    shared: Arc<Shared>,
    reports: File,
    start: ZygoteStart,
) -> Result<thread::JoinHandle<()>, BuildError> {
    let handoff: Handoff = Arc::new((Mutex::new(None), Condvar::new()));
    let forked = match start {
        ZygoteStart::Forked(pid) => Some(pid),
        ZygoteStart::Exec(_) => None,
    };
    let spawned = thread::Builder::new()
        .name("triad-supervisor".into())
        .spawn({
            let handoff = handoff.clone();
            move || {
                let _answer = HandOnDrop(handoff.clone());
                let zygote = match start {
                    ZygoteStart::Forked(pid) => ZygoteProc::Pid(Some(pid)),
                    ZygoteStart::Exec(fds) => match zygote::exec_zygote(&shared.region, &fds) {
                        // Dropping `fds` closes the zygote's ends here.
                        Ok(child) => ZygoteProc::Child(child),
                        Err(e) => {
                            return hand(&handoff, Err(BuildError::io("start the zygote", e)))
                        }
                    },
                };
                let mut supervisor = Supervisor {
                    shared,
                    reports,
                    zygote,
                    goodbye: false,
                    said_hello: false,
                };
                if forked.is_some() {
                    // Rule S6: a forked zygote exists already and `start`
                    // did not wait for this thread; its HELLO is taken in
                    // `run`, and a failure there breaks the pool.
                    return supervisor.run_contained();
                }
                match supervisor.hello() {
                    Ok(()) => {
                        hand(&handoff, Ok(()));
                        supervisor.run_contained();
                    }
                    Err(e) => {
                        supervisor.zygote.kill_and_reap();
                        hand(&handoff, Err(e));
                    }
                }
            }
        });
    let thread = match spawned {
        Ok(thread) => thread,
        Err(e) => {
            // The forked zygote was never adopted: kill and reap it here
            // (rule S4). Not reaped yet, so the pid is still its own.
            if let Some(pid) = forked {
                let _ = sys::kill(pid, libc::SIGKILL);
                let _ = sys::waitpid(pid, false);
            }
            return Err(BuildError::io("start the supervisor thread", e));
        }
    };
    if forked.is_some() {
        // Rule S6: nothing to wait for. The thread would only hand back
        // `Ok` at once, and waiting for a new thread to be scheduled costs
        // `build` 0.1-0.6 ms here while the zygote forks on the other core.
        return Ok(thread);
    }
    let mut result = crate::sync::lock(&handoff.0);
    while result.is_none() {
        result = crate::sync::wait(&handoff.1, result);
    }
    match result.take().expect("checked above") {
        Ok(()) => Ok(thread),
        Err(e) => {
            drop(result);
            let _ = thread.join();
            Err(e)
        }
    }
}

struct Supervisor {
    shared: Arc<Shared>,
    reports: File,
    zygote: ZygoteProc,
    goodbye: bool,
    /// The zygote's HELLO was taken (rule S6).
    said_hello: bool,
}

impl Supervisor {
    fn hello(&mut self) -> Result<(), BuildError> {
        let mut fds = [libc::pollfd {
            fd: self.reports.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        match sys::poll(&mut fds, Some(HELLO_TIMEOUT)) {
            Ok(0) => return Err(BuildError::zygote_failed("no answer within 10 s")),
            Ok(_) => {}
            Err(e) => return Err(BuildError::io("wait for the zygote", e)),
        }
        match Report::read(&mut self.reports) {
            Ok(Some(Report::Hello { pid })) => {
                crate::sync::lock(&self.shared.registry).zygote_pid = pid;
                self.said_hello = true;
            }
            Ok(_) => return Err(BuildError::zygote_failed("it exited before answering")),
            Err(e) => return Err(BuildError::io("read from the zygote", e)),
        }
        Ok(())
    }

    /// Rule S6: take the reports of the first workers, which the zygote
    /// forks right after HELLO and reports (SPAWNED or GAVE_UP) before it
    /// reaps anything, then tell the parent threads waiting to see them
    /// (`ProcessPool::worker_pids`, `stats`). False if the zygote is gone
    /// (and handled: the pool is broken).
    fn first_workers(&mut self) -> bool {
        // A spawner's zygote forks none in advance.
        let first_workers = if self.shared.one_shot {
            0
        } else {
            self.shared.region.header().workers
        };
        for _ in 0..first_workers {
            match Report::read(&mut self.reports) {
                Ok(Some(report)) => self.handle(report),
                Ok(None) | Err(_) => {
                    self.zygote.kill_and_reap();
                    self.zygote_gone();
                    return false;
                }
            }
        }
        let shared = self.shared.clone();
        crate::sync::lock(&shared.registry).first_workers_known = true;
        shared.spawned.notify_all();
        true
    }

    /// [`run`](Self::run), and if it panics, leave nothing hanging (rule
    /// S5).
    fn run_contained(mut self) {
        if catch_unwind(AssertUnwindSafe(|| self.run())).is_ok() {
            return;
        }
        let shared = self.shared.clone();
        let mut reg = crate::sync::lock(&shared.registry);
        reg.broken = true;
        drop(reg);
        self.zygote.kill_and_reap();
        self.zygote_gone();
    }

    /// The loop; returns once the zygote is gone (and handled).
    fn run(&mut self) {
        // Rule S6: a forked zygote's HELLO comes after `build` returned.
        if !self.said_hello && self.hello().is_err() {
            self.zygote.kill_and_reap();
            return self.zygote_gone();
        }
        if !self.first_workers() {
            return;
        }
        let shared = self.shared.clone();
        loop {
            // Rule S3: announce idleness before scanning (the fence pairs
            // with the one in `submit_raw`).
            shared.supervisor_idle.store(true, Relaxed);
            fence(SeqCst);
            let timeout = self.check_timeouts();
            let mut fds = vec![
                pollfd(self.reports.as_raw_fd()),
                pollfd(shared.wake.as_raw_fd()),
            ];
            let waiting: Vec<usize> = {
                let reg = crate::sync::lock(&shared.registry);
                // A spawner's slots have no eventfd (spawn rule SP3).
                (0..shared.events.len())
                    .filter(|&i| reg.wakers[i].is_some() || reg.fd_watch[i])
                    .collect()
            };
            fds.extend(
                waiting
                    .iter()
                    .map(|&i| pollfd(shared.events[i].as_raw_fd())),
            );
            let polled = sys::poll(&mut fds, timeout);
            shared.supervisor_idle.store(false, Relaxed);
            if polled.is_err() {
                std::thread::yield_now();
            }
            if fds[1].revents != 0 {
                let _ = crate::sys::eventfd::drain(shared.wake.as_fd());
            }
            let mut wakers = Vec::new();
            for (k, &index) in waiting.iter().enumerate() {
                if fds[2 + k].revents != 0 {
                    let _ = crate::sys::eventfd::drain(shared.events[index].as_fd());
                    let mut reg = crate::sync::lock(&shared.registry);
                    wakers.extend(shared.relay_locked(&mut reg, index));
                }
            }
            // Rule S5: a panicking waker is the user's bug, not the pool's
            // end.
            let _ = catch_unwind(AssertUnwindSafe(|| wake_all(wakers)));
            if fds[0].revents != 0 {
                match Report::read(&mut self.reports) {
                    Ok(Some(report)) => self.handle(report),
                    Ok(None) | Err(_) => {
                        // EOF, or a message we cannot read: either way the
                        // zygote is no use any more (rule S4: kill is
                        // harmless if it exited, as it is not reaped yet).
                        self.zygote.kill_and_reap();
                        return self.zygote_gone();
                    }
                }
            }
        }
    }

    /// Kill the workers of claimed tasks past their timeout (rule S2);
    /// returns when to look again (`None`: no timed task in flight).
    fn check_timeouts(&mut self) -> Option<Duration> {
        let shared = &self.shared;
        let now = sys::monotonic_ns();
        let mut next: Option<u64> = None;
        let reg = crate::sync::lock(&shared.registry);
        for index in 0..shared.region.slots() {
            match timed_slot(shared.region.slot(index), now) {
                TimedSlot::Untimed => {}
                TimedSlot::LookAgainIn(ns) => next = Some(next.map_or(ns, |n| n.min(ns))),
                // Rule S2: kill only if the mark wins against the worker's
                // completion (and only once).
                TimedSlot::Due { serial } => {
                    if shared.region.slot(index).doom(serial) {
                        shared.send(Command::Kill { serial });
                    }
                }
            }
        }
        drop(reg);
        next.map(Duration::from_nanos)
    }

    fn handle(&mut self, report: Report) {
        let shared = self.shared.clone();
        let mut reg = crate::sync::lock(&shared.registry);
        match report {
            Report::Hello { .. } => {}
            Report::Spawned { index, serial, pid } => {
                // The first `workers.len()` forks are the initial workers.
                let replacement = reg.stats.workers_started >= reg.workers.len() as u64;
                crate::tracepoint::process_started(pid, index, replacement);
                if let Some(w) = reg.workers.get_mut(index as usize) {
                    *w = Some((serial, pid));
                }
                reg.stats.workers_started += 1;
                if shared.one_shot {
                    // Spawn rule SP2: the spawning thread waits for this.
                    if let Some(reply) = reg.spawn_reply.get_mut(index as usize) {
                        *reply = Some(Some((serial, pid)));
                    }
                    drop(reg);
                    shared.spawned.notify_all();
                }
            }
            Report::Exited {
                index,
                serial,
                pid,
                status,
            } => {
                if let Some(w) = reg.workers.get_mut(index as usize) {
                    if w.is_some_and(|(s, _)| s == serial) {
                        *w = None;
                    }
                }
                reg.stats.workers_exited += 1;
                let index = index as usize;
                // One-shot mode: whether this process was forked for the
                // task now in slot `index`. An earlier process of the slot,
                // done with its task, may exit after the next task was
                // submitted there (zygote rule Z6), even before that task's
                // SPAWN was answered: the submit reset the reply.
                let current = shared.one_shot
                    && matches!(
                        reg.spawn_reply.get(index),
                        Some(Some(Some((s, _)))) if *s == serial
                    );
                let killed = current && reg.kill_requested[index];
                // A DOOMED slot is abandoned as TIMED_OUT whatever this
                // says (slot rule 8).
                let (cause, detail) = match status {
                    _ if reg.killing => (outcome::CANCELLED, 0),
                    _ if killed => (outcome::KILLED, 0),
                    ExitStatus::Signaled(signal) => (outcome::SIGNALED, signal as u32),
                    ExitStatus::Exited(code) => (outcome::EXITED, code as u32),
                };
                crate::tracepoint::process_ended(pid, status);
                // Doorbell rule 7: a worker that died as the registered
                // spinner would keep rings for one task from waking anyone.
                shared.region.header().work.forget_spinner(serial);
                for index in 0..shared.region.slots() {
                    let slot = shared.region.slot(index);
                    if slot.phase() == (Phase::Claimed { serial }) {
                        // Rule S1.
                        if let Finish::Done {
                            notify_fd,
                            timed_out,
                        } = slot.abandon(serial, cause, detail)
                        {
                            crate::tracepoint::process_task_lost(pid, &slot.claimed_at_ns, index);
                            reg.stats.tasks_lost_to_deaths += 1;
                            reg.stats.tasks_timed_out += timed_out as u64;
                            if notify_fd {
                                shared.notify_slot_fd(index);
                            }
                        }
                    }
                }
                let mut wakers = Vec::new();
                if current {
                    // Spawn rule SP1: it died before it claimed its task.
                    if shared.region.slot(index).phase() == Phase::Submitted {
                        let _ = shared.region.slot(index).cancel_with(cause, detail);
                    }
                    // Spawn rule SP3: its exit is the slot's relay.
                    wakers.extend(shared.relay_locked(&mut reg, index));
                }
                // Spawn rule SP5: a detached process's outcome goes now.
                let stale = if current {
                    shared.drop_orphan_locked(&mut reg, index)
                } else {
                    None
                };
                drop(reg);
                drop(stale);
                shared.region.header().done.ring(false);
                // Rule S5: a panicking waker is the user's bug.
                let _ = catch_unwind(AssertUnwindSafe(|| wake_all(wakers)));
            }
            Report::GaveUp { index } if shared.one_shot => {
                // Spawn rules SP1, SP2: no process for this task; it gets
                // its outcome here and the spawning thread hears of it.
                let index = index as usize;
                let mut waker = None;
                if let Some(reply) = reg.spawn_reply.get_mut(index) {
                    *reply = Some(None);
                    let _ = shared.region.slot(index).cancel(outcome::SPAWN_FAILED);
                    waker = shared.relay_locked(&mut reg, index);
                }
                drop(reg);
                shared.spawned.notify_all();
                shared.region.header().done.ring(false);
                let _ = catch_unwind(AssertUnwindSafe(|| wake_all(waker.into_iter().collect())));
            }
            Report::GaveUp { index } => {
                if let Some(g) = reg.gave_up.get_mut(index as usize) {
                    *g = true;
                }
                if reg.gave_up.iter().all(|&g| g) {
                    reg.broken = true;
                    cancel_all(&shared, &mut reg, outcome::BROKEN);
                }
            }
            Report::Goodbye => self.goodbye = true,
            // Zygote rule Z7: it retries by itself.
            Report::ForkFailed { .. } => reg.stats.fork_failures += 1,
        }
    }

    /// The zygote has exited and is reaped (rules S1, S4): every task in
    /// flight gets an outcome, and every waiter hears of it (pool rule P6),
    /// as nobody relays slot eventfds any more.
    fn zygote_gone(&mut self) {
        let shared = self.shared.clone();
        let mut reg = crate::sync::lock(&shared.registry);
        reg.broken = true;
        reg.workers.iter_mut().for_each(|w| *w = None);
        let cause = if reg.killing || self.goodbye {
            outcome::CANCELLED
        } else {
            outcome::BROKEN
        };
        cancel_all(&shared, &mut reg, cause);
        let wakers: Vec<_> = (0..shared.region.slots())
            .filter_map(|index| shared.relay_locked(&mut reg, index))
            .collect();
        drop(reg);
        // Spawning threads waiting for a SPAWNED that will not come.
        shared.spawned.notify_all();
        let _ = catch_unwind(AssertUnwindSafe(|| wake_all(wakers)));
    }
}

/// Give every task in flight an outcome with `cause` (rule S1): cancel the
/// queued ones, abandon the claimed ones (their workers are dying or dead:
/// abandon writes only the word, slot rule 4).
///
/// Orphaned workers may still run for an instant after the zygote died
/// (their death signal is on its way), so a slot seen SUBMITTED may be
/// claimed before the cancel, and one seen CLAIMED completed before the
/// abandon: each slot is looked at again until it is neither. No submit
/// can add work meanwhile (the caller set `broken` under the registry), so
/// this ends.
fn cancel_all(shared: &Shared, reg: &mut Registry, cause: u32) {
    for index in 0..shared.region.slots() {
        let slot = shared.region.slot(index);
        let notify = loop {
            match slot.phase() {
                Phase::Submitted => match slot.cancel(cause) {
                    Some(notify_fd) => break notify_fd,
                    None => continue, // claimed meanwhile
                },
                Phase::Claimed { serial } => match slot.abandon(serial, cause, 0) {
                    Finish::Done {
                        notify_fd,
                        timed_out,
                    } => {
                        reg.stats.tasks_lost_to_deaths += 1;
                        reg.stats.tasks_timed_out += timed_out as u64;
                        break notify_fd;
                    }
                    Finish::Lost => continue, // completed meanwhile
                },
                _ => break false,
            }
        };
        if notify {
            shared.notify_slot_fd(index);
        }
    }
    shared.region.header().done.ring(false);
}

fn pollfd(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// What one slot asks of the supervisor's timeout check at `now` (rules S2
/// and S7).
#[derive(Debug, PartialEq, Eq)]
enum TimedSlot {
    /// No timed task in the slot.
    Untimed,
    /// Look at the slot again after this many ns.
    LookAgainIn(u64),
    /// Its task, claimed by the worker with `serial`, ran past its timeout.
    Due { serial: u32 },
}

/// Rule S7: a claim is noticed within one timeout (or 5 ms if that is
/// shorter), so a timed task is found past its deadline within `poll`'s
/// rounding of it.
fn timed_slot(slot: &Slot, now: u64) -> TimedSlot {
    // Relaxed: written by this process before the submit's Release that
    // `phase`'s Acquire followed (slot rule 2).
    let timeout = slot.timeout_ns.load(Relaxed);
    if timeout == 0 {
        return TimedSlot::Untimed;
    }
    match slot.phase() {
        Phase::Submitted => TimedSlot::LookAgainIn(timeout.min(5_000_000)),
        Phase::Claimed { serial } => {
            // Relaxed: a stale 0 only delays the check (slot docs).
            let claimed_at = slot.claimed_at_ns.load(Relaxed);
            if claimed_at == 0 {
                TimedSlot::LookAgainIn(timeout.min(1_000_000))
            } else if now >= claimed_at.saturating_add(timeout) {
                TimedSlot::Due { serial }
            } else {
                // Saturating: a timeout of `Duration::MAX` is clamped to
                // `u64::MAX` ns at submit.
                TimedSlot::LookAgainIn(claimed_at.saturating_add(timeout) - now)
            }
        }
        _ => TimedSlot::Untimed,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::shm::{Region, WorkerConfig};
    use super::*;

    const MS: u64 = 1_000_000;

    /// Rule S7 on one slot: a task waiting to be claimed is looked at again
    /// within its timeout, a claimed one at its deadline, and found due
    /// there (the clock is the argument: no sleeping).
    #[test]
    fn a_timed_task_is_looked_at_within_its_timeout() {
        let region = Region::on_heap(1, 2, 64, WorkerConfig::default(), &[]);
        let (short, long) = (region.slot(0), region.slot(1));
        assert_eq!(timed_slot(short, 0), TimedSlot::Untimed);
        short.timeout_ns.store(MS, Relaxed);
        short.submit();
        long.timeout_ns.store(60_000 * MS, Relaxed);
        long.submit();
        // Waiting to be claimed: within the timeout (a flat 5 ms before).
        assert_eq!(timed_slot(short, 0), TimedSlot::LookAgainIn(MS));
        assert_eq!(timed_slot(long, 0), TimedSlot::LookAgainIn(5 * MS));
        // Claimed, its time not visible yet.
        assert!(short.try_claim(7));
        assert_eq!(timed_slot(short, 10), TimedSlot::LookAgainIn(MS));
        // Claimed at 1,000 ns: looked at again at its deadline, due there.
        short.claimed_at_ns.store(1_000, Relaxed);
        assert_eq!(
            timed_slot(short, 1_000 + MS / 4),
            TimedSlot::LookAgainIn(3 * MS / 4)
        );
        assert_eq!(timed_slot(short, 1_000 + MS), TimedSlot::Due { serial: 7 });
    }
}
