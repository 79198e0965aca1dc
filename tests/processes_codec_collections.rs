//! The standard collections a task's argument or result is most often made
//! of (maps, sets, deques) and `Duration` cross to a worker and back. The
//! codec's traits are the crate's own, so a program cannot implement them
//! for std's types itself (the orphan rule): without these impls a map had
//! to be copied into a `Vec` of pairs by hand. Corrupt bytes stay an error.
#![cfg(feature = "processes")]

mod processes_support;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

use processes_support::within;
use triad::processes::{decode_from_slice, encode_to_vec, ProcessPool, MAX_EMPTY_ITEMS};

/// Word counts, as a `collections.Counter` in a Python worker would give.
fn count_words(text: String) -> HashMap<String, u32> {
    let mut counts = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_string()).or_insert(0) += 1;
    }
    counts
}

/// The same counts, sorted by word, with the set of distinct counts.
fn sort_counts(counts: HashMap<String, u32>) -> (BTreeMap<String, u32>, BTreeSet<u32>) {
    let sorted: BTreeMap<_, _> = counts.into_iter().collect();
    let distinct = sorted.values().copied().collect();
    (sorted, distinct)
}

fn rotate(mut items: VecDeque<u8>) -> VecDeque<u8> {
    items.rotate_left(1);
    items
}

fn unique(items: Vec<u16>) -> HashSet<u16> {
    items.into_iter().collect()
}

fn twice(d: Duration) -> Duration {
    d * 2
}

#[test]
fn maps_sets_deques_and_durations_cross_to_a_worker_and_back() {
    within(Duration::from_secs(60), || {
        let pool = ProcessPool::builder().workers(1).build().unwrap();
        let counts = pool
            .submit(count_words, "a b a c b a".to_string())
            .wait()
            .unwrap();
        let expected: HashMap<String, u32> = [
            ("a".to_string(), 3),
            ("b".to_string(), 2),
            ("c".to_string(), 1),
        ]
        .into();
        assert_eq!(counts, expected);
        let (sorted, distinct) = pool.submit(sort_counts, counts).wait().unwrap();
        assert_eq!(sorted.into_iter().collect::<Vec<_>>(), {
            let mut v: Vec<_> = expected.into_iter().collect();
            v.sort();
            v
        });
        assert_eq!(distinct, BTreeSet::from([1, 2, 3]));
        assert_eq!(
            pool.submit(rotate, VecDeque::from([1, 2, 3])).wait(),
            Ok(VecDeque::from([2, 3, 1]))
        );
        assert_eq!(
            pool.submit(unique, vec![3, 1, 3, 2, 1]).wait(),
            Ok(HashSet::from([1, 2, 3]))
        );
        assert_eq!(
            pool.submit(twice, Duration::new(3, 600_000_000)).wait(),
            Ok(Duration::new(7, 200_000_000))
        );
        // Empty ones too.
        assert_eq!(
            pool.submit(count_words, String::new()).wait(),
            Ok(HashMap::new())
        );
    });
}

#[test]
fn corrupt_collections_are_errors_not_huge_allocations_or_panics() {
    // "2^40 entries follow", and none do.
    let lying = encode_to_vec(&(1u64 << 40));
    assert!(decode_from_slice::<HashMap<u64, u64>>(&lying).is_err_and(|e| e.is_eof()));
    assert!(decode_from_slice::<BTreeMap<u64, String>>(&lying).is_err_and(|e| e.is_eof()));
    assert!(decode_from_slice::<VecDeque<u32>>(&lying).is_err_and(|e| e.is_eof()));
    assert!(decode_from_slice::<HashSet<u8>>(&lying).is_err_and(|e| e.is_eof()));
    // Entries of no bytes are bounded as in a `Vec`.
    let empties = encode_to_vec(&((MAX_EMPTY_ITEMS as u64) + 1));
    assert!(decode_from_slice::<BTreeSet<()>>(&empties).is_err());
    assert!(decode_from_slice::<HashMap<(), ()>>(&empties).is_err());
    // Nanoseconds past a second are not a `Duration`; the largest one is.
    let bad_nanos = encode_to_vec(&(u64::MAX, 1_000_000_000u32));
    assert!(decode_from_slice::<Duration>(&bad_nanos).is_err());
    let max = encode_to_vec(&Duration::MAX);
    assert_eq!(decode_from_slice::<Duration>(&max), Ok(Duration::MAX));
}
