//! [`Semaphore`]: a count of permits that tasks on the loop acquire and
//! give back; the way to bound how many requests run at once (asyncio's
//! `Semaphore`, tokio's `sync::Semaphore`).
//!
//! A waiter (an [`Acquire`] future) goes through these states
//! (`wait_list.rs`):
//!
//! ```text
//!   first poll: closed? ──────────────────────────────► Err(closed)
//!               nobody queued and enough free? take ──► Ok(permit)
//!               else ──► QUEUED ──release hands it its permits──► GRANTED ──poll──► Ok(permit)
//!                          │   └──close──► RELEASED ──poll──► Err(closed)
//!                          └──dropped──► removed          GRANTED, dropped ──► permits released
//! ```
//!
//! Rules:
//!
//! 1. **FIFO, no barging.** An acquire takes free permits at once only if
//!    nobody is queued; otherwise it queues at the back, even if enough
//!    permits are free. So a waiter that asked first is served first.
//! 2. **Big requests are not starved.** A release hands permits to the
//!    front waiter only when it can be served *whole*; until then the
//!    permits stay free and nobody behind it (rule 1) nor any
//!    `try_acquire` may take them. An `acquire_many(10)` waits for ten
//!    permits to come back, however many `acquire()` arrive meanwhile
//!    (tokio's semaphore gives the same guarantee). The price of this
//!    fairness: a request for more permits than will ever be free blocks
//!    everyone behind it; keep `acquire_many` within the capacity.
//! 3. **Hand-off.** A release (a permit dropped, `add_permits`) serves
//!    queued waiters in order while the front one fits: the permits move
//!    into its slot (GRANTED) before it runs, so nobody can take them
//!    between the release and the waiter's poll.
//! 4. **Cancellation-safe.** A dropped QUEUED acquire leaves the queue and
//!    serves the waiters that now stand at the front and fit the free
//!    permits (a big request it was may have held them back, rule 2); a
//!    dropped GRANTED one releases the permits it was handed (rule 3 again,
//!    to the next waiter). No permit is ever lost or counted twice (below
//!    the cap of rule 7).
//! 5. **Close.** [`Semaphore::close`] aborts every queued waiter (each gets
//!    an [`AcquireError`]) and makes every later acquire fail; permits
//!    already held stay valid, and a waiter granted before the close still
//!    gets its permit.
//! 6. **No borrow spans foreign code.** Wakers are woken (and dropped)
//!    after the wait list's borrow ends, so a wake that re-enters the
//!    semaphore finds it consistent; a waker that panics loses no other
//!    (`wait_list.rs` rule 5).
//! 7. **The count saturates.** The free count never exceeds
//!    [`Semaphore::MAX_PERMITS`] (2^61 − 1 on 64-bit Linux): `new` takes
//!    more as the cap, and `add_permits` or a permit given back stops there
//!    instead of overflowing (never a panic, even in a permit's `Drop`).
//!    Permits past the cap are not counted; no acquire can miss them, as
//!    one asks for at most `u32::MAX`.
//!
//! Each completed acquire spends one unit of the task's budget
//! (`budget.rs`), so a task that acquires in a loop still yields.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::error::{AcquireError, TryAcquireError};
use super::wait_list::{wake_all, WaitList, WaiterKey, WaiterState};
use crate::event_loop::budget;

/// A counting semaphore for tasks on one event loop.
///
/// `!Sync` (see the [module docs](super)): share it between the loop's
/// tasks by reference or in an `Rc`.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use triad::event_loop::{sleep, spawn, sync::Semaphore, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let most_at_once = ev.block_on(async {
///     let limit = Rc::new(Semaphore::new(3)); // at most 3 "requests" at once
///     let running = Rc::new(Cell::new(0));
///     let most = Rc::new(Cell::new(0));
///     let tasks: Vec<_> = (0..10)
///         .map(|_| {
///             let (limit, running, most) = (limit.clone(), running.clone(), most.clone());
///             spawn(async move {
///                 let _permit = limit.acquire().await.unwrap();
///                 running.set(running.get() + 1);
///                 most.set(most.get().max(running.get()));
///                 sleep(Duration::from_millis(1)).await;
///                 running.set(running.get() - 1);
///             }) // the permit goes back here, to the next in line
///         })
///         .collect();
///     for task in tasks {
///         task.await.unwrap();
///     }
///     most.get()
/// });
/// assert_eq!(most_at_once, 3);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Semaphore {
    /// Free permits: not held, not handed to a waiter.
    permits: Cell<usize>,
    closed: Cell<bool>,
    waiters: RefCell<WaitList>,
}

impl Semaphore {
    /// The most permits a semaphore may count.
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// A semaphore with `permits` free permits. `const`, so it can live in
    /// a `thread_local!` without lazy initialisation. More than
    /// [`MAX_PERMITS`](Self::MAX_PERMITS) is taken as `MAX_PERMITS`
    /// (rule 7: in effect, no limit).
    ///
    /// ```
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// thread_local! {
    ///     static LIMIT: Semaphore = const { Semaphore::new(4) };
    /// }
    /// assert_eq!(LIMIT.with(|l| l.available_permits()), 4);
    /// let unlimited = Semaphore::new(usize::MAX);
    /// assert_eq!(unlimited.available_permits(), Semaphore::MAX_PERMITS);
    /// ```
    pub const fn new(permits: usize) -> Semaphore {
        let permits = if permits > Self::MAX_PERMITS {
            Self::MAX_PERMITS // rule 7
        } else {
            permits
        };
        Semaphore {
            permits: Cell::new(permits),
            closed: Cell::new(false),
            waiters: RefCell::new(WaitList::new()),
        }
    }

    /// Wait for one permit; it is given back when the returned
    /// [`SemaphorePermit`] is dropped. FIFO (rule 1); fails only if the
    /// semaphore is closed.
    ///
    /// Cancellation-safe: dropping the future gives up its place in the
    /// queue, or passes on the permit it had been handed (rule 4).
    ///
    /// ```
    /// use triad::event_loop::{sync::Semaphore, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let semaphore = Semaphore::new(1);
    /// ev.block_on(async {
    ///     let permit = semaphore.acquire().await.unwrap();
    ///     assert_eq!(semaphore.available_permits(), 0);
    ///     drop(permit);
    ///     assert_eq!(semaphore.available_permits(), 1);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Wait for `n` permits at once; the front waiter is not starved by
    /// smaller requests behind it (rule 2).
    ///
    /// ```
    /// use triad::event_loop::{sync::Semaphore, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let semaphore = Semaphore::new(5);
    /// let permit = ev.block_on(semaphore.acquire_many(3)).unwrap();
    /// assert_eq!((permit.num_permits(), semaphore.available_permits()), (3, 2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn acquire_many(&self, n: u32) -> Acquire<'_> {
        Acquire {
            semaphore: self,
            wait: Wait::new(n as usize),
        }
    }

    /// One permit if one is free now and nobody is queued (rule 1).
    ///
    /// ```
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// let semaphore = Semaphore::new(1);
    /// let permit = semaphore.try_acquire().unwrap();
    /// assert!(semaphore.try_acquire().unwrap_err().is_no_permits());
    /// drop(permit);
    /// assert!(semaphore.try_acquire().is_ok());
    /// ```
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// `n` permits if they are free now and nobody is queued (rule 1).
    ///
    /// ```
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// let semaphore = Semaphore::new(2);
    /// assert!(semaphore.try_acquire_many(3).unwrap_err().is_no_permits());
    /// assert_eq!(semaphore.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_take(n as usize)?;
        Ok(SemaphorePermit {
            semaphore: self,
            permits: n as usize,
        })
    }

    /// [`acquire`](Self::acquire) for a semaphore in an `Rc`: the permit
    /// keeps the semaphore alive, so it can move into a spawned task.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use triad::event_loop::{spawn, sync::Semaphore, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let semaphore = Rc::new(Semaphore::new(2));
    /// ev.block_on(async {
    ///     let permit = semaphore.clone().acquire_owned().await.unwrap();
    ///     spawn(async move {
    ///         let _permit = permit; // held for the task's lifetime
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// assert_eq!(semaphore.available_permits(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn acquire_owned(self: Rc<Self>) -> AcquireOwned {
        self.acquire_many_owned(1)
    }

    /// [`acquire_many`](Self::acquire_many) for a semaphore in an `Rc`.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use triad::event_loop::{sync::Semaphore, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// let semaphore = Rc::new(Semaphore::new(4));
    /// let permit = ev.block_on(semaphore.clone().acquire_many_owned(4)).unwrap();
    /// assert_eq!(permit.num_permits(), 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn acquire_many_owned(self: Rc<Self>, n: u32) -> AcquireOwned {
        AcquireOwned {
            semaphore: self,
            wait: Wait::new(n as usize),
        }
    }

    /// [`try_acquire`](Self::try_acquire) for a semaphore in an `Rc`.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// let semaphore = Rc::new(Semaphore::new(1));
    /// let permit = semaphore.clone().try_acquire_owned().unwrap();
    /// assert_eq!(permit.num_permits(), 1);
    /// ```
    pub fn try_acquire_owned(self: Rc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// [`try_acquire_many`](Self::try_acquire_many) for a semaphore in an
    /// `Rc`.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// let semaphore = Rc::new(Semaphore::new(3));
    /// let permit = semaphore.clone().try_acquire_many_owned(3).unwrap();
    /// assert_eq!(semaphore.available_permits(), 0);
    /// drop(permit);
    /// assert_eq!(semaphore.available_permits(), 3);
    /// ```
    pub fn try_acquire_many_owned(
        self: Rc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_take(n as usize)?;
        Ok(OwnedSemaphorePermit {
            semaphore: self,
            permits: n as usize,
        })
    }

    /// Add `n` permits, serving queued waiters first (rule 3). The free
    /// count stops at [`MAX_PERMITS`](Self::MAX_PERMITS) (rule 7).
    ///
    /// ```
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// let semaphore = Semaphore::new(0);
    /// semaphore.add_permits(2);
    /// assert_eq!(semaphore.available_permits(), 2);
    /// semaphore.add_permits(usize::MAX); // saturates, no overflow
    /// assert_eq!(semaphore.available_permits(), Semaphore::MAX_PERMITS);
    /// ```
    pub fn add_permits(&self, n: usize) {
        self.release(n);
    }

    /// Remove up to `n` free permits from the semaphore for good; returns
    /// how many were removed. Held permits are untouched.
    ///
    /// ```
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// let semaphore = Semaphore::new(3);
    /// assert_eq!(semaphore.forget_permits(5), 3);
    /// assert_eq!(semaphore.available_permits(), 0);
    /// ```
    pub fn forget_permits(&self, n: usize) -> usize {
        let removed = n.min(self.permits.get());
        self.permits.set(self.permits.get() - removed);
        removed
    }

    /// Permits free now (not held, not handed to a waiter).
    ///
    /// ```
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// assert_eq!(Semaphore::new(7).available_permits(), 7);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.permits.get()
    }

    /// Close the semaphore (rule 5): every queued and later acquire fails
    /// with an [`AcquireError`]; permits already held stay valid.
    ///
    /// ```
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// let semaphore = Semaphore::new(1);
    /// semaphore.close();
    /// assert!(semaphore.is_closed());
    /// assert!(semaphore.try_acquire().unwrap_err().is_closed());
    /// ```
    pub fn close(&self) {
        self.closed.set(true);
        let mut wakers = Vec::new();
        self.waiters.borrow_mut().release_all(&mut wakers);
        // Rule 6: after the borrow.
        wake_all(wakers);
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// ```
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// assert!(!Semaphore::new(1).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Rule 1: take `n` free permits now, only if nobody is queued.
    fn try_take(&self, n: usize) -> Result<(), TryAcquireError> {
        if self.closed.get() {
            return Err(TryAcquireError::closed());
        }
        let free = self.permits.get();
        if free < n || !self.waiters.borrow().is_empty() {
            return Err(TryAcquireError::no_permits());
        }
        self.permits.set(free - n);
        Ok(())
    }

    /// Rules 2, 3, 6, 7: give `n` permits back (the count saturating at
    /// the cap), serving the queue in order while its front fits, the
    /// wakes after the borrow (`wait_list.rs` rule 5: a waker that panics
    /// loses no other grant's wake).
    fn release(&self, n: usize) {
        let total = self.permits.get().saturating_add(n).min(Self::MAX_PERMITS);
        self.permits.set(total);
        let mut wakers = Vec::new();
        {
            let mut waiters = self.waiters.borrow_mut();
            while let Some(need) = waiters.front_need() {
                if need > self.permits.get() {
                    break;
                }
                self.permits.set(self.permits.get() - need);
                wakers.extend(waiters.grant_front());
            }
        }
        wake_all(wakers);
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.permits.get())
            .field("closed", &self.closed.get())
            .field("waiters", &self.waiters.borrow().len())
            .finish()
    }
}

/// One acquire's progress through the states of the module docs; shared by
/// [`Acquire`] and [`AcquireOwned`].
#[derive(Debug)]
struct Wait {
    need: usize,
    /// Our slot in the wait list, from the first `Pending` on.
    key: Option<WaiterKey>,
}

impl Wait {
    fn new(need: usize) -> Wait {
        Wait { need, key: None }
    }

    fn poll(
        &mut self,
        semaphore: &Semaphore,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        std::task::ready!(budget::poll_proceed(cx));
        let outcome = match self.key {
            None => {
                if semaphore.closed.get() {
                    Err(AcquireError::closed())
                } else if semaphore.try_take(self.need).is_ok() {
                    Ok(())
                } else {
                    let key = semaphore.waiters.borrow_mut().push(self.need, cx.waker());
                    self.key = Some(key);
                    return Poll::Pending;
                }
            }
            Some(key) => {
                let mut waiters = semaphore.waiters.borrow_mut();
                match waiters.state(key) {
                    WaiterState::Queued => {
                        let old = waiters.update_waker(key, cx.waker());
                        drop(waiters);
                        drop(old); // rule 6
                        return Poll::Pending;
                    }
                    state => {
                        let (_, old) = waiters.remove(key);
                        self.key = None;
                        drop(waiters);
                        drop(old);
                        if state == WaiterState::Granted {
                            Ok(())
                        } else {
                            Err(AcquireError::closed())
                        }
                    }
                }
            }
        };
        budget::consume();
        Poll::Ready(outcome)
    }

    /// Rule 4: the future is dropped.
    fn cancel(&mut self, semaphore: &Semaphore) {
        let Some(key) = self.key.take() else { return };
        let (state, old) = semaphore.waiters.borrow_mut().remove(key);
        drop(old);
        match state {
            WaiterState::Granted => semaphore.release(self.need),
            // A queued front that did not fit may have held back waiters
            // behind it that the free permits fit (rule 2): serve them now.
            WaiterState::Queued => semaphore.release(0),
            WaiterState::Released => {}
        }
    }
}

/// The future of [`Semaphore::acquire`] and
/// [`acquire_many`](Semaphore::acquire_many).
///
/// ```
/// use triad::event_loop::{sync::Semaphore, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let semaphore = Semaphore::new(1);
/// let acquire: triad::event_loop::sync::Acquire<'_> = semaphore.acquire();
/// assert!(ev.block_on(acquire).is_ok());
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Acquire<'a> {
    semaphore: &'a Semaphore,
    wait: Wait,
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let semaphore = this.semaphore;
        this.wait.poll(semaphore, cx).map(|outcome| {
            outcome.map(|()| SemaphorePermit {
                semaphore,
                permits: this.wait.need,
            })
        })
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        self.wait.cancel(self.semaphore);
    }
}

/// The future of [`Semaphore::acquire_owned`] and
/// [`acquire_many_owned`](Semaphore::acquire_many_owned).
///
/// ```
/// use std::rc::Rc;
/// use triad::event_loop::{sync::Semaphore, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let acquire = Rc::new(Semaphore::new(1)).acquire_owned();
/// assert!(ev.block_on(acquire).is_ok());
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct AcquireOwned {
    semaphore: Rc<Semaphore>,
    wait: Wait,
}

impl Future for AcquireOwned {
    type Output = Result<OwnedSemaphorePermit, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.wait.poll(&this.semaphore, cx).map(|outcome| {
            outcome.map(|()| OwnedSemaphorePermit {
                semaphore: this.semaphore.clone(),
                permits: this.wait.need,
            })
        })
    }
}

impl Drop for AcquireOwned {
    fn drop(&mut self) {
        self.wait.cancel(&self.semaphore);
    }
}

/// Permits held from a [`Semaphore`]; dropping it gives them back, to the
/// next waiter in line first (rule 3).
///
/// ```
/// use triad::event_loop::sync::Semaphore;
///
/// let semaphore = Semaphore::new(2);
/// let permit = semaphore.try_acquire_many(2).unwrap();
/// assert_eq!(semaphore.available_permits(), 0);
/// drop(permit);
/// assert_eq!(semaphore.available_permits(), 2);
/// ```
#[must_use = "dropping a permit gives it back at once"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
    permits: usize,
}

impl<'a> SemaphorePermit<'a> {
    /// How many permits this holds.
    ///
    /// ```
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// let semaphore = Semaphore::new(3);
    /// assert_eq!(semaphore.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Keep the permits out of the semaphore for good (its capacity
    /// shrinks by that many).
    ///
    /// ```
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// let semaphore = Semaphore::new(2);
    /// semaphore.try_acquire().unwrap().forget();
    /// assert_eq!(semaphore.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// Split `n` of the permits off into a permit of their own; `None` if
    /// this holds fewer than `n`.
    ///
    /// ```
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// let semaphore = Semaphore::new(3);
    /// let mut three = semaphore.try_acquire_many(3).unwrap();
    /// let one = three.split(1).unwrap();
    /// assert_eq!((three.num_permits(), one.num_permits()), (2, 1));
    /// drop(one);
    /// assert_eq!(semaphore.available_permits(), 1);
    /// ```
    pub fn split(&mut self, n: usize) -> Option<SemaphorePermit<'a>> {
        self.permits = self.permits.checked_sub(n)?;
        Some(SemaphorePermit {
            semaphore: self.semaphore,
            permits: n,
        })
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.release(self.permits);
        }
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Permits held from a [`Semaphore`] in an `Rc`, keeping it alive; dropping
/// it gives them back, to the next waiter in line first (rule 3).
///
/// ```
/// use std::rc::Rc;
/// use triad::event_loop::sync::Semaphore;
///
/// let semaphore = Rc::new(Semaphore::new(1));
/// let permit = semaphore.clone().try_acquire_owned().unwrap();
/// assert!(Rc::ptr_eq(permit.semaphore(), &semaphore));
/// ```
#[must_use = "dropping a permit gives it back at once"]
pub struct OwnedSemaphorePermit {
    semaphore: Rc<Semaphore>,
    permits: usize,
}

impl OwnedSemaphorePermit {
    /// How many permits this holds.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// let semaphore = Rc::new(Semaphore::new(2));
    /// assert_eq!(semaphore.try_acquire_many_owned(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore the permits belong to.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// let permit = Rc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
    /// assert_eq!(permit.semaphore().available_permits(), 0);
    /// ```
    pub fn semaphore(&self) -> &Rc<Semaphore> {
        &self.semaphore
    }

    /// Keep the permits out of the semaphore for good.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// let semaphore = Rc::new(Semaphore::new(1));
    /// semaphore.clone().try_acquire_owned().unwrap().forget();
    /// assert_eq!(semaphore.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// Split `n` of the permits off into a permit of their own; `None` if
    /// this holds fewer than `n`.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use triad::event_loop::sync::Semaphore;
    ///
    /// let semaphore = Rc::new(Semaphore::new(2));
    /// let mut both = semaphore.clone().try_acquire_many_owned(2).unwrap();
    /// let one = both.split(1).unwrap();
    /// assert_eq!((both.num_permits(), one.num_permits()), (1, 1));
    /// ```
    pub fn split(&mut self, n: usize) -> Option<OwnedSemaphorePermit> {
        self.permits = self.permits.checked_sub(n)?;
        Some(OwnedSemaphorePermit {
            semaphore: self.semaphore.clone(),
            permits: n,
        })
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.release(self.permits);
        }
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}
