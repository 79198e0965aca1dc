//! `ProcessPool::terminate`: what Python's `Pool.terminate()` does, through
//! a shared reference, so that another thread (or a runtime that owns the
//! pool) can stop a pool whose tasks never end. Every task gets exactly one
//! outcome, submits racing it are refused or cancelled, and the drop that
//! follows returns at once and leaks nothing.
#![cfg(feature = "processes")]

mod processes_support;

use std::time::Duration;

use processes_support::{no_leaks, within};
use triad::processes::ProcessPool;

fn forever(_: ()) -> u32 {
    loop {
        std::thread::park();
    }
}

fn double(x: u64) -> u64 {
    x * 2
}

#[test]
fn terminate_cancels_running_and_queued_tasks_that_never_end() {
    within(Duration::from_secs(60), || {
        no_leaks(
            || ProcessPool::builder().workers(2).build().unwrap(),
            |pool| {
                let handles: Vec<_> = (0..5).map(|_| pool.submit(forever, ())).collect();
                pool.terminate();
                for handle in handles {
                    assert!(handle.wait().unwrap_err().is_cancelled());
                }
                // Closed from now on; a second call changes nothing.
                assert!(pool.submit(double, 1).wait().unwrap_err().is_pool_closed());
                pool.terminate();
            },
        )
    });
}

#[test]
fn terminate_racing_submits_from_other_threads_gives_each_one_outcome() {
    within(Duration::from_secs(60), || {
        no_leaks(
            || ProcessPool::builder().workers(2).build().unwrap(),
            |pool| {
                std::thread::scope(|s| {
                    let submitters: Vec<_> = (0..3)
                        .map(|_| {
                            s.spawn(|| {
                                let mut counts = (0, 0);
                                // Until the pool refuses: terminate comes.
                                for i in 0u64.. {
                                    match pool.submit(double, i).wait() {
                                        Ok(v) => {
                                            assert_eq!(v, 2 * i);
                                            counts.0 += 1;
                                        }
                                        Err(e) if e.is_cancelled() || e.is_pool_closed() => {
                                            counts.1 += 1;
                                            if e.is_pool_closed() {
                                                break;
                                            }
                                        }
                                        Err(e) => panic!("unexpected outcome {e}"),
                                    }
                                }
                                counts
                            })
                        })
                        .collect();
                    std::thread::sleep(Duration::from_millis(20));
                    pool.terminate();
                    for submitter in submitters {
                        let (done, refused) = submitter.join().unwrap();
                        assert!(refused > 0, "{done} done, none refused");
                    }
                });
            },
        )
    });
}
