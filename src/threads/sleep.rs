//! How idle workers fall asleep, and how new work wakes them: no lost
//! wake-ups, no CPU burnt while idle.
//!
//! # The problem
//!
//! A worker that finds no work must stop burning CPU (an idle pool should
//! cost nothing: benchmark W6), but a job published just as it decides to
//! sleep must not sit in a queue while every worker sleeps (a lost wake-up).
//! And waking must be cheap for the publisher in the common case where
//! nobody sleeps: one load, no syscall.
//!
//! # The protocol
//!
//! Each worker has a `sleeping` flag and a [`Parker`]; the pool counts
//! sleepers. A worker with nothing to do first spins a little (a job that
//! arrives within a few microseconds then costs no syscall at all), then:
//!
//! ```text
//!  worker (falling asleep)                 publisher (new job)
//!  ───────────────────────                 ───────────────────
//!  W1 sleeping[i] = true                   P1 push the job on a deque
//!  W2 sleepers += 1                        P2 fence(SeqCst)
//!  W3 fence(SeqCst)                        P3 if sleepers == 0: done
//!  W4 look at every queue (and the latch   P4 pick a worker with
//!     it waits for, and `terminate`)          sleeping[j].swap(false) == true
//!     ─ found something: cancel, go on     P5 sleepers -= 1, unpark(j)
//!  W5 park()
//!  W6 if sleeping[i].swap(false): sleepers -= 1   (woken by a latch or by
//!                                                  termination, not by P4)
//! ```
//!
//! # Rules
//!
//! 1. **No lost wake-up.** W3 and P2 are SeqCst fences, so they are totally
//!    ordered. If W3 comes first, P3 reads a sleeper count that includes
//!    W2, and P4 finds worker `i` (or another sleeper, which is as good). If
//!    P2 comes first, W4 sees the job pushed at P1. Either the worker sees
//!    the job, or the publisher sees the worker.
//! 2. **One wake-up per claim.** A sleeper is claimed by whoever swaps its
//!    flag from true to false: a publisher (P4), a latch setter or
//!    termination ([`Sleep::wake_worker`]), or the worker itself when it
//!    cancels (W4) or wakes (W6). The claimer decrements `sleepers`, so it is
//!    decremented exactly once per W2.
//! 3. **The parker keeps the token, and no token is left over.** An
//!    `unpark` that comes before the `park` at W5 is not lost (parker rule
//!    1). A worker that cancels at W4 after someone else already claimed it
//!    knows an `unpark` is on its way (a claimer always unparks right after
//!    its claim), so it consumes that token at once; otherwise its next
//!    sleep, perhaps at the start of a long idle period, would end at once
//!    for nothing (a spurious wake-up benchmark W6 would count).
//! 4. **A cheap common case.** With nobody asleep, publishing costs the fence
//!    at P2 and one load of a counter that only changes when workers fall
//!    asleep or wake.
//!
//! The loom model `loom-tests/threads_sleep.rs` checks rule 1 with two
//! workers and an outside publisher.

use crate::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering::*};
use crate::sync::parker::Parker;
use crate::sync::CachePadded;

/// One worker's sleep state.
struct WorkerSleepState {
    sleeping: AtomicBool,
    /// Set while the worker sleeps inside a restricted wait: new work of
    /// any kind does not wake it (wait-policy rule 3).
    restricted: AtomicBool,
    parker: Parker,
}

/// The pool's sleep state.
pub(crate) struct Sleep {
    sleepers: CachePadded<AtomicUsize>,
    workers: Box<[CachePadded<WorkerSleepState>]>,
}

/// What happened when a worker tried to sleep.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SleepOutcome {
    /// W4 found work (or a reason to stop) and the worker did not park.
    Cancelled,
    /// The worker parked and was woken.
    Slept,
}

impl Sleep {
    pub(crate) fn new(num_workers: usize) -> Self {
        Sleep {
            sleepers: CachePadded(AtomicUsize::new(0)),
            workers: (0..num_workers)
                .map(|_| {
                    CachePadded(WorkerSleepState {
                        sleeping: AtomicBool::new(false),
                        restricted: AtomicBool::new(false),
                        parker: Parker::new(),
                    })
                })
                .collect(),
        }
    }

    /// Steps W1–W6 for worker `index`. `must_stay_awake` is W4: it looks at
    /// every queue, the awaited latch and termination, after the fence.
    pub(crate) fn sleep(
        &self,
        index: usize,
        restricted: bool,
        must_stay_awake: impl FnOnce() -> bool,
    ) -> SleepOutcome {
        let me = &self.workers[index];
        // Read by P4, after P2.
        me.restricted.store(restricted, Relaxed);
        // W1. A swap rather than a store: the same effect, but loom (whose
        // model of a plain store racing another thread's swap is weaker than
        // the C++ rules, tokio-rs/loom#254) then explores it correctly. It
        // costs nothing here: a locked RMW and a fence follow anyway.
        let _ = me.sleeping.swap(true, Relaxed);
        // W2.
        self.sleepers.fetch_add(1, Relaxed);
        // W3: pairs with P2 (rule 1). Orders W1/W2 before the loads of W4.
        fence(SeqCst);
        if must_stay_awake() {
            // W4: cancel (rule 2). If someone claimed us first, take the
            // token its unpark leaves (rule 3): it follows the claim at once.
            if !self.claim(index) {
                me.parker.park();
            }
            return SleepOutcome::Cancelled;
        }
        me.parker.park(); // W5
        self.claim(index); // W6
        SleepOutcome::Slept
    }

    /// Claim worker `index`'s sleep, if nobody has: rule 2.
    #[inline]
    fn claim(&self, index: usize) -> bool {
        // AcqRel: Acquire so the claimer sees W1/W2 done; Release is
        // irrelevant but harmless. The unpark that follows synchronises the
        // woken worker with the claimer.
        if self.workers[index].sleeping.swap(false, AcqRel) {
            self.sleepers.fetch_sub(1, Relaxed);
            true
        } else {
            false
        }
    }

    /// P2–P5: a job was just published; wake one sleeper if there is one.
    #[inline]
    pub(crate) fn notify_new_work(&self, hint: usize) {
        // P2: pairs with W3 (rule 1).
        fence(SeqCst);
        if self.sleepers.load(Relaxed) == 0 {
            return; // P3 (rule 4)
        }
        self.wake_any(hint);
    }

    #[cold]
    fn wake_any(&self, hint: usize) {
        let n = self.workers.len();
        for k in 0..n {
            let j = (hint + k) % n;
            // Wait-policy rule 3: a restricted waiter could not run the job.
            if self.workers[j].restricted.load(Relaxed) {
                continue;
            }
            if self.claim(j) {
                crate::tracepoint::wake(j);
                self.workers[j].parker.unpark(); // P5
                return;
            }
        }
    }

    /// Wake worker `index` if it sleeps (a latch it waits on was set, or the
    /// pool terminates). The caller has already made the reason visible with
    /// a Release store or swap.
    pub(crate) fn wake_worker(&self, index: usize) {
        // The caller's store precedes this fence; the worker's W4 follows its
        // W3 fence: same Dekker argument as rule 1.
        fence(SeqCst);
        if self.claim(index) {
            crate::tracepoint::wake(index);
            self.workers[index].parker.unpark();
        }
    }

    /// Wake every sleeping worker (termination).
    pub(crate) fn wake_all(&self) {
        for index in 0..self.workers.len() {
            self.wake_worker(index);
        }
    }
}
