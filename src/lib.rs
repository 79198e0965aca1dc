//! # triad
//!
//! The three ways of doing many things at once, each hand-built and small
//! enough to read: a work-stealing thread pool, a single-threaded async
//! event loop, and a fork-based process pool.
//!
//! # Which one?
//!
//! ```text
//!   Does the work mostly WAIT (sockets, timers, disk)?      I/O-bound
//!     └─ yes ─► event_loop: one thread interleaves thousands of waits
//!               (concurrency without parallelism)
//!   Does it mostly COMPUTE?                                  CPU-bound
//!     ├─ trusted code ─► threads: every core at once, sharing memory
//!     │                 (join / scope / spawn)
//!     └─ may crash, leak or must be isolated ─► processes: separate
//!                       memory, results passed back through shared memory
//!   Both? ─► Runtime: await CPU work and isolated work from the event loop
//! ```
//!
//! Rust threads compute in parallel: unlike Python, there is no global
//! interpreter lock, so the thread pool, not the process pool, is the
//! default home of CPU-bound work. Processes are for isolation.
//!
//! # Features
//!
//! | feature | module | extra dependencies |
//! |---|---|---|
//! | `threads` | `threads` | crossbeam-deque, core_affinity |
//! | `event-loop` | `event_loop` | mio |
//! | `processes` | `processes` | memmap2 |
//! | `runtime` (default) | all three and the facade | all of the above |
//! | `futures-io` (opt-in) | `AsyncRead`/`AsyncWrite` for the event loop's streams | futures-io |
//! | `trace` (opt-in) | `trace`: a timeline of the runtimes for Perfetto | none |
//!
//! # Reading the code
//!
//! Each file holds one protocol. Its module docs give the states, the
//! invariants as numbered rules (which the `// SAFETY:` comments cite) and a
//! picture; `ARCHITECTURE.md` maps every protocol to its file and to the loom
//! model that checks it. All synchronisation goes through the `sync` shim,
//! so under `--cfg loom` the models explore the real code.
#![warn(missing_docs)]

pub(crate) mod sync;
pub(crate) mod sys;
pub(crate) mod tracepoint;

#[cfg(feature = "trace")]
pub mod trace;

#[cfg(feature = "threads")]
pub mod threads;

#[cfg(feature = "event-loop")]
pub mod event_loop;

#[cfg(feature = "processes")]
pub mod processes;

// The facade needs the process pool, which loom builds only in part.
#[cfg(all(feature = "runtime", not(loom)))]
pub mod runtime;
#[cfg(all(feature = "runtime", not(loom)))]
pub use runtime::Runtime;

// The loom models live in the top-level `loom-tests/` folder but are compiled
// inside the crate, so they reach the crate-private protocol types without
// widening the public API. Run them with `bash .ci/loom` (see the README).
#[cfg(all(test, loom))]
#[path = "../loom-tests/mod.rs"]
mod loom_tests;
