//! One worker's life: its loop, how it finds work, how it waits, and the
//! private join frames it makes public only when someone is hungry.
//!
//! # The loop
//!
//! ```text
//!  ┌─► pop own deque (newest first) ─► injector ─► overflow ─► steal from a
//!  │   random other worker (oldest first)
//!  │        │ found                                  │ nothing
//!  │        ▼                                        ▼
//!  └─── execute it                    hungry: spin a few rounds, then sleep
//!                                     (sleep.rs); leave if the pool ends
//! ```
//!
//! The same loop runs when a worker *waits* (for the stolen half of a join,
//! for a scope), until the awaited latch is set; the wait policy
//! (`wait_policy.rs`) may narrow what it takes.
//!
//! # Private join frames
//!
//! Each worker keeps the list of its open join frames (`frame.rs`) and
//! publishes one only when it is worth it:
//!
//! 1. A join looks at `hungry`, the number of workers that found nothing to
//!    do (one Relaxed load of a line that changes only when workers go idle
//!    or find work), and promotes its *oldest* private frame if it is
//!    non-zero and its own deque is empty (what it published before has not
//!    been taken yet). The oldest frame is the biggest piece of work.
//! 2. The outermost join of a worker's stack publishes its second half at
//!    once, hungry or not. A second half is otherwise published only at a
//!    later join (or wait) of the same worker, so a first half that runs a
//!    long loop without joining would keep it private even while others idle;
//!    at the root, where the halves are biggest, publishing costs nothing
//!    that matters. Deeper down, a first half must not *wait* for its own
//!    second half (it may never be published): `join` is for independent
//!    halves.
//! 3. A worker about to wait publishes all its private frames: it cannot
//!    run them itself until its wait ends, others can.
//!
//! # Held scope shares
//!
//! Each finished scope job gives back one share of its scope's count
//! (scope rule 1). A locked decrement per job, on a line every worker
//! running the scope's jobs writes, was a large part of a thief's time in
//! a loop of small spawns (benchmark W2). So the worker that ran the job
//! *holds* the share and gives back all it holds in one decrement later:
//!
//! ```text
//!   held: none ──job of scope S done──► (S, 1) ──another job of S done──► (S, 2) ...
//!     ▲                                   │
//!     └────── release: count(S) -= n ─────┘  (H2's moments)
//! ```
//!
//! 4. A worker holds shares of one scope at a time, only ones its own
//!    finished jobs gave back. While it holds them the count cannot reach
//!    zero, so the scope (and its latch) stay alive (scope rules 1, 2).
//! 5. It releases them, before anything else, when it is about to run a
//!    job whose lineage is not the held scope's node; when its search for
//!    work comes back empty (before it spins, sleeps or leaves its loop);
//!    and when a wait returns to the code that waited. So it holds shares
//!    only while it runs jobs that belong to the held scope (the scope's
//!    own jobs, and the second halves of joins made by its body) or looks
//!    for work: code of that scope, which cannot be waiting for the
//!    scope's end, since the scope cannot end before it.
//! 6. The release is `CountLatch::release` (AcqRel), so each held job's
//!    writes happen before the owner sees the count reach zero, as with one
//!    decrement per job.
//!
//! The loom model `loom-tests/threads_scope.rs` (`held_shares_...`) runs the
//! real pool: a worker that holds shares when it runs out of work must
//! release them, or the scope never ends. The test
//! `a_worker_gives_back_a_scopes_shares_before_it_runs_unrelated_work`
//! (`tests/threads_scope.rs`) checks the release before another lineage's
//! job: without it, that job (which waits for the scope's end) waits in
//! vain.

use std::cell::Cell;
use std::ptr;

use super::frame::{FrameHead, JoinFrame};
use super::job::{contain_panic, JobRef, Lineage};
use super::latch::{CoreLatch, CountLatch};
use super::registry::{Registry, WorkerCounters};
use super::sleep::SleepOutcome;
use super::wait_policy::WaitPolicy;
use crate::sync::atomic::Ordering::*;
use crate::sync::deque::{Steal, Worker};
use crate::sync::Arc;

/// Rounds of looking for work before a hungry worker sleeps.
#[cfg(not(loom))]
const SPIN_ROUNDS: u32 = 32;
/// Under loom every spin yields to the other threads, so a spinning worker
/// would never reach the sleep path the models are there to check.
#[cfg(loom)]
const SPIN_ROUNDS: u32 = 0;
/// `spin_loop` hints between two rounds.
const SPINS_PER_ROUND: u32 = 16;

crate::sync::const_thread_local! {
    /// The worker running on this thread (null on other threads).
    static CURRENT: Cell<*const WorkerThread> = Cell::new(ptr::null());
}

/// Forget, in a child forked from a worker thread, that the thread is a
/// worker: its pool's other threads do not exist there, and its queues and
/// sleep states are copies, with whatever lock another thread held at the
/// fork. Pool calls on that thread then go the way of any thread outside a
/// pool: `join`, `scope` and `spawn` to the global pool, rebuilt for the
/// child (global.rs), and a `ThreadPool`'s methods to their `is_forked`
/// error; `current_thread_index()` is `None`. Runs in the child before
/// `fork` returns there, single-threaded, and only writes this thread's
/// own (already allocated) thread-local: async-signal-safe.
#[cfg(not(loom))]
extern "C" fn forget_the_worker_in_a_forked_child() {
    CURRENT.with(|c| c.set(ptr::null()));
}

/// Register [`forget_the_worker_in_a_forked_child`] (once per process,
/// before the first worker starts).
#[cfg(not(loom))]
pub(crate) fn install_fork_handler() -> std::io::Result<()> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    let mut result = Ok(());
    INSTALL.call_once(|| {
        result = crate::sys::fork::run_in_child_after_fork(forget_the_worker_in_a_forked_child);
    });
    result
}

/// What a waiting worker waits for.
#[derive(Clone, Copy)]
pub(crate) struct Wait<'a> {
    /// The latch that ends the wait; `None` for the main loop.
    pub(crate) latch: Option<&'a CoreLatch>,
    /// The awaited job or scope (its id), for the restricted policies.
    pub(crate) target: *const (),
    /// Whether `target` is a scope (its direct children are its own jobs).
    pub(crate) is_scope: bool,
    /// Whether the awaited job is a root in the injector (a `JoinHandle`).
    pub(crate) target_in_injector: bool,
    pub(crate) policy: WaitPolicy,
}

impl Wait<'_> {
    /// A worker's main loop: no latch, any work, until the pool shuts down
    /// and every queue is empty.
    const MAIN_LOOP: Wait<'static> = Wait {
        latch: None,
        target: ptr::null(),
        is_scope: false,
        target_in_injector: false,
        policy: WaitPolicy::StealAny,
    };

    fn is_restricted(&self) -> bool {
        self.latch.is_some() && self.policy.is_restricted()
    }

    /// Whether a restricted waiter may run `job` (wait-policy rules).
    fn may_run(&self, job: &JobRef) -> bool {
        if !self.is_restricted() {
            return true;
        }
        let related = job.id() == self.target // wait-policy rule 4
            || match self.policy {
                WaitPolicy::StealAny => true,
                // SAFETY: `job` is pending (we hold it), so its lineage chain
                // is alive (job rule 5).
                WaitPolicy::Descendants => unsafe {
                    Lineage::descends_from(job.lineage(), self.target)
                },
                WaitPolicy::NoSteal => {
                    self.is_scope
                        && !job.lineage().is_null()
                        // SAFETY: as above, the job's lineage node is alive.
                        && unsafe { (*job.lineage()).id } == self.target
                }
            };
        // Wait-policy rule 6: once the latch is set, the target may be gone
        // and its address reused, so a match proves nothing.
        related && !self.latch.is_some_and(CoreLatch::probe)
    }
}

/// Whether handing work to another worker would help now, asked from the
/// current thread: on a pool's worker, whether one of its pool's workers is
/// hungry (rule 1's test); outside any pool, true (a `join` from there runs
/// in the global pool). Used by the adaptive splitting of `slice.rs`.
#[inline]
pub(crate) fn current_worker_is_wanted() -> bool {
    // SAFETY: a non-null current worker is alive (see `WorkerThread::current_in`).
    match unsafe { WorkerThread::current().as_ref() } {
        Some(wt) => wt.someone_is_hungry(),
        None => true,
    }
}

/// The state of one worker thread, on that thread's stack.
pub(crate) struct WorkerThread {
    pub(crate) deque: Worker<JobRef>,
    pub(crate) index: usize,
    pub(crate) registry: Arc<Registry>,
    rng: Cell<u64>,
    /// The innermost open join frame (frame rule 1: ours alone).
    top: Cell<*const FrameHead>,
    lineage: Cell<*const Lineage>,
    /// Scope shares this worker holds (rules 4-6).
    held: Cell<HeldShares>,
}

/// Shares of one scope's count held by a worker (rules 4-6).
#[derive(Clone, Copy)]
struct HeldShares {
    /// The scope's count, or null if none are held.
    latch: *const CountLatch,
    /// The scope's lineage node: its jobs' lineage.
    node: *const Lineage,
    shares: usize,
}

impl HeldShares {
    const NONE: HeldShares = HeldShares {
        latch: ptr::null(),
        node: ptr::null(),
        shares: 0,
    };
}

impl WorkerThread {
    /// The worker running on this thread, or null.
    #[inline]
    pub(crate) fn current() -> *const WorkerThread {
        CURRENT.with(Cell::get)
    }

    /// The worker of `registry` running on this thread, if there is one.
    #[inline]
    pub(crate) fn current_in(registry: &Registry) -> Option<&'static WorkerThread> {
        let wt = Self::current();
        // SAFETY: a non-null CURRENT points at the WorkerThread on this
        // thread's stack in `run`, which outlives everything that runs on
        // the thread while it is set.
        let wt = unsafe { wt.as_ref()? };
        ptr::eq(Arc::as_ptr(&wt.registry), registry).then_some(wt)
    }

    /// The worker of any pool running on this thread, if that pool's
    /// threads exist in this process (not the copy of a worker in a forked
    /// child, whose pool's other threads do not).
    #[inline]
    pub(crate) fn current_usable() -> Option<&'static WorkerThread> {
        // SAFETY: as in `current_in`.
        let wt = unsafe { Self::current().as_ref()? };
        wt.registry.is_usable_here().then_some(wt)
    }

    /// The body of worker thread `index`.
    pub(crate) fn run(registry: Arc<Registry>, index: usize, deque: Worker<JobRef>) {
        let worker = WorkerThread {
            deque,
            index,
            registry,
            rng: Cell::new(
                0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
            ),
            top: Cell::new(ptr::null()),
            lineage: Cell::new(ptr::null()),
            held: Cell::new(HeldShares::NONE),
        };
        CURRENT.with(|c| c.set(&worker));
        crate::tracepoint::pool_worker_started(index);
        // A panicking hook must not kill the worker: it is caught and ignored
        // (its payload's drop too, as for a job: job rule 7).
        if let Some(hook) = &worker.registry.start_hook {
            contain_panic(|| hook(index));
        }
        worker.wait_until(&Wait::MAIN_LOOP);
        crate::tracepoint::pool_worker_exiting(index);
        if let Some(hook) = &worker.registry.exit_hook {
            contain_panic(|| hook(index));
            // The hook runs on a worker, so a job it spawns goes to this
            // pool, whose other workers may be gone: drain again, or that
            // job's handle would never get an outcome (spawn rule 1).
            worker.wait_until(&Wait::MAIN_LOOP);
        }
        CURRENT.with(|c| c.set(ptr::null()));
    }

    fn counters(&self) -> &WorkerCounters {
        &self.registry.counters[self.index]
    }

    /// The lineage node of the job running now (null at the root).
    #[inline]
    pub(crate) fn lineage(&self) -> *const Lineage {
        self.lineage.get()
    }

    /// Make `node` the current lineage; returns the previous one to restore.
    #[inline]
    pub(crate) fn enter_lineage(&self, node: *const Lineage) -> *const Lineage {
        self.lineage.replace(node)
    }

    #[inline]
    pub(crate) fn restore_lineage(&self, saved: *const Lineage) {
        self.lineage.set(saved);
    }

    // ----- private join frames (frame.rs, and the rules above) -----

    /// The innermost open join frame, or null.
    #[inline]
    pub(crate) fn top_frame(&self) -> *const FrameHead {
        self.top.get()
    }

    /// Link a new innermost frame (frame rule 2). The list keeps a pointer
    /// to the whole frame (not just its head), so that the `JobRef` made
    /// from it on promotion may reach the closure and the result.
    #[inline]
    pub(crate) fn link_frame<F, R>(&self, frame: &JoinFrame<F, R>) {
        debug_assert!(ptr::eq(frame.head.prev, self.top.get()));
        self.top
            .set(frame as *const JoinFrame<F, R> as *const FrameHead);
    }

    /// Unlink the innermost frame (frame rule 2).
    #[inline]
    pub(crate) fn unlink_frame<F, R>(&self, frame: &JoinFrame<F, R>) {
        debug_assert!(
            ptr::eq(frame.head.id(), self.top.get() as *const ()),
            "join frames must nest (frame rule 2)"
        );
        self.top.set(frame.head.prev);
    }

    /// Whether this worker should give a frame away now (rule 1 above).
    #[inline]
    pub(crate) fn someone_is_hungry(&self) -> bool {
        self.registry.hungry.load(Relaxed) != 0
    }

    /// Visit the private frames, newest first (frame rule 3: they are the
    /// top of the list, above the promoted ones).
    fn for_each_private_frame(&self, mut visit: impl FnMut(*const FrameHead)) {
        let mut frame = self.top.get();
        while !frame.is_null() {
            // SAFETY: linked frames are alive: each is unlinked before its
            // join returns (frame rules 2, 5); only this thread walks the list.
            let head = unsafe { &*frame };
            if head.promoted.get() {
                break;
            }
            visit(frame);
            frame = head.prev;
        }
    }

    /// Publish the oldest private frame if our deque is empty (rule 1).
    #[cold]
    pub(crate) fn promote_oldest(&self) {
        if !self.deque.is_empty() {
            return;
        }
        let mut oldest: *const FrameHead = ptr::null();
        self.for_each_private_frame(|frame| oldest = frame);
        if !oldest.is_null() {
            self.publish_frame(oldest);
            self.registry.sleep.notify_new_work(self.index + 1);
        }
    }

    /// Publish every private frame, oldest first (rules 2, 3).
    #[cold]
    pub(crate) fn promote_all(&self) {
        let mut newest_first = Vec::new();
        self.for_each_private_frame(|frame| newest_first.push(frame));
        for &frame in newest_first.iter().rev() {
            self.publish_frame(frame);
        }
        if !newest_first.is_empty() {
            self.registry.sleep.notify_new_work(self.index + 1);
        }
    }

    /// Promote a private frame and push its job on our deque.
    fn publish_frame(&self, frame: *const FrameHead) {
        // SAFETY: a linked frame (alive: frame rule 5), ours (frame rule 1),
        // private (so never promoted before: frame rule 3), and the pointer
        // covers the whole frame (`link_frame`).
        let job = unsafe { FrameHead::promote(frame, &self.registry, self.index) };
        self.deque.push(job);
        WorkerCounters::bump(&self.counters().promotions);
    }

    // ----- held scope shares (rules 4-6 above) -----

    /// A job of the scope whose count is `latch` and whose lineage node is
    /// `node` is done: hold its share (rule 4).
    #[inline]
    pub(crate) fn hold_share(&self, latch: &CountLatch, node: *const Lineage) {
        let held = self.held.get();
        if ptr::eq(held.latch, latch) {
            self.held.set(HeldShares {
                shares: held.shares + 1,
                ..held
            });
            return;
        }
        self.release_held(); // rule 4: one scope at a time
        self.held.set(HeldShares {
            latch,
            node,
            shares: 1,
        });
    }

    /// Give back the shares held, if any (rule 5).
    #[inline]
    pub(crate) fn release_held(&self) {
        if self.held.get().shares != 0 {
            self.release_held_cold();
        }
    }

    #[cold]
    fn release_held_cold(&self) {
        let held = self.held.replace(HeldShares::NONE);
        // SAFETY: the count is alive while shares of it are out, and these
        // are (rule 4); the release is our last access to it (latch rule 3).
        unsafe { CountLatch::release(held.latch, held.shares) };
    }

    // ----- publishing and running jobs -----

    /// Publish a job on this worker's deque.
    pub(crate) fn push(&self, job: JobRef) {
        self.deque.push(job);
        self.registry.sleep.notify_new_work(self.index + 1);
    }

    /// Run a job taken from a queue.
    ///
    /// # Safety
    ///
    /// The job must be alive (job rule 2) and executed only here (job rule 1).
    #[inline]
    pub(crate) unsafe fn execute(&self, job: JobRef) {
        if !ptr::eq(job.lineage(), self.held.get().node) {
            self.release_held(); // rule 5: not the held scope's job
        }
        WorkerCounters::bump(&self.counters().jobs_executed);
        let node = Lineage {
            id: job.id(),
            parent: job.lineage(),
        };
        let saved = self.enter_lineage(&node);
        let _run = crate::tracepoint::job_run();
        // SAFETY: the caller's guarantee. Jobs never unwind (job rule 7),
        // so the lineage is always restored.
        unsafe { job.execute() };
        self.restore_lineage(saved);
    }

    /// After the first half of a join returned and its frame had been
    /// promoted: take the second half back if nobody stole it (true), or
    /// run other work until its latch is set (false).
    pub(crate) fn take_back_or_wait(
        &self,
        id: *const (),
        latch: &CoreLatch,
        policy: WaitPolicy,
    ) -> bool {
        let wait = Wait {
            latch: Some(latch),
            target: id,
            is_scope: false,
            target_in_injector: false,
            policy,
        };
        loop {
            if latch.probe() {
                self.release_held(); // rule 5: back to the code that waited
                return false;
            }
            match self.deque.pop() {
                // Job rule 1: it is ours again, unexecuted.
                Some(job) if job.id() == id => {
                    self.release_held(); // rule 5: back to the code that waited
                    return true;
                }
                // SAFETY: jobs in our deque are alive and ours to execute.
                Some(job) if wait.may_run(&job) => unsafe { self.execute(job) },
                Some(job) => self.registry.push_overflow(job),
                None => {
                    self.release_held(); // rule 5: nothing found
                    self.wait_until(&wait);
                    return false;
                }
            }
        }
    }

    /// Run jobs until `wait.latch` is set (or, for the main loop, until the
    /// pool terminates and no work is left).
    pub(crate) fn wait_until(&self, wait: &Wait<'_>) {
        if wait.latch.is_some_and(CoreLatch::probe) {
            return;
        }
        self.wait_until_cold(wait);
    }

    #[cold]
    fn wait_until_cold(&self, wait: &Wait<'_>) {
        // Everything below us on the frame stack is a join whose second half
        // others could run while we wait: publish them all (worker rule 3).
        self.promote_all(); // rule 3
        let mut hungry = false;
        let mut rounds = 0;
        loop {
            if wait.latch.is_some_and(CoreLatch::probe) {
                break;
            }
            // Read `terminate` *before* looking for work: a job injected
            // just before the pool was told to end must be found by the
            // search that follows this read (the loom model
            // `threads_pool_drop` caught the opposite order losing it).
            // Acquire pairs with the Release store in `Registry::terminate`,
            // which comes after every job the dropping thread injected.
            let terminating = wait.latch.is_none() && self.registry.terminate.load(Acquire);
            if let Some(job) = self.find_work(wait) {
                if hungry {
                    self.registry.hungry.fetch_sub(1, Relaxed);
                    hungry = false;
                }
                rounds = 0;
                // SAFETY: `find_work` hands out jobs taken from a queue,
                // alive (job rule 2) and now ours alone (job rule 1).
                unsafe { self.execute(job) };
                continue;
            }
            self.release_held(); // rule 5: nothing found
            if terminating {
                break; // told to end, and nothing was left after being told
            }
            if !hungry {
                self.registry.hungry.fetch_add(1, Relaxed);
                hungry = true;
            }
            if rounds < SPIN_ROUNDS {
                rounds += 1;
                for _ in 0..SPINS_PER_ROUND {
                    crate::sync::spin_loop();
                }
                continue;
            }
            self.sleep(wait);
            rounds = 0;
        }
        if hungry {
            self.registry.hungry.fetch_sub(1, Relaxed);
        }
        self.release_held(); // rule 5: back to the code that waited
    }

    /// Fall asleep through the sleep protocol (sleep.rs) and the latch's.
    fn sleep(&self, wait: &Wait<'_>) {
        if let Some(latch) = wait.latch {
            if !latch.get_sleepy() {
                return; // set meanwhile (latch rule 1)
            }
        }
        WorkerCounters::bump(&self.counters().sleeps);
        let _asleep = crate::tracepoint::sleep();
        let outcome = self
            .registry
            .sleep
            .sleep(self.index, wait.is_restricted(), || {
                // W4: after the fence. Relaxed is enough for `terminate`: the
                // fence pairs with the one in `wake_all` (sleep rule 1).
                self.has_work_for(wait)
                    || (wait.latch.is_none() && self.registry.terminate.load(Relaxed))
                    || wait.latch.is_some_and(|latch| !latch.fall_asleep())
            });
        if outcome == SleepOutcome::Slept {
            WorkerCounters::bump(&self.counters().wakeups);
        }
        if let Some(latch) = wait.latch {
            latch.wake_up();
        }
    }

    /// Whether a job this waiter may run could be somewhere (W4).
    fn has_work_for(&self, wait: &Wait<'_>) -> bool {
        if !self.deque.is_empty() {
            return true;
        }
        if !wait.is_restricted() {
            return self.registry.has_any_work();
        }
        self.others()
            .any(|victim| !self.registry.stealers[victim].is_empty())
            || (wait.target_in_injector && !self.registry.injector.is_empty())
            || self.registry.overflow_has(|job| wait.may_run(job))
    }

    /// Indices of the other workers, starting at a random one.
    fn others(&self) -> impl Iterator<Item = usize> + '_ {
        let n = self.registry.num_threads();
        // xorshift64*: victims chosen at random spread the thieves.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        let start = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % n;
        (0..n)
            .map(move |k| (start + k) % n)
            .filter(move |&v| v != self.index)
    }

    /// Look for a job this waiter may run (see the module's picture).
    fn find_work(&self, wait: &Wait<'_>) -> Option<JobRef> {
        if !wait.is_restricted() {
            return self
                .deque
                .pop()
                .or_else(|| self.registry.steal_injected(&self.deque))
                .or_else(|| self.registry.take_overflow(|_| true))
                .or_else(|| self.steal_from_others(wait));
        }
        // A restricted waiter (wait-policy rules 1, 2).
        while let Some(job) = self.deque.pop() {
            if wait.may_run(&job) {
                return Some(job);
            }
            self.registry.push_overflow(job);
        }
        if let Some(job) = self.registry.take_overflow(|job| wait.may_run(job)) {
            return Some(job);
        }
        if wait.target_in_injector {
            loop {
                match self.registry.injector.steal() {
                    Steal::Success(job) if wait.may_run(&job) => return Some(job),
                    Steal::Success(job) => self.registry.push_overflow(job),
                    Steal::Empty => break,
                    Steal::Retry => crate::sync::spin_loop(),
                }
            }
        }
        self.steal_from_others(wait)
    }

    /// Steal the oldest job of another worker's deque.
    fn steal_from_others(&self, wait: &Wait<'_>) -> Option<JobRef> {
        if self.registry.num_threads() < 2 {
            return None;
        }
        loop {
            let mut retry = false;
            for victim in self.others() {
                let stealer = &self.registry.stealers[victim];
                // An unrestricted thief takes up to half of the victim's
                // deque in one go (one contended CAS for many jobs), keeps
                // the rest on its own deque, where others may steal them
                // back. A restricted one takes one job at a time, so it never
                // holds jobs it may not run.
                let stolen = if wait.is_restricted() {
                    stealer.steal()
                } else {
                    stealer.steal_batch_and_pop(&self.deque)
                };
                match stolen {
                    Steal::Success(job) => {
                        WorkerCounters::bump(&self.counters().steals);
                        crate::tracepoint::steal(victim);
                        if wait.may_run(&job) {
                            return Some(job);
                        }
                        self.registry.push_overflow(job); // wait-policy rule 1
                    }
                    Steal::Empty => {}
                    Steal::Retry => retry = true,
                }
            }
            if !retry {
                return None;
            }
            crate::sync::spin_loop();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::job::HeapJob;
    use super::*;

    /// Wait-policy rule 6: a job at the target's address is the target only
    /// while the wait's latch is unset; once it is set, the address may be
    /// an unrelated job's that reused the finished target's heap block.
    #[test]
    fn a_restricted_waiter_whose_latch_is_set_runs_no_match() {
        let ran = Arc::new(crate::sync::atomic::AtomicUsize::new(0));
        let counter = ran.clone();
        let job = HeapJob::into_job_ref(
            move || {
                counter.fetch_add(1, Relaxed);
            },
            ptr::null(),
        );
        let latch = CoreLatch::new();
        let wait_for = |policy| Wait {
            latch: Some(&latch),
            target: job.id(),
            is_scope: false,
            target_in_injector: true,
            policy,
        };
        for policy in [WaitPolicy::Descendants, WaitPolicy::NoSteal] {
            assert!(
                wait_for(policy).may_run(&job),
                "{policy:?}: the target itself"
            );
        }
        // SAFETY: `latch` is alive, and only probed afterwards (latch rule 3
        // is about a latch owned by a waiter that may return; this one is
        // ours).
        let _ = unsafe { CoreLatch::set(&latch) };
        for policy in [WaitPolicy::Descendants, WaitPolicy::NoSteal] {
            assert!(
                !wait_for(policy).may_run(&job),
                "{policy:?}: after the latch"
            );
        }
        assert!(
            wait_for(WaitPolicy::StealAny).may_run(&job),
            "StealAny runs anything"
        );
        // SAFETY: the job was never queued: ours alone, alive, run once.
        unsafe { job.execute() };
        assert_eq!(ran.load(Relaxed), 1);
    }
}
