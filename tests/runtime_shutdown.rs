//! Start and shutdown order: the zygote is forked before any thread starts,
//! and dropping the runtime leaves no thread, child process or descriptor
//! behind, after giving every accepted job its real outcome. (Each test
//! takes the serial lock: they count this process's threads, children and
//! descriptors.)
#![cfg(feature = "runtime")]

mod runtime_support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runtime_support::{children, eventually, open_fds, serial, threads_named, within};
use triad::processes::StartMode;
use triad::runtime::{spawn, spawn_blocking, spawn_cpu, spawn_process};
use triad::Runtime;

const LIMIT: Duration = Duration::from_secs(60);

fn double(x: u64) -> u64 {
    x * 2
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// The runtime's threads: CPU workers, blocking threads, the process pool's
/// supervisor (comm names are cut at 15 bytes).
fn runtime_threads() -> usize {
    threads_named("triad-worker-")
        + threads_named("triad-block-")
        + threads_named("triad-superviso")
}

/// What the process has before a runtime exists.
fn baseline() -> (usize, usize, Vec<u32>) {
    (runtime_threads(), open_fds(), children())
}

fn assert_back_to(before: &(usize, usize, Vec<u32>)) {
    eventually("the runtime's threads are gone", || {
        runtime_threads() == before.0
    });
    assert_eq!(runtime_threads(), before.0, "a thread outlived the runtime");
    assert_eq!(children(), before.2, "a child process outlived the runtime");
    assert_eq!(open_fds(), before.1, "a descriptor outlived the runtime");
}

#[test]
fn dropping_the_runtime_leaves_no_thread_child_or_descriptor() {
    let _serial = serial();
    within(LIMIT, || {
        let before = baseline();
        let rt = Runtime::builder()
            .threads(2)
            .processes(2)
            .blocking_threads(2)
            .build()
            .unwrap();
        let total = rt.block_on(async {
            let blocking: Vec<_> = (0..4).map(|i| spawn_blocking(move || nap(5) + i)).collect();
            let mut total =
                spawn_cpu(|| 1).await.unwrap() + spawn_process(double, 1).await.unwrap();
            for b in blocking {
                total += b.await.unwrap();
            }
            total + spawn(async { 1 }).await.unwrap()
        });
        assert_eq!(total, 1 + 2 + (20 + 6) + 1);
        // While it runs: 2 workers, up to 2 blocking threads, the supervisor;
        // the zygote and two workers as children.
        assert_eq!(threads_named("triad-worker-"), before.0 + 2);
        assert!((1..=2).contains(&threads_named("triad-block-")));
        let kids = children();
        assert_eq!(kids.len(), before.2.len() + 1, "the zygote: {kids:?}");
        assert!(open_fds() > before.1);
        drop(rt);
        assert_back_to(&before);
    });
}

#[test]
fn jobs_in_flight_at_drop_get_their_real_outcomes_and_loop_tasks_are_cancelled() {
    let _serial = serial();
    within(LIMIT, || {
        let before = baseline();
        let rt = runtime_support::one_of_each();
        let ran = Arc::new(AtomicUsize::new(0));
        let (loop_task, cpu, blocking, process) = rt.block_on(async {
            let loop_task = spawn(triad::event_loop::sleep(Duration::from_secs(3600)));
            // Queued behind each other on one CPU thread and one blocking thread.
            let cpu: Vec<_> = (0..4)
                .map(|i| {
                    let ran = ran.clone();
                    spawn_cpu(move || {
                        std::thread::sleep(Duration::from_millis(20));
                        ran.fetch_add(1, Ordering::SeqCst);
                        i
                    })
                })
                .collect();
            let blocking: Vec<_> = (0..4)
                .map(|i| {
                    let ran = ran.clone();
                    spawn_blocking(move || {
                        std::thread::sleep(Duration::from_millis(20));
                        ran.fetch_add(1, Ordering::SeqCst);
                        i
                    })
                })
                .collect();
            let process: Vec<_> = (0..3).map(|_| spawn_process(nap, 30)).collect();
            (loop_task, cpu, blocking, process)
        });
        drop(rt);
        // Everything accepted ran before the drop returned.
        assert_eq!(ran.load(Ordering::SeqCst), 8);
        assert!(cpu.iter().all(|h| h.is_finished()));
        assert!(blocking.iter().all(|h| h.is_finished()));
        assert!(process.iter().all(|h| h.is_finished()));
        // The handles outlive the runtime, with their values.
        let cpu: Vec<_> = cpu.into_iter().map(|h| h.join().unwrap()).collect();
        let blocking: Vec<_> = blocking.into_iter().map(|h| h.join().unwrap()).collect();
        let process: Vec<_> = process.into_iter().map(|h| h.wait().unwrap()).collect();
        assert_eq!(
            (cpu, blocking, process),
            (vec![0, 1, 2, 3], vec![0, 1, 2, 3], vec![30; 3])
        );
        // The loop task was cancelled with the loop.
        assert!(loop_task.is_finished());
        let error = runtime_support::block_on(loop_task).unwrap_err();
        assert!(error.is_cancelled(), "{error}");
        assert_back_to(&before);
    });
}

#[test]
fn shutdown_order_lets_blocking_jobs_wait_for_cpu_jobs_and_cpu_jobs_for_processes() {
    let _serial = serial();
    within(LIMIT, || {
        let before = baseline();
        let rt = runtime_support::one_of_each();
        let results = Arc::new(Mutex::new(Vec::new()));
        rt.block_on(async {
            // Rule 4 before 5: a blocking job that waits for a CPU job.
            let slow_cpu = spawn_cpu(|| nap(50));
            let results_b = results.clone();
            drop(spawn_blocking(move || {
                results_b
                    .lock()
                    .unwrap()
                    .push(("blocking", slow_cpu.join().unwrap()));
            }));
            // Rule 5 before 6: a CPU job that waits for a process task.
            let slow_process = spawn_process(nap, 80);
            let results_c = results.clone();
            drop(spawn_cpu(move || {
                results_c
                    .lock()
                    .unwrap()
                    .push(("cpu", slow_process.wait().unwrap()));
            }));
        });
        drop(rt); // detached work only: the drop must still let it finish
        let mut results = results.lock().unwrap().clone();
        results.sort();
        assert_eq!(results, [("blocking", 50), ("cpu", 80)]);
        assert_back_to(&before);
    });
}

#[test]
fn a_handle_in_use_on_another_thread_while_the_runtime_drops_neither_hangs_nor_leaks() {
    let _serial = serial();
    within(LIMIT, || {
        let before = baseline();
        let rt = runtime_support::one_of_each();
        let handle = rt.handle();
        let started = Arc::new(AtomicBool::new(false));
        let hammer = std::thread::spawn({
            let started = started.clone();
            move || {
                let mut accepted = 0u64;
                loop {
                    let cpu = handle.spawn_cpu(|| 1);
                    let blocking = handle.spawn_blocking(|| 1);
                    let process = handle.spawn_process(double, 1);
                    started.store(true, Ordering::SeqCst);
                    match (cpu.join(), blocking.join(), process.wait()) {
                        (Ok(_), Ok(_), Ok(_)) => accepted += 1,
                        (cpu, blocking, process) => {
                            // Refused, never lost: each either ran or says why.
                            for outcome in [cpu, blocking, process.map(|_| 0)] {
                                if let Err(e) = outcome {
                                    assert!(e.is_shutdown(), "{e}");
                                }
                            }
                            return accepted;
                        }
                    }
                }
            }
        });
        while !started.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(20));
        drop(rt);
        let accepted = hammer.join().unwrap();
        assert!(accepted > 0);
        assert_back_to(&before);
    });
}

#[test]
fn a_failed_build_leaves_nothing_behind() {
    let _serial = serial();
    within(LIMIT, || {
        let before = baseline();
        // A setting the process pool refuses, past the facade's own checks.
        let error = Runtime::builder()
            .threads(1)
            .processes(1)
            .process_pool(|pool| pool.slots_per_worker(0))
            .build()
            .unwrap_err();
        assert!(error.is_processes());
        assert_back_to(&before);
    });
}

// ---------------------------------------------------------------- start order

/// Set in the environment of a copy of this test binary: there, the probe
/// below runs before `main` (and before the test harness starts any thread),
/// which is the situation of a program that builds its runtime first thing.
const PROBE: &str = "TRIAD_RUNTIME_START_ORDER_PROBE";

runtime_support::before_main!(PROBE, start_order_probe);

fn start_order_probe() {
    let threads_before = runtime_support::thread_count();
    let rt = Runtime::builder()
        .threads(2)
        .processes(1)
        .blocking_threads(1)
        .build()
        .unwrap();
    let mode = rt.process_pool().start_mode();
    let value = rt.block_on(async { spawn_process(double, 21).await.unwrap() });
    drop(rt);
    println!("PROBE threads_before={threads_before} mode={mode:?} value={value}");
}

#[test]
fn in_a_single_threaded_program_the_zygote_is_forked_directly() {
    let _serial = serial();
    within(LIMIT, || {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .env(PROBE, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Built first thing, the process pool found one thread and forked.
        assert!(
            stdout.contains("PROBE threads_before=1 mode=Fork value=42"),
            "{stdout}"
        );
    });
    // Here, in the multi-threaded harness, Auto had to choose Exec.
    let rt = Runtime::builder().threads(1).processes(1).build().unwrap();
    assert_eq!(rt.process_pool().start_mode(), StartMode::Exec);
}
