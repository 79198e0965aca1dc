//! CLOCK_MONOTONIC in nanoseconds: one clock for every process of the
//! machine.
//!
//! The process pool compares a worker's "claimed at" with the parent's now
//! (timeouts); the trace recorder stamps every event with it, so that events
//! a worker process wrote into shared memory line up with the parent's on
//! one timeline. `clock_gettime(CLOCK_MONOTONIC)` is served by the vDSO: no
//! system call, some tens of nanoseconds.

/// Nanoseconds of CLOCK_MONOTONIC (since boot, not counting suspend).
pub(crate) fn monotonic_ns() -> u64 {
    // SAFETY: `ts` is a live, writable timespec; CLOCK_MONOTONIC always
    // exists, so the call cannot fail and needs no errno check.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        ts
    };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
