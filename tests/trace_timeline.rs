//! The `trace` feature: real work on all three runtimes comes out as a
//! Chrome Trace Event timeline with one track per pool worker, one for the
//! event loop and one per worker process, and as many events as happened.
#![cfg(all(feature = "runtime", feature = "trace"))]

mod processes_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use processes_support::{eventually, no_core_dumps, no_leaks, serial, within};
use serde_json::Value;
use triad::event_loop::EventLoop;
use triad::processes::ProcessPool;
use triad::threads::ThreadPool;

fn triple(i: u64) -> u64 {
    3 * i
}

fn abort_it(_: ()) -> u64 {
    std::process::abort()
}

/// The trace as JSON, parsed: its `traceEvents` and `otherData`.
fn parse(trace: &triad::trace::Trace) -> (Vec<Value>, Value) {
    let mut json = Vec::new();
    trace.write_chrome_json(&mut json).unwrap();
    let mut doc: Value = serde_json::from_slice(&json).expect("the trace is valid JSON");
    let events = doc["traceEvents"].as_array().unwrap().clone();
    (events, doc["otherData"].take())
}

/// `(pid, tid)` → track name, from the `thread_name` metadata events.
fn thread_names(events: &[Value]) -> BTreeMap<(u64, u64), String> {
    events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| {
            let key = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
            (key, e["args"]["name"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// The events named `name`, with the name of the track they are on.
fn named<'a>(
    events: &'a [Value],
    tracks: &BTreeMap<(u64, u64), String>,
    name: &str,
) -> Vec<(&'a Value, String)> {
    events
        .iter()
        .filter(|e| e["ph"] != "M" && e["name"] == name)
        .map(|e| {
            let key = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
            let track = tracks
                .get(&key)
                .cloned()
                .expect("every event is on a named track");
            (e, track)
        })
        .collect()
}

#[test]
fn work_on_all_three_runtimes_shows_on_one_track_each() {
    no_core_dumps();
    within(Duration::from_secs(60), || {
        no_leaks(
            || ProcessPool::builder().workers(2).build().unwrap(),
            |processes| {
                let first_pids = processes.worker_pids();
                triad::trace::start();

                // The thread pool: 50 independent jobs on 3 workers. The pool
                // is dropped (its threads joined) before `stop`, so every
                // job's span has been recorded.
                let pool = ThreadPool::builder().num_threads(3).build().unwrap();
                let handles: Vec<_> = (0..50u64).map(|i| pool.spawn(move || i * i)).collect();
                let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
                assert_eq!(sum, (0..50u64).map(|i| i * i).sum::<u64>());
                drop(pool);

                // The event loop: 20 tasks, each sleeping on a timer.
                let event_loop = EventLoop::new().unwrap();
                let done = event_loop.block_on(async {
                    let tasks: Vec<_> = (0..20u64)
                        .map(|i| {
                            triad::event_loop::spawn(async move {
                                triad::event_loop::sleep(Duration::from_millis(1 + i % 3)).await;
                                i
                            })
                        })
                        .collect();
                    let mut done = 0;
                    for task in tasks {
                        done += task.await.unwrap();
                    }
                    done
                });
                assert_eq!(done, (0..20).sum::<u64>());
                drop(event_loop);

                // The process pool: 10 tasks, then one that aborts, then
                // the replacement's first work.
                assert_eq!(processes.map(triple, 0..10u64).unwrap()[9], 27);
                let crash = processes.submit(abort_it, ()).wait().unwrap_err();
                assert!(crash.is_crash(), "{crash}");
                eventually("a replacement worker", || {
                    processes.stats().workers_started > 2
                });
                let all_pids: BTreeSet<u32> = first_pids
                    .iter()
                    .chain(&processes.worker_pids())
                    .copied()
                    .collect();

                let trace = triad::trace::stop();
                assert!(!triad::trace::is_recording());
                assert_eq!(trace.dropped(), 0);
                let (events, other) = parse(&trace);
                assert_eq!(other["dropped_events"], "0");
                let tracks = thread_names(&events);
                let names: Vec<&String> = tracks.values().collect();

                // One track per pool worker, one for the loop.
                for i in 0..3 {
                    let name = format!("threads worker {i}");
                    assert_eq!(
                        names.iter().filter(|n| ***n == name).count(),
                        1,
                        "{name} in {names:?}"
                    );
                }
                assert!(names.iter().any(|n| *n == "event loop"), "{names:?}");

                // Every job ran once, as one span on a worker's track.
                let jobs = named(&events, &tracks, "job");
                assert_eq!(jobs.len(), 50);
                for (job, track) in &jobs {
                    assert_eq!(job["ph"], "X");
                    assert!(job["dur"].as_f64().unwrap() >= 0.0);
                    assert!(track.starts_with("threads worker "), "{track}");
                }
                assert_eq!(named(&events, &tracks, "worker start").len(), 3);
                assert_eq!(named(&events, &tracks, "worker exit").len(), 3);

                // The loop polled each of its 20 tasks, and 20 timers fired.
                let polls = named(&events, &tracks, "poll");
                let polled: BTreeSet<u64> = polls
                    .iter()
                    .map(|(e, track)| {
                        assert_eq!(track, "event loop");
                        e["args"]["task"].as_u64().unwrap()
                    })
                    .collect();
                assert!(polled.len() >= 20, "{} tasks polled", polled.len());
                assert!(
                    polls.len() >= 40,
                    "each task polled before and after its sleep"
                );
                assert_eq!(named(&events, &tracks, "timer fire").len(), 20);

                // The worker processes: a track for each that did something
                // (a worker may have run none of the tasks), named by pid,
                // and only the pool's.
                let process_tracks: BTreeSet<u32> = tracks
                    .iter()
                    .filter(|(_, name)| name.starts_with("process worker pid "))
                    .map(|(&(pid, tid), name)| {
                        assert_eq!(pid, tid, "{name}");
                        assert_eq!(*name, format!("process worker pid {pid}"));
                        assert!(events.iter().any(|e| e["ph"] == "M"
                            && e["name"] == "process_name"
                            && e["pid"] == pid
                            && e["args"]["name"] == name.as_str()));
                        pid as u32
                    })
                    .collect();
                assert!(
                    process_tracks.is_subset(&all_pids),
                    "{process_tracks:?} of {all_pids:?}"
                );
                // At least the crashed worker and its replacement.
                assert!(process_tracks.len() >= 2, "{names:?}");
                // 10 tasks done, with outcome OK, on worker-process tracks.
                let done = named(&events, &tracks, "task");
                assert_eq!(done.len(), 10);
                for (task, track) in &done {
                    assert_eq!(task["args"]["outcome"], 1);
                    assert!(track.starts_with("process worker pid "), "{track}");
                }
                // One crash by SIGABRT, its task lost, and one replacement.
                let crashes = named(&events, &tracks, "crash");
                assert_eq!(crashes.len(), 1);
                assert_eq!(crashes[0].0["args"]["signal"], libc::SIGABRT);
                let lost = named(&events, &tracks, "task lost");
                assert_eq!(lost.len(), 1);
                assert_eq!(
                    lost[0].1, crashes[0].1,
                    "lost on the crashed worker's track"
                );
                let replaced = named(&events, &tracks, "replacement forked");
                assert_eq!(replaced.len(), 1);
                assert_ne!(replaced[0].1, crashes[0].1, "a new process, a new track");
                assert_eq!(named(&events, &tracks, "submit to process pool").len(), 11);
            },
        )
    });
}

#[test]
fn a_full_ring_keeps_its_first_events_and_counts_the_rest() {
    let _serial = serial();
    // The session starts before the pool, so the worker's start is its
    // first event.
    triad::trace::start_with_capacity(8);
    let pool = ThreadPool::builder().num_threads(1).build().unwrap();
    for i in 0..100u64 {
        assert_eq!(pool.spawn(move || i + 1).join().unwrap(), i + 1);
    }
    drop(pool);
    let trace = triad::trace::stop();

    let (events, other) = parse(&trace);
    let tracks = thread_names(&events);
    let worker = tracks
        .iter()
        .find(|(_, name)| name.starts_with("threads worker 0"))
        .map(|(key, name)| (*key, name.clone()))
        .expect("a track for the worker");
    let on_worker = events
        .iter()
        .filter(|e| {
            e["ph"] != "M"
                && (e["pid"].as_u64(), e["tid"].as_u64()) == (Some(worker.0 .0), Some(worker.0 .1))
        })
        .count();
    assert_eq!(on_worker, 8, "the ring keeps exactly its capacity");
    // 100 jobs, a start and an exit at least: all kept or counted.
    assert!(trace.dropped() >= 102 - 8, "{} dropped", trace.dropped());
    assert!(worker.1.contains("events dropped"), "{}", worker.1);
    assert_eq!(
        other["dropped_events"],
        trace.dropped().to_string().as_str()
    );
    // The first events are the ones kept: the worker's start is there.
    assert_eq!(
        named(&events, &tracks, "worker start").len(),
        1,
        "drop-newest keeps the oldest"
    );
}

#[test]
fn nothing_is_recorded_outside_a_session() {
    let _serial = serial();
    let pool = ThreadPool::builder().num_threads(2).build().unwrap();
    pool.spawn(|| ()).join().unwrap();
    drop(pool);
    let trace = triad::trace::stop();
    assert!(trace.is_empty());
    assert_eq!(trace.dropped(), 0);
    let (events, _) = parse(&trace);
    assert!(
        events.iter().all(|e| e["ph"] == "M"),
        "only the process's name"
    );
}

#[test]
fn a_new_session_starts_empty() {
    let _serial = serial();
    let pool = ThreadPool::builder().num_threads(1).build().unwrap();
    triad::trace::start();
    pool.spawn(|| ()).join().unwrap();
    triad::trace::start(); // discards the first session
    let trace = triad::trace::stop();
    drop(pool);
    let (events, _) = parse(&trace);
    let tracks = thread_names(&events);
    assert!(named(&events, &tracks, "job").is_empty());
}
