//! Knowing that we are in a forked child.
//!
//! After `fork` the child has one thread: the one that called `fork`. A
//! thread pool built before the fork has no workers there, and a job sent to
//! it would wait forever. Every pool records the *fork generation* when it is
//! built; `pthread_atfork` bumps the generation in each child, so a pool can
//! tell in one load that it is being used in a process where its threads do
//! not exist.
//!
//! Rules:
//!
//! 1. The handler is installed once per process, before the first pool is
//!    built (`install_fork_handler`), and handlers survive into children.
//! 2. The child handler runs in the child, single-threaded, before `fork`
//!    returns there; it only does an atomic add (async-signal-safe).
//! 3. The generation only grows: a pool built in generation `g` is usable
//!    exactly while `generation() == g`.

use std::sync::Once;

use crate::sync::process_global::{AtomicU64, Ordering::Relaxed};

static GENERATION: AtomicU64 = AtomicU64::new(0);
static INSTALL: Once = Once::new();

extern "C" fn in_child_after_fork() {
    // Rule 2: the child is single-threaded here; Relaxed is enough because no
    // other thread exists to synchronise with.
    GENERATION.fetch_add(1, Relaxed);
}

/// Install the `pthread_atfork` child handler (once per process).
pub(crate) fn install_fork_handler() -> std::io::Result<()> {
    let mut result = Ok(());
    // The handler only performs an atomic add: async-signal-safe (rule 2).
    INSTALL.call_once(|| result = run_in_child_after_fork(in_child_after_fork));
    result
}

/// Have `handler` run in every child forked from now on, on the thread that
/// called `fork`, before `fork` returns there. Like the generation's handler
/// it must be async-signal-safe (rule 2). Call it once per handler: each
/// call registers one more.
pub(crate) fn run_in_child_after_fork(handler: extern "C" fn()) -> std::io::Result<()> {
    // SAFETY: `handler` is an `extern "C" fn()` that lives for the whole
    // program (a fn item), and its caller vouches that it is
    // async-signal-safe; null means "no prepare/parent handler".
    let rc = unsafe { libc::pthread_atfork(None, None, Some(handler)) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// The current fork generation: 0 in the original process, +1 per fork along
/// the chain of parents since the handler was installed (rule 3).
#[inline]
pub(crate) fn generation() -> u64 {
    GENERATION.load(Relaxed)
}

/// The process id of the calling process.
pub(crate) fn getpid() -> u32 {
    // SAFETY: getpid takes no arguments, cannot fail and touches no memory.
    let pid = unsafe { libc::getpid() };
    pid as u32
}
