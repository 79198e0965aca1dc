//! Processes: fork, exec of our own binary, reaping, signals, limits, and
//! where this program's code lies (`dl_iterate_phdr`).
//!
//! Wrappers for the process pool (`processes/`). `fork` is the one unsafe
//! entry point: after a fork in a multi-threaded process the child may only
//! make async-signal-safe calls, and only the caller can know whether that
//! holds (see `processes/zygote.rs` for how the pool makes sure).

use std::ffi::{c_int, c_void, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// What `fork` returned, in the process that sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forked {
    /// We are the child.
    Child,
    /// We are the parent; the child's pid.
    Parent(i32),
}

/// Fork the calling process.
///
/// # Safety
///
/// If the calling process has more than one thread, the child must call
/// only async-signal-safe functions until it execs or exits (another thread
/// may have held a lock, e.g. inside the allocator or stdout, at the moment
/// of the fork, and that lock stays held forever in the child).
pub(crate) unsafe fn fork() -> io::Result<Forked> {
    // SAFETY: fork takes no arguments; what the child may do afterwards is
    // the caller's obligation (see `# Safety`).
    let pid = syscall!(fork())?;
    Ok(if pid == 0 {
        Forked::Child
    } else {
        Forked::Parent(pid)
    })
}

/// How a child ended, decoded from a `waitpid` status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    /// It called `exit(code)` (or returned from `main`).
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
}

impl ExitStatus {
    fn from_raw(status: i32) -> Self {
        if libc::WIFSIGNALED(status) {
            ExitStatus::Signaled(libc::WTERMSIG(status))
        } else {
            ExitStatus::Exited(libc::WEXITSTATUS(status))
        }
    }
}

/// Reap one terminated child (`pid` or any with -1); `None` if none has
/// terminated and `nohang` was set. Stopped/continued children are skipped.
pub(crate) fn waitpid(pid: i32, nohang: bool) -> io::Result<Option<(i32, ExitStatus)>> {
    let mut status: libc::c_int = 0;
    let flags = if nohang { libc::WNOHANG } else { 0 };
    loop {
        // SAFETY: `status` is a live c_int on this frame.
        match syscall!(waitpid(pid, &mut status, flags)) {
            Ok(0) => return Ok(None),
            Ok(reaped) => return Ok(Some((reaped, ExitStatus::from_raw(status)))),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Send `signal` to process `pid`.
pub(crate) fn kill(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: kill touches no memory; a positive pid names one process.
    syscall!(kill(pid, signal))?;
    Ok(())
}

/// End the calling process now: no atexit handlers, no stdio flush, no
/// destructors (what a forked child must do instead of `exit`).
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is async-signal-safe and never returns.
    unsafe { libc::_exit(code) }
}

/// Write `message` to stderr with one `write(2)` (no lock, no allocation:
/// other threads may hold stdio's lock) and abort the process.
pub(crate) fn abort_with_message(message: &[u8]) -> ! {
    // SAFETY: `message` is a live slice of `len` bytes; write only reads it.
    // A failed or short write is ignored: the abort is what matters.
    let _ = unsafe { libc::write(libc::STDERR_FILENO, message.as_ptr().cast(), message.len()) };
    std::process::abort()
}

/// The parent's pid.
pub(crate) fn getppid() -> i32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getppid() }
}

/// The calling process's pid.
pub(crate) fn getpid() -> i32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getpid() }
}

/// A close-on-exec pipe: (read end, write end).
pub(crate) fn pipe() -> io::Result<(File, File)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a live array of two c_ints.
    syscall!(pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC))?;
    // SAFETY: both descriptors are new and owned by nobody else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// `poll(2)`; `None` = wait forever. An interrupted call counts as "nothing
/// ready" (Ok(0)).
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    let ms = match timeout {
        None => -1,
        // Round up so that a 0.5 ms timeout does not become a busy loop.
        Some(t) => t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int,
    };
    // SAFETY: `fds` is a live slice of pollfd for the duration of the call.
    match syscall!(poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms)) {
        Ok(n) => Ok(n as usize),
        Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Block SIGCHLD in the calling thread and return a non-blocking,
/// close-on-exec signalfd that becomes readable when a child changes state.
/// Meant for a single-threaded process (the zygote).
pub(crate) fn sigchld_fd() -> io::Result<OwnedFd> {
    // SAFETY: `set` is a live sigset_t; the calls only write into it.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        set
    };
    // SAFETY: `set` is initialised above; the old mask is not wanted (null).
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    // SAFETY: `set` is initialised; -1 asks for a new descriptor.
    let fd = syscall!(signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK))?;
    // SAFETY: a new descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Drain a signalfd made by [`sigchld_fd`].
pub(crate) fn drain_signalfd(fd: &OwnedFd) {
    // SAFETY: `info` is a live, writable signalfd_siginfo; the fd is
    // non-blocking, so the loop ends at EAGAIN.
    unsafe {
        let mut info: libc::signalfd_siginfo = std::mem::zeroed();
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        while libc::read(
            fd.as_raw_fd(),
            (&mut info as *mut libc::signalfd_siginfo).cast(),
            size,
        ) == size as isize
        {}
    }
}

/// In a freshly forked worker: unblock every signal, restore SIGCHLD's
/// default action and ignore SIGPIPE (as a Rust `main` does).
pub(crate) fn reset_signals_for_worker() -> io::Result<()> {
    // SAFETY: `set` is a live sigset_t filled by sigemptyset before use;
    // SIG_DFL / SIG_IGN are valid dispositions for these signals.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        let rc = libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    Ok(())
}

/// Restore SIGCHLD's default action. Under `SIG_IGN` (which `fork` and
/// `exec` both pass on) the kernel reaps children itself and `waitpid`
/// never sees their status; a process that reaps its children must undo
/// that.
pub(crate) fn default_sigchld() -> io::Result<()> {
    // SAFETY: SIG_DFL is a valid disposition for SIGCHLD; no handler runs.
    if unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) } == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The signals sent to a whole process group when its job is to end:
/// Ctrl-C (SIGINT) and Ctrl-\ (SIGQUIT) to a terminal's foreground group,
/// SIGHUP to it when the terminal goes, SIGTERM to every process of a
/// service when a supervisor (systemd's default `KillMode`) stops it.
pub(crate) const GROUP_SIGNALS: [libc::c_int; 4] =
    [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGTERM];

/// The actions [`GROUP_SIGNALS`] had before [`ignore_group_signals`], to
/// give back to a process forked afterwards.
#[derive(Clone, Copy)]
pub(crate) struct GroupSignals([libc::sigaction; GROUP_SIGNALS.len()]);

/// Ignore and block [`GROUP_SIGNALS`]; returns the actions they had.
///
/// Blocked too, so that a process forked afterwards, which inherits the
/// mask, keeps one of them sent to it before it restores their actions
/// ([`restore_group_signals`], then [`reset_signals_for_worker`]
/// unblocks): Linux discards an ignored signal when it is sent, unless it
/// is blocked.
pub(crate) fn ignore_group_signals() -> io::Result<GroupSignals> {
    // SAFETY: all-zero bytes are a valid sigaction (no flags, an empty
    // mask, SIG_DFL) and a valid array of them.
    let (mut ignore, mut saved): (libc::sigaction, GroupSignals) =
        unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
    ignore.sa_sigaction = libc::SIG_IGN;
    for (signal, old) in GROUP_SIGNALS.iter().zip(&mut saved.0) {
        // SAFETY: `ignore` is a valid action for any of these signals (none
        // is SIGKILL or SIGSTOP); the old one is written into a live
        // sigaction of ours.
        syscall!(sigaction(*signal, &ignore, old))?;
    }
    // SAFETY: `set` is a live sigset_t, emptied before use; the signals
    // are valid numbers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in GROUP_SIGNALS {
            libc::sigaddset(&mut set, signal);
        }
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
    }
    Ok(saved)
}

/// Give [`GROUP_SIGNALS`] back the actions [`ignore_group_signals`] saved
/// (in a process forked since: a saved handler is code of this same
/// binary, at the same address).
pub(crate) fn restore_group_signals(saved: &GroupSignals) -> io::Result<()> {
    for (signal, old) in GROUP_SIGNALS.iter().zip(&saved.0) {
        // SAFETY: an action the kernel gave us for this signal in this
        // address space (a fork keeps it); the old one is not wanted (null).
        syscall!(sigaction(*signal, old, std::ptr::null_mut()))?;
    }
    Ok(())
}

/// Ignore SIGPIPE (a write to a closed pipe then fails with EPIPE).
pub(crate) fn ignore_sigpipe() {
    // SAFETY: SIG_IGN is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Limit the calling process's address space to `bytes` (RLIMIT_AS).
pub(crate) fn limit_address_space(bytes: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: `limit` is a live rlimit on this frame.
    syscall!(setrlimit(libc::RLIMIT_AS, &limit))?;
    Ok(())
}

/// A POSIX timer (CLOCK_MONOTONIC) that sends the calling process
/// SIGKILL when it expires, unless dropped first: a bound on something
/// that must not hang, enforced by the kernel whatever the process does
/// with its signal handlers (SIGKILL has none).
pub(crate) struct KillTimer(libc::timer_t);

/// Arm a [`KillTimer`] for `after` (at least a nanosecond).
pub(crate) fn kill_self_after(after: std::time::Duration) -> io::Result<KillTimer> {
    // SAFETY: an all-zero sigevent is valid (no notification function, no
    // value); we fill in the notification kind and the signal.
    let mut event: libc::sigevent = unsafe { std::mem::zeroed() };
    event.sigev_notify = libc::SIGEV_SIGNAL;
    event.sigev_signo = libc::SIGKILL;
    let mut timer: libc::timer_t = std::ptr::null_mut();
    // SAFETY: `event` and `timer` are live locals of the right types.
    syscall!(timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer))?;
    let timer = KillTimer(timer);
    let at = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: after.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            // A zero value would disarm the timer: at least 1 ns.
            tv_nsec: (after.subsec_nanos().max((after.as_secs() == 0) as u32)) as _,
        },
    };
    // SAFETY: `timer.0` was just created; `at` is a live itimerspec.
    syscall!(timer_settime(timer.0, 0, &at, std::ptr::null_mut()))?;
    Ok(timer)
}

impl Drop for KillTimer {
    fn drop(&mut self) {
        // SAFETY: created by `kill_self_after` and deleted only here.
        unsafe { libc::timer_delete(self.0) };
    }
}

/// The CPUs the calling thread may run on.
pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: `set` is a live cpu_set_t of the size we pass.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == -1 {
            return Err(io::Error::last_os_error());
        }
        set
    };
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, `set` is initialised.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Pin the calling thread (the whole process, for a single-threaded one)
/// to `cpu`.
pub(crate) fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: `set` is a live cpu_set_t; `cpu` is checked against the set
    // size before CPU_SET writes the bit.
    unsafe {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// How many threads this process has: field 20 (`num_threads`) of
/// `/proc/self/stat`, one read of one small file (listing
/// `/proc/self/task` costs several times more, and `ProcessPool::build`
/// asks on every call).
pub(crate) fn thread_count() -> io::Result<usize> {
    let stat = std::fs::read("/proc/self/stat")?;
    parse_num_threads(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/self/stat"))
}

/// `num_threads` out of a `/proc/<pid>/stat` line. The command name (field
/// 2, in parentheses) may itself hold spaces and parentheses, so fields are
/// counted from the *last* `)`: field 3 (`state`) comes right after it.
fn parse_num_threads(stat: &[u8]) -> Option<usize> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    // Fields 3, 4, ...: `num_threads` (field 20) is the 18th.
    rest.split_ascii_whitespace().nth(17)?.parse().ok()
}

/// Close every descriptor above 2 except those in `keep`. For a process
/// that has just started (the zygote) and must hold nothing it was not
/// given on purpose.
///
/// # Safety
///
/// Closing a descriptor that an object (`File`, `OwnedFd`, ...) owns breaks
/// that object: the caller guarantees that no object owning one of the
/// descriptors closed here is used or dropped afterwards (in a forked
/// zygote, the parent's objects copied by the fork are never touched again:
/// it never returns from the fork, and ends with `_exit`).
pub(crate) unsafe fn close_fds_except(keep: &[RawFd]) -> io::Result<()> {
    // The fast way: close_range(2) (Linux 5.9) over each gap between the
    // descriptors we keep, a handful of system calls in all.
    let mut kept: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd > 2).collect();
    kept.sort_unstable();
    kept.dedup();
    let mut have_close_range = true;
    let mut low: RawFd = 3;
    for high in kept.iter().map(|&fd| fd - 1).chain([RawFd::MAX]) {
        if low <= high {
            // SAFETY: close_range touches no memory; closing these
            // descriptors is allowed by the caller (see `# Safety`).
            let closed = unsafe {
                libc::syscall(
                    libc::SYS_close_range,
                    low as libc::c_uint,
                    high as libc::c_uint,
                    0 as libc::c_uint,
                )
            };
            if closed == -1 {
                have_close_range = false;
                break;
            }
        }
        low = high.saturating_add(2);
    }
    if have_close_range {
        return Ok(());
    }
    // An older kernel (ENOSYS) or a seccomp filter that refuses the call:
    // list what is open and close it one by one.
    let mut open = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let name = entry?.file_name();
        if let Some(fd) = name.to_str().and_then(|s| s.parse::<RawFd>().ok()) {
            open.push(fd);
        }
    }
    // The listing's own directory fd is among them; it is closed by now
    // (read_dir's handle was dropped), so close() on it just fails.
    for fd in open {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: `fd` is not one we keep, and no object owning it is
            // used again (the caller's guarantee, see `# Safety`); EBADF
            // (the listing's own descriptor, closed by now) is ignored.
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

/// Set close-on-exec on `fd` (one received across an exec, where it had to
/// be inheritable).
pub(crate) fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor number touches no memory; a bad one
    // gives EBADF.
    let flags = syscall!(fcntl(fd, libc::F_GETFD))?;
    if flags & libc::FD_CLOEXEC == 0 {
        // SAFETY: as above.
        syscall!(fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC))?;
    }
    Ok(())
}

/// Run this program's own binary (`/proc/self/exe`) again, with `env`
/// added, `keep` inherited across the exec (every other descriptor of ours
/// is close-on-exec), and `death_signal` sent to it when the calling thread
/// exits. Standard streams are inherited.
pub(crate) fn spawn_self_exe(
    arg0: &str,
    env: &[(&str, &OsStr)],
    keep: &[RawFd],
    death_signal: i32,
) -> io::Result<Child> {
    let mut command = Command::new("/proc/self/exe");
    command.arg0(arg0);
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let keep = keep.to_vec();
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: it calls fcntl and prctl only and
    // neither allocates nor frees (`keep` was allocated before the fork and
    // is only read).
    unsafe {
        command.pre_exec(move || {
            for &fd in &keep {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
            }
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                death_signal as libc::c_ulong,
                0,
                0,
                0,
            ) == -1
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    };
    command.spawn()
}

/// CLOCK_MONOTONIC in nanoseconds: the same clock in every process of the
/// machine, so a worker's "claimed at" is comparable with the parent's now.
pub(crate) use super::clock::monotonic_ns;

/// Close a raw descriptor (a forked worker dropping the zygote's pipe
/// ends). EBADF is ignored.
///
/// # Safety
///
/// If an object (`File`, `OwnedFd`, ...) owns `fd`, the caller guarantees
/// that it is never used or dropped afterwards (it would act on a closed,
/// or reused, descriptor number).
pub(crate) unsafe fn close_raw(fd: RawFd) {
    // SAFETY: no object owning `fd` is used again (see `# Safety`); close on
    // a bad descriptor only returns EBADF.
    unsafe { libc::close(fd) };
}

/// A close-on-exec Unix stream socket pair (a pipe whose writer is never
/// killed by SIGPIPE: see [`send_all`]).
pub(crate) fn socketpair() -> io::Result<(File, File)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a live array of two c_ints.
    syscall!(socketpair(
        libc::AF_UNIX,
        libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
        0,
        fds.as_mut_ptr()
    ))?;
    // SAFETY: both descriptors are new and owned by nobody else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// Write all of `bytes` to a socket with MSG_NOSIGNAL: a closed peer is an
/// `EPIPE` error, never a SIGPIPE that would kill the caller.
pub(crate) fn send_all(socket: &File, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a live slice for the duration of the call.
        match syscall!(send(
            socket.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_NOSIGNAL
        )) {
            Ok(n) => bytes = &bytes[n as usize..],
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The executable segments of one loaded object (the program, or a shared
/// library), as address ranges in this process.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CodeRanges {
    ranges: [(usize, usize); 8],
    len: usize,
}

impl CodeRanges {
    /// Whether `addr` lies in one of the segments.
    pub(crate) fn contains(&self, addr: usize) -> bool {
        self.ranges[..self.len]
            .iter()
            .any(|&(start, end)| start <= addr && addr < end)
    }
}

/// The executable segments of the loaded object whose segments contain
/// `addr`, found once per process and cached: `addr` must be the same on
/// every call (the process pool's anchor function). Empty if no object
/// contains it.
pub(crate) fn code_of_object_containing(addr: usize) -> CodeRanges {
    // A per-process fact, like `sys/fork.rs`'s `Once`: no loom model needs
    // it, so it names std directly.
    static CACHE: std::sync::OnceLock<CodeRanges> = std::sync::OnceLock::new();
    *CACHE.get_or_init(|| find_code_of_object_containing(addr))
}

fn find_code_of_object_containing(addr: usize) -> CodeRanges {
    struct Search {
        addr: usize,
        found: CodeRanges,
    }

    // Runs under the dynamic loader's lock: it neither allocates nor
    // panics (a panic may not unwind out of an `extern "C" fn`).
    unsafe extern "C" fn visit(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: `data` is the `&mut Search` passed to dl_iterate_phdr
        // below, alive and not otherwise borrowed during the call; `info`
        // points to a valid dl_phdr_info for the duration of this callback.
        let (search, info) = unsafe { (&mut *data.cast::<Search>(), &*info) };
        if info.dlpi_phdr.is_null() {
            return 0;
        }
        // SAFETY: the loader guarantees `dlpi_phnum` program headers at
        // `dlpi_phdr` (checked non-null above), mapped while the object is.
        let headers =
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
        let base = info.dlpi_addr as usize;
        let segment = |vaddr: usize, memsz: usize| {
            let start = base.wrapping_add(vaddr);
            (start, start.saturating_add(memsz))
        };
        let holds_addr = headers.iter().any(|h| {
            let (start, end) = segment(h.p_vaddr as usize, h.p_memsz as usize);
            h.p_type == libc::PT_LOAD && start <= search.addr && search.addr < end
        });
        if !holds_addr {
            return 0;
        }
        for h in headers {
            if h.p_type == libc::PT_LOAD
                && h.p_flags & libc::PF_X != 0
                && search.found.len < search.found.ranges.len()
            {
                search.found.ranges[search.found.len] =
                    segment(h.p_vaddr as usize, h.p_memsz as usize);
                search.found.len += 1;
            }
        }
        1 // found: stop the iteration
    }

    let mut search = Search {
        addr,
        found: CodeRanges {
            ranges: [(0, 0); 8],
            len: 0,
        },
    };
    // SAFETY: `visit` matches the callback type and keeps its contract
    // (above); `search` outlives the call, which is synchronous.
    unsafe {
        libc::dl_iterate_phdr(Some(visit), (&mut search as *mut Search).cast::<c_void>());
    }
    search.found
}

#[cfg(test)]
mod stat_tests {
    use super::parse_num_threads;

    #[test]
    fn num_threads_is_counted_from_the_last_parenthesis() {
        // A command name with a space and a `)` in it must not shift the
        // fields: num_threads here is 7.
        let line = b"4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 7 0 \
                     1234 5678 90 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(parse_num_threads(line), Some(7));
        assert_eq!(parse_num_threads(b"4242 (cut) S 1 2"), None);
        assert_eq!(parse_num_threads(b"no parenthesis"), None);
    }

    #[test]
    #[cfg_attr(miri, ignore = "Miri has no /proc")]
    fn thread_count_sees_a_new_thread() {
        let before = super::thread_count().unwrap();
        assert!(before >= 1);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (up_tx, up_rx) = std::sync::mpsc::channel::<()>();
        let helper = std::thread::spawn(move || {
            up_tx.send(()).unwrap();
            let _ = rx.recv();
        });
        up_rx.recv().unwrap();
        // Other tests' threads come and go meanwhile; ours alone is certain.
        assert!(super::thread_count().unwrap() >= 2);
        drop(tx);
        helper.join().unwrap();
    }
}
