//! Design trap 4: when the parent dies (SIGKILL: no destructor runs), its
//! zygote and workers die too (PR_SET_PDEATHSIG, command-socket EOF), and
//! nobody is left behind.
#![cfg(feature = "processes")]

mod processes_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use processes_support::{assert_gone, within};
use triad::processes::ProcessPool;

fn double(x: u64) -> u64 {
    x * 2
}

/// The victim: run only by `killing_the_parent_kills_zygote_and_workers`, in
/// a child process. Builds a pool, prints its pids, then waits to be killed.
#[test]
#[ignore = "run as a child process by killing_the_parent_kills_zygote_and_workers"]
fn victim_parent() {
    let pool = ProcessPool::builder().workers(2).build().unwrap();
    assert_eq!(pool.submit(double, 2).wait().unwrap(), 4);
    let mut pids = vec![pool.zygote_pid()];
    pids.extend(pool.worker_pids());
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    println!("PIDS {}", list.join(" "));
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn killing_the_parent_kills_zygote_and_workers() {
    within(Duration::from_secs(60), || {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "victim_parent", "--nocapture"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pids: Vec<u32> = Vec::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("PIDS ") {
                pids = rest.split(' ').map(|p| p.parse().unwrap()).collect();
                break;
            }
        }
        assert_eq!(pids.len(), 3, "zygote and two workers");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert_gone(&pids);
    });
}
