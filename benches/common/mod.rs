//! What the three bench suites share: the summary of repetitions, the
//! percentile, the clocks, and (in `report`) the alternation of contenders
//! and the table and JSON output, and (in `run`) which workloads run under
//! a watchdog. Each suite includes it with `mod common;`.
#![allow(dead_code)] // each suite uses a different part

pub mod report;
pub mod run;

use std::time::{Duration, Instant};

/// CPU time (user + system) the whole process has used so far.
pub fn process_cpu() -> Duration {
    // SAFETY: `libc::rusage` is a plain C struct of integers, for which the
    // all-zero bit pattern is a valid value; `getrusage` only writes into the
    // struct we pass, which is a live, exclusive local for the whole call.
    let (rc, ru) = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        let rc = libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        (rc, ru)
    };
    assert_eq!(
        rc,
        0,
        "getrusage failed: {}",
        std::io::Error::last_os_error()
    );
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// The CPU-time clocks of this process's threads, as they were when it was
/// made: [`ThreadClocks::total`] sums them, each read at that moment.
///
/// `getrusage(RUSAGE_SELF)` ([`process_cpu`]) adds up what the kernel has
/// accounted, and a thread running on another CPU has its time since it
/// was last scheduled in accounted only at its next tick or context switch:
/// since Linux 4.8 (commit a1eb1411b4e4, "sched/cputime: Improve
/// scalability by not accounting thread group tasks pending runtime") the
/// sum skips other running threads' pending time. A thread's own clock
/// includes it. W6 needs that: the worker that ran the burst may still be
/// running (looking for work before it sleeps) when the idle second starts,
/// and `getrusage` would then bill most of the burst to that second.
pub struct ThreadClocks(Vec<libc::clockid_t>);

impl ThreadClocks {
    /// The clocks of the threads alive now (`/proc/self/task`).
    pub fn of_this_process() -> ThreadClocks {
        let tasks = std::fs::read_dir("/proc/self/task").expect("reading /proc/self/task");
        let tids = tasks
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<libc::pid_t>().ok());
        // Thread `tid`'s CPU-time clock: MAKE_THREAD_CPUCLOCK(tid,
        // CPUCLOCK_SCHED) of linux/posix-timers.h.
        ThreadClocks(tids.map(|tid| ((!tid) << 3) | 6).collect())
    }

    /// The CPU time of those threads so far, up to this moment.
    pub fn total(&self) -> Duration {
        let mut total = Duration::ZERO;
        for &clock in &self.0 {
            let mut now = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `clock_gettime` writes only into `now`, a live local.
            // A thread that has exited meanwhile makes it fail (EINVAL):
            // it has nothing more to add.
            if unsafe { libc::clock_gettime(clock, &mut now) } == 0 {
                total += Duration::new(now.tv_sec as u64, now.tv_nsec as u32);
            }
        }
        total
    }
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Nearest-rank percentile (`q` in 0..=1) of a sorted slice.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Median, min and max of the timed repetitions.
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Summary {
    pub fn of(samples: &[f64]) -> Summary {
        assert!(!samples.is_empty());
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        };
        Summary {
            median,
            min: s[0],
            max: s[n - 1],
            n,
        }
    }
}

/// SplitMix64: a small fixed-seed generator for the workloads' inputs.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Nanoseconds from `epoch` to now.
pub fn nanos_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// Wait until every other thread of this process has gone to sleep: each
/// is in state `S` (or `D`, `T`, `t`, `I`) and none ran in the last
/// millisecond, by its run time in `/proc/self/task/*/schedstat`. This is
/// the "peer's threads are given time to park" of `benchmarks.md`, taken
/// literally: the pause lasts as long as the slowest pool takes to park,
/// not a fixed guess. Waits at least `min` and at most `max`; returns how
/// long it waited.
pub fn wait_until_parked(min: Duration, max: Duration) -> Duration {
    let start = Instant::now();
    let me = std::process::id();
    // SAFETY: gettid has no preconditions and cannot fail.
    let my_tid = unsafe { libc::gettid() } as u32;
    let snapshot = || -> Option<(u64, bool)> {
        let mut run_ns = 0u64;
        let mut all_asleep = true;
        for entry in std::fs::read_dir(format!("/proc/{me}/task")).ok()? {
            let tid = entry.ok()?.file_name();
            let tid = tid.to_str()?;
            if tid.parse::<u32>().ok()? == my_tid {
                continue;
            }
            // A thread that exits between the listing and the reads is
            // skipped.
            let Ok(sched) = std::fs::read_to_string(format!("/proc/{me}/task/{tid}/schedstat"))
            else {
                continue;
            };
            run_ns += sched.split_whitespace().next()?.parse::<u64>().ok()?;
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{me}/task/{tid}/stat")) else {
                continue;
            };
            // The state is the first field after the parenthesised name.
            let state = stat.rsplit(')').next()?.split_whitespace().next()?;
            all_asleep &= matches!(state, "S" | "D" | "T" | "t" | "I");
        }
        Some((run_ns, all_asleep))
    };
    std::thread::sleep(min);
    let mut last = snapshot();
    while start.elapsed() < max {
        std::thread::sleep(Duration::from_millis(1));
        let now = snapshot();
        match (last, now) {
            (Some((before, _)), Some((after, true))) if before == after => break,
            (None, _) | (_, None) => {
                // No /proc: fall back to the whole fixed pause.
                std::thread::sleep(max.saturating_sub(start.elapsed()));
                break;
            }
            _ => {}
        }
        last = now;
    }
    start.elapsed()
}
