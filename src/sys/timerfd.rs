//! `timerfd`: a kernel timer that makes a file descriptor readable when it
//! expires, so that a poller can sleep until a deadline with nanosecond
//! resolution (epoll's own timeout is in whole milliseconds, rounded up).
//!
//! The event loop keeps one, armed at its earliest deadline (see
//! `event_loop/timer.rs`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// A new non-blocking, close-on-exec timerfd on `CLOCK_MONOTONIC` (the clock
/// behind `std::time::Instant` on Linux), disarmed.
pub(crate) fn create() -> io::Result<OwnedFd> {
    // SAFETY: plain flags, no memory passed.
    let fd = syscall!(timerfd_create(
        libc::CLOCK_MONOTONIC,
        libc::TFD_NONBLOCK | libc::TFD_CLOEXEC
    ))?;
    // SAFETY: a new descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Arm the timer to expire once, `after` from now; `None` disarms it.
///
/// A zero `after` would disarm the timer (the kernel reads an all-zero
/// `it_value` as "disarm"), so it is raised to one nanosecond: the timer
/// then expires at once.
pub(crate) fn set(fd: BorrowedFd<'_>, after: Option<Duration>) -> io::Result<()> {
    let value = match after {
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        Some(d) => {
            let d = d.max(Duration::from_nanos(1));
            libc::timespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            }
        }
    };
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: value,
    };
    // SAFETY: `spec` is a live itimerspec on this stack frame; the old value
    // pointer may be null.
    syscall!(timerfd_settime(
        fd.as_raw_fd(),
        0,
        &spec,
        std::ptr::null_mut()
    ))?;
    Ok(())
}

/// Consume the expirations (the fd stops being readable); `Ok(0)` if the
/// timer had not expired since the last read.
pub(crate) fn read(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let mut expirations: u64 = 0;
    // SAFETY: reads at most 8 bytes into a live u64 on this stack frame.
    match syscall!(read(
        fd.as_raw_fd(),
        (&mut expirations as *mut u64).cast::<libc::c_void>(),
        8
    )) {
        Ok(_) => Ok(expirations),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(e),
    }
}
