//! Classifying `errno` values that callers outside `sys/` must act on
//! (they may not name `libc`).

use std::io;

/// The process or the system is out of file descriptors (`EMFILE`,
/// `ENFILE`), or the kernel out of the memory a new socket needs
/// (`ENOBUFS`, `ENOMEM`): an `accept` failed for want of resources, and an
/// immediate retry would fail the same way.
pub(crate) fn is_resource_exhaustion(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
