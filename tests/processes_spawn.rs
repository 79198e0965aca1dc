//! `processes::spawn`: one function in one new process. Each way a process
//! can end gives exactly one outcome that names it; every process is
//! reaped (no zombie), no descriptor is left, and the test harness's
//! threads make every spawner here start its zygote by exec for real.
//!
//! The direct fork (a single-threaded parent) runs as in
//! `processes_fork_mode.rs`: a copy of this binary runs [`fork_scenario`]
//! from an `.init_array` constructor, before the harness starts a thread.
#![cfg(feature = "processes")]

mod processes_support;

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use processes_support::{
    assert_gone, block_on, children, exists, no_core_dumps, open_fds, serial, thread_count, within,
};
use triad::processes::{self, SharedBytes, SpawnHandle, Spawner, StartMode, TaskError};

fn square(x: u64) -> u64 {
    x * x
}

fn my_pid(_: ()) -> u32 {
    std::process::id()
}

fn panic_with(message: String) -> u64 {
    panic!("{message}")
}

fn abort_it(_: ()) -> u64 {
    std::process::abort()
}

fn segfault(_: ()) -> u64 {
    // SAFETY: `signal` and `raise` touch no memory of ours. The default
    // action is put back first: a sanitizer (AddressSanitizer in
    // `.ci/asan`) installs its own SIGSEGV handler, which would report and
    // exit(1) instead of letting the process die by the signal.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::raise(libc::SIGSEGV);
    }
    unreachable!("SIGSEGV ends the process")
}

fn exit_with(code: i32) -> u64 {
    std::process::exit(code)
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn bytes_of_len(n: usize) -> SharedBytes {
    SharedBytes::from(vec![7u8; n])
}

fn len_of(v: Vec<u8>) -> usize {
    v.len()
}

fn sleep_then_write(path: String) {
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(path, "done").unwrap();
}

/// A spawner of this test's own, so that its descriptors and zygote can be
/// counted before and after.
fn spawner(max: usize) -> Spawner {
    Spawner::builder().max_processes(max).build().unwrap()
}

/// Run `f` with a spawner built by `build`, then check that nothing either
/// started outlives it: children and descriptors as before, every process
/// whose pid `f` returns gone, the zygote gone.
fn no_leaks(build: impl FnOnce() -> Spawner, f: impl FnOnce(&Spawner) -> Vec<u32>) {
    let (fds, kids) = (open_fds(), children());
    let spawner = build();
    let mut pids = f(&spawner);
    pids.push(spawner.zygote_pid());
    drop(spawner);
    assert_gone(&pids);
    assert_eq!(children(), kids, "a child process outlived the spawner");
    assert_eq!(open_fds(), fds, "a descriptor outlived the spawner");
}

#[test]
fn a_value_comes_back_and_the_process_is_reaped() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        no_leaks(
            || spawner(4),
            |spawner| {
                let process = spawner.spawn(my_pid, ());
                let pid = process.pid().expect("spawn returns a started process");
                assert_ne!(pid, std::process::id());
                assert_eq!(process.wait().unwrap(), pid, "f ran in that process");
                let value = spawner.spawn(square, 12).wait().unwrap();
                assert_eq!(value, 144);
                // Reaped by the zygote (no zombie): gone, not just dead.
                assert_gone(&[pid]);
                vec![pid]
            },
        );
    });
}

#[test]
fn the_free_function_reuses_one_spawner_and_leaks_nothing_per_call() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        // The first call starts this process's spawner (and its zygote,
        // which lives as long as the test binary).
        assert_eq!(processes::spawn(square, 3).wait().unwrap(), 9);
        let (fds, kids) = (open_fds(), children());
        let mut pids = Vec::new();
        for i in 0..20u64 {
            let process = processes::spawn(square, i);
            pids.push(process.pid().unwrap());
            assert_eq!(process.wait().unwrap(), i * i);
        }
        let unique: std::collections::BTreeSet<_> = pids.iter().collect();
        assert_eq!(unique.len(), 20, "one new process per call");
        assert_gone(&pids);
        assert_eq!(open_fds(), fds, "a descriptor per spawn was left");
        assert_eq!(children(), kids, "the spawner's zygote is the only child");
    });
}

#[test]
fn a_panic_comes_back_with_its_message() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        let process = processes::spawn(panic_with, "the answer is not 42".to_string());
        let pid = process.pid().unwrap();
        let error = process.wait().unwrap_err();
        assert!(error.is_panic(), "{error}");
        assert!(!error.is_crash());
        assert_eq!(error.panic_message(), Some("the answer is not 42"));
        assert_gone(&[pid]);
    });
}

#[test]
fn abort_and_segfault_report_their_signal() {
    let _guard = serial();
    no_core_dumps();
    within(Duration::from_secs(30), || {
        let aborted = processes::spawn(abort_it, ());
        let segfaulted = processes::spawn(segfault, ());
        let pids = [aborted.pid().unwrap(), segfaulted.pid().unwrap()];
        let error = aborted.wait().unwrap_err();
        assert!(error.is_crash(), "{error}");
        assert_eq!(error.signal(), Some(libc::SIGABRT));
        assert!(error.to_string().contains("SIGABRT"), "{error}");
        let error = segfaulted.wait().unwrap_err();
        assert_eq!(error.signal(), Some(libc::SIGSEGV), "{error}");
        assert_eq!(error.exit_code(), None);
        assert_gone(&pids);
    });
}

#[test]
fn a_signal_from_outside_is_reported_even_before_f_started() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        for _ in 0..5 {
            let process = processes::spawn(sleep_ms, 60_000);
            let pid = process.pid().unwrap();
            // At once: the process may not have claimed its task yet, and
            // then its task is cancelled rather than abandoned (rule SP1).
            // SAFETY: kill touches no memory; the pid is our spawned
            // process's, not reaped before this (its outcome is not there).
            assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
            let error = process.wait().unwrap_err();
            assert_eq!(error.signal(), Some(libc::SIGTERM), "{error}");
            assert!(!error.is_killed(), "not killed through the handle");
            assert_gone(&[pid]);
        }
    });
}

#[test]
fn exit_inside_f_reports_the_exit_code() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        for code in [0, 3, 77] {
            let error = processes::spawn(exit_with, code).wait().unwrap_err();
            assert!(error.is_crash(), "{error}");
            assert_eq!(error.exit_code(), Some(code), "{error}");
            assert_eq!(error.signal(), None);
        }
    });
}

#[test]
fn a_timeout_kills_the_process_and_says_so() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        let process = processes::spawn_timeout(sleep_ms, 60_000, Duration::from_millis(100));
        let pid = process.pid().unwrap();
        let error = process.wait().unwrap_err();
        assert!(error.is_timeout(), "{error}");
        assert!(!error.is_killed());
        assert_gone(&[pid]);
        // A timeout that is not reached changes nothing.
        let process = processes::spawn_timeout(square, 5, Duration::from_secs(30));
        assert_eq!(process.wait().unwrap(), 25);
    });
}

#[test]
fn kill_ends_a_running_process_but_not_a_finished_one() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        let process = processes::spawn(sleep_ms, 60_000);
        let pid = process.pid().unwrap();
        assert!(exists(pid));
        assert!(process.kill(), "the process was running");
        let error = process.wait().unwrap_err();
        assert!(error.is_killed(), "{error}");
        assert!(!error.is_crash() && !error.is_timeout());
        assert_gone(&[pid]);

        let mut process = processes::spawn(square, 9);
        while !process.is_finished() {
            std::thread::yield_now();
        }
        assert!(!process.kill(), "nothing to kill: the outcome is there");
        assert_eq!(process.try_wait().unwrap().unwrap(), 81);
    });
}

#[test]
fn too_large_arguments_and_results_are_typed_errors() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        no_leaks(
            || {
                Spawner::builder()
                    .max_processes(2)
                    .result_capacity(4096)
                    .build()
                    .unwrap()
            },
            |spawner| {
                let process = spawner.spawn(bytes_of_len, 10_000);
                let pid = process.pid().unwrap();
                let error = process.wait().unwrap_err();
                assert!(error.is_too_large(), "{error}");
                assert_eq!(error.sizes(), Some((10_008, 4096)));

                // Refused before any process is forked.
                let process = spawner.spawn(len_of, vec![0u8; 5000]);
                assert_eq!(process.pid(), None);
                let error = process.wait().unwrap_err();
                assert_eq!(error.sizes(), Some((5008, 4096)), "{error}");

                // What fits still works, in place.
                let bytes = spawner.spawn(bytes_of_len, 4000).wait().unwrap();
                assert!(bytes.is_in_place());
                assert_eq!(bytes.len(), 4000);
                vec![pid]
            },
        );
    });
}

#[test]
fn a_hundred_processes_at_once() {
    let _guard = serial();
    within(Duration::from_secs(120), || {
        no_leaks(
            || spawner(128),
            |spawner| {
                let handles: Vec<SpawnHandle<u64>> =
                    (0..100).map(|_| spawner.spawn(sleep_ms, 200)).collect();
                let pids: Vec<u32> = handles.iter().map(|h| h.pid().unwrap()).collect();
                let unique: std::collections::BTreeSet<_> = pids.iter().collect();
                assert_eq!(unique.len(), 100);
                let values: Vec<u64> = handles.into_iter().map(|h| h.wait().unwrap()).collect();
                assert_eq!(values, vec![200; 100]);
                pids
            },
        );
    });
}

#[test]
fn more_spawns_than_slots_wait_for_a_slot_and_all_complete() {
    let _guard = serial();
    within(Duration::from_secs(60), || {
        no_leaks(
            || spawner(3),
            |spawner| {
                let handles: Vec<_> = (0..12u64).map(|i| spawner.spawn(square, i)).collect();
                let pids = handles.iter().map(|h| h.pid().unwrap()).collect();
                let values: Vec<u64> = handles.into_iter().map(|h| h.wait().unwrap()).collect();
                assert_eq!(values, (0..12u64).map(|i| i * i).collect::<Vec<_>>());
                pids
            },
        );
    });
}

#[test]
fn a_dropped_handle_detaches_and_the_process_is_still_reaped() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        no_leaks(
            || spawner(2),
            |spawner| {
                let process = spawner.spawn(sleep_ms, 300);
                let pid = process.pid().unwrap();
                drop(process);
                // Python's Process keeps running when forgotten: so does ours.
                assert!(exists(pid), "dropping the handle must not kill it");
                // And then it ends and is reaped, with nobody waiting.
                assert_gone(&[pid]);
                // Its slot is reused.
                let a = spawner.spawn(square, 2);
                let b = spawner.spawn(square, 3);
                assert_eq!((a.wait().unwrap(), b.wait().unwrap()), (4, 9));
                vec![pid]
            },
        );
    });
}

/// The descriptors of this process that are memfds of a pool or spawner.
fn shared_regions() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("/memfd:triad-pool"))
        })
        .map(|e| e.path().display().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn a_detached_process_outcome_is_dropped_when_it_ends() {
    use std::os::unix::fs::MetadataExt;
    let _guard = serial();
    within(Duration::from_secs(30), || {
        let before = shared_regions();
        let spawner = spawner(4);
        let mine: Vec<String> = shared_regions()
            .into_iter()
            .filter(|r| !before.contains(r))
            .collect();
        assert_eq!(mine.len(), 1, "the spawner's own region");
        let resident = || std::fs::metadata(&mine[0]).unwrap().blocks() * 512;
        let process = spawner.spawn(bytes_of_len, 8 << 20);
        let pid = process.pid().unwrap();
        drop(process);
        assert_gone(&[pid]);
        // The 8 MiB result went back to the kernel (past the MiB a slot
        // keeps), without any further spawn reclaiming the slot.
        processes_support::eventually("the detached result freed", || resident() < 4 << 20);
        // A handle that is kept keeps its result.
        let kept = spawner.spawn(bytes_of_len, 8 << 20);
        let bytes = kept.wait().unwrap();
        assert!(resident() >= 8 << 20);
        assert_eq!(bytes.len(), 8 << 20);
    });
}

#[test]
fn dropping_the_spawner_waits_for_detached_processes() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        let path = std::env::temp_dir().join(format!("triad-spawn-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        no_leaks(
            || spawner(2),
            |spawner| {
                let process = spawner.spawn(sleep_then_write, path.display().to_string());
                let pid = process.pid().unwrap();
                drop(process);
                vec![pid]
            },
        );
        // The spawner's drop returned only after the process had finished
        // its work, not by killing it.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "done");
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn shutdown_now_kills_what_runs() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        let (fds, kids) = (open_fds(), children());
        let spawner = spawner(2);
        let zygote = spawner.zygote_pid();
        let process = spawner.spawn(sleep_ms, 60_000);
        let pid = process.pid().unwrap();
        spawner.shutdown_now();
        assert!(process.wait().unwrap_err().is_cancelled());
        assert_gone(&[pid, zygote]);
        assert_eq!(children(), kids);
        assert_eq!(open_fds(), fds);
    });
}

#[test]
fn wait_timeout_then_the_value() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        let mut process = processes::spawn(sleep_ms, 300);
        assert!(process.wait_timeout(Duration::from_millis(1)).is_none());
        assert!(process.try_wait().is_none());
        let outcome = process.wait_timeout(Duration::from_secs(20));
        assert_eq!(outcome.unwrap().unwrap(), 300);
    });
}

#[test]
fn a_handle_is_a_future_woken_by_the_process() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        assert_eq!(block_on(processes::spawn(sleep_ms, 100)).unwrap(), 100);
        let error: TaskError = block_on(processes::spawn(abort_it, ())).unwrap_err();
        assert_eq!(error.signal(), Some(libc::SIGABRT));
        let killed = processes::spawn(sleep_ms, 60_000);
        killed.kill();
        assert!(block_on(killed).unwrap_err().is_killed());
    });
}

#[test]
fn the_completion_fd_becomes_readable_when_the_process_is_done() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        let poll = |fd: i32, ms: i32| {
            let mut fds = [libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: `fds` is a live array of one pollfd.
            unsafe { libc::poll(fds.as_mut_ptr(), 1, ms) }
        };
        let mut process = processes::spawn(sleep_ms, 200);
        let fd = process.completion_fd().expect("an eventfd").as_raw_fd();
        assert_eq!(poll(fd, 0), 0, "not readable while it runs");
        assert_eq!(poll(fd, 20_000), 1);
        assert_eq!(poll(fd, 0), 1, "stays readable");
        assert_eq!(process.try_wait().unwrap().unwrap(), 200);

        // A process that dies is done too.
        let mut process = processes::spawn(exit_with, 5);
        let fd = process.completion_fd().expect("an eventfd").as_raw_fd();
        assert_eq!(poll(fd, 20_000), 1);
        assert_eq!(
            process.try_wait().unwrap().unwrap_err().exit_code(),
            Some(5)
        );
    });
}

#[test]
fn in_a_threaded_parent_the_zygote_is_execed_and_a_direct_fork_refused() {
    let _guard = serial();
    within(Duration::from_secs(30), || {
        // `within` runs this on a second thread: the process is threaded.
        let error = Spawner::builder()
            .start_mode(StartMode::Fork)
            .build()
            .unwrap_err();
        assert!(error.threaded_parent().is_some(), "{error}");
        let spawner = spawner(2);
        assert_eq!(spawner.start_mode(), StartMode::Exec);
        // The process can print and allocate: it came from a clean zygote.
        assert_eq!(spawner.spawn(square, 4).wait().unwrap(), 16);
    });
}

#[test]
fn bad_configurations_are_refused() {
    let error = Spawner::builder().max_processes(0).build().unwrap_err();
    assert!(error.is_bad_config(), "{error}");
    let error = Spawner::builder().result_capacity(0).build().unwrap_err();
    assert!(error.is_bad_config(), "{error}");
    let error = Spawner::builder().max_processes(5000).build().unwrap_err();
    assert!(error.is_bad_config(), "{error}");
}

/// The victim: run only by `killing_the_parent_kills_spawned_processes`,
/// in a child process. Spawns a process that would run for a minute,
/// prints its pid, then waits to be killed.
#[test]
#[ignore = "run as a child process by killing_the_parent_kills_spawned_processes"]
fn victim_parent_of_a_spawned_process() {
    let process = processes::spawn(sleep_ms, 60_000);
    println!("PID {}", process.pid().unwrap());
    std::thread::sleep(Duration::from_secs(60));
    drop(process);
}

#[test]
fn killing_the_parent_kills_spawned_processes() {
    // The victim is a child of ours: not while others count children.
    let _guard = serial();
    within(Duration::from_secs(60), || {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "victim_parent_of_a_spawned_process",
                "--nocapture",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pid = None;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            if let Some(rest) = line.unwrap().strip_prefix("PID ") {
                pid = Some(rest.trim().parse::<u32>().unwrap());
                break;
            }
        }
        let pid = pid.expect("the victim printed its process's pid");
        assert!(exists(pid));
        child.kill().unwrap(); // SIGKILL: no destructor runs
        child.wait().unwrap();
        assert_gone(&[pid]);
    });
}

/// Set (to anything) in the copy of this binary that runs [`fork_scenario`].
const FORK_SCENARIO_ENV: &str = "TRIAD_TEST_SPAWN_FORK_SCENARIO";

processes_support::before_main!(FORK_SCENARIO_ENV, fork_scenario);

/// Runs in a spawned process, itself single-threaded: its own spawner
/// (one per process) forks its zygote directly.
fn spawn_from_a_spawned_process(x: u64) -> (u64, bool) {
    let single = thread_count() == 1;
    let inner = processes::spawn(square, x).wait().unwrap();
    (inner, single)
}

/// Run before `main`, single-threaded.
fn fork_scenario() {
    no_core_dumps();
    assert_eq!(thread_count(), 1, "the constructor runs before any thread");
    let (fds, kids) = (open_fds(), children());
    let spawner = Spawner::builder().max_processes(4).build().unwrap();
    assert_eq!(spawner.start_mode(), StartMode::Fork);
    let process = spawner.spawn(my_pid, ());
    let mut pids = vec![spawner.zygote_pid(), process.pid().unwrap()];
    assert_eq!(Some(process.wait().unwrap()), pids.get(1).copied());
    let error = spawner.spawn(abort_it, ()).wait().unwrap_err();
    assert_eq!(error.signal(), Some(libc::SIGABRT), "{error}");
    let error = spawner.spawn(exit_with, 9).wait().unwrap_err();
    assert_eq!(error.exit_code(), Some(9), "{error}");
    let killed = spawner.spawn(sleep_ms, 60_000);
    pids.push(killed.pid().unwrap());
    assert!(killed.kill());
    assert!(killed.wait().unwrap_err().is_killed());
    assert_eq!(
        spawner.spawn(spawn_from_a_spawned_process, 6).wait(),
        Ok((36, true))
    );
    // The spawner's supervisor thread exists now: the spawner of
    // `processes::spawn` must exec its zygote.
    assert!(thread_count() > 1);
    assert_eq!(processes::spawn(square, 11).wait(), Ok(121));
    spawner.shutdown();
    assert_gone(&pids);
    // Only the per-process spawner's zygote is left (it lives as long as
    // this process).
    assert_eq!(
        children().len(),
        kids.len() + 1,
        "a child outlived the spawner"
    );
    assert_eq!(
        open_fds(),
        fds + 5,
        "the per-process spawner holds 5 descriptors"
    );
    println!("SPAWN FORK SCENARIO PASSED");
}

#[test]
fn spawning_from_a_single_threaded_parent_forks_the_zygote_directly() {
    let _guard = serial();
    within(Duration::from_secs(60), || {
        let output = Command::new(std::env::current_exe().unwrap())
            // Should the constructor not run, the harness would run no test.
            .args(["--exact", "no_such_test"])
            .env(FORK_SCENARIO_ENV, "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let (out, err) = (
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        assert!(
            output.status.success(),
            "scenario failed ({}):\n--- stdout\n{out}\n--- stderr\n{err}",
            output.status
        );
        assert!(out.contains("SPAWN FORK SCENARIO PASSED"), "{out}");
    });
}
