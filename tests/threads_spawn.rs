//! `spawn` and `JoinHandle`: values, panics, awaiting, and many spawners.

#![cfg(feature = "threads")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use triad::threads::{spawn, ThreadPool};

#[test]
fn a_spawned_job_gives_its_value() {
    let pool = ThreadPool::builder().num_threads(2).build().unwrap();
    let handle = pool.spawn(|| (1..=100u64).sum::<u64>());
    assert_eq!(handle.join().unwrap(), 5050);
}

#[test]
fn a_spawned_panic_is_the_handles_error_and_the_worker_survives() {
    let pool = ThreadPool::builder().num_threads(1).build().unwrap();
    let seven = std::hint::black_box(7); // a runtime value: the payload is a String
    let error = pool
        .spawn(move || -> u8 { panic!("kaboom {seven}") })
        .join()
        .unwrap_err();
    assert!(error.is_panic());
    assert!(!error.is_cancelled());
    assert_eq!(error.panic_message(), Some("kaboom 7"));
    assert_eq!(error.to_string(), "the job panicked: kaboom 7");
    let payload = error.into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("kaboom 7")
    );
    // The only worker is still alive.
    assert_eq!(pool.spawn(|| 3).join().unwrap(), 3);
}

#[test]
fn a_handle_can_be_awaited() {
    let pool = ThreadPool::builder().num_threads(2).build().unwrap();
    let handle = pool.spawn(|| {
        std::thread::sleep(Duration::from_millis(20));
        "late"
    });
    assert_eq!(support::block_on(handle).unwrap(), "late");
    let failed = pool.spawn(|| -> () { panic!("async boom") });
    assert!(support::block_on(failed).unwrap_err().is_panic());
}

#[test]
fn joining_a_handle_inside_a_one_thread_pool_does_not_deadlock() {
    let pool = ThreadPool::builder().num_threads(1).build().unwrap();
    let value = support::within(Duration::from_secs(10), move || {
        pool.install(|| {
            let inner = spawn(|| 21);
            inner.join().unwrap() * 2
        })
        .unwrap()
    });
    assert_eq!(value, 42);
}

#[test]
fn eight_outside_threads_spawn_a_million_jobs_and_all_run_exactly_once() {
    const PER_THREAD: usize = 125_000;
    let pool = Arc::new(ThreadPool::builder().num_threads(2).build().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let spawners: Vec<_> = (0..8)
        .map(|_| {
            let pool = pool.clone();
            let count = count.clone();
            std::thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    let count = count.clone();
                    // Detached: dropping the handle does not cancel the job.
                    drop(pool.spawn(move || {
                        count.fetch_add(1, Ordering::Relaxed);
                    }));
                }
            })
        })
        .collect();
    for spawner in spawners {
        spawner.join().unwrap();
    }
    // Dropping the pool runs every queued job before joining the workers.
    drop(Arc::try_unwrap(pool).unwrap());
    assert_eq!(count.load(Ordering::Relaxed), 8 * PER_THREAD);
}

#[test]
fn free_spawn_from_outside_uses_the_global_pool() {
    let handle = spawn(triad::threads::current_num_threads);
    assert!(handle.join().unwrap() >= 1);
    let handle = spawn(|| 9);
    while !handle.is_finished() {
        std::thread::yield_now();
    }
    assert_eq!(handle.join().unwrap(), 9);
}

use support::PanicsOnDrop;

#[test]
fn a_detached_result_whose_drop_panics_does_not_kill_the_worker() {
    // The handle is dropped before the job ends, so the job's worker drops
    // the value it made: that drop's panic must stay inside the job.
    let pool = Arc::new(ThreadPool::builder().num_threads(1).build().unwrap());
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let handle = pool.spawn(move || {
        wait.recv().unwrap();
        PanicsOnDrop
    });
    drop(handle);
    go.send(()).unwrap();
    let pool2 = pool.clone();
    // 60 s: the worker's panic prints a backtrace, which ThreadSanitizer
    // slows by seconds (its start-hook twin in threads_pool missed 10 s).
    let value = support::within(Duration::from_secs(60), move || pool2.install(|| 5));
    assert_eq!(value.unwrap(), 5, "the only worker is still alive");
}

/// A waker that counts its wakes; its `Arc`'s strong count says whether
/// anything still holds a clone of it.
struct CountingWaker {
    wakes: AtomicUsize,
}

impl std::task::Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_handle_polled_then_dropped_lets_go_of_its_waker() {
    // A task that awaited a handle and then gave up on it (a timeout won a
    // select, the task was cancelled): the handle is dropped while the job
    // still runs. Its waker belongs to the task, which must neither be kept
    // alive by the pool until the job ends nor woken for a handle it no
    // longer has.
    use std::future::Future;
    use std::task::{Context, Waker};
    let pool = ThreadPool::builder().num_threads(1).build().unwrap();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let mut handle = pool.spawn(move || {
        wait.recv().unwrap();
        String::from("nobody takes this")
    });
    let counting = Arc::new(CountingWaker {
        wakes: AtomicUsize::new(0),
    });
    let waker = Waker::from(counting.clone());
    let poll = std::pin::Pin::new(&mut handle).poll(&mut Context::from_waker(&waker));
    assert!(poll.is_pending());
    drop(waker);
    assert_eq!(
        Arc::strong_count(&counting),
        2,
        "the handle holds the waker"
    );
    drop(handle);
    assert_eq!(
        Arc::strong_count(&counting),
        1,
        "the dropped handle's waker is released at once"
    );
    go.send(()).unwrap();
    pool.shutdown(); // the job has run
    assert_eq!(
        counting.wakes.load(Ordering::SeqCst),
        0,
        "no wake for a dropped handle"
    );
}

#[test]
fn a_handle_polled_to_completion_is_finished() {
    use std::future::Future;
    use std::task::{Context, Waker};
    let pool = ThreadPool::builder().num_threads(1).build().unwrap();
    let mut handle = pool.spawn(|| 5);
    let waker = Waker::from(Arc::new(CountingWaker {
        wakes: AtomicUsize::new(0),
    }));
    let mut cx = Context::from_waker(&waker);
    let value = loop {
        if let std::task::Poll::Ready(value) = std::pin::Pin::new(&mut handle).poll(&mut cx) {
            break value;
        }
        std::thread::yield_now();
    };
    assert_eq!(value.unwrap(), 5);
    assert!(handle.is_finished(), "its outcome was delivered");
}

/// A job that returns `value` once the test sends it the go-ahead.
fn gated(pool: &ThreadPool, value: u32) -> (triad::threads::JoinHandle<u32>, mpsc::Sender<()>) {
    let (go, gate) = mpsc::channel::<()>();
    let handle = pool.spawn(move || {
        let _ = gate.recv();
        value
    });
    (handle, go)
}

#[test]
fn join_timeout_times_out_then_the_handle_gives_the_value() {
    let pool = ThreadPool::builder().num_threads(1).build().unwrap();
    let (mut handle, go) = gated(&pool, 7);
    let start = Instant::now();
    assert!(handle.join_timeout(Duration::from_millis(50)).is_none());
    assert!(
        start.elapsed() >= Duration::from_millis(50),
        "waited the timeout"
    );
    assert!(
        handle.join_timeout(Duration::ZERO).is_none(),
        "again: not yet"
    );
    go.send(()).unwrap();
    assert_eq!(
        handle
            .join_timeout(Duration::from_secs(30))
            .unwrap()
            .unwrap(),
        7
    );
    // After a timeout, awaiting and `join` still work.
    let (mut awaited, go) = gated(&pool, 8);
    assert!(awaited.join_timeout(Duration::from_millis(10)).is_none());
    go.send(()).unwrap();
    assert_eq!(support::block_on(awaited).unwrap(), 8);
    let (mut joined, go) = gated(&pool, 9);
    assert!(joined.join_timeout(Duration::from_millis(10)).is_none());
    go.send(()).unwrap();
    assert_eq!(joined.join().unwrap(), 9);
}

#[test]
fn join_timeout_gives_a_value_or_a_panic_that_comes_in_time() {
    let pool = ThreadPool::builder().num_threads(1).build().unwrap();
    let mut handle = pool.spawn(|| 5u32);
    let start = Instant::now();
    assert_eq!(
        handle
            .join_timeout(Duration::from_secs(30))
            .unwrap()
            .unwrap(),
        5
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "did not wait the timeout"
    );
    let mut failed = pool.spawn(|| -> u32 { panic!("boom") });
    let error = failed
        .join_timeout(Duration::from_secs(30))
        .unwrap()
        .unwrap_err();
    assert!(error.is_panic());
    assert_eq!(error.panic_message(), Some("boom"));
}

#[test]
fn join_timeout_in_a_forked_child_answers_at_once() {
    let pool = ThreadPool::builder().num_threads(1).build().unwrap();
    let mut done = pool.spawn(|| 3u32);
    while !done.is_finished() {
        std::thread::yield_now();
    }
    let (mut blocked, go) = gated(&pool, 4);
    let code = support::exit_code_in_forked_child(|| {
        // Spawn rule 5: the pool's threads are not here; a minute's
        // timeout must not be waited.
        let start = Instant::now();
        let unavailable = matches!(
            blocked.join_timeout(Duration::from_secs(60)),
            Some(Err(e)) if e.is_pool_unavailable()
        );
        let value = matches!(done.join_timeout(Duration::from_secs(60)), Some(Ok(3)));
        let at_once = start.elapsed() < Duration::from_secs(10);
        match (unavailable, value, at_once) {
            (true, true, true) => 0,
            (false, ..) => 2,
            (_, false, _) => 3,
            _ => 4,
        }
    });
    assert_eq!(code, 0, "2: not unavailable, 3: no value, 4: waited");
    // The parent's handles are untouched by the child's calls.
    go.send(()).unwrap();
    assert_eq!(blocked.join().unwrap(), 4);
    assert_eq!(done.join().unwrap(), 3);
}
