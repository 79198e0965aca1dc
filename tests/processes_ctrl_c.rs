//! Ctrl-C in a terminal sends SIGINT (Ctrl-\ SIGQUIT) to the whole
//! foreground process group: the program, and its zygote and workers with
//! it; so does a closing terminal with SIGHUP, and systemd, stopping a
//! service, with SIGTERM to each of its processes. A program that catches
//! them to shut down gracefully must still have a pool: the zygote ignores
//! them (it dies with its parent anyway, rule Z2), while a worker takes
//! them as any process does, so the task it ran fails with the signal and
//! the worker is replaced.
#![cfg(feature = "processes")]

mod processes_support;

use std::time::Duration;

use processes_support::within;
use triad::processes::ProcessPool;

fn double(x: u64) -> u64 {
    x * 2
}

/// Writes its worker's pid into the file at `path` once it runs (whole:
/// written aside, then renamed), then sleeps a minute.
fn say_so_then_nap(path: String) -> u64 {
    let aside = format!("{path}.part");
    std::fs::write(&aside, std::process::id().to_string()).unwrap();
    std::fs::rename(&aside, &path).unwrap();
    std::thread::sleep(Duration::from_secs(60));
    0
}

#[test]
fn a_groups_job_signals_spare_the_zygote_and_end_only_the_running_tasks() {
    // Workers take the actions this process has (zygote rule Z9), and a
    // process started in the background by a shell without job control
    // (`cmd &` in a script) ignores SIGINT and SIGQUIT, under `nohup`
    // SIGHUP: such a run of the suite would see its workers ignore them
    // too, rightly. This test is about a program that takes them.
    for signal in [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGTERM] {
        // SAFETY: SIG_DFL is a valid action for these signals; no handler
        // of this process is replaced (the harness sets none for them).
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
    within(Duration::from_secs(60), || {
        let pool = ProcessPool::builder().workers(1).build().unwrap();
        assert_eq!(pool.submit(double, 1).wait(), Ok(2));
        let zygote = pool.zygote_pid() as libc::pid_t;
        for signal in [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGTERM] {
            let started =
                std::env::temp_dir().join(format!("triad-ctrl-c-{}-{signal}", std::process::id()));
            let _ = std::fs::remove_file(&started);
            let running = pool.submit(say_so_then_nap, started.to_string_lossy().into_owned());
            // The worker that runs the task says who it is: the pool's
            // list may still show the one the last signal ended (its
            // EXITED report on its way), whose pid is no longer ours.
            let worker: libc::pid_t = loop {
                match std::fs::read_to_string(&started) {
                    Ok(pid) => break pid.parse().unwrap(),
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            };
            let _ = std::fs::remove_file(&started);
            // What the terminal does: the signal to every process of the group.
            // SAFETY: kill touches no memory; both are our pool's processes.
            unsafe {
                libc::kill(zygote, signal);
                libc::kill(worker, signal);
            }
            let error = running.wait().unwrap_err();
            assert_eq!(error.signal(), Some(signal), "{error}");
            // The zygote lives: a new worker takes the next task.
            assert_eq!(
                pool.submit(double, 21).wait(),
                Ok(42),
                "after signal {signal}"
            );
            assert_eq!(pool.zygote_pid() as libc::pid_t, zygote);
        }
    });
}

/// Python's idiom: workers ignore Ctrl-C, which is the parent's to handle.
fn ignore_ctrl_c() {
    // SAFETY: SIG_IGN is a valid action for SIGINT; no handler runs.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
}

/// Creates the file at `path` once it runs, then sleeps 300 ms.
fn say_so_then_nap_briefly(path: String) -> u64 {
    std::fs::write(&path, b"running").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    7
}

#[test]
fn an_action_the_initializer_sets_outlives_the_programs_given_back() {
    // Zygote rule Z9 gives each worker the program's actions back before
    // its initializer, so one the initializer sets stands.
    within(Duration::from_secs(60), || {
        let pool = ProcessPool::builder()
            .workers(1)
            .initializer(ignore_ctrl_c)
            .build()
            .unwrap();
        let started =
            std::env::temp_dir().join(format!("triad-ctrl-c-ignored-{}", std::process::id()));
        let _ = std::fs::remove_file(&started);
        let running = pool.submit(
            say_so_then_nap_briefly,
            started.to_string_lossy().into_owned(),
        );
        while !started.exists() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = std::fs::remove_file(&started);
        let worker = pool.worker_pids()[0] as libc::pid_t;
        // SAFETY: kill touches no memory; both are our pool's processes.
        unsafe {
            libc::kill(pool.zygote_pid() as libc::pid_t, libc::SIGINT);
            libc::kill(worker, libc::SIGINT);
        }
        assert_eq!(running.wait(), Ok(7));
        assert_eq!(pool.worker_pids(), [worker as u32], "the worker lives on");
    });
}
