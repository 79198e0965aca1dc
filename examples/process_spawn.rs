//! cargo run --release --example process_spawn --no-default-features --features processes
//!
//! One idea: run one risky function in a process of its own, as Python's
//! `multiprocessing.Process`, and learn exactly how it ended. Watch for:
//! each line naming a different end (a value, a panic's message, an exit
//! code, a signal, a kill, a timeout), each from a new pid, and this
//! program living through all of them. The panic's usual message on stderr
//! comes from the child's panic hook.

use std::time::Duration;

use triad::processes::{self, SpawnHandle, TaskError};

/// Parse a number, the risky way: a plain `fn`, so it can run in a process
/// forked from this program's zygote.
fn parse(text: String) -> u64 {
    match text.as_str() {
        "exit" => std::process::exit(3),
        "abort" => std::process::abort(),
        "hang" => loop {
            std::thread::sleep(Duration::from_secs(1));
        },
        _ => text.parse().expect("not a number"),
    }
}

fn report(input: &str, process: SpawnHandle<u64>) {
    let pid = process.pid().unwrap_or(0);
    let outcome = process.wait();
    let how = match &outcome {
        Ok(value) => format!("returned {value}"),
        Err(e) if e.is_panic() => format!("panicked: {}", e.panic_message().unwrap_or("?")),
        Err(e) => match (e.exit_code(), e.signal()) {
            (Some(code), _) => format!("exited with code {code}"),
            (_, Some(signal)) => format!("died of signal {signal}"),
            _ if e.is_killed() => "was killed".to_string(),
            _ if e.is_timeout() => "ran out of time".to_string(),
            _ => format!("{e}"),
        },
    };
    println!("{input:>8} in pid {pid:>7}: {how}");
}

fn main() {
    for input in ["42", "forty-two", "exit", "abort"] {
        report(input, processes::spawn(parse, input.to_string()));
    }
    let hung = processes::spawn(parse, "hang".to_string());
    hung.kill();
    report("hang", hung);
    let slow = processes::spawn_timeout(parse, "hang".to_string(), Duration::from_millis(200));
    report("hang", slow);
    let outcome: Result<u64, TaskError> = processes::spawn(parse, "7".to_string()).wait();
    println!("and this process is still here: {outcome:?}");
}
