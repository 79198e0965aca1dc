//! Issue 5: 1,000 worker crashes and replacements while other threads of
//! the parent hammer the allocator, stdout and a lock, and tasks in the
//! workers print, allocate and lock: no deadlock, every outcome right,
//! every worker replaced and reaped, nothing leaked.
#![cfg(feature = "processes")]

mod processes_support;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use processes_support::{eventually, no_core_dumps, no_leaks, within};
use triad::processes::{ProcessPool, StartMode, TaskError};

/// Crashes wanted; every other task crashes.
const CRASHES: u64 = 1000;

static WORKER_STATE: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// Print, allocate and take a lock (in a worker), then end as `i` says:
/// `i % 8` = 1: abort (SIGABRT), 3: exit(40 + i % 5), 5: SIGKILL, 7:
/// SIGTERM (each raised by the task itself), even: return `3i + 1`.
fn print_allocate_lock_maybe_crash(i: u64) -> u64 {
    println!("task {i}: printing from a worker");
    let v: Vec<u64> = (0..2_000).map(|x| x ^ i).collect();
    WORKER_STATE.lock().unwrap().push(v.iter().sum());
    match i % 8 {
        1 => std::process::abort(),
        3 => std::process::exit(40 + (i % 5) as i32),
        // SAFETY: raise only sends a signal to the calling thread.
        5 => unsafe {
            libc::raise(libc::SIGKILL);
        },
        // SAFETY: as above.
        7 => unsafe {
            libc::raise(libc::SIGTERM);
        },
        _ => {}
    }
    3 * i + 1
}

fn check(i: u64, outcome: Result<u64, TaskError>) {
    match (i % 8, outcome) {
        (r, Ok(v)) if r % 2 == 0 => assert_eq!(v, 3 * i + 1, "task {i}"),
        (1, Err(e)) => assert_eq!(e.signal(), Some(libc::SIGABRT), "task {i}: {e}"),
        (3, Err(e)) => assert_eq!(e.exit_code(), Some(40 + (i % 5) as i32), "task {i}: {e}"),
        (5, Err(e)) => assert_eq!(e.signal(), Some(libc::SIGKILL), "task {i}: {e}"),
        (7, Err(e)) => assert_eq!(e.signal(), Some(libc::SIGTERM), "task {i}: {e}"),
        (_, outcome) => panic!("task {i}: wrong outcome {outcome:?}"),
    }
}

#[test]
fn a_thousand_crashes_and_replacements_while_the_parent_hammers_allocator_stdout_and_locks() {
    no_core_dumps();
    within(Duration::from_secs(120), || {
        let stop = Arc::new(AtomicBool::new(false));
        let parent_lock = Arc::new(Mutex::new(0u64));
        let hammered = Arc::new(AtomicU64::new(0));
        let mut hammers = Vec::new();
        // stdout's lock, taken and released without pause (zero-length
        // writes reach no descriptor but take the lock), and printing
        // through the harness's capture (its own lock).
        hammers.push(std::thread::spawn({
            let (stop, hammered) = (stop.clone(), hammered.clone());
            move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let out = std::io::stdout();
                    let mut lock = out.lock();
                    let _ = lock.write_all(b"");
                    let _ = lock.flush();
                    drop(lock);
                    n += 1;
                    if n % 4096 == 0 {
                        println!("parent thread still printing ({n})");
                        std::thread::yield_now();
                    }
                }
                hammered.fetch_add(n, Ordering::Relaxed);
            }
        }));
        // The allocator: blocks of many sizes, freed out of order.
        hammers.push(std::thread::spawn({
            let (stop, hammered) = (stop.clone(), hammered.clone());
            move || {
                let mut n = 0u64;
                let mut keep: Vec<Vec<u8>> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    for size in [16usize, 200, 4096, 70_000] {
                        keep.push(vec![n as u8; size]);
                    }
                    if keep.len() > 64 {
                        keep.swap_remove((n % 64) as usize);
                        keep.truncate(32);
                    }
                    n += 1;
                    if n % 1024 == 0 {
                        std::thread::yield_now();
                    }
                }
                hammered.fetch_add(n, Ordering::Relaxed);
            }
        }));
        // A Mutex of the parent, held most of the time.
        hammers.push(std::thread::spawn({
            let (stop, lock) = (stop.clone(), parent_lock.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut guard = lock.lock().unwrap();
                    *guard += 1;
                    std::thread::sleep(Duration::from_micros(200));
                    drop(guard);
                    std::thread::yield_now();
                }
            }
        }));

        let t0 = Instant::now();
        let stats = no_leaks(
            || {
                let pool = ProcessPool::builder()
                    .workers(2)
                    .slots_per_worker(8)
                    .build()
                    .unwrap();
                // The parent is threaded: the zygote is a fresh exec.
                assert_eq!(pool.start_mode(), StartMode::Exec);
                pool
            },
            |pool| {
                // Submitted in waves, collected in order, so that crashes
                // and replacements overlap with submits and evictions.
                let tasks = 2 * CRASHES;
                let mut next = 0u64;
                while next < tasks {
                    let wave: Vec<_> = (next..(next + 100).min(tasks))
                        .map(|i| (i, pool.submit(print_allocate_lock_maybe_crash, i)))
                        .collect();
                    next += wave.len() as u64;
                    for (i, handle) in wave {
                        check(i, handle.wait());
                    }
                }
                // Every crash is replaced (the report of the last
                // replacement may trail its task's outcome).
                eventually("a replacement for every crash", || {
                    pool.stats().workers_started >= 2 + CRASHES
                });
                pool.stats()
            },
        );
        stop.store(true, Ordering::Relaxed);
        for h in hammers {
            h.join().unwrap();
        }
        assert_eq!(stats.tasks_lost_to_deaths, CRASHES, "{stats:?}");
        assert!(hammered.load(Ordering::Relaxed) > 0);
        assert!(*parent_lock.lock().unwrap() > 0);
        eprintln!(
            "{CRASHES} crashes and replacements in {:?} ({stats:?})",
            t0.elapsed()
        );
    });
}
