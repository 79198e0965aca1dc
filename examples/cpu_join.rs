//! cargo run --release --example cpu_join
//!
//! One idea: fork-join parallelism with `join`. A quicksort splits its slice
//! in two and sorts the halves with `join`, so idle workers steal the bigger
//! halves while the current thread keeps going. Watch the speed-up over the
//! same quicksort on one thread: it grows with the number of cores, less
//! than linearly, because the first partition passes run on one thread.

use std::time::Instant;

use triad::threads::{join, ThreadPool};

/// Below this, sorting in place is cheaper than splitting.
const SEQUENTIAL_BELOW: usize = 4096;

fn parallel_quicksort(v: &mut [u32]) {
    if v.len() < SEQUENTIAL_BELOW {
        v.sort_unstable();
        return;
    }
    let mid = partition(v);
    let (left, right) = v.split_at_mut(mid);
    join(|| parallel_quicksort(left), || parallel_quicksort(right));
}

/// The same algorithm without `join`: the fair baseline.
fn sequential_quicksort(v: &mut [u32]) {
    if v.len() < SEQUENTIAL_BELOW {
        v.sort_unstable();
        return;
    }
    let mid = partition(v);
    let (left, right) = v.split_at_mut(mid);
    sequential_quicksort(left);
    sequential_quicksort(right);
}

/// Hoare partition around the middle element; returns the split point.
fn partition(v: &mut [u32]) -> usize {
    let pivot = v[v.len() / 2];
    let (mut i, mut j) = (0, v.len() - 1);
    loop {
        while v[i] < pivot {
            i += 1;
        }
        while v[j] > pivot {
            j -= 1;
        }
        if i >= j {
            return j + 1;
        }
        v.swap(i, j);
        i += 1;
        j -= 1;
    }
}

fn random_numbers(n: usize) -> Vec<u32> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u32
        })
        .collect()
}

fn main() {
    let pool = ThreadPool::new().expect("thread pool");
    let data = random_numbers(5_000_000);

    let mut reference = data.clone();
    let start = Instant::now();
    reference.sort_unstable();
    let reference_time = start.elapsed();

    let mut sequential = data.clone();
    let start = Instant::now();
    sequential_quicksort(&mut sequential);
    let sequential_time = start.elapsed();

    let mut parallel = data;
    let start = Instant::now();
    pool.install(|| parallel_quicksort(&mut parallel))
        .expect("install");
    let parallel_time = start.elapsed();

    assert_eq!(sequential, reference, "the quicksort must sort");
    assert_eq!(parallel, reference, "the parallel quicksort must sort");
    println!("sorted 5,000,000 numbers");
    println!("  std sort_unstable (for reference) : {reference_time:>10.2?}");
    println!("  quicksort on one thread           : {sequential_time:>10.2?}");
    println!(
        "  quicksort with join, {} thread(s)   : {parallel_time:>10.2?}  (speed-up {:.2}x)",
        pool.current_num_threads(),
        sequential_time.as_secs_f64() / parallel_time.as_secs_f64()
    );
    let steals: u64 = pool.stats().iter().map(|s| s.steals).sum();
    println!("  halves stolen by idle workers: {steals}");
}
