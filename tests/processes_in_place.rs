//! Byte buffers a task writes straight into its result slot
//! (`SharedBytes::from_fn`) and the parent reads where they lie.
#![cfg(feature = "processes")]

mod processes_support;

use std::time::Duration;

use processes_support::{no_leaks, within};
use triad::processes::{ProcessPool, SharedBytes};

/// `n` bytes where byte `i` is `(i * 7 + seed) % 251`.
fn expected(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| ((i * 7 + seed as usize) % 251) as u8)
        .collect()
}

fn carved(n: usize) -> SharedBytes {
    SharedBytes::from_fn(n, |buf| {
        // The buffer starts zeroed, even in a slot a previous task used.
        assert!(
            buf.iter().all(|&b| b == 0),
            "a carved buffer was not zeroed"
        );
        buf.copy_from_slice(&expected(n, 3));
    })
}

/// Two carved buffers around an ordinary field, and a copied one.
fn three_buffers(n: usize) -> (SharedBytes, u32, SharedBytes, SharedBytes) {
    let a = SharedBytes::from_fn(n, |buf| buf.copy_from_slice(&expected(n, 1)));
    let b = SharedBytes::from_fn(n + 1, |buf| buf.copy_from_slice(&expected(n + 1, 2)));
    let c = SharedBytes::from(expected(5, 9));
    (a, 0xfeed, b, c)
}

fn many_buffers(count: usize) -> Vec<SharedBytes> {
    (0..count)
        .map(|i| SharedBytes::from_fn(i * 100, |buf| buf.fill(i as u8)))
        .collect()
}

/// Reports which buffers were carved in the worker itself.
fn carved_in_worker(n: usize) -> (bool, bool) {
    let carved = SharedBytes::from_fn(n, |buf| buf.fill(1));
    let copied = SharedBytes::from(vec![1u8; n]);
    (carved.is_in_place(), copied.is_in_place())
}

fn too_big(n: usize) -> SharedBytes {
    SharedBytes::from_fn(n, |buf| buf.fill(0xaa))
}

fn keeps_a_view_past_its_task(n: usize) -> u8 {
    static KEPT: std::sync::Mutex<Vec<SharedBytes>> = std::sync::Mutex::new(Vec::new());
    let bytes = SharedBytes::from_fn(n, |buf| buf.fill(7));
    let first = bytes[0];
    KEPT.lock().unwrap().push(bytes);
    first
}

fn panics_after_carving(n: usize) -> SharedBytes {
    let bytes = SharedBytes::from_fn(n, |buf| buf.fill(7));
    assert_eq!(bytes.len(), n);
    panic!("gave up after carving {n} bytes");
}

fn double(x: u64) -> u64 {
    x * 2
}

#[test]
fn a_carved_buffer_is_written_and_read_in_place() {
    within(Duration::from_secs(60), || {
        no_leaks(
            || ProcessPool::builder().workers(1).build().unwrap(),
            |pool| {
                // The same slot, reused: every result is zeroed, then filled.
                for round in 0..4 {
                    let n = (1 << 20) + round * 4093;
                    let bytes = pool.submit(carved, n).wait().unwrap();
                    assert!(bytes.is_in_place());
                    assert_eq!(&*bytes, &expected(n, 3)[..]);
                }
                // In the worker, only the carved buffer lives in the slot.
                assert_eq!(
                    pool.submit(carved_in_worker, 64).wait().unwrap(),
                    (true, false)
                );
                // Outside a pool, from_fn makes an ordinary Vec.
                let here = carved(10);
                assert!(!here.is_in_place());
                assert_eq!(&*here, &expected(10, 3)[..]);
            },
        )
    });
}

#[test]
fn several_buffers_in_one_result_keep_their_order_and_bytes() {
    within(Duration::from_secs(60), || {
        no_leaks(
            || ProcessPool::builder().workers(2).build().unwrap(),
            |pool| {
                let (a, tag, b, c) = pool.submit(three_buffers, 100_000).wait().unwrap();
                assert_eq!(tag, 0xfeed);
                assert_eq!(&*a, &expected(100_000, 1)[..]);
                assert_eq!(&*b, &expected(100_001, 2)[..]);
                assert_eq!(&*c, &expected(5, 9)[..]);
                assert!(a.is_in_place() && b.is_in_place() && c.is_in_place());
                drop((a, b, c));

                let many = pool.submit(many_buffers, 50).wait().unwrap();
                assert_eq!(many.len(), 50);
                for (i, buf) in many.iter().enumerate() {
                    assert_eq!(buf.len(), i * 100);
                    assert!(buf.iter().all(|&x| x == i as u8));
                }
            },
        )
    });
}

#[test]
fn map_and_evicted_results_decode_carved_buffers_as_copies() {
    within(Duration::from_secs(60), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(2)
                    .slots_per_worker(1)
                    .build()
                    .unwrap()
            },
            |pool| {
                // map copies every result out of its slot.
                let sizes = vec![0usize, 1, 63, 64, 65, 4096, 100_000];
                let results = pool.map(carved, sizes.clone()).unwrap();
                for (n, bytes) in sizes.iter().zip(&results) {
                    assert!(!bytes.is_in_place());
                    assert_eq!(&**bytes, &expected(*n, 3)[..]);
                }
                // Unwaited handles: their results are evicted (copied out
                // with the carved buffers) when a submit needs the slot.
                let handles: Vec<_> = (0..12).map(|i| pool.submit(carved, 1000 + i)).collect();
                for (i, handle) in handles.into_iter().enumerate() {
                    let bytes = handle.wait().unwrap();
                    assert_eq!(&*bytes, &expected(1000 + i, 3)[..]);
                }
                assert!(pool.stats().evictions > 0);
            },
        )
    });
}

#[test]
fn a_buffer_larger_than_the_slot_is_a_too_large_error() {
    within(Duration::from_secs(60), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(1)
                    .result_capacity(1 << 20)
                    .build()
                    .unwrap()
            },
            |pool| {
                let error = pool.submit(too_big, 2 << 20).wait().unwrap_err();
                assert!(error.is_too_large(), "{error}");
                let (needed, capacity) = error.sizes().unwrap();
                assert_eq!(capacity, 1 << 20);
                assert!(needed >= 2 << 20, "needed {needed}");
                // The pool goes on; a buffer that fits is carved.
                let ok = pool.submit(too_big, 1000).wait().unwrap();
                assert!(ok.iter().all(|&b| b == 0xaa));
            },
        )
    });
}

#[test]
fn a_view_kept_past_its_task_stops_the_worker_not_the_pool() {
    within(Duration::from_secs(60), || {
        no_leaks(
            || ProcessPool::builder().workers(1).build().unwrap(),
            |pool| {
                let error = pool
                    .submit(keeps_a_view_past_its_task, 4096)
                    .wait()
                    .unwrap_err();
                assert!(error.is_crash(), "{error}");
                assert_eq!(error.signal(), Some(libc_sigabrt()));
                // A panic after carving is an ordinary task panic.
                let error = pool.submit(panics_after_carving, 4096).wait().unwrap_err();
                assert!(error.is_panic(), "{error}");
                assert!(error
                    .to_string()
                    .contains("gave up after carving 4096 bytes"));
                // The replacement worker runs the next task.
                assert_eq!(pool.submit(double, 21).wait().unwrap(), 42);
            },
        )
    });
}

fn libc_sigabrt() -> i32 {
    6
}
