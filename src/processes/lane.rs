//! The `map` lane: slots kept by one `map` call from its start to its end,
//! so that a task costs no lock, no allocation and no handle.
//!
//! A task submitted on its own ([`ProcessPool::submit`](super::ProcessPool::submit))
//! takes a slot under the registry lock, gets a cell and a handle (two
//! allocations), and gives the slot back under the lock when its result
//! is read. `map` and `map_chunked` know more: their results are read by
//! the same thread, in order, as copies, by nobody else. So a lane takes
//! slots off the free list once, and then only reuses them:
//!
//! ```text
//!            take (registry lock, once per batch at most)
//!  free list ───────────────────────────────► idle ──encode──► encoded
//!      ▲                                       ▲                  │ publish
//!      │ end of the lane                       │ release          │ (registry lock,
//!      │ (rule L6)                             │                  ▼  once per batch)
//!      └──────────────────────────────── collected ◄── wait ── in flight
//! ```
//!
//! The slot states are `slot.rs`'s; the lane only decides who may make
//! the parent's transitions (FREE → SUBMITTED, finished → COLLECTED →
//! FREE) on its slots.
//!
//! Rules (L1–L8):
//!
//! * **L1. The lane's slots are its own.** A slot the lane took off the
//!   free list is in none of the registry's tables (no cell, no waker, no
//!   completion fd) until the lane ends: no other thread submits to it,
//!   collects it, evicts it or frees it (but an idle slot the lane lends
//!   may be taken from it, and is then the taker's: rule L8). The lane
//!   alone makes the parent's transitions on it, without the registry
//!   lock (as a submit owns a slot between taking and publishing it, pool
//!   rule P1).
//! * **L2. Encoding runs without any lock** (user code, pool rule P1), into
//!   an idle slot that stays counted as the lane's until it is published,
//!   so that a panic in `Encode` or in the items' iterator loses no slot.
//! * **L3. Publishing is under the registry lock, once per batch.** The
//!   lane publishes its encoded slots only after it saw, under that lock,
//!   that the pool is neither closed nor broken: an immediate stop (which
//!   sets `closed` under the lock and then withdraws every SUBMITTED slot)
//!   and a broken pool (whose supervisor abandons every slot) therefore
//!   either see the lane's tasks or are seen by it; no task is published
//!   that nobody will run or end. Tickets come from the registry as for
//!   any task. One ring of the work doorbell announces the batch (pool
//!   rule P8), and a batch starts once half the lane's slots are back.
//! * **L4. Results in order, each exactly once.** The lane waits for its
//!   oldest task (the slot's futex, with the task's ticket, slot rules 5
//!   and 9), collects it (slot rule 2's Acquire), decodes a copy, and
//!   releases the slot (FREE) straight back to itself. A collected slot
//!   is marked as such before the result is decoded, so that a panicking
//!   `Decode` still releases it (rule L6).
//! * **L5. The first error stops the lane.** An argument too large for a
//!   slot, or a closed or broken pool, takes the place of its item in the
//!   order; no item after it is taken from the iterator. The caller
//!   returns that error once the results before it are read.
//! * **L6. The end gives everything back.** When the lane is dropped (at
//!   its end, at an error, or in a panic) it withdraws its tasks no worker
//!   has taken yet, last first (slot rule 3's CAS loses to a claim), then,
//!   under the registry lock, returns idle, encoded and collected slots to
//!   the free list, collects and frees finished ones, and gives each task
//!   still running a cell without a handle, so that its slot is reclaimed
//!   when it finishes (pool rule P2), as a dropped handle's is.
//! * **L7. A lane shares.** A thread that finds no free slot counts itself
//!   as a waiter (`lending.rs` rule 4) until it has one. A lane that sees a waiter when it
//!   starts a batch gives its idle slots back (ringing `done`, pool rule
//!   P5) and takes no new slot unless it has none: a long `map` slows down
//!   to what its tasks in flight allow, instead of starving every `submit`
//!   of other threads until it ends. A lane that gave its last slot (none
//!   of its tasks in flight) sleeps on `done` until the next ring (a slot
//!   freed or a task ended, such as the waiter's) or at most [`MAX_NAP`]
//!   before it looks for a slot again, so that the waiter takes it first:
//!   on a pool of one slot, or whenever the lane runs one task at a time,
//!   keeping that slot would starve the waiter for the whole `map`. Once
//!   nobody waits it grows again.
//! * **L8. A lane lends its idle slots while it runs user code.** The
//!   items' iterator and an `Encode` run on the lane's thread, and may
//!   submit to the same pool (a `map` over an `imap` of it), or wait for
//!   a thread that does (a `map` fed by a channel from an `imap` on
//!   another thread): such a submit could wait for ever for a slot that
//!   only the lane, which waits for it, could give back. So while the
//!   lane runs user code its idle slots are lent: marked in the pool's
//!   `lent` bitmap (`lending.rs`, which rings `done` for a thread asleep
//!   waiting for a slot, its rule 4), and a thread that finds no free slot
//!   takes every lent slot before it evicts or waits (under the registry
//!   lock). The lane takes a slot back, to encode an item into
//!   it or at the end of the batch, by the same atomic step that clears
//!   the mark, so each lent slot is either the lane's or the taker's. The
//!   slot an item is encoded into is taken back before `Encode` runs. An
//!   item that finds every lent slot gone waits for one of the lane's
//!   tasks to come back (it is kept for the next batch); with none in
//!   flight the lane waits for a free slot as any submit does. No lock and
//!   no allocation: one atomic step per item, and one per slot and batch
//!   to lend.
//!
//! In a forked child of the lane's process (the items' iterator, an
//! `Encode` or a `Decode` may fork), the lane touches nothing shared from
//! the moment it sees the fork (pool rule P9): it ends with
//! [`TaskError::is_forked`], neither taking, publishing, waiting,
//! collecting, releasing nor giving slots back. It looks after every call
//! of user code that comes before any of these.

use std::collections::VecDeque;
use std::time::Duration;

use super::codec::{decode_result, Decode, Encode, Entry, Writer};
use super::error::TaskError;
use super::pool::{check_submit, Shared, MAX_NAP};
use super::slot::outcome;

/// One of the lane's slots past its encoding, in the items' order.
enum Flight {
    /// Published with `ticket` (rule L3).
    Task { index: usize, ticket: u64 },
    /// Collected, its result being decoded (rule L4).
    Collected { index: usize },
    /// The error that takes its item's place (rule L5).
    Failed(TaskError),
}

/// A `map` call's slots and tasks. See the module docs.
pub(crate) struct Lane<'s> {
    shared: &'s Shared,
    entry: Entry,
    task: usize,
    timeout: Option<Duration>,
    /// The most slots the lane keeps: the pool's.
    max: usize,
    /// FREE slots of the lane (rule L1).
    idle: Vec<usize>,
    /// Slots holding an encoded argument, not yet published, and its
    /// length (rule L2).
    encoded: Vec<(usize, u64)>,
    /// In the items' order.
    in_flight: VecDeque<Flight>,
    /// Published tasks among `in_flight`.
    tasks: usize,
    /// A `Failed` was queued: no more items (rule L5).
    stopped: bool,
}

impl<'s> Lane<'s> {
    /// A lane for the task `task` run through `entry` (checked as a
    /// submit checks them). No slot is taken yet.
    pub(crate) fn new(
        shared: &'s Shared,
        entry: Entry,
        task: usize,
        timeout: Option<Duration>,
    ) -> Result<Self, TaskError> {
        check_submit(shared, entry, task, timeout)?;
        // As Python's `Pool.map` refuses a closed pool even with no items.
        if let Some(error) = crate::sync::lock(&shared.registry).refusal() {
            return Err(error);
        }
        Ok(Lane {
            shared,
            entry,
            task,
            timeout,
            max: shared.region.slots(),
            idle: Vec::new(),
            encoded: Vec::new(),
            in_flight: VecDeque::new(),
            tasks: 0,
            stopped: false,
        })
    }

    /// Run every item of `items` (fused by the caller) through the lane,
    /// handing each outcome in the items' order to `each`: the first error,
    /// from the lane or from `each`, ends the call (rule L5).
    pub(crate) fn run<T: Encode, R: Decode>(
        mut self,
        items: &mut impl Iterator<Item = T>,
        mut each: impl FnMut(R),
    ) -> Result<(), TaskError> {
        // An item that found no slot (rule L8).
        let mut pending = None;
        loop {
            if self.wants_items() {
                self.refill(items, &mut pending);
            }
            match self.next::<R>() {
                Some(outcome) => each(outcome?),
                None => return Ok(()),
            }
        }
    }

    /// Whether it is time for a batch: half the slots back (rule L3).
    fn wants_items(&self) -> bool {
        !self.stopped && self.tasks <= self.max / 2
    }

    /// Take slots if the lane may grow, encode items into every idle slot,
    /// publish them and ring once (rules L2, L3). Waits for a slot only
    /// when the lane has none and the items may not be over. `pending` is
    /// an item taken from `items` that found no slot (rule L8): it comes
    /// first, at this call or the next.
    fn refill<T: Encode>(&mut self, items: &mut impl Iterator<Item = T>, pending: &mut Option<T>) {
        if self.stopped {
            return;
        }
        if self.shared.forked() {
            return self.stop(TaskError::forked());
        }
        // Rule L7: others wait for a slot; share.
        let contended = self.shared.lent.anyone_waits();
        if contended && !self.idle.is_empty() {
            self.shared.give_back(&mut self.idle);
            if self.tasks == 0 {
                // We gave our last slot: let a waiter take it before we
                // look for one again, until the next slot comes free (its
                // task ends) or at most a nap.
                let done = &self.shared.region.header().done;
                done.sleep(done.seen(), Some(MAX_NAP), None);
            }
        }
        let owned = self.idle.len() + self.tasks;
        // A lane with no slot takes its first item before it waits for
        // one: an empty iterator makes it wait for nothing.
        if owned == 0 && pending.is_none() {
            *pending = items.next();
            if pending.is_none() {
                return;
            }
            // Pool rule P9: the items' iterator (user code) forked, and
            // this is the child: no slot of the parent's is to be taken
            // (nor evicted, nor waited for).
            if self.shared.forked() {
                return self.stop(TaskError::forked());
            }
        }
        let left = items
            .size_hint()
            .1
            .map_or(usize::MAX, |n| n.saturating_add(pending.is_some() as usize));
        // A contended lane takes a slot only when it has none (rule L7).
        let room = if contended {
            usize::from(owned == 0)
        } else {
            self.max - owned
        };
        let wanted = room.min(left);
        if wanted > 0 {
            if let Err(error) = self
                .shared
                .take_free_slots(wanted, owned == 0, &mut self.idle)
            {
                if owned == 0 {
                    self.stop(error);
                    return;
                }
                // The lane goes on with the slots it has; the publish
                // below sees a closed or broken pool itself.
            }
        }
        let capacity = self.shared.region.capacity() as u64;
        let mut failed = None;
        {
            // Rule L8: while user code runs, the idle slots are for any
            // thread that finds no free slot to take.
            let mut lent = Lent::new(self.shared, &mut self.idle);
            while lent.any() {
                let Some(item) = pending.take().or_else(|| items.next()) else {
                    break;
                };
                // Pool rule P9: the items' iterator (user code) forked, and
                // this is the child: the slots are the parent's.
                if self.shared.forked() {
                    failed = Some(TaskError::forked());
                    break;
                }
                let index = match lent.pop() {
                    Some(index) => index,
                    // Takers had every lent slot (rule L8). Nothing of
                    // ours in flight: wait for a slot as any submit does
                    // (we hold none).
                    None if self.tasks == 0 && self.encoded.is_empty() => {
                        let mut one = Vec::with_capacity(1);
                        match self.shared.take_free_slots(1, true, &mut one) {
                            Ok(()) => one[0],
                            Err(error) => {
                                failed = Some(error);
                                break;
                            }
                        }
                    }
                    // Else the item waits for one of ours to come back.
                    None => {
                        *pending = Some(item);
                        break;
                    }
                };
                // Counted as the lane's before user code runs (rule L2),
                // never lent: its length is set once encoded.
                self.encoded.push((index, 0));
                // SAFETY: the slot is FREE and the lane's alone (rules L1,
                // L8: its mark cleared by us, so no taker has it or can
                // take it): no other thread, worker or lease touches its
                // data area, and this is the only reference to it.
                let buf = unsafe { self.shared.region.data_mut(index) };
                let mut w = Writer::new(buf);
                // User code, without any lock (rule L2).
                item.encode(&mut w);
                if w.overflowed() {
                    self.encoded.pop();
                    lent.put(index);
                    failed = Some(TaskError::argument_too_large(w.len() as u64, capacity));
                    break;
                }
                if let Some(last) = self.encoded.last_mut() {
                    last.1 = w.len() as u64;
                }
            }
        }
        match failed {
            // Pool rule P9: nothing of the parent's is touched.
            Some(error) if error.is_forked() => self.stop(error),
            Some(error) => {
                self.publish();
                self.stop(error);
            }
            None => self.publish(),
        }
    }

    /// Publish the encoded slots under the registry lock, if the pool
    /// still takes tasks, and ring once (rule L3).
    fn publish(&mut self) {
        if self.encoded.is_empty() {
            return;
        }
        // Pool rule P9 (an `Encode` that forked): no lock of the parent's.
        if self.shared.forked() {
            self.encoded.clear();
            return self.stop(TaskError::forked());
        }
        let shared = self.shared;
        let mut reg = crate::sync::lock(&shared.registry);
        if let Some(error) = reg.refusal() {
            drop(reg);
            self.idle
                .extend(self.encoded.drain(..).map(|(index, _)| index));
            self.stop(error);
            return;
        }
        for (index, arg_len) in self.encoded.drain(..) {
            let ticket = shared.prepare_locked(
                &mut reg,
                index,
                self.entry,
                self.task,
                arg_len,
                self.timeout,
            );
            shared.region.slot(index).submit();
            crate::tracepoint::process_submit(index);
            self.in_flight.push_back(Flight::Task { index, ticket });
            self.tasks += 1;
        }
        drop(reg);
        shared.region.header().work.ring(true);
        if self.timeout.is_some() {
            shared.watch_timeout();
        }
    }

    /// Queue `error` in its item's place and take no more items (rule L5).
    fn stop(&mut self, error: TaskError) {
        self.in_flight.push_back(Flight::Failed(error));
        self.stopped = true;
    }

    /// The outcome of the oldest item, waiting for it (rule L4); `None`
    /// when nothing is in flight.
    fn next<R: Decode>(&mut self) -> Option<Result<R, TaskError>> {
        // Pool rule P9: the slots are the parent's (a `Decode` below may
        // have forked, and left a `Collected` in front).
        if !self.in_flight.is_empty() && self.shared.forked() {
            return Some(Err(TaskError::forked()));
        }
        let (index, ticket) = match self.in_flight.front()? {
            Flight::Task { index, ticket } => (*index, *ticket),
            Flight::Failed(_) => {
                let Some(Flight::Failed(error)) = self.in_flight.pop_front() else {
                    unreachable!("matched above");
                };
                return Some(Err(error));
            }
            Flight::Collected { .. } => unreachable!("released before the next call"),
        };
        let slot = self.shared.region.slot(index);
        let collected = loop {
            if let Some(collected) = slot.try_collect() {
                break collected;
            }
            slot.wait_task(Some(ticket), Some(MAX_NAP));
        };
        self.in_flight[0] = Flight::Collected { index };
        self.tasks -= 1;
        let outcome = self.shared.outcome(index, collected).and_then(|span| {
            // SAFETY: COLLECTED and the lane's (rules L1, L4): nobody
            // writes its data area until the lane releases it below;
            // `outcome` bounded the span by the capacity.
            let bytes = unsafe { self.shared.region.data(index, span.head + span.len) };
            decode_result::<R>(bytes, span.head, None)
                .map_err(|e| TaskError::bad_bytes(e.to_string()))
        });
        // Pool rule P9: `Decode` (user code) forked, and this is the
        // child: the slot is the parent's, which frees and reuses it.
        if self.shared.forked() {
            return Some(Err(TaskError::forked()));
        }
        self.shared.trim(index);
        slot.release();
        self.in_flight.pop_front();
        self.idle.push(index);
        Some(outcome)
    }
}

impl Drop for Lane<'_> {
    fn drop(&mut self) {
        // Pool rule P9.
        if self.shared.forked() {
            return;
        }
        let mut idle = std::mem::take(&mut self.idle);
        idle.extend(self.encoded.iter().map(|&(index, _)| index));
        let mut running = Vec::new();
        // Rule L6: withdraw, last first.
        for flight in self.in_flight.iter().rev() {
            match *flight {
                Flight::Task { index, ticket } => {
                    let _ = self.shared.region.slot(index).cancel(outcome::WITHDRAWN);
                    running.push((index, ticket));
                }
                Flight::Collected { index } => {
                    self.shared.region.slot(index).release();
                    idle.push(index);
                }
                Flight::Failed(_) => {}
            }
        }
        if !idle.is_empty() || !running.is_empty() {
            self.shared.end_lane(&idle, &running);
        }
    }
}

/// A lane's idle slots, lent while user code runs (rule L8, `lending.rs`):
/// marked in `Shared::lent` for any thread that finds no free slot, and
/// taken back when dropped (in a panic too, so that the lane's drop sees
/// whatever was not taken, rule L6); whoever clears a mark owns the slot.
/// While lent, `idle` lists the slots lent, some of which may be gone.
struct Lent<'l> {
    shared: &'l Shared,
    idle: &'l mut Vec<usize>,
}

impl<'l> Lent<'l> {
    fn new(shared: &'l Shared, idle: &'l mut Vec<usize>) -> Self {
        shared.lent.lend_all(idle, &shared.region.header().done);
        Lent { shared, idle }
    }

    /// Whether a slot may be left (one listed may be gone).
    fn any(&self) -> bool {
        !self.idle.is_empty()
    }

    /// Take a lent slot back for good, if one is left.
    fn pop(&mut self) -> Option<usize> {
        while let Some(index) = self.idle.pop() {
            if self.shared.lent.take_back(index) {
                return Some(index);
            }
        }
        None
    }

    /// Lend `index` again (it was not used).
    fn put(&mut self, index: usize) {
        let done = &self.shared.region.header().done;
        self.shared.lent.lend_all(&[index], done);
        self.idle.push(index);
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let shared = self.shared;
        self.idle.retain(|&index| shared.lent.take_back(index));
    }
}
