//! Edge cases found in an adversarial review of the process pool: extreme
//! durations, corrupt encodings and builder limits give typed outcomes,
//! never a panic or a hang.
#![cfg(feature = "processes")]

mod processes_support;

use std::time::Duration;

use processes_support::{no_leaks, within};
use triad::processes::ProcessPool;

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[test]
fn waiting_with_the_longest_timeout_is_a_plain_wait() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || ProcessPool::builder().workers(1).build().unwrap(),
            |pool| {
                let mut handle = pool.submit(sleep_ms, 20);
                assert_eq!(handle.wait_timeout(Duration::MAX), Some(Ok(20)));
            },
        )
    });
}

#[test]
fn a_task_with_the_longest_timeout_runs_to_its_end() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || ProcessPool::builder().workers(1).build().unwrap(),
            |pool| {
                let handle = pool.submit_timeout(sleep_ms, 20, Some(Duration::MAX));
                assert_eq!(handle.wait(), Ok(20));
                // The pool goes on.
                assert_eq!(pool.submit(sleep_ms, 1).wait(), Ok(1));
            },
        )
    });
}

#[test]
fn a_pool_whose_default_timeout_is_the_longest_runs_its_tasks() {
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .task_timeout(Duration::MAX)
                    .build()
                    .unwrap()
            },
            |pool| assert_eq!(pool.map(sleep_ms, [5, 6]).unwrap(), [5, 6]),
        )
    });
}
