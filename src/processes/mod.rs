//! A pool of worker processes: parallel work with isolation, what Python's
//! `multiprocessing.Pool` does, without pickling through pipes, hangs or
//! broken pools; and [`spawn`], one function in one new process, what
//! `multiprocessing.Process` does, on the same machinery.
//!
//! # The picture
//!
//! ```text
//!   parent process                                   shared region (memfd, MAP_SHARED)
//!   ┌──────────────────────────────┐                ┌───────────────────────────────┐
//!   │ your threads: submit / wait  │── args ───────►│ slot 0: word │ data area      │
//!   │   / map / .await             │◄── results ────│ slot 1: word │ data area      │
//!   │ supervisor thread            │   (in place)   │ ...                           │
//!   └──────┬──────────────▲────────┘                └──────▲────────────────────────┘
//!     commands        reports (pipe)                       │ claim / complete
//!          ▼              │                                │
//!   ┌──────────────────────────────┐   fork   ┌────────────┴─────────┐
//!   │ zygote (single-threaded)     │─────────►│ workers 0..n         │
//!   │ forks, reaps, respawns       │          │ run fn(A) -> R       │
//!   └──────────────────────────────┘          └──────────────────────┘
//! ```
//!
//! A task is a function pointer `fn(A) -> R` and its argument: the pointer
//! crosses as an offset in the binary, the argument as bytes
//! ([`Encode`]/[`Decode`]) written straight into a result slot in shared
//! memory. A worker claims the slot, runs the task and writes the result
//! over the argument; the parent reads it in place. Pipes carry only small
//! control messages (spawned, exited, kill), never a payload.
//!
//! # One process per call: [`spawn`]
//!
//! A [`Spawner`] is this pool in one-shot mode: its zygote forks no worker
//! in advance but one process per [`spawn`](Spawner::spawn), which runs its
//! one task and exits; it is not replaced. The handle ([`SpawnHandle`])
//! gives the process's pid, can kill it, and is waited on or awaited like a
//! [`TaskHandle`]; the outcome says how the process ended. The free
//! function [`spawn`] uses one spawner per process, started on first use.
//!
//! ```
//! use triad::processes;
//!
//! fn risky(n: u64) -> u64 {
//!     if n == 0 { std::process::exit(7) }
//!     100 / n
//! }
//!
//! assert_eq!(processes::spawn(risky, 4).wait().unwrap(), 25);
//! let error = processes::spawn(risky, 0).wait().unwrap_err();
//! assert_eq!(error.exit_code(), Some(7));
//! ```
//!
//! # Fork safety
//!
//! 1. Workers are forked by the **zygote**, a process with one thread that
//!    holds no lock: made by a direct fork while the parent is
//!    single-threaded, or by an exec of the program's own binary that turns
//!    into the zygote before `main` (see [`StartMode`]).
//! 2. A worker runs only code of the binary: tasks are `fn` items, never
//!    closures with captured pointers, and never functions of a shared
//!    library (refused at submit, [`TaskError::is_foreign_function`]).
//! 3. Zygote and workers die with their parent (`PR_SET_PDEATHSIG` plus a
//!    `getppid` check), every descriptor is close-on-exec, every child is
//!    reaped.
//! 4. A task must not count on state that `main` set up (a static, a
//!    logger): a forked zygote's workers have a copy of it, an exec'd
//!    one's do not, and `Auto` picks by the thread count (see
//!    [`StartMode`], *What a worker sees of this process*). Above all, a
//!    lazily initialised static (`LazyLock`, `OnceLock::get_or_init`)
//!    whose initialisation was under way when a forked zygote was made,
//!    such as a static that holds the pool itself, is "being initialised"
//!    for ever in its workers, with no thread left to finish it: a task
//!    that touches it waits until its timeout. Pass a task what it needs
//!    as its argument (or its initializer's).
//! 5. Only the worker comes back out of a task or the initializer: a
//!    process forked inside one that returns or unwinds out of it ends
//!    there, so it never writes the task's outcome nor serves the pool as
//!    a worker nobody supervises (worker rule W7).
//!
//! # Failures: exactly one outcome per task, never a hang
//!
//! | what happens | the task gets | the pool |
//! |---|---|---|
//! | the task panics | [`TaskError::is_panic`] with the message | worker lives on |
//! | the worker dies (signal, abort, exit) | [`TaskError::is_crash`], [`signal`](TaskError::signal) or [`exit_code`](TaskError::exit_code) | worker replaced |
//! | the task runs past its timeout | [`TaskError::is_timeout`] (never a task claimed after it: slot rule 8) | worker killed and replaced |
//! | argument or result larger than the capacity | [`TaskError::is_too_large`], [`sizes`](TaskError::sizes) | goes on |
//! | every slot held by a live [`SharedBytes`] result | [`TaskError::is_all_slots_held`], at submit (never ran) | goes on |
//! | the function is not in the binary | [`TaskError::is_foreign_function`], at submit (never ran) | goes on |
//! | [`shutdown_now`](ProcessPool::shutdown_now) | [`TaskError::is_cancelled`] | gone |
//! | [`TaskHandle::cancel`] before a worker took it (or a `map` / `imap` stopped early) | [`TaskError::is_cancelled`] (never ran) | goes on |
//! | the zygote dies | [`TaskError::is_broken`] | broken |
//! | the initializer fails, or runs past its [`initializer_timeout`](ProcessPoolBuilder::initializer_timeout), in every worker | [`TaskError::is_broken`] (a worker that fails so three times in a row is not started again) | broken |
//! | the pool is used in a forked child of its process | [`TaskError::is_forked`] (never ran) | the parent's goes on |
//! | a spawned process is killed ([`SpawnHandle::kill`]) | [`TaskError::is_killed`] | (spawner) goes on |
//! | no process can be forked for a spawn | [`TaskError::is_spawn_failure`] | (spawner) goes on |
//!
//! # The files, one concept each
//!
//! | file | what |
//! |---|---|
//! | `slot.rs` | the result-slot state machine (loom model `processes_slot`) |
//! | `doorbell.rs` | process-shared "look again" futex with a sleeper count |
//! | `shm.rs` | the memfd region and its layout |
//! | `codec.rs` | `Encode` / `Decode`, task entry trampolines |
//! | `in_place.rs` | `SharedBytes`: results carved in the slot by the worker, read in place by the parent |
//! | `zygote.rs` | starting the zygote (fork / exec), its loop, fn offsets and the check that a function is in the binary |
//! | `worker.rs` | a worker's life after fork |
//! | `supervisor.rs` | deaths → outcomes, timeouts, wakers |
//! | `pool.rs` | `ProcessPool`, builder, handles, map / imap |
//! | `spawn.rs` | `spawn`, `Spawner`: the pool in one-shot mode, one process per call |
//! | `error.rs` | `BuildError`, `TaskError` |
//!
//! ```
//! use triad::processes::{ProcessPool, SharedBytes};
//!
//! fn pattern(n: usize) -> SharedBytes {
//!     // Written straight into the task's result slot in shared memory.
//!     SharedBytes::from_fn(n, |buf| buf.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8))
//! }
//!
//! let pool = ProcessPool::builder().workers(2).build().unwrap();
//! let bytes = pool.submit(pattern, 1000).wait().unwrap();
//! assert!(bytes.is_in_place()); // read straight from shared memory
//! assert_eq!(bytes[999], (999 % 256) as u8);
//! ```

#[cfg(not(loom))]
mod codec;
// Under loom only the protocols are compiled (for `loom-tests/`), and the
// models use a part of them.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) mod doorbell;
#[cfg(not(loom))]
mod error;
#[cfg(not(loom))]
mod in_place;
#[cfg(not(loom))]
mod lane;
// Compiled under loom too: `loom-tests/processes_lending.rs` models it.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) mod lending;
#[cfg(not(loom))]
mod pool;
#[cfg(not(loom))]
mod shm;
#[cfg_attr(loom, allow(dead_code))]
pub(crate) mod slot;
#[cfg(not(loom))]
mod spawn;
#[cfg(not(loom))]
mod supervisor;
#[cfg(all(test, not(loom)))]
mod tests;
#[cfg(not(loom))]
mod worker;
#[cfg(not(loom))]
mod zygote;

#[cfg(not(loom))]
pub use codec::{
    decode_from_slice, encode_to_vec, Decode, DecodeError, Encode, Reader, Writer, MAX_EMPTY_ITEMS,
};
#[cfg(not(loom))]
pub use error::{BuildError, PoolFull, TaskError};
#[cfg(not(loom))]
pub use in_place::SharedBytes;
#[cfg(all(not(loom), feature = "runtime"))]
pub(crate) use pool::Submitted;
#[cfg(not(loom))]
pub use pool::{
    Ordered, PoolStats, ProcessPool, ProcessPoolBuilder, StartMode, TaskHandle, Unordered,
};
#[cfg(not(loom))]
pub use spawn::{spawn, spawn_timeout, SpawnHandle, Spawner, SpawnerBuilder};
