//! Model of `src/threads/sleep.rs`: no lost wake-up (sleep rule 1).
//!
//! Seen to fail:
//! - P2 (`fence(SeqCst)` in `notify_new_work`) removed → both
//!   `*_lock_free_queue` models: "deadlock; threads = [(Id(0), Blocked),
//!   (Id(1), Blocked), (Id(2), Blocked)]" (both workers parked, the job
//!   queued). `injected_job_always_runs` still passes: the stand-in
//!   injector's mutex orders the push and W4 by itself, which is why the
//!   lock-free models exist.
//! - W3 (the worker's `fence(SeqCst)`) removed → all three: deadlock.
//! - W2 (`sleepers += 1`) moved after W4 → all three: deadlock.

use std::ptr;

use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::sync::deque::Worker;
use crate::sync::Arc;
use crate::threads::job::{HeapJob, JobRef};
use crate::threads::registry::Registry;
use crate::threads::sleep::Sleep;
use crate::threads::WaitPolicy;
use loom::thread;

/// A queue as lock-free as crossbeam's: a job count, published with a
/// Release store (crossbeam's `Worker::push` stores `back` with Release)
/// and looked at with a plain Acquire load (crossbeam's `is_empty` is no
/// stronger than that plus a fence). A lock-based queue would order the
/// publisher and the sleeper by itself and hide a missing fence.
struct Jobs {
    pending: AtomicUsize,
    ran: AtomicUsize,
    /// Set by whoever ran the job, to let the workers leave.
    done: AtomicBool,
}

impl Jobs {
    fn try_take(&self) -> bool {
        let mut n = self.pending.load(Relaxed);
        while n > 0 {
            match self.pending.compare_exchange(n, n - 1, Acquire, Relaxed) {
                Ok(_) => return true,
                Err(now) => n = now,
            }
        }
        false
    }
}

/// Two workers with nothing to do fall asleep with
/// `Sleep::sleep(i, false, || queue non-empty)` while an outside thread
/// publishes `JOBS` jobs, each followed by `notify_new_work`. Every job
/// runs: for each, either a worker's W4 sees it or the publisher's P3 sees
/// a sleeper. Whoever runs the last one lets everyone leave the way
/// termination does (a Release store, then `wake_all`), so a wake-up after
/// the jobs cannot hide one lost before.
fn published_jobs_always_run<const JOBS: usize>() {
    super::model(|| {
        let sleep = Arc::new(Sleep::new(2));
        let jobs = Arc::new(Jobs {
            pending: AtomicUsize::new(0),
            ran: AtomicUsize::new(0),
            done: AtomicBool::new(false),
        });
        let workers: Vec<_> = (0..2)
            .map(|index| {
                let (sleep, jobs) = (sleep.clone(), jobs.clone());
                thread::spawn(move || loop {
                    if jobs.try_take() {
                        if jobs.ran.fetch_add(1, Relaxed) + 1 == JOBS {
                            jobs.done.store(true, Release);
                            sleep.wake_all();
                        }
                        continue;
                    }
                    if jobs.done.load(Acquire) {
                        return;
                    }
                    let _ = sleep.sleep(index, false, || {
                        jobs.pending.load(Acquire) != 0 || jobs.done.load(Relaxed)
                    });
                })
            })
            .collect();
        for _ in 0..JOBS {
            jobs.pending.fetch_add(1, Release); // P1
            sleep.notify_new_work(0); // P2–P5
        }
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(jobs.ran.load(Relaxed), JOBS);
    });
}

/// One job, two sleepy workers, an outside publisher.
#[test]
fn published_job_always_runs_lock_free_queue() {
    published_jobs_always_run::<1>();
}

/// Two jobs in a row: the second notify finds one worker claimed or busy.
#[test]
fn two_published_jobs_always_run_lock_free_queue() {
    published_jobs_always_run::<2>();
}

/// The same race through the real registry: `Registry::inject` (the
/// stand-in injector, then `notify_new_work`) against two workers running
/// the worker loop (W4 = `has_any_work() || terminate`). The job itself
/// terminates the pool once it ran.
#[test]
fn injected_job_always_runs() {
    super::model(|| {
        let deques = [Worker::<JobRef>::new_lifo(), Worker::<JobRef>::new_lifo()];
        let registry = Arc::new(Registry::new(
            deques.iter().map(Worker::stealer).collect(),
            WaitPolicy::StealAny,
            false,
            0,
            None,
            None,
        ));
        let workers: Vec<_> = deques
            .into_iter()
            .enumerate()
            .map(|(index, deque)| {
                let registry = registry.clone();
                thread::spawn(move || {
                    super::run_until_terminated(&registry, index, || {
                        deque.pop().or_else(|| registry.steal_injected(&deque))
                    });
                })
            })
            .collect();
        let ran = Arc::new(AtomicUsize::new(0));
        let job = {
            let (ran, registry) = (ran.clone(), registry.clone());
            move || {
                ran.fetch_add(1, Relaxed);
                registry.terminate();
            }
        };
        registry.inject(HeapJob::into_job_ref(job, ptr::null()));
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(ran.load(Relaxed), 1);
    });
}
