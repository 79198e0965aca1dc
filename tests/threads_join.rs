//! `join`: values, nesting, panics, and calls from outside any pool.

#![cfg(feature = "threads")]

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use triad::threads::{join, join_with, ThreadPool, WaitPolicy};

fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = join(|| fib(n - 1), || fib(n - 2));
    a + b
}

#[test]
fn fib_is_right_on_one_two_and_four_threads() {
    for threads in [1, 2, 4] {
        let pool = ThreadPool::builder().num_threads(threads).build().unwrap();
        assert_eq!(
            pool.install(|| fib(25)).unwrap(),
            support::fib_sequential(25)
        );
    }
}

#[test]
fn join_from_outside_any_pool_uses_the_global_pool() {
    let (a, b) = join(triad::threads::current_thread_index, || 7);
    assert!(a.is_some(), "the first half ran on a pool thread");
    assert_eq!(b, 7);
    assert_eq!(fib(20), 6765);
}

#[test]
fn join_borrows_from_the_caller() {
    let mut left = vec![1u64; 1000];
    let mut right = vec![2u64; 1000];
    let pool = ThreadPool::builder().num_threads(2).build().unwrap();
    pool.install(|| {
        join(
            || left.iter_mut().for_each(|x| *x *= 3),
            || right.iter_mut().for_each(|x| *x *= 5),
        )
    })
    .unwrap();
    assert_eq!(left.iter().sum::<u64>(), 3000);
    assert_eq!(right.iter().sum::<u64>(), 10_000);
}

#[test]
fn a_panic_in_the_first_half_still_runs_the_second_then_is_reraised() {
    let pool = ThreadPool::builder().num_threads(2).build().unwrap();
    let ran_b = AtomicUsize::new(0);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pool.install(|| {
            join(
                || panic!("first half"),
                || {
                    ran_b.fetch_add(1, Ordering::SeqCst);
                },
            )
        })
    }))
    .unwrap_err();
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"first half"));
    assert_eq!(ran_b.load(Ordering::SeqCst), 1);
}

#[test]
fn a_panic_in_the_second_half_is_reraised_after_the_first_finishes() {
    let pool = ThreadPool::builder().num_threads(2).build().unwrap();
    let ran_a = AtomicUsize::new(0);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pool.install(|| {
            join(
                || {
                    ran_a.fetch_add(1, Ordering::SeqCst);
                },
                || panic!("second half"),
            )
        })
    }))
    .unwrap_err();
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"second half"));
    assert_eq!(ran_a.load(Ordering::SeqCst), 1);
}

#[test]
fn when_both_halves_panic_the_first_halfs_panic_wins() {
    let pool = ThreadPool::builder().num_threads(2).build().unwrap();
    for _ in 0..50 {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.install(|| join(|| panic!("a"), || panic!("b")))
        }))
        .unwrap_err();
        assert_eq!(caught.downcast_ref::<&str>(), Some(&"a"));
    }
}

#[test]
fn panics_deep_in_a_parallel_recursion_reach_the_caller_and_the_pool_survives() {
    fn explode(n: u32) -> u32 {
        if n == 0 {
            panic!("leaf");
        }
        let (a, b) = join(|| explode(n - 1), || explode(n - 1));
        a + b
    }
    let pool = ThreadPool::builder().num_threads(2).build().unwrap();
    let caught = catch_unwind(AssertUnwindSafe(|| pool.install(|| explode(10)))).unwrap_err();
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"leaf"));
    assert_eq!(pool.install(|| fib(18)).unwrap(), 2584);
}

#[test]
fn every_wait_policy_computes_the_same_result() {
    for policy in [
        WaitPolicy::StealAny,
        WaitPolicy::Descendants,
        WaitPolicy::NoSteal,
    ] {
        let pool = ThreadPool::builder()
            .num_threads(2)
            .wait_policy(policy)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| fib(22)).unwrap(), 17711, "{policy:?}");
        fn fib_with(policy: WaitPolicy, n: u64) -> u64 {
            if n < 2 {
                return n;
            }
            let (a, b) = join_with(
                policy,
                || fib_with(policy, n - 1),
                || fib_with(policy, n - 2),
            );
            a + b
        }
        assert_eq!(
            pool.install(|| fib_with(policy, 20)).unwrap(),
            6765,
            "{policy:?}"
        );
    }
}

#[test]
fn deep_join_recursion_on_one_thread_does_not_deadlock() {
    fn chain(depth: u32) -> u32 {
        if depth == 0 {
            return 0;
        }
        let (a, b) = join(|| chain(depth - 1), || 1);
        a + b
    }
    let pool = ThreadPool::builder().num_threads(1).build().unwrap();
    assert_eq!(pool.install(|| chain(2000)).unwrap(), 2000);
}

/// Runs as a child process (the same test binary, this test alone): an
/// abort there must not take the whole test run down.
const ABORT_CHILD: &str = "TRIAD_JOIN_PAYLOAD_DROP_CHILD";

#[test]
fn a_second_half_payload_whose_drop_panics_does_not_abort_the_first_halfs_unwinding() {
    // Both halves panic; `b`'s payload is dropped while `a`'s panic unwinds
    // through `join`, and dropping it panics (even while unwinding): that
    // panic must be caught, not abort the process.
    struct AlwaysPanicsOnDrop;
    impl Drop for AlwaysPanicsOnDrop {
        fn drop(&mut self) {
            panic!("dropping AlwaysPanicsOnDrop");
        }
    }
    if std::env::var_os(ABORT_CHILD).is_some() {
        for threads in [1, 2] {
            let pool = ThreadPool::builder().num_threads(threads).build().unwrap();
            let caught = catch_unwind(AssertUnwindSafe(|| {
                pool.install(|| {
                    join(
                        || -> () { panic!("first") },
                        || -> () { std::panic::panic_any(AlwaysPanicsOnDrop) },
                    )
                })
            }))
            .unwrap_err();
            assert_eq!(caught.downcast_ref::<&str>(), Some(&"first"));
        }
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_second_half_payload_whose_drop_panics_does_not_abort_the_first_halfs_unwinding",
            "--test-threads=1",
        ])
        .env(ABORT_CHILD, "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the child test failed: {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
