//! The blocking pool: a small, bounded set of plain threads for calls that
//! block (a file read, a synchronous library, `std::thread::sleep`), kept
//! apart from the work-stealing workers so a blocked call never takes a core
//! away from CPU work, and never stalls the event loop.
//!
//! ```text
//!   spawn(job) ──lock──► queue (FIFO) ──► an idle thread?  yes: claim it, notify one
//!                                          no: fewer than max threads?  yes: start one
//!                                              no: stays queued; a busy thread takes it next
//!
//!   thread: ┌─► pop a job ──► run it (panic caught) ──► send its outcome ──┐
//!           │   nothing queued: idle, wait for a claim ≤ keep-alive        │
//!           │     claimed ──────────────────────────────────────────────────┘
//!           └── timed out: leave; its handle is joined later, outside the lock (rules 3, 9)
//! ```
//!
//! Rules (all state behind one mutex, so each rule is a plain check):
//!
//! 1. **Bound.** `live` counts the threads in their work loop (busy or
//!    idle), and a thread is started only while `live < max`: never more
//!    than `max` threads take jobs. A thread that left (rule 3) is no
//!    longer counted; until it is joined it may still be running its
//!    thread-local destructors (rule 9).
//! 2. **No lost job, no thundering herd.** A submitter that finds an idle
//!    thread *claims* it (`idle -= 1, notified += 1`) and notifies one; a
//!    waking thread proceeds only by consuming a claim (`notified -= 1`),
//!    so a spurious or shared wake-up neither loses nor doubles a job. A
//!    thread re-checks the queue before it leaves on keep-alive.
//! 3. **Keep-alive.** A thread idle for `keep_alive` leaves: under the
//!    lock it stops counting in `live` and puts its id in `exited`, and
//!    the next submitter (or the shutdown) joins it (rule 9). So when a
//!    submitter decides whether a thread will take its job, `live` counts
//!    only threads that will: busy ones, which take the queue's next job
//!    when they are done (rule 5 relies on it), and idle ones.
//! 4. **Shutdown** (drop): refuse new jobs, wake everyone, let the threads
//!    run every job already queued, then join every thread (outside the
//!    lock, since the threads need it to take the remaining jobs), and
//!    wait for the jobs other threads took back (rule 8) and for the
//!    submitters still joining threads that left (rule 9's `joining`).
//!    When `drop` returns no thread of the pool exists and no job it
//!    accepted runs.
//! 5. **Exactly one outcome per job.** A job sends its value or its panic
//!    (a panic of what the send runs, the handle's waker or the drop of a
//!    value nobody waits for, is dropped there: the thread goes on, as
//!    threads' job rule 7 has it); a job dropped unrun (no thread could be
//!    started, and no live thread is left to take it, rule 3) closes its
//!    cell, and the handle reports it.
//! 6. **A blocking thread knows it is one, of which pool**
//!    ([`BlockingPool::runs_this_thread`]), so that it waits itself where
//!    another thread would hand the wait to this pool: a job that queued a
//!    wait behind itself, then waited for it, would wait for ever once
//!    every thread of the pool did so (bridge.rs rule 4). Only its own
//!    pool's: for another runtime it is a thread like any other, which may
//!    run that runtime's event loop (a runtime built inside a blocking
//!    job), and must not block that loop.
//! 7. **A job joined from its own runtime's thread is taken back.** A job
//!    that spawns another blocking job and joins it holds a thread while
//!    it waits; with every thread doing so (one is enough with `max = 1`)
//!    the joined job would never start. So `join` on one of this pool's
//!    threads first takes the job back out of the queue, if no thread has
//!    started it, and runs it right there (each queued job carries an id,
//!    and its handle a [`Ticket`]); a job already started is waited for, as
//!    its thread is making progress. A CPU worker of the same runtime
//!    does the same ([`BlockingPool::cpu_worker_hook`] marks it): a
//!    blocking job that waits for a CPU job that joins another blocking
//!    job would otherwise need a second blocking thread (with `max = 1`
//!    it waited for ever). Both kinds of thread carry the runtime's
//!    context, so the job runs as it would on a blocking thread (the free
//!    functions reach the same runtime); any other thread waits. A job
//!    taken back counts as running in the pool until it returns (rule 8's
//!    `outside`), so the shutdown waits for it.
//! 8. **A queued process submit is taken back by its waiter.** The submit
//!    that `spawn_process` queues here when the process pool is full
//!    (bridge.rs rule 4) is waited for by whoever calls
//!    `ProcessHandle::wait`, on any thread: that thread takes the submit
//!    back out of the queue, if no thread has started it, and runs it
//!    itself (it was going to block anyway). Otherwise a CPU job that waits
//!    for its process task, while every blocking thread runs a job that
//!    waits for that CPU job, would wait for ever. A job taken back so
//!    counts as running in the pool until it returns (`outside`): the
//!    shutdown waits for it as for one of its threads' jobs (rule 4), so
//!    what it waits for is still served.
//! 9. **No join under the lock.** A thread that left (rule 3) lets go of
//!    the lock, then runs its thread-local destructors, and a destructor
//!    may call into the pool (a `spawn_blocking`, which takes the lock):
//!    joining that thread while holding the lock would wait for a thread
//!    that waits for the lock. So a submitter takes the handles of the
//!    threads that left out of the state, counts them in `joining`, lets
//!    go of the lock, joins them, then uncounts them (the shutdown waits
//!    for `joining` to fall to zero, rule 4). A thread that submits from
//!    its own destructors (its id still in `exited`) leaves its own
//!    handle there for the next submitter or the shutdown: a thread
//!    cannot join itself. As it no longer counts in `live`, a new thread
//!    can start for that job.
//! 10. **Not in a forked child.** In a process forked from the pool's, its
//!     threads do not exist, and its lock (or a job's outcome cell's) may
//!     have been held by one of them at the fork, for ever there. A handle
//!     there asks [`Ticket::is_forked_away`] first, and then only *tries*
//!     its cell (oneshot rule 5): the outcome if it came before the fork,
//!     else an error at once, as threads' spawn rule 5 has it. A job
//!     spawned there is refused at once, before the lock, with that same
//!     error: it never runs (a thread started there to run it would not be
//!     the pool's, and the child's handle could not report its outcome),
//!     and no thread of the parent's is joined there.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::error::BlockingFailure;
use crate::sync::oneshot;
use crate::sync::{const_thread_local, thread, Arc, Condvar, Mutex};
use crate::threads::job::contain_panic;

pub(crate) type Job = Box<dyn FnOnce() + Send>;
type Hook = Arc<dyn Fn() + Send + Sync>;

/// The outcome cell of one blocking job.
pub(crate) type Outcome<T> = oneshot::Receiver<Result<T, BlockingFailure>>;

struct State {
    /// Queued jobs with their ids (rule 7).
    queue: VecDeque<(u64, Job)>,
    next_job: u64,
    /// Threads started and not joined yet (rule 1).
    live: usize,
    /// Threads waiting for a job and not claimed (rule 2).
    idle: usize,
    /// Claims not yet consumed by a waking thread (rule 2).
    notified: usize,
    shutdown: bool,
    next_id: u64,
    /// Join handles of every thread not joined yet, by id.
    threads: HashMap<u64, thread::JoinHandle<()>>,
    /// Threads that left on keep-alive, no longer counted in `live`, not
    /// yet joined (rule 3).
    exited: Vec<u64>,
    /// Threads that left, being joined by a submitter outside the lock
    /// (rule 9).
    joining: usize,
    /// Jobs taken back by threads outside the pool and not yet returned
    /// (rule 8).
    outside: usize,
}

struct Inner {
    state: Mutex<State>,
    condvar: Condvar,
    max: usize,
    keep_alive: Duration,
    /// Run first on every new thread (the facade installs its context).
    on_start: Hook,
    /// The fork generation that owns the pool: in a process forked from
    /// it, its threads do not exist (rule 10).
    fork_generation: u64,
    /// Test hook: starting a thread fails, as when the system has none
    /// left (`EAGAIN`).
    #[cfg(test)]
    refuse_threads: crate::sync::atomic::AtomicBool,
}

/// A bounded pool of blocking threads. See the module docs.
pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

impl BlockingPool {
    /// A pool of at most `max` threads (started on demand), each leaving
    /// after `keep_alive` idle.
    pub(crate) fn new(max: usize, keep_alive: Duration, on_start: Hook) -> Self {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    next_job: 0,
                    live: 0,
                    idle: 0,
                    notified: 0,
                    shutdown: false,
                    next_id: 0,
                    threads: HashMap::new(),
                    exited: Vec::new(),
                    joining: 0,
                    outside: 0,
                }),
                condvar: Condvar::new(),
                max,
                keep_alive,
                on_start,
                fork_generation: crate::sys::fork::generation(),
                #[cfg(test)]
                refuse_threads: crate::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// Queue `f`; its outcome arrives in the returned cell, and the ticket
    /// can take it back unstarted (rule 7). `None` if the pool is shut down
    /// (rule 4).
    pub(crate) fn spawn<F, T>(&self, f: F) -> Option<(Outcome<T>, Ticket)>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        if crate::sys::fork::generation() != self.inner.fork_generation {
            // Rule 10: refused unrun, before the lock; the ticket's id is
            // no queued job's.
            drop(f);
            sender.send(Err(BlockingFailure::Unavailable));
            let ticket = Ticket {
                pool: self.inner.clone(),
                job: u64::MAX,
            };
            return Some((receiver, ticket));
        }
        let job: Job = Box::new(move || {
            // Rule 5: a panic becomes the outcome; the thread goes on.
            let outcome =
                panic::catch_unwind(AssertUnwindSafe(f)).map_err(BlockingFailure::panicked);
            // Rule 5 again: sending runs user code too (the handle's waker;
            // the drop of the value or the payload if the handle is gone).
            // Its panic stays here: on one of our threads it would end the
            // thread while `live` still counts it as busy, and the jobs
            // queued behind would wait for it for ever (rule 3).
            contain_panic(move || sender.send(outcome));
        });
        let mut state = crate::sync::lock(&self.inner.state);
        if state.shutdown {
            return None;
        }
        let ticket = Ticket {
            pool: self.inner.clone(),
            job: state.next_job,
        };
        state.next_job += 1;
        state.queue.push_back((ticket.job, job));
        // Rule 9: the threads that left, joined below, outside the lock.
        let left = self.take_exited(&mut state);
        let mut unrun = None;
        if state.idle > 0 {
            // Rule 2: claim one idle thread.
            state.idle -= 1;
            state.notified += 1;
            self.inner.condvar.notify_one();
        } else if state.live < self.inner.max {
            let id = state.next_id;
            let spawned = self.start_thread(id);
            match spawned {
                Ok(handle) => {
                    state.next_id += 1;
                    state.live += 1;
                    state.threads.insert(id, handle);
                }
                Err(_) if state.live == 0 => {
                    // Rule 5: nobody will ever run it; dropping the job
                    // closes its cell.
                    unrun = state.queue.pop_back();
                }
                // Another thread will take it when it is done.
                Err(_) => {}
            }
        }
        drop(state);
        // Dropped outside the lock: the closure's captures are the user's,
        // and their `Drop` may call into this pool (a `spawn_blocking`).
        drop(unrun);
        self.join_exited(left);
        Some((receiver, ticket))
    }

    /// Rule 9: the handles of the threads that left, out of the state and
    /// counted in `joining`, but the calling thread's own (a thread cannot
    /// join itself).
    fn take_exited(&self, state: &mut State) -> Vec<thread::JoinHandle<()>> {
        if state.exited.is_empty() {
            return Vec::new();
        }
        let me = self.runs_this_thread().then(|| THIS_THREAD.with(Cell::get));
        let mut left = Vec::new();
        let mut kept = Vec::new();
        for id in std::mem::take(&mut state.exited) {
            if Some(id) == me {
                kept.push(id);
            } else if let Some(handle) = state.threads.remove(&id) {
                left.push(handle);
            }
        }
        state.exited = kept;
        state.joining += left.len();
        left
    }

    /// Rule 9: join `left` (taken by [`take_exited`](Self::take_exited))
    /// with the lock released, then uncount them for the shutdown.
    fn join_exited(&self, left: Vec<thread::JoinHandle<()>>) {
        if left.is_empty() {
            return;
        }
        let joined = left.len();
        for handle in left {
            let _ = handle.join();
        }
        crate::sync::lock(&self.inner.state).joining -= joined;
        self.inner.condvar.notify_all();
    }

    /// Start blocking thread `id`.
    fn start_thread(&self, id: u64) -> std::io::Result<thread::JoinHandle<()>> {
        #[cfg(test)]
        if self
            .inner
            .refuse_threads
            .load(crate::sync::atomic::Ordering::Relaxed)
        {
            return Err(std::io::Error::from(std::io::ErrorKind::WouldBlock));
        }
        let inner = self.inner.clone();
        thread::Builder::new()
            .name(format!("triad-block-{id}"))
            .spawn(move || worker(inner, id))
    }

    /// The start hook of the runtime's CPU workers: it marks its thread as
    /// one whose joins take this pool's queued jobs back (rule 7). It holds
    /// the pool weakly: it neither keeps the pool alive nor lets its
    /// address be reused while a worker can compare it.
    pub(crate) fn cpu_worker_hook(&self) -> impl Fn() + Send + Sync + 'static {
        let pool = Arc::downgrade(&self.inner);
        move || CPU_WORKER_OF.with(|marked| marked.set(pool.as_ptr()))
    }

    /// Whether the calling thread is one of this pool's (rule 6): it may
    /// wait where others hand the wait to the pool.
    pub(crate) fn runs_this_thread(&self) -> bool {
        std::ptr::eq(THIS_POOL.with(Cell::get), &*self.inner)
    }

    /// Threads started and not joined yet (for tests of the bound).
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        crate::sync::lock(&self.inner.state).live
    }
}

impl Drop for BlockingPool {
    /// Rule 4.
    fn drop(&mut self) {
        let threads = {
            let mut state = crate::sync::lock(&self.inner.state);
            state.shutdown = true;
            state.exited.clear();
            state.live = 0;
            std::mem::take(&mut state.threads)
        };
        self.inner.condvar.notify_all();
        for (_, handle) in threads {
            let _ = handle.join();
        }
        // Rule 8: and for the jobs taken back by other threads; rule 9:
        // and for the threads that left and that submitters are joining.
        let mut state = crate::sync::lock(&self.inner.state);
        while state.outside > 0 || state.joining > 0 {
            state = crate::sync::wait(&self.inner.condvar, state);
        }
    }
}

const_thread_local! {
    /// The pool of this blocking thread (rules 6 and 7); null elsewhere.
    /// Compared, never dereferenced.
    static THIS_POOL: Cell<*const Inner> = Cell::new(std::ptr::null());
}

const_thread_local! {
    /// The id of this blocking thread in its pool (`THIS_POOL`), so that
    /// its own destructors never join it (rule 9). A plain `Cell`: still
    /// readable while the thread's other thread-locals are destroyed.
    static THIS_THREAD: Cell<u64> = Cell::new(0);
}

const_thread_local! {
    /// The blocking pool of the runtime whose CPU worker this thread is
    /// (rule 7); null elsewhere. Compared, never dereferenced; the hook
    /// that set it keeps the pool's allocation (a weak reference) while
    /// the worker lives, so the address is never another pool's.
    static CPU_WORKER_OF: Cell<*const Inner> = Cell::new(std::ptr::null());
}

/// A queued job's claim check: [`take_back`](Self::take_back) removes it
/// from the queue if no thread has started it (rule 7).
pub(crate) struct Ticket {
    pool: Arc<Inner>,
    job: u64,
}

impl Ticket {
    /// Whether this process was forked from the pool's, where the pool has
    /// no thread (rule 10).
    pub(crate) fn is_forked_away(&self) -> bool {
        crate::sys::fork::generation() != self.pool.fork_generation
    }

    /// On one of this pool's own threads or a CPU worker of its runtime,
    /// the job if it is still queued, to be run by the caller; `None`
    /// elsewhere or once a thread took it (rule 7).
    pub(crate) fn take_back(&self) -> Option<Job> {
        let pool: *const Inner = &*self.pool;
        let ours = std::ptr::eq(THIS_POOL.with(Cell::get), pool)
            || std::ptr::eq(CPU_WORKER_OF.with(Cell::get), pool);
        if !ours {
            return None;
        }
        self.take_back_anywhere()
    }

    /// The job if it is still queued, to be run by the caller on whatever
    /// thread it is; `None` once a thread took it (rule 8: only for a job
    /// that does not care which thread runs it). It counts as running in
    /// the pool until it returns.
    pub(crate) fn take_back_anywhere(&self) -> Option<Job> {
        let mut state = crate::sync::lock(&self.pool.state);
        let at = state.queue.iter().position(|(job, _)| *job == self.job)?;
        let job = state.queue.remove(at).map(|(_, job)| job)?;
        // Counted under the lock that took it off the queue: the shutdown
        // sees it queued or outside, never neither.
        state.outside += 1;
        drop(state);
        // Uncounted when the job returns, or if it is dropped unrun.
        let running = Outside(self.pool.clone());
        Some(Box::new(move || {
            let _running = running;
            job();
        }))
    }
}

/// A job taken back by a thread outside the pool, running (rule 8): the
/// shutdown waits until it is dropped.
struct Outside(Arc<Inner>);

impl Drop for Outside {
    fn drop(&mut self) {
        crate::sync::lock(&self.0.state).outside -= 1;
        self.0.condvar.notify_all();
    }
}

/// One blocking thread's life (rules 2, 3, 6 and 9).
fn worker(inner: Arc<Inner>, id: u64) {
    THIS_POOL.with(|pool| pool.set(&*inner));
    THIS_THREAD.with(|this| this.set(id));
    (inner.on_start)();
    let mut state = crate::sync::lock(&inner.state);
    'work: loop {
        while let Some((_, job)) = state.queue.pop_front() {
            drop(state);
            job();
            state = crate::sync::lock(&inner.state);
        }
        if state.shutdown {
            return;
        }
        state.idle += 1;
        // Past what `Instant` can hold (`Duration::MAX`): no deadline.
        let deadline = Instant::now().checked_add(inner.keep_alive);
        loop {
            let left = deadline.map_or(inner.keep_alive, |deadline| {
                deadline.saturating_duration_since(Instant::now())
            });
            state = inner
                .condvar
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
            if state.notified > 0 {
                // Claimed: the submitter already took us off `idle`.
                state.notified -= 1;
                continue 'work;
            }
            if state.shutdown || !state.queue.is_empty() {
                state.idle -= 1;
                continue 'work;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                // Rule 3: no longer one that takes jobs.
                state.idle -= 1;
                state.live -= 1;
                state.exited.push(id);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::atomic::{AtomicUsize, Ordering};

    fn pool(max: usize, keep_alive: Duration) -> BlockingPool {
        BlockingPool::new(max, keep_alive, Arc::new(|| {}))
    }

    #[test]
    fn never_more_than_max_threads_and_every_job_runs() {
        let pool = pool(2, Duration::from_secs(5));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let cells: Vec<_> = (0..12)
            .map(|i| {
                let (running, peak) = (running.clone(), peak.clone());
                pool.spawn(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                })
                .unwrap()
                .0
            })
            .collect();
        assert!(pool.live() <= 2);
        for (i, mut cell) in cells.into_iter().enumerate() {
            assert!(matches!(cell.receive_blocking(), Some(Ok(v)) if v == i));
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn idle_threads_leave_after_the_keep_alive_and_are_joined() {
        let pool = pool(1, Duration::from_millis(20));
        pool.spawn(|| ()).unwrap().0.receive_blocking();
        std::thread::sleep(Duration::from_millis(100));
        // Left: no longer counted, but not joined yet (rule 3)...
        assert_eq!(crate::sync::lock(&pool.inner.state).exited.len(), 1);
        assert_eq!(pool.live(), 0);
        // ...until the next submitter comes (rule 9).
        assert!(matches!(
            pool.spawn(|| 5).unwrap().0.receive_blocking(),
            Some(Ok(5))
        ));
        assert_eq!(pool.live(), 1);
    }

    #[test]
    fn a_job_no_thread_can_take_is_not_run_even_after_threads_left() {
        // Room for two threads; one ran a job and left on keep-alive.
        let pool = pool(2, Duration::from_millis(20));
        pool.spawn(|| ()).unwrap().0.receive_blocking();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(crate::sync::lock(&pool.inner.state).exited.len(), 1);
        // No thread can be started now: the job must not wait in the
        // queue for the thread that left (it waited there for ever).
        pool.inner.refuse_threads.store(true, Ordering::Relaxed);
        let mut cell = pool.spawn(|| 5).unwrap().0;
        assert!(matches!(cell.try_receive(), Some(None)), "closed unrun");
        assert_eq!(pool.live(), 0);
        // Threads again: the pool goes on.
        pool.inner.refuse_threads.store(false, Ordering::Relaxed);
        assert!(matches!(
            pool.spawn(|| 6).unwrap().0.receive_blocking(),
            Some(Ok(6))
        ));
    }

    #[test]
    fn a_job_no_thread_can_take_is_dropped_outside_the_pools_lock() {
        // Its closure's captures are the user's: their `Drop` may spawn on
        // the same pool, which relocked the pool's lock (a hang).
        struct SpawnsWhenDropped(Arc<BlockingPool>, std::sync::mpsc::Sender<bool>);
        impl Drop for SpawnsWhenDropped {
            fn drop(&mut self) {
                let spawned = self.0.spawn(|| ()).is_some();
                let _ = self.1.send(spawned);
            }
        }
        let pool = Arc::new(pool(1, Duration::from_secs(5)));
        pool.inner.refuse_threads.store(true, Ordering::Relaxed);
        let (sender, spawned) = std::sync::mpsc::channel();
        let captured = SpawnsWhenDropped(pool.clone(), sender);
        let submitter = pool.clone();
        let submitting = std::thread::spawn(move || {
            let (mut cell, _) = submitter
                .spawn(move || drop(captured))
                .expect("not shut down");
            assert!(matches!(cell.try_receive(), Some(None)), "closed unrun");
        });
        let spawned = spawned
            .recv_timeout(Duration::from_secs(10))
            .expect("the drop of the unrun job spawned without a hang");
        assert!(spawned, "the pool accepted the job its drop spawned");
        submitting.join().unwrap();
    }

    #[test]
    fn drop_runs_queued_jobs_and_refuses_new_ones() {
        let pool = pool(1, Duration::from_secs(5));
        let cells: Vec<_> = (0..4)
            .map(|i| {
                pool.spawn(move || {
                    std::thread::sleep(Duration::from_millis(5));
                    i
                })
                .unwrap()
                .0
            })
            .collect();
        let inner = pool.inner.clone();
        drop(pool);
        for (i, mut cell) in cells.into_iter().enumerate() {
            assert!(matches!(cell.try_receive(), Some(Some(Ok(v))) if v == i));
        }
        assert!(crate::sync::lock(&inner.state).shutdown);
        let refused = BlockingPool { inner }.spawn(|| ());
        assert!(refused.is_none());
    }
}
