//! An adversarial review of the `map` lane (`src/processes/lane.rs`): what
//! a map does when the pool breaks, a worker dies or a task times out under
//! it, when its items' iterator uses the same pool, when a result does not
//! fit, and how it shares the pool's slots.
#![cfg(feature = "processes")]

mod processes_support;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use processes_support::{no_leaks, within};
use triad::processes::{Decode, DecodeError, Encode, ProcessPool, Reader, SharedBytes, Writer};

fn double(x: u64) -> u64 {
    2 * x
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn bytes(n: usize) -> Vec<u8> {
    vec![7; n]
}

fn pattern(n: usize) -> SharedBytes {
    SharedBytes::from(vec![5u8; n])
}

fn small_pool() -> ProcessPool {
    ProcessPool::builder()
        .workers(2)
        .slots_per_worker(2)
        .result_capacity(4096)
        .build()
        .unwrap()
}

fn one_slot_pool() -> ProcessPool {
    ProcessPool::builder()
        .workers(1)
        .slots_per_worker(1)
        .result_capacity(4096)
        .build()
        .unwrap()
}

/// Kill `pid` with `signal`.
fn kill(pid: u32, signal: i32) {
    // SAFETY: a plain system call on a process of ours.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
}

#[test]
fn a_map_over_an_imap_of_the_same_pool_finishes() {
    // A pipeline: the map's items are the results of an imap on the same
    // pool. The imap submits from inside the map's iterator; it must find a
    // slot (Python's Pool.map and Executor.map take every item before they
    // wait for any result, so there this cannot hang either).
    within(Duration::from_secs(30), || {
        no_leaks(small_pool, |pool| {
            let inner = pool.imap(double, 0..200).map(Result::unwrap);
            let expected: Vec<u64> = (0..200).map(|x| 4 * x).collect();
            assert_eq!(pool.map(double, inner).unwrap(), expected);
            let inner = pool.imap(double, 0..200).map(Result::unwrap);
            assert_eq!(pool.map_chunked(double, inner, 3).unwrap(), expected);
        })
    });
}

#[test]
fn a_map_whose_items_submit_to_the_same_pool_finishes() {
    within(Duration::from_secs(30), || {
        no_leaks(small_pool, |pool| {
            let inner = (0..100).map(|x| pool.submit(double, x).wait().unwrap());
            let expected: Vec<u64> = (0..100).map(|x| 4 * x).collect();
            assert_eq!(pool.map(double, inner).unwrap(), expected);
        })
    });
}

#[test]
fn a_map_whose_items_keep_tasks_of_the_same_pool_in_flight_finishes() {
    // The iterator submits and keeps the handles: its tasks take the
    // lane's idle slots and hold them until evicted, so that items find
    // no slot left, at every point of a batch. And a map inside the
    // iterator of a map.
    within(Duration::from_secs(60), || {
        no_leaks(small_pool, |pool| {
            let handles = std::cell::RefCell::new(Vec::new());
            let items = (0..200u64).inspect(|&x| {
                for k in 0..x % 4 {
                    handles
                        .borrow_mut()
                        .push((x + k, pool.submit(double, x + k)));
                }
            });
            let expected: Vec<u64> = (0..200).map(|x| 2 * x).collect();
            assert_eq!(pool.map(double, items).unwrap(), expected);
            let handles = handles.into_inner();
            assert_eq!(handles.len(), 300);
            for (x, handle) in handles {
                assert_eq!(handle.wait(), Ok(2 * x));
            }
            let nested = (0..50u64).map(|x| pool.map(double, [x, x + 1]).unwrap()[1]);
            let expected: Vec<u64> = (0..50).map(|x| 4 * (x + 1)).collect();
            assert_eq!(pool.map(double, nested).unwrap(), expected);
        })
    });
}

#[test]
fn a_map_on_a_one_slot_pool_does_not_starve_a_submit_from_another_thread() {
    // Rule L7 on the smallest pool: the lane's one slot must be shared
    // with a thread that waits for it, not kept until the map ends.
    within(Duration::from_secs(60), || {
        no_leaks(one_slot_pool, |pool| {
            let map_done = AtomicBool::new(false);
            std::thread::scope(|s| {
                let map = s.spawn(|| {
                    let out = pool.map(sleep_ms, std::iter::repeat_n(10, 150));
                    map_done.store(true, SeqCst);
                    out
                });
                std::thread::sleep(Duration::from_millis(100));
                for i in 0..3 {
                    assert_eq!(pool.submit(double, i).wait(), Ok(2 * i));
                    assert!(
                        !map_done.load(SeqCst),
                        "submit {i} waited for the whole map"
                    );
                }
                assert_eq!(map.join().unwrap().unwrap().len(), 150);
            });
        })
    });
}

#[test]
fn a_map_whose_first_item_forks_touches_nothing_of_the_parent_in_the_child() {
    // The iterator forks as the lane takes its first item, before the lane
    // has a slot; the parent then dawdles, so that the child goes first.
    // Every slot holds a finished task whose handle is alive: a child that
    // went on to look for a slot would evict them from the shared slots
    // (its copy of the registry sees them too) and free the slots under
    // the parent's handles.
    within(Duration::from_secs(30), || {
        no_leaks(small_pool, |pool| {
            let handles: Vec<_> = (0..pool.slots() as u64)
                .map(|x| (x, pool.submit(double, x)))
                .collect();
            while !handles.iter().all(|(_, h)| h.is_finished()) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let parent = std::process::id();
            let mut child = None;
            let items = (0..20u64).inspect(|&x| {
                if x == 0 && std::process::id() == parent {
                    // SAFETY: the child only runs the rest of this map
                    // (which must see the fork, pool rule P9) and `_exit`s.
                    let pid = unsafe { libc::fork() };
                    assert!(pid >= 0);
                    if pid > 0 {
                        child = Some(pid);
                        std::thread::sleep(Duration::from_millis(500));
                    }
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
            let expected: Vec<u64> = (0..20).map(|x| 2 * x).collect();
            assert_eq!(outcome.unwrap(), expected);
            for (x, handle) in handles {
                assert_eq!(handle.wait(), Ok(2 * x));
            }
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
        })
    });
}

/// The parent's pid for [`Forky`]'s `Decode` (0: do not fork).
static FORK_PARENT: AtomicU32 = AtomicU32::new(0);

/// A result whose decoding (in the parent's map) forks at the value 10;
/// the child's copy of the decode returns 300 ms later.
#[derive(Debug, PartialEq)]
struct Forky(u64);

impl Encode for Forky {
    fn encode(&self, w: &mut Writer<'_>) {
        self.0.encode(w);
    }
}

impl Decode for Forky {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let value = u64::decode(r)?;
        let parent = FORK_PARENT.load(SeqCst);
        if value == 10 && parent == std::process::id() {
            // SAFETY: the child only runs the rest of this map (which must
            // see the fork, pool rule P9) and `_exit`s.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0);
            if pid == 0 {
                std::thread::sleep(Duration::from_millis(300));
            } else {
                FORKED_CHILD.store(pid, SeqCst);
            }
        }
        Ok(Forky(value))
    }
}

static FORKED_CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

fn slow_forky(x: u64) -> Forky {
    std::thread::sleep(Duration::from_millis(3));
    Forky(x)
}

#[test]
fn a_map_whose_decode_forks_touches_nothing_of_the_parent_in_the_child() {
    // The child's copy of the map, once its decode returns, must neither
    // free the slot (the parent has given it another task by then) nor go
    // on: a slot made FREE under the parent's task left the parent's map
    // waiting for it for ever.
    within(Duration::from_secs(30), || {
        no_leaks(small_pool, |pool| {
            let parent = std::process::id();
            FORK_PARENT.store(parent, SeqCst);
            // A panic in the child (a debug assertion on the parent's slot
            // word) must not pass for a clean exit of its last thread.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.map(slow_forky, 0..300)
            }));
            if std::process::id() != parent {
                let code = match outcome {
                    Ok(Err(e)) if e.is_forked() => 0,
                    Ok(_) => 1,
                    Err(_) => 2,
                };
                // SAFETY: the forked child leaves without running the
                // harness's exit path.
                unsafe { libc::_exit(code) };
            }
            FORK_PARENT.store(0, SeqCst);
            let outcome = outcome.unwrap_or_else(|payload| std::panic::resume_unwind(payload));
            let expected: Vec<Forky> = (0..300).map(Forky).collect();
            assert_eq!(outcome.unwrap(), expected);
            let pid = FORKED_CHILD.load(SeqCst);
            assert!(pid > 0, "forked");
            let mut status = 0;
            // SAFETY: our own child, waited for once.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            assert!(libc::WIFEXITED(status), "{status:#x}");
            assert_eq!(
                libc::WEXITSTATUS(status),
                0,
                "the child's map did not end with is_forked"
            );
        })
    });
}

#[test]
fn a_map_fed_by_an_imap_on_another_thread_finishes() {
    // A two-stage pipeline on one pool: an imap on one thread feeds, by a
    // channel, a map on another. The map's iterator blocks in the
    // channel's recv, waiting for the imap, which needs a slot.
    within(Duration::from_secs(60), || {
        no_leaks(small_pool, |pool| {
            for round in 0..5u64 {
                let (tx, rx) = std::sync::mpsc::channel();
                let out = std::thread::scope(|s| {
                    s.spawn(move || {
                        for r in pool.imap(double, 0..200) {
                            tx.send(r.unwrap()).unwrap();
                        }
                    });
                    pool.map(double, rx.iter())
                });
                let expected: Vec<u64> = (0..200).map(|x| 4 * x).collect();
                assert_eq!(out.unwrap(), expected, "round {round}");
            }
        })
    });
}

/// Yields 0..5, then `None` once, then 100..: an iterator that is not
/// fused.
struct Hiccup(u64);

impl Iterator for Hiccup {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        self.0 += 1;
        match self.0 {
            1..=5 => Some(self.0 - 1),
            6 => None,
            n if n < 20 => Some(100 + n),
            _ => None,
        }
    }
}

#[test]
fn a_map_ends_at_the_first_none_of_its_items() {
    // As `collect` and Python's map: the items end at their first `None`.
    within(Duration::from_secs(30), || {
        no_leaks(small_pool, |pool| {
            assert_eq!(pool.map(double, Hiccup(0)).unwrap(), [0, 2, 4, 6, 8]);
            assert_eq!(
                pool.map_chunked(double, Hiccup(0), 2).unwrap(),
                [0, 2, 4, 6, 8]
            );
            assert_eq!(
                pool.map_chunked(double, Hiccup(0), 5).unwrap(),
                [0, 2, 4, 6, 8]
            );
        })
    });
}

#[test]
fn a_map_ends_broken_when_the_zygote_is_killed_under_it() {
    within(Duration::from_secs(60), || {
        no_leaks(small_pool, |pool| {
            let zygote = pool.zygote_pid();
            std::thread::scope(|s| {
                let map = s.spawn(|| pool.map(sleep_ms, std::iter::repeat_n(5, 2000)));
                std::thread::sleep(Duration::from_millis(200));
                kill(zygote, libc::SIGKILL);
                let error = map.join().unwrap().unwrap_err();
                assert!(error.is_broken(), "{error}");
            });
            let error = pool.map(double, 0..10).unwrap_err();
            assert!(error.is_broken(), "{error}");
            let error = pool.map_chunked(double, 0..10, 3).unwrap_err();
            assert!(error.is_broken(), "{error}");
            // Refused with no items too, as Python's `Pool.map` refuses a
            // pool that is not running.
            let error = pool.map(double, 0..0).unwrap_err();
            assert!(error.is_broken(), "{error}");
        })
    });
}

#[test]
fn a_map_reports_a_worker_killed_under_it_and_the_pool_goes_on() {
    within(Duration::from_secs(60), || {
        no_leaks(small_pool, |pool| {
            let workers = pool.worker_pids();
            std::thread::scope(|s| {
                let map = s.spawn(|| pool.map(sleep_ms, std::iter::repeat_n(50, 200)));
                std::thread::sleep(Duration::from_millis(300));
                kill(workers[0], libc::SIGKILL);
                // The worker is almost always in one of its 50 ms tasks;
                // killed between two, it loses none and the map succeeds.
                match map.join().unwrap() {
                    Err(error) => assert!(error.is_crash(), "{error}"),
                    Ok(out) => {
                        assert_eq!(out, vec![50; 200]);
                        assert_eq!(pool.stats().tasks_lost_to_deaths, 0);
                    }
                }
            });
            let expected: Vec<u64> = (0..100).map(|x| 2 * x).collect();
            assert_eq!(pool.map(double, 0..100).unwrap(), expected);
        })
    });
}

#[test]
fn a_map_reports_a_task_timeout_and_the_pool_goes_on() {
    within(Duration::from_secs(60), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(2)
                    .slots_per_worker(2)
                    .task_timeout(Duration::from_millis(300))
                    .build()
                    .unwrap()
            },
            |pool| {
                let items = [1, 2, 3, 60_000, 4, 5, 6, 7, 8, 9, 10];
                let started = Instant::now();
                let error = pool.map(sleep_ms, items).unwrap_err();
                assert!(error.is_timeout(), "{error}");
                assert!(started.elapsed() < Duration::from_secs(20));
                let error = pool.map_chunked(sleep_ms, items, 2).unwrap_err();
                assert!(error.is_timeout(), "{error}");
                assert_eq!(pool.stats().tasks_timed_out, 2);
                let expected: Vec<u64> = (0..100).map(|x| 2 * x).collect();
                assert_eq!(pool.map(double, 0..100).unwrap(), expected);
            },
        )
    });
}

#[test]
fn a_map_stopped_from_another_thread_never_hangs() {
    // terminate() races the lane's publishing of short tasks, many times.
    within(Duration::from_secs(120), || {
        let _guard = processes_support::serial();
        for round in 0..20u64 {
            let pool = ProcessPool::builder()
                .workers(2)
                .slots_per_worker(2)
                .build()
                .unwrap();
            std::thread::scope(|s| {
                let map = s.spawn(|| pool.map(double, 0..1_000_000));
                std::thread::sleep(Duration::from_millis(round % 7));
                pool.terminate();
                match map.join().unwrap() {
                    Ok(out) => assert_eq!(out.len(), 1_000_000),
                    Err(error) => {
                        assert!(error.is_cancelled() || error.is_pool_closed(), "{error}")
                    }
                }
            });
            assert!(pool.map(double, [1]).unwrap_err().is_pool_closed());
        }
    });
}

#[test]
fn a_result_too_large_for_a_slot_is_a_typed_error() {
    within(Duration::from_secs(60), || {
        no_leaks(small_pool, |pool| {
            let sizes = [10, 20, 100_000, 30];
            let error = pool.map(bytes, sizes).unwrap_err();
            assert!(error.is_too_large(), "{error}");
            let error = pool.map_chunked(bytes, sizes, 3).unwrap_err();
            assert!(error.is_too_large(), "{error}");
            // A chunk whose argument does not fit its slot.
            let error = pool.map_chunked(double, 0..10_000, 5_000).unwrap_err();
            assert!(error.is_too_large(), "{error}");
            let expected: Vec<Vec<u8>> = (0..50).map(|n| vec![7; n]).collect();
            assert_eq!(pool.map(bytes, 0..50).unwrap(), expected);
        })
    });
}

#[test]
fn map_chunked_with_odd_chunk_sizes_keeps_every_item_in_order() {
    within(Duration::from_secs(60), || {
        no_leaks(small_pool, |pool| {
            for n in [0u64, 1, 2, 3, 7, 64, 101] {
                let expected: Vec<u64> = (0..n).map(|x| 2 * x).collect();
                for chunk in [1, 2, 3, 4, 5, 63, 64, 65, 100, usize::MAX] {
                    assert_eq!(
                        pool.map_chunked(double, 0..n, chunk).unwrap(),
                        expected,
                        "{n} items, chunks of {chunk}"
                    );
                }
            }
        })
    });
}

#[test]
fn a_map_of_views_decodes_copies_and_gives_every_slot_back() {
    within(Duration::from_secs(60), || {
        no_leaks(small_pool, |pool| {
            let out = pool.map(pattern, std::iter::repeat_n(100, 40)).unwrap();
            assert_eq!(out.len(), 40);
            assert!(out.iter().all(|b| !b.is_in_place() && b[..] == [5u8; 100]));
            // Every slot is free: one view per slot can be held.
            let views: Vec<SharedBytes> = (0..pool.slots())
                .map(|_| pool.submit(pattern, 10).wait().unwrap())
                .collect();
            assert!(views.iter().all(SharedBytes::is_in_place));
            // And a map then fails at once instead of waiting for ever
            // (pool rule P4).
            let error = pool.map(double, 0..10).unwrap_err();
            assert!(error.is_all_slots_held(), "{error}");
            let error = pool.map_chunked(double, 0..10, 2).unwrap_err();
            assert!(error.is_all_slots_held(), "{error}");
            drop(views);
            assert_eq!(pool.map(double, 0..3).unwrap(), [0, 2, 4]);
        })
    });
}

#[test]
fn two_maps_and_submits_under_contention_lose_no_slot() {
    // Lanes giving their slots back while their tasks are in flight, over
    // and over: every result in order, every slot back at the end.
    within(Duration::from_secs(90), || {
        no_leaks(small_pool, |pool| {
            let submitted = AtomicUsize::new(0);
            std::thread::scope(|s| {
                for t in 0..2u64 {
                    s.spawn(move || {
                        for round in 0..5u64 {
                            let items = (0..300).map(move |i| i + 1000 * (t * 10 + round));
                            let expected: Vec<u64> = items.clone().map(|x| 2 * x).collect();
                            assert_eq!(pool.map(double, items).unwrap(), expected);
                        }
                    });
                }
                for _ in 0..2 {
                    s.spawn(|| {
                        for i in 0..150 {
                            assert_eq!(pool.submit(double, i).wait(), Ok(2 * i));
                            submitted.fetch_add(1, SeqCst);
                        }
                    });
                }
            });
            assert_eq!(submitted.load(SeqCst), 300);
            let handles: Vec<_> = (0..pool.slots())
                .map(|_| pool.try_submit(sleep_ms, 50).expect("every slot is free"))
                .collect();
            for h in handles {
                assert_eq!(h.wait(), Ok(50));
            }
        })
    });
}
