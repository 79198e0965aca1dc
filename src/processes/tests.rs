//! Unit tests of the process pool's unsafe core, small enough for Miri.
//!
//! Miri can neither fork nor map a memfd, so these tests run the shared
//! region on heap pages ([`Region::on_heap`]: the same layout, header,
//! slot table and data areas, the same accessors) and play the parent and
//! the workers with threads. What they check under Miri: the region's
//! pointer arithmetic (`slot`, `data_ptr`, `data`, `data_mut`, and the
//! initializer's argument written and read between the slot table and the
//! data areas) stays in bounds and in its allocation; the slot protocol hands each data area to
//! one owner at a time (slot rule 1), with the futex wait and wake of rule
//! 5; a worker's codec entry decodes, runs and encodes in the claimed area;
//! and a [`SharedBytes`] result reads the area in place, from another
//! thread, while its keep-alive lives. The fork, exec and memfd paths are
//! covered at full size by `tests/processes_*` (and by AddressSanitizer).
//!
//! The `task_entry_*` tests call a task through its address, as a worker
//! does (`zygote::code_ptr`): an integer-to-pointer cast, which Miri runs
//! only with permissive provenance (`.ci/miri` runs them so, the rest with
//! strict provenance).

use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::thread;

use super::codec::{decode_result, encode_to_vec, entry_for, KeepAlive, Writer};
use super::in_place::SharedBytes;
use super::shm::{Region, WorkerConfig};
use super::slot::{Collected, Finish, Phase};

/// Tasks per test: small under Miri.
const TASKS: usize = if cfg!(miri) { 6 } else { 200 };

fn double(x: u64) -> u64 {
    x * 2
}

fn repeat(x: u64) -> SharedBytes {
    SharedBytes::from(vec![x as u8; x as usize])
}

/// The same bytes, carved in the task's own area (`in_place.rs`).
fn repeat_in_place(x: u64) -> SharedBytes {
    SharedBytes::from_fn(x as usize, |bytes| bytes.fill(x as u8))
}

#[test]
fn the_heap_region_has_the_memfd_layout() {
    let config = WorkerConfig {
        max_tasks: 9,
        ..WorkerConfig::default()
    };
    let region = Region::on_heap(2, 3, 5000, config, &[]);
    assert_eq!(region.header().workers, 2);
    assert_eq!(region.header().config.max_tasks, 9);
    assert_eq!((region.slots(), region.capacity()), (3, 5000));
    for index in 0..3 {
        // Rule 6 of slot.rs: zero is FREE.
        assert_eq!(region.slot(index).phase(), Phase::Free);
        // SAFETY: the test owns every slot; no other reference to the area.
        let area = unsafe { region.data_mut(index) };
        assert_eq!(area.len(), 5000);
        area[0] = 1 + index as u8;
        area[4999] = 10 + index as u8;
    }
    let slot_addresses: Vec<usize> = (0..3)
        .map(|i| region.slot(i) as *const _ as usize)
        .collect();
    assert_eq!(slot_addresses[1] - slot_addresses[0], 128);
    region.release_pages(1, 0).unwrap();
    for (index, expected) in [(0, (1, 10)), (1, (0, 0)), (2, (3, 12))] {
        // SAFETY: as above.
        let area = unsafe { region.data(index, 5000) };
        assert_eq!((area[0], area[4999]), expected, "slot {index}");
    }
}

/// The parent's side of one task: encode the argument into a FREE slot and
/// publish it (slot rules 1, 2).
fn submit(region: &Region, index: usize, arg: u64) {
    // SAFETY: the slot is FREE and this thread is the parent: the area is
    // ours until `submit` (slot rule 1).
    let area = unsafe { region.data_mut(index) };
    let arg_len = {
        let mut w = Writer::new(area);
        super::Encode::encode(&arg, &mut w);
        w.len()
    };
    let slot = region.slot(index);
    // Relaxed: published by `submit`'s Release (slot rule 2).
    slot.arg_len.store(arg_len as u64, Relaxed);
    slot.submit();
}

/// A worker's loop: claim SUBMITTED slots, run `entry` in the area, complete.
fn work(region: &Region, serial: u32, entry: super::codec::Entry, task: usize, done: &AtomicUsize) {
    while done.load(SeqCst) < TASKS {
        for index in 0..region.slots() {
            let slot = region.slot(index);
            if !slot.try_claim(serial) {
                continue;
            }
            let arg_len = slot.arg_len.load(Relaxed) as usize;
            // SAFETY: we claimed the slot: its area is ours until
            // `complete` (slot rule 1), and this is the only reference.
            let area = unsafe { region.data_mut(index) };
            let encoded = entry(task, area, arg_len).unwrap();
            slot.result_offset.store(encoded.head as u64, Relaxed);
            slot.result_len.store(encoded.len as u64, Relaxed);
            assert!(matches!(slot.complete(serial), Finish::Done { .. }));
            done.fetch_add(1, SeqCst);
        }
        thread::yield_now();
    }
}

#[test]
fn task_entry_runs_in_slots_handed_between_parent_and_workers() {
    // Two worker threads compete for the slots (slot rule 3); the parent waits
    // on the futex (slot rule 5), collects and reads each result, and frees.
    let region = Arc::new(Region::on_heap(2, 2, 256, WorkerConfig::default(), &[]));
    let done = Arc::new(AtomicUsize::new(0));
    let entry = entry_for::<u64, u64>();
    let task = double as fn(u64) -> u64 as usize;
    let workers: Vec<_> = (1..=2)
        .map(|serial| {
            let (region, done) = (region.clone(), done.clone());
            thread::spawn(move || work(&region, serial, entry, task, &done))
        })
        .collect();
    let mut results = Vec::new();
    for n in 0..TASKS {
        let index = n % 2;
        submit(&region, index, n as u64);
        let slot = region.slot(index);
        while !slot.wait_task(None, None) {}
        assert_eq!(slot.try_collect(), Some(Collected::Complete));
        let head = slot.result_offset.load(Relaxed) as usize;
        let len = slot.result_len.load(Relaxed) as usize;
        // SAFETY: COLLECTED: the parent reads, nobody writes (slot rule 1).
        let bytes = unsafe { region.data(index, head + len) };
        results.push(decode_result::<u64>(bytes, head, None).unwrap());
        slot.release();
    }
    for worker in workers {
        worker.join().unwrap();
    }
    let expected: Vec<u64> = (0..TASKS as u64).map(|n| n * 2).collect();
    assert_eq!(results, expected);
}

#[test]
fn task_entry_result_as_shared_bytes_is_read_in_place_on_another_thread() {
    // The worker encodes a `SharedBytes` result in its area, copied there
    // (`repeat`) or carved there by the task itself (`repeat_in_place`,
    // in_place.rs rules 1-5); the parent decodes it as a view that points
    // into the region (no copy) and keeps the region alive; another thread
    // reads it; the view outlives the decoder's own handle on the region.
    for (task, carved) in [
        (repeat as fn(u64) -> SharedBytes, false),
        (repeat_in_place as fn(u64) -> SharedBytes, true),
    ] {
        let region = Arc::new(Region::on_heap(1, 1, 4096, WorkerConfig::default(), &[]));
        let done = AtomicUsize::new(TASKS - 1);
        submit(&region, 0, 100);
        work(
            &region,
            7,
            entry_for::<u64, SharedBytes>(),
            task as usize,
            &done,
        );
        let slot = region.slot(0);
        assert_eq!(slot.try_collect(), Some(Collected::Complete));
        let head = slot.result_offset.load(Relaxed) as usize;
        let len = slot.result_len.load(Relaxed) as usize;
        // Carved: the bytes come first, the encoding (a reference) after.
        assert_eq!((head, len), if carved { (128, 16) } else { (0, 108) });
        let view = {
            let keep = KeepAlive::Region(region.clone());
            // SAFETY: COLLECTED: nobody writes the area while a keep-alive
            // of the region lives (slot rule 1; the pool's lease, rule P4).
            let bytes = unsafe { region.data(0, head + len) };
            let view = decode_result::<SharedBytes>(bytes, head, Some(&keep)).unwrap();
            assert_eq!(keep.holders(), 3, "the test, the decoder and the view");
            view
        };
        assert!(view.is_in_place());
        drop(region);
        let read = thread::spawn(move || (view.len(), view.iter().all(|&b| b == 100)));
        assert_eq!(read.join().unwrap(), (100, true));
    }
}

#[test]
fn task_entry_counts_a_result_too_large_for_the_area() {
    // The codec's writer counts past the end of the area and writes
    // nothing there (rule: an entry's result fits iff len <= capacity).
    let region = Region::on_heap(1, 1, 64, WorkerConfig::default(), &[]);
    let arg = encode_to_vec(&500u64);
    // SAFETY: the test owns the slot.
    let area = unsafe { region.data_mut(0) };
    area[..arg.len()].copy_from_slice(&arg);
    let entry = entry_for::<u64, SharedBytes>();
    let needed = entry(repeat as fn(u64) -> SharedBytes as usize, area, arg.len()).unwrap();
    assert!(needed.end() > region.capacity());
    assert_eq!((needed.head, needed.len), (0, 8 + 500));
}

#[test]
fn task_entry_address_survives_the_offset_round_trip() {
    // What a worker does with a task's address (rule Z3): an offset from
    // the anchor, back to an address, a pointer by `code_ptr`, a call.
    use super::zygote::{code_ptr, from_offset, to_offset};
    let offset = to_offset(double as fn(u64) -> u64 as usize);
    // SAFETY: the address is `double`'s, a `fn(u64) -> u64` of this binary.
    let f =
        unsafe { std::mem::transmute::<*const (), fn(u64) -> u64>(code_ptr(from_offset(offset))) };
    assert_eq!(f(21), 42);
}

/// What [`remember`] was given, as a worker's initializer would keep it.
static REMEMBERED: std::sync::Mutex<Vec<(String, Vec<u16>)>> = std::sync::Mutex::new(Vec::new());

fn remember(arg: (String, Vec<u16>)) {
    REMEMBERED.lock().unwrap().push(arg);
}

#[test]
fn task_entry_initializer_decodes_its_argument_between_the_slots_and_the_data() {
    // A worker's start (worker.rs; shm.rs rule 5): the argument lies right
    // after the slot table, here across a page boundary (31 slots end 128
    // bytes short of one), and the data areas start on the next page; the
    // entry decodes it and calls the initializer through its address, as
    // after a fork or an exec (rule Z3).
    use super::codec::{init_entry_for, plain_init_entry};
    let arg = ("db".to_string(), (0..200u16).collect::<Vec<_>>());
    let encoded = encode_to_vec(&arg);
    assert!(encoded.len() > 128);
    let region = Region::on_heap(1, 31, 100, WorkerConfig::default(), &encoded);
    assert_eq!(region.header().config.init_arg_len, encoded.len() as u64);
    for index in 0..31 {
        // SAFETY: the test owns every slot; no other reference to the area.
        unsafe { region.data_mut(index) }.fill(0xAB);
    }
    assert_eq!(region.init_arg(), &encoded[..], "no data area overlaps it");
    let entry = init_entry_for::<(String, Vec<u16>)>();
    entry(
        remember as fn((String, Vec<u16>)) as usize,
        region.init_arg(),
    )
    .unwrap();
    assert_eq!(REMEMBERED.lock().unwrap().as_slice(), [arg]);
    // Bytes that do not decode are an error, not a call (zygote rule Z8).
    assert!(entry(remember as fn((String, Vec<u16>)) as usize, &encoded[1..]).is_err());
    assert_eq!(REMEMBERED.lock().unwrap().len(), 1);
    // A plain `fn()` initializer: an empty argument, at the same place.
    let plain = Region::on_heap(1, 31, 100, WorkerConfig::default(), &[]);
    assert!(plain.init_arg().is_empty());
    fn bump() {
        REMEMBERED.lock().unwrap().push((String::new(), Vec::new()));
    }
    plain_init_entry()(bump as fn() as usize, plain.init_arg()).unwrap();
    assert_eq!(REMEMBERED.lock().unwrap().len(), 2);
}
