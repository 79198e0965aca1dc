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
//! | `fork.rs` | `pthread_atfork`, `getpid` | `threads`: pools notice they are in a forked child |

#![allow(dead_code)]

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
