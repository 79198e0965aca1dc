//! `completion_fd` under descriptor exhaustion (a lowered `RLIMIT_NOFILE`):
//! the error, not a panic; the handle is unharmed, and a later call, once
//! descriptors are free, gives the descriptor, which signals the outcome.
//!
//! Its own test binary (one process): the limit is process-wide.
#![cfg(feature = "processes")]

mod support;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::Duration;

use support::{nofile, set_nofile};
use triad::processes::ProcessPool;

fn slow_double(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(100));
    2 * x
}

/// Whether `fd` is readable within `timeout_ms`.
fn readable(fd: i32, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is a live pollfd; poll reads one entry.
    let ready = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    assert!(ready >= 0, "poll failed");
    ready == 1
}

#[test]
fn completion_fd_out_of_descriptors_is_an_error_and_a_later_call_succeeds() {
    let original = nofile();
    let pool = ProcessPool::builder().workers(1).build().unwrap();
    let mut handle = pool.submit(slow_double, 21);
    let mut spawned = triad::processes::spawn(slow_double, 4);

    // Use up every descriptor under a low limit.
    set_nofile(libc::rlimit {
        rlim_cur: 256,
        rlim_max: original.rlim_max,
    });
    let mut burners = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        burners.push(f);
    }
    let err = handle.completion_fd().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
    let err = spawned.completion_fd().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");

    // Free them: the same handles now give their descriptors, which become
    // readable with the outcome.
    drop(burners);
    set_nofile(original);
    let fd = handle.completion_fd().expect("an eventfd").as_raw_fd();
    assert!(readable(fd, 10_000), "never signalled");
    assert_eq!(handle.try_wait(), Some(Ok(42)));
    let fd = spawned.completion_fd().expect("an eventfd").as_raw_fd();
    assert!(readable(fd, 10_000), "never signalled");
    assert_eq!(spawned.try_wait().unwrap().unwrap(), 8);

    // The pool still works.
    assert_eq!(pool.submit(slow_double, 1).wait(), Ok(2));
    pool.shutdown();
}
