//! `map` and `map_chunked` run on a lane that keeps its slots for the whole
//! call (`src/processes/lane.rs`): every way a call can end gives every
//! slot back, results come in order, and the lane shares the pool with
//! other submitters.
#![cfg(feature = "processes")]

mod processes_support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use processes_support::{no_leaks, within};
use triad::processes::{Decode, DecodeError, Encode, ProcessPool, Reader, TaskHandle, Writer};

fn double(x: u64) -> u64 {
    2 * x
}

fn panic_at_37(x: u64) -> u64 {
    assert_ne!(x, 37, "item 37");
    x
}

fn abort_at_5(x: u64) -> u64 {
    if x == 5 {
        std::process::abort();
    }
    x
}

fn length(s: String) -> usize {
    s.len()
}

fn nap_unless_37(ms: u64) -> u64 {
    assert_ne!(ms, 37, "item 37");
    sleep_ms(ms)
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// Waits (in its worker) until the file at `path` exists.
fn wait_for_file(path: String) -> u32 {
    while !std::path::Path::new(&path).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    7
}

/// An argument whose encoding panics for the value 10.
#[derive(Debug, Clone, Copy)]
struct Fussy(u64);

impl Encode for Fussy {
    fn encode(&self, w: &mut Writer<'_>) {
        assert_ne!(self.0, 10, "cannot encode 10");
        self.0.encode(w);
    }
}

impl Decode for Fussy {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        u64::decode(r).map(Fussy)
    }
}

fn fussy_double(x: Fussy) -> u64 {
    2 * x.0
}

/// A result whose decoding (in the parent) panics for the value 10.
#[derive(Debug, PartialEq)]
struct Touchy(u64);

impl Encode for Touchy {
    fn encode(&self, w: &mut Writer<'_>) {
        self.0.encode(w);
    }
}

impl Decode for Touchy {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let value = u64::decode(r)?;
        assert_ne!(value, 10, "cannot decode 10");
        Ok(Touchy(value))
    }
}

fn touchy(x: u64) -> Touchy {
    Touchy(x)
}

/// Take every slot of the pool with `try_submit`, waiting (up to 10 s)
/// for slots whose task is still finishing: a slot the lane lost would
/// never come back. The tasks wait for a file until all are submitted, so
/// that none of them can be finished and copied out to make room for the
/// next (which would hide a lost slot). Then check they run.
fn every_slot_is_free(pool: &ProcessPool, case: &str) {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let go = std::env::temp_dir().join(format!("triad-lane-slots-{}-{call}", std::process::id()));
    let _ = std::fs::remove_file(&go);
    let path = go.to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut handles: Vec<TaskHandle<u32>> = Vec::new();
    while handles.len() < pool.slots() {
        match pool.try_submit(wait_for_file, path.clone()) {
            Ok(handle) => handles.push(handle),
            Err(_) => {
                if Instant::now() > deadline {
                    std::fs::write(&go, b"go").unwrap();
                    panic!(
                        "{case}: only {} of {} slots came back",
                        handles.len(),
                        pool.slots()
                    );
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    std::fs::write(&go, b"go").unwrap();
    for handle in handles {
        assert_eq!(handle.wait(), Ok(7), "{case}");
    }
    let _ = std::fs::remove_file(&go);
}

fn small_pool() -> ProcessPool {
    ProcessPool::builder()
        .workers(2)
        .slots_per_worker(2)
        .result_capacity(4096)
        .build()
        .unwrap()
}

#[test]
fn every_slot_comes_back_however_a_map_ends() {
    within(Duration::from_secs(60), || {
        no_leaks(small_pool, |pool| {
            // Many more items than the 4 slots, in order.
            let expected: Vec<u64> = (0..1000).map(|x| 2 * x).collect();
            let before = pool.stats().evictions;
            assert_eq!(pool.map(double, 0..1000).unwrap(), expected);
            assert_eq!(
                pool.stats().evictions,
                before,
                "a lane's results are copied out by nobody else"
            );
            every_slot_is_free(pool, "a map to its end");

            let error = pool.map(panic_at_37, 0..100).unwrap_err();
            assert!(error.is_panic(), "{error}");
            assert!(error.to_string().contains("item 37"), "{error}");
            every_slot_is_free(pool, "a task that panics");

            let error = pool.map(abort_at_5, 0..100).unwrap_err();
            assert!(error.is_crash(), "{error}");
            every_slot_is_free(pool, "a worker that dies");

            // Item 10 does not fit a slot: the results before it were
            // fine, the error takes its place.
            let words = (0..50).map(|i| "x".repeat(if i == 10 { 10_000 } else { i }));
            let error = pool.map(length, words).unwrap_err();
            assert!(error.is_too_large(), "{error}");
            every_slot_is_free(pool, "an argument too large");

            let payload = catch_unwind(AssertUnwindSafe(|| {
                pool.map(fussy_double, (0..100).map(Fussy))
            }))
            .unwrap_err();
            assert!(payload
                .downcast_ref::<String>()
                .unwrap()
                .contains("cannot encode 10"));
            every_slot_is_free(pool, "an Encode that panics");

            let payload = catch_unwind(AssertUnwindSafe(|| pool.map(touchy, 0..100))).unwrap_err();
            assert!(payload
                .downcast_ref::<String>()
                .unwrap()
                .contains("cannot decode 10"));
            every_slot_is_free(pool, "a Decode that panics");

            let items = (0..100u64).inspect(|&x| assert_ne!(x, 20, "no item 20"));
            let payload = catch_unwind(AssertUnwindSafe(|| pool.map(double, items))).unwrap_err();
            assert!(payload
                .downcast_ref::<String>()
                .unwrap()
                .contains("no item 20"));
            every_slot_is_free(pool, "an iterator that panics");

            // Stopped at its first error while tasks still run: their
            // slots come back once they finish.
            let error = pool
                .map(nap_unless_37, [37, 300, 300, 300, 300, 300])
                .unwrap_err();
            assert!(error.is_panic(), "{error}");
            every_slot_is_free(pool, "an error with tasks running");

            let expected: Vec<u64> = (0..1000).map(|x| 2 * x).collect();
            assert_eq!(pool.map_chunked(double, 0..1000, 7).unwrap(), expected);
            let error = pool.map_chunked(panic_at_37, 0..100, 7).unwrap_err();
            assert!(error.is_panic(), "{error}");
            assert!(pool
                .map_chunked(double, 0..10, 0)
                .unwrap_err()
                .is_invalid_argument());
            every_slot_is_free(pool, "map_chunked");

            assert_eq!(pool.map(double, Vec::new()).unwrap(), Vec::<u64>::new());
        })
    });
}

#[test]
fn an_empty_map_does_not_wait_for_a_slot() {
    // One slot, held by a task that waits for a file: a map over items
    // that turn out to be none (the size is unknown beforehand) returns
    // at once, and so does one that knows it has none.
    let go = std::env::temp_dir().join(format!("triad-lane-empty-{}", std::process::id()));
    let _ = std::fs::remove_file(&go);
    let path = go.to_string_lossy().into_owned();
    within(Duration::from_secs(30), move || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .slots_per_worker(1)
                    .build()
                    .unwrap()
            },
            |pool| {
                let long = pool.submit(wait_for_file, path.clone());
                let none = std::iter::from_fn(|| None::<u64>);
                assert_eq!(pool.map(double, none).unwrap(), Vec::<u64>::new());
                assert_eq!(
                    pool.map_chunked(double, 0..0, 3).unwrap(),
                    Vec::<u64>::new()
                );
                assert!(!long.is_finished(), "the map waited for the long task");
                std::fs::write(&path, b"go").unwrap();
                assert_eq!(long.wait(), Ok(7));
            },
        )
    });
    let _ = std::fs::remove_file(&go);
}

#[test]
fn maps_on_two_threads_and_single_submits_share_the_slots() {
    within(Duration::from_secs(60), || {
        no_leaks(small_pool, |pool| {
            std::thread::scope(|s| {
                let maps: Vec<_> = (0..2u64)
                    .map(|t| {
                        s.spawn(move || {
                            let items = (0..2000).map(move |i| i + t * 10_000);
                            let expected: Vec<u64> = items.clone().map(|x| 2 * x).collect();
                            for _ in 0..3 {
                                assert_eq!(pool.map(double, items.clone()).unwrap(), expected);
                            }
                        })
                    })
                    .collect();
                for i in 0..300 {
                    assert_eq!(pool.submit(double, i).wait(), Ok(2 * i));
                }
                for map in maps {
                    map.join().unwrap();
                }
            });
            every_slot_is_free(pool, "after the threads");
        })
    });
}

#[test]
fn a_map_ends_with_an_error_when_the_pool_is_stopped_under_it() {
    within(Duration::from_secs(60), || {
        // Its zygote is a child of this process: not while another test
        // counts them.
        let _guard = processes_support::serial();
        let pool = ProcessPool::builder().workers(1).build().unwrap();
        std::thread::scope(|s| {
            let map = s.spawn(|| pool.map(sleep_ms, std::iter::repeat_n(20, 500)));
            std::thread::sleep(Duration::from_millis(200));
            pool.terminate();
            let error = map.join().unwrap().unwrap_err();
            assert!(error.is_cancelled() || error.is_pool_closed(), "{error}");
        });
        assert!(pool.map(double, [1, 2]).unwrap_err().is_pool_closed());
        // With no items too, as Python's `Pool.map` refuses a closed pool.
        let none = std::iter::empty::<u64>();
        assert!(pool.map(double, none).unwrap_err().is_pool_closed());
        let error = pool.map_chunked(double, 0..0, 4).unwrap_err();
        assert!(error.is_pool_closed(), "{error}");
    });
}

#[test]
fn a_map_whose_iterator_forks_goes_on_in_the_parent_and_stops_in_the_child() {
    // The items' iterator forks at item 50: the child's copy of the lane
    // must not touch the parent's slots (it ends with `is_forked`), and
    // the parent's map is not disturbed.
    within(Duration::from_secs(60), || {
        no_leaks(small_pool, |pool| {
            let parent = std::process::id();
            let mut child = None;
            // The child's items differ: were it to encode them into the
            // parent's slots, the parent's results would show it.
            let items = (0..200u64).inspect(|&x| {
                if x == 50 && std::process::id() == parent {
                    // SAFETY: the child only runs the rest of this map
                    // (whose lane sees the fork, pool rule P9) and `_exit`s.
                    let pid = unsafe { libc::fork() };
                    assert!(pid >= 0);
                    if pid > 0 {
                        child = Some(pid);
                    }
                }
            });
            let items = items.map(|x| {
                if std::process::id() == parent {
                    x
                } else {
                    1_000_000
                }
            });
            let outcome = pool.map(double, items);
            if std::process::id() != parent {
                let code = match outcome {
                    Err(e) if e.is_forked() => 0,
                    _ => 1,
                };
                // SAFETY: the forked child leaves without running the
                // harness's exit path.
                unsafe { libc::_exit(code) };
            }
            let expected: Vec<u64> = (0..200).map(|x| 2 * x).collect();
            assert_eq!(outcome.unwrap(), expected);
            let pid = child.expect("forked");
            let mut status = 0;
            // SAFETY: our own child, waited for once.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            assert!(libc::WIFEXITED(status), "{status:#x}");
            assert_eq!(
                libc::WEXITSTATUS(status),
                0,
                "the child's map did not end with is_forked"
            );
            every_slot_is_free(pool, "after the fork");
        })
    });
}

#[test]
fn a_long_map_does_not_starve_submits_from_other_threads() {
    // A map of 3,000 tasks of 1 ms on 2 workers takes 1.5 s or more; each
    // of ten single submits from another thread meanwhile must get a slot
    // and its result while the map still runs, not after it (a lane keeps
    // its slots for the whole call unless it shares them: rule L7).
    within(Duration::from_secs(60), || {
        no_leaks(small_pool, |pool| {
            let map_done = std::sync::atomic::AtomicBool::new(false);
            std::thread::scope(|s| {
                let map = s.spawn(|| {
                    let out = pool.map(sleep_ms, std::iter::repeat_n(1, 3000));
                    map_done.store(true, std::sync::atomic::Ordering::SeqCst);
                    out
                });
                // Let the lane take every slot first.
                std::thread::sleep(Duration::from_millis(100));
                for i in 0..10 {
                    assert_eq!(pool.submit(double, i).wait(), Ok(2 * i));
                    assert!(
                        !map_done.load(std::sync::atomic::Ordering::SeqCst),
                        "submit {i} waited for the whole map"
                    );
                }
                assert_eq!(map.join().unwrap().unwrap().len(), 3000);
            });
        })
    });
}
