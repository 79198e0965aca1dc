//! [`OnceCell`]: a value set once, by the first task to need it, with an
//! async initializer (tokio's `sync::OnceCell`).
//!
//! A `std::cell::OnceCell` holds the value; a one-permit [`Semaphore`]
//! elects the task that runs the initializer. A `get_or_init`:
//!
//! ```text
//!   set already? ──────────────────────────────────────────────► &value
//!   else acquire the permit ─► set meanwhile? ──────────────────► &value
//!     │                       └─ run the initializer ─► store, close the semaphore ─► &value
//!     │                                 └─ cancelled or panicked: the permit goes to the next waiter
//!     └─ the semaphore closed (set by someone else) ────────────► &value
//! ```
//!
//! Rules:
//!
//! 1. **One initializer at a time.** Only the holder of the permit runs an
//!    initializer; the others wait in FIFO order.
//! 2. **Set once.** Once a value is stored, the semaphore is closed: every
//!    waiting `get_or_init` is released at once and returns the value.
//! 3. **Cancellation-safe.** If the initializing future is dropped (or
//!    panics, or `get_or_try_init`'s initializer fails), its permit passes
//!    to the next waiter, which runs its own initializer.
//! 4. No `unsafe`: `std::cell::OnceCell` gives out `&T` for the cell's
//!    lifetime.

use std::fmt;
use std::future::Future;

use super::error::SetError;
use super::semaphore::Semaphore;

/// A cell written once, by an async initializer, for tasks on one event
/// loop (`!Sync`, see the [module docs](super)).
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use triad::event_loop::{spawn, sync::OnceCell, yield_now, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let runs = Rc::new(Cell::new(0));
/// ev.block_on(async {
///     let config = Rc::new(OnceCell::new());
///     let tasks: Vec<_> = (0..3)
///         .map(|_| {
///             let (config, runs) = (config.clone(), runs.clone());
///             spawn(async move {
///                 *config
///                     .get_or_init(|| async {
///                         runs.set(runs.get() + 1);
///                         yield_now().await; // e.g. read a file
///                         42
///                     })
///                     .await
///             })
///         })
///         .collect();
///     for task in tasks {
///         assert_eq!(task.await.unwrap(), 42);
///     }
/// });
/// assert_eq!(runs.get(), 1, "one initializer ran");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct OnceCell<T> {
    value: std::cell::OnceCell<T>,
    /// One permit: the right to run an initializer (rule 1); closed once
    /// the value is set (rule 2).
    init: Semaphore,
}

impl<T> OnceCell<T> {
    /// An empty cell.
    ///
    /// ```
    /// use triad::event_loop::sync::OnceCell;
    ///
    /// assert!(OnceCell::<u8>::new().get().is_none());
    /// ```
    pub const fn new() -> OnceCell<T> {
        OnceCell {
            value: std::cell::OnceCell::new(),
            init: Semaphore::new(1),
        }
    }

    /// The value, if set.
    ///
    /// ```
    /// use triad::event_loop::sync::OnceCell;
    ///
    /// let cell = OnceCell::new();
    /// cell.set(3).unwrap();
    /// assert_eq!(cell.get(), Some(&3));
    /// ```
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// Whether a value is set.
    ///
    /// ```
    /// use triad::event_loop::sync::OnceCell;
    ///
    /// let cell = OnceCell::new();
    /// assert!(!cell.initialized());
    /// cell.set(()).unwrap();
    /// assert!(cell.initialized());
    /// ```
    pub fn initialized(&self) -> bool {
        self.value.get().is_some()
    }

    /// Store `value` now; fails, handing it back, if a value is set or an
    /// initializer is running.
    ///
    /// ```
    /// use triad::event_loop::sync::OnceCell;
    ///
    /// let cell = OnceCell::new();
    /// assert!(cell.set("a").is_ok());
    /// assert!(cell.set("b").unwrap_err().is_already_set());
    /// ```
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        match self.init.try_acquire() {
            Ok(permit) => {
                self.store(value);
                drop(permit);
                Ok(())
            }
            Err(error) if error.is_closed() => Err(SetError::already_set(value)),
            Err(_) => Err(SetError::initializing(value)),
        }
    }

    /// The value, running `init` to make it if nobody has (rules 1–3).
    ///
    /// ```
    /// use triad::event_loop::{sync::OnceCell, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let cell = OnceCell::new();
    /// let value = ev.block_on(cell.get_or_init(|| async { "made" }));
    /// assert_eq!(*value, "made");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn get_or_init<F, Fut>(&self, init: F) -> &T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        match self
            .get_or_try_init(|| async { Ok::<T, std::convert::Infallible>(init().await) })
            .await
        {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// The value, running the fallible `init` to make it if nobody has; an
    /// `Err` from it leaves the cell empty and the next waiter tries its
    /// own initializer (rule 3).
    ///
    /// ```
    /// use triad::event_loop::{sync::OnceCell, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let cell = OnceCell::<u32>::new();
    /// ev.block_on(async {
    ///     assert_eq!(cell.get_or_try_init(|| async { Err("down") }).await, Err("down"));
    ///     assert_eq!(cell.get_or_try_init(|| async { Ok::<_, &str>(7) }).await, Ok(&7));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn get_or_try_init<E, F, Fut>(&self, init: F) -> Result<&T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let Ok(permit) = self.init.acquire().await else {
            // Rule 2: closed means set.
            return Ok(self.value.get().expect("the cell is closed only once set"));
        };
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        // If this future is dropped (or panics) while `init` runs, `permit`
        // goes with it, to the next waiter (rule 3).
        let value = init().await?;
        self.store(value);
        drop(permit);
        Ok(self.value.get().expect("just stored"))
    }

    /// The value, taking the cell apart.
    ///
    /// ```
    /// use triad::event_loop::sync::OnceCell;
    ///
    /// let cell = OnceCell::new();
    /// cell.set(vec![1]).unwrap();
    /// assert_eq!(cell.into_inner(), Some(vec![1]));
    /// ```
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }

    /// Store the value (the caller holds the permit) and release every
    /// waiter (rule 2).
    fn store(&self, value: T) {
        if self.value.set(value).is_err() {
            unreachable!("only the permit's holder stores, and only into an empty cell");
        }
        self.init.close();
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        OnceCell::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceCell")
            .field("value", &self.value.get())
            .finish()
    }
}
