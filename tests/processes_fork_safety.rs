//! Design trap 2: a pool built while other threads of the parent hold
//! stdout's lock and a `Mutex` and keep the allocator busy. Its workers come
//! from an exec'd zygote, so they inherit none of those locks: tasks that
//! print, allocate and lock run to their results.
#![cfg(feature = "processes")]

mod processes_support;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use processes_support::{no_core_dumps, no_leaks, within};
use triad::processes::{ProcessPool, StartMode};

static SHARED_STATE: Mutex<Vec<u64>> = Mutex::new(Vec::new());

fn print_allocate_lock(i: u64) -> u64 {
    println!("task {i} prints from a worker");
    let v: Vec<u64> = (0..10_000).map(|x| x ^ i).collect();
    let mut state = SHARED_STATE.lock().unwrap();
    state.push(v.iter().sum());
    state.len() as u64
}

fn crash_sometimes(i: u64) -> u64 {
    if i % 2 == 1 {
        std::process::abort();
    }
    print_allocate_lock(i);
    i
}

#[test]
fn a_pool_built_while_other_threads_hold_locks_runs_tasks_that_take_them() {
    no_core_dumps();
    within(Duration::from_secs(120), || {
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Barrier::new(3));
        let mut threads = Vec::new();
        // One thread holds stdout's lock, another the Mutex, a third keeps
        // the allocator busy; all of them while the pool is built and used.
        threads.push(std::thread::spawn({
            let (stop, held) = (stop.clone(), held.clone());
            move || {
                let out = std::io::stdout();
                let mut lock = out.lock();
                held.wait();
                while !stop.load(Ordering::Relaxed) {
                    let _ = lock.write_all(b"");
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }));
        threads.push(std::thread::spawn({
            let (stop, held) = (stop.clone(), held.clone());
            move || {
                let _guard = SHARED_STATE.lock().unwrap();
                held.wait();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }));
        threads.push(std::thread::spawn({
            let stop = stop.clone();
            move || {
                while !stop.load(Ordering::Relaxed) {
                    let v: Vec<Vec<u8>> = (0..100).map(|i| vec![i as u8; 1000]).collect();
                    std::hint::black_box(v);
                }
            }
        }));
        held.wait();
        no_leaks(
            || {
                let pool = ProcessPool::builder().workers(2).build().unwrap();
                assert_eq!(pool.start_mode(), StartMode::Exec);
                pool
            },
            |pool| {
                let results = pool.map(print_allocate_lock, 0..50u64).unwrap();
                assert_eq!(results.len(), 50);
                assert!(results.iter().all(|&n| n >= 1));
                // Replacements come from the zygote too, while the locks are
                // still held in the parent.
                let handles: Vec<_> = (0..40u64)
                    .map(|i| pool.submit(crash_sometimes, i))
                    .collect();
                for (i, h) in handles.into_iter().enumerate() {
                    match h.wait() {
                        Ok(v) => assert_eq!(v, i as u64),
                        Err(e) => {
                            assert_eq!(i % 2, 1);
                            assert_eq!(e.signal(), Some(libc::SIGABRT));
                        }
                    }
                }
            },
        );
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
    });
}
