//! Anonymous shared memory that survives `fork`: `memfd_create`.
//!
//! memmap2's `map_anon` is `MAP_PRIVATE`: after `fork` each process writes
//! its own copy-on-write pages. A memfd is a file in RAM; mapped
//! `MAP_SHARED` (memmap2's `MmapOptions::map_mut(&file)`) every process that
//! maps it sees the same pages. The file is sparse: `set_len` reserves
//! address space only, a page is allocated when first touched, and
//! [`punch_hole`] gives pages back to the kernel.

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};

/// A new memfd named `name` (shown in `/proc/PID/fd` as `memfd:NAME`),
/// close-on-exec.
pub(crate) fn memfd_create(name: &CStr) -> io::Result<File> {
    // SAFETY: `name` is a valid NUL-terminated string for the duration of
    // the call; MFD_CLOEXEC is a valid flag.
    let fd = syscall!(memfd_create(name.as_ptr(), libc::MFD_CLOEXEC))?;
    // SAFETY: the kernel just returned `fd`, a new descriptor nobody else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Give the pages of `file` in `offset..offset + len` back to the kernel;
/// the file keeps its size and the range reads as zeros afterwards.
pub(crate) fn punch_hole(file: &File, offset: u64, len: u64) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    // SAFETY: `file` is an open descriptor for the duration of the call;
    // fallocate touches no memory of ours.
    syscall!(fallocate(
        file.as_raw_fd(),
        libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
        offset as libc::off_t,
        len as libc::off_t,
    ))?;
    Ok(())
}
