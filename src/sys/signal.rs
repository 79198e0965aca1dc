//! Signals as bytes on a pipe: a process-wide `sigaction` handler that
//! counts each delivery and writes one byte to every claimed self-pipe, so
//! that an event loop can wait for signals in `epoll` like for a socket.
//!
//! `signalfd` would need the signal blocked in *every* thread of the
//! process, which a library cannot arrange (threads it did not start keep
//! the default mask, and the signal would be delivered to them instead).
//! A handler works whatever the masks.
//!
//! ```text
//!   process-wide, in statics (a handler can reach nothing else):
//!     COUNTS[signo]    deliveries so far               handler: fetch_add
//!     PIPES[i]         write ends of the self-pipes    handler: load, write(2)
//!     CLAIMED[i]       pipe i belongs to a live loop   claim / release (CAS)
//!     LISTENERS[signo] listeners, process-wide         under LOCK
//!     PREVIOUS[signo]  disposition before ours         under LOCK
//!
//!   handler(signo): save errno; COUNTS[signo] += 1; for each pipe with a
//!                   write end: write 1 byte (EAGAIN: full, already
//!                   readable; ignored); restore errno.
//! ```
//!
//! Rules:
//!
//! 1. **Async-signal-safe.** The handler touches only lock-free atomics and
//!    calls only `write(2)`, and it leaves `errno` as it found it. It never
//!    takes `LOCK` (a handler that interrupted the lock's holder would spin
//!    forever).
//! 2. **Pipes are never closed.** A pipe's fds are published once, when its
//!    slot is first claimed, and stay open for the life of the process; a
//!    released slot keeps its pipe for the next claimer (who drains stale
//!    bytes first). So the fd a handler loaded always names that pipe,
//!    never a file that reused the number.
//! 3. **Count, then write.** The handler bumps the count before it writes
//!    the byte (Release), and a loop reads the count (Acquire) after the
//!    byte woke it: a listener woken by the byte sees the new count.
//! 4. **First installs, last restores.** `listen` and `unlisten` run under
//!    `LOCK`: the listener count going 0 → 1 installs the handler and saves
//!    the previous disposition, 1 → 0 restores it. Counts and saved
//!    dispositions are only touched under the lock.
//! 5. **Not in a child that runs no loop.** A process forked from this one
//!    keeps the handler and the statics, but none of the loops that read
//!    the pipes; and if it closes the descriptors it inherited (the process
//!    pool's zygote does, and its workers open files of their own), rule
//!    2 no longer holds there, and the handler's byte could land in a file
//!    that reused a pipe's number. Such a child calls [`disown_in_child`]
//!    first: each signal the handler still holds gets back the disposition
//!    it had before `listen` installed it, so the child takes its signals
//!    as the program would without its loops' listeners.
//!
//! The event loop's side (per-loop pipe, listeners, wake-ups) is
//! `event_loop/signal.rs`.

use std::io;
use std::os::fd::RawFd;
use std::ptr;

use crate::sync::process_global::{AtomicPtr, AtomicU64, Ordering::*};

/// Signal numbers with a slot (Linux's standard signals are 1..=31).
const MAX_SIGNAL: usize = 32;
/// Loops that may listen for signals at once (one self-pipe each).
pub(crate) const PIPES: usize = 64;
const NO_FD: u64 = u64::MAX;

static COUNTS: [AtomicU64; MAX_SIGNAL] = [const { AtomicU64::new(0) }; MAX_SIGNAL];
static WRITE_FDS: [AtomicU64; PIPES] = [const { AtomicU64::new(NO_FD) }; PIPES];
static READ_FDS: [AtomicU64; PIPES] = [const { AtomicU64::new(NO_FD) }; PIPES];
static CLAIMED: [AtomicU64; PIPES] = [const { AtomicU64::new(0) }; PIPES];
static LISTENERS: [AtomicU64; MAX_SIGNAL] = [const { AtomicU64::new(0) }; MAX_SIGNAL];
static PREVIOUS: [AtomicPtr<libc::sigaction>; MAX_SIGNAL] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_SIGNAL];
/// Rule 4's lock: 0 free, 1 held.
static LOCK: AtomicU64 = AtomicU64::new(0);

extern "C" fn handler(signo: libc::c_int) {
    // Rule 1. SAFETY: `__errno_location` is async-signal-safe and returns
    // this thread's errno, valid for the thread's life.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: `errno` is valid (above).
    let saved = unsafe { *errno };
    if let Some(count) = COUNTS.get(signo as usize) {
        // Rule 3: Release pairs with the Acquire in `count`, after the byte
        // below woke the loop.
        count.fetch_add(1, Release);
    }
    for fd in &WRITE_FDS {
        // Acquire pairs with the Release that published the fd in `claim`.
        let fd = fd.load(Acquire);
        if fd != NO_FD {
            let byte = 1u8;
            // SAFETY: `fd` is an open pipe's write end (rule 2); one byte
            // from a live local. A full pipe (EAGAIN) is already readable.
            let _ = unsafe { libc::write(fd as RawFd, ptr::addr_of!(byte).cast(), 1) };
        }
    }
    // SAFETY: as above.
    unsafe { *errno = saved };
}

/// Deliveries of `signo` so far (rule 3).
pub(crate) fn count(signo: i32) -> u64 {
    COUNTS
        .get(signo as usize)
        .map_or(0, |count| count.load(Acquire))
}

fn with_lock<R>(f: impl FnOnce() -> R) -> R {
    // Acquire/Release: the lock orders the counts and saved dispositions
    // between the threads that take it (rule 4).
    while LOCK.compare_exchange_weak(0, 1, Acquire, Relaxed).is_err() {
        crate::sync::spin_loop();
    }
    let result = f();
    LOCK.store(0, Release);
    result
}

fn check(signo: i32) -> io::Result<usize> {
    match usize::try_from(signo) {
        Ok(i) if (1..MAX_SIGNAL).contains(&i) => Ok(i),
        _ => Err(io::Error::from_raw_os_error(libc::EINVAL)),
    }
}

/// One more listener of `signo`; the first installs the handler (rule 4).
pub(crate) fn listen(signo: i32) -> io::Result<()> {
    let i = check(signo)?;
    with_lock(|| {
        if LISTENERS[i].load(Relaxed) == 0 {
            // SAFETY: all-zero is a valid `sigaction` (no handler, empty
            // flags, a null restorer).
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            // SAFETY: a live sigset_t inside `action`.
            syscall!(sigemptyset(&mut action.sa_mask))?;
            // SAFETY: as above.
            let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: both pointers are live locals; `handler` is an
            // async-signal-safe `extern "C" fn` for the whole program
            // (rule 1).
            syscall!(sigaction(signo, &action, &mut previous))?;
            let saved = Box::into_raw(Box::new(previous));
            PREVIOUS[i].store(saved, Relaxed); // under the lock
        }
        LISTENERS[i].fetch_add(1, Relaxed);
        Ok(())
    })
}

/// One listener of `signo` fewer; the last restores the disposition that
/// was in place before the first (rule 4).
pub(crate) fn unlisten(signo: i32) -> io::Result<()> {
    let i = check(signo)?;
    with_lock(|| {
        if LISTENERS[i].fetch_sub(1, Relaxed) != 1 {
            return Ok(());
        }
        let saved = PREVIOUS[i].swap(ptr::null_mut(), Relaxed);
        if saved.is_null() {
            return Ok(());
        }
        // SAFETY: `saved` came from `Box::into_raw` in `listen` and was
        // swapped out under the lock: we own it.
        let saved = unsafe { Box::from_raw(saved) };
        // SAFETY: a live `sigaction` that the kernel gave us; null "old".
        syscall!(sigaction(signo, &*saved, ptr::null_mut()))?;
        Ok(())
    })
}

/// In a forked child that runs none of this process's event loops (rule
/// 5): every signal whose action is still [`handler`] gets back the
/// disposition saved when it was installed (the default if none was saved
/// yet: an install under way at the fork). Takes no lock: a thread of the
/// parent may have held `LOCK` at the fork and does not exist here, and
/// nothing else runs in the child to change the statics meanwhile.
pub(crate) fn disown_in_child() -> io::Result<()> {
    for (signo, saved) in PREVIOUS.iter().enumerate().skip(1) {
        let signo = signo as libc::c_int;
        if signo == libc::SIGKILL || signo == libc::SIGSTOP {
            continue; // never caught
        }
        // SAFETY: all-zero is a valid `sigaction` (SIG_DFL, no flags).
        let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a null new action only reads the current one into a
        // live local.
        syscall!(sigaction(signo, ptr::null(), &mut current))?;
        if current.sa_sigaction != handler as extern "C" fn(libc::c_int) as libc::sighandler_t {
            continue;
        }
        let saved = saved.load(Relaxed);
        // SAFETY: a non-null `saved` is the Box `listen` leaked under the
        // lock and only `unlisten` frees (under the lock, in the parent):
        // the fork copied it whole, or copied the null of an install or
        // restore under way.
        let previous: libc::sigaction = match unsafe { saved.as_ref() } {
            Some(previous) => *previous,
            // SAFETY: as above: all-zero is SIG_DFL.
            None => unsafe { std::mem::zeroed() },
        };
        // SAFETY: an action the kernel gave us (or SIG_DFL); null "old".
        syscall!(sigaction(signo, &previous, ptr::null_mut()))?;
    }
    Ok(())
}

/// A claimed self-pipe (rule 2): its read end becomes readable when a
/// signal with a listener arrives. Dropping it releases the slot.
pub(crate) struct Pipe {
    index: usize,
}

impl Pipe {
    /// Claim a free pipe, making it on first use.
    pub(crate) fn claim() -> io::Result<Pipe> {
        for index in 0..PIPES {
            // Acquire pairs with the Release in `drop`: the last owner's
            // drain is done.
            if CLAIMED[index]
                .compare_exchange(0, 1, Acquire, Relaxed)
                .is_err()
            {
                continue;
            }
            let pipe = Pipe { index };
            if READ_FDS[index].load(Relaxed) == NO_FD {
                let mut fds = [0 as libc::c_int; 2];
                // SAFETY: a live array of two ints for the two fds.
                if let Err(e) =
                    syscall!(pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC))
                {
                    drop(pipe); // releases the slot
                    return Err(e);
                }
                READ_FDS[index].store(fds[0] as u64, Relaxed);
                // Release pairs with the handler's Acquire load.
                WRITE_FDS[index].store(fds[1] as u64, Release);
            }
            pipe.drain();
            return Ok(pipe);
        }
        Err(io::Error::other(format!(
            "more than {PIPES} event loops listen for signals"
        )))
    }

    /// The read end, to register with a poller.
    pub(crate) fn read_fd(&self) -> RawFd {
        READ_FDS[self.index].load(Relaxed) as RawFd
    }

    /// Read until the pipe is empty (`EAGAIN`).
    pub(crate) fn drain(&self) {
        let fd = self.read_fd();
        let mut buf = [0u8; 64];
        // SAFETY: reads into a live local buffer of its length; the fd is
        // an open pipe (rule 2). Stops at EAGAIN, EOF or any error.
        while let Ok(n) = syscall!(read(fd, buf.as_mut_ptr().cast(), buf.len())) {
            if n <= 0 {
                break;
            }
        }
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        // Release pairs with the Acquire of the next claim.
        CLAIMED[self.index].store(0, Release);
    }
}
