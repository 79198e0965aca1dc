//! `ProcessPool`, its builder, task handles, and the parent's side of the
//! slot protocol (submit, collect, evict, free, notify).
//!
//! # The parent's registry
//!
//! Parent threads coordinate through one lock, the registry: which slots are
//! free, which task (a [`TaskCell`] shared with its handle) sits in which
//! slot, the live workers, the wakers and completion fds of awaited tasks.
//! The shared region itself is never locked: workers and parent meet only in
//! the slot words.
//!
//! Rules (P1–P9):
//!
//! * **P1.** A FREE slot taken off the free list (under the registry lock)
//!   belongs to the thread that took it until that thread submits it or puts
//!   it back, which it does on every path, a panicking `Encode` included.
//!   The argument is encoded in between, *without* the lock: user code
//!   never runs under a pool lock.
//! * **P2.** A task's outcome is taken exactly once: by its handle
//!   (`try_collect` under the cell lock), or by an eviction (under registry
//!   then cell lock) that copies the outcome into the cell when a submitter
//!   finds no free slot, or by the reclaim of a slot whose handle is gone.
//!   The cell says which: `InSlot`, `Evicted`, `Taken`.
//! * **P3.** Lock order: registry before cell. A handle never takes the
//!   registry while it holds its cell.
//! * **P4.** A slot goes back to FREE only when the last [`Lease`] of its
//!   result is dropped: a [`SharedBytes`](super::SharedBytes) result keeps
//!   it. A slot whose lease outlived its decode is marked `held`; when every
//!   slot is held, nothing can free one but the owners of those views, so a
//!   submit fails at once ([`TaskError::is_all_slots_held`]) instead of
//!   waiting for ever. Results that are collected into a `Vec` by the pool
//!   itself (`map`, `map_chunked`) are therefore decoded as copies.
//! * **P5.** Every transition that may unblock a parent thread rings the
//!   `done` doorbell: a task finished (worker, supervisor), a slot freed, a
//!   slot put back, a slot held.
//! * **P6.** An awaited task's waker and a handle's completion fd hear of
//!   the task's end exactly once it is finished: from the supervisor, which
//!   relays the slot's eventfd (armed through slot rule 5) after checking
//!   under the registry lock that the slot still holds that finished task;
//!   from the eviction that copies the task out (the slot's eventfd is
//!   drained for its next task, so the evictor notifies itself; a submit
//!   drains it only if a task there was armed since the last drain, as
//!   nothing else writes it); from the
//!   supervisor when the zygote is gone; or at registration, if the task is
//!   done by then. A completion fd is the handle's own eventfd, never the
//!   slot's, and is never drained: once readable it stays readable. Wakers
//!   are woken, and replaced ones dropped, outside the registry lock: a
//!   waker may run any code, even drop a handle of this pool, or the
//!   pool itself (whose drop then does not wait there: see its `Drop`).
//! * **P7.** A registration (waker or fd) and a parent's futex wait concern
//!   the task's slot only while the task is in it: a registration is made
//!   under the registry and cell locks after the cell still says
//!   `InSlot(index)` (an eviction changes the cell under both), and a wait
//!   gives the task's ticket (slot rule 9) and sleeps at most
//!   [`MAX_NAP`] at a time.
//! * **P8.** A submit rings the work doorbell (one task, doorbell rule 7)
//!   after it publishes the slot, except in a batch: `imap` and
//!   `imap_unordered` publish every slot they can take without waiting,
//!   then ring once
//!   ([`BatchRing`], which also rings if an `Encode` panics midway). No
//!   published task stays unannounced while its submitter blocks: a batch
//!   never waits for a slot (it keeps the item for the next batch), and
//!   waits for a result only after its ring. A batch starts once half the
//!   window (the pool's slots) is back, so that the workers hear of tasks
//!   a batch at a time, not one by one. A window dropped before its end
//!   withdraws the tasks no worker has taken (`TaskHandle::cancel`, a CAS
//!   that loses to a claim: slot rule 3), so that no task runs for no
//!   one. `map` and `map_chunked` do the same through a lane that keeps
//!   its slots for the whole call, with no handle and no lock per task
//!   (`lane.rs`, rules L1–L8).
//! * **P9.** A pool, handle or result view in a forked child of the
//!   process that built the pool (a `pthread_atfork` generation, as the
//!   thread pool's) touches nothing shared: the child has no supervisor,
//!   and the slots, doorbells and zygote it sees are the parent's. A
//!   submit or a wait there fails with [`TaskError::is_forked`] before it
//!   takes any lock (a parent's thread may have held one at the fork),
//!   dropping frees no slot, sends no command and joins no thread, and the
//!   introspection takes no lock either: no worker pids, zero counters,
//!   zygote pid 0.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::codec::{
    chunk_entry_for, decode_result, encode_to_vec, entry_for, init_entry_for, plain_init_entry,
    Decode, Encode, Entry, InitEntry, KeepAlive, Writer,
};
use super::error::{BuildError, PoolFull, TaskError};
use super::lane::Lane;
use super::lending::LentSlots;
use super::shm::{region_len, Region, WorkerConfig, MAX_SLOTS};
use super::slot::{outcome, Collected, Phase};
use super::supervisor;
use super::zygote::{self, to_offset, Command, ZygoteFds};
use crate::sync::atomic::{fence, AtomicBool, AtomicU32, Ordering::*};
use crate::sync::{thread, Arc, Condvar, Mutex};

/// The longest a parent thread sleeps on a slot word before it looks at its
/// task again (rule P7): bounds the delay of the one race slot rule 9's
/// ticket check cannot see.
pub(crate) const MAX_NAP: Duration = Duration::from_millis(100);

/// How the zygote (the process that forks the workers) is started. See
/// `zygote.rs` for what each costs.
///
/// ```
/// use triad::processes::{ProcessPool, StartMode};
///
/// let pool = ProcessPool::builder().workers(1).start_mode(StartMode::Auto).build().unwrap();
/// // A doc test runs on one thread, so `Auto` forks this process directly.
/// assert_eq!(pool.start_mode(), StartMode::Fork);
/// ```
///
/// # What a worker sees of this process
///
/// The two modes differ as Python's `fork` and `spawn` start methods do.
/// With `Fork` a worker has a copy of this process's memory as it was at
/// `build`: statics, globals set up by `main`, the environment. With
/// `Exec` it has the program's state before `main`: `main` never ran in
/// it, so a static that `main` set (a `OnceLock` configuration, a logger)
/// is unset there; the environment is this process's at `build`. `Auto`
/// takes `Exec` as soon as the program has a second thread, so a task
/// that reads such state works in a single-threaded test and not in the
/// threaded program. Give a task what it needs in its argument, or set it
/// up in the [initializer](ProcessPoolBuilder::initializer), which runs in
/// every worker in either mode, with an argument of this process's if it
/// needs one ([`initializer_with`](ProcessPoolBuilder::initializer_with)).
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use triad::processes::{ProcessPool, StartMode};
///
/// static LEVEL: AtomicU32 = AtomicU32::new(0);
/// fn level(_: ()) -> u32 {
///     LEVEL.load(Ordering::Relaxed)
/// }
///
/// LEVEL.store(3, Ordering::Relaxed); // as `main` would, before the pools
/// let forked = ProcessPool::builder().workers(1).start_mode(StartMode::Fork).build().unwrap();
/// let execed = ProcessPool::builder().workers(1).start_mode(StartMode::Exec).build().unwrap();
/// assert_eq!(forked.submit(level, ()).wait(), Ok(3)); // a copy of this process
/// assert_eq!(execed.submit(level, ()).wait(), Ok(0)); // the binary before `main`
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StartMode {
    /// `Fork` if this process has a single thread, else `Exec`.
    #[default]
    Auto,
    /// Fork this process directly. Refused with
    /// [`BuildError::threaded_parent`] if it has other threads.
    ///
    /// The zygote, and every worker, is then a copy of this process at the
    /// moment of `build`: a lock that the building thread itself holds
    /// across `build` (a `Mutex` guard in scope) stays held in every worker,
    /// for ever. Build the pool while holding none, or use `Exec`.
    Fork,
    /// Run this program's binary again (`/proc/self/exe`); it becomes the
    /// zygote before `main`. Safe in any process.
    Exec,
}

/// Counters of a pool's life, from [`ProcessPool::stats`].
///
/// ```
/// use triad::processes::ProcessPool;
///
/// fn id(x: u32) -> u32 {
///     x
/// }
/// let pool = ProcessPool::builder().workers(1).slots_per_worker(1).build().unwrap();
/// let first = pool.submit(id, 1);
/// let second = pool.submit(id, 2); // waits for the only slot: `first`'s result is copied out
/// assert_eq!((first.wait(), second.wait()), (Ok(1), Ok(2)));
/// let stats = pool.stats();
/// assert_eq!(stats.workers_started, 1);
/// assert_eq!(stats.evictions, 1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Workers started, replacements included.
    pub workers_started: u64,
    /// Workers that ended, for any reason.
    pub workers_exited: u64,
    /// Tasks whose worker died under them (crash or timeout).
    pub tasks_lost_to_deaths: u64,
    /// Tasks killed for running past their timeout.
    pub tasks_timed_out: u64,
    /// Results copied out of their slot because a submitter needed it.
    pub evictions: u64,
    /// Forks of a worker that failed (the zygote retries with back-off,
    /// and gives a worker up after a few tries: zygote rule Z7).
    pub fork_failures: u64,
}

// ------------------------------------------------------------------ shared

/// Where a task's outcome is (rule P2).
enum CellState {
    InSlot(usize),
    /// The slot's bytes up to the end of the result, and where the
    /// encoding starts in them (after any carved buffers).
    Evicted(Result<(Vec<u8>, usize), TaskError>),
    Taken,
}

/// No completion fd yet (see [`TaskCell::fd`]).
const NO_FD: u32 = u32::MAX;

/// The parent-side record of one submitted task, shared by its handle and
/// the registry.
pub(crate) struct TaskCell {
    state: Mutex<CellState>,
    /// The submission's ticket, as in the slot (slot rule 9).
    ticket: u64,
    /// Withdrawn by its handle's `cancel` (written and read under
    /// `state`'s lock), so that a second `cancel` says so again.
    withdrawn: AtomicBool,
    /// The handle's own completion eventfd (rule P6), made by the first
    /// `completion_fd` call; [`NO_FD`] until then. Set once, under the
    /// registry lock; owned by the cell and closed when it is dropped.
    fd: AtomicU32,
}

impl TaskCell {
    /// The completion fd, if one was made.
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        // Relaxed: set under the registry lock; every reader either holds
        // that lock or is the handle that set it (program order).
        match self.fd.load(Relaxed) {
            NO_FD => None,
            // SAFETY: a descriptor we own (rule P6): it stays open until the
            // cell is dropped, which `&self` rules out meanwhile.
            fd => Some(unsafe { BorrowedFd::borrow_raw(fd as RawFd) }),
        }
    }

    /// Make the completion fd readable (for good), if there is one.
    fn notify_fd(&self) {
        if let Some(fd) = self.fd() {
            let _ = crate::sys::eventfd::notify(fd);
        }
    }
}

impl Drop for TaskCell {
    fn drop(&mut self) {
        let fd = *self.fd.get_mut();
        if fd != NO_FD {
            // SAFETY: the cell owns the descriptor (rule P6) and nothing
            // borrows it any more (`&mut self`).
            drop(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
    }
}

/// A failed handle's completion fd: an eventfd of its own, readable from
/// the start (the outcome is there), made on first use and closed with the
/// handle, as a live handle's (rule P6), so that an event loop can register
/// each handle's fd, however many failed.
struct ReadyFd(AtomicU32);

impl ReadyFd {
    /// The descriptor, made (and made readable) by the first call.
    fn get_or_make(&self) -> std::io::Result<BorrowedFd<'_>> {
        // Acquire: pairs with the Release of the CAS that stored it (the
        // eventfd's write happened before).
        let mut fd = self.0.load(Acquire);
        if fd == NO_FD {
            let made = crate::sys::eventfd::eventfd()?;
            crate::sys::eventfd::notify(made.as_fd())?;
            let made = made.into_raw_fd() as u32;
            // Release/Acquire: publishes the written eventfd; on a race
            // (two threads with `&handle`) the loser closes its own and
            // takes the winner's.
            fd = match self.0.compare_exchange(NO_FD, made, AcqRel, Acquire) {
                Ok(_) => made,
                Err(theirs) => {
                    // SAFETY: `made` is ours alone: never stored.
                    drop(unsafe { OwnedFd::from_raw_fd(made as RawFd) });
                    theirs
                }
            };
        }
        // SAFETY: stored once, owned by `self` and closed only in its drop,
        // which `&self` rules out meanwhile.
        Ok(unsafe { BorrowedFd::borrow_raw(fd as RawFd) })
    }
}

impl Drop for ReadyFd {
    fn drop(&mut self) {
        let fd = *self.0.get_mut();
        if fd != NO_FD {
            // SAFETY: ours (see `get_or_make`), nothing borrows it (`&mut`).
            drop(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
    }
}

pub(crate) struct Registry {
    /// The task in each slot, if any (rule P2).
    pub(crate) tasks: Vec<Option<Arc<TaskCell>>>,
    free: Vec<usize>,
    /// Slots leased by a result view that outlived its decode (rule P4).
    held: Vec<bool>,
    next_ticket: u64,
    /// No more submits.
    pub(crate) closed: bool,
    /// Nothing can run any more (zygote gone, or no worker can start).
    pub(crate) broken: bool,
    /// An immediate shutdown is under way: deaths are cancellations.
    pub(crate) killing: bool,
    /// Wakers of awaited tasks, per slot (rule P6).
    pub(crate) wakers: Vec<Option<Waker>>,
    /// Slots whose task's handle made a completion fd the supervisor must
    /// notify when the task is done (rule P6).
    pub(crate) fd_watch: Vec<bool>,
    /// Slots whose eventfd may have been written since the last submit
    /// there drained it: set when a task in the slot is armed (slot rule
    /// 5), for only an armed task's end writes the slot's eventfd. A submit
    /// drains the eventfd only then (rule P6), so the common task, which
    /// nobody awaits through a waker or fd, costs no `read` system call.
    fd_armed: Vec<bool>,
    /// (serial, pid) of the live worker at each index.
    pub(crate) workers: Vec<Option<(u32, i32)>>,
    pub(crate) gave_up: Vec<bool>,
    pub(crate) zygote_pid: i32,
    pub(crate) stats: PoolStats,
    /// The supervisor has taken the first workers' reports (supervisor
    /// rule S6).
    pub(crate) first_workers_known: bool,
    /// One-shot mode, per slot: the zygote's answer to the last SPAWN
    /// (`None` while awaited; then `Some(Some((serial, pid)))`, or
    /// `Some(None)` if no process could be forked). Spawn rule SP2.
    pub(crate) spawn_reply: Vec<Option<Option<(u32, i32)>>>,
    /// One-shot mode, per slot: its process was killed on request
    /// (`SpawnHandle::kill`), so its death is reported as such (SP4).
    pub(crate) kill_requested: Vec<bool>,
}

/// Everything the pool, its handles, result leases and the supervisor
/// share.
pub(crate) struct Shared {
    pub(crate) region: Region,
    pub(crate) registry: Mutex<Registry>,
    /// One eventfd per slot (the worker writes it when asked, slot rule 5).
    pub(crate) events: Vec<OwnedFd>,
    /// Always readable (an eventfd written once, never read): the
    /// completion fd of a handle in a forked child (rule P9), which may
    /// take no lock to make one of its own. (A handle that failed at
    /// submit has its own, [`ReadyFd`].)
    ready: OwnedFd,
    /// Our end of the command socket.
    pub(crate) commands: Mutex<std::fs::File>,
    /// Wakes the supervisor's poll (new waker, shutdown, timed submit).
    pub(crate) wake: OwnedFd,
    /// The supervisor sleeps without a timeout (doorbell-like, see
    /// `wake_supervisor_for_timeout`).
    pub(crate) supervisor_idle: AtomicBool,
    /// One bit per slot: lent by a `map` lane while it runs user code, for
    /// any thread that finds no free slot to take (`lane.rs` rule L8); and
    /// the count of threads waiting for a slot (`lane.rs` rule L7).
    pub(crate) lent: LentSlots,
    default_timeout: Option<Duration>,
    keep_resident: usize,
    mode: StartMode,
    /// A spawner's pool: one process per task, forked on demand
    /// (`spawn.rs`); no slot eventfds (its relay is the worker's exit).
    pub(crate) one_shot: bool,
    /// Notified (under the registry) when `spawn_reply` changes, the first
    /// workers are known (supervisor rule S6) or the pool breaks.
    pub(crate) spawned: Condvar,
    /// The fork generation the pool was built in (rule P9).
    fork_generation: u64,
}

/// Wake every waker, outside any pool lock (rule P6). A panicking waker
/// does not keep the others from being woken; the first panic is resumed
/// afterwards.
pub(crate) fn wake_all(wakers: Vec<Waker>) {
    let mut panic = None;
    for waker in wakers {
        if let Err(payload) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()))
        {
            panic.get_or_insert(payload);
        }
    }
    if let Some(payload) = panic {
        std::panic::resume_unwind(payload);
    }
}

impl Registry {
    /// Why the pool takes no task now, if it does not: closed (a shutdown
    /// began) or broken (nothing can run any more).
    pub(crate) fn refusal(&self) -> Option<TaskError> {
        if self.closed {
            Some(TaskError::pool_closed())
        } else if self.broken {
            Some(TaskError::broken())
        } else {
            None
        }
    }
}

impl Shared {
    /// Whether this is a forked child of the process that built the pool
    /// (rule P9).
    #[inline]
    pub(crate) fn forked(&self) -> bool {
        crate::sys::fork::generation() != self.fork_generation
    }

    pub(crate) fn send(&self, command: Command) {
        let commands = crate::sync::lock(&self.commands);
        let _ = zygote::send(&commands, command);
    }

    /// Write slot `index`'s eventfd (a spawner has none: the supervisor
    /// relays its tasks when their process exits, spawn rule SP3).
    pub(crate) fn notify_slot_fd(&self, index: usize) {
        if let Some(fd) = self.events.get(index) {
            let _ = crate::sys::eventfd::notify(fd.as_fd());
        }
    }

    /// The registry, once the supervisor has taken the first workers'
    /// reports or the pool is broken (supervisor rule S6): what observes
    /// the workers sees them all up, as if `build` had waited for them.
    fn lock_with_first_workers(&self) -> crate::sync::MutexGuard<'_, Registry> {
        let mut reg = crate::sync::lock(&self.registry);
        while !reg.first_workers_known && !reg.broken {
            reg = crate::sync::wait_timeout(&self.spawned, reg, MAX_NAP);
        }
        reg
    }

    pub(crate) fn wake_supervisor(&self) {
        let _ = crate::sys::eventfd::notify(self.wake.as_fd());
    }

    /// Free slot `index` (COLLECTED → FREE) with the registry held. Returns
    /// the waker left in the slot, to be dropped (or woken) by the caller
    /// once the registry is released (rule P6).
    fn free_locked(&self, reg: &mut Registry, index: usize) -> Option<Waker> {
        let slot = self.region.slot(index);
        self.trim(index);
        reg.tasks[index] = None;
        reg.held[index] = false;
        reg.fd_watch[index] = false;
        let waker = reg.wakers[index].take();
        slot.release();
        reg.free.push(index);
        waker
    }

    /// Give back to the system the pages of collected slot `index` past
    /// the pool's `keep_resident` bytes, if its last task used more.
    pub(crate) fn trim(&self, index: usize) {
        let slot = self.region.slot(index);
        // Relaxed: the slot is COLLECTED, its collector's (slot rules 1, 2).
        let result_end = slot
            .result_offset
            .load(Relaxed)
            .saturating_add(slot.result_len.load(Relaxed));
        let used = result_end.max(slot.arg_len.load(Relaxed)) as usize;
        if used > self.keep_resident {
            let _ = self.region.release_pages(index, self.keep_resident);
        }
    }

    /// With the registry held, for a slot taken off the free list (rule
    /// P1) whose argument (`arg_len` bytes) is encoded in it: write the
    /// task's header fields and give it the next ticket, which is returned.
    /// The caller then publishes it (`Slot::submit`, whose Release
    /// publishes these Relaxed stores: slot rule 2).
    pub(crate) fn prepare_locked(
        &self,
        reg: &mut Registry,
        index: usize,
        entry: Entry,
        task: usize,
        arg_len: u64,
        timeout: Option<Duration>,
    ) -> u64 {
        let slot = self.region.slot(index);
        let ticket = reg.next_ticket;
        reg.next_ticket += 1;
        // Relaxed: published by `submit`'s Release (slot rule 2).
        slot.entry.store(to_offset(entry as usize), Relaxed);
        slot.task.store(to_offset(task), Relaxed);
        slot.arg_len.store(arg_len, Relaxed);
        slot.timeout_ns.store(
            timeout.map_or(0, |t| t.as_nanos().clamp(1, u64::MAX as u128) as u64),
            Relaxed,
        );
        slot.ticket.store(ticket, Relaxed);
        slot.claimed_at_ns.store(0, Relaxed);
        slot.result_offset.store(0, Relaxed);
        slot.result_len.store(0, Relaxed);
        // The slot's eventfd now serves this task (rule P6); only an armed
        // task can have left it readable.
        if std::mem::take(&mut reg.fd_armed[index]) {
            if let Some(fd) = self.events.get(index) {
                let _ = crate::sys::eventfd::drain(fd.as_fd());
            }
        }
        ticket
    }

    /// After a submit with a timeout: make sure the supervisor watches it.
    pub(crate) fn watch_timeout(&self) {
        // Pairs with the fence in the supervisor's loop: either it sees
        // the slot in its scan, or we see it idle and wake it.
        fence(SeqCst);
        if self.supervisor_idle.swap(false, Relaxed) {
            self.wake_supervisor();
        }
    }

    /// Give a `map` lane's idle slots back to the free list while it goes
    /// on (`lane.rs` rule L7): threads wait for one.
    pub(crate) fn give_back(&self, idle: &mut Vec<usize>) {
        crate::sync::lock(&self.registry).free.append(idle);
        // Rule P5: slots came free.
        self.region.header().done.ring(false);
    }

    /// A `map` lane's end (`lane.rs` rule L6), with its slots: the `idle`
    /// ones (FREE) go back to the free list; of the `in_flight` ones
    /// (index, ticket), those finished are collected and freed, the others
    /// get a cell without a handle, so that each is reclaimed once its task
    /// finishes (rule P2), as a dropped handle's slot is.
    pub(crate) fn end_lane(&self, idle: &[usize], in_flight: &[(usize, u64)]) {
        let mut reg = crate::sync::lock(&self.registry);
        reg.free.extend_from_slice(idle);
        let mut stale = Vec::new();
        for &(index, ticket) in in_flight {
            if self.region.slot(index).try_collect().is_some() {
                stale.extend(self.free_locked(&mut reg, index));
            } else {
                reg.tasks[index] = Some(Arc::new(TaskCell {
                    state: Mutex::new(CellState::InSlot(index)),
                    ticket,
                    withdrawn: AtomicBool::new(false),
                    fd: AtomicU32::new(NO_FD),
                }));
            }
        }
        drop(reg);
        drop(stale);
        // Rule P5: slots came free.
        self.region.header().done.ring(false);
    }

    /// One-shot mode, with the registry held: if the task in slot `index`
    /// is finished and its handle is gone (detached, spawn rule SP5), drop
    /// its outcome and free the slot now rather than when a spawn needs it,
    /// so that detached results do not pile up in memory. Returns a stale
    /// waker to drop once the registry is released (rule P6).
    pub(crate) fn drop_orphan_locked(&self, reg: &mut Registry, index: usize) -> Option<Waker> {
        let cell = reg.tasks[index].clone()?;
        // Our clone and the registry's: more means a live handle (or a
        // spawn still making one), which takes the outcome itself.
        if Arc::strong_count(&cell) > 2 || !self.region.slot(index).is_finished() {
            return None;
        }
        // Rule P3: registry, then cell.
        let mut state = crate::sync::lock(&cell.state);
        if !matches!(*state, CellState::InSlot(i) if i == index) {
            return None;
        }
        // Rule P2: taken exactly once, here.
        self.region.slot(index).try_collect()?;
        *state = CellState::Taken;
        drop(state);
        self.free_locked(reg, index)
    }

    /// The last lease of slot `index` is gone (rule P4).
    fn free(&self, index: usize) {
        let mut reg = crate::sync::lock(&self.registry);
        let stale = self.free_locked(&mut reg, index);
        drop(reg);
        drop(stale);
        // Rule P5.
        self.region.header().done.ring(false);
    }

    /// Put back a slot taken off the free list and never submitted (rule
    /// P1).
    fn put_back(&self, index: usize) {
        crate::sync::lock(&self.registry).free.push(index);
        // Rule P5.
        self.region.header().done.ring(false);
    }

    /// Take a FREE slot off the free list (rule P1), evicting finished
    /// results if none is free, and waiting if none can be evicted yet
    /// (`None` instead when not `wait`).
    fn take_free_slot(&self, wait: bool) -> Result<Option<usize>, TaskError> {
        let mut taken = Vec::with_capacity(1);
        self.take_free_slots(1, wait, &mut taken)?;
        Ok(taken.pop())
    }

    /// Take up to `max` FREE slots off the free list into `taken` (rule P1;
    /// at least one if `wait`), evicting finished results if none is free,
    /// and waiting if none can be evicted yet (nothing taken instead when
    /// not `wait`).
    pub(crate) fn take_free_slots(
        &self,
        max: usize,
        wait: bool,
        taken: &mut Vec<usize>,
    ) -> Result<(), TaskError> {
        let header = self.region.header();
        let mut waiting = None;
        loop {
            // Doorbell rule 1: read before looking for a free slot.
            let seen = header.done.seen();
            let mut reg = crate::sync::lock(&self.registry);
            if let Some(error) = reg.refusal() {
                return Err(error);
            }
            if reg.free.is_empty() {
                // Lane rule L8: slots a `map` lends while it runs user code.
                self.lent.take_all(&mut reg.free);
            }
            if !reg.free.is_empty() {
                let keep = reg.free.len().saturating_sub(max);
                taken.extend(reg.free.drain(keep..).rev());
                return Ok(());
            }
            let mut wake = Vec::new();
            let mut stale = Vec::new();
            let freed = self.reclaim_locked(&mut reg, &mut wake, &mut stale);
            // Rule P4: only the holders of the views can free a slot now.
            let all_held = !freed && reg.held.iter().all(|&held| held);
            drop(reg);
            drop(stale);
            wake_all(wake);
            if all_held {
                return Err(TaskError::all_slots_held(self.region.slots()));
            }
            if !freed && !wait {
                return Ok(());
            }
            if !freed {
                // Counted from the first look that found nothing until
                // this call returns, so that a lane does not take back
                // what it gave before this thread looked again (lane rule
                // L7); and one more look once counted, before any sleep,
                // so that no lend goes unseen (lending rule 4).
                if waiting.is_none() {
                    waiting = Some(self.lent.wait_for_slot());
                    continue;
                }
                header
                    .done
                    .sleep(seen, Some(Duration::from_millis(100)), None);
            }
        }
    }

    /// Read a collected slot's outcome: `Ok(span)` for a result to decode
    /// from the slot, else the error. The caller then frees the slot
    /// (error) or wraps it in a [`Lease`] (value).
    pub(crate) fn outcome(
        &self,
        index: usize,
        collected: Collected,
    ) -> Result<ResultSpan, TaskError> {
        let slot = self.region.slot(index);
        let capacity = self.region.capacity();
        // Relaxed: after `try_collect`'s Acquire (slot rule 2).
        let head = (slot.result_offset.load(Relaxed) as usize).min(capacity);
        let len = (slot.result_len.load(Relaxed) as usize).min(capacity - head);
        let message = || {
            // SAFETY: the slot is COLLECTED and not yet freed by the caller
            // (slot rule 1): nobody writes its data area.
            String::from_utf8_lossy(unsafe { self.region.data(index, len) }).into_owned()
        };
        #[cfg(feature = "trace")]
        if collected == Collected::Complete {
            slot.trace_completed_task();
        }
        match collected {
            Collected::Complete => match slot.outcome.load(Relaxed) {
                outcome::OK => Ok(ResultSpan { head, len }),
                outcome::PANICKED => Err(TaskError::panicked(message())),
                outcome::TOO_LARGE => Err(TaskError::result_too_large(
                    slot.detail.load(Relaxed),
                    capacity as u64,
                )),
                _ => Err(TaskError::bad_bytes(message())),
            },
            Collected::Abandoned { cause, detail } => Err(match cause {
                outcome::SIGNALED => TaskError::signaled(detail as i32),
                outcome::EXITED => TaskError::exited(detail as i32),
                outcome::TIMED_OUT => {
                    TaskError::timed_out(Duration::from_nanos(slot.timeout_ns.load(Relaxed)))
                }
                outcome::CANCELLED => TaskError::cancelled(),
                outcome::WITHDRAWN => TaskError::withdrawn(),
                outcome::KILLED => TaskError::killed(),
                outcome::SPAWN_FAILED => TaskError::spawn_failed("the zygote could not fork"),
                _ => TaskError::broken(),
            }),
        }
    }

    /// Free slots whose task finished: reclaim those whose handle is gone,
    /// evict (copy out) the others (rule P2). True if any slot was freed.
    /// Evicted tasks' wakers go to `wake`, stale wakers to `stale`; the
    /// caller wakes and drops them once the registry is released (rule P6).
    fn reclaim_locked(
        &self,
        reg: &mut Registry,
        wake: &mut Vec<Waker>,
        stale: &mut Vec<Waker>,
    ) -> bool {
        let mut freed = false;
        for index in 0..reg.tasks.len() {
            let Some(cell) = reg.tasks[index].clone() else {
                continue;
            };
            if !self.region.slot(index).is_finished() {
                continue;
            }
            let mut state = crate::sync::lock(&cell.state);
            if !matches!(*state, CellState::InSlot(i) if i == index) {
                continue;
            }
            let Some(collected) = self.region.slot(index).try_collect() else {
                continue;
            };
            // Our clone and the registry's: more means a live handle.
            let evicted = Arc::strong_count(&cell) > 2;
            if evicted {
                let outcome = self.outcome(index, collected).map(|span| {
                    // SAFETY: COLLECTED and not yet freed (slot rule 1).
                    let bytes = unsafe { self.region.data(index, span.head + span.len) };
                    (bytes.to_vec(), span.head)
                });
                *state = CellState::Evicted(outcome);
                reg.stats.evictions += 1;
                // Rule P6: the slot's eventfd is about to serve another task.
                cell.notify_fd();
            } else {
                *state = CellState::Taken;
            }
            drop(state);
            if let Some(waker) = self.free_locked(reg, index) {
                if evicted { &mut *wake } else { &mut *stale }.push(waker);
            }
            freed = true;
        }
        freed
    }

    /// With the registry held: tell the handle of the task in slot `index`
    /// that it is done, if it is (rule P6). Returns its waker, if any, to
    /// be woken by the caller outside the lock.
    pub(crate) fn relay_locked(&self, reg: &mut Registry, index: usize) -> Option<Waker> {
        if reg.fd_watch[index] {
            if let Some(cell) = &reg.tasks[index] {
                let done = match *crate::sync::lock(&cell.state) {
                    CellState::InSlot(_) => self.region.slot(index).is_finished(),
                    _ => true,
                };
                if done {
                    cell.notify_fd();
                    reg.fd_watch[index] = false;
                }
            }
        }
        // A waker may be woken early (a future polls again): no check.
        reg.wakers[index].take()
    }
}

/// A reservation of a collected slot: while one lives, the slot's result
/// bytes stay where they are (rule P4).
pub(crate) struct Lease {
    shared: Arc<Shared>,
    index: usize,
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Rule P9: a forked child's copy frees nothing of the parent's.
        if self.shared.forked() {
            return;
        }
        self.shared.free(self.index);
    }
}

/// Puts a slot taken off the free list back unless disarmed (rule P1): on a
/// panic in `Encode`, a too-large argument, or a pool closed meanwhile.
struct PutBack<'a> {
    shared: &'a Shared,
    index: Option<usize>,
}

impl Drop for PutBack<'_> {
    fn drop(&mut self) {
        if let Some(index) = self.index {
            self.shared.put_back(index);
        }
    }
}
// ------------------------------------------------------------------ pool

/// A pool of worker processes running `fn(A) -> R` tasks, with arguments
/// and results in shared memory. See the [module docs](super).
///
/// ```
/// use triad::processes::ProcessPool;
///
/// fn square(x: u64) -> u64 { x * x }
///
/// let pool = ProcessPool::builder().workers(2).build().unwrap();
/// assert_eq!(pool.submit(square, 7).wait().unwrap(), 49);
/// assert_eq!(pool.map(square, 1..=4).unwrap(), vec![1, 4, 9, 16]);
/// pool.shutdown();
/// ```
pub struct ProcessPool {
    shared: Arc<Shared>,
    supervisor: Option<thread::JoinHandle<()>>,
}

impl fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessPool")
            .field("workers", &self.shared.region.header().workers)
            .field("slots", &self.shared.region.slots())
            .field("capacity", &self.shared.region.capacity())
            .field("mode", &self.shared.mode)
            .finish()
    }
}

/// Configures and builds a [`ProcessPool`].
///
/// ```
/// use std::time::Duration;
/// use triad::processes::ProcessPool;
///
/// let pool = ProcessPool::builder()
///     .workers(2)
///     .slots_per_worker(2)
///     .result_capacity(1 << 20)
///     .task_timeout(Duration::from_secs(30))
///     .max_tasks_per_worker(1000)
///     .build()
///     .unwrap();
/// assert_eq!((pool.workers(), pool.slots(), pool.result_capacity()), (2, 4, 1 << 20));
/// ```
#[must_use]
#[derive(Clone, Debug)]
pub struct ProcessPoolBuilder {
    workers: Option<usize>,
    initializer: Option<Initializer>,
    initializer_timeout: Option<Duration>,
    max_tasks_per_worker: Option<u64>,
    task_timeout: Option<Duration>,
    result_capacity: usize,
    slots_per_worker: usize,
    memory_limit: Option<u64>,
    pin_cores: bool,
    start_mode: StartMode,
    keep_resident: usize,
    /// Build a spawner's pool (`spawn.rs`): one slot per process, none
    /// forked in advance.
    pub(crate) one_shot: bool,
}

/// A builder's initializer: the user's function, how a worker calls it,
/// and its encoded argument (empty for a `fn()`).
#[derive(Clone)]
struct Initializer {
    function: usize,
    entry: InitEntry,
    arg: Vec<u8>,
}

/// The argument's length, not its bytes: a builder's `Debug` is logged as
/// configuration, and the argument may be megabytes.
impl fmt::Debug for Initializer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Initializer")
            .field("function", &format_args!("{:#x}", self.function))
            .field("arg_len", &self.arg.len())
            .finish_non_exhaustive()
    }
}

impl Default for ProcessPoolBuilder {
    fn default() -> Self {
        ProcessPoolBuilder {
            workers: None,
            initializer: None,
            initializer_timeout: None,
            max_tasks_per_worker: None,
            task_timeout: None,
            result_capacity: 64 << 20,
            slots_per_worker: 4,
            memory_limit: None,
            pin_cores: false,
            start_mode: StartMode::Auto,
            keep_resident: 32 << 20,
            one_shot: false,
        }
    }
}

impl ProcessPoolBuilder {
    /// Number of worker processes (default: the CPUs this process may use).
    ///
    /// ```
    /// let pool = triad::processes::ProcessPool::builder().workers(2).build().unwrap();
    /// assert_eq!(pool.workers(), 2);
    /// ```
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }
    /// A function run once in every new worker before its first task. If
    /// it panics, or its worker dies before it returns (an abort, an
    /// `exit`, an allocation past the [`memory_limit`](Self::memory_limit)),
    /// that worker is started again after a short back-off (50 ms,
    /// doubling), and given up after three failed starts in a row; a pool
    /// where no worker can start fails its tasks with
    /// [`TaskError::is_broken`]. It must be
    /// a function of the program's binary (see
    /// [`ProcessPool::submit`]), else `build` fails with
    /// [`BuildError::is_foreign_function`].
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    ///
    /// static CONNECTIONS: AtomicU32 = AtomicU32::new(0);
    /// fn connect() {
    ///     CONNECTIONS.fetch_add(1, Ordering::Relaxed); // in the worker's memory
    /// }
    /// fn connections(_: ()) -> u32 {
    ///     CONNECTIONS.load(Ordering::Relaxed)
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).initializer(connect).build().unwrap();
    /// assert_eq!(pool.submit(connections, ()).wait(), Ok(1));
    /// assert_eq!(CONNECTIONS.load(Ordering::Relaxed), 0); // not in the parent's
    /// ```
    pub fn initializer(mut self, init: fn()) -> Self {
        self.initializer = Some(Initializer {
            function: init as usize,
            entry: plain_init_entry(),
            arg: Vec::new(),
        });
        self
    }

    /// An [`initializer`](Self::initializer) that takes an argument, as
    /// Python's `initializer` and `initargs`: `arg` is encoded once, here,
    /// stored in the shared region beside the slots (it counts against a
    /// [`memory_limit`](Self::memory_limit)), and decoded by every new
    /// worker, replacements included, before it calls `init`. The
    /// argument reaches the workers in either
    /// [start mode](Self::start_mode), also where the zygote is a fresh
    /// exec of the program and shares none of the parent's memory. A
    /// worker that cannot decode it (a hand-written [`Decode`] that does
    /// not match its [`Encode`]) counts as an initializer that failed.
    /// Replaces any earlier initializer.
    ///
    /// ```
    /// use std::sync::OnceLock;
    /// use triad::processes::{ProcessPool, StartMode};
    ///
    /// static GREETING: OnceLock<String> = OnceLock::new();
    /// fn set_up((word, times): (String, usize)) {
    ///     GREETING.set(word.repeat(times)).unwrap(); // in each worker
    /// }
    /// fn greet(name: String) -> String {
    ///     format!("{} {name}", GREETING.get().unwrap())
    /// }
    /// let pool = ProcessPool::builder()
    ///     .workers(1)
    ///     .start_mode(StartMode::Exec)
    ///     .initializer_with(set_up, ("hi".to_string(), 2))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.submit(greet, "Ada".to_string()).wait().unwrap(), "hihi Ada");
    /// assert!(GREETING.get().is_none()); // not in the parent
    /// ```
    pub fn initializer_with<A: Encode + Decode>(mut self, init: fn(A), arg: A) -> Self {
        self.initializer = Some(Initializer {
            function: init as usize,
            entry: init_entry_for::<A>(),
            arg: encode_to_vec(&arg),
        });
        self
    }

    /// The longest the [`initializer`](Self::initializer) may take in a
    /// worker (default: no limit, as a task without a
    /// [`task_timeout`](Self::task_timeout)). A worker whose initializer
    /// runs past it is killed (a kernel timer sends it SIGKILL, whatever
    /// the initializer does with signals) and counts as one that failed to
    /// start (tried again, given up after three in a row; see
    /// [`initializer`](Self::initializer)), and a pool where no worker can
    /// start fails its tasks with [`TaskError::is_broken`] instead of
    /// leaving them waiting for ever. `build` refuses zero, and a timeout
    /// without an [`initializer`](Self::initializer) (a mistake that would
    /// otherwise pass silently), as [`BuildError::is_bad_config`].
    ///
    /// The time counts in each worker, replacements included, from just
    /// before its initializer is called until it returns; the kernel's
    /// timer is deleted then, so it can never end a worker that finished
    /// its start. (An initializer that returns within a hair of the limit
    /// may still be killed: the timer can fire between its return and the
    /// deletion.)
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// fn connect() {
    ///     std::thread::sleep(Duration::from_secs(3600)); // a server that never answers
    /// }
    /// fn query(id: u32) -> u32 {
    ///     id
    /// }
    /// let pool = triad::processes::ProcessPool::builder()
    ///     .workers(1)
    ///     .initializer(connect)
    ///     .initializer_timeout(Duration::from_millis(100))
    ///     .build()
    ///     .unwrap();
    /// assert!(pool.submit(query, 1).wait().unwrap_err().is_broken());
    /// ```
    pub fn initializer_timeout(mut self, timeout: Duration) -> Self {
        self.initializer_timeout = Some(timeout);
        self
    }
    /// Replace a worker after it ran `n` tasks (default: never).
    ///
    /// ```
    /// fn pid(_: ()) -> u32 {
    ///     std::process::id()
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).max_tasks_per_worker(1).build().unwrap();
    /// let first = pool.submit(pid, ()).wait().unwrap();
    /// let second = pool.submit(pid, ()).wait().unwrap();
    /// assert_ne!(first, second); // a fresh worker for every task
    /// ```
    pub fn max_tasks_per_worker(mut self, n: u64) -> Self {
        self.max_tasks_per_worker = Some(n);
        self
    }
    /// Default timeout of every task, from the moment a worker starts it;
    /// past it the worker is killed and the task fails with
    /// [`TaskError::is_timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(ms));
    ///     ms
    /// }
    /// let pool = triad::processes::ProcessPool::builder()
    ///     .workers(1)
    ///     .task_timeout(Duration::from_millis(50))
    ///     .build()
    ///     .unwrap();
    /// assert!(pool.submit(nap, 60_000).wait().unwrap_err().is_timeout());
    /// ```
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.task_timeout = Some(timeout);
        self
    }
    /// Bytes one encoded argument or result may take (default 64 MiB). The
    /// memory is reserved as address space only (a sparse file).
    ///
    /// ```
    /// let pool = triad::processes::ProcessPool::builder().workers(1).result_capacity(4096).build().unwrap();
    /// assert_eq!(pool.result_capacity(), 4096);
    /// ```
    pub fn result_capacity(mut self, bytes: usize) -> Self {
        self.result_capacity = bytes;
        self
    }
    /// Result slots per worker (default 4): how many tasks may be queued,
    /// running or holding an uncollected result at once. A
    /// [`SharedBytes`](super::SharedBytes) result keeps its slot while it
    /// lives, so this is also how many such results may be alive at once
    /// (see [`ProcessPool::submit`]).
    ///
    /// ```
    /// let pool = triad::processes::ProcessPool::builder().workers(2).slots_per_worker(3).build().unwrap();
    /// assert_eq!(pool.slots(), 6);
    /// ```
    pub fn slots_per_worker(mut self, n: usize) -> Self {
        self.slots_per_worker = n;
        self
    }
    /// Limit each worker's address space (RLIMIT_AS), shared region
    /// included: a task that allocates past it fails (usually an abort). A
    /// limit below what the shared region needs fails `build`; one too
    /// small for the worker's start (its initializer) makes the pool
    /// broken ([`TaskError::is_broken`]), as any worker that cannot start.
    ///
    /// ```
    /// fn allocate(mb: usize) -> usize {
    ///     vec![1u8; mb << 20].len() >> 20
    /// }
    /// let pool = triad::processes::ProcessPool::builder()
    ///     .workers(1)
    ///     .result_capacity(1 << 20)
    ///     .memory_limit(512 << 20)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.submit(allocate, 8).wait(), Ok(8));
    /// assert!(pool.submit(allocate, 1024).wait().unwrap_err().is_crash()); // past the limit
    /// ```
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }
    /// Pin worker `i` to the `i`-th CPU this process may use (modulo).
    ///
    /// ```
    /// let pool = triad::processes::ProcessPool::builder().workers(2).pin_cores(true).build().unwrap();
    /// assert_eq!(pool.map(|x: u32| x + 1, [1, 2]).unwrap(), [2, 3]);
    /// ```
    pub fn pin_cores(mut self, pin: bool) -> Self {
        self.pin_cores = pin;
        self
    }
    /// How to start the zygote (default [`StartMode::Auto`]).
    ///
    /// ```
    /// use triad::processes::{ProcessPool, StartMode};
    ///
    /// let pool = ProcessPool::builder().workers(1).start_mode(StartMode::Exec).build().unwrap();
    /// assert_eq!(pool.start_mode(), StartMode::Exec);
    /// assert_eq!(pool.submit(|x: u8| x * 2, 21).wait(), Ok(42));
    /// ```
    pub fn start_mode(mut self, mode: StartMode) -> Self {
        self.start_mode = mode;
        self
    }
    /// Bytes of a slot kept resident when its result is freed (default 32
    /// MiB); pages past them are returned to the kernel.
    ///
    /// ```
    /// // Give every page of a freed result back to the kernel at once.
    /// let pool = triad::processes::ProcessPool::builder().workers(1).keep_resident(0).build().unwrap();
    /// assert_eq!(pool.submit(|n: usize| vec![0u8; n], 1 << 20).wait().unwrap().len(), 1 << 20);
    /// ```
    pub fn keep_resident(mut self, bytes: usize) -> Self {
        self.keep_resident = bytes;
        self
    }

    /// Start the zygote and the workers.
    ///
    /// ```
    /// use triad::processes::ProcessPool;
    ///
    /// let pool = ProcessPool::builder().workers(2).build().unwrap();
    /// assert_eq!(pool.worker_pids().len(), 2); // waits until every worker is up
    /// assert!(ProcessPool::builder().workers(0).build().unwrap_err().is_zero_workers());
    /// ```
    pub fn build(self) -> Result<ProcessPool, BuildError> {
        let workers = match self.workers {
            Some(n) => n,
            None => crate::sys::process::allowed_cpus()
                .map(|c| c.len())
                .unwrap_or(1)
                .max(1),
        };
        if workers == 0 {
            return Err(BuildError::zero_workers());
        }
        if self.result_capacity == 0 {
            return Err(BuildError::zero_capacity());
        }
        if self.slots_per_worker == 0 {
            return Err(BuildError::zero_slots());
        }
        if self.max_tasks_per_worker == Some(0) {
            return Err(BuildError::zero_max_tasks());
        }
        if self.task_timeout.is_some_and(|t| t.is_zero())
            || self.initializer_timeout.is_some_and(|t| t.is_zero())
        {
            return Err(BuildError::zero_timeout());
        }
        if self.initializer_timeout.is_some() && self.initializer.is_none() {
            return Err(BuildError::initializer_timeout_without_initializer());
        }
        if self.initializer.as_ref().is_some_and(|init| {
            !zygote::in_binary(init.function) || !zygote::in_binary(init.entry as usize)
        }) {
            return Err(BuildError::foreign_initializer());
        }
        let init_arg = self
            .initializer
            .as_ref()
            .map_or(&[][..], |init| &init.arg[..]);
        let slots = workers.saturating_mul(self.slots_per_worker);
        if slots > MAX_SLOTS {
            return Err(BuildError::too_many_slots(slots, MAX_SLOTS));
        }
        let shared_len = region_len(slots, self.result_capacity, init_arg.len())
            .ok_or_else(|| BuildError::new_region_too_large(slots, self.result_capacity))?;
        if let Some(limit) = self.memory_limit {
            if limit <= shared_len {
                return Err(BuildError::new_memory_limit_too_small(limit, shared_len));
            }
        }
        // Rule P9: installed before the generation is read.
        crate::sys::fork::install_fork_handler()
            .map_err(|e| BuildError::io("install the fork handler", e))?;
        let fork_generation = crate::sys::fork::generation();
        let mode = match self.start_mode {
            StartMode::Exec => StartMode::Exec,
            mode => {
                let threads = crate::sys::process::thread_count()
                    .map_err(|e| BuildError::io("count this process's threads", e))?;
                match (mode, threads) {
                    (_, 1) => StartMode::Fork,
                    (StartMode::Fork, n) => return Err(BuildError::new_threaded_parent(n)),
                    _ => StartMode::Exec,
                }
            }
        };

        let config = WorkerConfig {
            max_tasks: self.max_tasks_per_worker.unwrap_or(0),
            memory_limit: self.memory_limit.unwrap_or(0),
            pin: self.pin_cores as u32,
            has_init: self.initializer.is_some() as u32,
            init_offset: self
                .initializer
                .as_ref()
                .map_or(0, |i| to_offset(i.function)),
            init_entry_offset: self
                .initializer
                .as_ref()
                .map_or(0, |i| to_offset(i.entry as usize)),
            init_arg_len: 0, // set by `Region::create`
            // Saturating: `Duration::MAX` is as good as no limit.
            init_timeout_ns: self
                .initializer_timeout
                .map_or(0, |t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)),
            one_shot: self.one_shot as u32,
        };
        let region = Region::create(workers, slots, self.result_capacity, config, init_arg)
            .map_err(|e| BuildError::io("create the shared region", e))?;
        // A spawner's slots need no eventfd (spawn rule SP3).
        let events = (0..if self.one_shot { 0 } else { slots })
            .map(|_| crate::sys::eventfd::eventfd())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BuildError::io("create eventfds", e))?;
        let ready =
            crate::sys::eventfd::eventfd().map_err(|e| BuildError::io("create an eventfd", e))?;
        crate::sys::eventfd::notify(ready.as_fd())
            .map_err(|e| BuildError::io("write an eventfd", e))?;
        let wake =
            crate::sys::eventfd::eventfd().map_err(|e| BuildError::io("create an eventfd", e))?;
        let (commands, zygote_commands) = crate::sys::process::socketpair()
            .map_err(|e| BuildError::io("create the command socket", e))?;
        let (reports, zygote_reports) =
            crate::sys::process::pipe().map_err(|e| BuildError::io("create the report pipe", e))?;
        let zygote_fds = ZygoteFds {
            commands: zygote_commands,
            reports: zygote_reports,
            events: events.iter().map(|e| e.as_raw_fd()).collect(),
        };

        let shared = Arc::new(Shared {
            registry: Mutex::new(Registry {
                tasks: vec![None; slots],
                free: (0..slots).rev().collect(),
                held: vec![false; slots],
                next_ticket: 0,
                closed: false,
                broken: false,
                killing: false,
                wakers: vec![None; slots],
                fd_watch: vec![false; slots],
                fd_armed: vec![false; slots],
                workers: vec![None; workers],
                gave_up: vec![false; workers],
                zygote_pid: 0,
                stats: PoolStats::default(),
                first_workers_known: false,
                spawn_reply: vec![None; if self.one_shot { slots } else { 0 }],
                kill_requested: vec![false; if self.one_shot { slots } else { 0 }],
            }),
            region,
            events,
            ready,
            commands: Mutex::new(commands),
            wake,
            supervisor_idle: AtomicBool::new(false),
            lent: LentSlots::new(slots),
            default_timeout: self.task_timeout,
            keep_resident: self.keep_resident,
            mode,
            one_shot: self.one_shot,
            spawned: Condvar::new(),
            fork_generation,
        });

        let start = match mode {
            StartMode::Fork => {
                // The zygote and every worker get a copy of stdout's buffer:
                // what this process printed without a newline yet would be
                // printed again by each of them at its first flush.
                {
                    use std::io::Write;
                    let _ = std::io::stdout().flush();
                }
                // SAFETY: `thread_count` said 1 just above, and building the
                // region started no thread (zygote rule Z1).
                let pid = unsafe { zygote::fork_zygote(&shared.region, &zygote_fds) }
                    .map_err(|e| BuildError::io("fork the zygote", e))?;
                drop(zygote_fds);
                // Known before its HELLO (supervisor rule S6).
                crate::sync::lock(&shared.registry).zygote_pid = pid;
                supervisor::ZygoteStart::Forked(pid)
            }
            _ => supervisor::ZygoteStart::Exec(zygote_fds),
        };
        let supervisor = supervisor::start(shared.clone(), reports, start)?;
        Ok(ProcessPool {
            shared,
            supervisor: Some(supervisor),
        })
    }
}

impl ProcessPool {
    /// A builder with the defaults.
    ///
    /// ```
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// assert_eq!(pool.workers(), 1);
    /// ```
    pub fn builder() -> ProcessPoolBuilder {
        ProcessPoolBuilder::default()
    }

    /// A pool with the defaults (one worker per CPU).
    ///
    /// ```
    /// let pool = triad::processes::ProcessPool::new().unwrap(); // one worker per CPU
    /// assert!(pool.workers() >= 1);
    /// assert_eq!(pool.slots(), pool.workers() * 4);
    /// ```
    pub fn new() -> Result<ProcessPool, BuildError> {
        Self::builder().build()
    }

    /// How the zygote was started (`Auto` resolved to `Fork` or `Exec`).
    ///
    /// ```
    /// use triad::processes::{ProcessPool, StartMode};
    ///
    /// let pool = ProcessPool::builder().workers(1).build().unwrap(); // `Auto`
    /// assert!(matches!(pool.start_mode(), StartMode::Fork | StartMode::Exec)); // never `Auto`
    /// ```
    pub fn start_mode(&self) -> StartMode {
        self.shared.mode
    }

    /// The timeout a task gets unless it names its own.
    pub(crate) fn default_timeout(&self) -> Option<Duration> {
        self.shared.default_timeout
    }

    /// Number of workers.
    ///
    /// ```
    /// let pool = triad::processes::ProcessPool::builder().workers(3).build().unwrap();
    /// assert_eq!(pool.workers(), 3);
    /// ```
    pub fn workers(&self) -> usize {
        self.shared.region.header().workers as usize
    }

    /// Number of result slots (workers × slots per worker).
    ///
    /// ```
    /// let pool = triad::processes::ProcessPool::builder().workers(2).build().unwrap();
    /// assert_eq!(pool.slots(), 2 * 4); // four per worker by default
    /// ```
    pub fn slots(&self) -> usize {
        self.shared.region.slots()
    }

    /// Bytes an encoded argument or result may take.
    ///
    /// ```
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// assert_eq!(pool.result_capacity(), 64 << 20); // the default, 64 MiB
    /// ```
    pub fn result_capacity(&self) -> usize {
        self.shared.region.capacity()
    }

    /// The pids of the live workers. The first ones are forked while
    /// `build` returns; this waits until they are up (or the pool broke).
    /// Empty in a forked child of the process that built the pool (rule
    /// P9: none are its workers).
    ///
    /// ```
    /// fn pid(_: ()) -> u32 {
    ///     std::process::id()
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(2).build().unwrap();
    /// let worker = pool.submit(pid, ()).wait().unwrap();
    /// assert!(pool.worker_pids().contains(&worker));
    /// assert!(!pool.worker_pids().contains(&std::process::id()));
    /// ```
    pub fn worker_pids(&self) -> Vec<u32> {
        if self.shared.forked() {
            return Vec::new(); // rule P9: take no lock
        }
        let reg = self.shared.lock_with_first_workers();
        reg.workers
            .iter()
            .flatten()
            .map(|&(_, pid)| pid as u32)
            .collect()
    }

    /// The zygote's pid; 0 in a forked child of the process that built
    /// the pool (rule P9: that zygote is the parent's, and its pid sits
    /// behind a lock a parent's thread may have held at the fork).
    ///
    /// ```
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let zygote = pool.zygote_pid();
    /// assert_ne!(zygote, std::process::id());
    /// assert!(!pool.worker_pids().contains(&zygote)); // the workers' parent
    /// ```
    pub fn zygote_pid(&self) -> u32 {
        if self.shared.forked() {
            return 0; // rule P9: take no lock
        }
        crate::sync::lock(&self.shared.registry).zygote_pid as u32
    }

    /// Counters of the pool's life; all zero in a forked child of the
    /// process that built the pool (rule P9: the counters are the parent's,
    /// behind a lock a parent's thread may have held at the fork).
    ///
    /// ```
    /// let pool = triad::processes::ProcessPool::builder().workers(2).build().unwrap();
    /// let stats = pool.stats();
    /// assert_eq!(stats.workers_started, 2);
    /// assert_eq!(stats.tasks_timed_out, 0);
    /// ```
    pub fn stats(&self) -> PoolStats {
        if self.shared.forked() {
            return PoolStats::default(); // rule P9: take no lock
        }
        self.shared.lock_with_first_workers().stats
    }

    /// Run `f(arg)` in a worker, with the pool's default timeout.
    ///
    /// If every slot is taken, waits for one: a finished result that is
    /// not collected yet is copied out of its slot (an *eviction*), so this
    /// waits at most for some task in flight to finish. Never for ever:
    ///
    /// * A [`SharedBytes`](super::SharedBytes) result is a view into its
    ///   slot and keeps it until dropped. When **every** slot is held by
    ///   such a view, no slot can come free while this thread waits, so the
    ///   handle fails at once with [`TaskError::is_all_slots_held`]: keep at
    ///   most [`slots`](Self::slots)` - 1` views alive while submitting
    ///   (or copy results out with `into_vec`).
    /// * `f` must be a function of the program's binary. One from a shared
    ///   library cannot be reached by a worker (an exec'd zygote maps
    ///   libraries elsewhere, or not at all); such a task fails at once with
    ///   [`TaskError::is_foreign_function`], in every start mode.
    ///
    /// ```
    /// use triad::processes::ProcessPool;
    ///
    /// fn word_count(text: String) -> usize {
    ///     text.split_whitespace().count()
    /// }
    /// let pool = ProcessPool::builder().workers(1).build().unwrap();
    /// let handle = pool.submit(word_count, "one two three".to_string());
    /// assert_eq!(handle.wait(), Ok(3));
    /// ```
    pub fn submit<A: Encode + Decode, R: Encode + Decode>(
        &self,
        f: fn(A) -> R,
        arg: A,
    ) -> TaskHandle<R> {
        self.submit_timeout(f, arg, self.shared.default_timeout)
    }

    /// [`submit`](Self::submit) with its own timeout (`None`: none; zero
    /// is refused with [`TaskError::is_invalid_argument`], as by the
    /// builder).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(ms));
    ///     ms
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let quick = pool.submit_timeout(nap, 1, Some(Duration::from_secs(30)));
    /// assert_eq!(quick.wait(), Ok(1));
    /// let slow = pool.submit_timeout(nap, 60_000, Some(Duration::from_millis(50)));
    /// assert!(slow.wait().unwrap_err().is_timeout());
    /// ```
    pub fn submit_timeout<A: Encode + Decode, R: Encode + Decode>(
        &self,
        f: fn(A) -> R,
        arg: A,
        timeout: Option<Duration>,
    ) -> TaskHandle<R> {
        let entry = entry_for::<A, R>();
        TaskHandle::new(
            &self.shared,
            self.submit_raw(entry, f as usize, &arg, timeout),
        )
    }

    /// Try [`submit`](Self::submit), but never wait for a result slot:
    /// when every slot holds a task in flight (or a result not yet
    /// collected that cannot be evicted yet), the argument comes back in
    /// [`PoolFull`] at once. For callers that must not block, such as an
    /// event loop (the `Runtime` facade's `spawn_process` hands a full
    /// pool's submit to a blocking thread).
    ///
    /// ```
    /// use triad::processes::ProcessPool;
    ///
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(std::time::Duration::from_millis(ms));
    ///     ms
    /// }
    ///
    /// let pool = ProcessPool::builder().workers(1).slots_per_worker(1).build().unwrap();
    /// let first = pool.try_submit(nap, 200).unwrap();
    /// let full = pool.try_submit(nap, 1).unwrap_err(); // the only slot is busy
    /// assert_eq!(full.into_arg(), 1);
    /// assert_eq!(first.wait().unwrap(), 200);
    /// assert_eq!(pool.try_submit(nap, 1).unwrap().wait().unwrap(), 1);
    /// ```
    pub fn try_submit<A: Encode + Decode, R: Encode + Decode>(
        &self,
        f: fn(A) -> R,
        arg: A,
    ) -> Result<TaskHandle<R>, PoolFull<A>> {
        let entry = entry_for::<A, R>();
        let timeout = self.shared.default_timeout;
        match submit_to(
            &self.shared,
            entry,
            f as usize,
            &arg,
            timeout,
            false,
            Ring::Now,
        ) {
            Ok(None) => Err(PoolFull::new(arg)),
            Ok(Some((cell, _))) => Ok(TaskHandle::new(&self.shared, Ok(cell))),
            Err(error) => Ok(TaskHandle::new(&self.shared, Err(error))),
        }
    }

    /// Zygote rule Z7's test hook: the zygote fails its next `n` forks
    /// (after the first workers', which it waits for: supervisor rule S6).
    #[cfg(test)]
    pub(crate) fn inject_fork_failures(&self, n: u32) {
        use crate::sync::atomic::Ordering::Relaxed;
        drop(self.shared.lock_with_first_workers());
        self.shared.region.header().fail_forks.store(n, Relaxed);
    }

    /// Zygote rule Z6's test hook: the zygote's serial counter jumps `n`
    /// ahead at its next fork (after the first workers').
    #[cfg(test)]
    pub(crate) fn skip_serials(&self, n: u32) {
        use crate::sync::atomic::Ordering::Relaxed;
        drop(self.shared.lock_with_first_workers());
        self.shared.region.header().skip_serials.store(n, Relaxed);
    }

    /// A handle that submits from another thread (the facade's queued
    /// submits); it keeps the pool's shared state, not its supervisor.
    #[cfg_attr(not(feature = "runtime"), allow(dead_code))]
    pub(crate) fn submitter(&self) -> Submitter {
        Submitter {
            shared: self.shared.clone(),
        }
    }

    fn submit_raw<T: Encode + ?Sized>(
        &self,
        entry: Entry,
        task: usize,
        arg: &T,
        timeout: Option<Duration>,
    ) -> Result<Arc<TaskCell>, TaskError> {
        submit_to(&self.shared, entry, task, arg, timeout, true, Ring::Now)
            .map(|submitted| submitted.expect("a waiting submit returns with a slot").0)
    }

    /// One-shot mode (a spawner, `spawn.rs`): submit `f(arg)` and have the
    /// zygote fork the process that runs it. Returns once the zygote
    /// answered (spawn rule SP2): the handle, and the process's serial and
    /// pid (`None` if none was forked; the handle then has the error).
    pub(crate) fn spawn_one<A: Encode + Decode, R: Encode + Decode>(
        &self,
        f: fn(A) -> R,
        arg: A,
        timeout: Option<Duration>,
    ) -> (TaskHandle<R>, Option<(u32, i32)>) {
        debug_assert!(self.shared.one_shot);
        let entry = entry_for::<A, R>();
        let (cell, index) = match submit_to(
            &self.shared,
            entry,
            f as usize,
            &arg,
            timeout,
            true,
            Ring::Now,
        ) {
            Ok(submitted) => submitted.expect("a waiting submit returns with a slot"),
            Err(error) => return (TaskHandle::new(&self.shared, Err(error)), None),
        };
        let shared = &self.shared;
        shared.send(Command::Spawn {
            index: index as u32,
        });
        let mut reg = crate::sync::lock(&shared.registry);
        let process = loop {
            if let Some(reply) = reg.spawn_reply[index] {
                break reply;
            }
            // The zygote is gone: no answer will come; the supervisor gave
            // the task its outcome (supervisor rule S1).
            if reg.broken {
                break None;
            }
            reg = crate::sync::wait_timeout(&shared.spawned, reg, MAX_NAP);
        };
        drop(reg);
        (TaskHandle::new(shared, Ok(cell)), process)
    }

    /// `f` on every item, in parallel, results in the items' order. The
    /// first error is returned, and the tasks after it are dropped as
    /// [`imap`](Self::imap)'s iterator is: those no worker has taken yet
    /// never run, those running finish.
    ///
    /// Results are decoded as copies ([`SharedBytes`](super::SharedBytes)
    /// included): a `Vec` of views could hold more slots than there are.
    ///
    /// A pool that takes no task (shut down, or broken) refuses the call
    /// with its error even when there are no items, as Python's
    /// `Pool.map` does.
    ///
    /// ```
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(2).build().unwrap();
    /// assert_eq!(pool.map(square, 1..=5).unwrap(), [1, 4, 9, 16, 25]);
    /// ```
    pub fn map<A: Encode + Decode, R: Encode + Decode>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<R>, TaskError> {
        let lane = Lane::new(
            &self.shared,
            entry_for::<A, R>(),
            f as usize,
            self.shared.default_timeout,
        )?;
        // Fused: the items end at their first `None`, as for `collect`
        // (the lane asks again at every batch).
        let mut items = items.into_iter().fuse();
        let mut out = Vec::with_capacity(items.size_hint().0);
        lane.run(&mut items, |result| out.push(result))?;
        Ok(out)
    }

    /// `f` on every item, results in the items' order as they come, with at
    /// most as many tasks in flight as there are slots. A
    /// [`SharedBytes`](super::SharedBytes) result is a view that holds its
    /// slot: drop each before the whole pool's worth is alive (see
    /// [`submit`](Self::submit)).
    ///
    /// Dropping the iterator before its end withdraws the tasks in flight
    /// that no worker has taken yet ([`TaskHandle::cancel`]), as Python's
    /// `Executor.map` cancels its pending futures when its iterator is
    /// closed; those running finish, and their results are dropped.
    ///
    /// ```
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(2).build().unwrap();
    /// let mut total = 0;
    /// for result in pool.imap(square, 1..=100) {
    ///     total += result.unwrap(); // in order, as they come
    /// }
    /// assert_eq!(total, 338_350);
    /// ```
    pub fn imap<'p, A: Encode + Decode, R: Encode + Decode, I: IntoIterator<Item = A>>(
        &'p self,
        f: fn(A) -> R,
        items: I,
    ) -> Ordered<'p, A, R, I::IntoIter> {
        Ordered {
            pool: self,
            f,
            items: items.into_iter(),
            pending: None,
            in_flight: VecDeque::new(),
        }
    }

    /// `f` on every item; yields `(index, result)` in the order tasks
    /// finish. Dropping the iterator before its end withdraws the tasks no
    /// worker has taken yet, as [`imap`](Self::imap)'s does.
    ///
    /// ```
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(std::time::Duration::from_millis(ms));
    ///     ms
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(2).build().unwrap();
    /// let mut done: Vec<(usize, u64)> =
    ///     pool.imap_unordered(nap, [30, 1]).map(|(i, r)| (i, r.unwrap())).collect();
    /// done.sort();
    /// assert_eq!(done, [(0, 30), (1, 1)]); // each result with its item's index
    /// ```
    pub fn imap_unordered<'p, A: Encode + Decode, R: Encode + Decode, I: IntoIterator<Item = A>>(
        &'p self,
        f: fn(A) -> R,
        items: I,
    ) -> Unordered<'p, A, R, I::IntoIter> {
        Unordered {
            pool: self,
            f,
            items: items.into_iter().enumerate(),
            pending: None,
            in_flight: Vec::new(),
        }
    }

    /// `f` on every item, `chunk` items per task (one task per item costs a
    /// round trip through a slot; for tiny tasks a chunk amortises it).
    /// Results are decoded as copies, and the first error is returned with
    /// the chunks no worker has taken yet withdrawn, as in
    /// [`map`](Self::map). A `chunk` of 0 is an error
    /// ([`TaskError::is_invalid_argument`]).
    ///
    /// ```
    /// fn is_prime(n: u32) -> bool {
    ///     n > 1 && (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0)
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(2).build().unwrap();
    /// let flags = pool.map_chunked(is_prime, 0..1000, 100).unwrap(); // 10 tasks, not 1000
    /// assert_eq!(flags.iter().filter(|&&p| p).count(), 168);
    /// ```
    pub fn map_chunked<A: Encode + Decode, R: Encode + Decode>(
        &self,
        f: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunk: usize,
    ) -> Result<Vec<R>, TaskError> {
        if chunk == 0 {
            return Err(TaskError::invalid_argument("a chunk of 0 items"));
        }
        let lane = Lane::new(
            &self.shared,
            chunk_entry_for::<A, R>(),
            f as usize,
            self.shared.default_timeout,
        )?;
        // Fused, as in `map`: no chunk takes items past the first `None`.
        let mut items = items.into_iter().fuse();
        let mut chunks = std::iter::from_fn(|| {
            let batch: Vec<A> = items.by_ref().take(chunk).collect();
            (!batch.is_empty()).then_some(batch)
        });
        let mut out = Vec::new();
        lane.run(&mut chunks, |results: Vec<R>| out.extend(results))?;
        Ok(out)
    }

    /// Shut down gracefully: no new tasks; every task already submitted
    /// runs to its outcome; then the workers and the zygote exit and are
    /// reaped. Handles and results outlive the pool.
    ///
    /// This waits as long as the tasks take: one without a timeout that
    /// never ends keeps it waiting for ever (give tasks a timeout, or use
    /// [`shutdown_now`](Self::shutdown_now)).
    ///
    /// ```
    /// fn double(x: u64) -> u64 {
    ///     x * 2
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let handles: Vec<_> = (0..3).map(|i| pool.submit(double, i)).collect();
    /// pool.shutdown(); // runs all three first
    /// let results: Vec<u64> = handles.into_iter().map(|h| h.wait().unwrap()).collect();
    /// assert_eq!(results, [0, 2, 4]);
    /// ```
    pub fn shutdown(mut self) {
        self.shutdown_inner(false);
    }

    /// Shut down now: no new tasks; queued tasks fail with
    /// [`TaskError::is_cancelled`], running ones too (their workers are
    /// killed); the zygote is reaped before this returns.
    ///
    /// ```
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(std::time::Duration::from_millis(ms));
    ///     ms
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let handles: Vec<_> = (0..3).map(|_| pool.submit(nap, 60_000)).collect();
    /// pool.shutdown_now(); // does not wait a minute
    /// assert!(handles.into_iter().all(|h| h.wait().unwrap_err().is_cancelled()));
    /// ```
    pub fn shutdown_now(mut self) {
        self.shutdown_inner(true);
    }

    /// Stop now, through a shared reference: what
    /// [`shutdown_now`](Self::shutdown_now) does, without waiting for the
    /// zygote to be reaped, so that another thread, or whatever owns the
    /// pool, can stop tasks that never end (Python's `Pool.terminate()`).
    /// Queued and running tasks fail with [`TaskError::is_cancelled`]
    /// (their workers are killed), and every submit from now on with
    /// [`TaskError::is_pool_closed`]; a submit racing this call gets one of
    /// the two or its value. The pool's drop (or `shutdown`) then returns
    /// at once. A second call does nothing more.
    ///
    /// ```
    /// fn forever(_: ()) -> u32 {
    ///     loop {
    ///         std::thread::park();
    ///     }
    /// }
    /// fn double(x: u64) -> u64 {
    ///     x * 2
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let stuck = pool.submit(forever, ());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| pool.terminate()); // from another thread, the pool is shared
    /// });
    /// assert!(stuck.wait().unwrap_err().is_cancelled());
    /// assert!(pool.submit(double, 1).wait().unwrap_err().is_pool_closed());
    /// drop(pool); // at once
    /// ```
    pub fn terminate(&self) {
        // Rule P9: the zygote and the slots are the parent's.
        if self.shared.forked() {
            return;
        }
        self.stop(true, true);
    }

    fn shutdown_inner(&mut self, now: bool) {
        let Some(supervisor) = self.supervisor.take() else {
            return;
        };
        if self.shared.forked() {
            // Rule P9: the supervisor thread is not in this process, and
            // the shutdown flag and the zygote are the parent's.
            std::mem::forget(supervisor);
            return;
        }
        if supervisor.thread().id() == thread::current().id() {
            // Dropped by a waker that the supervisor woke (the waker held
            // the last reference): this thread gives the tasks their
            // outcomes and cannot join itself. Tell the workers and the
            // zygote, and let it run on: its loop ends with the zygote, the
            // tasks still queued then get theirs (cancelled), and the
            // thread ends by itself (detached here).
            self.stop(now, false);
            return;
        }
        self.stop(now, true);
        let _ = supervisor.join();
    }

    /// Close the pool, end its tasks (cancel them if `now`, else wait for
    /// them, if `wait`), and tell the workers and the zygote to leave; the
    /// zygote's exit then ends the supervisor. Callable again: an immediate
    /// stop after a graceful one (or the graceful one of the drop after
    /// `terminate`) finds nothing left to wait for.
    fn stop(&self, now: bool, wait: bool) {
        let shared = &self.shared;
        let header = shared.region.header();
        {
            let mut reg = crate::sync::lock(&shared.registry);
            reg.closed = true;
            reg.killing |= now;
        }
        if now {
            for index in 0..shared.region.slots() {
                if shared.region.slot(index).cancel(outcome::CANCELLED) == Some(true) {
                    shared.notify_slot_fd(index);
                }
            }
            header.done.ring(false);
        } else if wait {
            // Wait until nothing is queued or running. Deaths and timeouts
            // still end tasks meanwhile (the supervisor runs).
            loop {
                let seen = header.done.seen();
                let busy = (0..shared.region.slots()).any(|i| {
                    matches!(
                        shared.region.slot(i).phase(),
                        Phase::Submitted | Phase::Claimed { .. }
                    )
                });
                if !busy || crate::sync::lock(&shared.registry).broken {
                    break;
                }
                header
                    .done
                    .sleep(seen, Some(Duration::from_millis(50)), None);
            }
        }
        // Release: pairs with the workers' Acquire load of the flag.
        header.shutdown.store(1, Release);
        header.work.ring(false);
        shared.send(if now {
            Command::KillAll
        } else {
            Command::Shutdown
        });
        shared.wake_supervisor();
    }
}

impl Drop for ProcessPool {
    /// A graceful [`shutdown`](ProcessPool::shutdown): waits for every task
    /// submitted to finish. Except on the pool's own supervisor thread (a
    /// waker it woke held the last reference to the pool): that thread
    /// gives the tasks their outcomes, so the drop returns at once there;
    /// running tasks still finish, queued ones are cancelled.
    fn drop(&mut self) {
        self.shutdown_inner(false);
    }
}

// ------------------------------------------------------------------ handles

/// The outcome of one submitted task: wait for it (with or without a
/// timeout), `.await` it, or poll its [`completion_fd`](Self::completion_fd)
/// from an event loop.
///
/// ```
/// use triad::processes::{ProcessPool, TaskHandle};
///
/// fn double(x: u64) -> u64 {
///     x * 2
/// }
/// let pool = ProcessPool::builder().workers(1).build().unwrap();
/// let handle: TaskHandle<u64> = pool.submit(double, 21);
/// assert_eq!(handle.wait(), Ok(42));
/// ```
pub struct TaskHandle<R> {
    inner: HandleInner,
    _result: PhantomData<fn() -> R>,
}

enum HandleInner {
    /// Refused at submit: the error, until taken.
    Failed {
        error: Option<TaskError>,
        /// Its own always-readable completion fd, made by the first
        /// `completion_fd` call.
        fd: ReadyFd,
    },
    Live {
        shared: Arc<Shared>,
        cell: Arc<TaskCell>,
        waker_registered: bool,
    },
}

impl<R> fmt::Debug for TaskHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle").finish_non_exhaustive()
    }
}

impl<R: Decode> TaskHandle<R> {
    fn new(shared: &Arc<Shared>, cell: Result<Arc<TaskCell>, TaskError>) -> Self {
        TaskHandle {
            inner: match cell {
                Ok(cell) => HandleInner::Live {
                    shared: shared.clone(),
                    cell,
                    waker_registered: false,
                },
                Err(e) => HandleInner::Failed {
                    error: Some(e),
                    fd: ReadyFd(AtomicU32::new(NO_FD)),
                },
            },
            _result: PhantomData,
        }
    }

    /// Block until the task's outcome is there.
    ///
    /// ```
    /// fn double(x: u64) -> u64 {
    ///     x * 2
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// assert_eq!(pool.submit(double, 4).wait(), Ok(8));
    /// ```
    pub fn wait(mut self) -> Result<R, TaskError> {
        loop {
            if let Some(outcome) = self.wait_timeout_inner(None) {
                return outcome;
            }
        }
    }

    /// Wait at most `timeout`; `None` if the task is not done by then (the
    /// handle stays usable).
    ///
    /// # Panics
    ///
    /// If the outcome was already taken.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(ms));
    ///     ms
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let mut handle = pool.submit(nap, 300);
    /// assert_eq!(handle.wait_timeout(Duration::from_millis(1)), None); // not yet
    /// assert_eq!(handle.wait_timeout(Duration::from_secs(30)), Some(Ok(300)));
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<R, TaskError>> {
        self.wait_timeout_inner(Some(timeout))
    }

    /// The outcome if it is there, without blocking.
    ///
    /// # Panics
    ///
    /// If the outcome was already taken.
    ///
    /// ```
    /// fn double(x: u64) -> u64 {
    ///     x * 2
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let mut handle = pool.submit(double, 5);
    /// let outcome = loop {
    ///     match handle.try_wait() {
    ///         Some(outcome) => break outcome,
    ///         None => std::thread::sleep(std::time::Duration::from_millis(1)), // other work here
    ///     }
    /// };
    /// assert_eq!(outcome, Ok(10));
    /// ```
    pub fn try_wait(&mut self) -> Option<Result<R, TaskError>> {
        match &mut self.inner {
            HandleInner::Failed { error, .. } => {
                Some(Err(error.take().expect("outcome already taken")))
            }
            HandleInner::Live { shared, cell, .. } => try_take::<R>(shared, cell),
        }
    }

    /// Whether the outcome is there (a following `try_wait` returns it).
    ///
    /// ```
    /// fn double(x: u64) -> u64 {
    ///     x * 2
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let mut handle = pool.submit(double, 5);
    /// while !handle.is_finished() {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(handle.try_wait(), Some(Ok(10)));
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            HandleInner::Failed { .. } => true,
            HandleInner::Live { shared, cell, .. } => cell_is_finished(shared, cell),
        }
    }

    fn wait_timeout_inner(&mut self, timeout: Option<Duration>) -> Option<Result<R, TaskError>> {
        // A deadline past what `Instant` can hold is no deadline.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            if let Some(outcome) = self.try_wait() {
                return Some(outcome);
            }
            let HandleInner::Live { shared, cell, .. } = &self.inner else {
                unreachable!("a failed handle always has an outcome");
            };
            let index = match *crate::sync::lock(&cell.state) {
                CellState::InSlot(index) => index,
                _ => continue,
            };
            let nap = match deadline {
                None => MAX_NAP,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(MAX_NAP),
                    _ => return None,
                },
            };
            // Rule P7: the ticket tells our task from a later one in the
            // same slot; the nap bounds what the ticket cannot see.
            shared
                .region
                .slot(index)
                .wait_task(Some(cell.ticket), Some(nap));
        }
    }

    /// One-shot mode: have the zygote kill process `serial` if it is still
    /// the one running this task and the task is not finished (spawn rule
    /// SP4). True if the kill was sent.
    pub(crate) fn kill_process(&self, serial: u32) -> bool {
        let HandleInner::Live { shared, cell, .. } = &self.inner else {
            return false;
        };
        // Rule P9: the process is the parent's.
        if shared.forked() {
            return false;
        }
        // Rule P3: registry, then cell.
        let mut reg = crate::sync::lock(&shared.registry);
        let index = match *crate::sync::lock(&cell.state) {
            CellState::InSlot(index) => index,
            _ => return false,
        };
        let current = reg.workers.get(index).copied().flatten();
        if shared.region.slot(index).is_finished() || current.map(|(s, _)| s) != Some(serial) {
            return false;
        }
        reg.kill_requested[index] = true;
        drop(reg);
        shared.send(Command::Kill { serial });
        true
    }

    /// A descriptor that becomes readable when the task is done and then
    /// stays readable, for an event loop: register it for reading, then
    /// call [`try_wait`](Self::try_wait). It is the handle's own (made on
    /// the first call, closed with the handle) and the same on every call.
    /// Do not read from it.
    ///
    /// # Errors
    ///
    /// The first call makes the descriptor: if the process is out of
    /// descriptors (`EMFILE`, `ENFILE`), that error, and the handle is as
    /// before (a later call may try again).
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    ///
    /// fn double(x: u64) -> u64 {
    ///     x * 2
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let mut handle = pool.submit(double, 5);
    /// // What an event loop does: wait for the descriptor to be readable.
    /// let mut fd = libc::pollfd { fd: handle.completion_fd()?.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    /// # // SAFETY: one valid pollfd, for the length given.
    /// let ready = unsafe { libc::poll(&mut fd, 1, 30_000) };
    /// assert_eq!(ready, 1);
    /// assert_eq!(handle.try_wait(), Some(Ok(10)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn completion_fd(&self) -> std::io::Result<BorrowedFd<'_>> {
        let (shared, cell) = match &self.inner {
            HandleInner::Failed { fd, .. } => return fd.get_or_make(),
            // Rule P9: its outcome, `is_forked`, is there.
            HandleInner::Live { shared, .. } if shared.forked() => return Ok(shared.ready.as_fd()),
            HandleInner::Live { shared, cell, .. } => (shared, cell),
        };
        // Rules P3, P6, P7: registry, then cell.
        let mut reg = crate::sync::lock(&shared.registry);
        if cell.fd().is_none() {
            // Nothing is changed before this point: a failure leaves the
            // handle as it was.
            let fd = crate::sys::eventfd::eventfd()?;
            // The cell owns it from now on (closed in `TaskCell::drop`).
            // Relaxed: set under the registry lock (see `TaskCell::fd`).
            cell.fd.store(fd.into_raw_fd() as u32, Relaxed);
        }
        let watch = match *crate::sync::lock(&cell.state) {
            // Rule P7: InSlot under both locks: the slot holds our task.
            // Slot rule 5: once armed, the finisher writes the slot's fd,
            // which the supervisor relays to ours (rule P6).
            CellState::InSlot(index) if shared.region.slot(index).arm_fd() => Some(index),
            // Done already.
            _ => None,
        };
        match watch {
            Some(index) => {
                reg.fd_watch[index] = true;
                reg.fd_armed[index] = true;
            }
            None => cell.notify_fd(),
        }
        drop(reg);
        if watch.is_some() {
            // So that the supervisor polls this slot's eventfd.
            shared.wake_supervisor();
        }
        Ok(cell.fd().expect("made above"))
    }
}

// `cancel` and `is_running` need no `Decode`: the iterators of `map` and
// `imap` call `cancel` from their `Drop`, which can have no bound.
impl<R> TaskHandle<R> {
    /// Cancel the task if no worker has taken it yet, as Python's
    /// `Future.cancel()`: true if it will never run, and its outcome is
    /// then an error with [`TaskError::is_cancelled`] (waiting for it
    /// returns at once; its slot is free for the next submit once the
    /// outcome is taken or the handle dropped). False if a worker has
    /// it already (it runs on, and its outcome stands) or it is finished,
    /// and in a forked child of this process, whose copy of
    /// the pool touches nothing shared. To stop a running task, give it a
    /// [timeout](ProcessPool::submit_timeout), or use a
    /// [`Spawner`](super::Spawner), whose tasks can be killed.
    ///
    /// ```
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(std::time::Duration::from_millis(ms));
    ///     ms
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let running = pool.submit(nap, 300);
    /// while !running.is_running() {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// let queued = pool.submit(nap, 1); // behind it: the only worker is busy
    /// assert!(queued.cancel());
    /// assert!(queued.cancel()); // still cancelled, as Python's says again
    /// assert!(!running.cancel()); // a worker has it
    /// assert!(queued.wait().unwrap_err().is_cancelled());
    /// assert_eq!(running.wait(), Ok(300));
    /// ```
    pub fn cancel(&self) -> bool {
        let HandleInner::Live { shared, cell, .. } = &self.inner else {
            return false;
        };
        // Rule P9: the slots are the parent's.
        if shared.forked() {
            return false;
        }
        let state = crate::sync::lock(&cell.state);
        // Relaxed: written and read under the cell lock.
        if cell.withdrawn.load(Relaxed) {
            return true;
        }
        let CellState::InSlot(index) = *state else {
            return false;
        };
        // While the cell says InSlot and the slot is not collected, the
        // slot holds this task (rule P2); the CAS loses to a worker's
        // claim (slot rule 3).
        let Some(notify_fd) = shared.region.slot(index).cancel(outcome::WITHDRAWN) else {
            return false;
        };
        cell.withdrawn.store(true, Relaxed);
        drop(state);
        // As an immediate stop does: the supervisor relays the slot to an
        // awaiting task or completion fd (rule P6); threads waiting for a
        // slot or an outcome hear the done doorbell.
        if notify_fd {
            shared.notify_slot_fd(index);
        }
        shared.region.header().done.ring(false);
        true
    }

    /// Whether a worker is running the task now (it has taken it and not
    /// finished it).
    ///
    /// ```
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(std::time::Duration::from_millis(ms));
    ///     ms
    /// }
    /// let pool = triad::processes::ProcessPool::builder().workers(1).build().unwrap();
    /// let task = pool.submit(nap, 100);
    /// while !task.is_running() {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// assert_eq!(task.wait(), Ok(100));
    /// ```
    pub fn is_running(&self) -> bool {
        let HandleInner::Live { shared, cell, .. } = &self.inner else {
            return false;
        };
        if shared.forked() {
            return false;
        }
        match *crate::sync::lock(&cell.state) {
            CellState::InSlot(index) => {
                matches!(shared.region.slot(index).phase(), Phase::Claimed { .. })
            }
            _ => false,
        }
    }
}

/// How a submit tells the workers (rule P8).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ring {
    /// Ring the work doorbell for this task.
    Now,
    /// The caller rings once for a batch of submits ([`BatchRing`]).
    Batched,
}

/// Submit a task: take a slot (waiting for one if `wait`, else `None` when
/// there is none), encode the argument into it, publish it (rule P1), and
/// ring the work doorbell unless the caller rings for a batch (rule P8).
fn submit_to<T: Encode + ?Sized>(
    shared: &Shared,
    entry: Entry,
    task: usize,
    arg: &T,
    timeout: Option<Duration>,
    wait: bool,
    ring: Ring,
) -> Result<Option<(Arc<TaskCell>, usize)>, TaskError> {
    check_submit(shared, entry, task, timeout)?;
    let header = shared.region.header();
    let Some(index) = shared.take_free_slot(wait)? else {
        return Ok(None);
    };
    let mut put_back = PutBack {
        shared,
        index: Some(index),
    };
    // SAFETY: the slot is FREE and off the free list: ours alone until
    // we submit it or put it back (rule P1, slot rule 1); no lease of it
    // exists (it is free), so this is the only reference to its area.
    let buf = unsafe { shared.region.data_mut(index) };
    let mut w = Writer::new(buf);
    // User code, without any lock (rule P1); a panic puts the slot back.
    arg.encode(&mut w);
    if w.overflowed() {
        return Err(TaskError::argument_too_large(
            w.len() as u64,
            shared.region.capacity() as u64,
        ));
    }
    let arg_len = w.len() as u64;
    let mut reg = crate::sync::lock(&shared.registry);
    // Closed or broken while we encoded: the slot goes back (after the
    // registry is released: `put_back` takes it).
    if let Some(error) = reg.refusal() {
        drop(reg);
        return Err(error);
    }
    let slot = shared.region.slot(index);
    let ticket = shared.prepare_locked(&mut reg, index, entry, task, arg_len, timeout);
    if shared.one_shot {
        // Spawn rules SP2, SP4: this task's process is yet to come.
        reg.spawn_reply[index] = None;
        reg.kill_requested[index] = false;
    }
    let cell = Arc::new(TaskCell {
        state: Mutex::new(CellState::InSlot(index)),
        ticket,
        withdrawn: AtomicBool::new(false),
        fd: AtomicU32::new(NO_FD),
    });
    reg.tasks[index] = Some(cell.clone());
    slot.submit();
    crate::tracepoint::process_submit(index);
    put_back.index = None;
    drop(reg);
    if ring == Ring::Now {
        header.work.ring(true);
    }
    if timeout.is_some() {
        shared.watch_timeout();
    }
    Ok(Some((cell, index)))
}

/// What every submit checks first (a single one, and a `map` lane once):
/// the task's code, the process, the timeout.
pub(crate) fn check_submit(
    shared: &Shared,
    entry: Entry,
    task: usize,
    timeout: Option<Duration>,
) -> Result<(), TaskError> {
    // Zygote rule Z3: both must be code of the binary, or a worker would
    // jump to a wrong address.
    if !zygote::in_binary(task) || !zygote::in_binary(entry as usize) {
        return Err(TaskError::foreign_function());
    }
    // Rule P9.
    if shared.forked() {
        return Err(TaskError::forked());
    }
    // As the builder refuses a default timeout of zero (a task cannot
    // finish within it: its worker would be killed at once).
    if timeout.is_some_and(|t| t.is_zero()) {
        return Err(TaskError::invalid_argument("a task timeout of zero"));
    }
    Ok(())
}

/// Submits to a pool from another thread: the pool's shared state without
/// its supervisor (which stays with the `ProcessPool`).
#[derive(Clone)]
#[cfg_attr(not(feature = "runtime"), allow(dead_code))]
pub(crate) struct Submitter {
    shared: Arc<Shared>,
}

#[cfg_attr(not(feature = "runtime"), allow(dead_code))]
impl Submitter {
    /// [`ProcessPool::submit`] of `f` with an argument already encoded (by
    /// `encode_to_vec`), waiting for a slot if none is free. Untyped, so
    /// that it can run on another thread without `'static` bounds on the
    /// task's types: [`Submitted::into_handle`] gives the typed handle back.
    pub(crate) fn submit_encoded<A: Decode, R: Encode + Decode>(
        &self,
        f: fn(A) -> R,
        arg: Vec<u8>,
    ) -> impl FnOnce() -> Submitted + Send + 'static {
        /// Encodes as the bytes it holds.
        struct Encoded(Vec<u8>);
        impl Encode for Encoded {
            fn encode(&self, w: &mut Writer<'_>) {
                w.write_bytes(&self.0);
            }
        }
        let entry = entry_for::<A, R>();
        let task = f as usize;
        let shared = self.shared.clone();
        move || {
            let cell = submit_to(
                &shared,
                entry,
                task,
                &Encoded(arg),
                shared.default_timeout,
                true,
                Ring::Now,
            )
            .map(|submitted| submitted.expect("a waiting submit returns with a slot").0);
            Submitted { shared, cell }
        }
    }
}

/// A task submitted by a [`Submitter`], not yet typed.
#[cfg_attr(not(feature = "runtime"), allow(dead_code))]
pub(crate) struct Submitted {
    shared: Arc<Shared>,
    cell: Result<Arc<TaskCell>, TaskError>,
}

#[cfg_attr(not(feature = "runtime"), allow(dead_code))]
impl Submitted {
    /// The handle, typed with the `R` of the `fn(A) -> R` submitted.
    pub(crate) fn into_handle<R: Decode>(self) -> TaskHandle<R> {
        TaskHandle::new(&self.shared, self.cell)
    }

    /// [`TaskHandle::is_finished`], before the handle is made.
    pub(crate) fn is_finished(&self) -> bool {
        self.cell
            .as_ref()
            .map_or(true, |cell| cell_is_finished(&self.shared, cell))
    }
}

/// Whether a submitted task's outcome is there: its slot says finished,
/// or it has left its slot (its outcome taken out, or failed); in a
/// forked child at once (rule P9).
fn cell_is_finished(shared: &Shared, cell: &TaskCell) -> bool {
    if shared.forked() {
        return true; // rule P9: its outcome, `is_forked`, is there
    }
    match *crate::sync::lock(&cell.state) {
        CellState::InSlot(index) => shared.region.slot(index).is_finished(),
        _ => true,
    }
}

/// Where a finished task's result lies in its slot's data area: the
/// encoding is `len` bytes at `head`, after the buffers carved in place
/// (`in_place.rs`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResultSpan {
    pub(crate) head: usize,
    pub(crate) len: usize,
}

/// Take the outcome of `cell` if it is there (rule P2).
fn try_take<R: Decode>(shared: &Arc<Shared>, cell: &Arc<TaskCell>) -> Option<Result<R, TaskError>> {
    // Rule P9: the outcome is the parent's to take.
    if shared.forked() {
        return Some(Err(TaskError::forked()));
    }
    let mut state = crate::sync::lock(&cell.state);
    match std::mem::replace(&mut *state, CellState::Taken) {
        CellState::InSlot(index) => match shared.region.slot(index).try_collect() {
            Some(collected) => {
                // Rule P3: the cell lock is released before the slot is
                // freed (registry lock).
                drop(state);
                Some(match shared.outcome(index, collected) {
                    Ok(span) => decode_leased(
                        Arc::new(Lease {
                            shared: shared.clone(),
                            index,
                        }),
                        span,
                    ),
                    Err(error) => {
                        shared.free(index);
                        Err(error)
                    }
                })
            }
            None => {
                *state = CellState::InSlot(index);
                None
            }
        },
        CellState::Evicted(outcome) => Some(outcome.and_then(|(bytes, head)| {
            decode_result::<R>(&bytes, head, None).map_err(|e| TaskError::bad_bytes(e.to_string()))
        })),
        CellState::Taken => panic!("the task's outcome was already taken"),
    }
}

fn decode_leased<R: Decode>(lease: Arc<Lease>, span: ResultSpan) -> Result<R, TaskError> {
    let (shared, index) = (lease.shared.clone(), lease.index);
    // SAFETY: the slot is COLLECTED and `lease` reserves it (slot rule 1,
    // rule P4): nobody writes the bytes while it lives; values that keep a
    // view (SharedBytes) keep a clone of the lease. `outcome` bounded the
    // span by the capacity.
    let bytes = unsafe { shared.region.data(index, span.head + span.len) };
    let lease = KeepAlive::Lease(lease);
    let value = decode_result::<R>(bytes, span.head, Some(&lease))
        .map_err(|e| TaskError::bad_bytes(e.to_string()))?;
    if lease.holders() > 1 {
        // Rule P4: a view outlives the decode. If it is dropped meanwhile,
        // the slot is freed only after this (our lease is the last), and
        // freeing clears the mark.
        crate::sync::lock(&shared.registry).held[index] = true;
        // Rule P5: a submitter waiting for a slot may now give up.
        shared.region.header().done.ring(false);
    }
    Ok(value)
}

impl<R> Drop for TaskHandle<R> {
    fn drop(&mut self) {
        // A finished but uncollected result is freed now; an unfinished
        // task's slot is reclaimed once it finishes (rule P2). Not by a
        // forked child's copy (rule P9).
        if let HandleInner::Live { shared, cell, .. } = &self.inner {
            if shared.forked() {
                return;
            }
            let mut state = crate::sync::lock(&cell.state);
            if let CellState::InSlot(index) = *state {
                if shared.region.slot(index).try_collect().is_some() {
                    *state = CellState::Taken;
                    drop(state);
                    shared.free(index);
                }
            }
        }
    }
}

impl<R: Decode> Future for TaskHandle<R> {
    type Output = Result<R, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(outcome) = this.try_wait() {
            return Poll::Ready(outcome);
        }
        let HandleInner::Live {
            shared,
            cell,
            waker_registered,
            ..
        } = &mut this.inner
        else {
            unreachable!("a failed handle always has an outcome");
        };
        // Rules P3, P7: registry, then cell; InSlot under both means the
        // slot still holds our task.
        let mut reg = crate::sync::lock(&shared.registry);
        let index = match *crate::sync::lock(&cell.state) {
            // Slot rule 5: once armed, the finisher writes the slot's
            // eventfd; the supervisor polls it and wakes the waker (P6).
            CellState::InSlot(index) if shared.region.slot(index).arm_fd() => index,
            // Finished (or evicted) meanwhile: the next poll takes it.
            _ => {
                drop(reg);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        };
        reg.fd_armed[index] = true;
        let (changed, replaced) = match &reg.wakers[index] {
            Some(w) if w.will_wake(cx.waker()) => (false, None),
            _ => (true, reg.wakers[index].replace(cx.waker().clone())),
        };
        drop(reg);
        // Rule P6: a replaced waker is dropped outside the lock.
        drop(replaced);
        if changed || !*waker_registered {
            *waker_registered = true;
            shared.wake_supervisor();
        }
        Poll::Pending
    }
}

// ------------------------------------------------------------------ iterators

/// The iterator of [`ProcessPool::imap`].
///
/// ```
/// use triad::processes::{Ordered, ProcessPool};
///
/// fn len(s: String) -> usize {
///     s.len()
/// }
/// let pool = ProcessPool::builder().workers(2).build().unwrap();
/// let words = ["a", "bb", "ccc"].map(String::from);
/// let lengths: Ordered<'_, _, _, _> = pool.imap(len, words);
/// assert_eq!(lengths.collect::<Result<Vec<_>, _>>().unwrap(), [1, 2, 3]);
/// ```
pub struct Ordered<'p, A, R, I> {
    pool: &'p ProcessPool,
    f: fn(A) -> R,
    items: I,
    /// An item taken from `items` that found no free slot (rule P8).
    pending: Option<A>,
    in_flight: VecDeque<TaskHandle<R>>,
}

impl<A: Encode + Decode, R: Encode + Decode, I: Iterator<Item = A>> Ordered<'_, A, R, I> {
    /// Submit items until every slot is in flight or no slot is free, and
    /// ring once for all of them (rule P8). Waits for a slot only when none
    /// of ours is in flight: otherwise our own results free the next ones.
    fn refill(&mut self) {
        let pool = self.pool;
        let shared = &pool.shared;
        let mut ring = BatchRing {
            shared,
            submitted: false,
        };
        while self.in_flight.len() < pool.slots() {
            let Some(item) = self.pending.take().or_else(|| self.items.next()) else {
                break;
            };
            let wait = self.in_flight.is_empty();
            match ring.submit(self.f, item, wait) {
                Ok(handle) => self.in_flight.push_back(handle),
                Err(item) => {
                    self.pending = Some(item);
                    break;
                }
            }
        }
    }
}

impl<A: Encode + Decode, R: Encode + Decode, I: Iterator<Item = A>> Iterator
    for Ordered<'_, A, R, I>
{
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Rule P8: top up once half the window is back, so that each ring
        // announces a batch.
        if self.in_flight.len() <= self.pool.slots() / 2 {
            self.refill();
        }
        self.in_flight.pop_front().map(TaskHandle::wait)
    }
}

/// Withdraw the tasks of `handles` that no worker has taken yet, from the
/// back: in `imap`'s window the last submitted first,
/// so that the cancels, as workers take the oldest task first, meet a
/// claim only at the front.
fn withdraw<'h, R: 'h>(handles: impl DoubleEndedIterator<Item = &'h TaskHandle<R>>) {
    for handle in handles.rev() {
        handle.cancel();
    }
}

/// Dropped before its end: the tasks in
/// flight that no worker has taken are withdrawn, not left to run for no
/// one; the handles' drop then frees their slots.
impl<A, R, I> Drop for Ordered<'_, A, R, I> {
    fn drop(&mut self) {
        withdraw(self.in_flight.iter());
    }
}

/// Rings the work doorbell once for a batch of submits made with
/// [`Ring::Batched`], when dropped: also on a panic in an `Encode` midway,
/// so that no published task is left unannounced (rule P8).
struct BatchRing<'a> {
    shared: &'a Arc<Shared>,
    submitted: bool,
}

impl BatchRing<'_> {
    /// Submit `f(item)` as part of this batch, without ringing (rule P8):
    /// its handle (which carries the error if the submit failed), or the
    /// item back if no slot is free now (only when not `wait`).
    fn submit<A: Encode + Decode, R: Encode + Decode>(
        &mut self,
        f: fn(A) -> R,
        item: A,
        wait: bool,
    ) -> Result<TaskHandle<R>, A> {
        let shared = self.shared;
        let cell = match submit_to(
            shared,
            entry_for::<A, R>(),
            f as usize,
            &item,
            shared.default_timeout,
            wait,
            Ring::Batched,
        ) {
            Ok(Some((cell, _))) => {
                self.submitted = true;
                Ok(cell)
            }
            Ok(None) => return Err(item),
            Err(error) => Err(error),
        };
        Ok(TaskHandle::new(shared, cell))
    }
}

impl Drop for BatchRing<'_> {
    fn drop(&mut self) {
        if self.submitted {
            self.shared.region.header().work.ring(true);
        }
    }
}

/// The iterator of [`ProcessPool::imap_unordered`].
///
/// ```
/// use triad::processes::{ProcessPool, Unordered};
///
/// fn len(s: String) -> usize {
///     s.len()
/// }
/// let pool = ProcessPool::builder().workers(2).build().unwrap();
/// let words = ["a", "bb", "ccc"].map(String::from);
/// let lengths: Unordered<'_, _, _, _> = pool.imap_unordered(len, words);
/// let mut by_index: Vec<(usize, usize)> = lengths.map(|(i, r)| (i, r.unwrap())).collect();
/// by_index.sort();
/// assert_eq!(by_index, [(0, 1), (1, 2), (2, 3)]);
/// ```
pub struct Unordered<'p, A, R, I> {
    pool: &'p ProcessPool,
    f: fn(A) -> R,
    items: std::iter::Enumerate<I>,
    /// An item taken from `items` that found no free slot (rule P8).
    pending: Option<(usize, A)>,
    in_flight: Vec<(usize, TaskHandle<R>)>,
}

impl<A: Encode + Decode, R: Encode + Decode, I: Iterator<Item = A>> Unordered<'_, A, R, I> {
    /// Submit items until every slot is in flight or no slot is free, and
    /// ring once for all of them (rule P8), as [`Ordered`] does.
    fn refill(&mut self) {
        let shared = &self.pool.shared;
        let mut ring = BatchRing {
            shared,
            submitted: false,
        };
        while self.in_flight.len() < self.pool.slots() {
            let Some((index, item)) = self.pending.take().or_else(|| self.items.next()) else {
                break;
            };
            let wait = self.in_flight.is_empty();
            match ring.submit(self.f, item, wait) {
                Ok(handle) => self.in_flight.push((index, handle)),
                Err(item) => {
                    self.pending = Some((index, item));
                    break;
                }
            }
        }
    }
}

/// As [`Ordered`]'s: the tasks no worker has taken are withdrawn.
impl<A, R, I> Drop for Unordered<'_, A, R, I> {
    fn drop(&mut self) {
        withdraw(self.in_flight.iter().map(|(_, handle)| handle));
    }
}

impl<A: Encode + Decode, R: Encode + Decode, I: Iterator<Item = A>> Iterator
    for Unordered<'_, A, R, I>
{
    type Item = (usize, Result<R, TaskError>);

    fn next(&mut self) -> Option<Self::Item> {
        // Rule P8: top up once half the window is back.
        if self.in_flight.len() <= self.pool.slots() / 2 {
            self.refill();
        }
        if self.in_flight.is_empty() {
            return None;
        }
        let done = &self.pool.shared.region.header().done;
        loop {
            // Doorbell rule 1: read before looking.
            let seen = done.seen();
            if let Some(pos) = self.in_flight.iter().position(|(_, h)| h.is_finished()) {
                let (i, mut handle) = self.in_flight.swap_remove(pos);
                let outcome = handle.try_wait().expect("finished above");
                return Some((i, outcome));
            }
            done.sleep(seen, Some(Duration::from_millis(100)), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processes::slot::SERIAL_MASK;

    fn double(x: u64) -> u64 {
        2 * x
    }

    fn abort(_: ()) {
        std::process::abort()
    }

    /// Waits (in its worker) until the file at `path` exists.
    fn wait_for_file(path: String) -> u32 {
        while !std::path::Path::new(&path).exists() {
            std::thread::sleep(Duration::from_millis(1));
        }
        7
    }

    #[test]
    #[cfg_attr(miri, ignore = "builds a real pool: fork, exec and a memfd")]
    fn a_serial_that_wraps_around_skips_the_live_workers() {
        // One worker holds a long task while the other is replaced again
        // and again, so often that the zygote's serial counter wraps
        // around (2^24 forks: the hook jumps there). A serial names one
        // live worker: were it handed to a new worker while the long one
        // lives, that worker's death would be taken for the long one's,
        // and its task would fail although it runs on.
        let go = std::env::temp_dir().join(format!("triad-serials-{}", std::process::id()));
        let _ = std::fs::remove_file(&go);
        let pool = ProcessPool::builder().workers(2).build().unwrap();
        let long = pool.submit(wait_for_file, go.to_string_lossy().into_owned());
        let claimed = || {
            (0..pool.slots()).find_map(|i| match pool.shared.region.slot(i).phase() {
                Phase::Claimed { serial } => Some(serial),
                _ => None,
            })
        };
        while claimed().is_none() {
            std::thread::yield_now();
        }
        // Serials 1 and 2 are the first workers': the next is 3; make it
        // the last one, so that the replacements get MAX, 1, 2, 3.
        pool.skip_serials(SERIAL_MASK - 3);
        for _ in 0..4 {
            assert!(pool.submit(abort, ()).wait().unwrap_err().is_crash());
        }
        std::fs::write(&go, b"go").unwrap();
        assert_eq!(long.wait(), Ok(7));
        let _ = std::fs::remove_file(&go);
        assert_eq!(pool.submit(double, 4).wait(), Ok(8));
    }

    #[test]
    #[cfg_attr(miri, ignore = "builds a real pool: fork, exec and a memfd")]
    fn a_graceful_shutdown_forks_no_replacement_worker() {
        // Workers leave when they see the shutdown flag, which the parent
        // sets before it tells the zygote: the zygote must not take their
        // exits for deaths to repair (zygote.rs, the serve loop).
        for round in 0..10 {
            let pool = ProcessPool::builder().workers(2).build().unwrap();
            let shared = pool.shared.clone();
            assert_eq!(pool.submit(double, round).wait(), Ok(2 * round));
            pool.shutdown();
            let stats = crate::sync::lock(&shared.registry).stats;
            assert_eq!(stats.workers_started, 2, "round {round}: {stats:?}");
            assert_eq!(stats.workers_exited, 2, "round {round}: {stats:?}");
        }
    }
}
