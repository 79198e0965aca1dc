//! The shared region: one memfd, mapped `MAP_SHARED` by the parent, the
//! zygote and every worker.
//!
//! memmap2's `map_anon` would be `MAP_PRIVATE`, i.e. copy-on-write after
//! `fork` (design trap 1); a memfd mapped with `MmapOptions::map_mut(&file)`
//! is the same pages in every process. The file is sparse: its size is the
//! whole layout below, but a page costs memory only once touched, so a
//! large result capacity reserves address space, not RAM.
//!
//! ```text
//!  offset 0           ┌──────────────────────────────────────────────┐
//!                     │ Header (one page)                            │
//!                     │   magic, version, counts, layout offsets     │
//!                     │   WorkerConfig (max tasks, RLIMIT_AS, pin,   │
//!                     │     initializer: offsets of it and of its    │
//!                     │     entry, argument length, timeout;         │
//!                     │     one-shot)                                │
//!                     │   shutdown flag, init-failure counter        │
//!                     │   started bits (one per worker index)        │
//!                     │   work doorbell  (parent → workers)          │
//!                     │   done doorbell  (→ parent threads)          │
//!  PAGE               ├──────────────────────────────────────────────┤
//!                     │ Slot 0 header (128 B) │ Slot 1 │ ... │ n-1   │
//!                     │ (slot.rs: state word + task/result fields)   │
//!  init_arg_offset    ├──────────────────────────────────────────────┤
//!                     │ the initializer's argument, encoded (rule 5) │
//!  data_offset        ├──────────────────────────────────────────────┤
//!  (page aligned)     │ slot 0 data: argument in, result out         │
//!                     │   `capacity` bytes, rounded up to a page     │
//!  + stride           ├──────────────────────────────────────────────┤
//!                     │ slot 1 data                                  │
//!                     ├──────────────────────────────────────────────┤
//!                     │ ...                                          │
//!  total_len          └──────────────────────────────────────────────┘
//! ```
//!
//! Rules:
//!
//! 1. The header's plain fields are written once by the parent before any
//!    other process exists and never change; everything written later is an
//!    atomic (slot words, doorbells, shutdown) or a data area, whose owner
//!    is given by the slot protocol (slot.rs rule 1).
//! 2. Zero is a valid value of every shared structure (slot.rs rule 6), so
//!    the sparse file needs no initialisation beyond the header.
//! 3. The mapping lives as long as the [`Region`]: in the parent as long as
//!    the pool or any handle or result view (they hold an `Arc`), in a
//!    worker until it exits.
//! 4. Every structure sits at the same offset in every process; nothing in
//!    the region is a pointer.
//! 5. The initializer's argument (`ProcessPoolBuilder::initializer_with`),
//!    encoded, lies right after the slot table, `init_arg_len` bytes (zero
//!    without one). Like the header, the parent writes it before any other
//!    process exists and nobody writes it again, so every worker reads it
//!    without synchronisation, however many times workers are replaced.

use std::fs::File;
use std::io;

use memmap2::{MmapMut, MmapOptions};

use super::doorbell::Doorbell;
use super::slot::Slot;
use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

const MAGIC: u64 = u64::from_le_bytes(*b"triadshm");
const VERSION: u32 = 1;
const PAGE: usize = 4096;
/// The most slots a pool may have (the slot table stays small to scan).
pub(crate) const MAX_SLOTS: usize = 4096;

/// What every worker needs to know about its life, fixed at build time.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WorkerConfig {
    /// Tasks before a worker exits to be replaced; 0 = no limit.
    pub(crate) max_tasks: u64,
    /// RLIMIT_AS in bytes; 0 = none.
    pub(crate) memory_limit: u64,
    /// Pin worker `i` to the `i % n`-th allowed CPU.
    pub(crate) pin: u32,
    /// Whether `init_offset` names an initializer.
    pub(crate) has_init: u32,
    /// The initializer (a `fn()` or a `fn(A)`), as an offset in the binary
    /// (zygote rule Z3).
    pub(crate) init_offset: u64,
    /// How to call it: a `codec::InitEntry`, as an offset in the binary.
    pub(crate) init_entry_offset: u64,
    /// Bytes of the initializer's encoded argument (rule 5).
    pub(crate) init_arg_len: u64,
    /// The longest a worker's start (its initializer) may take, in
    /// nanoseconds; 0 = no limit.
    pub(crate) init_timeout_ns: u64,
    /// Non-zero for a [`Spawner`](super::Spawner): no worker is forked in
    /// advance; each runs the one task of its slot and exits (`spawn.rs`).
    pub(crate) one_shot: u32,
}

/// The region's first page (see the module docs). `#[repr(C)]`.
#[repr(C)]
pub(crate) struct Header {
    magic: u64,
    version: u32,
    pub(crate) workers: u32,
    slots: u32,
    _pad: u32,
    capacity: u64,
    slots_offset: u64,
    data_offset: u64,
    stride: u64,
    total_len: u64,
    pub(crate) config: WorkerConfig,
    /// Non-zero: workers exit when idle instead of sleeping.
    pub(crate) shutdown: AtomicU32,
    /// Bumped by a worker whose initializer failed, before it exits with
    /// `worker::INIT_FAILED` (so the zygote can tell it from a task's exit).
    pub(crate) init_failures: AtomicU32,
    /// Bit `i`: the process at worker index `i` has finished its start
    /// (address-space limit, initializer), so its death is not a failure
    /// to start (zygote rule Z8). Cleared by the zygote before each fork
    /// at `i`, set by that worker.
    started: [AtomicU64; MAX_SLOTS / 64],
    /// Test hook (zygote rule Z7): the zygote fails this many forks, as if
    /// the kernel had refused them. Written by unit tests only; zero
    /// otherwise.
    pub(crate) fail_forks: AtomicU32,
    /// Test hook (zygote rule Z6): the zygote moves its serial counter
    /// this far ahead at its next fork, as if it had forked that many
    /// workers meanwhile. Written by unit tests only; zero otherwise.
    pub(crate) skip_serials: AtomicU32,
    /// Rung by the parent after a submit and at shutdown; workers sleep on it.
    pub(crate) work: Doorbell,
    /// Rung when a task finishes or a slot is freed; parent threads sleep on it.
    pub(crate) done: Doorbell,
}

const _: () = assert!(std::mem::size_of::<Header>() <= PAGE);

impl Header {
    /// Zygote, before it forks a worker at `index` (zygote rule Z8).
    pub(crate) fn clear_started(&self, index: usize) {
        // Relaxed: the fork that follows orders it before anything the new
        // worker does.
        self.started[index / 64].fetch_and(!(1 << (index % 64)), Relaxed);
    }

    /// Worker at `index`: its start is over (zygote rule Z8).
    pub(crate) fn set_started(&self, index: usize) {
        // Release: pairs with the zygote's Acquire in `has_started`.
        self.started[index / 64].fetch_or(1 << (index % 64), Release);
    }

    /// Zygote, once the worker at `index` is reaped: whether it finished
    /// its start (zygote rule Z8).
    pub(crate) fn has_started(&self, index: usize) -> bool {
        // Acquire: pairs with the worker's Release in `set_started` (its
        // process is gone by now, so no later set can come).
        self.started[index / 64].load(Acquire) & (1 << (index % 64)) != 0
    }
}
const _: () = assert!(std::mem::size_of::<Slot>() == 128);

/// `n` rounded up to a multiple of `to`; `None` if that overflows.
fn round_up(n: usize, to: usize) -> Option<usize> {
    n.div_ceil(to).checked_mul(to)
}

/// The layout for a pool, computed the same way by everyone.
#[derive(Clone, Copy, Debug)]
struct Layout {
    slots_offset: usize,
    init_arg_offset: usize,
    init_arg_len: usize,
    data_offset: usize,
    stride: usize,
    total_len: usize,
}

impl Layout {
    /// `None` if the region would not fit in the address space: its
    /// length, as every slice of it, must stay within `isize::MAX` bytes.
    fn new(slots: usize, capacity: usize, init_arg_len: usize) -> Option<Layout> {
        let slots_offset = PAGE;
        let table = slots.checked_mul(std::mem::size_of::<Slot>())?;
        let init_arg_offset = slots_offset.checked_add(table)?;
        let data_offset = round_up(init_arg_offset.checked_add(init_arg_len)?, PAGE)?;
        let stride = round_up(capacity.max(1), PAGE)?;
        let total_len = stride.checked_mul(slots)?.checked_add(data_offset)?;
        if total_len > isize::MAX as usize {
            return None;
        }
        Some(Layout {
            slots_offset,
            init_arg_offset,
            init_arg_len,
            data_offset,
            stride,
            total_len,
        })
    }
}

/// The total size of the region for `slots` slots of `capacity` bytes and
/// an initializer's argument of `init_arg_len` bytes (what each worker
/// maps; counts against a memory limit).
pub(crate) fn region_len(slots: usize, capacity: usize, init_arg_len: usize) -> Option<u64> {
    Layout::new(slots, capacity, init_arg_len).map(|l| l.total_len as u64)
}

/// A mapping of the shared region.
pub(crate) struct Region {
    backing: Backing,
    base: *mut u8,
    slots: usize,
    capacity: usize,
    layout: Layout,
}

// SAFETY: `base` points into the backing, which lives as long as the
// Region and never moves. Concurrent access to the memory behind it is
// governed by rule 1: atomics for everything shared, and data areas handed
// over by the slot protocol, so sharing the Region between threads is what
// it is for.
unsafe impl Send for Region {}
// SAFETY: as for Send.
unsafe impl Sync for Region {}

impl Region {
    /// Create the memfd, size it (sparse), map it shared and write the
    /// header and the initializer's argument (rules 1 and 5).
    pub(crate) fn create(
        workers: usize,
        slots: usize,
        capacity: usize,
        mut config: WorkerConfig,
        init_arg: &[u8],
    ) -> io::Result<Region> {
        config.init_arg_len = init_arg.len() as u64;
        let layout = Layout::new(slots, capacity, init_arg.len())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "region too large"))?;
        let file = crate::sys::memfd::memfd_create(c"triad-pool")?;
        file.set_len(layout.total_len as u64)?;
        // memmap2's `map_mut(&file)` maps MAP_SHARED (trap 1).
        // SAFETY: the memfd is ours alone (nobody truncates it while mapped:
        // only the pool's processes hold it, and none calls set_len again).
        let mut map = unsafe { MmapOptions::new().len(layout.total_len).map_mut(&file)? };
        let base = map.as_mut_ptr();
        let backing = Backing::Shared { file, _map: map };
        // SAFETY: `base` is the start of the fresh `total_len`-byte mapping.
        let region =
            unsafe { Region::init(backing, base, layout, workers, slots, capacity, config) };
        // SAFETY: nobody else maps the region yet; the layout was made for
        // `init_arg.len()` bytes.
        unsafe { region.write_init_arg(init_arg) };
        Ok(region)
    }

    /// Write the initializer's argument after the slot table (rule 5).
    ///
    /// # Safety
    ///
    /// Nobody else maps the region yet (rule 5: it is written before any
    /// other process exists), and no reference into it lives.
    unsafe fn write_init_arg(&self, init_arg: &[u8]) {
        assert_eq!(init_arg.len(), self.layout.init_arg_len);
        // SAFETY: the layout puts `init_arg_len` bytes at `init_arg_offset`
        // inside the region, apart from the header, the slots and the data
        // areas; nothing else reads or writes them now (see `# Safety`).
        unsafe {
            self.base
                .add(self.layout.init_arg_offset)
                .copy_from_nonoverlapping(init_arg.as_ptr(), init_arg.len())
        };
    }

    /// Write the header at `base` (rule 1) and wrap the backing.
    ///
    /// # Safety
    ///
    /// `base` is page-aligned, starts `layout.total_len` bytes owned by
    /// `backing` (zero-filled: rule 2) and nobody else maps them yet.
    unsafe fn init(
        backing: Backing,
        base: *mut u8,
        layout: Layout,
        workers: usize,
        slots: usize,
        capacity: usize,
        config: WorkerConfig,
    ) -> Region {
        let header = Header {
            magic: MAGIC,
            version: VERSION,
            workers: workers as u32,
            slots: slots as u32,
            _pad: 0,
            capacity: capacity as u64,
            slots_offset: layout.slots_offset as u64,
            data_offset: layout.data_offset as u64,
            stride: layout.stride as u64,
            total_len: layout.total_len as u64,
            config,
            shutdown: AtomicU32::new(0),
            init_failures: AtomicU32::new(0),
            started: std::array::from_fn(|_| AtomicU64::new(0)),
            fail_forks: AtomicU32::new(0),
            skip_serials: AtomicU32::new(0),
            work: zeroed_doorbell(),
            done: zeroed_doorbell(),
        };
        // SAFETY: `base` is page-aligned and the block is larger than a page
        // (Header fits, checked above); nobody else maps it yet (caller).
        unsafe { base.cast::<Header>().write(header) };
        Region {
            backing,
            base,
            slots,
            capacity,
            layout,
        }
    }

    /// A region on plain heap pages instead of a memfd: the same layout,
    /// header, initializer's argument and accessors as [`create`](Self::create),
    /// for the unit tests Miri runs (it can map no memfd). Shared between
    /// threads, never between processes.
    #[cfg(test)]
    pub(crate) fn on_heap(
        workers: usize,
        slots: usize,
        capacity: usize,
        mut config: WorkerConfig,
        init_arg: &[u8],
    ) -> Region {
        config.init_arg_len = init_arg.len() as u64;
        let layout = Layout::new(slots, capacity, init_arg.len()).expect("region too large");
        let pages = HeapPages::zeroed(layout.total_len);
        let base = pages.0.as_ptr();
        // SAFETY: fresh, zeroed, page-aligned and `total_len` long.
        let region = unsafe {
            Region::init(
                Backing::Heap { _pages: pages },
                base,
                layout,
                workers,
                slots,
                capacity,
                config,
            )
        };
        // SAFETY: as in `create`: the pages are ours alone yet.
        unsafe { region.write_init_arg(init_arg) };
        region
    }

    /// Map a region another process created (the exec'd zygote).
    pub(crate) fn open(file: File) -> io::Result<Region> {
        let len = file.metadata()?.len() as usize;
        if len < PAGE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "region too small",
            ));
        }
        // SAFETY: as in `create`; the creator never resizes the file.
        let mut map = unsafe { MmapOptions::new().len(len).map_mut(&file)? };
        let base = map.as_mut_ptr();
        // SAFETY: page-aligned, at least a page long, written by the creator
        // before we were started (rule 1).
        let header = unsafe { &*base.cast::<Header>() };
        let (slots, capacity) = (header.slots as usize, header.capacity as usize);
        let layout = Layout::new(slots, capacity, header.config.init_arg_len as usize)
            .filter(|l| header.magic == MAGIC && header.version == VERSION && l.total_len == len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a triad region"))?;
        Ok(Region {
            backing: Backing::Shared { file, _map: map },
            base,
            slots,
            capacity,
            layout,
        })
    }

    /// The header.
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: written before any reader existed (rule 1); its shared
        // parts are atomics; lives as long as `self` (rule 3).
        unsafe { &*self.base.cast::<Header>() }
    }

    /// Slot `index`'s header.
    pub(crate) fn slot(&self, index: usize) -> &Slot {
        assert!(index < self.slots);
        // SAFETY: in bounds (checked), 128-aligned (PAGE + 128 * i), all
        // atomics and valid when zero (rule 2); lives as long as `self`.
        unsafe {
            &*self
                .base
                .add(self.layout.slots_offset + index * std::mem::size_of::<Slot>())
                .cast::<Slot>()
        }
    }

    /// The initializer's encoded argument (rule 5; empty without one).
    pub(crate) fn init_arg(&self) -> &[u8] {
        // SAFETY: `init_arg_len` bytes at `init_arg_offset` lie inside the
        // mapping (layout); written before any reader existed and never
        // again (rule 5); they live as long as `self` (rule 3).
        unsafe {
            std::slice::from_raw_parts(
                self.base.add(self.layout.init_arg_offset),
                self.layout.init_arg_len,
            )
        }
    }

    /// The number of slots.
    pub(crate) fn slots(&self) -> usize {
        self.slots
    }

    /// Bytes per slot for an argument or a result.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// A pointer to slot `index`'s data area (`capacity()` bytes).
    pub(crate) fn data_ptr(&self, index: usize) -> *mut u8 {
        assert!(index < self.slots);
        // SAFETY: in bounds: data_offset + index * stride + capacity <=
        // total_len by construction of the layout.
        unsafe {
            self.base
                .add(self.layout.data_offset + index * self.layout.stride)
        }
    }

    /// Slot `index`'s data area for writing.
    ///
    /// # Safety
    ///
    /// The caller owns the slot (slot rule 1: FREE for the parent, CLAIMED
    /// for its worker) and holds no other reference to this area.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn data_mut(&self, index: usize) -> &mut [u8] {
        // SAFETY: the area is `capacity` bytes inside the mapping; the caller
        // guarantees exclusive ownership (see `# Safety`).
        unsafe { std::slice::from_raw_parts_mut(self.data_ptr(index), self.capacity) }
    }

    /// The first `len` bytes of slot `index`'s data area for reading.
    ///
    /// # Safety
    ///
    /// The caller owns the slot as reader (COMPLETE / COLLECTED, slot rule
    /// 1): nobody writes the area while the returned slice lives.
    pub(crate) unsafe fn data(&self, index: usize, len: usize) -> &[u8] {
        assert!(len <= self.capacity);
        // SAFETY: in bounds (checked); nobody writes it (see `# Safety`).
        unsafe { std::slice::from_raw_parts(self.data_ptr(index), len) }
    }

    /// Give slot `index`'s pages from byte `keep` on back to the kernel
    /// (they read as zeros afterwards). The caller owns the slot.
    pub(crate) fn release_pages(&self, index: usize, keep: usize) -> io::Result<()> {
        // Past `usize::MAX` is past the stride too.
        let keep = round_up(keep, PAGE).unwrap_or(usize::MAX);
        if keep >= self.layout.stride {
            return Ok(());
        }
        let start = self.layout.data_offset + index * self.layout.stride + keep;
        let len = self.layout.stride - keep;
        match &self.backing {
            Backing::Shared { file, .. } => {
                crate::sys::memfd::punch_hole(file, start as u64, len as u64)
            }
            #[cfg(test)]
            Backing::Heap { .. } => {
                // SAFETY: in bounds (`start + len` ends slot `index`'s
                // stride); the caller owns the slot.
                unsafe { self.base.add(start).write_bytes(0, len) };
                Ok(())
            }
        }
    }

    /// The memfd (to hand to an exec'd zygote).
    pub(crate) fn file(&self) -> &File {
        match &self.backing {
            Backing::Shared { file, .. } => file,
            #[cfg(test)]
            Backing::Heap { .. } => unreachable!("a heap region has no memfd"),
        }
    }
}

/// What holds a region's bytes.
enum Backing {
    /// The memfd and its `MAP_SHARED` mapping: every pool's.
    Shared { file: File, _map: MmapMut },
    /// Heap pages (`Region::on_heap`, unit tests only).
    #[cfg(test)]
    Heap { _pages: HeapPages },
}

/// Zeroed, page-aligned heap memory, freed on drop.
#[cfg(test)]
struct HeapPages(std::ptr::NonNull<u8>, std::alloc::Layout);

#[cfg(test)]
impl HeapPages {
    fn zeroed(len: usize) -> HeapPages {
        let layout = std::alloc::Layout::from_size_align(len, PAGE).expect("region too large");
        // SAFETY: `len` is at least a page (the header's), so non-zero.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr =
            std::ptr::NonNull::new(ptr).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        HeapPages(ptr, layout)
    }
}

#[cfg(test)]
impl Drop for HeapPages {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with this layout, freed once.
        unsafe { std::alloc::dealloc(self.0.as_ptr(), self.1) }
    }
}

fn zeroed_doorbell() -> Doorbell {
    // SAFETY: a Doorbell is two AtomicU32 (`#[repr(C)]`), for which zero is
    // a valid value (doorbell rule 4).
    unsafe { std::mem::zeroed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri has no memfd_create; processes/tests.rs runs the same accessors on heap pages"
    )]
    fn a_forked_child_writes_reach_the_parent() {
        // A fresh region: slot 0 FREE, data zero; map it a second time from
        // the same memfd (as the exec'd zygote does) and see writes cross.
        let region = Region::create(1, 2, 10_000, WorkerConfig::default(), &[]).unwrap();
        let second = Region::open(region.file().try_clone().unwrap()).unwrap();
        assert_eq!(second.slots(), 2);
        assert_eq!(second.capacity(), 10_000);
        assert!(matches!(
            region.slot(1).phase(),
            super::super::slot::Phase::Free
        ));
        // SAFETY: this test owns both mappings and slot 1; no other access.
        unsafe { second.data_mut(1)[9_999] = 7 };
        // SAFETY: as above.
        assert_eq!(unsafe { region.data(1, 10_000) }[9_999], 7);
        region.release_pages(1, 0).unwrap();
        // SAFETY: as above.
        assert_eq!(unsafe { region.data(1, 10_000) }[9_999], 0);
    }
}
