//! Unit tests of the thread pool's unsafe core, small enough for Miri.
//!
//! Each test drives one of the unsafe paths (a private join frame run
//! inline, a promoted frame stolen or taken back, a scope's jobs inline in
//! their `JobRef` or boxed, a spawned job's handle, an injected stack job,
//! the lineage walk) with a few jobs, so that `cargo +nightly miri test --lib` checks them for undefined
//! behaviour under Stacked and Tree Borrows in minutes. The integration
//! tests in `tests/` cover the same API at full size.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{join, join_with, scope, scope_with, ThreadPool, WaitPolicy};

fn pool(threads: usize) -> ThreadPool {
    ThreadPool::builder().num_threads(threads).build().unwrap()
}

fn tree_sum(depth: u32) -> u64 {
    if depth == 0 {
        return 1;
    }
    let (a, b) = join(|| tree_sum(depth - 1), || tree_sum(depth - 1));
    a + b
}

#[test]
fn join_frames_private_and_promoted() {
    // Depth 5 on two threads: the root frame is promoted at once (and may
    // be stolen or taken back), the rest stay private unless someone idles.
    let pool = pool(2);
    for _ in 0..3 {
        assert_eq!(pool.install(|| tree_sum(5)).unwrap(), 32);
    }
}

#[test]
fn join_borrows_and_returns_owned_values() {
    let pool = pool(2);
    let text = String::from("borrowed");
    let (a, b) = pool
        .install(|| join(|| text.len(), || vec![text.clone(); 2]))
        .unwrap();
    assert_eq!(a, 8);
    assert_eq!(b, ["borrowed", "borrowed"]);
}

#[test]
fn join_panics_run_both_halves() {
    let pool = pool(2);
    let ran = AtomicUsize::new(0);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pool.install(|| {
            join(
                || -> () { panic!("left") },
                || {
                    ran.fetch_add(1, Ordering::SeqCst);
                },
            )
        })
    }))
    .unwrap_err();
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"left"));
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

#[test]
fn restricted_waits_walk_the_lineage() {
    for policy in [WaitPolicy::Descendants, WaitPolicy::NoSteal] {
        let pool = ThreadPool::builder()
            .num_threads(2)
            .wait_policy(policy)
            .build()
            .unwrap();
        let total = pool
            .install(|| {
                let (a, b) = join_with(policy, || tree_sum(3), || tree_sum(3));
                let hits = AtomicUsize::new(0);
                scope_with(policy, |s| {
                    for _ in 0..3 {
                        s.spawn(|_| {
                            hits.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                });
                a + b + hits.into_inner() as u64
            })
            .unwrap();
        assert_eq!(total, 19, "{policy:?}");
    }
}

#[test]
fn scope_heap_jobs_borrow_and_finish() {
    let pool = pool(2);
    let mut cells = [0u32; 6];
    pool.scope(|s| {
        for (i, cell) in cells.iter_mut().enumerate() {
            s.spawn(move |s| {
                *cell = i as u32;
                s.spawn(|_| {});
            });
        }
    })
    .unwrap();
    assert_eq!(cells, [0, 1, 2, 3, 4, 5]);
}

#[test]
fn scope_jobs_inline_and_boxed_run_and_drop_their_captures_once() {
    // Two words of capture (an `Arc` and a reference) travel inside the
    // `JobRef` (job rule 6); a 64-byte array goes in a `Box`. Each closure
    // must run once and drop what it owns once: the `Arc`'s count says so.
    let pool = pool(2);
    let shared = std::sync::Arc::new(());
    let sum = AtomicUsize::new(0);
    let sum = &sum;
    pool.scope(|s| {
        for i in 0..8 {
            let small = std::sync::Arc::clone(&shared);
            s.spawn(move |_| {
                sum.fetch_add(1, Ordering::Relaxed);
                drop(small);
            });
            let big = [i; 8];
            s.spawn(move |_| {
                sum.fetch_add(big.iter().sum::<usize>(), Ordering::Relaxed);
            });
        }
        // An inline job dropped unexecuted would keep its `Arc`: none is.
        s.spawn({
            let small = std::sync::Arc::clone(&shared);
            move |_| drop(small)
        });
    })
    .unwrap();
    assert_eq!(sum.load(Ordering::Relaxed), 8 + 8 * (0..8).sum::<usize>());
    assert_eq!(std::sync::Arc::strong_count(&shared), 1);
}

#[test]
fn scope_panics_keep_their_spawn_index_inline_and_boxed() {
    // An inline job's index is its `JobRef`'s tag, a boxed one's is in its
    // box (job rule 6): whichever kind comes first in spawn order wins.
    let pool = pool(2);
    for inline_first in [true, false] {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|s| {
                s.spawn(|_| {}); // index 1
                let big = [7u64; 8];
                let inline = move |_: &super::Scope<'_>| panic!("inline");
                let boxed = move |_: &super::Scope<'_>| panic!("boxed {}", big[0]);
                if inline_first {
                    s.spawn(inline); // index 2
                    s.spawn(boxed); // index 3
                } else {
                    s.spawn(boxed);
                    s.spawn(inline);
                }
            })
        }))
        .unwrap_err();
        let scope_panic = caught.downcast::<super::ScopePanic>().unwrap();
        assert_eq!(scope_panic.spawn_index(), 2);
        assert_eq!(scope_panic.others(), 1);
        let message = super::scope::panic_message(scope_panic.payload()).to_string();
        let expected = if inline_first { "inline" } else { "boxed 7" };
        assert_eq!(message, expected);
    }
}

#[test]
fn scope_panic_payloads_are_moved_out_once() {
    // Not the global pool: its threads live until the process ends, which
    // Miri reports as threads left running.
    let pool = pool(2);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pool.install(|| {
            scope(|s| {
                s.spawn(|_| panic!("one"));
                s.spawn(|_| panic!("two"));
            })
        })
    }))
    .unwrap_err();
    let scope_panic = caught.downcast::<super::ScopePanic>().unwrap();
    assert_eq!(scope_panic.others(), 1);
    assert_eq!(scope_panic.payload().downcast_ref::<&str>(), Some(&"one"));
}

#[test]
fn spawned_handles_deliver_values_panics_and_detach() {
    let pool = pool(2);
    let value = pool.spawn(|| vec![1u8, 2, 3]);
    let failed = pool.spawn(|| -> u8 { panic!("spawned") });
    drop(pool.spawn(|| String::from("detached")));
    assert_eq!(value.join().unwrap(), [1, 2, 3]);
    assert!(failed.join().unwrap_err().is_panic());
    // Joining a handle on a worker of the same pool runs other work meanwhile.
    let nested = pool.install(|| super::spawn(|| 5).join().unwrap()).unwrap();
    assert_eq!(nested, 5);
}

#[test]
fn dropping_a_pool_runs_what_is_queued() {
    let done = std::sync::Arc::new(AtomicUsize::new(0));
    let pool = pool(1);
    for _ in 0..8 {
        let done = done.clone();
        drop(pool.spawn(move || {
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    drop(pool);
    assert_eq!(done.load(Ordering::SeqCst), 8);
}

#[test]
fn serial_mode_runs_inline() {
    let pool = ThreadPool::builder().serial(true).build().unwrap();
    let order = std::sync::Mutex::new(Vec::new());
    pool.install(|| {
        scope(|s| {
            s.spawn(|_| order.lock().unwrap().push(1));
            order.lock().unwrap().push(2);
        })
    })
    .unwrap();
    assert_eq!(*order.lock().unwrap(), [1, 2]);
}

/// Regression (found by LeakSanitizer, `.ci/asan`): when the first half of
/// a join panicked and the second half had been stolen and run by another
/// worker, the second half's result (a value, or its panic payload) stayed
/// in the frame's `MaybeUninit` and was never dropped. `b` here waits to
/// be running elsewhere before `a` panics, so it is stolen every time; its
/// value must be dropped once per join.
#[test]
fn a_stolen_second_half_is_dropped_when_the_first_panics() {
    #[derive(Debug)]
    struct Counted<'a>(&'a AtomicUsize);
    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let rounds = if cfg!(miri) { 2 } else { 20 };
    let pool = pool(2);
    let dropped = AtomicUsize::new(0);
    for round in 0..rounds {
        let started = AtomicUsize::new(0);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.install(|| {
                join(
                    || -> () {
                        // The outermost join is promoted at once; the idle
                        // worker steals `b`.
                        while started.load(Ordering::SeqCst) == 0 {
                            std::thread::yield_now();
                        }
                        panic!("first half")
                    },
                    || {
                        started.store(1, Ordering::SeqCst);
                        Counted(&dropped)
                    },
                )
            })
        }))
        .unwrap_err();
        assert_eq!(caught.downcast_ref::<&str>(), Some(&"first half"));
        assert_eq!(dropped.load(Ordering::SeqCst), round + 1);
    }
}

/// Wait-policy rule 5 under Miri: a job handed into a pool from outside
/// its workers with a lineage (an install from another pool's worker,
/// whose lineage chain runs through that worker's stack; a scope spawn
/// from a foreign thread) goes through the overflow queue, and a
/// `Descendants` waiter walks that chain across threads.
#[test]
fn jobs_handed_in_from_outside_with_a_lineage() {
    let one_thread = || {
        std::sync::Arc::new(
            ThreadPool::builder()
                .num_threads(1)
                .wait_policy(WaitPolicy::Descendants)
                .build()
                .unwrap(),
        )
    };
    let (a, b) = (one_thread(), one_thread());
    let (a2, b2) = (a.clone(), b.clone());
    let value = a
        .install(move || b2.install(move || a2.install(|| 7).unwrap()).unwrap())
        .unwrap();
    assert_eq!(value, 7);
    let hits = AtomicUsize::new(0);
    a.scope(|s| {
        std::thread::scope(|t| {
            t.spawn(|| {
                s.spawn(|_| {
                    hits.fetch_add(1, Ordering::SeqCst);
                })
            });
        });
    })
    .unwrap();
    assert_eq!(hits.into_inner(), 1);
}

/// Job rule 7 under Miri: payloads and values whose `Drop` panics, dropped
/// inside jobs, leave the workers alive and the scope waiting for its jobs.
#[test]
fn panicking_drops_stay_inside_their_jobs() {
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                panic!("dropping PanicsOnDrop");
            }
        }
    }
    let pool = pool(2);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.spawn(|_| panic!("first"));
            s.spawn(|_| std::panic::panic_any(PanicsOnDrop));
        })
    }))
    .unwrap_err();
    let scope_panic = caught.downcast::<super::ScopePanic>().unwrap();
    assert_eq!((scope_panic.spawn_index(), scope_panic.others()), (1, 1));
    let (go, wait) = std::sync::mpsc::channel::<()>();
    drop(pool.spawn(move || {
        wait.recv().unwrap();
        PanicsOnDrop
    }));
    go.send(()).unwrap();
    assert_eq!(pool.install(|| 3).unwrap(), 3);
}

/// The reworked join paths under Miri, made deterministic by a pool of one
/// thread (no thief): the outermost join's frame is promoted at once and
/// always taken back (frame rule 6: then run inline by the owner, here
/// while `a` unwinds too), a nested frame stays private, and a frame below a scope's wait is
/// promoted by that wait (`wait_until_cold`'s `promote_all`) and executed by
/// its own owner from inside `a`, so its join finds the result behind the
/// latch. Each `b` owns a `Counted`: the second half leaves its frame
/// exactly once on every path, dropped or returned.
#[test]
fn join_frames_taken_back_executed_by_their_owner_and_unwound() {
    #[derive(Debug)]
    struct Counted<'a>(&'a AtomicUsize);
    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let pool = pool(1);
    let dropped = AtomicUsize::new(0);
    let ran = AtomicUsize::new(0);
    let count_run = || {
        ran.fetch_add(1, Ordering::SeqCst);
    };
    let run_b = |counted: Counted<'_>| {
        count_run();
        drop(counted);
    };

    // Promoted at once (outermost), then `a` panics: taken back by the
    // unwind guard and run inline.
    let b_owned = Counted(&dropped);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pool.install(|| join(|| -> () { panic!("outer a") }, move || run_b(b_owned)))
    }))
    .unwrap_err();
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"outer a"));
    assert_eq!(
        (ran.load(Ordering::SeqCst), dropped.load(Ordering::SeqCst)),
        (1, 1)
    );

    // Private inner frame unwound, promoted outer frame taken back after
    // `a` unwinds through both.
    let (inner, outer) = (Counted(&dropped), Counted(&dropped));
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pool.install(|| {
            join(
                || join(|| -> () { panic!("inner a") }, move || run_b(inner)),
                move || run_b(outer),
            )
        })
    }))
    .unwrap_err();
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"inner a"));
    assert_eq!(
        (ran.load(Ordering::SeqCst), dropped.load(Ordering::SeqCst)),
        (3, 3)
    );

    // A join nested in a scope nested in a join nested in a join: the
    // scope's wait promotes the private middle frame and runs its `b` (a
    // job now) before the scope's own job; the innermost join panics in
    // `a`, the scope re-raises it, the middle join unwinds with a frame
    // already executed (its result, a `Counted`, dropped by the guard).
    let (middle, outer) = (Counted(&dropped), Counted(&dropped));
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pool.install(|| {
            join(
                || {
                    join(
                        || {
                            scope(|s| {
                                s.spawn(|_| {
                                    let innermost = Counted(&dropped);
                                    join(
                                        || -> () { panic!("innermost a") },
                                        move || run_b(innermost),
                                    );
                                });
                            })
                        },
                        move || {
                            count_run();
                            middle
                        },
                    )
                },
                move || run_b(outer),
            )
        })
    }))
    .unwrap_err();
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"innermost a"));
    assert_eq!(
        (ran.load(Ordering::SeqCst), dropped.load(Ordering::SeqCst)),
        (6, 6)
    );

    // The same nesting without a panic: the middle join returns the value
    // its own worker computed as a job, read from behind the latch.
    let (value, ()) = pool
        .install(|| {
            join(
                || join(|| scope(|s| s.spawn(|_| ())), || String::from("middle b")),
                || (),
            )
        })
        .unwrap();
    assert_eq!(value, ((), String::from("middle b")));

    // `b` panics on the taken-back path; `a`'s value is dropped on the way.
    let a_value = Counted(&dropped);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pool.install(move || join(move || a_value, || -> () { panic!("b") }))
    }))
    .unwrap_err();
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"b"));
    assert_eq!(dropped.load(Ordering::SeqCst), 7);
}

/// Spawn rule 5: in a forked child, a handle whose outcome cell is locked
/// for ever (a parent thread held the lock at the fork: here the child
/// locks it itself and never unlocks) answers at once instead of waiting.
#[test]
#[cfg_attr(miri, ignore)] // Miri cannot fork
fn a_handle_in_a_forked_child_never_waits_for_a_lock_held_at_the_fork() {
    let pool = pool(1);
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let mut handle = pool.spawn(move || gate.recv().is_ok());
    // SAFETY: the child only takes a lock, makes small allocations (glibc's
    // malloc is fork-safe), polls and `_exit`s; it never returns into the
    // harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        handle.leak_cell_lock_for_test();
        let finished = handle.is_finished();
        let waker = std::task::Waker::noop();
        let polled = std::future::Future::poll(
            std::pin::Pin::new(&mut handle),
            &mut std::task::Context::from_waker(waker),
        );
        let unavailable = matches!(
            polled,
            std::task::Poll::Ready(Err(ref e)) if e.is_pool_unavailable()
        );
        let code = if finished && unavailable { 0 } else { 1 };
        std::mem::forget(handle);
        std::mem::forget(pool);
        // SAFETY: ends the child at once, without the parent's atexit
        // handlers or its copied buffers.
        unsafe { libc::_exit(code) };
    }
    // A child that hangs is killed after 10 s, and the test fails.
    let mut status = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // SAFETY: `pid` is our child; `status` a valid out-pointer.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if waited == pid {
            break;
        }
        if std::time::Instant::now() > deadline {
            // SAFETY: our own unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            // SAFETY: as above.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            panic!("the child hung on the outcome cell's lock");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{status:#x}"
    );
    // The parent's handle is untouched.
    release.send(()).unwrap();
    assert!(handle.join().unwrap());
}
