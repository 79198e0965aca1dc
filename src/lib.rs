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
//! # The names you know, and ours
//!
//! | Python | rayon / tokio | here |
//! |---|---|---|
//! | `ThreadPoolExecutor.submit`, `threading.Thread` | `rayon::spawn`, `std::thread::spawn` | [`threads::spawn`] → a [`JoinHandle`](threads::JoinHandle) to `join` or `.await` |
//! | — | `rayon::join`, `rayon::scope` | [`threads::join`], [`threads::scope`] (jobs borrow the caller's data) |
//! | `ThreadPoolExecutor(max_workers=n)` | `rayon::ThreadPoolBuilder` | [`threads::ThreadPool::builder`] |
//! | `pool.map` over a list | `par_iter().map().collect()`, `.for_each`, `.sum`/`.reduce` | [`threads::par_map`], [`threads::par_for_each`], [`threads::par_reduce`], [`threads::par_map_reduce`] |
//! | — | `par_chunks(_mut)`, `par_sort_unstable(_by_key)` | [`threads::par_chunks`], [`threads::par_chunks_mut`], [`threads::par_sort_unstable`], [`threads::par_sort_by_key`] |
//! | `asyncio.run(main())` | `Builder::new_current_thread().build()?.block_on` | [`EventLoop::new`](event_loop::EventLoop::new)`()?.block_on` |
//! | `asyncio.create_task` | `tokio::task::spawn_local` | [`event_loop::spawn`] |
//! | `asyncio.sleep`, `wait_for` | `tokio::time::{sleep, interval, timeout}` | [`event_loop::sleep`], [`event_loop::interval`], [`event_loop::timeout`] |
//! | `asyncio.TaskGroup` | `tokio::task::JoinSet` | [`event_loop::TaskGroup`] |
//! | `asyncio.open_connection`, `start_server` | `tokio::net` | [`event_loop::net`] (TCP, UDP, Unix), [`event_loop::AsyncFd`] |
//! | `loop.add_signal_handler` | `tokio::signal` | [`event_loop::signal`] |
//! | `Queue`, `Event`, `Lock`, `Semaphore`, `gather` | `tokio::sync::*`, `join_all`, `select!` | [`event_loop::sync`] and [`event_loop::future`] (a full table there) |
//! | `loop.call_soon_threadsafe` | `Handle::spawn` from another thread | [`event_loop::Remote`] |
//! | `loop.run_in_executor(None, f)` | `tokio::task::spawn_blocking` | [`runtime::spawn_blocking`] |
//! | `multiprocessing.Pool`: `apply_async`, `map`, `imap_unordered`, `chunksize` | — | [`processes::ProcessPool`]: `submit`, `map`, `imap_unordered`, `map_chunked` |
//! | `concurrent.futures.ProcessPoolExecutor` | — | the same pool; its handles are awaitable, and a crash fails one task, not the pool |
//! | `multiprocessing.Process` | — | [`processes::spawn`] → a [`SpawnHandle`](processes::SpawnHandle) (wait, timeout, kill, exit code or signal) |
//! | `multiprocessing.shared_memory` for results | — | [`processes::SharedBytes`] (written and read in place) |
//! | `loop.run_in_executor(process_pool, f)` | — | [`runtime::spawn_process`] |
//! | a CPU job awaited from async code | `spawn_blocking` or `rayon` + a channel | [`runtime::spawn_cpu`] |
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

// The README's Rust examples, compiled and run as doc tests (those marked
// `no_run` compiled only), so that they cannot drift from the API. Its
// examples use every room and the timeline recorder: `bash .ci/test`
// builds with `--all-features`.
#[cfg(all(doctest, feature = "runtime", feature = "trace"))]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
