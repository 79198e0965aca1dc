//! Process-shared futexes: sleep until a 32-bit word in shared memory
//! changes.
//!
//! `FUTEX_WAIT` sleeps only if the word still holds the expected value, and
//! the kernel checks that under its own lock, so a `FUTEX_WAKE` issued after
//! the word changed cannot be lost. The private flag is *not* used: the word
//! lives in a `MAP_SHARED` mapping and the waker may be another process (the
//! kernel then keys the futex on the page, not on the address).

use std::io;
use std::time::Duration;

use crate::sync::atomic::AtomicU32;

/// Why [`wait`] returned. Callers re-check their condition in every case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Woken by [`wake`], or the word did not hold `expected`, or a signal.
    Woken,
    /// The timeout elapsed.
    TimedOut,
}

/// Sleep while `*word == expected`, at most `timeout` (relative).
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> io::Result<Wake> {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live, aligned u32 for the duration of the call
    // (an `AtomicU32` has the layout of a `u32`); `ts_ptr` is null or points
    // to a timespec on this stack frame; FUTEX_WAIT ignores the last two
    // arguments.
    match syscall!(syscall(
        libc::SYS_futex,
        word.as_ptr(),
        libc::FUTEX_WAIT,
        expected,
        ts_ptr,
        std::ptr::null::<u32>(),
        0u32,
    )) {
        Ok(_) => Ok(Wake::Woken),
        Err(e) => match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(Wake::Woken),
            Some(libc::ETIMEDOUT) => Ok(Wake::TimedOut),
            _ => Err(e),
        },
    }
}

/// Wake up to `count` sleepers on `word` (any process); how many woke.
pub(crate) fn wake(word: &AtomicU32, count: i32) -> io::Result<usize> {
    // SAFETY: as in `wait`; FUTEX_WAKE only uses the address as a key and
    // ignores the last three arguments.
    let woken = syscall!(syscall(
        libc::SYS_futex,
        word.as_ptr(),
        libc::FUTEX_WAKE,
        count,
        std::ptr::null::<libc::timespec>(),
        std::ptr::null::<u32>(),
        0u32,
    ))?;
    Ok(woken as usize)
}
