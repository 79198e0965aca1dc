//! A recording session: which rings belong to it, how a thread finds its
//! own, and how the rings of every thread are gathered when it stops.
//!
//! # States
//!
//! ```text
//!            start()                       stop()
//!   IDLE ──────────────► RECORDING(id) ──────────────► IDLE
//!   ACTIVE = 0            ACTIVE = id (ids never repeat)  the rings of session
//!                         each thread's first event         `id` are copied out
//!                         makes its ring and registers it   into a `Trace`
//! ```
//!
//! A thread keeps `(session id, Arc<Ring>)` in a thread-local. To record,
//! it loads `ACTIVE` (Relaxed): 0 means return at once. If its ring belongs
//! to another session, it makes a new one and registers it (the only lock
//! on this path, once per thread and session). The registry keeps an `Arc`
//! of every ring, so a ring outlives its thread: a pool worker that has
//! exited still shows on the timeline. A thread keeps its last ring until
//! its first event of a later session or its exit (slots are allocated, and
//! only those written are touched: an idle ring costs address space more
//! than memory).
//!
//! # Rules
//!
//! 1. **Registration under the lock.** A ring joins the registry under
//!    `SESSIONS`' lock, and only if its session is still the current one;
//!    `stop` takes the rings out under the same lock. A ring made for a
//!    session that ended meanwhile is never registered: its events are
//!    discarded with the session they belong to.
//! 2. **Readers copy.** `stop` copies the published prefix of each ring
//!    (ring rule 3) into a [`Trace`]; threads that have not yet noticed the
//!    stop may still push into their old rings, which nobody reads again.
//! 3. **Track names.** What a thread is (pool worker `i`, the event loop) is
//!    kept in its thread-local as it happens, recording or not, so a ring
//!    made later still knows its track's name; the ring's copy is updated
//!    if the thread changes role while recording.

use std::cell::{Cell, RefCell};

use super::event::Event;
use super::export::{Trace, TrackName, TrackRecord};
use super::ring::Ring;
use crate::sync::process_global::{AtomicU64, Ordering::*};
use crate::sync::{Arc, Mutex};

/// Events per thread when `start` is not given a capacity: 32 bytes each,
/// 2 MiB a thread.
pub(crate) const DEFAULT_CAPACITY: usize = 1 << 16;
/// The largest capacity `start_with_capacity` accepts (512 MiB a thread).
pub(crate) const MAX_CAPACITY: usize = 1 << 24;

/// The session being recorded, 0 when none is.
static ACTIVE: AtomicU64 = AtomicU64::new(0);

struct Sessions {
    /// The last session id handed out.
    last: u64,
    /// The current session's events per ring.
    capacity: usize,
    /// The current session's rings, in registration order.
    rings: Vec<Arc<Registered>>,
    /// Track numbers (Chrome's `tid`), unique for the life of the process.
    next_track: u64,
}

static SESSIONS: Mutex<Sessions> = Mutex::new(Sessions {
    last: 0,
    capacity: DEFAULT_CAPACITY,
    rings: Vec::new(),
    next_track: 1,
});

/// A ring with what the exporter needs to know about its thread.
pub(crate) struct Registered {
    session: u64,
    track: u64,
    ring: Ring,
    name: Mutex<TrackName>,
}

/// What this thread is, for its track's name (rule 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Not a runtime thread: named after the thread.
    Other,
    /// Worker `index` of a thread pool.
    PoolWorker(usize),
    /// A thread running an event loop.
    EventLoop,
}

crate::sync::const_thread_local! {
    /// This thread's ring, made at its first event of a session.
    static CURRENT: RefCell<Option<Arc<Registered>>> = RefCell::new(None);
}

crate::sync::const_thread_local! {
    /// This thread's role (rule 3).
    static ROLE: Cell<Role> = Cell::new(Role::Other);
}

/// The session being recorded, or 0. One Relaxed load: a thread that sees
/// a stale value records into a session that just ended (rule 1 discards
/// it) or misses the first events of one that just began.
#[inline(always)]
pub(crate) fn active() -> u64 {
    ACTIVE.load(Relaxed)
}

/// Record `event` on this thread's ring for `session` (from [`active`]).
#[inline]
pub(crate) fn record(session: u64, event: Event) {
    // `try_with`: a thread whose thread-locals are being destroyed records
    // nothing more.
    let _ = CURRENT.try_with(|current| {
        let mut current = current.borrow_mut();
        let ring = match &*current {
            Some(ring) if ring.session == session => ring,
            _ => current.insert(join(session)),
        };
        // SAFETY: `ring` was made by `join` on this thread and lives only in
        // this thread's `CURRENT`; the registry's clones only read (ring
        // rule 1).
        unsafe { ring.ring.push(event) };
    });
}

/// Make this thread's ring for `session` and register it (rule 1).
#[cold]
fn join(session: u64) -> Arc<Registered> {
    let role = ROLE.try_with(Cell::get).unwrap_or(Role::Other);
    let mut sessions = crate::sync::lock(&SESSIONS);
    let track = sessions.next_track;
    sessions.next_track += 1;
    let ring = Arc::new(Registered {
        session,
        track,
        ring: Ring::new(sessions.capacity),
        name: Mutex::new(track_name(role)),
    });
    if sessions.last == session && active() == session {
        sessions.rings.push(ring.clone());
    }
    ring
}

fn track_name(role: Role) -> TrackName {
    match role {
        Role::PoolWorker(index) => TrackName::PoolWorker(index),
        Role::EventLoop => TrackName::EventLoop,
        Role::Other => {
            let thread = crate::sync::thread::current();
            TrackName::Thread(match thread.name() {
                Some(name) => name.to_owned(),
                None => format!("{:?}", thread.id()),
            })
        }
    }
}

/// Note what this thread is (rule 3).
pub(crate) fn set_role(role: Role) {
    let _ = ROLE.try_with(|r| r.set(role));
    let session = active();
    if session == 0 {
        return;
    }
    let _ = CURRENT.try_with(|current| {
        if let Some(ring) = &*current.borrow() {
            if ring.session == session {
                *crate::sync::lock(&ring.name) = track_name(role);
            }
        }
    });
}

/// Begin a new session; the current one, if any, is discarded.
pub(crate) fn start(capacity: usize) {
    let mut sessions = crate::sync::lock(&SESSIONS);
    sessions.last += 1;
    sessions.capacity = capacity.min(MAX_CAPACITY);
    sessions.rings.clear();
    // Relaxed: a thread that sees the new id registers under the lock we
    // hold, after this store (rule 1).
    ACTIVE.store(sessions.last, Relaxed);
}

/// End the session and copy its rings out (rule 2). Without a session, an
/// empty trace.
pub(crate) fn stop() -> Trace {
    let rings = {
        let mut sessions = crate::sync::lock(&SESSIONS);
        ACTIVE.store(0, Relaxed);
        std::mem::take(&mut sessions.rings)
    };
    let tracks = rings
        .iter()
        .map(|r| TrackRecord {
            track: r.track,
            name: crate::sync::lock(&r.name).clone(),
            events: r.ring.published(),
            dropped: r.ring.dropped(),
        })
        .collect();
    Trace::new(std::process::id(), tracks)
}
