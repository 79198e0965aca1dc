//! A timeline of what the runtimes did, for Perfetto or `chrome://tracing`
//! (feature `trace`).
//!
//! Between [`start`] and [`stop`], every thread that does runtime work
//! records events into a ring of its own: pool workers (job runs, steals,
//! sleeps, wakes), the event loop (task polls, waits in epoll, I/O
//! readiness, timers, wakes from other threads) and the process pool's
//! parent side (workers forked, tasks run by each worker process, crashes
//! and replacements). [`stop`] gathers the rings into a [`Trace`], which
//! [`Trace::save_chrome_json`] writes as Chrome Trace Event JSON: open it at
//! <https://ui.perfetto.dev> (or `chrome://tracing`) to see one track per
//! worker thread, the event loop, and each worker process.
//!
//! ```
//! use triad::threads::ThreadPool;
//!
//! let pool = ThreadPool::builder().num_threads(2).build().unwrap();
//! triad::trace::start();
//! let handles: Vec<_> = (0..8).map(|i| pool.spawn(move || i * i)).collect();
//! let total: i32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
//! drop(pool); // joins the workers: a job's span is recorded just after its result
//! let trace = triad::trace::stop();
//! assert_eq!(total, 140);
//! assert!(trace.len() >= 8); // at least one "job" span per spawned job
//! // trace.save_chrome_json("trace.json")?;
//! ```
//!
//! # Cost
//!
//! Without the feature, every recording point is an empty `#[inline(always)]`
//! function (`src/tracepoint.rs`): no code, no data. With it and no session
//! running, a point costs one Relaxed load of a global. While recording,
//! an event is a read of the monotonic clock (vDSO, no system call), a
//! thread-local lookup and a few stores into the thread's ring: no lock, no
//! allocation, except once per thread and session, when its ring is made.
//! A span reads the clock twice, and the clock dominates: on the 2-core VM
//! the feature was written on (clock reads ~50 ns), a recorded task poll or
//! job run cost 85–150 ns more than an unrecorded one. Tiny tasks look
//! slower on a recorded timeline than they are.
//!
//! # The protocol
//!
//! | file | what |
//! |---|---|
//! | `event.rs` | one event (32 bytes), its kinds, span or instant |
//! | `ring.rs` | a thread's ring: one writer, readers copy the published prefix; drop-newest when full, counted |
//! | `session.rs` | sessions, the registry of rings, a thread's ring and its track's name |
//! | `export.rs` | [`Trace`] and the Chrome Trace Event JSON, track mapping |
//! | `../tracepoint.rs` | the one-line recording points the runtimes call |
//!
//! A session is process-wide: two sessions cannot overlap, and [`start`]
//! while one runs discards it and begins another.

#[cfg(loom)]
compile_error!(
    "the `trace` feature is not supported under `--cfg loom`: its registry is a \
     process-wide static, which loom's types cannot be"
);

pub(crate) mod event;
mod export;
mod ring;
pub(crate) mod session;

pub use export::Trace;

/// Start recording, with room for 65,536 events per thread (2 MiB each,
/// allocated when the thread records its first event). A session that was
/// running is discarded.
///
/// ```
/// triad::trace::start();
/// assert!(triad::trace::is_recording());
/// let _ = triad::trace::stop();
/// ```
pub fn start() {
    session::start(session::DEFAULT_CAPACITY);
}

/// Start recording with room for `events_per_thread` events in each
/// thread's ring (32 bytes each, at most 2^24). A thread's ring keeps the
/// first events it records; later ones are counted in
/// [`Trace::dropped`], and the timeline names each track that lost some.
/// Zero keeps nothing and counts everything. A session that was running is
/// discarded.
///
/// ```
/// use triad::threads::ThreadPool;
///
/// let pool = ThreadPool::builder().num_threads(1).build().unwrap();
/// triad::trace::start_with_capacity(4);
/// for i in 0..100 {
///     pool.spawn(move || i).join().unwrap();
/// }
/// drop(pool);
/// let trace = triad::trace::stop();
/// assert!(trace.dropped() > 0);
/// ```
pub fn start_with_capacity(events_per_thread: usize) {
    session::start(events_per_thread);
}

/// Stop recording and return what was recorded. Without a running session,
/// an empty [`Trace`].
///
/// ```
/// triad::trace::start();
/// let trace = triad::trace::stop();
/// assert!(!triad::trace::is_recording());
/// println!("{} events", trace.len());
/// ```
pub fn stop() -> Trace {
    session::stop()
}

/// Whether a session is being recorded.
///
/// ```
/// assert!(!triad::trace::is_recording());
/// triad::trace::start();
/// assert!(triad::trace::is_recording());
/// let _ = triad::trace::stop();
/// assert!(!triad::trace::is_recording());
/// ```
pub fn is_recording() -> bool {
    session::active() != 0
}
