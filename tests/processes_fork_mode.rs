//! `StartMode::Fork` for real: the zygote forked straight from a
//! single-threaded parent.
//!
//! The test harness runs every test on a thread of its own (even with
//! `--test-threads=1`), so no test function ever runs in a single-threaded
//! process. This binary therefore carries an `.init_array` constructor:
//! when the test below starts a copy of the binary with [`ENV`] set, the
//! constructor runs the scenario before `main`, before the harness starts
//! any thread, and ends the process with its verdict. The test checks the
//! exit status and the output.
#![cfg(feature = "processes")]

mod processes_support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use triad::processes::{ProcessPool, SharedBytes, StartMode};

/// Set (to anything) in the copy that runs the scenario.
const ENV: &str = "TRIAD_TEST_FORK_MODE_SCENARIO";

/// Printed without a newline before the pool is built: it must appear once.
/// A worker forked from a copy of stdout's unflushed buffer prints it again.
const UNFLUSHED: &str = "<unflushed-before-build>";

processes_support::before_main!(ENV, scenario);

fn square(x: u64) -> u64 {
    x * x
}

fn hello_from_worker(i: u64) -> u64 {
    println!("worker task {i} says hello");
    i
}

fn abort_it(_: ()) -> u64 {
    std::process::abort()
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn panic_it(_: ()) -> u64 {
    panic!("boom in a forked worker")
}

/// A worker's descriptors above 2 that a program it starts would inherit.
fn inheritable_fds(_: ()) -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|&fd| {
            // SAFETY: F_GETFD only reads the descriptor's flags (-1 for the
            // listing's own, closed by now).
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            fd > 2 && flags >= 0 && flags & libc::FD_CLOEXEC == 0
        })
        .collect()
}

static LABEL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn set_label(label: String) {
    LABEL.set(label).unwrap();
}

fn label(_: ()) -> String {
    LABEL.get().cloned().unwrap_or_default()
}

/// Whether SIGTERM and SIGUSR1 have their default action in this process.
#[cfg(feature = "event-loop")]
fn default_actions(_: ()) -> (bool, bool) {
    let default = |signo| {
        // SAFETY: all-zero is a valid sigaction; a null new action only
        // reads the current one.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let rc = unsafe { libc::sigaction(signo, std::ptr::null(), &mut action) };
        assert_eq!(rc, 0);
        action.sa_sigaction == libc::SIG_DFL
    };
    (default(libc::SIGTERM), default(libc::SIGUSR1))
}

fn bytes(n: usize) -> SharedBytes {
    SharedBytes::from(vec![9u8; n])
}

/// Run before `main`, single-threaded.
fn scenario() {
    processes_support::no_core_dumps();
    assert_eq!(
        processes_support::thread_count(),
        1,
        "the constructor runs before any thread"
    );
    print!("{UNFLUSHED}");
    // An event loop listening for SIGTERM and SIGUSR1 (zygote rule Z10):
    // its handler writes to pipes the zygote closes; a worker must take
    // those signals as the program would without the listeners. (Made
    // before the descriptors are counted: the signal pipes stay open.)
    #[cfg(feature = "event-loop")]
    let (_ev, _listeners) = {
        use triad::event_loop::signal::{signal, SignalKind};
        let ev = triad::event_loop::EventLoop::new().unwrap();
        let listeners = ev.block_on(async {
            (
                signal(SignalKind::Terminate).unwrap(),
                signal(SignalKind::User1).unwrap(),
            )
        });
        (ev, listeners)
    };
    let (fds, kids) = (processes_support::open_fds(), processes_support::children());

    // Auto picks the direct fork in a single-threaded process.
    let pool = ProcessPool::builder()
        .workers(2)
        .task_timeout(Duration::from_secs(30))
        .initializer_with(set_label, "from the builder".to_string())
        .build()
        .unwrap();
    assert_eq!(pool.start_mode(), StartMode::Fork);
    assert_eq!(pool.submit(label, ()).wait().unwrap(), "from the builder");
    let mut pids = pool.worker_pids();
    pids.push(pool.zygote_pid());
    assert_eq!(pool.map(square, 0..100u64).unwrap()[99], 9801);
    assert_eq!(pool.map(hello_from_worker, 0..4u64).unwrap(), [0, 1, 2, 3]);
    assert_eq!(pool.submit(inheritable_fds, ()).wait(), Ok(vec![]));
    // Failures, and replacements forked by the forked zygote.
    let started = pool.stats().workers_started;
    let error = pool.submit(abort_it, ()).wait().unwrap_err();
    assert_eq!(error.signal(), Some(libc::SIGABRT), "{error}");
    let error = pool
        .submit_timeout(sleep_ms, 30_000, Some(Duration::from_millis(100)))
        .wait()
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    let error = pool.submit(panic_it, ()).wait().unwrap_err();
    assert_eq!(error.panic_message(), Some("boom in a forked worker"));
    assert_eq!(pool.submit(square, 12).wait(), Ok(144));
    let view = pool.submit(bytes, 1 << 20).wait().unwrap();
    assert!(view.is_in_place() && view.iter().all(|&b| b == 9));
    drop(view);
    processes_support::eventually("two replacements", || {
        pool.stats().workers_started >= started + 2
    });
    #[cfg(feature = "event-loop")]
    {
        // Rule Z10: the loop's handler is not the workers'.
        assert_eq!(pool.submit(default_actions, ()).wait(), Ok((true, true)));
        let running = pool.submit(sleep_ms, 30_000);
        while !running.is_running() {
            std::thread::sleep(Duration::from_millis(1));
        }
        // The idle worker dies of it too, and is replaced.
        for pid in pool.worker_pids() {
            // SAFETY: kill touches no memory; our pool's workers.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGUSR1) };
        }
        let error = running.wait().unwrap_err();
        assert_eq!(error.signal(), Some(libc::SIGUSR1), "{error}");
    }
    // The replacements ran the initializer with its argument too.
    let labels = pool.map(label, vec![(); 8]).unwrap();
    assert!(labels.iter().all(|l| l == "from the builder"), "{labels:?}");
    pids.extend(pool.worker_pids());

    // The pool's supervisor thread now exists: a second pool in this
    // process must not fork it directly.
    assert!(processes_support::thread_count() > 1);
    let e = ProcessPool::builder()
        .workers(1)
        .start_mode(StartMode::Fork)
        .build()
        .unwrap_err();
    assert!(e.threaded_parent().is_some(), "{e}");
    let second = ProcessPool::builder().workers(1).build().unwrap();
    assert_eq!(second.start_mode(), StartMode::Exec);
    assert_eq!(second.submit(square, 3).wait(), Ok(9));
    assert_eq!(second.submit(inheritable_fds, ()).wait(), Ok(vec![]));
    pids.push(second.zygote_pid());
    pids.extend(second.worker_pids());
    second.shutdown();

    pool.shutdown();
    processes_support::assert_gone(&pids);
    assert_eq!(
        processes_support::children(),
        kids,
        "a child outlived the pools"
    );
    assert_eq!(
        processes_support::open_fds(),
        fds,
        "a descriptor outlived the pools"
    );
    println!();
    println!("FORK-MODE SCENARIO PASSED");
}

#[test]
fn a_pool_forked_directly_from_a_single_threaded_process_works_and_cleans_up() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        // Should the constructor not run, the harness would run no test.
        .args(["--exact", "no_such_test"])
        .env(ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // Read both pipes to their end (every holder gone: the copy, its
    // zygotes and workers), on threads, so that a full pipe cannot stall the
    // copy and a leaked holder cannot stall the test.
    let (tx, rx) = std::sync::mpsc::channel();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        let _ = tx.send((0, out));
    });
    std::thread::spawn(move || {
        let mut err = String::new();
        let _ = stderr.read_to_string(&mut err);
        let _ = tx2.send((1, err));
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the fork-mode scenario did not finish within 60 s (hang?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut streams = [String::new(), String::new()];
    for _ in 0..2 {
        let (which, text) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a process of the scenario still holds its stdout or stderr");
        streams[which] = text;
    }
    let [out, err] = streams;
    assert!(
        status.success(),
        "scenario failed ({status}):\n--- stdout\n{out}\n--- stderr\n{err}"
    );
    assert!(out.contains("FORK-MODE SCENARIO PASSED"), "{out}");
    assert_eq!(
        out.matches(UNFLUSHED).count(),
        1,
        "stdout's unflushed buffer was printed again by forked processes:\n{out}"
    );
    for i in 0..4 {
        assert!(
            out.contains(&format!("worker task {i} says hello")),
            "{out}"
        );
    }
}
