//! The zygote: a single-threaded process that forks the workers.
//!
//! ```text
//!   parent (any number of threads)
//!     │  command socket ─► (KILL serial, SHUTDOWN, KILL_ALL, SPAWN slot)
//!     │  ◄── report pipe   (HELLO, SPAWNED, EXITED, FORK_FAILED, GAVE_UP, GOODBYE)
//!     ▼
//!   zygote (one thread; forks, reaps, respawns; never runs a task)
//!     ├── fork ──► worker 0 ─┐
//!     ├── fork ──► worker 1 ─┼── tasks and results through the shared
//!     └── fork ──► ...      ─┘   region only (slot.rs), never a pipe
//! ```
//!
//! A pool's zygote forks its workers at once and replaces each that dies.
//! A [`Spawner`](super::Spawner)'s zygote (`one_shot` in the header's
//! config) forks none in advance: each SPAWN command forks one process for
//! one slot, which runs that slot's task and exits, and is not replaced
//! (`spawn.rs`).
//!
//! # Why a zygote
//!
//! `fork` copies one thread and every lock the other threads held at that
//! moment, held forever (stdout, a `Mutex`, a lock in a library). A worker
//! forked from a threaded parent can deadlock on its first `println!`. The
//! zygote holds no inherited lock because it is made in one of two ways:
//!
//! | [`StartMode`](super::StartMode) | how | costs |
//! |---|---|---|
//! | `Fork` | `fork` of the parent, allowed only while `/proc/self/task` lists one thread (else `BuildError::threaded_parent`) | one fork of the parent (page tables of its whole heap); workers share the parent's pages copy-on-write |
//! | `Exec` | `/proc/self/exe` run again; a `.init_array` constructor sees `TRIAD_ZYGOTE` in the environment and becomes the zygote before `main` (and before the test harness, the runtime, any thread) | an exec: loading the binary, dynamic linking, its constructors (~1 ms) |
//!
//! `Auto` (the default) takes `Fork` when the parent is single-threaded and
//! `Exec` otherwise: safe in either case, cheap when it can be.
//!
//! # Rules
//!
//! * **Z1.** The zygote is single-threaded, so its `fork`s are plain: a
//!   worker may allocate, lock and print from its first instruction. A
//!   forked zygote is so by construction (`build` checked the parent); an
//!   exec'd one checks it, since another library's constructor may have
//!   run before ours and started a thread: it then refuses to serve, and
//!   `build` fails instead of forking workers from a threaded process.
//! * **Z2.** The zygote and the workers die with their parent:
//!   `PR_SET_PDEATHSIG(SIGKILL)` then a `getppid()` check (the parent may
//!   have died before the prctl). For the zygote the parent's thread that
//!   started it is the pool's supervisor thread, which lives as long as the
//!   pool (the death signal follows the *thread*). The zygote also treats
//!   EOF on its command pipe as its parent's death.
//! * **Z3.** A function crosses as its offset from an anchor function of
//!   this binary ([`to_offset`] / [`from_offset`]): after an exec the binary
//!   sits at another base (ASLR), but every function keeps its distance
//!   from the anchor. Only functions of the main binary can cross (not of a
//!   shared library, which may be loaded elsewhere, or not at all, in the
//!   exec'd zygote); Rust links crates statically, so `fn` items of the
//!   program qualify. [`in_binary`] checks it (against the executable
//!   segments of the object holding the anchor, found once with
//!   `dl_iterate_phdr`), and the pool refuses any other function with a
//!   typed error instead of letting a worker jump to a wrong address. The
//!   check is made in both start modes, so that a program does not work
//!   single-threaded (`Fork`, where a library loaded before the fork would
//!   be mapped alike) and crash once it starts a thread (`Exec`).
//! * **Z4.** Every descriptor is close-on-exec; the exec'd zygote receives
//!   exactly the ones named in `TRIAD_ZYGOTE` (inheritable for the exec),
//!   closes every other it finds and makes those close-on-exec again (a
//!   program a task starts must inherit none); workers close the zygote's
//!   pipes and signalfd.
//! * **Z5.** Every child is reaped: the zygote reaps each worker (SIGCHLD
//!   through a signalfd, with SIGCHLD's default action restored first: a
//!   `SIG_IGN` inherited from the parent would have the kernel reap the
//!   workers without a status to see) and reports it; the parent's
//!   supervisor reaps the zygote. On shutdown the zygote says GOODBYE only
//!   once no worker is left.
//! * **Z6.** Reports about one worker come in the order it lived: SPAWNED
//!   before EXITED (one pipe, one writer). A slot of a spawner may get its
//!   next process while the one before, done with its task, is still
//!   exiting: the zygote keeps its live workers in a list, not one per
//!   index, and a serial names each: when the 24-bit serial counter wraps
//!   around, the serials of live workers are skipped, so no two live
//!   workers ever share one.
//! * **Z7.** A failed `fork` (EAGAIN or ENOMEM: a process or memory limit,
//!   often for a moment only) is retried with back-off, 10 ms doubling, up
//!   to [`FORK_ATTEMPTS`] tries (about 2.5 s in all); each failure is
//!   reported (FORK_FAILED, counted in `PoolStats::fork_failures`). Only
//!   after the last try does the zygote give that worker up (GAVE_UP); the
//!   pool goes on with the others and is broken only once every worker is
//!   given up. Tasks meanwhile wait in their slots for a worker. A spawner
//!   (one-shot, `spawn.rs`) does not retry: its task fails at once with a
//!   spawn failure, and the caller decides.
//! * **Z8.** A worker that fails to start is tried again, with back-off,
//!   and given up after [`START_ATTEMPTS`] failed starts in a row of its
//!   index. A failed start is one whose initializer panicked or whose
//!   argument did not decode (it exits with `INIT_FAILED` and bumps the
//!   header's counter, so a task's `exit(125)` is not taken for one), or
//!   one that died in any other way before the end of its start (an
//!   initializer that aborts, exits or segfaults, or runs past its
//!   `initializer_timeout`, whose kernel timer kills it; an allocation past
//!   the memory limit; a kill from outside): the header's started bit of
//!   its index, cleared before the fork and set by the worker once its
//!   start is over (after the timer is deleted), is still clear when it is
//!   reaped. The next try comes [`START_BACKOFF`] later, doubling; a worker
//!   of that index that finished its start, once reaped, sets the count
//!   back to zero. So a start that failed once (a worker killed during its
//!   initializer, a resource busy for a moment) costs the pool nothing,
//!   and a flaky initializer with `max_tasks_per_worker` shrinks the pool
//!   only after three failures in a row; while one that always fails (a
//!   bad configuration) is not retried in a loop of forks while the tasks
//!   wait for ever: given up, it counts towards a broken pool
//!   (`TaskError::is_broken`), as in Z7. A spawner (one-shot) does not
//!   retry.
//! * **Z9.** The zygote ignores the signals sent to a whole process group
//!   when its job is to end: SIGINT and SIGQUIT, which a terminal sends to
//!   its foreground group on Ctrl-C and Ctrl-\, SIGHUP when the terminal
//!   goes, and SIGTERM, which a service supervisor (systemd's default
//!   `KillMode=control-group`) sends to every process of the service: a
//!   program that catches them to shut down gracefully still has a pool
//!   (a zygote killed so would break it), and the zygote dies with its
//!   parent anyway (Z2). Each worker gets back the actions the zygote
//!   found, so a task is interrupted as the program's own code would be,
//!   and its worker is replaced. It gets them back before its initializer
//!   runs, so that an action the initializer sets stands (Python's idiom
//!   of workers that ignore SIGINT, leaving Ctrl-C to the parent); a
//!   worker that one of these signals ends during its initializer has not
//!   finished its start: Z8 counts a failed start. The zygote also blocks them,
//!   and a new worker unblocks them only once their actions are back: one
//!   sent to a worker as soon as it exists (a `kill` right after `spawn`)
//!   waits for its action instead of meeting the zygote's `SIG_IGN`, which
//!   would discard it.
//! * **Z10.** Before that, a zygote forked from a program whose event
//!   loops listen for signals (`event_loop::signal`) gives those signals
//!   back the actions they had before the loops' handler
//!   (`sys/signal.rs` rule 5): the handler writes to the loops' pipes,
//!   whose descriptors the zygote closes and a task may reuse for a file,
//!   and a worker has no loop to hear it. A worker thus takes SIGTERM or
//!   Ctrl-C as the program would without its listeners. (An exec'd zygote
//!   starts with default actions: exec resets caught signals.)

use std::ffi::{c_char, c_int, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::process::Child;
use std::time::{Duration, Instant};

use super::shm::Region;
use super::worker;
use crate::sync::atomic::Ordering;
use crate::sys::process::{self as sys, ExitStatus, Forked};

/// The environment variable that turns an exec of our binary into a zygote.
const ENV: &str = "TRIAD_ZYGOTE";
/// How long a graceful shutdown waits for idle workers to exit before
/// killing them.
const GRACE: Duration = Duration::from_secs(5);
/// Rule Z7: tries to fork one worker before giving it up.
pub(crate) const FORK_ATTEMPTS: u32 = 8;
/// Rule Z7: the wait after the first failed fork (doubling after each).
const FORK_BACKOFF: Duration = Duration::from_millis(10);
/// Rule Z8: failed starts in a row of one worker index before it is given
/// up.
pub(crate) const START_ATTEMPTS: u32 = 3;
/// Rule Z8: the wait after the first failed start (doubling after each).
const START_BACKOFF: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------- offsets (Z3)

/// The anchor of rule Z3: this binary's own constructor.
fn anchor() -> usize {
    start_zygote_if_asked as *const () as usize
}

/// A function address as an offset from the anchor (rule Z3).
pub(crate) fn to_offset(addr: usize) -> u64 {
    addr.wrapping_sub(anchor()) as u64
}

/// An offset from [`to_offset`] as an address in this process (rule Z3).
pub(crate) fn from_offset(offset: u64) -> usize {
    anchor().wrapping_add(offset as usize)
}

/// A function's address (from [`from_offset`], or `f as usize`) as a pointer
/// that a function pointer can be made of.
///
/// An `as` cast, never a `transmute` of the integer: a transmuted integer
/// is a pointer without provenance, and a call through it is undefined
/// behaviour (Miri reports it: "pointer not dereferenceable ... it has no
/// provenance"). The cast takes the provenance that `f as usize` exposed
/// in the process that made the address, or, after a fork or an exec, the
/// provenance of the same function at that address here (rule Z3).
pub(crate) fn code_ptr(addr: usize) -> *const () {
    addr as *const ()
}

/// Whether `addr` is code of the binary that holds the anchor, i.e. the
/// same function in every process the pool starts (rule Z3).
pub(crate) fn in_binary(addr: usize) -> bool {
    sys::code_of_object_containing(anchor()).contains(addr)
}

// ---------------------------------------------------------------- messages

/// Parent → zygote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// SIGKILL the worker with this serial, if alive (a timeout).
    Kill { serial: u32 },
    /// Stop respawning; workers exit when they see the shutdown flag; kill
    /// stragglers after a grace period.
    Shutdown,
    /// Kill every worker now.
    KillAll,
    /// One-shot mode: fork a process for the task in slot `index`
    /// (answered by SPAWNED, or GAVE_UP if the fork failed).
    Spawn { index: u32 },
}

/// Zygote → parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Report {
    Hello {
        pid: i32,
    },
    Spawned {
        index: u32,
        serial: u32,
        pid: i32,
    },
    Exited {
        index: u32,
        serial: u32,
        pid: i32,
        status: ExitStatus,
    },
    /// Forking worker `index` failed with `errno`; it will be retried
    /// (rule Z7).
    ForkFailed {
        index: u32,
        errno: i32,
    },
    /// Worker `index` cannot be started (its initializer failed, or every
    /// fork failed); it will not be respawned.
    GaveUp {
        index: u32,
    },
    Goodbye,
}

const COMMAND_LEN: usize = 16;
const REPORT_LEN: usize = 24;

impl Command {
    fn to_bytes(self) -> [u8; COMMAND_LEN] {
        let (op, arg) = match self {
            Command::Kill { serial } => (1u32, serial as u64),
            Command::Shutdown => (2, 0),
            Command::KillAll => (3, 0),
            Command::Spawn { index } => (4, index as u64),
        };
        let mut b = [0u8; COMMAND_LEN];
        b[..4].copy_from_slice(&op.to_le_bytes());
        b[8..].copy_from_slice(&arg.to_le_bytes());
        b
    }
    fn from_bytes(b: [u8; COMMAND_LEN]) -> Option<Command> {
        let op = u32::from_le_bytes(b[..4].try_into().ok()?);
        let arg = u64::from_le_bytes(b[8..].try_into().ok()?);
        match op {
            1 => Some(Command::Kill { serial: arg as u32 }),
            2 => Some(Command::Shutdown),
            3 => Some(Command::KillAll),
            4 => Some(Command::Spawn { index: arg as u32 }),
            _ => None,
        }
    }
}

impl Report {
    fn to_bytes(self) -> [u8; REPORT_LEN] {
        let w: [u32; 6] = match self {
            Report::Hello { pid } => [1, 0, 0, pid as u32, 0, 0],
            Report::Spawned { index, serial, pid } => [2, index, serial, pid as u32, 0, 0],
            Report::Exited {
                index,
                serial,
                pid,
                status,
            } => {
                let (kind, value) = match status {
                    ExitStatus::Exited(code) => (0, code),
                    ExitStatus::Signaled(sig) => (1, sig),
                };
                [3, index, serial, pid as u32, kind, value as u32]
            }
            Report::GaveUp { index } => [4, index, 0, 0, 0, 0],
            Report::Goodbye => [5, 0, 0, 0, 0, 0],
            Report::ForkFailed { index, errno } => [6, index, errno as u32, 0, 0, 0],
        };
        let mut b = [0u8; REPORT_LEN];
        for (chunk, word) in b.chunks_exact_mut(4).zip(w) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        b
    }

    fn from_bytes(b: [u8; REPORT_LEN]) -> Option<Report> {
        let mut w = [0u32; 6];
        for (word, chunk) in w.iter_mut().zip(b.chunks_exact(4)) {
            *word = u32::from_le_bytes(chunk.try_into().ok()?);
        }
        Some(match w[0] {
            1 => Report::Hello { pid: w[3] as i32 },
            2 => Report::Spawned {
                index: w[1],
                serial: w[2],
                pid: w[3] as i32,
            },
            3 => Report::Exited {
                index: w[1],
                serial: w[2],
                pid: w[3] as i32,
                status: if w[4] == 0 {
                    ExitStatus::Exited(w[5] as i32)
                } else {
                    ExitStatus::Signaled(w[5] as i32)
                },
            },
            4 => Report::GaveUp { index: w[1] },
            5 => Report::Goodbye,
            6 => Report::ForkFailed {
                index: w[1],
                errno: w[2] as i32,
            },
            _ => return None,
        })
    }

    /// Read one report (blocking); `Ok(None)` at EOF (the zygote is gone).
    pub(crate) fn read(pipe: &mut File) -> io::Result<Option<Report>> {
        let mut b = [0u8; REPORT_LEN];
        match pipe.read_exact(&mut b) {
            Ok(()) => Ok(Report::from_bytes(b)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Send one command over the command socket. Parent threads that send
/// concurrently hold the pool's command lock; MSG_NOSIGNAL keeps a dead
/// zygote from killing the parent with SIGPIPE.
pub(crate) fn send(socket: &File, command: Command) -> io::Result<()> {
    sys::send_all(socket, &command.to_bytes())
}

// ---------------------------------------------------------------- starting

/// The descriptors a zygote works with.
pub(crate) struct ZygoteFds {
    /// The zygote's end of the command socket.
    pub(crate) commands: File,
    /// Write end of the report pipe.
    pub(crate) reports: File,
    /// One eventfd per slot, in slot order.
    pub(crate) events: Vec<RawFd>,
}

/// Fork the zygote from this (single-threaded) process: `StartMode::Fork`.
/// Returns the zygote's pid; in the child, never returns.
///
/// # Safety
///
/// The calling process must have exactly one thread (rule Z1): the child
/// runs ordinary Rust code.
pub(crate) unsafe fn fork_zygote(region: &Region, fds: &ZygoteFds) -> io::Result<i32> {
    let parent = sys::getpid();
    // SAFETY: the caller guarantees a single thread (see `# Safety`), so the
    // child inherits no lock held by another thread.
    match unsafe { sys::fork() }? {
        Forked::Parent(pid) => Ok(pid),
        Forked::Child => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut keep = vec![
                    fds.commands.as_raw_fd(),
                    fds.reports.as_raw_fd(),
                    region.file().as_raw_fd(),
                ];
                keep.extend_from_slice(&fds.events);
                become_zygote(parent, &keep)?;
                Ok::<_, io::Error>(serve(region, fds))
            }));
            sys::exit_now(match code {
                Ok(Ok(code)) => code,
                _ => 126,
            })
        }
    }
}

/// Start the zygote by exec of `/proc/self/exe`: `StartMode::Exec`. Must be
/// called on the thread whose exit should kill the zygote (rule Z2).
pub(crate) fn exec_zygote(region: &Region, fds: &ZygoteFds) -> io::Result<Child> {
    // The constructor must be linked into the binary, or the exec would run
    // the program's `main` instead of a zygote: referencing the static pulls
    // in the object that holds it.
    std::hint::black_box(&START_ZYGOTE);
    let mut spec = format!(
        "v1:{}:{}:{}:{}:",
        sys::getpid(),
        region.file().as_raw_fd(),
        fds.commands.as_raw_fd(),
        fds.reports.as_raw_fd()
    );
    let events: Vec<String> = fds.events.iter().map(|fd| fd.to_string()).collect();
    spec.push_str(&events.join(","));
    let mut keep = vec![
        region.file().as_raw_fd(),
        fds.commands.as_raw_fd(),
        fds.reports.as_raw_fd(),
    ];
    keep.extend_from_slice(&fds.events);
    sys::spawn_self_exe(
        "triad-zygote",
        &[(ENV, OsStr::new(&spec))],
        &keep,
        libc::SIGKILL,
    )
}

/// The steps every zygote takes first: name, death signal, parent check,
/// SIGPIPE, descriptor hygiene (rules Z2, Z4).
fn become_zygote(parent: i32, keep: &[RawFd]) -> io::Result<()> {
    crate::sys::prctl::set_name(c"triad-zygote")?;
    crate::sys::prctl::set_parent_death_signal(libc::SIGKILL)?;
    if sys::getppid() != parent {
        // Rule Z2: the parent died before the prctl took effect.
        sys::exit_now(0);
    }
    sys::ignore_sigpipe();
    // Rule Z5: a SIGCHLD ignored by the parent (or by whoever started it)
    // would have the kernel reap our workers, unseen.
    sys::default_sigchld()?;
    // SAFETY: a zygote never returns from where it starts (the fork in
    // `fork_zygote`, the constructor in `start_zygote_if_asked`) and ends
    // with `_exit`: no object of the process it was copied from (fork) or
    // of the code before it (exec) that owns a closed descriptor is used or
    // dropped again. Those it does use are in `keep`.
    unsafe { sys::close_fds_except(keep) }?;
    // Rule Z4: kept across our exec, but no further.
    for &fd in keep {
        sys::set_cloexec(fd)?;
    }
    Ok(())
}

// `.init_array` constructors run before `main` in every program that links
// this crate. This one returns at once unless `TRIAD_ZYGOTE` is set, i.e.
// unless this process is an exec'd zygote.
//
// Not under Miri: it runs `.init_array` entries with no arguments (glibc
// passes argc, argv and envp), which it reports as a call with too few
// arguments; and it can exec no zygote anyway.
#[used]
#[cfg_attr(not(miri), link_section = ".init_array")]
static START_ZYGOTE: extern "C" fn(c_int, *const *const c_char, *const *const c_char) =
    start_zygote_if_asked;

// `inline(never)`: one instance of it in the binary, so that its address,
// the anchor of rule Z3, is the same wherever it is taken (an inlinable
// function may have a copy per codegen unit; Miri gives each reification of
// one its own address, and the offset round trip then misses).
#[inline(never)]
extern "C" fn start_zygote_if_asked(
    _argc: c_int,
    _argv: *const *const c_char,
    _envp: *const *const c_char,
) {
    let Some(spec) = std::env::var_os(ENV) else {
        return;
    };
    // Nothing else runs in this process yet: no thread to race the removal.
    std::env::remove_var(ENV);
    let code = std::panic::catch_unwind(|| run_exec_zygote(&spec)).unwrap_or(126);
    sys::exit_now(code)
}

struct Spec {
    parent: i32,
    shm: RawFd,
    commands: RawFd,
    reports: RawFd,
    events: Vec<RawFd>,
}

fn parse_spec(spec: &OsStr) -> Option<Spec> {
    let spec = std::str::from_utf8(spec.as_bytes()).ok()?;
    let mut parts = spec.split(':');
    if parts.next()? != "v1" {
        return None;
    }
    let mut next = || parts.next()?.parse::<i32>().ok();
    let (parent, shm, commands, reports) = (next()?, next()?, next()?, next()?);
    let events = spec
        .rsplit(':')
        .next()?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect::<Option<Vec<RawFd>>>()?;
    Some(Spec {
        parent,
        shm,
        commands,
        reports,
        events,
    })
}

fn run_exec_zygote(spec: &OsString) -> i32 {
    let Some(spec) = parse_spec(spec) else {
        return 127;
    };
    // Rule Z1.
    if sys::thread_count().map_or(true, |n| n != 1) {
        return 123;
    }
    let mut keep = vec![spec.shm, spec.commands, spec.reports];
    keep.extend_from_slice(&spec.events);
    if become_zygote(spec.parent, &keep).is_err() {
        return 126;
    }
    // SAFETY: the parent passed these descriptors to us across the exec for
    // exactly this use (rule Z4); nothing else in this fresh process owns
    // them.
    let (shm, commands, reports) = unsafe {
        (
            File::from_raw_fd(spec.shm),
            File::from_raw_fd(spec.commands),
            File::from_raw_fd(spec.reports),
        )
    };
    let Ok(region) = Region::open(shm) else {
        return 125;
    };
    let fds = ZygoteFds {
        commands,
        reports,
        events: spec.events,
    };
    serve(&region, &fds)
}

// ---------------------------------------------------------------- the loop

#[derive(Clone, Copy)]
struct Live {
    index: usize,
    pid: i32,
    serial: u32,
}

struct Zygote<'a> {
    region: &'a Region,
    fds: &'a ZygoteFds,
    sigchld: std::os::fd::OwnedFd,
    me: i32,
    /// The group signals' actions before the zygote ignored them, for its
    /// workers (rule Z9).
    group_signals: sys::GroupSignals,
    /// Workers forked and not reaped yet (rule Z6: a list, not one per
    /// index).
    live: Vec<Live>,
    /// Indices whose worker cannot be started (pool mode only).
    gave_up: Vec<bool>,
    /// Rule Z7: workers whose fork failed, with when to try again and how
    /// many tries are done; rule Z8: also workers whose start failed, with
    /// when to try again (and no failed fork yet).
    retries: Vec<Option<(Instant, u32)>>,
    /// Rule Z8: failed starts in a row, per index.
    start_failures: Vec<u32>,
    /// No worker in advance, none replaced (a spawner, `spawn.rs`).
    one_shot: bool,
    next_serial: u32,
    init_failures_seen: u32,
}

/// The zygote's loop; returns its exit code.
fn serve(region: &Region, fds: &ZygoteFds) -> i32 {
    let Ok(sigchld) = sys::sigchld_fd() else {
        return 124;
    };
    // Rule Z10: the event loops' signal handler is the parent's alone.
    #[cfg(feature = "event-loop")]
    if crate::sys::signal::disown_in_child().is_err() {
        return 124;
    }
    // Rule Z9: the signals that end a job are for the program, not for us.
    let Ok(group_signals) = sys::ignore_group_signals() else {
        return 124;
    };
    let workers = region.header().workers as usize;
    let mut z = Zygote {
        region,
        fds,
        sigchld,
        me: sys::getpid(),
        group_signals,
        live: Vec::new(),
        gave_up: vec![false; workers],
        retries: vec![None; workers],
        start_failures: vec![0; workers],
        one_shot: region.header().config.one_shot != 0,
        next_serial: 1,
        init_failures_seen: 0,
    };
    if z.report(Report::Hello { pid: z.me }).is_err() {
        return 0;
    }
    if !z.one_shot {
        for index in 0..workers {
            if z.spawn(index).is_err() {
                return z.kill_all_and_leave();
            }
        }
    }
    let mut stopping: Option<Instant> = None; // graceful deadline
    loop {
        if stopping.is_some() && z.live.is_empty() {
            let _ = z.report(Report::Goodbye);
            return 0;
        }
        let mut fds = [
            libc::pollfd {
                fd: z.fds.commands.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: z.sigchld.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let retry = z.retries.iter().flatten().map(|&(at, _)| at).min();
        let timeout = match (stopping, retry) {
            (Some(_), _) => Some(Duration::from_millis(50)),
            (None, Some(at)) => Some(at.saturating_duration_since(Instant::now())),
            (None, None) => None,
        };
        if sys::poll(&mut fds, timeout).is_err() {
            return z.kill_all_and_leave();
        }
        if fds[1].revents != 0 {
            sys::drain_signalfd(&z.sigchld);
        }
        // Reap on every turn (cheap with WNOHANG): a SIGCHLD may coalesce.
        // The parent sets the shutdown flag before it sends SHUTDOWN, and
        // workers leave as soon as they see the flag: a worker reaped before
        // the command is read must not be replaced either.
        // Acquire: pairs with the parent's Release store of the flag.
        let shutting_down =
            stopping.is_some() || z.region.header().shutdown.load(Ordering::Acquire) != 0;
        if z.reap(shutting_down).is_err() {
            return z.kill_all_and_leave();
        }
        if fds[0].revents != 0 {
            let mut b = [0u8; COMMAND_LEN];
            match (&z.fds.commands).read_exact(&mut b) {
                Ok(()) => match Command::from_bytes(b) {
                    Some(Command::Kill { serial }) => z.kill(|live| live.serial == serial),
                    Some(Command::Shutdown) => {
                        stopping = Some(Instant::now() + GRACE);
                        // The parent set the shutdown flag; wake sleepers.
                        z.region.header().work.ring(false);
                    }
                    Some(Command::KillAll) => {
                        stopping = Some(Instant::now());
                        z.kill(|_| true);
                    }
                    Some(Command::Spawn { index }) => {
                        let index = index as usize;
                        let result = if z.one_shot && stopping.is_none() && index < workers {
                            z.spawn(index)
                        } else {
                            // Not ours to start: say so, so that nobody
                            // waits for a process that will not come.
                            z.report(Report::GaveUp {
                                index: index as u32,
                            })
                        };
                        if result.is_err() {
                            return z.kill_all_and_leave();
                        }
                    }
                    None => {}
                },
                // EOF or error: the parent is gone (rule Z2).
                Err(_) => return z.kill_all_and_leave(),
            }
        }
        if let Some(deadline) = stopping {
            z.retries.iter_mut().for_each(|r| *r = None);
            if Instant::now() >= deadline {
                z.kill(|_| true);
            }
        }
        // Rule Z7: forks whose back-off is over.
        let now = Instant::now();
        for index in 0..z.retries.len() {
            if z.retries[index].is_some_and(|(at, _)| at <= now) && z.spawn(index).is_err() {
                return z.kill_all_and_leave();
            }
        }
    }
}

impl Zygote<'_> {
    fn report(&self, report: Report) -> io::Result<()> {
        (&self.fds.reports).write_all(&report.to_bytes())
    }

    fn spawn(&mut self, index: usize) -> io::Result<()> {
        let serial = self.take_serial();
        // Rule Z8: the new worker's start is not over yet.
        self.region.header().clear_started(index);
        let forked = if self.fork_fails_for_a_test() {
            Err(io::Error::from_raw_os_error(libc::EAGAIN))
        } else {
            // SAFETY: the zygote is single-threaded (rule Z1), so the child
            // may run ordinary code.
            unsafe { sys::fork() }
        };
        match forked {
            Ok(Forked::Child) => {
                let mut close = vec![
                    self.fds.commands.as_raw_fd(),
                    self.fds.reports.as_raw_fd(),
                    self.sigchld.as_raw_fd(),
                    self.region.file().as_raw_fd(),
                ];
                close.sort_unstable();
                worker::run(worker::Start {
                    region: self.region,
                    index,
                    serial,
                    zygote: self.me,
                    close: &close,
                    events: &self.fds.events,
                    group_signals: &self.group_signals,
                })
            }
            Ok(Forked::Parent(pid)) => {
                self.live.push(Live { index, pid, serial });
                self.retries[index] = None;
                self.report(Report::Spawned {
                    index: index as u32,
                    serial,
                    pid,
                })
            }
            Err(error) => {
                // Rule Z7.
                let tries = self.retries[index].map_or(1, |(_, tries)| tries + 1);
                self.report(Report::ForkFailed {
                    index: index as u32,
                    errno: error.raw_os_error().unwrap_or(0),
                })?;
                if self.one_shot || tries >= FORK_ATTEMPTS {
                    self.retries[index] = None;
                    self.gave_up[index] = true;
                    return self.report(Report::GaveUp {
                        index: index as u32,
                    });
                }
                let backoff = FORK_BACKOFF * 2u32.pow(tries - 1);
                self.retries[index] = Some((Instant::now() + backoff, tries));
                Ok(())
            }
        }
    }

    /// A serial for the next worker (rule Z6): the one after the last,
    /// within `1..=SERIAL_MASK`, skipping any that a live worker still
    /// has. After 2^24 forks the counter wraps around, and a worker that
    /// lived through them all must not share its serial with a new one:
    /// the parent would take the new one's death for its own (its claimed
    /// task abandoned while it runs on) and a KILL would hit both.
    fn take_serial(&mut self) -> u32 {
        let mask = super::slot::SERIAL_MASK;
        #[cfg(test)]
        {
            use crate::sync::atomic::Ordering::Relaxed;
            let skip = self.region.header().skip_serials.swap(0, Relaxed);
            let jumped = (u64::from(self.next_serial) - 1 + u64::from(skip)) % u64::from(mask);
            self.next_serial = jumped as u32 + 1;
        }
        loop {
            let serial = self.next_serial;
            self.next_serial = serial % mask + 1;
            // Ends: there are far fewer live workers than serials
            // (`MAX_SLOTS` at most).
            if !self.live.iter().any(|live| live.serial == serial) {
                return serial;
            }
        }
    }

    /// The test hook in the header (`Header::fail_forks`): take one
    /// injected failure if there is one. Always false outside unit tests.
    fn fork_fails_for_a_test(&self) -> bool {
        #[cfg(test)]
        {
            use crate::sync::atomic::Ordering::Relaxed;
            let hook = &self.region.header().fail_forks;
            hook.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
                .is_ok()
        }
        #[cfg(not(test))]
        false
    }

    fn reap(&mut self, stopping: bool) -> io::Result<()> {
        while let Some((pid, status)) = sys::waitpid(-1, true).or_else(|e| {
            if e.raw_os_error() == Some(libc::ECHILD) {
                Ok(None)
            } else {
                Err(e)
            }
        })? {
            let Some(position) = self.live.iter().position(|live| live.pid == pid) else {
                continue;
            };
            let live = self.live.swap_remove(position);
            let index = live.index;
            self.report(Report::Exited {
                index: index as u32,
                serial: live.serial,
                pid,
                status,
            })?;
            // Rule Z8: a worker that died before the end of its start
            // (its initializer aborted, or it ran out of memory under its
            // limit) may die again in its replacement: try again later, a
            // few times.
            // A pool's worker that finished its start did not fail it,
            // even if a task of it exits with `INIT_FAILED`'s code while
            // another worker's initializer has just bumped the counter.
            // (A spawner's process never sets its bit: rule Z6.)
            let started = !self.one_shot && self.region.header().has_started(index);
            let failed_to_start = (status == ExitStatus::Exited(worker::INIT_FAILED)
                && self.init_failed_again()
                && !started)
                || (!self.one_shot && !stopping && !started);
            if failed_to_start {
                self.start_failures[index] += 1;
                let failures = self.start_failures[index];
                if self.one_shot || stopping || failures >= START_ATTEMPTS {
                    self.gave_up[index] = true;
                    self.report(Report::GaveUp {
                        index: index as u32,
                    })?;
                } else {
                    let backoff = START_BACKOFF * 2u32.pow(failures - 1);
                    self.retries[index] = Some((Instant::now() + backoff, 0));
                }
            } else {
                if started {
                    self.start_failures[index] = 0;
                }
                if !stopping && !self.one_shot && !self.gave_up[index] {
                    self.spawn(index)?;
                }
            }
        }
        Ok(())
    }

    /// Whether the shared init-failure counter moved since we last looked
    /// (a worker exiting with INIT_FAILED from a task is not one).
    fn init_failed_again(&mut self) -> bool {
        use crate::sync::atomic::Ordering::Relaxed;
        let now = self.region.header().init_failures.load(Relaxed);
        let moved = now != self.init_failures_seen;
        self.init_failures_seen = now;
        moved
    }

    fn kill(&self, which: impl Fn(&Live) -> bool) {
        for live in &self.live {
            if which(live) {
                // The worker is not reaped yet (we reap), so the pid is
                // still its own.
                let _ = sys::kill(live.pid, libc::SIGKILL);
            }
        }
    }

    /// The parent is gone or the zygote cannot go on: kill and reap every
    /// worker (rule Z5), then leave.
    fn kill_all_and_leave(&mut self) -> i32 {
        self.kill(|_| true);
        for live in self.live.drain(..) {
            let _ = sys::waitpid(live.pid, false);
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for c in [
            Command::Kill { serial: 77 },
            Command::Shutdown,
            Command::KillAll,
            Command::Spawn { index: 9 },
        ] {
            assert_eq!(Command::from_bytes(c.to_bytes()), Some(c));
        }
        for r in [
            Report::Hello { pid: 5 },
            Report::Spawned {
                index: 1,
                serial: 2,
                pid: 3,
            },
            Report::Exited {
                index: 1,
                serial: 9,
                pid: 4,
                status: ExitStatus::Signaled(9),
            },
            Report::Exited {
                index: 0,
                serial: 9,
                pid: 4,
                status: ExitStatus::Exited(3),
            },
            Report::GaveUp { index: 2 },
            Report::Goodbye,
            Report::ForkFailed {
                index: 3,
                errno: libc::EAGAIN,
            },
        ] {
            assert_eq!(Report::from_bytes(r.to_bytes()), Some(r));
        }
    }

    fn double(x: u64) -> u64 {
        2 * x
    }

    fn die(_: ()) {
        std::process::abort();
    }

    #[test]
    #[cfg_attr(miri, ignore = "builds a real pool: fork, exec and a memfd")]
    fn a_failed_fork_is_retried_and_the_pool_goes_on() {
        // Rule Z7, with the zygote told to fail the next three forks: the
        // replacement of a crashed worker comes after three failures.
        let pool = crate::processes::ProcessPool::builder()
            .workers(1)
            .build()
            .unwrap();
        assert_eq!(pool.submit(double, 4).wait(), Ok(8));
        pool.inject_fork_failures(3);
        assert!(pool.submit(die, ()).wait().unwrap_err().is_crash());
        assert_eq!(pool.submit(double, 5).wait(), Ok(10));
        // The replacement may run the task before the supervisor has read
        // the zygote's SPAWNED report (the zygote writes it after the
        // fork): wait for the report, not for a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut stats = pool.stats();
        while stats.workers_started < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
            stats = pool.stats();
        }
        assert_eq!(stats.fork_failures, 3);
        assert_eq!(stats.workers_started, 2);
    }

    #[test]
    #[cfg_attr(miri, ignore = "builds a real pool: fork, exec and a memfd")]
    fn a_worker_whose_forks_keep_failing_is_given_up() {
        // Rule Z7: after FORK_ATTEMPTS failures the only worker is given up,
        // so the pool is broken and the waiting task says so.
        let pool = crate::processes::ProcessPool::builder()
            .workers(1)
            .build()
            .unwrap();
        pool.inject_fork_failures(FORK_ATTEMPTS + 5);
        assert!(pool.submit(die, ()).wait().unwrap_err().is_crash());
        let waiting = pool.submit(double, 1);
        assert!(waiting.wait().unwrap_err().is_broken());
        assert_eq!(pool.stats().fork_failures, u64::from(FORK_ATTEMPTS));
    }

    #[test]
    fn offsets_round_trip() {
        fn f(x: u8) -> u8 {
            x
        }
        let addr = f as fn(u8) -> u8 as usize;
        assert_eq!(from_offset(to_offset(addr)), addr);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri has no dl_iterate_phdr; no unsafe of ours beyond the walk"
    )]
    fn functions_of_the_binary_are_in_it_and_libc_is_not() {
        fn f(x: u8) -> u8 {
            x
        }
        assert!(in_binary(f as fn(u8) -> u8 as usize));
        assert!(in_binary(anchor()));
        assert!(!in_binary(libc::getpid as *const () as usize));
        assert!(!in_binary(0));
    }

    #[test]
    fn spec_parses() {
        let s = parse_spec(OsStr::new("v1:10:3:4:5:6,7,8")).unwrap();
        assert_eq!((s.parent, s.shm, s.commands, s.reports), (10, 3, 4, 5));
        assert_eq!(s.events, vec![6, 7, 8]);
        assert!(parse_spec(OsStr::new("v2:1")).is_none());
    }
}
