//! The facade's API: every way in, each awaited on the loop and joined from
//! other threads.
#![cfg(feature = "runtime")]

mod runtime_support;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use runtime_support::{one_of_each_with_one_slot, runtime, within};
use triad::event_loop::{sleep, yield_now};
use triad::runtime::{
    spawn, spawn_blocking, spawn_cpu, spawn_process, BlockingHandle, CpuHandle, Handle, Origin,
};

const LIMIT: Duration = Duration::from_secs(60);

fn square(x: u64) -> u64 {
    x * x
}

fn words(text: String) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

fn busy_for(d: Duration) -> u64 {
    let start = Instant::now();
    let mut spins = 0u64;
    while start.elapsed() < d {
        spins = spins.wrapping_add(1);
        std::hint::black_box(spins);
    }
    spins
}

#[test]
fn block_on_returns_the_futures_output_and_runs_local_tasks_alongside() {
    within(LIMIT, || {
        let rt = runtime(2);
        let log = Rc::new(RefCell::new(Vec::new()));
        let out = rt.block_on({
            let log = log.clone();
            async move {
                let slow = spawn({
                    let log = log.clone();
                    async move {
                        sleep(Duration::from_millis(5)).await;
                        log.borrow_mut().push("slow");
                        1
                    }
                });
                log.borrow_mut().push("fast");
                slow.await.unwrap() + 1
            }
        });
        assert_eq!(out, 2);
        assert_eq!(*log.borrow(), ["fast", "slow"]);
    });
}

#[test]
fn loop_tasks_left_running_continue_at_the_next_block_on() {
    within(LIMIT, || {
        let rt = runtime(2);
        // The handle leaves the first block_on on purpose.
        #[allow(clippy::async_yields_async)]
        let task = rt.block_on(async {
            spawn(async {
                sleep(Duration::from_millis(20)).await;
                "later"
            })
        });
        assert!(!task.is_finished());
        assert_eq!(rt.block_on(task).unwrap(), "later");
    });
}

#[test]
fn spawn_cpu_runs_on_a_pool_worker_while_the_loop_keeps_ticking() {
    within(LIMIT, || {
        let rt = runtime(2);
        let (index, ticks) = rt.block_on(async {
            let ticks = Rc::new(RefCell::new(0u32));
            let ticker = spawn({
                let ticks = ticks.clone();
                async move {
                    loop {
                        sleep(Duration::from_millis(5)).await;
                        *ticks.borrow_mut() += 1;
                    }
                }
            });
            let index = spawn_cpu(|| {
                busy_for(Duration::from_millis(200));
                triad::threads::current_thread_index()
            })
            .await
            .unwrap();
            ticker.abort();
            let ticks = *ticks.borrow();
            (index, ticks)
        });
        assert!(matches!(index, Some(0) | Some(1)), "ran on {index:?}");
        // 200 ms of CPU work elsewhere: the loop's 5 ms timer kept firing.
        assert!(ticks >= 10, "only {ticks} ticks: the loop was blocked");
    });
}

#[test]
fn many_cpu_jobs_awaited_together_all_complete() {
    within(LIMIT, || {
        let rt = runtime(2);
        let total = rt.block_on(async {
            let jobs: Vec<_> = (0..200u64).map(|i| spawn_cpu(move || i * 2)).collect();
            let mut total = 0;
            for job in jobs {
                total += job.await.unwrap();
            }
            total
        });
        assert_eq!(total, (0..200u64).map(|i| i * 2).sum::<u64>());
    });
}

#[test]
fn cpu_jobs_can_use_the_pools_join_and_scope() {
    within(LIMIT, || {
        let rt = runtime(2);
        let v = rt.block_on(async {
            spawn_cpu(|| {
                let (a, b) = triad::threads::join(|| 20, || 22);
                let mut parts = [0u32; 4];
                triad::threads::scope(|s| {
                    for (i, p) in parts.iter_mut().enumerate() {
                        s.spawn(move |_| *p = i as u32);
                    }
                });
                a + b + parts.iter().sum::<u32>()
            })
            .await
        });
        assert_eq!(v.unwrap(), 42 + 6);
    });
}

#[test]
fn spawn_process_runs_in_another_process_and_its_values_cross_both_ways() {
    within(LIMIT, || {
        let rt = runtime(2);
        let (squares, split) = rt.block_on(async {
            let tasks: Vec<_> = (1..=6u64).map(|i| spawn_process(square, i)).collect();
            let mut squares = Vec::new();
            for task in tasks {
                squares.push(task.await.unwrap());
            }
            let split = spawn_process(words, "a bb  ccc".to_owned()).await.unwrap();
            (squares, split)
        });
        assert_eq!(squares, [1, 4, 9, 16, 25, 36]);
        assert_eq!(split, ["a", "bb", "ccc"]);
        fn pid(_: ()) -> u32 {
            std::process::id()
        }
        let worker = rt.handle().spawn_process(pid, ()).wait().unwrap();
        assert_ne!(worker, std::process::id());
        assert!(rt.process_pool().worker_pids().contains(&worker));
    });
}

fn nap_then_square(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(100));
    x * x
}

#[test]
fn spawn_process_on_a_full_pool_does_not_block_the_loop() {
    within(LIMIT, || {
        // One worker, one result slot: the second submit finds the pool full.
        let rt = triad::Runtime::builder()
            .threads(1)
            .processes(1)
            .process_pool(|pool| pool.slots_per_worker(1))
            .build()
            .unwrap();
        let ticks = Rc::new(RefCell::new(0u32));
        let squares = rt.block_on({
            let ticks = ticks.clone();
            async move {
                let ticker = spawn({
                    let ticks = ticks.clone();
                    async move {
                        loop {
                            sleep(Duration::from_millis(5)).await;
                            *ticks.borrow_mut() += 1;
                        }
                    }
                });
                let tasks: Vec<_> = (1..=5u64)
                    .map(|i| spawn_process(nap_then_square, i))
                    .collect();
                // A waiting submit would have returned only once the tasks
                // before it had finished (a slot is freed only then).
                assert!(!tasks[0].is_finished(), "spawn_process waited for a slot");
                let mut squares = Vec::new();
                for task in tasks {
                    squares.push(task.await.unwrap());
                }
                ticker.abort();
                squares
            }
        });
        assert_eq!(squares, [1, 4, 9, 16, 25]);
        // ~500 ms of process work; the loop kept ticking meanwhile.
        assert!(
            *ticks.borrow() >= 20,
            "the loop ticked {} times",
            ticks.borrow()
        );
        // Queued submits go through the blocking threads, and from another
        // thread `wait` works on them too.
        let handle = rt.handle();
        let waits: Vec<_> = (1..=3u64)
            .map(|i| handle.spawn_process(nap_then_square, i))
            .collect();
        let results: Vec<u64> = waits.into_iter().map(|t| t.wait().unwrap()).collect();
        assert_eq!(results, [1, 4, 9]);
    });
}

#[test]
fn spawn_blocking_runs_on_a_blocking_thread_not_a_worker() {
    within(LIMIT, || {
        let rt = runtime(2);
        let (name, index) = rt.block_on(async {
            spawn_blocking(|| {
                std::thread::sleep(Duration::from_millis(5));
                (
                    std::thread::current().name().map(str::to_owned),
                    triad::threads::current_thread_index(),
                )
            })
            .await
            .unwrap()
        });
        assert!(name.unwrap().starts_with("triad-block-"));
        assert_eq!(index, None, "a blocking job ran on a work-stealing worker");
    });
}

#[test]
fn all_four_at_once_on_one_loop() {
    within(LIMIT, || {
        let rt = runtime(2);
        let total = rt.block_on(async {
            let local = spawn(async { 1u64 });
            let cpu = spawn_cpu(|| 10u64);
            let process = spawn_process(square, 10);
            let blocking = spawn_blocking(|| 1000u64);
            local.await.unwrap()
                + cpu.await.unwrap()
                + process.await.unwrap()
                + blocking.await.unwrap()
        });
        assert_eq!(total, 1111);
    });
}

#[test]
fn the_free_functions_work_in_cpu_jobs_and_blocking_jobs() {
    within(LIMIT, || {
        let rt = runtime(2);
        let (from_cpu, from_blocking) = rt.block_on(async {
            // CPU job → blocking job, and blocking job → CPU job + process task.
            let from_cpu = spawn_cpu(|| spawn_blocking(|| 5).join().unwrap() + 1);
            let from_blocking = spawn_blocking(|| {
                let cpu = spawn_cpu(|| 7);
                let process = spawn_process(square, 3);
                cpu.join().unwrap() + process.wait().unwrap()
            });
            (from_cpu.await.unwrap(), from_blocking.await.unwrap())
        });
        assert_eq!(from_cpu, 6);
        assert_eq!(from_blocking, 16);
    });
}

#[test]
fn a_handle_gives_work_from_any_thread_and_spawns_send_futures_on_the_loop() {
    within(LIMIT, || {
        let rt = runtime(2);
        let handle = rt.handle();
        let (cpu, process, blocking, task) = std::thread::spawn(move || {
            assert!(Handle::try_current().is_none());
            let task = handle.spawn(async {
                yield_now().await;
                "on the loop"
            });
            (
                handle.spawn_cpu(|| 1).join().unwrap(),
                handle.spawn_process(square, 2).wait().unwrap(),
                handle.spawn_blocking(|| 3).join().unwrap(),
                task,
            )
        })
        .join()
        .unwrap();
        assert_eq!((cpu, process, blocking), (1, 4, 3));
        assert_eq!(rt.block_on(task).unwrap(), "on the loop");
    });
}

#[test]
fn handle_current_exists_inside_block_on_and_on_the_runtimes_threads_only() {
    within(LIMIT, || {
        assert!(Handle::try_current().is_none());
        let rt = runtime(2);
        assert!(Handle::try_current().is_none(), "outside block_on");
        let (on_loop, in_task, on_worker, on_blocking) = rt.block_on(async {
            let in_task = spawn(async { Handle::try_current().is_some() });
            (
                Handle::try_current().is_some(),
                in_task.await.unwrap(),
                spawn_cpu(|| Handle::try_current().is_some()).await.unwrap(),
                spawn_blocking(|| Handle::try_current().is_some())
                    .await
                    .unwrap(),
            )
        });
        assert!(on_loop && in_task && on_worker && on_blocking);
        assert!(Handle::try_current().is_none(), "restored after block_on");
        let on_plain_thread = std::thread::spawn(|| Handle::try_current().is_none());
        assert!(on_plain_thread.join().unwrap());
    });
}

#[test]
fn free_functions_outside_a_runtime_give_a_typed_error_and_run_nothing() {
    let ran = Arc::new(AtomicUsize::new(0));
    let cpu = {
        let ran = ran.clone();
        spawn_cpu(move || ran.fetch_add(1, Ordering::SeqCst))
    };
    assert!(cpu.is_finished());
    let error = cpu.join().unwrap_err();
    assert!(error.is_no_runtime() && !error.is_shutdown() && !error.is_cancelled());
    assert_eq!(error.origin(), Origin::Cpu);
    assert!(
        error.to_string().contains("no triad Runtime here"),
        "{error}"
    );

    let blocking = {
        let ran = ran.clone();
        spawn_blocking(move || ran.fetch_add(1, Ordering::SeqCst))
    };
    let error = blocking.join().unwrap_err();
    assert!(error.is_no_runtime());
    assert_eq!(error.origin(), Origin::Blocking);

    let error = spawn_process(square, 4).wait().unwrap_err();
    assert!(error.is_no_runtime());
    assert_eq!(error.origin(), Origin::Process);

    assert_eq!(ran.load(Ordering::SeqCst), 0, "nothing ran");
}

#[test]
fn the_pools_own_apis_are_reachable() {
    within(LIMIT, || {
        let rt = triad::Runtime::builder()
            .threads(3)
            .processes(2)
            .build()
            .unwrap();
        assert_eq!(rt.thread_pool().current_num_threads(), 3);
        assert_eq!(rt.process_pool().workers(), 2);
        assert_eq!(rt.thread_pool().install(|| 5).unwrap(), 5);
        assert_eq!(rt.process_pool().map(square, [2, 3]).unwrap(), [4, 9]);
        let debug = format!("{rt:?} {:?}", rt.handle());
        assert!(
            debug.contains("Runtime") && debug.contains("open: true"),
            "{debug}"
        );
    });
}

#[test]
fn handles_report_whether_they_are_finished() {
    within(LIMIT, || {
        let rt = runtime(2);
        let handle = rt.handle();
        let cpu = handle.spawn_cpu(|| 1);
        let blocking = handle.spawn_blocking(|| 2);
        let process = handle.spawn_process(square, 3);
        runtime_support::eventually("all three finished", || {
            cpu.is_finished() && blocking.is_finished() && process.is_finished()
        });
        assert_eq!(cpu.join().unwrap(), 1);
        assert_eq!(blocking.join().unwrap(), 2);
        assert_eq!(process.wait().unwrap(), 9);
        assert!(format!("{:?}", handle.spawn_cpu(|| ())).contains("CpuHandle"));
    });
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[test]
fn a_process_task_is_waited_on_with_a_timeout_in_the_pool_and_behind_a_full_one() {
    within(LIMIT, || {
        let rt = one_of_each_with_one_slot();
        let handle = rt.handle();
        let mut first = handle.spawn_process(nap, 300);
        // The only slot is taken: this one's submit waits on a blocking thread.
        let mut second = handle.spawn_process(nap, 10);
        assert!(first.wait_timeout(Duration::from_millis(5)).is_none());
        assert!(second.wait_timeout(Duration::from_millis(5)).is_none());
        assert_eq!(first.wait_timeout(LIMIT).unwrap().unwrap(), 300);
        assert_eq!(second.wait_timeout(LIMIT).unwrap().unwrap(), 10);
        // Refused: the outcome is there at once.
        let mut refused = triad::runtime::spawn_process(nap, 1); // no runtime here
        let error = refused.wait_timeout(Duration::ZERO).unwrap().unwrap_err();
        assert!(error.is_no_runtime(), "{error}");
    });
}

#[test]
fn cancel_withdraws_a_process_task_in_the_pool_or_still_queued_for_it() {
    within(LIMIT, || {
        let rt = triad::Runtime::builder()
            .threads(1)
            .processes(1)
            .blocking_threads(1)
            .process_pool(|pool| pool.slots_per_worker(2))
            .build()
            .unwrap();
        let handle = rt.handle();
        let mut busy = handle.spawn_process(nap, 400);
        while !busy.is_running() {
            std::thread::sleep(Duration::from_millis(1));
        }
        // In the pool's second slot, waiting for the only worker.
        let mut in_pool = handle.spawn_process(square, 3);
        assert!(!in_pool.is_running());
        // The pool is full now, and the only blocking thread is busy: this
        // submit stays queued on the blocking pool.
        let blocker = handle.spawn_blocking(|| std::thread::sleep(Duration::from_millis(200)));
        std::thread::sleep(Duration::from_millis(20));
        let mut queued = handle.spawn_process(square, 4);
        assert!(queued.cancel(), "taken back before any thread submitted it");
        assert!(queued.cancel(), "still cancelled, as Python's says again");
        assert!(queued.is_finished());
        assert!(in_pool.cancel());
        assert!(in_pool.cancel(), "the pool's handle says so again too");
        assert!(!busy.cancel(), "a worker has it");
        for task in [queued, in_pool] {
            let error = task.wait().unwrap_err();
            assert!(error.is_cancelled(), "{error}");
            assert_eq!(error.origin(), Origin::Process);
        }
        assert_eq!(busy.wait().unwrap(), 400);
        blocker.join().unwrap();
        // Nothing leaked: the pool runs a full load again.
        let tasks: Vec<_> = (1..=4u64)
            .map(|i| handle.spawn_process(square, i))
            .collect();
        let squares: Vec<u64> = tasks.into_iter().map(|t| t.wait().unwrap()).collect();
        assert_eq!(squares, [1, 4, 9, 16]);
    });
}

/// Whether `outcome` is the error of a pool with no thread in this process.
fn unavailable<T>(outcome: Option<Result<T, triad::runtime::JoinError>>) -> bool {
    matches!(outcome, Some(Err(e)) if e.is_pool_unavailable())
}

/// A CPU job and a blocking job that each return their value once the test
/// sends them the go-ahead.
fn gated_jobs(
    rt: &triad::Runtime,
) -> (
    CpuHandle<u32>,
    BlockingHandle<u32>,
    mpsc::Sender<()>,
    mpsc::Sender<()>,
) {
    let (go_cpu, gate_cpu) = mpsc::channel::<()>();
    let (go_blocking, gate_blocking) = mpsc::channel::<()>();
    let cpu = rt.handle().spawn_cpu(move || {
        let _ = gate_cpu.recv();
        1
    });
    let blocking = rt.handle().spawn_blocking(move || {
        let _ = gate_blocking.recv();
        2
    });
    (cpu, blocking, go_cpu, go_blocking)
}

#[test]
fn wait_timeout_of_cpu_and_blocking_jobs_times_out_then_gives_the_value() {
    within(LIMIT, || {
        let rt = runtime(2);
        let (mut cpu, mut blocking, go_cpu, go_blocking) = gated_jobs(&rt);
        let start = Instant::now();
        assert!(cpu.wait_timeout(Duration::from_millis(50)).is_none());
        assert!(blocking.wait_timeout(Duration::from_millis(50)).is_none());
        assert!(
            start.elapsed() >= Duration::from_millis(100),
            "waited the timeouts"
        );
        assert!(!cpu.is_finished() && !blocking.is_finished());
        go_cpu.send(()).unwrap();
        go_blocking.send(()).unwrap();
        assert_eq!(
            cpu.wait_timeout(Duration::from_secs(30)).unwrap().unwrap(),
            1
        );
        assert_eq!(
            blocking
                .wait_timeout(Duration::from_secs(30))
                .unwrap()
                .unwrap(),
            2
        );
        // After a timeout, awaiting and joining still work.
        let (mut cpu, mut blocking, go_cpu, go_blocking) = gated_jobs(&rt);
        assert!(cpu.wait_timeout(Duration::from_millis(10)).is_none());
        assert!(blocking.wait_timeout(Duration::from_millis(10)).is_none());
        go_cpu.send(()).unwrap();
        go_blocking.send(()).unwrap();
        assert_eq!(
            rt.block_on(async { cpu.await.unwrap() + blocking.await.unwrap() }),
            3
        );
        let (mut cpu, mut blocking, go_cpu, go_blocking) = gated_jobs(&rt);
        assert!(cpu.wait_timeout(Duration::from_millis(10)).is_none());
        assert!(blocking.wait_timeout(Duration::from_millis(10)).is_none());
        go_cpu.send(()).unwrap();
        go_blocking.send(()).unwrap();
        assert_eq!(cpu.join().unwrap() + blocking.join().unwrap(), 3);
    });
}

#[test]
fn wait_timeout_of_cpu_and_blocking_jobs_gives_a_value_or_a_panic_in_time() {
    within(LIMIT, || {
        let rt = runtime(2);
        let start = Instant::now();
        let mut cpu = rt.handle().spawn_cpu(|| 6);
        let mut blocking = rt.handle().spawn_blocking(|| 7);
        assert_eq!(
            cpu.wait_timeout(Duration::from_secs(30)).unwrap().unwrap(),
            6
        );
        assert_eq!(
            blocking
                .wait_timeout(Duration::from_secs(30))
                .unwrap()
                .unwrap(),
            7
        );
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "did not wait the timeout"
        );
        let mut cpu = rt.handle().spawn_cpu(|| -> u8 { panic!("cpu boom") });
        let mut blocking = rt
            .handle()
            .spawn_blocking(|| -> u8 { panic!("blocking boom") });
        let error = cpu
            .wait_timeout(Duration::from_secs(30))
            .unwrap()
            .unwrap_err();
        assert!(error.is_panic() && error.origin() == Origin::Cpu);
        assert_eq!(error.panic_message(), Some("cpu boom"));
        let error = blocking
            .wait_timeout(Duration::from_secs(30))
            .unwrap()
            .unwrap_err();
        assert!(error.is_panic() && error.origin() == Origin::Blocking);
        assert_eq!(error.panic_message(), Some("blocking boom"));
        // Refused by a runtime that is gone: at once, its own error.
        let handle = rt.handle();
        drop(rt);
        let error = handle.spawn_cpu(|| 1).wait_timeout(Duration::from_secs(30));
        assert!(error.unwrap().unwrap_err().is_shutdown());
        let error = handle
            .spawn_blocking(|| 1)
            .wait_timeout(Duration::from_secs(30));
        assert!(error.unwrap().unwrap_err().is_shutdown());
    });
}

#[test]
fn wait_timeout_of_cpu_and_blocking_jobs_in_a_forked_child_answers_at_once() {
    within(LIMIT, || {
        let rt = runtime(2);
        let mut cpu_done = rt.handle().spawn_cpu(|| 3);
        let mut blocking_done = rt.handle().spawn_blocking(|| 4);
        while !cpu_done.is_finished() || !blocking_done.is_finished() {
            std::thread::yield_now();
        }
        let (mut cpu, mut blocking, go_cpu, go_blocking) = gated_jobs(&rt);
        // Joined (by value) in the child: its handles are moved there.
        let (to_join, go_to_join) = {
            let (cpu, blocking, go_cpu, go_blocking) = gated_jobs(&rt);
            ((cpu, blocking), (go_cpu, go_blocking))
        };
        let code = runtime_support::exit_code_in_forked_child(|| {
            // Neither pool has a thread here: a minute's timeout must not
            // be waited (threads' spawn rule 5, blocking.rs rule 10).
            let start = Instant::now();
            let cpu_unavailable = unavailable(cpu.wait_timeout(Duration::from_secs(60)));
            let blocking_unavailable = unavailable(blocking.wait_timeout(Duration::from_secs(60)));
            let values = matches!(cpu_done.wait_timeout(Duration::from_secs(60)), Some(Ok(3)))
                && matches!(
                    blocking_done.wait_timeout(Duration::from_secs(60)),
                    Some(Ok(4))
                );
            let (cpu_joined, blocking_joined) = to_join;
            let joins_unavailable =
                unavailable(Some(cpu_joined.join())) && unavailable(Some(blocking_joined.join()));
            let at_once = start.elapsed() < Duration::from_secs(10);
            match (
                cpu_unavailable,
                blocking_unavailable,
                values,
                joins_unavailable,
                at_once,
            ) {
                (true, true, true, true, true) => 0,
                (false, ..) => 2,
                (_, false, ..) => 3,
                (_, _, false, ..) => 4,
                (_, _, _, false, _) => 5,
                _ => 6,
            }
        });
        assert_eq!(
            code, 0,
            "2: cpu not unavailable, 3: blocking not unavailable, 4: no value, \
             5: a join not unavailable, 6: waited"
        );
        // The jobs whose handles the child took still run here.
        go_to_join.0.send(()).unwrap();
        go_to_join.1.send(()).unwrap();
        // The parent's handles are untouched by the child's calls.
        go_cpu.send(()).unwrap();
        go_blocking.send(()).unwrap();
        assert_eq!(cpu.join().unwrap() + blocking.join().unwrap(), 3);
        assert_eq!(cpu_done.join().unwrap() + blocking_done.join().unwrap(), 7);
    });
}

#[test]
fn process_handles_in_a_forked_child_answer_at_once_even_queued_for_a_blocking_thread() {
    within(LIMIT, || {
        let rt = triad::Runtime::builder()
            .threads(1)
            .processes(1)
            .blocking_threads(1)
            .process_pool(|pool| pool.slots_per_worker(2))
            .build()
            .unwrap();
        let handle = rt.handle();
        let busy = handle.spawn_process(nap, 300);
        while !busy.is_running() {
            std::thread::sleep(Duration::from_millis(1));
        }
        // The pool's second slot, then a full pool and the only blocking
        // thread busy: these two submits stay queued on the blocking pool.
        let in_pool = handle.spawn_process(square, 3);
        let (go, gate) = std::sync::mpsc::channel::<()>();
        let blocker = handle.spawn_blocking(move || gate.recv().unwrap());
        std::thread::sleep(Duration::from_millis(20));
        let mut queued = handle.spawn_process(square, 4);
        let mut queued_awaited = handle.spawn_process(square, 5);
        let to_wait = handle.spawn_process(square, 6);
        let code = runtime_support::exit_code_in_forked_child(|| {
            // No blocking thread here, and the pool's slots are the
            // parent's: nothing may be waited for (a minute's timeout).
            let start = Instant::now();
            let finished = queued.is_finished();
            let timed = unavailable(queued.wait_timeout(Duration::from_secs(60)));
            let polled = unavailable(Some(runtime_support::block_on(&mut queued_awaited)));
            let waited = unavailable(Some(to_wait.wait()));
            let cancelled = queued.cancel();
            match (
                finished,
                timed,
                polled,
                waited,
                cancelled,
                start.elapsed() < Duration::from_secs(10),
            ) {
                (true, true, true, true, false, true) => 0,
                (false, ..) => 2,
                (_, false, ..) => 3,
                (_, _, false, ..) => 4,
                (_, _, _, false, ..) => 5,
                (_, _, _, _, true, _) => 6,
                _ => 7,
            }
        });
        assert_eq!(
            code, 0,
            "2: not finished, 3: wait_timeout not unavailable, 4: await not unavailable, \
             5: wait not unavailable, 6: cancelled in the child, 7: waited"
        );
        // The parent's tasks are untouched.
        go.send(()).unwrap();
        blocker.join().unwrap();
        assert_eq!(busy.wait().unwrap(), 300);
        assert_eq!(in_pool.wait().unwrap(), 9);
        assert_eq!(queued.wait().unwrap(), 16);
        assert_eq!(queued_awaited.wait().unwrap(), 25);
    });
}
