//! Every outcome is typed: bad configurations, panics on each runtime, a
//! crashing process task, timeouts, and work handed to a runtime already
//! shut down.
#![cfg(feature = "runtime")]

mod runtime_support;

use std::error::Error as _;
use std::future::Future as _;
use std::time::Duration;

use runtime_support::{no_core_dumps, runtime, within, PanicsOnDrop};
use triad::processes::StartMode;
use triad::runtime::{spawn, spawn_blocking, spawn_cpu, spawn_process, JoinError, Origin};
use triad::Runtime;

const LIMIT: Duration = Duration::from_secs(60);

fn crash(_: ()) -> u64 {
    std::process::abort()
}

fn panics(message: String) -> u64 {
    panic!("{message}")
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn double(x: u64) -> u64 {
    x * 2
}

#[test]
fn errors_are_send_sync_and_static() {
    fn check<T: Send + Sync + 'static>() {}
    check::<JoinError>();
    check::<triad::runtime::BuildError>();
    check::<triad::runtime::Handle>();
}

#[test]
fn bad_configuration_is_a_typed_error_before_anything_starts() {
    within(LIMIT, || {
        let zero_threads = Runtime::builder().threads(0).build().unwrap_err();
        assert!(zero_threads.is_zero_threads() && zero_threads.is_bad_config());
        let zero_processes = Runtime::builder().processes(0).build().unwrap_err();
        assert!(zero_processes.is_zero_processes() && zero_processes.is_bad_config());
        let zero_blocking = Runtime::builder().blocking_threads(0).build().unwrap_err();
        assert!(zero_blocking.is_zero_blocking_threads() && zero_blocking.is_bad_config());
        let zero_keep_alive = Runtime::builder()
            .blocking_keep_alive(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(zero_keep_alive.is_zero_blocking_threads());
        for error in [
            &zero_threads,
            &zero_processes,
            &zero_blocking,
            &zero_keep_alive,
        ] {
            assert!(error.source().is_none(), "the facade's own check: {error}");
            assert!(!error.is_processes() && !error.is_threads() && !error.is_event_loop());
            assert!(!error.to_string().is_empty());
        }
    });
}

#[test]
fn a_thread_count_the_thread_pool_refuses_is_bad_config_with_its_error_as_source() {
    // Out of range (more than the thread pool's 65,536), refused by the
    // thread pool's builder rather than the facade's own check: still a bad
    // configuration, as a setting the process pool refuses is.
    within(LIMIT, || {
        let error = Runtime::builder()
            .threads(1 << 20)
            .processes(1)
            .build()
            .unwrap_err();
        assert!(error.is_threads(), "{error}");
        assert!(error.is_bad_config(), "{error}");
        let source = error.source().unwrap();
        let source = source.downcast_ref::<triad::threads::BuildError>().unwrap();
        assert!(source.is_too_many_threads());
    });
}

#[test]
fn a_process_pool_refusal_is_wrapped_with_its_own_error_as_source() {
    within(LIMIT, || {
        let error = Runtime::builder()
            .threads(1)
            .processes(1)
            .process_pool(|pool| pool.result_capacity(0))
            .build()
            .unwrap_err();
        assert!(error.is_processes() && error.is_bad_config());
        let source = error.source().unwrap();
        assert!(source
            .downcast_ref::<triad::processes::BuildError>()
            .is_some());
        assert!(error
            .to_string()
            .starts_with("could not build the process pool: "));

        // A direct fork in this (multi-threaded) test harness is refused.
        let error = Runtime::builder()
            .threads(1)
            .processes(1)
            .process_pool(|pool| pool.start_mode(StartMode::Fork))
            .build()
            .unwrap_err();
        let source = error
            .source()
            .and_then(|s| s.downcast_ref::<triad::processes::BuildError>())
            .unwrap();
        assert!(source.threaded_parent().is_some());
        assert!(!error.is_bad_config());
    });
}

#[test]
fn a_panic_in_spawn_cpu_comes_back_as_an_error_and_the_pool_goes_on() {
    within(LIMIT, || {
        let rt = runtime(2);
        let (error, after) = rt.block_on(async {
            let error = spawn_cpu(|| -> u32 { panic!("cpu boom") })
                .await
                .unwrap_err();
            (error, spawn_cpu(|| 1).await.unwrap())
        });
        assert_eq!(after, 1);
        assert_eq!(error.origin(), Origin::Cpu);
        assert!(error.is_panic() && !error.is_cancelled() && !error.is_shutdown());
        assert_eq!(error.panic_message(), Some("cpu boom"));
        assert_eq!(error.to_string(), "cpu task: the job panicked: cpu boom");
        assert!(error
            .source()
            .unwrap()
            .downcast_ref::<triad::threads::JoinError>()
            .is_some());
        let payload = error.try_into_panic().unwrap();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"cpu boom"));
    });
}

#[test]
fn a_panic_in_spawn_blocking_comes_back_as_an_error_and_the_thread_goes_on() {
    within(LIMIT, || {
        let rt = runtime(1);
        let (error, thread_before, thread_after) = rt.block_on(async {
            let before = spawn_blocking(|| std::thread::current().id())
                .await
                .unwrap();
            let error = spawn_blocking(|| -> () { std::panic::panic_any(42i32) })
                .await
                .unwrap_err();
            let after = spawn_blocking(|| std::thread::current().id())
                .await
                .unwrap();
            (error, before, after)
        });
        assert_eq!(
            thread_before, thread_after,
            "the one blocking thread survived"
        );
        assert_eq!(error.origin(), Origin::Blocking);
        assert!(error.is_panic());
        assert_eq!(error.panic_message(), None, "not a string payload");
        assert_eq!(error.to_string(), "blocking task: the job panicked");
        assert!(error.source().is_none());
        assert_eq!(
            error.try_into_panic().unwrap().downcast_ref::<i32>(),
            Some(&42)
        );

        // Joined from another thread: the same outcome.
        let error = rt
            .handle()
            .spawn_blocking(|| -> () { panic!("joined") })
            .join()
            .unwrap_err();
        assert_eq!(error.panic_message(), Some("joined"));
    });
}

/// Waking it panics: a waker of some other executor, as user code.
struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        panic!("the waker panics");
    }
}

#[test]
fn a_panic_in_what_a_blocking_job_s_send_runs_keeps_the_one_thread() {
    // Sending a blocking job's outcome runs user code after the job: the
    // value's (or the panic payload's) drop when the handle is gone, the
    // handle's waker. Its panic killed the pool's one thread, still counted
    // as busy, so every later job waited in the queue for ever.
    within(LIMIT, || {
        let rt = runtime(1);
        let handle = rt.handle();
        let one_job_runs = || {
            assert_eq!(
                handle.spawn_blocking(|| 5).join().unwrap(),
                5,
                "the blocking thread survived"
            );
        };

        // The value's drop, on the blocking thread (the handle is gone
        // before the job returns).
        let (go, wait) = std::sync::mpsc::channel::<()>();
        drop(handle.spawn_blocking(move || {
            wait.recv().unwrap();
            PanicsOnDrop
        }));
        go.send(()).unwrap();
        one_job_runs();

        // The panic payload's drop, likewise.
        let (go, wait) = std::sync::mpsc::channel::<()>();
        drop(handle.spawn_blocking(move || -> () {
            wait.recv().unwrap();
            std::panic::panic_any(PanicsOnDrop)
        }));
        go.send(()).unwrap();
        one_job_runs();

        // The handle's waker: the outcome still arrives.
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let mut job = handle.spawn_blocking(move || {
            wait.recv().unwrap();
            7
        });
        let waker = std::task::Waker::from(std::sync::Arc::new(PanickingWaker));
        let polled = std::pin::Pin::new(&mut job).poll(&mut std::task::Context::from_waker(&waker));
        assert!(polled.is_pending());
        go.send(()).unwrap();
        assert_eq!(job.join().unwrap(), 7);
        one_job_runs();
    });
}

#[test]
fn a_panicking_loop_task_is_an_error_with_the_loop_as_origin() {
    within(LIMIT, || {
        let rt = runtime(1);
        let error = rt.block_on(async { spawn(async { panic!("loop boom") }).await.unwrap_err() });
        assert_eq!(error.origin(), Origin::Loop);
        assert!(error.is_panic());
        assert_eq!(error.panic_message(), Some("loop boom"));
        assert!(error
            .source()
            .unwrap()
            .downcast_ref::<triad::event_loop::JoinError>()
            .is_some());
    });
}

#[test]
fn a_crashing_process_task_fails_alone_and_a_new_worker_takes_over() {
    no_core_dumps();
    within(LIMIT, || {
        let rt = runtime(1);
        let (error, after) = rt.block_on(async {
            let error = spawn_process(crash, ()).await.unwrap_err();
            (error, spawn_process(double, 21).await.unwrap())
        });
        assert_eq!(after, 42);
        assert_eq!(error.origin(), Origin::Process);
        assert!(error.is_crash() && !error.is_panic());
        assert_eq!(error.signal(), Some(libc::SIGABRT));
        assert!(error.to_string().starts_with("process task: "), "{error}");
        let source = error
            .source()
            .and_then(|s| s.downcast_ref::<triad::processes::TaskError>())
            .unwrap();
        assert!(source.is_crash());
        assert!(
            error.try_into_panic().is_err(),
            "no payload crosses processes"
        );
        assert!(rt.process_pool().stats().workers_started >= 2);
    });
}

#[test]
fn a_panicking_process_task_gives_its_message() {
    within(LIMIT, || {
        let rt = runtime(1);
        let error = rt.block_on(async {
            spawn_process(panics, "in a worker".to_owned())
                .await
                .unwrap_err()
        });
        assert_eq!(error.origin(), Origin::Process);
        assert!(error.is_panic() && !error.is_crash());
        assert_eq!(error.panic_message(), Some("in a worker"));
    });
}

#[test]
fn a_process_task_past_its_timeout_is_a_timeout() {
    within(LIMIT, || {
        let rt = Runtime::builder()
            .threads(1)
            .processes(1)
            .process_pool(|pool| pool.task_timeout(Duration::from_millis(100)))
            .build()
            .unwrap();
        let (error, quick) = rt.block_on(async {
            let error = spawn_process(nap, 30_000).await.unwrap_err();
            (error, spawn_process(nap, 1).await.unwrap())
        });
        assert!(error.is_timeout() && !error.is_crash());
        assert_eq!(quick, 1);
    });
}

#[test]
fn an_aborted_loop_task_is_cancelled() {
    within(LIMIT, || {
        let rt = runtime(1);
        let error = rt.block_on(async {
            let task = spawn(triad::event_loop::sleep(Duration::from_secs(3600)));
            task.abort();
            task.await.unwrap_err()
        });
        assert!(error.is_cancelled() && error.origin() == Origin::Loop);
    });
}

#[test]
fn work_given_to_a_runtime_already_dropped_is_refused_for_each_origin() {
    within(LIMIT, || {
        let rt = runtime(1);
        let handle = rt.handle();
        drop(rt);
        let errors = [
            runtime_support::block_on(handle.spawn(async { 1 })).unwrap_err(),
            handle.spawn_cpu(|| 1).join().unwrap_err(),
            handle.spawn_process(double, 1).wait().unwrap_err(),
            handle.spawn_blocking(|| 1).join().unwrap_err(),
        ];
        let origins: Vec<Origin> = errors.iter().map(JoinError::origin).collect();
        assert_eq!(
            origins,
            [Origin::Loop, Origin::Cpu, Origin::Process, Origin::Blocking]
        );
        for error in &errors {
            assert!(error.is_shutdown(), "{error}");
            assert!(!error.is_panic() && !error.is_cancelled() && error.source().is_none());
            assert!(error.to_string().contains("shut down"), "{error}");
        }
        // Awaited too (a refused handle is ready at once).
        assert!(runtime_support::block_on(handle.spawn_cpu(|| 1))
            .unwrap_err()
            .is_shutdown());
        assert!(format!("{handle:?}").contains("open: false"));
    });
}
