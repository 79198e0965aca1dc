//! `scope`: borrowing spawns, completion, nesting, and deterministic panics.

#![cfg(feature = "threads")]

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use triad::threads::{
    current_thread_index, scope, scope_with, JoinHandle, ScopePanic, ThreadPool, WaitPolicy,
};

#[test]
fn scope_waits_for_every_spawned_job_and_they_may_borrow() {
    let pool = ThreadPool::builder().num_threads(2).build().unwrap();
    let mut cells = vec![0u64; 257];
    pool.scope(|s| {
        for (i, cell) in cells.iter_mut().enumerate() {
            s.spawn(move |_| *cell = i as u64 * 2);
        }
    })
    .unwrap();
    assert_eq!(cells.iter().sum::<u64>(), 2 * (256 * 257 / 2));
}

#[test]
fn jobs_can_spawn_more_jobs_into_the_same_scope() {
    let pool = ThreadPool::builder().num_threads(2).build().unwrap();
    let count = AtomicUsize::new(0);
    pool.scope(|s| {
        for _ in 0..10 {
            s.spawn(|s| {
                for _ in 0..10 {
                    s.spawn(|_| {
                        count.fetch_add(1, Ordering::Relaxed);
                    });
                }
            });
        }
    })
    .unwrap();
    assert_eq!(count.into_inner(), 100);
}

#[test]
fn scope_returns_the_bodys_value() {
    assert_eq!(scope(|_| 41 + 1), 42);
}

#[test]
fn scopes_nested_a_thousand_deep_on_a_one_thread_pool() {
    fn nest(depth: usize, hits: &AtomicUsize) {
        if depth == 0 {
            return;
        }
        scope(|s| {
            s.spawn(|_| nest(depth - 1, hits));
            hits.fetch_add(1, Ordering::Relaxed);
        });
    }
    let pool = ThreadPool::builder()
        .num_threads(1)
        .stack_size(64 << 20)
        .build()
        .unwrap();
    let hits = AtomicUsize::new(0);
    let hits = support::within(Duration::from_secs(60), move || {
        pool.install(|| nest(1000, &hits)).unwrap();
        hits.into_inner()
    });
    assert_eq!(hits, 1000);
}

#[test]
fn a_single_panic_is_reraised_unchanged_after_all_jobs_finish() {
    let pool = ThreadPool::builder().num_threads(2).build().unwrap();
    let finished = AtomicUsize::new(0);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            for i in 0..20 {
                let finished = &finished;
                s.spawn(move |_| {
                    if i == 7 {
                        panic!("job seven");
                    }
                    std::thread::sleep(Duration::from_millis(1));
                    finished.fetch_add(1, Ordering::SeqCst);
                });
            }
        })
    }))
    .unwrap_err();
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"job seven"));
    assert_eq!(
        finished.load(Ordering::SeqCst),
        19,
        "every other job ran to completion"
    );
}

#[test]
fn with_several_panics_the_first_in_spawn_order_wins_every_time() {
    let pool = ThreadPool::builder().num_threads(2).build().unwrap();
    for _ in 0..30 {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|s| {
                for i in 0..8usize {
                    s.spawn(move |_| {
                        if i % 3 == 2 {
                            // Later jobs panic sooner: order must not depend on timing.
                            std::thread::sleep(Duration::from_micros(200 * (8 - i as u64)));
                            panic!("job {i}");
                        }
                    });
                }
            })
        }))
        .unwrap_err();
        let scope_panic = caught
            .downcast::<ScopePanic>()
            .expect("several panics give a ScopePanic");
        assert_eq!(
            scope_panic.spawn_index(),
            3,
            "job 2 is the third spawn (index 3; the body is 0)"
        );
        assert_eq!(scope_panic.others(), 1, "jobs 2 and 5 panicked");
        assert_eq!(
            scope_panic
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str),
            Some("job 2")
        );
    }
}

#[test]
fn the_bodys_panic_comes_first() {
    let caught = catch_unwind(|| {
        scope(|s| {
            s.spawn(|_| panic!("job"));
            panic!("body");
        })
    })
    .unwrap_err();
    let scope_panic = caught.downcast::<ScopePanic>().unwrap();
    assert_eq!(scope_panic.spawn_index(), 0);
    assert_eq!(scope_panic.others(), 1);
    assert_eq!(
        scope_panic.into_payload().downcast_ref::<&str>(),
        Some(&"body")
    );
}

#[test]
fn restricted_policies_still_finish_nested_scopes() {
    for policy in [WaitPolicy::Descendants, WaitPolicy::NoSteal] {
        let pool = ThreadPool::builder()
            .num_threads(2)
            .wait_policy(policy)
            .build()
            .unwrap();
        let count = AtomicUsize::new(0);
        pool.install(|| {
            scope_with(policy, |s| {
                for _ in 0..50 {
                    s.spawn(|_| {
                        scope(|s| {
                            for _ in 0..20 {
                                s.spawn(|_| {
                                    count.fetch_add(1, Ordering::Relaxed);
                                });
                            }
                        })
                    });
                }
            })
        })
        .unwrap();
        assert_eq!(count.into_inner(), 1000, "{policy:?}");
    }
}

/// A worker that ran some of a scope's jobs gives their shares back before
/// it runs unrelated work (worker rule 5 in `src/threads/worker.rs`): here
/// the unrelated job waits for the scope to end, so shares held meanwhile
/// would keep the scope from ending until that job gave up.
#[test]
fn a_worker_gives_back_a_scopes_shares_before_it_runs_unrelated_work() {
    let pool = ThreadPool::builder().num_threads(2).build().unwrap();
    let scope_ended = Arc::new(AtomicBool::new(false));
    let waiter: Mutex<Option<JoinHandle<bool>>> = Mutex::new(None);
    let owner = AtomicUsize::new(usize::MAX);
    pool.install(|| {
        // NoSteal: the scope's owner runs only the scope's own jobs while it
        // waits, never the unrelated one.
        scope_with(WaitPolicy::NoSteal, |s| {
            owner.store(current_thread_index().unwrap(), Ordering::SeqCst);
            for _ in 0..1000 {
                s.spawn(|_| {
                    let on_other_worker =
                        current_thread_index() != Some(owner.load(Ordering::SeqCst));
                    let mut waiter = waiter.lock().unwrap();
                    if on_other_worker && waiter.is_none() {
                        // Injected: this worker takes it once its own deque
                        // is empty, while it holds the shares of the jobs
                        // it ran.
                        let scope_ended = Arc::clone(&scope_ended);
                        *waiter = Some(triad::threads::spawn(move || {
                            (0..10_000).any(|_| {
                                std::thread::sleep(Duration::from_millis(1));
                                scope_ended.load(Ordering::SeqCst)
                            })
                        }));
                    }
                });
            }
            support::eventually("a job ran on the other worker", || {
                waiter.lock().unwrap().is_some()
            });
        })
    })
    .unwrap();
    scope_ended.store(true, Ordering::SeqCst);
    let waiter = waiter.into_inner().unwrap().unwrap();
    assert!(
        waiter.join().unwrap(),
        "the unrelated job never saw the scope end"
    );
}

use support::PanicsOnDrop;

#[test]
fn a_discarded_panic_payload_whose_drop_panics_stays_inside_its_job() {
    // Only the first panic by spawn order is kept; the other payload is
    // dropped by the job that recorded it, and that drop panics. On two
    // threads too, where an escaping panic would leave the scope while the
    // other job still borrows it. The limit only catches a hang: under
    // ThreadSanitizer the three panics' backtraces alone take ~6 s.
    for threads in [1, 2] {
        let pool = ThreadPool::builder().num_threads(threads).build().unwrap();
        let caught = support::within(Duration::from_secs(60), move || {
            let caught = catch_unwind(AssertUnwindSafe(|| {
                pool.scope(|s| {
                    s.spawn(|_| panic!("first"));
                    s.spawn(|_| std::panic::panic_any(PanicsOnDrop));
                })
            }))
            .unwrap_err();
            let alive = pool.install(|| 4).unwrap();
            let scope_panic = caught.downcast::<ScopePanic>().ok().map(|p| {
                let message = p.payload().downcast_ref::<&str>().copied();
                (p.spawn_index(), p.others(), message)
            });
            (scope_panic, alive)
        });
        assert_eq!(
            caught,
            (Some((1, 1, Some("first"))), 4),
            "{threads} thread(s)"
        );
    }
}

#[test]
fn a_scope_job_spawned_from_a_thread_outside_the_pool_runs_under_every_policy() {
    // The owner is the pool's only thread, waiting under its policy for a
    // job that a thread of its own (not the pool's) spawned into the scope.
    for policy in [
        WaitPolicy::StealAny,
        WaitPolicy::Descendants,
        WaitPolicy::NoSteal,
    ] {
        let pool = ThreadPool::builder()
            .num_threads(1)
            .wait_policy(policy)
            .build()
            .unwrap();
        let hits = support::within(Duration::from_secs(10), move || {
            let hits = AtomicUsize::new(0);
            pool.scope(|s| {
                std::thread::scope(|t| {
                    t.spawn(|| {
                        s.spawn(|_| {
                            hits.fetch_add(1, Ordering::SeqCst);
                        })
                    });
                });
            })
            .unwrap();
            hits.into_inner()
        });
        assert_eq!(hits, 1, "{policy:?}");
    }
}
