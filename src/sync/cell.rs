//! `UnsafeCell` with loom's closure API.
//!
//! loom's `UnsafeCell` does not hand out raw pointers freely: every access goes
//! through `with` (shared) or `with_mut` (exclusive), so that loom can check
//! that no two threads touch the cell at once unless one happens-before the
//! other. On std we provide the same API over `core::cell::UnsafeCell`, and
//! the protocol code is written once against it.

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// `core::cell::UnsafeCell` behind loom's `with`/`with_mut` API.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T: ?Sized>(core::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    #[inline]
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(core::cell::UnsafeCell::new(value))
    }
}

#[cfg(not(loom))]
impl<T: ?Sized> UnsafeCell<T> {
    /// Run `f` with a pointer for shared access. The caller's protocol must
    /// guarantee that no exclusive access overlaps.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Run `f` with a pointer for exclusive access. The caller's protocol must
    /// guarantee that no other access overlaps.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
