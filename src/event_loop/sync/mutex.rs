//! [`Mutex`]: exclusive access to a value for tasks on one loop, held
//! across `.await` (asyncio's `Lock`, tokio's `sync::Mutex`).
//!
//! On a single thread, `RefCell` already gives exclusive access, but a
//! `RefMut` held across an `.await` makes the next task that borrows the
//! cell panic. This mutex makes it *wait* instead: it is a [`Semaphore`]
//! with one permit guarding a `RefCell`, so it inherits the semaphore's
//! rules (`semaphore.rs`):
//!
//! ```text
//!   lock(): free and nobody queued ──────────────────► guard
//!           else QUEUED ──unlock hands it the lock──► GRANTED ──poll──► guard
//!             └──dropped──► leaves the queue     GRANTED, dropped ──► unlocked again (to the next)
//! ```
//!
//! Rules:
//!
//! 1. **FIFO.** Tasks get the lock in the order they asked for it;
//!    `try_lock` never overtakes a queued task (semaphore rules 1, 3).
//! 2. **Cancellation-safe.** A dropped `lock()` future leaves the queue, or
//!    passes on the lock it had been handed (semaphore rule 4).
//! 3. **One guard.** The permit makes the guard exclusive; the `RefCell`
//!    checks it again at run time, so even a bug here would panic, never
//!    alias. The module has no `unsafe`.
//! 4. **No poisoning.** A task that panics while holding the guard drops it
//!    as its future is dropped; the next waiter gets the lock and the value
//!    as the panicking task left it (as tokio's mutex).
//!
//! Prefer a plain `RefCell` whenever no borrow lives across an `.await`: it
//! costs nothing to wait for.

use std::cell::{RefCell, RefMut};
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::error::TryLockError;
use super::semaphore::{Acquire, Semaphore, SemaphorePermit};

/// An async mutex for tasks on one event loop (`!Sync`, see the
/// [module docs](super)).
///
/// ```
/// use std::rc::Rc;
/// use std::time::Duration;
/// use triad::event_loop::{sleep, spawn, sync::Mutex, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let log = ev.block_on(async {
///     let log = Rc::new(Mutex::new(Vec::new()));
///     let tasks: Vec<_> = (0..3)
///         .map(|i| {
///             let log = log.clone();
///             spawn(async move {
///                 let mut log = log.lock().await;
///                 log.push(i); // held across the sleep: nobody interleaves
///                 sleep(Duration::from_millis(1)).await;
///                 log.push(i);
///             })
///         })
///         .collect();
///     for task in tasks {
///         task.await.unwrap();
///     }
///     Rc::try_unwrap(log).unwrap().into_inner()
/// });
/// assert_eq!(log, [0, 0, 1, 1, 2, 2]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Mutex<T: ?Sized> {
    semaphore: Semaphore,
    value: RefCell<T>,
}

impl<T> Mutex<T> {
    /// A mutex holding `value`, unlocked.
    ///
    /// ```
    /// use triad::event_loop::sync::Mutex;
    ///
    /// let mutex = Mutex::new(5);
    /// assert_eq!(*mutex.try_lock().unwrap(), 5);
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            semaphore: Semaphore::new(1),
            value: RefCell::new(value),
        }
    }

    /// The value, taking the mutex apart.
    ///
    /// ```
    /// use triad::event_loop::sync::Mutex;
    ///
    /// assert_eq!(Mutex::new("v").into_inner(), "v");
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Wait for the lock (FIFO, rule 1). Cancellation-safe (rule 2).
    ///
    /// ```
    /// use triad::event_loop::{sync::Mutex, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let mutex = Mutex::new(1);
    /// ev.block_on(async {
    ///     *mutex.lock().await += 1;
    /// });
    /// assert_eq!(mutex.into_inner(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            acquire: self.semaphore.acquire(),
        }
    }

    /// The lock if it is free now and nobody is queued for it (rule 1).
    ///
    /// ```
    /// use triad::event_loop::sync::Mutex;
    ///
    /// let mutex = Mutex::new(0);
    /// let guard = mutex.try_lock().unwrap();
    /// assert!(mutex.try_lock().unwrap_err().is_locked());
    /// drop(guard);
    /// assert!(mutex.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.semaphore.try_acquire() {
            Ok(permit) => Ok(self.guard(permit)),
            Err(_) => Err(TryLockError::locked()),
        }
    }

    /// The value, without locking: `&mut self` proves nobody else holds it.
    ///
    /// ```
    /// use triad::event_loop::sync::Mutex;
    ///
    /// let mut mutex = Mutex::new(1);
    /// *mutex.get_mut() = 2;
    /// assert_eq!(mutex.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Whether the lock is held now (a snapshot).
    ///
    /// ```
    /// use triad::event_loop::sync::Mutex;
    ///
    /// let mutex = Mutex::new(());
    /// let guard = mutex.try_lock().unwrap();
    /// assert!(mutex.is_locked());
    /// drop(guard);
    /// assert!(!mutex.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.semaphore.available_permits() == 0
    }

    fn guard<'a>(&'a self, permit: SemaphorePermit<'a>) -> MutexGuard<'a, T> {
        MutexGuard {
            // Rule 3: the permit is the only one; a second borrow would be
            // a bug in the semaphore, and panics here rather than aliasing.
            value: self.value.borrow_mut(),
            _permit: permit,
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("value", &&*guard),
            Err(_) => d.field("value", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// The future of [`Mutex::lock`].
///
/// ```
/// use triad::event_loop::{sync::{Lock, Mutex}, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let mutex = Mutex::new(3);
/// let lock: Lock<'_, i32> = mutex.lock();
/// assert_eq!(*ev.block_on(lock), 3);
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    acquire: Acquire<'a>,
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        Pin::new(&mut this.acquire).poll(cx).map(|outcome| {
            let permit = outcome.expect("a mutex's semaphore is never closed");
            this.mutex.guard(permit)
        })
    }
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").finish_non_exhaustive()
    }
}

/// Exclusive access to a [`Mutex`]'s value; dropping it unlocks, handing
/// the lock to the next task in line.
///
/// ```
/// use triad::event_loop::sync::Mutex;
///
/// let mutex = Mutex::new(String::from("a"));
/// let mut guard = mutex.try_lock().unwrap();
/// guard.push('b');
/// drop(guard);
/// assert_eq!(mutex.into_inner(), "ab");
/// ```
#[must_use = "dropping a guard unlocks at once"]
pub struct MutexGuard<'a, T: ?Sized> {
    // Declared first, dropped first: the borrow ends before the lock is
    // handed on.
    value: RefMut<'a, T>,
    _permit: SemaphorePermit<'a>,
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
