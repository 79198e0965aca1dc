//! Model of `src/sync/parker.rs`: an `unpark` racing a `park` is never lost.
//!
//! Seen to fail:
//! - `unpark` notifying without taking the lock first (rule 4 dropped) →
//!   both models: "deadlock; threads = [(Id(0), Blocked), ...]" (the
//!   notify fell between the sleeper's CAS to PARKED and its `wait`).
//! - `unpark`'s swap Relaxed instead of Release →
//!   `unpark_racing_park_is_never_lost`: "Causality violation: Concurrent
//!   read and write accesses"; `two_unparkers_wake_a_looping_parker`:
//!   deadlock (the parker consumed the token, read a stale count, parked
//!   again with no token left).

use crate::sync::atomic::{AtomicUsize, Ordering::*};
use crate::sync::cell::UnsafeCell;
use crate::sync::parker::Parker;
use crate::sync::Arc;
use loom::thread;

/// One `unpark` racing one `park`: the park returns (parker rules 1, 4), and
/// what the unparker wrote before `unpark` is visible after `park` (the
/// Release swap / Acquire CAS pair; the cell makes loom check it).
#[test]
fn unpark_racing_park_is_never_lost() {
    super::model(|| {
        let parker = Arc::new(Parker::new());
        let data = Arc::new(UnsafeCell::new(0u32));
        let unparker = thread::spawn({
            let (parker, data) = (parker.clone(), data.clone());
            move || {
                // SAFETY: only this thread writes, before `unpark`; the parked
                // thread reads after `park` returns.
                data.with_mut(|p| unsafe { *p = 42 });
                parker.unpark();
            }
        });
        parker.park();
        // SAFETY: `park` returned, so the unpark (and the write before it)
        // happened before this read.
        assert_eq!(data.with(|p| unsafe { *p }), 42);
        unparker.join().unwrap();
    });
}

/// Two unparkers and a parker that loops on its condition (parker rule 2):
/// tokens coalesce (rule 1), but the parker always learns of both.
#[test]
fn two_unparkers_wake_a_looping_parker() {
    super::model(|| {
        let parker = Arc::new(Parker::new());
        let done = Arc::new(AtomicUsize::new(0));
        let unparkers: Vec<_> = (0..2)
            .map(|_| {
                let (parker, done) = (parker.clone(), done.clone());
                thread::spawn(move || {
                    done.fetch_add(1, Release);
                    parker.unpark();
                })
            })
            .collect();
        while done.load(Acquire) < 2 {
            parker.park();
        }
        for unparker in unparkers {
            unparker.join().unwrap();
        }
    });
}
