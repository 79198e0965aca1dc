//! cargo run --release --example hash_files [-- DIR]
//!
//! One idea: `scope` lets parallel jobs borrow what lives on the caller's
//! stack. Every file under DIR (default: /usr/lib, at most 256 MiB of it,
//! files over 8 MiB skipped) is read once into memory; then a scope spawns
//! one job per file, each hashing a borrowed `&[u8]` and writing into its
//! own borrowed `&mut` result slot. No `Arc`, no channel, no `'static`: the
//! scope returns only when every job is done, so the borrows cannot outlive
//! the data. Watch the speed-up over the same loop on one thread (hashing is
//! CPU work, so it grows with the cores), and that both agree on every hash.
//! A job is the pool's unit of work: no job can finish before its largest
//! file is hashed, hence the cap (one 120 MiB file among 200 MiB would leave
//! one thread hashing it alone, for a speed-up below 2 on any number of cores).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use triad::threads::{scope, ThreadPool};

/// Stop collecting files past this many bytes, so the example stays quick.
const BYTE_BUDGET: u64 = 256 << 20;

/// Skip files bigger than this: one job per file, so the largest file bounds
/// the speed-up (the whole run lasts at least as long as its job).
const FILE_CAP: u64 = 8 << 20;

/// A missing or unreadable DIR, or one with no file to hash, is one plain
/// line on stderr and exit status 1.
fn main() -> ExitCode {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("/usr/lib"), PathBuf::from);
    let files = match read_files(&dir) {
        Ok(files) if files.is_empty() => {
            eprintln!("hash_files: no readable file under {}", dir.display());
            return ExitCode::FAILURE;
        }
        Ok(files) => files,
        Err(e) => {
            eprintln!("hash_files: cannot read directory {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    let total: usize = files.iter().map(|(_, bytes)| bytes.len()).sum();
    println!(
        "{} files, {:.1} MiB read from {}",
        files.len(),
        total as f64 / (1 << 20) as f64,
        dir.display()
    );

    let t = Instant::now();
    let sequential: Vec<u64> = files.iter().map(|(_, bytes)| hash(bytes)).collect();
    let one_thread = t.elapsed();

    let pool = ThreadPool::new().expect("a thread pool");
    let mut parallel = vec![0u64; files.len()];
    let t = Instant::now();
    pool.install(|| {
        scope(|s| {
            // Each job borrows one file's bytes and one result slot.
            for ((_, bytes), slot) in files.iter().zip(parallel.iter_mut()) {
                s.spawn(move |_| *slot = hash(bytes));
            }
        })
    })
    .expect("the pool runs the scope");
    let all_threads = t.elapsed();

    assert_eq!(sequential, parallel, "the pool and the loop disagree");
    for ((path, _), h) in files.iter().zip(&parallel).take(3) {
        println!("  {h:016x}  {}", path.display());
    }
    println!(
        "one thread: {:>7.1} ms\n{} threads:  {:>7.1} ms  ({:.2}x)",
        one_thread.as_secs_f64() * 1e3,
        pool.current_num_threads(),
        all_threads.as_secs_f64() * 1e3,
        one_thread.as_secs_f64() / all_threads.as_secs_f64()
    );
    ExitCode::SUCCESS
}

/// FNV-1a over 8 interleaved lanes, then folded: byte-at-a-time mixing, so
/// the work is CPU-bound and the same on any machine.
fn hash(bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut lanes = [0xcbf2_9ce4_8422_2325u64; 8];
    for chunk in bytes.chunks(8) {
        for (lane, &b) in lanes.iter_mut().zip(chunk) {
            *lane = (*lane ^ u64::from(b)).wrapping_mul(PRIME);
        }
    }
    lanes
        .iter()
        .fold(bytes.len() as u64, |acc, &l| (acc ^ l).wrapping_mul(PRIME))
}

/// Every regular file under `dir` (symlinks not followed) of at most
/// `FILE_CAP` bytes, until the next one would take the total past the budget. Only `dir` itself must be
/// readable: an unreadable directory or file below it is skipped.
fn read_files(dir: &Path) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    std::fs::read_dir(dir)?; // a missing DIR, or a file, is an error
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    let mut bytes = 0u64;
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue; // unreadable: skip it, as `du` would
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                if entry.metadata().map_or(true, |m| m.len() > FILE_CAP) {
                    continue;
                }
                if let Ok(data) = std::fs::read(entry.path()) {
                    if bytes + data.len() as u64 > BYTE_BUDGET {
                        return Ok(files); // "at most" the budget, as promised
                    }
                    bytes += data.len() as u64;
                    files.push((entry.path(), data));
                }
            }
        }
    }
    Ok(files)
}
