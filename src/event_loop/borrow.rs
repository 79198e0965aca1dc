//! Borrows of the loop's own `RefCell`s, with one panic location for all.
//!
//! The loop keeps its state (run queue, owned tasks, reactor slab, timers)
//! in `RefCell`s on its thread, and executor.rs rule 5 keeps every borrow
//! from spanning user code, so a borrow of that state can only fail through
//! a bug in the loop itself. `RefCell::borrow_mut` is `#[track_caller]`:
//! every call site gets its own panic `Location`, in a position-independent
//! binary 24 bytes of data plus a 24-byte relocation, for a panic that
//! cannot happen (about 50 sites: ~2 KB of the footprint of issue 4).
//!
//! These methods are not `#[track_caller]`, so all their callers share one
//! location; they are `#[inline]`, so they cost nothing else. A failed
//! borrow still panics with `RefCell`'s message ("already borrowed"), and a
//! backtrace still names the caller.
//!
//! ```text
//!   self.queue.borrow_mut()  →  self.queue.loop_mut()
//!   self.queue.borrow()      →  self.queue.loop_ref()
//! ```
//!
//! Rule: only for the loop's own state, whose borrows are confined by
//! executor.rs rule 5. Cells that hold user values keep the std methods.

use std::cell::{Ref, RefCell, RefMut};

/// `borrow` / `borrow_mut` without a per-site panic location.
pub(crate) trait LoopBorrow<T> {
    /// `RefCell::borrow_mut`.
    fn loop_mut(&self) -> RefMut<'_, T>;
    /// `RefCell::borrow`.
    fn loop_ref(&self) -> Ref<'_, T>;
}

impl<T> LoopBorrow<T> for RefCell<T> {
    #[inline]
    fn loop_mut(&self) -> RefMut<'_, T> {
        self.borrow_mut()
    }

    #[inline]
    fn loop_ref(&self) -> Ref<'_, T> {
        self.borrow()
    }
}
