//! The zygote: a single-threaded process that forks the workers.
//!
//! ```text
//!   parent (any number of threads)
//!     │  command socket ─► (KILL serial, SHUTDOWN, KILL_ALL)
//!     │  ◄── report pipe   (HELLO, SPAWNED, EXITED, GAVE_UP, GOODBYE)
//!     ▼
//!   zygote (one thread; forks, reaps, respawns; never runs a task)
//!     ├── fork ──► worker 0 ─┐
//!     ├── fork ──► worker 1 ─┼── tasks and results through the shared
//!     └── fork ──► ...      ─┘   region only (slot.rs), never a pipe
//! ```
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
//!   through a signalfd) and reports it; the parent's supervisor reaps the
//!   zygote. On shutdown the zygote says GOODBYE only once no worker is left.

use std::ffi::{c_char, c_int, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::process::Child;
use std::time::{Duration, Instant};

use super::shm::Region;
use super::worker;
use crate::sys::process::{self as sys, ExitStatus, Forked};

/// The environment variable that turns an exec of our binary into a zygote.
const ENV: &str = "TRIAD_ZYGOTE";
/// How long a graceful shutdown waits for idle workers to exit before
/// killing them.
const GRACE: Duration = Duration::from_secs(5);

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
    /// Worker `index` cannot be started (its initializer failed, or fork
    /// failed); it will not be respawned.
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
    pid: i32,
    serial: u32,
}

struct Zygote<'a> {
    region: &'a Region,
    fds: &'a ZygoteFds,
    sigchld: std::os::fd::OwnedFd,
    me: i32,
    workers: Vec<Option<Live>>,
    gave_up: Vec<bool>,
    next_serial: u32,
    init_failures_seen: u32,
}

/// The zygote's loop; returns its exit code.
fn serve(region: &Region, fds: &ZygoteFds) -> i32 {
    let Ok(sigchld) = sys::sigchld_fd() else {
        return 124;
    };
    let workers = region.header().workers as usize;
    let mut z = Zygote {
        region,
        fds,
        sigchld,
        me: sys::getpid(),
        workers: vec![None; workers],
        gave_up: vec![false; workers],
        next_serial: 1,
        init_failures_seen: 0,
    };
    if z.report(Report::Hello { pid: z.me }).is_err() {
        return 0;
    }
    for index in 0..workers {
        if z.spawn(index).is_err() {
            return z.kill_all_and_leave();
        }
    }
    let mut stopping: Option<Instant> = None; // graceful deadline
    loop {
        if stopping.is_some() && z.workers.iter().all(Option::is_none) {
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
        let timeout = stopping.map(|_| Duration::from_millis(50));
        if sys::poll(&mut fds, timeout).is_err() {
            return z.kill_all_and_leave();
        }
        if fds[1].revents != 0 {
            sys::drain_signalfd(&z.sigchld);
        }
        // Reap on every turn (cheap with WNOHANG): a SIGCHLD may coalesce.
        if z.reap(stopping.is_some()).is_err() {
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
                    None => {}
                },
                // EOF or error: the parent is gone (rule Z2).
                Err(_) => return z.kill_all_and_leave(),
            }
        }
        if let Some(deadline) = stopping {
            if Instant::now() >= deadline {
                z.kill(|_| true);
            }
        }
    }
}

impl Zygote<'_> {
    fn report(&self, report: Report) -> io::Result<()> {
        (&self.fds.reports).write_all(&report.to_bytes())
    }

    fn spawn(&mut self, index: usize) -> io::Result<()> {
        let serial = self.next_serial;
        self.next_serial = (self.next_serial % super::slot::SERIAL_MASK) + 1;
        // SAFETY: the zygote is single-threaded (rule Z1), so the child may
        // run ordinary code.
        match unsafe { sys::fork() } {
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
                })
            }
            Ok(Forked::Parent(pid)) => {
                self.workers[index] = Some(Live { pid, serial });
                self.report(Report::Spawned {
                    index: index as u32,
                    serial,
                    pid,
                })
            }
            Err(_) => {
                self.gave_up[index] = true;
                self.report(Report::GaveUp {
                    index: index as u32,
                })
            }
        }
    }

    fn reap(&mut self, stopping: bool) -> io::Result<()> {
        while let Some((pid, status)) = sys::waitpid(-1, true).or_else(|e| {
            if e.raw_os_error() == Some(libc::ECHILD) {
                Ok(None)
            } else {
                Err(e)
            }
        })? {
            let Some(index) = self
                .workers
                .iter()
                .position(|w| w.is_some_and(|live| live.pid == pid))
            else {
                continue;
            };
            let live = self.workers[index].take().expect("found above");
            self.report(Report::Exited {
                index: index as u32,
                serial: live.serial,
                pid,
                status,
            })?;
            if status == ExitStatus::Exited(worker::INIT_FAILED) && self.init_failed_again() {
                self.gave_up[index] = true;
                self.report(Report::GaveUp {
                    index: index as u32,
                })?;
            } else if !stopping && !self.gave_up[index] {
                self.spawn(index)?;
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
        for live in self.workers.iter().flatten() {
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
        for live in self.workers.iter_mut() {
            if let Some(l) = live.take() {
                let _ = sys::waitpid(l.pid, false);
            }
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
        ] {
            assert_eq!(Report::from_bytes(r.to_bytes()), Some(r));
        }
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
