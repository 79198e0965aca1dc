//! Which workloads a suite runs, and the watchdog that ends a hung one.
//!
//! `cargo bench --bench NAME -- W1 W3` runs only the named workloads (any
//! case); with no names, all of them, in the suite's order. A workload still
//! running after the suite's hang limit ends the process with status 2 and
//! its name: a lost wake-up would otherwise hang the bench silently. The
//! watchdog thread blocks on its channel, so it makes no wake-ups of its own
//! while a workload measures idle CPU (W6).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use super::report::Report;

/// A named workload run on a suite's context `C` (its pools or loops).
pub type Workload<C> = (&'static str, fn(&C, &mut Report));

/// The workloads named on the command line (`cargo bench` passes `--bench`;
/// any other argument names a workload). An unknown name ends the process
/// with status 2 before anything is built.
pub fn wanted<F>(suite: &str, workloads: &[(&str, F)]) -> Vec<String> {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for w in &wanted {
        if !workloads
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(w))
        {
            let known: Vec<&str> = workloads.iter().map(|(name, _)| *name).collect();
            eprintln!(
                "{suite} bench: unknown workload {w:?} (known: {})",
                known.join(" ")
            );
            std::process::exit(2);
        }
    }
    wanted
}

/// Whether workload `name` runs: it is named in `wanted`, or nothing is.
pub fn is_wanted(wanted: &[String], name: &str) -> bool {
    wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(name))
}

/// Runs the `wanted` workloads (all if none is named) in order on `context`,
/// each under a watchdog that ends the process if it runs past `hang_limit`.
pub fn run_wanted<C>(
    suite: &'static str,
    workloads: &[Workload<C>],
    wanted: &[String],
    hang_limit: Duration,
    context: &C,
    out: &mut Report,
) {
    let watchdog = watchdog(suite, hang_limit);
    for (name, run) in workloads {
        if is_wanted(wanted, name) {
            watchdog.send(Some(name)).expect("watchdog");
            run(context, out);
            watchdog.send(None).expect("watchdog");
        }
    }
}

/// The watchdog thread: told the name of each workload as it starts
/// (`Some`) and when it ends (`None`); exits the process if one runs longer
/// than `limit`. It ends when the sender is dropped.
fn watchdog(suite: &'static str, limit: Duration) -> mpsc::Sender<Option<&'static str>> {
    let (tx, rx) = mpsc::channel::<Option<&'static str>>();
    thread::spawn(move || {
        let mut running = None;
        loop {
            let msg = match running {
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(_) => rx.recv_timeout(limit),
            };
            match msg {
                Ok(next) => running = next,
                Err(RecvTimeoutError::Timeout) => {
                    eprintln!(
                        "{suite} bench: {} still running after {} s: it hangs",
                        running.unwrap_or("?"),
                        limit.as_secs()
                    );
                    std::process::exit(2);
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    });
    tx
}
