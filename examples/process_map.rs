//! cargo run --release --example process_map --no-default-features --features processes
//!
//! One idea: CPU-bound work in separate processes, results straight from
//! shared memory. Watch for: the start mode (this program is single-threaded
//! when it builds the pool, so `Auto` forks the zygote directly), the
//! speed-up over the loop in this process, a crashing task that fails alone
//! while the pool goes on, and a 32 MiB result read in place (no copy).

use std::time::Instant;

use triad::processes::{ProcessPool, SharedBytes};

/// Count the primes below `n` by trial division (P2 of benchmarks.md).
fn count_primes(n: u64) -> u64 {
    (2..n)
        .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count() as u64
}

fn abort_if_seven(i: u64) -> u64 {
    if i == 7 {
        std::process::abort();
    }
    i
}

fn pattern(mib: usize) -> SharedBytes {
    SharedBytes::from((0..mib << 20).map(|i| i as u8).collect::<Vec<u8>>())
}

fn main() {
    let t0 = Instant::now();
    let pool = ProcessPool::builder().build().expect("build the pool");
    println!(
        "{} workers, zygote started by {:?} in {:?}",
        pool.workers(),
        pool.start_mode(),
        t0.elapsed()
    );

    let items = vec![200_000u64; 16];
    let t0 = Instant::now();
    let parallel = pool.map(count_primes, items.clone()).expect("map");
    let in_pool = t0.elapsed();
    let t0 = Instant::now();
    let sequential: Vec<u64> = items.into_iter().map(count_primes).collect();
    let here = t0.elapsed();
    assert_eq!(parallel, sequential);
    println!(
        "16 × primes below 200,000 = {}: pool {in_pool:?}, this process {here:?} (speed-up {:.2})",
        parallel[0],
        here.as_secs_f64() / in_pool.as_secs_f64()
    );

    for (i, outcome) in (0..10u64).map(|i| (i, pool.submit(abort_if_seven, i).wait())) {
        match outcome {
            Ok(v) => assert_eq!(v, i),
            Err(e) => println!("task {i}: {e}"),
        }
    }
    println!(
        "pool still works: {:?}",
        pool.submit(abort_if_seven, 8).wait()
    );

    let t0 = Instant::now();
    let bytes = pool.submit(pattern, 32).wait().expect("32 MiB result");
    let sum: u64 = bytes.iter().map(|&b| b as u64).sum();
    println!(
        "32 MiB result, in place: {}, checksum {sum}, in {:?}",
        bytes.is_in_place(),
        t0.elapsed()
    );
    drop(bytes);
    pool.shutdown();
}
