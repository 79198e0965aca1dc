//! The slice operations of `triad::threads` against sequential oracles, on
//! 1- and 2-thread pools: empty, 1-element, odd and large (1M) inputs;
//! panics reaching the caller; sorts of random, sorted, reversed,
//! all-equal and nearly sorted inputs, and one pass over a sorted one; a
//! non-commutative reduce keeping the order.
#![cfg(feature = "threads")]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

use triad::threads::{
    par_chunks, par_chunks_mut, par_for_each, par_map, par_map_reduce, par_reduce, par_sort_by_key,
    par_sort_unstable, par_sort_unstable_by, ThreadPool,
};

/// The lengths every operation is checked on.
const LENS: [usize; 8] = [0, 1, 2, 3, 17, 1_001, 65_537, 1_000_000];
/// The lengths the sorts are checked on: 300,001 elements still split
/// into dozens of pieces, at a third of the time of 1M in a debug build.
const SORT_LENS: [usize; 8] = [0, 1, 2, 3, 17, 1_001, 65_537, 300_001];

fn pools() -> Vec<ThreadPool> {
    [1, 2]
        .iter()
        .map(|&n| ThreadPool::builder().num_threads(n).build().unwrap())
        .collect()
}

/// SplitMix64, fixed seed.
fn random(len: usize, seed: u64) -> Vec<u64> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
        .collect()
}

/// Run `check` on every pool and, once, outside any pool (the global pool).
fn on_every_pool(check: impl Fn() + Send + Sync) {
    for pool in pools() {
        pool.install(&check).unwrap();
    }
    check();
}

#[test]
fn for_each_visits_every_element_once() {
    on_every_pool(|| {
        for len in LENS {
            let v: Vec<u64> = (0..len as u64).collect();
            let sum = AtomicU64::new(0);
            let count = AtomicUsize::new(0);
            par_for_each(&v, |x| {
                sum.fetch_add(*x, Relaxed);
                count.fetch_add(1, Relaxed);
            });
            assert_eq!(count.into_inner(), len);
            assert_eq!(sum.into_inner(), v.iter().sum::<u64>());
        }
    });
}

#[test]
fn map_matches_the_sequential_map() {
    on_every_pool(|| {
        for len in LENS {
            let v = random(len, 9);
            let f = |x: &u64| x.wrapping_mul(2_654_435_761) % 1_000_003;
            assert_eq!(
                par_map(&v, f),
                v.iter().map(f).collect::<Vec<_>>(),
                "len {len}"
            );
            // A type with a destructor, to exercise the moves.
            let strings = par_map(&v[..len.min(5_000)], |x| x.to_string());
            let oracle: Vec<String> = v[..len.min(5_000)].iter().map(u64::to_string).collect();
            assert_eq!(strings, oracle);
        }
    });
}

#[test]
fn map_of_slow_elements_splits_and_keeps_order() {
    // Each element takes about 20 µs: the probe ends after one element and
    // every split point is exercised.
    on_every_pool(|| {
        let v: Vec<u64> = (0..300).collect();
        let out = par_map(&v, |&x| {
            let end = std::time::Instant::now() + std::time::Duration::from_micros(20);
            while std::time::Instant::now() < end {
                std::hint::spin_loop();
            }
            x * 3
        });
        assert_eq!(out, v.iter().map(|x| x * 3).collect::<Vec<_>>());
    });
}

#[test]
fn reduce_matches_the_sequential_fold() {
    on_every_pool(|| {
        for len in LENS {
            let v = random(len, 8);
            let wrapping = par_reduce(&v, || 0, u64::wrapping_add);
            assert_eq!(wrapping, v.iter().fold(0u64, |a, &b| a.wrapping_add(b)));
            let max = par_map_reduce(&v, |&x| Some(x), || None, Option::max);
            assert_eq!(max, v.iter().copied().max());
        }
    });
}

/// 2x2 matrices of wrapping u64: multiplication is associative, not
/// commutative.
type Mat = [u64; 4];

fn mat_mul(a: Mat, b: Mat) -> Mat {
    let m = |x: u64, y: u64| x.wrapping_mul(y);
    [
        m(a[0], b[0]).wrapping_add(m(a[1], b[2])),
        m(a[0], b[1]).wrapping_add(m(a[1], b[3])),
        m(a[2], b[0]).wrapping_add(m(a[3], b[2])),
        m(a[2], b[1]).wrapping_add(m(a[3], b[3])),
    ]
}

#[test]
fn reduce_keeps_the_order_of_a_non_commutative_op() {
    on_every_pool(|| {
        for len in LENS {
            let r = random(len * 4, 7);
            let mats: Vec<Mat> = r.chunks(4).map(|c| [c[0], c[1], c[2], c[3]]).collect();
            let identity = || [1, 0, 0, 1];
            let oracle = mats.iter().fold(identity(), |a, &b| mat_mul(a, b));
            assert_eq!(par_reduce(&mats, identity, mat_mul), oracle, "len {len}");
        }
        // String concatenation, small and large.
        for len in [0, 1, 2, 3, 17, 1_001, 100_001] {
            let parts: Vec<String> = (0..len).map(|i| (i % 10).to_string()).collect();
            let joined = par_reduce(&parts, String::new, |a, b| a + &b);
            assert_eq!(joined, parts.concat(), "len {len}");
        }
    });
}

#[test]
fn chunks_see_every_chunk_with_its_index() {
    on_every_pool(|| {
        for len in LENS {
            let v = random(len, 6);
            for size in [1, 3, 1_000] {
                let seen = Mutex::new(Vec::new());
                par_chunks(&v, size, |index, chunk| {
                    seen.lock().unwrap().push((index, chunk.to_vec()));
                });
                let mut seen = seen.into_inner().unwrap();
                seen.sort();
                let oracle: Vec<(usize, Vec<u64>)> = v
                    .chunks(size)
                    .enumerate()
                    .map(|(i, c)| (i, c.to_vec()))
                    .collect();
                assert_eq!(seen, oracle, "len {len} size {size}");
                if len > 100_000 {
                    break; // the Vec of copies is slow enough at one size
                }
            }
        }
    });
}

#[test]
fn chunks_mut_write_every_element() {
    on_every_pool(|| {
        for len in LENS {
            for size in [1, 7, 4_096] {
                let mut v = vec![0usize; len];
                par_chunks_mut(&mut v, size, |index, chunk| {
                    for (k, x) in chunk.iter_mut().enumerate() {
                        *x = index * size + k;
                    }
                });
                assert!(v.iter().enumerate().all(|(i, &x)| i == x), "len {len}");
            }
        }
    });
}

#[test]
#[should_panic(expected = "non-zero")]
fn chunks_of_zero_are_refused() {
    par_chunks(&[1, 2, 3], 0, |_, _| ());
}

fn inputs(len: usize) -> Vec<(&'static str, Vec<u64>)> {
    let random = random(len, 5);
    let mut sorted = random.clone();
    sorted.sort_unstable();
    let reversed: Vec<u64> = sorted.iter().rev().copied().collect();
    let few: Vec<u64> = random.iter().map(|x| x % 4).collect();
    let mut few_descending = few.clone();
    few_descending.sort_unstable_by(|a, b| b.cmp(a));
    // Sorted but for its last element, the smallest: one run that breaks at
    // the very end.
    let mut last_out_of_place = sorted.clone();
    if len > 1 {
        last_out_of_place.rotate_left(1);
    }
    // Sorted but for one random swap per 1,000 elements.
    let mut few_swapped = sorted.clone();
    for pair in random.chunks_exact(2).take(len / 1_000) {
        few_swapped.swap(pair[0] as usize % len, pair[1] as usize % len);
    }
    vec![
        ("random", random),
        ("sorted", sorted),
        ("reversed", reversed),
        ("all equal", vec![42; len]),
        ("four values", few),
        ("four values, descending", few_descending),
        ("sorted but the last", last_out_of_place),
        ("sorted but a few swaps", few_swapped),
    ]
}

#[test]
fn sort_unstable_sorts() {
    on_every_pool(|| {
        for len in SORT_LENS {
            for (name, input) in inputs(len) {
                let mut oracle = input.clone();
                oracle.sort_unstable();
                let mut v = input.clone();
                par_sort_unstable(&mut v);
                assert!(v == oracle, "{name}, len {len}");
                let mut v = input;
                par_sort_unstable_by(&mut v, |a, b| b.cmp(a));
                oracle.reverse();
                assert!(v == oracle, "{name} descending, len {len}");
            }
        }
    });
}

/// A slice in order but for a few swapped elements keeps the order it has:
/// its pieces are partitioned by moving only the elements on the wrong side
/// and finished by moving the few out of place, a few comparisons per
/// element (a partition that scrambled it would leave std's sort about
/// `log2(len)` per element, 17 here).
#[test]
fn a_nearly_sorted_slice_is_sorted_with_few_comparisons() {
    on_every_pool(|| {
        let len = 100_000;
        let sorted: Vec<u64> = (0..len as u64).collect();
        let mut v = sorted.clone();
        for pair in random(20, 9).chunks_exact(2) {
            v.swap(pair[0] as usize % len, pair[1] as usize % len);
        }
        let comparisons = AtomicUsize::new(0);
        par_sort_unstable_by(&mut v, |a, b| {
            comparisons.fetch_add(1, Relaxed);
            a.cmp(b)
        });
        assert!(v == sorted);
        let made = comparisons.load(Relaxed);
        assert!(made < 8 * len, "{made} comparisons for {len} elements");
    });
}

/// A slice already in order, or in reverse order with repeats, is sorted in
/// one pass: at most one comparison per element (a sort that partitioned it
/// would make about `len * log2(len)`, and would scramble the run).
#[test]
fn a_sorted_or_reversed_slice_takes_one_pass() {
    on_every_pool(|| {
        let len = 100_000;
        let ascending: Vec<u64> = (0..len as u64).map(|x| x / 3).collect();
        let descending: Vec<u64> = ascending.iter().rev().copied().collect();
        for (name, input) in [("ascending", &ascending), ("descending", &descending)] {
            let comparisons = AtomicUsize::new(0);
            let mut v = input.clone();
            par_sort_unstable_by(&mut v, |a, b| {
                comparisons.fetch_add(1, Relaxed);
                a.cmp(b)
            });
            assert!(v == ascending, "{name}");
            let made = comparisons.load(Relaxed);
            assert!(made <= len, "{name}: {made} comparisons for {len} elements");
        }
    });
}

#[test]
fn sort_by_key_is_stable() {
    on_every_pool(|| {
        for len in SORT_LENS {
            // The first five: the last two add nothing for keys with repeats.
            for (name, input) in inputs(len).into_iter().take(5) {
                // Elements (key, original index): the key repeats a lot.
                let mut v: Vec<(u64, usize)> = input.iter().map(|&x| (x % 1_000, 0)).collect();
                for (i, e) in v.iter_mut().enumerate() {
                    e.1 = i;
                }
                let mut oracle = v.clone();
                oracle.sort_by_key(|e| e.0);
                par_sort_by_key(&mut v, |e| e.0);
                assert!(v == oracle, "{name}, len {len}");
            }
        }
    });
}

/// The message of a caught panic.
fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(String::new, |s| s.to_string()),
    }
}

#[test]
fn a_panic_in_any_element_reaches_the_caller() {
    on_every_pool(|| {
        for len in [1, 1_001, 1_000_000] {
            for bad in [0, len / 2, len - 1] {
                let v: Vec<usize> = (0..len).collect();
                let boom = |x: &usize| {
                    if *x == bad {
                        panic!("boom at {x}");
                    }
                };
                let expected = format!("boom at {bad}");
                let caught = catch_unwind(AssertUnwindSafe(|| par_for_each(&v, boom)));
                assert_eq!(message(caught.unwrap_err()), expected);
                let caught = catch_unwind(AssertUnwindSafe(|| {
                    par_map(&v, |x| {
                        boom(x);
                        x.to_string()
                    })
                }));
                assert_eq!(message(caught.unwrap_err()), expected);
                let caught = catch_unwind(AssertUnwindSafe(|| {
                    par_map_reduce(
                        &v,
                        |x| {
                            boom(x);
                            *x
                        },
                        || 0,
                        |a, b| a + b,
                    )
                }));
                assert_eq!(message(caught.unwrap_err()), expected);
                let caught = catch_unwind(AssertUnwindSafe(|| {
                    par_chunks(&v, 10, |_, c| c.iter().for_each(boom))
                }));
                assert_eq!(message(caught.unwrap_err()), expected);
                let mut w = v.clone();
                let caught = catch_unwind(AssertUnwindSafe(|| {
                    par_chunks_mut(&mut w, 10, |_, c| c.iter().for_each(boom))
                }));
                assert_eq!(message(caught.unwrap_err()), expected);
                let caught = catch_unwind(AssertUnwindSafe(|| {
                    par_sort_by_key(&mut w, |x| {
                        boom(x);
                        *x
                    })
                }));
                assert_eq!(message(caught.unwrap_err()), expected);
            }
            // A comparison that panics: the panic arrives, no element is lost.
            let mut w: Vec<usize> = (0..len).rev().collect();
            let caught = catch_unwind(AssertUnwindSafe(|| {
                par_sort_unstable_by(&mut w, |a, b| {
                    if *a == len / 2 || *b == len / 2 {
                        panic!("bad compare");
                    }
                    a.cmp(b)
                })
            }));
            if len > 1 {
                assert_eq!(message(caught.unwrap_err()), "bad compare");
            }
            w.sort_unstable();
            assert!(w.iter().enumerate().all(|(i, &x)| i == x));
        }
    });
}

#[test]
fn map_drops_the_results_made_before_a_panic() {
    static LIVE: AtomicUsize = AtomicUsize::new(0);
    struct Counted;
    impl Drop for Counted {
        fn drop(&mut self) {
            LIVE.fetch_sub(1, Relaxed);
        }
    }
    for pool in pools() {
        pool.install(|| {
            let v: Vec<usize> = (0..200_000).collect();
            let caught = catch_unwind(AssertUnwindSafe(|| {
                par_map(&v, |&x| {
                    if x == 150_000 {
                        panic!("stop");
                    }
                    LIVE.fetch_add(1, Relaxed);
                    Counted
                })
            }));
            assert!(caught.is_err());
            assert_eq!(LIVE.load(Relaxed), 0);
        })
        .unwrap();
    }
}

#[test]
fn a_comparison_that_is_no_total_order_loses_no_element() {
    // std's sort may panic on such a comparison (Rust 1.81+): whether it
    // does or not, the slice keeps exactly its elements.
    on_every_pool(|| {
        for len in [17, 1_001, 65_537] {
            let original: Vec<String> = random(len, 9).iter().map(|x| x.to_string()).collect();
            let mut v = original.clone();
            let state = AtomicU64::new(1);
            let _ = catch_unwind(AssertUnwindSafe(|| {
                par_sort_unstable_by(&mut v, |_, _| {
                    let x = state.fetch_add(0x9e37_79b9_7f4a_7c15, Relaxed);
                    [
                        std::cmp::Ordering::Less,
                        std::cmp::Ordering::Equal,
                        std::cmp::Ordering::Greater,
                    ][(x >> 61) as usize % 3]
                })
            }));
            let (mut sorted, mut expected) = (v, original);
            sorted.sort();
            expected.sort();
            assert_eq!(sorted, expected, "len {len}");
        }
    });
}

/// A slice of two values is settled by two partitions: the second, around
/// a pivot that is the smaller value, moves every element equal to it
/// aside for good (rule 9), instead of leaving the piece to std's sort.
#[test]
fn a_slice_of_two_values_is_settled_in_two_passes() {
    on_every_pool(|| {
        let len = 100_000;
        let mut v: Vec<u64> = random(len, 3).iter().map(|x| x % 2).collect();
        let zeros = v.iter().filter(|&&x| x == 0).count();
        let comparisons = AtomicUsize::new(0);
        par_sort_unstable_by(&mut v, |a, b| {
            comparisons.fetch_add(1, Relaxed);
            a.cmp(b)
        });
        assert!(v[..zeros].iter().all(|&x| x == 0) && v[zeros..].iter().all(|&x| x == 1));
        let made = comparisons.load(Relaxed);
        // 2.5 per element; 4.0 with the piece left to std's sort.
        assert!(made < 3 * len, "{made} comparisons for {len} elements");
    });
}
