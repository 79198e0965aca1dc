//! `eventfd`: a counter the kernel can poll, our "this task is done" fd.
//!
//! Each result slot has one, made before the workers are forked so that
//! every worker holds it. A worker (or the supervisor) writes 1 when the
//! slot's task is done and someone asked to be told through the fd; an
//! event loop polls it like a socket.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A new non-blocking, close-on-exec eventfd with counter 0.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain flags, no memory passed.
    let fd = syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?;
    // SAFETY: a new descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Add one to the counter (makes the fd readable).
pub(crate) fn notify(fd: BorrowedFd<'_>) -> io::Result<()> {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 on this stack frame.
    syscall!(write(
        fd.as_raw_fd(),
        (&one as *const u64).cast::<libc::c_void>(),
        8
    ))?;
    Ok(())
}

/// Reset the counter to 0 (the fd is no longer readable); a counter that
/// was already 0 is fine.
pub(crate) fn drain(fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut value: u64 = 0;
    // SAFETY: reads at most 8 bytes into a live u64 on this stack frame.
    match syscall!(read(
        fd.as_raw_fd(),
        (&mut value as *mut u64).cast::<libc::c_void>(),
        8
    )) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) => Err(e),
    }
}
