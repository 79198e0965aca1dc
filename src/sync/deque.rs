//! The work-stealing deques: crossbeam-deque normally, a lock-based stand-in
//! under loom.
//!
//! crossbeam-deque's atomics are not loom's, so loom cannot explore its
//! interleavings (and would not see the happens-before edges it creates).
//! Under `cfg(loom)` the scheduler uses the types below instead: the same
//! API (`Worker`, `Stealer`, `Injector`, `Steal`), built on the shim's mutex.
//! They keep crossbeam's observable contract:
//!
//! 1. `Worker::pop` takes the newest job (LIFO), `Stealer::steal` and
//!    `Injector::steal` the oldest (FIFO), as crossbeam's `new_lifo` deque.
//! 2. A steal that meets contention returns `Steal::Retry` rather than
//!    waiting, as crossbeam's does when it loses a race; so the scheduler's
//!    retry paths are explored by the models too.
//! 3. A successful push or steal synchronises like crossbeam's (a mutex
//!    release/acquire): the pushed job's writes are visible to the thief.
//!
//! The unit test at the bottom of this file runs one sequence of operations
//! on the stand-in and on crossbeam-deque and checks they give the same jobs
//! in the same order.

pub(crate) use crossbeam_deque::Steal;

#[cfg(not(any(loom, miri)))]
pub(crate) use crossbeam_deque::{Injector, Stealer, Worker};

// Under Miri too: crossbeam-epoch (under crossbeam-deque) trips Stacked
// Borrows inside its own code, which would hide ours; crossbeam is checked by
// its own CI, and Miri's job here is our unsafe code.
#[cfg(any(loom, miri))]
pub(crate) use stand_in::{Injector, Stealer, Worker};

#[cfg(any(loom, miri, test))]
#[allow(dead_code)]
mod stand_in {
    use super::Steal;
    use crate::sync::{Arc, Mutex};
    use std::collections::VecDeque;

    /// The owner's end of a LIFO deque.
    pub(crate) struct Worker<T> {
        queue: Arc<Mutex<VecDeque<T>>>,
    }

    /// A thief's end of a [`Worker`]'s deque.
    pub(crate) struct Stealer<T> {
        queue: Arc<Mutex<VecDeque<T>>>,
    }

    /// The global FIFO queue.
    pub(crate) struct Injector<T> {
        queue: Mutex<VecDeque<T>>,
    }

    fn try_steal<T>(queue: &Mutex<VecDeque<T>>) -> Steal<T> {
        match queue.try_lock() {
            Ok(mut queue) => match queue.pop_front() {
                Some(job) => Steal::Success(job),
                None => Steal::Empty,
            },
            // Rule 2: contention is reported, as crossbeam reports a lost race.
            Err(_) => Steal::Retry,
        }
    }

    impl<T> Worker<T> {
        pub(crate) fn new_lifo() -> Self {
            Worker {
                queue: Arc::new(Mutex::new(VecDeque::new())),
            }
        }
        pub(crate) fn push(&self, job: T) {
            crate::sync::lock(&self.queue).push_back(job);
        }
        pub(crate) fn pop(&self) -> Option<T> {
            crate::sync::lock(&self.queue).pop_back()
        }
        pub(crate) fn is_empty(&self) -> bool {
            crate::sync::lock(&self.queue).is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            crate::sync::lock(&self.queue).len()
        }
        pub(crate) fn stealer(&self) -> Stealer<T> {
            Stealer {
                queue: self.queue.clone(),
            }
        }
    }

    impl<T> Stealer<T> {
        pub(crate) fn steal(&self) -> Steal<T> {
            try_steal(&self.queue)
        }
        /// Takes one job; the stand-in moves no batch (see `Injector`).
        pub(crate) fn steal_batch_and_pop(&self, _dest: &Worker<T>) -> Steal<T> {
            self.steal()
        }
        pub(crate) fn is_empty(&self) -> bool {
            crate::sync::lock(&self.queue).is_empty()
        }
    }

    impl<T> Clone for Stealer<T> {
        fn clone(&self) -> Self {
            Stealer {
                queue: self.queue.clone(),
            }
        }
    }

    impl<T> Injector<T> {
        pub(crate) fn new() -> Self {
            Injector {
                queue: Mutex::new(VecDeque::new()),
            }
        }
        pub(crate) fn push(&self, job: T) {
            crate::sync::lock(&self.queue).push_back(job);
        }
        pub(crate) fn steal(&self) -> Steal<T> {
            try_steal(&self.queue)
        }
        /// Takes one job for the caller; the stand-in moves no batch (a
        /// batch is an optimisation that changes no protocol).
        pub(crate) fn steal_batch_and_pop(&self, _dest: &Worker<T>) -> Steal<T> {
            self.steal()
        }
        pub(crate) fn is_empty(&self) -> bool {
            crate::sync::lock(&self.queue).is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            crate::sync::lock(&self.queue).len()
        }
    }

    #[cfg(all(test, not(loom), not(miri)))]
    mod tests {
        /// The stand-in and crossbeam agree on the order of every operation
        /// the scheduler uses (rule 1).
        #[test]
        fn stand_in_behaves_like_crossbeam() {
            fn steal<T>(s: super::Steal<T>) -> Option<T> {
                match s {
                    super::Steal::Success(v) => Some(v),
                    _ => None,
                }
            }
            let ours = super::Worker::new_lifo();
            let theirs = crossbeam_deque::Worker::new_lifo();
            let (our_thief, their_thief) = (ours.stealer(), theirs.stealer());
            let (our_inj, their_inj) = (super::Injector::new(), crossbeam_deque::Injector::new());
            let mut log = (Vec::new(), Vec::new());
            for i in 0..50u32 {
                ours.push(i);
                theirs.push(i);
                our_inj.push(i * 7);
                their_inj.push(i * 7);
                match i % 3 {
                    0 => {
                        log.0.push(ours.pop());
                        log.1.push(theirs.pop());
                    }
                    1 => {
                        log.0.push(steal(our_thief.steal()));
                        log.1.push(steal(their_thief.steal()));
                    }
                    _ => {
                        log.0.push(steal(our_inj.steal()));
                        log.1.push(steal(their_inj.steal()));
                    }
                }
                assert_eq!(ours.is_empty(), theirs.is_empty());
            }
            while let Some(v) = ours.pop() {
                log.0.push(Some(v));
            }
            while let Some(v) = theirs.pop() {
                log.1.push(Some(v));
            }
            assert_eq!(log.0, log.1);
        }
    }
}
