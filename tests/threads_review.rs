//! Found in an adversarial review of the thread pool: two pools that wait
//! for each other from their own workers (the waiting worker runs its own
//! pool's work meanwhile, as rayon's does, so back-and-forth calls between
//! two one-thread pools finish, under `Descendants` too: a second review),
//! an absurd thread count, serial mode's `spawn` from outside the pool,
//! jobs spawned by exit hooks, and a thread namer that panics.

#![cfg(feature = "threads")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::within;
use triad::threads::{join, ThreadPool};

fn one_thread_pool() -> Arc<ThreadPool> {
    Arc::new(ThreadPool::builder().num_threads(1).build().unwrap())
}

#[test]
fn install_back_and_forth_between_two_one_thread_pools_finishes() {
    within(Duration::from_secs(20), || {
        let (a, b) = (one_thread_pool(), one_thread_pool());
        let (a2, b2) = (a.clone(), b.clone());
        let value = a
            .install(move || b2.install(move || a2.install(|| 7).unwrap()).unwrap())
            .unwrap();
        assert_eq!(value, 7);
    });
}

#[test]
fn join_and_scope_back_and_forth_between_two_pools_finish() {
    within(Duration::from_secs(20), || {
        let (a, b) = (one_thread_pool(), one_thread_pool());
        let (a2, b2) = (a.clone(), b.clone());
        let (left, right) = a
            .join(
                move || b2.join(move || a2.join(|| 1, || 2).unwrap(), || 3).unwrap(),
                || 4,
            )
            .unwrap();
        assert_eq!((left, right), (((1, 2), 3), 4));
        let (a3, b3) = (a.clone(), b.clone());
        let sum = b
            .scope(move |s| {
                let mut total = 0;
                s.spawn(|_| ());
                total += a3
                    .scope(|_| b3.install(|| join(|| 5, || 6)).unwrap())
                    .unwrap()
                    .0;
                total
            })
            .unwrap();
        assert_eq!(sum, 5);
    });
}

#[test]
fn a_panic_in_the_other_pool_reaches_the_waiting_worker() {
    within(Duration::from_secs(20), || {
        let (a, b) = (one_thread_pool(), one_thread_pool());
        let b2 = b.clone();
        let caught = a
            .install(move || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    b2.install(|| panic!("in b")).unwrap()
                }))
                .map_err(|payload| *payload.downcast::<&str>().unwrap())
            })
            .unwrap();
        assert_eq!(caught, Err("in b"));
        // Both pools go on.
        assert_eq!(a.install(|| b.install(|| 1).unwrap()).unwrap(), 1);
    });
}

#[test]
fn a_join_handle_of_the_other_pool_joined_on_a_worker_finishes() {
    within(Duration::from_secs(20), || {
        let (a, b) = (one_thread_pool(), one_thread_pool());
        let (a2, b2) = (a.clone(), b.clone());
        let value = a
            .install(move || {
                b2.spawn(move || a2.spawn(|| 5).join().unwrap())
                    .join()
                    .unwrap()
            })
            .unwrap();
        assert_eq!(value, 5);
    });
}

#[test]
fn an_absurd_thread_count_is_a_typed_error() {
    for n in [usize::MAX, 1 << 40, (1 << 16) + 1] {
        let error = ThreadPool::builder().num_threads(n).build().unwrap_err();
        assert!(error.is_too_many_threads(), "{error}");
        assert!(!error.is_spawn_failure());
        assert!(error.to_string().contains("65536"), "{error}");
    }
}

#[test]
fn a_job_spawned_from_outside_runs_on_the_pool_in_serial_mode_too() {
    use triad::threads::{current_num_threads, current_thread_index};
    for serial in [false, true] {
        let pool = ThreadPool::builder()
            .num_threads(1)
            .serial(serial)
            .build()
            .unwrap();
        // Where the job runs, and where what it calls runs: the pool's
        // one worker, not the caller's thread and the global pool.
        let seen = pool
            .spawn(|| {
                let nested = join(current_thread_index, current_num_threads);
                (current_thread_index(), current_num_threads(), nested)
            })
            .join()
            .unwrap();
        assert_eq!(seen, (Some(0), 1, (Some(0), 1)), "serial: {serial}");
        let inside = pool.install(|| triad::threads::spawn(current_thread_index).join().unwrap());
        assert_eq!(inside.unwrap(), Some(0), "serial: {serial}");
    }
}

#[test]
fn jobs_spawned_by_exit_hooks_still_run() {
    within(Duration::from_secs(20), || {
        let (sender, handles) = std::sync::mpsc::channel();
        let sender = std::sync::Mutex::new(sender);
        let pool = ThreadPool::builder()
            .num_threads(3)
            .on_exit(move |index| {
                let handle = triad::threads::spawn(move || index * 10);
                sender.lock().unwrap().send(handle).unwrap();
            })
            .build()
            .unwrap();
        drop(pool); // every worker has exited, the last ones after their hooks
        let mut outcomes: Vec<usize> = handles.try_iter().map(|h| h.join().unwrap()).collect();
        outcomes.sort_unstable();
        assert_eq!(outcomes, [0, 10, 20]);
    });
}

#[test]
fn a_panicking_thread_namer_leaves_no_thread_behind() {
    let caught = std::panic::catch_unwind(|| {
        ThreadPool::builder()
            .num_threads(4)
            .thread_name(|index| {
                assert!(index < 2, "no name for worker {index}");
                format!("namer-review-{index}")
            })
            .build()
    });
    assert!(caught.is_err());
    // The workers started before the panic were stopped and joined.
    support::eventually("the named workers' exit", || {
        support::threads_named("namer-review-") == 0
    });
}

#[test]
fn back_and_forth_between_two_one_thread_descendants_pools_finishes() {
    // A worker waiting under `Descendants` for the other pool's job may run
    // the job that one hands back into its pool: it descends from it.
    within(Duration::from_secs(20), || {
        let pool = || {
            Arc::new(
                ThreadPool::builder()
                    .num_threads(1)
                    .wait_policy(triad::threads::WaitPolicy::Descendants)
                    .build()
                    .unwrap(),
            )
        };
        let (a, b) = (pool(), pool());
        let (a2, b2) = (a.clone(), b.clone());
        let value = a
            .install(move || b2.install(move || a2.install(|| 7).unwrap()).unwrap())
            .unwrap();
        assert_eq!(value, 7);
        let a3 = a.clone();
        let handle = b.spawn(move || a3.install(|| 8).unwrap());
        assert_eq!(a.install(move || handle.join().unwrap()).unwrap(), 8);
    });
}
