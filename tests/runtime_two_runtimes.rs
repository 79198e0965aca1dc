//! Two runtimes in one program: a runtime built and run inside a blocking
//! job of another one is a runtime of its own; its `spawn_process` on a
//! full pool does not wait in place as if its loop were a blocking thread
//! of its own (blocking.rs rule 6 is per runtime).
#![cfg(feature = "runtime")]

mod runtime_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use runtime_support::within;
use triad::runtime::spawn_process;

const LIMIT: Duration = Duration::from_secs(60);

/// Waits (in its worker process) until the file at `path` exists.
fn wait_for_file(path: String) -> u64 {
    while !Path::new(&path).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    1
}

fn double(x: u64) -> u64 {
    x * 2
}

fn go_file() -> PathBuf {
    std::env::temp_dir().join(format!("triad-two-runtimes-{}", std::process::id()))
}

/// Runtime B runs on runtime A's only blocking thread. B's one result slot
/// holds a task that ends only once B's loop creates a file; B's second
/// `spawn_process`, made before that, must hand its wait for the slot to
/// B's blocking threads (bridge rule 4). Waiting in place, as on a blocking
/// thread of B, would keep B's loop from ever creating the file.
#[test]
fn a_runtime_inside_another_runtimes_blocking_job_does_not_wait_in_place_for_a_slot() {
    within(LIMIT, || {
        let go = go_file();
        let _ = std::fs::remove_file(&go);
        let a = runtime_support::one_of_each();
        let path = go.clone();
        let job = a.handle().spawn_blocking(move || {
            let b = triad::Runtime::builder()
                .threads(1)
                .processes(1)
                .process_pool(|pool| pool.slots_per_worker(1))
                .build()
                .unwrap();
            b.block_on(async move {
                let first = spawn_process(wait_for_file, path.to_string_lossy().into_owned());
                let second = spawn_process(double, 21); // the only slot is busy
                std::fs::write(&path, b"go").unwrap(); // only now can `first` end
                (first.await.unwrap(), second.await.unwrap())
            })
        });
        assert_eq!(job.join().unwrap(), (1, 42));
        let _ = std::fs::remove_file(&go);
        drop(a);
    });
}
