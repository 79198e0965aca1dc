//! The FIFO of waiting futures that every primitive of this module is
//! built on: a slab of slots linked into a queue, indexed by a
//! [`WaiterKey`] that the waiting future keeps.
//!
//! A waiter's slot lives from its first `Pending` until its future is
//! polled to the end or dropped; only the future frees it. So the side that
//! hands something over (a permit, a slot, a notification) can do so *into
//! the slot* and move on, and the future finds it there on its next poll,
//! or passes it on from its `Drop`.
//!
//! ```text
//!            push                 grant_front / grant_all
//!   (none) ─────────► QUEUED ───────────────────────────────► GRANTED
//!                       │  │   release_all (closed, broadcast)    │
//!                       │  └─────────────────────────────► RELEASED
//!                       │                                        │
//!                       └── remove (future done or dropped) ─────┴──► (free)
//! ```
//!
//! | state | in the queue | meaning for the future |
//! |---|---|---|
//! | QUEUED | yes | still waiting; its waker is stored |
//! | GRANTED | no | what it waited for is *its own* now (it must use it or pass it on) |
//! | RELEASED | no | woken holding nothing: the primitive was closed (or, for `Notify`, a `notify_waiters` broadcast woke everyone: nothing to pass on) |
//!
//! Rules:
//!
//! 1. **FIFO.** Waiters are granted in the order they were pushed; only the
//!    front is ever granted alone (`grant_front`). A waiter asking for more
//!    than is free blocks those behind it: nobody overtakes it.
//! 2. **The granter unlinks.** Granting or releasing unlinks the slot from
//!    the queue and takes its waker, in one step, so a waiter is granted at
//!    most once and woken at most once per grant.
//! 3. **Only the future frees.** [`WaitList::remove`] is called by the
//!    waiter's own future (when it completes or is dropped) and reports the
//!    state it found, so that a GRANTED slot's grant is used or passed on,
//!    never lost.
//! 4. **Wake outside.** The list returns wakers instead of waking them: the
//!    caller wakes them after it has released every borrow, because a wake
//!    is foreign code.
//! 5. **A waker that panics loses no other.** The wakers a grant or a
//!    release took are woken with [`wake_all`]: every one of them, the
//!    first panic re-raised after the last. (Their waiters are out of the
//!    queue already, GRANTED or RELEASED: a waker dropped with the
//!    unwinding would leave its task asleep for good.)
//!
//! Loop-thread-only: plain `Vec` and indices, no atomics (see the module
//! docs of `sync` for why the primitives are `!Send` or `!Sync`).

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::task::Waker;

/// Rule 5: wake every waker of `wakers`, then re-raise the first panic
/// of a wake, if any. Out of line: called by every primitive.
#[inline(never)]
pub(crate) fn wake_all(wakers: Vec<Waker>) {
    let mut panic = None;
    for waker in wakers {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
            panic.get_or_insert(payload);
        }
    }
    if let Some(payload) = panic {
        resume_unwind(payload);
    }
}

/// No slot (the end of a link).
const NIL: usize = usize::MAX;

/// Names a waiter's slot; held by the waiting future (rule 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaiterKey(usize);

/// Where a waiter stands (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaiterState {
    Queued,
    Granted,
    Released,
}

#[derive(Debug)]
enum SlotState {
    /// Free; `next` links the free list.
    Vacant,
    Waiter(WaiterState),
}

#[derive(Debug)]
struct Slot {
    state: SlotState,
    /// How much the waiter asks for (permits, slots); 1 for most.
    need: usize,
    waker: Option<Waker>,
    prev: usize,
    next: usize,
}

/// The waiters of one primitive, in arrival order.
#[derive(Debug)]
pub(crate) struct WaitList {
    slots: Vec<Slot>,
    free: usize,
    head: usize,
    tail: usize,
    queued: usize,
}

impl WaitList {
    pub(crate) const fn new() -> Self {
        WaitList {
            slots: Vec::new(),
            free: NIL,
            head: NIL,
            tail: NIL,
            queued: 0,
        }
    }

    /// No waiter is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Waiters queued.
    pub(crate) fn len(&self) -> usize {
        self.queued
    }

    /// Queue a waiter asking for `need`, at the back (rule 1).
    pub(crate) fn push(&mut self, need: usize, waker: &Waker) -> WaiterKey {
        let slot = Slot {
            state: SlotState::Waiter(WaiterState::Queued),
            need,
            waker: Some(waker.clone()),
            prev: self.tail,
            next: NIL,
        };
        let index = if self.free != NIL {
            let index = self.free;
            self.free = self.slots[index].next;
            self.slots[index] = slot;
            index
        } else {
            self.slots.push(slot);
            self.slots.len() - 1
        };
        match self.tail {
            NIL => self.head = index,
            tail => self.slots[tail].next = index,
        }
        self.tail = index;
        self.queued += 1;
        WaiterKey(index)
    }

    /// What the front waiter asks for.
    pub(crate) fn front_need(&self) -> Option<usize> {
        (self.head != NIL).then(|| self.slots[self.head].need)
    }

    /// Grant the front waiter (rules 1, 2); its waker, to wake (rule 4).
    pub(crate) fn grant_front(&mut self) -> Option<Waker> {
        let head = self.head;
        (head != NIL).then(|| self.finish(head, WaiterState::Granted))
    }

    /// Grant every queued waiter, pushing their wakers to `wakers`.
    pub(crate) fn grant_all(&mut self, wakers: &mut Vec<Waker>) {
        while let Some(waker) = self.grant_front() {
            wakers.push(waker);
        }
    }

    /// Release every queued waiter without a grant (the primitive is closed, or a broadcast woke everyone), pushing their
    /// wakers to `wakers`.
    pub(crate) fn release_all(&mut self, wakers: &mut Vec<Waker>) {
        while self.head != NIL {
            wakers.push(self.finish(self.head, WaiterState::Released));
        }
    }

    /// Unlink `index` from the queue into `state`; its waker.
    fn finish(&mut self, index: usize, state: WaiterState) -> Waker {
        self.unlink(index);
        let slot = &mut self.slots[index];
        slot.state = SlotState::Waiter(state);
        slot.waker
            .take()
            .expect("a queued waiter always has a waker")
    }

    fn unlink(&mut self, index: usize) {
        let (prev, next) = (self.slots[index].prev, self.slots[index].next);
        match prev {
            NIL => self.head = next,
            prev => self.slots[prev].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => self.slots[next].prev = prev,
        }
        self.queued -= 1;
    }

    /// The state of the waiter `key`.
    pub(crate) fn state(&self, key: WaiterKey) -> WaiterState {
        match self.slots[key.0].state {
            SlotState::Waiter(state) => state,
            SlotState::Vacant => unreachable!("a waiter key outlived its slot"),
        }
    }

    /// A queued waiter was polled again: keep the waker that will wake it.
    /// Returns the waker it replaces, to drop after the borrow (rule 4).
    pub(crate) fn update_waker(&mut self, key: WaiterKey, waker: &Waker) -> Option<Waker> {
        let slot = &mut self.slots[key.0];
        match &slot.waker {
            Some(old) if old.will_wake(waker) => None,
            _ => slot.waker.replace(waker.clone()),
        }
    }

    /// Free the slot of `key` (rule 3): the waiter's future is done with
    /// it. Returns the state it was in (a GRANTED one's grant is the
    /// caller's to use or pass on) and its waker, if still stored, to drop
    /// after the borrow (rule 4).
    pub(crate) fn remove(&mut self, key: WaiterKey) -> (WaiterState, Option<Waker>) {
        let state = self.state(key);
        if state == WaiterState::Queued {
            self.unlink(key.0);
        }
        let slot = &mut self.slots[key.0];
        slot.state = SlotState::Vacant;
        let waker = slot.waker.take();
        slot.next = self.free;
        self.free = key.0;
        (state, waker)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Nothing;

    impl Wake for Nothing {
        fn wake(self: crate::sync::Arc<Self>) {}
    }

    fn waker() -> Waker {
        Waker::from(crate::sync::Arc::new(Nothing))
    }

    #[test]
    fn grants_in_fifo_order_and_skips_removed_waiters() {
        let mut list = WaitList::new();
        let w = waker();
        let keys: Vec<_> = (0..4).map(|need| list.push(need, &w)).collect();
        assert_eq!(list.len(), 4);
        // The second leaves from the middle of the queue.
        assert_eq!(list.remove(keys[1]).0, WaiterState::Queued);
        assert_eq!(list.front_need(), Some(0));
        assert!(list.grant_front().is_some());
        assert_eq!(list.state(keys[0]), WaiterState::Granted);
        assert_eq!(list.front_need(), Some(2), "the removed one is skipped");
        let mut wakers = Vec::new();
        list.release_all(&mut wakers);
        assert_eq!(wakers.len(), 2);
        assert!(list.is_empty());
        assert_eq!(list.state(keys[2]), WaiterState::Released);
        assert_eq!(list.state(keys[3]), WaiterState::Released);
        // Only the futures free their slots, and the slots are reused.
        for key in [keys[0], keys[2], keys[3]] {
            list.remove(key);
        }
        let again: Vec<_> = (0..4).map(|need| list.push(need, &w)).collect();
        assert_eq!(list.slots.len(), 4, "freed slots were reused");
        assert_eq!(list.front_need(), Some(0));
        for key in again {
            assert_eq!(list.remove(key).0, WaiterState::Queued);
        }
        assert!(list.is_empty());
        assert_eq!(list.grant_front().map(|_| ()), None);
    }
}
