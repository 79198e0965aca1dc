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
