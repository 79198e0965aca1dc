//! Results written and read in place: [`SharedBytes`].
//!
//! A byte buffer is the one result worth never copying: a worker that
//! returns 32 MiB would otherwise build them in its own heap, copy them
//! into the slot, and the parent would copy them out again. Here a task
//! makes its buffer with [`SharedBytes::from_fn`], which, on a worker's
//! task thread, **carves it out of the task's own result slot** in shared
//! memory; the result's encoding then refers to the buffer by offset, and
//! the parent's decoded `SharedBytes` is a view of the same bytes. Zero
//! copies end to end, and the slot's pages stay mapped between tasks
//! (`keep_resident`), so a steady stream of big results does not fault.
//!
//! # A slot's data area when the result is ready
//!
//! ```text
//!  0          carved buffers (64-byte aligned, bump-allocated upward)   head          head + len     capacity
//!  ├─ buffer 1 ─┤pad├─ buffer 2 ─┤pad├─ ... ─┼─ encoding of R ─────────┼─ unused ─────────┤
//!                                            │ a carved SharedBytes encodes as
//!                                            │ (len | IN_PLACE, offset), never its bytes
//! ```
//!
//! The slot records `head` (`result_offset`) and `len` (`result_len`).
//! Without carving `head` is 0 and the layout is the plain one.
//!
//! # Rules
//!
//! 1. **Only while a task runs.** Carving happens only on a worker's task
//!    thread, inside `Area::run`; the area
//!    is published to [`SharedBytes::from_fn`] through a thread-local that
//!    the run's guard clears, also on unwind. Anywhere else `from_fn`
//!    allocates a `Vec`.
//! 2. **Nothing live is overwritten.** The argument at the front of the
//!    area is decoded (copied out) before the area is made, so carving may
//!    start at offset 0. Carved buffers never overlap: a bump pointer hands
//!    out `[next, next + len)` and moves past it, 64-byte aligned.
//! 3. **The head is disjoint from every buffer.** The result is encoded
//!    into `[head, capacity)` with `head` = the bump pointer after the task
//!    returned; a `SharedBytes` carved from this area is written as its
//!    offset, so the encoder never reads a carved buffer while it holds the
//!    head mutably.
//! 4. **One root pointer.** The area keeps the raw pointer of the slot's
//!    data taken once, after the argument was decoded; carved buffers and
//!    the head slice are all derived from it and none reborrows the whole
//!    area, so writing the head does not invalidate a carved buffer
//!    (checked by Miri's Stacked and Tree Borrows in the unit tests).
//! 5. **No view outlives its task.** Each carved buffer holds a clone of
//!    the area's view counter. After the result is encoded and dropped the
//!    count must be back to one: a carved `SharedBytes` kept past the task
//!    (a `static`, another thread) would read bytes the parent now owns and
//!    the next task overwrites, so the worker reports it on stderr and
//!    aborts at once, writing nothing more: the task's outcome is a crash
//!    (`TaskError::is_crash`) and the pool replaces the worker.
//! 6. **The parent checks every reference.** A reference decodes only if
//!    `offset + len <= head` (it lies among the carved buffers); anything
//!    else is a [`DecodeError`], never a read outside the slot.

use std::cell::Cell;
use std::fmt;
use std::ops::Deref;

use super::codec::{Decode, DecodeError, Encode, KeepAlive, Reader, Writer};
use crate::sync::Arc;

/// Carved buffers start at multiples of this (a cache line: no false
/// sharing between buffers, and aligned for vector loads).
const CARVE_ALIGN: usize = 64;

/// Set in a `SharedBytes` length word when a (u64) offset follows instead
/// of the bytes (rule 3). An inline length never has it: `read_len` refuses
/// lengths larger than what is left.
const IN_PLACE: u64 = 1 << 63;

/// Where an encoded result lies in its slot's data area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Encoded {
    /// Start of the encoding (after the carved buffers).
    pub(crate) head: usize,
    /// Bytes of encoding (or asked for, when it did not fit).
    pub(crate) len: usize,
}

impl Encoded {
    /// The bytes of the area the result needs (`head + len`).
    pub(crate) fn end(&self) -> usize {
        self.head.saturating_add(self.len)
    }
}

/// A task's result slot data area while the task runs (worker side).
pub(crate) struct Area {
    /// The root pointer (rule 4).
    base: *mut u8,
    capacity: usize,
    /// The bump pointer: bytes carved so far, rounded up (rule 2).
    next: Cell<usize>,
    /// One clone per live carved buffer (rule 5).
    views: Arc<()>,
}

crate::sync::const_thread_local! {
    /// The area `from_fn` carves from (rule 1): the `Area` of the task
    /// running on this thread (on `Area::run`'s caller's stack), or null.
    static CURRENT: Cell<*const Area> = Cell::new(std::ptr::null());
}

impl Area {
    /// Take over `data` (rule 4: `data` must not be used again while the
    /// area or anything carved from it lives; the borrow checker holds the
    /// caller to that for the area's lifetime).
    pub(crate) fn new(data: &mut [u8]) -> Area {
        Area {
            base: data.as_mut_ptr(),
            capacity: data.len(),
            next: Cell::new(0),
            views: Arc::new(()),
        }
    }

    /// Run `f` (the user's task) with this area open for carving.
    pub(crate) fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Close(*const Area);
        impl Drop for Close {
            fn drop(&mut self) {
                CURRENT.with(|current| current.set(self.0));
            }
        }
        let previous = CURRENT.with(|current| current.replace(self));
        let _close = Close(previous);
        f()
    }

    /// Carve `len` zeroed bytes, or `None` if they do not fit (rule 2).
    fn carve(&self, len: usize) -> Option<(*mut u8, Arc<()>)> {
        let start = self.next.get();
        let end = start.checked_add(len).filter(|&end| end <= self.capacity)?;
        let next = end
            .checked_next_multiple_of(CARVE_ALIGN)
            .map_or(self.capacity, |n| n.min(self.capacity));
        self.next.set(next);
        // SAFETY: `start + len <= capacity`, so the range lies in the area
        // the root pointer covers; no earlier carve overlaps it (rule 2) and
        // the head is not written before the task returns (rule 3).
        let ptr = unsafe { self.base.add(start) };
        // SAFETY: as above, `len` bytes from `ptr` are ours to write.
        unsafe { std::ptr::write_bytes(ptr, 0, len) };
        Some((ptr, self.views.clone()))
    }

    /// Encode `value` after the carved buffers (rule 3).
    pub(crate) fn encode<T: Encode + ?Sized>(&self, value: &T) -> Encoded {
        let head = self.next.get();
        // SAFETY: `head <= capacity`, and `[head, capacity)` overlaps no
        // carved buffer (rule 2); it is derived from the root pointer without
        // touching the carved bytes (rule 4).
        let buf =
            unsafe { std::slice::from_raw_parts_mut(self.base.add(head), self.capacity - head) };
        let carved = self.base as usize..self.base as usize + head;
        let mut w = Writer::with_carved(buf, carved);
        value.encode(&mut w);
        Encoded { head, len: w.len() }
    }
}

impl Drop for Area {
    /// Rule 5: every carved view must be gone by now (also when the task
    /// panicked: the worker is about to write the message into the area).
    fn drop(&mut self) {
        if Arc::strong_count(&self.views) != 1 {
            crate::sys::process::abort_with_message(
                b"triad: a SharedBytes made in place outlived its task; the worker stops\n",
            );
        }
    }
}

/// A byte buffer that, as a task's result, is written and read in place in
/// shared memory: decoding it in the parent copies nothing, and the result
/// slot stays reserved until the last `SharedBytes` viewing it is dropped.
///
/// Make it with [`from_fn`](Self::from_fn) in the task to write the bytes
/// straight into the result slot (no copy in the worker either); a
/// `SharedBytes` made `From` a `Vec` is copied into the slot once.
///
/// As an argument, or when decoded outside a pool, it owns a `Vec<u8>`;
/// so it does in the results of `ProcessPool::map` and `map_chunked`, which
/// collect every result and would otherwise hold every slot.
///
/// # The bound: at most `slots() - 1` views while submitting
///
/// A pool has `workers × slots_per_worker` slots, and a live view holds
/// one. A submit that finds no free slot waits for a task in flight to
/// finish (its result can be copied out), but while **every** slot is
/// held by a view nothing can free one except dropping a view, which the
/// submitting thread may be the one to do. So such a submit does not wait:
/// its handle fails at once with `TaskError::is_all_slots_held`. Drop
/// views (or turn them into `Vec`s with [`into_vec`](Self::into_vec))
/// before the pool's worth is alive, or give the pool more slots.
///
/// ```
/// use triad::processes::SharedBytes;
/// let b = SharedBytes::from(vec![1u8, 2, 3]);
/// assert_eq!(&*b, &[1, 2, 3]);
/// ```
pub struct SharedBytes {
    repr: Repr,
}

enum Repr {
    Owned(Vec<u8>),
    /// `len` bytes at `ptr`, inside the data area of the slot `lease`
    /// reserves (it is COLLECTED: nobody writes it, slot rule 1), or, in
    /// the unit tests Miri runs, inside a region on heap pages.
    Viewed {
        ptr: *const u8,
        len: usize,
        _lease: KeepAlive,
    },
    /// `len` bytes at `ptr`, carved from the running task's area (worker
    /// side, rules 1-5); `views` is the area's counter.
    Carved {
        ptr: *const u8,
        len: usize,
        _views: Arc<()>,
    },
}

// SAFETY: the `Viewed` bytes are immutable while the lease lives (slot rule
// 1: a COLLECTED slot is written by nobody) and the lease keeps the mapping
// alive; `Lease` itself is Send + Sync. The `Carved` bytes were written
// before the value existed and are immutable after; rule 5 ends the process
// before the area is written again while one lives. So the view is like an
// `Arc<[u8]>`.
unsafe impl Send for SharedBytes {}
// SAFETY: as for Send: shared access only reads immutable bytes.
unsafe impl Sync for SharedBytes {}

impl SharedBytes {
    /// `len` bytes, zeroed, then filled by `fill`.
    ///
    /// Called by a task running in a process pool's worker, the buffer is
    /// carved out of the task's own result slot in shared memory, so
    /// returning it (alone or inside the result) copies nothing: the parent
    /// reads the same bytes in place. Anywhere else, or when it does not fit
    /// in what is left of the slot's capacity, it is an ordinary `Vec`.
    ///
    /// A buffer carved in a worker must not outlive its task (kept in a
    /// `static`, or sent to a thread that keeps it): the worker would then
    /// abort and the task fail as a crash, since the slot's bytes belong to
    /// the parent once the task is done.
    ///
    /// ```
    /// use triad::processes::{ProcessPool, SharedBytes};
    ///
    /// fn squares(n: usize) -> SharedBytes {
    ///     SharedBytes::from_fn(n, |buf| {
    ///         for (i, b) in buf.iter_mut().enumerate() {
    ///             *b = (i * i) as u8;
    ///         }
    ///     })
    /// }
    ///
    /// let pool = ProcessPool::builder().workers(1).build().unwrap();
    /// let bytes = pool.submit(squares, 1 << 20).wait().unwrap();
    /// assert!(bytes.is_in_place());
    /// assert_eq!(bytes[12], 144);
    /// assert_eq!(squares(4).as_ref(), &[0, 1, 4, 9]); // here: a plain Vec
    /// ```
    pub fn from_fn(len: usize, fill: impl FnOnce(&mut [u8])) -> SharedBytes {
        let area = CURRENT.with(Cell::get);
        // SAFETY: a non-null pointer is the area of the task running on this
        // thread, alive until `Area::run`'s guard resets it (rule 1).
        if let Some((ptr, views)) = unsafe { area.as_ref() }.and_then(|area| area.carve(len)) {
            // SAFETY: `carve` handed out `len` zeroed bytes at `ptr` that
            // nothing else reads or writes until this value exists (rule 2).
            fill(unsafe { std::slice::from_raw_parts_mut(ptr, len) });
            return SharedBytes {
                repr: Repr::Carved {
                    ptr,
                    len,
                    _views: views,
                },
            };
        }
        let mut v = vec![0; len];
        fill(&mut v);
        SharedBytes::from(v)
    }

    /// Whether the bytes live in shared memory (a view of a result slot, or
    /// carved from one in a worker), not in this process's heap.
    ///
    /// ```
    /// use triad::processes::{ProcessPool, SharedBytes};
    ///
    /// fn fill(n: usize) -> SharedBytes {
    ///     SharedBytes::from_fn(n, |buf| buf.fill(7)) // written straight into the slot
    /// }
    /// let pool = ProcessPool::builder().workers(1).build().unwrap();
    /// let result = pool.submit(fill, 4096).wait().unwrap();
    /// assert!(result.is_in_place()); // a view of the result slot, not a copy
    /// assert!(!SharedBytes::from(vec![7; 4096]).is_in_place());
    /// ```
    pub fn is_in_place(&self) -> bool {
        !matches!(self.repr, Repr::Owned(_))
    }

    /// Copy the bytes into a `Vec` (and release the slot when this was the
    /// last view).
    ///
    /// ```
    /// use triad::processes::SharedBytes;
    /// assert_eq!(SharedBytes::from(&b"ab"[..]).into_vec(), b"ab".to_vec());
    /// ```
    pub fn into_vec(self) -> Vec<u8> {
        match self.repr {
            Repr::Owned(v) => v,
            _ => self.to_vec(),
        }
    }
}

impl From<Vec<u8>> for SharedBytes {
    fn from(v: Vec<u8>) -> Self {
        SharedBytes {
            repr: Repr::Owned(v),
        }
    }
}

impl From<&[u8]> for SharedBytes {
    fn from(v: &[u8]) -> Self {
        SharedBytes::from(v.to_vec())
    }
}

impl Deref for SharedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.repr {
            Repr::Owned(v) => v,
            // SAFETY: `ptr..ptr+len` lies in the mapping the lease keeps
            // alive and nobody writes it while the lease lives (see `Repr`).
            Repr::Viewed { ptr, len, .. } => unsafe { std::slice::from_raw_parts(*ptr, *len) },
            // SAFETY: carved bytes lie in the running task's area, derived
            // from its root pointer (rule 4), written only before this value
            // existed, and alive while the task runs (rule 5).
            Repr::Carved { ptr, len, .. } => unsafe { std::slice::from_raw_parts(*ptr, *len) },
        }
    }
}

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBytes")
            .field("len", &self.len())
            .field("in_place", &self.is_in_place())
            .finish()
    }
}

impl Encode for SharedBytes {
    fn encode(&self, w: &mut Writer<'_>) {
        if let Repr::Carved { ptr, len, .. } = self.repr {
            // Rule 3: bytes carved from the area this writer encodes into
            // go as a reference (the address is compared, never read).
            if let Some(offset) = w.carved_offset(ptr, len) {
                (len as u64 | IN_PLACE).encode(w);
                (offset as u64).encode(w);
                return;
            }
        }
        self.len().encode(w);
        w.write_bytes(self);
    }
}

impl Decode for SharedBytes {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let word = r.read::<u64>()?;
        let bytes = if word & IN_PLACE != 0 {
            let len = usize::try_from(word & !IN_PLACE).map_err(|_| DecodeError::eof())?;
            let offset = usize::try_from(r.read::<u64>()?).map_err(|_| DecodeError::eof())?;
            // Rule 6.
            r.carved(offset, len)?
        } else {
            let len = usize::try_from(word).map_err(|_| DecodeError::eof())?;
            r.read_bytes(len)?
        };
        Ok(match r.lease() {
            Some(lease) => SharedBytes {
                repr: Repr::Viewed {
                    ptr: bytes.as_ptr(),
                    len: bytes.len(),
                    _lease: lease.clone(),
                },
            },
            None => SharedBytes::from(bytes.to_vec()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processes::codec::{decode_from_slice, decode_result, encode_to_vec};

    #[test]
    fn carved_buffers_are_encoded_as_references_and_decoded_back() {
        let mut slot = vec![0xffu8; 4096];
        let area = Area::new(&mut slot);
        let (result, copied) = area.run(|| {
            let a = SharedBytes::from_fn(100, |b| {
                assert!(b.iter().all(|&x| x == 0), "carved bytes start zeroed");
                b.fill(1);
            });
            let b = SharedBytes::from_fn(3, |b| b.copy_from_slice(&[4, 5, 6]));
            // Encoded anywhere but the task's result, a carved buffer is
            // copied inline.
            let copied = encode_to_vec(&b);
            ((a, 7u8, b), copied)
        });
        assert!(result.0.is_in_place() && result.2.is_in_place());
        let encoded = area.encode(&result);
        // 100 bytes, padded to 128; 3 bytes, padded to 192.
        assert_eq!(encoded.head, 192);
        assert_eq!(encoded.len, 16 + 1 + 16);
        drop(result);
        drop(area);
        let (a, tag, b): (SharedBytes, u8, SharedBytes) =
            decode_result(&slot[..encoded.end()], encoded.head, None).unwrap();
        assert_eq!((&*a, tag, &*b), (&[1u8; 100][..], 7, &[4u8, 5, 6][..]));
        assert_eq!(
            &*decode_from_slice::<SharedBytes>(&copied).unwrap(),
            &[4, 5, 6]
        );
    }

    #[test]
    fn outside_a_task_or_past_the_capacity_it_is_a_vec() {
        assert!(!SharedBytes::from_fn(8, |b| b.fill(1)).is_in_place());
        let mut slot = vec![0u8; 256];
        let area = Area::new(&mut slot);
        let (fits, too_big) = area.run(|| {
            (
                SharedBytes::from_fn(200, |b| b.fill(2)),
                SharedBytes::from_fn(100, |b| b.fill(3)),
            )
        });
        assert!(fits.is_in_place());
        assert!(!too_big.is_in_place());
        assert_eq!(&*too_big, &[3u8; 100][..]);
    }

    #[test]
    fn a_reference_outside_the_carved_bytes_is_refused() {
        // Rule 6: a reference to 10 bytes at offset 60, with 64 carved bytes.
        let mut area = vec![0u8; 64];
        area.extend_from_slice(&(10u64 | IN_PLACE).to_le_bytes());
        area.extend_from_slice(&60u64.to_le_bytes());
        let error = decode_result::<SharedBytes>(&area, 64, None).unwrap_err();
        assert!(
            error.to_string().contains("outside the 64 carved bytes"),
            "{error}"
        );
        // The same at offset 54 lies inside and decodes.
        area[72..80].copy_from_slice(&54u64.to_le_bytes());
        assert_eq!(
            decode_result::<SharedBytes>(&area, 64, None).unwrap().len(),
            10
        );
    }
}
