//! The only module that calls libc.
//!
//! Each kernel facility has one file with safe wrappers that return
//! `std::io::Result` (never panic); every `unsafe` call in them is proved by
//! a `// SAFETY:` comment. The [`syscall!`] macro turns the C convention
//! (`-1` and `errno`) into `io::Error`.
//!
//! Syscalls triad makes, by file:
//!
//! | file | calls | used by |
//! |---|---|---|
//! | `clock.rs` | `clock_gettime(CLOCK_MONOTONIC)` | `processes`: timeouts; `trace`: event timestamps |
//! | `fork.rs` | `pthread_atfork`, `getpid` | `threads`, `processes`: pools notice they are in a forked child |
//! | `timerfd.rs` | `timerfd_create`, `timerfd_settime`, `read` | `event_loop`: sub-millisecond timers, armed at the earliest deadline |
//! | `errno.rs` | (no call: classifies `errno` values) | `event_loop`: `accept` under fd exhaustion |
//! | `signal.rs` | `sigaction`, `sigemptyset`, `pipe2`, `read`, `write` (in the handler: async-signal-safe), `__errno_location` | `event_loop`: signals as events (a handler writing to a self-pipe) |
//! | `memfd.rs` | `memfd_create`, `fallocate(PUNCH_HOLE)` | `processes`: the shared region (sparse, `MAP_SHARED`) |
//! | `futex.rs` | `futex(FUTEX_WAIT / FUTEX_WAKE)`, process-shared | `processes`: slot completion, doorbells |
//! | `eventfd.rs` | `eventfd`, `read`, `write` | `processes`: a task's completion as a pollable fd |
//! | `prctl.rs` | `prctl(PR_SET_PDEATHSIG / PR_SET_NAME)` | `processes`: zygote and workers die with their parent, named |
//! | `process.rs` | `fork`, `waitpid`, `kill`, `_exit`, `getppid`, `pipe2`, `socketpair`, `send(MSG_NOSIGNAL)`, `poll`, `signalfd`, `pthread_sigmask`, `signal`, `sigaction`, `setrlimit(RLIMIT_AS)`, `sched_{get,set}affinity`, `close`, `fcntl` + `prctl` (in `pre_exec`) | `processes`: zygote, workers, supervisor |

#![allow(dead_code)]

#[cfg(any(feature = "processes", feature = "trace"))]
pub(crate) mod clock;
pub(crate) mod fork;

// Used by the wrappers of the event loop and the process pool; with only the
// `threads` feature no wrapper needs an errno check.
#[allow(unused_macros)]
/// Call a libc function and turn a `-1` return into the thread's `errno` as
/// an `io::Error`.
macro_rules! syscall {
    ($fn: ident ( $($arg: expr),* $(,)* ) ) => {{
        #[allow(unused_unsafe)]
        // SAFETY: each caller proves the arguments valid for `$fn` in its own
        // SAFETY comment; the macro only adds the errno check.
        let res = unsafe { libc::$fn($($arg, )*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}
#[allow(unused_imports)]
pub(crate) use syscall;

// The process pool's wrappers (they use `syscall!`, so they come after it).
#[cfg(all(feature = "processes", not(loom)))]
pub(crate) mod eventfd;
#[cfg(all(feature = "processes", not(loom)))]
pub(crate) mod futex;
#[cfg(all(feature = "processes", not(loom)))]
pub(crate) mod memfd;
#[cfg(all(feature = "processes", not(loom)))]
pub(crate) mod prctl;
#[cfg(all(feature = "processes", not(loom)))]
pub(crate) mod process;

// The event loop's wrappers.
#[cfg(feature = "event-loop")]
pub(crate) mod errno;
#[cfg(feature = "event-loop")]
pub(crate) mod signal;
#[cfg(feature = "event-loop")]
pub(crate) mod timerfd;

#[cfg(all(test, not(loom)))]
mod tests;
