//! Model of the shutdown in `src/threads/pool.rs`: dropping a pool with
//! work queued runs that work, then every worker leaves.
//!
//! `ThreadPool::drop` is `Registry::terminate` (a Release store of the flag,
//! then `Sleep::wake_all`) followed by joining the workers; the models below
//! drive that protocol at the registry level.
//!
//! Seen to fail:
//! - `worker.rs` as first written (its main loop read `terminate` *after*
//!   its search for work) → `drop_runs_job_queued_before_it`: "queued job
//!   not run before exit: left 0, right 1": the worker finds the injector
//!   empty, the job is injected and `terminate` stored, the worker then
//!   sees the flag and leaves. A real bug, fixed since: `worker.rs` reads
//!   `terminate` before its search, as `run_until_terminated` in `mod.rs`
//!   does.
//! - `Registry::terminate` without `sleep.wake_all()` →
//!   `drop_wakes_sleepers_and_runs_work_spawned_during_shutdown`:
//!   "deadlock; threads = [(Id(0), Blocked), (Id(1), Blocked), (Id(2),
//!   Blocked)]". The two models that run the real worker loop catch it
//!   too ("deadlock", the worker parked) once `SPIN_ROUNDS` is 0 under
//!   loom; with 32 rounds of yields their worker never gets to sleep.
//! - The same first `worker.rs` → `dropped_pool_has_run_spawned_job`:
//!   "spawned job not run before drop returned" (`JoinHandle::join` would
//!   then block forever: the job, and the sender inside it, stay in the
//!   injector).

use std::ptr;

use crate::sync::atomic::{AtomicUsize, Ordering::*};
use crate::sync::deque::Worker;
use crate::sync::Arc;
use crate::threads::job::{HeapJob, JobRef};
use crate::threads::registry::Registry;
use crate::threads::worker::WorkerThread;
use crate::threads::WaitPolicy;
use loom::thread;

/// A registry for `n` workers and their deques.
fn registry(n: usize) -> (Arc<Registry>, Vec<Worker<JobRef>>) {
    let deques: Vec<_> = (0..n).map(|_| Worker::new_lifo()).collect();
    let registry = Registry::new(
        deques.iter().map(Worker::stealer).collect(),
        WaitPolicy::StealAny,
        false,
        0,
        None,
        None,
    );
    (Arc::new(registry), deques)
}

/// A job that counts its runs.
fn counting_job(runs: &Arc<AtomicUsize>) -> JobRef {
    let runs = runs.clone();
    HeapJob::into_job_ref(
        move || {
            runs.fetch_add(1, Relaxed);
        },
        ptr::null(),
    )
}

/// The real worker loop (`WorkerThread::run`, one worker) against a job
/// injected just before the drop: the worker leaves only after it ran the
/// job (shutdown rule 1).
///
/// (With `worker.rs`'s spinning, a worker under loom never gets to sleep
/// while another thread can run, since each spin yields to it; the next
/// model covers shutdown waking sleepers.)
#[test]
fn drop_runs_job_queued_before_it() {
    super::model(|| {
        let (registry, mut deques) = registry(1);
        let worker = thread::spawn({
            let registry = registry.clone();
            let deque = deques.pop().unwrap();
            move || WorkerThread::run(registry, 0, deque)
        });
        let runs = Arc::new(AtomicUsize::new(0));
        registry.inject(counting_job(&runs)); // `pool.spawn(..)`
        registry.terminate(); // `drop(pool)`
        worker.join().unwrap();
        assert_eq!(runs.load(Relaxed), 1, "queued job not run before exit");
    });
}

/// Two workers, possibly asleep, and a drop racing a queued job that
/// queues another one while the pool shuts down: both jobs run, and both
/// workers wake up and leave (`terminate`'s `wake_all` against W4's look at
/// the flag: sleep rule 1).
#[test]
fn drop_wakes_sleepers_and_runs_work_spawned_during_shutdown() {
    super::model(|| {
        let (registry, deques) = registry(2);
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
        let runs = Arc::new(AtomicUsize::new(0));
        let job = {
            let (runs, registry) = (runs.clone(), registry.clone());
            move || {
                runs.fetch_add(1, Relaxed);
                registry.inject(counting_job(&runs));
            }
        };
        registry.inject(HeapJob::into_job_ref(job, ptr::null()));
        registry.terminate();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(runs.load(Relaxed), 2, "a job was left in the queue");
    });
}

/// The same through the public API: `ThreadPool` with one worker (a loom
/// thread; `CURRENT` is a loom thread-local under loom), a spawned job, the
/// pool dropped: `drop` returns only after the job ran.
#[test]
fn dropped_pool_has_run_spawned_job() {
    super::model(|| {
        let pool = crate::threads::ThreadPool::builder()
            .num_threads(1)
            .build()
            .unwrap();
        let handle = pool.spawn(|| 6 * 7);
        drop(pool);
        assert!(
            handle.is_finished(),
            "spawned job not run before drop returned"
        );
        assert_eq!(handle.join().unwrap(), 42);
    });
}
