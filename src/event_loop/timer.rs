//! Timers: a binary heap of deadlines with lazy cancellation, and one
//! timerfd armed at the earliest deadline.
//!
//! ```text
//!   slots (slab)            heap (min on deadline, then arming order)
//!   index gen waker         (deadline, seq, index, gen)
//!   0     4   Some(w) ◄──── (t=5ms,  17, 0, 4)   live: gen matches, waker set
//!   1     2   None          (t=7ms,  12, 1, 1)   stale: slot 1 moved on to gen 2
//!   ...
//!   timerfd armed at the top's deadline ──► epoll ──► loop fires what is due
//! ```
//!
//! Rules:
//!
//! 1. **Never early.** A timer fires only when `Instant::now() >= deadline`
//!    (the loop's check), and a `Sleep` completes only when its own clock
//!    read says so. The timerfd is armed relative to a clock read taken
//!    *before* the arming call, so the kernel fires it no earlier than the
//!    deadline; an early wake-up of `epoll` would only cost a turn.
//! 2. **Arming** is O(log n): a slot from the free list and a heap push.
//!    The heap keeps deadlines as nanoseconds since the timers were made,
//!    exact and saturating, so that ordering them is one integer compare.
//! 3. **Cancelling** is O(1): the slot's generation moves on and its waker
//!    goes; the heap entry stays, now stale, and is skipped when it reaches
//!    the top. Stale entries do not pile up: once they are more than half
//!    the heap (and more than 64), the heap is rebuilt without them, O(n)
//!    after at least n/2 cancellations, so O(1) amortised.
//! 4. **The fd follows the top.** Before the loop sleeps it arms the timerfd
//!    at the earliest live deadline, only if that changed (one
//!    `timerfd_settime` per new earliest deadline, none per turn), and
//!    disarms it when no timer is left, so an idle loop with no timer makes
//!    no wake-ups.
//! 5. Slots and heap belong to the loop thread; a [`Sleep`] is `Send` (it
//!    holds only its deadline and its key, tagged with its loop's id), so a
//!    `Send` future may sleep. A `Sleep` dropped off its loop cannot cancel
//!    its slot; the slot then fires once into a waker nobody waits on. A
//!    `Sleep` forgotten after its poll (`mem::forget`: the accept back-off
//!    in `net`, which arms one per waiting task) likewise fires once into
//!    its waker and frees its slot; nothing is left behind.
//!
//! 6. **The last stretch awake.** The timerfd is armed `WAKE_EARLY_NS`
//!    (50 µs) before the deadline, and a loop whose earliest deadline is that close
//!    does not sleep: it keeps turning (`epoll_wait` with a zero timeout, so
//!    I/O and other threads' wakes still come in) until the timer is due.
//!    Waking a halted CPU takes tens of microseconds (on a virtual machine
//!    the host must reschedule the vCPU); a loop that wakes early and
//!    watches the clock fires the timer within a few microseconds of its
//!    deadline instead. The price is at most 50 µs of CPU per timer
//!    the loop sleeps for: 0.005% of a core for a 1 s interval, 5% for a
//!    1 ms one. An idle loop with no timer still sleeps for good (rule 4).
//!
//! 7. **A timeout is kept whatever the budget.** A [`Timeout`] whose
//!    future spends the task's whole budget at every poll (a loop over
//!    operations that are always ready) would find its `Sleep` out of
//!    budget too, `Pending` before it reads the clock, and never fire: the
//!    task would run forever. So when its `Sleep` is `Pending`, a `Timeout`
//!    reads the clock itself and gives `Elapsed` once the deadline is past.
//! 8. **A reset keeps the waiter.** [`Sleep::reset`] of a sleep that waits
//!    (its timer armed on the loop running) moves the timer to the new
//!    deadline with the waker it holds, so the task awaiting the sleep
//!    wakes then even when another task reset it. (It cancelled the timer,
//!    waker and all, before: a watchdog whose deadline another task pushed
//!    back slept for good.) Off its loop, the old timer fires once into
//!    the waker (rule 5), and the next poll arms the new deadline.
//!
//! Precision: the loop sleeps in `epoll_wait` with no timeout and the timerfd
//! wakes it, at the kernel's timer resolution (high-resolution timers:
//! microseconds), where `epoll_wait`'s own timeout would round up to whole
//! milliseconds; rule 6 then takes the wake-up latency of the CPU out of
//! the lateness.

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::borrow::LoopBorrow;
use super::error::Elapsed;
use super::{budget, executor};
use crate::sys::timerfd;

/// How long before a deadline the loop wakes and stays awake (rule 6):
/// 50 µs.
const WAKE_EARLY_NS: u64 = 50_000;

/// Which heap entry a slot belongs to: an index and a generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    index: u32,
    generation: u32,
}

struct Slot {
    generation: u32,
    /// `Some` while armed (live).
    waker: Option<Waker>,
}

/// A heap entry: a timer's deadline and arming order, and its slot's key.
#[derive(Clone, Copy)]
struct HeapEntry {
    /// The deadline, in nanoseconds since the timers' epoch (see
    /// [`Timers::since_epoch`]): one integer compares in a few instructions
    /// where an `Instant` (seconds, then nanoseconds) takes dozens.
    deadline: u64,
    seq: u64,
    key: TimerKey,
}

impl HeapEntry {
    /// Heap order: by deadline, then by arming order. `seq` is unique, so
    /// two entries are never equal and the key never needs comparing.
    fn before(&self, other: &HeapEntry) -> bool {
        (self.deadline, self.seq) < (other.deadline, other.seq)
    }
}

/// A binary min-heap of entries, earliest first: entry `i`'s children are
/// `2i + 1` and `2i + 2`, and no child comes [`before`](HeapEntry::before)
/// its parent.
///
/// Written here rather than taken from `std::collections::BinaryHeap`:
/// these few lines are all the loop needs (push, peek, pop, a rebuild after
/// dropping stale entries). Std's heap, generic and tuned for speed, came
/// to ~1.7 KB of machine code for this entry type, these lines to under
/// half of that (issue 4's footprint).
#[derive(Default)]
struct MinHeap {
    entries: Vec<HeapEntry>,
}

impl MinHeap {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn peek(&self) -> Option<&HeapEntry> {
        self.entries.first()
    }

    fn push(&mut self, entry: HeapEntry) {
        self.entries.push(entry);
        // Sift up: swap with the parent while before it.
        let mut i = self.entries.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.entries[i].before(&self.entries[parent]) {
                break;
            }
            self.entries.swap(i, parent);
            i = parent;
        }
    }

    /// Remove the earliest entry.
    fn pop(&mut self) {
        let Some(last) = self.entries.pop() else {
            return;
        };
        if let Some(root) = self.entries.first_mut() {
            *root = last;
            self.sift_down(0);
        }
    }

    /// Keep only the entries `keep` accepts, then restore the order
    /// bottom-up (O(n)).
    fn retain(&mut self, keep: impl FnMut(&HeapEntry) -> bool) {
        self.entries.retain(keep);
        for i in (0..self.entries.len() / 2).rev() {
            self.sift_down(i);
        }
    }

    /// Swap entry `i` with its earlier child while that child comes before
    /// it.
    fn sift_down(&mut self, mut i: usize) {
        let len = self.entries.len();
        loop {
            let left = 2 * i + 1;
            if left >= len {
                return;
            }
            let right = left + 1;
            let child = if right < len && self.entries[right].before(&self.entries[left]) {
                right
            } else {
                left
            };
            if !self.entries[child].before(&self.entries[i]) {
                return;
            }
            self.entries.swap(i, child);
            i = child;
        }
    }
}

/// The loop's timers (loop thread only).
pub(crate) struct Timers {
    heap: MinHeap,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Heap entries whose slot moved on (rule 3).
    stale: usize,
    /// Arming order, so equal deadlines fire first-armed first.
    seq: u64,
    fd: OwnedFd,
    /// The deadline the timerfd is armed at (rule 4), since `epoch`.
    armed: Option<u64>,
    /// When the timers were made: deadlines are kept as nanoseconds since.
    epoch: Instant,
}

/// How long the loop may sleep in `epoll_wait`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// No timer: until an event.
    Forever,
    /// The timerfd is armed: until an event (the fd's among them).
    UntilTimerFd,
    /// Something is due, or due within 50 µs (rule 6): do not sleep.
    NoSleep,
    /// The timerfd could not be armed: use epoll's (rounded-up) timeout.
    Timeout(Duration),
}

impl Timers {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Timers {
            heap: MinHeap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            stale: 0,
            seq: 0,
            fd: timerfd::create()?,
            armed: None,
            epoch: Instant::now(),
        })
    }

    /// `t` in nanoseconds since the epoch, saturating: an instant before it
    /// is 0 (and so due, as `now` is never before the epoch), one more than
    /// 584 years after it is `u64::MAX`. Exact in between, so rule 1 holds
    /// on these integers as it does on the instants. Out of line: three
    /// callers, and inlined it is an instant subtraction and a 128-bit
    /// product each time.
    #[inline(never)]
    fn since_epoch(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Rule 2.
    pub(crate) fn insert(&mut self, deadline: Instant, waker: Waker) -> TimerKey {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    waker: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.waker = Some(waker);
        let key = TimerKey {
            index,
            generation: slot.generation,
        };
        self.seq += 1;
        self.heap.push(HeapEntry {
            deadline: self.since_epoch(deadline),
            seq: self.seq,
            key,
        });
        key
    }

    fn live(&self, key: TimerKey) -> bool {
        is_live(&self.slots, key)
    }

    /// Replace the waker of a live timer; false if it fired or was cancelled.
    pub(crate) fn update(&mut self, key: TimerKey, waker: &Waker) -> bool {
        if !self.live(key) {
            return false;
        }
        let slot = &mut self.slots[key.index as usize];
        if !slot.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            slot.waker = Some(waker.clone());
        }
        true
    }

    /// Free a slot; its heap entry goes stale (or is already gone).
    fn release(&mut self, index: u32) -> Option<Waker> {
        let slot = &mut self.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        slot.waker.take()
    }

    /// Rule 3; the timer's waker, if it was live.
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<Waker> {
        if !self.live(key) {
            return None;
        }
        let waker = self.release(key.index);
        self.stale += 1;
        if self.stale > 64 && self.stale * 2 > self.heap.len() {
            let slots = &self.slots;
            self.heap.retain(|entry| is_live(slots, entry.key));
            self.stale = 0;
        }
        waker
    }

    /// Take the wakers of the timers due at `now` (rule 1), earliest first,
    /// until `wakers` holds `limit` (it may hold wakers left from a turn
    /// whose wake panicked, executor.rs rule 6): the others stay due in the heap, ahead of
    /// every later deadline, for the next call (executor.rs rule 6). The
    /// caller wakes them after releasing its borrow of `self`.
    pub(crate) fn fire_due(&mut self, now: Instant, limit: usize, wakers: &mut Vec<Waker>) {
        let now = self.since_epoch(now);
        while let Some(&HeapEntry { deadline, key, .. }) = self.heap.peek() {
            if deadline > now || wakers.len() >= limit {
                break;
            }
            self.heap.pop();
            if self.live(key) {
                if let Some(waker) = self.release(key.index) {
                    wakers.push(waker);
                }
            } else {
                self.stale -= 1;
            }
        }
    }

    /// The earliest live deadline (since the epoch), dropping stale entries
    /// from the top.
    pub(crate) fn next_deadline(&mut self) -> Option<u64> {
        while let Some(&HeapEntry { deadline, key, .. }) = self.heap.peek() {
            if self.live(key) {
                return Some(deadline);
            }
            self.heap.pop();
            self.stale -= 1;
        }
        None
    }

    /// Rule 4: arm the timerfd for the earliest deadline, and say how long
    /// the loop may sleep.
    pub(crate) fn arm(&mut self, now: Instant) -> Wait {
        let Some(deadline) = self.next_deadline() else {
            if self.armed.take().is_some() {
                let _ = timerfd::set(self.fd.as_fd(), None);
            }
            return Wait::Forever;
        };
        let now = self.since_epoch(now);
        // Rule 6: due, or due so soon that the loop stays awake for it.
        // (Never a zero wait: a zero `timerfd_settime` disarms the fd.)
        let wait = deadline.saturating_sub(now + WAKE_EARLY_NS);
        if wait == 0 {
            return Wait::NoSleep;
        }
        if self.armed == Some(deadline) {
            return Wait::UntilTimerFd;
        }
        // Rule 1: `now` was read before this call (and rule 6 arms it
        // earlier still: an early wake-up only costs turns).
        let wait = Duration::from_nanos(wait);
        match timerfd::set(self.fd.as_fd(), Some(wait)) {
            Ok(()) => {
                self.armed = Some(deadline);
                Wait::UntilTimerFd
            }
            Err(_) => {
                self.armed = None;
                Wait::Timeout(wait)
            }
        }
    }

    /// The timerfd was readable: consume its expirations.
    pub(crate) fn on_fd_ready(&mut self) {
        if matches!(timerfd::read(self.fd.as_fd()), Ok(n) if n > 0) {
            self.armed = None;
        }
    }

    /// Live timers (for tests of rule 3).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn heap_len(&self) -> usize {
        self.heap.len()
    }
}

/// Whether `key`'s timer is still armed: its slot is on the same generation
/// and holds a waker.
fn is_live(slots: &[Slot], key: TimerKey) -> bool {
    slots
        .get(key.index as usize)
        .is_some_and(|s| s.generation == key.generation && s.waker.is_some())
}

/// A `Sleep`'s registration: its loop and its key (rule 5).
#[derive(Clone, Copy, Debug)]
struct Entry {
    loop_id: u64,
    key: TimerKey,
}

/// A future that completes at a deadline, never before it. Made by
/// [`sleep`] and [`sleep_until`].
///
/// `Send + Sync`, so `Send` futures may sleep; it must be polled on an
/// event loop's thread.
///
/// ```
/// use std::time::{Duration, Instant};
/// use triad::event_loop::{sleep, EventLoop};
///
/// let ev = EventLoop::new().unwrap();
/// let nap = sleep(Duration::from_millis(2));
/// let deadline = nap.deadline();
/// ev.block_on(nap);
/// assert!(Instant::now() >= deadline);
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Sleep {
    deadline: Instant,
    entry: Option<Entry>,
}

/// Wait until `duration` has elapsed (counted from this call).
///
/// # Panics
///
/// When polled outside an event loop.
///
/// ```
/// use std::time::{Duration, Instant};
/// use triad::event_loop::{sleep, EventLoop};
///
/// let ev = EventLoop::new().unwrap();
/// let start = Instant::now();
/// ev.block_on(sleep(Duration::from_millis(2)));
/// assert!(start.elapsed() >= Duration::from_millis(2));
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    let now = Instant::now();
    sleep_until(now.checked_add(duration).unwrap_or_else(far_future))
}

/// Wait until `deadline`.
///
/// # Panics
///
/// When polled outside an event loop.
///
/// ```
/// use std::time::{Duration, Instant};
/// use triad::event_loop::{sleep_until, EventLoop};
///
/// let ev = EventLoop::new().unwrap();
/// let deadline = Instant::now() + Duration::from_millis(2);
/// ev.block_on(sleep_until(deadline));
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        entry: None,
    }
}

/// About 30 years from now: "never", for durations that overflow `Instant`.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

impl Sleep {
    /// The deadline.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let at = Instant::now() + Duration::from_secs(5);
    /// assert_eq!(triad::event_loop::sleep_until(at).deadline(), at);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use triad::event_loop::{sleep, EventLoop};
    ///
    /// let ev = EventLoop::new().unwrap();
    /// let mut nap = sleep(Duration::from_millis(1));
    /// ev.block_on(&mut nap);
    /// assert!(nap.is_elapsed());
    /// assert!(!sleep(Duration::from_secs(60)).is_elapsed());
    /// ```
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Move the deadline (earlier or later). A task waiting for this sleep
    /// wakes at the new deadline, whichever task reset it.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use triad::event_loop::{sleep, EventLoop};
    ///
    /// let ev = EventLoop::new().unwrap();
    /// let mut nap = sleep(Duration::from_secs(3600));
    /// let sooner = Instant::now() + Duration::from_millis(1);
    /// nap.reset(sooner); // e.g. a keep-alive timer pushed back or pulled in
    /// ev.block_on(&mut nap);
    /// assert!(Instant::now() >= sooner);
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        // Rule 8: a waiting sleep's timer moves, with its waker.
        let Some(entry) = self.entry.take() else {
            return;
        };
        self.entry = executor::with_current(|core| {
            let core = core.filter(|core| core.id == entry.loop_id)?;
            let mut timers = core.timers.loop_mut();
            let waker = timers.cancel(entry.key)?;
            Some(Entry {
                key: timers.insert(deadline, waker),
                ..entry
            })
        });
    }

    fn cancel(&mut self) {
        if let Some(entry) = self.entry.take() {
            executor::with_current(|core| {
                if let Some(core) = core {
                    if core.id == entry.loop_id {
                        let waker = core.timers.loop_mut().cancel(entry.key);
                        drop(waker); // after the borrow (executor rule 5)
                    }
                }
            });
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        ready!(budget::poll_proceed(cx));
        // Rule 1: our own clock read decides.
        if Instant::now() >= self.deadline {
            self.cancel();
            budget::consume();
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let entry = self.entry;
        let new_entry = executor::with_current(|core| {
            let core = core.expect(super::error::NO_EVENT_LOOP);
            let mut timers = core.timers.loop_mut();
            match entry {
                Some(e) if e.loop_id == core.id && timers.update(e.key, cx.waker()) => None,
                _ => Some(Entry {
                    loop_id: core.id,
                    key: timers.insert(deadline, cx.waker().clone()),
                }),
            }
        });
        if let Some(new_entry) = new_entry {
            self.entry = Some(new_entry);
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// Run `future`, giving up after `duration`: `Err(Elapsed)` then, and the
/// future is dropped.
///
/// # Panics
///
/// When polled outside an event loop while `future` is pending and the
/// deadline has not passed (as a [`Sleep`] does).
///
/// ```
/// use std::time::Duration;
/// use triad::event_loop::{sleep, timeout, EventLoop};
///
/// let ev = EventLoop::new().unwrap();
/// ev.block_on(async {
///     let slow = timeout(Duration::from_millis(1), sleep(Duration::from_secs(60)));
///     assert!(slow.await.is_err());
///     let quick = timeout(Duration::from_secs(60), async { 7 });
///     assert_eq!(quick.await.unwrap(), 7);
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// Run `future`, giving up at `deadline`.
///
/// # Panics
///
/// When polled outside an event loop while `future` is pending and the
/// deadline has not passed (as a [`Sleep`] does).
///
/// ```
/// use std::time::{Duration, Instant};
/// use triad::event_loop::{timeout_at, EventLoop};
///
/// let ev = EventLoop::new().unwrap();
/// let deadline = Instant::now() + Duration::from_millis(5);
/// let never = ev.block_on(timeout_at(deadline, std::future::pending::<()>()));
/// assert!(never.is_err());
/// assert!(Instant::now() >= deadline);
/// ```
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

/// The future of [`timeout`] and [`timeout_at`].
///
/// ```
/// use std::time::Duration;
/// use triad::event_loop::{timeout, EventLoop, Timeout};
///
/// let ev = EventLoop::new().unwrap();
/// let quick: Timeout<_> = timeout(Duration::from_secs(60), async { "done" });
/// assert_eq!(ev.block_on(quick), Ok("done"));
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: never moved out of the
        // pinned `Timeout` and dropped in place; `sleep` is `Unpin` and not
        // pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(value) = future.poll(cx) {
            return Poll::Ready(Ok(value));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed::new())),
            // Rule 7: a future that spent the task's whole budget leaves
            // the sleep `Pending` without a look at the clock; the deadline
            // still decides.
            Poll::Pending if this.sleep.is_elapsed() => Poll::Ready(Err(Elapsed::new())),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Ticks at a fixed period. Made by [`interval`].
///
/// The first tick completes at once; tick `k` completes at or after
/// `start + k × period` (a period too long for `Instant`, such as
/// `Duration::MAX`, makes every tick after the first "never", as
/// [`sleep`] does). Ticks missed because the loop was busy are skipped
/// (the next tick is the first multiple of the period still ahead), so
/// ticks never come in a burst and keep their phase.
///
/// ```
/// use std::time::{Duration, Instant};
/// use triad::event_loop::{interval, EventLoop};
///
/// let ev = EventLoop::new().unwrap();
/// let start = Instant::now();
/// ev.block_on(async {
///     let mut every = interval(Duration::from_millis(2));
///     for _ in 0..3 {
///         every.tick().await; // at 0, 2 and 4 ms
///     }
/// });
/// assert!(start.elapsed() >= Duration::from_millis(4));
/// ```
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    sleep: Sleep,
}

/// An [`Interval`] with the given period, the first tick now.
///
/// A zero period makes every tick due at once: each `tick` completes when
/// called, paced only by the cooperative budget (so other tasks still run
/// between bursts of ticks), never by a timer.
///
/// # Panics
///
/// A tick that has to wait (any after the first, unless the period is
/// zero), polled outside an event loop (as a [`Sleep`] does).
///
/// ```
/// use std::time::Duration;
/// use triad::event_loop::{interval, EventLoop};
///
/// let ev = EventLoop::new().unwrap();
/// ev.block_on(async {
///     let mut ticks = interval(Duration::from_millis(1));
///     let first = ticks.tick().await;
///     let second = ticks.tick().await;
///     assert!(second >= first + Duration::from_millis(1));
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    Interval {
        period,
        sleep: sleep_until(Instant::now()),
    }
}

impl Interval {
    /// Wait for the next tick; returns its scheduled instant.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use triad::event_loop::{interval, EventLoop};
    /// let ev = EventLoop::new().unwrap();
    /// ev.block_on(async {
    ///     let mut every = interval(Duration::from_millis(1));
    ///     let first = every.tick().await; // at once
    ///     let second = every.tick().await;
    ///     // Scheduled instants: whole periods apart (a missed tick is skipped).
    ///     assert!(second > first);
    ///     assert_eq!((second - first).as_nanos() % 1_000_000, 0);
    /// });
    /// ```
    pub fn tick(&mut self) -> impl Future<Output = Instant> + '_ {
        // Not an `async fn`: see the event_loop::net module docs.
        std::future::poll_fn(|cx| self.poll_tick(cx))
    }

    /// Poll for the next tick.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use triad::event_loop::{interval, EventLoop};
    /// use std::future::poll_fn;
    ///
    /// let ev = EventLoop::new().unwrap();
    /// ev.block_on(async {
    ///     let mut every = interval(Duration::from_millis(1));
    ///     let first = poll_fn(|cx| every.poll_tick(cx)).await;
    ///     let second = poll_fn(|cx| every.poll_tick(cx)).await;
    ///     assert!(second > first);
    /// });
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        ready!(Pin::new(&mut self.sleep).poll(cx));
        let scheduled = self.sleep.deadline();
        let now = Instant::now();
        // Not `reset`: the sleep just completed, so it has no timer left
        // to move (rule 8).
        self.sleep.deadline = next_tick(scheduled, now, self.period);
        Poll::Ready(scheduled)
    }

    /// The period.
    ///
    /// ```
    /// use std::time::Duration;
    /// let every = triad::event_loop::interval(Duration::from_millis(250));
    /// assert_eq!(every.period(), Duration::from_millis(250));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }
}

/// An interval's next tick after the one `scheduled`, read at `now`: the
/// first whole period after `now`, so that missed ticks are skipped and the
/// phase is kept; `now` itself for a zero period.
fn next_tick(scheduled: Instant, now: Instant, period: Duration) -> Instant {
    if period.is_zero() {
        return now; // due at once, every time
    }
    // In u64 nanoseconds (584 years; beyond, saturated): no u128 division
    // linked in.
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let periods = nanos(now.saturating_duration_since(scheduled)) / nanos(period) + 1;
    let ahead = match u32::try_from(periods) {
        Ok(periods) => period * periods,
        // Over 2^32 periods missed: the period is under a second, so its
        // nanoseconds are exact.
        Err(_) => Duration::from_nanos(periods.saturating_mul(nanos(period))),
    };
    // Past `Instant`'s range (a period of `Duration::MAX`): "never".
    scheduled.checked_add(ahead).unwrap_or_else(far_future)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn next_tick_skips_missed_periods_and_keeps_the_phase() {
        let base = Instant::now();
        let ms = Duration::from_millis;
        // On time: the next period.
        assert_eq!(next_tick(base, base, ms(10)), base + ms(10));
        // 25 ms late: ticks at 10 and 20 are skipped, the phase kept.
        assert_eq!(next_tick(base, base + ms(25), ms(10)), base + ms(30));
        // Exactly on a later tick: the one after it.
        assert_eq!(next_tick(base, base + ms(20), ms(10)), base + ms(30));
        assert_eq!(next_tick(base, base + ms(5), Duration::ZERO), base + ms(5));
        // More than 2^32 periods missed (5 s of 1 ns periods): still the
        // first tick after `now`, not one 4.3 s in the past.
        let now = base + Duration::from_secs(5);
        let next = next_tick(base, now, Duration::from_nanos(1));
        assert!(next > now && next <= now + Duration::from_nanos(1));
        let now = base + Duration::from_secs(9);
        let next = next_tick(base, now, Duration::from_nanos(2));
        assert!(next > now && next <= now + Duration::from_nanos(2));
    }
    use std::task::Waker;

    /// Rule 3: cancelled entries are dropped once they are most of the heap,
    /// so arming and cancelling forever keeps the heap bounded.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri has no timerfd_create; the timer heap holds no unsafe"
    )]
    fn cancelled_timers_do_not_pile_up() {
        let mut timers = Timers::new().unwrap();
        let far = Instant::now() + Duration::from_secs(3600);
        let keeper = timers.insert(far, Waker::noop().clone());
        for i in 0..100_000u32 {
            let key = timers.insert(far + Duration::from_nanos(i as u64), Waker::noop().clone());
            timers.cancel(key);
            assert!(
                timers.heap_len() <= 2 * 66,
                "heap grew to {}",
                timers.heap_len()
            );
        }
        assert_eq!(timers.next_deadline(), Some(timers.since_epoch(far)));
        timers.cancel(keeper);
        assert_eq!(timers.next_deadline(), None);
        assert_eq!(timers.heap_len(), 0);
    }

    /// The heap gives its entries back in (deadline, seq) order, after
    /// pushes in any order and after a rebuild by `retain`.
    #[test]
    fn the_heap_pops_in_deadline_then_arming_order() {
        let mut heap = MinHeap::default();
        let mut x = 12345u64;
        for seq in 0..500u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = TimerKey {
                index: seq as u32,
                generation: 0,
            };
            // Few distinct deadlines, so that ties on them are many.
            heap.push(HeapEntry {
                deadline: (x >> 33) % 50,
                seq,
                key,
            });
        }
        heap.retain(|entry| entry.key.index % 3 != 0);
        let mut popped = Vec::new();
        while let Some(&entry) = heap.peek() {
            heap.pop();
            popped.push((entry.deadline, entry.seq));
        }
        assert_eq!(popped.len(), 500 - 167);
        let mut sorted = popped.clone();
        sorted.sort();
        assert_eq!(popped, sorted);
    }

    /// Rules 4 and 6: a deadline further than 50 µs arms the fd (once);
    /// one 50 µs away or closer keeps the loop awake, and is never armed
    /// with a zero wait (which would disarm the fd for good).
    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri has no timerfd_create; the timer heap holds no unsafe"
    )]
    fn the_loop_sleeps_until_50_us_before_the_earliest_deadline() {
        let mut timers = Timers::new().unwrap();
        let now = Instant::now();
        let far = timers.insert(now + Duration::from_millis(10), Waker::noop().clone());
        assert_eq!(timers.arm(now), Wait::UntilTimerFd);
        assert_eq!(timers.armed, Some(timers.since_epoch(now) + 10_000_000));
        assert_eq!(timers.arm(now), Wait::UntilTimerFd, "armed once");
        // 9.95 ms later the fd rings; from then on the loop stays awake.
        let rung = now + Duration::from_micros(9_950);
        assert_eq!(timers.arm(rung), Wait::NoSleep);
        timers.cancel(far);
        for micros in [50, 30, 0] {
            let key = timers.insert(now + Duration::from_micros(micros), Waker::noop().clone());
            assert_eq!(timers.arm(now), Wait::NoSleep, "{micros} µs ahead");
            timers.cancel(key);
        }
        assert_eq!(timers.arm(now), Wait::Forever);
    }

    /// Rule 1: only what is due fires, in deadline order.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri has no timerfd_create; the timer heap holds no unsafe"
    )]
    fn fire_due_takes_exactly_the_due_timers() {
        let mut timers = Timers::new().unwrap();
        let base = Instant::now();
        for ms in [5u64, 1, 3, 2, 4] {
            timers.insert(base + Duration::from_millis(ms), Waker::noop().clone());
        }
        let mut fired = Vec::new();
        timers.fire_due(base + Duration::from_millis(3), usize::MAX, &mut fired);
        assert_eq!(fired.len(), 3);
        let four = timers.since_epoch(base + Duration::from_millis(4));
        assert_eq!(timers.next_deadline(), Some(four));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri has no timerfd_create; the timer heap holds no unsafe"
    )]
    fn fire_due_stops_at_its_limit_and_leaves_the_rest_due() {
        let mut timers = Timers::new().unwrap();
        let base = Instant::now();
        for ms in [5u64, 1, 3, 2, 4] {
            timers.insert(base + Duration::from_millis(ms), Waker::noop().clone());
        }
        let mut fired = Vec::new();
        let late = base + Duration::from_millis(10);
        timers.fire_due(late, 2, &mut fired);
        assert_eq!(fired.len(), 2);
        let three = timers.since_epoch(base + Duration::from_millis(3));
        assert_eq!(timers.next_deadline(), Some(three));
        fired.clear();
        timers.fire_due(late, 2, &mut fired);
        assert_eq!(fired.len(), 2);
        fired.clear();
        timers.fire_due(late, 2, &mut fired);
        assert_eq!(fired.len(), 1);
        assert_eq!(timers.next_deadline(), None);
    }
}
