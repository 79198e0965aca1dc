//! Parallel operations on slices, split adaptively: [`par_for_each`],
//! [`par_map`], [`par_reduce`] (and [`par_map_reduce`]), [`par_chunks`],
//! [`par_chunks_mut`], [`par_sort_unstable`] (and [`par_sort_unstable_by`])
//! and [`par_sort_by_key`].
//!
//! ```
//! use triad::threads::{par_map, par_reduce, par_sort_unstable};
//! let v: Vec<u64> = (0..10_000).collect();
//! let squares = par_map(&v, |x| x * x);
//! assert_eq!(squares[3], 9);
//! assert_eq!(par_reduce(&v, || 0, |a, b| a + b), 49_995_000);
//! let mut w = vec![5, 3, 9, 1];
//! par_sort_unstable(&mut w);
//! assert_eq!(w, [1, 3, 5, 9]);
//! ```
//!
//! # API shape: free functions
//!
//! These are free functions taking a slice (`par_map(&v, f)`), not an
//! extension trait on `[T]` (`v.par_map(f)`): nothing to import besides the
//! function itself, no method names that shadow or look like rayon's
//! iterator adaptors (these are not iterators: each call does one whole
//! operation), and each one is a single item in the docs with its bounds in
//! plain sight. Like every entry point of `triad::threads`, they run in the
//! pool the caller is in (a worker's pool, or the one of
//! [`ThreadPool::install`](super::ThreadPool::install)); from outside any
//! pool, a slice big enough to split is processed in the global pool.
//!
//! # Adaptive splitting
//!
//! A slice is not cut into a fixed number of pieces: the work is split only
//! when it is big enough for a split to pay *and* another worker is there to
//! take the other half. The element operations (`for_each`, `map`, `reduce`,
//! `chunks`) follow these rules:
//!
//! 1. **Probe.** The caller's thread starts alone, on a prefix of 1 element,
//!    then on blocks sized to reach [`PROBE`] (4 µs) at the pace measured so
//!    far, but between 1 and 16 times the elements done (so a slice whose
//!    later elements are slower overshoots by a bounded factor), reading the
//!    clock after each block. A slice that is done before [`PROBE`] has
//!    elapsed never splits: it costs the sequential loop plus 3 or 4 clock
//!    reads (about 20 ns each), no atomic and no allocation beyond the
//!    result's. From outside a pool, it never even enters the pool.
//! 2. **Grain.** Once [`PROBE`] has elapsed, the time per element measured
//!    so far sets the *grain*: the number of elements that take about
//!    [`GRAIN`] (8 µs), at least 1. A piece of at most one grain is never
//!    split: below that, a hand-off to another worker costs more than it
//!    can save.
//! 3. **Split while someone is hungry.** The rest is processed one grain at
//!    a time; before each grain, if the piece left holds at least two grains
//!    and another worker of the pool is hungry (the pool's `hungry` count,
//!    one Relaxed load: `worker::current_worker_is_wanted`), the piece is
//!    halved and both halves go to [`join`](super::join), each of which
//!    applies rule 3 again with the same grain. Nobody hungry: no split, the
//!    loop goes on with the next grain, so a large slice on a busy pool costs
//!    one check per grain.
//! 4. **join decides what is published.** The first half runs on this
//!    worker; the second half is a private join frame that another worker
//!    sees only if `join` publishes it (worker rules 1 and 2: the outermost
//!    join publishes at once; a nested one publishes its oldest private frame
//!    while someone is hungry). A half nobody took runs inline at the cost of
//!    a function call, so over-splitting while a sleeping worker wakes up is
//!    cheap; and a worker that runs out of work later is served at the next
//!    split of a busy one, with the biggest pending half.
//! 5. **Order.** Halves are combined left to right: `par_map` writes each
//!    element's result at its own index, and `par_reduce` combines the
//!    results of the halves as `op(left, right)`, so an associative but
//!    non-commutative `op` gives the sequential answer.
//! 6. **Panics.** A panic of the closure reaches the caller (`join`
//!    re-raises it once both halves are done); `par_map`'s results written
//!    so far are dropped, never left half-initialised or leaked.
//!
//! The sorts split by partitioning instead (rules 7 to 9):
//!
//! 7. **Sort.** A piece that is one run, in order or in reverse order, is
//!    done (reversed if need be) after one pass; the pass stops at the first
//!    block of [`RUN_BLOCK`] elements out of order, so it costs nothing on
//!    data in no order. A piece of fewer than [`SORT_MIN`] elements is
//!    sorted by `sort_unstable_by` (std's sort) on this thread. A longer one
//!    is partitioned around the median of a sample (up to 255 elements, so
//!    the two sides of a big piece are close to equal and a thief gets half
//!    the work), and its two sides are sorted by `join`, each by rule 7
//!    again, whether or not a worker is hungry now: the halves stay private
//!    frames until one is (rule 4), the partition is the pass std's
//!    quicksort would make anyway, and a worker that runs out of work near
//!    the end still finds pieces to take instead of waiting for the other's
//!    last big `sort_unstable`. A partition that leaves one side with less
//!    than 1/8 of the piece (many equal elements, or an unlucky sample)
//!    stops the splitting: that piece is sorted by std, which is O(n log n)
//!    in every case.
//! 8. **Presorted pieces.** A piece whose first block is in order but which
//!    is not one run is taken for data in order but for a few elements
//!    (data in no order breaks in its first block). Its partition moves
//!    only the elements on the wrong side of the pivot (Hoare's scheme,
//!    whose branches such data makes predictable), so both sides keep the
//!    order they had and are presorted in turn; a short presorted piece is
//!    finished by moving its few elements out of place one by one, and left
//!    to std's sort if there are more than [`FEW_FIXES`]. Any other piece is
//!    partitioned branch-free (Lomuto's scheme), which is faster on data in
//!    no order and scrambles the order of its upper side. Whatever the data,
//!    rule 7's bounds hold: a skewed partition stops the splitting.
//! 9. **Repeats.** A partition whose lower side is short may have met
//!    many elements equal to the pivot (none is less than it when the
//!    pivot is the piece's smallest value). The upper side is then split
//!    again into the elements equal to the pivot, which are in their
//!    places, and those above it; if the equal ones are at least 1/8 of
//!    the piece, the lower side and the elements above are sorted by
//!    rule 7, else the piece is sorted by std as rule 7 says. Each such
//!    step settles at least 1/8 of its piece, so the bounds hold, and a
//!    piece of few distinct values costs about one pass per value.

use std::cmp::Ordering;
use std::marker::PhantomData;
use std::mem;
use std::ptr;
use std::time::{Duration, Instant};

use super::join;
use super::worker::current_worker_is_wanted;

/// Rule 1: sequential work after which a slice may split.
const PROBE: Duration = Duration::from_micros(4);
/// Rule 2: the work of one grain, the smallest piece ever handed off.
const GRAIN: Duration = Duration::from_micros(8);
/// Rule 7: the smallest piece a sort partitions rather than sorts.
const SORT_MIN: usize = 1 << 13;
/// Rule 7: the elements a sort's look for one run checks at a time.
const RUN_BLOCK: usize = 64;
/// Rule 7: the pairs out of order a presorted piece fixes one by one before
/// it leaves the rest to std's sort.
const FEW_FIXES: usize = 8;

// ---------------------------------------------------------------------------
// The driver: rules 1-5 over any splittable piece of work.
// ---------------------------------------------------------------------------

/// A piece of an element operation: splittable, runnable sequentially, with
/// results that combine left to right.
trait Piece: Sized + Send {
    /// What running a piece gives.
    type Out: Send;
    /// What combining two results needs (a reference to `op`, or nothing).
    type Combiner: Copy + Send;
    /// The number of elements (or chunks) of the piece.
    fn len(&self) -> usize;
    /// The first `mid` elements and the rest.
    fn split_at(self, mid: usize) -> (Self, Self);
    /// Run the piece sequentially on this thread.
    fn run(self) -> Self::Out;
    fn combiner(&self) -> Self::Combiner;
    /// Combine the results of two adjacent pieces, `left` first (rule 5).
    fn combine(c: Self::Combiner, left: Self::Out, right: Self::Out) -> Self::Out;
}

/// Rules 1 and 2, then rule 3 on the rest.
fn drive<P: Piece>(piece: P) -> P::Out {
    let len = piece.len();
    let c = piece.combiner();
    let start = Instant::now();
    let (head, mut rest) = piece.split_at(1.min(len));
    let mut acc = head.run();
    let elapsed = loop {
        if rest.len() == 0 {
            return acc;
        }
        let elapsed = start.elapsed();
        if elapsed >= PROBE {
            break elapsed;
        }
        // Rule 1: aim at PROBE at the pace so far, from 1x to 16x the
        // elements done.
        let done = len - rest.len();
        let left = (PROBE - elapsed).as_nanos();
        let aim = left * done as u128 / elapsed.as_nanos().max(1);
        let aim = usize::try_from(aim).unwrap_or(usize::MAX);
        let n = aim.clamp(done, done.saturating_mul(16)).min(rest.len());
        let (head, tail) = rest.split_at(n);
        acc = P::combine(c, acc, head.run());
        rest = tail;
    };
    let done = (len - rest.len()) as u128;
    let grain = (done * GRAIN.as_nanos() / elapsed.as_nanos().max(1)).max(1);
    let grain = usize::try_from(grain).unwrap_or(usize::MAX);
    P::combine(c, acc, split_loop(rest, grain))
}

/// Rule 3: one grain at a time, halving while another worker is hungry.
fn split_loop<P: Piece>(mut piece: P, grain: usize) -> P::Out {
    let c = piece.combiner();
    let mut acc: Option<P::Out> = None;
    let then = |acc: Option<P::Out>, out: P::Out| match acc {
        Some(left) => P::combine(c, left, out),
        None => out,
    };
    loop {
        let len = piece.len();
        if len <= grain {
            return then(acc, piece.run());
        }
        if len / 2 >= grain && current_worker_is_wanted() {
            let (lo, hi) = piece.split_at(len / 2);
            let (a, b) = join(|| split_loop(lo, grain), || split_loop(hi, grain));
            return then(acc, P::combine(c, a, b));
        }
        let (head, tail) = piece.split_at(grain);
        acc = Some(then(acc, head.run()));
        piece = tail;
    }
}

// ---------------------------------------------------------------------------
// for_each
// ---------------------------------------------------------------------------

struct ForEach<'a, T, F> {
    src: &'a [T],
    f: &'a F,
}

impl<T: Sync, F: Fn(&T) + Sync> Piece for ForEach<'_, T, F> {
    type Out = ();
    type Combiner = ();
    fn len(&self) -> usize {
        self.src.len()
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (a, b) = self.src.split_at(mid);
        (ForEach { src: a, f: self.f }, ForEach { src: b, f: self.f })
    }
    fn run(self) {
        self.src.iter().for_each(self.f);
    }
    fn combiner(&self) {}
    fn combine((): (), (): (), (): ()) {}
}

/// Call `f` on every element of `slice`, in parallel.
///
/// Like every operation of this family, it splits the slice adaptively: the
/// calling thread starts alone and measures the time per element; a slice
/// done within a few microseconds never splits (it costs the sequential
/// loop); a longer one is halved, down to pieces of about 8 µs of work, only
/// while another worker of the pool is idle, so the number of pieces follows
/// the number of free cores, not the length of the slice.
///
/// # Panics
///
/// A panic of `f` is re-raised here once the other pieces are done.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// let total = AtomicU64::new(0);
/// let v: Vec<u64> = (1..=100).collect();
/// triad::threads::par_for_each(&v, |x| {
///     total.fetch_add(*x, Ordering::Relaxed);
/// });
/// assert_eq!(total.into_inner(), 5050);
/// ```
pub fn par_for_each<T, F>(slice: &[T], f: F)
where
    T: Sync,
    F: Fn(&T) + Sync,
{
    drive(ForEach { src: slice, f: &f });
}

// ---------------------------------------------------------------------------
// map
// ---------------------------------------------------------------------------

/// The results a piece of `par_map` wrote: `len` initialised values from
/// `start`, dropped if they never make it into the final `Vec` (rule 6).
///
/// Every pointer of `par_map` (the pieces' `dst`, and `start` here) is
/// derived by offsets from the one raw pointer taken from the output `Vec`,
/// never from a reference to part of the buffer: so a `Written` that was
/// merged from several pieces may drop all of them (a pointer taken from one
/// piece's `&mut [_]` could reach that piece alone, as Miri's Stacked
/// Borrows says), and no reborrow of a piece invalidates another's pointer.
struct Written<'a, U> {
    start: *mut U,
    len: usize,
    marker: PhantomData<&'a mut [U]>,
}

// SAFETY: a `Written` stands for exclusive access to `len` values of type
// `U` (it is a `&mut [U]` in all but type), which may move to another thread
// when `U: Send`.
unsafe impl<U: Send> Send for Written<'_, U> {}

impl<U> Drop for Written<'_, U> {
    fn drop(&mut self) {
        // SAFETY: the `len` slots from `start` lie in the output buffer
        // (alive for 'a), were initialised by the pieces this `Written`
        // stands for, and nothing else will drop or read them: the buffer is
        // a `Vec` of length 0 until `par_map` forgets the final `Written`.
        unsafe { ptr::drop_in_place(ptr::slice_from_raw_parts_mut(self.start, self.len)) }
    }
}

impl<U> Written<'_, U> {
    /// The results of two adjacent pieces, `self` first.
    fn merge(mut self, right: Self) -> Self {
        // Rule 5: pieces are combined in order, so `right` starts where
        // `self` ends (wrapping_add: no claim that the pointer is in bounds).
        assert!(
            self.start.wrapping_add(self.len) == right.start,
            "par_map: pieces combined out of order"
        );
        self.len += right.len;
        mem::forget(right);
        self
    }
}

/// A piece of `par_map`: its inputs, and the uninitialised slots of the
/// output buffer its results go to (`src.len()` of them from `dst`).
struct Map<'a, T, U, F> {
    src: &'a [T],
    dst: *mut U,
    f: &'a F,
    marker: PhantomData<&'a mut [U]>,
}

// SAFETY: a `Map` owns its `src.len()` slots from `dst` exclusively (the
// pieces of one buffer never overlap: `split_at`), like a `&mut [U]`; it
// sends `&[T]` and `&F` to the thread that runs it, hence `T: Sync, F: Sync`.
unsafe impl<T: Sync, U: Send, F: Sync> Send for Map<'_, T, U, F> {}

impl<'a, T: Sync, U: Send, F: Fn(&T) -> U + Sync> Piece for Map<'a, T, U, F> {
    type Out = Written<'a, U>;
    type Combiner = ();
    fn len(&self) -> usize {
        self.src.len()
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (s1, s2) = self.src.split_at(mid);
        let (f, marker) = (self.f, PhantomData);
        // wrapping_add: the same address as `add`, in bounds (mid <= len),
        // without an unsafe block.
        let d2 = self.dst.wrapping_add(mid);
        (
            Map {
                src: s1,
                dst: self.dst,
                f,
                marker,
            },
            Map {
                src: s2,
                dst: d2,
                f,
                marker,
            },
        )
    }
    fn run(self) -> Written<'a, U> {
        let mut written = Written {
            start: self.dst,
            len: 0,
            marker: PhantomData,
        };
        for x in self.src {
            let value = (self.f)(x);
            // SAFETY: `written.len < src.len()`, so the slot is one of this
            // piece's own (see `Map`), in the buffer's capacity, and still
            // uninitialised (each slot is written once, in order). If `f`
            // panics, `written` drops the values before it.
            unsafe { self.dst.add(written.len).write(value) };
            written.len += 1;
        }
        written
    }
    fn combiner(&self) {}
    fn combine((): (), left: Written<'a, U>, right: Written<'a, U>) -> Written<'a, U> {
        left.merge(right)
    }
}

/// Map every element of `slice` through `f`, in parallel, into a new `Vec`
/// in the same order (split adaptively, as [`par_for_each`]).
///
/// # Panics
///
/// A panic of `f` is re-raised here once the other pieces are done; the
/// results already made are dropped.
///
/// ```
/// let words = ["a", "bb", "ccc"];
/// let lengths = triad::threads::par_map(&words, |w| w.len());
/// assert_eq!(lengths, [1, 2, 3]);
/// ```
pub fn par_map<T, U, F>(slice: &[T], f: F) -> Vec<U>
where
    T: Sync,
    U: Send,
    F: Fn(&T) -> U + Sync,
{
    let len = slice.len();
    let mut out: Vec<U> = Vec::with_capacity(len);
    // The one pointer every other is derived from (see `Written`).
    let dst = out.as_mut_ptr();
    let written = drive(Map {
        src: slice,
        dst,
        f: &f,
        marker: PhantomData,
    });
    assert!(written.len == len, "par_map: a piece was lost");
    mem::forget(written);
    // SAFETY: `written` covered all `len` slots of the capacity, each
    // initialised by `Map::run`, and was forgotten, so they are dropped only
    // as the Vec's elements from now on.
    unsafe { out.set_len(len) };
    out
}

// ---------------------------------------------------------------------------
// reduce
// ---------------------------------------------------------------------------

struct Reduce<'a, T, M, ID, OP> {
    src: &'a [T],
    map: &'a M,
    identity: &'a ID,
    op: &'a OP,
}

impl<T, M, ID, OP> Clone for Reduce<'_, T, M, ID, OP> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, M, ID, OP> Copy for Reduce<'_, T, M, ID, OP> {}

impl<'a, T, R, M, ID, OP> Piece for Reduce<'a, T, M, ID, OP>
where
    T: Sync,
    R: Send,
    M: Fn(&T) -> R + Sync,
    ID: Fn() -> R + Sync,
    OP: Fn(R, R) -> R + Sync,
{
    type Out = R;
    type Combiner = &'a OP;
    fn len(&self) -> usize {
        self.src.len()
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (a, b) = self.src.split_at(mid);
        (Reduce { src: a, ..self }, Reduce { src: b, ..self })
    }
    fn run(self) -> R {
        self.src
            .iter()
            .fold((self.identity)(), |acc, x| (self.op)(acc, (self.map)(x)))
    }
    fn combiner(&self) -> &'a OP {
        self.op
    }
    fn combine(op: &'a OP, left: R, right: R) -> R {
        op(left, right)
    }
}

/// Map every element through `map` and combine the results with `op`, in
/// parallel: `op(...op(op(identity(), map(&s[0])), map(&s[1]))..., map(&s[n-1]))`
/// up to associativity. `op` must be associative and `identity()` its
/// identity element; `op` need not be commutative (the order is kept).
/// `identity()` is called once per piece.
///
/// # Panics
///
/// A panic of a closure is re-raised here once the other pieces are done.
///
/// ```
/// let words = ["par", "allel", " ", "words"];
/// let total = triad::threads::par_map_reduce(&words, |w| w.len(), || 0, |a, b| a + b);
/// assert_eq!(total, 14);
/// ```
pub fn par_map_reduce<T, R, M, ID, OP>(slice: &[T], map: M, identity: ID, op: OP) -> R
where
    T: Sync,
    R: Send,
    M: Fn(&T) -> R + Sync,
    ID: Fn() -> R + Sync,
    OP: Fn(R, R) -> R + Sync,
{
    drive(Reduce {
        src: slice,
        map: &map,
        identity: &identity,
        op: &op,
    })
}

/// Combine the elements of `slice` with `op`, in parallel (split
/// adaptively, as [`par_for_each`]): the same as
/// `slice.iter().cloned().fold(identity(), op)` when `op` is associative and
/// `identity()` is its identity element. The order is kept, so `op` need not
/// be commutative. Each element is cloned once (use [`par_map_reduce`] to
/// reduce something else than copies of the elements).
///
/// # Panics
///
/// A panic of a closure is re-raised here once the other pieces are done.
///
/// ```
/// let v: Vec<u64> = (1..=1000).collect();
/// assert_eq!(triad::threads::par_reduce(&v, || 0, |a, b| a + b), 500_500);
/// // Concatenation is associative but not commutative: the order is kept.
/// let parts: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
/// let joined = triad::threads::par_reduce(&parts, String::new, |a, b| a + &b);
/// assert_eq!(joined, "abc");
/// ```
pub fn par_reduce<T, ID, OP>(slice: &[T], identity: ID, op: OP) -> T
where
    T: Clone + Send + Sync,
    ID: Fn() -> T + Sync,
    OP: Fn(T, T) -> T + Sync,
{
    par_map_reduce(slice, T::clone, identity, op)
}

// ---------------------------------------------------------------------------
// chunks
// ---------------------------------------------------------------------------

struct Chunks<'a, T, F> {
    src: &'a [T],
    size: usize,
    first: usize,
    f: &'a F,
}

impl<T: Sync, F: Fn(usize, &[T]) + Sync> Piece for Chunks<'_, T, F> {
    type Out = ();
    type Combiner = ();
    fn len(&self) -> usize {
        self.src.len().div_ceil(self.size)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (a, b) = self.src.split_at((mid * self.size).min(self.src.len()));
        let (size, f) = (self.size, self.f);
        (
            Chunks {
                src: a,
                size,
                first: self.first,
                f,
            },
            Chunks {
                src: b,
                size,
                first: self.first + mid,
                f,
            },
        )
    }
    fn run(self) {
        for (i, chunk) in self.src.chunks(self.size).enumerate() {
            (self.f)(self.first + i, chunk);
        }
    }
    fn combiner(&self) {}
    fn combine((): (), (): (), (): ()) {}
}

struct ChunksMut<'a, T, F> {
    src: &'a mut [T],
    size: usize,
    first: usize,
    f: &'a F,
}

impl<T: Send, F: Fn(usize, &mut [T]) + Sync> Piece for ChunksMut<'_, T, F> {
    type Out = ();
    type Combiner = ();
    fn len(&self) -> usize {
        self.src.len().div_ceil(self.size)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let at = (mid * self.size).min(self.src.len());
        let (a, b) = self.src.split_at_mut(at);
        let (size, f) = (self.size, self.f);
        (
            ChunksMut {
                src: a,
                size,
                first: self.first,
                f,
            },
            ChunksMut {
                src: b,
                size,
                first: self.first + mid,
                f,
            },
        )
    }
    fn run(self) {
        for (i, chunk) in self.src.chunks_mut(self.size).enumerate() {
            (self.f)(self.first + i, chunk);
        }
    }
    fn combiner(&self) {}
    fn combine((): (), (): (), (): ()) {}
}

/// Call `f(index, chunk)` on every chunk of `chunk_size` elements of
/// `slice` (the last one may be shorter), in parallel; `index` counts the
/// chunks from 0, as `slice.chunks(chunk_size).enumerate()` would.
///
/// # Panics
///
/// If `chunk_size` is 0; a panic of `f` is re-raised here once the other
/// pieces are done.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let v: Vec<u32> = (0..10).collect();
/// let seen = AtomicUsize::new(0);
/// triad::threads::par_chunks(&v, 4, |index, chunk| {
///     assert_eq!(chunk[0] as usize, index * 4);
///     seen.fetch_add(chunk.len(), Ordering::Relaxed);
/// });
/// assert_eq!(seen.into_inner(), 10);
/// ```
pub fn par_chunks<T, F>(slice: &[T], chunk_size: usize, f: F)
where
    T: Sync,
    F: Fn(usize, &[T]) + Sync,
{
    assert!(chunk_size != 0, "par_chunks: chunk size must be non-zero");
    drive(Chunks {
        src: slice,
        size: chunk_size,
        first: 0,
        f: &f,
    });
}

/// Call `f(index, chunk)` on every mutable chunk of `chunk_size` elements
/// of `slice` (the last one may be shorter), in parallel; `index` counts the
/// chunks from 0, as `slice.chunks_mut(chunk_size).enumerate()` would.
///
/// # Panics
///
/// If `chunk_size` is 0; a panic of `f` is re-raised here once the other
/// pieces are done.
///
/// ```
/// let mut image = vec![0u8; 4 * 3]; // 3 rows of 4 pixels
/// triad::threads::par_chunks_mut(&mut image, 4, |row, pixels| pixels.fill(row as u8));
/// assert_eq!(image, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
/// ```
pub fn par_chunks_mut<T, F>(slice: &mut [T], chunk_size: usize, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    assert!(
        chunk_size != 0,
        "par_chunks_mut: chunk size must be non-zero"
    );
    drive(ChunksMut {
        src: slice,
        size: chunk_size,
        first: 0,
        f: &f,
    });
}

// ---------------------------------------------------------------------------
// sort (rules 7 to 9)
// ---------------------------------------------------------------------------

/// Sort `slice` in parallel, without keeping the order of equal elements
/// (a parallel quicksort over std's `sort_unstable`: a piece of at least
/// 8,192 elements is partitioned around the median of a sample and its two
/// sides sorted by `join`, which runs them in parallel when a worker is
/// idle; a shorter piece is sorted by `sort_unstable` on this thread). A
/// slice already in order, or in reverse order, takes one pass; one in
/// order but for a few elements takes a few comparisons per element.
///
/// ```
/// let mut v: Vec<u32> = (0..100_000).rev().collect();
/// triad::threads::par_sort_unstable(&mut v);
/// assert!(v.windows(2).all(|w| w[0] <= w[1]));
/// ```
pub fn par_sort_unstable<T: Ord + Send>(slice: &mut [T]) {
    par_sort_unstable_by(slice, T::cmp);
}

/// [`par_sort_unstable`] with a comparison function, which must be a total
/// order (as for `sort_unstable_by`; if it is not, the order of the result
/// is unspecified, and the sort may panic as std's does since Rust 1.81,
/// but no element is lost or duplicated either way).
///
/// # Panics
///
/// A panic of `compare` (or std's, on a comparison that is not a total
/// order) is re-raised here once the other pieces are done; the slice then
/// holds its elements in an unspecified order.
///
/// ```
/// let mut v = vec![1, 5, 2, 4, 3];
/// triad::threads::par_sort_unstable_by(&mut v, |a, b| b.cmp(a));
/// assert_eq!(v, [5, 4, 3, 2, 1]);
/// ```
pub fn par_sort_unstable_by<T, F>(slice: &mut [T], compare: F)
where
    T: Send,
    F: Fn(&T, &T) -> Ordering + Sync,
{
    sort_piece(slice, &compare);
}

/// Sort `slice` in parallel by the key `key` gives each element, keeping
/// the order of elements with equal keys (stable, like std's
/// `sort_by_key`). `key` is called once per element, in parallel (as std's
/// `sort_by_cached_key`); the `(key, index)` pairs are sorted by
/// [`par_sort_unstable`] (unique, so stable) and the elements then moved to
/// their places. Uses O(n) extra memory.
///
/// # Panics
///
/// A panic of `key` is re-raised here (the slice is then unchanged).
///
/// ```
/// let mut people = vec![("eve", 31), ("bob", 25), ("al", 31), ("cy", 25)];
/// triad::threads::par_sort_by_key(&mut people, |&(_, age)| age);
/// assert_eq!(people, [("bob", 25), ("cy", 25), ("eve", 31), ("al", 31)]);
/// ```
pub fn par_sort_by_key<T, K, F>(slice: &mut [T], key: F)
where
    T: Send + Sync,
    K: Ord + Send,
    F: Fn(&T) -> K + Sync,
{
    let keys = par_map(slice, key);
    let mut keyed: Vec<(K, usize)> = keys.into_iter().zip(0..).collect();
    par_sort_unstable(&mut keyed);
    // `from[i]`: the index of the element that belongs at `i`.
    let mut from: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
    // Follow each cycle of the permutation, marking visited slots.
    for start in 0..from.len() {
        let mut at = start;
        loop {
            let next = mem::replace(&mut from[at], usize::MAX);
            if next == usize::MAX || next == start {
                break;
            }
            slice.swap(at, next);
            at = next;
        }
    }
}

/// Rules 7 to 9 on one piece.
fn sort_piece<T: Send, F: Fn(&T, &T) -> Ordering + Sync>(v: &mut [T], compare: &F) {
    let len = v.len();
    let order = look_for_order(v, compare);
    if order == Order::Sorted {
        return;
    }
    let presorted = order == Order::Presorted;
    if len < SORT_MIN {
        if !(presorted && fix_a_few(v, compare)) {
            v.sort_unstable_by(compare);
        }
        return;
    }
    let pivot = median_of_sample(v, compare);
    let mid = if presorted {
        partition_in_place(v, pivot, compare)
    } else {
        partition(v, pivot, compare)
    };
    let (lo, rest) = v.split_at_mut(mid);
    let (pivot, hi) = rest.split_first_mut().expect("the pivot"); // in its place
    if lo.len().min(hi.len()) >= len / 8 {
        join(|| sort_piece(lo, compare), || sort_piece(hi, compare));
        return;
    }
    // Rule 9: a short lower side may mean many elements equal the pivot.
    if lo.len() < len / 8 {
        let pivot = &*pivot;
        let equal = lomuto(hi, |x| compare(x, pivot) != Ordering::Greater);
        if equal >= len / 8 {
            let above = &mut hi[equal..];
            join(|| sort_piece(lo, compare), || sort_piece(above, compare));
            return;
        }
    }
    v.sort_unstable_by(compare);
}

/// What rule 7's first look found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Order {
    /// One run, in order or in reverse order (then reversed): sorted now.
    Sorted,
    /// The first [`RUN_BLOCK`] elements in order, a break later: most
    /// likely data already in order but for a few elements.
    Presorted,
    /// A break in the first block: no order to keep.
    Unordered,
}

/// Rule 7's first look: whether `v` is one run, in order or in reverse
/// order (then reversed here), or at least begins with one. The scan goes by
/// blocks of [`RUN_BLOCK`] pairs, without a branch inside a block (so that
/// it vectorises for plain keys), and stops after the first block with a
/// pair out of the run's order: one block on data in no order.
fn look_for_order<T, F: Fn(&T, &T) -> Ordering>(v: &mut [T], compare: &F) -> Order {
    if v.len() < 2 {
        return Order::Sorted;
    }
    let descending = compare(&v[1], &v[0]) == Ordering::Less;
    let against = if descending {
        Ordering::Greater
    } else {
        Ordering::Less
    };
    let first_break = v.chunks(RUN_BLOCK).enumerate().position(|(k, block)| {
        // The pair across the block's start, then the block's own pairs.
        let first = k == 0 || compare(&block[0], &v[k * RUN_BLOCK - 1]) != against;
        !(first
            & block
                .windows(2)
                .fold(true, |ok, w| ok & (compare(&w[1], &w[0]) != against)))
    });
    match first_break {
        None => {
            if descending {
                v.reverse();
            }
            Order::Sorted
        }
        Some(block) if block > 0 && !descending => Order::Presorted,
        Some(_) => Order::Unordered,
    }
}

/// The index of the median of an odd sample of evenly spaced elements of
/// `v` (at least 3 long): up to 255 of them, one per 512 elements.
fn median_of_sample<T, F: Fn(&T, &T) -> Ordering>(v: &[T], compare: &F) -> usize {
    let len = v.len();
    let samples = (len / 512).clamp(3, 255) | 1;
    let mut picks = [0usize; 255];
    let picks = &mut picks[..samples];
    for (k, p) in picks.iter_mut().enumerate() {
        *p = k * (len - 1) / (samples - 1);
    }
    picks.sort_unstable_by(|&a, &b| compare(&v[a], &v[b]));
    picks[samples / 2]
}

/// Partition `v` around `v[pivot]`: returns `mid` with
/// `v[..mid] < v[mid] <= v[mid + 1..]`. Branch-free (Lomuto's scheme, one
/// swap per element), for data in no order: a branch on each comparison
/// would be mispredicted half the time.
fn partition<T, F: Fn(&T, &T) -> Ordering>(v: &mut [T], pivot: usize, compare: &F) -> usize {
    v.swap(0, pivot);
    let (pivot, rest) = v.split_first_mut().expect("non-empty");
    let pivot = &*pivot;
    let lt = lomuto(rest, |x| compare(x, pivot) == Ordering::Less);
    v.swap(0, lt);
    lt
}

/// Branch-free Lomuto: moves the elements for which `left` holds to the
/// front, and returns how many there are.
#[inline(always)]
fn lomuto<T>(v: &mut [T], left: impl Fn(&T) -> bool) -> usize {
    // `v[..lt]` are left, `v[lt..i]` are not.
    let mut lt = 0;
    for i in 0..v.len() {
        let goes_left = left(&v[i]);
        v.swap(lt, i);
        lt += usize::from(goes_left);
    }
    lt
}

/// [`partition`]'s contract for presorted data (Hoare's scheme): only
/// elements on the wrong side of the pivot move, so the two sides keep the
/// order they had, and the branches are predictable. The pivot waits at
/// the end, which moves two elements: the last one to the pivot's place,
/// and in the end the first of the upper side to the last place.
fn partition_in_place<T, F: Fn(&T, &T) -> Ordering>(
    v: &mut [T],
    pivot: usize,
    compare: &F,
) -> usize {
    let last = v.len() - 1;
    v.swap(last, pivot);
    let (pivot, rest) = v.split_last_mut().expect("non-empty");
    let pivot = &*pivot;
    // `rest[..l]` < pivot <= `rest[r..]`.
    let (mut l, mut r) = (0, rest.len());
    loop {
        while l < r && compare(&rest[l], pivot) == Ordering::Less {
            l += 1;
        }
        while l < r && compare(&rest[r - 1], pivot) != Ordering::Less {
            r -= 1;
        }
        if l == r {
            break;
        }
        r -= 1;
        rest.swap(l, r);
        l += 1;
    }
    v.swap(l, last);
    l
}

/// Sort a presorted piece by moving a few elements: at each pair out of
/// order, the two are swapped, the smaller moves left and the larger right
/// to their places (an insertion each way). Gives up after [`FEW_FIXES`]
/// pairs, and says whether `v` is sorted; if not, `v` holds its elements in
/// some order, for std's sort to finish.
fn fix_a_few<T, F: Fn(&T, &T) -> Ordering>(v: &mut [T], compare: &F) -> bool {
    let len = v.len();
    let mut i = 1;
    for _ in 0..FEW_FIXES {
        while i < len && compare(&v[i], &v[i - 1]) != Ordering::Less {
            i += 1;
        }
        if i == len {
            return true;
        }
        v.swap(i - 1, i);
        // The smaller, now at i - 1, to the left.
        let mut j = i - 1;
        while j > 0 && compare(&v[j], &v[j - 1]) == Ordering::Less {
            v.swap(j - 1, j);
            j -= 1;
        }
        // The larger, now at i, to the right.
        let mut j = i;
        while j + 1 < len && compare(&v[j + 1], &v[j]) == Ordering::Less {
            v.swap(j, j + 1);
            j += 1;
        }
    }
    v.windows(2)
        .all(|w| compare(&w[1], &w[0]) != Ordering::Less)
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! Small enough for Miri: the unsafe paths of `par_map` (pieces combined,
    //! results dropped on a panic) with a handful of elements.

    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::Arc;

    use crate::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    use super::*;

    #[test]
    fn map_pieces_combine_in_order() {
        let src: Vec<u32> = (0..7).collect();
        let mut out: Vec<String> = Vec::with_capacity(7);
        let f = |x: &u32| x.to_string();
        let piece = Map {
            src: &src,
            dst: out.as_mut_ptr(),
            f: &f,
            marker: PhantomData,
        };
        let (a, bc) = piece.split_at(2);
        let (b, c) = bc.split_at(3);
        let (ra, rb, rc) = (a.run(), b.run(), c.run());
        let all = ra.merge(rb).merge(rc);
        assert_eq!(all.len, 7);
        mem::forget(all);
        // SAFETY: the three pieces initialised all 7 slots.
        unsafe { out.set_len(7) };
        assert_eq!(out, ["0", "1", "2", "3", "4", "5", "6"]);
    }

    #[test]
    fn map_panic_drops_what_was_made() {
        // On a pool: under Miri the probe's 4 µs pass within a few elements,
        // and a split from outside any pool would start the global pool,
        // whose threads outlive the test.
        run_on_pool(|| {
            let live = Arc::new(AtomicUsize::new(0));
            struct Counted(Arc<AtomicUsize>);
            impl Drop for Counted {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, Relaxed);
                }
            }
            let src: Vec<u32> = (0..9).collect();
            let caught = catch_unwind(AssertUnwindSafe(|| {
                par_map(&src, |&x| {
                    if x == 6 {
                        panic!("six");
                    }
                    live.fetch_add(1, Relaxed);
                    Counted(live.clone())
                })
            }));
            assert!(caught.is_err());
            assert_eq!(live.load(Relaxed), 0, "every result made was dropped");
        });
    }

    /// Runs `f` on a fresh 2-thread pool, through `spawn` (whose handle
    /// waits on an `Arc`'d oneshot). (`spawn` was chosen when Miri reported
    /// the install path's `LockLatch::set` unlocking a mutex the waiter had
    /// freed; 066f08c fixed that, and either path would do now.)
    fn run_on_pool(f: impl FnOnce() + Send + 'static) {
        let pool = super::super::ThreadPool::builder()
            .num_threads(2)
            .build()
            .unwrap();
        pool.spawn(f).join().unwrap();
    }

    #[test]
    fn small_inputs_on_a_pool() {
        run_on_pool(|| {
            let v: Vec<u64> = (0..20).collect();
            assert_eq!(par_map(&v, |x| x + 1), (1..21).collect::<Vec<u64>>());
            assert_eq!(par_reduce(&v, || 0, |a, b| a + b), 190);
            let mut w: Vec<u64> = v.iter().rev().copied().collect();
            par_sort_unstable(&mut w);
            assert_eq!(w, v);
            let mut keyed = vec![(1, 'a'), (0, 'b'), (1, 'c'), (0, 'd')];
            par_sort_by_key(&mut keyed, |p| p.0);
            assert_eq!(keyed, [(0, 'b'), (0, 'd'), (1, 'a'), (1, 'c')]);
        });
    }

    #[test]
    fn split_loop_splits_and_keeps_order() {
        // Grain 1: every piece of two or more splits whenever someone is
        // hungry, so the join paths run even on tiny inputs.
        run_on_pool(|| {
            let parts: Vec<String> = (0..12).map(|i| i.to_string()).collect();
            let joined = split_loop(
                Reduce {
                    src: &parts,
                    map: &String::clone,
                    identity: &String::new,
                    op: &|a: String, b: String| a + &b,
                },
                1,
            );
            assert_eq!(joined, "01234567891011");
            let mut out: Vec<String> = Vec::with_capacity(12);
            let written = split_loop(
                Map {
                    src: &parts,
                    dst: out.as_mut_ptr(),
                    f: &|s: &String| format!("<{s}>"),
                    marker: PhantomData,
                },
                1,
            );
            assert_eq!(written.len, 12);
            mem::forget(written);
            // SAFETY: the pieces initialised all 12 slots.
            unsafe { out.set_len(12) };
            assert_eq!(out[11], "<11>");
        });
    }

    #[test]
    fn split_map_panic_drops_every_piece() {
        // Pieces on both sides of the panicking element were written (some
        // merged across joins) and must all be dropped, through the merged
        // pointers.
        run_on_pool(|| {
            let parts: Vec<String> = (0..12).map(|i| i.to_string()).collect();
            let mut out: Vec<String> = Vec::with_capacity(12);
            let caught = catch_unwind(AssertUnwindSafe(|| {
                split_loop(
                    Map {
                        src: &parts,
                        dst: out.as_mut_ptr(),
                        f: &|s: &String| {
                            assert!(s != "7", "seven");
                            format!("<{s}>")
                        },
                        marker: PhantomData,
                    },
                    1,
                )
            }));
            assert!(caught.is_err());
            drop(out); // length 0: frees the buffer only
        });
    }

    /// Rule 7's pieces, small: each partition's contract on data in no
    /// order, presorted data and repeats; the elements are the same after.
    #[test]
    fn both_partitions_split_around_the_pivot() {
        let inputs: [Vec<u32>; 4] = [
            (0..40).map(|i| (i * 7919) % 41).collect(),
            (0..40).collect(),
            vec![3; 40],
            (0..40).map(|i| if i == 5 { 38 } else { i % 39 }).collect(),
        ];
        for input in inputs {
            for in_place in [false, true] {
                let mut v = input.clone();
                let pivot = median_of_sample(&v, &u32::cmp);
                let at = v[pivot];
                let mid = if in_place {
                    partition_in_place(&mut v, pivot, &u32::cmp)
                } else {
                    partition(&mut v, pivot, &u32::cmp)
                };
                assert_eq!(v[mid], at, "{input:?}");
                assert!(v[..mid].iter().all(|&x| x < at), "{v:?}");
                assert!(v[mid + 1..].iter().all(|&x| x >= at), "{v:?}");
                let (mut a, mut b) = (v.clone(), input.clone());
                a.sort_unstable();
                b.sort_unstable();
                assert_eq!(a, b);
            }
        }
        // In place: elements already on their side keep their order.
        let mut v: Vec<u32> = (0..40).collect();
        v.swap(3, 30);
        let mid = partition_in_place(&mut v, 20, &u32::cmp);
        assert_eq!(mid, 20);
        assert!(
            v[..20].windows(2).filter(|w| w[0] > w[1]).count() <= 2,
            "{v:?}"
        );
    }

    #[test]
    fn the_first_look_tells_sorted_presorted_and_unordered() {
        let mut up: Vec<u32> = (0..200).collect();
        assert_eq!(look_for_order(&mut up, &u32::cmp), Order::Sorted);
        // Descending with repeats (the first pair decides the direction).
        let mut down: Vec<u32> = (1..=200).rev().map(|x| x / 2).collect();
        assert_eq!(look_for_order(&mut down, &u32::cmp), Order::Sorted);
        assert!(down.windows(2).all(|w| w[0] <= w[1]), "reversed in place");
        let mut late_break: Vec<u32> = (0..200).collect();
        late_break.swap(100, 150);
        assert_eq!(look_for_order(&mut late_break, &u32::cmp), Order::Presorted);
        let mut early_break: Vec<u32> = (0..200).collect();
        early_break.swap(10, 150);
        assert_eq!(
            look_for_order(&mut early_break, &u32::cmp),
            Order::Unordered
        );
        let mut down_broken: Vec<u32> = (0..200).rev().collect();
        down_broken.swap(100, 150);
        assert_eq!(
            look_for_order(&mut down_broken, &u32::cmp),
            Order::Unordered
        );
        assert_eq!(down_broken[0], 199, "not reversed");
    }

    #[test]
    fn a_few_pairs_out_of_order_are_fixed_and_more_are_left_to_std() {
        let sorted: Vec<u32> = (0..100).collect();
        let mut v = sorted.clone();
        v.swap(2, 97); // a small one late, a large one early
        v.swap(40, 41);
        v.swap(60, 10);
        assert!(fix_a_few(&mut v, &u32::cmp));
        assert_eq!(v, sorted);
        let mut v: Vec<u32> = (0..100).rev().collect();
        assert!(!fix_a_few(&mut v, &u32::cmp));
        v.sort_unstable();
        assert_eq!(v, sorted, "the same elements, for std to sort");
    }
}
