//! [`RwLock`]: many readers or one writer, held across `.await` (tokio's
//! `sync::RwLock`).
//!
//! Built like tokio's: a [`Semaphore`] with [`RwLock::MAX_READS`] permits
//! guarding a `RefCell`. A reader takes one permit, a writer takes them
//! all. The semaphore's rules make it fair (`semaphore.rs`):
//!
//! ```text
//!   read():  a permit free and nobody queued ──► read guard
//!   write(): every permit free and nobody queued ──► write guard
//!   else QUEUED, in arrival order ──released permits, whole──► GRANTED ──poll──► guard
//!     └──dropped──► leaves the queue      GRANTED, dropped ──► permits passed on
//! ```
//!
//! Rules:
//!
//! 1. **Phase-fair by arrival.** Requests are served in the order they
//!    came (semaphore rule 1): a writer waits for the readers before it,
//!    and the readers that came after the writer wait for it. Writers are
//!    never starved by a stream of readers, and readers never by writers.
//! 2. **Cancellation-safe.** A dropped `read()`/`write()` leaves the queue
//!    or passes on the permits it had been handed (semaphore rule 4).
//! 3. **Checked twice.** The permits make the guards exclusive (one writer)
//!    or shared (readers); the `RefCell` checks it again at run time, so a
//!    bug would panic, never alias. No `unsafe`.
//! 4. **No poisoning,** as [`Mutex`](super::Mutex).

use std::cell::{Ref, RefCell, RefMut};
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::error::TryLockError;
use super::semaphore::{Acquire, Semaphore, SemaphorePermit};

/// A readers-writer lock for tasks on one event loop (`!Sync`, see the
/// [module docs](super)).
///
/// ```
/// use std::rc::Rc;
/// use triad::event_loop::{spawn, sync::RwLock, yield_now, EventLoop};
///
/// let ev = EventLoop::new()?;
/// ev.block_on(async {
///     let table = Rc::new(RwLock::new(vec![1, 2, 3]));
///     let readers: Vec<_> = (0..3)
///         .map(|_| {
///             let table = table.clone();
///             spawn(async move {
///                 let rows = table.read().await; // readers share the lock
///                 yield_now().await;
///                 rows.len()
///             })
///         })
///         .collect();
///     yield_now().await; // let the readers take the lock first
///     table.write().await.push(4); // waits for the readers that came first
///     for reader in readers {
///         assert_eq!(reader.await.unwrap(), 3);
///     }
///     assert_eq!(table.read().await.len(), 4);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct RwLock<T: ?Sized> {
    semaphore: Semaphore,
    value: RefCell<T>,
}

impl<T> RwLock<T> {
    /// A lock holding `value`, unlocked.
    ///
    /// ```
    /// use triad::event_loop::sync::RwLock;
    ///
    /// let lock = RwLock::new(5);
    /// assert_eq!(*lock.try_read().unwrap(), 5);
    /// ```
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            semaphore: Semaphore::new(Self::MAX_READS as usize),
            value: RefCell::new(value),
        }
    }

    /// The value, taking the lock apart.
    ///
    /// ```
    /// use triad::event_loop::sync::RwLock;
    ///
    /// assert_eq!(RwLock::new('v').into_inner(), 'v');
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// The most readers at once (a writer takes this many permits).
    pub const MAX_READS: u32 = u32::MAX >> 3;

    /// Wait for shared access (FIFO with the writers, rule 1).
    ///
    /// ```
    /// use triad::event_loop::{sync::RwLock, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let lock = RwLock::new(1);
    /// ev.block_on(async {
    ///     let a = lock.read().await;
    ///     let b = lock.read().await; // readers share
    ///     assert_eq!(*a + *b, 2);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read(&self) -> Read<'_, T> {
        Read {
            lock: self,
            acquire: self.semaphore.acquire(),
        }
    }

    /// Wait for exclusive access (FIFO with the readers, rule 1).
    ///
    /// ```
    /// use triad::event_loop::{sync::RwLock, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let lock = RwLock::new(1);
    /// ev.block_on(async {
    ///     *lock.write().await += 1;
    /// });
    /// assert_eq!(lock.into_inner(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write(&self) -> Write<'_, T> {
        Write {
            lock: self,
            acquire: self.semaphore.acquire_many(Self::MAX_READS),
        }
    }

    /// Shared access if no writer holds or waits for the lock now.
    ///
    /// ```
    /// use triad::event_loop::sync::RwLock;
    ///
    /// let lock = RwLock::new(0);
    /// let writer = lock.try_write().unwrap();
    /// assert!(lock.try_read().unwrap_err().is_locked());
    /// drop(writer);
    /// assert!(lock.try_read().is_ok());
    /// ```
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        match self.semaphore.try_acquire() {
            Ok(permit) => Ok(self.read_guard(permit)),
            Err(_) => Err(TryLockError::locked()),
        }
    }

    /// Exclusive access if nobody holds or waits for the lock now.
    ///
    /// ```
    /// use triad::event_loop::sync::RwLock;
    ///
    /// let lock = RwLock::new(0);
    /// let reader = lock.try_read().unwrap();
    /// assert!(lock.try_write().unwrap_err().is_locked());
    /// drop(reader);
    /// assert!(lock.try_write().is_ok());
    /// ```
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        match self.semaphore.try_acquire_many(Self::MAX_READS) {
            Ok(permit) => Ok(self.write_guard(permit)),
            Err(_) => Err(TryLockError::locked()),
        }
    }

    /// The value, without locking: `&mut self` proves nobody else holds it.
    ///
    /// ```
    /// use triad::event_loop::sync::RwLock;
    ///
    /// let mut lock = RwLock::new(1);
    /// *lock.get_mut() = 3;
    /// assert_eq!(lock.into_inner(), 3);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    fn read_guard<'a>(&'a self, permit: SemaphorePermit<'a>) -> RwLockReadGuard<'a, T> {
        RwLockReadGuard {
            // Rule 3: no writer holds all the permits while we hold one.
            value: self.value.borrow(),
            _permit: permit,
        }
    }

    fn write_guard<'a>(&'a self, permit: SemaphorePermit<'a>) -> RwLockWriteGuard<'a, T> {
        RwLockWriteGuard {
            // Rule 3: we hold every permit.
            value: self.value.borrow_mut(),
            permit,
            lock: self,
        }
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => d.field("value", &&*guard),
            Err(_) => d.field("value", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// The future of [`RwLock::read`].
///
/// ```
/// use triad::event_loop::{sync::{Read, RwLock}, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let lock = RwLock::new(2);
/// let read: Read<'_, i32> = lock.read();
/// assert_eq!(*ev.block_on(read), 2);
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Read<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    acquire: Acquire<'a>,
}

impl<'a, T: ?Sized> Future for Read<'a, T> {
    type Output = RwLockReadGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        Pin::new(&mut this.acquire).poll(cx).map(|outcome| {
            let permit = outcome.expect("a lock's semaphore is never closed");
            this.lock.read_guard(permit)
        })
    }
}

impl<T: ?Sized> fmt::Debug for Read<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Read").finish_non_exhaustive()
    }
}

/// The future of [`RwLock::write`].
///
/// ```
/// use triad::event_loop::{sync::{RwLock, Write}, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let lock = RwLock::new(2);
/// let write: Write<'_, i32> = lock.write();
/// *ev.block_on(write) = 3;
/// assert_eq!(lock.into_inner(), 3);
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Write<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    acquire: Acquire<'a>,
}

impl<'a, T: ?Sized> Future for Write<'a, T> {
    type Output = RwLockWriteGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        Pin::new(&mut this.acquire).poll(cx).map(|outcome| {
            let permit = outcome.expect("a lock's semaphore is never closed");
            this.lock.write_guard(permit)
        })
    }
}

impl<T: ?Sized> fmt::Debug for Write<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Write").finish_non_exhaustive()
    }
}

/// Shared access to an [`RwLock`]'s value; dropping it lets a waiting
/// writer in once the other readers are gone.
///
/// ```
/// use triad::event_loop::sync::RwLock;
///
/// let lock = RwLock::new(String::from("r"));
/// let guard = lock.try_read().unwrap();
/// assert_eq!(guard.as_str(), "r");
/// ```
#[must_use = "dropping a guard unlocks at once"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    // Declared first, dropped first: the borrow ends before the permit goes.
    value: Ref<'a, T>,
    _permit: SemaphorePermit<'a>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to an [`RwLock`]'s value; dropping it unlocks, to the
/// waiters in arrival order.
///
/// ```
/// use triad::event_loop::sync::RwLock;
///
/// let lock = RwLock::new(vec![1]);
/// lock.try_write().unwrap().push(2);
/// assert_eq!(lock.into_inner(), [1, 2]);
/// ```
#[must_use = "dropping a guard unlocks at once"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    // Declared first, dropped first: the borrow ends before the permits go.
    value: RefMut<'a, T>,
    permit: SemaphorePermit<'a>,
    lock: &'a RwLock<T>,
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turn exclusive access into shared access without letting a writer in
    /// between: the permits beyond one are given back, so the readers
    /// queued behind this writer come in.
    ///
    /// ```
    /// use triad::event_loop::sync::RwLock;
    ///
    /// let lock = RwLock::new(1);
    /// let mut writer = lock.try_write().unwrap();
    /// *writer = 2;
    /// let reader = writer.downgrade();
    /// assert_eq!(*reader, 2);
    /// assert!(lock.try_read().is_ok()); // other readers may join
    /// assert!(lock.try_write().is_err());
    /// ```
    pub fn downgrade(self) -> RwLockReadGuard<'a, T> {
        let RwLockWriteGuard {
            value,
            mut permit,
            lock,
        } = self;
        // End the write borrow, then borrow shared while still holding
        // every permit: no writer can come in between (rule 3).
        drop(value);
        let value = lock.value.borrow();
        let extra = permit.split(permit.num_permits() - 1);
        drop(extra); // to the readers queued behind us
        RwLockReadGuard {
            value,
            _permit: permit,
        }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
