//! The blocking pool: never more than `k` threads, idle ones leave after the
//! keep-alive, and blocking calls stall neither the loop nor the CPU pool.
//! (Each test takes the serial lock: they count this process's threads.)
#![cfg(feature = "runtime")]

mod runtime_support;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use runtime_support::{eventually, serial, threads_named, within};
use triad::event_loop::sleep;
use triad::runtime::{spawn, spawn_blocking, spawn_cpu};
use triad::Runtime;

const LIMIT: Duration = Duration::from_secs(60);
const BLOCKING: &str = "triad-block-";

fn runtime(k: usize, keep_alive: Duration) -> Runtime {
    Runtime::builder()
        .threads(1)
        .processes(1)
        .blocking_threads(k)
        .blocking_keep_alive(keep_alive)
        .build()
        .unwrap()
}

#[test]
fn never_more_than_k_blocking_threads_however_many_jobs() {
    let _serial = serial();
    within(LIMIT, || {
        let rt = runtime(3, Duration::from_secs(10));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let seen_threads = Arc::new(Mutex::new(HashSet::new()));
        let most_alive = rt.block_on(async {
            let jobs: Vec<_> = (0..24)
                .map(|_| {
                    let (running, peak, seen) =
                        (running.clone(), peak.clone(), seen_threads.clone());
                    spawn_blocking(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        seen.lock().unwrap().insert(std::thread::current().id());
                        std::thread::sleep(Duration::from_millis(15));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                })
                .collect();
            // Count the OS threads while the jobs run.
            let mut most_alive = 0;
            for _ in 0..10 {
                most_alive = most_alive.max(threads_named(BLOCKING));
                sleep(Duration::from_millis(5)).await;
            }
            for job in jobs {
                job.await.unwrap();
            }
            most_alive
        });
        assert_eq!(peak.load(Ordering::SeqCst), 3, "3 at once, never more");
        assert!(seen_threads.lock().unwrap().len() <= 3);
        assert!(
            (1..=3).contains(&most_alive),
            "{most_alive} blocking threads"
        );
        assert!(threads_named(BLOCKING) <= 3);
    });
}

#[test]
fn idle_blocking_threads_leave_after_the_keep_alive_and_come_back_on_demand() {
    let _serial = serial();
    within(LIMIT, || {
        let rt = runtime(2, Duration::from_millis(50));
        assert_eq!(threads_named(BLOCKING), 0, "started on demand only");
        rt.handle().spawn_blocking(|| ()).join().unwrap();
        assert_eq!(threads_named(BLOCKING), 1);
        eventually("the idle blocking thread left", || {
            threads_named(BLOCKING) == 0
        });
        // A new job starts a new thread.
        let name = rt
            .handle()
            .spawn_blocking(|| std::thread::current().name().map(str::to_owned))
            .join()
            .unwrap();
        assert!(name.unwrap().starts_with(BLOCKING));
        assert_eq!(threads_named(BLOCKING), 1);
    });
}

#[test]
fn a_busy_thread_takes_queued_jobs_in_order() {
    let _serial = serial();
    within(LIMIT, || {
        let rt = runtime(1, Duration::from_secs(10));
        let order = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let order = order.clone();
                rt.handle()
                    .spawn_blocking(move || order.lock().unwrap().push(i))
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..10).collect::<Vec<_>>());
    });
}

#[test]
fn blocking_calls_stall_neither_the_loop_nor_the_cpu_pool() {
    let _serial = serial();
    within(LIMIT, || {
        // One CPU worker and two blocking threads, both blocked for 300 ms.
        let rt = runtime(2, Duration::from_secs(10));
        let (ticks, cpu_took) = rt.block_on(async {
            let ticks = Rc::new(Cell::new(0u32));
            let ticker = spawn({
                let ticks = ticks.clone();
                async move {
                    loop {
                        sleep(Duration::from_millis(5)).await;
                        ticks.set(ticks.get() + 1);
                    }
                }
            });
            let blocked: Vec<_> = (0..2)
                .map(|_| spawn_blocking(|| std::thread::sleep(Duration::from_millis(300))))
                .collect();
            let start = Instant::now();
            spawn_cpu(|| 1 + 1).await.unwrap();
            let cpu_took = start.elapsed();
            for b in blocked {
                b.await.unwrap();
            }
            ticker.abort();
            (ticks.get(), cpu_took)
        });
        assert!(
            ticks >= 20,
            "only {ticks} ticks in 300 ms: the loop was blocked"
        );
        assert!(
            cpu_took < Duration::from_millis(200),
            "a CPU job waited {cpu_took:?} behind blocking calls"
        );
    });
}

#[test]
fn jobs_racing_the_keep_alive_all_run_exactly_once() {
    // Threads leave after 50 µs idle, and submitters pause about that long
    // between jobs: each submit may meet a thread on its way out (rule 3),
    // a claim racing a time-out (rule 2), or no thread at all.
    let _serial = serial();
    within(LIMIT, || {
        let rt = runtime(2, Duration::from_micros(50));
        let ran = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|s| {
            for submitter in 0..4u64 {
                let (handle, ran) = (rt.handle(), ran.clone());
                s.spawn(move || {
                    for i in 0..500u64 {
                        let ran = ran.clone();
                        let job = handle.spawn_blocking(move || {
                            ran.fetch_add(1, Ordering::Relaxed);
                            submitter * 1000 + i
                        });
                        if i % 3 == 0 {
                            std::thread::sleep(Duration::from_micros(20 + 15 * (i % 5)));
                        }
                        assert_eq!(job.join().unwrap(), submitter * 1000 + i);
                    }
                });
            }
        });
        assert_eq!(ran.load(Ordering::Relaxed), 2000);
        // At most 2 take jobs; one that just left may still be on its way
        // out (blocking.rs rules 1 and 9), for as long as its exit takes.
        eventually("at most 2 blocking threads", || {
            threads_named(BLOCKING) <= 2
        });
    });
}

/// A thread-local value that submits a blocking job when it is dropped, that
/// is among the destructors its thread runs as it exits.
struct SubmitsWhenDropped {
    handle: triad::runtime::Handle,
    ran: mpsc::Sender<&'static str>,
    /// Said (and then slept) first, so the test can act while the thread
    /// is inside its destructors.
    leaving: Option<(mpsc::Sender<()>, Duration)>,
}

impl Drop for SubmitsWhenDropped {
    fn drop(&mut self) {
        if let Some((leaving, pause)) = self.leaving.take() {
            let _ = leaving.send(());
            std::thread::sleep(pause);
        }
        let ran = self.ran.clone();
        let _detached = self.handle.spawn_blocking(move || {
            let _ = ran.send("ran");
        });
    }
}

thread_local! {
    static ON_EXIT: RefCell<Option<SubmitsWhenDropped>> = const { RefCell::new(None) };
}

/// A blocking job that plants `value` in its thread's `ON_EXIT`.
fn plant(rt: &Runtime, value: SubmitsWhenDropped) {
    rt.handle()
        .spawn_blocking(move || ON_EXIT.with(|slot| *slot.borrow_mut() = Some(value)))
        .join()
        .unwrap();
}

#[test]
fn a_leaving_blocking_threads_destructor_can_spawn_blocking_work() {
    // The thread's id was in `exited` when its destructor spawned: the
    // spawn joined its own thread (EDEADLK, a panic in a thread-local
    // destructor: the process aborted). Rule 9.
    let _serial = serial();
    within(Duration::from_secs(20), || {
        let rt = runtime(1, Duration::from_millis(20));
        let (sender, ran) = mpsc::channel();
        let (handle, leaving) = (rt.handle(), None);
        plant(
            &rt,
            SubmitsWhenDropped {
                handle,
                ran: sender,
                leaving,
            },
        );
        // The thread leaves after 20 ms idle; the job its destructor
        // submitted runs on a new thread (the leaving one counts no more).
        assert_eq!(ran.recv_timeout(Duration::from_secs(10)), Ok("ran"));
        assert_eq!(rt.handle().spawn_blocking(|| 7).join().unwrap(), 7);
        drop(rt);
        assert_eq!(threads_named(BLOCKING), 0, "every thread joined");
    });
}

#[test]
fn a_submitter_joins_a_leaving_thread_outside_the_pools_lock() {
    // A submitter joined the thread that left while it held the pool's
    // lock, and that thread's destructor waited for the same lock to spawn:
    // a deadlock (the test hit its limit). Rule 9.
    let _serial = serial();
    within(Duration::from_secs(20), || {
        let rt = runtime(1, Duration::from_millis(20));
        let (sender, ran) = mpsc::channel();
        let (in_destructor, leaving) = mpsc::channel();
        let handle = rt.handle();
        let pause = Duration::from_millis(100);
        plant(
            &rt,
            SubmitsWhenDropped {
                handle,
                ran: sender,
                leaving: Some((in_destructor, pause)),
            },
        );
        // The thread is in its destructors now: this submit finds it
        // left, and joins it while the destructor spawns.
        leaving.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(rt.handle().spawn_blocking(|| 7).join().unwrap(), 7);
        assert_eq!(ran.recv_timeout(Duration::from_secs(10)), Ok("ran"));
        drop(rt);
        assert_eq!(threads_named(BLOCKING), 0, "every thread joined");
    });
}
