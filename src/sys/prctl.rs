//! `prctl`: a process's name and its fate when its parent dies.

use std::ffi::CStr;
use std::io;

/// Ask the kernel to send `signal` to this process when the thread that
/// forked it exits. Check `getppid()` right after: the parent may already
/// be gone.
pub(crate) fn set_parent_death_signal(signal: i32) -> io::Result<()> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and touches no memory.
    syscall!(prctl(
        libc::PR_SET_PDEATHSIG,
        signal as libc::c_ulong,
        0,
        0,
        0
    ))?;
    Ok(())
}

/// Name the calling thread (the process's name in `ps` when it is the main
/// thread); the kernel keeps the first 15 bytes.
pub(crate) fn set_name(name: &CStr) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and outlives the call; the kernel
    // copies at most 16 bytes.
    syscall!(prctl(
        libc::PR_SET_NAME,
        name.as_ptr() as libc::c_ulong,
        0,
        0,
        0
    ))?;
    Ok(())
}
