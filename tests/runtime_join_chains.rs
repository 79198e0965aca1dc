//! Jobs that wait for jobs of another kind, on a runtime with one thread of
//! each kind: a blocking job that waits for a CPU job that joins a blocking
//! job must not need a second blocking thread (blocking.rs rule 7).
#![cfg(feature = "runtime")]

mod runtime_support;

use std::time::Duration;

use runtime_support::within;
use triad::runtime::{spawn_blocking, spawn_cpu};

const LIMIT: Duration = Duration::from_secs(60);

/// The only blocking thread runs a job that waits for a CPU job, which
/// joins a blocking job it spawned: the CPU worker runs that job itself,
/// as a blocking thread would (it was going to wait for it anyway).
#[test]
fn a_blocking_job_waiting_for_a_cpu_job_that_joins_a_blocking_job_does_not_deadlock() {
    within(LIMIT, || {
        let rt = runtime_support::one_of_each();
        let outer = rt.handle().spawn_blocking(|| {
            spawn_cpu(|| spawn_blocking(|| 21).join().unwrap() * 2)
                .join()
                .unwrap()
        });
        assert_eq!(outer.join().unwrap(), 42);
        drop(rt);
    });
}

/// A blocking job run on a CPU worker this way still has the runtime as
/// its context: the free functions inside it reach the same runtime, and
/// a chain of such joins unwinds.
#[test]
fn a_blocking_job_taken_back_by_a_cpu_job_keeps_the_runtime_context() {
    fn chain(depth: u32) -> u32 {
        if depth == 0 {
            return 1;
        }
        // blocking -> CPU -> blocking -> ... each joined by its spawner.
        let inner = spawn_cpu(move || spawn_blocking(move || chain(depth - 1)).join().unwrap());
        inner.join().unwrap() + 1
    }
    within(LIMIT, || {
        let rt = runtime_support::one_of_each();
        let outer = rt.handle().spawn_blocking(|| chain(4));
        assert_eq!(outer.join().unwrap(), 5);
        drop(rt);
    });
}

/// The only CPU worker runs a job that joins a blocking job already started
/// on a blocking thread, which spawns a CPU job and joins it: the CPU
/// worker runs that job while it waits, as it does when it joins a CPU job
/// (threads' spawn rule 3), instead of blocking the pool's only thread.
#[test]
fn a_cpu_job_waiting_for_a_started_blocking_job_that_joins_a_cpu_job_does_not_deadlock() {
    within(LIMIT, || {
        let rt = triad::Runtime::builder()
            .threads(1)
            .processes(1)
            .blocking_threads(2)
            .build()
            .unwrap();
        let outer = rt.handle().spawn_cpu(|| {
            let (started, has_started) = std::sync::mpsc::channel();
            let blocking = spawn_blocking(move || {
                started.send(()).unwrap();
                spawn_cpu(|| 20).join().unwrap() + 1
            });
            // Joined once a blocking thread runs it: nothing to take back.
            has_started.recv().unwrap();
            blocking.join().unwrap() * 2
        });
        assert_eq!(outer.join().unwrap(), 42);
        drop(rt);
    });
}
