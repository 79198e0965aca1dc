//! Edge cases found in an adversarial review of the process pool: extreme
//! durations, corrupt encodings and builder limits give typed outcomes,
//! never a panic or a hang.
#![cfg(feature = "processes")]

mod processes_support;

use std::time::Duration;

use processes_support::{no_leaks, within};
use triad::processes::{decode_from_slice, encode_to_vec, ProcessPool, MAX_EMPTY_ITEMS};

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

#[test]
fn a_huge_count_of_zero_byte_items_is_refused_not_looped_over() {
    within(Duration::from_secs(10), || {
        let error = decode_from_slice::<Vec<()>>(&u64::MAX.to_le_bytes()).unwrap_err();
        assert!(!error.to_string().is_empty());
        let error =
            decode_from_slice::<Vec<((), [u8; 0])>>(&(1u64 << 60).to_le_bytes()).unwrap_err();
        assert!(!error.to_string().is_empty());
        // Nested: every inner count is small, their sum is not.
        let mut nested = encode_to_vec(&4u64);
        for _ in 0..4 {
            nested.extend(encode_to_vec(&(MAX_EMPTY_ITEMS as u64 / 2)));
        }
        assert!(decode_from_slice::<Vec<Vec<()>>>(&nested).is_err());
        // A nested Vec<Option<String>> still round-trips.
        let value = vec![vec![Some("a".to_string()), None], vec![], vec![None]];
        assert_eq!(
            decode_from_slice::<Vec<Vec<Option<String>>>>(&encode_to_vec(&value)),
            Ok(value)
        );
    });
}

/// A lying count before items of 64 KiB each, with 1 MiB of input left.
fn decode_large_items_of_a_lying_count(_: ()) -> bool {
    let mut bytes = encode_to_vec(&(1u64 << 40));
    bytes.resize(bytes.len() + (1 << 20), 0);
    decode_from_slice::<Vec<[u8; 1 << 16]>>(&bytes).is_err_and(|e| e.is_eof())
}

#[test]
fn a_lying_count_of_large_items_reserves_no_more_than_the_input() {
    within(Duration::from_secs(60), || {
        no_leaks(
            || {
                // In a worker under a memory limit: reserving a count's
                // worth of 64 KiB items (64 GiB) would be its death.
                ProcessPool::builder()
                    .workers(1)
                    .result_capacity(1 << 20)
                    .memory_limit(1 << 30)
                    .build()
                    .unwrap()
            },
            |pool| {
                let outcome = pool.submit(decode_large_items_of_a_lying_count, ()).wait();
                assert_eq!(outcome, Ok(true));
            },
        )
    });
}

fn abort_at_start() {
    std::process::abort()
}

fn exit_at_start() {
    std::process::exit(3)
}

/// 64 MiB at start: past a 48 MiB memory limit beyond the shared region.
fn allocate_at_start() {
    std::hint::black_box(vec![1u8; 64 << 20]);
}

fn double(x: u64) -> u64 {
    2 * x
}

#[test]
fn workers_that_die_while_starting_break_the_pool_instead_of_hanging_it() {
    processes_support::no_core_dumps();
    let starts: [fn(); 3] = [abort_at_start, exit_at_start, allocate_at_start];
    for start in starts {
        within(Duration::from_secs(60), move || {
            no_leaks(
                || {
                    ProcessPool::builder()
                        .workers(2)
                        .result_capacity(1 << 20)
                        .memory_limit(48 << 20)
                        .initializer(start)
                        .build()
                        .unwrap()
                },
                |pool| {
                    let error = pool.submit(double, 1).wait().unwrap_err();
                    assert!(error.is_broken(), "{error}");
                    assert!(pool.map(double, [1, 2]).unwrap_err().is_broken());
                    // Each worker was forked once, not again and again.
                    assert_eq!(pool.stats().workers_started, 2);
                },
            )
        });
    }
}
